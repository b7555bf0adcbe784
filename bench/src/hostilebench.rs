//! `palabre-bench --hostile SECONDS`: what a well-behaved resident still gets from a
//! `palabre serve --demo` child on loopback while other addresses attack it, with the
//! node's own limits (no bench overrides). Every loop is bounded by `SECONDS` and runs on
//! loopback addresses only (127.0.0.x stand for distinct clients).
//!
//! The well-behaved residents are four addresses, each asking for the results page at a
//! polite 20 requests a second (below the per-address limit). Each phase measures what
//! they are served — requests answered 200 per second, and the p50 / p99 times — while:
//! - nothing else happens (the baseline);
//! - one address holds as many idle connections as the node lets it (and a second
//!   address sends a header byte a second);
//! - one address floods requests from 16 threads as fast as it can;
//! - 32 addresses each read the expensive answers (open-data file, tally, results
//!   page) at their full per-address rate, the reads issue 19's count cache is for.
//!
//! Timings live here, never in tests.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::bench::{Limits, Node, batch_body, key, mib, rss_kib, send_all, sign_all};
use crate::report;

fn loopback(c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, c, d))
}

/// A TCP connection to `addr` from the local address `from`.
fn connect_from(
    rt: &tokio::runtime::Runtime,
    from: IpAddr,
    addr: &str,
) -> std::io::Result<TcpStream> {
    let to: SocketAddr = addr.parse().map_err(std::io::Error::other)?;
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(from, 0))?;
        tokio::time::timeout(Duration::from_secs(5), socket.connect(to))
            .await
            .map_err(std::io::Error::other)?
    })?;
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .expect("a runtime")
}

