//! `palabre`: the node binary. It sets up the log, parses the command line (`cli.rs`) and
//! hands the command to `commands/`; every rule lives in `palabre-core`, every command in
//! the `palabre` library beside this file.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PALABRE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
                // gossipsub warns of every duplicate publication (two nodes publishing
                // one head is normal here: message ids are content hashes).
                .add_directive(
                    "libp2p_gossipsub=error"
                        .parse()
                        .expect("a valid log directive"),
                ),
        )
        // The log goes to stderr: stdout carries what commands print for people and
        // scripts (addresses, codes, reports).
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal: a file, journald or a pipe
        // gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    palabre::commands::run(palabre::cli::Cli::parse().command)
}
