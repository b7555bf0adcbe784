//! Admission of the secret-ballot events (SECRET-BALLOTS.md §4.3–§4.6), called by
//! `admission::admit` once the author and the consultation are known: the trustees of a
//! secret consultation, deals, complaints, the election key, the layout and sealed
//! ballots. The shared rules are `rules`'; this file adds what needs the record.
//!
//! References across logs (the consultation in the organiser's log, a deal in another
//! trustee's log, the election key and layout a ballot relies on) answer with a code
//! that awaits the other log (`unknown_*`, `no_election_key`, `bad_election_key`) while
//! it may not be caught up, as for proposals named by ballots.

use crate::crypto::PublicKey;
use crate::event::secret::{BallotLayoutBody, DkgComplaintBody, ElectionKeyBody, SealedBallotBody};
use crate::event::{Body, ConsultationBody, Kind, SignedEvent};
use crate::record::Record;
use crate::rejection::Rejection;
use crate::view::ConsultationView;

use super::rules;

/// A `consultation` with `secrecy`: the stateless rules, then each trustee has declared
/// an encryption key (an undeclared one awaits its log: `unknown_authority`).
pub(crate) fn consultation(record: &impl Record, b: &ConsultationBody) -> Result<(), Rejection> {
    let Some(s) = &b.secrecy else {
        return Ok(());
    };
    rules::check_secrecy(b)?;
    for t in &s.trustees {
        // The key may be known from a log not replayed yet (the audit's references).
        if record.encryption_key(t).is_some() {
            continue;
        }
        return Err(if record.is_declared(t) {
            Rejection::BadTrustees
        } else {
            Rejection::UnknownAuthority
        });
    }
    Ok(())
}

/// Whether `log` already holds another event of `kind` about `c` (admitted before this
/// one).
fn already(
    record: &impl Record,
    log: &PublicKey,
    c: &ConsultationView,
    kind: Kind,
    event: &SignedEvent,
) -> bool {
    record
        .secret_events(&c.id, kind)
        .iter()
        .any(|(l, e)| l == log && e.id() != event.id() && record.contains(&e.id()))
}

/// A `dkg_deal` in trustee `log`'s own log: a trustee, its first deal, before
/// `keys_close_ms`, well formed.
pub(crate) fn deal(
    record: &impl Record,
    log: &PublicKey,
    c: &ConsultationView,
    event: &SignedEvent,
) -> Result<(), Rejection> {
    let secrecy = c.body.secrecy.as_ref().ok_or(Rejection::BadDeal)?;
    if secrecy.index_of(log).is_none() {
        return Err(Rejection::BadDeal);
    }
    if already(record, log, c, Kind::DkgDeal, event) {
        return Err(Rejection::AlreadyDealt);
    }
    rules::check_deal(c, event).map(|_| ())
}

/// A `dkg_complaint` by trustee `log` against a deal of another trustee's log (which it
/// awaits, `unknown_target`): within the complaint window, with a valid proof. A void
/// complaint (the share verifies after all) is admitted; the audit reports it.
pub(crate) fn complaint(
    record: &impl Record,
    log: &PublicKey,
    c: &ConsultationView,
    b: &DkgComplaintBody,
    event: &SignedEvent,
) -> Result<(), Rejection> {
    let secrecy = c.body.secrecy.as_ref().ok_or(Rejection::BadComplaint)?;
    if secrecy.index_of(log).is_none() {
        return Err(Rejection::BadComplaint);
    }
    let deals = record.secret_events(&c.id, Kind::DkgDeal);
    let Some((dealer_log, deal)) = deals.iter().find(|(_, e)| e.id() == b.deal) else {
        return Err(if record.contains(&b.deal) {
            Rejection::BadComplaint
        } else {
            Rejection::UnknownTarget
        });
    };
    if dealer_log != deal.author() {
        return Err(Rejection::BadComplaint);
    }
    let (_, dealing) = rules::check_deal(c, deal).map_err(|_| Rejection::BadComplaint)?;
    let e = record.encryption_key(log).ok_or(Rejection::BadComplaint)?;
    rules::judge_complaint(c, &b.deal, &dealing, event, &e).map(|_| ())
}

/// The deals and complaints each trustee's own log holds about `c`.
fn ceremony_events(
    record: &impl Record,
    c: &ConsultationView,
) -> (Vec<SignedEvent>, Vec<SignedEvent>) {
    let own = |kind| {
        record
            .secret_events(&c.id, kind)
            .into_iter()
            .filter(|(log, e)| log == e.author())
            .map(|(_, e)| e)
            .collect::<Vec<_>>()
    };
    (own(Kind::DkgDeal), own(Kind::DkgComplaint))
}

/// The qualification of `c` as the record holds it.
pub fn qualification(record: &impl Record, c: &ConsultationView) -> rules::Qualification {
    let (deals, complaints) = ceremony_events(record, c);
    rules::qualify(c, &deals, &complaints, |k| record.encryption_key(k))
}

