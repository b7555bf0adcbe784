//! Ballot methods and tallies: what a consultation's method is, which ballot contents it
//! accepts, and the pure, deterministic function from counted ballots to a [`Tally`].
//!
//! This file deliberately leaves to others everything that decides *which* ballots count:
//! signatures, credentials, revocations, voting windows and "the latest ballot of a voter
//! wins" are settled before [`tally`] is called, which receives exactly one content per
//! counted voter. It knows nothing of events, storage or time. Every number in a
//! [`Tally`] is an integer (signed content allows no floats); the Method of Equal Shares
//! computes with exact rationals internally and only reports integers.
//!
//! A tally never depends on the order of the ballots or of the candidates, and every tie
//! is broken by a documented rule ending with "lower proposal id first", so every node and
//! every auditor computes the same result from the same record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::crypto::PublicKey;
use crate::ids::EventId;

mod approval;
mod budget;
mod columns;
mod equal_shares;
mod instance;
mod majority_judgment;
mod support;
#[cfg(test)]
mod tests;
mod validate;
mod yes_no_abstain;

pub use columns::{choice_of_values, tally_from_columns, with_invalid};
pub use validate::{ChoiceError, validate_choice, validate_method};

/// Most proposals one ballot may name (approve list, answers or grades), and the largest
/// `max_choices` of an approval method.
pub const MAX_CHOICE_ENTRIES: usize = crate::limits::MAX_BALLOT_ENTRIES;
/// Fewest grades of a majority judgment.
pub const MIN_GRADES: usize = 2;
/// Most grades of a majority judgment.
pub const MAX_GRADES: usize = 7;
/// Longest grade label, in characters (Unicode scalar values).
pub const MAX_GRADE_LABEL_CHARS: usize = 40;
/// Most runs of the Method of Equal Shares in its "Add1" completion (see [`BudgetRule`]).
/// When the bound is reached, the last outcome that fitted the budget is kept and the
/// greedy fill follows, as if the next step had overspent. Runs skip the endowments that
/// cannot change the outcome: a consultation of a few thousand voters approving about ten
/// of a hundred projects needs a few hundred runs (well under a second in all); a thousand
/// voters approving twenty projects each needed about 1 600.
pub const MAX_ADD1_RUNS: u64 = 10_000;

/// How a consultation's ballots are expressed and counted. Part of the signed protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Method {
    /// Residents support any number of proposals; a proposal qualifies with at least
    /// `threshold` supports.
    Support {
        /// Fewest supports a proposal needs to qualify (at least 1).
        threshold: u64,
    },
    /// For each proposal: yes, no or abstain; a proposal is adopted when yes > no.
    YesNoAbstain {},
    /// Approve up to `max_choices` proposals; proposals are ranked by approvals.
    Approval {
        /// Most proposals one ballot may approve (1 to [`MAX_CHOICE_ENTRIES`]).
        max_choices: u32,
    },
    /// Participatory budget with approval ballots: each proposal has an integer cost (in
    /// currency units, e.g. euros) and the funded ones must fit in `budget`.
    Budget {
        /// The money available, in whole currency units (at least 1).
        budget: u64,
        /// Which rule picks the funded proposals.
        rule: BudgetRule,
    },
    /// Majority judgment; `grades` are the labels from the worst (index 0) to the best.
    MajorityJudgment {
        /// The grade labels, worst first: 2 to 7, each one line of at most 40 characters.
        grades: Vec<String>,
    },
}

