//! The routes of the JSON API and their handlers: decode, call the backend, answer.
//!
//! Signed events are verified over the exact bytes received: a single event is the raw
//! request body; a batch is a JSON array whose elements are taken as raw JSON text
//! (`RawValue`), byte for byte.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use palabre_core::crypto::{KeyError, PublicKey, Signature};
use palabre_core::event::SignedEvent;
use palabre_core::ids::EventId;
use palabre_core::invitation::{KeyPossession, code_hash, normalize_code};
use palabre_core::limits::MAX_PAGE_ENTRIES;
use palabre_core::rejection::Rejection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;

use crate::backend::{Backend, BackendError, Refusal};
use crate::error::{ApiError, Code, error_body};
use crate::limit::{Budget, Limiter, RateLimit, rate_limit, time_limit, too_many};
use tower_http::compression::CompressionLayer;

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
        .route("/api/v1/events", post(submit::<B>))
        .route("/api/v1/events/{id}", get(event::<B>))
        .route("/api/v1/authority", get(authority::<B>))
        .route("/api/v1/logs/{authority}/checkpoint", get(checkpoint::<B>))
        .route("/api/v1/logs/{authority}/entries", get(entries::<B>))
        .route(
            "/api/v1/logs/{authority}/cosignatures",
            get(cosignatures::<B>),
        )
        .route(
            "/api/v1/logs/{authority}/proof/inclusion",
            get(inclusion::<B>),
        )
        .route(
            "/api/v1/logs/{authority}/proof/consistency",
            get(consistency::<B>),
        )
        .route("/api/v1/credentials/redeem", post(redeem::<B>))
        .route("/api/v1/consultations", get(consultations::<B>))
        .route(
            "/api/v1/consultations/{id}",
            get(crate::discussion::consultation::<B>),
        )
        .route("/api/v1/consultations/{id}/tally", get(tally::<B>))
        .route("/api/v1/consultations/{id}/bundle", get(bundle::<B>))
        .route("/api/v1/evidence", get(evidence::<B>))
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

/// `POST /api/v1/events`: one event (an object) → 201 with its receipt, or a batch (an
/// array) → 200 with one result per event.
async fn submit<B: Backend>(
    State(state): State<Shared<B>>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::refused(
                Code::BodyTooLarge,
                format!("the body is over {} bytes", state.config.max_body_bytes),
            )
        } else {
            malformed(e.body_text())
        }
    })?;
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let batch = first == Some(b'[');
    let raws: Vec<Vec<u8>> = if batch {
        let items: Vec<&RawValue> = serde_json::from_slice(&body)
            .map_err(|e| malformed(format!("a batch is a JSON array of events: {e}")))?;
        if items.len() > state.config.max_batch_events {
            return Err(ApiError::refused(
                Code::BadRequest,
                format!(
                    "a batch holds at most {} events",
                    state.config.max_batch_events
                ),
            ));
        }
        items.iter().map(|r| r.get().as_bytes().to_vec()).collect()
    } else {
        vec![body.to_vec()]
    };
    // Decode every event; only valid ones go to the backend, in order.
    let decoded: Vec<Result<SignedEvent, Refusal>> = raws
        .into_iter()
        .map(|bytes| SignedEvent::from_bytes(bytes).map_err(|r| Refusal::from(&r)))
        .collect();
    let kinds: Vec<Option<&'static str>> = decoded
        .iter()
        .map(|d| d.as_ref().ok().map(|e| e.kind().as_str()))
        .collect();
    let valid: Vec<SignedEvent> = decoded
        .iter()
        .filter_map(|d| d.as_ref().ok().cloned())
        .collect();
    let mut answers = state.backend.submit(valid).await?.into_iter();
    let mut results: Vec<Result<palabre_core::head::Receipt, Refusal>> =
        Vec::with_capacity(decoded.len());
    for d in decoded {
        match d {
            Err(refusal) => results.push(Err(refusal)),
            Ok(_) => results.push(answers.next().unwrap_or_else(|| {
                Err(Refusal::new(
                    Code::Internal,
                    "the node gave no answer for this event",
                ))
            })),
        }
    }
    {
        let mut c = lock(&state);
        for (r, kind) in results.iter().zip(kinds) {
            match (r, kind) {
                (Ok(_), Some(kind)) => *c.admitted_by_kind.entry(kind).or_default() += 1,
                (Err(refusal), _) => {
                    *c.rejected_by_code.entry(refusal.code.as_str()).or_default() += 1
                }
                (Ok(_), None) => {}
            }
        }
    }
    if batch {
        let items: Vec<serde_json::Value> = results
            .iter()
            .map(|r| match r {
                Ok(receipt) => json!({"receipt": receipt}),
                Err(f) => error_body(f.code, &f.message),
            })
            .collect();
        return Ok((StatusCode::OK, Json(json!({"results": items}))).into_response());
    }
    match results.into_iter().next() {
        Some(Ok(receipt)) => {
            let authority = state.backend.authority().event.map(raw).transpose()?;
            let body = ReceiptAnswer { receipt, authority };
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
        Some(Err(refusal)) => Err(refusal.into()),
        None => Err(malformed("empty request")),
    }
}

