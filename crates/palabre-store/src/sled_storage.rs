//! The sled storage. All trees are declared in [`Trees`], with their key layouts; integers
//! in keys are big-endian so that scans run in order.
//!
//! A commit first admits its items against a [`View`]: the stored record with the
//! batch's pending writes layered on top, so each item sees the ones accepted before it.
//! Then every pending write of every tree goes to disk in one sled transaction, followed
//! by one `flush()`; only then does `commit` return. sled's background flush is never
//! relied on for durability.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Mutex, RwLock};

use palabre_core::admission::{
    Clock, ConsultationView, CredentialState, CredentialStatus, ProposalView, Record, VoterId,
    acts_for, admit,
};
use palabre_core::crypto::PublicKey;
use palabre_core::event::{Body, ConsultationBody, Kind, ModerationAction, SignedEvent, StaffRole};
use palabre_core::head::{Cosignature, Equivocation, SignedTreeHead, TreeHead};
use palabre_core::ids::{EventId, Hash};
use palabre_core::merkle::{self, Nodes};
use palabre_core::purge::{self, Entry, PurgedEntry};
use palabre_core::rejection::Rejection;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use sha2::{Digest, Sha256};

use crate::{
    Appended, CommitItem, CommitOutcome, CommitRejection, InvitationCounts, InvitationStatus,
    Moderated, ReplicaOutcome, Storage, StoreError,
};

/// Tuning of the sled database.
#[derive(Debug, Clone, Copy)]
pub struct StoreConfig {
    /// sled's page cache. Its default is 1 GiB; a town-hall node needs far less.
    pub cache_capacity_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            cache_capacity_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Every tree, in one place. Keys: `A` = authority key (32 bytes), `I` = index (u64 BE),
/// `E` = event id (32), `K` = resident key (32), `H` = hash (32).
#[derive(Debug, Clone)]
struct Trees {
    logidx_event: sled::Tree, // A ‖ I → exact signed event bytes, or its tombstone
    node_hash: sled::Tree,    // A ‖ level (u8) ‖ I → perfect-subtree hash, levels ≥ STORED_LEVEL
    logsize_head: sled::Tree, // A ‖ size (u64 BE) → signed tree head (JSON)
    eventid_position: sled::Tree, // E → A ‖ I
    authority_declared: sled::Tree, // A → [] (its `authority` event is in its log)
    consultationid_view: sled::Tree, // E → organiser A ‖ consultation body (JSON)
    proposalid_view: sled::Tree, // E → author K ‖ consultation E ‖ cost (0, or 1 ‖ u64 BE)
    eventid_target: sled::Tree, // E → kind (u8) ‖ consultation E (proposals, arguments)
    issuersubject_credential: sled::Tree, // A ‖ K → voter's first key K ‖ status (u8)
    authorityconsultation_closing: sled::Tree, // A ‖ E → size (u64 BE) ‖ root H
    consultationid_result: sled::Tree, // E → the first result's id E
    codehash_status: sled::Tree, // H → 0 unused, 1 used, 2 revoked
    consultationmember_kind: sled::Tree, // consultation E ‖ proposal or argument E → kind (u8)
    targetmoderator_action: sled::Tree, // E ‖ A → action (0 hide, 1 restore, 2 purge) ‖ moderation E
    authoritysubject_staff: sled::Tree, // A ‖ K → role (u8: index in StaffRole::ALL, or DISMISSED)
    logidx_moderation: sled::Tree,      // A ‖ I → [] for every `moderation` entry that acts for A
    // Outside commits (not in `all`): written on their own.
    logsizewitness_cosignature: sled::Tree, // A ‖ size (u64 BE) ‖ witness A ‖ root H → cosignature (JSON)
    authorityhash_evidence: sled::Tree,     // A ‖ SHA-256 of the JSON → equivocation (JSON)
}

const N_TREES: usize = 16;

/// The lowest level of Merkle nodes written to `node_hash`. Below it, a node is
/// recomputed from the entries it covers (at most 16): storing every leaf hash and small
/// subtree would cost about 2 × 80 bytes per entry for what a few SHA-256 calls give back.
const STORED_LEVEL: u32 = 4;

impl Trees {
    fn open(db: &sled::Db) -> Result<Trees, sled::Error> {
        Ok(Trees {
            logidx_event: db.open_tree("logidx_event")?,
            node_hash: db.open_tree("node_hash")?,
            logsize_head: db.open_tree("logsize_head")?,
            eventid_position: db.open_tree("eventid_position")?,
            authority_declared: db.open_tree("authority_declared")?,
            consultationid_view: db.open_tree("consultationid_view")?,
            proposalid_view: db.open_tree("proposalid_view")?,
            eventid_target: db.open_tree("eventid_target")?,
            issuersubject_credential: db.open_tree("issuersubject_credential")?,
            authorityconsultation_closing: db.open_tree("authorityconsultation_closing")?,
            consultationid_result: db.open_tree("consultationid_result")?,
            codehash_status: db.open_tree("codehash_status")?,
            consultationmember_kind: db.open_tree("consultationmember_kind")?,
            targetmoderator_action: db.open_tree("targetmoderator_action")?,
            authoritysubject_staff: db.open_tree("authoritysubject_staff")?,
            logidx_moderation: db.open_tree("logidx_moderation")?,
            logsizewitness_cosignature: db.open_tree("logsizewitness_cosignature")?,
            authorityhash_evidence: db.open_tree("authorityhash_evidence")?,
        })
    }

