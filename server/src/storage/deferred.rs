//! Deferred commits: the batches of the commands of one pipelined read joined into a single
//! RocksDB write, so sixteen pipelined SETs cost one WAL append instead of sixteen.
//!
//! Deferring is per thread and scoped by the connection (see write_session.rs): every reply
//! of a read waits for the joined write, and the key locks of the commands that wrote stay
//! held until it lands, so nobody reads or acknowledges anything the database does not hold.
//!
//! The commands of the read itself see the deferred writes: point reads (`Storage::get`,
//! `multi_get`) look in an overlay of the deferred puts and deletes first, and an iterator,
//! which the overlay cannot serve, first makes the deferred writes land (their locks stay
//! held). A deferred range deletion (none is, today: whole-database commands never defer)
//! would make every read land them first.
//!
//! What lands: one batch as it is; several as one batch of each record's last value (from the
//! overlay); or, when the overlay cannot describe them, their bytes joined. A `WriteBatch` is
//! RocksDB's `rep_` string:
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

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use rocksdb::WriteBatch;

use super::record_cache::Changes;
use super::{Cf, StorageError};

/// The records of one column family in the overlay. aHash, not SipHash: every deferred write
/// is indexed and every read of a session looks here (SipHash was 4% of a pipelined LPUSH);
/// the map is bounded by the session (`MAX_DEFERRED_BYTES`), so flooding it buys nothing.
pub type CfRecords = HashMap<Vec<u8>, Option<Vec<u8>>, ahash::RandomState>;

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
    /// Batches deferred by this thread, ever: tells whether a command deferred any.
    static DEFERRED_BATCHES: Cell<u64> = const { Cell::new(0) };
    /// A joined write that failed where nobody could answer for it (under an iterator).
    static FAILURE: RefCell<Option<StorageError>> = const { RefCell::new(None) };
}

/// One write of a deferred batch, kept for the overlay.
pub(super) struct Op {
    pub cf: Cf,
    pub key: Vec<u8>,
    /// `None`: a deletion.
    pub value: Option<Vec<u8>>,
}

/// What the overlay says of a record.
pub(super) enum Seen {
    /// No deferred write touches it: read the database.
    Unknown,
    /// A deferred write put this value (`None`: deleted it).
    Value(Option<Vec<u8>>),
    /// The overlay cannot tell: land the deferred writes, then read the database.
    MustLand,
}

/// Batches deferred so far.
#[derive(Default)]
struct Joined {
    /// Kept whole: one lands as it is, and they are joined byte by byte only when the
    /// overlay cannot describe them.
    batches: Vec<WriteBatch>,
    bytes: usize,
    /// Writes not yet indexed in `overlay` (indexed when first read or landed).
    unindexed: Vec<Op>,
    /// The latest deferred value of each record written, by column family.
    overlay: HashMap<Cf, CfRecords>,
    /// A deferred batch the overlay does not describe (a range deletion).
    overlay_incomplete: bool,
    /// Their metadata records, for the record cache.
    metadata: Changes,
}

impl Joined {
    fn push(&mut self, batch: WriteBatch, ops: Option<Vec<Op>>, metadata: Changes) {
        self.bytes += batch.data().len();
        self.metadata.extend(metadata);
        self.batches.push(batch);
        match ops {
            Some(ops) => self.unindexed.extend(ops),
            None => self.overlay_incomplete = true,
        }
    }

    fn index(&mut self) {
        for op in self.unindexed.drain(..) {
            self.overlay.entry(op.cf).or_default().insert(op.key, op.value);
        }
    }

