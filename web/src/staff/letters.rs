//! Invitation letters. An administrator generates a batch of codes for an area (a
//! district, a street list); the node stores only their hashes. The codes themselves
//! stay in memory for an hour, long enough to print the letters (one A4 page each, with
//! the code, the site's address and a QR code of the registration link) and to download
//! the CSV for a mail merge; then they are gone for good. Unused codes of a batch, or a
//! single lost letter's code, can be withdrawn. Counts per batch are public
//! (`/transparency`); which code went to whom is never recorded here.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use palabre_core::event::StaffRole;
use palabre_core::invitation::{code_from_random, code_hash, normalize_code};
use palabre_core::view::Phase;
use serde::{Deserialize, Serialize};

use super::confirm::{ConfirmForm, Confirmation, Irreversible};
use super::*;

/// Most letters in one batch.
pub const MAX_BATCH: usize = 2_000;
/// Letters on one print page (one print job): a few hundred KB, not megabytes.
pub const PRINT_PAGE: usize = 100;

/// A batch of letters, as the node keeps it: hashes only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Batch {
    pub id: String,
    pub label: String,
    pub created_ms: u64,
    pub by: String,
    pub hashes: Vec<Hash>,
}

pub(crate) fn batches<O: Office>(st: &Staff<O>) -> Result<Vec<Batch>, BackendError> {
    let mut list: Vec<Batch> = st
        .office
        .office_scan(ns::BATCH)?
        .into_iter()
        .map(|(_, b)| decode_record(&b))
        .collect::<Result<_, _>>()?;
    list.sort_by_key(|b| std::cmp::Reverse(b.created_ms));
    Ok(list)
}

/// A batch as pages show it.
pub(crate) struct BatchRow {
    pub id: String,
    pub label: String,
    pub created: String,
    pub counts: Counts,
    pub printable: bool,
    /// The print pages: (first letter, from, to), numbered from 1 for people.
    pub parts: Vec<(usize, usize, usize)>,
}

fn parts(n: usize) -> Vec<(usize, usize, usize)> {
    (0..n)
        .step_by(PRINT_PAGE)
        .map(|from| (from, from + 1, (from + PRINT_PAGE).min(n)))
        .collect()
}

pub(crate) fn rows<O: Office>(st: &Staff<O>) -> Result<Vec<BatchRow>, BackendError> {
    batches(st)?
        .into_iter()
        .map(|b| {
            Ok(BatchRow {
                counts: st.office.invitation_counts(Some(&b.hashes))?,
                printable: st.codes(&b.id).is_some(),
                parts: Vec::new(),
                created: st.office.time_zone().when(b.created_ms),
                id: b.id,
                label: b.label,
            })
        })
        .collect()
}

#[derive(Template)]
#[template(path = "staff/letters.html")]
struct LettersPage {
    page: Frame,
    batches: Vec<BatchRow>,
    total: Counts,
    message: String,
    max: usize,
}

fn letters_page<O: Office>(st: &Staff<O>, headers: &HeaderMap, me: Me, message: String) -> Reply {
    let frame = st.frame_tr(headers, me, "Lettres d'invitation", "Invitation letters");
    let batches = rows(st)?;
    let total = st.office.invitation_counts(None)?;
    Ok(page(LettersPage {
        page: frame,
        batches,
        total,
        message,
        max: MAX_BATCH,
    }))
}

pub async fn list<O: Office>(State(st): State<Shared<O>>, headers: HeaderMap) -> Reply {
    let me = st.require(&headers, &[])?;
    letters_page(&st, &headers, me, String::new())
}

#[derive(Deserialize)]
pub struct GenerateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    count: String,
}

