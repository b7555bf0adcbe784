//! The API's reads of consultations as a whole: the list, the tally, the audit bundle,
//! and [`audit_input`], the audit's input that open data also serves.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use palabre_core::crypto::PublicKey;
use palabre_core::ids::EventId;
use palabre_core::limits::MAX_PAGE_ENTRIES;
use serde::Serialize;
use serde_json::json;

use crate::backend::{Backend, BackendError};
use crate::error::{ApiError, Code};

use super::{Shared, parse_id};

#[derive(Serialize)]
pub(super) struct ConsultationSummary {
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

pub(super) async fn consultations<B: Backend>(
    State(state): State<Shared<B>>,
) -> Result<Response, ApiError> {
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
    let Some(view) = backend.consultation(id)? else {
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

pub(super) async fn bundle<B: Backend>(
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

pub(super) async fn tally<B: Backend>(
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
