//! The in-memory storage, for tests: core's `Ledger` plus invitations and heads, behind
//! a mutex. It answers exactly as the sled storage does, which the shared test suite
//! checks; nothing survives the process.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use palabre_core::admission::{Clock, admit};
use palabre_core::crypto::PublicKey;
use palabre_core::event::{Kind, ModerationAction, StaffRole};
use palabre_core::head::{Cosignature, Equivocation, SignedTreeHead, TreeHead};
use palabre_core::ids::{EventId, Hash};
use palabre_core::ledger::Ledger;
use palabre_core::merkle;
use palabre_core::purge::Entry;
use palabre_core::record::Record;
use palabre_core::replica::{self, ReplicaError};
use palabre_core::view::{ConsultationView, CredentialState, ProposalView};

use crate::CountCache;
use crate::{
    Appended, CommitItem, CommitOutcome, CommitRejection, InvitationCounts, InvitationStatus,
    Moderated, ReplicaOutcome, Storage, StoreError,
};

#[derive(Debug, Default)]
struct Inner {
    ledger: Ledger,
    invitations: HashMap<Hash, InvitationStatus>,
    heads: BTreeMap<PublicKey, SignedTreeHead>,
    cosignatures: Vec<Cosignature>,
    evidence: Vec<Equivocation>,
}

#[derive(Debug, Default)]
pub struct MemoryStorage {
    inner: Mutex<Inner>,
    /// The last counts, read on as the logs grow (`counts.rs`), as in `SledStorage`.
    counts: CountCache,
    /// Entries read by `entry` and `entries` (`Storage::entries_read`).
    entries_read: AtomicU64,
}

impl MemoryStorage {
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every write is one
        // `Ledger::apply`), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Record for MemoryStorage {
    fn staff(&self, authority: &PublicKey, key: &PublicKey) -> Option<StaffRole> {
        self.lock().ledger.staff(authority, key)
    }
    fn contains(&self, id: &EventId) -> bool {
        self.lock().ledger.contains(id)
    }
    fn is_declared(&self, authority: &PublicKey) -> bool {
        self.lock().ledger.is_declared(authority)
    }
    fn consultation(&self, id: &EventId) -> Option<ConsultationView> {
        self.lock().ledger.consultation(id)
    }
    fn proposal(&self, id: &EventId) -> Option<ProposalView> {
        self.lock().ledger.proposal(id)
    }
    fn target(&self, id: &EventId) -> Option<(Kind, Option<EventId>)> {
        self.lock().ledger.target(id)
    }
    fn credential(&self, issuer: &PublicKey, subject: &PublicKey) -> Option<CredentialState> {
        self.lock().ledger.credential(issuer, subject)
    }
    fn closing(&self, authority: &PublicKey, consultation: &EventId) -> Option<(u64, Hash)> {
        self.lock().ledger.closing(authority, consultation)
    }
    fn has_result(&self, consultation: &EventId) -> bool {
        self.lock().ledger.has_result(consultation)
    }
    fn log_size(&self, authority: &PublicKey) -> u64 {
        self.lock().ledger.log_size(authority)
    }
    fn root_at(&self, authority: &PublicKey, size: u64) -> Option<Hash> {
        self.lock().ledger.root_at(authority, size)
    }
    fn held(&self, id: &EventId) -> Option<(PublicKey, Entry)> {
        self.lock().ledger.held(id)
    }
    fn encryption_key(&self, authority: &PublicKey) -> Option<palabre_core::group::RistrettoPoint> {
        self.lock().ledger.encryption_key(authority)
    }
    fn secret_events(
        &self,
        consultation: &EventId,
        kind: Kind,
    ) -> Vec<(PublicKey, palabre_core::event::SignedEvent)> {
        self.lock().ledger.secret_events(consultation, kind)
    }
    fn election_key(
        &self,
        consultation: &EventId,
    ) -> Option<(EventId, palabre_core::group::RistrettoPoint)> {
        self.lock().ledger.election_key(consultation)
    }
    fn layout(&self, consultation: &EventId) -> Option<(EventId, u64)> {
        self.lock().ledger.layout(consultation)
    }
    fn moderated(&self, authority: &PublicKey, target: &EventId) -> Option<ModerationAction> {
        self.lock().ledger.moderated(authority, target)
    }
    fn n_authored(
        &self,
        log: &PublicKey,
        consultation: &EventId,
        kind: Kind,
        author: &PublicKey,
    ) -> u64 {
        self.lock()
            .ledger
            .n_authored(log, consultation, kind, author)
    }
    fn counted_sealed(
        &self,
        c: &ConsultationView,
    ) -> Option<Vec<palabre_core::event::secret::Sealed>> {
        self.lock().ledger.counted_sealed(c)
    }
}

