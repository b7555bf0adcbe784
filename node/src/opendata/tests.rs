//! Open data of public and secret consultations, rendered from core's test worlds.

use super::*;
use palabre_core::tally::{self, BudgetRule};
use palabre_core::testkit::opening_world::{Opening, RESULT_AT, votes_for};
use palabre_core::testkit::world::VOTE_CLOSE;
use serde_json::Value;

/// After the result: what a reader sees once the opening is over.
const AFTER: u64 = RESULT_AT + 60_000;

/// A secret consultation of `method` opened by trustees 1–3 (t = 2).
fn opened(method: Method, split: bool) -> Opening {
    let m = method.clone();
    let mut o = Opening::closed(3, 2, method, 4, split, move |p| votes_for(&m, p));
    o.run(&[1, 2, 3], &[1, 2, 3]);
    o
}

fn json_of(o: &Opening) -> Value {
    let text = render_at(&o.audit_input(), Format::Json, AFTER).expect("exported");
    serde_json::from_str(&text).expect("json")
}

/// The plaintexts as core opens them from the recorded shares, in the tip's order.
fn tip_order(o: &Opening) -> OpenedChoices {
    let collected = o.collected();
    let s = o.setting();
    let decryptors = collected.decryptors(s.secrecy.threshold).expect("enough");
    let params = s.secrecy.params().expect("params");
    let groups = collected.plaintexts(params, &decryptors).expect("opens");
    let (_, counted) = o.w.ledger.count(&o.w.consultation).expect("count");
    palabre_core::secret::result::opened_choices(
        &o.w.view().body.method,
        s.secrecy.split,
        &o.w.layout_body().columns,
        &counted.candidates,
        &groups,
    )
}

fn candidates(o: &Opening) -> Vec<tally::Candidate> {
    o.w.ledger
        .count(&o.w.consultation)
        .expect("count")
        .1
        .candidates
}

fn approvals(c: &Choice) -> Vec<String> {
    match c {
        Choice::Approve(ids) => ids.iter().map(EventId::to_string).collect(),
        other => panic!("not an approve list: {other:?}"),
    }
}

