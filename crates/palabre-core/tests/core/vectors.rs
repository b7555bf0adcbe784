//! Golden test vectors under `tests/data/v1/`: what an independent verifier can check its
//! own code against (PROTOCOL.md, "Test vectors"). Each file is regenerated here from
//! fixed seeds and compared byte for byte. Files are added to, never edited: a change in
//! any of them is a change of the protocol. To add a new file, run the tests once with
//! `PALABRE_WRITE_NEW_VECTORS=1`: only files that do not exist yet are written.

use std::path::PathBuf;

use palabre_core::admission::Clock;
use palabre_core::crypto::Domain;
use palabre_core::event::*;
use palabre_core::head::{CosignedHead, ReceiptBody, TreeHead};
use palabre_core::ids::Hash;
use palabre_core::ledger::Ledger;
use palabre_core::merkle::{self, MemoryTree};
use palabre_core::record::Record;
use palabre_core::tally::{Answer, BudgetRule, Choice, Method};
use palabre_core::testkit::world::*;
use serde_json::{Value, json};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1")
}

pub fn check_file(name: &str, value: &Value) {
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
pub fn event_rows<'e>(named: impl Iterator<Item = (&'e str, &'e SignedEvent)>) -> Vec<Value> {
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
    let root = palabre_core::record::Record::root_at(&ledger, &t, size).expect("root");
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

/// `ed25519.json`: keys and signatures Palabre refuses, made by `vectors/ed25519.py`
/// (plain Python arithmetic and libsodium), not by this code. Every claim of each case is
/// recomputed here with curve25519-dalek, Palabre must answer each event with the code
/// given, and PROTOCOL.md's libsodium recipe (`crypto_core_ed25519_is_valid_point`, then
/// `crypto_sign_verify_detached`) must accept exactly the cases without a code.
#[test]
fn ed25519_vectors() {
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::scalar::Scalar;
    use palabre_core::crypto::{KeyError, PublicKey, Signature};
    use sha2::{Digest, Sha512};

    let text = std::fs::read_to_string(data_dir().join("ed25519.json")).expect("ed25519.json");
    let file: Value = serde_json::from_str(&text).expect("JSON");
    let bytes = |v: &Value| hex::decode(v.as_str().expect("hex text")).expect("hex");
    let b32 = |v: &Value| -> [u8; 32] { bytes(v).try_into().expect("32 bytes") };
    let claims = |enc: &[u8; 32], claims: &Value, what: &str| {
        let point = CompressedEdwardsY(*enc).decompress();
        let got = match point {
            None => {
                json!({"canonical": false, "on_curve": false, "small_order": false, "torsion_free": false})
            }
            Some(p) => json!({
                "canonical": p.compress().to_bytes() == *enc,
                "on_curve": true,
                "small_order": p.is_small_order(),
                "torsion_free": p.is_torsion_free(),
            }),
        };
        assert_eq!(&got, claims, "{what} {}", hex::encode(enc));
    };
    let code_of_key = |enc: &[u8; 32]| match PublicKey::from_bytes(enc) {
        Ok(_) => None,
        Err(KeyError::Weak) => Some("weak_key"),
        Err(_) => Some("bad_key"),
    };
    assert_eq!(file["domain_tag"], json!(text_of(Domain::Event.tag())));
    let seed = b32(&file["seed"]);
    assert_eq!(seed, [120; 32], "the seed of key(120)");
    let honest = key(120);
    let cases = file["cases"].as_array().expect("cases");
    let names: Vec<&str> = cases.iter().filter_map(|c| c["name"].as_str()).collect();
    for needed in [
        "valid",
        "s_plus_l",
        "small_order_r_identity",
        "non_canonical_r",
        "mixed_order_key",
        "small_order_key",
        "identity_key_forgery",
        "non_canonical_identity_key",
        "non_canonical_key",
    ] {
        assert!(names.contains(&needed), "ed25519.json has a case {needed}");
    }
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let a = b32(&case["public_key"]);
        let sig: [u8; 64] = bytes(&case["signature"]).try_into().expect("64 bytes");
        let r: [u8; 32] = sig[..32].try_into().expect("32 bytes");
        let message = case["message"].as_str().expect("message").as_bytes();
        claims(&a, &case["key"], name);
        claims(&r, &case["r"], name);
        let s_canonical = Option::<Scalar>::from(Scalar::from_canonical_bytes(
            sig[32..].try_into().expect("32 bytes"),
        ))
        .is_some();
        assert_eq!(json!(s_canonical), case["s_canonical"], "{name}");
        // The equation as a lenient verifier checks it: points decoded with y reduced,
        // S reduced modulo ℓ.
        let (cofactorless, cofactored) = match (
            CompressedEdwardsY(a).decompress(),
            CompressedEdwardsY(r).decompress(),
        ) {
            (Some(a_pt), Some(r_pt)) => {
                let k = Scalar::from_bytes_mod_order_wide(
                    &Sha512::new()
                        .chain_update(r)
                        .chain_update(a)
                        .chain_update(message)
                        .finalize()
                        .into(),
                );
                let s = Scalar::from_bytes_mod_order(sig[32..].try_into().expect("32 bytes"));
                let (lhs, rhs) = (ED25519_BASEPOINT_POINT * s, r_pt + a_pt * k);
                (lhs == rhs, lhs.mul_by_cofactor() == rhs.mul_by_cofactor())
            }
            _ => (false, false),
        };
        assert_eq!(json!(cofactorless), case["cofactorless_equation"], "{name}");
        assert_eq!(json!(cofactored), case["cofactored_equation"], "{name}");
        // The message is the event's: the tag and the event without `sig`.
        let event = case["signed_event"].as_str().expect("event").as_bytes();
        let unsigned = text_of(event).replace(&format!(",\"sig\":\"{}\"", hex::encode(sig)), "");
        assert_eq!(
            text_of(message),
            format!("{}{unsigned}", text_of(Domain::Event.tag())),
            "{name}"
        );
        // Palabre's verdict, on the event and on the bare key and signature.
        let expected = case["code"].as_str();
        let got = SignedEvent::from_bytes(event.to_vec()).err();
        assert_eq!(got.as_ref().map(|r| r.code()), expected, "{name}: {got:?}");
        let bare = code_of_key(&a).or_else(|| {
            let key = PublicKey::from_bytes(&a).expect("checked");
            key.verify_message(message, &Signature(sig))
                .err()
                .map(|_| "bad_signature")
        });
        assert_eq!(bare, expected, "{name}");
        // PROTOCOL.md's recipe with libsodium gives the same verdict.
        let sodium = case["libsodium_crypto_sign_verify_detached"] == json!(true)
            && case["libsodium_crypto_core_ed25519_is_valid_point"] == json!(true);
        assert_eq!(sodium, expected.is_none(), "{name}");
        if name == "valid" {
            assert_eq!(a, *honest.public_key().as_bytes());
            let event = Event {
                author: honest.public_key(),
                created_at_ms: VOTE_OPEN,
                body: Body::Ballot(BallotBody {
                    consultation: palabre_core::ids::EventId(Hash([0; 32])),
                    choice: Choice::Approve(vec![]),
                    assistance: None,
                }),
            }
            .sign(&honest)
            .expect("signs");
            assert_eq!(text_of(event.bytes()), text_of(event_bytes_of(case)));
        }
    }
    let keys = file["small_order_keys"].as_array().expect("keys");
    assert_eq!(
        keys.iter()
            .filter(|k| k["canonical"] == json!(true))
            .count(),
        8
    );
    for row in keys {
        let a = b32(&row["public_key"]);
        let mut point_claims = row.clone();
        let object = point_claims.as_object_mut().expect("object");
        for extra in [
            "public_key",
            "code",
            "libsodium_crypto_core_ed25519_is_valid_point",
        ] {
            object.remove(extra);
        }
        claims(&a, &point_claims, "small-order key");
        assert_eq!(code_of_key(&a), row["code"].as_str(), "{}", hex::encode(a));
        assert_eq!(
            row["libsodium_crypto_core_ed25519_is_valid_point"],
            json!(false)
        );
    }
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

fn event_bytes_of(case: &Value) -> &[u8] {
    case["signed_event"].as_str().expect("event").as_bytes()
}

/// `canonical_json.json`: received bytes that are not acceptable signed content, each
/// with the code a node answers, and one that is. Each case starts from the same valid
/// ballot and changes one thing; `bytes_hex` is exact, `text` is there when it is UTF-8.
#[test]
fn canonical_json_vectors() {
    let voter = key(121);
    let event = |body: Value, at: Value| -> Value {
        json!({
            "author": voter.public_key().to_hex(),
            "body": body,
            "created_at_ms": at,
            "kind": "ballot",
            "v": 1
        })
    };
    let ballot_body = json!({"choice": {"approve": []}, "consultation": "00".repeat(32)});
    // Signs a JSON value as an event, whatever its content (the rules are the point).
    let signed = |unsigned: Value| -> String {
        let bytes = serde_json_canonicalizer::to_vec(&unsigned).expect("encodes");
        let sig = voter.sign(Domain::Event, &bytes);
        let mut whole = unsigned;
        whole["sig"] = Value::String(sig.to_hex());
        String::from_utf8(serde_json_canonicalizer::to_vec(&whole).expect("encodes")).expect("utf8")
    };
    let valid = signed(event(ballot_body.clone(), json!(VOTE_OPEN)));
    let sig_member = &valid[valid.find(",\"sig\"").expect("sig")..valid.find(",\"v\"").expect("v")];
    // The valid event with `from` replaced by `to` (once), signature kept.
    let edit = |from: &str, to: &str| -> Vec<u8> {
        assert!(valid.contains(from), "{from}");
        valid.replacen(from, to, 1).into_bytes()
    };
    let time = VOTE_OPEN.to_string();
    let mut cases: Vec<(&str, &str, Vec<u8>, Option<&str>)> = vec![
        (
            "valid",
            "A canonical, validly signed ballot.",
            valid.clone().into_bytes(),
            None,
        ),
        (
            "space_after_colon",
            "A space after a colon.",
            edit("\"kind\":", "\"kind\": "),
            Some("not_canonical"),
        ),
        (
            "trailing_newline",
            "A line feed after the object.",
            format!("{valid}\n").into_bytes(),
            Some("not_canonical"),
        ),
        (
            "members_out_of_order",
            "`v` before `sig`.",
            {
                let without = valid.replace(",\"v\":1", "");
                without
                    .replacen(",\"sig\"", ",\"v\":1,\"sig\"", 1)
                    .into_bytes()
            },
            Some("not_canonical"),
        ),
        (
            "duplicate_member",
            "`kind` twice.",
            edit(
                "\"kind\":\"ballot\"",
                "\"kind\":\"ballot\",\"kind\":\"ballot\"",
            ),
            Some("not_canonical"),
        ),
        (
            "escaped_letter",
            "A letter escaped (`ballo\\u0074`): the same string, not in its canonical form.",
            edit("\"kind\":\"ballot\"", "\"kind\":\"ballo\\u0074\""),
            Some("not_canonical"),
        ),
        (
            "exponent",
            "`created_at_ms` written with an exponent.",
            edit(&time, "1.900864e12"),
            Some("not_an_integer"),
        ),
        (
            "fraction",
            "`created_at_ms` with a fraction `.0`.",
            edit(&time, &format!("{time}.0")),
            Some("not_an_integer"),
        ),
        (
            "negative_zero",
            "`-0`.",
            edit(&time, "-0"),
            Some("not_an_integer"),
        ),
        (
            "beyond_2_53",
            "2^53, one more than the largest integer allowed.",
            edit(&time, "9007199254740992"),
            Some("not_an_integer"),
        ),
        (
            "null",
            "`null` as the value of a member.",
            edit("\"choice\":{\"approve\":[]}", "\"choice\":null"),
            Some("null_value"),
        ),
        (
            "nine_levels",
            "Nine levels of nesting: the event object is level 1.",
            edit("\"approve\":[]", "\"approve\":[[[[[[]]]]]]"),
            Some("too_deep"),
        ),
        (
            "eight_levels",
            "Eight levels of nesting: allowed by the JSON rules (the body is then refused for its shape).",
            edit("\"approve\":[]", "\"approve\":[[[[[]]]]]"),
            Some("malformed"),
        ),
        (
            "not_json",
            "Not JSON.",
            b"ballot".to_vec(),
            Some("malformed"),
        ),
        (
            "byte_order_mark",
            "A UTF-8 byte order mark before the object.",
            [&[0xef, 0xbb, 0xbf][..], valid.as_bytes()].concat(),
            Some("malformed"),
        ),
        (
            "invalid_utf8",
            "A byte 0xff inside a string.",
            edit("ballot", "ball\u{0}t")
                .into_iter()
                .map(|b| if b == 0 { 0xff } else { b })
                .collect(),
            Some("malformed"),
        ),
        (
            "lone_surrogate",
            "A lone surrogate escape `\\ud800` in a string.",
            edit("\"kind\":\"ballot\"", "\"kind\":\"ballot\\ud800\""),
            Some("malformed"),
        ),
        (
            "array",
            "A JSON array, not an object.",
            format!("[{valid}]").into_bytes(),
            Some("malformed"),
        ),
        (
            "missing_member",
            "No `kind` member.",
            edit(",\"kind\":\"ballot\"", ""),
            Some("malformed"),
        ),
        (
            "extra_member",
            "A seventh member.",
            edit("\"v\":1", "\"v\":1,\"w\":1"),
            Some("malformed"),
        ),
        (
            "version_2",
            "`v` = 2.",
            edit("\"v\":1", "\"v\":2"),
            Some("unsupported_version"),
        ),
        (
            "unknown_kind",
            "`kind` = `poll`.",
            edit("\"kind\":\"ballot\"", "\"kind\":\"poll\""),
            Some("unknown_kind"),
        ),
        (
            "uppercase_key",
            "The author key in uppercase hex.",
            edit(
                &voter.public_key().to_hex(),
                &voter.public_key().to_hex().to_uppercase(),
            ),
            Some("bad_key"),
        ),
        (
            "uppercase_id",
            "The consultation id in uppercase hex.",
            {
                let upper = signed(event(
                    json!({"choice": {"approve": []}, "consultation": "AB".repeat(32)}),
                    json!(VOTE_OPEN),
                ));
                upper.into_bytes()
            },
            Some("malformed"),
        ),
        (
            "short_signature",
            "`sig` of 126 hex characters.",
            edit(
                &sig_member[..sig_member.len() - 3],
                &sig_member[..sig_member.len() - 5],
            ),
            Some("malformed"),
        ),
        (
            "other_content_same_signature",
            "`created_at_ms` changed by one, signature kept.",
            edit(&time, &(VOTE_OPEN + 1).to_string()),
            Some("bad_signature"),
        ),
    ];
    // Escaped non-ASCII: `é` must be written as itself, never `\u00e9`.
    let accented = signed(json!({
        "author": voter.public_key().to_hex(),
        "body": {"addresses": [], "code": "", "name": "Montréal"},
        "created_at_ms": T0,
        "kind": "authority",
        "v": 1
    }));
    let escaped = accented.replacen("é", "\\u00e9", 1).into_bytes();
    cases.push((
        "escaped_non_ascii",
        "`é` written `\\u00e9`.",
        escaped,
        Some("not_canonical"),
    ));
    let escaped_upper = accented
        .replacen("\"code\":\"\"", "\"code\":\"\\u001F\"", 1)
        .into_bytes();
    cases.push((
        "uppercase_escape",
        "A control character escaped `\\u001F` (RFC 8785 writes `\\u001f`).",
        escaped_upper,
        Some("not_canonical"),
    ));
    let tab_escape = accented
        .replacen("\"code\":\"\"", "\"code\":\"\\u0009\"", 1)
        .into_bytes();
    cases.push((
        "long_tab_escape",
        "A tab escaped `\\u0009` (RFC 8785 writes `\\t`).",
        tab_escape,
        Some("not_canonical"),
    ));
    let rows: Vec<Value> = cases
        .into_iter()
        .map(|(name, explanation, bytes, code)| {
            let got = SignedEvent::from_bytes(bytes.clone())
                .err()
                .map(|r| r.code());
            assert_eq!(got, code, "{name}");
            let mut row = json!({
                "name": name,
                "explanation": explanation,
                "bytes_hex": hex::encode(&bytes),
                "code": code,
            });
            if let Ok(text) = String::from_utf8(bytes) {
                row["text"] = Value::String(text);
            }
            row
        })
        .collect();
    check_file(
        "canonical_json.json",
        &json!({"domain_tag": text(Domain::Event.tag()), "cases": rows}),
    );
}

/// `every_kind.json`: one town's valid log holding an event of each of the eleven kinds
/// (`staff` among them: an appointment and a dismissal), staff signing with their own
/// keys, an assisted ballot, and the root after each entry.
#[test]
fn every_kind_vectors() {
    let town = key(100);
    let desk = key(110);
    let alice = key_of(0, 0);
    let bob = key_of(0, 1);
    let bob2 = key_of(0, 2);
    let t = town.public_key();
    let mut log: Vec<(&'static str, SignedEvent)> = Vec::new();
    log.push((
        "authority",
        sign(
            &town,
            T0 - DAY,
            authority_body("Ville de Palabre-sur-Loire"),
        ),
    ));
    let appoint = |active: bool| {
        Body::Staff(StaffBody {
            subject: desk.public_key(),
            name: "Accueil de la mairie".into(),
            role: StaffRole::Desk,
            active,
        })
    };
    log.push((
        "staff (appointment of a desk agent)",
        sign(&town, T0 - DAY, appoint(true)),
    ));
    let credential = |subject: &palabre_core::crypto::SecretKey,
                      replaces: Option<&palabre_core::crypto::SecretKey>| {
        Body::Credential(CredentialBody {
            subject: subject.public_key(),
            replaces: replaces.map(|k| k.public_key()),
        })
    };
    log.push((
        "credential (by the town)",
        sign(&town, T0 - DAY, credential(&alice, None)),
    ));
    log.push((
        "credential (by the desk agent)",
        sign(&desk, T0 - DAY, credential(&bob, None)),
    ));
    log.push((
        "credential (replacement of a lost key)",
        sign(&desk, T0, credential(&bob2, Some(&bob))),
    ));
    let c = sign(
        &town,
        T0,
        consultation_body(&[t], Method::Support { threshold: 1 }),
    );
    let cid = c.id();
    log.push(("consultation", c));
    let p = sign(
        &alice,
        PROPOSALS_OPEN + 1,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "Un banc à l'ombre".into(),
            body: "Près de la fontaine.".into(),
            cost: None,
        }),
    );
    let pid = p.id();
    log.push(("proposal", p));
    log.push((
        "argument",
        sign(
            &bob2,
            PROPOSALS_OPEN + 2,
            Body::Argument(ArgumentBody {
                proposal: pid,
                stance: Stance::Pro,
                body: "Les anciens s'y reposeront.".into(),
            }),
        ),
    ));
    log.push((
        "moderation",
        moderation(
            &town,
            PROPOSALS_OPEN + 3,
            pid,
            ModerationAction::Restore,
            None,
        ),
    ));
    let choice = Choice::Approve(vec![pid]);
    let at = VOTE_OPEN + 1;
    let assistance = Assistance::sign(&desk, &bob2.public_key(), at, &cid, &choice).expect("signs");
    log.push((
        "ballot (assisted by the desk agent)",
        sign(
            &bob2,
            at,
            Body::Ballot(BallotBody {
                consultation: cid,
                choice: choice.clone(),
                assistance: Some(assistance),
            }),
        ),
    ));
    log.push((
        "ballot",
        sign(
            &alice,
            VOTE_OPEN + 2,
            Body::Ballot(BallotBody {
                consultation: cid,
                choice,
                assistance: None,
            }),
        ),
    ));
    log.push((
        "revocation",
        sign(
            &town,
            VOTE_OPEN + 3,
            Body::Revocation(RevocationBody {
                subject: alice.public_key(),
                reason: "Inscrite deux fois.".into(),
            }),
        ),
    ));
    log.push((
        "staff (dismissal)",
        sign(&town, VOTE_OPEN + 4, appoint(false)),
    ));
    let mut ledger = Ledger::new();
    for (name, e) in &log {
        ledger
            .append(&t, e.clone(), Clock::Replay)
            .unwrap_or_else(|r| panic!("{name}: {r}"));
    }
    let size = log.len() as u64;
    let root = Record::root_at(&ledger, &t, size).expect("root");
    let checkpoint = sign(
        &town,
        VOTE_CLOSE,
        Body::Checkpoint(CheckpointBody {
            consultation: cid,
            size,
            root,
        }),
    );
    ledger
        .append(&t, checkpoint.clone(), Clock::Replay)
        .expect("checkpoint");
    log.push(("checkpoint", checkpoint));
    let (view, counted) = ledger.count(&cid).expect("counted");
    let tally = counted.tally(&view);
    // The assisted ballot counts (Alice's, unassisted, went with her revocation), and the
    // signed result says how many counted ballots the desk agent countersigned.
    assert_eq!(
        tally.assisted(),
        &[palabre_core::tally::Assisted {
            agent: desk.public_key(),
            ballots: 1
        }]
    );
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
            tally,
        })),
    );
    ledger
        .append(&t, result.clone(), Clock::Replay)
        .expect("result");
    log.push(("result", result));
    let kinds: std::collections::BTreeSet<&str> =
        log.iter().map(|(_, e)| e.kind().as_str()).collect();
    // Every kind of this file's time; the secret-ballot kinds that came after (the
    // ceremony's four and the opening's four) have
    // their own file (`secret_events.json`), and published files are never edited.
    assert_eq!(kinds.len(), Kind::ALL.len() - 8, "every kind: {kinds:?}");
    let mut tree = MemoryTree::new();
    let rows: Vec<Value> = event_rows(log.iter().map(|(name, e)| (*name, e)))
        .into_iter()
        .zip(&log)
        .map(|(mut row, (_, e))| {
            tree.push(merkle::leaf_hash(e.bytes()));
            let n = tree.size();
            row["root_after"] = Value::String(merkle::root_at(&tree, n).expect("root").to_hex());
            row
        })
        .collect();
    check_file(
        "every_kind.json",
        &json!({
            "keys": {
                "town": hex::encode(town.seed()),
                "desk_agent": hex::encode(desk.seed()),
                "alice": hex::encode(alice.seed()),
                "bob": hex::encode(bob.seed()),
                "bob_new_key": hex::encode(bob2.seed()),
            },
            "events": rows,
        }),
    );
}