/// The organiser's `election_key`: after the complaint window and before the vote, the
/// first of its log, naming exactly the QUAL and Y recomputed from the trustees' logs
/// (`bad_election_key`, which awaits trustee logs not caught up), with |QUAL| ≥ t.
pub(crate) fn election_key(
    record: &impl Record,
    log: &PublicKey,
    c: &ConsultationView,
    b: &ElectionKeyBody,
    event: &SignedEvent,
) -> Result<(), Rejection> {
    let secrecy = c.body.secrecy.as_ref().ok_or(Rejection::BadElectionKey)?;
    let (opens_at_ms, closes_at_ms) = (secrecy.complaints_close_ms(), c.body.vote_open_ms);
    if !(opens_at_ms..closes_at_ms).contains(&event.created_at_ms()) {
        return Err(Rejection::OutsideWindow {
            opens_at_ms,
            closes_at_ms,
        });
    }
    if already(record, log, c, Kind::ElectionKey, event) {
        return Err(Rejection::BadElectionKey);
    }
    let expected = super::build::election_key_of(c, &qualification(record, c))?;
    if expected != *b {
        return Err(Rejection::BadElectionKey);
    }
    Ok(())
}

/// The organiser's `ballot_layout`: between the close of proposals and the vote, the
/// first of its log, canonical, each column a proposal of `c` (one not recorded yet
/// awaits its log: `unknown_proposal`). Completeness is the audit's
/// (`layout_incomplete`): a replica cannot know it holds every log's proposals.
pub(crate) fn layout(
    record: &impl Record,
    log: &PublicKey,
    c: &ConsultationView,
    b: &BallotLayoutBody,
    event: &SignedEvent,
) -> Result<(), Rejection> {
    if c.body.secrecy.is_none() {
        return Err(Rejection::NotSealed);
    }
    let (opens_at_ms, closes_at_ms) = (c.body.proposals_close_ms, c.body.vote_open_ms);
    if !(opens_at_ms..closes_at_ms).contains(&event.created_at_ms()) {
        return Err(Rejection::OutsideWindow {
            opens_at_ms,
            closes_at_ms,
        });
    }
    if already(record, log, c, Kind::BallotLayout, event) {
        return Err(Rejection::BadLayout);
    }
    rules::check_layout_shape(c, b)?;
    for id in &b.columns {
        match record.proposal(id) {
            None => return Err(Rejection::UnknownProposal),
            Some(p) if p.consultation != c.id => return Err(Rejection::BadLayout),
            Some(_) => {}
        }
    }
    Ok(())
}

/// A sealed ballot, once the v1 ballot rules passed: the consultation is secret
/// (`not_sealed`), has its election key (`no_election_key`) and this layout
/// (`wrong_layout`; a layout not recorded yet awaits its log: `unknown_target`), the
/// groups have the layout's shape (`invalid_choice`) and the proof verifies (`bad_pok`).
pub(crate) fn sealed_ballot(
    record: &impl Record,
    c: &ConsultationView,
    b: &SealedBallotBody,
    author: &PublicKey,
) -> Result<(), Rejection> {
    let secrecy = c.body.secrecy.as_ref().ok_or(Rejection::NotSealed)?;
    if record.election_key(&c.id).is_none() {
        return Err(Rejection::NoElectionKey);
    }
    let (layout, n_columns) = record.layout(&c.id).ok_or(Rejection::UnknownTarget)?;
    if layout != b.sealed.layout {
        return Err(Rejection::WrongLayout);
    }
    let n_columns = usize::try_from(n_columns).map_err(|_| Rejection::WrongLayout)?;
    rules::check_sealed_shape(secrecy, n_columns, &b.sealed)?;
    b.sealed.verify_pok(&c.id, author)
}

/// The `Body` of a recorded secret-ballot event about `consultation`, for indexes: the
/// consultation it is about and, for an election key or layout, what a ballot needs of
/// it (Y, the number of columns).
pub fn about(body: &Body) -> Option<(crate::ids::EventId, Summary)> {
    match body {
        Body::DkgDeal(b) => Some((b.consultation, Summary::Plain)),
        Body::DkgComplaint(b) => Some((b.consultation, Summary::Plain)),
        Body::ElectionKey(b) => Some((b.consultation, Summary::ElectionKey(b.key.0))),
        Body::BallotLayout(b) => Some((b.consultation, Summary::Layout(b.columns.len() as u64))),
        Body::Mix(b) => Some((b.consultation, Summary::Plain)),
        Body::MixProof(b) => Some((b.consultation, Summary::Plain)),
        Body::SealFinal(b) => Some((b.consultation, Summary::Plain)),
        Body::Decryption(b) => Some((b.consultation, Summary::Plain)),
        _ => None,
    }
}

/// What an index keeps of a secret-ballot event besides its id and log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    /// A deal or a complaint: nothing more.
    Plain,
    /// An election key: Y.
    ElectionKey(curve25519_dalek::ristretto::RistrettoPoint),
    /// A layout: its number of columns.
    Layout(u64),
}
