//! Secret ballots through admission: the trustees' deals and complaints, QUAL and the
//! election key, the layout and sealed ballots (SECRET-BALLOTS.md §4.3–§4.6), with the
//! rows of the rejection table for every new code, a threshold decryption that gives the
//! sealed choices back, and the flip-any-byte property of §7.2.

use palabre_core::admission::Clock;
use palabre_core::canonical::to_canonical;
use palabre_core::crypto::{Domain, PublicKey, SecretKey};
use palabre_core::dkg;
use palabre_core::event::secret::{DkgComplaintBody, Point, Secrecy};
use palabre_core::event::*;
use palabre_core::group::{self, B};
use palabre_core::rejection::Rejection;
use palabre_core::sealed::{self, ColumnKind};
use palabre_core::secret::build::{self, Opened};
use palabre_core::secret::rules;
use palabre_core::tally::{Answer, Choice, Method};
use palabre_core::testkit::secret_world::*;
use palabre_core::testkit::world::*;
use proptest::prelude::*;
use serde_json::{Value, json};

fn code<T: std::fmt::Debug>(expected: &'static str, got: Result<T, Rejection>) -> &'static str {
    match got {
        Err(r) => assert_eq!(r.code(), expected, "expected {expected}, got {r:?}"),
        Ok(v) => panic!("expected {expected}, but it was accepted: {v:?}"),
    }
    expected
}

fn admit(w: &SecretWorld, log: &PublicKey, e: &SignedEvent) -> Result<(), Rejection> {
    palabre_core::admission::admit(&w.ledger, log, e, Clock::Replay).into_result()
}

fn support() -> Method {
    Method::Support { threshold: 1 }
}

/// Re-signs an event's JSON after `edit` (as a misbehaving author would).
fn resign(key: &SecretKey, e: &SignedEvent, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(e.bytes()).expect("json");
    v.as_object_mut().expect("object").remove("sig");
    edit(&mut v);
    let bytes = to_canonical(&v).expect("canonical");
    v["sig"] = Value::String(key.sign(Domain::Event, &bytes).to_hex());
    to_canonical(&v).expect("canonical")
}

/// A bad share: the deal's share for trustee `to` (1-based) gets σ + 1, re-signed.
fn deal_with_bad_share(w: &SecretWorld, town: usize, to: u64) -> SignedEvent {
    let mut body = w.deal_body(town, &[77; 32]);
    let to_key = *w
        .view()
        .body
        .secrecy
        .as_ref()
        .and_then(|s| s.trustee(to))
        .expect("trustee");
    let share = body
        .shares
        .iter_mut()
        .find(|s| s.to == to_key)
        .expect("a share to it");
    share.s.0 += group::Scalar::ONE;
    sign(&w.towns[town].key, DEAL_AT, Body::DkgDeal(body))
}

/// Every new code of secret ballots, each provoked by its smallest input; called by the
/// rejection table (`rejections.rs`).
pub fn secret_rejection_rows() -> Vec<&'static str> {
    let mut rows = Vec::new();
    let k = key(1);

    // Stateless: points, scalars, encryption keys.
    let trustee = build::trustee_key(&k.public_key(), &[3; 32]);
    let authority = trustee_authority(&k, &trustee, "Ville");
    let not_canonical = "ff".repeat(32);
    rows.push(code(
        "bad_point",
        SignedEvent::from_bytes(resign(&k, &authority, |v| {
            v["body"]["encryption_key"] = json!(not_canonical)
        })),
    ));
    rows.push(code(
        "bad_scalar",
        SignedEvent::from_bytes(resign(&k, &authority, |v| {
            v["body"]["encryption_pok"]["s"] = json!("ff".repeat(32))
        })),
    ));
    let other = build::trustee_key(&k.public_key(), &[4; 32]);
    rows.push(code(
        "bad_encryption_key",
        SignedEvent::from_bytes(resign(&k, &authority, |v| {
            v["body"]["encryption_pok"] = serde_json::to_value(other.pok).expect("json")
        })),
    ));
    // Another town's proof does not prove this town's key either (ctx = authority key).
    let copied = Event {
        author: key(2).public_key(),
        created_at_ms: T0,
        body: Body::Authority(AuthorityBody {
            name: "Copie".into(),
            code: String::new(),
            addresses: vec![],
            encryption_key: Some(trustee.key),
            encryption_pok: Some(trustee.pok),
        }),
    };
    rows.push(code("bad_encryption_key", copied.sign(&key(2))));

    // The consultation's secrecy.
    let mut w = SecretWorld::new(3, 2, support(), 2, 2, true);
    let pks: Vec<_> = w.towns.iter().map(SecretTown::pk).collect();
    let organiser = key(100);
    let organiser_pk = organiser.public_key();
    let consult = |edit: &dyn Fn(&mut ConsultationBody)| {
        let mut b = secret_consultation_body(&pks, support(), 2, true);
        edit(&mut b);
        sign(&organiser, T0, Body::Consultation(Box::new(b)))
    };
    rows.push(code(
        "bad_trustees",
        admit(
            &w,
            &organiser_pk,
            &consult(&|b| b.secrecy.as_mut().expect("secret").threshold = 1),
        ),
    ));
    rows.push(code(
        "bad_trustees",
        admit(
            &w,
            &organiser_pk,
            &consult(&|b| b.secrecy.as_mut().expect("secret").trustees.reverse()),
        ),
    ));
    // A trustee that declared no encryption key.
    let plain = key(150);
    w.ledger
        .append(
            &plain.public_key(),
            sign(&plain, T0 - DAY, authority_body("Sans clé")),
            Clock::Replay,
        )
        .expect("authority");
    rows.push(code(
        "bad_trustees",
        admit(
            &w,
            &organiser_pk,
            &consult(&|b| {
                let s = b.secrecy.as_mut().expect("secret");
                s.trustees.push(plain.public_key());
                s.trustees.sort();
            }),
        ),
    ));
    // One not declared yet awaits its log.
    let stranger = key(151).public_key();
    let awaiting = admit(
        &w,
        &organiser_pk,
        &consult(&|b| {
            let s = b.secrecy.as_mut().expect("secret");
            s.trustees.push(stranger);
            s.trustees.sort();
        }),
    );
    assert!(awaiting.as_ref().is_err_and(Rejection::awaits_other_log));
    rows.push(code(
        "bad_windows",
        admit(
            &w,
            &organiser_pk,
            &consult(&|b| b.secrecy.as_mut().expect("secret").keys_close_ms = VOTE_OPEN),
        ),
    ));
    rows.push(code(
        "invalid_method",
        admit(
            &w,
            &organiser_pk,
            &consult(&|b| b.show_running_results = true),
        ),
    ));
    rows.push(code(
        "invalid_method",
        admit(
            &w,
            &organiser_pk,
            &consult(&|b| b.method = Method::Approval { max_choices: 2 }),
        ),
    ));
    rows.push(code(
        "invalid_method",
        admit(
            &w,
            &organiser_pk,
            &consult(&|b| {
                b.method = Method::YesNoAbstain {};
                b.secrecy.as_mut().expect("secret").split = false;
            }),
        ),
    ));

    // Deals.
    let deal0 = w.deal_event(0, &[9; 32]);
    let late = sign(
        &w.towns[1].key,
        KEYS_CLOSE,
        Body::DkgDeal(w.deal_body(1, &[10; 32])),
    );
    rows.push(code("outside_window", admit(&w, &w.towns[1].pk(), &late)));
    let mut short = w.deal_body(1, &[10; 32]);
    short.commitments.pop();
    let short = sign(&w.towns[1].key, DEAL_AT, Body::DkgDeal(short));
    rows.push(code("bad_deal", admit(&w, &w.towns[1].pk(), &short)));
    let mut forged_pok = w.deal_body(1, &[10; 32]);
    forged_pok.pok = w.deal_body(1, &[11; 32]).pok;
    let forged_pok = sign(&w.towns[1].key, DEAL_AT, Body::DkgDeal(forged_pok));
    rows.push(code("bad_deal", admit(&w, &w.towns[1].pk(), &forged_pok)));
    // A deal copied into another trustee's log proves nothing there (ctx = its index).
    let copied_deal = sign(
        &w.towns[2].key,
        DEAL_AT,
        Body::DkgDeal(w.deal_body(1, &[10; 32])),
    );
    rows.push(code("bad_deal", admit(&w, &w.towns[2].pk(), &copied_deal)));
    w.append(0, deal0).expect("deal");
    rows.push(code(
        "already_dealt",
        w.append(0, w.deal_event(0, &[12; 32])),
    ));

    // Complaints.
    let bad = deal_with_bad_share(&w, 1, 1);
    let victim = w.town_of_trustee(1);
    let complainer_key = key(100 + victim as u8);
    let e_secret = w.towns[victim].trustee.secret.clone();
    let early_complaint = build::complaint(
        &w.view(),
        &bad,
        &complainer_key.public_key(),
        &e_secret,
        &[5; 32],
    )
    .expect("complaint");
    let early = sign(
        &complainer_key,
        KEYS_CLOSE,
        Body::DkgComplaint(early_complaint.clone()),
    );
    // The deal complained of is in a log not caught up yet.
    assert_eq!(
        w.append(victim, early.clone()).err(),
        Some(Rejection::UnknownTarget)
    );
    w.append(1, bad.clone())
        .expect("a well-formed deal with a bad share");
    let mut forged = early_complaint.clone();
    forged.d = Point(forged.d.0 + B);
    rows.push(code(
        "bad_complaint",
        w.append(
            victim,
            sign(&complainer_key, KEYS_CLOSE, Body::DkgComplaint(forged)),
        ),
    ));
    rows.push(code(
        "outside_window",
        w.append(
            victim,
            sign(
                &complainer_key,
                KEYS_CLOSE + HOUR,
                Body::DkgComplaint(early_complaint),
            ),
        ),
    ));

    // The election key.
    let (a, b) = (w.town_of_trustee(1), w.town_of_trustee(2));
    let _ = (a, b);
    let ek = w.election_key_event(SETUP_AT).expect("two of three dealt");
    rows.push(code(
        "outside_window",
        w.append(0, w.election_key_event(KEYS_CLOSE).expect("body")),
    ));
    let mut wrong = match ek.body() {
        Body::ElectionKey(b) => b.clone(),
        _ => unreachable!(),
    };
    wrong.key = Point(wrong.key.0 + B);
    rows.push(code(
        "bad_election_key",
        w.append(0, sign(&w.towns[0].key, SETUP_AT, Body::ElectionKey(wrong))),
    ));

    // Sealed ballots before the key and layout; the layout.
    let before = Body::SealedBallot(palabre_core::event::secret::SealedBallotBody {
        consultation: w.consultation,
        sealed: palabre_core::event::secret::Sealed {
            layout: w.consultation,
            groups: vec![],
            pok: palabre_core::event::secret::SealedPok {
                c: palabre_core::event::secret::Sc(group::Scalar::ONE),
                s: vec![],
            },
        },
        assistance: None,
    });
    rows.push(code(
        "no_election_key",
        w.append(0, sign(&w.towns[0].residents[0], VOTE_OPEN, before.clone())),
    ));
    w.append(0, ek).expect("election key");
    let mut unordered = build::layout(&w.view(), &w.proposals).expect("layout");
    unordered.columns.reverse();
    rows.push(code(
        "bad_layout",
        w.append(
            0,
            sign(&w.towns[0].key, SETUP_AT, Body::BallotLayout(unordered)),
        ),
    ));
    rows.push(code(
        "outside_window",
        w.append(0, w.layout_event(S_PROPOSALS_CLOSE - 1)),
    ));
    w.append(0, w.layout_event(SETUP_AT)).expect("layout");
    rows.push(code(
        "bad_layout",
        w.append(0, w.layout_event(SETUP_AT + 1)),
    ));

    // Ballots.
    let choice = Choice::Approve(vec![w.proposals[0]]);
    let public = Body::Ballot(BallotBody {
        consultation: w.consultation,
        choice: choice.clone(),
        assistance: None,
    });
    rows.push(code(
        "sealed_required",
        w.append(0, sign(&w.towns[0].residents[0], VOTE_OPEN, public)),
    ));
    let mut wrong_layout = w.sealed_body(0, 0, &choice, &[1; 32]);
    wrong_layout.sealed.layout = w.proposals[0];
    rows.push(code(
        "wrong_layout",
        w.append(
            0,
            sign(
                &w.towns[0].residents[0],
                VOTE_OPEN,
                Body::SealedBallot(wrong_layout),
            ),
        ),
    ));
    let mut short = w.sealed_body(0, 0, &choice, &[1; 32]);
    short.sealed.groups.pop();
    rows.push(code(
        "invalid_choice",
        w.append(
            0,
            sign(
                &w.towns[0].residents[0],
                VOTE_OPEN,
                Body::SealedBallot(short),
            ),
        ),
    ));
    // A ciphertext copied from another voter's ballot: its proof is bound to the author.
    let theirs = w.sealed_body(0, 1, &choice, &[2; 32]);
    rows.push(code(
        "bad_pok",
        w.append(
            0,
            sign(
                &w.towns[0].residents[0],
                VOTE_OPEN,
                Body::SealedBallot(theirs),
            ),
        ),
    ));
    w.append(0, w.sealed_ballot(0, 0, VOTE_OPEN, &choice, &[1; 32]))
        .expect("a sealed ballot");

    // A sealed ballot in a public consultation.
    let mut public_world = World::new(1, 1, support(), 1);
    let pw_log = public_world.towns[0].pk();
    let mut sealed = w.sealed_body(0, 0, &choice, &[1; 32]);
    sealed.consultation = public_world.consultation;
    rows.push(code(
        "not_sealed",
        public_world.ledger.append(
            &pw_log,
            sign(
                &public_world.towns[0].residents[0],
                VOTE_OPEN,
                Body::SealedBallot(sealed),
            ),
            Clock::Replay,
        ),
    ));
    let _ = &mut public_world;
    // Both `choice` and `sealed`.
    let both = resign(
        &w.towns[0].residents[0],
        &w.sealed_ballot(0, 0, VOTE_OPEN, &choice, &[3; 32]),
        |v| v["body"]["choice"] = json!({"approve": []}),
    );
    rows.push(code("malformed", SignedEvent::from_bytes(both)));
    rows
}

