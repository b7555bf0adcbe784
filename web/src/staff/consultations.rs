//! Consultations: an administrator writes a draft (kept by the node, editable and
//! previewable as residents will see it), then publishes it — a `consultation` event
//! signed with their own key, which can no longer change. The node closes each log at
//! the end of the vote and the organiser publishes the result once witnesses cosigned
//! (the node's closer does both); the list shows where each consultation stands.
//! During the proposal window an administrator can also put the town hall's own
//! projects forward (with their cost, for a participatory budget).

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use palabre_core::admission::Phase;
use palabre_core::event::{Body, ConsultationBody, ProposalBody, Quotas};
use palabre_core::ids::EventId;
use palabre_core::limits::{
    MAX_DESCRIPTION_CHARS, MAX_PROPOSAL_BODY_CHARS, MAX_QUOTA, MAX_TITLE_CHARS,
};
use palabre_core::tally::{self, BudgetRule, Method};
use serde::{Deserialize, Serialize};

use super::*;

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
type Problem = (&'static str, &'static str);

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
    let w = crate::site::when(ms);
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
        let secrecy = super::secrecy::secrecy(
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
                super::secrecy::check(&body, &mut problems);
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

/// A draft or a published consultation in the list.
pub(crate) struct Row {
    pub id: String,
    pub title: String,
    pub state: String,
    /// Whether the town hall may still put projects forward (proposal window).
    pub projects: bool,
    pub budget: bool,
    /// Secret ballots: the list links to the key ceremony.
    pub secret: bool,
}

#[derive(Template)]
#[template(path = "staff/consultations.html")]
struct ListPage {
    page: Frame,
    drafts: Vec<Row>,
    published: Vec<Row>,
}

pub async fn list<O: Office>(State(st): State<Shared<O>>, headers: HeaderMap) -> Reply {
    let me = st.require(&headers, &[])?;
    let frame = st.frame_tr(&headers, me, "Consultations", "Consultations");
    let drafts = st.office.office_scan(ns::DRAFT)?;
    let mut drafts: Vec<Draft> = drafts
        .iter()
        .filter_map(|(_, b)| decode_record(b).ok())
        .collect();
    drafts.sort_by_key(|d: &Draft| std::cmp::Reverse(d.updated_ms));
    let drafts = drafts
        .into_iter()
        .map(|d| Row {
            title: if d.title.trim().is_empty() {
                "—".into()
            } else {
                d.title
            },
            id: d.id,
            state: frame.tr("brouillon", "draft").into(),
            projects: false,
            budget: false,
            secret: false,
        })
        .collect();
    let me_key = st.office.authority().key;
    let now = st.office.now_ms();
    let all = st.office.consultations()?;
    let mut published: Vec<Row> = Vec::new();
    let mut mine: Vec<_> = all
        .into_iter()
        .filter(|c| c.participates(&me_key))
        .collect();
    mine.sort_by_key(|c| std::cmp::Reverse(c.body.vote_close_ms));
    for c in mine {
        let state = match c.phase(now) {
            Phase::Upcoming => frame.tr("à venir", "upcoming"),
            Phase::Proposals => frame.tr("propositions ouvertes", "proposals open"),
            Phase::Voting => frame.tr("vote ouvert", "vote open"),
            Phase::Closed => match st.office.closing_state(&c.id) {
                (_, true) => frame.tr(
                    "close, résultat signé publié",
                    "closed, signed result published",
                ),
                (true, false) => frame.tr(
                    "close, registre clos ; résultat dès que les témoins ont cosigné",
                    "closed, log closed; result once the witnesses have cosigned",
                ),
                (false, false) => frame.tr(
                    "close, clôture du registre en cours",
                    "closed, closing the log",
                ),
            },
        };
        published.push(Row {
            secret: c.body.secrecy.is_some(),
            projects: c.accepts(palabre_core::event::Kind::Proposal, now),
            budget: matches!(c.body.method, Method::Budget { .. }),
            id: c.id.to_string(),
            title: c.body.title,
            state: state.into(),
        });
    }
    Ok(page(ListPage {
        page: frame,
        drafts,
        published,
    }))
}

/// Starts a draft with sensible dates: proposals from tomorrow for two weeks, then two
/// weeks of vote.
pub async fn create<O: Office>(
    State(st): State<Shared<O>>,
    headers: HeaderMap,
    Form(form): Form<account::CsrfForm>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, &[])?;
    let id = hex::encode(random::<8>()?);
    const DAY: u64 = 24 * 60 * 60 * 1000;
    // Tomorrow at 08:00, the town's time.
    let zone = st.office.time_zone();
    let start = zone
        .from_wall((zone.wall(st.office.now_ms()) / DAY + 1) * DAY + 8 * 60 * 60 * 1000)
        .unwrap_or(st.office.now_ms());
    let draft = Draft {
        id: id.clone(),
        method: "support".into(),
        threshold: "1".into(),
        max_choices: "3".into(),
        budget: "50000".into(),
        rule: "greedy".into(),
        grades: "À rejeter\nInsuffisant\nPassable\nAssez bien\nBien\nTrès bien\nExcellent".into(),
        proposals_open: format_when(start, &zone),
        proposals_close: format_when(start + 14 * DAY, &zone),
        vote_open: format_when(start + 14 * DAY, &zone),
        vote_close: format_when(start + 28 * DAY, &zone),
        updated_ms: st.office.now_ms(),
        by: me.account.login.clone(),
        ..Draft::default()
    };
    st.office
        .office_put(ns::DRAFT, &id, &encode_record(&draft))?;
    st.office.count_action("draft");
    Ok(see_other(&format!("/staff/drafts/{id}")))
}

