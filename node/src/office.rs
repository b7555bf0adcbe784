//! The node's side of the staff pages (`palabre_web::staff::Office`): the town hall's
//! records and invitation codes in the store, appointments signed with the authority
//! key, and the settings the pages print (`backend::OfficeSettings`). Staff actions are
//! counted for `/metrics` in `metrics::StaffActions`.

use palabre_core::event::{Body, Event, SignedEvent, Tombstone, TombstoneBody};
use palabre_core::head::Receipt;
use palabre_core::ids::EventId;
use palabre_core::ids::Hash;
use palabre_core::purge::Entry;
use palabre_core::record::Record;
use palabre_store::{CommitItem, InvitationStatus, Moderated, Storage};
use palabre_web::staff::{Counts, Office};
use palabre_web::{BackendError, Code, Refusal};

use crate::backend::{NodeBackend, store_failed};

impl Office for NodeBackend {
    fn office_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.storage.office_get(ns, key).map_err(store_failed)
    }

    fn office_put(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), BackendError> {
        self.storage
            .office_put(ns, key, value)
            .map_err(store_failed)
    }

    fn office_take(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        self.storage.office_take(ns, key).map_err(store_failed)
    }

    fn office_scan(&self, ns: &str) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        self.storage.office_scan(ns).map_err(store_failed)
    }

    fn add_invitations(&self, hashes: &[Hash]) -> Result<u64, BackendError> {
        self.storage.add_invitations(hashes).map_err(store_failed)
    }

    fn revoke_invitations(&self, hashes: &[Hash]) -> Result<u64, BackendError> {
        self.storage
            .revoke_invitations(hashes)
            .map_err(store_failed)
    }

    fn invitation_counts(&self, hashes: Option<&[Hash]>) -> Result<Counts, BackendError> {
        let Some(hashes) = hashes else {
            let c = self.storage.invitation_counts().map_err(store_failed)?;
            return Ok(Counts {
                issued: c.issued,
                redeemed: c.redeemed,
                revoked: c.revoked,
            });
        };
        let mut counts = Counts::default();
        for h in hashes {
            match self.storage.invitation_status(h).map_err(store_failed)? {
                None => continue,
                Some(InvitationStatus::Used) => counts.redeemed += 1,
                Some(InvitationStatus::Revoked) => counts.revoked += 1,
                Some(InvitationStatus::Unused) => {}
            }
            counts.issued += 1;
        }
        Ok(counts)
    }

    async fn submit_consuming(
        &self,
        event: SignedEvent,
        code: Hash,
    ) -> Result<Result<Receipt, Refusal>, BackendError> {
        let item = CommitItem {
            log: self.key.public_key(),
            event,
            consume_invitation: Some(code),
        };
        let committed = self.commit(vec![item]).await?;
        Ok(self
            .receipts(committed)
            .pop()
            .unwrap_or_else(|| Err(Refusal::new(Code::Internal, "no answer"))))
    }

    fn sign_as_authority(&self, event: Event) -> Result<SignedEvent, BackendError> {
        event
            .sign(&self.key)
            .map_err(|e| BackendError::caused("the authority could not sign", e))
    }

    fn moderation_of(&self, target: &EventId) -> Result<Vec<Moderated>, BackendError> {
        self.storage.moderation(target).map_err(store_failed)
    }

    fn tombstone(&self, target: &EventId) -> Result<Option<Tombstone>, BackendError> {
        let Some((log, Entry::Event(event))) = self.storage.held(target) else {
            return Ok(None);
        };
        if log != self.me() {
            return Ok(None);
        }
        let consultation = match event.body() {
            Body::Proposal(p) => Some(p.consultation),
            Body::Argument(a) => self.storage.proposal(&a.proposal).map(|p| p.consultation),
            _ => None,
        };
        let Some(body) = consultation.and_then(|c| TombstoneBody::of(&event, c)) else {
            return Ok(None);
        };
        Tombstone::sign(body, &self.key)
            .map(Some)
            .map_err(|e| BackendError::caused("the authority could not sign a tombstone", e))
    }

    fn settings(&self) -> &palabre_web::staff::Settings {
        &self.office.staff
    }

    fn closing_state(&self, consultation: &palabre_core::ids::EventId) -> (bool, bool) {
        use palabre_core::record::Record;
        (
            self.storage
                .closing(&self.key.public_key(), consultation)
                .is_some(),
            self.storage.has_result(consultation),
        )
    }

    fn count_action(&self, action: &'static str) {
        self.staff_actions.count(action);
    }
}
