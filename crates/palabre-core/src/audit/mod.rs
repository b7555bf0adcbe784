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

use serde::Serialize;

use crate::crypto::PublicKey;
use crate::head::{Cosignature, Equivocation, SignedTreeHead};
use crate::ids::EventId;
use crate::ledger::Ledger;
use crate::tally::Tally;

pub mod bundle;
mod closing;
mod compare;
mod opening;
mod replay;
mod secret;
mod sources;

pub use compare::{ReceiptEvidence, check_receipt, extends};

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
    /// The name the authority declared in its own log.
    pub name: Option<String>,
    pub sources: Vec<String>,
    pub n_entries: u64,
    pub n_heads: u64,
    /// Of `n_entries`, those about another consultation.
    pub n_outside: u64,
    /// The size of the log's closing checkpoint; `None` while the log is open.
    pub closing_size: Option<u64>,
    pub witnesses: Vec<PublicKey>,
}

/// Where the audited consultation stands in the material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditState {
    /// Some participating log has no closing checkpoint yet: what was checked holds or
    /// not, but the result is not final.
    Open,
    /// Every participating log has its closing checkpoint.
    Closed,
}

/// A proposal of the consultation, as the counted (or running) prefixes hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposalSummary {
    pub id: EventId,
    /// `None` when its text was purged.
    pub title: Option<String>,
    /// The log that holds it.
    pub log: PublicKey,
    /// Hidden by a participating authority's moderation: not a candidate.
    pub hidden: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub consultation: EventId,
    pub title: Option<String>,
    /// The authority whose log holds the consultation.
    pub organiser: Option<PublicKey>,
    pub vote_close_ms: Option<u64>,
    pub state: AuditState,
    pub logs: Vec<LogSummary>,
    pub proposals: Vec<ProposalSummary>,
    pub n_events: u64,
    /// Entries of the participating logs that are about another consultation: checked
    /// for decoding, signature and place in their log, not replayed (PROTOCOL.md,
    /// "Audit").
    pub n_outside: u64,
    pub n_ballots_seen: u64,
    pub n_ballots_counted: u64,
    /// The recount; while the consultation is open, the running count, or `None` if the
    /// consultation hides running results until the close.
    pub tally: Option<Tally>,
    /// Whether the running count is withheld (open, and running results hidden; or a
    /// secret consultation).
    pub tally_hidden: bool,
    /// A secret consultation: its ballots are sealed, and its result comes from their
    /// opening by the trustees, not from the close. Absent from the JSON when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    /// The organiser's signed result, if the logs hold one.
    pub result: Option<EventId>,
    pub failures: Vec<Failure>,
    /// What holds but is worth saying (a secret consultation's `void_complaint`): never
    /// a failure. Absent from the JSON when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Failure>,
}

impl AuditReport {
    /// No rule fails.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// No rule fails and the consultation is closed: the result is final. A secret
    /// consultation is final only with its result (from the opening): closed without
    /// one, its ballots are still sealed.
    pub fn is_final(&self) -> bool {
        self.passed() && self.state == AuditState::Closed && (!self.secret || self.result.is_some())
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

/// The logs of `input` checked and replayed exactly as [`audit`] does (entries about
/// other consultations kept in their place, not judged), for a reader that counts or
/// lists from them — the node's open data. The failures of those two phases, if any.
pub fn replayed(input: &AuditInput, options: AuditOptions) -> Result<Ledger, Vec<Failure>> {
    let mut failures = Vec::new();
    let mut fail = Fail(&mut failures);
    let logs = sources::check_logs(&input.logs, options, &mut fail);
    let replay = replay::replay(&logs, &input.consultation, &mut fail);
    if failures.is_empty() {
        Ok(replay.ledger)
    } else {
        Err(failures)
    }
}

/// Checks everything `input` holds about its consultation, phase by phase: the sources
/// and signatures (`sources`), the replay (`replay`), then the closing, the recount and
/// the result (`closing`).
pub fn audit(input: &AuditInput, options: AuditOptions) -> AuditReport {
    let mut failures = Vec::new();
    let mut fail = Fail(&mut failures);
    let logs = sources::check_logs(&input.logs, options, &mut fail);
    let replay = replay::replay(&logs, &input.consultation, &mut fail);
    let mut report = AuditReport {
        consultation: input.consultation,
        title: None,
        organiser: None,
        vote_close_ms: None,
        state: AuditState::Open,
        logs: Vec::new(),
        proposals: Vec::new(),
        n_events: logs.iter().map(|l| l.events.len() as u64).sum(),
        n_outside: 0,
        n_ballots_seen: 0,
        n_ballots_counted: 0,
        tally: None,
        tally_hidden: false,
        secret: false,
        result: None,
        failures: Vec::new(),
        notes: Vec::new(),
    };
    let Some(consultation) = replay.refs.consultations.get(&input.consultation).cloned() else {
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
    report.organiser = Some(consultation.organiser);
    report.vote_close_ms = Some(consultation.body.vote_close_ms);
    report.secret = consultation.body.secrecy.is_some();
    closing::check_evidence(&input.evidence, &consultation, &mut fail);
    report.notes = secret::check(&consultation, &replay, options.threads, &mut fail);
    let prefixes = closing::close_logs(&consultation, &logs, &replay, &mut report, &mut fail);
    let n_closed = prefixes.iter().filter(|p| p.closed).count();
    if n_closed == consultation.body.authorities.len() {
        report.state = AuditState::Closed;
    }
    let counted = closing::recount(&consultation, &prefixes, &mut report);
    let tally = counted.tally(&consultation);
    closing::check_result(
        &consultation,
        &replay,
        n_closed,
        &tally,
        &mut report,
        &mut fail,
    );
    // A secret consultation's count holds no choice before its opening.
    report.tally_hidden = consultation.body.secrecy.is_some()
        || (report.state == AuditState::Open && !consultation.body.show_running_results);
    if !report.tally_hidden {
        report.tally = Some(tally);
    }
    let all_closed = report.state == AuditState::Closed;
    let notes = opening::check(
        &consultation,
        &replay,
        &counted,
        all_closed,
        &mut report,
        &mut fail,
    );
    report.notes.extend(notes);
    report.failures = failures;
    report
}
