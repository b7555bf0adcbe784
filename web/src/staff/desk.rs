//! The in-person desk (the human fallback): a desk agent on a shared device registers a
//! resident who has no device — a fresh key is made for them and printed on a card,
//! with a QR code that puts the key in a phone's browser later; the node does not keep
//! it — replaces a lost key (the new credential names the old key, which stops
//! counting: the voter keeps one vote), and records the ballot a resident chooses: the
//! resident's card key signs it, the agent countersigns it as assisted. The card is
//! typed or scanned (a USB QR reader types what it reads) into the ballot form. For a
//! secret consultation, the agent's device seals the choice with `sealed.js` (as a
//! resident's vote page does) and the form sends only the sealed member: the agent sees
//! the choice, the server never does.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use palabre_core::counting;
use palabre_core::crypto::KeyError;
use palabre_core::event::secret::{Sealed, SealedBallotBody};
use palabre_core::event::{Assistance, BallotBody, Body, CredentialBody, Event, StaffRole, decode};
use palabre_core::ids::EventId;
use palabre_core::tally::{Answer, Choice, Method};
use palabre_core::view::Phase;

use super::*;

/// A consultation open for votes, on the desk page.
pub(crate) struct Open {
    pub id: String,
    pub title: String,
}

#[derive(Template)]
#[template(path = "staff/desk.html")]
struct DeskPage {
    page: Frame,
    open: Vec<Open>,
    message: String,
}

pub(crate) fn desk_page<O: Office>(
    st: &Staff<O>,
    headers: &HeaderMap,
    me: Me,
    message: String,
) -> Reply {
    let frame = st.frame_tr(headers, me, "Accueil en mairie", "Town-hall desk");
    let me_key = st.office.authority().key;
    let now = st.office.now_ms();
    let open = st
        .office
        .consultations()?
        .into_iter()
        .filter(|c| c.participates(&me_key) && c.phase(now) == Phase::Voting)
        .map(|c| Open {
            id: c.id.to_string(),
            title: c.body.title,
        })
        .collect();
    Ok(page(DeskPage {
        page: frame,
        open,
        message,
    }))
}

pub async fn desk<O: Office>(State(st): State<Shared<O>>, headers: HeaderMap) -> Reply {
    let me = st.require(&headers, &[StaffRole::Desk])?;
    desk_page(&st, &headers, me, String::new())
}

#[derive(Template)]
#[template(path = "staff/card.html")]
struct CardPage {
    page: Frame,
    secret: String,
    public: String,
    qr: String,
    replaced: bool,
}

/// Makes a fresh key, has the agent certify it (consuming the letter's code when the
/// resident brought one, naming the old key for a replacement), and shows the card.
async fn issue_card<O: Office>(
    st: &Staff<O>,
    headers: &HeaderMap,
    me: Me,
    code: Option<Hash>,
    replaces: Option<PublicKey>,
) -> Reply {
    let seed = random::<32>()?;
    let resident = SecretKey::from_seed(&seed);
    let agent = me.account.key()?;
    let credential = Event {
        author: agent.public_key(),
        created_at_ms: palabre_core::limits::credential_time(st.office.now_ms()),
        body: Body::Credential(CredentialBody {
            subject: resident.public_key(),
            replaces,
        }),
    }
    .sign(&agent);
    let credential = match credential {
        Ok(c) => c,
        Err(r) => {
            return Ok(st.refused(headers, me, &Refusal::from(&r)));
        }
    };
    let answer = match code {
        Some(h) => st.office.submit_consuming(credential, h).await,
        None => st.submit_one(credential).await,
    };
    match answer? {
        Ok(_) => {}
        Err(r) => {
            tracing::info!(staff = %me.account.login, code = %r.code, "desk registration refused");
            return Ok(st.refused(headers, me, &r));
        }
    }
    st.office.count_action(if replaces.is_some() {
        "desk_replace"
    } else {
        "desk_register"
    });
    tracing::info!(staff = %me.account.login, replacement = replaces.is_some(), "resident registered at the desk");
    let secret = hex::encode(seed);
    let site = st.site_address();
    let frame = st.frame_tr(headers, me, "Carte de vote", "Voting card");
    let qr = qr::svg(
        &format!("{site}/me#key={secret}"),
        frame.tr("QR code de votre clé de vote", "QR code of your voting key"),
    )
    .unwrap_or_default();
    let grouped = secret
        .as_bytes()
        .chunks(8)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(page(CardPage {
        page: frame,
        secret: grouped,
        public: resident.public_key().to_string(),
        qr,
        replaced: replaces.is_some(),
    }))
}