/// Which projects a participatory budget funds. Both rules fund only projects that have a
/// cost no larger than the budget and at least one approval.
///
/// ## `greedy`
/// The rule most cities use (and pabulib's "greedy"): projects are taken by approvals
/// (more first), then cost (cheaper first), then id (lower first); a project that no
/// longer fits in what is left is skipped and the next ones are still tried.
///
/// ## `equal_shares`
/// The Method of Equal Shares (Peters & Skowron 2020, "Proportionality and the limits of
/// welfarism", EC'20; Peters, Pierczyński & Skowron 2021, "Proportional participatory
/// budgeting with additive utilities", NeurIPS'21), in the variant that
/// <https://equalshares.net> recommends for approval ballots and that its compute tool
/// (github.com/equalshares/equalshares-compute-tool, `js/methodOfEqualSharesWorker.js`)
/// runs by default:
///
/// - **Utilities: cost utilities.** A voter's utility for an approved project is its
///   cost (equalshares.net, "Computation" → "Comparison to academic literature"; pabutools
///   `Cost_Sat`). Each round selects the affordable project whose cost can be split among
///   its approvers with the smallest per-unit payment ρ = (largest payment) / cost, i.e.
///   the largest "effective vote count" cost / (largest payment); each approver pays
///   min(remaining money, ρ · cost). Projects whose approvers together hold less than
///   the cost are dropped. All arithmetic is exact: amounts are integer numerators over
///   a common denominator, never rounded.
/// - **Ties** (equal ρ), as equalshares.net recommends ("Tie breaking"): lower cost first,
///   then more approvals, then — instead of a lot — lower id.
/// - **Voters**: every counted ballot is a voter and gets an equal share, including a
///   blank one (an empty approve list).
/// - **Completion: "Add1U"** with the compute tool's default options "exhaustive" and
///   "integral" (equalshares.net, "Completion" → "Recommended completion method"; the tool's
///   `equalSharesAdd1` and `utilitarianCompletion`; pabutools' `voter_budget_increment=1`).
///   Each voter starts with ⌊budget / n⌋; while the outcome is not exhaustive (some
///   unfunded eligible project of positive cost would still fit), the method is run again
///   with one more currency unit per voter, and the new outcome is kept if it fits the
///   real budget; otherwise the previous one is kept and stepping stops. If all eligible
///   projects fit together there is no stepping: the method runs once with budget / n
///   each, as the tool does. Finally, the money left is filled greedily in the `greedy`
///   order above (the tool's "utilitarian completion").
///
///   Stepping one unit at a time may take thousands of runs, so each run also works out
///   how far its decisions hold: while they stay the same, every amount it computes is
///   linear in the endowment, so each comparison it relied on holds up to a point that
///   can be computed. The next run starts at the first integer endowment that reaches the
///   nearest such point; the endowments skipped would all have given the same outcome, so
///   the result is exactly that of stepping one unit at a time. At most
///   [`MAX_ADD1_RUNS`] runs are made.
///
/// Differences from the tool, all about inputs it does not expect: projects without
/// approvals or costing more than the budget are never considered (the tool may fund a
/// project nobody approved in its completion), projects of cost 0 are left to the greedy
/// fill, and ties the tool would stop on are broken by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetRule {
    /// `"greedy"`: by approvals, then cost, then id, skipping what no longer fits.
    Greedy,
    /// `"equal_shares"`: the Method of Equal Shares with the "Add1U" completion.
    EqualShares,
}

/// What one ballot says. Part of the signed protocol; externally tagged:
/// `{"approve":[ids]}`, `{"answers":{id:"yes"}}`, `{"grades":{id:2}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Choice {
    /// For support, approval and budget methods: the approved proposals, ids strictly
    /// ascending. An empty list is a valid blank ballot.
    Approve(Vec<EventId>),
    /// For yes/no/abstain: proposals not listed are not counted for that proposal.
    Answers(BTreeMap<EventId, Answer>),
    /// For majority judgment: grade indices (0 = worst). A proposal not graded counts as
    /// the worst grade, the usual majority-judgment convention.
    Grades(BTreeMap<EventId, u32>),
}

/// One answer of a yes/no/abstain ballot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// For the proposal.
    Yes,
    /// Against the proposal.
    No,
    /// Neither: counted in `abstain`, not in the adoption test.
    Abstain,
}

/// A proposal taking part in a consultation, as the tally needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The proposal's event id.
    pub id: EventId,
    /// Its cost; `Some` exactly for budget methods.
    pub cost: Option<u64>,
}

/// How many of the counted ballots one desk agent countersigned (assisted ballots, cast in
/// person). Public, and part of the signed result: a town can see how much each desk was
/// used, and an auditor recounts it like the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assisted {
    /// The desk agent's key.
    pub agent: PublicKey,
    /// How many counted ballots it countersigned (never 0: such agents are left out).
    pub ballots: u64,
}

impl Tally {
    /// The same tally, reporting `assisted` (ascending by agent; agents with no counted
    /// ballot are left out). The tally's other numbers do not depend on it.
    pub fn with_assisted(mut self, counts: impl IntoIterator<Item = (PublicKey, u64)>) -> Tally {
        let mut list: Vec<Assisted> = counts
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(agent, ballots)| Assisted { agent, ballots })
            .collect();
        list.sort_by_key(|a| a.agent);
        match &mut self {
            Tally::Support { assisted, .. }
            | Tally::YesNoAbstain { assisted, .. }
            | Tally::Approval { assisted, .. }
            | Tally::Budget { assisted, .. }
            | Tally::MajorityJudgment { assisted, .. } => *assisted = list,
        }
        self
    }

    /// The desk agents' counts of counted assisted ballots.
    pub fn assisted(&self) -> &[Assisted] {
        match self {
            Tally::Support { assisted, .. }
            | Tally::YesNoAbstain { assisted, .. }
            | Tally::Approval { assisted, .. }
            | Tally::Budget { assisted, .. }
            | Tally::MajorityJudgment { assisted, .. } => assisted,
        }
    }
}

