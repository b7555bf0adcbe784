//! The API through the real router (`tower::ServiceExt::oneshot`), against a backend
//! built on core's in-memory `Ledger`. One binary for the crate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body as HttpBody;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use palabre_core::admission::Clock;
use palabre_core::counting::Counted;
use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::*;
use palabre_core::head::{Receipt, ReceiptBody, SignedTreeHead, TreeHead};
use palabre_core::ids::{EventId, Hash};
use palabre_core::invitation::{KeyPossession, code_hash, normalize_code};
use palabre_core::ledger::Ledger;
use palabre_core::merkle;
use palabre_core::record::Record;
use palabre_core::tally::{Choice, Method};
use palabre_core::testkit::world::{DAY, T0, key as resident, sign};
use palabre_core::view::ConsultationView;
use palabre_web::{
    ApiConfig, AuthorityInfo, Backend, BackendError, Code, Member, Refusal, StoredEvent, app,
};
use serde_json::{Value, json};
use tower::ServiceExt;

struct TestBackend {
    key: SecretKey,
    ledger: Mutex<Ledger>,
    invitations: Mutex<HashMap<Hash, bool>>,
    now_ms: AtomicU64,
    evidence: Mutex<Vec<palabre_core::head::Equivocation>>,
    /// How many times a consultation was counted (what a hidden result must not cost).
    counts: AtomicU64,
    /// Witnesses' cosignatures of this node's log.
    cosignatures: Mutex<Vec<palabre_core::head::Cosignature>>,
    /// The town hall's records, by (namespace, key), for the staff pages.
    office: Mutex<std::collections::BTreeMap<(String, String), Vec<u8>>>,
    settings: palabre_web::staff::Settings,
}

impl TestBackend {
    fn new() -> TestBackend {
        TestBackend {
            key: SecretKey::from_seed(&[100; 32]),
            ledger: Mutex::new(Ledger::new()),
            invitations: Mutex::new(HashMap::new()),
            evidence: Mutex::new(Vec::new()),
            now_ms: AtomicU64::new(T0),
            counts: AtomicU64::new(0),
            cosignatures: Mutex::new(Vec::new()),
            office: Mutex::new(std::collections::BTreeMap::new()),
            settings: palabre_web::staff::Settings {
                public_url: "http://palabre.test".into(),
                town_name: "Ville".into(),
                federation: Vec::new(),
                session_ms: 3_600_000,
                demo: true,
            },
        }
    }

    fn pk(&self) -> PublicKey {
        self.key.public_key()
    }

    fn append(&self, event: SignedEvent) -> Result<Receipt, Refusal> {
        let mut ledger = self.ledger.lock().expect("lock");
        let log = self.pk();
        let id = event.id();
        let index = ledger
            .append(
                &log,
                event,
                Clock::Live {
                    now_ms: self.now_ms(),
                },
            )
            .map_err(|r| Refusal::from(&r))?;
        let size = ledger.log_size(&log);
        let root = ledger.root_at(&log, size).expect("root");
        let head = TreeHead {
            authority: log,
            size,
            root,
            timestamp_ms: self.now_ms(),
        }
        .sign(&self.key);
        Ok(ReceiptBody {
            event_id: id,
            index,
            tree_head: head,
        }
        .sign(&self.key))
    }
}

impl Backend for TestBackend {
    fn authority(&self) -> AuthorityInfo {
        let ledger = self.ledger.lock().expect("lock");
        let event = ledger
            .log(&self.pk())
            .and_then(|l| l.entries.first())
            .map(|e| e.bytes().to_vec());
        AuthorityInfo {
            key: self.pk(),
            event,
        }
    }

    fn town_hall(&self) -> palabre_web::TownHall {
        palabre_web::TownHall {
            name: "Ville".into(),
            address: "1 place de la Mairie, 12345 Ville".into(),
            desk_hours: "du lundi au vendredi, 9 h – 12 h".into(),
            contact: "mairie@ville.example".into(),
            privacy_contact: String::new(),
        }
    }

    async fn submit(
        &self,
        events: Vec<SignedEvent>,
    ) -> Result<Vec<Result<Receipt, Refusal>>, BackendError> {
        Ok(events.into_iter().map(|e| self.append(e)).collect())
    }

    async fn redeem(
        &self,
        invitation: Hash,
        subject: PublicKey,
    ) -> Result<Result<(SignedEvent, Receipt), Refusal>, BackendError> {
        let refuse = |code: Code| Ok(Err(Refusal::new(code, code.as_str().replace('_', " "))));
        match self.invitations.lock().expect("lock").get(&invitation) {
            None => return refuse(Code::UnknownInvitation),
            Some(true) => return refuse(Code::UsedInvitation),
            Some(false) => {}
        }
        let credential = Event {
            author: self.pk(),
            created_at_ms: self.now_ms(),
            body: Body::Credential(CredentialBody {
                subject,
                replaces: None,
            }),
        }
        .sign(&self.key)
        .expect("valid");
        match self.append(credential.clone()) {
            Ok(receipt) => {
                self.invitations
                    .lock()
                    .expect("lock")
                    .insert(invitation, true);
                Ok(Ok((credential, receipt)))
            }
            Err(r) => Ok(Err(r)),
        }
    }

