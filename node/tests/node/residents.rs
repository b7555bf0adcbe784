//! A resident's first steps in a real headless Chromium (issue 20): a visitor without a
//! key is told to register before filling a ballot; after registering, the key backup
//! and a "vote now" link are right there; a receipt number leads to the receipt, which
//! can be downloaded (the file `palabre check-receipt` checks without being told which
//! node to ask) and printed with a QR code; a replaced vote reads as replaced; and a
//! household sharing one phone keeps every member's key, a second registration needing
//! an explicit choice, each form saying whose key signs. An approval ballot's limit ("2
//! max") holds in the form before anything is sent, the page says which vote counts, and
//! a code used twice is refused in the page's own plain words.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::site::{answered, axe_source, browser, check_page, css, driver, visit, vote};
use super::{http, start};

const WAIT: Duration = Duration::from_secs(30);

async fn text(c: &Client, selector: &str) -> String {
    css(c, selector).await.text().await.expect("text")
}

async fn data(c: &Client, name: &str) -> String {
    c.execute(
        "return document.body.dataset[arguments[0]];",
        vec![json!(name)],
    )
    .await
    .expect("a data attribute")
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Waits until the form's answer is a refusal; returns its words.
async fn refused(c: &Client, form: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let out = css(c, &format!("{form} .out")).await;
        let class = out.attr("class").await.ok().flatten().unwrap_or_default();
        if class.contains("err") {
            return out.text().await.unwrap_or_default();
        }
        assert!(!class.contains("ok"), "{form} was accepted");
        assert!(Instant::now() < deadline, "{form}: no answer");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn register(c: &Client, base: &str, code: &str, name: &str, another: bool) {
    c.goto(&format!("{base}/register")).await.expect("page");
    css(c, "#code").await.send_keys(code).await.expect("type");
    css(c, "#who").await.send_keys(name).await.expect("type");
    if another {
        css(c, "#another").await.click().await.expect("tick");
    }
    css(c, "form[data-register] button[type=submit]")
        .await
        .click()
        .await
        .expect("send");
    answered(c, "form[data-register]").await;
}

fn approval(addr: &str) -> String {
    let (_, list) = http(addr, "GET", "/api/v1/consultations", b"").expect("list");
    list["consultations"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["status"] == json!("voting") && c["method"]["type"] == json!("approval"))
        .and_then(|c| c["id"].as_str())
        .expect("an approval consultation in its vote")
        .to_owned()
}

#[test]
fn a_newcomer_registers_votes_and_keeps_a_receipt_and_a_household_shares_a_phone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = start(&dir.path().join("node"));
    let base = format!("http://{}", node.addr);
    let id = approval(&node.addr);
    let driver = driver();
    let axe = axe_source();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = browser(&driver, &dir.path().join("profile"), true).await;

        // Before registering: the ballot form says to register first, with the link.
        visit(&c, &base, &format!("/c/{id}"), &axe).await;
        let warn = css(&c, "form[data-kind=ballot] p.warn").await;
        let first = data(&c, "registerFirst").await;
        assert!(warn.text().await.expect("text").starts_with(&first));
        let link = warn.find(Locator::Css("a")).await.expect("a link");
        assert_eq!(
            link.attr("href").await.ok().flatten().as_deref(),
            Some("/register")
        );

        // Registering: the backup and "vote now" are offered right there.
        register(&c, &base, &node.codes[0], "Anne", false).await;
        let next = css(&c, "#next").await;
        assert!(next.is_displayed().await.expect("shown"), "the next steps");
        assert!(
            css(&c, "#next button.backup")
                .await
                .is_displayed()
                .await
                .expect("shown")
        );
        check_page(&c, "/register (registered)", &axe).await;
        css(&c, "#next a[href='/#open']")
            .await
            .click()
            .await
            .expect("vote now");
        css(&c, "#open").await;

        // The same code again: refused in the page's words, and nothing sent twice.
        c.goto(&format!("{base}/register")).await.expect("page");
        css(&c, "#code")
            .await
            .send_keys(&node.codes[0])
            .await
            .expect("type");
        css(&c, "#another").await.click().await.expect("tick");
        css(&c, "form[data-register] button[type=submit]")
            .await
            .click()
            .await
            .expect("send");
        let words = refused(&c, "form[data-register]").await;
        let refusals = data(&c, "refusals").await;
        let plain = refusals
            .split('|')
            .find_map(|p| p.strip_prefix("used_invitation:"))
            .expect("plain words for a used code");
        assert!(words.ends_with(plain), "{words}");

        // The ballot's limit ("2 max") holds in the form: a third choice waits until
        // one is unticked.
        c.goto(&format!("{base}/c/{id}")).await.expect("page");
        let boxes = c
            .find_all(Locator::Css("fieldset[data-max='2'] input[type=checkbox]"))
            .await
            .expect("choices");
        assert_eq!(boxes.len(), 3);
        for b in &boxes[..2] {
            b.click().await.expect("tick");
        }
        assert!(
            !boxes[2].is_enabled().await.expect("state"),
            "a third choice"
        );
        boxes[0].click().await.expect("untick");
        assert!(boxes[2].is_enabled().await.expect("state"));

        // A vote, then a changed vote: the receipt number leads to the receipt.
        vote(&c, &base, &id, 0).await;
        let old = css(&c, "form[data-kind=ballot] .out a")
            .await
            .attr("href")
            .await
            .ok()
            .flatten()
            .expect("a link to the receipt");
        vote(&c, &base, &id, 1).await;
        // The page says which vote counts now, also when opened again (the proposals
        // may then come in another order).
        let chosen = c
            .find_all(Locator::Css("form[data-kind=ballot] fieldset label"))
            .await
            .expect("choices")[1]
            .text()
            .await
            .expect("text");
        let receipt = css(&c, "form[data-kind=ballot] .out a")
            .await
            .attr("href")
            .await
            .ok()
            .flatten()
            .expect("a link to the receipt");
        for reload in [false, true] {
            if reload {
                c.goto(&format!("{base}/c/{id}")).await.expect("page");
            }
            let current = css(&c, "form[data-kind=ballot] .current").await;
            assert!(
                current.is_displayed().await.expect("shown"),
                "the current vote"
            );
            assert_eq!(text(&c, ".current b").await, chosen.trim());
        }
        c.goto(&format!("{base}{receipt}")).await.expect("follow");
        css(&c, "#receipts li").await;
        check_page(&c, "/me", &axe).await;
        let here = c.current_url().await.expect("url");
        let new = format!(
            "r-{}",
            here.fragment()
                .expect("a receipt anchor")
                .trim_start_matches("r-")
        );
        let latest = text(&c, &format!("#{new}")).await;
        let kinds = data(&c, "kinds").await;
        let vote_word = kinds
            .split(',')
            .find_map(|p| p.strip_prefix("ballot:"))
            .expect("the word for a ballot")
            .to_owned();
        assert!(latest.contains(&vote_word), "{latest}");
        assert!(!latest.contains("ballot"), "kinds in words: {latest}");
        let replaced = data(&c, "replaced").await;
        assert!(!latest.contains(&replaced), "{latest}");
        let old = old.trim_start_matches("/me#");
        let earlier = css(&c, &format!("#{old}")).await;
        assert_eq!(
            earlier.attr("class").await.ok().flatten().as_deref(),
            Some("replaced")
        );
        assert!(earlier.text().await.expect("text").contains(&replaced));

        // The downloaded receipt is the file check-receipt reads, and it names the node.
        let file: Value = c
            .execute(
                "const a = document.querySelector(arguments[0]);
                 return JSON.parse(decodeURIComponent(a.href.split(',').slice(1).join(',')));",
                vec![json!(format!("#{new} a.download"))],
            )
            .await
            .expect("the downloaded file");
        let path = dir.path().join("receipt.json");
        std::fs::write(&path, file.to_string()).expect("write");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_palabre"))
            .arg("check-receipt")
            .arg(&path)
            .output()
            .expect("check-receipt runs");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            said.contains(&node.addr),
            "it asked the declared node: {said}"
        );

        // Printed, with a QR code that opens the same receipt.
        let print = css(&c, &format!("#{new} a[href^='/receipt/']")).await;
        let href = print.attr("href").await.ok().flatten().expect("href");
        visit(&c, &base, &href, &axe).await;
        css(&c, "svg.qr").await;
        let n = href.rsplit('/').next().expect("a position");
        assert!(text(&c, "h1").await.contains(n));
        assert!(css(&c, "#print").await.is_displayed().await.expect("shown"));

        // A second person on the same phone: refused until chosen, the first key kept.
        c.goto(&format!("{base}/register")).await.expect("page");
        // The page unhides the warning once it has read the device's keys (IndexedDB,
        // after the load event): wait for that, then check it shows.
        let have = css(&c, "#have:not([hidden])").await;
        assert!(have.is_displayed().await.expect("shown"));
        css(&c, "#code")
            .await
            .send_keys(&node.codes[1])
            .await
            .expect("type");
        css(&c, "form[data-register] button[type=submit]")
            .await
            .click()
            .await
            .expect("send");
        let choose = data(&c, "choose").await;
        assert_eq!(refused(&c, "form[data-register]").await, choose);
        // Nothing was sent: the same code still works once the choice is made.
        register(&c, &base, &node.codes[1], "Bruno", true).await;
        c.goto(&format!("{base}/c/{id}")).await.expect("page");
        let signer = text(&c, "form[data-kind=ballot] p.signer").await;
        assert!(signer.contains("Bruno"), "{signer}");
        visit(&c, &base, "/me", &axe).await;
        let radios = c
            .find_all(Locator::Css("#ids input[type=radio]"))
            .await
            .expect("radios");
        assert_eq!(radios.len(), 2, "both keys kept");
        let bruno = text(&c, "#mykey").await;
        radios[0].click().await.expect("pick Anne");
        // The choice is written to IndexedDB after the click; leaving the page before
        // that write lands would abort it (it did, once, on a loaded machine).
        let deadline = Instant::now() + WAIT;
        while text(&c, "#mykey").await == bruno {
            assert!(
                Instant::now() < deadline,
                "the key never changed from {bruno}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let deadline = Instant::now() + WAIT;
        loop {
            c.goto(&format!("{base}/c/{id}")).await.expect("page");
            let signer = text(&c, "form[data-kind=ballot] p.signer").await;
            if signer.contains("Anne") {
                break;
            }
            assert!(Instant::now() < deadline, "{signer}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        c.close().await.expect("close");
    });
}
