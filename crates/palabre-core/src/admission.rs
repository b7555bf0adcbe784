//! Admission: whether one checked event may be appended to one authority's log, given
//! what the record already holds. One function, [`admit`], used by the node's API, by
//! federation sync and by the auditor's replay, so that the rule is written once.
//!
//! The record is a read-only view ([`Record`]) that the store implements on disk and
//! [`crate::ledger::Ledger`] implements in memory. Time is a parameter ([`Clock`]).
//! Stateless checks (canonical form, limits, keys, signature) happened earlier, when the
//! bytes became a [`SignedEvent`].

use curve25519_dalek::ristretto::RistrettoPoint;

use crate::crypto::PublicKey;
use crate::event::{
    Body, ConsultationBody, Kind, ModerationAction, ModerationBody, SignedEvent, StaffRole,
    TombstoneBody,
};
use crate::ids::{EventId, Hash};
use crate::limits::{MAX_CLOCK_SKEW_MS, MAX_QUOTA};
use crate::purge::Entry;
use crate::rejection::Rejection;
use crate::secret::admit as secret_admission;
use crate::tally::{self, ChoiceError, Method, Tally};

/// A resident across key replacements: the first key an authority certified for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VoterId {
    /// The authority that certified the resident.
    pub issuer: PublicKey,
    /// The first key of the chain of replacements, which never changes.
    pub first_key: PublicKey,
}

/// Where one credentialed key stands (PROTOCOL.md, "Credential states").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialStatus {
    /// In force: the key may vote and write for its resident.
    Active,
    /// A `revocation` withdrew it: its ballots stop counting.
    Revoked,
    /// A newer credential names this key in `replaces`.
    Replaced,
}

/// What the record knows of one key credentialed by one authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialState {
    /// The resident the key belongs to.
    pub voter: VoterId,
    /// Whether the key may still act.
    pub status: CredentialStatus,
}

/// A recorded consultation, as admission and counting read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationView {
    /// The id of its `consultation` event, the consultation's id.
    pub id: EventId,
    /// The authority whose log holds it (whoever of its staff signed it).
    pub organiser: PublicKey,
    /// Its signed rules.
    pub body: ConsultationBody,
}

/// Where a consultation stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the proposal window opens.
    Upcoming,
    /// From the opening of proposals to the opening of the vote.
    Proposals,
    /// The vote window is open.
    Voting,
    /// At or after `vote_close_ms`.
    Closed,
}

impl Phase {
    /// The phase's name as the API and pages write it (`"voting"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Upcoming => "upcoming",
            Phase::Proposals => "proposals",
            Phase::Voting => "voting",
            Phase::Closed => "closed",
        }
    }
}

impl ConsultationView {
    /// Whether `authority` is one of the consultation's participating authorities.
    pub fn participates(&self, authority: &PublicKey) -> bool {
        self.body.authorities.binary_search(authority).is_ok()
    }

    /// The phase at `now_ms` (ms since 1970).
    pub fn phase(&self, now_ms: u64) -> Phase {
        let b = &self.body;
        if now_ms < b.proposals_open_ms {
            Phase::Upcoming
        } else if now_ms >= b.vote_close_ms {
            Phase::Closed
        } else if now_ms >= b.vote_open_ms {
            Phase::Voting
        } else {
            Phase::Proposals
        }
    }

    /// When events of `kind` about this consultation are admitted, `[opens, closes)` by
    /// their time: proposals in the proposal window, arguments from the opening of
    /// proposals to the close of the vote, ballots in the vote window.
    pub fn window(&self, kind: Kind) -> Option<(u64, u64)> {
        let b = &self.body;
        match kind {
            Kind::Proposal => Some((b.proposals_open_ms, b.proposals_close_ms)),
            Kind::Argument => Some((b.proposals_open_ms, b.vote_close_ms)),
            Kind::Ballot => Some((b.vote_open_ms, b.vote_close_ms)),
            _ => None,
        }
    }

