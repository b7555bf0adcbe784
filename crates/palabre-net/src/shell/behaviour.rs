//! The shell's libp2p behaviour: identify, gossipsub (its limits, subscribed to the
//! topics of `Wire::topic`) and the request-response protocol `/palabre/sync/1` with its
//! JSON codec, and the signed hello that binds a libp2p peer id to a town's key.

use std::io;

use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{StreamProtocol, gossipsub, identify};
use palabre_core::crypto::{Domain, PublicKey, SecretKey, Signature};
use serde::{Deserialize, Serialize};

use crate::proto::{TOPIC_COSIGNATURES, TOPIC_EVIDENCE, TOPIC_HEADS, Wire};

use super::MAX_MESSAGE_BYTES;

/// The answer to every request: received (what it leads to comes as new requests).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Ack {}

#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    pub(super) identify: identify::Behaviour,
    pub(super) sync: request_response::Behaviour<SyncCodec>,
    pub(super) gossip: gossipsub::Behaviour,
}

/// Largest gossip message (a head or a cosignature is under 1 KiB; evidence with a
/// prefix proof a few).
pub const MAX_GOSSIP_BYTES: usize = 64 * 1024;

/// This node's hello: its authority, signed over its libp2p peer id (PROTOCOL.md,
/// "Transport").
pub(super) fn hello(key: &SecretKey, local: &libp2p::PeerId) -> Wire {
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
pub(super) fn gossip(key: &libp2p::identity::Keypair) -> Result<gossipsub::Behaviour, String> {
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
pub(super) enum Request {
    Wire(Box<Wire>),
    Unreadable(&'static str),
}

/// JSON messages of at most [`MAX_MESSAGE_BYTES`], one per stream.
#[derive(Debug, Clone, Default)]
pub(super) struct SyncCodec;

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
