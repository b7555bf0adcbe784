//! Palabre's HTTP layer: the JSON API under `/api/v1` (described at
//! `/api/v1/openapi.json`), `/healthz` and `/metrics`.
//!
//! It depends on `palabre-core` only and reaches the node through the [`Backend`]
//! trait. Every check of signed content is core's; this crate decodes requests, calls
//! the backend, and turns refusals into stable error codes.

pub mod api;
pub mod backend;
pub mod client;
pub mod conn;
pub mod error;
pub mod limit;
pub mod openapi;
pub mod opendata;
pub mod opening;
pub mod paging;
pub(crate) mod qr;
pub mod site;
pub mod staff;
pub mod tallies;
pub mod trust;
pub mod zone;

pub use api::{ApiConfig, app, app_with};
pub use backend::{AuthorityInfo, Backend, BackendError, Member, Refusal, StoredEvent, TownHall};
pub use error::{ApiError, Code, PageFailure};
pub use limit::RateLimit;
pub use zone::Zone;

/// Serves a node's whole site on `listener` until `shutdown` completes: the API, the
/// residents' pages and the staff pages of `backend`, plus `more` routes of the node's
/// own (open data), under the connection `limits` (`conn::serve`). The node's `serve`
/// calls it; so can a test, in-process, with a backend of its own.
pub async fn serve<O: staff::Office>(
    listener: tokio::net::TcpListener,
    backend: std::sync::Arc<O>,
    api: ApiConfig,
    more: axum::Router,
    limits: conn::ConnLimits,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let staff = staff::routes(std::sync::Arc::clone(&backend)).merge(more);
    let app = app_with(backend, api, staff);
    conn::serve(listener, app, limits, shutdown).await
}
