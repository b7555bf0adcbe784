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
use crate::secret::result::OpenedChoices;
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
    /// The authority whose log it is.
    pub authority: PublicKey,
    /// Where it came from, to name it in failures (a URL, a file name).
    pub source: String,
    /// Entries from index 0, each exactly as served.
    pub entries: Vec<Vec<u8>>,
    /// The signed tree heads the source served for this log.
    pub heads: Vec<SignedTreeHead>,
    /// The witnesses' cosignatures of this log's heads that the source served.
    pub cosignatures: Vec<Cosignature>,
}

/// Everything the auditor was served about one consultation, from every source.
#[derive(Debug, Clone)]
pub struct AuditInput {
    /// The id of the consultation audited.
    pub consultation: EventId,
    /// One entry per source and log; several sources of one log are compared.
    pub logs: Vec<LogMaterial>,
    /// Proofs of equivocation the sources hold (PROTOCOL.md, "Evidence"); any that
    /// checks and convicts a participating authority fails the audit.
    pub evidence: Vec<Equivocation>,
}

/// How the audit runs; nothing here changes its verdict.
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
    /// The log concerned, if the rule is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<PublicKey>,
    /// The entry's 0-based position in that log, if the rule is about one entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The event concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<EventId>,
    /// Which source served what fails (a URL, a file name), if it matters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// A plain-language explanation for the reader.
    pub detail: String,
}

/// What the audit saw of one participating log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogSummary {
    /// The authority whose log it is.
    pub authority: PublicKey,
    /// The name the authority declared in its own log.
    pub name: Option<String>,
    /// Every source that served this log.
    pub sources: Vec<String>,
    /// How many positions of the log the audit rebuilt from its sources (an entry that
    /// failed a check included).
    pub n_entries: u64,
    /// How many signed heads were served for it, all sources together.
    pub n_heads: u64,
    /// Of `n_entries`, those about another consultation.
    pub n_outside: u64,
    /// The size of the log's closing checkpoint; `None` while the log is open.
    pub closing_size: Option<u64>,
    /// The participating witnesses whose timely cosignatures back the closing head
    /// (the log's own authority not included).
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
    /// The proposal's event id.
    pub id: EventId,
    /// `None` when its text was purged.
    pub title: Option<String>,
    /// The log that holds it.
    pub log: PublicKey,
    /// Hidden by a participating authority's moderation: not a candidate.
    pub hidden: bool,
}

/// The audit's verdict on one consultation: what was checked, the recount,
/// and every rule that fails. Serialized as the JSON report of `palabre audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// The id of the consultation audited.
    pub consultation: EventId,
    /// The consultation's title; `None` when no log served holds it.
    pub title: Option<String>,
    /// The authority whose log holds the consultation.
    pub organiser: Option<PublicKey>,
    /// When the vote closes, ms since 1970; `None` without the consultation.
    pub vote_close_ms: Option<u64>,
    /// Whether every participating log is closed.
    pub state: AuditState,
    /// One summary per participating log.
    pub logs: Vec<LogSummary>,
    /// The consultation's proposals as the counted prefixes hold them.
    pub proposals: Vec<ProposalSummary>,
    /// Entries of every log served, counted by position (an entry that failed a check
    /// included).
    pub n_events: u64,
    /// Entries of the participating logs that are about another consultation: checked
    /// for decoding, signature and place in their log, not replayed (PROTOCOL.md,
    /// "Audit").
    pub n_outside: u64,
    /// Ballots of the consultation replayed, before keeping each voter's latest.
    pub n_ballots_seen: u64,
    /// Ballots that count: one per voter, within the closing checkpoints.
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
    /// A secret consultation with a valid result: the plaintexts its decryptors' shares
    /// open, decoded as the recount read them, in the order of the final mix's outputs
    /// (what the open data publishes). Not part of the JSON report.
    #[serde(skip)]
    pub opened: Option<OpenedChoices>,
    /// Every rule that does not hold; empty when the audit passes.
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

/// Checks everything `input` holds about its consultation, phase by phase: the sources
/// and signatures (`sources`), the replay (`replay`), then the closing, the recount and
/// the result (`closing`).
pub fn audit(input: &AuditInput, options: AuditOptions) -> AuditReport {
    audit_and_replay(input, options).0
}

/// [`audit`], handing back as well the logs it checked and replayed (entries about other
/// consultations kept in their place, not judged), for a reader that counts or lists
/// from them — the node's open data — so that it checks every signature once. `Err`
/// holds the failures of those two first phases (the report holds them too).
pub fn audit_and_replay(
    input: &AuditInput,
    options: AuditOptions,
) -> (AuditReport, Result<Ledger, Vec<Failure>>) {
    let mut failures = Vec::new();
    let mut fail = Fail(&mut failures);
    let logs = sources::check_logs(&input.logs, options, &mut fail);
    let replay = replay::replay(&logs, &input.consultation, &mut fail);
    let first_phases = fail.0.clone();
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
        opened: None,
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
        return (report, replayed(replay.ledger, first_phases));
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
    (report, replayed(replay.ledger, first_phases))
}

/// The replayed ledger, unless the sources or the replay failed.
fn replayed(ledger: Ledger, failures: Vec<Failure>) -> Result<Ledger, Vec<Failure>> {
    match failures.is_empty() {
        true => Ok(ledger),
        false => Err(failures),
    }
}
