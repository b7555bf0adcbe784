//! The trustees' key generation and threshold decryption (SECRET-BALLOTS.md §4.4 and
//! §4.10): joint-Feldman (Pedersen) DKG with verifiable complaints, then Lagrange
//! recombination of decryption shares.
//!
//! Trustee j is the key at 1-based position j of the consultation's `trustees` list;
//! this module speaks only of those indices, of the trustees' encryption keys `E_j` and
//! of group elements. Turning events into [`Dealing`]s and complaints (and ids into the
//! 32-byte contexts) is admission's and the audit's work; drawing seeds, storing
//! secrets and deciding when to deal is the node's.
//!
//! - A dealer i draws `f_i(x) = a_i0 + … + a_i,t−1·x^{t−1}` from its seed, publishes
//!   `A_ik = a_ik·B`, a Schnorr proof of `a_i0` (ctx `cid ‖ u64be(i)`), and for each other
//!   trustee j the share `s_ij = f_i(j)` encrypted as `R_ij = k·B`,
//!   `σ_ij = s_ij + Hs(dkg-share, cid ‖ u64be(i) ‖ u64be(j) ‖ R_ij ‖ k·E_j)`.
//! - Receiver j opens `s_ij = σ_ij − Hs(…, e_j·R_ij)` and checks the Feldman equation
//!   `s_ij·B = Σ_k j^k·A_ik`. If it fails, j publishes `d = e_j·R_ij` with
//!   `DLEQ(B, E_j; R_ij, d)`, which lets anyone recompute `s_ij` and judge.
//! - `QUAL` is the valid deals minus the convicted dealers; `Y = Σ A_i0`,
//!   `Y_j = Σ_i Σ_k j^k·A_ik`, `x_j = Σ_i s_ij` over QUAL.
//! - A decryption share is `d = x_j·α` with `DLEQ(B, Y_j; α, d)`; any t of them give
//!   `M = β − Σ λ_j·d_j`, `λ_j = Π_{m≠j} m/(m−j)`.
#![deny(missing_docs)]

use std::collections::BTreeSet;

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::group::{self, B, tags, u64be};
use crate::proofs::{DleqProof, DleqStatement, ProofError, SchnorrProof};

/// The fewest and most trustees of a consultation (design §4.15).
pub const MIN_TRUSTEES: u64 = 2;
/// The most trustees of a consultation (design §4.15).
pub const MAX_TRUSTEES: u64 = 16;

/// Why a DKG message or a decryption input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DkgError {
    /// Not 2 ≤ t ≤ n ≤ 16, or an index outside 1..=n.
    #[error("the trustees or the threshold are out of range")]
    BadTrustees,
    /// A deal without t commitments, with a bad proof of knowledge, or without exactly
    /// one share for each other trustee in ascending order.
    #[error("the deal is malformed or its proof of knowledge does not verify")]
    BadDeal,
    /// The share a dealer sent to this trustee fails the Feldman check.
    #[error("the share does not match the dealer's commitments")]
    BadShare,
    /// A complaint whose DLEQ proof does not verify, or that names no share of the deal.
    #[error("the complaint's proof does not verify")]
    BadComplaint,
    /// A decryption share whose DLEQ proof does not verify.
    #[error("the decryption share's proof does not verify")]
    BadDecryptionShare,
    /// Fewer than t distinct QUAL trustees to recombine, or a repeated or zero index.
    #[error("too few distinct trustees to recombine")]
    TooFewShares,
}

impl DkgError {
    /// The stable rejection code.
    pub fn code(&self) -> &'static str {
        match self {
            DkgError::BadTrustees => "bad_trustees",
            DkgError::BadDeal => "bad_deal",
            DkgError::BadShare => "bad_share",
            DkgError::BadComplaint => "bad_complaint",
            DkgError::BadDecryptionShare => "bad_decryption_share",
            DkgError::TooFewShares => "too_few_shares",
        }
    }
}

/// The shape of a consultation's trustee set: n trustees, threshold t.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// The number of trustees, 2..=16.
    pub n: u64,
    /// The number of trustees needed to decrypt, 2..=n.
    pub t: u64,
}

impl Params {
    /// Checks `2 ≤ t ≤ n ≤ 16` (`bad_trustees`).
    pub fn new(n: u64, t: u64) -> Result<Params, DkgError> {
        if (MIN_TRUSTEES..=MAX_TRUSTEES).contains(&n) && (2..=n).contains(&t) {
            Ok(Params { n, t })
        } else {
            Err(DkgError::BadTrustees)
        }
    }

