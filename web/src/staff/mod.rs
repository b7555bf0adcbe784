//! The town hall's pages, under `/staff`: accounts and roles, consultations, invitation
//! letters, moderation and the in-person desk; and the public pages that show what staff
//! did (`/moderation`, `/transparency`) and let residents report an item (`/report`).
//!
//! Pages are server-rendered like the residents' site, with no script. A staff member
//! logs in with a password (Argon2id); the session is a random token in an `HttpOnly`,
//! `SameSite=Strict` cookie (and `Secure` when the site is served over HTTPS), kept
//! hashed by the node; every form carries the session's CSRF token. Each member has
//! their own signing key, kept by the node: what they do that goes into the log (a
//! consultation, a credential, a moderation, an assisted ballot's countersignature) is
//! signed with it, so the log says who did what. The node reaches its store through
//! [`Office`]; which role may do what is decided here, and again by core's admission
//! for everything signed.

mod account;
mod ceremony;
mod confirm;
mod consultations;
mod desk;
mod draft;
mod form;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod letters;
pub mod lockout;
mod moderation;
mod password;
mod report;
mod team;

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::{Body, Event, SignedEvent, StaffRole};
use palabre_core::head::Receipt;
use palabre_core::ids::Hash;
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, BackendError, Refusal};
use crate::error::{Code, PageFailure};
use crate::qr;
use crate::site::i18n::Lang;
use crate::site::{Assets, cookie};

pub use account::first_admin_link;
pub(crate) use frame::{Frame, role_label};

/// What the staff pages need of the node beyond [`Backend`]: the town hall's own
/// records (opaque values in namespaces, each write durable before it returns), the
/// invitation codes, the authority's signature for appointments, and a few settings.
pub trait Office: Backend {
    fn office_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError>;
    fn office_put(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), BackendError>;
    /// Removes and returns, atomically (one-time tokens).
    fn office_take(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError>;
    fn office_scan(&self, ns: &str) -> Result<Vec<(String, Vec<u8>)>, BackendError>;

    /// Stores invitation code hashes (never codes); returns how many were new.
    fn add_invitations(&self, hashes: &[Hash]) -> Result<u64, BackendError>;
    /// Withdraws the unused codes among `hashes`; returns how many.
    fn revoke_invitations(&self, hashes: &[Hash]) -> Result<u64, BackendError>;
    /// Issued, redeemed and withdrawn among `hashes` (all codes when `None`).
    fn invitation_counts(&self, hashes: Option<&[Hash]>) -> Result<Counts, BackendError>;
    /// Admits and appends `event`, consuming the invitation `code` atomically with it.
    fn submit_consuming(
        &self,
        event: SignedEvent,
        code: Hash,
    ) -> impl Future<Output = Result<Result<Receipt, Refusal>, BackendError>> + Send;

    /// Signs `event` with the authority's own key (appointments of staff).
    fn sign_as_authority(&self, event: Event) -> Result<SignedEvent, BackendError>;
    /// Each authority's latest moderation of `target` in its own log (the store's rule,
    /// a purge final).
    fn moderation_of(
        &self,
        target: &palabre_core::ids::EventId,
    ) -> Result<Vec<palabre_core::counting::Moderated>, BackendError>;
    /// The tombstone of `target`, signed with the authority's key, for a purge: `None`
    /// unless `target` is a proposal or an argument of this town's own log, not purged.
    fn tombstone(
        &self,
        target: &palabre_core::ids::EventId,
    ) -> Result<Option<palabre_core::event::Tombstone>, BackendError>;
    /// What the staff pages print and offer, from the node's settings.
    fn settings(&self) -> &Settings;
    /// Counts one staff action for `/metrics`.
    fn count_action(&self, action: &'static str);
    /// Whether this town has closed its log for `consultation` (its checkpoint), and
    /// whether the organiser's signed result is recorded.
    fn closing_state(&self, consultation: &palabre_core::ids::EventId) -> (bool, bool);
}

/// What the staff pages print and offer, from the node's settings (one struct, not a
/// getter each: the port keeps to records and actions).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The address residents type to reach this node (printed on letters and cards).
    pub public_url: String,
    /// The municipality's name.
    pub town_name: String,
    /// The towns this node federates with, by key, with their names.
    pub federation: Vec<(PublicKey, String)>,
    /// How long a staff session lasts, in ms.
    pub session_ms: u64,
    /// Whether this node is a demo (`serve --demo`): a loopback public address is then
    /// expected, not an error.
    pub demo: bool,
}

/// Public counts of invitation codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub issued: u64,
    pub redeemed: u64,
    pub revoked: u64,
}

