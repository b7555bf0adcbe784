//! Open moderation. Residents report a proposal or an argument with a reason (kept by
//! the node for the moderators, not published: a report may name people). A moderator
//! hides an item — or restores it — with a public reason, in a `moderation` event signed
//! with their own key; ballots can never be hidden (core refuses it). The public
//! moderation log lists every such action of every log this node holds, and the
//! transparency page shows the counts a town hall owes its residents: invitation
//! letters issued, redeemed and withdrawn per batch, the staff and their keys, and the
//! assisted ballots each desk agent countersigned.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use palabre_core::crypto::PublicKey;
use palabre_core::event::{Body, Kind, ModerationAction, ModerationBody, StaffRole, decode};
use palabre_core::ids::EventId;
use palabre_core::limits::MAX_REASON_CHARS;
use palabre_core::purge::Entry;
use serde::{Deserialize, Serialize};

use super::confirm::{Confirmation, Irreversible};
use super::*;
use crate::site::Layout;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Report {
    pub id: String,
    pub target: EventId,
    pub reason: String,
    pub created_ms: u64,
    pub open: bool,
    /// Later reports of the same target while this one was open (`report.rs`: one open
    /// report per item).
    #[serde(default)]
    pub also: u64,
}

/// What a proposal or an argument says, for moderators and the public log.
pub(super) struct Item {
    pub kind: Kind,
    pub text: String,
    /// The page that shows it.
    pub link: String,
}

pub(super) fn item<B: Backend + ?Sized>(
    backend: &B,
    id: &EventId,
) -> Result<Option<Item>, BackendError> {
    let Some(stored) = backend.event(id)? else {
        return Ok(None);
    };
    let u = match Entry::stored(stored.bytes) {
        Ok(Entry::Event(e)) => e,
        // Only its place remains: moderators and the public log still link to it.
        Ok(Entry::Purged(p)) => {
            let t = p.body();
            return Ok(Some(Item {
                kind: t.kind,
                text: String::new(),
                link: format!("/p/{}", t.proposal.unwrap_or(t.id)),
            }));
        }
        Err(_) => return Ok(None),
    };
    Ok(match u.body().clone() {
        Body::Proposal(p) => Some(Item {
            kind: Kind::Proposal,
            text: format!("{} — {}", p.title, p.body),
            link: format!("/p/{id}"),
        }),
        Body::Argument(a) => Some(Item {
            kind: Kind::Argument,
            text: a.body,
            link: format!("/p/{}", a.proposal),
        }),
        _ => None,
    })
}

pub(super) fn excerpt(text: &str) -> String {
    let mut s: String = text.chars().take(280).collect();
    if text.chars().count() > 280 {
        s.push('…');
    }
    s
}

impl<O: Office> Staff<O> {
    /// The residents' frame, for the public pages.
    pub(super) fn public_layout(&self, headers: &HeaderMap, title: &str, here: &str) -> Layout {
        Layout::new(
            crate::site::language(headers),
            title,
            here.to_owned(),
            self.office.authority().key.to_string(),
        )
    }
}

/// A report as moderators see it.
pub(crate) struct QueueItem {
    pub id: String,
    pub target: String,
    pub kind: &'static str,
    pub text: String,
    pub link: String,
    pub reason: String,
    pub when: String,
    /// How many reports of this item the queue holds (one entry, counted).
    pub times: u64,
}

/// An item of this town's log that it hides, as moderators see it (to erase its text).
pub(crate) struct HiddenItem {
    pub target: String,
    pub kind: &'static str,
    pub text: String,
    pub link: String,
    pub reason: String,
}

/// The items of this town's own log whose latest moderation here is `hide`, newest
/// first: the ones whose text may be erased.
fn hidden_items<O: Office>(st: &Staff<O>, fr: bool) -> Result<Vec<HiddenItem>, BackendError> {
    let me = st.office.authority().key;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for stored in st.office.moderation_log()?.into_iter().rev() {
        if stored.log != me {
            continue;
        }
        let Ok(u) = decode(stored.bytes) else {
            continue;
        };
        let Body::Moderation(m) = u.event.body else {
            continue;
        };
        let target = m.target;
        if !seen.insert(target) {
            continue;
        }
        // Whether this town's moderation that stands hides it is the store's answer.
        let Some(latest) = st
            .office
            .moderation_of(&target)?
            .into_iter()
            .find(|x| x.by == me && x.action == ModerationAction::Hide)
        else {
            continue;
        };
        let held_here = st
            .office
            .event(&target)?
            .is_some_and(|e| e.log == me && !palabre_core::purge::is_tombstone(&e.bytes));
        let Some(found) = item(&*st.office, &target)?.filter(|_| held_here) else {
            continue;
        };
        out.push(HiddenItem {
            target: target.to_string(),
            kind: kind_name(fr, found.kind),
            text: excerpt(&found.text),
            link: found.link,
            reason: crate::backend::moderation_reason(&*st.office, &latest.moderation)?,
        });
    }
    Ok(out)
}

