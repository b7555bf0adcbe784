//! The replication protocol as a state machine: inputs (a peer came or went, a message
//! arrived, time passed, our own log grew) in, actions (send this to that peer, a
//! replica grew, an equivocation was proven, a peer misbehaved) out. No IO, no clock, no
//! randomness: the libp2p shell only moves bytes, and a seeded simulation drives the
//! very same code through lossy, duplicating, reordering networks.
//!
//! Gossip is best effort, so correctness rests on signed heads and range sync: every
//! tick, each node tells each peer the latest signed head it holds of every federated
//! log; a node that sees a head larger than its replica asks that peer for the missing
//! entries, page by page, checks every entry (decoding and signature, by core), and
//! appends them only once they hash to the signed root. A head that contradicts what a
//! node already holds under another signed head of the same log is an equivocation: the
//! proof goes out to the node and to every peer, who check it alone and pass it on.
//! Witness cosignatures travel the same way: the node cosigns (the state machine holds no
//! key), the state machine sends them to every peer, and checks the ones it receives.
//!
//! A node that lost its store gathers back what its neighbours witnessed (`Input::Gather`):
//! it asks each federated peer, page by page, for every cosignature and proof of
//! equivocation it keeps of every federated log, checks each, and asks for the next page
//! only once the node says it kept the last (`Input::Kept`). The state machine keeps none
//! of that itself: a peer's request for it goes out to the node (`Output::Lookup`), which
//! answers from its store (`Input::Answer`).

mod check;
mod flood;
mod gather;
mod logs;
mod sync;
mod wire;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use check::{InOrder, Verdict, Verifier, entry_holds};
pub use gather::GatherProgress;
use gather::{Gathering, Stage};
pub use logs::Logs;
use palabre_core::crypto::PublicKey;
pub use palabre_core::head::Equivocation;
use palabre_core::head::{Cosignature, SignedTreeHead};
use palabre_core::ids::Hash;
use palabre_core::merkle;
use palabre_core::purge;
pub use wire::{CosignatureKey, TOPIC_COSIGNATURES, TOPIC_EVIDENCE, TOPIC_HEADS, Want, Wire};

/// A peer, as the shell numbers them.
pub type PeerId = u64;