    fn event(&self, id: &EventId) -> Result<Option<StoredEvent>, BackendError> {
        let ledger = self.ledger.lock().expect("lock");
        Ok(ledger.position(id).and_then(|p| {
            let e = ledger.event(id)?;
            Some(StoredEvent {
                log: p.log,
                index: p.index,
                bytes: e.bytes().to_vec(),
            })
        }))
    }

    fn latest_head(&self, log: &PublicKey) -> Result<Option<SignedTreeHead>, BackendError> {
        let ledger = self.ledger.lock().expect("lock");
        let size = ledger.log_size(log);
        if size == 0 {
            return Ok(None);
        }
        let root = ledger.root_at(log, size).expect("root");
        Ok(Some(
            TreeHead {
                authority: *log,
                size,
                root,
                timestamp_ms: self.now_ms(),
            }
            .sign(&self.key),
        ))
    }

    fn entries(&self, log: &PublicKey, start: u64, end: u64) -> Result<Vec<Vec<u8>>, BackendError> {
        let ledger = self.ledger.lock().expect("lock");
        Ok(ledger
            .log(log)
            .map(|l| {
                l.entries[start as usize..end as usize]
                    .iter()
                    .map(|e| e.bytes().to_vec())
                    .collect()
            })
            .unwrap_or_default())
    }

    fn inclusion_proof(
        &self,
        log: &PublicKey,
        index: u64,
        size: u64,
    ) -> Result<Option<Vec<Hash>>, BackendError> {
        let ledger = self.ledger.lock().expect("lock");
        Ok(ledger
            .log(log)
            .and_then(|l| merkle::inclusion_proof(&l.tree, index, size).ok()))
    }

    fn consistency_proof(
        &self,
        log: &PublicKey,
        from: u64,
        to: u64,
    ) -> Result<Option<Vec<Hash>>, BackendError> {
        let ledger = self.ledger.lock().expect("lock");
        Ok(ledger
            .log(log)
            .and_then(|l| merkle::consistency_proof(&l.tree, from, to).ok()))
    }

    fn log_size(&self, log: &PublicKey) -> Result<u64, BackendError> {
        Ok(self.ledger.lock().expect("lock").log_size(log))
    }

    fn consultations(&self) -> Result<Vec<ConsultationView>, BackendError> {
        Ok(self
            .ledger
            .lock()
            .expect("lock")
            .consultations()
            .cloned()
            .collect())
    }

    fn consultation(&self, id: &EventId) -> Result<Option<ConsultationView>, BackendError> {
        Ok(self.ledger.lock().expect("lock").consultation(id))
    }

    fn closing(
        &self,
        log: &PublicKey,
        consultation: &EventId,
    ) -> Result<Option<(u64, Hash)>, BackendError> {
        Ok(self.ledger.lock().expect("lock").closing(log, consultation))
    }

    fn discussion(
        &self,
        consultation: &EventId,
    ) -> Result<Option<(ConsultationView, Vec<Member>)>, BackendError> {
        let (view, ids) = {
            let ledger = self.ledger.lock().expect("lock");
            let Some(view) = ledger.consultation(consultation) else {
                return Ok(None);
            };
            (view, ledger.members(consultation))
        };
        let mut members = Vec::new();
        for id in ids {
            let event = self.event(&id)?.expect("a member is recorded");
            let moderation = self.ledger.lock().expect("lock").moderation(&id);
            members.push(Member { event, moderation });
        }
        Ok(Some((view, members)))
    }

    fn count(
        &self,
        consultation: &EventId,
    ) -> Result<Option<(ConsultationView, std::sync::Arc<Counted>)>, BackendError> {
        self.counts.fetch_add(1, Ordering::SeqCst);
        let counted = self.ledger.lock().expect("lock").count(consultation);
        Ok(counted.map(|(view, c)| (view, std::sync::Arc::new(c))))
    }

    fn cosignatures(
        &self,
        log: &PublicKey,
    ) -> Result<Vec<palabre_core::head::Cosignature>, BackendError> {
        let all = self.cosignatures.lock().expect("lock");
        Ok(all
            .iter()
            .filter(|c| c.cosigned.head.authority == *log)
            .cloned()
            .collect())
    }

    fn evidence(&self) -> Result<Vec<palabre_core::head::Equivocation>, BackendError> {
        Ok(self.evidence.lock().expect("lock").clone())
    }

    fn moderation_log(&self) -> Result<Vec<StoredEvent>, BackendError> {
        let ledger = self.ledger.lock().expect("lock");
        Ok(ledger
            .moderation_log()
            .into_iter()
            .filter_map(|(log, index)| {
                let bytes = ledger
                    .log(&log)?
                    .entries
                    .get(index as usize)?
                    .bytes()
                    .to_vec();
                Some(StoredEvent { log, index, bytes })
            })
            .collect())
    }

    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }

    fn metrics(&self) -> String {
        format!(
            "palabre_log_size {}\n",
            self.ledger.lock().expect("lock").log_size(&self.pk())
        )
    }
}

