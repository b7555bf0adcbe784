//! `palabre-bench --staff`: what the town hall's pages cost on this machine, through the
//! real router of a `palabre serve` child on loopback — the first administrator (an
//! Argon2id hash and a signed appointment), logins (an Argon2id check each), a batch of
//! letters (codes made, hashed and stored), its print page and CSV, the transparency
//! page that counts the batch, and the node's memory after. Timings live here, never in
//! tests.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use crate::bench::{Node, mib, rss_kib};

/// A minimal browser: one request per connection, cookies kept.
struct Web {
    addr: String,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    location: String,
    body: String,
}

impl Web {
    fn request(&mut self, method: &str, path: &str, form: &[(&str, &str)]) -> anyhow::Result<Page> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let cookies = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut s = TcpStream::connect(&self.addr)?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nCookie: {cookies}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| anyhow::anyhow!("no HTTP head"))?;
        let mut page = Page {
            status: head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            location: String::new(),
            body: body.to_owned(),
        };
        for line in head.lines().skip(1) {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim().to_lowercase(), v.trim());
            if k == "location" {
                page.location = v.to_owned();
            }
            if k == "set-cookie"
                && let Some((name, rest)) = v.split_once('=')
            {
                let value = rest.split(';').next().unwrap_or("");
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Ok(page)
    }
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the first `name="csrf" value="…"` of a page.
fn csrf(html: &str) -> anyhow::Result<String> {
    let key = "name=\"csrf\" value=\"";
    let at = html
        .find(key)
        .ok_or_else(|| anyhow::anyhow!("no CSRF token on the page"))?;
    let rest = &html[at + key.len()..];
    Ok(rest[..rest.find('"').unwrap_or(0)].to_owned())
}

pub fn run(letters: usize, logins: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("palabre-staffbench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let result = measure(&dir, letters, logins);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn measure(dir: &std::path::Path, letters: usize, logins: usize) -> anyhow::Result<()> {
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let node = Node::start(dir)?;
    let setup = node
        .setup
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the node printed no setup link"))?;
    let (idle, _) = rss_kib(node.pid());
    let mut web = Web {
        addr: node.addr.clone(),
        cookies: BTreeMap::new(),
    };
    const PASSWORD: &str = "un mot de passe long";
    let t = Instant::now();
    let page = web.request(
        "POST",
        &setup,
        &[
            ("name", "Bench"),
            ("login", "bench"),
            ("password", PASSWORD),
        ],
    )?;
    anyhow::ensure!(page.status == 303, "setup answered {}", page.status);
    let took = ms(t);
    println!(
        "first administrator (Argon2id hash, signed appointment): {:>8.1} ms",
        took
    );
    crate::report::figure("first administrator", took, "ms");
    let (after_setup, _) = rss_kib(node.pid());

    let t = Instant::now();
    for _ in 0..logins {
        let mut fresh = Web {
            addr: node.addr.clone(),
            cookies: BTreeMap::new(),
        };
        let form = fresh.request("GET", "/staff/login", &[])?;
        let token = csrf(&form.body)?;
        let page = fresh.request(
            "POST",
            "/staff/login",
            &[("login", "bench"), ("password", PASSWORD), ("csrf", &token)],
        )?;
        anyhow::ensure!(page.status == 303, "login answered {}", page.status);
    }
    let took = ms(t);
    println!(
        "login (form + Argon2id check), mean of {logins}:   {:>8.1} ms",
        took / logins as f64
    );
    crate::report::figure("login, mean", took / logins as f64, "ms");
    let (after_logins, _) = rss_kib(node.pid());

    let token = csrf(&web.request("GET", "/staff", &[])?.body)?;
    let count = letters.to_string();
    let t = Instant::now();
    let page = web.request(
        "POST",
        "/staff/letters",
        &[("csrf", &token), ("label", "Bench"), ("count", &count)],
    )?;
    anyhow::ensure!(page.status == 303, "letters answered {}", page.status);
    let took = ms(t);
    println!(
        "{letters} letters made, hashed and stored:           {:>8.1} ms",
        took
    );
    crate::report::figure(
        &format!("{letters} letters made, hashed and stored"),
        took,
        "ms",
    );
    let batch = page.location;
    let t = Instant::now();
    let print = web.request("GET", &format!("{batch}/print?from=0"), &[])?;
    anyhow::ensure!(print.status == 200, "print answered {}", print.status);
    let print_ms = ms(t);
    let on_page = print.body.matches("class=\"letter\"").count().max(1);
    println!(
        "one print page ({on_page} letters):                 {:>8.1} ms, {:.0} KiB ({:.0} bytes a letter, uncompressed)",
        print_ms,
        print.body.len() as f64 / 1024.0,
        print.body.len() as f64 / on_page as f64
    );
    crate::report::figure(
        &format!("one print page ({on_page} letters)"),
        print_ms,
        "ms",
    );
    crate::report::figure(
        "one print page, size",
        print.body.len() as f64 / 1024.0,
        "KiB",
    );
    let t = Instant::now();
    let csv = web.request("GET", &format!("{batch}/codes.csv"), &[])?;
    anyhow::ensure!(csv.status == 200, "CSV answered {}", csv.status);
    let took = ms(t);
    println!(
        "CSV of {letters} codes:                             {:>8.1} ms, {:.0} KiB",
        took,
        csv.body.len() as f64 / 1024.0
    );
    crate::report::figure(&format!("CSV of {letters} codes"), took, "ms");
    let t = Instant::now();
    let page = web.request("GET", "/transparency", &[])?;
    anyhow::ensure!(page.status == 200, "transparency answered {}", page.status);
    let took = ms(t);
    println!(
        "transparency page (counts {letters} code states):   {:>8.1} ms",
        took
    );
    crate::report::figure("transparency page", took, "ms");
    let (rss, peak) = rss_kib(node.pid());
    println!(
        "node RSS: idle {:.1} MiB, after the setup {:.1} MiB, after the logins {:.1} MiB, at the end {:.1} MiB, peak {:.1} MiB",
        mib(idle),
        mib(after_setup),
        mib(after_logins),
        mib(rss),
        mib(peak)
    );
    crate::report::figure("node RSS, idle", mib(idle), "MiB");
    crate::report::figure("node RSS, at the end", mib(rss), "MiB");
    crate::report::figure("node RSS, peak", mib(peak), "MiB");
    node.stop()
}
