//! The audit's replay: the logs' entries, checked and in log order, through core's
//! `admit` with the claimed times, into a ledger whose references resolve across every
//! log served. It returns what was admitted, for the closing checks and the recount
//! (`closing.rs`); it judges nothing about closing or counting itself.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::admission::{Clock, admit};
use crate::crypto::PublicKey;
use crate::event::{Body, Kind, SignedEvent};
use crate::ids::{EventId, Hash};
use crate::ledger::{Ledger, References};
use crate::purge::{Entry, PurgedEntry};
use crate::record::Record;
use crate::rejection::Rejection;

use super::Fail;
use super::sources::CheckedLog;

/// What the replay leaves for the closing checks and the recount.
pub(super) struct Replay {
    /// Consultations, proposals and targets of every log served.
    pub(super) refs: Arc<References>,
    pub(super) ledger: Ledger,
    /// Per authority, `(index, entry)` of the entries that passed admission.
    pub(super) admitted: BTreeMap<PublicKey, Vec<(u64, Entry)>>,
    /// Per authority, how many entries are about another consultation (checked for
    /// signature and place, not judged: PROTOCOL.md, "Audit").
    pub(super) outside: BTreeMap<PublicKey, u64>,
    /// Results of the audited consultation, judged at the end when every log's
    /// checkpoint has been replayed.
    pub(super) results: Vec<(PublicKey, u64, SignedEvent)>,
}

/// What a replayed entry is about, as far as the served logs tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum About {
    /// Every consultation of its log: `authority`, `staff`, `credential`,
    /// `revocation`, a public `consultation`, or a moderation of something that has no
    /// consultation (inadmissible: it is judged to say so).
    Log,
    /// The consultation the entry names, directly or through its proposal or target.
    Consultation(EventId),
    /// An argument or a moderation whose proposal or target no served log holds.
    Unknown,
}

/// The consultation of every proposal and argument served (tombstones included), so
/// that an entry's consultation can be told wherever in the logs its proposal sits.
struct Items {
    consultation_of: HashMap<EventId, EventId>,
    kinds: HashMap<EventId, Kind>,
}

impl Items {
    fn of(logs: &[CheckedLog]) -> Items {
        let mut consultation_of = HashMap::new();
        let mut kinds = HashMap::new();
        let entries = || logs.iter().flat_map(|l| l.events.iter().flatten());
        for e in entries() {
            kinds.insert(e.id(), e.kind());
            match e {
                Entry::Purged(p) => {
                    consultation_of.insert(p.body().id, p.body().consultation);
                }
                Entry::Event(e) => {
                    if let Body::Proposal(b) = e.body() {
                        consultation_of.insert(e.id(), b.consultation);
                    }
                }
            }
        }
        for e in entries().filter_map(Entry::event) {
            if let Body::Argument(b) = e.body()
                && let Some(c) = consultation_of.get(&b.proposal).copied()
            {
                consultation_of.insert(e.id(), c);
            }
        }
        Items {
            consultation_of,
            kinds,
        }
    }

    fn about(&self, event: &SignedEvent) -> About {
        let through = |id: &EventId| match self.consultation_of.get(id) {
            Some(c) => About::Consultation(*c),
            None => About::Unknown,
        };
        match event.body() {
            Body::Proposal(b) => About::Consultation(b.consultation),
            Body::Ballot(b) => About::Consultation(b.consultation),
            Body::SealedBallot(b) => About::Consultation(b.consultation),
            Body::DkgDeal(b) => About::Consultation(b.consultation),
            Body::DkgComplaint(b) => About::Consultation(b.consultation),
            Body::ElectionKey(b) => About::Consultation(b.consultation),
            Body::BallotLayout(b) => About::Consultation(b.consultation),
            Body::Checkpoint(b) => About::Consultation(b.consultation),
            Body::Result(b) => About::Consultation(b.consultation),
            // A secret consultation's admission reads its trustees' logs, which the audit
            // of another consultation does not download: it is about itself alone.
            Body::Consultation(b) if b.secrecy.is_some() => About::Consultation(event.id()),
            Body::Argument(b) => through(&b.proposal),
            // A target of a kind that has no consultation: judged (`not_moderatable`).
            Body::Moderation(b) => match self.kinds.get(&b.target) {
                Some(Kind::Proposal | Kind::Argument) | None => through(&b.target),
                Some(_) => About::Log,
            },
            body => match crate::secret::admit::about(body) {
                Some((c, _)) => About::Consultation(c),
                None => About::Log,
            },
        }
    }
}

/// The running state of a replay.
struct Replaying<'r, 'f> {
    consultation: EventId,
    items: Items,
    refs: Arc<References>,
    ledger: Ledger,
    admitted: BTreeMap<PublicKey, Vec<(u64, Entry)>>,
    outside: BTreeMap<PublicKey, u64>,
    results: Vec<(PublicKey, u64, SignedEvent)>,
    /// Tombstones served, each to be explained by a purge of its own log.
    tombstones: Vec<(PublicKey, u64, PurgedEntry)>,
    /// (log, target) of the purges that explain a tombstone.
    purges: BTreeSet<(PublicKey, EventId)>,
    fail: &'r mut Fail<'f>,
}

