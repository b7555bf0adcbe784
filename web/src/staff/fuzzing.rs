//! Fuzz bodies for the staff forms: what a browser posts, decoded as axum's `Form`
//! decodes it (`serde_urlencoded` over the body), then the pure steps that turn a form
//! into an event, without a server.
//!
//! The cargo-fuzz targets in `fuzz/` and web's test `fuzz` run them; the node never
//! does. Checks that need the office (the session, the CSRF token, the store) are not
//! here: only what the posted bytes decide.

use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::{Body, Event, SignedEvent};
use palabre_core::ids::EventId;
use serde::de::DeserializeOwned;

use crate::zone::Zone;

use super::account::{CsrfForm, LoginForm};
use super::confirm::ConfirmForm;
use super::consultations::ProjectForm;
use super::desk::{ReplaceForm, read_assisted, read_card, sign_assisted};
use super::draft::{Draft, parse_when};
use super::form::{Pairs, value};
use super::letters::{CodeForm, GenerateForm};
use super::moderation::ModerateForm;
use super::report::ReportForm;
use super::team::{NewAccount, check_account};

/// The names of web's fuzz targets, with their bodies (corpus in
/// `fuzz/corpus/<name>/`).
pub const TARGETS: &[palabre_core::fuzzing::Target] = &[
    ("staff_form", staff_form),
    ("draft", draft),
    ("desk_ballot", desk_ballot),
];

/// When the fuzz bodies sign (2026-01-01T00:00Z).
const NOW_MS: u64 = 1_767_225_600_000;

/// The zone a draft is read in (a town's default).
fn paris() -> Zone {
    Zone::named("Europe/Paris").unwrap_or_default()
}

fn key(byte: u8) -> SecretKey {
    SecretKey::from_seed(&[byte; 32])
}

/// A form body decoded as axum's `Form<T>` decodes it.
fn form<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    serde_urlencoded::from_bytes(data).ok()
}

/// An event signed from what a form gave: when it signs, its bytes are a valid event.
fn signed(result: Result<SignedEvent, palabre_core::rejection::Rejection>) {
    if let Ok(event) = result {
        let again = SignedEvent::from_bytes(event.bytes().to_vec());
        assert_eq!(again.as_ref(), Ok(&event), "a signed form is a valid event");
    }
}

/// Every fixed-field staff form, and the checks made of its fields alone: a new
/// account's name, login and password; an old key typed at the desk; a moderation's
/// target id, as the handlers read them.
pub fn staff_form(data: &[u8]) {
    let _ = form::<LoginForm>(data);
    let _ = form::<CsrfForm>(data);
    let _ = form::<ConfirmForm>(data);
    let _ = form::<ProjectForm>(data);
    let _ = form::<GenerateForm>(data);
    let _ = form::<CodeForm>(data);
    let _ = form::<ReportForm>(data);
    if let Some(f) = form::<NewAccount>(data) {
        let _ = check_account(&f.name, &f.login, &f.password);
    }
    if let Some(f) = form::<ReplaceForm>(data) {
        let _ = f.old.trim().to_lowercase().parse::<PublicKey>();
    }
    if let Some(f) = form::<ModerateForm>(data) {
        let _ = super::moderation::target_id(&f.target);
    }
}

/// A consultation draft saved from its form, then built into the consultation event the
/// administrator would sign (this town federated with one partner and one trustee).
pub fn draft(data: &[u8]) {
    let Some(pairs) = form::<Pairs>(data) else {
        return;
    };
    let d = Draft::from_form(&pairs, "d".into(), NOW_MS, "admin".into());
    for field in [
        &d.proposals_open,
        &d.vote_open,
        &d.vote_close,
        &d.keys_close,
    ] {
        let _ = parse_when(field, &Zone::utc());
        let _ = parse_when(field, &paris());
    }
    let (me, partner) = (key(1), key(2).public_key());
    if let Ok(body) = d.build(me.public_key(), &[partner], &[partner], &paris()) {
        signed(
            Event {
                author: me.public_key(),
                created_at_ms: NOW_MS,
                body: Body::Consultation(Box::new(body)),
            }
            .sign(&me),
        );
    }
}

/// An assisted ballot's form at the desk: the card read, the choice (or, for a secret
/// vote, the sealed member) read, the agent's countersignature and the voter's.
pub fn desk_ballot(data: &[u8]) {
    let Some(pairs) = form::<Pairs>(data) else {
        return;
    };
    let voter = read_card(&value(&pairs, "card")).unwrap_or_else(|| key(4));
    let consultation = EventId(palabre_core::ids::Hash::of(b"consultation"));
    for secret in [false, true] {
        if let Ok(what) = read_assisted(secret, &pairs) {
            signed(sign_assisted(&key(5), &voter, NOW_MS, consultation, what));
        }
    }
}

#[cfg(test)]
mod tests {
    //! The bodies in the ordinary tests: the committed corpus replayed, arbitrary bytes
    //! and mutated corpus inputs from proptest.

    use super::TARGETS;

    palabre_core::fuzz_properties!(TARGETS, 128);

    /// Found by reading `parse_when` for the fuzz body: the time was cut at byte 5,
    /// inside the `é`, and panicked.
    #[test]
    fn a_draft_time_cut_inside_a_character_is_refused() {
        assert_eq!(
            super::parse_when("2027-01-01T1:2:é", &crate::Zone::utc()),
            None
        );
        super::draft("vote_open=2027-01-01T1%3A2%3A%C3%A9&method=support".as_bytes());
    }

    /// A year of 14 digits overflowed the day arithmetic (a panic with overflow checks).
    #[test]
    fn a_draft_year_beyond_four_digits_is_refused() {
        assert_eq!(
            super::parse_when("99999999999999-01-01T00:00", &crate::Zone::utc()),
            None
        );
        super::draft(b"vote_close=99999999999999-01-01T00%3A00&method=support");
        assert_eq!(
            super::parse_when("2027-01-01T08:00", &crate::Zone::utc()),
            Some(1_798_790_400_000)
        );
        assert_eq!(
            super::parse_when("2027-01-01T08:00:30", &crate::Zone::utc()),
            Some(1_798_790_400_000)
        );
    }
}