/// The result of a consultation. Rows are sorted by proposal id and list every candidate.
/// `n_ballots` counts the ballots that were counted (blank ones included), `n_invalid`
/// those ignored because they did not validate against the method and candidates (callers
/// pass only valid ones; this is a defence, not a feature).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Tally {
    /// The tally of [`Method::Support`].
    Support {
        /// Ballots counted, blank ones included.
        n_ballots: u64,
        /// Ballots ignored because they did not fit the method (a defence; normally 0).
        n_invalid: u64,
        /// Counted ballots cast with a desk agent's help, per agent (see [`Assisted`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        assisted: Vec<Assisted>,
        /// The method's threshold, copied so the tally reads on its own.
        threshold: u64,
        /// One row per candidate, ascending by proposal id.
        rows: Vec<SupportRow>,
    },
    /// The tally of [`Method::YesNoAbstain`].
    YesNoAbstain {
        /// Ballots counted, blank ones included.
        n_ballots: u64,
        /// Ballots ignored because they did not fit the method (a defence; normally 0).
        n_invalid: u64,
        /// Counted ballots cast with a desk agent's help, per agent (see [`Assisted`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        assisted: Vec<Assisted>,
        /// One row per candidate, ascending by proposal id.
        rows: Vec<YesNoAbstainRow>,
    },
    /// The tally of [`Method::Approval`].
    Approval {
        /// Ballots counted, blank ones included.
        n_ballots: u64,
        /// Ballots ignored because they did not fit the method (a defence; normally 0).
        n_invalid: u64,
        /// Counted ballots cast with a desk agent's help, per agent (see [`Assisted`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        assisted: Vec<Assisted>,
        /// One row per candidate, ascending by proposal id.
        rows: Vec<ApprovalRow>,
        /// Every proposal, by approvals (more first), ties by lower id first.
        ranking: Vec<EventId>,
    },
    /// The tally of [`Method::Budget`].
    Budget {
        /// Ballots counted, blank ones included.
        n_ballots: u64,
        /// Ballots ignored because they did not fit the method (a defence; normally 0).
        n_invalid: u64,
        /// Counted ballots cast with a desk agent's help, per agent (see [`Assisted`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        assisted: Vec<Assisted>,
        /// The rule that chose the funded proposals.
        rule: BudgetRule,
        /// The money available, in whole currency units.
        budget: u64,
        /// Sum of the costs of the funded proposals; never more than `budget`.
        spent: u64,
        /// One row per candidate, ascending by proposal id.
        rows: Vec<BudgetRow>,
        /// The funded proposals in the order the rule selected them (see [`BudgetRule`]).
        winners: Vec<EventId>,
    },
    /// The tally of [`Method::MajorityJudgment`].
    MajorityJudgment {
        /// Ballots counted, blank ones included.
        n_ballots: u64,
        /// Ballots ignored because they did not fit the method (a defence; normally 0).
        n_invalid: u64,
        /// Counted ballots cast with a desk agent's help, per agent (see [`Assisted`]).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        assisted: Vec<Assisted>,
        /// One row per candidate, ascending by proposal id.
        rows: Vec<MajorityJudgmentRow>,
        /// Every proposal, best first, by majority value (see [`tally`]), ties (identical
        /// profiles) by lower id first.
        ranking: Vec<EventId>,
    },
}

/// One proposal's line in a support tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportRow {
    /// The proposal's id.
    pub proposal: EventId,
    /// How many counted ballots support it.
    pub supports: u64,
    /// `supports >= threshold`.
    pub qualified: bool,
}

/// One proposal's line in a yes/no/abstain tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YesNoAbstainRow {
    /// The proposal's id.
    pub proposal: EventId,
    /// Counted ballots answering yes.
    pub yes: u64,
    /// Counted ballots answering no.
    pub no: u64,
    /// Counted ballots answering abstain (ballots not answering are in none).
    pub abstain: u64,
    /// `yes > no`.
    pub adopted: bool,
}

/// One proposal's line in an approval tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRow {
    /// The proposal's id.
    pub proposal: EventId,
    /// How many counted ballots approve it.
    pub approvals: u64,
}

/// One proposal's line in a budget tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetRow {
    /// The proposal's id.
    pub proposal: EventId,
    /// Absent when the proposal has no cost (it is then never funded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u64>,
    /// How many counted ballots approve it.
    pub approvals: u64,
    /// Whether the rule funds it (the order is in the tally's `winners`).
    pub funded: bool,
}

