//! The team page: an administrator appoints members (each appointment a `staff` event
//! signed by the authority, with a key of the member's own kept by the node), gives a
//! member who forgot their password a new provisional one, and dismisses members; the
//! list of members, also shown on `/transparency`.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use palabre_core::event::{Body, Event, StaffBody, StaffRole};
use palabre_core::limits::MAX_STAFF_NAME_CHARS;
use serde::Deserialize;

use super::confirm::{ConfirmForm, Confirmation, Irreversible};
use super::password::{ChosenBy, check_new_password, hash_password, on_hasher, set_password};
use super::*;

#[derive(Deserialize)]
pub struct NewAccount {
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) login: String,
    #[serde(default)]
    pub(super) password: String,
    #[serde(default)]
    pub(super) role: String,
    #[serde(default)]
    pub(super) csrf: String,
}

/// Checks a new account's fields; the error is a (code, French, English) triple.
pub(super) fn check_account(
    name: &str,
    login: &str,
    password: &str,
) -> Result<(), (&'static str, &'static str, &'static str)> {
    let name_ok = !name.trim().is_empty()
        && name.chars().count() <= MAX_STAFF_NAME_CHARS
        && !name.chars().any(char::is_control);
    if !name_ok {
        return Err((
            "bad_name",
            "Le nom est obligatoire (80 caractères au plus).",
            "A name is required (at most 80 characters).",
        ));
    }
    let login_ok = (2..=40).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !login_ok {
        return Err((
            "bad_login",
            "L'identifiant fait 2 à 40 caractères : lettres minuscules, chiffres, point, tiret.",
            "The login is 2 to 40 characters: lower-case letters, digits, dot, dash.",
        ));
    }
    check_new_password(password)
}

/// Why [`create_account`] created nothing.
pub(super) enum NotCreated {
    /// Another member has this login.
    LoginTaken,
    /// The log refused the appointment (core's code and message).
    Refused(Refusal),
}

impl NotCreated {
    pub(super) fn code(&self) -> &'static str {
        match self {
            NotCreated::LoginTaken => "login_taken",
            NotCreated::Refused(r) => r.code.as_str(),
        }
    }

    pub(super) fn message(&self) -> &str {
        match self {
            NotCreated::LoginTaken => "this login is already used / cet identifiant est déjà pris",
            NotCreated::Refused(r) => &r.message,
        }
    }
}

/// Makes a key for the new member, appoints it in the log (signed by the authority),
/// then keeps the account. Nothing is kept if the appointment is refused.
pub(super) async fn create_account<O: Office>(
    st: &Staff<O>,
    name: &str,
    login: &str,
    password: &str,
    role: StaffRole,
    chosen_by: ChosenBy,
) -> Result<Result<(), NotCreated>, BackendError> {
    if st.account(login)?.is_some() {
        return Ok(Err(NotCreated::LoginTaken));
    }
    let seed = random::<32>()?;
    let key = SecretKey::from_seed(&seed);
    let password = password.to_owned();
    let phc = on_hasher(move || hash_password(&password)).await??;
    let appointment = st.office.sign_as_authority(Event {
        author: st.office.authority().key,
        created_at_ms: st.office.now_ms(),
        body: Body::Staff(StaffBody {
            subject: key.public_key(),
            name: name.trim().to_owned(),
            role,
            active: true,
        }),
    })?;
    if let Err(r) = st.submit_one(appointment).await? {
        return Ok(Err(NotCreated::Refused(r)));
    }
    let account = Account {
        login: login.to_owned(),
        name: name.trim().to_owned(),
        role,
        seed: hex::encode(seed),
        password: phc,
        active: true,
        created_ms: st.office.now_ms(),
        provisional: chosen_by == ChosenBy::Administrator,
    };
    st.office
        .office_put(ns::ACCOUNT, login, &encode_record(&account))?;
    st.office.count_action("appoint");
    Ok(Ok(()))
}

/// A staff member as the team page shows them.
pub(crate) struct Member {
    pub login: String,
    pub name: String,
    pub role: &'static str,
    pub key: String,
    pub active: bool,
    pub provisional: bool,
    /// The member looking at the page (whose password is changed elsewhere).
    pub me: bool,
}

#[derive(Template)]
#[template(path = "staff/team.html")]
struct TeamPage {
    page: Frame,
    members: Vec<Member>,
    error: String,
}

pub(crate) fn members<O: Office>(st: &Staff<O>, lang: &str) -> Result<Vec<Member>, BackendError> {
    let mut list: Vec<Member> = st
        .accounts()?
        .into_iter()
        .map(|a| Member {
            key: a
                .key()
                .map(|k| k.public_key().to_string())
                .unwrap_or_default(),
            login: a.login,
            name: a.name,
            role: role_label(lang, a.role),
            active: a.active,
            provisional: a.provisional,
            me: false,
        })
        .collect();
    list.sort_by(|a, b| (!a.active, &a.name).cmp(&(!b.active, &b.name)));
    Ok(list)
}

