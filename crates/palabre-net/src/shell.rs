//! The libp2p shell around [`proto::Node`]: TCP + Noise + Yamux, identify, and a
//! request-response protocol (`/palabre/sync/1`, JSON) that carries the state machine's
//! messages. It runs as an actor (`Actor`): its loop only waits — swarm events, commands,
//! a tick — and each arm calls one `handle_*` method, which feeds `Node::handle`; the
//! outputs go out through `Actor::apply`. It decides nothing itself.
//!
//! The shell keeps dialling the federation's addresses (a peer that restarts is found
//! again) and scores peers: one that keeps sending invalid messages is disconnected and
//! refused for a while.

use std::collections::HashMap;
use std::time::Duration;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, StreamProtocol, gossipsub, identify, noise, tcp, yamux};
use palabre_core::crypto::{Domain, PublicKey, SecretKey, Signature};
use palabre_core::head::{Cosignature, SignedTreeHead};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::penalty::{Admit, Penalties};
use crate::proto::{
    self, Equivocation, GatherProgress, Input, Output, PeerId, Progress, Verdict, Want, Wire,
};

/// How often the state machine is ticked (announcements, retries).
pub const TICK: Duration = Duration::from_millis(250);
/// Connections stay open this long without traffic (libp2p's default is 10 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest request or response on the wire (a page of entries is cut at
/// `proto::MAX_PAGE_BYTES`, well below).
pub const MAX_MESSAGE_BYTES: u64 = 4 * 1024 * 1024;
/// How often unconnected federation addresses are dialled again.
pub const REDIAL: Duration = Duration::from_secs(3);
pub use crate::penalty::{BAN, MAX_PENALTIES};

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("the network could not be set up: {0}")]
    Setup(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: Multiaddr, reason: String },
    #[error("the network task has stopped")]
    Stopped,
}

/// The answer to every request: received (what it leads to comes as new requests).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ack {}

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
    gossip: gossipsub::Behaviour,
}

/// Gossip topics: signed heads, witness cosignatures, proofs of equivocation.
pub const TOPIC_HEADS: &str = "palabre/heads/1";
pub const TOPIC_COSIGNATURES: &str = "palabre/cosignatures/1";
pub const TOPIC_EVIDENCE: &str = "palabre/evidence/1";
/// Largest gossip message (a head or a cosignature is under 1 KiB; evidence with a
/// prefix proof a few).
pub const MAX_GOSSIP_BYTES: usize = 64 * 1024;

fn topic_of(wire: &Wire) -> Option<&'static str> {
    match wire {
        Wire::Head { .. } => Some(TOPIC_HEADS),
        Wire::Cosignature { .. } => Some(TOPIC_COSIGNATURES),
        Wire::Evidence { .. } => Some(TOPIC_EVIDENCE),
        Wire::GetEntries { .. }
        | Wire::Entries { .. }
        | Wire::GetConsistency { .. }
        | Wire::Consistency { .. }
        | Wire::GetCosignatures { .. }
        | Wire::Cosignatures { .. }
        | Wire::GetEvidence { .. }
        | Wire::EvidenceList { .. }
        | Wire::Hello { .. } => None,
    }
}

/// This node's hello: its authority, signed over its libp2p peer id (PROTOCOL.md,
/// "Transport").
fn hello(key: &SecretKey, local: &libp2p::PeerId) -> Wire {
    Wire::Hello {
        authority: key.public_key(),
        sig: key.sign(Domain::Peer, local.to_base58().as_bytes()),
    }
}

/// Whether `authority` signed `peer`'s id.
pub(crate) fn hello_holds(peer: &libp2p::PeerId, authority: &PublicKey, sig: &Signature) -> bool {
    authority
        .verify(Domain::Peer, peer.to_base58().as_bytes(), sig)
        .is_ok()
}

/// gossipsub with signed messages, validation by the state machine before relaying,
/// message ids that are the hash of the content (the same head published by two nodes
/// is one message), and peer scoring.
fn gossip(key: &libp2p::identity::Keypair) -> Result<gossipsub::Behaviour, String> {
    let config = gossipsub::ConfigBuilder::default()
        .validate_messages()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .message_id_fn(|m: &gossipsub::Message| {
            gossipsub::MessageId::from(palabre_core::ids::Hash::of(&m.data).to_hex())
        })
        .max_transmit_size(MAX_GOSSIP_BYTES)
        .build()
        .map_err(|e| e.to_string())?;
    let mut behaviour =
        gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), config)?;
    behaviour.with_peer_score(
        gossipsub::PeerScoreParams::default(),
        gossipsub::PeerScoreThresholds::default(),
    )?;
    for topic in [TOPIC_HEADS, TOPIC_COSIGNATURES, TOPIC_EVIDENCE] {
        behaviour
            .subscribe(&gossipsub::IdentTopic::new(topic))
            .map_err(|e| e.to_string())?;
    }
    Ok(behaviour)
}

