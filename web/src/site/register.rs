//! `GET /register`: the page where an invitation code becomes a signing key
//! (`register.html`).
//! The shared frame, loaders and helpers are `mod.rs`'s; the page reads and never writes.

use super::*;

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    page: Layout,
    /// The code of the letter's QR link, when it is well formed.
    code: String,
}

#[derive(Deserialize)]
pub(super) struct CodeQuery {
    code: Option<String>,
}

pub(super) async fn register<B: Backend>(
    State(site): State<Shared<B>>,
    Query(q): Query<CodeQuery>,
    headers: HeaderMap,
) -> Response {
    let mut layout = site.layout(&headers, "", "/register".into());
    layout.title = layout.t.register.into();
    let code = q
        .code
        .filter(|c| palabre_core::invitation::normalize_code(c).is_some())
        .unwrap_or_default();
    page(RegisterPage { page: layout, code })
}
