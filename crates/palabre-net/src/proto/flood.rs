//! Flooding: cosignatures and proofs of equivocation go to every peer, point to point
//! and on gossip, once each (a bounded memory of what was seen stops the flood), and the
//! ones that must not be lost (closing heads' cosignatures, evidence) are sent again to
//! every peer that connects. Checking what arrives is `check`'s and core's.

use palabre_core::head::{Cosignature, Equivocation};
use palabre_core::ids::Hash;

use super::{MAX_SEEN, MAX_STICKY, Node, Output, PeerId, Wire};

impl Node {
    /// Whether this is the first time `wire` is seen (remembering it).
    pub(super) fn first_sight(&mut self, wire: &Wire) -> bool {
        let Ok(json) = serde_json::to_vec(wire) else {
            return false;
        };
        let h = Hash::of(&json);
        if !self.seen_set.insert(h) {
            return false;
        }
        self.seen.push_back(h);
        if self.seen.len() > MAX_SEEN
            && let Some(old) = self.seen.pop_front()
        {
            self.seen_set.remove(&old);
        }
        true
    }

    /// Sends `wire` to every peer but `except`, point to point.
    pub(super) fn send_all(&self, wire: &Wire, except: Option<PeerId>, out: &mut Vec<Output>) {
        for p in &self.peers {
            if Some(*p) != except {
                out.push(Output::Send {
                    to: *p,
                    wire: wire.clone(),
                });
            }
        }
    }

    /// Sends `wire` to every peer but `except`, point to point, and publishes it.
    pub(super) fn flood(&self, wire: &Wire, except: Option<PeerId>, out: &mut Vec<Output>) {
        self.send_all(wire, except, out);
        out.push(Output::Publish(wire.clone()));
    }

    /// Publishes an equivocation found here (once).
    pub(super) fn found(&mut self, evidence: Equivocation, out: &mut Vec<Output>) {
        let wire = Wire::Evidence {
            evidence: evidence.clone(),
        };
        if self.first_sight(&wire) {
            self.flood(&wire, None, out);
            self.sticky_push(wire);
            out.push(Output::Evidence(evidence));
        }
    }

    pub(super) fn sticky_push(&mut self, wire: Wire) {
        self.sticky.push_back(wire);
        if self.sticky.len() > MAX_STICKY {
            self.sticky.pop_front();
        }
    }

    /// A witness's cosignature from a peer: checked, then passed on once.
    pub(super) fn on_cosignature(
        &mut self,
        from: PeerId,
        cosignature: Cosignature,
        out: &mut Vec<Output>,
    ) {
        let c = &cosignature.cosigned;
        if !self.federation.contains(&c.head.authority) || !self.federation.contains(&c.witness) {
            return;
        }
        if cosignature.verify().is_err() {
            out.push(Output::Penalise {
                peer: from,
                reason: "a cosignature that does not verify",
            });
            return;
        }
        let wire = Wire::Cosignature { cosignature };
        if self.first_sight(&wire) {
            self.flood(&wire, Some(from), out);
            out.push(Output::Cosignature(cosignature));
        }
    }

    /// A proof of equivocation from a peer: checked, then passed on once, and kept for
    /// every peer that connects.
    pub(super) fn on_evidence(
        &mut self,
        from: PeerId,
        evidence: Equivocation,
        out: &mut Vec<Output>,
    ) {
        if !self.federation.contains(&evidence.authority()) {
            return;
        }
        if evidence.check().is_err() {
            out.push(Output::Penalise {
                peer: from,
                reason: "evidence that proves nothing",
            });
            return;
        }
        let wire = Wire::Evidence {
            evidence: evidence.clone(),
        };
        if self.first_sight(&wire) {
            self.flood(&wire, Some(from), out);
            self.sticky_push(wire);
            out.push(Output::Evidence(evidence));
        }
    }
}
