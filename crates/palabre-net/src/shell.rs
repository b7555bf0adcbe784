//! The libp2p shell around [`proto::Node`]: TCP + Noise + Yamux, identify, and a
//! request-response protocol (`/palabre/sync/1`, JSON) that carries the state machine's
//! messages. It runs a straight loop — swarm events and a tick in, `Node::handle`, its
//! outputs out — and decides nothing itself.
//!
//! Heads travel point to point here, as the state machine addresses them; gossiping them
//! over gossipsub (and events with them) is the next step.

use std::collections::HashMap;
use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, StreamProtocol, identify, noise, tcp, yamux};
use palabre_core::crypto::PublicKey;
use palabre_core::head::SignedTreeHead;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::proto::{self, Equivocation, Input, Output, PeerId, Wire};

/// How often the state machine is ticked (announcements, retries).
pub const TICK: Duration = Duration::from_millis(250);
/// Connections stay open this long without traffic (libp2p's default is 10 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest request or response on the wire.
pub const MAX_MESSAGE_BYTES: u64 = 8 * 1024 * 1024;

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
    sync: request_response::json::Behaviour<Wire, Ack>,
}

/// What the node asks of its network task.
#[derive(Debug)]
pub enum Command {
    Dial(Multiaddr),
    /// This node's own log grew.
    Appended {
        head: SignedTreeHead,
        entries: Vec<Vec<u8>>,
    },
    /// The entries held of a log.
    Entries {
        authority: PublicKey,
        reply: oneshot::Sender<Vec<Vec<u8>>>,
    },
}

/// What the network task reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    Stored { authority: PublicKey, size: u64 },
    Equivocation(Box<Equivocation>),
    Penalised { peer: String, reason: &'static str },
}

/// A running network task.
#[derive(Debug, Clone)]
pub struct Net {
    commands: mpsc::Sender<Command>,
    /// Where it listens.
    pub addr: Multiaddr,
}

impl Net {
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), NetError> {
        self.send(Command::Dial(addr)).await
    }

    pub async fn appended(
        &self,
        head: SignedTreeHead,
        entries: Vec<Vec<u8>>,
    ) -> Result<(), NetError> {
        self.send(Command::Appended { head, entries }).await
    }

    pub async fn entries(&self, authority: PublicKey) -> Result<Vec<Vec<u8>>, NetError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Entries { authority, reply }).await?;
        rx.await.map_err(|_| NetError::Stopped)
    }

    async fn send(&self, c: Command) -> Result<(), NetError> {
        self.commands.send(c).await.map_err(|_| NetError::Stopped)
    }
}

/// Starts the network of the node of authority `me`, replicating `federation`'s logs,
/// listening on `listen` (e.g. `/ip4/127.0.0.1/tcp/0`). Returns once it listens.
pub async fn start(
    me: PublicKey,
    federation: Vec<PublicKey>,
    listen: Multiaddr,
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
            let sync_config =
                request_response::Config::default().with_request_timeout(Duration::from_secs(30));
            Behaviour {
                identify: identify::Behaviour::new(identify::Config::new(
                    "/palabre/1".into(),
                    key.public(),
                )),
                sync: request_response::json::Behaviour::with_codec(
                    request_response::json::codec::Codec::default()
                        .set_request_size_maximum(MAX_MESSAGE_BYTES)
                        .set_response_size_maximum(MAX_MESSAGE_BYTES),
                    [(
                        StreamProtocol::new("/palabre/sync/1"),
                        ProtocolSupport::Full,
                    )],
                    sync_config,
                ),
            }
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
    let (events_tx, events) = mpsc::channel(1024);
    let node = proto::Node::new(me, federation);
    tokio::spawn(run(swarm, node, command_rx, events_tx));
    Ok((Net { commands, addr }, events))
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

async fn run(
    mut swarm: libp2p::Swarm<Behaviour>,
    mut node: proto::Node,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetEvent>,
) {
    let started = tokio::time::Instant::now();
    let now = || started.elapsed().as_millis() as u64;
    let mut tick = tokio::time::interval(TICK);
    let mut peers = Peers::default();
    loop {
        let outputs = tokio::select! {
            _ = tick.tick() => node.handle(now(), Input::Tick),
            command = commands.recv() => match command {
                None => return,
                Some(Command::Dial(addr)) => {
                    if let Err(e) = swarm.dial(addr.clone()) {
                        tracing::warn!("dialling {addr}: {e}");
                    }
                    Vec::new()
                }
                Some(Command::Appended { head, entries }) => {
                    node.handle(now(), Input::Appended { head, entries })
                }
                Some(Command::Entries { authority, reply }) => {
                    let _ = reply.send(node.entries(&authority).to_vec());
                    Vec::new()
                }
            },
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { peer_id, num_established, .. }
                    if num_established.get() == 1 =>
                {
                    let id = peers.id(peer_id);
                    node.handle(now(), Input::Connected(id))
                }
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                    let id = peers.id(peer_id);
                    node.handle(now(), Input::Disconnected(id))
                }
                SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                    peer,
                    message: request_response::Message::Request { request, channel, .. },
                    ..
                })) => {
                    let _ = swarm.behaviour_mut().sync.send_response(channel, Ack {});
                    let from = peers.id(peer);
                    node.handle(now(), Input::Received { from, wire: request })
                }
                _ => Vec::new(),
            },
        };
        for o in outputs {
            match o {
                Output::Send { to, wire } => {
                    if let Some(peer) = peers.peers.get(&to).copied() {
                        swarm.behaviour_mut().sync.send_request(&peer, wire);
                    }
                }
                Output::Stored { authority, size } => {
                    let _ = events.try_send(NetEvent::Stored { authority, size });
                }
                Output::Equivocation(e) => {
                    let _ = events.try_send(NetEvent::Equivocation(Box::new(e)));
                }
                Output::Penalise { peer, reason } => {
                    let name = peers
                        .peers
                        .get(&peer)
                        .map_or_else(|| peer.to_string(), |p| p.to_string());
                    tracing::warn!("peer {name}: {reason}");
                    let _ = events.try_send(NetEvent::Penalised { peer: name, reason });
                }
            }
        }
    }
}
