//! The bodies of the open kinds: what each kind of event says, member by member
//! (PROTOCOL.md, "Events"). The secret kinds' bodies are [`super::secret`] and
//! [`super::mix`]; the envelope, the decoding and the checks are [`super`]'s.

use serde::{Deserialize, Serialize};

use crate::crypto::PublicKey;
use crate::ids::{EventId, Hash};
use crate::tally::{Choice, Method, Tally};

use super::assistance::Assistance;
use super::secret::{Point, ProofPair, Secrecy};
use super::{Kind, Tombstone};

/// A municipality declares itself; always the first entry of its own log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorityBody {
    /// The municipality's name as shown to residents (at most 120 characters).
    pub name: String,
    /// Official code (the INSEE code in France); may be empty.
    pub code: String,
    /// Where its node can be reached (URLs, multiaddrs).
    pub addresses: Vec<String>,
    /// Its trustee encryption key `E = e·B`, which makes it able to be a trustee of
    /// secret consultations (present together with `encryption_pok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<Point>,
    /// Schnorr proof of knowledge of `e`, ctx = the authority key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_pok: Option<ProofPair>,
}

/// An authority certifies that `subject` is an eligible resident's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialBody {
    /// The resident's key that the authority certifies.
    pub subject: PublicKey,
    /// The resident's previous key, which stops counting: the voter stays the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<PublicKey>,
}

/// An authority withdraws a credential (the voter's ballots stop counting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationBody {
    /// The key whose credential is withdrawn; it needs an active credential from
    /// this authority.
    pub subject: PublicKey,
    /// Why, in public multi-line text (at most 1,000 characters).
    pub reason: String,
}

/// A consultation as its organiser signs it: the event's id is the
/// consultation's id, and the author's authority is the organiser (PROTOCOL.md,
/// "`consultation`").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsultationBody {
    /// One line of text, at most 200 characters.
    pub title: String,
    /// Multi-line text, at most 20,000 characters.
    pub description: String,
    /// Participating authorities, the organiser included, in strictly ascending order.
    pub authorities: Vec<PublicKey>,
    /// Start of the proposal window [open, close), ms since 1970.
    pub proposals_open_ms: u64,
    /// End (excluded) of the proposal window, ms since 1970.
    pub proposals_close_ms: u64,
    /// Start of the vote window [open, close), ms since 1970; not before
    /// `proposals_open_ms`.
    pub vote_open_ms: u64,
    /// End (excluded) of the vote window, ms since 1970; not before
    /// `proposals_close_ms`.
    pub vote_close_ms: u64,
    /// How ballots are cast and counted (support, approval, budget, ...).
    pub method: Method,
    /// Whether the tally may be shown while the vote is open.
    pub show_running_results: bool,
    /// Present for a secret consultation: its ballots are sealed (SECRET-BALLOTS.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrecy: Option<Secrecy>,
    /// How many proposals and arguments one resident may write in it; absent, the
    /// defaults of [`Quotas::DEFAULT`] (every consultation signed before quotas existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quotas: Option<Quotas>,
}

impl ConsultationBody {
    /// The quotas admission applies: the signed ones, or the defaults.
    pub fn quotas(&self) -> Quotas {
        self.quotas.unwrap_or(Quotas::DEFAULT)
    }
}

/// Per-author limits of one consultation, checked by admission (`quota_reached`): each
/// resident key may append at most this many proposals, and this many arguments, about
/// it to its town's log. The town's own key and its admins are not limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// How many proposals one resident key may write about the
    /// consultation (1 to 1,000).
    pub max_proposals_per_author: u64,
    /// How many arguments one resident key may write about the
    /// consultation's proposals (1 to 1,000).
    pub max_arguments_per_author: u64,
}

impl Quotas {
    /// The quotas of a consultation that signs none: 10 proposals and 100
    /// arguments per author (those of every consultation signed before quotas existed).
    pub const DEFAULT: Quotas = Quotas {
        max_proposals_per_author: crate::limits::DEFAULT_MAX_PROPOSALS_PER_AUTHOR,
        max_arguments_per_author: crate::limits::DEFAULT_MAX_ARGUMENTS_PER_AUTHOR,
    };

    /// The quota of `kind` (`None` for kinds without one).
    pub fn of(&self, kind: Kind) -> Option<u64> {
        match kind {
            Kind::Proposal => Some(self.max_proposals_per_author),
            Kind::Argument => Some(self.max_arguments_per_author),
            _ => None,
        }
    }
}

