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

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use palabre_core::crypto::PublicKey;
pub use palabre_core::head::Equivocation;
use palabre_core::head::{Cosignature, PrefixProof, SignedTreeHead};
use palabre_core::ids::Hash;
use palabre_core::merkle::{self, MemoryTree};
use palabre_core::purge::{self, Entry};
use serde::{Deserialize, Serialize};

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

/// Where a page of cosignatures starts: after the cosignature with this key, in the order
/// of (size, witness, root) — witness and root compared as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosignatureKey {
    pub size: u64,
    pub witness: PublicKey,
    pub root: Hash,
}

impl CosignatureKey {
    pub fn of(c: &Cosignature) -> CosignatureKey {
        CosignatureKey {
            size: c.cosigned.head.size,
            witness: c.cosigned.witness,
            root: c.cosigned.head.root,
        }
    }

    /// The order pages follow (the store's key order).
    pub fn order(&self) -> (u64, [u8; 32], [u8; 32]) {
        (self.size, *self.witness.as_bytes(), self.root.0)
    }
}

/// What a peer asks the node to read from its store (see [`Output::Lookup`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// At most [`MAX_PAGE_COSIGNATURES`] cosignatures of `authority`'s heads after `after`.
    Cosignatures {
        authority: PublicKey,
        after: Option<CosignatureKey>,
    },
    /// At most [`MAX_PAGE_EVIDENCE`] proofs against `authority`, from the `skip`-th.
    Evidence { authority: PublicKey, skip: u64 },
}

/// What goes over the wire (as JSON, PROTOCOL.md "Replication between nodes").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Wire {
    /// The latest signed head the sender holds of a log.
    Head { head: SignedTreeHead },
    /// Entries `start..end` of `authority`'s log, please.
    GetEntries {
        authority: PublicKey,
        start: u64,
        end: u64,
    },
    /// Entries of `authority`'s log from `start`, exactly as stored.
    Entries {
        authority: PublicKey,
        start: u64,
        #[serde(with = "entries_as_text")]
        entries: Vec<Vec<u8>>,
    },
    /// A witness's cosignature of a head.
    Cosignature { cosignature: Cosignature },
    /// A proof that an authority signed two histories.
    Evidence { evidence: Equivocation },
    /// Please prove that `authority`'s log at size `from` is a prefix of it at `to`.
    GetConsistency {
        authority: PublicKey,
        from: u64,
        to: u64,
    },
    /// RFC 9162 consistency proof between sizes `from` and `to` of `authority`'s log.
    Consistency {
        authority: PublicKey,
        from: u64,
        to: u64,
        proof: Vec<Hash>,
    },
    /// Every cosignature you keep of `authority`'s heads after `after` (from the first
    /// when none), please: what a node that lost its store asks its neighbours.
    GetCosignatures {
        authority: PublicKey,
        after: Option<CosignatureKey>,
    },
    /// The next of them after `after`, in order, at most [`MAX_PAGE_COSIGNATURES`];
    /// `complete` when none follow.
    Cosignatures {
        authority: PublicKey,
        after: Option<CosignatureKey>,
        cosignatures: Vec<Cosignature>,
        complete: bool,
    },
    /// Every proof of equivocation you keep against `authority`, from the `skip`-th
    /// (counting from 0), please.
    GetEvidence { authority: PublicKey, skip: u64 },
    /// The next of them from the `skip`-th, at most [`MAX_PAGE_EVIDENCE`]; `complete`
    /// when none follow.
    EvidenceList {
        authority: PublicKey,
        skip: u64,
        evidence: Vec<Equivocation>,
        complete: bool,
    },
    /// The first message on a connection: the authority this node speaks for, signed
    /// over the sender's libp2p peer id (checked by the shell, which knows that id).
    Hello {
        authority: PublicKey,
        sig: palabre_core::crypto::Signature,
    },
}

/// Entries travel as JSON strings: each is the exact text of a signed event. An entry
/// that is not UTF-8 (never an admitted one) cannot be written.
mod entries_as_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(entries: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let texts = entries
            .iter()
            .map(|e| std::str::from_utf8(e).map_err(serde::ser::Error::custom))
            .collect::<Result<Vec<&str>, _>>()?;
        texts.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Ok(Vec::<String>::deserialize(d)?
            .into_iter()
            .map(String::into_bytes)
            .collect())
    }
}

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
    /// A replica now holds `size` entries, all checked.
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

