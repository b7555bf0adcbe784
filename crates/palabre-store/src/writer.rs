//! Group commit: one writer thread in front of [`Storage::commit`].
//!
//! Submitters queue their items on a bounded channel and wait for their ticket. The
//! writer takes the first request, then everything else already queued (up to
//! [`MAX_GROUP_ITEMS`]), commits it all at once — one transaction, one `flush()` — and
//! answers every waiter. An fsync costs about a millisecond, so grouping is what lets a
//! node acknowledge many concurrent submissions durably. The thread is plain `std`:
//! sled is blocking; async callers wait on a ticket from a blocking task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use palabre_core::admission::Clock;
use palabre_core::head::{SignedTreeHead, TreeHead};

use crate::{Appended, CommitItem, CommitRejection, Storage, StoreError};

/// Requests waiting for the writer before submitters block.
pub const MAX_QUEUED_REQUESTS: usize = 4_096;
/// Items committed together at most.
pub const MAX_GROUP_ITEMS: usize = 2_048;
/// Upper bounds of the group-size buckets reported in [`GroupStats`].
pub const GROUP_BUCKETS: [u64; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 2_048];

/// What one request's items became, and the heads signed by the commit that took them.
#[derive(Debug, Clone)]
pub struct Committed {
    pub results: Vec<Result<Appended, CommitRejection>>,
    pub heads: Vec<SignedTreeHead>,
}

type Reply = Result<Committed, String>;

/// Where a request's answer goes: called once, on the writer thread, after the commit.
pub type Answer = Box<dyn FnOnce(Result<Committed, StoreError>) + Send>;

struct Request {
    items: Vec<CommitItem>,
    answer: Answer,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct GroupStats {
    pub n_commits: AtomicU64,
    pub n_items: AtomicU64,
    /// Commits whose group size was ≤ the matching bound of [`GROUP_BUCKETS`] (and above
    /// the previous one).
    pub buckets: [AtomicU64; 9],
}

impl GroupStats {
    fn record(&self, n_items: u64) {
        self.n_commits.fetch_add(1, Ordering::Relaxed);
        self.n_items.fetch_add(n_items, Ordering::Relaxed);
        let bucket = GROUP_BUCKETS
            .iter()
            .position(|b| n_items <= *b)
            .unwrap_or(GROUP_BUCKETS.len() - 1);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }
}

/// A submission in flight.
#[derive(Debug)]
pub struct Ticket {
    reply: Receiver<Reply>,
}

impl Ticket {
    /// Blocks until the items are durably committed (or refused).
    pub fn wait(self) -> Result<Committed, StoreError> {
        match self.reply.recv() {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(message)) => Err(StoreError::Writer(message)),
            Err(_) => Err(StoreError::Writer("the writer stopped".into())),
        }
    }
}

type HeadSigner = Box<dyn Fn(TreeHead) -> SignedTreeHead + Send>;
type NowMs = Box<dyn Fn() -> u64 + Send>;
type Job = Box<dyn FnOnce(Receiver<Request>) + Send>;
type Listener = Arc<Mutex<Option<Box<dyn Fn() + Send>>>>;

/// The writer: create it, queue if you like, then [`Writer::start`] it.
pub struct Writer {
    tx: Option<SyncSender<Request>>,
    /// Called after each commit that grew a log, once it is durable.
    listener: Listener,
    /// The queue's receiving end and the loop, until `start` hands them to the thread.
    unstarted: Mutex<Option<(Receiver<Request>, Job)>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    stats: Arc<GroupStats>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("stats", &self.stats)
            .finish()
    }
}

