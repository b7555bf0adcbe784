//! The one thing the web layer needs from a node: [`Backend`]. The `palabre` binary
//! implements it on top of the store and its group-commit writer; the tests implement it
//! on core's in-memory `Ledger`. The web crate never sees the store.

use std::future::Future;

use palabre_core::counting::Counted;
use palabre_core::counting::Moderated;
use palabre_core::crypto::PublicKey;
use palabre_core::event::SignedEvent;
use palabre_core::head::{Cosignature, Equivocation, Receipt, SignedTreeHead};
use palabre_core::ids::{EventId, Hash};
use palabre_core::view::ConsultationView;

pub use crate::error::{BackendError, Refusal};

/// This node's authority.
#[derive(Debug, Clone)]
pub struct AuthorityInfo {
    pub key: PublicKey,
    /// The exact bytes of its `authority` event, once declared.
    pub event: Option<Vec<u8>>,
}

/// How residents reach the town hall in person, from the node's settings: printed on
/// letters, shown on the home and About pages. An empty field is left out of pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TownHall {
    /// The municipality's name.
    pub name: String,
    /// Its postal address (the desk's).
    pub address: String,
    /// When the desk is open, in words ("Monday to Friday, 9:00–12:00").
    pub desk_hours: String,
    /// How to reach it: a telephone number, an e-mail address.
    pub contact: String,
    /// Whom to ask about personal data (the privacy notice); the general contact when
    /// empty.
    pub privacy_contact: String,
}

/// An event and where it sits.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub log: PublicKey,
    pub index: u64,
    pub bytes: Vec<u8>,
}

/// A proposal or an argument of a consultation, with each authority's latest
/// moderation of it.
#[derive(Debug, Clone)]
pub struct Member {
    pub event: StoredEvent,
    pub moderation: Vec<Moderated>,
}

/// `backend.count(consultation)` off the async workers: a first count after a start reads
/// every participating log (seconds at a million entries), and must hold neither a
/// worker nor the requests of other consultations meanwhile.
pub async fn count_off_workers<B: Backend>(
    backend: &std::sync::Arc<B>,
    consultation: EventId,
) -> Result<Option<(ConsultationView, std::sync::Arc<Counted>)>, BackendError> {
    let backend = std::sync::Arc::clone(backend);
    tokio::task::spawn_blocking(move || backend.count(&consultation))
        .await
        .map_err(|e| BackendError::caused("the count stopped", e))?
}

