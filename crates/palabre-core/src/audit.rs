//! The auditor's verification: given what one or several nodes served of a
//! consultation's logs (entries, signed heads, cosignatures), check everything and
//! recount, trusting none of them. Each failure names the rule, the log, the entry and
//! the source that served it. The command-line tool only fetches and prints; all the
//! checking is here, and it calls the same `admit` and `count` as the node.
//!
//! What is checked, in order: every entry decodes under the stateless rules; every
//! signature holds (batch with a strict fallback, on several threads); every signed head
//! and cosignature verifies and matches the entries served; sources agree on their common
//! history; every entry is admissible when the logs are replayed; each participating log
//! has a closing checkpoint backed by a quorum of timely cosignatures; the recount equals
//! the organiser's signed result.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use crate::admission::{Clock, Record, admit};
use crate::counting::{self, LogPrefix};
use crate::crypto::{PublicKey, SignedMessage, verify_many};
use crate::event::{self, Body, Kind, SignedEvent, UnverifiedEvent};
use crate::head::{
    Cosignature, Equivocation, Receipt, SignedTreeHead, closing_quorum, closing_witnesses,
};
use crate::ids::{EventId, Hash};
use crate::ledger::{Ledger, References};
use crate::merkle::{self, MemoryTree};
use crate::purge::{self, Entry, PurgedEntry};
use crate::rejection::Rejection;
use crate::tally::Tally;

/// What one source (a node, a bundle) served of one authority's log.
#[derive(Debug, Clone)]
pub struct LogMaterial {
    pub authority: PublicKey,
    /// Where it came from, to name it in failures (a URL, a file name).
    pub source: String,
    /// Entries from index 0, each exactly as served.
    pub entries: Vec<Vec<u8>>,
    pub heads: Vec<SignedTreeHead>,
    pub cosignatures: Vec<Cosignature>,
}

#[derive(Debug, Clone)]
pub struct AuditInput {
    pub consultation: EventId,
    pub logs: Vec<LogMaterial>,
    /// Proofs of equivocation the sources hold (PROTOCOL.md, "Evidence"); any that
    /// checks and convicts a participating authority fails the audit.
    pub evidence: Vec<Equivocation>,
}

#[derive(Debug, Clone, Copy)]
pub struct AuditOptions {
    /// Threads for signature verification (at least 1).
    pub threads: usize,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions { threads: 1 }
    }
}

/// One thing that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// A stable code (PROTOCOL.md, "Audit rules").
    pub rule: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<PublicKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<EventId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogSummary {
    pub authority: PublicKey,
    pub sources: Vec<String>,
    pub n_entries: u64,
    pub n_heads: u64,
    pub closing_size: Option<u64>,
    pub witnesses: Vec<PublicKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub consultation: EventId,
    pub title: Option<String>,
    pub logs: Vec<LogSummary>,
    pub n_events: u64,
    pub n_ballots_seen: u64,
    pub n_ballots_counted: u64,
    /// The recount.
    pub tally: Option<Tally>,
    /// The organiser's signed result, if the logs hold one.
    pub result: Option<EventId>,
    pub failures: Vec<Failure>,
}

impl AuditReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

struct Fail<'a>(&'a mut Vec<Failure>);

impl Fail<'_> {
    fn push(
        &mut self,
        rule: &'static str,
        authority: Option<PublicKey>,
        index: Option<u64>,
        event: Option<EventId>,
        source: Option<&str>,
        detail: impl Into<String>,
    ) {
        self.0.push(Failure {
            rule,
            authority,
            index,
            event,
            source: source.map(str::to_owned),
            detail: detail.into(),
        });
    }
}

/// One authority's log as the audit reconstructs it.
struct CheckedLog {
    authority: PublicKey,
    sources: Vec<String>,
    /// Decoded entries awaiting their signature check; `None` where decoding failed.
    pending: Vec<Option<Decoded>>,
    /// Decoded and signature-checked entries; `None` where an entry failed.
    events: Vec<Option<Entry>>,
    n_heads: u64,
    cosignatures: Vec<Cosignature>,
}

/// An entry decoded: an event awaiting its signature check, or a tombstone (checked on
/// decoding: one signature, by the log's authority).
enum Decoded {
    Event(UnverifiedEvent),
    Purged(PurgedEntry),
}

