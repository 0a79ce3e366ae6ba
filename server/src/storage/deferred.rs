//! Deferred commits: the batches of the commands a worker thread runs in one turn (a
//! pipelined read, and the reads of its other ready connections) joined into a single
//! RocksDB write, so sixteen pipelined SETs cost one WAL append instead of sixteen.
//!
//! Deferring is per thread (see write_session.rs): every reply that acknowledges a deferred
//! write waits for the joined write's `Outcome`, and the key locks of the commands that wrote
//! stay held until it lands, so nobody reads or acknowledges anything the database does not
//! hold.
//!
//! The thread's commands see the deferred writes: point reads (`Storage::get`,
//! `multi_get`) look in an overlay of the deferred puts and deletes first, and an iterator,
//! which the overlay cannot serve, first makes the deferred writes land (their locks stay
//! held). After a deferred range deletion (LTRIM, LPOP with a count; whole-database commands
//! never defer), which the overlay cannot describe, every read lands them first.
//!
//! A command's writes reach here as their records (`Op`s), not as a RocksDB `WriteBatch`:
//! building a batch per command only to rebuild one for the landing cost a pipelined SET
//! 2,000 of its 19,000 instructions (callgrind). What lands is one batch: of one command's
//! records in order, or of each record's last value (from the overlay), then, in order,
//! whatever came from the first write the overlay cannot describe on (a range deletion,
//! which arrives as a `WriteBatch`). Storage encodes the records itself and appends such a
//! batch's bytes after them (batch_bytes.rs), crossing into RocksDB once.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use rocksdb::WriteBatch;

use super::record_cache::Changes;
use super::{Cf, StorageError};

/// The records of one column family in the overlay. aHash, not SipHash: every deferred write
/// is indexed and every read of a session looks here (SipHash was 4% of a pipelined LPUSH);
/// the map is bounded by the session (`MAX_DEFERRED_BYTES`), so flooding it buys nothing.
pub type CfRecords = HashMap<Vec<u8>, Option<Vec<u8>>, ahash::RandomState>;
/// The overlay: each column family's records.
pub type Overlay = HashMap<Cf, CfRecords, ahash::RandomState>;

/// Records a column family's overlay has room for from the start: a pipeline's commands each
/// index their writes as the next one reads, and growing from empty rehashed it four times
/// (2% of a pipelined HSET).
const OVERLAY_INITIAL_RECORDS: usize = 32;

/// Records a column family's emptied overlay may keep room for, to serve the next group
/// (about 200 KiB): a group of `MAX_DEFERRED_COMMANDS` commands writing ten records each fits.
const OVERLAY_KEPT_RECORDS: usize = 4096;

/// Bytes of a record beyond its key and value, at most: tag, column family and two length
/// varints (for keys and values under 2 MB, which are nearly all).
const RECORD_OVERHEAD_BYTES: usize = 10;

/// Bytes of deferred writes past which a connection commits before its next command, so a
/// long pipeline of large values never holds an unbounded batch (or its key locks) in memory.
pub const MAX_DEFERRED_BYTES: usize = 4 << 20;

thread_local! {
    /// The joined batch while this thread defers; `None` when its writes go straight through.
    static PENDING: RefCell<Option<Joined>> = const { RefCell::new(None) };
    /// Batches deferred by this thread, ever: tells whether a command deferred any.
    static DEFERRED_BATCHES: Cell<u64> = const { Cell::new(0) };
    /// The overlay of the thread's last landing, emptied, for its next group: a turn's
    /// records go into tables already grown to the size of the last turn's instead of
    /// allocating them and rehashing them up from `OVERLAY_INITIAL_RECORDS` every turn.
    static SPARE_OVERLAY: RefCell<Overlay> = RefCell::new(Overlay::default());
}

/// One write of a deferred batch, kept for the overlay.
pub(super) struct Op {
    pub cf: Cf,
    pub key: Vec<u8>,
    /// `None`: a deletion.
    pub value: Option<Vec<u8>>,
}

/// One command's writes.
pub(super) enum Writes {
    /// Puts and deletes, which the overlay describes.
    Ops(Vec<Op>),
    /// A batch with a write the overlay cannot describe (a range deletion).
    Batch(WriteBatch),
}

