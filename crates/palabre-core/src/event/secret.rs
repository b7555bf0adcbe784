//! The events of secret ballots (SECRET-BALLOTS.md §4.2–§4.6; PROTOCOL.md, "Secret
//! ballots: events"): their bodies and wire form, and the conversions between the wire
//! form (hexadecimal points and scalars, keys for trustees) and the typed values of
//! `dkg`, `proofs` and `elgamal`.
//!
//! - the `authority` event's optional `encryption_key` and `encryption_pok`;
//! - the consultation's optional `secrecy` member ([`Secrecy`]);
//! - the kinds `dkg_deal`, `dkg_complaint`, `election_key` and `ballot_layout`;
//! - the `ballot` body's `sealed` member ([`SealedBallotBody`]), in place of `choice`.
//!
//! Decoding here is stateless: a point that is not canonical is `bad_point`, a scalar
//! not below ℓ is `bad_scalar`, an encryption key whose proof fails is
//! `bad_encryption_key`. Whether an event fits the record (trustees, windows, QUAL, the
//! layout) is `secret::rules`' business, called by `admission`; `secret::build` makes the
//! bodies the node appends, so that no rule is written twice. The auditor's checks are in
//! `audit::secret`. The bodies of the mix and the opening are in [`super::mix`].

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::canonical;
use crate::crypto::PublicKey;
use crate::crypto::{Domain, SecretKey};
use crate::dkg::{self, Complaint, Dealing, EncryptedShare, Params};
use crate::elgamal::Ciphertext;
use crate::group::{self, GroupError};
use crate::ids::EventId;
use crate::proofs::{BallotContext, BallotPok, DleqProof, SchnorrProof};
use crate::rejection::Rejection;

use super::assistance::Assistance;
use super::from_canonical;

/// What serde reports for a point that is not canonical: `event::decode` turns an error
/// starting with it into `bad_point` (serde itself knows only messages).
pub(crate) const BAD_POINT_MARK: &str = "bad_point:";
/// The same for a scalar not below ℓ (`bad_scalar`).
pub(crate) const BAD_SCALAR_MARK: &str = "bad_scalar:";

/// A group element on the wire: 64 lowercase hexadecimal characters, the canonical RFC
/// 9496 encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point(pub RistrettoPoint);

/// A scalar on the wire: 64 lowercase hexadecimal characters, 32 bytes little-endian
/// below ℓ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sc(pub Scalar);

/// An ElGamal ciphertext on the wire: 128 lowercase hexadecimal characters, `α ‖ β`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ct(pub Ciphertext);

impl Serialize for Point {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&group::point_hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Point {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Point, D::Error> {
        let text = String::deserialize(d)?;
        group::point_from_hex(&text)
            .map(Point)
            .map_err(|e| serde::de::Error::custom(format!("{BAD_POINT_MARK} {e}")))
    }
}

impl Serialize for Sc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&group::scalar_hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Sc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Sc, D::Error> {
        let text = String::deserialize(d)?;
        group::scalar_from_hex(&text)
            .map(Sc)
            .map_err(|e| serde::de::Error::custom(format!("{BAD_SCALAR_MARK} {e}")))
    }
}

impl Serialize for Ct {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_hex())
    }
}

impl<'de> Deserialize<'de> for Ct {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ct, D::Error> {
        let text = String::deserialize(d)?;
        Ciphertext::from_hex(&text)
            .map(Ct)
            .map_err(|e| serde::de::Error::custom(format!("{BAD_POINT_MARK} {e}")))
    }
}

/// The rejection of a serde error on a secret-ballot body: `bad_point` and `bad_scalar`
/// keep their codes, anything else is `malformed`.
pub(crate) fn serde_rejection(e: &serde_json::Error) -> Rejection {
    let text = e.to_string();
    if text.starts_with(BAD_POINT_MARK) {
        Rejection::BadPoint
    } else if text.starts_with(BAD_SCALAR_MARK) {
        Rejection::BadScalar
    } else {
        Rejection::Malformed(format!("body: {text}"))
    }
}

impl From<GroupError> for Rejection {
    fn from(e: GroupError) -> Rejection {
        match e {
            GroupError::BadPoint => Rejection::BadPoint,
            GroupError::BadScalar => Rejection::BadScalar,
        }
    }
}

/// A proof `{c, s}`: a Schnorr proof of knowledge (an encryption key, a dealer's
/// constant coefficient) or a Chaum–Pedersen proof (a complaint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofPair {
    /// The challenge.
    pub c: Sc,
    /// The response.
    pub s: Sc,
}

