//! Participatory budgets: the `greedy` rule and the budget tally; the instance the rules
//! see is [`PbInstance`], and the Method of Equal Shares is in `equal_shares`.
//!
//! Ballot validation and the selection of counted ballots are left to others.

use super::equal_shares::equal_shares;
use super::instance::PbInstance;
use super::{BudgetRow, BudgetRule, Tally, Valid};

/// Funds candidates by `rule` within `budget`.
pub(super) fn tally(valid: &Valid, budget: u64, rule: BudgetRule) -> Tally {
    let ids = &valid.ids;
    let mut approvers = vec![Vec::new(); ids.len()];
    for (voter, choice) in valid.ballots.iter().enumerate() {
        for c in valid.approvals_of(choice) {
            approvers[c].push(voter);
        }
    }
    let instance = PbInstance {
        n_voters: valid.ballots.len(),
        budget,
        costs: valid.candidates.iter().map(|c| c.cost).collect(),
        approvers,
    };
    let winners = match rule {
        BudgetRule::Greedy => greedy(&instance),
        BudgetRule::EqualShares => equal_shares(&instance),
    };
    let spent = instance.total_cost(&winners);
    let mut funded = vec![false; ids.len()];
    for &w in &winners {
        funded[w] = true;
    }
    let rows = (0..ids.len())
        .map(|i| BudgetRow {
            proposal: ids[i],
            cost: valid.candidates[i].cost,
            approvals: instance.approvals(i),
            funded: funded[i],
        })
        .collect();
    Tally::Budget {
        n_ballots: valid.n_ballots,
        n_invalid: valid.n_invalid,
        assisted: Vec::new(),
        rule,
        budget,
        spent: u64::try_from(spent).expect("winners are chosen to fit in the budget"),
        rows,
        winners: winners.into_iter().map(|w| ids[w]).collect(),
    }
}

/// Greedy with skip (see [`BudgetRule`]).
pub(super) fn greedy(instance: &PbInstance) -> Vec<usize> {
    let mut winners = Vec::new();
    instance.fill_greedily(&mut winners);
    winners
}
