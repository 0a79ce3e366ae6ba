//! Versions of collections: every new incarnation of a collection gets a number larger than
//! any given before, also across restarts, so stale sub-keys of a deleted collection can never
//! be mistaken for the members of a new one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Versions handed out per microsecond before the counter runs ahead of the clock.
const VERSIONS_PER_MICROSECOND_SHIFT: u32 = 10;

/// Hands out versions: `(unix time in µs) << 10` at start, then +1 each.
#[derive(Debug)]
pub struct VersionGenerator {
    next: AtomicU64,
}

impl VersionGenerator {
    pub fn new() -> VersionGenerator {
        let now_us = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0);
        VersionGenerator { next: AtomicU64::new(now_us << VERSIONS_PER_MICROSECOND_SHIFT) }
    }

    /// A version no collection has had.
    pub fn next(&self) -> u64 {
        // Never behind the clock: after a restart, the clock has moved on.
        let now_us = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0);
        let floor = now_us << VERSIONS_PER_MICROSECOND_SHIFT;
        self.next.fetch_max(floor, Ordering::Relaxed);
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

impl Default for VersionGenerator {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_grow_and_survive_a_new_generator() {
        let first = VersionGenerator::new();
        let a = first.next();
        let b = first.next();
        assert!(b > a);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let restarted = VersionGenerator::new();
        assert!(restarted.next() > b);
    }
}
