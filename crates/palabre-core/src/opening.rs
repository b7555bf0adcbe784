//! The opening of a sealed ballot that a resident chose to check instead of casting
//! (SECRET-BALLOTS.md §4.7, the Benaloh audit; PROTOCOL.md, "Checking an encryption"):
//! the JSON file the page hands out, and the one check that every checker runs — the
//! `palabre check-encryption` command and the `/verify/encryption` form of any node.
//!
//! An opening holds the `sealed` member exactly as the ballot would carry it, the
//! randomness `r` of every ciphertext, the election key, and the plaintext choice in the
//! page's own terms (a value per group in split mode, the chosen column indexes in row
//! mode). [`Opening::check`] re-encodes the choice with [`sealed`]'s codec, re-encrypts
//! it with [`sealed::check_encryption`] and verifies the proof of knowledge, so a page
//! that encrypted anything else is caught. Naming the proposals behind the columns (the
//! layout event) and showing the answer are the callers'.
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};

use crate::elgamal::Ciphertext;
use crate::group::{self, GroupError, RistrettoPoint, Scalar};
use crate::ids::decode_hex;
use crate::proofs::{BallotContext, BallotPok};
use crate::sealed;

/// The `sealed` member of a ballot, as it travels (design §4.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedMember {
    /// The `ballot_layout` event id.
    pub layout: String,
    /// One list of ciphertexts (128 hex) per layout group.
    pub groups: Vec<Vec<String>>,
    /// The batched proof of knowledge.
    pub pok: PokMember,
}

/// `{c, s: […]}` of a sealed ballot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PokMember {
    /// The shared challenge.
    pub c: String,
    /// One response per ciphertext, in element order.
    pub s: Vec<String>,
}

/// How the choice of an opening is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One group per column; `choice` holds one value (0..=255) per group.
    Split,
    /// One group of ⌈columns/240⌉ elements; `choice` holds the chosen column indexes.
    Row,
}

/// The file a "check this encryption" hands out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    /// The consultation's event id.
    pub consultation: String,
    /// The credential key the ballot would have been signed with.
    pub author: String,
    /// The election key `Y`.
    pub election_key: String,
    /// Split or row.
    pub mode: Mode,
    /// Row mode only: the layout's number of columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<usize>,
    /// Split: a value per group. Row: the chosen column indexes, ascending.
    pub choice: Vec<u64>,
    /// The ciphertexts and their proof, as the ballot would carry them.
    pub sealed: SealedMember,
    /// The randomness of each ciphertext (64 hex), in the shape of `sealed.groups`.
    pub randomness: Vec<Vec<String>>,
}

/// Why an opening does not show a faithful encryption.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpeningError {
    /// Not an opening: bad JSON, a missing member, ids not 64 hex.
    #[error("not an encryption opening: {0}")]
    Malformed(String),
    /// A point or scalar that does not decode.
    #[error(transparent)]
    Group(#[from] GroupError),
    /// The choice does not fit the shapes (a value or column out of range, a count that
    /// does not match the groups).
    #[error("the choice does not fit the ciphertexts' shape")]
    InvalidChoice,
    /// The randomness does not re-encrypt the choice to the ciphertexts shown: the page
    /// encrypted something else.
    #[error("these ciphertexts do not encrypt this choice")]
    Mismatch,
    /// The ciphertexts match, but their proof of knowledge would not be admitted.
    #[error("the proof of knowledge does not verify")]
    BadPok,
}

impl OpeningError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            OpeningError::Malformed(_) => "malformed",
            OpeningError::Group(e) => e.code(),
            OpeningError::InvalidChoice => "invalid_choice",
            OpeningError::Mismatch => "encryption_mismatch",
            OpeningError::BadPok => "bad_pok",
        }
    }
}

fn id(text: &str, what: &str) -> Result<[u8; 32], OpeningError> {
    decode_hex::<32>(text).map_err(|_| OpeningError::Malformed(format!("{what}: 64 hex")))
}

impl Opening {
    /// Reads an opening from its JSON text.
    pub fn parse(text: &str) -> Result<Opening, OpeningError> {
        serde_json::from_str(text).map_err(|e| OpeningError::Malformed(e.to_string()))
    }

    /// The plaintext points the choice stands for, one per element in group order.
    fn plaintexts(&self) -> Result<Vec<RistrettoPoint>, OpeningError> {
        let groups = &self.sealed.groups;
        match self.mode {
            Mode::Split => {
                if self.columns.is_some()
                    || self.choice.len() != groups.len()
                    || groups.iter().any(|g| g.len() != 1)
                {
                    return Err(OpeningError::InvalidChoice);
                }
                self.choice
                    .iter()
                    .map(|v| {
                        let v = u8::try_from(*v).map_err(|_| OpeningError::InvalidChoice)?;
                        sealed::encode_payload(&[v])
                            .map(|e| e.point)
                            .map_err(|_| OpeningError::InvalidChoice)
                    })
                    .collect()
            }
            Mode::Row => {
                let n = self.columns.ok_or(OpeningError::InvalidChoice)?;
                if groups.len() != 1 || groups[0].len() != sealed::row_elements(n) {
                    return Err(OpeningError::InvalidChoice);
                }
                let mut selected = vec![false; n];
                for i in &self.choice {
                    let i = usize::try_from(*i).map_err(|_| OpeningError::InvalidChoice)?;
                    *selected.get_mut(i).ok_or(OpeningError::InvalidChoice)? = true;
                }
                sealed::encode_row(&selected).map_err(|_| OpeningError::InvalidChoice)
            }
        }
    }

