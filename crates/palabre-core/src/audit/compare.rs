//! Checks that compare one download with another: whether a newer download only
//! appends to an older one (`extends`), and whether a resident's receipt is borne out
//! by what nodes serve (`check_receipt`). Fetching what they compare is the caller's.

use super::{AuditInput, Fail, Failure};
use crate::head::{Receipt, SignedTreeHead};
use crate::ids::{EventId, Hash};
use crate::merkle::{self, MemoryTree};
use crate::purge::{self, Entry};

/// Whether `new` only appends to `old` (Belenios' `verify-diff`): the same consultation,
/// every log of `old` present in `new` with `old`'s entries as a byte-for-byte prefix,
/// and every head of `old` still the root of that prefix. Returns what does not hold.
pub fn extends(old: &AuditInput, new: &AuditInput) -> Vec<Failure> {
    let mut failures = Vec::new();
    let mut fail = Fail(&mut failures);
    if old.consultation != new.consultation {
        fail.push(
            "different_consultation",
            None,
            None,
            Some(new.consultation),
            None,
            format!(
                "the old material is of consultation {}, the new of {}",
                old.consultation, new.consultation
            ),
        );
        return failures;
    }
    for before in &old.logs {
        let Some(after) = new
            .logs
            .iter()
            .filter(|m| m.authority == before.authority)
            .max_by_key(|m| m.entries.len())
        else {
            fail.push(
                "missing_log",
                Some(before.authority),
                None,
                None,
                Some(&before.source),
                "the new material no longer holds this log",
            );
            continue;
        };
        // Equal bytes, or the new entry is the tombstone of the old one (a purge).
        let kept = |i: usize| {
            after.entries.get(i).is_some_and(|new| {
                *new == before.entries[i]
                    || (purge::is_tombstone(new)
                        && purge::stored_leaf(new) == purge::stored_leaf(&before.entries[i]))
            })
        };
        if let Some(i) = (0..before.entries.len()).find(|&i| !kept(i)) {
            fail.push(
                "not_append_only",
                Some(before.authority),
                Some(i as u64),
                None,
                Some(&after.source),
                if i < after.entries.len() {
                    "an entry of the old material was changed in the new one"
                } else {
                    "the new material holds fewer entries than the old one"
                },
            );
            continue;
        }
        let mut tree = MemoryTree::new();
        for e in &after.entries {
            tree.push(purge::stored_leaf(e));
        }
        for h in &before.heads {
            let root = merkle::root_at(&tree, h.head.size).ok();
            if root != Some(h.head.root) {
                fail.push(
                    "not_append_only",
                    Some(before.authority),
                    Some(h.head.size),
                    None,
                    Some(&after.source),
                    format!(
                        "the new entries do not reach the old signed root {} at size {}",
                        h.head.root, h.head.size
                    ),
                );
            }
        }
    }
    failures
}

/// What one node served to check a receipt against: the entry at the receipt's index,
/// its inclusion proof in the tree of the receipt's size, the node's latest signed head
/// of that log, and the consistency proof from the receipt's size to that head's.
#[derive(Debug, Clone)]
pub struct ReceiptEvidence {
    /// The node that served it (a URL), to name it in failures.
    pub source: String,
    /// The entry at the receipt's index, exactly as served.
    pub entry: Vec<u8>,
    /// Its inclusion proof in the tree of the receipt's size.
    pub inclusion: Vec<Hash>,
    /// The node's latest signed head of that log.
    pub latest: SignedTreeHead,
    /// The consistency proof from the receipt's size to `latest`'s.
    pub consistency: Vec<Hash>,
}

/// Checks a resident's receipt: its signatures, then against each node that the entry
/// it names sits at its index under the receipt's signed root, and that the node's
/// latest head extends that root (so the node cannot have dropped or rewritten it).
pub fn check_receipt(receipt: &Receipt, evidence: &[ReceiptEvidence]) -> Vec<Failure> {
    let mut failures = Vec::new();
    let mut fail = Fail(&mut failures);
    let body = &receipt.receipt;
    let head = body.tree_head.head;
    let authority = Some(head.authority);
    if let Err(e) = receipt.verify() {
        fail.push(
            "bad_receipt",
            authority,
            Some(body.index),
            Some(body.event_id),
            None,
            e.to_string(),
        );
        return failures;
    }
    for ev in evidence {
        let source = Some(ev.source.as_str());
        // A purged entry is served as its tombstone, signed by the log's authority.
        let (id, leaf) = match Entry::from_bytes(ev.entry.clone(), &head.authority) {
            Ok(Entry::Purged(p)) => (p.body().id, p.body().leaf),
            _ => (
                EventId::of_signed_bytes(&ev.entry),
                merkle::leaf_hash(&ev.entry),
            ),
        };
        if id != body.event_id {
            fail.push(
                "receipt_entry_mismatch",
                authority,
                Some(body.index),
                Some(body.event_id),
                source,
                "the entry served at the receipt's index is another event",
            );
            continue;
        }
        if merkle::verify_inclusion(&leaf, body.index, head.size, &ev.inclusion, &head.root)
            .is_err()
        {
            fail.push(
                "receipt_not_included",
                authority,
                Some(body.index),
                Some(body.event_id),
                source,
                format!(
                    "no valid inclusion proof under the receipt's root at size {}",
                    head.size
                ),
            );
            continue;
        }
        let latest = ev.latest.head;
        if latest.authority != head.authority || ev.latest.verify().is_err() {
            fail.push(
                "bad_head_signature",
                authority,
                Some(latest.size),
                None,
                source,
                "the node's latest head is not validly signed by this log's authority",
            );
            continue;
        }
        let consistent = if latest.size == head.size {
            latest.root == head.root
        } else {
            latest.size > head.size
                && merkle::verify_consistency(
                    head.size,
                    latest.size,
                    &head.root,
                    &latest.root,
                    &ev.consistency,
                )
                .is_ok()
        };
        if !consistent {
            fail.push(
                "receipt_inconsistent",
                authority,
                Some(latest.size),
                Some(body.event_id),
                source,
                format!(
                    "the node's latest head (size {}) does not extend the receipt's (size {})",
                    latest.size, head.size
                ),
            );
        }
    }
    failures
}