/// One request of a gathering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ask {
    Cosignatures(PublicKey, Option<CosignatureKey>),
    Evidence(PublicKey, u64),
}

impl Ask {
    fn wire(self) -> Wire {
        match self {
            Ask::Cosignatures(authority, after) => Wire::GetCosignatures { authority, after },
            Ask::Evidence(authority, skip) => Wire::GetEvidence { authority, skip },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// `ask` is out, unanswered; `retries` times asked again already.
    Asked {
        deadline_ms: u64,
        retries: u32,
    },
    /// `ask`'s answer is with the node; `next` follows once it is kept.
    Keeping {
        next: Option<Ask>,
        deadline_ms: u64,
    },
    Done,
    /// The peer sent something invalid, or never answered.
    Failed,
}

/// What is gathered from one peer: the request out, and those that follow.
#[derive(Debug, Clone)]
struct Gathering {
    ask: Ask,
    queue: VecDeque<Ask>,
    stage: Stage,
}

/// How far the gathering is, over the federated peers that proved who they speak for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GatherProgress {
    /// Peers still being asked.
    pub asking: usize,
    /// Peers that gave everything they keep, all of it kept by the node.
    pub done: usize,
    /// Peers given up on (invalid answers, or none).
    pub failed: usize,
}

/// One log as this node holds it: entries checked up to a signed head.
#[derive(Debug, Default)]
struct Replica {
    entries: Vec<Vec<u8>>,
    tree: MemoryTree,
    /// The right edge of `tree`: the root after pending entries, in O(log n).
    frontier: merkle::Frontier,
    /// Signed heads larger than `entries` heard of (bounded): a page that ends at one
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
    /// The largest signed head known to match `entries` (or to be ahead of them).
    head: Option<SignedTreeHead>,
    /// Entries received beyond `entries`, waiting to reach `target`'s size.
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
        self.entries.len() as u64
    }

    fn push(&mut self, entry: Vec<u8>) {
        let leaf = purge::stored_leaf(&entry);
        self.tree.push(leaf);
        self.frontier.push(leaf);
        self.entries.push(entry);
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
}

/// What gossip validation says of a message: relay it, drop it and blame the sender, or
/// drop it quietly (not ours to judge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Reject,
    Ignore,
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

/// Whether every entry of `authority`'s log decodes and its signature verifies (an
/// event's by its author, a purged entry's tombstone by the authority), checked on every
/// core (a page is thousands of signatures; this is pure computation, so the state
/// machine stays free of IO and deterministic).
fn all_verify(authority: &PublicKey, entries: &[Vec<u8>]) -> bool {
    let ok = |e: &Vec<u8>| Entry::from_bytes(e.clone(), authority).is_ok();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || entries.len() < 64 {
        return entries.iter().all(ok);
    }
    let per = entries.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = entries
            .chunks(per)
            .map(|chunk| scope.spawn(move || chunk.iter().all(ok)))
            .collect();
        parts.into_iter().all(|p| p.join().unwrap_or(false))
    })
}

impl Node {
    /// A node for authority `me`, replicating the logs of `federation` (itself included
    /// or not: its own log is always kept).
    pub fn new(me: PublicKey, federation: impl IntoIterator<Item = PublicKey>) -> Node {
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
        }
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

    /// Whether a message published on gossip may be relayed (gossipsub's validation:
    /// checked before anyone forwards it). The same checks as when it is handled.
    pub fn check(&self, wire: &Wire) -> Verdict {
        let federated = |k: &PublicKey| self.federation.contains(k);
        match wire {
            Wire::Head { head } if !federated(&head.head.authority) => Verdict::Ignore,
            Wire::Head { head } if head.verify().is_err() => Verdict::Reject,
            Wire::Cosignature { cosignature } => {
                let c = &cosignature.cosigned;
                if !federated(&c.head.authority) || !federated(&c.witness) {
                    Verdict::Ignore
                } else if cosignature.verify().is_err() {
                    Verdict::Reject
                } else {
                    Verdict::Accept
                }
            }
            Wire::Evidence { evidence } if !federated(&evidence.authority()) => Verdict::Ignore,
            Wire::Evidence { evidence } if evidence.check().is_err() => Verdict::Reject,
            Wire::Head { .. } | Wire::Evidence { .. } => Verdict::Accept,
            // Requests, answers and hellos are point to point, never gossiped.
            Wire::GetEntries { .. }
            | Wire::Entries { .. }
            | Wire::GetConsistency { .. }
            | Wire::Consistency { .. }
            | Wire::GetCosignatures { .. }
            | Wire::Cosignatures { .. }
            | Wire::GetEvidence { .. }
            | Wire::EvidenceList { .. }
            | Wire::Hello { .. } => Verdict::Reject,
        }
    }

