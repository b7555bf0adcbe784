//! The "check an encryption" form (`/verify/encryption`) and the file that seals secret
//! ballots in the page (`sealed.js`, served here under a content-hashed name, with the
//! desk's `desk.js` over it).
//!
//! The form is server-rendered and works without any script: a resident, or someone
//! helping them, pastes the opening file a vote page handed out instead of casting
//! (SECRET-BALLOTS.md §4.7), and the node answers plainly whether those ciphertexts
//! encrypt that choice. Any town's node serves it, so it can be checked away from the
//! node that served the vote page. It writes nothing and logs nothing about the file.
//! The check itself is core's `opening::Opening::check`; loading `sealed.js` on a
//! secret consultation's vote page, and posting the ballot, are the vote page's.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use palabre_core::opening::{Mode, Opening};
use serde::Deserialize;

use super::{Asset, Layout, Shared, not_found, page};
use crate::backend::Backend;

/// `web/static/sealed.js`, embedded and hashed once for the whole process.
pub fn sealed_js() -> &'static Asset {
    static SEALED: std::sync::OnceLock<Asset> = std::sync::OnceLock::new();
    SEALED.get_or_init(|| {
        let mut a = Asset::new(
            "sealed",
            "js",
            include_bytes!("../../static/sealed.js"),
            "text/javascript; charset=utf-8",
        );
        // Its own route: `/static/{file}` holds the site's two shared files.
        a.url = a.url.replacen("/static/", "/static/sealed/", 1);
        a
    })
}

/// `web/static/desk.js` (the desk's sealed assisted ballot, over `sealed.js`), embedded
/// and hashed once, served beside it.
pub fn desk_js() -> &'static Asset {
    static DESK: std::sync::OnceLock<Asset> = std::sync::OnceLock::new();
    DESK.get_or_init(|| {
        let mut a = Asset::new(
            "desk",
            "js",
            include_bytes!("../../static/desk.js"),
            "text/javascript; charset=utf-8",
        );
        a.url = a.url.replacen("/static/", "/static/sealed/", 1);
        a
    })
}

/// Serves `sealed.js` and `desk.js` under their hashed names, cached for a year like
/// the other files.
pub(super) async fn script<B: Backend>(
    State(site): State<Shared<B>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let wanted = format!("/static/sealed/{file}");
    let Some(a) = [sealed_js(), desk_js()]
        .into_iter()
        .find(|a| a.url == wanted)
    else {
        return not_found(&site, &headers);
    };
    (
        [
            (header::CONTENT_TYPE, a.content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        a.body,
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "verify_encryption.html")]
struct CheckPage {
    page: Layout,
    /// The pasted text, shown again in the form.
    opening: String,
    /// Empty before a check; otherwise the verdict's lines.
    verdict: Vec<String>,
    matches: bool,
    code: &'static str,
}

fn layout<B: Backend>(site: &Shared<B>, headers: &HeaderMap) -> Layout {
    let mut l = site.layout(headers, "", "/verify/encryption".into());
    l.title = l
        .tr("Vérifier un chiffrement", "Check an encryption")
        .to_owned();
    l
}

/// The empty form.
pub(super) async fn form<B: Backend>(
    State(site): State<Shared<B>>,
    headers: HeaderMap,
) -> Response {
    page(CheckPage {
        page: layout(&site, &headers),
        opening: String::new(),
        verdict: Vec::new(),
        matches: false,
        code: "",
    })
}

#[derive(Deserialize)]
pub(super) struct CheckForm {
    #[serde(default)]
    opening: String,
}

/// Checks the pasted opening and says the verdict in words (200 either way: the check
/// ran; `data-code` carries the stable code for scripts and tests).
pub(super) async fn check<B: Backend>(
    State(site): State<Shared<B>>,
    headers: HeaderMap,
    Form(form): Form<CheckForm>,
) -> Response {
    let l = layout(&site, &headers);
    let result = Opening::parse(&form.opening).and_then(|o| o.check().map(|()| o));
    let (matches, code, verdict) = match &result {
        Ok(o) => (true, "ok", described(&l, o)),
        Err(e) => {
            let why = match e.code() {
                "encryption_mismatch" => l.tr(
                    "Ces chiffrés ne contiennent PAS ce choix. La page qui les a produits a chiffré autre chose : ne votez pas depuis cet appareil ou ce site, et signalez-le à la mairie.",
                    "These ciphertexts do NOT hold this choice. The page that made them encrypted something else: do not vote from that device or site, and report it to the town hall.",
                ),
                "bad_pok" => l.tr(
                    "Les chiffrés correspondent au choix, mais leur preuve ne serait pas acceptée : la page qui les a produits est défectueuse.",
                    "The ciphertexts match the choice, but their proof would not be accepted: the page that made them is faulty.",
                ),
                "invalid_choice" => l.tr(
                    "Le choix ne correspond pas à la forme des chiffrés.",
                    "The choice does not fit the ciphertexts.",
                ),
                _ => l.tr(
                    "Ce texte n'est pas un fichier de vérification complet et intact.",
                    "This text is not a whole, intact check file.",
                ),
            };
            (false, e.code(), vec![why.to_owned(), e.to_string()])
        }
    };
    let mut res = page(CheckPage {
        page: l,
        opening: form.opening,
        verdict,
        matches,
        code,
    });
    if code == "malformed" {
        *res.status_mut() = StatusCode::BAD_REQUEST;
    }
    res
}

/// The verdict of a faithful opening, with the choice it holds.
fn described(l: &Layout, o: &Opening) -> Vec<String> {
    let mut lines = vec![
        l.tr(
            "Ce chiffrement contient exactement ce choix.",
            "This encryption holds exactly this choice.",
        )
        .to_owned(),
    ];
    match o.mode {
        Mode::Split => {
            let label = l.tr("Colonne", "Column");
            let values: Vec<String> = o
                .choice
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{label} {}: {v}", i + 1))
                .collect();
            lines.push(values.join(" · "));
        }
        Mode::Row => {
            let chosen: Vec<String> = o.choice.iter().map(|i| (i + 1).to_string()).collect();
            let none = l.tr("aucune", "none");
            lines.push(format!(
                "{} {}: {}",
                l.tr("Colonnes choisies sur", "Columns chosen of"),
                o.columns.unwrap_or(0),
                if chosen.is_empty() {
                    none.to_owned()
                } else {
                    chosen.join(", ")
                }
            ));
        }
    }
    lines.push(
        l.tr(
            "Ce chiffrement-là ne sera pas déposé : la page en a fait un nouveau pour votre vote.",
            "This one will not be cast: the page made a fresh one for your vote.",
        )
        .to_owned(),
    );
    lines
}
