//! Quotas through the store (issue 19, point 3): the count of each author's proposals
//! and arguments is an index written in the same commit as the entry, read by core's
//! admission, seen by later items of the same batch and kept across a reopen.

use palabre_core::limits::DEFAULT_MAX_PROPOSALS_PER_AUTHOR;
use palabre_store::{MemoryStorage, SledStorage, Storage, StoreConfig};

use crate::{T0, item, live, proposal, reopen, seed};

/// Resident 0 already wrote one proposal in `seed`; a batch of the rest of the default
/// quota and one more: the last is refused, and nothing of it is written.
fn fills_the_quota<S: Storage>(s: &S) {
    let (cid, _) = seed(s, 2);
    let n = DEFAULT_MAX_PROPOSALS_PER_AUTHOR as usize;
    let items = (1..=n)
        .map(|i| item(proposal(cid, 0, &format!("Proposition {i}"))))
        .collect();
    let out = s
        .commit(items, live(T0 + 1), &crate::signer())
        .expect("commit");
    let codes: Vec<&str> = out
        .results
        .iter()
        .map(|r| r.as_ref().map_or_else(|e| e.code(), |_| "ok"))
        .collect();
    let mut expected = vec!["ok"; n - 1];
    expected.push("quota_reached");
    assert_eq!(codes, expected);
    // Resident 1 still has theirs.
    let out = s
        .commit(
            vec![item(proposal(cid, 1, "Une autre"))],
            live(T0 + 1),
            &crate::signer(),
        )
        .expect("commit");
    assert!(out.results[0].is_ok());
}

#[test]
fn memory_store_applies_quotas() {
    fills_the_quota(&MemoryStorage::new());
}

#[test]
fn sled_store_applies_quotas_and_keeps_counts_across_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cid = {
        let s = SledStorage::open(dir.path(), StoreConfig::default()).expect("open");
        fills_the_quota(&s);
        s.consultations().expect("list")[0].id
    };
    let s = reopen(dir.path());
    let out = s
        .commit(
            vec![item(proposal(cid, 0, "Encore une"))],
            live(T0 + 1),
            &crate::signer(),
        )
        .expect("commit");
    assert_eq!(
        out.results[0].as_ref().map_err(|e| e.code()).err(),
        Some("quota_reached")
    );
}

/// A store written before quotas existed has no counts: opened, it counts its logs once
/// (tombstones included), and then refuses as a store that always counted.
#[test]
fn a_store_from_before_quotas_is_counted_when_opened() {
    use palabre_core::event::Kind;
    use palabre_core::record::Record;

    let dir = tempfile::tempdir().expect("temp dir");
    let (cid, town, counted) = {
        let s = SledStorage::open(dir.path(), StoreConfig::default()).expect("open");
        fills_the_quota(&s);
        let cid = s.consultations().expect("list")[0].id;
        let town = crate::town().public_key();
        let author = crate::resident(0).public_key();
        (
            cid,
            town,
            s.n_authored(&town, &cid, Kind::Proposal, &author),
        )
    };
    assert_eq!(counted, DEFAULT_MAX_PROPOSALS_PER_AUTHOR);
    {
        // What an older version left on disk: the same trees, no counts.
        let db = sled::open(dir.path()).expect("raw open");
        let tree = db
            .open_tree("logconsultationkindauthor_count")
            .expect("tree");
        tree.clear().expect("clear");
        db.flush().expect("flush");
    }
    let s = reopen(dir.path());
    let author = crate::resident(0).public_key();
    assert_eq!(
        s.n_authored(&town, &cid, Kind::Proposal, &author),
        DEFAULT_MAX_PROPOSALS_PER_AUTHOR
    );
    let out = s
        .commit(
            vec![item(proposal(cid, 0, "Encore une"))],
            live(T0 + 1),
            &crate::signer(),
        )
        .expect("commit");
    assert_eq!(
        out.results[0].as_ref().map_err(|e| e.code()).err(),
        Some("quota_reached")
    );
}
