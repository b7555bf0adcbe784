//! Signed tree heads, witness cosignatures, receipts and the closing quorum rule.
//!
//! A tree head says "the log of `authority` held `size` entries with Merkle root `root` at
//! `timestamp_ms`", signed by that authority. Another authority (a witness) cosigns a head
//! once it has checked it is consistent with every earlier head it saw. A receipt is the
//! authority's signed promise that an event sits at an index under a signed head. Each is
//! signed over its domain tag followed by the RFC 8785 bytes of its unsigned object; these
//! objects have fixed schemas, so their canonical bytes are unique. Their fields are
//! declared in RFC 8785 member order, so that serializing one (the API, sync, bundles)
//! gives its canonical bytes: what is served is byte for byte what is signed.

use serde::{Deserialize, Serialize};

use crate::canonical::to_canonical;
use crate::crypto::{Domain, KeyError, PublicKey, SecretKey, Signature};
use crate::ids::{EventId, Hash};

/// How long after a vote closes the witnesses have to cosign a closing head.
pub const CLOSE_GRACE_MS: u64 = 24 * 60 * 60 * 1000;

/// What a tree head states: the log of `authority` held `size` entries with Merkle
/// root `root` at `timestamp_ms`. Fields in RFC 8785 member order, so serializing gives the
/// signed bytes (PROTOCOL.md, "Tree heads, cosignatures, receipts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeHead {
    /// The authority whose log it is, and who signs the head.
    pub authority: PublicKey,
    /// The Merkle root of the log's first `size` entries.
    pub root: Hash,
    /// How many entries the log held.
    pub size: u64,
    /// When the authority signed it, ms since 1970 (its own clock).
    pub timestamp_ms: u64,
}

impl TreeHead {
    /// The signed bytes; none when a size or time is beyond 2^53 − 1, which signed
    /// content cannot hold (a received head can claim one).
    fn canonical(&self) -> Option<Vec<u8>> {
        to_canonical(self).ok()
    }

    /// Signs the head with the authority's key (tag `palabre/v1/tree-head\n`). The
    /// node signs only its own log's size and clock, both far below 2^53.
    pub fn sign(self, key: &SecretKey) -> SignedTreeHead {
        let bytes = self
            .canonical()
            .expect("a tree head holds only keys, hashes and safe integers");
        SignedTreeHead {
            sig: key.sign(Domain::TreeHead, &bytes),
            head: self,
        }
    }
}

/// A tree head with its authority's signature, as served and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTreeHead {
    /// What is signed.
    pub head: TreeHead,
    /// The authority's signature over the canonical bytes of `head`.
    pub sig: Signature,
}

impl SignedTreeHead {
    /// Checks the authority's signature. A head with an integer beyond 2^53 − 1 has no
    /// signed bytes, so no signature holds for it.
    pub fn verify(&self) -> Result<(), KeyError> {
        let bytes = self.head.canonical().ok_or(KeyError::BadSignature)?;
        self.head
            .authority
            .verify(Domain::TreeHead, &bytes, &self.sig)
    }
}

/// The part of a cosignature that is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosignedHead {
    /// The authority's head that the witness checked (consistent with every earlier head
    /// it saw of that log).
    pub head: TreeHead,
    /// When the witness cosigned (its own clock).
    pub timestamp_ms: u64,
    /// The cosigning authority's key.
    pub witness: PublicKey,
}

/// A witness's cosignature of another authority's tree head: what counts toward
/// a closing quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cosignature {
    /// What the witness signs.
    pub cosigned: CosignedHead,
    /// The witness's signature over the canonical bytes of `cosigned`.
    pub sig: Signature,
}

impl CosignedHead {
    /// Signs with the witness's key (tag `palabre/v1/cosignature\n`).
    pub fn sign(self, witness_key: &SecretKey) -> Cosignature {
        let bytes =
            to_canonical(&self).expect("a cosigned head holds only keys, hashes and integers");
        Cosignature {
            sig: witness_key.sign(Domain::Cosignature, &bytes),
            cosigned: self,
        }
    }
}

impl Cosignature {
    /// Checks the witness's signature (not the inner head's). Integers beyond 2^53 − 1
    /// have no signed bytes: no signature holds.
    pub fn verify(&self) -> Result<(), KeyError> {
        let bytes = to_canonical(&self.cosigned).map_err(|_| KeyError::BadSignature)?;
        self.cosigned
            .witness
            .verify(Domain::Cosignature, &bytes, &self.sig)
    }
}

