//! Fuzz bodies: one function per decoder that takes bytes from outside the node.
//!
//! Each body feeds its bytes to exactly the function those bytes reach in the node,
//! and, when decoding succeeds, checks what must hold of what was accepted (it
//! re-encodes to the bytes received, it decodes again to the same value). A body
//! never panics unless a decoder panics or a property is broken: both are bugs.
//!
//! The cargo-fuzz targets in `fuzz/` call these functions, one target each, and
//! core's test `fuzz` replays the committed corpus (`fuzz/corpus/<target>/`) and
//! arbitrary and mutated bytes through them. This module is public so that the fuzz
//! crate, outside the workspace, can reach it; the node never calls it.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::audit::{self, AuditOptions};
use crate::canonical;
use crate::crypto::{PublicKey, SecretKey};
use crate::elgamal::Ciphertext;
use crate::event::{self, SignedEvent};
use crate::head::{Cosignature, Equivocation, Receipt, SignedTreeHead};
use crate::opening::Opening;
use crate::pabulib;
use crate::purge::{self, Entry};
use crate::shuffle::{ShuffleProof, ShuffleProofHex};
use crate::tally::{self, BudgetRule, Method};

/// The names of core's fuzz targets, with their bodies: the corpus of target `name`
/// is `fuzz/corpus/<name>/`.
/// A fuzz target: its name and its body.
pub type Target = (&'static str, fn(&[u8]));

/// The names of core's fuzz targets, with their bodies.
pub const TARGETS: &[Target] = &[
    ("canonical", canonical_json),
    ("event", event),
    ("tombstone", tombstone),
    ("head", head),
    ("cosignature", cosignature),
    ("evidence", evidence),
    ("receipt", receipt),
    ("bundle", bundle),
    ("pabulib", pabulib),
    ("opening", opening),
    ("shuffle_proof", shuffle_proof),
    ("ciphertext", ciphertext),
];

/// The key of the log an entry is received for, in [`tombstone`] (the town of the
/// purge vectors, so that their tombstones verify).
pub fn log_key() -> PublicKey {
    SecretKey::from_seed(&[0x77; 32]).public_key()
}

/// Signed content (`canonical::parse_canonical`): what is accepted is its own RFC 8785
/// form, and encodes back to the bytes received.
pub fn canonical_json(data: &[u8]) {
    if let Ok(json) = canonical::parse_canonical(data) {
        let again = canonical::encode(&json).expect("accepted JSON encodes");
        assert_eq!(
            again, data,
            "accepted signed content is its own canonical form"
        );
    }
}

/// A received event (`event::decode`, then the signature: `SignedEvent::from_bytes`).
/// An event decoded keeps the exact bytes received, its decoded content signs over the
/// same unsigned bytes, and the content re-signed gives back the same bytes.
pub fn event(data: &[u8]) {
    let Ok(unverified) = event::decode(data.to_vec()) else {
        assert!(SignedEvent::from_bytes(data.to_vec()).is_err());
        return;
    };
    assert_eq!(unverified.bytes, data, "the bytes are kept as received");
    let unsigned = unverified
        .event
        .unsigned_bytes()
        .expect("a decoded event encodes");
    assert_eq!(
        unverified.message,
        crate::crypto::Domain::Event.message(&unsigned),
        "the decoded content signs over the bytes received"
    );
    if let Ok(signed) = SignedEvent::from_bytes(data.to_vec()) {
        assert_eq!(signed.bytes(), data);
        assert_eq!(signed.event(), &unverified.event);
        // Stored bytes read back as the same entry.
        let stored = Entry::stored(data.to_vec()).expect("an accepted event reads back");
        assert_eq!(stored.event(), Some(&signed));
    }
}

/// A log position received from a peer (`purge::Entry::from_bytes`): an event, or a
/// tombstone signed by the log's authority. A tombstone accepted is its own canonical
/// form; stored bytes read back to the same entry.
pub fn tombstone(data: &[u8]) {
    let _ = purge::stored_leaf(data);
    let stored = Entry::stored(data.to_vec());
    match Entry::from_bytes(data.to_vec(), &log_key()) {
        Ok(entry) => {
            assert_eq!(entry.bytes(), data, "an entry keeps the bytes received");
            assert_eq!(stored.as_ref().ok(), Some(&entry), "it reads back the same");
            assert_eq!(purge::stored_leaf(data), entry.leaf());
            if let Some(purged) = entry.purged() {
                assert_eq!(purged.tombstone().to_bytes(), data);
            }
        }
        Err(_) => {
            if let Ok(Entry::Purged(p)) = &stored {
                assert_eq!(p.tombstone().to_bytes(), data);
            }
        }
    }
}

/// JSON that decodes to `T` serializes to what decodes to the same `T` again.
fn round_trip<T>(data: &[u8]) -> Option<T>
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let value: T = serde_json::from_slice(data).ok()?;
    let bytes = serde_json::to_vec(&value).expect("a decoded value serializes");
    let again: T = serde_json::from_slice(&bytes).expect("what is served decodes");
    assert_eq!(again, value, "a decoded value round-trips");
    Some(value)
}

