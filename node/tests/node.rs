//! The real `palabre` binary: started, used over HTTP on loopback, killed with SIGKILL at
//! random moments while several clients submit ballots, restarted — and every
//! acknowledged receipt must still be there, in a log consistent with every head seen
//! before. One test binary for the crate.
//!
//! `PALABRE_CRASH_CYCLES` sets the number of kill cycles (default 20; try 100+ by hand).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::{BallotBody, Body, Event};
use palabre_core::head::{Receipt, SignedTreeHead};
use palabre_core::ids::{EventId, Hash};
use palabre_core::invitation::{KeyPossession, code_hash, normalize_code};
use palabre_core::merkle;
use palabre_core::tally::Choice;
use serde_json::{Value, json};

struct Node {
    child: Child,
    addr: String,
    codes: Vec<String>,
    /// The path of the one-time link that creates the first administrator.
    setup: Option<String>,
    /// That link as printed, whole (address included).
    setup_link: Option<String>,
}

/// Starts `palabre serve --demo` on a free port and waits for its "serving" line.
fn start(data: &std::path::Path) -> Node {
    start_with(data, &[])
}

/// [`start`] with more environment variables for the node.
fn start_with(data: &std::path::Path, env: &[(&str, &str)]) -> Node {
    start_args(data, &["--demo", "--http", "127.0.0.1:0"], env)
}

