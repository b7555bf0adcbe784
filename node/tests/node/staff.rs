//! The town hall's tools through the real router of a real `palabre serve --demo`
//! (sled on disk, HTTP over loopback): the first administrator's one-time link, logins
//! (wrong password, lock-out, missing CSRF token, logout), every role check, and every
//! staff action — consultations, letters, moderation, the desk — with what each leaves
//! in the signed record and on the public pages.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::event::{BallotBody, Body, Quotas, StaffRole, decode};
use palabre_core::ids::EventId;
use palabre_core::merkle;
use palabre_core::tally::Choice;
use serde_json::json;

use super::federation::ok;
use super::{Node, http, redeem, start, start_args};

/// One browser's worth of state: cookies, kept across requests.
pub struct Web {
    pub addr: String,
    /// The loopback address this browser connects from (default: the system's choice).
    pub from: Option<std::net::IpAddr>,
    cookies: BTreeMap<String, String>,
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The CSRF token of the first form of the page.
    pub fn csrf(&self) -> String {
        field(&self.body, "csrf")
    }
}

/// The value of the first `name="…" value="…"` of `html`.
pub fn field(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&key)
        .unwrap_or_else(|| panic!("no field {name} in the page:\n{html}"));
    let rest = &html[at + key.len()..];
    rest[..rest.find('"').expect("closing quote")].to_owned()
}

fn encode(form: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    form.iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Web {
    pub fn new(addr: &str) -> Web {
        Web {
            addr: addr.to_owned(),
            from: None,
            cookies: BTreeMap::new(),
        }
    }

    fn request(&mut self, method: &str, path: &str, body: Option<String>) -> Answer {
        let mut s = match self.from {
            Some(from) => super::hostile::connect_from(from, &self.addr),
            None => TcpStream::connect(&self.addr).expect("connect"),
        };
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let cookies = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let body = body.unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept-Language: fr\r\nCookie: {cookies}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        s.write_all(head.as_bytes()).expect("write");
        s.write_all(body.as_bytes()).expect("write");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
            .collect();
        for (k, v) in &headers {
            if k == "set-cookie"
                && let Some((name, rest)) = v.split_once('=')
            {
                let value = rest.split(';').next().unwrap_or("").to_owned();
                if value.is_empty() || v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value);
                }
            }
        }
        Answer {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    pub fn get(&mut self, path: &str) -> Answer {
        self.request("GET", path, None)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.request("POST", path, Some(encode(form)))
    }

    /// Logs in; panics unless the node lets us in.
    /// Opens the login page, then posts `login` and `password` with its token.
    pub fn try_login(&mut self, login: &str, password: &str) -> Answer {
        let csrf = self.get("/staff/login").csrf();
        self.post(
            "/staff/login",
            &[("login", login), ("password", password), ("csrf", &csrf)],
        )
    }

    pub fn login(&mut self, login: &str, password: &str) {
        let a = self.try_login(login, password);
        assert_eq!(a.status, 303, "login of {login}: {}", a.body);
        assert_eq!(a.header("location"), Some("/staff"));
    }

    /// The CSRF token of this session (from the dashboard's logout form).
    pub fn csrf(&mut self) -> String {
        let page = self.get("/staff");
        assert_eq!(page.status, 200, "{}", page.body);
        page.csrf()
    }
}

pub const ADMIN_PASSWORD: &str = "mairie-2026-admin";
pub const PASSWORD: &str = "un mot de passe long";

/// Creates the first administrator through the node's one-time link.
pub fn first_admin(node: &Node) -> Web {
    let link = node
        .setup
        .clone()
        .expect("a fresh node prints its setup link");
    let mut web = Web::new(&node.addr);
    assert_eq!(web.get(&link).status, 200);
    let a = web.post(
        &link,
        &[
            ("name", "Claire Martin"),
            ("login", "claire"),
            ("password", ADMIN_PASSWORD),
        ],
    );
    assert_eq!(a.status, 303, "{}", a.body);
    web
}

/// An administrator appoints a member with `role`; returns their logged-in session.
pub fn appoint(admin: &mut Web, name: &str, login: &str, role: &str) -> Web {
    let csrf = admin.csrf();
    let a = admin.post(
        "/staff/team",
        &[
            ("csrf", &csrf),
            ("name", name),
            ("login", login),
            ("password", PASSWORD),
            ("role", role),
        ],
    );
    assert_eq!(a.status, 303, "{}", a.body);
    let mut web = Web::new(&admin.addr);
    web.login(login, PASSWORD);
    web
}

/// Every event of `log`, decoded from the exact bytes the node serves (the tombstones of
/// purged ones left out).
fn log_events(addr: &str, log: &PublicKey) -> Vec<(EventId, palabre_core::event::Event)> {
    let (_, head) =
        http(addr, "GET", &format!("/api/v1/logs/{log}/checkpoint"), b"").expect("head");
    let size = head["head"]["size"].as_u64().expect("a size");
    #[derive(serde::Deserialize)]
    struct Page<'a> {
        #[serde(borrow)]
        entries: Vec<&'a serde_json::value::RawValue>,
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < size {
        let end = size.min(start + 500);
        let raw = super::get_raw(
            addr,
            &format!("/api/v1/logs/{log}/entries?start={start}&end={end}"),
        );
        let page: Page<'_> = serde_json::from_slice(&raw).expect("a page of entries");
        for e in &page.entries {
            if palabre_core::purge::is_tombstone(e.get().as_bytes()) {
                continue;
            }
            let u = decode(e.get().as_bytes().to_vec()).expect("a stored event decodes");
            out.push((EventId::of_signed_bytes(&u.bytes), u.event));
        }
        start = end;
    }
    out
}

/// The answer to an irreversible action sent without its confirmation: refused with its
/// code and the same form again, with the box to tick and a button unlike the others.
fn assert_unconfirmed(answer: &Answer, action: &str) {
    assert_eq!(answer.status, 409, "{}", answer.body);
    let body = &answer.body;
    assert!(body.contains("<code>unconfirmed</code>"), "{body}");
    assert!(body.contains("Rien n&#39;a été fait"), "{body}");
    assert!(
        body.contains(&format!("<form method=\"post\" action=\"{action}\">")),
        "{body}"
    );
    assert!(
        body.contains("<input type=\"checkbox\" name=\"confirm\" value=\"yes\" required>"),
        "{body}"
    );
    assert!(
        body.contains("<button type=\"submit\" class=\"danger\">"),
        "{body}"
    );
}

fn authority(addr: &str) -> PublicKey {
    super::authority(addr)
}

fn voting_consultation(addr: &str, method: &str) -> (EventId, Vec<EventId>) {
    let (_, list) = http(addr, "GET", "/api/v1/consultations", b"").expect("list");
    let c = list["consultations"]
        .as_array()
        .expect("consultations")
        .iter()
        .find(|c| c["status"] == "voting" && c["method"]["type"] == method)
        .unwrap_or_else(|| panic!("a demo consultation by {method} in its vote: {list}"));
    let id: EventId = c["id"].as_str().expect("id").parse().expect("an id");
    let detail = super::consultation_detail(addr, &id);
    let mut proposals: Vec<EventId> = detail["proposals"]
        .as_array()
        .expect("proposals")
        .iter()
        .map(|p| p["id"].as_str().expect("id").parse().expect("an id"))
        .collect();
    proposals.sort();
    (id, proposals)
}

#[test]
fn the_first_administrator_comes_from_a_one_time_link_and_logins_are_guarded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path());
    let link = node.setup.clone().expect("setup link printed");
    let mut web = Web::new(&node.addr);
    // Bad input first: a weak password changes nothing, the link still works.
    let weak = web.post(
        &link,
        &[
            ("name", "Claire"),
            ("login", "claire"),
            ("password", "court"),
        ],
    );
    assert_eq!(weak.status, 422);
    assert!(weak.body.contains("10 caractères"), "{}", weak.body);
    let mut admin = first_admin(&node);
    // The link is spent.
    let again = web.post(
        &link,
        &[
            ("name", "Intrus"),
            ("login", "intrus"),
            ("password", "0123456789ab"),
        ],
    );
    assert_eq!(again.status, 404);
    assert!(again.body.contains("setup_used"));
    let dashboard = admin.get("/staff");
    assert!(dashboard.body.contains("Claire Martin"));
    // Staff pages cannot be framed, run no foreign script, and are never cached.
    assert_eq!(dashboard.header("x-frame-options"), Some("DENY"));
    assert!(
        dashboard
            .header("content-security-policy")
            .is_some_and(|c| c.contains("frame-ancestors 'none'"))
    );
    assert_eq!(dashboard.header("cache-control"), Some("no-store"));
    // An unknown login is refused like a wrong password.
    let unknown = web.try_login("personne", ADMIN_PASSWORD);
    assert_eq!(unknown.status, 401);

    // The appointment is in the log, signed by the town, naming the admin's own key.
    let town = authority(&node.addr);
    let staff: Vec<_> = log_events(&node.addr, &town)
        .into_iter()
        .filter_map(|(_, e)| match e.body {
            Body::Staff(b) => Some((e.author, b)),
            _ => None,
        })
        .collect();
    assert_eq!(staff.len(), 1);
    assert_eq!(staff[0].0, town);
    assert_eq!(staff[0].1.role, StaffRole::Admin);
    assert_ne!(staff[0].1.subject, town);

    // Logins: no page without one; a wrong password; a form without its token.
    let mut stranger = Web::new(&node.addr);
    let a = stranger.get("/staff/consultations");
    assert_eq!(
        (a.status, a.header("location")),
        (303, Some("/staff/login"))
    );
    let wrong = stranger.try_login("claire", "pas le bon");
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("incorrect"));
    let forged = Web::new(&node.addr).post(
        "/staff/login",
        &[
            ("login", "claire"),
            ("password", ADMIN_PASSWORD),
            ("csrf", "x"),
        ],
    );
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("bad_csrf"));
    // Five failures lock the account for a while, even with the right password.
    for _ in 0..5 {
        stranger.try_login("claire", "toujours faux");
    }
    let locked = stranger.try_login("claire", ADMIN_PASSWORD);
    assert_eq!(locked.status, 429);
    // The session already open still works; after logout, its cookie is worth nothing.
    let old_cookie = admin.cookies.clone();
    let csrf = admin.csrf();
    assert_eq!(admin.post("/staff/logout", &[("csrf", &csrf)]).status, 303);
    admin.cookies = old_cookie;
    assert_eq!(admin.get("/staff").status, 303);
    // A staff form without a token changes nothing.
    let no_token = admin.post("/staff/consultations", &[]);
    assert_eq!(no_token.status, 403);
    let metrics = String::from_utf8(super::get_raw(&node.addr, "/metrics")).expect("utf-8");
    assert!(
        metrics.contains("palabre_staff_actions_total{action=\"login_failed\"} 6"),
        "{metrics}"
    );
}

