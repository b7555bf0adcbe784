//! The replication state machine in a seeded simulation: 5 to 12 towns on a network
//! that drops, duplicates, delays and reorders messages, logs growing while they sync,
//! a node cut off and back, a rogue peer, an equivocating town. Every honest run must
//! end with every node holding every log exactly as its town wrote it. A failing run
//! names its seed; `PALABRE_SIM_SEEDS` sets how many seeds run (default 12).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;

use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::{AuthorityBody, Body, CredentialBody, Event};
use palabre_core::head::{Cosignature, CosignedHead, Equivocation, SignedTreeHead, TreeHead};
use palabre_core::merkle::{self, MemoryTree};
use palabre_net::proto::{CosignatureKey, Input, Node, Output, PeerId, Want, Wire};
use palabre_store::{Entry, MemoryStorage, Storage, stored_entry};

/// xorshift64*: small, seeded, good enough to pick faults.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn town_key(i: u64) -> SecretKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    SecretKey::from_seed(&seed)
}

/// A town's own log as it writes it.
struct Town {
    key: SecretKey,
    entries: Vec<Vec<u8>>,
    tree: MemoryTree,
    n_written: u64,
}

impl Town {
    fn new(i: u64) -> Town {
        Town {
            key: town_key(i),
            entries: Vec::new(),
            tree: MemoryTree::new(),
            n_written: 0,
        }
    }

