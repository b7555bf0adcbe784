//! The record as the rules read it: views of a recorded consultation, proposal and
//! credential, and who a resident is across key replacements. Admission, counting and
//! the secret-ballot rules all read these; the [`crate::record::Record`] trait answers
//! with them.

use crate::crypto::PublicKey;
use crate::event::{ConsultationBody, Kind};
use crate::ids::EventId;

/// A resident across key replacements: the first key an authority certified for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VoterId {
    /// The authority that certified the resident.
    pub issuer: PublicKey,
    /// The first key of the chain of replacements, which never changes.
    pub first_key: PublicKey,
}

/// Where one credentialed key stands (PROTOCOL.md, "Credential states").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialStatus {
    /// In force: the key may vote and write for its resident.
    Active,
    /// A `revocation` withdrew it: its ballots stop counting.
    Revoked,
    /// A newer credential names this key in `replaces`.
    Replaced,
}

/// What the record knows of one key credentialed by one authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialState {
    /// The resident the key belongs to.
    pub voter: VoterId,
    /// Whether the key may still act.
    pub status: CredentialStatus,
}

/// A recorded consultation, as admission and counting read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationView {
    /// The id of its `consultation` event, the consultation's id.
    pub id: EventId,
    /// The authority whose log holds it (whoever of its staff signed it).
    pub organiser: PublicKey,
    /// Its signed rules.
    pub body: ConsultationBody,
}

/// Where a consultation stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the proposal window opens.
    Upcoming,
    /// From the opening of proposals to the opening of the vote.
    Proposals,
    /// The vote window is open.
    Voting,
    /// At or after `vote_close_ms`.
    Closed,
}

impl Phase {
    /// The phase's name as the API and pages write it (`"voting"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Upcoming => "upcoming",
            Phase::Proposals => "proposals",
            Phase::Voting => "voting",
            Phase::Closed => "closed",
        }
    }
}

impl ConsultationView {
    /// Whether `authority` is one of the consultation's participating authorities.
    pub fn participates(&self, authority: &PublicKey) -> bool {
        self.body.authorities.binary_search(authority).is_ok()
    }

    /// The phase at `now_ms` (ms since 1970).
    pub fn phase(&self, now_ms: u64) -> Phase {
        let b = &self.body;
        if now_ms < b.proposals_open_ms {
            Phase::Upcoming
        } else if now_ms >= b.vote_close_ms {
            Phase::Closed
        } else if now_ms >= b.vote_open_ms {
            Phase::Voting
        } else {
            Phase::Proposals
        }
    }

    /// When events of `kind` about this consultation are admitted, `[opens, closes)` by
    /// their time: proposals in the proposal window, arguments from the opening of
    /// proposals to the close of the vote, ballots in the vote window.
    pub fn window(&self, kind: Kind) -> Option<(u64, u64)> {
        let b = &self.body;
        match kind {
            Kind::Proposal => Some((b.proposals_open_ms, b.proposals_close_ms)),
            Kind::Argument => Some((b.proposals_open_ms, b.vote_close_ms)),
            Kind::Ballot => Some((b.vote_open_ms, b.vote_close_ms)),
            _ => None,
        }
    }

    /// Whether an event of `kind` dated `at_ms` falls in its [`window`](Self::window).
    pub fn accepts(&self, kind: Kind, at_ms: u64) -> bool {
        self.window(kind)
            .is_some_and(|(opens, closes)| (opens..closes).contains(&at_ms))
    }

    /// Whether a tally may be shown: after the close, or before it when the organiser
    /// chose to show running results.
    pub fn results_visible(&self, now_ms: u64) -> bool {
        self.body.show_running_results || now_ms >= self.body.vote_close_ms
    }
}

/// A recorded proposal, as admission and counting read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalView {
    /// The proposal's event id.
    pub id: EventId,
    /// Who signed it: a resident, or the authority or its admin for the town hall's own.
    pub author: PublicKey,
    /// The consultation it belongs to.
    pub consultation: EventId,
    /// Its cost in whole currency units, present exactly in budget consultations.
    pub cost: Option<u64>,
}
