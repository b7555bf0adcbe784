//! Irreversible staff actions — erasing a text, withdrawing invitation codes, dismissing
//! a member — take two requests: the first only shows what will happen and asks for the
//! box "I understand this cannot be undone" to be ticked; only a request that carries it
//! (`confirm=yes`) acts. Plain HTML forms, so it works without script like every staff
//! page; an unconfirmed request is refused (409, code `unconfirmed`) and changes nothing.
//!
//! Each handler checks its own inputs first (so the step never confirms an action that
//! would then be refused), and decides what the action is; this file only shows the step.

use askama::Template;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{Frame, Me, Office, Staff, page};

/// The stable code of the refusal of an unconfirmed irreversible action.
pub(crate) const UNCONFIRMED: &str = "unconfirmed";

/// Whether a form carries the confirmation of an irreversible action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Confirmation {
    /// The box "I understand this cannot be undone" was ticked.
    Given,
    Missing,
}

impl Confirmation {
    /// From the form's `confirm` field (`yes` once ticked).
    pub(crate) fn of(field: &str) -> Confirmation {
        if field == "yes" {
            Confirmation::Given
        } else {
            Confirmation::Missing
        }
    }
}

/// A form with only its CSRF token and the confirmation (withdrawing a batch's codes,
/// dismissing a member).
#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    pub(crate) csrf: String,
    #[serde(default)]
    pub(crate) confirm: String,
}

/// Words in French and English.
pub(crate) type Words = (&'static str, &'static str);

/// What the confirmation step shows, and the form it sends again.
pub(crate) struct Irreversible {
    /// Where the confirmed form posts: the same action as the first request.
    pub action: String,
    /// The first request's fields, sent again unchanged (the CSRF token among them).
    pub fields: Vec<(&'static str, String)>,
    pub title: Words,
    /// What will happen, and why it cannot be undone.
    pub consequence: Words,
    /// What the action applies to, as a person reads it (a member's name, a reason).
    pub subject: String,
    /// The button that acts.
    pub button: Words,
    /// Where "Cancel" leads.
    pub back: String,
}

#[derive(Template)]
#[template(path = "staff/confirm.html")]
struct ConfirmPage {
    page: Frame,
    code: &'static str,
    action: String,
    fields: Vec<(&'static str, String)>,
    consequence: &'static str,
    subject: String,
    button: &'static str,
    back: String,
}

impl<O: Office> Staff<O> {
    /// The refusal of an unconfirmed irreversible action: nothing was done, and here is
    /// the same request again with the box to tick.
    pub(crate) fn confirm_first(
        &self,
        headers: &HeaderMap,
        me: Me,
        step: Irreversible,
    ) -> Response {
        tracing::info!(
            staff = %me.account.login,
            action = %step.action,
            "an irreversible action waits for its confirmation"
        );
        let frame = self.frame_tr(headers, me, step.title.0, step.title.1);
        let mut res = page(ConfirmPage {
            code: UNCONFIRMED,
            action: step.action,
            fields: step.fields,
            consequence: frame.tr(step.consequence.0, step.consequence.1),
            subject: step.subject,
            button: frame.tr(step.button.0, step.button.1),
            back: step.back,
            page: frame,
        });
        *res.status_mut() = StatusCode::CONFLICT;
        res
    }
}
