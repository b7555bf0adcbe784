//! The model-based test of the stores (sled's own habit): random sequences of operations
//! — commits of this town's events (credentials, redeemed invitations, proposals, ballots,
//! revocations, hide / restore / purge), pages of a neighbour's log appended as a replica
//! (contiguous or not, with heads reached or not, a tombstone among them), cosignatures,
//! evidence, invitation codes added and withdrawn — applied to a `SledStorage` on disk and
//! to a `MemoryStorage`; after every operation, its answer and every read (the counts
//! quotas are checked against among them) must be equal.
//!
//! It is the safety net for storage changes; a failure prints the shrunk sequence.

use std::sync::LazyLock;

use palabre_core::counting::{Counted, LogPrefix};
use palabre_core::head::Cosignature;
use palabre_core::view::ConsultationView;
use palabre_store::stored_entry;
use proptest::prelude::*;

use crate::*;

/// The neighbouring town whose log is replicated.
fn neighbour() -> SecretKey {
    key(102)
}

/// Residents of this town who may act.
const N_RESIDENTS: u16 = 4;

fn pool_proposal(cid: EventId, n: u16) -> SignedEvent {
    proposal(cid, n, &format!("Idée {n}"))
}

/// The neighbour's log as served (a purged proposal's place holds its tombstone) and its
/// signed heads, built once.
struct Neighbour {
    entries: Vec<Vec<u8>>,
    heads: Vec<SignedTreeHead>,
}

static NEIGHBOUR: LazyLock<Neighbour> = LazyLock::new(|| {
    let origin = MemoryStorage::new();
    let n = neighbour();
    let log = n.public_key();
    let sign_head = move |h: TreeHead| h.sign(&neighbour());
    let at = |event| CommitItem {
        log,
        event,
        consume_invitation: None,
    };
    let c = sign(
        &n,
        T0,
        Body::Consultation(Box::new(ConsultationBody {
            title: "La place".into(),
            description: "Quels bancs ?".into(),
            authorities: vec![log],
            proposals_open_ms: T0,
            proposals_close_ms: T0 + DAY,
            vote_open_ms: T0 + DAY,
            vote_close_ms: T0 + 2 * DAY,
            method: Method::Support { threshold: 1 },
            show_running_results: true,
            secrecy: None,
            quotas: None,
        })),
    );
    let cid = c.id();
    let sub = |k: &SecretKey| {
        sign(
            &n,
            T0,
            Body::Credential(CredentialBody {
                subject: k.public_key(),
                replaces: None,
            }),
        )
    };
    let declare = sign(
        &n,
        T0,
        Body::Authority(AuthorityBody {
            name: "Voisine".into(),
            code: "01002".into(),
            addresses: vec![],
            encryption_key: None,
            encryption_pok: None,
        }),
    );
    let mut heads = Vec::new();
    let mut commit = |items: Vec<CommitItem>, now: u64| {
        let out = origin.commit(items, live(now), &sign_head).expect("commit");
        assert!(out.results.iter().all(Result::is_ok), "{:?}", out.results);
        heads.extend(out.heads);
    };
    commit(
        vec![at(declare), at(sub(&key(60))), at(sub(&key(61))), at(c)],
        T0 + 1,
    );
    let p = sign(
        &key(60),
        T0 + 2,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "Des bancs".into(),
            body: "…".into(),
            cost: None,
        }),
    );
    let q = sign(
        &key(61),
        T0 + 2,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "Une fontaine".into(),
            body: "…".into(),
            cost: None,
        }),
    );
    let purged = TombstoneBody::of(&p, cid).expect("a proposal");
    let tombstone = Tombstone::sign(purged, &n).expect("sign");
    let moderate = |at: u64, action, tombstone| {
        sign(
            &n,
            at,
            Body::Moderation(ModerationBody {
                target: p.id(),
                action,
                reason: "hors sujet".into(),
                tombstone,
            }),
        )
    };
    let q_id = q.id();
    commit(vec![at(p.clone()), at(q)], T0 + 2);
    commit(
        vec![at(moderate(T0 + 3, ModerationAction::Hide, None))],
        T0 + 3,
    );
    commit(
        vec![at(moderate(
            T0 + 4,
            ModerationAction::Purge,
            Some(tombstone),
        ))],
        T0 + 4,
    );
    let ballot = |k: &SecretKey, approve: Vec<EventId>| {
        sign(
            k,
            T0 + DAY + 1,
            Body::Ballot(BallotBody {
                consultation: cid,
                choice: Choice::Approve(approve),
                assistance: None,
            }),
        )
    };
    commit(
        vec![
            at(ballot(&key(61), vec![q_id])),
            at(ballot(&key(60), vec![])),
        ],
        T0 + DAY + 1,
    );
    Neighbour {
        entries: origin.entries(&log, 0, 1_000).expect("entries"),
        heads,
    }
});

