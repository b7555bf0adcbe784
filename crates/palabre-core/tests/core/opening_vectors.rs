//! `tests/data/v1/secret_opening.json`: the published vectors of the mix and the opening
//! (PROTOCOL.md, "Secret ballots: the mix and the opening") — a whole secret
//! consultation past its close, log by log, and one refused event per code that can be
//! refused against that whole record. Regenerated here and compared byte for byte;
//! written only when missing and `PALABRE_WRITE_NEW_VECTORS` is set.

use palabre_core::admission::Clock;
use palabre_core::event::mix::{DecryptionBody, MixBody};
use palabre_core::event::*;
use palabre_core::record::Record;
use palabre_core::tally::Method;
use palabre_core::testkit::opening_world::votes_for;
use palabre_core::testkit::opening_world::*;
use palabre_core::testkit::world::sign;
use serde_json::{Value, json};

fn entries(o: &Opening) -> Vec<Value> {
    let mut out = Vec::new();
    for t in &o.w.towns {
        let log = o.w.ledger.log(&t.pk()).expect("log");
        for e in log.events() {
            out.push(json!({
                "log": t.pk().to_hex(),
                "id": e.id().to_string(),
                "signed_event": String::from_utf8(e.bytes().to_vec()).expect("utf8"),
            }));
        }
    }
    out
}

#[test]
fn secret_opening_vectors() {
    // Three trustee towns, t = 2, split support over two proposals; trustees 1 and 2 mix
    // and decrypt, trustee 3 is absent.
    let m = Method::Support { threshold: 2 };
    let mut o = Opening::closed(3, 2, m.clone(), 2, true, move |p| votes_for(&m, p));
    o.run(&[1, 2], &[1, 2]);
    let positive = entries(&o);

    let mut negative: Vec<(&str, u64, SignedEvent)> = Vec::new();
    // Trustee 1 again, over the tip.
    let (chunks, _) = o.mix_events(1, 0, 90);
    negative.push(("already_mixed", 1, chunks[0].clone()));
    // Trustee 3: a proof without its chunks, and a chunk of width 2 in split mode.
    let (chunks, proof) = o.mix_events(3, 0, 91);
    negative.push(("mix_incomplete", 3, proof));
    let key = &o.w.towns[o.w.town_of_trustee(3)].key;
    let Body::Mix(mut wide) = chunks[0].body().clone() else {
        panic!("a mix chunk")
    };
    wide.outputs = wide.outputs.iter().map(|o| [o[0], o[0]].to_vec()).collect();
    let wide: MixBody = wide;
    negative.push(("bad_shuffle", 3, sign(key, mix_at(3), Body::Mix(wide))));
    // Trustee 2's shares, signed by trustee 1: they do not hold against Y_1.
    let Body::Decryption(share) =
        o.w.ledger
            .secret_events(&o.w.consultation, Kind::Decryption)
            .into_iter()
            .find(|(log, _)| *log == o.w.towns[o.w.town_of_trustee(2)].pk())
            .expect("trustee 2's shares")
            .1
            .body()
            .clone()
    else {
        panic!("a decryption")
    };
    let share: DecryptionBody = share;
    let key1 = &o.w.towns[o.w.town_of_trustee(1)].key;
    negative.push((
        "bad_decryption_share",
        1,
        sign(key1, DECRYPT_AT + 1, Body::Decryption(share)),
    ));

    let mut rows = Vec::new();
    for (code, j, e) in negative {
        let log = o.w.towns[o.w.town_of_trustee(j)].pk();
        let got =
            palabre_core::admission::admit(&o.w.ledger, &log, &e, Clock::Replay).into_result();
        assert_eq!(got.err().map(|r| r.code()), Some(code), "{code}");
        rows.push(json!({
            "code": code,
            "log": log.to_hex(),
            "signed_event": String::from_utf8(e.bytes().to_vec()).expect("utf8"),
        }));
    }
    let report = o.audit();
    assert_eq!(rules(&report), Vec::<&str>::new());
    let value = json!({
        "description": "The mix and the opening (PROTOCOL.md, 'Secret ballots: the mix and the opening'): `positive` are the entries of each log of a secret consultation (three trustee towns, t = 2, split support over two proposals, seven counted voters) from the authorities' declarations to the result — trustees 1 and 2 mix every group, the organiser seals the chains, trustees 1 and 2 decrypt, the organiser signs the result; trustee 3 is absent — log by log in log order, all admissible when replayed as an audit does (Clock::Replay, references resolving across logs), and the audit of these logs passes with `tally` as the recount. Each `negative` row is refused with its code when appended to its log once all the positives are recorded. `chain_too_short` and `decryptor_not_mixer` have no row: a second seal_final is `already_closed` first, and the second is the honest builder's and the audit's (see tests/core/opening_faults.rs).",
        "tally": report.tally,
        "positive": positive,
        "negative": rows,
    });
    let text = serde_json::to_string_pretty(&value).expect("json") + "\n";
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1/secret_opening.json");
    match std::fs::read_to_string(&path) {
        Ok(on_disk) => assert!(
            on_disk == text,
            "secret_opening.json differs: vectors are never edited"
        ),
        Err(_) if std::env::var_os("PALABRE_WRITE_NEW_VECTORS").is_some() => {
            std::fs::write(&path, text).expect("write");
        }
        Err(e) => {
            panic!("secret_opening.json is missing ({e}); run with PALABRE_WRITE_NEW_VECTORS=1")
        }
    }
}
