//! The verifiable shuffle (`palabre_core::shuffle`, PROTOCOL.md "Secret ballots: the
//! shuffle proof"): the golden vectors of `tests/data/v1/shuffle.json` (chains of three
//! mixes over N = 7 at w = 1 and w = 2, regenerated from fixed seeds and compared byte
//! for byte, then verified from the file alone with the coins recomputed here from the
//! formulas of PROTOCOL.md), and the laws of SECRET-BALLOTS.md §7.2: plaintexts survive
//! any chain, no output equals an input, the order changes, a flipped byte is refused,
//! and a mixer that replaces, drops or duplicates a ciphertext is refused.

use std::collections::BTreeSet;
use std::path::PathBuf;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use palabre_core::elgamal::Ciphertext;
use palabre_core::group::{self, tags};
use palabre_core::shuffle::{self, ShuffleError, ShuffleProof, ShuffleProofHex};
use proptest::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha512};

const FILE: &str = "shuffle.json";

/// The consultation id of the vectors: bytes 0x00, 0x01, …, 0x1f.
fn vector_cid() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

/// The plaintexts of the vectors, `m` for the point `m·B`: 7 voters, with repeats.
fn vector_plaintexts(w: usize) -> Vec<Vec<u64>> {
    let w1 = [3, 1, 4, 1, 5, 9, 2];
    let w2 = [6, 5, 3, 5, 8, 9, 7];
    (0..7)
        .map(|j| {
            if w == 1 {
                vec![w1[j]]
            } else {
                vec![w1[j], w2[j]]
            }
        })
        .collect()
}

fn point_of(m: u64) -> RistrettoPoint {
    RistrettoPoint::mul_base(&Scalar::from(m))
}

/// The small `m` with `m·B = point`, if below 64.
fn small_log(point: &RistrettoPoint) -> Option<u64> {
    static SMALL: std::sync::OnceLock<Vec<[u8; 32]>> = std::sync::OnceLock::new();
    let table = SMALL.get_or_init(|| (0..64).map(|m| point_of(m).compress().to_bytes()).collect());
    let bytes = point.compress().to_bytes();
    table.iter().position(|m| *m == bytes).map(|m| m as u64)
}

fn key_pair(seed: u8) -> (Scalar, RistrettoPoint) {
    let x = group::seeded_scalar(tags::SEED_KEY, &[seed; 32], 0);
    (x, RistrettoPoint::mul_base(&x))
}

fn encrypt_all(
    y: &RistrettoPoint,
    plaintexts: &[Vec<u64>],
    seed: &[u8; 32],
) -> (Vec<Vec<Ciphertext>>, Vec<Vec<Scalar>>) {
    let w = plaintexts.first().map_or(0, Vec::len);
    let r: Vec<Vec<Scalar>> = (0..plaintexts.len())
        .map(|j| {
            (0..w)
                .map(|k| group::seeded_scalar(tags::SEED_ENCRYPT, seed, (j * w + k) as u64))
                .collect()
        })
        .collect();
    let cts = plaintexts
        .iter()
        .zip(&r)
        .map(|(row, rs)| {
            row.iter()
                .zip(rs)
                .map(|(m, r)| Ciphertext::encrypt(y, &point_of(*m), r))
                .collect()
        })
        .collect();
    (cts, r)
}

fn hex_rows(list: &[Vec<Ciphertext>]) -> Value {
    json!(
        list.iter()
            .map(|row| row.iter().map(Ciphertext::to_hex).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    )
}

fn rows_from_json(value: &Value) -> Vec<Vec<Ciphertext>> {
    value
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            row.as_array()
                .expect("row")
                .iter()
                .map(|ct| Ciphertext::from_hex(ct.as_str().expect("hex")).expect("ciphertext"))
                .collect()
        })
        .collect()
}

fn scalars_json(list: &[Scalar]) -> Value {
    json!(list.iter().map(group::scalar_hex).collect::<Vec<_>>())
}

