//! `palabre audit` and `palabre export`: fetch a consultation's logs from one or several
//! nodes (or read them from a bundle file) and verify them with core's `audit`,
//! trusting none of the nodes. This file only fetches, reads, writes and prints; every
//! check is core's.
//!
//! A bundle is one JSON file: `{"palabre_bundle": 1, "consultation", "logs": [{
//! "authority", "source", "entries": [each entry exactly as served], "heads",
//! "cosignatures"}]}` (PROTOCOL.md, "Audit bundle").
//!
//! The requests themselves are `client`'s; `palabre check-receipt` is `receipt`'s.

use anyhow::Context;
use palabre_core::audit::{
    AuditInput, AuditOptions, AuditReport, AuditState, Failure, LogMaterial, audit, bundle, extends,
};
use palabre_core::crypto::PublicKey;
use palabre_core::head::{Cosignature, Equivocation, SignedTreeHead};
use palabre_core::ids::EventId;
use palabre_core::limits::MAX_PAGE_ENTRIES;
use serde::Deserialize;

use crate::client::{Entries, NodeUrl};

#[derive(Deserialize)]
struct Detail {
    consultation: DetailConsultation,
}

#[derive(Deserialize)]
struct DetailConsultation {
    authorities: Vec<PublicKey>,
    /// The consultation event as signed (its `secrecy` names the trustees).
    #[serde(default)]
    event: Option<serde_json::Value>,
}

impl DetailConsultation {
    /// The logs to fetch: the participating towns', then any trustee's that does not
    /// take part in the vote (its deals and complaints are in its own log). The node's
    /// word is only where to look: the audit checks the signed consultation itself.
    fn logs(&self) -> Vec<PublicKey> {
        let mut logs = self.authorities.clone();
        let trustees = self
            .event
            .as_ref()
            .and_then(|e| e["body"]["secrecy"]["trustees"].as_array().cloned())
            .unwrap_or_default();
        for t in trustees {
            if let Some(k) = t.as_str().and_then(|k| k.parse::<PublicKey>().ok())
                && !logs.contains(&k)
            {
                logs.push(k);
            }
        }
        logs
    }
}

/// Everything one node serves of one authority's log: every entry, exactly as served,
/// and its latest signed head.
fn fetch_log(node: &NodeUrl, authority: &PublicKey) -> anyhow::Result<LogMaterial> {
    let head: SignedTreeHead =
        serde_json::from_slice(&node.get(&format!("/api/v1/logs/{authority}/checkpoint"))?)
            .with_context(|| format!("{}: the head of {authority}", node.text))?;
    let mut entries = Vec::with_capacity(head.head.size as usize);
    while (entries.len() as u64) < head.head.size {
        let start = entries.len() as u64;
        let end = head.head.size.min(start + MAX_PAGE_ENTRIES);
        let body = node.get(&format!(
            "/api/v1/logs/{authority}/entries?start={start}&end={end}"
        ))?;
        let page: Entries<'_> = serde_json::from_slice(&body)
            .with_context(|| format!("{}: entries of {authority}", node.text))?;
        anyhow::ensure!(
            !page.entries.is_empty(),
            "{}: no entries from {start}",
            node.text
        );
        // Each entry exactly as the node sent it: signatures are checked over these bytes.
        entries.extend(page.entries.iter().map(|e| e.get().as_bytes().to_vec()));
    }
    #[derive(Deserialize)]
    struct Cosignatures {
        cosignatures: Vec<Cosignature>,
        next: Option<String>,
    }
    // A page at a time, following `next`, until a page says there is no more.
    let mut cosignatures = Vec::new();
    let mut page = Some(format!("/api/v1/logs/{authority}/cosignatures"));
    while let Some(path) = page {
        anyhow::ensure!(
            path.starts_with(&format!("/api/v1/logs/{authority}/cosignatures")),
            "{}: a `next` link that leaves the cosignatures of {authority}: {path}",
            node.text
        );
        let answer: Cosignatures = serde_json::from_slice(&node.get(&path)?)
            .with_context(|| format!("{}: cosignatures of {authority}", node.text))?;
        anyhow::ensure!(
            answer.next.is_none() || !answer.cosignatures.is_empty(),
            "{}: an empty page of cosignatures with a next page",
            node.text
        );
        cosignatures.extend(answer.cosignatures);
        page = answer.next;
    }
    Ok(LogMaterial {
        authority: *authority,
        source: node.text.clone(),
        entries,
        heads: vec![head],
        cosignatures,
    })
}