    /// In the order of [`T`]'s constants.
    fn all(&self) -> [sled::Tree; N_TREES] {
        [
            self.logidx_event.clone(),
            self.node_hash.clone(),
            self.logsize_head.clone(),
            self.eventid_position.clone(),
            self.authority_declared.clone(),
            self.consultationid_view.clone(),
            self.proposalid_view.clone(),
            self.eventid_target.clone(),
            self.issuersubject_credential.clone(),
            self.authorityconsultation_closing.clone(),
            self.consultationid_result.clone(),
            self.codehash_status.clone(),
            self.consultationmember_kind.clone(),
            self.targetmoderator_action.clone(),
            self.authoritysubject_staff.clone(),
            self.logidx_moderation.clone(),
        ]
    }
}

/// Indexes into [`Trees::all`].
struct T;
impl T {
    const EVENT: usize = 0;
    const NODE: usize = 1;
    const HEAD: usize = 2;
    const POSITION: usize = 3;
    const DECLARED: usize = 4;
    const CONSULTATION: usize = 5;
    const PROPOSAL: usize = 6;
    const TARGET: usize = 7;
    const CREDENTIAL: usize = 8;
    const CLOSING: usize = 9;
    const RESULT: usize = 10;
    const CODE: usize = 11;
    const MEMBER: usize = 12;
    const MODERATION: usize = 13;
    const STAFF: usize = 14;
    const MODLOG: usize = 15;
}

/// A staff key whose appointment ended.
const DISMISSED: u8 = 0xff;

fn role_byte(role: StaffRole) -> u8 {
    StaffRole::ALL
        .iter()
        .position(|r| *r == role)
        .expect("every role is in ALL") as u8
}

const HIDE: u8 = 0;
const RESTORE: u8 = 1;
const PURGE: u8 = 2;

fn action_byte(action: ModerationAction) -> u8 {
    match action {
        ModerationAction::Hide => HIDE,
        ModerationAction::Restore => RESTORE,
        ModerationAction::Purge => PURGE,
    }
}

fn action_of(byte: u8) -> Option<ModerationAction> {
    match byte {
        HIDE => Some(ModerationAction::Hide),
        RESTORE => Some(ModerationAction::Restore),
        PURGE => Some(ModerationAction::Purge),
        _ => None,
    }
}

const ACTIVE: u8 = 0;
const REVOKED: u8 = 1;
const REPLACED: u8 = 2;

fn invitation_status(stored: &[u8]) -> InvitationStatus {
    match stored {
        [1] => InvitationStatus::Used,
        [2] => InvitationStatus::Revoked,
        _ => InvitationStatus::Unused,
    }
}

/// `logsizewitness_cosignature`'s key: authority, size (big-endian), witness, root.
fn cosignature_key(log: &PublicKey, size: u64, witness: &PublicKey, root: &Hash) -> Vec<u8> {
    cat(&[
        log.as_bytes(),
        &size.to_be_bytes(),
        witness.as_bytes(),
        root.as_bytes(),
    ])
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn log_key(log: &PublicKey, index: u64) -> Vec<u8> {
    cat(&[log.as_bytes(), &index.to_be_bytes()])
}

fn node_key(log: &PublicKey, level: u32, index: u64) -> Vec<u8> {
    cat(&[log.as_bytes(), &[level as u8], &index.to_be_bytes()])
}

fn kind_byte(kind: Kind) -> u8 {
    Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as u8
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn key32(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.get(..32)?.try_into().ok()
}

fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// The writes of a commit not yet on disk.
#[derive(Debug, Default)]
struct Pending {
    writes: [BTreeMap<Vec<u8>, Vec<u8>>; N_TREES],
    sizes: HashMap<PublicKey, u64>,
}

/// The stored record, with pending writes layered over it.
struct View<'a> {
    trees: &'a [sled::Tree; N_TREES],
    pending: &'a Pending,
    sizes: &'a Mutex<HashMap<PublicKey, u64>>,
}

impl View<'_> {
    fn get(&self, tree: usize, key: &[u8]) -> Option<Vec<u8>> {
        if let Some(v) = self.pending.writes[tree].get(key) {
            return Some(v.clone());
        }
        // A read error is reported as "absent"; the commit that follows hits the same
        // disk and fails loudly, so nothing is acknowledged on a failing store.
        self.trees[tree].get(key).ok().flatten().map(|v| v.to_vec())
    }

    fn size(&self, log: &PublicKey) -> u64 {
        if let Some(n) = self.pending.sizes.get(log) {
            return *n;
        }
        let cached = self
            .sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(log)
            .copied();
        if let Some(n) = cached {
            return n;
        }
        let n = self.trees[T::EVENT]
            .scan_prefix(log.as_bytes())
            .next_back()
            .and_then(|r| r.ok())
            .and_then(|(k, _)| read_u64(&k[32..]))
            .map_or(0, |last| last + 1);
        // A commit may have landed since the scan: its size wins over ours.
        *self
            .sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(*log)
            .or_insert(n)
    }

    /// The hash of a perfect subtree: stored from [`STORED_LEVEL`] up, recomputed from
    /// the entries below it (at most `2^STORED_LEVEL` of them).
    fn node(&self, log: &PublicKey, level: u32, index: u64) -> Hash {
        if level == 0 {
            return self
                .get(T::EVENT, &log_key(log, index))
                .map(|bytes| purge::stored_leaf(&bytes))
                .unwrap_or_default();
        }
        if level >= STORED_LEVEL {
            return self
                .get(T::NODE, &node_key(log, level, index))
                .and_then(|v| key32(&v))
                .map(Hash)
                .unwrap_or_default();
        }
        merkle::node_hash(
            &self.node(log, level - 1, 2 * index),
            &self.node(log, level - 1, 2 * index + 1),
        )
    }

    fn nodes(&self, log: PublicKey) -> LogNodes<'_> {
        LogNodes {
            view: self,
            log,
            size: self.size(&log),
        }
    }
}

