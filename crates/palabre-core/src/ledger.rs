//! An in-memory record of several authorities' logs: the reference implementation of
//! [`Record`], used by core's tests, by the auditor's replay, and as the store's
//! in-memory backend. It appends only what [`admit`] accepts (or, for replays of logs
//! whose history is fixed, what the caller chooses to apply).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use curve25519_dalek::ristretto::RistrettoPoint;

use crate::admission::{Clock, acts_for, admit};
use crate::counting::{self, Counted, LogPrefix, Moderated};
use crate::crypto::PublicKey;
use crate::event::{
    Body, Kind, ModerationAction, SignedEvent, StaffRole, Tombstone, TombstoneBody,
};
use crate::ids::{EventId, Hash};
use crate::merkle::{self, MemoryTree};
use crate::purge::{Entry, PurgedEntry};
use crate::record::Record;
use crate::rejection::Rejection;
use crate::view::{ConsultationView, CredentialState, CredentialStatus, ProposalView, VoterId};

/// One authority's log.
#[derive(Debug, Default)]
pub struct Log {
    /// Its entries from index 0: events, or tombstones where purged.
    pub entries: Vec<Entry>,
    /// The Merkle tree of the entries' leaf hashes (unchanged by a purge).
    pub tree: MemoryTree,
}

impl Log {
    /// The events of the log, in order, without the tombstones of purged ones.
    pub fn events(&self) -> impl Iterator<Item = &SignedEvent> {
        self.entries.iter().filter_map(Entry::event)
    }
}

/// Where an event sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The authority whose log holds it.
    pub log: PublicKey,
    /// Its 0-based position in that log.
    pub index: u64,
}

/// Consultations, proposals and targets known from elsewhere (for replays that must
/// resolve references into logs not replayed yet).
#[derive(Debug, Default)]
pub struct References {
    /// Consultations by id, with the log that holds each.
    pub consultations: HashMap<EventId, ConsultationView>,
    /// Proposals by id (purged ones too, from their tombstones).
    pub proposals: HashMap<EventId, ProposalView>,
    /// Every noted event's kind and, for proposals and arguments, its consultation.
    pub targets: HashMap<EventId, (Kind, Option<EventId>)>,
    /// Trustee encryption keys declared in `authority` events.
    pub encryption_keys: HashMap<PublicKey, RistrettoPoint>,
    /// Secret-ballot events by consultation and kind, in the order noted, with their log.
    pub secret: HashMap<(EventId, Kind), Vec<(PublicKey, SignedEvent)>>,
}

impl References {
    /// Notes what `event`, an entry of `log`, lets others refer to.
    pub fn note(&mut self, log: &PublicKey, event: &SignedEvent) {
        let id = event.id();
        if let Some((consultation, _)) = crate::secret::admit::about(event.body()) {
            self.secret
                .entry((consultation, event.kind()))
                .or_default()
                .push((*log, event.clone()));
        }
        match event.body() {
            Body::Authority(b) if event.author() == log => {
                if let Some(key) = &b.encryption_key {
                    self.encryption_keys.insert(*log, key.0);
                }
                self.targets.insert(id, (event.kind(), None));
            }
            Body::Consultation(b) => {
                // The organiser is the authority whose log holds it, whoever of its staff
                // signed it.
                self.consultations.insert(
                    id,
                    ConsultationView {
                        id,
                        organiser: *log,
                        body: (**b).clone(),
                    },
                );
            }
            Body::Proposal(b) => {
                self.proposals.insert(
                    id,
                    ProposalView {
                        id,
                        author: *event.author(),
                        consultation: b.consultation,
                        cost: b.cost,
                    },
                );
                self.targets
                    .insert(id, (Kind::Proposal, Some(b.consultation)));
            }
            Body::Argument(b) => {
                let consultation = self.proposals.get(&b.proposal).map(|p| p.consultation);
                self.targets.insert(id, (Kind::Argument, consultation));
            }
            _ => {
                self.targets.insert(id, (event.kind(), None));
            }
        }
    }

