//! Zero-knowledge proofs of the secret ballots, made non-interactive with Fiat–Shamir
//! over [`group::hs`] (SECRET-BALLOTS.md §4.1, §4.2, §4.4, §4.6, §4.10; PROTOCOL.md,
//! "Secret ballots: group, encodings and proofs").
//!
//! - [`SchnorrProof`]: knowledge of `x` with `X = x·B` (a trustee's encryption key, a
//!   dealer's constant coefficient), challenge `Hs(dkg-pok, ctx ‖ X ‖ K)`.
//! - [`BallotPok`]: knowledge of the randomness of every ciphertext of a sealed ballot,
//!   with one challenge bound to the consultation, the layout and the author, so that a
//!   copied or re-randomised ciphertext cannot be proven by anyone else (Belenios's
//!   "raweg" proof, batched).
//! - [`DleqProof`]: Chaum–Pedersen, `log_P X = log_Q D`, in the `(c, s)` form used by
//!   Belenios and ElectionGuard; it cannot be batch-verified (design §8).
//!
//! Provers take a 32-byte seed and derive their nonces with [`group::seeded_scalar`]
//! under [`tags::SEED_NONCE`]; they never draw randomness. Verifiers are variable-time
//! (every input is public) and return a [`ProofError`] with a stable code. What a proof
//! is *about* (which key, which event) is for the callers: DKG, admission and audit.
#![deny(missing_docs)]

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;

use crate::elgamal::Ciphertext;
use crate::group::{self, tags};

/// Why a proof was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// A Schnorr proof or a sealed ballot's proof of knowledge does not verify.
    #[error("the proof of knowledge does not verify")]
    BadPok,
    /// A Chaum–Pedersen proof does not verify.
    #[error("the proof of equal discrete logarithms does not verify")]
    BadDleq,
    /// A sealed ballot's proof has not exactly one response per ciphertext, or none.
    #[error("the proof has not exactly one response per ciphertext")]
    Shape,
}

impl ProofError {
    /// The stable rejection code. The events that carry a proof may report their own
    /// code instead (`bad_encryption_key`, `bad_deal`, `bad_decryption_share`).
    pub fn code(&self) -> &'static str {
        match self {
            ProofError::BadPok => "bad_pok",
            ProofError::BadDleq => "bad_dleq",
            ProofError::Shape => "invalid_choice",
        }
    }
}

/// A Schnorr proof of knowledge of a discrete logarithm in base `B`: `(c, s)` with
/// `K = s·B − c·X` and `c = Hs(dkg-pok, ctx ‖ X ‖ K)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchnorrProof {
    /// The challenge.
    pub c: Scalar,
    /// The response `s = k + c·x`.
    pub s: Scalar,
}

fn schnorr_challenge(ctx: &[&[u8]], x_pub: &RistrettoPoint, k: &RistrettoPoint) -> Scalar {
    let x_bytes = group::point_bytes(x_pub);
    let k_bytes = group::point_bytes(k);
    let mut parts: Vec<&[u8]> = ctx.to_vec();
    parts.push(&x_bytes);
    parts.push(&k_bytes);
    group::hs(tags::DKG_POK, &parts)
}

impl SchnorrProof {
    /// Proves knowledge of `x` for `X = x·B` under the context `ctx` (fixed-size parts:
    /// the authority key for an encryption key, `cid ‖ u64be(i)` for a dealer).
    pub fn prove(ctx: &[&[u8]], x: &Scalar, seed: &[u8; 32]) -> SchnorrProof {
        let x_pub = RistrettoPoint::mul_base(x);
        let k = group::seeded_scalar(tags::SEED_NONCE, seed, 0);
        let c = schnorr_challenge(ctx, &x_pub, &RistrettoPoint::mul_base(&k));
        SchnorrProof { c, s: k + c * x }
    }

    /// Checks the proof for `X` under `ctx`.
    pub fn verify(&self, ctx: &[&[u8]], x_pub: &RistrettoPoint) -> Result<(), ProofError> {
        let k = RistrettoPoint::vartime_double_scalar_mul_basepoint(&-self.c, x_pub, &self.s);
        if schnorr_challenge(ctx, x_pub, &k) == self.c {
            Ok(())
        } else {
            Err(ProofError::BadPok)
        }
    }
}

/// What a sealed ballot's proof is bound to: `cid ‖ layout ‖ author`, three 32-byte
/// values (the consultation's event id, the layout's event id, the author's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BallotContext {
    /// The consultation's event id.
    pub consultation: [u8; 32],
    /// The `ballot_layout` event id.
    pub layout: [u8; 32],
    /// The ballot author's Ed25519 public key.
    pub author: [u8; 32],
}

/// The batched proof of knowledge of a sealed ballot: one challenge `c` and one response
/// `s_k` per ciphertext, with `K_k = s_k·B − c·α_k` and
/// `c = Hs(ballot-pok, cid ‖ layout ‖ author ‖ u64be(K) ‖ α₁ ‖ β₁ ‖ … ‖ α_K ‖ β_K ‖ K₁ ‖ … ‖ K_K)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotPok {
    /// The shared challenge.
    pub c: Scalar,
    /// One response per ciphertext, in the ballot's element order.
    pub s: Vec<Scalar>,
}

