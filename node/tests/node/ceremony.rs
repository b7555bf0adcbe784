//! The key ceremony of secret consultations, run by five real `palabre serve` processes
//! federated over libp2p on loopback: each trustee deals by itself, the organiser
//! publishes the election key after the complaint hour and the layout before the vote,
//! and every node admits them; any t of the shares the trustees keep give the election
//! key's secret. With a trustee killed before it could deal, QUAL is the four others;
//! with too few trustees left, no election key ever exists. Beside its support
//! consultation, one of each other method (yes/no and majority judgment split, both
//! budget rules in rows) goes through the same ceremony, vote, mix and opening, to the
//! tally of its ballots and a clean audit.
//!
//! Then a whole secret vote up to its close: published with the staff form, sealed
//! ballots cast over the API from every town (a revote, a key replaced at the desk, an
//! assisted ballot), audited from every node and from a bundle; and a search of every
//! data directory, API answer, `/metrics` and log line for sentinels of the choices;
//! then the mix, the opening and the result, with two of the five trustees away, and
//! the final audit.
//!
//! The complaint hour is real: after the deals the nodes are restarted with their clocks
//! moved past it (`PALABRE_CLOCK_OFFSET_MS`, the same for every node), so that every rule
//! is applied as on that date. Every wait is on a condition, bounded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use palabre_core::dkg;
use palabre_core::event::secret::{BallotLayoutBody, ElectionKeyBody, SealedBallotBody, Secrecy};
use palabre_core::event::{
    Assistance, ConsultationBody, ProposalBody, SignedEvent, StaffBody, StaffRole,
};
use palabre_core::group::{self, RistrettoPoint, Scalar};
use palabre_core::head::{Cosignature, closing_quorum, closing_witnesses};
use palabre_core::secret::build::{self, SealedChoice};
use palabre_core::tally::{self, Answer, BudgetRule, Candidate, Choice, Method, Tally};
use palabre_core::testkit::world::sign;
use palabre_core::view::ConsultationView;

use super::federation::{
    free_port, log_size, ok, palabre, path, peer_each_other, post, served_log, wait_until,
};
use super::site::town_key;
use super::*;

struct Town {
    data: PathBuf,
    key: SecretKey,
    p2p: String,
    node: Option<Node>,
    /// Where the node's log (and everything it prints) goes, at a verbose level, for the
    /// secrecy test to search; `None`: the usual quiet node.
    log: Option<PathBuf>,
}

impl Town {
    fn start(&mut self, offset_ms: i64) {
        let offset = offset_ms.to_string();
        let env = [
            ("PALABRE_P2P_LISTEN", self.p2p.as_str()),
            ("PALABRE_CLOCK_OFFSET_MS", offset.as_str()),
            ("PALABRE_CLOSE_GRACE_MS", "0"),
            // 4 minutes: a trustee whose turn passed waits 1 s per rank skipped.
            ("PALABRE_MIX_TIMEOUT_MS", "240000"),
        ];
        self.node = Some(match &self.log {
            Some(log) => start_logged(&self.data, &env, log),
            None => start_with(&self.data, &env),
        });
    }

    fn stop(&mut self) {
        if let Some(node) = self.node.take() {
            node.kill();
        }
    }

    fn addr(&self) -> String {
        self.node.as_ref().expect("running").addr.clone()
    }

    fn pk(&self) -> PublicKey {
        self.key.public_key()
    }

    /// `x_j` of a consultation, from the town's `trustee-shares.json`.
    fn share(&self, c: &EventId) -> Option<Scalar> {
        let text = std::fs::read_to_string(self.data.join("trustee-shares.json")).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        let hex = v["consultations"][c.to_string()]["share"].as_str()?;
        group::scalar_from_hex(hex).ok()
    }
}

fn towns(dir: &Path, n: usize) -> Vec<Town> {
    towns_logged(dir, n, false)
}

/// `palabre serve --demo` like [`start_with`], but with its log at the debug level for
/// Palabre's crates and everything it writes (stderr and stdout) appended to `log`.
fn start_logged(data: &Path, env: &[(&str, &str)], log: &Path) -> Node {
    use std::io::{BufRead, Write};
    let file = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("the log file opens")
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_palabre"))
        .args(["serve", "--demo", "--http", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("PALABRE_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "4096")
        .env("PALABRE_RATE_PER_SECOND", "1000000")
        .env("PALABRE_RATE_BURST", "1000000")
        // The staff form's times are typed in UTC (`form_time`).
        .env("PALABRE_TIME_ZONE", "UTC")
        .envs(env.iter().copied())
        .env(
            "PALABRE_LOG",
            "info,palabre=debug,palabre_web=debug,palabre_store=debug,palabre_net=debug,palabre_core=debug",
        )
        .stdout(std::process::Stdio::piped())
        .stderr(file())
        .spawn()
        .expect("the palabre binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut node = Node {
        child,
        addr: String::new(),
        codes: Vec::new(),
        setup: None,
        setup_link: None,
    };
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut out = file();
    let deadline = Instant::now() + Duration::from_secs(60);
    while node.addr.is_empty() {
        assert!(Instant::now() < deadline, "the node did not start in time");
        let line = lines
            .next()
            .expect("the node prints its address")
            .expect("utf-8");
        writeln!(out, "{line}").expect("log written");
        let trimmed = line.trim();
        if trimmed.len() == 14 && normalize_code(trimmed).is_some() {
            node.codes.push(trimmed.to_owned());
        }
        if let Some(at) = line.find("/staff/setup/") {
            node.setup = Some(line[at..].trim().to_owned());
        }
        if let Some(url) = line.strip_prefix("Palabre is serving on http://") {
            node.addr = url.trim().to_owned();
        }
    }
    // Whatever it prints later goes to the log too.
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = writeln!(out, "{line}");
        }
    });
    node
}

fn towns_logged(dir: &Path, n: usize, logged: bool) -> Vec<Town> {
    let mut towns: Vec<Town> = (0..n)
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
                log: logged.then(|| dir.join(format!("town{i}.log"))),
                data,
                p2p: format!("/ip4/127.0.0.1/tcp/{}", free_port()),
                node: None,
            }
        })
        .collect();
    let peers: Vec<_> = towns
        .iter()
        .map(|t| (t.data.as_path(), t.pk(), t.p2p.as_str()))
        .collect();
    peer_each_other(&peers);
    for t in towns.iter_mut() {
        t.start(0);
    }
    towns
}

/// The events of `kind` about `c` in `log`, as `addr` serves them.
fn about(addr: &str, log: &PublicKey, kind: &str, c: &EventId) -> Vec<Value> {
    served_log(addr, log)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["kind"] == json!(kind) && e["body"]["consultation"] == json!(c.to_string()))
        .collect()
}

/// Whether `addr` holds `log`'s closing checkpoint of `c` with the cosignatures of a
/// quorum of `participants` (PROTOCOL.md, "Closing and quorum").
fn closed_with_quorum(
    addr: &str,
    log: &PublicKey,
    c: &EventId,
    participants: &[PublicKey],
    vote_close_ms: u64,
) -> bool {
    let Some(cp) = about(addr, log, "checkpoint", c).into_iter().next() else {
        return false;
    };
    let (size, root) = (
        cp["body"]["size"].as_u64().expect("size"),
        serde_json::from_value(cp["body"]["root"].clone()).expect("root"),
    );
    let (_, v) = http(
        addr,
        "GET",
        &format!("/api/v1/logs/{log}/cosignatures"),
        b"",
    )
    .expect("cosignatures");
    let cosignatures: Vec<Cosignature> =
        serde_json::from_value(v["cosignatures"].clone()).unwrap_or_default();
    closing_witnesses(log, size, &root, participants, vote_close_ms, &cosignatures).len() + 1
        >= closing_quorum(participants.len())
}