    /// Appends `n` events (its declaration first) and returns the input for its node.
    fn write(&mut self, n: usize, at: u64) -> Input {
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

    fn head(&self, at: u64) -> SignedTreeHead {
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
#[derive(Clone, Copy)]
struct Faults {
    drop_percent: u64,
    duplicate_percent: u64,
    max_delay_ms: u64,
}

/// A message on its way: (delivery time, sequence, to, from, message), earliest first.
type InFlight = Reverse<(u64, u64, usize, usize, WireBox)>;

struct Sim {
    rng: Rng,
    nodes: Vec<Node>,
    towns: Vec<Town>,
    queue: BinaryHeap<InFlight>,
    seq: u64,
    now: u64,
    faults: Faults,
    /// Nodes currently cut off from everyone.
    cut: Vec<bool>,
    outputs: Vec<(usize, Output)>,
    /// What each node's store keeps of cosignatures and evidence (the node's side of
    /// `Lookup`, `Gathered` and `Kept`).
    stores: Vec<Store>,
    /// Each node's store of logs (the memory store: core's admission, as sled's), which
    /// its state machine reads; the simulation writes to it as the node's bridge does.
    logs: Vec<Arc<dyn Storage>>,
    /// Nodes whose bridge writes only at ticks (so fetched entries wait in memory).
    lazy: Vec<bool>,
    /// The most entries each node's state machine held in memory at once.
    max_in_memory: Vec<usize>,
}

/// A state machine for `me`, reading the logs it holds from `logs`.
fn sim_node(me: PublicKey, keys: &[PublicKey], logs: &Arc<dyn Storage>) -> Node {
    Node::new(me, keys.iter().copied(), Box::new(Arc::clone(logs)))
}

/// An empty store of logs, for a network that serves none.
fn empty() -> Box<dyn palabre_net::proto::Logs> {
    Box::new(memory())
}

/// A state machine with an empty store of its own.
fn bare_node(me: PublicKey, keys: &[PublicKey]) -> Node {
    sim_node(me, keys, &memory())
}

/// An empty memory store of logs.
fn memory() -> Arc<dyn Storage> {
    Arc::new(MemoryStorage::default())
}

fn stored_entries(bytes: &[Vec<u8>]) -> Vec<Entry> {
    bytes
        .iter()
        .map(|b| stored_entry(b.clone()).expect("a stored entry"))
        .collect()
}

/// Appends what the store of a log does not hold yet of `entries` (from `start`).
fn keep_log(logs: &dyn Storage, head: &SignedTreeHead, start: u64, entries: &[Vec<u8>]) {
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
#[derive(Default, Clone)]
struct Store {
    cosignatures: BTreeMap<(u64, [u8; 32], [u8; 32]), Cosignature>,
    evidence: Vec<Equivocation>,
}

/// Cosignatures per answer in the simulation (small, so that gathering takes pages).
const SIM_PAGE: usize = 4;

impl Store {
    fn keep_cosignature(&mut self, c: Cosignature) {
        self.cosignatures
            .entry(CosignatureKey::of(&c).order())
            .or_insert(c);
    }

    fn keep_evidence(&mut self, e: Equivocation) {
        if !self.evidence.contains(&e) {
            self.evidence.push(e);
        }
    }

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

/// `Wire` in the queue (ordered by time and sequence only).
/// A message in flight, and whether it travels on gossip.
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
    fn new(seed: u64, n: usize, faults: Faults) -> Sim {
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

    fn input(&mut self, node: usize, input: Input) {
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
    fn cosign(&mut self, w: usize, t: usize, sticky: bool) {
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
    fn wipe(&mut self, n: usize) {
        let keys: Vec<PublicKey> = self.towns.iter().map(|t| t.key.public_key()).collect();
        self.logs[n] = memory();
        self.nodes[n] = sim_node(keys[n], &keys, &self.logs[n]);
        self.stores[n] = Store::default();
        for other in (0..self.nodes.len()).filter(|o| *o != n) {
            self.input(other, Input::Disconnected(n as PeerId));
        }
    }

    /// Nodes `a` and `b` connect and prove who they speak for.
    fn link(&mut self, a: usize, b: usize) {
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

    fn send(&mut self, from: usize, to: usize, wire: Wire) {
        self.transmit(from, to, wire, false);
    }

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
    fn run(&mut self, until: u64) {
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

    fn write(&mut self, town: usize, n: usize) {
        let input = self.towns[town].write(n, self.now);
        self.input(town, input);
    }

    /// Every node's store holds every log exactly as its town wrote it, and its state
    /// machine knows it holds it all.
    fn converged(&self) -> bool {
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

    fn penalties(&self) -> usize {
        self.outputs
            .iter()
            .filter(|(_, o)| matches!(o, Output::Penalise { .. }))
            .count()
    }
}

fn n_seeds() -> u64 {
    std::env::var("PALABRE_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

#[test]
fn every_replica_converges_on_a_bad_network() {
    for seed in 1..=n_seeds() {
        let mut rng = Rng(seed * 7919);
        let n = 5 + rng.below(8) as usize;
        let faults = Faults {
            drop_percent: 10 + rng.below(20),
            duplicate_percent: 5 + rng.below(15),
            max_delay_ms: 50 + rng.below(400),
        };
        let mut sim = Sim::new(seed, n, faults);
        // Every town declares itself and credentials residents, in bursts, while the
        // others already sync.
        for round in 0..6u64 {
            for t in 0..n {
                if round == 0 || sim.rng.chance(60) {
                    let k = 1 + sim.rng.below(40) as usize;
                    sim.write(t, k);
                }
            }
            sim.run((round + 1) * 700);
        }
        // Then quiet: it must converge.
        let mut until = sim.now;
        while !sim.converged() && until < 120_000 {
            until += 1_000;
            sim.run(until);
        }
        assert!(
            sim.converged(),
            "seed {seed}: {n} nodes did not converge by {} ms (faults: drop {}%, dup {}%, delay ≤ {} ms)",
            sim.now,
            faults.drop_percent,
            faults.duplicate_percent,
            faults.max_delay_ms
        );
        assert_eq!(
            sim.penalties(),
            0,
            "seed {seed}: honest peers were penalised"
        );
    }
}

#[test]
fn a_node_cut_off_during_the_vote_catches_up() {
    let faults = Faults {
        drop_percent: 5,
        duplicate_percent: 5,
        max_delay_ms: 100,
    };
    let mut sim = Sim::new(99, 6, faults);
    for t in 0..6 {
        sim.write(t, 10);
    }
    sim.run(1_000);
    sim.cut[3] = true;
    for t in 0..6 {
        sim.write(t, 25);
    }
    sim.run(5_000);
    assert!(!sim.converged(), "the cut node cannot have everything");
    sim.cut[3] = false;
    sim.run(20_000);
    assert!(sim.converged(), "the node caught up after it came back");
}

#[test]
fn a_rogue_peer_changes_nothing_and_is_penalised() {
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 20,
    };
    let mut sim = Sim::new(5, 5, faults);
    for t in 0..5 {
        sim.write(t, 8);
    }
    sim.run(3_000);
    assert!(sim.converged());
    let victim_town = sim.towns[2].key.public_key();
    let good = sim.towns[2].head(sim.now);
    // A forged head (bad signature), a page of garbage, and a head of an unknown log.
    let mut forged = good;
    forged.head.size += 5;
    let rogue: PeerId = 77;
    let mut outs = sim.nodes[0].handle(sim.now, Input::Connected(rogue));
    outs.extend(sim.nodes[0].handle(
        sim.now,
        Input::Received {
            from: rogue,
            wire: Wire::Head { head: forged },
        },
    ));
    let mut stranger = Town::new(1_000);
    let Input::Appended {
        head: stranger_head,
        ..
    } = stranger.write(3, sim.now)
    else {
        unreachable!("write gives an Appended input")
    };
    outs.extend(sim.nodes[0].handle(
        sim.now,
        Input::Received {
            from: rogue,
            wire: Wire::Head {
                head: stranger_head,
            },
        },
    ));
    outs.extend(sim.nodes[0].handle(
        sim.now,
        Input::Received {
            from: rogue,
            wire: Wire::Entries {
                authority: victim_town,
                start: 8,
                entries: vec![b"garbage".to_vec(); 3],
            },
        },
    ));
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::Penalise { peer, .. } if *peer == rogue)),
        "{outs:?}"
    );
    assert!(
        !outs.iter().any(|o| matches!(o, Output::Stored { .. })),
        "nothing stored from the rogue"
    );
    assert!(sim.converged(), "every replica is unchanged");
    assert!(
        sim.nodes[0]
            .range(&stranger.key.public_key(), 0, u64::MAX)
            .is_empty()
    );
}

#[test]
fn an_equivocating_town_is_caught() {
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 20,
    };
    let mut sim = Sim::new(11, 5, faults);
    for t in 0..5 {
        sim.write(t, 6);
    }
    sim.run(2_000);
    assert!(sim.converged());
    // Town 4 forks its log: another history of the same size, shown to node 0.
    let mut fork = Town::new(4);
    let Input::Appended { .. } = fork.write(3, 1) else {
        unreachable!("write gives an Appended input")
    };
    let _ = fork.write(3, 2); // a different 4th..6th entry (other times, other ids)
    let forked = fork.head(sim.now);
    assert_eq!(forked.head.size, 6);
    let honest = sim.towns[4].head(0);
    assert_ne!(forked.head.root, honest.head.root);
    sim.input(
        0,
        Input::Received {
            from: 4,
            wire: Wire::Head { head: forked },
        },
    );
    let proof = sim.outputs.iter().find_map(|(n, o)| match o {
        Output::Evidence(e) if *n == 0 => Some(e.clone()),
        _ => None,
    });
    let proof = proof.unwrap_or_else(|| panic!("no equivocation in {:?}", sim.outputs));
    assert_eq!(proof.first.head.size, proof.second.head.size);
    assert_eq!(proof.check(), Ok(()));
    // The proof reaches every other node, which checks it alone, once.
    sim.run(sim.now + 2_000);
    for n in 0..5 {
        let got = sim
            .outputs
            .iter()
            .filter(|(i, o)| *i == n && matches!(o, Output::Evidence(e) if *e == proof))
            .count();
        assert_eq!(got, 1, "node {n} reported the evidence {got} times");
    }
    assert_eq!(sim.penalties(), 0);
}

/// A smaller head off the history a node holds is caught too, with a prefix proof that
/// anyone can check.
#[test]
fn a_smaller_forked_head_is_caught_with_a_prefix_proof() {
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 20,
    };
    let mut sim = Sim::new(12, 3, faults);
    for t in 0..3 {
        sim.write(t, 8);
    }
    sim.run(2_000);
    assert!(sim.converged());
    let mut fork = Town::new(2);
    let _ = fork.write(2, 7);
    let _ = fork.write(2, 8);
    let forked = fork.head(sim.now);
    assert_eq!(forked.head.size, 4);
    sim.input(
        1,
        Input::Received {
            from: 2,
            wire: Wire::Head { head: forked },
        },
    );
    let proof = sim
        .outputs
        .iter()
        .find_map(|(_, o)| match o {
            Output::Evidence(e) => Some(e.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no equivocation in {:?}", sim.outputs));
    assert!(proof.prefix.is_some());
    assert_eq!(proof.check(), Ok(()));
}

/// Evidence that proves nothing, and cosignatures that do not verify, are refused and
/// cost the sender; a valid cosignature is passed on once.
#[test]
fn cosignatures_and_evidence_are_checked_before_they_travel() {
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 20,
    };
    let mut sim = Sim::new(13, 4, faults);
    for t in 0..4 {
        sim.write(t, 3);
    }
    sim.run(1_000);
    let head = sim.towns[1].head(0);
    let witness = &sim.towns[2].key;
    let c = palabre_core::head::CosignedHead {
        head: head.head,
        witness: witness.public_key(),
        timestamp_ms: 7,
    }
    .sign(witness);
    sim.input(
        2,
        Input::Cosigned {
            cosignature: c,
            sticky: false,
        },
    );
    sim.run(sim.now + 1_000);
    for n in [0, 1, 3] {
        let got = sim
            .outputs
            .iter()
            .filter(|(i, o)| *i == n && matches!(o, Output::Cosignature(x) if *x == c))
            .count();
        assert_eq!(got, 1, "node {n} got the cosignature {got} times");
    }
    let mut forged = c;
    forged.cosigned.timestamp_ms += 1;
    sim.input(
        0,
        Input::Received {
            from: 3,
            wire: Wire::Cosignature {
                cosignature: forged,
            },
        },
    );
    let nothing = palabre_core::head::Equivocation {
        first: head,
        second: head,
        prefix: None,
    };
    sim.input(
        0,
        Input::Received {
            from: 3,
            wire: Wire::Evidence { evidence: nothing },
        },
    );
    assert_eq!(sim.penalties(), 2);
    assert!(
        !sim.outputs
            .iter()
            .any(|(_, o)| matches!(o, Output::Evidence(_)))
    );
}

/// Three towns' networks on real loopback sockets (TCP + Noise + Yamux): logs written
/// in bursts on each replicate to the other two, byte for byte.
#[test]
fn three_towns_replicate_over_loopback_sockets() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut towns: Vec<Town> = (0..3).map(|i| Town::new(500 + i)).collect();
        let keys: Vec<PublicKey> = towns.iter().map(|t| t.key.public_key()).collect();
        let mut nets = Vec::new();
        let mut events = Vec::new();
        let stores: Vec<Arc<dyn Storage>> = (0..3).map(|_| memory()).collect();
        for (t, store) in towns.iter().zip(&stores) {
            let (net, ev) = palabre_net::shell::start(
                SecretKey::from_seed(&t.key.seed()),
                keys.clone(),
                "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"),
                Vec::new(),
                Box::new(Arc::clone(store)),
            )
            .await
            .expect("the network starts");
            nets.push(net);
            events.push(ev);
        }
        for i in 0..3 {
            for j in i + 1..3 {
                nets[i].dial(nets[j].addr.clone()).await.expect("dial");
            }
        }
        for round in 0..3u64 {
            for (i, t) in towns.iter_mut().enumerate() {
                let Input::Appended {
                    head,
                    start,
                    entries,
                } = t.write(10, round)
                else {
                    unreachable!("write gives an Appended input")
                };
                // Committed by the town's node first, as the node does.
                keep_log(&*stores[i], &head, start, &entries);
                nets[i]
                    .appended(head, start, entries)
                    .await
                    .expect("appended");
            }
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        'wait: loop {
            let mut all = true;
            for net in &nets {
                for t in &towns {
                    let held = net.entries(t.key.public_key()).await.expect("entries");
                    all &= held == t.entries;
                }
            }
            if all {
                break 'wait;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the three towns did not replicate each other's logs in time"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        for mut ev in events {
            while let Ok(e) = ev.try_recv() {
                assert!(
                    !matches!(e, palabre_net::shell::NetEvent::Penalised { .. }),
                    "{e:?}"
                );
            }
        }
    });
}

/// A peer that sends a message over the size limit is penalised by the shell (the codec
/// reads at most the limit, and reports rather than fails); the node carries on.
#[test]
fn oversized_messages_are_penalised() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let honest = town_key(900).public_key();
        let rogue = town_key(901).public_key();
        let (honest_key, rogue_key) = (town_key(900), town_key(901));
        let any: palabre_net::Multiaddr = "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr");
        let (net, mut events) =
            palabre_net::shell::start(honest_key, vec![rogue], any.clone(), Vec::new(), empty())
                .await
                .expect("starts");
        let (bad, _bad_events) = palabre_net::shell::start(
            rogue_key,
            vec![honest],
            any,
            vec![net.addr.clone()],
            empty(),
        )
        .await
        .expect("starts");
        let huge = Wire::Entries {
            authority: honest,
            start: 0,
            entries: vec![vec![b'x'; 5 * 1024 * 1024]],
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            bad.broadcast(huge.clone()).await.expect("broadcast");
            match tokio::time::timeout(std::time::Duration::from_secs(1), events.recv()).await {
                Ok(Some(palabre_net::shell::NetEvent::Penalised { reason, .. })) => {
                    assert_eq!(reason, "a message over the size limit");
                    break;
                }
                Ok(Some(_)) | Err(_) => {}
                Ok(None) => panic!("the honest node stopped"),
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the oversized message was never penalised"
            );
        }
    });
}

/// A node restarts: its store gives back the logs it held while its peers are already
/// announcing them and it is fetching them. Whatever arrives first, it ends with each
/// log exactly once, as written.
#[test]
fn a_restarted_node_restores_and_syncs_without_duplicating() {
    for seed in 0..n_seeds() {
        let faults = Faults {
            drop_percent: 0,
            duplicate_percent: 10,
            max_delay_ms: 30,
        };
        let mut sim = Sim::new(seed, 3, faults);
        for t in 0..3 {
            sim.write(t, 40);
        }
        sim.run(3_000);
        assert!(
            sim.converged(),
            "seed {seed}: no convergence before the restart"
        );
        // Node 1 restarts empty; its peers announce, it asks; then its store is read back.
        let keys: Vec<PublicKey> = sim.towns.iter().map(|t| t.key.public_key()).collect();
        sim.nodes[1] = sim_node(keys[1], &keys, &sim.logs[1]);
        for p in [0, 2] {
            sim.input(1, Input::Connected(p as PeerId));
            let authority = keys[p];
            sim.input(
                1,
                Input::Authenticated {
                    peer: p as PeerId,
                    authority,
                },
            );
        }
        let until = sim.now + 5 + sim.rng.below(60);
        sim.run(until);
        for t in 0..3 {
            let town = &sim.towns[t];
            let restore = Input::Appended {
                head: town.head(0),
                start: 0,
                entries: town.entries.clone(),
            };
            sim.input(1, restore);
        }
        sim.write(0, 5);
        sim.run(sim.now + 3_000);
        assert!(sim.converged(), "seed {seed}: the restarted node diverged");
    }
}

/// Gossip alone (gossipsub, no point-to-point copy): a valid cosignature published by a
/// peer is validated and delivered; a forged head is rejected and costs its publisher.
#[test]
fn gossip_is_validated_before_it_is_delivered() {
    use palabre_net::shell::NetEvent;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (a, b) = (town_key(910), town_key(911));
        let any: palabre_net::Multiaddr = "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr");
        let both = vec![a.public_key(), b.public_key()];
        let (honest, mut events) = palabre_net::shell::start(
            town_key(910),
            both.clone(),
            any.clone(),
            Vec::new(),
            empty(),
        )
        .await
        .expect("starts");
        let (publisher, _ev) =
            palabre_net::shell::start(town_key(911), both, any, vec![honest.addr.clone()], empty())
                .await
                .expect("starts");
        let head = palabre_core::head::TreeHead {
            authority: b.public_key(),
            size: 3,
            root: palabre_core::ids::Hash([4; 32]),
            timestamp_ms: 5,
        };
        let cosignature = palabre_core::head::CosignedHead {
            head,
            witness: b.public_key(),
            timestamp_ms: 6,
        }
        .sign(&b);
        let mut forged = head.sign(&b);
        forged.head.size = 4;
        // The mesh takes a few heartbeats to form: publish again until it arrives.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let (mut delivered, mut rejected) = (false, false);
        while !(delivered && rejected) {
            assert!(
                std::time::Instant::now() < deadline,
                "gossip: delivered {delivered}, rejected {rejected}"
            );
            let mut c = cosignature;
            // A new message each time (ids are content hashes: a repeat is a duplicate).
            c.cosigned.timestamp_ms += std::time::UNIX_EPOCH
                .elapsed()
                .map_or(0, |d| d.as_millis() as u64);
            let c = palabre_core::head::CosignedHead { ..c.cosigned }.sign(&b);
            publisher
                .publish(Wire::Cosignature { cosignature: c })
                .await
                .expect("publish");
            publisher
                .publish(Wire::Head { head: forged })
                .await
                .expect("publish");
            let wait = tokio::time::sleep(std::time::Duration::from_millis(300));
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    () = &mut wait => break,
                    e = events.recv() => match e {
                        Some(NetEvent::Cosignature(_)) => delivered = true,
                        Some(NetEvent::Penalised { reason, .. }) => {
                            rejected |= reason == "an invalid gossip message";
                        }
                        Some(_) => {}
                        None => panic!("the honest node stopped"),
                    },
                }
            }
        }
    });
}