    /// Notes what a purged entry still lets others refer to (a replica that received
    /// the tombstone in its place).
    pub fn note_purged(&mut self, t: &TombstoneBody) {
        if t.kind == Kind::Proposal {
            self.proposals.insert(
                t.id,
                ProposalView {
                    id: t.id,
                    author: t.author,
                    consultation: t.consultation,
                    cost: t.cost,
                },
            );
        }
        self.targets.insert(t.id, (t.kind, Some(t.consultation)));
    }
}

/// Several authorities' logs in memory, with the indexes [`Record`] asks for.
#[derive(Debug, Default)]
pub struct Ledger {
    logs: BTreeMap<PublicKey, Log>,
    positions: HashMap<EventId, Position>,
    refs: References,
    /// Read-only references from outside (see [`Ledger::with_references`]).
    outside: Option<Arc<References>>,
    credentials: HashMap<(PublicKey, PublicKey), CredentialState>,
    closings: HashMap<(PublicKey, EventId), (u64, Hash)>,
    results: HashMap<EventId, EventId>,
    declared: std::collections::HashSet<PublicKey>,
    staff: HashMap<(PublicKey, PublicKey), StaffRole>,
    /// (log, consultation, kind, author) → proposals or arguments: what quotas count.
    authored: HashMap<(PublicKey, EventId, Kind, PublicKey), u64>,
    /// L₀ and the judged mixes of the consultations being opened.
    openings: crate::secret::memo::Openings,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// A ledger that also resolves consultations, proposals and moderation targets from
    /// `outside` (duplicates, credentials and log contents still come from what was
    /// applied to this ledger).
    pub fn with_references(outside: Arc<References>) -> Ledger {
        Ledger {
            outside: Some(outside),
            ..Ledger::default()
        }
    }

    /// Admits `event` into `log` and appends it; returns its index.
    pub fn append(
        &mut self,
        log: &PublicKey,
        event: SignedEvent,
        clock: Clock,
    ) -> Result<u64, Rejection> {
        admit(self, log, &event, clock).into_result()?;
        Ok(self.apply(log, event))
    }

    /// Appends an entry without admission: an event (see [`Ledger::apply`]) or the
    /// tombstone of a purged one, whose signature the caller checked
    /// (`Entry::from_bytes`). Returns the index.
    pub fn apply_entry(&mut self, log: &PublicKey, entry: Entry) -> u64 {
        let purged = match entry {
            Entry::Event(event) => return self.apply(log, event),
            Entry::Purged(p) => p,
        };
        let l = self.logs.entry(*log).or_default();
        let index = l.entries.len() as u64;
        l.tree.push(purged.body().leaf);
        self.positions
            .insert(purged.body().id, Position { log: *log, index });
        self.refs.note_purged(purged.body());
        let t = purged.body();
        *self
            .authored
            .entry((*log, t.consultation, t.kind, t.author))
            .or_default() += 1;
        l.entries.push(Entry::Purged(purged));
        index
    }

