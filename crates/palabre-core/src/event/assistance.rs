//! A desk agent's countersignature of an assisted ballot (PROTOCOL.md, "The desk"): what
//! the agent signs for an open ballot, and the signature. For a sealed ballot the agent
//! signs the ciphertexts instead ([`super::secret`] adds that statement).

use serde::{Deserialize, Serialize};

use crate::canonical;
use crate::crypto::{Domain, PublicKey, SecretKey, Signature};
use crate::ids::EventId;
use crate::rejection::Rejection;
use crate::tally::Choice;

use super::from_canonical;

/// A desk agent's countersignature of an assisted ballot: `sig` covers
/// `"palabre/v1/assistance\n"` followed by the canonical JSON object
/// `{author, choice, consultation, created_at_ms}` of the ballot it sits in, so the
/// agent vouches for exactly this voter's choice at this time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assistance {
    /// The desk agent's own key; it differs from the voter's and must be an
    /// appointed `desk` or `admin` staff member of the log's authority.
    pub agent: PublicKey,
    /// The agent's signature over the statement (tag `palabre/v1/assistance\n`).
    pub sig: Signature,
}

impl Assistance {
    /// What the agent signs (without the tag).
    pub fn statement(
        voter: &PublicKey,
        created_at_ms: u64,
        consultation: &EventId,
        choice: &Choice,
    ) -> Result<Vec<u8>, Rejection> {
        let value = serde_json::json!({
            "author": voter,
            "choice": choice,
            "consultation": consultation,
            "created_at_ms": created_at_ms,
        });
        canonical::encode(&value).map_err(from_canonical)
    }

    /// The agent's countersignature of the ballot `voter` is about to sign.
    pub fn sign(
        agent: &SecretKey,
        voter: &PublicKey,
        created_at_ms: u64,
        consultation: &EventId,
        choice: &Choice,
    ) -> Result<Assistance, Rejection> {
        let statement = Assistance::statement(voter, created_at_ms, consultation, choice)?;
        Ok(Assistance {
            agent: agent.public_key(),
            sig: agent.sign(Domain::Assistance, &statement),
        })
    }
}