/// A backend with the town declared, residents 1..=3 credentialed, and an approval
/// consultation with one proposal; the clock in the vote window.
fn world() -> (Arc<TestBackend>, EventId, EventId) {
    let b = Arc::new(TestBackend::new());
    b.append(sign(
        &b.key,
        T0,
        Body::Authority(AuthorityBody {
            name: "Ville".into(),
            code: String::new(),
            addresses: vec![],
            encryption_key: None,
            encryption_pok: None,
        }),
    ))
    .expect("authority");
    for n in 1..=3 {
        b.append(sign(
            &b.key,
            T0,
            Body::Credential(CredentialBody {
                subject: resident(n).public_key(),
                replaces: None,
            }),
        ))
        .expect("credential");
    }
    let c = sign(
        &b.key,
        T0,
        Body::Consultation(Box::new(ConsultationBody {
            title: "Le lavoir".into(),
            description: "Restaurer le lavoir ?".into(),
            authorities: vec![b.pk()],
            proposals_open_ms: T0,
            proposals_close_ms: T0 + DAY,
            vote_open_ms: T0 + DAY,
            vote_close_ms: T0 + 2 * DAY,
            method: Method::Approval { max_choices: 1 },
            show_running_results: false,
            secrecy: None,
            quotas: None,
        })),
    );
    let cid = c.id();
    b.append(c).expect("consultation");
    let p = sign(
        &resident(1),
        T0,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "Oui".into(),
            body: "Restaurons.".into(),
            cost: None,
        }),
    );
    let pid = p.id();
    b.append(p).expect("proposal");
    b.now_ms.store(T0 + DAY, Ordering::SeqCst);
    (b, cid, pid)
}

fn ballot(n: u8, at: u64, cid: EventId, pid: EventId) -> SignedEvent {
    sign(
        &resident(n),
        at,
        Body::Ballot(BallotBody {
            consultation: cid,
            choice: Choice::Approve(vec![pid]),
            assistance: None,
        }),
    )
}

async fn call(b: &Arc<TestBackend>, method: &str, uri: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let (status, bytes) = call_bytes(b, method, uri, body).await;
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, value)
}

/// [`call`], answering the exact bytes of the body.
async fn call_bytes(
    b: &Arc<TestBackend>,
    method: &str,
    uri: &str,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(HttpBody::from(body))
        .expect("request");
    let response = app(
        Arc::clone(b),
        ApiConfig {
            max_body_bytes: 256 * 1024,
            max_batch_events: 100,
            ..ApiConfig::default()
        },
    )
    .oneshot(request)
    .await
    .expect("the router answers");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, bytes.to_vec())
}

/// The refusal code of an answer; every code a test sees must be one PROTOCOL.md lists
/// (core's event codes or the API's request codes).
fn code(v: &Value) -> &str {
    let code = v["error"]["code"].as_str().unwrap_or("(no code)");
    if code != "(no code)" {
        assert!(
            palabre_core::rejection::Rejection::ALL_CODES.contains(&code)
                || palabre_web::error::REQUEST_CODES.contains(&code),
            "the API answered `{code}`, a code PROTOCOL.md does not list"
        );
    }
    code
}

