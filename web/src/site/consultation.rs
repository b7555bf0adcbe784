//! `GET /c/{id}`: a consultation, its proposals in a random order (seeded, the same for
//! a visitor on every visit) and its ballot form (`consultation.html`). A secret consultation's form is sealed in the page by
//! `sealed.js` (loaded there only, once its election key and layout are recorded); the
//! page never takes a secret choice without script.
//! The shared frame, loaders and helpers are `mod.rs`'s; the page reads and never writes.

use super::*;

#[derive(Deserialize)]
pub(super) struct SeedQuery {
    seed: Option<u64>,
}

/// How the ballot form asks: which inputs, with what labels.
enum BallotForm {
    Approve { max: Option<u32> },
    Answers,
    Grades(Vec<(usize, String)>),
}

/// A secret consultation's vote form: what `sealed.js` needs to seal the choice in the
/// page (the election key, the layout and its columns in order).
struct SealedForm {
    /// `split` or `row` (the layout's grouping, PROTOCOL.md "The opening").
    mode: &'static str,
    key: String,
    layout: String,
    /// The layout's proposal ids, in column order, space-separated.
    columns: String,
    /// `sealed.js` under its content-hashed name.
    script: String,
}

/// Where a secret consultation's vote stands, for its page.
enum Secret {
    /// The election key and the layout are recorded: ballots are sealed in the page.
    Ready(SealedForm),
    /// Not yet: voting opens once the trustee towns have made the key.
    Waiting,
    /// Fewer than t trustees qualified: no key can exist, no ballot is taken.
    Failed,
}

#[derive(Template)]
#[template(path = "consultation.html")]
struct ConsultationPage {
    page: Layout,
    id: String,
    description: Vec<String>,
    phase: &'static str,
    proposals_window: String,
    vote_window: String,
    method: String,
    /// Who keeps the record, in plain words: the town, or the towns that countersign.
    trust: String,
    /// Public or secret ballots, in plain words (`trust::plain`).
    ballots: String,
    /// What one resident may write in it (the signed quotas, or the defaults).
    quotas: palabre_core::event::Quotas,
    can_propose: bool,
    can_vote: bool,
    results_visible: bool,
    order_note: String,
    proposals: Vec<ProposalItem>,
    form: BallotForm,
    /// How `palabre.js` reads the form: `approve`, `answers` or `grades`.
    form_kind: &'static str,
    /// `None` for public ballots.
    secret: Option<Secret>,
}

/// "One town keeps this record: Ville. Anyone can check…", or, when several towns run
/// the consultation, the towns that countersign it, by the names they declare.
fn trust_line<B: Backend>(
    backend: &B,
    lang: Lang,
    authorities: &[palabre_core::crypto::PublicKey],
) -> String {
    let t = lang.texts();
    let names: Vec<String> = authorities.iter().map(|a| town_name(backend, a)).collect();
    match names.as_slice() {
        [one] => t.trust_single.replace("{town}", one),
        _ => t.trust_federated.replace("{towns}", &lang.list(&names)),
    }
}

pub(super) async fn consultation<B: Backend>(
    State(site): State<Shared<B>>,
    Path(id): Path<String>,
    Query(q): Query<SeedQuery>,
    headers: HeaderMap,
) -> Response {
    let (_, d) = match site.load(&id, &headers) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let now = site.backend.now_ms();
    // A visitor keeps their own order: a number drawn on their first visit (the
    // `order` cookie) gives each consultation its seed. A link's `seed` wins.
    let kept = cookie(&headers, ORDER_COOKIE).and_then(|v| v.parse::<u64>().ok());
    let visitor = kept.unwrap_or_else(|| {
        let n = site.seeds.fetch_add(1, Ordering::Relaxed);
        first_u64(&Hash::of(&[now.to_le_bytes(), n.to_le_bytes()].concat()))
    });
    let seed = q.seed.unwrap_or_else(|| seed_for(visitor, &id));
    let layout = site.layout(&headers, "", format!("/c/{id}?seed={seed}"));
    let mut res = render(&*site.backend, layout, &d.view, d.proposals, seed, now);
    if kept.is_none()
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{ORDER_COOKIE}={visitor}; Path=/; Max-Age=31536000; SameSite=Lax"
        ))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// What a town's staff see before publishing a draft: the page residents will see once
