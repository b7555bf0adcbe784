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
//! A secret consultation is recounted by the whole audit (core's `audit::audit`): its
//! tally is the audit's recount of the plaintexts the decryptors' shares open, and the
//! audit must pass. Its `json` adds `result` (the organiser's signed result), `order`
//! (`"final_mix"`: the order of the outputs of the last mix of the `seal_final` chain,
//! which no one can link to the voters), `layout` and `n_invalid`, and the plaintexts as
//! the tally read them: in row mode `ballots`, one approve list per opened ballot (`null`
//! when invalid); in split mode each proposal's column was shuffled on its own, so no
//! whole ballot exists and `columns` lists each proposal's values instead. Its `pb` lists
//! the valid opened rows in that order.
//!
//! Results still hidden (a vote open without running results) and a secret consultation
//! still sealed (mixing, decrypting) are not exported ([`Unpublished`]).
//!
//! The same files are downloaded from the results page through web's `opendata` route,
//! which decides when a file is made and keeps it; [`routes`] gives it this renderer.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use palabre_core::audit::{AuditInput, AuditOptions, AuditReport, Failure};
use palabre_core::counting::Counted;
use palabre_core::event::{Body, Kind};
use palabre_core::ids::EventId;
use palabre_core::pabulib::{self, ProjectRow};
use palabre_core::purge::Entry;
use palabre_core::secret::result::OpenedChoices;
use palabre_core::tally::{Answer, Choice, Method, Tally};
use palabre_core::view::ConsultationView;
use serde_json::json;

use crate::clock::now_ms;

/// The licence open data is published under.
pub const LICENCE: &str = "Licence Ouverte 2.0 (Etalab)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
    Pb,
}

/// Why a consultation's open data is not exported (yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpublished {
    /// The vote is open and the consultation hides its results until the close.
    Hidden,
    /// A secret consultation without a valid result: its ballots stay sealed while the
    /// trustees mix and decrypt. `waiting` is the audit's note, if it has one.
    Sealed {
        /// What the opening waits for ("waiting for k more trustee towns").
        waiting: Option<String>,
    },
}

