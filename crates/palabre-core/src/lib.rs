//! Palabre's pure heart: what a valid event is, how it is signed and hashed, how a log
//! proves what it holds, and what the result of a consultation is.
//!
//! Nothing here does IO: no clock, no randomness, no storage, no network. Time arrives as
//! a `now_ms` parameter, randomness as seed bytes, and storage as the read-only
//! [`record::Record`] view that the store implements.

#![warn(missing_docs)]

pub mod admission;
pub mod audit;
pub mod canonical;
pub mod counting;
pub mod crypto;
pub mod dkg;
pub mod elgamal;
pub mod event;
/// Fuzz bodies for the decoders of outside bytes (see `fuzz/` and the test `fuzz`): for
/// the fuzz crate and tests, never used by the node's own paths.
#[doc(hidden)]
pub mod fuzzing;
pub mod group;
pub mod head;
pub mod ids;
pub mod invitation;
pub mod ledger;
pub mod limits;
pub mod merkle;
pub mod opening;
pub mod pabulib;
pub mod proofs;
pub mod purge;
pub mod record;
pub mod rejection;
pub mod replica;
pub mod sealed;
pub mod secret;
pub mod shuffle;
pub mod tally;
/// Deterministic worlds (towns, residents, public and secret consultations, openings)
/// for tests and benchmarks: test and benchmark code behind the `testkit` feature, never
/// used by the node's own paths.
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod view;