/// A partner town offered on the form.
pub(crate) struct Partner {
    pub key: String,
    pub name: String,
    pub chosen: bool,
}

/// The consultation as residents will see it.
pub(crate) struct Preview {
    pub title: String,
    pub paragraphs: Vec<String>,
    pub method: String,
    pub proposals: String,
    pub vote: String,
    pub towns: usize,
}

#[derive(Template)]
#[template(path = "staff/draft.html")]
struct DraftPage {
    page: Frame,
    d: Draft,
    partners: Vec<Partner>,
    /// The towns a secret vote may name as trustees.
    trustees: Vec<Partner>,
    /// ⌊n/2⌋ + 1 for the trustees chosen (the default threshold).
    default_threshold: u64,
    /// The protocol's quotas, shown as the fields' defaults.
    default_quotas: Quotas,
    /// The town's time zone, in which the dates are typed.
    zone: String,
    problems: Vec<&'static str>,
    preview: Option<Preview>,
    saved: bool,
}

fn draft_page<O: Office>(
    st: &Staff<O>,
    headers: &HeaderMap,
    me: Me,
    d: Draft,
    saved: bool,
) -> Response {
    let frame = st.frame_tr(
        headers,
        me,
        "Préparer une consultation",
        "Prepare a consultation",
    );
    let fr = frame.lang == "fr";
    let me_key = st.office.authority().key;
    let zone = st.office.time_zone();
    let (problems, preview) = match d.build(me_key, &federated(st), &trustee_capable(st), &zone) {
        Ok(body) => (
            Vec::new(),
            Some(Preview {
                title: body.title.clone(),
                paragraphs: body.description.split("\n\n").map(str::to_owned).collect(),
                method: crate::site::method_label(st.lang(headers), &body.method),
                proposals: format!(
                    "{} → {}",
                    zone.when(body.proposals_open_ms),
                    zone.when(body.proposals_close_ms)
                ),
                vote: format!(
                    "{} → {}",
                    zone.when(body.vote_open_ms),
                    zone.when(body.vote_close_ms)
                ),
                towns: body.authorities.len(),
            }),
        ),
        Err(p) => (
            p.into_iter().map(|(f, e)| if fr { f } else { e }).collect(),
            None,
        ),
    };
    let partners = st
        .office
        .federation()
        .into_iter()
        .map(|(k, name)| Partner {
            chosen: d.partners.contains(&k.to_string()),
            key: k.to_string(),
            name,
        })
        .collect();
    let trustees = trustee_choices(st)
        .into_iter()
        .map(|(k, name)| Partner {
            chosen: d.trustees.contains(&k.to_string()),
            key: k.to_string(),
            name,
        })
        .collect();
    let default_threshold = super::secrecy::default_threshold(d.trustees.len());
    page(DraftPage {
        page: frame,
        d,
        partners,
        trustees,
        default_threshold,
        default_quotas: Quotas::DEFAULT,
        zone: zone.name().to_owned(),
        problems,
        preview,
        saved,
    })
}

fn federated<O: Office>(st: &Staff<O>) -> Vec<PublicKey> {
    st.office.federation().into_iter().map(|(k, _)| k).collect()
}

/// This town and the federated towns whose `authority` event declares an encryption
/// key: the towns a secret vote may name as trustees.
fn trustee_capable<O: Office>(st: &Staff<O>) -> Vec<PublicKey> {
    trustee_choices(st).into_iter().map(|(k, _)| k).collect()
}

fn trustee_choices<O: Office>(st: &Staff<O>) -> Vec<(PublicKey, String)> {
    let me = st.office.authority().key;
    std::iter::once((me, st.office.town_name()))
        .chain(st.office.federation())
        .filter(|(k, _)| st.office.declares_encryption_key(k).unwrap_or(false))
        .collect()
}