#[test]
fn each_role_does_its_own_work_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path());
    let mut admin = first_admin(&node);
    let mut moderator = appoint(&mut admin, "Paul Moderateur", "paul", "moderator");
    let mut desk = appoint(&mut admin, "Accueil mairie", "accueil", "desk");

    // A moderator cannot create a consultation, nor print letters, nor staff the desk.
    let csrf = moderator.csrf();
    let refused = moderator.post("/staff/consultations", &[("csrf", &csrf)]);
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("wrong_role"));
    assert_eq!(
        moderator
            .post(
                "/staff/letters",
                &[("csrf", &csrf), ("label", "x"), ("count", "1")]
            )
            .status,
        403
    );
    assert_eq!(moderator.get("/staff/desk").status, 403);
    assert_eq!(moderator.get("/staff/team").status, 403);
    // A desk agent cannot moderate nor appoint.
    let csrf_desk = desk.csrf();
    let hide = desk.post(
        "/staff/moderation",
        &[
            ("csrf", &csrf_desk),
            ("target", &"0".repeat(64)),
            ("action", "hide"),
            ("reason", "x"),
        ],
    );
    assert_eq!(hide.status, 403);
    assert_eq!(desk.get("/staff/moderation").status, 403);
    assert_eq!(
        desk.post(
            "/staff/team",
            &[
                ("csrf", &csrf_desk),
                ("name", "X"),
                ("login", "x1"),
                ("password", PASSWORD),
                ("role", "admin")
            ]
        )
        .status,
        403
    );
    // A moderator cannot record an assisted ballot.
    let (cid, _) = voting_consultation(&node.addr, "approval");
    assert_eq!(
        moderator
            .post(
                &format!("/staff/desk/vote/{cid}"),
                &[("csrf", &csrf), ("card", "00"), ("kind", "approve")]
            )
            .status,
        403
    );
    // Another session's token does not pass.
    let stolen = moderator.post(
        "/staff/moderation",
        &[
            ("csrf", &csrf_desk),
            ("target", &"0".repeat(64)),
            ("action", "hide"),
            ("reason", "x"),
        ],
    );
    assert_eq!(stolen.status, 403);
    assert!(stolen.body.contains("bad_csrf"));

    // Dismissal cannot be undone (issue 20, point 15): the first request only asks for
    // the confirmation, in the page's language, and changes nothing.
    let csrf = admin.csrf();
    let asked = admin.post("/staff/team/paul/dismiss", &[("csrf", &csrf)]);
    assert_unconfirmed(&asked, "/staff/team/paul/dismiss");
    assert_eq!(moderator.get("/staff").status, 200, "still a member");
    // Confirmed: the member's session ends, the log says so.
    assert_eq!(
        admin
            .post(
                "/staff/team/paul/dismiss",
                &[("csrf", &csrf), ("confirm", "yes")]
            )
            .status,
        303
    );
    assert_eq!(moderator.get("/staff").status, 303);
    let own = admin.post(
        "/staff/team/claire/dismiss",
        &[("csrf", &csrf), ("confirm", "yes")],
    );
    assert_eq!(own.status, 409);
    assert!(own.body.contains("dismiss_self"), "{}", own.body);
    let town = authority(&node.addr);
    let appointments: Vec<bool> = log_events(&node.addr, &town)
        .into_iter()
        .filter_map(|(_, e)| match e.body {
            Body::Staff(b) => Some(b.active),
            _ => None,
        })
        .collect();
    assert_eq!(appointments, vec![true, true, true, false]);
    // The public transparency page lists staff and their keys.
    let t = Web::new(&node.addr).get("/transparency");
    assert_eq!(t.status, 200);
    assert!(t.body.contains("Paul Moderateur") && t.body.contains("Accueil mairie"));
}

