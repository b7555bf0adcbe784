//! `palabre check-receipt`: a resident's receipt, checked against what nodes serve —
//! its event at its index in the log, under a head that the node's latest head extends —
//! and told in plain words: what the receipt was for (the kind, the consultation, the
//! proposals) and, for a ballot, whether it is the one that counts or a later ballot of
//! the same voter replaced it. Without `--node`, it asks the address the town declares
//! in its signed `authority` event, which the receipt file carries.
//!
//! This file fetches and prints; every check is core's (`audit::check_receipt`, and
//! `counting::standing` for which ballot counts). Names and titles come from signed
//! events whose ids are checked here, never from the node's word.

use anyhow::Context;
use palabre_core::audit::{Failure, ReceiptEvidence, check_receipt};
use palabre_core::counting::{LogPrefix, Standing, standing};
use palabre_core::crypto::PublicKey;
use palabre_core::event::{Body, ConsultationBody, SignedEvent, Stance};
use palabre_core::head::{Receipt, SignedTreeHead};
use palabre_core::ids::{EventId, Hash};
use palabre_core::limits::MAX_PAGE_ENTRIES;
use palabre_core::purge::Entry;
use palabre_core::tally::{Choice, Method};
use palabre_core::view::ConsultationView;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::audit::failure_line;
use crate::client::{Entries, NodeUrl};

#[derive(Deserialize)]
struct Proof {
    proof: Vec<Hash>,
}

/// The API's answer to a submission (`{"receipt": …, "authority": <the town's signed
/// authority event>}`), or the site's kept entry, which holds the same `receipt`.
#[derive(Deserialize)]
struct Answer {
    receipt: Receipt,
    #[serde(default)]
    authority: Option<Box<RawValue>>,
}

/// A receipt file: a bare receipt, or an answer holding one.
fn read_receipt(path: &std::path::Path) -> anyhow::Result<Answer> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if let Ok(receipt) = serde_json::from_slice::<Receipt>(&bytes) {
        return Ok(Answer {
            receipt,
            authority: None,
        });
    }
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a Palabre receipt", path.display()))
}

/// The nodes to ask when none is given: the `http(s)://` addresses that the receipt's
/// authority declares in its signed `authority` event, if the file carries it.
fn declared_nodes(file: &Answer, authority: &PublicKey) -> anyhow::Result<Vec<String>> {
    let none = "the receipt names no node to ask: give --node with the address of the site where you took part";
    let Some(raw) = &file.authority else {
        anyhow::bail!("{none}");
    };
    let event = SignedEvent::from_bytes(raw.get().as_bytes().to_vec())
        .map_err(|r| anyhow::anyhow!("the receipt's authority event does not verify: {r}"))?;
    anyhow::ensure!(
        event.author() == authority,
        "the receipt's authority event is not signed by the receipt's authority"
    );
    let Body::Authority(b) = event.body() else {
        anyhow::bail!(
            "the receipt's authority event is a {}",
            event.kind().as_str()
        );
    };
    let nodes: Vec<String> = b
        .addresses
        .iter()
        .filter(|a| a.starts_with("https://") || a.starts_with("http://"))
        .take(1)
        .cloned()
        .collect();
    anyhow::ensure!(!nodes.is_empty(), "{none}");
    println!(
        "Asking {}, the address {} declares in its signed authority event.",
        nodes[0], b.name
    );
    Ok(nodes)
}

