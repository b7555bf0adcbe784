//! ElGamal encryption on ristretto255 (SECRET-BALLOTS.md §4.1): a ciphertext of a point
//! `M` under the election key `Y` with randomness `r` is `(α, β) = (r·B, M + r·Y)`.
//!
//! This module only encrypts, re-randomises and decrypts group elements. How a ballot's
//! choice becomes a point is `sealed.rs`'s codec; proofs about ciphertexts are in
//! `proofs.rs`; threshold decryption (shares and recombination) in `dkg.rs`. The
//! randomness `r` comes from the caller, which derives it from a seed.
#![deny(missing_docs)]

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;

use crate::group::{self, B, GroupError};

/// An ElGamal ciphertext `α ‖ β`: 64 bytes, 128 lowercase hexadecimal characters on the
/// wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ciphertext {
    /// `α = r·B`.
    pub alpha: RistrettoPoint,
    /// `β = M + r·Y`.
    pub beta: RistrettoPoint,
}

impl Ciphertext {
    /// Encrypts `m` under the key `y` with randomness `r`.
    pub fn encrypt(y: &RistrettoPoint, m: &RistrettoPoint, r: &Scalar) -> Ciphertext {
        Ciphertext {
            alpha: RistrettoPoint::mul_base(r),
            beta: m + r * y,
        }
    }

    /// The same plaintext under fresh randomness: `(α + r·B, β + r·Y)`.
    pub fn rerandomize(&self, y: &RistrettoPoint, r: &Scalar) -> Ciphertext {
        Ciphertext {
            alpha: self.alpha + RistrettoPoint::mul_base(r),
            beta: self.beta + r * y,
        }
    }

    /// Decrypts with the whole secret key `x` (where `Y = x·B`): `M = β − x·α`.
    /// Threshold decryption recombines shares instead (`dkg::recombine`).
    pub fn decrypt(&self, x: &Scalar) -> RistrettoPoint {
        self.beta - x * self.alpha
    }

    /// `α ‖ β` in canonical encodings.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&group::point_bytes(&self.alpha));
        out[32..].copy_from_slice(&group::point_bytes(&self.beta));
        out
    }

    /// Decodes `α ‖ β`, refusing any non-canonical point (`bad_point`).
    pub fn from_bytes(bytes: &[u8; 64]) -> Result<Ciphertext, GroupError> {
        let mut alpha = [0u8; 32];
        let mut beta = [0u8; 32];
        alpha.copy_from_slice(&bytes[..32]);
        beta.copy_from_slice(&bytes[32..]);
        Ok(Ciphertext {
            alpha: group::point_from_bytes(&alpha)?,
            beta: group::point_from_bytes(&beta)?,
        })
    }

    /// 128 lowercase hexadecimal characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// Decodes 128 lowercase hexadecimal characters (`bad_point` otherwise).
    pub fn from_hex(text: &str) -> Result<Ciphertext, GroupError> {
        let bytes = crate::ids::decode_hex::<64>(text).map_err(|_| GroupError::BadPoint)?;
        Ciphertext::from_bytes(&bytes)
    }

    /// The trivial encryption of `m` (r = 0), used for a missing column (§4.8).
    pub fn trivial(m: &RistrettoPoint) -> Ciphertext {
        Ciphertext {
            alpha: RistrettoPoint::default(),
            beta: *m,
        }
    }
}

/// `B`, re-exported for callers that build keys: `Y = x·B`.
pub const BASEPOINT: RistrettoPoint = B;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::{r#gen, tags};

    #[test]
    fn decrypt_inverts_encrypt_and_rerandomize() {
        let x = group::seeded_scalar(tags::SEED_KEY, &[7; 32], 0);
        let y = RistrettoPoint::mul_base(&x);
        let m = r#gen(b"test", 1);
        let r = group::seeded_scalar(tags::SEED_ENCRYPT, &[7; 32], 1);
        let ct = Ciphertext::encrypt(&y, &m, &r);
        assert_eq!(ct.decrypt(&x), m);
        let again = ct.rerandomize(&y, &r);
        assert_ne!(again, ct);
        assert_eq!(again.decrypt(&x), m);
        assert_eq!(Ciphertext::from_hex(&ct.to_hex()), Ok(ct));
    }
}