/// One event of this town's pool.
#[derive(Debug, Clone)]
enum Pick {
    Credential(u16),
    /// A credential consuming invitation code `code`.
    Redeem(u16, u8),
    Revocation(u16),
    Proposal(u16),
    /// A ballot of resident `n` approving the pool proposals whose bit is set.
    Ballot(u16, u8),
    Moderate(u16, ModerationAction),
}

#[derive(Debug, Clone)]
enum Op {
    /// Commits the picks in one batch at `T0 + at_ms` (events signed at that time).
    Commit(Vec<Pick>, u64),
    /// Appends `len` entries of the neighbour's log from the held size moved by
    /// `shift` − 1 (so mostly contiguous), with the neighbour's head number `head`.
    Replica {
        shift: u8,
        len: u8,
        head: u8,
    },
    Cosign {
        witness: u8,
        head: u8,
    },
    Evidence {
        head: u8,
        root: u8,
    },
    /// Adds invitation codes, distinct (a code repeated within one call is counted
    /// twice by sled and once by the memory store; left out here, reported).
    Invite(Vec<u8>),
    /// Withdraws invitation codes, distinct.
    Withdraw(Vec<u8>),
}

fn code(c: u8) -> Hash {
    Hash([c; 32])
}

fn arb_pick() -> impl Strategy<Value = Pick> {
    let n = 0..N_RESIDENTS;
    let action = prop_oneof![
        Just(ModerationAction::Hide),
        Just(ModerationAction::Restore),
        Just(ModerationAction::Purge),
    ];
    prop_oneof![
        n.clone().prop_map(Pick::Credential),
        (n.clone(), 0u8..4).prop_map(|(n, c)| Pick::Redeem(n, c)),
        n.clone().prop_map(Pick::Revocation),
        n.clone().prop_map(Pick::Proposal),
        (n.clone(), any::<u8>()).prop_map(|(n, b)| Pick::Ballot(n, b)),
        (n, action).prop_map(|(n, a)| Pick::Moderate(n, a)),
    ]
}

fn arb_op() -> impl Strategy<Value = Op> {
    let at = prop_oneof![Just(2u64), Just(DAY + 2), Just(2 * DAY + 2)];
    prop_oneof![
        4 => (prop::collection::vec(arb_pick(), 1..5), at)
            .prop_map(|(picks, at)| Op::Commit(picks, at)),
        3 => (0u8..3, 1u8..6, any::<u8>())
            .prop_map(|(shift, len, head)| Op::Replica { shift, len, head }),
        1 => (0u8..2, any::<u8>()).prop_map(|(witness, head)| Op::Cosign { witness, head }),
        1 => (any::<u8>(), 0u8..2).prop_map(|(head, root)| Op::Evidence { head, root }),
        1 => prop::collection::btree_set(0u8..4, 1..3)
            .prop_map(|c| Op::Invite(c.into_iter().collect())),
        1 => prop::collection::btree_set(0u8..4, 1..3)
            .prop_map(|c| Op::Withdraw(c.into_iter().collect())),
    ]
}

/// The town's consultation, committed first to both stores with the authority event.
fn start<S: Storage>(s: &S) -> EventId {
    let c = consultation();
    let cid = c.id();
    let out = s
        .commit(vec![item(authority()), item(c)], live(T0 + 1), &signer())
        .expect("commit");
    assert!(out.results.iter().all(Result::is_ok), "{:?}", out.results);
    cid
}

