//! A participatory budget as its rules see it (`greedy` in `budget`, the Method of Equal
//! Shares in `equal_shares`): candidates by position in id order, and who approves each.

use std::cmp::Reverse;

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
