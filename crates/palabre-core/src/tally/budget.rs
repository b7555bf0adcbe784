//! Participatory budgets: the instance the rules see ([`PbInstance`]), the `greedy` rule
//! and the budget tally; the Method of Equal Shares is in `equal_shares`.
//!
//! Ballot validation and the selection of counted ballots are left to others.

use std::cmp::Reverse;

use super::equal_shares::equal_shares;
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

/// A participatory budget as the rules see it: candidates by position in id order.
#[derive(Debug)]
pub(super) struct PbInstance {
    pub(super) n_voters: usize,
    pub(super) budget: u64,
    pub(super) costs: Vec<Option<u64>>,
    /// For each candidate, the positions of the voters approving it.
    pub(super) approvers: Vec<Vec<usize>>,
}

impl PbInstance {
    pub(super) fn approvals(&self, c: usize) -> u64 {
        self.approvers[c].len() as u64
    }

    /// The cost of `c` if it may be funded at all: it has a cost within the budget and at
    /// least one approval.
    pub(super) fn eligible_cost(&self, c: usize) -> Option<u64> {
        self.costs[c].filter(|&cost| cost <= self.budget && !self.approvers[c].is_empty())
    }

    pub(super) fn cost(&self, c: usize) -> u64 {
        self.costs[c].unwrap_or(0)
    }

    pub(super) fn total_cost(&self, set: &[usize]) -> u128 {
        set.iter().map(|&c| u128::from(self.cost(c))).sum()
    }

    /// Eligible candidates in the greedy order: approvals (more first), cost (cheaper
    /// first), id (lower first).
    pub(super) fn greedy_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.costs.len())
            .filter(|&c| self.eligible_cost(c).is_some())
            .collect();
        order.sort_by_key(|&c| (Reverse(self.approvals(c)), self.cost(c), c));
        order
    }

    /// Adds, in the greedy order, every eligible candidate not yet in `winners` that still
    /// fits in the budget.
    pub(super) fn fill_greedily(&self, winners: &mut Vec<usize>) {
        let mut chosen = vec![false; self.costs.len()];
        for &w in winners.iter() {
            chosen[w] = true;
        }
        let mut spent = self.total_cost(winners);
        for c in self.greedy_order() {
            let cost = u128::from(self.cost(c));
            if !chosen[c] && spent + cost <= u128::from(self.budget) {
                chosen[c] = true;
                spent += cost;
                winners.push(c);
            }
        }
    }

    /// Whether no eligible candidate of positive cost outside `winners` would still fit.
    pub(super) fn is_exhaustive(&self, winners: &[usize]) -> bool {
        let spent = self.total_cost(winners);
        (0..self.costs.len()).all(|c| match self.eligible_cost(c) {
            Some(cost) if cost > 0 && !winners.contains(&c) => {
                spent + u128::from(cost) > u128::from(self.budget)
            }
            _ => true,
        })
    }
}

/// Greedy with skip (see [`BudgetRule`]).
pub(super) fn greedy(instance: &PbInstance) -> Vec<usize> {
    let mut winners = Vec::new();
    instance.fill_greedily(&mut winners);
    winners
}