struct LogNodes<'a> {
    view: &'a View<'a>,
    log: PublicKey,
    size: u64,
}

impl Nodes for LogNodes<'_> {
    fn size(&self) -> u64 {
        self.size
    }

    fn node(&self, level: u32, index: u64) -> Hash {
        self.view.node(&self.log, level, index)
    }
}

impl Record for View<'_> {
    fn staff(&self, authority: &PublicKey, key: &PublicKey) -> Option<StaffRole> {
        let v = self.get(T::STAFF, &cat(&[authority.as_bytes(), key.as_bytes()]))?;
        StaffRole::ALL.get(usize::from(*v.first()?)).copied()
    }

    fn contains(&self, id: &EventId) -> bool {
        self.get(T::POSITION, id.0.as_bytes()).is_some()
    }

    fn is_declared(&self, authority: &PublicKey) -> bool {
        self.get(T::DECLARED, authority.as_bytes()).is_some()
    }

    fn consultation(&self, id: &EventId) -> Option<ConsultationView> {
        let v = self.get(T::CONSULTATION, id.0.as_bytes())?;
        let organiser = PublicKey::from_bytes(&key32(&v)?).ok()?;
        let body: ConsultationBody = serde_json::from_slice(&v[32..]).ok()?;
        Some(ConsultationView {
            id: *id,
            organiser,
            body,
        })
    }

    fn proposal(&self, id: &EventId) -> Option<ProposalView> {
        let v = self.get(T::PROPOSAL, id.0.as_bytes())?;
        let author = PublicKey::from_bytes(&key32(&v)?).ok()?;
        let consultation = EventId(Hash(key32(v.get(32..)?)?));
        let cost = match v.get(64)? {
            1 => Some(read_u64(v.get(65..)?)?),
            _ => None,
        };
        Some(ProposalView {
            id: *id,
            author,
            consultation,
            cost,
        })
    }

    fn target(&self, id: &EventId) -> Option<(Kind, Option<EventId>)> {
        let v = self.get(T::TARGET, id.0.as_bytes())?;
        let kind = *Kind::ALL.get(*v.first()? as usize)?;
        let consultation = v.get(1..).and_then(key32).map(|b| EventId(Hash(b)));
        Some((kind, consultation))
    }

    fn credential(&self, issuer: &PublicKey, subject: &PublicKey) -> Option<CredentialState> {
        let v = self.get(
            T::CREDENTIAL,
            &cat(&[issuer.as_bytes(), subject.as_bytes()]),
        )?;
        let first_key = PublicKey::from_bytes(&key32(&v)?).ok()?;
        let status = match *v.get(32)? {
            REVOKED => CredentialStatus::Revoked,
            REPLACED => CredentialStatus::Replaced,
            _ => CredentialStatus::Active,
        };
        Some(CredentialState {
            voter: VoterId {
                issuer: *issuer,
                first_key,
            },
            status,
        })
    }

    fn closing(&self, authority: &PublicKey, consultation: &EventId) -> Option<(u64, Hash)> {
        let v = self.get(
            T::CLOSING,
            &cat(&[authority.as_bytes(), consultation.0.as_bytes()]),
        )?;
        Some((read_u64(&v)?, Hash(key32(v.get(8..)?)?)))
    }

    fn has_result(&self, consultation: &EventId) -> bool {
        self.get(T::RESULT, consultation.0.as_bytes()).is_some()
    }

    fn log_size(&self, authority: &PublicKey) -> u64 {
        self.size(authority)
    }

    fn root_at(&self, authority: &PublicKey, size: u64) -> Option<Hash> {
        merkle::root_at(&self.nodes(*authority), size).ok()
    }

    fn held(&self, id: &EventId) -> Option<(PublicKey, Entry)> {
        let at = self.get(T::POSITION, id.0.as_bytes())?;
        let log = PublicKey::from_bytes(&key32(&at)?).ok()?;
        let bytes = self.get(T::EVENT, &at)?;
        Some((log, Entry::stored(bytes).ok()?))
    }

    fn moderated(&self, authority: &PublicKey, target: &EventId) -> Option<ModerationAction> {
        let v = self.get(
            T::MODERATION,
            &cat(&[target.0.as_bytes(), authority.as_bytes()]),
        )?;
        action_of(*v.first()?)
    }
}

impl Pending {
    fn put(&mut self, tree: usize, key: Vec<u8>, value: Vec<u8>) {
        self.writes[tree].insert(key, value);
    }
}

