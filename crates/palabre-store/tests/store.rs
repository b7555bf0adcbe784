//! The store's test suite, run against both storages: the in-memory one and sled on a
//! temporary directory. One binary for the crate.

use std::sync::Arc;

use palabre_core::admission::Clock;
use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::*;
use palabre_core::head::{CosignedHead, Equivocation, SignedTreeHead, TreeHead};
use palabre_core::ids::{EventId, Hash};
use palabre_core::ledger::Ledger;
use palabre_core::merkle;
use palabre_core::purge::Entry;
use palabre_core::record::Record;
use palabre_core::tally::{Choice, Method};
use palabre_core::testkit::world::{DAY, T0, key, sign};
use palabre_store::{
    CommitItem, InvitationStatus, MemoryStorage, Moderated, SledStorage, Storage, StoreConfig,
    stored_event,
};

mod store {
    pub mod model;
    pub mod quotas;
}

fn resident(n: u16) -> SecretKey {
    let mut seed = [7u8; 32];
    seed[..2].copy_from_slice(&n.to_le_bytes());
    SecretKey::from_seed(&seed)
}

fn town() -> SecretKey {
    key(100)
}

fn signer() -> impl Fn(TreeHead) -> SignedTreeHead {
    let k = town();
    move |h: TreeHead| h.sign(&k)
}

fn item(event: SignedEvent) -> CommitItem {
    CommitItem {
        log: town().public_key(),
        event,
        consume_invitation: None,
    }
}

fn live(now_ms: u64) -> Clock {
    Clock::Live { now_ms }
}

fn authority() -> SignedEvent {
    sign(
        &town(),
        T0,
        Body::Authority(AuthorityBody {
            name: "Ville".into(),
            code: "01001".into(),
            addresses: vec![],
            encryption_key: None,
            encryption_pok: None,
        }),
    )
}

fn credential(n: u16) -> SignedEvent {
    sign(
        &town(),
        T0,
        Body::Credential(CredentialBody {
            subject: resident(n).public_key(),
            replaces: None,
        }),
    )
}

fn consultation() -> SignedEvent {
    sign(
        &town(),
        T0,
        Body::Consultation(Box::new(ConsultationBody {
            title: "Le parc".into(),
            description: "Que planter ?".into(),
            authorities: vec![town().public_key()],
            proposals_open_ms: T0,
            proposals_close_ms: T0 + DAY,
            vote_open_ms: T0 + DAY,
            vote_close_ms: T0 + 2 * DAY,
            method: Method::Approval { max_choices: 2 },
            show_running_results: true,
            secrecy: None,
            quotas: None,
        })),
    )
}

fn proposal(c: EventId, n: u16, title: &str) -> SignedEvent {
    sign(
        &resident(n),
        T0 + 1,
        Body::Proposal(ProposalBody {
            consultation: c,
            title: title.into(),
            body: "…".into(),
            cost: None,
        }),
    )
}

fn ballot(c: EventId, n: u16, at: u64, approve: Vec<EventId>) -> SignedEvent {
    sign(
        &resident(n),
        at,
        Body::Ballot(BallotBody {
            consultation: c,
            choice: Choice::Approve(approve),
            assistance: None,
        }),
    )
}

/// The town's moderation of `target` (a purge carries its tombstone).
fn moderation(
    at: u64,
    target: EventId,
    action: ModerationAction,
    tombstone: Option<Tombstone>,
) -> SignedEvent {
    sign(
        &town(),
        at,
        Body::Moderation(ModerationBody {
            target,
            action,
            reason: "hors sujet".into(),
            tombstone,
        }),
    )
}

/// A town with `n` residents (at least the two who propose), a consultation and two
/// proposals, committed in one batch.
fn seed<S: Storage>(s: &S, n: u16) -> (EventId, Vec<EventId>) {
    let c = consultation();
    let cid = c.id();
    let mut items = vec![item(authority())];
    items.extend((0..n.max(2)).map(|i| item(credential(i))));
    items.push(item(c));
    let p1 = proposal(cid, 0, "Des tilleuls");
    let p2 = proposal(cid, 1, "Des cerisiers");
    let mut ps = vec![p1.id(), p2.id()];
    ps.sort();
    items.push(item(p1));
    items.push(item(p2));
    let out = s.commit(items, live(T0 + 1), &signer()).expect("commit");
    assert!(out.results.iter().all(Result::is_ok), "{:?}", out.results);
    (cid, ps)
}

