//! `palabre export --format json|csv|pb`: a consultation's results and participation as
//! open data, recounted from the signed logs (fetched like `palabre audit` does, every
//! entry checked and replayed by core as the audit replays it), never copied from a
//! node's say-so.
//!
//! - `json`: `{"licence", "consultation", "participation", "proposals", "tally"}`, the
//!   tally exactly as a node signs it;
//! - `csv`: one row per proposal, `proposal_id,title,…` with the method's figures;
//! - `pb`: for participatory budgets, a pabulib file (approval votes, voters numbered
//!   anonymously), which `palabre tally --method budget` reads back.
//!
//! Results still hidden (a vote open without running results) are not exported.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use palabre_core::admission::ConsultationView;
use palabre_core::audit::AuditInput;
use palabre_core::counting::Counted;
use palabre_core::event::{Body, Kind};
use palabre_core::ids::EventId;
use palabre_core::pabulib::{self, ProjectRow};
use palabre_core::purge::Entry;
use palabre_core::tally::{Choice, Method, Tally};
use serde_json::json;

use crate::clock::now_ms;

/// The licence open data is published under.
pub const LICENCE: &str = "Licence Ouverte 2.0 (Etalab)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
    Pb,
}

/// The consultation replayed from the fetched logs and counted.
struct Recount {
    view: ConsultationView,
    counted: Counted,
    titles: BTreeMap<EventId, String>,
    costs: BTreeMap<EventId, Option<u64>>,
}

fn recount(input: &AuditInput) -> anyhow::Result<Recount> {
    // Every log checked and replayed as the audit does it: entries of the consultation
    // judged by admission, those of other consultations kept in place (their own logs
    // may not be here), so an honest federation's open data never fails on them.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ledger =
        palabre_core::audit::replayed(input, palabre_core::audit::AuditOptions { threads })
            .map_err(|failures| {
                let first = failures
                    .first()
                    .map(crate::audit::failure_line)
                    .unwrap_or_default();
                anyhow::anyhow!(
                    "{} check(s) of the logs do not hold ({first}); run palabre audit",
                    failures.len()
                )
            })?;
    let (view, counted) = ledger
        .count(&input.consultation)
        .context("the consultation is not in the logs")?;
    anyhow::ensure!(
        view.results_visible(now_ms()),
        "the results of this consultation are published only when its vote closes"
    );
    let mut titles = BTreeMap::new();
    let mut costs = BTreeMap::new();
    for (_, log) in ledger.logs() {
        for entry in &log.entries {
            match entry {
                Entry::Event(e) => {
                    if let Body::Proposal(p) = e.body()
                        && p.consultation == input.consultation
                    {
                        titles.insert(e.id(), p.title.clone());
                        costs.insert(e.id(), p.cost);
                    }
                }
                // Its text was erased: an empty title.
                Entry::Purged(p) => {
                    let t = p.body();
                    if t.kind == Kind::Proposal && t.consultation == input.consultation {
                        titles.insert(t.id, String::new());
                        costs.insert(t.id, t.cost);
                    }
                }
            }
        }
    }
    Ok(Recount {
        view,
        counted,
        titles,
        costs,
    })
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn to_csv(r: &Recount, tally: &Tally) -> String {
    let title = |id: &EventId| csv_field(r.titles.get(id).map_or("", String::as_str));
    let mut out = String::new();
    match tally {
        Tally::Support { rows, .. } => {
            out.push_str("proposal_id,title,supports,qualified\n");
            for row in rows {
                out.push_str(&format!(
                    "{},{},{},{}\n",
                    row.proposal,
                    title(&row.proposal),
                    row.supports,
                    row.qualified
                ));
            }
        }
        Tally::YesNoAbstain { rows, .. } => {
            out.push_str("proposal_id,title,yes,no,abstain,adopted\n");
            for row in rows {
                out.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    row.proposal,
                    title(&row.proposal),
                    row.yes,
                    row.no,
                    row.abstain,
                    row.adopted
                ));
            }
        }
        Tally::Approval { rows, .. } => {
            out.push_str("proposal_id,title,approvals\n");
            for row in rows {
                out.push_str(&format!(
                    "{},{},{}\n",
                    row.proposal,
                    title(&row.proposal),
                    row.approvals
                ));
            }
        }
        Tally::Budget { rows, .. } => {
            out.push_str("proposal_id,title,cost,approvals,funded\n");
            for row in rows {
                out.push_str(&format!(
                    "{},{},{},{},{}\n",
                    row.proposal,
                    title(&row.proposal),
                    row.cost.map_or(String::new(), |c| c.to_string()),
                    row.approvals,
                    row.funded
                ));
            }
        }
        Tally::MajorityJudgment { rows, .. } => {
            let grades = match &r.view.body.method {
                Method::MajorityJudgment { grades } => grades.clone(),
                _ => Vec::new(),
            };
            let header: Vec<String> = grades.iter().map(|g| csv_field(g)).collect();
            out.push_str(&format!(
                "proposal_id,title,{},median_grade\n",
                header.join(",")
            ));
            for row in rows {
                let profile: Vec<String> = row.profile.iter().map(u64::to_string).collect();
                out.push_str(&format!(
                    "{},{},{},{}\n",
                    row.proposal,
                    title(&row.proposal),
                    profile.join(","),
                    csv_field(
                        grades
                            .get(row.median_grade as usize)
                            .map_or("", String::as_str)
                    )
                ));
            }
        }
    }
    out
}

