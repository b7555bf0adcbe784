//! Faults in the mix and the opening of a secret consultation: what admission refuses
//! (one row per new code, for `rejections.rs`'s table check) and what the audit finds
//! when a fault is planted past admission or is one only the audit can judge — each with
//! its stable code.

use palabre_core::dkg::DecryptionShare;
use palabre_core::event::mix::{DecryptionBody, MixInput, SealFinalBody, ShareWire};
use palabre_core::event::*;
use palabre_core::rejection::Rejection;
use palabre_core::secret::cascade;
use palabre_core::tally::{Method, Tally};
use palabre_core::testkit::opening_world::votes_for;
use palabre_core::testkit::opening_world::*;
use palabre_core::testkit::world::*;

fn support_world(n: u8, t: u64) -> Opening {
    let m = Method::Support { threshold: 2 };
    Opening::closed(n, t, m.clone(), 3, true, move |p| votes_for(&m, p))
}

fn code<T: std::fmt::Debug>(expected: &'static str, got: Result<T, Rejection>) -> &'static str {
    match got {
        Err(r) => assert_eq!(r.code(), expected, "expected {expected}, got {r:?}"),
        Ok(v) => panic!("expected {expected}, but it was accepted: {v:?}"),
    }
    expected
}

/// Appends a mix's chunks (which must be admitted) and returns what its proof gets.
fn append_mix(
    o: &mut Opening,
    j: u64,
    mix: (Vec<SignedEvent>, SignedEvent),
) -> Result<u64, Rejection> {
    let town = o.w.town_of_trustee(j);
    for e in mix.0 {
        o.w.append(town, e).expect("chunk admitted");
    }
    o.w.append(town, mix.1)
}

/// Trustee j's shares of every group of the recorded `seal_final`, made without the
/// honest trustee's rule (`cascade::may_decrypt`), with share `x` — what a dishonest
/// node could publish.
fn shares_without_the_rule(o: &Opening, j: u64, x: &palabre_core::dkg::Secret) -> Vec<SignedEvent> {
    shares_of(o, j, x, 0)
}

/// As [`shares_without_the_rule`], each share made for the element `shift` places on,
/// cyclically (a share for another α when `shift` is not 0).
fn shares_of(o: &Opening, j: u64, x: &palabre_core::dkg::Secret, shift: usize) -> Vec<SignedEvent> {
    let id = o.seal_final.expect("sealed");
    let mixes = o.mixes();
    let ctx = cascade::share_context(&o.w.consultation, &id);
    let parts: [&[u8]; 2] = [&ctx[0], &ctx[1]];
    let key = &o.w.towns[o.w.town_of_trustee(j)].key;
    o.final_body()
        .chains
        .iter()
        .enumerate()
        .map(|(g, chain)| {
            let last = chain.last().expect("a chain");
            let outputs = &mixes.valid[last].outputs;
            let mut elements = cascade::elements(outputs);
            let n = elements.len();
            elements.rotate_left(shift % n);
            let shares = elements
                .iter()
                .map(|e| {
                    ShareWire::of_share(&DecryptionShare::create(&parts, &e.alpha, x, &[7; 32]))
                })
                .collect();
            let body = DecryptionBody {
                consultation: o.w.consultation,
                seal_final: id,
                group: g as u64,
                start: 0,
                shares,
            };
            sign(key, DECRYPT_AT, Body::Decryption(body))
        })
        .collect()
}

/// One row per code of the mix and the opening, each a real refusal by core.
pub fn opening_rejection_rows() -> Vec<&'static str> {
    let mut rows = Vec::new();
    let mut o = support_world(3, 2);
    o.mix(1).expect("mix");

    // A second mix of the same group by the same trustee.
    let again = o.mix_events(1, 0, 77);
    let town = o.w.town_of_trustee(1);
    rows.push(code("already_mixed", o.w.append(town, again.0[0].clone())));

    // A proof that does not hold: trustee 2 claims to mix L₀ but shuffles another list
    // (in a world of its own, so that its chunks stay out of this one).
    let s = o.setting();
    let mut probe = support_world(3, 2);
    probe.mix(1).expect("mix");
    let mut fake = palabre_core::secret::setting::initial(&probe.w.ledger, &probe.w.view(), &s)
        .expect("L0")[0]
        .clone();
    fake.swap(0, 1);
    let a = fake[1][0].alpha;
    fake[0][0].beta += a;
    let bad = probe.mix_events_over(2, 0, MixInput::Initial, &fake, 21);
    rows.push(code("bad_shuffle", append_mix(&mut probe, 2, bad)));

    // A proof whose chunks are not in the log.
    let (_, proof) = o.mix_events(2, 0, 22);
    rows.push(code(
        "mix_incomplete",
        o.w.append(o.w.town_of_trustee(2), proof),
    ));

    // A seal_final over one trustee's mixes when t = 2.
    let chains: Vec<Vec<_>> = (0..s.widths().len() as u64)
        .map(|g| vec![cascade::tip(&o.mixes(), g).expect("tip").id])
        .collect();
    let short = SealFinalBody {
        consultation: o.w.consultation,
        chains,
    };
    rows.push(code(
        "chain_too_short",
        o.w.append(0, sign(&o.w.towns[0].key, SEAL_AT, Body::SealFinal(short))),
    ));

    // A seal_final over L₀ itself (empty chains).
    let over_l0 = SealFinalBody {
        consultation: o.w.consultation,
        chains: vec![Vec::new(); s.widths().len()],
    };
    code(
        "chain_too_short",
        o.w.append(
            0,
            sign(&o.w.towns[0].key, SEAL_AT, Body::SealFinal(over_l0)),
        ),
    );

    // Trustee 2 mixes; trustee 3 did not, and an honest node does not decrypt for it.
    o.mix(2).expect("mix");
    o.seal().expect("seal");
    rows.push(code("decryptor_not_mixer", o.decryption_events(3)));

    // Trustee 1 signs trustee 2's shares: they do not hold against its key.
    let forged = shares_without_the_rule(&o, 1, &o.share(2));
    // Trustee 1's own key, but each share made for another element's α.
    let shifted = shares_of(&o, 1, &o.share(1), 1);
    code(
        "bad_decryption_share",
        o.w.append(o.w.town_of_trustee(1), shifted[0].clone()),
    );
    rows.push(code(
        "bad_decryption_share",
        o.w.append(o.w.town_of_trustee(1), forged[0].clone()),
    ));
    rows
}

