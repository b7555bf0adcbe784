//! What a commit writes for each entry it appends: the entry itself, the Merkle nodes it
//! completes, and the indexes core's `Record` reads back (`view.rs`), the same effects as
//! core's `Ledger::apply`. Everything goes into a commit's [`Pending`] writes.
//!
//! Admission is core's and has happened before; the transaction that puts the writes on
//! disk is `sled_storage.rs`'s.

use std::collections::HashMap;
use std::sync::Mutex;

use palabre_core::admission::acts_for;
use palabre_core::crypto::PublicKey;
use palabre_core::event::{
    ArgumentBody, Body, CheckpointBody, CredentialBody, Kind, ModerationAction, ModerationBody,
    ProposalBody, RevocationBody, SignedEvent, StaffBody,
};
use palabre_core::ids::EventId;
use palabre_core::merkle;
use palabre_core::purge::PurgedEntry;
use palabre_core::record::Record;
use palabre_core::secret::admit::{self as secret_admission, Summary};
use palabre_core::view::CredentialStatus;

use crate::trees::*;
use crate::view::{Pending, View};

/// Records an admitted event in `pending`: the entry, its Merkle nodes, and the indexes
/// (the same effects as core's `Ledger::apply`).
pub(crate) fn append(
    view_trees: &[sled::Tree; N_TREES],
    sizes: &Mutex<HashMap<PublicKey, u64>>,
    pending: &mut Pending,
    log: &PublicKey,
    event: &SignedEvent,
) -> u64 {
    let id = event.id();
    let index = push_entry(view_trees, sizes, pending, log, id, event.bytes());
    let mut ix = Indexing {
        trees: view_trees,
        sizes,
        pending,
        log,
        id,
        index,
    };
    let from_log = event.author() == log;
    let for_log = acts_for(
        || ix.view().staff(log, event.author()),
        log,
        event.author(),
        event.kind(),
    );
    match event.body() {
        Body::Authority(b) if from_log => {
            let key = b.encryption_key.map_or(Vec::new(), |k| {
                palabre_core::group::point_bytes(&k.0).to_vec()
            });
            ix.pending.put(T::DECLARED, log.as_bytes().to_vec(), key);
        }
        Body::Staff(b) if from_log => ix.staff(b),
        Body::Credential(b) if for_log => ix.credential(b),
        Body::Revocation(b) if for_log => ix.revocation(b),
        Body::Consultation(b) => {
            let json = serde_json::to_vec(&**b).expect("a consultation body serializes to JSON");
            // The organiser is the log's authority, whoever of its staff signed it.
            ix.pending.put(
                T::CONSULTATION,
                id.0.as_bytes().to_vec(),
                cat(&[log.as_bytes(), &json]),
            );
        }
        Body::Proposal(b) => ix.proposal(event.author(), b),
        Body::Argument(b) => ix.argument(event.author(), b),
        Body::Moderation(b) if for_log => ix.moderation(b),
        Body::Checkpoint(b) if from_log => ix.checkpoint(b),
        Body::Result(b) => ix.result(&b.consultation),
        Body::SealedResult(b) => ix.result(&b.consultation),
        _ => {}
    }
    if let Some((consultation, summary)) = secret_admission::about(event.body()) {
        let summary = match summary {
            Summary::Plain => Vec::new(),
            Summary::ElectionKey(y) => palabre_core::group::point_bytes(&y).to_vec(),
            Summary::Layout(n) => n.to_be_bytes().to_vec(),
        };
        ix.pending.put(
            T::SECRET,
            cat(&[
                consultation.0.as_bytes(),
                &[kind_byte(event.kind())],
                id.0.as_bytes(),
            ]),
            cat(&[log.as_bytes(), &summary]),
        );
    }
    if !matches!(event.kind(), Kind::Proposal | Kind::Argument) {
        ix.pending.put(
            T::TARGET,
            id.0.as_bytes().to_vec(),
            target_value(event.kind(), None),
        );
    }
    index
}

/// The `eventid_target` value: kind ‖ consultation (when known).
fn target_value(kind: Kind, consultation: Option<EventId>) -> Vec<u8> {
    let mut v = vec![kind_byte(kind)];
    if let Some(c) = consultation {
        v.extend_from_slice(c.0.as_bytes());
    }
    v
}

/// The indexes of one event being appended at `index` of `log`.
struct Indexing<'a> {
    trees: &'a [sled::Tree; N_TREES],
    sizes: &'a Mutex<HashMap<PublicKey, u64>>,
    pending: &'a mut Pending,
    log: &'a PublicKey,
    id: EventId,
    index: u64,
}

