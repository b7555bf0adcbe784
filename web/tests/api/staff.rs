//! The staff pages in-process (issue 16, point 7): the node's whole router, as
//! `palabre_web::serve` runs it, on a real loopback socket against the test backend —
//! the first administrator's one-time link, a session, a page for members only.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::world;

/// One request over a fresh connection: (status, head, body).
async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    cookie: &str,
    form: &str,
) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: palabre.test\r\nConnection: close\r\nAccept-Language: fr\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, head.to_lowercase(), body.to_owned())
}

#[tokio::test]
async fn the_staff_pages_serve_in_process() {
    // A declared town with a consultation.
    let (backend, _, _) = world();
    let link = palabre_web::staff::first_admin_link(&*backend)
        .expect("the office answers")
        .expect("no administrator yet");
    let path = link
        .strip_prefix("http://palabre.test")
        .expect("on the public address")
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(palabre_web::serve(
        listener,
        Arc::clone(&backend),
        palabre_web::ApiConfig::default(),
        axum::Router::new(),
        palabre_web::conn::ConnLimits::for_file_limit(1024),
        async {
            let _ = stopped.await;
        },
    ));

    let (status, _, body) = request(addr, "GET", &path, "", "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Premier compte administrateur"), "{body}");
    let form = "name=Claire+Martin&login=claire&password=mairie-2026-admin";
    let (status, head, body) = request(addr, "POST", &path, "", form).await;
    assert_eq!(status, 303, "{head}{body}");
    assert!(head.contains("location: /staff\r\n"), "{head}");
    let session = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let (status, _, body) = request(addr, "GET", "/staff", &session, "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Claire Martin"), "{body}");
    let (status, _, body) = request(addr, "GET", "/staff/consultations/new", &session, "").await;
    assert_eq!(status, 200);
    assert!(body.contains("method=approval"), "{body}");
    // The link works once; without a session the team page sends to the login.
    let (status, _, _) = request(addr, "GET", &path, "", "").await;
    assert_eq!(status, 404, "a used link is gone");
    let (status, head, _) = request(addr, "GET", "/staff/team", "", "").await;
    assert_eq!(status, 303);
    assert!(head.contains("location: /staff/login"), "{head}");
    // The residents' site and the API are the same router's.
    let (status, _, body) = request(addr, "GET", "/api/v1/consultations", "", "").await;
    assert_eq!(status, 200, "{body}");

    stop.send(()).expect("the server waits");
    server.await.expect("joined").expect("a clean stop");
}