/// Any t shares `x_j` (trustee index j) interpolate at 0 to the secret of `Y`.
fn reconstructs(shares: &[(u64, Scalar)], y: &RistrettoPoint) -> bool {
    let subset: Vec<u64> = shares.iter().map(|(j, _)| *j).collect();
    let x: Scalar = shares
        .iter()
        .map(|(j, s)| dkg::lagrange(&subset, *j) * s)
        .sum();
    RistrettoPoint::mul_base(&x) == *y
}

#[test]
fn five_trustee_towns_make_the_election_key_by_themselves() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut towns = towns(tmp.path(), 5);
    let keys: Vec<PublicKey> = towns.iter().map(Town::pk).collect();
    let mut trustees = keys.clone();
    trustees.sort();
    let index = |k: &PublicKey| trustees.iter().position(|t| t == k).expect("trustee") as u64 + 1;
    wait_until("every node to hold every town's declaration", 90, || {
        towns
            .iter()
            .all(|t| keys.iter().all(|k| log_size(&t.addr(), k) >= 1))
    });
    // Every declaration carries the town's trustee key.
    for k in &keys {
        let log = served_log(&towns[0].addr(), k).expect("log");
        assert!(
            log[0]["body"]["encryption_key"].as_str().is_some(),
            "{}",
            log[0]
        );
    }

    // Town 0 organises; the key window closes in 3 minutes (the clock jump below makes
    // the wait free), the vote opens after the complaint hour.
    let organiser = SecretKey::from_seed(&towns[0].key.seed());
    let now = now_ms();
    let keys_close = now + 180_000;
    let vote_open = keys_close + 3_600_000 + 300_000;
    let secret = |title: &str, method: Method, split: bool, trustees: Vec<PublicKey>, t: u64| {
        let mut authorities = keys.clone();
        authorities.sort();
        sign(
            &organiser,
            now,
            Body::Consultation(Box::new(ConsultationBody {
                title: title.into(),
                description: "Un vote à bulletin secret.".into(),
                authorities,
                proposals_open_ms: now - 1_000,
                proposals_close_ms: keys_close,
                vote_open_ms: vote_open,
                vote_close_ms: vote_open + 600_000,
                method,
                show_running_results: false,
                secrecy: Some(Secrecy {
                    trustees,
                    threshold: t,
                    keys_close_ms: keys_close,
                    split,
                }),
                quotas: None,
            })),
        )
    };
    let consultation = |title: &str, trustees: Vec<PublicKey>, threshold: u64| {
        secret(
            title,
            Method::Support { threshold: 1 },
            true,
            trustees,
            threshold,
        )
    };
    let proposal = |c: &SignedEvent, title: &str, cost: Option<u64>| {
        sign(
            &organiser,
            now,
            Body::Proposal(ProposalBody {
                consultation: c.id(),
                title: title.into(),
                body: "Une proposition.".into(),
                cost,
            }),
        )
    };
    let a = consultation("Le nom de la médiathèque", trustees.clone(), 3);
    let proposals: Vec<_> = ["Médiathèque Louise-Michel", "Médiathèque du Lavoir"]
        .into_iter()
        .map(|title| proposal(&a, title, None))
        .collect();
    post(&towns[0].addr(), &a);
    for p in &proposals {
        post(&towns[0].addr(), p);
    }
    // Beside A, one consultation of each other method, in the mode core opens it in, with
    // the same trustees and windows: their ceremony, close, mix and opening share A's waits.
    let others: Vec<Other> = other_methods()
        .into_iter()
        .map(|(title, method, split, costs)| {
            let event = secret(title, method.clone(), split, trustees.clone(), 3);
            let proposals: Vec<SignedEvent> = costs
                .iter()
                .enumerate()
                .map(|(i, cost)| proposal(&event, &format!("Projet {i}"), *cost))
                .collect();
            post(&towns[0].addr(), &event);
            for p in &proposals {
                post(&towns[0].addr(), p);
            }
            Other {
                event,
                method,
                proposals,
            }
        })
        .collect();
    let voted: Vec<EventId> = std::iter::once(a.id())
        .chain(others.iter().map(|o| o.event.id()))
        .collect();
    wait_until("every trustee's deal to reach every node", 120, || {
        towns.iter().all(|t| {
            voted.iter().all(|c| {
                keys.iter()
                    .all(|k| about(&t.addr(), k, "dkg_deal", c).len() == 1)
            })
        })
    });

    // The last town goes down; two more consultations name it as a trustee.
    let gone = 4;
    towns[gone].stop();
    let b = consultation("Le marché du dimanche", trustees.clone(), 3);
    let mut pair = vec![keys[0], keys[gone]];
    pair.sort();
    let c = consultation("Les horaires de la piscine", pair, 2);
    post(&towns[0].addr(), &b);
    post(&towns[0].addr(), &c);
    let running = [0, 1, 2, 3];
    wait_until("the four living trustees' deals of B and C", 120, || {
        running.iter().all(|&i| {
            let addr = towns[i].addr();
            running
                .iter()
                .all(|&d| about(&addr, &keys[d], "dkg_deal", &b.id()).len() == 1)
                && about(&addr, &keys[0], "dkg_deal", &c.id()).len() == 1
        })
    });

    // Past the complaint hour: every node restarted later in time, the same for all.
    for t in towns.iter_mut() {
        t.stop();
    }
    let offset = (keys_close + 3_600_000 + 5_000 - now_ms()) as i64;
    for &i in &running {
        towns[i].start(offset);
    }
    let election_key = |addr: &str, c: &EventId| -> Option<Value> {
        about(addr, &keys[0], "election_key", c).into_iter().next()
    };
    wait_until(
        "the election keys of A, B and the others on every node",
        120,
        || {
            running.iter().all(|&i| {
                voted
                    .iter()
                    .chain([b.id()].iter())
                    .all(|x| election_key(&towns[i].addr(), x).is_some())
            })
        },
    );
    // C's layout comes in the same pass as its (impossible) election key.
    wait_until("the layouts of A, B, C and the others", 60, || {
        voted
            .iter()
            .chain([b.id(), c.id()].iter())
            .all(|x| !about(&towns[0].addr(), &keys[0], "ballot_layout", x).is_empty())
    });
    let addr0 = towns[0].addr();
    assert!(
        election_key(&addr0, &c.id()).is_none(),
        "setup failed: one trustee of two cannot reach t = 2, and nothing downgrades"
    );
    let key_a = election_key(&addr0, &a.id()).expect("A's key");
    let key_b = election_key(&addr0, &b.id()).expect("B's key");
    let qual = |v: &Value| -> Vec<PublicKey> {
        serde_json::from_value(v["body"]["qual"].clone()).expect("qual")
    };
    assert_eq!(qual(&key_a), trustees, "every trustee dealt for A");
    let mut four = trustees.clone();
    four.retain(|k| *k != keys[gone]);
    assert_eq!(qual(&key_b), four, "QUAL = n − 1 for B");
    for &i in &running {
        assert_eq!(election_key(&towns[i].addr(), &a.id()), Some(key_a.clone()));
        assert_eq!(election_key(&towns[i].addr(), &b.id()), Some(key_b.clone()));
    }
    let layout = &about(&addr0, &keys[0], "ballot_layout", &a.id())[0];
    let mut columns: Vec<String> = proposals.iter().map(|p| p.id().to_string()).collect();
    columns.sort();
    assert_eq!(layout["body"]["columns"], json!(columns));
    assert_eq!(layout["body"]["groups"], json!([[0], [1]]));

    // The trustee that was down comes back: it never deals late, and it still gets its
    // share of both keys from QUAL's deals.
    towns[gone].start(offset);
    let y = |v: &Value| group::point_from_hex(v["body"]["key"].as_str().expect("Y")).expect("Y");
    let (y_a, y_b) = (y(&key_a), y(&key_b));
    wait_until(
        "every trustee to keep its shares of A, B and the others",
        60,
        || {
            towns
                .iter()
                .all(|t| t.share(&b.id()).is_some() && voted.iter().all(|x| t.share(x).is_some()))
        },
    );
    assert!(about(&towns[gone].addr(), &keys[gone], "dkg_deal", &b.id()).is_empty());
    let shares = |c: &EventId| -> BTreeMap<u64, Scalar> {
        towns
            .iter()
            .map(|t| (index(&t.pk()), t.share(c).expect("share")))
            .collect()
    };
    let (sa, sb) = (shares(&a.id()), shares(&b.id()));
    // Any three of five reconstruct; two do not.
    for subset in [[1, 2, 3], [1, 4, 5], [2, 3, 5], [3, 4, 5]] {
        let pick = |s: &BTreeMap<u64, Scalar>| -> Vec<(u64, Scalar)> {
            subset.iter().map(|j| (*j, s[j])).collect()
        };
        assert!(reconstructs(&pick(&sa), &y_a), "{subset:?} of A");
        assert!(reconstructs(&pick(&sb), &y_b), "{subset:?} of B");
    }
    let two: Vec<(u64, Scalar)> = [1, 2].iter().map(|j| (*j, sa[j])).collect();
    assert!(!reconstructs(&two, &y_a));

    // The trust level, machine-readable, and the town hall's view of the ceremony.
    let trust = |c: &EventId| consultation_detail(&addr0, c)["consultation"]["trust"].clone();
    let t = trust(&a.id());
    assert_eq!(t["ballots"], json!("secret"), "{t}");
    assert_eq!(t["threshold"], json!(3));
    assert_eq!(t["setup"], json!("ready"));
    assert_eq!(t["election_key"], key_a["body"]["key"]);
    assert_eq!(t["town_can_know"], json!(["that_you_voted"]));
    assert_eq!(t["town_cannot_know"], json!(["how_you_voted"]));
    assert_eq!(t["ranking"], json!("supports_at_least_threshold"));
    assert_eq!(trust(&c.id())["setup"], json!("failed"));
    let mut admin = super::staff::first_admin(towns[0].node.as_ref().expect("running"));
    let page = admin.get(&format!("/staff/consultations/{}/ceremony", a.id()));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains(key_a["body"]["key"].as_str().expect("Y"))
    );
    for k in &trustees {
        assert!(page.body.contains(&k.to_string()), "{k} in {}", page.body);
    }
    let failed = admin.get(&format!("/staff/consultations/{}/ceremony", c.id()));
    assert!(
        failed.body.contains("échec de la préparation"),
        "{}",
        failed.body
    );
    // The form offers as trustees this town and the federated towns that declared a key.
    let csrf = admin.csrf();
    let created = admin.post("/staff/consultations", &[("csrf", &csrf)]);
    let draft = created.header("location").expect("to the draft").to_owned();
    let form = admin.get(&draft);
    for k in &keys {
        assert!(
            form.body
                .contains(&format!("name=\"trustee\" value=\"{k}\"")),
            "{k} offered"
        );
    }
    assert!(
        form.body
            .contains("au moins deux communes de plus que le seuil")
    );

    // A backup carries the shares.
    let backup = tmp.path().join("town1.palabre");
    ok(palabre(&[
        "backup",
        "--data",
        path(&towns[1].data),
        "--out",
        path(&backup),
    ]));
    let restored = tmp.path().join("restored");
    ok(palabre(&[
        "restore",
        "--from",
        path(&backup),
        "--data",
        path(&restored),
    ]));
    for file in ["trustee.key", "trustee-shares.json"] {
        assert_eq!(
            std::fs::read(restored.join(file)).expect("restored"),
            std::fs::read(towns[1].data.join(file)).expect("original"),
            "{file}"
        );
    }

    // A's vote: one sealed ballot from each of three towns.
    let restart_all = |towns: &mut Vec<Town>, at_ms: u64| -> i64 {
        for t in towns.iter_mut() {
            t.stop();
        }
        let offset = at_ms as i64 - now_ms() as i64;
        for t in towns.iter_mut() {
            t.start(offset);
        }
        offset
    };
    let vote_offset = restart_all(&mut towns, vote_open + 5_000);
    let voters: Vec<SecretKey> = (0..towns.len())
        .map(|town| {
            let voter = SecretKey::from_seed(&[60 + town as u8; 32]);
            let code = towns[town].node.as_ref().expect("running").codes[0].clone();
            assert!(redeem(&towns[town].addr(), &code, &voter));
            voter
        })
        .collect();
    let cast = |c: &EventId, town: usize, choice: &Choice, seed: u8| {
        let s = Sealing::of(&towns[0].addr(), &keys[0], c);
        let at = (now_ms() as i64 + vote_offset) as u64;
        let sealed = s.seal(&voters[town].public_key(), choice, seed);
        post(
            &towns[town].addr(),
            &sealed_ballot(&voters[town], at, c, &sealed, None),
        );
    };
    let s = Sealing::of(&towns[0].addr(), &keys[0], &a.id());
    for (town, cols) in [(0usize, vec![0usize]), (1, vec![0, 1]), (2, vec![1])] {
        cast(&a.id(), town, &s.approve(&cols), 70 + town as u8);
    }
    // Two or three ballots of each other method, from residents of different towns.
    let cast_in: Vec<Vec<Choice>> = others
        .iter()
        .enumerate()
        .map(|(k, o)| {
            let ids: Vec<EventId> = o.proposals.iter().map(SignedEvent::id).collect();
            ballots_for(&o.method, &ids)
                .into_iter()
                .map(|(town, choice)| {
                    cast(&o.event.id(), town, &choice, 80 + 10 * k as u8 + town as u8);
                    choice
                })
                .collect()
        })
        .collect();

    // The close, with every town up until each closing head has its quorum; then three
    // of the five trustees (t = 3) go down: the organiser's node, which holds its own
    // share, and one other trustee cannot open the ballots, whatever they mixed.
    let close_offset = restart_all(&mut towns, vote_open + 600_000 + 5_000);
    wait_until(
        "every closing head of A and the others, with its quorum, on every node",
        120,
        || {
            towns.iter().all(|t| {
                voted.iter().all(|c| {
                    keys.iter().all(|k| {
                        closed_with_quorum(&t.addr(), k, c, &trustees, vote_open + 600_000)
                    })
                })
            })
        },
    );
    let away = [1usize, 3, 4];
    for &i in &away {
        towns[i].stop();
    }
    // Past the mixing deadline, the two left do everything they can, and no more.
    let late_offset = close_offset + 5 * 240_000 + 60_000;
    towns[0].stop();
    towns[2].stop();
    towns[0].start(late_offset);
    towns[2].start(late_offset);
    let tally_of = |addr: &str, c: &EventId| -> Value {
        http(
            addr,
            "GET",
            &format!("/api/v1/consultations/{c}/tally"),
            b"",
        )
        .expect("tally")
        .1
    };
    let opening = |addr: &str| -> Value { tally_of(addr, &a.id()) };
    let alive = [keys[0], keys[2]];
    wait_until("the two trustees left to mix", 60, || {
        voted.iter().all(|c| {
            let v = tally_of(&towns[0].addr(), c);
            let mixed: Vec<PublicKey> =
                serde_json::from_value(v["opening"]["mixed"].clone()).unwrap_or_default();
            alive.iter().all(|k| mixed.contains(k))
        })
    });
    std::thread::sleep(Duration::from_secs(8));
    for i in [0, 2] {
        for c in &voted {
            let v = tally_of(&towns[i].addr(), c);
            assert!(v.get("result").is_none(), "sealed with 2 of 5: {v}");
            assert!(v["opening"]["missing"].as_u64() >= Some(1), "{v}");
        }
    }
    for c in &voted {
        assert!(about(&towns[0].addr(), &keys[0], "result", c).is_empty());
    }
    assert!(
        towns[0].share(&a.id()).is_some(),
        "the organiser holds its share"
    );
    let page = get_raw(&towns[0].addr(), &format!("/c/{}/results", a.id()));
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.contains("Pas encore mélangé") || page.contains("En attente de"),
        "{page}"
    );
    assert!(!page.contains("<svg"), "{page}");

    // Town 1 lost its disk: its keys and shares come back from the backup, its log from
    // the neighbours (OPERATIONS.md, "Restore"); it takes its part and the result appears.
    std::fs::remove_dir_all(&towns[1].data).expect("wipe");
    std::fs::create_dir_all(&towns[1].data).expect("dir");
    std::fs::set_permissions(
        &towns[1].data,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
    for file in [
        "authority.key",
        "trustee.key",
        "trustee-shares.json",
        "palabre.toml",
        "peers.toml",
    ] {
        std::fs::copy(restored.join(file), towns[1].data.join(file)).expect("copied");
    }
    let recovered = std::process::Command::new(env!("CARGO_BIN_EXE_palabre"))
        .args(["recover", "--data", path(&towns[1].data), "--from"])
        .arg(&towns[0].p2p)
        .args(["--timeout", "60"])
        .env("PALABRE_CLOCK_OFFSET_MS", late_offset.to_string())
        .output()
        .expect("palabre recover runs");
    ok(recovered);
    towns[1].start(late_offset);
    wait_until(
        "the results of A and the others, once the restored trustee took its part",
        120,
        || {
            [0, 2].iter().all(|&i| {
                voted
                    .iter()
                    .all(|c| tally_of(&towns[i].addr(), c).get("result").is_some())
            })
        },
    );
    let v = opening(&towns[2].addr());
    assert_eq!(v["tally"]["n_ballots"], json!(3), "{v}");
    // B closed without a ballot: nothing is mixed or opened (and nothing fails).
    for k in &keys {
        for kind in ["mix", "mix_proof", "seal_final", "decryption"] {
            assert!(
                about(&towns[0].addr(), k, kind, &b.id()).is_empty(),
                "{kind} of B"
            );
        }
    }
    let audit = |c: &EventId, v: &Value| {
        let (status, out) = run_palabre(&[
            "audit",
            "--consultation",
            &c.to_string(),
            "--node",
            &format!("http://{}", towns[2].addr()),
            "--json",
        ]);
        let report: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}"));
        assert_eq!(report["failures"], json!([]), "{out}");
        assert_eq!(report["tally"], v["tally"], "{out}");
        assert_eq!(status, Some(0), "{out}");
    };
    audit(&a.id(), &v);
    // Every other method opens, on both nodes, to the tally of the ballots cast, with the
    // figures worked out by hand, and passes the audit.
    for (o, choices) in others.iter().zip(&cast_in) {
        let candidates: Vec<Candidate> = o
            .proposals
            .iter()
            .map(|p| Candidate {
                id: p.id(),
                cost: match p.body() {
                    Body::Proposal(b) => b.cost,
                    _ => None,
                },
            })
            .collect();
        let expected = tally::tally(&o.method, &candidates, choices);
        let v = tally_of(&towns[2].addr(), &o.event.id());
        for i in [0, 2] {
            let got = tally_of(&towns[i].addr(), &o.event.id());
            assert_eq!(got["tally"], json!(expected), "{:?} on town {i}", o.method);
        }
        let ids: Vec<EventId> = o.proposals.iter().map(SignedEvent::id).collect();
        by_hand(
            &serde_json::from_value(v["tally"].clone()).expect("a tally"),
            &ids,
        );
        audit(&o.event.id(), &v);
    }
    for t in towns.iter_mut() {
        t.stop();
    }
}