/// Every participating log of `consultation`, as each node serves it.
pub fn fetch(consultation: EventId, nodes: &[String]) -> anyhow::Result<AuditInput> {
    anyhow::ensure!(!nodes.is_empty(), "give at least one --node");
    let mut logs = Vec::new();
    let mut evidence: Vec<Equivocation> = Vec::new();
    for url in nodes {
        let node = NodeUrl::parse(url)?;
        let detail: Detail =
            serde_json::from_slice(&node.get(&format!("/api/v1/consultations/{consultation}"))?)
                .with_context(|| format!("{url}: the consultation"))?;
        for authority in &detail.consultation.logs() {
            logs.push(fetch_log(&node, authority)?);
        }
        #[derive(Deserialize)]
        struct Evidence {
            evidence: Vec<Equivocation>,
        }
        let served: Evidence = serde_json::from_slice(&node.get("/api/v1/evidence")?)
            .with_context(|| format!("{url}: the evidence"))?;
        for e in served.evidence {
            if !evidence.contains(&e) {
                evidence.push(e);
            }
        }
    }
    Ok(AuditInput {
        consultation,
        logs,
        evidence,
    })
}

/// Writes `input` as a bundle file.
pub fn write_bundle(input: &AuditInput, path: &std::path::Path) -> anyhow::Result<()> {
    let bytes = bundle::to_json(input).map_err(|e| anyhow::anyhow!(e))?;
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Reads a bundle file; each entry keeps the exact bytes it has in the file.
pub fn read_bundle(path: &std::path::Path) -> anyhow::Result<AuditInput> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    bundle::from_json(&bytes, &path.display().to_string())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The exit status of an audit (PROTOCOL.md, "Audit"; `palabre audit --help`).
pub mod exit {
    /// No rule fails and the consultation is closed: the result is final.
    pub const FINAL: i32 = 0;
    /// A rule fails.
    pub const FAILED: i32 = 1;
    /// Every check holds, but the consultation is still open (or, secret, closed with
    /// its ballots not opened yet): the result is not final.
    pub const OPEN: i32 = 3;
}

/// Verifies `input` (and, with `since`, that it only appends to it), prints the report;
/// returns the exit status (see [`exit`]).
pub fn run(input: &AuditInput, since: Option<&AuditInput>, json: bool) -> anyhow::Result<i32> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut report = audit(input, AuditOptions { threads });
    if let Some(old) = since {
        report.failures.extend(extends(old, input));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", human(&report));
    }
    Ok(if !report.passed() {
        exit::FAILED
    } else if report.is_final() {
        exit::FINAL
    } else {
        exit::OPEN
    })
}

pub(crate) fn failure_line(f: &Failure) -> String {
    let mut out = format!("[{}] {}", f.rule, f.detail);
    if let Some(a) = &f.authority {
        out.push_str(&format!("\n      log {a}"));
    }
    if let Some(i) = f.index {
        out.push_str(&format!(", entry {i}"));
    }
    if let Some(e) = &f.event {
        out.push_str(&format!(", event {e}"));
    }
    if let Some(s) = &f.source {
        out.push_str(&format!(", served by {s}"));
    }
    out
}

/// The report as a person reads it: a short summary in plain words first, then the
/// details (every log, the recount, each failure).
pub fn human(r: &AuditReport) -> String {
    let mut out = String::new();
    let title = r.title.as_deref().unwrap_or("(unknown consultation)");
    out.push_str(&format!(
        "Consultation « {title} »\n  id {}\n\n",
        r.consultation
    ));
    summary(r, &mut out);
    out.push_str("\nDetails\n");
    for log in &r.logs {
        out.push_str(&format!(
            "  log of {} ({}): {} entries ({} about other consultations), {} signed head(s), {}, {} witness(es); from {}\n",
            log.name.as_deref().unwrap_or("undeclared"),
            log.authority,
            log.n_entries,
            log.n_outside,
            log.n_heads,
            log.closing_size
                .map_or_else(|| "open (no checkpoint)".to_owned(), |s| format!("closed at size {s}")),
            log.witnesses.len(),
            log.sources.join(", ")
        ));
    }
    out.push_str(&format!(
        "  {} entries checked ({} about other consultations: signature and place only); {} ballots seen, {} counted (one per voter)\n",
        r.n_events, r.n_outside, r.n_ballots_seen, r.n_ballots_counted
    ));
    for p in &r.proposals {
        out.push_str(&format!(
            "  proposal {} « {} »{}\n",
            p.id,
            p.title.as_deref().unwrap_or("(text erased)"),
            if p.hidden {
                " — hidden by moderation"
            } else {
                ""
            }
        ));
    }
    match &r.result {
        Some(id) => out.push_str(&format!("  signed result {id}\n")),
        None if r.secret => out.push_str(
            "  no result in the logs: a secret consultation's comes from the opening of its sealed ballots\n",
        ),
        None => out.push_str("  no signed result in the logs\n"),
    }
    if let Some(tally) = &r.tally {
        let text = serde_json::to_string(tally).unwrap_or_default();
        out.push_str(&format!("  recount: {text}\n"));
    }
    if r.is_final() {
        out.push_str(
            "PASSED: every check holds; the consultation is closed and its result is final.\n",
        );
    } else if r.passed() && r.state == AuditState::Closed {
        out.push_str("SEALED: every check holds and the consultation is closed; its ballots are not opened yet, so there is no result to check: the result is not final.\n");
    } else if r.passed() {
        out.push_str("OPEN: every check holds so far, but there is no closing checkpoint yet: the result is not final.\n");
    } else {
        out.push_str(&format!(
            "FAILED: {} check(s) do not hold.\n",
            r.failures.len()
        ));
        for f in &r.failures {
            out.push_str(&format!("  {}\n", failure_line(f)));
        }
    }
    out
}

