//! The mix, the opening and the result of secret consultations (SECRET-BALLOTS.md
//! §4.8–§4.13): every method in split and row mode end to end through admission and the
//! audit, the admission codes, the schedule, missing trustees, and the laws (any t-subset
//! opens the same plaintexts; `tally_from_columns` equals `tally`).

use std::collections::BTreeMap;

use palabre_core::event::mix::MixInput;
use palabre_core::secret::cascade::{self, MixTurn};
use palabre_core::tally::{self, Answer, BudgetRule, Candidate, Choice, Method};
use palabre_core::testkit::opening_world::*;

fn support() -> Method {
    Method::Support { threshold: 2 }
}

fn mj() -> Method {
    Method::MajorityJudgment {
        grades: vec![
            "Rejeter".into(),
            "Passable".into(),
            "Bien".into(),
            "Très bien".into(),
        ],
    }
}

fn candidates(o: &Opening) -> Vec<Candidate> {
    o.w.ledger
        .count(&o.w.consultation)
        .expect("count")
        .1
        .candidates
}

fn methods() -> Vec<(Method, bool)> {
    vec![
        (support(), true),
        (Method::YesNoAbstain {}, true),
        (mj(), true),
        (support(), false),
        (Method::Approval { max_choices: 2 }, false),
        (
            Method::Budget {
                budget: 600,
                rule: BudgetRule::Greedy,
            },
            false,
        ),
        (
            Method::Budget {
                budget: 600,
                rule: BudgetRule::EqualShares,
            },
            false,
        ),
    ]
}

/// How many groups the consultation's layout has.
fn body_groups(o: &Opening) -> usize {
    o.setting().widths().len()
}

#[test]
fn every_method_opens_to_the_tally_of_its_ballots_and_passes_the_audit() {
    for (method, split) in methods() {
        let m = method.clone();
        let mut o = Opening::closed(3, 2, method.clone(), 4, split, move |p| votes_for(&m, p));
        let body = o.run(&[1, 2, 3], &[1, 2, 3]);
        // The ledger's memo, grown one mix at a time, agrees with judging afresh.
        let memo = o.judged();
        assert_eq!(memo.mixes, o.mixes_afresh(), "{method:?} split={split}");
        assert_eq!(memo.mixes.valid.len(), 3 * body_groups(&o));
        let cast: Vec<&Choice> = o.choices.iter().map(|(_, _, c)| c).collect();
        let expected = tally::tally(&method, &candidates(&o), cast);
        assert_eq!(body.tally, expected, "{method:?} split={split}");
        let report = o.audit();
        assert_eq!(
            rules(&report),
            Vec::<&str>::new(),
            "{method:?} split={split}"
        );
        assert_eq!(report.tally.as_ref(), Some(&expected));
        // Trustee 3's shares were not needed (t = 2).
        assert_eq!(
            notes(&report),
            vec!["unused_share"],
            "{method:?} split={split}"
        );
    }
}

#[test]
fn the_mix_input_is_the_counted_ballots_in_voter_order() {
    let m = support();
    let o = Opening::closed(3, 2, support(), 3, true, move |p| votes_for(&m, p));
    let s = o.setting();
    let initial =
        palabre_core::secret::setting::initial(&o.w.ledger, &o.w.view(), &s).expect("closed");
    // Split mode: one list per column, one position per counted voter (7: the revote
    // replaced a ballot), width 1.
    assert_eq!(initial.len(), 3);
    assert!(
        initial
            .iter()
            .all(|l| l.len() == 7 && l.iter().all(|v| v.len() == 1))
    );
    let (_, counted) = o.w.ledger.count(&o.w.consultation).expect("count");
    let voters: Vec<_> = counted.sealed.keys().collect();
    let mut sorted = voters.clone();
    sorted.sort();
    assert_eq!(voters, sorted);
    // Row mode: one list, width ⌈P/240⌉ = 1.
    let m = Method::Approval { max_choices: 2 };
    let o = Opening::closed(3, 2, m.clone(), 3, false, move |p| votes_for(&m, p));
    let s = o.setting();
    let initial =
        palabre_core::secret::setting::initial(&o.w.ledger, &o.w.view(), &s).expect("closed");
    assert_eq!(initial.len(), 1);
    assert_eq!(initial[0].len(), 7);
}

