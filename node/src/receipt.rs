//! `palabre check-receipt`: a resident's receipt, checked against what nodes serve —
//! its event at its index in the log, under a head that the node's latest head extends.
//! This file fetches the evidence and prints the answer; every check is core's
//! (`palabre_core::audit::check_receipt`).

use anyhow::Context;
use palabre_core::audit::{Failure, ReceiptEvidence, check_receipt};
use palabre_core::head::{Receipt, SignedTreeHead};
use palabre_core::ids::Hash;
use serde::Deserialize;

use crate::audit::failure_line;
use crate::client::{Entries, NodeUrl};

#[derive(Deserialize)]
struct Proof {
    proof: Vec<Hash>,
}

/// A receipt as the site keeps it, or the API's whole answer (`{"receipt": …}`).
#[derive(Deserialize)]
#[serde(untagged)]
enum ReceiptFile {
    Bare(Receipt),
    Answer { receipt: Receipt },
}

/// `palabre check-receipt`: is the receipt's event in the log, as every node serves it?
pub fn run(path: &std::path::Path, nodes: &[String]) -> anyhow::Result<bool> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let receipt = match serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a Palabre receipt", path.display()))?
    {
        ReceiptFile::Bare(r) | ReceiptFile::Answer { receipt: r } => r,
    };
    let body = receipt.receipt;
    let head = body.tree_head.head;
    let a = head.authority;
    let mut evidence = Vec::new();
    for url in nodes {
        let node = NodeUrl::parse(url)?;
        let entry_page = node.get(&format!(
            "/api/v1/logs/{a}/entries?start={}&end={}",
            body.index,
            body.index + 1
        ))?;
        let page: Entries<'_> = serde_json::from_slice(&entry_page).context("entries")?;
        let entry = page
            .entries
            .first()
            .map(|e| e.get().as_bytes().to_vec())
            .with_context(|| format!("{url}: no entry at index {}", body.index))?;
        let inclusion: Proof = serde_json::from_slice(&node.get(&format!(
            "/api/v1/logs/{a}/proof/inclusion?index={}&size={}",
            body.index, head.size
        ))?)
        .context("inclusion proof")?;
        let latest: SignedTreeHead =
            serde_json::from_slice(&node.get(&format!("/api/v1/logs/{a}/checkpoint"))?)
                .context("latest head")?;
        let consistency = if latest.head.size > head.size {
            let p: Proof = serde_json::from_slice(&node.get(&format!(
                "/api/v1/logs/{a}/proof/consistency?from={}&to={}",
                head.size, latest.head.size
            ))?)
            .context("consistency proof")?;
            p.proof
        } else {
            Vec::new()
        };
        evidence.push(ReceiptEvidence {
            source: url.clone(),
            entry,
            inclusion: inclusion.proof,
            latest,
            consistency,
        });
    }
    let failures = check_receipt(&receipt, &evidence);
    println!(
        "Receipt for event {}\n  entry {} of the log of {a}, under a head of size {}",
        body.event_id, body.index, head.size
    );
    print_failures(&failures, nodes);
    Ok(failures.is_empty())
}

fn print_failures(failures: &[Failure], nodes: &[String]) {
    if failures.is_empty() {
        println!(
            "PASSED: the receipt is signed, and its event is in the log as {} serve(s) it.",
            nodes.join(", ")
        );
        return;
    }
    println!("FAILED: {} check(s) do not hold.", failures.len());
    for f in failures {
        println!("  {}", failure_line(f));
    }
}
