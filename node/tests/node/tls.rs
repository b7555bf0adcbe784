//! The auditor's commands against a town behind HTTPS, as OPERATIONS.md tells towns to
//! run: a TLS-terminating proxy in this process (tokio-rustls, a certificate from a
//! private CA made by rcgen) in front of a real `palabre serve` on loopback, and the real
//! binary run against `https://…` — `audit`, `export` and `check-receipt`, which also
//! says what each receipt was for and whether a later ballot replaced it. An untrusted
//! certificate is refused with a message that names the node.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use palabre_core::crypto::SecretKey;
use palabre_core::event::{ArgumentBody, BallotBody, Body, Event, ProposalBody, Stance};
use palabre_core::ids::EventId;
use palabre_core::tally::Choice;
use serde_json::{Value, json};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::{
    authority, consultation_detail, first_proposal, http, now_ms, redeem, site, start_with,
};

/// A private certificate authority and a server certificate it signed for 127.0.0.1.
struct Certificates {
    ca_pem: String,
    server: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn certificates() -> Certificates {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Palabre test town CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let key = rcgen::KeyPair::generate().expect("server key");
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("server params")
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("server certificate");
    Certificates {
        ca_pem: ca_cert.pem(),
        server: server.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// Terminates TLS on `listener` and forwards each connection to the node at `upstream`,
/// on its own runtime (dropped with it).
fn tls_front(
    listener: TcpListener,
    upstream: String,
    certs: &Certificates,
) -> tokio::runtime::Runtime {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![certs.server.clone()], certs.key.clone_key())
    .expect("server TLS config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    listener.set_nonblocking(true).expect("non-blocking");
    rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to do.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut node) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut node).await;
            });
        }
    });
    rt
}

