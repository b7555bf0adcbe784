//! Closing consultations, without anyone having to remember to: once a consultation's
//! vote has closed and the grace period has passed (a ballot dated before the close is
//! admitted up to the clock tolerance after it, and must land inside the closed prefix),
//! this node appends its `checkpoint` (the size and root of its log then), and, when it is the
//! organiser and every participating log has closed, the signed `result` — the recount
//! of core's `count` over the closed prefixes.
//!
//! The organiser publishes the result only once every closing head has its quorum of
//! witness cosignatures (PROTOCOL.md, "Closing and quorum"): a single-town consultation
//! needs none; in a federation the other towns' nodes cosign each closing checkpoint as
//! they replicate it (`federation.rs`). Everything decided here is admitted by core like
//! any other event, through the same group-commit writer.

use palabre_core::counting;
use palabre_core::crypto::SecretKey;
use palabre_core::event::ClosedLog;
use palabre_core::event::{Body, CheckpointBody, Event, ResultBody, SignedEvent};
use palabre_core::head::{closing_quorum, closing_witnesses};
use palabre_core::record::Record;
use palabre_core::view::ConsultationView;
use palabre_store::{CommitItem, SledStorage, Storage, Writer};

/// What one pass did, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Closed {
    pub checkpoints: Vec<String>,
    pub results: Vec<String>,
}

/// Signs `body` as this town now and commits it to its log (admitted by core like any
/// event); the event's id once durable. The ceremony (`ceremony.rs`) appends this way too.
pub(crate) fn append(
    writer: &Writer,
    key: &SecretKey,
    body: Body,
    now_ms: u64,
) -> anyhow::Result<palabre_core::ids::EventId> {
    let me = key.public_key();
    let event: SignedEvent = Event {
        author: me,
        created_at_ms: now_ms,
        body,
    }
    .sign(key)
    .map_err(|r| anyhow::anyhow!("the event is invalid: {r}"))?;
    let id = event.id();
    commit_own(writer, &me, vec![event])?;
    Ok(id)
}

/// Commits `events` to `me`'s own log together, in order, once durable: every one must
/// be admitted (the opening's mix chunks and proof go in one commit this way).
pub(crate) fn commit_own(
    writer: &Writer,
    me: &palabre_core::crypto::PublicKey,
    events: Vec<SignedEvent>,
) -> anyhow::Result<()> {
    let n = events.len();
    let items = events
        .into_iter()
        .map(|event| CommitItem {
            log: *me,
            event,
            consume_invitation: None,
        })
        .collect();
    let results = writer.submit(items)?.results;
    anyhow::ensure!(results.len() == n, "the writer gave no answer");
    for r in results {
        if let Err(e) = r {
            anyhow::bail!("refused: {e}");
        }
    }
    Ok(())
}

/// When the closing quorum was reached (`None` before): for each closing head, the
/// time of the cosignature that completed its quorum of witnesses; the latest of them.
/// A single-town consultation needs no witness: its close.
pub fn quorum_at(
    storage: &SledStorage,
    c: &ConsultationView,
    checkpoints: &[ClosedLog],
) -> anyhow::Result<Option<u64>> {
    let participants = &c.body.authorities;
    let needed = closing_quorum(participants.len()).saturating_sub(1);
    let mut at = c.body.vote_close_ms;
    for head in checkpoints {
        if needed == 0 {
            continue;
        }
        let cosignatures = storage.cosignatures(&head.authority)?;
        let witnesses = closing_witnesses(
            &head.authority,
            head.size,
            &head.root,
            participants,
            c.body.vote_close_ms,
            &cosignatures,
        );
        let mut times: Vec<u64> = witnesses
            .iter()
            .filter_map(|w| {
                cosignatures
                    .iter()
                    .filter(|x| {
                        x.cosigned.witness == *w
                            && x.cosigned.head.size == head.size
                            && x.cosigned.head.root == head.root
                    })
                    .map(|x| x.cosigned.timestamp_ms)
                    .min()
            })
            .collect();
        times.sort_unstable();
        match times.get(needed - 1) {
            Some(t) => at = at.max(*t),
            None => return Ok(None),
        }
    }
    Ok(Some(at))
}

/// One pass over every consultation this node takes part in.
pub fn close_due(
    storage: &SledStorage,
    writer: &Writer,
    key: &SecretKey,
    now_ms: u64,
    grace_ms: u64,
) -> anyhow::Result<Closed> {
    let me = key.public_key();
    let mut done = Closed::default();
    for view in storage.consultations()? {
        let b = &view.body;
        if !view.participates(&me) || now_ms < b.vote_close_ms.saturating_add(grace_ms) {
            continue;
        }
        if storage.closing(&me, &view.id).is_none() {
            let size = storage.log_size(&me);
            let root = storage
                .root_at(&me, size)
                .ok_or_else(|| anyhow::anyhow!("no root for this log at size {size}"))?;
            let _ = append(
                writer,
                key,
                Body::Checkpoint(CheckpointBody {
                    consultation: view.id,
                    size,
                    root,
                }),
                now_ms,
            )?;
            done.checkpoints.push(b.title.clone());
        }
        // A secret consultation's result comes from its opening (mix and decryption,
        // "Secret ballots II"), never from a count here: core refuses one (`sealed_required`).
        if view.organiser != me || storage.has_result(&view.id) || b.secrecy.is_some() {
            continue;
        }
        let Some(checkpoints) = counting::closed_logs(storage, &view) else {
            continue; // another town has not closed yet
        };
        if quorum_at(storage, &view, &checkpoints)?.is_none() {
            continue; // witnesses have not cosigned every closing head yet
        }
        let Some((view, counted)) = storage.count(&view.id)? else {
            continue;
        };
        let _ = append(
            writer,
            key,
            Body::Result(Box::new(ResultBody {
                consultation: view.id,
                checkpoints,
                tally: counted.tally(&view),
            })),
            now_ms,
        )?;
        done.results.push(view.body.title.clone());
    }
    Ok(done)
}
