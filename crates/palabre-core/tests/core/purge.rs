//! Purging a hidden item's text: the log keeps its place and leaf hash, counts do not
//! move, replicas replay tombstones, and every rule of a purge holds.

use palabre_core::admission::Clock;
use palabre_core::crypto::PublicKey;
use palabre_core::event::*;
use palabre_core::ids::EventId;
use palabre_core::ledger::Ledger;
use palabre_core::merkle;
use palabre_core::purge::Entry;
use palabre_core::record::Record;
use palabre_core::rejection::Rejection;
use palabre_core::tally::{Choice, Method};
use palabre_core::testkit::world::*;

const AT: u64 = PROPOSALS_OPEN + 2 * DAY;

fn argue(w: &mut World, town: usize, resident: usize, proposal: EventId) -> SignedEvent {
    let e = sign(
        &w.towns[town].residents[resident],
        AT,
        Body::Argument(ArgumentBody {
            proposal,
            stance: Stance::Con,
            body: "Mon voisin, M. Untel, au 3 rue des Lilas, est un escroc.".into(),
        }),
    );
    let log = w.towns[town].pk();
    w.ledger
        .append(&log, e.clone(), Clock::Replay)
        .expect("argument");
    e
}

fn tombstone_of(w: &World, town: usize, event: &SignedEvent) -> Tombstone {
    let body = TombstoneBody::of(event, w.consultation).expect("a proposal or an argument");
    Tombstone::sign(body, &w.towns[town].key).expect("signs")
}

fn proposal_event(w: &World, id: &EventId) -> SignedEvent {
    w.ledger.event(id).expect("held").clone()
}

/// Town 0 purges each of `targets` (hidden), at `at`.
fn purge_all(w: &mut World, targets: &[&SignedEvent], at: u64) {
    let town0 = w.towns[0].pk();
    for target in targets {
        let t = tombstone_of(w, 0, target);
        let purge = moderation(
            &w.towns[0].key,
            at,
            target.id(),
            ModerationAction::Purge,
            Some(t),
        );
        w.ledger
            .append(&town0, purge, Clock::Replay)
            .expect("purge");
    }
}

fn code(r: Result<u64, Rejection>) -> &'static str {
    r.map_or_else(|r| r.code(), |_| "accepted")
}

/// Two towns; a proposal and an argument in town 0's log, both hidden by town 0.
fn hidden_world() -> (World, SignedEvent, SignedEvent) {
    let mut w = World::new(2, 3, Method::Approval { max_choices: 2 }, 3);
    let proposal = proposal_event(&w, &w.proposals[2].clone());
    let first = w.proposals[0];
    let argument = argue(&mut w, 0, 1, first);
    let town0 = w.towns[0].pk();
    for (i, target) in [proposal.id(), argument.id()].into_iter().enumerate() {
        let hide = moderation(
            &w.towns[0].key,
            AT + 1 + i as u64,
            target,
            ModerationAction::Hide,
            None,
        );
        w.ledger.append(&town0, hide, Clock::Replay).expect("hide");
    }
    (w, proposal, argument)
}

