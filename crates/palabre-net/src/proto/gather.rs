//! Gathering back what the neighbours witnessed, for a node that lost its store
//! (`Input::Gather`): page by page, every cosignature and proof of equivocation each
//! federated peer keeps of the federated logs, each checked, the next page asked only
//! once the node kept the last. Also the other side: a peer's request for what the
//! store keeps goes out to the node (`Output::Lookup`). Reading and keeping the pages is
//! the node's (its store); the state machine holds none of them.

use std::collections::VecDeque;

use palabre_core::crypto::PublicKey;
use palabre_core::head::{Cosignature, Equivocation};

use super::{
    CosignatureKey, KEEP_TIMEOUT_MS, MAX_GATHER_RETRIES, MAX_PAGE_COSIGNATURES, MAX_PAGE_EVIDENCE,
    Node, Output, PeerId, REQUEST_TIMEOUT_MS, Want, Wire,
};

/// One request of a gathering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ask {
    Cosignatures(PublicKey, Option<CosignatureKey>),
    Evidence(PublicKey, u64),
}

impl Ask {
    pub(super) fn wire(self) -> Wire {
        match self {
            Ask::Cosignatures(authority, after) => Wire::GetCosignatures { authority, after },
            Ask::Evidence(authority, skip) => Wire::GetEvidence { authority, skip },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// `ask` is out, unanswered; `retries` times asked again already.
    Asked {
        deadline_ms: u64,
        retries: u32,
    },
    /// `ask`'s answer is with the node; `next` follows once it is kept.
    Keeping {
        next: Option<Ask>,
        deadline_ms: u64,
    },
    Done,
    /// The peer sent something invalid, or never answered.
    Failed,
}

/// What is gathered from one peer: the request out, and those that follow.
#[derive(Debug, Clone)]
pub(super) struct Gathering {
    pub(super) ask: Ask,
    pub(super) queue: VecDeque<Ask>,
    pub(super) stage: Stage,
}

/// How far the gathering is, over the federated peers that proved who they speak for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GatherProgress {
    /// Peers still being asked.
    pub asking: usize,
    /// Peers that gave everything they keep, all of it kept by the node.
    pub done: usize,
    /// Peers given up on (invalid answers, or none).
    pub failed: usize,
}

impl Node {
    /// How far the gathering of what peers witnessed is.
    pub fn gathering(&self) -> GatherProgress {
        let mut p = GatherProgress::default();
        for g in self.gathered.values() {
            match g.stage {
                Stage::Done => p.done += 1,
                Stage::Failed => p.failed += 1,
                Stage::Asked { .. } | Stage::Keeping { .. } => p.asking += 1,
            }
        }
        p
    }

    /// Passes a federated peer's request for what the store keeps to the node.
    pub(super) fn lookup(&self, from: PeerId, want: Want, out: &mut Vec<Output>) {
        let authority = match want {
            Want::Cosignatures { authority, .. } | Want::Evidence { authority, .. } => authority,
        };
        let federated_peer = self
            .speaks_for
            .get(&from)
            .is_some_and(|a| self.federation.contains(a));
        if federated_peer && self.federation.contains(&authority) {
            out.push(Output::Lookup { peer: from, want });
        }
    }

    /// Starts gathering from `peer`, if it speaks for a town of the federation and was
    /// not asked yet: the cosignatures of every federated log, then the evidence.
    pub(super) fn start_gathering(&mut self, peer: PeerId, out: &mut Vec<Output>) {
        let speaks = self.speaks_for.get(&peer);
        if !self.peers.contains(&peer)
            || !speaks.is_some_and(|a| self.federation.contains(a))
            || self.gathered.contains_key(&peer)
        {
            return;
        }
        let mut queue: VecDeque<Ask> = self
            .federation
            .iter()
            .map(|a| Ask::Cosignatures(*a, None))
            .chain(self.federation.iter().map(|a| Ask::Evidence(*a, 0)))
            .collect();
        let Some(ask) = queue.pop_front() else {
            return;
        };
        let g = self.gathered.entry(peer).or_insert(Gathering {
            ask,
            queue,
            stage: Stage::Done,
        });
        Self::gather_next(peer, g, Some(ask), self.now_ms, out);
    }

    /// Asks `next` of `peer`, or, with nothing left, marks it done.
    pub(super) fn gather_next(
        peer: PeerId,
        g: &mut Gathering,
        next: Option<Ask>,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) {
        match next.or_else(|| g.queue.pop_front()) {
            Some(ask) => {
                g.ask = ask;
                g.stage = Stage::Asked {
                    deadline_ms: now_ms + REQUEST_TIMEOUT_MS,
                    retries: 0,
                };
                out.push(Output::Send {
                    to: peer,
                    wire: ask.wire(),
                });
            }
            None => g.stage = Stage::Done,
        }
    }