    /// Whether an event of `kind` dated `at_ms` falls in its [`window`](Self::window).
    pub fn accepts(&self, kind: Kind, at_ms: u64) -> bool {
        self.window(kind)
            .is_some_and(|(opens, closes)| (opens..closes).contains(&at_ms))
    }

    /// Whether a tally may be shown: after the close, or before it when the organiser
    /// chose to show running results.
    pub fn results_visible(&self, now_ms: u64) -> bool {
        self.body.show_running_results || now_ms >= self.body.vote_close_ms
    }
}

/// A recorded proposal, as admission and counting read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalView {
    /// The proposal's event id.
    pub id: EventId,
    /// Who signed it: a resident, or the authority or its admin for the town hall's own.
    pub author: PublicKey,
    /// The consultation it belongs to.
    pub consultation: EventId,
    /// Its cost in whole currency units, present exactly in budget consultations.
    pub cost: Option<u64>,
}

/// What admission needs to know of the record. Lookups by id see every log the record
/// holds (the node's own and its replicas); credentials are per issuing authority.
pub trait Record {
    /// Whether an event with this id is already recorded in any log.
    fn contains(&self, id: &EventId) -> bool;
    /// Whether `authority`'s log holds its `authority` event.
    fn is_declared(&self, authority: &PublicKey) -> bool;
    /// The recorded consultation with this id, in any log.
    fn consultation(&self, id: &EventId) -> Option<ConsultationView>;
    /// The recorded proposal with this id, in any log (a purged one too, from its
    /// tombstone).
    fn proposal(&self, id: &EventId) -> Option<ProposalView>;
    /// The kind of a recorded event and, for proposals and arguments, its consultation.
    fn target(&self, id: &EventId) -> Option<(Kind, Option<EventId>)>;
    /// Where `subject`'s credential from `issuer` stands, if it ever had one.
    fn credential(&self, issuer: &PublicKey, subject: &PublicKey) -> Option<CredentialState>;
    /// The closing checkpoint `authority` recorded for `consultation`, if any.
    fn closing(&self, authority: &PublicKey, consultation: &EventId) -> Option<(u64, Hash)>;
    /// Whether a `result` of `consultation` is already recorded.
    fn has_result(&self, consultation: &EventId) -> bool;
    /// How many entries `authority`'s log holds.
    fn log_size(&self, authority: &PublicKey) -> u64;
    /// The Merkle root of the first `size` entries of `authority`'s log.
    fn root_at(&self, authority: &PublicKey, size: u64) -> Option<Hash>;
    /// The role `key` holds in `authority`'s staff, if its appointment is in force.
    fn staff(&self, authority: &PublicKey, key: &PublicKey) -> Option<StaffRole>;
    /// The log holding `id` and its entry there (an event, or its tombstone if purged).
    fn held(&self, id: &EventId) -> Option<(PublicKey, Entry)>;
    /// `authority`'s latest moderation of `target` in its own log (a purge is final:
    /// nothing after it counts).
    fn moderated(&self, authority: &PublicKey, target: &EventId) -> Option<ModerationAction>;
    /// The trustee encryption key `authority`'s `authority` event declares, if any.
    fn encryption_key(&self, authority: &PublicKey) -> Option<RistrettoPoint>;
    /// The recorded events of a secret-ballot `kind` (`dkg_deal`, `dkg_complaint`,
    /// `election_key`, `ballot_layout`) about `consultation`, in every log, with the log
    /// that holds each. A reader that resolves references from logs not replayed yet
    /// (the audit's) may return those too: callers that need "already in this log" also
    /// ask [`Record::contains`].
    fn secret_events(&self, consultation: &EventId, kind: Kind) -> Vec<(PublicKey, SignedEvent)>;
    /// The consultation's `election_key` event and its key `Y`.
    fn election_key(&self, consultation: &EventId) -> Option<(EventId, RistrettoPoint)>;
    /// The consultation's `ballot_layout` event and its number of columns.
    fn layout(&self, consultation: &EventId) -> Option<(EventId, u64)>;
    /// How many entries of `kind` (proposals, arguments) about `consultation` signed by
    /// `author` `log` holds (purged ones included): what the consultation's quotas count.
    fn n_authored(
        &self,
        log: &PublicKey,
        consultation: &EventId,
        kind: Kind,
        author: &PublicKey,
    ) -> u64;
    /// The `sealed` members of a secret consultation's counted ballots, one per voter in
    /// voter order (the source of the mix input L₀, SECRET-BALLOTS.md §4.8), once every
    /// participating log holds its closing checkpoint. `None` before that — or from a
    /// reader that does not count, which then refuses a first mix with `not_closed`
    /// (awaits) rather than admit one it cannot check.
    fn counted_sealed(
        &self,
        consultation: &ConsultationView,
    ) -> Option<Vec<crate::secret::Sealed>> {
        let _ = consultation;
        None
    }
    /// The memo of L₀ and judged mixes a reader that lives across admissions keeps
    /// ([`crate::secret::judged`]), or `None` (everything is judged afresh each time).
    fn openings(&self) -> Option<&crate::secret::judged::Openings> {
        None
    }
}

