//! Range sync, the heart of replication: a head larger than the replica is a target;
//! its holders are asked for the missing entries page by page; every entry is checked
//! (decoding and signature, by core); a page is kept only once the entries hash to a
//! signed root (or a consistency proof ties a long prefix to the target). A head that
//! contradicts what is held is an equivocation, proven here. Serving pages and proofs
//! to federated peers is here too.

use std::collections::BTreeSet;

use palabre_core::crypto::PublicKey;
use palabre_core::head::{Equivocation, PrefixProof, SignedTreeHead};
use palabre_core::ids::Hash;
use palabre_core::merkle;
use palabre_core::purge;

use super::{
    Logs, MAX_PAGE_BYTES, MAX_PENDING_ENTRIES, MAX_SYNC_PAGE_ENTRIES, MAX_WAYPOINTS, Node, Output,
    PeerId, REQUEST_TIMEOUT_MS, Replica, Wire,
};

impl Node {
    pub(super) fn announce_to(&self, peer: PeerId, out: &mut Vec<Output>) {
        for r in self.logs.values() {
            if let Some(h) = r.head
                && h.head.size <= r.size()
            {
                out.push(Output::Send {
                    to: peer,
                    wire: Wire::Head { head: h },
                });
            }
        }
    }

    /// A head announced by `from` itself (`direct`), or relayed by it on gossip — then
    /// `from` may not hold the entries, and is not asked for them.
    pub(super) fn on_head(
        &mut self,
        from: PeerId,
        h: SignedTreeHead,
        direct: bool,
        out: &mut Vec<Output>,
    ) {
        let authority = h.head.authority;
        if !self.federation.contains(&authority) {
            return; // not ours to replicate; says nothing bad of the peer
        }
        if h.verify().is_err() {
            out.push(Output::Penalise {
                peer: from,
                reason: "a head that is not validly signed",
            });
            return;
        }
        let r = self.logs.entry(authority).or_default();
        // What we hold contradicts it?
        if h.head.size <= r.size() {
            let ours = r.root_at(&*self.logs_read.0, &authority, h.head.size);
            if ours.is_none() {
                return; // not readable now: judged when announced again
            }
            if ours != Some(h.head.root) {
                if let Some(evidence) = Self::contradiction(r, &*self.logs_read.0, h) {
                    self.found(evidence, out);
                }
                return;
            }
            if r.head.is_none_or(|k| k.head.size < h.head.size) {
                r.head = Some(h);
            }
            return;
        }
        if let Some(known) = r.head
            && known.head.size == h.head.size
            && known.head.root != h.head.root
        {
            self.found(
                Equivocation {
                    first: known,
                    second: h,
                    prefix: None,
                },
                out,
            );
            return;
        }
        match r.waypoints.get(&h.head.size) {
            Some(w) if w.head.root != h.head.root => {
                let first = *w;
                self.found(
                    Equivocation {
                        first,
                        second: h,
                        prefix: None,
                    },
                    out,
                );
                return;
            }
            Some(_) => {}
            None => {
                r.waypoints.insert(h.head.size, h);
                if r.waypoints.len() > MAX_WAYPOINTS {
                    r.waypoints.pop_first();
                }
            }
        }
        match r.target {
            Some((t, _)) if t.head.size > h.head.size => {}
            Some((t, _)) if t.head.size == h.head.size => {
                if t.head.root == h.head.root {
                    if direct {
                        r.holders.insert(from);
                    }
                } else {
                    self.found(
                        Equivocation {
                            first: t,
                            second: h,
                            prefix: None,
                        },
                        out,
                    );
                    return;
                }
            }
            _ => {
                r.target = Some((h, from));
                // Those who held the last target are asked on until they announce
                // this one too: they hold at least that much.
                if direct {
                    r.holders = BTreeSet::from([from]);
                }
            }
        }
        Self::ask(authority, r, self.now_ms, self.max_unstored, out);
    }