/// A proposal submitted to a consultation during its proposal window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalBody {
    /// The consultation's id (the id of its `consultation` event).
    pub consultation: EventId,
    /// One line of text, at most 200 characters.
    pub title: String,
    /// Multi-line text, at most 10,000 characters.
    pub body: String,
    /// Cost in whole currency units; present exactly for budget consultations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u64>,
}

/// Which side an argument takes on its proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stance {
    /// For the proposal.
    Pro,
    /// Against the proposal.
    Con,
}

/// A text for or against a proposal, shown beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgumentBody {
    /// The id of the proposal it argues about.
    pub proposal: EventId,
    /// For or against.
    pub stance: Stance,
    /// Multi-line text, at most 2,000 characters.
    pub body: String,
}

/// A public ballot: the voter's choice, in the open. The latest ballot of a
/// voter before the close is the one that counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BallotBody {
    /// The id of the consultation voted in.
    pub consultation: EventId,
    /// What the voter chose, in the shape the consultation's method asks for.
    pub choice: Choice,
    /// Present when a desk agent helped the resident cast it in person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistance: Option<Assistance>,
}

/// A municipality's staff roles. Each member signs with their own key what their role
/// allows (see `admission::staff_may`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Sets up consultations, appoints staff, issues and revokes credentials, moderates.
    Admin,
    /// Hides and restores proposals and arguments.
    Moderator,
    /// Registers residents in person, replaces lost keys, countersigns assisted ballots.
    Desk,
}

impl StaffRole {
    /// Every role, in a fixed order.
    pub const ALL: [StaffRole; 3] = [StaffRole::Admin, StaffRole::Moderator, StaffRole::Desk];

    /// The wire name of the role (`"admin"`, `"moderator"`, `"desk"`).
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Admin => "admin",
            StaffRole::Moderator => "moderator",
            StaffRole::Desk => "desk",
        }
    }

    /// The role named `text` on the wire, if there is one.
    pub fn parse(text: &str) -> Option<StaffRole> {
        StaffRole::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// An authority appoints `subject` as a staff member (or, with `active: false`, ends
/// the appointment). The latest `staff` event about a key is the one in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffBody {
    /// The staff member's own key, never the authority's.
    pub subject: PublicKey,
    /// The name shown next to their actions (a person's name or a desk's).
    pub name: String,
    /// What the member may sign for the authority.
    pub role: StaffRole,
    /// `false` ends the appointment of a key already appointed.
    pub active: bool,
}

/// What a moderation does to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModerationAction {
    /// Keeps the entry but shows the reason instead of its text.
    Hide,
    /// Shows a hidden entry again.
    Restore,
    /// Removes the text of an entry of the same log that the log has hidden: the entry's
    /// position keeps the carried tombstone (see `purge`). Final: no restore follows.
    Purge,
}

impl ModerationAction {
    /// Whether the item stays out of sight after this action.
    pub fn hides(self) -> bool {
        matches!(self, ModerationAction::Hide | ModerationAction::Purge)
    }
}

/// An authority's decision, signed by it or by its admin or moderator, to hide, restore
/// or purge a proposal or an argument (never a ballot). A hide counts when the authority
/// takes part in the consultation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModerationBody {
    /// The id of the proposal or argument moderated.
    pub target: EventId,
    /// Hide, restore or purge.
    pub action: ModerationAction,
    /// Why, in public multi-line text (at most 1,000 characters).
    pub reason: String,
    /// Present exactly when `action` is `purge`: what takes the target's place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tombstone: Option<Tombstone>,
}

/// An authority's closing tree head for one consultation: the ballots of its log that
/// count are those among its first `size` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointBody {
    /// The id of the consultation closed.
    pub consultation: EventId,
    /// The closing tree size: entries `0 … size−1` of this log are what counts.
    pub size: u64,
    /// The Merkle root of this log at `size`.
    pub root: Hash,
}

/// One participating log's closing head, as named in a result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosedLog {
    /// The participating authority whose log it is.
    pub authority: PublicKey,
    /// The number of entries of that log that count.
    pub size: u64,
    /// The log's Merkle root at `size`.
    pub root: Hash,
}

/// The organiser's signed tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultBody {
    /// The id of the consultation counted.
    pub consultation: EventId,
    /// One closing head per participating authority, ascending by authority key.
    pub checkpoints: Vec<ClosedLog>,
    /// The counts, in the shape of the consultation's method.
    pub tally: Tally,
}