/// Two heads signed by one authority that no history can both extend: proof that the
/// authority showed different logs to different people (PROTOCOL.md, "Evidence").
///
/// Same size: the roots differ. Different sizes: `prefix` gives the root the larger
/// head's log had at the smaller size, with a consistency proof from it to the larger
/// head; that root differs from the smaller head's. Anyone can check it alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Equivocation {
    /// One of the two heads.
    pub first: SignedTreeHead,
    /// Needed when the sizes differ: the larger log's root at the smaller size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<PrefixProof>,
    /// The other head, by the same authority.
    pub second: SignedTreeHead,
}

/// The root of the larger head's log at the smaller head's size, and the consistency
/// proof from that prefix to the larger head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixProof {
    /// The consistency proof from the prefix root to the larger head's root.
    pub proof: Vec<Hash>,
    /// The larger head's log root at the smaller head's size.
    pub root: Hash,
}

/// Why a claimed equivocation proves nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// One of the heads is not really signed by its authority.
    #[error("a head's signature does not verify")]
    BadHeadSignature,
    /// The heads are not of one authority, so nothing contradicts.
    #[error("the heads are of two different authorities")]
    DifferentAuthorities,
    /// Both heads fit one history: no equivocation.
    #[error("the heads are consistent with one history")]
    Consistent,
    /// Sizes differ and the prefix proof is missing or does not verify.
    #[error("heads of different sizes need a valid prefix proof")]
    BadPrefixProof,
}

impl Equivocation {
    /// The authority caught.
    pub fn authority(&self) -> PublicKey {
        self.first.head.authority
    }

    /// Checks that the two heads really contradict each other.
    pub fn check(&self) -> Result<(), EvidenceError> {
        let (a, b) = (&self.first.head, &self.second.head);
        if a.authority != b.authority {
            return Err(EvidenceError::DifferentAuthorities);
        }
        if self.first.verify().is_err() || self.second.verify().is_err() {
            return Err(EvidenceError::BadHeadSignature);
        }
        if a.size == b.size {
            return if a.root != b.root {
                Ok(())
            } else {
                Err(EvidenceError::Consistent)
            };
        }
        let (small, big) = if a.size < b.size { (a, b) } else { (b, a) };
        let prefix = self.prefix.as_ref().ok_or(EvidenceError::BadPrefixProof)?;
        if small.size == 0 {
            return Err(EvidenceError::Consistent);
        }
        crate::merkle::verify_consistency(
            small.size,
            big.size,
            &prefix.root,
            &big.root,
            &prefix.proof,
        )
        .map_err(|_| EvidenceError::BadPrefixProof)?;
        if prefix.root == small.root {
            return Err(EvidenceError::Consistent);
        }
        Ok(())
    }
}

/// The signed part of a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    /// The id of the event received.
    pub event_id: EventId,
    /// Its 0-based position in the authority's log.
    pub index: u64,
    /// A signed head of that log whose size covers `index`.
    pub tree_head: SignedTreeHead,
}

/// What a resident keeps after a submission: the authority promises that `event_id` is
/// entry `index` of its log, under a signed head that covers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// What the authority signs.
    pub receipt: ReceiptBody,
    /// The authority's signature over the canonical bytes of `receipt`.
    pub sig: Signature,
}

/// Why a receipt does not hold on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// The authority's signature of the receipt does not verify.
    #[error("the receipt's signature does not verify")]
    BadReceiptSignature,
    /// The signature of the head inside does not verify.
    #[error("the tree head's signature does not verify")]
    BadHeadSignature,
    /// The head's size does not cover the index.
    #[error("the index is not covered by the tree head")]
    IndexBeyondHead,
}

impl ReceiptBody {
    /// Signs with the authority's key (tag `palabre/v1/receipt\n`).
    pub fn sign(self, authority_key: &SecretKey) -> Receipt {
        let bytes = to_canonical(&self).expect("a receipt holds only ids, keys and integers");
        Receipt {
            sig: authority_key.sign(Domain::Receipt, &bytes),
            receipt: self,
        }
    }
}