/// Records an admitted event in `pending`: the entry, its Merkle nodes, and the indexes
/// (the same effects as core's `Ledger::apply`).
fn append(
    view_trees: &[sled::Tree; N_TREES],
    sizes: &Mutex<HashMap<PublicKey, u64>>,
    pending: &mut Pending,
    log: &PublicKey,
    event: &SignedEvent,
) -> u64 {
    let id = event.id();
    let index = push_entry(view_trees, sizes, pending, log, id, event.bytes());
    let from_log = event.author() == log;
    let for_log = acts_for(
        || {
            View {
                trees: view_trees,
                pending,
                sizes,
            }
            .staff(log, event.author())
        },
        log,
        event.author(),
        event.kind(),
    );
    let target = |kind: Kind, consultation: Option<EventId>| {
        let mut v = vec![kind_byte(kind)];
        if let Some(c) = consultation {
            v.extend_from_slice(c.0.as_bytes());
        }
        v
    };
    match event.body() {
        Body::Authority(_) if from_log => {
            pending.put(T::DECLARED, log.as_bytes().to_vec(), Vec::new());
        }
        Body::Staff(b) if from_log => {
            let key = cat(&[log.as_bytes(), b.subject.as_bytes()]);
            let role = if b.active {
                role_byte(b.role)
            } else {
                DISMISSED
            };
            pending.put(T::STAFF, key, vec![role]);
        }
        Body::Credential(b) if for_log => {
            let mut first_key = b.subject;
            if let Some(old) = b.replaces {
                let key = cat(&[log.as_bytes(), old.as_bytes()]);
                let view = View {
                    trees: view_trees,
                    pending,
                    sizes,
                };
                if let Some(state) = view.credential(log, &old) {
                    first_key = state.voter.first_key;
                    pending.put(
                        T::CREDENTIAL,
                        key,
                        cat(&[first_key.as_bytes(), &[REPLACED]]),
                    );
                }
            }
            pending.put(
                T::CREDENTIAL,
                cat(&[log.as_bytes(), b.subject.as_bytes()]),
                cat(&[first_key.as_bytes(), &[ACTIVE]]),
            );
        }
        Body::Revocation(b) if for_log => {
            let view = View {
                trees: view_trees,
                pending,
                sizes,
            };
            if let Some(state) = view.credential(log, &b.subject)
                && state.status == CredentialStatus::Active
            {
                let v = cat(&[state.voter.first_key.as_bytes(), &[REVOKED]]);
                pending.put(
                    T::CREDENTIAL,
                    cat(&[log.as_bytes(), b.subject.as_bytes()]),
                    v,
                );
            }
        }
        Body::Consultation(b) => {
            let json = serde_json::to_vec(&**b).expect("a consultation body serializes to JSON");
            // The organiser is the log's authority, whoever of its staff signed it.
            pending.put(
                T::CONSULTATION,
                id.0.as_bytes().to_vec(),
                cat(&[log.as_bytes(), &json]),
            );
        }
        Body::Proposal(b) => {
            pending.put(
                T::PROPOSAL,
                id.0.as_bytes().to_vec(),
                proposal_view(event.author(), &b.consultation, b.cost),
            );
            pending.put(
                T::TARGET,
                id.0.as_bytes().to_vec(),
                target(Kind::Proposal, Some(b.consultation)),
            );
            pending.put(
                T::MEMBER,
                cat(&[b.consultation.0.as_bytes(), id.0.as_bytes()]),
                vec![kind_byte(Kind::Proposal)],
            );
        }
        Body::Argument(b) => {
            let view = View {
                trees: view_trees,
                pending,
                sizes,
            };
            let consultation = view.proposal(&b.proposal).map(|p| p.consultation);
            pending.put(
                T::TARGET,
                id.0.as_bytes().to_vec(),
                target(Kind::Argument, consultation),
            );
            if let Some(c) = consultation {
                pending.put(
                    T::MEMBER,
                    cat(&[c.0.as_bytes(), id.0.as_bytes()]),
                    vec![kind_byte(Kind::Argument)],
                );
            }
        }
        Body::Moderation(b) if for_log => {
            pending.put(T::MODLOG, log_key(log, index), Vec::new());
            let view = View {
                trees: view_trees,
                pending,
                sizes,
            };
            // A purge is final: what a replay accepts after it changes nothing.
            if view.moderated(log, &b.target) != Some(ModerationAction::Purge) {
                let at = view.get(T::POSITION, b.target.0.as_bytes());
                pending.put(
                    T::MODERATION,
                    cat(&[b.target.0.as_bytes(), log.as_bytes()]),
                    cat(&[&[action_byte(b.action)], id.0.as_bytes()]),
                );
                // The purged entry's place takes the tombstone (same leaf hash, so no
                // Merkle node changes).
                if let (Some(t), Some(at)) = (&b.tombstone, at)
                    && at.starts_with(log.as_bytes())
                {
                    pending.put(T::EVENT, at, t.to_bytes());
                }
            }
        }
        Body::Checkpoint(b) if from_log => {
            let key = cat(&[log.as_bytes(), b.consultation.0.as_bytes()]);
            let view = View {
                trees: view_trees,
                pending,
                sizes,
            };
            if view.closing(log, &b.consultation).is_none() {
                pending.put(
                    T::CLOSING,
                    key,
                    cat(&[&b.size.to_be_bytes(), b.root.as_bytes()]),
                );
            }
        }
        Body::Result(b) => {
            let view = View {
                trees: view_trees,
                pending,
                sizes,
            };
            if !view.has_result(&b.consultation) {
                pending.put(
                    T::RESULT,
                    b.consultation.0.as_bytes().to_vec(),
                    id.0.as_bytes().to_vec(),
                );
            }
        }
        _ => {}
    }
    if !matches!(event.kind(), Kind::Proposal | Kind::Argument) {
        pending.put(
            T::TARGET,
            id.0.as_bytes().to_vec(),
            target(event.kind(), None),
        );
    }
    index
}

