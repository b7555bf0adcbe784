//! The residents' site: server-rendered pages (askama templates under `web/templates/`),
//! one stylesheet and one signing script (under `web/static/`, embedded, served under
//! content-hashed names), in French and English.
//!
//! Pages read the node through the same [`Backend`] as the API and never write: what a
//! resident submits is signed in the browser by `palabre.js` and posted to the API. So
//! no form here is authenticated by a cookie (the only cookie is the language), and there
//! is nothing to forge across sites. Charts are SVG drawn here (`charts.rs`).
//!
//! One file per page, named as its template in `web/templates/` (`home.rs`,
//! `consultation.rs`, `proposal.rs`, `propose.rs`, `results.rs`, `register.rs`, `me.rs`, `receipt.rs`,
//! `text.rs` for `/verify` and `/about`, `verify_encryption.rs` for `/verify/encryption`); this file keeps the router, the assets, the
//! security headers, the frame every page shares, the loaders of a consultation's items,
//! the language switch and the messages.

mod back;
mod charts;
mod consultation;
pub use crate::zone::{civil_date, when};
pub(crate) use consultation::preview;
mod home;
pub mod i18n;
mod me;
mod proposal;
mod propose;
mod receipt;
mod register;
mod results;
mod text;
pub mod verify_encryption;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Router, middleware};
use palabre_core::counting;
use palabre_core::event::{Body, Kind, Stance};
use palabre_core::ids::{EventId, Hash};
use palabre_core::limits::{MAX_ARGUMENT_BODY_CHARS, MAX_PROPOSAL_BODY_CHARS, MAX_TITLE_CHARS};
use palabre_core::purge::Entry;
use palabre_core::tally::Method;
use palabre_core::view::{ConsultationView, Phase};
use serde::Deserialize;

use crate::backend::{Backend, BackendError, moderation_reason};
use crate::error::PageFailure;
use i18n::{Lang, Texts};

/// A file of `web/static/`, embedded, served under a name carrying its content hash.
#[derive(Debug)]
pub struct Asset {
    pub url: String,
    pub body: &'static [u8],
    pub content_type: &'static str,
}

impl Asset {
    fn new(stem: &str, ext: &str, body: &'static [u8], content_type: &'static str) -> Asset {
        let hash = Hash::of(body).to_string();
        Asset {
            url: format!("/static/{stem}.{}.{ext}", &hash[..12]),
            body,
            content_type,
        }
    }
}

#[derive(Debug)]
pub struct Assets {
    pub css: Asset,
    pub js: Asset,
}

impl Assets {
    /// The embedded files, hashed once for the whole process.
    pub fn get() -> &'static Assets {
        static ASSETS: std::sync::OnceLock<Assets> = std::sync::OnceLock::new();
        ASSETS.get_or_init(Assets::embedded)
    }

    pub fn embedded() -> Assets {
        Assets {
            css: Asset::new(
                "site",
                "css",
                include_bytes!("../../static/site.css"),
                "text/css; charset=utf-8",
            ),
            js: Asset::new(
                "palabre",
                "js",
                include_bytes!("../../static/palabre.js"),
                "text/javascript; charset=utf-8",
            ),
        }
    }
}

struct Site<B> {
    backend: Arc<B>,
    assets: &'static Assets,
    /// Feeds the random order of proposals when the visitor gives no seed.
    seeds: AtomicU64,
    /// This node's authority key, as pages show it (it never changes while serving).
    authority: String,
    /// The tallies of the counts shown, worked out once per count.
    tallies: crate::tallies::Tallies,
}

type Shared<B> = Arc<Site<B>>;

