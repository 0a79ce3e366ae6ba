//! Key locks: striped mutexes, so a command's read-modify-write of its keys is atomic against
//! other commands on the same keys. Stripes are taken in ascending order, so two commands
//! locking overlapping key sets can never deadlock.
//!
//! Locks are re-entrant per thread: a stripe this thread already holds is not taken again.
//! EXEC locks every key of the transaction up front and then runs each queued command
//! through the normal path, whose own locking finds its stripes held; FLUSHALL inside EXEC
//! finds every stripe held.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, MutexGuard};

use smallvec::SmallVec;

use crate::cmd::spec::INLINE_KEYS;

/// Number of stripes: enough that unrelated keys rarely share one.
pub const LOCK_STRIPES: usize = 4096;

thread_local! {
    /// Stripes held by this thread (handlers are synchronous: a thread runs one at a time).
    static HELD: RefCell<Vec<bool>> = RefCell::new(vec![false; LOCK_STRIPES]);
}

pub struct KeyLocks {
    stripes: Vec<Mutex<()>>,
    /// aHash, not SipHash: a stripe is hashed per key per command, and SipHash showed in
    /// pipelined profiles; aHash's keys are random per process, so stripes stay unguessable.
    hasher: ahash::RandomState,
}

/// Held locks; released on drop.
pub struct KeyGuards<'a> {
    guards: SmallVec<[(usize, MutexGuard<'a, ()>); INLINE_KEYS]>,
}

/// Stripes of one request's keys, sorted, inline up to a few.
pub type Stripes = SmallVec<[usize; INLINE_KEYS]>;

impl Drop for KeyGuards<'_> {
    fn drop(&mut self) {
        HELD.with(|held| {
            let mut held = held.borrow_mut();
            for (stripe, _) in &self.guards {
                held[*stripe] = false;
            }
        });
    }
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
        self.lock_sorted(self.stripes(ns, db, keys))
    }

    /// The stripes of `keys`, ascending, each once.
    pub fn stripes<'k>(&self, ns: &[u8], db: u8, keys: impl Iterator<Item = &'k [u8]>) -> Stripes {
        let mut stripes: Stripes = keys.map(|k| self.stripe(ns, db, k)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        stripes
    }

    /// Takes the `sorted` stripes this thread does not hold yet if none of them is taken by
    /// another thread; `None`, holding nothing more, otherwise. Never waits, so a thread that
    /// already holds stripes (write_session.rs) can ask for more without a deadlock.
    pub fn try_lock_stripes(&self, sorted: &[usize]) -> Option<KeyGuards<'_>> {
        let mut guards = KeyGuards { guards: SmallVec::with_capacity(sorted.len()) };
        for &stripe in sorted {
            if HELD.with(|held| held.borrow()[stripe]) {
                continue;
            }
            let guard = match self.stripes[stripe].try_lock() {
                Ok(guard) => guard,
                Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                // Dropping `guards` releases what this call took.
                Err(std::sync::TryLockError::WouldBlock) => return None,
            };
            HELD.with(|held| held.borrow_mut()[stripe] = true);
            guards.guards.push((stripe, guard));
        }
        Some(guards)
    }

    /// Locks every stripe: for commands that touch a whole database (FLUSHALL, SWAPDB).
    pub fn lock_all(&self) -> KeyGuards<'_> {
        self.lock_sorted((0..LOCK_STRIPES).collect())
    }

    /// Locks the `sorted` stripes, waiting for them (see [`KeyLocks::lock`]).
    pub fn lock_sorted(&self, sorted: Stripes) -> KeyGuards<'_> {
        let to_take: Stripes = HELD.with(|held| {
            let held = held.borrow();
            sorted.into_iter().filter(|&s| !held[s]).collect()
        });
        // A poisoned stripe only means a handler panicked holding it; the data is in RocksDB.
        let guards: SmallVec<_> =
            to_take.into_iter().map(|s| (s, self.stripes[s].lock().unwrap_or_else(|e| e.into_inner()))).collect();
        HELD.with(|held| {
            let mut held = held.borrow_mut();
            for (stripe, _) in &guards {
                held[*stripe] = true;
            }
        });
        KeyGuards { guards }
    }
}

impl KeyGuards<'_> {
    /// Whether these guards hold nothing.
    pub fn is_empty(&self) -> bool {
        self.guards.is_empty()
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

    #[test]
    fn try_lock_takes_all_or_nothing() {
        let locks = Arc::new(KeyLocks::new());
        let wanted = locks.stripes(b"", 0, [&b"x"[..], b"y"].into_iter());
        let other = locks.stripes(b"", 0, std::iter::once(&b"y"[..]));
        let (taken, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let holder = {
            let locks = locks.clone();
            std::thread::spawn(move || {
                let _y = locks.lock_sorted(other);
                taken.0.send(()).unwrap();
                release.1.recv().unwrap();
            })
        };
        taken.1.recv().unwrap();
        assert!(locks.try_lock_stripes(&wanted).is_none(), "y is taken by another thread");
        let x = locks.stripe(b"", 0, b"x");
        assert!(!HELD.with(|h| h.borrow()[x]), "x was given back");
        assert!(locks.stripes[x].try_lock().is_ok());
        release.0.send(()).unwrap();
        holder.join().unwrap();
        let guards = locks.try_lock_stripes(&wanted).expect("both free now");
        assert!(!guards.is_empty());
        assert!(locks.try_lock_stripes(&wanted).expect("held by this thread: re-entrant").is_empty());
    }

    #[test]
    fn locks_are_reentrant_within_a_thread() {
        let locks = KeyLocks::new();
        let outer = locks.lock(b"", 0, [&b"a"[..], b"b"].into_iter());
        {
            let _inner = locks.lock(b"", 0, std::iter::once(&b"a"[..]));
            let _all = locks.lock_all();
        }
        // The inner guards released only what they took: "a" is still held by `outer`.
        let stripe = locks.stripe(b"", 0, b"a");
        assert!(HELD.with(|h| h.borrow()[stripe]));
        assert!(locks.stripes[stripe].try_lock().is_err());
        drop(outer);
        assert!(locks.stripes[stripe].try_lock().is_ok());
    }
}
