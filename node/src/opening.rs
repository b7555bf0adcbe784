//! The mix and the opening of secret consultations (SECRET-BALLOTS.md §4.8–§4.11), run by
//! the node without anyone having to remember to, like the ceremony: a task of `serve`
//! makes one pass every 2 s over every secret consultation whose vote has closed.
//!
//! As a trustee of QUAL this town mixes each group of the layout when its turn comes
//! (its predecessor's mix arrived, or `mix_timeout_ms` per rank after the closing quorum:
//! absent trustees are skipped) and, once the organiser's `seal_final` is recorded,
//! appends its decryption shares — only of chains that hold its own mix and at least t
//! trustees (core's honest-trustee rule, [`cascade::may_decrypt`]). As the organiser it
//! appends `seal_final` when every chain is complete or the mixing deadline has passed,
//! then the `result` once t trustees who mixed everywhere sent complete shares. With
//! fewer, the consultation stays sealed and the pass says how many are missing.
//!
//! A trustee deletes its key share `secret_share_retention_days` after the result is
//! recorded ([`retire_shares`]).
//!
//! Every body is made by core (`secret::mix_build`) and admitted by core through the
//! same group-commit writer as any event. This file decides when, draws the seeds and
//! reads the shares; the judged mixes and shares are kept between passes while the
//! record's events of the consultation stay the same, so an idle pass checks no proof.

use std::collections::BTreeMap;

use palabre_core::counting;
use palabre_core::crypto::SecretKey;
use palabre_core::dkg::Secret;
use palabre_core::event::mix::{MixInput, SealFinalBody};
use palabre_core::event::{Body, ClosedLog, Event, Kind, SignedEvent};
use palabre_core::group;
use palabre_core::ids::EventId;
use palabre_core::record::Record;
use palabre_core::rejection::Rejection;
use palabre_core::secret::cascade::{self, MixTurn};
use palabre_core::secret::setting;
use palabre_core::secret::setting::Setting;
use palabre_core::secret::{admit, judged, memo, mix_build, open};
use palabre_core::view::ConsultationView;
use palabre_store::{SledStorage, Storage, Writer};

use crate::closer::append;
use crate::trustee::{Shares, fresh_seed};

/// What one pass did, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Done {
    /// Consultations of which this town mixed a group.
    pub mixes: Vec<String>,
    /// Consultations whose `seal_final` this town (the organiser) appended.
    pub seals: Vec<String>,
    /// Consultations this town decrypted its part of.
    pub decryptions: Vec<String>,
    /// Consultations whose result this town (the organiser) published.
    pub results: Vec<String>,
    /// Consultations this town refused to decrypt, and why (a chain without its mix,
    /// or too short; a share it does not hold).
    pub refused: Vec<(String, String)>,
    /// Consultations still sealed after their `seal_final`, with how many more trustee
    /// towns must send their shares.
    pub waiting: Vec<(String, u64)>,
    /// Consultations whose key share this town deleted (its retention ended).
    pub retired: Vec<String>,
    /// Closed consultations that counted no ballot: there is nothing to open.
    pub empty: Vec<String>,
}

/// The node's settings for the cascade.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long a trustee waits for its predecessor's mix (design §4.9).
    pub mix_timeout_ms: u64,
    /// How long after the result a trustee keeps its key share.
    pub share_retention_ms: u64,
}

/// What a pass keeps of a consultation between passes: L₀ and the judged mixes, valid
/// while the recorded `mix_proof`s are the same; the judged shares, while the recorded
/// `decryption`s are the same.
#[derive(Debug, Default)]
pub struct Memo {
    consultations: BTreeMap<EventId, Judged>,
}

#[derive(Debug)]
struct Judged {
    /// L₀ and the judged mixes, from the store's memo (core's `secret::judged`).
    core: std::sync::Arc<memo::Judged>,
    shares: Option<(Vec<EventId>, open::Collected)>,
    /// When this node first saw these mixes (its staggers count from then).
    since: std::time::Instant,
}

