//! Per-client rate limiting (a token bucket per client IP) and a time limit per request.
//!
//! Buckets live in a bounded map: when it is full, buckets that have refilled (idle
//! clients) are dropped first, and if none has, the map starts over — a flood of
//! addresses can cost some fairness, never unbounded memory. Requests without a peer
//! address (tests, unix sockets) share one bucket; IPv6 clients share one per /64
//! (`crate::client::Bucket`), since one subscriber holds a whole /64.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::client::Bucket;
use crate::error::{ApiError, Code};

/// Most clients tracked at once.
pub const MAX_TRACKED_CLIENTS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket size: requests allowed in a burst.
    pub burst: f64,
}

#[derive(Debug)]
struct Tokens {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
pub struct Limiter {
    rule: RateLimit,
    buckets: Mutex<HashMap<Bucket, Tokens>>,
}

impl Limiter {
    pub fn new(rule: RateLimit) -> Limiter {
        Limiter {
            rule,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client`; `Err(wait)` when there is none.
    fn take(&self, client: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let rule = self.rule;
        let refill = |b: &Tokens| {
            (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rule.per_second)
                .min(rule.burst)
        };
        let client = Bucket::of(client);
        if buckets.len() >= MAX_TRACKED_CLIENTS && !buckets.contains_key(&client) {
            buckets.retain(|_, b| refill(b) < rule.burst);
            if buckets.len() >= MAX_TRACKED_CLIENTS {
                buckets.clear();
            }
        }
        let bucket = buckets.entry(client).or_insert(Tokens {
            tokens: rule.burst,
            at: now,
        });
        bucket.tokens = refill(bucket);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - bucket.tokens;
            Err(Duration::from_secs_f64(
                missing / rule.per_second.max(f64::MIN_POSITIVE),
            ))
        }
    }
}

fn client_of(request: &Request) -> Option<IpAddr> {
    crate::client::of_request(request.extensions())
}

/// Middleware: refuses with 429 `rate_limited` and `Retry-After` when a client is over
/// its rate.
pub async fn rate_limit(
    limiter: std::sync::Arc<Limiter>,
    request: Request,
    next: Next,
) -> Response {
    match limiter.take(client_of(&request), Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => too_many(
            wait,
            "too many requests from this address; wait a moment and try again",
        ),
    }
}

/// A 429 `rate_limited` answer with `Retry-After`.
pub(crate) fn too_many(wait: Duration, message: &str) -> Response {
    let mut response = ApiError::refused(Code::RateLimited, message).into_response();
    let seconds = wait.as_secs().max(1).to_string();
    if let Ok(v) = HeaderValue::from_str(&seconds) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// One token bucket for the whole node, spent only by what failed (failed redemptions of
/// invitation codes): while it is empty, the guarded action is refused to everyone.
#[derive(Debug)]
pub struct Budget {
    rule: RateLimit,
    tokens: Mutex<Tokens>,
}

impl Budget {
    pub fn new(rule: RateLimit) -> Budget {
        Budget {
            rule,
            tokens: Mutex::new(Tokens {
                tokens: rule.burst,
                at: Instant::now(),
            }),
        }
    }

    fn refilled(&self, now: Instant) -> std::sync::MutexGuard<'_, Tokens> {
        let mut t = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let gained = now.saturating_duration_since(t.at).as_secs_f64() * self.rule.per_second;
        t.tokens = (t.tokens + gained).min(self.rule.burst);
        t.at = now;
        t
    }

    /// `Err(wait)` while the budget is spent.
    pub fn available(&self, now: Instant) -> Result<(), Duration> {
        let t = self.refilled(now);
        if t.tokens >= 1.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - t.tokens) / self.rule.per_second.max(f64::MIN_POSITIVE),
            ))
        }
    }

    /// Spends one token for a failure; whether that emptied the budget.
    pub fn spend(&self, now: Instant) -> bool {
        let mut t = self.refilled(now);
        let before = t.tokens;
        t.tokens = (t.tokens - 1.0).max(0.0);
        before >= 1.0 && t.tokens < 1.0
    }
}

/// Middleware: answers 503 `timeout` when a request takes longer than `limit`.
pub async fn time_limit(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::refused(Code::Timeout, "the node took too long to answer; try again")
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_and_stay_bounded() {
        let limiter = Limiter::new(RateLimit {
            per_second: 2.0,
            burst: 3.0,
        });
        let ip = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take(ip, t0).is_ok());
        }
        let wait = limiter.take(ip, t0).expect_err("the burst is spent");
        assert!(wait <= Duration::from_millis(500));
        assert!(
            limiter.take(ip, t0 + Duration::from_millis(500)).is_ok(),
            "one token back after 0.5 s"
        );
        for n in 0..(MAX_TRACKED_CLIENTS as u32 + 10) {
            let other = Some(IpAddr::V4(std::net::Ipv4Addr::from(n)));
            let _ = limiter.take(other, t0);
        }
        let tracked = limiter.buckets.lock().expect("lock").len();
        assert!(tracked <= MAX_TRACKED_CLIENTS, "{tracked} buckets");
    }
}