    fn check_index(&self, i: u64) -> Result<(), DkgError> {
        if (1..=self.n).contains(&i) {
            Ok(())
        } else {
            Err(DkgError::BadTrustees)
        }
    }
}

/// A secret scalar (a polynomial coefficient, a share `x_j`), wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret(pub Scalar);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// One encrypted share of a deal: for trustee `to`, `R = k·B` and `σ = s + pad`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptedShare {
    /// The recipient's 1-based index.
    pub to: u64,
    /// `R_ij = k·B`.
    pub r: RistrettoPoint,
    /// `σ_ij = s_ij + Hs(dkg-share, cid ‖ u64be(i) ‖ u64be(j) ‖ R_ij ‖ k·E_j)`.
    pub sigma: Scalar,
}

/// The public content of a `dkg_deal` by dealer `dealer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dealing {
    /// The dealer's 1-based index.
    pub dealer: u64,
    /// `A_i0 … A_i,t−1`.
    pub commitments: Vec<RistrettoPoint>,
    /// Schnorr proof of `a_i0` with ctx `cid ‖ u64be(i)`.
    pub pok: SchnorrProof,
    /// One share for every other trustee, recipients ascending.
    pub shares: Vec<EncryptedShare>,
}

/// What a dealer keeps: its own share `s_ii = f_i(i)`, which it sends to nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealerSecret {
    /// `f_i(i)`.
    pub own_share: Secret,
}

fn pad(cid: &[u8; 32], i: u64, j: u64, r: &RistrettoPoint, shared: &RistrettoPoint) -> Scalar {
    group::hs(
        tags::DKG_SHARE,
        &[
            cid,
            &u64be(i),
            &u64be(j),
            &group::point_bytes(r),
            &group::point_bytes(shared),
        ],
    )
}

/// `Σ_k j^k·C_k`: the Feldman evaluation of commitments at index j.
pub fn feldman_eval(commitments: &[RistrettoPoint], j: u64) -> RistrettoPoint {
    let x = Scalar::from(j);
    let mut power = Scalar::ONE;
    let mut scalars = Vec::with_capacity(commitments.len());
    for _ in commitments {
        scalars.push(power);
        power *= x;
    }
    group::vartime_multiscalar_mul(&scalars, commitments)
}

fn poly_eval(coefficients: &[Scalar], j: u64) -> Scalar {
    let x = Scalar::from(j);
    coefficients
        .iter()
        .rev()
        .fold(Scalar::ZERO, |acc, a| acc * x + a)
}

/// The Schnorr context of dealer i's proof: `cid ‖ u64be(i)`.
fn deal_ctx(i: u64) -> [u8; 8] {
    u64be(i)
}

/// Deals as trustee `dealer`: the coefficients are `a_ik = Hs(seed/poly, seed ‖ u64be(k))`,
/// the share randomness for j is `Hs(seed/share, seed ‖ u64be(j))` and the proof nonce
/// `Hs(seed/nonce, seed ‖ 0)`. `encryption_keys` are `E_1 … E_n`.
pub fn deal(
    cid: &[u8; 32],
    params: Params,
    dealer: u64,
    encryption_keys: &[RistrettoPoint],
    seed: &[u8; 32],
) -> Result<(Dealing, DealerSecret), DkgError> {
    params.check_index(dealer)?;
    if encryption_keys.len() as u64 != params.n {
        return Err(DkgError::BadTrustees);
    }
    let coefficients: Vec<Secret> = (0..params.t)
        .map(|k| Secret(group::seeded_scalar(tags::SEED_POLY, seed, k)))
        .collect();
    let scalars: Vec<Scalar> = coefficients.iter().map(|s| s.0).collect();
    let commitments = scalars.iter().map(RistrettoPoint::mul_base).collect();
    let pok = SchnorrProof::prove(&[cid, &deal_ctx(dealer)], &scalars[0], seed);
    let mut shares = Vec::with_capacity(params.n as usize - 1);
    for (j, e_j) in (1..=params.n).zip(encryption_keys) {
        if j == dealer {
            continue;
        }
        let k = Secret(group::seeded_scalar(tags::SEED_SHARE, seed, j));
        let r = RistrettoPoint::mul_base(&k.0);
        let s_ij = Secret(poly_eval(&scalars, j));
        let sigma = s_ij.0 + pad(cid, dealer, j, &r, &(k.0 * e_j));
        shares.push(EncryptedShare { to: j, r, sigma });
    }
    let own_share = Secret(poly_eval(&scalars, dealer));
    let mut scalars = scalars;
    scalars.zeroize();
    Ok((
        Dealing {
            dealer,
            commitments,
            pok,
            shares,
        },
        DealerSecret { own_share },
    ))
}