/// Namespaces of the office records.
pub(crate) mod ns {
    pub const ACCOUNT: &str = "account";
    pub const SESSION: &str = "session";
    pub const SETUP: &str = "setup";
    pub const DRAFT: &str = "draft";
    pub const PUBLISHED: &str = "published";
    pub const BATCH: &str = "batch";
    pub const REPORT: &str = "report";
}

/// How long generated codes stay in memory for printing (they are never stored).
const CODES_KEPT: Duration = Duration::from_secs(60 * 60);

/// A staff member's account, as the node keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Account {
    pub login: String,
    pub name: String,
    pub role: StaffRole,
    /// Hex of the 32-byte seed of their signing key.
    pub seed: String,
    /// Argon2id PHC string.
    pub password: String,
    pub active: bool,
    pub created_ms: u64,
    /// Chosen by an administrator (an appointment, a reset) and not yet replaced by the
    /// member's own; accounts kept before this field existed read as not provisional.
    #[serde(default)]
    pub provisional: bool,
}

impl Account {
    pub fn key(&self) -> Result<SecretKey, BackendError> {
        let bytes = hex::decode(&self.seed)
            .map_err(|e| BackendError::caused("a staff key seed is not hex", e))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| BackendError::new("a staff key seed is not 32 bytes"))?;
        Ok(SecretKey::from_seed(&seed))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Session {
    pub login: String,
    pub csrf: String,
    pub expires_ms: u64,
}

/// Who is logged in, for a request.
#[derive(Debug, Clone)]
pub(crate) struct Me {
    pub account: Account,
    pub csrf: String,
}

pub(crate) struct Staff<O> {
    pub office: Arc<O>,
    pub css: String,
    pub secure_cookies: bool,
    lockout: lockout::Lockout,
    reports: report::ReportLimit,
    /// Codes of recent letter batches, for printing: batch id → (codes, generated at).
    codes: Mutex<HashMap<String, (Vec<String>, Instant)>>,
}

impl<O> std::fmt::Debug for Staff<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staff").finish_non_exhaustive()
    }
}

pub(crate) type Shared<O> = Arc<Staff<O>>;