#[test]
fn a_secret_consultation_runs_its_ceremony_and_takes_sealed_ballots() {
    let mut w = SecretWorld::ready(5, 3, support(), 3, 3, true);
    let c = w.view();
    let q = palabre_core::secret::admit::qualification(&w.ledger, &c);
    assert_eq!(q.qual, vec![1, 2, 3, 4, 5]);
    assert!(q.void_complaints.is_empty() && q.bad_deals.is_empty());
    let choice = Choice::Approve(vec![w.proposals[1]]);
    w.append(1, w.sealed_ballot(1, 0, VOTE_OPEN, &choice, &[1; 32]))
        .expect("sealed ballot");
    // A revote is a sealed ballot like any other.
    w.append(
        1,
        w.sealed_ballot(1, 0, VOTE_OPEN + 1, &Choice::Approve(vec![]), &[2; 32]),
    )
    .expect("revote");
    // An assisted sealed ballot: the desk agent countersigns the sealed member.
    let desk = key(210);
    w.append(
        2,
        sign(
            &w.towns[2].key,
            T0,
            Body::Staff(StaffBody {
                subject: desk.public_key(),
                name: "Accueil".into(),
                role: StaffRole::Desk,
                active: true,
            }),
        ),
    )
    .expect("desk");
    let voter = &key_of(2, 1);
    let mut body = w.sealed_body(2, 1, &choice, &[4; 32]);
    body.assistance = Some(
        Assistance::sign_sealed(
            &desk,
            &voter.public_key(),
            VOTE_OPEN,
            &w.consultation,
            &body.sealed,
        )
        .expect("countersigned"),
    );
    w.append(2, sign(voter, VOTE_OPEN, Body::SealedBallot(body.clone())))
        .expect("assisted sealed ballot");
    // The countersignature covers the sealed member: another sealing is refused.
    let mut other = w.sealed_body(2, 1, &choice, &[5; 32]);
    other.assistance = body.assistance.clone();
    let refused = Event {
        author: voter.public_key(),
        created_at_ms: VOTE_OPEN,
        body: Body::SealedBallot(other),
    }
    .sign(voter);
    assert_eq!(refused.err(), Some(Rejection::BadAssistance));
}

