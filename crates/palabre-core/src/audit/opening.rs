//! The audit's checks of a secret consultation's mix and opening (SECRET-BALLOTS.md
//! §4.12, items 5–9): L₀ recomputed from the recount, every mix judged along its chain,
//! the `seal_final` chains, every decryption share, the decryptors, the recombination,
//! the validity of each plaintext, the recount and its comparison with the signed
//! result, and the agreement of other t-subsets.
//!
//! The replay applies these events without judging them (they span every log: L₀ needs
//! every checkpoint, a mix its predecessor in another log); this file judges them once
//! the whole record is known, with the rules of `secret::cascade` and `secret::open`
//! that admission and the node use. Faults are failures with the design's codes;
//! `stale_mix`, `unused_share` and a consultation still waiting for trustees are notes.

use curve25519_dalek::ristretto::RistrettoPoint;

use crate::counting::Counted;
use crate::crypto::PublicKey;
use crate::event::mix::{SealFinalBody, SealedResultBody};
use crate::event::{Body, Kind, SignedEvent};
use crate::ids::EventId;
use crate::ledger::Ledger;
use crate::record::Record;
use crate::secret::cascade::{self, Mixes};
use crate::secret::{admit as secret_admit, open, result, setting};
use crate::view::ConsultationView;

use super::replay::{Replay, admit_result};
use super::{AuditReport, Fail, Failure};

/// Checks the mix and the opening of `c` (a secret consultation; nothing otherwise)
/// against the recount `counted`; returns the notes. When a valid result is found, its
/// recount is shown in the report.
pub(super) fn check(
    c: &ConsultationView,
    replay: &Replay,
    counted: &Counted,
    all_closed: bool,
    report: &mut AuditReport,
    fail: &mut Fail<'_>,
) -> Vec<Failure> {
    let mut notes = Vec::new();
    if c.body.secrecy.is_none() {
        return notes;
    }
    let ledger = &replay.ledger;
    let opening_events = |kind| -> Vec<(PublicKey, SignedEvent)> {
        ledger
            .secret_events(&c.id, kind)
            .into_iter()
            .filter(|(log, e)| ledger.position(&e.id()).is_some_and(|p| p.log == *log))
            .collect()
    };
    let proofs = opening_events(Kind::MixProof);
    let Ok(s) = setting::setting(ledger, c) else {
        return notes;
    };
    // Before every log closed, L₀ is not fixed: nothing of the opening can be judged.
    if !all_closed {
        return notes;
    }
    let Some(ballots) = cascade::sealed_of(counted.sealed.values(), |id| ledger.event(id)) else {
        return notes;
    };
    let refs: Vec<_> = ballots.iter().collect();
    let initial = cascade::initial_lists(&s.secrecy, s.layout.1, &refs);
    let ctx = s.context(&c.id, &initial);
    let mixes = cascade::judge_mixes(&ctx, &proofs, setting::chunk_lookup(ledger));
    for (log, e) in &proofs {
        if let Some(r) = mixes.invalid.get(&e.id()) {
            at(
                fail,
                ledger,
                r.code(),
                log,
                e,
                &format!("this mix is refused: {r}"),
            );
        }
    }
    // A chunk is judged with its proof; one that no proof could take (not by a trustee
    // of QUAL in its own log) is a fault of its own. So is a seal_final that is not the
    // organiser's, in its own log.
    for (log, e) in opening_events(Kind::Mix) {
        let trustee = s
            .secrecy
            .index_of(e.author())
            .is_some_and(|j| s.qual.contains(&j));
        if !trustee || e.author() != &log {
            let detail = "a mix chunk not by a trustee of QUAL in its own log";
            at(fail, ledger, "wrong_author", &log, &e, detail);
        }
    }
    let (finals, strays): (Vec<_>, Vec<_>) = opening_events(Kind::SealFinal)
        .into_iter()
        .partition(|(log, e)| *log == c.organiser && e.author() == log);
    for (log, e) in &strays {
        let detail = "a seal_final not by the organiser in its own log";
        at(fail, ledger, "wrong_author", log, e, detail);
    }
    let mut chosen: Option<(EventId, SealFinalBody)> = None;
    for (log, e) in &finals {
        let Body::SealFinal(b) = e.body() else {
            continue;
        };
        let checked = (b.chains.len() == s.widths().len())
            .then_some(())
            .ok_or(crate::rejection::Rejection::ChainTooShort)
            .and_then(|_| {
                b.chains.iter().enumerate().try_for_each(|(g, chain)| {
                    cascade::check_chain(&mixes, g as u64, chain, s.secrecy.threshold).map(|_| ())
                })
            });
        match checked {
            Err(r) => at(
                fail,
                ledger,
                r.code(),
                log,
                e,
                "this seal_final's chains do not hold",
            ),
            Ok(()) if chosen.is_none() => chosen = Some((e.id(), b.clone())),
            Ok(()) => {}
        }
    }
    stale_notes(
        &mixes,
        &s,
        chosen.as_ref().map(|(_, b)| b),
        ledger,
        &mut notes,
    );
    let Some((final_id, final_body)) = chosen else {
        return notes;
    };
    let decryptions = opening_events(Kind::Decryption);
    let q = secret_admit::qualification(ledger, c);
    let key = |j: u64| -> RistrettoPoint { q.verification_key(j) };
    // The audit checks every proof itself, whatever its ledger noted at admission.
    let every = |_: &EventId| cascade::Proof::Check;
    let seal = (&final_id, &final_body);
    let Ok(collected) = open::collect(&c.id, &s, &mixes, seal, &decryptions, key, every) else {
        return notes;
    };
    for (log, id) in &collected.bad {
        let index = ledger.position(id).map(|p| p.index);
        fail.push(
            "bad_decryption_share",
            Some(*log),
            index,
            Some(*id),
            None,
            "a decryption share's proof does not verify against its trustee's key and element",
        );
    }
    for j in &collected.not_mixers {
        fail.push(
            "decryptor_not_mixer",
            s.secrecy.trustee(*j).copied(),
            None,
            None,
            None,
            "this trustee published decryption shares of a chain without its own mix",
        );
    }
    check_results(
        c, replay, counted, &s, &final_id, &collected, report, fail, &mut notes,
    );
    notes
}

