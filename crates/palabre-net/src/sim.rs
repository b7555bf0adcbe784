//! A seeded network simulator for the replication state machine: towns writing their
//! logs, each town's [`Node`] with a memory store of logs, on a network that drops,
//! duplicates, delays and reorders messages, where a node can be cut off, wiped or
//! restarted. The same seed gives the same run.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::sync::Arc;

use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::{AuthorityBody, Body, CredentialBody, Event};
use palabre_core::head::{Cosignature, CosignedHead, Equivocation, SignedTreeHead, TreeHead};
use palabre_core::merkle::{self, MemoryTree};
use palabre_store::{Entry, MemoryStorage, Storage, stored_entry};

use crate::proto::{CosignatureKey, Input, Logs, Node, Output, PeerId, Want, Wire};

/// xorshift64*: small, seeded, good enough to pick faults (the seed must not be 0).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next number of the sequence.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number below `n` (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Town `i`'s key, the same in every run.
pub fn town_key(i: u64) -> SecretKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    SecretKey::from_seed(&seed)
}

/// A town's own log as it writes it.
#[derive(Debug)]
pub struct Town {
    /// The town's key, which signs its events and heads.
    pub key: SecretKey,
    /// Every entry the town wrote, in order.
    pub entries: Vec<Vec<u8>>,
    tree: MemoryTree,
    n_written: u64,
}

impl Town {
    /// Town `i` (keyed by [`town_key`]), with an empty log.
    pub fn new(i: u64) -> Town {
        Town {
            key: town_key(i),
            entries: Vec::new(),
            tree: MemoryTree::new(),
            n_written: 0,
        }
    }

    /// Appends `n` events (its declaration first) and returns the input for its node.
    pub fn write(&mut self, n: usize, at: u64) -> Input {
        let mut new = Vec::new();
        for _ in 0..n {
            let body = if self.n_written == 0 {
                Body::Authority(AuthorityBody {
                    name: "Commune".into(),
                    code: String::new(),
                    addresses: vec![],
                    encryption_key: None,
                    encryption_pok: None,
                })
            } else {
                let mut seed = [9u8; 32];
                seed[..8].copy_from_slice(&self.n_written.to_le_bytes());
                seed[8..16].copy_from_slice(&self.key.public_key().as_bytes()[..8]);
                Body::Credential(CredentialBody {
                    subject: SecretKey::from_seed(&seed).public_key(),
                    replaces: None,
                })
            };
            let e = Event {
                author: self.key.public_key(),
                created_at_ms: 1_900_000_000_000 + at,
                body,
            }
            .sign(&self.key)
            .expect("valid event");
            self.n_written += 1;
            self.tree.push(merkle::leaf_hash(e.bytes()));
            self.entries.push(e.bytes().to_vec());
            new.push(e.bytes().to_vec());
        }
        Input::Appended {
            head: self.head(at),
            start: self.n_written - new.len() as u64,
            entries: new,
        }
    }

    /// The town's signed head over all it wrote, stamped `at`.
    pub fn head(&self, at: u64) -> SignedTreeHead {
        let size = self.entries.len() as u64;
        TreeHead {
            authority: self.key.public_key(),
            size,
            root: merkle::root_at(&self.tree, size).expect("root"),
            timestamp_ms: at,
        }
        .sign(&self.key)
    }
}

/// Faults of the network.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// How many messages in a hundred are lost.
    pub drop_percent: u64,
    /// How many messages in a hundred arrive twice.
    pub duplicate_percent: u64,
    /// The longest a message takes (reordering messages sent close together).
    pub max_delay_ms: u64,
}

/// A message on its way: (delivery time, sequence, to, from, message), earliest first.
type InFlight = Reverse<(u64, u64, usize, usize, WireBox)>;

