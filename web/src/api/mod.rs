//! The JSON API: its configuration, its state, the route table, and what every handler
//! shares (decoding keys and ids, the disputed marks). The handlers are in one file per
//! kind of request: [`write`] (events and codes), [`log`] (the logs and their proofs),
//! [`results`] (consultations, tallies, bundles) and [`discussion`] (a consultation's
//! proposals and arguments, in pages).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, middleware};
use palabre_core::crypto::{KeyError, PublicKey};
use palabre_core::ids::EventId;
use palabre_core::limits::MAX_PAGE_ENTRIES;
use palabre_core::rejection::Rejection;
use serde_json::value::RawValue;
use tower_http::compression::CompressionLayer;

use crate::backend::{Backend, BackendError};
use crate::error::{ApiError, Code};
use crate::limit::{Budget, Limiter, RateLimit, rate_limit, time_limit};

mod discussion;
mod log;
mod results;
mod write;

pub use log::COSIGNATURES_PAGE;
pub use results::audit_input;

/// Limits of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest request body (a batch of events).
    pub max_body_bytes: usize,
    /// Most events in one batch.
    pub max_batch_events: usize,
    /// Requests per client address.
    pub rate: RateLimit,
    /// Longest a request may take before the client gets 503 `timeout`.
    pub request_timeout: Duration,
    /// Failed redemptions of invitation codes allowed on the whole node (from every
    /// address together); while spent, every redemption answers 429 `rate_limited`.
    pub redeem_failures: RateLimit,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`crate::client`);
    /// empty: the header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 4 * 1024 * 1024,
            max_batch_events: MAX_PAGE_ENTRIES as usize,
            rate: RateLimit {
                per_second: 50.0,
                burst: 200.0,
            },
            request_timeout: Duration::from_secs(30),
            redeem_failures: RateLimit {
                per_second: 1.0,
                burst: 60.0,
            },
            trusted_proxies: Vec::new(),
        }
    }
}

/// Counters for `/metrics`, kept by the API itself.
#[derive(Debug, Default)]
struct Counters {
    admitted_by_kind: BTreeMap<&'static str, u64>,
    rejected_by_code: BTreeMap<&'static str, u64>,
    /// Redemptions that named an unknown, used or withdrawn code.
    redeem_failed: u64,
    /// Redemptions refused because the node's budget of failures was spent.
    redeem_throttled: u64,
}

pub(crate) struct AppState<B> {
    pub(crate) backend: Arc<B>,
    config: ApiConfig,
    counters: Mutex<Counters>,
    redeem_failures: Budget,
    /// The tallies of the counts published, worked out once per count.
    tallies: crate::tallies::Tallies,
}

pub(crate) type Shared<B> = Arc<AppState<B>>;

/// The API's router over `backend`.
pub fn app<B: Backend>(backend: Arc<B>, config: ApiConfig) -> Router {
    app_with(backend, config, Router::new())
}

/// [`app`] with more routes (the node adds the staff pages, [`crate::staff::routes`]),
/// under the same limits.
pub fn app_with<B: Backend>(backend: Arc<B>, config: ApiConfig, more: Router) -> Router {
    let mut counters = Counters::default();
    for code in Rejection::ALL_CODES {
        counters.rejected_by_code.insert(code, 0);
    }
    let limiter = Arc::new(Limiter::new(config.rate));
    let timeout = config.request_timeout;
    let max_body_bytes = config.max_body_bytes;
    let trusted: Arc<[std::net::IpAddr]> = config.trusted_proxies.clone().into();
    let state: Shared<B> = Arc::new(AppState {
        backend,
        redeem_failures: Budget::new(config.redeem_failures),
        config,
        counters: Mutex::new(counters),
        tallies: Default::default(),
    });
    let spec = crate::openapi::spec()
        .to_json()
        .expect("the OpenAPI model serializes");
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::<B>))
        .route(
            "/api/v1/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], spec) }),
        )
        .route("/api/v1/events", post(write::submit::<B>))
        .route("/api/v1/events/{id}", get(log::event::<B>))
        .route("/api/v1/authority", get(log::authority::<B>))
        .route(
            "/api/v1/logs/{authority}/checkpoint",
            get(log::checkpoint::<B>),
        )
        .route("/api/v1/logs/{authority}/entries", get(log::entries::<B>))
        .route(
            "/api/v1/logs/{authority}/cosignatures",
            get(log::cosignatures::<B>),
        )
        .route(
            "/api/v1/logs/{authority}/proof/inclusion",
            get(log::inclusion::<B>),
        )
        .route(
            "/api/v1/logs/{authority}/proof/consistency",
            get(log::consistency::<B>),
        )
        .route("/api/v1/credentials/redeem", post(write::redeem::<B>))
        .route("/api/v1/consultations", get(results::consultations::<B>))
        .route(
            "/api/v1/consultations/{id}",
            get(discussion::consultation::<B>),
        )
        .route("/api/v1/consultations/{id}/tally", get(results::tally::<B>))
        .route(
            "/api/v1/consultations/{id}/bundle",
            get(results::bundle::<B>),
        )
        .route("/api/v1/evidence", get(log::evidence::<B>))
        .with_state(Arc::clone(&state))
        .merge(crate::site::routes(Arc::clone(&state.backend)))
        .merge(more)
        .fallback(|| async { ApiError::not_found("route") })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn(move |req, next| {
            time_limit(timeout, req, next)
        }))
        .layer(middleware::from_fn(move |req, next| {
            rate_limit(Arc::clone(&limiter), req, next)
        }))
        .layer(middleware::from_fn(move |req, next| {
            crate::client::resolve(Arc::clone(&trusted), req, next)
        }))
        .layer(CompressionLayer::new())
}