/// What admission checks of a deal (`bad_deal`): t commitments, a valid proof of
/// knowledge of `a_i0`, and exactly one share for each other trustee, ascending.
pub fn check_dealing(cid: &[u8; 32], params: Params, dealing: &Dealing) -> Result<(), DkgError> {
    params.check_index(dealing.dealer)?;
    if dealing.commitments.len() as u64 != params.t {
        return Err(DkgError::BadDeal);
    }
    let expected = (1..=params.n).filter(|j| *j != dealing.dealer);
    if dealing.shares.len() as u64 != params.n - 1
        || !dealing.shares.iter().map(|s| s.to).eq(expected)
    {
        return Err(DkgError::BadDeal);
    }
    dealing
        .pok
        .verify(&[cid, &deal_ctx(dealing.dealer)], &dealing.commitments[0])
        .map_err(|_| DkgError::BadDeal)
}

fn share_for(dealing: &Dealing, j: u64) -> Result<&EncryptedShare, DkgError> {
    dealing
        .shares
        .iter()
        .find(|s| s.to == j)
        .ok_or(DkgError::BadComplaint)
}

/// The share `s_ij` recomputed from the shared point `d = e_j·R_ij`, and whether it
/// satisfies the Feldman equation.
fn recover_share(
    cid: &[u8; 32],
    dealing: &Dealing,
    share: &EncryptedShare,
    d: &RistrettoPoint,
) -> (Scalar, bool) {
    let s = share.sigma - pad(cid, dealing.dealer, share.to, &share.r, d);
    let ok = RistrettoPoint::mul_base(&s) == feldman_eval(&dealing.commitments, share.to);
    (s, ok)
}

/// Receiver j opens its share of a checked deal with its encryption secret `e_j`:
/// `Ok(s_ij)` if it matches the commitments, `Err(BadShare)` if j should complain.
pub fn open_share(
    cid: &[u8; 32],
    dealing: &Dealing,
    j: u64,
    e_j: &Scalar,
) -> Result<Secret, DkgError> {
    let share = share_for(dealing, j).map_err(|_| DkgError::BadDeal)?;
    let (s, ok) = recover_share(cid, dealing, share, &(e_j * share.r));
    if ok {
        Ok(Secret(s))
    } else {
        Err(DkgError::BadShare)
    }
}

/// A `dkg_complaint`'s content: the point `d = e_j·R_ij` and `DLEQ(B, E_j; R_ij, d)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Complaint {
    /// The complainer's 1-based index.
    pub complainer: u64,
    /// `e_j·R_ij`.
    pub d: RistrettoPoint,
    /// The proof that `d` uses the complainer's encryption secret.
    pub proof: DleqProof,
}

/// How a verified complaint was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    /// The revealed share fails the Feldman check: the dealer leaves QUAL.
    Convicted,
    /// The revealed share verifies: the complaint is void (`void_complaint`, reported,
    /// not a failure) and the dealer stays.
    Void,
}

/// Trustee j's complaint against a deal, DLEQ ctx `cid ‖ deal id` (nonce from `seed`).
pub fn complain(
    cid: &[u8; 32],
    deal_id: &[u8; 32],
    dealing: &Dealing,
    j: u64,
    e_j: &Scalar,
    seed: &[u8; 32],
) -> Result<Complaint, DkgError> {
    let share = share_for(dealing, j)?;
    let d = e_j * share.r;
    let statement = DleqStatement {
        p: B,
        x: RistrettoPoint::mul_base(e_j),
        q: share.r,
        d,
    };
    Ok(Complaint {
        complainer: j,
        d,
        proof: DleqProof::prove(&[cid, deal_id], &statement, e_j, seed),
    })
}

/// Judges a complaint against a checked deal, publicly: `Err(BadComplaint)` if its
/// proof fails (the complaint is refused), else whether the dealer is convicted.
/// `e_j_pub` is the complainer's encryption key `E_j`.
pub fn judge_complaint(
    cid: &[u8; 32],
    deal_id: &[u8; 32],
    dealing: &Dealing,
    complaint: &Complaint,
    e_j_pub: &RistrettoPoint,
) -> Result<Judgement, DkgError> {
    let share = share_for(dealing, complaint.complainer)?;
    let statement = DleqStatement {
        p: B,
        x: *e_j_pub,
        q: share.r,
        d: complaint.d,
    };
    complaint
        .proof
        .verify(&[cid, deal_id], &statement)
        .map_err(|_| DkgError::BadComplaint)?;
    let (_, ok) = recover_share(cid, dealing, share, &complaint.d);
    Ok(if ok {
        Judgement::Void
    } else {
        Judgement::Convicted
    })
}