/// Whether a staff member in `role` may sign, in their authority's log, events of
/// `kind` that otherwise only the authority's own key signs. The authority key may
/// always; `staff` appointments, checkpoints and results stay the authority's alone.
pub fn staff_may(role: StaffRole, kind: Kind) -> bool {
    use StaffRole::*;
    match kind {
        Kind::Consultation | Kind::Revocation => role == Admin,
        Kind::Credential => matches!(role, Admin | Desk),
        Kind::Moderation => matches!(role, Admin | Moderator),
        _ => false,
    }
}

/// Whether `author` acts for the authority of `log` in an event of `kind`: it is the
/// authority itself, or a staff member whose role allows it. Every reader of a log
/// (admission, the ledger, counting, the store's indexes) decides with this one rule.
pub fn acts_for(
    role: impl FnOnce() -> Option<StaffRole>,
    log: &PublicKey,
    author: &PublicKey,
    kind: Kind,
) -> bool {
    author == log || role().is_some_and(|r| staff_may(r, kind))
}

/// The time admission judges by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// A node admitting fresh input: the event's claimed time must be within
    /// `MAX_CLOCK_SKEW_MS` of `now_ms`.
    Live {
        /// The node's clock, ms since 1970.
        now_ms: u64,
    },
    /// Replaying a recorded log (audit, replication): the claimed time is taken as is,
    /// and windows are judged by it; the closing checkpoint bounds what counts.
    Replay,
}

/// What [`admit`] decides for one event: append it, or refuse it with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The event may be appended to the log.
    Accept,
    /// The event is refused, for this reason.
    Reject(Rejection),
}

impl Verdict {
    /// `Ok(())` for accept, the rejection as the error otherwise.
    pub fn into_result(self) -> Result<(), Rejection> {
        match self {
            Verdict::Accept => Ok(()),
            Verdict::Reject(r) => Err(r),
        }
    }
}

/// The rules a `moderation` event adds when its target was or is being purged.
///
/// A purge needs its target in the same log, hidden there by the latest moderation, and
/// a tombstone that describes it exactly, signed by the log's authority. Live, nothing
/// moderates a purged item any more (`purged`). A replay accepts what the history holds:
/// a replica that received the tombstone in the target's place sees the same purge, and
/// moderations signed before it, afterwards.
fn check_purge(
    record: &impl Record,
    log: &PublicKey,
    b: &ModerationBody,
    consultation: &ConsultationView,
    clock: Clock,
) -> Result<(), Rejection> {
    let held = record.held(&b.target);
    let purged = held.as_ref().is_some_and(|(_, e)| e.purged().is_some());
    if b.action != ModerationAction::Purge {
        return match (purged, clock) {
            (true, Clock::Live { .. }) => Err(Rejection::Purged),
            _ => Ok(()),
        };
    }
    let tombstone = b.tombstone.as_ref().ok_or(Rejection::BadTombstone)?;
    let Some((holder, entry)) = held else {
        return Err(Rejection::NotHidden);
    };
    if holder != *log || record.moderated(log, &b.target) != Some(ModerationAction::Hide) {
        return Err(if purged {
            Rejection::Purged
        } else {
            Rejection::NotHidden
        });
    }
    match &entry {
        Entry::Purged(p) if p.tombstone() == tombstone => Ok(()),
        Entry::Purged(_) => Err(Rejection::Purged),
        Entry::Event(event) => {
            if TombstoneBody::of(event, consultation.id).as_ref() != Some(&tombstone.purged) {
                return Err(Rejection::BadTombstone);
            }
            tombstone.verify(log)
        }
    }
}

