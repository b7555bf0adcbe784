//! A secret consultation taken past its close: sealed ballots, the closing
//! checkpoints, the trustees' mixes in index order, `seal_final`, decryption shares and
//! the organiser's result — every body made by core's `secret::mix_build`, as the node
//! makes them — and the audit over the towns' logs.

use std::collections::HashMap;

use crate::audit::{AuditInput, AuditOptions, AuditReport, LogMaterial, audit};
use crate::dkg::Secret;
use crate::event::mix::{MixInput, SealFinalBody, SealedResultBody};
use crate::event::*;
use crate::head::{Cosignature, CosignedHead, TreeHead};
use crate::ids::EventId;
use crate::record::Record;
use crate::rejection::Rejection;
use crate::secret::build;
use crate::secret::cascade::{self, Mixes};
use crate::secret::setting;
use crate::secret::setting::Setting;
use crate::secret::{judged, memo, mix_build, open};
use crate::tally::{Answer, Choice, Method};
use crate::testkit::secret_world::{HOUR, SecretWorld};
use crate::testkit::world::{VOTE_CLOSE, VOTE_OPEN, sign};

/// When trustee j mixes (ms after the close).
pub fn mix_at(j: u64) -> u64 {
    VOTE_CLOSE + HOUR * j
}
/// When the organiser appends `seal_final`.
pub const SEAL_AT: u64 = VOTE_CLOSE + 30 * HOUR;
/// When the trustees append their decryption shares.
pub const DECRYPT_AT: u64 = VOTE_CLOSE + 31 * HOUR;
/// When the organiser publishes the result.
pub const RESULT_AT: u64 = VOTE_CLOSE + 32 * HOUR;

/// A secret consultation whose logs have closed, with what its opening needs.
#[derive(Debug)]
pub struct Opening {
    /// The secret world (election key and layout recorded, ballots cast, logs closed).
    pub w: SecretWorld,
    /// Every other town's cosignature of each closing head (the closing quorum).
    pub cosignatures: Vec<Cosignature>,
    /// The choices cast, last per voter, as (town, resident, choice).
    pub choices: Vec<(usize, usize, Choice)>,
    /// The `seal_final` appended by [`Opening::seal`], if any.
    pub seal_final: Option<EventId>,
}

impl Opening {
    /// `n_towns` trustee towns with threshold `t`; each (town, resident, choice) of
    /// `votes` is sealed and cast in order (a later one by the same voter replaces the
    /// earlier); then every log closes. Each town has 4 residents, or as many as `votes`
    /// name (their credentials come before the deals), so `votes` may name thousands.
    pub fn closed(
        n_towns: u8,
        t: u64,
        method: Method,
        n_proposals: usize,
        split: bool,
        votes: impl Fn(&[EventId]) -> Vec<(usize, usize, Choice)>,
    ) -> Opening {
        Opening::closed_except(n_towns, t, method, n_proposals, split, votes, None)
    }

    /// As [`Opening::closed`], but town `open` (if any) does not close.
    pub fn closed_except(
        n_towns: u8,
        t: u64,
        method: Method,
        n_proposals: usize,
        split: bool,
        votes: impl Fn(&[EventId]) -> Vec<(usize, usize, Choice)>,
        open: Option<usize>,
    ) -> Opening {
        let mut w = SecretWorld::new(n_towns, 4, method, n_proposals, t, split);
        let votes = votes(&w.proposals);
        // Each town has 4 residents, or as many as the votes name.
        for (town, resident, _) in &votes {
            let n = u32::try_from(*resident + 1).expect("residents fit a u32");
            w.enrol(*town, n);
        }
        w.set_up();
        for (k, (town, resident, choice)) in votes.iter().enumerate() {
            let e = w.sealed_ballot(
                *town,
                *resident,
                VOTE_OPEN + k as u64,
                choice,
                &seal_seed(k),
            );
            w.append(*town, e).expect("sealed ballot");
        }
        // The last choice of each voter, in the order of those last ballots.
        let last: HashMap<(usize, usize), usize> = votes
            .iter()
            .enumerate()
            .map(|(k, (town, resident, _))| ((*town, *resident), k))
            .collect();
        let choices: Vec<(usize, usize, Choice)> = votes
            .into_iter()
            .enumerate()
            .filter(|(k, (town, resident, _))| last[&(*town, *resident)] == *k)
            .map(|(_, v)| v)
            .collect();
        let mut cosignatures = Vec::new();
        for town in (0..w.towns.len()).filter(|t| Some(*t) != open) {
            let pk = w.towns[town].pk();
            let size = w.ledger.log_size(&pk);
            let root = w.ledger.root_at(&pk, size).expect("root");
            let head = TreeHead {
                authority: pk,
                size,
                root,
                timestamp_ms: VOTE_CLOSE,
            };
            for other in w.towns.iter().filter(|o| o.pk() != pk) {
                cosignatures.push(
                    CosignedHead {
                        head,
                        witness: other.pk(),
                        timestamp_ms: VOTE_CLOSE + 60_000,
                    }
                    .sign(&other.key),
                );
            }
            let cp = sign(
                &w.towns[town].key,
                VOTE_CLOSE,
                Body::Checkpoint(CheckpointBody {
                    consultation: w.consultation,
                    size,
                    root,
                }),
            );
            w.append(town, cp).expect("checkpoint");
        }
        Opening {
            w,
            cosignatures,
            choices,
            seal_final: None,
        }
    }