/// A federation of towns' state machines on a faulty network, driven by a seed: node
/// `i` speaks for town `i` and knows each other node `j` as peer `j`.
pub struct Sim {
    /// The run's randomness (faults, and whatever a test draws).
    pub rng: Rng,
    /// Each town's state machine.
    pub nodes: Vec<Node>,
    /// Each town's own log.
    pub towns: Vec<Town>,
    queue: BinaryHeap<InFlight>,
    seq: u64,
    /// The simulated time, in ms.
    pub now: u64,
    faults: Faults,
    /// Nodes currently cut off from everyone.
    pub cut: Vec<bool>,
    /// Every output the nodes gave that the simulation does not act on, by node.
    pub outputs: Vec<(usize, Output)>,
    /// What each node's store keeps of cosignatures and evidence (the node's side of
    /// `Lookup`, `Gathered` and `Kept`).
    pub stores: Vec<Store>,
    /// Each node's store of logs (the memory store: core's admission, as sled's), which
    /// its state machine reads; the simulation writes to it as the node's bridge does.
    pub logs: Vec<Arc<dyn Storage>>,
    /// Nodes whose bridge writes only at ticks (so fetched entries wait in memory).
    pub lazy: Vec<bool>,
    /// The most entries each node's state machine held in memory at once.
    pub max_in_memory: Vec<usize>,
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("now", &self.now)
            .field("faults", &self.faults)
            .field("nodes", &self.nodes.len())
            .field("in_flight", &self.queue.len())
            .field("cut", &self.cut)
            .field("lazy", &self.lazy)
            .finish_non_exhaustive()
    }
}

/// A state machine for `me`, reading the logs it holds from `logs`.
pub fn sim_node(me: PublicKey, keys: &[PublicKey], logs: &Arc<dyn Storage>) -> Node {
    Node::new(me, keys.iter().copied(), Box::new(Arc::clone(logs)))
}

/// An empty store of logs, for a network that serves none.
pub fn empty() -> Box<dyn Logs> {
    Box::new(memory())
}

/// A state machine with an empty store of its own.
pub fn bare_node(me: PublicKey, keys: &[PublicKey]) -> Node {
    sim_node(me, keys, &memory())
}

/// An empty memory store of logs.
pub fn memory() -> Arc<dyn Storage> {
    Arc::new(MemoryStorage::default())
}

/// Stored entries of event bytes.
fn stored_entries(bytes: &[Vec<u8>]) -> Vec<Entry> {
    bytes
        .iter()
        .map(|b| stored_entry(b.clone()).expect("a stored entry"))
        .collect()
}

/// Appends what the store of a log does not hold yet of `entries` (from `start`).
pub fn keep_log(logs: &dyn Storage, head: &SignedTreeHead, start: u64, entries: &[Vec<u8>]) {
    let stored = logs.log_size(&head.head.authority);
    let Some(skip) = stored.checked_sub(start) else {
        return;
    };
    if (skip as usize) < entries.len() {
        logs.append_replica(head, stored, stored_entries(&entries[skip as usize..]))
            .expect("the memory store appends");
    }
}

/// A node's store of cosignatures (in the sled store's key order) and evidence.
#[derive(Debug, Default, Clone)]
pub struct Store {
    /// Cosignatures, by their key's order.
    pub cosignatures: BTreeMap<(u64, [u8; 32], [u8; 32]), Cosignature>,
    /// Proofs of equivocation, each once.
    pub evidence: Vec<Equivocation>,
}

/// Cosignatures per answer in the simulation (small, so that gathering takes pages).
const SIM_PAGE: usize = 4;

impl Store {
    /// Keeps a cosignature (once).
    pub fn keep_cosignature(&mut self, c: Cosignature) {
        self.cosignatures
            .entry(CosignatureKey::of(&c).order())
            .or_insert(c);
    }

    /// Keeps a proof of equivocation (once).
    pub fn keep_evidence(&mut self, e: Equivocation) {
        if !self.evidence.contains(&e) {
            self.evidence.push(e);
        }
    }

    /// A page of what `want` asks, as the node's store answers a `Lookup`.
    fn answer(&self, want: Want) -> Wire {
        match want {
            Want::Cosignatures { authority, after } => {
                let mut page: Vec<Cosignature> = self
                    .cosignatures
                    .iter()
                    .filter(|(k, c)| {
                        c.cosigned.head.authority == authority
                            && after.is_none_or(|a| **k > a.order())
                    })
                    .map(|(_, c)| *c)
                    .take(SIM_PAGE + 1)
                    .collect();
                let complete = page.len() <= SIM_PAGE;
                page.truncate(SIM_PAGE);
                Wire::Cosignatures {
                    authority,
                    after,
                    cosignatures: page,
                    complete,
                }
            }
            Want::Evidence { authority, skip } => {
                let mut page: Vec<Equivocation> = self
                    .evidence
                    .iter()
                    .filter(|e| e.authority() == authority)
                    .skip(skip as usize)
                    .take(2)
                    .cloned()
                    .collect();
                let complete = page.len() <= 1;
                page.truncate(1);
                Wire::EvidenceList {
                    authority,
                    skip,
                    evidence: page,
                    complete,
                }
            }
        }
    }
}