fn ballot_challenge(
    ctx: &BallotContext,
    ciphertexts: &[Ciphertext],
    commitments: &[RistrettoPoint],
) -> Scalar {
    let count = group::u64be(ciphertexts.len() as u64);
    let cts: Vec<[u8; 64]> = ciphertexts.iter().map(Ciphertext::to_bytes).collect();
    let ks: Vec<[u8; 32]> = commitments.iter().map(group::point_bytes).collect();
    let mut parts: Vec<&[u8]> = vec![&ctx.consultation, &ctx.layout, &ctx.author, &count];
    parts.extend(cts.iter().map(|c| c.as_slice()));
    parts.extend(ks.iter().map(|k| k.as_slice()));
    group::hs(tags::BALLOT_POK, &parts)
}

impl BallotPok {
    /// Proves knowledge of `r_k` with `α_k = r_k·B` for every ciphertext; the nonce of
    /// element k is `Hs(seed/nonce, seed ‖ u64be(k))`. `randomness` is in the order of
    /// `ciphertexts` and as long.
    pub fn prove(
        ctx: &BallotContext,
        ciphertexts: &[Ciphertext],
        randomness: &[Scalar],
        seed: &[u8; 32],
    ) -> BallotPok {
        assert_eq!(
            ciphertexts.len(),
            randomness.len(),
            "one randomness per ciphertext"
        );
        let nonces: Vec<Scalar> = (0..ciphertexts.len() as u64)
            .map(|k| group::seeded_scalar(tags::SEED_NONCE, seed, k))
            .collect();
        let commitments: Vec<RistrettoPoint> =
            nonces.iter().map(RistrettoPoint::mul_base).collect();
        let c = ballot_challenge(ctx, ciphertexts, &commitments);
        let s = nonces
            .iter()
            .zip(randomness)
            .map(|(k, r)| k + c * r)
            .collect();
        BallotPok { c, s }
    }

    /// Checks the proof over `ciphertexts` (at least one) under `ctx`.
    pub fn verify(
        &self,
        ctx: &BallotContext,
        ciphertexts: &[Ciphertext],
    ) -> Result<(), ProofError> {
        if ciphertexts.is_empty() || self.s.len() != ciphertexts.len() {
            return Err(ProofError::Shape);
        }
        let minus_c = -self.c;
        let commitments: Vec<RistrettoPoint> = ciphertexts
            .iter()
            .zip(&self.s)
            .map(|(ct, s)| {
                RistrettoPoint::vartime_double_scalar_mul_basepoint(&minus_c, &ct.alpha, s)
            })
            .collect();
        if ballot_challenge(ctx, ciphertexts, &commitments) == self.c {
            Ok(())
        } else {
            Err(ProofError::BadPok)
        }
    }
}

/// The statement of a Chaum–Pedersen proof: `X = x·P` and `D = x·Q` for one secret x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DleqStatement {
    /// The first base (`B` in every use of the protocol).
    pub p: RistrettoPoint,
    /// `x·P`: a public key (`E_j`, `Y_j`).
    pub x: RistrettoPoint,
    /// The second base (`R_ij` for a complaint, `α` for a decryption share).
    pub q: RistrettoPoint,
    /// `x·Q`: the revealed point (`d`).
    pub d: RistrettoPoint,
}

/// A Chaum–Pedersen proof `(c, s)`: with `A = s·P − c·X` and `Bq = s·Q − c·D`,
/// `c = Hs(dleq, ctx ‖ P ‖ X ‖ Q ‖ D ‖ A ‖ Bq)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DleqProof {
    /// The challenge.
    pub c: Scalar,
    /// The response `s = k + c·x`.
    pub s: Scalar,
}

fn dleq_challenge(
    ctx: &[&[u8]],
    st: &DleqStatement,
    a: &RistrettoPoint,
    bq: &RistrettoPoint,
) -> Scalar {
    let points: Vec<[u8; 32]> = [st.p, st.x, st.q, st.d, *a, *bq]
        .iter()
        .map(group::point_bytes)
        .collect();
    let mut parts: Vec<&[u8]> = ctx.to_vec();
    parts.extend(points.iter().map(|p| p.as_slice()));
    group::hs(tags::DLEQ, &parts)
}

impl DleqProof {
    /// Proves `log_P X = log_Q D = x` under `ctx` (fixed-size parts: `cid ‖ deal id` for a
    /// complaint, `cid ‖ seal_final id` for a decryption share).
    pub fn prove(ctx: &[&[u8]], st: &DleqStatement, x: &Scalar, seed: &[u8; 32]) -> DleqProof {
        let k = group::seeded_scalar(tags::SEED_NONCE, seed, 0);
        let c = dleq_challenge(ctx, st, &(k * st.p), &(k * st.q));
        DleqProof { c, s: k + c * x }
    }

    /// Checks the proof of `st` under `ctx`.
    pub fn verify(&self, ctx: &[&[u8]], st: &DleqStatement) -> Result<(), ProofError> {
        let minus_c = -self.c;
        let a = group::vartime_multiscalar_mul(&[self.s, minus_c], &[st.p, st.x]);
        let bq = group::vartime_multiscalar_mul(&[self.s, minus_c], &[st.q, st.d]);
        if dleq_challenge(ctx, st, &a, &bq) == self.c {
            Ok(())
        } else {
            Err(ProofError::BadDleq)
        }
    }
}

/// `(c, s)` as 64 bytes: `c ‖ s`, the layout of a Schnorr or DLEQ proof in vectors and
/// in flip-every-byte tests.
pub fn pair_bytes(c: &Scalar, s: &Scalar) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&c.to_bytes());
    out[32..].copy_from_slice(&s.to_bytes());
    out
}