#[derive(Serialize)]
struct EventAnswer {
    log: PublicKey,
    index: u64,
    event: Box<RawValue>,
}

async fn event<B: Backend>(
    State(state): State<Shared<B>>,
    Path(id): Path<String>,
) -> Result<Json<EventAnswer>, ApiError> {
    let id = parse_id(&id)?;
    let stored = state
        .backend
        .event(&id)?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(EventAnswer {
        log: stored.log,
        index: stored.index,
        event: raw(stored.bytes)?,
    }))
}

/// A receipt as the resident keeps it, with the town's signed `authority` event (its
/// exact bytes), whose addresses tell `palabre check-receipt` which node to ask.
#[derive(Serialize)]
struct ReceiptAnswer {
    receipt: palabre_core::head::Receipt,
    #[serde(skip_serializing_if = "Option::is_none")]
    authority: Option<Box<RawValue>>,
}

#[derive(Serialize)]
struct AuthorityAnswer {
    key: PublicKey,
    event: Option<Box<RawValue>>,
}

async fn authority<B: Backend>(
    State(state): State<Shared<B>>,
) -> Result<Json<AuthorityAnswer>, ApiError> {
    let info = state.backend.authority();
    Ok(Json(AuthorityAnswer {
        key: info.key,
        event: info.event.map(raw).transpose()?,
    }))
}

async fn checkpoint<B: Backend>(
    State(state): State<Shared<B>>,
    Path(authority): Path<String>,
) -> Result<Response, ApiError> {
    let log = parse_key(&authority)?;
    let head = state
        .backend
        .latest_head(&log)?
        .ok_or_else(|| ApiError::not_found("log"))?;
    Ok(Json(head).into_response())
}

/// Cosignatures per page of `GET /api/v1/logs/{authority}/cosignatures`.
pub const COSIGNATURES_PAGE: usize = 500;

/// Where a page of cosignatures starts: after the cosignature at (`after_size`,
/// `after_witness`, `after_root`), all three or none.
#[derive(Deserialize)]
struct CosignaturesFrom {
    after_size: Option<u64>,
    after_witness: Option<String>,
    after_root: Option<String>,
}

/// `GET /api/v1/logs/{authority}/cosignatures`: the witness cosignatures held of the
/// log's heads (closing heads among them), by size, then witness, then root, a page of
/// [`COSIGNATURES_PAGE`] at a time; `next` is the path of the next page while there may
/// be one (a witness cosigns a log every 10 s: the list grows for as long as the town
/// runs, so it is never served whole).
async fn cosignatures<B: Backend>(
    State(state): State<Shared<B>>,
    Path(authority): Path<String>,
    query: Result<Query<CosignaturesFrom>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let log = parse_key(&authority)?;
    let bad = || {
        ApiError::refused(
            Code::BadRange,
            "give after_size, after_witness and after_root together (from a `next` link), or none",
        )
    };
    let Query(from) = query.map_err(|_| bad())?;
    let after = match (from.after_size, from.after_witness, from.after_root) {
        (None, None, None) => None,
        (Some(size), Some(w), Some(r)) => Some((
            size,
            w.parse::<PublicKey>().map_err(|_| bad())?,
            r.parse::<palabre_core::ids::Hash>().map_err(|_| bad())?,
        )),
        _ => return Err(bad()),
    };
    let list = state
        .backend
        .cosignatures_after(&log, after, COSIGNATURES_PAGE)?;
    let next = (list.len() == COSIGNATURES_PAGE)
        .then(|| list.last())
        .flatten()
        .map(|c| {
            let h = &c.cosigned.head;
            format!(
                "/api/v1/logs/{log}/cosignatures?after_size={}&after_witness={}&after_root={}",
                h.size,
                c.cosigned.witness,
                h.root.to_hex()
            )
        });
    Ok(Json(json!({"cosignatures": list, "next": next})).into_response())
}

