//! The key ceremony of secret consultations (SECRET-BALLOTS.md §4.4–§4.5), run by the
//! node without anyone having to remember to, like the closer: a task of `serve` makes
//! one pass every 2 s over every secret consultation the record holds.
//!
//! As a trustee this town appends its `dkg_deal` before `keys_close_ms` (keeping the
//! share of its own deal in `trustee-shares.json` first), opens the share every other
//! trustee's deal sends it and, when one fails the check, appends a `dkg_complaint` (until
//! the complaint hour is over); once the election key is recorded it combines its share
//! `x_j` and keeps it. As the organiser it appends the `election_key` after the complaint
//! hour and before the vote, and the `ballot_layout` between the close of proposals and
//! the vote. If fewer than t trustees qualified, no election key can exist: the pass says
//! so ("setup failed") and the consultation never takes a ballot.
//!
//! Every body is made by core (`secret::build`) and admitted by core through the same
//! group-commit writer as any event; QUAL is core's (`secret::admit::qualification`).
//! This file only decides when, draws the seeds and keeps the secrets.

use palabre_core::crypto::{PublicKey, SecretKey};
use palabre_core::dkg::DealerSecret;
use palabre_core::event::{Body, Kind, SignedEvent};
use palabre_core::group;
use palabre_core::ids::EventId;
use palabre_core::record::Record;
use palabre_core::secret::admit::qualification;
use palabre_core::secret::build::{self, Opened};
use palabre_core::view::ConsultationView;
use palabre_store::{SledStorage, Storage, Writer};

use crate::closer::append;
use crate::trustee::{Shares, TrusteeKey, fresh_seed};

/// What one pass did, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Done {
    pub deals: Vec<String>,
    pub complaints: Vec<String>,
    pub shares: Vec<String>,
    pub election_keys: Vec<String>,
    pub layouts: Vec<String>,
    /// Consultations whose setup failed (fewer than t qualified trustees), once each
    /// pass while it is the organiser's time to publish the key.
    pub failed: Vec<String>,
}

/// The events of `kind` about `c` that `log` holds in its own log.
fn own_events(storage: &SledStorage, c: &EventId, kind: Kind, log: &PublicKey) -> Vec<SignedEvent> {
    storage
        .secret_events(c, kind)
        .into_iter()
        .filter(|(l, e)| l == log && e.author() == log && storage.contains(&e.id()))
        .map(|(_, e)| e)
        .collect()
}

/// One pass over every secret consultation.
pub fn run_due(
    storage: &SledStorage,
    writer: &Writer,
    key: &SecretKey,
    trustee: &TrusteeKey,
    shares: &Shares,
    now_ms: u64,
) -> anyhow::Result<Done> {
    let me = key.public_key();
    let mut done = Done::default();
    for view in storage.consultations()? {
        let Some(secrecy) = &view.body.secrecy else {
            continue;
        };
        if secrecy.index_of(&me).is_some() {
            as_trustee(
                storage, writer, key, trustee, shares, &view, now_ms, &mut done,
            )?;
        }
        if view.organiser == me {
            as_organiser(storage, writer, key, &view, now_ms, &mut done)?;
        }
    }
    Ok(done)
}

#[allow(clippy::too_many_arguments)]
fn as_trustee(
    storage: &SledStorage,
    writer: &Writer,
    key: &SecretKey,
    trustee: &TrusteeKey,
    shares: &Shares,
    c: &ConsultationView,
    now_ms: u64,
    done: &mut Done,
) -> anyhow::Result<()> {
    let me = key.public_key();
    let Some(secrecy) = &c.body.secrecy else {
        return Ok(());
    };
    let title = &c.body.title;
    let mut held = shares.get(&c.id)?;
    let dealt = !own_events(storage, &c.id, Kind::DkgDeal, &me).is_empty();
    // The deal: once, before the key window closes, when every trustee's key is known.
    // (A deal dated after `keys_close_ms` is refused; a late node simply does not deal.)
    if !dealt
        && now_ms + DEAL_MARGIN_MS < secrecy.keys_close_ms
        && let Ok(keys) = build::encryption_keys(c, |k| storage.encryption_key(k))
    {
        let (body, own) = build::deal(c, &me, &keys, &fresh_seed()?)
            .map_err(|r| anyhow::anyhow!("the deal cannot be made: {r}"))?;
        // The own share is durable before the deal exists: a crash in between makes
        // the next pass deal afresh, never a deal whose own share was lost.
        held.own_share = Some(group::scalar_hex(&own.own_share.0));
        held.deal = None;
        shares.put(&c.id, held.clone())?;
        let event = append(writer, key, Body::DkgDeal(body), now_ms)?;
        held.deal = Some(event);
        shares.put(&c.id, held.clone())?;
        done.deals.push(title.clone());
    }
    // Complaints: every other trustee's deal, opened; a share that fails is shown.
    if now_ms < secrecy.complaints_close_ms() {
        let complained: Vec<EventId> = own_events(storage, &c.id, Kind::DkgComplaint, &me)
            .iter()
            .filter_map(|e| match e.body() {
                Body::DkgComplaint(b) => Some(b.deal),
                _ => None,
            })
            .collect();
        for (log, deal) in storage.secret_events(&c.id, Kind::DkgDeal) {
            if log == me || log != *deal.author() || complained.contains(&deal.id()) {
                continue;
            }
            // A deal that is itself invalid never enters QUAL: nothing to complain of.
            let Ok(opened) = build::open_deal(c, &deal, &me, trustee.secret()) else {
                continue;
            };
            if let Opened::Complain = opened {
                let body = build::complaint(c, &deal, &me, trustee.secret(), &fresh_seed()?)
                    .map_err(|r| anyhow::anyhow!("the complaint cannot be made: {r}"))?;
                append(writer, key, Body::DkgComplaint(body), now_ms)?;
                done.complaints.push(title.clone());
            }
        }
    }
    // The combined share, once the election key is recorded.
    if let Some((election_key, _)) = storage.election_key(&c.id)
        && held.election_key != Some(election_key)
    {
        let q = qualification(storage, c);
        let own = held
            .own_share()?
            .map(|own_share| DealerSecret { own_share });
        let j = secrecy.index_of(&me).unwrap_or(0);
        match build::secret_share(c, &q, &me, trustee.secret(), own.as_ref()) {
            Ok(x)
                if palabre_core::group::RistrettoPoint::mul_base(&x.0) == q.verification_key(j) =>
            {
                held.share = Some(group::scalar_hex(&x.0));
                held.election_key = Some(election_key);
                held.own_share = None;
                shares.put(&c.id, held)?;
                done.shares.push(title.clone());
            }
            // The trustee logs this record holds do not give the QUAL the key names yet
            // (a replica still catching up): the next pass tries again.
            Ok(_) | Err(_) => {}
        }
    }
    Ok(())
}

