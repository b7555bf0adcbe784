//! Results as inline SVG, drawn on the server: bars for support, approval and yes/no,
//! the merit profile for majority judgment (one stacked bar of grades per proposal, the
//! median marked), and for a participatory budget the money spent, funded projects
//! first and solid, the others pale. Every figure is also given as text rows (the page
//! shows them as a table), so the chart is never the only way to read a result.
//!
//! The SVG has no viewBox: a viewBox scales text with the chart, down to unreadable on a
//! phone. Bars are drawn in percent of the chart's width and text in CSS pixels (the
//! stylesheet's size, at least 12 px), labels wrapped on the server to fit a 360 px
//! screen. No style attributes: the CSP forbids inline styles, so colours are SVG
//! presentation attributes. The page's words and its table are `results.rs`'s.

use palabre_core::ids::EventId;
use palabre_core::tally::{BudgetRow, MajorityJudgmentRow, Method, Tally};

use super::i18n::Lang;

pub struct Drawn {
    pub svg: String,
    /// (proposal, what it got), in the order of the chart.
    pub rows: Vec<(String, String)>,
    pub n_ballots: u64,
}

/// One line of label text, in CSS pixels (the stylesheet sets 14 px text).
const LINE_H: u64 = 18;
/// Where a line's baseline sits below its top.
const BASELINE: u64 = 14;
const BAR_H: u64 = 16;
/// Where text starts: a glyph may reach left of its origin ("Y"), and the chart clips.
const TEXT_X: u64 = 2;
/// Space below a bar, before the next label.
const GAP: u64 = 10;
/// The longest label line, in characters: 14 px text on the 328 px a 360 px screen
/// leaves the chart, with room for wide letters.
const WRAP_CHARS: usize = 36;
/// The width a legend line may take, in pixels (the same screen).
const LEGEND_PX: u64 = 300;
/// Worst to best, for majority-judgment grades (up to 7); colour-blind safe, with the
/// grade also written in the rows.
const GRADE_FILLS: [&str; 7] = [
    "#b2182b", "#d6604d", "#f4a582", "#bababa", "#92c5de", "#4393c3", "#2166ac",
];
const BLUE: &str = "#0b5394";
const GREY: &str = "#bababa";
const GREEN: &str = "#1e6b30";
/// An unfunded project's bar: pale beside the funded ones.
const PALE: &str = "#c6dbef";
const INK: &str = "#1b1b1b";
const TRACK: &str = "#f0f0f0";

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

fn title_of(titles: &[(String, String)], id: &EventId) -> String {
    let id = id.to_string();
    titles
        .iter()
        .find(|(i, _)| *i == id)
        .map_or_else(|| id[..8.min(id.len())].to_owned(), |(_, t)| t.clone())
}

