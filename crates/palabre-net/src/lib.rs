//! Federation between towns' nodes. `proto` holds every decision of the replication
//! protocol — whom to ask for what, when a replica may grow, when a head proves an
//! equivocation, which peer misbehaved — as a state machine fed inputs and time. It does
//! no IO; the libp2p shell (`shell`: TCP + Noise + Yamux, identify, request-response)
//! only moves its messages, and a seeded simulation (`sim`) drives it through bad
//! networks in tests.

/// Fuzz bodies for what peers send (see `fuzz/`); never used by the node's own paths.
#[doc(hidden)]
pub mod fuzzing;
pub mod penalty;
pub mod proto;
pub mod shell;
/// A seeded network simulator (towns, their state machines, a network that drops,
/// duplicates, delays and reorders): test and benchmark code behind the `sim` feature,
/// never used by the node's own paths.
#[cfg(feature = "sim")]
pub mod sim;

pub use libp2p::Multiaddr;