fn kind_name(fr: bool, kind: Kind) -> &'static str {
    match (fr, kind) {
        (true, Kind::Proposal) => "proposition",
        (true, _) => "argument",
        (false, Kind::Proposal) => "proposal",
        (false, _) => "argument",
    }
}

#[derive(Template)]
#[template(path = "staff/moderation.html")]
struct QueuePage {
    page: Frame,
    reports: Vec<QueueItem>,
    hidden: Vec<HiddenItem>,
    message: String,
    max_reason: usize,
}

fn queue_page<O: Office>(st: &Staff<O>, headers: &HeaderMap, me: Me, message: String) -> Reply {
    let frame = st.frame_tr(headers, me, "Modération", "Moderation");
    let all = st.office.office_scan(ns::REPORT)?;
    let mut reports = Vec::new();
    for r in all
        .iter()
        .filter_map(|(_, b)| decode_record::<Report>(b).ok())
        .filter(|r| r.open)
    {
        let found = item(&*st.office, &r.target)?;
        let Some(found) = found else { continue };
        reports.push(QueueItem {
            id: r.id,
            target: r.target.to_string(),
            kind: kind_name(frame.lang == "fr", found.kind),
            text: excerpt(&found.text),
            link: found.link,
            reason: r.reason,
            when: st.office.time_zone().when(r.created_ms),
            times: r.also + 1,
        });
    }
    let hidden = hidden_items(st, frame.lang == "fr")?;
    Ok(page(QueuePage {
        page: frame,
        reports,
        hidden,
        message,
        max_reason: MAX_REASON_CHARS,
    }))
}

pub async fn queue<O: Office>(State(st): State<Shared<O>>, headers: HeaderMap) -> Reply {
    let me = st.require(&headers, &[StaffRole::Moderator])?;
    queue_page(&st, &headers, me, String::new())
}

#[derive(Deserialize)]
pub struct ModerateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub(super) target: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    report: String,
    /// `yes` once "I understand this cannot be undone" is ticked (a purge needs it).
    #[serde(default)]
    confirm: String,
}

/// The item a moderation form names: its id, or a pasted address of its page.
pub(super) fn target_id(target: &str) -> Option<EventId> {
    target.trim().rsplit('/').next()?.parse().ok()
}

pub async fn moderate<O: Office>(
    State(st): State<Shared<O>>,
    headers: HeaderMap,
    Form(form): Form<ModerateForm>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, &[StaffRole::Moderator])?;
    let fr = st.lang(&headers) == Lang::Fr;
    let Some(target) = target_id(&form.target) else {
        return Ok(st.refuse_tr(
            &headers,
            Some(me),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_id",
            "Indiquez l'identifiant du contenu (64 caractères, dans l'adresse de sa page).",
            "Give the item's id (64 characters, in its page's address).",
        ));
    };
    let action = match form.action.as_str() {
        "hide" => ModerationAction::Hide,
        "restore" => ModerationAction::Restore,
        "purge" => ModerationAction::Purge,
        _ => {
            return Ok(st.refuse_tr(
                &headers,
                Some(me),
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_action",
                "Choisissez masquer, rétablir ou effacer le texte.",
                "Choose hide, restore or erase the text.",
            ));
        }
    };
    let reason = form.reason.replace("\r\n", "\n").trim().to_owned();
    if reason.is_empty() {
        return Ok(st.refuse_tr(
            &headers,
            Some(me),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_reason",
            "La raison est obligatoire : elle sera publique.",
            "A reason is required: it will be public.",
        ));
    }
    // A purge carries the town's signed tombstone of the item (core checks that the
    // item is hidden and the tombstone exact).
    let tombstone = match action {
        ModerationAction::Purge => match st.office.tombstone(&target)? {
            Some(t) => Some(t),
            None => {
                return Ok(st.refuse_tr(
                    &headers,
                    Some(me),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "not_hidden",
                    "Seul le texte d'une proposition ou d'un argument de notre registre, déjà masqué, peut être effacé.",
                    "Only the text of a proposal or argument of our own record, already hidden, can be erased.",
                ));
            }
        },
        _ => None,
    };
    // Erasing cannot be undone: the first request only asks for the confirmation.
    if action == ModerationAction::Purge && Confirmation::of(&form.confirm) == Confirmation::Missing
    {
        return Ok(st.confirm_first(&headers, me, purge_confirmation(&form, &target, reason)));
    }
    let body = Body::Moderation(ModerationBody {
        target,
        action,
        reason,
        tombstone,
    });
    match st.sign_and_submit(&me, body).await? {
        Ok(_) => {}
        Err(r) => {
            tracing::info!(staff = %me.account.login, code = %r.code, "moderation refused");
            return Ok(st.refused(&headers, me, &r));
        }
    }
    st.office.count_action(match action {
        ModerationAction::Hide => "moderation_hide",
        ModerationAction::Restore => "moderation_restore",
        ModerationAction::Purge => "moderation_purge",
    });
    tracing::info!(staff = %me.account.login, target = %target, action = ?action, "moderation recorded");
    close_reports(&st, &target, &form.report)?;
    queue_page(
        &st,
        &headers,
        me,
        if fr {
            "Action enregistrée et publiée dans le journal de modération.".into()
        } else {
            "Action recorded and published in the moderation log.".into()
        },
    )
}

