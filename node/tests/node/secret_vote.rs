//! Residents cast sealed ballots from the vote page of a secret consultation, in a real
//! headless Chromium against the real `palabre serve --demo` (whose secret referendum has
//! its key ceremony done): the page loads `sealed.js` there only and keeps the budgets
//! and axe-core; a cast ballot and a revote go through the signed-event path with a
//! `sealed` body, never a `choice`, in the log as served; "check an encryption" hands
//! out a file that `palabre check-encryption` and `/verify/encryption` accept and never
//! casts it; without JavaScript the page seals nothing and points to the desk; before
//! the election key exists the page says that voting opens once the trustees made it.

use std::process::Command;

use fantoccini::{Client, Locator};
use palabre_core::event::secret::Secrecy;
use palabre_core::event::{ConsultationBody, Event};
use palabre_core::opening::Opening;
use palabre_core::tally::Method;
use serde_json::{Value, json};

use super::site::{answered, axe_source, browser, check_page, css, driver, town_key, visit, vote};
use super::{Node, http, start};

const ENTER: &str = "\u{E007}";

/// The demo's secret consultation (its detail's `consultation` member).
pub(super) fn secret_consultation(addr: &str) -> Value {
    let (_, list) = http(addr, "GET", "/api/v1/consultations", b"").expect("list");
    for c in list["consultations"].as_array().expect("list") {
        let id = c["id"].as_str().expect("id");
        let (status, detail) =
            http(addr, "GET", &format!("/api/v1/consultations/{id}"), b"").expect("detail");
        assert_eq!(status, 200, "{detail}");
        if detail["consultation"]["trust"]["ballots"] == json!("secret") {
            return detail["consultation"].clone();
        }
    }
    panic!("the demo has a secret consultation");
}

/// Registers this browser with one of the demo's invitation codes.
pub(super) async fn register(c: &Client, base: &str, code: &str, axe: &str) {
    visit(c, base, "/register", axe).await;
    css(c, "#code").await.send_keys(code).await.expect("type");
    css(c, "form[data-register] button")
        .await
        .send_keys(ENTER)
        .await
        .expect("enter");
    answered(c, "form[data-register]").await;
}

/// The ballots this browser kept receipts for, as the events it signed.
pub(super) async fn my_ballots(c: &Client) -> Vec<Value> {
    let kept = c
        .execute(
            "return JSON.parse(localStorage.getItem('palabre.receipts') || '[]')",
            vec![],
        )
        .await
        .expect("receipts");
    kept.as_array()
        .expect("a list")
        .iter()
        .filter(|e| e["kind"] == json!("ballot"))
        .map(|e| serde_json::from_str(e["event"].as_str().expect("event text")).expect("json"))
        .collect()
}

/// Every entry of `log` as the node serves it.
pub(super) fn served_entries(addr: &str, log: &str) -> Vec<Value> {
    let (_, head) =
        http(addr, "GET", &format!("/api/v1/logs/{log}/checkpoint"), b"").expect("head");
    let size = head["head"]["size"].as_u64().expect("size");
    let (_, entries) = http(
        addr,
        "GET",
        &format!("/api/v1/logs/{log}/entries?start=0&end={size}"),
        b"",
    )
    .expect("entries");
    entries["entries"].as_array().expect("entries").clone()
}

/// The ballots of `consultation` in the organiser's log, as served.
fn served_ballots(node: &Node, consultation: &Value) -> Vec<Value> {
    let id = consultation["id"].as_str().expect("id");
    let log = consultation["organiser"].as_str().expect("organiser");
    served_entries(&node.addr, log)
        .into_iter()
        .filter(|e| e["kind"] == json!("ballot") && e["body"]["consultation"] == json!(id))
        .collect()
}

/// Whether the page the browser shows loads `sealed.js`.
async fn loads_sealed(c: &Client) -> bool {
    c.execute(
        "return [...document.scripts].some((s) => s.src.includes('/static/sealed/'))",
        vec![],
    )
    .await
    .expect("scripts")
        == json!(true)
}