#[test]
fn any_t_subset_opens_the_same_plaintexts() {
    let m = mj();
    let mut o = Opening::closed(5, 3, mj(), 3, true, move |p| votes_for(&m, p));
    o.run(&[1, 2, 3, 4, 5], &[1, 2, 3, 4, 5]);
    let collected = o.collected();
    let params = o.setting().secrecy.params().expect("params");
    let reference = collected.plaintexts(params, &[1, 2, 3]).expect("opens");
    let mut n = 0;
    for a in 1..=5u64 {
        for b in a + 1..=5 {
            for c in b + 1..=5 {
                assert_eq!(
                    collected.plaintexts(params, &[a, b, c]).expect("opens"),
                    reference
                );
                n += 1;
            }
        }
    }
    assert_eq!(n, 10);
    assert_eq!(collected.inconsistent(params, &[1, 2, 3]), None);
    // Two shares are not enough.
    assert!(collected.plaintexts(params, &[1, 2]).is_err());
}

#[test]
fn two_absent_trustees_are_skipped_three_leave_it_sealed() {
    let m = Method::YesNoAbstain {};
    let mut o = Opening::closed(5, 3, m.clone(), 2, true, move |p| votes_for(&m, p));
    // Trustees 2 and 4 are offline: 1, 3, 5 mix and decrypt.
    let body = o.run(&[1, 3, 5], &[1, 3, 5]);
    let cast: Vec<&Choice> = o.choices.iter().map(|(_, _, c)| c).collect();
    assert_eq!(
        body.tally,
        tally::tally(&Method::YesNoAbstain {}, &candidates(&o), cast)
    );
    assert_eq!(rules(&o.audit()), Vec::<&str>::new());

    // With only two mixers the chain is too short: no seal_final, no result.
    let m = Method::YesNoAbstain {};
    let mut o = Opening::closed(5, 3, m.clone(), 2, true, move |p| votes_for(&m, p));
    o.mix(1).expect("mix");
    o.mix(2).expect("mix");
    assert_eq!(
        o.seal_final_body().err().map(|r| r.code()),
        Some("chain_too_short")
    );
    let report = o.audit();
    assert_eq!(rules(&report), Vec::<&str>::new());
    assert!(report.tally.is_none());

    // Three mixers but two decryptors: sealed, waiting for one more town.
    let m = Method::YesNoAbstain {};
    let mut o = Opening::closed(5, 3, m.clone(), 2, true, move |p| votes_for(&m, p));
    for j in [1, 2, 3] {
        o.mix(j).expect("mix");
    }
    o.seal().expect("seal");
    o.decrypt(1).expect("decrypt");
    o.decrypt(2).expect("decrypt");
    assert!(o.result_body().is_none());
    assert_eq!(o.collected().missing(3), 1);
    let report = o.audit();
    assert_eq!(rules(&report), Vec::<&str>::new());
    let waiting = report
        .notes
        .iter()
        .find(|n| n.rule == "sealed_waiting")
        .expect("waiting note");
    assert!(waiting.detail.contains("waiting for 1 more trustee towns"));
    assert!(report.tally.is_none());
}

#[test]
fn the_schedule_follows_qual_in_index_order_and_skips_the_absent() {
    let qual = [1, 2, 4];
    let hour = 3_600_000;
    let quorum = 1_000;
    // The first mixes at once, over L₀.
    assert_eq!(
        cascade::mix_turn(&qual, 1, quorum, quorum, hour, false, None),
        MixTurn::Mix(MixInput::Initial)
    );
    // The second waits for the first, at most one timeout.
    assert_eq!(
        cascade::mix_turn(&qual, 2, quorum, quorum, hour, false, None),
        MixTurn::Wait {
            until_ms: quorum + hour
        }
    );
    assert_eq!(
        cascade::mix_turn(&qual, 2, quorum, quorum + hour, hour, false, None),
        MixTurn::Mix(MixInput::Initial)
    );
    // Not in QUAL, or already mixed: nothing to do.
    assert_eq!(
        cascade::mix_turn(&qual, 3, quorum, quorum, hour, false, None),
        MixTurn::Done
    );
    assert_eq!(
        cascade::mix_turn(&qual, 1, quorum, quorum, hour, true, None),
        MixTurn::Done
    );
    // Past every deadline at once, the later ranks stagger behind the earlier ones.
    assert_eq!(cascade::ranks_skipped(&qual, 1, None), 0);
    assert_eq!(cascade::ranks_skipped(&qual, 2, None), 1);
}

