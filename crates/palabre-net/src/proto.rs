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
            }
            Input::Disconnected(p) => {
                self.peers.remove(&p);
                self.speaks_for.remove(&p);
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
                if self.first_sight(&wire) {
                    self.flood(&wire, None, &mut out);
                    if sticky {
                        self.sticky_push(wire);
                    }
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
