//! The residents' site in a real headless Chromium, driven over WebDriver (chromedriver
//! and fantoccini) against the real `palabre serve --demo`: register with a demo code,
//! vote in every ballot method with the keyboard alone, change a vote, propose, argue,
//! check every receipt, see results after a close; on every page, the budgets (bytes,
//! requests, DOM elements, no other origin) and axe-core's accessibility rules; and
//! every page read with JavaScript off.
//!
//! Needs `chromium`, `chromedriver` and axe-core (`scripts/check` installs them; axe-core
//! goes to `target/axe`, or set `PALABRE_AXE` to its `axe.min.js`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use palabre_core::crypto::SecretKey;
use palabre_core::event::{Body, ConsultationBody, Event, ProposalBody};
use palabre_core::tally::Method;
use serde_json::{Value, json};

use super::{http, start};

const MAX_PAGE_BYTES: u64 = 15 * 1024;
const MAX_REQUESTS: u64 = 4;
const MAX_DOM_ELEMENTS: u64 = 400;
const MAX_SCRIPT_GZIP_BYTES: usize = 8 * 1024;
const WAIT: Duration = Duration::from_secs(30);

/// chromedriver on a free port, killed when dropped.
pub(super) struct Driver {
    child: Child,
    pub(super) url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn driver() -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts (scripts/check installs chromium-driver)");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + WAIT;
    // Ready once it accepts connections (it keeps them open, so no full request here).
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    driver
}

pub(super) async fn browser(driver: &Driver, profile: &Path, javascript: bool) -> Client {
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--window-size=420,900".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    if !javascript {
        args.push("--blink-settings=scriptEnabled=false".into());
    }
    let caps: Capabilities = serde_json::from_value(json!({
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
    }))
    .expect("capabilities");
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

pub(super) fn axe_source() -> String {
    let path = std::env::var_os("PALABRE_AXE").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/axe/node_modules/axe-core/axe.min.js")
        },
        PathBuf::from,
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core at {} ({e}); scripts/check installs it",
            path.display()
        )
    })
}

/// Loads `path` and checks what every resident page must meet.
pub(super) async fn visit(c: &Client, base: &str, path: &str, axe: &str) {
    c.goto(&format!("{base}{path}")).await.expect("page loads");
    check_page(c, path, axe).await;
}

/// Checks the page the browser shows (reached by a link or a form) against the budgets
/// and axe-core; `path` names it in messages.
pub(super) async fn check_page(c: &Client, path: &str, axe: &str) {
    c.find(Locator::Css("h1"))
        .await
        .unwrap_or_else(|_| panic!("{path} has a heading"));
    let m = c
        .execute(
            r#"const nav = performance.getEntriesByType("navigation")[0];
               const res = performance.getEntriesByType("resource");
               // A file the cache served has transferSize 0: count it as if fetched.
               const size = (e) => Math.max(e.transferSize, e.encodedBodySize + 300);
               return {
                 bytes: [nav, ...res].reduce((n, e) => n + size(e), 0),
                 requests: 1 + res.length,
                 foreign: res.filter((e) => !e.name.startsWith(location.origin)).length,
                 dom: document.getElementsByTagName("*").length,
               };"#,
            vec![],
        )
        .await
        .expect("measures");
    let n = |k: &str| m[k].as_u64().unwrap_or(u64::MAX);
    assert!(n("bytes") <= MAX_PAGE_BYTES, "{path}: {m}");
    assert!(n("requests") <= MAX_REQUESTS, "{path}: {m}");
    assert!(n("dom") <= MAX_DOM_ELEMENTS, "{path}: {m}");
    assert_eq!(n("foreign"), 0, "{path}: {m}");
    let score = ecoindex(n("dom"), n("requests"), n("bytes"));
    assert!(
        score > 80.0,
        "{path}: EcoIndex {score:.1} (grade A needs > 80): {m}"
    );
    println!("page {path}: {m}, EcoIndex {score:.1}");
    c.execute(&format!("{axe}\nreturn true;"), vec![])
        .await
        .expect("axe-core loads");
    let violations = c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               axe.run(document).then(
                 (r) => done(r.violations.map((v) => v.id + ": " + v.nodes.map((n) => n.target).join(" | "))),
                 (e) => done(["axe failed: " + e]));"#,
            vec![],
        )
        .await
        .expect("axe-core runs");
    assert_eq!(violations, json!([]), "{path}: accessibility violations");
}

