//! The prime-order group of secret ballots: ristretto255 (RFC 9496) and its encodings,
//! hashing to scalars (`Hs`), independent generators (`Gen`) and the domain tags of every
//! proof (SECRET-BALLOTS.md §4.1; PROTOCOL.md, "Secret ballots: group, encodings and
//! proofs").
//!
//! Points travel in the canonical 32-byte RFC 9496 encoding and scalars as 32 bytes
//! little-endian below the group order ℓ, both as 64 lowercase hexadecimal characters.
//! Decoding refuses every other form with its own code and never "fixes up" an input.
//! The curve arithmetic itself is curve25519-dalek's; this module is only the glue the
//! design names. ElGamal, proofs, the DKG and the shuffle live in their own modules.
//! There is no randomness here: provers take 32-byte seeds and expand them with
//! [`seeded_scalar`].
#![deny(missing_docs)]

use curve25519_dalek::ristretto::CompressedRistretto;
/// The group element and scalar types, re-exported so that callers need not depend on
/// curve25519-dalek themselves.
pub use curve25519_dalek::ristretto::RistrettoPoint;
#[doc(no_inline)]
pub use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};

use crate::ids::decode_hex;

pub use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT as B;

/// The domain tags of the secret-ballot hashes. Each ends in `\n` and appears once in
/// PROTOCOL.md's tag table; no two hashes of the protocol share a tag.
pub mod tags {
    /// Prefix of `group::r#gen`: independent generators.
    pub const GENERATOR: &[u8] = b"palabre/v1/generator\n";
    /// Challenge of the batched proof of knowledge of a sealed ballot's randomness.
    pub const BALLOT_POK: &[u8] = b"palabre/v1/ballot-pok\n";
    /// Challenge of a Schnorr proof of knowledge of a discrete logarithm: a trustee's
    /// encryption key and a dealer's constant coefficient.
    pub const DKG_POK: &[u8] = b"palabre/v1/dkg-pok\n";
    /// Pad that hides a DKG share sent to one trustee.
    pub const DKG_SHARE: &[u8] = b"palabre/v1/dkg-share\n";
    /// Challenge of a Chaum–Pedersen proof of equal discrete logarithms.
    pub const DLEQ: &[u8] = b"palabre/v1/dleq\n";
    /// Seed and weights `u_i` of the shuffle proof.
    pub const SHUFFLE_U: &[u8] = b"palabre/v1/shuffle-u\n";
    /// Challenge of the shuffle proof.
    pub const SHUFFLE_C: &[u8] = b"palabre/v1/shuffle-c\n";
    /// Prover side only: ElGamal randomness `r` drawn from a seed.
    pub const SEED_ENCRYPT: &[u8] = b"palabre/v1/seed/encrypt\n";
    /// Prover side only: commitment nonces of Schnorr and DLEQ proofs drawn from a seed.
    pub const SEED_NONCE: &[u8] = b"palabre/v1/seed/nonce\n";
    /// Prover side only: a dealer's polynomial coefficients drawn from a seed.
    pub const SEED_POLY: &[u8] = b"palabre/v1/seed/poly\n";
    /// Prover side only: a dealer's per-recipient share-encryption randomness.
    pub const SEED_SHARE: &[u8] = b"palabre/v1/seed/share\n";
    /// Prover side only: a secret key drawn from a seed (a trustee's encryption key).
    pub const SEED_KEY: &[u8] = b"palabre/v1/seed/key\n";
}

/// Why a group element or scalar was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// Not 64 lowercase hex characters, or not the canonical RFC 9496 encoding of a point.
    #[error("a point is the canonical ristretto255 encoding, 64 lowercase hexadecimal characters")]
    BadPoint,
    /// Not 64 lowercase hex characters, or a little-endian integer not below ℓ.
    #[error(
        "a scalar is 32 bytes little-endian below the group order, 64 lowercase hexadecimal characters"
    )]
    BadScalar,
}

impl GroupError {
    /// The stable rejection code (PROTOCOL.md's table).
    pub fn code(&self) -> &'static str {
        match self {
            GroupError::BadPoint => "bad_point",
            GroupError::BadScalar => "bad_scalar",
        }
    }
}

/// Decodes a point from its canonical RFC 9496 encoding; any other 32 bytes are refused.
pub fn point_from_bytes(bytes: &[u8; 32]) -> Result<RistrettoPoint, GroupError> {
    // dalek's decompression implements RFC 9496 §4.3.1 "Decode" including the
    // canonicity and sign checks, so a `Some` is exactly an accepted encoding.
    CompressedRistretto(*bytes)
        .decompress()
        .ok_or(GroupError::BadPoint)
}

