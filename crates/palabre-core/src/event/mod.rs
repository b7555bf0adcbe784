//! Signed events: the record's only facts. This file decodes one event on its own — size,
//! canonical form, schema, signature — and builds and signs new ones; its limits and keys
//! are checked by [`check`]. The bodies are in [`body`] (the open kinds), [`secret`] and
//! [`mix`] (the secret kinds) and [`assistance`] (a desk agent's countersignature).
//! Whether an event fits the record (eligibility, windows, references) is `admission`'s
//! business.
//!
//! Wire shape (PROTOCOL.md, "Events"): one JSON object, canonical per RFC 8785, with
//! exactly the members `author`, `body`, `created_at_ms`, `kind`, `sig`, `v`.
//! The signature covers `"palabre/v1/event\n"` followed by the canonical bytes of the same
//! object without `sig`; the id is SHA-256 of the exact signed bytes.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::canonical::{self, CanonicalError};
use crate::crypto::{Domain, PublicKey, SecretKey, Signature};
use crate::ids::{EventId, Hash};
use crate::limits::*;
use crate::merkle;
use crate::rejection::Rejection;
use crate::tally::Choice;

mod assistance;
mod body;
mod check;
pub mod mix;
pub mod secret;

pub use assistance::Assistance;
pub use body::{
    ArgumentBody, AuthorityBody, BallotBody, CheckpointBody, ClosedLog, ConsultationBody,
    CredentialBody, ModerationAction, ModerationBody, ProposalBody, Quotas, ResultBody,
    RevocationBody, StaffBody, StaffRole, Stance,
};

use mix::{DecryptionBody, MixBody, MixProofBody, SealFinalBody, SealedResultBody};
use secret::{BallotLayoutBody, DkgComplaintBody, DkgDealBody, ElectionKeyBody, SealedBallotBody};

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
    let author = check::parse_key("author", map.get("author"))?;
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
    check::keys_in_body(kind, &body_json)?;
    let body = Body::from_json(kind, body_json.clone())?;
    check::limits(&body)?;
    check::assistance(&author, created_at_ms, &body)?;
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

pub(crate) fn from_canonical(e: CanonicalError) -> Rejection {
    match e {
        CanonicalError::Malformed(m) => Rejection::Malformed(m),
        CanonicalError::NotAnInteger => Rejection::NotAnInteger,
        CanonicalError::Null => Rejection::NullValue,
        CanonicalError::TooDeep => Rejection::TooDeep,
        CanonicalError::NotCanonical => Rejection::NotCanonical,
    }
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