/// The EcoIndex score (ecoindex.fr's method: each measure placed among the quantiles of
/// the HTTP Archive, weighted 3 for DOM elements, 2 for requests, 1 for kilobytes). We
/// take the stricter of its published variants: a position counts from 1, not 0.
fn ecoindex(dom: u64, requests: u64, bytes: u64) -> f64 {
    const DOM: [f64; 21] = [
        0.0, 47.0, 75.0, 159.0, 233.0, 298.0, 358.0, 417.0, 476.0, 537.0, 603.0, 674.0, 753.0,
        843.0, 949.0, 1076.0, 1237.0, 1459.0, 1801.0, 2479.0, 594601.0,
    ];
    const REQUESTS: [f64; 21] = [
        0.0, 2.0, 15.0, 25.0, 34.0, 42.0, 49.0, 56.0, 63.0, 70.0, 78.0, 86.0, 95.0, 105.0, 117.0,
        130.0, 147.0, 170.0, 205.0, 281.0, 3920.0,
    ];
    const KB: [f64; 21] = [
        0.0, 1.37, 144.7, 319.53, 479.46, 631.97, 783.38, 937.91, 1098.62, 1265.47, 1448.32,
        1648.27, 1876.08, 2142.06, 2465.37, 2866.31, 3401.59, 4155.73, 5400.08, 8037.54, 223212.26,
    ];
    let position = |table: &[f64; 21], value: f64| {
        (1..table.len())
            .find(|&i| value < table[i])
            .map_or(table.len() as f64, |i| {
                i as f64 + (value - table[i - 1]) / (table[i] - table[i - 1])
            })
    };
    let (d, r, k) = (
        position(&DOM, dom as f64),
        position(&REQUESTS, requests as f64),
        position(&KB, bytes as f64 / 1024.0),
    );
    100.0 - 5.0 * (3.0 * d + 2.0 * r + k) / 6.0
}

pub(super) async fn css(c: &Client, selector: &str) -> Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
}

