//! The libp2p shell around [`proto::Node`]: TCP + Noise + Yamux, identify, and a
//! request-response protocol (`/palabre/sync/1`, JSON) that carries the state machine's
//! messages ([`behaviour`]). It runs as an actor ([`actor`]): its loop only waits — swarm
//! events, commands, a tick — and each arm calls one `handle_*` method, which feeds
//! `Node::handle`; the outputs go out through `Actor::apply`. It decides nothing itself.
//! This file is the node's handle on it: [`start`], [`Net`], [`NetEvent`].
//!
//! The shell keeps dialling the federation's addresses (a peer that restarts is found
//! again) and scores peers: one that keeps sending invalid messages is disconnected and
//! refused for a while.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, StreamProtocol, identify, noise, tcp, yamux};
use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::head::{Cosignature, SignedTreeHead};
use tokio::sync::{mpsc, oneshot};

use crate::proto::{self, Equivocation, GatherProgress, Input, PeerId, Progress, Want, Wire};

mod actor;
mod behaviour;

use actor::{EveryCore, run};
use behaviour::{Behaviour, SyncCodec, gossip, hello};

pub use behaviour::MAX_GOSSIP_BYTES;
pub(crate) use behaviour::hello_holds;

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
