//! Signed events: the record's only facts. This file decodes and checks one event on its
//! own — size, canonical form, schema, limits, keys, signature — and builds and signs new
//! ones. Whether an event fits the record (eligibility, windows, references) is
//! `admission`'s business.
//!
//! Wire shape (PROTOCOL.md, "Events"): one JSON object, canonical per RFC 8785, with
//! exactly the members `author`, `body`, `created_at_ms`, `kind`, `sig`, `v`.
//! The signature covers `"palabre/v1/event\n"` followed by the canonical bytes of the same
//! object without `sig`; the id is SHA-256 of the exact signed bytes.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::canonical::{self, CanonicalError};
use crate::crypto::{Domain, KeyError, PublicKey, SecretKey, Signature};
use crate::ids::{EventId, Hash};
use crate::limits::*;
use crate::merkle;
use crate::rejection::Rejection;
use crate::secret::mix::{DecryptionBody, MixBody, MixProofBody, SealFinalBody, SealedResultBody};
use crate::secret::{
    self, BallotLayoutBody, DkgComplaintBody, DkgDealBody, ElectionKeyBody, Point, ProofPair,
    Sealed, SealedBallotBody, Secrecy,
};
use crate::tally::{Choice, Method, Tally};

/// The only protocol version this code speaks.
pub const PROTOCOL_VERSION: u64 = 1;

/// What an event is about: the `kind` member of the wire object, written in
/// snake_case (PROTOCOL.md, "Event kinds"). A sealed ballot and a sealed result share the
/// kinds `ballot` and `result` with their public forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A municipality's declaration of itself, first in its own log.
    Authority,
    /// An authority's certification of a resident's key.
    Credential,
    /// An authority's withdrawal of a credential.
    Revocation,
    /// A consultation's rules: windows, method, authorities, secrecy.
    Consultation,
    /// A resident's or town hall's proposal in a consultation.
    Proposal,
    /// A text for or against a proposal.
    Argument,
    /// A resident's vote in a consultation, public (`choice`) or sealed.
    Ballot,
    /// Hiding, restoring or purging a proposal or an argument.
    Moderation,
    /// An authority's closing tree head for one consultation.
    Checkpoint,
    /// The organiser's signed tally, public or opened from sealed ballots.
    Result,
    /// An authority's appointment or dismissal of a staff member.
    Staff,
    /// A trustee's share of the joint election key (secret ballots, design §4.2).
    DkgDeal,
    /// A trustee's complaint against another trustee's deal.
    DkgComplaint,
    /// The organiser's statement of the joint election key and its trustees.
    ElectionKey,
    /// The organiser's fixed list of proposals that sealed ballots encrypt.
    BallotLayout,
    /// One chunk of a trustee's shuffle of a group of sealed ballots.
    Mix,
    /// The closing part of a trustee's shuffle: its proof over all the chunks.
    MixProof,
    /// The organiser's choice of the mix chains that are decrypted.
    SealFinal,
    /// A trustee's decryption shares of a final mix.
    Decryption,
}

impl Kind {
    /// Every kind, in a fixed order that stores use as a byte: new kinds go at the end.
    pub const ALL: [Kind; 19] = [
        Kind::Authority,
        Kind::Credential,
        Kind::Revocation,
        Kind::Consultation,
        Kind::Proposal,
        Kind::Argument,
        Kind::Ballot,
        Kind::Moderation,
        Kind::Checkpoint,
        Kind::Result,
        Kind::Staff,
        Kind::DkgDeal,
        Kind::DkgComplaint,
        Kind::ElectionKey,
        Kind::BallotLayout,
        Kind::Mix,
        Kind::MixProof,
        Kind::SealFinal,
        Kind::Decryption,
    ];

    /// The wire name of the kind, as in the `kind` member (`"dkg_deal"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Authority => "authority",
            Kind::Credential => "credential",
            Kind::Revocation => "revocation",
            Kind::Consultation => "consultation",
            Kind::Proposal => "proposal",
            Kind::Argument => "argument",
            Kind::Ballot => "ballot",
            Kind::Moderation => "moderation",
            Kind::Checkpoint => "checkpoint",
            Kind::Result => "result",
            Kind::Staff => "staff",
            Kind::DkgDeal => "dkg_deal",
            Kind::DkgComplaint => "dkg_complaint",
            Kind::ElectionKey => "election_key",
            Kind::BallotLayout => "ballot_layout",
            Kind::Mix => "mix",
            Kind::MixProof => "mix_proof",
            Kind::SealFinal => "seal_final",
            Kind::Decryption => "decryption",
        }
    }

    fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

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