/// Waits for the form's answer: the script writes it into the form's `.out`.
pub(super) async fn answered(c: &Client, form: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let out = css(c, &format!("{form} .out")).await;
        let class = out.attr("class").await.ok().flatten().unwrap_or_default();
        let text = out.text().await.unwrap_or_default();
        if class.contains("ok") {
            return text;
        }
        assert!(!class.contains("err"), "{form} was refused: {text}");
        assert!(Instant::now() < deadline, "{form}: no answer");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const ENTER: &str = "\u{E007}";

/// Votes on the consultation page with the keyboard: Space on the choices, Enter on the
/// button. `pick` chooses which input of each group.
pub(super) async fn vote(c: &Client, base: &str, id: &str, pick: usize) {
    c.goto(&format!("{base}/c/{id}")).await.expect("page");
    let form = "form[data-kind=ballot]";
    let method = css(c, form)
        .await
        .attr("data-method")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    if method == "approve" {
        let boxes = c
            .find_all(Locator::Css(&format!("{form} input[type=checkbox]")))
            .await
            .expect("choices");
        boxes[pick % boxes.len()]
            .send_keys(" ")
            .await
            .expect("space");
    } else {
        for set in c
            .find_all(Locator::Css(&format!("{form} fieldset")))
            .await
            .expect("groups")
        {
            let radios = set
                .find_all(Locator::Css("input[type=radio]"))
                .await
                .expect("radios");
            radios[pick % radios.len()]
                .send_keys(" ")
                .await
                .expect("space");
        }
    }
    css(c, &format!("{form} button"))
        .await
        .send_keys(ENTER)
        .await
        .expect("enter");
    answered(c, form).await;
}

pub(super) fn town_key(data: &Path) -> SecretKey {
    let text = std::fs::read_to_string(data.join("authority.key")).expect("key file");
    let seed: [u8; 32] = hex_seed(text.trim());
    SecretKey::from_seed(&seed)
}

fn hex_seed(text: &str) -> [u8; 32] {
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex");
    }
    seed
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

/// A consultation whose vote closes `close_in_ms` from now, with one proposal, posted
/// by the town itself. Returns its id.
pub(super) fn closing_soon(addr: &str, data: &Path, close_in_ms: u64) -> String {
    let town = town_key(data);
    let now = now_ms();
    let sign = |body: Body| {
        Event {
            author: town.public_key(),
            created_at_ms: now_ms(),
            body,
        }
        .sign(&town)
        .expect("valid event")
    };
    let c = sign(Body::Consultation(Box::new(ConsultationBody {
        title: "Fermeture du test".into(),
        description: "Une consultation qui ferme vite.".into(),
        authorities: vec![town.public_key()],
        proposals_open_ms: now - 1000,
        proposals_close_ms: now + close_in_ms,
        vote_open_ms: now - 1000,
        vote_close_ms: now + close_in_ms,
        method: Method::Approval { max_choices: 1 },
        show_running_results: false,
        secrecy: None,
        quotas: None,
    })));
    let p = sign(Body::Proposal(ProposalBody {
        consultation: c.id(),
        title: "Garder le lavoir".into(),
        body: "Le restaurer.".into(),
        cost: None,
    }));
    for e in [&c, &p] {
        let (status, v) = http(addr, "POST", "/api/v1/events", e.bytes()).expect("post");
        assert_eq!(status, 201, "{v}");
    }
    c.id().to_string()
}

#[test]
fn a_resident_takes_part_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("node");
    let node = start(&data);
    let base = format!("http://{}", node.addr);
    let code = node.codes[0].clone();
    let driver = driver();
    let axe = axe_source();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = browser(&driver, &dir.path().join("profile"), true).await;
        let (_, list) = http(&node.addr, "GET", "/api/v1/consultations", b"").expect("list");
        let all: Vec<Value> = list["consultations"].as_array().expect("list").clone();
        let (closed, consultations): (Vec<Value>, Vec<Value>) = all
            .into_iter()
            .partition(|c| c["status"] == json!("closed"));
        assert_eq!(
            consultations.len(),
            6,
            "one open demo consultation per method, and a secret one"
        );
        assert_eq!(closed.len(), 1, "and a finished example");

        // The signing script itself stays small once compressed.
        let home = c.goto(&base).await;
        home.expect("home");
        let script = c
            .execute(
                r#"return document.querySelector("script[type=module]").src;"#,
                vec![],
            )
            .await
            .expect("script url");
        let script_path = script.as_str().expect("src").replacen(&base, "", 1);
        let js = fetch_gzipped(&node.addr, &script_path);
        assert!(js.len() <= MAX_SCRIPT_GZIP_BYTES, "{} bytes", js.len());

        // Register with the code from the letter.
        visit(&c, &base, "/register", &axe).await;
        css(&c, "#code").await.send_keys(&code).await.expect("type");
        css(&c, "form[data-register] button")
            .await
            .send_keys(ENTER)
            .await
            .expect("enter");
        answered(&c, "form[data-register]").await;

        // Every page of every consultation meets the budgets; vote in each method.
        visit(&c, &base, "/", &axe).await;
        for cons in &consultations {
            let id = cons["id"].as_str().expect("id");
            visit(&c, &base, &format!("/c/{id}"), &axe).await;
            vote(&c, &base, id, 0).await;
        }
        let approval = consultations
            .iter()
            .find(|x| x["method"]["type"] == json!("approval"))
            .expect("approval")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        // Change my mind: the second ballot replaces the first.
        vote(&c, &base, &approval, 1).await;

        // Propose.
        visit(&c, &base, &format!("/c/{approval}/propose"), &axe).await;
        css(&c, "#p-title")
            .await
            .send_keys("Médiathèque des Tilleuls")
            .await
            .expect("type");
        css(&c, "#p-body")
            .await
            .send_keys("Du nom de l'allée.")
            .await
            .expect("type");
        // A double tap: two submissions in a row send one proposal.
        c.execute(
            "const f = document.querySelector('form[data-kind=proposal]'); \
             f.requestSubmit(); f.requestSubmit();",
            vec![],
        )
        .await
        .expect("double submit");
        answered(&c, "form[data-kind=proposal]").await;
        c.goto(&format!("{base}/c/{approval}")).await.expect("page");
        let listed = c.source().await.expect("html");
        assert_eq!(
            listed.matches(">Médiathèque des Tilleuls<").count(),
            1,
            "one proposal for a double tap"
        );

        // Argue against the first proposal listed.
        let first = css(&c, "ul.list a").await;
        let href = first.attr("href").await.ok().flatten().expect("href");
        visit(&c, &base, &href, &axe).await;
        css(&c, "input[name=stance][value=con]")
            .await
            .send_keys(" ")
            .await
            .expect("space");
        css(&c, "#arg-body")
            .await
            .send_keys("Trop proche de l'autre.")
            .await
            .expect("type");
        css(&c, "form[data-kind=argument] button")
            .await
            .send_keys(ENTER)
            .await
            .expect("enter");
        answered(&c, "form[data-kind=argument]").await;
        c.refresh().await.expect("reload");
        assert!(
            c.source()
                .await
                .expect("html")
                .contains("Trop proche de l'autre.")
        );

        // A consultation that closes in a few seconds: results hidden, then shown.
        let closing = closing_soon(&node.addr, &data, 6_000);
        vote(&c, &base, &closing, 0).await;
        let results = format!("/c/{closing}/results");
        c.goto(&format!("{base}{results}")).await.expect("page");
        assert!(
            c.find(Locator::Css("main svg")).await.is_err(),
            "hidden before the close"
        );
        let deadline = Instant::now() + WAIT;
        while c.find(Locator::Css("main svg")).await.is_err() {
            assert!(Instant::now() < deadline, "results never shown");
            tokio::time::sleep(Duration::from_millis(500)).await;
            c.refresh().await.expect("reload");
        }
        visit(&c, &base, &results, &axe).await;
        let row = css(&c, "tbody tr").await.text().await.expect("row");
        assert!(
            row.contains("Garder le lavoir") && row.contains('1'),
            "{row}"
        );

        // The demo's finished example shows its result as a chart and a table.
        let example = closed[0]["id"].as_str().expect("id");
        visit(&c, &base, &format!("/c/{example}/results"), &axe).await;
        css(&c, "main svg rect").await;
        let rows = c.find_all(Locator::Css("tbody tr")).await.expect("rows");
        assert_eq!(rows.len(), 2, "two proposals");

        // My participation: every receipt checks out against the node.
        visit(&c, &base, "/me", &axe).await;
        let buttons = c
            .find_all(Locator::Css("#receipts button"))
            .await
            .expect("receipts");
        // 1 credential, 6 ballots (one sealed), 1 changed ballot, 1 proposal, 1 argument,
        // 1 ballot.
        assert_eq!(buttons.len(), 11);
        for b in &buttons {
            b.send_keys(ENTER).await.expect("enter");
        }
        let included = css(&c, "body")
            .await
            .attr("data-included")
            .await
            .ok()
            .flatten();
        let included = included.expect("text");
        let deadline = Instant::now() + WAIT;
        loop {
            let outs = c
                .find_all(Locator::Css("#receipts span[role=status]"))
                .await
                .expect("outs");
            let mut n_ok = 0;
            for o in &outs {
                if o.text().await.unwrap_or_default() == included {
                    n_ok += 1;
                }
            }
            if n_ok == buttons.len() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{n_ok} of {} receipts checked",
                buttons.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        for page in ["/verify", "/about"] {
            visit(&c, &base, page, &axe).await;
        }
        // The other language, by the visible switch (the first came from Accept-Language).
        let before = css(&c, "html").await.attr("lang").await.ok().flatten();
        let other = if before.as_deref() == Some("fr") {
            "en"
        } else {
            "fr"
        };
        css(&c, "#lang").await.click().await.expect("click");
        css(&c, &format!("html[lang={other}]")).await;
        c.goto(&format!("{base}/c/{approval}")).await.expect("page");
        css(&c, &format!("html[lang={other}]")).await;
        visit(&c, &base, &format!("/c/{approval}"), &axe).await;
        c.close().await.expect("close");
    });
    drop(node);
}

