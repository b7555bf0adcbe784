//! The audit module on an honest three-town consultation, then with planted faults.

use palabre_core::admission::{Clock, Record};
use palabre_core::audit::{AuditInput, AuditOptions, AuditReport, LogMaterial, audit};
use palabre_core::crypto::PublicKey;
use palabre_core::event::*;
use palabre_core::head::{Cosignature, CosignedHead, TreeHead};
use palabre_core::tally::{Choice, Method, Tally};

use super::world::*;

/// Three towns, every resident votes at home, every log closes, witnesses cosign, and
/// the organiser signs the result.
fn closed_world(n_witnesses: usize) -> (World, Vec<Cosignature>) {
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
        },
        AuditOptions { threads: 2 },
    )
}

fn rules(report: &AuditReport) -> Vec<&'static str> {
    report.failures.iter().map(|f| f.rule).collect()
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
    let entries: Vec<SignedEvent> = log.entries.clone();
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
            ledger.apply(&pk, e.clone());
        }
    }
    ledger.apply(&organiser, doctored);
    w.ledger = ledger;
    let r = rules(&run(&w, materials(&w, &cosigs)));
    assert_eq!(r, vec!["result_mismatch"]);
}
