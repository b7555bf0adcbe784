//! The control socket of a serving node, `DIR/control.sock`: how `palabre backup` reaches
//! a node that holds the store (sled locks it against every other process).
//!
//! A Unix socket, mode 0600, and every connection's peer checked: only the node's own
//! user (and root) is answered, since a backup carries the authority key. One request
//! per connection, one JSON line: `{"command":"backup"}` or `{"command":"status"}` (its
//! answer is one line, `{"ok":true,"status":{…}}`, see `status.rs`). The backup's is one JSON line,
//! `{"ok":true}` followed by the backup's bytes until the node closes the connection, or
//! `{"ok":false,"error":"…"}`. The backup checks itself (its checksum), so a client
//! tells a complete one from a node that stopped half-way.
//!
//! What a backup holds and how it is kept consistent is `backup.rs` and the store's.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use palabre_core::crypto::PublicKey;
use palabre_store::SledStorage;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// The socket's name in the data directory.
pub const SOCKET: &str = "control.sock";
/// The running node's control socket in `data`, for a command of the same data
/// directory (`backup`, `status`): `None` when no node serves there — no socket, or one
/// left by a node that was killed.
pub fn connect(data: &Path) -> anyhow::Result<Option<std::os::unix::net::UnixStream>> {
    let socket = data.join(SOCKET);
    match std::os::unix::net::UnixStream::connect(&socket) {
        Ok(stream) => Ok(Some(stream)),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e).with_context(|| {
            format!(
                "reaching the running node through {} (run this as the node's user)",
                socket.display()
            )
        }),
    }
}

/// The longest request line read.
pub const MAX_LINE_BYTES: u64 = 4096;
/// How long a client has to send its request.
const REQUEST_TIME: Duration = Duration::from_secs(10);
/// How long the node waits on a client that reads nothing of a backup before giving up
/// on it: writes wait while a snapshot is taken, and must not wait on a stalled client
/// for longer.
pub const STALLED_CLIENT: Duration = Duration::from_secs(30);

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    /// A backup of the whole node, sent after the answer line.
    Backup,
    /// The node's status (`palabre status` while it serves).
    Status,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Answer {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The socket while the node serves; the file goes when this is dropped.
#[derive(Debug)]
pub struct Control {
    path: PathBuf,
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// What a backup taken through the socket needs.
struct Node {
    dir: PathBuf,
    storage: Arc<SledStorage>,
    authority: PublicKey,
    /// One backup at a time (a second client is told so rather than queued).
    busy: tokio::sync::Mutex<()>,
    /// The node's user: the owner of the socket file.
    uid: u32,
    live: Arc<crate::status::Live>,
}

/// Opens `DIR/control.sock` and answers on it for as long as the runtime runs. The store
/// is already open, so this process owns the directory: a socket left by a node that
/// was killed is replaced.
pub fn listen(
    dir: &Path,
    storage: Arc<SledStorage>,
    authority: PublicKey,
    live: Arc<crate::status::Live>,
) -> anyhow::Result<Control> {
    let path = dir.join(SOCKET);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    let listener = UnixListener::bind(&path)
        .with_context(|| format!("opening the control socket {}", path.display()))?;
    let control = Control { path };
    // Between bind and chmod the socket has the umask's mode: the peer check below is
    // what holds then.
    fs::set_permissions(&control.path, fs::Permissions::from_mode(0o600))?;
    let uid = fs::metadata(&control.path)?.uid();
    let node = Arc::new(Node {
        dir: dir.to_path_buf(),
        storage,
        authority,
        busy: tokio::sync::Mutex::new(()),
        uid,
        live,
    });
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let node = Arc::clone(&node);
                    tokio::spawn(async move {
                        if let Err(e) = answer(stream, &node).await {
                            tracing::warn!("control socket: {e:#}");
                        }
                    });
                }
                Err(e) => {
                    tracing::error!("control socket: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(control)
}

async fn answer(mut stream: UnixStream, node: &Arc<Node>) -> anyhow::Result<()> {
    let peer = stream.peer_cred()?.uid();
    if peer != node.uid && peer != 0 {
        refuse(
            &mut stream,
            "only the node's own user may use its control socket",
        )
        .await?;
        anyhow::bail!("refused a client of user {peer}");
    }
    let mut line = String::new();
    let mut reader = BufReader::new(&mut stream).take(MAX_LINE_BYTES);
    tokio::time::timeout(REQUEST_TIME, reader.read_line(&mut line))
        .await
        .context("no request in time")??;
    let request = match serde_json::from_str::<Request>(&line) {
        Ok(r) => r,
        Err(e) => {
            refuse(&mut stream, &format!("unknown request: {e}")).await?;
            return Ok(());
        }
    };
    match request {
        Request::Status => {
            crate::status::answer(&mut stream, &node.storage, node.authority, &node.live).await?;
        }
        Request::Backup => {
            let Ok(_one) = node.busy.try_lock() else {
                refuse(&mut stream, "a backup is already being taken; try again").await?;
                return Ok(());
            };
            send(
                &mut stream,
                &Answer {
                    ok: true,
                    error: None,
                },
            )
            .await?;
            let mut stream = stream.into_std()?;
            stream.set_nonblocking(false)?;
            stream.set_write_timeout(Some(STALLED_CLIENT))?;
            let node = Arc::clone(node);
            let summary = tokio::task::spawn_blocking(move || {
                crate::snapshot::write_snapshot(
                    &node.storage,
                    &node.dir,
                    &node.authority,
                    &mut stream,
                )
            })
            .await??;
            tracing::info!(
                "backup sent: {} trees, {} entries, {} bytes",
                summary.n_trees,
                summary.n_entries,
                summary.n_bytes
            );
        }
    }
    Ok(())
}

async fn send(stream: &mut UnixStream, answer: &Answer) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(answer)?;
    line.push(b'\n');
    stream.write_all(&line).await?;
    Ok(())
}

async fn refuse(stream: &mut UnixStream, why: &str) -> anyhow::Result<()> {
    send(
        stream,
        &Answer {
            ok: false,
            error: Some(why.to_owned()),
        },
    )
    .await
}
