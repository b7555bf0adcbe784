//! What a sealed ballot's plaintexts are: the payload ↔ point codec and the canonical
//! payload of each group of a layout (SECRET-BALLOTS.md §4.1 and §4.5), and the sealing
//! of a list of plaintext points into ciphertexts with their proof of knowledge (§4.6).
//!
//! **Codec.** A payload of at most 30 bytes becomes the point whose RFC 9496 encoding is
//! `s = [2·ctr] ‖ payload (zero-padded to 30 bytes) ‖ [0]` for the *smallest* `ctr` in
//! 0..=127 at which `s` decodes. A decrypted point is a valid plaintext only if its
//! encoding has that shape and no smaller ctr decodes for the same payload, so a voter's
//! client has no free bits with which to mark a ballot. Failure to find a ctr has
//! probability about (3/4)^128.
//!
//! **Payloads.** Split mode (one column per group): `[value]` then zeros, with value 0/1
//! for support, 0 none / 1 yes / 2 no / 3 abstain for yes/no/abstain, and the grade
//! index (0 = not graded) for majority judgment. Row mode (approval, budget): a bitmap
//! over the columns, bit i = column i, least significant bit first, cut into 30-byte
//! elements. Anything else — a value out of range, a non-zero padding byte or bit, a
//! non-smallest ctr — is an invalid plaintext, counted in `n_invalid` after decryption.
//!
//! The layout event, ballot admission and counting are the callers'; this module only
//! knows bytes, points and the number of columns.
#![deny(missing_docs)]

use curve25519_dalek::ristretto::{CompressedRistretto, RistrettoPoint};
use curve25519_dalek::scalar::Scalar;

use crate::elgamal::Ciphertext;
use crate::group::{self, tags};
use crate::proofs::{BallotContext, BallotPok};

/// The most payload bytes one point carries.
pub const PAYLOAD_BYTES: usize = 30;
/// The largest counter tried by the codec.
pub const MAX_CTR: u8 = 127;
/// Columns of a row-mode bitmap per element (30 bytes × 8 bits).
pub const COLUMNS_PER_ELEMENT: usize = PAYLOAD_BYTES * 8;

/// Why a plaintext could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// More than 30 bytes of payload.
    #[error("a payload holds at most 30 bytes")]
    TooLong,
    /// No ctr in 0..=127 gives a point (probability about (3/4)^128).
    #[error("no counter encodes this payload")]
    NoEncoding,
    /// A value out of range for its group, or a selection outside the columns.
    #[error("the value is not a valid choice for this group")]
    OutOfRange,
}

impl CodecError {
    /// The stable code (the choice is refused before sealing: `invalid_choice`).
    pub fn code(&self) -> &'static str {
        "invalid_choice"
    }
}

fn candidate(payload: &[u8; PAYLOAD_BYTES], ctr: u8) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[0] = 2 * ctr;
    s[1..=PAYLOAD_BYTES].copy_from_slice(payload);
    s
}

/// A payload's point and the counter that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoded {
    /// The plaintext point.
    pub point: RistrettoPoint,
    /// The smallest counter at which the candidate encoding decodes.
    pub ctr: u8,
}

/// Encodes a payload of at most 30 bytes (zero-padded) as a point, smallest ctr first.
pub fn encode_payload(payload: &[u8]) -> Result<Encoded, CodecError> {
    if payload.len() > PAYLOAD_BYTES {
        return Err(CodecError::TooLong);
    }
    let mut padded = [0u8; PAYLOAD_BYTES];
    padded[..payload.len()].copy_from_slice(payload);
    (0..=MAX_CTR)
        .find_map(|ctr| {
            CompressedRistretto(candidate(&padded, ctr))
                .decompress()
                .map(|point| Encoded { point, ctr })
        })
        .ok_or(CodecError::NoEncoding)
}

/// The 30-byte payload of a decrypted point, or `None` if the point is not a valid
/// plaintext: its encoding does not end in a zero byte, or a smaller ctr also decodes.
pub fn decode_payload(point: &RistrettoPoint) -> Option<[u8; PAYLOAD_BYTES]> {
    let s = group::point_bytes(point);
    // A canonical encoding is non-negative, so s[0] is even and ctr = s[0] / 2 ≤ 127.
    if s[31] != 0 || !s[0].is_multiple_of(2) {
        return None;
    }
    let mut payload = [0u8; PAYLOAD_BYTES];
    payload.copy_from_slice(&s[1..=PAYLOAD_BYTES]);
    let ctr = s[0] / 2;
    let smaller_decodes = (0..ctr).any(|c| {
        CompressedRistretto(candidate(&payload, c))
            .decompress()
            .is_some()
    });
    (!smaller_decodes).then_some(payload)
}

/// The kind of a split-mode column, which fixes its valid values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// `support`: 0 (not supported) or 1 (supported).
    Support,
    /// `yes_no_abstain`: 0 none, 1 yes, 2 no, 3 abstain.
    YesNoAbstain,
    /// `majority_judgment`: a grade index below `n_grades`, 0 = not graded.
    MajorityJudgment {
        /// The number of grades of the method.
        n_grades: u8,
    },
}

impl ColumnKind {
    fn accepts(self, value: u8) -> bool {
        match self {
            ColumnKind::Support => value <= 1,
            ColumnKind::YesNoAbstain => value <= 3,
            ColumnKind::MajorityJudgment { n_grades } => value < n_grades,
        }
    }
}