/// "In short": who, which towns, how many ballots, the result by title, what was checked
/// and what that proves and does not.
fn summary(r: &AuditReport, out: &mut String) {
    let name = |key: &PublicKey| {
        r.logs
            .iter()
            .find(|l| l.authority == *key)
            .and_then(|l| l.name.clone())
            .unwrap_or_else(|| key.to_string())
    };
    out.push_str("In short\n");
    if let Some(organiser) = &r.organiser {
        let others: Vec<String> = r
            .logs
            .iter()
            .filter(|l| l.authority != *organiser)
            .map(|l| name(&l.authority))
            .collect();
        out.push_str(&format!("  Organised by {}", name(organiser)));
        if others.is_empty() {
            out.push_str(", alone.\n");
        } else {
            out.push_str(&format!(", with {}.\n", others.join(", ")));
        }
    }
    let n_open = r.logs.iter().filter(|l| l.closing_size.is_none()).count();
    let close = r
        .vote_close_ms
        .map(|ms| format!(" The vote closes at {}.", palabre_web::site::when(ms)))
        .unwrap_or_default();
    match r.state {
        AuditState::Closed => out.push_str(&format!(
            "  Closed: every town closed its log with a checkpoint.{close}\n"
        )),
        AuditState::Open => out.push_str(&format!(
            "  OPEN: {n_open} of {} town(s) have no closing checkpoint yet: the result is not final.{close}\n",
            r.logs.len()
        )),
    }
    out.push_str(&format!(
        "  {} ballot(s) counted, one per voter ({} seen).\n",
        r.n_ballots_counted, r.n_ballots_seen
    ));
    let label = if r.state == AuditState::Closed {
        "Result (recounted)"
    } else {
        "Running count"
    };
    match &r.tally {
        Some(tally) => {
            out.push_str(&format!("  {label}:\n"));
            for line in tally_lines(r, tally) {
                out.push_str(&format!("    {line}\n"));
            }
        }
        None if r.secret => out.push_str(
            "  Secret ballots: each is sealed under the trustees' election key; no count of choices exists before their opening (the town knows who voted, not how).\n",
        ),
        None if r.tally_hidden => out.push_str(
            "  Running results are hidden until the close (the ballots themselves are public in the logs).\n",
        ),
        None => {}
    }
    out.push_str(
        "  Checked: every signature; every signed head against the entries; that the nodes agree; \
         every entry replayed under the admission rules; each town's closing checkpoint and its \
         witnesses; the recount against the organiser's signed result.\n",
    );
    if r.secret {
        out.push_str(
            "  Secret ballots, also checked: each trustee's encryption key and its proof; every \
             deal and complaint; QUAL and the election key recomputed from them; that the layout \
             lists every proposal; every sealed ballot's points and its proof of knowledge, \
             bound to its voter.\n",
        );
    }
    out.push_str(
        "  This proves, if it passed: each counted ballot was signed by a key its town certified, \
         the latest per voter counts, the logs are those the towns signed, no town can change what \
         its log held at the close without being caught, and the published result is their count.\n",
    );
    out.push_str(
        "  It does not prove: that each key is a distinct real person (a town can certify extra \
         keys; their number is public), that a town logged every ballot it was sent (each voter \
         checks their receipt: palabre check-receipt), or anything about a node not asked.\n",
    );
}

/// One line per proposal of the tally, by title, with its figures; then the winners or
/// the ranking, by title.
fn tally_lines(r: &AuditReport, tally: &palabre_core::tally::Tally) -> Vec<String> {
    let title = |id: &serde_json::Value| {
        let id = id.as_str().unwrap_or("");
        r.proposals
            .iter()
            .find(|p| p.id.to_string() == id)
            .map(|p| format!("« {} »", p.title.as_deref().unwrap_or("(text erased)")))
            .unwrap_or_else(|| id.to_owned())
    };
    let value = serde_json::to_value(tally).unwrap_or_default();
    let mut lines = Vec::new();
    for row in value["rows"].as_array().into_iter().flatten() {
        let figures: Vec<String> = row
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.as_str() != "proposal")
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        lines.push(format!(
            "{}: {}",
            title(&row["proposal"]),
            figures.join(", ")
        ));
    }
    for key in ["winners", "ranking"] {
        if let Some(list) = value[key].as_array() {
            let names: Vec<String> = list.iter().map(title).collect();
            lines.push(format!("{key}: {}", names.join(", ")));
        }
    }
    lines
}