/// A desk agent's countersignature of an assisted ballot: `sig` covers
/// `"palabre/v1/assistance\n"` followed by the canonical JSON object
/// `{author, choice, consultation, created_at_ms}` of the ballot it sits in, so the
/// agent vouches for exactly this voter's choice at this time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assistance {
    /// The desk agent's own key; it differs from the voter's and must be an
    /// appointed `desk` or `admin` staff member of the log's authority.
    pub agent: PublicKey,
    /// The agent's signature over the statement (tag `palabre/v1/assistance\n`).
    pub sig: Signature,
}

impl Assistance {
    /// What the agent signs (without the tag).
    pub fn statement(
        voter: &PublicKey,
        created_at_ms: u64,
        consultation: &EventId,
        choice: &Choice,
    ) -> Result<Vec<u8>, Rejection> {
        let value = serde_json::json!({
            "author": voter,
            "choice": choice,
            "consultation": consultation,
            "created_at_ms": created_at_ms,
        });
        canonical::encode(&value).map_err(from_canonical)
    }

    /// What the agent signs for a sealed ballot (without the tag): the canonical JSON
    /// object `{author, consultation, created_at_ms, sealed}`.
    pub fn sealed_statement(
        voter: &PublicKey,
        created_at_ms: u64,
        consultation: &EventId,
        sealed: &Sealed,
    ) -> Result<Vec<u8>, Rejection> {
        let value = serde_json::json!({
            "author": voter,
            "consultation": consultation,
            "created_at_ms": created_at_ms,
            "sealed": sealed,
        });
        canonical::encode(&value).map_err(from_canonical)
    }

    /// The agent's countersignature of the sealed ballot `voter` is about to sign.
    pub fn sign_sealed(
        agent: &SecretKey,
        voter: &PublicKey,
        created_at_ms: u64,
        consultation: &EventId,
        sealed: &Sealed,
    ) -> Result<Assistance, Rejection> {
        let statement = Assistance::sealed_statement(voter, created_at_ms, consultation, sealed)?;
        Ok(Assistance {
            agent: agent.public_key(),
            sig: agent.sign(Domain::Assistance, &statement),
        })
    }

    /// The agent's countersignature of the ballot `voter` is about to sign.
    pub fn sign(
        agent: &SecretKey,
        voter: &PublicKey,
        created_at_ms: u64,
        consultation: &EventId,
        choice: &Choice,
    ) -> Result<Assistance, Rejection> {
        let statement = Assistance::statement(voter, created_at_ms, consultation, choice)?;
        Ok(Assistance {
            agent: agent.public_key(),
            sig: agent.sign(Domain::Assistance, &statement),
        })
    }
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

/// An event's kind-specific content, decoded: one variant per body shape, so a
/// sealed ballot or result has its own variant under the same kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// See [`AuthorityBody`].
    Authority(AuthorityBody),
    /// See [`CredentialBody`].
    Credential(CredentialBody),
    /// See [`RevocationBody`].
    Revocation(RevocationBody),
    /// Boxed: by far the largest body, and rare.
    Consultation(Box<ConsultationBody>),
    /// See [`ProposalBody`].
    Proposal(ProposalBody),
    /// See [`ArgumentBody`].
    Argument(ArgumentBody),
    /// A public ballot, with `choice`: see [`BallotBody`].
    Ballot(BallotBody),
    /// See [`ModerationBody`].
    Moderation(ModerationBody),
    /// See [`CheckpointBody`].
    Checkpoint(CheckpointBody),
    /// Boxed: large, and one per consultation.
    Result(Box<ResultBody>),
    /// See [`StaffBody`].
    Staff(StaffBody),
    /// See [`DkgDealBody`].
    DkgDeal(DkgDealBody),
    /// See [`DkgComplaintBody`].
    DkgComplaint(DkgComplaintBody),
    /// See [`ElectionKeyBody`].
    ElectionKey(ElectionKeyBody),
    /// See [`BallotLayoutBody`].
    BallotLayout(BallotLayoutBody),
    /// A `ballot` whose body carries `sealed` instead of `choice` (a secret
    /// consultation's). Its kind is [`Kind::Ballot`].
    SealedBallot(SealedBallotBody),
    /// See [`MixBody`].
    Mix(MixBody),
    /// See [`MixProofBody`]; boxed, being large.
    MixProof(Box<MixProofBody>),
    /// See [`SealFinalBody`].
    SealFinal(SealFinalBody),
    /// See [`DecryptionBody`].
    Decryption(DecryptionBody),
    /// A `result` whose body carries `sealed` (a secret consultation's). Its kind is
    /// [`Kind::Result`]. Boxed like the public one.
    SealedResult(Box<SealedResultBody>),
}

