//! `client-output-buffer-limit`, Redis's syntax and checks: `<class> <hard> <soft>
//! <soft_seconds>` per class. A normal client whose pending output passes the hard limit, or
//! stays over the soft limit for more than soft_seconds, is closed, as Redis's
//! `checkClientOutputBufferLimits`. Only the `normal` class has clients here (no replicas,
//! no pub/sub yet); the others are kept and reported so configurations and tools work.

use std::time::{Duration, Instant};

use crate::config::parse_memory;

/// Redis 7.0's default, as `CONFIG GET` prints it.
pub const DEFAULT: &str = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
/// The classes in the order Redis prints them.
const CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// One class's limits; 0 = none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_seconds: u64,
}

/// Applies `given` (some classes) over `current` (all three), with Redis's error texts.
pub fn merge(current: &str, given: &str) -> Result<String, String> {
    let mut limits = parse_all(current).unwrap_or_else(|_| parse_all(DEFAULT).unwrap_or_default());
    let words: Vec<&str> = given.split_whitespace().collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    // Checked whole before any class changes, as Redis does.
    let mut updates = Vec::new();
    for group in words.chunks(4) {
        let class = class_index(group[0])
            .ok_or_else(|| "Invalid client class specified in buffer limit configuration.".to_string())?;
        let limit = parse_limit(&group[1..])
            .ok_or_else(|| "Error in hard, soft or soft_seconds setting in buffer limit configuration.".to_string())?;
        updates.push((class, limit));
    }
    for (class, limit) in updates {
        limits[class] = limit;
    }
    Ok(CLASSES
        .iter()
        .zip(limits)
        .map(|(name, l)| format!("{name} {} {} {}", l.hard_bytes, l.soft_bytes, l.soft_seconds))
        .collect::<Vec<_>>()
        .join(" "))
}

/// The `normal` class of a normalised value.
pub fn normal(value: &str) -> Limit {
    parse_all(value).map(|all| all[0]).unwrap_or_default()
}

fn class_index(name: &str) -> Option<usize> {
    match name.to_ascii_lowercase().as_str() {
        "normal" => Some(0),
        "slave" | "replica" => Some(1),
        "pubsub" => Some(2),
        _ => None,
    }
}

fn parse_limit(words: &[&str]) -> Option<Limit> {
    let soft_seconds: i64 = words[2].parse().ok()?;
    Some(Limit {
        hard_bytes: parse_memory(words[0])?,
        soft_bytes: parse_memory(words[1])?,
        soft_seconds: u64::try_from(soft_seconds).ok()?,
    })
}

fn parse_all(value: &str) -> Result<[Limit; 3], ()> {
    let mut limits = [Limit::default(); 3];
    let words: Vec<&str> = value.split_whitespace().collect();
    for group in words.chunks(4) {
        if group.len() != 4 {
            return Err(());
        }
        limits[class_index(group[0]).ok_or(())?] = parse_limit(&group[1..]).ok_or(())?;
    }
    Ok(limits)
}

/// The soft limit's clock for one client.
#[derive(Default)]
pub struct OutputLimitState {
    soft_reached: Option<Instant>,
}

impl OutputLimitState {
    /// Whether a client with `pending_bytes` of unsent output must be closed now. The clock
    /// is read only past the soft limit: this runs for every reply.
    pub fn exceeded(&mut self, limit: &Limit, pending_bytes: usize, now: impl FnOnce() -> Instant) -> bool {
        let pending = pending_bytes as u64;
        if limit.hard_bytes != 0 && pending >= limit.hard_bytes {
            return true;
        }
        if limit.soft_bytes != 0 && pending >= limit.soft_bytes {
            let now = now();
            let since = *self.soft_reached.get_or_insert(now);
            return now.duration_since(since) > Duration::from_secs(limit.soft_seconds);
        }
        self.soft_reached = None;
        false
    }

    /// How long the soft limit still tolerates the current excess (`None`: no soft limit
    /// reached, waiting is free).
    pub fn soft_deadline(&self, limit: &Limit) -> Option<Instant> {
        self.soft_reached.map(|since| since + Duration::from_secs(limit.soft_seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_merge_over_the_current_value() {
        assert_eq!(merge(DEFAULT, "").unwrap(), DEFAULT);
        assert_eq!(
            merge(DEFAULT, "normal 1mb 512kb 10").unwrap(),
            "normal 1048576 524288 10 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        assert_eq!(merge(DEFAULT, "replica 1 2 3 PUBSUB 4 5 6").unwrap(), "normal 0 0 0 slave 1 2 3 pubsub 4 5 6");
        assert_eq!(
            merge(DEFAULT, "normal 1 2").unwrap_err(),
            "Wrong number of arguments in buffer limit configuration."
        );
        assert_eq!(
            merge(DEFAULT, "master 1 2 3").unwrap_err(),
            "Invalid client class specified in buffer limit configuration."
        );
        assert_eq!(
            merge(DEFAULT, "normal 1 2 -1").unwrap_err(),
            "Error in hard, soft or soft_seconds setting in buffer limit configuration."
        );
        assert_eq!(
            merge(DEFAULT, "normal 1 2 3 normal x 2 3").unwrap_err(),
            "Error in hard, soft or soft_seconds setting in buffer limit configuration."
        );
        assert_eq!(
            normal("normal 10 5 2 slave 0 0 0 pubsub 0 0 0"),
            Limit { hard_bytes: 10, soft_bytes: 5, soft_seconds: 2 }
        );
    }

    #[test]
    fn hard_closes_at_once_soft_after_its_seconds() {
        let limit = Limit { hard_bytes: 100, soft_bytes: 10, soft_seconds: 2 };
        let mut state = OutputLimitState::default();
        let t0 = Instant::now();
        assert!(!state.exceeded(&limit, 5, || t0));
        assert!(state.exceeded(&limit, 100, || t0));
        assert!(!state.exceeded(&limit, 50, || t0));
        assert!(!state.exceeded(&limit, 50, || t0 + Duration::from_secs(2)));
        assert!(state.exceeded(&limit, 50, || t0 + Duration::from_millis(2001)));
        // Going under the soft limit resets its clock.
        assert!(!state.exceeded(&limit, 1, || t0 + Duration::from_secs(3)));
        assert!(!state.exceeded(&limit, 50, || t0 + Duration::from_secs(4)));
        assert!(!state.exceeded(&Limit::default(), usize::MAX, || t0));
    }
}