fn appends_and_reads_back<S: Storage>(s: &S) {
    let (cid, ps) = seed(s, 3);
    let t = town().public_key();
    assert_eq!(s.log_size(&t), 7);
    assert!(s.is_declared(&t));
    let listed: Vec<EventId> = s
        .consultations()
        .expect("list")
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, vec![cid]);
    assert_eq!(s.consultation(&cid).expect("consultation").organiser, t);
    assert_eq!(s.proposal(&ps[0]).expect("proposal").consultation, cid);
    let head = s.latest_head(&t).expect("read").expect("a head");
    assert!(head.verify().is_ok());
    assert_eq!(head.head.size, 7);
    assert_eq!(Some(head.head.root), s.root_at(&t, 7));
    let entries = s.entries(&t, 0, 100).expect("entries");
    assert_eq!(entries.len(), 7);
    let mut leaves = Vec::new();
    for (i, bytes) in entries.iter().enumerate() {
        let e = SignedEvent::from_bytes(bytes.clone()).expect("stored bytes are a valid event");
        assert_eq!(s.position(&e.id()).expect("read"), Some((t, i as u64)));
        assert_eq!(s.entry(&t, i as u64).expect("read").as_ref(), Some(bytes));
        leaves.push(merkle::leaf_hash(bytes));
    }
    assert_eq!(merkle::root_of_leaves(&leaves), head.head.root);
    assert_eq!(s.entries(&t, 5, 100).expect("entries").len(), 2);
    assert!(s.entries(&t, 5, 5).expect("entries").is_empty());
}

fn a_batch_sees_its_own_earlier_items<S: Storage>(s: &S) {
    let (cid, ps) = seed(s, 1);
    let t = town().public_key();
    let b = ballot(cid, 50, T0 + DAY, vec![ps[0]]);
    let out = s
        .commit(
            vec![
                item(ballot(cid, 51, T0 + DAY, vec![ps[0]])), // no credential yet
                item(credential_at(50, T0 + DAY)),
                item(b.clone()),
                item(b), // the same bytes again
                item(ballot(cid, 50, T0 + DAY + 1, ps.clone())),
            ],
            live(T0 + DAY + 1),
            &signer(),
        )
        .expect("commit");
    let codes: Vec<&str> = out
        .results
        .iter()
        .map(|r| r.as_ref().map_or_else(|e| e.code(), |_| "ok"))
        .collect();
    assert_eq!(codes, vec!["not_eligible", "ok", "ok", "duplicate", "ok"]);
    assert_eq!(
        s.log_size(&t),
        6 + 3,
        "only the accepted items were written"
    );
    assert_eq!(out.heads.len(), 1);
    let (_, counted) = s.count(&cid).expect("count").expect("consultation");
    assert_eq!(
        counted.ballots.len(),
        1,
        "the voter's latest ballot counts once"
    );
    let (_, (_, choice)) = counted.ballots.iter().next().expect("one ballot");
    assert_eq!(choice, &Choice::Approve(ps));
}

fn refused_batches_write_nothing<S: Storage>(s: &S) {
    seed(s, 1);
    let t = town().public_key();
    let before = (s.log_size(&t), s.latest_head(&t).expect("read"));
    let out = s
        .commit(
            vec![item(authority()), item(credential(0))],
            live(T0),
            &signer(),
        )
        .expect("commit");
    assert!(out.results.iter().all(Result::is_err));
    assert!(out.heads.is_empty());
    assert_eq!((s.log_size(&t), s.latest_head(&t).expect("read")), before);
}

