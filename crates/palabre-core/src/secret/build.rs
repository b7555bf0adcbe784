//! The bodies a node appends for secret ballots, made by the same rules admission and
//! the audit apply (`rules`), so that the node never re-implements one: a trustee's
//! encryption key and its proof, its deal, its complaint against a share that fails, the
//! organiser's election key and layout, and a resident's sealed ballot.
//!
//! Everything here is pure: seeds come from the caller (the node draws them from the
//! operating system, tests fix them), and the record's events are passed in. Signing the
//! body into an event, storing secrets and deciding when to append are the node's.

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::scalar::Scalar;

use crate::crypto::PublicKey;
use crate::dkg::{self, DealerSecret, DkgError, Secret};
use crate::elgamal::Ciphertext;
use crate::event::secret::{
    BallotLayoutBody, Ct, DkgComplaintBody, DkgDealBody, ElectionKeyBody, Point, ProofPair, Sealed,
    SealedPok, cid, encryption_key_ctx,
};
use crate::event::{Body, SignedEvent};
use crate::group::{self, tags};
use crate::ids::EventId;
use crate::proofs::SchnorrProof;
use crate::rejection::Rejection;
use crate::sealed::{self, ColumnKind};
use crate::tally::{self, Answer, Choice, ChoiceError, Method};
use crate::view::ConsultationView;

use super::rules::{self, Qualification};

/// A trustee town's encryption key pair and the proof its `authority` event carries.
#[derive(Debug, Clone)]
pub struct TrusteeKey {
    /// `e`, to keep like `authority.key` (and in backups).
    pub secret: Secret,
    /// `E = e·B`: the `authority` body's `encryption_key`.
    pub key: Point,
    /// The `authority` body's `encryption_pok`.
    pub pok: ProofPair,
}

/// Draws a trustee encryption key from `seed` (`e = Hs(seed/key, seed ‖ 0)`) and proves
/// it for `authority` (the town's Ed25519 key, the proof's context).
pub fn trustee_key(authority: &PublicKey, seed: &[u8; 32]) -> TrusteeKey {
    let secret = Secret(group::seeded_scalar(tags::SEED_KEY, seed, 0));
    let (key, pok) = encryption_proof(authority, &secret, seed);
    TrusteeKey { secret, key, pok }
}

/// The `encryption_key` and `encryption_pok` of an existing secret `e` (a node that
/// keeps its key, or restores it from a backup, re-declares it with a fresh seed).
pub fn encryption_proof(authority: &PublicKey, e: &Secret, seed: &[u8; 32]) -> (Point, ProofPair) {
    let key = Point(RistrettoPoint::mul_base(&e.0));
    let pok = SchnorrProof::prove(&[&encryption_key_ctx(authority)], &e.0, seed);
    (key, ProofPair::of_schnorr(&pok))
}

/// The trustees' encryption keys in trustee order, or `bad_trustees` if one is missing.
pub fn encryption_keys(
    c: &ConsultationView,
    encryption_key: impl Fn(&PublicKey) -> Option<RistrettoPoint>,
) -> Result<Vec<RistrettoPoint>, Rejection> {
    rules::secrecy_of(c)?
        .trustees
        .iter()
        .map(|t| encryption_key(t).ok_or(Rejection::BadTrustees))
        .collect()
}

/// Trustee `dealer`'s `dkg_deal` body for `c`, and the share of its own polynomial it
/// keeps (`f_i(i)`, needed for its secret share). `encryption_keys` are the trustees'
/// `E_j` in trustee order ([`encryption_keys`]). The same seed gives the same deal.
pub fn deal(
    c: &ConsultationView,
    dealer: &PublicKey,
    encryption_keys: &[RistrettoPoint],
    seed: &[u8; 32],
) -> Result<(DkgDealBody, DealerSecret), Rejection> {
    let secrecy = rules::secrecy_of(c)?;
    let params = secrecy.params()?;
    let i = secrecy.index_of(dealer).ok_or(Rejection::BadTrustees)?;
    let (dealing, own) = dkg::deal(&cid(&c.id), params, i, encryption_keys, seed)
        .map_err(|_| Rejection::BadTrustees)?;
    Ok((DkgDealBody::of_dealing(c.id, secrecy, &dealing)?, own))
}

/// What a trustee makes of another trustee's deal.
#[derive(Debug)]
pub enum Opened {
    /// The share verifies against the dealer's commitments: keep it.
    Share(Secret),
    /// It does not: publish [`complaint`] against the deal.
    Complain,
}

