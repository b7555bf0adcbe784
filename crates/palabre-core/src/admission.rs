//! Admission: whether one checked event may be appended to one authority's log, given
//! what the record already holds. One function, [`admit`], used by the node's API, by
//! federation sync and by the auditor's replay, so that the rule is written once.
//!
//! The record is a read-only view ([`Record`]) that the store implements on disk and
//! [`crate::ledger::Ledger`] implements in memory. Time is a parameter ([`Clock`]).
//! Stateless checks (canonical form, limits, keys, signature) happened earlier, when the
//! bytes became a [`SignedEvent`].

use crate::crypto::PublicKey;
use crate::event::{
    Body, ConsultationBody, Kind, ModerationAction, ModerationBody, SignedEvent, StaffRole,
    TombstoneBody,
};
use crate::ids::EventId;
use crate::limits::{MAX_CLOCK_SKEW_MS, MAX_QUOTA};
use crate::purge::Entry;
use crate::record::Record;
use crate::rejection::Rejection;
use crate::secret::admit as secret_admission;
use crate::tally::{self, ChoiceError, Method, Tally};
use crate::view::{ConsultationView, CredentialStatus};

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