/// Entries per sync page.
pub const MAX_SYNC_PAGE_ENTRIES: u64 = 2_048;
/// Bytes of entries per sync page (a page holds at least one entry, at most 64 KiB).
pub const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;
/// How long a sync request may go unanswered before another peer is asked.
pub const REQUEST_TIMEOUT_MS: u64 = 2_000;
/// Entries held while catching up, before they can be checked against a signed root.
pub const MAX_PENDING_ENTRIES: usize = 1_000_000;
/// Entries held pending, catching up to a far head, before their prefix is proven
/// consistent with it (a consistency proof from the holder) and kept: a fresh node
/// stores a long log as it goes, and holds at most this many unproven entries.
pub const PROVE_EVERY: usize = 65_536;
/// Entries fetched and checked that the node has not said it stored ([`Input::Written`]),
/// per log, beyond which no more is fetched: with the pending ones ([`PROVE_EVERY`]) and
/// a page, all a replica holds in memory.
pub const MAX_UNSTORED: usize = 16_384;
/// Cosignatures and evidence remembered as seen, so a flood stops (oldest forgotten first).
pub const MAX_SEEN: usize = 65_536;
/// Cosignatures re-sent to every peer that connects (closing heads: they must not be lost).
pub const MAX_STICKY: usize = 4_096;
/// Cosignatures per `cosignatures` answer (each under 500 bytes of JSON).
pub const MAX_PAGE_COSIGNATURES: usize = 1_024;
/// Proofs of equivocation per `evidence_list` answer (each under 8 KiB of JSON).
pub const MAX_PAGE_EVIDENCE: usize = 32;
/// How long a gathered page may wait for the node to keep it before it is asked again.
pub const KEEP_TIMEOUT_MS: u64 = 10_000;
/// Unanswered gathering requests in a row after which a peer is given up on.
pub const MAX_GATHER_RETRIES: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Connected(PeerId),
    Disconnected(PeerId),
    /// A peer proved it speaks for `authority` (its hello checked by the shell).
    Authenticated {
        peer: PeerId,
        authority: PublicKey,
    },
    Received {
        from: PeerId,
        wire: Wire,
    },
    Tick,
    /// A message relayed on gossip by `from` (validated with [`Node::check`]).
    Gossip {
        from: PeerId,
        wire: Wire,
    },
    /// A log grew by entries checked elsewhere, from index `start`: this node's own log
    /// (it signs its heads itself), or a log read back from the node's store at start.
    /// Entries already held are skipped (sync may have fetched them meanwhile).
    Appended {
        head: SignedTreeHead,
        start: u64,
        entries: Vec<Vec<u8>>,
    },
    /// The node's store now holds the first `size` entries of `authority`'s log: the
    /// entries fetched up to there are no longer kept here (they are read from the
    /// store), and more may be fetched.
    Written {
        authority: PublicKey,
        size: u64,
    },
    /// Entry `index` of a log, held, was purged: `entry` is its tombstone, checked
    /// elsewhere. Kept only if it has the same leaf hash as the entry it replaces.
    Purged {
        authority: PublicKey,
        index: u64,
        entry: Vec<u8>,
    },
    /// This node (as a witness) cosigned a head; `sticky` ones (closing heads) are sent
    /// again to every peer that connects.
    Cosigned {
        cosignature: Cosignature,
        sticky: bool,
    },
    /// This node lost its store: gather from every federated peer, now and as each
    /// proves who it speaks for, every cosignature and proof of equivocation it keeps of
    /// the federated logs (see [`Node::gathering`]).
    Gather,
    /// The node kept the last page gathered from `peer` ([`Output::Gathered`]).
    Kept {
        peer: PeerId,
    },
    /// The node's answer to an [`Output::Lookup`] of `to`, to send as is.
    Answer {
        to: PeerId,
        wire: Wire,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send {
        to: PeerId,
        wire: Wire,
    },
    /// A message for every node of the federation: the shell publishes it on gossipsub
    /// (heads, cosignatures, evidence), which relays it past peers not connected here.
    Publish(Wire),
    /// A replica now holds `size` entries, all checked: the node reads those it has
    /// not stored with [`Node::range`], stores them, and says so ([`Input::Written`]).
    Stored {
        authority: PublicKey,
        size: u64,
    },
    /// An equivocation, found here or received from a peer, and checked.
    Evidence(Equivocation),
    /// A peer's cosignature of a federated log's head, checked.
    Cosignature(Cosignature),
    /// A peer sent something invalid; the shell lowers its score.
    Penalise {
        peer: PeerId,
        reason: &'static str,
    },
    /// A federated peer asks for what the node keeps in its store: the node reads it and
    /// answers with [`Input::Answer`] (`cosignatures` or `evidence_list`).
    Lookup {
        peer: PeerId,
        want: Want,
    },
    /// A page gathered from `peer`, every item checked: the node keeps them all, then
    /// says so ([`Input::Kept`]) — only then is the next page asked.
    Gathered {
        peer: PeerId,
        cosignatures: Vec<Cosignature>,
        evidence: Vec<Equivocation>,
    },
}

/// One log as this node holds it: entries checked up to a signed head, in the node's
/// store but for the last few (`unstored`).
#[derive(Debug, Default)]
struct Replica {
    /// Entries held, all checked.
    size: u64,
    /// The last entries held, checked, that the node has not stored yet, in order.
    unstored: VecDeque<Vec<u8>>,
    /// The right edge of the tree of the entries held: the root after pending entries,
    /// in O(log n).
    frontier: merkle::Frontier,
    /// The right edge of the tree of the entries the store holds (before `unstored`).
    stored_frontier: merkle::Frontier,
    /// Signed heads larger than `size` heard of (bounded): a page that ends at one
    /// of them is kept at once, rather than when the latest target is reached — under
    /// a steady stream of new heads the target keeps moving.
    waypoints: BTreeMap<u64, SignedTreeHead>,
    /// The size of the last head of this log published on gossip.
    published: Option<u64>,
    /// A signed head the entries held are proven a prefix of, while no signed head of
    /// their exact size is known.
    ahead: Option<SignedTreeHead>,
    /// An unanswered consistency request: (peer, from, deadline).
    proving: Option<(PeerId, u64, u64)>,
    /// The largest signed head known to match the entries held (or to be ahead of them).
    head: Option<SignedTreeHead>,
    /// Entries received beyond those held, waiting to reach `target`'s size.
    pending: Vec<Vec<u8>>,
    /// The head being caught up to, and who announced it.
    target: Option<(SignedTreeHead, PeerId)>,
    /// An unanswered request: (peer, start, deadline).
    asked: Option<(PeerId, u64, u64)>,
    /// Peers that announced a head at least as large as the target.
    holders: BTreeSet<PeerId>,
}

