//! The audit module on an honest three-town consultation, then with planted faults.

use palabre_core::admission::Clock;
use palabre_core::audit::{AuditInput, AuditOptions, AuditReport, AuditState, LogMaterial, audit};
use palabre_core::crypto::PublicKey;
use palabre_core::event::*;
use palabre_core::head::{Cosignature, CosignedHead, Equivocation, TreeHead};
use palabre_core::record::Record;
use palabre_core::tally::{Choice, Method, Tally};
use palabre_core::testkit::world::*;

/// Three towns, every resident votes at home, every log closes, witnesses cosign, and
/// the organiser signs the result.
fn closed_world(n_witnesses: usize) -> (World, Vec<Cosignature>) {
    closed_world_with(n_witnesses, |_| {})
}

/// [`closed_world`], with `more` done to the logs before they close.
fn closed_world_with(
    n_witnesses: usize,
    more: impl FnOnce(&mut World),
) -> (World, Vec<Cosignature>) {
    let mut w = World::new(3, 3, Method::Approval { max_choices: 2 }, 3);
    let p = w.proposals.clone();
    for t in 0..3 {
        for r in 0..3 {
            let choice = Choice::Approve(if (t + r) % 2 == 0 {
                vec![p[0], p[1]]
            } else {
                vec![p[2]]
            });
            w.vote(t, r, VOTE_OPEN + r as u64, choice).expect("ballot");
        }
    }
    more(&mut w);
    let mut cosignatures = Vec::new();
    let mut closed = Vec::new();
    for t in 0..3 {
        let pk = w.towns[t].pk();
        let size = w.ledger.log_size(&pk);
        let root = w.ledger.root_at(&pk, size).expect("root");
        let head = TreeHead {
            authority: pk,
            size,
            root,
            timestamp_ms: VOTE_CLOSE,
        };
        for (k, other) in w
            .towns
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != t)
            .take(n_witnesses)
        {
            let _ = k;
            cosignatures.push(
                CosignedHead {
                    head,
                    witness: other.pk(),
                    timestamp_ms: VOTE_CLOSE + 60_000,
                }
                .sign(&other.key),
            );
        }
        let cp = sign(
            &w.towns[t].key,
            VOTE_CLOSE,
            Body::Checkpoint(CheckpointBody {
                consultation: w.consultation,
                size,
                root,
            }),
        );
        w.ledger.append(&pk, cp, Clock::Replay).expect("checkpoint");
        closed.push(ClosedLog {
            authority: pk,
            size,
            root,
        });
    }
    closed.sort();
    let (view, counted) = w.ledger.count(&w.consultation).expect("count");
    let result = sign(
        &w.towns[0].key,
        VOTE_CLOSE + 1,
        Body::Result(Box::new(ResultBody {
            consultation: w.consultation,
            checkpoints: closed,
            tally: counted.tally(&view),
        })),
    );
    let organiser = w.towns[0].pk();
    w.ledger
        .append(&organiser, result, Clock::Replay)
        .expect("result");
    (w, cosignatures)
}

fn materials(w: &World, cosignatures: &[Cosignature]) -> Vec<LogMaterial> {
    w.towns
        .iter()
        .map(|t| {
            let pk = t.pk();
            let log = w.ledger.log(&pk).expect("log");
            let size = log.entries.len() as u64;
            let head = TreeHead {
                authority: pk,
                size,
                root: w.ledger.root_at(&pk, size).expect("root"),
                timestamp_ms: VOTE_CLOSE + 5,
            }
            .sign(&t.key);
            LogMaterial {
                authority: pk,
                source: format!("node-of-{pk}"),
                entries: log.entries.iter().map(|e| e.bytes().to_vec()).collect(),
                heads: vec![head],
                cosignatures: cosignatures
                    .iter()
                    .filter(|c| c.cosigned.head.authority == pk)
                    .copied()
                    .collect(),
            }
        })
        .collect()
}

fn run(w: &World, logs: Vec<LogMaterial>) -> AuditReport {
    audit(
        &AuditInput {
            consultation: w.consultation,
            logs,
            evidence: Vec::new(),
        },
        AuditOptions { threads: 2 },
    )
}

fn rules(report: &AuditReport) -> Vec<&'static str> {
    report.failures.iter().map(|f| f.rule).collect()
}

/// Town-hall staff at work in town 1's log: a desk agent registers a resident and
/// countersigns their ballot, a moderator hides a proposal in town 0's log. The auditor
/// replays them with the same staff rule and recounts the same result.
#[test]
fn staff_signed_events_and_assisted_ballots_pass_the_audit() {
    let (w, cosignatures) = closed_world_with(1, |w| {
        let appoint = |w: &mut World, town: usize, seed: u8, role: StaffRole| {
            let staff = key(seed);
            let body = Body::Staff(StaffBody {
                subject: staff.public_key(),
                name: format!("Agent {seed}"),
                role,
                active: true,
            });
            let e = sign(&w.towns[town].key, T0 - DAY, body);
            let log = w.towns[town].pk();
            w.ledger
                .append(&log, e, Clock::Replay)
                .expect("appointment");
            staff
        };
        let desk = appoint(w, 1, 40, StaffRole::Desk);
        let moderator = appoint(w, 0, 41, StaffRole::Moderator);
        let resident = key(42);
        let town1 = w.towns[1].pk();
        let credential = sign(
            &desk,
            VOTE_OPEN,
            Body::Credential(CredentialBody {
                subject: resident.public_key(),
                replaces: None,
            }),
        );
        w.ledger
            .append(&town1, credential, Clock::Replay)
            .expect("desk credential");
        let choice = Choice::Approve(vec![w.proposals[1]]);
        let at = VOTE_OPEN + 10;
        let assistance =
            Assistance::sign(&desk, &resident.public_key(), at, &w.consultation, &choice)
                .expect("countersigns");
        let ballot = sign(
            &resident,
            at,
            Body::Ballot(BallotBody {
                consultation: w.consultation,
                choice,
                assistance: Some(assistance),
            }),
        );
        w.ledger
            .append(&town1, ballot, Clock::Replay)
            .expect("assisted ballot");
        let town0 = w.towns[0].pk();
        let hide = sign(
            &moderator,
            VOTE_OPEN + 20,
            Body::Moderation(ModerationBody {
                target: w.proposals[2],
                action: ModerationAction::Hide,
                reason: "Hors sujet".into(),
                tombstone: None,
            }),
        );
        w.ledger
            .append(&town0, hide, Clock::Replay)
            .expect("moderation");
    });
    let (_, counted) = w.ledger.count(&w.consultation).expect("count");
    assert_eq!(counted.ballots.len(), 10);
    assert_eq!(counted.assisted.get(&key(40).public_key()), Some(&1));
    assert!(counted.hidden.contains(&w.proposals[2]));
    let report = run(&w, materials(&w, &cosignatures));
    assert!(report.failures.is_empty(), "{:?}", rules(&report));
}