    /// The opening's setting (election key, layout, trustees, groups), as admission
    /// reads it.
    pub fn setting(&self) -> Setting {
        setting::setting(&self.w.ledger, &self.w.view()).expect("setting")
    }

    /// The mixes recorded so far, as admission reads them (from the ledger's memo).
    pub fn mixes(&self) -> Mixes {
        self.judged().mixes.clone()
    }

    /// L₀ and the mixes recorded so far, judged, from the ledger's memo.
    pub fn judged(&self) -> std::sync::Arc<memo::Judged> {
        judged::judged(&self.w.ledger, &self.w.view(), &self.setting()).expect("L0")
    }

    /// The mixes recorded so far, judged afresh without the memo.
    pub fn mixes_afresh(&self) -> Mixes {
        let c = self.w.view();
        let s = self.setting();
        let initial = setting::initial(&self.w.ledger, &c, &s).expect("L0");
        setting::mixes(&self.w.ledger, &c, &s, &initial, None)
    }

    /// Trustee j's mix of `group` over the current tip: (chunks, proof) as signed
    /// events, not appended.
    pub fn mix_events(&self, j: u64, group: u64, seed: u8) -> (Vec<SignedEvent>, SignedEvent) {
        let judged = self.judged();
        let (input_ref, input) = match cascade::tip(&judged.mixes, group) {
            Some(m) => (MixInput::Mix(m.id), &m.outputs),
            None => (MixInput::Initial, &judged.initial[group as usize]),
        };
        self.mix_events_over(j, group, input_ref, input, seed)
    }

    /// Trustee j's mix of `group` over `input` (claimed to be `input_ref`).
    pub fn mix_events_over(
        &self,
        j: u64,
        group: u64,
        input_ref: MixInput,
        input: &[Vec<crate::elgamal::Ciphertext>],
        seed: u8,
    ) -> (Vec<SignedEvent>, SignedEvent) {
        let s = self.setting();
        let made = mix_build::mix(
            &self.w.consultation,
            &s.election_key.1.key.0,
            group,
            input_ref,
            &input.to_vec(),
            &[seed; 32],
            &[seed.wrapping_add(100); 32],
        )
        .expect("mix");
        let key = &self.w.towns[self.w.town_of_trustee(j)].key;
        let chunks: Vec<SignedEvent> = made
            .chunks
            .iter()
            .map(|b| sign(key, mix_at(j), Body::Mix(b.clone())))
            .collect();
        let proof = made.proof(chunks.iter().map(SignedEvent::id).collect());
        let proof = sign(key, mix_at(j), Body::MixProof(Box::new(proof)));
        (chunks, proof)
    }

    /// Appends trustee j's mix of every group (through admission).
    pub fn mix(&mut self, j: u64) -> Result<(), Rejection> {
        let town = self.w.town_of_trustee(j);
        for g in 0..self.setting().widths().len() as u64 {
            let (chunks, proof) = self.mix_events(j, g, 10 * j as u8 + g as u8);
            for e in chunks {
                self.w.append(town, e)?;
            }
            self.w.append(town, proof)?;
        }
        Ok(())
    }

    /// The organiser's `seal_final` body over the recorded mixes.
    pub fn seal_final_body(&self) -> Result<SealFinalBody, Rejection> {
        mix_build::seal_final(&self.w.consultation, &self.setting(), &self.mixes())
    }

    /// Appends the organiser's `seal_final` at [`SEAL_AT`]; returns its id.
    pub fn seal(&mut self) -> Result<EventId, Rejection> {
        let body = self.seal_final_body()?;
        let e = sign(&self.w.towns[0].key, SEAL_AT, Body::SealFinal(body));
        let id = e.id();
        self.w.append(0, e)?;
        self.seal_final = Some(id);
        Ok(id)
    }

