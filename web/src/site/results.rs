//! `GET /c/{id}/results`: a consultation's results and charts (`results.html`).
//! The shared frame, loaders and helpers are `mod.rs`'s; the page reads and never writes.

use super::*;
use palabre_core::crypto::PublicKey;
use palabre_core::event::SignedEvent;

#[derive(Template)]
#[template(path = "results.html")]
struct ResultsPage {
    page: Layout,
    consultation: String,
    visible: bool,
    /// "1 bulletin", "0 ballots".
    n_ballots: String,
    chart: String,
    rows: Vec<(String, String)>,
    /// A participatory budget (its results are also a pabulib file).
    budget: bool,
    /// A secret consultation: where its opening stands, in plain words (empty for a
    /// public one); `chart` and `rows` stay empty until its result is published.
    opening: Vec<String>,
    /// Whether there is a tally to show (a public count, or a secret result).
    counted: bool,
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
    let lang = layout.language();
    let mut layout = layout;
    layout.title = format!("{} · {}", t.results, d.view.body.title);
    let now = site.backend.now_ms();
    if !d.view.results_visible(now) {
        return page(ResultsPage {
            page: layout,
            consultation: id,
            visible: false,
            n_ballots: String::new(),
            chart: String::new(),
            rows: Vec::new(),
            budget: false,
            opening: Vec::new(),
            counted: false,
        });
    }
    let (view, counted) = match crate::backend::count_off_workers(&site.backend, cid).await {
        Ok(Some(x)) => x,
        Ok(None) => return not_found(&site, &headers),
        Err(e) => return internal(e),
    };
    let titles: Vec<(String, String)> = d
        .proposals
        .iter()
        .map(|p| (p.id.clone(), p.title.clone()))
        .collect();
    let budget = matches!(view.body.method, Method::Budget { .. });
    if view.body.secrecy.is_some() {
        let opening = match site.backend.opening(&view) {
            Ok(o) => o,
            Err(e) => return internal(e),
        };
        let name = |k: &PublicKey| town_name(&*site.backend, k);
        let lines = opening_lines(lang, opening.as_ref(), counted.sealed.len() as u64, &name);
        let drawn = opening
            .as_ref()
            .and_then(|o| o.result.as_ref())
            .map(|(_, r)| charts::draw(lang, &view.body.method, &r.tally, &titles));
        return page(ResultsPage {
            page: layout,
            consultation: id,
            visible: true,
            counted: drawn.is_some(),
            n_ballots: lang.n_ballots(drawn.as_ref().map_or(0, |d| d.n_ballots)),
            chart: drawn.as_ref().map_or(String::new(), |d| d.svg.clone()),
            rows: drawn.map_or(Vec::new(), |d| d.rows),
            budget,
            opening: lines,
        });
    }
    let drawn = charts::draw(
        lang,
        &view.body.method,
        &site.tallies.tally(&view, &counted),
        &titles,
    );
    page(ResultsPage {
        page: layout,
        consultation: id,
        visible: true,
        counted: true,
        n_ballots: lang.n_ballots(drawn.n_ballots),
        chart: drawn.svg,
        rows: drawn.rows,
        budget,
        opening: Vec::new(),
    })
}

/// A town's name from its signed `authority` event, else the start of its key.
fn town_name<B: Backend + ?Sized>(backend: &B, key: &PublicKey) -> String {
    backend
        .entries(key, 0, 1)
        .ok()
        .and_then(|v| v.into_iter().next())
        .and_then(|bytes| SignedEvent::from_bytes(bytes).ok())
        .and_then(|e| match e.body() {
            Body::Authority(a) => Some(a.name.clone()),
            _ => None,
        })
        .unwrap_or_else(|| key.to_string().chars().take(12).collect())
}

/// Where a secret consultation's opening stands, in plain words: the phase (closed and
/// mixing, sealed for opening, result), which trustee towns did their part, and which
/// are awaited.
fn opening_lines(
    lang: Lang,
    opening: Option<&crate::opening::Opening>,
    n_sealed: u64,
    name: &dyn Fn(&PublicKey) -> String,
) -> Vec<String> {
    use crate::opening::Phase;
    let fr = lang == Lang::Fr;
    let names = |keys: &[PublicKey]| lang.list(&keys.iter().map(name).collect::<Vec<_>>());
    let Some(o) = opening else {
        return vec![if fr {
            "Vote secret sans clé de l'élection : aucun bulletin n'a été reçu, aucun résultat ne peut exister.".into()
        } else {
            "Secret vote without an election key: it took no ballot, and no result can exist."
                .into()
        }];
    };
    let mut out = Vec::new();
    let towns = |n: u64| lang.n_trustee_towns(n);
    let sealed = lang.n_sealed_counted(n_sealed);
    match o.phase {
        Phase::Mixing => {
            out.push(if fr {
                format!("Le vote est clos ({sealed}). Les communes garantes mélangent les bulletins, l'une après l'autre, pour que personne ne puisse relier un bulletin à son votant ; il en faut au moins {} pour ouvrir les bulletins.", towns(o.threshold))
            } else {
                format!("The vote is closed ({sealed}). The trustee towns are mixing the ballots, one after the other, so that no one can tie a ballot to its voter; at least {} must take part to open them.", towns(o.threshold))
            });
            if !o.mixed.is_empty() {
                out.push(if fr {
                    format!("Ont mélangé : {}.", names(&o.mixed))
                } else {
                    format!("Mixed by: {}.", names(&o.mixed))
                });
            }
            if !o.not_mixed.is_empty() {
                out.push(if fr {
                    format!("Pas encore mélangé : {} (une commune qui ne répond pas est passée après un délai).", names(&o.not_mixed))
                } else {
                    format!("Not mixed yet: {} (a town that does not answer is skipped after a delay).", names(&o.not_mixed))
                });
            }
        }
        Phase::Opening => {
            out.push(if fr {
                format!("Les bulletins mélangés par {} sont scellés pour l'ouverture : il faut {} qui ont mélangé pour les ouvrir.", names(&o.mixed), towns(o.threshold))
            } else {
                format!("The ballots mixed by {} are sealed for opening: it takes {} who mixed to open them.", names(&o.mixed), towns(o.threshold))
            });
            if !o.decrypted.is_empty() {
                out.push(if fr {
                    format!(
                        "Ont envoyé leur part d'ouverture : {}.",
                        names(&o.decrypted)
                    )
                } else {
                    format!("Sent their share of the opening: {}.", names(&o.decrypted))
                });
            }
            if o.missing > 0 {
                out.push(if fr {
                    format!("En attente de {} de plus. Sans elles, les bulletins restent scellés : rien n'est ouvert autrement.", towns(o.missing))
                } else {
                    format!("Waiting for {} more. Without them, the ballots stay sealed: nothing is opened any other way.", towns(o.missing))
                });
            }
        }
        Phase::Result => {
            let by = o
                .result
                .as_ref()
                .map_or(String::new(), |(_, r)| names(&r.sealed.decryptors));
            out.push(if fr {
                format!("Résultat des bulletins mélangés par {}, ouverts par {}. Chacun peut le recompter et vérifier chaque étape : palabre audit.", names(&o.mixed), by)
            } else {
                format!("The result of the ballots mixed by {}, opened by {}. Anyone can recount it and check every step: palabre audit.", names(&o.mixed), by)
            });
        }
    }
    out
}
