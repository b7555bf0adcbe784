//! L₀ and the judged mixes of a secret consultation, kept between admissions.
//!
//! Every `decryption` chunk, every `mix_proof` and the `seal_final` are judged against
//! L₀ and the mixes recorded before them (§4.9–§4.10). Recounting L₀ and re-checking
//! every shuffle proof for each of them made the opening O(ballots × mixes) per chunk,
//! so O(ballots²) in all. A reader that keeps a [`super::memo::Openings`] (the node's store
//! does, through [`Record::openings`]) pays for each once:
//!
//! - L₀ is a function of the closing checkpoints alone, so it is kept for as long as
//!   they are the same;
//! - a recorded mix's verdict depends only on what was recorded before it, so the
//!   verdicts are kept and only a `mix_proof` not judged yet is checked. If a judged
//!   one is no longer recorded (a commit that failed after being judged), everything is
//!   judged afresh;
//! - a `mix_proof` whose shuffle proof admission checked ([`super::memo::Openings::checked`]) is not
//!   checked again once recorded: its id fixes its proof, its chunks and its input, so
//!   the check would give the same answer. The rest of its verdict (chain, author,
//!   chunks) is judged again.
//!
//! Architecture invariant: what [`judged`] answers is what [`super::setting::initial`]
//! and [`super::setting::mixes`] answer from scratch; the memo only saves the work
//! (checked by `memo_agrees_with_a_fresh_judgment` in core's tests).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::crypto::PublicKey;
use crate::event::{Kind, SignedEvent};
use crate::ids::EventId;
use crate::record::Record;
use crate::rejection::Rejection;
use crate::view::ConsultationView;

use super::cascade::{self, Mixes, Proof};
use super::memo::Judged;
use super::setting::{self, Setting};

/// L₀ and the judged mixes of `c` (`not_closed` until every participating log holds its
/// closing checkpoint), from `record`'s [`super::memo::Openings`] when it keeps one.
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
        None => (setting::initial(record, c, s)?, Mixes::default()),
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
    let mixes = cascade::judge_more(&ctx, mixes, &fresh, setting::chunk_lookup(record), proof);
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
/// and mixes of `over` (the events of `c` [`super::memo::Openings::checked`] noted): what
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
