//! The verifiable re-encryption shuffle of sealed ballots (SECRET-BALLOTS.md §4.9;
//! PROTOCOL.md, "Secret ballots: the shuffle proof").
//!
//! This is the Terelius–Wikström proof of a shuffle in the form of the CHVote System
//! Specification 1.3.2 (`GenShuffle`, `GenShuffleProof`, `CheckShuffleProof`), as the
//! Belenios specification reproduces it in its section "Shuffle algorithms", written
//! additively on ristretto255 (`g` is `B`, `h` is `H`, `hᵢ` is `h_i`) and extended to
//! vectors of `w` ciphertexts: one permutation for all columns, one re-encryption
//! randomness per element, so `t₄` and `s₄` have one entry per column. The names follow
//! the Belenios text: `c` (permutation commitment), `ĉ` (`chat`, the commitment chain),
//! `t̂` (`that`), `ŝ` (`shat`), `s'` (`sprime`).
//!
//! Given in this module: [`shuffle`] (permute and re-encrypt, randomness from a seed),
//! [`prove`], [`verify`], the proof's byte and hex forms, and [`challenges`] (the
//! verifier's public coins, for independent re-implementations). Left to others: the
//! group and its encodings (`group`), ElGamal (`elgamal`), cutting a mix into `mix` and
//! `mix_proof` events and the chain rule (admission and audit), and drawing seeds (the
//! node). Sums of many terms go through curve25519-dalek's multiscalar multiplication:
//! Pippenger, in variable time, for the verifier, and constant-time Straus for the
//! prover, whose scalars are secret.

use curve25519_dalek::constants::RISTRETTO_BASEPOINT_TABLE;
use curve25519_dalek::ristretto::{
    RistrettoBasepointTable, RistrettoPoint, VartimeRistrettoPrecomputation,
};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{
    Identity, MultiscalarMul, VartimeMultiscalarMul, VartimePrecomputedMultiscalarMul,
};
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

use crate::elgamal::Ciphertext;
use crate::group::{self, B, GroupError, tags};

/// The ASCII name after the consultation id in the label of the shuffle's generators:
/// `H = Gen(cid ‖ "shuffle-h", 0)` and `hᵢ = Gen(cid ‖ "shuffle-h", i)` for `i = 1..N`.
pub const GENERATOR_NAME: &[u8] = b"shuffle-h";

/// Prover-side tags: how [`shuffle`] and [`prove`] expand their 32-byte seeds with
/// [`group::seeded_scalar`]. A verifier never needs them; they pin the test vectors.
pub mod seed_tags {
    /// Step `i` (0-based) of the Fisher–Yates draw of the permutation.
    pub const PERMUTE: &[u8] = b"palabre/v1/seed/shuffle-permute\n";
    /// Re-encryption randomness `r'` of input `j`, column `k` (0-based), index `j·w + k`.
    pub const REENCRYPT: &[u8] = b"palabre/v1/seed/shuffle-reencrypt\n";
    /// Everything [`super::prove`] draws, at index `role·2³² + i` (see [`super::Role`]).
    pub const PROOF: &[u8] = b"palabre/v1/seed/shuffle-proof\n";
}

/// The prover's secret draws, each a role in the index of [`seed_tags::PROOF`].
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Role {
    /// `r_j`, the randomness of the permutation commitment of input `j`.
    CommitRandomness = 0,
    /// `r̂_i`, the randomness of link `i` of the commitment chain.
    ChainRandomness = 1,
    /// `ω̂_i`.
    OmegaHat = 2,
    /// `ω'_i`.
    OmegaPrime = 3,
    /// `ω₁, ω₂, ω₃` at `i = 0, 1, 2`.
    Omega = 4,
    /// `ω₄,k` for column `k`.
    Omega4 = 5,
}

/// Multiscalar products are cut into pieces of this many terms: Pippenger's cost per
/// term no longer falls beyond a few thousand, and memory stays bounded for a million.
const CHUNK: usize = 4096;

/// Why a shuffle, a proof or its encoding was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShuffleError {
    /// A mix needs at least one position.
    #[error("a mix needs at least one ciphertext vector")]
    Empty,
    /// The vectors do not all have the same width `w ≥ 1`, or not the proof's width.
    #[error("every ciphertext vector of a mix has the same width w ≥ 1, and the proof's")]
    Width,
    /// A list does not have the length the others imply.
    #[error("`{what}` has {found} entries where {expected} are needed")]
    Length {
        /// Which list.
        what: &'static str,
        /// The length the other lists imply.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A point or scalar is not in canonical form.
    #[error(transparent)]
    Group(#[from] GroupError),
    /// The byte form does not have the layout of a proof.
    #[error("a shuffle proof's bytes are u64be(N) ‖ u64be(w) and the members, in order")]
    Malformed,
    /// The proof does not show that the outputs are a re-encryption and permutation of
    /// the inputs.
    #[error("the shuffle proof does not verify")]
    BadShuffle,
}

impl ShuffleError {
    /// The stable rejection code (PROTOCOL.md's table): `bad_shuffle` for every proof
    /// that does not fit or does not hold, `bad_point` / `bad_scalar` for encodings,
    /// `malformed` for bytes without the proof's layout.
    pub fn code(&self) -> &'static str {
        match self {
            ShuffleError::Empty
            | ShuffleError::Width
            | ShuffleError::Length { .. }
            | ShuffleError::BadShuffle => "bad_shuffle",
            ShuffleError::Group(e) => e.code(),
            ShuffleError::Malformed => "malformed",
        }
    }
}

