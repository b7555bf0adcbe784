//! Why an event was refused: one value per reason, each with a stable machine code
//! (`code()`, used by the API, metrics and peers) and a plain-language message.
//!
//! Codes are part of the protocol: PROTOCOL.md lists them, and they never change meaning.

use crate::tally::ChoiceError;

/// Why an event, or an entry received in a log, was refused. Each variant's doc names its
/// code (PROTOCOL.md, "Rejection codes"); when several rules fail, the first in the order
/// of the admission rules gives the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// `too_large`: the event (or tombstone) is over [`MAX_EVENT_BYTES`](crate::limits::MAX_EVENT_BYTES).
    #[error("the event is larger than {max_bytes} bytes")]
    TooLarge {
        /// The limit, in bytes.
        max_bytes: usize,
    },
    /// `malformed`: not UTF-8 JSON, not an object with the six members, a body of the wrong
    /// shape; the text says what was wrong.
    #[error("the event is not well-formed: {0}")]
    Malformed(String),
    /// `not_canonical`: the bytes are not the RFC 8785 form of themselves.
    #[error("the event is not in RFC 8785 canonical form")]
    NotCanonical,
    /// `not_an_integer`: a number is not an integer within ±(2^53 − 1).
    #[error("numbers in signed content must be integers of at most 2^53 − 1")]
    NotAnInteger,
    /// `null_value`: `null` appears in signed content.
    #[error("null is not allowed in signed content")]
    NullValue,
    /// `too_deep`: JSON nested deeper than [`MAX_JSON_DEPTH`](crate::limits::MAX_JSON_DEPTH).
    #[error("the event is nested too deeply")]
    TooDeep,
    /// `unsupported_version`: `v` is not 1; carries the version found.
    #[error("protocol version {0} is not supported (this node speaks version 1)")]
    UnsupportedVersion(u64),
    /// `unknown_kind`: `kind` is none of the kinds of [`Kind`](crate::event::Kind); carries the text found.
    #[error("unknown event kind {0:?}")]
    UnknownKind(String),
    /// `bad_key`: a key is not 64 lowercase hex characters of a canonical point (or a `staff`
    /// subject is the authority itself).
    #[error("the key in `{field}` is not a canonical Ed25519 public key")]
    BadKey {
        /// The member that holds the key (`author`, `subject`, ...).
        field: &'static str,
    },
    /// `weak_key`: a key of small or mixed order (a torsion component), refused so that
    /// batch and strict verification agree.
    #[error("the key in `{field}` is a weak (small-order or mixed-order) key")]
    WeakKey {
        /// The member that holds the key.
        field: &'static str,
    },
    /// `bad_signature`: the author's signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// `over_limit`: a text, list or map is longer than its limit (PROTOCOL.md, "Limits").
    #[error("`{field}` is over its limit of {max}")]
    OverLimit {
        /// The field over its limit.
        field: &'static str,
        /// The limit: characters for a text, items for a list.
        max: usize,
    },
    /// `invalid_text`: a text is blank, or holds control characters.
    #[error("`{field}` is empty or contains control characters")]
    InvalidText {
        /// The text field refused.
        field: &'static str,
    },
    /// `duplicate`: an event with the same id is already recorded.
    #[error("this event is already recorded")]
    Duplicate,
    /// `unknown_authority`: the log's authority has no `authority` event yet (awaits its log).
    #[error("the authority of this log has not declared itself yet")]
    UnknownAuthority,
    /// `wrong_author`: the author is neither the log's authority nor a staff member in force
    /// (for a result: not the organiser in its own log).
    #[error("this kind of event must be signed by {expected}")]
    WrongAuthor {
        /// Who may sign this kind, in words ("a trustee of QUAL, in its own log", ...).
        expected: &'static str,
    },
    /// `unknown_consultation`: the consultation referred to is not recorded (awaits its log).
    #[error("unknown consultation")]
    UnknownConsultation,
    /// `unknown_proposal`: the proposal referred to is not recorded (awaits its log).
    #[error("unknown proposal")]
    UnknownProposal,
    /// `unknown_target`: another referred event (a moderation's target, a deal, a mix, ...)
    /// is not recorded (awaits its log).
    #[error("the event this refers to is unknown")]
    UnknownTarget,
    /// `outside_window`: the event's `created_at_ms` is outside the window of its kind.
    #[error(
        "outside the window: it opens at {opens_at_ms} and closes at {closes_at_ms} (ms since 1970)"
    )]
    OutsideWindow {
        /// Start of the window, ms since 1970.
        opens_at_ms: u64,
        /// End (excluded) of the window, ms since 1970.
        closes_at_ms: u64,
    },
    /// `clock_skew`: the claimed time is more than
    /// [`MAX_CLOCK_SKEW_MS`](crate::limits::MAX_CLOCK_SKEW_MS) from the node's clock (live
    /// admission only, never replay).
    #[error("the event's time is more than 5 minutes away from the node's clock")]
    ClockSkew,
    /// `not_eligible`: the author holds no credential from this log's authority.
    #[error("the author holds no credential from this log's authority")]
    NotEligible,
    /// `revoked_key`: the author's credential was revoked.
    #[error("the author's credential has been revoked")]
    RevokedKey,
    /// `replaced_key`: the author's key was replaced by a newer credential of the same voter.
    #[error("the author's key has been replaced by a newer one")]
    ReplacedKey,
    /// `not_participating`: the log's authority is not among the consultation's authorities.
    #[error("this log's authority does not take part in the consultation")]
    NotParticipating,
    /// `invalid_choice`: the ballot's choice does not fit the method; carries why.
    #[error("invalid choice: {0}")]
    InvalidChoice(ChoiceError),
    /// `invalid_method`: the consultation's method parameters are invalid; carries why.
    #[error("invalid method: {0}")]
    InvalidMethod(ChoiceError),
    /// `bad_windows`: the consultation's proposal and vote windows are not in order.
    #[error("the consultation's windows are not in order")]
    BadWindows,
    /// `bad_participants`: the consultation's authorities are not 1 to 64 strictly ascending
    /// keys including the organiser (awaits: a participant may not have declared itself yet).
    #[error("the consultation's list of authorities is invalid")]
    BadParticipants,
    /// `already_credentialed`: the key is the authority's own, or was already a credential's
    /// subject (whatever its state now).
    #[error("this key already holds a credential from this authority")]
    AlreadyCredentialed,
    /// `not_credentialed`: `replaces` or a revocation names a key this authority never
    /// credentialed.
    #[error("this key holds no credential from this authority")]
    NotCredentialed,
    /// `already_revoked`: `replaces` or a revocation names a key already revoked or replaced.
    #[error("this credential is already revoked or replaced")]
    AlreadyRevoked,
    /// `not_moderatable`: a moderation of something other than a proposal or an argument.
    #[error("only proposals and arguments can be moderated")]
    NotModeratable,
    /// `bad_cost`: a proposal's cost is missing in a budget consultation, present in another,
    /// or over the budget.
    #[error(
        "a proposal needs a cost for a budget consultation, and no cost otherwise; the cost must fit the budget"
    )]
    BadCost,
    /// `checkpoint_mismatch`: the checkpoint's size or root is not this log's.
    #[error("the checkpoint does not match this log")]
    CheckpointMismatch,
    /// `already_closed`: this log already closed the consultation (or a result or seal exists).
    #[error("this consultation is already closed on this log")]
    AlreadyClosed,
    /// `not_closed`: a checkpoint, result or mix before the vote closes, or before every log
    /// holds its checkpoint (awaits).
    #[error("the consultation's vote has not closed yet")]
    NotClosed,
    /// `result_mismatch`: a result names the wrong checkpoints or a tally that is not the
    /// count (awaits logs not caught up).
    #[error("the result does not match the consultation's method or its checkpoints")]
    ResultMismatch,
    /// `bad_assistance`: an assisted ballot's countersignature does not verify, or is by the
    /// voter's own key.
    #[error("the ballot's assistance is not a valid countersignature by another key")]
    BadAssistance,
    /// `not_staff`: the author is on the authority's staff but its role does not allow this
    /// kind; or an assistance agent that is not a desk or admin.
    #[error("this key is not an active staff member of this authority allowed to do this")]
    NotStaff,
    /// `bad_tombstone`: a tombstone that is not exactly its entry's or not signed by the log's
    /// authority, or a purge without one.
    #[error(
        "a purge needs a tombstone that describes its target exactly, signed by the log's authority"
    )]
    BadTombstone,
    /// `not_hidden`: a purge of an entry that is not in this log, or that this log has not hidden.
    #[error("only an entry of this log that this log's authority has hidden can be purged")]
    NotHidden,
    /// `purged`: a moderation of an item whose text was purged; a purge is final.
    #[error("this item's text was purged: it stays hidden for good")]
    Purged,
    /// `bad_point`: a secret-ballot point is not a canonical ristretto255 encoding.
    #[error("a point is not the canonical ristretto255 encoding")]
    BadPoint,
    /// `bad_scalar`: a secret-ballot scalar is not below the group order ℓ.
    #[error("a scalar is not 32 bytes little-endian below the group order")]
    BadScalar,
    /// `bad_encryption_key`: an authority's `encryption_key` without its proof (or the
    /// reverse), or a proof that does not verify.
    #[error("the encryption key and its proof of knowledge are not both present and valid")]
    BadEncryptionKey,
    /// `bad_trustees`: a consultation's `secrecy` names trustees or a threshold outside the
    /// rules (2 to 16 ascending keys with encryption keys, 2 ≤ t ≤ n).
    #[error(
        "the trustees must be 2 to 16 ascending authorities that declared an encryption key, with 2 ≤ threshold ≤ their number"
    )]
    BadTrustees,
    /// `bad_deal`: a `dkg_deal` not by a trustee in its own log, about a public consultation,
    /// or without its commitments, valid proof and shares.
    #[error("the deal is malformed, or its proof of knowledge does not verify")]
    BadDeal,
    /// `already_dealt`: a trustee's second `dkg_deal` for the same consultation.
    #[error("this trustee has already dealt for this consultation")]
    AlreadyDealt,
    /// `bad_complaint`: a `dkg_complaint` by the dealer itself, against a deal that is not
    /// valid, or whose proof does not verify.
    #[error("the complaint's proof does not verify, or it names no share to its author")]
    BadComplaint,
    /// `bad_election_key`: an `election_key` whose QUAL or key is not the one recomputed from
    /// the trustees' logs (awaits logs not caught up).
    #[error("the election key does not match the deals and complaints of the trustees' logs")]
    BadElectionKey,
    /// `no_election_key`: a sealed ballot before the consultation's election key is recorded
    /// (awaits).
    #[error("this consultation has no election key yet: no sealed ballot can be cast")]
    NoElectionKey,
    /// `bad_layout`: a `ballot_layout` whose columns or groups are not the consultation's
    /// canonical ones, or a second one.
    #[error("the layout is not the consultation's canonical layout")]
    BadLayout,
    /// `wrong_layout`: a sealed ballot under a layout that is not the consultation's.
    #[error("the sealed ballot is not under the consultation's layout")]
    WrongLayout,
    /// `sealed_required`: a `choice` ballot, or a public result, in a secret consultation.
    #[error("this consultation's ballots are secret: the ballot must be sealed")]
    SealedRequired,
    /// `not_sealed`: a sealed ballot, a layout or a mix in a public consultation.
    #[error("this consultation's ballots are public: the ballot must not be sealed")]
    NotSealed,
    /// `bad_pok`: a sealed ballot's proof of knowledge does not verify for its author,
    /// consultation and layout (for instance a copied ciphertext).
    #[error("the sealed ballot's proof of knowledge does not verify")]
    BadPok,
    /// `bad_quotas`: a consultation's quota of 0 or over
    /// [`MAX_QUOTA`](crate::limits::MAX_QUOTA).
    #[error("the consultation's quotas must each be 1 to 1,000")]
    BadQuotas,
    /// `quota_reached`: the author already wrote as many proposals (or arguments) about the
    /// consultation as its quotas allow one resident.
    #[error("this author already wrote the {max} {kind}s the consultation allows each resident")]
    QuotaReached {
        /// `proposal` or `argument`.
        kind: &'static str,
        /// The consultation's quota for that kind.
        max: u64,
    },
    /// `already_mixed`: a mix of a group this log has already closed a mix of, or whose
    /// input's chain already holds this trustee's mix.
    #[error("this trustee has already mixed this group, or its mix is already in the chain")]
    AlreadyMixed,
    /// `bad_shuffle`: a mix chunk of the wrong shape or group, or a `mix_proof` whose shuffle
    /// proof does not hold (or whose input is a refused mix).
    #[error("the shuffle proof does not hold for this mix's input and outputs")]
    BadShuffle,
    /// `mix_incomplete`: a `mix_proof` whose parts are not all recorded chunks of the same
    /// mix, contiguous from position 0, `n` positions in all.
    #[error("the mix's chunks are not all recorded in its log, contiguous from position 0")]
    MixIncomplete,
    /// `chain_too_short`: a `seal_final` chain that does not run from the initial list through
    /// valid mixes of at least t distinct trustees.
    #[error(
        "a chain must start at the initial list and hold mixes of at least t distinct trustees"
    )]
    ChainTooShort,
    /// `bad_decryption_share`: a `decryption` about a group the seal does not have, or whose
    /// DLEQ proofs do not verify.
    #[error("a decryption share's proof does not verify against the trustee's verification key")]
    BadDecryptionShare,
    /// `decryptor_not_mixer`: a trustee would decrypt (or, in the audit, did decrypt) a chain
    /// without its own mix.
    #[error("this trustee did not mix in the chain it would decrypt")]
    DecryptorNotMixer,
}

