//! The audit's first phases: what each source served of each log, checked against the
//! signed heads and against the other sources; every entry decoded under the stateless
//! rules; every signature verified (batched, on several threads). What the entries mean
//! is left to the replay (`replay.rs`).

use std::collections::{BTreeMap, BTreeSet};

use super::{AuditOptions, Fail, LogMaterial};
use crate::crypto::{PublicKey, SignedMessage, verify_many};
use crate::event::{self, UnverifiedEvent};
use crate::head::Cosignature;
use crate::ids::EventId;
use crate::merkle::{self, MemoryTree};
use crate::purge::{self, Entry, PurgedEntry};
use crate::rejection::Rejection;

/// One authority's log as the audit reconstructs it.
pub(super) struct CheckedLog {
    pub(super) authority: PublicKey,
    pub(super) sources: Vec<String>,
    /// Decoded entries awaiting their signature check; `None` where decoding failed.
    pending: Vec<Option<Decoded>>,
    /// Decoded and signature-checked entries; `None` where an entry failed.
    pub(super) events: Vec<Option<Entry>>,
    pub(super) n_heads: u64,
    pub(super) cosignatures: Vec<Cosignature>,
}

/// An entry decoded: an event awaiting its signature check, or a tombstone (checked on
/// decoding: one signature, by the log's authority).
enum Decoded {
    Event(UnverifiedEvent),
    Purged(PurgedEntry),
}

/// Every log served, one per authority (in key order), with its entries decoded and
/// their signatures checked.
pub(super) fn check_logs(
    logs: &[LogMaterial],
    options: AuditOptions,
    fail: &mut Fail<'_>,
) -> Vec<CheckedLog> {
    let mut by_authority: BTreeMap<PublicKey, Vec<&LogMaterial>> = BTreeMap::new();
    for m in logs {
        by_authority.entry(m.authority).or_default().push(m);
    }
    let mut checked: Vec<CheckedLog> = by_authority
        .iter()
        .map(|(authority, materials)| check_sources(*authority, materials, options, fail))
        .collect();
    verify_signatures(&mut checked, options, fail);
    checked
}

/// Checks what each source served of one authority's log against its signed heads and
/// against the other sources, and picks the history to replay.
fn check_sources(
    authority: PublicKey,
    materials: &[&LogMaterial],
    options: AuditOptions,
    fail: &mut Fail<'_>,
) -> CheckedLog {
    let trees: Vec<MemoryTree> = materials
        .iter()
        .map(|m| {
            let mut t = MemoryTree::new();
            for e in &m.entries {
                t.push(purge::stored_leaf(e));
            }
            t
        })
        .collect();
    let mut n_heads = 0;
    let mut good = vec![true; materials.len()];
    for (k, m) in materials.iter().enumerate() {
        for h in &m.heads {
            n_heads += 1;
            if h.head.authority != authority {
                fail.push(
                    "head_wrong_authority",
                    Some(authority),
                    None,
                    None,
                    Some(&m.source),
                    format!("a head of {} was served as this log's", h.head.authority),
                );
                continue;
            }
            if h.verify().is_err() {
                fail.push(
                    "bad_head_signature",
                    Some(authority),
                    Some(h.head.size),
                    None,
                    Some(&m.source),
                    "a signed tree head does not verify",
                );
                continue;
            }
            if h.head.size > trees[k].size() {
                good[k] = false;
                fail.push(
                    "head_beyond_entries",
                    Some(authority),
                    Some(h.head.size),
                    None,
                    Some(&m.source),
                    format!(
                        "the source signed a head of size {} but served only {} entries",
                        h.head.size,
                        trees[k].size()
                    ),
                );
            } else if merkle::root_at(&trees[k], h.head.size).ok() != Some(h.head.root) {
                good[k] = false;
                fail.push("head_mismatch", Some(authority), Some(h.head.size), None, Some(&m.source), format!("the entries served do not hash to the signed root {} at size {}: entries were altered, removed, reordered or inserted", h.head.root, h.head.size));
            }
        }
        for c in &m.cosignatures {
            if c.verify().is_err() {
                fail.push(
                    "bad_cosignature",
                    Some(authority),
                    Some(c.cosigned.head.size),
                    None,
                    Some(&m.source),
                    format!("the cosignature by {} does not verify", c.cosigned.witness),
                );
            }
        }
    }
    check_agreement(authority, materials, &trees, &good, fail);
    let reference = (0..materials.len())
        .max_by_key(|k| (good[*k], trees[*k].size()))
        .expect("an authority appears only with at least one material");
    let decoded = decode_all(&authority, &materials[reference].entries, options.threads);
    let events = materials[reference]
        .entries
        .iter()
        .zip(decoded)
        .enumerate()
        .map(|(i, (bytes, d))| match d {
            Ok(u) => Some(u),
            Err(r) => {
                fail.push(
                    "entry_invalid",
                    Some(authority),
                    Some(i as u64),
                    Some(EventId::of_signed_bytes(bytes)),
                    Some(&materials[reference].source),
                    format!("{} ({})", r, r.code()),
                );
                None
            }
        })
        .collect::<Vec<Option<Decoded>>>();
    let sources: BTreeSet<String> = materials.iter().map(|m| m.source.clone()).collect();
    let cosignatures = materials
        .iter()
        .flat_map(|m| m.cosignatures.iter().copied())
        .collect();
    CheckedLog {
        authority,
        sources: sources.into_iter().collect(),
        pending: events,
        events: Vec::new(),
        n_heads,
        cosignatures,
    }
}

