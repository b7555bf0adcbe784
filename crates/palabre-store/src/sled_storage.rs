//! The sled storage: [`SledStorage`], core's `Record` and the `Storage` port over sled.
//! Its trees are declared in one table (`trees.rs`, each named `key_value` with its key
//! layout); what a commit writes per entry is `indexes.rs`'s, how it reads through its own
//! pending writes `view.rs`'s.
//!
//! A commit first admits its items against a `View`: the stored record with the
//! batch's pending writes layered on top, so each item sees the ones accepted before it.
//! Then every pending write of every tree goes to disk in one sled transaction, followed
//! by one `flush()`; only then does `commit` return. sled's background flush is never
//! relied on for durability.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use palabre_core::admission::{Clock, admit};
use palabre_core::crypto::PublicKey;
use palabre_core::event::{Kind, ModerationAction, StaffRole};
use palabre_core::head::{Cosignature, Equivocation, SignedTreeHead, TreeHead};
use palabre_core::ids::{EventId, Hash};
use palabre_core::merkle;
use palabre_core::purge::Entry;
use palabre_core::record::Record;
use palabre_core::replica::{self, ReplicaError, ReplicaLog};
use palabre_core::secret::memo::Openings;
use palabre_core::view::{ConsultationView, CredentialState, ProposalView};
use sha2::{Digest, Sha256};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::CountCache;
use crate::indexes::{append, append_purged};
use crate::trees::*;
use crate::view::{Pending, View};
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

/// The sled-backed storage.
#[derive(Debug)]
pub struct SledStorage {
    pub(crate) db: sled::Db,
    pub(crate) trees: Trees,
    /// The same trees, in [`T`]'s order, for views and transactions.
    all: [sled::Tree; N_TREES],
    /// Log sizes read so far (updated after each commit).
    sizes: Mutex<HashMap<PublicKey, u64>>,
    /// One commit at a time: admission must see every earlier commit.
    commit_lock: Mutex<()>,
    /// L₀ and the judged mixes of the consultations being opened, kept between
    /// admissions (core's `secret::judged`).
    openings: Openings,
    /// The last counts, read on as the logs grow (`counts.rs`).
    counts: CountCache,
    /// Entries read by `entry` and `entries` (`Storage::entries_read`).
    entries_read: AtomicU64,
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
        crate::indexes::count_authored_once(&all)?;
        db.flush()?;
        Ok(SledStorage {
            db,
            trees,
            all,
            sizes: Mutex::new(HashMap::new()),
            commit_lock: Mutex::new(()),
            openings: Openings::default(),
            counts: CountCache::default(),
            entries_read: AtomicU64::new(0),
            snapshot_gate: RwLock::new(()),
        })
    }

    /// The id of a consultation's result (the first `result` recorded for it, public or
    /// sealed), if there is one.
    pub fn result_id(&self, consultation: &EventId) -> Option<EventId> {
        self.with_view(|v| v.get(T::RESULT, consultation.0.as_bytes()))
            .and_then(|id| key32(&id))
            .map(|b| EventId(Hash(b)))
    }

    fn view<'a>(&'a self, pending: &'a Pending) -> View<'a> {
        View {
            trees: &self.all,
            pending,
            sizes: &self.sizes,
            openings: Some(&self.openings),
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
            openings: Some(&self.openings),
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
    fn encryption_key(&self, authority: &PublicKey) -> Option<palabre_core::group::RistrettoPoint> {
        self.with_view(|v| v.encryption_key(authority))
    }
    fn secret_events(
        &self,
        consultation: &EventId,
        kind: Kind,
    ) -> Vec<(PublicKey, palabre_core::event::SignedEvent)> {
        self.with_view(|v| v.secret_events(consultation, kind))
    }
    fn election_key(
        &self,
        consultation: &EventId,
    ) -> Option<(EventId, palabre_core::group::RistrettoPoint)> {
        self.with_view(|v| v.election_key(consultation))
    }
    fn layout(&self, consultation: &EventId) -> Option<(EventId, u64)> {
        self.with_view(|v| v.layout(consultation))
    }
    fn moderated(&self, authority: &PublicKey, target: &EventId) -> Option<ModerationAction> {
        self.with_view(|v| v.moderated(authority, target))
    }
    fn n_authored(
        &self,
        log: &PublicKey,
        consultation: &EventId,
        kind: Kind,
        author: &PublicKey,
    ) -> u64 {
        self.with_view(|v| v.n_authored(log, consultation, kind, author))
    }
    fn counted_sealed(
        &self,
        c: &ConsultationView,
    ) -> Option<Vec<palabre_core::event::secret::Sealed>> {
        crate::counted_sealed(self, c, |log, start, end| self.entries(log, start, end))
    }
    fn openings(&self) -> Option<&Openings> {
        Some(&self.openings)
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
        let mut write = ReplicaWrite {
            store: self,
            pending: Pending::default(),
        };
        let outcome = match replica::append_replica(&mut write, head, start, entries) {
            Ok(outcome) => outcome,
            Err(ReplicaError::NotContiguous { held, start }) => {
                return Err(StoreError::NotContiguous { held, start });
            }
            Err(ReplicaError::Store(e)) => return Err(e),
        };
        let mut pending = write.pending;
        if outcome.reached_head {
            let json = serde_json::to_vec(head).map_err(|e| corrupt(&e.to_string()))?;
            pending.put(T::HEAD, log_key(&head.head.authority, head.head.size), json);
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
        let entry = self.trees.logidx_event.get(log_key(log, index))?;
        self.entries_read
            .fetch_add(u64::from(entry.is_some()), Ordering::Relaxed);
        Ok(entry.map(|v| v.to_vec()))
    }

    fn entries(&self, log: &PublicKey, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let entries: Vec<Vec<u8>> = self
            .trees
            .logidx_event
            .range(log_key(log, start)..log_key(log, end))
            .map(|r| r.map(|(_, v)| v.to_vec()).map_err(StoreError::from))
            .collect::<Result<_, _>>()?;
        self.entries_read
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        Ok(entries)
    }

    fn count_cache(&self) -> Option<&CountCache> {
        Some(&self.counts)
    }

    fn entries_read(&self) -> u64 {
        self.entries_read.load(Ordering::Relaxed)
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

/// A replica page being written: core's [`replica::append_replica`] reads the store with
/// the page's pending writes over it, and appends through it.
struct ReplicaWrite<'s> {
    store: &'s SledStorage,
    pending: Pending,
}

impl ReplicaLog for ReplicaWrite<'_> {
    type Error = StoreError;
    type View<'v> = View<'v>;

    fn read<T>(&self, read: impl FnOnce(&View<'_>) -> T) -> T {
        read(&self.store.view(&self.pending))
    }

    fn root(&self, log: &PublicKey, size: u64) -> Result<Option<Hash>, StoreError> {
        Ok(Some(merkle::root_at(
            &self.store.view(&self.pending).nodes(*log),
            size,
        )?))
    }

    fn append(&mut self, log: &PublicKey, entry: Entry) -> Result<(), StoreError> {
        let store = self.store;
        match &entry {
            Entry::Event(event) => append(&store.all, &store.sizes, &mut self.pending, log, event),
            Entry::Purged(p) => append_purged(&store.all, &store.sizes, &mut self.pending, log, p),
        };
        Ok(())
    }
}