/// The staff pages and the public pages about staff actions.
pub fn routes<O: Office>(office: Arc<O>) -> Router {
    let secure_cookies = office.settings().public_url.starts_with("https://");
    let staff = Arc::new(Staff {
        office,
        css: Assets::get().css.url.clone(),
        secure_cookies,
        lockout: lockout::Lockout::new(lockout::LockoutRules::default()),
        reports: report::ReportLimit::default(),
        codes: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/staff", get(account::dashboard::<O>))
        .route(
            "/staff/login",
            get(account::login_page::<O>).post(account::login::<O>),
        )
        .route("/staff/logout", post(account::logout::<O>))
        .route(
            "/staff/setup/{token}",
            get(account::setup_page::<O>).post(account::setup::<O>),
        )
        .route("/staff/team", get(team::team::<O>).post(team::appoint::<O>))
        .route("/staff/team/{login}/dismiss", post(team::dismiss::<O>))
        .route("/staff/team/{login}/password", post(team::reset::<O>))
        .route(
            "/staff/password",
            get(password::show::<O>).post(password::change::<O>),
        )
        .route(
            "/staff/consultations",
            get(consultations::list::<O>).post(consultations::create::<O>),
        )
        .route(
            "/staff/consultations/new",
            get(consultations::new_form::<O>),
        )
        .route(
            "/staff/drafts/{id}/preview",
            get(consultations::preview::<O>),
        )
        .route(
            "/staff/drafts/{id}",
            get(consultations::draft::<O>).post(consultations::save::<O>),
        )
        .route(
            "/staff/drafts/{id}/publish",
            post(consultations::publish::<O>),
        )
        .route(
            "/staff/consultations/{id}/ceremony",
            get(ceremony::ceremony::<O>),
        )
        .route(
            "/staff/consultations/{id}/projects",
            post(consultations::add_project::<O>),
        )
        .route(
            "/staff/letters",
            get(letters::list::<O>).post(letters::generate::<O>),
        )
        .route("/staff/letters/{id}", get(letters::batch::<O>))
        .route("/staff/letters/{id}/print", get(letters::print::<O>))
        .route("/staff/letters/{id}/codes.csv", get(letters::csv::<O>))
        .route("/staff/letters/{id}/revoke", post(letters::revoke::<O>))
        .route(
            "/staff/letters/revoke-code",
            post(letters::revoke_code::<O>),
        )
        .route(
            "/staff/moderation",
            get(moderation::queue::<O>).post(moderation::moderate::<O>),
        )
        .route(
            "/staff/reports/{id}/dismiss",
            post(moderation::dismiss::<O>),
        )
        .route("/staff/desk", get(desk::desk::<O>))
        .route("/staff/desk/register", post(desk::register::<O>))
        .route("/staff/desk/replace", post(desk::replace::<O>))
        .route(
            "/staff/desk/vote/{consultation}",
            get(desk::ballot_form::<O>).post(desk::ballot::<O>),
        )
        .route("/moderation", get(moderation::public_log::<O>))
        .route("/transparency", get(moderation::transparency::<O>))
        .route(
            "/report",
            get(report::report_form::<O>).post(report::report::<O>),
        )
        .layer(axum::middleware::from_fn(no_store))
        .layer(axum::middleware::map_request(remember_page))
        .layer(axum::middleware::from_fn(crate::site::security_headers))
        .with_state(staff)
}

/// Prometheus lines about the town hall's side that the node adds to `/metrics`: open
/// reports waiting for a moderator, active staff by role, letter batches.
pub fn metrics<O: Office>(office: &O) -> String {
    let reports = office
        .office_scan(ns::REPORT)
        .map(|all| {
            all.iter()
                .filter_map(|(_, b)| decode_record::<moderation::Report>(b).ok())
                .filter(|r| r.open)
                .count()
        })
        .unwrap_or(0);
    let mut roles: HashMap<&'static str, u64> =
        StaffRole::ALL.iter().map(|r| (r.as_str(), 0)).collect();
    if let Ok(all) = office.office_scan(ns::ACCOUNT) {
        for a in all
            .iter()
            .filter_map(|(_, b)| decode_record::<Account>(b).ok())
        {
            if a.active {
                *roles.entry(a.role.as_str()).or_default() += 1;
            }
        }
    }
    let mut out = format!(
        "# HELP palabre_open_reports Residents' reports waiting for a moderator.\n# TYPE palabre_open_reports gauge\npalabre_open_reports {reports}\n# HELP palabre_staff_members Active staff accounts, by role.\n# TYPE palabre_staff_members gauge\n"
    );
    for role in StaffRole::ALL {
        out.push_str(&format!(
            "palabre_staff_members{{role=\"{}\"}} {}\n",
            role.as_str(),
            roles.get(role.as_str()).copied().unwrap_or(0)
        ));
    }
    out
}

/// Staff pages are never cached (they hold codes, keys and tokens).
/// The request header in which the staff router tells a page's frame its own path (for
/// the language switch, which comes back to it). Whatever a client sends under this name
/// is replaced; `/lang` checks the path anyway (`site::back`).
const HERE: &str = "x-palabre-here";

async fn remember_page(mut req: axum::extract::Request) -> axum::extract::Request {
    let here = HeaderValue::from_str(req.uri().path()).ok();
    match here {
        Some(v) => req.headers_mut().insert(HERE, v),
        None => req.headers_mut().remove(HERE),
    };
    req
}

async fn no_store(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

impl<O: Office> Staff<O> {
    pub fn frame(&self, headers: &HeaderMap, title: &str, me: Option<Me>) -> Frame {
        let lang = crate::site::language(headers);
        Frame {
            lang: lang.code(),
            other: lang.other().code(),
            here: headers
                .get(HERE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("/staff")
                .to_owned(),
            title: title.to_owned(),
            css: self.css.clone(),
            town: self.office.settings().town_name.clone(),
            me,
            site: self.office.settings().public_url.clone(),
            site_unreachable: self.site_unreachable(),
        }
    }

    /// The address residents type, without a trailing slash (links printed on letters
    /// and cards end with their own path).
    pub fn site_address(&self) -> String {
        self.office
            .settings()
            .public_url
            .trim_end_matches('/')
            .to_owned()
    }

    /// True when the public address is loopback (`localhost`, `127.x`, `[::1]`) and the
    /// node is not a demo: letters printed now would send residents nowhere.
    pub fn site_unreachable(&self) -> bool {
        !self.office.settings().demo && is_loopback_url(&self.office.settings().public_url)
    }

    pub fn lang(&self, headers: &HeaderMap) -> Lang {
        crate::site::language(headers)
    }

    /// The logged-in member, if their session is valid and their account active.
    pub fn me(&self, headers: &HeaderMap) -> Result<Option<Me>, BackendError> {
        let Some(token) = cookie(headers, "palabre_staff") else {
            return Ok(None);
        };
        let key = token_hash(&token);
        let Some(bytes) = self.office.office_get(ns::SESSION, &key)? else {
            return Ok(None);
        };
        let session: Session = decode_record(&bytes)?;
        if session.expires_ms <= self.office.now_ms() {
            return Ok(None);
        }
        let Some(account) = self.account(&session.login)? else {
            return Ok(None);
        };
        Ok(account.active.then_some(Me {
            account,
            csrf: session.csrf,
        }))
    }

    pub fn account(&self, login: &str) -> Result<Option<Account>, BackendError> {
        self.office
            .office_get(ns::ACCOUNT, login)?
            .map(|b| decode_record(&b))
            .transpose()
    }

    pub fn accounts(&self) -> Result<Vec<Account>, BackendError> {
        self.office
            .office_scan(ns::ACCOUNT)?
            .into_iter()
            .map(|(_, b)| decode_record(&b))
            .collect()
    }

    /// Who may see a page: a logged-in member whose role is one of `roles` (admins may
    /// everything). Otherwise the login page, or a refusal that names the role needed.
    pub fn require(&self, headers: &HeaderMap, roles: &[StaffRole]) -> Result<Me, Refused> {
        let me = self.me(headers)?;
        let Some(me) = me else {
            return Err(Refused(Box::new(
                Redirect::to("/staff/login").into_response(),
            )));
        };
        if me.account.role == StaffRole::Admin || roles.contains(&me.account.role) {
            Ok(me)
        } else {
            tracing::warn!(
                staff = %me.account.login,
                role = me.account.role.as_str(),
                "a staff member tried a page of another role"
            );
            Err(Refused(Box::new(self.refuse_tr(
                headers,
                Some(me),
                StatusCode::FORBIDDEN,
                "wrong_role",
                "Votre rôle ne permet pas cette action.",
                "Your role does not allow this.",
            ))))
        }
    }

    /// [`Self::require`] for a form: also checks its CSRF token.
    pub fn require_form(
        &self,
        headers: &HeaderMap,
        csrf: &str,
        roles: &[StaffRole],
    ) -> Result<Me, Refused> {
        let me = self.me(headers)?;
        let valid = me.as_ref().is_some_and(|m| {
            !csrf.is_empty() && constant_time_eq(m.csrf.as_bytes(), csrf.as_bytes())
        });
        if !valid {
            tracing::warn!(
                staff = me.as_ref().map_or("-", |m| m.account.login.as_str()),
                "a staff form came without a valid session token (expired session or forged form)"
            );
            return Err(Refused(Box::new(self.refuse_tr(
                headers,
                None,
                StatusCode::FORBIDDEN,
                "bad_csrf", "Ce formulaire a expiré ou ne vient pas de cette page. Reconnectez-vous et recommencez.", "This form has expired or did not come from this site. Log in again and retry."))));
        }
        self.require(headers, roles)
    }

    /// A page saying what went wrong, with its stable code, and a log line for staff.
    pub fn refuse(
        &self,
        headers: &HeaderMap,
        me: Option<Me>,
        status: StatusCode,
        code: &'static str,
        message: &str,
    ) -> Response {
        tracing::info!(
            code,
            status = status.as_u16(),
            "staff page refused: {message}"
        );
        let frame = self.frame(headers, "", me);
        let mut res = page(ErrorPage {
            title: frame.tr("Action refusée", "Refused").to_owned(),
            page: frame,
            code,
            message: message.to_owned(),
        });
        *res.status_mut() = status;
        res
    }

    /// [`Self::refuse`] with the words in the visitor's language.
    pub fn refuse_tr(
        &self,
        headers: &HeaderMap,
        me: Option<Me>,
        status: StatusCode,
        code: &'static str,
        fr: &str,
        en: &str,
    ) -> Response {
        let message = if self.lang(headers) == Lang::Fr {
            fr
        } else {
            en
        };
        self.refuse(headers, me, status, code, message)
    }

    /// The page for an event the node refused (core's code and message).
    pub fn refused(&self, headers: &HeaderMap, me: Me, r: &Refusal) -> Response {
        self.refuse(
            headers,
            Some(me),
            StatusCode::UNPROCESSABLE_ENTITY,
            r.code.as_str(),
            &r.message,
        )
    }

    /// A staff page's frame, titled in the visitor's language.
    pub fn frame_tr(&self, headers: &HeaderMap, me: Me, fr: &str, en: &str) -> Frame {
        let mut frame = self.frame(headers, "", Some(me));
        frame.title = frame.tr(fr, en).to_owned();
        frame
    }

    /// Admits and appends one event; its receipt, or why it was refused.
    pub async fn submit_one(
        &self,
        event: SignedEvent,
    ) -> Result<Result<Receipt, Refusal>, BackendError> {
        Ok(self
            .office
            .submit(vec![event])
            .await?
            .pop()
            .unwrap_or_else(|| Err(Refusal::new(Code::Internal, "no answer"))))
    }

    /// Signs `body` with the member's own key and appends it to the log.
    pub async fn sign_and_submit(
        &self,
        me: &Me,
        body: Body,
    ) -> Result<Result<(SignedEvent, Receipt), Refusal>, BackendError> {
        let key = me.account.key()?;
        let event = Event {
            author: key.public_key(),
            created_at_ms: self.office.now_ms(),
            body,
        }
        .sign(&key);
        let event = match event {
            Ok(e) => e,
            Err(r) => return Ok(Err(Refusal::from(&r))),
        };
        Ok(self
            .submit_one(event.clone())
            .await?
            .map(|receipt| (event, receipt)))
    }

    /// Keeps freshly generated codes in memory for printing, and forgets old ones.
    fn keep_codes(&self, batch: &str, codes: Vec<String>) {
        let mut map = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, at)| at.elapsed() < CODES_KEPT);
        map.insert(batch.to_owned(), (codes, Instant::now()));
    }

    fn codes(&self, batch: &str) -> Option<Vec<String>> {
        let mut map = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, at)| at.elapsed() < CODES_KEPT);
        map.get(batch).map(|(c, _)| c.clone())
    }

    fn forget_codes(&self, batch: &str) {
        self.codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(batch);
    }
}

