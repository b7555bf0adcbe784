//! Invitation codes and the proof that a resident holds the key they register.
//!
//! A municipality prints one code per resident. The node stores only a hash of each
//! code, bound to the authority's key so that the same code means nothing elsewhere.
//! To redeem a code, the resident's browser signs a statement naming the authority, the
//! code's hash and the fresh key: the code itself never goes into anything signed.
//! Code generation needs randomness, so it takes the random bytes from the caller.

use serde::Serialize;

use crate::canonical::to_canonical;
use crate::crypto::{Domain, KeyError, PublicKey, SecretKey, Signature};
use crate::ids::Hash;

/// Letters and digits that are hard to confuse when printed or read aloud: no 0, O, 1,
/// I or L, and of the look-alike pairs 2/Z, 5/S, 8/B, U/V only the digit is kept.
pub const CODE_ALPHABET: &[u8; 26] = b"ACDEFGHJKMNPQRTWXY23456789";
/// Characters in a code (grouped by four when printed): 12 × log2(26) ≈ 56 bits.
pub const CODE_CHARS: usize = 12;

/// Makes a printable code (`XXXX-XXXX-XXXX`) from caller-supplied random bytes.
pub fn code_from_random(random: &[u8; 16]) -> String {
    // 16 bytes → a u128 read in base 26: the bias of the 12 low digits is below 2^-70.
    let mut n = u128::from_le_bytes(*random);
    let mut out = String::with_capacity(CODE_CHARS + 2);
    for i in 0..CODE_CHARS {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(CODE_ALPHABET[(n % 26) as usize]));
        n /= 26;
    }
    out
}

/// The code as typed by a person, normalised: ASCII letters upper-cased, spaces and
/// dashes removed. Returns `None` if what remains is not a well-formed code.
pub fn normalize_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let well_formed = code.len() == CODE_CHARS && code.bytes().all(|b| CODE_ALPHABET.contains(&b));
    well_formed.then_some(code)
}

/// What the node stores: SHA-256("palabre/v1/invitation\n" ‖ authority key ‖ code).
pub fn code_hash(authority: &PublicKey, normalized_code: &str) -> Hash {
    let mut bytes = b"palabre/v1/invitation\n".to_vec();
    bytes.extend_from_slice(authority.as_bytes());
    bytes.extend_from_slice(normalized_code.as_bytes());
    Hash::of(&bytes)
}

/// The statement a resident signs to redeem an invitation with a fresh key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyPossession {
    /// The authority that issued the invitation.
    pub authority: PublicKey,
    /// The code's hash ([`code_hash`]), never the code itself.
    pub invitation: Hash,
    /// The fresh key the resident registers.
    pub subject: PublicKey,
}

impl KeyPossession {
    fn canonical(&self) -> Vec<u8> {
        to_canonical(self).expect("keys and hashes are valid canonical content")
    }

    /// The resident's signature of the statement with the fresh key
    /// (tag `palabre/v1/key-possession\n`).
    pub fn sign(&self, subject_key: &SecretKey) -> Signature {
        subject_key.sign(Domain::KeyPossession, &self.canonical())
    }

    /// Checks that `sig` was made by `subject` over this statement.
    pub fn verify(&self, sig: &Signature) -> Result<(), KeyError> {
        self.subject
            .verify(Domain::KeyPossession, &self.canonical(), sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_normalisation() {
        for seed in 0..50u8 {
            let code = code_from_random(&[seed.wrapping_mul(37); 16]);
            assert_eq!(code.len(), CODE_CHARS + 2);
            let typed = code.to_lowercase().replace('-', " ");
            assert_eq!(normalize_code(&typed), Some(code.replace('-', "")));
        }
        assert_eq!(normalize_code("ABCD"), None);
        assert_eq!(
            normalize_code("OOOO-OOOO-OOOO"),
            None,
            "O is not in the alphabet"
        );
    }

    #[test]
    fn possession_binds_authority_code_and_key() {
        let authority = SecretKey::from_seed(&[1; 32]).public_key();
        let resident = SecretKey::from_seed(&[2; 32]);
        let statement = KeyPossession {
            authority,
            invitation: code_hash(&authority, "ACDEFGHJKMNP"),
            subject: resident.public_key(),
        };
        let sig = statement.sign(&resident);
        assert!(statement.verify(&sig).is_ok());
        let other_code = KeyPossession {
            invitation: code_hash(&authority, "ACDEFGHJKMNQ"),
            ..statement
        };
        assert!(other_code.verify(&sig).is_err());
    }
}