/// `palabre serve <args> --data <data>`, waiting for its "serving" line.
fn start_args(data: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Node {
    // A test's temporary directory is 0755; the node serves only an owner-only one.
    owner_only(data);
    let mut child = Command::new(env!("CARGO_BIN_EXE_palabre"))
        .arg("serve")
        .args(args)
        .arg("--data")
        .arg(data)
        // Every client of this test is one loopback address (a test may lower it).
        .env("PALABRE_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "4096")
        // The tests type and read times in UTC; one test sets a town's zone.
        .env("PALABRE_TIME_ZONE", "UTC")
        .envs(env.iter().copied())
        .env("PALABRE_LOG", "warn")
        // Every client of this test is one loopback address.
        .env("PALABRE_RATE_PER_SECOND", "1000000")
        .env("PALABRE_RATE_BURST", "1000000")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the palabre binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    // From here on the node is owned by `Node`, whose drop kills it if we panic.
    let mut node = Node {
        child,
        addr: String::new(),
        codes: Vec::new(),
        setup: None,
        setup_link: None,
    };
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the node did not start in time");
        let line = lines
            .next()
            .expect("the node prints its address")
            .expect("utf-8 line");
        let trimmed = line.trim();
        if trimmed.len() == 14 && normalize_code(trimmed).is_some() {
            node.codes.push(trimmed.to_owned());
        }
        if let Some(at) = line.find("/staff/setup/") {
            node.setup = Some(line[at..].trim().to_owned());
            node.setup_link = line
                .split_whitespace()
                .find(|w| w.contains("/staff/setup/"))
                .map(str::to_owned);
        }
        if let Some(url) = line.strip_prefix("Palabre is serving on http://") {
            node.addr = url.trim().to_owned();
            return node;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A failing test must not leave a node running (it would hold the test's pipes).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn kill(mut self) {
        // SIGKILL: no chance to flush anything.
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }
}

/// A minimal HTTP/1.1 client (one request per connection).
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// The body of a GET, byte for byte (no compression asked, so no chunking).
fn get_raw(addr: &str, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    let head = String::from_utf8_lossy(&raw[..at]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("chunked"), "{head}");
    raw[at + 4..].to_vec()
}

/// `GET /api/v1/consultations/{id}`: the consultation with its proposals.
fn consultation_detail(addr: &str, id: &EventId) -> Value {
    let (status, v) = http(addr, "GET", &format!("/api/v1/consultations/{id}"), b"")
        .expect("consultation detail");
    assert_eq!(status, 200, "{v}");
    v
}

/// The id of the first proposal listed in a consultation's detail.
fn first_proposal(detail: &Value) -> EventId {
    detail["proposals"][0]["id"]
        .as_str()
        .expect("a proposal")
        .parse()
        .expect("id")
}

fn authority(addr: &str) -> PublicKey {
    let (_, v) = http(addr, "GET", "/api/v1/authority", b"").expect("authority");
    v["key"].as_str().expect("key").parse().expect("valid key")
}

fn approval_consultation(addr: &str) -> (EventId, Vec<EventId>) {
    let (_, v) = http(addr, "GET", "/api/v1/consultations", b"").expect("consultations");
    let c = v["consultations"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["method"]["type"] == json!("approval"))
        .expect("the demo has an approval consultation");
    let id: EventId = c["id"].as_str().expect("id").parse().expect("id");
    // Proposal ids: read the log and keep the proposals of that consultation.
    let log = authority(addr);
    let (_, head) =
        http(addr, "GET", &format!("/api/v1/logs/{log}/checkpoint"), b"").expect("head");
    // The demo's proposals are among the first entries of the log.
    let size = head["head"]["size"].as_u64().expect("size").min(200);
    let (_, entries) = http(
        addr,
        "GET",
        &format!("/api/v1/logs/{log}/entries?start=0&end={size}"),
        b"",
    )
    .expect("entries");
    let mut proposals = Vec::new();
    let Some(list) = entries["entries"].as_array() else {
        panic!("no entries in {entries} (head {head})");
    };
    for e in list {
        if e["kind"] == json!("proposal") && e["body"]["consultation"] == json!(id.to_string()) {
            let bytes = serde_json::to_vec(e).expect("json");
            proposals.push(EventId::of_signed_bytes(&bytes));
        }
    }
    proposals.sort();
    (id, proposals)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

fn redeem(addr: &str, code: &str, key: &SecretKey) -> bool {
    matches!(redeem_request(addr, code, key), Some((201, _)))
}

/// `POST /credentials/redeem` of `code` for `key`: the status and the refusal code.
fn redeem_answer(addr: &str, code: &str, key: &SecretKey) -> (u16, Value) {
    let (status, v) = redeem_request(addr, code, key).expect("an answer");
    let refused = v["error"]["code"].clone();
    if let Some(code) = refused.as_str() {
        assert!(
            palabre_core::rejection::Rejection::ALL_CODES.contains(&code)
                || palabre_web::error::REQUEST_CODES.contains(&code),
            "the node answered `{code}`, a code PROTOCOL.md does not list"
        );
    }
    (status, refused)
}

/// The redemption request itself (`None` if the node did not answer).
fn redeem_request(addr: &str, code: &str, key: &SecretKey) -> Option<(u16, Value)> {
    let authority = authority(addr);
    let invitation = code_hash(&authority, &normalize_code(code).expect("code"));
    let proof = KeyPossession {
        authority,
        invitation,
        subject: key.public_key(),
    }
    .sign(key);
    let body = json!({"code": code, "key": key.public_key().to_hex(), "proof": proof.to_hex()});
    http(
        addr,
        "POST",
        "/api/v1/credentials/redeem",
        &serde_json::to_vec(&body).expect("json"),
    )
}

#[derive(Default)]
struct Seen {
    receipts: Vec<Receipt>,
    heads: Vec<SignedTreeHead>,
}

#[test]
fn acknowledged_ballots_survive_kill_9() {
    let cycles: usize = std::env::var("PALABRE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().expect("temp dir");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut voters: Vec<SecretKey> = Vec::new();
    let mut rng_state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    for cycle in 0..cycles {
        let node = start(dir.path());
        let addr = node.addr.clone();
        // Everything acknowledged before is still there, and the log only grew.
        check_everything_kept(&addr, &seen.lock().expect("lock"));
        // Register a new voter each cycle from the fresh demo codes.
        let key = SecretKey::from_seed(&[(cycle % 250) as u8 + 1; 32]);
        assert!(
            redeem(&addr, &node.codes[0], &key),
            "redeeming a fresh code works"
        );
        voters.push(key);
        let (consultation, proposals) = approval_consultation(&addr);
        // Several clients vote (and re-vote) until the node is killed under them.
        let clients: Vec<_> = voters
            .iter()
            .enumerate()
            .rev()
            .take(4)
            .map(|(v, key)| {
                let key = SecretKey::from_seed(&key.seed());
                let addr = addr.clone();
                let seen = Arc::clone(&seen);
                let proposals = proposals.clone();
                std::thread::spawn(move || {
                    for n in 0u64.. {
                        let pick = proposals[(n as usize + v) % proposals.len()];
                        let event = Event {
                            author: key.public_key(),
                            created_at_ms: now_ms() + n % 7,
                            body: Body::Ballot(BallotBody {
                                consultation,
                                choice: Choice::Approve(vec![pick]),
                                assistance: None,
                            }),
                        }
                        .sign(&key)
                        .expect("valid ballot");
                        match http(&addr, "POST", "/api/v1/events", event.bytes()) {
                            Some((201, v)) => {
                                let r: Receipt =
                                    serde_json::from_value(v["receipt"].clone()).expect("receipt");
                                assert_eq!(r.verify(), Ok(()));
                                let mut s = seen.lock().expect("lock");
                                s.heads.push(r.receipt.tree_head);
                                s.receipts.push(r);
                            }
                            Some((409, _)) => {}
                            Some((status, v)) => panic!("unexpected answer {status}: {v}"),
                            None => return, // the node is gone
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50 + next() % 400));
        node.kill();
        for c in clients {
            c.join().expect("client threads do not panic");
        }
    }
    let node = start(dir.path());
    let s = seen.lock().expect("lock");
    check_everything_kept(&node.addr, &s);
    assert!(
        s.receipts.len() >= cycles,
        "ballots were acknowledged ({} receipts)",
        s.receipts.len()
    );
    node.kill();
}

fn check_everything_kept(addr: &str, seen: &Seen) {
    let log = authority(addr);
    let (_, head) =
        http(addr, "GET", &format!("/api/v1/logs/{log}/checkpoint"), b"").expect("head");
    let head: SignedTreeHead = serde_json::from_value(head).expect("a signed head");
    assert!(head.verify().is_ok());
    for r in &seen.receipts {
        let id = r.receipt.event_id;
        let (status, v) = http(addr, "GET", &format!("/api/v1/events/{id}"), b"").expect("event");
        assert_eq!(
            status, 200,
            "acknowledged event {id} is missing after a crash"
        );
        assert_eq!(
            v["index"],
            json!(r.receipt.index),
            "acknowledged event {id} moved"
        );
    }
    for old in &seen.heads {
        let old = old.head;
        assert!(old.size <= head.head.size, "the log shrank");
        let uri = format!(
            "/api/v1/logs/{log}/proof/consistency?from={}&to={}",
            old.size, head.head.size
        );
        let (status, v) = http(addr, "GET", &uri, b"").expect("proof");
        assert_eq!(status, 200, "{v}");
        let proof: Vec<Hash> = serde_json::from_value(v["proof"].clone()).expect("hashes");
        assert_eq!(
            merkle::verify_consistency(
                old.size,
                head.head.size,
                &old.root,
                &head.head.root,
                &proof
            ),
            Ok(()),
            "a head seen before the crash is not consistent with the head after it"
        );
    }
}

#[path = "node/ceremony.rs"]
mod ceremony;
#[path = "node/circles.rs"]
mod circles;
#[path = "node/federation.rs"]
mod federation;
#[path = "node/hostile.rs"]
mod hostile;
#[path = "node/ops.rs"]
mod ops;
#[path = "node/residents.rs"]
mod residents;
#[path = "node/sealed.rs"]
mod sealed;
#[path = "node/secret_vote.rs"]
mod secret_vote;
#[path = "node/site.rs"]
mod site;
#[path = "node/staff.rs"]
mod staff;
#[path = "node/tidy.rs"]
mod tidy;
#[path = "node/tls.rs"]
mod tls;
#[path = "node/town_hall.rs"]
mod town_hall;

/// After its vote closes, the node closes its log for the consultation and publishes the
/// result by itself; `palabre audit`, fetching from the node and trusting nothing it
/// says, then finds every check holds and the same count.
#[test]
fn the_node_closes_and_the_audit_passes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("node");
    // No grace after the close: this test's only ballot is long acknowledged by then.
    let node = start_with(&data, &[("PALABRE_CLOSE_GRACE_MS", "0")]);
    let voter = SecretKey::from_seed(&[42; 32]);
    assert!(redeem(&node.addr, &node.codes[0], &voter));
    let cid: EventId = site::closing_soon(&node.addr, &data, 3_000)
        .parse()
        .expect("id");
    let detail = consultation_detail(&node.addr, &cid);
    let pid = first_proposal(&detail);
    let ballot = Event {
        author: voter.public_key(),
        created_at_ms: now_ms(),
        body: Body::Ballot(BallotBody {
            consultation: cid,
            choice: Choice::Approve(vec![pid]),
            assistance: None,
        }),
    }
    .sign(&voter)
    .expect("valid");
    let (status, v) = http(&node.addr, "POST", "/api/v1/events", ballot.bytes()).expect("post");
    assert_eq!(status, 201, "{v}");
    let receipt_file = dir.path().join("receipt.json");
    std::fs::write(&receipt_file, serde_json::to_vec(&v).expect("json")).expect("write");
    let url = format!("http://{}", node.addr);
    let palabre = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_palabre"))
            .args(args)
            .env("PALABRE_LOG", "warn")
            .output()
            .expect("palabre runs")
    };
    // A bundle taken while the vote is still open, to compare with the final one.
    let old_bundle = dir.path().join("old.bundle.json");
    let cid_text = cid.to_string();
    let export = |path: &std::path::Path| {
        let out = palabre(&[
            "export",
            "--consultation",
            &cid_text,
            "--bundle",
            path.to_str().expect("utf-8 path"),
            "--node",
            &url,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    export(&old_bundle);

    // Wait for the node's checkpoint and result to be in its log.
    let me = authority(&node.addr);
    let deadline = Instant::now() + Duration::from_secs(60);
    let kinds = loop {
        let (_, head) = http(
            &node.addr,
            "GET",
            &format!("/api/v1/logs/{me}/checkpoint"),
            b"",
        )
        .expect("head");
        let size = head["head"]["size"].as_u64().expect("size");
        let (_, page) = http(
            &node.addr,
            "GET",
            &format!(
                "/api/v1/logs/{me}/entries?start={}&end={size}",
                size.saturating_sub(2)
            ),
            b"",
        )
        .expect("entries");
        let kinds: Vec<String> = page["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
            .collect();
        if kinds.iter().any(|k| k == "result") {
            break kinds;
        }
        assert!(
            Instant::now() < deadline,
            "the node never closed: {kinds:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(kinds, vec!["checkpoint", "result"]);

    let audit = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_palabre"))
            .args(["audit", "--consultation", &cid.to_string(), "--node", &url])
            .args(extra)
            .env("PALABRE_LOG", "warn")
            .output()
            .expect("palabre audit runs")
    };
    let human = audit(&[]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(human.status.success(), "{text}");
    assert!(text.contains("PASSED"), "{text}");
    // The plain summary comes first, and names the proposals by their titles.
    let (short, details) = text
        .split_once("\nDetails\n")
        .expect("a summary, then details");
    assert!(
        short.contains("In short") && short.contains("Organised by"),
        "{text}"
    );
    assert!(
        short.contains("Result (recounted)") && short.contains("« "),
        "{text}"
    );
    assert!(short.contains("It does not prove"), "{text}");
    assert!(details.contains("proposal "), "{text}");
    assert!(text.contains("1 counted"), "{text}");
    let json = audit(&["--json"]);
    assert!(json.status.success());
    let report: Value = serde_json::from_slice(&json.stdout).expect("a JSON report");
    assert_eq!(report["failures"], json!([]));
    assert_eq!(report["n_ballots_counted"], json!(1));
    assert_eq!(report["tally"]["rows"][0]["approvals"], json!(1));
    assert!(report["result"].is_string());

    // The same, offline, from a bundle; and the final bundle only appends to the old.
    let bundle = dir.path().join("final.bundle.json");
    export(&bundle);
    let b = bundle.to_str().expect("utf-8");
    let o = old_bundle.to_str().expect("utf-8");
    let offline = palabre(&["audit", "--bundle", b, "--since", o]);
    let text = String::from_utf8_lossy(&offline.stdout);
    assert!(offline.status.success(), "{text}");
    assert!(
        text.contains("PASSED") && text.contains("1 counted"),
        "{text}"
    );
    // Backwards, the old one does not extend the new: entries are missing.
    let backwards = palabre(&["audit", "--bundle", o, "--since", b]);
    assert_eq!(backwards.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&backwards.stdout).contains("[not_append_only]"));
    // One changed character in a bundled ballot: named, exit 1.
    let original = std::fs::read_to_string(&bundle).expect("read");
    let ballot_text = String::from_utf8(ballot.bytes().to_vec()).expect("utf-8");
    let tampered_ballot = ballot_text.replacen("\"approve\"", "\"apprové\"", 1);
    assert_ne!(ballot_text, tampered_ballot);
    let tampered = dir.path().join("tampered.bundle.json");
    std::fs::write(
        &tampered,
        original.replacen(&ballot_text, &tampered_ballot, 1),
    )
    .expect("w");
    let bad = palabre(&["audit", "--bundle", tampered.to_str().expect("utf-8")]);
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(
        text.contains("[entry_invalid]") || text.contains("[bad_signature]"),
        "{text}"
    );

    // The bundle the node itself serves (linked from the site) audits the same.
    let served = dir.path().join("served.bundle.json");
    std::fs::write(
        &served,
        get_raw(&node.addr, &format!("/api/v1/consultations/{cid}/bundle")),
    )
    .expect("write");
    let from_site = palabre(&["audit", "--bundle", served.to_str().expect("utf-8")]);
    assert!(
        from_site.status.success(),
        "{}",
        String::from_utf8_lossy(&from_site.stdout)
    );

    // The resident's receipt checks out against the node; a doctored one does not.
    let r = receipt_file.to_str().expect("utf-8");
    let ok = palabre(&["check-receipt", r, "--node", &url]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let mut doctored = v.clone();
    let index = doctored["receipt"]["receipt"]["index"]
        .as_u64()
        .expect("index");
    doctored["receipt"]["receipt"]["index"] = json!(index - 1);
    let doctored_file = dir.path().join("doctored.json");
    std::fs::write(&doctored_file, serde_json::to_vec(&doctored).expect("json")).expect("w");
    let bad = palabre(&[
        "check-receipt",
        doctored_file.to_str().expect("utf-8"),
        "--node",
        &url,
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("[bad_receipt]"));

    // An open consultation reads as open, not as a failure: its own exit status (3), in
    // words and in the JSON report.
    let (open, _) = approval_consultation(&node.addr);
    let open_audit = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_palabre"))
            .args(["audit", "--consultation", &open.to_string(), "--node", &url])
            .args(extra)
            .env("PALABRE_LOG", "warn")
            .output()
            .expect("runs")
    };
    let out = open_audit(&[]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("OPEN") && text.contains("the result is not final"),
        "{text}"
    );
    assert!(!text.contains("FAILED"), "{text}");
    let out = open_audit(&["--json"]);
    assert_eq!(out.status.code(), Some(3));
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report["state"], json!("open"));
    assert_eq!(report["failures"], json!([]));
    let help = String::from_utf8_lossy(&palabre(&["audit", "--help"]).stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        help.contains("3 when every check holds but the consultation is still open"),
        "{help}"
    );
}

/// `palabre tally` on small instances whose results were worked out by hand (see the
/// comments): a pabulib file where the greedy rule and the Method of Equal Shares fund
/// different projects, one where they agree, and a majority-judgment CSV.
#[test]
fn palabre_tally_agrees_with_hand_computed_results() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let tally = |args: &[&str], file: &str| -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_palabre"))
            .arg("tally")
            .args(args)
            .arg("--input")
            .arg(data.join(file))
            .output()
            .expect("palabre tally runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let funded = |v: &Value| -> (Vec<String>, u64) {
        let mut names: Vec<String> = v["tally"]["winners"]
            .as_array()
            .expect("winners")
            .iter()
            .map(|id| {
                v["proposals"][id.as_str().expect("id")]
                    .as_str()
                    .expect("name")
                    .to_owned()
            })
            .collect();
        names.sort();
        (names, v["tally"]["spent"].as_u64().expect("spent"))
    };
    // Budget 100; A costs 60 (6 approvals), B 40 (4), C 30 (7).
    // Greedy, by approvals: C (30), A (60); B no longer fits. Spent 90.
    let greedy = tally(
        &["--method", "budget", "--rule", "greedy"],
        "equal-shares-differs.pb",
    );
    assert_eq!(funded(&greedy), (vec!["A".into(), "C".into()], 90));
    // Equal shares: 10 each. C is cheapest per supporter (30/7 each), then A is out of
    // reach of its six supporters (5.71 left each) and B of its four (35.71 < 40).
    // Add1U raises each share: at 12, B becomes affordable ({C, B} = 70); at 15, A
    // would too and {C, B, A} = 130 exceeds the budget, so {C, B} stands; 30 left buys
    // nothing more. Spent 70.
    let mes = tally(
        &["--method", "budget", "--rule", "equal-shares"],
        "equal-shares-differs.pb",
    );
    assert_eq!(funded(&mes), (vec!["B".into(), "C".into()], 70));
    // Two projects of 50, two supporters each: both rules fund both.
    for rule in ["greedy", "equal-shares"] {
        let v = tally(&["--method", "budget", "--rule", rule], "rules-agree.pb");
        assert_eq!(funded(&v), (vec!["p".into(), "q".into()], 100), "{rule}");
    }
    // Majority judgment: Halle (passable, bien, bien) and Parc (à rejeter, bien, très
    // bien) share the majority grade "bien"; without one median vote Halle keeps
    // "passable" and Parc falls to "à rejeter": Halle first. Kiosque, ungraded, last.
    let mj = tally(
        &[
            "--method",
            "majority-judgment",
            "--grades",
            "à rejeter,passable,bien,très bien",
        ],
        "majority.csv",
    );
    let ranking: Vec<&str> = mj["tally"]["ranking"]
        .as_array()
        .expect("ranking")
        .iter()
        .map(|id| {
            mj["proposals"][id.as_str().expect("id")]
                .as_str()
                .expect("name")
        })
        .collect();
    assert_eq!(ranking, vec!["Halle", "Parc", "Kiosque"]);
}

/// `palabre export --format json|csv|pb`: the open data of a participatory budget,
/// recounted from the signed logs, agrees with the node's own tally, and its pabulib
/// file, read back by `palabre tally`, funds the same projects.
#[test]
fn open_data_exports_match_the_tally() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = start(&dir.path().join("node"));
    let url = format!("http://{}", node.addr);
    let (_, list) = http(&node.addr, "GET", "/api/v1/consultations", b"").expect("list");
    let budget = list["consultations"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["method"]["type"] == json!("budget"))
        .expect("the demo has a budget")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let cid: EventId = budget.parse().expect("id");
    let detail = consultation_detail(&node.addr, &cid);
    let mut pids: Vec<EventId> = detail["proposals"]
        .as_array()
        .expect("proposals")
        .iter()
        .map(|p| p["id"].as_str().expect("id").parse().expect("id"))
        .collect();
    pids.sort();
    for (n, code) in node.codes[..2].iter().enumerate() {
        let voter = SecretKey::from_seed(&[60 + n as u8; 32]);
        assert!(redeem(&node.addr, code, &voter));
        let ballot = Event {
            author: voter.public_key(),
            created_at_ms: now_ms(),
            body: Body::Ballot(BallotBody {
                consultation: cid,
                choice: Choice::Approve(pids[n..n + 2].to_vec()),
                assistance: None,
            }),
        }
        .sign(&voter)
        .expect("valid");
        let (status, v) = http(&node.addr, "POST", "/api/v1/events", ballot.bytes()).expect("post");
        assert_eq!(status, 201, "{v}");
    }
    let (_, node_tally) = http(
        &node.addr,
        "GET",
        &format!("/api/v1/consultations/{cid}/tally"),
        b"",
    )
    .expect("tally");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_palabre"))
            .args(args)
            .env("PALABRE_LOG", "warn")
            .output()
            .expect("palabre runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let file = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_owned();
    for (format, name) in [("json", "r.json"), ("csv", "r.csv"), ("pb", "r.pb")] {
        run(&[
            "export",
            "--consultation",
            &budget,
            "--format",
            format,
            "--out",
            &file(name),
            "--node",
            &url,
        ]);
    }
    let exported: Value =
        serde_json::from_slice(&std::fs::read(file("r.json")).expect("read")).expect("json");
    assert_eq!(exported["tally"], node_tally["tally"]);
    assert_eq!(exported["participation"]["n_voters_counted"], json!(2));
    assert!(
        exported["licence"]
            .as_str()
            .expect("licence")
            .contains("Licence Ouverte")
    );
    let csv = std::fs::read_to_string(file("r.csv")).expect("read");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("proposal_id,title,cost,approvals,funded")
    );
    let rows = node_tally["tally"]["rows"].as_array().expect("rows");
    assert_eq!(lines.clone().count(), rows.len());
    for (line, row) in lines.zip(rows) {
        let cols: Vec<&str> = line.rsplitn(3, ',').collect();
        assert_eq!(cols[1], row["approvals"].to_string(), "{line}");
        assert_eq!(cols[0], row["funded"].to_string(), "{line}");
    }
    // The pabulib file, recounted by `palabre tally` with the same rule, funds the same.
    let recount: Value = serde_json::from_slice(&run(&[
        "tally",
        "--method",
        "budget",
        "--rule",
        "equal-shares",
        "--input",
        &file("r.pb"),
    ]))
    .expect("json");
    let mut funded: Vec<String> = recount["tally"]["winners"]
        .as_array()
        .expect("winners")
        .iter()
        .map(|w| {
            recount["proposals"][w.as_str().expect("id")]
                .as_str()
                .expect("name")
                .to_owned()
        })
        .collect();
    funded.sort();
    let mut expected: Vec<String> = node_tally["tally"]["winners"]
        .as_array()
        .expect("winners")
        .iter()
        .map(|w| w.as_str().expect("id").to_owned())
        .collect();
    expected.sort();
    assert_eq!(funded, expected);
    assert_eq!(recount["tally"]["spent"], node_tally["tally"]["spent"]);
}

/// Makes `dir`, if it exists, its owner's only, as the node requires of its data
/// directory (a test's temporary directory is made 0755).
fn owner_only(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if dir.exists() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod 700");
    }
}