/// A signed tree head (the API's heads, sync, gossip, bundles): decoded, its signature
/// checked; a head that verifies serializes to canonical bytes.
pub fn head(data: &[u8]) {
    if let Some(h) = round_trip::<SignedTreeHead>(data)
        && h.verify().is_ok()
    {
        let bytes = serde_json::to_vec(&h).expect("a head serializes");
        assert_eq!(
            canonical::parse_canonical(&bytes).map(|_| ()),
            Ok(()),
            "a head serializes canonically"
        );
    }
}

/// A witness's cosignature, decoded and checked.
pub fn cosignature(data: &[u8]) {
    if let Some(c) = round_trip::<Cosignature>(data) {
        let _ = c.verify();
    }
}

/// A proof of equivocation, decoded and checked (anyone can check one alone).
pub fn evidence(data: &[u8]) {
    if let Some(e) = round_trip::<Equivocation>(data) {
        let _ = e.check();
    }
}

/// A resident's receipt (`palabre check-receipt`), decoded and checked.
pub fn receipt(data: &[u8]) {
    if let Some(r) = round_trip::<Receipt>(data) {
        let _ = r.verify();
    }
}

/// An audit bundle read from a file (`audit::bundle::from_json`), then audited as
/// `palabre audit --bundle` does. A bundle read back writes out to what reads the same.
pub fn bundle(data: &[u8]) {
    let Ok(input) = audit::bundle::from_json(data, "fuzz") else {
        return;
    };
    if let Ok(bytes) = audit::bundle::to_json(&input) {
        let again = audit::bundle::from_json(&bytes, "fuzz").expect("a written bundle reads");
        assert_eq!(again.consultation, input.consultation);
        assert_eq!(again.logs.len(), input.logs.len());
        for (a, b) in again.logs.iter().zip(&input.logs) {
            assert_eq!(a.entries, b.entries, "entries keep their exact bytes");
        }
    }
    let _ = audit::audit(&input, AuditOptions::default());
}

/// Most projects and voters for which the fuzz body also runs the Method of Equal
/// Shares (its exact fractions grow with the instance; parsing is what is fuzzed).
const MAX_EQUAL_SHARES: (usize, usize) = (12, 40);

/// A `.pb` file given to `palabre tally --method budget`: parsed, turned into ballots,
/// and counted by both budget rules (equal shares on small instances only).
pub fn pabulib(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(instance) = pabulib::parse(text) else {
        return;
    };
    let (candidates, choices, names) = instance.ballots();
    assert!(names.len() <= instance.projects.len());
    let mut rules = vec![BudgetRule::Greedy];
    if candidates.len() <= MAX_EQUAL_SHARES.0 && choices.len() <= MAX_EQUAL_SHARES.1 {
        rules.push(BudgetRule::EqualShares);
    }
    for rule in rules {
        let method = Method::Budget {
            budget: instance.budget,
            rule,
        };
        let _ = tally::tally(&method, &candidates, &choices);
    }
}

/// An encryption opening pasted into the "verify my encryption" page, or given to
/// `palabre check-encryption`: parsed, then checked.
pub fn opening(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(o) = Opening::parse(text) {
        let _ = o.check();
    }
}