fn invitations_are_used_once<S: Storage>(s: &S) {
    seed(s, 0);
    let codes: Vec<Hash> = (0..3u8).map(|i| Hash([i; 32])).collect();
    assert_eq!(s.add_invitations(&codes).expect("add"), 3);
    assert_eq!(s.add_invitations(&codes[..1]).expect("add"), 0);
    let redeem = |n: u16, code: Hash| CommitItem {
        consume_invitation: Some(code),
        ..item(credential(n))
    };
    let out = s
        .commit(
            vec![
                redeem(10, codes[0]),
                redeem(11, codes[0]),
                redeem(12, Hash([9; 32])),
                redeem(13, codes[1]),
            ],
            live(T0),
            &signer(),
        )
        .expect("commit");
    let codes_seen: Vec<&str> = out
        .results
        .iter()
        .map(|r| r.as_ref().map_or_else(|e| e.code(), |_| "ok"))
        .collect();
    assert_eq!(
        codes_seen,
        vec!["ok", "used_invitation", "unknown_invitation", "ok"]
    );
    let again = s
        .commit(vec![redeem(14, codes[1])], live(T0), &signer())
        .expect("commit");
    assert_eq!(
        again.results[0].as_ref().map_err(|e| e.code()).err(),
        Some("used_invitation")
    );
    assert_eq!(
        s.invitation_status(&codes[0]).expect("read"),
        Some(InvitationStatus::Used)
    );
    assert_eq!(
        s.invitation_status(&codes[2]).expect("read"),
        Some(InvitationStatus::Unused)
    );
    let counts = s.invitation_counts().expect("counts");
    assert_eq!((counts.issued, counts.redeemed, counts.revoked), (3, 2, 0));
    // A refused credential does not use up its code.
    let again_10 = CommitItem {
        consume_invitation: Some(codes[2]),
        ..item(credential_at(10, T0 + 1))
    };
    let dup = s
        .commit(vec![again_10], live(T0), &signer())
        .expect("commit");
    assert_eq!(
        dup.results[0].as_ref().map_err(|e| e.code()).err(),
        Some("already_credentialed")
    );
    assert_eq!(
        s.invitation_status(&codes[2]).expect("read"),
        Some(InvitationStatus::Unused)
    );
    // Withdrawing a batch withdraws only what is unused; a withdrawn code redeems nothing.
    assert_eq!(s.revoke_invitations(&codes).expect("revoke"), 1);
    assert_eq!(s.revoke_invitations(&codes).expect("revoke again"), 0);
    let after = s
        .commit(vec![redeem(15, codes[2])], live(T0), &signer())
        .expect("commit");
    assert_eq!(
        after.results[0].as_ref().map_err(|e| e.code()).err(),
        Some("revoked_invitation")
    );
    let counts = s.invitation_counts().expect("counts");
    assert_eq!((counts.issued, counts.redeemed, counts.revoked), (3, 2, 1));
}

fn proofs_verify_across_commits<S: Storage>(s: &S) {
    seed(s, 0);
    let t = town().public_key();
    let mut heads = vec![s.latest_head(&t).expect("read").expect("head")];
    // Past 2 × 64 entries, so that stored nodes of several levels and the subtrees
    // recomputed below them both take part.
    for batch in 0..30u16 {
        let items = (0..(batch % 9 + 1))
            .map(|i| item(credential(100 + batch * 10 + i)))
            .collect();
        let out = s.commit(items, live(T0), &signer()).expect("commit");
        heads.extend(out.heads);
    }
    let last = heads.last().expect("head").head;
    let entries = s.entries(&t, 0, last.size).expect("entries");
    assert!(last.size > 128, "{} entries", last.size);
    let leaves: Vec<_> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
    for h in &heads {
        let h = h.head;
        assert_eq!(h.root, merkle::root_of_leaves(&leaves[..h.size as usize]));
        for index in (0..h.size).step_by(3) {
            let proof = s.inclusion_proof(&t, index, h.size).expect("proof");
            let leaf = merkle::leaf_hash(&entries[index as usize]);
            assert_eq!(
                merkle::verify_inclusion(&leaf, index, h.size, &proof, &h.root),
                Ok(())
            );
        }
        let proof = s.consistency_proof(&t, h.size, last.size).expect("proof");
        assert_eq!(
            merkle::verify_consistency(h.size, last.size, &h.root, &last.root, &proof),
            Ok(())
        );
    }
    assert!(s.inclusion_proof(&t, last.size, last.size).is_err());
}

