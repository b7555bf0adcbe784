//! How the shell scores peers: penalties that fade with time, a refusal once they pile
//! up, and a budget of messages per peer. Pure — every call is told the time — so that it
//! is tested without a network.
//!
//! A penalty weighs 1 when it is given and half as much every [`HALF_LIFE`] after: an
//! honest node that sends one odd message now and then (a hello to a town whose list does
//! not name it yet, a page cut by a restart) never adds up to a refusal, while a peer
//! that keeps misbehaving reaches [`MAX_PENALTIES`] (five in a row) and is refused for
//! [`BAN`]; it then starts again from nothing.
//!
//! The message budget is a token bucket per peer ([`MESSAGES_PER_SECOND`], bursts of
//! [`MESSAGE_BURST`]): a message over it is dropped unread, and the flood costs its
//! sender a penalty at most once a second.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Penalties in a row at which a peer is refused: it is refused once what its penalties
/// weigh reaches this less one half, so that five penalties within a minute or so (each
/// faded by a few percent) refuse it, and five spread over an hour do not.
pub const MAX_PENALTIES: f64 = 5.0;
/// How long a penalty takes to weigh half as much.
pub const HALF_LIFE: Duration = Duration::from_secs(600);
/// How long a refused peer stays refused.
pub const BAN: Duration = Duration::from_secs(600);
/// Messages a peer may send per second, on average. A replica catching up asks for a
/// page at a time, with a few in flight, and an origin answers as many: well under this.
pub const MESSAGES_PER_SECOND: f64 = 500.0;
/// Messages a peer may send at once.
pub const MESSAGE_BURST: f64 = 2_000.0;

/// What a peer's message may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Read it.
    Read,
    /// Drop it: over the peer's budget; the flood was already penalised this second.
    Drop,
    /// Drop it, and penalise the flood.
    DropAndPenalise,
}

#[derive(Debug, Clone, Copy)]
struct Score {
    weight: f64,
    at: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// When the flood was last penalised.
    penalised: Option<Instant>,
}

/// The scores, refusals and budgets of every peer.
#[derive(Debug)]
pub struct Penalties<P> {
    scores: HashMap<P, Score>,
    banned: HashMap<P, Instant>,
    buckets: HashMap<P, Bucket>,
}

impl<P> Default for Penalties<P> {
    fn default() -> Self {
        Penalties {
            scores: HashMap::new(),
            banned: HashMap::new(),
            buckets: HashMap::new(),
        }
    }
}

fn faded(weight: f64, since: Duration) -> f64 {
    weight * 0.5f64.powf(since.as_secs_f64() / HALF_LIFE.as_secs_f64())
}

impl<P: Hash + Eq + Copy> Penalties<P> {
    /// Whether `peer` is refused at `now`; a refusal that has run out is forgotten,
    /// with the penalties that led to it.
    pub fn is_banned(&mut self, peer: &P, now: Instant) -> bool {
        match self.banned.get(peer) {
            Some(until) if *until > now => true,
            Some(_) => {
                self.banned.remove(peer);
                self.scores.remove(peer);
                false
            }
            None => false,
        }
    }

    /// What `peer`'s penalties weigh at `now`.
    pub fn weight(&self, peer: &P, now: Instant) -> f64 {
        self.scores.get(peer).map_or(0.0, |s| {
            faded(s.weight, now.saturating_duration_since(s.at))
        })
    }

    /// Gives `peer` a penalty at `now`; true when it must now be refused (until
    /// `now + BAN`).
    pub fn penalise(&mut self, peer: P, now: Instant) -> bool {
        let weight = self.weight(&peer, now) + 1.0;
        self.scores.insert(peer, Score { weight, at: now });
        if weight >= MAX_PENALTIES - 0.5 {
            self.banned.insert(peer, now + BAN);
            return true;
        }
        false
    }

    /// Spends one message of `peer`'s budget at `now`.
    pub fn message(&mut self, peer: P, now: Instant) -> Admit {
        let b = self.buckets.entry(peer).or_insert(Bucket {
            tokens: MESSAGE_BURST,
            at: now,
            penalised: None,
        });
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * MESSAGES_PER_SECOND;
        b.tokens = (b.tokens + refill).min(MESSAGE_BURST);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Admit::Read;
        }
        match b.penalised {
            Some(at) if now.saturating_duration_since(at) < Duration::from_secs(1) => Admit::Drop,
            _ => {
                b.penalised = Some(now);
                Admit::DropAndPenalise
            }
        }
    }

    /// Forgets `peer`'s budget (it disconnected); its penalties and refusal stay.
    pub fn disconnected(&mut self, peer: &P) {
        self.buckets.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_penalties_in_a_row_refuse_a_peer_for_the_ban() {
        let mut p = Penalties::default();
        let t0 = Instant::now();
        for n in 0..4 {
            assert!(!p.penalise(7u8, t0 + Duration::from_secs(n)), "penalty {n}");
        }
        assert!(p.penalise(7, t0 + Duration::from_secs(4)));
        assert!(p.is_banned(&7, t0 + BAN));
        assert!(!p.is_banned(&8, t0 + BAN), "another peer is not refused");
        // Once the refusal has run out, it starts again from nothing.
        let after = t0 + Duration::from_secs(4) + BAN;
        assert!(!p.is_banned(&7, after));
        assert_eq!(p.weight(&7, after), 0.0);
        assert!(!p.penalise(7, after));
    }

    #[test]
    fn penalties_fade_so_that_odd_messages_never_add_up() {
        let mut p = Penalties::default();
        let t0 = Instant::now();
        // One penalty every ten minutes, for two days: never refused.
        for n in 0..288u32 {
            let now = t0 + HALF_LIFE * n;
            assert!(!p.penalise(1u8, now), "penalty {n}");
            assert!(p.weight(&1, now) < 2.0 + 1e-9);
        }
        // Four now weigh one two half-lives later: three more make four, a fourth
        // makes five.
        let mut q = Penalties::default();
        for _ in 0..4 {
            assert!(!q.penalise(2u8, t0));
        }
        let later = t0 + HALF_LIFE * 2;
        assert!((q.weight(&2, later) - 1.0).abs() < 1e-9);
        for _ in 0..3 {
            assert!(!q.penalise(2, later));
        }
        assert!(q.penalise(2, later));
    }

    #[test]
    fn a_flood_is_dropped_and_penalised_once_a_second() {
        let mut p = Penalties::default();
        let t0 = Instant::now();
        let admitted = (0..MESSAGE_BURST as usize)
            .filter(|_| p.message(3u8, t0) == Admit::Read)
            .count();
        assert_eq!(admitted, MESSAGE_BURST as usize, "a whole burst is read");
        assert_eq!(p.message(3, t0), Admit::DropAndPenalise);
        assert_eq!(p.message(3, t0), Admit::Drop);
        assert_eq!(p.message(3, t0 + Duration::from_millis(999)), Admit::Read);
        // A second later, still flooding: penalised again.
        let t1 = t0 + Duration::from_millis(1_000);
        while p.message(3, t1) == Admit::Read {}
        assert_eq!(p.message(3, t1 + Duration::from_millis(1)), Admit::Drop);
        assert_eq!(
            p.message(3, t0 + Duration::from_millis(2_001)),
            Admit::Read,
            "the budget refills"
        );
        // Another peer has its own budget.
        assert_eq!(p.message(4, t1), Admit::Read);
    }
}
