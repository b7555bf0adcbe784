//! The open-data route in-process, against the test backend and a renderer that counts
//! what it is asked to make: a hidden result is refused before anything is made, a file
//! is made once while no log grows and again once one does, and what is not a file of a
//! recorded consultation is not found.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body as HttpBody;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use palabre_core::event::{Body, CheckpointBody, CredentialBody};
use palabre_core::record::Record;
use palabre_core::testkit::world::{DAY, T0, key, sign};
use palabre_web::opendata::{File, HIDDEN, Render, routes};
use tower::ServiceExt;

use crate::{TestBackend, world};

/// A renderer that counts its calls and names the file and the logs' entries it saw.
fn counting() -> (Render, Arc<AtomicUsize>) {
    let made = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&made);
    let render: Render = Arc::new(move |input, file| {
        seen.fetch_add(1, Ordering::SeqCst);
        let entries: usize = input.logs.iter().map(|l| l.entries.len()).sum();
        match file {
            File::Pb => Err("not a participatory budget".to_owned()),
            _ => Ok(format!(
                "{file:?} of {} over {entries} entries",
                input.consultation
            )),
        }
    });
    (render, made)
}

async fn get(b: &Arc<TestBackend>, render: &Render, uri: &str) -> (StatusCode, String, String) {
    let app = routes(Arc::clone(b), Arc::clone(render));
    let answer = app
        .oneshot(Request::get(uri).body(HttpBody::empty()).expect("request"))
        .await
        .expect("an answer");
    let status = answer.status();
    let kind = answer
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    let bytes = answer.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        kind,
        String::from_utf8(bytes.to_vec()).expect("utf-8"),
    )
}

#[tokio::test]
async fn open_data_is_made_once_per_state_of_the_logs() {
    let (b, cid, _) = world();
    let (render, made) = counting();
    let url = format!("/c/{cid}/data/results.json");

    // During the vote, with results hidden: refused, and nothing made.
    let (status, _, text) = get(&b, &render, &url).await;
    assert_eq!(
        (status, text.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, HIDDEN)
    );
    assert_eq!(made.load(Ordering::SeqCst), 0);

    // After the close: made once, then served as made while no log grows.
    b.now_ms.store(T0 + 3 * DAY, Ordering::SeqCst);
    let routes_once = routes(Arc::clone(&b), Arc::clone(&render));
    let ask = |uri: String| {
        let app = routes_once.clone();
        async move {
            let answer = app
                .oneshot(Request::get(uri).body(HttpBody::empty()).expect("request"))
                .await
                .expect("an answer");
            let status = answer.status();
            let bytes = answer.into_body().collect().await.expect("body").to_bytes();
            (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
        }
    };
    let (status, first) = ask(url.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first, format!("Json of {cid} over 6 entries"));
    for _ in 0..5 {
        assert_eq!(ask(url.clone()).await, (StatusCode::OK, first.clone()));
    }
    assert_eq!(
        made.load(Ordering::SeqCst),
        1,
        "made once while no log grew"
    );

    // The CSV is its own file; a refusal of the renderer is kept and answered as 422.
    let csv = format!("/c/{cid}/data/results.csv");
    assert_eq!(ask(csv.clone()).await.0, StatusCode::OK);
    let pb = format!("/c/{cid}/data/results.pb");
    let refused = ask(pb.clone()).await;
    assert_eq!(
        refused,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a participatory budget".to_owned()
        )
    );
    assert_eq!(ask(pb).await, refused);
    assert_eq!(made.load(Ordering::SeqCst), 3);

    // While no log has closed the consultation the count is still running: a file up
    // to RUNNING_MAX_AGE old is served even though the town's log grew.
    b.append(sign(
        &b.key,
        T0 + 3 * DAY,
        Body::Credential(CredentialBody {
            subject: key(9).public_key(),
            replaces: None,
        }),
    ))
    .expect("credential");
    assert_eq!(ask(url.clone()).await, (StatusCode::OK, first.clone()));
    assert_eq!(made.load(Ordering::SeqCst), 3);

    // Once the log closes the consultation (and so grows), the file is made again from
    // what it holds now, and then kept.
    let size = b.ledger.lock().expect("lock").log_size(&b.pk());
    let root = Record::root_at(&*b.ledger.lock().expect("lock"), &b.pk(), size).expect("root");
    b.append(sign(
        &b.key,
        T0 + 3 * DAY,
        Body::Checkpoint(CheckpointBody {
            consultation: cid,
            size,
            root,
        }),
    ))
    .expect("checkpoint");
    let (status, again) = ask(url.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, format!("Json of {cid} over 8 entries"));
    assert_eq!(ask(url).await, (StatusCode::OK, again));
    assert_eq!(made.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn only_the_files_of_a_recorded_consultation_are_found() {
    let (b, cid, pid) = world();
    b.now_ms.store(T0 + 3 * DAY, Ordering::SeqCst);
    let (render, made) = counting();
    let (status, kind, _) = get(&b, &render, &format!("/c/{cid}/data/results.csv")).await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::OK, "text/csv; charset=utf-8")
    );
    for uri in [
        format!("/c/{cid}/data/results.xml"),
        format!("/c/{cid}/data/"),
        "/c/not-an-id/data/results.json".to_owned(),
        // A proposal's id is not a consultation's.
        format!("/c/{pid}/data/results.json"),
    ] {
        let (status, _, _) = get(&b, &render, &uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
    assert_eq!(made.load(Ordering::SeqCst), 1);
}