/// Replays every log for `consultation`: references resolve across all logs; state
/// comes from each log in order. Entries about another consultation are kept in place
/// but not judged (PROTOCOL.md, "Audit"). Each inadmissible entry and each unexplained
/// tombstone is a failure.
pub(super) fn replay(logs: &[CheckedLog], consultation: &EventId, fail: &mut Fail<'_>) -> Replay {
    let mut refs = References::default();
    for log in logs {
        for e in log.events.iter().flatten() {
            match e {
                Entry::Event(e) => refs.note(&log.authority, e),
                Entry::Purged(p) => refs.note_purged(p.body()),
            }
        }
    }
    // An argument noted before the log that holds its proposal has no consultation yet
    // (a moderation of it would then find none): note the arguments again, now that
    // every proposal is known.
    for log in logs {
        for e in log.events.iter().flatten().filter_map(Entry::event) {
            if e.kind() == Kind::Argument {
                refs.note(&log.authority, e);
            }
        }
    }
    let refs = Arc::new(refs);
    let mut r = Replaying {
        consultation: *consultation,
        items: Items::of(logs),
        refs: refs.clone(),
        ledger: Ledger::with_references(refs.clone()),
        admitted: BTreeMap::new(),
        outside: BTreeMap::new(),
        results: Vec::new(),
        tombstones: Vec::new(),
        purges: BTreeSet::new(),
        fail,
    };
    for log in logs {
        r.admitted.entry(log.authority).or_default();
        r.outside.entry(log.authority).or_default();
        for (index, slot) in log.events.iter().enumerate() {
            // A bad entry (`None`) was named already; the rest keep the tree in step.
            match slot {
                None => {}
                Some(Entry::Purged(p)) => r.purged(&log.authority, index as u64, p),
                Some(Entry::Event(e)) => r.event(&log.authority, index as u64, e),
            }
        }
    }
    check_tombstones(&r.tombstones, &r.purges, r.fail);
    Replay {
        refs,
        ledger: r.ledger,
        admitted: r.admitted,
        outside: r.outside,
        results: r.results,
    }
}

impl Replaying<'_, '_> {
    fn is_outside(&self, about: About) -> bool {
        match about {
            About::Log => false,
            About::Consultation(c) => c != self.consultation,
            About::Unknown => true,
        }
    }

    fn purged(&mut self, log: &PublicKey, index: u64, p: &PurgedEntry) {
        self.tombstones.push((*log, index, p.clone()));
        if p.body().consultation == self.consultation {
            self.admitted
                .entry(*log)
                .or_default()
                .push((index, Entry::Purged(p.clone())));
        } else {
            *self.outside.entry(*log).or_default() += 1;
        }
        self.ledger.apply_entry(log, Entry::Purged(p.clone()));
    }

    fn event(&mut self, log: &PublicKey, index: u64, event: &SignedEvent) {
        let about = self.items.about(event);
        if self.is_outside(about) {
            return self.outside_event(log, index, event);
        }
        if event.kind() == Kind::Result {
            self.results.push((*log, index, event.clone()));
            self.ledger.apply(log, event.clone());
            return;
        }
        // The mix and the opening span every log (L₀ needs all the checkpoints, a mix
        // its predecessor in another log): `audit::opening` judges them after the replay.
        if crate::secret::mix_admit::is_opening(event.kind()) {
            self.admitted
                .entry(*log)
                .or_default()
                .push((index, Entry::Event(event.clone())));
            self.ledger.apply(log, event.clone());
            return;
        }
        let view = View {
            ledger: &self.ledger,
            refs: &self.refs,
            forget: None,
        };
        match admit(&view, log, event, Clock::Replay).into_result() {
            Ok(()) => {
                if let Body::Moderation(b) = event.body()
                    && b.tombstone.is_some()
                {
                    self.purges.insert((*log, b.target));
                }
                self.admitted
                    .entry(*log)
                    .or_default()
                    .push((index, Entry::Event(event.clone())));
                self.ledger.apply(log, event.clone());
            }
            Err(r) => {
                let duplicate = r == Rejection::Duplicate;
                self.inadmissible(log, index, event, r);
                if !duplicate {
                    self.ledger.apply(log, event.clone());
                }
            }
        }
    }

    /// An entry about another consultation: its signature and place were checked; it
    /// must not repeat an entry, and a purge among them explains the tombstone it
    /// carries only if that is exactly the one served in its target's place.
    fn outside_event(&mut self, log: &PublicKey, index: u64, event: &SignedEvent) {
        if self.ledger.contains(&event.id()) {
            return self.inadmissible(log, index, event, Rejection::Duplicate);
        }
        if let Body::Moderation(b) = event.body()
            && let Some(t) = &b.tombstone
            && matches!(self.ledger.stored(&b.target), Some(Entry::Purged(p))
                if p.tombstone() == t && self.ledger.position(&b.target).is_some_and(|at| at.log == *log))
        {
            self.purges.insert((*log, b.target));
        }
        *self.outside.entry(*log).or_default() += 1;
        self.ledger.apply(log, event.clone());
    }

