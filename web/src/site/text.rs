//! `GET /verify`, a page of plain text (`text.html`), and `GET /about`: what Palabre
//! is, the town hall, and the privacy notice (`about.html`).
//! The shared frame, loaders and helpers are `mod.rs`'s; the page reads and never writes.

use super::*;

#[derive(Template)]
#[template(path = "text.html")]
struct TextPage {
    page: Layout,
    paragraphs: Vec<String>,
}

pub(super) async fn verify<B: Backend>(
    State(site): State<Shared<B>>,
    headers: HeaderMap,
) -> Response {
    let mut layout = site.layout(&headers, "", "/verify".into());
    let t = layout.t;
    layout.title = t.verify.into();
    let paragraphs = t
        .verify_text
        .iter()
        .map(|p| {
            p.replace("{commune}", &layout.authority)
                .replace("{town}", &layout.authority)
        })
        .collect();
    page(TextPage {
        page: layout,
        paragraphs,
    })
}

pub(super) async fn about<B: Backend>(
    State(site): State<Shared<B>>,
    headers: HeaderMap,
) -> Response {
    let mut layout = site.layout(&headers, "", "/about".into());
    let t = layout.t;
    layout.title = t.about.into();
    let mut paragraphs: Vec<String> = t.about_text.iter().map(|p| (*p).to_owned()).collect();
    paragraphs.push(format!("{} : {}", t.authority, layout.authority));
    let town = town_name(&*site.backend, &site.backend.authority().key);
    paragraphs.push(t.trust_single.replace("{town}", &town));
    page(AboutPage {
        page: layout,
        paragraphs,
        hall: site.backend.town_hall(),
    })
}

/// `/about`: what Palabre is, the town hall (address, desk hours, contact) and the
/// privacy notice a town must publish: what is kept, what is public, for how long, whom
/// to ask.
#[derive(Template)]
#[template(path = "about.html")]
struct AboutPage {
    page: Layout,
    paragraphs: Vec<String>,
    hall: crate::backend::TownHall,
}