fn to_pb(r: &Recount, tally: &Tally) -> anyhow::Result<String> {
    let Tally::Budget {
        budget, rule, rows, ..
    } = tally
    else {
        anyhow::bail!("pabulib files are for participatory budgets; use json or csv");
    };
    let projects: Vec<ProjectRow> = rows
        .iter()
        .map(|row| ProjectRow {
            id: row.proposal.to_string(),
            cost: row
                .cost
                .or_else(|| r.costs.get(&row.proposal).copied().flatten())
                .unwrap_or(0),
            votes: row.approvals,
            name: r.titles.get(&row.proposal).cloned().unwrap_or_default(),
            selected: row.funded,
        })
        .collect();
    let votes: Vec<Vec<String>> = r
        .counted
        .ballots
        .values()
        .map(|(_, choice)| match choice {
            Choice::Approve(ids) => ids.iter().map(EventId::to_string).collect(),
            _ => Vec::new(),
        })
        .collect();
    let rule_name = match rule {
        palabre_core::tally::BudgetRule::Greedy => "greedy",
        palabre_core::tally::BudgetRule::EqualShares => "equal-shares",
    };
    let meta = [
        ("description", r.view.body.title.clone()),
        ("unit", r.view.id.to_string()),
        ("num_projects", projects.len().to_string()),
        ("num_votes", votes.len().to_string()),
        ("budget", budget.to_string()),
        ("vote_type", "approval".to_owned()),
        ("rule", rule_name.to_owned()),
        ("licence", LICENCE.to_owned()),
    ];
    Ok(pabulib::write(&meta, &projects, &votes))
}

/// Writes the open data of `input`'s consultation in `format` to `out`.
pub fn export(input: &AuditInput, format: Format, out: &Path) -> anyhow::Result<()> {
    let text = render(input, format)?;
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))
}

/// The open data of `input`'s consultation in `format`.
pub fn render(input: &AuditInput, format: Format) -> anyhow::Result<String> {
    let r = recount(input)?;
    let tally = r.counted.tally(&r.view);
    let text = match format {
        Format::Json => {
            let proposals: Vec<_> = r
                .titles
                .iter()
                .map(|(id, t)| json!({"id": id, "title": t, "cost": r.costs.get(id).copied().flatten()}))
                .collect();
            serde_json::to_string_pretty(&json!({
                "licence": LICENCE,
                "consultation": {
                    "id": r.view.id,
                    "title": r.view.body.title,
                    "organiser": r.view.organiser,
                    "authorities": r.view.body.authorities,
                    "vote_open_ms": r.view.body.vote_open_ms,
                    "vote_close_ms": r.view.body.vote_close_ms,
                    "method": r.view.body.method,
                },
                "participation": {
                    "n_ballots_seen": r.counted.n_ballots_seen,
                    "n_voters_counted": r.counted.ballots.len(),
                },
                "proposals": proposals,
                "tally": tally,
            }))?
        }
        Format::Csv => to_csv(&r, &tally),
        Format::Pb => to_pb(&r, &tally)?,
    };
    Ok(text)
}

/// `GET /c/{id}/data/results.{json,csv,pb}`: the same files as `palabre export`, recounted
/// from what this node holds, for anyone to download from the results page.
pub fn routes(backend: std::sync::Arc<crate::backend::NodeBackend>) -> axum::Router {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    async fn file(
        State(backend): State<std::sync::Arc<crate::backend::NodeBackend>>,
        UrlPath((id, name)): UrlPath<(String, String)>,
    ) -> axum::response::Response {
        let (format, content_type) = match name.as_str() {
            "results.json" => (Format::Json, "application/json"),
            "results.csv" => (Format::Csv, "text/csv; charset=utf-8"),
            "results.pb" => (Format::Pb, "text/plain; charset=utf-8"),
            _ => return StatusCode::NOT_FOUND.into_response(),
        };
        let Ok(id) = id.parse::<EventId>() else {
            return StatusCode::NOT_FOUND.into_response();
        };
        // Recounting replays every entry: off the async workers.
        let made = tokio::task::spawn_blocking(move || {
            let input = palabre_web::api::audit_input(&*backend, &id)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            input.map(|i| render(&i, format)).transpose()
        })
        .await;
        match made {
            Ok(Ok(Some(text))) => (
                [
                    (header::CONTENT_TYPE, content_type.to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"palabre-{id}-{name}\""),
                    ),
                ],
                text,
            )
                .into_response(),
            Ok(Ok(None)) => StatusCode::NOT_FOUND.into_response(),
            Ok(Err(e)) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}")).into_response(),
            Err(e) => {
                tracing::error!("open data failed: {e}");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
    axum::Router::new()
        .route("/c/{id}/data/{file}", axum::routing::get(file))
        .with_state(backend)
}