/// A head relayed on gossip says nothing of what the relay holds: it is never asked
/// for the entries (it could not answer); those who announced heads directly are.
#[test]
fn a_gossip_relay_is_not_asked_for_entries() {
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 10,
    };
    let mut sim = Sim::new(21, 3, faults);
    let Input::Appended { head, .. } = sim.towns[2].write(6, 0) else {
        unreachable!("write gives an Appended input")
    };
    let outs = sim.nodes[0].handle(
        sim.now,
        Input::Gossip {
            from: 1,
            wire: Wire::Head { head },
        },
    );
    assert!(
        !outs.iter().any(|o| matches!(
            o,
            Output::Send {
                to: 1,
                wire: Wire::GetEntries { .. }
            }
        )),
        "{outs:?}"
    );
    // Town 2's node learns its own log; everyone converges from direct announcements.
    let entries = sim.towns[2].entries.clone();
    sim.input(
        2,
        Input::Appended {
            head,
            start: 0,
            entries,
        },
    );
    sim.run(sim.now + 2_000);
    assert!(sim.converged());
}

/// Entries go only to peers that proved they speak for a town of the federation.
#[test]
fn only_federated_towns_get_sync_answers() {
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 10,
    };
    let mut sim = Sim::new(31, 2, faults);
    sim.write(0, 4);
    sim.run(1_000);
    let authority = sim.towns[0].key.public_key();
    let ask = |node: &mut Node, from: PeerId, now: u64| {
        node.handle(
            now,
            Input::Received {
                from,
                wire: Wire::GetEntries {
                    authority,
                    start: 0,
                    end: 4,
                },
            },
        )
    };
    let answered = |outs: &[Output], to: PeerId| {
        outs.iter()
            .any(|o| matches!(o, Output::Send { to: t, wire: Wire::Entries { .. } } if *t == to))
    };
    let now = sim.now;
    let node = &mut sim.nodes[0];
    // A peer that never said who it is.
    node.handle(now, Input::Connected(50));
    assert!(!answered(&ask(node, 50, now), 50));
    // A peer that speaks for a town outside the federation.
    node.handle(now, Input::Connected(51));
    node.handle(
        now,
        Input::Authenticated {
            peer: 51,
            authority: town_key(777).public_key(),
        },
    );
    assert!(!answered(&ask(node, 51, now), 51));
    // A town of the federation.
    assert!(answered(&ask(node, 1, now), 1));
}

