//! Palabre's storage: the per-authority logs, their Merkle nodes, signed heads, the
//! indexes admission needs, and invitation code hashes.
//!
//! [`Storage`] is what the node uses; it extends core's read-only
//! [`palabre_core::record::Record`] with durable commits and the reads the API serves.
//! [`SledStorage`] keeps everything in sled on disk; [`MemoryStorage`] wraps core's
//! in-memory `Ledger` for tests. Deciding what is valid stays in core: `commit` calls
//! `admission::admit` for every item and writes only what it accepts.

mod backup;
mod counts;
mod indexes;
mod memory;
mod office;
mod sled_storage;
mod trees;
mod view;
mod writer;

use std::sync::Arc;

use palabre_core::admission::Clock;
use palabre_core::counting::{self, Counted, Counter};
use palabre_core::crypto::PublicKey;
use palabre_core::event::{SignedEvent, decode};
use palabre_core::head::{Cosignature, Equivocation, SignedTreeHead, TreeHead};
use palabre_core::ids::{EventId, Hash};
use palabre_core::limits::MAX_PAGE_ENTRIES;
use palabre_core::merkle::MerkleError;
use palabre_core::record::Record;
use palabre_core::rejection::Rejection;
use palabre_core::view::ConsultationView;

pub use backup::{
    BACKUP_VERSION, BackupFile, BackupHeader, BackupSummary, Restored, restore_backup,
    verify_backup,
};
pub use counts::CountCache;
pub use memory::MemoryStorage;
pub use palabre_core::counting::Moderated;
pub use palabre_core::purge::Entry;
pub use palabre_core::replica::ReplicaOutcome;
pub use sled_storage::{SledStorage, StoreConfig};
pub use writer::{
    Answer, Committed, GROUP_BUCKETS, GroupStats, MAX_GROUP_ITEMS, MAX_QUEUED_REQUESTS, Ticket,
    Writer,
};

/// Failures of the storage itself (never of the input: those are [`CommitRejection`]s).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("the store holds data it cannot read: {0}")]
    Corrupt(String),
    #[error("merkle: {0}")]
    Merkle(#[from] MerkleError),
    #[error("group commit: {0}")]
    Writer(String),
    #[error("entries of a replica must continue it: it holds {held}, the page starts at {start}")]
    NotContiguous { held: u64, start: u64 },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("this is not a Palabre backup")]
    NotABackup,
    #[error(
        "this backup has format version {0}; this palabre reads up to version {newest}: use a newer palabre",
        newest = backup::BACKUP_VERSION
    )]
    BackupVersion(u32),
    #[error("the backup is damaged: {0}")]
    DamagedBackup(String),
    #[error("{} already exists: a backup is restored only into a new store", .0.display())]
    RestoreTargetExists(std::path::PathBuf),
}

/// One event to append to `log`, optionally consuming an invitation code hash in the
/// same atomic write (a redeemed invitation and its credential go together).
#[derive(Debug, Clone)]
pub struct CommitItem {
    pub log: PublicKey,
    pub event: SignedEvent,
    pub consume_invitation: Option<Hash>,
}

/// Why one item of a commit was refused. Nothing of a refused item is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitRejection {
    #[error("{0}")]
    Event(Rejection),
    #[error("this invitation code is unknown")]
    UnknownInvitation,
    #[error("this invitation code has already been used")]
    UsedInvitation,
    #[error("this invitation code was withdrawn by the town hall")]
    RevokedInvitation,
}

impl CommitRejection {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            CommitRejection::Event(r) => r.code(),
            CommitRejection::UnknownInvitation => "unknown_invitation",
            CommitRejection::UsedInvitation => "used_invitation",
            CommitRejection::RevokedInvitation => "revoked_invitation",
        }
    }
}

/// Where an accepted item was appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub id: EventId,
    pub log: PublicKey,
    pub index: u64,
}

/// What a commit did: one result per item, in order, and the new head of every log
/// that grew.
#[derive(Debug, Clone)]
pub struct CommitOutcome {
    pub results: Vec<Result<Appended, CommitRejection>>,
    pub heads: Vec<SignedTreeHead>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    Unused,
    Used,
    /// Withdrawn by the town hall before anyone used it (a lost or misprinted letter).
    Revoked,
}

/// Public counts of invitation codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InvitationCounts {
    pub issued: u64,
    pub redeemed: u64,
    pub revoked: u64,
}

/// The node's storage.
pub trait Storage: Record + Send + Sync {
    /// Admits every item in order — each one seeing the accepted items before it — and
    /// durably writes the accepted ones with their indexes, consumed invitations and a
    /// newly signed head per grown log. Returns only once the write is on disk.
    fn commit(
        &self,
        items: Vec<CommitItem>,
        clock: Clock,
        sign_head: &dyn Fn(TreeHead) -> SignedTreeHead,
    ) -> Result<CommitOutcome, StoreError>;