fn counts_like_core<S: Storage>(s: &S) {
    let (cid, ps) = seed(s, 6);
    let mut ledger = Ledger::new();
    let t = town().public_key();
    for bytes in s.entries(&t, 0, 100).expect("entries") {
        ledger
            .append(
                &t,
                SignedEvent::from_bytes(bytes).expect("valid"),
                Clock::Replay,
            )
            .expect("admitted");
    }
    let votes = (0..6u16).map(|n| {
        item(ballot(
            cid,
            n,
            T0 + DAY + u64::from(n),
            ps[..(n as usize % 2 + 1)].to_vec(),
        ))
    });
    let items: Vec<CommitItem> = votes.collect();
    for it in &items {
        ledger
            .append(&t, it.event.clone(), Clock::Replay)
            .expect("ballot");
    }
    s.commit(items, live(T0 + DAY + 3), &signer())
        .expect("commit");
    let (view, counted) = s.count(&cid).expect("count").expect("consultation");
    let (lview, lcounted) = ledger.count(&cid).expect("count");
    assert_eq!(counted.tally(&view), lcounted.tally(&lview));
    assert_eq!(counted.ballots.len(), 6);
}

/// Issue 19, point 2: counting again reads only the entries appended since the last
/// count — none while no log grew — and answers what a count from scratch answers.
fn a_count_reads_only_what_was_appended<S: Storage>(s: &S) {
    let (cid, ps) = seed(s, 6);
    let vote = |n: u16, at: u64| item(ballot(cid, n, at, ps[..(n as usize % 2 + 1)].to_vec()));
    s.commit(
        (0..4).map(|n| vote(n, T0 + DAY + u64::from(n))).collect(),
        live(T0 + DAY + 3),
        &signer(),
    )
    .expect("commit");
    let first = s.count(&cid).expect("count").expect("consultation").1;
    let size = s.log_size(&town().public_key());
    let read = s.entries_read();
    for _ in 0..10 {
        let again = s.count(&cid).expect("count").expect("consultation").1;
        assert!(Arc::ptr_eq(&again, &first), "the same count is handed out");
    }
    assert_eq!(s.entries_read(), read, "no entry is read while no log grew");
    // Two more ballots, one of them replacing voter 0's: exactly those two are read.
    s.commit(
        vec![vote(4, T0 + DAY + 10), vote(0, T0 + DAY + 11)],
        live(T0 + DAY + 11),
        &signer(),
    )
    .expect("commit");
    let read = s.entries_read();
    let (view, counted) = s.count(&cid).expect("count").expect("consultation");
    assert_eq!(
        s.entries_read() - read,
        s.log_size(&town().public_key()) - size
    );
    assert_eq!(counted.ballots.len(), 5);
    // What a count from scratch gives.
    let t = town().public_key();
    let entries: Vec<Entry> = s
        .entries(&t, 0, s.log_size(&t))
        .expect("entries")
        .into_iter()
        .map(|b| Entry::from_bytes(b, &t).expect("valid"))
        .collect();
    let prefix = palabre_core::counting::LogPrefix {
        authority: t,
        entries: &entries,
    };
    assert_eq!(*counted, palabre_core::counting::count(&view, &[prefix]));
}

macro_rules! suite {
    ($($name:ident),*) => {
        mod memory {
            $(#[test] fn $name() { super::$name(&palabre_store::MemoryStorage::new()); })*
        }
        mod sled {
            $(#[test] fn $name() {
                let dir = tempfile::tempdir().expect("temp dir");
                let s = palabre_store::SledStorage::open(dir.path(), palabre_store::StoreConfig::default()).expect("open");
                super::$name(&s);
            })*
        }
    };
}

fn members_and_moderation<S: Storage>(s: &S) {
    let (cid, ps) = seed(s, 3);
    let argue = |n: u16, proposal: EventId, text: &str| {
        sign(
            &resident(n),
            T0 + 2,
            Body::Argument(ArgumentBody {
                proposal,
                stance: Stance::Pro,
                body: text.into(),
            }),
        )
    };
    let moderate =
        |at: u64, target: EventId, action: ModerationAction| moderation(at, target, action, None);
    let a1 = argue(0, ps[0], "Plus d'ombre");
    let a2 = argue(2, ps[1], "Moins de bruit");
    let hide = moderate(T0 + 3, a2.id(), ModerationAction::Hide);
    let out = s
        .commit(
            vec![item(a1.clone()), item(a2.clone()), item(hide.clone())],
            live(T0 + 3),
            &signer(),
        )
        .expect("commit");
    assert!(out.results.iter().all(Result::is_ok), "{:?}", out.results);
    let mut members = s.members(&cid).expect("members");
    members.sort();
    let mut expected = vec![ps[0], ps[1], a1.id(), a2.id()];
    expected.sort();
    assert_eq!(members, expected);
    assert_eq!(s.members(&a1.id()).expect("members"), vec![]);
    let t = town().public_key();
    assert_eq!(
        s.moderation(&a2.id()).expect("read"),
        vec![Moderated {
            by: t,
            action: ModerationAction::Hide,
            moderation: hide.id()
        }]
    );
    assert_eq!(s.moderation(&a1.id()).expect("read"), vec![]);
    // The latest action of a log is the one that stands.
    let restore = moderate(T0 + 4, a2.id(), ModerationAction::Restore);
    let out = s
        .commit(vec![item(restore.clone())], live(T0 + 4), &signer())
        .expect("commit");
    assert!(out.results.iter().all(Result::is_ok), "{:?}", out.results);
    assert_eq!(
        s.moderation(&a2.id()).expect("read"),
        vec![Moderated {
            by: t,
            action: ModerationAction::Restore,
            moderation: restore.id()
        }]
    );
}