/// `palabre check-receipt`: is the receipt's event in the log, as every node serves it,
/// and what was it for?
pub fn run(path: &std::path::Path, nodes: &[String]) -> anyhow::Result<bool> {
    let file = read_receipt(path)?;
    let receipt = file.receipt;
    let body = receipt.receipt;
    let head = body.tree_head.head;
    let a = head.authority;
    let nodes = if nodes.is_empty() {
        declared_nodes(&file, &a)?
    } else {
        nodes.to_vec()
    };
    let mut evidence = Vec::new();
    for url in &nodes {
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
    if failures.is_empty() {
        // The entry is the receipt's event (core checked its id): say what it was for.
        let node = NodeUrl::parse(&nodes[0])?;
        if let Some(first) = evidence.first() {
            // Telling what it was for needs more of the node; the receipt holds regardless.
            let lines = describe(&node, &a, body.index, &first.entry)
                .unwrap_or_else(|e| vec![format!("what it was for is not known: {e:#}")]);
            for line in lines {
                println!("  {line}");
            }
        }
    }
    print_failures(&failures, &nodes);
    Ok(failures.is_empty())
}

/// What the receipt's entry was for, in a few lines.
fn describe(
    node: &NodeUrl,
    log: &PublicKey,
    index: u64,
    entry: &[u8],
) -> anyhow::Result<Vec<String>> {
    let event = match Entry::from_bytes(entry.to_vec(), log) {
        Ok(Entry::Event(e)) => e,
        Ok(Entry::Purged(_)) => {
            return Ok(vec![
                "its content was purged by moderation since: the log keeps its place and its hash"
                    .to_owned(),
            ]);
        }
        Err(r) => return Ok(vec![format!("its entry does not decode ({r})")]),
    };
    let kind = event.kind().as_str();
    let mut out = Vec::new();
    match event.body() {
        Body::Ballot(b) => {
            let c = fetch_consultation(node, &b.consultation)?;
            out.push(format!("a ballot in \"{}\"", c.body.title));
            out.push(choice_line(node, &c.body, &b.choice)?);
            out.push(
                ballot_standing(node, log, index, &c, &event)
                    .unwrap_or_else(|e| format!("whether it counts is not known: {e:#}")),
            );
        }
        Body::Proposal(b) => {
            let c = fetch_consultation(node, &b.consultation)?;
            out.push(format!(
                "a proposal, \"{}\", in \"{}\"",
                b.title, c.body.title
            ));
        }
        Body::Argument(b) => {
            let (title, consultation) = fetch_proposal(node, &b.proposal)?;
            let c = fetch_consultation(node, &consultation)?;
            let stance = match b.stance {
                Stance::Pro => "for",
                Stance::Con => "against",
            };
            out.push(format!(
                "an argument {stance} the proposal \"{title}\", in \"{}\"",
                c.body.title
            ));
        }
        Body::Consultation(b) => out.push(format!("the consultation \"{}\"", b.title)),
        Body::Credential(_) => out.push("a credential: the key that takes part".to_owned()),
        _ => out.push(format!("a {kind} event")),
    }
    Ok(out)
}

/// A signed event the node serves by id; its id is checked against its bytes.
fn fetch_event(node: &NodeUrl, id: &EventId) -> anyhow::Result<SignedEvent> {
    #[derive(Deserialize)]
    struct Served<'a> {
        #[serde(borrow)]
        event: &'a RawValue,
    }
    let bytes = node.get(&format!("/api/v1/events/{id}"))?;
    let served: Served<'_> =
        serde_json::from_slice(&bytes).with_context(|| format!("{}: event {id}", node.text))?;
    let event = SignedEvent::from_bytes(served.event.get().as_bytes().to_vec())
        .map_err(|r| anyhow::anyhow!("{}: event {id} does not verify: {r}", node.text))?;
    anyhow::ensure!(
        event.id() == *id,
        "{}: served another event for {id}",
        node.text
    );
    Ok(event)
}

fn fetch_consultation(node: &NodeUrl, id: &EventId) -> anyhow::Result<ConsultationView> {
    let event = fetch_event(node, id)?;
    match event.body() {
        Body::Consultation(b) => Ok(ConsultationView {
            id: *id,
            organiser: *event.author(),
            body: (**b).clone(),
        }),
        _ => anyhow::bail!("{}: {id} is not a consultation", node.text),
    }
}

/// A proposal's title and consultation.
fn fetch_proposal(node: &NodeUrl, id: &EventId) -> anyhow::Result<(String, EventId)> {
    match fetch_event(node, id)?.body() {
        Body::Proposal(p) => Ok((p.title.clone(), p.consultation)),
        _ => anyhow::bail!("{}: {id} is not a proposal", node.text),
    }
}

