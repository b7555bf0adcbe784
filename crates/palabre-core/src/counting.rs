//! Which ballots count, and the tally of a consultation from its logs.
//!
//! A ballot counts when it sits in the log of the authority that credentialed its key,
//! among the first `size` entries of that log's closing checkpoint (or of the whole log
//! for a running tally), was cast while the key's credential was active, and is the
//! latest such ballot of its voter (a replaced key is the same voter; a voter whose
//! current key is revoked has no ballot). Proposals hidden by moderation are not
//! candidates, and ballot entries naming them are set aside. The tally is then a pure
//! function of the counted choices (`tally::tally`).
//!
//! A secret consultation's ballots are sealed: the same rules select each voter's latest
//! sealed ballot (the input of the mix, SECRET-BALLOTS.md §4.8), but nothing here reads
//! a choice from them. Before its opening, all a secret consultation publishes is its
//! participation ([`Published::Participation`]); a public ballot in it, or a sealed one
//! in a public consultation, is never counted.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::admission::acts_for;
use crate::crypto::PublicKey;
use crate::event::{Body, ClosedLog, Kind, ModerationAction, SignedEvent, StaffRole};
use crate::ids::EventId;
use crate::purge::Entry;
use crate::record::Record;
use crate::tally::{self, Candidate, Choice, Tally};
use crate::view::{ConsultationView, CredentialStatus, VoterId};

/// The part of one authority's log that a count looks at, in log order.
#[derive(Debug, Clone, Copy)]
pub struct LogPrefix<'a> {
    /// The authority whose log it is.
    pub authority: PublicKey,
    /// Its entries from index 0: up to the closing checkpoint's size, or the whole
    /// log for a running count.
    pub entries: &'a [Entry],
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
    /// Counted ballots cast with a desk agent's help, per agent key.
    pub assisted: BTreeMap<PublicKey, u64>,
    /// Ballots cast with a desk agent's help that a later ballot of the same voter
    /// replaced (the voter's own, or another assisted one), per agent key: they count no
    /// more, and the transparency page says so rather than letting them vanish. Not part
    /// of the signed result.
    pub assisted_replaced: BTreeMap<PublicKey, u64>,
    /// For a secret consultation: one sealed ballot per voter (the latest that counts),
    /// by its event id. Empty for a public one.
    pub sealed: BTreeMap<VoterId, EventId>,
}

/// How many ballots count in a secret consultation, in all and per town, and nothing
/// of what they say.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Participation {
    /// Counted sealed ballots (one per voter).
    pub n_ballots_counted: u64,
    /// Counted sealed ballots per town (the authority that credentialed the voter).
    pub per_town: BTreeMap<PublicKey, u64>,
}

/// What the API's `/tally` publishes of a consultation (PROTOCOL.md, "HTTP API").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Published {
    /// A public consultation: its tally.
    Tally {
        /// The tally of the counted ballots.
        tally: Tally,
        /// How many ballots count (one per voter).
        n_ballots_counted: usize,
        /// Whether the vote has closed: a final count once every log has closed.
        closed: bool,
    },
    /// A secret consultation before its opening: participation only, never a choice.
    Participation {
        /// How many ballots count, in all and per town.
        participation: Participation,
        /// The same total as `participation`'s, at the top level like a public
        /// tally's.
        n_ballots_counted: u64,
        /// Whether the vote has closed.
        closed: bool,
        /// Always `true`: tells a reader of the JSON that the ballots are sealed.
        sealed: bool,
    },
}

/// What may be published of a count at `now_ms`: the tally of a public consultation
/// whose results are visible, the participation of a secret one (at any time: it holds
/// no choice), or `None` while a public consultation hides its results.
pub fn published(
    consultation: &ConsultationView,
    counted: &Counted,
    now_ms: u64,
) -> Option<Published> {
    published_with(
        consultation,
        counted,
        now_ms,
        || counted.tally(consultation),
        || counted.participation(),
    )
}

/// [`published`], taking the tally and the participation from the caller (who may keep
/// them between requests: the site's `Tallies`), and computing only the one it shows.
pub fn published_with(
    consultation: &ConsultationView,
    counted: &Counted,
    now_ms: u64,
    tally: impl FnOnce() -> Tally,
    participation: impl FnOnce() -> Participation,
) -> Option<Published> {
    let closed = consultation.phase(now_ms) == crate::view::Phase::Closed;
    if consultation.body.secrecy.is_some() {
        let participation = participation();
        return Some(Published::Participation {
            n_ballots_counted: participation.n_ballots_counted,
            participation,
            closed,
            sealed: true,
        });
    }
    consultation
        .results_visible(now_ms)
        .then(|| Published::Tally {
            tally: tally(),
            n_ballots_counted: counted.ballots.len(),
            closed,
        })
}