#[test]
fn any_threshold_of_trustees_opens_what_was_sealed() {
    for (method, split, choice) in [
        (support(), true, None),
        (Method::YesNoAbstain {}, true, Some(0)),
        (
            Method::MajorityJudgment {
                grades: vec!["Insuffisant".into(), "Bien".into(), "Très bien".into()],
            },
            true,
            Some(1),
        ),
        (Method::Approval { max_choices: 2 }, false, None),
    ] {
        let w = SecretWorld::ready(4, 2, method.clone(), 3, 2, split);
        let c = w.view();
        let p = &w.proposals;
        let choice = match (&method, choice) {
            (Method::YesNoAbstain {}, _) => Choice::Answers(
                [(p[0], Answer::No), (p[2], Answer::Abstain)]
                    .into_iter()
                    .collect(),
            ),
            (Method::MajorityJudgment { .. }, _) => {
                Choice::Grades([(p[1], 2), (p[2], 1)].into_iter().collect())
            }
            _ => Choice::Approve(vec![p[0], p[2]]),
        };
        let sealed = w.sealed_body(1, 0, &choice, &[8; 32]);
        let q = palabre_core::secret::admit::qualification(&w.ledger, &c);
        let secrecy: &Secrecy = c.body.secrecy.as_ref().expect("secret");
        let params = secrecy.params().expect("params");
        // Each trustee's share from the recorded deals (its own deal re-made from its seed).
        let shares: Vec<(u64, dkg::Secret)> = (1..=params.n)
            .map(|j| {
                let town = w.town_of_trustee(j);
                let own = build::deal(
                    &c,
                    &w.towns[town].pk(),
                    &w.encryption_keys(),
                    &[9 + town as u8; 32],
                )
                .expect("deal")
                .1;
                let x = build::secret_share(
                    &c,
                    &q,
                    &w.towns[town].pk(),
                    &w.towns[town].trustee.secret,
                    Some(&own),
                )
                .expect("share");
                assert_eq!(group::B * x.0, q.verification_key(j));
                (j, x)
            })
            .collect();
        for subset in [[1u64, 2], [2, 4], [3, 1]] {
            let opened: Vec<_> = sealed
                .sealed
                .ciphertexts()
                .iter()
                .map(|ct| {
                    let parts: Vec<(u64, group::RistrettoPoint)> = subset
                        .iter()
                        .map(|j| (*j, shares[*j as usize - 1].1.0 * ct.alpha))
                        .collect();
                    dkg::recombine(params, &ct.beta, &parts).expect("recombines")
                })
                .collect();
            let expected = build::plaintexts(&c, &w.layout_body(), &choice).expect("plaintexts");
            assert_eq!(opened, expected, "{method:?} with trustees {subset:?}");
        }
        if split && matches!(method, Method::YesNoAbstain {}) {
            let values: Vec<Option<u8>> = build::plaintexts(&c, &w.layout_body(), &choice)
                .expect("plaintexts")
                .iter()
                .map(|m| sealed::decode_column(ColumnKind::YesNoAbstain, m))
                .collect();
            assert_eq!(values, vec![Some(2), Some(0), Some(3)]);
        }
    }
}

