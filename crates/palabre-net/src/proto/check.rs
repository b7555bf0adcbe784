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

/// Whether every entry of `authority`'s log decodes and its signature verifies (an
/// event's by its author, a purged entry's tombstone by the authority), checked on every
/// core (a page is thousands of signatures; this is pure computation, so the state
/// machine stays free of IO and deterministic).
pub(super) fn all_verify(authority: &PublicKey, entries: &[Vec<u8>]) -> bool {
    let ok = |e: &Vec<u8>| Entry::from_bytes(e.clone(), authority).is_ok();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || entries.len() < 64 {
        return entries.iter().all(ok);
    }
    let per = entries.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = entries
            .chunks(per)
            .map(|chunk| scope.spawn(move || chunk.iter().all(ok)))
            .collect();
        parts.into_iter().all(|p| p.join().unwrap_or(false))
    })
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
            // Requests, answers and hellos are point to point, never gossiped.
            Wire::GetEntries { .. }
            | Wire::Entries { .. }
            | Wire::GetConsistency { .. }
            | Wire::Consistency { .. }
            | Wire::GetCosignatures { .. }
            | Wire::Cosignatures { .. }
            | Wire::GetEvidence { .. }
            | Wire::EvidenceList { .. }
            | Wire::Hello { .. } => Verdict::Reject,
        }
    }
}