fn load_draft<O: Office>(st: &Staff<O>, id: &str) -> Result<Option<Draft>, BackendError> {
    st.office
        .office_get(ns::DRAFT, id)?
        .map(|b| decode_record(&b))
        .transpose()
}

fn published_already<O: Office>(st: &Staff<O>, headers: &HeaderMap, me: Me, id: &str) -> Reply {
    let lang = st.lang(headers);
    Ok(match st.office.office_get(ns::PUBLISHED, id)? {
        Some(_) => st.refuse(
            headers,
            Some(me),
            StatusCode::CONFLICT,
            "consultation_published",
            if lang == Lang::Fr {
                "Cette consultation est publiée : son texte signé ne peut plus changer."
            } else {
                "This consultation is published: its signed text can no longer change."
            },
        ),
        None => st.refuse(
            headers,
            Some(me),
            StatusCode::NOT_FOUND,
            "not_found",
            if lang == Lang::Fr {
                "Ce brouillon n'existe pas."
            } else {
                "There is no such draft."
            },
        ),
    })
}

pub async fn draft<O: Office>(
    State(st): State<Shared<O>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    let me = st.require(&headers, &[])?;
    match load_draft(&st, &id)? {
        Some(d) => Ok(draft_page(&st, &headers, me, d, false)),
        None => published_already(&st, &headers, me, &id),
    }
}

/// A form whose fields repeat (checkboxes), as name–value pairs.
pub(crate) type Pairs = Vec<(String, String)>;

/// The first value of `name` in a form, or "".
pub(crate) fn value(form: &Pairs, name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
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

pub async fn save<O: Office>(
    State(st): State<Shared<O>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Pairs>,
) -> Reply {
    let me = st.require_form(&headers, &value(&form, "csrf"), &[])?;
    let old = match load_draft(&st, &id)? {
        Some(d) => d,
        None => return published_already(&st, &headers, me, &id),
    };
    let d = Draft::from_form(&form, old.id, st.office.now_ms(), me.account.login.clone());
    st.office.office_put(ns::DRAFT, &d.id, &encode_record(&d))?;
    Ok(draft_page(&st, &headers, me, d, true))
}

pub async fn publish<O: Office>(
    State(st): State<Shared<O>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<account::CsrfForm>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, &[])?;
    let d = match load_draft(&st, &id)? {
        Some(d) => d,
        None => return published_already(&st, &headers, me, &id),
    };
    let body = match d.build(
        st.office.authority().key,
        &federated(&st),
        &trustee_capable(&st),
        &st.office.time_zone(),
    ) {
        Ok(b) => b,
        Err(_) => {
            tracing::info!(staff = %me.account.login, draft = %id, "publication refused: the draft is incomplete");
            let mut res = draft_page(&st, &headers, me, d, false);
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(res);
        }
    };
    let (event, _) = match st
        .sign_and_submit(&me, Body::Consultation(Box::new(body)))
        .await?
    {
        Ok(done) => done,
        Err(r) => return Ok(st.refused(&headers, me, &r)),
    };
    let cid = event.id().to_string();
    // Published first, then the draft goes: a crash between leaves a draft that says it
    // was published, never a consultation that could be published twice.
    st.office.office_put(ns::PUBLISHED, &id, cid.as_bytes())?;
    st.office.office_take(ns::DRAFT, &id)?;
    st.office.count_action("publish");
    tracing::info!(staff = %me.account.login, consultation = %cid, "consultation published");
    Ok(see_other(&format!("/c/{cid}")))
}

#[derive(Deserialize)]
pub struct ProjectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    cost: String,
}

/// The town hall's own project, signed by the administrator.
pub async fn add_project<O: Office>(
    State(st): State<Shared<O>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ProjectForm>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, &[])?;
    let Ok(consultation) = id.parse::<EventId>() else {
        return Ok(st.refuse(
            &headers,
            Some(me),
            StatusCode::BAD_REQUEST,
            "bad_id",
            "bad id",
        ));
    };
    let cost = match form.cost.trim() {
        "" => None,
        c => match c.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return Ok(st.refuse(
                    &headers,
                    Some(me),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bad_cost",
                    "cost: a whole number / un nombre entier",
                ));
            }
        },
    };
    let body = Body::Proposal(ProposalBody {
        consultation,
        title: form
            .title
            .trim()
            .chars()
            .take(MAX_TITLE_CHARS + 1)
            .collect(),
        body: form
            .body
            .replace("\r\n", "\n")
            .trim()
            .chars()
            .take(MAX_PROPOSAL_BODY_CHARS + 1)
            .collect(),
        cost,
    });
    Ok(match st.sign_and_submit(&me, body).await? {
        Ok((event, _)) => {
            st.office.count_action("project");
            see_other(&format!("/p/{}", event.id()))
        }
        Err(r) => st.refused(&headers, me, &r),
    })
}
