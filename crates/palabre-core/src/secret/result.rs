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
    if split {
        let n_positions = groups.first().map_or(0, Vec::len);
        let mut n_invalid = 0u64;
        let values: BTreeMap<EventId, Vec<u8>> =
            decoded_columns(method, columns, candidates, groups)
                .into_iter()
                .map(|(id, column)| {
                    let column = column
                        .into_iter()
                        .map(|v| {
                            v.unwrap_or_else(|| {
                                n_invalid += 1;
                                0
                            })
                        })
                        .collect();
                    (id, column)
                })
                .collect();
        return tally::tally_from_columns(method, candidates, n_positions, &values, n_invalid);
    }
    let mut n_invalid = 0u64;
    let mut ballots = Vec::new();
    for row in decoded_rows(columns, candidates, groups) {
        match row {
            Some(choice) => ballots.push(choice),
            None => n_invalid += 1,
        }
    }
    tally::with_invalid(tally::tally(method, candidates, &ballots), n_invalid)
}

/// The plaintexts of an opening decoded and judged as [`tally_of_plaintexts`] reads
/// them, position by position in the tip's order (the final mix's outputs: a voter's
/// ballot is not linked to its position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenedChoices {
    /// Row mode (one group): each position's whole ballot, the approve list of the
    /// candidates it selects; `None` for an invalid plaintext or a ballot the method
    /// refuses (too many approvals), which the tally counts in `n_invalid`.
    Rows(Vec<Option<Choice>>),
    /// Split mode (one group per column, each shuffled on its own, so positions of two
    /// columns are not the same voter): each candidate's column, ascending by id, and
    /// each of its positions' value as the one-proposal choice the tally reads
    /// ([`tally::choice_of_values`]: `Approve([])` or `Approve([id])`, the answer if
    /// any, the grade if above the worst); `None` for an invalid value, which the tally
    /// counts as not answered and in `n_invalid`.
    Columns(Vec<(EventId, Vec<Option<Choice>>)>),
}

/// The choices of an opening (same arguments as [`tally_of_plaintexts`]): what the
/// open data publishes of a secret consultation, in the tip's order.
pub fn opened_choices(
    method: &Method,
    split: bool,
    columns: &[EventId],
    candidates: &[Candidate],
    groups: &[Vec<Vec<RistrettoPoint>>],
) -> OpenedChoices {
    if split {
        return OpenedChoices::Columns(
            decoded_columns(method, columns, candidates, groups)
                .into_iter()
                .map(|(id, column)| {
                    let choices = column
                        .into_iter()
                        .map(|v| v.map(|v| tally::choice_of_values(method, [(id, v)].into_iter())))
                        .collect();
                    (id, choices)
                })
                .collect(),
        );
    }
    let is_candidate = |id: &EventId| candidates.iter().any(|c| c.id == *id);
    OpenedChoices::Rows(
        decoded_rows(columns, candidates, groups)
            .into_iter()
            .map(|row| row.filter(|c| tally::validate_choice(method, is_candidate, c).is_ok()))
            .collect(),
    )
}

/// Row mode: each position of the single group decoded to the approve list of the
/// candidates it selects, `None` if its plaintext is invalid.
fn decoded_rows(
    columns: &[EventId],
    candidates: &[Candidate],
    groups: &[Vec<Vec<RistrettoPoint>>],
) -> Vec<Option<Choice>> {
    let is_candidate = |id: &EventId| candidates.iter().any(|c| c.id == *id);
    groups
        .first()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|pos| {
            sealed::decode_row(columns.len(), pos).map(|selected| {
                Choice::Approve(
                    columns
                        .iter()
                        .zip(selected)
                        .filter(|(id, chosen)| *chosen && is_candidate(id))
                        .map(|(id, _)| *id)
                        .collect(),
                )
            })
        })
        .collect()
}