/// The mixer's secret: which input went to each output, and the re-encryption
/// randomness of each input's elements. Kept only until the proof is made; it is
/// zeroized when dropped, and `Debug` prints only its shape.
pub struct Witness {
    /// `ψ`: output `i` is a re-encryption of input `permutation[i]` (0-based).
    permutation: Vec<usize>,
    /// `r'[j][k]`: the randomness added to input `j`, column `k`.
    randomness: Vec<Vec<Scalar>>,
}

impl Witness {
    /// `ψ`: output `i` re-encrypts input `permutation()[i]`.
    pub fn permutation(&self) -> &[usize] {
        &self.permutation
    }

    /// `r'_{j,k}`: the randomness added to input `j`, column `k`.
    pub fn randomness(&self) -> &[Vec<Scalar>] {
        &self.randomness
    }
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Witness {{ n: {}, w: {}, .. }}",
            self.permutation.len(),
            self.randomness.first().map_or(0, Vec::len)
        )
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        self.permutation.zeroize();
        for row in &mut self.randomness {
            wipe(row);
        }
    }
}

/// Wipes the prover's secret scalars.
fn wipe(scalars: &mut [Scalar]) {
    for s in scalars {
        s.zeroize();
    }
}

/// A Terelius–Wikström shuffle proof for `N` positions of width `w`. The per-position
/// lists are what `mix` chunks carry; the rest is what `mix_proof` carries (§4.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShuffleProof {
    /// `c_j`, the commitment to the permutation, one per input (`N`).
    pub c: Vec<RistrettoPoint>,
    /// `ĉ_i`, the commitment chain, one per output (`N`).
    pub chat: Vec<RistrettoPoint>,
    /// `t̂_i` (`N`).
    pub that: Vec<RistrettoPoint>,
    /// `ŝ_i` (`N`).
    pub shat: Vec<Scalar>,
    /// `s'_i` (`N`).
    pub sprime: Vec<Scalar>,
    /// `t₁`.
    pub t1: RistrettoPoint,
    /// `t₂`.
    pub t2: RistrettoPoint,
    /// `t₃`.
    pub t3: RistrettoPoint,
    /// `t₄,k = (t₄α_k, t₄β_k)`, one pair per column (`w`).
    pub t4: Vec<(RistrettoPoint, RistrettoPoint)>,
    /// `s₁`.
    pub s1: Scalar,
    /// `s₂`.
    pub s2: Scalar,
    /// `s₃`.
    pub s3: Scalar,
    /// `s₄,k`, one per column (`w`).
    pub s4: Vec<Scalar>,
}

/// The hex form of a [`ShuffleProof`], with the member names of the `mix` and
/// `mix_proof` events: points and scalars as 64 lowercase hex characters, each `t4`
/// entry as 128 (`t₄α ‖ t₄β`, like a ciphertext).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShuffleProofHex {
    /// `c_j` (per position).
    pub c: Vec<String>,
    /// `ĉ_i` (per position).
    pub chat: Vec<String>,
    /// `t̂_i` (per position).
    pub that: Vec<String>,
    /// `ŝ_i` (per position).
    pub shat: Vec<String>,
    /// `s'_i` (per position).
    pub sprime: Vec<String>,
    /// `t₁`.
    pub t1: String,
    /// `t₂`.
    pub t2: String,
    /// `t₃`.
    pub t3: String,
    /// `t₄α_k ‖ t₄β_k` per column.
    pub t4: Vec<String>,
    /// `s₁`.
    pub s1: String,
    /// `s₂`.
    pub s2: String,
    /// `s₃`.
    pub s3: String,
    /// `s₄,k` per column.
    pub s4: Vec<String>,
}

impl ShuffleProof {
    /// The number of positions `N`.
    pub fn n(&self) -> usize {
        self.c.len()
    }

    /// The width `w`.
    pub fn width(&self) -> usize {
        self.t4.len()
    }

