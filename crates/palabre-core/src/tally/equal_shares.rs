//! The Method of Equal Shares with its Add1U completion, as [`super::BudgetRule`] describes
//! it: exact rational arithmetic, voters grouped in classes, and the horizon that lets the
//! completion skip endowments which cannot change the outcome.
//!
//! The instance and the greedy fill are `budget`'s; this file only chooses winners.

use std::cmp::{Ordering, Reverse};

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

use super::MAX_ADD1_RUNS;
use super::instance::PbInstance;

pub(super) fn rational(n: u64) -> BigRational {
    BigRational::from_integer(BigInt::from(n))
}

/// Method of Equal Shares with the Add1U completion (see [`BudgetRule`]).
pub(super) fn equal_shares(instance: &PbInstance) -> Vec<usize> {
    let n = instance.n_voters as u64;
    if n == 0 {
        return Vec::new();
    }
    let budget = u128::from(instance.budget);
    let eligible_total: u128 = (0..instance.costs.len())
        .filter_map(|c| instance.eligible_cost(c))
        .map(u128::from)
        .sum();
    let mut winners = if eligible_total <= budget {
        let endowment = BigRational::new(BigInt::from(instance.budget), BigInt::from(n));
        equal_shares_fixed(instance, &endowment).winners
    } else {
        let mut endowment = rational(instance.budget / n);
        let mut run = equal_shares_fixed(instance, &endowment);
        for _ in 1..MAX_ADD1_RUNS {
            if instance.is_exhaustive(&run.winners) {
                break;
            }
            // Every integer endowment below the horizon gives this same outcome, which
            // fits and is not exhaustive: stepping through them one by one would change
            // nothing, so go straight to the first one that might differ.
            let Some(horizon) = &run.horizon else {
                break;
            };
            let next = (&endowment + BigRational::one()).max(horizon.ceil());
            let next_run = equal_shares_fixed(instance, &next);
            if instance.total_cost(&next_run.winners) > budget {
                break;
            }
            endowment = next;
            run = next_run;
        }
        run.winners
    };
    instance.fill_greedily(&mut winners);
    winners
}

/// How far a run's outcome is known to stay the same, as the endowment E grows from the
/// run's own e. While a run takes the same decisions, every amount it computes is linear in
/// E; each decision rests on some difference `gap + rate · (E − e)` (scaled by a positive
/// factor) staying at least (or more than) zero, which it may stop doing where it reaches
/// zero when `rate` is negative. The horizon is the nearest such point: between e and it,
/// every decision, hence the outcome, is the same.
///
/// What the outcome rests on, round by round:
/// - the winner's payment: which of its approvers pay all they have and which pay the
///   equal share (each of these comparisons; money only grows with E and shares only
///   shrink, so only the first kind can actually change, the second is checked anyway);
/// - every other open project's ρ staying above the winner's (or equal, with a worse
///   tie-break). For a project that was not the winner, the ρ computed from its current
///   split (or from an earlier round, when it was not evaluated again) is enough: for any
///   set S of approvers made to pay all they have, (cost − their money) / (the others) is
///   at most the true equal share, so that ρ is a lower bound of the true one;
/// - the projects found unaffordable staying unaffordable.
#[derive(Debug)]
pub(super) struct Horizon {
    endowment: BigRational,
    /// The nearest meeting point so far, as a fraction num / den of a unit past e.
    nearest: Option<(BigInt, BigInt)>,
    /// The nearest point is at most one unit past e: the next run is the next unit
    /// anyway, so further decisions need not be examined.
    near: bool,
}

impl Horizon {
    pub(super) fn new(endowment: &BigRational) -> Self {
        Horizon {
            endowment: endowment.clone(),
            nearest: None,
            near: false,
        }
    }

    /// Records a decision resting on `gap + rate · (E − e)` ≥ 0 (or > 0), `gap` ≥ 0.
    fn rests_on(&mut self, gap: BigInt, rate: BigInt) {
        if self.near || !rate.is_negative() {
            return;
        }
        let closing = -rate;
        if gap <= closing {
            self.near = true;
        } else if self
            .nearest
            .as_ref()
            .is_none_or(|(num, den)| &gap * den < num * &closing)
        {
            self.nearest = Some((gap, closing));
        }
    }

    fn first(self) -> Option<BigRational> {
        if self.near {
            Some(self.endowment + BigRational::one())
        } else {
            let (num, den) = self.nearest?;
            Some(self.endowment + BigRational::new(num, den))
        }
    }
}

/// A linear amount `(at + slope · (E − e)) / den`, with den > 0, kept unreduced.
#[derive(Debug, Clone)]
struct Lin {
    at: BigInt,
    slope: BigInt,
    den: BigInt,
}