#[test]
fn an_honest_federation_passes() {
    let (w, cosigs) = closed_world(2);
    let report = run(&w, materials(&w, &cosigs));
    assert!(report.passed(), "{:#?}", report.failures);
    assert_eq!(report.n_ballots_counted, 9);
    let Some(Tally::Approval { n_ballots, .. }) = report.tally else {
        panic!("approval tally")
    };
    assert_eq!(n_ballots, 9);
    assert!(report.result.is_some());
}

/// Evidence that a participating town signed two histories fails the audit, naming the
/// town; evidence against a town outside the consultation, or that proves nothing, does
/// not.
#[test]
fn a_participant_caught_equivocating_fails_the_audit() {
    let (w, cosigs) = closed_world(2);
    let logs = materials(&w, &cosigs);
    let town = &w.towns[1];
    let fork = |key: &palabre_core::crypto::SecretKey, root: u8| {
        TreeHead {
            authority: key.public_key(),
            size: 4,
            root: palabre_core::ids::Hash([root; 32]),
            timestamp_ms: 1,
        }
        .sign(key)
    };
    let proof = |key: &palabre_core::crypto::SecretKey, second: u8| Equivocation {
        first: fork(key, 1),
        second: fork(key, second),
        prefix: None,
    };
    let input = |evidence| AuditInput {
        consultation: w.consultation,
        logs: logs.clone(),
        evidence,
    };
    let caught = audit(&input(vec![proof(&town.key, 2)]), AuditOptions::default());
    assert_eq!(rules(&caught), vec!["equivocation"]);
    assert_eq!(caught.failures[0].authority, Some(town.pk()));
    let outsider = palabre_core::crypto::SecretKey::from_seed(&[9; 32]);
    let stranger = audit(&input(vec![proof(&outsider, 2)]), AuditOptions::default());
    assert!(stranger.passed(), "{:?}", stranger.failures);
    let nothing = audit(&input(vec![proof(&town.key, 1)]), AuditOptions::default());
    assert!(nothing.passed(), "{:?}", nothing.failures);
    // It travels in bundles.
    let bundle =
        palabre_core::audit::bundle::to_json(&input(vec![proof(&town.key, 2)])).expect("bundle");
    let back = palabre_core::audit::bundle::from_json(&bundle, "b.json").expect("read");
    assert_eq!(back.evidence, vec![proof(&town.key, 2)]);
}

#[test]
fn one_witness_of_three_is_a_quorum_but_none_is_not() {
    let (w, cosigs) = closed_world(1);
    assert!(run(&w, materials(&w, &cosigs)).passed());
    let (w, cosigs) = closed_world(0);
    let report = run(&w, materials(&w, &cosigs));
    assert_eq!(rules(&report), vec!["checkpoint_no_quorum"; 3]);
}

#[test]
fn a_flipped_bit_in_an_entry_is_named() {
    let (w, cosigs) = closed_world(2);
    let mut logs = materials(&w, &cosigs);
    let last = logs[1].entries.len() - 3;
    logs[1].entries[last][20] ^= 0x01;
    let report = run(&w, logs);
    let r = rules(&report);
    assert!(r.contains(&"head_mismatch"), "{r:?}");
    assert!(
        r.contains(&"entry_invalid") || r.contains(&"bad_signature"),
        "{r:?}"
    );
    let f = report
        .failures
        .iter()
        .find(|f| f.rule != "head_mismatch")
        .expect("entry failure");
    assert_eq!(f.index, Some(last as u64));
    assert_eq!(f.authority, Some(w.towns[1].pk()));
}

#[test]
fn a_removed_entry_breaks_the_signed_head() {
    let (w, cosigs) = closed_world(2);
    let mut logs = materials(&w, &cosigs);
    logs[2].entries.remove(4);
    let r = rules(&run(&w, logs));
    assert!(r.contains(&"head_beyond_entries"), "{r:?}");
}

#[test]
fn a_result_that_differs_from_the_recount_is_caught() {
    let (mut w, cosigs) = closed_world(2);
    // Rebuild the organiser's log with a doctored result in place of the real one.
    let organiser = w.towns[0].pk();
    let log = w.ledger.log(&organiser).expect("log");
    let entries: Vec<SignedEvent> = log.events().cloned().collect();
    let Body::Result(mut body) = entries.last().expect("result").body().clone() else {
        panic!("result last")
    };
    let Tally::Approval { n_ballots, .. } = &mut body.tally else {
        panic!("approval")
    };
    *n_ballots += 1;
    let doctored = sign(&w.towns[0].key, VOTE_CLOSE + 1, Body::Result(body));
    let mut ledger = palabre_core::ledger::Ledger::new();
    for t in &w.towns {
        let pk: PublicKey = t.pk();
        let entries = &w.ledger.log(&pk).expect("log").entries;
        let n = if pk == organiser {
            entries.len() - 1
        } else {
            entries.len()
        };
        for e in &entries[..n] {
            ledger.apply_entry(&pk, e.clone());
        }
    }
    ledger.apply(&organiser, doctored);
    w.ledger = ledger;
    let r = rules(&run(&w, materials(&w, &cosigs)));
    assert_eq!(r, vec!["result_mismatch"]);
}

// ---- One planted fault per test, each named by its rule. ----

/// Signs a new head over `log`'s entries as they now are, so that only the planted
/// fault (and not a stale head) is what the audit finds.
fn resign(log: &mut LogMaterial, key: &palabre_core::crypto::SecretKey) {
    let leaves: Vec<_> = log
        .entries
        .iter()
        .map(|e| palabre_core::merkle::leaf_hash(e))
        .collect();
    log.heads = vec![
        TreeHead {
            authority: log.authority,
            size: leaves.len() as u64,
            root: palabre_core::merkle::root_of_leaves(&leaves),
            timestamp_ms: VOTE_CLOSE + 5,
        }
        .sign(key),
    ];
}

