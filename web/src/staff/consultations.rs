//! Consultations: an administrator writes a draft (kept by the node, editable and
//! previewable as residents will see it), then publishes it — a `consultation` event
//! signed with their own key, which can no longer change. The node closes each log at
//! the end of the vote and the organiser publishes the result once witnesses cosigned
//! (the node's closer does both); the list shows where each consultation stands.
//! During the proposal window an administrator can also put the town hall's own
//! projects forward (with their cost, for a participatory budget).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use palabre_core::event::{Body, ProposalBody, Quotas};
use palabre_core::ids::EventId;
use palabre_core::limits::{MAX_PROPOSAL_BODY_CHARS, MAX_TITLE_CHARS};
use palabre_core::tally::Method;
use palabre_core::view::Phase;
use serde::Deserialize;

use super::draft::{Draft, format_when};
use super::form::{Pairs, value};
use super::*;

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

/// Words in French and in English.
type Words = (&'static str, &'static str);

/// The methods the new-consultation form offers, in its order: (form value, name, what
/// it is for), each in French and English.
const METHODS: &[(&str, Words, Words)] = &[
    (
        "support",
        ("Soutien, avec un seuil", "Support, with a threshold"),
        (
            "chaque proposition qui atteint le seuil de soutiens est retenue (pétitions, idées)",
            "every proposal that reaches the threshold of supports is kept (petitions, ideas)",
        ),
    ),
    (
        "yes_no_abstain",
        ("Oui / non / abstention", "Yes / no / abstain"),
        (
            "une question, ou chaque proposition, tranchée à la majorité",
            "one question, or each proposal, decided by majority",
        ),
    ),
    (
        "approval",
        ("Approbation", "Approval"),
        (
            "chacun choisit quelques propositions au plus ; les plus choisies l'emportent",
            "each resident picks a few proposals at most; the most picked win",
        ),
    ),
    (
        "budget",
        ("Budget participatif", "Participatory budget"),
        (
            "des projets chiffrés, financés dans la limite d'un budget",
            "projects with a cost, funded within a budget",
        ),
    ),
    (
        "majority_judgment",
        ("Jugement majoritaire", "Majority judgment"),
        (
            "chacun donne une mention à chaque proposition ; la meilleure médiane l'emporte",
            "each resident grades every proposal; the best median wins",
        ),
    ),
];

/// Where the draft page stands: a form not saved yet (no draft exists and no problem is
/// shown before a first try), a stored draft, or one just saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    New,
    Stored,
    JustSaved,
}

#[derive(Debug, Deserialize)]
pub struct MethodQuery {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    choose: Option<String>,
}

/// `GET /staff/consultations/new`: the method first (nothing is stored), then, with
/// `?method=…`, the form with only that method's settings. Its first save creates the
/// draft (`create`).
pub async fn new_form<O: Office>(
    State(st): State<Shared<O>>,
    headers: HeaderMap,
    Query(q): Query<MethodQuery>,
) -> Reply {
    let me = st.require(&headers, &[])?;
    let mut d = fresh_draft(&st, &me, String::new());
    let chosen = q.method.filter(|m| METHODS.iter().any(|(v, ..)| v == m));
    let choose = chosen.is_none();
    if let Some(m) = chosen {
        d.method = m;
    }
    Ok(draft_page(&st, &headers, me, d, Stage::New, choose))
}

/// A draft with the form's defaults: a support vote, proposals from tomorrow 08:00 (the
/// town's time) for two weeks, then two weeks of vote.
fn fresh_draft<O: Office>(st: &Staff<O>, me: &Me, id: String) -> Draft {
    const DAY: u64 = 24 * 60 * 60 * 1000;
    // Tomorrow at 08:00, the town's time.
    let zone = st.office.time_zone();
    let start = zone
        .from_wall((zone.wall(st.office.now_ms()) / DAY + 1) * DAY + 8 * 60 * 60 * 1000)
        .unwrap_or(st.office.now_ms());
    Draft {
        id,
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
    }
}

/// `POST /staff/consultations`: the first save of the new-consultation form makes the
/// draft, as typed (a bare request, with its token only, makes one with the defaults).
pub async fn create<O: Office>(
    State(st): State<Shared<O>>,
    headers: HeaderMap,
    Form(form): Form<Pairs>,
) -> Reply {
    let me = st.require_form(&headers, &value(&form, "csrf"), &[])?;
    let id = hex::encode(random::<8>()?);
    let draft = if form.iter().any(|(k, _)| k == "method") {
        Draft::from_form(
            &form,
            id.clone(),
            st.office.now_ms(),
            me.account.login.clone(),
        )
    } else {
        fresh_draft(&st, &me, id.clone())
    };
    st.office
        .office_put(ns::DRAFT, &id, &encode_record(&draft))?;
    st.office.count_action("draft");
    Ok(see_other(&format!("/staff/drafts/{id}")))
}