impl std::fmt::Display for Unpublished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unpublished::Hidden => f.write_str(palabre_web::opendata::HIDDEN),
            Unpublished::Sealed { waiting } => {
                f.write_str(
                    "the ballots of this secret consultation are still sealed: its open data \
                     is published with its result, once the trustees have mixed and decrypted",
                )?;
                match waiting {
                    Some(w) => write!(f, " ({w})"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for Unpublished {}

/// The consultation replayed from the fetched logs and counted.
struct Recount {
    view: ConsultationView,
    counted: Counted,
    titles: BTreeMap<EventId, String>,
    costs: BTreeMap<EventId, Option<u64>>,
    /// A secret consultation's opening, as the audit recounted it.
    opened: Option<Opened>,
}

/// What the audit found of a secret consultation's opening.
struct Opened {
    /// The organiser's signed result (the audit checked it equals `tally`).
    result: EventId,
    /// The audit's recount of the opened plaintexts.
    tally: Tally,
    /// Those plaintexts as the recount read them, in the final mix's order.
    choices: OpenedChoices,
}

impl Recount {
    /// The tally the open data publishes: the recount of the counted ballots, or of the
    /// opened plaintexts for a secret consultation.
    fn tally(&self) -> Tally {
        match &self.opened {
            Some(o) => o.tally.clone(),
            None => self.counted.tally(&self.view),
        }
    }
}

fn failed(failures: &[Failure]) -> anyhow::Error {
    let first = failures
        .first()
        .map(crate::audit::failure_line)
        .unwrap_or_default();
    anyhow::anyhow!(
        "{} check(s) of the logs do not hold ({first}); run palabre audit",
        failures.len()
    )
}

/// A secret consultation's opening, from the whole audit's `report`: it must pass and
/// hold a valid result.
fn opening(report: AuditReport) -> anyhow::Result<Opened> {
    if !report.failures.is_empty() {
        return Err(failed(&report.failures));
    }
    match (report.result, report.tally, report.opened) {
        (Some(result), Some(tally), Some(choices)) => Ok(Opened {
            result,
            tally,
            choices,
        }),
        _ => Err(Unpublished::Sealed {
            waiting: report
                .notes
                .iter()
                .find(|n| n.rule == "sealed_waiting")
                .map(|n| n.detail.clone()),
        }
        .into()),
    }
}

fn recount(input: &AuditInput, now_ms: u64) -> anyhow::Result<Recount> {
    // Every log checked and replayed as the audit does it, in the one pass of the audit:
    // entries of the consultation judged by admission, those of other consultations kept
    // in place (their own logs may not be here), so an honest federation's open data
    // never fails on them. A public consultation's file needs only that replay; a
    // secret one's needs the audit's judgement of the whole opening too.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let options = AuditOptions { threads };
    let (report, replayed) = palabre_core::audit::audit_and_replay(input, options);
    let ledger = replayed.map_err(|f| failed(&f))?;
    let (view, counted) = ledger
        .count(&input.consultation)
        .context("the consultation is not in the logs")?;
    if !view.results_visible(now_ms) {
        return Err(Unpublished::Hidden.into());
    }
    // A secret consultation's count holds no choice: its tally and plaintexts are the
    // audit's recount of the opening (the mixes, shares and result all judged).
    let opened = match view.body.secrecy {
        Some(_) => Some(opening(report)?),
        None => None,
    };
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
        opened,
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
    let approvals = |choice: &Choice| match choice {
        Choice::Approve(ids) => ids.iter().map(EventId::to_string).collect(),
        _ => Vec::new(),
    };
    // A secret budget's voters are its valid opened rows, in the final mix's order (an
    // invalid one is no voter, as in its tally).
    let votes: Vec<Vec<String>> = match r.opened.as_ref().map(|o| &o.choices) {
        None => r
            .counted
            .ballots
            .values()
            .map(|(_, choice)| approvals(choice))
            .collect(),
        Some(OpenedChoices::Rows(rows)) => rows.iter().flatten().map(approvals).collect(),
        Some(OpenedChoices::Columns(_)) => {
            anyhow::bail!("a split-mode opening has no whole ballots for a pabulib file")
        }
    };
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

/// The members a secret consultation's `json` adds: its result, the order and layout of
/// its plaintexts, and those plaintexts as core's recount read them — whole ballots in
/// row mode, each proposal's column in split mode (its columns are shuffled apart).
fn opened_json(method: &Method, o: &Opened) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    out.insert("result".into(), json!(o.result));
    out.insert("order".into(), json!("final_mix"));
    match &o.choices {
        OpenedChoices::Rows(rows) => {
            let ballots: Vec<serde_json::Value> = rows
                .iter()
                .map(|row| match row {
                    Some(Choice::Approve(ids)) => json!(ids),
                    Some(other) => json!(other),
                    None => serde_json::Value::Null,
                })
                .collect();
            let n_invalid = rows.iter().filter(|r| r.is_none()).count();
            out.insert("layout".into(), json!("row"));
            out.insert("n_invalid".into(), json!(n_invalid));
            out.insert("ballots".into(), json!(ballots));
        }
        OpenedChoices::Columns(columns) => {
            let mut n_invalid = 0;
            let listed: Vec<serde_json::Value> = columns
                .iter()
                .map(|(id, column)| {
                    let values: Vec<serde_json::Value> = column
                        .iter()
                        .map(|v| {
                            v.as_ref()
                                .map_or(serde_json::Value::Null, |c| value_of(method, id, c))
                        })
                        .collect();
                    let invalid = column.iter().filter(|v| v.is_none()).count();
                    n_invalid += invalid;
                    json!({"proposal": id, "n_invalid": invalid, "values": values})
                })
                .collect();
            out.insert("layout".into(), json!("split"));
            out.insert("n_invalid".into(), json!(n_invalid));
            out.insert("columns".into(), json!(listed));
        }
    }
    out
}

/// One split-mode value of proposal `id` as `palabre tally`'s CSV writes it: support 1
/// or 0, `"yes"`, `"no"`, `"abstain"` or `"none"`, a grade index (0 the worst, which is
/// also "not graded").
fn value_of(method: &Method, id: &EventId, choice: &Choice) -> serde_json::Value {
    match (method, choice) {
        (Method::YesNoAbstain {}, Choice::Answers(answers)) => json!(match answers.get(id) {
            Some(Answer::Yes) => "yes",
            Some(Answer::No) => "no",
            Some(Answer::Abstain) => "abstain",
            None => "none",
        }),
        (Method::MajorityJudgment { .. }, Choice::Grades(grades)) => {
            json!(grades.get(id).copied().unwrap_or(0))
        }
        (_, Choice::Approve(ids)) => json!(u8::from(ids.contains(id))),
        (_, other) => json!(other),
    }
}

/// Writes the open data of `input`'s consultation in `format` to `out`.
pub fn export(input: &AuditInput, format: Format, out: &Path) -> anyhow::Result<()> {
    let text = render(input, format)?;
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))
}

/// The open data of `input`'s consultation in `format`.
pub fn render(input: &AuditInput, format: Format) -> anyhow::Result<String> {
    render_at(input, format, now_ms())
}

/// [`render`] at `now_ms` (which decides only whether running results are hidden).
fn render_at(input: &AuditInput, format: Format, now_ms: u64) -> anyhow::Result<String> {
    let r = recount(input, now_ms)?;
    let tally = r.tally();
    let text = match format {
        Format::Json => {
            let proposals: Vec<_> = r
                .titles
                .iter()
                .map(|(id, t)| json!({"id": id, "title": t, "cost": r.costs.get(id).copied().flatten()}))
                .collect();
            let n_voters_counted = match r.view.body.secrecy {
                Some(_) => r.counted.sealed.len(),
                None => r.counted.ballots.len(),
            };
            let mut doc = json!({
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
                    "n_voters_counted": n_voters_counted,
                },
                "proposals": proposals,
                "tally": tally,
            });
            if let (Some(o), Some(fields)) = (&r.opened, doc.as_object_mut()) {
                fields.extend(opened_json(&r.view.body.method, o));
            }
            serde_json::to_string_pretty(&doc)?
        }
        Format::Csv => to_csv(&r, &tally),
        Format::Pb => to_pb(&r, &tally)?,
    };
    Ok(text)
}

/// The open-data routes (web's `opendata`), each file rendered here.
pub fn routes(backend: std::sync::Arc<crate::backend::NodeBackend>) -> axum::Router {
    let render: palabre_web::opendata::Render = std::sync::Arc::new(|input, file| {
        let format = match file {
            palabre_web::opendata::File::Json => Format::Json,
            palabre_web::opendata::File::Csv => Format::Csv,
            palabre_web::opendata::File::Pb => Format::Pb,
        };
        render(input, format).map_err(|e| format!("{e:#}"))
    });
    palabre_web::opendata::routes(backend, render)
}

#[cfg(test)]
mod tests;