/// QUAL: the dealers of valid deals minus the convicted ones, ascending.
pub fn qual(valid_dealers: &BTreeSet<u64>, convicted: &BTreeSet<u64>) -> Vec<u64> {
    valid_dealers.difference(convicted).copied().collect()
}

/// The election key `Y = Σ_{i∈QUAL} A_i0` over QUAL's deals.
pub fn election_key<'a>(qual_deals: impl IntoIterator<Item = &'a Dealing>) -> RistrettoPoint {
    qual_deals.into_iter().map(|d| d.commitments[0]).sum()
}

/// Trustee j's verification key `Y_j = Σ_{i∈QUAL} Σ_k j^k·A_ik`.
pub fn verification_key<'a>(
    qual_deals: impl IntoIterator<Item = &'a Dealing>,
    j: u64,
) -> RistrettoPoint {
    qual_deals
        .into_iter()
        .map(|d| feldman_eval(&d.commitments, j))
        .sum()
}

/// Trustee j's secret share `x_j = Σ_{i∈QUAL} s_ij` (its own share included).
pub fn secret_share<'a>(shares: impl IntoIterator<Item = &'a Secret>) -> Secret {
    Secret(shares.into_iter().map(|s| s.0).sum())
}

/// A decryption share for one element: `d = x_j·α` with `DLEQ(B, Y_j; α, d)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecryptionShare {
    /// `x_j·α`.
    pub d: RistrettoPoint,
    /// The proof, ctx `cid ‖ seal_final id`.
    pub proof: DleqProof,
}

impl DecryptionShare {
    /// Trustee j's share of the element with first component `alpha`.
    pub fn create(
        ctx: &[&[u8]],
        alpha: &RistrettoPoint,
        x_j: &Secret,
        seed: &[u8; 32],
    ) -> DecryptionShare {
        let d = x_j.0 * alpha;
        let statement = DleqStatement {
            p: B,
            x: RistrettoPoint::mul_base(&x_j.0),
            q: *alpha,
            d,
        };
        DecryptionShare {
            d,
            proof: DleqProof::prove(ctx, &statement, &x_j.0, seed),
        }
    }

    /// Checks the share against `α` and the trustee's verification key `Y_j`
    /// (`bad_decryption_share`).
    pub fn verify(
        &self,
        ctx: &[&[u8]],
        alpha: &RistrettoPoint,
        y_j: &RistrettoPoint,
    ) -> Result<(), DkgError> {
        let statement = DleqStatement {
            p: B,
            x: *y_j,
            q: *alpha,
            d: self.d,
        };
        self.proof
            .verify(ctx, &statement)
            .map_err(|_: ProofError| DkgError::BadDecryptionShare)
    }
}

/// The Lagrange coefficient at 0 of index j in the subset S:
/// `λ_j^S = Π_{m∈S, m≠j} m/(m−j) mod ℓ`. S must hold distinct non-zero indices.
pub fn lagrange(subset: &[u64], j: u64) -> Scalar {
    let mut num = Scalar::ONE;
    let mut den = Scalar::ONE;
    for &m in subset {
        if m != j {
            num *= Scalar::from(m);
            den *= Scalar::from(m) - Scalar::from(j);
        }
    }
    num * den.invert()
}

/// Recombines t (or more) checked shares of one element:
/// `M = β − Σ_{j∈S} λ_j^S·d_j`. `shares` are `(j, d_j)` with distinct indices in 1..=n;
/// at least `params.t` of them (`too_few_shares`).
pub fn recombine(
    params: Params,
    beta: &RistrettoPoint,
    shares: &[(u64, RistrettoPoint)],
) -> Result<RistrettoPoint, DkgError> {
    let subset: Vec<u64> = shares.iter().map(|(j, _)| *j).collect();
    let distinct: BTreeSet<u64> = subset.iter().copied().collect();
    if distinct.len() != subset.len()
        || (subset.len() as u64) < params.t
        || subset.iter().any(|j| !(1..=params.n).contains(j))
    {
        return Err(DkgError::TooFewShares);
    }
    let lambdas: Vec<Scalar> = subset.iter().map(|j| lagrange(&subset, *j)).collect();
    let points: Vec<RistrettoPoint> = shares.iter().map(|(_, d)| *d).collect();
    Ok(beta - group::vartime_multiscalar_mul(&lambdas, &points))
}
