//! The node's one reading of the wall clock, in milliseconds since the Unix epoch.
//!
//! Core never reads a clock (time is a parameter); the node reads it here and passes it
//! on. Deciding what a time means (windows, grace periods) is core's and the closer's.
//!
//! The reading can be shifted by a fixed offset (`clock_offset_ms`, set once at start):
//! a rehearsal of a consultation's calendar, or a test, moves a node past an hour-long
//! window (the key ceremony's complaint hour) by restarting it later in time, with every
//! rule applied as on the real date. Every node of such a federation takes the same
//! offset; in service it is 0.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Shifts every later reading by `offset_ms`.
pub fn set_offset_ms(offset_ms: i64) {
    OFFSET_MS.store(offset_ms, Ordering::Relaxed);
}

/// Now, in milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    wall.saturating_add_signed(OFFSET_MS.load(Ordering::Relaxed))
}
