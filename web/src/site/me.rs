//! `GET /me`: "my participation", the receipts kept in this browser (`me.html`).
//! The shared frame, loaders and helpers are `mod.rs`'s; the page reads and never writes.

use super::*;

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    page: Layout,
}

pub(super) async fn me<B: Backend>(State(site): State<Shared<B>>, headers: HeaderMap) -> Response {
    let mut layout = site.layout(&headers, "", "/me".into());
    layout.title = layout.t.me.into();
    page(MePage { page: layout })
}
