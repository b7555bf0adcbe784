//! The memo of the consultations being opened (SECRET-BALLOTS.md §4.9–§4.10), kept by
//! a reader that lives across admissions (the node's store) and offered through
//! [`crate::record::Record::openings`]: each consultation's L₀ and judged mixes, and the
//! `mix_proof`s whose shuffle proof admission already checked. What is kept here is
//! decided by [`super::judged`]; this file only keeps it, safely between threads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::ids::{EventId, Hash};

use super::cascade::{List, Mixes};

/// L₀ and the recorded mixes of one consultation, judged.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The closing checkpoints L₀ was counted from, one per participating log.
    pub(super) closings: Vec<(u64, Hash)>,
    /// The `mix_proof` ids judged, in record order.
    pub(super) proofs: Vec<EventId>,
    /// L₀, one list per group.
    pub initial: Vec<List>,
    /// The verdict on every recorded `mix_proof`.
    pub mixes: Mixes,
}

impl Judged {
    /// The `mix_proof` ids judged, in record order.
    pub fn proofs(&self) -> &[EventId] {
        &self.proofs
    }
}

/// How many consultations' openings an [`Openings`] keeps: the ones being opened now
/// (each holds L₀ and every mix's outputs, so a finished one should not stay).
const KEPT: usize = 4;

/// The memo of the consultations being opened, for a reader that lives across
/// admissions (the node's store). Safe to share between threads.
#[derive(Debug, Default)]
pub struct Openings {
    kept: Mutex<Kept>,
}

/// The `mix_proof`s of one consultation whose shuffle proof admission checked, over the
/// L₀ of `closings`.
#[derive(Debug)]
struct Checked {
    closings: Vec<(u64, Hash)>,
    ids: BTreeSet<EventId>,
}

#[derive(Debug, Default)]
struct Kept {
    /// Each consultation's judgment, with when it was last used.
    by_consultation: BTreeMap<EventId, (u64, Arc<Judged>)>,
    /// The `mix_proof`s whose shuffle proof admission checked, by consultation: judged
    /// again once recorded, they are not checked twice.
    checked: BTreeMap<EventId, Checked>,
    tick: u64,
}

impl Openings {
    pub(super) fn get(&self, c: &EventId) -> Option<Arc<Judged>> {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.tick += 1;
        let tick = kept.tick;
        kept.by_consultation.get_mut(c).map(|(used, j)| {
            *used = tick;
            j.clone()
        })
    }

    /// Admission checked the proofs of `event` (a `mix_proof` or a `decryption` of
    /// consultation `c`) over the mixes and L₀ of `over`.
    pub fn checked(&self, c: EventId, over: &Judged, event: EventId) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = || Checked {
            closings: over.closings.clone(),
            ids: BTreeSet::new(),
        };
        let entry = kept.checked.entry(c).or_insert_with(fresh);
        if entry.closings != over.closings {
            *entry = fresh();
        }
        entry.ids.insert(event);
    }

    pub(super) fn was_checked(&self, c: &EventId, closings: &[(u64, Hash)]) -> BTreeSet<EventId> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        match kept.checked.get(c) {
            Some(checked) if checked.closings == closings => checked.ids.clone(),
            _ => BTreeSet::new(),
        }
    }

    pub(super) fn put(&self, c: EventId, judged: Arc<Judged>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.tick += 1;
        let tick = kept.tick;
        kept.by_consultation.insert(c, (tick, judged));
        while kept.by_consultation.len() > KEPT {
            let oldest = kept
                .by_consultation
                .iter()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(id, _)| *id);
            match oldest {
                Some(id) => {
                    kept.by_consultation.remove(&id);
                    kept.checked.remove(&id);
                }
                None => break,
            }
        }
    }
}