impl Storage for MemoryStorage {
    fn commit(
        &self,
        items: Vec<CommitItem>,
        clock: Clock,
        sign_head: &dyn Fn(TreeHead) -> SignedTreeHead,
    ) -> Result<CommitOutcome, StoreError> {
        let mut inner = self.lock();
        let mut results = Vec::with_capacity(items.len());
        let mut grown: BTreeMap<PublicKey, ()> = BTreeMap::new();
        for item in items {
            let invitation = match item.consume_invitation {
                None => Ok(()),
                Some(h) => crate::check_invitation(inner.invitations.get(&h).copied()),
            };
            let verdict = invitation.and_then(|()| {
                admit(&inner.ledger, &item.log, &item.event, clock)
                    .into_result()
                    .map_err(CommitRejection::Event)
            });
            results.push(verdict.map(|()| {
                if let Some(h) = item.consume_invitation {
                    inner.invitations.insert(h, InvitationStatus::Used);
                }
                let id = item.event.id();
                let index = inner.ledger.apply(&item.log, item.event);
                grown.insert(item.log, ());
                Appended {
                    id,
                    log: item.log,
                    index,
                }
            }));
        }
        let now_ms = crate::head_time_ms(clock);
        let mut heads = Vec::new();
        for log in grown.keys() {
            let size = inner.ledger.log_size(log);
            let root = inner
                .ledger
                .root_at(log, size)
                .ok_or_else(|| StoreError::Corrupt("a grown log has no root".into()))?;
            let head = sign_head(TreeHead {
                authority: *log,
                size,
                root,
                timestamp_ms: now_ms,
            });
            inner.heads.insert(*log, head);
            heads.push(head);
        }
        Ok(CommitOutcome { results, heads })
    }

    fn append_replica(
        &self,
        head: &SignedTreeHead,
        start: u64,
        entries: Vec<Entry>,
    ) -> Result<ReplicaOutcome, StoreError> {
        let mut inner = self.lock();
        let outcome = match replica::append_replica(&mut inner.ledger, head, start, entries) {
            Ok(outcome) => outcome,
            Err(ReplicaError::NotContiguous { held, start }) => {
                return Err(StoreError::NotContiguous { held, start });
            }
            Err(ReplicaError::Store(never)) => match never {},
        };
        if outcome.reached_head {
            inner.heads.insert(head.head.authority, *head);
        }
        Ok(outcome)
    }