pub async fn register<O: Office>(
    State(st): State<Shared<O>>,
    headers: HeaderMap,
    Form(form): Form<letters::CodeForm>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, &[StaffRole::Desk])?;
    let code = if form.code.trim().is_empty() {
        None
    } else {
        Some(letters::typed_code(&st, &headers, &me, &form.code)?)
    };
    issue_card(&st, &headers, me, code, None).await
}

#[derive(Deserialize)]
pub struct ReplaceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub(super) old: String,
}

pub async fn replace<O: Office>(
    State(st): State<Shared<O>>,
    headers: HeaderMap,
    Form(form): Form<ReplaceForm>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, &[StaffRole::Desk])?;
    let old = match form.old.trim().to_lowercase().parse::<PublicKey>() {
        Ok(old) => old,
        Err(e) => {
            let (code, fr, en) = old_key_refusal(&e);
            return Ok(st.refuse_tr(
                &headers,
                Some(me),
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                fr,
                en,
            ));
        }
    };
    issue_card(&st, &headers, me, None, Some(old)).await
}

/// The refusal of a typed old key, with the code the API gives for the same key:
/// `weak_key` for a point of small or mixed order, `bad_key` for anything else.
fn old_key_refusal(e: &KeyError) -> (&'static str, &'static str, &'static str) {
    match e {
        KeyError::Weak => (
            "weak_key",
            "Cette clé est faible (un point d'ordre petit ou mixte) : ce ne peut pas être celle d'une carte.",
            "This key is weak (a point of small or mixed order): it cannot be a card's.",
        ),
        _ => (
            "bad_key",
            "Ce n'est pas une clé publique (64 caractères 0-9 a-f, sur la carte, un reçu ou la page « Ma participation »).",
            "This is not a public key (64 characters 0-9 a-f, on the card, a receipt or the “My participation” page).",
        ),
    }
}

/// A proposal offered on the assisted ballot.
pub(crate) struct Option_ {
    pub id: String,
    pub title: String,
    pub cost: Option<u64>,
}

#[derive(Template)]
#[template(path = "staff/ballot.html")]
struct BallotPage {
    page: Frame,
    id: String,
    title: String,
    /// `approve`, `answers` or `grades`.
    kind: &'static str,
    rule: String,
    options: Vec<Option_>,
    grades: Vec<(usize, String)>,
    receipt: String,
    /// A secret consultation whose key ceremony is done: the form seals in the device.
    sealed: Option<DeskSealed>,
    /// A secret consultation whose election key does not exist yet: no form.
    waiting: bool,
}

/// What `sealed.js` needs to seal a secret ballot on the desk's device: the election
/// key, the layout and its columns in order (the vote page's form, consultation.rs).
struct DeskSealed {
    /// `split` or `row`.
    mode: &'static str,
    key: String,
    layout: String,
    /// The layout's proposal ids, in column order, space-separated.
    columns: String,
    /// An approval vote's most choices.
    max: Option<u32>,
    /// `sealed.js` under its content-hashed name.
    script: String,
    /// `desk.js`, over it.
    desk_script: String,
}