/// `text` cut into lines of at most `WRAP_CHARS` characters, at spaces where it can
/// (a word longer than a line is cut where it must).
fn wrap(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > WRAP_CHARS {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..WRAP_CHARS).collect());
        }
        let word: String = word.into_iter().collect();
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > WRAP_CHARS {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
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

    fn text_lines(&mut self, text: &str, attributes: &str) {
        if text.is_empty() {
            return;
        }
        for line in wrap(text) {
            self.body.push_str(&format!(
                "<text x=\"{TEXT_X}\" y=\"{}\"{attributes}>{}</text>",
                self.height + BASELINE,
                esc(&line)
            ));
            self.height += LINE_H;
        }
    }

    /// A label above a bar: its title, then what it got, each wrapped to the screen.
    fn label(&mut self, title: &str, value: &str) {
        self.text_lines(title, "");
        self.text_lines(value, "");
    }

    /// A label in bold: what the chart puts forward (a funded project).
    fn strong_label(&mut self, title: &str, value: &str) {
        self.text_lines(title, " font-weight=\"bold\"");
        self.text_lines(value, " font-weight=\"bold\"");
    }

    /// A sentence on its own, wrapped to the screen.
    fn note(&mut self, text: &str) {
        self.text_lines(text, "");
    }

    /// One bar made of (share of the width, fill) segments, from the left, over a
    /// faint track of the whole width (so that an empty bar still reads as one).
    fn bar(&mut self, segments: &[(f64, &str)]) {
        self.body.push_str(&format!(
            "<rect width=\"100%\" y=\"{}\" height=\"{BAR_H}\" fill=\"{TRACK}\"/>",
            self.height
        ));
        let mut x = 0.0;
        for (share, fill) in segments {
            let w = (share * 100.0).max(0.0);
            if w > 0.0 {
                self.body.push_str(&format!(
                    "<rect x=\"{x:.2}%\" y=\"{}\" width=\"{w:.2}%\" height=\"{BAR_H}\" fill=\"{fill}\"/>",
                    self.height
                ));
            }
            x += w;
        }
        self.height += BAR_H + GAP;
    }

    /// The line at half the width across the bar just drawn: the median ballot.
    fn median_mark(&mut self) {
        let bottom = self.height - GAP + 3;
        self.body.push_str(&format!(
            "<line x1=\"50%\" x2=\"50%\" y1=\"{}\" y2=\"{bottom}\" stroke=\"{INK}\" stroke-width=\"3\"/>",
            bottom - BAR_H - 6
        ));
    }

    /// Colour swatches with their names, as many to a line as fit the screen.
    fn legend(&mut self, items: &[(&str, &str)]) {
        let mut x = 0;
        for (name, fill) in items {
            let w = 20 + 9 * name.chars().count() as u64 + 12;
            if x > 0 && x + w > LEGEND_PX {
                x = 0;
                self.height += LINE_H;
            }
            self.body.push_str(&format!(
                "<rect x=\"{x}\" y=\"{}\" width=\"14\" height=\"14\" fill=\"{fill}\"/><text x=\"{}\" y=\"{}\">{}</text>",
                self.height + 2,
                x + 20,
                self.height + BASELINE,
                esc(name)
            ));
            x += w;
        }
        self.height += LINE_H + GAP;
    }

    fn finish(self, aria: &str) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\" width=\"100%\" height=\"{h}\">{}</svg>",
            esc(aria),
            self.body,
            h = self.height.max(1)
        )
    }
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

/// The chart and the rows of `tally`, in `lang`'s words.
pub fn draw(lang: Lang, method: &Method, tally: &Tally, titles: &[(String, String)]) -> Drawn {
    let t = lang.texts();
    let mut svg = Svg::new();
    let (n_ballots, rows) = match tally {
        Tally::Support {
            n_ballots, rows, ..
        } => {
            let mut r = rows.clone();
            r.sort_by(|a, b| {
                b.supports
                    .cmp(&a.supports)
                    .then(a.proposal.cmp(&b.proposal))
            });
            let rows = r
                .iter()
                .map(|row| {
                    let title = title_of(titles, &row.proposal);
                    let mark = if row.qualified {
                        format!(" · {}", t.qualified)
                    } else {
                        String::new()
                    };
                    let text = format!("{}{mark}", lang.n_supports(row.supports));
                    svg.label(&title, &text);
                    let fill = if row.qualified { GREEN } else { BLUE };
                    svg.bar(&[(share(row.supports, *n_ballots), fill)]);
                    (title, text)
                })
                .collect();
            (*n_ballots, rows)
        }
        Tally::Approval {
            n_ballots,
            rows,
            ranking,
            ..
        } => {
            let rows = ranking
                .iter()
                .filter_map(|id| rows.iter().find(|x| x.proposal == *id))
                .map(|row| {
                    let title = title_of(titles, &row.proposal);
                    let text = lang.n_approvals(row.approvals);
                    svg.label(&title, &text);
                    svg.bar(&[(share(row.approvals, *n_ballots), BLUE)]);
                    (title, text)
                })
                .collect();
            (*n_ballots, rows)
        }
        Tally::YesNoAbstain {
            n_ballots, rows, ..
        } => {
            let rows = rows
                .iter()
                .map(|row| {
                    let title = title_of(titles, &row.proposal);
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
                    svg.label(&title, &text);
                    svg.bar(&[
                        (share(row.yes, total), GREEN),
                        (share(row.no, total), GRADE_FILLS[0]),
                        (share(row.abstain, total), GREY),
                    ]);
                    (title, text)
                })
                .collect();
            (*n_ballots, rows)
        }
        Tally::Budget {
            n_ballots,
            budget,
            spent,
            rows,
            winners,
            ..
        } => {
            let money = (*n_ballots, *budget, *spent);
            let rows = spending(lang, &mut svg, money, rows, winners, titles);
            (*n_ballots, rows)
        }
        Tally::MajorityJudgment {
            n_ballots,
            rows,
            ranking,
            ..
        } => {
            let grades: &[String] = match method {
                Method::MajorityJudgment { grades } => grades,
                _ => &[],
            };
            let in_order: Vec<&MajorityJudgmentRow> = ranking
                .iter()
                .filter_map(|id| rows.iter().find(|x| x.proposal == *id))
                .collect();
            let rows = merit_profile(lang, &mut svg, grades, &in_order, titles);
            (*n_ballots, rows)
        }
    };
    Drawn {
        svg: svg.finish(&lang.n_ballots(n_ballots)),
        rows,
        n_ballots,
    }
}