    /// The recorded `seal_final`'s body (panics before [`Opening::seal`]).
    pub fn final_body(&self) -> SealFinalBody {
        match self
            .w
            .ledger
            .event(&self.seal_final.expect("sealed"))
            .map(SignedEvent::body)
        {
            Some(Body::SealFinal(b)) => b.clone(),
            _ => panic!("not a seal_final"),
        }
    }

    /// Trustee j's share `x_j`.
    pub fn share(&self, j: u64) -> Secret {
        let c = self.w.view();
        let town = self.w.town_of_trustee(j);
        let me = self.w.towns[town].pk();
        let (_, own) =
            build::deal(&c, &me, &self.w.encryption_keys(), &[9 + town as u8; 32]).expect("deal");
        let q = crate::secret::admit::qualification(&self.w.ledger, &c);
        build::secret_share(&c, &q, &me, &self.w.towns[town].trustee.secret, Some(&own))
            .expect("share")
    }

    /// Trustee j's decryption chunks (the honest rule applies), signed, not appended.
    pub fn decryption_events(&self, j: u64) -> Result<Vec<SignedEvent>, Rejection> {
        let id = self.seal_final.expect("sealed");
        let bodies = mix_build::decryption(
            &self.w.consultation,
            &self.setting(),
            &self.mixes(),
            &id,
            &self.final_body(),
            j,
            &self.share(j),
            &[200 + j as u8; 32],
        )?;
        let key = &self.w.towns[self.w.town_of_trustee(j)].key;
        Ok(bodies
            .into_iter()
            .map(|b| sign(key, DECRYPT_AT, Body::Decryption(b)))
            .collect())
    }

    /// Appends trustee j's decryption chunks (through admission).
    pub fn decrypt(&mut self, j: u64) -> Result<(), Rejection> {
        let town = self.w.town_of_trustee(j);
        for e in self.decryption_events(j)? {
            self.w.append(town, e)?;
        }
        Ok(())
    }

    /// The decryption shares recorded, collected and checked by `secret::open::collect`.
    pub fn collected(&self) -> open::Collected {
        let c = self.w.view();
        let id = self.seal_final.expect("sealed");
        let decryptions = self.w.ledger.secret_events(&c.id, Kind::Decryption);
        let q = crate::secret::admit::qualification(&self.w.ledger, &c);
        let judged = self.judged();
        open::collect(
            &c.id,
            &self.setting(),
            &judged.mixes,
            (&id, &self.final_body()),
            &decryptions,
            |j| q.verification_key(j),
            judged::checked_at_admission(&self.w.ledger, &c.id, &judged),
        )
        .expect("collect")
    }

    /// The organiser's result body, if t trustees who mixed sent their shares.
    pub fn result_body(&self) -> Option<SealedResultBody> {
        let c = self.w.view();
        let (_, counted) = self.w.ledger.count(&c.id).expect("count");
        let checkpoints = counting_checkpoints(self);
        mix_build::result(
            &c,
            &self.setting(),
            &self.w.layout_body().columns,
            &counted.candidates,
            &self.seal_final.expect("sealed"),
            &self.collected(),
            checkpoints,
            counted.assisted.iter().map(|(a, n)| (*a, *n)),
        )
        .expect("result")
    }

    /// Appends the organiser's result `body` at [`RESULT_AT`]; returns its id.
    pub fn publish(&mut self, body: SealedResultBody) -> Result<EventId, Rejection> {
        let e = sign(
            &self.w.towns[0].key,
            RESULT_AT,
            Body::SealedResult(Box::new(body)),
        );
        let id = e.id();
        self.w.append(0, e)?;
        Ok(id)
    }

    /// The whole cascade: trustees `mixers` mix in order, the organiser seals, trustees
    /// `decryptors` decrypt, the organiser publishes the result.
    pub fn run(&mut self, mixers: &[u64], decryptors: &[u64]) -> SealedResultBody {
        for j in mixers {
            self.mix(*j).expect("mix admitted");
        }
        self.seal().expect("seal_final admitted");
        for j in decryptors {
            self.decrypt(*j).expect("decryption admitted");
        }
        let body = self.result_body().expect("enough shares");
        self.publish(body.clone()).expect("result admitted");
        body
    }

    /// Applies an event to town `town`'s log without admission (a planted fault).
    pub fn plant(&mut self, town: usize, e: SignedEvent) {
        let log = self.w.towns[town].pk();
        self.w.ledger.apply(&log, e);
    }

    /// The audit of every town's log, each with a fresh signed head and the closing
    /// cosignatures.
    pub fn audit(&self) -> AuditReport {
        audit(&self.audit_input(), AuditOptions { threads: 2 })
    }