fn as_organiser(
    storage: &SledStorage,
    writer: &Writer,
    key: &SecretKey,
    c: &ConsultationView,
    now_ms: u64,
    done: &mut Done,
) -> anyhow::Result<()> {
    let Some(secrecy) = &c.body.secrecy else {
        return Ok(());
    };
    let title = &c.body.title;
    let before_vote = now_ms + DEAL_MARGIN_MS < c.body.vote_open_ms;
    if storage.election_key(&c.id).is_none()
        && now_ms >= secrecy.complaints_close_ms()
        && before_vote
    {
        match build::election_key_of(c, &qualification(storage, c)) {
            Ok(body) => {
                append(writer, key, Body::ElectionKey(body), now_ms)?;
                done.election_keys.push(title.clone());
            }
            Err(_) => done.failed.push(title.clone()),
        }
    }
    // A proposal dated before the close is admitted up to the clock tolerance after it.
    let proposals_settled = c
        .body
        .proposals_close_ms
        .saturating_add(palabre_core::limits::MAX_CLOCK_SKEW_MS + 1_000);
    if storage.layout(&c.id).is_none() && now_ms >= proposals_settled && before_vote {
        let proposals: Vec<EventId> = storage
            .members(&c.id)?
            .into_iter()
            .filter(|id| storage.proposal(id).is_some_and(|p| p.consultation == c.id))
            .collect();
        let body = build::layout(c, &proposals)
            .map_err(|r| anyhow::anyhow!("the layout cannot be made: {r}"))?;
        append(writer, key, Body::BallotLayout(body), now_ms)?;
        done.layouts.push(title.clone());
    }
    Ok(())
}

/// How long before a window closes the node stops trying to append into it: an event is
/// dated when it is signed, and a commit queued behind others must still land inside.
const DEAL_MARGIN_MS: u64 = 1_000;

/// How often the node looks at its ceremonies.
const EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs the ceremony passes for as long as the node serves.
pub async fn run(
    backend: std::sync::Arc<crate::backend::NodeBackend>,
    trustee: TrusteeKey,
    shares: Shares,
) {
    let trustee = std::sync::Arc::new(trustee);
    let mut reported = std::collections::BTreeSet::new();
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let (b, t, s) = (
            std::sync::Arc::clone(&backend),
            std::sync::Arc::clone(&trustee),
            shares.clone(),
        );
        let pass = tokio::task::spawn_blocking(move || {
            run_due(
                &b.storage,
                &b.writer,
                &b.key,
                &t,
                &s,
                crate::clock::now_ms(),
            )
        })
        .await;
        match pass {
            Ok(Ok(done)) => {
                for (what, titles) in [
                    ("dealt this town's share of the key of", &done.deals),
                    ("complained of a bad share in", &done.complaints),
                    ("kept this town's key share of", &done.shares),
                    ("published the election key of", &done.election_keys),
                    ("published the ballot layout of", &done.layouts),
                ] {
                    for title in titles {
                        tracing::info!("{what} \"{title}\"");
                    }
                }
                for title in done.failed {
                    if reported.insert(title.clone()) {
                        tracing::warn!(
                            "setup failed for \"{title}\": fewer trustees qualified than \
                             the threshold, so no election key can exist and it takes no \
                             ballot; publish a new consultation"
                        );
                    }
                }
            }
            Ok(Err(e)) => tracing::error!("key ceremony: {e:#}"),
            Err(e) => tracing::error!("key ceremony: {e}"),
        }
    }
}