/// A secret consultation of another method than A's, published beside it.
struct Other {
    event: SignedEvent,
    method: Method,
    /// Its three proposals, in the order [`ballots_for`] names them.
    proposals: Vec<SignedEvent>,
}

/// The methods A (support) leaves out, each in the mode core's opening tests give it
/// (split where the method allows it, rows for budgets), with the costs of three
/// proposals.
fn other_methods() -> Vec<(&'static str, Method, bool, [Option<u64>; 3])> {
    let budget = |rule| Method::Budget { budget: 600, rule };
    let grades = ["Rejeter", "Passable", "Bien"].map(String::from).to_vec();
    let costs = [Some(400), Some(200), Some(200)];
    vec![
        (
            "Le square de la gare",
            Method::YesNoAbstain {},
            true,
            [None; 3],
        ),
        (
            "Le nom du pont",
            Method::MajorityJudgment { grades },
            true,
            [None; 3],
        ),
        (
            "Le budget des quartiers",
            budget(BudgetRule::Greedy),
            false,
            costs,
        ),
        (
            "Le budget des écoles",
            budget(BudgetRule::EqualShares),
            false,
            costs,
        ),
    ]
}

/// The ballots of a consultation of `method` over proposals `p`: (voter's town, choice),
/// three towns each.
fn ballots_for(method: &Method, p: &[EventId]) -> Vec<(usize, Choice)> {
    let approve = |ix: &[usize]| {
        let mut ids: Vec<EventId> = ix.iter().map(|&i| p[i]).collect();
        ids.sort();
        Choice::Approve(ids)
    };
    let answers =
        |a: &[(usize, Answer)]| Choice::Answers(a.iter().map(|(i, x)| (p[*i], *x)).collect());
    let grades = |g: &[(usize, u32)]| Choice::Grades(g.iter().map(|(i, x)| (p[*i], *x)).collect());
    match method {
        Method::YesNoAbstain {} => vec![
            (
                2,
                answers(&[(0, Answer::Yes), (1, Answer::No), (2, Answer::Yes)]),
            ),
            (3, answers(&[(0, Answer::Yes), (1, Answer::Abstain)])),
            (4, answers(&[(0, Answer::No), (2, Answer::Yes)])),
        ],
        Method::MajorityJudgment { .. } => vec![
            (0, grades(&[(0, 2), (1, 0), (2, 1)])),
            (3, grades(&[(0, 1), (1, 2)])),
            (4, grades(&[(0, 2), (2, 1)])),
        ],
        _ => vec![
            (1, approve(&[0, 2])),
            (3, approve(&[0, 2])),
            (4, approve(&[1])),
        ],
    }
}

