//! The secret-ballot part of the new-consultation form: public or secret ballots, the
//! trustee towns (only towns of the federation list, and this town, whose `authority`
//! event declares an encryption key), the threshold (default ⌊n/2⌋ + 1, with the advice
//! n ≥ t + 2 in plain words), the close of the key window and the mode (one ciphertext
//! per proposal — "split" — by default for support, yes/no and majority judgment).
//!
//! The rules of a `secrecy` member are core's (`secret::rules::check_secrecy`, run on the
//! whole consultation body): this file only reads the fields and turns core's codes into
//! sentences for the form.

use palabre_core::crypto::PublicKey;
use palabre_core::event::ConsultationBody;
use palabre_core::event::secret::Secrecy;
use palabre_core::rejection::Rejection;
use palabre_core::tally::Method;

use crate::zone::Zone;

use super::{Draft, parse_when};

/// Why a draft cannot be published yet: (French, English).
type Problem = (&'static str, &'static str);

/// The threshold the form proposes for n trustees: a majority, ⌊n/2⌋ + 1.
pub(crate) fn default_threshold(n: usize) -> u64 {
    n as u64 / 2 + 1
}

/// Whether the draft asks for secret ballots.
pub(crate) fn is_secret(d: &Draft) -> bool {
    d.ballots == "secret"
}

/// Split mode: required for yes/no and majority judgment, the default for support (one
/// row over every proposal only if asked), impossible for approval and budget.
fn split(d: &Draft, method: &Method) -> bool {
    match method {
        Method::YesNoAbstain {} | Method::MajorityJudgment { .. } => true,
        Method::Support { .. } => !d.row_mode,
        Method::Approval { .. } | Method::Budget { .. } => false,
    }
}

/// The `secrecy` member the draft describes (`None` for public ballots), or what is
/// missing. `capable` are the towns that may be trustees.
pub(crate) fn secrecy(
    d: &Draft,
    method: Option<&Method>,
    proposals_close_ms: Option<u64>,
    capable: &[PublicKey],
    zone: &Zone,
    problems: &mut Vec<Problem>,
) -> Option<Secrecy> {
    if !is_secret(d) {
        return None;
    }
    let mut trustees = Vec::new();
    for t in &d.trustees {
        match t.parse::<PublicKey>() {
            Ok(k) if capable.contains(&k) => {
                if !trustees.contains(&k) {
                    trustees.push(k);
                }
            }
            _ => problems.push((
                "Une commune de confiance ne peut pas l'être : choisissez dans la liste (communes fédérées qui ont déclaré une clé de chiffrement).",
                "A trustee town cannot be one: choose from the list (federated towns that declared an encryption key).",
            )),
        }
    }
    trustees.sort();
    if !(2..=16).contains(&trustees.len()) {
        problems.push((
            "Un vote secret demande de 2 à 16 communes de confiance.",
            "A secret vote needs 2 to 16 trustee towns.",
        ));
    }
    let threshold = match d.trustee_threshold.trim() {
        "" => default_threshold(trustees.len()),
        t => match t.parse::<u64>() {
            Ok(t) => t,
            Err(_) => {
                problems.push((
                    "Le seuil est un nombre entier.",
                    "The threshold is a whole number.",
                ));
                0
            }
        },
    };
    let keys_close_ms = match d.keys_close.trim() {
        "" => proposals_close_ms,
        t => {
            let parsed = parse_when(t, zone);
            if parsed.is_none() {
                problems.push((
                    "Indiquez la fin de la préparation des clés (jour et heure, à l'heure de la commune).",
                    "Give the end of the key window (day and time, in the town's time).",
                ));
            }
            parsed
        }
    }?;
    Some(Secrecy {
        trustees,
        threshold,
        keys_close_ms,
        split: method.is_some_and(|m| split(d, m)),
    })
}

/// Core's verdict on a whole secret consultation, as a sentence for the form.
pub(crate) fn check(body: &ConsultationBody, problems: &mut Vec<Problem>) {
    match palabre_core::secret::rules::check_secrecy(body) {
        Ok(()) => {}
        Err(Rejection::BadTrustees) => problems.push((
            "Le seuil doit être entre 2 et le nombre de communes de confiance.",
            "The threshold must be between 2 and the number of trustee towns.",
        )),
        Err(Rejection::BadWindows) => problems.push((
            "Pour un vote secret, la préparation des clés se termine après la fin des propositions, et le vote s'ouvre au moins une heure plus tard (l'heure des vérifications).",
            "For a secret vote, the key window closes after proposals close, and the vote opens at least one hour later (the hour for checks).",
        )),
        Err(_) => problems.push((
            "Cette méthode de vote ne convient pas à un vote secret sous cette forme.",
            "This voting method does not suit a secret vote in this form.",
        )),
    }
}