    /// What [`Opening::audit`] audits: every town's log, each with a fresh signed head
    /// and the closing cosignatures (for other readers of the logs, like open data).
    pub fn audit_input(&self) -> AuditInput {
        let logs = self
            .w
            .towns
            .iter()
            .map(|t| {
                let pk = t.pk();
                let log = self.w.ledger.log(&pk).expect("log");
                let size = log.entries.len() as u64;
                let head = TreeHead {
                    authority: pk,
                    size,
                    root: self.w.ledger.root_at(&pk, size).expect("root"),
                    timestamp_ms: RESULT_AT + 5,
                }
                .sign(&t.key);
                LogMaterial {
                    authority: pk,
                    source: format!("node-of-{pk}"),
                    entries: log.entries.iter().map(|e| e.bytes().to_vec()).collect(),
                    heads: vec![head],
                    cosignatures: self
                        .cosignatures
                        .iter()
                        .filter(|c| c.cosigned.head.authority == pk)
                        .copied()
                        .collect(),
                }
            })
            .collect();
        AuditInput {
            consultation: self.w.consultation,
            logs,
            evidence: Vec::new(),
        }
    }
}

/// The seed of the `k`-th ballot's encryption: `[k + 1; 32]` for the first 255 (as
/// always), then the high bytes of `k + 1` mixed into bytes 1–4, so that every ballot of
/// a large world has its own.
fn seal_seed(k: usize) -> [u8; 32] {
    let n = u32::try_from(k + 1).expect("ballots fit a u32");
    let [low, high @ ..] = n.to_le_bytes();
    let mut seed = [low; 32];
    for (s, h) in seed[1..4].iter_mut().zip(high) {
        *s ^= h;
    }
    seed
}

/// The closing heads every result names.
fn counting_checkpoints(o: &Opening) -> Vec<ClosedLog> {
    let c = o.w.view();
    let mut out: Vec<ClosedLog> = c
        .body
        .authorities
        .iter()
        .map(|a| {
            let (size, root) = o.w.ledger.closing(a, &c.id).expect("closed");
            ClosedLog {
                authority: *a,
                size,
                root,
            }
        })
        .collect();
    out.sort();
    out
}

/// The rules of the audit's failures, in order.
pub fn rules(report: &AuditReport) -> Vec<&'static str> {
    report.failures.iter().map(|f| f.rule).collect()
}

/// The rules of the audit's notes, in order.
pub fn notes(report: &AuditReport) -> Vec<&'static str> {
    report.notes.iter().map(|f| f.rule).collect()
}

/// Seven voters over three towns (one of whom votes twice), with choices of `method`'s
/// kind over proposals `p`.
pub fn votes_for(method: &Method, p: &[EventId]) -> Vec<(usize, usize, Choice)> {
    let voters = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1), (0, 2)];
    let mut out: Vec<(usize, usize, Choice)> = voters
        .iter()
        .enumerate()
        .map(|(k, (t, r))| (*t, *r, choice_for(method, p, k)))
        .collect();
    // A revote: the later ballot replaces the earlier one.
    out.push((1, 0, choice_for(method, p, 5)));
    out
}

/// The `k`-th voter's choice of `method`'s kind over proposals `p`: every kind of
/// answer appears, and some proposals are left unanswered.
pub fn choice_for(method: &Method, p: &[EventId], k: usize) -> Choice {
    match method {
        Method::YesNoAbstain {} => Choice::Answers(
            p.iter()
                .enumerate()
                .filter(|(i, _)| !(k + i).is_multiple_of(4))
                .map(|(i, id)| {
                    let a = [Answer::Yes, Answer::No, Answer::Abstain][(k * 2 + i) % 3];
                    (*id, a)
                })
                .collect(),
        ),
        Method::MajorityJudgment { grades } => Choice::Grades(
            p.iter()
                .enumerate()
                .filter(|(i, _)| !(k + i).is_multiple_of(5))
                .map(|(i, id)| (*id, ((k * 3 + i) % grades.len()) as u32))
                .collect(),
        ),
        Method::Approval { max_choices } => {
            let mut ids: Vec<_> = p
                .iter()
                .enumerate()
                .filter(|(i, _)| (k + i).is_multiple_of(3))
                .map(|(_, id)| *id)
                .take(*max_choices as usize)
                .collect();
            ids.sort();
            Choice::Approve(ids)
        }
        _ => {
            let mut ids: Vec<_> = p
                .iter()
                .enumerate()
                .filter(|(i, _)| (k + 2 * i) % 3 != 1)
                .map(|(_, id)| *id)
                .collect();
            ids.sort();
            Choice::Approve(ids)
        }
    }
}