/// One pass over every secret consultation whose vote has closed.
pub fn run_due(
    storage: &SledStorage,
    writer: &Writer,
    key: &SecretKey,
    shares: &Shares,
    settings: Settings,
    memo: &mut Memo,
    now_ms: u64,
) -> anyhow::Result<Done> {
    let me = key.public_key();
    let mut done = Done::default();
    for view in storage.consultations()? {
        let Some(secrecy) = &view.body.secrecy else {
            continue;
        };
        let trustee = secrecy.index_of(&me);
        if now_ms < view.body.vote_close_ms || (trustee.is_none() && view.organiser != me) {
            continue;
        }
        if let Some(result) = storage.result_id(&view.id) {
            memo.consultations.remove(&view.id);
            if trustee.is_some() {
                retire_shares(storage, shares, &view, &result, settings, now_ms, &mut done)?;
            }
            continue;
        }
        let step = Step {
            storage,
            writer,
            key,
            view: &view,
            now_ms,
        };
        step.run(shares, settings, memo, &mut done)?;
    }
    Ok(done)
}

/// One consultation in one pass.
struct Step<'a> {
    storage: &'a SledStorage,
    writer: &'a Writer,
    key: &'a SecretKey,
    view: &'a ConsultationView,
    now_ms: u64,
}