    fn take(&mut self) -> Option<Landing> {
        let records = match self.batches.len() {
            0 => return None,
            1 => Records::Joined(self.batches.pop().expect("one batch")),
            _ if self.overlay_incomplete => Records::Joined(join(&self.batches)),
            _ => {
                // Only the last write of each record matters: sixteen pipelined LPUSHes rewrite
                // one metadata record sixteen times, and the memtable needs it once.
                self.index();
                Records::Latest(std::mem::take(&mut self.overlay))
            }
        };
        let metadata = std::mem::take(&mut self.metadata);
        *self = Joined::default();
        Some(Landing { records, metadata })
    }
}

/// One batch of the records of all `batches`, in order (see the diagram above).
fn join(batches: &[WriteBatch]) -> WriteBatch {
    let mut rep = vec![0; HEADER_BYTES];
    let mut count = 0u32;
    for batch in batches {
        let data = batch.data();
        count += u32::from_le_bytes(data[COUNT_OFFSET..HEADER_BYTES].try_into().expect("4 bytes"));
        rep.extend_from_slice(&data[HEADER_BYTES..]);
    }
    rep[COUNT_OFFSET..HEADER_BYTES].copy_from_slice(&count.to_le_bytes());
    WriteBatch::from_data(&rep)
}

/// The deferred writes, ready to land as one batch.
pub struct Landing {
    pub records: Records,
    /// The metadata records among them, for the record cache.
    pub metadata: Changes,
}

/// The records of deferred writes.
pub enum Records {
    /// Every batch joined, record for record (the overlay could not describe them all).
    Joined(WriteBatch),
    /// The last value of each record written (`None`: deleted), by column family.
    Latest(HashMap<Cf, CfRecords>),
}

/// Starts deferring this thread's writes (a no-op if it already does).
pub fn begin() {
    PENDING.with(|p| {
        p.borrow_mut().get_or_insert_with(Joined::default);
    });
}

/// Stops deferring; returns what was deferred, for the caller to write.
pub fn end() -> Option<Landing> {
    PENDING.with(|p| p.borrow_mut().take().and_then(|mut joined| joined.take()))
}

/// What was deferred so far, taken out; deferring goes on.
pub fn take() -> Option<Landing> {
    PENDING.with(|p| p.borrow_mut().as_mut().and_then(Joined::take))
}

/// Bytes deferred so far (0 when not deferring).
pub fn pending_bytes() -> usize {
    PENDING.with(|p| p.borrow().as_ref().map_or(0, |joined| joined.bytes))
}

/// Whether writes are deferred and not landed yet.
pub fn has_pending() -> bool {
    pending_bytes() > 0
}

/// Whether this thread defers its writes now.
pub fn is_active() -> bool {
    PENDING.with(|p| p.borrow().is_some())
}

/// Batches this thread ever deferred (compare two readings to tell whether code between
/// them deferred any).
pub fn deferred_batches() -> u64 {
    DEFERRED_BATCHES.with(Cell::get)
}

/// Joins `batch` to the deferred writes, its `ops` to the overlay (`None`: the batch has
/// writes the overlay cannot describe); gives `batch` and its `metadata` back when this
/// thread does not defer.
pub(super) fn defer(batch: WriteBatch, ops: Option<Vec<Op>>, metadata: Changes) -> Option<(WriteBatch, Changes)> {
    PENDING.with(|p| match p.borrow_mut().as_mut() {
        Some(joined) => {
            joined.push(batch, ops, metadata);
            DEFERRED_BATCHES.with(|n| n.set(n.get() + 1));
            None
        }
        None => Some((batch, metadata)),
    })
}

/// What the deferred writes say of `key`.
pub(super) fn lookup(cf: Cf, key: &[u8]) -> Seen {
    PENDING.with(|p| match p.borrow_mut().as_mut() {
        Some(joined) if !joined.batches.is_empty() => {
            if joined.overlay_incomplete {
                return Seen::MustLand;
            }
            joined.index();
            match joined.overlay.get(&cf).and_then(|records| records.get(key)) {
                Some(value) => Seen::Value(value.clone()),
                None => Seen::Unknown,
            }
        }
        _ => Seen::Unknown,
    })
}