    /// Appends without admission (the caller has admitted it, or replays a fixed history
    /// and reports rejections itself). Returns the index.
    pub fn apply(&mut self, log: &PublicKey, event: SignedEvent) -> u64 {
        let id = event.id();
        let about = match event.body() {
            Body::Proposal(b) => Some(b.consultation),
            Body::Argument(b) => self.proposal(&b.proposal).map(|p| p.consultation),
            _ => None,
        };
        if let Some(c) = about {
            *self
                .authored
                .entry((*log, c, event.kind(), *event.author()))
                .or_default() += 1;
        }
        let l = self.logs.entry(*log).or_default();
        let index = l.entries.len() as u64;
        l.tree.push(merkle::leaf_hash(event.bytes()));
        self.positions.insert(id, Position { log: *log, index });
        self.refs.note(log, &event);
        let from_log = event.author() == log;
        let for_log = acts_for(
            || self.staff.get(&(*log, *event.author())).copied(),
            log,
            event.author(),
            event.kind(),
        );
        match event.body() {
            Body::Authority(_) if from_log => {
                self.declared.insert(*log);
            }
            Body::Staff(b) if from_log => {
                if b.active {
                    self.staff.insert((*log, b.subject), b.role);
                } else {
                    self.staff.remove(&(*log, b.subject));
                }
            }
            Body::Credential(b) if for_log => {
                let voter = match b
                    .replaces
                    .and_then(|old| self.credentials.get_mut(&(*log, old)))
                {
                    Some(old) => {
                        old.status = CredentialStatus::Replaced;
                        old.voter
                    }
                    None => VoterId {
                        issuer: *log,
                        first_key: b.subject,
                    },
                };
                self.credentials.insert(
                    (*log, b.subject),
                    CredentialState {
                        voter,
                        status: CredentialStatus::Active,
                    },
                );
            }
            Body::Revocation(b) if for_log => {
                if let Some(state) = self.credentials.get_mut(&(*log, b.subject))
                    && state.status == CredentialStatus::Active
                {
                    state.status = CredentialStatus::Revoked;
                }
            }
            Body::Checkpoint(b) if from_log => {
                self.closings
                    .entry((*log, b.consultation))
                    .or_insert((b.size, b.root));
            }
            Body::Result(b) => {
                self.results.entry(b.consultation).or_insert(id);
            }
            Body::SealedResult(b) => {
                self.results.entry(b.consultation).or_insert(id);
            }
            Body::Moderation(b) if for_log => {
                if let Some(t) = &b.tombstone {
                    self.purge(log, t);
                }
            }
            _ => {}
        }
        let l = self.logs.get_mut(log).expect("the log was created above");
        l.entries.push(Entry::Event(event));
        index
    }

    /// Puts a purge's tombstone in its target's place, if the target is in `log` and the
    /// tombstone keeps its leaf hash (an inadmissible purge a replay applies anyway
    /// changes nothing else).
    fn purge(&mut self, log: &PublicKey, tombstone: &Tombstone) {
        let Some(p) = self.positions.get(&tombstone.purged.id) else {
            return;
        };
        let Some(l) = self.logs.get_mut(log).filter(|_| p.log == *log) else {
            return;
        };
        if l.tree.leaf(p.index) != Some(tombstone.purged.leaf) {
            return;
        }
        if let Some(slot) = l.entries.get_mut(p.index as usize) {
            *slot = Entry::Purged(PurgedEntry::new(tombstone.clone()));
        }
    }

    /// `authority`'s log, if it has any entry.
    pub fn log(&self, authority: &PublicKey) -> Option<&Log> {
        self.logs.get(authority)
    }

    /// Every log, ascending by authority key.
    pub fn logs(&self) -> impl Iterator<Item = (&PublicKey, &Log)> {
        self.logs.iter()
    }

    /// Where the entry with this id sits, purged or not.
    pub fn position(&self, id: &EventId) -> Option<Position> {
        self.positions.get(id).copied()
    }

    /// The event with this id (`None` if unknown or purged).
    pub fn event(&self, id: &EventId) -> Option<&SignedEvent> {
        self.stored(id)?.event()
    }

    /// The entry with this id: the event, or its tombstone if purged.
    pub fn stored(&self, id: &EventId) -> Option<&Entry> {
        let p = self.positions.get(id)?;
        self.logs.get(&p.log)?.entries.get(p.index as usize)
    }

    /// The first result recorded for a consultation (later ones are refused).
    pub fn first_result(&self, consultation: &EventId) -> Option<EventId> {
        self.results.get(consultation).copied()
    }

    /// The proposals of a consultation and the arguments on them, in log order of
    /// each log.
    pub fn members(&self, consultation: &EventId) -> Vec<EventId> {
        let mut ids = Vec::new();
        for (_, log) in self.logs() {
            for entry in &log.entries {
                let of = match entry {
                    Entry::Purged(p) => Some(p.body().consultation),
                    Entry::Event(event) => match event.body() {
                        Body::Proposal(b) => Some(b.consultation),
                        Body::Argument(b) => self.proposal(&b.proposal).map(|p| p.consultation),
                        _ => None,
                    },
                };
                if of == Some(*consultation) {
                    ids.push(entry.id());
                }
            }
        }
        ids
    }