/// One chain of three mixes at width `w`, with every value an outsider needs.
fn chain_vector(w: usize) -> Value {
    let cid = vector_cid();
    let (x, y) = key_pair(0x01);
    let plaintexts = vector_plaintexts(w);
    let (input, enc_r) = encrypt_all(&y, &plaintexts, &[0x02; 32]);
    let (h, hs) = shuffle::generators(&cid, input.len());
    let mut mixes = Vec::new();
    let mut current = input.clone();
    for m in 1..=3u8 {
        let shuffle_seed = [0x10 * w as u8 + m; 32];
        let proof_seed = [0x20 * w as u8 + m + 0x40; 32];
        let (outputs, witness) = shuffle::shuffle(&y, &current, &shuffle_seed).expect("shuffle");
        let proof =
            shuffle::prove(&cid, &y, &current, &outputs, &witness, &proof_seed).expect("prove");
        assert_eq!(
            shuffle::verify(&cid, &y, &current, &outputs, &proof),
            Ok(())
        );
        let coins = shuffle::challenges(&cid, &y, &current, &outputs, &proof).expect("coins");
        mixes.push(json!({
            "mixer": m,
            "shuffle_seed": hex::encode(shuffle_seed),
            "proof_seed": hex::encode(proof_seed),
            "permutation": witness.permutation(),
            "reencryption": witness
                .randomness()
                .iter()
                .map(|row| scalars_json(row))
                .collect::<Vec<_>>(),
            "outputs": hex_rows(&outputs),
            "proof": serde_json::to_value(proof.to_hex()).expect("proof json"),
            "proof_bytes": hex::encode(proof.to_bytes()),
            "coins": {
                "seed": hex::encode(coins.seed),
                "u": scalars_json(&coins.u),
                "challenge": group::scalar_hex(&coins.c),
            },
        }));
        current = outputs;
    }
    let decrypted: Vec<Vec<u64>> = current
        .iter()
        .map(|row| {
            row.iter()
                .map(|ct| small_log(&ct.decrypt(&x)).expect("small plaintext"))
                .collect()
        })
        .collect();
    json!({
        "width": w,
        "consultation": hex::encode(cid),
        "secret_key": group::scalar_hex(&x),
        "election_key": group::point_hex(&y),
        "generators": {
            "H": group::point_hex(&h),
            "h": hs.iter().map(group::point_hex).collect::<Vec<_>>(),
        },
        "plaintexts": plaintexts,
        "encryption_randomness": enc_r.iter().map(|row| scalars_json(row)).collect::<Vec<_>>(),
        "input": hex_rows(&input),
        "mixes": mixes,
        "decrypted": decrypted,
    })
}

fn vectors() -> Value {
    json!({
        "about": "Chains of three Terelius-Wikstrom shuffles (PROTOCOL.md, Secret ballots: the shuffle proof). \
                  Plaintext m stands for the point m*B. Keys, encryption randomness and mixes come from the seeds given; \
                  coins are the verifier's seed, u_j and challenge c.",
        "chains": [chain_vector(1), chain_vector(2)],
    })
}

fn data_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/v1")
        .join(FILE)
}

/// The file on disk equals what the code produces; a missing file is written only with
/// `PALABRE_WRITE_NEW_VECTORS=1` (files are added, never edited).
fn check_file(value: &Value) -> String {
    let text = serde_json::to_string_pretty(value).expect("vectors serialize") + "\n";
    match std::fs::read_to_string(data_path()) {
        Ok(on_disk) => {
            assert!(
                on_disk == text,
                "{FILE} differs from what the code produces: the shuffle changed. Vectors are never edited."
            );
            on_disk
        }
        Err(_) if std::env::var_os("PALABRE_WRITE_NEW_VECTORS").is_some() => {
            std::fs::write(data_path(), &text).expect("write new vector file");
            text
        }
        Err(e) => {
            panic!("{FILE} is missing ({e}); run with PALABRE_WRITE_NEW_VECTORS=1 to create it")
        }
    }
}