impl Body {
    /// The kind written on the wire for this body (a sealed ballot is a `ballot`).
    pub fn kind(&self) -> Kind {
        match self {
            Body::Authority(_) => Kind::Authority,
            Body::Credential(_) => Kind::Credential,
            Body::Revocation(_) => Kind::Revocation,
            Body::Consultation(_) => Kind::Consultation,
            Body::Proposal(_) => Kind::Proposal,
            Body::Argument(_) => Kind::Argument,
            Body::Ballot(_) => Kind::Ballot,
            Body::Moderation(_) => Kind::Moderation,
            Body::Checkpoint(_) => Kind::Checkpoint,
            Body::Result(_) => Kind::Result,
            Body::Staff(_) => Kind::Staff,
            Body::DkgDeal(_) => Kind::DkgDeal,
            Body::DkgComplaint(_) => Kind::DkgComplaint,
            Body::ElectionKey(_) => Kind::ElectionKey,
            Body::BallotLayout(_) => Kind::BallotLayout,
            Body::SealedBallot(_) => Kind::Ballot,
            Body::Mix(_) => Kind::Mix,
            Body::MixProof(_) => Kind::MixProof,
            Body::SealFinal(_) => Kind::SealFinal,
            Body::Decryption(_) => Kind::Decryption,
            Body::SealedResult(_) => Kind::Result,
        }
    }

    fn to_json(&self) -> Result<Value, serde_json::Error> {
        match self {
            Body::Authority(b) => serde_json::to_value(b),
            Body::Credential(b) => serde_json::to_value(b),
            Body::Revocation(b) => serde_json::to_value(b),
            Body::Consultation(b) => serde_json::to_value(b),
            Body::Proposal(b) => serde_json::to_value(b),
            Body::Argument(b) => serde_json::to_value(b),
            Body::Ballot(b) => serde_json::to_value(b),
            Body::Moderation(b) => serde_json::to_value(b),
            Body::Checkpoint(b) => serde_json::to_value(b),
            Body::Result(b) => serde_json::to_value(b),
            Body::Staff(b) => serde_json::to_value(b),
            Body::DkgDeal(b) => serde_json::to_value(b),
            Body::DkgComplaint(b) => serde_json::to_value(b),
            Body::ElectionKey(b) => serde_json::to_value(b),
            Body::BallotLayout(b) => serde_json::to_value(b),
            Body::SealedBallot(b) => serde_json::to_value(b),
            Body::Mix(b) => serde_json::to_value(b),
            Body::MixProof(b) => serde_json::to_value(b),
            Body::SealFinal(b) => serde_json::to_value(b),
            Body::Decryption(b) => serde_json::to_value(b),
            Body::SealedResult(b) => serde_json::to_value(b),
        }
    }

