//! A consultation being written: the staff form's fields as typed (`Draft`), kept
//! between saves, and the rules that make it a `consultation` body or say what is
//! missing; dates are read and written in the town's time zone.

use palabre_core::crypto::PublicKey;
use palabre_core::event::{ConsultationBody, Quotas};
use palabre_core::limits::{MAX_DESCRIPTION_CHARS, MAX_QUOTA, MAX_TITLE_CHARS};
use palabre_core::tally::{self, BudgetRule, Method};
use serde::{Deserialize, Serialize};

use crate::zone::Zone;

use super::form::{Pairs, value};

pub(super) mod secrecy;

/// A consultation being written: the fields as typed, so the form shows them back.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Draft {
    pub id: String,
    pub title: String,
    pub description: String,
    /// `support`, `yes_no_abstain`, `approval`, `budget` or `majority_judgment`.
    pub method: String,
    pub threshold: String,
    pub max_choices: String,
    pub budget: String,
    /// `greedy` or `equal_shares`.
    pub rule: String,
    /// Grade labels, one per line, worst first.
    pub grades: String,
    /// `YYYY-MM-DDTHH:MM`, UTC.
    pub proposals_open: String,
    pub proposals_close: String,
    pub vote_open: String,
    pub vote_close: String,
    /// Other participating towns (hex keys), from the federation list.
    pub partners: Vec<String>,
    pub show_running: bool,
    /// `secret` for sealed ballots, anything else for public ones (`secrecy.rs`).
    pub ballots: String,
    /// The trustee towns (hex keys) of a secret vote.
    pub trustees: Vec<String>,
    /// Its threshold t; empty: ⌊n/2⌋ + 1.
    pub trustee_threshold: String,
    /// The end of its key window; empty: the close of proposals.
    pub keys_close: String,
    /// Support only: one row over every proposal instead of one ciphertext each.
    pub row_mode: bool,
    /// Proposals one resident may write in it; empty: the protocol's default.
    pub max_proposals: String,
    /// Arguments one resident may write in it; empty: the protocol's default.
    pub max_arguments: String,
    pub updated_ms: u64,
    pub by: String,
}

/// Why a draft cannot be published yet: (French, English).
pub(crate) type Problem = (&'static str, &'static str);

/// Reads `YYYY-MM-DDTHH:MM` (what `<input type=datetime-local>` sends) as the town's
/// wall-clock time: the instant, or `None` when it is no time (or one the clocks skip).
pub(crate) fn parse_when(text: &str, zone: &Zone) -> Option<u64> {
    parse_wall(text).and_then(|wall| zone.from_wall(wall))
}

/// Reads `YYYY-MM-DDTHH:MM` as wall milliseconds (a local calendar's, `Zone::wall`).
fn parse_wall(text: &str) -> Option<u64> {
    let (date, time) = text.trim().split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min) = (t.next()??, t.next()??);
    // Four-digit years only (what the field sends): larger ones overflowed the
    // arithmetic below.
    if !(0..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || !(0..24).contains(&h)
        || !(0..60).contains(&min)
    {
        return None;
    }
    // Howard Hinnant's days-from-civil.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = ((days * 86_400 + h * 3600 + min * 60) * 1000)
        .try_into()
        .ok()?;
    // A day that does not exist (31 April) reads back differently. Only `HH:MM` is
    // compared (seconds may follow); a cut inside a character is no time at all.
    let time = time.trim();
    let hh_mm = if time.len() <= 5 {
        time
    } else {
        time.get(..5)?
    };
    (format_wall(ms) == format!("{}T{hh_mm}", date.trim())).then_some(ms)
}

/// `YYYY-MM-DDTHH:MM` of the instant `ms` in the town's time, as a datetime-local field
/// wants it.
pub(crate) fn format_when(ms: u64, zone: &Zone) -> String {
    format_wall(zone.wall(ms))
}

