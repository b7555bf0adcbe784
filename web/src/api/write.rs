//! The API's writes: `POST /api/v1/events` (one signed event, or a batch) and
//! `POST /api/v1/credentials/redeem` (a printed code for a credential). Signed events
//! are verified over the exact bytes received: a single event is the raw request body; a
//! batch is a JSON array whose elements are taken as raw JSON text (`RawValue`), byte
//! for byte.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use palabre_core::crypto::{PublicKey, Signature};
use palabre_core::event::SignedEvent;
use palabre_core::invitation::{KeyPossession, code_hash, normalize_code};
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;

use crate::backend::{Backend, Refusal};
use crate::error::{ApiError, Code, error_body};
use crate::limit::too_many;

use super::{Shared, key_refusal, lock, malformed, raw};

/// `POST /api/v1/events`: one event (an object) → 201 with its receipt, or a batch (an
/// array) → 200 with one result per event.
pub(super) async fn submit<B: Backend>(
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

/// A receipt as the resident keeps it, with the town's signed `authority` event (its
/// exact bytes), whose addresses tell `palabre check-receipt` which node to ask.
#[derive(Serialize)]
pub(super) struct ReceiptAnswer {
    receipt: palabre_core::head::Receipt,
    #[serde(skip_serializing_if = "Option::is_none")]
    authority: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RedeemRequest {
    code: String,
    key: String,
    proof: String,
}

pub(super) async fn redeem<B: Backend>(
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
