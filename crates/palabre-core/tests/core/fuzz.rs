//! The fuzz bodies (`palabre_core::fuzzing`) in the ordinary tests: every committed
//! corpus input replayed, arbitrary bytes and mutated corpus inputs from proptest, and
//! each input the fuzzer found that once made a decoder panic, by name.

use palabre_core::crypto::{KeyError, SecretKey};
use palabre_core::fuzzing::{self, TARGETS, mutate};
use palabre_core::head::{
    CosignedHead, Equivocation, EvidenceError, ReceiptBody, ReceiptError, TreeHead,
};
use palabre_core::ids::{EventId, Hash};

palabre_core::fuzz_properties!(TARGETS, 256);

/// A sanity check of the mutator the test above relies on: edits change the input.
#[test]
fn the_mutator_edits() {
    assert_eq!(mutate(b"abc", &[(1, 0)], usize::MAX), b"a\0c");
    assert_eq!(mutate(b"abc", &[(1, 1)], usize::MAX), b"a\x01bc");
    assert_eq!(mutate(b"abc", &[(1, 2)], usize::MAX), b"ac");
    assert_eq!(mutate(b"abc", &[], 1), b"a");
    fuzzing::canonical_json(b"{}");
}

/// Found by the `evidence` target: a head whose `timestamp_ms` is beyond 2^53 − 1 made
/// `SignedTreeHead::verify` panic (its signed bytes could not be encoded). Any peer
/// could send one on gossip. It now simply does not verify.
#[test]
fn a_head_with_an_integer_beyond_2_53_does_not_verify_and_does_not_panic() {
    let evidence = br#"{"first":{"head":{"authority":"34b4d9043156cb6dcf0beb0a2949b7559c940d2bcb6dbe8c53a9b30278e3a746","root":"ff9ab8a75a161133932b0a69e4608bc48c8f3cae83d2f45b6909ee54e21e716a","size":14,"timestamp_ms":1000000901728000005},"sig":"117d881fe285691ca2ae3daac1a3b5a712648d1974b2e6d7bb91e3de9193c60eecaef17db17f972a02e07bb8b8bc2bf83ab2fd77ba5936bdcb3cece67a57e20d"},"second":{"head":{"authority":"34b4d9043156cb6dcf0beb0a2949b7559c940d2bcb6dbe8c53a9b30278e3a746","root":"0000000000000000000000000000000000000000000000000000000000000000","size":14,"timestamp_ms":1901728000005},"sig":"117d881fe285691ca2ae3daac1a3b5a712648d1974b2e6d7bb91e3de9193c60eecaef17db17f972a02e07bb8b8bc2bf83ab2fd77ba5936bdcb3cece67a57e20d"}}"#;
    fuzzing::evidence(evidence);
    let e: Equivocation = serde_json::from_slice(evidence).expect("decodes");
    assert_eq!(e.first.verify(), Err(KeyError::BadSignature));
    assert_eq!(e.check(), Err(EvidenceError::BadHeadSignature));
    // The same integer in a cosignature and a receipt.
    let key = SecretKey::from_seed(&[9; 32]);
    let head = TreeHead {
        authority: key.public_key(),
        root: Hash::of(b"root"),
        size: 1,
        timestamp_ms: 1,
    };
    let mut cosignature = CosignedHead {
        head,
        timestamp_ms: 1,
        witness: key.public_key(),
    }
    .sign(&key);
    cosignature.cosigned.timestamp_ms = 1 << 60;
    assert_eq!(cosignature.verify(), Err(KeyError::BadSignature));
    let mut receipt = ReceiptBody {
        event_id: EventId(Hash::of(b"event")),
        index: 0,
        tree_head: head.sign(&key),
    }
    .sign(&key);
    receipt.receipt.index = 1 << 60;
    assert_eq!(receipt.verify(), Err(ReceiptError::BadReceiptSignature));
}