#[test]
fn an_administrator_drafts_previews_and_publishes_a_consultation_then_it_is_fixed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path());
    let mut admin = first_admin(&node);
    let csrf = admin.csrf();
    let created = admin.post("/staff/consultations", &[("csrf", &csrf)]);
    assert_eq!(created.status, 303);
    let draft = created.header("location").expect("to the draft").to_owned();
    let id = draft.rsplit('/').next().expect("id").to_owned();
    // Out-of-order dates: saved as typed, with the problem shown; publishing refused.
    let mut form = vec![
        ("csrf", csrf.clone()),
        ("title", "Budget participatif 2027".to_owned()),
        (
            "description",
            "Proposez vos projets.\r\n\r\nLa mairie financera les plus soutenus.".to_owned(),
        ),
        ("method", "budget".to_owned()),
        ("budget", "40000".to_owned()),
        ("rule", "equal_shares".to_owned()),
        ("proposals_open", "2030-05-01T08:00".to_owned()),
        ("proposals_close", "2030-04-01T08:00".to_owned()),
        ("vote_open", "2030-05-20T08:00".to_owned()),
        ("vote_close", "2030-06-01T18:00".to_owned()),
    ];
    let pairs = |f: &Vec<(&'static str, String)>| -> Vec<(&'static str, String)> { f.clone() };
    let as_refs = |f: &Vec<(&'static str, String)>| {
        f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()
    };
    let send = |web: &mut Web, path: &str, f: &Vec<(&'static str, String)>| {
        let owned = as_refs(f);
        let refs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        web.post(path, &refs)
    };
    let saved = send(&mut admin, &draft, &pairs(&form));
    assert_eq!(saved.status, 200);
    assert!(
        saved.body.contains("pas dans l&#39;ordre") || saved.body.contains("pas dans l'ordre"),
        "{}",
        saved.body
    );
    assert!(!saved.body.contains("/publish"));
    // The limits per resident show the protocol's defaults; a zero is a problem.
    assert!(
        saved.body.contains("vide : 10)") && saved.body.contains("vide : 100)"),
        "{}",
        saved.body
    );
    form.push(("max_proposals", "0".to_owned()));
    form.push(("max_arguments", "25".to_owned()));
    let saved = send(&mut admin, &draft, &form);
    assert!(
        saved.body.contains("Les limites par habitant"),
        "{}",
        saved.body
    );
    let refused = admin.post(&format!("{draft}/publish"), &[("csrf", &csrf)]);
    assert_eq!(refused.status, 422);
    // Fixed: the preview shows it as residents will see it.
    form[7].1 = "2030-05-15T08:00".into();
    form[10].1 = String::new();
    let saved = send(&mut admin, &draft, &form);
    assert!(saved.body.contains("Aperçu"), "{}", saved.body);
    assert!(saved.body.contains("budget participatif (40000 €)"));
    assert!(saved.body.contains("2030-05-01 08:00 UTC"));
    let published = admin.post(&format!("{draft}/publish"), &[("csrf", &csrf)]);
    assert_eq!(published.status, 303, "{}", published.body);
    let at = published.header("location").expect("to the consultation");
    let cid: EventId = at.trim_start_matches("/c/").parse().expect("an id");
    // Signed by the administrator's own key, organised by the town.
    let town = authority(&node.addr);
    let events = log_events(&node.addr, &town);
    let (_, event) = events.iter().find(|(i, _)| *i == cid).expect("in the log");
    assert_ne!(event.author, town);
    // The limits are signed in it: the default for the empty field, 25 as typed.
    let Body::Consultation(signed) = &event.body else {
        panic!("a consultation: {event:?}")
    };
    assert_eq!(
        signed.quotas,
        Some(Quotas {
            max_proposals_per_author: 10,
            max_arguments_per_author: 25,
        })
    );
    let detail = super::consultation_detail(&node.addr, &cid);
    assert_eq!(detail["consultation"]["organiser"], town.to_string());
    // Published means fixed: the draft can no longer be edited or published again.
    let edit = send(&mut admin, &draft, &form);
    assert_eq!(edit.status, 409);
    assert!(edit.body.contains("consultation_published"));
    assert_eq!(admin.get(&draft).status, 409);
    assert_eq!(
        admin
            .post(&format!("/staff/drafts/{id}/publish"), &[("csrf", &csrf)])
            .status,
        409
    );
    // Listed among published ones; the demo's finished example shows its signed result.
    assert!(
        admin
            .get("/staff/consultations")
            .body
            .contains("close, résultat signé publié")
    );
    assert!(
        admin
            .get("/staff/consultations")
            .body
            .contains("Budget participatif 2027")
    );
}

#[test]
fn letters_are_generated_printed_exported_redeemed_and_withdrawn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = super::start_with(
        dir.path(),
        &[
            ("PALABRE_ADDRESS", "2 rue des Écoles, 12345 Palabre"),
            ("PALABRE_DESK_HOURS", "mardi et jeudi, 14 h – 18 h"),
        ],
    );
    let mut admin = first_admin(&node);
    let csrf = admin.csrf();
    let bad = admin.post(
        "/staff/letters",
        &[("csrf", &csrf), ("label", "Centre"), ("count", "0")],
    );
    assert_eq!(bad.status, 422);
    let made = admin.post(
        "/staff/letters",
        &[
            ("csrf", &csrf),
            ("label", "Quartier de la gare"),
            ("count", "3"),
        ],
    );
    assert_eq!(made.status, 303, "{}", made.body);
    let batch = made.header("location").expect("batch page").to_owned();
    let csv = admin.get(&format!("{batch}/codes.csv"));
    assert_eq!(csv.status, 200);
    assert!(
        csv.header("content-type")
            .is_some_and(|t| t.starts_with("text/csv"))
    );
    let codes: Vec<String> = csv
        .body
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().expect("code").to_owned())
        .collect();
    assert_eq!(codes.len(), 3);
    let print = admin.get(&format!("{batch}/print"));
    assert_eq!(print.status, 200);
    assert_eq!(print.body.matches("class=\"letter\"").count(), 3);
    assert_eq!(print.body.matches("<svg class=\"qr\"").count(), 3);
    assert!(print.body.contains(&codes[0]));
    // Issue 20, point 17: each letter is dated, names the consultations still open with
    // the end of their vote, the desk's address and hours, and the site's own words for
    // its registration link.
    let letters: Vec<&str> = print
        .body
        .split("<section class=\"letter\">")
        .skip(1)
        .collect();
    assert_eq!(letters.len(), 3);
    for said in [
        "<p class=\"dated\">Ville de Palabre, le ",
        "vote ouvert jusqu&#39;au ",
        " UTC</li>",
        "<strong>2 rue des Écoles, 12345 Palabre</strong>",
        "Horaires : mardi et jeudi, 14 h – 18 h",
        "Choisissez « M&#39;inscrire » et saisissez le code.",
    ] {
        for letter in &letters {
            assert!(letter.contains(said), "{said}: {letter}");
        }
    }
    assert!(!print.body.contains("S&#39;inscrire"), "{}", print.body);
    // The desk names the residents' page by the site's own word too.
    let desk = admin.get("/staff/desk");
    assert!(desk.body.contains("« Ma participation »"), "{}", desk.body);
    assert!(!desk.body.contains("Mon espace"), "{}", desk.body);
    // The codes are nowhere on disk: only hashes.
    let store = std::fs::read_dir(dir.path().join("store"))
        .expect("store")
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .any(|bytes| bytes.windows(14).any(|w| w == codes[0].as_bytes()));
    assert!(!store, "a code was written to the store");
    // A resident redeems one (the QR link's code), the rest are withdrawn.
    let resident = SecretKey::from_seed(&[77; 32]);
    assert!(redeem(&node.addr, &codes[0], &resident));
    // Its credential's time is rounded down to the minute (issue 19, point 9): it does
    // not single out the moment this resident registered.
    let credential = log_events(&node.addr, &authority(&node.addr))
        .into_iter()
        .find(|(_, e)| matches!(&e.body, Body::Credential(c) if c.subject == resident.public_key()))
        .expect("the credential");
    assert_eq!(credential.1.created_at_ms % 60_000, 0, "{:?}", credential.1);
    // Withdrawing cannot be undone: asked first, nothing withdrawn until confirmed.
    let asked = admin.post(&format!("{batch}/revoke"), &[("csrf", &csrf)]);
    assert_unconfirmed(&asked, &format!("{batch}/revoke"));
    assert!(asked.body.contains("Quartier de la gare"), "{}", asked.body);
    assert_eq!(admin.get(&format!("{batch}/print")).status, 200);
    let withdrawn = admin.post(
        &format!("{batch}/revoke"),
        &[("csrf", &csrf), ("confirm", "yes")],
    );
    assert_eq!(withdrawn.status, 200);
    assert!(withdrawn.body.contains("2 codes"), "{}", withdrawn.body);
    assert_eq!(admin.get(&format!("{batch}/print")).status, 410);
    let late = SecretKey::from_seed(&[78; 32]);
    assert!(
        !redeem(&node.addr, &codes[1], &late),
        "a withdrawn code redeems nothing"
    );
    // The register page fills in the code of a letter's QR link.
    let register = Web::new(&node.addr).get(&format!("/register?code={}", codes[2]));
    assert!(register.body.contains(&format!("value=\"{}\"", codes[2])));
    // Public counts, per batch (redeemed ones in tens: which batch a new credential
    // came from is not told).
    let t = Web::new(&node.addr).get("/transparency");
    assert!(t.body.contains("Quartier de la gare"));
    assert!(
        t.body.contains("<td>3</td><td>&#60; 10</td><td>2</td>"),
        "{}",
        t.body
    );
    // A large batch prints a hundred letters at a time.
    let large = admin.post(
        "/staff/letters",
        &[("csrf", &csrf), ("label", "Centre-bourg"), ("count", "150")],
    );
    let large = large.header("location").expect("batch").to_owned();
    let page = admin.get(&large);
    assert!(page.body.contains("print?from=0") && page.body.contains("print?from=100"));
    let second = admin.get(&format!("{large}/print?from=100"));
    assert_eq!(second.body.matches("class=\"letter\"").count(), 50);
    // A single lost letter's code, typed at the desk or by an admin.
    let made = admin.post(
        "/staff/letters",
        &[("csrf", &csrf), ("label", "Hameaux"), ("count", "1")],
    );
    let one = admin.get(&format!(
        "{}/codes.csv",
        made.header("location").expect("batch")
    ));
    let code = one
        .body
        .lines()
        .nth(1)
        .expect("a line")
        .split(',')
        .next()
        .expect("code")
        .to_owned();
    let typed = code.to_lowercase().replace('-', " ");
    let asked = admin.post(
        "/staff/letters/revoke-code",
        &[("csrf", &csrf), ("code", &typed)],
    );
    assert_unconfirmed(&asked, "/staff/letters/revoke-code");
    // In English too, for a member who reads the staff pages in English.
    admin.cookies.insert("lang".into(), "en".into());
    let asked = admin.post(
        "/staff/letters/revoke-code",
        &[("csrf", &csrf), ("code", &typed)],
    );
    assert_eq!(asked.status, 409);
    assert!(
        asked
            .body
            .contains("Nothing was done: this action cannot be undone.")
            && asked.body.contains("I understand this cannot be undone")
            && asked.body.contains("Withdraw the code for good"),
        "{}",
        asked.body
    );
    admin.cookies.remove("lang");
    let withdraw = |admin: &mut Web| {
        admin
            .post(
                "/staff/letters/revoke-code",
                &[("csrf", &csrf), ("code", &typed), ("confirm", "yes")],
            )
            .status
    };
    assert_eq!(withdraw(&mut admin), 200, "the code was still there");
    assert_eq!(withdraw(&mut admin), 409);
}

