//! `palabre serve`: the node itself. It opens the data directory, declares the town,
//! binds HTTP, starts the control socket, the federation, the closer, the key ceremony
//! and the opening of secret consultations, and serves the
//! site, the API and the staff pages until SIGTERM or Ctrl-C; what each part does is its
//! own module's (`backend`, `federation`, `control`, `closer`, `ceremony`, `opening`,
//! the web crate).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use palabre_core::record::Record;
use palabre_store::Storage;
use palabre_web::{ApiConfig, RateLimit};

use crate::backend::{self, NodeBackend};
use crate::clock::now_ms;
use crate::home::Home;
use crate::{ceremony, closer, control, demo, federation, opendata, opening, status, trustee};

use super::town::{declare, new_codes};

pub(super) fn serve(data: PathBuf, http: Option<String>, demo: bool) -> anyhow::Result<()> {
    let home = Home::open_or_create(&data)?;
    let storage = Arc::new(home.open_store()?);
    let peers = home.peers()?;
    if storage.log_size(&home.key.public_key()) == 0 && !peers.peer.is_empty() {
        anyhow::bail!(
            "this town's log is empty but it federates with {} town(s). If its data was \
             lost, rebuild the log first: palabre recover --data {} --from <a neighbour's \
             address>. If this is a new town, run palabre init first.",
            peers.peer.len(),
            data.display()
        );
    }
    let federation = federation::Settings::new(&home.config.p2p_listen, &peers, &[])?;
    let addr: SocketAddr = http
        .unwrap_or_else(|| home.config.http.clone())
        .parse()
        .context("the HTTP address is like 127.0.0.1:8080")?;
    // Bound now, so the public URL derived from it names the port really served.
    let std_listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    std_listener.set_nonblocking(true)?;
    let public_url = home.config.public_url_for(std_listener.local_addr()?);
    declare(
        &storage,
        &home,
        &home.config.name,
        &home.config.code,
        &public_url,
    )?;
    if !demo && palabre_web::staff::is_loopback_url(&public_url) {
        println!(
            "WARNING: residents cannot reach {public_url} (only this computer can). Set \
             public_url in palabre.toml (or PALABRE_PUBLIC_URL); letters will not be printed \
             until then."
        );
    }
    if demo {
        let shares = trustee::Shares::new(&data);
        let secret = peers.peer.is_empty().then_some(demo::SecretExample {
            trustee: &home.trustee,
            shares: &shares,
        });
        if demo::seed(&storage, &home.key, secret)? {
            println!("Demo consultations created.");
        }
        let codes = new_codes(&storage, &home, 5)?;
        println!("Unused invitation codes for the demo:");
        for c in codes {
            println!("  {c}");
        }
    }
    let api = ApiConfig {
        rate: RateLimit {
            per_second: home.config.rate_per_second,
            burst: home.config.rate_burst,
        },
        trusted_proxies: home.config.trusted_proxies()?,
        ..ApiConfig::default()
    };
    let connections = home.config.conn_limits(palabre_web::conn::file_limit());
    let office = backend::OfficeSettings {
        staff: palabre_web::staff::Settings {
            public_url,
            demo,
            town_name: home.config.name.clone(),
            session_ms: home.config.staff_session_seconds.saturating_mul(1000),
            federation: peers
                .peer
                .iter()
                .map(|p| (p.authority, p.name.clone()))
                .collect(),
        },
        town_hall: home.config.town_hall(demo),
        zone: home.config.zone()?,
    };
    let trustee_key = home.trustee.public_hex();
    let (trustee, shares) = (home.trustee, trustee::Shares::new(&data));
    let backend = Arc::new(NodeBackend::new(Arc::clone(&storage), home.key).with_office(office));
    if let Some(link) = palabre_web::staff::first_admin_link(&*backend)? {
        println!("No administrator yet. To create the first one, open (once): {link}");
    }
    let cascade = opening::Settings {
        mix_timeout_ms: home.config.mix_timeout_ms,
        share_retention_ms: home
            .config
            .secret_share_retention_days
            .saturating_mul(86_400_000),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(std_listener)
            .with_context(|| format!("listening on {addr}"))?;
        // `palabre backup` reaches the running node here (control.rs).
        let me = backend.key.public_key();
        let live = Arc::new(status::Live {
            town: home.config.name.clone(),
            encryption_key: trustee_key,
            peers: peers.clone(),
            net: std::sync::OnceLock::new(),
        });
        let _control = control::listen(&data, Arc::clone(&backend.storage), me, Arc::clone(&live))
            .map_err(|e| tracing::warn!("no control socket, so no backup while serving: {e:#}"))
            .ok();
        // Federation first: the "serving" line is the last thing printed at start.
        if let Some(settings) = federation {
            let n = settings.federation.len();
            let net = federation::start(
                settings,
                Arc::clone(&backend.storage),
                Arc::clone(&backend.key),
                Arc::clone(&backend.federation),
                Arc::clone(&backend.committed),
            )
            .await?;
            println!("Federating with {n} town(s), listening on {}", net.addr);
            let _ = live.net.set(net);
        }
        // SIGTERM is caught from here on: a stop right after the line below is a clean one.
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        println!("Palabre is serving on http://{}", listener.local_addr()?);
        tokio::spawn(close_consultations(
            Arc::clone(&backend),
            home.config.close_grace_ms,
        ));
        tokio::spawn(ceremony::run(Arc::clone(&backend), trustee, shares.clone()));
        tokio::spawn(opening::run(Arc::clone(&backend), shares, cascade));
        // Bounded connections, header timeout, TCP_NODELAY (web/src/conn.rs).
        let open_data = opendata::routes(Arc::clone(&backend));
        let site = Arc::clone(&backend);
        let stop = shutdown_signal(term);
        palabre_web::serve(listener, site, api, open_data, connections, stop).await?;
        tracing::info!("shutting down: flushing the store");
        backend.storage.flush()?;
        anyhow::Ok(())
    })
}

/// How often the node looks for consultations whose vote has closed.
const CLOSE_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Appends checkpoints and results as votes close (see `closer.rs`), for as long as the
/// node serves.
async fn close_consultations(backend: Arc<NodeBackend>, grace_ms: u64) {
    let mut every = tokio::time::interval(CLOSE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let b = Arc::clone(&backend);
        let pass = tokio::task::spawn_blocking(move || {
            closer::close_due(&b.storage, &b.writer, &b.key, now_ms(), grace_ms)
        })
        .await;
        match pass {
            Ok(Ok(done)) => {
                for title in done.checkpoints {
                    tracing::info!("closed this town's part of \"{title}\"");
                }
                for title in done.results {
                    tracing::info!("published the result of \"{title}\"");
                }
            }
            Ok(Err(e)) => tracing::error!("closing consultations: {e:#}"),
            Err(e) => tracing::error!("closing consultations: {e}"),
        }
    }
}

async fn shutdown_signal(term: Option<tokio::signal::unix::Signal>) {
    let ctrl_c = tokio::signal::ctrl_c();
    let term = async {
        match term {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        () = term => {},
    }
}