/// The coins recomputed from PROTOCOL.md's formulas with SHA-512 alone.
fn coins_by_the_book(
    cid: &[u8; 32],
    y: &RistrettoPoint,
    inputs: &[Vec<Ciphertext>],
    outputs: &[Vec<Ciphertext>],
    proof: &ShuffleProof,
) -> ([u8; 64], Vec<Scalar>, Scalar) {
    let reduce = |h: Sha512| Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    let mut seed = Sha512::new();
    seed.update(b"palabre/v1/shuffle-u\n");
    seed.update(cid);
    seed.update(y.compress().as_bytes());
    seed.update((inputs.len() as u64).to_be_bytes());
    seed.update((inputs[0].len() as u64).to_be_bytes());
    for ct in inputs.iter().chain(outputs).flatten() {
        seed.update(ct.alpha.compress().as_bytes());
        seed.update(ct.beta.compress().as_bytes());
    }
    for c in &proof.c {
        seed.update(c.compress().as_bytes());
    }
    let seed: [u8; 64] = seed.finalize().into();
    let u = (1..=inputs.len() as u64)
        .map(|j| {
            let mut h = Sha512::new();
            h.update(b"palabre/v1/shuffle-u\n");
            h.update(seed);
            h.update(j.to_be_bytes());
            reduce(h)
        })
        .collect();
    let mut h = Sha512::new();
    h.update(b"palabre/v1/shuffle-c\n");
    h.update(seed);
    let points = proof
        .chat
        .iter()
        .chain([&proof.t1, &proof.t2, &proof.t3])
        .chain(proof.t4.iter().flat_map(|(a, b)| [a, b]))
        .chain(&proof.that);
    for p in points {
        h.update(p.compress().as_bytes());
    }
    (seed, u, reduce(h))
}

#[test]
fn vectors_are_reproduced_and_verify_from_the_file_alone() {
    let on_disk = check_file(&vectors());
    // From here on, only the file: decode, recompute the coins, verify, decrypt.
    let file: Value = serde_json::from_str(&on_disk).expect("json");
    for chain in file["chains"].as_array().expect("chains") {
        let cid: [u8; 32] = hex::decode(chain["consultation"].as_str().expect("cid"))
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        let y = group::point_from_hex(chain["election_key"].as_str().expect("y")).expect("y");
        let x = group::scalar_from_hex(chain["secret_key"].as_str().expect("x")).expect("x");
        assert_eq!(RistrettoPoint::mul_base(&x), y);
        let mut current = rows_from_json(&chain["input"]);
        for mix in chain["mixes"].as_array().expect("mixes") {
            let outputs = rows_from_json(&mix["outputs"]);
            let hex: ShuffleProofHex =
                serde_json::from_value(mix["proof"].clone()).expect("proof members");
            let proof = ShuffleProof::from_hex(&hex).expect("proof decodes");
            let bytes = hex::decode(mix["proof_bytes"].as_str().expect("bytes")).expect("hex");
            assert_eq!(ShuffleProof::from_bytes(&bytes), Ok(proof.clone()));
            let (seed, u, c) = coins_by_the_book(&cid, &y, &current, &outputs, &proof);
            assert_eq!(hex::encode(seed), mix["coins"]["seed"]);
            assert_eq!(
                json!(u.iter().map(group::scalar_hex).collect::<Vec<_>>()),
                mix["coins"]["u"]
            );
            assert_eq!(group::scalar_hex(&c), mix["coins"]["challenge"]);
            assert_eq!(
                shuffle::verify(&cid, &y, &current, &outputs, &proof),
                Ok(())
            );
            current = outputs;
        }
        let mut decrypted: Vec<Vec<u64>> = current
            .iter()
            .map(|row| {
                row.iter()
                    .map(|ct| small_log(&ct.decrypt(&x)).expect("m"))
                    .collect()
            })
            .collect();
        assert_eq!(json!(decrypted), chain["decrypted"]);
        let mut plaintexts: Vec<Vec<u64>> =
            serde_json::from_value(chain["plaintexts"].clone()).expect("plaintexts");
        decrypted.sort();
        plaintexts.sort();
        assert_eq!(decrypted, plaintexts);
    }
}