#[test]
fn reports_reach_moderators_who_hide_in_the_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path());
    let mut admin = first_admin(&node);
    let mut moderator = appoint(&mut admin, "Paul Moderateur", "paul", "moderator");
    let (cid, proposals) = voting_consultation(&node.addr, "approval");
    let target = proposals[0];
    // A resident reports it (no account needed); bad reports change nothing.
    let mut resident = Web::new(&node.addr);
    assert_eq!(
        resident.get(&format!("/report?target={target}")).status,
        200
    );
    assert_eq!(
        resident
            .post(
                "/report",
                &[("target", &target.to_string()), ("reason", " ")]
            )
            .status,
        422
    );
    assert_eq!(
        resident
            .post("/report", &[("target", &cid.to_string()), ("reason", "x")])
            .status,
        404
    );
    let before = String::from_utf8(super::get_raw(&node.addr, "/metrics")).expect("utf-8");
    assert!(before.contains("palabre_open_reports 0"), "{before}");
    let sent = resident.post(
        "/report",
        &[
            ("target", &target.to_string()),
            ("reason", "Propos injurieux envers un voisin"),
        ],
    );
    assert_eq!(sent.status, 200);
    let waiting = String::from_utf8(super::get_raw(&node.addr, "/metrics")).expect("utf-8");
    assert!(waiting.contains("palabre_open_reports 1"), "{waiting}");
    let queue = moderator.get("/staff/moderation");
    assert!(
        queue.body.contains("Propos injurieux envers un voisin"),
        "{}",
        queue.body
    );
    let report = field(&queue.body, "report");
    let csrf = queue.csrf();
    // Hidden with a public reason, signed with the moderator's own key.
    let hidden = moderator.post(
        "/staff/moderation",
        &[
            ("csrf", &csrf),
            ("target", &target.to_string()),
            ("report", &report),
            ("action", "hide"),
            ("reason", "Message injurieux (charte, article 2)"),
        ],
    );
    assert_eq!(hidden.status, 200, "{}", hidden.body);
    assert!(
        !hidden.body.contains("Propos injurieux envers un voisin"),
        "the report is answered"
    );
    let metrics = String::from_utf8(super::get_raw(&node.addr, "/metrics")).expect("utf-8");
    assert!(metrics.contains("palabre_open_reports 0"), "{metrics}");
    assert!(metrics.contains("palabre_staff_members{role=\"moderator\"} 1"));
    assert!(metrics.contains("palabre_staff_actions_total{action=\"moderation_hide\"} 1"));
    let public = Web::new(&node.addr).get("/moderation");
    assert!(
        public
            .body
            .contains("Message injurieux (charte, article 2)")
    );
    assert!(public.body.contains("Paul Moderateur"));
    let page = Web::new(&node.addr).get(&format!("/p/{target}"));
    assert!(
        page.body.contains("Message injurieux (charte, article 2)"),
        "{}",
        page.body
    );
    let town = authority(&node.addr);
    let moderation = log_events(&node.addr, &town)
        .into_iter()
        .find(|(_, e)| matches!(e.body, Body::Moderation(_)))
        .expect("in the log");
    assert_ne!(moderation.1.author, town);
    // Only proposals and arguments can be hidden (never a ballot, nor a credential).
    let ballot_like = log_events(&node.addr, &town)
        .into_iter()
        .find(|(_, e)| matches!(e.body, Body::Credential(_)))
        .expect("a credential");
    let refused = moderator.post(
        "/staff/moderation",
        &[
            ("csrf", &csrf),
            ("target", &ballot_like.0.to_string()),
            ("action", "hide"),
            ("reason", "x"),
        ],
    );
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("not_moderatable"));

    // Erasing the text: only of a hidden item, for good, in the open.
    let (_, before) =
        http(&node.addr, "GET", &format!("/api/v1/events/{target}"), b"").expect("the event");
    let title = before["event"]["body"]["title"]
        .as_str()
        .expect("a title")
        .to_owned();
    let (_, head) = http(
        &node.addr,
        "GET",
        &format!("/api/v1/logs/{town}/checkpoint"),
        b"",
    )
    .expect("head");
    let erase_asking = |who: &mut Web, target: &EventId, confirm: &str| {
        who.post(
            "/staff/moderation",
            &[
                ("csrf", &csrf),
                ("target", &target.to_string()),
                ("action", "purge"),
                ("reason", "Données personnelles (RGPD, article 17)"),
                ("confirm", confirm),
            ],
        )
    };
    let erase = |who: &mut Web, target: &EventId| erase_asking(who, target, "yes");
    let visible = erase(&mut moderator, &proposals[1]);
    assert_eq!(visible.status, 422);
    assert!(visible.body.contains("not_hidden"), "{}", visible.body);
    // The moderators' page lists what this town hides, each with an erase form.
    let listed = moderator.get("/staff/moderation");
    assert!(
        listed.body.contains("Contenus masqués (1)"),
        "{}",
        listed.body
    );
    assert!(listed.body.contains(&format!(
        "name=\"target\" value=\"{target}\"><input type=\"hidden\" name=\"action\" value=\"purge\">"
    )));
    // Erasing cannot be undone (issue 20, point 15): without the ticked box, the answer
    // asks for it, with the same request ready to send again, and nothing is erased.
    let asked = erase_asking(&mut moderator, &target, "");
    assert_unconfirmed(&asked, "/staff/moderation");
    assert!(
        asked
            .body
            .contains("name=\"reason\" value=\"Données personnelles (RGPD, article 17)\""),
        "{}",
        asked.body
    );
    let (_, still) =
        http(&node.addr, "GET", &format!("/api/v1/events/{target}"), b"").expect("the event");
    assert!(still["event"]["purged"].is_null(), "{still}");
    assert!(still.to_string().contains(&title), "{still}");
    let erased = erase(&mut moderator, &target);
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert!(
        erased.body.contains("Contenus masqués (0)"),
        "{}",
        erased.body
    );
    let (_, after) =
        http(&node.addr, "GET", &format!("/api/v1/events/{target}"), b"").expect("the tombstone");
    assert_eq!(after["event"]["purged"]["id"], json!(target.to_string()));
    assert!(!after.to_string().contains(&title));
    // The old head's root is still the root of the entries now served.
    let size = head["head"]["size"].as_u64().expect("size");
    let raw = super::get_raw(
        &node.addr,
        &format!("/api/v1/logs/{town}/entries?start=0&end={size}"),
    );
    #[derive(serde::Deserialize)]
    struct Page<'a> {
        #[serde(borrow)]
        entries: Vec<&'a serde_json::value::RawValue>,
    }
    let page: Page<'_> = serde_json::from_slice(&raw).expect("entries");
    let mut tree = merkle::MemoryTree::new();
    for e in &page.entries {
        tree.push(palabre_core::purge::stored_leaf(e.get().as_bytes()));
    }
    assert_eq!(
        json!(merkle::root_at(&tree, size).expect("root")),
        head["head"]["root"]
    );
    let proposal_page = Web::new(&node.addr).get(&format!("/p/{target}"));
    assert_eq!(proposal_page.status, 200);
    assert!(
        !proposal_page.body.contains(&title),
        "{}",
        proposal_page.body
    );
    assert!(proposal_page.body.contains("texte retiré"));
    let (_, detail) = http(
        &node.addr,
        "GET",
        &format!("/api/v1/consultations/{cid}"),
        b"",
    )
    .expect("detail");
    let item = detail["proposals"]
        .as_array()
        .expect("proposals")
        .iter()
        .find(|p| p["id"] == json!(target.to_string()))
        .expect("still listed")
        .clone();
    assert_eq!(
        (item["purged"].clone(), item["hidden"].clone()),
        (json!(true), json!(true))
    );
    assert!(item["body"].is_null());
    let public = Web::new(&node.addr).get("/moderation");
    assert!(public.body.contains("Texte effacé"));
    assert!(
        public
            .body
            .contains("Données personnelles (RGPD, article 17)")
    );
    let metrics = String::from_utf8(super::get_raw(&node.addr, "/metrics")).expect("utf-8");
    assert!(metrics.contains("palabre_staff_actions_total{action=\"moderation_purge\"} 1"));
    // For good: restoring is refused, and so is a second erasure.
    let restore = moderator.post(
        "/staff/moderation",
        &[
            ("csrf", &csrf),
            ("target", &target.to_string()),
            ("action", "restore"),
            ("reason", "Erreur"),
        ],
    );
    assert_eq!(restore.status, 422);
    assert!(restore.body.contains("purged"), "{}", restore.body);
    assert_eq!(erase(&mut moderator, &target).status, 422);
}