impl ProofPair {
    /// Read as a Schnorr proof of knowledge.
    pub fn schnorr(&self) -> SchnorrProof {
        SchnorrProof {
            c: self.c.0,
            s: self.s.0,
        }
    }

    /// Read as a Chaum–Pedersen (DLEQ) proof.
    pub fn dleq(&self) -> DleqProof {
        DleqProof {
            c: self.c.0,
            s: self.s.0,
        }
    }

    /// The wire form of a Schnorr proof.
    pub fn of_schnorr(p: &SchnorrProof) -> ProofPair {
        ProofPair {
            c: Sc(p.c),
            s: Sc(p.s),
        }
    }

    /// The wire form of a DLEQ proof.
    pub fn of_dleq(p: &DleqProof) -> ProofPair {
        ProofPair {
            c: Sc(p.c),
            s: Sc(p.s),
        }
    }
}

/// The Schnorr context of an authority's encryption key proof: its Ed25519 key.
pub fn encryption_key_ctx(authority: &PublicKey) -> [u8; 32] {
    *authority.as_bytes()
}

/// Checks an `authority` body's encryption key: both members or neither, and a proof of
/// knowledge of `e` with ctx = the authority key (`bad_encryption_key`).
pub fn check_encryption_key(
    authority: &PublicKey,
    key: Option<&Point>,
    pok: Option<&ProofPair>,
) -> Result<(), Rejection> {
    match (key, pok) {
        (None, None) => Ok(()),
        (Some(key), Some(pok)) => pok
            .schnorr()
            .verify(&[&encryption_key_ctx(authority)], &key.0)
            .map_err(|_| Rejection::BadEncryptionKey),
        _ => Err(Rejection::BadEncryptionKey),
    }
}

/// A consultation's `secrecy` member: its ballots are sealed under a key the `trustees`
/// make, any `threshold` of which can open them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrecy {
    /// 2 to 16 authority keys, strictly ascending; trustee j is the key at 1-based
    /// position j. Each has declared an `encryption_key`.
    pub trustees: Vec<PublicKey>,
    /// t, with 2 ≤ t ≤ n.
    pub threshold: u64,
    /// Deals are admitted before this time; complaints until one hour after it.
    pub keys_close_ms: u64,
    /// One group per proposal (support, yes/no/abstain, majority judgment) rather than
    /// one row over all proposals (support, approval, budget).
    pub split: bool,
}

/// How long after `keys_close_ms` complaints are admitted (design §4.4).
pub const COMPLAINT_WINDOW_MS: u64 = 3_600_000;
/// The most proposals of a secret consultation in split mode (design §4.15).
pub const MAX_SPLIT_PROPOSALS: usize = 200;
/// The most proposals of a secret consultation in row mode (design §4.15).
pub const MAX_ROW_PROPOSALS: usize = 500;

impl Secrecy {
    /// The DKG parameters (`bad_trustees` when out of range).
    pub fn params(&self) -> Result<Params, Rejection> {
        Params::new(self.trustees.len() as u64, self.threshold).map_err(|_| Rejection::BadTrustees)
    }

    /// The 1-based index of `key` among the trustees.
    pub fn index_of(&self, key: &PublicKey) -> Option<u64> {
        self.trustees.binary_search(key).ok().map(|i| i as u64 + 1)
    }

    /// The key of trustee `j` (1-based).
    pub fn trustee(&self, j: u64) -> Option<&PublicKey> {
        self.trustees.get(usize::try_from(j).ok()?.checked_sub(1)?)
    }

    /// The end of the complaint window, `keys_close_ms + 1 h`.
    pub fn complaints_close_ms(&self) -> u64 {
        self.keys_close_ms.saturating_add(COMPLAINT_WINDOW_MS)
    }

    /// The most proposals the consultation may have.
    pub fn max_proposals(&self) -> usize {
        if self.split {
            MAX_SPLIT_PROPOSALS
        } else {
            MAX_ROW_PROPOSALS
        }
    }
}

/// One encrypted share of a deal, for the trustee `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealShare {
    /// The receiving trustee's authority key.
    pub to: PublicKey,
    /// `R_ij = k·B`.
    pub r: Point,
    /// `σ_ij = s_ij + Hs(dkg-share, cid ‖ u64be(i) ‖ u64be(j) ‖ R_ij ‖ k·E_j)`.
    pub s: Sc,
}

