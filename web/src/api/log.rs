//! The API's reads of the logs: one event by id, the town's `authority` event, each log's
//! signed checkpoint, entries, cosignatures, inclusion and consistency proofs, and the
//! equivocation evidence held. Every answer is one bounded page.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use palabre_core::crypto::PublicKey;
use palabre_core::limits::MAX_PAGE_ENTRIES;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;

use crate::backend::Backend;
use crate::error::{ApiError, Code};

use super::{Shared, parse_id, parse_key, raw};

#[derive(Serialize)]
pub(super) struct EventAnswer {
    log: PublicKey,
    index: u64,
    event: Box<RawValue>,
}

pub(super) async fn event<B: Backend>(
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

#[derive(Serialize)]
pub(super) struct AuthorityAnswer {
    key: PublicKey,
    event: Option<Box<RawValue>>,
}

pub(super) async fn authority<B: Backend>(
    State(state): State<Shared<B>>,
) -> Result<Json<AuthorityAnswer>, ApiError> {
    let info = state.backend.authority();
    Ok(Json(AuthorityAnswer {
        key: info.key,
        event: info.event.map(raw).transpose()?,
    }))
}

pub(super) async fn checkpoint<B: Backend>(
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
pub(super) struct CosignaturesFrom {
    after_size: Option<u64>,
    after_witness: Option<String>,
    after_root: Option<String>,
}

/// `GET /api/v1/logs/{authority}/cosignatures`: the witness cosignatures held of the
/// log's heads (closing heads among them), by size, then witness, then root, a page of
/// [`COSIGNATURES_PAGE`] at a time; `next` is the path of the next page while there may
/// be one (a witness cosigns a log every 10 s: the list grows for as long as the town
/// runs, so it is never served whole).
pub(super) async fn cosignatures<B: Backend>(
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
pub(super) async fn evidence<B: Backend>(
    State(state): State<Shared<B>>,
) -> Result<Response, ApiError> {
    let list = state.backend.evidence()?;
    let mut disputed: Vec<PublicKey> = list.iter().map(|e| e.authority()).collect();
    disputed.sort();
    disputed.dedup();
    Ok(Json(json!({"evidence": list, "disputed_authorities": disputed})).into_response())
}

#[derive(Deserialize)]
pub(super) struct Range {
    start: u64,
    end: u64,
}

#[derive(Serialize)]
pub(super) struct EntriesAnswer {
    start: u64,
    entries: Vec<Box<RawValue>>,
}

pub(super) async fn entries<B: Backend>(
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
pub(super) struct InclusionQuery {
    index: u64,
    size: u64,
}

pub(super) async fn inclusion<B: Backend>(
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
pub(super) struct ConsistencyQuery {
    from: u64,
    to: u64,
}

pub(super) async fn consistency<B: Backend>(
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