/// A fresh node catching up a long log keeps it as it goes: every few entries the
/// holder proves the prefix consistent with the far head, and the prefix is stored.
#[test]
fn a_long_log_is_kept_as_it_is_fetched() {
    for seed in 0..n_seeds() {
        let faults = Faults {
            drop_percent: 5,
            duplicate_percent: 5,
            max_delay_ms: 30,
        };
        let mut sim = Sim::new(seed, 3, faults);
        let keys: Vec<PublicKey> = sim.towns.iter().map(|t| t.key.public_key()).collect();
        sim.nodes[1] = sim_node(keys[1], &keys, &sim.logs[1]).prove_every(1_000);
        for (p, authority) in keys.iter().enumerate() {
            if p != 1 {
                sim.input(1, Input::Connected(p as PeerId));
                sim.input(
                    1,
                    Input::Authenticated {
                        peer: p as PeerId,
                        authority: *authority,
                    },
                );
            }
        }
        // Longer than a page (2,048 entries), so the target is reached in several.
        sim.write(0, 5_000);
        sim.run(20_000);
        assert!(
            sim.converged(),
            "seed {seed}: the long log was not replicated"
        );
        let kept: Vec<u64> = sim
            .outputs
            .iter()
            .filter_map(|(n, o)| match o {
                Output::Stored { authority, size } if *n == 1 && *authority == keys[0] => {
                    Some(*size)
                }
                _ => None,
            })
            .collect();
        assert!(
            kept.len() >= 3 && kept.windows(2).all(|w| w[0] < w[1]),
            "seed {seed}: kept at {kept:?}"
        );
        assert_eq!(sim.penalties(), 0, "seed {seed}");
    }
}

