//! Three towns' `palabre serve` processes, federated by their config files alone
//! (`palabre peers add`, `p2p_listen`), on loopback sockets with temporary data
//! directories: an inter-municipal consultation whose residents vote at their own
//! town's node gives the same tally on every node and a result the audit accepts; a
//! node stopped during the vote catches up; a rogue peer (an in-process libp2p node)
//! that equivocates, sends a badly signed head, badly signed entries and an oversized
//! message is caught by every honest node, changes nothing and is penalised; a wiped
//! node recovers its log, replicas, cosignatures and evidence from one neighbour's address
//! (and `peers.toml`) and, restarted beside one neighbour and then alone, serves and
//! audits as before; `palabre status` answers from a running node;
//! a recovery whose own log refers to a log not caught up yet waits for it and takes the
//! entry in within the same run, with no error. Every wait is on a condition, bounded.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use palabre_core::event::{ConsultationBody, ModerationAction, ModerationBody, ProposalBody};
use palabre_core::head::TreeHead;
use palabre_core::tally::Method;
use palabre_net::proto::Wire;

use super::site::town_key;
use super::*;

/// Waits until `ready` holds, polling; fails with `what` after `secs`.
pub(super) fn wait_until(what: &str, secs: u64, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(super) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub(super) fn palabre(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_palabre"))
        .args(args)
        .env("PALABRE_LOG", "warn")
        .output()
        .expect("palabre runs")
}

pub(super) fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Town {
    data: PathBuf,
    key: SecretKey,
    p2p: String,
    node: Option<Node>,
}

impl Town {
    fn start(&mut self) {
        let node = start_with(
            &self.data,
            &[
                ("PALABRE_P2P_LISTEN", self.p2p.as_str()),
                ("PALABRE_CLOSE_GRACE_MS", "0"),
            ],
        );
        self.node = Some(node);
    }

    fn addr(&self) -> String {
        self.node.as_ref().expect("running").addr.clone()
    }

    fn pk(&self) -> PublicKey {
        self.key.public_key()
    }
}

/// `n` towns initialised under `dir` (`Commune 0`, …), each with a free p2p port, not
/// started.
fn init_towns(dir: &Path, n: usize) -> Vec<Town> {
    (0..n)
        .map(|i| {
            let data = dir.join(format!("town{i}"));
            ok(palabre(&[
                "init",
                "--data",
                path(&data),
                "--name",
                &format!("Commune {i}"),
            ]));
            Town {
                key: town_key(&data),
                data,
                p2p: format!("/ip4/127.0.0.1/tcp/{}", free_port()),
                node: None,
            }
        })
        .collect()
}

/// An event signed by `key` now.
pub(super) fn sign(key: &SecretKey, body: Body) -> palabre_core::event::SignedEvent {
    Event {
        author: key.public_key(),
        created_at_ms: now_ms(),
        body,
    }
    .sign(key)
    .expect("valid event")
}

/// Each town names every other one as a peer (`palabre peers add`), as "Commune j".
pub(super) fn peer_each_other(towns: &[(&Path, PublicKey, &str)]) {
    for (i, (data, _, _)) in towns.iter().enumerate() {
        for (j, (_, pk, p2p)) in towns.iter().enumerate().filter(|(j, _)| *j != i) {
            ok(palabre(&[
                "peers",
                "add",
                "--data",
                path(data),
                "--authority",
                &pk.to_string(),
                "--addr",
                p2p,
                "--name",
                &format!("Commune {j}"),
            ]));
        }
    }
}

pub(super) fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The entries a node holds of a log, as served. A node under load may answer a page
/// late or with a transient refusal (its 30 s request limit): the read is repeated for
/// up to 60 s, as any client would, and only then fails, with what the node said.
fn log_of(addr: &str, log: &PublicKey) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match http(addr, "GET", &format!("/api/v1/logs/{log}/checkpoint"), b"") {
            // A log the node does not hold (yet): it serves nothing of it.
            Some((status, _)) if status != 200 => return Vec::new(),
            _ => {}
        }
        if let Some(entries) = served_log(addr, log) {
            return entries;
        }
        assert!(
            Instant::now() < deadline,
            "{addr} did not serve the log of {log} for 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(super) fn log_size(addr: &str, log: &PublicKey) -> u64 {
    match http(addr, "GET", &format!("/api/v1/logs/{log}/checkpoint"), b"") {
        Some((200, head)) => head["head"]["size"].as_u64().unwrap_or(0),
        _ => 0,
    }
}

fn metric(addr: &str, name: &str) -> u64 {
    let text = String::from_utf8(get_raw(addr, "/metrics")).expect("utf-8");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

pub(super) fn post(addr: &str, e: &palabre_core::event::SignedEvent) {
    let (status, v) = http(addr, "POST", "/api/v1/events", e.bytes()).expect("post");
    assert_eq!(status, 201, "{v}");
}

fn resident(town: usize, n: u8) -> SecretKey {
    SecretKey::from_seed(&[100 + 10 * town as u8 + n; 32])
}

#[test]
fn three_towns_federate_by_config_alone() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let rogue = SecretKey::from_seed(&[66; 32]);
    let mut towns = init_towns(tmp.path(), 3);
    // Each town names the other two, and the rogue's key (a town it believes in).
    for i in 0..3 {
        for j in 0..3 {
            if i != j {
                ok(palabre(&[
                    "peers",
                    "add",
                    "--data",
                    path(&towns[i].data),
                    "--authority",
                    &towns[j].pk().to_string(),
                    "--addr",
                    &towns[j].p2p,
                    "--name",
                    &format!("Commune {j}"),
                ]));
            }
        }
        ok(palabre(&[
            "peers",
            "add",
            "--data",
            path(&towns[i].data),
            "--authority",
            &rogue.public_key().to_string(),
        ]));
        let list = ok(palabre(&["peers", "list", "--data", path(&towns[i].data)]));
        assert_eq!(list.lines().count(), 3, "{list}");
    }
    for t in towns.iter_mut() {
        t.start();
    }
    let keys: Vec<PublicKey> = towns.iter().map(Town::pk).collect();
    wait_until(
        "every node to replicate every town's declaration",
        60,
        || {
            towns
                .iter()
                .all(|t| keys.iter().all(|k| log_size(&t.addr(), k) >= 1))
        },
    );

    // Town 0 organises a consultation of the three towns.
    let mut participants = keys.clone();
    participants.sort();
    let organiser = &towns[0].key;
    let now = now_ms();
    let c = sign(
        organiser,
        Body::Consultation(Box::new(ConsultationBody {
            title: "La piscine intercommunale".into(),
            description: "Faut-il la couvrir ?".into(),
            authorities: participants.clone(),
            proposals_open_ms: now - 1_000,
            proposals_close_ms: now + 25_000,
            vote_open_ms: now - 1_000,
            vote_close_ms: now + 25_000,
            method: Method::Approval { max_choices: 1 },
            show_running_results: true,
            secrecy: None,
            quotas: None,
        })),
    );
    let cid = c.id();
    let p = sign(
        organiser,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "Couvrir le bassin".into(),
            body: "Un toit ouvrant.".into(),
            cost: None,
        }),
    );
    post(&towns[0].addr(), &c);
    post(&towns[0].addr(), &p);
    wait_until("the consultation to reach every node", 30, || {
        towns.iter().all(|t| {
            matches!(http(&t.addr(), "GET", &format!("/api/v1/consultations/{cid}"), b""),
                Some((200, v)) if v["proposals"].as_array().is_some_and(|l| l.len() == 1))
        })
    });

    // Each town's site lists the consultations it takes part in, not its neighbours'.
    let (_, all) = http(&towns[0].addr(), "GET", "/api/v1/consultations", b"").expect("list");
    let theirs: Vec<String> = all["consultations"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|c| c["organiser"] == json!(keys[0]) && c["id"] != json!(cid))
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect();
    assert!(!theirs.is_empty());
    let home = String::from_utf8(get_raw(&towns[1].addr(), "/")).expect("utf-8");
    assert!(
        home.contains(&cid.to_string()),
        "the shared consultation is listed"
    );
    for id in &theirs {
        assert!(
            !home.contains(id.as_str()),
            "town 0's own consultation {id} is listed"
        );
    }

    // Residents register and vote at their own town's node.
    let vote = |town: &Town, code: &str, resident: &SecretKey| {
        assert!(redeem(&town.addr(), code, resident));
        post(
            &town.addr(),
            &sign(
                resident,
                Body::Ballot(BallotBody {
                    consultation: cid,
                    choice: Choice::Approve(vec![p.id()]),
                    assistance: None,
                }),
            ),
        );
    };
    for n in 0..2 {
        let code = towns[1].node.as_ref().expect("running").codes[n as usize].clone();
        vote(&towns[1], &code, &resident(1, n));
    }
    // Town 1's node stops during the vote; the others go on.
    towns[1].node.take().expect("running").kill();
    for (t, n) in [(0, 0), (0, 1), (2, 0)] {
        let code = towns[t].node.as_ref().expect("running").codes[n as usize].clone();
        vote(&towns[t], &code, &resident(t, n));
    }
    towns[1].start();
    wait_until("the restarted node to catch up", 60, || {
        keys.iter()
            .all(|k| log_size(&towns[1].addr(), k) >= log_size(&towns[0].addr(), k))
    });
    let counted = |addr: &str| {
        let (_, v) = http(
            addr,
            "GET",
            &format!("/api/v1/consultations/{cid}/tally"),
            b"",
        )
        .expect("tally");
        v
    };
    wait_until("every node to count the five ballots", 30, || {
        towns
            .iter()
            .all(|t| counted(&t.addr())["n_ballots_counted"] == json!(5))
    });

    // A rogue peer: in the federation list, but lying.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let rogue_net = rt.block_on(async {
        let (net, _events) = palabre_net::shell::start(
            SecretKey::from_seed(&rogue.seed()),
            keys.clone(),
            "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"),
            towns
                .iter()
                .map(|t| t.p2p.parse().expect("multiaddr"))
                .collect(),
            Box::new(RawLogs(vec![ROGUE_ENTRY.to_vec(); 6])),
        )
        .await
        .expect("the rogue's network starts");
        net
    });
    let rogue_head = |size: u64, root: u8| {
        TreeHead {
            authority: rogue.public_key(),
            size,
            root: Hash([root; 32]),
            timestamp_ms: now,
        }
        .sign(&rogue)
    };
    // Two histories of the same size, told to everyone (again until they are connected).
    wait_until(
        "every honest node to hold the rogue's equivocation",
        60,
        || {
            rt.block_on(async {
                for root in [1, 2] {
                    let head = rogue_head(5, root);
                    rogue_net
                        .broadcast(Wire::Head { head })
                        .await
                        .expect("broadcast");
                }
            });
            towns.iter().all(|t| {
                let (_, v) = http(&t.addr(), "GET", "/api/v1/evidence", b"").expect("evidence");
                v["disputed_authorities"] == json!([rogue.public_key()])
            })
        },
    );
    for t in &towns {
        let (_, v) = http(&t.addr(), "GET", "/api/v1/evidence", b"").expect("evidence");
        let proof: palabre_core::head::Equivocation =
            serde_json::from_value(v["evidence"][0].clone()).expect("an equivocation");
        assert_eq!(proof.check(), Ok(()));
        // The consultation does not involve the rogue: not disputed.
        assert_eq!(
            consultation_detail(&t.addr(), &cid)["consultation"]["disputed"],
            json!(false)
        );
    }
    // A head with a broken signature; a message over the size limit; and entries that do
    // not verify, under a validly signed head, served when asked.
    let mut forged = rogue_head(9, 3);
    forged.head.size = 10;
    let huge = Wire::Entries {
        authority: keys[0],
        start: 0,
        entries: vec![vec![b'x'; 5 * 1024 * 1024]],
    };
    let bad_entry = ROGUE_ENTRY;
    // Larger than the equivocating heads, so that the honest nodes ask for it.
    let bad_entries = vec![bad_entry.to_vec(); 6];
    let mut tree = merkle::MemoryTree::new();
    for e in &bad_entries {
        tree.push(merkle::leaf_hash(e));
    }
    let bad_head = TreeHead {
        authority: rogue.public_key(),
        size: 6,
        root: merkle::root_at(&tree, 6).expect("root"),
        timestamp_ms: now,
    }
    .sign(&rogue);
    rt.block_on(async {
        rogue_net
            .broadcast(Wire::Head { head: forged })
            .await
            .expect("broadcast");
        rogue_net.broadcast(huge).await.expect("broadcast");
        rogue_net
            .appended(bad_head, 0, bad_entries)
            .await
            .expect("appended");
    });
    wait_until("every honest node to penalise the rogue", 30, || {
        towns
            .iter()
            .all(|t| metric(&t.addr(), "palabre_peer_penalties_total") >= 3)
    });
    drop(rogue_net);
    drop(rt);
    // Nothing of the rogue's was recorded, and every honest log is the same everywhere.
    for t in &towns {
        assert_eq!(log_size(&t.addr(), &rogue.public_key()), 0);
        assert!(http(&t.addr(), "GET", "/healthz", b"").is_some());
    }

    // The vote closes; each town checkpoints, the others cosign, the organiser
    // publishes the result once the quorum is there.
    wait_until("the organiser's result", 90, || {
        log_of(&towns[0].addr(), &keys[0])
            .iter()
            .any(|e| e["kind"] == json!("result") && e["body"]["consultation"] == json!(cid))
    });
    wait_until("every node to hold every log alike", 30, || {
        keys.iter().all(|k| {
            let reference = log_of(&towns[0].addr(), k);
            towns[1..].iter().all(|t| log_of(&t.addr(), k) == reference)
        })
    });
    let tallies: Vec<Value> = towns.iter().map(|t| counted(&t.addr())).collect();
    assert_eq!(
        tallies[0]["tally"]["rows"][0]["approvals"],
        json!(5),
        "{}",
        tallies[0]
    );
    assert!(tallies.iter().all(|v| *v == tallies[0]), "{tallies:?}");
    for t in &towns {
        let (_, v) = http(
            &t.addr(),
            "GET",
            &format!("/api/v1/logs/{}/cosignatures", keys[1]),
            b"",
        )
        .expect("cosignatures");
        assert!(
            !v["cosignatures"].as_array().expect("list").is_empty(),
            "{v}"
        );
    }
    let nodes: Vec<String> = towns
        .iter()
        .map(|t| format!("http://{}", t.addr()))
        .collect();
    let cid_text = cid.to_string();
    let mut args = vec!["audit", "--consultation", cid_text.as_str()];
    for n in &nodes {
        args.extend(["--node", n.as_str()]);
    }
    let report = ok(palabre(&args));
    assert!(report.contains("PASSED"), "{report}");
    // The same material as one bundle, checked offline (the rogue's evidence travels in
    // it, and convicts nobody taking part).
    let bundle = tmp.path().join("federation.bundle.json");
    let mut export = vec![
        "export",
        "--consultation",
        cid_text.as_str(),
        "--bundle",
        path(&bundle),
    ];
    for n in &nodes {
        export.extend(["--node", n.as_str()]);
    }
    ok(palabre(&export));
    let saved: Value =
        serde_json::from_slice(&std::fs::read(&bundle).expect("bundle")).expect("json");
    assert_eq!(saved["logs"].as_array().map(Vec::len), Some(9));
    assert!(!saved["evidence"].as_array().expect("evidence").is_empty());
    let offline = ok(palabre(&["audit", "--bundle", path(&bundle)]));
    assert!(offline.contains("PASSED"), "{offline}");

    // `palabre status` on a running node answers from the node itself: its town, its
    // log, its peers as connected now.
    wait_until(
        "town 0's status to show both neighbours connected",
        30,
        || ok(palabre(&["status", "--data", path(&towns[0].data)])).contains("2 of 3 connected"),
    );
    let status = ok(palabre(&["status", "--data", path(&towns[0].data)]));
    assert!(status.contains("Town:          Commune 0"), "{status}");
    assert!(status.contains("Node:          running"), "{status}");
    let size0 = log_size(&towns[0].addr(), &keys[0]);
    assert!(
        status.contains(&format!("Log size:      {size0}\n")),
        "{status}"
    );
    for (j, k) in keys.iter().enumerate().skip(1) {
        assert!(
            status.contains(&format!("  {k}  Commune {j}  connected  replica: ")),
            "{status}"
        );
    }

    // Town 2 loses its disk (the key is kept). First, what an auditor reads from it: the
    // cosignatures of every log, the evidence, and the audit of the consultation from it
    // alone — once its neighbours keep all of what it witnessed and received.
    let witnessed = |addr: &str| -> Vec<Vec<Value>> {
        keys.iter()
            .map(|k| {
                let (_, v) = http(addr, "GET", &format!("/api/v1/logs/{k}/cosignatures"), b"")
                    .expect("cosignatures");
                v["cosignatures"].as_array().expect("a list").clone()
            })
            .collect()
    };
    wait_until("the neighbours to keep all that town 2 keeps", 30, || {
        let mine = witnessed(&towns[2].addr());
        let theirs = [witnessed(&towns[0].addr()), witnessed(&towns[1].addr())];
        mine.iter().enumerate().all(|(log, list)| {
            list.iter()
                .all(|c| theirs.iter().any(|t| t[log].contains(c)))
        })
    });
    let evidence_of = |addr: &str| {
        http(addr, "GET", "/api/v1/evidence", b"")
            .expect("evidence")
            .1
    };
    let audit_alone = |addr: &str| {
        let url = format!("http://{addr}");
        let out = palabre(&[
            "audit",
            "--consultation",
            cid_text.as_str(),
            "--node",
            &url,
            "--json",
        ]);
        let text = ok(out).replace(&url, "NODE");
        serde_json::from_str::<Value>(&text).expect("a JSON report")
    };
    let cosignatures_before = witnessed(&towns[2].addr());
    let neighbours_kept: Vec<Vec<Value>> = {
        let (a, b) = (witnessed(&towns[0].addr()), witnessed(&towns[1].addr()));
        a.into_iter().zip(b).map(|(x, y)| [x, y].concat()).collect()
    };
    let evidence_before = evidence_of(&towns[2].addr());
    let audit_before = audit_alone(&towns[2].addr());
    assert_eq!(audit_before["failures"], json!([]), "{audit_before}");
    // Every participating log closed, its closing head cosigned by a quorum of the other
    // towns: the witnesses the recovered node must serve again.
    let closed = audit_before["logs"].as_array().expect("logs");
    assert_eq!(closed.len(), 3, "{audit_before}");
    for l in closed {
        assert!(l["closing_size"].is_u64(), "{audit_before}");
        assert!(
            l["witnesses"].as_array().is_some_and(|w| !w.is_empty()),
            "{l}"
        );
    }
    assert!(cosignatures_before.iter().all(|l| !l.is_empty()));
    assert!(
        !evidence_before["evidence"]
            .as_array()
            .expect("a list")
            .is_empty()
    );

    // It rebuilds its log, its replicas, and what it witnessed from the others.
    let before = log_of(&towns[0].addr(), &keys[2]);
    towns[2].node.take().expect("running").kill();
    std::fs::remove_dir_all(towns[2].data.join("store")).expect("wipe");
    let refused = palabre(&[
        "serve",
        "--data",
        path(&towns[2].data),
        "--http",
        "127.0.0.1:0",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("palabre recover"));
    // As the town's IT person would: one neighbour's address; the other's comes from
    // `peers.toml`, kept with the key.
    let recovered = palabre(&[
        "recover",
        "--data",
        path(&towns[2].data),
        "--from",
        &towns[0].p2p,
        "--timeout",
        "60",
    ]);
    let log = String::from_utf8_lossy(&recovered.stderr).into_owned();
    let recovered = ok(recovered);
    assert!(
        recovered.contains(&format!("{} entries", before.len())),
        "{recovered}"
    );
    assert!(recovered.contains("from 2 neighbour(s)"), "{recovered}");
    assert!(
        !log.contains("ERROR"),
        "the recovery logged an error:\n{log}"
    );

    // It serves the same record, the same cosignatures and evidence, and the audit from
    // it alone gives the same report (the same witnesses behind every closing head) —
    // from its store, at once, not from what a neighbour happens to send again.
    let serves_as_before = |addr2: &str| {
        assert_eq!(log_of(addr2, &keys[2]), before);
        assert_eq!(counted(addr2), tallies[0]);
        // Everything it served before, and what only its neighbours kept (a cosignature
        // one of them never passed on to it) — nothing else.
        let cosignatures_after = witnessed(addr2);
        for (log, list) in cosignatures_before.iter().enumerate() {
            for c in list {
                assert!(cosignatures_after[log].contains(c), "lost: {c}");
            }
            for c in &cosignatures_after[log] {
                assert!(
                    list.contains(c) || neighbours_kept[log].contains(c),
                    "from nowhere: {c}"
                );
            }
            assert!(cosignatures_after[log].len() >= list.len());
        }
        assert_eq!(evidence_of(addr2), evidence_before);
        assert_eq!(audit_alone(addr2), audit_before);
    };
    // Restarted beside one neighbour only (town 1's node is down)…
    towns[1].node.take().expect("running").kill();
    towns[2].start();
    let addr2 = towns[2].addr();
    serves_as_before(&addr2);
    wait_until("town 2's status to show town 0 connected", 30, || {
        ok(palabre(&["status", "--data", path(&towns[2].data)])).contains("1 of 3 connected")
    });
    // …then alone.
    towns[0].node.take().expect("running").kill();
    serves_as_before(&addr2);
    wait_until("town 2's status to show no neighbour connected", 30, || {
        ok(palabre(&["status", "--data", path(&towns[2].data)])).contains("0 of 3 connected")
    });
    let status = ok(palabre(&["status", "--data", path(&towns[2].data)]));
    assert!(status.contains("Town:          Commune 2"), "{status}");
    assert!(status.contains("Node:          running"), "{status}");
    assert!(
        status.contains(&format!("Log size:      {}\n", before.len())),
        "{status}"
    );
    for (j, k) in keys.iter().enumerate().take(2) {
        assert!(
            status.contains(&format!("  {k}  Commune {j}  not connected  replica: ")),
            "{status}"
        );
    }
}

