//! Golden test vectors under `tests/data/v1/`: what an independent verifier can check its
//! own code against (PROTOCOL.md, "Test vectors"). Each file is regenerated here from
//! fixed seeds and compared byte for byte. Files are added to, never edited: a change in
//! any of them is a change of the protocol. To add a new file, run the tests once with
//! `PALABRE_WRITE_NEW_VECTORS=1`: only files that do not exist yet are written.

use std::path::PathBuf;

use palabre_core::admission::{Clock, Record};
use palabre_core::crypto::Domain;
use palabre_core::event::*;
use palabre_core::head::{CosignedHead, ReceiptBody, TreeHead};
use palabre_core::ids::Hash;
use palabre_core::ledger::Ledger;
use palabre_core::merkle::{self, MemoryTree};
use palabre_core::tally::{Answer, BudgetRule, Choice, Method};
use serde_json::{Value, json};

use super::world::*;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1")
}

fn check_file(name: &str, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("vectors serialize") + "\n";
    let path = data_dir().join(name);
    match std::fs::read_to_string(&path) {
        Ok(on_disk) => assert!(
            on_disk == text,
            "{name} differs from what the code produces: the signed formats changed. Vectors are never edited; \
             if the change is intended it is a new protocol version."
        ),
        Err(_) if std::env::var_os("PALABRE_WRITE_NEW_VECTORS").is_some() => {
            std::fs::write(&path, text).expect("write new vector file");
        }
        Err(e) => {
            panic!("{name} is missing ({e}); run with PALABRE_WRITE_NEW_VECTORS=1 to create it")
        }
    }
}

/// One row per named event: its exact bytes, the message its signature covers, its id
/// and its leaf hash.
fn event_rows<'e>(named: impl Iterator<Item = (&'e str, &'e SignedEvent)>) -> Vec<Value> {
    named
        .map(|(name, e)| {
            let unsigned = e.event().unsigned_bytes().expect("unsigned bytes");
            json!({
                "name": name,
                "signed_event": text(e.bytes()),
                "signed_message": text(&Domain::Event.message(&unsigned)),
                "id": e.id().to_string(),
                "leaf_hash": merkle::leaf_hash(e.bytes()).to_hex(),
            })
        })
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("canonical JSON is UTF-8")
}

/// One event of each kind, forming a small valid log of one town.
fn sample_log() -> (Vec<SignedEvent>, Vec<&'static str>) {
    let town = key(100);
    let alice = key_of(0, 0);
    let bob = key_of(0, 1);
    let bob2 = key_of(0, 2);
    let t = town.public_key();
    let mut named: Vec<(&'static str, SignedEvent)> = Vec::new();
    let mut push = |_signer: u8, name: &'static str, e: SignedEvent| named.push((name, e));
    push(
        100,
        "authority",
        sign(
            &town,
            T0 - DAY,
            authority_body("Ville de Palabre-sur-Loire"),
        ),
    );
    push(
        100,
        "credential",
        sign(
            &town,
            T0 - DAY,
            Body::Credential(CredentialBody {
                subject: alice.public_key(),
                replaces: None,
            }),
        ),
    );
    push(
        100,
        "credential",
        sign(
            &town,
            T0 - DAY,
            Body::Credential(CredentialBody {
                subject: bob.public_key(),
                replaces: None,
            }),
        ),
    );
    push(
        100,
        "credential (replacement)",
        sign(
            &town,
            T0,
            Body::Credential(CredentialBody {
                subject: bob2.public_key(),
                replaces: Some(bob.public_key()),
            }),
        ),
    );
    let c = sign(
        &town,
        T0,
        consultation_body(&[t], Method::Approval { max_choices: 2 }),
    );
    let cid = c.id();
    push(100, "consultation", c);
    let p = sign(
        &alice,
        T0 + DAY,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "Un banc à l'ombre".into(),
            body: "Près de la fontaine.\nAvec un dossier.".into(),
            cost: None,
        }),
    );
    let pid = p.id();
    push(0, "proposal", p);
    push(
        2,
        "argument",
        sign(
            &bob2,
            T0 + DAY + 1,
            Body::Argument(ArgumentBody {
                proposal: pid,
                stance: Stance::Con,
                body: "Il y en a déjà deux.".into(),
            }),
        ),
    );
    push(
        100,
        "moderation",
        sign(
            &town,
            T0 + DAY + 2,
            Body::Moderation(ModerationBody {
                target: pid,
                action: ModerationAction::Restore,
                reason: "Signalement examiné : rien à retirer.".into(),
                tombstone: None,
            }),
        ),
    );
    push(
        0,
        "ballot",
        sign(
            &alice,
            VOTE_OPEN + 1,
            Body::Ballot(BallotBody {
                consultation: cid,
                choice: Choice::Approve(vec![pid]),
                assistance: None,
            }),
        ),
    );
    push(
        100,
        "revocation",
        sign(
            &town,
            VOTE_OPEN + 2,
            Body::Revocation(RevocationBody {
                subject: bob2.public_key(),
                reason: "Inscrit deux fois.".into(),
            }),
        ),
    );
    let mut ledger = Ledger::new();
    let mut events: Vec<SignedEvent> = named.iter().map(|(_, e)| e.clone()).collect();
    let mut names: Vec<&'static str> = named.iter().map(|(n, _)| *n).collect();
    for e in &events {
        ledger
            .append(&t, e.clone(), Clock::Replay)
            .expect("the sample log is valid");
    }
    let size = events.len() as u64;
    let root = palabre_core::admission::Record::root_at(&ledger, &t, size).expect("root");
    let cp = sign(
        &town,
        VOTE_CLOSE,
        Body::Checkpoint(CheckpointBody {
            consultation: cid,
            size,
            root,
        }),
    );
    ledger
        .append(&t, cp.clone(), Clock::Replay)
        .expect("checkpoint");
    events.push(cp);
    names.push("checkpoint");
    let (view, counted) = ledger.count(&cid).expect("counted");
    let result = sign(
        &town,
        VOTE_CLOSE + 1,
        Body::Result(Box::new(ResultBody {
            consultation: cid,
            checkpoints: vec![ClosedLog {
                authority: t,
                size,
                root,
            }],
            tally: counted.tally(&view),
        })),
    );
    ledger
        .append(&t, result.clone(), Clock::Replay)
        .expect("result");
    events.push(result);
    names.push("result");
    (events, names)
}

