//! Staff passwords: the one rule every password obeys, Argon2id hashing and checking on
//! its own thread, and a member changing their own (the provisional one an
//! administrator chose when appointing them, or any later one), which ends their other
//! sessions. An administrator giving a forgotten one a new provisional one is on the
//! team page (`team.rs`).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, SaltString};
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use palabre_core::event::StaffRole;
use serde::Deserialize;

use super::*;

/// Shortest password accepted.
const MIN_PASSWORD_CHARS: usize = 10;
const MAX_PASSWORD_CHARS: usize = 200;

/// The rule of every password a member is given or chooses; the error is a (code,
/// French, English) triple.
pub(super) fn check_new_password(
    password: &str,
) -> Result<(), (&'static str, &'static str, &'static str)> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err((
            "weak_password",
            "Le mot de passe fait au moins 10 caractères.",
            "The password must be at least 10 characters long.",
        ));
    }
    Ok(())
}

/// Who chose a member's password: an administrator's choice is provisional, and the
/// member is asked to replace it (`password.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ChosenBy {
    Themselves,
    Administrator,
}

type HashJob = Box<dyn FnOnce() + Send>;

/// Runs `job` on the one thread that computes Argon2 (it is meant to be slow, and each
/// computation takes 19 MiB: on one thread that memory is reused, where a pool of
/// blocking threads would each keep their own). A full queue is an error, not a wait.
pub(super) async fn on_hasher<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, BackendError> {
    static QUEUE: std::sync::OnceLock<std::sync::mpsc::SyncSender<HashJob>> =
        std::sync::OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<HashJob>(64);
        std::thread::Builder::new()
            .name("palabre-argon2".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .expect("a thread for password hashing starts");
        tx
    });
    let (tx, rx) = tokio::sync::oneshot::channel();
    queue
        .try_send(Box::new(move || {
            let _ = tx.send(job());
        }))
        .map_err(|_| BackendError::new("too many password checks at once"))?;
    rx.await
        .map_err(|_| BackendError::new("the password thread stopped"))
}

thread_local! {
    /// Argon2's working memory, kept by the hashing thread and reused by every hash: a
    /// fresh 19 MiB allocation per login would stay with the process (the allocator
    /// keeps freed blocks that large), and the node would grow by that much per login.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The raw Argon2 output of `password` with `salt` under `argon`, into `out`.
fn argon2_into(
    argon: &Argon2<'_>,
    params: &argon2::Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
) -> bool {
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        blocks.resize(params.block_count(), argon2::Block::default());
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut blocks[..])
            .is_ok()
    })
}

/// An Argon2id PHC string of `password` with a fresh salt (the crate's default
/// parameters: 19 MiB, 2 passes, 1 lane).
pub(crate) fn hash_password(password: &str) -> Result<String, BackendError> {
    // In words: without its `std` feature, the crate's error is no `std::error::Error`.
    let err = |e: argon2::password_hash::Error| BackendError::caused("argon2", e.to_string());
    let salt_bytes = random::<16>()?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(err)?;
    let params = argon2::Params::default();
    let argon = Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    );
    let mut out = [0u8; 32];
    if !argon2_into(&argon, &params, password, &salt_bytes, &mut out) {
        return Err(BackendError::new("argon2 failed"));
    }
    let phc = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(&params).map_err(err)?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&out).map_err(err)?),
    };
    Ok(phc.to_string())
}

/// A hash no password matches (of random bytes), checked for logins that do not exist.
pub(super) fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let secret = random::<32>().map(hex::encode).unwrap_or_default();
        hash_password(&secret).unwrap_or_default()
    })
}

pub(super) fn check_password(password: &str, phc: &str) -> bool {
    let Ok(h) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(params), Ok(algorithm), Some(salt), Some(expected)) = (
        argon2::Params::try_from(&h),
        argon2::Algorithm::try_from(h.algorithm),
        h.salt,
        h.hash,
    ) else {
        return false;
    };
    let version = h
        .version
        .and_then(|v| argon2::Version::try_from(v).ok())
        .unwrap_or(argon2::Version::V0x13);
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    argon2_into(&argon, &params, password, salt, &mut out)
        && constant_time_eq(&out, expected.as_bytes())
}

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

/// Keeps `password` for `account`, then ends every session of theirs but `kept` (the
/// hash of the session that made the change, if it is theirs).
pub(super) async fn set_password<O: Office>(
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

#[cfg(test)]
mod tests {
    use super::{check_password, hash_password};

    #[test]
    fn a_password_checks_against_its_own_hash_only() {
        let phc = hash_password("un mot de passe long").expect("hashes");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(check_password("un mot de passe long", &phc));
        assert!(!check_password("un mot de passe lonG", &phc));
        assert!(!check_password("un mot de passe long", "not a hash"));
        // Another salt, another hash.
        assert_ne!(phc, hash_password("un mot de passe long").expect("hashes"));
    }
}