#[test]
fn a_bad_share_is_complained_of_and_its_dealer_leaves_qual() {
    let mut w = SecretWorld::new(4, 1, support(), 2, 2, true);
    for town in [0, 2, 3] {
        w.append(town, w.deal_event(town, &[9 + town as u8; 32]))
            .expect("deal");
    }
    let bad = deal_with_bad_share(&w, 1, 2);
    w.append(1, bad.clone()).expect("its shape is fine");
    let c = w.view();
    let mut convicting = None;
    for j in 1..=4u64 {
        let town = w.town_of_trustee(j);
        if town == 1 {
            continue;
        }
        let me = &w.towns[town];
        match build::open_deal(&c, &bad, &me.pk(), &me.trustee.secret).expect("opens") {
            Opened::Share(_) => assert_ne!(j, 2),
            Opened::Complain => {
                assert_eq!(j, 2, "only the share to trustee 2 is bad");
                let body = build::complaint(&c, &bad, &me.pk(), &me.trustee.secret, &[6; 32])
                    .expect("complaint");
                convicting = Some(sign(&me.key, KEYS_CLOSE, Body::DkgComplaint(body)));
            }
        }
    }
    let complaint = convicting.expect("trustee 2 complains");
    w.append(w.town_of_trustee(2), complaint).expect("admitted");
    // A false complaint (against a good deal) is admitted and void.
    let honest = w.deals[0];
    let honest_deal = w.ledger.event(&honest).expect("deal").clone();
    let liar_j = (1..=4)
        .find(|j| {
            let t = w.town_of_trustee(*j);
            t != 1 && Some(&w.towns[t].pk()) != Some(honest_deal.author())
        })
        .expect("a liar");
    let liar = w.town_of_trustee(liar_j);
    let false_body: DkgComplaintBody = build::complaint(
        &c,
        &honest_deal,
        &w.towns[liar].pk(),
        &w.towns[liar].trustee.secret,
        &[7; 32],
    )
    .expect("complaint");
    let false_complaint = sign(
        &w.towns[liar].key,
        KEYS_CLOSE,
        Body::DkgComplaint(false_body),
    );
    w.append(liar, false_complaint)
        .expect("a void complaint is admitted");
    let q = palabre_core::secret::admit::qualification(&w.ledger, &c);
    let dealer = c
        .body
        .secrecy
        .as_ref()
        .and_then(|s| s.index_of(&w.towns[1].pk()))
        .expect("index");
    assert!(!q.qual.contains(&dealer));
    assert_eq!(q.qual.len(), 3);
    assert_eq!(q.void_complaints.len(), 1);
    let ek = w.election_key_event(SETUP_AT).expect("QUAL of 3 ≥ t");
    w.append(0, ek).expect("admitted");
}

