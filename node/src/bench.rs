//! `palabre bench`: the figures of BENCHMARKS.md, measured in one run on this machine —
//! raw signature rates first (the limits), then durable HTTP ingest through the real
//! server on loopback, memory (RSS) and disk. Timings live here, never in tests.

use std::sync::Arc;
use std::time::Instant;

use palabre_core::admission::Clock;
use palabre_core::crypto::{Domain, PublicKey, SecretKey, SignedMessage, verify_many};
use palabre_core::event::*;
use palabre_core::ids::EventId;
use palabre_core::tally::{Choice, Method};
use palabre_store::{CommitItem, SledStorage, Storage, StoreConfig};
use palabre_web::ApiConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backend::{NodeBackend, now_ms};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn dir_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn key(n: u32) -> SecretKey {
    let mut seed = [3u8; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    SecretKey::from_seed(&seed)
}

fn signature_rates(n: usize) -> (f64, f64) {
    let keys: Vec<SecretKey> = (0..n as u32).map(key).collect();
    let pks: Vec<PublicKey> = keys.iter().map(SecretKey::public_key).collect();
    let messages: Vec<Vec<u8>> = (0..n)
        .map(|i| Domain::Event.message(format!("ballot {i}").as_bytes()))
        .collect();
    let sigs: Vec<_> = keys
        .iter()
        .zip(&messages)
        .map(|(k, m)| k.sign(Domain::Event, &m[Domain::Event.tag().len()..]))
        .collect();
    let t = Instant::now();
    for i in 0..n {
        assert!(pks[i].verify_message(&messages[i], &sigs[i]).is_ok());
    }
    let strict = n as f64 / t.elapsed().as_secs_f64();
    let items: Vec<SignedMessage<'_>> = (0..n)
        .map(|i| SignedMessage {
            message: &messages[i],
            key: &pks[i],
            sig: &sigs[i],
        })
        .collect();
    let t = Instant::now();
    for chunk in items.chunks(256) {
        assert!(verify_many(chunk).iter().all(|ok| *ok));
    }
    let batch = n as f64 / t.elapsed().as_secs_f64();
    (strict, batch)
}

async fn post(stream: &mut TcpStream, addr: &str, body: &[u8]) -> anyhow::Result<u16> {
    let head = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await?;
                anyhow::ensure!(n > 0, "connection closed");
                buf.extend_from_slice(&chunk[..n]);
            }
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .unwrap_or("0")
                .parse()
                .unwrap_or(0);
            return Ok(status);
        }
    }
}

