//! Quotas and pages through the real router (issue 19, point 3): a resident is refused
//! past the consultation's quota, and a proposal with many more arguments than a page
//! still answers, as a site page and in the API, within its budget, every argument
//! reachable once by following the links.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use palabre_core::event::*;
use palabre_core::ids::EventId;
use palabre_core::limits::DEFAULT_MAX_ARGUMENTS_PER_AUTHOR;
use serde_json::Value;

use crate::{DAY, T0, TestBackend, ballot, call, call_bytes, code, resident, sign, world};

/// The budget of a site page (DESIGN.md): 15 KB transferred. Counted here before
/// compression, which is stricter.
const MAX_PAGE_BYTES: usize = 15 * 1024;
/// What one answer of the consultation API may weigh (its pages' cuts, `api/discussion.rs`).
const MAX_API_BYTES: usize = 1024 * 1024;

/// An argument text of about `MAX_ARGUMENT_BODY_CHARS`, heavy to escape.
fn long_text(n: usize) -> String {
    let mut t = format!("Argument {n} : ");
    while t.chars().count() < 1_990 {
        t.push_str("<b>&\"l'été\"</b> ");
    }
    t.chars().take(1_990).collect()
}

/// Residents 1 to 3 each write their whole quota of arguments on the one proposal:
/// 300 arguments of about 2,000 characters (some 3 MB of text).
fn flooded() -> (
    std::sync::Arc<crate::TestBackend>,
    EventId,
    EventId,
    Vec<EventId>,
) {
    let (b, cid, pid) = world();
    let per = DEFAULT_MAX_ARGUMENTS_PER_AUTHOR as usize;
    let mut ids = Vec::new();
    for r in 1..=3u8 {
        for k in 0..per {
            let n = usize::from(r) * per + k;
            let a = sign(
                &resident(r),
                T0 + DAY - 60_000 + n as u64,
                Body::Argument(ArgumentBody {
                    proposal: pid,
                    stance: if n.is_multiple_of(3) {
                        Stance::Con
                    } else {
                        Stance::Pro
                    },
                    body: long_text(n),
                }),
            );
            ids.push(a.id());
            b.append(a).expect("within the quota");
        }
    }
    (b, cid, pid, ids)
}

#[tokio::test]
async fn past_the_quota_a_resident_is_refused_with_its_code() {
    let (b, _, pid, _) = flooded();
    let one_more = sign(
        &resident(2),
        T0 + DAY,
        Body::Argument(ArgumentBody {
            proposal: pid,
            stance: Stance::Pro,
            body: "Encore un.".into(),
        }),
    );
    let (s, v) = call(&b, "POST", "/api/v1/events", one_more.bytes().to_vec()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "quota_reached"),
        "{v}"
    );
}

