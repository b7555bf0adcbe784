//! What goes over the wire between nodes (as JSON, PROTOCOL.md "Replication between
//! nodes"), and what a peer may ask the node to read from its store. Types only: what
//! each message makes a node do is the state machine's (`sync`, `flood`, `gather`).

use palabre_core::crypto::PublicKey;
use palabre_core::head::{Cosignature, Equivocation, SignedTreeHead};
use palabre_core::ids::Hash;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)] // named by the documentation
use super::{MAX_PAGE_COSIGNATURES, MAX_PAGE_EVIDENCE, Output};

/// Where a page of cosignatures starts: after the cosignature with this key, in the order
/// of (size, witness, root) — witness and root compared as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosignatureKey {
    pub size: u64,
    pub witness: PublicKey,
    pub root: Hash,
}

impl CosignatureKey {
    pub fn of(c: &Cosignature) -> CosignatureKey {
        CosignatureKey {
            size: c.cosigned.head.size,
            witness: c.cosigned.witness,
            root: c.cosigned.head.root,
        }
    }

    /// The order pages follow (the store's key order).
    pub fn order(&self) -> (u64, [u8; 32], [u8; 32]) {
        (self.size, *self.witness.as_bytes(), self.root.0)
    }
}

/// What a peer asks the node to read from its store (see [`Output::Lookup`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// At most [`MAX_PAGE_COSIGNATURES`] cosignatures of `authority`'s heads after `after`.
    Cosignatures {
        authority: PublicKey,
        after: Option<CosignatureKey>,
    },
    /// At most [`MAX_PAGE_EVIDENCE`] proofs against `authority`, from the `skip`-th.
    Evidence { authority: PublicKey, skip: u64 },
}

/// What goes over the wire (as JSON, PROTOCOL.md "Replication between nodes").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Wire {
    /// The latest signed head the sender holds of a log.
    Head { head: SignedTreeHead },
    /// Entries `start..end` of `authority`'s log, please.
    GetEntries {
        authority: PublicKey,
        start: u64,
        end: u64,
    },
    /// Entries of `authority`'s log from `start`, exactly as stored.
    Entries {
        authority: PublicKey,
        start: u64,
        #[serde(with = "entries_as_text")]
        entries: Vec<Vec<u8>>,
    },
    /// A witness's cosignature of a head.
    Cosignature { cosignature: Cosignature },
    /// A proof that an authority signed two histories.
    Evidence { evidence: Equivocation },
    /// Please prove that `authority`'s log at size `from` is a prefix of it at `to`.
    GetConsistency {
        authority: PublicKey,
        from: u64,
        to: u64,
    },
    /// RFC 9162 consistency proof between sizes `from` and `to` of `authority`'s log.
    Consistency {
        authority: PublicKey,
        from: u64,
        to: u64,
        proof: Vec<Hash>,
    },
    /// Every cosignature you keep of `authority`'s heads after `after` (from the first
    /// when none), please: what a node that lost its store asks its neighbours.
    GetCosignatures {
        authority: PublicKey,
        after: Option<CosignatureKey>,
    },
    /// The next of them after `after`, in order, at most [`MAX_PAGE_COSIGNATURES`];
    /// `complete` when none follow.
    Cosignatures {
        authority: PublicKey,
        after: Option<CosignatureKey>,
        cosignatures: Vec<Cosignature>,
        complete: bool,
    },
    /// Every proof of equivocation you keep against `authority`, from the `skip`-th
    /// (counting from 0), please.
    GetEvidence { authority: PublicKey, skip: u64 },
    /// The next of them from the `skip`-th, at most [`MAX_PAGE_EVIDENCE`]; `complete`
    /// when none follow.
    EvidenceList {
        authority: PublicKey,
        skip: u64,
        evidence: Vec<Equivocation>,
        complete: bool,
    },
    /// The first message on a connection: the authority this node speaks for, signed
    /// over the sender's libp2p peer id (checked by the shell, which knows that id).
    Hello {
        authority: PublicKey,
        sig: palabre_core::crypto::Signature,
    },
}

/// The gossip topic of signed heads.
pub const TOPIC_HEADS: &str = "palabre/heads/1";
/// The gossip topic of witnesses' cosignatures.
pub const TOPIC_COSIGNATURES: &str = "palabre/cosignatures/1";
/// The gossip topic of proofs of equivocation.
pub const TOPIC_EVIDENCE: &str = "palabre/evidence/1";

impl Wire {
    /// Reads one message as received, on a request stream or on gossip: JSON of one of
    /// the message types, or nothing (the sender is penalised).
    pub fn decode(bytes: &[u8]) -> Option<Wire> {
        serde_json::from_slice(bytes).ok()
    }

    /// The gossip topic this message travels on, or `None` for the point-to-point ones
    /// (requests, answers, hellos), which are never gossiped: the one list of what is
    /// gossip, for the shell that publishes and [`super::Node::check`] that validates.
    pub fn topic(&self) -> Option<&'static str> {
        match self {
            Wire::Head { .. } => Some(TOPIC_HEADS),
            Wire::Cosignature { .. } => Some(TOPIC_COSIGNATURES),
            Wire::Evidence { .. } => Some(TOPIC_EVIDENCE),
            Wire::GetEntries { .. }
            | Wire::Entries { .. }
            | Wire::GetConsistency { .. }
            | Wire::Consistency { .. }
            | Wire::GetCosignatures { .. }
            | Wire::Cosignatures { .. }
            | Wire::GetEvidence { .. }
            | Wire::EvidenceList { .. }
            | Wire::Hello { .. } => None,
        }
    }
}

/// Entries travel as JSON strings: each is the exact text of a signed event. An entry
/// that is not UTF-8 (never an admitted one) cannot be written.
mod entries_as_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(entries: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let texts = entries
            .iter()
            .map(|e| std::str::from_utf8(e).map_err(serde::ser::Error::custom))
            .collect::<Result<Vec<&str>, _>>()?;
        texts.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Ok(Vec::<String>::deserialize(d)?
            .into_iter()
            .map(String::into_bytes)
            .collect())
    }
}
