//! The support method: a proposal qualifies with at least `threshold` supports.
//!
//! Ballot validation and the selection of counted ballots are left to others.

use super::{SupportRow, Tally, Valid};

/// Counts the supports of each candidate.
pub(super) fn tally(valid: &Valid, threshold: u64) -> Tally {
    let counts = valid.count_approvals();
    let rows = valid
        .ids
        .iter()
        .zip(&counts)
        .map(|(id, &supports)| SupportRow {
            proposal: *id,
            supports,
            qualified: supports >= threshold,
        })
        .collect();
    Tally::Support {
        n_ballots: valid.n_ballots,
        n_invalid: valid.n_invalid,
        assisted: Vec::new(),
        threshold,
        rows,
    }
}