impl Lin {
    /// `self` ≥ `other` (or >) as a decision for the horizon: (gap, rate) of their
    /// difference, scaled by both denominators.
    fn over(&self, other: &Lin) -> (BigInt, BigInt) {
        (
            &self.at * &other.den - &other.at * &self.den,
            &self.slope * &other.den - &other.slope * &self.den,
        )
    }

    fn cmp_at(&self, other: &Lin) -> Ordering {
        (&self.at * &other.den).cmp(&(&other.at * &self.den))
    }
}

/// What the approvers of a project would pay: the equal share `(at + slope · (E − e)) /
/// (scale · left)`, where `scale` is the common denominator of the money of all voters
/// and `left` the number of approvers paying it (the others pay all they have).
#[derive(Debug)]
pub(super) struct Share {
    pub(super) at: BigInt,
    pub(super) slope: BigInt,
    pub(super) left: usize,
}

/// Voters grouped by the history of what they paid: voters who approve the same winners
/// hold the same money, and in practice there are far fewer such classes than voters, so
/// the arithmetic is done once per class. Money is kept as integer numerators over one
/// common denominator, `scale`, so adding and comparing amounts needs no reduction.
#[derive(Debug)]
pub(super) struct Classes {
    pub(super) scale: BigInt,
    /// Money of each class: `(at + slope · (E − e)) / scale`.
    at: Vec<BigInt>,
    slope: Vec<BigInt>,
    size: Vec<usize>,
    class_of: Vec<usize>,
    // Scratch space, all zero / NO_CLASS / false / empty between calls.
    count: Vec<usize>,
    remap: Vec<usize>,
    constrained: Vec<bool>,
    touched: Vec<usize>,
}

const NO_CLASS: usize = usize::MAX;

impl Classes {
    pub(super) fn new(n_voters: usize, endowment: &BigRational) -> Self {
        Classes {
            scale: endowment.denom().clone(),
            at: vec![endowment.numer().clone()],
            slope: vec![endowment.denom().clone()],
            size: vec![n_voters],
            class_of: vec![0; n_voters],
            count: vec![0],
            remap: vec![NO_CLASS],
            constrained: vec![false],
            touched: Vec::new(),
        }
    }

    /// Counts `voters` per class into `count` and lists their classes in `touched`.
    fn gather(&mut self, voters: &[usize]) {
        for &v in voters {
            let k = self.class_of[v];
            if self.count[k] == 0 {
                self.touched.push(k);
            }
            self.count[k] += 1;
        }
    }

    fn clear(&mut self) {
        for &k in &self.touched {
            self.count[k] = 0;
            self.remap[k] = NO_CLASS;
            self.constrained[k] = false;
        }
        self.touched.clear();
    }

    /// Whether class `k` holds less than `share`.
    fn below(&self, k: usize, share_at: &BigInt, left: usize) -> bool {
        &self.at[k] * BigInt::from(left) < *share_at
    }

    /// The share when `voters` split `cost` as equally as their money allows (those who
    /// cannot pay an equal share pay all they have, the others the same amount, as small
    /// as possible), or `None` if together they hold less than `cost`.
    pub(super) fn max_payment(
        &mut self,
        voters: &[usize],
        cost: u64,
        horizon: &mut Horizon,
    ) -> Option<Share> {
        self.gather(voters);
        let cost = BigInt::from(cost) * &self.scale;
        // Water-filling: the equal share only grows as classes that cannot pay it drop
        // out, so those found below it stay below it. If the voters hold enough money
        // together, some always remain; otherwise all drop out.
        let (mut paid_at, mut paid_slope) = (BigInt::zero(), BigInt::zero());
        let mut left = voters.len();
        let mut share = None;
        while left > 0 {
            let (share_at, share_left) = (&cost - &paid_at, left);
            let mut dropped_out = false;
            for i in 0..self.touched.len() {
                let k = self.touched[i];
                if !self.constrained[k] && self.below(k, &share_at, share_left) {
                    self.constrained[k] = true;
                    let count = BigInt::from(self.count[k]);
                    paid_at += &self.at[k] * &count;
                    paid_slope += &self.slope[k] * &count;
                    left -= self.count[k];
                    dropped_out = true;
                }
            }
            if !dropped_out {
                share = Some(Share {
                    at: share_at,
                    slope: -paid_slope.clone(),
                    left,
                });
                break;
            }
        }
        if share.is_none() {
            // They hold `paid` in all, less than the cost.
            horizon.rests_on(cost - paid_at, -paid_slope);
        }
        self.clear();
        share
    }

