//! One table row per rejection code: the smallest input that provokes it. A last test
//! checks that the table covers every code the core defines.

use std::collections::BTreeSet;

use palabre_core::admission::{Clock, admit};
use palabre_core::canonical::to_canonical;
use palabre_core::crypto::{Domain, SecretKey};
use palabre_core::event::*;
use palabre_core::ids::{EventId, Hash};
use palabre_core::rejection::Rejection;
use palabre_core::tally::{Answer, BudgetRule, Choice, Method};
use palabre_core::testkit::world::*;
use serde_json::{Value, json};

/// Signs arbitrary JSON as an event (so stateless rules can be provoked).
fn raw(key: &SecretKey, mut unsigned: Value) -> Vec<u8> {
    let bytes = to_canonical(&unsigned).expect("test JSON is valid content");
    let sig = key.sign(Domain::Event, &bytes);
    unsigned["sig"] = Value::String(sig.to_hex());
    to_canonical(&unsigned).expect("still valid")
}

fn ballot_json(key: &SecretKey) -> Value {
    json!({
        "author": key.public_key().to_hex(),
        "body": {"choice": {"approve": []}, "consultation": "00".repeat(32)},
        "created_at_ms": VOTE_OPEN,
        "kind": "ballot",
        "v": 1
    })
}

fn decode(bytes: Vec<u8>) -> Result<SignedEvent, Rejection> {
    SignedEvent::from_bytes(bytes)
}