pub async fn generate<O: Office>(
    State(st): State<Shared<O>>,
    headers: HeaderMap,
    Form(form): Form<GenerateForm>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, &[])?;
    let fr = st.lang(&headers) == Lang::Fr;
    let label = form.label.trim().to_owned();
    let count = form
        .count
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_BATCH).contains(n));
    let label_ok =
        !label.is_empty() && label.chars().count() <= 120 && !label.chars().any(char::is_control);
    let (Some(count), true) = (count, label_ok) else {
        tracing::info!(staff = %me.account.login, "letters form refused");
        let mut res = letters_page(
            &st,
            &headers,
            me,
            if fr {
                format!(
                    "Indiquez un secteur (120 caractères au plus) et un nombre de lettres de 1 à {MAX_BATCH}."
                )
            } else {
                format!(
                    "Give an area (at most 120 characters) and a number of letters from 1 to {MAX_BATCH}."
                )
            },
        )?;
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(res);
    };
    let authority = st.office.authority().key;
    let mut codes = Vec::with_capacity(count);
    let mut hashes = Vec::with_capacity(count);
    for _ in 0..count {
        let code = code_from_random(&random::<16>()?);
        let normal = normalize_code(&code).expect("generated codes are well formed");
        hashes.push(code_hash(&authority, &normal));
        codes.push(code);
    }
    let id = hex::encode(random::<8>()?);
    // The hashes first: a batch record never names codes the node does not hold.
    st.office.add_invitations(&hashes)?;
    let batch = Batch {
        id: id.clone(),
        label,
        created_ms: st.office.now_ms(),
        by: me.account.login.clone(),
        hashes,
    };
    st.office
        .office_put(ns::BATCH, &id, &encode_record(&batch))?;
    st.keep_codes(&id, codes);
    st.office.count_action("letters");
    tracing::info!(staff = %me.account.login, batch = %id, count, "invitation letters generated");
    Ok(see_other(&format!("/staff/letters/{id}")))
}

fn find<O: Office>(st: &Staff<O>, id: &str) -> Result<Option<Batch>, BackendError> {
    st.office
        .office_get(ns::BATCH, id)?
        .map(|b| decode_record(&b))
        .transpose()
}

fn no_batch<O: Office>(st: &Staff<O>, headers: &HeaderMap, me: Me) -> Response {
    st.refuse_tr(
        headers,
        Some(me),
        StatusCode::NOT_FOUND,
        "not_found",
        "Ce lot de lettres n'existe pas.",
        "There is no such batch of letters.",
    )
}

/// Letters are not printed while residents could not reach the address they carry.
fn site_unreachable<O: Office>(st: &Staff<O>, headers: &HeaderMap, me: Me) -> Response {
    let site = st.office.settings().public_url.clone();
    let (fr, en) = (
        format!(
            "Impression refusée : l'adresse publique du site, {site}, n'est joignable que depuis cet ordinateur. Les habitants ne pourraient pas s'inscrire. Réglez public_url dans palabre.toml (ou PALABRE_PUBLIC_URL) sur l'adresse que les habitants tapent, puis redémarrez le nœud."
        ),
        format!(
            "Printing refused: the site's public address, {site}, is reachable from this computer only. Residents could not register. Set public_url in palabre.toml (or PALABRE_PUBLIC_URL) to the address residents type, then restart the node."
        ),
    );
    st.refuse_tr(
        headers,
        Some(me),
        StatusCode::CONFLICT,
        "site_unreachable",
        &fr,
        &en,
    )
}

fn codes_gone<O: Office>(st: &Staff<O>, headers: &HeaderMap, me: Me) -> Response {
    st.refuse_tr(
        headers,
        Some(me),
        StatusCode::GONE,
        "codes_gone", "Les codes de ce lot ne sont plus disponibles : ils ne sont gardés qu'une heure après leur création, pour l'impression. Retirez ce lot et créez-en un autre.", "This batch's codes are no longer available: they are kept for one hour after creation, for printing. Withdraw this batch and make another.")
}

#[derive(Template)]
#[template(path = "staff/batch.html")]
struct BatchPage {
    page: Frame,
    b: BatchRow,
    message: String,
}

pub async fn batch<O: Office>(
    State(st): State<Shared<O>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    let me = st.require(&headers, &[])?;
    batch_page(&st, &headers, me, &id, String::new())
}

fn batch_page<O: Office>(
    st: &Staff<O>,
    headers: &HeaderMap,
    me: Me,
    id: &str,
    message: String,
) -> Reply {
    let b = match find(st, id)? {
        Some(b) => b,
        None => return Ok(no_batch(st, headers, me)),
    };
    let counts = st.office.invitation_counts(Some(&b.hashes))?;
    let mut frame = st.frame(headers, "", Some(me));
    frame.title = format!("{} · {}", frame.tr("Lettres", "Letters"), b.label);
    Ok(page(BatchPage {
        page: frame,
        b: BatchRow {
            printable: st.codes(&b.id).is_some(),
            parts: parts(b.hashes.len()),
            created: st.office.time_zone().when(b.created_ms),
            id: b.id,
            label: b.label,
            counts,
        },
        message,
    }))
}