/// The honest world's materials with `event` inserted into town `t`'s log at `at`,
/// that log's head signed again.
fn with_inserted(t: usize, at: usize, event: &SignedEvent) -> (World, Vec<LogMaterial>) {
    let (w, cosigs) = closed_world(2);
    let mut logs = materials(&w, &cosigs);
    logs[t].entries.insert(at, event.bytes().to_vec());
    resign(&mut logs[t], &w.towns[t].key);
    (w, logs)
}

#[test]
fn a_flipped_bit_in_a_head_is_named() {
    let (w, cosigs) = closed_world(2);
    let mut logs = materials(&w, &cosigs);
    logs[1].heads[0].head.root.0[3] ^= 0x10;
    let report = run(&w, logs);
    let f = report
        .failures
        .iter()
        .find(|f| f.rule == "bad_head_signature")
        .unwrap_or_else(|| panic!("{:#?}", report.failures));
    assert_eq!(f.authority, Some(w.towns[1].pk()));
}

#[test]
fn a_flipped_bit_in_a_cosignature_is_named() {
    let (w, cosigs) = closed_world(2);
    let mut logs = materials(&w, &cosigs);
    logs[2].cosignatures[0].sig.0[10] ^= 0x01;
    let r = rules(&run(&w, logs));
    assert!(r.contains(&"bad_cosignature"), "{r:?}");
}

#[test]
fn reordered_entries_are_caught() {
    let (w, cosigs) = closed_world(2);
    let mut logs = materials(&w, &cosigs);
    // Swap a credential and a ballot of town 1: the signed head no longer matches.
    let n = logs[1].entries.len();
    logs[1].entries.swap(1, n - 2);
    let r = rules(&run(&w, logs));
    assert!(r.contains(&"head_mismatch"), "{r:?}");
}

#[test]
fn a_duplicated_entry_is_caught_even_under_a_fresh_head() {
    let (w, cosigs) = closed_world(2);
    let ballot = {
        let logs = materials(&w, &cosigs);
        let n = logs[1].entries.len();
        logs[1].entries[n - 2].clone()
    };
    let mut logs = materials(&w, &cosigs);
    let n = logs[1].entries.len();
    logs[1].entries.insert(n - 1, ballot);
    resign(&mut logs[1], &w.towns[1].key);
    let report = run(&w, logs);
    let f = report
        .failures
        .iter()
        .find(|f| f.rule == "inadmissible")
        .unwrap_or_else(|| panic!("{:#?}", report.failures));
    assert_eq!(f.index, Some((n - 1) as u64));
}

#[test]
fn a_credential_from_an_authority_outside_the_consultation_is_caught() {
    let outsider = key(99);
    let stranger = key(98).public_key();
    let credential = sign(
        &outsider,
        VOTE_OPEN,
        Body::Credential(CredentialBody {
            subject: stranger,
            replaces: None,
        }),
    );
    let (w, logs) = with_inserted(1, 5, &credential);
    let report = run(&w, logs);
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.rule == "inadmissible" && f.index == Some(5)),
        "{:#?}",
        report.failures
    );
}

#[test]
fn a_replaced_or_revoked_key_does_not_vote_again() {
    // Resident 0 of town 1 voted; the town replaces their key and they vote again with
    // the new one: one voter, one counted ballot. A ballot still signed with the old key
    // after the replacement is planted: it is refused.
    let mut w = World::new(3, 3, Method::Approval { max_choices: 2 }, 3);
    let p = w.proposals.clone();
    let town = w.towns[1].pk();
    w.vote(1, 0, VOTE_OPEN + 1, Choice::Approve(vec![p[0]]))
        .expect("first ballot");
    let new_key = key(77);
    let replacement = sign(
        &w.towns[1].key,
        VOTE_OPEN + 2,
        Body::Credential(CredentialBody {
            subject: new_key.public_key(),
            replaces: Some(w.towns[1].residents[0].public_key()),
        }),
    );
    w.ledger
        .append(&town, replacement, Clock::Replay)
        .expect("replacement");
    let again = sign(
        &new_key,
        VOTE_OPEN + 3,
        Body::Ballot(BallotBody {
            consultation: w.consultation,
            choice: Choice::Approve(vec![p[1]]),
            assistance: None,
        }),
    );
    w.ledger.append(&town, again, Clock::Replay).expect("vote");
    let (_, counted) = w.ledger.count(&w.consultation).expect("count");
    assert_eq!(counted.ballots.len(), 1, "one voter, one ballot");
    let old_key_ballot = w.ballot(1, 0, VOTE_OPEN + 4, Choice::Approve(vec![p[2]]));
    assert_eq!(
        w.ledger
            .append(&town, old_key_ballot.clone(), Clock::Replay)
            .map_err(|r| r.code()),
        Err("replaced_key")
    );
    // A revoked resident's ballot is refused too.
    let revocation = sign(
        &w.towns[1].key,
        VOTE_OPEN + 5,
        Body::Revocation(RevocationBody {
            subject: w.towns[1].residents[1].public_key(),
            reason: "a quitté la commune".into(),
        }),
    );
    w.ledger
        .append(&town, revocation, Clock::Replay)
        .expect("revocation");
    let revoked_ballot = w.ballot(1, 1, VOTE_OPEN + 6, Choice::Approve(vec![p[0]]));
    assert_eq!(
        w.ledger
            .append(&town, revoked_ballot.clone(), Clock::Replay)
            .map_err(|r| r.code()),
        Err("revoked_key")
    );

    // Planted in a closed world's log, under a fresh head, the audit refuses them both.
    for planted in [old_key_ballot, revoked_ballot] {
        let (w2, cosigs) = closed_world(2);
        let mut logs = materials(&w2, &cosigs);
        // Replace town 1's resident 0 key and revoke resident 1 there too, then plant.
        let replace = sign(
            &w2.towns[1].key,
            VOTE_OPEN + 2,
            Body::Credential(CredentialBody {
                subject: new_key.public_key(),
                replaces: Some(w2.towns[1].residents[0].public_key()),
            }),
        );
        let revoke = sign(
            &w2.towns[1].key,
            VOTE_OPEN + 5,
            Body::Revocation(RevocationBody {
                subject: w2.towns[1].residents[1].public_key(),
                reason: "a quitté la commune".into(),
            }),
        );
        let n = logs[1].entries.len() - 1; // before the checkpoint
        for (i, e) in [replace, revoke, planted].iter().enumerate() {
            logs[1].entries.insert(n + i, e.bytes().to_vec());
        }
        resign(&mut logs[1], &w2.towns[1].key);
        let report = run(&w2, logs);
        assert!(
            report
                .failures
                .iter()
                .any(|f| f.rule == "inadmissible" && f.index == Some((n + 2) as u64)),
            "{:#?}",
            report.failures
        );
    }
}

