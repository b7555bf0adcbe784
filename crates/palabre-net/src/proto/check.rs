//! Checking before trusting: gossip validation (whether a message may be relayed, the
//! same checks as when it is handled) and the signature check of fetched entries, which
//! the state machine is given rather than runs on threads of its own, so that it stays
//! deterministic (the shell gives it one that uses every core).

use palabre_core::crypto::PublicKey;
use palabre_core::purge::Entry;

use super::{Node, Wire};

/// What gossip validation says of a message: relay it, drop it and blame the sender, or
/// drop it quietly (not ours to judge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Reject,
    Ignore,
}

/// Checks pages of fetched entries: whether every entry of `authority`'s log decodes and
/// its signature verifies (an event's by its author, a purged entry's tombstone by the
/// authority, `Entry::from_bytes`). The state machine is given one, so that it spawns no
/// thread and stays deterministic: [`InOrder`] by default (the simulation), one that
/// spreads a page over every core in the shell.
pub trait Verifier: Send + std::fmt::Debug {
    /// Whether every entry of the page holds.
    fn all_verify(&self, authority: &PublicKey, entries: &[Vec<u8>]) -> bool;
}

/// Checks a page entry after entry, on the caller's thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct InOrder;

impl Verifier for InOrder {
    fn all_verify(&self, authority: &PublicKey, entries: &[Vec<u8>]) -> bool {
        entries.iter().all(|e| entry_holds(authority, e))
    }
}

/// Whether one entry of `authority`'s log decodes and its signature verifies.
pub fn entry_holds(authority: &PublicKey, entry: &[u8]) -> bool {
    Entry::from_bytes(entry.to_vec(), authority).is_ok()
}

impl Node {
    /// Whether a message published on gossip may be relayed (gossipsub's validation:
    /// checked before anyone forwards it). The same checks as when it is handled.
    pub fn check(&self, wire: &Wire) -> Verdict {
        let federated = |k: &PublicKey| self.federation.contains(k);
        match wire {
            Wire::Head { head } if !federated(&head.head.authority) => Verdict::Ignore,
            Wire::Head { head } if head.verify().is_err() => Verdict::Reject,
            Wire::Cosignature { cosignature } => {
                let c = &cosignature.cosigned;
                if !federated(&c.head.authority) || !federated(&c.witness) {
                    Verdict::Ignore
                } else if cosignature.verify().is_err() {
                    Verdict::Reject
                } else {
                    Verdict::Accept
                }
            }
            Wire::Evidence { evidence } if !federated(&evidence.authority()) => Verdict::Ignore,
            Wire::Evidence { evidence } if evidence.check().is_err() => Verdict::Reject,
            Wire::Head { .. } | Wire::Evidence { .. } => Verdict::Accept,
            // Requests, answers and hellos are point to point, never gossiped (they have
            // no `Wire::topic`, where the list of what is gossip is kept).
            _ => {
                debug_assert!(wire.topic().is_none());
                Verdict::Reject
            }
        }
    }
}