pub fn run(n_voters: u32, clients: usize, batch: usize) -> anyhow::Result<()> {
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let (strict, batched) = signature_rates(20_000);
    println!("raw verify_strict, one core:        {strict:>10.0} signatures/s");
    println!("raw batch verify (256), one core:   {batched:>10.0} signatures/s");

    let dir = std::env::temp_dir().join(format!("palabre-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let town = key(u32::MAX);
    let storage = Arc::new(SledStorage::open(&dir, StoreConfig::default())?);
    let me = town.public_key();
    let now = now_ms();
    let sign = |k: &SecretKey, body: Body| {
        Event {
            author: k.public_key(),
            created_at_ms: now,
            body,
        }
        .sign(k)
    };
    let mut setup = vec![sign(
        &town,
        Body::Authority(AuthorityBody {
            name: "Bench".into(),
            code: String::new(),
            addresses: vec![],
        }),
    )?];
    for v in 0..n_voters {
        setup.push(sign(
            &town,
            Body::Credential(CredentialBody {
                subject: key(v).public_key(),
                replaces: None,
            }),
        )?);
    }
    let c = sign(
        &town,
        Body::Consultation(Box::new(ConsultationBody {
            title: "Bench".into(),
            description: "Bench".into(),
            authorities: vec![me],
            proposals_open_ms: now - 1000,
            proposals_close_ms: now + 3_600_000,
            vote_open_ms: now - 1000,
            vote_close_ms: now + 3_600_000,
            method: Method::Approval { max_choices: 1 },
            show_running_results: false,
        })),
    )?;
    let cid: EventId = c.id();
    setup.push(c);
    let p = sign(
        &town,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "P".into(),
            body: "P".into(),
            cost: None,
        }),
    )?;
    let pid = p.id();
    setup.push(p);
    for chunk in setup.chunks(2_000) {
        let items = chunk
            .iter()
            .map(|e| CommitItem {
                log: me,
                event: e.clone(),
                consume_invitation: None,
            })
            .collect();
        storage.commit(items, Clock::Live { now_ms: now }, &|h| h.sign(&town))?;
    }
    let ballots: Vec<Vec<u8>> = (0..n_voters)
        .map(|v| {
            Event {
                author: key(v).public_key(),
                created_at_ms: now_ms(),
                body: Body::Ballot(BallotBody {
                    consultation: cid,
                    choice: Choice::Approve(vec![pid]),
                }),
            }
            .sign(&key(v))
            .map(|e| e.bytes().to_vec())
        })
        .collect::<Result<_, _>>()?;
    let raw_bytes: u64 = ballots.iter().map(|b| b.len() as u64).sum();
    let rss_idle = rss_kib();

    let backend = Arc::new(NodeBackend::new(
        Arc::clone(&storage),
        SecretKey::from_seed(&town.seed()),
    ));
    let rt = tokio::runtime::Runtime::new()?;
    let half = ballots.len() / 2;
    let (single, batched_rate) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        // The bench is one address sending as fast as it can: no rate limit.
        let api = ApiConfig {
            rate: palabre_web::RateLimit {
                per_second: 1e9,
                burst: 1e9,
            },
            ..ApiConfig::default()
        };
        let app = palabre_web::app(Arc::clone(&backend), api);
        tokio::spawn(async move { axum::serve(listener, app).await });
        // One ballot per request, `clients` concurrent keep-alive connections.
        let work: Arc<Vec<Vec<u8>>> = Arc::new(ballots[..half].to_vec());
        let t = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients {
            let work = Arc::clone(&work);
            let addr = addr.clone();
            tasks.push(tokio::spawn(async move {
                let mut s = TcpStream::connect(&addr).await?;
                let mut i = c;
                while i < work.len() {
                    let status = post(&mut s, &addr, &work[i]).await?;
                    anyhow::ensure!(status == 201, "ballot refused with {status}");
                    i += clients;
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        let single = half as f64 / t.elapsed().as_secs_f64();
        // Batches of `batch` ballots per request.
        let rest = &ballots[half..];
        let bodies: Vec<Vec<u8>> = rest
            .chunks(batch)
            .map(|chunk| {
                let mut body = b"[".to_vec();
                for (i, b) in chunk.iter().enumerate() {
                    if i > 0 {
                        body.push(b',');
                    }
                    body.extend_from_slice(b);
                }
                body.push(b']');
                body
            })
            .collect();
        let bodies = Arc::new(bodies);
        let t = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients.min(bodies.len()).max(1) {
            let bodies = Arc::clone(&bodies);
            let addr = addr.clone();
            let step = clients.min(bodies.len()).max(1);
            tasks.push(tokio::spawn(async move {
                let mut s = TcpStream::connect(&addr).await?;
                let mut i = c;
                while i < bodies.len() {
                    let status = post(&mut s, &addr, &bodies[i]).await?;
                    anyhow::ensure!(status == 200, "batch refused with {status}");
                    i += step;
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        let batched_rate = rest.len() as f64 / t.elapsed().as_secs_f64();
        anyhow::Ok((single, batched_rate))
    })?;
    let rss_loaded = rss_kib();
    storage.flush()?;
    let disk = dir_bytes(&dir);
    println!(
        "HTTP ingest, 1 ballot/request, {clients} clients: {single:>8.0} ballots/s  = {:.2} × (2 × verify_strict)",
        single / (2.0 * strict)
    );
    println!(
        "HTTP ingest, {batch}/request, {clients} clients:   {batched_rate:>8.0} ballots/s  = {:.2} × (2 × batch verify)",
        batched_rate / (2.0 * batched)
    );
    println!(
        "RSS before serving ({n_voters} credentials stored): {:.1} MiB",
        rss_idle as f64 / 1024.0
    );
    println!(
        "RSS after {n_voters} ballots:                 {:.1} MiB",
        rss_loaded as f64 / 1024.0
    );
    println!(
        "disk: {:.1} MiB for {:.1} MiB of signed ballots ({:.2}×; credentials included)",
        disk as f64 / 1048576.0,
        raw_bytes as f64 / 1048576.0,
        disk as f64 / raw_bytes as f64
    );
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
