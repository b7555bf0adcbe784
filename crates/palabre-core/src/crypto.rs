//! Ed25519 keys and signatures, and the domain-separation tags of everything signed.
//!
//! A public key is accepted only in its canonical encoding and only when it is not of
//! small order (a "weak" key): the first time any key is seen it goes through
//! [`PublicKey::from_bytes`]. Signatures are checked with `verify_strict` only; batch
//! verification is offered as an accelerator whose failure always falls back to strict
//! checks one by one. Key generation takes its 32 random bytes from the caller.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::decode_hex;

/// What is being signed. Each kind has its own prefix so that a signature over one kind
/// of thing can never be replayed as another (PROTOCOL.md, "Domain tags").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// An event's unsigned bytes (`palabre/v1/event\n`).
    Event,
    /// A log's signed tree head (`palabre/v1/tree-head\n`).
    TreeHead,
    /// A witness's cosignature of another log's head (`palabre/v1/cosignature\n`).
    Cosignature,
    /// A receipt given for a submitted event (`palabre/v1/receipt\n`).
    Receipt,
    /// Proof that a resident holds the private key they ask a credential for.
    KeyPossession,
    /// A node's libp2p peer id, signed by the authority it speaks for.
    Peer,
    /// A desk agent's countersignature of a ballot cast with their help.
    Assistance,
    /// A tombstone: an authority's statement of what a purged entry of its log was.
    Purged,
}

impl Domain {
    /// The domain's prefix, ending in `\n`, as listed in PROTOCOL.md's tag table.
    pub const fn tag(self) -> &'static [u8] {
        match self {
            Domain::Event => b"palabre/v1/event\n",
            Domain::TreeHead => b"palabre/v1/tree-head\n",
            Domain::Cosignature => b"palabre/v1/cosignature\n",
            Domain::Receipt => b"palabre/v1/receipt\n",
            Domain::KeyPossession => b"palabre/v1/key-possession\n",
            Domain::Peer => b"palabre/v1/peer\n",
            Domain::Assistance => b"palabre/v1/assistance\n",
            Domain::Purged => b"palabre/v1/purged\n",
        }
    }

    /// The exact bytes a signature covers: the tag followed by the canonical bytes.
    pub fn message(self, canonical: &[u8]) -> Vec<u8> {
        let tag = self.tag();
        let mut out = Vec::with_capacity(tag.len() + canonical.len());
        out.extend_from_slice(tag);
        out.extend_from_slice(canonical);
        out
    }
}

/// Why a key or signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// `bad_key`: not 64 lowercase hex characters.
    #[error("a public key is 64 lowercase hexadecimal characters")]
    BadEncoding,
    /// `bad_key`: 32 bytes that are not a canonical curve point.
    #[error("the public key is not a canonically encoded curve point")]
    NotCanonical,
    /// `weak_key`: a point of small or mixed order.
    #[error("the public key has small order (a weak key)")]
    Weak,
    /// `malformed`: a signature that is not 128 lowercase hex characters.
    #[error("a signature is 128 lowercase hexadecimal characters")]
    BadSignatureEncoding,
    /// `bad_signature`: strict Ed25519 verification fails.
    #[error("the signature does not verify under strict Ed25519 rules")]
    BadSignature,
}

/// An Ed25519 public key that is canonically encoded and not of small order.
///
/// Only the 32 bytes are kept (records hold millions of keys); the curve point is
/// decoded again when a signature is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    bytes: [u8; 32],
}

/// Keys that passed every check of [`PublicKey::from_bytes`] lately.
///
/// The torsion check is a full scalar multiplication, as dear as verifying a signature,
/// and the same key comes back again and again: the author of an event, then the
/// credential and the consultation it names, read back from the store. Direct-mapped and
/// fixed in size (`SHARDS × SLOTS × 32` bytes, 256 KiB); a slot only ever holds bytes
/// that were checked in full, so a hit is as good as the check, and a colliding key
/// merely evicts another.
mod checked {
    use std::sync::Mutex;

    const SHARDS: usize = 16;
    const SLOTS: usize = 512;

    type Shard = Mutex<Vec<Option<[u8; 32]>>>;

    static CACHE: [Shard; SHARDS] = [const { Mutex::new(Vec::new()) }; SHARDS];

    fn place(bytes: &[u8; 32]) -> (usize, usize) {
        // Keys are points chosen by their holders: any two bytes spread them well, and
        // an adversary who crowds one slot only slows themselves down.
        let shard = bytes[0] as usize % SHARDS;
        let slot = u16::from_le_bytes([bytes[1], bytes[2]]) as usize % SLOTS;
        (shard, slot)
    }

    pub fn contains(bytes: &[u8; 32]) -> bool {
        let (shard, slot) = place(bytes);
        let guard = CACHE[shard].lock().unwrap_or_else(|e| e.into_inner());
        guard.get(slot).is_some_and(|s| s.as_ref() == Some(bytes))
    }

    pub fn insert(bytes: &[u8; 32]) {
        let (shard, slot) = place(bytes);
        let mut guard = CACHE[shard].lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_empty() {
            guard.resize(SLOTS, None);
        }
        guard[slot] = Some(*bytes);
    }
}