#[test]
fn a_resident_casts_a_sealed_ballot_and_changes_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = start(&dir.path().join("node"));
    let base = format!("http://{}", node.addr);
    let secret = secret_consultation(&node.addr);
    let id = secret["id"].as_str().expect("id").to_owned();
    assert_eq!(secret["trust"]["setup"], json!("ready"), "{secret}");
    let axe = axe_source();
    let driver = driver();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = browser(&driver, &dir.path().join("profile"), true).await;
        register(&c, &base, &node.codes[0], &axe).await;

        // sealed.js on the secret vote page only.
        visit(&c, &base, "/", &axe).await;
        assert!(!loads_sealed(&c).await, "the home page loads no sealed.js");
        let (_, list) = http(&node.addr, "GET", "/api/v1/consultations", b"").expect("list");
        let public = list["consultations"]
            .as_array()
            .expect("list")
            .iter()
            .map(|x| x["id"].as_str().expect("id").to_owned())
            .find(|x| *x != id)
            .expect("a public consultation");
        visit(&c, &base, &format!("/c/{public}"), &axe).await;
        assert!(
            !loads_sealed(&c).await,
            "a public vote page loads no sealed.js"
        );
        visit(&c, &base, &format!("/c/{id}"), &axe).await;
        assert!(
            loads_sealed(&c).await,
            "the secret vote page loads sealed.js"
        );
        let form = css(&c, "form[data-sealed]").await;
        assert_eq!(
            form.attr("data-sealed").await.expect("attr").as_deref(),
            Some("split")
        );

        // Vote (yes to everything), then change it (no to everything).
        vote(&c, &base, &id, 0).await;
        vote(&c, &base, &id, 1).await;
        let mine = my_ballots(&c).await;
        assert_eq!(mine.len(), 2, "two ballots signed in this browser");
        let served = served_ballots(&node, &secret);
        assert_eq!(served.len(), 2, "both ballots are in the log");
        for (signed, logged) in mine.iter().zip(&served) {
            assert_eq!(signed, logged, "the log holds the ballot as signed");
            let body = logged["body"].as_object().expect("body");
            assert!(body.contains_key("sealed"), "{logged}");
            assert!(
                !body.contains_key("choice"),
                "a secret ballot carries no choice"
            );
            let groups = body["sealed"]["groups"].as_array().expect("groups");
            assert_eq!(groups.len(), 2, "one ciphertext per proposal (split)");
        }
        assert_eq!(mine[0]["author"], mine[1]["author"]);
        assert_ne!(mine[0]["body"]["sealed"], mine[1]["body"]["sealed"]);
        // The latest ballot counts: one voter, one counted ballot; no tally is shown.
        let (_, tally) = http(
            &node.addr,
            "GET",
            &format!("/api/v1/consultations/{id}/tally"),
            b"",
        )
        .expect("tally");
        assert_eq!(
            tally["participation"]["n_ballots_counted"],
            json!(1),
            "{tally}"
        );
        assert_eq!(tally["sealed"], json!(true), "{tally}");
        assert!(!tally.to_string().contains("yes"), "{tally}");
        c.close().await.expect("close");
    });
}

#[test]
fn checking_an_encryption_never_casts_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = start(&dir.path().join("node"));
    let base = format!("http://{}", node.addr);
    let secret = secret_consultation(&node.addr);
    let id = secret["id"].as_str().expect("id").to_owned();
    let axe = axe_source();
    let driver = driver();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = browser(&driver, &dir.path().join("profile"), true).await;
        register(&c, &base, &node.codes[0], &axe).await;
        visit(&c, &base, &format!("/c/{id}"), &axe).await;
        // Yes to the first proposal, abstain on the second.
        let sets = c
            .find_all(Locator::Css("form[data-sealed] fieldset"))
            .await
            .expect("groups");
        assert_eq!(sets.len(), 2);
        for (set, pick) in sets.iter().zip([0, 2]) {
            let radios = set
                .find_all(Locator::Css("input[type=radio]"))
                .await
                .expect("radios");
            radios[pick].send_keys(" ").await.expect("space");
        }
        css(&c, "form[data-sealed] .audit")
            .await
            .click()
            .await
            .expect("check");
        answered(&c, "form[data-sealed]").await;
        let text = css(&c, "form[data-sealed] .opening textarea")
            .await
            .prop("value")
            .await
            .expect("value")
            .expect("a file");
        let href = css(&c, "form[data-sealed] .opening a")
            .await
            .attr("href")
            .await
            .expect("attr")
            .unwrap_or_default();
        assert!(href.starts_with("blob:"), "a file to download: {href}");
        check_page(&c, &format!("/c/{id} (encryption shown)"), &axe).await;
        let opening: Opening = serde_json::from_str(&text).expect("an opening");
        assert_eq!(opening.check(), Ok(()));
        let file: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(file["consultation"], json!(id));
        // The layout lists the proposals by id, which the page orders at random: the
        // choice is read in layout order.
        let layout_order: Vec<Value> = file["choice"].as_array().expect("choice").clone();
        let mut sorted = layout_order.clone();
        sorted.sort_by_key(|v| v.as_u64());
        assert_eq!(sorted, vec![json!(1), json!(3)], "yes and abstain: {file}");

        // Checked offline, and on the node's script-free form.
        let at = dir.path().join("opening.json");
        std::fs::write(&at, &text).expect("write");
        let run = Command::new(env!("CARGO_BIN_EXE_palabre"))
            .arg("check-encryption")
            .arg(&at)
            .output()
            .expect("palabre runs");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stdout)
        );
        c.goto(&format!("{base}/verify/encryption"))
            .await
            .expect("form");
        c.execute(
            "document.getElementById('opening').value = arguments[0];",
            vec![json!(text)],
        )
        .await
        .expect("fill");
        css(&c, "form[action='/verify/encryption'] button")
            .await
            .click()
            .await
            .expect("submit");
        let verdict = css(&c, "#verdict").await;
        assert_eq!(
            verdict.attr("data-code").await.expect("attr").as_deref(),
            Some("ok")
        );

        // Nothing was cast by the check; casting seals afresh.
        assert!(
            served_ballots(&node, &secret).is_empty(),
            "a check casts nothing"
        );
        c.goto(&format!("{base}/c/{id}")).await.expect("page");
        let sets = c
            .find_all(Locator::Css("form[data-sealed] fieldset"))
            .await
            .expect("groups");
        for (set, pick) in sets.iter().zip([0, 2]) {
            let radios = set
                .find_all(Locator::Css("input[type=radio]"))
                .await
                .expect("radios");
            radios[pick].send_keys(" ").await.expect("space");
        }
        css(&c, "form[data-sealed] button[type=submit]")
            .await
            .send_keys(ENTER)
            .await
            .expect("enter");
        answered(&c, "form[data-sealed]").await;
        let served = served_ballots(&node, &secret);
        assert_eq!(served.len(), 1);
        let cast = &served[0]["body"]["sealed"];
        let shown = &file["sealed"];
        assert_eq!(cast["layout"], shown["layout"]);
        for (a, b) in cast["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .zip(shown["groups"].as_array().expect("groups"))
        {
            assert_ne!(a, b, "the cast ciphertext is not the one checked");
        }
        let log = secret["organiser"].as_str().expect("organiser");
        let everything = serde_json::to_string(&served_entries(&node.addr, log)).expect("json");
        for ct in shown["groups"].as_array().expect("groups") {
            let ct = ct[0].as_str().expect("ciphertext");
            assert!(
                !everything.contains(ct),
                "a checked ciphertext is never in the log"
            );
        }
        c.close().await.expect("close");
    });
}