#[test]
fn fewer_than_t_deals_is_a_setup_failure() {
    let mut w = SecretWorld::new(4, 1, support(), 1, 3, true);
    for town in [0, 1] {
        w.append(town, w.deal_event(town, &[9 + town as u8; 32]))
            .expect("deal");
    }
    assert_eq!(
        w.election_key_event(SETUP_AT).err(),
        Some(Rejection::BadElectionKey)
    );
    // The consultation takes no ballot, sealed or not.
    let public = Body::Ballot(BallotBody {
        consultation: w.consultation,
        choice: Choice::Approve(vec![]),
        assistance: None,
    });
    assert_eq!(
        w.append(0, sign(&w.towns[0].residents[0], VOTE_OPEN, public))
            .err(),
        Some(Rejection::SealedRequired)
    );
}

#[test]
fn the_layout_needs_its_columns_recorded_and_refuses_too_many() {
    let w = SecretWorld::new(2, 1, support(), 1, 2, true);
    let c = w.view();
    let unknown = palabre_core::ids::EventId(palabre_core::ids::Hash([7; 32]));
    let body = build::layout(&c, &[w.proposals[0], unknown]).expect("layout");
    let e = sign(&w.towns[0].key, SETUP_AT, Body::BallotLayout(body));
    let r = palabre_core::admission::admit(&w.ledger, &w.towns[0].pk(), &e, Clock::Replay);
    assert_eq!(r.into_result().err(), Some(Rejection::UnknownProposal));
    let many: Vec<_> = (0..=200u16)
        .map(|i| {
            let mut h = [0u8; 32];
            h[..2].copy_from_slice(&i.to_be_bytes());
            palabre_core::ids::EventId(palabre_core::ids::Hash(h))
        })
        .collect();
    assert_eq!(
        build::layout(&c, &many).err().map(|r| r.code()),
        Some("over_limit")
    );
    assert!(rules::canonical_layout(&c, &many[..200]).is_ok());
}

