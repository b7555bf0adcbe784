//! Admission of the mix and the opening (SECRET-BALLOTS.md §4.9–§4.11), called by
//! `admission::admit` once the consultation is known: `mix` chunks, `mix_proof`,
//! `seal_final`, `decryption` chunks, and a secret consultation's `result`.
//!
//! The rules themselves are [`cascade`]'s; this file gathers from the record what they
//! need (QUAL from the election key, the layout, L₀ from [`Record::counted_sealed`], the
//! recorded mixes) and answers with the design's codes. A reference to another log's
//! event not recorded yet awaits it (`unknown_target`, `not_closed`, as elsewhere). The
//! tally of a `result` is the auditor's to recount, as for public consultations.

use crate::crypto::PublicKey;
use crate::event::mix::{
    DecryptionBody, MixBody, MixInput, MixProofBody, SealFinalBody, SealedResultBody,
};
use crate::event::{Body, Kind, SignedEvent};
use crate::ids::EventId;
use crate::record::Record;
use crate::rejection::Rejection;
use crate::view::ConsultationView;

use super::cascade::{self, Proof};
use super::judged;
use super::setting::{Setting, chunk_lookup, setting};

/// Whether events of `kind` belong to the mix and the opening (judged by the audit after
/// its replay of every log, `audit::opening`).
pub fn is_opening(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Mix | Kind::MixProof | Kind::SealFinal | Kind::Decryption
    )
}

/// The common rules of the mix kinds: the author in its own log is a trustee of QUAL
/// (`wrong_author`), after the close (`not_closed`), about a group of the layout
/// (`bad_shuffle`), and its log has not closed a mix of that group (`already_mixed`).
fn mixer(
    record: &impl Record,
    log: &PublicKey,
    c: &ConsultationView,
    event: &SignedEvent,
    group: u64,
) -> Result<Setting, Rejection> {
    let s = setting(record, c)?;
    let in_qual = s
        .secrecy
        .index_of(event.author())
        .is_some_and(|j| s.qual.contains(&j));
    if event.author() != log || !in_qual {
        return Err(Rejection::WrongAuthor {
            expected: "a trustee of QUAL, in its own log",
        });
    }
    if event.created_at_ms() < c.body.vote_close_ms {
        return Err(Rejection::NotClosed);
    }
    if group as usize >= s.widths().len() {
        return Err(Rejection::BadShuffle);
    }
    let closed = record
        .secret_events(&c.id, Kind::MixProof)
        .into_iter()
        .any(|(l, e)| {
            l == *log
                && e.id() != event.id()
                && record.contains(&e.id())
                && matches!(e.body(), Body::MixProof(p) if p.group == group)
        });
    if closed {
        return Err(Rejection::AlreadyMixed);
    }
    Ok(s)
}

/// A `mix` chunk: the common rules, a well-shaped chunk of the group's width
/// (`bad_shuffle`), and an input that is L₀ or a recorded `mix_proof` of `c`
/// (`unknown_target`, which awaits). Its proof is judged with its `mix_proof`.
pub(crate) fn mix(
    record: &impl Record,
    log: &PublicKey,
    c: &ConsultationView,
    b: &MixBody,
    event: &SignedEvent,
) -> Result<(), Rejection> {
    let s = mixer(record, log, c, event, b.group)?;
    let w = s.widths()[b.group as usize];
    if b.well_shaped() != Some(w) {
        return Err(Rejection::BadShuffle);
    }
    if let MixInput::Mix(id) = &b.input {
        let known = record
            .secret_events(&c.id, Kind::MixProof)
            .iter()
            .any(|(_, e)| e.id() == *id);
        if !known {
            return Err(Rejection::UnknownTarget);
        }
    }
    Ok(())
}

/// A `mix_proof`: the common rules, then [`cascade::judge_mix`] over the recorded
/// mixes and L₀ — its chunks in this log (`mix_incomplete`), a chain without this
/// trustee (`already_mixed`), and a proof that holds (`bad_shuffle`).
pub(crate) fn mix_proof(
    record: &impl Record,
    log: &PublicKey,
    c: &ConsultationView,
    b: &MixProofBody,
    event: &SignedEvent,
) -> Result<(), Rejection> {
    let s = mixer(record, log, c, event, b.group)?;
    let judged = judged::judged(record, c, &s)?;
    let ctx = s.context(&c.id, &judged.initial);
    cascade::judge_mix(&ctx, &judged.mixes, log, event, chunk_lookup(record))?;
    if let Some(memo) = record.openings() {
        memo.checked(c.id, &judged, event.id());
    }
    Ok(())
}

