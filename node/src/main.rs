//! `palabre`: the node binary. It parses the command line, opens the data directory and
//! wires the store, the writer and the web layer together; every rule lives in
//! `palabre-core`. `anyhow` is used here, at the edge, and nowhere else.

mod audit;
mod backend;
mod backup;
mod bench;
mod ceremony;
mod client;
mod clock;
mod closer;
mod control;
mod demo;
mod federation;
mod home;
mod metrics;
mod office;
mod opendata;
mod receipt;
mod recount;
mod replbench;
mod shufflebench;
mod snapshot;
mod staffbench;
mod status;
mod trustee;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use clap::{Parser, Subcommand};
use palabre_core::admission::{Clock, Record};
use palabre_core::event::{AuthorityBody, Body, Event};
use palabre_core::ids::EventId;
use palabre_core::invitation::{code_from_random, code_hash, normalize_code};
use palabre_store::{CommitItem, SledStorage, Storage, StoreConfig};
use palabre_web::{ApiConfig, RateLimit};

use crate::backend::NodeBackend;
use crate::clock::now_ms;
use crate::home::Home;

#[derive(Debug, Parser)]
#[command(
    name = "palabre",
    version,
    about = "A civic-consultation node for a municipality"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the node: create the data directory on first start, then serve HTTP.
    Serve {
        /// The data directory.
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
        /// Address to listen on (overrides the config file).
        #[arg(long)]
        http: Option<String>,
        /// Seed a demo: one consultation per ballot method, and print invitation codes.
        #[arg(long)]
        demo: bool,
    },
    /// Create the data directory and declare the municipality.
    Init {
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
        /// The municipality's name, e.g. "Ville de Saint-Palabre".
        #[arg(long)]
        name: String,
        /// Its official (INSEE) code.
        #[arg(long, default_value = "")]
        code: String,
    },
    /// Make invitation codes (the node keeps only their hashes); the node must be stopped.
    Invite {
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
        #[arg(long)]
        count: u32,
        /// CSV file for a mail merge (one code per line).
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure signature rates, durable HTTP ingest, memory and disk (BENCHMARKS.md).
    Bench {
        /// Voters (one ballot each; half sent one per request, half in batches).
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
        /// Instead: the secret-ballot primitives — proof and DLEQ verification against
        /// verify_strict, decryption shares, a DKG with 16 trustees.
        #[arg(long)]
        secret: bool,
    },
    /// Verify a consultation from the logs that nodes serve (or a bundle), trusting none
    /// of them: signatures, heads, consistency between nodes, admission of every entry,
    /// closing checkpoints and their quorum, and the recount against the signed result.
    ///
    /// Exit status: 0 when every check holds and the consultation is closed (the result
    /// is final); 1 when a rule fails; 3 when every check holds but the consultation is
    /// still open (no closing checkpoint yet: the result is not final); 2 for a usage
    /// error.
    Audit {
        /// The consultation's id (with --node).
        #[arg(long, required_unless_present = "bundle")]
        consultation: Option<EventId>,
        /// A node to fetch from, like https://palabre.example.org or http://127.0.0.1:8080
        /// (repeat to compare nodes).
        #[arg(
            long = "node",
            required_unless_present = "bundle",
            conflicts_with = "bundle"
        )]
        nodes: Vec<String>,
        /// Verify a bundle written by `palabre export`, offline.
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// An older bundle of the same consultation: also prove the new material only
        /// appends to it.
        #[arg(long)]
        since: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Also trust the certificate authorities in this PEM file for https:// nodes
        /// (a town with its own CA; repeat for several). Mozilla's roots are always trusted.
        #[arg(long = "ca-cert", value_name = "FILE")]
        ca_certs: Vec<PathBuf>,
    },
    /// Check a receipt kept from the site: its signatures, and that its event is in the
    /// log, at its index, as every node given serves it. Exits with 0 only if so.
    CheckReceipt {
        /// The receipt (JSON), as the site's "my participation" page or the API gave it.
        receipt: PathBuf,
        /// A node to ask, like https://palabre.example.org (repeat to ask several). By
        /// default, the address the town declares in the signed authority event that the
        /// site's answer carries with the receipt.
        #[arg(long = "node")]
        nodes: Vec<String>,
        /// Also trust the certificate authorities in this PEM file for https:// nodes
        /// (a town with its own CA; repeat for several). Mozilla's roots are always trusted.
        #[arg(long = "ca-cert", value_name = "FILE")]
        ca_certs: Vec<PathBuf>,
    },
    /// Recompute a result from plain input, outside any node: a pabulib `.pb` file for
    /// budgets, a `voter,proposal,value` CSV for the other methods. Prints the tally a
    /// node would sign, as JSON.
    Tally {
        #[arg(long, value_enum)]
        method: recount::MethodName,
        /// The input file.
        #[arg(long)]
        input: PathBuf,
        /// Budget rule.
        #[arg(long, value_enum, default_value = "equal-shares")]
        rule: recount::RuleName,
        /// Budget (default: the pabulib file's).
        #[arg(long)]
        budget: Option<u64>,
        /// Support threshold.
        #[arg(long, default_value_t = 1)]
        threshold: u64,
        /// Approval: most proposals one ballot may approve.
        #[arg(long, default_value_t = 1)]
        max_choices: u32,
        /// Majority judgment: the grades, worst first, comma-separated.
        #[arg(long, value_delimiter = ',')]
        grades: Vec<String>,
    },
    /// Write one self-contained audit bundle of a consultation, fetched from nodes.
    /// Open data (`--format json|csv|pb --out FILE`), recounted from the signed logs
    /// (published once results are), or the audit bundle (`--bundle FILE`).
    Export {
        #[arg(long)]
        consultation: EventId,
        /// The audit bundle file to write.
        #[arg(long, required_unless_present = "format", conflicts_with = "format")]
        bundle: Option<PathBuf>,
        /// Open data: results and participation (pb: participatory budgets only).
        #[arg(long, value_enum, requires = "out")]
        format: Option<opendata::Format>,
        /// The open-data file to write.
        #[arg(long)]
        out: Option<PathBuf>,
        /// A node to fetch from (repeat to include several nodes' copies).
        #[arg(long = "node", default_value = "http://127.0.0.1:8080")]
        nodes: Vec<String>,
        /// Also trust the certificate authorities in this PEM file for https:// nodes
        /// (a town with its own CA; repeat for several). Mozilla's roots are always trusted.
        #[arg(long = "ca-cert", value_name = "FILE")]
        ca_certs: Vec<PathBuf>,
    },
    /// Show the node's authority, log and invitations.
    Status {
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
    },
    /// The federation: the towns whose logs this node replicates and witnesses, and
    /// where their nodes listen (kept in `peers.toml`; read when the node starts).
    Peers {
        #[arg(
            long,
            global = true,
            default_value = "palabre-data",
            env = "PALABRE_DATA"
        )]
        data: PathBuf,
        #[command(subcommand)]
        action: PeersAction,
    },
    /// Rebuild this town's log from its neighbours' replicas, after losing the data
    /// directory: keep (or restore) `authority.key`, then run this before `serve`.
    Recover {
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
        /// A neighbour's node, like /ip4/192.0.2.7/tcp/4040 (repeat; the addresses in
        /// `peers.toml` are dialled too).
        #[arg(long = "from", required = true)]
        from: Vec<String>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Write a consistent backup of the whole node (key, settings, peers, store) to one
    /// file, mode 0600. Works while the node serves (it is asked through its control
    /// socket; run this as the node's user) and while it is stopped.
    Backup {
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
        /// The backup file to write (never replaces an existing file).
        #[arg(long)]
        out: PathBuf,
    },
    /// Rebuild a data directory from a backup. The directory must be new or empty; the
    /// whole file is checked before anything is written.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        #[arg(long, default_value = "palabre-data", env = "PALABRE_DATA")]
        data: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum PeersAction {
    /// Federate with a town (or add an address to one already listed).
    Add {
        /// Its authority key (it prints it with `palabre status`).
        #[arg(long)]
        authority: palabre_core::crypto::PublicKey,
        /// Where its node listens, like /ip4/192.0.2.7/tcp/4040 (repeatable).
        #[arg(long = "addr")]
        addrs: Vec<String>,
        /// Its name, for people.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Stop federating with a town.
    Remove {
        authority: palabre_core::crypto::PublicKey,
    },
    /// List the federated towns.
    List,
}

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
        .init();
    match Cli::parse().command {
        Command::Serve { data, http, demo } => serve(data, http, demo),
        Command::Init { data, name, code } => init(data, name, code),
        Command::Invite { data, count, out } => invite(data, count, out),
        Command::Status { data } => status::run(&data),
        Command::Peers { data, action } => peers(data, action),
        Command::Recover {
            data,
            from,
            timeout,
        } => recover(data, from, timeout),
        Command::Backup { data, out } => backup::backup(&data, &out),
        Command::Restore { from, data } => backup::restore(&from, &data),
        Command::Audit {
            consultation,
            nodes,
            bundle,
            since,
            json,
            ca_certs,
        } => {
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
        Command::Tally {
            method,
            input,
            rule,
            budget,
            threshold,
            max_choices,
            grades,
        } => recount::run(
            &input,
            &recount::Options {
                method,
                rule,
                threshold,
                max_choices,
                grades,
            },
            budget,
        ),
        Command::CheckReceipt {
            receipt,
            nodes,
            ca_certs,
        } => {
            client::trust(&ca_certs)?;
            if receipt::run(&receipt, &nodes)? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Command::Export {
            consultation,
            bundle,
            format,
            out,
            nodes,
            ca_certs,
        } => {
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
        Command::Bench { secret: true, .. } => bench::secret_run(),
        Command::Bench {
            shuffle: Some(n), ..
        } => shufflebench::run(n),
        Command::Bench {
            staff_letters: Some(n),
            ..
        } => staffbench::run(n, 10),
        Command::Bench {
            audit_ballots: Some(n),
            ..
        } => bench::audit_run(n),
        Command::Bench {
            replication: Some(n),
            rate,
            seconds,
            ..
        } => replbench::run(n, rate, seconds),
        Command::Bench {
            voters,
            clients,
            batch,
            audit_ballots: None,
            replication: None,
            ..
        } => bench::run(voters, clients, batch),
    }
}

fn open(home: &Home) -> anyhow::Result<SledStorage> {
    let config = StoreConfig {
        cache_capacity_bytes: home.config.cache_mib * 1024 * 1024,
    };
    SledStorage::open(&home.store_dir(), config).with_context(|| {
        format!(
            "opening the store in {} (is another palabre running on it?)",
            home.store_dir().display()
        )
    })
}

/// Appends this town's `authority` event if its log is empty.
fn declare(
    storage: &SledStorage,
    home: &Home,
    name: &str,
    code: &str,
    public_url: &str,
) -> anyhow::Result<()> {
    let me = home.key.public_key();
    // Declared already, with this node's trustee key (an older declaration without it,
    // or with a key since replaced, is declared again: trustee.rs).
    if storage.log_size(&me) > 0 && storage.encryption_key(&me) == Some(home.trustee.public()) {
        return Ok(());
    }
    let (encryption_key, encryption_pok) = home.trustee.declaration(&me)?;
    let event = Event {
        author: me,
        created_at_ms: now_ms(),
        body: Body::Authority(AuthorityBody {
            name: name.into(),
            code: code.into(),
            addresses: vec![public_url.to_owned()],
            encryption_key: Some(encryption_key),
            encryption_pok: Some(encryption_pok),
        }),
    }
    .sign(&home.key)
    .map_err(|r| anyhow::anyhow!("the authority declaration is invalid: {r}"))?;
    let out = storage.commit(
        vec![CommitItem {
            log: me,
            event,
            consume_invitation: None,
        }],
        Clock::Live { now_ms: now_ms() },
        &|h| h.sign(&home.key),
    )?;
    if let Some(Err(e)) = out.results.first() {
        anyhow::bail!("the authority declaration was refused: {e}");
    }
    Ok(())
}

fn new_codes(storage: &SledStorage, home: &Home, count: u32) -> anyhow::Result<Vec<String>> {
    let me = home.key.public_key();
    let mut codes = Vec::new();
    for _ in 0..count {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        codes.push(code_from_random(&random));
    }
    let hashes: Vec<_> = codes
        .iter()
        .map(|c| {
            code_hash(
                &me,
                &normalize_code(c).expect("generated codes are well formed"),
            )
        })
        .collect();
    storage.add_invitations(&hashes)?;
    Ok(codes)
}

fn serve(data: PathBuf, http: Option<String>, demo: bool) -> anyhow::Result<()> {
    let home = Home::open_or_create(&data)?;
    let storage = Arc::new(open(&home)?);
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
        if demo::seed(&storage, &home.key)? {
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
        ..ApiConfig::default()
    };
    let office = backend::OfficeSettings {
        public_url,
        demo,
        town_name: home.config.name.clone(),
        session_ms: home.config.staff_session_seconds.saturating_mul(1000),
        federation: peers
            .peer
            .iter()
            .map(|p| (p.authority, p.name.clone()))
            .collect(),
    };
    let trustee_key = home.trustee.public_hex();
    let (trustee, shares) = (home.trustee, trustee::Shares::new(&data));
    let backend = Arc::new(NodeBackend::new(Arc::clone(&storage), home.key).with_office(office));
    if let Some(link) = palabre_web::staff::first_admin_link(&*backend)? {
        println!("No administrator yet. To create the first one, open (once): {link}");
    }
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
                false,
            )
            .await?;
            println!("Federating with {n} town(s), listening on {}", net.addr);
            let _ = live.net.set(net);
        }
        println!("Palabre is serving on http://{}", listener.local_addr()?);
        let staff = palabre_web::staff::routes(Arc::clone(&backend))
            .merge(opendata::routes(Arc::clone(&backend)));
        let app = palabre_web::app_with(Arc::clone(&backend), api, staff);
        tokio::spawn(close_consultations(
            Arc::clone(&backend),
            home.config.close_grace_ms,
        ));
        tokio::spawn(ceremony::run(Arc::clone(&backend), trustee, shares));
        // Small answers go out at once rather than waiting on Nagle's algorithm.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("TCP_NODELAY not set: {e}");
            }
        });
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await?;
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

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        () = term => {},
    }
}