/// The site's routes (merged into the API's router by [`crate::app`]).
pub fn routes<B: Backend>(backend: Arc<B>) -> Router {
    let authority = backend.authority().key.to_string();
    let site = Arc::new(Site {
        backend,
        assets: Assets::get(),
        seeds: AtomicU64::new(0),
        authority,
        tallies: Default::default(),
    });
    Router::new()
        .route("/", get(home::home::<B>))
        .route("/c/{id}", get(consultation::consultation::<B>))
        .route("/c/{id}/propose", get(propose::propose::<B>))
        .route("/c/{id}/results", get(results::results::<B>))
        .route("/p/{id}", get(proposal::proposal::<B>))
        .route("/register", get(register::register::<B>))
        .route("/me", get(me::me::<B>))
        .route("/receipt/{log}/{index}", get(receipt::receipt::<B>))
        .route("/verify", get(text::verify::<B>))
        .route(
            "/verify/encryption",
            get(verify_encryption::form::<B>).post(verify_encryption::check::<B>),
        )
        .route("/static/sealed/{file}", get(verify_encryption::script::<B>))
        .route("/about", get(text::about::<B>))
        .route("/lang/{code}", get(switch_language))
        .route("/static/{file}", get(asset::<B>))
        .layer(middleware::from_fn(security_headers))
        .with_state(site)
}

/// Headers of every page and file: a strict CSP (the one script is ours, no inline
/// script or style, nothing from elsewhere), no framing, no referrer, no sniffing.
pub(crate) async fn security_headers(
    req: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// What every page's frame needs.
#[derive(Debug)]
pub struct Layout {
    pub lang: &'static str,
    pub t: &'static Texts,
    pub title: String,
    pub other: &'static str,
    pub here: String,
    pub css: String,
    pub js: String,
    pub authority: String,
}

impl Layout {
    /// A frame for pages built outside the site's own handlers (the public pages of
    /// the staff module).
    pub fn new(lang: Lang, title: &str, here: String, authority: String) -> Layout {
        let assets = Assets::get();
        Layout {
            lang: lang.code(),
            t: lang.texts(),
            title: title.to_owned(),
            other: lang.other().code(),
            here,
            css: assets.css.url.clone(),
            js: assets.js.url.clone(),
            authority,
        }
    }

    /// The French or the English words, by the page's language.
    pub fn tr(&self, fr: &'static str, en: &'static str) -> &'static str {
        if self.lang == "fr" { fr } else { en }
    }

    fn language(&self) -> Lang {
        Lang::parse(self.lang).unwrap_or(Lang::Fr)
    }

    /// `n` with its words in the page's language, singular or plural (`Lang::n`).
    pub fn tr_count(&self, n: &u64, fr: &(&str, &str), en: &(&str, &str)) -> String {
        self.language().n(*n, *fr, *en)
    }

    /// "2 arguments pour": a count of arguments, never a bare number beside "Pour".
    pub fn arguments_for(&self, n: &usize) -> String {
        self.language().n_arguments(*n, Stance::Pro)
    }

    /// "1 argument contre".
    pub fn arguments_against(&self, n: &usize) -> String {
        self.language().n_arguments(*n, Stance::Con)
    }
}

/// The name `authority` declares in its `authority` event, the latest among the first
/// entries of its own log (where a node writes it); the start of its key when this
/// node holds none.
fn town_name<B: Backend>(backend: &B, authority: &palabre_core::crypto::PublicKey) -> String {
    const FIRST_ENTRIES: u64 = 4;
    let end = backend.log_size(authority).unwrap_or(0).min(FIRST_ENTRIES);
    let declared = backend
        .entries(authority, 0, end)
        .unwrap_or_default()
        .into_iter()
        .rev()
        .filter_map(|bytes| palabre_core::event::SignedEvent::from_bytes(bytes).ok())
        .filter(|e| e.author() == authority)
        .find_map(|e| match e.body() {
            Body::Authority(a) if !a.name.trim().is_empty() => Some(a.name.clone()),
            _ => None,
        });
    declared.unwrap_or_else(|| {
        let key = authority.to_string();
        format!("{}…", &key[..12.min(key.len())])
    })
}

/// The value of the cookie `name` the request carries, if any.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
}