/// `GET /api/v1/evidence`: every proof of equivocation this node holds, each checkable
/// alone (PROTOCOL.md, "Evidence"), with the authorities they convict.
async fn evidence<B: Backend>(State(state): State<Shared<B>>) -> Result<Response, ApiError> {
    let list = state.backend.evidence()?;
    let mut disputed: Vec<PublicKey> = list.iter().map(|e| e.authority()).collect();
    disputed.sort();
    disputed.dedup();
    Ok(Json(json!({"evidence": list, "disputed_authorities": disputed})).into_response())
}

/// Whether any participating authority of `view` is caught equivocating.
pub(crate) fn disputed<B: Backend + ?Sized>(
    backend: &B,
    view: &palabre_core::admission::ConsultationView,
) -> Result<bool, ApiError> {
    Ok(backend
        .evidence()?
        .iter()
        .any(|e| view.participates(&e.authority())))
}

#[derive(Deserialize)]
struct Range {
    start: u64,
    end: u64,
}

#[derive(Serialize)]
struct EntriesAnswer {
    start: u64,
    entries: Vec<Box<RawValue>>,
}

async fn entries<B: Backend>(
    State(state): State<Shared<B>>,
    Path(authority): Path<String>,
    query: Result<Query<Range>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EntriesAnswer>, ApiError> {
    let log = parse_key(&authority)?;
    let Query(Range { start, end }) = query.map_err(|_| {
        ApiError::refused(
            Code::BadRange,
            "give start and end as integers (end exclusive)",
        )
    })?;
    let size = state.backend.log_size(&log)?;
    if start >= end || end > size || end - start > MAX_PAGE_ENTRIES {
        return Err(ApiError::refused(
            Code::BadRange,
            format!(
                "need start < end ≤ {size} (the log size) and at most {MAX_PAGE_ENTRIES} entries"
            ),
        ));
    }
    let entries = state
        .backend
        .entries(&log, start, end)?
        .into_iter()
        .map(raw)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(EntriesAnswer { start, entries }))
}

#[derive(Deserialize)]
struct InclusionQuery {
    index: u64,
    size: u64,
}

async fn inclusion<B: Backend>(
    State(state): State<Shared<B>>,
    Path(authority): Path<String>,
    query: Result<Query<InclusionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let log = parse_key(&authority)?;
    let Query(q) =
        query.map_err(|_| ApiError::refused(Code::BadRange, "give index and size as integers"))?;
    let proof = state
        .backend
        .inclusion_proof(&log, q.index, q.size)?
        .ok_or_else(|| ApiError::refused(Code::BadRange, "need index < size ≤ the log size"))?;
    Ok(Json(json!({"index": q.index, "size": q.size, "proof": proof})).into_response())
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    from: u64,
    to: u64,
}

