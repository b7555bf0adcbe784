//! `palabre-bench --replication N`: the federation's figures of BENCHMARKS.md, in one run
//! on this machine, with real `palabre serve` processes on loopback.
//!
//! 1. **Replication**: a town's log holding a closed consultation of N ballots (written
//!    straight into its store: setup, not timed) is replicated to a fresh node; timed
//!    from the fresh node's start until its replica holds the whole log. The audit of the
//!    same log is timed in this process, for the ratio the issue sets (≤ 2 × audit).
//! 2. **Propagation**: three federated nodes; ballots are sent to the first at a steady
//!    rate; for each ballot, the time from its acknowledgement (the HTTP answer with its
//!    receipt) to its being stored at both other nodes (their signed head covers its
//!    index), found by polling their heads every 5 ms. Lost ballots, and entries
//!    received over the network per entry needed (duplicate amplification), too.

use std::collections::HashMap;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use palabre_core::admission::Clock;
use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::*;
use palabre_core::tally::{Choice, Method};
use palabre_store::{CommitItem, SledStorage, Storage, StoreConfig, stored_event};
use tokio::net::TcpStream;

use crate::bench::{
    Node, batch_body, closed_log, key, mib, palabre_bin, post, rss_kib, sign_all, time_audit,
};
use palabre::clock::now_ms;
use palabre::home::{Home, Peer, Peers};

pub fn run(n: u32, rate: u32, seconds: u32) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("machine: {cores} cores");
    let dir = std::env::temp_dir().join(format!("palabre-replbench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let result = (|| {
        let replica = replication(&dir.join("r"), n)?;
        let _ = std::fs::remove_dir_all(dir.join("r"));
        let origin = origin_curve(&dir.join("o"), n)?;
        let _ = std::fs::remove_dir_all(dir.join("o"));
        write_svg(&replica, &origin)?;
        propagation(&dir.join("p"), rate, seconds)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A data directory holding `key` as its authority key.
fn home_with_key(dir: &Path, key: &SecretKey, name: &str) -> anyhow::Result<Home> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join("authority.key"))?;
    use std::io::Write;
    writeln!(f, "{}", hex::encode(key.seed()))?;
    std::fs::write(dir.join("palabre.toml"), format!("name = \"{name}\"\n"))?;
    Home::open_or_create(dir)
}

/// Writes `entries` (signed here) into the store of `home`, as its own log (setup: with
/// a large page cache, which the node itself will not have).
fn seed_store(home: &Home, entries: &[Vec<u8>]) -> anyhow::Result<()> {
    let storage = SledStorage::open(
        &home.store_dir(),
        StoreConfig {
            cache_capacity_bytes: 1 << 30,
        },
    )?;
    let me = home.key.public_key();
    for chunk in entries.chunks(20_000) {
        let items = chunk
            .iter()
            .map(|b| {
                Ok(CommitItem {
                    log: me,
                    event: stored_event(b.clone())?,
                    consume_invitation: None,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let out = storage.commit(items, Clock::Replay, &|h| h.sign(&home.key))?;
        if let Some(Err(e)) = out.results.iter().find(|r| r.is_err()) {
            anyhow::bail!("a bench entry was refused: {e}");
        }
    }
    storage.flush()?;
    Ok(())
}

/// The nodes' page cache (`cache_mib`) in this bench.
const CACHE: (&str, &str) = ("PALABRE_CACHE_MIB", "64");

fn free_p2p() -> anyhow::Result<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    Ok(format!("/ip4/127.0.0.1/tcp/{port}"))
}

/// Names each town's peers in its `peers.toml`.
fn federate(towns: &[(&Home, &str)]) -> anyhow::Result<()> {
    for (home, _) in towns {
        let peer = towns
            .iter()
            .filter(|(other, _)| other.key.public_key() != home.key.public_key())
            .map(|(other, addr)| Peer {
                authority: other.key.public_key(),
                name: other.config.name.clone(),
                addrs: vec![(*addr).to_owned()],
            })
            .collect();
        home.save_peers(&Peers { peer })?;
    }
    Ok(())
}

/// A fresh town: `palabre init`.
fn init(dir: &Path, name: &str) -> anyhow::Result<Home> {
    let out = std::process::Command::new(palabre_bin()?)
        .args(["init", "--name", name, "--data"])
        .arg(dir)
        .env("PALABRE_LOG", "warn")
        .output()?;
    anyhow::ensure!(out.status.success(), "palabre init failed");
    Home::open_or_create(dir)
}

/// A log's size as a node serves it (0 when it holds none).
async fn size_at(addr: &str, log: &PublicKey) -> u64 {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return 0;
    };
    let _ = s.set_nodelay(true);
    let Ok((200, body)) = get(&mut s, addr, &format!("/api/v1/logs/{log}/checkpoint")).await else {
        return 0;
    };
    serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["head"]["size"].as_u64())
        .unwrap_or(0)
}

async fn get(s: &mut TcpStream, addr: &str, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("no HTTP head"))?;
    let status = std::str::from_utf8(&raw[..at])?
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, raw[at + 4..].to_vec()))
}

