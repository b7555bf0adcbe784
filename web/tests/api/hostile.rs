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