/// A node that lost its store (its key kept) gathers back, page by page on a lossy
/// network, every cosignature and proof of equivocation its neighbours keep — what it
/// had witnessed and received before — and its own log by sync; honest peers are never
/// penalised, and nothing is left half-asked.
#[test]
fn a_node_that_lost_its_store_gathers_what_it_witnessed() {
    for seed in 1..=n_seeds().min(4) {
        let faults = Faults {
            drop_percent: 10,
            duplicate_percent: 10,
            max_delay_ms: 150,
        };
        let n = 4;
        let mut sim = Sim::new(seed, n, faults);
        // Logs grow in rounds; after each, every node witnesses every other log.
        for round in 0..4 {
            for t in 0..n {
                sim.write(t, 3);
            }
            let mut until = sim.now;
            while !sim.converged() {
                until += 500;
                sim.run(until);
                assert!(until < 120_000, "seed {seed}: no convergence");
            }
            for w in 0..n {
                for t in (0..n).filter(|t| *t != w) {
                    sim.cosign(w, t, round == 3);
                }
            }
            sim.run(sim.now + 1_000);
        }
        // Town 1 shows node 0 another history: every node comes to hold the proof.
        let mut fork = Town::new(1);
        let _ = fork.write(2, 1);
        let _ = fork.write(sim.towns[1].entries.len() - 2, 2);
        let forked = fork.head(sim.now);
        sim.input(
            0,
            Input::Received {
                from: 1,
                wire: Wire::Head { head: forked },
            },
        );
        sim.run(sim.now + 3_000);
        let held = |store: &Store| {
            (
                store.cosignatures.keys().copied().collect::<Vec<_>>(),
                store.evidence.len(),
            )
        };
        let before = held(&sim.stores[3]);
        assert!(before.0.len() >= 4 * (n - 1) * 3, "seed {seed}: {before:?}");
        assert_eq!(before.1, 1, "seed {seed}");
        let penalties = sim.penalties();

        // Node 3 loses its store and is told to gather before any peer is back.
        sim.wipe(3);
        sim.input(3, Input::Gather);
        for other in 0..3 {
            sim.link(3, other);
        }
        let mut until = sim.now;
        loop {
            until += 500;
            sim.run(until);
            let g = sim.nodes[3].gathering();
            if g.asking == 0 && sim.converged() {
                assert_eq!((g.done, g.failed), (3, 0), "seed {seed}");
                break;
            }
            assert!(
                until < 300_000,
                "seed {seed}: the gathering never ended: {g:?}"
            );
        }
        let mut neighbours = Store::default();
        for s in &sim.stores[..3] {
            for c in s.cosignatures.values() {
                neighbours.keep_cosignature(*c);
            }
            for e in &s.evidence {
                neighbours.keep_evidence(e.clone());
            }
        }
        let after = held(&sim.stores[3]);
        assert_eq!(after, held(&neighbours), "seed {seed}");
        // What it held before and the neighbours held too is back (under a lossy flood
        // a cosignature may have reached it alone: then it was lost with its disk).
        for key in &before.0 {
            if neighbours.cosignatures.contains_key(key) {
                assert!(after.0.contains(key), "seed {seed}: {key:?} lost");
            }
        }
        assert_eq!(after.1, 1, "seed {seed}: the evidence came back");
        assert_eq!(
            sim.penalties(),
            penalties,
            "seed {seed}: honest peers penalised"
        );
    }
}

