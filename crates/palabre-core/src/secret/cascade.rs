//! The rules of the mix and the opening that every reader applies (SECRET-BALLOTS.md
//! §4.8–§4.10): the initial list L₀, which recorded mixes hold and what chain each one
//! ends, the tip, the schedule of the cascade, a `seal_final`'s chains, decryption
//! shares and their recombination, and the honest trustee's rule.
//!
//! Everything is a pure function of what the caller passes in: the consultation, QUAL,
//! the election key, the recorded events and, for the schedule, the time. Admission
//! ([`super::mix_admit`]), the builders ([`super::mix_build`]), the audit
//! (`audit::opening`) and the node's cascade call these, so no rule is written twice.
//! Turning plaintexts into a tally is [`super::result`]'s.

use std::collections::{BTreeMap, BTreeSet};

use curve25519_dalek::ristretto::RistrettoPoint;
use curve25519_dalek::traits::Identity;

use crate::crypto::PublicKey;
use crate::dkg::{self, Params};
use crate::elgamal::Ciphertext;
use crate::event::mix::{DecryptionBody, MAX_DECRYPTION_SHARES, MixBody, MixInput, MixProofBody};
use crate::event::secret::{Sealed, Secrecy};
use crate::event::{Body, SignedEvent};
use crate::ids::EventId;
use crate::rejection::Rejection;
use crate::shuffle::{self, ShuffleError, ShuffleProof};

use super::rules;

/// One group's list of ciphertext vectors: N positions of w elements.
pub type List = Vec<Vec<Ciphertext>>;

/// How long a trustee waits for its predecessor's mix by default (design §4.9: 2 h).
pub const DEFAULT_MIX_TIMEOUT_MS: u64 = 2 * 3_600_000;

/// L₀ (§4.8): for each group of the layout, the group's ciphertexts of the counted
/// sealed ballots, in the order given (voter id ascending: issuing authority, then first
/// key, as `counting` keeps them). A ballot without the group's shape (impossible for an
/// admitted ballot under a fixed layout) gets the trivial encryption of the default
/// plaintext, the identity point ("not answered", grade 0, an empty row).
pub fn initial_lists(secrecy: &Secrecy, n_columns: usize, ballots: &[&Sealed]) -> Vec<List> {
    let blank = Ciphertext::trivial(&RistrettoPoint::identity());
    rules::group_sizes(secrecy, n_columns)
        .into_iter()
        .enumerate()
        .map(|(g, w)| {
            ballots
                .iter()
                .map(|b| match b.groups.get(g) {
                    Some(row) if row.len() == w => row.iter().map(|c| c.0).collect(),
                    _ => vec![blank; w],
                })
                .collect()
        })
        .collect()
}

/// The `sealed` members of the counted ballots, each looked up by id, in the order of
/// `ids` (voter order: `counting::Counted::sealed` is keyed by voter id). `None` if one
/// is not a sealed ballot.
pub fn sealed_of<'a, 'i>(
    ids: impl IntoIterator<Item = &'i EventId>,
    event_of: impl Fn(&EventId) -> Option<&'a SignedEvent>,
) -> Option<Vec<Sealed>> {
    ids.into_iter()
        .map(|id| match event_of(id)?.body() {
            Body::SealedBallot(b) => Some(b.sealed.clone()),
            _ => None,
        })
        .collect()
}

/// Checks one mix against its input (`bad_shuffle`; `bad_point` / `bad_scalar` for an
/// encoding).
pub fn check_mix(
    consultation: &EventId,
    y: &RistrettoPoint,
    input: &List,
    outputs: &List,
    proof: &ShuffleProof,
) -> Result<(), Rejection> {
    shuffle::verify(consultation.0.as_bytes(), y, input, outputs, proof).map_err(|e| match e {
        ShuffleError::Group(g) => g.into(),
        _ => Rejection::BadShuffle,
    })
}

