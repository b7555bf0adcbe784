//! L₀ and the judged mixes of a secret consultation, kept between admissions.
//!
//! Every `decryption` chunk, every `mix_proof` and the `seal_final` are judged against
//! L₀ and the mixes recorded before them (§4.9–§4.10). Recounting L₀ and re-checking
//! every shuffle proof for each of them made the opening O(ballots × mixes) per chunk,
//! so O(ballots²) in all. A reader that keeps an [`Openings`] (the node's store does,
//! through [`Record::openings`]) pays for each once:
//!
//! - L₀ is a function of the closing checkpoints alone, so it is kept for as long as
//!   they are the same;
//! - a recorded mix's verdict depends only on what was recorded before it, so the
//!   verdicts are kept and only a `mix_proof` not judged yet is checked. If a judged
//!   one is no longer recorded (a commit that failed after being judged), everything is
//!   judged afresh;
//! - a `mix_proof` whose shuffle proof admission checked ([`Openings::checked`]) is not
//!   checked again once recorded: its id fixes its proof, its chunks and its input, so
//!   the check would give the same answer. The rest of its verdict (chain, author,
//!   chunks) is judged again.
//!
//! Architecture invariant: what [`judged`] answers is what [`super::mix_admit::initial`]
//! and [`super::mix_admit::mixes`] answer from scratch; the memo only saves the work
//! (checked by `memo_agrees_with_a_fresh_judgment` in core's tests).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::admission::{ConsultationView, Record};
use crate::crypto::PublicKey;
use crate::event::{Kind, SignedEvent};
use crate::ids::{EventId, Hash};
use crate::rejection::Rejection;

use super::cascade::{self, List, Mixes, Proof};
use super::mix_admit::{self, Setting};

/// L₀ and the recorded mixes of one consultation, judged.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The closing checkpoints L₀ was counted from, one per participating log.
    closings: Vec<(u64, Hash)>,
    /// The `mix_proof` ids judged, in record order.
    proofs: Vec<EventId>,
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
    fn get(&self, c: &EventId) -> Option<Arc<Judged>> {
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

    fn was_checked(&self, c: &EventId, closings: &[(u64, Hash)]) -> BTreeSet<EventId> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        match kept.checked.get(c) {
            Some(checked) if checked.closings == closings => checked.ids.clone(),
            _ => BTreeSet::new(),
        }
    }

    fn put(&self, c: EventId, judged: Arc<Judged>) {
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

/// L₀ and the judged mixes of `c` (`not_closed` until every participating log holds its
/// closing checkpoint), from `record`'s [`Openings`] when it keeps one.
pub fn judged(
    record: &impl Record,
    c: &ConsultationView,
    s: &Setting,
) -> Result<Arc<Judged>, Rejection> {
    let closings = c
        .body
        .authorities
        .iter()
        .map(|a| record.closing(a, &c.id))
        .collect::<Option<Vec<_>>>()
        .ok_or(Rejection::NotClosed)?;
    let recorded: Vec<(PublicKey, SignedEvent)> = record
        .secret_events(&c.id, Kind::MixProof)
        .into_iter()
        .filter(|(_, e)| record.contains(&e.id()))
        .collect();
    let proofs: Vec<EventId> = recorded.iter().map(|(_, e)| e.id()).collect();
    let memo = record.openings();
    let earlier = memo
        .and_then(|m| m.get(&c.id))
        .filter(|j| j.closings == closings && j.proofs.iter().all(|p| proofs.contains(p)));
    let (initial, mut mixes) = match earlier {
        Some(j) if j.proofs == proofs => return Ok(j),
        Some(j) => (j.initial.clone(), j.mixes.clone()),
        None => (mix_admit::initial(record, c, s)?, Mixes::default()),
    };
    // A proof that waited for its input is judged again with the ones not judged yet.
    mixes
        .invalid
        .retain(|_, why| *why != Rejection::UnknownTarget);
    let fresh: Vec<(PublicKey, SignedEvent)> = recorded
        .into_iter()
        .filter(|(_, e)| !mixes.valid.contains_key(&e.id()) && !mixes.invalid.contains_key(&e.id()))
        .collect();
    let ctx = s.context(&c.id, &initial);
    let checked = memo
        .map(|m| m.was_checked(&c.id, &closings))
        .unwrap_or_default();
    let proof = |id: &EventId| proof_of(&checked, id);
    let mixes = cascade::judge_more(&ctx, mixes, &fresh, mix_admit::chunk_lookup(record), proof);
    let judged = Arc::new(Judged {
        closings,
        proofs,
        initial,
        mixes,
    });
    if let Some(m) = memo {
        m.put(c.id, judged.clone());
    }
    Ok(judged)
}

fn proof_of(checked: &BTreeSet<EventId>, id: &EventId) -> Proof {
    match checked.contains(id) {
        true => Proof::CheckedAtAdmission,
        false => Proof::Check,
    }
}

/// Whether `record`'s reader checked the proofs of each event at admission, over the L₀
/// and mixes of `over` (the events of `c` [`Openings::checked`] noted): what
/// [`super::open::collect`] may skip. Every proof is to be checked by a reader that
/// keeps no memo.
pub fn checked_at_admission<R: Record>(
    record: &R,
    c: &EventId,
    over: &Judged,
) -> impl Fn(&EventId) -> Proof + use<R> {
    let checked = record
        .openings()
        .map(|m| m.was_checked(c, &over.closings))
        .unwrap_or_default();
    move |id| proof_of(&checked, id)
}