    /// Each of `voters` pays `share`, or all it has if it has less.
    pub(super) fn pay(&mut self, voters: &[usize], share: &Share, horizon: &mut Horizon) {
        // Money is re-expressed over the new common denominator scale · left.
        let left = BigInt::from(share.left);
        self.scale *= &left;
        for k in 0..self.at.len() {
            if self.size[k] > 0 {
                self.at[k] *= &left;
                self.slope[k] *= &left;
            }
        }
        self.gather(voters);
        for i in 0..self.touched.len() {
            let k = self.touched[i];
            let (at, slope) = if self.at[k] < share.at {
                horizon.rests_on(&share.at - &self.at[k], &share.slope - &self.slope[k]);
                (BigInt::zero(), BigInt::zero())
            } else {
                let rest = (&self.at[k] - &share.at, &self.slope[k] - &share.slope);
                horizon.rests_on(rest.0.clone(), rest.1.clone());
                rest
            };
            if self.count[k] == self.size[k] {
                self.at[k] = at;
                self.slope[k] = slope;
                self.remap[k] = k;
            } else {
                self.at.push(at);
                self.slope.push(slope);
                self.size.push(self.count[k]);
                self.count.push(0);
                self.remap.push(NO_CLASS);
                self.constrained.push(false);
                self.size[k] -= self.count[k];
                self.remap[k] = self.at.len() - 1;
            }
        }
        for &v in voters {
            self.class_of[v] = self.remap[self.class_of[v]];
        }
        self.clear();
    }
}

/// The outcome of one run of the Method of Equal Shares without completion.
#[derive(Debug)]
pub(super) struct Run {
    /// The selected candidates, in selection order.
    pub(super) winners: Vec<usize>,
    /// Every endowment from the run's up to (excluding) this one gives the same winners;
    /// `None`: every larger endowment does.
    horizon: Option<BigRational>,
}

/// One run of the Method of Equal Shares without completion, each voter starting with
/// `endowment`.
pub(super) fn equal_shares_fixed(instance: &PbInstance, endowment: &BigRational) -> Run {
    struct Open {
        candidate: usize,
        cost: u64,
        /// ρ at its last evaluation: a lower bound of its current ρ, since money only
        /// decreases.
        rho: Lin,
    }

    let mut horizon = Horizon::new(endowment);
    let mut classes = Classes::new(instance.n_voters, endowment);
    let mut open: Vec<Open> = (0..instance.costs.len())
        .filter_map(|c| {
            let cost = instance.eligible_cost(c).filter(|&cost| cost > 0)?;
            Some(Open {
                candidate: c,
                cost,
                rho: Lin {
                    at: BigInt::one(),
                    slope: BigInt::zero(),
                    den: BigInt::from(instance.approvals(c)),
                },
            })
        })
        .collect();
    let mut winners = Vec::new();
    // After ρ: cheaper first, then more approvals, then lower id.
    let key = |open: &Open| {
        (
            open.cost,
            Reverse(instance.approvals(open.candidate)),
            open.candidate,
        )
    };
    loop {
        open.sort_by(|a, b| a.rho.cmp_at(&b.rho));
        let mut best: Option<(usize, Share)> = None;
        let mut gone = Vec::new();
        for slot in 0..open.len() {
            if let Some((best_slot, _)) = &best
                && open[slot].rho.cmp_at(&open[*best_slot].rho).is_gt()
            {
                break;
            }
            let voters = &instance.approvers[open[slot].candidate];
            let Some(share) = classes.max_payment(voters, open[slot].cost, &mut horizon) else {
                gone.push(slot);
                continue;
            };
            // ρ = share / cost.
            open[slot].rho = Lin {
                at: share.at.clone(),
                slope: share.slope.clone(),
                den: &classes.scale * BigInt::from(share.left) * BigInt::from(open[slot].cost),
            };
            let better = match &best {
                None => true,
                Some((best_slot, _)) => open[slot]
                    .rho
                    .cmp_at(&open[*best_slot].rho)
                    .then_with(|| key(&open[slot]).cmp(&key(&open[*best_slot])))
                    .is_lt(),
            };
            if better {
                best = Some((slot, share));
            }
        }
        let Some((best_slot, share)) = best else {
            break;
        };
        // The choice rests on every other open project having a larger ρ (or the same
        // and a worse tie-break); see `Horizon`.
        for slot in 0..open.len() {
            if slot != best_slot && !gone.contains(&slot) && !horizon.near {
                let (gap, rate) = open[slot].rho.over(&open[best_slot].rho);
                horizon.rests_on(gap, rate);
            }
        }
        let chosen = open[best_slot].candidate;
        classes.pay(&instance.approvers[chosen], &share, &mut horizon);
        winners.push(chosen);
        gone.push(best_slot);
        gone.sort_unstable();
        for slot in gone.into_iter().rev() {
            open.swap_remove(slot);
        }
    }
    Run {
        winners,
        horizon: horizon.first(),
    }
}