/// Row mode: the json's tally is the audit's recount (which equals the tally of the
/// choices cast and the signed result), and its `ballots` are the opened rows in the
/// final mix's order: the same multiset as the choices cast.
#[test]
fn a_secret_approval_exports_its_opened_ballots_in_final_mix_order() {
    let method = Method::Approval { max_choices: 2 };
    let o = opened(method.clone(), false);
    let doc = json_of(&o);
    let cast: Vec<&Choice> = o.choices.iter().map(|(_, _, c)| c).collect();
    let expected = tally::tally(&method, &candidates(&o), cast.iter().copied());
    assert_eq!(doc["tally"], serde_json::to_value(&expected).expect("json"));
    assert_eq!(
        doc["tally"],
        serde_json::to_value(o.audit().tally).expect("json")
    );
    assert_eq!(doc["result"], json!(o.audit().result.expect("a result")));
    assert_eq!(doc["order"], json!("final_mix"));
    assert_eq!(doc["layout"], json!("row"));
    assert_eq!(doc["n_invalid"], json!(0));
    assert_eq!(doc["participation"]["n_voters_counted"], json!(7));
    assert!(doc.get("columns").is_none());
    // The tip's order, exactly.
    let OpenedChoices::Rows(rows) = tip_order(&o) else {
        panic!("row mode");
    };
    let in_order: Vec<Value> = rows
        .iter()
        .map(|r| json!(approvals(r.as_ref().expect("valid"))))
        .collect();
    assert_eq!(doc["ballots"], json!(in_order));
    // The multiset of the choices cast.
    let mut published: Vec<Vec<String>> = doc["ballots"]
        .as_array()
        .expect("ballots")
        .iter()
        .map(|b| serde_json::from_value(b.clone()).expect("ids"))
        .collect();
    let mut choices: Vec<Vec<String>> = cast.iter().map(|c| approvals(c)).collect();
    published.sort();
    choices.sort();
    assert_eq!(published, choices);
    // The csv has the per-proposal figures of the same tally.
    let csv = render_at(&o.audit_input(), Format::Csv, AFTER).expect("csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("proposal_id,title,approvals"));
    let Tally::Approval { rows, .. } = &expected else {
        panic!("an approval tally");
    };
    for (line, row) in lines.zip(rows) {
        assert_eq!(
            line.rsplit(',').next(),
            Some(row.approvals.to_string().as_str())
        );
    }
    // Not a budget: no pabulib file.
    assert!(render_at(&o.audit_input(), Format::Pb, AFTER).is_err());
}

/// A secret budget's pabulib file lists the opened rows in the final mix's order;
/// `palabre tally --method budget` reads it back to the same winners and spending.
#[test]
fn a_secret_budget_pabulib_file_reads_back_to_the_same_winners() {
    let method = Method::Budget {
        budget: 600,
        rule: BudgetRule::EqualShares,
    };
    let o = opened(method.clone(), false);
    let doc = json_of(&o);
    let cast: Vec<&Choice> = o.choices.iter().map(|(_, _, c)| c).collect();
    let expected = tally::tally(&method, &candidates(&o), cast.iter().copied());
    assert_eq!(doc["tally"], serde_json::to_value(&expected).expect("json"));
    let pb = render_at(&o.audit_input(), Format::Pb, AFTER).expect("pb");
    let instance = palabre_core::pabulib::parse(&pb).expect("a pabulib file");
    let OpenedChoices::Rows(rows) = tip_order(&o) else {
        panic!("row mode");
    };
    let in_order: Vec<Vec<String>> = rows.iter().flatten().map(approvals).collect();
    let mut listed: Vec<Vec<String>> = instance
        .votes
        .iter()
        .map(|v| {
            let mut v = v.clone();
            v.sort();
            v
        })
        .collect();
    let mut sorted_in_order: Vec<Vec<String>> = in_order
        .iter()
        .map(|v| {
            let mut v = v.clone();
            v.sort();
            v
        })
        .collect();
    assert_eq!(
        listed, sorted_in_order,
        "the votes in the final mix's order"
    );
    let mut choices: Vec<Vec<String>> = cast
        .iter()
        .map(|c| {
            let mut v = approvals(c);
            v.sort();
            v
        })
        .collect();
    listed.sort();
    sorted_in_order.sort();
    choices.sort();
    assert_eq!(listed, choices);
    let recount = crate::recount::recomputed(
        &pb,
        &crate::recount::Options {
            method: crate::recount::MethodName::Budget,
            rule: crate::recount::RuleName::EqualShares,
            threshold: 1,
            max_choices: 1,
            grades: Vec::new(),
        },
        None,
    )
    .expect("palabre tally reads it");
    let names = |v: &Value, names: Option<&Value>| -> Vec<String> {
        let mut out: Vec<String> = v
            .as_array()
            .expect("winners")
            .iter()
            .map(|w| {
                let id = w.as_str().expect("id");
                names
                    .map_or(id, |n| n[id].as_str().expect("name"))
                    .to_owned()
            })
            .collect();
        out.sort();
        out
    };
    let winners = names(&doc["tally"]["winners"], None);
    assert!(!winners.is_empty());
    assert_eq!(
        names(&recount["tally"]["winners"], Some(&recount["proposals"])),
        winners
    );
    assert_eq!(recount["tally"]["spent"], doc["tally"]["spent"]);
}

/// Split mode: each column was shuffled on its own, so the json lists each
/// proposal's values (no `ballots`) in the final mix's order, each the same multiset
/// as the values cast, for every method that splits.
#[test]
fn a_split_consultation_exports_each_column_apart() {
    let grades = vec!["Rejeter".into(), "Passable".into(), "Bien".into()];
    let methods = [
        (Method::YesNoAbstain {}, "yes,no,abstain,adopted"),
        (
            Method::MajorityJudgment { grades },
            "Rejeter,Passable,Bien,median_grade",
        ),
        (Method::Support { threshold: 2 }, "supports,qualified"),
    ];
    for (method, header) in methods {
        let o = opened(method.clone(), true);
        let doc = json_of(&o);
        let cast: Vec<&Choice> = o.choices.iter().map(|(_, _, c)| c).collect();
        let expected = tally::tally(&method, &candidates(&o), cast.iter().copied());
        assert_eq!(doc["tally"], serde_json::to_value(&expected).expect("json"));
        assert_eq!(doc["order"], json!("final_mix"));
        assert_eq!(doc["layout"], json!("split"));
        assert_eq!(doc["n_invalid"], json!(0));
        assert!(doc.get("ballots").is_none());
        let columns = doc["columns"].as_array().expect("columns");
        assert_eq!(columns.len(), 4);
        let OpenedChoices::Columns(tip) = tip_order(&o) else {
            panic!("split mode");
        };
        for (column, (id, in_order)) in columns.iter().zip(&tip) {
            assert_eq!(column["proposal"], json!(id));
            assert_eq!(column["n_invalid"], json!(0));
            // Each value as the documented JSON: what the voter gave this proposal.
            let value = |c: &Choice| match c {
                Choice::Answers(a) => json!(match a.get(id) {
                    Some(Answer::Yes) => "yes",
                    Some(Answer::No) => "no",
                    Some(Answer::Abstain) => "abstain",
                    None => "none",
                }),
                Choice::Grades(g) => json!(g.get(id).copied().unwrap_or(0)),
                Choice::Approve(ids) => json!(u8::from(ids.contains(id))),
            };
            let values = column["values"].as_array().expect("values").clone();
            let tip_values: Vec<Value> = in_order
                .iter()
                .map(|c| value(c.as_ref().expect("valid")))
                .collect();
            assert_eq!(values, tip_values, "{method:?}: in the final mix's order");
            let sorted = |mut v: Vec<Value>| {
                v.sort_by_key(Value::to_string);
                v
            };
            let cast_values: Vec<Value> = cast.iter().map(|c| value(c)).collect();
            assert_eq!(sorted(values), sorted(cast_values), "{method:?}");
        }
        let csv = render_at(&o.audit_input(), Format::Csv, AFTER).expect("csv");
        assert!(
            csv.starts_with(&format!("proposal_id,title,{header}\n")),
            "{csv}"
        );
        assert_eq!(csv.lines().count(), 5);
        assert!(render_at(&o.audit_input(), Format::Pb, AFTER).is_err());
    }
}

/// Before the result, nothing is exported: the vote open hides the results, and
/// once closed the ballots stay sealed while the trustees mix and decrypt.
#[test]
fn a_sealed_consultation_is_not_exported() {
    let method = Method::Approval { max_choices: 2 };
    let m = method.clone();
    let mut o = Opening::closed(3, 2, method, 4, false, move |p| votes_for(&m, p));
    let refused = |o: &Opening, now: u64| {
        render_at(&o.audit_input(), Format::Json, now)
            .expect_err("refused")
            .downcast::<Unpublished>()
            .expect("typed")
    };
    assert_eq!(refused(&o, VOTE_CLOSE - 1), Unpublished::Hidden);
    assert!(matches!(refused(&o, AFTER), Unpublished::Sealed { .. }));
    for j in [1, 2, 3] {
        o.mix(j).expect("mix");
    }
    o.seal().expect("seal_final");
    o.decrypt(1).expect("shares");
    let Unpublished::Sealed { waiting } = refused(&o, AFTER) else {
        panic!("sealed");
    };
    assert!(
        waiting.expect("the audit's note").contains("1 more"),
        "one more trustee"
    );
    for format in [Format::Csv, Format::Pb] {
        assert!(render_at(&o.audit_input(), format, AFTER).is_err());
    }
}