/// The confirmation step of erasing a text: the same form again, with the box ticked.
fn purge_confirmation(form: &ModerateForm, target: &EventId, reason: String) -> Irreversible {
    Irreversible {
        action: "/staff/moderation".into(),
        fields: vec![
            ("csrf", form.csrf.clone()),
            ("target", target.to_string()),
            ("action", "purge".into()),
            ("reason", reason),
            ("report", form.report.clone()),
        ],
        title: ("Effacer le texte ?", "Erase the text?"),
        consequence: (
            "Le texte sera retiré du disque de la mairie et de ceux des communes voisines, pour toujours ; sa place, sa preuve et l'effacement restent publics. Raison publique :",
            "The text will be removed from the town hall's disk and the neighbours', for good; its place, its proof and the erasure stay public. Public reason:",
        ),
        subject: form.reason.trim().to_owned(),
        button: ("Effacer le texte définitivement", "Erase the text for good"),
        back: "/staff/moderation".into(),
    }
}

/// Every open report of `target` (or the report `report` acted on) is answered by the
/// action.
fn close_reports<O: Office>(
    st: &Shared<O>,
    target: &EventId,
    report: &str,
) -> Result<(), BackendError> {
    if let Ok(all) = st.office.office_scan(ns::REPORT) {
        for mut r in all
            .iter()
            .filter_map(|(_, b)| decode_record::<Report>(b).ok())
        {
            if r.open && (r.target == *target || r.id == report) {
                r.open = false;
                st.office
                    .office_put(ns::REPORT, &r.id, &encode_record(&r))?;
            }
        }
    }
    Ok(())
}

pub async fn dismiss<O: Office>(
    State(st): State<Shared<O>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<account::CsrfForm>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, &[StaffRole::Moderator])?;
    let found = match st.office.office_get(ns::REPORT, &id)? {
        Some(b) => decode_record::<Report>(&b),
        None => {
            return Ok(st.refuse(
                &headers,
                Some(me),
                StatusCode::NOT_FOUND,
                "not_found",
                "no such report / signalement inconnu",
            ));
        }
    };
    let mut r = found?;
    r.open = false;
    st.office.office_put(ns::REPORT, &id, &encode_record(&r))?;
    st.office.count_action("report_dismissed");
    let fr = st.lang(&headers) == Lang::Fr;
    queue_page(
        &st,
        &headers,
        me,
        if fr {
            "Signalement classé sans suite.".into()
        } else {
            "Report dismissed.".into()
        },
    )
}

/// One line of the public moderation log.
pub(crate) struct LogLine {
    pub when: String,
    pub action: ModerationAction,
    pub reason: String,
    pub link: String,
    pub by: String,
    pub event: String,
}

#[derive(Template)]
#[template(path = "moderation.html")]
struct LogPage {
    page: Layout,
    lines: Vec<LogLine>,
}

/// Names of this town's staff keys (and the town's own key), for the public pages.
fn names<O: Office>(st: &Staff<O>) -> Result<HashMap<PublicKey, String>, BackendError> {
    let mut names = HashMap::new();
    names.insert(
        st.office.authority().key,
        st.office.settings().town_name.clone(),
    );
    for a in st.accounts()? {
        names.insert(a.key()?.public_key(), a.name);
    }
    Ok(names)
}