/// The staff pages' port on the same in-memory ledger: records in a map, invitations
/// in the backend's own, the authority's key for appointments (`api/staff.rs`).
impl palabre_web::staff::Office for TestBackend {
    fn office_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let office = self.office.lock().expect("lock");
        Ok(office.get(&(ns.to_owned(), key.to_owned())).cloned())
    }

    fn office_put(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), BackendError> {
        let mut office = self.office.lock().expect("lock");
        office.insert((ns.to_owned(), key.to_owned()), value.to_vec());
        Ok(())
    }

    fn office_take(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let mut office = self.office.lock().expect("lock");
        Ok(office.remove(&(ns.to_owned(), key.to_owned())))
    }

    fn office_scan(&self, ns: &str) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        let office = self.office.lock().expect("lock");
        Ok(office
            .iter()
            .filter(|((n, _), _)| n == ns)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn add_invitations(&self, hashes: &[Hash]) -> Result<u64, BackendError> {
        let mut invitations = self.invitations.lock().expect("lock");
        let before = invitations.len();
        for h in hashes {
            invitations.entry(*h).or_insert(false);
        }
        Ok((invitations.len() - before) as u64)
    }

    fn revoke_invitations(&self, hashes: &[Hash]) -> Result<u64, BackendError> {
        let mut invitations = self.invitations.lock().expect("lock");
        let unused: Vec<Hash> = hashes
            .iter()
            .filter(|h| invitations.get(h) == Some(&false))
            .copied()
            .collect();
        for h in &unused {
            invitations.remove(h);
        }
        Ok(unused.len() as u64)
    }

    fn invitation_counts(
        &self,
        hashes: Option<&[Hash]>,
    ) -> Result<palabre_web::staff::Counts, BackendError> {
        let invitations = self.invitations.lock().expect("lock");
        let chosen: Vec<bool> = match hashes {
            None => invitations.values().copied().collect(),
            Some(hs) => hs
                .iter()
                .filter_map(|h| invitations.get(h).copied())
                .collect(),
        };
        Ok(palabre_web::staff::Counts {
            issued: chosen.len() as u64,
            redeemed: chosen.iter().filter(|used| **used).count() as u64,
            revoked: 0,
        })
    }

    async fn submit_consuming(
        &self,
        event: SignedEvent,
        code: Hash,
    ) -> Result<Result<Receipt, Refusal>, BackendError> {
        if self.invitations.lock().expect("lock").get(&code) != Some(&false) {
            return Ok(Err(Refusal::new(Code::UsedInvitation, "used invitation")));
        }
        let receipt = self.append(event);
        if receipt.is_ok() {
            self.invitations.lock().expect("lock").insert(code, true);
        }
        Ok(receipt)
    }

    fn sign_as_authority(&self, event: Event) -> Result<SignedEvent, BackendError> {
        event
            .sign(&self.key)
            .map_err(|e| BackendError::caused("the authority could not sign", e))
    }

    fn moderation_of(
        &self,
        _target: &EventId,
    ) -> Result<Vec<palabre_core::counting::Moderated>, BackendError> {
        Ok(Vec::new())
    }

    fn tombstone(&self, _target: &EventId) -> Result<Option<Tombstone>, BackendError> {
        Ok(None)
    }

    fn settings(&self) -> &palabre_web::staff::Settings {
        &self.settings
    }

    fn count_action(&self, _action: &'static str) {}

    fn closing_state(&self, _consultation: &EventId) -> (bool, bool) {
        (false, false)
    }
}

mod api {
    pub mod hostile;
    pub mod opendata;
    pub mod pages;
    pub mod protocol;
    pub mod staff;
}

#[tokio::test]
async fn health_and_authority() {
    let (b, _, _) = world();
    let (s, v) = call(&b, "GET", "/healthz", vec![]).await;
    assert_eq!((s, v), (StatusCode::OK, Value::String("ok".into())));
    let (s, v) = call(&b, "GET", "/api/v1/authority", vec![]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["key"], json!(b.pk().to_hex()));
    assert_eq!(v["event"]["kind"], json!("authority"));
    let (s, v) = call(&b, "GET", "/api/v1/nowhere", vec![]).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn a_ballot_gets_a_receipt_that_checks_out() {
    let (b, cid, pid) = world();
    let e = ballot(2, T0 + DAY, cid, pid);
    let (s, v) = call(&b, "POST", "/api/v1/events", e.bytes().to_vec()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let receipt: Receipt = serde_json::from_value(v["receipt"].clone()).expect("a receipt");
    assert_eq!(receipt.verify(), Ok(()));
    assert_eq!(receipt.receipt.event_id, e.id());

    let (s, v) = call(&b, "GET", &format!("/api/v1/events/{}", e.id()), vec![]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        serde_json::to_vec(&v["event"]).expect("json"),
        e.bytes(),
        "served byte for byte"
    );
    assert_eq!(v["index"], json!(receipt.receipt.index));

    let log = b.pk();
    let (s, head) = call(&b, "GET", &format!("/api/v1/logs/{log}/checkpoint"), vec![]).await;
    assert_eq!(s, StatusCode::OK);
    let head: SignedTreeHead = serde_json::from_value(head).expect("a head");
    assert!(head.verify().is_ok());
    let uri = format!(
        "/api/v1/logs/{log}/proof/inclusion?index={}&size={}",
        receipt.receipt.index, head.head.size
    );
    let (s, v) = call(&b, "GET", &uri, vec![]).await;
    assert_eq!(s, StatusCode::OK);
    let proof: Vec<Hash> = serde_json::from_value(v["proof"].clone()).expect("hashes");
    let leaf = merkle::leaf_hash(e.bytes());
    assert_eq!(
        merkle::verify_inclusion(
            &leaf,
            receipt.receipt.index,
            head.head.size,
            &proof,
            &head.head.root
        ),
        Ok(())
    );

    let uri = format!(
        "/api/v1/logs/{log}/proof/consistency?from=3&to={}",
        head.head.size
    );
    let (s, v) = call(&b, "GET", &uri, vec![]).await;
    assert_eq!(s, StatusCode::OK);
    let proof: Vec<Hash> = serde_json::from_value(v["proof"].clone()).expect("hashes");
    let old_root = b
        .ledger
        .lock()
        .expect("lock")
        .root_at(&log, 3)
        .expect("root");
    assert_eq!(
        merkle::verify_consistency(3, head.head.size, &old_root, &head.head.root, &proof),
        Ok(())
    );

    let (s, v) = call(
        &b,
        "GET",
        &format!("/api/v1/logs/{log}/entries?start=0&end={}", head.head.size),
        vec![],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["entries"].as_array().map(Vec::len),
        Some(head.head.size as usize)
    );
}

#[tokio::test]
async fn bad_events_are_refused_with_their_code_and_change_nothing() {
    let (b, cid, pid) = world();
    let size = b.ledger.lock().expect("lock").log_size(&b.pk());
    let good = ballot(2, T0 + DAY, cid, pid);
    let mut spaced = good.bytes().to_vec();
    spaced.insert(1, b' ');
    let mut flipped = good.bytes().to_vec();
    let at = flipped.len() - 20;
    flipped[at] = if flipped[at] == b'a' { b'b' } else { b'a' };
    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (b"{not json".to_vec(), StatusCode::BAD_REQUEST, "malformed"),
        (spaced, StatusCode::BAD_REQUEST, "not_canonical"),
        (flipped, StatusCode::BAD_REQUEST, "bad_signature"),
        (
            ballot(2, T0 + 2 * DAY, cid, pid).bytes().to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "clock_skew",
        ),
        (
            ballot(2, T0, cid, pid).bytes().to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "clock_skew",
        ),
        (
            ballot(9, T0 + DAY, cid, pid).bytes().to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_eligible",
        ),
        (
            ballot(2, T0 + DAY, EventId(Hash([1; 32])), pid)
                .bytes()
                .to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_consultation",
        ),
        (
            vec![b' '; 300 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    for (body, status, expected) in cases {
        let (s, v) = call(&b, "POST", "/api/v1/events", body).await;
        assert_eq!((s, code(&v)), (status, expected), "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    assert_eq!(
        b.ledger.lock().expect("lock").log_size(&b.pk()),
        size,
        "nothing was written"
    );

    // Outside the window, judged by the node's clock too.
    b.now_ms.store(T0 + 2 * DAY, Ordering::SeqCst);
    let late = ballot(2, T0 + 2 * DAY, cid, pid);
    let (s, v) = call(&b, "POST", "/api/v1/events", late.bytes().to_vec()).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "outside_window")
    );

    // A replay is a conflict.
    b.now_ms.store(T0 + DAY, Ordering::SeqCst);
    let (s, _) = call(&b, "POST", "/api/v1/events", good.bytes().to_vec()).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = call(&b, "POST", "/api/v1/events", good.bytes().to_vec()).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "duplicate"));
}

#[tokio::test]
async fn a_batch_answers_each_event() {
    let (b, cid, pid) = world();
    let one = ballot(1, T0 + DAY, cid, pid);
    let two = ballot(2, T0 + DAY, cid, pid);
    let body = format!(
        "[{}, {}, {}, {{\"v\":1}}]",
        String::from_utf8_lossy(one.bytes()),
        String::from_utf8_lossy(two.bytes()),
        String::from_utf8_lossy(one.bytes())
    );
    let (s, v) = call(&b, "POST", "/api/v1/events", body.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let results = v["results"].as_array().expect("results");
    assert!(results[0]["receipt"].is_object());
    assert!(results[1]["receipt"].is_object());
    assert_eq!(code(&results[2]), "duplicate");
    assert_eq!(code(&results[3]), "malformed");
    let (s, v) = call(&b, "POST", "/api/v1/events", b"[1,".to_vec()).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "malformed"));
}

#[tokio::test]
async fn invitations_redeem_once() {
    let (b, _, _) = world();
    let code_text = "ACDE-FGHJ-KMNP";
    let invitation = code_hash(&b.pk(), &normalize_code(code_text).expect("well formed"));
    b.invitations
        .lock()
        .expect("lock")
        .insert(invitation, false);
    let fresh = resident(50);
    let proof = KeyPossession {
        authority: b.pk(),
        invitation,
        subject: fresh.public_key(),
    }
    .sign(&fresh);
    let request = |code: &str, key: &SecretKey, proof: String| {
        serde_json::to_vec(&json!({"code": code, "key": key.public_key().to_hex(), "proof": proof}))
            .expect("json")
    };
    let (s, v) = call(
        &b,
        "POST",
        "/api/v1/credentials/redeem",
        request("acde fghj kmnp", &fresh, proof.to_hex()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        v["credential"]["body"]["subject"],
        json!(fresh.public_key().to_hex())
    );
    let receipt: Receipt = serde_json::from_value(v["receipt"].clone()).expect("receipt");
    assert_eq!(receipt.verify(), Ok(()));

    let other = resident(51);
    let other_proof = KeyPossession {
        authority: b.pk(),
        invitation,
        subject: other.public_key(),
    }
    .sign(&other);
    let (s, v) = call(
        &b,
        "POST",
        "/api/v1/credentials/redeem",
        request(code_text, &other, other_proof.to_hex()),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "used_invitation"));

    let unknown = "QRTW-XY23-4567";
    let unknown_hash = code_hash(&b.pk(), &normalize_code(unknown).expect("well formed"));
    let p = KeyPossession {
        authority: b.pk(),
        invitation: unknown_hash,
        subject: other.public_key(),
    }
    .sign(&other);
    let (s, v) = call(
        &b,
        "POST",
        "/api/v1/credentials/redeem",
        request(unknown, &other, p.to_hex()),
    )
    .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_invitation")
    );

    let (s, v) = call(
        &b,
        "POST",
        "/api/v1/credentials/redeem",
        request(unknown, &other, proof.to_hex()),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_proof"));
    let (s, v) = call(
        &b,
        "POST",
        "/api/v1/credentials/redeem",
        request("OOPS", &other, proof.to_hex()),
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_code"));
    let (s, v) = call(&b, "POST", "/api/v1/credentials/redeem", b"{}".to_vec()).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "malformed"));
}