/// The chunks of a `mix_proof`, looked up by id: each a `mix` recorded in the same log
/// by the same author, about the same consultation, group and input, contiguous from
/// position 0, all of one width, N positions in all (`mix_incomplete` otherwise). Returns
/// the outputs and the whole proof.
pub fn gather(
    log: &PublicKey,
    proof_event: &SignedEvent,
    body: &MixProofBody,
    chunk_of: impl Fn(&EventId) -> Option<(PublicKey, SignedEvent)>,
) -> Result<(List, ShuffleProof), Rejection> {
    let mut chunks = Vec::with_capacity(body.parts.len());
    for id in &body.parts {
        chunks.push(chunk_of(id).ok_or(Rejection::MixIncomplete)?);
    }
    let mut bodies: Vec<&MixBody> = Vec::with_capacity(chunks.len());
    let mut next = 0u64;
    let mut width = None;
    for (chunk_log, e) in &chunks {
        let Body::Mix(m) = e.body() else {
            return Err(Rejection::MixIncomplete);
        };
        let same = chunk_log == log
            && e.author() == proof_event.author()
            && m.consultation == body.consultation
            && m.group == body.group
            && m.input == body.input
            && m.start == next;
        let w = m.well_shaped().ok_or(Rejection::BadShuffle)?;
        if !same || width.is_some_and(|x| x != w) {
            return Err(Rejection::MixIncomplete);
        }
        width = Some(w);
        next += m.len() as u64;
        bodies.push(m);
    }
    if next != body.n || body.n == 0 {
        return Err(Rejection::MixIncomplete);
    }
    Ok(body.assemble(&bodies))
}

/// A recorded mix whose proof holds over a valid chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidMix {
    /// The `mix_proof` id.
    pub id: EventId,
    /// The group of the layout (0-based) it mixes.
    pub group: u64,
    /// What it shuffled: L₀ or the mix before it in the chain.
    pub input: MixInput,
    /// The trustee indexes of the chain from L₀ up to and including this mix.
    pub mixers: Vec<u64>,
    /// Its shuffled, re-encrypted ciphertext vectors, one per position: the next
    /// mix's input, or what the trustees decrypt.
    pub outputs: List,
}

impl ValidMix {
    /// The trustee who made this mix.
    pub fn mixer(&self) -> u64 {
        self.mixers.last().copied().unwrap_or(0)
    }
}

/// Every recorded mix of a consultation, judged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mixes {
    /// The mixes whose proof holds over a valid chain, by `mix_proof` id.
    pub valid: BTreeMap<EventId, ValidMix>,
    /// The others, with why (`bad_shuffle`, `mix_incomplete`, `already_mixed`, …).
    pub invalid: BTreeMap<EventId, Rejection>,
}

/// What [`judge_mixes`] needs to know of the consultation.
#[derive(Debug, Clone, Copy)]
pub struct MixContext<'a> {
    /// The consultation's id (the `ctx` of every shuffle proof).
    pub consultation: &'a EventId,
    /// The consultation's trustees and threshold.
    pub secrecy: &'a Secrecy,
    /// QUAL, as trustee indexes.
    pub qual: &'a [u64],
    /// The election key Y.
    pub y: &'a RistrettoPoint,
    /// L₀, one list per group.
    pub initial: &'a [List],
}

impl MixContext<'_> {
    fn input_list<'m>(
        &'m self,
        mixes: &'m Mixes,
        input: &MixInput,
        group: u64,
    ) -> Option<&'m List> {
        match input {
            MixInput::Initial => self.initial.get(usize::try_from(group).ok()?),
            MixInput::Mix(id) => mixes.valid.get(id).map(|m| &m.outputs),
        }
    }
}