/// Asserts that `got` is a rejection with `code`, and returns the code.
fn check<T: std::fmt::Debug>(code: &'static str, got: Result<T, Rejection>) -> &'static str {
    match got {
        Err(r) => assert_eq!(r.code(), code, "expected {code}, got {r:?}"),
        Ok(v) => panic!("expected {code}, but it was accepted: {v:?}"),
    }
    code
}

fn approval_world() -> World {
    World::new(2, 4, Method::Approval { max_choices: 2 }, 3)
}

#[test]
fn every_rejection_code_has_a_row() {
    let k = key(1);
    let mut seen = BTreeSet::new();
    let mut row = |code| {
        seen.insert(code);
    };

    // Stateless rules.
    row(check("too_large", decode(vec![b' '; 70_000])));
    row(check("malformed", decode(b"not json".to_vec())));
    let mut missing = ballot_json(&k);
    missing.as_object_mut().expect("object").remove("kind");
    row(check("malformed", decode(raw(&k, missing))));
    let good = raw(&k, ballot_json(&k));
    let mut spaced = String::from_utf8(good.clone()).expect("utf8");
    spaced.insert(1, ' ');
    row(check("not_canonical", decode(spaced.into_bytes())));
    let float = String::from_utf8(good.clone())
        .expect("utf8")
        .replace(&VOTE_OPEN.to_string(), "1.5");
    row(check("not_an_integer", decode(float.into_bytes())));
    let mut null = ballot_json(&k);
    null["body"] = Value::Null;
    let null_bytes = serde_json_canonicalizer::to_vec(&null).expect("encodes");
    row(check("null_value", decode(null_bytes)));
    let mut deep = ballot_json(&k);
    deep["body"]["choice"] = json!({"approve": [[[[[[[[1]]]]]]]]});
    let deep_bytes = serde_json_canonicalizer::to_vec(&deep).expect("encodes");
    row(check("too_deep", decode(deep_bytes)));
    let mut v2 = ballot_json(&k);
    v2["v"] = json!(2);
    row(check("unsupported_version", decode(raw(&k, v2))));
    let mut poll = ballot_json(&k);
    poll["kind"] = json!("poll");
    row(check("unknown_kind", decode(raw(&k, poll))));
    let mut bad_key = ballot_json(&k);
    bad_key["author"] = json!("zz");
    row(check("bad_key", decode(raw(&k, bad_key))));
    let mut weak = ballot_json(&k);
    weak["author"] = json!(format!("01{}", "00".repeat(31)));
    row(check("weak_key", decode(raw(&k, weak))));
    let mut flipped = good.clone();
    let sig_at = String::from_utf8(good.clone())
        .expect("utf8")
        .find("\"sig\":\"")
        .expect("sig")
        + 7;
    flipped[sig_at] = if flipped[sig_at] == b'0' { b'1' } else { b'0' };
    row(check("bad_signature", decode(flipped)));
    let long_title = Event {
        author: k.public_key(),
        created_at_ms: T0,
        body: Body::Authority(AuthorityBody {
            name: "x".repeat(121),
            code: String::new(),
            addresses: vec![],
            encryption_key: None,
            encryption_pok: None,
        }),
    };
    row(check("over_limit", long_title.sign(&k)));
    let bell = Event {
        author: k.public_key(),
        created_at_ms: T0,
        body: Body::Authority(AuthorityBody {
            name: "Ville\u{7}".into(),
            code: String::new(),
            addresses: vec![],
            encryption_key: None,
            encryption_pok: None,
        }),
    };
    row(check("invalid_text", bell.sign(&k)));

    // Rules against the record.
    let mut w = approval_world();
    let town0 = w.towns[0].pk();
    let town1 = w.towns[1].pk();
    let ok = w.ballot(0, 0, VOTE_OPEN, Choice::Approve(vec![]));
    w.ledger
        .append(&town0, ok.clone(), Clock::Replay)
        .expect("first ballot");
    row(check(
        "duplicate",
        w.ledger.append(&town0, ok, Clock::Replay),
    ));

    let stranger = key(200);
    let cred = sign(
        &stranger,
        T0,
        Body::Credential(CredentialBody {
            subject: key(201).public_key(),
            replaces: None,
        }),
    );
    row(check(
        "unknown_authority",
        admit(&w.ledger, &stranger.public_key(), &cred, Clock::Replay).into_result(),
    ));
    let by_resident = sign(
        &w.towns[0].residents[0],
        T0,
        Body::Credential(CredentialBody {
            subject: key(202).public_key(),
            replaces: None,
        }),
    );
    row(check(
        "wrong_author",
        w.ledger.append(&town0, by_resident, Clock::Replay),
    ));

    let nowhere = EventId(Hash([7; 32]));
    let lost_ballot = sign(
        &w.towns[0].residents[1],
        VOTE_OPEN,
        Body::Ballot(BallotBody {
            consultation: nowhere,
            choice: Choice::Approve(vec![]),
            assistance: None,
        }),
    );
    row(check(
        "unknown_consultation",
        w.ledger.append(&town0, lost_ballot, Clock::Replay),
    ));
    let lost_argument = sign(
        &w.towns[0].residents[1],
        T0 + DAY,
        Body::Argument(ArgumentBody {
            proposal: nowhere,
            stance: Stance::Pro,
            body: "Oui".into(),
        }),
    );
    row(check(
        "unknown_proposal",
        w.ledger.append(&town0, lost_argument, Clock::Replay),
    ));
    let lost_moderation = sign(
        &w.towns[0].key,
        T0 + DAY,
        Body::Moderation(ModerationBody {
            target: nowhere,
            action: ModerationAction::Hide,
            reason: "Injurieux".into(),
            tombstone: None,
        }),
    );
    row(check(
        "unknown_target",
        w.ledger.append(&town0, lost_moderation, Clock::Replay),
    ));

    row(check(
        "outside_window",
        w.vote(0, 1, VOTE_OPEN - 1, Choice::Approve(vec![])),
    ));
    row(check(
        "outside_window",
        w.vote(0, 1, VOTE_CLOSE, Choice::Approve(vec![])),
    ));
    let early = w.ballot(0, 1, VOTE_OPEN, Choice::Approve(vec![]));
    row(check(
        "clock_skew",
        admit(
            &w.ledger,
            &town0,
            &early,
            Clock::Live {
                now_ms: VOTE_OPEN + 6 * 60 * 1000,
            },
        )
        .into_result(),
    ));
    assert_eq!(
        admit(
            &w.ledger,
            &town0,
            &early,
            Clock::Live {
                now_ms: VOTE_OPEN + 60 * 1000
            }
        )
        .into_result(),
        Ok(())
    );

    let outsider = sign(
        &key(203),
        VOTE_OPEN,
        Body::Ballot(BallotBody {
            consultation: w.consultation,
            choice: Choice::Approve(vec![]),
            assistance: None,
        }),
    );
    row(check(
        "not_eligible",
        w.ledger.append(&town0, outsider, Clock::Replay),
    ));
    // A resident of town 1 voting in town 0's log: not eligible there.
    let wrong_log = w.ballot(1, 0, VOTE_OPEN, Choice::Approve(vec![]));
    row(check(
        "not_eligible",
        w.ledger.append(&town0, wrong_log, Clock::Replay),
    ));

    let revoke = sign(
        &w.towns[0].key,
        T0,
        Body::Revocation(RevocationBody {
            subject: w.towns[0].residents[2].public_key(),
            reason: "Déménagé".into(),
        }),
    );
    w.ledger
        .append(&town0, revoke.clone(), Clock::Replay)
        .expect("revocation");
    row(check(
        "revoked_key",
        w.vote(0, 2, VOTE_OPEN, Choice::Approve(vec![])),
    ));
    let revoke_again = sign(
        &w.towns[0].key,
        T0 + 1,
        Body::Revocation(RevocationBody {
            subject: w.towns[0].residents[2].public_key(),
            reason: "Déménagé".into(),
        }),
    );
    row(check(
        "already_revoked",
        w.ledger.append(&town0, revoke_again, Clock::Replay),
    ));
    let revoke_unknown = sign(
        &w.towns[0].key,
        T0,
        Body::Revocation(RevocationBody {
            subject: key(204).public_key(),
            reason: "?".into(),
        }),
    );
    row(check(
        "not_credentialed",
        w.ledger.append(&town0, revoke_unknown, Clock::Replay),
    ));

    let new_key = key(205);
    let replace = sign(
        &w.towns[0].key,
        T0,
        Body::Credential(CredentialBody {
            subject: new_key.public_key(),
            replaces: Some(w.towns[0].residents[3].public_key()),
        }),
    );
    w.ledger
        .append(&town0, replace, Clock::Replay)
        .expect("replacement");
    row(check(
        "replaced_key",
        w.vote(0, 3, VOTE_OPEN, Choice::Approve(vec![])),
    ));
    let twice = sign(
        &w.towns[0].key,
        T0 + 2,
        Body::Credential(CredentialBody {
            subject: new_key.public_key(),
            replaces: None,
        }),
    );
    row(check(
        "already_credentialed",
        w.ledger.append(&town0, twice, Clock::Replay),
    ));

    // A consultation of town 0 alone: town 1's residents cannot take part in its log.
    let solo = sign(
        &w.towns[0].key,
        T0,
        consultation_body(&[town0], Method::Approval { max_choices: 1 }),
    );
    let solo_id = solo.id();
    w.ledger
        .append(&town0, solo, Clock::Replay)
        .expect("solo consultation");
    let foreign = sign(
        &w.towns[1].residents[0],
        T0 + DAY,
        Body::Proposal(ProposalBody {
            consultation: solo_id,
            title: "Chez nous".into(),
            body: "…".into(),
            cost: None,
        }),
    );
    row(check(
        "not_participating",
        w.ledger.append(&town1, foreign, Clock::Replay),
    ));

    // A ballot naming a proposal recorded nowhere waits for the log that may hold it; one
    // naming a proposal of another consultation is refused for good.
    let unknown = w.vote(0, 1, VOTE_OPEN, Choice::Approve(vec![nowhere]));
    assert!(unknown.as_ref().is_err_and(Rejection::awaits_other_log));
    row(check("unknown_proposal", unknown));
    let elsewhere = sign(
        &w.towns[0].key,
        T0 + DAY,
        Body::Proposal(ProposalBody {
            consultation: solo_id,
            title: "Ailleurs".into(),
            body: "…".into(),
            cost: None,
        }),
    );
    let elsewhere_id = elsewhere.id();
    w.ledger
        .append(&town0, elsewhere, Clock::Replay)
        .expect("a proposal of the solo consultation");
    let misplaced = w.vote(0, 1, VOTE_OPEN, Choice::Approve(vec![elsewhere_id]));
    assert!(misplaced.as_ref().is_err_and(|r| !r.awaits_other_log()));
    row(check("invalid_choice", misplaced));
    let too_many = Choice::Approve(w.proposals.clone());
    row(check("invalid_choice", w.vote(0, 1, VOTE_OPEN, too_many)));
    let wrong_kind = Choice::Answers([(w.proposals[0], Answer::Yes)].into());
    row(check("invalid_choice", w.vote(0, 1, VOTE_OPEN, wrong_kind)));

    // A grade label is one line of text: no control character.
    let tabbed = sign(
        &w.towns[0].key,
        T0,
        consultation_body(
            &[town0],
            Method::MajorityJudgment {
                grades: vec!["Bien".into(), "Très\tbien".into()],
            },
        ),
    );
    row(check(
        "invalid_method",
        w.ledger.append(&town0, tabbed, Clock::Replay),
    ));
    let zero = sign(
        &w.towns[0].key,
        T0,
        consultation_body(&[town0], Method::Approval { max_choices: 0 }),
    );
    row(check(
        "invalid_method",
        w.ledger.append(&town0, zero, Clock::Replay),
    ));
    let Body::Consultation(mut backwards) = consultation_body(&[town0], Method::YesNoAbstain {})
    else {
        unreachable!("a consultation body")
    };
    backwards.vote_close_ms = backwards.vote_open_ms;
    row(check(
        "bad_windows",
        w.ledger.append(
            &town0,
            sign(&w.towns[0].key, T0, Body::Consultation(backwards)),
            Clock::Replay,
        ),
    ));
    let without_me = sign(
        &w.towns[0].key,
        T0,
        consultation_body(&[town1], Method::YesNoAbstain {}),
    );
    row(check(
        "bad_participants",
        w.ledger.append(&town0, without_me, Clock::Replay),
    ));

    let ballot_target = w.ballot(0, 0, VOTE_OPEN + 1, Choice::Approve(vec![]));
    let ballot_id = ballot_target.id();
    w.ledger
        .append(&town0, ballot_target, Clock::Replay)
        .expect("second ballot");
    let hide_ballot = sign(
        &w.towns[0].key,
        VOTE_OPEN + 2,
        Body::Moderation(ModerationBody {
            target: ballot_id,
            action: ModerationAction::Hide,
            reason: "Non".into(),
            tombstone: None,
        }),
    );
    row(check(
        "not_moderatable",
        w.ledger.append(&town0, hide_ballot, Clock::Replay),
    ));
    // Staff: a countersignature by the voter's own key; a role that does not allow it.
    let voter = key_of(0, 0);
    let own = Assistance::sign(
        &voter,
        &voter.public_key(),
        VOTE_OPEN,
        &w.consultation,
        &Choice::Answers(Default::default()),
    )
    .expect("signs");
    let self_assisted = Event {
        author: voter.public_key(),
        created_at_ms: VOTE_OPEN,
        body: Body::Ballot(BallotBody {
            consultation: w.consultation,
            choice: Choice::Answers(Default::default()),
            assistance: Some(own),
        }),
    }
    .sign(&voter);
    row(check("bad_assistance", self_assisted));
    let moderator = key(90);
    w.ledger
        .append(
            &town0,
            sign(
                &w.towns[0].key,
                T0,
                Body::Staff(StaffBody {
                    subject: moderator.public_key(),
                    name: "Modération".into(),
                    role: StaffRole::Moderator,
                    active: true,
                }),
            ),
            Clock::Replay,
        )
        .expect("appointment");
    let credential_by_moderator = sign(
        &moderator,
        T0,
        Body::Credential(CredentialBody {
            subject: key(91).public_key(),
            replaces: None,
        }),
    );
    row(check(
        "not_staff",
        w.ledger
            .append(&town0, credential_by_moderator, Clock::Replay),
    ));
    // The same code when the kind is one no staff may sign (the authority's own: here a
    // checkpoint), and `wrong_author` for a key that is not staff at all.
    let checkpoint_by_moderator = sign(
        &moderator,
        VOTE_CLOSE,
        Body::Checkpoint(CheckpointBody {
            consultation: w.consultation,
            size: 1,
            root: Hash([0; 32]),
        }),
    );
    row(check(
        "not_staff",
        w.ledger
            .append(&town0, checkpoint_by_moderator, Clock::Replay),
    ));
    let checkpoint_by_stranger = sign(
        &key(92),
        VOTE_CLOSE,
        Body::Checkpoint(CheckpointBody {
            consultation: w.consultation,
            size: 1,
            root: Hash([0; 32]),
        }),
    );
    row(check(
        "wrong_author",
        w.ledger
            .append(&town0, checkpoint_by_stranger, Clock::Replay),
    ));

    let mut b = World::new(
        1,
        2,
        Method::Budget {
            budget: 1000,
            rule: BudgetRule::Greedy,
        },
        0,
    );
    row(check("bad_cost", b.propose(0, 0, "Sans coût", None)));
    row(check("bad_cost", b.propose(0, 0, "Trop cher", Some(1001))));
    let mut y = World::new(1, 2, Method::YesNoAbstain {}, 0);
    row(check("bad_cost", y.propose(0, 0, "Avec coût", Some(5))));

    // Closing.
    let size = w.ledger.log(&town0).expect("log").entries.len() as u64;
    let root = palabre_core::record::Record::root_at(&w.ledger, &town0, size).expect("root");
    let checkpoint = |at: u64, size: u64, root: Hash| {
        sign(
            &w.towns[0].key,
            at,
            Body::Checkpoint(CheckpointBody {
                consultation: w.consultation,
                size,
                root,
            }),
        )
    };
    row(check(
        "not_closed",
        w.ledger.append(
            &town0,
            checkpoint(VOTE_CLOSE - 1, size, root),
            Clock::Replay,
        ),
    ));
    row(check(
        "checkpoint_mismatch",
        w.ledger.append(
            &town0,
            checkpoint(VOTE_CLOSE, size, Hash([1; 32])),
            Clock::Replay,
        ),
    ));
    row(check(
        "checkpoint_mismatch",
        w.ledger.append(
            &town0,
            checkpoint(VOTE_CLOSE, size + 1, root),
            Clock::Replay,
        ),
    ));
    w.ledger
        .append(&town0, checkpoint(VOTE_CLOSE, size, root), Clock::Replay)
        .expect("checkpoint");
    row(check(
        "already_closed",
        w.ledger.append(
            &town0,
            checkpoint(VOTE_CLOSE + 1, size, root),
            Clock::Replay,
        ),
    ));
    let wrong_result = sign(
        &w.towns[0].key,
        VOTE_CLOSE + 1,
        Body::Result(Box::new(ResultBody {
            consultation: w.consultation,
            checkpoints: vec![],
            tally: palabre_core::tally::tally(&Method::YesNoAbstain {}, &[], std::iter::empty()),
        })),
    );
    row(check(
        "result_mismatch",
        w.ledger.append(&town0, wrong_result, Clock::Replay),
    ));

    // Purges (more in `purge.rs`).
    let mut p = World::new(1, 1, Method::YesNoAbstain {}, 1);
    let town_p = p.towns[0].pk();
    let target = p.ledger.event(&p.proposals[0]).expect("proposal").clone();
    let tombstone = |k: &SecretKey| {
        palabre_core::event::Tombstone::sign(
            palabre_core::event::TombstoneBody::of(&target, p.consultation).expect("tombstone"),
            k,
        )
        .expect("signs")
    };
    let moderate = |action, tombstone| {
        sign(
            &key(100),
            T0,
            Body::Moderation(ModerationBody {
                target: target.id(),
                action,
                reason: "Données personnelles".into(),
                tombstone,
            }),
        )
    };
    let purge = moderate(ModerationAction::Purge, Some(tombstone(&key(100))));
    let forged = moderate(ModerationAction::Purge, Some(tombstone(&key(1))));
    let hide = moderate(ModerationAction::Hide, None);
    let restore = moderate(ModerationAction::Restore, None);
    row(check(
        "not_hidden",
        p.ledger.append(&town_p, purge.clone(), Clock::Replay),
    ));
    p.ledger
        .append(&town_p, hide, Clock::Replay)
        .expect("hidden");
    row(check(
        "bad_tombstone",
        p.ledger.append(&town_p, forged, Clock::Replay),
    ));
    p.ledger
        .append(&town_p, purge, Clock::Replay)
        .expect("purged");
    row(check(
        "purged",
        p.ledger
            .append(&town_p, restore, Clock::Live { now_ms: T0 }),
    ));

    // A purge whose tombstone has the wrong shape (a member missing) is `bad_tombstone`,
    // not `malformed`, like a tombstone received in a log's place.
    let mut wrong_shape = json!({
        "author": key(100).public_key().to_hex(),
        "body": {
            "action": "purge",
            "reason": "Données personnelles",
            "target": target.id().to_string(),
            "tombstone": {"purged": {"id": target.id().to_string()}, "sig": "00".repeat(64)},
        },
        "created_at_ms": T0,
        "kind": "moderation",
        "v": 1
    });
    row(check(
        "bad_tombstone",
        decode(raw(&key(100), wrong_shape.clone())),
    ));
    wrong_shape["body"]["tombstone"] = json!("purged");
    row(check("bad_tombstone", decode(raw(&key(100), wrong_shape))));
    // A weak key inside a body is `weak_key`, as in `author`.
    let weak_subject = json!({
        "author": key(100).public_key().to_hex(),
        "body": {"subject": format!("01{}", "00".repeat(31))},
        "created_at_ms": T0,
        "kind": "credential",
        "v": 1
    });
    row(check("weak_key", decode(raw(&key(100), weak_subject))));
    // A tombstone received in a log's place with a member missing: `bad_tombstone` too.
    let served = serde_json_canonicalizer::to_vec(&json!({
        "purged": {"id": target.id().to_string()},
        "sig": "00".repeat(64),
    }))
    .expect("encodes");
    row(check(
        "bad_tombstone",
        palabre_core::purge::Entry::from_bytes(served, &town_p),
    ));

    // Quotas (more in `quotas.rs`).
    for code in super::quotas::quota_rejection_rows() {
        row(code);
    }

    // Secret ballots' codes (`ceremony.rs`).
    for code in super::ceremony::secret_rejection_rows() {
        row(code);
    }
    // The mix's and the opening's (`opening_faults.rs`).
    for code in super::opening_faults::opening_rejection_rows() {
        row(code);
    }

    let all: BTreeSet<&str> = Rejection::ALL_CODES.iter().copied().collect();
    let unknown: Vec<&&str> = seen.difference(&all).collect();
    assert!(
        unknown.is_empty(),
        "codes seen that core does not list: {unknown:?}"
    );
    let missing: Vec<&&str> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "codes without a row: {missing:?}");
    assert_eq!(all.len(), Rejection::ALL_CODES.len(), "codes are unique");
}