#[tokio::test]
async fn bad_ranges_and_ids() {
    let (b, _, _) = world();
    let log = b.pk();
    for uri in [
        format!("/api/v1/logs/{log}/entries?start=3&end=3"),
        format!("/api/v1/logs/{log}/entries?start=0&end=99"),
        format!("/api/v1/logs/{log}/entries?start=x&end=2"),
        format!("/api/v1/logs/{log}/proof/inclusion?index=6&size=6"),
        format!("/api/v1/logs/{log}/proof/consistency?from=0&to=6"),
        format!("/api/v1/logs/{log}/proof/consistency?from=5&to=60"),
    ] {
        let (s, v) = call(&b, "GET", &uri, vec![]).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "bad_range"),
            "{uri}"
        );
    }
    let (s, v) = call(&b, "GET", "/api/v1/events/XYZ", vec![]).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_id"));
    let (s, v) = call(
        &b,
        "GET",
        &format!("/api/v1/events/{}", "ab".repeat(32)),
        vec![],
    )
    .await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, v) = call(&b, "GET", "/api/v1/logs/zz/checkpoint", vec![]).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_key"));
}

#[tokio::test]
async fn a_consultation_shows_its_proposals_arguments_and_moderation() {
    let (b, cid, pid) = world();
    let now = T0 + DAY;
    let argue = |n: u8, text: &str| {
        sign(
            &resident(n),
            now,
            Body::Argument(ArgumentBody {
                proposal: pid,
                stance: Stance::Con,
                body: text.into(),
            }),
        )
    };
    let kept = argue(2, "Trop cher pour la commune.");
    let rude = argue(3, "Hors sujet.");
    b.append(kept.clone()).expect("argument");
    b.append(rude.clone()).expect("argument");
    let hide = sign(
        &b.key,
        now,
        Body::Moderation(ModerationBody {
            target: rude.id(),
            action: ModerationAction::Hide,
            reason: "sans rapport avec la proposition".into(),
            tombstone: None,
        }),
    );
    b.append(hide.clone()).expect("moderation");

    let (s, v) = call(&b, "GET", &format!("/api/v1/consultations/{cid}"), vec![]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let c = &v["consultation"];
    assert_eq!(c["title"], json!("Le lavoir"));
    assert_eq!(c["description"], json!("Restaurer le lavoir ?"));
    assert_eq!(c["status"], json!("voting"));
    assert_eq!(c["results_visible"], json!(false));
    let signed = serde_json::to_vec(&c["event"]).expect("json");
    assert_eq!(SignedEvent::from_bytes(signed).expect("valid").id(), cid);
    let proposals = v["proposals"].as_array().expect("list");
    assert_eq!(proposals.len(), 1);
    let p = &proposals[0];
    assert_eq!(p["id"], json!(pid.to_string()));
    assert_eq!(p["kind"], json!("proposal"));
    assert_eq!(p["body"]["title"], json!("Oui"));
    assert_eq!(p["hidden"], json!(false));
    let args = p["arguments"].as_array().expect("arguments");
    assert_eq!(args.len(), 2);
    let shown = args
        .iter()
        .find(|a| a["id"] == json!(kept.id().to_string()));
    let hidden = args
        .iter()
        .find(|a| a["id"] == json!(rude.id().to_string()));
    let (shown, hidden) = (shown.expect("kept"), hidden.expect("hidden"));
    assert_eq!(shown["hidden"], json!(false));
    assert_eq!(shown["body"]["stance"], json!("con"));
    // Moderation is in the open: the hidden argument stays listed, with who hid it and why.
    assert_eq!(hidden["hidden"], json!(true));
    assert_eq!(hidden["moderation"][0]["by"], json!(b.pk().to_string()));
    assert_eq!(hidden["moderation"][0]["action"], json!("hide"));
    assert_eq!(
        hidden["moderation"][0]["moderation"],
        json!(hide.id().to_string())
    );
    assert_eq!(
        hidden["moderation"][0]["reason"],
        json!("sans rapport avec la proposition")
    );

    let (s, v) = call(&b, "GET", &format!("/api/v1/consultations/{pid}"), vec![]).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, v) = call(&b, "GET", "/api/v1/consultations/xyz", vec![]).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "bad_id"));
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_each_answers() {
    let (b, cid, _) = world();
    let (s, v) = call(&b, "GET", "/api/v1/openapi.json", vec![]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["openapi"], json!("3.1.0"));
    let paths = v["paths"].as_object().expect("paths");
    assert_eq!(paths.len(), palabre_web::openapi::ROUTES.len());
    for route in palabre_web::openapi::ROUTES {
        let documented = &paths[route.path][route.method];
        assert!(
            documented["summary"].is_string(),
            "{} {}",
            route.method,
            route.path
        );
        for (status, _, schema) in route.answers {
            assert!(documented["responses"][status.to_string()].is_object());
            if !schema.is_empty() {
                assert!(v["components"]["schemas"][schema].is_object(), "{schema}");
            }
        }
        // Every documented route is served: filled in, it reaches its handler, never
        // the router's fallback.
        let town = b.pk().to_string();
        let uri = route
            .path
            .replace("{id}", &cid.to_string())
            .replace("{authority}", &town);
        let query: Vec<String> = route
            .params
            .iter()
            .filter(|(_, place, _, _)| *place == palabre_web::openapi::In::Query)
            .map(|(name, _, _, _)| format!("{name}=1"))
            .collect();
        let uri = if query.is_empty() {
            uri
        } else {
            format!("{uri}?{}", query.join("&"))
        };
        let (s, v) = call(&b, &route.method.to_uppercase(), &uri, vec![]).await;
        assert_ne!(v["error"]["message"], json!("route not found"), "{uri}");
        assert!(
            route
                .answers
                .iter()
                .any(|(status, _, _)| *status == s.as_u16()),
            "{} {uri} answered {s}, which is not documented",
            route.method
        );
    }
    let (s, v) = call(&b, "GET", "/api/v1/nothing", vec![]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["message"], json!("route not found"));
}