    /// The byte form: `u64be(N) ‖ u64be(w) ‖ c₁…c_N ‖ ĉ₁…ĉ_N ‖ t̂₁…t̂_N ‖ ŝ₁…ŝ_N ‖
    /// s'₁…s'_N ‖ t₁ ‖ t₂ ‖ t₃ ‖ (t₄α_k ‖ t₄β_k)ₖ ‖ s₁ ‖ s₂ ‖ s₃ ‖ s₄,₁…s₄,w`, every member
    /// 32 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (n, w) = (self.n(), self.width());
        let mut out = Vec::with_capacity(proof_len(n, w).unwrap_or(0));
        out.extend_from_slice(&group::u64be(n as u64));
        out.extend_from_slice(&group::u64be(w as u64));
        for list in [&self.c, &self.chat, &self.that] {
            for p in list {
                out.extend_from_slice(&group::point_bytes(p));
            }
        }
        for list in [&self.shat, &self.sprime] {
            for s in list {
                out.extend_from_slice(s.as_bytes());
            }
        }
        for p in [&self.t1, &self.t2, &self.t3] {
            out.extend_from_slice(&group::point_bytes(p));
        }
        for (a, b) in &self.t4 {
            out.extend_from_slice(&group::point_bytes(a));
            out.extend_from_slice(&group::point_bytes(b));
        }
        for s in [&self.s1, &self.s2, &self.s3] {
            out.extend_from_slice(s.as_bytes());
        }
        for s in &self.s4 {
            out.extend_from_slice(s.as_bytes());
        }
        out
    }

    /// Decodes [`ShuffleProof::to_bytes`]: the exact length for its `N` and `w`, with
    /// `N ≥ 1`, `w ≥ 1`, canonical points and scalars.
    pub fn from_bytes(bytes: &[u8]) -> Result<ShuffleProof, ShuffleError> {
        let header = |at: usize| -> Result<usize, ShuffleError> {
            let raw: [u8; 8] = bytes
                .get(at..at + 8)
                .and_then(|s| s.try_into().ok())
                .ok_or(ShuffleError::Malformed)?;
            usize::try_from(u64::from_be_bytes(raw)).map_err(|_| ShuffleError::Malformed)
        };
        let (n, w) = (header(0)?, header(8)?);
        if n == 0 {
            return Err(ShuffleError::Empty);
        }
        if w == 0 {
            return Err(ShuffleError::Width);
        }
        if proof_len(n, w) != Some(bytes.len()) {
            return Err(ShuffleError::Malformed);
        }
        let mut reader = Reader(bytes[16..].chunks_exact(32));
        let c = reader.points(n)?;
        let chat = reader.points(n)?;
        let that = reader.points(n)?;
        let shat = reader.scalars(n)?;
        let sprime = reader.scalars(n)?;
        let (t1, t2, t3) = (reader.point()?, reader.point()?, reader.point()?);
        let t4 = (0..w)
            .map(|_| Ok((reader.point()?, reader.point()?)))
            .collect::<Result<Vec<_>, GroupError>>()?;
        let (s1, s2, s3) = (reader.scalar()?, reader.scalar()?, reader.scalar()?);
        let s4 = reader.scalars(w)?;
        Ok(ShuffleProof {
            c,
            chat,
            that,
            shat,
            sprime,
            t1,
            t2,
            t3,
            t4,
            s1,
            s2,
            s3,
            s4,
        })
    }

    /// The hex form, member by member.
    pub fn to_hex(&self) -> ShuffleProofHex {
        let points = |v: &[RistrettoPoint]| v.iter().map(group::point_hex).collect();
        let scalars = |v: &[Scalar]| v.iter().map(group::scalar_hex).collect();
        ShuffleProofHex {
            c: points(&self.c),
            chat: points(&self.chat),
            that: points(&self.that),
            shat: scalars(&self.shat),
            sprime: scalars(&self.sprime),
            t1: group::point_hex(&self.t1),
            t2: group::point_hex(&self.t2),
            t3: group::point_hex(&self.t3),
            t4: self
                .t4
                .iter()
                .map(|(a, b)| group::point_hex(a) + &group::point_hex(b))
                .collect(),
            s1: group::scalar_hex(&self.s1),
            s2: group::scalar_hex(&self.s2),
            s3: group::scalar_hex(&self.s3),
            s4: scalars(&self.s4),
        }
    }

    /// Decodes the hex form: canonical points and scalars in lowercase hex, `N ≥ 1`
    /// entries in each per-position list and `w ≥ 1` in `t4` and `s4`.
    pub fn from_hex(hex: &ShuffleProofHex) -> Result<ShuffleProof, ShuffleError> {
        let n = hex.c.len();
        if n == 0 {
            return Err(ShuffleError::Empty);
        }
        let w = hex.t4.len();
        if w == 0 {
            return Err(ShuffleError::Width);
        }
        for (what, list) in [
            ("chat", &hex.chat),
            ("that", &hex.that),
            ("shat", &hex.shat),
            ("sprime", &hex.sprime),
        ] {
            expect_len(what, n, list.len())?;
        }
        expect_len("s4", w, hex.s4.len())?;
        let points = |v: &[String]| -> Result<Vec<RistrettoPoint>, GroupError> {
            v.iter().map(|p| group::point_from_hex(p)).collect()
        };
        let scalars = |v: &[String]| -> Result<Vec<Scalar>, GroupError> {
            v.iter().map(|s| group::scalar_from_hex(s)).collect()
        };
        let t4 = hex
            .t4
            .iter()
            .map(|pair| Ciphertext::from_hex(pair).map(|ct| (ct.alpha, ct.beta)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ShuffleProof {
            c: points(&hex.c)?,
            chat: points(&hex.chat)?,
            that: points(&hex.that)?,
            shat: scalars(&hex.shat)?,
            sprime: scalars(&hex.sprime)?,
            t1: group::point_from_hex(&hex.t1)?,
            t2: group::point_from_hex(&hex.t2)?,
            t3: group::point_from_hex(&hex.t3)?,
            t4,
            s1: group::scalar_from_hex(&hex.s1)?,
            s2: group::scalar_from_hex(&hex.s2)?,
            s3: group::scalar_from_hex(&hex.s3)?,
            s4: scalars(&hex.s4)?,
        })
    }
}

/// Reads 32-byte members in order from bytes whose length was checked.
struct Reader<'a>(std::slice::ChunksExact<'a, u8>);

impl Reader<'_> {
    fn next(&mut self) -> [u8; 32] {
        // The length was checked against N and w, so a short read cannot happen; should
        // it, 0xff… is neither a canonical point nor a canonical scalar.
        self.0
            .next()
            .and_then(|c| c.try_into().ok())
            .unwrap_or([0xff; 32])
    }

    fn point(&mut self) -> Result<RistrettoPoint, GroupError> {
        group::point_from_bytes(&self.next())
    }

    fn scalar(&mut self) -> Result<Scalar, GroupError> {
        group::scalar_from_bytes(&self.next())
    }

    fn points(&mut self, n: usize) -> Result<Vec<RistrettoPoint>, GroupError> {
        (0..n).map(|_| self.point()).collect()
    }

    fn scalars(&mut self, n: usize) -> Result<Vec<Scalar>, GroupError> {
        (0..n).map(|_| self.scalar()).collect()
    }
}

/// The length of [`ShuffleProof::to_bytes`] for `N` and `w`, if it fits in memory.
fn proof_len(n: usize, w: usize) -> Option<usize> {
    // 16 header bytes, 5 members per position, 3 + 2w points and 3 + w scalars.
    let per_position = n.checked_mul(5 * 32)?;
    let per_column = w.checked_mul(3 * 32)?;
    16usize
        .checked_add(per_position)?
        .checked_add(per_column)?
        .checked_add(6 * 32)
}

