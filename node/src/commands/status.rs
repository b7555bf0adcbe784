//! `palabre status`: the town, its log, its invitations, consultations and peers — from
//! the running node when one serves (through its control socket, `control.rs`, since it
//! holds the store's lock), or from the store when none does. When the store is locked
//! but no socket answers, it says so plainly rather than failing on the lock. The status
//! itself is built by `status.rs`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::Context;

use crate::control;
use crate::home::Home;
use crate::status::{Answer, Status, build};

/// `palabre status --data DIR`.
pub fn run(data: &Path) -> anyhow::Result<()> {
    let home = Home::open_or_create(data)?;
    let socket = data.join(control::SOCKET);
    if let Some(stream) = control::connect(data)? {
        let status = ask(stream)
            .with_context(|| format!("asking the running node through {}", socket.display()))?;
        print!(
            "{}",
            human(
                &status,
                &format!("running (answered on {})", socket.display())
            )
        );
        return Ok(());
    }
    let storage = match home.open_store() {
        Ok(s) => s,
        Err(e) if format!("{e:#}").contains("lock") => anyhow::bail!(
            "a palabre process holds the store in {} (a node serving, or another command), \
             but no control socket answers at {}: look at that process's log; a serving \
             node also answers on its HTTP address at /healthz",
            home.store_dir().display(),
            socket.display()
        ),
        Err(e) => return Err(e),
    };
    let status = build(
        &storage,
        &home.key.public_key(),
        &home.trustee.public_hex(),
        &home.config.name,
        &home.peers()?,
        None,
    )?;
    print!("{}", human(&status, "not running (read from the store)"));
    Ok(())
}

/// Sends the status request and reads the answer.
fn ask(mut stream: UnixStream) -> anyhow::Result<Status> {
    stream.set_read_timeout(Some(control::STALLED_CLIENT))?;
    let mut request = serde_json::to_vec(&control::Request::Status)?;
    request.push(b'\n');
    stream.write_all(&request)?;
    let mut line = String::new();
    BufReader::new(stream)
        .take(MAX_ANSWER_BYTES)
        .read_line(&mut line)
        .context("reading the node's answer")?;
    let answer: Answer = serde_json::from_str(&line)
        .with_context(|| format!("the node answered something else than expected: {line:?}"))?;
    match answer {
        Answer {
            ok: true,
            status: Some(status),
            ..
        } => Ok(status),
        Answer { error, .. } => anyhow::bail!(
            "the node refused: {}",
            error.unwrap_or_else(|| "no reason given".into())
        ),
    }
}

/// The longest status answer read (a line per federated town, well under this).
const MAX_ANSWER_BYTES: u64 = 1024 * 1024;

/// The status as a person reads it.
pub fn human(s: &Status, node: &str) -> String {
    let mut out = format!(
        "Town:          {}\nAuthority:     {}\nTrustee key:   {}\nNode:          {node}\nLog size:      {}\n",
        s.town, s.authority, s.encryption_key, s.log_size
    );
    if let Some((size, root)) = s.head {
        out.push_str(&format!("Latest head:   size {size} root {root}\n"));
    }
    out.push_str(&format!(
        "Invitations:   {} issued, {} redeemed\nConsultations: {}\n",
        s.invitations_issued, s.invitations_redeemed, s.n_consultations
    ));
    let n_connected = s.peers.iter().filter(|p| p.connected == Some(true)).count();
    match (s.peers.len(), s.peers.first().and_then(|p| p.connected)) {
        (0, _) => out.push_str("Peers:         none (no town in peers.toml)\n"),
        (n, Some(_)) => out.push_str(&format!("Peers:         {n_connected} of {n} connected\n")),
        (n, None) => out.push_str(&format!("Peers:         {n} in peers.toml\n")),
    }
    for p in &s.peers {
        let name = if p.name.is_empty() { "-" } else { &p.name };
        let link = match p.connected {
            Some(true) => "connected",
            Some(false) => "not connected",
            None => "-",
        };
        out.push_str(&format!(
            "  {}  {name}  {link}  replica: {} entries\n",
            p.authority, p.replica_size
        ));
    }
    out
}
