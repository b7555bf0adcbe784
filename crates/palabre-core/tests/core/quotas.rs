//! Per-author quotas of a consultation (issue 19, point 3): each resident key may write
//! at most the consultation's signed number of proposals and of arguments in its town's
//! log; absent, the defaults. Admission refuses the next one (`quota_reached`) live and
//! in a replay, so every node and the audit agree; the town and its admins are not held.

use palabre_core::admission::{Clock, admit};
use palabre_core::event::*;
use palabre_core::ids::EventId;
use palabre_core::limits::{DEFAULT_MAX_ARGUMENTS_PER_AUTHOR, DEFAULT_MAX_PROPOSALS_PER_AUTHOR};
use palabre_core::record::Record;
use palabre_core::rejection::Rejection;
use palabre_core::tally::Method;
use palabre_core::testkit::world::*;
use serde_json::json;

use super::vectors::{check_file, event_rows};

/// A one-town world whose consultation carries `quotas`.
fn world_with(quotas: Option<Quotas>) -> World {
    let mut w = World::new(1, 3, Method::YesNoAbstain {}, 0);
    let town = w.towns[0].pk();
    let Body::Consultation(mut body) = consultation_body(&[town], Method::YesNoAbstain {}) else {
        unreachable!("consultation_body makes a consultation")
    };
    body.title = "Avec des limites".into();
    body.quotas = quotas;
    let c = sign(&w.towns[0].key, T0 - DAY, Body::Consultation(body));
    w.consultation = c.id();
    w.ledger
        .append(&town, c, Clock::Replay)
        .expect("consultation");
    w
}

fn argument(
    w: &World,
    resident: &palabre_core::crypto::SecretKey,
    proposal: EventId,
    n: usize,
) -> SignedEvent {
    sign(
        resident,
        PROPOSALS_OPEN + DAY + n as u64,
        Body::Argument(ArgumentBody {
            proposal,
            stance: Stance::Pro,
            body: format!("Argument {n} de {}", w.towns[0].residents.len()),
        }),
    )
}

fn proposal(w: &World, author: &palabre_core::crypto::SecretKey, n: usize) -> SignedEvent {
    sign(
        author,
        PROPOSALS_OPEN + DAY + n as u64,
        Body::Proposal(ProposalBody {
            consultation: w.consultation,
            title: format!("Proposition {n}"),
            body: "Des bancs.".into(),
            cost: None,
        }),
    )
}

fn small() -> Quotas {
    Quotas {
        max_proposals_per_author: 2,
        max_arguments_per_author: 3,
    }
}

#[test]
fn a_resident_writes_up_to_the_signed_quota_then_is_refused() {
    let mut w = world_with(Some(small()));
    let town = w.towns[0].pk();
    let alice = key_of(0, 0);
    let bob = key_of(0, 1);
    let mut first = None;
    for n in 0..2 {
        let p = proposal(&w, &alice, n);
        first.get_or_insert(p.id());
        w.ledger
            .append(&town, p, Clock::Replay)
            .expect("within the quota");
    }
    let third = proposal(&w, &alice, 2);
    let refused = w.ledger.append(&town, third.clone(), Clock::Replay);
    assert_eq!(
        refused,
        Err(Rejection::QuotaReached {
            kind: "proposal",
            max: 2
        })
    );
    assert_eq!(refused.expect_err("over").code(), "quota_reached");
    // Live admission says the same.
    assert!(matches!(
        admit(
            &w.ledger,
            &town,
            &third,
            Clock::Live {
                now_ms: PROPOSALS_OPEN + DAY
            }
        ),
        palabre_core::admission::Verdict::Reject(Rejection::QuotaReached { .. })
    ));
    // Another resident has their own quota; the town itself has none.
    w.ledger
        .append(&town, proposal(&w, &bob, 0), Clock::Replay)
        .expect("bob's first");
    let town_key = key(100);
    for n in 0..5 {
        w.ledger
            .append(&town, proposal(&w, &town_key, 10 + n), Clock::Replay)
            .expect("the town is not limited");
    }
    let p = first.expect("a proposal");
    for n in 0..3 {
        w.ledger
            .append(&town, argument(&w, &alice, p, n), Clock::Replay)
            .expect("within the argument quota");
    }
    assert_eq!(
        w.ledger
            .append(&town, argument(&w, &alice, p, 3), Clock::Replay)
            .map_err(|r| r.code()),
        Err("quota_reached")
    );
    assert_eq!(
        w.ledger
            .n_authored(&town, &w.consultation, Kind::Argument, &alice.public_key()),
        3
    );
}

