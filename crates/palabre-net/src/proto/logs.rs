//! What the state machine reads of the logs it holds: the node's store, through this
//! port. The state machine keeps no log in memory — only each log's size, the right edge
//! of its tree, its heads, and the entries in flight (a bounded window: pages fetched
//! and checked that the node has not stored yet, and those awaiting a signed root). To
//! serve a page, prove consistency or judge a head against what it holds, it reads the
//! store. Writing is the node's (core's admission, inside the store); the node says what
//! it wrote with `Input::Written`.

use std::sync::Arc;

use palabre_core::crypto::PublicKey;
use palabre_core::ids::Hash;
use palabre_store::Storage;

/// The logs as the node's store holds them (reads only; a read that fails is treated
/// as "not held": the asker asks elsewhere, a head is judged later).
pub trait Logs: Send {
    /// Entries `start..end` of `log`, exactly as stored (fewer if the log is shorter).
    fn entries(&self, log: &PublicKey, start: u64, end: u64) -> Vec<Vec<u8>>;
    /// The root of the first `size` entries of `log`.
    fn root_at(&self, log: &PublicKey, size: u64) -> Option<Hash>;
    /// The RFC 9162 consistency proof between sizes `from` and `to` of `log`.
    fn consistency_proof(&self, log: &PublicKey, from: u64, to: u64) -> Option<Vec<Hash>>;
}

/// Any store of the storage trait (sled on disk, or the memory store) is read as is.
impl<S: Storage + ?Sized> Logs for Arc<S> {
    fn entries(&self, log: &PublicKey, start: u64, end: u64) -> Vec<Vec<u8>> {
        Storage::entries(&**self, log, start, end).unwrap_or_else(|e| {
            tracing::warn!("reading entries {start}..{end} of {log}: {e}");
            Vec::new()
        })
    }

    fn root_at(&self, log: &PublicKey, size: u64) -> Option<Hash> {
        palabre_core::record::Record::root_at(&**self, log, size)
    }

    fn consistency_proof(&self, log: &PublicKey, from: u64, to: u64) -> Option<Vec<Hash>> {
        Storage::consistency_proof(&**self, log, from, to).ok()
    }
}

/// The port as the state machine holds it (a store says nothing of itself in `Debug`).
pub(super) struct Port(pub(super) Box<dyn Logs>);

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Logs")
    }
}