fn expect_len(what: &'static str, expected: usize, found: usize) -> Result<(), ShuffleError> {
    if expected == found {
        Ok(())
    } else {
        Err(ShuffleError::Length {
            what,
            expected,
            found,
        })
    }
}

/// `N` and `w` of a list of ciphertext vectors: `N ≥ 1`, every vector of width `w ≥ 1`.
fn shape(list: &[Vec<Ciphertext>]) -> Result<(usize, usize), ShuffleError> {
    let w = list.first().ok_or(ShuffleError::Empty)?.len();
    if w == 0 || list.iter().any(|row| row.len() != w) {
        return Err(ShuffleError::Width);
    }
    // The prover's seed index packs a role above 32 bits of position.
    if list.len() >= 1 << 32 {
        return Err(ShuffleError::Length {
            what: "inputs",
            expected: (1 << 32) - 1,
            found: list.len(),
        });
    }
    Ok((list.len(), w))
}

/// `(N, w)` of a mix whose inputs and outputs must have the same shape.
fn mix_shape(
    inputs: &[Vec<Ciphertext>],
    outputs: &[Vec<Ciphertext>],
) -> Result<(usize, usize), ShuffleError> {
    let (n, w) = shape(inputs)?;
    expect_len("outputs", n, outputs.len())?;
    if outputs.iter().any(|row| row.len() != w) {
        return Err(ShuffleError::Width);
    }
    Ok((n, w))
}

/// `H = Gen(cid ‖ "shuffle-h", 0)` and `h_i = Gen(cid ‖ "shuffle-h", i)` for `i = 1..N`.
pub fn generators(consultation: &[u8; 32], n: usize) -> (RistrettoPoint, Vec<RistrettoPoint>) {
    let mut label = Vec::with_capacity(32 + GENERATOR_NAME.len());
    label.extend_from_slice(consultation);
    label.extend_from_slice(GENERATOR_NAME);
    let h = group::r#gen(&label, 0);
    let hs = (1..=n as u64).map(|i| group::r#gen(&label, i)).collect();
    (h, hs)
}

/// A uniform integer in `0..m` from a seed, for step `i` of the permutation: the
/// integer value of `seeded_scalar(PERMUTE, seed, i)` (a number below ℓ ≈ 2²⁵²) reduced
/// mod `m`. The bias, below `m / ℓ`, is negligible.
fn draw_below(seed: &[u8; 32], i: usize, m: usize) -> usize {
    let x = group::seeded_scalar(seed_tags::PERMUTE, seed, i as u64);
    let m = m as u128;
    let mut acc: u128 = 0;
    for byte in x.as_bytes().iter().rev() {
        acc = ((acc << 8) | u128::from(*byte)) % m;
    }
    acc as usize
}

/// A point multiplied by many secret scalars: through a precomputed table when there
/// are enough products to pay for it (building one costs about 30 products).
enum FixedBase {
    Table(Box<RistrettoBasepointTable>),
    Point(RistrettoPoint),
}

impl FixedBase {
    fn new(point: &RistrettoPoint, n_products: usize) -> FixedBase {
        if n_products >= 32 {
            FixedBase::Table(Box::new(RistrettoBasepointTable::create(point)))
        } else {
            FixedBase::Point(*point)
        }
    }

    fn mul(&self, scalar: &Scalar) -> RistrettoPoint {
        match self {
            FixedBase::Table(table) => table.as_ref() * scalar,
            FixedBase::Point(point) => point * scalar,
        }
    }
}

/// `GenPermutation(N)` with the seed's draws: Fisher–Yates from the front, as CHVote.
fn permutation(n: usize, seed: &[u8; 32]) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..n).collect();
    let mut psi = Vec::with_capacity(n);
    for i in 0..n {
        let k = i + draw_below(seed, i, n - i);
        psi.push(pool[k]);
        pool[k] = pool[i];
    }
    psi
}

/// `GenShuffle`: permutes the input vectors and re-encrypts every element under `y`,
/// with the permutation and randomness derived from `seed` (use each seed once). Output
/// `i` is input `ψ(i)` with `(α + r'·B, β + r'·Y)` added element by element.
pub fn shuffle(
    y: &RistrettoPoint,
    inputs: &[Vec<Ciphertext>],
    seed: &[u8; 32],
) -> Result<(Vec<Vec<Ciphertext>>, Witness), ShuffleError> {
    let (n, w) = shape(inputs)?;
    let psi = permutation(n, seed);
    let randomness: Vec<Vec<Scalar>> = (0..n)
        .map(|j| {
            (0..w)
                .map(|k| group::seeded_scalar(seed_tags::REENCRYPT, seed, (j * w + k) as u64))
                .collect()
        })
        .collect();
    let y_table = FixedBase::new(y, n * w);
    let outputs = psi
        .iter()
        .map(|&j| {
            inputs[j]
                .iter()
                .zip(&randomness[j])
                .map(|(e, r)| Ciphertext {
                    alpha: e.alpha + RISTRETTO_BASEPOINT_TABLE * r,
                    beta: e.beta + y_table.mul(r),
                })
                .collect()
        })
        .collect();
    Ok((
        outputs,
        Witness {
            permutation: psi,
            randomness,
        },
    ))
}

/// The verifier's public coins of a proof, recomputed from the statement and the proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenges {
    /// `seed = SHA-512(shuffle-u ‖ cid ‖ Y ‖ u64be(N) ‖ u64be(w) ‖ inputs ‖ outputs ‖ c)`.
    pub seed: [u8; 64],
    /// `u_j = Hs(shuffle-u, seed ‖ u64be(j))` for `j = 1..N`.
    pub u: Vec<Scalar>,
    /// `c = Hs(shuffle-c, seed ‖ ĉ₁…ĉ_N ‖ t₁ ‖ t₂ ‖ t₃ ‖ (t₄α_k ‖ t₄β_k)ₖ ‖ t̂₁…t̂_N)`.
    pub c: Scalar,
}