/// The figures of [`ballots_for`]'s ballots, worked out by hand. Budgets (600; costs 400,
/// 200, 200; two voters approve 0 and 2, one approves 1): greedy takes 2 then 0 by
/// approvals and cost, and spends all; equal shares gives each voter 200, pays 2 with
/// 100 from each of the two, then 1 with the third voter's 200, and 0 no longer fits.
fn by_hand(t: &Tally, p: &[EventId]) {
    match t {
        Tally::YesNoAbstain {
            n_ballots, rows, ..
        } => {
            assert_eq!(*n_ballots, 3);
            let row = |i: usize| rows.iter().find(|r| r.proposal == p[i]).expect("a row");
            let figures = |i| (row(i).yes, row(i).no, row(i).abstain, row(i).adopted);
            assert_eq!(figures(0), (2, 1, 0, true));
            assert_eq!(figures(1), (0, 1, 1, false));
            assert_eq!(figures(2), (2, 0, 0, true));
        }
        Tally::MajorityJudgment {
            n_ballots,
            rows,
            ranking,
            ..
        } => {
            assert_eq!(*n_ballots, 3);
            let median = |i: usize| {
                let row = rows.iter().find(|r| r.proposal == p[i]).expect("a row");
                row.median_grade
            };
            assert_eq!((median(0), median(1), median(2)), (2, 0, 1));
            assert_eq!(ranking, &vec![p[0], p[2], p[1]]);
        }
        Tally::Budget {
            n_ballots,
            rule,
            spent,
            winners,
            ..
        } => {
            assert_eq!(*n_ballots, 3);
            match rule {
                BudgetRule::Greedy => assert_eq!((winners, *spent), (&vec![p[2], p[0]], 600)),
                BudgetRule::EqualShares => {
                    assert_eq!((winners, *spent), (&vec![p[2], p[1]], 400))
                }
            }
        }
        other => panic!("not a method of the others: {other:?}"),
    }
}

