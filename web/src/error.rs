//! How the web layer answers a refusal or a failure: [`Code`], every refusal's stable
//! machine code with its HTTP status decided beside it; [`ApiError`], the API's one JSON
//! error (`{"error": {"code", "message"}}`); and [`PageFailure`], the one HTML failure of
//! the residents' site and the staff pages. Failures of the node answer 500, are logged
//! with their sources, and are never shown.
//!
//! Why an event is refused is core's (`Rejection`); why a request is refused is the
//! handler's. The staff pages' own refusals (a full translated page, `staff::Refused`)
//! are not part of the protocol and keep their own words.

use std::borrow::Cow;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use palabre_core::rejection::Rejection;
use serde_json::json;

/// Declares the request codes, each with its status, as one table: the enum [`Code`],
/// its strings and statuses, and [`REQUEST_CODES`] cannot disagree.
macro_rules! request_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal => $status:ident,)+) => {
        /// A refusal's stable machine code: one of the API's own request codes
        /// (PROTOCOL.md, "Request codes"), or core's code of a refused event. It cannot
        /// be misspelt: a request code is a variant, an event code is only made from a
        /// [`Rejection`] (or read back from `Rejection::ALL_CODES`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $($(#[$doc])* $variant,)+
            /// Core's code of a refused event (PROTOCOL.md, "Event codes").
            Event(EventCode),
        }

        impl Code {
            /// The request codes, in the order of PROTOCOL.md's table.
            pub const REQUEST: &'static [Code] = &[$(Code::$variant),+];

            /// The code as the wire carries it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)+
                    Code::Event(e) => e.as_str(),
                }
            }

            /// The HTTP status a refusal with this code answers.
            pub fn status(self) -> StatusCode {
                match self {
                    $(Code::$variant => StatusCode::$status,)+
                    Code::Event(e) => e.status(),
                }
            }
        }

        /// Every code the API answers besides the event rejections of core
        /// (`Rejection::ALL_CODES`). PROTOCOL.md's table "Request codes" lists exactly
        /// these, with the status [`Code::status`] gives (a test reads the table).
        pub const REQUEST_CODES: &[&str] = &[$($code),+];
    };
}

request_codes! {
    /// The request body is over the node's limit.
    BodyTooLarge = "body_too_large" => PAYLOAD_TOO_LARGE,
    /// A batch of more events than allowed.
    BadRequest = "bad_request" => BAD_REQUEST,
    /// An id in a path is not 64 lowercase hex characters.
    BadId = "bad_id" => BAD_REQUEST,
    /// A page or proof outside its domain, or a query without its integers.
    BadRange = "bad_range" => BAD_REQUEST,
    /// An invitation code that is not 12 characters of the alphabet once normalised.
    BadCode = "bad_code" => BAD_REQUEST,
    /// A proof of key possession that does not parse or does not verify.
    BadProof = "bad_proof" => BAD_REQUEST,
    /// No invitation has this code's hash.
    UnknownInvitation = "unknown_invitation" => UNPROCESSABLE_ENTITY,
    /// The invitation was already redeemed.
    UsedInvitation = "used_invitation" => CONFLICT,
    /// The town hall withdrew the invitation.
    RevokedInvitation = "revoked_invitation" => CONFLICT,
    /// No such route, event, log or consultation here.
    NotFound = "not_found" => NOT_FOUND,
    /// The tally of a consultation that shows its results only after its close.
    ResultsHidden = "results_hidden" => FORBIDDEN,
    /// Too many requests from this address, or too many failed redemptions.
    RateLimited = "rate_limited" => TOO_MANY_REQUESTS,
    /// The node took longer than its request time limit.
    Timeout = "timeout" => SERVICE_UNAVAILABLE,
    /// The node holds its most connections.
    TooManyConnections = "too_many_connections" => SERVICE_UNAVAILABLE,
    /// The node failed (nothing is said of why; it is logged).
    Internal = "internal" => INTERNAL_SERVER_ERROR,
}

