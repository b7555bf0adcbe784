//! The node's implementation of the web layer's `Backend`: reads go to the store,
//! writes go through the group-commit writer (on a blocking thread, since sled blocks),
//! and receipts are signed with the authority key.

use std::sync::Arc;

use palabre_core::counting::Counted;
use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::{Body, CredentialBody, Event, SignedEvent};
use palabre_core::head::{Cosignature, Equivocation, Receipt, ReceiptBody, SignedTreeHead};
use palabre_core::ids::{EventId, Hash};
use palabre_core::record::Record;
use palabre_core::view::ConsultationView;
use palabre_store::{
    Answer, CommitItem, CommitRejection, Committed, GROUP_BUCKETS, SledStorage, Storage,
    StoreError, Writer,
};
use palabre_web::{AuthorityInfo, Backend, BackendError, Code, Member, Refusal, StoredEvent};

use crate::clock::now_ms;
use crate::metrics::{FederationStats, StaffActions};

/// What the pages print and offer, from the node's configuration.
#[derive(Debug, Clone, Default)]
pub struct OfficeSettings {
    /// The staff pages' settings (public address, town, federation, sessions, demo).
    pub staff: palabre_web::staff::Settings,
    /// The town hall's address, desk hours and contacts (letters, home and About).
    pub town_hall: palabre_web::TownHall,
    /// The town's time zone.
    pub zone: palabre_web::Zone,
}

pub struct NodeBackend {
    pub storage: Arc<SledStorage>,
    pub writer: Arc<Writer>,
    pub key: Arc<SecretKey>,
    pub federation: Arc<FederationStats>,
    /// Notified after each durable commit (the federation bridge waits on it).
    pub committed: Arc<tokio::sync::Notify>,
    /// What the staff pages print and offer.
    pub office: OfficeSettings,
    pub staff_actions: StaffActions,
}

// By hand: the writer and the store have nothing useful to print, and the key must not be.
impl std::fmt::Debug for NodeBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeBackend")
            .field("authority", &self.key.public_key())
            .finish_non_exhaustive()
    }
}

/// A failure of the store (or its writer), kept as the source of the node's failure.
pub(crate) fn store_failed(e: StoreError) -> BackendError {
    BackendError::caused("the store failed", e)
}

/// The web layer's refusal of an item the store refused: core's rejection of the event,
/// or the invitation it would consume.
fn commit_refusal(rejection: &CommitRejection) -> Refusal {
    let code = match rejection {
        CommitRejection::Event(r) => Code::from(r),
        CommitRejection::UnknownInvitation => Code::UnknownInvitation,
        CommitRejection::UsedInvitation => Code::UsedInvitation,
        CommitRejection::RevokedInvitation => Code::RevokedInvitation,
    };
    Refusal::new(code, rejection.to_string())
}

impl NodeBackend {
    pub fn new(storage: Arc<SledStorage>, key: SecretKey) -> NodeBackend {
        let key = Arc::new(key);
        let signer = Arc::clone(&key);
        let writer = Writer::new(
            Arc::clone(&storage),
            Box::new(move |h| h.sign(&signer)),
            Box::new(now_ms),
        )
        .start();
        let committed = Arc::new(tokio::sync::Notify::new());
        let notify = Arc::clone(&committed);
        writer.set_listener(Box::new(move || notify.notify_one()));
        NodeBackend {
            committed,
            storage,
            writer: Arc::new(writer),
            key,
            federation: Arc::new(FederationStats::default()),
            office: OfficeSettings::default(),
            staff_actions: StaffActions::default(),
        }
    }

    /// The settings the staff pages print and offer.
    pub fn with_office(self, office: OfficeSettings) -> NodeBackend {
        NodeBackend { office, ..self }
    }

    pub(crate) fn me(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Hands the items to the group-commit writer and waits, without holding a thread,
    /// for the writer to answer once they are durable.
    pub(crate) async fn commit(&self, items: Vec<CommitItem>) -> Result<Committed, BackendError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let answer: Answer = Box::new(move |result| {
            // A client that went away is not an error of the commit.
            let _ = tx.send(result);
        });
        if let Some((items, answer)) = self
            .writer
            .try_enqueue_with(items, answer)
            .map_err(store_failed)?
        {
            // The queue is full: waiting for room is real back-pressure, and it must
            // not stall the runtime's worker threads.
            let writer = Arc::clone(&self.writer);
            tokio::task::spawn_blocking(move || writer.enqueue_with(items, answer))
                .await
                .map_err(|e| BackendError::caused("the wait for the writer stopped", e))?
                .map_err(store_failed)?;
        }
        rx.await
            .map_err(|_| BackendError::new("the writer stopped"))?
            .map_err(store_failed)
    }

