//! Accounts: the one-time setup link of the first administrator, logging in and out,
//! and the dashboard. The team page (appointments, resets, dismissals) is `team.rs`;
//! the password rule, hashing and a member's own change, `password.rs`.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use palabre_core::event::StaffRole;
use serde::Deserialize;

use super::password::{ChosenBy, check_password, decoy_hash, on_hasher};
use super::team::{NewAccount, check_account};
use super::*;

/// If no administrator exists yet, makes a new one-time setup token (replacing any
/// earlier one) and returns the link to print on the console; `None` otherwise.
pub fn first_admin_link<O: Office>(office: &O) -> Result<Option<String>, BackendError> {
    let admins = office
        .office_scan(ns::ACCOUNT)?
        .into_iter()
        .filter_map(|(_, b)| decode_record::<Account>(&b).ok())
        .any(|a| a.active && a.role == StaffRole::Admin);
    if admins {
        return Ok(None);
    }
    let token = token()?;
    office.office_put(ns::SETUP, "token", token_hash(&token).as_bytes())?;
    let base = office.settings().public_url.clone();
    Ok(Some(format!(
        "{}/staff/setup/{token}",
        base.trim_end_matches('/')
    )))
}

#[derive(Template)]
#[template(path = "staff/login.html")]
struct LoginPage {
    page: Frame,
    login: String,
    csrf: String,
    error: String,
}

/// The login form carries a token also set as a cookie (double submit): a login
/// cannot be forged from another site.
pub async fn login_page<O: Office>(State(st): State<Shared<O>>, headers: HeaderMap) -> Reply {
    let frame = st.frame(&headers, "", None);
    render_login(&st, frame, String::new(), String::new())
}

fn render_login<O: Office>(st: &Staff<O>, mut frame: Frame, login: String, error: String) -> Reply {
    let csrf = token()?;
    frame.title = frame.tr("Connexion du personnel", "Staff login").into();
    let mut res = page(LoginPage {
        page: frame,
        login,
        csrf: csrf.clone(),
        error,
    });
    set_cookie(
        &mut res,
        &format!(
            "palabre_login={csrf}; Path=/staff; HttpOnly; SameSite=Strict; Max-Age=3600{}",
            secure(st)
        ),
    );
    Ok(res)
}

fn secure<O>(st: &Staff<O>) -> &'static str {
    if st.secure_cookies { "; Secure" } else { "" }
}

