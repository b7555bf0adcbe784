//! The rules of secret ballots (SECRET-BALLOTS.md §4; PROTOCOL.md, "Secret ballots"):
//! whether a secret event fits the record, the cascade of mixes, the opening and the
//! result, and the bodies the node appends. The events themselves — their bodies, wire
//! form and stateless checks — are [`crate::event::secret`] and [`crate::event::mix`].
//!
//! - [`rules`]: the ceremony's rules (trustees, windows, QUAL, the layout), called by
//!   `admission`, and [`admit`], admission of the ceremony's kinds and sealed ballots;
//! - [`setting`]: what the mix rules read of the record, from scratch (QUAL, the layout,
//!   L₀, the recorded mixes); [`judged`] keeps it between admissions for a reader that
//!   lives long ([`memo`]);
//! - [`cascade`]: the mix chain rules, the shuffle proofs' checks and the recombination;
//!   [`mix_admit`], admission of the mix and opening kinds;
//! - [`open`] and [`result`]: the plaintexts and the result counted from them;
//! - [`build`] and [`mix_build`]: the bodies the node appends, made by the same rules.

pub mod admit;
pub mod build;
pub mod cascade;
pub mod judged;
pub mod memo;
pub mod mix_admit;
pub mod mix_build;
pub mod open;
pub mod result;
pub mod rules;
pub mod setting;