/// Heads from every source must agree with every other source's history (a source whose
/// own heads fail is named for those, not here).
fn check_agreement(
    authority: PublicKey,
    materials: &[&LogMaterial],
    trees: &[MemoryTree],
    good: &[bool],
    fail: &mut Fail<'_>,
) {
    for (k, m) in materials.iter().enumerate() {
        for (j, other) in materials.iter().enumerate() {
            if j == k {
                continue;
            }
            for h in m
                .heads
                .iter()
                .filter(|h| h.head.authority == authority && h.verify().is_ok())
            {
                if h.head.size <= trees[j].size()
                    && merkle::root_at(&trees[j], h.head.size).ok() != Some(h.head.root)
                    && good[j]
                {
                    fail.push("inconsistent_sources", Some(authority), Some(h.head.size), None, Some(&other.source), format!("{} serves a history that contradicts a head signed by the authority and served by {}: root {} at size {}", other.source, m.source, h.head.root, h.head.size));
                }
            }
        }
    }
}

/// Decodes every entry, in order, on `threads` threads (decoding checks each author's
/// key, a scalar multiplication as dear as a signature check).
fn decode_all(
    authority: &PublicKey,
    entries: &[Vec<u8>],
    threads: usize,
) -> Vec<Result<Decoded, Rejection>> {
    let per_thread = entries.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = entries
            .chunks(per_thread)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|bytes| {
                            if purge::is_tombstone(bytes) {
                                match Entry::from_bytes(bytes.clone(), authority)? {
                                    Entry::Purged(p) => Ok(Decoded::Purged(p)),
                                    Entry::Event(_) => unreachable!("a tombstone decodes as one"),
                                }
                            } else {
                                event::decode(bytes.clone()).map(Decoded::Event)
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("decoding threads do not panic"))
            .collect()
    })
}

/// Verifies every event signature in parallel chunks; failed entries become `None`.
fn verify_signatures(logs: &mut [CheckedLog], options: AuditOptions, fail: &mut Fail<'_>) {
    const CHUNK: usize = 256;
    let threads = options.threads.max(1);
    for log in logs.iter_mut() {
        let pending = std::mem::take(&mut log.pending);
        let items: Vec<(usize, &UnverifiedEvent)> = pending
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match d.as_ref()? {
                Decoded::Event(u) => Some((i, u)),
                Decoded::Purged(_) => None,
            })
            .collect();
        let chunks: Vec<&[(usize, &UnverifiedEvent)]> = items.chunks(CHUNK).collect();
        let per_thread = chunks.len().div_ceil(threads).max(1);
        let mut verdicts: Vec<bool> = Vec::with_capacity(items.len());
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .chunks(per_thread)
                .map(|group| {
                    scope.spawn(move || {
                        let mut out = Vec::new();
                        for chunk in group {
                            let batch: Vec<SignedMessage<'_>> = chunk
                                .iter()
                                .map(|(_, u)| SignedMessage {
                                    message: &u.message,
                                    key: &u.event.author,
                                    sig: &u.sig,
                                })
                                .collect();
                            out.extend(verify_many(&batch));
                        }
                        out
                    })
                })
                .collect();
            for h in handles {
                verdicts.extend(h.join().expect("verification threads do not panic"));
            }
        });
        let good: BTreeSet<usize> = items
            .iter()
            .zip(verdicts.iter())
            .filter(|(_, ok)| **ok)
            .map(|((i, _), _)| *i)
            .collect();
        drop(items);
        log.events = pending
            .into_iter()
            .enumerate()
            .map(|(i, d)| {
                let u = match d? {
                    Decoded::Purged(p) => return Some(Entry::Purged(p)),
                    Decoded::Event(u) => u,
                };
                if good.contains(&i) {
                    Some(Entry::Event(u.into_verified_unchecked()))
                } else {
                    let id = EventId::of_signed_bytes(&u.bytes);
                    fail.push(
                        "bad_signature",
                        Some(log.authority),
                        Some(i as u64),
                        Some(id),
                        None,
                        "the event's signature does not verify",
                    );
                    None
                }
            })
            .collect();
    }
}