    pub(crate) fn receipts(&self, committed: Committed) -> Vec<Result<Receipt, Refusal>> {
        let me = self.me();
        let head = committed
            .heads
            .iter()
            .find(|h| h.head.authority == me)
            .copied();
        committed
            .results
            .into_iter()
            .map(|r| match (r, head) {
                (Ok(a), Some(tree_head)) => Ok(ReceiptBody {
                    event_id: a.id,
                    index: a.index,
                    tree_head,
                }
                .sign(&self.key)),
                (Ok(_), None) => Err(Refusal::new(
                    Code::Internal,
                    "the event was stored but no head was signed",
                )),
                (Err(e), _) => Err(commit_refusal(&e)),
            })
            .collect()
    }
}

impl Backend for NodeBackend {
    fn authority(&self) -> AuthorityInfo {
        AuthorityInfo {
            key: self.me(),
            event: self.storage.entry(&self.me(), 0).ok().flatten(),
        }
    }

    fn town_hall(&self) -> palabre_web::TownHall {
        self.office.town_hall.clone()
    }

    fn time_zone(&self) -> palabre_web::Zone {
        self.office.zone.clone()
    }

    async fn submit(
        &self,
        events: Vec<SignedEvent>,
    ) -> Result<Vec<Result<Receipt, Refusal>>, BackendError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let me = self.me();
        let items = events
            .into_iter()
            .map(|event| CommitItem {
                log: me,
                event,
                consume_invitation: None,
            })
            .collect();
        let committed = self.commit(items).await?;
        Ok(self.receipts(committed))
    }

    async fn redeem(
        &self,
        invitation: Hash,
        subject: PublicKey,
    ) -> Result<Result<(SignedEvent, Receipt), Refusal>, BackendError> {
        let credential = Event {
            author: self.me(),
            created_at_ms: palabre_core::limits::credential_time(now_ms()),
            body: Body::Credential(CredentialBody {
                subject,
                replaces: None,
            }),
        }
        .sign(&self.key)
        .map_err(|e| BackendError::caused("the authority could not sign a credential", e))?;
        let item = CommitItem {
            log: self.me(),
            event: credential.clone(),
            consume_invitation: Some(invitation),
        };
        let committed = self.commit(vec![item]).await?;
        Ok(self
            .receipts(committed)
            .into_iter()
            .next()
            .unwrap_or_else(|| Err(Refusal::new(Code::Internal, "no answer")))
            .map(|receipt| (credential, receipt)))
    }

    fn event(&self, id: &EventId) -> Result<Option<StoredEvent>, BackendError> {
        let Some((log, index)) = self.storage.position(id).map_err(store_failed)? else {
            return Ok(None);
        };
        let bytes = self.storage.entry(&log, index).map_err(store_failed)?;
        Ok(bytes.map(|bytes| StoredEvent { log, index, bytes }))
    }

    fn latest_head(&self, log: &PublicKey) -> Result<Option<SignedTreeHead>, BackendError> {
        self.storage.latest_head(log).map_err(store_failed)
    }

    fn entries(&self, log: &PublicKey, start: u64, end: u64) -> Result<Vec<Vec<u8>>, BackendError> {
        self.storage.entries(log, start, end).map_err(store_failed)
    }

    fn inclusion_proof(
        &self,
        log: &PublicKey,
        index: u64,
        size: u64,
    ) -> Result<Option<Vec<Hash>>, BackendError> {
        if index >= size || size > self.storage.log_size(log) {
            return Ok(None);
        }
        self.storage
            .inclusion_proof(log, index, size)
            .map(Some)
            .map_err(store_failed)
    }

    fn consistency_proof(
        &self,
        log: &PublicKey,
        from: u64,
        to: u64,
    ) -> Result<Option<Vec<Hash>>, BackendError> {
        if from == 0 || from > to || to > self.storage.log_size(log) {
            return Ok(None);
        }
        self.storage
            .consistency_proof(log, from, to)
            .map(Some)
            .map_err(store_failed)
    }

    fn log_size(&self, log: &PublicKey) -> Result<u64, BackendError> {
        Ok(self.storage.log_size(log))
    }

    fn consultations(&self) -> Result<Vec<ConsultationView>, BackendError> {
        self.storage.consultations().map_err(store_failed)
    }

    fn consultation(&self, id: &EventId) -> Result<Option<ConsultationView>, BackendError> {
        Ok(self.storage.consultation(id))
    }

    fn closing(
        &self,
        log: &PublicKey,
        consultation: &EventId,
    ) -> Result<Option<(u64, Hash)>, BackendError> {
        Ok(self.storage.closing(log, consultation))
    }

    fn discussion(
        &self,
        consultation: &EventId,
    ) -> Result<Option<(ConsultationView, Vec<Member>)>, BackendError> {
        let Some(view) = self.storage.consultation(consultation) else {
            return Ok(None);
        };
        let mut members = Vec::new();
        for id in self.storage.members(consultation).map_err(store_failed)? {
            let event = self
                .event(&id)?
                .ok_or_else(|| BackendError::new(format!("indexed event {id} is missing")))?;
            let moderation = self.storage.moderation(&id).map_err(store_failed)?;
            members.push(Member { event, moderation });
        }
        Ok(Some((view, members)))
    }

    fn count(
        &self,
        consultation: &EventId,
    ) -> Result<Option<(ConsultationView, std::sync::Arc<Counted>)>, BackendError> {
        self.storage.count(consultation).map_err(store_failed)
    }

    fn cosignatures(&self, log: &PublicKey) -> Result<Vec<Cosignature>, BackendError> {
        self.storage.cosignatures(log).map_err(store_failed)
    }

    fn cosignatures_after(
        &self,
        log: &PublicKey,
        after: Option<(u64, PublicKey, palabre_core::ids::Hash)>,
        limit: usize,
    ) -> Result<Vec<Cosignature>, BackendError> {
        self.storage
            .cosignatures_after(log, after, limit)
            .map_err(store_failed)
    }

    fn evidence(&self) -> Result<Vec<Equivocation>, BackendError> {
        self.storage.evidence().map_err(store_failed)
    }

    fn moderation_log(&self) -> Result<Vec<StoredEvent>, BackendError> {
        let mut out = Vec::new();
        for (log, index) in self.storage.moderation_log().map_err(store_failed)? {
            let bytes = self
                .storage
                .entry(&log, index)
                .map_err(store_failed)?
                .ok_or_else(|| {
                    BackendError::new(format!("indexed moderation {log}/{index} is missing"))
                })?;
            out.push(StoredEvent { log, index, bytes });
        }
        Ok(out)
    }

    fn now_ms(&self) -> u64 {
        now_ms()
    }

    fn declares_encryption_key(&self, authority: &PublicKey) -> Result<bool, BackendError> {
        Ok(self.storage.encryption_key(authority).is_some())
    }

    fn ceremony(
        &self,
        consultation: &ConsultationView,
    ) -> Result<Option<palabre_web::trust::Ceremony>, BackendError> {
        Ok(palabre_web::trust::ceremony_of(
            &*self.storage,
            consultation,
            now_ms(),
        ))
    }

    fn opening(
        &self,
        consultation: &ConsultationView,
    ) -> Result<Option<palabre_web::opening::Opening>, BackendError> {
        Ok(palabre_web::opening::opening_of(
            &*self.storage,
            consultation,
            self.storage.result_id(&consultation.id),
        ))
    }

    fn metrics(&self) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = self.writer.stats();
        let mut out = String::new();
        out.push_str(
            "# HELP palabre_log_size Entries in this node's log.\n# TYPE palabre_log_size gauge\n",
        );
        out.push_str(&format!(
            "palabre_log_size{{authority=\"{}\"}} {}\n",
            self.me(),
            self.storage.log_size(&self.me())
        ));
        out.push_str("# HELP palabre_group_commit_size Items per durable commit.\n# TYPE palabre_group_commit_size histogram\n");
        let mut cumulative = 0;
        for (bound, n) in GROUP_BUCKETS.iter().zip(stats.buckets.iter()) {
            cumulative += n.load(Relaxed);
            out.push_str(&format!(
                "palabre_group_commit_size_bucket{{le=\"{bound}\"}} {cumulative}\n"
            ));
        }
        out.push_str(&format!(
            "palabre_group_commit_size_bucket{{le=\"+Inf\"}} {cumulative}\n"
        ));
        out.push_str(&format!(
            "palabre_group_commit_size_sum {}\n",
            stats.n_items.load(Relaxed)
        ));
        out.push_str(&format!(
            "palabre_group_commit_size_count {}\n",
            stats.n_commits.load(Relaxed)
        ));
        out.push_str(&format!(
            "# HELP palabre_store_entries_read_total Log entries read from the store since start (pages, counts, sync, audit).\n\
             # TYPE palabre_store_entries_read_total counter\n\
             palabre_store_entries_read_total {}\n",
            self.storage.entries_read()
        ));
        out.push_str(&self.federation.metrics());
        out.push_str(&self.staff_actions.metrics());
        out.push_str(&palabre_web::staff::metrics(self));
        out
    }
}