#[tokio::test]
async fn results_are_hidden_until_the_close() {
    let (b, cid, pid) = world();
    b.append(ballot(2, T0 + DAY, cid, pid)).expect("ballot");
    let (s, v) = call(&b, "GET", "/api/v1/consultations", vec![]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["consultations"][0]["status"], json!("voting"));
    let uri = format!("/api/v1/consultations/{cid}/tally");
    let (s, v) = call(&b, "GET", &uri, vec![]).await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "results_hidden"));
    assert_eq!(
        b.counts.load(Ordering::SeqCst),
        0,
        "refused before counting"
    );
    b.now_ms.store(T0 + 2 * DAY, Ordering::SeqCst);
    let (s, v) = call(&b, "GET", &uri, vec![]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["closed"], json!(true));
    assert_eq!(v["n_ballots_counted"], json!(1));
    assert_eq!(v["tally"]["rows"][0]["approvals"], json!(1));
}

#[tokio::test]
async fn metrics_count_what_happened() {
    let (b, cid, pid) = world();
    // Counters live in the router's state: one router for the whole exchange.
    let router = app(Arc::clone(&b), ApiConfig::default());
    let post = |bytes: Vec<u8>| {
        Request::builder()
            .method("POST")
            .uri("/api/v1/events")
            .body(HttpBody::from(bytes))
            .expect("request")
    };
    let other = ballot(3, T0 + DAY, cid, pid);
    let r1 = router
        .clone()
        .oneshot(post(other.bytes().to_vec()))
        .await
        .expect("answer");
    assert_eq!(r1.status(), StatusCode::CREATED);
    let r2 = router
        .clone()
        .oneshot(post(other.bytes().to_vec()))
        .await
        .expect("answer");
    assert_eq!(r2.status(), StatusCode::CONFLICT);
    let m = router
        .oneshot(
            Request::builder()
                .uri("/metrics")
                .body(HttpBody::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    let text = String::from_utf8(
        m.into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec(),
    )
    .expect("utf8");
    assert!(
        text.contains("palabre_events_admitted_total{kind=\"ballot\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("palabre_events_rejected_total{code=\"duplicate\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("palabre_events_rejected_total{code=\"weak_key\"} 0"),
        "{text}"
    );
    assert!(text.contains("palabre_log_size 7"), "{text}");
}

#[tokio::test]
async fn a_client_over_its_rate_is_told_to_wait() {
    let (b, _, _) = world();
    let config = ApiConfig {
        rate: palabre_web::RateLimit {
            per_second: 0.01,
            burst: 2.0,
        },
        ..ApiConfig::default()
    };
    let router = app(Arc::clone(&b), config);
    let get = || {
        Request::builder()
            .uri("/healthz")
            .body(HttpBody::empty())
            .expect("request")
    };
    for _ in 0..2 {
        let r = router.clone().oneshot(get()).await.expect("answer");
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = router.clone().oneshot(get()).await.expect("answer");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(wait >= 1);
    let body = r.into_body().collect().await.expect("body").to_bytes();
    let v: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(code(&v), "rate_limited");
}

/// The site's pages through the same router: what a browser gets, and what bad input
/// gets (unknown ids, a hostile language-switch target).
#[tokio::test]
async fn pages_answer_with_strict_headers_and_refuse_bad_input() {
    let (b, cid, pid) = world();
    let get = |uri: String| {
        let b = Arc::clone(&b);
        async move {
            let response = app(Arc::clone(&b), ApiConfig::default())
                .oneshot(
                    Request::builder()
                        .uri(uri)
                        .body(HttpBody::empty())
                        .expect("request"),
                )
                .await
                .expect("the router answers");
            let status = response.status();
            let headers = response.headers().clone();
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            (status, headers, String::from_utf8_lossy(&body).into_owned())
        }
    };
    for uri in [
        "/".to_owned(),
        format!("/c/{cid}"),
        format!("/p/{pid}"),
        format!("/c/{cid}/propose"),
        format!("/c/{cid}/results"),
        "/register".into(),
        "/me".into(),
        "/verify".into(),
        "/about".into(),
    ] {
        let (status, headers, html) = get(uri.clone()).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let csp = headers["content-security-policy"].to_str().expect("ascii");
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert!(html.starts_with("<!doctype html>"), "{uri}");
        assert!(!html.contains("<script>"), "{uri}: no inline script");
    }
    // A proposal's title is escaped wherever it appears.
    let evil = sign(
        &resident(2),
        T0 + 1,
        Body::Proposal(ProposalBody {
            consultation: cid,
            title: "<script>alert(1)</script>".into(),
            body: "\"><img src=x onerror=alert(1)>".into(),
            cost: None,
        }),
    );
    // The proposal window is closed at T0 + DAY; admit it while it is open.
    b.now_ms.store(T0 + 1, Ordering::SeqCst);
    b.append(evil.clone()).expect("proposal");
    b.now_ms.store(T0 + DAY, Ordering::SeqCst);
    for uri in [format!("/c/{cid}"), format!("/p/{}", evil.id())] {
        let (_, _, html) = get(uri.clone()).await;
        assert!(!html.contains("<script>alert"), "{uri}");
        assert!(!html.contains("<img src=x"), "{uri}");
        // Shown, as text: the angle brackets escaped.
        assert!(
            html.contains("alert(1)") && html.contains("script&"),
            "{uri}"
        );
    }
    // Unknown or malformed ids: the site's 404 page, never a panic or a 500.
    for uri in [
        "/c/nothex".to_owned(),
        format!("/c/{}", "0".repeat(64)),
        format!("/p/{cid}"),
        format!("/c/{pid}/results"),
        "/static/palabre.000000000000.js".into(),
    ] {
        let (status, _, html) = get(uri.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(html.contains("<h1>"), "{uri}");
    }
    // The language switch only ever sends back to a path of this site.
    for (back, expected) in [
        ("/c/abc", "/"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ] {
        let (status, headers, _) = get(format!(
            "/lang/en?back={}",
            back.replace('/', "%2F").replace('\\', "%5C")
        ))
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers["location"], expected, "{back}");
        assert!(
            headers["set-cookie"]
                .to_str()
                .expect("ascii")
                .starts_with("lang=en;")
        );
    }
}

#[tokio::test]
async fn evidence_is_served_and_flags_the_consultations_of_the_caught() {
    let (b, cid, _) = world();
    let (s, v) = call(&b, "GET", "/api/v1/evidence", vec![]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!({"evidence": [], "disputed_authorities": []}));
    let (_, v) = call(&b, "GET", &format!("/api/v1/consultations/{cid}"), vec![]).await;
    assert_eq!(v["consultation"]["disputed"], json!(false));
    // The town signs two different logs of the same size.
    let head = |root: u8| {
        palabre_core::head::TreeHead {
            authority: b.pk(),
            size: 3,
            root: Hash([root; 32]),
            timestamp_ms: T0,
        }
        .sign(&b.key)
    };
    let fork = palabre_core::head::Equivocation {
        first: head(1),
        second: head(2),
        prefix: None,
    };
    b.evidence.lock().expect("lock").push(fork.clone());
    let (_, v) = call(&b, "GET", "/api/v1/evidence", vec![]).await;
    assert_eq!(v["evidence"], json!([fork]));
    assert_eq!(v["disputed_authorities"], json!([b.pk()]));
    let (_, v) = call(&b, "GET", &format!("/api/v1/consultations/{cid}"), vec![]).await;
    assert_eq!(v["consultation"]["disputed"], json!(true));
    let (_, v) = call(&b, "GET", "/api/v1/consultations", vec![]).await;
    assert_eq!(v["consultations"][0]["disputed"], json!(true));
    // Cosignatures of a log: none here, and a bad key is refused.
    let (s, v) = call(
        &b,
        "GET",
        &format!("/api/v1/logs/{}/cosignatures", b.pk()),
        vec![],
    )
    .await;
    assert_eq!(
        (s, v),
        (StatusCode::OK, json!({"cosignatures": [], "next": null}))
    );
    let (s, _) = call(&b, "GET", "/api/v1/logs/nothex/cosignatures", vec![]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