/// `dkg_deal`: trustee i's commitments, proof and encrypted shares, in its own log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkgDealBody {
    /// The secret consultation whose election key is being made.
    pub consultation: EventId,
    /// `A_i0 … A_i,t−1`.
    pub commitments: Vec<Point>,
    /// Schnorr proof of `a_i0`, ctx `cid ‖ u64be(i)`.
    pub pok: ProofPair,
    /// One share for every other trustee, in the trustees' order.
    pub shares: Vec<DealShare>,
}

impl DkgDealBody {
    /// The deal as `dkg` reads it, dealer i being `dealer`'s index among `secrecy`'s
    /// trustees. A share to a key that is not a trustee is `bad_deal` (its recipient
    /// index would not exist); the shape itself is `dkg::check_dealing`'s.
    pub fn dealing(&self, secrecy: &Secrecy, dealer: &PublicKey) -> Result<Dealing, Rejection> {
        let dealer = secrecy.index_of(dealer).ok_or(Rejection::BadDeal)?;
        let shares = self
            .shares
            .iter()
            .map(|s| {
                Ok(EncryptedShare {
                    to: secrecy.index_of(&s.to).ok_or(Rejection::BadDeal)?,
                    r: s.r.0,
                    sigma: s.s.0,
                })
            })
            .collect::<Result<Vec<_>, Rejection>>()?;
        Ok(Dealing {
            dealer,
            commitments: self.commitments.iter().map(|p| p.0).collect(),
            pok: self.pok.schnorr(),
            shares,
        })
    }

    /// The wire body of a dealing, for `consultation` with `secrecy`'s trustees.
    pub fn of_dealing(
        consultation: EventId,
        secrecy: &Secrecy,
        dealing: &Dealing,
    ) -> Result<DkgDealBody, Rejection> {
        let shares = dealing
            .shares
            .iter()
            .map(|s| {
                Ok(DealShare {
                    to: *secrecy.trustee(s.to).ok_or(Rejection::BadDeal)?,
                    r: Point(s.r),
                    s: Sc(s.sigma),
                })
            })
            .collect::<Result<Vec<_>, Rejection>>()?;
        Ok(DkgDealBody {
            consultation,
            commitments: dealing.commitments.iter().copied().map(Point).collect(),
            pok: ProofPair::of_schnorr(&dealing.pok),
            shares,
        })
    }
}

/// `dkg_complaint`: trustee j shows that the share a deal sent it is wrong, by revealing
/// `d = e_j·R_ij` with `DLEQ(B, E_j; R_ij, d)`, ctx `cid ‖ deal id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkgComplaintBody {
    /// The secret consultation whose key generation is concerned.
    pub consultation: EventId,
    /// The `dkg_deal` complained of.
    pub deal: EventId,
    /// `d = e_j·R_ij`, which lets anyone decrypt and check the share.
    pub d: Point,
    /// `DLEQ(B, E_j; R_ij, d)`: proves `d` was made with the complainer's own key.
    pub proof: ProofPair,
}

impl DkgComplaintBody {
    /// The complaint as `dkg` reads it, by trustee `complainer` (1-based).
    pub fn complaint(&self, complainer: u64) -> Complaint {
        Complaint {
            complainer,
            d: self.d.0,
            proof: self.proof.dleq(),
        }
    }
}

/// `election_key`: the organiser names QUAL and `Y = Σ_{i∈QUAL} A_i0`, both recomputed by
/// every reader from the deals and complaints in the trustees' logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElectionKeyBody {
    /// The secret consultation the key is for.
    pub consultation: EventId,
    /// The qualified dealers' keys, in the trustees' order.
    pub qual: Vec<PublicKey>,
    /// The election key `Y` ballots are encrypted to.
    pub key: Point,
}

/// `ballot_layout`: the columns (every proposal of the consultation admitted before the
/// close of proposals, ascending by id) and how they are grouped into ciphertexts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BallotLayoutBody {
    /// The secret consultation whose ballots use the layout.
    pub consultation: EventId,
    /// The proposals a sealed ballot encrypts, distinct and ascending by id.
    pub columns: Vec<EventId>,
    /// Column indexes per group: `[[0], [1], …]` in split mode, `[[0, 1, …]]` otherwise.
    pub groups: Vec<Vec<u64>>,
}

/// A sealed ballot's batched proof of knowledge: one challenge, one response per
/// ciphertext in group order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedPok {
    /// The one challenge shared by every ciphertext's proof.
    pub c: Sc,
    /// One response per ciphertext, in group order.
    pub s: Vec<Sc>,
}