/// it is signed (no proposals yet, nothing to vote on), in the staff member's language.
pub(crate) fn preview<B: Backend>(backend: &B, lang: Lang, view: &ConsultationView) -> Response {
    let authority = backend.authority().key.to_string();
    let layout = Layout::new(lang, "", format!("/c/{}", view.id), authority);
    render(
        backend,
        layout,
        view,
        Vec::new(),
        0,
        view.body.proposals_open_ms,
    )
}

/// The consultation page of `view` with its `proposals` in the order of `seed`, as it
/// stands at `now`.
fn render<B: Backend>(
    backend: &B,
    mut layout: Layout,
    view: &ConsultationView,
    mut proposals: Vec<ProposalItem>,
    seed: u64,
    now: u64,
) -> Response {
    let id = view.id.to_string();
    proposals.sort_by_cached_key(|p| Hash::of(format!("{seed}:{}", p.id).as_bytes()));
    let b = &view.body;
    let lang = Lang::parse(layout.lang).unwrap_or(Lang::Fr);
    let t = layout.t;
    let form = match &b.method {
        Method::YesNoAbstain {} => BallotForm::Answers,
        Method::MajorityJudgment { grades } => {
            BallotForm::Grades(grades.iter().cloned().enumerate().rev().collect())
        }
        Method::Approval { max_choices } => BallotForm::Approve {
            max: Some(*max_choices),
        },
        _ => BallotForm::Approve { max: None },
    };
    let phase = view.phase(now);
    let ceremony = backend.ceremony(view).ok().flatten();
    let secret = b.secrecy.as_ref().map(|secrecy| match &ceremony {
        Some(crate::trust::Ceremony {
            election_key: Some((_, key)),
            layout: Some((layout, columns)),
            ..
        }) => Secret::Ready(SealedForm {
            mode: if secrecy.split { "split" } else { "row" },
            key: key.clone(),
            layout: layout.to_string(),
            columns: columns
                .iter()
                .map(EventId::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            script: verify_encryption::sealed_js().url.clone(),
        }),
        Some(c) if c.setup == crate::trust::Setup::Failed => Secret::Failed,
        _ => Secret::Waiting,
    });
    layout.title = b.title.clone();
    let zone = backend.time_zone();
    page(ConsultationPage {
        id,
        description: paragraphs(&b.description),
        phase: phase_label(t, phase),
        proposals_window: zone.window(b.proposals_open_ms, b.proposals_close_ms),
        vote_window: zone.window(b.vote_open_ms, b.vote_close_ms),
        method: method_label(lang, &b.method),
        trust: trust_line(backend, lang, &b.authorities),
        ballots: crate::trust::plain(lang == Lang::Fr, view, ceremony.as_ref()),
        quotas: b.quotas(),
        can_propose: view.accepts(Kind::Proposal, now),
        // A secret vote without its key and layout takes no ballot (the page says why).
        can_vote: view.accepts(Kind::Ballot, now)
            && !matches!(secret, Some(Secret::Waiting | Secret::Failed)),
        results_visible: view.results_visible(now),
        order_note: t.order_note.replace("{seed}", &seed.to_string()),
        proposals,
        form_kind: match form {
            BallotForm::Approve { .. } => "approve",
            BallotForm::Answers => "answers",
            BallotForm::Grades(_) => "grades",
        },
        form,
        secret,
        page: layout,
    })
}

/// The cookie that keeps a visitor's order of proposals: a random number, drawn on
/// their first consultation page, that nothing else reads (About says so).
const ORDER_COOKIE: &str = "order";

/// The seed of `consultation`'s order for the visitor whose number is `visitor`: the
/// same on every visit, different between consultations and between visitors.
fn seed_for(visitor: u64, consultation: &str) -> u64 {
    first_u64(&Hash::of(format!("{visitor}:{consultation}").as_bytes())) % 1_000_000
}

fn first_u64(h: &Hash) -> u64 {
    let mut first = [0; 8];
    first.copy_from_slice(&h.0[..8]);
    u64::from_le_bytes(first)
}