#[test]
fn the_desk_registers_replaces_and_records_assisted_ballots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path());
    let mut admin = first_admin(&node);
    let mut desk = appoint(&mut admin, "Accueil mairie", "accueil", "desk");
    let csrf = desk.csrf();
    // A resident with a letter: the code is consumed with the desk's credential.
    let code = node.codes[0].clone();
    let card = desk.post("/staff/desk/register", &[("csrf", &csrf), ("code", &code)]);
    assert_eq!(card.status, 200, "{}", card.body);
    let secret = {
        let at = card.body.find("id=\"secret\">").expect("secret") + 12;
        card.body[at..at + card.body[at..].find('<').expect("end")].to_owned()
    };
    assert!(card.body.contains("<svg class=\"qr\""));
    let again = desk.post("/staff/desk/register", &[("csrf", &csrf), ("code", &code)]);
    assert_eq!(again.status, 422);
    assert!(again.body.contains("used_invitation"));
    // An assisted ballot: the card's key signs, the agent countersigns.
    let (cid, proposals) = voting_consultation(&node.addr, "approval");
    let form = desk.get(&format!("/staff/desk/vote/{cid}"));
    assert_eq!(form.status, 200);
    let p = proposals[0].to_string();
    let bad = desk.post(
        &format!("/staff/desk/vote/{cid}"),
        &[
            ("csrf", &csrf),
            ("card", "abc"),
            ("kind", "approve"),
            ("p", &p),
        ],
    );
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("bad_card"));
    let voted = desk.post(
        &format!("/staff/desk/vote/{cid}"),
        &[
            ("csrf", &csrf),
            ("card", &secret),
            ("kind", "approve"),
            ("p", &p),
        ],
    );
    assert_eq!(voted.status, 200, "{}", voted.body);
    assert!(voted.body.contains("Vote enregistré"));
    let town = authority(&node.addr);
    let events = log_events(&node.addr, &town);
    let ballot = events
        .iter()
        .rev()
        .find_map(|(_, e)| match &e.body {
            Body::Ballot(b) => Some((e.author, b.clone())),
            _ => None,
        })
        .expect("a ballot");
    let agent = ballot.1.assistance.as_ref().expect("assisted").agent;
    let old_key = ballot.0;
    assert_ne!(agent, town);
    // A secret vote at the desk without the page's script (no sealed member, or not
    // one): refused in plain words, nothing logged; the choice is never signed here.
    let referendum = super::secret_vote::secret_consultation(&node.addr);
    let rid = referendum["id"].as_str().expect("id");
    let form = desk.get(&format!("/staff/desk/vote/{rid}"));
    assert!(form.body.contains("data-desk"), "{}", form.body);
    let before = log_events(&node.addr, &town).len();
    for sealed in ["", "{\"not\": \"sealed\"}"] {
        let refused = desk.post(
            &format!("/staff/desk/vote/{rid}"),
            &[
                ("csrf", &csrf),
                ("card", &secret),
                ("kind", "answers"),
                ("sealed", sealed),
            ],
        );
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert!(refused.body.contains("sealed_required"), "{}", refused.body);
        assert!(
            refused.body.contains("Activez JavaScript"),
            "{}",
            refused.body
        );
    }
    assert_eq!(log_events(&node.addr, &town).len(), before);
    // Public count per agent.
    let t = Web::new(&node.addr).get("/transparency");
    assert!(t.body.contains("Accueil mairie : 1"), "{}", t.body);
    // The resident then votes on their own with the card's key: the assisted ballot
    // counts no more, and the public page says it was replaced instead of dropping it.
    let seed: [u8; 32] = hex::decode(secret.replace(' ', ""))
        .expect("a hex card secret")
        .try_into()
        .expect("32 bytes");
    let own = SecretKey::from_seed(&seed);
    assert_eq!(own.public_key(), old_key);
    let own_ballot = Body::Ballot(BallotBody {
        consultation: cid,
        choice: Choice::Approve(vec![proposals[0]]),
        assistance: None,
    });
    super::federation::post(&node.addr, &super::federation::sign(&own, own_ballot));
    let t = Web::new(&node.addr).get("/transparency");
    assert!(
        t.body.contains(
            "Accueil mairie : 0 vote compté · 1 remplacé depuis par un vote plus récent de la personne"
        ),
        "{}",
        t.body
    );
    // Lost card: the replacement names the old key, which stops counting.
    let bad_old = desk.post(
        "/staff/desk/replace",
        &[("csrf", &csrf), ("old", "pas une clé")],
    );
    assert_eq!(bad_old.status, 422);
    let replaced = desk.post(
        "/staff/desk/replace",
        &[("csrf", &csrf), ("old", &old_key.to_string())],
    );
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    let old_again = desk.post(
        &format!("/staff/desk/vote/{cid}"),
        &[
            ("csrf", &csrf),
            ("card", &secret),
            ("kind", "approve"),
            ("p", &p),
        ],
    );
    assert_eq!(old_again.status, 422);
    assert!(old_again.body.contains("replaced_key"));
    let credentials = log_events(&node.addr, &town)
        .into_iter()
        .filter(|(_, e)| matches!(&e.body, Body::Credential(c) if c.replaces == Some(old_key)))
        .count();
    assert_eq!(credentials, 1);
}