fn format_wall(ms: u64) -> String {
    let w = crate::zone::when(ms);
    // "YYYY-MM-DD HH:MM UTC"
    format!("{}T{}", &w[..10], &w[11..16])
}

fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

impl Draft {
    /// The consultation this draft describes, with this town and its chosen partners.
    pub fn build(
        &self,
        me: PublicKey,
        federation: &[PublicKey],
        trustee_capable: &[PublicKey],
        zone: &Zone,
    ) -> Result<ConsultationBody, Vec<Problem>> {
        let mut problems = Vec::new();
        let title = self.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            problems.push((
                "Le titre est obligatoire (200 caractères au plus).",
                "A title is required (at most 200 characters).",
            ));
        }
        let description = self.description.replace("\r\n", "\n").trim().to_owned();
        if description.is_empty() || description.chars().count() > MAX_DESCRIPTION_CHARS {
            problems.push((
                "La description est obligatoire (20 000 caractères au plus).",
                "A description is required (at most 20,000 characters).",
            ));
        }
        let method = match self.method.as_str() {
            "support" => number(&self.threshold).map(|threshold| Method::Support { threshold }),
            "yes_no_abstain" => Some(Method::YesNoAbstain {}),
            "approval" => number(&self.max_choices)
                .and_then(|k| u32::try_from(k).ok())
                .map(|max_choices| Method::Approval { max_choices }),
            "budget" => number(&self.budget).map(|budget| Method::Budget {
                budget,
                rule: if self.rule == "equal_shares" {
                    BudgetRule::EqualShares
                } else {
                    BudgetRule::Greedy
                },
            }),
            "majority_judgment" => Some(Method::MajorityJudgment {
                grades: self
                    .grades
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            }),
            _ => None,
        };
        match &method {
            None => problems.push(("Choisissez une méthode de vote et ses paramètres.", "Choose a voting method and its parameters.")),
            Some(m) if tally::validate_method(m).is_err() => problems.push((
                "Les paramètres de la méthode ne conviennent pas (seuil ≥ 1, choix de 1 à 500, budget ≥ 1, 2 à 7 mentions différentes).",
                "The method's parameters are invalid (threshold ≥ 1, 1 to 500 choices, budget ≥ 1, 2 to 7 distinct grades).",
            )),
            Some(_) => {}
        }
        let times: Vec<Option<u64>> = [
            &self.proposals_open,
            &self.proposals_close,
            &self.vote_open,
            &self.vote_close,
        ]
        .into_iter()
        .map(|t| parse_when(t, zone))
        .collect();
        let windows = match times[..] {
            [Some(po), Some(pc), Some(vo), Some(vc)] => Some((po, pc, vo, vc)),
            _ => {
                problems.push((
                    "Indiquez les quatre dates (jour et heure, à l'heure de la commune ; une heure sautée au passage à l'heure d'été n'existe pas).",
                    "Give all four dates (day and time, in the town's time; an hour skipped when summer time starts does not exist).",
                ));
                None
            }
        };
        if let Some((po, pc, vo, vc)) = windows
            && !palabre_core::admission::windows_in_order(po, pc, vo, vc)
        {
            problems.push((
                "Les dates ne sont pas dans l'ordre : les propositions s'ouvrent avant de se fermer, le vote aussi, et le vote ne se termine pas avant les propositions.",
                "The dates are out of order: proposals open before they close, so does the vote, and the vote does not end before proposals.",
            ));
        }
        let mut authorities = vec![me];
        for p in &self.partners {
            match p.parse::<PublicKey>() {
                Ok(k) if k == me || authorities.contains(&k) => {}
                Ok(k) if federation.contains(&k) => authorities.push(k),
                _ => problems.push((
                    "Une commune partenaire est inconnue : choisissez dans la liste de fédération.",
                    "A partner town is unknown: choose from the federation list.",
                )),
            }
        }
        authorities.sort();
        let secrecy = secrecy::secrecy(
            self,
            method.as_ref(),
            windows.map(|w| w.1),
            trustee_capable,
            zone,
            &mut problems,
        );
        let quota = |typed: &str, default: u64| match typed.trim() {
            "" => Some(default),
            t => number(t).filter(|n| (1..=MAX_QUOTA).contains(n)),
        };
        let quotas = match (
            quota(
                &self.max_proposals,
                Quotas::DEFAULT.max_proposals_per_author,
            ),
            quota(
                &self.max_arguments,
                Quotas::DEFAULT.max_arguments_per_author,
            ),
        ) {
            (Some(p), Some(a)) => Some(Quotas {
                max_proposals_per_author: p,
                max_arguments_per_author: a,
            }),
            _ => {
                problems.push((
                    "Les limites par habitant sont des nombres de 1 à 1000 (vide : la valeur par défaut).",
                    "The limits per resident are numbers from 1 to 1000 (empty: the default).",
                ));
                None
            }
        };
        match (problems.is_empty(), method) {
            (true, Some(method)) => {
                let (po, pc, vo, vc) = windows.expect("no problem means four dates");
                let body = ConsultationBody {
                    title,
                    description,
                    authorities,
                    proposals_open_ms: po,
                    proposals_close_ms: pc,
                    vote_open_ms: vo,
                    vote_close_ms: vc,
                    method,
                    // Never for secret ballots (core refuses it): nobody counts early.
                    show_running_results: self.show_running && secrecy.is_none(),
                    secrecy,
                    // Written out (not left to the defaults) so that residents and
                    // auditors read the limits in the signed definition itself.
                    quotas,
                };
                secrecy::check(&body, &mut problems);
                if problems.is_empty() {
                    Ok(body)
                } else {
                    Err(problems)
                }
            }
            _ => Err(problems),
        }
    }
}