/// The results: admissible, naming decryptors with complete shares who mixed, and
/// equal to the recount of what those shares open; other t-subsets must agree.
#[allow(clippy::too_many_arguments)]
fn check_results(
    c: &ConsultationView,
    replay: &Replay,
    counted: &Counted,
    s: &setting::Setting,
    final_id: &EventId,
    collected: &open::Collected,
    report: &mut AuditReport,
    fail: &mut Fail<'_>,
    notes: &mut Vec<Failure>,
) {
    let ledger = &replay.ledger;
    let columns = layout_columns(ledger, &s.layout.0);
    let mut found = false;
    for (log, index, event) in &replay.results {
        let Body::SealedResult(b) = event.body() else {
            continue;
        };
        if b.consultation != c.id {
            continue;
        }
        let push = |fail: &mut Fail<'_>, rule: &'static str, detail: &str| {
            fail.push(
                rule,
                Some(*log),
                Some(*index),
                Some(event.id()),
                None,
                detail,
            );
        };
        if let Err(r) = admit_result(ledger, &replay.refs, log, event) {
            push(fail, "inadmissible", &format!("{} ({})", r, r.code()));
            continue;
        }
        if b.sealed.seal_final != *final_id {
            push(
                fail,
                "result_mismatch",
                "the result opens another seal_final than the valid one",
            );
            continue;
        }
        let subset = decryptors(b, s);
        if subset.iter().any(|j| !collected.complete.contains_key(j)) {
            push(
                fail,
                "bad_decryption_share",
                "a decryptor's shares are missing or invalid",
            );
            continue;
        }
        if subset.iter().any(|j| !collected.mixed_everywhere(*j)) {
            push(
                fail,
                "decryptor_not_mixer",
                "a decryptor did not mix in every chain",
            );
        }
        // What `secret::mix_build::opened_tally` counts for the node, recombined once for
        // the recount and for the plaintexts the open data publishes.
        let groups = s
            .secrecy
            .params()
            .and_then(|params| collected.plaintexts(params, &subset));
        let Ok(groups) = groups else {
            push(
                fail,
                "result_mismatch",
                "the decryptors' shares do not recombine",
            );
            continue;
        };
        let (method, split) = (&c.body.method, s.secrecy.split);
        let candidates = &counted.candidates;
        let recount = result::tally_of_plaintexts(method, split, &columns, candidates, &groups)
            .with_assisted(counted.assisted.iter().map(|(a, n)| (*a, *n)));
        found = true;
        report.result = Some(event.id());
        if b.tally != recount {
            push(
                fail,
                "result_mismatch",
                "the signed tally differs from the recount of the opened plaintexts",
            );
        }
        if let Ok(params) = s.secrecy.params()
            && collected.inconsistent(params, &subset).is_some()
        {
            push(
                fail,
                "decryption_inconsistent",
                "another t-subset of the shares opens other plaintexts",
            );
        }
        unused_shares(collected, s, &subset, notes);
        report.tally = Some(recount);
        report.tally_hidden = false;
        report.opened = Some(result::opened_choices(
            method, split, &columns, candidates, &groups,
        ));
    }
    if !found {
        let k = collected.missing(s.secrecy.threshold);
        notes.push(note(
            "sealed_waiting",
            None,
            None,
            &format!("the consultation stays sealed: waiting for {k} more trustee towns"),
        ));
    }
}

