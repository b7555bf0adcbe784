//! Who may try a staff password now: the lock-out against password guessing.
//!
//! An attempt is *reserved* before its Argon2 check (so simultaneous attempts cannot all
//! pass a count that is only raised afterwards) and given back if the password was
//! right. Failures are counted per client address and per address + login, never per
//! login alone: otherwise anyone could lock a staff member out from anywhere by typing
//! their login five times. A slower global budget bounds guesses spread over many
//! addresses: once it is spent, only addresses without a recent failure may try, so a
//! member locked out by a flood can still log in from their own machine. IPv6 addresses
//! count by /64 (what one subscriber gets). Reading the address (and a trusted proxy's
//! header) is `crate::client`'s business; the page, its message and the log line are
//! `account.rs`'s.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::client::Bucket;

/// The lock-out's bounds (defaults in [`LockoutRules::default`]).
#[derive(Debug, Clone, Copy)]
pub struct LockoutRules {
    /// Failures allowed per address and login in a window.
    pub per_login_and_address: u32,
    /// Failures allowed per address (any login) in a window.
    pub per_address: u32,
    /// Failures allowed from all addresses together in a window, before only addresses
    /// without a failure may try.
    pub global: u32,
    pub window: Duration,
}

impl Default for LockoutRules {
    fn default() -> LockoutRules {
        LockoutRules {
            per_login_and_address: 5,
            per_address: 20,
            global: 200,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Most addresses and address + login pairs remembered; past it, a new one may not try
/// until windows expire (an attacker with that many addresses has spent the global
/// budget long before).
pub const MAX_TRACKED: usize = 10_000;

/// Why an attempt may not be made now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    /// This address failed too often with this login.
    LoginFromAddress,
    /// This address failed too often, whatever the logins.
    Address,
    /// Too many failures everywhere, and this address has failed recently.
    Global,
}

impl Locked {
    /// The stable code of the refusal (shown on the page and logged).
    pub fn code(self) -> &'static str {
        match self {
            Locked::LoginFromAddress => "login_locked",
            Locked::Address => "address_locked",
            Locked::Global => "logins_throttled",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    n: u32,
    since: Instant,
}

impl Window {
    fn current(&mut self, now: Instant, length: Duration) -> u32 {
        if now.saturating_duration_since(self.since) >= length {
            *self = Window { n: 0, since: now };
        }
        self.n
    }
}

#[derive(Debug)]
struct State {
    by_address: HashMap<Bucket, Window>,
    by_pair: HashMap<(Bucket, String), Window>,
    global: Window,
}

/// The failure counts (one per node; cheap to share behind an `Arc`).
#[derive(Debug)]
pub struct Lockout {
    rules: LockoutRules,
    state: Mutex<State>,
}

/// A reserved attempt: counted as a failure unless [`Lockout::succeeded`] gives it back.
#[derive(Debug)]
#[must_use = "a reserved attempt is a failure unless given back"]
pub struct Attempt {
    address: Bucket,
    login: String,
}

impl Lockout {
    pub fn new(rules: LockoutRules) -> Lockout {
        Lockout {
            rules,
            state: Mutex::new(State {
                by_address: HashMap::new(),
                by_pair: HashMap::new(),
                global: Window {
                    n: 0,
                    since: Instant::now(),
                },
            }),
        }
    }

    /// Reserves one attempt of `login` from `address` (`None`: no socket, as in tests
    /// through a bare router, all such requests sharing one address).
    pub fn reserve(
        &self,
        address: Option<IpAddr>,
        login: &str,
        now: Instant,
    ) -> Result<Attempt, Locked> {
        let rules = self.rules;
        let address = Bucket::of(address);
        let pair = (address, login.to_owned());
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.by_address.len() >= MAX_TRACKED || s.by_pair.len() >= MAX_TRACKED {
            let fresh = |w: &Window| now.saturating_duration_since(w.since) < rules.window;
            s.by_address.retain(|_, w| fresh(w));
            s.by_pair.retain(|_, w| fresh(w));
        }
        let by_address = s
            .by_address
            .get_mut(&address)
            .map_or(0, |w| w.current(now, rules.window));
        let by_pair = s
            .by_pair
            .get_mut(&pair)
            .map_or(0, |w| w.current(now, rules.window));
        let global = s.global.current(now, rules.window);
        if by_pair >= rules.per_login_and_address {
            return Err(Locked::LoginFromAddress);
        }
        if by_address >= rules.per_address {
            return Err(Locked::Address);
        }
        if global >= rules.global && by_address > 0 {
            return Err(Locked::Global);
        }
        let full = (!s.by_address.contains_key(&address) && s.by_address.len() >= MAX_TRACKED)
            || (!s.by_pair.contains_key(&pair) && s.by_pair.len() >= MAX_TRACKED);
        if full {
            return Err(Locked::Global);
        }
        let fresh = Window { n: 0, since: now };
        s.by_address.entry(address).or_insert(fresh).n += 1;
        s.by_pair.entry(pair).or_insert(fresh).n += 1;
        s.global.n = s.global.n.saturating_add(1);
        Ok(Attempt {
            address,
            login: login.to_owned(),
        })
    }

    /// The password was right: the attempt is not a failure, and this address's
    /// failures with this login are forgiven.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = s.by_address.get_mut(&attempt.address) {
            w.n = w.n.saturating_sub(1);
        }
        s.by_pair.remove(&(attempt.address, attempt.login));
        s.global.n = s.global.n.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn ip(n: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)))
    }

    #[test]
    fn a_flood_locks_its_addresses_not_the_member() {
        let rules = LockoutRules {
            per_login_and_address: 2,
            per_address: 3,
            global: 4,
            window: Duration::from_secs(60),
        };
        let l = Lockout::new(rules);
        let t = Instant::now();
        for _ in 0..2 {
            let _failed = l.reserve(ip(1), "claire", t).expect("allowed");
        }
        assert_eq!(
            l.reserve(ip(1), "claire", t).err(),
            Some(Locked::LoginFromAddress)
        );
        let _other_login = l.reserve(ip(1), "marc", t).expect("another login");
        assert_eq!(l.reserve(ip(1), "paul", t).err(), Some(Locked::Address));
        // The global budget is spent now; an address that failed waits, a clean one may try.
        let _second = l.reserve(ip(2), "claire", t).expect("first failure of .2");
        assert_eq!(l.reserve(ip(2), "claire", t).err(), Some(Locked::Global));
        let right = l.reserve(ip(3), "claire", t).expect("a clean address");
        l.succeeded(right);
        // Windows end.
        let later = t + Duration::from_secs(61);
        assert!(l.reserve(ip(1), "claire", later).is_ok());
    }

    #[test]
    fn a_right_password_gives_its_attempt_back() {
        let l = Lockout::new(LockoutRules {
            per_login_and_address: 2,
            ..LockoutRules::default()
        });
        let t = Instant::now();
        for _ in 0..10 {
            let a = l.reserve(ip(1), "claire", t).expect("allowed");
            l.succeeded(a);
        }
        let _one = l.reserve(ip(1), "claire", t).expect("allowed");
        let two = l.reserve(ip(1), "claire", t).expect("allowed");
        l.succeeded(two);
        assert!(l.reserve(ip(1), "claire", t).is_ok(), "success forgave");
    }

    #[test]
    fn ipv6_counts_by_64() {
        let l = Lockout::new(LockoutRules {
            per_address: 1,
            ..LockoutRules::default()
        });
        let t = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        let _ = l.reserve(Some(a), "x", t).expect("first");
        assert_eq!(l.reserve(Some(b), "y", t).err(), Some(Locked::Address));
        assert!(l.reserve(Some(c), "y", t).is_ok());
    }
}
