//! Reading participatory-budgeting instances in the pabulib `.pb` format (the format of
//! the public PB data library, pabulib.org), so that anyone can recompute a budget with
//! Palabre's own rules from published data: `palabre tally --method budget`.
//!
//! A `.pb` file has three sections, each introduced by a line `META`, `PROJECTS` or
//! `VOTES`, then a header row, then rows; fields are separated by `;` and may be quoted
//! with `"`. Only what a tally needs is read: `budget` and `vote_type` from META,
//! `project_id` and `cost` from PROJECTS, `vote` (comma-separated project ids) from
//! VOTES. Only approval votes are supported; anything else is an error, never a guess.

use std::collections::BTreeMap;

use crate::ids::{EventId, Hash};
use crate::tally::{Candidate, Choice};

/// Why a `.pb` file cannot be read as an approval budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PabulibError {
    /// A line that cannot be read (a bad number, a missing field, ...).
    #[error("line {line}: {what}")]
    Malformed {
        /// The 1-based line of the file.
        line: usize,
        /// What is wrong there.
        what: String,
    },
    /// The file lacks the named section (`META`, `PROJECTS` or `VOTES`).
    #[error("the file has no {0} section")]
    MissingSection(&'static str),
    /// META lacks the named key (`budget`, `vote_type`).
    #[error("META has no {0}")]
    MissingMeta(&'static str),
    /// META's `vote_type` is not `approval`; carries the one found.
    #[error("vote_type {0:?} is not supported (only approval)")]
    UnsupportedVoteType(String),
    /// A vote names a project id that PROJECTS does not list; carries it.
    #[error("a vote names project {0:?}, which PROJECTS does not list")]
    UnknownProject(String),
}

/// An approval participatory budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The money available, in whole currency units.
    pub budget: u64,
    /// (project id as in the file, cost), in file order.
    pub projects: Vec<(String, u64)>,
    /// One approval set per voter, as project ids of the file.
    pub votes: Vec<Vec<String>>,
}

/// Splits one row on `;`, honouring `"…"` quoting (`""` is a quote inside quotes).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (';', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out.into_iter().map(|f| f.trim().to_owned()).collect()
}

fn integer(text: &str, line: usize, what: &str) -> Result<u64, PabulibError> {
    // Some files write integral amounts as "1200.0".
    let t = text.strip_suffix(".0").unwrap_or(text);
    t.parse().map_err(|_| PabulibError::Malformed {
        line,
        what: format!("{what} {text:?} is not a whole number"),
    })
}

/// Reads a `.pb` file of approval votes; anything else, or anything it cannot read,
/// is an error, never a guess.
pub fn parse(text: &str) -> Result<Instance, PabulibError> {
    // section name → (header, rows with their line numbers)
    type Rows = Vec<(usize, Vec<String>)>;
    let mut sections: BTreeMap<&'static str, (Vec<String>, Rows)> = BTreeMap::new();
    let mut current: Option<&'static str> = None;
    let mut header_next = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim().trim_start_matches('\u{feff}');
        if trimmed.is_empty() {
            continue;
        }
        let section = match trimmed.to_ascii_uppercase().as_str() {
            "META" => Some("META"),
            "PROJECTS" => Some("PROJECTS"),
            "VOTES" => Some("VOTES"),
            _ => None,
        };
        if let Some(s) = section {
            current = Some(s);
            header_next = true;
            sections.insert(s, (Vec::new(), Vec::new()));
            continue;
        }
        let Some(s) = current else {
            return Err(PabulibError::Malformed {
                line,
                what: "text before the first section".into(),
            });
        };
        let entry = sections
            .get_mut(s)
            .expect("inserted when the section began");
        if header_next {
            entry.0 = fields(trimmed).iter().map(|f| f.to_lowercase()).collect();
            header_next = false;
        } else {
            entry.1.push((line, fields(trimmed)));
        }
    }
    let column = |section: &'static str, name: &'static str| -> Result<usize, PabulibError> {
        let (header, _) = sections
            .get(section)
            .ok_or(PabulibError::MissingSection(section))?;
        header
            .iter()
            .position(|h| h == name)
            .ok_or(PabulibError::Malformed {
                line: 0,
                what: format!("{section} has no {name} column"),
            })
    };

    let (_, meta_rows) = sections
        .get("META")
        .ok_or(PabulibError::MissingSection("META"))?;
    let meta: BTreeMap<String, (usize, String)> = meta_rows
        .iter()
        .filter(|(_, r)| r.len() >= 2)
        .map(|(line, r)| (r[0].to_lowercase(), (*line, r[1].clone())))
        .collect();
    let (line, budget) = meta
        .get("budget")
        .ok_or(PabulibError::MissingMeta("budget"))?;
    let budget = integer(budget, *line, "budget")?;
    if let Some((_, kind)) = meta.get("vote_type")
        && kind.to_lowercase() != "approval"
    {
        return Err(PabulibError::UnsupportedVoteType(kind.clone()));
    }

    let (id_col, cost_col) = (
        column("PROJECTS", "project_id")?,
        column("PROJECTS", "cost")?,
    );
    let mut projects = Vec::new();
    for (line, row) in &sections["PROJECTS"].1 {
        let get = |c: usize| {
            row.get(c).ok_or(PabulibError::Malformed {
                line: *line,
                what: "a short row".into(),
            })
        };
        projects.push((
            get(id_col)?.clone(),
            integer(get(cost_col)?, *line, "cost")?,
        ));
    }

    let vote_col = column("VOTES", "vote")?;
    let mut votes = Vec::new();
    for (line, row) in &sections
        .get("VOTES")
        .ok_or(PabulibError::MissingSection("VOTES"))?
        .1
    {
        let cell = row.get(vote_col).ok_or(PabulibError::Malformed {
            line: *line,
            what: "a short row".into(),
        })?;
        let chosen: Vec<String> = cell
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(unknown) = chosen
            .iter()
            .find(|p| !projects.iter().any(|(id, _)| id == *p))
        {
            return Err(PabulibError::UnknownProject(unknown.clone()));
        }
        votes.push(chosen);
    }
    Ok(Instance {
        budget,
        projects,
        votes,
    })
}