/// The body of `path` as the node sends it to a browser that accepts gzip.
pub(super) fn fetch_gzipped(addr: &str, path: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&raw[..at]).to_lowercase();
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let body = &raw[at + 4..];
    if !head.contains("transfer-encoding: chunked") {
        return body.to_vec();
    }
    // Chunked: size line in hex, the chunk, CRLF; a zero size ends it.
    let (mut out, mut rest) = (Vec::new(), body);
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size");
        let size_text = String::from_utf8_lossy(&rest[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("hex size");
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&rest[start..start + size]);
        rest = &rest[start + size + 2..];
    }
}

/// A page as the README shows it, as `name`.png: written to `target/`, and to
/// `docs/screenshots/` when `PALABRE_WRITE_SCREENSHOT=1`.
pub(super) async fn save_screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let _ = std::fs::create_dir_all(root.join("target"));
    std::fs::write(root.join(format!("target/{name}.png")), &png).expect("write");
    if std::env::var("PALABRE_WRITE_SCREENSHOT").as_deref() == Ok("1") {
        let dir = root.join("docs/screenshots");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(format!("{name}.png")), &png).expect("write");
    }
}

#[test]
fn every_page_reads_without_javascript() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = start(&dir.path().join("node"));
    let base = format!("http://{}", node.addr);
    let driver = driver();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = browser(&driver, &dir.path().join("profile"), false).await;
        let (_, list) = http(&node.addr, "GET", "/api/v1/consultations", b"").expect("list");
        let mut pages: Vec<String> = vec!["/".into(), "/register".into(), "/me".into()];
        pages.extend(["/verify".into(), "/about".into()]);
        for cons in list["consultations"].as_array().expect("list") {
            let id = cons["id"].as_str().expect("id");
            pages.push(format!("/c/{id}"));
            pages.push(format!("/c/{id}/propose"));
            pages.push(format!("/c/{id}/results"));
        }
        for path in &pages {
            c.goto(&format!("{base}{path}")).await.expect("page");
            let h1 = css(&c, "h1").await.text().await.expect("heading");
            assert!(!h1.is_empty(), "{path}");
            // A form that signs says, without the script, where to go instead.
            for form in c.find_all(Locator::Css("form")).await.expect("forms") {
                let note = form
                    .find(Locator::Css(".nojs"))
                    .await
                    .unwrap_or_else(|_| panic!("{path}: a form without its note"));
                assert!(note.is_displayed().await.expect("displayed"), "{path}");
            }
        }
        // A proposal page, reached by its link.
        let first = list["consultations"][0]["id"].as_str().expect("id");
        c.goto(&format!("{base}/c/{first}")).await.expect("page");
        let link = css(&c, "ul.list a").await;
        link.click().await.expect("follow");
        css(&c, "h1").await;
        assert!(
            c.current_url()
                .await
                .expect("url")
                .path()
                .starts_with("/p/")
        );
        c.close().await.expect("close");
    });
}