/// Town 0 hides a proposal whose text must go (a resident's address), then purges it:
/// town 1, which replicated the text, erases it when the purge arrives; a node that joins
/// afterwards (town 2's key on a bare network node) receives the tombstone by sync from
/// either. No node serves the text any more, over HTTP or libp2p, and both logs have the
/// same root.
#[test]
fn a_purge_erases_the_text_on_every_replica() {
    use palabre_core::event::{Tombstone, TombstoneBody};
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut towns = init_towns(tmp.path(), 3);
    // Towns 0 and 1 dial each other; town 2 dials town 0 only, so what it receives of
    // town 0's log comes from town 0's own node.
    for i in 0..3 {
        for j in (0..3).filter(|j| *j != i) {
            let mut args = vec![
                "peers",
                "add",
                "--data",
                path(&towns[i].data),
                "--authority",
            ];
            let key = towns[j].pk().to_string();
            args.push(&key);
            if matches!((i, j), (0, 1) | (1, 0) | (2, 0)) {
                args.extend(["--addr", towns[j].p2p.as_str()]);
            }
            ok(palabre(&args));
        }
    }
    towns[0].start();
    towns[1].start();
    let keys: Vec<PublicKey> = towns.iter().map(Town::pk).collect();
    let now = now_ms();
    let mut partners = vec![keys[0], keys[1]];
    partners.sort();
    let c = sign(
        &towns[0].key,
        Body::Consultation(Box::new(ConsultationBody {
            title: "Le lavoir".into(),
            description: "Que faire du lavoir ?".into(),
            authorities: partners,
            proposals_open_ms: now - 1_000,
            proposals_close_ms: now + 600_000,
            vote_open_ms: now + 600_000,
            vote_close_ms: now + 1_200_000,
            method: Method::Approval { max_choices: 1 },
            show_running_results: true,
            secrecy: None,
            quotas: None,
        })),
    );
    let secret = "chez Mme Martin au 4 impasse des Saules";
    let p = sign(
        &towns[0].key,
        Body::Proposal(ProposalBody {
            consultation: c.id(),
            title: "Un jardin partagé".into(),
            body: format!("Les clés sont {secret}."),
            cost: None,
        }),
    );
    post(&towns[0].addr(), &c);
    post(&towns[0].addr(), &p);
    let holds = |addr: &str, text: &str| {
        log_of(addr, &keys[0])
            .iter()
            .any(|e| e.to_string().contains(text))
    };
    wait_until("town 1 to replicate the proposal", 60, || {
        holds(&towns[1].addr(), secret)
    });

    let moderate = |action, tombstone| {
        sign(
            &towns[0].key,
            Body::Moderation(ModerationBody {
                target: p.id(),
                action,
                reason: "Données personnelles d'un tiers".into(),
                tombstone,
            }),
        )
    };
    let tombstone = Tombstone::sign(
        TombstoneBody::of(&p, c.id()).expect("a proposal"),
        &towns[0].key,
    )
    .expect("signs");
    // Not hidden yet: refused, nothing changes.
    let (status, v) = http(
        &towns[0].addr(),
        "POST",
        "/api/v1/events",
        moderate(ModerationAction::Purge, Some(tombstone.clone())).bytes(),
    )
    .expect("post");
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("not_hidden")),
        "{v}"
    );
    post(&towns[0].addr(), &moderate(ModerationAction::Hide, None));
    post(
        &towns[0].addr(),
        &moderate(ModerationAction::Purge, Some(tombstone.clone())),
    );
    let tomb = serde_json::to_value(&tombstone).expect("json");
    for t in &towns[..2] {
        wait_until("the purge to erase the text", 60, || {
            let log = log_of(&t.addr(), &keys[0]);
            log.contains(&tomb) && !log.iter().any(|e| e.to_string().contains(secret))
        });
    }
    // A town that joins afterwards — here a bare network node with town 2's key, so
    // that what it holds is exactly what town 0's node serves over libp2p — receives
    // the tombstone, never the text, and checks it like every entry.
    let size = log_size(&towns[0].addr(), &keys[0]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let fetch = |from: &Town| -> Vec<Vec<u8>> {
        rt.block_on(async {
            let (net, _events) = palabre_net::shell::start(
                SecretKey::from_seed(&towns[2].key.seed()),
                keys.clone(),
                "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"),
                vec![from.p2p.parse().expect("multiaddr")],
                Box::new(std::sync::Arc::new(palabre_store::MemoryStorage::default())),
            )
            .await
            .expect("the network starts");
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let progress = net.progress().await.expect("progress");
                if progress
                    .iter()
                    .any(|p| p.authority == keys[0] && p.held >= size)
                {
                    break;
                }
                assert!(Instant::now() < deadline, "timed out syncing town 0's log");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            net.entries(keys[0]).await.expect("entries")
        })
    };
    let text_served = |bytes: &[Vec<u8>]| {
        bytes
            .iter()
            .any(|e| String::from_utf8_lossy(e).contains(secret))
    };
    // From town 1, which held the text, then from town 0, whose log it is.
    let from_replica = fetch(&towns[1]);
    assert!(from_replica.contains(&tombstone.to_bytes()));
    assert!(!text_served(&from_replica));
    let served = fetch(&towns[0]);
    assert!(served.contains(&tombstone.to_bytes()));
    assert!(!text_served(&served));
    let logs: Vec<Vec<Value>> = towns[..2]
        .iter()
        .map(|t| log_of(&t.addr(), &keys[0]))
        .collect();
    assert_eq!(logs[0], logs[1]);
    let as_json: Vec<Value> = served
        .iter()
        .map(|e| serde_json::from_slice(e).expect("json"))
        .collect();
    assert_eq!(logs[0][..as_json.len()], as_json[..]);
    let head = |addr: &str| {
        let (_, v) = http(
            addr,
            "GET",
            &format!("/api/v1/logs/{}/checkpoint", keys[0]),
            b"",
        )
        .expect("head");
        (v["head"]["size"].clone(), v["head"]["root"].clone())
    };
    assert_eq!(head(&towns[0].addr()), head(&towns[1].addr()));
    // The proposal's page keeps its place and its reason, without its text.
    let page =
        String::from_utf8(get_raw(&towns[1].addr(), &format!("/p/{}", p.id()))).expect("utf-8");
    assert!(
        page.contains("Données personnelles d&#39;un tiers")
            || page.contains("Données personnelles d'un tiers"),
        "{page}"
    );
    assert!(!page.contains("jardin partagé") && !page.contains(secret));
}