impl Counted {
    /// The participation of a secret consultation: its counted sealed ballots per town.
    pub fn participation(&self) -> Participation {
        let mut p = Participation {
            n_ballots_counted: self.sealed.len() as u64,
            ..Participation::default()
        };
        for voter in self.sealed.keys() {
            *p.per_town.entry(voter.issuer).or_default() += 1;
        }
        p
    }

    /// The tally of the counted ballots (public ones only: for a secret consultation
    /// there are none, and its opening is not a count of choices; see [`published`]), with how many of them each desk agent
    /// countersigned (PROTOCOL.md, "Counting and tallies": `assisted`).
    pub fn tally(&self, consultation: &ConsultationView) -> Tally {
        tally::tally(
            &consultation.body.method,
            &self.candidates,
            self.ballots.values().map(|(_, c)| c),
        )
        .with_assisted(self.assisted.iter().map(|(agent, n)| (*agent, *n)))
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

/// One authority's latest moderation of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moderated {
    /// The moderating authority (the log that holds the moderation).
    pub by: PublicKey,
    /// Its latest action on the event.
    pub action: ModerationAction,
    /// The `moderation` event, for its reason.
    pub moderation: EventId,
}

/// The moderation that hides an item of `consultation`, if any: the latest action of a
/// participating authority, in its own log, is `hide` (the rule `count` applies to
/// proposals; the site and the API show it for arguments too).
pub fn hidden_by<'m>(
    consultation: &ConsultationView,
    moderation: &'m [Moderated],
) -> Option<&'m Moderated> {
    moderation
        .iter()
        .find(|m| consultation.participates(&m.by) && m.action.hides())
}

/// The closing checkpoints a `result` of `consultation` must name: one per participating
/// authority, in the consultation's order; `None` while one of them has not closed.
pub fn closed_logs<R: Record + ?Sized>(
    record: &R,
    consultation: &ConsultationView,
) -> Option<Vec<ClosedLog>> {
    consultation
        .body
        .authorities
        .iter()
        .map(|a| {
            record
                .closing(a, &consultation.id)
                .map(|(size, root)| ClosedLog {
                    authority: *a,
                    size,
                    root,
                })
        })
        .collect()
}

/// Counts a consultation over the given log prefixes (logs of authorities that do not
/// take part are ignored).
pub fn count(consultation: &ConsultationView, logs: &[LogPrefix<'_>]) -> Counted {
    let mut counter = Counter::new(consultation);
    for log in logs {
        counter.start_log(log.authority);
        for entry in log.entries {
            counter.push_entry(entry);
        }
    }
    counter.finish()
}

/// Where one ballot stands in a count: what `palabre check-receipt` tells its voter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It is its voter's counted ballot.
    Counted,
    /// A later ballot of the same voter (perhaps cast with a replacing key) counts
    /// instead; this one does not.
    Replaced {
        /// The id of the voter's ballot that counts.
        by: EventId,
    },
    /// Neither it nor another ballot of its voter counts: it is not among the counted
    /// entries, its key had no active credential when it was cast, or the voter's
    /// credential was revoked since.
    NotCounted,
}