/// Trustee `me` opens its share of the recorded deal `deal` with its encryption secret.
/// A deal that is itself invalid (it never enters QUAL) is `bad_deal`.
pub fn open_deal(
    c: &ConsultationView,
    deal: &SignedEvent,
    me: &PublicKey,
    e: &Secret,
) -> Result<Opened, Rejection> {
    let (_, dealing) = rules::check_deal(c, deal)?;
    let j = rules::secrecy_of(c)?
        .index_of(me)
        .ok_or(Rejection::BadTrustees)?;
    match dkg::open_share(&cid(&c.id), &dealing, j, &e.0) {
        Ok(s) => Ok(Opened::Share(s)),
        Err(DkgError::BadShare) => Ok(Opened::Complain),
        Err(_) => Err(Rejection::BadDeal),
    }
}

/// Trustee `me`'s `dkg_complaint` body against the recorded deal `deal`.
pub fn complaint(
    c: &ConsultationView,
    deal: &SignedEvent,
    me: &PublicKey,
    e: &Secret,
    seed: &[u8; 32],
) -> Result<DkgComplaintBody, Rejection> {
    let (_, dealing) = rules::check_deal(c, deal)?;
    let j = rules::secrecy_of(c)?
        .index_of(me)
        .ok_or(Rejection::BadTrustees)?;
    let made = dkg::complain(&cid(&c.id), deal.id().0.as_bytes(), &dealing, j, &e.0, seed)
        .map_err(|_| Rejection::BadComplaint)?;
    Ok(DkgComplaintBody {
        consultation: c.id,
        deal: deal.id(),
        d: Point(made.d),
        proof: ProofPair::of_dleq(&made.proof),
    })
}

/// The organiser's `election_key` body: QUAL and Y recomputed from the recorded deals and
/// complaints about `c` (as admission will), or `bad_election_key` if QUAL has fewer
/// than t trustees ("setup failed": no election key can exist, the consultation takes no
/// ballot).
pub fn election_key(
    c: &ConsultationView,
    deals: &[SignedEvent],
    complaints: &[SignedEvent],
    encryption_key: impl Fn(&PublicKey) -> Option<RistrettoPoint>,
) -> Result<ElectionKeyBody, Rejection> {
    let q = rules::qualify(c, deals, complaints, encryption_key);
    election_key_of(c, &q)
}

/// The `election_key` body of a computed qualification.
pub fn election_key_of(
    c: &ConsultationView,
    q: &Qualification,
) -> Result<ElectionKeyBody, Rejection> {
    let secrecy = rules::secrecy_of(c)?;
    if (q.qual.len() as u64) < secrecy.threshold {
        return Err(Rejection::BadElectionKey);
    }
    Ok(ElectionKeyBody {
        consultation: c.id,
        qual: q.qual_keys(secrecy),
        key: Point(q.election_key()),
    })
}

/// Trustee `me`'s secret share `x_j = Σ_{i∈QUAL} s_ij` from the recorded deals and
/// complaints, its encryption secret and the share it kept of its own deal (if it dealt
/// and is in QUAL). A share that does not open is `bad_deal` (the trustee should have
/// complained).
pub fn secret_share(
    c: &ConsultationView,
    q: &Qualification,
    me: &PublicKey,
    e: &Secret,
    own: Option<&DealerSecret>,
) -> Result<Secret, Rejection> {
    let j = rules::secrecy_of(c)?
        .index_of(me)
        .ok_or(Rejection::BadTrustees)?;
    let mut shares = Vec::with_capacity(q.qual.len());
    for i in &q.qual {
        let Some((_, dealing)) = q.deals.get(i) else {
            continue;
        };
        if *i == j {
            shares.push(own.ok_or(Rejection::BadDeal)?.own_share.clone());
        } else {
            shares.push(
                dkg::open_share(&cid(&c.id), dealing, j, &e.0).map_err(|_| Rejection::BadDeal)?,
            );
        }
    }
    Ok(dkg::secret_share(&shares))
}

/// The organiser's `ballot_layout` body over the proposals of `c` admitted (in any
/// participating log) before `proposals_close_ms`, hidden ones included.
pub fn layout(c: &ConsultationView, proposals: &[EventId]) -> Result<BallotLayoutBody, Rejection> {
    rules::canonical_layout(c, proposals)
}

/// A sealed choice: the ballot's `sealed` member, and what a Benaloh "check this
/// encryption" reveals (and a cast ballot never does).
#[derive(Debug, Clone)]
pub struct SealedChoice {
    /// The ballot's `sealed` member, the only part that is cast.
    pub sealed: Sealed,
    /// The plaintext points, in group order.
    pub plaintexts: Vec<RistrettoPoint>,
    /// The randomness of each ciphertext, in group order.
    pub randomness: Vec<Scalar>,
}

