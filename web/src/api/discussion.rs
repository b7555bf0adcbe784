//! `GET /api/v1/consultations/{id}`: a consultation with its proposals and their
//! arguments, in pages (issue 19, point 3) so that an answer stays bounded whatever the
//! log holds. Without parameters, the first proposals, each with its first arguments;
//! `?after=C` the next proposals; `?proposal=P&after=C` one proposal with a page of its
//! arguments. Each page ends with the link to the next (`next`, `more_arguments`).
//! The order and the cut are `paging.rs`'s; the route table is `api/mod.rs`'s.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use palabre_core::crypto::PublicKey;
use palabre_core::ids::EventId;
use palabre_core::purge::Entry;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;

use crate::backend::{Backend, Member};
use crate::error::{ApiError, Code};
use crate::paging::{self, Cursor, Cut};

use super::{Shared, disputed, parse_id, raw};

/// Proposals in one answer: at most 20, and 128 KiB of their signed events.
pub const PROPOSALS_PAGE: Cut = Cut {
    max_items: 20,
    max_bytes: 128 * 1024,
};
/// Arguments shown with each proposal of a page: at most 10, and 16 KiB.
pub const ARGUMENTS_INLINE: Cut = Cut {
    max_items: 10,
    max_bytes: 16 * 1024,
};
/// Arguments in one page of a proposal's: at most 100, and 256 KiB.
pub const ARGUMENTS_PAGE: Cut = Cut {
    max_items: 100,
    max_bytes: 256 * 1024,
};

/// How one authority last moderated an item, with its stated reason.
#[derive(Serialize)]
struct ModerationNote {
    by: PublicKey,
    action: palabre_core::event::ModerationAction,
    moderation: EventId,
    reason: String,
}

/// A proposal or an argument as the detail of a consultation shows it. Hidden items are
/// still listed, flagged, with the moderation that hid them: moderation is in the open.
#[derive(Serialize)]
struct Item {
    id: EventId,
    author: PublicKey,
    created_at_ms: u64,
    log: PublicKey,
    index: u64,
    kind: &'static str,
    hidden: bool,
    /// Its text was erased by its town after hiding it: `body` is null and `event` is
    /// the tombstone that took the entry's place (same leaf hash, signed by the town).
    purged: bool,
    moderation: Vec<ModerationNote>,
    /// The event's body as signed (title, body, cost; or proposal, stance, body).
    body: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<Vec<Item>>,
    /// A proposal's arguments in all (the page above holds some of them).
    #[serde(skip_serializing_if = "Option::is_none")]
    n_arguments: Option<usize>,
    /// A proposal's next page of arguments, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    more_arguments: Option<String>,
    /// The exact signed event, for anyone who checks the signature.
    event: Box<RawValue>,
}

fn item<B: Backend>(
    backend: &B,
    view: &palabre_core::view::ConsultationView,
    member: Member,
) -> Result<Item, ApiError> {
    let entry = Entry::stored(member.event.bytes.clone()).map_err(|r| {
        ApiError::Internal(crate::BackendError::caused(
            "a stored entry does not decode",
            r,
        ))
    })?;
    let hidden = palabre_core::counting::hidden_by(view, &member.moderation).is_some();
    let mut moderation = Vec::new();
    for m in member.moderation {
        let reason = crate::backend::moderation_reason(backend, &m.moderation)?;
        moderation.push(ModerationNote {
            by: m.by,
            action: m.action,
            moderation: m.moderation,
            reason,
        });
    }
    let (author, created_at_ms, argues, body) = match &entry {
        Entry::Event(event) => {
            let argues = match event.body() {
                palabre_core::event::Body::Argument(a) => Some(a.proposal),
                _ => None,
            };
            let mut signed: serde_json::Value =
                serde_json::from_slice(event.bytes()).map_err(|e| {
                    ApiError::Internal(crate::BackendError::caused("a stored event is not JSON", e))
                })?;
            (
                *event.author(),
                event.created_at_ms(),
                argues,
                signed["body"].take(),
            )
        }
        Entry::Purged(p) => {
            let t = p.body();
            (
                t.author,
                t.created_at_ms,
                t.proposal,
                serde_json::Value::Null,
            )
        }
    };
    Ok(Item {
        id: entry.id(),
        author,
        created_at_ms,
        log: member.event.log,
        index: member.event.index,
        kind: entry.kind().as_str(),
        hidden,
        purged: entry.purged().is_some(),
        moderation,
        body,
        arguments: argues.is_none().then(Vec::new),
        n_arguments: None,
        more_arguments: None,
        event: raw(member.event.bytes)?,
    })
}

/// A member with what paging needs, read before the rest of its item is built (so the
/// moderation notes and bodies are only built for what a page shows).
struct Light {
    cursor: Cursor,
    argues: Option<EventId>,
    member: Member,
}