impl Indexing<'_> {
    fn view(&self) -> View<'_> {
        View {
            trees: self.trees,
            pending: self.pending,
            sizes: self.sizes,
            openings: None,
        }
    }

    fn staff(&mut self, b: &StaffBody) {
        let key = cat(&[self.log.as_bytes(), b.subject.as_bytes()]);
        let role = if b.active {
            role_byte(b.role)
        } else {
            DISMISSED
        };
        self.pending.put(T::STAFF, key, vec![role]);
    }

    fn credential(&mut self, b: &CredentialBody) {
        let log = self.log;
        let mut first_key = b.subject;
        if let Some(old) = b.replaces {
            let key = cat(&[log.as_bytes(), old.as_bytes()]);
            if let Some(state) = self.view().credential(log, &old) {
                first_key = state.voter.first_key;
                self.pending.put(
                    T::CREDENTIAL,
                    key,
                    cat(&[first_key.as_bytes(), &[REPLACED]]),
                );
            }
        }
        self.pending.put(
            T::CREDENTIAL,
            cat(&[log.as_bytes(), b.subject.as_bytes()]),
            cat(&[first_key.as_bytes(), &[ACTIVE]]),
        );
    }

    fn revocation(&mut self, b: &RevocationBody) {
        let log = self.log;
        if let Some(state) = self.view().credential(log, &b.subject)
            && state.status == CredentialStatus::Active
        {
            let v = cat(&[state.voter.first_key.as_bytes(), &[REVOKED]]);
            self.pending.put(
                T::CREDENTIAL,
                cat(&[log.as_bytes(), b.subject.as_bytes()]),
                v,
            );
        }
    }

    fn proposal(&mut self, author: &PublicKey, b: &ProposalBody) {
        let id = self.id;
        self.pending.put(
            T::PROPOSAL,
            id.0.as_bytes().to_vec(),
            proposal_view(author, &b.consultation, b.cost),
        );
        self.pending.put(
            T::TARGET,
            id.0.as_bytes().to_vec(),
            target_value(Kind::Proposal, Some(b.consultation)),
        );
        self.pending.put(
            T::MEMBER,
            cat(&[b.consultation.0.as_bytes(), id.0.as_bytes()]),
            vec![kind_byte(Kind::Proposal)],
        );
        count_authored(
            self.trees,
            self.sizes,
            self.pending,
            self.log,
            &b.consultation,
            Kind::Proposal,
            author,
        );
    }

    fn argument(&mut self, author: &PublicKey, b: &ArgumentBody) {
        let id = self.id;
        let consultation = self.view().proposal(&b.proposal).map(|p| p.consultation);
        self.pending.put(
            T::TARGET,
            id.0.as_bytes().to_vec(),
            target_value(Kind::Argument, consultation),
        );
        if let Some(c) = consultation {
            self.pending.put(
                T::MEMBER,
                cat(&[c.0.as_bytes(), id.0.as_bytes()]),
                vec![kind_byte(Kind::Argument)],
            );
            count_authored(
                self.trees,
                self.sizes,
                self.pending,
                self.log,
                &c,
                Kind::Argument,
                author,
            );
        }
    }

    fn moderation(&mut self, b: &ModerationBody) {
        let log = self.log;
        self.pending
            .put(T::MODLOG, log_key(log, self.index), Vec::new());
        let view = self.view();
        // A purge is final: what a replay accepts after it changes nothing.
        if view.moderated(log, &b.target) != Some(ModerationAction::Purge) {
            let at = view.get(T::POSITION, b.target.0.as_bytes());
            self.pending.put(
                T::MODERATION,
                cat(&[b.target.0.as_bytes(), log.as_bytes()]),
                cat(&[&[action_byte(b.action)], self.id.0.as_bytes()]),
            );
            // The purged entry's place takes the tombstone (same leaf hash, so no
            // Merkle node changes).
            if let (Some(t), Some(at)) = (&b.tombstone, at)
                && at.starts_with(log.as_bytes())
            {
                self.pending.put(T::EVENT, at, t.to_bytes());
            }
        }
    }

    fn checkpoint(&mut self, b: &CheckpointBody) {
        let log = self.log;
        let key = cat(&[log.as_bytes(), b.consultation.0.as_bytes()]);
        if self.view().closing(log, &b.consultation).is_none() {
            self.pending.put(
                T::CLOSING,
                key,
                cat(&[&b.size.to_be_bytes(), b.root.as_bytes()]),
            );
        }
    }

    /// The first `result` of a consultation (public or sealed) is its result.
    fn result(&mut self, consultation: &EventId) {
        if !self.view().has_result(consultation) {
            self.pending.put(
                T::RESULT,
                consultation.0.as_bytes().to_vec(),
                self.id.0.as_bytes().to_vec(),
            );
        }
    }
}