#[test]
fn the_honest_trustee_never_decrypts_l0_a_short_chain_or_a_chain_without_its_mix() {
    assert_eq!(
        cascade::may_decrypt(1, 2, &[]).err().map(|r| r.code()),
        Some("chain_too_short")
    );
    assert_eq!(
        cascade::may_decrypt(1, 3, &[1, 2]).err().map(|r| r.code()),
        Some("chain_too_short")
    );
    assert_eq!(
        cascade::may_decrypt(3, 2, &[1, 2]).err().map(|r| r.code()),
        Some("decryptor_not_mixer")
    );
    assert_eq!(cascade::may_decrypt(2, 2, &[1, 2]), Ok(()));
    // Through the builder: trustee 3 did not mix, so it makes no share.
    let m = support();
    let mut o = Opening::closed(3, 2, support(), 2, true, move |p| votes_for(&m, p));
    o.mix(1).expect("mix");
    o.mix(2).expect("mix");
    o.seal().expect("seal");
    assert_eq!(
        o.decryption_events(3).err().map(|r| r.code()),
        Some("decryptor_not_mixer")
    );
    assert!(o.decryption_events(1).is_ok());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    #[test]
    fn tally_from_columns_equals_tally(
        which in 0usize..3,
        raw in proptest::collection::vec(proptest::collection::vec(0u8..4, 4), 0..12),
    ) {
        let ids: Vec<palabre_core::ids::EventId> = (0..4u8)
            .map(|i| palabre_core::ids::EventId(palabre_core::ids::Hash::of(&[i])))
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        let cands: Vec<Candidate> = sorted.iter().map(|id| Candidate { id: *id, cost: None }).collect();
        let method = [support(), Method::YesNoAbstain {}, mj()][which].clone();
        let ballots: Vec<Choice> = raw
            .iter()
            .map(|row| match &method {
                Method::YesNoAbstain {} => Choice::Answers(
                    sorted.iter().zip(row).filter_map(|(id, v)| {
                        let a = match v { 1 => Answer::Yes, 2 => Answer::No, 3 => Answer::Abstain, _ => return None };
                        Some((*id, a))
                    }).collect(),
                ),
                Method::MajorityJudgment { .. } => Choice::Grades(
                    sorted.iter().zip(row).filter(|(_, v)| **v > 0).map(|(id, v)| (*id, u32::from(*v))).collect(),
                ),
                _ => Choice::Approve(sorted.iter().zip(row).filter(|(_, v)| **v % 2 == 1).map(|(id, _)| *id).collect()),
            })
            .collect();
        let mut columns: BTreeMap<palabre_core::ids::EventId, Vec<u8>> = BTreeMap::new();
        for (k, id) in sorted.iter().enumerate() {
            columns.insert(*id, raw.iter().map(|row| match &method {
                Method::Support { .. } => row[k] % 2,
                _ => row[k],
            }).collect());
        }
        let direct = tally::tally(&method, &cands, &ballots);
        let from_columns = tally::tally_from_columns(&method, &cands, raw.len(), &columns, 0);
        proptest::prop_assert_eq!(direct, from_columns);
    }
}

#[test]
fn a_town_of_more_than_256_voters_opens_and_passes_the_audit() {
    // Resident 256 and ballots past the 255th: residents are credentialed as the votes
    // name them, and each ballot has its own encryption seed.
    let mut o = Opening::closed(2, 2, support(), 2, true, |p| {
        (0..260)
            .map(|k| (usize::from(k >= 257), k % 257, choice_for(&support(), p, k)))
            .collect()
    });
    assert_eq!(o.w.towns[0].residents.len(), 257);
    assert_eq!(o.w.towns[1].residents.len(), 4);
    assert_eq!(o.choices.len(), 260);
    let body = o.run(&[1, 2], &[1, 2]);
    let cast: Vec<&Choice> = o.choices.iter().map(|(_, _, c)| c).collect();
    let expected = tally::tally(&support(), &candidates(&o), cast);
    assert_eq!(body.tally, expected);
    let report = o.audit();
    assert_eq!(rules(&report), Vec::<&str>::new());
    assert_eq!(report.tally.as_ref(), Some(&expected));
}
