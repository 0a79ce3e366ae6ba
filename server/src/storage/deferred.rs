//! Deferred commits: the batches of the commands of one pipelined read joined into a single
//! RocksDB write, so sixteen pipelined SETs cost one WAL append instead of sixteen.
//!
//! Deferring is per thread and scoped by the connection (see write_session.rs): every reply
//! of a read waits for the joined write, and the key locks of the commands that wrote stay
//! held until it lands, so nobody reads or acknowledges anything the database does not hold.
//!
//! Batches are joined as bytes. A `WriteBatch` is RocksDB's `rep_` string:
//!
//! ```text
//!  0                8            12
//! ┌────────────────┬────────────┬──────────┬──────────┬─────┐
//! │ sequence (u64) │ count (u32)│ record 1 │ record 2 │ ... │
//! │ LE, set by the │ LE         │ tag, cf, key, value: each  │
//! │ write          │            │ record delimits itself     │
//! └────────────────┴────────────┴──────────┴──────────┴─────┘
//! ```
//!
//! so the join of two batches is the records of both, in order, with the counts added.

use std::cell::RefCell;

use rocksdb::WriteBatch;

/// Bytes before the first record of a batch: sequence and count.
const HEADER_BYTES: usize = 12;
/// Where the record count sits in the header.
const COUNT_OFFSET: usize = 8;

/// Bytes of deferred writes past which a connection commits before its next command, so a
/// long pipeline of large values never holds an unbounded batch (or its key locks) in memory.
pub const MAX_DEFERRED_BYTES: usize = 4 << 20;

thread_local! {
    /// The joined batch while this thread defers; `None` when its writes go straight through.
    static PENDING: RefCell<Option<Joined>> = const { RefCell::new(None) };
}

/// Batches joined so far.
#[derive(Default)]
struct Joined {
    rep: Vec<u8>,
    count: u32,
}

impl Joined {
    fn append(&mut self, batch: &[u8]) {
        if self.rep.is_empty() {
            self.rep.extend_from_slice(&[0; HEADER_BYTES]);
        }
        let count = u32::from_le_bytes(batch[COUNT_OFFSET..HEADER_BYTES].try_into().expect("4 bytes"));
        self.rep.extend_from_slice(&batch[HEADER_BYTES..]);
        self.count += count;
        self.rep[COUNT_OFFSET..HEADER_BYTES].copy_from_slice(&self.count.to_le_bytes());
    }

    fn take(&mut self) -> Option<WriteBatch> {
        if self.count == 0 {
            return None;
        }
        let batch = WriteBatch::from_data(&self.rep);
        self.rep.clear();
        self.count = 0;
        Some(batch)
    }
}

/// Starts deferring this thread's writes (a no-op if it already does).
pub fn begin() {
    PENDING.with(|p| {
        p.borrow_mut().get_or_insert_with(Joined::default);
    });
}

/// Stops deferring; returns what was deferred, for the caller to write.
pub fn end() -> Option<WriteBatch> {
    PENDING.with(|p| p.borrow_mut().take().and_then(|mut joined| joined.take()))
}

/// What was deferred so far, taken out; deferring goes on.
pub fn take() -> Option<WriteBatch> {
    PENDING.with(|p| p.borrow_mut().as_mut().and_then(Joined::take))
}

/// Bytes deferred so far (0 when not deferring).
pub fn pending_bytes() -> usize {
    PENDING.with(|p| p.borrow().as_ref().map_or(0, |joined| joined.rep.len()))
}

/// Appends `batch` to the deferred writes; false (nothing done) when this thread does not
/// defer.
pub(super) fn defer(batch: &WriteBatch) -> bool {
    PENDING.with(|p| match p.borrow_mut().as_mut() {
        Some(joined) => {
            joined.append(batch.data());
            true
        }
        None => false,
    })
}

/// Writes go straight through until the guard drops (commands that must see their own writes
/// land at once: EXEC, a waiter's command served on another's behalf, whole-database ones).
pub fn suspend() -> Suspended {
    Suspended(PENDING.with(|p| p.borrow_mut().take()))
}

/// Restores the deferred writes set aside by [`suspend`].
pub struct Suspended(Option<Joined>);

impl Drop for Suspended {
    fn drop(&mut self) {
        if let Some(joined) = self.0.take() {
            PENDING.with(|p| *p.borrow_mut() = Some(joined));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_batches_are_the_batch_of_all_their_records() {
        let mut first = WriteBatch::default();
        first.put(b"a", b"1");
        first.delete(b"b");
        let mut second = WriteBatch::default();
        second.put(b"c", b"3");
        let mut both = WriteBatch::default();
        both.put(b"a", b"1");
        both.delete(b"b");
        both.put(b"c", b"3");

        let mut joined = Joined::default();
        joined.append(first.data());
        joined.append(second.data());
        let batch = joined.take().expect("three records");
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.data(), both.data());
        assert!(joined.take().is_none(), "taking empties it");
    }

    #[test]
    fn deferring_is_scoped_and_suspendable() {
        let mut batch = WriteBatch::default();
        batch.put(b"k", b"v");
        assert!(!defer(&batch), "not deferring yet");
        begin();
        assert!(defer(&batch));
        {
            let _straight = suspend();
            assert!(!defer(&batch), "suspended");
            assert_eq!(pending_bytes(), 0);
        }
        assert!(pending_bytes() > HEADER_BYTES, "restored");
        assert_eq!(take().map(|b| b.len()), Some(1));
        assert!(defer(&batch));
        assert_eq!(end().map(|b| b.len()), Some(1));
        assert!(!defer(&batch), "ended");
    }
}