#[test]
fn partner_towns_come_from_the_federation_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("node");
    let palabre = |args: &[&str]| ok(super::federation::palabre(args));
    let d = data.to_str().expect("utf-8");
    palabre(&["init", "--data", d, "--name", "Ville A"]);
    let neighbour = SecretKey::from_seed(&[99; 32]).public_key().to_string();
    palabre(&[
        "peers",
        "add",
        "--data",
        d,
        "--authority",
        &neighbour,
        "--addr",
        "/ip4/127.0.0.1/tcp/9",
        "--name",
        "Commune voisine",
    ]);
    let node = super::start_with(&data, &[("PALABRE_P2P_LISTEN", "/ip4/127.0.0.1/tcp/0")]);
    let mut admin = first_admin(&node);
    let csrf = admin.csrf();
    let created = admin.post("/staff/consultations", &[("csrf", &csrf)]);
    let draft = created.header("location").expect("draft").to_owned();
    let page = admin.get(&draft);
    assert!(page.body.contains("Commune voisine"), "{}", page.body);
    let form = [
        ("csrf", csrf.as_str()),
        ("title", "Piste cyclable entre nos deux communes"),
        ("description", "Faut-il la construire ?"),
        ("method", "yes_no_abstain"),
        ("proposals_open", "2030-05-01T08:00"),
        ("proposals_close", "2030-05-10T08:00"),
        ("vote_open", "2030-05-10T08:00"),
        ("vote_close", "2030-05-20T08:00"),
        ("partner", neighbour.as_str()),
    ];
    let saved = admin.post(&draft, &form);
    assert!(saved.body.contains("2 commune(s)"), "{}", saved.body);
    // A key that is not a partner's is refused before anything is signed.
    let odd = admin.post(
        &draft,
        &[
            ("csrf", &csrf),
            ("title", "x"),
            ("description", "x"),
            ("method", "yes_no_abstain"),
            ("partner", "zz"),
        ],
    );
    assert!(
        odd.body.contains("commune partenaire est inconnue"),
        "{}",
        odd.body
    );
    let saved = admin.post(&draft, &form);
    assert_eq!(saved.status, 200);
    let published = admin.post(&format!("{draft}/publish"), &[("csrf", &csrf)]);
    assert_eq!(published.status, 303, "{}", published.body);
    let cid: EventId = published
        .header("location")
        .expect("consultation")
        .trim_start_matches("/c/")
        .parse()
        .expect("id");
    let detail = super::consultation_detail(&node.addr, &cid);
    let mut expected = vec![authority(&node.addr).to_string(), neighbour];
    expected.sort();
    assert_eq!(
        detail["consultation"]["authorities"],
        serde_json::json!(expected)
    );
}

#[test]
fn an_expired_session_opens_nothing_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = super::start_with(dir.path(), &[("PALABRE_STAFF_SESSION_SECONDS", "1")]);
    let mut admin = first_admin(&node);
    let csrf = admin.csrf();
    // Wait until the session's end has passed (a deadline, not a timing assertion).
    let until = std::time::Instant::now() + Duration::from_millis(1_500);
    while std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    let page = admin.get("/staff/consultations");
    assert_eq!(
        (page.status, page.header("location")),
        (303, Some("/staff/login"))
    );
    let form = admin.post("/staff/consultations", &[("csrf", &csrf)]);
    assert_eq!(form.status, 403);
    assert!(form.body.contains("bad_csrf"));
    // Nothing was created; logging in again works.
    admin.login("claire", ADMIN_PASSWORD);
    let list = admin.get("/staff/consultations");
    assert!(list.body.contains("Aucun brouillon"), "{}", list.body);
}

/// A node served on a port of its own prints, on its setup link, on its letters and in
/// its authority event, the address it really serves, not the config file's default.
#[test]
fn the_printed_addresses_are_the_ones_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("addr")
        .port();
    let served = format!("127.0.0.1:{port}");
    let node = start_args(dir.path(), &["--demo", "--http", &served], &[]);
    assert_eq!(node.addr, served);
    let site = format!("http://{served}");
    let link = node.setup_link.clone().expect("a setup link");
    assert!(link.starts_with(&format!("{site}/staff/setup/")), "{link}");
    // Follow the printed link where it says (its own host and port).
    let rest = link.strip_prefix("http://").expect("http link");
    let (host, path) = rest.split_at(rest.find('/').expect("a path"));
    let mut admin = Web::new(host);
    assert_eq!(admin.get(path).status, 200);
    let made = admin.post(
        path,
        &[
            ("name", "Claire Martin"),
            ("login", "claire"),
            ("password", ADMIN_PASSWORD),
        ],
    );
    assert_eq!(made.status, 303, "{}", made.body);
    // A demo on loopback is expected: no warning, letters print.
    let letters = admin.get("/staff/letters");
    assert!(!letters.body.contains("site-warning"), "{}", letters.body);
    assert!(letters.body.contains(&format!("<code>{site}</code>")));
    let csrf = admin.csrf();
    let made = admin.post(
        "/staff/letters",
        &[("csrf", &csrf), ("label", "Gare"), ("count", "1")],
    );
    assert_eq!(made.status, 303, "{}", made.body);
    let batch = made.header("location").expect("batch page").to_owned();
    let print = admin.get(&format!("{batch}/print"));
    assert_eq!(print.status, 200);
    assert!(print.body.contains(&format!("<strong>{site}</strong>")));
    assert!(!print.body.contains("127.0.0.1:8080"));
    let csv = admin.get(&format!("{batch}/codes.csv"));
    let line = csv.body.lines().nth(1).expect("one letter");
    let qr_link = line.rsplit(',').next().expect("registration link");
    assert!(
        qr_link.starts_with(&format!("{site}/register?code=")),
        "{qr_link}"
    );
    let rest = qr_link.strip_prefix("http://").expect("http link");
    let (host, path) = rest.split_at(rest.find('/').expect("a path"));
    let mut resident = Web::new(host);
    let page = resident.get(path);
    assert_eq!(page.status, 200, "{}", page.body);
    // The authority event declares the same address.
    let (status, authority) =
        http(&node.addr, "GET", "/api/v1/authority", b"").expect("the authority");
    assert_eq!(status, 200, "{authority}");
    assert!(authority.to_string().contains(&site), "{authority}");
}

