//! From the opened plaintexts to the tally (SECRET-BALLOTS.md §4.11): each decrypted
//! point is decoded with `sealed`'s codec, its validity judged, and the values counted
//! by v1's `tally()` — through [`tally::tally_from_columns`] in split mode, where each
//! column is a separate multiset, and directly in row mode, where each position is one
//! voter's approve list.
//!
//! Validity: a point that is not a canonical payload, a value out of range or a bit set
//! beyond the last column is invalid. In row mode an invalid row is left out of
//! `n_ballots` and counted in `n_invalid` (as is a row the method refuses, such as too
//! many approvals); in split mode an invalid value counts as "not answered" (grade 0)
//! and adds 1 to `n_invalid`. Hidden proposals' columns are decrypted but, not being
//! candidates, ignored. Which plaintexts these are (the chains, the shares) is
//! [`super::cascade`]'s.

use std::collections::BTreeMap;

use curve25519_dalek::ristretto::RistrettoPoint;

use crate::ids::EventId;
use crate::sealed::{self, ColumnKind};
use crate::tally::{self, Candidate, Choice, Method, Tally};

/// The kind of a split-mode column under `method` (`None` for the row-mode methods).
pub fn column_kind(method: &Method) -> Option<ColumnKind> {
    match method {
        Method::Support { .. } => Some(ColumnKind::Support),
        Method::YesNoAbstain {} => Some(ColumnKind::YesNoAbstain),
        Method::MajorityJudgment { grades } => Some(ColumnKind::MajorityJudgment {
            n_grades: u8::try_from(grades.len()).unwrap_or(u8::MAX),
        }),
        Method::Approval { .. } | Method::Budget { .. } => None,
    }
}

/// The tally of an opening: `groups[g][i]` are the plaintext points of position i of
/// group g (the tip's order), under a layout of `columns` in `split` mode or not.
pub fn tally_of_plaintexts(
    method: &Method,
    split: bool,
    columns: &[EventId],
    candidates: &[Candidate],
    groups: &[Vec<Vec<RistrettoPoint>>],
) -> Tally {
    let is_candidate = |id: &EventId| candidates.iter().any(|c| c.id == *id);
    if split {
        let kind = column_kind(method).unwrap_or(ColumnKind::Support);
        let n_positions = groups.first().map_or(0, Vec::len);
        let mut n_invalid = 0u64;
        let mut values: BTreeMap<EventId, Vec<u8>> = BTreeMap::new();
        for (id, group) in columns.iter().zip(groups) {
            if !is_candidate(id) {
                continue;
            }
            let column = group
                .iter()
                .map(|pos| match pos.as_slice() {
                    [point] => sealed::decode_column(kind, point),
                    _ => None,
                })
                .map(|v| {
                    v.unwrap_or_else(|| {
                        n_invalid += 1;
                        0
                    })
                })
                .collect();
            values.insert(*id, column);
        }
        return tally::tally_from_columns(method, candidates, n_positions, &values, n_invalid);
    }
    let mut n_invalid = 0u64;
    let mut ballots = Vec::new();
    for pos in groups.first().map(Vec::as_slice).unwrap_or_default() {
        match sealed::decode_row(columns.len(), pos) {
            Some(selected) => ballots.push(Choice::Approve(
                columns
                    .iter()
                    .zip(selected)
                    .filter(|(id, chosen)| *chosen && is_candidate(id))
                    .map(|(id, _)| *id)
                    .collect(),
            )),
            None => n_invalid += 1,
        }
    }
    tally::with_invalid(tally::tally(method, candidates, &ballots), n_invalid)
}