/// Records a tombstone received in a purged entry's place (its signature checked by the
/// caller): the entry, its Merkle nodes, and the indexes the purged event had.
pub(crate) fn append_purged(
    view_trees: &[sled::Tree; N_TREES],
    sizes: &Mutex<HashMap<PublicKey, u64>>,
    pending: &mut Pending,
    log: &PublicKey,
    purged: &PurgedEntry,
) -> u64 {
    let t = purged.body();
    let index = push_entry(view_trees, sizes, pending, log, t.id, purged.bytes());
    let id = t.id.0.as_bytes().to_vec();
    if t.kind == Kind::Proposal {
        pending.put(
            T::PROPOSAL,
            id.clone(),
            proposal_view(&t.author, &t.consultation, t.cost),
        );
    }
    pending.put(
        T::TARGET,
        id.clone(),
        cat(&[&[kind_byte(t.kind)], t.consultation.0.as_bytes()]),
    );
    pending.put(
        T::MEMBER,
        cat(&[t.consultation.0.as_bytes(), &id]),
        vec![kind_byte(t.kind)],
    );
    count_authored(
        view_trees,
        sizes,
        pending,
        log,
        &t.consultation,
        t.kind,
        &t.author,
    );
    index
}

/// Adds one to `author`'s count of `kind` about `consultation` in `log` (quotas).
fn count_authored(
    view_trees: &[sled::Tree; N_TREES],
    sizes: &Mutex<HashMap<PublicKey, u64>>,
    pending: &mut Pending,
    log: &PublicKey,
    consultation: &EventId,
    kind: Kind,
    author: &PublicKey,
) {
    let n = View {
        trees: view_trees,
        pending,
        sizes,
        openings: None,
    }
    .n_authored(log, consultation, kind, author);
    pending.put(
        T::AUTHORED,
        authored_key(log, consultation, kind, author),
        (n + 1).to_be_bytes().to_vec(),
    );
}

/// Writes the entry at the end of `log` with its position, and the Merkle nodes it
/// completes; returns its index.
fn push_entry(
    view_trees: &[sled::Tree; N_TREES],
    sizes: &Mutex<HashMap<PublicKey, u64>>,
    pending: &mut Pending,
    log: &PublicKey,
    id: EventId,
    bytes: &[u8],
) -> u64 {
    let index = View {
        trees: view_trees,
        pending,
        sizes,
        openings: None,
    }
    .size(log);
    pending.put(T::EVENT, log_key(log, index), bytes.to_vec());
    // Climb from the new leaf while it completes a perfect subtree, storing the ones
    // high enough to be kept.
    let (mut level, mut i) = (0u32, index);
    while i % 2 == 1 {
        level += 1;
        i /= 2;
        if level >= STORED_LEVEL {
            let view = View {
                trees: view_trees,
                pending,
                sizes,
                openings: None,
            };
            let h = merkle::node_hash(
                &view.node(log, level - 1, 2 * i),
                &view.node(log, level - 1, 2 * i + 1),
            );
            pending.put(T::NODE, node_key(log, level, i), h.0.to_vec());
        }
    }
    pending.put(T::POSITION, id.0.as_bytes().to_vec(), log_key(log, index));
    pending.sizes.insert(*log, index + 1);
    index
}

/// The key in `logconsultationkindauthor_count` that says its counts are complete: a
/// store written before quotas existed has none, and is counted once when opened.
const AUTHORED_COUNTED: &[u8] = b"counted";

/// Counts, once, the proposals and arguments of every log of a store written before the
/// quota counts existed (from the entries and tombstones on disk, as commits count
/// them), then marks them complete; a store with the mark is left as it is.
pub(crate) fn count_authored_once(trees: &[sled::Tree; N_TREES]) -> Result<(), sled::Error> {
    let counts_tree = &trees[T::AUTHORED];
    if counts_tree.get(AUTHORED_COUNTED)?.is_some() {
        return Ok(());
    }
    let mut counts: HashMap<Vec<u8>, u64> = HashMap::new();
    for kv in trees[T::EVENT].iter() {
        let (k, v) = kv?;
        let Some(log) = key32(&k).and_then(|b| PublicKey::from_bytes(&b).ok()) else {
            continue;
        };
        let Ok(entry) = palabre_core::purge::Entry::stored(v.to_vec()) else {
            continue;
        };
        let (consultation, kind, author) = match &entry {
            palabre_core::purge::Entry::Event(e) => match e.body() {
                Body::Proposal(b) => (b.consultation, Kind::Proposal, *e.author()),
                Body::Argument(_) => {
                    // The consultation its commit found (none if the proposal was not
                    // known then: not counted, as commits do).
                    let target = trees[T::TARGET].get(e.id().0.as_bytes())?;
                    match target.as_deref().and_then(|t| t.get(1..)).and_then(key32) {
                        Some(c) => (
                            EventId(palabre_core::ids::Hash(c)),
                            Kind::Argument,
                            *e.author(),
                        ),
                        None => continue,
                    }
                }
                _ => continue,
            },
            palabre_core::purge::Entry::Purged(p) => {
                let t = p.body();
                (t.consultation, t.kind, t.author)
            }
        };
        *counts
            .entry(authored_key(&log, &consultation, kind, &author))
            .or_default() += 1;
    }
    let mut batch = sled::Batch::default();
    for (k, n) in counts {
        batch.insert(k, n.to_be_bytes().to_vec());
    }
    batch.insert(AUTHORED_COUNTED, Vec::new());
    counts_tree.apply_batch(batch)
}
