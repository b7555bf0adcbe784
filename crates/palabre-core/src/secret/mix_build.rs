//! The bodies a node appends for the mix and the opening, made by the rules admission
//! and the audit apply ([`cascade`], [`open`](super::open)): a trustee's mix of one group
//! (its chunks and proof), the organiser's `seal_final`, a trustee's `decryption` chunks —
//! refused unless the honest trustee's rule allows it — and the organiser's result.
//!
//! Everything here is pure: seeds come from the caller (the node draws them from the
//! operating system, tests fix them) and the record's events are passed in. Signing,
//! storing the share and deciding when (the schedule, [`cascade::mix_turn`] and
//! [`cascade::seal_due`]) are the node's.

use curve25519_dalek::ristretto::RistrettoPoint;

use crate::crypto::PublicKey;
use crate::dkg::{DecryptionShare, Secret};
use crate::event::ClosedLog;
use crate::event::mix::{
    DecryptionBody, MAX_DECRYPTION_SHARES, MixBody, MixInput, MixProofBody, ResultSealed,
    SealFinalBody, SealedResultBody, ShareWire, max_chunk_positions,
};
use crate::event::secret::{Ct, Point, Sc};
use crate::group;
use crate::ids::EventId;
use crate::rejection::Rejection;
use crate::shuffle;
use crate::tally::{Candidate, Tally};
use crate::view::ConsultationView;

use super::cascade::{self, List, Mixes};
use super::open::Collected;
use super::setting::Setting;

/// The tag with which a decryption's seed is expanded into one proof seed per element
/// (index `group·2³² + element`): never two proofs with one nonce.
pub const SEED_DECRYPTION: &[u8] = b"palabre/v1/seed/decryption\n";

/// A trustee's mix of one group: the chunk bodies to sign and append first, then the
/// proof body once their ids are known ([`MadeMix::proof`]).
#[derive(Debug, Clone)]
pub struct MadeMix {
    /// The `mix` chunk bodies, in position order, each within the chunk limit.
    pub chunks: Vec<MixBody>,
    proof: MixProofBody,
}

impl MadeMix {
    /// The `mix_proof` body naming the signed chunks' ids, in order.
    pub fn proof(&self, parts: Vec<EventId>) -> MixProofBody {
        MixProofBody {
            parts,
            ..self.proof.clone()
        }
    }
}

/// Shuffles `input` (the list `input_ref` names) under the election key `y` and proves
/// it: the permutation and re-encryption come from `shuffle_seed`, the proof's draws from
/// `proof_seed` (each used once). The outputs are cut into chunks of at most
/// [`max_chunk_positions`] positions.
pub fn mix(
    consultation: &EventId,
    y: &RistrettoPoint,
    group: u64,
    input_ref: MixInput,
    input: &List,
    shuffle_seed: &[u8; 32],
    proof_seed: &[u8; 32],
) -> Result<MadeMix, Rejection> {
    let cid = consultation.0.as_bytes();
    let shape = |_| Rejection::BadShuffle;
    let (outputs, witness) = shuffle::shuffle(y, input, shuffle_seed).map_err(shape)?;
    let p = shuffle::prove(cid, y, input, &outputs, &witness, proof_seed).map_err(shape)?;
    let w = outputs.first().map_or(1, Vec::len);
    let per = max_chunk_positions(w);
    let chunks = (0..outputs.len())
        .step_by(per)
        .map(|start| {
            let end = (start + per).min(outputs.len());
            let points = |v: &[RistrettoPoint]| v[start..end].iter().copied().map(Point).collect();
            let scalars = |v: &[curve25519_dalek::scalar::Scalar]| {
                v[start..end].iter().copied().map(Sc).collect()
            };
            MixBody {
                consultation: *consultation,
                group,
                input: input_ref,
                start: start as u64,
                outputs: outputs[start..end]
                    .iter()
                    .map(|row| row.iter().copied().map(Ct).collect())
                    .collect(),
                c: points(&p.c),
                chat: points(&p.chat),
                that: points(&p.that),
                shat: scalars(&p.shat),
                sprime: scalars(&p.sprime),
            }
        })
        .collect();
    let proof = MixProofBody {
        consultation: *consultation,
        group,
        input: input_ref,
        parts: Vec::new(),
        n: outputs.len() as u64,
        t1: Point(p.t1),
        t2: Point(p.t2),
        t3: Point(p.t3),
        t4: p
            .t4
            .iter()
            .map(|(a, b)| {
                Ct(crate::elgamal::Ciphertext {
                    alpha: *a,
                    beta: *b,
                })
            })
            .collect(),
        s1: Sc(p.s1),
        s2: Sc(p.s2),
        s3: Sc(p.s3),
        s4: p.s4.iter().copied().map(Sc).collect(),
    };
    Ok(MadeMix { chunks, proof })
}