/// The status of each of core's event codes, grouped by status. Every code of
/// `Rejection::ALL_CODES` is listed exactly once (a test checks it): a new rejection
/// gets its status here, or the test fails.
const EVENT_STATUSES: &[(StatusCode, &[&str])] = &[
    (StatusCode::PAYLOAD_TOO_LARGE, &["too_large"]),
    (
        StatusCode::CONFLICT,
        &[
            "duplicate",
            "already_credentialed",
            "already_revoked",
            "already_closed",
            "already_mixed",
        ],
    ),
    (
        StatusCode::BAD_REQUEST,
        &[
            "malformed",
            "not_canonical",
            "not_an_integer",
            "null_value",
            "too_deep",
            "unsupported_version",
            "unknown_kind",
            "bad_key",
            "weak_key",
            "bad_signature",
            "over_limit",
            "invalid_text",
        ],
    ),
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        &[
            "unknown_authority",
            "wrong_author",
            "unknown_consultation",
            "unknown_proposal",
            "unknown_target",
            "outside_window",
            "clock_skew",
            "not_eligible",
            "revoked_key",
            "replaced_key",
            "not_participating",
            "invalid_choice",
            "invalid_method",
            "bad_windows",
            "bad_participants",
            "not_credentialed",
            "not_moderatable",
            "bad_cost",
            "checkpoint_mismatch",
            "not_closed",
            "result_mismatch",
            "bad_assistance",
            "not_staff",
            "bad_tombstone",
            "not_hidden",
            "purged",
            "bad_point",
            "bad_scalar",
            "bad_encryption_key",
            "bad_trustees",
            "bad_deal",
            "already_dealt",
            "bad_complaint",
            "bad_election_key",
            "no_election_key",
            "bad_layout",
            "wrong_layout",
            "sealed_required",
            "not_sealed",
            "bad_pok",
            "bad_quotas",
            "quota_reached",
            "bad_shuffle",
            "mix_incomplete",
            "chain_too_short",
            "bad_decryption_share",
            "decryptor_not_mixer",
        ],
    ),
];

/// Core's code of a refused event. Made only from a [`Rejection`], or read back from
/// `Rejection::ALL_CODES`: never from free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCode(&'static str);

impl EventCode {
    /// The code of `rejection`.
    pub fn of(rejection: &Rejection) -> EventCode {
        EventCode(rejection.code())
    }

