//! What each command of `palabre` does, one file per command or family: `serve` (the
//! node itself), `town` (`init`, `invite`: the town's declaration and its invitation
//! codes), `peers`, `recover`, `auditor` (`audit`, `check-receipt`, `export`). This file
//! dispatches a parsed [`Command`]; the flags are `cli.rs`'s, the node's parts are the crate's other modules.

use crate::cli::Command;
use crate::{backup, recount};

mod auditor;
mod peers;
mod recover;
mod serve;
mod status;
mod town;

/// Runs one command of the command line.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { data, http, demo } => serve::serve(data, http, demo),
        Command::Init { data, name, code } => town::init(data, name, code),
        Command::Invite { data, count, out } => town::invite(data, count, out),
        Command::Status { data } => status::run(&data),
        Command::CheckEncryption(args) => crate::check_encryption::run(&args),
        Command::Peers { data, action } => peers::peers(data, action),
        Command::Recover {
            data,
            from,
            timeout,
        } => recover::recover(data, from, timeout),
        Command::Backup { data, out } => backup::backup(&data, &out),
        Command::Restore { from, data } => backup::restore(&from, &data),
        Command::Audit {
            consultation,
            nodes,
            bundle,
            since,
            json,
            ca_certs,
        } => auditor::audit(consultation, nodes, bundle, since, json, ca_certs),
        Command::Tally {
            method,
            input,
            rule,
            budget,
            threshold,
            max_choices,
            grades,
        } => recount::run(
            &input,
            &recount::Options {
                method,
                rule,
                threshold,
                max_choices,
                grades,
            },
            budget,
        ),
        Command::CheckReceipt {
            receipt,
            nodes,
            ca_certs,
        } => auditor::check_receipt(receipt, nodes, ca_certs),
        Command::Export {
            consultation,
            bundle,
            format,
            out,
            nodes,
            ca_certs,
        } => auditor::export(consultation, bundle, format, out, nodes, ca_certs),
    }
}