/// Where `ballot` stands in the count of `consultation` over the given log prefixes (the
/// same rules as [`count`]; the prefix of the ballot's own log is enough, since a voter's
/// ballots all sit in the log of the authority that credentialed them).
pub fn standing(
    consultation: &ConsultationView,
    logs: &[LogPrefix<'_>],
    ballot: &EventId,
) -> Standing {
    let mut counter = Counter::new(consultation);
    counter.watched = Some((*ballot, None));
    for log in logs {
        counter.start_log(log.authority);
        for entry in log.entries {
            counter.push_entry(entry);
        }
    }
    let voter = counter.watched.and_then(|(_, voter)| voter);
    let counted = counter.finish();
    let latest = voter.and_then(|v| {
        counted
            .ballots
            .get(&v)
            .map(|(id, _)| *id)
            .or_else(|| counted.sealed.get(&v).copied())
    });
    match latest {
        Some(id) if id == *ballot => Standing::Counted,
        Some(id) => Standing::Replaced { by: id },
        None => Standing::NotCounted,
    }
}

/// What one log read by a [`Counter`] holds for the count.
struct LogState {
    authority: PublicKey,
    credentials: HashMap<PublicKey, (VoterId, CredentialStatus)>,
    revoked_voters: BTreeSet<VoterId>,
    staff: HashMap<PublicKey, StaffRole>,
}

/// [`count`] fed one event at a time, so that a store can stream its logs page by page
/// instead of holding them: it keeps only what the count needs (credentials of the logs
/// read, proposals, moderation, one ballot per voter).
///
/// A counter can be resumed: [`Counter::start_log`] on a log already read continues it
/// where it stopped, and [`Counter::counted`] gives the count so far without ending
/// anything. A store keeps one per consultation and reads only the entries appended since
/// (`palabre-store`'s count cache). Logs are independent in a count — a voter's
/// credentials, ballots and revocation all sit in the log of the town that credentialed
/// them, and moderation counts per log — so the order logs are read in, or interleaved
/// in, changes nothing.
#[derive(Debug)]
pub struct Counter {
    consultation: ConsultationView,
    proposals: BTreeMap<EventId, Option<u64>>,
    /// (moderator, target) → latest action in that moderator's log
    moderation: BTreeMap<(PublicKey, EventId), ModerationAction>,
    /// Each voter's latest ballot, with the desk agent who countersigned it, if any.
    ballots: BTreeMap<VoterId, (EventId, Choice, Option<PublicKey>)>,
    /// Each voter's latest sealed ballot (secret consultations), with its agent.
    sealed: BTreeMap<VoterId, (EventId, Option<PublicKey>)>,
    /// Assisted ballots replaced by a later one of their voter, per agent.
    assisted_replaced: BTreeMap<PublicKey, u64>,
    n_ballots_seen: u64,
    /// What each participating log read so far holds for the count.
    logs: HashMap<PublicKey, LogState>,
    /// The log being read; `None` before any, or in the log of an authority that does
    /// not take part.
    current: Option<PublicKey>,
    /// A ballot whose voter [`standing`] asks about, and that voter once it is read
    /// (`None` while unseen, or when its key had no active credential).
    watched: Option<(EventId, Option<VoterId>)>,
}

impl std::fmt::Debug for LogState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogState")
            .field("authority", &self.authority)
            .field("n_credentials", &self.credentials.len())
            .finish()
    }
}

/// The voter a ballot counts for — its author's credential, while active — noted for the
/// watched ballot too (`counting::standing`).
fn ballot_voter(
    log: &LogState,
    watched: &mut Option<(EventId, Option<VoterId>)>,
    event: &SignedEvent,
) -> Option<VoterId> {
    let active = match log.credentials.get(event.author()) {
        Some((voter, CredentialStatus::Active)) => Some(*voter),
        _ => None,
    };
    if let Some((id, voter)) = watched.as_mut()
        && *id == event.id()
    {
        *voter = active;
    }
    active
}

impl Counter {
    /// A counter for `consultation`, before any log.
    pub fn new(consultation: &ConsultationView) -> Counter {
        Counter {
            consultation: consultation.clone(),
            proposals: BTreeMap::new(),
            moderation: BTreeMap::new(),
            ballots: BTreeMap::new(),
            sealed: BTreeMap::new(),
            assisted_replaced: BTreeMap::new(),
            n_ballots_seen: 0,
            logs: HashMap::new(),
            current: None,
            watched: None,
        }
    }

    /// Reads `authority`'s log next: from its first entry the first time, and from where
    /// the last reading of it stopped after that.
    pub fn start_log(&mut self, authority: PublicKey) {
        self.current = self
            .consultation
            .participates(&authority)
            .then_some(authority);
        if let Some(a) = self.current {
            self.logs.entry(a).or_insert_with(|| LogState {
                authority: a,
                credentials: HashMap::new(),
                revoked_voters: BTreeSet::new(),
                staff: HashMap::new(),
            });
        }
    }

    /// The next entry of the current log, purged or not. A purged proposal stays a
    /// candidate as long as no moderation in the counted prefix hid it: a purge after
    /// the close changes no count.
    pub fn push_entry(&mut self, entry: &Entry) {
        match entry {
            Entry::Event(event) => self.push(event),
            Entry::Purged(p) => {
                let t = p.body();
                if self.current.is_some()
                    && t.kind == Kind::Proposal
                    && t.consultation == self.consultation.id
                {
                    self.proposals.insert(t.id, t.cost);
                }
            }
        }
    }

