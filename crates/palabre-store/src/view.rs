//! The store read through a commit: [`View`] layers a commit's [`Pending`] writes over
//! the stored trees, so that core's `admit` runs unchanged against it and each item of a
//! batch sees the ones accepted before it.
//!
//! What the writes are is `indexes.rs`'s; putting them on disk is `sled_storage.rs`'s.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use palabre_core::crypto::PublicKey;
use palabre_core::event::{ConsultationBody, Kind, ModerationAction, SignedEvent, StaffRole};
use palabre_core::group::{self, RistrettoPoint};
use palabre_core::ids::{EventId, Hash};
use palabre_core::merkle::{self, Nodes};
use palabre_core::purge::{self, Entry};
use palabre_core::record::Record;
use palabre_core::secret::memo::Openings;
use palabre_core::view::{
    ConsultationView, CredentialState, CredentialStatus, ProposalView, VoterId,
};

use crate::trees::*;

/// The writes of a commit not yet on disk.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub(crate) writes: [BTreeMap<Vec<u8>, Vec<u8>>; N_TREES],
    pub(crate) sizes: HashMap<PublicKey, u64>,
}

/// The stored record, with pending writes layered over it.
pub(crate) struct View<'a> {
    pub(crate) trees: &'a [sled::Tree; N_TREES],
    pub(crate) pending: &'a Pending,
    pub(crate) sizes: &'a Mutex<HashMap<PublicKey, u64>>,
    /// The store's memo of L₀ and judged mixes, for the views admission reads.
    pub(crate) openings: Option<&'a Openings>,
}

impl View<'_> {
    pub(crate) fn get(&self, tree: usize, key: &[u8]) -> Option<Vec<u8>> {
        if let Some(v) = self.pending.writes[tree].get(key) {
            return Some(v.clone());
        }
        // A read error is reported as "absent"; the commit that follows hits the same
        // disk and fails loudly, so nothing is acknowledged on a failing store.
        self.trees[tree].get(key).ok().flatten().map(|v| v.to_vec())
    }

    pub(crate) fn size(&self, log: &PublicKey) -> u64 {
        if let Some(n) = self.pending.sizes.get(log) {
            return *n;
        }
        let cached = self
            .sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(log)
            .copied();
        if let Some(n) = cached {
            return n;
        }
        let n = self.trees[T::EVENT]
            .scan_prefix(log.as_bytes())
            .next_back()
            .and_then(|r| r.ok())
            .and_then(|(k, _)| read_u64(&k[32..]))
            .map_or(0, |last| last + 1);
        // A commit may have landed since the scan: its size wins over ours.
        *self
            .sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(*log)
            .or_insert(n)
    }

    /// The hash of a perfect subtree: stored from [`STORED_LEVEL`] up, recomputed from
    /// the entries below it (at most `2^STORED_LEVEL` of them).
    pub(crate) fn node(&self, log: &PublicKey, level: u32, index: u64) -> Hash {
        if level == 0 {
            return self
                .get(T::EVENT, &log_key(log, index))
                .map(|bytes| purge::stored_leaf(&bytes))
                .unwrap_or_default();
        }
        if level >= STORED_LEVEL {
            return self
                .get(T::NODE, &node_key(log, level, index))
                .and_then(|v| key32(&v))
                .map(Hash)
                .unwrap_or_default();
        }
        merkle::node_hash(
            &self.node(log, level - 1, 2 * index),
            &self.node(log, level - 1, 2 * index + 1),
        )
    }

    pub(crate) fn nodes(&self, log: PublicKey) -> LogNodes<'_> {
        LogNodes {
            view: self,
            log,
            size: self.size(&log),
        }
    }
}

pub(crate) struct LogNodes<'a> {
    view: &'a View<'a>,
    log: PublicKey,
    size: u64,
}

impl Nodes for LogNodes<'_> {
    fn size(&self) -> u64 {
        self.size
    }

    fn node(&self, level: u32, index: u64) -> Hash {
        self.view.node(&self.log, level, index)
    }
}

