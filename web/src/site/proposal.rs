//! `GET /p/{id}`: a proposal with its arguments for and against (`proposal.html`).
//! The shared frame, loaders and helpers are `mod.rs`'s; the page reads and never writes.

use super::*;

#[derive(Template)]
#[template(path = "proposal.html")]
struct ProposalPage {
    page: Layout,
    consultation: String,
    consultation_title: String,
    p: ProposalItem,
    body: Vec<String>,
    pro: Vec<ArgumentItem>,
    con: Vec<ArgumentItem>,
    can_argue: bool,
    /// A ballot covers every proposal of a consultation (the latest one counts), so the
    /// vote form lives on the consultation page; a proposal links to it.
    can_vote: bool,
    max_chars: usize,
}

pub(super) async fn proposal<B: Backend>(
    State(site): State<Shared<B>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(pid) = id.parse::<EventId>() else {
        return not_found(&site, &headers);
    };
    let consultation = match site.backend.event(&pid) {
        Ok(Some(stored)) => match Entry::stored(stored.bytes) {
            Ok(Entry::Event(e)) => match e.body() {
                Body::Proposal(p) => p.consultation,
                _ => return not_found(&site, &headers),
            },
            Ok(Entry::Purged(p)) if p.body().kind == Kind::Proposal => p.body().consultation,
            _ => return not_found(&site, &headers),
        },
        Ok(None) => return not_found(&site, &headers),
        Err(e) => return internal(e),
    };
    let d = match site.load(&consultation.to_string(), &headers) {
        Ok((_, d)) => d,
        Err(answer) => return *answer,
    };
    let Some(p) = d.proposals.into_iter().find(|p| p.id == id) else {
        return not_found(&site, &headers);
    };
    let (mut pro, mut con) = (Vec::new(), Vec::new());
    for (target, argument, stance) in d.arguments {
        if target == pid {
            match stance {
                Stance::Pro => pro.push(argument),
                Stance::Con => con.push(argument),
            }
        }
    }
    let now = site.backend.now_ms();
    let b = &d.view.body;
    page(ProposalPage {
        page: site.layout(&headers, &p.title, format!("/p/{id}")),
        consultation: consultation.to_string(),
        consultation_title: b.title.clone(),
        body: paragraphs(&p.body),
        p,
        pro,
        con,
        can_argue: d.view.accepts(Kind::Argument, now),
        can_vote: d.view.accepts(Kind::Ballot, now),
        max_chars: MAX_ARGUMENT_BODY_CHARS,
    })
}
