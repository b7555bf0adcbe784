//! The approval method: proposals ranked by approvals, ties by lower id first.
//!
//! Ballot validation (including `max_choices`) and the selection of counted ballots are
//! left to others.

use std::cmp::Reverse;

use super::{ApprovalRow, Tally, Valid};

/// Counts the approvals of each candidate and ranks them.
pub(super) fn tally(valid: &Valid) -> Tally {
    let ids = &valid.ids;
    let counts = valid.count_approvals();
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| (Reverse(counts[i]), i));
    let rows = ids
        .iter()
        .zip(&counts)
        .map(|(id, &approvals)| ApprovalRow {
            proposal: *id,
            approvals,
        })
        .collect();
    Tally::Approval {
        n_ballots: valid.n_ballots,
        n_invalid: valid.n_invalid,
        assisted: Vec::new(),
        rows,
        ranking: order.into_iter().map(|i| ids[i]).collect(),
    }
}