/// What a phone screen shows of the page: how far it scrolls sideways, and the tap
/// targets smaller than 44 × 44 px (a radio button or a checkbox is tapped through its
/// label), each named.
async fn phone_measures(c: &Client) -> Value {
    c.execute(
        r##"const root = document.documentElement;
           const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
             + (e.className && typeof e.className === "string" ? "." + e.className.trim().replace(/\s+/g, ".") : "")
             + " " + JSON.stringify((e.textContent || e.value || "").trim().slice(0, 30));
           const wide = [...document.querySelectorAll("body *")]
             .filter((e) => e.getBoundingClientRect().right > root.clientWidth + 0.5)
             .map(name).slice(0, 5);
           const targets = [...document.querySelectorAll(
             "header a, footer a, button, a.button, input[type=radio], input[type=checkbox]")]
             .map((e) => (e.type === "radio" || e.type === "checkbox") ? (e.closest("label") || e) : e)
             .filter((e) => e.getClientRects().length > 0);
           const small = targets.filter((e) => {
             const r = e.getBoundingClientRect();
             return r.width < 43.5 || r.height < 43.5;
           }).map((e) => { const r = e.getBoundingClientRect(); return name(e) + " " + Math.round(r.width) + "×" + Math.round(r.height); });
           return { viewport: root.clientWidth, scroll: root.scrollWidth, wide, targets: targets.length, small };"##,
        vec![],
    )
    .await
    .expect("measures")
}