#[test]
fn a_ballot_after_the_closing_checkpoint_does_not_count() {
    let (w, cosigs) = closed_world(2);
    let p = w.proposals.clone();
    let late = w.ballot(2, 0, VOTE_OPEN + 100, Choice::Approve(vec![p[2]]));
    let mut logs = materials(&w, &cosigs);
    logs[2].entries.push(late.bytes().to_vec());
    resign(&mut logs[2], &w.towns[2].key);
    let report = run(&w, logs);
    let r = rules(&report);
    assert!(
        r.contains(&"ballot_after_checkpoint") || r.contains(&"inadmissible"),
        "{r:?}"
    );
    assert_eq!(report.n_ballots_counted, 9);
}

#[test]
fn two_nodes_serving_different_histories_are_named() {
    let (w, cosigs) = closed_world(2);
    let honest = materials(&w, &cosigs);
    let mut forked = honest[1].clone();
    forked.source = "http://liar.example".into();
    // The liar serves town 1's log with its last ballot swapped for another one signed
    // by the same resident (town 1's key signs the forked head: an equivocation).
    let n = forked.entries.len();
    let p = w.proposals.clone();
    let other = w.ballot(1, 2, VOTE_OPEN + 7, Choice::Approve(vec![p[1]]));
    forked.entries[n - 2] = other.bytes().to_vec();
    resign(&mut forked, &w.towns[1].key);
    let mut logs = honest;
    logs.push(forked);
    let report = run(&w, logs);
    let f = report
        .failures
        .iter()
        .find(|f| f.rule == "inconsistent_sources")
        .unwrap_or_else(|| panic!("{:#?}", report.failures));
    assert_eq!(f.authority, Some(w.towns[1].pk()));
}

/// A copy of `signed` whose `author` is replaced by `author_hex`.
fn with_author(signed: &SignedEvent, author_hex: &str) -> Vec<u8> {
    let text = String::from_utf8(signed.bytes().to_vec()).expect("utf-8");
    let old = signed.author().to_hex();
    text.replacen(&old, author_hex, 1).into_bytes()
}

#[test]
fn weak_and_non_canonical_keys_are_refused() {
    let (w, cosigs) = closed_world(2);
    let p = w.proposals.clone();
    let ballot = w.ballot(1, 0, VOTE_OPEN + 9, Choice::Approve(vec![p[0]]));
    // The identity point (small order), and y = p + 1 (not reduced: not canonical).
    let identity = format!("01{}", "00".repeat(31));
    let unreduced = format!("ee{}7f", "ff".repeat(30));
    for author in [identity, unreduced] {
        let mut logs = materials(&w, &cosigs);
        let n = logs[1].entries.len() - 1;
        logs[1].entries.insert(n, with_author(&ballot, &author));
        resign(&mut logs[1], &w.towns[1].key);
        let report = run(&w, logs);
        assert!(
            report
                .failures
                .iter()
                .any(|f| f.rule == "entry_invalid" && f.index == Some(n as u64)),
            "{author}: {:#?}",
            report.failures
        );
    }
}

/// Town 0 hides a resident's argument, then purges its text: sources that serve the
/// tombstone and sources that still serve the text (a copy made before the purge) both
/// pass, the recount is the same, and the newer material only appends to the older one.
#[test]
fn a_purged_item_passes_the_audit_from_any_source() {
    use palabre_core::audit::extends;
    use palabre_core::event::{Tombstone, TombstoneBody};
    let mut text = Vec::new();
    let (w, cosignatures) = closed_world_with(1, |w| {
        let town0 = w.towns[0].pk();
        let argument = sign(
            &w.towns[0].residents[1],
            VOTE_OPEN + 30,
            Body::Argument(ArgumentBody {
                proposal: w.proposals[0],
                stance: Stance::Con,
                body: "Le fils du maire habite au 12 rue Haute.".into(),
            }),
        );
        text = argument.bytes().to_vec();
        w.ledger
            .append(&town0, argument.clone(), Clock::Replay)
            .expect("argument");
        let tombstone = Tombstone::sign(
            TombstoneBody::of(&argument, w.consultation).expect("tombstone"),
            &w.towns[0].key,
        )
        .expect("signs");
        for (at, action, tombstone) in [
            (VOTE_OPEN + 31, ModerationAction::Hide, None),
            (VOTE_OPEN + 32, ModerationAction::Purge, Some(tombstone)),
        ] {
            let m = moderation(&w.towns[0].key, at, argument.id(), action, tombstone);
            w.ledger
                .append(&town0, m, Clock::Replay)
                .expect("moderation");
        }
    });
    let purged = materials(&w, &cosignatures);
    let at = purged[0]
        .entries
        .iter()
        .position(|e| e.starts_with(b"{\"purged\":"))
        .expect("town 0 serves a tombstone");
    let report = run(&w, purged.clone());
    assert!(report.passed(), "{:?}", report.failures);
    // A copy from before the purge: the text in the tombstone's place.
    let mut before = purged.clone();
    before[0].entries[at] = text.clone();
    before[0].source = "an older copy".into();
    let old = run(&w, before.clone());
    assert!(old.passed(), "{:?}", old.failures);
    assert_eq!(old.tally, report.tally);
    let mut both = before.clone();
    both.extend(purged.clone());
    let mixed = run(&w, both);
    assert!(mixed.passed(), "{:?}", mixed.failures);
    let input = |logs| AuditInput {
        consultation: w.consultation,
        logs,
        evidence: Vec::new(),
    };
    assert_eq!(extends(&input(before), &input(purged.clone())), vec![]);
    // The bundle carries the tombstone byte for byte.
    let bundle = palabre_core::audit::bundle::to_json(&input(purged.clone())).expect("bundle");
    let back = palabre_core::audit::bundle::from_json(&bundle, "b.json").expect("reads");
    assert_eq!(back.logs[0].entries, purged[0].entries);
}