fn lock<B>(state: &AppState<B>) -> std::sync::MutexGuard<'_, Counters> {
    state.counters.lock().unwrap_or_else(|e| e.into_inner())
}

/// The refusal of a key that does not parse: `weak_key` for a point of small or mixed
/// order, `bad_key` for anything else, as for a key inside an event.
fn key_refusal(what: &str, e: KeyError) -> ApiError {
    match e {
        KeyError::Weak => ApiError::refused(
            Code::from(&Rejection::WeakKey { field: "key" }),
            format!("{what} is a weak (small-order or mixed-order) Ed25519 key"),
        ),
        _ => ApiError::refused(
            Code::from(&Rejection::BadKey { field: "key" }),
            format!("{what} is not 64 lowercase hex characters of a canonical Ed25519 key"),
        ),
    }
}

/// A body that is not what the route reads: core's `malformed`, in the API's words.
fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::refused(Code::from(&Rejection::Malformed(String::new())), message)
}

fn parse_key(text: &str) -> Result<PublicKey, ApiError> {
    text.parse().map_err(|e| key_refusal("the authority", e))
}

pub(crate) fn parse_id(text: &str) -> Result<EventId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::refused(Code::BadId, "an id is 64 lowercase hexadecimal characters"))
}

pub(crate) fn raw(bytes: Vec<u8>) -> Result<Box<RawValue>, ApiError> {
    let text = String::from_utf8(bytes)
        .map_err(|e| ApiError::Internal(BackendError::caused("a stored event is not UTF-8", e)))?;
    RawValue::from_string(text)
        .map_err(|e| ApiError::Internal(BackendError::caused("a stored event is not JSON", e)))
}

/// Whether any participating authority of `view` is caught equivocating.
pub(crate) fn disputed<B: Backend + ?Sized>(
    backend: &B,
    view: &palabre_core::view::ConsultationView,
) -> Result<bool, ApiError> {
    Ok(backend
        .evidence()?
        .iter()
        .any(|e| view.participates(&e.authority())))
}

async fn metrics<B: Backend>(State(state): State<Shared<B>>) -> Response {
    let mut out = String::new();
    out.push_str(
        "# HELP palabre_events_admitted_total Events admitted through the API, by kind.\n",
    );
    out.push_str("# TYPE palabre_events_admitted_total counter\n");
    let c = lock(&state);
    for kind in palabre_core::event::Kind::ALL {
        let n = c.admitted_by_kind.get(kind.as_str()).copied().unwrap_or(0);
        out.push_str(&format!(
            "palabre_events_admitted_total{{kind=\"{}\"}} {n}\n",
            kind.as_str()
        ));
    }
    out.push_str("# HELP palabre_events_rejected_total Events refused through the API, by code.\n");
    out.push_str("# TYPE palabre_events_rejected_total counter\n");
    // Codes are `Code`s, lowercase letters and `_`: nothing to escape in a label.
    for (code, n) in &c.rejected_by_code {
        out.push_str(&format!(
            "palabre_events_rejected_total{{code=\"{code}\"}} {n}\n"
        ));
    }
    out.push_str(
        "# HELP palabre_redeem_failed_total Redemptions naming an unknown, used or withdrawn code.\n\
         # TYPE palabre_redeem_failed_total counter\n",
    );
    out.push_str(&format!(
        "palabre_redeem_failed_total {}\n",
        c.redeem_failed
    ));
    out.push_str(
        "# HELP palabre_redeem_throttled_total Redemptions refused while the node's budget of failures was spent.\n\
         # TYPE palabre_redeem_throttled_total counter\n",
    );
    out.push_str(&format!(
        "palabre_redeem_throttled_total {}\n",
        c.redeem_throttled
    ));
    drop(c);
    out.push_str(&crate::conn::metrics());
    out.push_str(&state.backend.metrics());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
