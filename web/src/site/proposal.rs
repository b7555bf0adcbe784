//! `GET /p/{id}`: a proposal with its arguments for and against (`proposal.html`), a
//! page of them at a time (`?after=` the cursor of the last one shown) so the page stays
//! within its budget whatever the log holds. The shared frame, loaders and helpers are
//! `mod.rs`'s, the order and the cut `paging.rs`'s; the page reads and never writes.

use super::*;
use crate::paging::{self, Cursor, Cut};

/// Arguments on one page: at most 20, and 6 KiB of their text as sent (with the frame,
/// the proposal and each argument's markup, well within the 15 KB of a page).
pub const ARGUMENTS_PAGE: Cut = Cut {
    max_items: 20,
    max_bytes: 6 * 1024,
};

#[derive(Deserialize)]
pub(super) struct After {
    after: Option<String>,
}

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
    /// Arguments for and against in all (the page holds some of them).
    n_pro: usize,
    n_con: usize,
    /// The next page's cursor, if there is one; whether this is a later page.
    next: Option<String>,
    later: bool,
    can_argue: bool,
    /// A ballot covers every proposal of a consultation (the latest one counts), so the
    /// vote form lives on the consultation page; a proposal links to it.
    can_vote: bool,
    max_chars: usize,
}

pub(super) async fn proposal<B: Backend>(
    State(site): State<Shared<B>>,
    Path(id): Path<String>,
    Query(q): Query<After>,
    headers: HeaderMap,
) -> Response {
    let Ok(pid) = id.parse::<EventId>() else {
        return not_found(&site, &headers);
    };
    let after = match q.after.as_deref().map(str::parse::<Cursor>) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(())) => return not_found(&site, &headers),
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
    let mine: Vec<(ArgumentItem, Stance)> = d
        .arguments
        .into_iter()
        .filter(|(target, _, _)| *target == pid)
        .map(|(_, a, stance)| (a, stance))
        .collect();
    let n_pro = mine.iter().filter(|(_, s)| *s == Stance::Pro).count();
    let n_con = mine.len() - n_pro;
    let (shown, next) = paging::page(
        mine,
        |(a, _)| a.cursor,
        after,
        ARGUMENTS_PAGE,
        |(a, _)| paging::html_len(&a.body) + paging::html_len(&a.reason),
    );
    let (mut pro, mut con) = (Vec::new(), Vec::new());
    for (argument, stance) in shown {
        match stance {
            Stance::Pro => pro.push(argument),
            Stance::Con => con.push(argument),
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
        n_pro,
        n_con,
        next: next.map(|c| c.to_string()),
        later: after.is_some(),
        can_argue: d.view.accepts(Kind::Argument, now),
        can_vote: d.view.accepts(Kind::Ballot, now),
        max_chars: MAX_ARGUMENT_BODY_CHARS,
    })
}
