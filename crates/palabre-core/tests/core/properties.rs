//! Laws, checked with proptest: a flipped bit anywhere in a signed event is refused;
//! a tally does not depend on the order in which different voters' ballots arrive, nor
//! on duplicate deliveries.

use palabre_core::admission::Clock;
use palabre_core::event::SignedEvent;
use palabre_core::tally::{Choice, Method};
use proptest::prelude::*;

use palabre_core::testkit::world::*;

fn samples() -> &'static [SignedEvent] {
    static SAMPLES: std::sync::OnceLock<Vec<SignedEvent>> = std::sync::OnceLock::new();
    SAMPLES.get_or_init(build_samples)
}

fn build_samples() -> Vec<SignedEvent> {
    let mut w = World::new(1, 3, Method::Approval { max_choices: 2 }, 2);
    let ballot = w.ballot(0, 0, VOTE_OPEN, Choice::Approve(vec![w.proposals[0]]));
    let log = w.towns[0].pk();
    w.ledger
        .append(&log, ballot.clone(), Clock::Replay)
        .expect("ballot");
    let l = w.ledger.log(&log).expect("log");
    let mut out: Vec<SignedEvent> = l.events().cloned().collect();
    out.push(ballot);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_flipped_bit_is_refused(which in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let events = samples();
        let e = which.get(events);
        let mut bytes = e.bytes().to_vec();
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        prop_assert!(SignedEvent::from_bytes(bytes).is_err());
    }
}

/// Casts `plan` (voter, choice index) in the given order and returns the tally.
fn tally_after(
    plan: &[(usize, usize)],
    duplicate_every: Option<usize>,
) -> palabre_core::tally::Tally {
    let mut w = World::new(1, 6, Method::Approval { max_choices: 2 }, 3);
    let p = w.proposals.clone();
    let choices = [vec![], vec![p[0]], vec![p[1], p[2]], vec![p[0], p[2]]];
    let log = w.towns[0].pk();
    for (n, (voter, c)) in plan.iter().enumerate() {
        // Each voter's k-th ballot carries time VOTE_OPEN + k, so re-votes differ.
        let k = plan[..n].iter().filter(|(v, _)| v == voter).count() as u64;
        let choice = Choice::Approve(
            choices[*c]
                .iter()
                .copied()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
        );
        let e = w.ballot(0, *voter, VOTE_OPEN + k, choice);
        w.ledger
            .append(&log, e.clone(), Clock::Replay)
            .expect("ballot");
        if duplicate_every.is_some_and(|d| n % d == 0) {
            assert!(
                w.ledger.append(&log, e, Clock::Replay).is_err(),
                "a duplicate is refused"
            );
        }
    }
    let (view, counted) = w.ledger.count(&w.consultation).expect("count");
    counted.tally(&view)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn tally_ignores_arrival_order_and_duplicates(
        plan in prop::collection::vec((0usize..6, 0usize..4), 0..20),
        seed in any::<u64>(),
        dup in 1usize..5,
    ) {
        // Shuffle the ballots of different voters while keeping each voter's own order.
        let mut keyed: Vec<(u64, usize, (usize, usize))> = plan
            .iter()
            .enumerate()
            .map(|(n, b)| (seed.wrapping_mul(b.0 as u64 + 1).rotate_left(7) ^ (b.0 as u64), n, *b))
            .collect();
        keyed.sort_by_key(|(k, n, _)| (*k, *n));
        let shuffled: Vec<(usize, usize)> = keyed.into_iter().map(|(_, _, b)| b).collect();
        prop_assert_eq!(tally_after(&plan, None), tally_after(&shuffled, Some(dup)));
    }
}
