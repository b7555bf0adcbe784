//! The audit's replay: the logs' entries, checked and in log order, through core's
//! `admit` with the claimed times, into a ledger whose references resolve across every
//! log served. It returns what was admitted, for the closing checks and the recount
//! (`closing.rs`); it judges nothing about closing or counting itself.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::Fail;
use super::sources::CheckedLog;
use crate::admission::{Clock, Record, admit};
use crate::crypto::PublicKey;
use crate::event::{Body, Kind, SignedEvent};
use crate::ids::{EventId, Hash};
use crate::ledger::{Ledger, References};
use crate::purge::{Entry, PurgedEntry};
use crate::rejection::Rejection;

/// What the replay leaves for the closing checks and the recount.
pub(super) struct Replay {
    /// Consultations, proposals and targets of every log served.
    pub(super) refs: Arc<References>,
    pub(super) ledger: Ledger,
    /// Per authority, `(index, entry)` of the entries that passed admission.
    pub(super) admitted: BTreeMap<PublicKey, Vec<(u64, Entry)>>,
    /// Results, judged at the end when every log's checkpoint has been replayed.
    pub(super) results: Vec<(PublicKey, u64, SignedEvent)>,
}

/// Replays every log: references resolve across all logs; state comes from each log in
/// order. Each inadmissible entry and each unexplained tombstone is a failure.
pub(super) fn replay(logs: &[CheckedLog], fail: &mut Fail<'_>) -> Replay {
    let mut refs = References::default();
    for log in logs {
        for e in log.events.iter().flatten() {
            match e {
                Entry::Event(e) => refs.note(&log.authority, e),
                Entry::Purged(p) => refs.note_purged(p.body()),
            }
        }
    }
    let refs = Arc::new(refs);
    let mut ledger = Ledger::with_references(refs.clone());
    let mut admitted: BTreeMap<PublicKey, Vec<(u64, Entry)>> = BTreeMap::new();
    let mut results: Vec<(PublicKey, u64, SignedEvent)> = Vec::new();
    // Tombstones served, each to be explained by a purge of its own log.
    let mut tombstones: Vec<(PublicKey, u64, PurgedEntry)> = Vec::new();
    let mut purges: BTreeSet<(PublicKey, EventId)> = BTreeSet::new();
    for log in logs {
        let list = admitted.entry(log.authority).or_default();
        for (index, slot) in log.events.iter().enumerate() {
            let index = index as u64;
            let event = match slot {
                // Keep the tree in step with the served history even for bad entries.
                None => continue,
                Some(Entry::Purged(p)) => {
                    tombstones.push((log.authority, index, p.clone()));
                    list.push((index, Entry::Purged(p.clone())));
                    ledger.apply_entry(&log.authority, Entry::Purged(p.clone()));
                    continue;
                }
                Some(Entry::Event(event)) => event,
            };
            if event.kind() == Kind::Result {
                results.push((log.authority, index, event.clone()));
                ledger.apply(&log.authority, event.clone());
                continue;
            }
            match admit(&ledger, &log.authority, event, Clock::Replay).into_result() {
                Ok(()) => {
                    if let Body::Moderation(b) = event.body()
                        && b.tombstone.is_some()
                    {
                        purges.insert((log.authority, b.target));
                    }
                    list.push((index, Entry::Event(event.clone())));
                    ledger.apply(&log.authority, event.clone());
                }
                Err(r) => {
                    fail.push(
                        "inadmissible",
                        Some(log.authority),
                        Some(index),
                        Some(event.id()),
                        None,
                        format!("{} ({})", r, r.code()),
                    );
                    if r != Rejection::Duplicate {
                        ledger.apply(&log.authority, event.clone());
                    }
                }
            }
        }
    }
    check_tombstones(&tombstones, &purges, fail);
    Replay {
        refs,
        ledger,
        admitted,
        results,
    }
}

/// A tombstone withholds an entry's text: only its own log's public purge, admitted in
/// the replay (the item hidden, the tombstone exact), allows that.
fn check_tombstones(
    tombstones: &[(PublicKey, u64, PurgedEntry)],
    purges: &BTreeSet<(PublicKey, EventId)>,
    fail: &mut Fail<'_>,
) {
    for (authority, index, p) in tombstones {
        if !purges.contains(&(*authority, p.body().id)) {
            fail.push(
                "unexplained_purge",
                Some(*authority),
                Some(*index),
                Some(p.body().id),
                None,
                "this entry was served as a tombstone, but its log holds no admissible purge of it",
            );
        }
    }
}

/// Whether the organiser's `result` is admissible, judged after the whole replay.
pub(super) fn admit_result(
    ledger: &Ledger,
    log: &PublicKey,
    event: &SignedEvent,
) -> Result<(), Rejection> {
    admit(&ledger_without(ledger, event), log, event, Clock::Replay).into_result()
}

/// The ledger as it was before `event` was applied, for judging a deferred result: only
/// "already recorded" differs, so a view that forgets this one id is enough.
fn ledger_without<'a>(ledger: &'a Ledger, event: &SignedEvent) -> Forgetting<'a> {
    Forgetting {
        ledger,
        id: event.id(),
    }
}

struct Forgetting<'a> {
    ledger: &'a Ledger,
    id: EventId,
}

impl Record for Forgetting<'_> {
    fn contains(&self, id: &EventId) -> bool {
        *id != self.id && self.ledger.contains(id)
    }
    fn is_declared(&self, a: &PublicKey) -> bool {
        self.ledger.is_declared(a)
    }
    fn consultation(&self, id: &EventId) -> Option<crate::admission::ConsultationView> {
        self.ledger.consultation(id)
    }
    fn proposal(&self, id: &EventId) -> Option<crate::admission::ProposalView> {
        self.ledger.proposal(id)
    }
    fn target(&self, id: &EventId) -> Option<(Kind, Option<EventId>)> {
        self.ledger.target(id)
    }
    fn credential(
        &self,
        i: &PublicKey,
        s: &PublicKey,
    ) -> Option<crate::admission::CredentialState> {
        self.ledger.credential(i, s)
    }
    fn closing(&self, a: &PublicKey, c: &EventId) -> Option<(u64, Hash)> {
        self.ledger.closing(a, c)
    }
    fn has_result(&self, c: &EventId) -> bool {
        // Only the first result of a consultation counts; later ones are refused.
        self.ledger.has_result(c) && self.ledger.first_result(c) != Some(self.id)
    }
    fn log_size(&self, a: &PublicKey) -> u64 {
        self.ledger.log_size(a)
    }
    fn root_at(&self, a: &PublicKey, size: u64) -> Option<Hash> {
        self.ledger.root_at(a, size)
    }
    fn staff(&self, a: &PublicKey, key: &PublicKey) -> Option<crate::event::StaffRole> {
        self.ledger.staff(a, key)
    }
    fn held(&self, id: &EventId) -> Option<(PublicKey, Entry)> {
        self.ledger.held(id)
    }
    fn moderated(&self, a: &PublicKey, target: &EventId) -> Option<crate::event::ModerationAction> {
        self.ledger.moderated(a, target)
    }
}