#[test]
fn a_purge_keeps_every_root_and_the_count() {
    let (mut w, proposal, argument) = hidden_world();
    let town0 = w.towns[0].pk();
    w.vote(0, 0, VOTE_OPEN, Choice::Approve(vec![w.proposals[0]]))
        .expect("ballot");
    let size = w.ledger.log_size(&town0);
    let roots: Vec<_> = (1..=size)
        .map(|n| w.ledger.root_at(&town0, n).expect("root"))
        .collect();
    let (_, before) = w.ledger.count(&w.consultation).expect("count");

    purge_all(&mut w, &[&argument, &proposal], VOTE_OPEN + 1);

    // Every root of the history before the purges is unchanged.
    for (n, root) in (1..=size).zip(&roots) {
        assert_eq!(w.ledger.root_at(&town0, n).as_ref(), Some(root), "size {n}");
    }
    for target in [&argument, &proposal] {
        let held = w.ledger.stored(&target.id()).expect("kept");
        let Entry::Purged(p) = held else {
            panic!("the entry is a tombstone now")
        };
        assert_eq!(p.body().leaf, merkle::leaf_hash(target.bytes()));
        assert_eq!(held.leaf(), merkle::leaf_hash(target.bytes()));
        assert!(w.ledger.event(&target.id()).is_none(), "the text is gone");
        assert!(
            !String::from_utf8_lossy(held.bytes()).contains("escroc"),
            "no word of the body remains"
        );
        assert_eq!(
            w.ledger.moderated(&town0, &target.id()),
            Some(ModerationAction::Purge)
        );
    }
    let (_, after) = w.ledger.count(&w.consultation).expect("count");
    assert_eq!(before, after, "a purge of hidden items changes no count");
    assert!(after.hidden.contains(&proposal.id()));
    // The items are still members of the consultation (their places are listed).
    let members = w.ledger.members(&w.consultation);
    assert!(members.contains(&proposal.id()) && members.contains(&argument.id()));
}

#[test]
fn a_purge_after_the_close_keeps_a_candidate_counted() {
    // Hidden and purged after the vote: the closing prefix still counts it.
    let mut w = World::new(1, 3, Method::Approval { max_choices: 2 }, 2);
    let town0 = w.towns[0].pk();
    let target = proposal_event(&w, &w.proposals[1].clone());
    w.vote(0, 0, VOTE_OPEN, Choice::Approve(vec![target.id()]))
        .expect("ballot");
    let size = w.ledger.log_size(&town0);
    let root = w.ledger.root_at(&town0, size).expect("root");
    let checkpoint = sign(
        &w.towns[0].key,
        VOTE_CLOSE,
        Body::Checkpoint(CheckpointBody {
            consultation: w.consultation,
            size,
            root,
        }),
    );
    w.ledger
        .append(&town0, checkpoint, Clock::Replay)
        .expect("checkpoint");
    let (view, before) = w.ledger.count(&w.consultation).expect("count");
    for (at, action, tombstone) in [
        (VOTE_CLOSE + 1, ModerationAction::Hide, None),
        (
            VOTE_CLOSE + 2,
            ModerationAction::Purge,
            Some(tombstone_of(&w, 0, &target)),
        ),
    ] {
        let m = moderation(&w.towns[0].key, at, target.id(), action, tombstone);
        w.ledger
            .append(&town0, m, Clock::Replay)
            .expect("moderation");
    }
    let (_, after) = w.ledger.count(&w.consultation).expect("count");
    assert_eq!(before, after);
    assert_eq!(before.tally(&view), after.tally(&view));
    assert!(after.candidates.iter().any(|c| c.id == target.id()));
}