/// Split mode: each candidate's column (hidden proposals' are skipped) decoded position
/// by position, `None` for an invalid value.
fn decoded_columns(
    method: &Method,
    columns: &[EventId],
    candidates: &[Candidate],
    groups: &[Vec<Vec<RistrettoPoint>>],
) -> BTreeMap<EventId, Vec<Option<u8>>> {
    let is_candidate = |id: &EventId| candidates.iter().any(|c| c.id == *id);
    let kind = column_kind(method).unwrap_or(ColumnKind::Support);
    columns
        .iter()
        .zip(groups)
        .filter(|(id, _)| is_candidate(id))
        .map(|(id, group)| {
            let column = group
                .iter()
                .map(|pos| match pos.as_slice() {
                    [point] => sealed::decode_column(kind, point),
                    _ => None,
                })
                .collect();
            (*id, column)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Hash;
    use crate::tally::Answer;

    fn ids(n: u8) -> Vec<EventId> {
        let mut ids: Vec<EventId> = (0..n).map(|i| EventId(Hash::of(&[i]))).collect();
        ids.sort();
        ids
    }

    fn candidates(ids: &[EventId]) -> Vec<Candidate> {
        ids.iter()
            .map(|id| Candidate {
                id: *id,
                cost: None,
            })
            .collect()
    }

    /// Row mode: each position is a whole ballot over the candidates (a hidden column is
    /// left out); an invalid plaintext and a ballot the method refuses are `None`, and
    /// counting the others gives the tally of the plaintexts with those as `n_invalid`.
    #[test]
    fn rows_are_the_ballots_the_tally_counts() {
        let columns = ids(3);
        let shown = candidates(&columns[..2]);
        let method = Method::Approval { max_choices: 1 };
        let row = |bits: [bool; 3]| sealed::encode_row(&bits).expect("row");
        let groups = vec![vec![
            row([true, false, true]),
            row([false, false, false]),
            row([true, true, false]),
            Vec::new(),
            row([false, true, false]),
        ]];
        let opened = opened_choices(&method, false, &columns, &shown, &groups);
        let expected = vec![
            Some(Choice::Approve(vec![columns[0]])),
            Some(Choice::Approve(vec![])),
            None,
            None,
            Some(Choice::Approve(vec![columns[1]])),
        ];
        assert_eq!(opened, OpenedChoices::Rows(expected.clone()));
        // The tally counts the others, and both `None`s as invalid.
        let counted = tally::tally(&method, &shown, expected.iter().flatten());
        assert_eq!(
            tally_of_plaintexts(&method, false, &columns, &shown, &groups),
            tally::with_invalid(counted, 2),
        );
    }

    /// Split mode: each candidate's column, its values as one-proposal choices, an
    /// invalid value `None` (a hidden proposal's column is not listed).
    #[test]
    fn columns_are_listed_value_by_value() {
        let columns = ids(3);
        let shown = candidates(&[columns[0], columns[2]]);
        let method = Method::YesNoAbstain {};
        let kind = ColumnKind::YesNoAbstain;
        let value = |v: u8| vec![sealed::encode_column(kind, v).expect("value")];
        let not_a_value = vec![sealed::encode_row(&[true; 9]).expect("row")[0]];
        let groups = vec![
            vec![value(1), value(0), not_a_value.clone()],
            vec![value(2), value(2), value(2)],
            vec![value(3), Vec::new(), value(2)],
        ];
        let answer = |id: EventId, a: Answer| Some(Choice::Answers([(id, a)].into()));
        let (a, c) = (columns[0], columns[2]);
        assert_eq!(
            opened_choices(&method, true, &columns, &shown, &groups),
            OpenedChoices::Columns(vec![
                (
                    a,
                    vec![
                        answer(a, Answer::Yes),
                        Some(Choice::Answers(BTreeMap::new())),
                        None
                    ]
                ),
                (
                    c,
                    vec![answer(c, Answer::Abstain), None, answer(c, Answer::No)]
                ),
            ])
        );
        let Tally::YesNoAbstain { n_invalid, .. } =
            tally_of_plaintexts(&method, true, &columns, &shown, &groups)
        else {
            panic!("a yes/no/abstain tally");
        };
        assert_eq!(n_invalid, 2);
    }
}