#[test]
fn the_mix_and_opening_codes_are_refused_by_admission() {
    assert_eq!(opening_rejection_rows().len(), 6);
}

/// The ways a mixer may cheat on its input and still prove a shuffle of something:
/// replace a ciphertext by another's re-encryption of a different value, duplicate one
/// over another, or drop one.
fn tampered(
    input: &[Vec<palabre_core::elgamal::Ciphertext>],
    how: usize,
) -> Vec<Vec<palabre_core::elgamal::Ciphertext>> {
    let mut list = input.to_vec();
    match how {
        0 => {
            let a = list[1][0].alpha;
            list[0][0].beta += a;
        }
        1 => list[0] = list[1].clone(),
        _ => {
            list.pop();
        }
    }
    list
}

#[test]
fn a_planted_bad_mix_is_refused_by_the_audit_and_left_off_the_chain() {
    for how in 0..3 {
        planted_bad_mix(how);
    }
}

fn planted_bad_mix(how: usize) {
    let mut o = support_world(3, 2);
    o.mix(1).expect("mix");
    o.mix(2).expect("mix");
    // Trustee 3 publishes, past admission, a mix whose proof does not hold.
    let tip = cascade::tip(&o.mixes(), 0).expect("tip").clone();
    let fake = tampered(&tip.outputs, how);
    let (chunks, proof) = o.mix_events_over(3, 0, MixInput::Mix(tip.id), &fake, 33);
    let bad = proof.id();
    let town = o.w.town_of_trustee(3);
    for e in chunks {
        o.w.append(town, e).expect("chunk admitted");
    }
    o.plant(town, proof);
    o.seal().expect("seal");
    assert!(!o.final_body().chains.iter().flatten().any(|id| *id == bad));
    o.decrypt(1).expect("decrypt");
    o.decrypt(2).expect("decrypt");
    let body = o.result_body().expect("enough shares");
    o.publish(body).expect("result");
    let report = o.audit();
    assert_eq!(rules(&report), vec!["bad_shuffle"], "tampering {how}");
    assert_eq!(report.failures[0].event, Some(bad));
    assert!(report.tally.is_some(), "the honest chain still opens");
}

