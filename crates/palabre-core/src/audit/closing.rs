//! The audit's last phases, on the consultation found in the logs: proofs of
//! equivocation against its participants; each participating log's closing checkpoint
//! and its quorum of timely cosignatures; the recount of each log's counted prefix; the
//! organiser's signed result against that recount. The entries come already replayed
//! (`replay.rs`); the counting rule itself is `counting`'s.

use crate::counting::{self, Counted, LogPrefix};
use crate::crypto::PublicKey;
use crate::event::{Body, Kind};
use crate::head::{Equivocation, closing_quorum, closing_witnesses};
use crate::purge::Entry;
use crate::record::Record;
use crate::tally::Tally;
use crate::view::ConsultationView;

use super::replay::{Replay, admit_result};
use super::sources::CheckedLog;
use super::{AuditReport, Fail, LogSummary, ProposalSummary};

/// A participating authority proven to have signed two histories.
pub(super) fn check_evidence(
    evidence: &[Equivocation],
    consultation: &ConsultationView,
    fail: &mut Fail<'_>,
) {
    for e in evidence {
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
}

/// One participating log's counted prefix: the admitted entries below its checkpoint,
/// or, while it has none, all of them (a running count).
pub(super) struct Prefix {
    authority: PublicKey,
    entries: Vec<Entry>,
    pub(super) closed: bool,
}

/// Each participating log's closing checkpoint and quorum, summarised in `report`;
/// returns the counted (or running) prefix of every log served.
pub(super) fn close_logs(
    consultation: &ConsultationView,
    logs: &[CheckedLog],
    replay: &Replay,
    report: &mut AuditReport,
    fail: &mut Fail<'_>,
) -> Vec<Prefix> {
    let mut prefixes = Vec::new();
    for authority in &consultation.body.authorities {
        let log = logs.iter().find(|l| l.authority == *authority);
        let mut summary = LogSummary {
            authority: *authority,
            name: declared_name(replay, authority),
            sources: log.map(|l| l.sources.clone()).unwrap_or_default(),
            n_entries: log.map_or(0, |l| l.events.len() as u64),
            n_heads: log.map_or(0, |l| l.n_heads),
            n_outside: replay.outside.get(authority).copied().unwrap_or(0),
            closing_size: None,
            witnesses: Vec::new(),
        };
        if let Some(log) = log {
            prefixes.push(close_log(consultation, log, replay, &mut summary, fail));
        } else {
            fail.push(
                "missing_log",
                Some(*authority),
                None,
                None,
                None,
                "no source served this participating authority's log",
            );
        }
        report.n_outside += summary.n_outside;
        report.logs.push(summary);
    }
    prefixes
}

/// One participating log: its checkpoint, the quorum behind it, the ballots after it;
/// its counted prefix (everything admitted, while it has no checkpoint).
fn close_log(
    consultation: &ConsultationView,
    log: &CheckedLog,
    replay: &Replay,
    summary: &mut LogSummary,
    fail: &mut Fail<'_>,
) -> Prefix {
    let authority = &log.authority;
    let participants = &consultation.body.authorities;
    let admitted = replay
        .admitted
        .get(authority)
        .map_or(&[][..], Vec::as_slice);
    let Some((size, root)) = replay.ledger.closing(authority, &consultation.id) else {
        return Prefix {
            authority: *authority,
            entries: admitted.iter().map(|(_, e)| e.clone()).collect(),
            closed: false,
        };
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
    let quorum = closing_quorum(participants.len());
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
    let admitted = replay
        .admitted
        .get(authority)
        .map_or(&[][..], Vec::as_slice);
    for (i, e) in admitted {
        let Some(e) = e.event() else { continue };
        if *i >= size && matches!(e.body(), Body::Ballot(b) if b.consultation == consultation.id) {
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
    let entries = admitted
        .iter()
        .filter(|(i, _)| *i < size)
        .map(|(_, e)| e.clone())
        .collect();
    Prefix {
        authority: *authority,
        entries,
        closed: true,
    }
}

/// The name `authority` declared last in its own log.
fn declared_name(replay: &Replay, authority: &PublicKey) -> Option<String> {
    let log = replay.ledger.log(authority)?;
    log.entries
        .iter()
        .rev()
        .find_map(|e| match e.event()?.body() {
            Body::Authority(b) if e.event()?.author() == authority => Some(b.name.clone()),
            _ => None,
        })
}

/// The recount of the prefixes, with the ballot counts and the proposals put in
/// `report`.
pub(super) fn recount(
    consultation: &ConsultationView,
    prefixes: &[Prefix],
    report: &mut AuditReport,
) -> Counted {
    let views: Vec<LogPrefix<'_>> = prefixes
        .iter()
        .map(|p| LogPrefix {
            authority: p.authority,
            entries: &p.entries,
        })
        .collect();
    let counted = counting::count(consultation, &views);
    report.n_ballots_seen = counted.n_ballots_seen;
    // A secret consultation's counted ballots are sealed ones (one per voter as well).
    report.n_ballots_counted = (counted.ballots.len() + counted.sealed.len()) as u64;
    for p in prefixes {
        for e in &p.entries {
            let (id, title) = match e {
                Entry::Event(e) => match e.body() {
                    Body::Proposal(b) if b.consultation == consultation.id => {
                        (e.id(), Some(b.title.clone()))
                    }
                    _ => continue,
                },
                Entry::Purged(t) => {
                    let t = t.body();
                    if t.kind != Kind::Proposal || t.consultation != consultation.id {
                        continue;
                    }
                    (t.id, None)
                }
            };
            report.proposals.push(ProposalSummary {
                id,
                title,
                log: p.authority,
                hidden: counted.hidden.contains(&id),
            });
        }
    }
    report.proposals.sort_by_key(|p| p.id);
    counted
}

/// The organiser's result: admissible, and equal to the recount; required once every
/// participating log is closed (`n_closed` of them are).
pub(super) fn check_result(
    consultation: &ConsultationView,
    replay: &Replay,
    n_closed: usize,
    tally: &Tally,
    report: &mut AuditReport,
    fail: &mut Fail<'_>,
) {
    let mut result_found = false;
    for (log, index, event) in &replay.results {
        let Body::Result(body) = event.body() else {
            continue;
        };
        if body.consultation != consultation.id {
            continue;
        }
        if let Err(r) = admit_result(&replay.ledger, &replay.refs, log, event) {
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
        if body.tally != *tally {
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
    // A secret consultation's result comes from its opening (`audit::opening`).
    let public = consultation.body.secrecy.is_none();
    if public && !result_found && n_closed > 0 && n_closed == consultation.body.authorities.len() {
        fail.push(
            "missing_result",
            Some(consultation.organiser),
            None,
            None,
            None,
            "every log is closed but the organiser's log holds no valid result",
        );
    }
}