/// A replica receives another town's log page by page, byte for byte, with that town's
/// own signed head; an entry that core refuses stops the page there.
fn replicas_are_kept_byte_for_byte<S: Storage>(s: &S) {
    let origin = MemoryStorage::new();
    let (cid, ps) = seed(&origin, 3);
    let out = origin
        .commit(
            vec![item(ballot(cid, 2, T0 + DAY + 5, vec![ps[0]]))],
            live(T0 + DAY + 5),
            &signer(),
        )
        .expect("commit");
    let head = out.heads[0];
    let t = town().public_key();
    let bytes = origin.entries(&t, 0, 100).expect("entries");
    let events = |from: usize, to: usize| -> Vec<Entry> {
        bytes[from..to]
            .iter()
            .map(|b| Entry::from_bytes(b.clone(), &t).expect("valid"))
            .collect()
    };
    let n = bytes.len();
    // Out of order: refused whole.
    assert!(matches!(
        s.append_replica(&head, 2, events(2, n)),
        Err(palabre_store::StoreError::NotContiguous { held: 0, start: 2 })
    ));
    // A first page: written, but the head is not reached yet.
    let first = s.append_replica(&head, 0, events(0, 3)).expect("append");
    assert_eq!(
        (first.appended, first.refused.clone(), first.reached_head),
        (3, None, false)
    );
    assert_eq!(s.latest_head(&t).expect("read"), None);
    // A page whose second entry repeats the first: it stops there.
    let mut repeated = events(3, 4);
    repeated.extend(events(3, n));
    let stopped = s.append_replica(&head, 3, repeated).expect("append");
    assert_eq!(stopped.appended, 1);
    assert_eq!(
        stopped.refused.map(|(i, r)| (i, r.code())),
        Some((4, "duplicate"))
    );
    let rest = s.append_replica(&head, 4, events(4, n)).expect("append");
    assert!(rest.reached_head && rest.refused.is_none());
    assert_eq!(s.entries(&t, 0, 100).expect("entries"), bytes);
    assert_eq!(s.latest_head(&t).expect("read"), Some(head));
    assert_eq!(s.root_at(&t, n as u64), Some(head.head.root));
    // Indexed like the town's own node: the count is the same.
    assert_eq!(
        s.count(&cid)
            .expect("count")
            .map(|(_, c)| c.tally(&s.consultation(&cid).expect("view"))),
        origin
            .count(&cid)
            .expect("count")
            .map(|(_, c)| c.tally(&origin.consultation(&cid).expect("view")))
    );
    // Cosignatures and evidence are kept once each.
    let witness = key(101);
    let c = CosignedHead {
        head: head.head,
        witness: witness.public_key(),
        timestamp_ms: T0,
    }
    .sign(&witness);
    assert!(s.add_cosignature(&c).expect("add"));
    assert!(!s.add_cosignature(&c).expect("add again"));
    assert_eq!(s.cosignatures(&t).expect("read"), vec![c]);
    assert_eq!(s.cosignatures(&witness.public_key()).expect("read"), vec![]);
    let fork = Equivocation {
        first: head,
        second: TreeHead {
            root: Hash([1; 32]),
            ..head.head
        }
        .sign(&town()),
        prefix: None,
    };
    assert!(s.add_evidence(&fork).expect("add"));
    assert!(!s.add_evidence(&fork).expect("add again"));
    assert_eq!(s.evidence().expect("read"), vec![fork.clone()]);
    assert_eq!(
        s.evidence_against(&t, 0, 5).expect("read"),
        vec![fork.clone()]
    );
    assert_eq!(s.evidence_against(&t, 1, 5).expect("read"), vec![]);
    assert_eq!(
        s.evidence_against(&witness.public_key(), 0, 5)
            .expect("read"),
        vec![]
    );
    // Pages of cosignatures, in the order (size, witness, root), for a recovering peer;
    // several kept in one write.
    let witnesses: Vec<_> = (102..106).map(key).collect();
    let more: Vec<_> = witnesses
        .iter()
        .flat_map(|w| {
            [1, 2].map(|size| {
                CosignedHead {
                    head: TreeHead { size, ..head.head },
                    witness: w.public_key(),
                    timestamp_ms: T0,
                }
                .sign(w)
            })
        })
        .collect();
    assert_eq!(s.add_cosignatures(&more).expect("add"), 8);
    assert_eq!(s.add_cosignatures(&more).expect("add again"), 0);
    let order = |c: &palabre_core::head::Cosignature| {
        let h = &c.cosigned.head;
        (h.size, *c.cosigned.witness.as_bytes(), h.root.0)
    };
    let mut all = more.clone();
    all.push(c);
    all.sort_by_key(order);
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = s.cosignatures_after(&t, after, 3).expect("page");
        let Some(last) = page.last() else { break };
        after = Some((
            last.cosigned.head.size,
            last.cosigned.witness,
            last.cosigned.head.root,
        ));
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert_eq!(
        s.cosignatures_after(&witness.public_key(), None, 3)
            .expect("page"),
        vec![]
    );
}