    /// Every `moderation` entry that acts for its log's authority, by log then index.
    pub fn moderation_log(&self) -> Vec<(PublicKey, u64)> {
        let mut out = Vec::new();
        for (authority, log) in self.logs() {
            out.extend(acting_moderations(authority, log).map(|(i, _)| (*authority, i as u64)));
        }
        out
    }

    /// The latest moderation of `target` in each log that moderated it itself (by its
    /// own key or a moderator's).
    pub fn moderation(&self, target: &EventId) -> Vec<Moderated> {
        let mut latest: BTreeMap<PublicKey, Moderated> = BTreeMap::new();
        for (authority, log) in self.logs() {
            for (_, event) in acting_moderations(authority, log) {
                if let Body::Moderation(b) = event.body()
                    && b.target == *target
                    && latest
                        .get(authority)
                        .is_none_or(|m| m.action != ModerationAction::Purge)
                {
                    latest.insert(
                        *authority,
                        Moderated {
                            by: *authority,
                            action: b.action,
                            moderation: event.id(),
                        },
                    );
                }
            }
        }
        latest.into_values().collect()
    }

    /// Every consultation recorded, in no set order.
    pub fn consultations(&self) -> impl Iterator<Item = &ConsultationView> {
        self.refs.consultations.values()
    }

    /// Counts a consultation: over each log's closing checkpoint prefix when there is
    /// one, over the whole log otherwise (a running count).
    pub fn count(&self, consultation: &EventId) -> Option<(ConsultationView, Counted)> {
        let c = self.consultation(consultation)?;
        let prefixes: Vec<LogPrefix<'_>> = c
            .body
            .authorities
            .iter()
            .filter_map(|a| {
                let log = self.logs.get(a)?;
                let size = counting::counted_size(self, a, consultation) as usize;
                Some(LogPrefix {
                    authority: *a,
                    entries: &log.entries[..size.min(log.entries.len())],
                })
            })
            .collect();
        let counted = counting::count(&c, &prefixes);
        Some((c, counted))
    }
}

impl Record for Ledger {
    fn openings(&self) -> Option<&crate::secret::memo::Openings> {
        Some(&self.openings)
    }

    fn contains(&self, id: &EventId) -> bool {
        self.positions.contains_key(id)
    }

    fn is_declared(&self, authority: &PublicKey) -> bool {
        self.declared.contains(authority)
    }

    fn consultation(&self, id: &EventId) -> Option<ConsultationView> {
        self.refs
            .consultations
            .get(id)
            .or_else(|| self.outside.as_ref()?.consultations.get(id))
            .cloned()
    }

    fn proposal(&self, id: &EventId) -> Option<ProposalView> {
        self.refs
            .proposals
            .get(id)
            .or_else(|| self.outside.as_ref()?.proposals.get(id))
            .cloned()
    }

    fn target(&self, id: &EventId) -> Option<(Kind, Option<EventId>)> {
        self.refs
            .targets
            .get(id)
            .or_else(|| self.outside.as_ref()?.targets.get(id))
            .copied()
    }

    fn credential(&self, issuer: &PublicKey, subject: &PublicKey) -> Option<CredentialState> {
        self.credentials.get(&(*issuer, *subject)).copied()
    }

    fn closing(&self, authority: &PublicKey, consultation: &EventId) -> Option<(u64, Hash)> {
        self.closings.get(&(*authority, *consultation)).copied()
    }

    fn has_result(&self, consultation: &EventId) -> bool {
        self.results.contains_key(consultation)
    }

    fn log_size(&self, authority: &PublicKey) -> u64 {
        self.logs
            .get(authority)
            .map_or(0, |l| l.entries.len() as u64)
    }