    fn from_json(kind: Kind, json: Value) -> Result<Body, Rejection> {
        fn de<T: DeserializeOwned>(json: Value) -> Result<T, Rejection> {
            serde_json::from_value(json).map_err(|e| secret::serde_rejection(&e))
        }
        Ok(match kind {
            Kind::Ballot => {
                let has = |m: &str| json.get(m).is_some();
                match (has("choice"), has("sealed")) {
                    (true, false) => Body::Ballot(de(json)?),
                    (false, true) => Body::SealedBallot(de(json)?),
                    _ => {
                        return Err(Rejection::Malformed(
                            "a ballot has exactly one of `choice` and `sealed`".into(),
                        ));
                    }
                }
            }
            Kind::DkgDeal => Body::DkgDeal(de(json)?),
            Kind::DkgComplaint => Body::DkgComplaint(de(json)?),
            Kind::ElectionKey => Body::ElectionKey(de(json)?),
            Kind::BallotLayout => Body::BallotLayout(de(json)?),
            Kind::Authority => Body::Authority(de(json)?),
            Kind::Credential => Body::Credential(de(json)?),
            Kind::Revocation => Body::Revocation(de(json)?),
            Kind::Consultation => Body::Consultation(de(json)?),
            Kind::Proposal => Body::Proposal(de(json)?),
            Kind::Argument => Body::Argument(de(json)?),
            Kind::Moderation => Body::Moderation(de(json)?),
            Kind::Checkpoint => Body::Checkpoint(de(json)?),
            Kind::Result if json.get("sealed").is_some() => Body::SealedResult(de(json)?),
            Kind::Result => Body::Result(de(json)?),
            Kind::Mix => Body::Mix(de(json)?),
            Kind::MixProof => Body::MixProof(de(json)?),
            Kind::SealFinal => Body::SealFinal(de(json)?),
            Kind::Decryption => Body::Decryption(de(json)?),
            Kind::Staff => Body::Staff(de(json)?),
        })
    }
}

/// An event's content, before or apart from its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The signer's key; for staff actions the member's own key, not the
    /// authority's.
    pub author: PublicKey,
    /// When the author says it made the event (ms since 1970-01-01T00:00:00Z).
    pub created_at_ms: u64,
    /// The kind-specific content, which also gives the event's kind.
    pub body: Body,
}

impl Event {
    /// The event's kind, from its body.
    pub fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// The canonical bytes that the signature covers (without `sig`).
    pub fn unsigned_bytes(&self) -> Result<Vec<u8>, Rejection> {
        canonical::encode(&Value::Object(self.unsigned_object()?)).map_err(from_canonical)
    }

    fn unsigned_object(&self) -> Result<Map<String, Value>, Rejection> {
        let body = self
            .body
            .to_json()
            .map_err(|e| Rejection::Malformed(e.to_string()))?;
        let mut map = Map::new();
        map.insert("author".into(), Value::String(self.author.to_hex()));
        map.insert("body".into(), body);
        map.insert("created_at_ms".into(), Value::from(self.created_at_ms));
        map.insert("kind".into(), Value::String(self.kind().as_str().into()));
        map.insert("v".into(), Value::from(PROTOCOL_VERSION));
        Ok(map)
    }

    /// Signs the event with `key`, which must be the author's. The result goes through
    /// the same checks as any received event, so nothing invalid can be built here.
    pub fn sign(self, key: &SecretKey) -> Result<SignedEvent, Rejection> {
        if key.public_key() != self.author {
            return Err(Rejection::BadSignature);
        }
        let mut map = self.unsigned_object()?;
        let unsigned = canonical::encode(&Value::Object(map.clone())).map_err(from_canonical)?;
        let sig = key.sign(Domain::Event, &unsigned);
        map.insert("sig".into(), Value::String(sig.to_hex()));
        let bytes = canonical::to_canonical(&Value::Object(map)).map_err(from_canonical)?;
        SignedEvent::from_bytes(bytes)
    }
}

/// A checked event together with the exact bytes it arrived as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEvent {
    bytes: Vec<u8>,
    id: EventId,
    event: Event,
    sig: Signature,
}

/// A decoded event whose signature has not been checked yet (for batch verification).
#[derive(Debug, Clone)]
pub struct UnverifiedEvent {
    /// The exact bytes received, which the id is the hash of.
    pub bytes: Vec<u8>,
    /// The decoded content.
    pub event: Event,
    /// The author's signature as written in the `sig` member.
    pub sig: Signature,
    /// The tag followed by the unsigned canonical bytes: what `sig` must cover.
    pub message: Vec<u8>,
}

impl UnverifiedEvent {
    /// Accepts the event once its signature is known to be valid (by a batch check that
    /// fell back to strict verification, see `crypto::verify_many`).
    pub fn into_verified_unchecked(self) -> SignedEvent {
        SignedEvent {
            id: EventId::of_signed_bytes(&self.bytes),
            bytes: self.bytes,
            event: self.event,
            sig: self.sig,
        }
    }