pub trait Backend: Send + Sync + 'static {
    fn authority(&self) -> AuthorityInfo;

    /// The town hall's name, address, desk hours and contacts (none by default).
    fn town_hall(&self) -> TownHall {
        TownHall::default()
    }

    /// The town's time zone: every time shown to people, or typed by staff, is in it
    /// (UTC by default).
    fn time_zone(&self) -> crate::zone::Zone {
        crate::zone::Zone::utc()
    }

    /// Admits and durably appends each event to this node's log (in order; each sees the
    /// ones before it). Resolves once they are on disk.
    fn submit(
        &self,
        events: Vec<SignedEvent>,
    ) -> impl Future<Output = Result<Vec<Result<Receipt, Refusal>>, BackendError>> + Send;

    /// Issues a credential for `subject`, consuming the invitation whose hash is given,
    /// atomically with the append.
    fn redeem(
        &self,
        invitation: Hash,
        subject: PublicKey,
    ) -> impl Future<Output = Result<Result<(SignedEvent, Receipt), Refusal>, BackendError>> + Send;

    fn event(&self, id: &EventId) -> Result<Option<StoredEvent>, BackendError>;
    fn latest_head(&self, log: &PublicKey) -> Result<Option<SignedTreeHead>, BackendError>;
    /// Entries `start..end` (the caller bounds the range by the log size and page size).
    fn entries(&self, log: &PublicKey, start: u64, end: u64) -> Result<Vec<Vec<u8>>, BackendError>;
    /// `None` when the index or size is out of range.
    fn inclusion_proof(
        &self,
        log: &PublicKey,
        index: u64,
        size: u64,
    ) -> Result<Option<Vec<Hash>>, BackendError>;
    /// `None` when the sizes are out of range.
    fn consistency_proof(
        &self,
        log: &PublicKey,
        from: u64,
        to: u64,
    ) -> Result<Option<Vec<Hash>>, BackendError>;
    fn log_size(&self, log: &PublicKey) -> Result<u64, BackendError>;
    fn consultations(&self) -> Result<Vec<ConsultationView>, BackendError>;
    /// One recorded consultation, or `None`.
    fn consultation(&self, id: &EventId) -> Result<Option<ConsultationView>, BackendError>;
    /// The closing checkpoint `log` holds for `consultation` (its size and root), once
    /// that log has closed it.
    fn closing(
        &self,
        log: &PublicKey,
        consultation: &EventId,
    ) -> Result<Option<(u64, Hash)>, BackendError>;
    /// A consultation with its proposals and arguments (in no given order).
    fn discussion(
        &self,
        consultation: &EventId,
    ) -> Result<Option<(ConsultationView, Vec<Member>)>, BackendError>;
    /// A consultation's count (the store keeps the last ones: counting again reads only
    /// what was appended since).
    fn count(
        &self,
        consultation: &EventId,
    ) -> Result<Option<(ConsultationView, std::sync::Arc<Counted>)>, BackendError>;
    /// The node's clock, in ms since 1970.
    /// Witnesses' cosignatures of `log`'s heads held here.
    fn cosignatures(&self, log: &PublicKey) -> Result<Vec<Cosignature>, BackendError>;
    /// At most `limit` of `log`'s cosignatures after the position `after` — (size,
    /// witness, root), keys and hashes compared as bytes — in that order (what
    /// `GET /api/v1/logs/{authority}/cosignatures` serves a page at a time). The default
    /// reads them all; a store answers from its index.
    fn cosignatures_after(
        &self,
        log: &PublicKey,
        after: Option<(u64, PublicKey, palabre_core::ids::Hash)>,
        limit: usize,
    ) -> Result<Vec<Cosignature>, BackendError> {
        let order = |c: &Cosignature| {
            let h = &c.cosigned.head;
            (h.size, *c.cosigned.witness.as_bytes(), h.root.0)
        };
        let after = after.map(|(size, w, root)| (size, *w.as_bytes(), root.0));
        let mut list = self.cosignatures(log)?;
        list.sort_by_key(order);
        Ok(list
            .into_iter()
            .filter(|c| after.is_none_or(|a| order(c) > a))
            .take(limit)
            .collect())
    }
    /// Every proof of equivocation held here.
    fn evidence(&self) -> Result<Vec<Equivocation>, BackendError>;
    /// Every `moderation` entry that acts for its log's authority (the public
    /// moderation log), by log then index.
    fn moderation_log(&self) -> Result<Vec<StoredEvent>, BackendError>;
    fn now_ms(&self) -> u64;
    /// A secret consultation's key ceremony as this node's record holds it
    /// (`trust::ceremony_of`); `None` for a public consultation, or from a backend that
    /// holds no secret ballots.
    fn ceremony(
        &self,
        consultation: &ConsultationView,
    ) -> Result<Option<crate::trust::Ceremony>, BackendError> {
        let _ = consultation;
        Ok(None)
    }
    /// A closed secret consultation's opening as this node's record holds it
    /// (`opening::opening_of`); `None` for a public consultation, or from a backend that
    /// holds no secret ballots.
    fn opening(
        &self,
        consultation: &ConsultationView,
    ) -> Result<Option<crate::opening::Opening>, BackendError> {
        let _ = consultation;
        Ok(None)
    }
    /// Whether `authority`'s declaration carries a trustee encryption key (so that a
    /// secret vote may name it a trustee).
    fn declares_encryption_key(&self, authority: &PublicKey) -> Result<bool, BackendError> {
        let _ = authority;
        Ok(false)
    }
    /// Lines of Prometheus text the node adds to `/metrics` (log sizes, group commits).
    fn metrics(&self) -> String;
}

/// The stated reason of a recorded `moderation` event (empty if the id names none).
pub fn moderation_reason<B: Backend + ?Sized>(
    backend: &B,
    moderation: &EventId,
) -> Result<String, BackendError> {
    Ok(backend
        .event(moderation)?
        .and_then(|stored| palabre_core::event::decode(stored.bytes).ok())
        .and_then(|u| match u.event.body {
            palabre_core::event::Body::Moderation(b) => Some(b.reason),
            _ => None,
        })
        .unwrap_or_default())
}