async fn metric(addr: &str, name: &str) -> u64 {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return 0;
    };
    let Ok((_, body)) = get(&mut s, addr, "/metrics").await else {
        return 0;
    };
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

/// Replicates a closed log of `n` ballots to a fresh node; returns the fresh node's RSS
/// curve: (entries held, MiB).
fn replication(dir: &Path, n: u32) -> anyhow::Result<Curve> {
    println!("replication: signing a closed consultation of {n} ballots (setup, not timed)…");
    let log = closed_log(n)?;
    let audit_secs = time_audit(&log)?;
    let total = log.entries.len() as u64;
    let source = home_with_key(&dir.join("source"), &log.town, "Source")?;
    seed_store(&source, &log.entries)?;
    let fresh = init(&dir.join("fresh"), "Fresh")?;
    let (a, b) = (free_p2p()?, free_p2p()?);
    federate(&[(&source, &a), (&fresh, &b)])?;
    let town = log.town.public_key();
    drop(log);
    let _source = Node::start_with(&source.dir, &[("PALABRE_P2P_LISTEN", &a), CACHE])?;
    let t = Instant::now();
    let replica = Node::start_with(&fresh.dir, &[("PALABRE_P2P_LISTEN", &b), CACHE])?;
    let rt = tokio::runtime::Runtime::new()?;
    let deadline = t + Duration::from_secs(3_600);
    let step = rss_step(total);
    let mut curve = vec![(0, mib(rss_kib(replica.pid()).0))];
    loop {
        // The checkpoint's size moves only when a signed head is reached; the entries
        // the replica stored so far are its replication counter.
        let stored = rt.block_on(metric(&replica.addr, "palabre_replicated_entries_total"));
        // RSS at every step of entries held (one sample when a poll crosses a step).
        if stored / step > curve.last().map_or(0, |(at, _)| *at) / step {
            curve.push((stored, mib(rss_kib(replica.pid()).0)));
        }
        let held = rt.block_on(size_at(&replica.addr, &town));
        if held >= total {
            curve.push((held, mib(rss_kib(replica.pid()).0)));
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "replication stalled at {held}/{total}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let secs = t.elapsed().as_secs_f64();
    let (rss, peak) = rss_kib(replica.pid());
    println!(
        "replication of {total} entries ({n} ballots) to a fresh node: {secs:.1} s = {:.0} entries/s; \
         goal ≤ 30 s → {:.2} × the goal; audit of the same log here: {audit_secs:.1} s, \
         goal ≤ 2 × audit → {:.2} × the goal; fresh node RSS {:.0} MiB (peak {:.0} MiB)",
        total as f64 / secs,
        secs / 30.0,
        secs / (2.0 * audit_secs),
        mib(rss),
        mib(peak)
    );
    crate::report::against(
        &format!("replication of {total} entries ({n} ballots) to a fresh node"),
        secs,
        "s",
        30.0,
        secs / 30.0,
        "≤ 1",
    );
    crate::report::against(
        "replication ÷ audit of the same log",
        secs,
        "s",
        2.0 * audit_secs,
        secs / (2.0 * audit_secs),
        "≤ 1",
    );
    crate::report::figure("audit of the same log", audit_secs, "s");
    crate::report::figure("fresh node RSS", mib(rss), "MiB");
    crate::report::figure("fresh node RSS, peak", mib(peak), "MiB");
    print_curve("fresh replica", &curve);
    Ok(curve)
}

fn propagation(dir: &Path, rate: u32, seconds: u32) -> anyhow::Result<()> {
    let n = rate * seconds;
    println!("propagation: three nodes, {n} ballots at {rate}/s to the first…");
    let town = key(u32::MAX - 1);
    let me = town.public_key();
    let now = now_ms();
    let sign = |author: &SecretKey, body: Body| {
        Event {
            author: author.public_key(),
            created_at_ms: now,
            body,
        }
        .sign(author)
    };
    let mut setup = vec![
        sign(
            &town,
            Body::Authority(AuthorityBody {
                name: "Source".into(),
                code: String::new(),
                addresses: vec![],
                encryption_key: None,
                encryption_pok: None,
            }),
        )?
        .into_bytes(),
    ];
    setup.extend(sign_all(n, |i| {
        sign(
            &town,
            Body::Credential(CredentialBody {
                subject: key(i).public_key(),
                replaces: None,
            }),
        )
    })?);
    let consultation = sign(
        &town,
        Body::Consultation(Box::new(ConsultationBody {
            title: "Propagation".into(),
            description: "Bench".into(),
            authorities: vec![me],
            proposals_open_ms: now - 60_000,
            proposals_close_ms: now + 3_600_000,
            vote_open_ms: now - 60_000,
            vote_close_ms: now + 3_600_000,
            method: Method::Approval { max_choices: 1 },
            show_running_results: false,
            secrecy: None,
            quotas: None,
        })),
    )?;
    let cid = consultation.id();
    let proposal = sign(
        &town,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "P".into(),
            body: "P".into(),
            cost: None,
        }),
    )?;
    let pid = proposal.id();
    setup.push(consultation.into_bytes());
    setup.push(proposal.into_bytes());
    let source = home_with_key(&dir.join("a"), &town, "A")?;
    seed_store(&source, &setup)?;
    let base = setup.len() as u64;
    let b = init(&dir.join("b"), "B")?;
    let c = init(&dir.join("c"), "C")?;
    let addrs = [free_p2p()?, free_p2p()?, free_p2p()?];
    federate(&[(&source, &addrs[0]), (&b, &addrs[1]), (&c, &addrs[2])])?;
    let ballots = sign_all(n, |i| {
        Event {
            author: key(i).public_key(),
            created_at_ms: now_ms(),
            body: Body::Ballot(BallotBody {
                consultation: cid,
                choice: Choice::Approve(vec![pid]),
                assistance: None,
            }),
        }
        .sign(&key(i))
    })?;
    let nodes = [
        Node::start_with(&source.dir, &[("PALABRE_P2P_LISTEN", &addrs[0]), CACHE])?,
        Node::start_with(&b.dir, &[("PALABRE_P2P_LISTEN", &addrs[1]), CACHE])?,
        Node::start_with(&c.dir, &[("PALABRE_P2P_LISTEN", &addrs[2]), CACHE])?,
    ];
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        // Both replicas hold the setup before the clock starts.
        let deadline = Instant::now() + Duration::from_secs(600);
        while size_at(&nodes[1].addr, &me).await < base || size_at(&nodes[2].addr, &me).await < base {
            anyhow::ensure!(Instant::now() < deadline, "the replicas never caught up with the setup");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let received_before = metric(&nodes[1].addr, "palabre_sync_entries_received_total").await
            + metric(&nodes[2].addr, "palabre_sync_entries_received_total").await;
        // Poll both replicas' heads: (time, size) as they grow.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let t0 = Instant::now();
        let mut pollers = Vec::new();
        for node in &nodes[1..] {
            let addr = node.addr.clone();
            let stop = Arc::clone(&stop);
            pollers.push(tokio::spawn(async move {
                let mut seen: Vec<(f64, u64)> = Vec::new();
                let mut last = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let size = size_at(&addr, &me).await;
                    if size > last {
                        seen.push((t0.elapsed().as_secs_f64(), size));
                        last = size;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                seen
            }));
        }
        // Send at the rate: a batch every 10 ms, from a few connections.
        let per_batch = (rate / 100).max(1) as usize;
        let acks: Arc<Mutex<HashMap<u64, f64>>> = Arc::new(Mutex::new(HashMap::new()));
        let batches: Vec<Vec<u8>> = ballots.chunks(per_batch).map(batch_body).collect();
        let batches = Arc::new(batches);
        let clients = 4;
        let mut senders = Vec::new();
        for k in 0..clients {
            let batches = Arc::clone(&batches);
            let acks = Arc::clone(&acks);
            let addr = nodes[0].addr.clone();
            senders.push(tokio::spawn(async move {
                let mut s = TcpStream::connect(&addr).await?;
                s.set_nodelay(true)?;
                let mut i = k;
                while i < batches.len() {
                    let due = Duration::from_millis(10 * i as u64);
                    if let Some(wait) = due.checked_sub(t0.elapsed()) {
                        tokio::time::sleep(wait).await;
                    }
                    let (status, body) = post(&mut s, &addr, &batches[i]).await?;
                    let at = t0.elapsed().as_secs_f64();
                    anyhow::ensure!(status == 200, "refused with {status}");
                    let v: serde_json::Value = serde_json::from_slice(&body)?;
                    let mut acks = acks.lock().unwrap_or_else(|e| e.into_inner());
                    for r in v["results"].as_array().into_iter().flatten() {
                        let index = r["receipt"]["receipt"]["index"]
                            .as_u64()
                            .ok_or_else(|| anyhow::anyhow!("a ballot was refused: {r}"))?;
                        acks.insert(index, at);
                    }
                    i += clients;
                }
                anyhow::Ok(())
            }));
        }
        for s in senders {
            s.await??;
        }
        let sent_secs = t0.elapsed().as_secs_f64();
        let target = base + u64::from(n);
        let deadline = Instant::now() + Duration::from_secs(120);
        while size_at(&nodes[1].addr, &me).await < target || size_at(&nodes[2].addr, &me).await < target {
            if Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut seen = Vec::new();
        for p in pollers {
            seen.push(p.await?);
        }
        let received = metric(&nodes[1].addr, "palabre_sync_entries_received_total").await
            + metric(&nodes[2].addr, "palabre_sync_entries_received_total").await
            - received_before;
        let acks = acks.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let stored_at = |series: &Vec<(f64, u64)>, index: u64| {
            series.iter().find(|(_, size)| *size > index).map(|(t, _)| *t)
        };
        let mut latencies = Vec::new();
        let mut lost = 0;
        for (index, ack) in &acks {
            match (stored_at(&seen[0], *index), stored_at(&seen[1], *index)) {
                (Some(x), Some(y)) => latencies.push((x.max(y) - ack).max(0.0) * 1000.0),
                _ => lost += 1,
            }
        }
        latencies.sort_by(f64::total_cmp);
        let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        anyhow::ensure!(!latencies.is_empty(), "no ballot reached the replicas");
        println!(
            "propagation, 3 nodes, {} ballots acknowledged in {sent_secs:.1} s ({:.0}/s): \
             ack at the home node → stored at both others: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms \
             (goal p99 ≤ 200 ms → {:.2} × the goal); lost {lost}; entries received per entry \
             needed {:.2} (goal ≤ 3)",
            acks.len(),
            acks.len() as f64 / sent_secs,
            pct(0.5),
            pct(0.99),
            latencies[latencies.len() - 1],
            pct(0.99) / 200.0,
            received as f64 / (2.0 * acks.len() as f64),
        );
            crate::report::figure("propagation p50", pct(0.5), "ms");
            crate::report::against("propagation p99", pct(0.99), "ms", 200.0, pct(0.99) / 200.0, "≤ 1");
            crate::report::figure("propagation max", latencies[latencies.len() - 1], "ms");
            crate::report::figure("propagation lost ballots", lost as f64, "ballots");
            crate::report::against(
                "entries received per entry needed",
                received as f64 / (2.0 * acks.len() as f64),
                "entries",
                3.0,
                received as f64 / (2.0 * acks.len() as f64) / 3.0,
                "≤ 1",
            );
        anyhow::Ok(())
    })?;
    for node in nodes {
        node.stop()?;
    }
    Ok(())
}

/// An RSS curve: (entries held, MiB), in the order sampled.
type Curve = Vec<(u64, f64)>;

/// Entries between two RSS samples: 100 k, or 10 k for logs under half a million.
fn rss_step(total: u64) -> u64 {
    if total >= 500_000 { 100_000 } else { 10_000 }
}

fn print_curve(what: &str, curve: &Curve) {
    let points: Vec<String> = curve
        .iter()
        .map(|(at, rss)| format!("{at} → {rss:.0}"))
        .collect();
    println!(
        "RSS curve, {what} (entries held → MiB): {}",
        points.join(", ")
    );
    for (at, rss) in curve {
        crate::report::figure(&format!("{what} RSS at {at} entries"), *rss, "MiB");
    }
}

/// An origin node's RSS as its own log grows through its HTTP API: credentials and then
/// ballots of `n` voters, a step's worth of entries (`rss_step`) a round, sampled after
/// each round.
fn origin_curve(dir: &Path, n: u32) -> anyhow::Result<Curve> {
    println!("origin: {n} voters credentialed and voting through one node's HTTP API…");
    let home = init(dir, "Origin")?;
    let town = &home.key;
    let me = town.public_key();
    let node = Node::start_with(&home.dir, &[CACHE])?;
    let rt = tokio::runtime::Runtime::new()?;
    let now = now_ms();
    let at = |author: &SecretKey, body: Body| {
        Event {
            author: author.public_key(),
            created_at_ms: now_ms(),
            body,
        }
        .sign(author)
    };
    let consultation = at(
        town,
        Body::Consultation(Box::new(ConsultationBody {
            title: "Origin".into(),
            description: "Bench".into(),
            authorities: vec![me],
            proposals_open_ms: now - 60_000,
            proposals_close_ms: now + 24 * 3_600_000,
            vote_open_ms: now - 60_000,
            vote_close_ms: now + 24 * 3_600_000,
            method: Method::Approval { max_choices: 1 },
            show_running_results: false,
            secrecy: None,
            quotas: None,
        })),
    )?;
    let cid = consultation.id();
    let proposal = at(
        town,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "P".into(),
            body: "P".into(),
            cost: None,
        }),
    )?;
    let pid = proposal.id();
    let setup = batch_body(&[consultation.into_bytes(), proposal.into_bytes()]);
    rt.block_on(send(&node.addr, vec![setup], 1))?;
    let round = (rss_step(2 * u64::from(n)) / 2) as u32;
    let sample = |rt: &tokio::runtime::Runtime| {
        (
            rt.block_on(size_at(&node.addr, &me)),
            mib(rss_kib(node.pid()).0),
        )
    };
    let mut curve = vec![sample(&rt)];
    let mut first = 0;
    while first < n {
        let k = round.min(n - first);
        let credentials = sign_all(k, |i| {
            at(
                town,
                Body::Credential(CredentialBody {
                    subject: key(first + i).public_key(),
                    replaces: None,
                }),
            )
        })?;
        let bodies = credentials
            .chunks(palabre_core::limits::MAX_PAGE_ENTRIES as usize)
            .map(batch_body)
            .collect();
        rt.block_on(send(&node.addr, bodies, 1))?;
        let ballots = sign_all(k, |i| {
            at(
                &key(first + i),
                Body::Ballot(BallotBody {
                    consultation: cid,
                    choice: Choice::Approve(vec![pid]),
                    assistance: None,
                }),
            )
        })?;
        rt.block_on(send(
            &node.addr,
            ballots.chunks(100).map(batch_body).collect(),
            4,
        ))?;
        first += k;
        curve.push(sample(&rt));
    }
    node.stop()?;
    print_curve("origin", &curve);
    Ok(curve)
}