pub fn audit(input: &AuditInput, options: AuditOptions) -> AuditReport {
    let mut failures = Vec::new();
    let mut fail = Fail(&mut failures);

    let mut by_authority: BTreeMap<PublicKey, Vec<&LogMaterial>> = BTreeMap::new();
    for m in &input.logs {
        by_authority.entry(m.authority).or_default().push(m);
    }
    let mut logs: Vec<CheckedLog> = by_authority
        .iter()
        .map(|(authority, materials)| check_sources(*authority, materials, options, &mut fail))
        .collect();
    verify_signatures(&mut logs, options, &mut fail);

    // Replay: references resolve across all logs; state comes from each log in order.
    let mut refs = References::default();
    for log in &logs {
        for e in log.events.iter().flatten() {
            match e {
                Entry::Event(e) => refs.note(&log.authority, e),
                Entry::Purged(p) => refs.note_purged(p.body()),
            }
        }
    }
    let refs = Arc::new(refs);
    let mut ledger = Ledger::with_references(refs.clone());
    // admitted[authority] = (index, event) of entries that passed admission
    let mut admitted: BTreeMap<PublicKey, Vec<(u64, Entry)>> = BTreeMap::new();
    let mut results: Vec<(PublicKey, u64, SignedEvent)> = Vec::new();
    // Tombstones served, each to be explained by a purge of its own log.
    let mut tombstones: Vec<(PublicKey, u64, PurgedEntry)> = Vec::new();
    let mut purges: BTreeSet<(PublicKey, EventId)> = BTreeSet::new();
    for log in &logs {
        let list = admitted.entry(log.authority).or_default();
        for (index, slot) in log.events.iter().enumerate() {
            let index = index as u64;
            let event = match slot {
                // Keep the tree in step with the served history even for bad entries.
                None => continue,
                Some(Entry::Purged(p)) => {
                    tombstones.push((log.authority, index, p.clone()));
                    list.push((index, Entry::Purged(p.clone())));
                    ledger.apply_entry(&log.authority, Entry::Purged(p.clone()));
                    continue;
                }
                Some(Entry::Event(event)) => event,
            };
            if event.kind() == Kind::Result {
                // Judged at the end, when every log's checkpoint has been replayed.
                results.push((log.authority, index, event.clone()));
                ledger.apply(&log.authority, event.clone());
                continue;
            }
            match admit(&ledger, &log.authority, event, Clock::Replay).into_result() {
                Ok(()) => {
                    if let Body::Moderation(b) = event.body()
                        && b.tombstone.is_some()
                    {
                        purges.insert((log.authority, b.target));
                    }
                    list.push((index, Entry::Event(event.clone())));
                    ledger.apply(&log.authority, event.clone());
                }
                Err(r) => {
                    fail.push(
                        "inadmissible",
                        Some(log.authority),
                        Some(index),
                        Some(event.id()),
                        None,
                        format!("{} ({})", r, r.code()),
                    );
                    if r != Rejection::Duplicate {
                        ledger.apply(&log.authority, event.clone());
                    }
                }
            }
        }
    }

    // A tombstone withholds an entry's text: only its own log's public purge, admitted
    // above (the item hidden, the tombstone exact), allows that.
    for (authority, index, p) in &tombstones {
        if !purges.contains(&(*authority, p.body().id)) {
            fail.push(
                "unexplained_purge",
                Some(*authority),
                Some(*index),
                Some(p.body().id),
                None,
                "this entry was served as a tombstone, but its log holds no admissible purge of it",
            );
        }
    }

    let mut report = AuditReport {
        consultation: input.consultation,
        title: None,
        logs: Vec::new(),
        n_events: logs.iter().map(|l| l.events.len() as u64).sum(),
        n_ballots_seen: 0,
        n_ballots_counted: 0,
        tally: None,
        result: None,
        failures: Vec::new(),
    };
    let Some(consultation) = refs.consultations.get(&input.consultation).cloned() else {
        fail.push(
            "missing_consultation",
            None,
            None,
            Some(input.consultation),
            None,
            "no log served holds this consultation",
        );
        report.failures = failures;
        return report;
    };
    report.title = Some(consultation.body.title.clone());

    // A participating authority proven to have signed two histories.
    for e in &input.evidence {
        let authority = e.authority();
        if consultation.participates(&authority) && e.check().is_ok() {
            fail.push(
                "equivocation",
                Some(authority),
                Some(e.first.head.size.min(e.second.head.size)),
                None,
                None,
                format!(
                    "this authority signed two heads that no history joins (sizes {} and {}, roots {} and {})",
                    e.first.head.size, e.second.head.size, e.first.head.root, e.second.head.root
                ),
            );
        }
    }

    // Closing checkpoints and their quorum.
    let participants = &consultation.body.authorities;
    let quorum = closing_quorum(participants.len());
    let mut prefixes: Vec<(PublicKey, Vec<Entry>)> = Vec::new();
    for authority in participants {
        let log = logs.iter().find(|l| l.authority == *authority);
        let mut summary = LogSummary {
            authority: *authority,
            sources: log.map(|l| l.sources.clone()).unwrap_or_default(),
            n_entries: log.map_or(0, |l| l.events.len() as u64),
            n_heads: log.map_or(0, |l| l.n_heads),
            closing_size: None,
            witnesses: Vec::new(),
        };
        let Some(log) = log else {
            fail.push(
                "missing_log",
                Some(*authority),
                None,
                None,
                None,
                "no source served this participating authority's log",
            );
            report.logs.push(summary);
            continue;
        };
        let Some((size, root)) = ledger.closing(authority, &consultation.id) else {
            fail.push(
                "missing_checkpoint",
                Some(*authority),
                None,
                None,
                None,
                "this log has no closing checkpoint for the consultation",
            );
            report.logs.push(summary);
            continue;
        };
        summary.closing_size = Some(size);
        let witnesses = closing_witnesses(
            authority,
            size,
            &root,
            participants,
            consultation.body.vote_close_ms,
            &log.cosignatures,
        );
        if witnesses.len() + 1 < quorum {
            fail.push(
                "checkpoint_no_quorum",
                Some(*authority),
                Some(size),
                None,
                None,
                format!(
                    "the closing head (size {size}) has {} timely cosignature(s) from participating authorities; {} are needed",
                    witnesses.len(),
                    quorum - 1
                ),
            );
        }
        summary.witnesses = witnesses;
        report.logs.push(summary);
        let entries: Vec<Entry> = admitted
            .get(authority)
            .map(|list| {
                list.iter()
                    .filter(|(i, _)| *i < size)
                    .map(|(_, e)| e.clone())
                    .collect()
            })
            .unwrap_or_default();
        for (i, e) in admitted.get(authority).into_iter().flatten() {
            let Some(e) = e.event() else { continue };
            if *i >= size
                && matches!(e.body(), Body::Ballot(b) if b.consultation == consultation.id)
            {
                fail.push(
                    "ballot_after_checkpoint",
                    Some(*authority),
                    Some(*i),
                    Some(e.id()),
                    None,
                    "a ballot was logged after this log's closing checkpoint; it does not count",
                );
            }
        }
        prefixes.push((*authority, entries));
    }
    let views: Vec<LogPrefix<'_>> = prefixes
        .iter()
        .map(|(a, entries)| LogPrefix {
            authority: *a,
            entries,
        })
        .collect();
    let counted = counting::count(&consultation, &views);
    let tally = counted.tally(&consultation);
    report.n_ballots_seen = counted.n_ballots_seen;
    report.n_ballots_counted = counted.ballots.len() as u64;

    // The organiser's result.
    let mut result_found = false;
    for (log, index, event) in &results {
        let Body::Result(body) = event.body() else {
            continue;
        };
        if body.consultation != consultation.id {
            continue;
        }
        if let Err(r) =
            admit(&ledger_without(&ledger, event), log, event, Clock::Replay).into_result()
        {
            fail.push(
                "inadmissible",
                Some(*log),
                Some(*index),
                Some(event.id()),
                None,
                format!("{} ({})", r, r.code()),
            );
            continue;
        }
        result_found = true;
        report.result = Some(event.id());
        if body.tally != tally {
            fail.push(
                "result_mismatch",
                Some(*log),
                Some(*index),
                Some(event.id()),
                None,
                "the organiser's signed result differs from the recount of the counted ballots",
            );
        }
    }
    if !result_found && !prefixes.is_empty() && prefixes.len() == participants.len() {
        fail.push(
            "missing_result",
            Some(consultation.organiser),
            None,
            None,
            None,
            "every log is closed but the organiser's log holds no valid result",
        );
    }
    report.tally = Some(tally);
    report.failures = failures;
    report
}