impl Writer {
    /// A writer for `storage`, signing heads with `sign_head` and reading time from
    /// `now_ms` (the live clock admission judges by).
    pub fn new<S: Storage + 'static>(
        storage: Arc<S>,
        sign_head: HeadSigner,
        now_ms: NowMs,
    ) -> Writer {
        let (tx, rx) = sync_channel(MAX_QUEUED_REQUESTS);
        let stats = Arc::new(GroupStats::default());
        let thread_stats = Arc::clone(&stats);
        let listener: Listener = Arc::new(Mutex::new(None));
        let thread_listener = Arc::clone(&listener);
        let job: Job = Box::new(move |rx: Receiver<Request>| {
            run(
                &*storage,
                &*sign_head,
                &*now_ms,
                &rx,
                &thread_stats,
                &thread_listener,
            )
        });
        Writer {
            tx: Some(tx),
            listener,
            unstarted: Mutex::new(Some((rx, job))),
            thread: Mutex::new(None),
            stats,
        }
    }

    /// Calls `f` after every commit that grew a log, once it is on disk (the federation
    /// hands new entries to the network without polling).
    pub fn set_listener(&self, f: Box<dyn Fn() + Send>) {
        *self.listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    }

    /// Starts the writer thread (requests queued before are taken as one group).
    pub fn start(self) -> Writer {
        let unstarted = self
            .unstarted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((rx, job)) = unstarted {
            let handle = std::thread::Builder::new()
                .name("palabre-writer".into())
                .spawn(move || job(rx))
                .expect("the OS can start one thread");
            *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        }
        self
    }

    /// Queues items; blocks only while the queue is full.
    pub fn enqueue(&self, items: Vec<CommitItem>) -> Result<Ticket, StoreError> {
        let (reply, rx) = sync_channel::<Reply>(1);
        self.enqueue_with(
            items,
            Box::new(move |result| {
                // A waiter that gave up is not an error of the commit.
                let _ = reply.send(result.map_err(|e| e.to_string()));
            }),
        )?;
        Ok(Ticket { reply: rx })
    }

    /// Queues items unless the queue is full; a full queue gives them back.
    pub fn try_enqueue_with(
        &self,
        items: Vec<CommitItem>,
        answer: Answer,
    ) -> Result<Option<(Vec<CommitItem>, Answer)>, StoreError> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| StoreError::Writer("the writer is closed".into()))?;
        match tx.try_send(Request { items, answer }) {
            Ok(()) => Ok(None),
            Err(TrySendError::Full(r)) => Ok(Some((r.items, r.answer))),
            Err(TrySendError::Disconnected(_)) => {
                Err(StoreError::Writer("the writer stopped".into()))
            }
        }
    }

    /// Queues items and has `answer` called with their outcome, without a thread
    /// waiting for it (an async caller hands over the sending half of a channel).
    /// Blocks only while the queue is full.
    pub fn enqueue_with(&self, items: Vec<CommitItem>, answer: Answer) -> Result<(), StoreError> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| StoreError::Writer("the writer is closed".into()))?;
        tx.send(Request { items, answer })
            .map_err(|_| StoreError::Writer("the writer stopped".into()))
    }

    /// Queues items and waits until they are committed.
    pub fn submit(&self, items: Vec<CommitItem>) -> Result<Committed, StoreError> {
        self.enqueue(items)?.wait()
    }

    pub fn stats(&self) -> &GroupStats {
        &self.stats
    }

    /// Stops taking requests, lets the writer commit what is queued, and waits for it.
    pub fn close(&mut self) {
        self.tx = None;
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            // A panicked writer has nothing left to flush; its waiters already saw the
            // channel close.
            let _ = h.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

fn run(
    storage: &dyn Storage,
    sign_head: &(dyn Fn(TreeHead) -> SignedTreeHead + Send),
    now_ms: &(dyn Fn() -> u64 + Send),
    rx: &Receiver<Request>,
    stats: &GroupStats,
    listener: &Listener,
) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        let mut n_items = group[0].items.len();
        while n_items < MAX_GROUP_ITEMS {
            match rx.try_recv() {
                Ok(r) => {
                    n_items += r.items.len();
                    group.push(r);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let sizes: Vec<usize> = group.iter().map(|r| r.items.len()).collect();
        let mut items = Vec::with_capacity(n_items);
        let mut replies = Vec::with_capacity(group.len());
        for r in group {
            items.extend(r.items);
            replies.push(r.answer);
        }
        let clock = Clock::Live { now_ms: now_ms() };
        match storage.commit(items, clock, sign_head) {
            Ok(outcome) => {
                stats.record(n_items as u64);
                if !outcome.heads.is_empty()
                    && let Some(f) = &*listener.lock().unwrap_or_else(|e| e.into_inner())
                {
                    f();
                }
                let mut results = outcome.results.into_iter();
                for (answer, n) in replies.into_iter().zip(sizes) {
                    let mine = results.by_ref().take(n).collect();
                    answer(Ok(Committed {
                        results: mine,
                        heads: outcome.heads.clone(),
                    }));
                }
            }
            Err(e) => {
                // Every waiter gets the error; the node logs it where it answers them.
                let message = e.to_string();
                for answer in replies {
                    answer(Err(StoreError::Writer(message.clone())));
                }
            }
        }
    }
}
