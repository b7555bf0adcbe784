//! Staff: each member signs with their own key what their role allows, in their
//! authority's log; assisted ballots carry a desk agent's countersignature; every
//! reader (admission, ledger, counting, audit) agrees on who acted for the log.

use palabre_core::admission::Clock;
use palabre_core::event::*;
use palabre_core::record::Record;
use palabre_core::rejection::Rejection;
use palabre_core::tally::{Choice, Method};
use palabre_core::testkit::world::*;

fn appoint(
    w: &mut World,
    seed: u8,
    role: StaffRole,
    active: bool,
) -> palabre_core::crypto::SecretKey {
    let staff = key(seed);
    let town = &w.towns[0];
    let e = sign(
        &town.key,
        T0 - DAY,
        Body::Staff(StaffBody {
            subject: staff.public_key(),
            name: format!("Agent {seed}"),
            role,
            active,
        }),
    );
    w.ledger
        .append(&town.pk(), e, Clock::Replay)
        .expect("appointment");
    staff
}

fn support() -> Method {
    Method::Support { threshold: 1 }
}

fn assisted(
    w: &World,
    voter: &palabre_core::crypto::SecretKey,
    agent: &palabre_core::crypto::SecretKey,
    choice: Choice,
) -> SignedEvent {
    let at = VOTE_OPEN + DAY;
    let assistance =
        Assistance::sign(agent, &voter.public_key(), at, &w.consultation, &choice).expect("signs");
    sign(
        voter,
        at,
        Body::Ballot(BallotBody {
            consultation: w.consultation,
            choice,
            assistance: Some(assistance),
        }),
    )
}

#[test]
fn roles_decide_what_a_staff_key_may_sign() {
    let mut w = World::new(1, 1, support(), 1);
    let log = w.towns[0].pk();
    let admin = appoint(&mut w, 50, StaffRole::Admin, true);
    let moderator = appoint(&mut w, 51, StaffRole::Moderator, true);
    let desk = appoint(&mut w, 52, StaffRole::Desk, true);
    assert_eq!(
        w.ledger.staff(&log, &moderator.public_key()),
        Some(StaffRole::Moderator)
    );

    // A moderator cannot publish a consultation; an admin can, and the organiser is the
    // town, not the admin.
    let c = consultation_body(&[log], support());
    let by_moderator = sign(&moderator, T0, c.clone());
    assert_eq!(
        w.ledger.append(&log, by_moderator, Clock::Replay),
        Err(Rejection::NotStaff)
    );
    let by_admin = sign(&admin, T0, c);
    let cid = by_admin.id();
    w.ledger
        .append(&log, by_admin, Clock::Replay)
        .expect("admin publishes");
    assert_eq!(
        w.ledger.consultation(&cid).expect("recorded").organiser,
        log
    );

    // A desk agent cannot moderate; a moderator can.
    let target = w.proposals[0];
    let hide = |reason: &str| {
        Body::Moderation(ModerationBody {
            target,
            action: ModerationAction::Hide,
            reason: reason.into(),
            tombstone: None,
        })
    };
    assert_eq!(
        w.ledger.append(
            &log,
            sign(&desk, T0 + 2 * DAY, hide("Hors sujet")),
            Clock::Replay
        ),
        Err(Rejection::NotStaff)
    );
    w.ledger
        .append(
            &log,
            sign(&moderator, T0 + 2 * DAY, hide("Propos injurieux")),
            Clock::Replay,
        )
        .expect("moderator hides");
    let moderated = w.ledger.moderation(&target);
    assert_eq!(moderated.len(), 1);
    assert_eq!(moderated[0].by, log);
    let (_, counted) = w.ledger.count(&w.consultation).expect("counted");
    assert!(counted.hidden.contains(&target));

    // A key that is no staff member at all is a wrong author.
    let stranger = key(60);
    assert!(matches!(
        w.ledger.append(
            &log,
            sign(&stranger, T0 + 2 * DAY, hide("x")),
            Clock::Replay
        ),
        Err(Rejection::WrongAuthor { .. })
    ));
    // Staff cannot appoint staff: only the authority's own key can. An appointed key
    // whose role does not allow the kind is `not_staff`, whatever the kind.
    let appoint_by_admin = sign(
        &admin,
        T0,
        Body::Staff(StaffBody {
            subject: stranger.public_key(),
            name: "X".into(),
            role: StaffRole::Admin,
            active: true,
        }),
    );
    assert_eq!(
        w.ledger.append(&log, appoint_by_admin, Clock::Replay),
        Err(Rejection::NotStaff)
    );
}

#[test]
fn a_dismissed_member_stops_acting_and_dismissing_a_stranger_is_refused() {
    let mut w = World::new(1, 1, support(), 1);
    let log = w.towns[0].pk();
    let desk = appoint(&mut w, 52, StaffRole::Desk, true);
    appoint(&mut w, 52, StaffRole::Desk, false);
    assert_eq!(w.ledger.staff(&log, &desk.public_key()), None);
    let cred = sign(
        &desk,
        T0,
        Body::Credential(CredentialBody {
            subject: key(70).public_key(),
            replaces: None,
        }),
    );
    assert!(matches!(
        w.ledger.append(&log, cred, Clock::Replay),
        Err(Rejection::WrongAuthor { .. })
    ));
    let town = &w.towns[0];
    let dismiss_stranger = sign(
        &town.key,
        T0,
        Body::Staff(StaffBody {
            subject: key(71).public_key(),
            name: "Personne".into(),
            role: StaffRole::Desk,
            active: false,
        }),
    );
    assert_eq!(
        w.ledger.append(&log, dismiss_stranger, Clock::Replay),
        Err(Rejection::NotStaff)
    );
}