/// A participatory budget: the money spent, then the funded projects in the order the
/// rule chose them, solid and in bold, then the others by approvals, pale; each bar is
/// its share of the `n_ballots` counted.
fn spending(
    lang: Lang,
    svg: &mut Svg,
    (n_ballots, budget, spent): (u64, u64, u64),
    rows: &[BudgetRow],
    winners: &[EventId],
    titles: &[(String, String)],
) -> Vec<(String, String)> {
    let t = lang.texts();
    let text = format!("{spent} / {budget} € {}", t.spent);
    svg.label(t.budget, &text);
    svg.bar(&[
        (share(spent, budget), GREEN),
        (1.0 - share(spent, budget), GREY),
    ]);
    let mut out = vec![(t.budget.to_owned(), text)];
    let mut unfunded: Vec<&BudgetRow> = rows.iter().filter(|r| !r.funded).collect();
    unfunded.sort_by(|a, b| {
        b.approvals
            .cmp(&a.approvals)
            .then(a.proposal.cmp(&b.proposal))
    });
    let funded = winners
        .iter()
        .filter_map(|id| rows.iter().find(|r| r.proposal == *id && r.funded));
    for row in funded.chain(unfunded) {
        let title = title_of(titles, &row.proposal);
        let cost = row.cost.map_or(String::new(), |c| format!(" · {c} €"));
        let mark = if row.funded {
            format!(" · {}", t.funded)
        } else {
            String::new()
        };
        let text = format!("{}{cost}{mark}", lang.n_approvals(row.approvals));
        let bar = share(row.approvals, n_ballots);
        if row.funded {
            svg.strong_label(&title, &text);
            svg.bar(&[(bar, GREEN)]);
        } else {
            svg.label(&title, &text);
            svg.bar(&[(bar, PALE)]);
        }
        out.push((title, text));
    }
    out
}