/// One letter.
pub(crate) struct Letter {
    pub code: String,
    pub qr: String,
}

#[derive(Template)]
#[template(path = "staff/print.html")]
struct PrintPage {
    page: Frame,
    site: String,
    letters: Vec<Letter>,
    /// The day the letters are printed, in words.
    dated: String,
    /// The town's consultations not yet closed: (title, end of the vote in words).
    consultations: Vec<(String, String)>,
    hall: crate::backend::TownHall,
    /// The site's own words for its registration link, so that the letter names what
    /// residents will see.
    register: &'static str,
}

/// The consultations a letter announces: this town's, not closed yet, soonest first.
const LETTER_CONSULTATIONS: usize = 3;

#[derive(Deserialize)]
pub struct PrintQuery {
    from: Option<usize>,
}

/// One print page of a batch: letters `from .. from + PRINT_PAGE`.
pub async fn print<O: Office>(
    State(st): State<Shared<O>>,
    Path(id): Path<String>,
    Query(q): Query<PrintQuery>,
    headers: HeaderMap,
) -> Reply {
    let me = st.require(&headers, &[])?;
    let b = match find(&st, &id)? {
        Some(b) => b,
        None => return Ok(no_batch(&st, &headers, me)),
    };
    if st.site_unreachable() {
        return Ok(site_unreachable(&st, &headers, me));
    }
    let Some(codes) = st.codes(&id) else {
        return Ok(codes_gone(&st, &headers, me));
    };
    let site = st.site_address();
    let mut frame = st.frame(&headers, "", Some(me));
    frame.title = format!("{} · {}", frame.tr("Lettres", "Letters"), b.label);
    let label = frame.tr(
        "QR code : lien d'inscription avec votre code",
        "QR code: registration link with your code",
    );
    let from = q.from.unwrap_or(0).min(codes.len());
    frame.title = format!(
        "{} ({}–{})",
        frame.title,
        from + 1,
        (from + PRINT_PAGE).min(codes.len())
    );
    let letters = codes
        .into_iter()
        .skip(from)
        .take(PRINT_PAGE)
        .map(|code| Letter {
            qr: qr::svg(&format!("{site}/register?code={code}"), label).unwrap_or_default(),
            code,
        })
        .collect();
    let lang = st.lang(&headers);
    let now = st.office.now_ms();
    let zone = st.office.time_zone();
    let town = st.office.authority().key;
    let mut open: Vec<_> = st
        .office
        .consultations()?
        .into_iter()
        .filter(|c| c.participates(&town) && c.phase(now) != Phase::Closed)
        .collect();
    open.sort_by_key(|c| (c.body.vote_close_ms, c.id));
    let consultations = open
        .into_iter()
        .take(LETTER_CONSULTATIONS)
        .map(|c| {
            (
                c.body.title,
                lang.long_date_time(c.body.vote_close_ms, &zone),
            )
        })
        .collect();
    st.office.count_action("print");
    Ok(page(PrintPage {
        page: frame,
        site,
        letters,
        dated: lang.long_date(zone.wall(now)),
        consultations,
        hall: st.office.town_hall(),
        register: lang.texts().register,
    }))
}

pub async fn csv<O: Office>(
    State(st): State<Shared<O>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    let me = st.require(&headers, &[])?;
    match find(&st, &id)? {
        Some(_) => {}
        None => return Ok(no_batch(&st, &headers, me)),
    }
    if st.site_unreachable() {
        return Ok(site_unreachable(&st, &headers, me));
    }
    let Some(codes) = st.codes(&id) else {
        return Ok(codes_gone(&st, &headers, me));
    };
    let site = st.site_address();
    let mut out = String::from("code,site,registration_link\r\n");
    for code in codes {
        out.push_str(&format!("{code},{site},{site}/register?code={code}\r\n"));
    }
    st.office.count_action("csv");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"letters-{id}.csv\""),
            ),
        ],
        out,
    )
        .into_response())
}

