//! `GET /`: the consultations of this town, open ones first (`home.html`).
//! The shared frame, loaders and helpers are `mod.rs`'s; the page reads and never writes.

use super::*;

/// A consultation in a list.
struct Summary {
    id: String,
    title: String,
    phase: &'static str,
    closes: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    page: Layout,
    open: Vec<Summary>,
    upcoming: Vec<Summary>,
    closed: Vec<Summary>,
    hall: crate::backend::TownHall,
}

pub(super) async fn home<B: Backend>(
    State(site): State<Shared<B>>,
    headers: HeaderMap,
) -> Response {
    let layout = site.layout(&headers, "", "/".into());
    let list = match site.backend.consultations() {
        Ok(l) => l,
        Err(e) => return internal(e),
    };
    let now = site.backend.now_ms();
    let zone = site.backend.time_zone();
    let (mut open, mut upcoming, mut closed) = (Vec::new(), Vec::new(), Vec::new());
    // The consultations this town takes part in: a federated node also holds its
    // neighbours' (for auditors, through the API), where its residents have no vote.
    let me = site.backend.authority().key;
    let mut list = list;
    list.retain(|c| c.participates(&me));
    list.sort_by(|a, b| {
        a.body
            .vote_close_ms
            .cmp(&b.body.vote_close_ms)
            .then(a.id.cmp(&b.id))
    });
    for c in list {
        let phase = c.phase(now);
        let s = Summary {
            id: c.id.to_string(),
            title: c.body.title.clone(),
            phase: phase_label(layout.t, phase),
            closes: zone.when(c.body.vote_close_ms),
        };
        match phase {
            Phase::Upcoming => upcoming.push(s),
            Phase::Proposals | Phase::Voting => open.push(s),
            Phase::Closed => closed.push(s),
        }
    }
    closed.reverse();
    page(HomePage {
        page: layout,
        open,
        upcoming,
        closed,
        hall: site.backend.town_hall(),
    })
}