#[test]
fn an_absent_quota_is_the_default() {
    let mut w = world_with(None);
    let town = w.towns[0].pk();
    let alice = key_of(0, 0);
    let mut last = None;
    for n in 0..DEFAULT_MAX_PROPOSALS_PER_AUTHOR as usize {
        let p = proposal(&w, &alice, n);
        last = Some(p.id());
        w.ledger
            .append(&town, p, Clock::Replay)
            .expect("within the default");
    }
    let over = proposal(&w, &alice, 99);
    assert_eq!(
        w.ledger
            .append(&town, over, Clock::Replay)
            .map_err(|r| r.code()),
        Err("quota_reached")
    );
    let p = last.expect("a proposal");
    for n in 0..DEFAULT_MAX_ARGUMENTS_PER_AUTHOR as usize {
        w.ledger
            .append(&town, argument(&w, &alice, p, n), Clock::Replay)
            .expect("within the default");
    }
    assert_eq!(
        w.ledger
            .append(&town, argument(&w, &alice, p, 1_000), Clock::Replay)
            .map_err(|r| r.code()),
        Err("quota_reached")
    );
}

#[test]
fn quotas_outside_one_to_a_thousand_are_refused() {
    let w = World::new(1, 0, Method::YesNoAbstain {}, 0);
    let town = w.towns[0].pk();
    for (p, a) in [(0, 5), (5, 0), (1_001, 5), (5, 1_001)] {
        let Body::Consultation(mut body) = consultation_body(&[town], Method::YesNoAbstain {})
        else {
            unreachable!()
        };
        body.quotas = Some(Quotas {
            max_proposals_per_author: p,
            max_arguments_per_author: a,
        });
        let c = sign(&w.towns[0].key, T0, Body::Consultation(body));
        assert_eq!(
            admit(&w.ledger, &town, &c, Clock::Replay),
            palabre_core::admission::Verdict::Reject(Rejection::BadQuotas),
            "{p} {a}"
        );
    }
}

/// One row per quota code, for `every_rejection_code_has_a_row`.
pub fn quota_rejection_rows() -> Vec<&'static str> {
    let mut w = world_with(Some(Quotas {
        max_proposals_per_author: 1,
        max_arguments_per_author: 1,
    }));
    let town = w.towns[0].pk();
    let alice = key_of(0, 0);
    w.ledger
        .append(&town, proposal(&w, &alice, 0), Clock::Replay)
        .expect("first");
    let reached = w
        .ledger
        .append(&town, proposal(&w, &alice, 1), Clock::Replay);
    let Body::Consultation(mut body) = consultation_body(&[town], Method::YesNoAbstain {}) else {
        unreachable!()
    };
    body.quotas = Some(Quotas {
        max_proposals_per_author: 0,
        max_arguments_per_author: 1,
    });
    let bad = w.ledger.append(
        &town,
        sign(&w.towns[0].key, T0, Body::Consultation(body)),
        Clock::Replay,
    );
    vec![
        reached.expect_err("over the quota").code(),
        bad.expect_err("a zero quota").code(),
    ]
}