/// The trustee indexes of the decryptors a result names.
fn decryptors(b: &SealedResultBody, s: &setting::Setting) -> Vec<u64> {
    b.sealed
        .decryptors
        .iter()
        .filter_map(|k| s.secrecy.index_of(k))
        .collect()
}

/// A note for each trustee with complete shares that `subset` did not need.
fn unused_shares(
    collected: &open::Collected,
    s: &setting::Setting,
    subset: &[u64],
    notes: &mut Vec<Failure>,
) {
    for j in collected.complete.keys().filter(|j| !subset.contains(j)) {
        notes.push(note(
            "unused_share",
            s.secrecy.trustee(*j).copied(),
            None,
            "this trustee's shares were not needed for the result",
        ));
    }
}

/// Valid mixes that are on no chain of the `seal_final` (or, before one, of the tips).
fn stale_notes(
    mixes: &Mixes,
    s: &setting::Setting,
    sf: Option<&SealFinalBody>,
    ledger: &Ledger,
    notes: &mut Vec<Failure>,
) {
    let on_chain: Vec<EventId> = match sf {
        Some(b) => b.chains.iter().flatten().copied().collect(),
        None => (0..s.widths().len() as u64)
            .filter_map(|g| cascade::tip(mixes, g))
            .flat_map(|tip| cascade::chain_to(mixes, tip))
            .collect(),
    };
    for id in mixes.valid.keys().filter(|id| !on_chain.contains(id)) {
        let at = ledger.position(id);
        notes.push(Failure {
            rule: "stale_mix",
            authority: at.map(|p| p.log),
            index: at.map(|p| p.index),
            event: Some(*id),
            source: None,
            detail: "a valid mix that does not extend the chain that was opened".into(),
        });
    }
}

fn layout_columns(ledger: &Ledger, layout: &EventId) -> Vec<EventId> {
    match ledger.event(layout).map(SignedEvent::body) {
        Some(Body::BallotLayout(b)) => b.columns.clone(),
        _ => Vec::new(),
    }
}

fn note(
    rule: &'static str,
    authority: Option<PublicKey>,
    event: Option<EventId>,
    detail: &str,
) -> Failure {
    Failure {
        rule,
        authority,
        index: None,
        event,
        source: None,
        detail: detail.into(),
    }
}

fn at(
    fail: &mut Fail<'_>,
    ledger: &Ledger,
    rule: &'static str,
    log: &PublicKey,
    e: &SignedEvent,
    detail: &str,
) {
    let index = ledger.position(&e.id()).map(|p| p.index);
    fail.push(rule, Some(*log), index, Some(e.id()), None, detail);
}