#[test]
fn a_planted_short_seal_final_and_bad_shares_are_refused_by_the_audit() {
    let mut o = support_world(3, 2);
    o.run(&[1, 2, 3], &[1, 2]);
    // Past admission: a second seal_final naming one mix per chain, and trustee 3's
    // forged shares (trustee 1's, under its own signature).
    let chains: Vec<Vec<_>> = o.final_body().chains.iter().map(|c| vec![c[0]]).collect();
    let short = SealFinalBody {
        consultation: o.w.consultation,
        chains,
    };
    o.plant(
        0,
        sign(&o.w.towns[0].key, SEAL_AT + 1, Body::SealFinal(short)),
    );
    let forged = shares_without_the_rule(&o, 3, &o.share(1));
    let n_forged = forged.len();
    let town = o.w.town_of_trustee(3);
    for e in forged {
        o.plant(town, e);
    }
    // The organiser's gathering skips only the proofs its admission checked: the planted
    // shares were never admitted, so they are checked, and refused.
    let collected = o.collected();
    assert_eq!(collected.bad.len(), n_forged);
    assert!(!collected.complete.contains_key(&3));
    assert!(collected.complete.contains_key(&1) && collected.complete.contains_key(&2));
    let mut got = rules(&o.audit());
    got.sort();
    let groups = o.final_body().chains.len();
    let mut want = vec!["bad_decryption_share"; groups];
    want.push("chain_too_short");
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn shares_of_a_trustee_who_did_not_mix_are_admitted_but_the_audit_refuses_them() {
    let mut o = support_world(3, 2);
    o.run(&[1, 2], &[1, 2]);
    // Trustee 3's shares hold against its key, so admission takes them; but it did not
    // mix, and decrypting a chain without one's own mix is the fault.
    let town = o.w.town_of_trustee(3);
    for e in shares_without_the_rule(&o, 3, &o.share(3)) {
        o.w.append(town, e).expect("shares hold");
    }
    assert_eq!(rules(&o.audit()), vec!["decryptor_not_mixer"]);
}

#[test]
fn a_result_whose_tally_differs_from_the_opened_plaintexts_is_a_mismatch() {
    let mut o = support_world(3, 2);
    for j in [1, 2] {
        o.mix(j).expect("mix");
    }
    o.seal().expect("seal");
    o.decrypt(1).expect("decrypt");
    o.decrypt(2).expect("decrypt");
    let mut body = o.result_body().expect("enough shares");
    let mut v = serde_json::to_value(&body.tally).expect("json");
    let n = v["n_ballots"].as_u64().expect("n_ballots");
    v["n_ballots"] = serde_json::json!(n + 1);
    body.tally = serde_json::from_value::<Tally>(v).expect("tally");
    // Admission leaves the numbers to the auditor.
    let honest = o.result_body().expect("enough shares").tally;
    o.publish(body).expect("admitted");
    let report = o.audit();
    assert_eq!(rules(&report), vec!["result_mismatch"]);
    assert_eq!(report.tally, Some(honest), "the report shows the recount");
}

#[test]
fn no_mix_is_judged_before_every_log_has_closed() {
    // The same world twice, but town 2 has not closed in the second: L₀ is not fixed.
    let m = Method::Support { threshold: 2 };
    let closed = support_world(3, 2);
    let mut open =
        Opening::closed_except(3, 2, m.clone(), 3, true, move |p| votes_for(&m, p), Some(2));
    let (chunks, proof) = closed.mix_events(1, 0, 10);
    let town = open.w.town_of_trustee(1);
    for e in chunks {
        open.w.append(town, e).expect("a chunk needs no L0");
    }
    assert_eq!(
        open.w.append(town, proof.clone()).err().map(|r| r.code()),
        Some("not_closed")
    );
    // Once the world is closed, the same proof is admitted.
    let mut closed = closed;
    let town = closed.w.town_of_trustee(1);
    let (chunks, _) = closed.mix_events(1, 0, 10);
    for e in chunks {
        closed.w.append(town, e).expect("chunk");
    }
    closed.w.append(town, proof).expect("proof over L0");
}

#[test]
fn chunks_and_seals_by_the_wrong_author_are_refused_by_the_audit() {
    let mut o = support_world(3, 2);
    o.run(&[1, 2], &[1, 2]);
    // Past admission: a mix chunk signed by a resident in trustee 3's log, and a
    // seal_final signed by town 1, in its own log, that is not the organiser.
    let (chunks, _) = o.mix_events(3, 0, 44);
    let Body::Mix(chunk) = chunks[0].body().clone() else {
        panic!("a chunk")
    };
    let town = o.w.town_of_trustee(3);
    let stray = sign(&o.w.towns[2].residents[0], mix_at(3), Body::Mix(chunk));
    o.plant(town, stray);
    let sf = o.final_body();
    o.plant(1, sign(&o.w.towns[1].key, SEAL_AT, Body::SealFinal(sf)));
    let report = o.audit();
    assert_eq!(rules(&report), vec!["wrong_author", "wrong_author"]);
    assert!(
        report.tally.is_some(),
        "the organiser's seal_final still opens"
    );
}