/// Not a demo, on a loopback address: every staff page warns, and letters are refused.
#[test]
fn letters_are_refused_while_residents_cannot_reach_the_site() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_args(dir.path(), &["--http", "127.0.0.1:0"], &[]);
    let mut admin = first_admin(&node);
    let home = admin.get("/staff");
    assert!(home.body.contains("id=\"site-warning\""), "{}", home.body);
    let csrf = admin.csrf();
    let made = admin.post(
        "/staff/letters",
        &[("csrf", &csrf), ("label", "Gare"), ("count", "1")],
    );
    assert_eq!(made.status, 303, "{}", made.body);
    let batch = made.header("location").expect("batch page").to_owned();
    assert_eq!(admin.get(&format!("{batch}/print")).status, 409);
    assert_eq!(admin.get(&format!("{batch}/codes.csv")).status, 409);
}

/// Issue 19, point 10: hiding the running count of a public vote hides nothing from
/// anyone who reads the log. The trust level says when anyone can count (the vote's
/// opening) apart from when the pages show it (the close); the page and the staff form
/// say it in words.
#[test]
fn a_hidden_count_of_public_ballots_is_not_sold_as_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path());
    let (_, list) = http(&node.addr, "GET", "/api/v1/consultations", b"").expect("list");
    let example = list["consultations"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["status"] == json!("closed"))
        .expect("the finished example")["id"]
        .as_str()
        .expect("id")
        .parse::<EventId>()
        .expect("an id");
    let c = super::consultation_detail(&node.addr, &example)["consultation"].clone();
    let event = &c["event"]["body"];
    assert_eq!(event["show_running_results"], json!(false), "{c}");
    let trust = &c["trust"];
    assert_eq!(trust["ballots"], json!("public"), "{trust}");
    assert_eq!(trust["results_from_ms"], event["vote_open_ms"], "{trust}");
    assert_eq!(
        trust["results_shown_from_ms"], event["vote_close_ms"],
        "{trust}"
    );
    assert_eq!(
        trust["town_can_know"],
        json!(["that_you_voted", "how_you_voted"])
    );
    let page = Web::new(&node.addr).get(&format!("/c/{example}"));
    assert!(
        page.body
            .contains("chacun peut les compter dans le registre pendant le vote"),
        "{}",
        page.body
    );
    let mut admin = first_admin(&node);
    let csrf = admin.csrf();
    let created = admin.post("/staff/consultations", &[("csrf", &csrf)]);
    let draft = created.header("location").expect("to the draft").to_owned();
    let form = admin.get(&draft);
    assert!(
        form.body
            .contains("chacun peut les compter pendant le vote"),
        "{}",
        form.body
    );
}

/// Issue 19, point 4: a flood of reports from one address is cut at ten an hour, and the
/// queue, one open entry per item, stays open to a genuine first report on another item.
#[test]
fn a_report_flood_leaves_the_queue_open_to_a_genuine_report() {
    use std::net::{IpAddr, Ipv4Addr};
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path());
    let mut admin = first_admin(&node);
    let mut moderator = appoint(&mut admin, "Paul Moderateur", "paul", "moderator");
    let (_, proposals) = voting_consultation(&node.addr, "approval");
    let (flooded, genuine) = (proposals[0].to_string(), proposals[1].to_string());
    let from = |n: u8| {
        let mut w = Web::new(&node.addr);
        w.from = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)));
        w
    };
    let mut flooder = from(21);
    for i in 0..12 {
        let r = flooder.post(
            "/report",
            &[("target", &flooded), ("reason", &format!("spam {i}"))],
        );
        if i < 10 {
            assert_eq!(r.status, 200, "{i}: {}", r.body);
        } else {
            assert_eq!(r.status, 429, "{i}: {}", r.body);
            assert!(r.body.contains("Trop de signalements depuis cette adresse"));
        }
    }
    // Another address: the same item again adds to its count; a new item is taken.
    let mut other = from(22);
    assert_eq!(
        other
            .post("/report", &[("target", &flooded), ("reason", "encore")])
            .status,
        200
    );
    assert_eq!(
        other
            .post(
                "/report",
                &[("target", &genuine), ("reason", "Propos injurieux.")]
            )
            .status,
        200
    );
    let queue = moderator.get("/staff/moderation");
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert_eq!(
        queue.body.matches("name=\"report\"").count(),
        2,
        "one entry per item: {}",
        queue.body
    );
    assert!(queue.body.contains("signalé 11 fois"), "{}", queue.body);
    assert!(queue.body.contains("Propos injurieux."), "{}", queue.body);
}

/// A member appointed with the password an administrator chose is asked, on every page,
/// to choose their own; the change needs the current password, obeys the same rule as
/// the first and ends their other sessions, and the old password opens nothing after.
/// An administrator gives a member who forgot theirs a new provisional password.
#[test]
fn members_choose_their_own_password_and_an_administrator_resets_a_forgotten_one() {
    const OWN: &str = "mon propre mot de passe";
    const GIVEN: &str = "remis par la mairie 2026";
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path());
    let mut admin = first_admin(&node);
    // The first administrator chose their own password.
    assert!(!admin.get("/staff").body.contains("id=\"provisional\""));
    let mut desk = appoint(&mut admin, "Paul Durand", "paul", "desk");
    let mut elsewhere = Web::new(&node.addr);
    elsewhere.login("paul", PASSWORD);
    assert!(desk.get("/staff/desk").body.contains("id=\"provisional\""));
    assert!(
        admin
            .get("/staff/team")
            .body
            .contains("<small>mot de passe provisoire</small>")
    );

    let csrf = desk.csrf();
    let change = |web: &mut Web, current: &str, new: &str, repeat: &str| {
        web.post(
            "/staff/password",
            &[
                ("csrf", &csrf),
                ("current", current),
                ("new", new),
                ("repeat", repeat),
            ],
        )
    };
    let refusals = [
        (
            "pas le bon mot de passe",
            OWN,
            OWN,
            401,
            "actuel est incorrect",
        ),
        (PASSWORD, "court", "court", 422, "au moins 10 caractères"),
        (
            PASSWORD,
            OWN,
            "mon propre mot de passE",
            422,
            "pas identiques",
        ),
        (
            PASSWORD,
            PASSWORD,
            PASSWORD,
            422,
            "différent de l&#39;actuel",
        ),
    ];
    for (current, new, repeat, status, says) in refusals {
        let a = change(&mut desk, current, new, repeat);
        assert_eq!(a.status, status, "{new}: {}", a.body);
        assert!(a.body.contains(says), "{says}: {}", a.body);
    }
    let forged = desk.post(
        "/staff/password",
        &[("current", PASSWORD), ("new", OWN), ("repeat", OWN)],
    );
    assert_eq!(forged.status, 403);
    // Nothing was changed by the refusals: both sessions still open.
    assert_eq!(elsewhere.get("/staff").status, 200);

    let done = change(&mut desk, PASSWORD, OWN, OWN);
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.header("location"), Some("/staff/password?changed=1"));
    let shown = desk.get("/staff/password?changed=1");
    assert!(shown.body.contains("id=\"changed\""), "{}", shown.body);
    assert!(!shown.body.contains("id=\"provisional\""));
    // The other session is closed; the old password opens nothing; the new one does.
    assert_eq!(
        elsewhere.get("/staff").header("location"),
        Some("/staff/login")
    );
    assert_eq!(Web::new(&node.addr).try_login("paul", PASSWORD).status, 401);
    Web::new(&node.addr).login("paul", OWN);
    assert!(
        !admin
            .get("/staff/team")
            .body
            .contains("<small>mot de passe provisoire</small>")
    );

    // Only an administrator gives a provisional password, to someone else, by the rule.
    let own_csrf = desk.csrf();
    let by_desk = desk.post(
        "/staff/team/claire/password",
        &[("csrf", &own_csrf), ("password", GIVEN)],
    );
    assert_eq!(by_desk.status, 403);
    let admin_csrf = admin.csrf();
    let reset = |admin: &mut Web, login: &str, password: &str| {
        admin.post(
            &format!("/staff/team/{login}/password"),
            &[("csrf", &admin_csrf), ("password", password)],
        )
    };
    let to_self = reset(&mut admin, "claire", GIVEN);
    assert_eq!(to_self.status, 409);
    assert!(to_self.body.contains("reset_self"), "{}", to_self.body);
    assert_eq!(reset(&mut admin, "nobody", GIVEN).status, 404);
    assert_eq!(reset(&mut admin, "paul", "court").status, 422);
    assert_eq!(reset(&mut admin, "paul", GIVEN).status, 303);
    // Paul's sessions end; his own password no longer works; the given one does, and
    // asks him again to choose his own.
    assert_eq!(desk.get("/staff").header("location"), Some("/staff/login"));
    assert_eq!(Web::new(&node.addr).try_login("paul", OWN).status, 401);
    let mut again = Web::new(&node.addr);
    again.login("paul", GIVEN);
    assert!(again.get("/staff").body.contains("id=\"provisional\""));
}