fn samples() -> &'static (SecretWorld, SignedEvent, SignedEvent) {
    static S: std::sync::OnceLock<(SecretWorld, SignedEvent, SignedEvent)> =
        std::sync::OnceLock::new();
    S.get_or_init(|| {
        let w = SecretWorld::ready(3, 2, support(), 2, 2, true);
        let ballot = w.sealed_ballot(
            1,
            0,
            VOTE_OPEN,
            &Choice::Approve(vec![w.proposals[1]]),
            &[1; 32],
        );
        let deal = w.deal_event(2, &[42; 32]);
        (w, ballot, deal)
    })
}

/// Flips one hexadecimal digit of a string member of the body (at `pick` among them).
fn flip_hex(e: &SignedEvent, key: &SecretKey, pick: usize, digit: usize) -> Vec<u8> {
    resign(key, e, |v| {
        let mut paths = Vec::new();
        collect_hex(&v["body"], &mut Vec::new(), &mut paths);
        let path = &paths[pick % paths.len()];
        let mut at = &mut v["body"];
        for p in path {
            at = match p {
                Ok(i) => &mut at[*i],
                Err(k) => &mut at[k.as_str()],
            };
        }
        let text = at.as_str().expect("string").to_owned();
        let mut chars: Vec<char> = text.chars().collect();
        let i = digit % chars.len();
        chars[i] = if chars[i] == '0' { '1' } else { '0' };
        *at = Value::String(chars.into_iter().collect());
    })
}

type Path = Vec<Result<usize, String>>;

fn collect_hex(v: &Value, here: &mut Path, out: &mut Vec<Path>) {
    match v {
        Value::String(s) if s.len() >= 64 && s.chars().all(|c| c.is_ascii_hexdigit()) => {
            out.push(here.clone())
        }
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
            here.push(Ok(i));
            collect_hex(x, here, out);
            here.pop();
        }),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            here.push(Err(k.clone()));
            collect_hex(x, here, out);
            here.pop();
        }),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Design §7.2: any changed byte of a sealed ballot (re-signed by its author) is
    /// refused, when decoded or at admission.
    #[test]
    fn a_changed_sealed_ballot_is_refused(pick in 0usize..1000, digit in 0usize..128) {
        let (w, ballot, _) = samples();
        let voter = &w.towns[1].residents[0];
        let bytes = flip_hex(ballot, voter, pick, digit);
        let verdict = SignedEvent::from_bytes(bytes).and_then(|e| {
            palabre_core::admission::admit(&w.ledger, &w.towns[1].pk(), &e, Clock::Replay).into_result()
        });
        prop_assert!(verdict.is_err());
    }

    /// Any changed byte of a deal is refused, or (a share's σ or R, which only its
    /// recipient can judge) makes that recipient complain, which convicts the dealer.
    #[test]
    fn a_changed_deal_is_refused_or_convicted(pick in 0usize..1000, digit in 0usize..64) {
        let (w, _, deal) = samples();
        let dealer = &w.towns[2];
        let bytes = flip_hex(deal, &dealer.key, pick, digit);
        let Ok(e) = SignedEvent::from_bytes(bytes) else { return Ok(()) };
        // A fresh world where town 2 has not dealt yet.
        let fresh = SecretWorld::new(3, 1, support(), 2, 2, true);
        let admitted = palabre_core::admission::admit(&fresh.ledger, &dealer.pk(), &e, Clock::Replay).into_result();
        if admitted.is_err() {
            return Ok(());
        }
        let c = fresh.view();
        let complains = fresh.towns.iter().filter(|t| t.pk() != dealer.pk()).any(|t| {
            matches!(build::open_deal(&c, &e, &t.pk(), &t.trustee.secret), Ok(Opened::Complain))
        });
        prop_assert!(complains, "a changed deal was admitted and every share opens");
    }
}

