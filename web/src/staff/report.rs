//! The public report form (`/report`): anyone flags a proposal or an argument for the
//! town's moderators (who hide in the open, `moderation.rs`). Under a flood it stays open
//! to genuine reports: each client address (IPv6 by /64, `client::Bucket`) may send
//! [`REPORTS_PER_ADDRESS`] an hour, and the queue keeps one open report per item — a later
//! report of the same item adds to its count — so the queue never holds more entries than
//! the log holds items, and a first report on a new item is never refused for a full queue.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use palabre_core::ids::EventId;
use serde::Deserialize;

use super::moderation::{Report, excerpt, item};
use super::*;
use crate::client::Bucket;
use crate::site::Layout;

/// Most characters of a resident's report.
const MAX_REPORT_CHARS: usize = 500;
/// Reports one client address may send per [`WINDOW`].
pub(crate) const REPORTS_PER_ADDRESS: u32 = 10;
/// The window of the per-address count.
const WINDOW: Duration = Duration::from_secs(3600);
/// Addresses remembered before the expired ones are dropped.
const MAX_TRACKED: usize = 10_000;

/// The per-address count of reports, in memory (a restart forgets it).
#[derive(Debug, Default)]
pub(crate) struct ReportLimit {
    seen: Mutex<HashMap<Bucket, (Instant, u32)>>,
}

impl ReportLimit {
    /// Counts one report from `address` at `now`; `false` when its window is spent.
    pub(crate) fn allow(&self, address: Option<IpAddr>, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_TRACKED {
            seen.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let (start, n) = seen.entry(Bucket::of(address)).or_insert((now, 0));
        if now.duration_since(*start) >= WINDOW {
            (*start, *n) = (now, 0);
        }
        if *n >= REPORTS_PER_ADDRESS {
            return false;
        }
        *n += 1;
        true
    }
}

#[derive(Deserialize)]
pub struct TargetQuery {
    target: Option<String>,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    page: Layout,
    target: String,
    text: String,
    done: bool,
    error: String,
}

pub async fn report_form<O: Office>(
    State(st): State<Shared<O>>,
    Query(q): Query<TargetQuery>,
    headers: HeaderMap,
) -> Reply {
    let layout = st.public_layout(&headers, "", "/report");
    let title = layout
        .tr("Signaler un contenu", "Report an item")
        .to_owned();
    let target = q.target.unwrap_or_default();
    let found = match target.parse::<EventId>() {
        Ok(id) => item(&*st.office, &id)?,
        Err(_) => None,
    };
    let mut layout = layout;
    layout.title = title;
    let Some(found) = found else {
        let error = layout
            .tr("Ce contenu n'existe pas.", "There is no such item.")
            .to_owned();
        let mut res = page(ReportPage {
            page: layout,
            target: String::new(),
            text: String::new(),
            done: false,
            error,
        });
        *res.status_mut() = StatusCode::NOT_FOUND;
        return Ok(res);
    };
    Ok(page(ReportPage {
        page: layout,
        target,
        text: excerpt(&found.text),
        done: false,
        error: String::new(),
    }))
}

#[derive(Deserialize)]
pub struct ReportForm {
    #[serde(default)]
    target: String,
    #[serde(default)]
    reason: String,
}

pub async fn report<O: Office>(
    State(st): State<Shared<O>>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<ReportForm>,
) -> Reply {
    let mut layout = st.public_layout(&headers, "", "/report");
    layout.title = layout
        .tr("Signaler un contenu", "Report an item")
        .to_owned();
    let refuse = |layout: Layout, status: StatusCode, code: &str, fr: &str, en: &str| {
        tracing::info!(code, "a report was refused");
        let error = if layout.lang == "fr" { fr } else { en }.to_owned();
        let mut res = page(ReportPage {
            page: layout,
            target: form.target.clone(),
            text: String::new(),
            done: false,
            error,
        });
        *res.status_mut() = status;
        res
    };
    let Ok(target) = form.target.parse::<EventId>() else {
        return Ok(refuse(
            layout,
            StatusCode::BAD_REQUEST,
            "bad_id",
            "Ce contenu n'existe pas.",
            "There is no such item.",
        ));
    };
    match item(&*st.office, &target)? {
        Some(_) => {}
        None => {
            return Ok(refuse(
                layout,
                StatusCode::NOT_FOUND,
                "unknown_target",
                "Seuls les propositions et les arguments peuvent être signalés.",
                "Only proposals and arguments can be reported.",
            ));
        }
    }
    let reason = form.reason.replace("\r\n", "\n").trim().to_owned();
    if reason.is_empty() || reason.chars().count() > MAX_REPORT_CHARS {
        return Ok(refuse(
            layout,
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_reason",
            "Dites en quelques mots ce qui pose problème (500 caractères au plus).",
            "Say in a few words what is wrong (at most 500 characters).",
        ));
    }
    if !st.reports.allow(client.0, Instant::now()) {
        return Ok(refuse(
            layout,
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_reports",
            "Trop de signalements depuis cette adresse. Réessayez dans une heure ou venez en mairie.",
            "Too many reports from this address. Try again in an hour or come to the town hall.",
        ));
    }
    // One open report per item: a later one adds to its count. The queue so holds at most
    // one entry per item of the log, and a first report on a new item is always taken.
    let open = st
        .office
        .office_scan(ns::REPORT)?
        .into_iter()
        .filter_map(|(_, b)| decode_record::<Report>(&b).ok())
        .find(|r| r.open && r.target == target);
    if let Some(mut r) = open {
        r.also += 1;
        st.office
            .office_put(ns::REPORT, &r.id, &encode_record(&r))?;
    } else {
        let now = st.office.now_ms();
        let id = format!("{now:016}-{}", hex::encode(random::<6>()?));
        let r = Report {
            id: id.clone(),
            target,
            reason,
            created_ms: now,
            open: true,
            also: 0,
        };
        st.office.office_put(ns::REPORT, &id, &encode_record(&r))?;
    }
    st.office.count_action("report");
    Ok(page(ReportPage {
        page: layout,
        target: String::new(),
        text: String::new(),
        done: true,
        error: String::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_sends_ten_an_hour_and_others_are_not_held_up() {
        let limit = ReportLimit::default();
        let t0 = Instant::now();
        let a = Some("192.0.2.1".parse().expect("ip"));
        let b = Some("2001:db8::1".parse().expect("ip"));
        let b_same_64 = Some("2001:db8::ffff".parse().expect("ip"));
        for _ in 0..REPORTS_PER_ADDRESS {
            assert!(limit.allow(a, t0));
        }
        assert!(!limit.allow(a, t0 + Duration::from_secs(60)));
        assert!(limit.allow(b, t0));
        for _ in 1..REPORTS_PER_ADDRESS {
            assert!(limit.allow(b_same_64, t0));
        }
        assert!(!limit.allow(b, t0), "an IPv6 /64 is one address");
        assert!(limit.allow(a, t0 + WINDOW), "a new hour");
    }
}