    /// Appends entries of another authority's log, received from a peer, starting at
    /// `start` (the size held). Each is admitted by core against the record as replayed
    /// history (`Clock::Replay`); the admitted ones are written byte for byte, with their
    /// indexes, in one durable write — and, when the log then has `head`'s size and root,
    /// with `head` itself (the authority's own signature, not ours).
    fn append_replica(
        &self,
        head: &SignedTreeHead,
        start: u64,
        entries: Vec<Entry>,
    ) -> Result<ReplicaOutcome, StoreError>;

    /// Keeps a witness's cosignature (the caller has checked it); false if already kept.
    fn add_cosignature(&self, cosignature: &Cosignature) -> Result<bool, StoreError>;
    /// Every cosignature kept of `log`'s heads, by size then witness.
    fn cosignatures(&self, log: &PublicKey) -> Result<Vec<Cosignature>, StoreError>;
    /// Keeps a proof of equivocation (the caller has checked it); false if already kept.
    fn add_evidence(&self, evidence: &Equivocation) -> Result<bool, StoreError>;
    /// Every proof of equivocation kept.
    fn evidence(&self) -> Result<Vec<Equivocation>, StoreError>;
    /// At most `limit` cosignatures of `log`'s heads after the position `after` — (size,
    /// witness, root), keys and hashes compared as bytes — in that order: the pages a
    /// recovering neighbour asks for.
    fn cosignatures_after(
        &self,
        log: &PublicKey,
        after: Option<(u64, PublicKey, Hash)>,
        limit: usize,
    ) -> Result<Vec<Cosignature>, StoreError> {
        let order = |c: &Cosignature| {
            let h = &c.cosigned.head;
            (h.size, *c.cosigned.witness.as_bytes(), h.root.0)
        };
        let after = after.map(|(size, w, root)| (size, *w.as_bytes(), root.0));
        let mut list = self.cosignatures(log)?;
        list.sort_by_key(order);
        Ok(list
            .into_iter()
            .filter(|c| after.is_none_or(|a| order(c) > a))
            .take(limit)
            .collect())
    }
    /// Keeps several cosignatures (checked by the caller) in one durable write; how many
    /// were new.
    fn add_cosignatures(&self, list: &[Cosignature]) -> Result<u64, StoreError> {
        let mut n = 0;
        for c in list {
            n += u64::from(self.add_cosignature(c)?);
        }
        Ok(n)
    }
    /// At most `limit` proofs against `authority`, from the `skip`-th, in the order
    /// [`Storage::evidence`] lists them.
    fn evidence_against(
        &self,
        authority: &PublicKey,
        skip: u64,
        limit: usize,
    ) -> Result<Vec<Equivocation>, StoreError> {
        Ok(self
            .evidence()?
            .into_iter()
            .filter(|e| e.authority() == *authority)
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(limit)
            .collect())
    }

