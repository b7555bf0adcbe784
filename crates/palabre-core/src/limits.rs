//! Every bound of the signed formats in one place (PROTOCOL.md, "Limits", repeats them).
//!
//! An event over a limit is refused with `over_limit` and the name of the field; it is
//! never truncated. Lengths of text are counted in Unicode scalar values (what people call
//! characters), not bytes, except `MAX_EVENT_BYTES`, which bounds the whole signed JSON.

/// The largest signed event accepted, in bytes of canonical JSON.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// Deepest JSON nesting accepted in an event (objects and arrays).
pub const MAX_JSON_DEPTH: usize = 8;
/// Largest integer allowed anywhere in signed content: 2^53 − 1, the largest integer an
/// IEEE-754 double (and so RFC 8785) represents exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// How far an event's claimed `created_at_ms` may be from the admitting node's clock.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;

/// The step to which a node rounds down the `created_at_ms` of the credentials it issues
/// (a redeemed letter, a desk card), so that a credential's time does not single out the
/// moment a resident registered. Well within `MAX_CLOCK_SKEW_MS`.
pub const CREDENTIAL_TIME_STEP_MS: u64 = 60 * 1000;

/// `now_ms` rounded down to `CREDENTIAL_TIME_STEP_MS`: the time a node signs on a
/// credential it issues now.
pub const fn credential_time(now_ms: u64) -> u64 {
    now_ms - now_ms % CREDENTIAL_TIME_STEP_MS
}

/// An authority's `name`, one line.
pub const MAX_AUTHORITY_NAME_CHARS: usize = 120;
/// An authority's official `code` (the INSEE code in France), which may be empty.
pub const MAX_AUTHORITY_CODE_CHARS: usize = 16;
/// Addresses (URLs, multiaddrs) an `authority` event may list.
pub const MAX_AUTHORITY_ADDRESSES: usize = 8;
/// One of those addresses.
pub const MAX_ADDRESS_CHARS: usize = 256;

/// A consultation's or a proposal's `title`, one line.
pub const MAX_TITLE_CHARS: usize = 200;
/// A consultation's `description`, multi-line.
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
/// A proposal's `body`, multi-line.
pub const MAX_PROPOSAL_BODY_CHARS: usize = 10_000;
/// An argument's `body`, multi-line.
pub const MAX_ARGUMENT_BODY_CHARS: usize = 2_000;
/// A revocation's or a moderation's public `reason`, multi-line.
pub const MAX_REASON_CHARS: usize = 1_000;
/// A staff member's displayed name.
pub const MAX_STAFF_NAME_CHARS: usize = 80;

/// Participating authorities of one consultation.
pub const MAX_PARTICIPANTS: usize = 64;
/// Proposals a ballot may name (approve list, answers, grades).
pub const MAX_BALLOT_ENTRIES: usize = 500;
/// Trustees of a secret consultation, and so commitments, shares and QUAL members.
pub const MAX_TRUSTEES: usize = 16;
/// Proposals and checkpoints a `result` may carry.
pub const MAX_RESULT_ROWS: usize = 2_000;

/// Proposals one resident key may write in one consultation when its `quotas` are absent.
pub const DEFAULT_MAX_PROPOSALS_PER_AUTHOR: u64 = 10;
/// Arguments one resident key may write in one consultation when its `quotas` are absent.
pub const DEFAULT_MAX_ARGUMENTS_PER_AUTHOR: u64 = 100;
/// The largest quota a consultation may set (each quota is 1 to this, `bad_quotas`).
pub const MAX_QUOTA: u64 = 1_000;

/// Leaves a single entries page, proof or batch of the HTTP API may carry, and the page
/// in which the store streams a count (federation sync pages have their own bound,
/// `palabre_net::proto::MAX_SYNC_PAGE_ENTRIES`).
pub const MAX_PAGE_ENTRIES: u64 = 1_000;
