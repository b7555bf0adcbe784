//! The command line of `palabre`: every command, its flags and their help, as clap
//! definitions. What each command does lives in `commands/`; this file only names and
//! documents them, so `palabre --help` and this file read the same.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use palabre_core::ids::EventId;

use crate::{opendata, recount};

#[derive(Debug, Parser)]
#[command(
    name = "palabre",
    version,
    about = "A civic-consultation node for a municipality"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the node: create the data directory on first start, then serve HTTP.
    Serve {
        /// The data directory.
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
        /// Address to listen on (overrides the config file).
        #[arg(long)]
        http: Option<String>,
        /// Seed a demo: one consultation per ballot method, and print invitation codes.
        #[arg(long)]
        demo: bool,
    },
    /// Create the data directory and declare the municipality.
    Init {
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
        /// The municipality's name, e.g. "Ville de Saint-Palabre".
        #[arg(long)]
        name: String,
        /// Its official (INSEE) code.
        #[arg(long, default_value = "")]
        code: String,
    },
    /// Make invitation codes (the node keeps only their hashes); the node must be stopped.
    Invite {
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
        #[arg(long)]
        count: u32,
        /// CSV file for a mail merge (one code per line).
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a consultation from the logs that nodes serve (or a bundle), trusting none
    /// of them: signatures, heads, consistency between nodes, admission of every entry,
    /// closing checkpoints and their quorum, and the recount against the signed result.
    ///
    /// Exit status: 0 when every check holds and the consultation is closed (the result
    /// is final); 1 when a rule fails; 3 when every check holds but the consultation is
    /// still open (no closing checkpoint yet: the result is not final), or secret and
    /// closed with its ballots not opened yet; 2 for a usage error.
    Audit {
        /// The consultation's id (with --node).
        #[arg(long, required_unless_present = "bundle")]
        consultation: Option<EventId>,
        /// A node to fetch from, like https://palabre.example.org or http://127.0.0.1:8080
        /// (repeat to compare nodes).
        #[arg(
            long = "node",
            required_unless_present = "bundle",
            conflicts_with = "bundle"
        )]
        nodes: Vec<String>,
        /// Verify a bundle written by `palabre export`, offline.
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// An older bundle of the same consultation: also prove the new material only
        /// appends to it.
        #[arg(long)]
        since: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Also trust the certificate authorities in this PEM file for https:// nodes
        /// (a town with its own CA; repeat for several). Mozilla's roots are always trusted.
        #[arg(long = "ca-cert", value_name = "FILE")]
        ca_certs: Vec<PathBuf>,
    },
    /// Check a receipt kept from the site: its signatures, and that its event is in the
    /// log, at its index, as every node given serves it. Exits with 0 only if so.
    CheckReceipt {
        /// The receipt (JSON): the file of a receipt's "Download" button on the site's "my
        /// participation" page, or the API's answer to a submission.
        receipt: PathBuf,
        /// A node to ask, like https://palabre.example.org (repeat to ask several). By
        /// default, the address the town declares in the signed authority event that the
        /// site's answer carries with the receipt.
        #[arg(long = "node")]
        nodes: Vec<String>,
        /// Also trust the certificate authorities in this PEM file for https:// nodes
        /// (a town with its own CA; repeat for several). Mozilla's roots are always trusted.
        #[arg(long = "ca-cert", value_name = "FILE")]
        ca_certs: Vec<PathBuf>,
    },
    /// Recompute a result from plain input, outside any node: a pabulib `.pb` file for
    /// budgets, a `voter,proposal,value` CSV for the other methods. Prints the tally a
    /// node would sign, as JSON.
    Tally {
        #[arg(long, value_enum)]
        method: recount::MethodName,
        /// The input file.
        #[arg(long)]
        input: PathBuf,
        /// Budget rule.
        #[arg(long, value_enum, default_value = "equal-shares")]
        rule: recount::RuleName,
        /// Budget (default: the pabulib file's).
        #[arg(long)]
        budget: Option<u64>,
        /// Support threshold.
        #[arg(long, default_value_t = 1)]
        threshold: u64,
        /// Approval: most proposals one ballot may approve.
        #[arg(long, default_value_t = 1)]
        max_choices: u32,
        /// Majority judgment: the grades, worst first, comma-separated.
        #[arg(long, value_delimiter = ',')]
        grades: Vec<String>,
    },
    /// Write one self-contained audit bundle of a consultation, fetched from nodes.
    /// Open data (`--format json|csv|pb --out FILE`), recounted from the signed logs
    /// (published once results are), or the audit bundle (`--bundle FILE`).
    Export {
        #[arg(long)]
        consultation: EventId,
        /// The audit bundle file to write.
        #[arg(long, required_unless_present = "format", conflicts_with = "format")]
        bundle: Option<PathBuf>,
        /// Open data: results and participation (pb: participatory budgets only).
        #[arg(long, value_enum, requires = "out")]
        format: Option<opendata::Format>,
        /// The open-data file to write.
        #[arg(long)]
        out: Option<PathBuf>,
        /// A node to fetch from (repeat to include several nodes' copies).
        #[arg(long = "node", default_value = "http://127.0.0.1:8080")]
        nodes: Vec<String>,
        /// Also trust the certificate authorities in this PEM file for https:// nodes
        /// (a town with its own CA; repeat for several). Mozilla's roots are always trusted.
        #[arg(long = "ca-cert", value_name = "FILE")]
        ca_certs: Vec<PathBuf>,
    },
    /// Show the node's authority, log and invitations.
    Status {
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
    },
    /// Check a secret ballot's encryption from the file the vote page gave instead of
    /// casting it (exit status 1 when it does not match).
    CheckEncryption(crate::check_encryption::Args),
    /// The federation: the towns whose logs this node replicates and witnesses, and
    /// where their nodes listen (kept in `peers.toml`; read when the node starts).
    Peers {
        #[arg(
            long,
            global = true,
            default_value = "palabre-data",
            env = "PALABRE_DATA"
        )]
        data: PathBuf,
        #[command(subcommand)]
        action: PeersAction,
    },
    /// Rebuild this town's log from its neighbours' replicas, after losing the data
    /// directory: keep (or restore) `authority.key`, then run this before `serve`.
    Recover {
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
        /// A neighbour's node, like /ip4/192.0.2.7/tcp/4040 (repeat; the addresses in
        /// `peers.toml` are dialled too).
        #[arg(long = "from", required = true)]
        from: Vec<String>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Write a consistent backup of the whole node (key, settings, peers, store) to one
    /// file, mode 0600. Works while the node serves (it is asked through its control
    /// socket; run this as the node's user) and while it is stopped.
    Backup {
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
        /// The backup file to write (never replaces an existing file).
        #[arg(long)]
        out: PathBuf,
    },
    /// Rebuild a data directory from a backup. The directory must be new or empty; the
    /// whole file is checked before anything is written.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PeersAction {
    /// Federate with a town (or add an address to one already listed).
    Add {
        /// Its authority key (it prints it with `palabre status`).
        #[arg(long)]
        authority: palabre_core::crypto::PublicKey,
        /// Where its node listens, like /ip4/192.0.2.7/tcp/4040 (repeatable).
        #[arg(long = "addr")]
        addrs: Vec<String>,
        /// Its name, for people.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Stop federating with a town.
    Remove {
        authority: palabre_core::crypto::PublicKey,
    },
    /// List the federated towns.
    List,
}