/// [`log_of`], or `None` while a node answers a page with anything but its entries (a
/// node busy under the load of parallel tests): for waits that poll again.
pub(super) fn served_log(addr: &str, log: &PublicKey) -> Option<Vec<Value>> {
    let (200, head) = http(addr, "GET", &format!("/api/v1/logs/{log}/checkpoint"), b"")? else {
        return None;
    };
    let size = head["head"]["size"].as_u64()?;
    let mut out = Vec::new();
    while (out.len() as u64) < size {
        let start = out.len();
        let (200, page) = http(
            addr,
            "GET",
            &format!("/api/v1/logs/{log}/entries?start={start}&end={size}"),
            b"",
        )?
        else {
            return None;
        };
        let list = page["entries"]
            .as_array()
            .filter(|l| !l.is_empty())?
            .clone();
        out.extend(list);
    }
    Some(out)
}

/// Four towns, three overlapping consultations: C1 of towns 0, 1, 2 (town 0 organises),
/// C2 of towns 1 and 2 (town 1), C3 of towns 0 and 3 (town 3). Each town's log so holds
/// the entries of every consultation it takes part in, and town 1 argues on, then hides
/// its argument on, a proposal of C1 that sits in town 0's log. While open, C1 audits as
/// open (exit 3); once closed with their quorums, each consultation audits clean from
/// every node alone, from all of them together, and from a bundle exported from each.
#[test]
fn overlapping_consultations_audit_clean_from_every_node_and_bundle() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut towns = init_towns(tmp.path(), 4);
    let peers: Vec<_> = towns
        .iter()
        .map(|t| (t.data.as_path(), t.pk(), t.p2p.as_str()))
        .collect();
    peer_each_other(&peers);
    for t in towns.iter_mut() {
        t.start();
    }
    let keys: Vec<PublicKey> = towns.iter().map(Town::pk).collect();
    wait_until("every node to replicate every declaration", 60, || {
        towns
            .iter()
            .all(|t| keys.iter().all(|k| log_size(&t.addr(), k) >= 1))
    });

    let now = now_ms();
    let close = now + 30_000;
    // (organiser, participants, title, proposal title)
    let plan: [(usize, &[usize], &str, &str); 3] = [
        (
            0,
            &[0, 1, 2],
            "La piscine intercommunale",
            "Couvrir le bassin",
        ),
        (1, &[1, 2], "Le pont sur la Sèvre", "Un pont piéton"),
        (3, &[0, 3], "La navette du marché", "Une navette le samedi"),
    ];
    let mut consultations = Vec::new();
    for (organiser, members, title, proposal) in plan {
        let mut authorities: Vec<PublicKey> = members.iter().map(|m| keys[*m]).collect();
        authorities.sort();
        let key = &towns[organiser].key;
        let c = sign(
            key,
            Body::Consultation(Box::new(ConsultationBody {
                title: title.into(),
                description: "Votre avis compte.".into(),
                authorities,
                proposals_open_ms: now - 1_000,
                proposals_close_ms: close,
                vote_open_ms: now - 1_000,
                vote_close_ms: close,
                method: Method::Approval { max_choices: 1 },
                show_running_results: false,
                secrecy: None,
                quotas: None,
            })),
        );
        let p = sign(
            key,
            Body::Proposal(ProposalBody {
                consultation: c.id(),
                title: proposal.into(),
                body: "Pour tous.".into(),
                cost: None,
            }),
        );
        post(&towns[organiser].addr(), &c);
        post(&towns[organiser].addr(), &p);
        consultations.push((c.id(), p.id(), members.to_vec(), organiser, proposal));
    }
    wait_until(
        "every consultation and proposal to reach every node",
        60,
        || {
            consultations.iter().all(|(cid, ..)| {
                towns.iter().all(|t| {
                    matches!(http(&t.addr(), "GET", &format!("/api/v1/consultations/{cid}"), b""),
                    Some((200, v)) if v["proposals"].as_array().is_some_and(|l| l.len() == 1))
                })
            })
        },
    );
    // Town 1 argues on C1's proposal (in town 0's log), then hides its own argument.
    let argument = sign(
        &towns[1].key,
        Body::Argument(palabre_core::event::ArgumentBody {
            proposal: consultations[0].1,
            stance: palabre_core::event::Stance::Con,
            body: "Le coût d'entretien.".into(),
        }),
    );
    post(&towns[1].addr(), &argument);
    post(
        &towns[1].addr(),
        &sign(
            &towns[1].key,
            Body::Moderation(ModerationBody {
                target: argument.id(),
                action: ModerationAction::Hide,
                reason: "Doublon".into(),
                tombstone: None,
            }),
        ),
    );
    // Two residents of each town vote at home, in every consultation of their town; the
    // second of each town casts a blank ballot.
    for (t, town) in towns.iter().enumerate() {
        for n in 0..2u8 {
            let code = town.node.as_ref().expect("running").codes[n as usize].clone();
            let key = resident(t, n);
            assert!(redeem(&town.addr(), &code, &key));
            for (cid, pid, members, ..) in &consultations {
                if members.contains(&t) {
                    let approve = if n == 0 { vec![*pid] } else { Vec::new() };
                    post(
                        &town.addr(),
                        &sign(
                            &key,
                            Body::Ballot(BallotBody {
                                consultation: *cid,
                                choice: Choice::Approve(approve),
                                assistance: None,
                            }),
                        ),
                    );
                }
            }
        }
    }
    let url = |t: &Town| format!("http://{}", t.addr());
    let audit_of = |cid: &EventId, nodes: &[String], extra: &[&str]| {
        let cid = cid.to_string();
        let mut args = vec!["audit", "--consultation", cid.as_str()];
        for n in nodes {
            args.extend(["--node", n.as_str()]);
        }
        args.extend(extra);
        palabre(&args)
    };

    // Still open: every check holds, the result is not final (exit 3).
    let open = audit_of(&consultations[0].0, &[url(&towns[1])], &[]);
    let text = String::from_utf8_lossy(&open.stdout);
    assert_eq!(open.status.code(), Some(3), "{text}");
    assert!(text.contains("the result is not final"), "{text}");

    wait_until("every organiser's result", 120, || {
        consultations.iter().all(|(cid, _, _, organiser, _)| {
            served_log(&towns[*organiser].addr(), &keys[*organiser])
                .unwrap_or_default()
                .iter()
                .any(|e| e["kind"] == json!("result") && e["body"]["consultation"] == json!(cid))
        })
    });
    wait_until("every node to hold every log alike", 60, || {
        keys.iter().all(|k| {
            let reference = served_log(&towns[0].addr(), k);
            reference.is_some()
                && towns[1..]
                    .iter()
                    .all(|t| served_log(&t.addr(), k) == reference)
        })
    });

    let all: Vec<String> = towns.iter().map(url).collect();
    for (k, (cid, _, members, _, proposal)) in consultations.iter().enumerate() {
        // From all the nodes at once, as JSON: the other consultations' entries are there,
        // outside this one, and the recount is two ballots per town, one approving.
        let json = audit_of(cid, &all, &["--json"]);
        assert_eq!(
            json.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&json.stdout)
        );
        let report: Value = serde_json::from_slice(&json.stdout).expect("a JSON report");
        assert_eq!(report["state"], json!("closed"));
        assert_eq!(report["failures"], json!([]));
        assert_eq!(report["n_ballots_counted"], json!(2 * members.len()));
        assert_eq!(
            report["tally"]["rows"][0]["approvals"],
            json!(members.len()),
            "{report}"
        );
        assert!(
            report["n_outside"].as_u64().expect("n_outside") > 0,
            "{report}"
        );
        for t in &towns {
            let node = url(t);
            let text = ok(audit_of(cid, std::slice::from_ref(&node), &[]));
            assert!(text.contains("PASSED") && text.contains(proposal), "{text}");
            let bundle = tmp
                .path()
                .join(format!("c{k}-{}.bundle.json", t.addr().replace(':', "_")));
            ok(palabre(&[
                "export",
                "--consultation",
                &cid.to_string(),
                "--bundle",
                path(&bundle),
                "--node",
                &node,
            ]));
            let offline = ok(palabre(&["audit", "--bundle", path(&bundle)]));
            assert!(offline.contains("PASSED"), "{offline}");
        }
    }
}

