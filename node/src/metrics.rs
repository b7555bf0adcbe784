//! The node's own counters for `/metrics` (Prometheus text): what the federation did
//! and which staff actions were done since the node started.
//!
//! The counters are bumped where things happen (the federation bridge, the staff
//! pages); serving `/metrics` and the store's own figures are left to the web crate and
//! `backend.rs`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the federation did, for `/metrics` and the tests.
#[derive(Debug, Default)]
pub struct FederationStats {
    pub replicated_entries: AtomicU64,
    pub cosignatures_made: AtomicU64,
    pub cosignatures_received: AtomicU64,
    pub evidence: AtomicU64,
    pub penalties: AtomicU64,
    /// Entries received from peers, wanted or not (copied from the network's counter).
    pub sync_entries_received: AtomicU64,
}

impl FederationStats {
    pub fn metrics(&self) -> String {
        let rows = [
            (
                "palabre_replicated_entries_total",
                "Entries of other towns' logs appended to replicas.",
                &self.replicated_entries,
            ),
            (
                "palabre_cosignatures_made_total",
                "Heads of other towns cosigned by this node.",
                &self.cosignatures_made,
            ),
            (
                "palabre_cosignatures_received_total",
                "Witness cosignatures received from peers and kept.",
                &self.cosignatures_received,
            ),
            (
                "palabre_evidence_total",
                "Proofs of equivocation found or received, and kept.",
                &self.evidence,
            ),
            (
                "palabre_peer_penalties_total",
                "Invalid messages from peers (each lowers the peer's score).",
                &self.penalties,
            ),
            (
                "palabre_sync_entries_received_total",
                "Entries received from peers in sync answers, duplicates included.",
                &self.sync_entries_received,
            ),
        ];
        let mut out = String::new();
        for (name, help, value) in rows {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                value.load(Ordering::Relaxed)
            ));
        }
        out
    }
}

/// Staff actions done since the node started, by action.
#[derive(Debug, Default)]
pub struct StaffActions(Mutex<BTreeMap<&'static str, u64>>);

impl StaffActions {
    /// Counts one `action`.
    pub fn count(&self, action: &'static str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(action)
            .or_default() += 1;
    }

    /// Prometheus lines.
    pub fn metrics(&self) -> String {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::from(
            "# HELP palabre_staff_actions_total Staff actions (logins, appointments, publications, letters, moderation, desk) since start.\n# TYPE palabre_staff_actions_total counter\n",
        );
        for (action, n) in map.iter() {
            out.push_str(&format!(
                "palabre_staff_actions_total{{action=\"{action}\"}} {n}\n"
            ));
        }
        out
    }
}