/// The entries of `t`'s log as served, checked as a peer checks them.
fn served<S: Storage>(s: &S, t: &PublicKey) -> Vec<Entry> {
    s.entries(t, 0, 1_000)
        .expect("entries")
        .into_iter()
        .map(|b| Entry::from_bytes(b, t).expect("valid"))
        .collect()
}

/// A hidden proposal's text is purged: its place keeps its leaf hash, so old heads and
/// proofs still verify, the count does not move, and replicas — fresh ones fed the
/// tombstone, older ones that held the text — end with the same bytes.
fn purges_keep_proofs_and_replicas_follow<S: Storage>(s: &S) {
    let (cid, ps) = seed(s, 3);
    let t = town().public_key();
    let target = ps[1];
    let moderate = |at: u64, action: ModerationAction, tombstone: Option<Tombstone>| {
        moderation(at, target, action, tombstone)
    };
    let hide = moderate(T0 + DAY, ModerationAction::Hide, None);
    let out = s
        .commit(
            vec![
                item(hide),
                item(ballot(cid, 2, T0 + DAY + 1, vec![ps[0], ps[1]])),
            ],
            live(T0 + DAY + 1),
            &signer(),
        )
        .expect("commit");
    assert!(out.results.iter().all(Result::is_ok), "{:?}", out.results);
    let before_head = out.heads[0];
    let n = before_head.head.size;
    let before_bytes = s.entries(&t, 0, n).expect("entries");
    let (_, index) = s.position(&target).expect("read").expect("held");
    let text = s.entry(&t, index).expect("read").expect("held");
    let (_, counted_before) = s.count(&cid).expect("count").expect("known");

    let event = stored_event(text.clone()).expect("an event");
    let tombstone = Tombstone::sign(TombstoneBody::of(&event, cid).expect("tombstone"), &town())
        .expect("signs");
    let purge = moderate(
        T0 + DAY + 2,
        ModerationAction::Purge,
        Some(tombstone.clone()),
    );
    let out = s
        .commit(vec![item(purge)], live(T0 + DAY + 2), &signer())
        .expect("commit");
    assert!(out.results.iter().all(Result::is_ok), "{:?}", out.results);
    let after_head = out.heads[0];

    // The place holds the tombstone; every proof of the old head still verifies.
    let now = s.entry(&t, index).expect("read").expect("held");
    assert_eq!(now, tombstone.to_bytes());
    assert!(matches!(s.held(&target), Some((log, Entry::Purged(_))) if log == t));
    assert_eq!(s.root_at(&t, n), Some(before_head.head.root));
    let proof = s.inclusion_proof(&t, index, n).expect("proof");
    merkle::verify_inclusion(
        &merkle::leaf_hash(&text),
        index,
        n,
        &proof,
        &before_head.head.root,
    )
    .expect("the text's old inclusion proof still holds");
    let proof = s
        .consistency_proof(&t, n, after_head.head.size)
        .expect("proof");
    merkle::verify_consistency(
        n,
        after_head.head.size,
        &before_head.head.root,
        &after_head.head.root,
        &proof,
    )
    .expect("the new head extends the old one");
    assert_eq!(s.moderated(&t, &target), Some(ModerationAction::Purge));
    assert_eq!(
        s.moderation(&target).expect("read")[0].action,
        ModerationAction::Purge
    );
    assert!(s.members(&cid).expect("members").contains(&target));
    let (_, counted_after) = s.count(&cid).expect("count").expect("known");
    assert_eq!(counted_before, counted_after);
    // Nothing moderates it any more.
    let restore = moderate(T0 + DAY + 3, ModerationAction::Restore, None);
    let out = s
        .commit(vec![item(restore)], live(T0 + DAY + 3), &signer())
        .expect("commit");
    assert_eq!(
        out.results[0].as_ref().map_err(|r| r.code()).err(),
        Some("purged")
    );

    // A fresh replica, fed the log as served now (a tombstone in the place).
    let all = s.entries(&t, 0, 1_000).expect("entries");
    let fresh_dir = tempfile::tempdir().expect("temp dir");
    let fresh_sled = SledStorage::open(fresh_dir.path(), StoreConfig::default()).expect("open");
    let fresh_memory = MemoryStorage::new();
    let replicas: [&dyn Storage; 2] = [&fresh_sled, &fresh_memory];
    for r in replicas {
        let got = r
            .append_replica(&after_head, 0, served(s, &t))
            .expect("append");
        assert_eq!((got.refused, got.reached_head), (None, true));
        assert_eq!(r.entries(&t, 0, 1_000).expect("entries"), all);
        assert_eq!(
            r.count(&cid).expect("count").map(|(_, c)| c),
            Some(counted_after.clone())
        );
    }
    // An older replica that holds the text: the purge, when it arrives, erases it.
    let old_dir = tempfile::tempdir().expect("temp dir");
    let old = SledStorage::open(old_dir.path(), StoreConfig::default()).expect("open");
    let old_entries: Vec<Entry> = before_bytes
        .into_iter()
        .map(|b| Entry::from_bytes(b, &t).expect("valid"))
        .collect();
    let got = old
        .append_replica(&before_head, 0, old_entries)
        .expect("append");
    assert!(got.reached_head);
    assert_eq!(old.entry(&t, index).expect("read"), Some(text));
    let rest: Vec<Entry> = served(s, &t).split_off(n as usize);
    let got = old.append_replica(&after_head, n, rest).expect("append");
    assert_eq!((got.refused, got.reached_head), (None, true));
    assert_eq!(old.entries(&t, 0, 1_000).expect("entries"), all);
}