pub async fn revoke<O: Office>(
    State(st): State<Shared<O>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ConfirmForm>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, &[])?;
    let b = match find(&st, &id)? {
        Some(b) => b,
        None => return Ok(no_batch(&st, &headers, me)),
    };
    // A withdrawn code never comes back: the first request only asks for the confirmation.
    if Confirmation::of(&form.confirm) == Confirmation::Missing {
        return Ok(st.confirm_first(
            &headers,
            me,
            Irreversible {
                action: format!("/staff/letters/{id}/revoke"),
                fields: vec![("csrf", form.csrf.clone())],
                title: (
                    "Retirer les codes non utilisés de ce lot ?",
                    "Withdraw this batch's unused codes?",
                ),
                consequence: (
                    "Les lettres de ce lot qui n'ont pas encore servi ne permettront plus jamais de s'inscrire ; il faudra en imprimer de nouvelles. Lot :",
                    "The letters of this batch not used yet will never again let anyone register; new ones will have to be printed. Batch:",
                ),
                subject: b.label.clone(),
                button: ("Retirer les codes définitivement", "Withdraw the codes for good"),
                back: format!("/staff/letters/{id}"),
            },
        ));
    }
    let n = st.office.revoke_invitations(&b.hashes)?;
    st.forget_codes(&id);
    st.office.count_action("revoke_batch");
    tracing::info!(staff = %me.account.login, batch = %id, withdrawn = n, "unused codes withdrawn");
    let fr = st.lang(&headers) == Lang::Fr;
    let message = if fr {
        format!("{n} codes non utilisés retirés.")
    } else {
        format!("{n} unused codes withdrawn.")
    };
    batch_page(&st, &headers, me, &id, message)
}

/// A form with one invitation code typed by a staff member.
#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    pub(crate) csrf: String,
    #[serde(default)]
    pub(crate) code: String,
    /// `yes` once "I understand this cannot be undone" is ticked (withdrawing needs it).
    #[serde(default)]
    pub(crate) confirm: String,
}

/// The stored hash of a code as a person typed it, or the page saying it is not one.
pub(crate) fn typed_code<O: Office>(
    st: &Staff<O>,
    headers: &HeaderMap,
    me: &Me,
    typed: &str,
) -> Result<Hash, Refused> {
    match normalize_code(typed) {
        Some(code) => Ok(code_hash(&st.office.authority().key, &code)),
        None => Err(Refused(Box::new(st.refuse_tr(
            headers,
            Some(me.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_code",
            "Ce code n'a pas la forme d'un code d'invitation (XXXX-XXXX-XXXX).",
            "This is not the shape of an invitation code (XXXX-XXXX-XXXX).",
        )))),
    }
}

/// Withdraws the code of one lost letter (typed by the staff member).
pub async fn revoke_code<O: Office>(
    State(st): State<Shared<O>>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Reply {
    let me = st.require_form(&headers, &form.csrf, &[StaffRole::Desk])?;
    let fr = st.lang(&headers) == Lang::Fr;
    let h = typed_code(&st, &headers, &me, &form.code)?;
    if Confirmation::of(&form.confirm) == Confirmation::Missing {
        let back = if me.account.role == StaffRole::Admin {
            "/staff/letters"
        } else {
            "/staff/desk"
        };
        return Ok(st.confirm_first(
            &headers,
            me,
            Irreversible {
                action: "/staff/letters/revoke-code".into(),
                fields: vec![("csrf", form.csrf.clone()), ("code", form.code.clone())],
                title: ("Retirer ce code ?", "Withdraw this code?"),
                consequence: (
                    "La lettre qui porte ce code ne permettra plus jamais de s'inscrire ; la personne en recevra une autre. Code :",
                    "The letter with this code will never again let anyone register; the person will be given another. Code:",
                ),
                subject: form.code.trim().to_uppercase(),
                button: ("Retirer le code définitivement", "Withdraw the code for good"),
                back: back.into(),
            },
        ));
    }
    Ok(match st.office.revoke_invitations(&[h])? {
        1 => {
            st.office.count_action("revoke_code");
            tracing::info!(staff = %me.account.login, "one invitation code withdrawn");
            let msg = if fr {
                "Code retiré : il ne permet plus de s'inscrire."
            } else {
                "Code withdrawn: it can no longer be used to register."
            };
            if me.account.role == StaffRole::Admin {
                letters_page(&st, &headers, me, msg.into())?
            } else {
                desk::desk_page(&st, &headers, me, msg.into())?
            }
        }
        _ => st.refuse_tr(
            &headers,
            Some(me),
            StatusCode::CONFLICT,
            "not_revocable",
            "Ce code est inconnu, déjà utilisé ou déjà retiré.",
            "This code is unknown, already used or already withdrawn.",
        ),
    })
}