/// Records a tombstone received in a purged entry's place (its signature checked by the
/// caller): the entry, its Merkle nodes, and the indexes the purged event had.
fn append_purged(
    view_trees: &[sled::Tree; N_TREES],
    sizes: &Mutex<HashMap<PublicKey, u64>>,
    pending: &mut Pending,
    log: &PublicKey,
    purged: &PurgedEntry,
) -> u64 {
    let t = purged.body();
    let index = push_entry(view_trees, sizes, pending, log, t.id, purged.bytes());
    let id = t.id.0.as_bytes().to_vec();
    if t.kind == Kind::Proposal {
        pending.put(
            T::PROPOSAL,
            id.clone(),
            proposal_view(&t.author, &t.consultation, t.cost),
        );
    }
    pending.put(
        T::TARGET,
        id.clone(),
        cat(&[&[kind_byte(t.kind)], t.consultation.0.as_bytes()]),
    );
    pending.put(
        T::MEMBER,
        cat(&[t.consultation.0.as_bytes(), &id]),
        vec![kind_byte(t.kind)],
    );
    index
}

/// Writes the entry at the end of `log` with its position, and the Merkle nodes it
/// completes; returns its index.
fn push_entry(
    view_trees: &[sled::Tree; N_TREES],
    sizes: &Mutex<HashMap<PublicKey, u64>>,
    pending: &mut Pending,
    log: &PublicKey,
    id: EventId,
    bytes: &[u8],
) -> u64 {
    let index = View {
        trees: view_trees,
        pending,
        sizes,
    }
    .size(log);
    pending.put(T::EVENT, log_key(log, index), bytes.to_vec());
    // Climb from the new leaf while it completes a perfect subtree, storing the ones
    // high enough to be kept.
    let (mut level, mut i) = (0u32, index);
    while i % 2 == 1 {
        level += 1;
        i /= 2;
        if level >= STORED_LEVEL {
            let view = View {
                trees: view_trees,
                pending,
                sizes,
            };
            let h = merkle::node_hash(
                &view.node(log, level - 1, 2 * i),
                &view.node(log, level - 1, 2 * i + 1),
            );
            pending.put(T::NODE, node_key(log, level, i), h.0.to_vec());
        }
    }
    pending.put(T::POSITION, id.0.as_bytes().to_vec(), log_key(log, index));
    pending.sizes.insert(*log, index + 1);
    index
}

/// The `proposalid_view` value: author ‖ consultation ‖ cost.
fn proposal_view(author: &PublicKey, consultation: &EventId, cost: Option<u64>) -> Vec<u8> {
    let cost = match cost {
        Some(c) => cat(&[&[1], &c.to_be_bytes()]),
        None => vec![0],
    };
    cat(&[author.as_bytes(), consultation.0.as_bytes(), &cost])
}

/// The sled-backed storage.
#[derive(Debug)]
pub struct SledStorage {
    pub(crate) db: sled::Db,
    trees: Trees,
    /// The same trees, in [`T`]'s order, for views and transactions.
    all: [sled::Tree; N_TREES],
    /// Log sizes read so far (updated after each commit).
    sizes: Mutex<HashMap<PublicKey, u64>>,
    /// One commit at a time: admission must see every earlier commit.
    commit_lock: Mutex<()>,
    /// Read by every method that writes, for its whole write (`self.writing()`); written
    /// by a snapshot, so that a backup never holds half a write (`backup.rs`).
    pub(crate) snapshot_gate: RwLock<()>,
}

impl SledStorage {
    pub fn open(path: &Path, config: StoreConfig) -> Result<SledStorage, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(config.cache_capacity_bytes)
            // Durability comes from the explicit flush of each commit; no background
            // flusher thread (which would also keep the database locked after close).
            .flush_every_ms(None)
            .open()?;
        let trees = Trees::open(&db)?;
        let all = trees.all();
        Ok(SledStorage {
            db,
            trees,
            all,
            sizes: Mutex::new(HashMap::new()),
            commit_lock: Mutex::new(()),
            snapshot_gate: RwLock::new(()),
        })
    }

    fn view<'a>(&'a self, pending: &'a Pending) -> View<'a> {
        View {
            trees: &self.all,
            pending,
            sizes: &self.sizes,
        }
    }

    /// Writes every pending write of every tree in one transaction, then flushes: only
    /// then is anything acknowledged.
    fn write(&self, pending: Pending) -> Result<(), StoreError> {
        if !pending.writes.iter().all(BTreeMap::is_empty) {
            let writes = &pending.writes;
            self.all
                .as_slice()
                .transaction(|txs| {
                    for (tree, map) in txs.iter().zip(writes.iter()) {
                        for (k, v) in map {
                            tree.insert(k.as_slice(), v.as_slice())?;
                        }
                    }
                    Ok::<(), ConflictableTransactionError<()>>(())
                })
                .map_err(|e| match e {
                    TransactionError::Storage(e) => StoreError::Sled(e),
                    TransactionError::Abort(()) => corrupt("transaction aborted"),
                })?;
            self.db.flush()?;
        }
        let mut sizes = self.sizes.lock().unwrap_or_else(|e| e.into_inner());
        for (log, size) in pending.sizes {
            sizes.insert(log, size);
        }
        Ok(())
    }

    fn with_view<R>(&self, f: impl FnOnce(&View<'_>) -> R) -> R {
        let empty = Pending::default();
        let view = View {
            trees: &self.all,
            pending: &empty,
            sizes: &self.sizes,
        };
        f(&view)
    }
}