#[test]
fn golden_vectors() {
    // keys.json: seeds and the public keys they give (RFC 8032 key generation).
    let keys: Vec<Value> = [key(100), key_of(0, 0), key_of(0, 1), key_of(0, 2)]
        .iter()
        .map(|k| json!({"seed": hex::encode(k.seed()), "public_key": k.public_key().to_hex()}))
        .collect();
    check_file("keys.json", &json!({"keys": keys}));

    // events.json: one event of each kind, with what the signature covers and the id.
    let (events, names) = sample_log();
    let rows = event_rows(names.iter().copied().zip(&events));
    check_file(
        "events.json",
        &json!({"domain_tag": text(Domain::Event.tag()), "events": rows}),
    );

    // merkle.json: roots and proofs over that log.
    let mut tree = MemoryTree::new();
    for e in &events {
        tree.push(merkle::leaf_hash(e.bytes()));
    }
    let n = events.len() as u64;
    let roots: Vec<Value> = (0..=n)
        .map(|size| json!({"size": size, "root": merkle::root_at(&tree, size).expect("root").to_hex()}))
        .collect();
    let inclusion: Vec<Value> = [(0, n), (3, n), (n - 1, n), (2, 5)]
        .iter()
        .map(|&(index, size)| {
            let proof = merkle::inclusion_proof(&tree, index, size).expect("proof");
            json!({"index": index, "size": size, "proof": proof.iter().map(Hash::to_hex).collect::<Vec<_>>()})
        })
        .collect();
    let consistency: Vec<Value> = [(1, n), (4, 8), (5, n), (n, n)]
        .iter()
        .map(|&(old, new)| {
            let proof = merkle::consistency_proof(&tree, old, new).expect("proof");
            json!({"old_size": old, "new_size": new, "proof": proof.iter().map(Hash::to_hex).collect::<Vec<_>>()})
        })
        .collect();
    check_file(
        "merkle.json",
        &json!({"leaf_prefix": "00", "node_prefix": "01", "roots": roots, "inclusion": inclusion, "consistency": consistency}),
    );

    // heads.json: a signed tree head, a cosignature and a receipt.
    let town = key(100);
    let witness = key(101);
    let head = TreeHead {
        authority: town.public_key(),
        size: n,
        root: merkle::root_at(&tree, n).expect("root"),
        timestamp_ms: VOTE_CLOSE + 2,
    };
    let sth = head.sign(&town);
    let cosig = CosignedHead {
        head,
        witness: witness.public_key(),
        timestamp_ms: VOTE_CLOSE + 3,
    }
    .sign(&witness);
    let receipt = ReceiptBody {
        event_id: events[8].id(),
        index: 8,
        tree_head: sth,
    }
    .sign(&town);
    let canonical = |v: &dyn erased::Ser| v.canonical();
    check_file(
        "heads.json",
        &json!({
            "tree_head": {"signed": serde_json::to_value(sth).expect("json"), "signed_message": text(&Domain::TreeHead.message(&canonical(&head)))},
            "cosignature": {"signed": serde_json::to_value(cosig).expect("json"), "signed_message": text(&Domain::Cosignature.message(&canonical(&cosig.cosigned)))},
            "receipt": {"signed": serde_json::to_value(receipt).expect("json"), "signed_message": text(&Domain::Receipt.message(&canonical(&receipt.receipt)))},
        }),
    );

    // tallies.json: ballots and the result each method gives.
    check_file("tallies.json", &tally_vectors());
}

