//! `palabre-bench`: the figures of BENCHMARKS.md, measured on this machine against real
//! `palabre serve` processes (the `palabre` binary built beside it, or `PALABRE_BIN`). A
//! program of its own so that the binary towns install carries no bench code; it uses the
//! node's library for its data directory and clock, and leaves every rule to core.
//! Timings live here, never in tests.

mod bench;
mod hostilebench;
mod openingbench;
mod replbench;
mod report;
mod secretbench;
mod shufflebench;
mod staffbench;

use clap::Parser;

/// Measure signature rates, durable HTTP ingest, memory and disk (BENCHMARKS.md).
#[derive(Debug, Parser)]
#[command(name = "palabre-bench", version)]
struct Args {
    /// Also write every printed figure, with its limit, ratio and goal, to this JSON file
    /// (to compare a run with an earlier one).
    #[arg(long, value_name = "FILE")]
    json: Option<std::path::PathBuf>,
    /// Voters (one ballot each; half sent one per request, half in batches; with
    /// --hostile, the ballots of the vote whose results are read).
    #[arg(long, default_value_t = 20_000)]
    voters: u32,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Ballots per batch request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Instead: time the audit of a closed consultation with this many ballots.
    #[arg(long)]
    audit_ballots: Option<u32>,
    /// Instead: the federation's figures — replicate a closed consultation of this
    /// many ballots to a fresh node, then propagation across three nodes.
    #[arg(long)]
    replication: Option<u32>,
    /// With --replication: ballots per second sent to the first node.
    #[arg(long, default_value_t = 2_000)]
    rate: u32,
    /// With --replication: for how many seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Instead: the town hall's pages — setup, logins, a batch of this many letters,
    /// its print page and CSV.
    #[arg(long)]
    staff_letters: Option<usize>,
    /// Instead: a trustee's mix — shuffle, proof and verification of this many
    /// sealed ciphertexts (width 1) on one core.
    #[arg(long)]
    shuffle: Option<usize>,
    /// Instead: a secret referendum of this many sealed ballots opened in-process from
    /// its close to its audited result (five trustee towns, t = 3).
    #[arg(long)]
    opening: Option<u32>,
    /// Instead: hostile load for this many seconds per phase — what well-behaved
    /// residents are served while other addresses hold idle connections, flood, or read
    /// results and open data at their full rate, under the node's own limits.
    #[arg(long, value_name = "SECONDS")]
    hostile: Option<u32>,
    /// Instead: the secret-ballot primitives — proof and DLEQ verification against
    /// verify_strict, decryption shares, a DKG with 16 trustees.
    #[arg(long)]
    secret: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let json = args.json.clone();
    run(args)?;
    match json {
        Some(path) => report::write_json(&path),
        None => Ok(()),
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    match args {
        Args { secret: true, .. } => secretbench::run(),
        Args {
            hostile: Some(s),
            voters,
            ..
        } => hostilebench::run(s, voters),
        Args {
            opening: Some(n), ..
        } => openingbench::run(n),
        Args {
            shuffle: Some(n), ..
        } => shufflebench::run(n),
        Args {
            staff_letters: Some(n),
            ..
        } => staffbench::run(n, 10),
        Args {
            audit_ballots: Some(n),
            ..
        } => bench::audit_run(n),
        Args {
            replication: Some(n),
            rate,
            seconds,
            ..
        } => replbench::run(n, rate, seconds),
        Args {
            voters,
            clients,
            batch,
            audit_ballots: None,
            replication: None,
            ..
        } => bench::run(voters, clients, batch),
    }
}