/// Judges one `mix_proof` of `log` against the mixes already judged: in its author's own
/// log, by a trustee of QUAL (`wrong_author`), over a group of the layout, whose input is
/// L₀ or a valid mix of the same group (`unknown_target` while it is not recorded,
/// `bad_shuffle` if it is not valid), not by a trustee already in that chain nor one
/// that has a valid mix of this group already (`already_mixed`), with its chunks
/// (`mix_incomplete`) and a proof that holds (`bad_shuffle`).
pub fn judge_mix(
    ctx: &MixContext<'_>,
    mixes: &Mixes,
    log: &PublicKey,
    event: &SignedEvent,
    chunk_of: impl Fn(&EventId) -> Option<(PublicKey, SignedEvent)>,
) -> Result<ValidMix, Rejection> {
    judge_mix_once(ctx, mixes, log, event, chunk_of, Proof::Check)
}

/// Whether [`judge_mix_once`] checks the shuffle proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// Check it.
    Check,
    /// This reader checked this very event's proofs over the same input when it
    /// admitted it (a `mix_proof`'s id fixes its proof, its chunks and its input; a
    /// `decryption`'s, its shares, its `seal_final` and so its chain's tip), so only the
    /// rest is judged again.
    CheckedAtAdmission,
}

/// [`judge_mix`], with the shuffle proof checked or not (`proof`).
pub fn judge_mix_once(
    ctx: &MixContext<'_>,
    mixes: &Mixes,
    log: &PublicKey,
    event: &SignedEvent,
    chunk_of: impl Fn(&EventId) -> Option<(PublicKey, SignedEvent)>,
    proof_check: Proof,
) -> Result<ValidMix, Rejection> {
    let Body::MixProof(b) = event.body() else {
        return Err(Rejection::Malformed("not a mix_proof".into()));
    };
    let mixer = ctx
        .secrecy
        .index_of(event.author())
        .filter(|j| ctx.qual.contains(j) && log == event.author())
        .ok_or(Rejection::WrongAuthor {
            expected: "a trustee of QUAL, in its own log",
        })?;
    if b.consultation != *ctx.consultation || b.group as usize >= ctx.initial.len() {
        return Err(Rejection::BadShuffle);
    }
    let mut mixers = match &b.input {
        MixInput::Initial => Vec::new(),
        MixInput::Mix(id) => match mixes.valid.get(id) {
            Some(m) if m.group == b.group => m.mixers.clone(),
            Some(_) => return Err(Rejection::BadShuffle),
            None if mixes.invalid.contains_key(id) => return Err(Rejection::BadShuffle),
            None => return Err(Rejection::UnknownTarget),
        },
    };
    let mixed_before = mixes
        .valid
        .values()
        .any(|m| m.group == b.group && m.mixer() == mixer && m.id != event.id());
    if mixers.contains(&mixer) || mixed_before {
        return Err(Rejection::AlreadyMixed);
    }
    let input = ctx
        .input_list(mixes, &b.input, b.group)
        .ok_or(Rejection::UnknownTarget)?;
    let (outputs, proof) = gather(log, event, b, chunk_of)?;
    if proof_check == Proof::Check {
        check_mix(ctx.consultation, ctx.y, input, &outputs, &proof)?;
    }
    mixers.push(mixer);
    Ok(ValidMix {
        id: event.id(),
        group: b.group,
        input: b.input,
        mixers,
        outputs,
    })
}

/// Judges every recorded `mix_proof` (`proofs`, with their logs, in record order: of two
/// valid mixes of one group by one trustee, the first counts), following the chains from
/// L₀. A proof whose input never becomes valid is `bad_shuffle` (an invalid input) or
/// `unknown_target` (an input not recorded).
pub fn judge_mixes(
    ctx: &MixContext<'_>,
    proofs: &[(PublicKey, SignedEvent)],
    chunk_of: impl Fn(&EventId) -> Option<(PublicKey, SignedEvent)>,
) -> Mixes {
    judge_more(ctx, Mixes::default(), proofs, chunk_of, |_| Proof::Check)
}