    /// Whether this is the first time `wire` is seen (remembering it).
    fn first_sight(&mut self, wire: &Wire) -> bool {
        let Ok(json) = serde_json::to_vec(wire) else {
            return false;
        };
        let h = Hash::of(&json);
        if !self.seen_set.insert(h) {
            return false;
        }
        self.seen.push_back(h);
        if self.seen.len() > MAX_SEEN
            && let Some(old) = self.seen.pop_front()
        {
            self.seen_set.remove(&old);
        }
        true
    }

    /// Sends `wire` to every peer but `except`, point to point.
    fn send_all(&self, wire: &Wire, except: Option<PeerId>, out: &mut Vec<Output>) {
        for p in &self.peers {
            if Some(*p) != except {
                out.push(Output::Send {
                    to: *p,
                    wire: wire.clone(),
                });
            }
        }
    }

    /// Sends `wire` to every peer but `except`, point to point, and publishes it.
    fn flood(&self, wire: &Wire, except: Option<PeerId>, out: &mut Vec<Output>) {
        self.send_all(wire, except, out);
        out.push(Output::Publish(wire.clone()));
    }

    /// Publishes an equivocation found here (once).
    fn found(&mut self, evidence: Equivocation, out: &mut Vec<Output>) {
        let wire = Wire::Evidence {
            evidence: evidence.clone(),
        };
        if self.first_sight(&wire) {
            self.flood(&wire, None, out);
            self.sticky_push(wire);
            out.push(Output::Evidence(evidence));
        }
    }

    fn sticky_push(&mut self, wire: Wire) {
        self.sticky.push_back(wire);
        if self.sticky.len() > MAX_STICKY {
            self.sticky.pop_front();
        }
    }

