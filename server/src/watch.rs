//! WATCH: optimistic locking for MULTI/EXEC. Each watched key has a modification counter;
//! WATCH remembers its value, every write command that wrote a batch bumps its keys' counters,
//! and EXEC aborts if a remembered value moved. Only watched keys are tracked, so the write
//! path pays one atomic load while nobody watches.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::storage::written::Interest;

/// A watched key: namespace, physical db, user key.
pub type WatchKey = (Vec<u8>, u8, Vec<u8>);

/// Keys one client may watch at once.
pub const MAX_WATCHED_KEYS_PER_CLIENT: usize = 100_000;

#[derive(Default)]
pub struct Watches {
    /// Key → (number of clients watching it, modification counter).
    keys: Mutex<HashMap<WatchKey, (usize, u64)>>,
    /// Watched keys, counted where storage reads it: batches record written keys only while
    /// some key is watched.
    watched: Interest,
}

impl Watches {
    /// Watches that count themselves in `interest` (`Storage::written_interest`).
    pub fn new(interest: Interest) -> Watches {
        Watches { keys: Mutex::default(), watched: interest }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WatchKey, (usize, u64)>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts watching `key`; returns the counter value to compare at EXEC.
    pub fn watch(&self, key: WatchKey) -> u64 {
        let mut keys = self.lock();
        let entry = keys.entry(key).or_insert((0, 0));
        entry.0 += 1;
        self.watched.add();
        entry.1
    }

    /// Stops watching `key` (once per earlier `watch`).
    pub fn unwatch(&self, key: &WatchKey) {
        let mut keys = self.lock();
        if let Some(entry) = keys.get_mut(key) {
            entry.0 -= 1;
            self.watched.remove();
            if entry.0 == 0 {
                keys.remove(key);
            }
        }
    }

    /// Whether `key` was modified since `watch` returned `seen`.
    pub fn modified(&self, key: &WatchKey, seen: u64) -> bool {
        self.lock().get(key).is_none_or(|entry| entry.1 != seen)
    }

    /// A write command changed these keys.
    pub fn touch<'a>(&self, ns: &[u8], db: u8, keys: impl Iterator<Item = &'a [u8]>) {
        if self.watched.count() == 0 {
            return;
        }
        let mut watched = self.lock();
        for key in keys {
            if let Some(entry) = watched.get_mut(&(ns.to_vec(), db, key.to_vec())) {
                entry.1 += 1;
            }
        }
    }

    /// Every key of a database changed (FLUSHDB, FLUSHALL, SWAPDB); `None` = every database.
    pub fn touch_db(&self, ns: &[u8], db: Option<u8>) {
        if self.watched.count() == 0 {
            return;
        }
        for ((key_ns, key_db, _), entry) in self.lock().iter_mut() {
            if key_ns == ns && db.is_none_or(|d| d == *key_db) {
                entry.1 += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_to_a_watched_key_is_seen_and_others_are_not() {
        let watches = Watches::default();
        let key: WatchKey = (vec![], 0, b"a".to_vec());
        let seen = watches.watch(key.clone());
        watches.touch(b"", 0, std::iter::once(&b"b"[..]));
        assert!(!watches.modified(&key, seen));
        watches.touch(b"", 0, std::iter::once(&b"a"[..]));
        assert!(watches.modified(&key, seen));
        watches.unwatch(&key);
        assert_eq!(watches.watched.count(), 0);
    }

    #[test]
    fn flushing_a_database_touches_its_watched_keys() {
        let watches = Watches::default();
        let in_db1: WatchKey = (vec![], 1, b"a".to_vec());
        let in_db2: WatchKey = (vec![], 2, b"a".to_vec());
        let (s1, s2) = (watches.watch(in_db1.clone()), watches.watch(in_db2.clone()));
        watches.touch_db(b"", Some(1));
        assert!(watches.modified(&in_db1, s1));
        assert!(!watches.modified(&in_db2, s2));
    }
}