/// A peer that answers a gathering with a cosignature that does not verify, out of
/// order, or of another log, is penalised and given up on; answers nobody asked for are
/// dropped; a town outside the federation gets nothing looked up for it.
#[test]
fn a_bad_gathering_answer_is_refused() {
    let keys: Vec<SecretKey> = (0..3).map(town_key).collect();
    let federation: Vec<PublicKey> = keys.iter().map(SecretKey::public_key).collect();
    // Logs are gathered in key order: the first asked is the smallest key's.
    let first = (0..3).min_by_key(|i| federation[*i]).expect("three towns");
    let other = (first + 1) % 3;
    let cosign = |t: usize, size: u64| {
        let w = if t == 1 { 2 } else { 1 };
        CosignedHead {
            head: TreeHead {
                authority: federation[t],
                size,
                root: palabre_core::ids::Hash([size as u8; 32]),
                timestamp_ms: 5,
            },
            witness: federation[w],
            timestamp_ms: 6,
        }
        .sign(&keys[w])
    };
    let good = [cosign(first, 1), cosign(first, 2)];
    let mut forged = cosign(first, 3);
    forged.cosigned.timestamp_ms += 1;
    let pages: [(&str, Vec<Cosignature>); 3] = [
        ("forged", vec![good[0], forged]),
        ("out of order", vec![good[1], good[0]]),
        ("of another log", vec![cosign(other, 1)]),
    ];
    for (what, page) in pages {
        let mut node = bare_node(federation[0], &federation);
        let _ = node.handle(0, Input::Gather);
        let _ = node.handle(0, Input::Connected(1));
        let outs = node.handle(
            0,
            Input::Authenticated {
                peer: 1,
                authority: federation[1],
            },
        );
        let asked = outs.iter().find_map(|o| match o {
            Output::Send {
                to: 1,
                wire: Wire::GetCosignatures { authority, after },
            } => Some((*authority, *after)),
            _ => None,
        });
        assert_eq!(asked, Some((federation[first], None)), "{outs:?}");
        // An answer about another log than the one asked: not awaited, dropped.
        let dropped = node.handle(
            1,
            Input::Received {
                from: 1,
                wire: Wire::Cosignatures {
                    authority: federation[other],
                    after: None,
                    cosignatures: vec![],
                    complete: true,
                },
            },
        );
        assert!(dropped.is_empty(), "{what}: {dropped:?}");
        let outs = node.handle(
            2,
            Input::Received {
                from: 1,
                wire: Wire::Cosignatures {
                    authority: federation[first],
                    after: None,
                    cosignatures: page,
                    complete: true,
                },
            },
        );
        assert!(
            outs.iter()
                .any(|o| matches!(o, Output::Penalise { peer: 1, .. })),
            "{what}: {outs:?}"
        );
        assert!(
            !outs.iter().any(|o| matches!(o, Output::Gathered { .. })),
            "{what}: {outs:?}"
        );
        assert_eq!(node.gathering().failed, 1, "{what}");
        assert_eq!(node.gathering().asking, 0, "{what}");
    }
    // A good page is handed to the node, and the next request waits until it is kept.
    let mut node = bare_node(federation[0], &federation);
    let _ = node.handle(0, Input::Connected(1));
    let _ = node.handle(
        0,
        Input::Authenticated {
            peer: 1,
            authority: federation[1],
        },
    );
    let _ = node.handle(0, Input::Gather);
    let outs = node.handle(
        1,
        Input::Received {
            from: 1,
            wire: Wire::Cosignatures {
                authority: federation[first],
                after: None,
                cosignatures: good.to_vec(),
                complete: false,
            },
        },
    );
    assert!(
        matches!(outs.as_slice(), [Output::Gathered { peer: 1, cosignatures, .. }] if *cosignatures == good),
        "{outs:?}"
    );
    let outs = node.handle(2, Input::Kept { peer: 1 });
    let next = Wire::GetCosignatures {
        authority: federation[first],
        after: Some(CosignatureKey::of(&good[1])),
    };
    assert_eq!(
        outs,
        vec![Output::Send { to: 1, wire: next }],
        "the next page starts after the last one kept"
    );
    // A stranger's requests are not looked up; a federated town's are.
    let stranger = town_key(50).public_key();
    let mut node = bare_node(federation[0], &federation);
    for (peer, authority) in [(7, stranger), (8, federation[2])] {
        let _ = node.handle(0, Input::Connected(peer));
        let _ = node.handle(0, Input::Authenticated { peer, authority });
        let outs = node.handle(
            0,
            Input::Received {
                from: peer,
                wire: Wire::GetEvidence {
                    authority: federation[1],
                    skip: 0,
                },
            },
        );
        let looked_up = outs
            .iter()
            .any(|o| matches!(o, Output::Lookup { peer: p, .. } if *p == peer));
        assert_eq!(looked_up, authority != stranger, "{outs:?}");
    }
}