mod erased {
    pub trait Ser {
        fn canonical(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn canonical(&self) -> Vec<u8> {
            palabre_core::canonical::to_canonical(self).expect("canonical")
        }
    }
}

fn tally_vectors() -> Value {
    let methods = [
        Method::Support { threshold: 2 },
        Method::YesNoAbstain {},
        Method::Approval { max_choices: 2 },
        Method::Budget {
            budget: 500,
            rule: BudgetRule::Greedy,
        },
        Method::Budget {
            budget: 500,
            rule: BudgetRule::EqualShares,
        },
        Method::MajorityJudgment {
            grades: vec![
                "À rejeter".into(),
                "Passable".into(),
                "Bien".into(),
                "Très bien".into(),
            ],
        },
    ];
    let cases: Vec<Value> = methods
        .into_iter()
        .map(|method| {
            let mut w = World::new(1, 5, method.clone(), 3);
            let p = w.proposals.clone();
            for r in 0..5usize {
                let choice = match &method {
                    Method::YesNoAbstain {} => Choice::Answers([(p[0], [Answer::Yes, Answer::No, Answer::Abstain][r % 3]), (p[1], Answer::Yes)].into()),
                    Method::MajorityJudgment { .. } => Choice::Grades([(p[0], (r % 4) as u32), (p[1], 3 - (r % 4) as u32), (p[2], 2)].into()),
                    Method::Approval { .. } => Choice::Approve(if r % 2 == 0 { vec![p[0], p[2]] } else { vec![p[1]] }),
                    _ => Choice::Approve(p[..=(r % 3)].to_vec()),
                };
                w.vote(0, r, VOTE_OPEN + r as u64, choice).expect("ballot");
            }
            let (view, counted) = w.ledger.count(&w.consultation).expect("count");
            let ballots: Vec<Value> = counted.ballots.values().map(|(_, c)| serde_json::to_value(c).expect("json")).collect();
            json!({
                "method": serde_json::to_value(&method).expect("json"),
                "candidates": counted.candidates.iter().map(|c| json!({"id": c.id.to_string(), "cost": c.cost})).collect::<Vec<_>>(),
                "ballots": ballots,
                "tally": serde_json::to_value(counted.tally(&view)).expect("json"),
            })
        })
        .collect();
    json!({"cases": cases})
}

/// `staff.json`: a town's log where staff sign with their own keys — an appointment
/// (desk agent, moderator), a credential by the desk agent, an assisted ballot with the
/// exact statement the agent countersigned, and a moderation by the moderator.
#[test]
fn staff_vectors() {
    let town = key(100);
    let desk = key(110);
    let moderator = key(111);
    let resident = key_of(0, 0);
    let t = town.public_key();
    let mut log: Vec<(&'static str, SignedEvent)> = Vec::new();
    log.push((
        "authority",
        sign(&town, T0 - DAY, authority_body("Ville de Palabre")),
    ));
    for (name, who, role) in [
        ("staff (desk)", &desk, StaffRole::Desk),
        ("staff (moderator)", &moderator, StaffRole::Moderator),
    ] {
        let body = Body::Staff(StaffBody {
            subject: who.public_key(),
            name: format!("Agent {}", role.as_str()),
            role,
            active: true,
        });
        log.push((name, sign(&town, T0 - DAY, body)));
    }
    let credential = Body::Credential(CredentialBody {
        subject: resident.public_key(),
        replaces: None,
    });
    log.push((
        "credential by the desk agent",
        sign(&desk, T0 - DAY, credential),
    ));
    let c = sign(
        &town,
        T0 - DAY,
        consultation_body(&[t], Method::Support { threshold: 1 }),
    );
    let cid = c.id();
    log.push(("consultation", c));
    let p = sign(
        &town,
        PROPOSALS_OPEN,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "Des bancs".into(),
            body: "Sur la place.".into(),
            cost: None,
        }),
    );
    let pid = p.id();
    log.push(("proposal", p));
    let choice = Choice::Approve(vec![pid]);
    let at = VOTE_OPEN;
    let statement =
        Assistance::statement(&resident.public_key(), at, &cid, &choice).expect("statement");
    let assistance =
        Assistance::sign(&desk, &resident.public_key(), at, &cid, &choice).expect("signs");
    let ballot = sign(
        &resident,
        at,
        Body::Ballot(BallotBody {
            consultation: cid,
            choice,
            assistance: Some(assistance),
        }),
    );
    log.push(("assisted ballot", ballot));
    let hide = Body::Moderation(ModerationBody {
        target: pid,
        action: ModerationAction::Hide,
        reason: "Hors sujet".into(),
        tombstone: None,
    });
    log.push((
        "moderation by the moderator",
        sign(&moderator, VOTE_OPEN + 1, hide),
    ));
    // The log is valid: every event is admitted in order.
    let mut ledger = Ledger::new();
    for (name, e) in &log {
        ledger
            .append(&t, e.clone(), Clock::Replay)
            .unwrap_or_else(|r| panic!("{name}: {r}"));
    }
    let rows = event_rows(log.iter().map(|(name, e)| (*name, e)));
    check_file(
        "staff.json",
        &json!({
            "keys": {
                "town": hex::encode(town.seed()),
                "desk_agent": hex::encode(desk.seed()),
                "moderator": hex::encode(moderator.seed()),
                "resident": hex::encode(resident.seed()),
            },
            "events": rows,
            "assistance": {
                "domain_tag": text(Domain::Assistance.tag()),
                "statement": text(&statement),
                "signed_message": text(&Domain::Assistance.message(&statement)),
            },
        }),
    );
}