#[test]
fn a_secret_count_publishes_participation_only() {
    use palabre_core::counting::{self, Published};
    let mut w = SecretWorld::ready(3, 3, support(), 2, 2, true);
    let p0 = Choice::Approve(vec![w.proposals[0]]);
    w.append(0, w.sealed_ballot(0, 0, VOTE_OPEN, &p0, &[1; 32]))
        .expect("ballot");
    let revote = w.sealed_ballot(0, 0, VOTE_OPEN + 5, &Choice::Approve(vec![]), &[2; 32]);
    let revote_id = revote.id();
    w.append(0, revote).expect("revote");
    w.append(1, w.sealed_ballot(1, 0, VOTE_OPEN, &p0, &[3; 32]))
        .expect("ballot");
    w.append(1, w.sealed_ballot(1, 1, VOTE_OPEN, &p0, &[4; 32]))
        .expect("ballot");
    // A revoked voter's sealed ballot stops counting.
    let revoked = key_of(1, 1).public_key();
    w.append(
        1,
        sign(
            &w.towns[1].key,
            VOTE_OPEN + 10,
            Body::Revocation(RevocationBody {
                subject: revoked,
                reason: "Déménagement".into(),
            }),
        ),
    )
    .expect("revocation");
    let (c, counted) = w.ledger.count(&w.consultation).expect("counted");
    assert_eq!(counted.sealed.len(), 2);
    assert!(counted.ballots.is_empty(), "no choice is ever read");
    assert!(counted.sealed.values().any(|id| *id == revote_id));
    let Some(Published::Participation {
        participation,
        n_ballots_counted,
        sealed,
        ..
    }) = counting::published(&c, &counted, VOTE_OPEN + 20)
    else {
        panic!("participation only");
    };
    assert!(sealed);
    assert_eq!(n_ballots_counted, 2);
    assert_eq!(participation.per_town.get(&w.towns[0].pk()), Some(&1));
    assert_eq!(participation.per_town.get(&w.towns[1].pk()), Some(&1));
    let json =
        serde_json::to_string(&counting::published(&c, &counted, VOTE_CLOSE + 1)).expect("json");
    assert!(!json.contains("tally"), "{json}");
    // A v1 result of a secret consultation is refused: its result comes from the opening.
    let result = sign(
        &w.towns[0].key,
        VOTE_CLOSE + 1,
        Body::Result(Box::new(ResultBody {
            consultation: w.consultation,
            checkpoints: vec![],
            tally: counted.tally(&c),
        })),
    );
    assert_eq!(
        admit(&w, &w.towns[0].pk(), &result).err(),
        Some(Rejection::SealedRequired)
    );
}