/// A fresh node replicates a log larger than its window: the state machine never holds
/// more than the window of entries in memory (those fetched that its store has not
/// taken yet, those awaiting a signed root), whatever the log's length, and none at
/// the end; the store holds the log, exactly.
#[test]
fn a_long_replica_is_held_in_the_store_not_in_memory() {
    let faults = Faults {
        drop_percent: 2,
        duplicate_percent: 2,
        max_delay_ms: 20,
    };
    let mut sim = Sim::new(11, 2, faults);
    let keys: Vec<PublicKey> = sim.towns.iter().map(|t| t.key.public_key()).collect();
    let (prove_every, window) = (500, 300);
    sim.nodes[1] = sim_node(keys[1], &keys, &sim.logs[1])
        .prove_every(prove_every)
        .max_unstored(window);
    // Its bridge writes only every tick: fetched pages pile up to the window between.
    sim.lazy[1] = true;
    sim.link(0, 1);
    let n = 12_000;
    sim.write(0, n);
    sim.write(1, 3);
    sim.run(120_000);
    assert!(sim.converged(), "the fresh node replicated the log");
    // At most: the window, a consistency-proven run moved in at once, and a page.
    let page = palabre_net::proto::MAX_SYNC_PAGE_ENTRIES as usize;
    let bound = window + 2 * (prove_every + page);
    assert!(bound < n / 2, "the window is smaller than the log");
    assert!(
        sim.max_in_memory[1] <= bound,
        "held {} entries in memory at once (bound {bound})",
        sim.max_in_memory[1]
    );
    assert!(
        sim.max_in_memory[1] > 0,
        "entries did pass through the window"
    );
    assert_eq!(sim.nodes[1].in_memory(), 0, "nothing held once stored");
}