#[derive(Template)]
#[template(path = "staff/error.html")]
struct ErrorPage {
    page: Frame,
    title: String,
    code: &'static str,
    message: String,
}

pub(crate) fn page(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!("a staff page did not render: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub(crate) fn decode_record<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, BackendError> {
    serde_json::from_slice(bytes)
        .map_err(|e| BackendError::caused("an office record does not decode", e))
}

pub(crate) fn encode_record<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("office records serialize")
}

/// `n` random bytes from the operating system.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], BackendError> {
    let mut out = [0u8; N];
    // In words: without its `std` feature, getrandom's error is no `std::error::Error`.
    getrandom::fill(&mut out).map_err(|e| BackendError::caused("no randomness", e.to_string()))?;
    Ok(out)
}

/// A fresh random token, as 64 hex characters.
pub(crate) fn token() -> Result<String, BackendError> {
    Ok(hex::encode(random::<32>()?))
}

/// How a token is kept: its SHA-256, in hex (a stolen store holds no usable session).
pub(crate) fn token_hash(token: &str) -> String {
    Hash::of(token.as_bytes()).to_string()
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The client's address, when the server knows it (not in tests without a socket).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Client(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Client, Self::Rejection> {
        Ok(Client(crate::client::of_request(&parts.extensions)))
    }
}