/// `secret_events.json`: a whole ceremony's events (positive, in log order, with their
/// log) and one refused event per new code, each refused against the positives before it.
#[test]
fn secret_events_vectors() {
    let mut w = SecretWorld::ready(3, 2, support(), 2, 2, true);
    let choice = Choice::Approve(vec![w.proposals[0]]);
    let ballot = w.sealed_ballot(1, 0, VOTE_OPEN, &choice, &[1; 32]);
    w.append(1, ballot.clone()).expect("ballot");
    // A second secret consultation without deals, and a public one.
    let pks: Vec<_> = w.towns.iter().map(SecretTown::pk).collect();
    let mut second = secret_consultation_body(&pks, support(), 2, true);
    second.title = "Sans clé".into();
    let second = sign(&w.towns[0].key, T0, Body::Consultation(Box::new(second)));
    let public = sign(&w.towns[0].key, T0, consultation_body(&pks, support()));
    w.append(0, second.clone()).expect("second");
    w.append(0, public.clone()).expect("public");
    let mut positive = Vec::new();
    for t in &w.towns {
        let log = w.ledger.log(&t.pk()).expect("log");
        for e in log.events() {
            positive.push(json!({
                "log": t.pk().to_hex(),
                "id": e.id().to_string(),
                "signed_event": String::from_utf8(e.bytes().to_vec()).expect("utf8"),
            }));
        }
    }
    let resident = key_of(1, 0);
    let mut negative: Vec<(&str, usize, Vec<u8>)> = Vec::new();
    let ok_authority = w
        .ledger
        .log(&w.towns[0].pk())
        .expect("log")
        .events()
        .next()
        .expect("authority")
        .clone();
    negative.push((
        "bad_point",
        0,
        resign(&w.towns[0].key, &ok_authority, |v| {
            v["body"]["encryption_key"] = json!("ff".repeat(32))
        }),
    ));
    negative.push((
        "bad_scalar",
        0,
        resign(&w.towns[0].key, &ok_authority, |v| {
            v["body"]["encryption_pok"]["c"] = json!("ff".repeat(32))
        }),
    ));
    negative.push((
        "bad_encryption_key",
        0,
        resign(&w.towns[0].key, &ok_authority, |v| {
            v["body"]
                .as_object_mut()
                .expect("o")
                .remove("encryption_pok");
        }),
    ));
    let mut bad_t = secret_consultation_body(&pks, support(), 1, true);
    bad_t.title = "t = 1".into();
    negative.push((
        "bad_trustees",
        0,
        sign(&w.towns[0].key, T0, Body::Consultation(Box::new(bad_t)))
            .bytes()
            .to_vec(),
    ));
    negative.push((
        "already_dealt",
        1,
        w.deal_event(1, &[99; 32]).bytes().to_vec(),
    ));
    let mut second_deal = w.deal_body(1, &[98; 32]);
    second_deal.consultation = second.id();
    second_deal.commitments.pop();
    negative.push((
        "bad_deal",
        1,
        sign(&w.towns[1].key, DEAL_AT, Body::DkgDeal(second_deal))
            .bytes()
            .to_vec(),
    ));
    let deal = w.ledger.event(&w.deals[0]).expect("deal").clone();
    let j = w.town_of_trustee(2);
    let j = if w.towns[j].pk() == *deal.author() {
        w.town_of_trustee(1)
    } else {
        j
    };
    let mut fake = build::complaint(
        &w.view(),
        &deal,
        &w.towns[j].pk(),
        &w.towns[j].trustee.secret,
        &[4; 32],
    )
    .expect("complaint");
    fake.d = Point(fake.d.0 + B);
    negative.push((
        "bad_complaint",
        j,
        sign(&w.towns[j].key, KEYS_CLOSE, Body::DkgComplaint(fake))
            .bytes()
            .to_vec(),
    ));
    negative.push((
        "bad_election_key",
        0,
        w.election_key_event(SETUP_AT + 5)
            .expect("ek")
            .bytes()
            .to_vec(),
    ));
    negative.push((
        "bad_layout",
        0,
        w.layout_event(SETUP_AT + 5).bytes().to_vec(),
    ));
    let mut into_second = w.sealed_body(1, 0, &choice, &[2; 32]);
    into_second.consultation = second.id();
    negative.push((
        "no_election_key",
        1,
        sign(&resident, VOTE_OPEN, Body::SealedBallot(into_second))
            .bytes()
            .to_vec(),
    ));
    let mut into_public = w.sealed_body(1, 0, &choice, &[2; 32]);
    into_public.consultation = public.id();
    negative.push((
        "not_sealed",
        1,
        sign(&resident, VOTE_OPEN, Body::SealedBallot(into_public))
            .bytes()
            .to_vec(),
    ));
    let mut wrong = w.sealed_body(1, 0, &choice, &[2; 32]);
    wrong.sealed.layout = w.proposals[0];
    negative.push((
        "wrong_layout",
        1,
        sign(&resident, VOTE_OPEN, Body::SealedBallot(wrong))
            .bytes()
            .to_vec(),
    ));
    let theirs = w.sealed_body(1, 1, &choice, &[2; 32]);
    negative.push((
        "bad_pok",
        1,
        sign(&resident, VOTE_OPEN, Body::SealedBallot(theirs))
            .bytes()
            .to_vec(),
    ));
    let plain = Body::Ballot(BallotBody {
        consultation: w.consultation,
        choice,
        assistance: None,
    });
    negative.push((
        "sealed_required",
        1,
        sign(&resident, VOTE_OPEN, plain).bytes().to_vec(),
    ));
    let mut rows = Vec::new();
    for (code_name, town, bytes) in negative {
        let log = w.towns[town].pk();
        let got = SignedEvent::from_bytes(bytes.clone()).and_then(|e| {
            palabre_core::admission::admit(&w.ledger, &log, &e, Clock::Replay).into_result()
        });
        assert_eq!(got.err().map(|r| r.code()), Some(code_name), "{code_name}");
        rows.push(json!({
            "code": code_name,
            "log": log.to_hex(),
            "signed_event": String::from_utf8(bytes).expect("utf8"),
        }));
    }
    let value = json!({
        "description": "Secret-ballot events (PROTOCOL.md, 'Secret ballots: events'): `positive` are the entries of each log of a secret consultation (three trustee towns, t = 2, split support), log by log in log order, all admissible when replayed as an audit does (Clock::Replay, references resolving across logs); each `negative` row is refused with its code when appended to its log once all the positives are recorded.",
        "positive": positive,
        "negative": rows,
    });
    let text = serde_json::to_string_pretty(&value).expect("json") + "\n";
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1/secret_events.json");
    match std::fs::read_to_string(&path) {
        Ok(on_disk) => assert!(
            on_disk == text,
            "secret_events.json differs: vectors are never edited"
        ),
        Err(_) if std::env::var_os("PALABRE_WRITE_NEW_VECTORS").is_some() => {
            std::fs::write(&path, text).expect("write");
        }
        Err(e) => {
            panic!("secret_events.json is missing ({e}); run with PALABRE_WRITE_NEW_VECTORS=1")
        }
    }
}
