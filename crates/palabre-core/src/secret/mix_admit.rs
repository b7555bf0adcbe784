//! Admission of the mix and the opening (SECRET-BALLOTS.md §4.9–§4.11), called by
//! `admission::admit` once the consultation is known: `mix` chunks, `mix_proof`,
//! `seal_final`, `decryption` chunks, and a secret consultation's `result`.
//!
//! The rules themselves are [`cascade`]'s; this file gathers from the record what they
//! need (QUAL from the election key, the layout, L₀ from [`Record::counted_sealed`], the
//! recorded mixes) and answers with the design's codes. A reference to another log's
//! event not recorded yet awaits it (`unknown_target`, `not_closed`, as elsewhere). The
//! tally of a `result` is the auditor's to recount, as for public consultations.

use crate::admission::{ConsultationView, Record};
use crate::crypto::PublicKey;
use crate::event::{Body, Kind, SignedEvent};
use crate::ids::EventId;
use crate::purge::Entry;
use crate::rejection::Rejection;

use super::cascade::{self, List, MixContext, Mixes, Proof};
use super::mix::{
    DecryptionBody, MixBody, MixInput, MixProofBody, SealFinalBody, SealedResultBody,
};
use super::{ElectionKeyBody, Secrecy, judged, rules};

/// Whether events of `kind` belong to the mix and the opening (judged by the audit after
/// its replay of every log, `audit::opening`).
pub fn is_opening(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Mix | Kind::MixProof | Kind::SealFinal | Kind::Decryption
    )
}

/// What the mix rules need of a consultation, read from the record.
#[derive(Debug, Clone)]
pub struct Setting {
    /// The consultation's trustees and threshold.
    pub secrecy: Secrecy,
    /// QUAL, as trustee indexes.
    pub qual: Vec<u64>,
    /// The `election_key` event's id and body (QUAL's keys and `Y`).
    pub election_key: (EventId, ElectionKeyBody),
    /// The layout's id and number of columns.
    pub layout: (EventId, usize),
}

impl Setting {
    /// The number of elements `w` of each group.
    pub fn widths(&self) -> Vec<usize> {
        rules::group_sizes(&self.secrecy, self.layout.1)
    }

    /// What the mix rules read of consultation `c` with this setting, over `initial` (L₀).
    pub fn context<'a>(&'a self, c: &'a EventId, initial: &'a [List]) -> MixContext<'a> {
        MixContext {
            consultation: c,
            secrecy: &self.secrecy,
            qual: &self.qual,
            y: &self.election_key.1.key.0,
            initial,
        }
    }
}

/// The consultation's secrecy, QUAL, election key and layout (`not_sealed`,
/// `no_election_key`, `unknown_target` for a layout not recorded).
pub fn setting(record: &impl Record, c: &ConsultationView) -> Result<Setting, Rejection> {
    let secrecy = rules::secrecy_of(c)?.clone();
    let election_key = record
        .secret_events(&c.id, Kind::ElectionKey)
        .into_iter()
        .find_map(|(_, e)| match e.body() {
            Body::ElectionKey(b) => Some((e.id(), b.clone())),
            _ => None,
        })
        .ok_or(Rejection::NoElectionKey)?;
    let (layout, n_columns) = record.layout(&c.id).ok_or(Rejection::UnknownTarget)?;
    let qual = election_key
        .1
        .qual
        .iter()
        .filter_map(|k| secrecy.index_of(k))
        .collect();
    Ok(Setting {
        secrecy,
        qual,
        election_key,
        layout: (layout, n_columns as usize),
    })
}

/// L₀ of every group (`not_closed` until every participating log has closed, which
/// awaits those logs).
pub fn initial(
    record: &impl Record,
    c: &ConsultationView,
    s: &Setting,
) -> Result<Vec<List>, Rejection> {
    let ballots = record.counted_sealed(c).ok_or(Rejection::NotClosed)?;
    let refs: Vec<&super::Sealed> = ballots.iter().collect();
    Ok(cascade::initial_lists(&s.secrecy, s.layout.1, &refs))
}

/// The recorded mixes of `c`, judged over L₀ (every `mix_proof` but `except`).
pub fn mixes(
    record: &impl Record,
    c: &ConsultationView,
    s: &Setting,
    initial: &[List],
    except: Option<&EventId>,
) -> Mixes {
    let proofs: Vec<(PublicKey, SignedEvent)> = record
        .secret_events(&c.id, Kind::MixProof)
        .into_iter()
        .filter(|(_, e)| Some(&e.id()) != except && record.contains(&e.id()))
        .collect();
    let ctx = s.context(&c.id, initial);
    cascade::judge_mixes(&ctx, &proofs, chunk_lookup(record))
}

/// Looks up a recorded event by id, with its log: a `mix_proof`'s chunks, one at a
/// time (whether each is a `mix` of the right consultation is [`cascade::gather`]'s).
pub fn chunk_lookup(
    record: &impl Record,
) -> impl Fn(&EventId) -> Option<(PublicKey, SignedEvent)> + '_ {
    move |id| match record.held(id)? {
        (log, Entry::Event(e)) if record.contains(id) => Some((log, e)),
        _ => None,
    }
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
