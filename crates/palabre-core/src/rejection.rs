//! Why an event was refused: one value per reason, each with a stable machine code
//! (`code()`, used by the API, metrics and peers) and a plain-language message.
//!
//! Codes are part of the protocol: PROTOCOL.md lists them, and they never change meaning.

use crate::tally::ChoiceError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error("the event is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: usize },
    #[error("the event is not well-formed: {0}")]
    Malformed(String),
    #[error("the event is not in RFC 8785 canonical form")]
    NotCanonical,
    #[error("numbers in signed content must be integers of at most 2^53 − 1")]
    NotAnInteger,
    #[error("null is not allowed in signed content")]
    NullValue,
    #[error("the event is nested too deeply")]
    TooDeep,
    #[error("protocol version {0} is not supported (this node speaks version 1)")]
    UnsupportedVersion(u64),
    #[error("unknown event kind {0:?}")]
    UnknownKind(String),
    #[error("the key in `{field}` is not a canonical Ed25519 public key")]
    BadKey { field: &'static str },
    #[error("the key in `{field}` is a weak (small-order or mixed-order) key")]
    WeakKey { field: &'static str },
    #[error("the signature does not verify")]
    BadSignature,
    #[error("`{field}` is over its limit of {max}")]
    OverLimit { field: &'static str, max: usize },
    #[error("`{field}` is empty or contains control characters")]
    InvalidText { field: &'static str },
    #[error("this event is already recorded")]
    Duplicate,
    #[error("the authority of this log has not declared itself yet")]
    UnknownAuthority,
    #[error("this kind of event must be signed by {expected}")]
    WrongAuthor { expected: &'static str },
    #[error("unknown consultation")]
    UnknownConsultation,
    #[error("unknown proposal")]
    UnknownProposal,
    #[error("the event this refers to is unknown")]
    UnknownTarget,
    #[error(
        "outside the window: it opens at {opens_at_ms} and closes at {closes_at_ms} (ms since 1970)"
    )]
    OutsideWindow { opens_at_ms: u64, closes_at_ms: u64 },
    #[error("the event's time is more than 5 minutes away from the node's clock")]
    ClockSkew,
    #[error("the author holds no credential from this log's authority")]
    NotEligible,
    #[error("the author's credential has been revoked")]
    RevokedKey,
    #[error("the author's key has been replaced by a newer one")]
    ReplacedKey,
    #[error("this log's authority does not take part in the consultation")]
    NotParticipating,
    #[error("invalid choice: {0}")]
    InvalidChoice(ChoiceError),
    #[error("invalid method: {0}")]
    InvalidMethod(ChoiceError),
    #[error("the consultation's windows are not in order")]
    BadWindows,
    #[error("the consultation's list of authorities is invalid")]
    BadParticipants,
    #[error("this key already holds a credential from this authority")]
    AlreadyCredentialed,
    #[error("this key holds no credential from this authority")]
    NotCredentialed,
    #[error("this credential is already revoked or replaced")]
    AlreadyRevoked,
    #[error("only proposals and arguments can be moderated")]
    NotModeratable,
    #[error(
        "a proposal needs a cost for a budget consultation, and no cost otherwise; the cost must fit the budget"
    )]
    BadCost,
    #[error("the checkpoint does not match this log")]
    CheckpointMismatch,
    #[error("this consultation is already closed on this log")]
    AlreadyClosed,
    #[error("the consultation's vote has not closed yet")]
    NotClosed,
    #[error("the result does not match the consultation's method or its checkpoints")]
    ResultMismatch,
    #[error("the ballot's assistance is not a valid countersignature by another key")]
    BadAssistance,
    #[error("this key is not an active staff member of this authority allowed to do this")]
    NotStaff,
    #[error(
        "a purge needs a tombstone that describes its target exactly, signed by the log's authority"
    )]
    BadTombstone,
    #[error("only an entry of this log that this log's authority has hidden can be purged")]
    NotHidden,
    #[error("this item's text was purged: it stays hidden for good")]
    Purged,
    #[error("a point is not the canonical ristretto255 encoding")]
    BadPoint,
    #[error("a scalar is not 32 bytes little-endian below the group order")]
    BadScalar,
    #[error("the encryption key and its proof of knowledge are not both present and valid")]
    BadEncryptionKey,
    #[error(
        "the trustees must be 2 to 16 ascending authorities that declared an encryption key, with 2 ≤ threshold ≤ their number"
    )]
    BadTrustees,
    #[error("the deal is malformed, or its proof of knowledge does not verify")]
    BadDeal,
    #[error("this trustee has already dealt for this consultation")]
    AlreadyDealt,
    #[error("the complaint's proof does not verify, or it names no share to its author")]
    BadComplaint,
    #[error("the election key does not match the deals and complaints of the trustees' logs")]
    BadElectionKey,
    #[error("this consultation has no election key yet: no sealed ballot can be cast")]
    NoElectionKey,
    #[error("the layout is not the consultation's canonical layout")]
    BadLayout,
    #[error("the sealed ballot is not under the consultation's layout")]
    WrongLayout,
    #[error("this consultation's ballots are secret: the ballot must be sealed")]
    SealedRequired,
    #[error("this consultation's ballots are public: the ballot must not be sealed")]
    NotSealed,
    #[error("the sealed ballot's proof of knowledge does not verify")]
    BadPok,
    #[error("the consultation's quotas must each be 1 to 1,000")]
    BadQuotas,
    #[error("this author already wrote the {max} {kind}s the consultation allows each resident")]
    QuotaReached { kind: &'static str, max: u64 },
    #[error("this trustee has already mixed this group, or its mix is already in the chain")]
    AlreadyMixed,
    #[error("the shuffle proof does not hold for this mix's input and outputs")]
    BadShuffle,
    #[error("the mix's chunks are not all recorded in its log, contiguous from position 0")]
    MixIncomplete,
    #[error(
        "a chain must start at the initial list and hold mixes of at least t distinct trustees"
    )]
    ChainTooShort,
    #[error("a decryption share's proof does not verify against the trustee's verification key")]
    BadDecryptionShare,
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