    /// Checks the signature strictly and accepts the event, or refuses it
    /// (`bad_signature`).
    pub fn verify(self) -> Result<SignedEvent, Rejection> {
        self.event
            .author
            .verify_message(&self.message, &self.sig)
            .map_err(|_| Rejection::BadSignature)?;
        Ok(self.into_verified_unchecked())
    }
}

impl SignedEvent {
    /// Decodes and fully checks one received event: everything that does not depend on
    /// the record. The bytes are kept exactly as received.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<SignedEvent, Rejection> {
        decode(bytes)?.verify()
    }

    /// The exact signed bytes as received: what is stored, hashed and served.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The exact signed bytes, taking ownership.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The event's id: SHA-256 of its signed bytes.
    pub fn id(&self) -> EventId {
        self.id
    }

    /// The decoded content.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The signer's key.
    pub fn author(&self) -> &PublicKey {
        &self.event.author
    }

    /// The event's kind.
    pub fn kind(&self) -> Kind {
        self.event.kind()
    }

    /// The kind-specific content.
    pub fn body(&self) -> &Body {
        &self.event.body
    }

    /// When the author says it made the event, ms since 1970.
    pub fn created_at_ms(&self) -> u64 {
        self.event.created_at_ms
    }

    /// The author's signature.
    pub fn signature(&self) -> &Signature {
        &self.sig
    }
}

/// Every check of one event except its signature.
pub fn decode(bytes: Vec<u8>) -> Result<UnverifiedEvent, Rejection> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(Rejection::TooLarge {
            max_bytes: MAX_EVENT_BYTES,
        });
    }
    let json = canonical::parse_canonical(&bytes).map_err(from_canonical)?;
    let Value::Object(mut map) = json else {
        return Err(Rejection::Malformed("an event is a JSON object".into()));
    };
    const MEMBERS: [&str; 6] = ["author", "body", "created_at_ms", "kind", "sig", "v"];
    if map.len() != MEMBERS.len() || !MEMBERS.iter().all(|m| map.contains_key(*m)) {
        return Err(Rejection::Malformed(
            "an event has exactly the members author, body, created_at_ms, kind, sig, v".into(),
        ));
    }
    let version = map.get("v").and_then(Value::as_u64);
    if version != Some(PROTOCOL_VERSION) {
        return Err(match version {
            Some(v) => Rejection::UnsupportedVersion(v),
            None => Rejection::Malformed("`v` is an integer".into()),
        });
    }
    let kind_text = map
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| Rejection::Malformed("`kind` is a string".into()))?;
    let kind = Kind::parse(kind_text).ok_or_else(|| Rejection::UnknownKind(kind_text.into()))?;
    let author = parse_key("author", map.get("author"))?;
    let created_at_ms = map
        .get("created_at_ms")
        .and_then(Value::as_u64)
        .ok_or_else(|| Rejection::Malformed("`created_at_ms` is a non-negative integer".into()))?;
    let sig: Signature = map
        .get("sig")
        .and_then(Value::as_str)
        .ok_or_else(|| Rejection::Malformed("`sig` is a string".into()))?
        .parse()
        .map_err(|_| Rejection::Malformed("`sig` is 128 lowercase hex characters".into()))?;
    map.remove("sig");
    let body_json = map
        .remove("body")
        .ok_or_else(|| Rejection::Malformed("`body` is missing".into()))?;
    check_keys_in_body(kind, &body_json)?;
    let body = Body::from_json(kind, body_json.clone())?;
    check_limits(&body)?;
    check_assistance(&author, created_at_ms, &body)?;
    if let Body::Authority(a) = &body {
        secret::check_encryption_key(
            &author,
            a.encryption_key.as_ref(),
            a.encryption_pok.as_ref(),
        )?;
    }
    map.insert("body".into(), body_json);
    let unsigned = canonical::encode(&Value::Object(map)).map_err(from_canonical)?;
    Ok(UnverifiedEvent {
        message: Domain::Event.message(&unsigned),
        bytes,
        event: Event {
            author,
            created_at_ms,
            body,
        },
        sig,
    })
}