#[tokio::test]
async fn a_flooded_proposal_page_stays_within_its_budget() {
    let (b, cid, pid, ids) = flooded();
    let mut seen = BTreeSet::new();
    let mut path = format!("/p/{pid}");
    let mut pages = 0;
    loop {
        let (s, bytes) = call_bytes(&b, "GET", &path, vec![]).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert!(
            bytes.len() <= MAX_PAGE_BYTES,
            "{path}: {} bytes",
            bytes.len()
        );
        let html = String::from_utf8(bytes).expect("UTF-8");
        // The totals are the proposal's, whatever page this is.
        assert!(
            html.contains("200 arguments pour") && html.contains("100 arguments contre"),
            "{html}"
        );
        for id in &ids {
            if html.contains(&format!("/report?target={id}")) {
                assert!(seen.insert(*id), "{id} shown twice");
            }
        }
        pages += 1;
        match html.split("rel=\"next\" href=\"").nth(1) {
            Some(rest) => path = rest.split('"').next().expect("a link").to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), ids.len(), "every argument is on one page");
    assert!(pages > 10, "{pages} pages");
    // The consultation's page says the limits in force (here the defaults).
    let (s, bytes) = call_bytes(&b, "GET", &format!("/c/{cid}"), vec![]).await;
    assert_eq!(s, StatusCode::OK);
    let html = String::from_utf8(bytes).expect("UTF-8");
    assert!(
        html.contains("au plus 10 propositions et 100 arguments"),
        "{html}"
    );
    // A cursor that is not one is a missing page, not an error.
    let (s, _) = call_bytes(&b, "GET", &format!("/p/{pid}?after=x"), vec![]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_consultation_api_answers_in_bounded_pages() {
    let (b, cid, pid, ids) = flooded();
    let (s, bytes) = call_bytes(&b, "GET", &format!("/api/v1/consultations/{cid}"), vec![]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(bytes.len() <= MAX_API_BYTES, "{} bytes", bytes.len());
    let v: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(v["consultation"]["quotas"]["max_arguments_per_author"], 100);
    assert!(v["next"].is_null(), "one proposal: one page of them");
    let p = &v["proposals"][0];
    assert_eq!(p["n_arguments"], 300);
    let mut seen: Vec<String> = Vec::new();
    let take = |seen: &mut Vec<String>, p: &Value| {
        for a in p["arguments"].as_array().expect("arguments") {
            seen.push(a["id"].as_str().expect("id").to_owned());
        }
    };
    take(&mut seen, p);
    assert!(seen.len() <= 10);
    let mut more = p["more_arguments"].as_str().map(str::to_owned);
    while let Some(link) = more {
        let (s, bytes) = call_bytes(&b, "GET", &link, vec![]).await;
        assert_eq!(s, StatusCode::OK, "{link}");
        assert!(
            bytes.len() <= MAX_API_BYTES,
            "{link}: {} bytes",
            bytes.len()
        );
        let v: Value = serde_json::from_slice(&bytes).expect("JSON");
        let p = &v["proposals"][0];
        assert_eq!(p["id"], pid.to_string());
        take(&mut seen, p);
        more = p["more_arguments"].as_str().map(str::to_owned);
    }
    let expected: Vec<String> = ids.iter().map(ToString::to_string).collect();
    assert_eq!(seen, expected, "every argument once, oldest first");
    // Bad parameters are refused with a code.
    for bad in [
        format!("/api/v1/consultations/{cid}?after=12"),
        format!("/api/v1/consultations/{cid}?proposal=zz"),
    ] {
        let (s, v) = call(&b, "GET", &bad, vec![]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert!(["bad_range", "bad_id"].contains(&code(&v)), "{v}");
    }
    let (s, v) = call(
        &b,
        "GET",
        &format!("/api/v1/consultations/{cid}?proposal={cid}"),
        vec![],
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
}

/// A site page in a language (the `lang` cookie), as text.
async fn page_in(b: &std::sync::Arc<TestBackend>, uri: &str, lang: &str) -> String {
    use axum::body::Body as HttpBody;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .uri(uri)
        .header("cookie", format!("lang={lang}"))
        .body(HttpBody::empty())
        .expect("request");
    let response = palabre_web::app(std::sync::Arc::clone(b), palabre_web::ApiConfig::default())
        .oneshot(request)
        .await
        .expect("the router answers");
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

/// Issue 20, point 9: a proposal's arguments are counted in words ("1 argument pour"),
/// never as "Pour 1 · Contre 1", which reads like a tally of votes.
#[tokio::test]
async fn argument_counts_say_they_count_arguments() {
    let (b, cid, pid) = world();
    let argue = |n: u8, stance: Stance| {
        sign(
            &resident(n),
            T0 + DAY,
            Body::Argument(ArgumentBody {
                proposal: pid,
                stance,
                body: format!("Argument {n}."),
            }),
        )
    };
    b.append(argue(1, Stance::Pro)).expect("argument");
    b.append(argue(2, Stance::Con)).expect("argument");
    b.append(argue(3, Stance::Con)).expect("argument");
    let fr = page_in(&b, &format!("/c/{cid}"), "fr").await;
    assert!(
        fr.contains("<small>1 argument pour · 2 arguments contre</small>"),
        "{fr}"
    );
    assert!(!fr.contains("Pour 1") && !fr.contains("Contre 2"), "{fr}");
    let en = page_in(&b, &format!("/c/{cid}"), "en").await;
    assert!(
        en.contains("<small>1 argument for · 2 arguments against</small>"),
        "{en}"
    );
    // The proposal's own page heads its two lists the same way.
    let fr = page_in(&b, &format!("/p/{pid}"), "fr").await;
    assert!(
        fr.contains("<h2>1 argument pour</h2>") && fr.contains("<h2>2 arguments contre</h2>"),
        "{fr}"
    );
    let en = page_in(&b, &format!("/p/{pid}"), "en").await;
    assert!(
        en.contains("<h2>1 argument for</h2>") && en.contains("<h2>2 arguments against</h2>"),
        "{en}"
    );
}

/// Issue 20, point 10: the results page counts its ballots with their plural, French
/// putting 0 and 1 in the singular ("0 bulletin", "1 bulletin", "2 bulletins"; "0
/// ballots", "1 ballot"), and so its rows ("1 approbation").
#[tokio::test]
async fn results_count_ballots_with_their_plural() {
    for (n, fr, en, row) in [
        (0, "0 bulletin", "0 ballots", "0 approbation"),
        (1, "1 bulletin", "1 ballot", "1 approbation"),
        (2, "2 bulletins", "2 ballots", "2 approbations"),
    ] {
        let (b, cid, pid) = world();
        for r in 1..=n {
            b.append(ballot(r, T0 + DAY + u64::from(r), cid, pid))
                .expect("a ballot in the vote window");
        }
        b.now_ms
            .store(T0 + 2 * DAY + 1, std::sync::atomic::Ordering::SeqCst);
        let uri = format!("/c/{cid}/results");
        let page = page_in(&b, &uri, "fr").await;
        assert!(page.contains(&format!("<p>{fr}</p>")), "{page}");
        assert!(page.contains(&format!("aria-label=\"{fr}\"")), "{page}");
        assert!(page.contains(&format!("<td>{row}</td>")), "{page}");
        let page = page_in(&b, &uri, "en").await;
        assert!(page.contains(&format!("<p>{en}</p>")), "{page}");
    }
}

/// Issue 20, point 9: the trust line says who keeps the record, in plain words and not
/// as a warning; a consultation run by several towns names the towns that countersign.
#[tokio::test]
async fn the_trust_line_names_who_keeps_the_record() {
    let (b, cid, _) = world();
    let fr = page_in(&b, &format!("/c/{cid}"), "fr").await;
    assert!(
        fr.contains(
            "Une commune tient ce registre : Ville. Chacun peut vérifier qu&#39;il n&#39;a pas été réécrit."
        ),
        "{fr}"
    );
    assert!(!fr.contains("mais aucune commune voisine"), "{fr}");
    let en = page_in(&b, &format!("/c/{cid}"), "en").await;
    assert!(
        en.contains(
            "One town keeps this record: Ville. Anyone can check it has not been rewritten."
        ),
        "{en}"
    );
    let about = page_in(&b, "/about", "en").await;
    assert!(
        about.contains("One town keeps this record: Ville."),
        "{about}"
    );

    // A neighbour declares itself in its own log; a consultation names both towns.
    let neighbour = palabre_core::crypto::SecretKey::from_seed(&[101; 32]);
    let declared = sign(
        &neighbour,
        T0,
        Body::Authority(AuthorityBody {
            name: "Bourg-les-Eaux".into(),
            code: String::new(),
            addresses: vec![],
            encryption_key: None,
            encryption_pok: None,
        }),
    );
    b.ledger
        .lock()
        .expect("lock")
        .append(
            &neighbour.public_key(),
            declared,
            palabre_core::admission::Clock::Live { now_ms: T0 },
        )
        .expect("the neighbour's declaration");
    let shared = sign(
        &b.key,
        T0 + DAY,
        Body::Consultation(Box::new(ConsultationBody {
            title: "Le pont".into(),
            description: "Un pont entre les deux communes.".into(),
            authorities: vec![b.key.public_key(), neighbour.public_key()],
            proposals_open_ms: T0 + DAY,
            proposals_close_ms: T0 + 2 * DAY,
            vote_open_ms: T0 + 2 * DAY,
            vote_close_ms: T0 + 3 * DAY,
            method: palabre_core::tally::Method::Approval { max_choices: 1 },
            show_running_results: false,
            secrecy: None,
            quotas: None,
        })),
    );
    let sid = shared.id();
    b.append(shared).expect("a shared consultation");
    let fr = page_in(&b, &format!("/c/{sid}"), "fr").await;
    assert!(
        fr.contains(
            "Plusieurs communes tiennent ce registre et le contresignent : Ville et Bourg-les-Eaux."
        ),
        "{fr}"
    );
    let en = page_in(&b, &format!("/c/{sid}"), "en").await;
    assert!(
        en.contains("Several towns keep this record and countersign it: Ville and Bourg-les-Eaux."),
        "{en}"
    );
}

/// Issue 20, point 8: the home page names the town and says how to take part (where
/// the code comes from, the desk's address and hours, the registration link); the About
/// page gives the town hall's contact and hours and the privacy notice a town must
/// publish: what is kept, what is public, for how long, whom to ask.
#[tokio::test]
async fn the_home_and_about_pages_say_who_runs_the_site_and_how_to_take_part() {
    let (b, _, _) = world();
    let home = page_in(&b, "/", "fr").await;
    assert!(home.contains("<h1>Ville · Consultations</h1>"), "{home}");
    for said in [
        "Comment participer",
        "lettre que la mairie vous a envoyée",
        "1 place de la Mairie, 12345 Ville (du lundi au vendredi, 9 h – 12 h)",
        "<a href=\"/register\">M&#39;inscrire</a>",
        "<a href=\"/about\">",
    ] {
        assert!(home.contains(said), "{said}: {home}");
    }
    let home = page_in(&b, "/", "en").await;
    assert!(home.contains("How to take part"), "{home}");

    let about = page_in(&b, "/about", "fr").await;
    for said in [
        "<dd>1 place de la Mairie, 12345 Ville</dd>",
        "<dd>du lundi au vendredi, 9 h – 12 h</dd>",
        "<dd>mairie@ville.example</dd>",
        "Ce qui est gardé.",
        "Ce qui est public.",
        "Combien de temps.",
        // No privacy contact set: the general contact is whom to ask.
        "l&#39;effacement d&#39;un texte : mairie@ville.example.",
    ] {
        assert!(about.contains(said), "{said}: {about}");
    }
    let about = page_in(&b, "/about", "en").await;
    for said in [
        "What is kept.",
        "What is public.",
        "For how long.",
        "Whom to ask.",
    ] {
        assert!(about.contains(said), "{said}: {about}");
    }
}

/// The seed a consultation page shows ("graine N"), and the cookies it sets.
async fn order_of(
    b: &std::sync::Arc<TestBackend>,
    cid: &EventId,
    cookie: Option<&str>,
) -> (String, Vec<String>) {
    use axum::body::Body as HttpBody;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().uri(format!("/c/{cid}"));
    if let Some(c) = cookie {
        request = request.header("cookie", c);
    }
    let response = palabre_web::app(std::sync::Arc::clone(b), palabre_web::ApiConfig::default())
        .oneshot(request.body(HttpBody::empty()).expect("request"))
        .await
        .expect("the router answers");
    let set: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = String::from_utf8(body.to_vec()).expect("UTF-8");
    let at = body.find("(graine ").expect("the seed is shown") + 8;
    let seed = body[at..at + body[at..].find(')').expect("closing")].to_owned();
    (seed, set)
}

/// Issue 20, point 12: a visitor sees the same order of proposals on every visit of a
/// consultation (a number of theirs, kept in a cookie, gives its seed), and another
/// visitor another order; the language switch keeps that seed.
#[tokio::test]
async fn a_visitor_keeps_their_order_of_proposals() {
    let (b, cid, _) = world();
    let (first, set) = order_of(&b, &cid, None).await;
    let order = set
        .iter()
        .find_map(|c| c.strip_prefix("order="))
        .and_then(|c| c.split(';').next())
        .expect("a first visit draws the visitor's number")
        .to_owned();
    let mine = format!("order={order}");
    for _ in 0..3 {
        let (again, set) = order_of(&b, &cid, Some(&mine)).await;
        assert_eq!(again, first, "the same visitor, the same seed");
        assert!(set.is_empty(), "a kept number is not drawn again: {set:?}");
    }
    // Other visitors (other numbers) get other seeds.
    let mut others = BTreeSet::new();
    for n in 0..20u64 {
        let (seed, _) = order_of(&b, &cid, Some(&format!("lang=fr; order={n}"))).await;
        others.insert(seed);
    }
    assert!(others.len() > 15, "{others:?}");
    // The language switch goes back to the page with its seed.
    let fr = page_in(&b, &format!("/c/{cid}"), "fr").await;
    assert!(
        fr.contains(&format!("/lang/en?back=/c/{cid}%3Fseed%3D")),
        "{fr}"
    );
}