impl Writes {
    /// Bytes it takes in a `WriteBatch`, about.
    fn bytes(&self) -> usize {
        match self {
            Writes::Ops(ops) => ops.iter().map(Op::bytes).sum(),
            Writes::Batch(batch) => batch.data().len() - super::batch_bytes::HEADER_BYTES,
        }
    }
}

impl Op {
    fn bytes(&self) -> usize {
        self.key.len() + self.value.as_ref().map_or(0, Vec::len) + RECORD_OVERHEAD_BYTES
    }
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

/// Writes deferred so far.
#[derive(Default)]
struct Joined {
    /// Commands whose writes were deferred.
    commands: usize,
    bytes: usize,
    /// Writes not yet indexed in `overlay` (indexed when first read or landed).
    unindexed: Vec<Op>,
    /// The latest deferred value of each record written, by column family.
    overlay: Overlay,
    /// In order, the writes from the first one the overlay cannot describe on; while any is
    /// here, reads land everything first.
    tail: Vec<Writes>,
    /// Their metadata records, for the record cache.
    metadata: Changes,
    /// What becomes of them, for the replies that wait: made when the first asks.
    outcome: Option<Arc<Outcome>>,
    /// The first landing since `begin` that failed under an iterator (`land_deferred`), kept
    /// across landings: the replies that waited for it learn it from its `outcome`, and EXEC,
    /// which answers for its transaction as a whole, from [`end`].
    failed: Option<StorageError>,
}

/// What became of one joined write: the replies that acknowledged its writes wait for it, on
/// every connection of the thread whose commands joined (write_session.rs).
#[derive(Default, Debug)]
pub struct Outcome(OnceLock<Result<(), StorageError>>);

impl Outcome {
    /// `None` while the write has not landed.
    pub fn get(&self) -> Option<&Result<(), StorageError>> {
        self.0.get()
    }

    fn set(&self, result: &Result<(), StorageError>) {
        let _ = self.0.set(result.clone());
    }
}

impl Joined {
    fn push(&mut self, writes: Writes, metadata: Changes) {
        self.commands += 1;
        self.bytes += writes.bytes();
        self.metadata.extend(metadata);
        match writes {
            Writes::Ops(ops) if self.tail.is_empty() => self.unindexed.extend(ops),
            writes => self.tail.push(writes),
        }
    }

    fn index(&mut self) {
        if self.overlay.is_empty() && !self.unindexed.is_empty() {
            self.overlay = SPARE_OVERLAY.with(|spare| std::mem::take(&mut *spare.borrow_mut()));
        }
        let capacity = self.unindexed.len().max(OVERLAY_INITIAL_RECORDS);
        for op in self.unindexed.drain(..) {
            self.overlay
                .entry(op.cf)
                .or_insert_with(|| CfRecords::with_capacity_and_hasher(capacity, Default::default()))
                .insert(op.key, op.value);
        }
    }

