//! Where a closed secret consultation's opening stands (SECRET-BALLOTS.md §4.8–§4.11),
//! for its results page and its tally answer: which trustee towns of QUAL have mixed,
//! whether the organiser sealed the mixes for opening, which towns sent their decryption
//! shares, how many more are needed, and the signed result once it is published.
//!
//! Read from the admitted events only: admission checked each mix and share as it came,
//! and the audit checks everything again. Nothing here re-checks a proof, so an answer
//! costs O(the consultation's opening events), never O(its ballots).

use palabre_core::crypto::PublicKey;
use palabre_core::event::mix::SealedResultBody;
use palabre_core::event::{Body, Kind};
use palabre_core::ids::EventId;
use palabre_core::purge::Entry;
use palabre_core::record::Record;
use palabre_core::secret::setting;
use palabre_core::view::ConsultationView;
use serde::Serialize;

/// The phases of an opening, as a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The trustees mix the sealed ballots, one town after the other.
    Mixing,
    /// The mixes are sealed for opening: the trustees send their decryption shares.
    Opening,
    /// The result is published.
    Result,
}

/// A secret consultation's opening as this record holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Opening {
    pub phase: Phase,
    /// How many trustees must mix and decrypt.
    pub threshold: u64,
    /// The trustees who may mix and decrypt (QUAL), in trustee order.
    pub qual: Vec<PublicKey>,
    /// The trustees of QUAL with a recorded mix of every group, in the order they mixed.
    pub mixed: Vec<PublicKey>,
    /// The others of QUAL: late, or skipped.
    pub not_mixed: Vec<PublicKey>,
    /// The organiser's `seal_final`, once appended.
    pub seal_final: Option<EventId>,
    /// The trustees who sent decryption shares of it.
    pub decrypted: Vec<PublicKey>,
    /// How many more trustee towns who mixed must send their shares for a result.
    pub missing: u64,
    /// The published result: its id and body.
    #[serde(skip)]
    pub result: Option<(EventId, SealedResultBody)>,
}

/// The opening of `c` (`None` for a public consultation, or before its election key and
/// layout exist); `result` is the id of its recorded result, if any.
pub fn opening_of(
    record: &impl Record,
    c: &ConsultationView,
    result: Option<EventId>,
) -> Option<Opening> {
    c.body.secrecy.as_ref()?;
    let s = setting::setting(record, c).ok()?;
    let n_groups = s.widths().len();
    let trustee = |j: &u64| s.secrecy.trustee(*j).copied();
    // Mixes in record order: a trustee has mixed once it mixed every group.
    let mut groups_of: Vec<(u64, usize)> = Vec::new();
    for (log, e) in record.secret_events(&c.id, Kind::MixProof) {
        let Some(j) = s.secrecy.index_of(e.author()) else {
            continue;
        };
        if log != *e.author() || !record.contains(&e.id()) {
            continue;
        }
        match groups_of.iter_mut().find(|(k, _)| *k == j) {
            Some((_, n)) => *n += 1,
            None => groups_of.push((j, 1)),
        }
    }
    let mixed_j: Vec<u64> = groups_of
        .iter()
        .filter(|(j, n)| *n >= n_groups && s.qual.contains(j))
        .map(|(j, _)| *j)
        .collect();
    let organiser = &c.organiser;
    let seal_final = record
        .secret_events(&c.id, Kind::SealFinal)
        .into_iter()
        .find(|(log, e)| log == organiser && e.author() == organiser && record.contains(&e.id()))
        .map(|(_, e)| e.id());
    let mut decrypted_j: Vec<u64> = Vec::new();
    if let Some(id) = &seal_final {
        for (log, e) in record.secret_events(&c.id, Kind::Decryption) {
            let Body::Decryption(d) = e.body() else {
                continue;
            };
            let Some(j) = s.secrecy.index_of(e.author()) else {
                continue;
            };
            if d.seal_final == *id && log == *e.author() && !decrypted_j.contains(&j) {
                decrypted_j.push(j);
            }
        }
    }
    decrypted_j.sort_unstable();
    let ready = decrypted_j.iter().filter(|j| mixed_j.contains(j)).count() as u64;
    let result = result.and_then(|id| match record.held(&id)? {
        (_, Entry::Event(e)) => match e.body() {
            Body::SealedResult(b) => Some((id, (**b).clone())),
            _ => None,
        },
        _ => None,
    });
    let phase = if result.is_some() {
        Phase::Result
    } else if seal_final.is_some() {
        Phase::Opening
    } else {
        Phase::Mixing
    };
    Some(Opening {
        phase,
        threshold: s.secrecy.threshold,
        qual: s.qual.iter().filter_map(trustee).collect(),
        mixed: mixed_j.iter().filter_map(trustee).collect(),
        not_mixed: s
            .qual
            .iter()
            .filter(|j| !mixed_j.contains(j))
            .filter_map(trustee)
            .collect(),
        seal_final,
        decrypted: decrypted_j.iter().filter_map(trustee).collect(),
        missing: s.secrecy.threshold.saturating_sub(ready),
        result,
    })
}
