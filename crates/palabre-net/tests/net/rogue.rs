//! Rogue peers over real loopback sockets (issue 19, point 14): a libp2p peer of its own
//! that speaks `/palabre/sync/1` with raw bytes — frames that are not of the protocol,
//! hellos not signed for it, a hello for a town outside the federation, a flood of
//! requests. The honest node penalises each, records nothing, refuses the peer once the
//! penalties add up, and keeps serving an honest town.

use std::time::{Duration, Instant};

use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{StreamProtocol, noise, tcp, yamux};
use palabre_core::crypto::{Domain, PublicKey, SecretKey};
use palabre_net::proto::Wire;
use palabre_net::shell::NetEvent;
use palabre_net::sim::{Town, keep_log, memory, town_key};

/// Raw bytes on the sync protocol, whatever they are.
#[derive(Debug, Clone, Default)]
struct Raw;

impl request_response::Codec for Raw {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut bytes = Vec::new();
        io.take(8 * 1024 * 1024).read_to_end(&mut bytes).await?;
        Ok(bytes)
    }

    async fn read_response<T>(&mut self, p: &StreamProtocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        self.read_request(p, io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        bytes: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&bytes).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        p: &StreamProtocol,
        io: &mut T,
        bytes: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write_request(p, io, bytes).await
    }
}

type Rogue = libp2p::Swarm<request_response::Behaviour<Raw>>;

fn rogue() -> Rogue {
    libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                Raw,
                [(
                    StreamProtocol::new("/palabre/sync/1"),
                    ProtocolSupport::Full,
                )],
                request_response::Config::default(),
            )
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build()
}

/// A hello for `authority`, signed by `key` over `peer`'s id.
fn hello(authority: PublicKey, key: &SecretKey, peer: &libp2p::PeerId) -> Vec<u8> {
    let wire = Wire::Hello {
        authority,
        sig: key.sign(Domain::Peer, peer.to_base58().as_bytes()),
    };
    serde_json::to_vec(&wire).expect("json")
}