/// The plaintext points of `choice` under a layout, group by group (design §4.5); a
/// choice the method refuses, or that names a proposal outside the columns, is
/// `invalid_choice`.
pub fn plaintexts(
    c: &ConsultationView,
    layout: &BallotLayoutBody,
    choice: &Choice,
) -> Result<Vec<RistrettoPoint>, Rejection> {
    let secrecy = rules::secrecy_of(c)?;
    let is_column = |id: &EventId| layout.columns.binary_search(id).is_ok();
    tally::validate_choice(&c.body.method, is_column, choice).map_err(Rejection::InvalidChoice)?;
    let codec = |e: sealed::CodecError| {
        Rejection::InvalidChoice(match e {
            sealed::CodecError::OutOfRange => ChoiceError::WrongChoiceKind,
            _ => ChoiceError::SealedShape,
        })
    };
    if !secrecy.split {
        let Choice::Approve(ids) = choice else {
            return Err(Rejection::InvalidChoice(ChoiceError::WrongChoiceKind));
        };
        let selected: Vec<bool> = layout
            .columns
            .iter()
            .map(|col| ids.binary_search(col).is_ok())
            .collect();
        return sealed::encode_row(&selected).map_err(codec);
    }
    layout
        .columns
        .iter()
        .map(|col| {
            let (kind, value) = match (&c.body.method, choice) {
                (Method::Support { .. }, Choice::Approve(ids)) => (
                    ColumnKind::Support,
                    u8::from(ids.binary_search(col).is_ok()),
                ),
                (Method::YesNoAbstain {}, Choice::Answers(map)) => (
                    ColumnKind::YesNoAbstain,
                    match map.get(col) {
                        None => 0,
                        Some(Answer::Yes) => 1,
                        Some(Answer::No) => 2,
                        Some(Answer::Abstain) => 3,
                    },
                ),
                (Method::MajorityJudgment { grades }, Choice::Grades(map)) => (
                    ColumnKind::MajorityJudgment {
                        n_grades: u8::try_from(grades.len()).unwrap_or(u8::MAX),
                    },
                    u8::try_from(map.get(col).copied().unwrap_or(0)).unwrap_or(u8::MAX),
                ),
                _ => return Err(Rejection::InvalidChoice(ChoiceError::WrongChoiceKind)),
            };
            sealed::encode_column(kind, value).map_err(codec)
        })
        .collect()
}

/// A resident's `sealed` member for `choice`: encrypted under the election key, in the
/// layout `layout_id`, with the proof bound to `author`. Element k's randomness is
/// `Hs(seed/encrypt, seed ‖ u64be(k))` and its nonce `Hs(seed/nonce, seed ‖ u64be(k))`,
/// as in the browser's `sealed.js`.
pub fn seal(
    c: &ConsultationView,
    election_key: &ElectionKeyBody,
    layout_id: &EventId,
    layout: &BallotLayoutBody,
    author: &PublicKey,
    choice: &Choice,
    seed: &[u8; 32],
) -> Result<SealedChoice, Rejection> {
    let secrecy = rules::secrecy_of(c)?;
    let points = plaintexts(c, layout, choice)?;
    let ctx = crate::event::secret::ballot_context(&c.id, layout_id, author);
    let sealing = sealed::seal(&election_key.key.0, &ctx, &points, seed);
    let mut cts = sealing.ciphertexts.iter().copied().map(Ct);
    let groups: Vec<Vec<Ct>> = rules::group_sizes(secrecy, layout.columns.len())
        .into_iter()
        .map(|n| cts.by_ref().take(n).collect())
        .collect();
    Ok(SealedChoice {
        sealed: Sealed {
            layout: *layout_id,
            groups,
            pok: SealedPok {
                c: crate::event::secret::Sc(sealing.pok.c),
                s: sealing
                    .pok
                    .s
                    .iter()
                    .copied()
                    .map(crate::event::secret::Sc)
                    .collect(),
            },
        },
        plaintexts: points,
        randomness: sealing.randomness,
    })
}

/// The recorded `election_key` body among `events` (the first one), if any.
pub fn election_key_body(events: &[SignedEvent]) -> Option<(EventId, &ElectionKeyBody)> {
    events.iter().find_map(|e| match e.body() {
        Body::ElectionKey(b) => Some((e.id(), b)),
        _ => None,
    })
}

/// Checks a Benaloh audit of a sealed choice: the revealed randomness re-encrypts the
/// claimed plaintexts to exactly the ballot's ciphertexts.
pub fn check_sealed_choice(election_key: &RistrettoPoint, sealed: &SealedChoice) -> bool {
    let cts: Vec<Ciphertext> = sealed.sealed.ciphertexts();
    sealed::check_encryption(election_key, &cts, &sealed.plaintexts, &sealed.randomness)
}
