//! `ApiError`: every refusal the API gives, as a stable machine code, a plain-language
//! message and an HTTP status. Internal failures answer 500 `internal` and are logged,
//! never shown. [`PageFailure`] is the same failure for an HTML page, the one the
//! residents' site and the staff pages share.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::backend::{BackendError, Refusal};

#[derive(Debug)]
pub enum ApiError {
    /// A refusal with its code (from core's rejections, invitations, or the API itself).
    Refused {
        code: String,
        message: String,
    },
    Internal(BackendError),
}

impl ApiError {
    pub fn refused(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::Refused {
            code: code.to_owned(),
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::refused("not_found", format!("{what} not found"))
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        ApiError::Refused {
            code: r.code,
            message: r.message,
        }
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> ApiError {
        ApiError::Internal(e)
    }
}

/// Every code the API answers besides the event rejections of core
/// (`Rejection::ALL_CODES`). PROTOCOL.md's table "Request codes" lists exactly these,
/// with the status [`status_of`] gives (a test reads the table). The staff pages' own
/// refusals (HTML forms for the town hall) are not part of the protocol.
pub const REQUEST_CODES: &[&str] = &[
    "body_too_large",
    "bad_request",
    "bad_id",
    "bad_range",
    "bad_code",
    "bad_proof",
    "unknown_invitation",
    "used_invitation",
    "revoked_invitation",
    "not_found",
    "results_hidden",
    "rate_limited",
    "timeout",
    "too_many_connections",
    "internal",
];

/// The HTTP status of a refusal code (PROTOCOL.md lists the codes).
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "too_large" | "body_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "not_found" => StatusCode::NOT_FOUND,
        "results_hidden" => StatusCode::FORBIDDEN,
        "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
        "timeout" | "too_many_connections" => StatusCode::SERVICE_UNAVAILABLE,
        "internal" => StatusCode::INTERNAL_SERVER_ERROR,
        "duplicate"
        | "already_credentialed"
        | "used_invitation"
        | "revoked_invitation"
        | "already_closed"
        | "already_revoked"
        | "already_mixed" => StatusCode::CONFLICT,
        "malformed"
        | "not_canonical"
        | "not_an_integer"
        | "null_value"
        | "too_deep"
        | "unsupported_version"
        | "unknown_kind"
        | "bad_key"
        | "weak_key"
        | "bad_signature"
        | "over_limit"
        | "invalid_text"
        | "bad_code"
        | "bad_proof"
        | "bad_range"
        | "bad_id"
        | "bad_request" => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// The JSON body of a refusal.
pub fn error_body(code: &str, message: &str) -> serde_json::Value {
    json!({"error": {"code": code, "message": message}})
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Refused { code, message } => {
                (status_of(&code), Json(error_body(&code, &message))).into_response()
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %e.report(), "internal error while answering a request");
                let body = error_body("internal", "the node failed to answer; try again later");
                (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
            }
        }
    }
}

/// The node failed while building an HTML page (the residents' site or the staff
/// pages): logged with its sources, answered with a bare 500 that names nothing.
#[derive(Debug)]
pub struct PageFailure(BackendError);

impl From<BackendError> for PageFailure {
    fn from(e: BackendError) -> PageFailure {
        PageFailure(e)
    }
}

impl IntoResponse for PageFailure {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0.report(), "a page failed");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}