/// A source that serves a tombstone where its log holds no purge (a town, or anyone
/// relaying its log, withholding a text it never publicly erased) is named.
#[test]
fn a_tombstone_without_a_purge_is_caught() {
    use palabre_core::event::{Tombstone, TombstoneBody};
    let (w, cosignatures) = closed_world(1);
    let mut logs = materials(&w, &cosignatures);
    let target = w.ledger.event(&w.proposals[0]).expect("proposal").clone();
    let at = logs[0]
        .entries
        .iter()
        .position(|e| e.as_slice() == target.bytes())
        .expect("served");
    let tombstone = Tombstone::sign(
        TombstoneBody::of(&target, w.consultation).expect("tombstone"),
        &w.towns[0].key,
    )
    .expect("signs");
    logs[0].entries[at] = tombstone.to_bytes();
    let report = run(&w, logs.clone());
    assert_eq!(rules(&report), vec!["unexplained_purge"]);
    // Signed by anyone but the log's authority, it is not even a valid entry.
    let forged = Tombstone::sign(
        TombstoneBody::of(&target, w.consultation).expect("tombstone"),
        &w.towns[1].key,
    )
    .expect("signs");
    logs[0].entries[at] = forged.to_bytes();
    let report = run(&w, logs);
    assert!(
        rules(&report).contains(&"entry_invalid"),
        "{:?}",
        rules(&report)
    );
}

/// Closes `consultation` in the logs of `towns` (town indices; `organiser` signs the
/// result): each checkpoints at VOTE_CLOSE and every other participant cosigns.
fn close(
    w: &mut World,
    consultation: palabre_core::ids::EventId,
    towns: &[usize],
    organiser: usize,
) -> Vec<Cosignature> {
    let mut cosignatures = Vec::new();
    let mut closed = Vec::new();
    for &t in towns {
        let pk = w.towns[t].pk();
        let size = w.ledger.log_size(&pk);
        let root = w.ledger.root_at(&pk, size).expect("root");
        let head = TreeHead {
            authority: pk,
            size,
            root,
            timestamp_ms: VOTE_CLOSE,
        };
        for &o in towns.iter().filter(|o| **o != t) {
            cosignatures.push(
                CosignedHead {
                    head,
                    witness: w.towns[o].pk(),
                    timestamp_ms: VOTE_CLOSE + 60_000,
                }
                .sign(&w.towns[o].key),
            );
        }
        let cp = sign(
            &w.towns[t].key,
            VOTE_CLOSE,
            Body::Checkpoint(CheckpointBody {
                consultation,
                size,
                root,
            }),
        );
        w.ledger.append(&pk, cp, Clock::Replay).expect("checkpoint");
        closed.push(ClosedLog {
            authority: pk,
            size,
            root,
        });
    }
    closed.sort();
    let (view, counted) = w.ledger.count(&consultation).expect("count");
    let result = sign(
        &w.towns[organiser].key,
        VOTE_CLOSE + 1,
        Body::Result(Box::new(ResultBody {
            consultation,
            checkpoints: closed,
            tally: counted.tally(&view),
        })),
    );
    let pk = w.towns[organiser].pk();
    w.ledger.append(&pk, result, Clock::Replay).expect("result");
    cosignatures
}

/// Towns 1 and 2 also hold a consultation of their own (C2, organised by town 1), while
/// taking part in town 0's (C1). A resident of town 2 argues on a proposal of C1, which
/// sits in town 0's log, and town 1 hides that argument. Returns the world, every
/// cosignature, C2's id and its proposal.
fn overlapping_world() -> (
    World,
    Vec<Cosignature>,
    palabre_core::ids::EventId,
    palabre_core::ids::EventId,
) {
    let mut c2 = None;
    let mut c2_cosignatures = Vec::new();
    let (w, mut cosignatures) = closed_world_with(2, |w| {
        let (pk1, pk2) = (w.towns[1].pk(), w.towns[2].pk());
        let mut body = consultation_body(&[pk1, pk2], Method::Approval { max_choices: 1 });
        if let Body::Consultation(c) = &mut body {
            c.title = "Le pont entre Town 1 et Town 2".into();
        }
        let consultation = sign(&w.towns[1].key, T0 - DAY, body);
        let cid = consultation.id();
        w.ledger
            .append(&pk1, consultation, Clock::Replay)
            .expect("C2");
        let proposal = sign(
            &w.towns[2].residents[0],
            PROPOSALS_OPEN + DAY,
            Body::Proposal(ProposalBody {
                consultation: cid,
                title: "Un pont piéton".into(),
                body: "En bois.".into(),
                cost: None,
            }),
        );
        let pid = proposal.id();
        w.ledger
            .append(&pk2, proposal, Clock::Replay)
            .expect("C2 proposal");
        let argument = sign(
            &w.towns[2].residents[1],
            PROPOSALS_OPEN + DAY,
            Body::Argument(ArgumentBody {
                proposal: w.proposals[0],
                stance: Stance::Con,
                body: "Trop cher.".into(),
            }),
        );
        let aid = argument.id();
        w.ledger
            .append(&pk2, argument, Clock::Replay)
            .expect("argument on C1");
        let hide = moderation(
            &w.towns[1].key,
            PROPOSALS_OPEN + 2 * DAY,
            aid,
            ModerationAction::Hide,
            None,
        );
        w.ledger.append(&pk1, hide, Clock::Replay).expect("hide");
        for t in 1..3 {
            for r in 0..3 {
                let ballot = sign(
                    &w.towns[t].residents[r],
                    VOTE_OPEN + 50 + r as u64,
                    Body::Ballot(BallotBody {
                        consultation: cid,
                        choice: Choice::Approve(if r == 2 { vec![] } else { vec![pid] }),
                        assistance: None,
                    }),
                );
                let log = w.towns[t].pk();
                w.ledger
                    .append(&log, ballot, Clock::Replay)
                    .expect("C2 ballot");
            }
        }
        c2_cosignatures = close(w, cid, &[1, 2], 1);
        c2 = Some((cid, pid));
    });
    cosignatures.extend(c2_cosignatures);
    let (cid, pid) = c2.expect("C2 was made");
    (w, cosignatures, cid, pid)
}

fn audit_of(consultation: palabre_core::ids::EventId, logs: Vec<LogMaterial>) -> AuditReport {
    audit(
        &AuditInput {
            consultation,
            logs,
            evidence: Vec::new(),
        },
        AuditOptions { threads: 2 },
    )
}