impl Draft {
    /// The draft a saved form describes (draft `id`, saved at `updated_ms` by `by`):
    /// each field as typed, clipped to a little over what the event allows.
    pub(crate) fn from_form(form: &Pairs, id: String, updated_ms: u64, by: String) -> Draft {
        // Bounded like the event it becomes: nothing larger than a signed event is kept.
        let clip = |s: String, max: usize| s.chars().take(max).collect::<String>();
        Draft {
            id,
            title: clip(value(form, "title"), MAX_TITLE_CHARS + 1),
            description: clip(value(form, "description"), MAX_DESCRIPTION_CHARS + 1),
            method: clip(value(form, "method"), 40),
            threshold: clip(value(form, "threshold"), 20),
            max_choices: clip(value(form, "max_choices"), 20),
            budget: clip(value(form, "budget"), 20),
            rule: clip(value(form, "rule"), 20),
            grades: clip(value(form, "grades"), 400),
            proposals_open: clip(value(form, "proposals_open"), 20),
            proposals_close: clip(value(form, "proposals_close"), 20),
            vote_open: clip(value(form, "vote_open"), 20),
            vote_close: clip(value(form, "vote_close"), 20),
            partners: form
                .iter()
                .filter(|(k, _)| k == "partner")
                .map(|(_, v)| clip(v.clone(), 64))
                .take(64)
                .collect(),
            show_running: value(form, "show_running") == "on",
            ballots: clip(value(form, "ballots"), 10),
            trustees: form
                .iter()
                .filter(|(k, _)| k == "trustee")
                .map(|(_, v)| clip(v.clone(), 64))
                .take(16)
                .collect(),
            trustee_threshold: clip(value(form, "trustee_threshold"), 20),
            keys_close: clip(value(form, "keys_close"), 20),
            row_mode: value(form, "row_mode") == "on",
            max_proposals: clip(value(form, "max_proposals"), 20),
            max_arguments: clip(value(form, "max_arguments"), 20),
            updated_ms,
            by,
        }
    }
}