/// The event of `pick` at time `at`, as this town's store would be given it.
fn event_of(cid: EventId, pick: &Pick, at: u64) -> CommitItem {
    let town_sign = |body| sign(&town(), at, body);
    let credential = |n: u16| {
        town_sign(Body::Credential(CredentialBody {
            subject: resident(n).public_key(),
            replaces: None,
        }))
    };
    match pick {
        Pick::Credential(n) => item(credential(*n)),
        Pick::Redeem(n, c) => CommitItem {
            consume_invitation: Some(code(*c)),
            ..item(credential(*n))
        },
        Pick::Revocation(n) => item(town_sign(Body::Revocation(RevocationBody {
            subject: resident(*n).public_key(),
            reason: "déménagé".into(),
        }))),
        Pick::Proposal(n) => item(pool_proposal(cid, *n)),
        Pick::Ballot(n, bits) => {
            let mut approve: Vec<EventId> = (0..N_RESIDENTS)
                .filter(|i| bits & (1 << i) != 0)
                .map(|i| pool_proposal(cid, i).id())
                .take(2)
                .collect();
            approve.sort();
            item(ballot(cid, *n, at, approve))
        }
        Pick::Moderate(n, action) => {
            let target = pool_proposal(cid, *n);
            let tombstone = (*action == ModerationAction::Purge).then(|| {
                let body = TombstoneBody::of(&target, cid).expect("a proposal");
                Tombstone::sign(body, &town()).expect("sign")
            });
            item(moderation(at, target.id(), *action, tombstone))
        }
    }
}

/// Applies `op` to a store and returns its answer, as text.
fn apply<S: Storage>(s: &S, cid: EventId, op: &Op) -> String {
    let nb = &*NEIGHBOUR;
    let log = neighbour().public_key();
    match op {
        Op::Commit(picks, at) => {
            let items = picks.iter().map(|p| event_of(cid, p, T0 + at)).collect();
            format!("{:?}", s.commit(items, live(T0 + at), &signer()))
        }
        Op::Replica { shift, len, head } => {
            let held = s.log_size(&log) as usize;
            let from = (held + usize::from(*shift)).saturating_sub(1);
            let from = from.min(nb.entries.len());
            let to = (from + usize::from(*len)).min(nb.entries.len());
            let entries = nb.entries[from..to]
                .iter()
                .map(|b| Entry::from_bytes(b.clone(), &log).expect("valid"))
                .collect();
            let head = &nb.heads[usize::from(*head) % nb.heads.len()];
            match s.append_replica(head, from as u64, entries) {
                Ok(outcome) => format!("{outcome:?}"),
                Err(e) => format!("error: {e}"),
            }
        }
        Op::Cosign { witness, head } => {
            let w = key(110 + witness);
            let head = nb.heads[usize::from(*head) % nb.heads.len()];
            let c: Cosignature = CosignedHead {
                head: head.head,
                witness: w.public_key(),
                timestamp_ms: T0,
            }
            .sign(&w);
            format!("{:?}", s.add_cosignature(&c))
        }
        Op::Evidence { head, root } => {
            let first = nb.heads[usize::from(*head) % nb.heads.len()];
            let fork = Equivocation {
                first,
                second: TreeHead {
                    root: Hash([*root; 32]),
                    ..first.head
                }
                .sign(&neighbour()),
                prefix: None,
            };
            format!("{:?}", s.add_evidence(&fork))
        }
        Op::Invite(codes) => {
            let hashes: Vec<Hash> = codes.iter().map(|c| code(*c)).collect();
            format!("{:?}", s.add_invitations(&hashes))
        }
        Op::Withdraw(codes) => {
            let hashes: Vec<Hash> = codes.iter().map(|c| code(*c)).collect();
            format!("{:?}", s.revoke_invitations(&hashes))
        }
    }
}