/// A recovery whose own log refers to a log not caught up yet: town 1 organises a
/// consultation, town 0 puts a proposal forward (in town 0's log), and town 1's resident
/// votes for it (in town 1's log). Town 1 loses its store; the first neighbour it
/// recovers from (an in-process libp2p node speaking for town 0, whose own node is
/// stopped) holds town 1's log but not yet town 0's, so the ballot must wait; town 0's
/// node then comes back, and within the same run the ballot is taken in, with no
/// `ERROR` in the recovery's log.
#[test]
fn a_recovery_waits_for_the_log_its_entries_refer_to() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut towns = init_towns(tmp.path(), 2);
    peer_each_other(&[
        (&towns[0].data, towns[0].pk(), &towns[0].p2p),
        (&towns[1].data, towns[1].pk(), &towns[1].p2p),
    ]);
    for t in towns.iter_mut() {
        t.start();
    }
    let keys: Vec<PublicKey> = towns.iter().map(Town::pk).collect();
    let mut participants = keys.clone();
    participants.sort();
    let now = now_ms();
    let c = sign(
        &towns[1].key,
        Body::Consultation(Box::new(ConsultationBody {
            title: "Le marché du samedi".into(),
            description: "Où l'installer ?".into(),
            authorities: participants,
            proposals_open_ms: now - 1_000,
            proposals_close_ms: now + 600_000,
            vote_open_ms: now - 1_000,
            vote_close_ms: now + 600_000,
            method: Method::Approval { max_choices: 1 },
            show_running_results: true,
            quotas: None,
            secrecy: None,
        })),
    );
    let cid = c.id();
    post(&towns[1].addr(), &c);
    wait_until("town 0 to replicate the consultation", 60, || {
        matches!(
            http(
                &towns[0].addr(),
                "GET",
                &format!("/api/v1/consultations/{cid}"),
                b""
            ),
            Some((200, _))
        )
    });
    let p = sign(
        &towns[0].key,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "Place de la mairie".into(),
            body: "À l'ombre des platanes.".into(),
            cost: None,
        }),
    );
    post(&towns[0].addr(), &p);
    wait_until("town 1 to replicate the proposal", 60, || {
        matches!(http(&towns[1].addr(), "GET", &format!("/api/v1/consultations/{cid}"), b""),
            Some((200, v)) if v["proposals"].as_array().is_some_and(|l| l.len() == 1))
    });
    let code = towns[1].node.as_ref().expect("running").codes[0].clone();
    let voter = resident(1, 0);
    assert!(redeem(&towns[1].addr(), &code, &voter));
    post(
        &towns[1].addr(),
        &sign(
            &voter,
            Body::Ballot(BallotBody {
                consultation: cid,
                choice: Choice::Approve(vec![p.id()]),
                assistance: None,
            }),
        ),
    );
    let before = log_of(&towns[1].addr(), &keys[1]);
    wait_until("town 0 to hold town 1's whole log", 60, || {
        log_of(&towns[0].addr(), &keys[1]) == before
    });

    // Town 1 loses its store; its log as its neighbour holds it is kept aside, byte for
    // byte with its signed head, for the in-process neighbour to serve.
    for t in towns.iter_mut() {
        t.node.take().expect("running").kill();
    }
    let lost = tmp.path().join("town1-lost-store");
    std::fs::rename(towns[1].data.join("store"), &lost).expect("move the store away");
    let (head, entries) = {
        let store = palabre_store::SledStorage::open(&lost, Default::default()).expect("store");
        let head = palabre_store::Storage::latest_head(&store, &keys[1])
            .expect("read")
            .expect("a head");
        let entries =
            palabre_store::Storage::entries(&store, &keys[1], 0, head.head.size).expect("entries");
        (head, entries)
    };
    assert_eq!(entries.len(), before.len());
    std::fs::remove_dir_all(&lost).expect("remove the lost store");

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let neighbour = rt.block_on(async {
        let (net, mut events) = palabre_net::shell::start(
            SecretKey::from_seed(&towns[0].key.seed()),
            vec![keys[1]],
            "/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr"),
            Vec::new(),
            // Its "store" holds town 1's log, and only that one is handed over.
            Box::new(RawLogs(entries.clone())),
        )
        .await
        .expect("the neighbour's network starts");
        net.appended(head, 0, entries)
            .await
            .expect("town 1's log handed over");
        // It keeps no cosignature and no evidence: it says so when asked.
        let answers = net.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let palabre_net::shell::NetEvent::Lookup { peer, want } = event else {
                    continue;
                };
                let wire = match want {
                    palabre_net::proto::Want::Cosignatures { authority, after } => {
                        Wire::Cosignatures {
                            authority,
                            after,
                            cosignatures: Vec::new(),
                            complete: true,
                        }
                    }
                    palabre_net::proto::Want::Evidence { authority, skip } => Wire::EvidenceList {
                        authority,
                        skip,
                        evidence: Vec::new(),
                        complete: true,
                    },
                };
                if answers.answer(peer, wire).await.is_err() {
                    return;
                }
            }
        });
        net
    });
    let mut recovery = Command::new(env!("CARGO_BIN_EXE_palabre"))
        .args([
            "recover",
            "--data",
            path(&towns[1].data),
            "--timeout",
            "120",
        ])
        .args(["--from", &neighbour.addr.to_string()])
        .env("PALABRE_LOG", "warn,palabre::federation=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("palabre recover starts");
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let log = Arc::clone(&log);
        let stderr = recovery.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().expect("log").push(line);
            }
        })
    };
    let said = |what: &str| log.lock().expect("log").iter().any(|l| l.contains(what));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !said(&format!("of {}'s log waits for another log", keys[1])) {
        assert!(
            !said("ERROR") && Instant::now() < deadline,
            "the ballot did not wait for town 0's log:\n{}",
            log.lock().expect("log").join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(said("unknown_proposal"), "{:#?}", log.lock().expect("log"));
    // Meanwhile `palabre status` says plainly that another process holds the store, and
    // where to look — not sled's lock error.
    let busy = palabre(&["status", "--data", path(&towns[1].data)]);
    let said_busy = String::from_utf8_lossy(&busy.stderr).into_owned();
    assert!(!busy.status.success());
    assert!(
        said_busy.contains("a palabre process holds the store")
            && said_busy.contains("look at that process's log")
            && !said_busy.contains("could not acquire lock"),
        "{said_busy}"
    );

    // Town 0's node comes back: the recovery takes its log in, then the ballot.
    drop(neighbour);
    drop(rt);
    towns[0].start();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = recovery.try_wait().expect("recovery") {
            break status;
        }
        assert!(Instant::now() < deadline, "the recovery did not end");
        std::thread::sleep(Duration::from_millis(100));
    };
    reader.join().expect("stderr read");
    let mut out = String::new();
    recovery
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut out)
        .expect("stdout");
    let log = log.lock().expect("log").join("\n");
    assert!(status.success(), "{out}{log}");
    assert!(out.contains(&format!("{} entries", before.len())), "{out}");
    assert!(
        !log.contains("ERROR"),
        "the recovery logged an error:\n{log}"
    );
    towns[1].start();
    assert_eq!(log_of(&towns[1].addr(), &keys[1]), before);
    let (_, tally) = http(
        &towns[1].addr(),
        "GET",
        &format!("/api/v1/consultations/{cid}/tally"),
        b"",
    )
    .expect("tally");
    assert_eq!(tally["n_ballots_counted"], json!(1), "{tally}");
}

/// What the rogue serves: an entry that does not verify (no store would keep it).
const ROGUE_ENTRY: &[u8] =
    br#"{"author":"00","body":{},"created_at_ms":1,"kind":"authority","sig":"00","v":1}"#;

/// The rogue's "store": its bad entries, served as they are, whatever the log.
struct RawLogs(Vec<Vec<u8>>);

impl palabre_net::proto::Logs for RawLogs {
    fn entries(&self, _: &PublicKey, start: u64, end: u64) -> Vec<Vec<u8>> {
        let n = end.saturating_sub(start) as usize;
        self.0
            .iter()
            .skip(start as usize)
            .take(n)
            .cloned()
            .collect()
    }

    fn root_at(&self, _: &PublicKey, size: u64) -> Option<Hash> {
        let mut tree = merkle::MemoryTree::new();
        for e in &self.0 {
            tree.push(merkle::leaf_hash(e));
        }
        merkle::root_at(&tree, size).ok()
    }

    fn consistency_proof(&self, _: &PublicKey, _: u64, _: u64) -> Option<Vec<Hash>> {
        None
    }
}