/// The organiser's `seal_final`: each group's tip and its chain, which must hold at
/// least t distinct trustees (`chain_too_short`: the consultation then waits).
pub fn seal_final(
    consultation: &EventId,
    s: &Setting,
    mixes: &Mixes,
) -> Result<SealFinalBody, Rejection> {
    let chains = (0..s.widths().len() as u64)
        .map(|g| {
            let tip = cascade::tip(mixes, g).ok_or(Rejection::ChainTooShort)?;
            let chain = cascade::chain_to(mixes, tip);
            cascade::check_chain(mixes, g, &chain, s.secrecy.threshold)?;
            Ok(chain)
        })
        .collect::<Result<Vec<_>, Rejection>>()?;
    Ok(SealFinalBody {
        consultation: *consultation,
        chains,
    })
}

/// Trustee `me`'s `decryption` chunks of every group of `seal_final` (`id`, `body`),
/// with its share `x_j`. The honest trustee's rule comes first: a chain that is L₀ or
/// too short (`chain_too_short`) or that lacks its own mix (`decryptor_not_mixer`) is
/// refused, and nothing is decrypted.
#[allow(clippy::too_many_arguments)]
pub fn decryption(
    consultation: &EventId,
    s: &Setting,
    mixes: &Mixes,
    id: &EventId,
    body: &SealFinalBody,
    me: u64,
    x_j: &Secret,
    seed: &[u8; 32],
) -> Result<Vec<DecryptionBody>, Rejection> {
    if body.chains.len() != s.widths().len() {
        return Err(Rejection::ChainTooShort);
    }
    let mut tips = Vec::with_capacity(body.chains.len());
    for (g, chain) in body.chains.iter().enumerate() {
        let tip = cascade::check_chain(mixes, g as u64, chain, s.secrecy.threshold)?;
        cascade::may_decrypt(me, s.secrecy.threshold, &tip.mixers)?;
        tips.push(tip);
    }
    let ctx = cascade::share_context(consultation, id);
    let parts: [&[u8]; 2] = [&ctx[0], &ctx[1]];
    let mut out = Vec::new();
    for (g, tip) in tips.iter().enumerate() {
        let elements = cascade::elements(&tip.outputs);
        for (k, chunk) in elements.chunks(MAX_DECRYPTION_SHARES).enumerate() {
            let start = k * MAX_DECRYPTION_SHARES;
            let shares = chunk
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let index = ((g as u64) << 32) + (start + i) as u64;
                    let seed = group::seeded_scalar(SEED_DECRYPTION, seed, index).to_bytes();
                    ShareWire::of_share(&DecryptionShare::create(&parts, &e.alpha, x_j, &seed))
                })
                .collect();
            out.push(DecryptionBody {
                consultation: *consultation,
                seal_final: *id,
                group: g as u64,
                start: start as u64,
                shares,
            });
        }
    }
    Ok(out)
}

/// The organiser's result of a secret consultation once t trustees who mixed in every
/// chain sent complete shares (`None` before: it stays sealed). The tally is
/// [`super::result::tally_of_plaintexts`] over the recombined plaintexts, with the
/// counted ballots' desk agents (`assisted`).
#[allow(clippy::too_many_arguments)]
pub fn result(
    c: &ConsultationView,
    s: &Setting,
    columns: &[EventId],
    candidates: &[Candidate],
    seal_final: &EventId,
    collected: &Collected,
    checkpoints: Vec<ClosedLog>,
    assisted: impl IntoIterator<Item = (PublicKey, u64)>,
) -> Result<Option<SealedResultBody>, Rejection> {
    let Some(subset) = collected.decryptors(s.secrecy.threshold) else {
        return Ok(None);
    };
    let tally =
        opened_tally(c, s, columns, candidates, collected, &subset)?.with_assisted(assisted);
    let decryptors = subset
        .iter()
        .filter_map(|j| s.secrecy.trustee(*j).copied())
        .collect();
    Ok(Some(SealedResultBody {
        consultation: c.id,
        checkpoints,
        tally,
        sealed: ResultSealed {
            election_key: s.election_key.0,
            layout: s.layout.0,
            seal_final: *seal_final,
            decryptors,
        },
    }))
}

/// The tally of the plaintexts that `subset`'s shares open (without `assisted`).
pub fn opened_tally(
    c: &ConsultationView,
    s: &Setting,
    columns: &[EventId],
    candidates: &[Candidate],
    collected: &Collected,
    subset: &[u64],
) -> Result<Tally, Rejection> {
    let params = s.secrecy.params()?;
    let groups = collected.plaintexts(params, subset)?;
    Ok(super::result::tally_of_plaintexts(
        &c.body.method,
        s.secrecy.split,
        columns,
        candidates,
        &groups,
    ))
}