/// The plaintext point of one split-mode column value.
pub fn encode_column(kind: ColumnKind, value: u8) -> Result<RistrettoPoint, CodecError> {
    if !kind.accepts(value) {
        return Err(CodecError::OutOfRange);
    }
    encode_payload(&[value]).map(|e| e.point)
}

/// The value of a decrypted split-mode column, or `None` if it is an invalid plaintext.
pub fn decode_column(kind: ColumnKind, point: &RistrettoPoint) -> Option<u8> {
    let payload = decode_payload(point)?;
    let value = payload[0];
    (payload[1..].iter().all(|b| *b == 0) && kind.accepts(value)).then_some(value)
}

/// The number of elements `w` of a row-mode ballot over `n_columns` columns:
/// `⌈n_columns / 240⌉`, and at least 1 (a layout without columns still seals one blank
/// element, so every ballot has a proof).
pub fn row_elements(n_columns: usize) -> usize {
    n_columns.div_ceil(COLUMNS_PER_ELEMENT).max(1)
}

/// The plaintext points of a row-mode ballot: `selected[i]` says whether column i is
/// chosen. `selected` has exactly one entry per column of the layout.
pub fn encode_row(selected: &[bool]) -> Result<Vec<RistrettoPoint>, CodecError> {
    let w = row_elements(selected.len());
    let mut bitmap = vec![0u8; w * PAYLOAD_BYTES];
    for (i, chosen) in selected.iter().enumerate() {
        if *chosen {
            bitmap[i / 8] |= 1 << (i % 8);
        }
    }
    bitmap
        .chunks(PAYLOAD_BYTES)
        .map(|chunk| encode_payload(chunk).map(|e| e.point))
        .collect()
}

/// The selection of a decrypted row-mode ballot over `n_columns` columns, or `None` if
/// an element is an invalid plaintext, the element count is wrong, or a bit beyond the
/// last column is set.
pub fn decode_row(n_columns: usize, points: &[RistrettoPoint]) -> Option<Vec<bool>> {
    if points.len() != row_elements(n_columns) {
        return None;
    }
    let mut bitmap = Vec::with_capacity(points.len() * PAYLOAD_BYTES);
    for point in points {
        bitmap.extend_from_slice(&decode_payload(point)?);
    }
    let bit = |i: usize| bitmap[i / 8] & (1 << (i % 8)) != 0;
    if (n_columns..bitmap.len() * 8).any(bit) {
        return None;
    }
    Some((0..n_columns).map(bit).collect())
}

/// A sealed list of plaintexts: the ciphertexts, their proof, and the randomness that a
/// Benaloh "check this encryption" reveals (and a cast ballot never does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealing {
    /// One ciphertext per plaintext point, in order.
    pub ciphertexts: Vec<Ciphertext>,
    /// The batched proof of knowledge bound to `ctx`.
    pub pok: BallotPok,
    /// `r_k = Hs(seed/encrypt, seed ‖ u64be(k))`.
    pub randomness: Vec<Scalar>,
}

/// Seals plaintext points under the election key `y`: element k (0-based, in group
/// order) is encrypted with `r_k = Hs(seed/encrypt, seed ‖ u64be(k))` and proven with
/// the nonce `Hs(seed/nonce, seed ‖ u64be(k))`. The browser follows the same rule, so a
/// test seed gives byte-identical ballots.
pub fn seal(
    y: &RistrettoPoint,
    ctx: &BallotContext,
    plaintexts: &[RistrettoPoint],
    seed: &[u8; 32],
) -> Sealing {
    let randomness: Vec<Scalar> = (0..plaintexts.len() as u64)
        .map(|k| group::seeded_scalar(tags::SEED_ENCRYPT, seed, k))
        .collect();
    let ciphertexts: Vec<Ciphertext> = plaintexts
        .iter()
        .zip(&randomness)
        .map(|(m, r)| Ciphertext::encrypt(y, m, r))
        .collect();
    let pok = BallotPok::prove(ctx, &ciphertexts, &randomness, seed);
    Sealing {
        ciphertexts,
        pok,
        randomness,
    }
}

/// Checks a Benaloh audit: the revealed randomness re-encrypts the claimed plaintexts to
/// exactly the shown ciphertexts.
pub fn check_encryption(
    y: &RistrettoPoint,
    ciphertexts: &[Ciphertext],
    plaintexts: &[RistrettoPoint],
    randomness: &[Scalar],
) -> bool {
    ciphertexts.len() == plaintexts.len()
        && ciphertexts.len() == randomness.len()
        && ciphertexts
            .iter()
            .zip(plaintexts)
            .zip(randomness)
            .all(|((ct, m), r)| Ciphertext::encrypt(y, m, r) == *ct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_payload_is_the_identity_and_the_codec_round_trips() {
        let e = encode_payload(&[]).expect("encodes");
        assert_eq!(e.ctr, 0);
        assert_eq!(e.point, RistrettoPoint::default());
        for value in 0..=3 {
            let p = encode_column(ColumnKind::YesNoAbstain, value).expect("encodes");
            assert_eq!(decode_column(ColumnKind::YesNoAbstain, &p), Some(value));
            assert_eq!(
                decode_column(ColumnKind::Support, &p),
                (value <= 1).then_some(value)
            );
        }
        assert_eq!(
            encode_column(ColumnKind::Support, 2),
            Err(CodecError::OutOfRange)
        );
        let selected: Vec<bool> = (0..300).map(|i| i % 7 == 0).collect();
        let points = encode_row(&selected).expect("encodes");
        assert_eq!(points.len(), 2);
        assert_eq!(decode_row(300, &points), Some(selected));
        assert_eq!(decode_row(294, &points), None);
    }
}
