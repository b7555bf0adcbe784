//! Serving HTTP on a listener with bounded connections: the accept loop the node runs.
//!
//! Each connection is HTTP/1.1 through hyper with a header-read timeout: a client must
//! deliver a whole request head within [`ConnLimits::header_timeout`] of connecting or
//! of its previous answer, so a slow-header client and an idle keep-alive connection
//! are both closed after it. Connections are capped per client address (an IPv6 /64
//! counting as one, `crate::client::Bucket`) and in total, below the process's file
//! limit so the store and federation keep descriptors of their own. A connection over a
//! cap gets a short `503` and is closed; each refusal is counted for `/metrics`
//! ([`metrics`]) and logged (at most one line a second, with how many were not logged).
//! The peer address is left in the request as `ConnectInfo`, as axum's own `serve` does;
//! a trusted proxy's `X-Forwarded-For` is `crate::client`'s business, and what each
//! request may cost is the router's (`crate::limit`).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};

use crate::client::Bucket;

/// The bounds of the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Connections open at once, from everyone.
    pub max_total: usize,
    /// Connections open at once from one address (an IPv6 /64).
    pub max_per_address: usize,
    /// Longest wait for a whole request head (slow headers, idle keep-alive).
    pub header_timeout: Duration,
}

/// Descriptors kept for the store, the federation and the control socket.
pub const FILE_HEADROOM: u64 = 512;

impl ConnLimits {
    /// Defaults for a process allowed `file_limit` open files: at most 4,096
    /// connections, and half the files left after [`FILE_HEADROOM`]; 64 per address
    /// (a town hall's NAT can put many residents behind one); 10 s to send a request head.
    pub fn for_file_limit(file_limit: u64) -> ConnLimits {
        let total = (file_limit.saturating_sub(FILE_HEADROOM) / 2).clamp(16, 4096);
        ConnLimits {
            max_total: total as usize,
            max_per_address: 64.min(total as usize),
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// The soft limit of open files of this process (Linux's `/proc/self/limits`; 1,024
/// where it cannot be read).
pub fn file_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(1024)
}

static OPEN: AtomicU64 = AtomicU64::new(0);
static ACCEPTED: AtomicU64 = AtomicU64::new(0);
static REFUSED_PER_ADDRESS: AtomicU64 = AtomicU64::new(0);
static REFUSED_TOTAL: AtomicU64 = AtomicU64::new(0);

/// The connection counters of this process, in Prometheus' text format.
pub fn metrics() -> String {
    format!(
        "# HELP palabre_http_connections_open HTTP connections open now.\n\
         # TYPE palabre_http_connections_open gauge\n\
         palabre_http_connections_open {}\n\
         # HELP palabre_http_connections_accepted_total HTTP connections accepted.\n\
         # TYPE palabre_http_connections_accepted_total counter\n\
         palabre_http_connections_accepted_total {}\n\
         # HELP palabre_http_connections_refused_total HTTP connections refused over a cap.\n\
         # TYPE palabre_http_connections_refused_total counter\n\
         palabre_http_connections_refused_total{{cap=\"per_address\"}} {}\n\
         palabre_http_connections_refused_total{{cap=\"total\"}} {}\n",
        OPEN.load(Ordering::Relaxed),
        ACCEPTED.load(Ordering::Relaxed),
        REFUSED_PER_ADDRESS.load(Ordering::Relaxed),
        REFUSED_TOTAL.load(Ordering::Relaxed),
    )
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<Bucket, usize>,
}

/// One open connection, counted until dropped.
#[derive(Debug)]
struct Slot {
    open: Arc<Mutex<Open>>,
    bucket: Bucket,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.bucket) {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&self.bucket);
            }
        }
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Copy)]
enum Cap {
    PerAddress,
    Total,
}

fn admit(open: &Arc<Mutex<Open>>, limits: &ConnLimits, ip: IpAddr) -> Result<Slot, Cap> {
    let bucket = Bucket::of(Some(ip));
    let mut o = open.lock().unwrap_or_else(|e| e.into_inner());
    if o.total >= limits.max_total {
        return Err(Cap::Total);
    }
    let n = o.by_address.entry(bucket).or_insert(0);
    if *n >= limits.max_per_address {
        return Err(Cap::PerAddress);
    }
    *n += 1;
    o.total += 1;
    OPEN.fetch_add(1, Ordering::Relaxed);
    Ok(Slot {
        open: Arc::clone(open),
        bucket,
    })
}

