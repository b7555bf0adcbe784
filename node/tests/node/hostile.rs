//! Hostile load against a real `palabre serve` over loopback sockets (issue 19): idle
//! and slow connections, a flood of staff logins, and results read again and again. Other loopback addresses
//! (127.0.0.2, …) play the well-behaved clients.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use palabre_core::crypto::SecretKey;
use palabre_core::event::{BallotBody, Body, Event};
use palabre_core::ids::EventId;
use palabre_core::tally::Choice;

use super::staff::{ADMIN_PASSWORD, Web, first_admin};
use super::{get_raw, start, start_with};

/// A TCP connection to `addr` from the local address `from` (any port).
pub fn connect_from(from: IpAddr, addr: &str) -> TcpStream {
    let to: SocketAddr = addr.parse().expect("a socket address");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("a runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket.bind(SocketAddr::new(from, 0)).expect("bind");
        socket.connect(to).await.expect("connect")
    });
    let stream = stream.into_std().expect("a std socket");
    stream.set_nonblocking(false).expect("blocking");
    stream
}

fn loopback(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// `GET path` from `from`, answering the status and the body.
fn get_from(from: IpAddr, addr: &str, path: &str) -> (u16, String) {
    let mut s = connect_from(from, addr);
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[test]
fn idle_connections_from_one_address_lock_out_nobody_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_with(
        dir.path(),
        &[
            ("PALABRE_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "8"),
            ("PALABRE_HTTP_HEADER_TIMEOUT_SECONDS", "3600"),
        ],
    );
    let flooder = loopback(3);
    // Eight idle connections are held; each is answered once it is used, so the node
    // has accepted them before the next is opened.
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut s = connect_from(flooder, &node.addr);
        s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", node.addr).as_bytes())
            .expect("write");
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).expect("an answer");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    // The ninth from that address is turned away with a code, and closed.
    let (status, text) = get_from(flooder, &node.addr, "/healthz");
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("too_many_connections"), "{text}");
    // Another address is served as usual, and the refusal is counted.
    let (status, _) = get_from(loopback(4), &node.addr, "/healthz");
    assert_eq!(status, 200);
    let (_, metrics) = get_from(loopback(4), &node.addr, "/metrics");
    assert!(
        metrics.contains("palabre_http_connections_refused_total{cap=\"per_address\"} 1"),
        "{metrics}"
    );
    // Once the flooder lets go, it is served again.
    drop(held);
    let mut served = false;
    for _ in 0..200 {
        if get_from(flooder, &node.addr, "/healthz").0 == 200 {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(served, "the flooder's slots were given back");
}

#[test]
fn a_slow_header_client_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_with(dir.path(), &[("PALABRE_HTTP_HEADER_TIMEOUT_SECONDS", "1")]);
    let mut s = connect_from(loopback(5), &node.addr);
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    // One header byte every 100 ms, for a header of 1,200 bytes (two minutes): the
    // node must close the connection long before the head is complete.
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nX-Slow: {}",
        node.addr,
        "a".repeat(1200)
    );
    let mut closed = false;
    for b in head.bytes() {
        if s.write_all(&[b]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        match s.read(&mut buf) {
            // EOF, or an answer (408) followed by the close.
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "a client trickling its header stayed connected");
    // And the node still serves.
    assert!(String::from_utf8_lossy(&get_raw(&node.addr, "/healthz")).contains("ok"));
}

#[test]
fn a_flood_of_logins_is_checked_a_few_times_and_the_member_still_logs_in_elsewhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path());
    drop(first_admin(&node));
    let attacker = loopback(6);
    // Forty simultaneous attempts from one address, the right password among them: the
    // attempt is reserved before the password is checked, so at most five are checked.
    let mut forms: Vec<(Web, String)> = (0..40)
        .map(|_| {
            let mut w = Web::new(&node.addr);
            w.from = Some(attacker);
            let csrf = w.get("/staff/login").csrf();
            (w, csrf)
        })
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(forms.len()));
    let handles: Vec<_> = forms
        .drain(..)
        .enumerate()
        .map(|(i, (mut w, csrf))| {
            let barrier = std::sync::Arc::clone(&barrier);
            std::thread::spawn(move || {
                let password = if i == 20 {
                    ADMIN_PASSWORD
                } else {
                    "pas le bon"
                };
                barrier.wait();
                w.post(
                    "/staff/login",
                    &[("login", "claire"), ("password", password), ("csrf", &csrf)],
                )
                .status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles
        .into_iter()
        .map(|h| h.join().expect("a thread"))
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401 || **s == 303).count();
    let locked = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        checked <= 5,
        "{checked} attempts were checked: {statuses:?}"
    );
    assert_eq!(checked + locked, 40, "{statuses:?}");
    // The attacker's address stays locked for that login, even with the right password…
    let mut again = Web::new(&node.addr);
    again.from = Some(attacker);
    if statuses.contains(&303) {
        // The right password was among the few checked, and a success forgives that
        // address's failures with that login (lockout.rs): five more wrong ones lock it.
        for _ in 0..5 {
            let s = again.try_login("claire", "pas le bon").status;
            assert!(s == 401 || s == 429, "{s}");
        }
    }
    let a = again.try_login("claire", ADMIN_PASSWORD);
    assert_eq!(a.status, 429, "{}", a.body);
    assert!(a.body.contains("login_locked"), "{}", a.body);
    // …but the member logs in from an address that has not failed.
    let mut claire = Web::new(&node.addr);
    claire.from = Some(loopback(7));
    claire.login("claire", ADMIN_PASSWORD);
}

/// `palabre_store_entries_read_total` from `/metrics`.
fn entries_read(addr: &str) -> u64 {
    let text = String::from_utf8(get_raw(addr, "/metrics")).expect("utf-8");
    text.lines()
        .find_map(|l| l.strip_prefix("palabre_store_entries_read_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the metric is listed")
}

/// The demo's residents, each with a fresh key and one of the printed codes.
fn residents(node: &super::Node) -> Vec<SecretKey> {
    let voters: Vec<SecretKey> = (0..node.codes.len())
        .map(|n| SecretKey::from_seed(&[100 + n as u8; 32]))
        .collect();
    for (voter, code) in voters.iter().zip(&node.codes) {
        assert!(super::redeem(&node.addr, code, voter));
    }
    voters
}

/// Each of `voters` votes in `cid` (again: a later ballot replaces the earlier one, and
/// the log keeps both).
fn vote(addr: &str, cid: EventId, pids: &[EventId], voters: &[SecretKey], round: usize) {
    for (n, voter) in voters.iter().enumerate() {
        let ballot = Event {
            author: voter.public_key(),
            created_at_ms: super::now_ms(),
            body: Body::Ballot(BallotBody {
                consultation: cid,
                choice: Choice::Approve(vec![pids[(n + round) % pids.len()]]),
                assistance: None,
            }),
        }
        .sign(voter)
        .expect("valid");
        let (status, v) =
            super::http(addr, "POST", "/api/v1/events", ballot.bytes()).expect("post");
        assert_eq!(status, 201, "{v}");
    }
}

/// Issue 19, point 2: a public page or answer that shows a count costs O(its page), not
/// O(the log). Counted by the store's own counter of entries read (not by a time): once
/// a count has been made, asking again reads no more than the page itself, however many
/// ballots the log holds, and the open-data file is not made again while no log grew.
#[test]
fn reading_results_reads_no_more_entries_as_the_log_grows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path());
    let (cid, pids) = super::approval_consultation(&node.addr);
    let paths = [
        format!("/c/{cid}/results"),
        format!("/api/v1/consultations/{cid}/tally"),
        format!("/c/{cid}/data/results.json"),
    ];
    // The reads of `rounds` requests of each path, after one request of each that may
    // count (and make the file) afresh.
    let reads_of = |rounds: u64| -> Vec<u64> {
        paths
            .iter()
            .map(|path| {
                get_raw(&node.addr, path);
                let before = entries_read(&node.addr);
                for _ in 0..rounds {
                    get_raw(&node.addr, path);
                }
                entries_read(&node.addr) - before
            })
            .collect()
    };
    let log = super::authority(&node.addr);
    let size = || {
        let (_, v) = super::http(
            &node.addr,
            "GET",
            &format!("/api/v1/logs/{log}/checkpoint"),
            b"",
        )
        .expect("head");
        v["head"]["size"].as_u64().expect("size")
    };
    let voters = residents(&node);
    vote(&node.addr, cid, &pids, &voters, 0);
    let (small, small_size) = (reads_of(20), size());
    for round in 1..=40 {
        vote(&node.addr, cid, &pids, &voters, round);
    }
    let (large, large_size) = (reads_of(20), size());
    assert!(
        large_size >= small_size + 200,
        "the log grew from {small_size} to {large_size}"
    );
    // The page's own reads (its proposals, town names) stay; the log's size is not in them.
    assert_eq!(small, large, "entries read by 20 requests of {paths:?}");
    // The open-data file is made once: its 20 requests read nothing.
    assert_eq!(large[2], 0, "the open-data file is made again");
    // And a page reads at most a page: the proposals it lists, a few more.
    let n_proposals = pids.len() as u64;
    for (path, reads) in paths.iter().zip(&large) {
        assert!(
            *reads <= 20 * (n_proposals + 8),
            "{path}: {reads} entries read by 20 requests"
        );
    }
}
