//! `palabre-bench`: the figures of BENCHMARKS.md, measured in one run on this machine —
//! raw signature rates first (the limits), then durable HTTP ingest into a real
//! `palabre serve` child process on loopback, the child's memory (RSS) idle and loaded,
//! and its disk. Timings live here, never in tests.
//!
//! The node runs as its own process so that its RSS is its own; the clients run here,
//! on the same two cores, and their cost is part of what the figures include.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use palabre::clock::now_ms;
use palabre::home::Home;
use palabre_core::crypto::{Domain, PublicKey, SecretKey, SignedMessage, verify_many};
use palabre_core::event::*;
use palabre_core::ids::EventId;
use palabre_core::limits::MAX_PAGE_ENTRIES;
use palabre_core::tally::{Choice, Method};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Resident memory of process `pid` (`VmRSS`) and its peak (`VmHWM`), in KiB.
pub(crate) fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Bytes a directory takes on disk: (apparent length of its files, blocks allocated).
fn dir_bytes(path: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut total = (0, 0);
    for e in std::fs::read_dir(path).into_iter().flatten().flatten() {
        match e.metadata() {
            Ok(m) if m.is_dir() => {
                let (len, used) = dir_bytes(&e.path());
                total = (total.0 + len, total.1 + used);
            }
            Ok(m) => total = (total.0 + m.len(), total.1 + m.blocks() * 512),
            Err(_) => {}
        }
    }
    total
}

pub(crate) fn key(n: u32) -> SecretKey {
    let mut seed = [3u8; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    SecretKey::from_seed(&seed)
}

pub(crate) fn signature_rates(n: usize) -> (f64, f64) {
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

/// Signs `n` events on every core; `make(i)` signs event `i`.
pub(crate) fn sign_all(
    n: u32,
    make: impl Fn(u32) -> Result<SignedEvent, palabre_core::rejection::Rejection> + Sync,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let per = n.div_ceil(threads.max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let make = &make;
                scope.spawn(move || {
                    (t * per..((t + 1) * per).min(n))
                        .map(|i| make(i).map(SignedEvent::into_bytes))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(n as usize);
        for h in handles {
            let part = h
                .join()
                .map_err(|_| anyhow::anyhow!("a signing thread panicked"))?
                .map_err(|r| anyhow::anyhow!("a bench event is invalid: {r}"))?;
            all.extend(part);
        }
        Ok(all)
    })
}

/// A JSON array of events, as the batch form of `POST /api/v1/events` takes it.
pub(crate) fn batch_body(events: &[Vec<u8>]) -> Vec<u8> {
    let mut body = b"[".to_vec();
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(e);
    }
    body.push(b']');
    body
}

/// One request on a keep-alive connection; returns the status and the body.
pub(crate) async fn post(
    stream: &mut TcpStream,
    addr: &str,
    body: &[u8],
) -> anyhow::Result<(u16, Vec<u8>)> {
    // One write per request: a head and a body sent apart meet Nagle's algorithm and the
    // peer's delayed ACK, and every request then waits ~40 ms for nothing.
    let mut request = format!(
        "POST /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).await?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 16384];
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
            return Ok((status, buf[end + 4..end + 4 + len].to_vec()));
        }
    }
}

/// Sends every body over `clients` keep-alive connections; every answer must have
/// `status`, and a batch answer must hold no refusal. Returns the seconds taken.
pub(crate) async fn send_all(
    addr: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    clients: usize,
    status: u16,
) -> anyhow::Result<f64> {
    let clients = clients.min(bodies.len()).max(1);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let bodies = Arc::clone(&bodies);
        let addr = addr.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(&addr).await?;
            s.set_nodelay(true)?;
            let mut i = c;
            while i < bodies.len() {
                let (got, answer) = post(&mut s, &addr, &bodies[i]).await?;
                anyhow::ensure!(
                    got == status && !answer.windows(7).any(|w| w == b"\"error\""),
                    "refused with {got}: {}",
                    String::from_utf8_lossy(&answer[..answer.len().min(300)])
                );
                i += clients;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(t.elapsed().as_secs_f64())
}

/// The `palabre` binary the benches start: `PALABRE_BIN` if set, else the one built
/// beside this program (`cargo build --release -p palabre -p palabre-bench` puts both in
/// `target/release/`).
pub(crate) fn palabre_bin() -> anyhow::Result<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("PALABRE_BIN") {
        return Ok(path.into());
    }
    let me = std::env::current_exe()?;
    let beside = me.with_file_name("palabre");
    anyhow::ensure!(
        beside.is_file(),
        "no palabre binary at {} (build it with cargo build --release -p palabre, or set PALABRE_BIN)",
        beside.display()
    );
    Ok(beside)
}

/// Whether a bench node keeps its per-address limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limits {
    /// The bench is one address sending as fast as it can: rates and connections per
    /// address are lifted.
    Lifted,
    /// The node's own limits, as a town runs it (the hostile-load bench).
    Own,
}