suite!(
    replicas_are_kept_byte_for_byte,
    purges_keep_proofs_and_replicas_follow,
    members_and_moderation,
    appends_and_reads_back,
    a_batch_sees_its_own_earlier_items,
    refused_batches_write_nothing,
    invitations_are_used_once,
    proofs_verify_across_commits,
    counts_like_core,
    a_count_reads_only_what_was_appended
);

#[test]
fn sled_keeps_everything_across_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let t = town().public_key();
    let (cid, root) = {
        let s = SledStorage::open(dir.path(), StoreConfig::default()).expect("open");
        let (cid, _) = seed(&s, 4);
        s.add_invitations(&[Hash([5; 32])]).expect("add");
        (cid, s.root_at(&t, 7).expect("root"))
    };
    let s = reopen(dir.path());
    assert_eq!(s.log_size(&t), 8);
    assert_eq!(s.root_at(&t, 7), Some(root));
    assert!(s.consultation(&cid).is_some());
    assert!(s.credential(&t, &resident(3).public_key()).is_some());
    assert_eq!(
        s.invitation_status(&Hash([5; 32])).expect("read"),
        Some(InvitationStatus::Unused)
    );
    assert_eq!(s.latest_head(&t).expect("read").expect("head").head.size, 8);
    // Appending after a reopen continues the same tree.
    let out = s
        .commit(vec![item(credential(40))], live(T0), &signer())
        .expect("commit");
    assert!(out.results[0].is_ok());
    let mem = MemoryStorage::new();
    for bytes in s.entries(&t, 0, 100).expect("entries") {
        mem.commit(
            vec![item(SignedEvent::from_bytes(bytes).expect("valid"))],
            Clock::Replay,
            &signer(),
        )
        .expect("commit");
    }
    assert_eq!(mem.root_at(&t, 9), s.root_at(&t, 9));
}