    fn root_at(&self, authority: &PublicKey, size: u64) -> Option<Hash> {
        let log = self.logs.get(authority)?;
        if size > log.tree.size() {
            return None;
        }
        merkle::root_at(&log.tree, size).ok()
    }

    fn staff(&self, authority: &PublicKey, key: &PublicKey) -> Option<StaffRole> {
        self.staff.get(&(*authority, *key)).copied()
    }

    fn held(&self, id: &EventId) -> Option<(PublicKey, Entry)> {
        let p = self.positions.get(id)?;
        Some((p.log, self.stored(id)?.clone()))
    }

    fn moderated(&self, authority: &PublicKey, target: &EventId) -> Option<ModerationAction> {
        self.moderation(target)
            .into_iter()
            .find(|m| m.by == *authority)
            .map(|m| m.action)
    }

    fn encryption_key(&self, authority: &PublicKey) -> Option<RistrettoPoint> {
        self.refs
            .encryption_keys
            .get(authority)
            .or_else(|| self.outside.as_ref()?.encryption_keys.get(authority))
            .copied()
    }

    fn secret_events(&self, consultation: &EventId, kind: Kind) -> Vec<(PublicKey, SignedEvent)> {
        let key = (*consultation, kind);
        let mut out: Vec<(PublicKey, SignedEvent)> =
            self.refs.secret.get(&key).cloned().unwrap_or_default();
        if let Some(outside) = self.outside.as_ref().and_then(|o| o.secret.get(&key)) {
            for (log, e) in outside {
                if !out.iter().any(|(_, o)| o.id() == e.id()) {
                    out.push((*log, e.clone()));
                }
            }
        }
        out
    }

    fn election_key(&self, consultation: &EventId) -> Option<(EventId, RistrettoPoint)> {
        self.secret_events(consultation, Kind::ElectionKey)
            .iter()
            .find_map(|(_, e)| match e.body() {
                Body::ElectionKey(b) => Some((e.id(), b.key.0)),
                _ => None,
            })
    }

    fn layout(&self, consultation: &EventId) -> Option<(EventId, u64)> {
        self.secret_events(consultation, Kind::BallotLayout)
            .iter()
            .find_map(|(_, e)| match e.body() {
                Body::BallotLayout(b) => Some((e.id(), b.columns.len() as u64)),
                _ => None,
            })
    }

    fn n_authored(
        &self,
        log: &PublicKey,
        consultation: &EventId,
        kind: Kind,
        author: &PublicKey,
    ) -> u64 {
        self.authored
            .get(&(*log, *consultation, kind, *author))
            .copied()
            .unwrap_or(0)
    }

    fn counted_sealed(&self, c: &ConsultationView) -> Option<Vec<crate::event::secret::Sealed>> {
        let closed = c
            .body
            .authorities
            .iter()
            .all(|a| self.closing(a, &c.id).is_some());
        if !closed {
            return None;
        }
        let (_, counted) = self.count(&c.id)?;
        crate::secret::cascade::sealed_of(counted.sealed.values(), |id| self.event(id))
    }
}

/// The `moderation` entries of `authority`'s log signed by the authority or by a staff
/// member whose role allowed it at that point of the log.
fn acting_moderations<'l>(
    authority: &'l PublicKey,
    log: &'l Log,
) -> impl Iterator<Item = (usize, &'l SignedEvent)> + 'l {
    let mut staff: HashMap<PublicKey, StaffRole> = HashMap::new();
    log.entries
        .iter()
        .enumerate()
        .filter_map(|(i, entry)| Some((i, entry.event()?)))
        .filter(move |(_, event)| match event.body() {
            Body::Staff(b) if event.author() == authority => {
                if b.active {
                    staff.insert(b.subject, b.role);
                } else {
                    staff.remove(&b.subject);
                }
                false
            }
            Body::Moderation(_) => acts_for(
                || staff.get(event.author()).copied(),
                authority,
                event.author(),
                Kind::Moderation,
            ),
            _ => false,
        })
}