/// `invitation.json`: an invitation code as printed, normalised and hashed, and a
/// redemption request for it with the exact statement the fresh key signed.
#[test]
fn invitation_vectors() {
    use palabre_core::invitation::{KeyPossession, code_from_random, code_hash, normalize_code};
    let town = key(100);
    let fresh = key(122);
    let printed = code_from_random(&[7; 16]);
    let typed = printed.to_lowercase().replace('-', " ");
    let normalized = normalize_code(&typed).expect("well formed");
    let hash = code_hash(&town.public_key(), &normalized);
    let mut hashed = b"palabre/v1/invitation\n".to_vec();
    hashed.extend_from_slice(town.public_key().as_bytes());
    hashed.extend_from_slice(normalized.as_bytes());
    assert_eq!(hash, Hash::of(&hashed));
    let statement = KeyPossession {
        authority: town.public_key(),
        invitation: hash,
        subject: fresh.public_key(),
    };
    let proof = statement.sign(&fresh);
    let canonical = palabre_core::canonical::to_canonical(&statement).expect("canonical");
    check_file(
        "invitation.json",
        &json!({
            "keys": {"town": hex::encode(town.seed()), "resident": hex::encode(fresh.seed())},
            "printed_code": printed,
            "typed_code": typed,
            "normalised_code": normalized,
            "hashed_bytes_hex": hex::encode(&hashed),
            "invitation_hash": hash.to_hex(),
            "possession": {
                "domain_tag": text(Domain::KeyPossession.tag()),
                "statement": text(&canonical),
                "signed_message": text(&Domain::KeyPossession.message(&canonical)),
            },
            "redeem_request": {
                "code": typed,
                "key": fresh.public_key().to_hex(),
                "proof": proof.to_hex(),
            },
        }),
    );
}