/// Majority judgment's merit profile: what the line at half means and the grades'
/// colours, then per proposal (best first, the tally's order) its majority grade in
/// words and one bar of its grades, worst on the left, each as wide as its share of the
/// ballots, crossed by the line at half: the grade under the line is the majority grade.
fn merit_profile(
    lang: Lang,
    svg: &mut Svg,
    grades: &[String],
    rows: &[&MajorityJudgmentRow],
    titles: &[(String, String)],
) -> Vec<(String, String)> {
    let t = lang.texts();
    // "mention majoritaire : Bien", "majority grade: Good".
    let colon = match lang {
        Lang::Fr => " :",
        Lang::En => ":",
    };
    let n_grades = rows.iter().map(|r| r.profile.len()).max().unwrap_or(0);
    let fills = grade_fills(n_grades.max(grades.len()));
    svg.note(t.median_line);
    let legend: Vec<(&str, &str)> = grades
        .iter()
        .zip(&fills)
        .map(|(g, f)| (g.as_str(), *f))
        .collect();
    svg.legend(&legend);
    let mut out = Vec::new();
    for row in rows {
        let title = title_of(titles, &row.proposal);
        let total: u64 = row.profile.iter().sum();
        // With no ballot the tally's median is grade 0, which no one gave.
        let median = if total == 0 {
            t.no_grade
        } else {
            grades
                .get(row.median_grade as usize)
                .map_or("", String::as_str)
        };
        let profile: Vec<String> = row
            .profile
            .iter()
            .enumerate()
            .map(|(g, k)| format!("{} {k}", grades.get(g).map_or("", String::as_str)))
            .collect();
        svg.label(&title, &format!("{}{colon} {median}", t.median));
        let segments: Vec<(f64, &str)> = row
            .profile
            .iter()
            .zip(&fills)
            .map(|(k, fill)| (share(*k, total), *fill))
            .collect();
        svg.bar(&segments);
        svg.median_mark();
        out.push((
            title,
            format!("{}{colon} {median} ({})", t.median, profile.join(", ")),
        ));
    }
    out
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
    use palabre_core::tally::BudgetRule;

    fn id(n: u8) -> EventId {
        EventId::of_signed_bytes(&[n])
    }

    fn titles() -> Vec<(String, String)> {
        (1..=3)
            .map(|n| (id(n).to_string(), format!("Projet {n}")))
            .collect()
    }

    /// The `<rect>`s of `svg` with `fill`, as (x, width) in percent.
    fn rects(svg: &str, fill: &str) -> Vec<(f64, f64)> {
        let number = |rect: &str, name: &str| -> f64 {
            let start = rect.find(&format!(" {name}=\"")).expect("attribute") + name.len() + 3;
            let end = start + rect[start..].find('%').expect("a percent");
            rect[start..end].parse().expect("a number")
        };
        svg.split("<rect")
            .skip(1)
            .filter(|r| r.contains(&format!("fill=\"{fill}\"")) && r.contains('%'))
            .map(|r| (number(r, "x"), number(r, "width")))
            .collect()
    }

    #[test]
    fn titles_are_escaped_in_the_svg() {
        let mut svg = Svg::new();
        svg.note("<script>alert(1)</script> & \"x\"");
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

    /// Text is never scaled with the chart (no viewBox), and labels are cut to fit a
    /// phone, at spaces.
    #[test]
    fn labels_wrap_to_a_phone_and_are_not_scaled() {
        let text = "Fermer la rue du Marché aux voitures le samedi matin";
        let lines = wrap(text);
        assert!(lines.len() > 1, "{lines:?}");
        assert!(
            lines.iter().all(|l| l.chars().count() <= WRAP_CHARS),
            "{lines:?}"
        );
        assert_eq!(lines.join(" "), text);
        assert_eq!(
            wrap(&"x".repeat(WRAP_CHARS + 8)),
            vec!["x".repeat(WRAP_CHARS), "x".repeat(8)]
        );
        let mut svg = Svg::new();
        svg.note("a");
        assert!(!svg.finish("a").contains("viewBox"));
    }

    /// Issue 20, point 10: majority judgment as a merit profile: one stacked bar per
    /// proposal in the tally's order, grades worst to best, each segment as wide as its
    /// share, the line at half, the majority grade in words.
    #[test]
    fn majority_judgment_is_a_merit_profile() {
        let grades: Vec<String> = ["À rejeter", "Passable", "Bien"].map(String::from).into();
        let method = Method::MajorityJudgment {
            grades: grades.clone(),
        };
        let tally = Tally::MajorityJudgment {
            n_ballots: 4,
            n_invalid: 0,
            assisted: Vec::new(),
            rows: vec![
                MajorityJudgmentRow {
                    proposal: id(1),
                    profile: vec![3, 0, 1],
                    median_grade: 0,
                },
                MajorityJudgmentRow {
                    proposal: id(2),
                    profile: vec![1, 1, 2],
                    median_grade: 1,
                },
            ],
            ranking: vec![id(2), id(1)],
        };
        let drawn = draw(Lang::Fr, &method, &tally, &titles());
        let svg = &drawn.svg;
        assert_eq!(
            svg.matches("<line x1=\"50%\" x2=\"50%\"").count(),
            2,
            "{svg}"
        );
        // Each title, then its majority grade on the next line.
        let line_after = |title: &str| {
            let at = svg.find(&format!(">{title}</text>")).expect("the title");
            let next = svg[at..].split("</text>").nth(1).expect("a next line");
            (at, next.rsplit('>').next().expect("its text").to_owned())
        };
        let (first, median) = line_after("Projet 2");
        assert_eq!(median, "mention majoritaire : Passable");
        let (second, median) = line_after("Projet 1");
        assert_eq!(median, "mention majoritaire : À rejeter");
        assert!(first < second, "the tally's order: {svg}");
        let fills = grade_fills(3);
        // Projet 2 then Projet 1, each from the left edge to the right one.
        assert_eq!(
            rects(svg, fills[0]),
            vec![(0.0, 25.0), (0.0, 75.0)],
            "{svg}"
        );
        assert_eq!(rects(svg, fills[1]), vec![(25.0, 25.0)], "{svg}");
        assert_eq!(
            rects(svg, fills[2]),
            vec![(50.0, 50.0), (75.0, 25.0)],
            "{svg}"
        );
        // The legend names every grade beside its colour.
        for (g, fill) in grades.iter().zip(&fills) {
            assert!(svg.contains(&format!("fill=\"{fill}\"/><text")), "{svg}");
            assert!(svg.contains(&format!(">{}</text>", esc(g))), "{svg}");
        }
        assert_eq!(drawn.rows[0].0, "Projet 2");
        assert_eq!(
            drawn.rows[0].1,
            "mention majoritaire : Passable (À rejeter 1, Passable 1, Bien 2)"
        );
        // No ballot: no grade is named, the worst least of all.
        let empty = Tally::MajorityJudgment {
            n_ballots: 0,
            n_invalid: 0,
            assisted: Vec::new(),
            rows: vec![MajorityJudgmentRow {
                proposal: id(1),
                profile: vec![0, 0, 0],
                median_grade: 0,
            }],
            ranking: vec![id(1)],
        };
        let none = draw(Lang::Fr, &method, &empty, &titles());
        assert!(
            none.rows[0]
                .1
                .starts_with("mention majoritaire : aucune, pas encore de bulletin ("),
            "{:?}",
            none.rows
        );
        let en = draw(Lang::En, &method, &tally, &titles());
        assert!(en.svg.contains(">majority grade: Passable<"), "{}", en.svg);
    }

    /// Issue 20, point 10: funded projects stand out: first, in bold, solid and said
    /// funded; the others pale and not said funded.
    #[test]
    fn the_budget_puts_funded_projects_forward() {
        let row = |n: u8, approvals: u64, funded: bool| BudgetRow {
            proposal: id(n),
            cost: Some(1_000 * u64::from(n)),
            approvals,
            funded,
        };
        let tally = Tally::Budget {
            n_ballots: 4,
            n_invalid: 0,
            assisted: Vec::new(),
            rule: BudgetRule::EqualShares,
            budget: 3_000,
            spent: 3_000,
            rows: vec![row(1, 1, true), row(2, 2, true), row(3, 4, false)],
            winners: vec![id(2), id(1)],
        };
        let method = Method::Budget {
            budget: 3_000,
            rule: BudgetRule::EqualShares,
        };
        let drawn = draw(Lang::Fr, &method, &tally, &titles());
        let svg = &drawn.svg;
        let names: Vec<&str> = drawn.rows.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Budget", "Projet 2", "Projet 1", "Projet 3"]);
        assert_eq!(drawn.rows[1].1, "2 approbations · 2000 € · financée");
        assert_eq!(drawn.rows[2].1, "1 approbation · 1000 € · financée");
        assert_eq!(drawn.rows[3].1, "4 approbations · 3000 €");
        assert!(
            svg.contains(" font-weight=\"bold\">2 approbations · 2000 € · financée<"),
            "{svg}"
        );
        assert!(svg.contains(" font-weight=\"bold\">Projet 1<"), "{svg}");
        assert!(!svg.contains("bold\">Projet 3"), "{svg}");
        // Solid for the funded (the spent budget's bar is solid too), pale for the rest.
        assert_eq!(
            rects(svg, GREEN),
            vec![(0.0, 100.0), (0.0, 50.0), (0.0, 25.0)],
            "{svg}"
        );
        assert_eq!(rects(svg, PALE), vec![(0.0, 100.0)], "{svg}");
        assert!(svg.contains("aria-label=\"4 bulletins\""), "{svg}");
    }
}
