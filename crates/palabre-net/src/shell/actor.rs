//! The shell's actor: its loop only waits — swarm events, commands, a tick — and each
//! arm calls one `handle_*` method, which feeds [`proto::Node::handle`]; the outputs go
//! out through `Actor::apply`. It keeps the federation's links and scores peers, and
//! checks fetched pages on every core ([`EveryCore`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use libp2p::futures::StreamExt;
use libp2p::request_response;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, gossipsub};
use palabre_core::crypto::PublicKey;
use tokio::sync::mpsc;

use crate::penalty::{Admit, BAN, Penalties};
use crate::proto::{self, Input, Output, PeerId, Verdict, Wire};

use super::behaviour::{Ack, Behaviour, BehaviourEvent, Request, hello_holds};
use super::{Command, NetEvent, REDIAL, TICK};

/// Checks a page of fetched entries on every core (a page is thousands of signatures):
/// the state machine's [`proto::Verifier`] here, where threads are the shell's to spawn.
#[derive(Debug, Clone, Copy)]
pub(super) struct EveryCore;

impl proto::Verifier for EveryCore {
    fn all_verify(&self, authority: &PublicKey, entries: &[Vec<u8>]) -> bool {
        let ok = |e: &Vec<u8>| proto::entry_holds(authority, e);
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
}

/// Numbers libp2p peers for the state machine.
#[derive(Default)]
struct Peers {
    ids: HashMap<libp2p::PeerId, PeerId>,
    peers: HashMap<PeerId, libp2p::PeerId>,
}

impl Peers {
    fn id(&mut self, p: libp2p::PeerId) -> PeerId {
        let next = self.ids.len() as PeerId;
        let id = *self.ids.entry(p).or_insert(next);
        self.peers.insert(id, p);
        id
    }
}

/// Dialling and scoring: which federation addresses are connected, who misbehaves.
#[derive(Default)]
struct Links {
    wanted: Vec<Multiaddr>,
    /// Connections we dialled, by the address dialled.
    dialled: HashMap<libp2p::swarm::ConnectionId, Multiaddr>,
    connected: HashMap<Multiaddr, usize>,
    /// Fading penalties, refusals and message budgets (`penalty.rs`).
    penalties: Penalties<libp2p::PeerId>,
}

impl Links {
    fn is_banned(&mut self, p: &libp2p::PeerId) -> bool {
        self.penalties.is_banned(p, std::time::Instant::now())
    }

    /// Gives a penalty; true when the peer must now be refused.
    fn penalise(&mut self, p: libp2p::PeerId) -> bool {
        self.penalties.penalise(p, std::time::Instant::now())
    }
}

/// The network task: the swarm, the state machine, and what ties them, as an actor
/// whose loop only waits; each arm of its `select!` calls one `handle_*` method, and
/// whatever the state machine answers goes out through [`Actor::apply`].
struct Actor {
    swarm: libp2p::Swarm<Behaviour>,
    node: proto::Node,
    events: mpsc::Sender<NetEvent>,
    peers: Peers,
    links: Links,
    received_entries: Arc<AtomicU64>,
    hello: Wire,
    started: tokio::time::Instant,
}

pub(super) async fn run(
    swarm: libp2p::Swarm<Behaviour>,
    node: proto::Node,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetEvent>,
    wanted: Vec<Multiaddr>,
    received_entries: Arc<AtomicU64>,
    hello: Wire,
) {
    let actor = Actor {
        swarm,
        node,
        events,
        peers: Peers::default(),
        links: Links {
            wanted,
            ..Links::default()
        },
        received_entries,
        hello,
        started: tokio::time::Instant::now(),
    };
    actor.run(commands).await;
}

impl Actor {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut tick = tokio::time::interval(TICK);
        let mut redial = tokio::time::interval(REDIAL);
        loop {
            let outputs = tokio::select! {
                _ = tick.tick() => self.node.handle(self.now(), Input::Tick),
                _ = redial.tick() => self.handle_redial(),
                command = commands.recv() => match command {
                    None => return,
                    Some(c) => self.handle_command(c),
                },
                event = self.swarm.select_next_some() => self.handle_swarm_event(event),
            };
            self.apply(outputs);
        }
    }