fn init(data: PathBuf, name: String, code: String) -> anyhow::Result<()> {
    let home = Home::open_or_create(&data)?;
    let storage = open(&home)?;
    let public_url = home.config.public_url_for(
        home.config
            .http
            .parse()
            .context("the HTTP address is like 127.0.0.1:8080")?,
    );
    declare(&storage, &home, &name, &code, &public_url)?;
    println!("Data directory: {}", data.display());
    println!("Authority key:  {}", home.key.public_key());
    Ok(())
}

fn invite(data: PathBuf, count: u32, out: PathBuf) -> anyhow::Result<()> {
    let home = Home::open_or_create(&data)?;
    let storage = open(&home)?;
    let codes = new_codes(&storage, &home, count)?;
    let public_url = home.config.public_url_for(
        home.config
            .http
            .parse()
            .context("the HTTP address is like 127.0.0.1:8080")?,
    );
    let mut csv = String::from("code,url\n");
    for c in &codes {
        csv.push_str(&format!("{c},{public_url}\n"));
    }
    std::fs::write(&out, csv).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "{count} codes written to {} (the node keeps only their hashes).",
        out.display()
    );
    Ok(())
}

fn peers(data: PathBuf, action: PeersAction) -> anyhow::Result<()> {
    let home = Home::open_or_create(&data)?;
    let mut list = home.peers()?;
    match action {
        PeersAction::Add {
            authority,
            addrs,
            name,
        } => {
            anyhow::ensure!(
                authority != home.key.public_key(),
                "that is this town's own key"
            );
            for a in &addrs {
                a.parse::<palabre_net::Multiaddr>().map_err(|e| {
                    anyhow::anyhow!("{a:?} is not an address like /ip4/192.0.2.7/tcp/4040: {e}")
                })?;
            }
            match list.peer.iter_mut().find(|p| p.authority == authority) {
                Some(p) => {
                    for a in addrs {
                        if !p.addrs.contains(&a) {
                            p.addrs.push(a);
                        }
                    }
                    if !name.is_empty() {
                        p.name = name;
                    }
                }
                None => list.peer.push(home::Peer {
                    authority,
                    name,
                    addrs,
                }),
            }
            home.save_peers(&list)?;
            println!("Federating with {authority} (restart the node to apply).");
        }
        PeersAction::Remove { authority } => {
            let before = list.peer.len();
            list.peer.retain(|p| p.authority != authority);
            anyhow::ensure!(list.peer.len() < before, "{authority} is not in the list");
            home.save_peers(&list)?;
            println!("No longer federating with {authority} (restart the node to apply).");
        }
        PeersAction::List => {
            if list.peer.is_empty() {
                println!("No federated towns.");
            }
            for p in &list.peer {
                let name = if p.name.is_empty() { "-" } else { &p.name };
                println!("{}  {name}  {}", p.authority, p.addrs.join(" "));
            }
        }
    }
    Ok(())
}

