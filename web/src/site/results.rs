//! `GET /c/{id}/results`: a consultation's results and charts (`results.html`).
//! The shared frame, loaders and helpers are `mod.rs`'s; the page reads and never writes.

use super::*;

#[derive(Template)]
#[template(path = "results.html")]
struct ResultsPage {
    page: Layout,
    consultation: String,
    visible: bool,
    n_ballots: u64,
    chart: String,
    rows: Vec<(String, String)>,
    /// A participatory budget (its results are also a pabulib file).
    budget: bool,
}

pub(super) async fn results<B: Backend>(
    State(site): State<Shared<B>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (cid, d) = match site.load(&id, &headers) {
        Ok(found) => found,
        Err(answer) => return *answer,
    };
    let layout = site.layout(&headers, "", format!("/c/{id}/results"));
    let t = layout.t;
    let mut layout = layout;
    layout.title = format!("{} · {}", t.results, d.view.body.title);
    let now = site.backend.now_ms();
    if !d.view.results_visible(now) {
        return page(ResultsPage {
            page: layout,
            consultation: id,
            visible: false,
            n_ballots: 0,
            chart: String::new(),
            rows: Vec::new(),
            budget: false,
        });
    }
    let (view, counted) = match site.backend.count(&cid) {
        Ok(Some(x)) => x,
        Ok(None) => return not_found(&site, &headers),
        Err(e) => return internal(e),
    };
    let titles: Vec<(String, String)> = d
        .proposals
        .iter()
        .map(|p| (p.id.clone(), p.title.clone()))
        .collect();
    let drawn = charts::draw(t, &view.body.method, &counted.tally(&view), &titles);
    page(ResultsPage {
        page: layout,
        consultation: id,
        visible: true,
        n_ballots: drawn.n_ballots,
        chart: drawn.svg,
        rows: drawn.rows,
        budget: matches!(view.body.method, Method::Budget { .. }),
    })
}