impl Record for View<'_> {
    fn staff(&self, authority: &PublicKey, key: &PublicKey) -> Option<StaffRole> {
        let v = self.get(T::STAFF, &cat(&[authority.as_bytes(), key.as_bytes()]))?;
        StaffRole::ALL.get(usize::from(*v.first()?)).copied()
    }

    fn contains(&self, id: &EventId) -> bool {
        self.get(T::POSITION, id.0.as_bytes()).is_some()
    }

    fn is_declared(&self, authority: &PublicKey) -> bool {
        self.get(T::DECLARED, authority.as_bytes()).is_some()
    }

    fn consultation(&self, id: &EventId) -> Option<ConsultationView> {
        let v = self.get(T::CONSULTATION, id.0.as_bytes())?;
        let organiser = PublicKey::from_bytes(&key32(&v)?).ok()?;
        let body: ConsultationBody = serde_json::from_slice(&v[32..]).ok()?;
        Some(ConsultationView {
            id: *id,
            organiser,
            body,
        })
    }

    fn proposal(&self, id: &EventId) -> Option<ProposalView> {
        let v = self.get(T::PROPOSAL, id.0.as_bytes())?;
        let author = PublicKey::from_bytes(&key32(&v)?).ok()?;
        let consultation = EventId(Hash(key32(v.get(32..)?)?));
        let cost = match v.get(64)? {
            1 => Some(read_u64(v.get(65..)?)?),
            _ => None,
        };
        Some(ProposalView {
            id: *id,
            author,
            consultation,
            cost,
        })
    }

    fn target(&self, id: &EventId) -> Option<(Kind, Option<EventId>)> {
        let v = self.get(T::TARGET, id.0.as_bytes())?;
        let kind = *Kind::ALL.get(*v.first()? as usize)?;
        let consultation = v.get(1..).and_then(key32).map(|b| EventId(Hash(b)));
        Some((kind, consultation))
    }

    fn credential(&self, issuer: &PublicKey, subject: &PublicKey) -> Option<CredentialState> {
        let v = self.get(
            T::CREDENTIAL,
            &cat(&[issuer.as_bytes(), subject.as_bytes()]),
        )?;
        let first_key = PublicKey::from_bytes(&key32(&v)?).ok()?;
        let status = match *v.get(32)? {
            REVOKED => CredentialStatus::Revoked,
            REPLACED => CredentialStatus::Replaced,
            _ => CredentialStatus::Active,
        };
        Some(CredentialState {
            voter: VoterId {
                issuer: *issuer,
                first_key,
            },
            status,
        })
    }

    fn closing(&self, authority: &PublicKey, consultation: &EventId) -> Option<(u64, Hash)> {
        let v = self.get(
            T::CLOSING,
            &cat(&[authority.as_bytes(), consultation.0.as_bytes()]),
        )?;
        Some((read_u64(&v)?, Hash(key32(v.get(8..)?)?)))
    }

    fn has_result(&self, consultation: &EventId) -> bool {
        self.get(T::RESULT, consultation.0.as_bytes()).is_some()
    }

    fn log_size(&self, authority: &PublicKey) -> u64 {
        self.size(authority)
    }

    fn root_at(&self, authority: &PublicKey, size: u64) -> Option<Hash> {
        merkle::root_at(&self.nodes(*authority), size).ok()
    }

    fn held(&self, id: &EventId) -> Option<(PublicKey, Entry)> {
        let at = self.get(T::POSITION, id.0.as_bytes())?;
        let log = PublicKey::from_bytes(&key32(&at)?).ok()?;
        let bytes = self.get(T::EVENT, &at)?;
        Some((log, Entry::stored(bytes).ok()?))
    }

    fn encryption_key(&self, authority: &PublicKey) -> Option<RistrettoPoint> {
        let v = self.get(T::DECLARED, authority.as_bytes())?;
        group::point_from_bytes(&key32(&v)?).ok()
    }

    fn secret_events(&self, consultation: &EventId, kind: Kind) -> Vec<(PublicKey, SignedEvent)> {
        self.secret_index(consultation, kind)
            .into_iter()
            .filter_map(|(id, _)| match self.held(&id)? {
                (log, Entry::Event(e)) => Some((log, e)),
                _ => None,
            })
            .collect()
    }

    fn election_key(&self, consultation: &EventId) -> Option<(EventId, RistrettoPoint)> {
        let (id, v) = self
            .secret_index(consultation, Kind::ElectionKey)
            .into_iter()
            .next()?;
        let y = group::point_from_bytes(&key32(v.get(32..)?)?).ok()?;
        Some((id, y))
    }

    fn layout(&self, consultation: &EventId) -> Option<(EventId, u64)> {
        let (id, v) = self
            .secret_index(consultation, Kind::BallotLayout)
            .into_iter()
            .next()?;
        Some((id, read_u64(v.get(32..)?)?))
    }

    fn moderated(&self, authority: &PublicKey, target: &EventId) -> Option<ModerationAction> {
        let v = self.get(
            T::MODERATION,
            &cat(&[target.0.as_bytes(), authority.as_bytes()]),
        )?;
        action_of(*v.first()?)
    }

    fn counted_sealed(
        &self,
        c: &ConsultationView,
    ) -> Option<Vec<palabre_core::event::secret::Sealed>> {
        crate::counted_sealed(self, c, |log, start, end| Ok(self.entries(log, start, end)))
    }
    fn openings(&self) -> Option<&Openings> {
        self.openings
    }
    fn n_authored(
        &self,
        log: &PublicKey,
        consultation: &EventId,
        kind: Kind,
        author: &PublicKey,
    ) -> u64 {
        self.get(T::AUTHORED, &authored_key(log, consultation, kind, author))
            .and_then(|v| read_u64(&v))
            .unwrap_or(0)
    }
}

impl View<'_> {
    /// The entries `start .. end` of `log`, pending ones included.
    fn entries(&self, log: &PublicKey, start: u64, end: u64) -> Vec<Vec<u8>> {
        (start..end)
            .map_while(|i| self.get(T::EVENT, &log_key(log, i)))
            .collect()
    }

    /// The `consultationkind_secret` rows of `consultation` and `kind`, pending ones
    /// included: (event id, value).
    fn secret_index(&self, consultation: &EventId, kind: Kind) -> Vec<(EventId, Vec<u8>)> {
        let prefix = cat(&[consultation.0.as_bytes(), &[kind_byte(kind)]]);
        let mut rows: BTreeMap<Vec<u8>, Vec<u8>> = self.trees[T::SECRET]
            .scan_prefix(&prefix)
            .filter_map(|r| r.ok())
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        for (k, v) in self.pending.writes[T::SECRET].range(prefix.clone()..) {
            if !k.starts_with(&prefix) {
                break;
            }
            rows.insert(k.clone(), v.clone());
        }
        rows.into_iter()
            .filter_map(|(k, v)| Some((EventId(Hash(key32(k.get(33..)?)?)), v)))
            .collect()
    }
}

impl Pending {
    pub(crate) fn put(&mut self, tree: usize, key: Vec<u8>, value: Vec<u8>) {
        self.writes[tree].insert(key, value);
    }
}