impl Rejection {
    /// Whether the event may be admissible once another log is further along: it refers
    /// to something (a consultation, a proposal — an argument's, or one a ballot names —,
    /// a target, a declaration, closing checkpoints) not recorded yet. Replication retries such entries; any other
    /// refusal of a signed entry is final.
    pub fn awaits_other_log(&self) -> bool {
        matches!(
            self,
            Rejection::UnknownConsultation
                | Rejection::UnknownProposal
                | Rejection::UnknownTarget
                | Rejection::UnknownAuthority
                | Rejection::BadParticipants
                | Rejection::NotClosed
                | Rejection::ResultMismatch
                | Rejection::BadElectionKey
                | Rejection::NoElectionKey
        )
    }

    /// The stable machine code (PROTOCOL.md, "Rejection codes").
    pub fn code(&self) -> &'static str {
        use Rejection::*;
        match self {
            TooLarge { .. } => "too_large",
            Malformed(_) => "malformed",
            NotCanonical => "not_canonical",
            NotAnInteger => "not_an_integer",
            NullValue => "null_value",
            TooDeep => "too_deep",
            UnsupportedVersion(_) => "unsupported_version",
            UnknownKind(_) => "unknown_kind",
            BadKey { .. } => "bad_key",
            WeakKey { .. } => "weak_key",
            BadSignature => "bad_signature",
            OverLimit { .. } => "over_limit",
            InvalidText { .. } => "invalid_text",
            Duplicate => "duplicate",
            UnknownAuthority => "unknown_authority",
            WrongAuthor { .. } => "wrong_author",
            UnknownConsultation => "unknown_consultation",
            UnknownProposal => "unknown_proposal",
            UnknownTarget => "unknown_target",
            OutsideWindow { .. } => "outside_window",
            ClockSkew => "clock_skew",
            NotEligible => "not_eligible",
            RevokedKey => "revoked_key",
            ReplacedKey => "replaced_key",
            NotParticipating => "not_participating",
            InvalidChoice(_) => "invalid_choice",
            InvalidMethod(_) => "invalid_method",
            BadWindows => "bad_windows",
            BadParticipants => "bad_participants",
            AlreadyCredentialed => "already_credentialed",
            NotCredentialed => "not_credentialed",
            AlreadyRevoked => "already_revoked",
            NotModeratable => "not_moderatable",
            BadCost => "bad_cost",
            CheckpointMismatch => "checkpoint_mismatch",
            AlreadyClosed => "already_closed",
            NotClosed => "not_closed",
            ResultMismatch => "result_mismatch",
            BadAssistance => "bad_assistance",
            NotStaff => "not_staff",
            BadTombstone => "bad_tombstone",
            NotHidden => "not_hidden",
            Purged => "purged",
            BadPoint => "bad_point",
            BadScalar => "bad_scalar",
            BadEncryptionKey => "bad_encryption_key",
            BadTrustees => "bad_trustees",
            BadDeal => "bad_deal",
            AlreadyDealt => "already_dealt",
            BadComplaint => "bad_complaint",
            BadElectionKey => "bad_election_key",
            NoElectionKey => "no_election_key",
            BadLayout => "bad_layout",
            WrongLayout => "wrong_layout",
            SealedRequired => "sealed_required",
            NotSealed => "not_sealed",
            BadPok => "bad_pok",
            BadQuotas => "bad_quotas",
            QuotaReached { .. } => "quota_reached",
            AlreadyMixed => "already_mixed",
            BadShuffle => "bad_shuffle",
            MixIncomplete => "mix_incomplete",
            ChainTooShort => "chain_too_short",
            BadDecryptionShare => "bad_decryption_share",
            DecryptorNotMixer => "decryptor_not_mixer",
        }
    }

    /// Every code, for documentation and metrics (kept in the order of the enum).
    pub const ALL_CODES: &'static [&'static str] = &[
        "too_large",
        "malformed",
        "not_canonical",
        "not_an_integer",
        "null_value",
        "too_deep",
        "unsupported_version",
        "unknown_kind",
        "bad_key",
        "weak_key",
        "bad_signature",
        "over_limit",
        "invalid_text",
        "duplicate",
        "unknown_authority",
        "wrong_author",
        "unknown_consultation",
        "unknown_proposal",
        "unknown_target",
        "outside_window",
        "clock_skew",
        "not_eligible",
        "revoked_key",
        "replaced_key",
        "not_participating",
        "invalid_choice",
        "invalid_method",
        "bad_windows",
        "bad_participants",
        "already_credentialed",
        "not_credentialed",
        "already_revoked",
        "not_moderatable",
        "bad_cost",
        "checkpoint_mismatch",
        "already_closed",
        "not_closed",
        "result_mismatch",
        "bad_assistance",
        "not_staff",
        "bad_tombstone",
        "not_hidden",
        "purged",
        "bad_point",
        "bad_scalar",
        "bad_encryption_key",
        "bad_trustees",
        "bad_deal",
        "already_dealt",
        "bad_complaint",
        "bad_election_key",
        "no_election_key",
        "bad_layout",
        "wrong_layout",
        "sealed_required",
        "not_sealed",
        "bad_pok",
        "bad_quotas",
        "quota_reached",
        "already_mixed",
        "bad_shuffle",
        "mix_incomplete",
        "chain_too_short",
        "bad_decryption_share",
        "decryptor_not_mixer",
    ];
}