/// Heads remembered ahead of a replica.
pub const MAX_WAYPOINTS: usize = 1_024;

impl Replica {
    fn size(&self) -> u64 {
        self.size
    }

    /// Entries the store holds (as the node said).
    fn stored(&self) -> u64 {
        self.size - self.unstored.len() as u64
    }

    /// An entry fetched and checked here, for the node to store.
    fn push(&mut self, entry: Vec<u8>) {
        self.frontier.push(purge::stored_leaf(&entry));
        self.unstored.push_back(entry);
        self.size += 1;
    }

    /// An entry the store holds already (this node's own, or read back at start).
    fn push_stored(&mut self, entry: &[u8]) {
        if !self.unstored.is_empty() {
            // The store holds more than was fetched: what was fetched is in it too.
            self.stored_frontier = self.frontier.clone();
            self.unstored.clear();
        }
        let leaf = purge::stored_leaf(entry);
        self.frontier.push(leaf);
        self.stored_frontier.push(leaf);
        self.size += 1;
    }

    /// The store now holds `size` entries: those are no longer kept here.
    fn written(&mut self, size: u64) {
        while self.stored() < size {
            let Some(e) = self.unstored.pop_front() else {
                break;
            };
            self.stored_frontier.push(purge::stored_leaf(&e));
        }
    }

    /// The root of the first `size` entries held.
    fn root_at(&self, logs: &dyn Logs, log: &PublicKey, size: u64) -> Option<Hash> {
        let stored = self.stored();
        if size > self.size {
            return None;
        }
        if size == self.size {
            return Some(self.frontier.root());
        }
        if size >= stored {
            let mut f = self.stored_frontier.clone();
            for e in self.unstored.iter().take((size - stored) as usize) {
                f.push(purge::stored_leaf(e));
            }
            return Some(f.root());
        }
        logs.root_at(log, size)
    }

    /// A consistency proof between two sizes the store holds.
    fn consistency_proof(
        &self,
        logs: &dyn Logs,
        log: &PublicKey,
        from: u64,
        to: u64,
    ) -> Option<Vec<Hash>> {
        if to > self.stored() {
            return None;
        }
        logs.consistency_proof(log, from, to)
    }

    /// Entries `start..end` held: from the store, then those not stored yet.
    fn page(&self, logs: &dyn Logs, log: &PublicKey, start: u64, end: u64) -> Vec<Vec<u8>> {
        let (stored, end) = (self.stored(), end.min(self.size));
        let mut page = if start < stored {
            logs.entries(log, start, end.min(stored))
        } else {
            Vec::new()
        };
        let next = start + page.len() as u64;
        if next >= stored && next < end {
            page.extend(
                self.unstored
                    .iter()
                    .skip((next - stored) as usize)
                    .take((end - next) as usize)
                    .cloned(),
            );
        }
        page
    }
}

#[derive(Debug)]
pub struct Node {
    federation: BTreeSet<PublicKey>,
    peers: BTreeSet<PeerId>,
    /// The authority each peer proved it speaks for.
    speaks_for: BTreeMap<PeerId, PublicKey>,
    logs: BTreeMap<PublicKey, Replica>,
    now_ms: u64,
    /// Hashes of cosignatures and evidence already seen, oldest first.
    seen: VecDeque<Hash>,
    seen_set: BTreeSet<Hash>,
    /// Sent again to every peer that connects.
    sticky: VecDeque<Wire>,
    /// See [`PROVE_EVERY`].
    prove_every: usize,
    /// Gathering what peers witnessed ([`Input::Gather`]), and from whom.
    gather: bool,
    gathered: BTreeMap<PeerId, Gathering>,
    /// The logs held, as the node's store holds them.
    logs_read: logs::Port,
    /// See [`MAX_UNSTORED`].
    max_unstored: usize,
    /// Checks the pages fetched (see [`Verifier`]).
    verifier: Box<dyn Verifier>,
}