/// `quotas.json`: a log whose consultation signs its quotas (one proposal, two arguments
/// per resident), a resident's entries up to them, and the next entry of each kind with
/// the code a node answers.
#[test]
fn quotas_vectors() {
    let mut w = world_with(Some(Quotas {
        max_proposals_per_author: 1,
        max_arguments_per_author: 2,
    }));
    let town = w.towns[0].pk();
    let alice = key_of(0, 0);
    let mut log: Vec<(String, SignedEvent)> = Vec::new();
    for (i, e) in w.ledger.log(&town).expect("log").events().enumerate() {
        let name = match e.kind() {
            Kind::Authority => "authority".to_owned(),
            Kind::Credential => format!("credential {i}"),
            Kind::Consultation if e.id() == w.consultation => "consultation with quotas".to_owned(),
            k => format!("{} {i}", k.as_str()),
        };
        log.push((name, e.clone()));
    }
    let p = proposal(&w, &alice, 0);
    let pid = p.id();
    w.ledger.append(&town, p.clone(), Clock::Replay).expect("p");
    log.push(("proposal (1 of 1)".into(), p));
    for n in 0..2 {
        let a = argument(&w, &alice, pid, n);
        w.ledger.append(&town, a.clone(), Clock::Replay).expect("a");
        log.push((format!("argument ({} of 2)", n + 1), a));
    }
    let refused = [
        ("second proposal", proposal(&w, &alice, 1)),
        ("third argument", argument(&w, &alice, pid, 2)),
    ];
    let refused_rows: Vec<_> = refused
        .iter()
        .map(|(name, e)| {
            let code = w
                .ledger
                .append(&town, e.clone(), Clock::Replay)
                .expect_err("over the quota")
                .code();
            let mut row = event_rows(std::iter::once((*name, e))).remove(0);
            row["code"] = json!(code);
            row
        })
        .collect();
    let rows = event_rows(log.iter().map(|(n, e)| (n.as_str(), e)));
    check_file(
        "quotas.json",
        &json!({
            "keys": {
                "town": hex::encode(w.towns[0].key.seed()),
                "resident": hex::encode(alice.seed()),
            },
            "events": rows,
            "refused": refused_rows,
        }),
    );
}

/// A log that holds one proposal more than its consultation allows (written around
/// admission, as a dishonest node could): the audit's replay refuses it with the same
/// code, at its index.
#[test]
fn the_audit_refuses_an_entry_over_the_quota() {
    use palabre_core::audit::{AuditInput, AuditOptions, LogMaterial, audit};
    use palabre_core::head::TreeHead;

    let mut w = world_with(Some(Quotas {
        max_proposals_per_author: 1,
        max_arguments_per_author: 1,
    }));
    let town = w.towns[0].pk();
    let alice = key_of(0, 0);
    w.ledger
        .append(&town, proposal(&w, &alice, 0), Clock::Replay)
        .expect("first");
    let over = proposal(&w, &alice, 1);
    let index = w.ledger.apply(&town, over.clone());
    let log = w.ledger.log(&town).expect("log");
    let size = log.entries.len() as u64;
    let head = TreeHead {
        authority: town,
        size,
        root: w.ledger.root_at(&town, size).expect("root"),
        timestamp_ms: VOTE_CLOSE,
    }
    .sign(&w.towns[0].key);
    let report = audit(
        &AuditInput {
            consultation: w.consultation,
            logs: vec![LogMaterial {
                authority: town,
                source: "a dishonest node".into(),
                entries: log.entries.iter().map(|e| e.bytes().to_vec()).collect(),
                heads: vec![head],
                cosignatures: Vec::new(),
            }],
            evidence: Vec::new(),
        },
        AuditOptions { threads: 1 },
    );
    let refused: Vec<_> = report
        .failures
        .iter()
        .filter(|f| f.rule == "inadmissible")
        .collect();
    assert_eq!(refused.len(), 1, "{:#?}", report.failures);
    assert_eq!(refused[0].index, Some(index));
    assert_eq!(refused[0].event, Some(over.id()));
    assert!(
        refused[0].detail.contains("(quota_reached)"),
        "{}",
        refused[0].detail
    );
}