/// A message in flight, and whether it travels on gossip (in the queue, ordered by time
/// and sequence only).
struct WireBox(Wire, bool);
impl PartialEq for WireBox {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for WireBox {}
impl PartialOrd for WireBox {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for WireBox {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl Sim {
    /// `n` towns with empty logs, every node connected to every other and told whom it
    /// speaks for.
    pub fn new(seed: u64, n: usize, faults: Faults) -> Sim {
        let towns: Vec<Town> = (0..n as u64).map(Town::new).collect();
        let keys: Vec<PublicKey> = towns.iter().map(|t| t.key.public_key()).collect();
        let logs: Vec<Arc<dyn Storage>> = (0..n).map(|_| memory()).collect();
        let nodes = keys
            .iter()
            .zip(&logs)
            .map(|(k, l)| sim_node(*k, &keys, l))
            .collect();
        let mut sim = Sim {
            rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            nodes,
            towns,
            queue: BinaryHeap::new(),
            seq: 0,
            now: 0,
            faults,
            cut: vec![false; n],
            outputs: Vec::new(),
            stores: vec![Store::default(); n],
            logs,
            lazy: vec![false; n],
            max_in_memory: vec![0; n],
        };
        for a in 0..n {
            for (b, authority) in keys.iter().enumerate() {
                if a != b {
                    sim.input(a, Input::Connected(b as PeerId));
                    sim.input(
                        a,
                        Input::Authenticated {
                            peer: b as PeerId,
                            authority: *authority,
                        },
                    );
                }
            }
        }
        sim
    }

    /// Feeds `input` to `node` and acts on its outputs as the node's shell and bridge do.
    pub fn input(&mut self, node: usize, input: Input) {
        // The node's own commits (and logs read back) are in its store first.
        if let Input::Appended {
            head,
            start,
            entries,
        } = &input
        {
            keep_log(&*self.logs[node], head, *start, entries);
        }
        let mut bridge = matches!(input, Input::Tick);
        let lazy = self.lazy[node];
        let outs = self.nodes[node].handle(self.now, input);
        for o in outs {
            match o {
                Output::Send { to, wire } => self.send(node, to as usize, wire),
                // Gossip, as a full mesh: to every other node, with the same faults.
                Output::Publish(wire) => {
                    for to in 0..self.nodes.len() {
                        if to != node {
                            self.transmit(node, to, wire.clone(), true);
                        }
                    }
                }
                // The node's store answers at once.
                Output::Lookup { peer, want } => {
                    let wire = self.stores[node].answer(want);
                    self.input(node, Input::Answer { to: peer, wire });
                }
                // Kept, then said so — unless the node "was too busy" and lost the page
                // (the state machine asks for it again).
                Output::Gathered {
                    peer,
                    cosignatures,
                    evidence,
                } => {
                    if self.rng.chance(self.faults.drop_percent) {
                        continue;
                    }
                    for c in cosignatures {
                        self.stores[node].keep_cosignature(c);
                    }
                    for e in evidence {
                        self.stores[node].keep_evidence(e);
                    }
                    self.input(node, Input::Kept { peer });
                }
                o => {
                    bridge |= !lazy && matches!(o, Output::Stored { .. });
                    match &o {
                        Output::Cosignature(c) => self.stores[node].keep_cosignature(*c),
                        Output::Evidence(e) => self.stores[node].keep_evidence(e.clone()),
                        _ => {}
                    }
                    self.outputs.push((node, o));
                }
            }
        }
        let held = self.nodes[node].in_memory();
        self.max_in_memory[node] = self.max_in_memory[node].max(held);
        if bridge {
            self.bridge(node);
        }
    }

    /// What the node's bridge does: appends to the store what the state machine fetched
    /// and checked, and tells it what was written.
    fn bridge(&mut self, node: usize) {
        for t in 0..self.towns.len() {
            let authority = self.towns[t].key.public_key();
            let stored = self.logs[node].log_size(&authority);
            let held = self.nodes[node]
                .progress()
                .iter()
                .find(|p| p.authority == authority)
                .map_or(0, |p| p.held);
            let Some(head) = self.nodes[node].head(&authority) else {
                continue;
            };
            if held <= stored {
                continue;
            }
            let page = self.nodes[node].range(&authority, stored, held);
            let outcome = self.logs[node]
                .append_replica(&head, stored, stored_entries(&page))
                .expect("the memory store appends");
            if outcome.appended > 0 {
                let size = stored + outcome.appended;
                self.input(node, Input::Written { authority, size });
            }
        }
    }