    /// Milliseconds since the task started: the state machine's clock.
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Dials again every federation address not connected nor being dialled.
    fn handle_redial(&mut self) -> Vec<Output> {
        let links = &mut self.links;
        let swarm = &mut self.swarm;
        for addr in links.wanted.clone() {
            if links.connected.get(&addr).copied().unwrap_or(0) == 0
                && !links.dialled.values().any(|a| *a == addr)
            {
                let opts = libp2p::swarm::dial_opts::DialOpts::unknown_peer_id()
                    .address(addr.clone())
                    .build();
                let id = opts.connection_id();
                match swarm.dial(opts) {
                    Ok(()) => {
                        links.dialled.insert(id, addr);
                    }
                    Err(e) => tracing::debug!("dialling {addr}: {e}"),
                }
            }
        }
        Vec::new()
    }

    /// A command from the node's side ([`Net`]).
    fn handle_command(&mut self, command: Command) -> Vec<Output> {
        match command {
            Command::Dial(addr) => {
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    tracing::warn!("dialling {addr}: {e}");
                }
                Vec::new()
            }
            Command::Handle(input) => self.node.handle(self.now(), input),
            Command::Range {
                authority,
                start,
                end,
                reply,
            } => {
                let page = self.node.range(&authority, start, end);
                let _ = reply.send((self.node.head(&authority), page));
                Vec::new()
            }
            Command::Progress { reply } => {
                let _ = reply.send(self.node.progress());
                Vec::new()
            }
            Command::Gathering { reply } => {
                let _ = reply.send(self.node.gathering());
                Vec::new()
            }
            Command::Connected { reply } => {
                let _ = reply.send(self.node.connected());
                Vec::new()
            }
            Command::Broadcast(wire) => {
                let connected: Vec<libp2p::PeerId> =
                    self.swarm.connected_peers().copied().collect();
                for p in connected {
                    self.swarm
                        .behaviour_mut()
                        .sync
                        .send_request(&p, Request::Wire(Box::new(wire.clone())));
                }
                Vec::new()
            }
            Command::Publish(wire) => vec![Output::Publish(wire)],
        }
    }

    /// What the swarm reports: connections, requests from peers, gossip.
    fn handle_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) -> Vec<Output> {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                if let Some(addr) = self.links.dialled.get(&connection_id) {
                    *self.links.connected.entry(addr.clone()).or_default() += 1;
                }
                if self.links.is_banned(&peer_id) {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    Vec::new()
                } else if num_established.get() == 1 {
                    self.swarm
                        .behaviour_mut()
                        .sync
                        .send_request(&peer_id, Request::Wire(Box::new(self.hello.clone())));
                    let id = self.peers.id(peer_id);
                    self.node.handle(self.now(), Input::Connected(id))
                } else {
                    Vec::new()
                }
            }
            SwarmEvent::OutgoingConnectionError { connection_id, .. } => {
                self.links.dialled.remove(&connection_id);
                Vec::new()
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                if let Some(addr) = self.links.dialled.remove(&connection_id)
                    && let Some(n) = self.links.connected.get_mut(&addr)
                {
                    *n = n.saturating_sub(1);
                }
                if num_established == 0 {
                    self.links.penalties.disconnected(&peer_id);
                    let id = self.peers.id(peer_id);
                    self.node.handle(self.now(), Input::Disconnected(id))
                } else {
                    Vec::new()
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            })) => self.handle_request(peer, request, channel),
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.handle_gossip(propagation_source, message_id, message),
            _ => Vec::new(),
        }
    }

    /// A peer's message (every one is acknowledged; what it leads to comes as requests).
    fn handle_request(
        &mut self,
        peer: libp2p::PeerId,
        request: Request,
        channel: request_response::ResponseChannel<Ack>,
    ) -> Vec<Output> {
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, Ack {});
        let from = self.peers.id(peer);
        if self.links.is_banned(&peer) {
            return Vec::new();
        }
        match self
            .links
            .penalties
            .message(peer, std::time::Instant::now())
        {
            Admit::Read => {}
            Admit::Drop => return Vec::new(),
            Admit::DropAndPenalise => {
                return vec![Output::Penalise {
                    peer: from,
                    reason: "a flood of messages",
                }];
            }
        }
        match request {
            Request::Wire(wire) if matches!(*wire, Wire::Hello { .. }) => match *wire {
                Wire::Hello { authority, sig } if hello_holds(&peer, &authority, &sig) => {
                    self.node.handle(
                        self.now(),
                        Input::Authenticated {
                            peer: from,
                            authority,
                        },
                    )
                }
                _ => vec![Output::Penalise {
                    peer: from,
                    reason: "a hello not signed for this peer",
                }],
            },
            Request::Wire(wire) => {
                if let Wire::Entries { entries, .. } = &*wire {
                    self.received_entries
                        .fetch_add(entries.len() as u64, Ordering::Relaxed);
                }
                self.node
                    .handle(self.now(), Input::Received { from, wire: *wire })
            }
            Request::Unreadable(reason) => vec![Output::Penalise { peer: from, reason }],
        }
    }

    /// A gossip message: validated (gossipsub relays only what is accepted), then handled.
    fn handle_gossip(
        &mut self,
        propagation_source: libp2p::PeerId,
        message_id: gossipsub::MessageId,
        message: gossipsub::Message,
    ) -> Vec<Output> {
        let wire = Wire::decode(&message.data);
        let verdict = match &wire {
            _ if self.links.is_banned(&propagation_source) => Verdict::Ignore,
            Some(w)
                if w.topic()
                    .is_some_and(|t| message.topic == gossipsub::IdentTopic::new(t).hash()) =>
            {
                self.node.check(w)
            }
            _ => Verdict::Reject,
        };
        let acceptance = match verdict {
            Verdict::Accept => gossipsub::MessageAcceptance::Accept,
            Verdict::Reject => gossipsub::MessageAcceptance::Reject,
            Verdict::Ignore => gossipsub::MessageAcceptance::Ignore,
        };
        self.swarm
            .behaviour_mut()
            .gossip
            .report_message_validation_result(&message_id, &propagation_source, acceptance);
        let from = self.peers.id(propagation_source);
        match (verdict, wire) {
            (Verdict::Accept, Some(wire)) => {
                self.node.handle(self.now(), Input::Gossip { from, wire })
            }
            (Verdict::Reject, _) => vec![Output::Penalise {
                peer: from,
                reason: "an invalid gossip message",
            }],
            _ => Vec::new(),
        }
    }

    /// Carries out what the state machine decided.
    fn apply(&mut self, outputs: Vec<Output>) {
        let (swarm, peers, links, events) =
            (&mut self.swarm, &self.peers, &mut self.links, &self.events);
        for o in outputs {
            match o {
                Output::Send { to, wire } => {
                    if let Some(peer) = peers.peers.get(&to).copied() {
                        swarm
                            .behaviour_mut()
                            .sync
                            .send_request(&peer, Request::Wire(Box::new(wire)));
                    }
                }
                Output::Publish(wire) => {
                    let Some(topic) = wire.topic() else {
                        continue;
                    };
                    let Ok(data) = serde_json::to_vec(&wire) else {
                        continue;
                    };
                    // Fails while the mesh forms, or for a message already published
                    // (content-hash ids): gossip is best effort, sync catches up.
                    if let Err(e) = swarm
                        .behaviour_mut()
                        .gossip
                        .publish(gossipsub::IdentTopic::new(topic), data)
                    {
                        tracing::trace!("gossip on {topic}: {e}");
                    }
                }
                Output::Stored { authority, size } => {
                    let _ = events.try_send(NetEvent::Stored { authority, size });
                }
                Output::Evidence(e) => {
                    let _ = events.try_send(NetEvent::Evidence(Box::new(e)));
                }
                Output::Cosignature(c) => {
                    let _ = events.try_send(NetEvent::Cosignature(Box::new(c)));
                }
                // Lost when the node is too busy: the peer asks again, the page is asked
                // again (the state machine's timeouts).
                Output::Lookup { peer, want } => {
                    let _ = events.try_send(NetEvent::Lookup { peer, want });
                }
                Output::Gathered {
                    peer,
                    cosignatures,
                    evidence,
                } => {
                    let _ = events.try_send(NetEvent::Gathered {
                        peer,
                        cosignatures,
                        evidence,
                    });
                }
                Output::Penalise { peer, reason } => {
                    let libp2p_peer = peers.peers.get(&peer).copied();
                    let name = libp2p_peer.map_or_else(|| peer.to_string(), |p| p.to_string());
                    tracing::warn!("peer {name}: {reason}");
                    if let Some(p) = libp2p_peer
                        && links.penalise(p)
                    {
                        tracing::warn!("peer {name}: refused for {} s", BAN.as_secs());
                        let _ = swarm.disconnect_peer_id(p);
                    }
                    let _ = events.try_send(NetEvent::Penalised { peer: name, reason });
                }
            }
        }
    }
}