/// A request as read off the wire: a message of the protocol, or why it is not one. The
/// codec never fails a read for what the peer sent (libp2p would drop such a failure
/// silently), so the loop can penalise the sender.
#[derive(Debug, Clone)]
enum Request {
    Wire(Box<Wire>),
    Unreadable(&'static str),
}

/// JSON messages of at most [`MAX_MESSAGE_BYTES`], one per stream.
#[derive(Debug, Clone, Default)]
struct SyncCodec;

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Ack;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut bytes = Vec::new();
        io.take(MAX_MESSAGE_BYTES + 1)
            .read_to_end(&mut bytes)
            .await?;
        if bytes.len() as u64 > MAX_MESSAGE_BYTES {
            return Ok(Request::Unreadable("a message over the size limit"));
        }
        Ok(match Wire::decode(&bytes) {
            Some(wire) => Request::Wire(Box::new(wire)),
            None => Request::Unreadable("a message that is not of the protocol"),
        })
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Ack>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut bytes = Vec::new();
        io.take(64).read_to_end(&mut bytes).await?;
        serde_json::from_slice(&bytes).map_err(io::Error::other)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let Request::Wire(wire) = request else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "only protocol messages are sent",
            ));
        };
        io.write_all(&serde_json::to_vec(&wire)?).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        ack: Ack,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&serde_json::to_vec(&ack)?).await?;
        io.close().await
    }
}

/// What the node asks of its network task.
#[derive(Debug)]
pub enum Command {
    Dial(Multiaddr),
    /// An input for the state machine as is (`Appended`, `Cosigned`).
    Handle(Input),
    /// Entries `start..end` held of a log, and the signed head they reach if it is held.
    Range {
        authority: PublicKey,
        start: u64,
        end: u64,
        reply: oneshot::Sender<(Option<SignedTreeHead>, Vec<Vec<u8>>)>,
    },
    /// How far every log is held.
    Progress {
        reply: oneshot::Sender<Vec<Progress>>,
    },
    /// How far the gathering of what peers witnessed is.
    Gathering {
        reply: oneshot::Sender<GatherProgress>,
    },
    /// The towns of the peers connected now (those that proved who they speak for).
    Connected {
        reply: oneshot::Sender<Vec<PublicKey>>,
    },
    /// Sends a message as is to every connected peer (tests play rogue peers with it).
    Broadcast(Wire),
    /// Publishes a message as is on its gossip topic, and nothing else (tests).
    Publish(Wire),
}

/// What the network task reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    Stored {
        authority: PublicKey,
        size: u64,
    },
    Evidence(Box<Equivocation>),
    Cosignature(Box<Cosignature>),
    Penalised {
        peer: String,
        reason: &'static str,
    },
    /// A peer asks for what the store keeps: answer with [`Net::answer`].
    Lookup {
        peer: PeerId,
        want: Want,
    },
    /// Checked cosignatures and evidence gathered from a peer: keep them, then
    /// [`Net::kept`].
    Gathered {
        peer: PeerId,
        cosignatures: Vec<Cosignature>,
        evidence: Vec<Equivocation>,
    },
}

/// A running network task.
#[derive(Debug, Clone)]
pub struct Net {
    commands: mpsc::Sender<Command>,
    /// Where it listens.
    pub addr: Multiaddr,
    /// Entries received in `entries` messages, wanted or not (duplicate amplification is
    /// this over the entries replicated).
    pub received_entries: Arc<AtomicU64>,
}

