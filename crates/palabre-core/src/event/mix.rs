//! The events of the mix and the opening (SECRET-BALLOTS.md §4.9–§4.11; PROTOCOL.md,
//! "Secret ballots: the mix and the opening"): their bodies and wire form, and the
//! conversions between that form and the typed values of `shuffle`, `dkg` and `elgamal`.
//!
//! - `mix` chunks (a trustee's shuffled outputs and the per-position members of its
//!   proof, at most [`max_chunk_positions`] positions each) and the `mix_proof` that
//!   closes a mix (the proof's other members and the chunk ids in order);
//! - `seal_final` (the organiser fixes one chain of mixes per group);
//! - `decryption` chunks (a trustee's shares of the tip's elements, with DLEQ proofs);
//! - the `result` of a secret consultation, which carries the [`ResultSealed`] member.
//!
//! Decoding here is stateless, as in the first half (`bad_point`, `bad_scalar`). Which
//! mix follows which, whether a proof holds against its input, and what the plaintexts
//! are is [`crate::secret::cascade`]'s; admission of these kinds is [`crate::secret::mix_admit`]'s and the
//! node's bodies are made by [`crate::secret::mix_build`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::crypto::PublicKey;
use crate::dkg::DecryptionShare;
use crate::elgamal::Ciphertext;
use crate::ids::EventId;
use crate::proofs::DleqProof;
use crate::shuffle::ShuffleProof;
use crate::tally::Tally;

use super::ClosedLog;
use super::secret::{Ct, Point, Sc};

/// The most positions of a `mix` chunk at width 1 (design §4.15); a chunk of width w
/// holds at most `⌊128 / w⌋` (at least 1), so that it stays under 64 KiB.
pub const MAX_MIX_POSITIONS: usize = 128;
/// The most shares of a `decryption` chunk (design §4.15).
pub const MAX_DECRYPTION_SHARES: usize = 200;

/// The most positions of one `mix` chunk of width `w`.
pub fn max_chunk_positions(w: usize) -> usize {
    (MAX_MIX_POSITIONS / w.max(1)).max(1)
}

/// What a mix shuffles: the initial list L₀ (`"initial"`) or the outputs of a recorded
/// `mix_proof` (its id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MixInput {
    /// L₀, recomputed by every reader from the closing checkpoints (§4.8).
    Initial,
    /// The outputs of this `mix_proof`'s mix.
    Mix(EventId),
}

/// The wire word for [`MixInput::Initial`].
pub const INITIAL: &str = "initial";

impl Serialize for MixInput {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MixInput::Initial => s.serialize_str(INITIAL),
            MixInput::Mix(id) => id.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for MixInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MixInput, D::Error> {
        let text = String::deserialize(d)?;
        if text == INITIAL {
            return Ok(MixInput::Initial);
        }
        text.parse()
            .map(MixInput::Mix)
            .map_err(|_| serde::de::Error::custom("`input` is \"initial\" or an event id"))
    }
}

/// `mix`: positions `start … start + len − 1` of trustee j's shuffle of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixBody {
    /// The secret consultation whose ballots are mixed.
    pub consultation: EventId,
    /// The group of the layout (0-based).
    pub group: u64,
    /// What this mix shuffles: L₀ or a recorded mix.
    pub input: MixInput,
    /// The first position of this chunk (0-based).
    pub start: u64,
    /// One vector of `w` ciphertexts per position.
    pub outputs: Vec<Vec<Ct>>,
    /// `c_j` for the inputs `start …` (the permutation commitment is indexed by input).
    pub c: Vec<Point>,
    /// `ĉ_i` for the outputs `start …`.
    pub chat: Vec<Point>,
    /// `t̂_i`.
    pub that: Vec<Point>,
    /// `ŝ_i`.
    pub shat: Vec<Sc>,
    /// `s'_i`.
    pub sprime: Vec<Sc>,
}

impl MixBody {
    /// The number of positions of the chunk.
    pub fn len(&self) -> usize {
        self.outputs.len()
    }

    /// Whether the chunk has no position (never well shaped).
    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }

    /// Whether every per-position list has one entry per position and every output the
    /// same width `w ≥ 1`, at most [`max_chunk_positions`] positions.
    pub fn well_shaped(&self) -> Option<usize> {
        let n = self.outputs.len();
        let w = self.outputs.first()?.len();
        let lists = [self.c.len(), self.chat.len(), self.that.len()];
        let scalars = [self.shat.len(), self.sprime.len()];
        let ok = w >= 1
            && n <= max_chunk_positions(w)
            && self.outputs.iter().all(|o| o.len() == w)
            && lists.iter().chain(&scalars).all(|l| *l == n);
        ok.then_some(w)
    }
}