    fn inadmissible(&mut self, log: &PublicKey, index: u64, event: &SignedEvent, r: Rejection) {
        self.fail.push(
            "inadmissible",
            Some(*log),
            Some(index),
            Some(event.id()),
            None,
            format!("{} ({})", r, r.code()),
        );
    }
}

/// A tombstone withholds an entry's text: only its own log's public purge allows that
/// (admitted in the replay, or, for an entry of another consultation, carrying exactly
/// this tombstone).
fn check_tombstones(
    tombstones: &[(PublicKey, u64, PurgedEntry)],
    purges: &BTreeSet<(PublicKey, EventId)>,
    fail: &mut Fail<'_>,
) {
    for (authority, index, p) in tombstones {
        if !purges.contains(&(*authority, p.body().id)) {
            fail.push(
                "unexplained_purge",
                Some(*authority),
                Some(*index),
                Some(p.body().id),
                None,
                "this entry was served as a tombstone, but its log holds no admissible purge of it",
            );
        }
    }
}

/// Whether the organiser's `result` is admissible, judged after the whole replay.
pub(super) fn admit_result(
    ledger: &Ledger,
    refs: &References,
    log: &PublicKey,
    event: &SignedEvent,
) -> Result<(), Rejection> {
    let view = View {
        ledger,
        refs,
        forget: Some(event.id()),
    };
    admit(&view, log, event, Clock::Replay).into_result()
}

/// The ledger as the replay judges against it: a moderation's target is resolved from
/// every log served (the ledger alone knows an argument's consultation only if its
/// proposal's log was replayed first); and, for a deferred result, the ledger as it
/// was before `forget` was applied — only "already recorded" differs, so a view that
/// forgets this one id is enough.
struct View<'a> {
    ledger: &'a Ledger,
    refs: &'a References,
    forget: Option<EventId>,
}

impl Record for View<'_> {
    fn contains(&self, id: &EventId) -> bool {
        Some(*id) != self.forget && self.ledger.contains(id)
    }
    fn is_declared(&self, a: &PublicKey) -> bool {
        self.ledger.is_declared(a)
    }
    fn consultation(&self, id: &EventId) -> Option<crate::view::ConsultationView> {
        self.ledger.consultation(id)
    }
    fn proposal(&self, id: &EventId) -> Option<crate::view::ProposalView> {
        self.ledger.proposal(id)
    }
    fn target(&self, id: &EventId) -> Option<(Kind, Option<EventId>)> {
        match self.refs.targets.get(id) {
            Some(t @ (_, Some(_))) => Some(*t),
            _ => self.ledger.target(id),
        }
    }
    fn credential(&self, i: &PublicKey, s: &PublicKey) -> Option<crate::view::CredentialState> {
        self.ledger.credential(i, s)
    }
    fn closing(&self, a: &PublicKey, c: &EventId) -> Option<(u64, Hash)> {
        self.ledger.closing(a, c)
    }
    fn has_result(&self, c: &EventId) -> bool {
        // Only the first result of a consultation counts; later ones are refused.
        self.ledger.has_result(c)
            && (self.forget.is_none() || self.ledger.first_result(c) != self.forget)
    }
    fn log_size(&self, a: &PublicKey) -> u64 {
        self.ledger.log_size(a)
    }
    fn root_at(&self, a: &PublicKey, size: u64) -> Option<Hash> {
        self.ledger.root_at(a, size)
    }
    fn staff(&self, a: &PublicKey, key: &PublicKey) -> Option<crate::event::StaffRole> {
        self.ledger.staff(a, key)
    }
    fn held(&self, id: &EventId) -> Option<(PublicKey, Entry)> {
        self.ledger.held(id)
    }
    fn moderated(&self, a: &PublicKey, target: &EventId) -> Option<crate::event::ModerationAction> {
        self.ledger.moderated(a, target)
    }
    fn encryption_key(&self, a: &PublicKey) -> Option<curve25519_dalek::ristretto::RistrettoPoint> {
        self.ledger.encryption_key(a)
    }
    fn secret_events(&self, c: &EventId, kind: Kind) -> Vec<(PublicKey, SignedEvent)> {
        self.ledger.secret_events(c, kind)
    }
    fn election_key(
        &self,
        c: &EventId,
    ) -> Option<(EventId, curve25519_dalek::ristretto::RistrettoPoint)> {
        self.ledger.election_key(c)
    }
    fn layout(&self, c: &EventId) -> Option<(EventId, u64)> {
        self.ledger.layout(c)
    }
    fn n_authored(&self, log: &PublicKey, c: &EventId, kind: Kind, author: &PublicKey) -> u64 {
        self.ledger.n_authored(log, c, kind, author)
    }

    fn counted_sealed(
        &self,
        c: &crate::view::ConsultationView,
    ) -> Option<Vec<crate::event::secret::Sealed>> {
        self.ledger.counted_sealed(c)
    }
}