/// `purge.json`: a town's log in which an argument is hidden, then purged: the log as
/// served afterwards (the tombstone in the argument's place), the exact message the
/// town signed for the tombstone, and the root, the same before and after the purge.
#[test]
fn purge_vectors() {
    use palabre_core::purge::Entry;
    let town = key(100);
    let resident = key_of(0, 0);
    let t = town.public_key();
    let credential = Body::Credential(CredentialBody {
        subject: resident.public_key(),
        replaces: None,
    });
    let c = sign(
        &town,
        T0 - DAY,
        consultation_body(&[t], Method::Support { threshold: 1 }),
    );
    let cid = c.id();
    let p = sign(
        &town,
        PROPOSALS_OPEN,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "Des bancs".into(),
            body: "Sur la place.".into(),
            cost: None,
        }),
    );
    let argument = sign(
        &resident,
        PROPOSALS_OPEN + 1,
        Body::Argument(ArgumentBody {
            proposal: p.id(),
            stance: Stance::Con,
            body: "Le voisin du 2 rue Basse s'y oppose.".into(),
        }),
    );
    let tombstone_body = TombstoneBody::of(&argument, cid).expect("an argument");
    let tombstone = Tombstone::sign(tombstone_body.clone(), &town).expect("signs");
    let moderate =
        |at: u64, action, tombstone| moderation(&town, at, argument.id(), action, tombstone);
    let log = vec![
        sign(&town, T0 - DAY, authority_body("Ville de Palabre")),
        sign(&town, T0 - DAY, credential),
        c,
        p,
        argument.clone(),
        moderate(PROPOSALS_OPEN + 2, ModerationAction::Hide, None),
        moderate(
            PROPOSALS_OPEN + 3,
            ModerationAction::Purge,
            Some(tombstone.clone()),
        ),
    ];
    let mut ledger = Ledger::new();
    for e in &log {
        ledger
            .append(&t, e.clone(), Clock::Replay)
            .unwrap_or_else(|r| panic!("{r}"));
    }
    let served: Vec<&Entry> = ledger.log(&t).expect("log").entries.iter().collect();
    assert!(matches!(served[4], Entry::Purged(_)));
    let size = log.len() as u64;
    let mut before = merkle::MemoryTree::new();
    for e in &log {
        before.push(merkle::leaf_hash(e.bytes()));
    }
    let root = merkle::root_at(&before, size).expect("root");
    assert_eq!(Record::root_at(&ledger, &t, size), Some(root));
    let purged_body = palabre_core::canonical::to_canonical(&tombstone_body).expect("canonical");
    check_file(
        "purge.json",
        &json!({
            "keys": {
                "town": hex::encode(town.seed()),
                "resident": hex::encode(resident.seed()),
            },
            "purged_event": text(argument.bytes()),
            "entries_served": served
                .iter()
                .map(|e| json!({"entry": text(e.bytes()), "leaf_hash": e.leaf().to_hex()}))
                .collect::<Vec<_>>(),
            "tombstone": {
                "domain_tag": text(Domain::Purged.tag()),
                "signed_message": text(&Domain::Purged.message(&purged_body)),
            },
            "root": root.to_hex(),
            "size": size,
        }),
    );
}