/// Decides whether `event` may be appended to the log of authority `log`.
pub fn admit(record: &impl Record, log: &PublicKey, event: &SignedEvent, clock: Clock) -> Verdict {
    match check(record, log, event, clock) {
        Ok(()) => Verdict::Accept,
        Err(r) => Verdict::Reject(r),
    }
}

fn check(
    record: &impl Record,
    log: &PublicKey,
    event: &SignedEvent,
    clock: Clock,
) -> Result<(), Rejection> {
    let at = event.created_at_ms();
    if let Clock::Live { now_ms } = clock
        && at.abs_diff(now_ms) > MAX_CLOCK_SKEW_MS
    {
        return Err(Rejection::ClockSkew);
    }
    if record.contains(&event.id()) {
        return Err(Rejection::Duplicate);
    }
    if event.kind() != Kind::Authority && !record.is_declared(log) {
        return Err(Rejection::UnknownAuthority);
    }
    let author = event.author();
    // One code per situation, whatever the kind: a key appointed to L's staff whose role
    // does not allow this kind is `not_staff`; any other key but L's is `wrong_author`.
    let refuse_author = |expected: &'static str| -> Rejection {
        if record.staff(log, author).is_some() {
            Rejection::NotStaff
        } else {
            Rejection::WrongAuthor { expected }
        }
    };
    // The consultation an event names, as admitted so far.
    let known = |c: &EventId| record.consultation(c).ok_or(Rejection::UnknownConsultation);
    let organiser_in_own_log = |c: &ConsultationView| -> Result<(), Rejection> {
        if author == log && *author == c.organiser {
            Ok(())
        } else {
            Err(refuse_author(
                "the consultation's organiser, in its own log",
            ))
        }
    };
    let by_log = || -> Result<(), Rejection> {
        if author == log {
            Ok(())
        } else {
            Err(refuse_author("the authority whose log this is"))
        }
    };
    // The authority, or a staff member of its log whose role allows this kind.
    let for_log = || -> Result<(), Rejection> {
        if acts_for(|| record.staff(log, author), log, author, event.kind()) {
            Ok(())
        } else {
            Err(refuse_author(
                "the authority whose log this is, or one of its staff",
            ))
        }
    };
    match event.body() {
        Body::Authority(_) => by_log(),
        Body::Staff(b) => {
            by_log()?;
            if b.subject == *log {
                return Err(Rejection::BadKey { field: "subject" });
            }
            if !b.active && record.staff(log, &b.subject).is_none() {
                return Err(Rejection::NotStaff);
            }
            Ok(())
        }
        Body::Credential(b) => {
            for_log()?;
            if b.subject == *log || record.credential(log, &b.subject).is_some() {
                return Err(Rejection::AlreadyCredentialed);
            }
            if let Some(old) = &b.replaces {
                match record.credential(log, old) {
                    None => return Err(Rejection::NotCredentialed),
                    Some(s) if s.status != CredentialStatus::Active => {
                        return Err(Rejection::AlreadyRevoked);
                    }
                    Some(_) => {}
                }
            }
            Ok(())
        }
        Body::Revocation(b) => {
            for_log()?;
            match record.credential(log, &b.subject) {
                None => Err(Rejection::NotCredentialed),
                Some(s) if s.status != CredentialStatus::Active => Err(Rejection::AlreadyRevoked),
                Some(_) => Ok(()),
            }
        }
        Body::Consultation(b) => {
            for_log()?;
            check_consultation(log, b)?;
            secret_admission::consultation(record, b)
        }
        Body::DkgDeal(b) => {
            by_log()?;
            let c = known(&b.consultation)?;
            secret_admission::deal(record, log, &c, event)
        }
        Body::DkgComplaint(b) => {
            by_log()?;
            let c = known(&b.consultation)?;
            secret_admission::complaint(record, log, &c, b, event)
        }
        Body::ElectionKey(b) => {
            let c = known(&b.consultation)?;
            organiser_in_own_log(&c)?;
            secret_admission::election_key(record, log, &c, b, event)
        }
        Body::BallotLayout(b) => {
            let c = known(&b.consultation)?;
            organiser_in_own_log(&c)?;
            secret_admission::layout(record, log, &c, b, event)
        }
        Body::Mix(b) => {
            let c = known(&b.consultation)?;
            crate::secret::mix_admit::mix(record, log, &c, b, event)
        }
        Body::MixProof(b) => {
            let c = known(&b.consultation)?;
            crate::secret::mix_admit::mix_proof(record, log, &c, b, event)
        }
        Body::SealFinal(b) => {
            let c = known(&b.consultation)?;
            organiser_in_own_log(&c)?;
            crate::secret::mix_admit::seal_final(record, log, &c, b, event)
        }
        Body::Decryption(b) => {
            let c = known(&b.consultation)?;
            crate::secret::mix_admit::decryption(record, log, &c, b, event)
        }
        Body::SealedResult(b) => {
            let c = known(&b.consultation)?;
            organiser_in_own_log(&c)?;
            if at < c.body.vote_close_ms {
                return Err(Rejection::NotClosed);
            }
            if record.has_result(&b.consultation) {
                return Err(Rejection::AlreadyClosed);
            }
            if c.body.secrecy.is_none() {
                return Err(Rejection::NotSealed);
            }
            checkpoints_named(record, &c, &b.checkpoints, &b.tally)?;
            crate::secret::mix_admit::result(record, &c, b)
        }
        Body::SealedBallot(b) => {
            let c = known(&b.consultation)?;
            participant(&c, log)?;
            active_credential(record, log, author)?;
            within(at, &c, Kind::Ballot)?;
            if let Some(a) = &b.assistance
                && !matches!(
                    record.staff(log, &a.agent),
                    Some(StaffRole::Desk | StaffRole::Admin)
                )
            {
                return Err(Rejection::NotStaff);
            }
            if record.closing(log, &b.consultation).is_some() {
                return Err(Rejection::AlreadyClosed);
            }
            secret_admission::sealed_ballot(record, &c, b, author)
        }
        Body::Proposal(b) => {
            let c = known(&b.consultation)?;
            participant(&c, log)?;
            may_speak(record, log, author)?;
            within(at, &c, Kind::Proposal)?;
            match (&c.body.method, b.cost) {
                (Method::Budget { budget, .. }, Some(cost)) if cost >= 1 && cost <= *budget => {}
                (Method::Budget { .. }, _) | (_, Some(_)) => return Err(Rejection::BadCost),
                (_, None) => {}
            }
            within_quota(record, log, &c, Kind::Proposal, author)
        }
        Body::Argument(b) => {
            let p = record
                .proposal(&b.proposal)
                .ok_or(Rejection::UnknownProposal)?;
            let c = record
                .consultation(&p.consultation)
                .ok_or(Rejection::UnknownConsultation)?;
            participant(&c, log)?;
            may_speak(record, log, author)?;
            within(at, &c, Kind::Argument)?;
            within_quota(record, log, &c, Kind::Argument, author)
        }
        Body::Ballot(b) => {
            let c = known(&b.consultation)?;
            participant(&c, log)?;
            if c.body.secrecy.is_some() {
                return Err(Rejection::SealedRequired);
            }
            active_credential(record, log, author)?;
            within(at, &c, Kind::Ballot)?;
            if let Some(a) = &b.assistance
                && !matches!(
                    record.staff(log, &a.agent),
                    Some(StaffRole::Desk | StaffRole::Admin)
                )
            {
                return Err(Rejection::NotStaff);
            }
            if record.closing(log, &b.consultation).is_some() {
                return Err(Rejection::AlreadyClosed);
            }
            let is_candidate = |id: &EventId| {
                record
                    .proposal(id)
                    .is_some_and(|p| p.consultation == b.consultation)
            };
            tally::validate_choice(&c.body.method, is_candidate, &b.choice).map_err(|e| match e {
                // A proposal recorded nowhere may be in a log not caught up yet; one of
                // another consultation never becomes a candidate.
                ChoiceError::UnknownProposal(id) if record.proposal(&id).is_none() => {
                    Rejection::UnknownProposal
                }
                e => Rejection::InvalidChoice(e),
            })
        }
        Body::Moderation(b) => {
            for_log()?;
            let (kind, consultation) = record.target(&b.target).ok_or(Rejection::UnknownTarget)?;
            if !matches!(kind, Kind::Proposal | Kind::Argument) {
                return Err(Rejection::NotModeratable);
            }
            let c = consultation
                .and_then(|id| record.consultation(&id))
                .ok_or(Rejection::UnknownConsultation)?;
            participant(&c, log)?;
            check_purge(record, log, b, &c, clock)
        }
        Body::Checkpoint(b) => {
            by_log()?;
            let c = known(&b.consultation)?;
            participant(&c, log)?;
            if at < c.body.vote_close_ms {
                return Err(Rejection::NotClosed);
            }
            if record.closing(log, &b.consultation).is_some() {
                return Err(Rejection::AlreadyClosed);
            }
            if b.size > record.log_size(log) || record.root_at(log, b.size) != Some(b.root) {
                return Err(Rejection::CheckpointMismatch);
            }
            Ok(())
        }
        Body::Result(b) => {
            let c = known(&b.consultation)?;
            organiser_in_own_log(&c)?;
            if at < c.body.vote_close_ms {
                return Err(Rejection::NotClosed);
            }
            if record.has_result(&b.consultation) {
                return Err(Rejection::AlreadyClosed);
            }
            // A secret consultation's result comes from its opening (mix and decryption,
            // "Secret ballots II"), never from a count of public choices.
            if c.body.secrecy.is_some() {
                return Err(Rejection::SealedRequired);
            }
            checkpoints_named(record, &c, &b.checkpoints, &b.tally)
        }
    }
}