async fn consistency<B: Backend>(
    State(state): State<Shared<B>>,
    Path(authority): Path<String>,
    query: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let log = parse_key(&authority)?;
    let Query(q) =
        query.map_err(|_| ApiError::refused(Code::BadRange, "give from and to as integers"))?;
    let proof = state
        .backend
        .consistency_proof(&log, q.from, q.to)?
        .ok_or_else(|| ApiError::refused(Code::BadRange, "need 0 < from ≤ to ≤ the log size"))?;
    Ok(Json(json!({"from": q.from, "to": q.to, "proof": proof})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeemRequest {
    code: String,
    key: String,
    proof: String,
}

async fn redeem<B: Backend>(
    State(state): State<Shared<B>>,
    client: axum::Extension<crate::client::ClientAddr>,
    body: Bytes,
) -> Result<Response, ApiError> {
    // Parsed whatever the Content-Type: curl users and old browsers forget it.
    let r: RedeemRequest = serde_json::from_slice(&body)
        .map_err(|e| malformed(format!("expected {{\"code\", \"key\", \"proof\"}}: {e}")))?;
    let code = normalize_code(&r.code).ok_or_else(|| {
        ApiError::refused(
            Code::BadCode,
            "an invitation code is 12 letters and digits, as printed on the letter",
        )
    })?;
    let subject: PublicKey = r.key.parse().map_err(|e| key_refusal("the key", e))?;
    let proof: Signature = r.proof.parse().map_err(|_| {
        ApiError::refused(
            Code::BadProof,
            "the proof is 128 lowercase hexadecimal characters",
        )
    })?;
    let authority = state.backend.authority().key;
    let invitation = code_hash(&authority, &code);
    KeyPossession {
        authority,
        invitation,
        subject,
    }
    .verify(&proof)
    .map_err(|_| {
        ApiError::refused(
            Code::BadProof,
            "the proof of key possession does not verify",
        )
    })?;
    // A global budget of failures bounds guessing from many addresses at once.
    if let Err(wait) = state.redeem_failures.available(std::time::Instant::now()) {
        lock(&state).redeem_throttled += 1;
        return Ok(too_many(
            wait,
            "too many failed redemptions on this node just now; wait a moment and try again",
        ));
    }
    let (credential, receipt) = match state.backend.redeem(invitation, subject).await? {
        Ok(done) => done,
        Err(refusal) => {
            if matches!(
                refusal.code,
                Code::UnknownInvitation | Code::UsedInvitation | Code::RevokedInvitation
            ) {
                lock(&state).redeem_failed += 1;
                if state.redeem_failures.spend(std::time::Instant::now()) {
                    tracing::warn!(
                        client = ?client.0,
                        "the budget of failed redemptions is spent: redemptions wait until it refills"
                    );
                }
            }
            return Err(refusal.into());
        }
    };
    lock(&state)
        .admitted_by_kind
        .entry("credential")
        .and_modify(|n| *n += 1)
        .or_insert(1);
    let body = json!({"credential": raw(credential.bytes().to_vec())?, "receipt": receipt});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[derive(Serialize)]
struct ConsultationSummary {
    id: EventId,
    title: String,
    organiser: PublicKey,
    authorities: Vec<PublicKey>,
    proposals_open_ms: u64,
    proposals_close_ms: u64,
    vote_open_ms: u64,
    vote_close_ms: u64,
    method: palabre_core::tally::Method,
    show_running_results: bool,
    status: &'static str,
    /// A participating authority was caught showing two histories (see `/api/v1/evidence`).
    disputed: bool,
}

async fn consultations<B: Backend>(State(state): State<Shared<B>>) -> Result<Response, ApiError> {
    let now = state.backend.now_ms();
    let caught: Vec<PublicKey> = state
        .backend
        .evidence()?
        .iter()
        .map(|e| e.authority())
        .collect();
    let mut list: Vec<ConsultationSummary> = state
        .backend
        .consultations()?
        .into_iter()
        .map(|c| ConsultationSummary {
            disputed: caught.iter().any(|a| c.participates(a)),
            status: c.phase(now).as_str(),
            id: c.id,
            title: c.body.title,
            organiser: c.organiser,
            authorities: c.body.authorities,
            proposals_open_ms: c.body.proposals_open_ms,
            proposals_close_ms: c.body.proposals_close_ms,
            vote_open_ms: c.body.vote_open_ms,
            vote_close_ms: c.body.vote_close_ms,
            method: c.body.method,
            show_running_results: c.body.show_running_results,
        })
        .collect();
    list.sort_by(|a, b| b.vote_close_ms.cmp(&a.vote_close_ms).then(a.id.cmp(&b.id)));
    Ok(Json(json!({"consultations": list})).into_response())
}

/// The audit bundle of a consultation as this node holds it: every participating log it
/// has, exactly as stored, with its latest signed head (PROTOCOL.md, "Audit bundle").
/// Everything this node holds of a consultation's logs, as an auditor's input: each
/// participating log's entries up to its latest signed head, with the cosignatures and
/// evidence held (the bundle, and what open data is recounted from).
pub fn audit_input<B: Backend + ?Sized>(
    backend: &B,
    id: &EventId,
) -> Result<Option<palabre_core::audit::AuditInput>, crate::BackendError> {
    let Some((view, _)) = backend.discussion(id)? else {
        return Ok(None);
    };
    let me = backend.authority().key;
    let mut logs = Vec::new();
    // A secret consultation's trustees that do not take part in the vote keep their deals
    // and complaints in their own logs: the bundle carries those too.
    let mut authorities = view.body.authorities.clone();
    for t in view.body.secrecy.iter().flat_map(|s| &s.trustees) {
        if !authorities.contains(t) {
            authorities.push(*t);
        }
    }
    for authority in &authorities {
        let Some(head) = backend.latest_head(authority)? else {
            continue;
        };
        let mut entries = Vec::with_capacity(head.head.size as usize);
        while (entries.len() as u64) < head.head.size {
            let start = entries.len() as u64;
            let end = head.head.size.min(start + MAX_PAGE_ENTRIES);
            let page = backend.entries(authority, start, end)?;
            if page.is_empty() {
                break;
            }
            entries.extend(page);
        }
        logs.push(palabre_core::audit::LogMaterial {
            authority: *authority,
            source: format!("node of {me}"),
            entries,
            heads: vec![head],
            cosignatures: backend.cosignatures(authority)?,
        });
    }
    Ok(Some(palabre_core::audit::AuditInput {
        consultation: *id,
        logs,
        evidence: backend.evidence()?,
    }))
}

async fn bundle<B: Backend>(
    State(state): State<Shared<B>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let input =
        audit_input(&*state.backend, &id)?.ok_or_else(|| ApiError::not_found("consultation"))?;
    let bytes = palabre_core::audit::bundle::to_json(&input).map_err(|e| {
        ApiError::Internal(BackendError::caused("the bundle does not serialize", e))
    })?;
    let disposition = format!("attachment; filename=\"palabre-{id}.bundle.json\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

async fn tally<B: Backend>(
    State(state): State<Shared<B>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let now = state.backend.now_ms();
    // A hidden result is refused before anything is counted (issue 19, point 2); a
    // secret consultation publishes its participation at any time (core's `published`).
    let hidden = state
        .backend
        .consultations()?
        .iter()
        .any(|v| v.id == id && v.body.secrecy.is_none() && !v.results_visible(now));
    if hidden {
        return Err(ApiError::refused(
            Code::ResultsHidden,
            "this consultation shows its results only after the vote closes",
        ));
    }
    let (view, counted) = crate::backend::count_off_workers(&state.backend, id)
        .await?
        .ok_or_else(|| ApiError::not_found("consultation"))?;
    // Core decides what may be shown: a secret consultation's participation only.
    let Some(published) = state.tallies.published(&view, &counted, now) else {
        return Err(ApiError::refused(
            Code::ResultsHidden,
            "this consultation shows its results only after the vote closes",
        ));
    };
    let mut out = serde_json::to_value(&published)
        .map_err(|e| ApiError::Internal(BackendError::caused("the tally does not serialize", e)))?;
    // A secret consultation: where its opening stands and, once published, the signed
    // result's tally (the organiser's; `palabre audit` recounts it).
    if let Some(o) = state.backend.opening(&view)?
        && let Some(map) = out.as_object_mut()
    {
        if let Some((id, r)) = &o.result {
            map.insert("result".into(), json!(id));
            map.insert("tally".into(), json!(r.tally));
        }
        map.insert("opening".into(), json!(o));
    }
    Ok(Json(out).into_response())
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