impl Step<'_> {
    fn run(
        &self,
        shares: &Shares,
        settings: Settings,
        memo: &mut Memo,
        done: &mut Done,
    ) -> anyhow::Result<()> {
        let (storage, c) = (self.storage, self.view);
        // Before the election key, the layout and every closing checkpoint, nothing to do.
        let title = &c.body.title;
        let s = match setting::setting(storage, c) {
            Ok(s) => s,
            Err(r) => {
                tracing::trace!("opening of \"{title}\": no setting yet ({r})");
                return Ok(());
            }
        };
        let Some(checkpoints) = counting::closed_logs(storage, c) else {
            tracing::trace!("opening of \"{title}\": a participating log is still open");
            return Ok(());
        };
        let Some(quorum_at) = crate::closer::quorum_at(storage, c, &checkpoints)? else {
            tracing::trace!("opening of \"{title}\": the closing quorum is not reached");
            return Ok(());
        };
        tracing::trace!("opening of \"{title}\": quorum at {quorum_at}");
        let judged = judge(storage, c, &s, memo)?;
        let Some(judged) = judged else {
            tracing::trace!("opening of \"{title}\": no mix input yet");
            return Ok(());
        };
        // No ballot counted: nothing to mix or open (a mix of no ballot is refused).
        if judged.core.initial.iter().all(Vec::is_empty) {
            done.empty.push(title.clone());
            return Ok(());
        }
        let me = self.key.public_key();
        let mine = s.secrecy.index_of(&me).filter(|j| s.qual.contains(j));
        let sealed = self.recorded_seal_final();
        tracing::trace!(
            "opening of \"{title}\": {} valid mixes, {} invalid, me {mine:?}, sealed {}",
            judged.core.mixes.valid.len(),
            judged.core.mixes.invalid.len(),
            sealed.is_some()
        );
        match (&sealed, mine) {
            (None, Some(j)) => self.mix(&s, &*judged, j, quorum_at, settings, done)?,
            (Some((id, body)), Some(j)) => self.decrypt(&s, &*judged, j, id, body, shares, done)?,
            _ => {}
        }
        if c.organiser == me {
            match &sealed {
                None => self.seal(&s, &*judged, quorum_at, settings, done)?,
                Some((id, body)) => self.publish(&s, judged, id, body, checkpoints, done)?,
            }
        }
        Ok(())
    }

    /// The organiser's `seal_final`, from its own log.
    fn recorded_seal_final(&self) -> Option<(EventId, SealFinalBody)> {
        let organiser = &self.view.organiser;
        self.storage
            .secret_events(&self.view.id, Kind::SealFinal)
            .into_iter()
            .find_map(|(log, e)| match e.body() {
                Body::SealFinal(b)
                    if log == *organiser
                        && e.author() == organiser
                        && self.storage.contains(&e.id()) =>
                {
                    Some((e.id(), b.clone()))
                }
                _ => None,
            })
    }

    /// Mixes each group whose turn has come.
    fn mix(
        &self,
        s: &Setting,
        judged: &Judged,
        j: u64,
        quorum_at: u64,
        settings: Settings,
        done: &mut Done,
    ) -> anyhow::Result<()> {
        let mut mixed = false;
        for g in 0..s.widths().len() as u64 {
            let tip = cascade::tip(&judged.core.mixes, g);
            let mixed_already = judged
                .core
                .mixes
                .valid
                .values()
                .any(|m| m.group == g && m.mixer() == j);
            let turn = cascade::mix_turn(
                &s.qual,
                j,
                quorum_at,
                self.now_ms,
                settings.mix_timeout_ms,
                mixed_already,
                tip,
            );
            tracing::trace!(
                "opening of \"{}\": group {g}: {turn:?}",
                self.view.body.title
            );
            let MixTurn::Mix(input_ref) = turn else {
                continue;
            };
            let skipped = cascade::ranks_skipped(&s.qual, j, tip) as u32;
            if judged.since.elapsed() < stagger(settings.mix_timeout_ms) * skipped {
                continue;
            }
            let input = match (&input_ref, tip) {
                (MixInput::Mix(_), Some(m)) => &m.outputs,
                _ => &judged.core.initial[g as usize],
            };
            let made = mix_build::mix(
                &self.view.id,
                &s.election_key.1.key.0,
                g,
                input_ref,
                input,
                &fresh_seed()?,
                &fresh_seed()?,
            )
            .map_err(|r| anyhow::anyhow!("the mix cannot be made: {r}"))?;
            let mut events: Vec<SignedEvent> = made
                .chunks
                .iter()
                .map(|b| self.sign(Body::Mix(b.clone())))
                .collect::<anyhow::Result<_>>()?;
            let proof = made.proof(events.iter().map(SignedEvent::id).collect());
            events.push(self.sign(Body::MixProof(Box::new(proof)))?);
            self.commit(events)?;
            mixed = true;
        }
        if mixed {
            done.mixes.push(self.view.body.title.clone());
        }
        Ok(())
    }

    /// The organiser's `seal_final`, once due.
    fn seal(
        &self,
        s: &Setting,
        judged: &Judged,
        quorum_at: u64,
        settings: Settings,
        done: &mut Done,
    ) -> anyhow::Result<()> {
        let tips: Vec<_> = (0..s.widths().len() as u64)
            .map(|g| cascade::tip(&judged.core.mixes, g))
            .collect();
        let due = cascade::seal_due(
            &s.qual,
            s.secrecy.threshold,
            &tips,
            quorum_at,
            self.now_ms,
            settings.mix_timeout_ms,
        );
        if !due {
            return Ok(());
        }
        let body = mix_build::seal_final(&self.view.id, s, &judged.core.mixes)
            .map_err(|r| anyhow::anyhow!("seal_final cannot be made: {r}"))?;
        append(self.writer, self.key, Body::SealFinal(body), self.now_ms)?;
        done.seals.push(self.view.body.title.clone());
        Ok(())
    }

    /// This trustee's decryption shares of `seal_final`, once, if the honest trustee's
    /// rule allows them.
    #[allow(clippy::too_many_arguments)]
    fn decrypt(
        &self,
        s: &Setting,
        judged: &Judged,
        j: u64,
        id: &EventId,
        body: &SealFinalBody,
        shares: &Shares,
        done: &mut Done,
    ) -> anyhow::Result<()> {
        let me = self.key.public_key();
        let already = self
            .storage
            .secret_events(&self.view.id, Kind::Decryption)
            .into_iter()
            .any(|(log, e)| {
                log == me
                    && e.author() == &me
                    && matches!(e.body(), Body::Decryption(d) if d.seal_final == *id)
            });
        if already {
            return Ok(());
        }
        let title = self.view.body.title.clone();
        let held = shares.get(&self.view.id)?;
        let share = match (&held.share, held.election_key) {
            (Some(hex), Some(k)) if k == s.election_key.0 => group::scalar_from_hex(hex)
                .map(Secret)
                .map_err(|e| anyhow::anyhow!("trustee-shares.json: a share is damaged: {e}"))?,
            _ => {
                done.refused
                    .push((title, "this town does not hold its key share".into()));
                return Ok(());
            }
        };
        let bodies = match mix_build::decryption(
            &self.view.id,
            s,
            &judged.core.mixes,
            id,
            body,
            j,
            &share,
            &fresh_seed()?,
        ) {
            Ok(b) => b,
            Err(r @ (Rejection::ChainTooShort | Rejection::DecryptorNotMixer)) => {
                done.refused.push((title, r.code().to_owned()));
                return Ok(());
            }
            Err(r) => anyhow::bail!("the decryption cannot be made: {r}"),
        };
        if bodies.is_empty() {
            return Ok(()); // nothing was counted: no element to decrypt
        }
        let events = bodies
            .into_iter()
            .map(|b| self.sign(Body::Decryption(b)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.commit(events)?;
        done.decryptions.push(title);
        Ok(())
    }

    /// The organiser's result, once t trustees who mixed everywhere sent their shares.
    fn publish(
        &self,
        s: &Setting,
        judged: &mut Judged,
        id: &EventId,
        body: &SealFinalBody,
        checkpoints: Vec<ClosedLog>,
        done: &mut Done,
    ) -> anyhow::Result<()> {
        let (storage, c) = (self.storage, self.view);
        let decryptions = storage.secret_events(&c.id, Kind::Decryption);
        let ids: Vec<EventId> = decryptions.iter().map(|(_, e)| e.id()).collect();
        if judged.shares.as_ref().is_none_or(|(seen, _)| *seen != ids) {
            let q = admit::qualification(storage, c);
            let checked = judged::checked_at_admission(storage, &c.id, &judged.core);
            let key = |j| q.verification_key(j);
            let mixes = &judged.core.mixes;
            let collected = open::collect(&c.id, s, mixes, (id, body), &decryptions, key, checked)
                .map_err(|r| anyhow::anyhow!("the shares cannot be gathered: {r}"))?;
            judged.shares = Some((ids, collected));
        }
        let Some((_, collected)) = &judged.shares else {
            return Ok(());
        };
        let Some((_, counted)) = storage.count(&c.id)? else {
            return Ok(());
        };
        let Some((_, layout)) = storage
            .secret_events(&c.id, Kind::BallotLayout)
            .into_iter()
            .find_map(|(_, e)| match e.body() {
                Body::BallotLayout(b) if e.id() == s.layout.0 => Some((e.id(), b.clone())),
                _ => None,
            })
        else {
            return Ok(());
        };
        let result = mix_build::result(
            c,
            s,
            &layout.columns,
            &counted.candidates,
            id,
            collected,
            checkpoints,
            counted.assisted.iter().map(|(a, n)| (*a, *n)),
        )
        .map_err(|r| anyhow::anyhow!("the result cannot be made: {r}"))?;
        match result {
            Some(r) => {
                append(
                    self.writer,
                    self.key,
                    Body::SealedResult(Box::new(r)),
                    self.now_ms,
                )?;
                done.results.push(c.body.title.clone());
            }
            None => done
                .waiting
                .push((c.body.title.clone(), collected.missing(s.secrecy.threshold))),
        }
        Ok(())
    }

    fn sign(&self, body: Body) -> anyhow::Result<SignedEvent> {
        Event {
            author: self.key.public_key(),
            created_at_ms: self.now_ms,
            body,
        }
        .sign(self.key)
        .map_err(|r| anyhow::anyhow!("the event is invalid: {r}"))
    }

    /// Commits events of this town's log together, in order: every one must be admitted.
    fn commit(&self, events: Vec<SignedEvent>) -> anyhow::Result<()> {
        crate::closer::commit_own(self.writer, &self.key.public_key(), events)
    }
}

/// L₀ and the judged mixes of `c`, with what this pass keeps of them (`None` while some
/// participating log has not closed). The shares and the stagger's clock start afresh
/// when a `mix_proof` was added.
fn judge<'m>(
    storage: &SledStorage,
    c: &ConsultationView,
    s: &Setting,
    memo: &'m mut Memo,
) -> anyhow::Result<Option<&'m mut Judged>> {
    let core = match judged::judged(storage, c, s) {
        Ok(j) => j,
        Err(_) => return Ok(None),
    };
    let fresh = memo
        .consultations
        .get(&c.id)
        .is_none_or(|j| j.core.proofs() != core.proofs());
    if fresh {
        memo.consultations.insert(
            c.id,
            Judged {
                core,
                shares: None,
                since: std::time::Instant::now(),
            },
        );
    } else if let Some(j) = memo.consultations.get_mut(&c.id) {
        j.core = core;
    }
    Ok(memo.consultations.get_mut(&c.id))
}