fn light(member: Member) -> Result<Light, ApiError> {
    let entry = Entry::stored(member.event.bytes.clone()).map_err(|r| {
        ApiError::Internal(crate::BackendError::caused(
            "a stored entry does not decode",
            r,
        ))
    })?;
    let (at_ms, argues) = match &entry {
        Entry::Event(event) => (
            event.created_at_ms(),
            match event.body() {
                palabre_core::event::Body::Argument(a) => Some(a.proposal),
                _ => None,
            },
        ),
        Entry::Purged(p) => (p.body().created_at_ms, p.body().proposal),
    };
    Ok(Light {
        cursor: Cursor {
            at_ms,
            id: entry.id(),
        },
        argues,
        member,
    })
}

fn signed_bytes(l: &Light) -> usize {
    l.member.event.bytes.len()
}

#[derive(Deserialize)]
pub(crate) struct Paging {
    after: Option<String>,
    proposal: Option<String>,
}

/// The proposal `p` with the page of `args` after `after`, cut by `cut`.
fn with_arguments<B: Backend>(
    backend: &B,
    view: &palabre_core::view::ConsultationView,
    p: Light,
    args: Vec<Light>,
    after: Option<Cursor>,
    cut: Cut,
    base: &str,
) -> Result<Item, ApiError> {
    let n = args.len();
    let (page, next) = paging::page(args, |l| l.cursor, after, cut, signed_bytes);
    let id = p.cursor.id;
    let mut shown = item(backend, view, p.member)?;
    shown.arguments = Some(
        page.into_iter()
            .map(|a| item(backend, view, a.member))
            .collect::<Result<_, _>>()?,
    );
    shown.n_arguments = Some(n);
    shown.more_arguments = next.map(|c| format!("{base}?proposal={id}&after={c}"));
    Ok(shown)
}

pub(crate) async fn consultation<B: Backend>(
    State(state): State<Shared<B>>,
    Path(id): Path<String>,
    query: Result<Query<Paging>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let Query(q) = query.map_err(|_| ApiError::refused(Code::BadRange, "unreadable parameters"))?;
    let after = q
        .after
        .as_deref()
        .map(|a| {
            a.parse::<Cursor>().map_err(|()| {
                ApiError::refused(
                    Code::BadRange,
                    "`after` is a cursor from a `next` or `more_arguments` link",
                )
            })
        })
        .transpose()?;
    let within = q.proposal.as_deref().map(parse_id).transpose()?;
    let backend = &*state.backend;
    let (view, members) = backend
        .discussion(&id)?
        .ok_or_else(|| ApiError::not_found("consultation"))?;
    let mut proposals = Vec::new();
    let mut arguments: HashMap<EventId, Vec<Light>> = HashMap::new();
    for member in members {
        let l = light(member)?;
        match l.argues {
            Some(p) => arguments.entry(p).or_default().push(l),
            None => proposals.push(l),
        }
    }
    let base = format!("/api/v1/consultations/{id}");
    let (shown, next) = match within {
        Some(pid) => {
            let p = proposals
                .into_iter()
                .find(|p| p.cursor.id == pid)
                .ok_or_else(|| ApiError::not_found("proposal"))?;
            let args = arguments.remove(&pid).unwrap_or_default();
            let p = with_arguments(backend, &view, p, args, after, ARGUMENTS_PAGE, &base)?;
            (vec![p], None)
        }
        None => {
            let (page, next) =
                paging::page(proposals, |l| l.cursor, after, PROPOSALS_PAGE, signed_bytes);
            let mut shown = Vec::with_capacity(page.len());
            for p in page {
                let args = arguments.remove(&p.cursor.id).unwrap_or_default();
                shown.push(with_arguments(
                    backend,
                    &view,
                    p,
                    args,
                    None,
                    ARGUMENTS_INLINE,
                    &base,
                )?);
            }
            (shown, next.map(|c| format!("{base}?after={c}")))
        }
    };
    let now = backend.now_ms();
    let event = backend
        .event(&id)?
        .map(|stored| raw(stored.bytes))
        .transpose()?;
    let body = json!({
        "consultation": {
            "id": view.id,
            "organiser": view.organiser,
            "status": view.phase(now).as_str(),
            "results_visible": view.results_visible(now),
            "title": view.body.title,
            "description": view.body.description,
            "authorities": view.body.authorities,
            "proposals_open_ms": view.body.proposals_open_ms,
            "proposals_close_ms": view.body.proposals_close_ms,
            "vote_open_ms": view.body.vote_open_ms,
            "vote_close_ms": view.body.vote_close_ms,
            "method": view.body.method,
            "show_running_results": view.body.show_running_results,
            "quotas": view.body.quotas(),
            "disputed": disputed(backend, &view)?,
            "trust": crate::trust::level(&view, backend.ceremony(&view)?.as_ref()),
            "event": event,
        },
        "proposals": shown,
        "next": next,
    });
    Ok(Json(body).into_response())
}
