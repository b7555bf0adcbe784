//! Fixed-size hashes and the identifiers built on them, with their one text encoding:
//! lowercase hexadecimal. Uppercase or wrong-length text is refused, so every value has
//! exactly one spelling in signed content.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A SHA-256 output.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Hash {
        Hash(Sha256::digest(bytes).into())
    }

    /// The 32 bytes of the hash.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash as 64 lowercase hex characters, its form in JSON.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Why a piece of text is not a valid lowercase-hex value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected_len} lowercase hexadecimal characters")]
pub struct HexError {
    /// How many hex characters were expected (twice the bytes).
    pub expected_len: usize,
}

/// Decodes exactly `N` bytes from lowercase hex, refusing any other spelling.
pub fn decode_hex<const N: usize>(text: &str) -> Result<[u8; N], HexError> {
    let err = HexError {
        expected_len: 2 * N,
    };
    if text.len() != 2 * N
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(err);
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|_| err)?;
    Ok(out)
}

impl FromStr for Hash {
    type Err = HexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode_hex::<32>(s).map(Hash)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The id of an event: SHA-256 of its exact signed bytes (see PROTOCOL.md, "Ids").
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub Hash);

impl EventId {
    /// The id of an event: SHA-256 of its exact signed bytes.
    pub fn of_signed_bytes(bytes: &[u8]) -> EventId {
        EventId(Hash::of(bytes))
    }
}

impl FromStr for EventId {
    type Err = HexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(EventId)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.0.to_hex())
    }
}
