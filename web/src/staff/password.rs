//! Passwords after the first one: a member changes their own (the provisional one an
//! administrator chose when appointing them, or any later one), and an administrator
//! gives a member who forgot theirs a new provisional one. Either way every other
//! session of that member ends, and the new password obeys the same rule as the first.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use palabre_core::event::StaffRole;
use serde::Deserialize;

use super::account::{check_new_password, check_password, hash_password, on_hasher};
use super::team::{ChosenBy, team_page};
use super::*;

#[derive(Template)]
#[template(path = "staff/password.html")]
struct PasswordPage {
    page: Frame,
    provisional: bool,
    changed: bool,
    error: String,
}

#[derive(Debug, Deserialize)]
pub struct Shown {
    #[serde(default)]
    changed: Option<String>,
}

/// The form that changes one's own password.
#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
    #[serde(default)]
    csrf: String,
}

/// The form on the team page that gives a member a new provisional password.
#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// Every member, whatever their role.
const ANY_MEMBER: &[StaffRole] = &[StaffRole::Moderator, StaffRole::Desk];

fn password_page<O: Office>(
    st: &Staff<O>,
    headers: &HeaderMap,
    me: Me,
    changed: bool,
    error: String,
) -> Reply {
    let provisional = me.account.provisional;
    let frame = st.frame_tr(headers, me, "Mon mot de passe", "My password");
    Ok(page(PasswordPage {
        page: frame,
        provisional,
        changed,
        error,
    }))
}

pub async fn show<O: Office>(
    State(st): State<Shared<O>>,
    headers: HeaderMap,
    Query(shown): Query<Shown>,
) -> Reply {
    let me = st.require(&headers, ANY_MEMBER)?;
    password_page(&st, &headers, me, shown.changed.is_some(), String::new())
}

/// Changes the logged-in member's password once they have typed the current one, and
/// ends their other sessions. A wrong current password counts as a failed login
/// (the same lock-out), so a session left open cannot be used to guess it.
pub async fn change<O: Office>(
    State(st): State<Shared<O>>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<ChangeForm>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, ANY_MEMBER)?;
    let lang = st.lang(&headers);
    let refuse = |me: Me, status: StatusCode, code: &str, fr: &str, en: &str| -> Reply {
        tracing::info!(staff = %me.account.login, code, "password change refused");
        let error = if lang == Lang::Fr { fr } else { en }.to_owned();
        let mut res = password_page(&st, &headers, me, false, error)?;
        *res.status_mut() = status;
        Ok(res)
    };
    if let Err((code, fr, en)) = check_new_password(&form.new) {
        return refuse(me, StatusCode::UNPROCESSABLE_ENTITY, code, fr, en);
    }
    if form.new != form.repeat {
        return refuse(
            me,
            StatusCode::UNPROCESSABLE_ENTITY,
            "passwords_differ",
            "Les deux nouveaux mots de passe ne sont pas identiques.",
            "The two new passwords are not the same.",
        );
    }
    if form.new == form.current {
        return refuse(
            me,
            StatusCode::UNPROCESSABLE_ENTITY,
            "same_password",
            "Le nouveau mot de passe doit être différent de l'actuel.",
            "The new password must differ from the current one.",
        );
    }
    let attempt = match st
        .lockout
        .reserve(client.0, &me.account.login, std::time::Instant::now())
    {
        Ok(attempt) => attempt,
        Err(locked) => {
            st.office.count_action("login_locked");
            return refuse(
                me,
                StatusCode::TOO_MANY_REQUESTS,
                locked.code(),
                "Trop d'essais manqués. Réessayez dans 15 minutes.",
                "Too many failed attempts. Try again in 15 minutes.",
            );
        }
    };
    let (current, phc) = (form.current.clone(), me.account.password.clone());
    if !on_hasher(move || check_password(&current, &phc)).await? {
        // The reserved attempt stays counted.
        drop(attempt);
        st.office.count_action("login_failed");
        return refuse(
            me,
            StatusCode::UNAUTHORIZED,
            "wrong_password",
            "Le mot de passe actuel est incorrect : rien n'a changé.",
            "The current password is wrong: nothing was changed.",
        );
    }
    st.lockout.succeeded(attempt);
    let kept = cookie(&headers, "palabre_staff").map(|t| token_hash(&t));
    set_password(&st, me.account, &form.new, ChosenBy::Themselves, kept).await?;
    st.office.count_action("password_changed");
    Ok(see_other("/staff/password?changed=1"))
}

/// An administrator gives `login` a new provisional password (they forgot theirs): it
/// ends all their sessions, and they are asked to choose their own at their next login.
pub async fn reset<O: Office>(
    State(st): State<Shared<O>>,
    Path(login): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ResetForm>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, &[])?;
    let lang = st.lang(&headers);
    let tr = |fr: &'static str, en: &'static str| if lang == Lang::Fr { fr } else { en };
    let Some(account) = st.account(&login)?.filter(|a| a.active) else {
        return Ok(st.refuse(
            &headers,
            Some(me),
            StatusCode::NOT_FOUND,
            "not_found",
            tr(
                "Aucun membre actif de ce nom.",
                "No active member by that login.",
            ),
        ));
    };
    if account.login == me.account.login {
        return Ok(st.refuse(
            &headers,
            Some(me),
            StatusCode::CONFLICT,
            "reset_self",
            tr(
                "Votre propre mot de passe se change dans « Mon mot de passe ».",
                "Your own password is changed under “My password”.",
            ),
        ));
    }
    if let Err((code, fr, en)) = check_new_password(&form.password) {
        tracing::info!(staff = %me.account.login, code, "password reset refused");
        let mut res = team_page(&st, &headers, me, tr(fr, en).to_owned())?;
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(res);
    }
    let reset = account.login.clone();
    set_password(&st, account, &form.password, ChosenBy::Administrator, None).await?;
    st.office.count_action("password_reset");
    tracing::info!(staff = %me.account.login, member = %reset, "provisional password given");
    Ok(see_other("/staff/team"))
}

/// Keeps `password` for `account`, then ends every session of theirs but `kept` (the
/// hash of the session that made the change, if it is theirs).
async fn set_password<O: Office>(
    st: &Staff<O>,
    account: Account,
    password: &str,
    chosen_by: ChosenBy,
    kept: Option<String>,
) -> Result<(), BackendError> {
    let password = password.to_owned();
    let phc = on_hasher(move || hash_password(&password)).await??;
    let account = Account {
        password: phc,
        provisional: chosen_by == ChosenBy::Administrator,
        ..account
    };
    st.office
        .office_put(ns::ACCOUNT, &account.login, &encode_record(&account))?;
    for (key, bytes) in st.office.office_scan(ns::SESSION)? {
        let theirs = decode_record::<Session>(&bytes).is_ok_and(|s| s.login == account.login);
        if theirs && kept.as_deref() != Some(key.as_str()) {
            st.office.office_take(ns::SESSION, &key)?;
        }
    }
    Ok(())
}