/// A `palabre serve` child on a free loopback port, killed when dropped.
pub(crate) struct Node {
    child: Child,
    pub addr: String,
    /// The path of the one-time link that creates the first administrator, if printed.
    pub setup: Option<String>,
}

impl Node {
    pub fn start(data: &Path) -> anyhow::Result<Node> {
        Node::start_with(data, &[])
    }

    /// With more environment variables for the node.
    pub fn start_with(data: &Path, env: &[(&str, &str)]) -> anyhow::Result<Node> {
        Node::start_args(data, &[], env, Limits::Lifted)
    }

    /// `palabre serve <args>` with `env`, under `limits`.
    pub fn start_args(
        data: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        limits: Limits,
    ) -> anyhow::Result<Node> {
        let mut command = Command::new(palabre_bin()?);
        command
            .args(["serve", "--http", "127.0.0.1:0"])
            .args(args)
            .arg("--data")
            .arg(data);
        if limits == Limits::Lifted {
            // The bench is one address sending as fast as it can: no rate limit.
            command
                .env("PALABRE_RATE_PER_SECOND", "1000000000")
                .env("PALABRE_RATE_BURST", "1000000000")
                .env("PALABRE_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "100000");
        }
        let mut child = command
            .envs(env.iter().copied())
            .env("PALABRE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut setup = None;
        let addr = loop {
            let Some(line) = lines.next() else {
                anyhow::bail!("the node stopped before serving");
            };
            let line = line?;
            if let Some(at) = line.find("/staff/setup/") {
                setup = Some(line[at..].trim().to_owned());
            }
            if let Some(url) = line.strip_prefix("Palabre is serving on http://") {
                break url.trim().to_owned();
            }
        };
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Node { child, addr, setup })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then wait: the node flushes and exits cleanly.
    pub fn stop(mut self) -> anyhow::Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(n_voters: u32, clients: usize, batch: usize) -> anyhow::Result<()> {
    anyhow::ensure!(n_voters >= 2, "the bench needs at least 2 voters");
    anyhow::ensure!(
        (1..=MAX_PAGE_ENTRIES as usize).contains(&batch),
        "a batch holds 1 to {MAX_PAGE_ENTRIES} events"
    );
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let (strict, batched) = signature_rates(20_000);
    println!("raw verify_strict, one core:        {strict:>10.0} signatures/s");
    crate::report::figure("raw verify_strict, one core", strict, "signatures/s");
    println!("raw batch verify (256), one core:   {batched:>10.0} signatures/s");
    crate::report::figure("raw batch verify (256), one core", batched, "signatures/s");

    let dir = std::env::temp_dir().join(format!("palabre-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let result = measure(&dir, n_voters, clients, batch, strict, batched);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(
    dir: &Path,
    n_voters: u32,
    clients: usize,
    batch: usize,
    strict: f64,
    batched: f64,
) -> anyhow::Result<()> {
    let town = Home::open_or_create(dir)?.key;
    let me = town.public_key();
    let node = Node::start(dir)?;
    std::thread::sleep(Duration::from_secs(3));
    let (idle, _) = rss_kib(node.pid());
    println!(
        "RSS of the node, idle:              {:>10.1} MiB",
        mib(idle)
    );
    crate::report::figure("RSS of the node, idle", mib(idle), "MiB");

    let now = now_ms();
    // Events are signed just before they are sent, a round at a time: the node refuses
    // times more than five minutes off its clock, and signing a million takes longer.
    let at = |author: &SecretKey, body: Body| Event {
        author: author.public_key(),
        created_at_ms: now_ms(),
        body,
    };
    let consultation = at(
        &town,
        Body::Consultation(Box::new(ConsultationBody {
            title: "Bench".into(),
            description: "Bench".into(),
            authorities: vec![me],
            proposals_open_ms: now - 1000,
            proposals_close_ms: now + 24 * 3_600_000,
            vote_open_ms: now - 1000,
            vote_close_ms: now + 24 * 3_600_000,
            method: Method::Approval { max_choices: 1 },
            show_running_results: false,
            secrecy: None,
            quotas: None,
        })),
    )
    .sign(&town)?;
    let cid: EventId = consultation.id();
    let proposal = at(
        &town,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "P".into(),
            body: "P".into(),
            cost: None,
        }),
    )
    .sign(&town)?;
    let pid = proposal.id();

    let rt = tokio::runtime::Runtime::new()?;
    let addr = node.addr.clone();
    let setup = vec![consultation.into_bytes(), proposal.into_bytes()];
    let mut stored_bytes: u64 = setup.iter().map(|e| e.len() as u64).sum();
    rt.block_on(send_all(&addr, Arc::new(vec![batch_body(&setup)]), 1, 200))?;

    const ROUND: u32 = 50_000;
    let (mut n_single, mut single_s, mut n_batched, mut batch_s) = (0usize, 0.0, 0usize, 0.0);
    let mut first = 0;
    while first < n_voters {
        let n = ROUND.min(n_voters - first);
        // Setup of the round, not timed: credentials in order, one client.
        let credentials = sign_all(n, |i| {
            let subject = key(first + i).public_key();
            let body = Body::Credential(CredentialBody {
                subject,
                replaces: None,
            });
            at(&town, body).sign(&town)
        })?;
        stored_bytes += credentials.iter().map(|e| e.len() as u64).sum::<u64>();
        let bodies: Vec<Vec<u8>> = credentials
            .chunks(MAX_PAGE_ENTRIES as usize)
            .map(batch_body)
            .collect();
        drop(credentials);
        rt.block_on(send_all(&addr, Arc::new(bodies), 1, 200))?;
        let ballots = sign_all(n, |i| {
            let voter = key(first + i);
            let body = Body::Ballot(BallotBody {
                consultation: cid,
                choice: Choice::Approve(vec![pid]),
                assistance: None,
            });
            at(&voter, body).sign(&voter)
        })?;
        stored_bytes += ballots.iter().map(|e| e.len() as u64).sum::<u64>();
        // Timed: half one ballot per request, half in batches.
        let half = ballots.len() / 2;
        let singles = Arc::new(ballots[..half].to_vec());
        let batches: Vec<Vec<u8>> = ballots[half..].chunks(batch).map(batch_body).collect();
        n_single += half;
        n_batched += ballots.len() - half;
        drop(ballots);
        single_s += rt.block_on(send_all(&addr, singles, clients, 201))?;
        batch_s += rt.block_on(send_all(&addr, Arc::new(batches), clients, 200))?;
        first += n;
        println!("  {first} voters credentialed and voted");
    }
    let single = n_single as f64 / single_s;
    let batch_rate = n_batched as f64 / batch_s;
    let (loaded, peak) = rss_kib(node.pid());
    node.stop()?;
    let disk = dir_bytes(&dir.join("store"));

    println!(
        "HTTP ingest, 1 ballot/request, {clients} clients: {single:>8.0} ballots/s = {:.2} × (2 × verify_strict)  [goal ≥ 0.30]",
        single / (2.0 * strict)
    );
    crate::report::against(
        &format!("HTTP ingest, 1 ballot/request, {clients} clients"),
        single,
        "ballots/s",
        2.0 * strict,
        single / (2.0 * strict),
        "≥ 0.30",
    );
    println!(
        "HTTP ingest, {batch}/request, {clients} clients:   {batch_rate:>8.0} ballots/s = {:.2} × (2 × batch verify)  [goal ≥ 0.50]",
        batch_rate / (2.0 * batched)
    );
    crate::report::against(
        &format!("HTTP ingest, {batch}/request, {clients} clients"),
        batch_rate,
        "ballots/s",
        2.0 * batched,
        batch_rate / (2.0 * batched),
        "≥ 0.50",
    );
    println!(
        "RSS of the node after {n_voters} credentials and ballots: {:.1} MiB (peak {:.1} MiB)",
        mib(loaded),
        mib(peak)
    );
    crate::report::figure(
        &format!("RSS of the node after {n_voters} credentials and ballots"),
        mib(loaded),
        "MiB",
    );
    crate::report::figure("RSS of the node, peak", mib(peak), "MiB");
    let (disk_len, disk_used) = disk;
    println!(
        "disk after a clean stop: {:.1} MiB allocated ({:.1} MiB apparent) for {:.1} MiB of signed events = {:.2}× ({:.2}× apparent)  [goal ≤ 2.5]",
        disk_used as f64 / 1048576.0,
        disk_len as f64 / 1048576.0,
        stored_bytes as f64 / 1048576.0,
        disk_used as f64 / stored_bytes as f64,
        disk_len as f64 / stored_bytes as f64,
    );
    crate::report::against(
        "disk after a clean stop ÷ signed bytes",
        disk_used as f64 / 1048576.0,
        "MiB",
        stored_bytes as f64 / 1048576.0,
        disk_used as f64 / stored_bytes as f64,
        "≤ 2.5",
    );
    crate::report::figure(
        "disk after a clean stop, apparent",
        disk_len as f64 / 1048576.0,
        "MiB",
    );
    Ok(())
}

/// `palabre-bench --audit-ballots N`: the auditor's benchmark (BENCHMARKS.md). Builds a
/// closed single-town consultation with `n` credentialed voters who each cast one
/// ballot (setup, not timed), then times core's `audit` of it on every core.
pub fn audit_run(n: u32) -> anyhow::Result<()> {
    anyhow::ensure!(n >= 1, "at least one ballot");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("machine: {cores} cores");
    let (strict, batched) = signature_rates(20_000);
    println!("raw verify_strict, one core:        {strict:>10.0} signatures/s");
    crate::report::figure("raw verify_strict, one core", strict, "signatures/s");
    println!("raw batch verify (256), one core:   {batched:>10.0} signatures/s");
    crate::report::figure("raw batch verify (256), one core", batched, "signatures/s");
    let log = closed_log(n)?;
    let secs = time_audit(&log)?;
    let goal = 1.5 * (f64::from(n) / (2.0 * batched));
    println!(
        "audit of {n} ballots ({} events, {cores} threads): {secs:.1} s = {:.0} events/s; goal ≤ 1.5 × ({n} / (2 × batch verify)) = {goal:.1} s → {:.2} × the goal",
        log.entries.len(),
        log.entries.len() as f64 / secs,
        secs / goal
    );
    crate::report::against(
        &format!("audit of {n} ballots ({} events)", log.entries.len()),
        secs,
        "s",
        goal,
        secs / goal,
        "≤ 1",
    );
    Ok(())
}

/// A town's whole log for a closed consultation of `n` voters: its declaration, `n`
/// credentials, the consultation and a proposal, `n` ballots, the checkpoint and the
/// signed result, with the head over it all.
pub(crate) struct ClosedLog {
    pub town: SecretKey,
    pub consultation: EventId,
    pub entries: Vec<Vec<u8>>,
    pub head: palabre_core::head::SignedTreeHead,
}

/// The audit of `log`, timed (on every core).
pub(crate) fn time_audit(log: &ClosedLog) -> anyhow::Result<f64> {
    use palabre_core::audit::{AuditInput, AuditOptions, LogMaterial, audit};
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let input = AuditInput {
        consultation: log.consultation,
        logs: vec![LogMaterial {
            authority: log.town.public_key(),
            source: "bench".into(),
            entries: log.entries.clone(),
            heads: vec![log.head],
            cosignatures: Vec::new(),
        }],
        evidence: Vec::new(),
    };
    let t = Instant::now();
    let report = audit(&input, AuditOptions { threads: cores });
    let secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.passed(),
        "the bench consultation must audit clean: {:?}",
        report.failures
    );
    Ok(secs)
}

pub(crate) fn closed_log(n: u32) -> anyhow::Result<ClosedLog> {
    use palabre_core::head::TreeHead;
    use palabre_core::ledger::Ledger;
    use palabre_core::record::Record;

    const T0: u64 = 1_900_000_000_000;
    const DAY: u64 = 86_400_000;
    let town = key(u32::MAX);
    let me = town.public_key();
    let at = |author: &SecretKey, when: u64, body: Body| {
        Event {
            author: author.public_key(),
            created_at_ms: when,
            body,
        }
        .sign(author)
    };
    println!("signing {n} credentials and {n} ballots (setup, not timed)…");
    let mut ledger = Ledger::new();
    let mut entries: Vec<Vec<u8>> = Vec::with_capacity(2 * n as usize + 5);
    let mut push = |ledger: &mut Ledger, e: SignedEvent| {
        entries.push(e.bytes().to_vec());
        ledger.apply(&me, e);
    };
    push(
        &mut ledger,
        at(
            &town,
            T0 - DAY,
            Body::Authority(AuthorityBody {
                name: "Bench".into(),
                code: String::new(),
                addresses: vec![],
                encryption_key: None,
                encryption_pok: None,
            }),
        )?,
    );
    // Signed here, so decoded again without a second signature check.
    let ours = |bytes: Vec<u8>| {
        decode(bytes)
            .map(|u| u.into_verified_unchecked())
            .map_err(|r| anyhow::anyhow!("{r}"))
    };
    let credentials = sign_all(n, |i| {
        at(
            &town,
            T0 - DAY,
            Body::Credential(CredentialBody {
                subject: key(i).public_key(),
                replaces: None,
            }),
        )
    })?;
    for c in credentials {
        push(&mut ledger, ours(c)?);
    }
    let consultation = at(
        &town,
        T0,
        Body::Consultation(Box::new(ConsultationBody {
            title: "Bench".into(),
            description: "Bench".into(),
            authorities: vec![me],
            proposals_open_ms: T0,
            proposals_close_ms: T0 + DAY,
            vote_open_ms: T0 + DAY,
            vote_close_ms: T0 + 10 * DAY,
            method: Method::Approval { max_choices: 1 },
            show_running_results: false,
            secrecy: None,
            quotas: None,
        })),
    )?;
    let cid = consultation.id();
    push(&mut ledger, consultation);
    let proposal = at(
        &town,
        T0 + 1,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "P".into(),
            body: "P".into(),
            cost: None,
        }),
    )?;
    let pid = proposal.id();
    push(&mut ledger, proposal);
    let ballots = sign_all(n, |i| {
        at(
            &key(i),
            T0 + 2 * DAY,
            Body::Ballot(BallotBody {
                consultation: cid,
                choice: Choice::Approve(vec![pid]),
                assistance: None,
            }),
        )
    })?;
    let ballot_bytes: Vec<Vec<u8>> = ballots;
    for b in ballot_bytes {
        push(&mut ledger, ours(b)?);
    }
    let size = ledger.log_size(&me);
    let root = ledger.root_at(&me, size).expect("a root at the log's size");
    push(
        &mut ledger,
        at(
            &town,
            T0 + 10 * DAY,
            Body::Checkpoint(CheckpointBody {
                consultation: cid,
                size,
                root,
            }),
        )?,
    );
    let (view, counted) = ledger.count(&cid).expect("the consultation is recorded");
    let result = at(
        &town,
        T0 + 10 * DAY + 1,
        Body::Result(Box::new(ResultBody {
            consultation: cid,
            checkpoints: palabre_core::counting::closed_logs(&ledger, &view)
                .ok_or_else(|| anyhow::anyhow!("the log has not closed"))?,
            tally: counted.tally(&view),
        })),
    )?;
    push(&mut ledger, result);
    let size = ledger.log_size(&me);
    let head = TreeHead {
        authority: me,
        size,
        root: ledger.root_at(&me, size).expect("root"),
        timestamp_ms: T0 + 10 * DAY + 2,
    }
    .sign(&town);
    drop(ledger);
    Ok(ClosedLog {
        town,
        consultation: cid,
        entries,
        head,
    })
}