pub(super) fn team_page<O: Office>(
    st: &Staff<O>,
    headers: &HeaderMap,
    me: Me,
    error: String,
) -> Reply {
    let login = me.account.login.clone();
    let frame = st.frame_tr(headers, me, "Équipe", "Team");
    let mut members = members(st, frame.lang)?;
    for m in &mut members {
        m.me = m.login == login;
    }
    Ok(page(TeamPage {
        page: frame,
        members,
        error,
    }))
}

pub async fn team<O: Office>(State(st): State<Shared<O>>, headers: HeaderMap) -> Reply {
    let me = st.require(&headers, &[])?;
    team_page(&st, &headers, me, String::new())
}

pub async fn appoint<O: Office>(
    State(st): State<Shared<O>>,
    headers: HeaderMap,
    Form(form): Form<NewAccount>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, &[])?;
    let lang = st.lang(&headers);
    let login = form.login.trim().to_lowercase();
    let checked = check_account(&form.name, &login, &form.password).and_then(|()| {
        StaffRole::parse(&form.role).ok_or(("bad_role", "Choisissez un rôle.", "Choose a role."))
    });
    let role = match checked {
        Ok(role) => role,
        Err((code, fr, en)) => {
            tracing::info!(code, staff = %me.account.login, "appointment form refused");
            let mut res = team_page(
                &st,
                &headers,
                me,
                if lang == Lang::Fr { fr } else { en }.into(),
            )?;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(res);
        }
    };
    Ok(
        match create_account(
            &st,
            &form.name,
            &login,
            &form.password,
            role,
            ChosenBy::Administrator,
        )
        .await?
        {
            Ok(()) => {
                tracing::info!(staff = %me.account.login, new = %login, role = role.as_str(), "staff appointed");
                see_other("/staff/team")
            }
            Err(not_created) => {
                let mut res = team_page(&st, &headers, me, not_created.message().to_owned())?;
                *res.status_mut() = StatusCode::CONFLICT;
                res
            }
        },
    )
}

pub async fn dismiss<O: Office>(
    State(st): State<Shared<O>>,
    Path(login): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ConfirmForm>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, &[])?;
    let lang = st.lang(&headers);
    let account = match st.account(&login)? {
        Some(a) if a.active => a,
        _ => {
            return Ok(st.refuse(
                &headers,
                Some(me),
                StatusCode::NOT_FOUND,
                "not_found",
                if lang == Lang::Fr {
                    "Aucun membre actif de ce nom."
                } else {
                    "No active member by that login."
                },
            ));
        }
    };
    if account.login == me.account.login {
        return Ok(st.refuse(
            &headers,
            Some(me),
            StatusCode::CONFLICT,
            "dismiss_self",
            if lang == Lang::Fr {
                "Vous ne pouvez pas vous retirer vous-même : un autre administrateur le peut."
            } else {
                "You cannot dismiss yourself: another administrator can."
            },
        ));
    }
    // A dismissal is signed into the public record for good: confirm it first.
    if Confirmation::of(&form.confirm) == Confirmation::Missing {
        return Ok(st.confirm_first(
            &headers,
            me,
            Irreversible {
                action: format!("/staff/team/{}/dismiss", account.login),
                fields: vec![("csrf", form.csrf.clone())],
                title: ("Retirer ce membre ?", "Dismiss this member?"),
                consequence: (
                    "Sa session se ferme, sa clé ne signe plus rien, et le registre public garde son retrait pour toujours ; ce compte ne peut pas être rétabli. Membre :",
                    "Their session ends, their key signs nothing more, and the public record keeps the dismissal for good; this account cannot be restored. Member:",
                ),
                subject: format!("{} ({})", account.name, account.login),
                button: ("Retirer ce membre définitivement", "Dismiss this member for good"),
                back: "/staff/team".into(),
            },
        ));
    }
    let key = account.key()?.public_key();
    let event = st.office.sign_as_authority(Event {
        author: st.office.authority().key,
        created_at_ms: st.office.now_ms(),
        body: Body::Staff(StaffBody {
            subject: key,
            name: account.name.clone(),
            role: account.role,
            active: false,
        }),
    });
    let event = event?;
    match st.submit_one(event).await? {
        Ok(_) => {}
        Err(r) => return Ok(st.refused(&headers, me, &r)),
    }
    let ended = Account {
        active: false,
        ..account
    };
    st.office
        .office_put(ns::ACCOUNT, &ended.login, &encode_record(&ended))?;
    st.office.count_action("dismiss");
    tracing::info!(staff = %me.account.login, dismissed = %ended.login, "staff dismissed");
    Ok(see_other("/staff/team"))
}

/// The form on the team page that gives a member a new provisional password.
#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
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
