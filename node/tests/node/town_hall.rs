//! A town hall's whole consultation in a real headless Chromium against the real
//! `palabre serve --demo`: the first administrator opens the setup link, appoints a
//! moderator and a desk agent, drafts, previews and publishes a consultation, puts two
//! projects forward and prints letters; a resident registers with one of those codes
//! (from the letter's QR link), votes and argues; the argument is reported and a
//! moderator hides it, and the public log shows why; a desk agent registers someone
//! without a device (the card's QR code then moves the key into a phone's browser) and
//! records their assisted ballot; the open-data files linked from
//! the results page parse and match the node's tally. Every staff and public page on
//! the way meets the site's budgets and axe-core's rules. A second test walks a
//! newcomer's first ten minutes, on a port of its own and on a phone, to the results
//! after the close; it takes README's screenshots.

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::site::{
    answered, axe_source, browser, check_page, css, driver, save_screenshot, visit, vote,
};
use super::staff::PASSWORD;
use super::{get_raw, http, start};

const ADMIN_PASSWORD: &str = "mairie-2026-admin";

async fn fill(c: &Client, selector: &str, text: &str) {
    let e = css(c, selector).await;
    e.clear().await.expect("clear");
    e.send_keys(text).await.expect("type");
}

async fn click(c: &Client, selector: &str) {
    css(c, selector).await.click().await.expect("click");
}

async fn set_value(c: &Client, selector: &str, value: &str) {
    c.execute(
        "document.querySelector(arguments[0]).value = arguments[1];",
        vec![json!(selector), json!(value)],
    )
    .await
    .expect("set a value");
}

async fn text(c: &Client, selector: &str) -> String {
    css(c, selector).await.text().await.expect("text")
}

/// The page's text, read in one step (no element to go stale while a page loads).
async fn body(c: &Client) -> String {
    c.execute(
        "return document.body ? document.body.innerText : '';",
        vec![],
    )
    .await
    .ok()
    .and_then(|v| v.as_str().map(str::to_owned))
    .unwrap_or_default()
}