/// A result names every participating log's closing checkpoint, in order, and a tally
/// of the consultation's method (`result_mismatch`, which awaits logs not caught up).
fn checkpoints_named(
    record: &impl Record,
    c: &ConsultationView,
    checkpoints: &[crate::event::ClosedLog],
    tally: &Tally,
) -> Result<(), Rejection> {
    let named: Vec<&PublicKey> = checkpoints.iter().map(|k| &k.authority).collect();
    let expected: Vec<&PublicKey> = c.body.authorities.iter().collect();
    if named != expected || !tally_matches_method(tally, &c.body.method) {
        return Err(Rejection::ResultMismatch);
    }
    for closed in checkpoints {
        if record.closing(&closed.authority, &c.id) != Some((closed.size, closed.root)) {
            return Err(Rejection::ResultMismatch);
        }
    }
    Ok(())
}

/// Whether a consultation's windows are in order (`bad_windows` otherwise): each opens
/// before it closes, and the vote neither opens before nor closes before proposals.
pub fn windows_in_order(
    proposals_open_ms: u64,
    proposals_close_ms: u64,
    vote_open_ms: u64,
    vote_close_ms: u64,
) -> bool {
    proposals_open_ms < proposals_close_ms
        && vote_open_ms < vote_close_ms
        && proposals_open_ms <= vote_open_ms
        && proposals_close_ms <= vote_close_ms
}