impl Record for SledStorage {
    fn staff(&self, authority: &PublicKey, key: &PublicKey) -> Option<StaffRole> {
        self.with_view(|v| v.staff(authority, key))
    }
    fn contains(&self, id: &EventId) -> bool {
        self.with_view(|v| v.contains(id))
    }
    fn is_declared(&self, authority: &PublicKey) -> bool {
        self.with_view(|v| v.is_declared(authority))
    }
    fn consultation(&self, id: &EventId) -> Option<ConsultationView> {
        self.with_view(|v| v.consultation(id))
    }
    fn proposal(&self, id: &EventId) -> Option<ProposalView> {
        self.with_view(|v| v.proposal(id))
    }
    fn target(&self, id: &EventId) -> Option<(Kind, Option<EventId>)> {
        self.with_view(|v| v.target(id))
    }
    fn credential(&self, issuer: &PublicKey, subject: &PublicKey) -> Option<CredentialState> {
        self.with_view(|v| v.credential(issuer, subject))
    }
    fn closing(&self, authority: &PublicKey, consultation: &EventId) -> Option<(u64, Hash)> {
        self.with_view(|v| v.closing(authority, consultation))
    }
    fn has_result(&self, consultation: &EventId) -> bool {
        self.with_view(|v| v.has_result(consultation))
    }
    fn log_size(&self, authority: &PublicKey) -> u64 {
        self.with_view(|v| v.log_size(authority))
    }
    fn root_at(&self, authority: &PublicKey, size: u64) -> Option<Hash> {
        self.with_view(|v| v.root_at(authority, size))
    }
    fn held(&self, id: &EventId) -> Option<(PublicKey, Entry)> {
        self.with_view(|v| v.held(id))
    }
    fn moderated(&self, authority: &PublicKey, target: &EventId) -> Option<ModerationAction> {
        self.with_view(|v| v.moderated(authority, target))
    }
}

impl Storage for SledStorage {
    fn commit(
        &self,
        items: Vec<CommitItem>,
        clock: Clock,
        sign_head: &dyn Fn(TreeHead) -> SignedTreeHead,
    ) -> Result<CommitOutcome, StoreError> {
        let _one_at_a_time = self.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
        let _writing = self.writing();
        let trees = &self.all;
        let mut pending = Pending::default();
        let mut used_codes: BTreeSet<Hash> = BTreeSet::new();
        let mut results = Vec::with_capacity(items.len());
        let mut grown: BTreeSet<PublicKey> = BTreeSet::new();
        for item in items {
            let verdict = {
                let view = self.view(&pending);
                let invitation = match item.consume_invitation {
                    None => Ok(()),
                    Some(h) if used_codes.contains(&h) => Err(CommitRejection::UsedInvitation),
                    Some(h) => crate::check_invitation(
                        view.get(T::CODE, h.as_bytes())
                            .map(|v| invitation_status(&v)),
                    ),
                };
                invitation.and_then(|()| {
                    admit(&view, &item.log, &item.event, clock)
                        .into_result()
                        .map_err(CommitRejection::Event)
                })
            };
            results.push(verdict.map(|()| {
                if let Some(h) = item.consume_invitation {
                    used_codes.insert(h);
                    pending.put(T::CODE, h.0.to_vec(), vec![1]);
                }
                let index = append(trees, &self.sizes, &mut pending, &item.log, &item.event);
                grown.insert(item.log);
                Appended {
                    id: item.event.id(),
                    log: item.log,
                    index,
                }
            }));
        }
        let now_ms = crate::head_time_ms(clock);
        let mut heads = Vec::new();
        for log in &grown {
            let view = self.view(&pending);
            let size = view.size(log);
            let root = merkle::root_at(&view.nodes(*log), size)?;
            let head = sign_head(TreeHead {
                authority: *log,
                size,
                root,
                timestamp_ms: now_ms,
            });
            heads.push(head);
        }
        for head in &heads {
            let json = serde_json::to_vec(head).map_err(|e| corrupt(&e.to_string()))?;
            pending.put(T::HEAD, log_key(&head.head.authority, head.head.size), json);
        }
        self.write(pending)?;
        Ok(CommitOutcome { results, heads })
    }