    /// The next entry of the current log.
    pub fn push(&mut self, event: &SignedEvent) {
        let Some(log) = self.current.and_then(|a| self.logs.get_mut(&a)) else {
            return;
        };
        let from_log = event.author() == &log.authority;
        let for_log = acts_for(
            || log.staff.get(event.author()).copied(),
            &log.authority,
            event.author(),
            event.kind(),
        );
        match event.body() {
            Body::Staff(b) if from_log => {
                if b.active {
                    log.staff.insert(b.subject, b.role);
                } else {
                    log.staff.remove(&b.subject);
                }
            }
            Body::Credential(b) if for_log => {
                let voter = b
                    .replaces
                    .and_then(|old| log.credentials.get_mut(&old))
                    .map(|(voter, status)| {
                        *status = CredentialStatus::Replaced;
                        *voter
                    })
                    .unwrap_or(VoterId {
                        issuer: log.authority,
                        first_key: b.subject,
                    });
                log.credentials
                    .insert(b.subject, (voter, CredentialStatus::Active));
            }
            Body::Revocation(b) if for_log => {
                if let Some((voter, status)) = log.credentials.get_mut(&b.subject)
                    && *status == CredentialStatus::Active
                {
                    *status = CredentialStatus::Revoked;
                    log.revoked_voters.insert(*voter);
                }
            }
            Body::Proposal(b) if b.consultation == self.consultation.id => {
                self.proposals.insert(event.id(), b.cost);
            }
            Body::Moderation(b) if for_log => {
                let latest = self
                    .moderation
                    .entry((log.authority, b.target))
                    .or_insert(b.action);
                if *latest != ModerationAction::Purge {
                    *latest = b.action;
                }
            }
            // A public ballot counts only in a public consultation, a sealed one only in
            // a secret one (admission refuses the others; a replay may meet them).
            Body::Ballot(b)
                if b.consultation == self.consultation.id
                    && self.consultation.body.secrecy.is_none() =>
            {
                self.n_ballots_seen += 1;
                if let Some(voter) = ballot_voter(log, &mut self.watched, event) {
                    let agent = b.assistance.as_ref().map(|a| a.agent);
                    let earlier = self
                        .ballots
                        .insert(voter, (event.id(), b.choice.clone(), agent));
                    self.note_replaced(earlier.and_then(|(_, _, agent)| agent));
                }
            }
            Body::SealedBallot(b)
                if b.consultation == self.consultation.id
                    && self.consultation.body.secrecy.is_some() =>
            {
                self.n_ballots_seen += 1;
                if let Some(voter) = ballot_voter(log, &mut self.watched, event) {
                    let agent = b.assistance.as_ref().map(|a| a.agent);
                    let earlier = self.sealed.insert(voter, (event.id(), agent));
                    self.note_replaced(earlier.and_then(|(_, agent)| agent));
                }
            }
            _ => {}
        }
    }

    /// Notes that an assisted ballot of `agent`'s was replaced by a later one.
    fn note_replaced(&mut self, agent: Option<PublicKey>) {
        if let Some(agent) = agent {
            *self.assisted_replaced.entry(agent).or_default() += 1;
        }
    }

    /// The count of what was read so far (the counter can read on).
    pub fn counted(&self) -> Counted {
        // What the count needs of each log is its revoked voters, not its credentials.
        let logs = self
            .logs
            .iter()
            .map(|(a, log)| {
                let revoked = LogState {
                    authority: *a,
                    credentials: HashMap::new(),
                    revoked_voters: log.revoked_voters.clone(),
                    staff: HashMap::new(),
                };
                (*a, revoked)
            })
            .collect();
        Counter {
            consultation: self.consultation.clone(),
            proposals: self.proposals.clone(),
            moderation: self.moderation.clone(),
            ballots: self.ballots.clone(),
            sealed: self.sealed.clone(),
            assisted_replaced: self.assisted_replaced.clone(),
            n_ballots_seen: self.n_ballots_seen,
            logs,
            current: None,
            watched: None,
        }
        .finish()
    }

    /// Gives the count of what was read.
    pub fn finish(mut self) -> Counted {
        // A revoked voter's ballots count in no log (they all sit in its own).
        let revoked: BTreeSet<VoterId> = self
            .logs
            .values()
            .flat_map(|log| log.revoked_voters.iter().copied())
            .collect();
        self.ballots.retain(|voter, _| !revoked.contains(voter));
        self.sealed.retain(|voter, _| !revoked.contains(voter));
        let mut out = Counted {
            n_ballots_seen: self.n_ballots_seen,
            assisted_replaced: std::mem::take(&mut self.assisted_replaced),
            ..Counted::default()
        };
        out.hidden = self
            .moderation
            .iter()
            .filter(|(_, action)| action.hides())
            .map(|((_, target), _)| *target)
            .collect();
        out.candidates = self
            .proposals
            .iter()
            .filter(|(id, _)| !out.hidden.contains(id))
            .map(|(id, cost)| Candidate {
                id: *id,
                cost: *cost,
            })
            .collect();
        let candidate_ids: BTreeSet<EventId> = out.candidates.iter().map(|c| c.id).collect();
        let agents = self.ballots.values().map(|(_, _, agent)| agent);
        for agent in agents
            .chain(self.sealed.values().map(|(_, agent)| agent))
            .flatten()
        {
            *out.assisted.entry(*agent).or_default() += 1;
        }
        out.sealed = self
            .sealed
            .into_iter()
            .map(|(voter, (id, _))| (voter, id))
            .collect();
        out.ballots = self
            .ballots
            .into_iter()
            .map(|(voter, (id, choice, _))| (voter, (id, restrict(choice, &candidate_ids))))
            .collect();
        out
    }
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
