//! The Palabre node as a library: the command line (`cli`), what each command does
//! (`commands`), and the node's parts that the commands wire together — the store's home
//! directory, the web layer's backend, the federation, the control socket, backups, the
//! auditor's client. The `palabre` binary (`main.rs`) is a thin `main` over it; tests and
//! the `palabre-bench` crate use these modules too. Every rule lives in `palabre-core`;
//! `anyhow` is used here, at the edge, and nowhere else.

pub mod audit;
pub mod backend;
pub mod backup;
pub mod ceremony;
pub mod check_encryption;
pub mod cli;
pub mod client;
pub mod clock;
pub mod closer;
pub mod commands;
pub mod control;
pub mod demo;
pub mod federation;
pub mod home;
pub mod metrics;
pub mod office;
pub mod opendata;
pub mod opening;
pub mod receipt;
pub mod recount;
pub mod snapshot;
pub mod status;
pub mod trustee;
