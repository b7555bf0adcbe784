//! The tallies of the counts the store keeps, worked out once per count.
//!
//! The store hands out each count as an `Arc` and hands out the same one until a log
//! grows (`palabre-store`'s count cache). A tally or a participation is worked out from
//! a count over every counted ballot, so a page or an answer that shows one takes it
//! from here: worked out on the first request after a change, then reused.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use palabre_core::counting::{Counted, Participation};
use palabre_core::tally::Tally;
use palabre_core::view::ConsultationView;

/// How many counts keep their tallies at once (the least recently used goes).
const HELD: usize = 8;

#[derive(Debug, Default)]
struct Derived {
    tally: OnceLock<Arc<Tally>>,
    participation: OnceLock<Arc<Participation>>,
}

/// Tallies and participations, per count.
#[derive(Debug, Default)]
pub struct Tallies {
    /// A `Weak` keeps its count's allocation, so no later count can share its address.
    held: Mutex<Vec<(Weak<Counted>, Arc<Derived>)>>,
}

impl Tallies {
    fn of(&self, counted: &Arc<Counted>) -> Arc<Derived> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let key = Arc::downgrade(counted);
        let derived = match held.iter().position(|(w, _)| Weak::ptr_eq(w, &key)) {
            Some(i) => held.remove(i).1,
            None => Arc::default(),
        };
        held.insert(0, (key, derived.clone()));
        held.truncate(HELD);
        derived
    }

    /// `counted`'s tally, under `view`'s method (the consultation counted).
    pub fn tally(&self, view: &ConsultationView, counted: &Arc<Counted>) -> Arc<Tally> {
        self.of(counted)
            .tally
            .get_or_init(|| Arc::new(counted.tally(view)))
            .clone()
    }

    /// `counted`'s participation (a secret consultation's counted sealed ballots).
    pub fn participation(&self, counted: &Arc<Counted>) -> Arc<Participation> {
        self.of(counted)
            .participation
            .get_or_init(|| Arc::new(counted.participation()))
            .clone()
    }

    /// What may be published of `counted` at `now_ms` (core's `published`).
    pub fn published(
        &self,
        view: &ConsultationView,
        counted: &Arc<Counted>,
        now_ms: u64,
    ) -> Option<palabre_core::counting::Published> {
        palabre_core::counting::published_with(
            view,
            counted,
            now_ms,
            || (*self.tally(view, counted)).clone(),
            || (*self.participation(counted)).clone(),
        )
    }
}