/// A form date (`YYYY-MM-DDTHH:MM`, UTC) for `ms`.
fn form_time(ms: u64) -> String {
    let w = palabre_web::site::when(ms);
    format!("{}T{}", &w[..10], &w[11..16])
}

/// What a client needs to seal a ballot of a secret consultation, from what a node serves.
struct Sealing {
    view: ConsultationView,
    key: ElectionKeyBody,
    layout_id: EventId,
    layout: BallotLayoutBody,
}

impl Sealing {
    fn of(addr: &str, organiser: &PublicKey, c: &EventId) -> Sealing {
        let detail = consultation_detail(addr, c);
        let body: ConsultationBody =
            serde_json::from_value(detail["consultation"]["event"]["body"].clone()).expect("body");
        let key = about(addr, organiser, "election_key", c).remove(0);
        let layout = about(addr, organiser, "ballot_layout", c).remove(0);
        Sealing {
            view: ConsultationView {
                id: *c,
                organiser: *organiser,
                body,
            },
            key: serde_json::from_value(key["body"].clone()).expect("election key"),
            layout_id: EventId::of_signed_bytes(&serde_json::to_vec(&layout).expect("json")),
            layout: serde_json::from_value(layout["body"].clone()).expect("layout"),
        }
    }

    /// The approval of the layout's columns `cols`.
    fn approve(&self, cols: &[usize]) -> Choice {
        Choice::Approve(cols.iter().map(|&i| self.layout.columns[i]).collect())
    }

    /// `voter`'s sealed `choice`, of any method.
    fn seal(&self, voter: &PublicKey, choice: &Choice, seed: u8) -> SealedChoice {
        build::seal(
            &self.view,
            &self.key,
            &self.layout_id,
            &self.layout,
            voter,
            choice,
            &[seed; 32],
        )
        .expect("a valid choice")
    }
}

fn sealed_ballot(
    voter: &SecretKey,
    at_ms: u64,
    c: &EventId,
    sealed: &SealedChoice,
    assistance: Option<Assistance>,
) -> SignedEvent {
    sign(
        voter,
        at_ms,
        Body::SealedBallot(SealedBallotBody {
            consultation: *c,
            sealed: sealed.sealed.clone(),
            assistance,
        }),
    )
}

/// The refusal code of posting `e` (it must be refused).
fn refused(addr: &str, e: &SignedEvent) -> String {
    let (status, v) = http(addr, "POST", "/api/v1/events", e.bytes()).expect("an answer");
    assert!((400..500).contains(&status), "{status} {v}");
    v["error"]["code"].as_str().expect("a code").to_owned()
}

/// `check`s `palabre audit` of consultation `c` from each node of `urls`, from all of
/// them together, and from a bundle exported (to `bundle`) from the last of them.
fn audit_everywhere(c: &str, urls: &[String], bundle: &Path, check: &dyn Fn(&[&str])) {
    for url in urls {
        check(&["audit", "--consultation", c, "--node", url, "--json"]);
    }
    let mut all = vec!["audit", "--consultation", c, "--json"];
    for url in urls {
        all.extend(["--node", url.as_str()]);
    }
    check(&all);
    let last = urls.last().expect("a node");
    let (status, out) = run_palabre(&[
        "export",
        "--consultation",
        c,
        "--node",
        last,
        "--bundle",
        path(bundle),
    ]);
    assert_eq!(status, Some(0), "{out}");
    check(&["audit", "--bundle", path(bundle), "--json"]);
}