    /// The event code spelt `text`, if core has one.
    pub fn parse(text: &str) -> Option<EventCode> {
        Rejection::ALL_CODES
            .iter()
            .find(|c| **c == text)
            .map(|c| EventCode(c))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Its status, from [`EVENT_STATUSES`] (where the tests find every code).
    pub fn status(self) -> StatusCode {
        EVENT_STATUSES
            .iter()
            .find(|(_, codes)| codes.contains(&self.0))
            .map_or(StatusCode::UNPROCESSABLE_ENTITY, |(status, _)| *status)
    }
}

impl Code {
    /// The code spelt `text` (a request code or an event code), if there is one.
    pub fn parse(text: &str) -> Option<Code> {
        Code::REQUEST
            .iter()
            .copied()
            .find(|c| c.as_str() == text)
            .or_else(|| EventCode::parse(text).map(Code::Event))
    }
}

impl From<&Rejection> for Code {
    fn from(rejection: &Rejection) -> Code {
        Code::Event(EventCode::of(rejection))
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the API answers when it does not answer what was asked: a refusal (its code's
/// status, its code and message) or a failure of the node (500 `internal`, logged).
#[derive(Debug)]
pub enum ApiError {
    /// A refusal with its code (from core's rejections, invitations, or the API itself).
    Refused(Refusal),
    Internal(BackendError),
}

impl ApiError {
    pub fn refused(code: Code, message: impl Into<String>) -> ApiError {
        ApiError::Refused(Refusal::new(code, message))
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::refused(Code::NotFound, format!("{what} not found"))
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        ApiError::Refused(r)
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> ApiError {
        ApiError::Internal(e)
    }
}

/// The JSON body of a refusal.
pub fn error_body(code: Code, message: &str) -> serde_json::Value {
    json!({"error": {"code": code.as_str(), "message": message}})
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let refusal = match self {
            ApiError::Refused(refusal) => refusal,
            ApiError::Internal(e) => {
                tracing::error!(error = %e.report(), "internal error while answering a request");
                Refusal::new(Code::Internal, "the node failed to answer; try again later")
            }
        };
        let body = error_body(refusal.code, &refusal.message);
        (refusal.code.status(), Json(body)).into_response()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_status_and_round_trips() {
        let mut event_codes: Vec<&str> = EVENT_STATUSES
            .iter()
            .flat_map(|(_, codes)| codes.iter().copied())
            .collect();
        let n_listed = event_codes.len();
        event_codes.sort_unstable();
        event_codes.dedup();
        assert_eq!(event_codes.len(), n_listed, "an event code is listed twice");
        let mut all: Vec<&str> = Rejection::ALL_CODES.to_vec();
        all.sort_unstable();
        assert_eq!(
            event_codes, all,
            "EVENT_STATUSES against Rejection::ALL_CODES"
        );

        let request: Vec<&str> = Code::REQUEST.iter().map(|c| c.as_str()).collect();
        assert_eq!(request, REQUEST_CODES);
        for text in REQUEST_CODES.iter().chain(Rejection::ALL_CODES) {
            let code = Code::parse(text).unwrap_or_else(|| panic!("`{text}` parses"));
            assert_eq!(code.as_str(), *text, "`{text}` round-trips");
            assert_eq!(code.to_string(), *text);
            let status = code.status();
            assert!(
                status.is_client_error() || status.is_server_error(),
                "`{text}` answers {status}"
            );
        }
        for text in Rejection::ALL_CODES {
            assert!(
                !REQUEST_CODES.contains(text),
                "`{text}` is both a request and an event code"
            );
        }
        assert_eq!(Code::parse("no_such_code"), None);
        assert_eq!(EventCode::parse("not_found"), None);
    }

    #[test]
    fn an_event_code_is_the_rejection_s() {
        let code = Code::from(&Rejection::Duplicate);
        assert_eq!(code, Code::parse("duplicate").expect("a code"));
        assert_eq!(code.status(), StatusCode::CONFLICT);
        assert_eq!(
            Code::from(&Rejection::BadSignature).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            Code::from(&Rejection::NotEligible).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}

/// A refused submission: a stable machine code and a plain-language message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: Code,
    pub message: String,
}

impl Refusal {
    pub fn new(code: Code, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

/// Core's refusal of an event: its code and its message.
impl From<&Rejection> for Refusal {
    fn from(rejection: &Rejection) -> Refusal {
        Refusal::new(Code::from(rejection), rejection.to_string())
    }
}

/// A failure of the node itself (disk, writer): answered with a 500 that names nothing,
/// and logged with what failed underneath ([`BackendError::report`]).
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct BackendError {
    /// What the node was doing, or what went wrong, in words.
    what: Cow<'static, str>,
    /// The failure underneath (the store's, a thread's, a codec's), if any.
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl BackendError {
    /// A failure said in words only (a full queue, a record missing from its index).
    pub fn new(what: impl Into<Cow<'static, str>>) -> BackendError {
        BackendError {
            what: what.into(),
            source: None,
        }
    }

    /// A failure of `source` while the node was doing `what`.
    pub fn caused(
        what: impl Into<Cow<'static, str>>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> BackendError {
        BackendError {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// The failure and every source under it, `: `-separated, for a log line.
    pub fn report(&self) -> impl std::fmt::Display + '_ {
        Report(self)
    }
}

struct Report<'a>(&'a BackendError);

impl std::fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = std::error::Error::source(self.0);
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}
