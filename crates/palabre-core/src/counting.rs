//! Which ballots count, and the tally of a consultation from its logs.
//!
//! A ballot counts when it sits in the log of the authority that credentialed its key,
//! among the first `size` entries of that log's closing checkpoint (or of the whole log
//! for a running tally), was cast while the key's credential was active, and is the
//! latest such ballot of its voter (a replaced key is the same voter; a voter whose
//! current key is revoked has no ballot). Proposals hidden by moderation are not
//! candidates, and ballot entries naming them are set aside. The tally is then a pure
//! function of the counted choices (`tally::tally`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::admission::{ConsultationView, CredentialStatus, Record, VoterId};
use crate::crypto::PublicKey;
use crate::event::{Body, ModerationAction, SignedEvent};
use crate::ids::EventId;
use crate::tally::{self, Candidate, Choice, Tally};

/// The part of one authority's log that a count looks at, in log order.
#[derive(Debug, Clone, Copy)]
pub struct LogPrefix<'a> {
    pub authority: PublicKey,
    pub entries: &'a [SignedEvent],
}

/// The counted ballots and candidates of one consultation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counted {
    /// One entry per voter: the counted ballot's id and its choice (restricted to
    /// candidates).
    pub ballots: BTreeMap<VoterId, (EventId, Choice)>,
    /// Proposals that are candidates, ascending by id.
    pub candidates: Vec<Candidate>,
    /// Proposals hidden by moderation.
    pub hidden: BTreeSet<EventId>,
    /// Ballots seen in the prefixes, counted or not.
    pub n_ballots_seen: u64,
}

impl Counted {
    pub fn tally(&self, consultation: &ConsultationView) -> Tally {
        tally::tally(
            &consultation.body.method,
            &self.candidates,
            self.ballots.values().map(|(_, c)| c),
        )
    }
}

/// How many entries of `authority`'s log a count of `consultation` looks at: up to its
/// closing checkpoint, or the whole log while it has none (a running count).
pub fn counted_size<R: Record + ?Sized>(
    record: &R,
    authority: &PublicKey,
    consultation: &EventId,
) -> u64 {
    record
        .closing(authority, consultation)
        .map_or_else(|| record.log_size(authority), |(size, _)| size)
}

/// Counts a consultation over the given log prefixes (logs of authorities that do not
/// take part are ignored).
pub fn count(consultation: &ConsultationView, logs: &[LogPrefix<'_>]) -> Counted {
    let mut out = Counted::default();
    let mut proposals: BTreeMap<EventId, Option<u64>> = BTreeMap::new();
    // (moderator, target) → latest action in that moderator's log
    let mut moderation: BTreeMap<(PublicKey, EventId), ModerationAction> = BTreeMap::new();
    let mut ballots: BTreeMap<VoterId, (EventId, Choice)> = BTreeMap::new();
    for log in logs
        .iter()
        .filter(|l| consultation.participates(&l.authority))
    {
        let mut credentials: HashMap<PublicKey, (VoterId, CredentialStatus)> = HashMap::new();
        let mut revoked_voters: BTreeSet<VoterId> = BTreeSet::new();
        for event in log.entries {
            let from_log = event.author() == &log.authority;
            match event.body() {
                Body::Credential(b) if from_log => {
                    let voter = b
                        .replaces
                        .and_then(|old| credentials.get_mut(&old))
                        .map(|(voter, status)| {
                            *status = CredentialStatus::Replaced;
                            *voter
                        })
                        .unwrap_or(VoterId {
                            issuer: log.authority,
                            first_key: b.subject,
                        });
                    credentials.insert(b.subject, (voter, CredentialStatus::Active));
                }
                Body::Revocation(b) if from_log => {
                    if let Some((voter, status)) = credentials.get_mut(&b.subject)
                        && *status == CredentialStatus::Active
                    {
                        *status = CredentialStatus::Revoked;
                        revoked_voters.insert(*voter);
                    }
                }
                Body::Proposal(b) if b.consultation == consultation.id => {
                    proposals.insert(event.id(), b.cost);
                }
                Body::Moderation(b) if from_log => {
                    moderation.insert((log.authority, b.target), b.action);
                }
                Body::Ballot(b) if b.consultation == consultation.id => {
                    out.n_ballots_seen += 1;
                    if let Some((voter, CredentialStatus::Active)) = credentials.get(event.author())
                    {
                        ballots.insert(*voter, (event.id(), b.choice.clone()));
                    }
                }
                _ => {}
            }
        }
        ballots.retain(|voter, _| !revoked_voters.contains(voter));
    }
    out.hidden = moderation
        .iter()
        .filter(|(_, action)| **action == ModerationAction::Hide)
        .map(|((_, target), _)| *target)
        .collect();
    out.candidates = proposals
        .iter()
        .filter(|(id, _)| !out.hidden.contains(id))
        .map(|(id, cost)| Candidate {
            id: *id,
            cost: *cost,
        })
        .collect();
    let candidate_ids: BTreeSet<EventId> = out.candidates.iter().map(|c| c.id).collect();
    out.ballots = ballots
        .into_iter()
        .map(|(voter, (id, choice))| (voter, (id, restrict(choice, &candidate_ids))))
        .collect();
    out
}

/// Keeps only the entries of a choice that name candidates.
fn restrict(choice: Choice, candidates: &BTreeSet<EventId>) -> Choice {
    match choice {
        Choice::Approve(ids) => Choice::Approve(
            ids.into_iter()
                .filter(|id| candidates.contains(id))
                .collect(),
        ),
        Choice::Answers(map) => Choice::Answers(
            map.into_iter()
                .filter(|(id, _)| candidates.contains(id))
                .collect(),
        ),
        Choice::Grades(map) => Choice::Grades(
            map.into_iter()
                .filter(|(id, _)| candidates.contains(id))
                .collect(),
        ),
    }
}
