//! What the rules need to know of the record (the narrow interface the stores, the
//! audit's replay and the tests implement): lookups by id across every log held,
//! credentials per issuing authority, closings, staff, and the secret ceremony's events.

use curve25519_dalek::ristretto::RistrettoPoint;

use crate::crypto::PublicKey;
use crate::event::secret::Sealed;
use crate::event::{Kind, ModerationAction, SignedEvent, StaffRole};
use crate::ids::{EventId, Hash};
use crate::purge::Entry;
use crate::secret::memo::Openings;
use crate::view::{ConsultationView, CredentialState, ProposalView};

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
    fn counted_sealed(&self, consultation: &ConsultationView) -> Option<Vec<Sealed>> {
        let _ = consultation;
        None
    }
    /// The memo of L₀ and judged mixes a reader that lives across admissions keeps
    /// ([`crate::secret::judged`], kept in a [`crate::secret::memo::Openings`]), or `None` (everything is judged afresh each time).
    fn openings(&self) -> Option<&Openings> {
        None
    }
}