    fn add_cosignature(&self, c: &Cosignature) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner.cosignatures.contains(c) {
            return Ok(false);
        }
        inner.cosignatures.push(*c);
        Ok(true)
    }

    fn cosignatures(&self, log: &PublicKey) -> Result<Vec<Cosignature>, StoreError> {
        let mut list: Vec<Cosignature> = self
            .lock()
            .cosignatures
            .iter()
            .filter(|c| c.cosigned.head.authority == *log)
            .copied()
            .collect();
        list.sort_by_key(|c| (c.cosigned.head.size, c.cosigned.witness));
        Ok(list)
    }

    fn add_evidence(&self, e: &Equivocation) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner.evidence.contains(e) {
            return Ok(false);
        }
        inner.evidence.push(e.clone());
        Ok(true)
    }

    fn evidence(&self) -> Result<Vec<Equivocation>, StoreError> {
        Ok(self.lock().evidence.clone())
    }

    fn entry(&self, log: &PublicKey, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let inner = self.lock();
        let entry = inner
            .ledger
            .log(log)
            .and_then(|l| l.entries.get(usize::try_from(index).ok()?))
            .map(|e| e.bytes().to_vec());
        self.entries_read
            .fetch_add(u64::from(entry.is_some()), Ordering::Relaxed);
        Ok(entry)
    }

    fn entries(&self, log: &PublicKey, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let inner = self.lock();
        let Some(l) = inner.ledger.log(log) else {
            return Ok(Vec::new());
        };
        let len = l.entries.len() as u64;
        let (start, end) = (start.min(len) as usize, end.min(len) as usize);
        let entries: Vec<Vec<u8>> = l.entries[start..end.max(start)]
            .iter()
            .map(|e| e.bytes().to_vec())
            .collect();
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
        Ok(self.lock().ledger.position(id).map(|p| (p.log, p.index)))
    }

    fn latest_head(&self, log: &PublicKey) -> Result<Option<SignedTreeHead>, StoreError> {
        Ok(self.lock().heads.get(log).copied())
    }

    fn inclusion_proof(
        &self,
        log: &PublicKey,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        let inner = self.lock();
        let tree = inner
            .ledger
            .log(log)
            .map(|l| &l.tree)
            .ok_or(StoreError::Merkle(merkle::MerkleError::IndexOutOfRange {
                index,
                size,
            }))?;
        Ok(merkle::inclusion_proof(tree, index, size)?)
    }

    fn consistency_proof(
        &self,
        log: &PublicKey,
        from: u64,
        to: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        let inner = self.lock();
        let tree = inner
            .ledger
            .log(log)
            .map(|l| &l.tree)
            .ok_or(StoreError::Merkle(merkle::MerkleError::BadSizes {
                old: from,
                new: to,
            }))?;
        Ok(merkle::consistency_proof(tree, from, to)?)
    }

    fn add_invitations(&self, hashes: &[Hash]) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let mut added = 0;
        for h in hashes {
            if !inner.invitations.contains_key(h) {
                inner.invitations.insert(*h, InvitationStatus::Unused);
                added += 1;
            }
        }
        Ok(added)
    }

    fn invitation_status(&self, hash: &Hash) -> Result<Option<InvitationStatus>, StoreError> {
        Ok(self.lock().invitations.get(hash).copied())
    }

    fn invitation_counts(&self) -> Result<InvitationCounts, StoreError> {
        let inner = self.lock();
        let n = |status| inner.invitations.values().filter(|s| **s == status).count() as u64;
        Ok(InvitationCounts {
            issued: inner.invitations.len() as u64,
            redeemed: n(InvitationStatus::Used),
            revoked: n(InvitationStatus::Revoked),
        })
    }

    fn revoke_invitations(&self, hashes: &[Hash]) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let mut revoked = 0;
        for h in hashes {
            if let Some(s) = inner.invitations.get_mut(h)
                && *s == InvitationStatus::Unused
            {
                *s = InvitationStatus::Revoked;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn members(&self, consultation: &EventId) -> Result<Vec<EventId>, StoreError> {
        Ok(self.lock().ledger.members(consultation))
    }

    fn moderation(&self, target: &EventId) -> Result<Vec<Moderated>, StoreError> {
        Ok(self.lock().ledger.moderation(target))
    }

    fn moderation_log(&self) -> Result<Vec<(PublicKey, u64)>, StoreError> {
        Ok(self.lock().ledger.moderation_log())
    }

    fn consultations(&self) -> Result<Vec<ConsultationView>, StoreError> {
        let mut list: Vec<ConsultationView> = self.lock().ledger.consultations().cloned().collect();
        list.sort_by_key(|c| c.id);
        Ok(list)
    }
}
