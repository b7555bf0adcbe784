//! A node's status: the town, its log, its invitations, consultations and peers, built
//! from the store (the same function whether the running node answers on its control
//! socket or `palabre status` reads a store no node holds) and sent as one line.
//!
//! What the control socket is and who may use it is `control.rs`'s; the command that
//! asks and prints is `commands/status.rs`.

use std::sync::{Arc, OnceLock};

use palabre_core::crypto::PublicKey;
use palabre_core::event::Body;
use palabre_core::ids::Hash;
use palabre_core::record::Record;
use palabre_net::shell::Net;
use palabre_store::{SledStorage, Storage, stored_entry};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::home::Peers;

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
pub(crate) struct Answer {
    pub(crate) ok: bool,
    #[serde(default)]
    pub(crate) error: Option<String>,
    #[serde(default)]
    pub(crate) status: Option<Status>,
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
