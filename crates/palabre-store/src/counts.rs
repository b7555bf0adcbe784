//! The count cache: each consultation's count kept between requests, so that a page or
//! an API answer that shows a count reads only the entries appended since the last one —
//! none while no log grew — instead of recounting every log (issue 19, point 2).
//!
//! A count depends only on the counted prefix of each participating log (its closing
//! checkpoint, or the whole log while it is open). Entries are never changed once
//! appended but by a purge, and a purge changes no count (PROTOCOL.md, "Purged
//! entries"), so the sizes of those prefixes are an exact key. While a log grows, the
//! cache keeps core's [`Counter`] and feeds it only the new entries; once every log has
//! closed, it keeps the count alone.
//!
//! Architecture invariant: a cached count equals a count from scratch
//! (`a_cached_count_equals_a_recount` in the store's tests).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use palabre_core::counting::{self, Counted, Counter};
use palabre_core::crypto::PublicKey;
use palabre_core::ids::EventId;
use palabre_core::limits::MAX_PAGE_ENTRIES;
use palabre_core::record::Record;
use palabre_core::view::ConsultationView;

use crate::{StoreError, stored_entry};

/// Consultations whose counts are always kept (the least recently counted goes first).
const HELD: usize = 4;
/// More consultations keep their counts while all the counts kept hold at most this many
/// ballots in all (about 150 bytes each): a small town keeps every consultation's count —
/// the transparency page counts them all — and a town with large votes keeps the last four.
const HELD_BALLOTS: usize = 1_000_000;

/// The counts of the last consultations counted (a store keeps one and hands it to
/// `Storage::count` through `Storage::count_cache`).
#[derive(Debug, Default)]
pub struct CountCache {
    slots: Mutex<VecDeque<Arc<Slot>>>,
}

#[derive(Debug)]
struct Slot {
    consultation: EventId,
    /// Held while one caller counts: the others wait, then find its count.
    held: Mutex<Option<Held>>,
}

#[derive(Debug)]
struct Held {
    /// The counted prefix of each participating log, in the consultation's order.
    sizes: Vec<u64>,
    counted: Arc<Counted>,
    /// `None` once every log has closed: nothing can be appended to the count.
    counter: Option<Counter>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every write under these locks replaces a whole value: a poisoned lock is usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CountCache {
    /// `view`'s count over `record`, reading `entries(log, start, end)` only for what the
    /// cached count has not read.
    pub(crate) fn count<R: Record + ?Sized>(
        &self,
        record: &R,
        view: &ConsultationView,
        entries: impl Fn(&PublicKey, u64, u64) -> Result<Vec<Vec<u8>>, StoreError>,
    ) -> Result<Arc<Counted>, StoreError> {
        let slot = self.slot(&view.id);
        let mut held = lock(&slot.held);
        let logs = &view.body.authorities;
        let sizes: Vec<u64> = logs
            .iter()
            .map(|a| counting::counted_size(record, a, &view.id))
            .collect();
        if let Some(h) = held.as_ref()
            && h.sizes == sizes
        {
            return Ok(h.counted.clone());
        }
        // Resume the kept counter when every prefix only grew; count afresh otherwise
        // (a checkpoint that ends a prefix before what was read, or a restored store).
        let resumed = held.take().and_then(|h| {
            let grew = h.sizes.iter().zip(&sizes).all(|(was, is)| was <= is);
            h.counter.filter(|_| grew).map(|c| (c, h.sizes))
        });
        let (mut counter, from) =
            resumed.unwrap_or_else(|| (Counter::new(view), vec![0; logs.len()]));
        for ((authority, &start), &end) in logs.iter().zip(&from).zip(&sizes) {
            counter.start_log(*authority);
            let mut at = start;
            while at < end {
                let to = end.min(at + MAX_PAGE_ENTRIES);
                for bytes in entries(authority, at, to)? {
                    counter.push_entry(&stored_entry(bytes)?);
                }
                at = to;
            }
        }
        let closed = logs.iter().all(|a| record.closing(a, &view.id).is_some());
        let (counted, counter) = if closed {
            (Arc::new(counter.finish()), None)
        } else {
            (Arc::new(counter.counted()), Some(counter))
        };
        *held = Some(Held {
            sizes,
            counted: counted.clone(),
            counter,
        });
        Ok(counted)
    }

    /// The slot of `consultation`, made the most recent (a new one evicts the oldest).
    fn slot(&self, consultation: &EventId) -> Arc<Slot> {
        let mut slots = lock(&self.slots);
        let slot = match slots.iter().position(|s| s.consultation == *consultation) {
            Some(i) => slots.remove(i).unwrap_or_else(|| new_slot(consultation)),
            None => new_slot(consultation),
        };
        slots.push_front(slot.clone());
        let mut ballots = 0;
        let mut keep = slots.len();
        for (i, s) in slots.iter().enumerate() {
            // A slot being counted (its lock held) weighs what it held before: nothing known.
            ballots += s
                .held
                .try_lock()
                .ok()
                .and_then(|h| h.as_ref().map(Held::ballots))
                .unwrap_or(0);
            if i >= HELD && ballots > HELD_BALLOTS {
                keep = i;
                break;
            }
        }
        slots.truncate(keep);
        slot
    }
}

impl Held {
    /// The ballots this count keeps (what its memory grows with).
    fn ballots(&self) -> usize {
        self.counted.ballots.len() + self.counted.sealed.len()
    }
}

fn new_slot(consultation: &EventId) -> Arc<Slot> {
    Arc::new(Slot {
        consultation: *consultation,
        held: Mutex::new(None),
    })
}