    /// Checks that the randomness re-encrypts the choice to exactly the ciphertexts shown
    /// under the election key, and that their proof of knowledge verifies for the
    /// consultation, layout and author.
    pub fn check(&self) -> Result<(), OpeningError> {
        let ctx = BallotContext {
            consultation: id(&self.consultation, "consultation")?,
            layout: id(&self.sealed.layout, "layout")?,
            author: id(&self.author, "author")?,
        };
        let y = group::point_from_hex(&self.election_key)?;
        let ciphertexts = self
            .sealed
            .groups
            .iter()
            .flatten()
            .map(|c| Ciphertext::from_hex(c))
            .collect::<Result<Vec<_>, _>>()?;
        let shape = |g: &Vec<Vec<String>>| g.iter().map(Vec::len).collect::<Vec<_>>();
        if shape(&self.randomness) != shape(&self.sealed.groups) {
            return Err(OpeningError::InvalidChoice);
        }
        let randomness = self
            .randomness
            .iter()
            .flatten()
            .map(|r| group::scalar_from_hex(r))
            .collect::<Result<Vec<Scalar>, _>>()?;
        let pok = BallotPok {
            c: group::scalar_from_hex(&self.sealed.pok.c)?,
            s: self
                .sealed
                .pok
                .s
                .iter()
                .map(|s| group::scalar_from_hex(s))
                .collect::<Result<_, _>>()?,
        };
        let plaintexts = self.plaintexts()?;
        if !sealed::check_encryption(&y, &ciphertexts, &plaintexts, &randomness) {
            return Err(OpeningError::Mismatch);
        }
        pok.verify(&ctx, &ciphertexts)
            .map_err(|_| OpeningError::BadPok)
    }

    /// The opening of a sealing made by [`sealed::seal`] (what the page's script builds,
    /// for tests and vectors).
    pub fn of_sealing(
        ctx: &BallotContext,
        y: &RistrettoPoint,
        mode: Mode,
        columns: Option<usize>,
        choice: Vec<u64>,
        sealing: &sealed::Sealing,
    ) -> Opening {
        let hex: Vec<String> = sealing.ciphertexts.iter().map(Ciphertext::to_hex).collect();
        let rs: Vec<String> = sealing.randomness.iter().map(group::scalar_hex).collect();
        let shape = |l: Vec<String>| match mode {
            Mode::Split => l.into_iter().map(|x| vec![x]).collect(),
            Mode::Row => vec![l],
        };
        Opening {
            consultation: hex::encode(ctx.consultation),
            author: hex::encode(ctx.author),
            election_key: group::point_hex(y),
            mode,
            columns,
            choice,
            sealed: SealedMember {
                layout: hex::encode(ctx.layout),
                groups: shape(hex),
                pok: PokMember {
                    c: group::scalar_hex(&sealing.pok.c),
                    s: sealing.pok.s.iter().map(group::scalar_hex).collect(),
                },
            },
            randomness: shape(rs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::tags;

    fn sample(mode: Mode) -> Opening {
        let ctx = BallotContext {
            consultation: [1; 32],
            layout: [2; 32],
            author: [3; 32],
        };
        let y = RistrettoPoint::mul_base(&group::seeded_scalar(tags::SEED_KEY, &[9; 32], 0));
        let (columns, choice, points) = match mode {
            Mode::Split => {
                let choice = vec![1, 0, 3];
                let points = choice
                    .iter()
                    .map(|v| sealed::encode_payload(&[*v as u8]).expect("encodes").point)
                    .collect();
                (None, choice, points)
            }
            Mode::Row => {
                let selected: Vec<bool> = (0..250).map(|i| i % 3 == 1).collect();
                let choice = (0..250).filter(|i| i % 3 == 1).collect();
                (
                    Some(250),
                    choice,
                    sealed::encode_row(&selected).expect("row"),
                )
            }
        };
        let sealing = sealed::seal(&y, &ctx, &points, &[5; 32]);
        Opening::of_sealing(&ctx, &y, mode, columns, choice, &sealing)
    }

    #[test]
    fn a_faithful_opening_checks_and_any_other_choice_does_not() {
        for mode in [Mode::Split, Mode::Row] {
            let good = sample(mode);
            let text = serde_json::to_string(&good).expect("json");
            assert_eq!(Opening::parse(&text).expect("parses").check(), Ok(()));
            let mut other = good.clone();
            other.choice[0] += 1;
            assert_eq!(
                other.check().map_err(|e| e.code()),
                Err("encryption_mismatch")
            );
            let mut other = good.clone();
            other.author = "00".repeat(32);
            assert_eq!(other.check().map_err(|e| e.code()), Err("bad_pok"));
            let mut other = good.clone();
            other.randomness[0].pop();
            assert_eq!(other.check().map_err(|e| e.code()), Err("invalid_choice"));
            let mut other = good;
            other.election_key = "ff".repeat(32);
            assert_eq!(other.check().map_err(|e| e.code()), Err("bad_point"));
        }
        assert_eq!(Opening::parse("{}").map_err(|e| e.code()), Err("malformed"));
    }
}
