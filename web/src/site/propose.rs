//! `GET /c/{id}/propose`: the form that signs and posts a proposal (`propose.html`).
//! The shared frame, loaders and helpers are `mod.rs`'s; the page reads and never writes.

use super::*;

#[derive(Template)]
#[template(path = "propose.html")]
struct ProposePage {
    page: Layout,
    consultation: String,
    consultation_title: String,
    budget: bool,
    open: bool,
    max_title: usize,
    max_body: usize,
}

pub(super) async fn propose<B: Backend>(
    State(site): State<Shared<B>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let view = match site.load(&id, &headers) {
        Ok((_, d)) => d.view,
        Err(answer) => return *answer,
    };
    let now = site.backend.now_ms();
    let layout = site.layout(&headers, "", format!("/c/{id}/propose"));
    let title = format!("{} · {}", layout.t.propose, view.body.title);
    let mut layout = layout;
    layout.title = title;
    page(ProposePage {
        page: layout,
        consultation: id,
        consultation_title: view.body.title.clone(),
        budget: matches!(view.body.method, Method::Budget { .. }),
        open: view.accepts(Kind::Proposal, now),
        max_title: MAX_TITLE_CHARS,
        max_body: MAX_PROPOSAL_BODY_CHARS,
    })
}