#[test]
fn concurrent_commits_all_land() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Arc::new(SledStorage::open(dir.path(), StoreConfig::default()).expect("open"));
    seed(&*s, 0);
    let handles: Vec<_> = (0..4u16)
        .map(|thread| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                for i in 0..20u16 {
                    let out = s
                        .commit(
                            vec![item(credential(1000 + thread * 100 + i))],
                            live(T0),
                            &signer(),
                        )
                        .expect("commit");
                    assert!(out.results[0].is_ok());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("no panic");
    }
    let t: PublicKey = town().public_key();
    assert_eq!(s.log_size(&t), 6 + 80);
    let head = s.latest_head(&t).expect("read").expect("head");
    assert_eq!(head.head.size, 86);
    assert_eq!(s.root_at(&t, 86), Some(head.head.root));
}

fn credential_at(n: u16, at: u64) -> SignedEvent {
    sign(
        &town(),
        at,
        Body::Credential(CredentialBody {
            subject: resident(n).public_key(),
            replaces: None,
        }),
    )
}

fn writer_for<S: Storage + 'static>(s: Arc<S>) -> palabre_store::Writer {
    let k = town();
    palabre_store::Writer::new(s, Box::new(move |h: TreeHead| h.sign(&k)), Box::new(|| T0))
}

#[test]
fn queued_requests_are_committed_as_one_group() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Arc::new(SledStorage::open(dir.path(), StoreConfig::default()).expect("open"));
    seed(&*s, 0);
    let writer = writer_for(Arc::clone(&s));
    let tickets: Vec<_> = (0..10u16)
        .map(|i| {
            writer
                .enqueue(vec![item(credential(200 + i))])
                .expect("queued")
        })
        .collect();
    // A duplicate in the same group is refused without harming the others.
    let dup = writer.enqueue(vec![item(credential(200))]).expect("queued");
    let writer = writer.start();
    for t in tickets {
        let c = t.wait().expect("committed");
        assert!(c.results[0].is_ok());
        assert_eq!(c.heads.len(), 1);
    }
    let refused = dup.wait().expect("answered");
    assert_eq!(
        refused.results[0].as_ref().map_err(|e| e.code()).err(),
        Some("duplicate")
    );
    let stats = writer.stats();
    assert_eq!(
        stats.n_commits.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(stats.n_items.load(std::sync::atomic::Ordering::Relaxed), 11);
    assert_eq!(s.log_size(&town().public_key()), 6 + 10);
}

#[test]
fn many_submitters_through_the_writer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Arc::new(SledStorage::open(dir.path(), StoreConfig::default()).expect("open"));
    seed(&*s, 0);
    let writer = Arc::new(writer_for(Arc::clone(&s)).start());
    let handles: Vec<_> = (0..8u16)
        .map(|thread| {
            let writer = Arc::clone(&writer);
            std::thread::spawn(move || {
                (0..25u16)
                    .map(|i| {
                        let c = writer
                            .submit(vec![item(credential(300 + thread * 100 + i))])
                            .expect("committed");
                        c.results[0].as_ref().expect("accepted").index
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut indexes: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("no panic"))
        .collect();
    indexes.sort();
    assert_eq!(
        indexes,
        (6..206).collect::<Vec<u64>>(),
        "every acknowledged item has its own index"
    );
    let t = town().public_key();
    for i in [6u64, 100, 205] {
        assert!(s.entry(&t, i).expect("read").is_some());
    }
    let stats = writer.stats();
    assert_eq!(
        stats.n_items.load(std::sync::atomic::Ordering::Relaxed),
        200
    );
}

/// Opens a database closed a moment ago in this process. sled's own threads may hold
/// its file lock briefly after the last handle is dropped, so this waits (bounded) for
/// the lock to be released; any other error fails at once.
fn reopen(path: &std::path::Path) -> SledStorage {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match SledStorage::open(path, StoreConfig::default()) {
            Ok(s) => return s,
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("reopen: {e}"),
        }
    }
}