#[test]
fn a_desk_agent_registers_replaces_a_lost_key_and_countersigns_a_ballot() {
    let mut w = World::new(1, 0, support(), 0);
    let log = w.towns[0].pk();
    let desk = appoint(&mut w, 52, StaffRole::Desk, true);
    // The proposal comes from the town itself (no residents yet).
    let town_key = key(100);
    let p = sign(
        &town_key,
        PROPOSALS_OPEN + DAY,
        Body::Proposal(ProposalBody {
            consultation: w.consultation,
            title: "Des bancs".into(),
            body: "Sur la place.".into(),
            cost: None,
        }),
    );
    let pid = p.id();
    w.ledger.append(&log, p, Clock::Replay).expect("proposal");

    let old = key(80);
    let new = key(81);
    let credential = |subject: &palabre_core::crypto::SecretKey, replaces| {
        sign(
            &desk,
            T0,
            Body::Credential(CredentialBody {
                subject: subject.public_key(),
                replaces,
            }),
        )
    };
    w.ledger
        .append(&log, credential(&old, None), Clock::Replay)
        .expect("desk registers");
    let first = assisted(&w, &old, &desk, Choice::Approve(vec![pid]));
    w.ledger
        .append(&log, first, Clock::Replay)
        .expect("assisted ballot");
    // The resident lost their card: a replacement names the old key, which stops counting.
    w.ledger
        .append(
            &log,
            credential(&new, Some(old.public_key())),
            Clock::Replay,
        )
        .expect("replacement");
    let again = assisted(&w, &old, &desk, Choice::Approve(vec![]));
    assert_eq!(
        w.ledger.append(&log, again, Clock::Replay),
        Err(Rejection::ReplacedKey)
    );
    let by_new = sign(
        &new,
        VOTE_OPEN + 2 * DAY,
        Body::Ballot(BallotBody {
            consultation: w.consultation,
            choice: Choice::Approve(vec![]),
            assistance: None,
        }),
    );
    w.ledger
        .append(&log, by_new, Clock::Replay)
        .expect("new key votes");
    let (_, counted) = w.ledger.count(&w.consultation).expect("counted");
    // One voter, one ballot: the latest, cast with the new key, unassisted.
    assert_eq!(counted.ballots.len(), 1);
    assert!(counted.assisted.is_empty());
    // The assisted ballot it replaced is still said, as replaced (the transparency page).
    let replaced: Vec<_> = counted.assisted_replaced.into_iter().collect();
    assert_eq!(replaced, vec![(desk.public_key(), 1)]);
}

#[test]
fn assistance_must_verify_and_come_from_a_desk_agent() {
    let mut w = World::new(1, 2, support(), 1);
    let log = w.towns[0].pk();
    let desk = appoint(&mut w, 52, StaffRole::Desk, true);
    let moderator = appoint(&mut w, 51, StaffRole::Moderator, true);
    let voter = key_of(0, 0);
    let pid = w.proposals[0];

    // A countersignature over another choice does not verify: the ballot is refused
    // before any record is consulted.
    let good = assisted(&w, &voter, &desk, Choice::Approve(vec![pid]));
    let other = Assistance::sign(
        &desk,
        &voter.public_key(),
        VOTE_OPEN + DAY,
        &w.consultation,
        &Choice::Approve(vec![]),
    )
    .expect("signs");
    let bad = Event {
        author: voter.public_key(),
        created_at_ms: VOTE_OPEN + DAY,
        body: Body::Ballot(BallotBody {
            consultation: w.consultation,
            choice: Choice::Approve(vec![pid]),
            assistance: Some(other),
        }),
    }
    .sign(&voter);
    assert_eq!(bad.err(), Some(Rejection::BadAssistance));

    // An agent cannot countersign their own ballot.
    let own = Assistance::sign(
        &desk,
        &desk.public_key(),
        VOTE_OPEN + DAY,
        &w.consultation,
        &Choice::Approve(vec![]),
    )
    .expect("signs");
    let self_assisted = Event {
        author: desk.public_key(),
        created_at_ms: VOTE_OPEN + DAY,
        body: Body::Ballot(BallotBody {
            consultation: w.consultation,
            choice: Choice::Approve(vec![]),
            assistance: Some(own),
        }),
    }
    .sign(&desk);
    assert_eq!(self_assisted.err(), Some(Rejection::BadAssistance));

    // A moderator is no desk agent.
    let by_moderator = assisted(&w, &voter, &moderator, Choice::Approve(vec![pid]));
    assert_eq!(
        w.ledger.append(&log, by_moderator, Clock::Replay),
        Err(Rejection::NotStaff)
    );
    // The genuine one is admitted and counted per agent.
    w.ledger
        .append(&log, good, Clock::Replay)
        .expect("assisted");
    w.ledger
        .append(
            &log,
            w.ballot(0, 1, VOTE_OPEN + DAY, Choice::Approve(vec![pid])),
            Clock::Replay,
        )
        .expect("unassisted");
    let (_, counted) = w.ledger.count(&w.consultation).expect("counted");
    assert_eq!(counted.ballots.len(), 2);
    assert_eq!(counted.assisted.get(&desk.public_key()), Some(&1));
}
