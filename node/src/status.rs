//! `palabre status`: the town, its log, its invitations, consultations and peers — from
//! the running node when one serves (through its control socket, `control.rs`, since it
//! holds the store's lock), or from the store when none does. When the store is locked
//! but no socket answers, it says so plainly rather than failing on the lock.
//!
//! What the control socket is and who may use it is `control.rs`'s; this file only
//! builds the status (the same function on both sides) and prints it.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use palabre_core::admission::Record;
use palabre_core::crypto::PublicKey;
use palabre_core::event::Body;
use palabre_core::ids::Hash;
use palabre_net::shell::Net;
use palabre_store::{SledStorage, Storage, stored_entry};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::control;
use crate::home::{Home, Peers};

/// What a node says of itself.
#[derive(Debug, Serialize, Deserialize)]
pub struct Status {
    pub authority: PublicKey,
    /// Its trustee encryption key `E` (`trustee.key`), which its `authority` event
    /// declares so that it may be named a trustee of secret ballots.
    #[serde(default)]
    pub encryption_key: String,
    /// The name in its `authority` declaration (or its config's, before it declared).
    pub town: String,
    pub log_size: u64,
    /// The latest signed head of its log: size and root.
    pub head: Option<(u64, Hash)>,
    pub invitations_issued: u64,
    pub invitations_redeemed: u64,
    pub n_consultations: usize,
    pub peers: Vec<PeerStatus>,
}

/// One town of `peers.toml`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PeerStatus {
    pub authority: PublicKey,
    pub name: String,
    /// Whether its node is connected now (and proved who it speaks for); `None` when
    /// the node is not running.
    pub connected: Option<bool>,
    /// Entries of its log this node holds.
    pub replica_size: u64,
}

/// The answer line on the control socket: `{"ok":true,"status":{…}}`.
#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    status: Option<Status>,
}

/// What a serving node knows beyond its store: its federation, and its network once
/// started.
#[derive(Debug)]
pub struct Live {
    pub town: String,
    pub encryption_key: String,
    pub peers: Peers,
    pub net: OnceLock<Net>,
}

/// The status from the store; `connected` lists the towns connected now, `None` when
/// the node is not running.
pub fn build(
    storage: &SledStorage,
    me: &PublicKey,
    encryption_key: &str,
    config_town: &str,
    peers: &Peers,
    connected: Option<&[PublicKey]>,
) -> anyhow::Result<Status> {
    let town = match storage.entry(me, 0)?.map(stored_entry).transpose()? {
        Some(entry) => match entry.event().map(|e| e.body()) {
            Some(Body::Authority(a)) => a.name.clone(),
            _ => config_town.to_owned(),
        },
        None => config_town.to_owned(),
    };
    let counts = storage.invitation_counts()?;
    Ok(Status {
        authority: *me,
        encryption_key: encryption_key.to_owned(),
        town,
        log_size: storage.log_size(me),
        head: storage.latest_head(me)?.map(|h| (h.head.size, h.head.root)),
        invitations_issued: counts.issued,
        invitations_redeemed: counts.redeemed,
        n_consultations: storage.consultations()?.len(),
        peers: peers
            .peer
            .iter()
            .map(|p| PeerStatus {
                authority: p.authority,
                name: p.name.clone(),
                connected: connected.map(|c| c.contains(&p.authority)),
                replica_size: storage.log_size(&p.authority),
            })
            .collect(),
    })
}

/// Answers a status request on the control socket.
pub async fn answer(
    stream: &mut tokio::net::UnixStream,
    storage: &Arc<SledStorage>,
    me: PublicKey,
    live: &Live,
) -> anyhow::Result<()> {
    let connected = match live.net.get() {
        Some(net) => net.connected().await?,
        None => Vec::new(),
    };
    let storage = Arc::clone(storage);
    let town = live.town.clone();
    let peers = live.peers.clone();
    let e = live.encryption_key.clone();
    let status = tokio::task::spawn_blocking(move || {
        build(&storage, &me, &e, &town, &peers, Some(&connected))
    })
    .await?;
    let answer = match status {
        Ok(status) => Answer {
            ok: true,
            error: None,
            status: Some(status),
        },
        Err(e) => Answer {
            ok: false,
            error: Some(format!("{e:#}")),
            status: None,
        },
    };
    let mut line = serde_json::to_vec(&answer)?;
    line.push(b'\n');
    stream.write_all(&line).await?;
    Ok(())
}

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