/// Keeps the failure of a joined write that landed under an iterator, for the session.
pub(super) fn record_failure(error: StorageError) {
    FAILURE.with(|f| {
        f.borrow_mut().get_or_insert(error);
    });
}

/// The failure of a joined write landed outside the session's own commits, if one failed.
pub fn take_failure() -> Option<StorageError> {
    FAILURE.with(|f| f.borrow_mut().take())
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

    fn batch(records: &[(&[u8], Option<&[u8]>)]) -> WriteBatch {
        let mut batch = WriteBatch::default();
        for (key, value) in records {
            match value {
                Some(value) => batch.put(key, value),
                None => batch.delete(key),
            }
        }
        batch
    }

    #[test]
    fn joined_batches_are_the_batch_of_all_their_records() {
        let both = batch(&[(b"a", Some(b"1")), (b"b", None), (b"c", Some(b"3"))]);
        let mut joined = Joined::default();
        joined.push(batch(&[(b"a", Some(b"1")), (b"b", None)]), None, Changes::default());
        joined.push(batch(&[(b"c", Some(b"3"))]), None, Changes::default());
        let Some(Landing { records: Records::Joined(landed), .. }) = joined.take() else {
            panic!("three records, joined")
        };
        assert_eq!(landed.len(), 3);
        assert_eq!(landed.data(), both.data());
        assert!(joined.take().is_none(), "taking empties it");

        joined.push(batch(&[(b"a", Some(b"1"))]), Some(Vec::new()), Changes::default());
        let Some(Landing { records: Records::Joined(landed), .. }) = joined.take() else {
            panic!("one batch lands as it is")
        };
        assert_eq!(landed.data(), batch(&[(b"a", Some(b"1"))]).data());
    }

    #[test]
    fn deferring_is_scoped_and_suspendable() {
        let put_k = || batch(&[(b"k", Some(b"v"))]);
        let put = || Some(vec![Op { cf: Cf::Metadata, key: b"k".to_vec(), value: Some(b"v".to_vec()) }]);
        assert!(defer(put_k(), put(), Changes::default()).is_some(), "not deferring yet");
        begin();
        assert!(defer(put_k(), put(), Changes::default()).is_none());
        assert!(matches!(lookup(Cf::Metadata, b"k"), Seen::Value(Some(v)) if v == b"v"));
        assert!(matches!(lookup(Cf::SubKeys, b"k"), Seen::Unknown), "another column family");
        {
            let _straight = suspend();
            assert!(defer(put_k(), put(), Changes::default()).is_some(), "suspended");
            assert_eq!(pending_bytes(), 0);
            assert!(matches!(lookup(Cf::Metadata, b"k"), Seen::Unknown));
        }
        assert!(pending_bytes() > HEADER_BYTES, "restored");
        let mut delete_k = Changes::default();
        delete_k.delete(b"k");
        let ops = Some(vec![Op { cf: Cf::Metadata, key: b"k".to_vec(), value: None }]);
        assert!(defer(put_k(), ops, delete_k).is_none());
        let Some(Landing { records: Records::Latest(latest), metadata }) = take() else {
            panic!("two batches described by the overlay")
        };
        assert!(!metadata.is_empty(), "the metadata changes travel with the records");
        assert_eq!(latest[&Cf::Metadata].get(&b"k"[..]), Some(&None), "the last write of k wins");
        assert!(matches!(lookup(Cf::Metadata, b"k"), Seen::Unknown), "landed: the database answers");
        assert!(defer(put_k(), None, Changes::default()).is_none());
        assert!(matches!(lookup(Cf::Metadata, b"other"), Seen::MustLand), "a batch the overlay cannot describe");
        assert!(matches!(end(), Some(Landing { records: Records::Joined(b), .. }) if b.len() == 1));
        assert!(defer(put_k(), put(), Changes::default()).is_some(), "ended");
    }
}
