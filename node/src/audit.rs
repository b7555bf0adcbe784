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
    AuditInput, AuditOptions, AuditReport, Failure, LogMaterial, audit, bundle, extends,
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
    }
    let cosignatures: Cosignatures =
        serde_json::from_slice(&node.get(&format!("/api/v1/logs/{authority}/cosignatures"))?)
            .with_context(|| format!("{}: cosignatures of {authority}", node.text))?;
    Ok(LogMaterial {
        authority: *authority,
        source: node.text.clone(),
        entries,
        heads: vec![head],
        cosignatures: cosignatures.cosignatures,
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
        for authority in &detail.consultation.authorities {
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

/// Verifies `input` (and, with `since`, that it only appends to it), prints the report;
/// `Ok(true)` when everything holds.
pub fn run(input: &AuditInput, since: Option<&AuditInput>, json: bool) -> anyhow::Result<bool> {
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
    Ok(report.passed())
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

/// The report as a person reads it.
pub fn human(r: &AuditReport) -> String {
    let mut out = String::new();
    let title = r.title.as_deref().unwrap_or("(unknown consultation)");
    out.push_str(&format!("Consultation {title}\n  id {}\n", r.consultation));
    for log in &r.logs {
        out.push_str(&format!(
            "  log of {}: {} entries, {} signed head(s), closed at {}, {} witness(es); from {}\n",
            log.authority,
            log.n_entries,
            log.n_heads,
            log.closing_size
                .map_or_else(|| "— (not closed)".to_owned(), |s| format!("size {s}")),
            log.witnesses.len(),
            log.sources.join(", ")
        ));
    }
    out.push_str(&format!(
        "  {} events checked; {} ballots seen, {} counted (one per voter)\n",
        r.n_events, r.n_ballots_seen, r.n_ballots_counted
    ));
    match &r.result {
        Some(id) => out.push_str(&format!("  signed result {id}\n")),
        None => out.push_str("  no signed result in the logs\n"),
    }
    if let Some(tally) = &r.tally {
        let text = serde_json::to_string(tally).unwrap_or_default();
        out.push_str(&format!("  recount: {text}\n"));
    }
    if r.passed() {
        out.push_str("PASSED: every check holds.\n");
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
