//! What PROTOCOL.md promises an outside verifier about the API, through the real router:
//! the codes table is exactly the node's codes with their statuses, each disputed
//! situation answers its one code, heads are served as their signed bytes, and entries
//! pages carry each entry's exact bytes.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use palabre_core::canonical::to_canonical;
use palabre_core::crypto::{Domain, SecretKey};
use palabre_core::event::*;
use palabre_core::head::SignedTreeHead;
use palabre_core::invitation::{KeyPossession, code_hash, normalize_code};
use palabre_core::rejection::Rejection;
use palabre_web::error::{Code, REQUEST_CODES};
use serde_json::{Value, json};

use crate::{T0, call, call_bytes, code, resident, sign, world};

/// The rows of one table of PROTOCOL.md's "Rejection codes": each code of the first
/// column (a row may name several) with the status of the second.
fn table(heading: &str) -> BTreeMap<String, u16> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../PROTOCOL.md");
    let text = std::fs::read_to_string(path).expect("PROTOCOL.md is at the workspace root");
    let start = text
        .find(&format!("\n### {heading}\n"))
        .unwrap_or_else(|| panic!("PROTOCOL.md has a section {heading:?}"));
    let section = &text[start + heading.len() + 6..];
    let section = &section[..section.find("\n#").unwrap_or(section.len())];
    let mut rows = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let status: u16 = cells[2]
            .parse()
            .unwrap_or_else(|_| panic!("a status in {line:?}"));
        for code in cells[1].split('`').skip(1).step_by(2) {
            let fresh = rows.insert(code.to_owned(), status).is_none();
            assert!(fresh, "{code} is listed twice in {heading:?}");
        }
    }
    rows
}

#[test]
fn the_codes_tables_of_protocol_md_are_exactly_the_node_s() {
    for (heading, codes) in [
        ("Event codes", Rejection::ALL_CODES),
        ("Request codes", REQUEST_CODES),
    ] {
        let rows = table(heading);
        let listed: Vec<&str> = rows.keys().map(String::as_str).collect();
        let mut known: Vec<&str> = codes.to_vec();
        known.sort_unstable();
        assert_eq!(
            listed, known,
            "PROTOCOL.md's {heading:?} against the node's list"
        );
        for (code, status) in &rows {
            let typed = Code::parse(code).unwrap_or_else(|| panic!("`{code}` is a code"));
            assert_eq!(typed.status().as_u16(), *status, "the status of `{code}`");
        }
    }
}

/// Signs arbitrary JSON as an event, to provoke stateless rules.
fn raw_event(key: &SecretKey, mut unsigned: Value) -> Vec<u8> {
    let bytes = to_canonical(&unsigned).expect("test JSON is valid content");
    unsigned["sig"] = Value::String(key.sign(Domain::Event, &bytes).to_hex());
    to_canonical(&unsigned).expect("still valid")
}