/// `palabre audit` (or `export`) with `args`: its exit status and what it printed.
fn run_palabre(args: &[&str]) -> (Option<i32>, String) {
    let out = palabre(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Where `needle` occurs in `hay`, if it does.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Every regular file under `dir`, recursively (the control socket is not one).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)
        .expect("a readable directory")
        .flatten()
    {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => out.extend(files(&p)),
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
    out
}

/// What would give a ballot's content away before any opening (the sentinels): each
/// plaintext point and each ciphertext's randomness (raw, and as the hex the protocol
/// writes), of every ballot cast and of the encryption a voter checked instead of
/// casting it; and, within one line of a log, a voter's key beside a proposal's id.
struct Sentinels {
    needles: Vec<(String, Vec<u8>)>,
    voters: Vec<String>,
    proposals: Vec<String>,
}

impl Sentinels {
    fn add(&mut self, what: &str, s: &SealedChoice) {
        for (k, p) in s.plaintexts.iter().enumerate() {
            self.needles.push((
                format!("{what}: plaintext {k}"),
                p.compress().to_bytes().to_vec(),
            ));
        }
        for (k, r) in s.randomness.iter().enumerate() {
            self.needles
                .push((format!("{what}: randomness {k}"), r.to_bytes().to_vec()));
        }
    }

    /// What in `bytes` (from `source`) gives a choice away.
    fn leaks(&self, source: &str, bytes: &[u8], lines: bool) -> Vec<String> {
        let mut out = Vec::new();
        for (what, raw) in &self.needles {
            if find(bytes, raw).is_some() || find(bytes, hex::encode(raw).as_bytes()).is_some() {
                out.push(format!("{source} holds the {what}"));
            }
        }
        if lines {
            for line in String::from_utf8_lossy(bytes).lines() {
                if self.voters.iter().any(|v| line.contains(v.as_str()))
                    && self.proposals.iter().any(|p| line.contains(p.as_str()))
                {
                    out.push(format!("{source}: a voter's key beside a proposal: {line}"));
                }
            }
        }
        out
    }
}

/// Five towns, all trustees (t = 3), vote in secret on a consultation published with the
/// staff form: one trustee is down for the whole key window, so QUAL is the four others
/// and the vote goes on with it back. Residents of every town cast sealed ballots over
/// the API as a client would (a revote; a key replaced at a desk through the staff pages;
/// an assisted ballot countersigned by a desk agent; a ciphertext copied under another
/// key, refused `bad_pok`; a public ballot, refused `sealed_required`). After the close,
/// `palabre audit` from every node, from all five together and from an exported bundle
/// checks the ceremony, the layout and every sealed ballot and finds no fault (exit 3:
/// the ballots are sealed, so the result is not final). Before any opening no node's
/// store files, API answers, `/metrics` or log lines hold a sentinel of any choice.
///
/// Then the opening, by the nodes themselves, with a second trustee of the five away
/// from the close (it went down once its log closed, before its turn to mix): the
/// trustees before it mix at once, those after it once its `mix_timeout` has passed;
/// the organiser seals the three mixes, the three who mixed send their decryption
/// shares, and the organiser's result appears on every node, its page and its tally
/// answer; `palabre audit` from every node, all together and a bundle then passes with
/// exit 0 and recounts the same tally.
#[test]
fn five_towns_vote_in_secret_and_every_node_and_a_bundle_audit_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut towns = towns_logged(tmp.path(), 5, true);
    let keys: Vec<PublicKey> = towns.iter().map(Town::pk).collect();
    let mut trustees = keys.clone();
    trustees.sort();
    wait_until("every node to hold every town's declaration", 90, || {
        towns
            .iter()
            .all(|t| keys.iter().all(|k| log_size(&t.addr(), k) >= 1))
    });
    let mut admin = super::staff::first_admin(towns[0].node.as_ref().expect("running"));
    let mut admin1 = super::staff::first_admin(towns[1].node.as_ref().expect("running"));
    super::staff::appoint(&mut admin1, "Accueil mairie", "accueil", "desk");

    // Town 4 goes down before the consultation exists: away for the whole key window.
    let gone = 4;
    towns[gone].stop();

    // The organiser's administrator publishes the secret vote with the staff form.
    let minute = 60_000;
    let m0 = now_ms() / minute * minute;
    let keys_close = m0 + 6 * minute;
    let vote_open = keys_close + 3_600_000 + 10 * minute;
    let vote_close = vote_open + 60 * minute;
    let times = [
        form_time(m0 - 2 * minute),
        form_time(keys_close),
        form_time(vote_open),
        form_time(vote_close),
        form_time(keys_close),
    ];
    let csrf = admin.csrf();
    let created = admin.post("/staff/consultations", &[("csrf", &csrf)]);
    let draft = created.header("location").expect("to the draft").to_owned();
    let hexes: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("title", "Le nom de la place du marché"),
        ("description", "Trois noms proposés ; deux choix au plus."),
        ("method", "approval"),
        ("max_choices", "2"),
        ("proposals_open", &times[0]),
        ("proposals_close", &times[1]),
        ("vote_open", &times[2]),
        ("vote_close", &times[3]),
        ("ballots", "secret"),
        ("trustee_threshold", "3"),
        ("keys_close", &times[4]),
    ];
    form.extend(hexes[1..].iter().map(|k| ("partner", k.as_str())));
    form.extend(hexes.iter().map(|k| ("trustee", k.as_str())));
    let saved = admin.post(&draft, &form);
    assert_eq!(saved.status, 200, "{}", saved.body);
    let published = admin.post(&format!("{draft}/publish"), &[("csrf", &csrf)]);
    assert_eq!(published.status, 303, "{}", published.body);
    let cid: EventId = published
        .header("location")
        .expect("to the consultation")
        .trim_start_matches("/c/")
        .parse()
        .expect("id");
    let t = consultation_detail(&towns[0].addr(), &cid)["consultation"]["trust"].clone();
    assert_eq!(t["ballots"], json!("secret"), "{t}");
    assert_eq!(t["trustees"], json!(trustees));
    assert_eq!(t["threshold"], json!(3));

    // Three proposals, in two towns' logs.
    wait_until("the consultation to reach the living towns", 60, || {
        towns[..gone].iter().all(|t| {
            matches!(
                http(
                    &t.addr(),
                    "GET",
                    &format!("/api/v1/consultations/{cid}"),
                    b""
                ),
                Some((200, _))
            )
        })
    });
    let proposal = |town: &Town, title: &str| {
        let p = sign(
            &town.key,
            now_ms(),
            Body::Proposal(ProposalBody {
                consultation: cid,
                title: title.into(),
                body: "Un nom pour la place.".into(),
                cost: None,
            }),
        );
        post(&town.addr(), &p);
        p.id()
    };
    let mut columns = vec![
        proposal(&towns[0], "Place Olympe-de-Gouges"),
        proposal(&towns[0], "Place du Tilleul"),
        proposal(&towns[1], "Place des Lavandières"),
    ];
    columns.sort();
    let running = [0, 1, 2, 3];
    wait_until("the four living trustees' deals, everywhere", 180, || {
        running.iter().all(|&i| {
            running
                .iter()
                .all(|&d| about(&towns[i].addr(), &keys[d], "dkg_deal", &cid).len() == 1)
        }) && about(&towns[0].addr(), &keys[1], "proposal", &cid).len() == 1
    });

    // Past the complaint hour: the organiser publishes the key and the layout.
    let restart = |towns: &mut Vec<Town>, at_ms: u64| -> i64 {
        for t in towns.iter_mut() {
            t.stop();
        }
        let offset = at_ms as i64 - now_ms() as i64;
        for t in towns.iter_mut() {
            t.start(offset);
        }
        offset
    };
    restart(&mut towns, keys_close + 3_600_000 + 5_000);
    wait_until("the election key and the layout on every node", 120, || {
        towns.iter().all(|t| {
            !about(&t.addr(), &keys[0], "election_key", &cid).is_empty()
                && !about(&t.addr(), &keys[0], "ballot_layout", &cid).is_empty()
        })
    });
    let s = Sealing::of(&towns[0].addr(), &keys[0], &cid);
    let mut four = trustees.clone();
    four.retain(|k| *k != keys[gone]);
    assert_eq!(s.key.qual, four, "QUAL = the four that dealt");
    assert_eq!(s.layout.columns, columns, "every proposal is a column");
    assert!(about(&towns[gone].addr(), &keys[gone], "dkg_deal", &cid).is_empty());
    wait_until("the trustee that was down to keep its share", 60, || {
        towns[gone].share(&cid).is_some()
    });

    // The vote.
    let offset = restart(&mut towns, vote_open + 5_000);
    let at = || (now_ms() as i64 + offset) as u64;
    let mut sentinels = Sentinels {
        needles: Vec::new(),
        voters: Vec::new(),
        proposals: columns.iter().map(|p| p.to_string()).collect(),
    };
    let voter = |towns: &[Town], sentinels: &mut Sentinels, town: usize, n: usize| {
        let key = SecretKey::from_seed(&[150 + 10 * town as u8 + n as u8; 32]);
        let code = towns[town].node.as_ref().expect("running").codes[n].clone();
        assert!(redeem(&towns[town].addr(), &code, &key));
        sentinels.voters.push(key.public_key().to_string());
        key
    };
    let cast =
        |town: &Town, sentinels: &mut Sentinels, key: &SecretKey, cols: &[usize], seed: u8| {
            let sealed = s.seal(&key.public_key(), &s.approve(cols), seed);
            post(&town.addr(), &sealed_ballot(key, at(), &cid, &sealed, None));
            sentinels.add(&format!("ballot sealed with seed {seed}"), &sealed);
            sealed
        };
    // Town 0: a vote, then a change of mind (the latest counts).
    let r0 = voter(&towns, &mut sentinels, 0, 0);
    cast(&towns[0], &mut sentinels, &r0, &[0], 1);
    cast(&towns[0], &mut sentinels, &r0, &[1], 2);
    // Town 1: a vote, then a lost card replaced at the desk; the new key votes.
    let r1 = voter(&towns, &mut sentinels, 1, 0);
    cast(&towns[1], &mut sentinels, &r1, &[1], 3);
    let mut desk = super::staff::Web::new(&towns[1].addr());
    desk.login("accueil", super::staff::PASSWORD);
    let csrf = desk.csrf();
    let card = desk.post(
        "/staff/desk/replace",
        &[("csrf", &csrf), ("old", &r1.public_key().to_string())],
    );
    assert_eq!(card.status, 200, "{}", card.body);
    let secret = {
        let at = card.body.find("id=\"secret\">").expect("the new card") + 12;
        card.body[at..at + card.body[at..].find('<').expect("end")].to_owned()
    };
    let r1b = {
        let hex_text: String = secret.chars().filter(char::is_ascii_hexdigit).collect();
        let seed: [u8; 32] = hex::decode(hex_text)
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        SecretKey::from_seed(&seed)
    };
    sentinels.voters.push(r1b.public_key().to_string());
    cast(&towns[1], &mut sentinels, &r1b, &[0], 4);
    // Town 2: the sentinel voter checks an encryption of its choice on another town's
    // node (Benaloh), then casts a fresh one.
    let r2 = voter(&towns, &mut sentinels, 2, 0);
    let checked = s.seal(&r2.public_key(), &s.approve(&[0, 2]), 5);
    sentinels.add("checked encryption", &checked);
    let opening = json!({
        "consultation": cid,
        "author": r2.public_key(),
        "election_key": s.key.key,
        "mode": "row",
        "columns": 3,
        "choice": [0, 2],
        "sealed": checked.sealed,
        "randomness": [checked.randomness.iter().map(group::scalar_hex).collect::<Vec<_>>()],
    })
    .to_string();
    let verdict = super::staff::Web::new(&towns[3].addr())
        .post("/verify/encryption", &[("opening", &opening)]);
    assert_eq!(verdict.status, 200);
    assert!(
        verdict
            .body
            .contains("Ce chiffrement contient exactement ce choix"),
        "{}",
        verdict.body
    );
    cast(&towns[2], &mut sentinels, &r2, &[0, 2], 6);
    // Town 3: an assisted ballot, countersigned by a desk agent the town appointed.
    let agent = SecretKey::from_seed(&[77; 32]);
    post(
        &towns[3].addr(),
        &sign(
            &towns[3].key,
            at(),
            Body::Staff(StaffBody {
                subject: agent.public_key(),
                name: "Accueil de la mairie".into(),
                role: StaffRole::Desk,
                active: true,
            }),
        ),
    );
    let r3 = voter(&towns, &mut sentinels, 3, 0);
    let sealed = s.seal(&r3.public_key(), &s.approve(&[2]), 7);
    sentinels.add("assisted ballot", &sealed);
    let when = at();
    let help = Assistance::sign_sealed(&agent, &r3.public_key(), when, &cid, &sealed.sealed)
        .expect("countersigned");
    post(
        &towns[3].addr(),
        &sealed_ballot(&r3, when, &cid, &sealed, Some(help)),
    );
    // Town 4, back: a vote; a copy of it under another key and a public ballot are refused.
    let r4 = voter(&towns, &mut sentinels, 4, 0);
    let copied = cast(&towns[4], &mut sentinels, &r4, &[1], 8);
    let r4b = voter(&towns, &mut sentinels, 4, 1);
    assert_eq!(
        refused(
            &towns[4].addr(),
            &sealed_ballot(&r4b, at(), &cid, &copied, None)
        ),
        "bad_pok"
    );
    let public = sign(
        &r4b,
        at(),
        Body::Ballot(BallotBody {
            consultation: cid,
            choice: Choice::Approve(vec![columns[0]]),
            assistance: None,
        }),
    );
    assert_eq!(refused(&towns[4].addr(), &public), "sealed_required");

    // A resident of each town votes from headless Chromium, on its own town's vote page
    // (sealed in the page by sealed.js); the first one changes its mind. The page signs
    // with the browser's clock: shifted as the nodes' are, before any script runs.
    let browser_ballots = browser_votes(&towns, &cid, offset);
    assert_eq!(browser_ballots, towns.len() + 1);

    // Every node counts ten voters, two per town, and shows nothing else.
    let tally = |addr: &str| {
        http(
            addr,
            "GET",
            &format!("/api/v1/consultations/{cid}/tally"),
            b"",
        )
        .expect("tally")
        .1
    };
    wait_until("every node to count the ten voters", 90, || {
        towns
            .iter()
            .all(|t| tally(&t.addr())["n_ballots_counted"] == json!(10))
    });
    for t in &towns {
        let v = tally(&t.addr());
        assert_eq!(v["sealed"], json!(true), "{v}");
        for k in &keys {
            assert_eq!(
                v["participation"]["per_town"][k.to_string()],
                json!(2),
                "{v}"
            );
        }
        assert!(v.get("tally").is_none(), "{v}");
    }

    // The close: every town closes its log; the witnesses cosign. The last trustee of
    // QUAL in mixing order that is not the organiser (`late`) goes down once its closing
    // checkpoint is on every node, before its turn to mix can come (it waits for the
    // mixes before it): the cascade waits for it for `mix_timeout` (4 min here), so the
    // consultation stays sealed, with the mixes before its turn recorded, through the
    // audits below.
    let close_offset = restart(&mut towns, vote_close + 5_000);
    let late_key = *four
        .iter()
        .rev()
        .find(|k| **k != keys[0])
        .expect("a trustee");
    let late = keys.iter().position(|k| *k == late_key).expect("a town");
    wait_until("the late trustee's checkpoint on every node", 60, || {
        towns
            .iter()
            .all(|t| !about(&t.addr(), &keys[late], "checkpoint", &cid).is_empty())
    });
    towns[late].stop();
    wait_until(
        "every closing head, with its quorum, on every node",
        120,
        || {
            towns.iter().filter(|t| t.node.is_some()).all(|t| {
                keys.iter()
                    .all(|k| closed_with_quorum(&t.addr(), k, &cid, &trustees, vote_close))
            })
        },
    );

    // The audit, from every node, from all five together, and from a bundle.
    let check = |args: &[&str]| {
        let (status, out) = run_palabre(args);
        let report: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}"));
        assert_eq!(report["failures"], json!([]), "{args:?}: {out}");
        assert_eq!(report["state"], json!("closed"), "{out}");
        assert_eq!(report["secret"], json!(true), "{out}");
        assert_eq!(report["n_ballots_seen"], json!(7 + 6), "{out}");
        assert_eq!(report["n_ballots_counted"], json!(10), "{out}");
        assert_eq!(report["tally"], json!(null), "{out}");
        assert!(report.get("notes").is_none(), "{out}");
        assert_eq!(status, Some(3), "sealed, so not final: {out}");
    };
    let c = cid.to_string();
    let urls: Vec<String> = towns
        .iter()
        .filter(|t| t.node.is_some())
        .map(|t| format!("http://{}", t.addr()))
        .collect();
    let bundle = tmp.path().join("secret.bundle.json");
    audit_everywhere(&c, &urls, &bundle, &check);
    let (status, human) = run_palabre(&["audit", "--bundle", path(&bundle)]);
    assert_eq!(status, Some(3));
    assert!(human.contains("SEALED: every check holds"), "{human}");
    assert!(human.contains("Secret ballots, also checked"), "{human}");

    // Secrecy, before any opening: API answers, /metrics, then (nodes stopped) every
    // file of every data directory and every log.
    // QUAL mixes in trustee order: those before the late trustee mix, those after it
    // wait for it.
    let before_late: Vec<&PublicKey> = four.iter().take_while(|k| **k != late_key).collect();
    wait_until("the mixes before the late trustee's", 60, || {
        before_late
            .iter()
            .all(|k| about(&towns[0].addr(), k, "mix_proof", &cid).len() == 1)
    });
    for k in four.iter().skip(before_late.len()) {
        assert!(about(&towns[0].addr(), k, "mix_proof", &cid).is_empty());
    }
    assert!(about(&towns[0].addr(), &late_key, "mix_proof", &cid).is_empty());
    let mut leaks = Vec::new();
    for t in towns.iter().filter(|t| t.node.is_some()) {
        let addr = t.addr();
        let mut answers = vec![
            "/api/v1/consultations".to_owned(),
            format!("/api/v1/consultations/{cid}"),
            format!("/api/v1/consultations/{cid}/tally"),
            format!("/api/v1/consultations/{cid}/bundle"),
            "/api/v1/evidence".to_owned(),
            format!("/c/{cid}"),
        ];
        for k in &keys {
            answers.push(format!(
                "/api/v1/logs/{k}/entries?start=0&end={}",
                log_size(&addr, k)
            ));
        }
        for path in &answers {
            let body = get_raw(&addr, path);
            leaks.extend(sentinels.leaks(&format!("{addr}{path}"), &body, false));
        }
        for k in &keys {
            for e in served_log(&addr, k).expect("log") {
                if e["kind"] == json!("ballot")
                    && e["body"]["consultation"] == json!(cid)
                    && e["body"].get("choice").is_some()
                {
                    leaks.push(format!("{addr} serves a ballot with a choice: {e}"));
                }
            }
        }
        let metrics = get_raw(&addr, "/metrics");
        leaks.extend(sentinels.leaks(&format!("{addr}/metrics"), &metrics, true));
        for p in &sentinels.proposals {
            if find(&metrics, p.as_bytes()).is_some() {
                leaks.push(format!("{addr}/metrics names proposal {p}"));
            }
        }
    }
    for t in towns.iter_mut() {
        t.stop();
    }
    let mut scanned = 0;
    for t in &towns {
        for f in files(&t.data) {
            let bytes = std::fs::read(&f).expect("readable");
            scanned += bytes.len();
            leaks.extend(sentinels.leaks(&f.display().to_string(), &bytes, false));
        }
        let log = t.log.as_ref().expect("logged");
        let bytes = std::fs::read(log).expect("the log");
        assert!(!bytes.is_empty());
        scanned += bytes.len();
        leaks.extend(sentinels.leaks(&log.display().to_string(), &bytes, true));
    }
    assert!(scanned > 0);
    eprintln!(
        "secrecy search: {} sentinels in {scanned} bytes of data directories and logs",
        sentinels.needles.len()
    );
    assert!(leaks.is_empty(), "{leaks:#?}");

    // The opening, with the late trustee still away (and town 4 never in QUAL): past the
    // mixing deadline (|QUAL| × mix_timeout after the quorum) the organiser seals the
    // three mixes, the three trustees who mixed send their shares, the result appears.
    for (i, t) in towns.iter_mut().enumerate() {
        if i != late {
            t.start(close_offset + 4 * 240_000 + 60_000);
        }
    }
    let running: Vec<usize> = (0..towns.len()).filter(|i| *i != late).collect();
    wait_until("the result on every running node", 180, || {
        running
            .iter()
            .all(|i| tally(&towns[*i].addr()).get("result").is_some())
    });
    let v = tally(&towns[0].addr());
    let opened = &v["tally"];
    assert_eq!(opened["type"], json!("approval"), "{v}");
    assert_eq!(opened["n_ballots"], json!(10), "{v}");
    assert_eq!(opened["n_invalid"], json!(0), "{v}");
    // The API voters approve each proposal twice (6 approvals in all); each of the six
    // browser ballots approves one (the first voter's revote replaces its first).
    let rows = opened["rows"].as_array().expect("rows");
    let approvals: Vec<u64> = rows
        .iter()
        .map(|r| r["approvals"].as_u64().expect("a count"))
        .collect();
    assert_eq!(approvals.iter().sum::<u64>(), 6 + 5, "{v}");
    assert!(approvals.iter().all(|a| *a >= 2), "{v}");
    assert_eq!(v["opening"]["phase"], json!("result"), "{v}");
    let mixers: Vec<PublicKey> =
        serde_json::from_value(v["opening"]["mixed"].clone()).expect("keys");
    assert_eq!(mixers.len(), 3, "{v}");
    assert!(!mixers.contains(&late_key));
    let decryptors =
        about(&towns[0].addr(), &keys[0], "result", &cid)[0]["body"]["sealed"]["decryptors"]
            .clone();
    let mut three = four.clone();
    three.retain(|k| *k != late_key);
    assert_eq!(decryptors, json!(three), "the three who mixed opened it");
    let page = get_raw(&towns[0].addr(), &format!("/c/{cid}/results"));
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains("ouverts par"), "{page}");
    assert!(page.contains("<svg"), "{page}");

    // The final audit, from every running node, all of them together, and a bundle.
    let urls: Vec<String> = running
        .iter()
        .map(|i| format!("http://{}", towns[*i].addr()))
        .collect();
    let final_check = |args: &[&str]| {
        let (status, out) = run_palabre(args);
        let report: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}"));
        assert_eq!(report["failures"], json!([]), "{args:?}: {out}");
        assert_eq!(report["state"], json!("closed"), "{out}");
        assert_eq!(report["tally"], *opened, "{out}");
        assert_eq!(status, Some(0), "final: {out}");
    };
    audit_everywhere(
        &c,
        &urls,
        &tmp.path().join("opened.bundle.json"),
        &final_check,
    );
    for t in towns.iter_mut() {
        t.stop();
    }
}

