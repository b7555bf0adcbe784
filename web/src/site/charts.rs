//! Results as inline SVG, drawn on the server: bars for support, approval and yes/no,
//! the merit profile for majority judgment, the spent budget for participatory budgets.
//! Every figure is also given as text rows (the page shows them as a table), so the
//! chart is never the only way to read a result. No style attributes: the CSP forbids
//! inline styles, so colours are SVG presentation attributes.

use palabre_core::tally::{Method, Tally};

use super::i18n::Texts;

pub struct Drawn {
    pub svg: String,
    /// (proposal, what it got), in the order of the chart.
    pub rows: Vec<(String, String)>,
    pub n_ballots: u64,
}

const WIDTH: u64 = 600;
const LABEL_H: u64 = 16;
const BAR_H: u64 = 14;
const ROW_H: u64 = LABEL_H + BAR_H + 8;
/// Worst to best, for majority-judgment grades (up to 7); colour-blind safe, with the
/// grade also written in the rows.
const GRADE_FILLS: [&str; 7] = [
    "#b2182b", "#d6604d", "#f4a582", "#bababa", "#92c5de", "#4393c3", "#2166ac",
];

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn title_of(titles: &[(String, String)], id: &str) -> String {
    titles
        .iter()
        .find(|(i, _)| i == id)
        .map_or_else(|| id[..8.min(id.len())].to_owned(), |(_, t)| t.clone())
}

struct Svg {
    body: String,
    height: u64,
}

impl Svg {
    fn new() -> Svg {
        Svg {
            body: String::new(),
            height: 0,
        }
    }

    fn label(&mut self, text: &str) {
        self.body.push_str(&format!(
            "<text x=\"0\" y=\"{}\">{}</text>",
            self.height + LABEL_H - 3,
            esc(text)
        ));
        self.height += LABEL_H;
    }

    /// One bar made of (share of the width, fill) segments, from the left.
    fn bar(&mut self, segments: &[(f64, &str)]) {
        let mut x = 0.0;
        for (share, fill) in segments {
            let w = (share * WIDTH as f64).max(0.0);
            if w > 0.0 {
                self.body.push_str(&format!(
                    "<rect x=\"{x:.1}\" y=\"{}\" width=\"{w:.1}\" height=\"{BAR_H}\" fill=\"{fill}\"/>",
                    self.height
                ));
            }
            x += w;
        }
        self.height += ROW_H - LABEL_H;
    }

    fn finish(self, aria: &str) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {WIDTH} {h}\" width=\"100%\">{}</svg>",
            esc(aria),
            self.body,
            h = self.height.max(1)
        )
    }
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

const BLUE: &str = "#0b5394";
const GREY: &str = "#bababa";
const GREEN: &str = "#1e6b30";

