//! Operations: `palabre backup` of a node while residents register and vote through its
//! HTTP API, `palabre restore` into a new directory, and the restored node serving a
//! consistent prefix of the original's log (every entry checked, its signed head over
//! them, `palabre audit` passing) with invitation codes used exactly when their
//! credential is in that log; a backup of a stopped node (and of one killed, whose
//! control socket is left behind); a restore refusing a directory in use and a damaged
//! file; a log written to a pipe, without colour codes. Every wait is on a condition,
//! bounded.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use palabre_core::event::SignedEvent;

use super::*;

fn palabre(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_palabre"))
        .args(args)
        .env("PALABRE_LOG", "warn")
        .output()
        .expect("palabre runs")
}

/// Runs `palabre`, expects success, returns its standard output.
fn ok(args: &[&str]) -> String {
    let out = palabre(args);
    assert!(
        out.status.success(),
        "palabre {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `palabre`, expects failure, returns its error output.
fn fails(args: &[&str]) -> String {
    let out = palabre(args);
    assert!(
        !out.status.success(),
        "palabre {args:?} should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Waits until `ready` holds, polling; fails with `what` after `secs`.
fn wait_until(what: &str, secs: u64, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A new town with `n` invitation codes (from `palabre invite`, node stopped).
fn town_with_codes(dir: &Path, n: u32) -> Vec<String> {
    let data = dir.join("node");
    ok(&[
        "init",
        "--data",
        path(&data),
        "--name",
        "Ville de Sauvegarde",
    ]);
    let csv = dir.join("codes.csv");
    ok(&[
        "invite",
        "--data",
        path(&data),
        "--count",
        &n.to_string(),
        "--out",
        path(&csv),
    ]);
    std::fs::read_to_string(&csv)
        .expect("the codes")
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().expect("a code").to_owned())
        .collect()
}

/// The log `log` as a node serves it: the entries' exact bytes, and its signed head.
fn served_log(addr: &str, log: &PublicKey) -> (Vec<Vec<u8>>, SignedTreeHead) {
    let (status, head) =
        http(addr, "GET", &format!("/api/v1/logs/{log}/checkpoint"), b"").expect("head");
    assert_eq!(status, 200, "{head}");
    let head: SignedTreeHead = serde_json::from_value(head).expect("a signed head");
    let mut entries = Vec::new();
    while (entries.len() as u64) < head.head.size {
        let uri = format!(
            "/api/v1/logs/{log}/entries?start={}&end={}",
            entries.len(),
            head.head.size
        );
        let (_, page) = http(addr, "GET", &uri, b"").expect("entries");
        let list = page["entries"].as_array().expect("entries");
        assert!(!list.is_empty(), "{page}");
        entries.extend(list.iter().map(|e| serde_json::to_vec(e).expect("json")));
    }
    (entries, head)
}

fn resident(n: usize) -> SecretKey {
    let mut seed = [9u8; 32];
    seed[..8].copy_from_slice(&(n as u64).to_le_bytes());
    SecretKey::from_seed(&seed)
}

#[test]
fn a_backup_taken_while_serving_restores_a_consistent_prefix() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let codes = town_with_codes(tmp.path(), 80);
    let data = tmp.path().join("node");
    let node = start(&data);
    let addr = node.addr.clone();
    let town = authority(&addr);
    let (consultation, proposals) = approval_consultation(&addr);

    // Residents register with the letters' codes and vote, steadily, from three clients.
    // `redeemed` keeps every registration the node acknowledged: (code, resident).
    let redeemed: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let next_code = Arc::new(Mutex::new(0usize));
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let (addr, codes, proposals) = (addr.clone(), codes.clone(), proposals.clone());
            let (redeemed, stop, next_code) = (
                Arc::clone(&redeemed),
                Arc::clone(&stop),
                Arc::clone(&next_code),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let n = {
                        let mut next = next_code.lock().expect("lock");
                        *next += 1;
                        *next - 1
                    };
                    let Some(code) = codes.get(n) else { return };
                    let key = resident(n);
                    if !redeem(&addr, code, &key) {
                        panic!("redeeming a fresh code failed");
                    }
                    redeemed.lock().expect("lock").push((code.clone(), n));
                    for k in 0..2 {
                        let ballot = Event {
                            author: key.public_key(),
                            created_at_ms: now_ms() + k,
                            body: Body::Ballot(BallotBody {
                                consultation,
                                choice: Choice::Approve(vec![proposals[(n + k as usize) % 3]]),
                                assistance: None,
                            }),
                        }
                        .sign(&key)
                        .expect("a valid ballot");
                        let (status, v) = http(&addr, "POST", "/api/v1/events", ballot.bytes())
                            .expect("an answer");
                        assert!(status == 201 || status == 409, "{status} {v}");
                    }
                }
            })
        })
        .collect();
    let acknowledged = || redeemed.lock().expect("lock").len();
    wait_until("residents to register", 60, || acknowledged() >= 10);

    // The backup, taken by the running node while the clients go on.
    let b1 = tmp.path().join("while-serving.palabre");
    let said = ok(&["backup", "--data", path(&data), "--out", path(&b1)]);
    assert!(said.contains("from the running node"), "{said}");
    let mode = std::fs::metadata(&b1)
        .expect("the backup")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the backup holds the authority key");
    let at_backup = acknowledged();
    wait_until("more registrations after the backup", 60, || {
        acknowledged() >= at_backup + 5
    });
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("clients do not panic");
    }
    let (original, _) = served_log(&addr, &town);
    let redeemed = redeemed.lock().expect("lock").clone();

    // Killed: its control socket is left behind, and a backup opens the store itself.
    node.kill();
    assert!(data.join("control.sock").exists());
    let b2 = tmp.path().join("stopped.palabre");
    let said = ok(&["backup", "--data", path(&data), "--out", path(&b2)]);
    assert!(said.contains("no node was running"), "{said}");

    // The backup taken while serving, restored and served.
    let restored = tmp.path().join("restored");
    ok(&["restore", "--from", path(&b1), "--data", path(&restored)]);
    let node = start(&restored);
    let addr = node.addr.clone();
    assert_eq!(authority(&addr), town);
    let (entries, head) = served_log(&addr, &town);
    assert_eq!(head.verify(), Ok(()));
    let size = entries.len();
    assert!(
        size > 0 && size < original.len(),
        "a prefix: {size} of {}",
        original.len()
    );
    assert_eq!(
        entries[..],
        original[..size],
        "the same entries, byte for byte"
    );
    let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e)).collect();
    assert_eq!(merkle::root_of_leaves(&leaves), head.head.root);
    let events: Vec<SignedEvent> = entries
        .iter()
        .map(|e| SignedEvent::from_bytes(e.clone()).expect("every entry verifies"))
        .collect();
    // The audit of the demo's closed consultation replays this whole log: every entry
    // admitted in order, the head over them, the checkpoint, the signed result.
    let (_, list) = http(&addr, "GET", "/api/v1/consultations", b"").expect("list");
    let closed = list["consultations"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| {
            c["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("Exemple terminé"))
        })
        .expect("the demo's closed consultation");
    let cid = closed["id"].as_str().expect("id");
    ok(&[
        "audit",
        "--consultation",
        cid,
        "--node",
        &format!("http://{addr}"),
    ]);

    // Codes are used exactly when their credential made it into the backup.
    let credentialed: Vec<PublicKey> = events
        .iter()
        .filter_map(|e| match e.body() {
            Body::Credential(c) => Some(c.subject),
            _ => None,
        })
        .collect();
    let (mut used, mut unused) = (0, 0);
    for (code, n) in &redeemed {
        let key = resident(*n);
        if credentialed.contains(&key.public_key()) {
            let (status, why) = redeem_answer(&addr, code, &resident(1000 + n));
            assert_eq!((status, why), (409, json!("used_invitation")), "{code}");
            used += 1;
        } else {
            // Registered after the snapshot: the restored node never saw it.
            assert_eq!(redeem_answer(&addr, code, &key).0, 201, "{code}");
            unused += 1;
        }
    }
    assert!(
        used >= 10 && unused >= 1,
        "{used} used, {unused} after the backup"
    );
    node.kill();

    // The backup of the stopped node: the same node, to the last code.
    let restored = tmp.path().join("restored-stopped");
    ok(&["restore", "--from", path(&b2), "--data", path(&restored)]);
    let status = ok(&["status", "--data", path(&data)]);
    assert_eq!(ok(&["status", "--data", path(&restored)]), status);
    // The trustee key comes back too, as private as it was, and status shows it.
    let read = |dir: &Path| std::fs::read(dir.join("trustee.key")).expect("trustee.key");
    assert_eq!(read(&restored), read(&data));
    let mode = std::fs::metadata(restored.join("trustee.key"))
        .expect("trustee.key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(status.contains("Trustee key:"), "{status}");
}

#[test]
fn restore_refuses_a_directory_in_use_and_a_damaged_file() {
    let tmp = tempfile::tempdir().expect("temp dir");
    town_with_codes(tmp.path(), 3);
    let data = tmp.path().join("node");
    let backup = tmp.path().join("town.palabre");
    ok(&["backup", "--data", path(&data), "--out", path(&backup)]);
    // A backup never replaces a file.
    let e = fails(&["backup", "--data", path(&data), "--out", path(&backup)]);
    assert!(e.contains("already exists"), "{e}");

    // A directory with a store, or anything else in it, is left alone.
    let e = fails(&["restore", "--from", path(&backup), "--data", path(&data)]);
    assert!(e.contains("already holds a store"), "{e}");
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).expect("mkdir");
    std::fs::write(other.join("notes.txt"), "mine").expect("write");
    let e = fails(&["restore", "--from", path(&backup), "--data", path(&other)]);
    assert!(e.contains("not empty"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&other).expect("ls").collect();
    assert_eq!(left.len(), 1);

    // A truncated or altered file is refused whole: nothing is created.
    let good = std::fs::read(&backup).expect("read");
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x10;
    for (name, bytes) in [
        ("truncated", &good[..good.len() - 100]),
        ("flipped", &flipped[..]),
    ] {
        let bad = tmp.path().join(name);
        std::fs::write(&bad, bytes).expect("write");
        let target = tmp.path().join(format!("restored-{name}"));
        let e = fails(&["restore", "--from", path(&bad), "--data", path(&target)]);
        assert!(e.contains("damaged"), "{name}: {e}");
        assert!(!target.exists(), "{name}: nothing is left behind");
    }

    // The good file, into an empty directory that exists (as systemd makes it).
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    ok(&["restore", "--from", path(&backup), "--data", path(&empty)]);
    assert_eq!(
        ok(&["status", "--data", path(&empty)]),
        ok(&["status", "--data", path(&data)])
    );
    let key_mode = std::fs::metadata(empty.join("authority.key"))
        .expect("the key")
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
}

/// A log written to a pipe (a file, journald) carries no colour codes: the node is
/// started with its log piped, stopped as systemd stops it (SIGTERM), and every line it
/// logged is read.
#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_palabre"))
        .args(["serve", "--demo", "--http", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("node"))
        .env("PALABRE_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the palabre binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    // Kept open to the end: the node may print more.
    let mut stdout = BufReader::new(stdout).lines();
    let serving = stdout
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.starts_with("Palabre is serving on "));
    assert!(serving, "the node did not say it was serving");
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success());
    let stderr = child.stderr.take().expect("piped stderr");
    let seen: Vec<String> = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .collect();
    let status = child.wait().expect("the node stops");
    assert!(status.success(), "{status:?}: {seen:?}");
    assert!(
        seen.iter()
            .any(|l| l.contains("INFO") && l.contains("shutting down")),
        "{seen:?}"
    );
    for line in &seen {
        assert!(!line.contains('\u{1b}'), "a colour code in {line:?}");
    }
}