    /// The entries held of `authority`'s log (all checked).
    pub fn entries(&self, authority: &PublicKey) -> &[Vec<u8>] {
        self.logs
            .get(authority)
            .map_or(&[][..], |r| r.entries.as_slice())
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
            Input::Authenticated { peer, authority } => {
                self.speaks_for.insert(peer, authority);
                if self.gather {
                    self.start_gathering(peer, &mut out);
                }
            }
            Input::Disconnected(p) => {
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
                self.ask_all(&mut out);
            }
            Input::Tick => {
                let peers: Vec<PeerId> = self.peers.iter().copied().collect();
                for p in peers {
                    self.announce_to(p, &mut out);
                }
                // Gossip carries each log's latest head once per tick at most: heads
                // change at every commit, and gossiping each one costs more than it
                // brings (peers already get them point to point).
                for r in self.logs.values_mut() {
                    if let Some(h) = r.head
                        && h.head.size == r.size()
                        && r.published != Some(h.head.size)
                    {
                        r.published = Some(h.head.size);
                        out.push(Output::Publish(Wire::Head { head: h }));
                    }
                }
                let now = self.now_ms;
                for r in self.logs.values_mut() {
                    if matches!(r.proving, Some((_, _, deadline)) if deadline <= now)
                        && let Some((p, _, _)) = r.proving.take()
                    {
                        r.holders.remove(&p);
                        r.pending.clear();
                    }
                    if matches!(r.asked, Some((_, _, deadline)) if deadline <= now) {
                        // Unanswered: forget it, and ask whoever holds the head next.
                        if let Some((p, _, _)) = r.asked.take() {
                            r.holders.remove(&p);
                        }
                    }
                }
                self.ask_all(&mut out);
                self.gather_tick(&mut out);
            }
            Input::Appended {
                head,
                start,
                entries,
            } => {
                let authority = head.head.authority;
                let r = self.logs.entry(authority).or_default();
                if start > r.size() {
                    return out; // a gap: the caller sends again from what is held
                }
                let held = (r.size() - start) as usize;
                if held < entries.len() && (!r.pending.is_empty() || r.asked.is_some()) {
                    // What was being fetched now starts elsewhere: fetch afresh.
                    r.pending.clear();
                    r.asked = None;
                }
                for e in entries.into_iter().skip(held) {
                    r.push(e);
                }
                let size = r.size();
                r.waypoints.retain(|s, _| *s > size);
                if r.head.is_none_or(|h| h.head.size <= head.head.size) {
                    r.head = Some(head);
                }
                if r.target.is_some_and(|(t, _)| t.head.size <= r.size()) {
                    r.target = None;
                    r.pending.clear();
                    r.asked = None;
                }
                let size = r.size();
                // Told at once, not at the next tick: propagation waits on no timer.
                if let Some(h) = r.head.filter(|h| h.head.size == size) {
                    self.send_all(&Wire::Head { head: h }, None, &mut out);
                }
                out.push(Output::Stored { authority, size });
            }
            Input::Purged {
                authority,
                index,
                entry,
            } => {
                if let Some(held) = self
                    .logs
                    .get_mut(&authority)
                    .and_then(|r| r.entries.get_mut(usize::try_from(index).ok()?))
                    && purge::is_tombstone(&entry)
                    && purge::stored_leaf(&entry) == purge::stored_leaf(held)
                {
                    *held = entry;
                }
            }
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

    fn announce_to(&self, peer: PeerId, out: &mut Vec<Output>) {
        for r in self.logs.values() {
            if let Some(h) = r.head
                && h.head.size <= r.size()
            {
                out.push(Output::Send {
                    to: peer,
                    wire: Wire::Head { head: h },
                });
            }
        }
    }

    fn receive(&mut self, from: PeerId, wire: Wire, out: &mut Vec<Output>) {
        match wire {
            Wire::Head { head } => self.on_head(from, head, true, out),
            Wire::GetEntries {
                authority,
                start,
                end,
            } => {
                let Some(r) = self.logs.get(&authority) else {
                    return;
                };
                // Only towns of the federation are answered, and only about its logs.
                let federated_peer = self
                    .speaks_for
                    .get(&from)
                    .is_some_and(|a| self.federation.contains(a));
                if !federated_peer
                    || !self.federation.contains(&authority)
                    || start >= r.size()
                    || end <= start
                {
                    return;
                }
                let end = end.min(r.size()).min(start + MAX_SYNC_PAGE_ENTRIES);
                let mut bytes = 0;
                let entries: Vec<Vec<u8>> = r.entries[start as usize..end as usize]
                    .iter()
                    .take_while(|e| {
                        bytes += e.len();
                        bytes <= MAX_PAGE_BYTES
                    })
                    .cloned()
                    .collect();
                let entries = if entries.is_empty() {
                    vec![r.entries[start as usize].clone()]
                } else {
                    entries
                };
                out.push(Output::Send {
                    to: from,
                    wire: Wire::Entries {
                        authority,
                        start,
                        entries,
                    },
                });
            }
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
            } => {
                let federated_peer = self
                    .speaks_for
                    .get(&from)
                    .is_some_and(|a| self.federation.contains(a));
                let Some(r) = self.logs.get(&authority) else {
                    return;
                };
                if !federated_peer || m == 0 || m > n || n > r.size() {
                    return;
                }
                if let Ok(proof) = merkle::consistency_proof(&r.tree, m, n) {
                    out.push(Output::Send {
                        to: from,
                        wire: Wire::Consistency {
                            authority,
                            from: m,
                            to: n,
                            proof,
                        },
                    });
                }
            }
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
            Wire::Cosignature { cosignature } => {
                let c = &cosignature.cosigned;
                if !self.federation.contains(&c.head.authority)
                    || !self.federation.contains(&c.witness)
                {
                    return;
                }
                if cosignature.verify().is_err() {
                    out.push(Output::Penalise {
                        peer: from,
                        reason: "a cosignature that does not verify",
                    });
                    return;
                }
                let wire = Wire::Cosignature { cosignature };
                if self.first_sight(&wire) {
                    self.flood(&wire, Some(from), out);
                    out.push(Output::Cosignature(cosignature));
                }
            }
            Wire::Evidence { evidence } => {
                if !self.federation.contains(&evidence.authority()) {
                    return;
                }
                if evidence.check().is_err() {
                    out.push(Output::Penalise {
                        peer: from,
                        reason: "evidence that proves nothing",
                    });
                    return;
                }
                let wire = Wire::Evidence {
                    evidence: evidence.clone(),
                };
                if self.first_sight(&wire) {
                    self.flood(&wire, Some(from), out);
                    self.sticky_push(wire);
                    out.push(Output::Evidence(evidence));
                }
            }
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

    /// How far the gathering of what peers witnessed is.
    pub fn gathering(&self) -> GatherProgress {
        let mut p = GatherProgress::default();
        for g in self.gathered.values() {
            match g.stage {
                Stage::Done => p.done += 1,
                Stage::Failed => p.failed += 1,
                Stage::Asked { .. } | Stage::Keeping { .. } => p.asking += 1,
            }
        }
        p
    }

    /// Passes a federated peer's request for what the store keeps to the node.
    fn lookup(&self, from: PeerId, want: Want, out: &mut Vec<Output>) {
        let authority = match want {
            Want::Cosignatures { authority, .. } | Want::Evidence { authority, .. } => authority,
        };
        let federated_peer = self
            .speaks_for
            .get(&from)
            .is_some_and(|a| self.federation.contains(a));
        if federated_peer && self.federation.contains(&authority) {
            out.push(Output::Lookup { peer: from, want });
        }
    }

    /// Starts gathering from `peer`, if it speaks for a town of the federation and was
    /// not asked yet: the cosignatures of every federated log, then the evidence.
    fn start_gathering(&mut self, peer: PeerId, out: &mut Vec<Output>) {
        let speaks = self.speaks_for.get(&peer);
        if !self.peers.contains(&peer)
            || !speaks.is_some_and(|a| self.federation.contains(a))
            || self.gathered.contains_key(&peer)
        {
            return;
        }
        let mut queue: VecDeque<Ask> = self
            .federation
            .iter()
            .map(|a| Ask::Cosignatures(*a, None))
            .chain(self.federation.iter().map(|a| Ask::Evidence(*a, 0)))
            .collect();
        let Some(ask) = queue.pop_front() else {
            return;
        };
        let g = self.gathered.entry(peer).or_insert(Gathering {
            ask,
            queue,
            stage: Stage::Done,
        });
        Self::gather_next(peer, g, Some(ask), self.now_ms, out);
    }

    /// Asks `next` of `peer`, or, with nothing left, marks it done.
    fn gather_next(
        peer: PeerId,
        g: &mut Gathering,
        next: Option<Ask>,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) {
        match next.or_else(|| g.queue.pop_front()) {
            Some(ask) => {
                g.ask = ask;
                g.stage = Stage::Asked {
                    deadline_ms: now_ms + REQUEST_TIMEOUT_MS,
                    retries: 0,
                };
                out.push(Output::Send {
                    to: peer,
                    wire: ask.wire(),
                });
            }
            None => g.stage = Stage::Done,
        }
    }

    /// Asks again what went unanswered, or was never kept; gives up on a peer that does
    /// not answer.
    fn gather_tick(&mut self, out: &mut Vec<Output>) {
        let now = self.now_ms;
        for (peer, g) in self.gathered.iter_mut() {
            let retries = match g.stage {
                Stage::Asked {
                    deadline_ms,
                    retries,
                } if deadline_ms <= now => retries + 1,
                // The page never reached the store (the node was too busy): again.
                Stage::Keeping { deadline_ms, .. } if deadline_ms <= now => 0,
                _ => continue,
            };
            if retries > MAX_GATHER_RETRIES {
                g.stage = Stage::Failed;
                continue;
            }
            g.stage = Stage::Asked {
                deadline_ms: now + REQUEST_TIMEOUT_MS,
                retries,
            };
            out.push(Output::Send {
                to: *peer,
                wire: g.ask.wire(),
            });
        }
    }

    /// The gathering of `from` waiting for exactly this answer, if any.
    fn awaiting(&mut self, from: PeerId, ask: Ask) -> Option<&mut Gathering> {
        self.gathered
            .get_mut(&from)
            .filter(|g| g.ask == ask && matches!(g.stage, Stage::Asked { .. }))
    }

    /// Gives up on gathering from `from`, and blames it.
    fn gather_refuse(&mut self, from: PeerId, reason: &'static str, out: &mut Vec<Output>) {
        if let Some(g) = self.gathered.get_mut(&from) {
            g.stage = Stage::Failed;
        }
        out.push(Output::Penalise { peer: from, reason });
    }

    /// A page of cosignatures asked while gathering: each of the log asked about, by a
    /// federated witness, verifying, in order after `after`.
    fn on_cosignatures(
        &mut self,
        from: PeerId,
        authority: PublicKey,
        after: Option<CosignatureKey>,
        cosignatures: Vec<Cosignature>,
        complete: bool,
        out: &mut Vec<Output>,
    ) {
        if self
            .awaiting(from, Ask::Cosignatures(authority, after))
            .is_none()
        {
            return; // not asked, a duplicate, or too late
        }
        let mut last = after.map(|k| k.order());
        let mut valid =
            cosignatures.len() <= MAX_PAGE_COSIGNATURES && (complete || !cosignatures.is_empty());
        for c in &cosignatures {
            let order = CosignatureKey::of(c).order();
            valid = valid
                && c.cosigned.head.authority == authority
                && self.federation.contains(&c.cosigned.witness)
                && last.is_none_or(|l| l < order)
                && c.verify().is_ok();
            last = Some(order);
        }
        if !valid {
            self.gather_refuse(from, "a page of cosignatures that does not hold", out);
            return;
        }
        for c in &cosignatures {
            self.first_sight(&Wire::Cosignature { cosignature: *c });
        }
        let next = match cosignatures.last() {
            Some(c) if !complete => Some(Ask::Cosignatures(authority, Some(CosignatureKey::of(c)))),
            _ => None,
        };
        self.gathered_page(from, next, cosignatures, Vec::new(), out);
    }

    /// A page of evidence asked while gathering: each against the authority asked about,
    /// and proving what it claims.
    fn on_evidence_list(
        &mut self,
        from: PeerId,
        authority: PublicKey,
        skip: u64,
        evidence: Vec<Equivocation>,
        complete: bool,
        out: &mut Vec<Output>,
    ) {
        if self
            .awaiting(from, Ask::Evidence(authority, skip))
            .is_none()
        {
            return;
        }
        let valid = evidence.len() <= MAX_PAGE_EVIDENCE
            && (complete || !evidence.is_empty())
            && evidence
                .iter()
                .all(|e| e.authority() == authority && e.check().is_ok());
        if !valid {
            self.gather_refuse(from, "a page of evidence that does not hold", out);
            return;
        }
        for e in &evidence {
            let wire = Wire::Evidence {
                evidence: e.clone(),
            };
            // Sent again to every peer that connects, as any evidence this node holds.
            if self.first_sight(&wire) {
                self.sticky_push(wire);
            }
        }
        let next = (!complete).then(|| Ask::Evidence(authority, skip + evidence.len() as u64));
        self.gathered_page(from, next, Vec::new(), evidence, out);
    }

    /// Hands a checked page to the node, or, if it is empty, goes on at once.
    fn gathered_page(
        &mut self,
        from: PeerId,
        next: Option<Ask>,
        cosignatures: Vec<Cosignature>,
        evidence: Vec<Equivocation>,
        out: &mut Vec<Output>,
    ) {
        let now = self.now_ms;
        let Some(g) = self.gathered.get_mut(&from) else {
            return;
        };
        if cosignatures.is_empty() && evidence.is_empty() {
            Self::gather_next(from, g, next, now, out);
            return;
        }
        g.stage = Stage::Keeping {
            next,
            deadline_ms: now + KEEP_TIMEOUT_MS,
        };
        out.push(Output::Gathered {
            peer: from,
            cosignatures,
            evidence,
        });
    }

    /// A head announced by `from` itself (`direct`), or relayed by it on gossip — then
    /// `from` may not hold the entries, and is not asked for them.
    fn on_head(&mut self, from: PeerId, h: SignedTreeHead, direct: bool, out: &mut Vec<Output>) {
        let authority = h.head.authority;
        if !self.federation.contains(&authority) {
            return; // not ours to replicate; says nothing bad of the peer
        }
        if h.verify().is_err() {
            out.push(Output::Penalise {
                peer: from,
                reason: "a head that is not validly signed",
            });
            return;
        }
        let r = self.logs.entry(authority).or_default();
        // What we hold contradicts it?
        if h.head.size <= r.size() {
            let ours = merkle::root_at(&r.tree, h.head.size).ok();
            if ours != Some(h.head.root) {
                if let Some(evidence) = Self::contradiction(r, h) {
                    self.found(evidence, out);
                }
                return;
            }
            if r.head.is_none_or(|k| k.head.size < h.head.size) {
                r.head = Some(h);
            }
            return;
        }
        if let Some(known) = r.head
            && known.head.size == h.head.size
            && known.head.root != h.head.root
        {
            self.found(
                Equivocation {
                    first: known,
                    second: h,
                    prefix: None,
                },
                out,
            );
            return;
        }
        match r.waypoints.get(&h.head.size) {
            Some(w) if w.head.root != h.head.root => {
                let first = *w;
                self.found(
                    Equivocation {
                        first,
                        second: h,
                        prefix: None,
                    },
                    out,
                );
                return;
            }
            Some(_) => {}
            None => {
                r.waypoints.insert(h.head.size, h);
                if r.waypoints.len() > MAX_WAYPOINTS {
                    r.waypoints.pop_first();
                }
            }
        }
        match r.target {
            Some((t, _)) if t.head.size > h.head.size => {}
            Some((t, _)) if t.head.size == h.head.size => {
                if t.head.root == h.head.root {
                    if direct {
                        r.holders.insert(from);
                    }
                } else {
                    self.found(
                        Equivocation {
                            first: t,
                            second: h,
                            prefix: None,
                        },
                        out,
                    );
                    return;
                }
            }
            _ => {
                r.target = Some((h, from));
                // Those who held the last target are asked on until they announce
                // this one too: they hold at least that much.
                if direct {
                    r.holders = BTreeSet::from([from]);
                }
            }
        }
        Self::ask(authority, r, self.now_ms, out);
    }

    /// The proof that `h` (no larger than what `r` holds, with another root) contradicts
    /// the signed head `r`'s entries match.
    fn contradiction(r: &Replica, h: SignedTreeHead) -> Option<Equivocation> {
        let first = r.head.filter(|k| k.head.size <= r.size())?;
        let (m, n) = (h.head.size, first.head.size);
        if m == n {
            return Some(Equivocation {
                first,
                second: h,
                prefix: None,
            });
        }
        if m == 0 || m > n {
            return None;
        }
        let prefix = PrefixProof {
            root: merkle::root_at(&r.tree, m).ok()?,
            proof: merkle::consistency_proof(&r.tree, m, n).ok()?,
        };
        Some(Equivocation {
            first,
            second: h,
            prefix: Some(prefix),
        })
    }

    fn ask_all(&mut self, out: &mut Vec<Output>) {
        let now = self.now_ms;
        for (a, r) in self.logs.iter_mut() {
            Self::ask(*a, r, now, out);
        }
    }

    /// Asks a holder of the target head for the next page, unless a request is out.
    fn ask(authority: PublicKey, r: &mut Replica, now_ms: u64, out: &mut Vec<Output>) {
        let Some((target, _)) = r.target else {
            return;
        };
        if r.asked.is_some() || r.proving.is_some() {
            return;
        }
        let start = r.size() + r.pending.len() as u64;
        if start >= target.head.size {
            return;
        }
        let Some(peer) = r.holders.iter().next().copied() else {
            return;
        };
        let end = target.head.size.min(start + MAX_SYNC_PAGE_ENTRIES);
        r.asked = Some((peer, start, now_ms + REQUEST_TIMEOUT_MS));
        out.push(Output::Send {
            to: peer,
            wire: Wire::GetEntries {
                authority,
                start,
                end,
            },
        });
    }

    /// A consistency proof for the pending prefix: keeps it if it proves the prefix is
    /// the target's, else drops it and blames the sender.
    fn on_consistency(
        &mut self,
        from: PeerId,
        authority: PublicKey,
        m: u64,
        n: u64,
        proof: Vec<Hash>,
        out: &mut Vec<Output>,
    ) {
        let now = self.now_ms;
        let Some(r) = self.logs.get_mut(&authority) else {
            return;
        };
        if r.proving.map(|(p, f, _)| (p, f)) != Some((from, m)) {
            return; // not the answer we wait for
        }
        r.proving = None;
        let Some((target, _)) = r.target else {
            r.pending.clear();
            return;
        };
        let reached = r.size() + r.pending.len() as u64;
        let mut frontier = r.frontier.clone();
        for e in &r.pending {
            frontier.push(purge::stored_leaf(e));
        }
        let holds = reached == m
            && n == target.head.size
            && merkle::verify_consistency(m, n, &frontier.root(), &target.head.root, &proof)
                .is_ok();
        if holds {
            for e in std::mem::take(&mut r.pending) {
                r.push(e);
            }
            r.ahead = Some(target);
            r.waypoints.retain(|s, _| *s > reached);
            out.push(Output::Stored {
                authority,
                size: reached,
            });
        } else {
            r.pending.clear();
            r.holders.remove(&from);
            out.push(Output::Penalise {
                peer: from,
                reason: "a consistency proof that does not hold",
            });
        }
        Self::ask(authority, r, now, out);
    }

    /// Penalises `from` for a bad answer, stops asking it, and asks another holder.
    fn refuse(
        authority: PublicKey,
        r: &mut Replica,
        from: PeerId,
        reason: &'static str,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) {
        out.push(Output::Penalise { peer: from, reason });
        r.holders.remove(&from);
        Self::ask(authority, r, now_ms, out);
    }

    fn on_entries(
        &mut self,
        from: PeerId,
        authority: PublicKey,
        start: u64,
        entries: Vec<Vec<u8>>,
        out: &mut Vec<Output>,
    ) {
        let now = self.now_ms;
        let Some(r) = self.logs.get_mut(&authority) else {
            return;
        };
        // Only the answer we wait for (duplicates and stale answers are dropped).
        let expected = r.size() + r.pending.len() as u64;
        if r.asked.map(|(p, s, _)| (p, s)) != Some((from, start)) || start != expected {
            return;
        }
        r.asked = None;
        let Some((target, _)) = r.target else {
            return;
        };
        let room = target.head.size - expected;
        if entries.is_empty()
            || entries.len() as u64 > room.min(MAX_SYNC_PAGE_ENTRIES)
            || r.pending.len() + entries.len() > MAX_PENDING_ENTRIES
        {
            Self::refuse(
                authority,
                r,
                from,
                "a page of entries of the wrong size",
                now,
                out,
            );
            return;
        }
        if !all_verify(&authority, &entries) {
            Self::refuse(
                authority,
                r,
                from,
                "an entry that does not decode or verify",
                now,
                out,
            );
            return;
        }
        r.pending.extend(entries);
        let reached = r.size() + r.pending.len() as u64;
        let goal = if reached == target.head.size {
            Some(target)
        } else {
            r.waypoints.get(&reached).copied()
        };
        if let Some(goal) = goal {
            let mut frontier = r.frontier.clone();
            for e in &r.pending {
                frontier.push(purge::stored_leaf(e));
            }
            if frontier.root() == goal.head.root {
                for e in std::mem::take(&mut r.pending) {
                    r.push(e);
                }
                if r.head.is_none_or(|h| h.head.size <= reached) {
                    r.head = Some(goal);
                }
                r.waypoints.retain(|s, _| *s > reached);
                if reached == target.head.size {
                    r.target = None;
                    r.holders.clear();
                }
                out.push(Output::Stored {
                    authority,
                    size: reached,
                });
                // Passed on at once: other nodes may not have it yet.
                for p in &self.peers {
                    if *p != from {
                        out.push(Output::Send {
                            to: *p,
                            wire: Wire::Head { head: goal },
                        });
                    }
                }
            } else {
                // Entries that do not reach the signed root: the sender lied, start over.
                r.pending.clear();
                r.holders.remove(&from);
                out.push(Output::Penalise {
                    peer: from,
                    reason: "entries that do not hash to the signed root",
                });
            }
        } else if r.pending.len() >= self.prove_every {
            // Far from any signed head: have the sender prove this prefix consistent
            // with the target, and keep it, before fetching more.
            r.proving = Some((from, reached, now + REQUEST_TIMEOUT_MS));
            out.push(Output::Send {
                to: from,
                wire: Wire::GetConsistency {
                    authority,
                    from: reached,
                    to: target.head.size,
                },
            });
            return;
        }
        Self::ask(authority, r, now, out);
    }
}