#[test]
fn on_a_phone_nothing_scrolls_sideways_and_every_target_takes_a_thumb() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("node");
    let node = start(&data);
    let base = format!("http://{}", node.addr);
    let driver = driver();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = browser(&driver, &dir.path().join("profile"), true).await;
        c.set_window_size(360, 800).await.expect("a phone's width");
        // Registered, and a vote sent: /me lists a key and receipts, the longest lines.
        c.goto(&format!("{base}/register")).await.expect("page");
        css(&c, "#code")
            .await
            .send_keys(&node.codes[0])
            .await
            .expect("type");
        css(&c, "form[data-register] button")
            .await
            .send_keys(ENTER)
            .await
            .expect("enter");
        answered(&c, "form[data-register]").await;
        let (_, list) = http(&node.addr, "GET", "/api/v1/consultations", b"").expect("list");
        let ids: Vec<String> = list["consultations"]
            .as_array()
            .expect("list")
            .iter()
            .map(|x| x["id"].as_str().expect("id").to_owned())
            .collect();
        let approval = list["consultations"]
            .as_array()
            .expect("list")
            .iter()
            .find(|x| x["method"]["type"] == json!("approval") && x["status"] != json!("closed"))
            .expect("an open approval vote")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        vote(&c, &base, &approval, 0).await;
        c.goto(&format!("{base}/c/{approval}")).await.expect("page");
        let proposal = css(&c, "ul.list a")
            .await
            .attr("href")
            .await
            .ok()
            .flatten()
            .expect("a proposal");
        c.goto(&format!("{base}/me")).await.expect("page");
        let receipt = css(&c, "#receipts a.button[href^='/receipt/']")
            .await
            .attr("href")
            .await
            .ok()
            .flatten()
            .expect("a receipt");

        let mut pages: Vec<String> = ["/", "/register", "/me", "/verify", "/about"]
            .map(String::from)
            .into();
        // Every consultation: its ballot's radio buttons and checkboxes, by their labels.
        pages.extend(ids.iter().map(|id| format!("/c/{id}")));
        pages.extend([
            proposal,
            receipt,
            "/moderation".into(),
            "/transparency".into(),
            "/staff/login".into(),
        ]);
        let mut faults = Vec::new();
        for path in &pages {
            c.goto(&format!("{base}{path}")).await.expect("page");
            css(&c, "h1").await;
            if path == "/me" {
                css(&c, "#receipts li").await;
                css(&c, "#mykey").await;
            }
            let m = phone_measures(&c).await;
            assert!(m["viewport"].as_u64().unwrap_or(0) <= 360, "{path}: {m}");
            assert!(m["targets"].as_u64().unwrap_or(0) > 0, "{path}: {m}");
            if m["scroll"].as_u64() > m["viewport"].as_u64() {
                faults.push(format!("{path} scrolls sideways: {m}"));
            }
            if m["small"] != json!([]) {
                faults.push(format!("{path} has targets under 44 px: {}", m["small"]));
            }
        }
        assert!(faults.is_empty(), "at 360 px:\n{}", faults.join("\n"));

        // A disabled button looks it: faded, and the pointer says it cannot be used.
        c.goto(&format!("{base}/c/{approval}")).await.expect("page");
        let look = c
            .execute(
                r#"const b = document.querySelector("form[data-kind=ballot] button[type=submit]");
                   const before = getComputedStyle(b).opacity;
                   b.disabled = true;
                   const s = getComputedStyle(b);
                   return { before, opacity: s.opacity, cursor: s.cursor };"#,
                vec![],
            )
            .await
            .expect("styles");
        assert_eq!(look["before"], json!("1"), "{look}");
        let faded: f64 = look["opacity"]
            .as_str()
            .and_then(|o| o.parse().ok())
            .unwrap_or(1.0);
        assert!(faded <= 0.6, "{look}");
        assert_eq!(look["cursor"], json!("not-allowed"), "{look}");
        c.close().await.expect("close");
    });
    drop(node);
}

