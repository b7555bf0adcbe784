//! `palabre check-encryption FILE`: the Benaloh audit of a sealed ballot, offline. The
//! file is the opening a secret consultation's vote page hands out instead of casting
//! (PROTOCOL.md, "Sealing in the browser, and checking an encryption"); this command says
//! in plain words whether its ciphertexts encrypt exactly the choice it states, and exits
//! with status 1 when they do not. The check is core's `opening::Opening::check`; this
//! file reads and prints.

use std::path::PathBuf;

use anyhow::Context;
use palabre_core::opening::{Mode, Opening};

/// The command's arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The opening file (JSON) the vote page handed out.
    pub file: PathBuf,
}

/// Checks the file; `Ok(true)` when the encryption matches the plaintext.
pub fn check(args: &Args) -> anyhow::Result<bool> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let opening = match Opening::parse(&text) {
        Ok(o) => o,
        Err(e) => {
            println!("NOT CHECKED ({}): {e}", e.code());
            return Ok(false);
        }
    };
    match opening.check() {
        Ok(()) => {
            println!("MATCHES: these ciphertexts encrypt exactly this choice.");
            match opening.mode {
                Mode::Split => println!(
                    "choice (one value per column, in layout order): {:?}",
                    opening.choice
                ),
                Mode::Row => println!(
                    "chosen columns (0-based) of {}: {:?}",
                    opening.columns.unwrap_or(0),
                    opening.choice
                ),
            }
            println!("consultation {}", opening.consultation);
            println!("layout {}", opening.sealed.layout);
            Ok(true)
        }
        Err(e) => {
            let advice = if e.code() == "encryption_mismatch" {
                " The page that sealed it encrypted something else: do not vote from it, and report it."
            } else {
                ""
            };
            println!("DOES NOT MATCH ({}): {e}.{advice}", e.code());
            Ok(false)
        }
    }
}

/// Runs the command: exit status 0 only for a matching encryption.
pub fn run(args: &Args) -> anyhow::Result<()> {
    if check(args)? {
        Ok(())
    } else {
        std::process::exit(1)
    }
}