    fn take(&mut self) -> Option<Landing> {
        if self.commands == 0 {
            return None;
        }
        let described = self.commands - self.tail.len();
        let head = if described <= 1 && self.overlay.is_empty() {
            Head::InOrder(std::mem::take(&mut self.unindexed))
        } else {
            // Only the last write of each record matters: sixteen pipelined LPUSHes rewrite
            // one metadata record sixteen times, and the memtable needs it once.
            self.index();
            Head::Latest(std::mem::take(&mut self.overlay))
        };
        let landing = Landing {
            head,
            tail: std::mem::take(&mut self.tail),
            metadata: std::mem::take(&mut self.metadata),
            bytes: self.bytes,
            outcome: self.outcome.take(),
        };
        *self = Joined { failed: self.failed.take(), ..Joined::default() };
        Some(landing)
    }
}

/// The deferred writes, ready to land as one batch: `head`, then `tail`.
pub struct Landing {
    pub(super) head: Head,
    pub(super) tail: Vec<Writes>,
    /// The metadata records among them, for the record cache.
    pub metadata: Changes,
    /// Bytes of their records, about: the landing batch's capacity.
    pub bytes: usize,
    /// Told how the write went, if any reply waits for it.
    pub(super) outcome: Option<Arc<Outcome>>,
}

/// Takes back a landed overlay, which its landing drained, for the thread's next group;
/// tables grown past `OVERLAY_KEPT_RECORDS` (a pipeline of large MSETs) are freed instead.
pub(super) fn recycle(mut overlay: Overlay) {
    overlay.retain(|_, records| records.capacity() <= OVERLAY_KEPT_RECORDS);
    for records in overlay.values_mut() {
        records.clear();
    }
    SPARE_OVERLAY.with(|spare| *spare.borrow_mut() = overlay);
}

/// Tells the replies waiting for a landing (`outcome`) how it went.
pub(super) fn settle(outcome: Option<Arc<Outcome>>, result: &Result<(), StorageError>) {
    if let Some(outcome) = outcome {
        outcome.set(result);
    }
}

/// The writes the overlay describes.
pub(super) enum Head {
    /// One command's, in order.
    InOrder(Vec<Op>),
    /// The last value of each record written (`None`: deleted), by column family.
    Latest(Overlay),
}

/// Starts deferring this thread's writes (joining the deferred ones if it already does).
pub fn begin() {
    PENDING.with(|p| {
        let mut pending = p.borrow_mut();
        if pending.is_none() {
            *pending = Some(Joined::default());
        }
    });
}

/// Stops deferring, once what was deferred has landed (`take`); the failure of a landing
/// under an iterator since [`begin`], if one failed.
pub fn end() -> Option<StorageError> {
    let joined = PENDING.with(|p| p.borrow_mut().take())?;
    // Dropping unlanded writes would lose writes whose replies may be on their way.
    assert_eq!(joined.commands, 0, "deferring ended before its writes landed");
    joined.failed
}

/// What was deferred so far, taken out; deferring goes on.
pub fn take() -> Option<Landing> {
    PENDING.with(|p| p.borrow_mut().as_mut().and_then(Joined::take))
}

/// Bytes deferred so far (0 when not deferring).
pub fn pending_bytes() -> usize {
    PENDING.with(|p| p.borrow().as_ref().map_or(0, |joined| joined.bytes))
}

/// Commands whose writes are deferred (0 when not deferring).
pub fn pending_commands() -> usize {
    PENDING.with(|p| p.borrow().as_ref().map_or(0, |joined| joined.commands))
}

/// What becomes of the writes deferred so far; `None` when none are.
pub fn outcome() -> Option<Arc<Outcome>> {
    PENDING.with(|p| match p.borrow_mut().as_mut() {
        Some(joined) if joined.commands > 0 => Some(joined.outcome.get_or_insert_with(Default::default).clone()),
        _ => None,
    })
}

/// Whether writes are deferred and not landed yet.
pub fn has_pending() -> bool {
    PENDING.with(|p| p.borrow().as_ref().is_some_and(|joined| joined.commands > 0))
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

/// Joins one command's `writes` to the deferred ones; gives them and their `metadata` back
/// when this thread does not defer.
pub(super) fn defer(writes: Writes, metadata: Changes) -> Option<(Writes, Changes)> {
    PENDING.with(|p| match p.borrow_mut().as_mut() {
        Some(joined) => {
            joined.push(writes, metadata);
            DEFERRED_BATCHES.with(|n| n.set(n.get() + 1));
            None
        }
        None => Some((writes, metadata)),
    })
}

/// What the deferred writes say of `key`.
pub(super) fn lookup(cf: Cf, key: &[u8]) -> Seen {
    PENDING.with(|p| match p.borrow_mut().as_mut() {
        Some(joined) if joined.commands > 0 => {
            if !joined.tail.is_empty() {
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

/// Keeps the failure of a joined write that landed under an iterator, for [`end`].
pub(super) fn record_failure(error: StorageError) {
    PENDING.with(|p| {
        if let Some(joined) = p.borrow_mut().as_mut() {
            joined.failed.get_or_insert(error);
        }
    });
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

    fn ops(records: &[(&[u8], Option<&[u8]>)]) -> Writes {
        Writes::Ops(
            records
                .iter()
                .map(|(key, value)| Op { cf: Cf::Metadata, key: key.to_vec(), value: value.map(<[u8]>::to_vec) })
                .collect(),
        )
    }

    #[test]
    fn one_command_lands_in_order_several_by_last_value_and_a_batch_after_them() {
        let mut joined = Joined::default();
        joined.push(ops(&[(b"a", Some(b"1")), (b"a", Some(b"2"))]), Changes::default());
        let Some(Landing { head: Head::InOrder(landed), tail, .. }) = joined.take() else {
            panic!("one command lands as it is")
        };
        assert_eq!(landed.len(), 2);
        assert!(tail.is_empty());
        assert!(joined.take().is_none(), "taking empties it");

        joined.push(ops(&[(b"a", Some(b"1"))]), Changes::default());
        joined.push(Writes::Batch(batch(&[(b"b", None)])), Changes::default());
        joined.push(ops(&[(b"a", Some(b"3"))]), Changes::default());
        let Some(Landing { head: Head::InOrder(head), tail, .. }) = joined.take() else {
            panic!("one command before the batch")
        };
        assert_eq!(head.len(), 1);
        assert!(
            matches!(&tail[..], [Writes::Batch(_), Writes::Ops(after)] if after[0].value.as_deref() == Some(&b"3"[..])),
            "what follows a batch the overlay cannot describe keeps its order"
        );
    }

    #[test]
    fn a_landed_overlay_serves_the_next_group_unless_it_grew_too_large() {
        let group = |records: usize| {
            let mut joined = Joined::default();
            for i in 0..records {
                let key = i.to_be_bytes();
                joined.push(ops(&[(&key, Some(b"v"))]), Changes::default());
            }
            let Some(Landing { head: Head::Latest(mut overlay), .. }) = joined.take() else {
                panic!("several commands land by last value")
            };
            let capacity = overlay[&Cf::Metadata].capacity();
            overlay.values_mut().for_each(|records| records.clear());
            recycle(overlay);
            capacity
        };
        let grown = group(500);
        let spare = SPARE_OVERLAY.with(|spare| spare.borrow().get(&Cf::Metadata).map(|r| (r.len(), r.capacity())));
        assert_eq!(spare, Some((0, grown)), "kept, emptied, with its room");
        assert_eq!(group(2), grown, "the next group indexed into it");
        group(OVERLAY_KEPT_RECORDS + 1);
        assert!(SPARE_OVERLAY.with(|spare| spare.borrow().is_empty()), "a table past the bound is freed");
    }

    #[test]
    fn deferring_is_scoped_and_suspendable() {
        let put = || ops(&[(b"k", Some(b"v"))]);
        assert!(defer(put(), Changes::default()).is_some(), "not deferring yet");
        begin();
        assert!(defer(put(), Changes::default()).is_none());
        assert!(matches!(lookup(Cf::Metadata, b"k"), Seen::Value(Some(v)) if v == b"v"));
        assert!(matches!(lookup(Cf::SubKeys, b"k"), Seen::Unknown), "another column family");
        {
            let _straight = suspend();
            assert!(defer(put(), Changes::default()).is_some(), "suspended");
            assert_eq!(pending_bytes(), 0);
            assert!(!has_pending());
            assert!(matches!(lookup(Cf::Metadata, b"k"), Seen::Unknown));
        }
        assert!(has_pending(), "restored");
        assert_eq!(pending_bytes(), 2 + RECORD_OVERHEAD_BYTES);
        let mut delete_k = Changes::default();
        delete_k.delete(b"k");
        assert!(defer(ops(&[(b"k", None)]), delete_k).is_none());
        let Some(Landing { head: Head::Latest(latest), metadata, .. }) = take() else {
            panic!("two commands described by the overlay")
        };
        assert!(!metadata.is_empty(), "the metadata changes travel with the records");
        assert_eq!(latest[&Cf::Metadata].get(&b"k"[..]), Some(&None), "the last write of k wins");
        assert!(matches!(lookup(Cf::Metadata, b"k"), Seen::Unknown), "landed: the database answers");
        assert!(defer(Writes::Batch(batch(&[(b"k", Some(b"v"))])), Changes::default()).is_none());
        assert!(matches!(lookup(Cf::Metadata, b"other"), Seen::MustLand), "a batch the overlay cannot describe");
        assert!(
            matches!(take(), Some(Landing { head: Head::InOrder(head), tail, .. }) if head.is_empty() && tail.len() == 1)
        );
        assert!(end().is_none(), "no landing failed");
        assert!(defer(put(), Changes::default()).is_some(), "ended");
    }
}