fn hash_ciphertexts(hasher: &mut Sha512, list: &[Vec<Ciphertext>]) {
    for row in list {
        for e in row {
            hasher.update(e.to_bytes());
        }
    }
}

/// The `seed` of the transcript and the weights `u_j` (1-based `j` in the hash).
fn seed_and_u(
    consultation: &[u8; 32],
    y: &RistrettoPoint,
    inputs: &[Vec<Ciphertext>],
    outputs: &[Vec<Ciphertext>],
    w: usize,
    c: &[RistrettoPoint],
) -> ([u8; 64], Vec<Scalar>) {
    let mut hasher = Sha512::new();
    hasher.update(tags::SHUFFLE_U);
    hasher.update(consultation);
    hasher.update(group::point_bytes(y));
    hasher.update(group::u64be(inputs.len() as u64));
    hasher.update(group::u64be(w as u64));
    hash_ciphertexts(&mut hasher, inputs);
    hash_ciphertexts(&mut hasher, outputs);
    for p in c {
        hasher.update(group::point_bytes(p));
    }
    let seed: [u8; 64] = hasher.finalize().into();
    let u = (1..=inputs.len() as u64)
        .map(|j| group::hs(tags::SHUFFLE_U, &[&seed, &group::u64be(j)]))
        .collect();
    (seed, u)
}

/// The challenge `c` over the seed, the chain and the prover's commitments.
fn challenge(
    seed: &[u8; 64],
    chat: &[RistrettoPoint],
    t1: &RistrettoPoint,
    t2: &RistrettoPoint,
    t3: &RistrettoPoint,
    t4: &[(RistrettoPoint, RistrettoPoint)],
    that: &[RistrettoPoint],
) -> Scalar {
    let mut hasher = Sha512::new();
    hasher.update(tags::SHUFFLE_C);
    hasher.update(seed);
    for p in chat {
        hasher.update(group::point_bytes(p));
    }
    for p in [t1, t2, t3] {
        hasher.update(group::point_bytes(p));
    }
    for (a, b) in t4 {
        hasher.update(group::point_bytes(a));
        hasher.update(group::point_bytes(b));
    }
    for p in that {
        hasher.update(group::point_bytes(p));
    }
    let wide: [u8; 64] = hasher.finalize().into();
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// Checks that a proof has the shape of the mix it claims to prove.
fn proof_shape(proof: &ShuffleProof, n: usize, w: usize) -> Result<(), ShuffleError> {
    expect_len("c", n, proof.c.len())?;
    expect_len("chat", n, proof.chat.len())?;
    expect_len("that", n, proof.that.len())?;
    expect_len("shat", n, proof.shat.len())?;
    expect_len("sprime", n, proof.sprime.len())?;
    if proof.t4.len() != w || proof.s4.len() != w {
        return Err(ShuffleError::Width);
    }
    Ok(())
}

/// The public coins `seed`, `u` and `c` of a proof for this statement, as [`verify`]
/// computes them (for independent verifiers and their test vectors).
pub fn challenges(
    consultation: &[u8; 32],
    y: &RistrettoPoint,
    inputs: &[Vec<Ciphertext>],
    outputs: &[Vec<Ciphertext>],
    proof: &ShuffleProof,
) -> Result<Challenges, ShuffleError> {
    let (n, w) = mix_shape(inputs, outputs)?;
    proof_shape(proof, n, w)?;
    let (seed, u) = seed_and_u(consultation, y, inputs, outputs, w, &proof.c);
    let c = challenge(
        &seed,
        &proof.chat,
        &proof.t1,
        &proof.t2,
        &proof.t3,
        &proof.t4,
        &proof.that,
    );
    Ok(Challenges { seed, u, c })
}

/// A prover's draw: `seeded_scalar(PROOF, seed, role·2³² + i)`.
fn draw(seed: &[u8; 32], role: Role, i: usize) -> Scalar {
    group::seeded_scalar(seed_tags::PROOF, seed, ((role as u64) << 32) | i as u64)
}

/// `Σ aᵢ·Pᵢ` in constant time (the scalars are secret), piece by piece.
fn ct_sum(scalars: &[Scalar], points: &[RistrettoPoint]) -> RistrettoPoint {
    scalars
        .chunks(256)
        .zip(points.chunks(256))
        .map(|(s, p)| RistrettoPoint::multiscalar_mul(s, p))
        .sum()
}

/// `Σ aᵢ·Pᵢ` in variable time (public inputs), with Pippenger, piece by piece.
fn vt_sum<'a>(
    scalars: impl Iterator<Item = Scalar>,
    points: impl Iterator<Item = &'a RistrettoPoint>,
) -> RistrettoPoint {
    let scalars: Vec<Scalar> = scalars.collect();
    let points: Vec<&RistrettoPoint> = points.collect();
    scalars
        .chunks(CHUNK)
        .zip(points.chunks(CHUNK))
        .map(|(s, p)| RistrettoPoint::vartime_multiscalar_mul(s, p.iter().copied()))
        .sum()
}