/// Waits until the page's address ends with `suffix` (after a form or a link).
async fn arrived(c: &Client, what: &str, matches: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let url = c.current_url().await.expect("url").to_string();
        if matches(&url) {
            return url;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: still at {url}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn login(c: &Client, base: &str, login: &str, password: &str) {
    c.goto(&format!("{base}/staff/login"))
        .await
        .expect("login page");
    fill(c, "#login", login).await;
    fill(c, "#password", password).await;
    click(c, "main form button[type=submit]").await;
    arrived(c, "login", |u| u.ends_with("/staff")).await;
}

async fn logout(c: &Client, base: &str) {
    c.goto(&format!("{base}/staff")).await.expect("staff");
    click(c, "header form button").await;
    arrived(c, "logout", |u| u.ends_with("/staff/login")).await;
}

async fn appoint(c: &Client, base: &str, name: &str, login: &str, role: &str) {
    c.goto(&format!("{base}/staff/team")).await.expect("team");
    fill(c, "#name", name).await;
    fill(c, "#login", login).await;
    fill(c, "#password", PASSWORD).await;
    click(c, &format!("input[name=role][value={role}]")).await;
    click(c, "form[action='/staff/team'] button").await;
    shows(c, "appointment", name).await;
}

/// Waits until the page shows `words` (after a form that comes back to the same page).
async fn shows(c: &Client, what: &str, words: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if body(c).await.contains(words) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: the page never showed {words:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The town hall puts a project of its own forward in `cid`, from the consultations list.
async fn put_forward(c: &Client, base: &str, cid: &str, title: &str, body: &str) {
    c.goto(&format!("{base}/staff/consultations"))
        .await
        .expect("list");
    let form = format!("form[action='/staff/consultations/{cid}/projects']");
    click(c, &format!("details:has({form}) summary")).await;
    fill(c, &format!("{form} input[name=title]"), title).await;
    fill(c, &format!("{form} textarea[name=body]"), body).await;
    click(c, &format!("{form} button")).await;
    arrived(c, "project", |u| u.contains("/p/")).await;
}

/// `YYYY-MM-DDTHH:MM` (UTC) of now + `hours`.
fn at(hours: i64) -> String {
    let ms = super::now_ms() as i64 + hours * 3_600_000;
    let w = palabre_web::site::when(ms as u64);
    format!("{}T{}", &w[..10], &w[11..16])
}

#[test]
fn a_town_hall_runs_a_consultation_from_the_browser() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = start(&dir.path().join("node"));
    let base = format!("http://{}", node.addr);
    let setup = node.setup.clone().expect("setup link");
    let driver = driver();
    let axe = axe_source();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let staff = browser(&driver, &dir.path().join("staff"), true).await;
        let c = &staff;

        // The first administrator, from the console's one-time link.
        visit(c, &base, &setup, &axe).await;
        fill(c, "#name", "Claire Martin").await;
        fill(c, "#login", "claire").await;
        fill(c, "#password", ADMIN_PASSWORD).await;
        click(c, "main form button[type=submit]").await;
        arrived(c, "setup", |u| u.ends_with("/staff")).await;
        check_page(c, "/staff", &axe).await;
        appoint(c, &base, "Paul Moderateur", "paul", "moderator").await;
        appoint(c, &base, "Accueil mairie", "accueil", "desk").await;
        check_page(c, "/staff/team", &axe).await;

        // A consultation: drafted, previewed, published.
        // The guided form: the method first, then only its settings; the first save
        // makes the draft.
        visit(c, &base, "/staff/consultations", &axe).await;
        click(c, "#new-consultation").await;
        arrived(c, "the methods", |u| u.ends_with("/staff/consultations/new")).await;
        check_page(c, "/staff/consultations/new", &axe).await;
        click(c, "a[href$='method=approval']").await;
        arrived(c, "the approval form", |u| u.contains("method=approval")).await;
        check_page(c, "/staff/consultations/new?method=approval", &axe).await;
        assert!(c.find(Locator::Css("#threshold")).await.is_err());
        assert!(c.find(Locator::Css("ul[role=alert]")).await.is_err());
        fill(c, "#title", "Aménager le parc des Tilleuls").await;
        fill(
            c,
            "#description",
            "Deux projets sont sur la table.\n\nChoisissez-en jusqu'à deux.",
        )
        .await;
        fill(c, "#max_choices", "2").await;
        set_value(c, "#po", &at(-1)).await;
        set_value(c, "#pc", &at(48)).await;
        set_value(c, "#vo", &at(-1)).await;
        set_value(c, "#vc", &at(72)).await;
        click(c, "input[name=show_running]").await;
        click(c, "form[action='/staff/consultations'] button").await;
        arrived(c, "the new draft", |u| u.contains("/staff/drafts/")).await;
        css(c, "section.preview").await;
        let draft = c.current_url().await.expect("url").path().to_owned();
        check_page(c, &draft, &axe).await;
        assert!(
            text(c, "section.preview")
                .await
                .contains("Aménager le parc des Tilleuls")
        );
        // The preview is the residents' page itself.
        click(c, "#full-preview").await;
        arrived(c, "the preview", |u| u.ends_with("/preview")).await;
        check_page(c, &format!("{draft}/preview"), &axe).await;
        assert_eq!(text(c, "h1").await, "Aménager le parc des Tilleuls");
        c.back().await.expect("back to the draft");
        css(c, "section.preview").await;
        click(c, "form[action$='/publish'] button").await;
        let url = arrived(c, "publication", |u| u.contains("/c/")).await;
        let cid = url.rsplit('/').next().expect("id").to_owned();

        // The town hall's own projects.
        for title in ["Une aire de jeux", "Un jardin partagé"] {
            put_forward(c, &base, &cid, title, "Près de l'école.").await;
        }

        // Letters: three codes, printed within the page budget.
        visit(c, &base, "/staff/letters", &axe).await;
        fill(c, "#label", "Quartier des Tilleuls").await;
        fill(c, "#count", "3").await;
        click(c, "form[action='/staff/letters'] button").await;
        arrived(c, "batch", |u| u.contains("/staff/letters/")).await;
        check_page(c, "/staff/letters/{batch}", &axe).await;
        click(c, "a.button").await;
        arrived(c, "print", |u| u.contains("/print?from=0")).await;
        let print = c.current_url().await.expect("url").path().to_owned();
        check_page(c, &print, &axe).await;
        let codes: Vec<String> = {
            let mut out = Vec::new();
            for e in c
                .find_all(Locator::Css(".letter .code"))
                .await
                .expect("codes")
            {
                out.push(e.text().await.expect("code"));
            }
            out
        };
        assert_eq!(codes.len(), 3);
        assert_eq!(
            c.find_all(Locator::Css(".letter svg.qr"))
                .await
                .expect("qr")
                .len(),
            3
        );
        logout(c, &base).await;

        // A resident follows the first letter's QR link, registers and votes.
        let resident = browser(&driver, &dir.path().join("resident"), true).await;
        let r = &resident;
        r.goto(&format!("{base}/register?code={}", codes[0]))
            .await
            .expect("register");
        let typed = css(r, "#code").await.prop("value").await.expect("value");
        assert_eq!(typed.as_deref(), Some(codes[0].as_str()));
        click(r, "form[data-register] button").await;
        answered(r, "form[data-register]").await;
        vote(r, &base, &cid, 0).await;
        // and argues against a project
        let detail = super::consultation_detail(&node.addr, &cid.parse().expect("id"));
        let pid = detail["proposals"][0]["id"]
            .as_str()
            .expect("pid")
            .to_owned();
        r.goto(&format!("{base}/p/{pid}")).await.expect("proposal");
        click(r, "input[name=stance][value=con]").await;
        fill(r, "#arg-body", "Ce projet est une honte, comme son auteur.").await;
        click(r, "form[data-kind=argument] button").await;
        answered(r, "form[data-kind=argument]").await;
        // Another resident reports the argument.
        r.goto(&format!("{base}/p/{pid}")).await.expect("proposal");
        click(r, "li a.report").await;
        arrived(r, "report form", |u| u.contains("/report?target=")).await;
        check_page(r, "/report", &axe).await;
        fill(
            r,
            "#reason",
            "Attaque personnelle contre l'auteur du projet.",
        )
        .await;
        click(r, "main form button").await;
        css(r, ".out.ok").await;

        // The moderator hides it, with a public reason.
        login(c, &base, "paul", PASSWORD).await;
        visit(c, &base, "/staff/moderation", &axe).await;
        assert!(
            body(c)
                .await
                .contains("Attaque personnelle contre l'auteur du projet.")
        );
        fill(
            c,
            "input[id^=reason-]",
            "Attaque personnelle (charte, article 2)",
        )
        .await;
        click(c, "form[action='/staff/moderation'] button").await;
        css(c, ".out.ok").await;
        visit(r, &base, "/moderation", &axe).await;
        let log = body(r).await;
        assert!(
            log.contains("Attaque personnelle (charte, article 2)"),
            "{log}"
        );
        assert!(log.contains("Paul Moderateur"), "{log}");
        r.goto(&format!("{base}/p/{pid}")).await.expect("proposal");
        let page = body(r).await;
        assert!(!page.contains("comme son auteur"), "{page}");
        assert!(page.contains("Attaque personnelle (charte, article 2)"));

        // Erasing its text cannot be undone (issue 20, point 15): the red button leads
        // to a confirmation step, plain HTML, and only the ticked box erases.
        visit(c, &base, "/staff/moderation", &axe).await;
        fill(
            c,
            "input[id^=erase-]",
            "Données personnelles (RGPD, article 17)",
        )
        .await;
        click(c, "form[action='/staff/moderation'] button.danger").await;
        css(c, "#unconfirmed").await;
        check_page(c, "the confirmation of an erasure", &axe).await;
        let look = c
            .execute(
                r#"const plain = document.createElement("button");
                   document.querySelector("main").append(plain);
                   const ordinary = getComputedStyle(plain).backgroundColor;
                   plain.remove();
                   return [ordinary, getComputedStyle(document.querySelector("button.danger")).backgroundColor];"#,
                vec![],
            )
            .await
            .expect("colours");
        assert_ne!(look[0], look[1], "an irreversible action looks different: {look}");
        click(c, "main input[name=confirm]").await;
        click(c, "main button.danger").await;
        css(c, ".out.ok").await;
        assert!(
            c.find(Locator::Css("input[id^=erase-]")).await.is_err(),
            "erased: no longer among the hidden items to erase"
        );
        logout(c, &base).await;

        // The desk: someone without a device gets a card and an assisted ballot.
        login(c, &base, "accueil", PASSWORD).await;
        visit(c, &base, "/staff/desk", &axe).await;
        click(c, "form[action='/staff/desk/register'] button").await;
        css(c, "section.card").await;
        check_page(c, "card", &axe).await;
        let secret = text(c, "#secret").await;
        let public = text(c, "#public").await;
        // The card's QR code opens /me#key=… on a phone: the key moves into its browser
        // and the address no longer shows it.
        let phone = browser(&driver, &dir.path().join("phone"), true).await;
        let seed: String = secret.split_whitespace().collect();
        phone
            .goto(&format!("{base}/me#key={seed}"))
            .await
            .expect("me");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let shown = text(&phone, "#mykey").await;
            if shown == public {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the card's key never showed: {shown}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let address = phone.current_url().await.expect("url").to_string();
        assert!(!address.contains(&seed), "{address}");
        phone.close().await.expect("close");
        c.goto(&format!("{base}/staff/desk/vote/{cid}"))
            .await
            .expect("ballot form");
        check_page(c, "/staff/desk/vote", &axe).await;
        fill(c, "#card", &secret).await;
        click(c, "input[name=p]").await;
        click(c, "main form button").await;
        let done = text(c, ".out.ok").await;
        assert!(
            done.contains("Ballot recorded") || done.contains("Vote enregistré"),
            "{done}"
        );
        visit(r, &base, "/transparency", &axe).await;
        let t = body(r).await;
        assert!(t.contains("Accueil mairie : 1"), "{t}");
        assert!(t.contains("Quartier des Tilleuls"), "{t}");

        // The same card votes at the desk in the demo's secret referendum: this device
        // seals the choice (sealed.js); the log gets a sealed, assisted ballot, no choice.
        let referendum = super::secret_vote::secret_consultation(&node.addr);
        let rid = referendum["id"].as_str().expect("id");
        c.goto(&format!("{base}/staff/desk/vote/{rid}"))
            .await
            .expect("secret ballot form");
        check_page(c, "/staff/desk/vote (secret)", &axe).await;
        fill(c, "#card", &secret).await;
        for yes in c
            .find_all(Locator::Css("main form input[value=yes]"))
            .await
            .expect("yes buttons")
        {
            yes.click().await.expect("yes");
        }
        click(c, "main form button").await;
        let done = text(c, ".out.ok").await;
        assert!(
            done.contains("Ballot recorded") || done.contains("Vote enregistré"),
            "{done}"
        );
        let voter: String = public.split_whitespace().collect();
        let organiser = referendum["organiser"].as_str().expect("organiser");
        let sealed: Vec<Value> = super::secret_vote::served_entries(&node.addr, organiser)
            .into_iter()
            .filter(|e| e["kind"] == json!("ballot") && e["body"]["consultation"] == json!(rid))
            .collect();
        assert_eq!(sealed.len(), 1, "{sealed:?}");
        assert_eq!(sealed[0]["author"], json!(voter), "{sealed:?}");
        let b = sealed[0]["body"].as_object().expect("body");
        assert!(
            b.contains_key("sealed") && b.contains_key("assistance"),
            "{b:?}"
        );
        assert!(
            !b.contains_key("choice"),
            "the server never had the choice: {b:?}"
        );

        // Open data, from the links of the results page.
        visit(r, &base, &format!("/c/{cid}/results"), &axe).await;
        let (_, tally) = http(
            &node.addr,
            "GET",
            &format!("/api/v1/consultations/{cid}/tally"),
            b"",
        )
        .expect("tally");
        let mut links = Vec::new();
        for a in r
            .find_all(Locator::Css("a[download]"))
            .await
            .expect("links")
        {
            links.push(a.attr("href").await.expect("href").expect("an href"));
        }
        assert_eq!(
            links.len(),
            2,
            "CSV and JSON (no pabulib for an approval vote)"
        );
        let json_file: Value =
            serde_json::from_slice(&get_raw(&node.addr, &links[1])).expect("json");
        assert_eq!(json_file["tally"], tally["tally"]);
        assert_eq!(json_file["participation"]["n_voters_counted"], json!(2));
        let csv = String::from_utf8(get_raw(&node.addr, &links[0])).expect("utf-8");
        let rows = tally["tally"]["rows"].as_array().expect("rows");
        assert_eq!(csv.lines().count(), rows.len() + 1, "{csv}");
        for row in rows {
            let id = row["proposal"]
                .as_str()
                .or_else(|| row["id"].as_str())
                .expect("a row id");
            assert!(csv.contains(id), "{csv}");
        }
        staff.close().await.expect("close");
        resident.close().await.expect("close");
    });
}

/// Issue 20: a newcomer's first ten minutes, as a town and a resident would live them.
/// The node runs on a port of its own; the printed setup link is followed as printed;
/// the first administrator publishes a consultation through the guided form and prints
/// a letter; on a phone-sized window, the letter's link (the one its QR code and its
/// mail-merge line carry) registers a resident, who votes and keeps the receipt; after
/// the close (the node restarted with its clock moved past it) the results show the
/// vote. Each step asserts what a person sees. With `PALABRE_WRITE_SCREENSHOT=1` it
/// writes README's screenshots.
#[test]
fn a_newcomers_first_ten_minutes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("node");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("addr")
        .port();
    let served = format!("127.0.0.1:{port}");
    let args = ["--demo", "--http", served.as_str()];
    let grace = [("PALABRE_CLOSE_GRACE_MS", "1000")];
    let node = super::start_args(&data, &args, &grace);
    let base = format!("http://{served}");
    let link = node
        .setup_link
        .clone()
        .expect("the node prints its setup link");
    assert!(link.starts_with(&format!("{base}/staff/setup/")), "{link}");
    let driver = driver();
    let axe = axe_source();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cid = rt.block_on(async {
        let staff = browser(&driver, &dir.path().join("staff"), true).await;
        let c = &staff;
        c.set_window_size(1280, 900).await.expect("a desktop");
        // The printed link, whole, as a person would paste it.
        c.goto(&link).await.expect("the setup link");
        check_page(c, "/staff/setup", &axe).await;
        fill(c, "#name", "Claire Martin").await;
        fill(c, "#login", "claire").await;
        fill(c, "#password", ADMIN_PASSWORD).await;
        click(c, "main form button[type=submit]").await;
        arrived(c, "setup", |u| u.ends_with("/staff")).await;
        shows(c, "the dashboard", "Claire Martin").await;

        // A consultation through the guided form: the method, then its settings.
        c.goto(&format!("{base}/staff/consultations"))
            .await
            .expect("list");
        click(c, "#new-consultation").await;
        click(c, "a[href$='method=approval']").await;
        arrived(c, "the approval form", |u| u.contains("method=approval")).await;
        fill(c, "#title", "Le nom de la nouvelle école").await;
        fill(
            c,
            "#description",
            "Trois noms sont proposés. Choisissez-en un ou deux.",
        )
        .await;
        fill(c, "#max_choices", "2").await;
        set_value(c, "#po", &at(-1)).await;
        set_value(c, "#pc", &at(1)).await;
        set_value(c, "#vo", &at(-1)).await;
        set_value(c, "#vc", &at(2)).await;
        save_screenshot(c, "new-consultation").await;
        click(c, "form[action='/staff/consultations'] button").await;
        arrived(c, "the draft", |u| u.contains("/staff/drafts/")).await;
        shows(c, "the preview", "Le nom de la nouvelle école").await;
        click(c, "form[action$='/publish'] button").await;
        let url = arrived(c, "publication", |u| u.contains("/c/")).await;
        let cid = url.rsplit('/').next().expect("id").to_owned();
        // The town hall puts two names forward.
        for title in ["École des Tilleuls", "École Marie-Curie"] {
            put_forward(c, &base, &cid, title, "Un nom pour l'école.").await;
        }
        c.goto(&format!("{base}/c/{cid}")).await.expect("page");
        shows(c, "the consultation", "École Marie-Curie").await;
        save_screenshot(c, "consultation-desktop").await;

        // One letter, printed; its link is the one its QR code and CSV line carry.
        c.goto(&format!("{base}/staff/letters"))
            .await
            .expect("letters");
        shows(c, "the printed address", &base).await;
        fill(c, "#label", "Rue des Écoles").await;
        fill(c, "#count", "1").await;
        click(c, "form[action='/staff/letters'] button").await;
        let batch = arrived(c, "batch", |u| u.contains("/staff/letters/")).await;
        c.goto(&format!("{batch}/print")).await.expect("print");
        let letter = text(c, ".letter").await;
        assert!(letter.contains(&base), "{letter}");
        assert!(letter.contains("Le nom de la nouvelle école"), "{letter}");
        let code = text(c, ".letter .code").await;
        // The mail-merge file, fetched as the logged-in member's browser would.
        let csv = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch(arguments[0]).then((r) => r.text()).then(done, (e) => done(String(e)));",
                vec![json!(format!("{batch}/codes.csv"))],
            )
            .await
            .expect("the CSV");
        let csv = csv.as_str().expect("text").to_owned();
        let qr_link = csv
            .lines()
            .find(|l| l.starts_with(&code))
            .and_then(|l| l.split(',').find(|f| f.contains("/register?code=")))
            .expect("the letter's link")
            .to_owned();
        assert_eq!(qr_link, format!("{base}/register?code={code}"));
        staff.close().await.expect("close");

        // On a phone: the letter's link, registration, a vote, the receipt kept.
        let phone = browser(&driver, &dir.path().join("phone"), true).await;
        let r = &phone;
        r.set_window_size(360, 800).await.expect("a phone");
        r.goto(&qr_link).await.expect("the letter's link");
        let typed = css(r, "#code").await.prop("value").await.expect("value");
        assert_eq!(typed.as_deref(), Some(code.as_str()));
        click(r, "form[data-register] button").await;
        answered(r, "form[data-register]").await;
        css(r, "#next .backup").await;
        vote(r, &base, &cid, 0).await;
        save_screenshot(r, "consultation-phone").await;
        r.goto(&format!("{base}/me"))
            .await
            .expect("my participation");
        let receipt = css(r, "#receipts a.download").await;
        let saved = receipt.attr("download").await.ok().flatten();
        assert!(saved.is_some_and(|f| f.ends_with(".json")));
        let file: Value = r
            .execute(
                "const a = document.querySelector('#receipts a.download');
                 return JSON.parse(decodeURIComponent(a.href.split(',').slice(1).join(',')));",
                vec![],
            )
            .await
            .expect("the receipt file");
        assert!(file.get("receipt").is_some(), "{file}");
        phone.close().await.expect("close");
        cid
    });
    drop(node);

    // After the close: the node restarted three hours later.
    let later = (3 * 3_600_000).to_string();
    let env = [grace[0], ("PALABRE_CLOCK_OFFSET_MS", later.as_str())];
    let node = super::start_args(&data, &args, &env);
    rt.block_on(async {
        let r = browser(&driver, &dir.path().join("phone"), true).await;
        r.set_window_size(360, 800).await.expect("a phone");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            r.goto(&format!("{base}/c/{cid}/results"))
                .await
                .expect("results");
            if r.find(Locator::Css("a[download]")).await.is_ok() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{}", body(&r).await);
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        check_page(&r, "/c/{id}/results", &axe).await;
        let shown = body(&r).await;
        assert!(shown.contains("École des Tilleuls"), "{shown}");
        assert!(
            shown.contains("1 bulletin") || shown.contains("1 ballot"),
            "{shown}"
        );
        save_screenshot(&r, "results").await;
        r.close().await.expect("close");
    });
    drop(node);
}