fn check_consultation(log: &PublicKey, b: &ConsultationBody) -> Result<(), Rejection> {
    let ascending = b.authorities.windows(2).all(|w| w[0] < w[1]);
    if b.authorities.is_empty() || !ascending || b.authorities.binary_search(log).is_err() {
        return Err(Rejection::BadParticipants);
    }
    let ordered = windows_in_order(
        b.proposals_open_ms,
        b.proposals_close_ms,
        b.vote_open_ms,
        b.vote_close_ms,
    );
    if !ordered {
        return Err(Rejection::BadWindows);
    }
    tally::validate_method(&b.method).map_err(Rejection::InvalidMethod)?;
    match b.quotas {
        Some(q)
            if ![q.max_proposals_per_author, q.max_arguments_per_author]
                .iter()
                .all(|n| (1..=MAX_QUOTA).contains(n)) =>
        {
            Err(Rejection::BadQuotas)
        }
        _ => Ok(()),
    }
}

/// Whether `author` may write one more entry of `kind` about `c` in `log`: residents are
/// held to the consultation's quotas; the town's own key and its admins are not.
fn within_quota(
    record: &impl Record,
    log: &PublicKey,
    c: &ConsultationView,
    kind: Kind,
    author: &PublicKey,
) -> Result<(), Rejection> {
    if author == log || record.staff(log, author) == Some(StaffRole::Admin) {
        return Ok(());
    }
    let Some(max) = c.body.quotas().of(kind) else {
        return Ok(());
    };
    if record.n_authored(log, &c.id, kind, author) >= max {
        return Err(Rejection::QuotaReached {
            kind: kind.as_str(),
            max,
        });
    }
    Ok(())
}