/// Each consultation audits clean from its own participants' logs alone, though those
/// logs also hold the other consultation's entries; those are counted as outside it.
#[test]
fn overlapping_consultations_each_audit_clean() {
    let (w, cosigs, c2, p2) = overlapping_world();
    let town0 = w.towns[0].pk();
    let c2_logs: Vec<LogMaterial> = materials(&w, &cosigs)
        .into_iter()
        .filter(|m| m.authority != town0)
        .collect();
    let report = audit_of(c2, c2_logs);
    assert!(report.passed(), "{:#?}", report.failures);
    assert_eq!(report.state, AuditState::Closed);
    assert!(report.is_final());
    assert_eq!(report.n_ballots_counted, 6);
    let Some(Tally::Approval { rows, .. }) = &report.tally else {
        panic!("approval tally")
    };
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].proposal, rows[0].approvals), (p2, 4));
    // Town 1: three C1 ballots and its C1 checkpoint; town 2: three C1 ballots, the
    // argument on a C1 proposal and its C1 checkpoint; town 1's hiding of that argument.
    assert_eq!(report.n_outside, 3 + 1 + 1 + 3 + 1 + 1);
    assert!(report.result.is_some());

    // C1, from its three logs, holds C2's entries as outside it, and passes too.
    let report = audit_of(w.consultation, materials(&w, &cosigs));
    assert!(report.passed(), "{:#?}", report.failures);
    assert_eq!(report.n_ballots_counted, 9);
    // C2's proposal, six ballots, two checkpoints and the result.
    assert_eq!(report.n_outside, 1 + 6 + 2 + 1);
}

/// Being of another consultation is the voter's signed word, not the town's: a C2
/// ballot rewritten to name C1 no longer verifies, and an entry of another consultation
/// served twice is still a duplicate.
#[test]
fn a_town_cannot_pass_off_a_ballot_as_another_consultations() {
    let (w, cosigs, c2, _) = overlapping_world();
    let town0 = w.towns[0].pk();
    let town2 = w.towns[2].pk();
    let c2_logs = || -> Vec<LogMaterial> {
        materials(&w, &cosigs)
            .into_iter()
            .filter(|m| m.authority != town0)
            .collect()
    };
    let mut logs = c2_logs();
    let log = logs
        .iter_mut()
        .find(|m| m.authority == town2)
        .expect("town 2");
    let at = log
        .entries
        .iter()
        .position(|e| {
            let text = String::from_utf8_lossy(e);
            text.contains("\"ballot\"") && text.contains(&c2.to_string())
        })
        .expect("a C2 ballot");
    let relabelled = String::from_utf8(log.entries[at].clone())
        .expect("utf-8")
        .replace(&c2.to_string(), &w.consultation.to_string());
    log.entries[at] = relabelled.into_bytes();
    resign(log, &w.towns[2].key);
    let report = audit_of(c2, logs);
    assert!(
        rules(&report).contains(&"bad_signature"),
        "{:?}",
        rules(&report)
    );

    let mut logs = c2_logs();
    let log = logs
        .iter_mut()
        .find(|m| m.authority == town2)
        .expect("town 2");
    let c1_ballot = log
        .entries
        .iter()
        .position(|e| {
            let text = String::from_utf8_lossy(e);
            text.contains("\"ballot\"") && text.contains(&w.consultation.to_string())
        })
        .expect("a C1 ballot");
    let copy = log.entries[c1_ballot].clone();
    log.entries.push(copy);
    resign(log, &w.towns[2].key);
    let report = audit_of(c2, logs);
    assert_eq!(rules(&report), vec!["inadmissible"]);
    assert!(report.failures[0].detail.contains("duplicate"));
}

/// A consultation still open audits as open: what was checked holds, the ballots so far
/// are counted, the running tally is withheld unless the consultation shows running
/// results, and a planted fault still fails. One log closed of three is still open.
#[test]
fn an_open_consultation_reads_as_open() {
    let mut w = World::new(3, 3, Method::Approval { max_choices: 2 }, 3);
    let p = w.proposals.clone();
    for (t, proposal) in p.iter().enumerate() {
        for r in 0..2 {
            w.vote(t, r, VOTE_OPEN + r as u64, Choice::Approve(vec![*proposal]))
                .expect("ballot");
        }
    }
    let report = run(&w, materials(&w, &[]));
    assert!(report.passed(), "{:#?}", report.failures);
    assert!(!report.is_final());
    assert_eq!(report.state, AuditState::Open);
    assert_eq!(report.n_ballots_counted, 6);
    assert!(report.tally_hidden && report.tally.is_none());
    assert!(report.logs.iter().all(|l| l.closing_size.is_none()));
    assert_eq!(report.proposals.len(), 3);
    assert!(
        report
            .proposals
            .iter()
            .all(|p| p.title.is_some() && !p.hidden)
    );
    assert_eq!(report.logs[0].name.as_deref(), Some("Town 0"));
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["state"], serde_json::json!("open"));

    // Town 2 closes its part: still open, and its checkpoint still needs its quorum.
    let town2 = w.towns[2].pk();
    let size = w.ledger.log_size(&town2);
    let root = w.ledger.root_at(&town2, size).expect("root");
    let cp = sign(
        &w.towns[2].key,
        VOTE_CLOSE,
        Body::Checkpoint(CheckpointBody {
            consultation: w.consultation,
            size,
            root,
        }),
    );
    w.ledger
        .append(&town2, cp, Clock::Replay)
        .expect("checkpoint");
    let report = run(&w, materials(&w, &[]));
    assert_eq!(report.state, AuditState::Open);
    assert_eq!(rules(&report), vec!["checkpoint_no_quorum"]);

    // With running results shown, the running count is there.
    let mut w = World::new(2, 2, Method::Approval { max_choices: 1 }, 2);
    let mut body = consultation_body(
        &[w.towns[0].pk(), w.towns[1].pk()],
        Method::Approval { max_choices: 1 },
    );
    if let Body::Consultation(c) = &mut body {
        c.show_running_results = true;
    }
    let c = sign(&w.towns[0].key, T0 - DAY, body);
    w.consultation = c.id();
    let organiser = w.towns[0].pk();
    w.ledger
        .append(&organiser, c, Clock::Replay)
        .expect("consultation");
    let p = w.propose(1, 0, "Des bancs", None).expect("proposal");
    w.vote(0, 0, VOTE_OPEN, Choice::Approve(vec![p]))
        .expect("ballot");
    w.vote(1, 1, VOTE_OPEN, Choice::Approve(vec![p]))
        .expect("ballot");
    let report = run(&w, materials(&w, &[]));
    assert!(report.passed(), "{:#?}", report.failures);
    assert_eq!(report.state, AuditState::Open);
    let Some(Tally::Approval { rows, .. }) = &report.tally else {
        panic!("a running approval tally")
    };
    assert_eq!((rows[0].proposal, rows[0].approvals), (p, 2));

    // A planted fault in an open consultation still fails.
    let mut logs = materials(&w, &[]);
    let last = logs[1].entries.len() - 1;
    logs[1].entries[last][40] ^= 1;
    let report = run(&w, logs);
    assert!(!report.passed());
}