/// `mix_proof`: closes trustee j's mix of one group: its chunks in order and the members
/// of the Terelius–Wikström proof that are not per position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixProofBody {
    /// The secret consultation whose ballots are mixed.
    pub consultation: EventId,
    /// The group of the layout (0-based), as in every chunk.
    pub group: u64,
    /// What the mix shuffles, as in every chunk.
    pub input: MixInput,
    /// The `mix` chunks, by position (`start` 0, then contiguous).
    pub parts: Vec<EventId>,
    /// The number of positions N.
    pub n: u64,
    /// `t₁ = ω₁·B`, the prover's commitment for the permutation's sum.
    pub t1: Point,
    /// `t₂ = ω₂·B`, the prover's commitment for the chain's end.
    pub t2: Point,
    /// `t₃`, the prover's commitment for the weighted permutation commitment.
    pub t3: Point,
    /// `t₄α_k ‖ t₄β_k` per column (written like a ciphertext).
    pub t4: Vec<Ct>,
    /// `s₁`, the response matching `t1`.
    pub s1: Sc,
    /// `s₂`, the response matching `t2`.
    pub s2: Sc,
    /// `s₃`, the response matching `t3`.
    pub s3: Sc,
    /// `s₄,k` per column.
    pub s4: Vec<Sc>,
}

impl MixProofBody {
    /// The whole proof and the outputs, from this body and its chunks in `parts` order
    /// (already checked contiguous by the caller).
    pub fn assemble(&self, chunks: &[&MixBody]) -> (Vec<Vec<Ciphertext>>, ShuffleProof) {
        let mut proof = ShuffleProof {
            c: Vec::new(),
            chat: Vec::new(),
            that: Vec::new(),
            shat: Vec::new(),
            sprime: Vec::new(),
            t1: self.t1.0,
            t2: self.t2.0,
            t3: self.t3.0,
            t4: self.t4.iter().map(|p| (p.0.alpha, p.0.beta)).collect(),
            s1: self.s1.0,
            s2: self.s2.0,
            s3: self.s3.0,
            s4: self.s4.iter().map(|s| s.0).collect(),
        };
        let mut outputs = Vec::with_capacity(self.n as usize);
        for chunk in chunks {
            outputs.extend(
                chunk
                    .outputs
                    .iter()
                    .map(|row| row.iter().map(|c| c.0).collect::<Vec<_>>()),
            );
            proof.c.extend(chunk.c.iter().map(|p| p.0));
            proof.chat.extend(chunk.chat.iter().map(|p| p.0));
            proof.that.extend(chunk.that.iter().map(|p| p.0));
            proof.shat.extend(chunk.shat.iter().map(|s| s.0));
            proof.sprime.extend(chunk.sprime.iter().map(|s| s.0));
        }
        (outputs, proof)
    }
}

/// `seal_final`: the organiser fixes, for each group of the layout, the chain of
/// `mix_proof` ids from L₀ to the tip that the trustees decrypt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealFinalBody {
    /// The secret consultation whose mixes are decrypted.
    pub consultation: EventId,
    /// One chain per group: the `mix_proof` ids in mixing order, the first over L₀.
    pub chains: Vec<Vec<EventId>>,
}

/// One decryption share on the wire: `d = x_j·α` and its proof `(c, s)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareWire {
    /// `d = x_j·α`: the trustee's share of one element's decryption.
    pub d: Point,
    /// The DLEQ proof's challenge.
    pub c: Sc,
    /// The DLEQ proof's response.
    pub s: Sc,
}

impl ShareWire {
    /// The typed share, for `dkg`'s verification and recombination.
    pub fn share(&self) -> DecryptionShare {
        DecryptionShare {
            d: self.d.0,
            proof: DleqProof {
                c: self.c.0,
                s: self.s.0,
            },
        }
    }

    /// The wire form of a typed share.
    pub fn of_share(s: &DecryptionShare) -> ShareWire {
        ShareWire {
            d: Point(s.d),
            c: Sc(s.proof.c),
            s: Sc(s.proof.s),
        }
    }
}

/// `decryption`: trustee j's shares of the elements `start …` of one group's tip, the
/// elements numbered position by position, column by column (`position·w + k`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecryptionBody {
    /// The secret consultation whose mixes are decrypted.
    pub consultation: EventId,
    /// The `seal_final` whose chains are decrypted.
    #[serde(rename = "final")]
    pub seal_final: EventId,
    /// The group of the layout (0-based) whose chain's last mix is decrypted.
    pub group: u64,
    /// The first element of this chunk (0-based).
    pub start: u64,
    /// One share per element from `start`, 1 to [`MAX_DECRYPTION_SHARES`].
    pub shares: Vec<ShareWire>,
}

/// The `sealed` member of a secret consultation's `result`: what was opened and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultSealed {
    /// The id of the consultation's `election_key` event.
    pub election_key: EventId,
    /// The id of the consultation's `ballot_layout` event.
    pub layout: EventId,
    /// The id of the `seal_final` whose chains were decrypted (`final` on the wire).
    #[serde(rename = "final")]
    pub seal_final: EventId,
    /// The t trustees whose shares were recombined, ascending.
    pub decryptors: Vec<PublicKey>,
}

/// A `result` of a secret consultation: the v1 members and `sealed`. On the wire it is an
/// ordinary `result` event; the Rust value is its own variant of `Body`, as for sealed
/// ballots, so that no reader of public results mistakes one for the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedResultBody {
    /// The secret consultation counted.
    pub consultation: EventId,
    /// One closing head per participating authority, ascending by authority key.
    pub checkpoints: Vec<ClosedLog>,
    /// The counts of the opened plaintexts, in the shape of the method.
    pub tally: Tally,
    /// What was opened, and by which trustees.
    pub sealed: ResultSealed,
}