/// `GenShuffleProof`: proves that `outputs` are `inputs` permuted by the witness's `ψ`
/// and re-encrypted under `y` with its randomness, for consultation `consultation`.
/// The prover's draws come from `seed` (use each seed once; it may be the seed given
/// to [`shuffle`], whose draws use other tags). A witness that does not match the
/// outputs gives a proof that [`verify`] refuses.
pub fn prove(
    consultation: &[u8; 32],
    y: &RistrettoPoint,
    inputs: &[Vec<Ciphertext>],
    outputs: &[Vec<Ciphertext>],
    witness: &Witness,
    seed: &[u8; 32],
) -> Result<ShuffleProof, ShuffleError> {
    let (n, w) = mix_shape(inputs, outputs)?;
    expect_len("permutation", n, witness.permutation.len())?;
    expect_len("randomness", n, witness.randomness.len())?;
    if witness.randomness.iter().any(|row| row.len() != w) {
        return Err(ShuffleError::Width);
    }
    let mut by_output: Vec<Vec<Scalar>> = witness
        .permutation
        .iter()
        .map(|&j| witness.randomness[j].clone())
        .collect();
    let proof = prove_with_map(
        consultation,
        y,
        inputs,
        outputs,
        &witness.permutation,
        &by_output,
        seed,
    );
    for row in &mut by_output {
        wipe(row);
    }
    Ok(proof)
}

/// The prover's computation for any map `psi` from outputs to inputs (a permutation
/// for an honest prover; the tests also feed it maps that are not, to show that only
/// the commitment chain catches them), with `reenc[i]` the randomness of output `i`.
/// Sums over inputs are written as sums over outputs, which is the same for a
/// permutation and the best a cheating prover can do otherwise.
fn prove_with_map(
    consultation: &[u8; 32],
    y: &RistrettoPoint,
    inputs: &[Vec<Ciphertext>],
    outputs: &[Vec<Ciphertext>],
    psi: &[usize],
    reenc: &[Vec<Scalar>],
    seed: &[u8; 32],
) -> ShuffleProof {
    let (n, w) = (inputs.len(), inputs[0].len());
    let (h, hs) = generators(consultation, n);
    let h_table = FixedBase::new(&h, 2 * n);

    // GenPermutationCommitment: c_{ψ(i)} = r_{ψ(i)}·B + h_i.
    let mut r: Vec<Scalar> = (0..n)
        .map(|j| draw(seed, Role::CommitRandomness, j))
        .collect();
    let mut c = vec![RistrettoPoint::identity(); n];
    for (i, &j) in psi.iter().enumerate() {
        c[j] += RISTRETTO_BASEPOINT_TABLE * &r[j] + hs[i];
    }

    let (seed_u, u) = seed_and_u(consultation, y, inputs, outputs, w, &c);
    let u_prime: Vec<Scalar> = psi.iter().map(|&j| u[j]).collect();

    // GenCommitmentChain(H, u'): ĉ_i = r̂_i·B + u'_i·ĉ_{i−1}, ĉ_0 = H. Written in closed
    // form ĉ_i = R_i·B + U_i·H, with R_i = r̂_i + u'_i·R_{i−1} and U_i = u'_i·U_{i−1}
    // (R_0 = 0, U_0 = 1), so that every product is by a fixed base.
    let mut r_hat: Vec<Scalar> = (0..n)
        .map(|i| draw(seed, Role::ChainRandomness, i))
        .collect();
    let mut big_r = Vec::with_capacity(n + 1);
    let mut big_u = Vec::with_capacity(n + 1);
    big_r.push(Scalar::ZERO);
    big_u.push(Scalar::ONE);
    for i in 0..n {
        big_r.push(r_hat[i] + u_prime[i] * big_r[i]);
        big_u.push(u_prime[i] * big_u[i]);
    }
    let fixed = |a: &Scalar, b: &Scalar| RISTRETTO_BASEPOINT_TABLE * a + h_table.mul(b);
    let chat: Vec<RistrettoPoint> = (1..=n).map(|i| fixed(&big_r[i], &big_u[i])).collect();

    // Commitments.
    let mut omega: Vec<Scalar> = (0..3).map(|i| draw(seed, Role::Omega, i)).collect();
    let mut omega4: Vec<Scalar> = (0..w).map(|k| draw(seed, Role::Omega4, k)).collect();
    let mut omega_hat: Vec<Scalar> = (0..n).map(|i| draw(seed, Role::OmegaHat, i)).collect();
    let mut omega_prime: Vec<Scalar> = (0..n).map(|i| draw(seed, Role::OmegaPrime, i)).collect();
    let t1 = RISTRETTO_BASEPOINT_TABLE * &omega[0];
    let t2 = RISTRETTO_BASEPOINT_TABLE * &omega[1];
    let t3 = RISTRETTO_BASEPOINT_TABLE * &omega[2] + ct_sum(&omega_prime, &hs);
    let t4: Vec<(RistrettoPoint, RistrettoPoint)> = (0..w)
        .map(|k| {
            let alphas: Vec<RistrettoPoint> = outputs.iter().map(|row| row[k].alpha).collect();
            let betas: Vec<RistrettoPoint> = outputs.iter().map(|row| row[k].beta).collect();
            (
                ct_sum(&omega_prime, &alphas) - RISTRETTO_BASEPOINT_TABLE * &omega4[k],
                ct_sum(&omega_prime, &betas) - y * omega4[k],
            )
        })
        .collect();
    // t̂_i = ω̂_i·B + ω'_i·ĉ_{i−1} = (ω̂_i + ω'_i·R_{i−1})·B + (ω'_i·U_{i−1})·H.
    let that: Vec<RistrettoPoint> = (0..n)
        .map(|i| {
            fixed(
                &(omega_hat[i] + omega_prime[i] * big_r[i]),
                &(omega_prime[i] * big_u[i]),
            )
        })
        .collect();

    let ch = challenge(&seed_u, &chat, &t1, &t2, &t3, &t4, &that);

    // Responses.
    // r̄ = Σ_j r_j and r̃ = Σ_j r_j·u_j, summed over the outputs' inputs.
    let r_bar: Scalar = psi.iter().map(|&j| r[j]).sum();
    let r_tilde: Scalar = psi.iter().map(|&j| r[j] * u[j]).sum();
    let s1 = omega[0] + ch * r_bar;
    // r̂ = Σ r̂_i·v_i with v_i = Π_{k>i} u'_k, which is R_N.
    let s2 = omega[1] + ch * big_r[n];
    let s3 = omega[2] + ch * r_tilde;
    let s4: Vec<Scalar> = (0..w)
        .map(|k| {
            // r'_k = Σ_j r'_{j,k}·u_j = Σ_i r'_{ψ(i),k}·u'_i.
            let r_prime: Scalar = reenc.iter().zip(&u_prime).map(|(row, u)| row[k] * u).sum();
            omega4[k] + ch * r_prime
        })
        .collect();
    let shat: Vec<Scalar> = (0..n).map(|i| omega_hat[i] + ch * r_hat[i]).collect();
    let sprime: Vec<Scalar> = (0..n).map(|i| omega_prime[i] + ch * u_prime[i]).collect();

    for secrets in [
        &mut r,
        &mut r_hat,
        &mut big_r,
        &mut omega,
        &mut omega4,
        &mut omega_hat,
        &mut omega_prime,
    ] {
        wipe(secrets);
    }

    ShuffleProof {
        c,
        chat,
        that,
        shat,
        sprime,
        t1,
        t2,
        t3,
        t4,
        s1,
        s2,
        s3,
        s4,
    }
}

