//! The HTTP client of the auditor's commands (`palabre audit`, `export`, `check-receipt`):
//! GET one path of a node and return the body of a 200, or an error naming the node and
//! the status. A node is not trusted: its answer is read up to a bound and no further.
//! What the bodies mean, and every check on them, is left to the callers and to core.
//!
//! It speaks plain HTTP (a node behind HTTPS is audited from a bundle, which its site
//! serves at `/api/v1/consultations/{id}/bundle`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The largest answer taken from a node: a page of 1,000 entries of at most 64 KiB
/// each, with room for the JSON around them.
pub const MAX_ANSWER_BYTES: u64 = 70 * 1024 * 1024;

/// A node's base URL, `http://host:port`.
pub struct NodeUrl {
    authority: String,
    pub text: String,
}

impl NodeUrl {
    pub fn parse(url: &str) -> anyhow::Result<NodeUrl> {
        let rest = url
            .strip_prefix("http://")
            .with_context(|| format!("{url}: only http:// node addresses are supported"))?;
        let authority = rest.trim_end_matches('/').to_owned();
        anyhow::ensure!(
            !authority.is_empty() && !authority.contains('/'),
            "{url}: give the node's address without a path, like http://127.0.0.1:8080"
        );
        Ok(NodeUrl {
            authority,
            text: url.trim_end_matches('/').to_owned(),
        })
    }

    /// GET `path`; the body of a 200, or an error naming the node and the status.
    pub fn get(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let mut s = TcpStream::connect(&self.authority)
            .with_context(|| format!("connecting to {}", self.text))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.authority
        )?;
        let mut raw = Vec::new();
        // A node is not trusted: its answer is read up to a bound, never to its end.
        (&mut s)
            .take(MAX_ANSWER_BYTES + 1)
            .read_to_end(&mut raw)
            .with_context(|| format!("reading {}{path}", self.text))?;
        anyhow::ensure!(
            raw.len() as u64 <= MAX_ANSWER_BYTES,
            "{}{path}: the answer is over {MAX_ANSWER_BYTES} bytes",
            self.text
        );
        let at = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .with_context(|| format!("{}{path}: not an HTTP answer", self.text))?;
        let head = String::from_utf8_lossy(&raw[..at]).to_string();
        let status = head.split_whitespace().nth(1).unwrap_or("");
        anyhow::ensure!(status == "200", "{}{path}: status {status}", self.text);
        let body = raw[at + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            return dechunk(&body).with_context(|| format!("{}{path}: bad chunks", self.text));
        }
        Ok(body)
    }
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        let start = end + 2;
        out.extend_from_slice(rest.get(start..start + size)?);
        rest = rest.get(start + size + 2..)?;
    }
}

/// A page of a log's entries (`GET /api/v1/logs/{a}/entries`): each entry is the
/// event's raw JSON, kept byte for byte as the node sent it.
#[derive(Deserialize)]
pub struct Entries<'a> {
    #[serde(borrow)]
    pub entries: Vec<&'a RawValue>,
}