pub async fn public_log<O: Office>(State(st): State<Shared<O>>, headers: HeaderMap) -> Reply {
    let mut layout = st.public_layout(&headers, "", "/moderation");
    layout.title = layout
        .tr("Journal de modération", "Moderation log")
        .to_owned();
    let entries = st.office.moderation_log()?;
    let names = names(&st)?;
    let mut lines = Vec::new();
    for stored in entries {
        let Ok(u) = decode(stored.bytes) else {
            continue;
        };
        let Body::Moderation(m) = &u.event.body else {
            continue;
        };
        let link = match item(&*st.office, &m.target)? {
            Some(i) => i.link,
            None => String::new(),
        };
        let author = u.event.author;
        let by = names.get(&author).cloned().unwrap_or_else(|| {
            let k = author.to_string();
            format!("{}…", &k[..12])
        });
        lines.push(LogLine {
            when: st.office.time_zone().when(u.event.created_at_ms),
            action: m.action,
            reason: m.reason.clone(),
            link,
            by,
            event: EventId::of_signed_bytes(&u.bytes).to_string(),
        });
    }
    lines.reverse();
    Ok(page(LogPage {
        page: layout,
        lines,
    }))
}

/// Assisted ballots of one consultation, per agent.
pub(crate) struct Assisted {
    pub title: String,
    pub agents: Vec<AgentCount>,
}

/// One desk agent's assisted ballots in one consultation: those that count, and those
/// the voter later replaced with another ballot (which count no more).
pub(crate) struct AgentCount {
    pub name: String,
    pub counted: u64,
    pub replaced: u64,
}

/// A letter batch as the public page shows it: its redeemed count in steps of
/// [`REDEEMED_STEP`], so that watching the page around a new credential (public in the
/// log) does not tell from which batch — which area — it came. Staff see exact counts.
pub(crate) struct PublicBatch {
    pub label: String,
    pub created: String,
    pub issued: u64,
    pub redeemed: String,
    pub revoked: u64,
}

/// The step of the public per-batch redeemed counts.
pub(crate) const REDEEMED_STEP: u64 = 10;

/// `n` redeemed codes of one batch, in words of the public page: "< 10", "≥ 10", "≥ 20"…
fn coarse_redeemed(n: u64) -> String {
    if n < REDEEMED_STEP {
        format!("< {REDEEMED_STEP}")
    } else {
        format!("≥ {}", n - n % REDEEMED_STEP)
    }
}

#[derive(Template)]
#[template(path = "transparency.html")]
struct TransparencyPage {
    page: Layout,
    batches: Vec<PublicBatch>,
    total: Counts,
    members: Vec<team::Member>,
    assisted: Vec<Assisted>,
}

pub async fn transparency<O: Office>(State(st): State<Shared<O>>, headers: HeaderMap) -> Reply {
    let mut layout = st.public_layout(&headers, "", "/transparency");
    layout.title = layout.tr("Transparence", "Transparency").to_owned();
    let batches = letters::rows(&st)?
        .into_iter()
        .map(|b| PublicBatch {
            label: b.label,
            created: b.created,
            issued: b.counts.issued,
            redeemed: coarse_redeemed(b.counts.redeemed),
            revoked: b.counts.revoked,
        })
        .collect();
    let total = st.office.invitation_counts(None)?;
    let members = team::members(&st, layout.lang)?;
    let names = names(&st)?;
    let me = st.office.authority().key;
    let mut assisted = Vec::new();
    for c in st
        .office
        .consultations()?
        .into_iter()
        .filter(|c| c.participates(&me))
    {
        let Some((view, counted)) = st.office.count(&c.id)? else {
            continue;
        };
        let agents: BTreeSet<&PublicKey> = counted
            .assisted
            .keys()
            .chain(counted.assisted_replaced.keys())
            .collect();
        if agents.is_empty() {
            continue;
        }
        let of =
            |counts: &BTreeMap<PublicKey, u64>, k: &PublicKey| counts.get(k).copied().unwrap_or(0);
        assisted.push(Assisted {
            title: view.body.title,
            agents: agents
                .into_iter()
                .map(|k| AgentCount {
                    name: names.get(k).cloned().unwrap_or_else(|| k.to_string()),
                    counted: of(&counted.assisted, k),
                    replaced: of(&counted.assisted_replaced, k),
                })
                .collect(),
        });
    }
    Ok(page(TransparencyPage {
        page: layout,
        batches,
        total,
        members,
        assisted,
    }))
}

#[cfg(test)]
mod coarse_tests {
    use super::coarse_redeemed;

    #[test]
    fn public_redeemed_counts_move_in_steps_of_ten() {
        assert_eq!(coarse_redeemed(0), "< 10");
        assert_eq!(coarse_redeemed(9), "< 10");
        assert_eq!(coarse_redeemed(10), "≥ 10");
        assert_eq!(coarse_redeemed(19), "≥ 10");
        assert_eq!(coarse_redeemed(20), "≥ 20");
        assert_eq!(coarse_redeemed(1_234), "≥ 1230");
    }
}