/// Quorum (PROTOCOL.md, "Closing and quorum"): a cosignature counts when its head has
/// the checkpoint's size and root, whatever that head's own timestamp (an ordinary head
/// cosigned on the way); with another root it does not.
#[test]
fn a_cosignature_of_an_ordinary_head_with_the_closing_size_and_root_counts() {
    let (w, cosigs) = closed_world(1);
    let cosigned = |timestamp_ms: u64, other_root: bool| -> Vec<Cosignature> {
        cosigs
            .iter()
            .map(|c| {
                let mut head = c.cosigned.head;
                head.timestamp_ms = timestamp_ms;
                if other_root {
                    head.root.0[0] ^= 1;
                }
                let witness = w
                    .towns
                    .iter()
                    .find(|t| t.pk() == c.cosigned.witness)
                    .expect("a town");
                CosignedHead {
                    head,
                    witness: witness.pk(),
                    timestamp_ms: c.cosigned.timestamp_ms,
                }
                .sign(&witness.key)
            })
            .collect()
    };
    let report = run(&w, materials(&w, &cosigned(VOTE_OPEN + 5, false)));
    assert!(report.passed(), "{:?}", rules(&report));
    let report = run(&w, materials(&w, &cosigned(0, true)));
    assert_eq!(rules(&report), vec!["checkpoint_no_quorum"; 3]);
}

/// The published vector of a federation audit (PROTOCOL.md, "Test vectors"):
/// `overlapping_bundle.json` is the bundle of C2 from its two participants' logs, which
/// also hold C1's entries, exactly as `audit::bundle::to_json` writes it;
/// `overlapping_report.json` is what `palabre audit --bundle overlapping_bundle.json
/// --json` prints for it. Both are regenerated and compared byte for byte, then the
/// committed bundle is audited and must give the committed report.
#[test]
fn overlapping_bundle_vector() {
    use palabre_core::audit::bundle;
    const BUNDLE: &str = "overlapping_bundle.json";
    const REPORT: &str = "overlapping_report.json";
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1");
    let report_text = |bytes: &[u8]| -> (AuditReport, Vec<u8>) {
        let input = bundle::from_json(bytes, BUNDLE).expect("the bundle reads");
        let report = audit(&input, AuditOptions { threads: 2 });
        let text = serde_json::to_string_pretty(&report).expect("report serializes") + "\n";
        (report, text.into_bytes())
    };

    let (w, cosigs, c2, _) = overlapping_world();
    let town0 = w.towns[0].pk();
    let input = AuditInput {
        consultation: c2,
        logs: materials(&w, &cosigs)
            .into_iter()
            .filter(|m| m.authority != town0)
            .collect(),
        evidence: Vec::new(),
    };
    let bundle_bytes = bundle::to_json(&input).expect("bundle");
    let (_, report_bytes) = report_text(&bundle_bytes);
    for (name, bytes) in [(BUNDLE, &bundle_bytes), (REPORT, &report_bytes)] {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(on_disk) => assert!(
                &on_disk == bytes,
                "{name} differs from what the code produces: vectors are never edited"
            ),
            Err(_) if std::env::var_os("PALABRE_WRITE_NEW_VECTORS").is_some() => {
                std::fs::write(&path, bytes).expect("write new vector file");
            }
            Err(e) => {
                panic!("{name} is missing ({e}); run with PALABRE_WRITE_NEW_VECTORS=1 to create it")
            }
        }
    }

    let committed = std::fs::read(dir.join(BUNDLE)).expect("committed bundle");
    let (report, text) = report_text(&committed);
    assert_eq!(
        text,
        std::fs::read(dir.join(REPORT)).expect("committed report")
    );
    assert!(report.passed(), "{:#?}", report.failures);
    assert!(report.is_final());
    assert_eq!(report.state, AuditState::Closed);
    assert_eq!(report.consultation, c2);
    assert_eq!(report.logs.len(), 2);
    assert!(report.logs.iter().all(|l| l.n_outside > 0));
    assert!(report.result.is_some());
}

// ---------------------------------------------------------------------------------------
// Secret consultations (SECRET-BALLOTS.md §4.12, first half): planted faults.

mod secret_faults {
    use palabre_core::audit::{AuditInput, AuditOptions, AuditReport, LogMaterial, audit};
    use palabre_core::event::secret::Point;
    use palabre_core::event::*;
    use palabre_core::group::B;
    use palabre_core::head::TreeHead;
    use palabre_core::record::Record;
    use palabre_core::secret::build;
    use palabre_core::tally::{Choice, Method};

    use palabre_core::testkit::secret_world::*;
    use palabre_core::testkit::world::*;

    fn materials(w: &SecretWorld) -> Vec<LogMaterial> {
        w.towns
            .iter()
            .map(|t| {
                let pk = t.pk();
                let log = w.ledger.log(&pk).expect("log");
                let size = log.entries.len() as u64;
                let head = TreeHead {
                    authority: pk,
                    size,
                    root: w.ledger.root_at(&pk, size).expect("root"),
                    timestamp_ms: VOTE_OPEN + 5,
                }
                .sign(&t.key);
                LogMaterial {
                    authority: pk,
                    source: format!("node-of-{pk}"),
                    entries: log.entries.iter().map(|e| e.bytes().to_vec()).collect(),
                    heads: vec![head],
                    cosignatures: vec![],
                }
            })
            .collect()
    }

    fn run(w: &SecretWorld) -> AuditReport {
        audit(
            &AuditInput {
                consultation: w.consultation,
                logs: materials(w),
                evidence: Vec::new(),
            },
            AuditOptions { threads: 2 },
        )
    }

