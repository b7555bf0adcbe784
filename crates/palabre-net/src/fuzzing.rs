//! Fuzz bodies for what peers send: a message read off a request stream or a gossip
//! topic, and the hello that opens a connection.
//!
//! Each body decodes the bytes with the function the shell uses ([`Wire::decode`]),
//! checks that what decodes serializes back to what decodes the same, then hands the
//! message to a fresh state machine as the shell would: a request from a peer that
//! proved it speaks for a federated authority, and a gossip message (validated first,
//! handled only when accepted). The cargo-fuzz targets in `fuzz/` and the test `fuzz`
//! run them; the node never does.

use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::ids::Hash;

use crate::proto::{Input, Logs, Node, Verdict, Wire};

/// The names of the net fuzz targets, with their bodies (corpus in
/// `fuzz/corpus/<name>/`).
pub const TARGETS: &[palabre_core::fuzzing::Target] = &[("wire", wire), ("hello", hello)];

/// A store that holds nothing: every read answers "not held".
struct NoLogs;

impl Logs for NoLogs {
    fn entries(&self, _: &PublicKey, _: u64, _: u64) -> Vec<Vec<u8>> {
        Vec::new()
    }

    fn root_at(&self, _: &PublicKey, _: u64) -> Option<Hash> {
        None
    }

    fn consistency_proof(&self, _: &PublicKey, _: u64, _: u64) -> Option<Vec<Hash>> {
        None
    }
}

/// The key of seed `byte` repeated.
pub fn key(byte: u8) -> SecretKey {
    SecretKey::from_seed(&[byte; 32])
}

/// A message decoded as the shell decodes it; what decodes round-trips.
fn decode(data: &[u8]) -> Option<Wire> {
    let wire = Wire::decode(data)?;
    let bytes = serde_json::to_vec(&wire).expect("a decoded message serializes");
    assert_eq!(
        Wire::decode(&bytes).as_ref(),
        Some(&wire),
        "a decoded message round-trips"
    );
    Some(wire)
}

/// A message from a peer: decoded, then received by a node of authority `key(1)` that
/// federates with `key(2)`, from a peer authenticated as `key(2)`, on a request stream
/// and on gossip.
pub fn wire(data: &[u8]) {
    let Some(wire) = decode(data) else {
        return;
    };
    let (me, peer) = (key(1).public_key(), key(2).public_key());
    let mut node = Node::new(me, [peer], Box::new(NoLogs));
    let _ = node.handle(1, Input::Connected(7));
    let _ = node.handle(
        2,
        Input::Authenticated {
            peer: 7,
            authority: peer,
        },
    );
    let verdict = node.check(&wire);
    let _ = node.handle(
        3,
        Input::Received {
            from: 7,
            wire: wire.clone(),
        },
    );
    if verdict == Verdict::Accept {
        let _ = node.handle(4, Input::Gossip { from: 7, wire });
    }
    let _ = node.handle(5, Input::Tick);
}

/// The first message on a connection: decoded, and if it is a hello, checked against
/// the libp2p peer id of the connection (a fixed one here).
pub fn hello(data: &[u8]) {
    let Some(Wire::Hello { authority, sig }) = decode(data) else {
        return;
    };
    let peer = fixed_peer();
    let _ = crate::shell::hello_holds(&peer, &authority, &sig);
}

/// The libp2p peer id the hello body checks hellos against.
pub fn fixed_peer() -> libp2p::PeerId {
    let mut seed = [3u8; 32];
    libp2p::identity::Keypair::ed25519_from_bytes(&mut seed)
        .expect("32 bytes are an ed25519 secret")
        .public()
        .to_peer_id()
}

#[cfg(test)]
mod tests {
    //! The bodies in the ordinary tests: the committed corpus replayed, arbitrary bytes
    //! and mutated corpus inputs from proptest.

    use super::TARGETS;

    palabre_core::fuzz_properties!(TARGETS, 128);
}
