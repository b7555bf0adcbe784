//! `GET /c/{id}/data/results.{json,csv,pb}`: a consultation's open data, the same files
//! as `palabre export`, for anyone to download from the results page. What a file says
//! is the node's (its [`Render`], over the audit's input); when one is made, and how
//! often, is this route's.
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

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use palabre_core::audit::AuditInput;
use palabre_core::ids::EventId;

use crate::api::audit_input;
use crate::backend::{Backend, BackendError};

/// The files of open data, as their URL names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum File {
    /// `results.json`: the count, the ballots counted and, for a secret consultation,
    /// its opened ballots.
    Json,
    /// `results.csv`: one row per proposal.
    Csv,
    /// `results.pb`: a participatory budget in the pabulib format.
    Pb,
}

impl File {
    fn named(name: &str) -> Option<File> {
        match name {
            "results.json" => Some(File::Json),
            "results.csv" => Some(File::Csv),
            "results.pb" => Some(File::Pb),
            _ => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            File::Json => "application/json",
            File::Csv => "text/csv; charset=utf-8",
            File::Pb => "text/plain; charset=utf-8",
        }
    }
}

/// What the node makes of a consultation's audit input: the file, or why it is not
/// published (the text of the 422 answer).
pub type Render = Arc<dyn Fn(&AuditInput, File) -> Result<String, String> + Send + Sync>;

/// Why a file is refused while the consultation hides its results until the close
/// (`palabre export` says the same).
pub const HIDDEN: &str = "the results of this consultation are published only when its vote closes";

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
    /// The file, or why it is not published.
    file: Result<String, String>,
}

type Slot = Arc<tokio::sync::Mutex<HashMap<File, Made>>>;

/// The router's state: the node, what it renders, and the files made.
struct Served<B> {
    backend: Arc<B>,
    render: Render,
    files: Mutex<Vec<(EventId, Slot)>>,
}

impl<B> Served<B> {
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

/// The open-data routes, each file made by `render`.
pub fn routes<B: Backend>(backend: Arc<B>, render: Render) -> Router {
    let served = Arc::new(Served {
        backend,
        render,
        files: Mutex::default(),
    });
    Router::new()
        .route("/c/{id}/data/{file}", axum::routing::get(file::<B>))
        .with_state(served)
}

async fn file<B: Backend>(
    State(served): State<Arc<Served<B>>>,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    let (Some(format), Ok(id)) = (File::named(&name), id.parse::<EventId>()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match made(&served, id, format).await {
        Ok(Some(Ok(text))) => (
            [
                (header::CONTENT_TYPE, format.content_type().to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"palabre-{id}-{name}\""),
                ),
            ],
            text,
        )
            .into_response(),
        Ok(Some(Err(why))) => (StatusCode::UNPROCESSABLE_ENTITY, why).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!("open data failed: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Consultation `id`'s file in `format` — kept, or made afresh — or why it is not
/// published; `None` for a consultation not recorded here.
async fn made<B: Backend>(
    served: &Arc<Served<B>>,
    id: EventId,
    format: File,
) -> Result<Option<Result<String, String>>, BackendError> {
    let backend = &served.backend;
    let Some(view) = backend.consultation(&id)? else {
        return Ok(None);
    };
    if !view.results_visible(backend.now_ms()) {
        return Ok(Some(Err(HIDDEN.to_owned())));
    }
    let slot = served.slot(&id);
    let mut made = slot.lock().await;
    let mut sizes = Vec::with_capacity(view.body.authorities.len());
    let mut running = false;
    for a in &view.body.authorities {
        sizes.push(backend.log_size(a)?);
        running |= backend.closing(a, &id)?.is_none();
    }
    let fresh = made
        .get(&format)
        .is_some_and(|m| m.sizes == sizes || (running && m.at.elapsed() <= RUNNING_MAX_AGE));
    if !fresh {
        // Recounting replays every entry: off the async workers.
        let served = Arc::clone(served);
        let file = tokio::task::spawn_blocking(move || {
            let input = audit_input(&*served.backend, &id)?;
            Ok::<_, BackendError>(input.map(|i| (served.render)(&i, format)))
        })
        .await
        .map_err(|e| BackendError::new(format!("making the file: {e}")))??;
        let Some(file) = file else {
            return Ok(None);
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
    Ok(Some(made[&format].file.clone()))
}