/// `GET /staff/drafts/{id}/preview`: the draft as the residents' page will show it once
/// published; back to the draft while it is incomplete.
pub async fn preview<O: Office>(
    State(st): State<Shared<O>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    let me = st.require(&headers, &[])?;
    let Some(d) = load_draft(&st, &id)? else {
        return published_already(&st, &headers, me, &id);
    };
    let town = st.office.authority().key;
    let built = d.build(
        town,
        &federated(&st),
        &trustee_capable(&st),
        &st.office.time_zone(),
    );
    let Ok(body) = built else {
        return Ok(see_other(&format!("/staff/drafts/{id}")));
    };
    // Not signed yet, so it has no id of its own.
    let view = palabre_core::view::ConsultationView {
        id: EventId(Hash([0; 32])),
        organiser: town,
        body,
    };
    Ok(crate::site::preview(&*st.office, st.lang(&headers), &view))
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
    /// The method list instead of the form (the form's first step, or a change).
    choose: bool,
    /// (form value, name, what it is for) of every method, in the page's language.
    methods: Vec<(&'static str, &'static str, &'static str)>,
    method_label: &'static str,
    method_help: &'static str,
}

fn draft_page<O: Office>(
    st: &Staff<O>,
    headers: &HeaderMap,
    me: Me,
    mut d: Draft,
    stage: Stage,
    choose: bool,
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
    let built = match stage {
        Stage::New => Err(Vec::new()),
        Stage::Stored | Stage::JustSaved => {
            d.build(me_key, &federated(st), &trustee_capable(st), &zone)
        }
    };
    let (problems, preview) = match built {
        Ok(body) => (
            Vec::new(),
            Some(Preview {
                title: body.title.clone(),
                paragraphs: body.description.split("\n\n").map(str::to_owned).collect(),
                method: crate::site::method_label(st.lang(headers), &body.method),
                proposals: zone.window(body.proposals_open_ms, body.proposals_close_ms),
                vote: zone.window(body.vote_open_ms, body.vote_close_ms),
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
        .settings()
        .federation
        .iter()
        .map(|(k, name)| Partner {
            chosen: d.partners.contains(&k.to_string()),
            key: k.to_string(),
            name: name.clone(),
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
    let default_threshold = super::draft::secrecy::default_threshold(d.trustees.len());
    if !METHODS.iter().any(|(v, ..)| *v == d.method) {
        d.method = "support".into();
    }
    let (_, name, help) = METHODS
        .iter()
        .find(|(v, ..)| *v == d.method)
        .copied()
        .unwrap_or(METHODS[0]);
    let methods = METHODS
        .iter()
        .map(|(v, name, help)| (*v, pick(fr, *name), pick(fr, *help)))
        .collect();
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
        saved: stage == Stage::JustSaved,
        choose,
        methods,
        method_label: pick(fr, name),
        method_help: pick(fr, help),
    })
}

fn pick(fr: bool, (french, english): Words) -> &'static str {
    if fr { french } else { english }
}

fn federated<O: Office>(st: &Staff<O>) -> Vec<PublicKey> {
    st.office
        .settings()
        .federation
        .iter()
        .map(|(k, _)| *k)
        .collect()
}

/// This town and the federated towns whose `authority` event declares an encryption
/// key: the towns a secret vote may name as trustees.
fn trustee_capable<O: Office>(st: &Staff<O>) -> Vec<PublicKey> {
    trustee_choices(st).into_iter().map(|(k, _)| k).collect()
}

fn trustee_choices<O: Office>(st: &Staff<O>) -> Vec<(PublicKey, String)> {
    let me = st.office.authority().key;
    std::iter::once((me, st.office.settings().town_name.clone()))
        .chain(st.office.settings().federation.iter().cloned())
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
    Query(q): Query<MethodQuery>,
) -> Reply {
    let me = st.require(&headers, &[])?;
    match load_draft(&st, &id)? {
        Some(mut d) => {
            // Another method, shown to be saved (nothing changes until then).
            if let Some(m) = q.method.filter(|m| METHODS.iter().any(|(v, ..)| v == m)) {
                d.method = m;
            }
            let choose = q.choose.is_some();
            Ok(draft_page(&st, &headers, me, d, Stage::Stored, choose))
        }
        None => published_already(&st, &headers, me, &id),
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
    Ok(draft_page(&st, &headers, me, d, Stage::JustSaved, false))
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
            let mut res = draft_page(&st, &headers, me, d, Stage::Stored, false);
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