/// Drives the rogue's swarm (answering what the honest node asks with nothing) until
/// `events` has given a penalty for `reason`, or `deadline`; every other penalty seen
/// on the way is kept in `seen`. Only `origin`'s own log may be stored meanwhile.
async fn penalised(
    rogue: &mut Rogue,
    events: &mut tokio::sync::mpsc::Receiver<NetEvent>,
    reason: &str,
    seen: &mut Vec<&'static str>,
    origin: PublicKey,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.contains(&reason) {
        assert!(
            Instant::now() < deadline,
            "never penalised for {reason:?}; saw {seen:?}"
        );
        tokio::select! {
            e = events.recv() => match e {
                Some(NetEvent::Penalised { reason, .. }) => seen.push(reason),
                Some(NetEvent::Stored { authority, .. }) if authority != origin => {
                    panic!("something stored from the rogue: {authority}")
                }
                Some(_) => {}
                None => panic!("the honest node stopped"),
            },
            e = rogue.select_next_some() => {
                if let SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Request { channel, .. }, ..
                }) = e {
                    let _ = rogue.behaviour_mut().send_response(channel, b"{}".to_vec());
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

#[test]
fn a_rogue_peer_on_real_sockets_is_penalised_refused_and_changes_nothing() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let mut origin = Town::new(920);
        let replica_key = town_key(921);
        // The rogue speaks for a town of the federation, whose key it does not hold.
        let listed = town_key(922).public_key();
        let federation = vec![origin.key.public_key(), replica_key.public_key(), listed];
        let store = memory();
        let (net, mut events) = palabre_net::shell::start(
            SecretKey::from_seed(&origin.key.seed()),
            federation.clone(),
            "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"),
            Vec::new(),
            Box::new(std::sync::Arc::clone(&store)),
        )
        .await
        .expect("the network starts");
        let palabre_net::proto::Input::Appended { head, start, entries } = origin.write(12, 0) else {
            unreachable!("write gives an Appended input")
        };
        keep_log(&*store, &head, start, &entries);
        net.appended(head, start, entries).await.expect("appended");

        let mut rogue = rogue();
        rogue.dial(net.addr.clone()).expect("dial");
        let honest = loop {
            if let SwarmEvent::ConnectionEstablished { peer_id, .. } = rogue.select_next_some().await {
                break peer_id;
            }
        };
        let me = *rogue.local_peer_id();
        let other = libp2p::PeerId::random();
        let outsider = town_key(923);
        let sends: [(Vec<u8>, &str); 3] = [
            (b"\x00\xffnot json".to_vec(), "a message that is not of the protocol"),
            // Signed by a key over another peer's id: not a proof for this one.
            (hello(listed, &outsider, &other), "a hello not signed for this peer"),
            // Rightly signed, for a town the node does not federate with.
            (hello(outsider.public_key(), &outsider, &me), "a hello for a town outside the federation"),
        ];
        let mut seen = Vec::new();
        for (bytes, reason) in sends {
            rogue.behaviour_mut().send_request(&honest, bytes);
            penalised(&mut rogue, &mut events, reason, &mut seen, origin.key.public_key()).await;
        }
        // Asking for entries with a hello for an outsider: nothing is served.
        let ask = serde_json::to_vec(&Wire::GetEntries {
            authority: origin.key.public_key(),
            start: 0,
            end: 12,
        })
        .expect("json");
        // A flood, as fast as the connection takes it, until the node hangs up: the flood
        // is the fourth penalty, and the fifth in a row refuses the peer.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut entries_served = 0;
        loop {
            assert!(Instant::now() < deadline, "the flooding rogue was never disconnected; saw {seen:?}");
            for _ in 0..100 {
                rogue.behaviour_mut().send_request(&honest, ask.clone());
            }
            let stop = tokio::time::sleep(Duration::from_millis(10));
            tokio::pin!(stop);
            let closed = loop {
                tokio::select! {
                    e = events.recv() => match e {
                        Some(NetEvent::Penalised { reason, .. }) => seen.push(reason),
                        Some(NetEvent::Stored { authority, .. }) if authority != origin.key.public_key() => {
                            panic!("stored from the rogue: {authority}")
                        }
                        Some(_) => {}
                        None => panic!("the honest node stopped"),
                    },
                    e = rogue.select_next_some() => match e {
                        SwarmEvent::ConnectionClosed { num_established: 0, .. } => break true,
                        SwarmEvent::Behaviour(request_response::Event::Message {
                            message: request_response::Message::Request { request, channel, .. }, ..
                        }) => {
                            entries_served += usize::from(request.starts_with(br#"{"type":"entries""#));
                            let _ = rogue.behaviour_mut().send_response(channel, b"{}".to_vec());
                        }
                        _ => {}
                    },
                    _ = &mut stop => break false,
                }
            };
            if closed {
                break;
            }
        }
        assert!(seen.contains(&"a flood of messages"), "the flood was not penalised: {seen:?}");
        assert_eq!(entries_served, 0, "entries served to a peer that is not of the federation");
        rogue.dial(net.addr.clone()).expect("dial again");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut refused = false;
        while Instant::now() < deadline && !refused {
            if let Ok(e) = tokio::time::timeout(Duration::from_secs(1), rogue.select_next_some()).await {
                refused = matches!(e, SwarmEvent::ConnectionClosed { .. } | SwarmEvent::OutgoingConnectionError { .. });
            }
        }
        assert!(refused, "a refused peer was let back in");
        assert_eq!(store.log_size(&listed), 0, "nothing recorded for the town the rogue named");

        // The node keeps serving: an honest replica gets the whole log.
        let replica_store = memory();
        let (replica, _replica_events) = palabre_net::shell::start(
            replica_key,
            federation,
            "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"),
            vec![net.addr.clone()],
            Box::new(std::sync::Arc::clone(&replica_store)),
        )
        .await
        .expect("the replica starts");
        let deadline = Instant::now() + Duration::from_secs(60);
        while replica.entries(origin.key.public_key()).await.expect("entries") != origin.entries {
            assert!(Instant::now() < deadline, "the honest replica did not get the log");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}