/// `CheckShuffleProof`: accepts only if `proof` shows that `outputs` are a permutation
/// of `inputs`, each vector re-encrypted under `y`, for consultation `consultation`.
///
/// Refuses a mix of the wrong shape and a proof whose equations do not hold, both
/// `bad_shuffle`. Points are decoded before they get here, so every point is in the
/// group.
pub fn verify(
    consultation: &[u8; 32],
    y: &RistrettoPoint,
    inputs: &[Vec<Ciphertext>],
    outputs: &[Vec<Ciphertext>],
    proof: &ShuffleProof,
) -> Result<(), ShuffleError> {
    let coins = challenges(consultation, y, inputs, outputs, proof)?;
    equations(consultation, y, inputs, outputs, proof, &coins)
        .map_err(|_failed| ShuffleError::BadShuffle)
}

/// The first verification equation found false.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Equation {
    T1,
    T2,
    T3,
    T4(usize),
    THat(usize),
}

/// Checks the equations of `CheckShuffleProof`, in its order, for a proof of the right
/// shape.
fn equations(
    consultation: &[u8; 32],
    y: &RistrettoPoint,
    inputs: &[Vec<Ciphertext>],
    outputs: &[Vec<Ciphertext>],
    proof: &ShuffleProof,
    coins: &Challenges,
) -> Result<(), Equation> {
    let (u, c) = (&coins.u, coins.c);
    let (n, w) = (inputs.len(), inputs[0].len());
    let (h, hs) = generators(consultation, n);
    let minus_c = -c;
    let holds = |ok: bool, which: Equation| if ok { Ok(()) } else { Err(which) };

    // t₁ = s₁·B − c·c̄, with c̄ = Σ c_j − Σ h_i.
    let c_bar = proof.c.iter().sum::<RistrettoPoint>() - hs.iter().sum::<RistrettoPoint>();
    let t1 = RistrettoPoint::vartime_double_scalar_mul_basepoint(&minus_c, &c_bar, &proof.s1);
    holds(proof.t1 == t1, Equation::T1)?;

    // t₂ = s₂·B − c·ĉ, with ĉ = ĉ_N − (Π u_j)·H.
    let u_prod: Scalar = u.iter().product();
    let t2 = RistrettoPoint::vartime_multiscalar_mul(
        [proof.s2, minus_c, c * u_prod],
        [B, proof.chat[n - 1], h],
    );
    holds(proof.t2 == t2, Equation::T2)?;

    // t₃ = s₃·B + Σ s'_i·h_i − c·Σ u_j·c_j.
    let minus_cu: Vec<Scalar> = u.iter().map(|u| minus_c * u).collect();
    let t3 = RistrettoPoint::mul_base(&proof.s3)
        + vt_sum(
            proof.sprime.iter().chain(&minus_cu).copied(),
            hs.iter().chain(&proof.c),
        );
    holds(proof.t3 == t3, Equation::T3)?;

    // Per column k:
    // t₄α_k = −s₄,k·B + Σ s'_i·α'_{i,k} − c·Σ u_j·α_{j,k},
    // t₄β_k = −s₄,k·Y + Σ s'_i·β'_{i,k} − c·Σ u_j·β_{j,k}.
    for k in 0..w {
        let weights = || proof.sprime.iter().chain(&minus_cu).copied();
        let alpha = vt_sum(
            weights(),
            outputs.iter().chain(inputs).map(|row| &row[k].alpha),
        ) - RistrettoPoint::mul_base(&proof.s4[k]);
        let beta = vt_sum(
            weights(),
            outputs.iter().chain(inputs).map(|row| &row[k].beta),
        ) - y * proof.s4[k];
        holds(proof.t4[k] == (alpha, beta), Equation::T4(k))?;
    }

    // t̂_i = ŝ_i·B + s'_i·ĉ_{i−1} − c·ĉ_i, with ĉ_0 = H.
    let base = VartimeRistrettoPrecomputation::new([B]);
    for i in 0..n {
        let previous = if i == 0 { h } else { proof.chat[i - 1] };
        let t_hat = base.vartime_mixed_multiscalar_mul(
            [proof.shat[i]],
            [proof.sprime[i], minus_c],
            [previous, proof.chat[i]],
        );
        holds(proof.that[i] == t_hat, Equation::THat(i))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: [u8; 32] = [9; 32];

    fn key() -> (Scalar, RistrettoPoint) {
        let x = group::seeded_scalar(tags::SEED_KEY, &[1; 32], 0);
        (x, RistrettoPoint::mul_base(&x))
    }

    fn ballots(y: &RistrettoPoint, n: usize, w: usize) -> Vec<Vec<Ciphertext>> {
        (0..n)
            .map(|j| {
                (0..w)
                    .map(|k| {
                        let m = RistrettoPoint::mul_base(&Scalar::from((j % 3 + k) as u64));
                        let r =
                            group::seeded_scalar(tags::SEED_ENCRYPT, &[2; 32], (j * w + k) as u64);
                        Ciphertext::encrypt(y, &m, &r)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn an_honest_mix_verifies_and_binds_its_context() {
        let (_, y) = key();
        for (n, w) in [(1, 1), (2, 1), (5, 2), (4, 3)] {
            let inputs = ballots(&y, n, w);
            let (outputs, witness) = shuffle(&y, &inputs, &[3; 32]).expect("shuffle");
            let proof = prove(&CID, &y, &inputs, &outputs, &witness, &[4; 32]).expect("prove");
            assert_eq!(verify(&CID, &y, &inputs, &outputs, &proof), Ok(()));
            assert_eq!(
                ShuffleProof::from_bytes(&proof.to_bytes()),
                Ok(proof.clone())
            );
            assert_eq!(ShuffleProof::from_hex(&proof.to_hex()), Ok(proof.clone()));
            // Another consultation, another key: refused.
            assert_eq!(
                verify(&[8; 32], &y, &inputs, &outputs, &proof),
                Err(ShuffleError::BadShuffle)
            );
            let other = RistrettoPoint::mul_base(&Scalar::from(5u64));
            assert_eq!(
                verify(&CID, &other, &inputs, &outputs, &proof),
                Err(ShuffleError::BadShuffle)
            );
        }
    }

    #[test]
    fn a_map_that_is_not_a_permutation_fails_the_product_check() {
        // A cheater that duplicates input 0 into outputs 0 and 1 and drops input 1,
        // committing to that map: t₁ (the sum of the commitments) still holds, and the
        // chain's product check t₂ (Π u'_i = Π u_j) is the first to refuse it.
        let (_, y) = key();
        let (n, w) = (4, 2);
        let inputs = ballots(&y, n, w);
        let psi = [0, 0, 2, 3];
        let reenc: Vec<Vec<Scalar>> = (0..n)
            .map(|j| {
                (0..w)
                    .map(|k| Scalar::from((10 + j * w + k) as u64))
                    .collect()
            })
            .collect();
        let outputs: Vec<Vec<Ciphertext>> = psi
            .iter()
            .enumerate()
            .map(|(i, &j)| {
                inputs[j]
                    .iter()
                    .zip(&reenc[i])
                    .map(|(e, r)| e.rerandomize(&y, r))
                    .collect()
            })
            .collect();
        let proof = prove_with_map(&CID, &y, &inputs, &outputs, &psi, &reenc, &[5; 32]);
        let coins = challenges(&CID, &y, &inputs, &outputs, &proof).expect("shape");
        assert_eq!(
            equations(&CID, &y, &inputs, &outputs, &proof, &coins),
            Err(Equation::T2)
        );
        assert_eq!(
            verify(&CID, &y, &inputs, &outputs, &proof),
            Err(ShuffleError::BadShuffle)
        );
        // The same prover with an honest permutation is accepted.
        let psi = [1, 0, 2, 3];
        let outputs: Vec<Vec<Ciphertext>> = psi
            .iter()
            .enumerate()
            .map(|(i, &j)| {
                inputs[j]
                    .iter()
                    .zip(&reenc[i])
                    .map(|(e, r)| e.rerandomize(&y, r))
                    .collect()
            })
            .collect();
        let proof = prove_with_map(&CID, &y, &inputs, &outputs, &psi, &reenc, &[5; 32]);
        assert_eq!(verify(&CID, &y, &inputs, &outputs, &proof), Ok(()));
    }

    #[test]
    fn shapes_are_checked_before_anything() {
        let (_, y) = key();
        assert_eq!(shuffle(&y, &[], &[0; 32]).err(), Some(ShuffleError::Empty));
        let mut ragged = ballots(&y, 3, 2);
        ragged[1].pop();
        assert_eq!(
            shuffle(&y, &ragged, &[0; 32]).err(),
            Some(ShuffleError::Width)
        );
        let inputs = ballots(&y, 3, 1);
        let (outputs, witness) = shuffle(&y, &inputs, &[0; 32]).expect("shuffle");
        let proof = prove(&CID, &y, &inputs, &outputs, &witness, &[1; 32]).expect("prove");
        assert_eq!(
            verify(&CID, &y, &inputs, &outputs[..2], &proof).map_err(|e| e.code()),
            Err("bad_shuffle")
        );
        let mut bytes = proof.to_bytes();
        bytes.pop();
        assert_eq!(
            ShuffleProof::from_bytes(&bytes),
            Err(ShuffleError::Malformed)
        );
        assert_eq!(ShuffleError::Malformed.code(), "malformed");
        assert_eq!(
            ShuffleError::Group(GroupError::BadPoint).code(),
            "bad_point"
        );
    }

    #[test]
    fn the_permutation_draw_is_fisher_yates() {
        let psi = permutation(50, &[7; 32]);
        let mut sorted = psi.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(psi, (0..50).collect::<Vec<_>>());
        assert_eq!(permutation(1, &[7; 32]), vec![0]);
    }
}