/// The ledger as it was before `event` was applied, for judging a deferred result: only
/// "already recorded" differs, so a view that forgets this one id is enough.
fn ledger_without<'a>(ledger: &'a Ledger, event: &SignedEvent) -> Forgetting<'a> {
    Forgetting {
        ledger,
        id: event.id(),
    }
}

struct Forgetting<'a> {
    ledger: &'a Ledger,
    id: EventId,
}

impl Record for Forgetting<'_> {
    fn contains(&self, id: &EventId) -> bool {
        *id != self.id && self.ledger.contains(id)
    }
    fn is_declared(&self, a: &PublicKey) -> bool {
        self.ledger.is_declared(a)
    }
    fn consultation(&self, id: &EventId) -> Option<crate::admission::ConsultationView> {
        self.ledger.consultation(id)
    }
    fn proposal(&self, id: &EventId) -> Option<crate::admission::ProposalView> {
        self.ledger.proposal(id)
    }
    fn target(&self, id: &EventId) -> Option<(Kind, Option<EventId>)> {
        self.ledger.target(id)
    }
    fn credential(
        &self,
        i: &PublicKey,
        s: &PublicKey,
    ) -> Option<crate::admission::CredentialState> {
        self.ledger.credential(i, s)
    }
    fn closing(&self, a: &PublicKey, c: &EventId) -> Option<(u64, Hash)> {
        self.ledger.closing(a, c)
    }
    fn has_result(&self, c: &EventId) -> bool {
        // Only the first result of a consultation counts; later ones are refused.
        self.ledger.has_result(c) && self.ledger.first_result(c) != Some(self.id)
    }
    fn log_size(&self, a: &PublicKey) -> u64 {
        self.ledger.log_size(a)
    }
    fn root_at(&self, a: &PublicKey, size: u64) -> Option<Hash> {
        self.ledger.root_at(a, size)
    }
    fn staff(&self, a: &PublicKey, key: &PublicKey) -> Option<crate::event::StaffRole> {
        self.ledger.staff(a, key)
    }
    fn held(&self, id: &EventId) -> Option<(PublicKey, Entry)> {
        self.ledger.held(id)
    }
    fn moderated(&self, a: &PublicKey, target: &EventId) -> Option<crate::event::ModerationAction> {
        self.ledger.moderated(a, target)
    }
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
    // Heads from every source must agree with every other source's history.
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
    pub source: String,
    pub entry: Vec<u8>,
    pub inclusion: Vec<Hash>,
    pub latest: SignedTreeHead,
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