    /// The proof that `h` (no larger than what `r` holds, with another root) contradicts
    /// the signed head `r`'s entries match.
    pub(super) fn contradiction(
        r: &Replica,
        logs: &dyn Logs,
        h: SignedTreeHead,
    ) -> Option<Equivocation> {
        let log = h.head.authority;
        let first = r.head.filter(|k| k.head.size <= r.size())?;
        let (m, n) = (h.head.size, first.head.size);
        if m == n {
            return Some(Equivocation {
                first,
                second: h,
                prefix: None,
            });
        }
        if m == 0 || m > n {
            return None;
        }
        let prefix = PrefixProof {
            root: r.root_at(logs, &log, m)?,
            proof: r.consistency_proof(logs, &log, m, n)?,
        };
        Some(Equivocation {
            first,
            second: h,
            prefix: Some(prefix),
        })
    }

    pub(super) fn ask_all(&mut self, out: &mut Vec<Output>) {
        let (now, window) = (self.now_ms, self.max_unstored);
        for (a, r) in self.logs.iter_mut() {
            Self::ask(*a, r, now, window, out);
        }
    }

    /// Asks a holder of the target head for the next page, unless a request is out.
    /// Nothing more is fetched while `window` entries fetched are not stored yet.
    pub(super) fn ask(
        authority: PublicKey,
        r: &mut Replica,
        now_ms: u64,
        window: usize,
        out: &mut Vec<Output>,
    ) {
        let Some((target, _)) = r.target else {
            return;
        };
        if r.asked.is_some() || r.proving.is_some() || r.unstored.len() >= window {
            return;
        }
        let start = r.size() + r.pending.len() as u64;
        if start >= target.head.size {
            return;
        }
        let Some(peer) = r.holders.iter().next().copied() else {
            return;
        };
        let end = target.head.size.min(start + MAX_SYNC_PAGE_ENTRIES);
        r.asked = Some((peer, start, now_ms + REQUEST_TIMEOUT_MS));
        out.push(Output::Send {
            to: peer,
            wire: Wire::GetEntries {
                authority,
                start,
                end,
            },
        });
    }

    /// A consistency proof for the pending prefix: keeps it if it proves the prefix is
    /// the target's, else drops it and blames the sender.
    pub(super) fn on_consistency(
        &mut self,
        from: PeerId,
        authority: PublicKey,
        m: u64,
        n: u64,
        proof: Vec<Hash>,
        out: &mut Vec<Output>,
    ) {
        let now = self.now_ms;
        let Some(r) = self.logs.get_mut(&authority) else {
            return;
        };
        if r.proving.map(|(p, f, _)| (p, f)) != Some((from, m)) {
            return; // not the answer we wait for
        }
        r.proving = None;
        let Some((target, _)) = r.target else {
            r.pending.clear();
            return;
        };
        let reached = r.size() + r.pending.len() as u64;
        let mut frontier = r.frontier.clone();
        for e in &r.pending {
            frontier.push(purge::stored_leaf(e));
        }
        let holds = reached == m
            && n == target.head.size
            && merkle::verify_consistency(m, n, &frontier.root(), &target.head.root, &proof)
                .is_ok();
        if holds {
            for e in std::mem::take(&mut r.pending) {
                r.push(e);
            }
            r.ahead = Some(target);
            r.waypoints.retain(|s, _| *s > reached);
            out.push(Output::Stored {
                authority,
                size: reached,
            });
        } else {
            r.pending.clear();
            r.holders.remove(&from);
            out.push(Output::Penalise {
                peer: from,
                reason: "a consistency proof that does not hold",
            });
        }
        Self::ask(authority, r, now, self.max_unstored, out);
    }

    /// Penalises `from` for a bad answer, stops asking it, and asks another holder.
    pub(super) fn refuse(
        authority: PublicKey,
        r: &mut Replica,
        from: PeerId,
        reason: &'static str,
        now_ms: u64,
        window: usize,
        out: &mut Vec<Output>,
    ) {
        out.push(Output::Penalise { peer: from, reason });
        r.holders.remove(&from);
        Self::ask(authority, r, now_ms, window, out);
    }

