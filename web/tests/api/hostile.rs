//! Hostile input against the real router (issue 19): what a red team tried, and what
//! each attempt must get now.

use std::sync::Arc;

use axum::body::Body as HttpBody;
use axum::http::{Request, StatusCode};
use palabre_web::{ApiConfig, app};
use proptest::prelude::*;
use tower::ServiceExt;

use crate::world;

/// The status and `Location` of `GET /lang/en?back=<back, percent-encoded>`.
async fn switch_back(router: axum::Router, back: &str) -> (StatusCode, Option<String>) {
    let mut encoded = String::new();
    for b in back.bytes() {
        encoded.push_str(&format!("%{b:02X}"));
    }
    let response = router
        .oneshot(
            Request::builder()
                .uri(format!("/lang/en?back={encoded}"))
                .body(HttpBody::empty())
                .expect("request"),
        )
        .await
        .expect("the router answers");
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("a Location is ASCII").to_owned());
    (response.status(), location)
}

/// A `Location` that a browser can only read as a path of this site.
fn stays_here(location: &str) -> bool {
    location.starts_with('/')
        && !location.starts_with("//")
        && location
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/?=".contains(&b))
}

#[tokio::test]
async fn the_language_switch_is_no_open_redirect_and_never_fails() {
    let (b, cid, _) = world();
    let router = app(Arc::clone(&b), ApiConfig::default());
    for (back, expected) in [
        // Browsers drop tabs and newlines in URLs: `/\t/evil.example` is `//evil.example`.
        ("/\t/evil.example".to_owned(), "/".to_owned()),
        ("/\n/x".to_owned(), "/".to_owned()),
        ("/\r\n/x".to_owned(), "/".to_owned()),
        ("/ /evil.example".to_owned(), "/".to_owned()),
        ("/é".to_owned(), "/".to_owned()),
        ("/about".to_owned(), "/about".to_owned()),
        (format!("/c/{cid}?seed=7"), format!("/c/{cid}?seed=7")),
        (format!("/c/{cid}?seed=7&x=//evil"), format!("/c/{cid}")),
        (format!("/c/{cid}/results"), format!("/c/{cid}/results")),
    ] {
        let (status, location) = switch_back(router.clone(), &back).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{back:?}");
        assert_eq!(location.as_deref(), Some(expected.as_str()), "{back:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever `back` holds, the answer is a redirect to a path of this site: never a
    /// 500, never another host.
    #[test]
    fn any_back_goes_to_a_page_of_this_site(
        back in prop_oneof![
            any::<String>(),
            "[/\\\\\t\n\r %.a-z0-9?=&:@#]{0,40}",
            "/(c|p)/[0-9a-f]{64}(/results|/propose)?(\\?seed=[0-9]{1,25})?",
        ]
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (b, _, _) = world();
        let router = app(b, ApiConfig::default());
        let (status, location) = runtime.block_on(switch_back(router, &back));
        prop_assert_eq!(status, StatusCode::SEE_OTHER);
        let location = location.unwrap_or_default();
        prop_assert!(stays_here(&location), "{:?} → {:?}", back, location);
    }
}

/// `GET /healthz` as if from the socket peer `peer`, with an `X-Forwarded-For`.
async fn health_from(router: &axum::Router, peer: &str, forwarded: Option<&str>) -> StatusCode {
    let mut request = Request::builder().uri("/healthz");
    if let Some(f) = forwarded {
        request = request.header("x-forwarded-for", f);
    }
    let mut request = request.body(HttpBody::empty()).expect("request");
    let peer: std::net::SocketAddr = peer.parse().expect("a socket address");
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    router
        .clone()
        .oneshot(request)
        .await
        .expect("the router answers")
        .status()
}

#[tokio::test]
async fn limits_count_ipv6_by_64_and_forwarded_for_only_from_a_trusted_proxy() {
    let (b, _, _) = world();
    let one_each = palabre_web::RateLimit {
        per_second: 0.001,
        burst: 1.0,
    };
    let router = app(
        Arc::clone(&b),
        ApiConfig {
            rate: one_each,
            ..ApiConfig::default()
        },
    );
    assert_eq!(
        health_from(&router, "[2001:db8:0:1::1]:5000", None).await,
        StatusCode::OK
    );
    // Another address of the same /64 shares its bucket; the next /64 has its own.
    assert_eq!(
        health_from(&router, "[2001:db8:0:1::2]:5000", None).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        health_from(&router, "[2001:db8:0:2::1]:5000", None).await,
        StatusCode::OK
    );
    // Without a trusted proxy, X-Forwarded-For changes nothing.
    assert_eq!(
        health_from(&router, "192.0.2.1:5000", Some("203.0.113.1")).await,
        StatusCode::OK
    );
    assert_eq!(
        health_from(&router, "192.0.2.1:5000", Some("203.0.113.2")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Behind a trusted proxy, each forwarded client has its own bucket.
    let proxied = app(
        Arc::clone(&b),
        ApiConfig {
            rate: one_each,
            trusted_proxies: vec!["127.0.0.1".parse().expect("ip")],
            ..ApiConfig::default()
        },
    );
    for client in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(
            health_from(&proxied, "127.0.0.1:5000", Some(client)).await,
            StatusCode::OK
        );
    }
    assert_eq!(
        health_from(&proxied, "127.0.0.1:5000", Some("203.0.113.1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn failed_redemptions_spend_a_budget_of_the_whole_node() {
    use palabre_core::invitation::{KeyPossession, code_hash, normalize_code};
    let (b, _, _) = world();
    let router = app(
        Arc::clone(&b),
        ApiConfig {
            redeem_failures: palabre_web::RateLimit {
                per_second: 0.001,
                burst: 2.0,
            },
            ..ApiConfig::default()
        },
    );
    let redeem = |code: &str, n: u8| {
        let key = crate::resident(n);
        let invitation = code_hash(&b.pk(), &normalize_code(code).expect("well formed"));
        let proof = KeyPossession {
            authority: b.pk(),
            invitation,
            subject: key.public_key(),
        }
        .sign(&key);
        let body = serde_json::json!({"code": code, "key": key.public_key().to_hex(), "proof": proof.to_hex()});
        let mut request = Request::builder()
            .method("POST")
            .uri("/api/v1/credentials/redeem")
            .body(HttpBody::from(serde_json::to_vec(&body).expect("json")))
            .expect("request");
        // Each guess from another address: the per-address rate does not stop them.
        let peer: std::net::SocketAddr = format!("198.51.100.{n}:4000").parse().expect("addr");
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        let router = router.clone();
        async move { router.oneshot(request).await.expect("answer").status() }
    };
    let good = "ACDE-FGHJ-KMNP";
    let invitation = code_hash(&b.pk(), &normalize_code(good).expect("well formed"));
    b.invitations
        .lock()
        .expect("lock")
        .insert(invitation, false);
    for (n, guess) in [(60, "PPPP-PPPP-PPPA"), (61, "CCCC-CCCC-CCCA")] {
        assert_ne!(redeem(guess, n).await, StatusCode::CREATED);
    }
    // The budget is spent: even a good code waits (429), and is not consumed.
    assert_eq!(redeem(good, 62).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        b.invitations.lock().expect("lock").get(&invitation),
        Some(&false)
    );
    let response = router
        .clone()
        .oneshot(
            Request::builder()
                .uri("/metrics")
                .body(HttpBody::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    let text = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("palabre_redeem_failed_total 2"), "{text}");
    assert!(text.contains("palabre_redeem_throttled_total 1"), "{text}");
}

/// Issue 19, point 2: a log's cosignatures grow for as long as the town runs (a witness
/// cosigns every 10 s), so `/cosignatures` serves them a page at a time; following
/// `next` reaches each exactly once, in order, and a broken cursor is a 400.
#[tokio::test]
async fn cosignatures_are_served_a_page_at_a_time() {
    use palabre_core::head::{CosignedHead, TreeHead};
    use palabre_core::ids::Hash;
    use palabre_web::api::COSIGNATURES_PAGE;

    let (b, _, _) = world();
    let log = b.pk();
    let witnesses: Vec<_> = (0..3u8)
        .map(|n| palabre_core::crypto::SecretKey::from_seed(&[200 + n; 32]))
        .collect();
    let n = 2 * COSIGNATURES_PAGE + 7;
    let mut made = Vec::new();
    for i in 0..n {
        let head = TreeHead {
            authority: log,
            root: Hash::of(&(i as u64).to_be_bytes()),
            size: 1 + (i / 3) as u64,
            timestamp_ms: 1,
        };
        let witness = &witnesses[i % 3];
        made.push(
            CosignedHead {
                head,
                timestamp_ms: 2,
                witness: witness.public_key(),
            }
            .sign(witness),
        );
    }
    b.cosignatures
        .lock()
        .expect("lock")
        .extend(made.iter().cloned());
    let mut uri = format!("/api/v1/logs/{log}/cosignatures");
    let mut served = Vec::new();
    let mut pages = 0;
    loop {
        let (s, v) = crate::call(&b, "GET", &uri, vec![]).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let page = v["cosignatures"].as_array().expect("a list").clone();
        assert!(page.len() <= COSIGNATURES_PAGE);
        served.extend(page);
        pages += 1;
        match v["next"].as_str() {
            Some(next) => uri = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(served.len(), n, "every cosignature once");
    let key = |c: &serde_json::Value| {
        let h = &c["cosigned"]["head"];
        (
            h["size"].as_u64().expect("size"),
            c["cosigned"]["witness"]
                .as_str()
                .expect("witness")
                .to_owned(),
            h["root"].as_str().expect("root").to_owned(),
        )
    };
    let keys: Vec<_> = served.iter().map(key).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "in order, none twice");
    for bad in [
        "?after_size=3",
        "?after_size=x&after_witness=y&after_root=z",
    ] {
        let (s, v) = crate::call(
            &b,
            "GET",
            &format!("/api/v1/logs/{log}/cosignatures{bad}"),
            vec![],
        )
        .await;
        assert_eq!(
            (s, crate::code(&v)),
            (StatusCode::BAD_REQUEST, "bad_range"),
            "{bad}"
        );
    }
}
