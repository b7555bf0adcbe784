//! The opening of a sealed consultation (SECRET-BALLOTS.md §4.10–§4.11): the trustees'
//! decryption shares gathered per group of a `seal_final`, which trustees may be the
//! result's decryptors, the recombination of their shares into plaintexts, and the check
//! that other t-subsets agree.
//!
//! The organiser's builder ([`super::mix_build::result`]) and the audit
//! (`audit::opening`) both read the opening through [`collect`], so the decryptors a
//! result names and the tally it signs are judged by the same rules that made them.
//! Checking one chunk's proofs is [`cascade::check_shares`]; decoding and counting the
//! plaintexts is [`super::result`]'s.

use std::collections::{BTreeMap, BTreeSet};

use curve25519_dalek::ristretto::RistrettoPoint;

use crate::crypto::PublicKey;
use crate::dkg::Params;
use crate::event::mix::{DecryptionBody, SealFinalBody};
use crate::event::{Body, SignedEvent};
use crate::ids::EventId;
use crate::rejection::Rejection;

use super::cascade::{self, List, Mixes, Proof, ValidMix};
use super::setting::Setting;

/// The shares recorded for one `seal_final`, judged.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// Each group's tip: the last mix of its chain.
    pub tips: Vec<ValidMix>,
    /// The trustees (indexes) with complete, valid shares of every group: `d` per
    /// element, per group.
    pub complete: BTreeMap<u64, Vec<Vec<RistrettoPoint>>>,
    /// The chunks whose shares fail (`bad_decryption_share`), with their log.
    pub bad: Vec<(PublicKey, EventId)>,
    /// The trustees who sent shares of a chain without their own mix.
    pub not_mixers: BTreeSet<u64>,
}

impl Collected {
    /// The trustees who mixed in every chain.
    pub fn mixed_everywhere(&self, j: u64) -> bool {
        self.tips.iter().all(|m| m.mixers.contains(&j))
    }

    /// The result's decryptors an honest organiser names: the t lowest-indexed trustees
    /// with complete shares who mixed in every chain (`None` while there are fewer: the
    /// consultation stays sealed).
    pub fn decryptors(&self, t: u64) -> Option<Vec<u64>> {
        let ready: Vec<u64> = self
            .complete
            .keys()
            .copied()
            .filter(|j| self.mixed_everywhere(*j))
            .take(t as usize)
            .collect();
        (ready.len() as u64 == t).then_some(ready)
    }

    /// How many more trustees must send their shares before a result can exist.
    pub fn missing(&self, t: u64) -> u64 {
        let ready = self
            .complete
            .keys()
            .filter(|j| self.mixed_everywhere(**j))
            .count() as u64;
        t.saturating_sub(ready)
    }

    /// The plaintext points of every group, by position, recombined from `subset`'s
    /// shares (each must be complete: `bad_decryption_share` otherwise).
    pub fn plaintexts(
        &self,
        params: Params,
        subset: &[u64],
    ) -> Result<Vec<Vec<Vec<RistrettoPoint>>>, Rejection> {
        self.tips
            .iter()
            .enumerate()
            .map(|(g, tip)| {
                let elements = cascade::elements(&tip.outputs);
                let shares = subset
                    .iter()
                    .map(|j| {
                        let d = self
                            .complete
                            .get(j)
                            .and_then(|groups| groups.get(g))
                            .ok_or(Rejection::BadDecryptionShare)?;
                        Ok((*j, d.as_slice()))
                    })
                    .collect::<Result<Vec<_>, Rejection>>()?;
                let points = cascade::recombine(params, &elements, &shares)?;
                Ok(cascade::positions(points, width(&tip.outputs)))
            })
            .collect()
    }

    /// Defence in depth (§4.12.8): every window of t consecutive trustees among those
    /// with complete shares must give the plaintexts of `subset`. A disagreement cannot
    /// happen with proofs that hold; it returns the window that differs.
    pub fn inconsistent(&self, params: Params, subset: &[u64]) -> Option<Vec<u64>> {
        let reference = self.plaintexts(params, subset).ok()?;
        let all: Vec<u64> = self.complete.keys().copied().collect();
        all.windows(params.t as usize)
            .map(<[u64]>::to_vec)
            .find(|w| self.plaintexts(params, w).ok().as_ref() != Some(&reference))
    }
}

fn width(list: &List) -> usize {
    list.first().map_or(1, Vec::len)
}

/// Gathers and judges the `decryption` chunks of `seal_final` (its id and body), over
/// the judged mixes: each group's chain must hold ([`cascade::check_chain`]); each
/// chunk's shares are checked against its author's verification key `Y_j` (from
/// `verification_key`) — their DLEQ proofs only where `proof` says so of the chunk's id
/// (a reader that checked them at admission need not again) — and a trustee whose
/// chunks cover every element of every group exactly once, all valid, is complete.
pub fn collect(
    consultation: &EventId,
    s: &Setting,
    mixes: &Mixes,
    (id, body): (&EventId, &SealFinalBody),
    decryptions: &[(PublicKey, SignedEvent)],
    verification_key: impl Fn(u64) -> RistrettoPoint,
    proof: impl Fn(&EventId) -> Proof,
) -> Result<Collected, Rejection> {
    let mut out = Collected::default();
    for (g, chain) in body.chains.iter().enumerate() {
        let tip = cascade::check_chain(mixes, g as u64, chain, s.secrecy.threshold)?;
        out.tips.push(tip.clone());
    }
    let n_elements: Vec<usize> = out
        .tips
        .iter()
        .map(|m| m.outputs.len() * width(&m.outputs))
        .collect();
    let mut by_trustee: BTreeMap<u64, Vec<Vec<&DecryptionBody>>> = BTreeMap::new();
    let mut failed: BTreeSet<u64> = BTreeSet::new();
    for (log, e) in decryptions {
        let Body::Decryption(d) = e.body() else {
            continue;
        };
        if d.seal_final != *id || d.consultation != *consultation {
            continue;
        }
        let Some(j) = s
            .secrecy
            .index_of(e.author())
            .filter(|j| s.qual.contains(j) && log == e.author())
        else {
            out.bad.push((*log, e.id()));
            continue;
        };
        let g = d.group as usize;
        let checked = out
            .tips
            .get(g)
            .ok_or(Rejection::BadDecryptionShare)
            .and_then(|tip| {
                let y_j = verification_key(j);
                cascade::check_shares(consultation, id, &y_j, &tip.outputs, d, proof(&e.id()))
            });
        if checked.is_err() {
            out.bad.push((*log, e.id()));
            failed.insert(j);
            continue;
        }
        if !out.tips[g].mixers.contains(&j) {
            out.not_mixers.insert(j);
        }
        by_trustee
            .entry(j)
            .or_insert_with(|| vec![Vec::new(); out.tips.len()])[g]
            .push(d);
    }
    for (j, groups) in by_trustee {
        if failed.contains(&j) {
            continue;
        }
        let complete: Option<Vec<Vec<RistrettoPoint>>> = groups
            .into_iter()
            .zip(&n_elements)
            .map(|(chunks, n)| cascade::complete_shares(*n, chunks))
            .collect();
        if let Some(c) = complete {
            out.complete.insert(j, c);
        }
    }
    Ok(out)
}