    fn append_replica(
        &self,
        head: &SignedTreeHead,
        start: u64,
        entries: Vec<Entry>,
    ) -> Result<ReplicaOutcome, StoreError> {
        let _one_at_a_time = self.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
        let _writing = self.writing();
        let log = head.head.authority;
        let mut pending = Pending::default();
        let held = self.view(&pending).size(&log);
        if held != start {
            return Err(StoreError::NotContiguous { held, start });
        }
        let mut outcome = ReplicaOutcome {
            appended: 0,
            refused: None,
            reached_head: false,
        };
        for entry in entries {
            let verdict = match &entry {
                Entry::Event(event) => {
                    admit(&self.view(&pending), &log, event, Clock::Replay).into_result()
                }
                // A tombstone's signature was checked on receipt; its purge follows it
                // in the log and is admitted then.
                Entry::Purged(p) if self.view(&pending).contains(&p.body().id) => {
                    Err(Rejection::Duplicate)
                }
                Entry::Purged(_) => Ok(()),
            };
            if let Err(r) = verdict {
                outcome.refused = Some((start + outcome.appended, r));
                break;
            }
            match &entry {
                Entry::Event(event) => append(&self.all, &self.sizes, &mut pending, &log, event),
                Entry::Purged(p) => append_purged(&self.all, &self.sizes, &mut pending, &log, p),
            };
            outcome.appended += 1;
        }
        let view = self.view(&pending);
        let size = view.size(&log);
        if size == head.head.size && merkle::root_at(&view.nodes(log), size)? == head.head.root {
            let json = serde_json::to_vec(head).map_err(|e| corrupt(&e.to_string()))?;
            pending.put(T::HEAD, log_key(&log, size), json);
            outcome.reached_head = true;
        }
        self.write(pending)?;
        Ok(outcome)
    }

    fn add_cosignature(&self, c: &Cosignature) -> Result<bool, StoreError> {
        Ok(self.add_cosignatures(std::slice::from_ref(c))? == 1)
    }

    fn add_cosignatures(&self, list: &[Cosignature]) -> Result<u64, StoreError> {
        let _writing = self.writing();
        let tree = &self.trees.logsizewitness_cosignature;
        let mut n = 0;
        for c in list {
            let h = &c.cosigned.head;
            let key = cosignature_key(&h.authority, h.size, &c.cosigned.witness, &h.root);
            if tree.contains_key(&key)? {
                continue;
            }
            let json = serde_json::to_vec(c).map_err(|e| corrupt(&e.to_string()))?;
            tree.insert(key, json)?;
            n += 1;
        }
        if n > 0 {
            self.db.flush()?;
        }
        Ok(n)
    }

    fn cosignatures_after(
        &self,
        log: &PublicKey,
        after: Option<(u64, PublicKey, Hash)>,
        limit: usize,
    ) -> Result<Vec<Cosignature>, StoreError> {
        use std::ops::Bound;
        let from = match after {
            Some((size, witness, root)) => {
                Bound::Excluded(cosignature_key(log, size, &witness, &root))
            }
            None => Bound::Included(log.as_bytes().to_vec()),
        };
        self.trees
            .logsizewitness_cosignature
            .range::<Vec<u8>, _>((from, Bound::Unbounded))
            .take_while(|r| {
                r.as_ref()
                    .map_or(true, |(k, _)| k.starts_with(log.as_bytes()))
            })
            .take(limit)
            .map(|r| {
                let (_, v) = r?;
                serde_json::from_slice(&v).map_err(|e| corrupt(&format!("cosignature: {e}")))
            })
            .collect()
    }

    fn evidence_against(
        &self,
        authority: &PublicKey,
        skip: u64,
        limit: usize,
    ) -> Result<Vec<Equivocation>, StoreError> {
        self.trees
            .authorityhash_evidence
            .scan_prefix(authority.as_bytes())
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(limit)
            .map(|r| {
                let (_, v) = r?;
                serde_json::from_slice(&v).map_err(|e| corrupt(&format!("evidence: {e}")))
            })
            .collect()
    }

    fn cosignatures(&self, log: &PublicKey) -> Result<Vec<Cosignature>, StoreError> {
        self.trees
            .logsizewitness_cosignature
            .scan_prefix(log.as_bytes())
            .map(|r| {
                let (_, v) = r?;
                serde_json::from_slice(&v).map_err(|e| corrupt(&format!("cosignature: {e}")))
            })
            .collect()
    }

    fn add_evidence(&self, e: &Equivocation) -> Result<bool, StoreError> {
        let _writing = self.writing();
        let json = serde_json::to_vec(e).map_err(|e| corrupt(&e.to_string()))?;
        let key = cat(&[e.authority().as_bytes(), &Sha256::digest(&json)]);
        let tree = &self.trees.authorityhash_evidence;
        if tree.contains_key(&key)? {
            return Ok(false);
        }
        tree.insert(key, json)?;
        self.db.flush()?;
        Ok(true)
    }

    fn evidence(&self) -> Result<Vec<Equivocation>, StoreError> {
        self.trees
            .authorityhash_evidence
            .iter()
            .map(|r| {
                let (_, v) = r?;
                serde_json::from_slice(&v).map_err(|e| corrupt(&format!("evidence: {e}")))
            })
            .collect()
    }