    pub(super) fn on_entries(
        &mut self,
        from: PeerId,
        authority: PublicKey,
        start: u64,
        entries: Vec<Vec<u8>>,
        out: &mut Vec<Output>,
    ) {
        let now = self.now_ms;
        let Some(r) = self.logs.get_mut(&authority) else {
            return;
        };
        // Only the answer we wait for (duplicates and stale answers are dropped).
        let expected = r.size() + r.pending.len() as u64;
        if r.asked.map(|(p, s, _)| (p, s)) != Some((from, start)) || start != expected {
            return;
        }
        r.asked = None;
        let Some((target, _)) = r.target else {
            return;
        };
        let room = target.head.size - expected;
        if entries.is_empty()
            || entries.len() as u64 > room.min(MAX_SYNC_PAGE_ENTRIES)
            || r.pending.len() + entries.len() > MAX_PENDING_ENTRIES
        {
            Self::refuse(
                authority,
                r,
                from,
                "a page of entries of the wrong size",
                now,
                self.max_unstored,
                out,
            );
            return;
        }
        if !self.verifier.all_verify(&authority, &entries) {
            Self::refuse(
                authority,
                r,
                from,
                "an entry that does not decode or verify",
                now,
                self.max_unstored,
                out,
            );
            return;
        }
        r.pending.extend(entries);
        let reached = r.size() + r.pending.len() as u64;
        let goal = if reached == target.head.size {
            Some(target)
        } else {
            r.waypoints.get(&reached).copied()
        };
        if let Some(goal) = goal {
            let mut frontier = r.frontier.clone();
            for e in &r.pending {
                frontier.push(purge::stored_leaf(e));
            }
            if frontier.root() == goal.head.root {
                for e in std::mem::take(&mut r.pending) {
                    r.push(e);
                }
                if r.head.is_none_or(|h| h.head.size <= reached) {
                    r.head = Some(goal);
                }
                r.waypoints.retain(|s, _| *s > reached);
                if reached == target.head.size {
                    r.target = None;
                    r.holders.clear();
                }
                out.push(Output::Stored {
                    authority,
                    size: reached,
                });
                // Passed on at once: other nodes may not have it yet.
                for p in &self.peers {
                    if *p != from {
                        out.push(Output::Send {
                            to: *p,
                            wire: Wire::Head { head: goal },
                        });
                    }
                }
            } else {
                // Entries that do not reach the signed root: the sender lied, start over.
                r.pending.clear();
                r.holders.remove(&from);
                out.push(Output::Penalise {
                    peer: from,
                    reason: "entries that do not hash to the signed root",
                });
            }
        } else if r.pending.len() >= self.prove_every {
            // Far from any signed head: have the sender prove this prefix consistent
            // with the target, and keep it, before fetching more.
            r.proving = Some((from, reached, now + REQUEST_TIMEOUT_MS));
            out.push(Output::Send {
                to: from,
                wire: Wire::GetConsistency {
                    authority,
                    from: reached,
                    to: target.head.size,
                },
            });
            return;
        }
        Self::ask(authority, r, now, self.max_unstored, out);
    }

    /// Time passed: heads announced again, unanswered requests asked elsewhere.
    pub(super) fn on_tick(&mut self, out: &mut Vec<Output>) {
        let peers: Vec<PeerId> = self.peers.iter().copied().collect();
        for p in peers {
            self.announce_to(p, out);
        }
        // Gossip carries each log's latest head once per tick at most: heads
        // change at every commit, and gossiping each one costs more than it
        // brings (peers already get them point to point).
        for r in self.logs.values_mut() {
            if let Some(h) = r.head
                && h.head.size == r.size()
                && r.published != Some(h.head.size)
            {
                r.published = Some(h.head.size);
                out.push(Output::Publish(Wire::Head { head: h }));
            }
        }
        let now = self.now_ms;
        for r in self.logs.values_mut() {
            if matches!(r.proving, Some((_, _, deadline)) if deadline <= now)
                && let Some((p, _, _)) = r.proving.take()
            {
                r.holders.remove(&p);
                r.pending.clear();
            }
            if matches!(r.asked, Some((_, _, deadline)) if deadline <= now) {
                // Unanswered: forget it, and ask whoever holds the head next.
                if let Some((p, _, _)) = r.asked.take() {
                    r.holders.remove(&p);
                }
            }
        }
        self.ask_all(out);
        self.gather_tick(out);
    }