/// One resident per town registers in Chromium with one of its town's printed codes and
/// votes on `cid` from that town's page, the first one twice; the browser's clock is
/// shifted by `offset_ms`, as the nodes' are. Checks that every ballot the page signed
/// is in its town's log as signed, sealed and without a choice; returns how many.
fn browser_votes(towns: &[Town], cid: &EventId, offset_ms: i64) -> usize {
    use super::sealed::cdp;
    use super::secret_vote::{my_ballots, register};
    use super::site::{axe_source, browser, driver, vote};

    let axe = axe_source();
    let driver = driver();
    let dir = tempfile::tempdir().expect("profiles");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let id = cid.to_string();
    let mut n = 0;
    for (i, town) in towns.iter().enumerate() {
        let node = town.node.as_ref().expect("running");
        let base = format!("http://{}", node.addr);
        n += rt.block_on(async {
            let c = browser(&driver, &dir.path().join(format!("town{i}")), true).await;
            let session = c.session_id().await.expect("session").expect("an id");
            let shift = format!(
                "(() => {{ const real = Date.now; Date.now = () => real() + ({offset_ms}); }})();"
            );
            cdp(
                &driver,
                &session,
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": shift }),
            );
            register(&c, &base, &node.codes[2], &axe).await;
            vote(&c, &base, &id, i).await;
            if i == 0 {
                vote(&c, &base, &id, i + 1).await;
            }
            let mine = my_ballots(&c).await;
            assert_eq!(mine.len(), if i == 0 { 2 } else { 1 }, "town {i}");
            let log = served_log(&node.addr, &town.pk()).expect("the town's log");
            for signed in &mine {
                assert!(
                    log.contains(signed),
                    "town {i}: the log holds the ballot as signed"
                );
                let body = signed["body"].as_object().expect("body");
                assert!(
                    body.contains_key("sealed") && !body.contains_key("choice"),
                    "{signed}"
                );
            }
            c.close().await.expect("close");
            mine.len()
        });
    }
    n
}