    /// Node `w` cosigns town `t`'s head now, and keeps its cosignature.
    pub fn cosign(&mut self, w: usize, t: usize, sticky: bool) {
        let cosignature = CosignedHead {
            head: self.towns[t].head(self.now).head,
            witness: self.towns[w].key.public_key(),
            timestamp_ms: self.now,
        }
        .sign(&self.towns[w].key);
        self.stores[w].keep_cosignature(cosignature);
        self.input(
            w,
            Input::Cosigned {
                cosignature,
                sticky,
            },
        );
    }

    /// Node `n` loses everything (its key kept): a fresh state machine and an empty
    /// store, connected again to every other node.
    pub fn wipe(&mut self, n: usize) {
        let keys: Vec<PublicKey> = self.towns.iter().map(|t| t.key.public_key()).collect();
        self.logs[n] = memory();
        self.nodes[n] = sim_node(keys[n], &keys, &self.logs[n]);
        self.stores[n] = Store::default();
        for other in (0..self.nodes.len()).filter(|o| *o != n) {
            self.input(other, Input::Disconnected(n as PeerId));
        }
    }

    /// Nodes `a` and `b` connect and prove who they speak for.
    pub fn link(&mut self, a: usize, b: usize) {
        for (x, y) in [(a, b), (b, a)] {
            self.input(x, Input::Connected(y as PeerId));
            let authority = self.towns[y].key.public_key();
            self.input(
                x,
                Input::Authenticated {
                    peer: y as PeerId,
                    authority,
                },
            );
        }
    }

    /// A point-to-point message, with the network's faults.
    fn send(&mut self, from: usize, to: usize, wire: Wire) {
        self.transmit(from, to, wire, false);
    }

    /// A message from `from` to `to` (dropped, duplicated, delayed by the faults).
    fn transmit(&mut self, from: usize, to: usize, wire: Wire, gossip: bool) {
        if self.cut[from] || self.cut[to] || self.rng.chance(self.faults.drop_percent) {
            return;
        }
        let copies = if self.rng.chance(self.faults.duplicate_percent) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = self.now + 1 + self.rng.below(self.faults.max_delay_ms);
            self.seq += 1;
            self.queue.push(Reverse((
                at,
                self.seq,
                to,
                from,
                WireBox(wire.clone(), gossip),
            )));
        }
    }

    /// Runs until `until` ms: deliveries, a tick every 100 ms.
    pub fn run(&mut self, until: u64) {
        while self.now < until {
            let next_tick = (self.now / 100 + 1) * 100;
            while let Some(Reverse((at, _, _, _, _))) = self.queue.peek() {
                if *at > next_tick {
                    break;
                }
                let Reverse((at, _, to, from, WireBox(wire, gossip))) =
                    self.queue.pop().expect("peeked");
                self.now = self.now.max(at);
                if !self.cut[to] {
                    let from = from as PeerId;
                    let input = if gossip {
                        Input::Gossip { from, wire }
                    } else {
                        Input::Received { from, wire }
                    };
                    self.input(to, input);
                }
            }
            self.now = next_tick;
            for i in 0..self.nodes.len() {
                self.input(i, Input::Tick);
            }
        }
    }

    /// Town `town` writes `n` events now, and its node learns of them.
    pub fn write(&mut self, town: usize, n: usize) {
        let input = self.towns[town].write(n, self.now);
        self.input(town, input);
    }

    /// Every node's store holds every log exactly as its town wrote it, and its state
    /// machine knows it holds it all.
    pub fn converged(&self) -> bool {
        self.nodes.iter().zip(&self.logs).all(|(node, logs)| {
            self.towns.iter().all(|t| {
                let k = t.key.public_key();
                let held = node
                    .progress()
                    .iter()
                    .find(|p| p.authority == k)
                    .map_or(0, |p| p.held);
                Storage::entries(&**logs, &k, 0, u64::MAX).expect("entries") == t.entries
                    && held == t.entries.len() as u64
            })
        })
    }

    /// How many penalties the nodes gave so far.
    pub fn penalties(&self) -> usize {
        self.outputs
            .iter()
            .filter(|(_, o)| matches!(o, Output::Penalise { .. }))
            .count()
    }
}

/// How many seeds a seeded test runs: `PALABRE_SIM_SEEDS`, 12 if unset.
pub fn n_seeds() -> u64 {
    std::env::var("PALABRE_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}