    fn rules(r: &AuditReport) -> Vec<&'static str> {
        r.failures.iter().map(|f| f.rule).collect()
    }

    const SECRET_RULES: [&str; 6] = [
        "bad_encryption_key",
        "bad_deal",
        "bad_election_key",
        "layout_incomplete",
        "bad_pok",
        "bad_complaint",
    ];

    fn world() -> SecretWorld {
        let mut w = SecretWorld::ready(3, 2, Method::Support { threshold: 1 }, 2, 2, true);
        let choice = Choice::Approve(vec![w.proposals[0]]);
        w.append(1, w.sealed_ballot(1, 0, VOTE_OPEN, &choice, &[1; 32]))
            .expect("ballot");
        w
    }

    #[test]
    fn an_honest_secret_consultation_passes_its_checks() {
        let r = run(&world());
        assert!(
            !rules(&r)
                .iter()
                .any(|x| SECRET_RULES.contains(x) || *x == "inadmissible"),
            "{:?}",
            r.failures
        );
        assert!(r.tally.is_none(), "a secret count shows no tally");
        assert!(r.notes.is_empty());
    }

    /// A town that organises a secret vote with a trustee outside some other vote of its
    /// log: the audit of that other vote downloads only its own participants' logs, so
    /// the secret consultation (whose admission reads the trustees' declarations) is
    /// outside it, not `inadmissible` for want of their logs.
    #[test]
    fn another_consultation_of_a_log_holding_a_secret_one_audits_without_its_trustees() {
        let mut w = world();
        let organiser = w.towns[0].pk();
        let public = sign(
            &w.towns[0].key,
            T0,
            consultation_body(&[organiser], Method::Support { threshold: 1 }),
        );
        let public_id = public.id();
        w.append(0, public).expect("public consultation");
        let only_its_log: Vec<LogMaterial> = materials(&w)
            .into_iter()
            .filter(|l| l.authority == organiser)
            .collect();
        let r = audit(
            &AuditInput {
                consultation: public_id,
                logs: only_its_log,
                evidence: Vec::new(),
            },
            AuditOptions { threads: 2 },
        );
        assert!(r.passed(), "{:?}", r.failures);
        assert!(!r.secret);
        // The secret consultation, its proposals, its deal, its key and its layout.
        assert_eq!(r.n_outside, 1 + 2 + 1 + 1 + 1, "{r:?}");
        // And the secret vote's own audit still judges its consultation event.
        let own = run(&w);
        assert!(own.secret);
        assert!(!rules(&own).contains(&"inadmissible"), "{:?}", own.failures);
    }

    #[test]
    fn a_bad_deal_and_a_false_complaint() {
        let mut w = SecretWorld::new(3, 1, Method::Support { threshold: 1 }, 1, 2, true);
        for t in [0, 1] {
            w.append(t, w.deal_event(t, &[9 + t as u8; 32]))
                .expect("deal");
        }
        let mut bad = w.deal_body(2, &[11; 32]);
        bad.commitments.pop();
        w.ledger.apply(
            &w.towns[2].pk(),
            sign(&w.towns[2].key, DEAL_AT, Body::DkgDeal(bad)),
        );
        // Town 1 complains of town 0's good deal: void.
        let c = w.view();
        let deal0 = w.ledger.event(&w.deals[0]).expect("deal").clone();
        let body = build::complaint(
            &c,
            &deal0,
            &w.towns[1].pk(),
            &w.towns[1].trustee.secret,
            &[3; 32],
        )
        .expect("complaint");
        w.append(
            1,
            sign(&w.towns[1].key, KEYS_CLOSE, Body::DkgComplaint(body)),
        )
        .expect("admitted");
        let r = run(&w);
        assert!(rules(&r).contains(&"bad_deal"), "{:?}", r.failures);
        assert_eq!(r.notes.len(), 1);
        assert_eq!(r.notes[0].rule, "void_complaint");
        assert!(!rules(&r).contains(&"bad_complaint"));
    }

    #[test]
    fn a_wrong_election_key() {
        let mut w = SecretWorld::new(3, 1, Method::Support { threshold: 1 }, 1, 2, true);
        for t in 0..3 {
            w.append(t, w.deal_event(t, &[9 + t as u8; 32]))
                .expect("deal");
        }
        let mut body = match w.election_key_event(SETUP_AT).expect("body").body() {
            Body::ElectionKey(b) => b.clone(),
            _ => unreachable!(),
        };
        body.key = Point(body.key.0 + B);
        w.ledger.apply(
            &w.towns[0].pk(),
            sign(&w.towns[0].key, SETUP_AT, Body::ElectionKey(body)),
        );
        let r = run(&w);
        assert!(rules(&r).contains(&"bad_election_key"), "{:?}", r.failures);
    }

    #[test]
    fn an_incomplete_layout() {
        let mut w = SecretWorld::new(3, 1, Method::Support { threshold: 1 }, 3, 2, true);
        for t in 0..3 {
            w.append(t, w.deal_event(t, &[9 + t as u8; 32]))
                .expect("deal");
        }
        w.append(0, w.election_key_event(SETUP_AT).expect("ek"))
            .expect("ek");
        let body = build::layout(&w.view(), &w.proposals[1..]).expect("layout");
        w.append(0, sign(&w.towns[0].key, SETUP_AT, Body::BallotLayout(body)))
            .expect("admission cannot know every log's proposals");
        let r = run(&w);
        let missing: Vec<_> = r
            .failures
            .iter()
            .filter(|f| f.rule == "layout_incomplete")
            .collect();
        assert_eq!(missing.len(), 1, "{:?}", r.failures);
        assert_eq!(missing[0].event, Some(w.proposals[0]));
    }

    #[test]
    fn a_bad_proof_and_a_ciphertext_copied_under_another_key() {
        let mut w = world();
        let choice = Choice::Approve(vec![]);
        let mut flipped = w.sealed_body(0, 0, &choice, &[5; 32]);
        flipped.sealed.pok.s[0].0 += palabre_core::group::Scalar::ONE;
        let bad = sign(
            &w.towns[0].residents[0],
            VOTE_OPEN,
            Body::SealedBallot(flipped),
        );
        let theirs = w.sealed_body(2, 0, &choice, &[6; 32]);
        let copied = sign(
            &w.towns[2].residents[1],
            VOTE_OPEN,
            Body::SealedBallot(theirs),
        );
        let (l0, l2) = (w.towns[0].pk(), w.towns[2].pk());
        w.ledger.apply(&l0, bad.clone());
        w.ledger.apply(&l2, copied.clone());
        let r = run(&w);
        let bad_poks: Vec<_> = r
            .failures
            .iter()
            .filter(|f| f.rule == "bad_pok")
            .map(|f| f.event)
            .collect();
        assert_eq!(bad_poks.len(), 2, "{:?}", r.failures);
        assert!(bad_poks.contains(&Some(bad.id())) && bad_poks.contains(&Some(copied.id())));
        let _ = w.ledger.election_key(&w.consultation);
    }
}