/// How far this node holds a log, and how far it is catching up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub authority: PublicKey,
    /// Entries held, all checked.
    pub held: u64,
    /// The size of the largest head heard of that is not held yet.
    pub target: Option<u64>,
}

impl Node {
    /// A node for authority `me`, replicating the logs of `federation` (itself included
    /// or not: its own log is always kept), reading what it holds from `logs`.
    pub fn new(
        me: PublicKey,
        federation: impl IntoIterator<Item = PublicKey>,
        logs: Box<dyn Logs>,
    ) -> Node {
        let mut federation: BTreeSet<PublicKey> = federation.into_iter().collect();
        federation.insert(me);
        Node {
            federation,
            peers: BTreeSet::new(),
            speaks_for: BTreeMap::new(),
            logs: BTreeMap::new(),
            now_ms: 0,
            seen: VecDeque::new(),
            seen_set: BTreeSet::new(),
            sticky: VecDeque::new(),
            prove_every: PROVE_EVERY,
            gather: false,
            gathered: BTreeMap::new(),
            logs_read: logs::Port(logs),
            max_unstored: MAX_UNSTORED,
            verifier: Box::new(InOrder),
        }
    }

    /// Checks fetched pages with `verifier` (the shell's uses every core).
    pub fn verifier(mut self, verifier: Box<dyn Verifier>) -> Node {
        self.verifier = verifier;
        self
    }

    /// Fetches no more of a log while `n` entries fetched are not stored (tests).
    pub fn max_unstored(mut self, n: usize) -> Node {
        self.max_unstored = n.max(1);
        self
    }

    /// Proves and keeps pending entries every `n` (tests use small logs).
    pub fn prove_every(mut self, n: usize) -> Node {
        self.prove_every = n.max(1);
        self
    }

    /// The signed head held of `authority`'s log that matches the entries held.
    /// The signed head the entries held of `authority`'s log reach, or, if none is known
    /// at their exact size, one they are proven a prefix of.
    pub fn head(&self, authority: &PublicKey) -> Option<SignedTreeHead> {
        let r = self.logs.get(authority)?;
        r.head
            .filter(|h| h.head.size == r.size())
            .or(r.ahead.filter(|h| h.head.size > r.size()))
    }

    /// How far every log is held.
    pub fn progress(&self) -> Vec<Progress> {
        self.logs
            .iter()
            .map(|(a, r)| Progress {
                authority: *a,
                held: r.size(),
                target: r.target.map(|(t, _)| t.head.size),
            })
            .collect()
    }

    /// Entries `start..end` held of `authority`'s log (all checked): read from the store,
    /// but for those not stored yet.
    pub fn range(&self, authority: &PublicKey, start: u64, end: u64) -> Vec<Vec<u8>> {
        self.logs.get(authority).map_or_else(Vec::new, |r| {
            r.page(&*self.logs_read.0, authority, start, end)
        })
    }

    /// How many entries the state machine holds in memory, over every log: those
    /// fetched and not stored yet, and those pending a signed root.
    pub fn in_memory(&self) -> usize {
        self.logs
            .values()
            .map(|r| r.unstored.len() + r.pending.len())
            .sum()
    }