pub fn draw(t: &Texts, method: &Method, tally: &Tally, titles: &[(String, String)]) -> Drawn {
    let mut svg = Svg::new();
    let mut rows = Vec::new();
    let n_ballots;
    match tally {
        Tally::Support {
            n_ballots: n,
            rows: r,
            ..
        } => {
            n_ballots = *n;
            let mut r = r.clone();
            r.sort_by(|a, b| {
                b.supports
                    .cmp(&a.supports)
                    .then(a.proposal.cmp(&b.proposal))
            });
            for row in r {
                let title = title_of(titles, &row.proposal.to_string());
                let mark = if row.qualified {
                    format!(" · {}", t.qualified)
                } else {
                    String::new()
                };
                svg.label(&format!("{title} — {}{mark}", row.supports));
                svg.bar(&[(
                    share(row.supports, *n),
                    if row.qualified { GREEN } else { BLUE },
                )]);
                rows.push((title, format!("{}{mark}", row.supports)));
            }
        }
        Tally::Approval {
            n_ballots: n,
            rows: r,
            ranking,
            ..
        } => {
            n_ballots = *n;
            for id in ranking {
                let Some(row) = r.iter().find(|x| x.proposal == *id) else {
                    continue;
                };
                let title = title_of(titles, &id.to_string());
                svg.label(&format!("{title} — {}", row.approvals));
                svg.bar(&[(share(row.approvals, *n), BLUE)]);
                rows.push((title, row.approvals.to_string()));
            }
        }
        Tally::YesNoAbstain {
            n_ballots: n,
            rows: r,
            ..
        } => {
            n_ballots = *n;
            for row in r {
                let title = title_of(titles, &row.proposal.to_string());
                let total = row.yes + row.no + row.abstain;
                let mark = if row.adopted {
                    format!(" · {}", t.adopted)
                } else {
                    String::new()
                };
                let text = format!(
                    "{} {} · {} {} · {} {}{mark}",
                    t.yes, row.yes, t.no, row.no, t.abstain, row.abstain
                );
                svg.label(&format!("{title} — {text}"));
                svg.bar(&[
                    (share(row.yes, total), GREEN),
                    (share(row.no, total), GRADE_FILLS[0]),
                    (share(row.abstain, total), GREY),
                ]);
                rows.push((title, text));
            }
        }
        Tally::Budget {
            n_ballots: n,
            budget,
            spent,
            rows: r,
            ..
        } => {
            n_ballots = *n;
            let text = format!("{spent} / {budget} € {}", t.spent);
            svg.label(&format!("{} — {text}", t.budget));
            svg.bar(&[
                (share(*spent, *budget), GREEN),
                (1.0 - share(*spent, *budget), GREY),
            ]);
            rows.push((t.budget.to_owned(), text));
            let mut r = r.clone();
            r.sort_by(|a, b| {
                b.approvals
                    .cmp(&a.approvals)
                    .then(a.proposal.cmp(&b.proposal))
            });
            for row in r {
                let title = title_of(titles, &row.proposal.to_string());
                let cost = row.cost.map_or(String::new(), |c| format!(" · {c} €"));
                let mark = if row.funded {
                    format!(" · {}", t.funded)
                } else {
                    String::new()
                };
                let text = format!("{}{cost}{mark}", row.approvals);
                svg.label(&format!("{title} — {text}"));
                svg.bar(&[(
                    share(row.approvals, *n),
                    if row.funded { GREEN } else { BLUE },
                )]);
                rows.push((title, text));
            }
        }
        Tally::MajorityJudgment {
            n_ballots: n,
            rows: r,
            ranking,
            ..
        } => {
            n_ballots = *n;
            let grades: Vec<String> = match method {
                Method::MajorityJudgment { grades } => grades.clone(),
                _ => Vec::new(),
            };
            for id in ranking {
                let Some(row) = r.iter().find(|x| x.proposal == *id) else {
                    continue;
                };
                let title = title_of(titles, &id.to_string());
                let median = grades
                    .get(row.median_grade as usize)
                    .cloned()
                    .unwrap_or_default();
                let total: u64 = row.profile.iter().sum();
                let profile: Vec<String> = row
                    .profile
                    .iter()
                    .enumerate()
                    .map(|(g, k)| format!("{} {k}", grades.get(g).map_or("", String::as_str)))
                    .collect();
                let text = format!("{} : {median} ({})", t.median, profile.join(", "));
                svg.label(&format!("{title} — {}: {median}", t.median));
                let fills = grade_fills(row.profile.len());
                let segments: Vec<(f64, &str)> = row
                    .profile
                    .iter()
                    .zip(fills)
                    .map(|(k, fill)| (share(*k, total), fill))
                    .collect();
                svg.bar(&segments);
                rows.push((title, text));
            }
        }
    }
    Drawn {
        svg: svg.finish(&format!("{n_ballots} {}", t.ballots)),
        rows,
        n_ballots,
    }
}

/// `n` fills spread over the palette, worst to best.
fn grade_fills(n: usize) -> Vec<&'static str> {
    (0..n)
        .map(|g| {
            let i = if n <= 1 { 6 } else { g * 6 / (n - 1) };
            GRADE_FILLS[i]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_escaped_in_the_svg() {
        let mut svg = Svg::new();
        svg.label("<script>alert(1)</script> & \"x\"");
        let out = svg.finish("a");
        assert!(!out.contains("<script>"));
        assert!(out.contains("&lt;script&gt;"));
        assert!(out.contains("&amp; &quot;x&quot;"));
    }

    #[test]
    fn grade_colours_run_from_worst_to_best() {
        assert_eq!(grade_fills(2), vec![GRADE_FILLS[0], GRADE_FILLS[6]]);
        assert_eq!(grade_fills(7), GRADE_FILLS.to_vec());
    }
}