fn palabre(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palabre"))
        .args(args)
        .env("PALABRE_LOG", "warn")
        .output()
        .expect("palabre runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Posts `event`; the node's whole answer (the receipt and the town's authority event).
fn post(addr: &str, key: &SecretKey, body: Body) -> Value {
    let event = Event {
        author: key.public_key(),
        created_at_ms: now_ms(),
        body,
    }
    .sign(key)
    .expect("valid event");
    let (status, v) = http(addr, "POST", "/api/v1/events", event.bytes()).expect("post");
    assert_eq!(status, 201, "{v}");
    v
}

fn write(path: &Path, v: &Value) -> String {
    std::fs::write(path, serde_json::to_vec(v).expect("json")).expect("write");
    path.to_str().expect("utf-8 path").to_owned()
}

#[test]
fn the_auditor_checks_a_town_behind_https() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("node");
    let front = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("https://{}", front.local_addr().expect("address"));
    // The town declares its public https:// address in its signed authority event.
    let node = start_with(
        &data,
        &[
            ("PALABRE_CLOSE_GRACE_MS", "0"),
            ("PALABRE_PUBLIC_URL", &url),
        ],
    );
    let certs = certificates();
    let _front = tls_front(front, node.addr.clone(), &certs);
    let ca = dir.path().join("town-ca.pem");
    std::fs::write(&ca, &certs.ca_pem).expect("write CA");
    let ca = ca.to_str().expect("utf-8 path");

    // A resident proposes, argues, votes, then votes again (blank) before the close.
    let voter = SecretKey::from_seed(&[7; 32]);
    assert!(redeem(&node.addr, &node.codes[0], &voter));
    let cid: EventId = site::closing_soon(&node.addr, &data, 4_000)
        .parse()
        .expect("id");
    let detail = consultation_detail(&node.addr, &cid);
    let pid = first_proposal(&detail);
    let proposal = post(
        &node.addr,
        &voter,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "Planter des tilleuls".into(),
            body: "Sur la place.".into(),
            cost: None,
        }),
    );
    let argument = post(
        &node.addr,
        &voter,
        Body::Argument(ArgumentBody {
            proposal: pid,
            stance: Stance::Pro,
            body: "Le lavoir fait partie du village.".into(),
        }),
    );
    let ballot = |choice| {
        post(
            &node.addr,
            &voter,
            Body::Ballot(BallotBody {
                consultation: cid,
                choice,
                assistance: None,
            }),
        )
    };
    let first = ballot(Choice::Approve(vec![pid]));
    let second = ballot(Choice::Approve(vec![]));
    assert!(first["authority"]["kind"] == json!("authority"), "{first}");

    // Wait for the node's result: the consultation is closed and audited end to end.
    let me = authority(&node.addr);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, head) = http(
            &node.addr,
            "GET",
            &format!("/api/v1/logs/{me}/checkpoint"),
            b"",
        )
        .expect("head");
        let size = head["head"]["size"].as_u64().expect("size");
        let (_, page) = http(
            &node.addr,
            "GET",
            &format!("/api/v1/logs/{me}/entries?start={}&end={size}", size - 1),
            b"",
        )
        .expect("entries");
        if page["entries"][0]["kind"] == json!("result") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node never published its result"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let cid_text = cid.to_string();
    let audit = palabre(&[
        "audit",
        "--consultation",
        &cid_text,
        "--node",
        &url,
        "--ca-cert",
        ca,
        "--json",
    ]);
    assert!(audit.status.success(), "{}", text(&audit));
    let report: Value = serde_json::from_slice(&audit.stdout).expect("a JSON report");
    assert_eq!(report["failures"], json!([]));
    assert_eq!(report["n_ballots_seen"], json!(2));
    assert_eq!(report["n_ballots_counted"], json!(1));
    let bundle = dir.path().join("bundle.json");
    let bundle = bundle.to_str().expect("utf-8 path");
    let export = palabre(&[
        "export",
        "--consultation",
        &cid_text,
        "--bundle",
        bundle,
        "--node",
        &url,
        "--ca-cert",
        ca,
    ]);
    assert!(export.status.success(), "{}", text(&export));
    let offline = palabre(&["audit", "--bundle", bundle, "--json"]);
    assert!(offline.status.success(), "{}", text(&offline));

    // Without the town's CA, its certificate is not trusted: refused, naming the node.
    let refused = palabre(&["audit", "--consultation", &cid_text, "--node", &url]);
    assert!(!refused.status.success(), "{}", text(&refused));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains(&url), "{why}");
    assert!(
        why.contains("certificate") && why.contains("--ca-cert"),
        "{why}"
    );
    let refused = palabre(&[
        "check-receipt",
        &write(&dir.path().join("r.json"), &first),
        "--node",
        &url,
    ]);
    assert!(!refused.status.success(), "{}", text(&refused));
    // A file that is no certificate is refused before any request.
    let not_pem = palabre(&[
        "audit",
        "--consultation",
        &cid_text,
        "--node",
        &url,
        "--ca-cert",
        bundle,
    ]);
    assert!(!not_pem.status.success(), "{}", text(&not_pem));
    assert!(
        text(&not_pem).contains("no certificate"),
        "{}",
        text(&not_pem)
    );

    // The first ballot's receipt, with no --node: the town's declared https:// address
    // is asked; the receipt holds, and says that a later ballot replaced this one.
    let receipt = |name: &str, answer: &Value, extra: &[&str]| {
        let file = write(&dir.path().join(name), answer);
        let mut args = vec!["check-receipt", file.as_str(), "--ca-cert", ca];
        args.extend_from_slice(extra);
        let out = palabre(&args);
        (out.status.code(), text(&out))
    };
    let (code, said) = receipt("first.json", &first, &[]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains(&format!("Asking {url}")), "{said}");
    assert!(said.contains("a ballot in \"Fermeture du test\""), "{said}");
    assert!(said.contains("choosing \"Garder le lavoir\""), "{said}");
    assert!(
        said.contains("a later ballot of the same voter replaced it")
            && said.contains("this one does not"),
        "{said}"
    );
    assert!(said.contains("PASSED"), "{said}");
    let (code, said) = receipt("second.json", &second, &[]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("a blank ballot"), "{said}");
    assert!(
        said.contains("it is this voter's ballot that counted"),
        "{said}"
    );
    // The same over plain http, on the node itself.
    let plain = format!("http://{}", node.addr);
    let (code, said) = receipt("second-plain.json", &second, &["--node", &plain]);
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("that counted") && !said.contains("Asking"),
        "{said}"
    );
    let (code, said) = receipt("proposal.json", &proposal, &[]);
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("a proposal, \"Planter des tilleuls\", in \"Fermeture du test\""),
        "{said}"
    );
    let (code, said) = receipt("argument.json", &argument, &[]);
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains(
            "an argument for the proposal \"Garder le lavoir\", in \"Fermeture du test\""
        ),
        "{said}"
    );
    // A bare receipt names no node: the command says to give one.
    let (code, said) = receipt("bare.json", &first["receipt"], &[]);
    assert_ne!(code, Some(0), "{said}");
    assert!(said.contains("give --node"), "{said}");
}