/// Why a page is not shown to this visitor: the login page, a refusal or a failure.
#[derive(Debug)]
pub(crate) struct Refused(Box<Response>);

/// What a staff handler answers: its page, or the answer a check gave first (the login
/// redirect, a 403, a 500 for a failing node), returned with `?`.
pub(crate) type Reply = Result<Response, Refused>;

/// A failing node answers the site's failure page: a 500, logged, naming nothing to the
/// client.
impl From<BackendError> for Refused {
    fn from(e: BackendError) -> Refused {
        Refused(Box::new(PageFailure::from(e).into_response()))
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// A 303 to `to` (after a form).
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Whether `url`'s host is a loopback or unspecified address (only this machine reaches it).
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") || host.is_empty() {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

#[cfg(test)]
mod loopback_tests {
    use super::is_loopback_url;

    #[test]
    fn loopback_addresses_are_recognised() {
        for u in [
            "http://127.0.0.1:8080",
            "http://localhost/",
            "http://[::1]:80",
            "http://0.0.0.0:8080",
            "http://127.1.2.3",
        ] {
            assert!(is_loopback_url(u), "{u}");
        }
        for u in [
            "https://palabre.example.org",
            "http://192.0.2.7:8080",
            "http://[2001:db8::1]/",
        ] {
            assert!(!is_loopback_url(u), "{u}");
        }
    }
}