fn parse_key(field: &'static str, json: Option<&Value>) -> Result<PublicKey, Rejection> {
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
fn check_keys_in_body(kind: Kind, body: &Value) -> Result<(), Rejection> {
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

pub(crate) fn from_canonical(e: CanonicalError) -> Rejection {
    match e {
        CanonicalError::Malformed(m) => Rejection::Malformed(m),
        CanonicalError::NotAnInteger => Rejection::NotAnInteger,
        CanonicalError::Null => Rejection::NullValue,
        CanonicalError::TooDeep => Rejection::TooDeep,
        CanonicalError::NotCanonical => Rejection::NotCanonical,
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

fn check_limits(body: &Body) -> Result<(), Rejection> {
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
fn check_assistance(author: &PublicKey, created_at_ms: u64, body: &Body) -> Result<(), Rejection> {
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

/// Convenience for tests and tools: the proposals a ballot's choice names.
pub fn choice_proposals(choice: &Choice) -> Vec<EventId> {
    match choice {
        Choice::Approve(ids) => ids.clone(),
        Choice::Answers(map) => map.keys().copied().collect(),
        Choice::Grades(map) => map.keys().copied().collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Tombstones: what takes a purged proposal's or argument's place in its log (`purge`
// reads log positions either way). Wire shape: PROTOCOL.md, "Purged entries".

/// What a tombstone says of the entry it replaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TombstoneBody {
    /// The purged event's id.
    pub id: EventId,
    /// The entry's Merkle leaf hash (of its exact bytes).
    pub leaf: Hash,
    /// `proposal` or `argument`, the purged event's kind.
    pub kind: Kind,
    /// The purged event's author.
    pub author: PublicKey,
    /// The purged event's `created_at_ms` (ms since 1970).
    pub created_at_ms: u64,
    /// The consultation the proposal, or the argument's proposal, belongs to.
    pub consultation: EventId,
    /// For an argument: the proposal it answers, and on which side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal: Option<EventId>,
    /// For an argument: its side, for or against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stance: Option<Stance>,
    /// For a proposal of a budget consultation: its cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u64>,
}

impl TombstoneBody {
    /// The tombstone of `event`, a proposal or an argument of `consultation` (an
    /// argument's consultation is its proposal's, which the caller looks up).
    pub fn of(event: &SignedEvent, consultation: EventId) -> Option<TombstoneBody> {
        let (proposal, stance, cost) = match event.body() {
            Body::Proposal(b) if b.consultation == consultation => (None, None, b.cost),
            Body::Argument(b) => (Some(b.proposal), Some(b.stance), None),
            _ => return None,
        };
        Some(TombstoneBody {
            id: event.id(),
            leaf: merkle::leaf_hash(event.bytes()),
            kind: event.kind(),
            author: *event.author(),
            created_at_ms: event.created_at_ms(),
            consultation,
            proposal,
            stance,
            cost,
        })
    }

    pub(crate) fn check_shape(&self) -> Result<(), Rejection> {
        let ok = match self.kind {
            Kind::Proposal => self.proposal.is_none() && self.stance.is_none(),
            Kind::Argument => {
                self.proposal.is_some() && self.stance.is_some() && self.cost.is_none()
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Rejection::BadTombstone)
        }
    }
}

/// A tombstone and its authority's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tombstone {
    /// What the tombstone says of the entry it replaces.
    pub purged: TombstoneBody,
    /// The signature of the log's authority over the canonical bytes of `purged`
    /// (tag `palabre/v1/purged\n`).
    pub sig: Signature,
}

impl Tombstone {
    /// Signs `purged` with the key of the authority whose log holds the entry.
    pub fn sign(purged: TombstoneBody, authority: &SecretKey) -> Result<Tombstone, Rejection> {
        let bytes = canonical::to_canonical(&purged).map_err(from_canonical)?;
        Ok(Tombstone {
            sig: authority.sign(Domain::Purged, &bytes),
            purged,
        })
    }

    /// Checks the shape and that `authority` (the log's) signed it.
    pub fn verify(&self, authority: &PublicKey) -> Result<(), Rejection> {
        self.purged.check_shape()?;
        let bytes = canonical::to_canonical(&self.purged).map_err(from_canonical)?;
        authority
            .verify(Domain::Purged, &bytes, &self.sig)
            .map_err(|_| Rejection::BadTombstone)
    }

    /// The canonical bytes that take the entry's place in the log.
    pub fn to_bytes(&self) -> Vec<u8> {
        canonical::to_canonical(self).expect("a tombstone serializes canonically")
    }
}