/// `GET path` from `from`: the status (0 when the connection failed or was cut).
fn get(rt: &tokio::runtime::Runtime, from: IpAddr, addr: &str, path: &str) -> u16 {
    let Ok(mut s) = connect_from(rt, from, addr) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    if write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .is_err()
    {
        return 0;
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw[..raw.len().min(64)])
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// What the well-behaved residents were served in one phase.
struct Served {
    per_second: f64,
    asked_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Four polite residents for `seconds`, each at 20 requests a second.
fn residents(addr: &str, path: &str, seconds: f64) -> Served {
    let threads: Vec<_> = (0..4u8)
        .map(|n| {
            let (addr, path) = (addr.to_owned(), path.to_owned());
            std::thread::spawn(move || {
                let rt = runtime();
                let from = loopback(0, 10 + n);
                let start = Instant::now();
                let (mut asked, mut ok, mut times) = (0u64, 0u64, Vec::new());
                while start.elapsed().as_secs_f64() < seconds {
                    let due = start + Duration::from_millis(50 * asked);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    asked += 1;
                    let t = Instant::now();
                    if get(&rt, from, &addr, &path) == 200 {
                        ok += 1;
                        times.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                }
                (asked, ok, times)
            })
        })
        .collect();
    let (mut asked, mut ok, mut times) = (0, 0, Vec::new());
    for t in threads {
        let (a, o, ts) = t.join().expect("a resident");
        asked += a;
        ok += o;
        times.extend(ts);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| {
        times
            .get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Served {
        per_second: ok as f64 / seconds,
        asked_per_second: asked as f64 / seconds,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

fn print(phase: &str, s: &Served, quiet: &Served) {
    let ratio = s.per_second / quiet.per_second;
    println!(
        "  {phase:<44} {:6.1} req/s served of {:5.1} asked ({ratio:4.2}× quiet), p50 {:6.1} ms, p99 {:7.1} ms",
        s.per_second, s.asked_per_second, s.p50_ms, s.p99_ms
    );
    let key = phase.replace(' ', "_");
    report::against(
        &format!("hostile_{key}_served"),
        s.per_second,
        "req/s",
        quiet.per_second,
        ratio,
        "≥ 0.95",
    );
    report::figure(&format!("hostile_{key}_p99"), s.p99_ms, "ms");
}

/// Runs `attack` on its own threads while the residents are measured; `attack` gets a
/// stop flag and gives back what it counted.
fn during<T: Send + 'static>(
    addr: &str,
    path: &str,
    seconds: f64,
    attack: impl FnOnce(Arc<AtomicBool>) -> std::thread::JoinHandle<T>,
) -> (Served, T) {
    let stop = Arc::new(AtomicBool::new(false));
    let handle = attack(stop.clone());
    // Let the attack reach its full strength first.
    std::thread::sleep(Duration::from_millis(500));
    let served = residents(addr, path, seconds);
    stop.store(true, Ordering::SeqCst);
    (served, handle.join().expect("the attack"))
}

pub fn run(seconds: u32, voters: u32) -> anyhow::Result<()> {
    let seconds = f64::from(seconds.max(1));
    let dir = tempfile_dir()?;
    let cid = populate(&dir, voters)?;
    let node = Node::start_args(&dir, &[], &[], Limits::Own)?;
    let addr = node.addr.clone();
    let page = format!("/c/{cid}/results");
    println!(
        "palabre-bench --hostile {seconds} --voters {voters}: palabre serve on {addr}, the node's own limits, an open approval vote of {voters} ballots shown as they come"
    );
    println!("well-behaved residents: 4 addresses × 20 GET {page} per second");

    // The first reads after a start count every ballot (the count is then kept).
    let first = |path: &str| -> anyhow::Result<f64> {
        let t = Instant::now();
        http_get(&addr, path)?;
        Ok(t.elapsed().as_secs_f64())
    };
    let counted = first(&page)?;
    let made = first(&format!("/c/{cid}/data/results.json"))?;
    println!(
        "  first results page after the start (counts {voters} ballots): {counted:.2} s; first open-data file (replays and audits the log): {made:.2} s"
    );
    report::figure("hostile_first_count", counted, "s");
    report::figure("hostile_first_open_data_file", made, "s");

    let quiet = residents(&addr, &page, seconds);
    print("quiet", &quiet, &quiet);

    // Idle connections: one address opens 400 and holds them; another trickles a header.
    let a = addr.clone();
    let (s, (held, slow_dropped_after)) = during(&addr, &page, seconds, move |stop| {
        std::thread::spawn(move || hold_idle(&a, &stop))
    });
    print("while one address holds idle connections", &s, &quiet);
    println!(
        "    idle connections held from that address: {held} of 400 opened; a one-byte-a-second header dropped after {slow_dropped_after:.1} s"
    );
    report::figure("hostile_idle_connections_held", held as f64, "connections");
    report::figure("hostile_slow_header_dropped_after", slow_dropped_after, "s");

    // A flood from one address, 16 threads, as fast as they can.
    let (a, p) = (addr.clone(), page.clone());
    let (s, (answered, refused)) = during(&addr, &page, seconds, move |stop| {
        std::thread::spawn(move || flood(&a, &[p], 16, 1, &stop))
    });
    print("while one address floods (16 threads)", &s, &quiet);
    println!("    the flood: {answered} answered 200, {refused} refused (429/503)");
    report::figure(
        "hostile_flood_one_address_answered",
        answered as f64,
        "requests",
    );

    // The expensive reads, from 32 addresses at their full rate each.
    let (a, c) = (addr.clone(), cid.clone());
    let reads = vec![
        format!("/c/{c}/data/results.json"),
        format!("/api/v1/consultations/{c}/tally"),
        format!("/c/{c}/results"),
    ];
    let before = entries_read(&addr)?;
    let (s, (answered, refused)) = during(&addr, &page, seconds, move |stop| {
        std::thread::spawn(move || flood(&a, &reads, 32, 32, &stop))
    });
    let read = entries_read(&addr)? - before;
    print("while 32 addresses read results and data", &s, &quiet);
    println!(
        "    those reads: {answered} answered 200, {refused} refused; log entries read meanwhile: {read} ({:.2} per answer)",
        read as f64 / answered.max(1) as f64
    );
    report::figure(
        "hostile_expensive_reads_answered",
        answered as f64,
        "requests",
    );
    report::figure(
        "hostile_entries_read_per_answer",
        read as f64 / answered.max(1) as f64,
        "entries",
    );

    let (rss, _) = rss_kib(node.pid());
    println!("  node RSS after: {:.0} MiB", mib(rss));
    report::figure("hostile_node_rss", mib(rss), "MiB");
    node.stop()?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// One address opens 400 connections and holds those the node keeps; another sends a
/// request head a byte a second. Answers how many were held, and after how many seconds
/// the slow head was dropped; holds them until `stop`.
fn hold_idle(a: &str, stop: &Arc<AtomicBool>) -> (u64, f64) {
    let rt = runtime();
    let mut open = Vec::new();
    for _ in 0..400 {
        if let Ok(c) = connect_from(&rt, loopback(0, 2), a) {
            open.push(c);
        }
    }
    // Those the node closed read as end of file at once.
    std::thread::sleep(Duration::from_millis(300));
    let mut held = 0u64;
    for c in &open {
        let _ = c.set_nonblocking(true);
        let mut b = [0u8; 1];
        let alive =
            matches!((&*c).read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        held += u64::from(alive);
    }
    // A slow-header client: one byte a second until the node drops it.
    let started = Instant::now();
    let mut dropped = f64::NAN;
    if let Ok(mut slow) = connect_from(&rt, loopback(0, 3), a) {
        for byte in
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                .iter()
        {
            if stop.load(Ordering::SeqCst) && started.elapsed() > Duration::from_secs(30) {
                break;
            }
            if slow.write_all(&[*byte]).is_err() {
                dropped = started.elapsed().as_secs_f64();
                break;
            }
            let _ = slow.set_read_timeout(Some(Duration::from_secs(1)));
            let mut b = [0u8; 256];
            if matches!(slow.read(&mut b), Ok(0)) {
                dropped = started.elapsed().as_secs_f64();
                break;
            }
        }
    }
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(open);
    (held, dropped)
}

/// `threads` threads spread over `addresses` loopback addresses (127.0.1.x) asking for
/// `paths` in turn until `stop`: the answers 200 and the refusals (429 / 503) counted.
fn flood(
    addr: &str,
    paths: &[String],
    threads: u8,
    addresses: u8,
    stop: &Arc<AtomicBool>,
) -> (u64, u64) {
    let (ok, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let handles: Vec<_> = (0..threads)
        .map(|n| {
            let (addr, paths, stop) = (addr.to_owned(), paths.to_vec(), stop.clone());
            let (ok, refused) = (ok.clone(), refused.clone());
            std::thread::spawn(move || {
                let rt = runtime();
                let from = loopback(1, 1 + n % addresses.max(1));
                let mut i = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    match get(&rt, from, &addr, &paths[i % paths.len()]) {
                        200 => ok.fetch_add(1, Ordering::Relaxed),
                        _ => refused.fetch_add(1, Ordering::Relaxed),
                    };
                    i += 1;
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    (ok.load(Ordering::Relaxed), refused.load(Ordering::Relaxed))
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("palabre-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// `palabre_store_entries_read_total` from `/metrics`.
fn entries_read(addr: &str) -> anyhow::Result<u64> {
    let text = http_get(addr, "/metrics")?;
    text.lines()
        .find_map(|l| l.strip_prefix("palabre_store_entries_read_total "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no palabre_store_entries_read_total in /metrics"))
}

fn http_get(addr: &str, path: &str) -> anyhow::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    Ok(raw
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned()))
}

/// Writes into `dir` a town whose log holds an open approval vote of `voters` ballots
/// (one credential and one ballot each) whose results are shown while it runs, through a
/// node with the bench's limits lifted; answers the consultation's id.
fn populate(dir: &std::path::Path, voters: u32) -> anyhow::Result<String> {
    use palabre_core::event::*;
    use palabre_core::limits::MAX_PAGE_ENTRIES;
    use palabre_core::tally::{Choice, Method};

    let town = palabre::home::Home::open_or_create(dir)?.key;
    let node = Node::start(dir)?;
    let now = palabre::clock::now_ms();
    let at = |body: Body| Event {
        author: town.public_key(),
        created_at_ms: palabre::clock::now_ms(),
        body,
    };
    let consultation = at(Body::Consultation(Box::new(ConsultationBody {
        title: "Hostile load".into(),
        description: "An open vote whose count is shown as it runs.".into(),
        authorities: vec![town.public_key()],
        proposals_open_ms: now - 1000,
        proposals_close_ms: now + 24 * 3_600_000,
        vote_open_ms: now - 1000,
        vote_close_ms: now + 24 * 3_600_000,
        method: Method::Approval { max_choices: 2 },
        show_running_results: true,
        secrecy: None,
        quotas: None,
    })))
    .sign(&town)?;
    let cid = consultation.id();
    let proposals: Vec<SignedEvent> = (0..5)
        .map(|n| {
            at(Body::Proposal(ProposalBody {
                consultation: cid,
                title: format!("Proposal {n}"),
                body: "A proposal.".into(),
                cost: None,
            }))
            .sign(&town)
        })
        .collect::<Result<_, _>>()?;
    let mut pids: Vec<_> = proposals.iter().map(SignedEvent::id).collect();
    pids.sort();
    let mut setup = vec![consultation.into_bytes()];
    setup.extend(proposals.into_iter().map(SignedEvent::into_bytes));
    let rt = tokio::runtime::Runtime::new()?;
    let addr = node.addr.clone();
    rt.block_on(send_all(&addr, Arc::new(vec![batch_body(&setup)]), 1, 200))?;
    let credentials = sign_all(voters, |i| {
        let body = Body::Credential(CredentialBody {
            subject: key(i).public_key(),
            replaces: None,
        });
        at(body).sign(&town)
    })?;
    let bodies: Vec<Vec<u8>> = credentials
        .chunks(MAX_PAGE_ENTRIES as usize)
        .map(batch_body)
        .collect();
    rt.block_on(send_all(&addr, Arc::new(bodies), 1, 200))?;
    let ballots = sign_all(voters, |i| {
        let voter = key(i);
        Event {
            author: voter.public_key(),
            created_at_ms: palabre::clock::now_ms(),
            body: Body::Ballot(BallotBody {
                consultation: cid,
                choice: Choice::Approve(vec![pids[i as usize % 4], pids[i as usize % 4 + 1]]),
                assistance: None,
            }),
        }
        .sign(&voter)
    })?;
    let bodies: Vec<Vec<u8>> = ballots
        .chunks(MAX_PAGE_ENTRIES as usize)
        .map(batch_body)
        .collect();
    rt.block_on(send_all(&addr, Arc::new(bodies), 4, 200))?;
    node.stop()?;
    Ok(cid.to_string())
}
