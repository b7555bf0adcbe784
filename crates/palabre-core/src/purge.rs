//! Purged entries: what stays in a log when a town removes the text of a proposal or
//! argument it had hidden.
//!
//! A log never loses a position. The purged entry's place holds a *tombstone*: the
//! entry's leaf hash, so every head, inclusion and consistency proof stays valid, and the
//! facts later entries rely on (id, kind, author, time, consultation, the proposal an
//! argument answers, a proposal's cost), signed by the log's authority. The act itself is
//! public: a `moderation` event with action `purge` carries the same tombstone, and
//! whoever appends that event replaces their copy of the entry with it.
//!
//! This file holds what a log position is, [`Entry`] (an event or a purged one), and how
//! stored bytes are read back either way; the signed tombstone format itself
//! (`Tombstone`, `TombstoneBody`) is `event`'s, since a `moderation` event carries it.
//!
//! Wire shape (PROTOCOL.md, "Purged entries"): canonical JSON
//! `{"purged": {…}, "sig": "…"}`, the signature by the log's authority over
//! `"palabre/v1/purged\n"` followed by the canonical bytes of the `purged` object.

use crate::canonical;
use crate::crypto::PublicKey;
use crate::event::{Kind, SignedEvent, Tombstone, TombstoneBody, from_canonical};
use crate::ids::{EventId, Hash};
use crate::limits::MAX_EVENT_BYTES;
use crate::merkle;
use crate::rejection::Rejection;

/// Every stored or transferred tombstone starts with these bytes (canonical key order);
/// no event does (an event's first member is `author`).
const TOMBSTONE_PREFIX: &[u8] = b"{\"purged\":";

/// Whether stored or received bytes are a tombstone rather than an event: a
/// tombstone starts with `{"purged":`, an event never does.
pub fn is_tombstone(bytes: &[u8]) -> bool {
    bytes.starts_with(TOMBSTONE_PREFIX)
}

/// A purged entry as it sits in a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgedEntry {
    bytes: Vec<u8>,
    tombstone: Tombstone,
}

impl PurgedEntry {
    /// The log position a tombstone takes, holding its canonical bytes.
    pub fn new(tombstone: Tombstone) -> PurgedEntry {
        PurgedEntry {
            bytes: tombstone.to_bytes(),
            tombstone,
        }
    }

    /// The signed tombstone.
    pub fn tombstone(&self) -> &Tombstone {
        &self.tombstone
    }

    /// What the tombstone says of the purged entry.
    pub fn body(&self) -> &TombstoneBody {
        &self.tombstone.purged
    }

    /// The tombstone's canonical bytes: what is stored and served in the entry's place.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// One position of a log: an event, or what remains of a purged one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// An event, as signed and received.
    Event(SignedEvent),
    /// A purged event's tombstone.
    Purged(PurgedEntry),
}

impl Entry {
    /// Decodes and checks an entry of `log` received from elsewhere: an event with every
    /// stateless check, or a canonical tombstone signed by `log`'s authority.
    pub fn from_bytes(bytes: Vec<u8>, log: &PublicKey) -> Result<Entry, Rejection> {
        if !is_tombstone(&bytes) {
            return SignedEvent::from_bytes(bytes).map(Entry::Event);
        }
        let entry = decode_tombstone(bytes)?;
        entry.tombstone.verify(log)?;
        Ok(Entry::Purged(entry))
    }

    /// Reads back an entry this node stored after checking it: only decoding is repeated.
    pub fn stored(bytes: Vec<u8>) -> Result<Entry, Rejection> {
        if is_tombstone(&bytes) {
            decode_tombstone(bytes).map(Entry::Purged)
        } else {
            crate::event::decode(bytes).map(|u| Entry::Event(u.into_verified_unchecked()))
        }
    }

    /// The event's id, kept by its tombstone after a purge.
    pub fn id(&self) -> EventId {
        match self {
            Entry::Event(e) => e.id(),
            Entry::Purged(p) => p.body().id,
        }
    }

    /// The event's kind, kept by its tombstone after a purge.
    pub fn kind(&self) -> Kind {
        match self {
            Entry::Event(e) => e.kind(),
            Entry::Purged(p) => p.body().kind,
        }
    }

    /// The Merkle leaf hash of the position: the same before and after a purge.
    pub fn leaf(&self) -> Hash {
        match self {
            Entry::Event(e) => merkle::leaf_hash(e.bytes()),
            Entry::Purged(p) => p.body().leaf,
        }
    }

    /// The bytes stored and served at this position: the event's, or the tombstone's.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Entry::Event(e) => e.bytes(),
            Entry::Purged(p) => p.bytes(),
        }
    }

    /// The bytes stored and served at this position, taking ownership.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Entry::Event(e) => e.into_bytes(),
            Entry::Purged(p) => p.bytes,
        }
    }

    /// The event, unless it was purged.
    pub fn event(&self) -> Option<&SignedEvent> {
        match self {
            Entry::Event(e) => Some(e),
            Entry::Purged(_) => None,
        }
    }

    /// The tombstone, if the event was purged.
    pub fn purged(&self) -> Option<&PurgedEntry> {
        match self {
            Entry::Event(_) => None,
            Entry::Purged(p) => Some(p),
        }
    }
}

impl From<SignedEvent> for Entry {
    fn from(event: SignedEvent) -> Entry {
        Entry::Event(event)
    }
}

/// The leaf hash of an entry's stored bytes, without decoding an event.
pub fn stored_leaf(bytes: &[u8]) -> Hash {
    if is_tombstone(bytes) {
        match serde_json::from_slice::<Tombstone>(bytes) {
            Ok(t) => t.purged.leaf,
            // Not a tombstone this node could have stored: hash the bytes, so the
            // mismatch shows up as a wrong root rather than a silent success.
            Err(_) => merkle::leaf_hash(bytes),
        }
    } else {
        merkle::leaf_hash(bytes)
    }
}

fn decode_tombstone(bytes: Vec<u8>) -> Result<PurgedEntry, Rejection> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(Rejection::TooLarge {
            max_bytes: MAX_EVENT_BYTES,
        });
    }
    let json = canonical::parse_canonical(&bytes).map_err(from_canonical)?;
    // A member missing, extra or of the wrong type is `bad_tombstone`, as for a tombstone
    // carried by a purge (PROTOCOL.md, "Purged entries").
    let tombstone: Tombstone = serde_json::from_value(json).map_err(|_| Rejection::BadTombstone)?;
    tombstone.purged.check_shape()?;
    Ok(PurgedEntry { bytes, tombstone })
}
