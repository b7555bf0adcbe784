//! `palabre tally`: recompute a result from plain input with core's tallies, outside any
//! node. Participatory budgets read a pabulib `.pb` file (core's `pabulib`); the other
//! methods read a small CSV, one row per (voter, proposal):
//!
//! ```text
//! voter,proposal,value
//! alice,Parc,1          approval or support: 1 approves (0 or absent does not)
//! bob,Parc,yes          yes/no/abstain: yes, no or abstain
//! carol,Parc,3          majority judgment: the grade index, 0 the worst
//! ,Bancs,               a proposal nobody chose: declared by an empty voter
//! ```
//!
//! The output is the `tally` a node signs in a `result`, with proposal ids derived from
//! the names (`pabulib::project_event_id`) and the map back to the names.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use palabre_core::ids::EventId;
use palabre_core::pabulib::{self, project_event_id};
use palabre_core::tally::{self, Answer, BudgetRule, Candidate, Choice, Method};
use serde_json::json;

/// The methods `palabre tally` recomputes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodName {
    Support,
    YesNoAbstain,
    Approval,
    Budget,
    MajorityJudgment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuleName {
    Greedy,
    EqualShares,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub method: MethodName,
    pub rule: RuleName,
    pub threshold: u64,
    pub max_choices: u32,
    pub grades: Vec<String>,
}

/// The proposal names in order of appearance, and each voter's (proposal, value) rows.
type CsvBallots = (Vec<String>, BTreeMap<String, Vec<(String, String)>>);

fn from_csv(text: &str) -> anyhow::Result<CsvBallots> {
    let mut names: Vec<String> = Vec::new();
    let mut by_voter: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if i == 0 && cols.first() == Some(&"voter") {
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        anyhow::ensure!(cols.len() == 3, "line {}: voter,proposal,value", i + 1);
        anyhow::ensure!(!cols[1].is_empty(), "line {}: a proposal is named", i + 1);
        if !names.iter().any(|n| n == cols[1]) {
            names.push(cols[1].to_owned());
        }
        if !cols[0].is_empty() {
            by_voter
                .entry(cols[0].to_owned())
                .or_default()
                .push((cols[1].to_owned(), cols[2].to_owned()));
        }
    }
    Ok((names, by_voter))
}

/// Reads `input` and prints the recomputed tally as JSON.
pub fn run(input: &Path, o: &Options, budget: Option<u64>) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?;
    let out = recomputed(&text, o, budget).with_context(|| input.display().to_string())?;
    let text = serde_json::to_string_pretty(&out)?;
    // A closed pipe (`| head`) ends the output quietly rather than with a panic.
    let _ = writeln!(std::io::stdout().lock(), "{text}");
    Ok(())
}

/// What [`run`] prints for the file `text`: `{"tally", "proposals"}`.
pub(crate) fn recomputed(
    text: &str,
    o: &Options,
    budget: Option<u64>,
) -> anyhow::Result<serde_json::Value> {
    let (method, candidates, choices, names) = if o.method == MethodName::Budget {
        let instance = pabulib::parse(text).context("not a usable pabulib file")?;
        let (candidates, choices, names) = instance.ballots();
        let rule = match o.rule {
            RuleName::Greedy => BudgetRule::Greedy,
            RuleName::EqualShares => BudgetRule::EqualShares,
        };
        let method = Method::Budget {
            budget: budget.unwrap_or(instance.budget),
            rule,
        };
        (method, candidates, choices, names)
    } else {
        let (list, by_voter) = from_csv(text)?;
        let names: BTreeMap<EventId, String> = list
            .iter()
            .map(|n| (project_event_id(n), n.clone()))
            .collect();
        let candidates: Vec<Candidate> = names
            .keys()
            .map(|id| Candidate {
                id: *id,
                cost: None,
            })
            .collect();
        let mut choices = Vec::new();
        for (voter, rows) in &by_voter {
            let choice = match o.method {
                MethodName::Support | MethodName::Approval => {
                    let mut ids: Vec<EventId> = rows
                        .iter()
                        .filter(|(_, v)| v == "1")
                        .map(|(p, _)| project_event_id(p))
                        .collect();
                    ids.sort();
                    ids.dedup();
                    Choice::Approve(ids)
                }
                MethodName::YesNoAbstain => Choice::Answers(
                    rows.iter()
                        .map(|(p, v)| {
                            let a = match v.as_str() {
                                "yes" => Answer::Yes,
                                "no" => Answer::No,
                                "abstain" => Answer::Abstain,
                                _ => anyhow::bail!("{voter}: {v:?} is not yes, no or abstain"),
                            };
                            Ok((project_event_id(p), a))
                        })
                        .collect::<anyhow::Result<_>>()?,
                ),
                MethodName::MajorityJudgment => Choice::Grades(
                    rows.iter()
                        .map(|(p, v)| {
                            let g: u32 =
                                v.parse().with_context(|| format!("{voter}: grade {v:?}"))?;
                            Ok((project_event_id(p), g))
                        })
                        .collect::<anyhow::Result<_>>()?,
                ),
                MethodName::Budget => unreachable!("budgets read pabulib files"),
            };
            choices.push(choice);
        }
        let method = match o.method {
            MethodName::Support => Method::Support {
                threshold: o.threshold,
            },
            MethodName::YesNoAbstain => Method::YesNoAbstain {},
            MethodName::Approval => Method::Approval {
                max_choices: o.max_choices,
            },
            MethodName::MajorityJudgment => Method::MajorityJudgment {
                grades: o.grades.clone(),
            },
            MethodName::Budget => unreachable!("handled above"),
        };
        (method, candidates, choices, names)
    };
    tally::validate_method(&method).map_err(|e| anyhow::anyhow!("{e}"))?;
    let result = tally::tally(&method, &candidates, &choices);
    let proposals: BTreeMap<String, &String> =
        names.iter().map(|(id, n)| (id.to_string(), n)).collect();
    Ok(json!({"tally": result, "proposals": proposals}))
}