impl Net {
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), NetError> {
        self.send(Command::Dial(addr)).await
    }

    /// Entries `start..` of a log, checked elsewhere, reaching `head` (or on the way).
    pub async fn appended(
        &self,
        head: SignedTreeHead,
        start: u64,
        entries: Vec<Vec<u8>>,
    ) -> Result<(), NetError> {
        self.send(Command::Handle(Input::Appended {
            head,
            start,
            entries,
        }))
        .await
    }

    /// The store now holds the first `size` entries of a log: the network reads them
    /// from it, and keeps no copy.
    pub async fn written(&self, authority: PublicKey, size: u64) -> Result<(), NetError> {
        self.send(Command::Handle(Input::Written { authority, size }))
            .await
    }

    /// Entry `index` of a log was purged: serve `tombstone` in its place from now on.
    pub async fn purged(
        &self,
        authority: PublicKey,
        index: u64,
        tombstone: Vec<u8>,
    ) -> Result<(), NetError> {
        self.send(Command::Handle(Input::Purged {
            authority,
            index,
            entry: tombstone,
        }))
        .await
    }

    pub async fn cosigned(&self, cosignature: Cosignature, sticky: bool) -> Result<(), NetError> {
        self.send(Command::Handle(Input::Cosigned {
            cosignature,
            sticky,
        }))
        .await
    }

    /// Gathers back from every federated peer what it witnessed (a node that lost its
    /// store): [`NetEvent::Gathered`] pages, and [`Net::gathering`] for how far it is.
    pub async fn gather(&self) -> Result<(), NetError> {
        self.send(Command::Handle(Input::Gather)).await
    }

    /// The last page gathered from `peer` is kept: ask the next.
    pub async fn kept(&self, peer: PeerId) -> Result<(), NetError> {
        self.send(Command::Handle(Input::Kept { peer })).await
    }

    /// Answers a [`NetEvent::Lookup`] of `peer`.
    pub async fn answer(&self, peer: PeerId, wire: Wire) -> Result<(), NetError> {
        self.send(Command::Handle(Input::Answer { to: peer, wire }))
            .await
    }

    pub async fn gathering(&self) -> Result<GatherProgress, NetError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Gathering { reply }).await?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// The towns whose nodes are connected now.
    pub async fn connected(&self) -> Result<Vec<PublicKey>, NetError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Connected { reply }).await?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    /// All entries held of a log.
    pub async fn entries(&self, authority: PublicKey) -> Result<Vec<Vec<u8>>, NetError> {
        Ok(self.range(authority, 0, u64::MAX).await?.1)
    }

    pub async fn range(
        &self,
        authority: PublicKey,
        start: u64,
        end: u64,
    ) -> Result<(Option<SignedTreeHead>, Vec<Vec<u8>>), NetError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Range {
            authority,
            start,
            end,
            reply,
        })
        .await?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    pub async fn progress(&self) -> Result<Vec<Progress>, NetError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Progress { reply }).await?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    pub async fn broadcast(&self, wire: Wire) -> Result<(), NetError> {
        self.send(Command::Broadcast(wire)).await
    }

    pub async fn publish(&self, wire: Wire) -> Result<(), NetError> {
        self.send(Command::Publish(wire)).await
    }

    async fn send(&self, c: Command) -> Result<(), NetError> {
        self.commands.send(c).await.map_err(|_| NetError::Stopped)
    }
}

/// Starts the network of the node of authority `key` (which signs its hellos),
/// replicating `federation`'s logs, listening on `listen` (e.g. `/ip4/127.0.0.1/tcp/0`)
/// and dialling `peers`, reading the logs it holds from `logs` (the node's store).
/// Returns once it listens.
pub async fn start(
    key: SecretKey,
    federation: Vec<PublicKey>,
    listen: Multiaddr,
    peers: Vec<Multiaddr>,
    logs: Box<dyn proto::Logs>,
) -> Result<(Net, mpsc::Receiver<NetEvent>), NetError> {
    let mut swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetError::Setup(e.to_string()))?
        .with_behaviour(|key| {
            let gossip = gossip(key)?;
            let sync_config =
                request_response::Config::default().with_request_timeout(Duration::from_secs(30));
            Ok(Behaviour {
                identify: identify::Behaviour::new(identify::Config::new(
                    "/palabre/1".into(),
                    key.public(),
                )),
                sync: request_response::Behaviour::with_codec(
                    SyncCodec,
                    [(
                        StreamProtocol::new("/palabre/sync/1"),
                        ProtocolSupport::Full,
                    )],
                    sync_config,
                ),
                gossip,
            })
        })
        .map_err(|e| NetError::Setup(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
        .build();
    swarm
        .listen_on(listen.clone())
        .map_err(|e| NetError::Listen {
            addr: listen.clone(),
            reason: e.to_string(),
        })?;
    let addr = loop {
        match swarm.next().await {
            Some(SwarmEvent::NewListenAddr { address, .. }) => break address,
            Some(_) => continue,
            None => return Err(NetError::Stopped),
        }
    };
    let (commands, command_rx) = mpsc::channel(256);
    let (events_tx, events) = mpsc::channel(4096);
    let node = proto::Node::new(key.public_key(), federation, logs).verifier(Box::new(EveryCore));
    let hello = hello(&key, swarm.local_peer_id());
    let received_entries = Arc::new(AtomicU64::new(0));
    tokio::spawn(run(
        swarm,
        node,
        command_rx,
        events_tx,
        peers,
        Arc::clone(&received_entries),
        hello,
    ));
    Ok((
        Net {
            commands,
            addr,
            received_entries,
        },
        events,
    ))
}

/// Checks a page of fetched entries on every core (a page is thousands of signatures):
/// the state machine's [`proto::Verifier`] here, where threads are the shell's to spawn.
#[derive(Debug, Clone, Copy)]
struct EveryCore;

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

async fn run(
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
                if topic_of(w)
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
                    let Some(topic) = topic_of(&wire) else {
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