/// The id a project of a file stands under in a tally: SHA-256 of
/// `"pabulib project " ‖ its id`, so that results name it reproducibly.
pub fn project_event_id(project: &str) -> EventId {
    EventId(Hash::of(format!("pabulib project {project}").as_bytes()))
}

impl Instance {
    /// Candidates and approval ballots for `tally::tally`, with the map back from ids to
    /// the file's project ids.
    pub fn ballots(&self) -> (Vec<Candidate>, Vec<Choice>, BTreeMap<EventId, String>) {
        let names: BTreeMap<EventId, String> = self
            .projects
            .iter()
            .map(|(p, _)| (project_event_id(p), p.clone()))
            .collect();
        let candidates = self
            .projects
            .iter()
            .map(|(p, cost)| Candidate {
                id: project_event_id(p),
                cost: Some(*cost),
            })
            .collect();
        let choices = self
            .votes
            .iter()
            .map(|v| {
                let mut ids: Vec<EventId> = v.iter().map(|p| project_event_id(p)).collect();
                ids.sort();
                ids.dedup();
                Choice::Approve(ids)
            })
            .collect();
        (candidates, choices, names)
    }
}

/// One project of a written `.pb` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRow {
    /// The `project_id` column, as the file names it.
    pub id: String,
    /// The `cost` column, in whole currency units.
    pub cost: u64,
    /// The `votes` column: how many voters approved it.
    pub votes: u64,
    /// The `name` column (line breaks become spaces when written).
    pub name: String,
    /// The `selected` column: whether the rule funded it.
    pub selected: bool,
}

/// A field as `.pb` files write it: quoted when it holds `;`, `"` or a line break.
fn field(text: &str) -> String {
    let flat = text.replace(['\n', '\r'], " ");
    if flat.contains(';') || flat.contains('"') {
        format!("\"{}\"", flat.replace('"', "\"\""))
    } else {
        flat
    }
}

/// Writes an approval participatory budget as a `.pb` file: `meta` rows (key, value),
/// projects, and one approval set per (anonymous) voter. `parse` reads it back.
pub fn write(meta: &[(&str, String)], projects: &[ProjectRow], votes: &[Vec<String>]) -> String {
    let mut out = String::from("META\nkey;value\n");
    for (k, v) in meta {
        out.push_str(&format!("{};{}\n", field(k), field(v)));
    }
    out.push_str("PROJECTS\nproject_id;cost;votes;name;selected\n");
    for p in projects {
        out.push_str(&format!(
            "{};{};{};{};{}\n",
            field(&p.id),
            p.cost,
            p.votes,
            field(&p.name),
            u8::from(p.selected)
        ));
    }
    out.push_str("VOTES\nvoter_id;vote\n");
    for (i, v) in votes.iter().enumerate() {
        out.push_str(&format!("{};{}\n", i + 1, field(&v.join(","))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_and_sections_read() {
        let text = "META\nkey;value\nbudget;\"1000\"\nvote_type;approval\nPROJECTS\nproject_id;cost;name\n1;600;\"Parc; jeux\"\nVOTES\nvoter_id;vote\nv1;1\n";
        let i = parse(text).expect("parses");
        assert_eq!(i.budget, 1000);
        assert_eq!(i.projects, vec![("1".to_owned(), 600)]);
        assert_eq!(i.votes, vec![vec!["1".to_owned()]]);
    }

    #[test]
    fn written_files_read_back() {
        let projects = vec![ProjectRow {
            id: "p1".into(),
            cost: 300,
            votes: 2,
            name: "Bancs; \"ombre\"\nsur deux lignes".into(),
            selected: true,
        }];
        let votes = vec![vec!["p1".to_owned()], vec!["p1".to_owned()]];
        let text = write(
            &[("budget", "1000".into()), ("vote_type", "approval".into())],
            &projects,
            &votes,
        );
        let i = parse(&text).expect("reads back");
        assert_eq!(i.budget, 1000);
        assert_eq!(i.projects, vec![("p1".to_owned(), 300)]);
        assert_eq!(i.votes, votes);
    }

    #[test]
    fn what_is_not_supported_is_refused() {
        let ordinal = "META\nkey;value\nbudget;10\nvote_type;ordinal\nPROJECTS\nproject_id;cost\n1;5\nVOTES\nvoter_id;vote\nv;1\n";
        assert_eq!(
            parse(ordinal),
            Err(PabulibError::UnsupportedVoteType("ordinal".into()))
        );
        let unknown = "META\nkey;value\nbudget;10\nPROJECTS\nproject_id;cost\n1;5\nVOTES\nvoter_id;vote\nv;2\n";
        assert_eq!(
            parse(unknown),
            Err(PabulibError::UnknownProject("2".into()))
        );
        assert_eq!(
            parse("PROJECTS\nproject_id;cost\n"),
            Err(PabulibError::MissingSection("META"))
        );
    }
}