/// Logs refusals, at most one line a second.
#[derive(Debug)]
struct RefusalLog {
    last: Option<Instant>,
    unlogged: u64,
}

impl RefusalLog {
    fn refused(&mut self, cap: Cap, peer: IpAddr, limits: &ConnLimits) {
        match cap {
            Cap::PerAddress => REFUSED_PER_ADDRESS.fetch_add(1, Ordering::Relaxed),
            Cap::Total => REFUSED_TOTAL.fetch_add(1, Ordering::Relaxed),
        };
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            self.unlogged += 1;
            return;
        }
        match cap {
            Cap::PerAddress => tracing::warn!(
                client = %peer,
                cap = limits.max_per_address,
                not_logged = self.unlogged,
                "HTTP connection refused: this address holds too many connections"
            ),
            Cap::Total => tracing::warn!(
                client = %peer,
                cap = limits.max_total,
                not_logged = self.unlogged,
                "HTTP connection refused: the node holds its most connections"
            ),
        }
        self.last = Some(now);
        self.unlogged = 0;
    }
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
Connection: close\r\nRetry-After: 5\r\nContent-Length: 86\r\n\r\n\
{\"error\":{\"code\":\"too_many_connections\",\"message\":\"too many connections; try again\"}}\n";

/// Turn-aways in progress; past [`MAX_TURNING_AWAY`] a refused socket is just closed.
static TURNING_AWAY: AtomicU64 = AtomicU64::new(0);
const MAX_TURNING_AWAY: u64 = 64;

/// Says "busy" and closes: the answer is written, the sending side shut, and what the
/// client sent read and dropped for at most a second (closing a socket with unread
/// bytes resets it, and the client would lose the answer).
fn turn_away(tcp: TcpStream) {
    if TURNING_AWAY.fetch_add(1, Ordering::Relaxed) >= MAX_TURNING_AWAY {
        TURNING_AWAY.fetch_sub(1, Ordering::Relaxed);
        let _ = tcp.try_write(BUSY);
        return;
    }
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tcp;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            tcp.write_all(BUSY).await?;
            tcp.shutdown().await?;
            let mut sink = [0u8; 1024];
            let mut left: usize = 16 * 1024;
            while left > 0 {
                let n = tcp.read(&mut sink).await?;
                if n == 0 {
                    break;
                }
                left = left.saturating_sub(n);
            }
            std::io::Result::Ok(())
        })
        .await;
        TURNING_AWAY.fetch_sub(1, Ordering::Relaxed);
    });
}

/// Serves `app` on `listener` under `limits` until `shutdown` completes, then lets the
/// open connections finish their request (at most 10 s).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let open = Arc::new(Mutex::new(Open::default()));
    let mut log = RefusalLog {
        last: None,
        unlogged: 0,
    };
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it was accepted:
                    // wait a little rather than spin.
                    tracing::warn!("accepting an HTTP connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match admit(&open, &limits, peer.ip()) {
            Ok(slot) => slot,
            Err(cap) => {
                log.refused(cap, peer.ip(), &limits);
                turn_away(tcp);
                continue;
            }
        };
        ACCEPTED.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY not set: {e}");
        }
        let service = tower::ServiceExt::map_request(
            app.clone(),
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(peer));
                request
            },
        );
        let connection =
            http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = connection.await {
                tracing::debug!(client = %peer, "HTTP connection ended: {e}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!("some HTTP connections were still open at shutdown");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_leave_room_for_the_store() {
        let l = ConnLimits::for_file_limit(20_000);
        assert!(l.max_total as u64 + FILE_HEADROOM < 20_000);
        assert_eq!(l.max_total, 4096);
        let small = ConnLimits::for_file_limit(1024);
        assert_eq!(small.max_total, 256);
        assert!(file_limit() > 0);
    }

    #[test]
    fn the_busy_answer_is_well_formed() {
        let text = std::str::from_utf8(BUSY).expect("ascii");
        let (_, body) = text.split_once("\r\n\r\n").expect("a head");
        assert_eq!(body.len(), 86);
        assert!(body.trim_end().ends_with('}'));
        // The same answer as the API's for its code, written out by hand.
        let code = crate::error::Code::TooManyConnections;
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        let expected = crate::error::error_body(code, "too many connections; try again");
        assert_eq!(json, expected);
        assert!(text.starts_with(&format!("HTTP/1.1 {}", code.status())));
    }
}