/// Rebuilds this town's own log (and the replicas of the federated towns) from the
/// neighbours, checking every entry and head like any replication; ends once the store
/// holds all the network knows and that has stayed so for two seconds.
fn recover(data: PathBuf, from: Vec<String>, timeout: u64) -> anyhow::Result<()> {
    let home = Home::open_or_create(&data)?;
    let storage = Arc::new(open(&home)?);
    let me = home.key.public_key();
    anyhow::ensure!(
        storage.log_size(&me) == 0,
        "this data directory already holds this town's log ({} entries): nothing to recover",
        storage.log_size(&me)
    );
    let peers = home.peers()?;
    let settings = federation::Settings::new("/ip4/0.0.0.0/tcp/0", &peers, &from)?
        .ok_or_else(|| anyhow::anyhow!("give at least one --from address"))?;
    let key = Arc::new(home.key);
    let stats = Arc::new(metrics::FederationStats::default());
    let runtime = tokio::runtime::Runtime::new()?;
    let (size, gathered) = runtime.block_on(async {
        let never = Arc::new(tokio::sync::Notify::new());
        let net =
            federation::start(settings, Arc::clone(&storage), key, stats, never, true).await?;
        // What the neighbours witnessed (cosignatures) and proved (evidence) comes back
        // by asking each of them, not by waiting for it to be sent again.
        net.gather().await?;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout);
        let mut stable: Option<(u64, tokio::time::Instant)> = None;
        loop {
            tokio::time::sleep(federation::PASS).await;
            let now = tokio::time::Instant::now();
            anyhow::ensure!(
                now < deadline,
                "no neighbour served this town's log and what it witnessed within {timeout} s (are the addresses right, and their nodes running?)"
            );
            match federation::caught_up(&net, &storage, &me).await? {
                Some(size) => match stable {
                    Some((s, since)) if s == size => {
                        if since.elapsed() >= std::time::Duration::from_secs(2) {
                            return anyhow::Ok((size, net.gathering().await?));
                        }
                    }
                    _ => stable = Some((size, now)),
                },
                None => stable = None,
            }
        }
    })?;
    storage.flush()?;
    let head = storage
        .latest_head(&me)?
        .ok_or_else(|| anyhow::anyhow!("recovered entries but no signed head"))?;
    head.verify()
        .map_err(|_| anyhow::anyhow!("the recovered head is not signed by this town's key"))?;
    println!(
        "Recovered this town's log: {size} entries, head root {} (signed by this town).",
        head.head.root
    );
    let mut n_cosignatures = 0;
    let mut logs = vec![me];
    logs.extend(peers.peer.iter().map(|p| p.authority));
    for log in &logs {
        n_cosignatures += storage.cosignatures(log)?.len();
    }
    println!(
        "Recovered {} replica(s), {n_cosignatures} witness cosignature(s) and {} proof(s) of \
         equivocation from {} neighbour(s).",
        logs.len() - 1,
        storage.evidence()?.len(),
        gathered.done
    );
    if gathered.failed > 0 {
        println!(
            "{} neighbour(s) did not hand over what they witnessed (see the log above).",
            gathered.failed
        );
    }
    Ok(())
}
