//! What the mix rules read of the record, from scratch (SECRET-BALLOTS.md §4.8–§4.9): a
//! consultation's [`Setting`] (its secrecy, QUAL, election key and layout), L₀ from
//! [`Record::counted_sealed`], and the recorded mixes judged over it. A reader that lives
//! across admissions keeps these in a [`super::memo::Openings`]; [`super::judged`]
//! answers the same, from the memo when it can.

use crate::crypto::PublicKey;
use crate::event::secret::{ElectionKeyBody, Sealed, Secrecy};
use crate::event::{Body, Kind, SignedEvent};
use crate::ids::EventId;
use crate::purge::Entry;
use crate::record::Record;
use crate::rejection::Rejection;
use crate::view::ConsultationView;

use super::cascade::{self, List, MixContext, Mixes};
use super::rules;

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
    let refs: Vec<&Sealed> = ballots.iter().collect();
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
