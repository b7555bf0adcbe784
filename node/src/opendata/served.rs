//! `GET /c/{id}/data/results.{json,csv,pb}`: the same files as `palabre export`, for
//! anyone to download from the results page.
//!
//! Making a file replays and audits every participating log, so an anonymous request
//! must not make one each time (issue 19, point 2). A hidden result is refused before
//! anything is read; a file made is kept (with its refusal, if it was refused) until a
//! participating log grows. While the vote is still open somewhere — a running count —
//! a file up to [`RUNNING_MAX_AGE`] old is served even if ballots came in since. One
//! request at a time makes a consultation's files; the others wait for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use palabre_core::ids::EventId;
use palabre_core::record::Record;

use crate::backend::NodeBackend;
use crate::clock::now_ms;

use super::{Format, render};

/// How old a file of a running count may be.
pub const RUNNING_MAX_AGE: Duration = Duration::from_secs(30);

/// How many consultations keep their files at once.
const HELD: usize = 8;

/// What a file's contents depend on: the size of each participating log (the ballots,
/// and after the close the mixes, shares and result) and the moment it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Made {
    sizes: Vec<u64>,
    at: Instant,
    /// The file, or why it is not published (the 422 answer's text).
    file: Result<String, String>,
}

type Slot = Arc<tokio::sync::Mutex<HashMap<Format, Made>>>;

/// The router's state: the node, and the files made.
#[derive(Clone)]
struct Served {
    backend: Arc<NodeBackend>,
    files: Arc<Mutex<Vec<(EventId, Slot)>>>,
}

impl Served {
    /// `consultation`'s slot, made the most recent (a new one evicts the oldest).
    fn slot(&self, consultation: &EventId) -> Slot {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match files.iter().position(|(id, _)| id == consultation) {
            Some(i) => files.remove(i).1,
            None => Slot::default(),
        };
        files.insert(0, (*consultation, slot.clone()));
        files.truncate(HELD);
        slot
    }
}

/// The open-data routes.
pub fn routes(backend: Arc<NodeBackend>) -> axum::Router {
    let served = Served {
        backend,
        files: Arc::default(),
    };
    axum::Router::new()
        .route("/c/{id}/data/{file}", axum::routing::get(file))
        .with_state(served)
}

async fn file(
    State(served): State<Served>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Response {
    let (format, content_type) = match name.as_str() {
        "results.json" => (Format::Json, "application/json"),
        "results.csv" => (Format::Csv, "text/csv; charset=utf-8"),
        "results.pb" => (Format::Pb, "text/plain; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let Ok(id) = id.parse::<EventId>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let storage = &served.backend.storage;
    let Some(view) = storage.consultation(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !view.results_visible(now_ms()) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            super::Unpublished::Hidden.to_string(),
        )
            .into_response();
    }
    let slot = served.slot(&id);
    let mut made = slot.lock().await;
    let sizes: Vec<u64> = view
        .body
        .authorities
        .iter()
        .map(|a| storage.log_size(a))
        .collect();
    let running = view
        .body
        .authorities
        .iter()
        .any(|a| storage.closing(a, &id).is_none());
    let fresh = made
        .get(&format)
        .is_some_and(|m| m.sizes == sizes || (running && m.at.elapsed() <= RUNNING_MAX_AGE));
    if !fresh {
        // Recounting replays every entry: off the async workers.
        let backend = served.backend.clone();
        let file = tokio::task::spawn_blocking(move || {
            let input = palabre_web::api::audit_input(&*backend, &id)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            input.map(|i| render(&i, format)).transpose()
        })
        .await;
        let file = match file {
            Ok(Ok(Some(text))) => Ok(text),
            Ok(Ok(None)) => return StatusCode::NOT_FOUND.into_response(),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(e) => {
                tracing::error!("open data failed: {e}");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        made.insert(
            format,
            Made {
                sizes,
                at: Instant::now(),
                file,
            },
        );
    }
    match &made[&format].file {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, content_type.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"palabre-{id}-{name}\""),
                ),
            ],
            text.clone(),
        )
            .into_response(),
        Err(why) => (StatusCode::UNPROCESSABLE_ENTITY, why.clone()).into_response(),
    }
}