/// As [`judge_mixes`], for `proofs` recorded after the ones `mixes` holds verdicts on
/// (what a reader that keeps its verdicts judges: [`super::judged`]), each proof
/// checked or not as `check` says of its id.
pub fn judge_more(
    ctx: &MixContext<'_>,
    mut mixes: Mixes,
    proofs: &[(PublicKey, SignedEvent)],
    chunk_of: impl Fn(&EventId) -> Option<(PublicKey, SignedEvent)>,
    check: impl Fn(&EventId) -> Proof,
) -> Mixes {
    let mut pending: Vec<&(PublicKey, SignedEvent)> = proofs.iter().collect();
    loop {
        let mut progress = false;
        let mut waiting = Vec::new();
        for item in pending {
            let (log, event) = item;
            match judge_mix_once(ctx, &mixes, log, event, &chunk_of, check(&event.id())) {
                Ok(m) => {
                    mixes.valid.insert(m.id, m);
                    progress = true;
                }
                Err(Rejection::UnknownTarget) => waiting.push(item),
                Err(r) => {
                    mixes.invalid.insert(event.id(), r);
                    progress = true;
                }
            }
        }
        pending = waiting;
        if !progress || pending.is_empty() {
            break;
        }
    }
    for (_, event) in pending {
        mixes.invalid.insert(event.id(), Rejection::UnknownTarget);
    }
    mixes
}

/// The tip of a group: the valid mix ending the longest chain, ties by the higher index
/// of its mixer, then the lower id. `None` while no mix of the group is valid (the tip
/// is L₀).
pub fn tip(mixes: &Mixes, group: u64) -> Option<&ValidMix> {
    mixes
        .valid
        .values()
        .filter(|m| m.group == group)
        .max_by(|a, b| {
            (a.mixers.len(), a.mixer())
                .cmp(&(b.mixers.len(), b.mixer()))
                .then(b.id.cmp(&a.id))
        })
}

/// Checks one chain of a `seal_final`: the ids of valid mixes of `group` from L₀, each
/// taking the previous one's outputs, of at least t distinct trustees
/// (`chain_too_short`, also for an empty chain — L₀ itself; a link that is not a valid
/// mix is `bad_shuffle`, one not recorded `unknown_target`). Returns the last mix.
pub fn check_chain<'m>(
    mixes: &'m Mixes,
    group: u64,
    chain: &[EventId],
    t: u64,
) -> Result<&'m ValidMix, Rejection> {
    let mut previous = MixInput::Initial;
    let mut last = None;
    for id in chain {
        let Some(m) = mixes.valid.get(id) else {
            return Err(if mixes.invalid.contains_key(id) {
                Rejection::BadShuffle
            } else {
                Rejection::UnknownTarget
            });
        };
        if m.group != group || m.input != previous {
            return Err(Rejection::ChainTooShort);
        }
        previous = MixInput::Mix(*id);
        last = Some(m);
    }
    let last = last.ok_or(Rejection::ChainTooShort)?;
    let distinct: BTreeSet<u64> = last.mixers.iter().copied().collect();
    if (distinct.len() as u64) < t || last.mixers.len() != chain.len() {
        return Err(Rejection::ChainTooShort);
    }
    Ok(last)
}

/// The chain ending at a valid mix, as `mix_proof` ids from L₀.
pub fn chain_to(mixes: &Mixes, last: &ValidMix) -> Vec<EventId> {
    let mut out = vec![last.id];
    let mut input = last.input;
    while let MixInput::Mix(id) = input {
        out.push(id);
        match mixes.valid.get(&id) {
            Some(m) => input = m.input,
            None => break,
        }
    }
    out.reverse();
    out
}

/// What a trustee's node does about the mix of one group at `now_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixTurn {
    /// Nothing more: it mixed already, or it is not in QUAL.
    Done,
    /// Wait for its predecessor's mix, at most until this time.
    Wait {
        /// When its turn comes anyway, ms since 1970 (`r × mix_timeout_ms` after the quorum).
        until_ms: u64,
    },
    /// Mix this input now.
    Mix(MixInput),
}

