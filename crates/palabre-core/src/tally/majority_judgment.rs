//! Majority judgment: grade profiles, the majority grade (lower median) and the comparison
//! of majority values that ranks the candidates (see [`super::tally`] for the rule).
//!
//! Ballot validation and the selection of counted ballots are left to others.

use std::cmp::Ordering;

use super::{Choice, MajorityJudgmentRow, Tally, Valid};

/// Builds each candidate's grade profile (ungraded counts as the worst grade) and ranks
/// the candidates by majority value, ties by lower id first.
pub(super) fn tally(valid: &Valid, n_grades: usize) -> Tally {
    let ids = &valid.ids;
    let mut profiles = vec![vec![0u64; n_grades]; ids.len()];
    let mut n_graded = vec![0u64; ids.len()];
    for choice in &valid.ballots {
        if let Choice::Grades(given) = choice {
            for (id, grade) in given {
                if let (Some(i), Some(g)) = (
                    valid.index_of(id),
                    usize::try_from(*grade).ok().filter(|&g| g < n_grades),
                ) {
                    profiles[i][g] += 1;
                    n_graded[i] += 1;
                }
            }
        }
    }
    for (profile, graded) in profiles.iter_mut().zip(&n_graded) {
        if let Some(worst) = profile.first_mut() {
            *worst += valid.n_ballots - graded;
        }
    }
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| compare_majority_values(&profiles[b], &profiles[a]).then(a.cmp(&b)));
    let ranking = order.into_iter().map(|i| ids[i]).collect();
    let rows = ids
        .iter()
        .zip(profiles)
        .map(|(id, profile)| MajorityJudgmentRow {
            proposal: *id,
            median_grade: majority_grade(&profile),
            profile,
        })
        .collect();
    Tally::MajorityJudgment {
        n_ballots: valid.n_ballots,
        n_invalid: valid.n_invalid,
        assisted: Vec::new(),
        rows,
        ranking,
    }
}

/// A grade profile (count per grade, worst first) seen as the ascending sorted list of
/// its grades.
struct SortedGrades<'a> {
    counts: &'a [u64],
    len: u64,
}

impl<'a> SortedGrades<'a> {
    fn new(counts: &'a [u64]) -> Self {
        SortedGrades {
            counts,
            len: counts.iter().sum(),
        }
    }

    /// The grade at `pos` (< len) and the half-open range of positions holding it.
    fn at(&self, pos: u64) -> (u32, u64, u64) {
        let mut start = 0u64;
        for (grade, &count) in self.counts.iter().enumerate() {
            if pos < start + count {
                let grade = u32::try_from(grade).expect("at most MAX_GRADES grades");
                return (grade, start, start + count);
            }
            start += count;
        }
        unreachable!("position {pos} is outside a profile of {} grades", self.len)
    }
}

/// The lower median of a profile; 0 for an empty profile.
pub(super) fn majority_grade(profile: &[u64]) -> u32 {
    let grades = SortedGrades::new(profile);
    if grades.len == 0 {
        return 0;
    }
    grades.at((grades.len - 1) / 2).0
}

/// Compares the majority values of two profiles with the same number of grades in total
/// (`Greater`: `a` is better).
///
/// Removing the lower median one grade at a time visits the positions of the sorted list
/// in an order that depends only on its length n: first m = ⌊(n−1)/2⌋, then alternately
/// the next position above and below (above first when n is even, below first when n is
/// odd). So the majority value interleaves the grades below m (read downwards) and above m
/// (read upwards). Each side is monotone, with at most one run per grade, so the first
/// difference on each side is found by jumping from run to run.
pub(super) fn compare_majority_values(a: &[u64], b: &[u64]) -> Ordering {
    let (a, b) = (SortedGrades::new(a), SortedGrades::new(b));
    if a.len != b.len {
        // Cannot happen in a tally (every profile sums to n_ballots); keep it total.
        return a.len.cmp(&b.len);
    }
    let n = a.len;
    if n == 0 {
        return Ordering::Equal;
    }
    let m = (n - 1) / 2;
    let (ga, gb) = (a.at(m).0, b.at(m).0);
    if ga != gb {
        return ga.cmp(&gb);
    }
    // First difference below m, as (position, grade of a, grade of b).
    let mut below = None;
    let mut pos = m;
    while pos > 0 {
        let p = pos - 1;
        let ((ga, sa, _), (gb, sb, _)) = (a.at(p), b.at(p));
        if ga != gb {
            below = Some((m - 1 - p, ga, gb));
            break;
        }
        pos = sa.max(sb);
    }
    // First difference above m.
    let mut above = None;
    let mut p = m + 1;
    while p < n {
        let ((ga, _, ea), (gb, _, eb)) = (a.at(p), b.at(p));
        if ga != gb {
            above = Some((p - m - 1, ga, gb));
            break;
        }
        p = ea.min(eb);
    }
    // Place of the i-th grade below / above m in the majority value (after m itself).
    let odd = n % 2 == 1;
    let place_below = |i: u64| if odd { 1 + 2 * i } else { 2 + 2 * i };
    let place_above = |j: u64| if odd { 2 + 2 * j } else { 1 + 2 * j };
    let first = match (below, above) {
        (None, None) => return Ordering::Equal,
        (Some((_, ga, gb)), None) | (None, Some((_, ga, gb))) => (ga, gb),
        (Some((i, la, lb)), Some((j, ua, ub))) => {
            if place_below(i) < place_above(j) {
                (la, lb)
            } else {
                (ua, ub)
            }
        }
    };
    first.0.cmp(&first.1)
}