/// Deletes this trustee's key share of `c` once `share_retention_ms` has passed since
/// its result (`result`) was recorded: the share opened what it had to, and a share
/// kept forever is a share that can one day be stolen.
fn retire_shares(
    storage: &SledStorage,
    shares: &Shares,
    c: &ConsultationView,
    result: &EventId,
    settings: Settings,
    now_ms: u64,
    done: &mut Done,
) -> anyhow::Result<()> {
    let mut held = shares.get(&c.id)?;
    if held.share.is_none() && held.own_share.is_none() {
        return Ok(());
    }
    let Some(at) = storage.held(result).and_then(|(_, e)| match e {
        palabre_core::purge::Entry::Event(e) => Some(e.created_at_ms()),
        _ => None,
    }) else {
        return Ok(());
    };
    if now_ms < at.saturating_add(settings.share_retention_ms) {
        return Ok(());
    }
    held.share = None;
    held.own_share = None;
    held.retired_at_ms = Some(now_ms);
    shares.put(&c.id, held)?;
    done.retired.push(c.body.title.clone());
    Ok(())
}

/// How long a trustee whose deadline passed waits per trustee ranked between the tip's
/// mixer and itself ([`cascade::ranks_skipped`]), counted from when it saw the tip:
/// `mix_timeout / 240` (30 s for 2 h), enough for a mix to reach every node — and never
/// less than three passes: with a shorter one, two trustees a rank apart could both act
/// within one pass, from the same tip, and fork the chain (a short `mix_timeout_ms` of
/// 4 minutes gave 1 s, and two of five consultations forked).
fn stagger(mix_timeout_ms: u64) -> std::time::Duration {
    std::time::Duration::from_millis(mix_timeout_ms / 240).max(3 * EVERY)
}