/// Decodes a scalar: 32 bytes little-endian that MUST be below ℓ (no reduction).
pub fn scalar_from_bytes(bytes: &[u8; 32]) -> Result<Scalar, GroupError> {
    Option::from(Scalar::from_canonical_bytes(*bytes)).ok_or(GroupError::BadScalar)
}

/// Decodes a point written as 64 lowercase hexadecimal characters.
pub fn point_from_hex(text: &str) -> Result<RistrettoPoint, GroupError> {
    let bytes = decode_hex::<32>(text).map_err(|_| GroupError::BadPoint)?;
    point_from_bytes(&bytes)
}

/// Decodes a scalar written as 64 lowercase hexadecimal characters.
pub fn scalar_from_hex(text: &str) -> Result<Scalar, GroupError> {
    let bytes = decode_hex::<32>(text).map_err(|_| GroupError::BadScalar)?;
    scalar_from_bytes(&bytes)
}

/// The canonical encoding of a point.
pub fn point_bytes(point: &RistrettoPoint) -> [u8; 32] {
    point.compress().to_bytes()
}

/// The canonical encoding of a point as 64 lowercase hexadecimal characters.
pub fn point_hex(point: &RistrettoPoint) -> String {
    hex::encode(point_bytes(point))
}

/// The canonical encoding of a scalar as 64 lowercase hexadecimal characters.
pub fn scalar_hex(scalar: &Scalar) -> String {
    hex::encode(scalar.to_bytes())
}

/// `u64be(i)`: the 8-byte big-endian integer used in hash inputs.
pub fn u64be(i: u64) -> [u8; 8] {
    i.to_be_bytes()
}

/// `Hs(tag, x₁ ‖ … ‖ x_k) = SHA-512(tag ‖ x₁ ‖ … ‖ x_k) mod ℓ` (wide reduction).
///
/// Callers pass only fixed-size parts (32-byte points, scalars, ids and keys, or
/// [`u64be`] integers), so the concatenation needs no framing.
pub fn hs(tag: &[u8], parts: &[&[u8]]) -> Scalar {
    let mut hasher = Sha512::new();
    hasher.update(tag);
    for part in parts {
        hasher.update(part);
    }
    let wide: [u8; 64] = hasher.finalize().into();
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// `Gen(label, i)`: the RFC 9496 one-way map of
/// `SHA-512("palabre/v1/generator\n" ‖ label ‖ u64be(i))`. Nobody knows the discrete
/// logarithm of one generator with respect to another or to `B`.
pub fn r#gen(label: &[u8], i: u64) -> RistrettoPoint {
    let mut hasher = Sha512::new();
    hasher.update(tags::GENERATOR);
    hasher.update(label);
    hasher.update(u64be(i));
    let wide: [u8; 64] = hasher.finalize().into();
    RistrettoPoint::from_uniform_bytes(&wide)
}

/// The i-th secret scalar a prover derives from its seed: `Hs(tag, seed ‖ u64be(i))`.
///
/// The node draws each seed fresh from the operating system and uses it for one proof
/// only; reusing a seed for two different statements under the same secret reveals it.
pub fn seeded_scalar(tag: &[u8], seed: &[u8; 32], i: u64) -> Scalar {
    hs(tag, &[seed, &u64be(i)])
}

/// `Σ aᵢ·Pᵢ` in variable time, for verifiers (public inputs only).
pub fn vartime_multiscalar_mul(scalars: &[Scalar], points: &[RistrettoPoint]) -> RistrettoPoint {
    use curve25519_dalek::traits::VartimeMultiscalarMul;
    RistrettoPoint::vartime_multiscalar_mul(scalars.iter(), points.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_point_round_trips_and_scalars_must_be_reduced() {
        let b = point_hex(&B);
        assert_eq!(
            b,
            "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76"
        );
        assert_eq!(point_from_hex(&b), Ok(B));
        // ℓ itself is not a canonical scalar; ℓ − 1 is.
        let ell = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";
        assert_eq!(scalar_from_hex(ell), Err(GroupError::BadScalar));
        let ell_minus_1 = "ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";
        assert_eq!(scalar_from_hex(ell_minus_1), Ok(-Scalar::ONE));
        assert_eq!(point_from_hex(&b.to_uppercase()), Err(GroupError::BadPoint));
        assert_eq!(GroupError::BadPoint.code(), "bad_point");
        assert_eq!(GroupError::BadScalar.code(), "bad_scalar");
    }
}