    /// A log grew by entries checked elsewhere (see [`Input::Appended`]).
    pub(super) fn on_appended(
        &mut self,
        head: SignedTreeHead,
        start: u64,
        entries: Vec<Vec<u8>>,
        out: &mut Vec<Output>,
    ) {
        let authority = head.head.authority;
        let r = self.logs.entry(authority).or_default();
        if start > r.size() {
            return; // a gap: the caller sends again from what is held
        }
        // The store holds these: those fetched among them are no longer kept here.
        r.written(start + entries.len() as u64);
        let held = (r.size() - start) as usize;
        if held < entries.len() && (!r.pending.is_empty() || r.asked.is_some()) {
            // What was being fetched now starts elsewhere: fetch afresh.
            r.pending.clear();
            r.asked = None;
        }
        for e in entries.iter().skip(held) {
            r.push_stored(e);
        }
        let size = r.size();
        r.waypoints.retain(|s, _| *s > size);
        if r.head.is_none_or(|h| h.head.size <= head.head.size) {
            r.head = Some(head);
        }
        if r.target.is_some_and(|(t, _)| t.head.size <= r.size()) {
            r.target = None;
            r.pending.clear();
            r.asked = None;
        }
        let size = r.size();
        // Told at once, not at the next tick: propagation waits on no timer.
        if let Some(h) = r.head.filter(|h| h.head.size == size) {
            self.send_all(&Wire::Head { head: h }, None, out);
        }
        out.push(Output::Stored { authority, size });
    }

    /// An entry held was purged (see [`Input::Purged`]).
    pub(super) fn on_purged(&mut self, authority: PublicKey, index: u64, entry: &[u8]) {
        // Only those not stored yet are held here; the store serves the others as they
        // now stand.
        if let Some(held) = self.logs.get_mut(&authority).and_then(|r| {
            let i = index.checked_sub(r.stored())?;
            r.unstored.get_mut(usize::try_from(i).ok()?)
        }) && purge::is_tombstone(entry)
            && purge::stored_leaf(entry) == purge::stored_leaf(held)
        {
            *held = entry.to_vec();
        }
    }

    /// A federated peer's request for a page of a log held: as much as one page holds.
    pub(super) fn serve_entries(
        &self,
        from: PeerId,
        authority: PublicKey,
        start: u64,
        end: u64,
        out: &mut Vec<Output>,
    ) {
        let Some(r) = self.logs.get(&authority) else {
            return;
        };
        // Only towns of the federation are answered, and only about its logs.
        let federated_peer = self
            .speaks_for
            .get(&from)
            .is_some_and(|a| self.federation.contains(a));
        if !federated_peer
            || !self.federation.contains(&authority)
            || start >= r.size()
            || end <= start
        {
            return;
        }
        let end = end.min(r.size()).min(start + MAX_SYNC_PAGE_ENTRIES);
        let mut bytes = 0;
        let mut page = r.page(&*self.logs_read.0, &authority, start, end);
        let fit = page
            .iter()
            .take_while(|e| {
                bytes += e.len();
                bytes <= MAX_PAGE_BYTES
            })
            .count();
        if page.is_empty() {
            return; // not readable now: the peer asks again
        }
        page.truncate(fit.max(1));
        let entries = page;
        out.push(Output::Send {
            to: from,
            wire: Wire::Entries {
                authority,
                start,
                entries,
            },
        });
    }

    /// A federated peer's request for a consistency proof between two sizes held.
    pub(super) fn serve_consistency(
        &self,
        from: PeerId,
        authority: PublicKey,
        m: u64,
        n: u64,
        out: &mut Vec<Output>,
    ) {
        let federated_peer = self
            .speaks_for
            .get(&from)
            .is_some_and(|a| self.federation.contains(a));
        let Some(r) = self.logs.get(&authority) else {
            return;
        };
        if !federated_peer || m == 0 || m > n || n > r.size() {
            return;
        }
        if let Some(proof) = r.consistency_proof(&*self.logs_read.0, &authority, m, n) {
            out.push(Output::Send {
                to: from,
                wire: Wire::Consistency {
                    authority,
                    from: m,
                    to: n,
                    proof,
                },
            });
        }
    }

    /// The node stored the first `size` entries of a log (see [`Input::Written`]).
    pub(super) fn on_written(&mut self, authority: PublicKey, size: u64, out: &mut Vec<Output>) {
        let Some(r) = self.logs.get_mut(&authority) else {
            return;
        };
        r.written(size);
        Self::ask(authority, r, self.now_ms, self.max_unstored, out);
    }
}