pub(crate) fn language(headers: &HeaderMap) -> Lang {
    let chosen = cookie(headers, "lang").and_then(|v| Lang::parse(&v));
    chosen.unwrap_or_else(|| {
        Lang::from_accept_language(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        )
    })
}

impl<B: Backend> Site<B> {
    fn layout(&self, headers: &HeaderMap, title: &str, here: String) -> Layout {
        Layout::new(language(headers), title, here, self.authority.clone())
    }
}

fn page(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => ([(header::CACHE_CONTROL, "no-cache")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!("a page did not render: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    page: Layout,
    text: String,
}

fn not_found<B: Backend>(site: &Site<B>, headers: &HeaderMap) -> Response {
    let page_ = site.layout(headers, "404", "/".into());
    let text = page_.t.not_found.to_owned();
    let mut res = page(MessagePage { page: page_, text });
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

/// The failure page (shared with the staff pages) for a node that failed.
fn internal(e: BackendError) -> Response {
    PageFailure::from(e).into_response()
}

fn phase_label(t: &Texts, phase: Phase) -> &'static str {
    match phase {
        Phase::Upcoming => t.phase_upcoming,
        Phase::Proposals => t.phase_proposals,
        Phase::Voting => t.phase_voting,
        Phase::Closed => t.phase_closed,
    }
}

pub(crate) fn method_label(lang: Lang, method: &Method) -> String {
    let fr = lang == Lang::Fr;
    match method {
        Method::Support { threshold } => {
            if fr {
                format!("soutien (retenue à partir de {threshold} soutiens)")
            } else {
                format!("support (qualifies with {threshold} supports)")
            }
        }
        Method::YesNoAbstain {} => if fr {
            "oui / non / abstention"
        } else {
            "yes / no / abstain"
        }
        .into(),
        Method::Approval { max_choices } => {
            if fr {
                format!("approbation (jusqu'à {max_choices} choix)")
            } else {
                format!("approval (up to {max_choices} choices)")
            }
        }
        Method::Budget { budget, .. } => {
            if fr {
                format!("budget participatif ({budget} €)")
            } else {
                format!("participatory budget (€{budget})")
            }
        }
        Method::MajorityJudgment { .. } => if fr {
            "jugement majoritaire"
        } else {
            "majority judgment"
        }
        .into(),
    }
}

/// A proposal as pages show it.
struct ProposalItem {
    id: String,
    title: String,
    body: String,
    cost: Option<u64>,
    hidden: bool,
    /// Its text was removed from storage (only its tombstone remains).
    purged: bool,
    /// The public reason of the moderation that hid it.
    reason: String,
    n_for: usize,
    n_against: usize,
}

/// An argument as pages show it.
struct ArgumentItem {
    /// Where it stands in the thread's order (`paging.rs`).
    cursor: crate::paging::Cursor,
    id: String,
    body: String,
    when: String,
    hidden: bool,
    reason: String,
}

/// The consultation and its items, decoded from what the backend stored.
struct Discussion {
    view: ConsultationView,
    proposals: Vec<ProposalItem>,
    /// (proposal id, argument, stance)
    arguments: Vec<(EventId, ArgumentItem, Stance)>,
}

impl<B: Backend> Site<B> {
    fn discussion(&self, id: &EventId) -> Result<Option<Discussion>, PageFailure> {
        let Some((view, members)) = self.backend.discussion(id)? else {
            return Ok(None);
        };
        let zone = self.backend.time_zone();
        let mut proposals = Vec::new();
        let mut arguments = Vec::new();
        for m in members {
            let entry = Entry::stored(m.event.bytes.clone())
                .map_err(|e| BackendError::caused("a stored entry does not decode", e))?;
            let hidden_by = counting::hidden_by(&view, &m.moderation).map(|x| x.moderation);
            let reason = match hidden_by {
                Some(mid) => moderation_reason(&*self.backend, &mid)?,
                None => String::new(),
            };
            let event = match entry {
                Entry::Event(event) => event,
                // What remains of a purged item: its place, its moderation, no text.
                Entry::Purged(p) => {
                    let t = p.body();
                    match t.kind {
                        Kind::Proposal => proposals.push(ProposalItem {
                            id: t.id.to_string(),
                            title: String::new(),
                            body: String::new(),
                            cost: t.cost,
                            hidden: true,
                            purged: true,
                            reason,
                            n_for: 0,
                            n_against: 0,
                        }),
                        _ => arguments.push((
                            t.proposal.unwrap_or(t.id),
                            ArgumentItem {
                                cursor: crate::paging::Cursor {
                                    at_ms: t.created_at_ms,
                                    id: t.id,
                                },
                                id: t.id.to_string(),
                                body: String::new(),
                                when: zone.when(t.created_at_ms),
                                hidden: true,
                                reason,
                            },
                            t.stance.unwrap_or(Stance::Con),
                        )),
                    }
                    continue;
                }
            };
            match event.body() {
                Body::Proposal(p) => proposals.push(ProposalItem {
                    id: event.id().to_string(),
                    title: p.title.clone(),
                    body: p.body.clone(),
                    cost: p.cost,
                    hidden: hidden_by.is_some(),
                    purged: false,
                    reason: reason.clone(),
                    n_for: 0,
                    n_against: 0,
                }),
                Body::Argument(a) => arguments.push((
                    a.proposal,
                    ArgumentItem {
                        cursor: crate::paging::Cursor {
                            at_ms: event.created_at_ms(),
                            id: event.id(),
                        },
                        id: event.id().to_string(),
                        body: a.body.clone(),
                        when: zone.when(event.created_at_ms()),
                        hidden: hidden_by.is_some(),
                        reason,
                    },
                    a.stance,
                )),
                _ => {}
            }
        }
        for (pid, _, stance) in &arguments {
            let pid = pid.to_string();
            if let Some(p) = proposals.iter_mut().find(|p| p.id == pid) {
                match stance {
                    Stance::Pro => p.n_for += 1,
                    Stance::Con => p.n_against += 1,
                }
            }
        }
        Ok(Some(Discussion {
            view,
            proposals,
            arguments,
        }))
    }
}

impl<B: Backend> Site<B> {
    /// The consultation whose id is `id` in a page's path, with its items; or the page
    /// to answer instead (404 for a bad or unknown id, 500 for a failing node).
    fn load(&self, id: &str, headers: &HeaderMap) -> Result<(EventId, Discussion), Box<Response>> {
        let Ok(cid) = id.parse::<EventId>() else {
            return Err(Box::new(not_found(self, headers)));
        };
        match self.discussion(&cid) {
            Ok(Some(d)) => Ok((cid, d)),
            Ok(None) => Err(Box::new(not_found(self, headers))),
            Err(failed) => Err(Box::new(failed.into_response())),
        }
    }
}

fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Deserialize)]
struct Back {
    back: Option<String>,
}

/// Sets the language cookie and goes back to the page the visitor was on (only ever a
/// path of this site).
async fn switch_language(Path(code): Path<String>, Query(q): Query<Back>) -> Response {
    let lang = Lang::parse(&code).unwrap_or(Lang::Fr);
    let back = back::page_to_return_to(q.back.as_deref());
    let mut res = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    )) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

async fn asset<B: Backend>(
    State(site): State<Shared<B>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let wanted = format!("/static/{file}");
    let found = [&site.assets.css, &site.assets.js]
        .into_iter()
        .find(|a| a.url == wanted);
    match found {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            a.body,
        )
            .into_response(),
        None => not_found(&site, &headers),
    }
}

#[cfg(test)]
mod tests {
    use super::when;

    #[test]
    fn dates_read_as_utc_calendar_dates() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(when(1_899_913_600_000), "2030-03-16 17:46 UTC");
    }
}