/// The schedule (§4.9, node behaviour): QUAL mixes in index order. The first mixes as
/// soon as the closing quorum is reached (`quorum_at_ms`); the trustee of rank r (0-based
/// in QUAL) mixes the tip as soon as the tip is its predecessor's mix, or once
/// `r × mix_timeout_ms` has passed since the quorum, from the tip it holds: absent
/// trustees are skipped. A trustee whose mix is already in the tip's chain, or that
/// mixed this group, is done.
pub fn mix_turn(
    qual: &[u64],
    me: u64,
    quorum_at_ms: u64,
    now_ms: u64,
    mix_timeout_ms: u64,
    mixed_already: bool,
    tip: Option<&ValidMix>,
) -> MixTurn {
    let Some(rank) = qual.iter().position(|j| *j == me) else {
        return MixTurn::Done;
    };
    if mixed_already || tip.is_some_and(|m| m.mixers.contains(&me)) {
        return MixTurn::Done;
    }
    let input = tip.map_or(MixInput::Initial, |m| MixInput::Mix(m.id));
    let predecessor_done = match rank.checked_sub(1) {
        None => true,
        Some(p) => tip.is_some_and(|m| m.mixer() == qual[p]),
    };
    let deadline = quorum_at_ms.saturating_add(mix_timeout_ms.saturating_mul(rank as u64));
    if predecessor_done || now_ms >= deadline {
        MixTurn::Mix(input)
    } else {
        MixTurn::Wait { until_ms: deadline }
    }
}

/// How many trustees of QUAL rank between the tip's mixer (L₀: before the first) and
/// `me` (0 when the tip is its predecessor's mix, or when `me` was skipped). A node that
/// mixes because a deadline passed waits this many staggers more, so that trustees whose
/// deadlines all passed at once (nodes back after a common outage) mix one after the
/// other instead of forking the chain (node behaviour, not an audit rule).
pub fn ranks_skipped(qual: &[u64], me: u64, tip: Option<&ValidMix>) -> u64 {
    let Some(r) = qual.iter().position(|j| *j == me) else {
        return 0;
    };
    let p = tip
        .and_then(|m| qual.iter().position(|j| *j == m.mixer()))
        .map_or(-1, |p| p as i64);
    (r as i64 - p - 1).max(0) as u64
}

/// Whether the organiser appends `seal_final` now (§4.10): every group's tip has at
/// least t distinct mixers, and either every tip holds all of QUAL or the mixing
/// deadline (`|QUAL| × mix_timeout_ms` after the quorum) has passed.
pub fn seal_due(
    qual: &[u64],
    t: u64,
    tips: &[Option<&ValidMix>],
    quorum_at_ms: u64,
    now_ms: u64,
    mix_timeout_ms: u64,
) -> bool {
    let long_enough = tips
        .iter()
        .all(|m| m.is_some_and(|m| m.mixers.len() as u64 >= t));
    let complete = tips
        .iter()
        .all(|m| m.is_some_and(|m| qual.iter().all(|j| m.mixers.contains(j))));
    let deadline = quorum_at_ms.saturating_add(mix_timeout_ms.saturating_mul(qual.len() as u64));
    long_enough && (complete || now_ms >= deadline)
}

/// The honest trustee's rule (§4.10): trustee `me` decrypts only a chain of at least t
/// distinct trustees (`chain_too_short`: never L₀ nor a short chain) that contains its
/// own mix (`decryptor_not_mixer`). `mixers` is the chain's, from [`ValidMix::mixers`]
/// (empty for L₀).
pub fn may_decrypt(me: u64, t: u64, mixers: &[u64]) -> Result<(), Rejection> {
    let distinct: BTreeSet<u64> = mixers.iter().copied().collect();
    if (distinct.len() as u64) < t {
        return Err(Rejection::ChainTooShort);
    }
    if !distinct.contains(&me) {
        return Err(Rejection::DecryptorNotMixer);
    }
    Ok(())
}

/// The elements of a list, position by position, column by column: element
/// `position·w + k`, the numbering of `decryption` chunks.
pub fn elements(list: &List) -> Vec<Ciphertext> {
    list.iter().flatten().copied().collect()
}