/// A replica keeps what it fetched in sled on disk; restarted (the store closed and
/// opened again, a new state machine told only what the store holds), it serves sync
/// pages of that log from the store to a node that can get it from nowhere else.
#[test]
fn a_restarted_replica_serves_sync_pages_from_its_store() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let open = || -> Arc<dyn Storage> {
        Arc::new(
            palabre_store::SledStorage::open(dir.path(), palabre_store::StoreConfig::default())
                .expect("sled opens"),
        )
    };
    let faults = Faults {
        drop_percent: 0,
        duplicate_percent: 0,
        max_delay_ms: 10,
    };
    let mut sim = Sim::new(4, 3, faults);
    let keys: Vec<PublicKey> = sim.towns.iter().map(|t| t.key.public_key()).collect();
    sim.logs[1] = open();
    sim.nodes[1] = sim_node(keys[1], &keys, &sim.logs[1]);
    sim.link(0, 1);
    sim.cut[2] = true;
    let n = 5_000;
    sim.write(0, n);
    sim.run(30_000);
    let town0 = sim.towns[0].entries.clone();
    let held = |logs: &Arc<dyn Storage>| {
        Storage::entries(&**logs, &keys[0], 0, u64::MAX).expect("entries")
    };
    assert_eq!(
        held(&sim.logs[1]),
        town0,
        "node 1 replicated town 0 into sled"
    );

    // Node 1 restarts: its state machine and its store go, the store opens again.
    sim.nodes[1] = bare_node(keys[1], &keys);
    sim.logs[1] = memory();
    sim.logs[1] = open();
    sim.nodes[1] = sim_node(keys[1], &keys, &sim.logs[1]);
    // What the node does at start: hands over what its store holds, page by page.
    for k in &keys {
        let stored = sim.logs[1].log_size(k);
        let Some(head) = sim.logs[1].latest_head(k).expect("a head") else {
            continue;
        };
        for start in (0..stored).step_by(1_000) {
            let entries = Storage::entries(&*sim.logs[1], k, start, start + 1_000).expect("read");
            sim.input(
                1,
                Input::Appended {
                    head,
                    start,
                    entries,
                },
            );
        }
    }
    assert_eq!(
        sim.nodes[1].in_memory(),
        0,
        "the restarted node holds no entry"
    );

    // Town 0 goes away; node 2, empty, comes: node 1's store is the only source.
    sim.cut[0] = true;
    sim.cut[2] = false;
    sim.wipe(2);
    sim.link(1, 2);
    sim.run(sim.now + 30_000);
    assert_eq!(
        held(&sim.logs[2]),
        town0,
        "node 2 got town 0's log from node 1's store"
    );
    assert_eq!(sim.nodes[1].in_memory(), 0);
}

#[path = "net/rogue.rs"]
mod rogue;
