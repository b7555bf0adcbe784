//! The HTTP client of the auditor's commands (`palabre audit`, `export`, `check-receipt`):
//! GET one path of a node, over `http://` or `https://`, and return the body of a 200, or
//! an error naming the node and the status. A node is not trusted: its answer is read up
//! to a bound ([`MAX_ANSWER_BYTES`]) and no further, within timeouts. What the bodies
//! mean, and every check on them, is left to the callers and to core.
//!
//! HTTPS is `ureq` with rustls (the `ring` provider), trusting Mozilla's roots, plus
//! any certificate authority given with `--ca-cert` (a town with its own CA).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use serde_json::value::RawValue;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// The largest answer taken from a node: a page of 1,000 entries of at most 64 KiB
/// each, with room for the JSON around them.
pub const MAX_ANSWER_BYTES: u64 = 70 * 1024 * 1024;

/// How long to wait for a connection (TCP and TLS), and for any one read of an answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The one agent of this process: set by [`trust`] from the command line, before the
/// first request; a command that never calls it trusts Mozilla's roots alone.
static AGENT: OnceLock<ureq::Agent> = OnceLock::new();

/// Trusts the certificate authorities in each PEM file too, besides Mozilla's roots,
/// for every `https://` node of this run. Call once, before any request.
pub fn trust(ca_certs: &[PathBuf]) -> anyhow::Result<()> {
    if ca_certs.is_empty() {
        return Ok(());
    }
    let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()))
        .collect();
    for path in ca_certs {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let before = roots.len();
        for item in ureq::tls::parse_pem(&pem) {
            let item = item.with_context(|| format!("{}: not a PEM file", path.display()))?;
            if let PemItem::Certificate(c) = item {
                roots.push(c.to_owned());
            }
        }
        anyhow::ensure!(
            roots.len() > before,
            "{}: no certificate in this file (a PEM file holds \"-----BEGIN CERTIFICATE-----\" blocks)",
            path.display()
        );
    }
    let agent = agent_with(RootCerts::Specific(Arc::new(roots)));
    AGENT
        .set(agent)
        .map_err(|_| anyhow::anyhow!("the trusted certificates are set once, before any request"))
}

fn agent_with(roots: RootCerts) -> ureq::Agent {
    ureq::Agent::config_builder()
        // Statuses are read and reported here, with the node's name.
        .http_status_as_error(false)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .user_agent(concat!("palabre/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

fn agent() -> &'static ureq::Agent {
    AGENT.get_or_init(|| agent_with(RootCerts::WebPki))
}

/// A node's base URL, `http://host:port` or `https://host[:port]`, without a path.
#[derive(Debug, Clone)]
pub struct NodeUrl {
    pub text: String,
}

impl NodeUrl {
    pub fn parse(url: &str) -> anyhow::Result<NodeUrl> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .with_context(|| format!("{url}: a node's address starts with https:// or http://"))?;
        let authority = rest.trim_end_matches('/');
        anyhow::ensure!(
            !authority.is_empty() && !authority.contains(['/', '?', '#', '@']),
            "{url}: give the node's address without a path, like https://palabre.example.org or http://127.0.0.1:8080"
        );
        Ok(NodeUrl {
            text: url.trim_end_matches('/').to_owned(),
        })
    }

    /// GET `path`; the body of a 200, or an error naming the node and the status.
    pub fn get(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let url = format!("{}{path}", self.text);
        let mut answer = agent()
            .get(&url)
            .call()
            .map_err(|e| explain(&self.text, &url, e))?;
        let status = answer.status();
        anyhow::ensure!(status == 200, "{url}: status {status}");
        // A node is not trusted: its answer is read up to a bound, never to its end.
        answer
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => {
                    anyhow::anyhow!("{url}: the answer is over {MAX_ANSWER_BYTES} bytes")
                }
                e => anyhow::anyhow!("reading {url}: {e}"),
            })
    }
}

/// A failed request, in words that name the node and what to do.
fn explain(node: &str, url: &str, e: ureq::Error) -> anyhow::Error {
    // rustls's refusals come either as they are or inside the I/O error of the handshake.
    let tls = match &e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    match (tls, &e) {
        (Some(r @ rustls::Error::InvalidCertificate(_)), _) => anyhow::anyhow!(
            "{node}: its TLS certificate is not trusted ({r}); if the town uses its own certificate authority, give it with --ca-cert FILE"
        ),
        (Some(r), _) => anyhow::anyhow!("{node}: the TLS connection failed ({r})"),
        (None, ureq::Error::Timeout(t)) => anyhow::anyhow!("{url}: no answer in time ({t})"),
        (None, _) => anyhow::anyhow!("connecting to {node} ({url}): {e}"),
    }
}

/// A page of a log's entries (`GET /api/v1/logs/{a}/entries`): each entry is the
/// event's raw JSON, kept byte for byte as the node sent it.
#[derive(Debug, Deserialize)]
pub struct Entries<'a> {
    #[serde(borrow)]
    pub entries: Vec<&'a RawValue>,
}