    /// Feeds one input at time `now_ms`; returns what to do.
    pub fn handle(&mut self, now_ms: u64, input: Input) -> Vec<Output> {
        self.now_ms = now_ms;
        let mut out = Vec::new();
        match input {
            Input::Connected(p) => {
                self.peers.insert(p);
                self.announce_to(p, &mut out);
                for wire in &self.sticky {
                    out.push(Output::Send {
                        to: p,
                        wire: wire.clone(),
                    });
                }
            }
            // A town outside the federation gets nothing, and its hello is a penalty: a
            // fading one, for a town whose neighbours have not listed it yet.
            Input::Authenticated { peer, authority } if !self.federation.contains(&authority) => {
                out.push(Output::Penalise {
                    peer,
                    reason: "a hello for a town outside the federation",
                });
            }
            Input::Authenticated { peer, authority } => {
                self.speaks_for.insert(peer, authority);
                if self.gather {
                    self.start_gathering(peer, &mut out);
                }
            }
            Input::Disconnected(p) => self.on_disconnected(p, &mut out),
            Input::Tick => self.on_tick(&mut out),
            Input::Appended {
                head,
                start,
                entries,
            } => self.on_appended(head, start, entries, &mut out),
            Input::Purged {
                authority,
                index,
                entry,
            } => self.on_purged(authority, index, &entry),
            Input::Written { authority, size } => self.on_written(authority, size, &mut out),
            Input::Cosigned {
                cosignature,
                sticky,
            } => {
                let wire = Wire::Cosignature { cosignature };
                // Sticky even if already sent: an ordinary head's cosignature that a
                // checkpoint then names comes back as a closing one.
                if sticky && !self.sticky.contains(&wire) {
                    self.sticky_push(wire.clone());
                }
                if self.first_sight(&wire) {
                    self.flood(&wire, None, &mut out);
                }
            }
            Input::Gather => {
                self.gather = true;
                let peers: Vec<PeerId> = self.speaks_for.keys().copied().collect();
                for p in peers {
                    self.start_gathering(p, &mut out);
                }
            }
            Input::Kept { peer } => {
                if let Some(g) = self.gathered.get_mut(&peer)
                    && let Stage::Keeping { next, .. } = g.stage
                {
                    Self::gather_next(peer, g, next, self.now_ms, &mut out);
                }
            }
            Input::Answer { to, wire } => {
                if self.peers.contains(&to) {
                    out.push(Output::Send { to, wire });
                }
            }
            Input::Received { from, wire } => self.receive(from, wire, &mut out),
            Input::Gossip { from, wire } => match wire {
                Wire::Head { head } => self.on_head(from, head, false, &mut out),
                other => self.receive(from, other, &mut out),
            },
        }
        out
    }

    fn receive(&mut self, from: PeerId, wire: Wire, out: &mut Vec<Output>) {
        match wire {
            Wire::Head { head } => self.on_head(from, head, true, out),
            Wire::GetEntries {
                authority,
                start,
                end,
            } => self.serve_entries(from, authority, start, end, out),
            Wire::Entries {
                authority,
                start,
                entries,
            } => self.on_entries(from, authority, start, entries, out),
            // Checked by the shell, which turns it into `Input::Authenticated`.
            Wire::Hello { .. } => {}
            Wire::GetConsistency {
                authority,
                from: m,
                to: n,
            } => self.serve_consistency(from, authority, m, n, out),
            Wire::Consistency {
                authority,
                from: m,
                to: n,
                proof,
            } => self.on_consistency(from, authority, m, n, proof, out),
            Wire::GetCosignatures { authority, after } => {
                self.lookup(from, Want::Cosignatures { authority, after }, out);
            }
            Wire::GetEvidence { authority, skip } => {
                self.lookup(from, Want::Evidence { authority, skip }, out);
            }
            Wire::Cosignatures {
                authority,
                after,
                cosignatures,
                complete,
            } => self.on_cosignatures(from, authority, after, cosignatures, complete, out),
            Wire::EvidenceList {
                authority,
                skip,
                evidence,
                complete,
            } => self.on_evidence_list(from, authority, skip, evidence, complete, out),
            Wire::Cosignature { cosignature } => self.on_cosignature(from, cosignature, out),
            Wire::Evidence { evidence } => self.on_evidence(from, evidence, out),
        }
    }

    /// The towns of the connected peers that proved who they speak for.
    pub fn connected(&self) -> Vec<PublicKey> {
        let towns: BTreeSet<PublicKey> = self
            .speaks_for
            .iter()
            .filter(|(p, _)| self.peers.contains(p))
            .map(|(_, a)| *a)
            .collect();
        towns.into_iter().collect()
    }

    /// A peer went: what was asked of it is asked of another.
    fn on_disconnected(&mut self, p: PeerId, out: &mut Vec<Output>) {
        self.peers.remove(&p);
        self.speaks_for.remove(&p);
        // Asked afresh if it comes back; what it gave, or did wrong, is remembered.
        if self
            .gathered
            .get(&p)
            .is_some_and(|g| !matches!(g.stage, Stage::Done | Stage::Failed))
        {
            self.gathered.remove(&p);
        }
        for r in self.logs.values_mut() {
            r.holders.remove(&p);
            if matches!(r.proving, Some((q, _, _)) if q == p) {
                r.proving = None;
                r.pending.clear();
            }
            if matches!(r.asked, Some((q, _, _)) if q == p) {
                r.asked = None;
            }
        }
        self.ask_all(out);
    }
}