#[test]
fn without_script_or_key_the_page_seals_nothing_and_says_why() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("node");
    let node = start(&data);
    let base = format!("http://{}", node.addr);
    let secret = secret_consultation(&node.addr);
    let id = secret["id"].as_str().expect("id").to_owned();
    // A second secret consultation whose trustees have not dealt yet (the same two
    // towns: this one and the demo's neighbour).
    let town = town_key(&data);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    let day = 24 * 3_600_000;
    let trustees = serde_json::from_value(secret["trust"]["trustees"].clone()).expect("keys");
    let waiting = Event {
        author: town.public_key(),
        created_at_ms: now,
        body: palabre_core::event::Body::Consultation(Box::new(ConsultationBody {
            title: "Vote secret à venir".into(),
            description: "La clé n'est pas encore faite.".into(),
            authorities: vec![town.public_key()],
            proposals_open_ms: now - 1000,
            proposals_close_ms: now + day,
            vote_open_ms: now + 2 * day,
            vote_close_ms: now + 3 * day,
            method: Method::YesNoAbstain {},
            show_running_results: false,
            quotas: None,
            secrecy: Some(Secrecy {
                trustees,
                threshold: 2,
                keys_close_ms: now + day,
                split: true,
            }),
        })),
    }
    .sign(&town)
    .expect("valid");
    let (status, v) = http(&node.addr, "POST", "/api/v1/events", waiting.bytes()).expect("post");
    assert_eq!(status, 201, "{v}");
    let axe = axe_source();
    let driver = driver();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = browser(&driver, &dir.path().join("profile"), true).await;
        visit(&c, &base, &format!("/c/{}", waiting.id()), &axe).await;
        let html = c.source().await.expect("html");
        assert!(
            html.contains("le vote ouvrira quand les communes garantes")
                || html.contains("voting opens when the trustee towns have made"),
            "{html}"
        );
        assert!(!loads_sealed(&c).await, "no key yet: no sealed.js");
        assert!(
            c.find(Locator::Css("form[data-kind=ballot]"))
                .await
                .is_err()
        );
        c.close().await.expect("close");

        // Without JavaScript: no way to send, and the desk is named.
        let c = browser(&driver, &dir.path().join("profile-nojs"), false).await;
        c.goto(&format!("{base}/c/{id}")).await.expect("page");
        let note = css(&c, "form[data-sealed] .nojs").await;
        assert!(note.is_displayed().await.expect("shown"));
        let text = note.text().await.expect("text");
        assert!(
            text.contains("accueil de la mairie") || text.contains("town hall desk"),
            "{text}"
        );
        for b in c
            .find_all(Locator::Css("form[data-sealed] button"))
            .await
            .expect("buttons")
        {
            assert!(!b.is_enabled().await.expect("state"), "nothing can be sent");
        }
        c.close().await.expect("close");
    });
}