/// A shuffle proof in its byte form and in the hex form a mix event carries: what
/// decodes encodes back to the same bytes.
pub fn shuffle_proof(data: &[u8]) {
    if let Ok(proof) = ShuffleProof::from_bytes(data) {
        assert_eq!(proof.to_bytes(), data, "a proof is its own byte form");
        assert_eq!(ShuffleProof::from_hex(&proof.to_hex()), Ok(proof));
    }
    if let Ok(hex) = serde_json::from_slice::<ShuffleProofHex>(data)
        && let Ok(proof) = ShuffleProof::from_hex(&hex)
    {
        assert_eq!(ShuffleProof::from_bytes(&proof.to_bytes()), Ok(proof));
    }
}

/// An ElGamal ciphertext: 64 bytes, or 128 hex characters as events carry it; what
/// decodes encodes back to the same bytes.
pub fn ciphertext(data: &[u8]) {
    if let Ok(bytes) = <[u8; 64]>::try_from(data)
        && let Ok(ct) = Ciphertext::from_bytes(&bytes)
    {
        assert_eq!(ct.to_bytes(), bytes);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(ct) = Ciphertext::from_hex(text)
    {
        assert_eq!(ct.to_hex(), text, "only the canonical hex is accepted");
    }
}

/// Every input of the committed corpus of `target` (`fuzz/corpus/<target>/`), in name
/// order: what the tests replay. Empty if the directory is missing.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            std::fs::read(e.path()).ok().map(|bytes| (name, bytes))
        })
        .collect();
    files.sort();
    files
}

/// `seed` changed as a fuzzer would: each `(at, byte)` overwrites, inserts or removes
/// the byte at `at` (modulo the length, by `byte % 3`), then it is cut to `keep` bytes
/// at most. For the tests' mutated inputs.
pub fn mutate(seed: &[u8], edits: &[(usize, u8)], keep: usize) -> Vec<u8> {
    let mut out = seed.to_vec();
    for &(at, byte) in edits {
        let at = if out.is_empty() { 0 } else { at % out.len() };
        match byte % 3 {
            0 if !out.is_empty() => out[at] = byte,
            1 => out.insert(at, byte),
            _ if !out.is_empty() => {
                out.remove(at);
            }
            _ => out.push(byte),
        }
    }
    out.truncate(keep);
    out
}

/// Runs every committed corpus input of every target of `targets` through its body;
/// panics naming the first target whose corpus is missing and the first input that
/// panics. For the tests of each crate that owns fuzz bodies.
pub fn replay(targets: &[Target]) {
    for (name, body) in targets {
        let files = corpus(name);
        assert!(!files.is_empty(), "fuzz/corpus/{name}/ is empty or missing");
        for (file, bytes) in files {
            let run = std::panic::catch_unwind(|| body(&bytes));
            assert!(run.is_ok(), "{name}: fuzz/corpus/{name}/{file} panics");
        }
    }
}

/// Every corpus input of `targets`, with the index of its target: the seeds the
/// tests mutate.
pub fn seeds(targets: &[Target]) -> Vec<(usize, Vec<u8>)> {
    targets
        .iter()
        .enumerate()
        .flat_map(|(i, (name, _))| corpus(name).into_iter().map(move |(_, b)| (i, b)))
        .collect()
}

/// The property tests every crate that owns fuzz bodies runs over its `targets`: the
/// committed corpus replayed, proptest's arbitrary bytes, and mutated corpus inputs
/// (`cases` each). The calling crate needs `proptest` among its dev-dependencies.
#[macro_export]
macro_rules! fuzz_properties {
    ($targets:expr, $cases:expr) => {
        #[test]
        fn every_target_has_a_corpus_and_replays_it() {
            $crate::fuzzing::replay($targets);
        }

        proptest::proptest! {
            #![proptest_config(proptest::prelude::ProptestConfig {
                cases: $cases,
                ..proptest::prelude::ProptestConfig::default()
            })]

            #[test]
            fn arbitrary_bytes_never_panic(
                target in 0..$targets.len(),
                bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            ) {
                ($targets[target].1)(&bytes);
            }

            #[test]
            fn mutated_corpus_inputs_never_panic(
                pick in proptest::prelude::any::<proptest::sample::Index>(),
                edits in proptest::collection::vec(
                    (proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()),
                    1..8,
                ),
                keep in proptest::prelude::any::<usize>(),
            ) {
                let seeds = $crate::fuzzing::seeds($targets);
                let (target, seed) = &seeds[pick.index(seeds.len())];
                ($targets[*target].1)(&$crate::fuzzing::mutate(seed, &edits, keep));
            }
        }
    };
}