fn participant(c: &ConsultationView, log: &PublicKey) -> Result<(), Rejection> {
    if c.participates(log) {
        Ok(())
    } else {
        Err(Rejection::NotParticipating)
    }
}

fn within(at_ms: u64, c: &ConsultationView, kind: Kind) -> Result<(), Rejection> {
    let (opens_at_ms, closes_at_ms) = c.window(kind).unwrap_or((0, 0));
    if c.accepts(kind, at_ms) {
        Ok(())
    } else {
        Err(Rejection::OutsideWindow {
            opens_at_ms,
            closes_at_ms,
        })
    }
}

/// Proposals and arguments come from the log's authority itself (its key or an admin's:
/// a town hall puts its own projects forward) or its residents.
fn may_speak(record: &impl Record, log: &PublicKey, author: &PublicKey) -> Result<(), Rejection> {
    if author == log || record.staff(log, author) == Some(StaffRole::Admin) {
        Ok(())
    } else {
        active_credential(record, log, author)
    }
}

fn active_credential(
    record: &impl Record,
    log: &PublicKey,
    author: &PublicKey,
) -> Result<(), Rejection> {
    match record.credential(log, author) {
        None => Err(Rejection::NotEligible),
        Some(s) => match s.status {
            CredentialStatus::Active => Ok(()),
            CredentialStatus::Revoked => Err(Rejection::RevokedKey),
            CredentialStatus::Replaced => Err(Rejection::ReplacedKey),
        },
    }
}

/// Whether a tally is of the consultation's method (its numbers are the auditor's job).
pub fn tally_matches_method(t: &Tally, m: &Method) -> bool {
    matches!(
        (t, m),
        (Tally::Support { .. }, Method::Support { .. })
            | (Tally::YesNoAbstain { .. }, Method::YesNoAbstain {})
            | (Tally::Approval { .. }, Method::Approval { .. })
            | (Tally::Budget { .. }, Method::Budget { .. })
            | (
                Tally::MajorityJudgment { .. },
                Method::MajorityJudgment { .. }
            )
    )
}