/// Posts every batch over `clients` keep-alive connections; each must be answered 200
/// with no refusal inside.
async fn send(addr: &str, bodies: Vec<Vec<u8>>, clients: usize) -> anyhow::Result<()> {
    let bodies = Arc::new(bodies);
    let mut tasks = Vec::new();
    for c in 0..clients.min(bodies.len()).max(1) {
        let (bodies, addr) = (Arc::clone(&bodies), addr.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(&addr).await?;
            s.set_nodelay(true)?;
            for body in bodies.iter().skip(c).step_by(clients) {
                let (status, answer) = post(&mut s, &addr, body).await?;
                anyhow::ensure!(
                    status == 200 && !answer.windows(7).any(|w| w == b"\"error\""),
                    "refused with {status}: {}",
                    String::from_utf8_lossy(&answer[..answer.len().min(300)])
                );
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Draws both curves into one SVG (hand-written, no dependency) at `PALABRE_BENCH_SVG`,
/// by default `docs/bench/rss.svg` under the working directory.
fn write_svg(replica: &Curve, origin: &Curve) -> anyhow::Result<()> {
    let path = std::env::var_os("PALABRE_BENCH_SVG")
        .map_or_else(|| Path::new("docs/bench/rss.svg").to_path_buf(), Into::into);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, svg(replica, origin))?;
    println!("RSS curves drawn in {}", path.display());
    Ok(())
}

/// A round number at or above `x` (1, 2 or 5 times a power of ten).
fn nice(x: f64) -> f64 {
    let p = 10f64.powf(x.max(1.0).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|v| *v >= x)
        .unwrap_or(10.0 * p)
}

fn svg(replica: &Curve, origin: &Curve) -> String {
    use std::fmt::Write;
    let (w, h, left, right, top, bottom) = (720.0, 400.0, 70.0, 20.0, 40.0, 60.0);
    let all = || replica.iter().chain(origin.iter());
    let x_max = nice(all().map(|(e, _)| *e as f64).fold(1.0, f64::max));
    let y_max = nice(all().map(|(_, m)| *m).fold(1.0, f64::max) * 1.1);
    let x = |e: f64| left + e / x_max * (w - left - right);
    let y = |m: f64| h - bottom - m / y_max * (h - top - bottom);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"20\" font-size=\"14\">RSS (MiB) against entries held — \
         palabre-bench --replication</text>\n"
    );
    for i in 0..=5 {
        let (ex, my) = (x_max * f64::from(i) / 5.0, y_max * f64::from(i) / 5.0);
        let _ = writeln!(
            s,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{my:.0}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{ex:.0}</text>",
            left,
            y(my),
            w - right,
            y(my),
            left - 6.0,
            y(my) + 4.0,
            x(ex),
            h - bottom + 16.0,
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">entries held</text>",
        (left + w - right) / 2.0,
        h - 20.0
    );
    for (i, (name, curve, colour)) in [
        ("fresh replica", replica, "#c0392b"),
        ("origin (HTTP ingest)", origin, "#2471a3"),
    ]
    .into_iter()
    .enumerate()
    {
        let points: Vec<String> = curve
            .iter()
            .map(|(e, m)| format!("{:.1},{:.1}", x(*e as f64), y(*m)))
            .collect();
        let _ = writeln!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
            points.join(" ")
        );
        let ly = top + 16.0 * i as f64;
        let _ = writeln!(
            s,
            "<line x1=\"{:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" \
             stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\">{name}</text>",
            left + 12.0,
            left + 36.0,
            left + 42.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}
