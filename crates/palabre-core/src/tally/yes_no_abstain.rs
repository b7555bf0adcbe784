//! The yes/no/abstain method: a proposal is adopted when yes > no.
//!
//! Ballot validation and the selection of counted ballots are left to others.

use super::{Answer, Choice, Tally, Valid, YesNoAbstainRow};

/// Counts the answers given to each candidate.
pub(super) fn tally(valid: &Valid) -> Tally {
    let mut counts = vec![(0u64, 0u64, 0u64); valid.ids.len()];
    for choice in &valid.ballots {
        if let Choice::Answers(answers) = choice {
            for (id, answer) in answers {
                if let Some(i) = valid.index_of(id) {
                    let (yes, no, abstain) = &mut counts[i];
                    match answer {
                        Answer::Yes => *yes += 1,
                        Answer::No => *no += 1,
                        Answer::Abstain => *abstain += 1,
                    }
                }
            }
        }
    }
    let rows = valid
        .ids
        .iter()
        .zip(counts)
        .map(|(id, (yes, no, abstain))| YesNoAbstainRow {
            proposal: *id,
            yes,
            no,
            abstain,
            adopted: yes > no,
        })
        .collect();
    Tally::YesNoAbstain {
        n_ballots: valid.n_ballots,
        n_invalid: valid.n_invalid,
        assisted: Vec::new(),
        rows,
    }
}