/// The sealed form of `view`'s desk page: `None` for a public consultation, and for a
/// secret one whose election key or layout is not recorded yet.
fn desk_sealed<O: Office>(
    st: &Staff<O>,
    view: &palabre_core::view::ConsultationView,
) -> Result<Option<DeskSealed>, BackendError> {
    let Some(secrecy) = &view.body.secrecy else {
        return Ok(None);
    };
    Ok(match st.office.ceremony(view)? {
        Some(crate::trust::Ceremony {
            election_key: Some((_, key)),
            layout: Some((layout, columns)),
            ..
        }) => Some(DeskSealed {
            mode: if secrecy.split { "split" } else { "row" },
            key,
            layout: layout.to_string(),
            columns: columns
                .iter()
                .map(EventId::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            max: match view.body.method {
                Method::Approval { max_choices } => Some(max_choices),
                _ => None,
            },
            script: crate::site::verify_encryption::sealed_js().url.clone(),
            desk_script: crate::site::verify_encryption::desk_js().url.clone(),
        }),
        _ => None,
    })
}

fn ballot_page<O: Office>(
    st: &Staff<O>,
    headers: &HeaderMap,
    me: Me,
    consultation: &EventId,
    receipt: String,
) -> Reply {
    let (view, members) = match st.office.discussion(consultation)? {
        Some(d) => d,
        None => {
            return Ok(st.refuse_tr(
                headers,
                Some(me),
                StatusCode::NOT_FOUND,
                "unknown_consultation",
                "Consultation inconnue.",
                "Unknown consultation.",
            ));
        }
    };
    let mut options = Vec::new();
    for m in members {
        if counting::hidden_by(&view, &m.moderation).is_some() {
            continue;
        }
        let Ok(u) = decode(m.event.bytes) else {
            continue;
        };
        if let Body::Proposal(p) = &u.event.body {
            options.push(Option_ {
                id: EventId::of_signed_bytes(&u.bytes).to_string(),
                title: p.title.clone(),
                cost: p.cost,
            });
        }
    }
    options.sort_by(|a, b| a.title.cmp(&b.title));
    let (kind, rule, grades) = match &view.body.method {
        Method::YesNoAbstain {} => ("answers", String::new(), Vec::new()),
        Method::MajorityJudgment { grades } => (
            "grades",
            String::new(),
            grades.iter().cloned().enumerate().rev().collect(),
        ),
        m => (
            "approve",
            crate::site::method_label(st.lang(headers), m),
            Vec::new(),
        ),
    };
    let sealed = desk_sealed(st, &view)?;
    let waiting = view.body.secrecy.is_some() && sealed.is_none();
    let frame = st.frame_tr(headers, me, "Vote accompagné", "Assisted ballot");
    Ok(page(BallotPage {
        page: frame,
        id: view.id.to_string(),
        title: view.body.title,
        kind,
        rule,
        options,
        grades,
        receipt,
        sealed,
        waiting,
    }))
}

pub async fn ballot_form<O: Office>(
    State(st): State<Shared<O>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    let me = st.require(&headers, &[StaffRole::Desk])?;
    Ok(match id.parse::<EventId>() {
        Ok(c) => ballot_page(&st, &headers, me, &c, String::new())?,
        Err(_) => st.refuse(
            &headers,
            Some(me),
            StatusCode::BAD_REQUEST,
            "bad_id",
            "bad id",
        ),
    })
}

/// The card's secret key as typed or scanned: 64 hex characters, spaces and dashes
/// allowed, or the card's QR link (`…/me#key=…`).
pub(crate) fn read_card(text: &str) -> Option<SecretKey> {
    let text = text.rsplit("key=").next().unwrap_or(text);
    let hex_text: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_lowercase();
    let bytes = hex::decode(hex_text).ok()?;
    let seed: [u8; 32] = bytes.try_into().ok()?;
    Some(SecretKey::from_seed(&seed))
}

/// The choice a ballot form describes, in the method's shape; core checks the rest.
fn read_choice(kind: &str, form: &[(String, String)]) -> Option<Choice> {
    match kind {
        "answers" => {
            let mut answers = BTreeMap::new();
            for (k, v) in form {
                let Some(id) = k.strip_prefix("a_") else {
                    continue;
                };
                let answer = match v.as_str() {
                    "yes" => Answer::Yes,
                    "no" => Answer::No,
                    "abstain" => Answer::Abstain,
                    _ => continue,
                };
                answers.insert(id.parse::<EventId>().ok()?, answer);
            }
            Some(Choice::Answers(answers))
        }
        "grades" => {
            let mut grades = BTreeMap::new();
            for (k, v) in form {
                let Some(id) = k.strip_prefix("g_") else {
                    continue;
                };
                if v.is_empty() {
                    continue;
                }
                grades.insert(id.parse::<EventId>().ok()?, v.parse::<u32>().ok()?);
            }
            Some(Choice::Grades(grades))
        }
        _ => {
            let mut ids = form
                .iter()
                .filter(|(k, _)| k == "p")
                .map(|(_, v)| v.parse::<EventId>().ok())
                .collect::<Option<Vec<_>>>()?;
            ids.sort();
            ids.dedup();
            Some(Choice::Approve(ids))
        }
    }
}

/// What an assisted ballot carries: the choice, or for a secret consultation the sealed
/// member the desk's device made (`desk.js`); the server never sees a secret choice.
pub(super) enum Assisted {
    Choice(Choice),
    Sealed(Sealed),
}

/// The ballot form's content, or the refusal's code and words (French, English).
pub(super) fn read_assisted(
    secret: bool,
    form: &form::Pairs,
) -> Result<Assisted, (&'static str, &'static str, &'static str)> {
    let get = |name: &str| form::value(form, name);
    if secret {
        return serde_json::from_str::<Sealed>(&get("sealed"))
            .map(Assisted::Sealed)
            .map_err(|_| {
                (
                    "sealed_required",
                    "Ce vote est secret : cette page chiffre le choix sur cet appareil, par un script, avant l'envoi. Activez JavaScript dans ce navigateur, puis recommencez.",
                    "This vote is secret: this page encrypts the choice on this device, by a script, before sending it. Enable JavaScript in this browser, then try again.",
                )
            });
    }
    read_choice(&get("kind"), form)
        .map(Assisted::Choice)
        .ok_or((
            "invalid_choice",
            "Le choix est illisible.",
            "The choice is unreadable.",
        ))
}

/// The agent countersigns, then the voter's key signs the ballot that carries it.
pub(super) fn sign_assisted(
    agent: &SecretKey,
    voter: &SecretKey,
    at: u64,
    consultation: EventId,
    what: Assisted,
) -> Result<palabre_core::event::SignedEvent, palabre_core::rejection::Rejection> {
    let author = voter.public_key();
    let body = match what {
        Assisted::Choice(choice) => {
            let assistance = Assistance::sign(agent, &author, at, &consultation, &choice)?;
            Body::Ballot(BallotBody {
                consultation,
                choice,
                assistance: Some(assistance),
            })
        }
        Assisted::Sealed(sealed) => {
            let assistance = Assistance::sign_sealed(agent, &author, at, &consultation, &sealed)?;
            Body::SealedBallot(SealedBallotBody {
                consultation,
                sealed,
                assistance: Some(assistance),
            })
        }
    };
    Event {
        author,
        created_at_ms: at,
        body,
    }
    .sign(voter)
}

pub async fn ballot<O: Office>(
    State(st): State<Shared<O>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<form::Pairs>,
) -> Reply {
    let get = |name: &str| form::value(&form, name);
    let me = st.require_form(&headers, &get("csrf"), &[StaffRole::Desk])?;
    let fr = st.lang(&headers) == Lang::Fr;
    let Ok(consultation) = id.parse::<EventId>() else {
        return Ok(st.refuse(
            &headers,
            Some(me),
            StatusCode::BAD_REQUEST,
            "bad_id",
            "bad id",
        ));
    };
    let Some(voter) = read_card(&get("card")) else {
        tracing::info!(staff = %me.account.login, "assisted ballot refused: unreadable card");
        return Ok(st.refuse_tr(
            &headers,
            Some(me),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_card", "La clé de la carte est illisible : 64 caractères 0-9 a-f (ou scannez le QR code de la carte).", "The card's key is unreadable: 64 characters 0-9 a-f (or scan the card's QR code)."));
    };
    let secret = matches!(
        st.office.discussion(&consultation)?,
        Some((view, _)) if view.body.secrecy.is_some()
    );
    let what = match read_assisted(secret, &form) {
        Ok(what) => what,
        Err((code, fr_text, en_text)) => {
            return Ok(st.refuse_tr(
                &headers,
                Some(me),
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                fr_text,
                en_text,
            ));
        }
    };
    let agent = me.account.key()?;
    let ballot = sign_assisted(&agent, &voter, st.office.now_ms(), consultation, what);
    let ballot = match ballot {
        Ok(b) => b,
        Err(r) => {
            return Ok(st.refused(&headers, me, &Refusal::from(&r)));
        }
    };
    let id_text = ballot.id().to_string();
    Ok(match st.submit_one(ballot).await? {
        Ok(receipt) => {
            st.office.count_action("assisted_ballot");
            tracing::info!(staff = %me.account.login, "assisted ballot recorded");
            let text = if fr {
                format!(
                    "Vote enregistré (n° {} du registre). Identifiant : {id_text}",
                    receipt.receipt.index
                )
            } else {
                format!(
                    "Ballot recorded (entry {} of the log). Id: {id_text}",
                    receipt.receipt.index
                )
            };
            ballot_page(&st, &headers, me, &consultation, text)?
        }
        Err(r) => {
            tracing::info!(staff = %me.account.login, code = %r.code, "assisted ballot refused");
            st.refused(&headers, me, &r)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A weak old key is refused with the API's code, anything unparsable with `bad_key`.
    #[test]
    fn a_weak_old_key_is_weak_key_as_in_the_api() {
        let weak = format!("01{}", "00".repeat(31));
        let e = weak.parse::<PublicKey>().expect_err("weak");
        assert_eq!(old_key_refusal(&e).0, "weak_key");
        let e = "pas une clé".parse::<PublicKey>().expect_err("not hex");
        assert_eq!(old_key_refusal(&e).0, "bad_key");
    }
}