    /// The exact bytes of entry `index` of `log`.
    fn entry(&self, log: &PublicKey, index: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Entries `start..end` of `log` (fewer if the log is shorter).
    fn entries(&self, log: &PublicKey, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError>;
    /// Where an event is: its log and index.
    fn position(&self, id: &EventId) -> Result<Option<(PublicKey, u64)>, StoreError>;
    fn latest_head(&self, log: &PublicKey) -> Result<Option<SignedTreeHead>, StoreError>;
    fn inclusion_proof(
        &self,
        log: &PublicKey,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, StoreError>;
    fn consistency_proof(
        &self,
        log: &PublicKey,
        from: u64,
        to: u64,
    ) -> Result<Vec<Hash>, StoreError>;

    /// Stores invitation code hashes (never codes); returns how many were new.
    fn add_invitations(&self, hashes: &[Hash]) -> Result<u64, StoreError>;
    fn invitation_status(&self, hash: &Hash) -> Result<Option<InvitationStatus>, StoreError>;
    fn invitation_counts(&self) -> Result<InvitationCounts, StoreError>;
    /// Withdraws the codes of `hashes` that are still unused; returns how many it
    /// withdrew (used codes stay used: their credential is in the log).
    fn revoke_invitations(&self, hashes: &[Hash]) -> Result<u64, StoreError>;

    /// Flushes anything buffered to disk.
    fn flush(&self) -> Result<(), StoreError>;

    /// Every consultation recorded in any log.
    fn consultations(&self) -> Result<Vec<ConsultationView>, StoreError>;

    /// The proposals of a consultation and the arguments on them, in no given order.
    fn members(&self, consultation: &EventId) -> Result<Vec<EventId>, StoreError>;

    /// Where every `moderation` entry that acts for its log's authority is, by log then
    /// index: the public moderation log.
    fn moderation_log(&self) -> Result<Vec<(PublicKey, u64)>, StoreError>;

    /// The latest moderation of `target` by each authority whose own log moderated it.
    fn moderation(&self, target: &EventId) -> Result<Vec<Moderated>, StoreError>;

    /// Counts a consultation over each participating log up to its closing checkpoint
    /// (the whole log while it is open), with core's `counting::count`. The stores keep
    /// the last counts (`counts.rs`): counting again reads only the entries appended since.
    fn count(
        &self,
        consultation: &EventId,
    ) -> Result<Option<(ConsultationView, Arc<Counted>)>, StoreError> {
        let Some(view) = self.consultation(consultation) else {
            return Ok(None);
        };
        let entries = |a: &PublicKey, s, e| self.entries(a, s, e);
        let counted = match self.count_cache() {
            Some(cache) => cache.count(self, &view, entries)?,
            None => Arc::new(count_pages(self, &view, entries)?),
        };
        Ok(Some((view, counted)))
    }

    /// The store's count cache, which `count` answers from (`None`: count afresh).
    fn count_cache(&self) -> Option<&CountCache> {
        None
    }

    /// How many entries were read from the logs since the store was opened (by
    /// `entry` and `entries`): what `/metrics` shows, and what the tests of issue 19's
    /// "O(page), not O(log)" count.
    fn entries_read(&self) -> u64 {
        0
    }
}

/// Counts `view` over each participating log up to its closing checkpoint (the whole log
/// while it is open), reading `entries(log, start, end)` a page at a time: a count holds
/// one ballot per voter, never the logs.
pub(crate) fn count_pages<R: Record + ?Sized>(
    record: &R,
    view: &ConsultationView,
    entries: impl Fn(&PublicKey, u64, u64) -> Result<Vec<Vec<u8>>, StoreError>,
) -> Result<Counted, StoreError> {
    let mut counter = Counter::new(view);
    for authority in &view.body.authorities {
        let size = counting::counted_size(record, authority, &view.id);
        counter.start_log(*authority);
        let mut start = 0;
        while start < size {
            let end = size.min(start + MAX_PAGE_ENTRIES);
            for bytes in entries(authority, start, end)? {
                counter.push_entry(&stored_entry(bytes)?);
            }
            start = end;
        }
    }
    Ok(counter.finish())
}

/// [`Record::counted_sealed`] for the stores: once every participating log has closed,
/// the `sealed` members of the counted ballots in voter order (SECRET-BALLOTS.md §4.8),
/// counted with [`count_pages`] and each looked up by id.
pub(crate) fn counted_sealed<R: Record + ?Sized>(
    record: &R,
    c: &ConsultationView,
    entries: impl Fn(&PublicKey, u64, u64) -> Result<Vec<Vec<u8>>, StoreError>,
) -> Option<Vec<palabre_core::event::secret::Sealed>> {
    let closed = c
        .body
        .authorities
        .iter()
        .all(|a| record.closing(a, &c.id).is_some());
    if !closed {
        return None;
    }
    let counted = count_pages(record, c, entries).ok()?;
    let events: std::collections::BTreeMap<EventId, SignedEvent> = counted
        .sealed
        .values()
        .filter_map(|id| match record.held(id)? {
            (_, Entry::Event(e)) => Some((*id, e)),
            _ => None,
        })
        .collect();
    palabre_core::secret::cascade::sealed_of(counted.sealed.values(), |id| events.get(id))
}

/// The time a commit's heads carry: the live clock; heads signed while replaying a
/// fixed history carry 0 (they say nothing about when).
pub(crate) fn head_time_ms(clock: Clock) -> u64 {
    match clock {
        Clock::Live { now_ms } => now_ms,
        Clock::Replay => 0,
    }
}

/// Whether an invitation in this state may be consumed.
pub(crate) fn check_invitation(status: Option<InvitationStatus>) -> Result<(), CommitRejection> {
    match status {
        None => Err(CommitRejection::UnknownInvitation),
        Some(InvitationStatus::Used) => Err(CommitRejection::UsedInvitation),
        Some(InvitationStatus::Revoked) => Err(CommitRejection::RevokedInvitation),
        Some(InvitationStatus::Unused) => Ok(()),
    }
}

/// Reads back an entry this store wrote (an event, or the tombstone of a purged one):
/// only its decoding is repeated (a damaged disk shows up as `Corrupt`).
pub fn stored_entry(bytes: Vec<u8>) -> Result<Entry, StoreError> {
    Entry::stored(bytes)
        .map_err(|r| StoreError::Corrupt(format!("a stored entry does not decode: {r}")))
}

/// Reads back an event this store wrote: it passed every check when it was admitted, so
/// only its decoding is repeated (a damaged disk shows up as `Corrupt`).
pub fn stored_event(bytes: Vec<u8>) -> Result<SignedEvent, StoreError> {
    decode(bytes)
        .map(|u| u.into_verified_unchecked())
        .map_err(|r| StoreError::Corrupt(format!("a stored event does not decode: {r}")))
}
