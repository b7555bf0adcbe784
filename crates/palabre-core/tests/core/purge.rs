//! Purging a hidden item's text: the log keeps its place and leaf hash, counts do not
//! move, replicas replay tombstones, and every rule of a purge holds.

use palabre_core::admission::{Clock, Record};
use palabre_core::crypto::PublicKey;
use palabre_core::event::*;
use palabre_core::ids::EventId;
use palabre_core::ledger::Ledger;
use palabre_core::merkle;
use palabre_core::purge::{Entry, Tombstone, TombstoneBody};
use palabre_core::rejection::Rejection;
use palabre_core::tally::{Choice, Method};

use super::world::*;

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

fn moderation(
    key: &palabre_core::crypto::SecretKey,
    at: u64,
    target: EventId,
    action: ModerationAction,
    tombstone: Option<Tombstone>,
) -> SignedEvent {
    sign(
        key,
        at,
        Body::Moderation(ModerationBody {
            target,
            action,
            reason: "Données personnelles".into(),
            tombstone,
        }),
    )
}

fn tombstone_of(w: &World, town: usize, event: &SignedEvent) -> Tombstone {
    let body = TombstoneBody::of(event, w.consultation).expect("a proposal or an argument");
    Tombstone::sign(body, &w.towns[town].key).expect("signs")
}

fn proposal_event(w: &World, id: &EventId) -> SignedEvent {
    w.ledger.event(id).expect("held").clone()
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

    for target in [&argument, &proposal] {
        let t = tombstone_of(&w, 0, target);
        let purge = moderation(
            &w.towns[0].key,
            VOTE_OPEN + 1,
            target.id(),
            ModerationAction::Purge,
            Some(t),
        );
        w.ledger
            .append(&town0, purge, Clock::Replay)
            .expect("purge");
    }

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

    // Not hidden: a visible proposal.
    let visible = proposal_event(&w, &w.proposals[0].clone());
    let t = tombstone_of(&w, 0, &visible);
    let m = moderation(
        &key0,
        AT + 10,
        visible.id(),
        ModerationAction::Purge,
        Some(t),
    );
    assert_eq!(code(w.ledger.append(&town0, m, live)), "not_hidden");

    // Another town cannot purge an item of town 0's log, even once it hid it itself.
    let key1 = key(101);
    let hide1 = moderation(&key1, AT + 10, visible.id(), ModerationAction::Hide, None);
    w.ledger.append(&town1, hide1, live).expect("town 1 hides");
    let t = tombstone_of(&w, 1, &visible);
    let m = moderation(
        &key1,
        AT + 10,
        visible.id(),
        ModerationAction::Purge,
        Some(t),
    );
    assert_eq!(code(w.ledger.append(&town1, m, live)), "not_hidden");

    // A tombstone that is not exact, or not the town's signature.
    let mut wrong = TombstoneBody::of(&proposal, w.consultation).expect("tombstone");
    wrong.cost = Some(1);
    let t = Tombstone::sign(wrong, &key0).expect("signs");
    let m = moderation(
        &key0,
        AT + 10,
        proposal.id(),
        ModerationAction::Purge,
        Some(t),
    );
    assert_eq!(code(w.ledger.append(&town0, m, live)), "bad_tombstone");
    let t = tombstone_of(&w, 1, &proposal);
    let m = moderation(
        &key0,
        AT + 10,
        proposal.id(),
        ModerationAction::Purge,
        Some(t),
    );
    assert_eq!(code(w.ledger.append(&town0, m, live)), "bad_tombstone");

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

    // A staff member whose role does not moderate.
    let desk = key(77);
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
    let t = tombstone_of(&w, 0, &proposal);
    let m = moderation(
        &desk,
        AT + 10,
        proposal.id(),
        ModerationAction::Purge,
        Some(t),
    );
    assert_eq!(code(w.ledger.append(&town0, m, live)), "not_staff");

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
    for target in [&proposal, &argument] {
        let t = tombstone_of(&w, 0, target);
        let purge = moderation(
            &w.towns[0].key,
            AT + 20,
            target.id(),
            ModerationAction::Purge,
            Some(t),
        );
        w.ledger
            .append(&town0, purge, Clock::Replay)
            .expect("purge");
    }
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