    fn entry(&self, log: &PublicKey, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .trees
            .logidx_event
            .get(log_key(log, index))?
            .map(|v| v.to_vec()))
    }

    fn entries(&self, log: &PublicKey, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        if start >= end {
            return Ok(Vec::new());
        }
        self.trees
            .logidx_event
            .range(log_key(log, start)..log_key(log, end))
            .map(|r| r.map(|(_, v)| v.to_vec()).map_err(StoreError::from))
            .collect()
    }

    fn position(&self, id: &EventId) -> Result<Option<(PublicKey, u64)>, StoreError> {
        let Some(v) = self.trees.eventid_position.get(id.0.as_bytes())? else {
            return Ok(None);
        };
        let log = key32(&v)
            .and_then(|b| PublicKey::from_bytes(&b).ok())
            .ok_or_else(|| corrupt("position key"))?;
        let index = read_u64(&v[32..]).ok_or_else(|| corrupt("position index"))?;
        Ok(Some((log, index)))
    }

    fn latest_head(&self, log: &PublicKey) -> Result<Option<SignedTreeHead>, StoreError> {
        let Some(last) = self
            .trees
            .logsize_head
            .scan_prefix(log.as_bytes())
            .next_back()
        else {
            return Ok(None);
        };
        let (_, v) = last?;
        serde_json::from_slice(&v)
            .map(Some)
            .map_err(|e| corrupt(&format!("stored head: {e}")))
    }

    fn inclusion_proof(
        &self,
        log: &PublicKey,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        self.with_view(|v| merkle::inclusion_proof(&v.nodes(*log), index, size))
            .map_err(StoreError::from)
    }

    fn consistency_proof(
        &self,
        log: &PublicKey,
        from: u64,
        to: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        self.with_view(|v| merkle::consistency_proof(&v.nodes(*log), from, to))
            .map_err(StoreError::from)
    }

    fn add_invitations(&self, hashes: &[Hash]) -> Result<u64, StoreError> {
        let _one_at_a_time = self.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
        let _writing = self.writing();
        let mut batch = sled::Batch::default();
        let mut added = 0;
        for h in hashes {
            if !self.trees.codehash_status.contains_key(h.as_bytes())? {
                batch.insert(h.as_bytes().as_slice(), &[0u8]);
                added += 1;
            }
        }
        self.trees.codehash_status.apply_batch(batch)?;
        self.db.flush()?;
        Ok(added)
    }

    fn invitation_status(&self, hash: &Hash) -> Result<Option<InvitationStatus>, StoreError> {
        Ok(self
            .trees
            .codehash_status
            .get(hash.as_bytes())?
            .map(|v| invitation_status(&v)))
    }

    fn invitation_counts(&self) -> Result<InvitationCounts, StoreError> {
        let mut counts = InvitationCounts::default();
        for r in self.trees.codehash_status.iter() {
            let (_, v) = r?;
            counts.issued += 1;
            match invitation_status(&v) {
                InvitationStatus::Used => counts.redeemed += 1,
                InvitationStatus::Revoked => counts.revoked += 1,
                InvitationStatus::Unused => {}
            }
        }
        Ok(counts)
    }

    fn revoke_invitations(&self, hashes: &[Hash]) -> Result<u64, StoreError> {
        // Under the commit lock: a redemption cannot slip between the check and the write.
        let _one_at_a_time = self.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
        let _writing = self.writing();
        let mut batch = sled::Batch::default();
        let mut revoked = 0;
        for h in hashes {
            let status = self.trees.codehash_status.get(h.as_bytes())?;
            if status.is_some_and(|v| invitation_status(&v) == InvitationStatus::Unused) {
                batch.insert(h.as_bytes().as_slice(), &[2u8]);
                revoked += 1;
            }
        }
        self.trees.codehash_status.apply_batch(batch)?;
        self.db.flush()?;
        Ok(revoked)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn members(&self, consultation: &EventId) -> Result<Vec<EventId>, StoreError> {
        self.trees
            .consultationmember_kind
            .scan_prefix(consultation.0.as_bytes())
            .map(|r| {
                let (k, _) = r?;
                k.get(32..)
                    .and_then(key32)
                    .map(|b| EventId(Hash(b)))
                    .ok_or_else(|| corrupt("member key"))
            })
            .collect()
    }

    fn moderation_log(&self) -> Result<Vec<(PublicKey, u64)>, StoreError> {
        self.trees
            .logidx_moderation
            .iter()
            .map(|r| {
                let (k, _) = r?;
                let log = key32(&k).and_then(|b| PublicKey::from_bytes(&b).ok());
                match (log, k.get(32..).and_then(read_u64)) {
                    (Some(log), Some(index)) => Ok((log, index)),
                    _ => Err(corrupt("moderation log entry")),
                }
            })
            .collect()
    }

    fn moderation(&self, target: &EventId) -> Result<Vec<Moderated>, StoreError> {
        self.trees
            .targetmoderator_action
            .scan_prefix(target.0.as_bytes())
            .map(|r| {
                let (k, v) = r?;
                let by = k
                    .get(32..)
                    .and_then(key32)
                    .and_then(|b| PublicKey::from_bytes(&b).ok());
                let action = v.first().copied().and_then(action_of);
                let moderation = v.get(1..).and_then(key32).map(|b| EventId(Hash(b)));
                match (by, action, moderation) {
                    (Some(by), Some(action), Some(moderation)) => Ok(Moderated {
                        by,
                        action,
                        moderation,
                    }),
                    _ => Err(corrupt("moderation entry")),
                }
            })
            .collect()
    }

    fn consultations(&self) -> Result<Vec<ConsultationView>, StoreError> {
        let mut list = Vec::new();
        for r in self.trees.consultationid_view.iter() {
            let (k, _) = r?;
            let id = key32(&k)
                .map(|b| EventId(Hash(b)))
                .ok_or_else(|| corrupt("consultation key"))?;
            list.push(
                self.consultation(&id)
                    .ok_or_else(|| corrupt("consultation view"))?,
            );
        }
        Ok(list)
    }
}