/// The ballot's choice, with the proposals' titles.
fn choice_line(node: &NodeUrl, c: &ConsultationBody, choice: &Choice) -> anyhow::Result<String> {
    let title = |id: &EventId| -> anyhow::Result<String> {
        Ok(format!("\"{}\"", fetch_proposal(node, id)?.0))
    };
    Ok(match choice {
        Choice::Approve(ids) if ids.is_empty() => "a blank ballot (no proposal chosen)".to_owned(),
        Choice::Approve(ids) => {
            let titles: anyhow::Result<Vec<String>> = ids.iter().map(title).collect();
            format!("choosing {}", titles?.join(", "))
        }
        Choice::Answers(map) => {
            let mut parts = Vec::new();
            for (id, answer) in map {
                let answer = serde_json::to_value(answer)?;
                parts.push(format!(
                    "{}: {}",
                    title(id)?,
                    answer.as_str().unwrap_or("?")
                ));
            }
            format!("answering {}", parts.join(", "))
        }
        Choice::Grades(map) => {
            let labels = match &c.method {
                Method::MajorityJudgment { grades } => grades.clone(),
                _ => Vec::new(),
            };
            let mut parts = Vec::new();
            for (id, g) in map {
                let label = labels
                    .get(*g as usize)
                    .cloned()
                    .unwrap_or_else(|| format!("grade {g}"));
                parts.push(format!("{}: {label}", title(id)?));
            }
            format!("grading {}", parts.join(", "))
        }
    })
}

/// Whether the ballot counts, as core counts the ballot's log as the node serves it
/// (up to this log's closing checkpoint for the consultation, or all of it while open).
fn ballot_standing(
    node: &NodeUrl,
    log: &PublicKey,
    index: u64,
    consultation: &ConsultationView,
    ballot: &SignedEvent,
) -> anyhow::Result<String> {
    let entries = fetch_entries(node, log)?;
    let closing = entries
        .iter()
        .find_map(|e| match e.event().map(|e| e.body()) {
            Some(Body::Checkpoint(c)) if c.consultation == consultation.id => Some(c.size),
            _ => None,
        });
    let counted = closing.map_or(entries.len(), |size| entries.len().min(size as usize));
    if index as usize >= counted {
        return Ok(
            "it was logged after this town closed its log for the consultation: it does not count"
                .to_owned(),
        );
    }
    let prefix = [LogPrefix {
        authority: *log,
        entries: &entries[..counted],
    }];
    let (counts, counted_text) = if closing.is_some() {
        ("counted", "counted")
    } else {
        (
            "counts so far (the vote is open: a later ballot of the same voter would replace it)",
            "counts so far",
        )
    };
    Ok(match standing(consultation, &prefix, &ballot.id()) {
        Standing::Counted => format!("it is this voter's ballot that {counts}"),
        Standing::Replaced { by } => format!(
            "a later ballot of the same voter replaced it (event {by}): that one {counted_text}, this one does not; the receipt still proves this ballot was logged"
        ),
        Standing::NotCounted => "it does not count: its key had no active credential when it was cast, or the voter's credential was revoked since".to_owned(),
    })
}

/// Every entry of `log` as the node serves it, decoded.
fn fetch_entries(node: &NodeUrl, log: &PublicKey) -> anyhow::Result<Vec<Entry>> {
    let head: SignedTreeHead =
        serde_json::from_slice(&node.get(&format!("/api/v1/logs/{log}/checkpoint"))?)
            .with_context(|| format!("{}: the head of {log}", node.text))?;
    let mut out = Vec::new();
    let mut start = 0;
    while start < head.head.size {
        let end = head.head.size.min(start + MAX_PAGE_ENTRIES);
        let body = node.get(&format!(
            "/api/v1/logs/{log}/entries?start={start}&end={end}"
        ))?;
        let page: Entries<'_> = serde_json::from_slice(&body)
            .with_context(|| format!("{}: entries of {log}", node.text))?;
        anyhow::ensure!(
            !page.entries.is_empty(),
            "{}: no entries from {start}",
            node.text
        );
        for e in &page.entries {
            let entry = Entry::from_bytes(e.get().as_bytes().to_vec(), log).map_err(|r| {
                anyhow::anyhow!(
                    "{}: entry {start} of {log} does not decode ({r}); `palabre audit` says more",
                    node.text
                )
            })?;
            out.push(entry);
            start += 1;
        }
    }
    Ok(out)
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