/// The organiser's `seal_final`: after the close, its first, one chain per group, each
/// of valid mixes from L₀ with at least t distinct trustees (`chain_too_short`).
pub(crate) fn seal_final(
    record: &impl Record,
    log: &PublicKey,
    c: &ConsultationView,
    b: &SealFinalBody,
    event: &SignedEvent,
) -> Result<(), Rejection> {
    let s = setting(record, c)?;
    if event.created_at_ms() < c.body.vote_close_ms {
        return Err(Rejection::NotClosed);
    }
    let again = record
        .secret_events(&c.id, Kind::SealFinal)
        .iter()
        .any(|(l, e)| l == log && e.id() != event.id() && record.contains(&e.id()));
    if again {
        return Err(Rejection::AlreadyClosed);
    }
    if b.chains.len() != s.widths().len() {
        return Err(Rejection::ChainTooShort);
    }
    let judged = judged::judged(record, c, &s)?;
    for (g, chain) in b.chains.iter().enumerate() {
        cascade::check_chain(&judged.mixes, g as u64, chain, s.secrecy.threshold)?;
    }
    Ok(())
}

/// The recorded `seal_final` `id` of `c` and its body.
pub fn seal_final_body(
    record: &impl Record,
    c: &ConsultationView,
    id: &EventId,
) -> Option<SealFinalBody> {
    record
        .secret_events(&c.id, Kind::SealFinal)
        .into_iter()
        .find_map(|(_, e)| match e.body() {
            Body::SealFinal(b) if e.id() == *id => Some(b.clone()),
            _ => None,
        })
}

/// A `decryption` chunk: by a trustee of QUAL in its own log, for a recorded
/// `seal_final` of `c` (`unknown_target`) and one of its groups, with shares that hold
/// against the chain's tip (`bad_decryption_share`). Whether the decryptor mixed in the
/// chain is the audit's `decryptor_not_mixer` (an honest node never makes such a
/// chunk: [`cascade::may_decrypt`]).
pub(crate) fn decryption(
    record: &impl Record,
    log: &PublicKey,
    c: &ConsultationView,
    b: &DecryptionBody,
    event: &SignedEvent,
) -> Result<(), Rejection> {
    let s = setting(record, c)?;
    let j = s
        .secrecy
        .index_of(event.author())
        .filter(|j| s.qual.contains(j) && event.author() == log)
        .ok_or(Rejection::WrongAuthor {
            expected: "a trustee of QUAL, in its own log",
        })?;
    let sf = seal_final_body(record, c, &b.seal_final).ok_or(Rejection::UnknownTarget)?;
    let chain = sf
        .chains
        .get(b.group as usize)
        .ok_or(Rejection::BadDecryptionShare)?;
    let judged = judged::judged(record, c, &s)?;
    let last = cascade::check_chain(&judged.mixes, b.group, chain, s.secrecy.threshold)?;
    let y_j = super::admit::qualification(record, c).verification_key(j);
    cascade::check_shares(&c.id, &b.seal_final, &y_j, &last.outputs, b, Proof::Check)?;
    if let Some(memo) = record.openings() {
        memo.checked(c.id, &judged, event.id());
    }
    Ok(())
}

/// A secret consultation's `result`: the v1 rules (checked by the caller), then
/// `sealed` names the recorded election key, layout and `seal_final` of `c`
/// (`unknown_target` while they are not recorded) and t distinct trustees of QUAL,
/// ascending (`result_mismatch`). The numbers are the auditor's: it recombines and
/// recounts.
pub(crate) fn result(
    record: &impl Record,
    c: &ConsultationView,
    b: &SealedResultBody,
) -> Result<(), Rejection> {
    let s = setting(record, c)?;
    if b.sealed.election_key != s.election_key.0 || b.sealed.layout != s.layout.0 {
        return Err(Rejection::ResultMismatch);
    }
    seal_final_body(record, c, &b.sealed.seal_final).ok_or(Rejection::UnknownTarget)?;
    let ascending = b.sealed.decryptors.windows(2).all(|w| w[0] < w[1]);
    let in_qual = b
        .sealed
        .decryptors
        .iter()
        .all(|k| s.secrecy.index_of(k).is_some_and(|j| s.qual.contains(&j)));
    if !ascending || !in_qual || b.sealed.decryptors.len() as u64 != s.secrecy.threshold {
        return Err(Rejection::ResultMismatch);
    }
    Ok(())
}
