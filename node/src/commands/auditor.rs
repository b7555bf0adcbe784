//! The auditor's commands, run anywhere by anyone against the nodes they name (or a
//! bundle): `palabre audit`, `palabre check-receipt` and `palabre export`. They fetch
//! through `client.rs` and leave every check to `audit.rs`, `receipt.rs` and core.

use std::path::PathBuf;

use palabre_core::ids::EventId;

use crate::{audit, client, opendata, receipt};

/// `palabre audit`: exits with the report's status unless the consultation is final.
pub fn audit(
    consultation: Option<EventId>,
    nodes: Vec<String>,
    bundle: Option<PathBuf>,
    since: Option<PathBuf>,
    json: bool,
    ca_certs: Vec<PathBuf>,
) -> anyhow::Result<()> {
    client::trust(&ca_certs)?;
    let input = match (bundle, consultation) {
        (Some(path), _) => audit::read_bundle(&path)?,
        (None, Some(id)) => audit::fetch(id, &nodes)?,
        (None, None) => anyhow::bail!("give --consultation and --node, or --bundle"),
    };
    let since = since.map(|p| audit::read_bundle(&p)).transpose()?;
    match audit::run(&input, since.as_ref(), json)? {
        audit::exit::FINAL => Ok(()),
        status => std::process::exit(status),
    }
}

/// `palabre check-receipt`: exits with 1 unless the receipt holds on every node.
pub fn check_receipt(
    receipt: PathBuf,
    nodes: Vec<String>,
    ca_certs: Vec<PathBuf>,
) -> anyhow::Result<()> {
    client::trust(&ca_certs)?;
    if receipt::run(&receipt, &nodes)? {
        Ok(())
    } else {
        std::process::exit(1)
    }
}

/// `palabre export`: an audit bundle or open data, fetched from the nodes.
pub fn export(
    consultation: EventId,
    bundle: Option<PathBuf>,
    format: Option<opendata::Format>,
    out: Option<PathBuf>,
    nodes: Vec<String>,
    ca_certs: Vec<PathBuf>,
) -> anyhow::Result<()> {
    client::trust(&ca_certs)?;
    let input = audit::fetch(consultation, &nodes)?;
    match (bundle, format, out) {
        (Some(bundle), _, _) => {
            audit::write_bundle(&input, &bundle)?;
            println!(
                "{}: {} log(s), {} entries",
                bundle.display(),
                input.logs.len(),
                input.logs.iter().map(|l| l.entries.len()).sum::<usize>()
            );
        }
        (None, Some(format), Some(out)) => {
            opendata::export(&input, format, &out)?;
            println!("{}", out.display());
        }
        _ => anyhow::bail!("give --bundle FILE, or --format and --out FILE"),
    }
    Ok(())
}