/// How often the node looks at its secret consultations' openings.
const EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a node just started catches up with its neighbours before it takes part: a
/// mix made from a tip it has not caught up with would not extend the chain (the audit's
/// `stale_mix`), and a trustee mixes each group only once, so it would have lost its turn.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(20);

/// Runs the opening passes for as long as the node serves.
pub async fn run(
    backend: std::sync::Arc<crate::backend::NodeBackend>,
    shares: Shares,
    settings: Settings,
) {
    let memo = std::sync::Arc::new(std::sync::Mutex::new(Memo::default()));
    let mut reported: BTreeMap<String, String> = BTreeMap::new();
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = tokio::time::Instant::now();
    loop {
        every.tick().await;
        if started.elapsed() < SETTLE {
            continue;
        }
        let (b, s, m) = (
            std::sync::Arc::clone(&backend),
            shares.clone(),
            std::sync::Arc::clone(&memo),
        );
        let pass = tokio::task::spawn_blocking(move || {
            let mut memo = m.lock().unwrap_or_else(|e| e.into_inner());
            run_due(
                &b.storage,
                &b.writer,
                &b.key,
                &s,
                settings,
                &mut memo,
                crate::clock::now_ms(),
            )
        })
        .await;
        match pass {
            Ok(Ok(done)) => report(done, &mut reported),
            Ok(Err(e)) => tracing::error!("opening: {e:#}"),
            Err(e) => tracing::error!("opening: {e}"),
        }
    }
}

/// Logs what a pass did; a lasting state (refused, waiting) once until it changes.
fn report(done: Done, reported: &mut BTreeMap<String, String>) {
    for (what, titles) in [
        ("mixed this town's turn of", &done.mixes),
        ("sealed the mixed ballots of", &done.seals),
        ("sent this town's decryption shares of", &done.decryptions),
        ("published the result of", &done.results),
        (
            "deleted this town's key share (its retention ended) of",
            &done.retired,
        ),
    ] {
        for title in titles {
            tracing::info!("{what} \"{title}\"");
        }
    }
    for (title, why) in done.refused {
        if reported.get(&title) != Some(&why) {
            tracing::warn!("did not decrypt \"{title}\": {why}");
            reported.insert(title, why);
        }
    }
    for title in done.empty {
        let state = "empty".to_owned();
        if reported.get(&title) != Some(&state) {
            tracing::info!("\"{title}\" closed without a ballot: there is nothing to open");
            reported.insert(title, state);
        }
    }
    for (title, k) in done.waiting {
        let state = format!("waiting for {k}");
        if reported.get(&title) != Some(&state) {
            tracing::info!(
                "\"{title}\" stays sealed: waiting for {k} more trustee town(s) to send \
                 their decryption shares"
            );
            reported.insert(title, state);
        }
    }
}
