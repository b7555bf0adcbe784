//! The key ceremony of secret consultations, run by five real `palabre serve` processes
//! federated over libp2p on loopback: each trustee deals by itself, the organiser
//! publishes the election key after the complaint hour and the layout before the vote,
//! and every node admits them; any t of the shares the trustees keep give the election
//! key's secret. With a trustee killed before it could deal, QUAL is the four others;
//! with too few trustees left, no election key ever exists.
//!
//! The complaint hour is real: after the deals the nodes are restarted with their clocks
//! moved past it (`PALABRE_CLOCK_OFFSET_MS`, the same for every node), so that every rule
//! is applied as on that date. Every wait is on a condition, bounded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use palabre_core::dkg;
use palabre_core::event::{ConsultationBody, ProposalBody};
use palabre_core::group::{self, RistrettoPoint, Scalar};
use palabre_core::secret::Secrecy;
use palabre_core::tally::Method;

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
}

impl Town {
    fn start(&mut self, offset_ms: i64) {
        let offset = offset_ms.to_string();
        self.node = Some(start_with(
            &self.data,
            &[
                ("PALABRE_P2P_LISTEN", self.p2p.as_str()),
                ("PALABRE_CLOCK_OFFSET_MS", offset.as_str()),
            ],
        ));
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

fn sign(key: &SecretKey, at_ms: u64, body: Body) -> palabre_core::event::SignedEvent {
    Event {
        author: key.public_key(),
        created_at_ms: at_ms,
        body,
    }
    .sign(key)
    .expect("valid event")
}

/// The events of `kind` about `c` in `log`, as `addr` serves them.
fn about(addr: &str, log: &PublicKey, kind: &str, c: &EventId) -> Vec<Value> {
    served_log(addr, log)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["kind"] == json!(kind) && e["body"]["consultation"] == json!(c.to_string()))
        .collect()
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
    let consultation = |title: &str, trustees: Vec<PublicKey>, threshold: u64| {
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
                method: Method::Support { threshold: 1 },
                show_running_results: false,
                secrecy: Some(Secrecy {
                    trustees,
                    threshold,
                    keys_close_ms: keys_close,
                    split: true,
                }),
                quotas: None,
            })),
        )
    };
    let a = consultation("Le nom de la médiathèque", trustees.clone(), 3);
    let proposals: Vec<_> = ["Médiathèque Louise-Michel", "Médiathèque du Lavoir"]
        .into_iter()
        .map(|title| {
            sign(
                &organiser,
                now,
                Body::Proposal(ProposalBody {
                    consultation: a.id(),
                    title: title.into(),
                    body: "Un nom pour le bâtiment neuf.".into(),
                    cost: None,
                }),
            )
        })
        .collect();
    post(&towns[0].addr(), &a);
    for p in &proposals {
        post(&towns[0].addr(), p);
    }
    wait_until("every trustee's deal to reach every node", 120, || {
        towns.iter().all(|t| {
            keys.iter()
                .all(|k| about(&t.addr(), k, "dkg_deal", &a.id()).len() == 1)
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
    wait_until("the election keys of A and B on every node", 120, || {
        running.iter().all(|&i| {
            election_key(&towns[i].addr(), &a.id()).is_some()
                && election_key(&towns[i].addr(), &b.id()).is_some()
        })
    });
    // C's layout comes in the same pass as its (impossible) election key.
    wait_until("the layouts of A, B and C", 60, || {
        [&a, &b, &c]
            .iter()
            .all(|x| !about(&towns[0].addr(), &keys[0], "ballot_layout", &x.id()).is_empty())
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
    wait_until("every trustee to keep its shares of A and B", 60, || {
        towns
            .iter()
            .all(|t| t.share(&a.id()).is_some() && t.share(&b.id()).is_some())
    });
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
    for t in towns.iter_mut() {
        t.stop();
    }
}
