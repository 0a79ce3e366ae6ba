//! Key locks: striped mutexes, so a command's read-modify-write of its keys is atomic against
//! other commands on the same keys. Stripes are taken in ascending order, so two commands
//! locking overlapping key sets can never deadlock.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, MutexGuard};

/// Number of stripes: enough that unrelated keys rarely share one.
pub const LOCK_STRIPES: usize = 4096;

pub struct KeyLocks {
    stripes: Vec<Mutex<()>>,
    hasher: std::collections::hash_map::RandomState,
}

/// Held locks; released on drop.
pub struct KeyGuards<'a> {
    _guards: Vec<MutexGuard<'a, ()>>,
}

impl KeyLocks {
    pub fn new() -> KeyLocks {
        KeyLocks { stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(), hasher: Default::default() }
    }

    fn stripe(&self, ns: &[u8], db: u8, key: &[u8]) -> usize {
        let mut h = self.hasher.build_hasher();
        h.write(ns);
        h.write_u8(db);
        h.write(key);
        (h.finish() as usize) % LOCK_STRIPES
    }

    /// Locks every key (of one namespace and physical db) in a deadlock-free order.
    pub fn lock<'k>(&self, ns: &[u8], db: u8, keys: impl Iterator<Item = &'k [u8]>) -> KeyGuards<'_> {
        let mut stripes: Vec<usize> = keys.map(|k| self.stripe(ns, db, k)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        // A poisoned stripe only means a handler panicked holding it; the data is in RocksDB.
        let guards = stripes.into_iter().map(|i| self.stripes[i].lock().unwrap_or_else(|e| e.into_inner())).collect();
        KeyGuards { _guards: guards }
    }

    /// Locks every stripe: for commands that touch a whole database (FLUSHALL, SWAPDB).
    pub fn lock_all(&self) -> KeyGuards<'_> {
        KeyGuards { _guards: self.stripes.iter().map(|m| m.lock().unwrap_or_else(|e| e.into_inner())).collect() }
    }
}

impl Default for KeyLocks {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn overlapping_lock_sets_in_any_order_do_not_deadlock() {
        let locks = Arc::new(KeyLocks::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let locks = locks.clone();
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        let a = format!("k{}", (i + t) % 7);
                        let b = format!("k{}", (i * 3 + t) % 7);
                        let keys = if t % 2 == 0 { [a, b] } else { [b, a] };
                        let _g = locks.lock(b"", 0, keys.iter().map(|k| k.as_bytes()));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
