//! Which user keys the batches written by this thread changed, so WATCH can be told exactly
//! the keys a command modified (Redis's `signalModifiedKey`), whatever the command: a
//! `DEL present missing` changes `present` only, a `*STORE` whose empty result finds no
//! destination changes nothing.
//!
//! Handlers run synchronously on one thread, so a thread-local log scoped by dispatch
//! (`take` before and after the handler) sees exactly one command's writes.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::encoding::parse_sub_key;

/// A changed key: namespace, physical db, user key.
pub type WrittenKey = (Vec<u8>, u8, Vec<u8>);

/// What a batch changed.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub keys: Vec<WrittenKey>,
    /// Databases a range deletion emptied (every key in them changed).
    pub whole_dbs: Vec<(Vec<u8>, u8)>,
}

impl Written {
    /// Records the user key of a metadata key.
    pub fn meta_key(&mut self, meta_key: &[u8]) {
        let Some(&ns_len) = meta_key.first() else { return };
        let ns_len = ns_len as usize;
        let (Some(ns), Some(&db)) = (meta_key.get(1..1 + ns_len), meta_key.get(1 + ns_len)) else { return };
        self.push(ns, db, &meta_key[2 + ns_len..]);
    }

    /// Records the user key of a sub-key (or a score-index key).
    pub fn sub_key(&mut self, sub_key: &[u8]) {
        if let Some(parts) = parse_sub_key(sub_key) {
            self.push(parts.ns, parts.db, parts.user_key);
        }
    }

    /// Records a range deletion starting at `from`: a database prefix `[ns_len][ns][db]`
    /// (every key of the database changed), or a sub-key (a run of one collection's elements,
    /// such as LPOP with a count: only that collection's key changed).
    pub fn range(&mut self, from: &[u8]) {
        let Some(&ns_len) = from.first() else { return };
        let ns_len = ns_len as usize;
        if from.len() > 2 + ns_len {
            self.sub_key(from);
            return;
        }
        if let (Some(ns), Some(&db)) = (from.get(1..1 + ns_len), from.get(1 + ns_len)) {
            if !self.whole_dbs.iter().any(|(n, d)| n == ns && *d == db) {
                self.whole_dbs.push((ns.to_vec(), db));
            }
        }
    }

    fn push(&mut self, ns: &[u8], db: u8, key: &[u8]) {
        // Sub-keys of one collection come in runs: compare with the last one only.
        if let Some((last_ns, last_db, last_key)) = self.keys.last() {
            if last_ns == ns && *last_db == db && last_key == key {
                return;
            }
        }
        self.keys.push((ns.to_vec(), db, key.to_vec()));
    }

    fn append(&mut self, other: Written) {
        // Mostly one batch per command: taken over whole, not copied key by key.
        if self.is_empty() {
            *self = other;
            return;
        }
        for (ns, db, key) in other.keys {
            self.push(&ns, db, &key);
        }
        for whole in other.whole_dbs {
            if !self.whole_dbs.contains(&whole) {
                self.whole_dbs.push(whole);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.whole_dbs.is_empty()
    }
}

/// How many watches wait to hear of written keys (WATCH's watched keys, counted by
/// watch.rs). While there are none, batches record no keys: copying each written key into
/// the log cost a pipelined SET 2% of its instructions, for a list nobody read.
///
/// Reading it once per batch is enough: a command holds its keys' locks from before it builds
/// its batch until the batch lands, and WATCH takes the same locks to register, so a key
/// cannot become watched between the read and the write.
#[derive(Clone, Debug, Default)]
pub struct Interest(Arc<AtomicUsize>);

impl Interest {
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    pub fn remove(&self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }

    /// How many watches there are.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

thread_local! {
    static LOG: RefCell<Written> = RefCell::new(Written::default());
}

/// Adds a written batch's keys to this thread's log.
pub(super) fn record(written: Written) {
    LOG.with(|log| log.borrow_mut().append(written));
}

/// Takes (and clears) this thread's log.
pub fn take() -> Written {
    LOG.with(|log| std::mem::take(&mut *log.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::encoding::{db_prefix, meta_key, sub_key, sub_key_prefix};

    #[test]
    fn records_user_keys_once_per_run_and_whole_databases() {
        let mut w = Written::default();
        w.meta_key(&meta_key(b"ns", 3, b"k"));
        let prefix = sub_key_prefix(b"ns", 3, b"k", 7);
        w.sub_key(&sub_key(&prefix, b"a"));
        w.sub_key(&sub_key(&prefix, b"b"));
        w.meta_key(&meta_key(b"", 0, b""));
        w.range(&db_prefix(b"", 1));
        // A range of one collection's elements (LPOP with a count) changes that key only.
        w.range(&sub_key(&sub_key_prefix(b"", 2, b"list", 9), b"\x00\x01"));
        assert_eq!(
            w.keys,
            vec![(b"ns".to_vec(), 3, b"k".to_vec()), (vec![], 0, vec![]), (vec![], 2, b"list".to_vec())]
        );
        assert_eq!(w.whole_dbs, vec![(vec![], 1)]);
        record(w.clone());
        assert_eq!(take(), w);
        assert!(take().is_empty());
    }
}