/// Everything a store answers about the record, as text (lists whose order the
/// `Storage` contract leaves open are sorted).
fn reads<S: Storage>(s: &S, cid: EventId) -> Vec<String> {
    let mut out = Vec::new();
    let pool: Vec<EventId> = (0..N_RESIDENTS)
        .map(|n| pool_proposal(cid, n).id())
        .collect();
    for log in [town().public_key(), neighbour().public_key()] {
        let size = s.log_size(&log);
        out.push(format!("size {size}"));
        out.push(format!(
            "entries {:?}",
            s.entries(&log, 0, 1_000).map_err(|e| e.to_string())
        ));
        out.push(format!(
            "head {:?}",
            s.latest_head(&log).map_err(|e| e.to_string())
        ));
        out.push(format!(
            "cosignatures {:?}",
            s.cosignatures(&log).map_err(|e| e.to_string())
        ));
        // The root of an empty log is left out: sled answers the empty tree's hash and
        // the memory store `None` for a log it never saw.
        if size > 0 {
            out.push(format!("root {:?}", s.root_at(&log, size)));
            let proof = s.inclusion_proof(&log, size - 1, size);
            out.push(format!("proof {:?}", proof.map_err(|e| e.to_string())));
        }
    }
    let mut evidence: Vec<String> = s
        .evidence()
        .expect("evidence")
        .iter()
        .map(|e| format!("{e:?}"))
        .collect();
    evidence.sort();
    out.push(format!("evidence {evidence:?}"));
    let mut consultations: Vec<String> = s
        .consultations()
        .expect("consultations")
        .iter()
        .map(|c| format!("{c:?}"))
        .collect();
    consultations.sort();
    out.push(format!("consultations {consultations:?}"));
    // What quotas count: each author's proposals and arguments per log and consultation,
    // purged ones and a replica's tombstones included.
    let authors: Vec<PublicKey> = (0..N_RESIDENTS)
        .map(|n| resident(n).public_key())
        .chain([key(60).public_key(), key(61).public_key()])
        .collect();
    for c in s.consultations().expect("consultations") {
        for log in [town().public_key(), neighbour().public_key()] {
            for author in &authors {
                for kind in [Kind::Proposal, Kind::Argument] {
                    out.push(format!(
                        "authored {:?}",
                        s.n_authored(&log, &c.id, kind, author)
                    ));
                }
            }
        }
    }
    // In no given order, says the `Storage` contract.
    let mut members = s.members(&cid).expect("members");
    members.sort();
    out.push(format!("members {members:?}"));
    out.push(format!(
        "modlog {:?}",
        s.moderation_log().map_err(|e| e.to_string())
    ));
    for p in &pool {
        out.push(format!(
            "moderation {:?}",
            s.moderation(p).map_err(|e| e.to_string())
        ));
        out.push(format!(
            "position {:?}",
            s.position(p).map_err(|e| e.to_string())
        ));
    }
    out.push(format!(
        "count {:?}",
        s.count(&cid).map_err(|e| e.to_string())
    ));
    out.push(format!(
        "invitations {:?}",
        s.invitation_counts().map_err(|e| e.to_string())
    ));
    for c in 0..4 {
        out.push(format!(
            "code {:?}",
            s.invitation_status(&code(c)).map_err(|e| e.to_string())
        ));
    }
    out
}

/// `cid`'s count from scratch, over every participating log read whole (core's
/// `counting::count`), as `(view, count)`.
fn recount<S: Storage>(s: &S, cid: EventId) -> Option<(ConsultationView, Counted)> {
    let view = s.consultation(&cid)?;
    let logs: Vec<(PublicKey, Vec<Entry>)> = view
        .body
        .authorities
        .iter()
        .map(|a| {
            let size = palabre_core::counting::counted_size(s, a, &cid);
            let entries = s.entries(a, 0, size).expect("entries");
            let entries = entries.into_iter().map(|b| stored_entry(b).expect("entry"));
            (*a, entries.collect())
        })
        .collect();
    let prefixes: Vec<LogPrefix<'_>> = logs
        .iter()
        .map(|(authority, entries)| LogPrefix {
            authority: *authority,
            entries,
        })
        .collect();
    let counted = palabre_core::counting::count(&view, &prefixes);
    Some((view, counted))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sled_and_memory_answer_alike(ops in prop::collection::vec(arb_op(), 1..14)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let disk = SledStorage::open(dir.path(), StoreConfig::default()).expect("open");
        let memory = MemoryStorage::new();
        let cid = start(&disk);
        prop_assert_eq!(start(&memory), cid);
        for (i, op) in ops.iter().enumerate() {
            let (a, b) = (apply(&disk, cid, op), apply(&memory, cid, op));
            prop_assert_eq!(&a, &b, "answer to operation {} ({:?})", i, op);
            let (a, b) = (reads(&disk, cid), reads(&memory, cid));
            for (x, y) in a.iter().zip(&b) {
                prop_assert_eq!(x, y, "after operation {} ({:?})", i, op);
            }
            // Architecture invariant: the count cache, read on after every operation,
            // answers what a count from scratch answers.
            let cached = disk.count(&cid).expect("count").map(|(v, c)| (v, (*c).clone()));
            prop_assert_eq!(cached, recount(&disk, cid), "count after operation {}", i);
        }
    }
}