/// Issue 20, point 10: on a 360 px phone, every demo method's results page shows its
/// chart's text at 12 px or more (the size the browser renders, the SVG's scaling
/// included), no label cut at the chart's edge, nothing scrolling sideways, and the
/// page within its budgets and clean for axe-core.
#[test]
fn results_charts_read_on_a_phone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = start(&dir.path().join("node"));
    let base = format!("http://{}", node.addr);
    let driver = driver();
    let axe = axe_source();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = browser(&driver, &dir.path().join("profile"), true).await;
        c.set_window_size(360, 800).await.expect("a phone's width");
        let (_, list) = http(&node.addr, "GET", "/api/v1/consultations", b"").expect("list");
        let mut charted = std::collections::BTreeSet::new();
        let mut faults = Vec::new();
        for cons in list["consultations"].as_array().expect("list") {
            let path = format!("/c/{}/results", cons["id"].as_str().expect("id"));
            visit(&c, &base, &path, &axe).await;
            let m = phone_measures(&c).await;
            if m["scroll"].as_u64() > m["viewport"].as_u64() {
                faults.push(format!("{path} scrolls sideways: {m}"));
            }
            let texts = c
                .execute(
                    r#"return [...document.querySelectorAll("svg text")].map((t) => {
                         const r = t.getBoundingClientRect();
                         const box = t.ownerSVGElement.getBoundingClientRect();
                         return {
                           text: t.textContent,
                           px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
                           inside: r.left >= box.left - 0.5 && r.right <= box.right + 0.5,
                           at: [r.left, r.right, box.left, box.right],  // for the message
                         };
                       });"#,
                    vec![],
                )
                .await
                .expect("the chart's text");
            let texts = texts.as_array().cloned().unwrap_or_default();
            if !texts.is_empty() {
                charted.insert(
                    cons["method"]["type"]
                        .as_str()
                        .expect("a method")
                        .to_owned(),
                );
            }
            for t in texts {
                if t["px"].as_f64().unwrap_or(0.0) < 12.0 {
                    faults.push(format!("{path}: text under 12 px: {t}"));
                }
                if t["inside"] != json!(true) {
                    faults.push(format!("{path}: text cut at the chart's edge: {t}"));
                }
            }
        }
        assert!(faults.is_empty(), "at 360 px:\n{}", faults.join("\n"));
        let every: std::collections::BTreeSet<String> = [
            "approval",
            "budget",
            "majority_judgment",
            "support",
            "yes_no_abstain",
        ]
        .map(String::from)
        .into();
        assert_eq!(charted, every, "a chart for every demo method");
        c.close().await.expect("close");
    });
    drop(node);
}

/// Issue 20, point 16: every staff page fits a 360 px screen (nothing scrolls sideways,
/// every target takes a thumb) and carries the language switch, which comes back to the
/// same page in the other language.
#[test]
fn staff_pages_fit_a_phone_and_switch_language() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = start(&dir.path().join("node"));
    let base = format!("http://{}", node.addr);
    let setup = node
        .setup
        .clone()
        .expect("a fresh node prints its setup link");
    let driver = driver();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = browser(&driver, &dir.path().join("profile"), true).await;
        c.set_window_size(360, 800).await.expect("a phone's width");
        c.goto(&format!("{base}{setup}")).await.expect("setup page");
        for (field, value) in [
            ("#name", "Claire Martin"),
            ("#login", "claire"),
            ("#password", "mairie-2026-admin"),
        ] {
            css(&c, field).await.send_keys(value).await.expect("type");
        }
        css(&c, "main form button[type=submit]")
            .await
            .click()
            .await
            .expect("create the first administrator");
        css(&c, "header form.inline").await;
        let mut faults = Vec::new();
        for path in [
            "/staff",
            "/staff/consultations",
            "/staff/letters",
            "/staff/team",
            "/staff/moderation",
            "/staff/desk",
            "/staff/password",
        ] {
            c.goto(&format!("{base}{path}")).await.expect("page");
            css(&c, "h1").await;
            css(&c, "header #lang").await;
            let m = phone_measures(&c).await;
            assert!(m["viewport"].as_u64().unwrap_or(0) <= 360, "{path}: {m}");
            if m["scroll"].as_u64() > m["viewport"].as_u64() {
                faults.push(format!("{path} scrolls sideways: {m}"));
            }
            if m["small"] != json!([]) {
                faults.push(format!("{path} has targets under 44 px: {}", m["small"]));
            }
        }
        assert!(faults.is_empty(), "at 360 px:\n{}", faults.join("\n"));

        c.goto(&format!("{base}/staff/team")).await.expect("page");
        // The browser asks for English.
        assert_eq!(css(&c, "h1").await.text().await.expect("text"), "Team");
        css(&c, "header #lang").await.click().await.expect("switch");
        c.wait()
            .at_most(WAIT)
            .for_element(Locator::Css("html[lang=fr]"))
            .await
            .expect("the page in French");
        let url = c.current_url().await.expect("url");
        assert_eq!(url.path(), "/staff/team");
        assert_eq!(css(&c, "h1").await.text().await.expect("text"), "Équipe");
        c.close().await.expect("close");
    });
    drop(node);
}