/// The audit bundle: one JSON file with everything an audit needs (PROTOCOL.md, "Audit
/// bundle"). Entries are embedded as raw JSON text, byte for byte, and read back as such.
pub mod bundle {
    use serde::{Deserialize, Serialize};
    use serde_json::value::RawValue;

    use super::{AuditInput, LogMaterial};
    use crate::crypto::PublicKey;
    use crate::head::{Cosignature, Equivocation, SignedTreeHead};
    use crate::ids::EventId;

    pub const VERSION: u32 = 1;

    #[derive(Serialize)]
    struct Out<'a> {
        palabre_bundle: u32,
        consultation: EventId,
        logs: Vec<LogOut<'a>>,
        evidence: &'a [Equivocation],
    }

    #[derive(Serialize)]
    struct LogOut<'a> {
        authority: PublicKey,
        source: &'a str,
        entries: Vec<&'a RawValue>,
        heads: &'a [SignedTreeHead],
        cosignatures: &'a [Cosignature],
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct In<'a> {
        palabre_bundle: u32,
        consultation: EventId,
        #[serde(borrow)]
        logs: Vec<LogIn<'a>>,
        /// Absent from bundles written before evidence was exchanged.
        #[serde(default)]
        evidence: Vec<Equivocation>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct LogIn<'a> {
        authority: PublicKey,
        source: String,
        #[serde(borrow)]
        entries: Vec<&'a RawValue>,
        heads: Vec<SignedTreeHead>,
        cosignatures: Vec<Cosignature>,
    }

    /// The bundle of `input`. Fails only if an entry is not JSON text (an entry that
    /// could never have been admitted).
    pub fn to_json(input: &AuditInput) -> Result<Vec<u8>, String> {
        let mut logs = Vec::with_capacity(input.logs.len());
        for m in &input.logs {
            let entries = m
                .entries
                .iter()
                .map(|e| serde_json::from_slice::<&RawValue>(e).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            logs.push(LogOut {
                authority: m.authority,
                source: &m.source,
                entries,
                heads: &m.heads,
                cosignatures: &m.cosignatures,
            });
        }
        serde_json::to_vec(&Out {
            palabre_bundle: VERSION,
            consultation: input.consultation,
            logs,
            evidence: &input.evidence,
        })
        .map_err(|e| e.to_string())
    }

    /// Reads a bundle; `name` (a file name) is prefixed to each log's source.
    pub fn from_json(bytes: &[u8], name: &str) -> Result<AuditInput, String> {
        let b: In<'_> = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a Palabre audit bundle: {e}"))?;
        if b.palabre_bundle != VERSION {
            return Err(format!(
                "bundle version {} (this reads {VERSION})",
                b.palabre_bundle
            ));
        }
        Ok(AuditInput {
            consultation: b.consultation,
            logs: b
                .logs
                .into_iter()
                .map(|l| LogMaterial {
                    authority: l.authority,
                    source: format!("{name} ({})", l.source),
                    entries: l
                        .entries
                        .iter()
                        .map(|e| e.get().as_bytes().to_vec())
                        .collect(),
                    heads: l.heads,
                    cosignatures: l.cosignatures,
                })
                .collect(),
            evidence: b.evidence,
        })
    }
}
