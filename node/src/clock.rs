//! The node's one reading of the wall clock, in milliseconds since the Unix epoch.
//!
//! Core never reads a clock (time is a parameter); the node reads it here and passes it
//! on. Deciding what a time means (windows, grace periods) is core's and the closer's.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