#[test]
fn the_rules_of_a_purge() {
    let (mut w, proposal, argument) = hidden_world();
    let town0 = w.towns[0].pk();
    let town1 = w.towns[1].pk();
    let live = Clock::Live { now_ms: AT + 10 };
    let key0 = key(100);
    let key1 = key(101);
    let desk = key(77);
    let visible = proposal_event(&w, &w.proposals[0].clone());
    // Town 1 hides town 0's visible proposal too; a desk agent of town 0 is appointed.
    let hide1 = moderation(&key1, AT + 10, visible.id(), ModerationAction::Hide, None);
    w.ledger.append(&town1, hide1, live).expect("town 1 hides");
    let appoint = sign(
        &key0,
        AT,
        Body::Staff(StaffBody {
            subject: desk.public_key(),
            name: "Accueil".into(),
            role: StaffRole::Desk,
            active: true,
        }),
    );
    w.ledger.append(&town0, appoint, live).expect("appointed");
    let mut inexact = TombstoneBody::of(&proposal, w.consultation).expect("tombstone");
    inexact.cost = Some(1);

    for (why, log, by, target, tombstone, expected) in [
        (
            "a visible item",
            town0,
            &key0,
            &visible,
            tombstone_of(&w, 0, &visible),
            "not_hidden",
        ),
        (
            "another town's item, even hidden by that town",
            town1,
            &key1,
            &visible,
            tombstone_of(&w, 1, &visible),
            "not_hidden",
        ),
        (
            "a tombstone that is not exact",
            town0,
            &key0,
            &proposal,
            Tombstone::sign(inexact, &key0).expect("signs"),
            "bad_tombstone",
        ),
        (
            "a tombstone signed by another town",
            town0,
            &key0,
            &proposal,
            tombstone_of(&w, 1, &proposal),
            "bad_tombstone",
        ),
        (
            "a staff member whose role does not moderate",
            town0,
            &desk,
            &proposal,
            tombstone_of(&w, 0, &proposal),
            "not_staff",
        ),
    ] {
        let m = moderation(
            by,
            AT + 10,
            target.id(),
            ModerationAction::Purge,
            Some(tombstone),
        );
        assert_eq!(code(w.ledger.append(&log, m, live)), expected, "{why}");
    }

    // A purge without a tombstone, a hide with one, or a tombstone of another item:
    // refused before any record is read.
    for (action, tombstone) in [
        (ModerationAction::Purge, None),
        (ModerationAction::Hide, Some(tombstone_of(&w, 0, &proposal))),
        (
            ModerationAction::Purge,
            Some(tombstone_of(&w, 0, &argument)),
        ),
    ] {
        let refused = Event {
            author: town0,
            created_at_ms: AT + 10,
            body: Body::Moderation(ModerationBody {
                target: proposal.id(),
                action,
                reason: "Données personnelles".into(),
                tombstone,
            }),
        }
        .sign(&key0);
        assert_eq!(refused.map(|_| ()), Err(Rejection::BadTombstone));
    }

    // The right one; then nothing moderates the item any more.
    let t = tombstone_of(&w, 0, &proposal);
    let purge = moderation(
        &key0,
        AT + 11,
        proposal.id(),
        ModerationAction::Purge,
        Some(t.clone()),
    );
    w.ledger
        .append(&town0, purge, live)
        .expect("purge accepted");
    for (k, log, action) in [
        (&key0, town0, ModerationAction::Restore),
        (&key0, town0, ModerationAction::Hide),
        (&key1, town1, ModerationAction::Restore),
    ] {
        let m = moderation(k, AT + 12, proposal.id(), action, None);
        assert_eq!(code(w.ledger.append(&log, m, live)), "purged");
    }
    let again = moderation(
        &key0,
        AT + 12,
        proposal.id(),
        ModerationAction::Purge,
        Some(t),
    );
    assert_eq!(code(w.ledger.append(&town0, again, live)), "purged");

    // A replayed history that restores after a purge is accepted (it is history), but
    // the purge stays final.
    let restore = moderation(
        &key0,
        AT + 13,
        proposal.id(),
        ModerationAction::Restore,
        None,
    );
    w.ledger
        .append(&town0, restore, Clock::Replay)
        .expect("replayed");
    assert_eq!(
        w.ledger.moderated(&town0, &proposal.id()),
        Some(ModerationAction::Purge)
    );
    let (_, counted) = w.ledger.count(&w.consultation).expect("count");
    assert!(counted.hidden.contains(&proposal.id()));
}

