//! The audit's checks of a secret consultation (SECRET-BALLOTS.md §4.12, this half):
//! the trustees' encryption keys, deals and complaints, QUAL and the election key, the
//! layout's completeness, and every sealed ballot's proof of knowledge, verified on
//! several threads like the signatures.
//!
//! The replay has already run every event through `admit` (so an inadmissible one is
//! named there too); this file names each fault by its own rule, recomputes what only
//! the whole record can tell (QUAL over every trustee's log, the layout against every
//! log's proposals), and reports void complaints as notes, not failures. The mix and
//! the opening are the second half's.

use std::collections::BTreeSet;

use crate::crypto::PublicKey;
use crate::event::{Body, Kind, SignedEvent};
use crate::ids::EventId;
use crate::purge::Entry;
use crate::record::Record;
use crate::secret::{admit as secret_admit, build};
use crate::view::ConsultationView;

use super::Fail;
use super::replay::Replay;

/// A thing worth saying that is not a failure (`void_complaint`).
pub(super) type Note = super::Failure;

/// Checks what the replayed record holds of a secret consultation; returns the notes.
pub(super) fn check(
    c: &ConsultationView,
    replay: &Replay,
    threads: usize,
    fail: &mut Fail<'_>,
) -> Vec<Note> {
    let mut notes = Vec::new();
    let Some(secrecy) = &c.body.secrecy else {
        return notes;
    };
    let ledger = &replay.ledger;
    for t in &secrecy.trustees {
        if ledger.encryption_key(t).is_none() {
            fail.push(
                "bad_encryption_key",
                Some(*t),
                None,
                None,
                None,
                "this trustee's log declares no valid encryption key",
            );
        }
    }
    let q = secret_admit::qualification(ledger, c);
    for id in &q.bad_deals {
        push_event(
            fail,
            ledger,
            "bad_deal",
            id,
            "this deal is not valid: its dealer is not in QUAL",
        );
    }
    for id in &q.bad_complaints {
        push_event(
            fail,
            ledger,
            "bad_complaint",
            id,
            "this complaint proves nothing",
        );
    }
    for id in &q.void_complaints {
        let at = ledger.position(id);
        notes.push(Note {
            rule: "void_complaint",
            authority: at.map(|p| p.log),
            index: at.map(|p| p.index),
            event: Some(*id),
            source: None,
            detail: "the share complained of verifies: the dealer stays in QUAL".into(),
        });
    }
    if let Some((id, _)) = ledger.election_key(&c.id) {
        let recorded = match ledger.event(&id).map(SignedEvent::body) {
            Some(Body::ElectionKey(b)) => Some(b.clone()),
            _ => None,
        };
        if build::election_key_of(c, &q).ok() != recorded {
            push_event(
                fail,
                ledger,
                "bad_election_key",
                &id,
                "QUAL or the key is not the one the deals and complaints give",
            );
        }
    }
    if let Some((id, _)) = ledger.layout(&c.id) {
        check_layout(c, replay, &id, fail);
    }
    check_ballots(c, replay, threads, fail);
    notes
}

fn push_event(
    fail: &mut Fail<'_>,
    ledger: &crate::ledger::Ledger,
    rule: &'static str,
    id: &EventId,
    detail: &str,
) {
    let at = ledger.position(id);
    fail.push(
        rule,
        at.map(|p| p.log),
        at.map(|p| p.index),
        Some(*id),
        None,
        detail,
    );
}

/// Every proposal of `c` admitted in a participating log before the close of proposals
/// (hidden and purged ones included) must be a column (`layout_incomplete`).
fn check_layout(c: &ConsultationView, replay: &Replay, layout: &EventId, fail: &mut Fail<'_>) {
    let Some(Body::BallotLayout(b)) = replay.ledger.event(layout).map(SignedEvent::body) else {
        return;
    };
    let columns: BTreeSet<EventId> = b.columns.iter().copied().collect();
    let mut missing = Vec::new();
    for (log, entries) in &replay.admitted {
        if !c.participates(log) {
            continue;
        }
        for (_, entry) in entries {
            let (id, of, at) = match entry {
                Entry::Event(e) => match e.body() {
                    Body::Proposal(p) => (e.id(), p.consultation, e.created_at_ms()),
                    _ => continue,
                },
                Entry::Purged(p) if p.body().kind == Kind::Proposal => {
                    (p.body().id, p.body().consultation, p.body().created_at_ms)
                }
                Entry::Purged(_) => continue,
            };
            if of == c.id && at < c.body.proposals_close_ms && !columns.contains(&id) {
                missing.push((*log, id));
            }
        }
    }
    for (log, id) in missing {
        fail.push(
            "layout_incomplete",
            Some(log),
            None,
            Some(id),
            None,
            "this proposal is not a column of the layout: it could receive no vote",
        );
    }
}

/// Every sealed ballot's points and proof, on `threads` threads.
fn check_ballots(c: &ConsultationView, replay: &Replay, threads: usize, fail: &mut Fail<'_>) {
    let mut ballots: Vec<(PublicKey, u64, &SignedEvent)> = Vec::new();
    for log in replay.ledger.logs() {
        for (i, entry) in log.1.entries.iter().enumerate() {
            if let Entry::Event(e) = entry
                && let Body::SealedBallot(b) = e.body()
                && b.consultation == c.id
            {
                ballots.push((*log.0, i as u64, e));
            }
        }
    }
    let verify = |(_, _, e): &(PublicKey, u64, &SignedEvent)| match e.body() {
        Body::SealedBallot(b) => b.sealed.verify_pok(&c.id, e.author()).is_ok(),
        _ => true,
    };
    let threads = threads.max(1);
    let chunk = ballots.len().div_ceil(threads).max(1);
    let verdicts: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = ballots
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(verify).collect::<Vec<bool>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("verifying a proof does not panic"))
            .collect()
    });
    for ((log, index, e), ok) in ballots.iter().zip(verdicts) {
        if !ok {
            fail.push(
                "bad_pok",
                Some(*log),
                Some(*index),
                Some(e.id()),
                None,
                "this sealed ballot's proof of knowledge does not verify for its author",
            );
        }
    }
}