fn set_cookie(res: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn login<O: Office>(
    State(st): State<Shared<O>>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Reply {
    let lang = st.lang(&headers);
    let frame = st.frame(&headers, "", None);
    let cookie_token = cookie(&headers, "palabre_login").unwrap_or_default();
    if form.csrf.is_empty() || !constant_time_eq(cookie_token.as_bytes(), form.csrf.as_bytes()) {
        tracing::warn!("a login form came without its token");
        return Ok(st.refuse(
            &headers,
            None,
            StatusCode::FORBIDDEN,
            "bad_csrf",
            frame.tr(
                "Ce formulaire a expiré. Rechargez la page de connexion.",
                "This form has expired. Reload the login page.",
            ),
        ));
    }
    let login = form.login.trim().to_lowercase();
    let address = client.0;
    let shown = address.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
    // Reserved before the Argon2 check, so that simultaneous attempts cannot all pass.
    let attempt = match st
        .lockout
        .reserve(address, &login, std::time::Instant::now())
    {
        Ok(attempt) => attempt,
        Err(locked) => {
            tracing::warn!(login = %login, address = %shown, code = locked.code(), "staff login refused: too many failed attempts");
            st.office.count_action("login_locked");
            let mut res = render_login(
                &st,
                frame,
                login,
                match lang {
                    Lang::Fr => format!(
                        "Trop d'essais manqués depuis cette adresse. Réessayez dans 15 minutes ({}).",
                        locked.code()
                    ),
                    Lang::En => format!(
                        "Too many failed attempts from this address. Try again in 15 minutes ({}).",
                        locked.code()
                    ),
                },
            )?;
            *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            return Ok(res);
        }
    };
    let account = st.account(&login)?.filter(|a| a.active);
    let password = form.password;
    // An unknown login costs the same Argon2 check as a known one: the answer's time
    // does not tell which logins exist.
    let phc = account.as_ref().map(|a| a.password.clone());
    let verified = on_hasher(move || match phc {
        Some(phc) => check_password(&password, &phc),
        None => {
            // The same work, whose answer is ignored.
            std::hint::black_box(check_password(&password, decoy_hash()));
            false
        }
    })
    .await
    .unwrap_or(false);
    let Some(account) = account.filter(|_| verified) else {
        // The reserved attempt stays counted.
        drop(attempt);
        tracing::warn!(login = %login, address = %shown, "failed staff login");
        st.office.count_action("login_failed");
        let mut res = render_login(
            &st,
            frame,
            login,
            match lang {
                Lang::Fr => "Identifiant ou mot de passe incorrect.".into(),
                Lang::En => "Wrong login or password.".into(),
            },
        )?;
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(res);
    };
    st.lockout.succeeded(attempt);
    let res = start_session(&st, &account.login)?;
    tracing::info!(staff = %account.login, "staff login");
    st.office.count_action("login");
    Ok(res)
}

fn start_session<O: Office>(st: &Staff<O>, login: &str) -> Result<Response, BackendError> {
    // Expired sessions go when someone logs in: the namespace holds live ones only.
    let now = st.office.now_ms();
    for (key, bytes) in st.office.office_scan(ns::SESSION)? {
        let expired = decode_record::<Session>(&bytes).is_ok_and(|s| s.expires_ms <= now);
        if expired {
            st.office.office_take(ns::SESSION, &key)?;
        }
    }
    let session_token = token()?;
    let session = Session {
        login: login.to_owned(),
        csrf: token()?,
        expires_ms: now + st.office.settings().session_ms,
    };
    st.office.office_put(
        ns::SESSION,
        &token_hash(&session_token),
        &encode_record(&session),
    )?;
    let mut res = see_other("/staff");
    set_cookie(
        &mut res,
        &format!(
            "palabre_staff={session_token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            st.office.settings().session_ms / 1000,
            secure(st)
        ),
    );
    Ok(res)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout<O: Office>(
    State(st): State<Shared<O>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Reply {
    if let Err(res) = st.require_form(
        &headers,
        &form.csrf,
        &[StaffRole::Moderator, StaffRole::Desk],
    ) {
        return Ok(res.into_response());
    }
    if let Some(t) = cookie(&headers, "palabre_staff") {
        st.office.office_take(ns::SESSION, &token_hash(&t))?;
    }
    let mut res = see_other("/staff/login");
    set_cookie(
        &mut res,
        &format!(
            "palabre_staff=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            secure(&st)
        ),
    );
    Ok(res)
}

#[derive(Template)]
#[template(path = "staff/dashboard.html")]
struct DashboardPage {
    page: Frame,
}

pub async fn dashboard<O: Office>(State(st): State<Shared<O>>, headers: HeaderMap) -> Reply {
    let me = st.require(&headers, &[StaffRole::Moderator, StaffRole::Desk])?;
    let frame = st.frame_tr(&headers, me, "Espace du personnel", "Staff area");
    Ok(page(DashboardPage { page: frame }))
}

#[derive(Template)]
#[template(path = "staff/setup.html")]
struct SetupPage {
    page: Frame,
    token: String,
    error: String,
}

fn setup_token_valid<O: Office>(st: &Staff<O>, token: &str) -> Result<bool, BackendError> {
    Ok(st
        .office
        .office_get(ns::SETUP, "token")?
        .is_some_and(|h| constant_time_eq(&h, token_hash(token).as_bytes())))
}

pub async fn setup_page<O: Office>(
    State(st): State<Shared<O>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Reply {
    if !setup_token_valid(&st, &token)? {
        return Ok(setup_gone(&st, &headers));
    }
    let mut frame = st.frame(&headers, "", None);
    frame.title = frame
        .tr("Premier compte administrateur", "First administrator")
        .into();
    Ok(page(SetupPage {
        page: frame,
        token,
        error: String::new(),
    }))
}

fn setup_gone<O: Office>(st: &Staff<O>, headers: &HeaderMap) -> Response {
    st.refuse_tr(
        headers,
        None,
        StatusCode::NOT_FOUND,
        "setup_used", "Ce lien de première installation a déjà servi ou n'est plus valable. Un administrateur peut créer les autres comptes.", "This setup link was already used or is no longer valid. An administrator can create the other accounts.")
}

pub async fn setup<O: Office>(
    State(st): State<Shared<O>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    Form(form): Form<NewAccount>,
) -> Reply {
    let login = form.login.trim().to_lowercase();
    let lang = st.lang(&headers);
    if let Err((code, fr, en)) = check_account(&form.name, &login, &form.password) {
        let mut frame = st.frame(&headers, "", None);
        frame.title = frame
            .tr("Premier compte administrateur", "First administrator")
            .into();
        tracing::info!(code, "first administrator form refused");
        let mut res = page(SetupPage {
            page: frame,
            token,
            error: if lang == Lang::Fr { fr } else { en }.into(),
        });
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(res);
    }
    // The token is taken before anything is created: of two tabs, one wins.
    match st.office.office_get(ns::SETUP, "token")? {
        Some(h) if constant_time_eq(&h, token_hash(&token).as_bytes()) => {}
        _ => return Ok(setup_gone(&st, &headers)),
    }
    match st.office.office_take(ns::SETUP, "token")? {
        Some(_) => {}
        None => return Ok(setup_gone(&st, &headers)),
    }
    match team::create_account(
        &st,
        &form.name,
        &login,
        &form.password,
        StaffRole::Admin,
        ChosenBy::Themselves,
    )
    .await?
    {
        Ok(()) => {}
        Err(not_created) => {
            return Ok(st.refuse(
                &headers,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
                not_created.code(),
                not_created.message(),
            ));
        }
    }
    tracing::info!(staff = %login, "first administrator created");
    st.office.count_action("setup");
    Ok(start_session(&st, &login)?)
}