/// Issue 20, point 7: a town reads and types every time in its own zone (Europe/Paris
/// here: one hour ahead of UTC in winter, two in summer); the signed record keeps UTC,
/// and a time the clocks skip in spring is refused rather than moved.
#[test]
fn a_town_reads_and_types_times_in_its_own_zone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = super::start_with(dir.path(), &[("PALABRE_TIME_ZONE", "Europe/Paris")]);
    let mut admin = first_admin(&node);
    let csrf = admin.csrf();
    let created = admin.post("/staff/consultations", &[("csrf", &csrf)]);
    let draft = created.header("location").expect("to the draft").to_owned();
    let form = |proposals_open: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("title", "Horaires de la médiathèque".to_owned()),
            ("description", "Quels horaires ?".to_owned()),
            ("method", "yes_no_abstain".to_owned()),
            ("proposals_open", proposals_open.to_owned()),
            ("proposals_close", "2030-05-10T08:00".to_owned()),
            ("vote_open", "2030-05-10T08:00".to_owned()),
            ("vote_close", "2030-05-20T08:00".to_owned()),
        ]
    };
    let send = |web: &mut Web, f: Vec<(&str, String)>| {
        let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        web.post(&draft, &refs)
    };
    let page = admin.get(&draft);
    assert!(page.body.contains("Europe/Paris"), "{}", page.body);
    // 02:30 on 31 March 2030 never happens in Paris: refused, not moved.
    let skipped = send(&mut admin, form("2030-03-31T02:30"));
    assert!(
        skipped.body.contains("une heure sautée"),
        "{}",
        skipped.body
    );
    assert!(!skipped.body.contains("/publish"));
    // A winter time (CET, UTC+1) and summer times (CEST, UTC+2).
    let saved = send(&mut admin, form("2030-01-15T08:00"));
    assert!(
        saved
            .body
            .contains("2030-01-15 08:00 CET → 2030-05-10 08:00 CEST"),
        "{}",
        saved.body
    );
    let published = admin.post(&format!("{draft}/publish"), &[("csrf", &csrf)]);
    assert_eq!(published.status, 303, "{}", published.body);
    let cid: EventId = published
        .header("location")
        .expect("consultation")
        .trim_start_matches("/c/")
        .parse()
        .expect("id");
    let detail = super::consultation_detail(&node.addr, &cid);
    let signed = &detail["consultation"]["event"]["body"];
    // 2030-01-15 07:00 and 2030-05-20 06:00 UTC.
    assert_eq!(signed["proposals_open_ms"], json!(1_894_690_800_000_u64));
    assert_eq!(signed["vote_close_ms"], json!(1_905_487_200_000_u64));
    let shown = Web::new(&node.addr).get(&format!("/c/{cid}"));
    assert!(
        shown
            .body
            .contains("2030-05-10 08:00 CEST → 2030-05-20 08:00 CEST"),
        "{}",
        shown.body
    );
}

/// Issue 20, point 14: "New consultation" asks for the method first and then shows only
/// that method's settings; nothing is stored and no problem is shown before the first
/// save, which makes the draft; the preview is the residents' page itself.
#[test]
fn a_new_consultation_is_a_short_guided_form() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start(dir.path());
    let mut admin = first_admin(&node);
    let csrf = admin.csrf();
    let list = admin.get("/staff/consultations");
    assert!(list.body.contains("href=\"/staff/consultations/new\""));
    let methods = admin.get("/staff/consultations/new");
    assert_eq!(methods.status, 200);
    for m in [
        "support",
        "yes_no_abstain",
        "approval",
        "budget",
        "majority_judgment",
    ] {
        let link = format!("href=\"/staff/consultations/new?method={m}\"");
        assert!(methods.body.contains(&link), "{m}: {}", methods.body);
    }
    assert!(!methods.body.contains("id=\"title\""));
    let form = admin.get("/staff/consultations/new?method=budget");
    for shown in [
        "id=\"budget\"",
        "id=\"rule\"",
        "action=\"/staff/consultations\"",
    ] {
        assert!(form.body.contains(shown), "{shown}: {}", form.body);
    }
    for hidden in ["id=\"threshold\"", "id=\"max_choices\"", "id=\"grades\""] {
        assert!(!form.body.contains(hidden), "{hidden}: {}", form.body);
    }
    assert!(!form.body.contains("À compléter avant publication"));
    // Nothing stored yet.
    let list = admin.get("/staff/consultations");
    assert!(list.body.contains("Aucun brouillon"), "{}", list.body);

    // The first save makes the draft, and shows what is missing only now.
    let saved = admin.post(
        "/staff/consultations",
        &[
            ("csrf", &csrf),
            ("title", "Budget participatif"),
            ("description", ""),
            ("method", "budget"),
            ("budget", "30000"),
            ("rule", "greedy"),
            ("proposals_open", "2030-05-01T08:00"),
            ("proposals_close", "2030-05-10T08:00"),
            ("vote_open", "2030-05-10T08:00"),
            ("vote_close", "2030-05-20T08:00"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let draft = saved.header("location").expect("the draft").to_owned();
    let page = admin.get(&draft);
    assert!(page.body.contains("À compléter avant publication"));
    assert!(page.body.contains("value=\"30000\""), "{}", page.body);
    // Another method is offered from the draft without losing what was typed.
    let choose = admin.get(&format!("{draft}?choose=1"));
    assert!(
        choose
            .body
            .contains(&format!("href=\"{draft}?method=approval\""))
    );
    let approval = admin.get(&format!("{draft}?method=approval"));
    assert!(approval.body.contains("id=\"max_choices\""));
    assert!(approval.body.contains("name=\"budget\" value=\"30000\""));

    // Complete, then previewed as residents will see it: the site's own page.
    let done = admin.post(
        &draft,
        &[
            ("csrf", &csrf),
            ("title", "Budget participatif"),
            ("description", "Vos projets pour le quartier."),
            ("method", "budget"),
            ("budget", "30000"),
            ("rule", "greedy"),
            ("proposals_open", "2030-05-01T08:00"),
            ("proposals_close", "2030-05-10T08:00"),
            ("vote_open", "2030-05-10T08:00"),
            ("vote_close", "2030-05-20T08:00"),
        ],
    );
    assert!(done.body.contains("id=\"full-preview\""), "{}", done.body);
    let preview = admin.get(&format!("{draft}/preview"));
    assert_eq!(preview.status, 200);
    assert!(
        preview.body.contains("<h1>Budget participatif</h1>"),
        "{}",
        preview.body
    );
    assert!(preview.body.contains("Vos projets pour le quartier."));
    assert!(preview.body.contains("Une commune tient ce registre"));
    assert!(
        !preview.body.contains("/staff/logout"),
        "the residents' frame"
    );
}
