//! Deterministic worlds for tests and benchmarks: towns, residents and consultations
//! built from fixed seeds, every event made as the node makes it and admitted through
//! the [`Ledger`](crate::ledger::Ledger).
//!
//! - [`world`](crate::testkit::world): public consultations across several towns'
//!   logs, and the event builders the others use.
//! - [`secret_world`](crate::testkit::secret_world): a secret consultation with trustee
//!   towns, deals, the election key, the layout and sealed ballots.
//! - [`opening_world`](crate::testkit::opening_world): such a consultation taken past
//!   its close, through the mixes, `seal_final`, the decryption shares, the result and
//!   the audit.
//!
//! Residents are numbered by a `u32`, so a benchmark can build thousands of voters.
//! Compiled only with the `testkit` feature: test and benchmark code, never on the
//! node's own paths.

pub mod opening_world;
pub mod secret_world;
pub mod world;