/// A chain of `mixes` over `plaintexts`, every proof checked; returns the final list.
fn run_chain(
    y: &RistrettoPoint,
    inputs: &[Vec<Ciphertext>],
    seeds: &[[u8; 32]],
) -> Vec<Vec<Ciphertext>> {
    let cid = [7u8; 32];
    let mut current = inputs.to_vec();
    for seed in seeds {
        let (outputs, witness) = shuffle::shuffle(y, &current, seed).expect("shuffle");
        let proof = shuffle::prove(&cid, y, &current, &outputs, &witness, seed).expect("prove");
        assert_eq!(shuffle::verify(&cid, y, &current, &outputs, &proof), Ok(()));
        // Output i re-encrypts input ψ(i), and equals none of the inputs.
        let before: BTreeSet<[u8; 64]> =
            current.iter().flatten().map(Ciphertext::to_bytes).collect();
        assert!(
            outputs
                .iter()
                .flatten()
                .all(|ct| !before.contains(&ct.to_bytes()))
        );
        current = outputs;
    }
    current
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn plaintexts_survive_any_chain(
        rows in prop::collection::vec(prop::collection::vec(0u64..4, 1..=3usize), 1..=5usize),
        width in 1usize..=3,
        seeds in prop::collection::vec(any::<[u8; 32]>(), 1..=3usize),
        key in any::<u8>(),
    ) {
        let plaintexts: Vec<Vec<u64>> = rows.iter().map(|r| (0..width).map(|k| r[k % r.len()]).collect()).collect();
        let (x, y) = key_pair(key);
        let (inputs, _) = encrypt_all(&y, &plaintexts, &[key; 32]);
        let last = run_chain(&y, &inputs, &seeds);
        let mut after: Vec<Vec<u64>> = last
            .iter()
            .map(|row| row.iter().map(|ct| small_log(&ct.decrypt(&x)).expect("m")).collect())
            .collect();
        let mut before = plaintexts.clone();
        after.sort();
        before.sort();
        prop_assert_eq!(after, before);
    }
}

#[test]
fn the_order_changes_for_every_one_of_1000_seeds() {
    // N = 8: a uniform permutation is the identity with probability 1/40,320.
    let (x, y) = key_pair(3);
    let plaintexts: Vec<Vec<u64>> = (0..8).map(|m| vec![m]).collect();
    let (inputs, _) = encrypt_all(&y, &plaintexts, &[3; 32]);
    let mut seen = [[false; 8]; 8];
    for s in 0..1000u32 {
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&s.to_be_bytes());
        let (outputs, witness) = shuffle::shuffle(&y, &inputs, &seed).expect("shuffle");
        let psi = witness.permutation();
        assert_ne!(psi, (0..8).collect::<Vec<_>>(), "seed {s} kept the order");
        for (i, &j) in psi.iter().enumerate() {
            // The witness says where each output came from, and it is true.
            assert_eq!(small_log(&outputs[i][0].decrypt(&x)), Some(j as u64));
            seen[i][j] = true;
        }
    }
    // Every input reached every position at least once.
    assert!(seen.iter().flatten().all(|s| *s));
}

/// A valid mix of 3 positions at width 2 and its transcript bytes:
/// inputs ‖ outputs ‖ proof.
fn sample_transcript() -> (RistrettoPoint, usize, Vec<u8>) {
    let (_, y) = key_pair(4);
    let plaintexts: Vec<Vec<u64>> = (0..3).map(|j| vec![j, j + 1]).collect();
    let (inputs, _) = encrypt_all(&y, &plaintexts, &[4; 32]);
    let (outputs, witness) = shuffle::shuffle(&y, &inputs, &[5; 32]).expect("shuffle");
    let proof = shuffle::prove(&[7; 32], &y, &inputs, &outputs, &witness, &[6; 32]).expect("prove");
    let mut bytes = Vec::new();
    for ct in inputs.iter().chain(&outputs).flatten() {
        bytes.extend_from_slice(&ct.to_bytes());
    }
    let lists = bytes.len();
    bytes.extend_from_slice(&proof.to_bytes());
    (y, lists, bytes)
}

