//! The stateless checks of a decoded event (PROTOCOL.md, "Events"): the keys its body
//! names are valid points, its texts and lists are within the limits, and an assisted
//! ballot's countersignature holds. Whether it fits the record is `admission`'s.

use serde_json::Value;

use crate::crypto::{Domain, KeyError, PublicKey};
use crate::limits::*;
use crate::rejection::Rejection;
use crate::tally::Choice;

use super::assistance::Assistance;
use super::body::{BallotBody, ModerationAction};
use super::secret::SealedBallotBody;
use super::{Body, Kind, Tombstone};

pub(super) fn parse_key(field: &'static str, json: Option<&Value>) -> Result<PublicKey, Rejection> {
    let text = json
        .and_then(Value::as_str)
        .ok_or(Rejection::BadKey { field })?;
    text.parse().map_err(|e| key_rejection(field, e))
}

fn key_rejection(field: &'static str, e: KeyError) -> Rejection {
    match e {
        KeyError::Weak => Rejection::WeakKey { field },
        _ => Rejection::BadKey { field },
    }
}

/// Gives keys inside bodies their precise rejection (weak vs malformed), and a carried
/// tombstone its own (`bad_tombstone`), before serde would fold them into a generic
/// `malformed`.
pub(super) fn keys_in_body(kind: Kind, body: &Value) -> Result<(), Rejection> {
    let check = |field: &'static str| -> Result<(), Rejection> {
        match body.get(field) {
            Some(v) => parse_key(field, Some(v)).map(|_| ()),
            None => Ok(()),
        }
    };
    match kind {
        Kind::Credential => {
            check("subject")?;
            check("replaces")
        }
        Kind::Revocation | Kind::Staff => check("subject"),
        Kind::Ballot => match body.get("assistance") {
            Some(a) => parse_key("agent", a.get("agent")).map(|_| ()),
            None => Ok(()),
        },
        Kind::DkgDeal => match body.get("shares") {
            Some(Value::Array(shares)) => shares.iter().try_for_each(|s| match s.get("to") {
                Some(k) => parse_key("to", Some(k)).map(|_| ()),
                None => Ok(()),
            }),
            _ => Ok(()),
        },
        Kind::Result => match body.get("sealed").and_then(|s| s.get("decryptors")) {
            Some(Value::Array(keys)) => keys
                .iter()
                .try_for_each(|k| parse_key("decryptors", Some(k)).map(|_| ())),
            _ => Ok(()),
        },
        Kind::ElectionKey => match body.get("qual") {
            Some(Value::Array(keys)) => keys
                .iter()
                .try_for_each(|k| parse_key("qual", Some(k)).map(|_| ())),
            _ => Ok(()),
        },
        // Whatever is wrong with a carried tombstone (its members, their types, its keys)
        // is `bad_tombstone`, as when a tombstone is received in a log's place.
        Kind::Moderation => match body.get("tombstone") {
            Some(t) => serde_json::from_value::<Tombstone>(t.clone())
                .map(|_| ())
                .map_err(|_| Rejection::BadTombstone),
            None => Ok(()),
        },
        Kind::Consultation => {
            if let Some(Value::Array(keys)) = body.get("authorities") {
                keys.iter()
                    .try_for_each(|k| parse_key("authorities", Some(k)).map(|_| ()))?;
            }
            match body.get("secrecy").and_then(|s| s.get("trustees")) {
                Some(Value::Array(keys)) => keys
                    .iter()
                    .try_for_each(|k| parse_key("trustees", Some(k)).map(|_| ())),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// Checks a text field: length in characters, not blank when required, and no control
/// characters other than line feeds in multi-line fields.
fn text(
    field: &'static str,
    value: &str,
    max_chars: usize,
    rule: TextRule,
) -> Result<(), Rejection> {
    if value.chars().count() > max_chars {
        return Err(Rejection::OverLimit {
            field,
            max: max_chars,
        });
    }
    let blank = value.trim().is_empty();
    let bad_char = value
        .chars()
        .any(|c| c.is_control() && !(c == '\n' && rule == TextRule::MultiLine));
    if bad_char || (blank && rule != TextRule::MayBeEmpty) {
        return Err(Rejection::InvalidText { field });
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextRule {
    OneLine,
    MultiLine,
    MayBeEmpty,
}

fn count(field: &'static str, n: usize, max: usize) -> Result<(), Rejection> {
    if n > max {
        Err(Rejection::OverLimit { field, max })
    } else {
        Ok(())
    }
}

pub(super) fn limits(body: &Body) -> Result<(), Rejection> {
    use TextRule::*;
    match body {
        Body::Authority(b) => {
            text("name", &b.name, MAX_AUTHORITY_NAME_CHARS, OneLine)?;
            text("code", &b.code, MAX_AUTHORITY_CODE_CHARS, MayBeEmpty)?;
            count("addresses", b.addresses.len(), MAX_AUTHORITY_ADDRESSES)?;
            b.addresses
                .iter()
                .try_for_each(|a| text("addresses", a, MAX_ADDRESS_CHARS, OneLine))
        }
        Body::Credential(_) => Ok(()),
        Body::Revocation(b) => text("reason", &b.reason, MAX_REASON_CHARS, MultiLine),
        Body::Consultation(b) => {
            text("title", &b.title, MAX_TITLE_CHARS, OneLine)?;
            text(
                "description",
                &b.description,
                MAX_DESCRIPTION_CHARS,
                MultiLine,
            )?;
            count("authorities", b.authorities.len(), MAX_PARTICIPANTS)
        }
        Body::Proposal(b) => {
            text("title", &b.title, MAX_TITLE_CHARS, OneLine)?;
            text("body", &b.body, MAX_PROPOSAL_BODY_CHARS, MultiLine)
        }
        Body::Argument(b) => text("body", &b.body, MAX_ARGUMENT_BODY_CHARS, MultiLine),
        Body::Ballot(b) => {
            let n = match &b.choice {
                Choice::Approve(ids) => ids.len(),
                Choice::Answers(map) => map.len(),
                Choice::Grades(map) => map.len(),
            };
            count("choice", n, MAX_BALLOT_ENTRIES)
        }
        Body::Moderation(b) => {
            let purging = b.action == ModerationAction::Purge;
            match &b.tombstone {
                Some(t) if purging && t.purged.id == b.target => {}
                None if !purging => {}
                _ => return Err(Rejection::BadTombstone),
            }
            text("reason", &b.reason, MAX_REASON_CHARS, MultiLine)
        }
        Body::Checkpoint(_) => Ok(()),
        Body::Result(b) => count("checkpoints", b.checkpoints.len(), MAX_PARTICIPANTS),
        Body::SealedResult(b) => {
            count("checkpoints", b.checkpoints.len(), MAX_PARTICIPANTS)?;
            count("decryptors", b.sealed.decryptors.len(), MAX_TRUSTEES)
        }
        Body::Mix(_) | Body::MixProof(_) | Body::Decryption(_) => Ok(()),
        Body::SealFinal(b) => {
            count("chains", b.chains.len(), MAX_BALLOT_ENTRIES)?;
            b.chains
                .iter()
                .try_for_each(|c| count("chains", c.len(), MAX_TRUSTEES))
        }
        Body::Staff(b) => text("name", &b.name, MAX_STAFF_NAME_CHARS, OneLine),
        Body::DkgDeal(b) => {
            count("commitments", b.commitments.len(), MAX_TRUSTEES)?;
            count("shares", b.shares.len(), MAX_TRUSTEES)
        }
        Body::DkgComplaint(_) => Ok(()),
        Body::ElectionKey(b) => count("qual", b.qual.len(), MAX_TRUSTEES),
        Body::BallotLayout(b) => {
            count("columns", b.columns.len(), MAX_BALLOT_ENTRIES)?;
            count("groups", b.groups.len(), MAX_BALLOT_ENTRIES)?;
            let members: usize = b.groups.iter().map(Vec::len).sum();
            count("groups", members, MAX_BALLOT_ENTRIES)
        }
        Body::SealedBallot(b) => {
            count("groups", b.sealed.groups.len(), MAX_BALLOT_ENTRIES)?;
            count("sealed", b.sealed.len(), MAX_BALLOT_ENTRIES)?;
            count("s", b.sealed.pok.s.len(), MAX_BALLOT_ENTRIES)
        }
    }
}

/// An assisted ballot carries a second signature, by a key other than the voter's; it
/// is checked here, strictly, with everything else that needs no record (assisted
/// ballots are few, so this costs nothing that matters). Whether the agent is a desk
/// agent of the log is admission's question.
pub(super) fn assistance(
    author: &PublicKey,
    created_at_ms: u64,
    body: &Body,
) -> Result<(), Rejection> {
    let (a, statement) = match body {
        Body::Ballot(BallotBody {
            consultation,
            choice,
            assistance: Some(a),
        }) => (
            a,
            Assistance::statement(author, created_at_ms, consultation, choice)?,
        ),
        Body::SealedBallot(SealedBallotBody {
            consultation,
            sealed,
            assistance: Some(a),
        }) => (
            a,
            Assistance::sealed_statement(author, created_at_ms, consultation, sealed)?,
        ),
        _ => return Ok(()),
    };
    if a.agent == *author {
        return Err(Rejection::BadAssistance);
    }
    a.agent
        .verify_message(&Domain::Assistance.message(&statement), &a.sig)
        .map_err(|_| Rejection::BadAssistance)
}
