//! The key ceremony of a secret consultation, for the town hall: who dealt, the
//! complaints and how core judged them, QUAL, the election key and the layout, and where
//! the ceremony stands ("setup failed" when fewer than t trustees qualified). Read-only:
//! the node appends every ceremony event by itself (`node/src/ceremony.rs`); what is
//! shown is `trust::ceremony_of`, i.e. core's reading of the trustees' logs.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use palabre_core::ids::EventId;

use super::*;
use crate::trust::{Ceremony, Setup};

/// One trustee town on the page.
pub(crate) struct TrusteeRow {
    pub key: String,
    pub name: String,
    pub dealt: bool,
    pub qualified: bool,
}

#[derive(Template)]
#[template(path = "staff/ceremony.html")]
struct CeremonyPage {
    page: Frame,
    id: String,
    title: String,
    threshold: u64,
    n: usize,
    state: &'static str,
    failed: bool,
    trustees: Vec<TrusteeRow>,
    complaints: Vec<(String, &'static str)>,
    election_key: Option<String>,
    layout: Option<usize>,
}

fn state_words(frame: &Frame, setup: Setup) -> &'static str {
    match setup {
        Setup::Dealing => frame.tr(
            "les communes de confiance préparent la clé",
            "the trustee towns are making the key",
        ),
        Setup::Checking => frame.tr(
            "heure de vérification des parts (réclamations possibles)",
            "the hour for checking shares (complaints possible)",
        ),
        Setup::AwaitingKey => frame.tr(
            "la clé de l'élection va être publiée",
            "the election key is about to be published",
        ),
        Setup::Ready => frame.tr(
            "clé de l'élection publiée : le vote secret peut avoir lieu",
            "election key published: the secret vote can take place",
        ),
        Setup::Failed => frame.tr(
            "échec de la préparation : trop peu de communes de confiance ont participé. La consultation ne recevra aucun bulletin et ne deviendra jamais publique ; publiez-en une nouvelle.",
            "setup failed: too few trustee towns took part. The consultation will take no ballot and will never become public; publish a new one.",
        ),
    }
}

pub async fn ceremony<O: Office>(
    State(st): State<Shared<O>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    let me = st.require(&headers, &[])?;
    let view = id.parse::<EventId>().ok().and_then(|cid| {
        st.office
            .consultations()
            .ok()?
            .into_iter()
            .find(|c| c.id == cid)
    });
    let Some(view) = view else {
        let fr = st.lang(&headers) == Lang::Fr;
        return Ok(st.refuse(
            &headers,
            Some(me),
            StatusCode::NOT_FOUND,
            "not_found",
            if fr {
                "Cette consultation n'existe pas."
            } else {
                "There is no such consultation."
            },
        ));
    };
    let (Some(secrecy), Some(cer)) = (view.body.secrecy.clone(), st.office.ceremony(&view)?) else {
        return Ok(st.refuse(
            &headers,
            Some(me),
            StatusCode::NOT_FOUND,
            "not_sealed",
            "public ballots: no key ceremony / vote public : pas de cérémonie des clés",
        ));
    };
    let frame = st.frame_tr(&headers, me, "Cérémonie des clés", "Key ceremony");
    let names = st.office.settings().federation.clone();
    let name_of = |k: &palabre_core::crypto::PublicKey| {
        if *k == st.office.authority().key {
            st.office.settings().town_name.clone()
        } else {
            names
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| k.to_string()[..12].to_owned())
        }
    };
    let Ceremony {
        setup,
        dealt,
        complaints,
        qual,
        election_key,
        layout,
        ..
    } = cer;
    let trustees = secrecy
        .trustees
        .iter()
        .map(|k| TrusteeRow {
            key: k.to_string(),
            name: name_of(k),
            dealt: dealt.contains(k),
            qualified: qual.contains(k),
        })
        .collect();
    let complaints = complaints
        .iter()
        .map(|c| {
            (
                name_of(&c.by),
                if c.verdict == "convicted" {
                    frame.tr(
                        "fondée : la part était fausse, l'auteur de la part est exclu",
                        "upheld: the share was wrong, its dealer is excluded",
                    )
                } else {
                    frame.tr(
                        "sans objet : la part était juste",
                        "void: the share was right",
                    )
                },
            )
        })
        .collect();
    Ok(page(CeremonyPage {
        state: state_words(&frame, setup),
        failed: setup == Setup::Failed,
        page: frame,
        id: view.id.to_string(),
        title: view.body.title.clone(),
        threshold: secrecy.threshold,
        n: secrecy.trustees.len(),
        trustees,
        complaints,
        election_key: election_key.map(|(_, y)| y),
        layout: layout.map(|(_, cols)| cols.len()),
    }))
}
