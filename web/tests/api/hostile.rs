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