/// One proposal's line in a majority-judgment tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MajorityJudgmentRow {
    /// The proposal's id.
    pub proposal: EventId,
    /// Number of ballots giving each grade, worst to best (ungraded counts as worst).
    pub profile: Vec<u64>,
    /// The majority grade: the lower median (0 when there are no ballots).
    pub median_grade: u32,
}

/// Counts `ballots` (one content per counted voter, selected elsewhere) for `method`.
///
/// Candidates are sorted by id internally; a repeated id is kept once, with its smallest
/// cost (no cost counting as smallest). Ballots that do not validate (see
/// [`validate_choice`]; all of them if the method itself is invalid) are ignored and
/// counted in `n_invalid`. The result depends neither on the order of `ballots` nor on
/// the order of `candidates`.
///
/// Rules and tie-breaks per method:
/// - **support**: `qualified` when supports ≥ threshold.
/// - **yes/no/abstain**: `adopted` when yes > no.
/// - **approval**: ranking by approvals, ties by lower id first.
/// - **budget**: see [`BudgetRule`].
/// - **majority judgment** (Balinski & Laraki, "A theory of measuring, electing, and
///   ranking", PNAS 104(21), 2007; "Majority Judgment", MIT Press, 2011): the majority
///   grade is the lower median (with an even number of ballots, the lower of the two
///   middle grades). Candidates are ranked by their majority values: the sequence of
///   majority grades obtained by repeatedly removing one majority grade from the profile,
///   compared lexicographically, higher first; this is the same as repeatedly removing
///   one median grade from each tied candidate and comparing the new majority grades.
///   Candidates with equal majority values have identical profiles and are ordered by
///   lower id first.
pub fn tally<'a>(
    method: &Method,
    candidates: &[Candidate],
    ballots: impl IntoIterator<Item = &'a Choice>,
) -> Tally {
    let valid = Valid::select(method, candidates, ballots);
    match method {
        Method::Support { threshold } => support::tally(&valid, *threshold),
        Method::YesNoAbstain {} => yes_no_abstain::tally(&valid),
        Method::Approval { .. } => approval::tally(&valid),
        Method::Budget { budget, rule } => budget::tally(&valid, *budget, *rule),
        Method::MajorityJudgment { grades } => majority_judgment::tally(&valid, grades.len()),
    }
}

/// What every method counts from: the candidates sorted by id (each id once, with its
/// smallest cost) and the ballots that validate, with the numbers of ballots counted and
/// ignored.
struct Valid<'a> {
    candidates: Vec<Candidate>,
    /// The candidates' ids, in the same order (ascending).
    ids: Vec<EventId>,
    ballots: Vec<&'a Choice>,
    n_ballots: u64,
    n_invalid: u64,
}

impl<'a> Valid<'a> {
    fn select(
        method: &Method,
        candidates: &[Candidate],
        ballots: impl IntoIterator<Item = &'a Choice>,
    ) -> Self {
        let mut sorted = candidates.to_vec();
        sorted.sort_by(|a, b| a.id.cmp(&b.id).then(a.cost.cmp(&b.cost)));
        sorted.dedup_by(|later, first| later.id == first.id);
        let ids: Vec<EventId> = sorted.iter().map(|c| c.id).collect();
        let method_is_valid = validate_method(method).is_ok();

        let mut valid = Valid {
            candidates: sorted,
            ids,
            ballots: Vec::new(),
            n_ballots: 0,
            n_invalid: 0,
        };
        for choice in ballots {
            let ok = method_is_valid
                && validate_choice(method, |id| valid.index_of(id).is_some(), choice).is_ok();
            if ok {
                valid.n_ballots += 1;
                valid.ballots.push(choice);
            } else {
                valid.n_invalid += 1;
            }
        }
        valid
    }

    /// The position of a candidate among the sorted candidates.
    fn index_of(&self, id: &EventId) -> Option<usize> {
        self.ids.binary_search(id).ok()
    }

    /// Positions of the approved candidates of an approve ballot (none for other kinds).
    fn approvals_of(&self, choice: &Choice) -> Vec<usize> {
        match choice {
            Choice::Approve(list) => list.iter().filter_map(|id| self.index_of(id)).collect(),
            _ => Vec::new(),
        }
    }

    /// The number of approvals of each candidate.
    fn count_approvals(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.ids.len()];
        for choice in &self.ballots {
            for c in self.approvals_of(choice) {
                counts[c] += 1;
            }
        }
        counts
    }
}
