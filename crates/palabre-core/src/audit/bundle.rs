//! The audit bundle: one JSON file with everything an audit needs (PROTOCOL.md, "Audit
//! bundle"). Entries are embedded as raw JSON text, byte for byte, and read back as such.
//! Reading and writing only: what the bundle holds is checked by [`super::audit`].

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{AuditInput, LogMaterial};
use crate::crypto::PublicKey;
use crate::head::{Cosignature, Equivocation, SignedTreeHead};
use crate::ids::EventId;

/// The bundle format's version, written as `palabre_bundle` in the file; a
/// bundle of another version is refused.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct Out<'a> {
    palabre_bundle: u32,
    consultation: EventId,
    logs: Vec<LogOut<'a>>,
    evidence: &'a [Equivocation],
}

#[derive(Serialize)]
struct LogOut<'a> {
    authority: PublicKey,
    source: &'a str,
    entries: Vec<&'a RawValue>,
    heads: &'a [SignedTreeHead],
    cosignatures: &'a [Cosignature],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct In<'a> {
    palabre_bundle: u32,
    consultation: EventId,
    #[serde(borrow)]
    logs: Vec<LogIn<'a>>,
    /// Absent from bundles written before evidence was exchanged.
    #[serde(default)]
    evidence: Vec<Equivocation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogIn<'a> {
    authority: PublicKey,
    source: String,
    #[serde(borrow)]
    entries: Vec<&'a RawValue>,
    heads: Vec<SignedTreeHead>,
    cosignatures: Vec<Cosignature>,
}

/// The bundle of `input`. Fails only if an entry is not JSON text (an entry that
/// could never have been admitted).
pub fn to_json(input: &AuditInput) -> Result<Vec<u8>, String> {
    let mut logs = Vec::with_capacity(input.logs.len());
    for m in &input.logs {
        let entries = m
            .entries
            .iter()
            .map(|e| serde_json::from_slice::<&RawValue>(e).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        logs.push(LogOut {
            authority: m.authority,
            source: &m.source,
            entries,
            heads: &m.heads,
            cosignatures: &m.cosignatures,
        });
    }
    serde_json::to_vec(&Out {
        palabre_bundle: VERSION,
        consultation: input.consultation,
        logs,
        evidence: &input.evidence,
    })
    .map_err(|e| e.to_string())
}

/// Reads a bundle; `name` (a file name) is prefixed to each log's source.
pub fn from_json(bytes: &[u8], name: &str) -> Result<AuditInput, String> {
    let b: In<'_> =
        serde_json::from_slice(bytes).map_err(|e| format!("not a Palabre audit bundle: {e}"))?;
    if b.palabre_bundle != VERSION {
        return Err(format!(
            "bundle version {} (this reads {VERSION})",
            b.palabre_bundle
        ));
    }
    Ok(AuditInput {
        consultation: b.consultation,
        logs: b
            .logs
            .into_iter()
            .map(|l| LogMaterial {
                authority: l.authority,
                source: format!("{name} ({})", l.source),
                entries: l
                    .entries
                    .iter()
                    .map(|e| e.get().as_bytes().to_vec())
                    .collect(),
                heads: l.heads,
                cosignatures: l.cosignatures,
            })
            .collect(),
        evidence: b.evidence,
    })
}