#[test]
fn a_replica_replays_tombstones_and_their_purge() {
    let (mut w, proposal, argument) = hidden_world();
    let town0 = w.towns[0].pk();
    purge_all(&mut w, &[&proposal, &argument], AT + 20);
    // A ballot and an argument that refer to the purged proposal, after the purge.
    let late = sign(
        &w.towns[0].residents[2],
        AT + 21,
        Body::Argument(ArgumentBody {
            proposal: proposal.id(),
            stance: Stance::Pro,
            body: "Je soutiens.".into(),
        }),
    );
    w.ledger
        .append(&town0, late, Clock::Replay)
        .expect("an argument on a hidden proposal is still admissible");

    // A fresh replica receives the log as served: tombstones in the purged places.
    let mut replica = Ledger::new();
    let town1 = w.towns[1].pk();
    let mut n_tombstones = 0;
    for log in [town0, town1] {
        for e in &w.ledger.log(&log).expect("log").entries {
            let entry = Entry::from_bytes(e.bytes().to_vec(), &log).expect("checks");
            match entry {
                Entry::Event(event) => {
                    replica
                        .append(&log, event, Clock::Replay)
                        .expect("admissible on the replica");
                }
                purged => {
                    n_tombstones += 1;
                    replica.apply_entry(&log, purged);
                }
            }
        }
    }
    assert_eq!(n_tombstones, 2);
    let size = w.ledger.log_size(&town0);
    assert_eq!(
        replica.root_at(&town0, size),
        w.ledger.root_at(&town0, size)
    );
    assert_eq!(
        replica.count(&w.consultation).map(|(_, c)| c),
        w.ledger.count(&w.consultation).map(|(_, c)| c)
    );

    // A tombstone served under the wrong log's key, or altered, does not check.
    let held = w.ledger.stored(&proposal.id()).expect("kept").clone();
    assert_eq!(
        Entry::from_bytes(held.bytes().to_vec(), &town1).map(|_| ()),
        Err(Rejection::BadTombstone)
    );
    let altered = String::from_utf8(held.bytes().to_vec())
        .expect("utf-8")
        .replacen("\"kind\":\"proposal\"", "\"kind\":\"ballot\"", 1);
    assert!(Entry::from_bytes(altered.into_bytes(), &town0).is_err());
    let spaced = String::from_utf8(held.bytes().to_vec())
        .expect("utf-8")
        .replacen(":", ": ", 1);
    assert_eq!(
        Entry::from_bytes(spaced.into_bytes(), &town0).map(|_| ()),
        Err(Rejection::NotCanonical)
    );
}

#[test]
fn only_proposals_and_arguments_have_tombstones() {
    let w = World::new(1, 1, Method::YesNoAbstain {}, 1);
    let town0: PublicKey = w.towns[0].pk();
    let ballot = w.ballot(0, 0, VOTE_OPEN, Choice::Answers(Default::default()));
    assert!(TombstoneBody::of(&ballot, w.consultation).is_none());
    // A hand-made tombstone of a ballot is refused on receipt.
    let p = proposal_event(&w, &w.proposals[0].clone());
    let mut body = TombstoneBody::of(&p, w.consultation).expect("tombstone");
    body.kind = Kind::Ballot;
    let forged = Tombstone::sign(body, &w.towns[0].key).expect("signs");
    assert_eq!(
        Entry::from_bytes(forged.to_bytes(), &town0).map(|_| ()),
        Err(Rejection::BadTombstone)
    );
}

#[test]
fn a_purge_applied_without_admission_never_swaps_in_a_foreign_leaf() {
    // A replay applies refused entries to keep its tree in step (the audit does); a purge
    // whose tombstone names another leaf must not replace the entry.
    let (mut w, proposal, _) = hidden_world();
    let town0 = w.towns[0].pk();
    let mut body = TombstoneBody::of(&proposal, w.consultation).expect("tombstone");
    body.leaf = merkle::leaf_hash(b"something else");
    let forged = Tombstone::sign(body, &w.towns[0].key).expect("signs");
    let purge = moderation(
        &w.towns[0].key,
        AT + 30,
        proposal.id(),
        ModerationAction::Purge,
        Some(forged),
    );
    assert_eq!(
        code(w.ledger.append(&town0, purge.clone(), Clock::Replay)),
        "bad_tombstone"
    );
    w.ledger.apply(&town0, purge);
    assert!(
        w.ledger.event(&proposal.id()).is_some(),
        "the text is still there"
    );
}