/// The context of a decryption share's proof: `cid ‖ seal_final id`.
pub fn share_context(consultation: &EventId, seal_final: &EventId) -> [[u8; 32]; 2] {
    [*consultation.0.as_bytes(), *seal_final.0.as_bytes()]
}

/// Checks a `decryption` chunk's shares against the tip's outputs (`list`, read as its
/// [`elements`] without copying them) and the trustee's verification key `Y_j`: 1 to 200
/// shares, within the elements, each with a DLEQ proof that holds
/// (`bad_decryption_share`) — unless `proof` says this reader checked them already.
pub fn check_shares(
    consultation: &EventId,
    seal_final: &EventId,
    y_j: &RistrettoPoint,
    list: &List,
    body: &DecryptionBody,
    proof: Proof,
) -> Result<(), Rejection> {
    let start = usize::try_from(body.start).map_err(|_| Rejection::BadDecryptionShare)?;
    // Every position of a list has the group's width (L₀ and `gather` see to it).
    let w = list.first().map_or(1, Vec::len).max(1);
    let n_elements = list.len() * w;
    let fits = !body.shares.is_empty()
        && body.shares.len() <= MAX_DECRYPTION_SHARES
        && start
            .checked_add(body.shares.len())
            .is_some_and(|end| end <= n_elements);
    if !fits {
        return Err(Rejection::BadDecryptionShare);
    }
    if proof == Proof::CheckedAtAdmission {
        return Ok(());
    }
    let ctx = share_context(consultation, seal_final);
    let parts: [&[u8]; 2] = [&ctx[0], &ctx[1]];
    let elements = list[start / w..].iter().flatten().skip(start % w);
    for (share, element) in body.shares.iter().zip(elements) {
        share
            .share()
            .verify(&parts, &element.alpha, y_j)
            .map_err(|_| Rejection::BadDecryptionShare)?;
    }
    Ok(())
}

/// One trustee's shares of a whole group, from its `decryption` chunks for it: the `d`
/// of every element, when the chunks cover `0 … n_elements − 1` exactly once (`None`
/// otherwise: that trustee counts as missing for the group).
pub fn complete_shares<'a>(
    n_elements: usize,
    chunks: impl IntoIterator<Item = &'a DecryptionBody>,
) -> Option<Vec<RistrettoPoint>> {
    let mut by_start: BTreeMap<u64, &DecryptionBody> = BTreeMap::new();
    for c in chunks {
        if by_start.insert(c.start, c).is_some() {
            return None;
        }
    }
    let mut out = Vec::with_capacity(n_elements);
    for (start, c) in by_start {
        if start != out.len() as u64 {
            return None;
        }
        out.extend(c.shares.iter().map(|s| s.d.0));
    }
    (out.len() == n_elements).then_some(out)
}

/// The plaintext points of a group's elements from the complete shares of the trustees
/// `subset` (at least t distinct indexes of 1…n): `M = β − Σ λ_j·d_j` for each element.
pub fn recombine(
    params: Params,
    elements: &[Ciphertext],
    subset: &[(u64, &[RistrettoPoint])],
) -> Result<Vec<RistrettoPoint>, Rejection> {
    if subset.iter().any(|(_, d)| d.len() != elements.len()) {
        return Err(Rejection::BadDecryptionShare);
    }
    elements
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let shares: Vec<(u64, RistrettoPoint)> =
                subset.iter().map(|(j, d)| (*j, d[i])).collect();
            dkg::recombine(params, &e.beta, &shares).map_err(|_| Rejection::BadDecryptionShare)
        })
        .collect()
}

/// Cuts a group's plaintext points back into positions of width `w`.
pub fn positions(points: Vec<RistrettoPoint>, w: usize) -> Vec<Vec<RistrettoPoint>> {
    points
        .chunks(w.max(1))
        .map(<[RistrettoPoint]>::to_vec)
        .collect()
}