impl Receipt {
    /// Checks the signatures and that the head covers the index. Inclusion itself is
    /// checked against a node with an inclusion proof (`merkle::verify_inclusion`).
    pub fn verify(&self) -> Result<(), ReceiptError> {
        let head = &self.receipt.tree_head;
        head.verify().map_err(|_| ReceiptError::BadHeadSignature)?;
        let bytes = to_canonical(&self.receipt).map_err(|_| ReceiptError::BadReceiptSignature)?;
        head.head
            .authority
            .verify(Domain::Receipt, &bytes, &self.sig)
            .map_err(|_| ReceiptError::BadReceiptSignature)?;
        if self.receipt.index >= head.head.size {
            return Err(ReceiptError::IndexBeyondHead);
        }
        Ok(())
    }
}

/// Signatures a closing head needs among `n_participants` authorities: a strict majority,
/// the log's own authority counting as one (PROTOCOL.md, "Closing quorum").
pub fn closing_quorum(n_participants: usize) -> usize {
    n_participants / 2 + 1
}

/// The distinct participating witnesses (other than the log's authority) whose valid
/// cosignatures vouch for `authority`'s closing head `(size, root)` in time.
pub fn closing_witnesses<'a>(
    authority: &PublicKey,
    size: u64,
    root: &Hash,
    participants: &[PublicKey],
    vote_close_ms: u64,
    cosignatures: impl IntoIterator<Item = &'a Cosignature>,
) -> Vec<PublicKey> {
    let mut witnesses: Vec<PublicKey> = cosignatures
        .into_iter()
        .filter(|c| {
            let h = &c.cosigned.head;
            h.authority == *authority
                && h.size == size
                && h.root == *root
                && c.cosigned.witness != *authority
                && participants.contains(&c.cosigned.witness)
                && c.cosigned.timestamp_ms <= vote_close_ms.saturating_add(CLOSE_GRACE_MS)
                && c.verify().is_ok()
        })
        .map(|c| c.cosigned.witness)
        .collect();
    witnesses.sort();
    witnesses.dedup();
    witnesses
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SecretKey {
        SecretKey::from_seed(&[n; 32])
    }

    fn head(size: u64) -> TreeHead {
        TreeHead {
            authority: key(1).public_key(),
            size,
            root: Hash([9; 32]),
            timestamp_ms: 1_000,
        }
    }

    #[test]
    fn equivocations_are_checked_on_their_own() {
        use crate::merkle::{self, MemoryTree};
        let town = key(1);
        let signed = |size: u64, root: Hash| {
            TreeHead {
                authority: town.public_key(),
                size,
                root,
                timestamp_ms: 5,
            }
            .sign(&town)
        };
        let mut honest = MemoryTree::default();
        let mut forked = MemoryTree::default();
        for i in 0..7u8 {
            honest.push(merkle::leaf_hash(&[i]));
            forked.push(merkle::leaf_hash(&[if i == 2 { 99 } else { i }]));
        }
        let root = |t: &MemoryTree, n| merkle::root_at(t, n).expect("within the tree");
        // Same size, two roots.
        let fork = Equivocation {
            first: signed(7, root(&honest, 7)),
            second: signed(7, root(&forked, 7)),
            prefix: None,
        };
        assert_eq!(fork.check(), Ok(()));
        // Two heads of one history prove nothing, with or without a proof.
        let proof = merkle::consistency_proof(&honest, 4, 7).expect("sizes in order");
        let consistent = Equivocation {
            first: signed(4, root(&honest, 4)),
            second: signed(7, root(&honest, 7)),
            prefix: Some(PrefixProof {
                root: root(&honest, 4),
                proof: proof.clone(),
            }),
        };
        assert_eq!(consistent.check(), Err(EvidenceError::Consistent));
        // A smaller head off the larger one's history, shown by its true prefix.
        let smaller_fork = Equivocation {
            first: signed(4, root(&forked, 4)),
            second: signed(7, root(&honest, 7)),
            prefix: Some(PrefixProof {
                root: root(&honest, 4),
                proof: proof.clone(),
            }),
        };
        assert_eq!(smaller_fork.check(), Ok(()));
        // A made-up prefix does not verify.
        let made_up = Equivocation {
            prefix: Some(PrefixProof {
                root: Hash([1; 32]),
                proof,
            }),
            ..smaller_fork.clone()
        };
        assert_eq!(made_up.check(), Err(EvidenceError::BadPrefixProof));
        // Another authority's head, or a forged signature, is no evidence.
        let mut other = fork.clone();
        other.second = TreeHead {
            authority: key(2).public_key(),
            ..fork.second.head
        }
        .sign(&key(2));
        assert_eq!(other.check(), Err(EvidenceError::DifferentAuthorities));
        let mut forged = fork;
        forged.second.head.timestamp_ms += 1;
        assert_eq!(forged.check(), Err(EvidenceError::BadHeadSignature));
    }

    #[test]
    fn receipts_verify_and_tampering_fails() {
        let town = key(1);
        let sth = head(10).sign(&town);
        let receipt = ReceiptBody {
            event_id: EventId(Hash([3; 32])),
            index: 9,
            tree_head: sth,
        }
        .sign(&town);
        assert_eq!(receipt.verify(), Ok(()));

        let mut moved = receipt;
        moved.receipt.index = 8;
        assert_eq!(moved.verify(), Err(ReceiptError::BadReceiptSignature));

        let mut bigger = receipt;
        bigger.receipt.tree_head.head.size = 11;
        assert_eq!(bigger.verify(), Err(ReceiptError::BadHeadSignature));

        let beyond = ReceiptBody {
            event_id: EventId(Hash([3; 32])),
            index: 10,
            tree_head: sth,
        }
        .sign(&town);
        assert_eq!(beyond.verify(), Err(ReceiptError::IndexBeyondHead));

        let by_stranger = ReceiptBody {
            event_id: EventId(Hash([3; 32])),
            index: 9,
            tree_head: sth,
        }
        .sign(&key(2));
        assert_eq!(by_stranger.verify(), Err(ReceiptError::BadReceiptSignature));
    }

    #[test]
    fn serialized_heads_cosignatures_and_receipts_are_canonical() {
        let town = key(1);
        let sth = head(10).sign(&town);
        let cosig = CosignedHead {
            head: sth.head,
            witness: key(2).public_key(),
            timestamp_ms: 2_000,
        }
        .sign(&key(2));
        let receipt = ReceiptBody {
            event_id: EventId(Hash([3; 32])),
            index: 9,
            tree_head: sth,
        }
        .sign(&town);
        let equivocation = Equivocation {
            first: sth,
            second: head(12).sign(&town),
            prefix: Some(PrefixProof {
                root: Hash([4; 32]),
                proof: vec![Hash([5; 32])],
            }),
        };
        fn same<T: Serialize>(value: &T) {
            let plain = serde_json::to_vec(value).expect("serializes");
            assert_eq!(
                String::from_utf8(plain).expect("utf8"),
                String::from_utf8(to_canonical(value).expect("canonical")).expect("utf8")
            );
        }
        same(&sth);
        same(&cosig);
        same(&receipt);
        same(&equivocation);
    }

    #[test]
    fn quorum_is_a_strict_majority() {
        for (n, q) in [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (64, 33)] {
            assert_eq!(closing_quorum(n), q, "{n} participants");
        }
    }

    #[test]
    fn only_timely_valid_participating_cosignatures_count() {
        let (town, w1, w2, outsider) = (key(1), key(2), key(3), key(4));
        let mut participants = vec![town.public_key(), w1.public_key(), w2.public_key()];
        participants.sort();
        let close = 1_000;
        let h = head(5);
        let cosign = |k: &SecretKey, h: TreeHead, at: u64| {
            CosignedHead {
                head: h,
                witness: k.public_key(),
                timestamp_ms: at,
            }
            .sign(k)
        };
        let mut forged = cosign(&w2, h, close + 1);
        forged.sig.0[0] ^= 1;
        let cosignatures = [
            cosign(&w1, h, close + 1),
            cosign(&w1, h, close + 2),       // same witness twice: one
            cosign(&outsider, h, close + 1), // not participating
            cosign(&town, h, close + 1),     // the log's own authority
            cosign(&w2, h, close + CLOSE_GRACE_MS + 1), // too late
            cosign(&w2, head(6), close + 1), // another head
            forged,                          // bad signature
        ];
        let got = closing_witnesses(
            &town.public_key(),
            5,
            &h.root,
            &participants,
            close,
            &cosignatures,
        );
        assert_eq!(got, vec![w1.public_key()]);
    }
}
