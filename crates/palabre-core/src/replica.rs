//! The one admission rule for replicas: how a page of another authority's log, received
//! by federation (or replayed by an auditor), is taken in.
//!
//! A page must start where the held log ends; its entries are then taken in order until
//! the first one refused: an event by [`admit`] with the replayed clock (the time that
//! counts is its own), a tombstone (whose signature was checked on receipt,
//! `Entry::from_bytes`) as long as its id is not held already (its purge follows it in the
//! log and is admitted then). Whether the log then holds exactly the page's signed head
//! decides if that head is kept with it.
//!
//! This file does no IO: it reads the record and appends through [`ReplicaLog`], which
//! each store implements over its own writes (and [`Ledger`] in memory); writing the
//! entries, their indexes and the head, durably, is the store's.

use crate::admission::{Clock, admit};
use crate::crypto::PublicKey;
use crate::head::SignedTreeHead;
use crate::ids::Hash;
use crate::ledger::Ledger;
use crate::purge::Entry;
use crate::record::Record;
use crate::rejection::Rejection;

/// What appending a page of a replica did: the entries admitted, in order, until the
/// first one refused (if any; it and the rest were not written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaOutcome {
    /// How many entries of the page were admitted and appended.
    pub appended: u64,
    /// The first entry refused, by its index in the log, and why.
    pub refused: Option<(u64, Rejection)>,
    /// Whether the log now holds exactly the page's signed head (stored with it).
    pub reached_head: bool,
}

/// Why a page was not taken in at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaError<E> {
    /// The page does not start where the held log ends.
    NotContiguous {
        /// The size of the log held.
        held: u64,
        /// Where the page starts.
        start: u64,
    },
    /// The store failed to read or write.
    Store(E),
}

/// What [`append_replica`] needs of a store: the record as it stands (with the entries
/// this page appended so far), a log's root, and a way to append an admitted entry.
pub trait ReplicaLog {
    /// The store's failure to read or write.
    type Error;
    /// The record as it stands, with the entries appended so far.
    type View<'v>: Record;

    /// Runs `read` on the record as it stands, with the entries appended so far.
    fn read<T>(&self, read: impl FnOnce(&Self::View<'_>) -> T) -> T;

    /// The root of the first `size` entries of `log` as it stands.
    fn root(&self, log: &PublicKey, size: u64) -> Result<Option<Hash>, Self::Error>;

    /// Appends an entry [`admit_entry`] accepted, with whatever the store indexes of it.
    fn append(&mut self, log: &PublicKey, entry: Entry) -> Result<(), Self::Error>;
}

/// Whether `entry` may be appended to the replica of `log` as `record` stands: an event
/// by [`admit`] with the replayed clock; a tombstone unless its id is held already.
pub fn admit_entry(record: &impl Record, log: &PublicKey, entry: &Entry) -> Result<(), Rejection> {
    match entry {
        Entry::Event(event) => admit(record, log, event, Clock::Replay).into_result(),
        // A tombstone's signature was checked on receipt; its purge follows it in the
        // log and is admitted then.
        Entry::Purged(p) if record.contains(&p.body().id) => Err(Rejection::Duplicate),
        Entry::Purged(_) => Ok(()),
    }
}

/// Appends the page `entries`, starting at index `start`, to the replica of the log
/// `head` is signed for: each entry in order, by [`admit_entry`], until the first refused.
/// `reached_head` says whether the log then holds exactly `head` (the caller keeps the
/// head with the log when it does).
pub fn append_replica<S: ReplicaLog>(
    store: &mut S,
    head: &SignedTreeHead,
    start: u64,
    entries: Vec<Entry>,
) -> Result<ReplicaOutcome, ReplicaError<S::Error>> {
    let log = head.head.authority;
    let held = store.read(|record| record.log_size(&log));
    if held != start {
        return Err(ReplicaError::NotContiguous { held, start });
    }
    let mut outcome = ReplicaOutcome {
        appended: 0,
        refused: None,
        reached_head: false,
    };
    for entry in entries {
        if let Err(r) = store.read(|record| admit_entry(record, &log, &entry)) {
            outcome.refused = Some((start + outcome.appended, r));
            break;
        }
        store.append(&log, entry).map_err(ReplicaError::Store)?;
        outcome.appended += 1;
    }
    let size = store.read(|record| record.log_size(&log));
    outcome.reached_head = size == head.head.size
        && store.root(&log, size).map_err(ReplicaError::Store)? == Some(head.head.root);
    Ok(outcome)
}

/// The in-memory record takes replicas the same way (the memory store, the auditor's
/// replay).
impl ReplicaLog for Ledger {
    type Error = std::convert::Infallible;
    type View<'v> = Ledger;

    fn read<T>(&self, read: impl FnOnce(&Ledger) -> T) -> T {
        read(self)
    }

    fn root(&self, log: &PublicKey, size: u64) -> Result<Option<Hash>, Self::Error> {
        Ok(self.root_at(log, size))
    }

    fn append(&mut self, log: &PublicKey, entry: Entry) -> Result<(), Self::Error> {
        self.apply_entry(log, entry);
        Ok(())
    }
}