    /// Asks again what went unanswered, or was never kept; gives up on a peer that does
    /// not answer.
    pub(super) fn gather_tick(&mut self, out: &mut Vec<Output>) {
        let now = self.now_ms;
        for (peer, g) in self.gathered.iter_mut() {
            let retries = match g.stage {
                Stage::Asked {
                    deadline_ms,
                    retries,
                } if deadline_ms <= now => retries + 1,
                // The page never reached the store (the node was too busy): again.
                Stage::Keeping { deadline_ms, .. } if deadline_ms <= now => 0,
                _ => continue,
            };
            if retries > MAX_GATHER_RETRIES {
                g.stage = Stage::Failed;
                continue;
            }
            g.stage = Stage::Asked {
                deadline_ms: now + REQUEST_TIMEOUT_MS,
                retries,
            };
            out.push(Output::Send {
                to: *peer,
                wire: g.ask.wire(),
            });
        }
    }

    /// The gathering of `from` waiting for exactly this answer, if any.
    pub(super) fn awaiting(&mut self, from: PeerId, ask: Ask) -> Option<&mut Gathering> {
        self.gathered
            .get_mut(&from)
            .filter(|g| g.ask == ask && matches!(g.stage, Stage::Asked { .. }))
    }

    /// Gives up on gathering from `from`, and blames it.
    pub(super) fn gather_refuse(
        &mut self,
        from: PeerId,
        reason: &'static str,
        out: &mut Vec<Output>,
    ) {
        if let Some(g) = self.gathered.get_mut(&from) {
            g.stage = Stage::Failed;
        }
        out.push(Output::Penalise { peer: from, reason });
    }

    /// A page of cosignatures asked while gathering: each of the log asked about, by a
    /// federated witness, verifying, in order after `after`.
    pub(super) fn on_cosignatures(
        &mut self,
        from: PeerId,
        authority: PublicKey,
        after: Option<CosignatureKey>,
        cosignatures: Vec<Cosignature>,
        complete: bool,
        out: &mut Vec<Output>,
    ) {
        if self
            .awaiting(from, Ask::Cosignatures(authority, after))
            .is_none()
        {
            return; // not asked, a duplicate, or too late
        }
        let mut last = after.map(|k| k.order());
        let mut valid =
            cosignatures.len() <= MAX_PAGE_COSIGNATURES && (complete || !cosignatures.is_empty());
        for c in &cosignatures {
            let order = CosignatureKey::of(c).order();
            valid = valid
                && c.cosigned.head.authority == authority
                && self.federation.contains(&c.cosigned.witness)
                && last.is_none_or(|l| l < order)
                && c.verify().is_ok();
            last = Some(order);
        }
        if !valid {
            self.gather_refuse(from, "a page of cosignatures that does not hold", out);
            return;
        }
        for c in &cosignatures {
            self.first_sight(&Wire::Cosignature { cosignature: *c });
        }
        let next = match cosignatures.last() {
            Some(c) if !complete => Some(Ask::Cosignatures(authority, Some(CosignatureKey::of(c)))),
            _ => None,
        };
        self.gathered_page(from, next, cosignatures, Vec::new(), out);
    }

    /// A page of evidence asked while gathering: each against the authority asked about,
    /// and proving what it claims.
    pub(super) fn on_evidence_list(
        &mut self,
        from: PeerId,
        authority: PublicKey,
        skip: u64,
        evidence: Vec<Equivocation>,
        complete: bool,
        out: &mut Vec<Output>,
    ) {
        if self
            .awaiting(from, Ask::Evidence(authority, skip))
            .is_none()
        {
            return;
        }
        let valid = evidence.len() <= MAX_PAGE_EVIDENCE
            && (complete || !evidence.is_empty())
            && evidence
                .iter()
                .all(|e| e.authority() == authority && e.check().is_ok());
        if !valid {
            self.gather_refuse(from, "a page of evidence that does not hold", out);
            return;
        }
        for e in &evidence {
            let wire = Wire::Evidence {
                evidence: e.clone(),
            };
            // Sent again to every peer that connects, as any evidence this node holds.
            if self.first_sight(&wire) {
                self.sticky_push(wire);
            }
        }
        let next = (!complete).then(|| Ask::Evidence(authority, skip + evidence.len() as u64));
        self.gathered_page(from, next, Vec::new(), evidence, out);
    }

    /// Hands a checked page to the node, or, if it is empty, goes on at once.
    pub(super) fn gathered_page(
        &mut self,
        from: PeerId,
        next: Option<Ask>,
        cosignatures: Vec<Cosignature>,
        evidence: Vec<Equivocation>,
        out: &mut Vec<Output>,
    ) {
        let now = self.now_ms;
        let Some(g) = self.gathered.get_mut(&from) else {
            return;
        };
        if cosignatures.is_empty() && evidence.is_empty() {
            Self::gather_next(from, g, next, now, out);
            return;
        }
        g.stage = Stage::Keeping {
            next,
            deadline_ms: now + KEEP_TIMEOUT_MS,
        };
        out.push(Output::Gathered {
            peer: from,
            cosignatures,
            evidence,
        });
    }
}
