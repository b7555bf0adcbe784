//! Every sled tree of the store, in one table, each named `key_value` with its key
//! layout, and the byte encodings of the keys and values they hold. Integers in keys are
//! big-endian so that scans run in order.
//!
//! Keys: `A` = authority key (32 bytes), `I` = index (u64 BE), `E` = event id (32),
//! `K` = resident key (32), `H` = hash (32).
//!
//! What is written to them, and when, is left to `indexes.rs` (a commit's writes), the
//! store's methods (`sled_storage.rs`, `office.rs`) and `view.rs` (reading them back).

use palabre_core::crypto::PublicKey;
use palabre_core::event::{Kind, ModerationAction, StaffRole};
use palabre_core::ids::{EventId, Hash};

use crate::{InvitationStatus, StoreError};

/// Declares the trees once: the struct holding them, how they are opened, the ones a
/// commit writes in one transaction (`all`, in the order of [`T`]'s indexes), and the
/// ones written on their own.
macro_rules! trees {
    (
        in_commits { $( $(#[doc = $cdoc:literal])* $cfield:ident: $cidx:ident, )* }
        on_their_own { $( $(#[doc = $adoc:literal])* $afield:ident = $aname:literal, )* }
    ) => {
        /// Every tree, in one place.
        #[derive(Debug, Clone)]
        pub(crate) struct Trees {
            $( $(#[doc = $cdoc])* pub(crate) $cfield: sled::Tree, )*
            $( $(#[doc = $adoc])* pub(crate) $afield: sled::Tree, )*
        }

        impl Trees {
            pub(crate) fn open(db: &sled::Db) -> Result<Trees, sled::Error> {
                Ok(Trees {
                    $( $cfield: db.open_tree(stringify!($cfield))?, )*
                    $( $afield: db.open_tree($aname)?, )*
                })
            }

            /// The trees commits write, in the order of [`T`]'s constants.
            pub(crate) fn all(&self) -> [sled::Tree; N_TREES] {
                [ $( self.$cfield.clone(), )* ]
            }
        }

        #[allow(clippy::upper_case_acronyms, non_camel_case_types)]
        #[repr(usize)]
        enum Position { $( $cidx, )* N }

        /// The number of trees commits write.
        pub(crate) const N_TREES: usize = Position::N as usize;

        /// Indexes into [`Trees::all`].
        pub(crate) struct T;
        impl T {
            $( pub(crate) const $cidx: usize = Position::$cidx as usize; )*
        }
    };
}

trees! {
    in_commits {
        /// A ‖ I → exact signed event bytes, or its tombstone.
        logidx_event: EVENT,
        /// A ‖ level (u8) ‖ I → perfect-subtree hash, levels ≥ [`STORED_LEVEL`].
        node_hash: NODE,
        /// A ‖ size (u64 BE) → signed tree head (JSON).
        logsize_head: HEAD,
        /// E → A ‖ I.
        eventid_position: POSITION,
        /// A → its trustee encryption key (32 bytes), or [] (its `authority` event is in
        /// its log).
        authority_declared: DECLARED,
        /// E → organiser A ‖ consultation body (JSON).
        consultationid_view: CONSULTATION,
        /// E → author K ‖ consultation E ‖ cost (0, or 1 ‖ u64 BE).
        proposalid_view: PROPOSAL,
        /// E → kind (u8) ‖ consultation E (proposals, arguments).
        eventid_target: TARGET,
        /// A ‖ K → voter's first key K ‖ status (u8).
        issuersubject_credential: CREDENTIAL,
        /// A ‖ E → size (u64 BE) ‖ root H.
        authorityconsultation_closing: CLOSING,
        /// E → the first result's id E.
        consultationid_result: RESULT,
        /// H → 0 unused, 1 used, 2 revoked.
        codehash_status: CODE,
        /// consultation E ‖ proposal or argument E → kind (u8).
        consultationmember_kind: MEMBER,
        /// E ‖ A → action (0 hide, 1 restore, 2 purge) ‖ moderation E.
        targetmoderator_action: MODERATION,
        /// A ‖ K → role (u8: index in `StaffRole::ALL`, or [`DISMISSED`]).
        authoritysubject_staff: STAFF,
        /// A ‖ I → [] for every `moderation` entry that acts for A.
        logidx_moderation: MODLOG,
        /// consultation E ‖ kind (u8) ‖ E → log A ‖ Y (an `election_key`) or columns
        /// (u64 BE, a `ballot_layout`): the secret-ballot events.
        consultationkind_secret: SECRET,
        /// A ‖ consultation E ‖ kind (u8) ‖ author K → count (u64 BE): the proposals and
        /// arguments each key wrote in each log, what a consultation's quotas count.
        logconsultationkindauthor_count: AUTHORED,
    }
    on_their_own {
        /// A ‖ size (u64 BE) ‖ witness A ‖ root H → cosignature (JSON).
        logsizewitness_cosignature = "logsizewitness_cosignature",
        /// A ‖ SHA-256 of the JSON → equivocation (JSON).
        authorityhash_evidence = "authorityhash_evidence",
        /// namespace ‖ 0 ‖ key → the town hall's opaque record (`office.rs`). Its name on
        /// disk, `office`, predates the `key_value` rule and stays, so that existing
        /// stores keep their records.
        nskey_record = "office",
    }
}

/// The lowest level of Merkle nodes written to `node_hash`. Below it, a node is
/// recomputed from the entries it covers (at most 16): storing every leaf hash and small
/// subtree would cost about 2 × 80 bytes per entry for what a few SHA-256 calls give back.
pub(crate) const STORED_LEVEL: u32 = 4;

/// A staff key whose appointment ended.
pub(crate) const DISMISSED: u8 = 0xff;

pub(crate) fn role_byte(role: StaffRole) -> u8 {
    StaffRole::ALL
        .iter()
        .position(|r| *r == role)
        .expect("every role is in ALL") as u8
}

pub(crate) const HIDE: u8 = 0;
pub(crate) const RESTORE: u8 = 1;
pub(crate) const PURGE: u8 = 2;

pub(crate) fn action_byte(action: ModerationAction) -> u8 {
    match action {
        ModerationAction::Hide => HIDE,
        ModerationAction::Restore => RESTORE,
        ModerationAction::Purge => PURGE,
    }
}

pub(crate) fn action_of(byte: u8) -> Option<ModerationAction> {
    match byte {
        HIDE => Some(ModerationAction::Hide),
        RESTORE => Some(ModerationAction::Restore),
        PURGE => Some(ModerationAction::Purge),
        _ => None,
    }
}

pub(crate) const ACTIVE: u8 = 0;
pub(crate) const REVOKED: u8 = 1;
pub(crate) const REPLACED: u8 = 2;

pub(crate) fn invitation_status(stored: &[u8]) -> InvitationStatus {
    match stored {
        [1] => InvitationStatus::Used,
        [2] => InvitationStatus::Revoked,
        _ => InvitationStatus::Unused,
    }
}

pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `logsizewitness_cosignature`'s key: authority, size (big-endian), witness, root.
pub(crate) fn cosignature_key(
    log: &PublicKey,
    size: u64,
    witness: &PublicKey,
    root: &Hash,
) -> Vec<u8> {
    cat(&[
        log.as_bytes(),
        &size.to_be_bytes(),
        witness.as_bytes(),
        root.as_bytes(),
    ])
}

pub(crate) fn log_key(log: &PublicKey, index: u64) -> Vec<u8> {
    cat(&[log.as_bytes(), &index.to_be_bytes()])
}

pub(crate) fn node_key(log: &PublicKey, level: u32, index: u64) -> Vec<u8> {
    cat(&[log.as_bytes(), &[level as u8], &index.to_be_bytes()])
}

pub(crate) fn kind_byte(kind: Kind) -> u8 {
    Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as u8
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

pub(crate) fn key32(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.get(..32)?.try_into().ok()
}

pub(crate) fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// The `proposalid_view` value: author ‖ consultation ‖ cost.
pub(crate) fn proposal_view(
    author: &PublicKey,
    consultation: &EventId,
    cost: Option<u64>,
) -> Vec<u8> {
    let cost = match cost {
        Some(c) => cat(&[&[1], &c.to_be_bytes()]),
        None => vec![0],
    };
    cat(&[author.as_bytes(), consultation.0.as_bytes(), &cost])
}

/// `logconsultationkindauthor_count`'s key.
pub(crate) fn authored_key(
    log: &PublicKey,
    consultation: &EventId,
    kind: Kind,
    author: &PublicKey,
) -> Vec<u8> {
    cat(&[
        log.as_bytes(),
        consultation.0.as_bytes(),
        &[kind_byte(kind)],
        author.as_bytes(),
    ])
}