impl PublicKey {
    /// Parses a key, refusing non-canonical encodings and small-order points.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, KeyError> {
        if checked::contains(bytes) {
            return Ok(PublicKey { bytes: *bytes });
        }
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotCanonical)?;
        // curve25519-dalek reduces a y coordinate ≥ p silently and accepts the "negative
        // zero" x sign; re-encoding the point tells whether the bytes were canonical.
        if key.to_edwards().compress().to_bytes() != *bytes {
            return Err(KeyError::NotCanonical);
        }
        if key.is_weak() {
            return Err(KeyError::Weak);
        }
        // Honest keys are multiples of the base point. Refusing keys with a torsion
        // component keeps batch and strict verification in agreement (see `verify_many`).
        if !key.to_edwards().is_torsion_free() {
            return Err(KeyError::Weak);
        }
        checked::insert(bytes);
        Ok(PublicKey { bytes: *bytes })
    }

    fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::from_bytes(&self.bytes)
            .expect("the bytes were checked when the key was parsed")
    }

    /// The key's 32-byte encoding.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The key as 64 lowercase hex characters, its form everywhere in JSON.
    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }

    /// Strict verification of `sig` over `domain`'s tag followed by `canonical`.
    pub fn verify(
        &self,
        domain: Domain,
        canonical: &[u8],
        sig: &Signature,
    ) -> Result<(), KeyError> {
        self.verify_message(&domain.message(canonical), sig)
    }

    /// Strict verification over a message that already carries its domain tag.
    pub fn verify_message(&self, message: &[u8], sig: &Signature) -> Result<(), KeyError> {
        let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
        self.verifying_key()
            .verify_strict(message, &sig)
            .map_err(|_| KeyError::BadSignature)
    }
}

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bytes.cmp(&other.bytes)
    }
}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = decode_hex::<32>(s).map_err(|_| KeyError::BadEncoding)?;
        PublicKey::from_bytes(&bytes)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 signature (R ‖ S, 64 bytes), written as 128 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl FromStr for Signature {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode_hex::<64>(s)
            .map(Signature)
            .map_err(|_| KeyError::BadSignatureEncoding)
    }
}

impl Signature {
    /// The signature as 128 lowercase hex characters, its form in JSON.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A private signing key. Its 32 seed bytes come from the caller (the core has no RNG).
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// The key whose RFC 8032 seed is these 32 bytes (drawn by the caller).
    pub fn from_seed(seed: &[u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from_bytes(seed))
    }

    /// The 32 seed bytes, to store the key.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_bytes(self.0.verifying_key().as_bytes())
            .expect("the public key of a secret key is canonical and of large order")
    }

    /// Signs `domain`'s tag followed by `canonical` (deterministic RFC 8032 signing).
    pub fn sign(&self, domain: Domain, canonical: &[u8]) -> Signature {
        Signature(self.0.sign(&domain.message(canonical)).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public_key())
    }
}

/// One item of a batch to verify: the full message (tag included), key and signature.
#[derive(Debug, Clone, Copy)]
pub struct SignedMessage<'a> {
    /// The full signed message, domain tag included.
    pub message: &'a [u8],
    /// The key that must have signed it.
    pub key: &'a PublicKey,
    /// The signature to check.
    pub sig: &'a Signature,
}

/// Verifies many signatures, returning for each whether it holds under strict rules.
///
/// Batch verification runs first as an accelerator. On its own it is weaker than
/// `verify_strict`: it accepts non-canonical or small-order R, and with probability about
/// 1/8 a signature whose R carries a torsion component. So its "yes" is trusted only when
/// every S is canonical and every R is canonically encoded and torsion-free (keys were
/// already vetted by [`PublicKey::from_bytes`]): then the batch equation holds exactly when
/// each strict equation does. Any "no" falls back to `verify_strict` one by one.
pub fn verify_many(items: &[SignedMessage<'_>]) -> Vec<bool> {
    if items.is_empty() {
        return Vec::new();
    }
    let all_prechecked = items
        .iter()
        .all(|i| s_is_canonical(&i.sig.0) && r_is_torsion_free(&i.sig.0));
    if all_prechecked && batch_holds(items) {
        return vec![true; items.len()];
    }
    items
        .iter()
        .map(|i| i.key.verify_message(i.message, i.sig).is_ok())
        .collect()
}

fn batch_holds(items: &[SignedMessage<'_>]) -> bool {
    let messages: Vec<&[u8]> = items.iter().map(|i| i.message).collect();
    let sigs: Vec<ed25519_dalek::Signature> = items
        .iter()
        .map(|i| ed25519_dalek::Signature::from_bytes(&i.sig.0))
        .collect();
    let keys: Vec<VerifyingKey> = items.iter().map(|i| i.key.verifying_key()).collect();
    ed25519_dalek::verify_batch(&messages, &sigs, &keys).is_ok()
}

/// Whether the R half of a signature is a canonically encoded point of the prime-order
/// subgroup (this excludes small-order R, which `verify_strict` refuses).
fn r_is_torsion_free(sig: &[u8; 64]) -> bool {
    let mut r = [0u8; 32];
    r.copy_from_slice(&sig[..32]);
    let compressed = curve25519_dalek::edwards::CompressedEdwardsY(r);
    match compressed.decompress() {
        Some(point) => {
            point.compress().to_bytes() == r && !point.is_small_order() && point.is_torsion_free()
        }
        None => false,
    }
}

/// Whether the S half of a signature is below the group order ℓ (RFC 8032 §5.1.7).
fn s_is_canonical(sig: &[u8; 64]) -> bool {
    // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x10,
    ];
    for i in (0..32).rev() {
        let s = sig[32 + i];
        if s != L[i] {
            return s < L[i];
        }
    }
    false
}