/// `equal_shares.json`: Method of Equal Shares cases computed by `vectors/equal_shares.py`
/// (exact fractions, the endowment raised one unit at a time), recounted here: the
/// winners, in order, and the money spent must be the same.
#[test]
fn equal_shares_vectors() {
    use palabre_core::tally::{Candidate, Tally, tally};
    let text =
        std::fs::read_to_string(data_dir().join("equal_shares.json")).expect("equal_shares.json");
    let file: Value = serde_json::from_str(&text).expect("JSON");
    let cases = file["cases"].as_array().expect("cases");
    let names: Vec<&str> = cases.iter().filter_map(|c| c["name"].as_str()).collect();
    for needed in ["add1u_raises_the_endowment", "all_fit", "zero_voters"] {
        assert!(names.contains(&needed), "equal_shares.json has {needed}");
    }
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let method: Method = serde_json::from_value(case["method"].clone()).expect("method");
        let candidates: Vec<Candidate> = case["candidates"]
            .as_array()
            .expect("candidates")
            .iter()
            .map(|c| Candidate {
                id: c["id"].as_str().expect("id").parse().expect("an id"),
                cost: c["cost"].as_u64(),
            })
            .collect();
        let ballots: Vec<Choice> =
            serde_json::from_value(case["ballots"].clone()).expect("ballots");
        let Tally::Budget { winners, spent, .. } = tally(&method, &candidates, &ballots) else {
            panic!("{name}: a budget tally");
        };
        let winners: Vec<String> = winners.iter().map(|w| w.to_string()).collect();
        assert_eq!(json!(winners), case["winners"], "{name}");
        assert_eq!(json!(spent), case["spent"], "{name}");
    }
}
