//! The tally of a split-mode opening (SECRET-BALLOTS.md §4.11): after the mix, each
//! proposal's column is a multiset of values with no link across columns, and
//! [`tally_from_columns`] counts from those multisets alone.
//!
//! For support, yes/no/abstain and majority judgment, [`super::tally`] depends only on
//! each proposal's histogram of values. So this function pairs the columns in sorted
//! order into as many ballots as there are positions (ballot i takes the i-th smallest
//! value of every column), which have exactly the same histograms, and counts those with
//! the one `tally` — no rule is written twice. That the result equals `tally` over the
//! voters' real ballots is a law the tests check on arbitrary ballot sets. Decoding the
//! plaintexts and judging their validity is `secret::result`'s.

use std::collections::BTreeMap;

use crate::ids::EventId;

use super::{Answer, Candidate, Choice, Method, Tally};

/// Counts a split-mode opening: `columns` maps each candidate to its values, one per
/// position (`0` none / not supported / not graded; `1` yes or supported; `2` no; `3`
/// abstain; for majority judgment the grade index). A candidate without a column, or a
/// column shorter than `n_positions`, counts the missing values as 0. `n_invalid` (the
/// invalid values the caller replaced by 0) is reported as is.
pub fn tally_from_columns(
    method: &Method,
    candidates: &[Candidate],
    n_positions: usize,
    columns: &BTreeMap<EventId, Vec<u8>>,
    n_invalid: u64,
) -> Tally {
    let mut ids: Vec<EventId> = candidates.iter().map(|c| c.id).collect();
    ids.sort();
    ids.dedup();
    let sorted: Vec<(EventId, Vec<u8>)> = ids
        .iter()
        .map(|id| {
            let mut values = columns.get(id).cloned().unwrap_or_default();
            values.resize(n_positions, 0);
            values.truncate(n_positions);
            values.sort_unstable();
            (*id, values)
        })
        .collect();
    let ballots: Vec<Choice> = (0..n_positions)
        .map(|i| ballot_at(method, &sorted, i))
        .collect();
    with_invalid(super::tally(method, candidates, &ballots), n_invalid)
}

/// The i-th re-paired ballot: the i-th smallest value of every column.
fn ballot_at(method: &Method, sorted: &[(EventId, Vec<u8>)], i: usize) -> Choice {
    choice_of_values(method, sorted.iter().map(|(id, v)| (*id, v[i])))
}

/// The ballot that gives each proposal its split-mode column value under `method`
/// (values as [`tally_from_columns`] reads them): for yes/no/abstain the answers (0 is
/// no answer), for majority judgment the grades above 0 (0, not graded, counts as the
/// worst grade), otherwise the approve list of the proposals whose value is 1. With a
/// single (proposal, value), one column's value as the tally reads it.
pub fn choice_of_values(method: &Method, values: impl Iterator<Item = (EventId, u8)>) -> Choice {
    match method {
        Method::YesNoAbstain {} => Choice::Answers(
            values
                .filter_map(|(id, v)| {
                    let answer = match v {
                        1 => Answer::Yes,
                        2 => Answer::No,
                        3 => Answer::Abstain,
                        _ => return None,
                    };
                    Some((id, answer))
                })
                .collect(),
        ),
        Method::MajorityJudgment { .. } => Choice::Grades(
            values
                .filter(|(_, v)| *v > 0)
                .map(|(id, v)| (id, u32::from(v)))
                .collect(),
        ),
        _ => Choice::Approve(values.filter(|(_, v)| *v == 1).map(|(id, _)| id).collect()),
    }
}

/// The same tally with `n` more invalid ballots or values in `n_invalid`.
pub fn with_invalid(mut tally: Tally, n: u64) -> Tally {
    match &mut tally {
        Tally::Support { n_invalid, .. }
        | Tally::YesNoAbstain { n_invalid, .. }
        | Tally::Approval { n_invalid, .. }
        | Tally::Budget { n_invalid, .. }
        | Tally::MajorityJudgment { n_invalid, .. } => *n_invalid += n,
    }
    tally
}