/// A ballot's `sealed` member: the ciphertexts of every group of the layout and their
/// proof of knowledge bound to the author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// The consultation's `ballot_layout` event.
    pub layout: EventId,
    /// One list of ciphertexts per group of the layout (one element per group in split
    /// mode; `⌈P/240⌉` in row mode).
    pub groups: Vec<Vec<Ct>>,
    /// The proof of knowledge of every ciphertext's randomness, bound to the
    /// consultation, the layout and the author (so a ciphertext cannot be copied).
    pub pok: SealedPok,
}

impl Sealed {
    /// Every ciphertext, in group order.
    pub fn ciphertexts(&self) -> Vec<Ciphertext> {
        self.groups.iter().flatten().map(|c| c.0).collect()
    }

    /// The number of ciphertexts.
    pub fn len(&self) -> usize {
        self.groups.iter().map(Vec::len).sum()
    }

    /// Whether the ballot holds no ciphertext (never a valid one).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The proof as `proofs` reads it.
    pub fn pok(&self) -> BallotPok {
        BallotPok {
            c: self.pok.c.0,
            s: self.pok.s.iter().map(|s| s.0).collect(),
        }
    }

    /// Checks the proof of knowledge for `author`'s ballot in `consultation`
    /// (`bad_pok`; a response count that is not one per ciphertext is `invalid_choice`).
    pub fn verify_pok(&self, consultation: &EventId, author: &PublicKey) -> Result<(), Rejection> {
        let ctx = ballot_context(consultation, &self.layout, author);
        self.pok()
            .verify(&ctx, &self.ciphertexts())
            .map_err(|e| match e {
                crate::proofs::ProofError::Shape => {
                    Rejection::InvalidChoice(crate::tally::ChoiceError::SealedShape)
                }
                _ => Rejection::BadPok,
            })
    }
}

/// What a sealed ballot's proof is bound to.
pub fn ballot_context(
    consultation: &EventId,
    layout: &EventId,
    author: &PublicKey,
) -> BallotContext {
    BallotContext {
        consultation: *consultation.0.as_bytes(),
        layout: *layout.0.as_bytes(),
        author: *author.as_bytes(),
    }
}

/// A `ballot` of a secret consultation: `sealed` in place of `choice`. On the wire it is
/// an ordinary `ballot` event; the Rust value is its own variant of `Body` so that no
/// reader of public ballots can mistake it for one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedBallotBody {
    /// The secret consultation voted in.
    pub consultation: EventId,
    /// The encrypted choice and its proof.
    pub sealed: Sealed,
    /// Present when a desk agent helped the resident cast it in person; the agent
    /// countersigns `{author, consultation, created_at_ms, sealed}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistance: Option<Assistance>,
}

/// The 32-byte context of dealer `i`'s proof and shares: `cid`.
pub(crate) fn cid(consultation: &EventId) -> [u8; 32] {
    *consultation.0.as_bytes()
}

/// The verification key `Y_j` of trustee `j` over QUAL's deals (for slice II: decryption
/// shares are checked against it).
pub fn verification_key<'a>(
    qual_deals: impl IntoIterator<Item = &'a Dealing>,
    j: u64,
) -> RistrettoPoint {
    dkg::verification_key(qual_deals, j)
}

impl Assistance {
    /// What the agent signs for a sealed ballot (without the tag): the canonical JSON
    /// object `{author, consultation, created_at_ms, sealed}`.
    pub fn sealed_statement(
        voter: &PublicKey,
        created_at_ms: u64,
        consultation: &EventId,
        sealed: &Sealed,
    ) -> Result<Vec<u8>, Rejection> {
        let value = serde_json::json!({
            "author": voter,
            "consultation": consultation,
            "created_at_ms": created_at_ms,
            "sealed": sealed,
        });
        canonical::encode(&value).map_err(from_canonical)
    }

    /// The agent's countersignature of the sealed ballot `voter` is about to sign.
    pub fn sign_sealed(
        agent: &SecretKey,
        voter: &PublicKey,
        created_at_ms: u64,
        consultation: &EventId,
        sealed: &Sealed,
    ) -> Result<Assistance, Rejection> {
        let statement = Assistance::sealed_statement(voter, created_at_ms, consultation, sealed)?;
        Ok(Assistance {
            agent: agent.public_key(),
            sig: agent.sign(Domain::Assistance, &statement),
        })
    }
}