#[tokio::test]
async fn each_disputed_situation_answers_one_code_on_every_path() {
    let (b, cid, pid) = world();
    let moderator = resident(40);
    let now = T0 + 86_400_000;
    b.append(sign(
        &b.key,
        now,
        Body::Staff(StaffBody {
            subject: moderator.public_key(),
            name: "Modération".into(),
            role: StaffRole::Moderator,
            active: true,
        }),
    ))
    .expect("appointment");
    let post = |bytes: Vec<u8>| {
        let b = b.clone();
        async move { call(&b, "POST", "/api/v1/events", bytes).await }
    };
    // A staff key whose role does not allow the kind: `not_staff`, for a kind staff may
    // sign with another role (a credential) and for one only the authority signs.
    let credential = sign(
        &moderator,
        now,
        Body::Credential(CredentialBody {
            subject: resident(41).public_key(),
            replaces: None,
        }),
    );
    let appointment = sign(
        &moderator,
        now,
        Body::Staff(StaffBody {
            subject: resident(42).public_key(),
            name: "Guichet".into(),
            role: StaffRole::Desk,
            active: true,
        }),
    );
    for event in [credential, appointment] {
        let (s, v) = post(event.bytes().to_vec()).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, "not_staff")
        );
    }
    // A key that is not staff at all: `wrong_author`.
    let by_stranger = sign(
        &resident(43),
        now,
        Body::Staff(StaffBody {
            subject: resident(42).public_key(),
            name: "Guichet".into(),
            role: StaffRole::Desk,
            active: true,
        }),
    );
    let (s, v) = post(by_stranger.bytes().to_vec()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "wrong_author")
    );
    // A purge whose tombstone has the wrong shape: `bad_tombstone`.
    let purge = raw_event(
        &b.key,
        json!({
            "author": b.pk().to_hex(),
            "body": {
                "action": "purge",
                "reason": "Données personnelles",
                "target": pid.to_string(),
                "tombstone": {"purged": {"id": pid.to_string()}, "sig": "00".repeat(64)},
            },
            "created_at_ms": now,
            "kind": "moderation",
            "v": 1
        }),
    );
    let (s, v) = post(purge).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "bad_tombstone")
    );
    // A weak key: `weak_key`, in an event, in a redemption and in a path.
    let weak = format!("01{}", "00".repeat(31));
    let ballot = raw_event(
        &b.key,
        json!({
            "author": weak,
            "body": {"choice": {"approve": []}, "consultation": cid.to_string()},
            "created_at_ms": now,
            "kind": "ballot",
            "v": 1
        }),
    );
    let (s, v) = post(ballot).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "weak_key"));
    let code_text = "ACDE-FGHJ-KMNP";
    let invitation = code_hash(&b.pk(), &normalize_code(code_text).expect("well formed"));
    b.invitations
        .lock()
        .expect("lock")
        .insert(invitation, false);
    let proof = KeyPossession {
        authority: b.pk(),
        invitation,
        subject: resident(44).public_key(),
    }
    .sign(&resident(44));
    let body = json!({"code": code_text, "key": weak, "proof": proof.to_hex()});
    let (s, v) = call(
        &b,
        "POST",
        "/api/v1/credentials/redeem",
        serde_json::to_vec(&body).expect("json"),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "weak_key"));
    let (s, v) = call(
        &b,
        "GET",
        &format!("/api/v1/logs/{weak}/checkpoint"),
        vec![],
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "weak_key"));
}

#[tokio::test]
async fn heads_are_served_as_the_bytes_signed_and_entries_byte_for_byte() {
    let (b, _, _) = world();
    let log = b.pk();
    let (s, bytes) = call_bytes(&b, "GET", &format!("/api/v1/logs/{log}/checkpoint"), vec![]).await;
    assert_eq!(s, StatusCode::OK);
    let head: SignedTreeHead = serde_json::from_slice(&bytes).expect("a signed head");
    assert_eq!(head.verify(), Ok(()));
    assert_eq!(
        String::from_utf8(bytes).expect("utf8"),
        String::from_utf8(to_canonical(&head).expect("canonical")).expect("utf8"),
        "the served head is its canonical form"
    );
    let signed = to_canonical(&head.head).expect("canonical");
    let text = String::from_utf8(signed).expect("utf8");
    assert!(
        text.starts_with("{\"authority\":") && text.contains(",\"root\":"),
        "{text}"
    );

    // An entries page: {"start": s, "entries": [...]}, each entry the stored bytes as
    // a raw JSON value.
    let size = head.head.size;
    let (s, page) = call_bytes(
        &b,
        "GET",
        &format!("/api/v1/logs/{log}/entries?start=1&end={size}"),
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let stored: Vec<Vec<u8>> = {
        let ledger = b.ledger.lock().expect("lock");
        let entries = &ledger.log(&log).expect("log").entries;
        entries[1..size as usize]
            .iter()
            .map(|e| e.bytes().to_vec())
            .collect()
    };
    let mut expected = b"{\"start\":1,\"entries\":[".to_vec();
    for (i, e) in stored.iter().enumerate() {
        if i > 0 {
            expected.push(b',');
        }
        expected.extend_from_slice(e);
    }
    expected.extend_from_slice(b"]}");
    assert_eq!(
        String::from_utf8(page).expect("utf8"),
        String::from_utf8(expected).expect("utf8")
    );
    // Proofs: {"index","size","proof"} and {"from","to","proof"}.
    let (_, v) = call(
        &b,
        "GET",
        &format!("/api/v1/logs/{log}/proof/inclusion?index=0&size={size}"),
        vec![],
    )
    .await;
    assert_eq!(v["index"], json!(0));
    assert_eq!(v["size"], json!(size));
    assert!(v["proof"].is_array());
    let (_, v) = call(
        &b,
        "GET",
        &format!("/api/v1/logs/{log}/proof/consistency?from=1&to={size}"),
        vec![],
    )
    .await;
    assert_eq!(
        (v["from"].clone(), v["to"].clone()),
        (json!(1), json!(size))
    );
    assert!(v["proof"].is_array());
}