/// Decodes and verifies a transcript of 3 positions at width 2.
fn check_transcript(y: &RistrettoPoint, lists: usize, bytes: &[u8]) -> Result<(), ShuffleError> {
    let cts = bytes[..lists]
        .chunks_exact(64)
        .map(|c| Ciphertext::from_bytes(c.try_into().expect("64 bytes")))
        .collect::<Result<Vec<_>, _>>()?;
    let rows: Vec<Vec<Ciphertext>> = cts.chunks(2).map(<[Ciphertext]>::to_vec).collect();
    let proof = ShuffleProof::from_bytes(&bytes[lists..])?;
    shuffle::verify(&[7; 32], y, &rows[..3], &rows[3..], &proof)
}

#[test]
fn flipping_any_byte_of_a_mix_is_refused() {
    let (y, lists, bytes) = sample_transcript();
    assert_eq!(check_transcript(&y, lists, &bytes), Ok(()));
    for at in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[at] ^= 1 << (at % 8);
        assert!(
            check_transcript(&y, lists, &flipped).is_err(),
            "a flip at byte {at} was accepted"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_flipped_bit_anywhere_is_refused(at in any::<prop::sample::Index>(), bit in 0u8..8) {
        static SAMPLE: std::sync::OnceLock<(RistrettoPoint, usize, Vec<u8>)> = std::sync::OnceLock::new();
        let (y, lists, bytes) = SAMPLE.get_or_init(sample_transcript);
        let mut flipped = bytes.clone();
        flipped[at.index(bytes.len())] ^= 1 << bit;
        prop_assert!(check_transcript(y, *lists, &flipped).is_err());
    }
}

#[test]
fn a_mixer_that_replaces_drops_or_duplicates_is_refused() {
    let cid = [7u8; 32];
    let (_, y) = key_pair(5);
    let plaintexts: Vec<Vec<u64>> = (0..5).map(|j| vec![j, 2 * j]).collect();
    let (inputs, _) = encrypt_all(&y, &plaintexts, &[5; 32]);
    let (outputs, witness) = shuffle::shuffle(&y, &inputs, &[8; 32]).expect("shuffle");
    let honest = shuffle::prove(&cid, &y, &inputs, &outputs, &witness, &[9; 32]).expect("prove");
    assert_eq!(
        shuffle::verify(&cid, &y, &inputs, &outputs, &honest),
        Ok(())
    );

    let fresh = |m: u64, r: u64| Ciphertext::encrypt(&y, &point_of(m), &Scalar::from(r));
    let mut replaced = outputs.clone();
    replaced[2][1] = fresh(40, 77);
    let mut duplicated = outputs.clone();
    duplicated[3] = duplicated[1]
        .iter()
        .map(|ct| ct.rerandomize(&y, &Scalar::from(99u64)))
        .collect();
    let mut dropped = outputs.clone();
    dropped.remove(0);
    let mut added = outputs.clone();
    added.push(vec![fresh(1, 5), fresh(2, 6)]);

    for (what, tampered) in [
        ("replaced", &replaced),
        ("duplicated", &duplicated),
        ("dropped", &dropped),
        ("added", &added),
    ] {
        // The honest proof no longer fits.
        let refused = shuffle::verify(&cid, &y, &inputs, tampered, &honest);
        assert_eq!(refused.map_err(|e| e.code()), Err("bad_shuffle"), "{what}");
        // Nor does a proof recomputed for the tampered list, with all the mixer knows.
        if let Ok(proof) = shuffle::prove(&cid, &y, &inputs, tampered, &witness, &[9; 32]) {
            let refused = shuffle::verify(&cid, &y, &inputs, tampered, &proof);
            assert_eq!(refused, Err(ShuffleError::BadShuffle), "{what}, re-proved");
        }
    }
}
