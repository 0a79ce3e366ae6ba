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
//! `multi_get`) look in an overlay of the deferred puts and deletes first, then in the
//! overlays of the groups the thread handed to its lander (lander.rs) and has not seen land
//! (`FLIGHTS`), and an iterator, which no overlay can serve, first makes the deferred writes
//! and the groups in flight land (their locks stay held). After a deferred range deletion (LTRIM, LPOP with a count; whole-database commands
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
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};

use rocksdb::WriteBatch;
use smallvec::SmallVec;

use super::record_cache::CachedChanges;
use super::{Cf, StorageError};

/// The records of one column family in the overlay. aHash, not SipHash: every deferred write
/// is indexed and every read of a session looks here (SipHash was 4% of a pipelined LPUSH);
/// the map is bounded by the session (`MAX_DEFERRED_BYTES`), so flooding it buys nothing.
pub type CfRecords = HashMap<Vec<u8>, Option<Vec<u8>>, ahash::RandomState>;

/// The overlay: each column family's records, in a slot per family (`Cf::index`). A map
/// keyed by family hashed the family on every read and every indexed write of a record, in
/// each overlay a read looks in. A slot's table is made on its first write: each table's
/// hasher draws its own random keys, which for four tables per group cost a GET at `-P 1`
/// (a group per turn) 500 instructions.
#[derive(Default)]
pub struct Overlay([Option<CfRecords>; Cf::ALL.len()]);

impl Overlay {
    fn records(&self, cf: Cf) -> Option<&CfRecords> {
        self.0[cf.index()].as_ref()
    }

    /// Whether it holds no record (a recycled overlay keeps its tables' room).
    fn is_empty(&self) -> bool {
        self.0.iter().flatten().all(HashMap::is_empty)
    }

    /// Each column family with its records.
    pub(super) fn families(&self) -> impl Iterator<Item = (Cf, &CfRecords)> {
        Cf::ALL.into_iter().zip(&self.0).filter_map(|(cf, records)| Some((cf, records.as_ref()?)))
    }
}

/// Records a column family's overlay has room for from the start: a pipeline's commands each
/// index their writes as the next one reads, and growing from empty rehashed it four times
/// (2% of a pipelined HSET).
const OVERLAY_INITIAL_RECORDS: usize = 32;

/// Records a column family's emptied overlay may keep room for, to serve the next group
/// (about 200 KiB): a group of `MAX_DEFERRED_COMMANDS` commands writing ten records each fits.
const OVERLAY_KEPT_RECORDS: usize = 4096;

/// Emptied overlays a thread keeps for its next groups (`SPARE_OVERLAYS`): the one it defers
/// into and the one of the group in flight before it.
const SPARE_OVERLAYS_KEPT: usize = 2;

/// Bytes of a record beyond its key and value, at most: tag, column family and two length
/// varints (for keys and values under 2 MB, which are nearly all).
const RECORD_OVERHEAD_BYTES: usize = 10;

/// Bytes of deferred writes past which a connection commits before its next command, so a
/// long pipeline of large values never holds an unbounded batch (or its key locks) in memory.
pub const MAX_DEFERRED_BYTES: usize = 4 << 20;

/// Write groups a thread may have handed to its lander (lander.rs) and not seen land: the
/// next hand-off waits for the oldest, so a worker that outruns RocksDB keeps at most this
/// many groups' overlays (each under `MAX_DEFERRED_BYTES`) and parked stripes.
pub const MAX_GROUPS_IN_FLIGHT: usize = 4;

thread_local! {
    /// The thread's write group: made by its first [`begin`] and kept, idle (no commands)
    /// while the thread does not defer, for the next: making a group at every read's `begin`
    /// and dropping it at its `end` was ~250 instructions of a GET at `-P 1`. `None` only
    /// before the first `begin` and while [`suspend`]ed.
    static PENDING: RefCell<Option<Joined>> = const { RefCell::new(None) };
    /// Whether this thread defers its writes now (between [`begin`] and [`end`], outside a
    /// [`suspend`]); `PENDING` then holds a group.
    static DEFERRING: Cell<bool> = const { Cell::new(false) };
    /// Batches deferred by this thread, ever: tells whether a command deferred any.
    static DEFERRED_BATCHES: Cell<u64> = const { Cell::new(0) };
    /// The overlays of the thread's last landings, emptied, for its next groups: a turn's
    /// records go into tables already grown to the size of the last turn's instead of
    /// allocating them and rehashing them up from `OVERLAY_INITIAL_RECORDS` every turn. More
    /// than one: a pipelined group indexes its first writes while the group before it is
    /// still in flight, whose overlay only comes back once it lands (with one spare, the
    /// next group mostly had none: growing its tables rehashed them, ~50 of a pipelined
    /// HSET's 7.0 k worker instructions, 11 with two).
    static SPARE_OVERLAYS: RefCell<Vec<Overlay>> = const { RefCell::new(Vec::new()) };
    /// The groups this thread handed to its lander, oldest first, until it sees them land:
    /// its reads look in their overlays after the current group's.
    static FLIGHTS: RefCell<VecDeque<Flight>> = const { RefCell::new(VecDeque::new()) };
    /// `FLIGHTS`' length, read without borrowing it: every read and every reply asks
    /// whether anything is in flight, and mostly nothing is (the borrow and the empty walk
    /// cost a pipelined GET ~120 instructions).
    static FLIGHT_COUNT: Cell<usize> = const { Cell::new(0) };
    /// The number of this thread's next write group: groups are numbered in the order they
    /// land, so "every group up to n landed" tells which parked stripes may go (locks.rs).
    static NEXT_GROUP: Cell<u64> = const { Cell::new(1) };
    /// How many cached records (metadata, members) the thread's last group had: a group's
    /// first command reserves that much, where growing from one record by doubling was 15%
    /// of a pipelined 10-key MSET's worker instructions. Bounded by `MAX_DEFERRED_BYTES`.
    static LAST_GROUP_CACHED: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

fn next_group() -> u64 {
    NEXT_GROUP.with(|next| next.replace(next.get() + 1))
}

/// A group handed to the lander and not yet seen landed.
struct Flight {
    group: u64,
    /// Its records, for reads: one command's stay in order until the first read indexes them.
    head: Head,
    outcome: Arc<Outcome>,
}

impl Flight {
    fn lookup(&mut self, cf: Cf, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        if let Head::InOrder(ops) = &mut self.head {
            let mut overlay = Overlay::default();
            index_into(&mut overlay, ops);
            self.head = Head::Latest(overlay);
        }
        match &self.head {
            Head::Latest(overlay) => overlay.records(cf)?.get(key),
            Head::InOrder(_) => unreachable!("indexed above"),
        }
    }
}

/// Moves `ops` into `overlay`, the later write of a record over the earlier.
fn index_into(overlay: &mut Overlay, ops: &mut Vec<Op>) {
    let capacity = ops.len().max(OVERLAY_INITIAL_RECORDS);
    for op in ops.drain(..) {
        overlay.0[op.cf.index()]
            .get_or_insert_with(|| CfRecords::with_capacity_and_hasher(capacity, Default::default()))
            .insert(op.key, op.value);
    }
}

/// One write of a deferred batch, kept for the overlay.
pub(super) struct Op {
    pub cf: Cf,
    pub key: Vec<u8>,
    /// `None`: a deletion.
    pub value: Option<Vec<u8>>,
}

/// One command's puts and deletes. Most commands write one record (SET, INCR), which sits
/// inline: a vector was an allocation per pipelined SET.
pub(super) type Ops = SmallVec<[Op; 1]>;

/// Room a command's writes get when they first outgrow `Ops`'s inline one: a ZADD of a new
/// member writes three records (member, score index, metadata), and growing to two and
/// then to four was ~400 of its ~12 k pipelined worker instructions.
const OPS_FIRST_SPILL: usize = 4;

/// Appends `op` to `ops`, spilling them to the heap at `OPS_FIRST_SPILL` at once.
pub(super) fn push_op(ops: &mut Ops, op: Op) {
    if !ops.spilled() && ops.len() == ops.inline_size() {
        ops.reserve_exact(OPS_FIRST_SPILL.saturating_sub(ops.len()));
    }
    ops.push(op);
}

/// One command's writes.
pub(super) enum Writes {
    /// Puts and deletes, which the overlay describes.
    Ops(Ops),
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

/// What the overlay says of a record, seen as a `T`.
pub(super) enum Seen<T> {
    /// No deferred write touches it: read the database.
    Unknown,
    /// A deferred write put this value (`None`: deleted it).
    Value(Option<T>),
    /// The overlay cannot tell: land the deferred writes, then read the database.
    MustLand,
}

/// Writes deferred so far.
#[derive(Default)]
struct Joined {
    /// Its number (see `NEXT_GROUP`).
    group: u64,
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
    /// Their cached records, for the record caches.
    cached: CachedChanges,
    /// What becomes of them, for the replies that wait: made when the first asks.
    outcome: Option<Arc<Outcome>>,
    /// The first landing since `begin` that failed under an iterator (`land_deferred`), kept
    /// across landings: the replies that waited for it learn it from its `outcome`, and EXEC,
    /// which answers for its transaction as a whole, from [`end`].
    failed: Option<StorageError>,
    /// A group this thread handed off before failed to land while these commands ran: they
    /// may have read its writes, so theirs must not land either.
    poisoned: Option<StorageError>,
}

/// What became of one joined write: the replies that acknowledged its writes wait for it, on
/// every connection of the thread whose commands joined (write_session.rs).
#[derive(Default, Debug)]
pub struct Outcome {
    result: OnceLock<Result<(), StorageError>>,
    /// Wakes the connections awaiting it (`landed`).
    awaited: tokio::sync::Notify,
    /// Wakes a thread blocked on it (`wait`): one that must read what no overlay can show.
    /// `set` takes the lock between setting `result` and signalling, so a waiter that saw
    /// no result under the lock is waiting by the time it is signalled. parking_lot's, as
    /// std's `notify_all` makes a `futex` call even with no one waiting, and nearly no
    /// landing has a waiter: that was one system call per landing.
    set: parking_lot::Mutex<()>,
    set_signal: parking_lot::Condvar,
}

impl Outcome {
    /// `None` while the write has not landed.
    pub fn get(&self) -> Option<&Result<(), StorageError>> {
        self.result.get()
    }

    /// Records how the write went, once, and wakes whoever waits for it.
    pub(super) fn set(&self, result: &Result<(), StorageError>) {
        let _ = self.result.set(result.clone());
        self.awaited.notify_waiters();
        drop(self.set.lock());
        self.set_signal.notify_all();
    }

    /// How the write went, once it landed.
    pub async fn landed(&self) -> &Result<(), StorageError> {
        loop {
            let notified = self.awaited.notified();
            tokio::pin!(notified);
            // Registered before the check: a `set` between the two still wakes it.
            notified.as_mut().enable();
            if let Some(result) = self.result.get() {
                return result;
            }
            notified.await;
        }
    }

    /// [`Outcome::landed`], blocking the thread.
    fn wait(&self) -> &Result<(), StorageError> {
        let mut set = self.set.lock();
        loop {
            if let Some(result) = self.result.get() {
                return result;
            }
            self.set_signal.wait(&mut set);
        }
    }
}

impl Joined {
    #[inline]
    fn push(&mut self, writes: Writes, cached: CachedChanges) {
        if self.commands == 0 {
            let (metadata, sub_keys) = LAST_GROUP_CACHED.get();
            self.cached.metadata.reserve(metadata);
            self.cached.sub_keys.reserve(sub_keys);
        }
        self.commands += 1;
        self.bytes += writes.bytes();
        self.cached.extend(cached);
        match writes {
            Writes::Ops(ops) if self.tail.is_empty() => self.unindexed.extend(ops),
            writes => self.tail.push(writes),
        }
    }

    fn index(&mut self) {
        if self.overlay.is_empty() && !self.unindexed.is_empty() {
            self.overlay = SPARE_OVERLAYS.with(|spares| spares.borrow_mut().pop().unwrap_or_default());
        }
        index_into(&mut self.overlay, &mut self.unindexed);
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
            group: self.group,
            head,
            tail: std::mem::take(&mut self.tail),
            cached: std::mem::take(&mut self.cached),
            bytes: self.bytes,
            outcome: self.outcome.take(),
            poisoned: self.poisoned.take(),
        };
        LAST_GROUP_CACHED.set((landing.cached.metadata.len(), landing.cached.sub_keys.len()));
        *self = Joined { group: next_group(), failed: self.failed.take(), ..Joined::default() };
        Some(landing)
    }
}

/// The deferred writes, ready to land as one batch: `head`, then `tail`.
pub struct Landing {
    pub(super) group: u64,
    pub(super) head: Head,
    pub(super) tail: Vec<Writes>,
    /// The cached records among them (metadata, collection members), for the record caches.
    pub cached: CachedChanges,
    /// Bytes of their records, about: the landing batch's capacity.
    pub bytes: usize,
    /// Told how the write went, if any reply waits for it.
    pub(super) outcome: Option<Arc<Outcome>>,
    /// It must not land: an earlier group it may have read failed (`Joined::poisoned`).
    pub(super) poisoned: Option<StorageError>,
}

/// Takes back a landed overlay, which its landing drained, for the thread's next group;
/// tables grown past `OVERLAY_KEPT_RECORDS` (a pipeline of large MSETs) are freed instead.
pub(super) fn recycle(mut overlay: Overlay) {
    for slot in &mut overlay.0 {
        match slot {
            Some(records) if records.capacity() <= OVERLAY_KEPT_RECORDS => records.clear(),
            _ => *slot = None,
        }
    }
    if overlay.0.iter().any(Option::is_some) {
        SPARE_OVERLAYS.with(|spares| {
            let mut spares = spares.borrow_mut();
            if spares.len() < SPARE_OVERLAYS_KEPT {
                spares.push(overlay);
            }
        });
    }
}

/// Tells the replies waiting for a landing (`outcome`) how it went.
pub(super) fn settle(outcome: Option<Arc<Outcome>>, result: &Result<(), StorageError>) {
    if let Some(outcome) = outcome {
        outcome.set(result);
    }
}

/// The writes the overlay describes. Its overlay sits inline: a head moves a few times per
/// write group, where boxing it would allocate once per group.
#[allow(clippy::large_enum_variant)]
pub(super) enum Head {
    /// One command's, in order.
    InOrder(Vec<Op>),
    /// The last value of each record written (`None`: deleted), by column family.
    Latest(Overlay),
}

/// Starts deferring this thread's writes (joining the deferred ones if it already does).
pub fn begin() {
    if DEFERRING.replace(true) {
        return;
    }
    PENDING.with(|p| {
        let mut pending = p.borrow_mut();
        if pending.is_none() {
            *pending = Some(Joined { group: next_group(), ..Joined::default() });
        }
    });
}

/// Stops deferring, once what was deferred has landed (`take`); the failure of a landing
/// under an iterator since [`begin`], if one failed.
pub fn end() -> Option<StorageError> {
    if !DEFERRING.replace(false) {
        return None;
    }
    PENDING.with(|p| {
        let mut pending = p.borrow_mut();
        let joined = pending.as_mut().expect("a thread that defers has a group");
        // Dropping unlanded writes would lose writes whose replies may be on their way.
        assert_eq!(joined.commands, 0, "deferring ended before its writes landed");
        // Kept idle for the next `begin`, with nothing of this session's: a failure seen
        // from now on is no business of the commands that will join it.
        joined.poisoned = None;
        joined.failed.take()
    })
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

/// What becomes of the writes deferred so far, or else of the last group in flight: a reply
/// that may reveal them waits for it. `None` when nothing is unlanded.
pub fn outcome() -> Option<Arc<Outcome>> {
    PENDING
        .with(|p| match p.borrow_mut().as_mut() {
            Some(joined) if joined.commands > 0 => Some(joined.outcome.get_or_insert_with(Default::default).clone()),
            _ => None,
        })
        .or_else(newest_in_flight)
}

/// Whether `outcome` is that of the writes deferred now, not yet handed off.
pub fn is_current(outcome: &Arc<Outcome>) -> bool {
    PENDING.with(|p| {
        p.borrow().as_ref().and_then(|joined| joined.outcome.as_ref()).is_some_and(|o| Arc::ptr_eq(o, outcome))
    })
}

/// The number of the group the next deferred write joins.
pub fn current_group() -> u64 {
    PENDING.with(|p| p.borrow().as_ref().map_or(0, |joined| joined.group))
}

/// Every group numbered up to the returned one has landed (or failed): their parked stripes
/// may go.
pub fn landed_through() -> u64 {
    retire();
    let in_flight =
        (in_flight() > 0).then(|| FLIGHTS.with(|f| f.borrow().front().map(|flight| flight.group))).flatten();
    let unlanded = in_flight.or_else(|| {
        PENDING.with(|p| p.borrow().as_ref().filter(|joined| joined.commands > 0).map(|joined| joined.group))
    });
    unlanded.map_or(u64::MAX, |group| group - 1)
}

/// The outcome of the newest group this thread handed off and has not seen land.
pub fn newest_in_flight() -> Option<Arc<Outcome>> {
    if in_flight() == 0 {
        return None;
    }
    FLIGHTS.with(|f| f.borrow().back().map(|flight| flight.outcome.clone()))
}

/// Groups this thread handed off and has not seen land.
pub fn in_flight() -> usize {
    FLIGHT_COUNT.with(Cell::get)
}

/// Keeps a handed-off group readable until it lands; the outcome of the group before it, if
/// that one is still in flight (the new one may have read its writes).
pub(super) fn push_flight(group: u64, head: Head, outcome: Arc<Outcome>) -> Option<Arc<Outcome>> {
    FLIGHTS.with(|f| {
        let mut flights = f.borrow_mut();
        let after = flights.back().map(|flight| flight.outcome.clone());
        flights.push_back(Flight { group, head, outcome });
        FLIGHT_COUNT.with(|count| count.set(flights.len()));
        after
    })
}

/// Forgets the groups in flight that landed, oldest first. One that failed poisons the
/// writes deferred now (their commands may have read its writes); the groups handed off
/// after it fail with it on their own (lander.rs).
pub fn retire() {
    while in_flight() > 0 {
        let landed = FLIGHTS.with(|f| {
            let mut flights = f.borrow_mut();
            let landed = match flights.front().map(|flight| flight.outcome.get().is_some()) {
                Some(true) => flights.pop_front(),
                _ => None,
            };
            FLIGHT_COUNT.with(|count| count.set(flights.len()));
            landed
        });
        let Some(flight) = landed else {
            return;
        };
        if let (Some(Err(e)), true) = (flight.outcome.get(), DEFERRING.get()) {
            PENDING.with(|p| {
                if let Some(joined) = p.borrow_mut().as_mut() {
                    joined.poisoned.get_or_insert_with(|| e.clone());
                }
            });
        }
        if let Head::Latest(overlay) = flight.head {
            recycle(overlay);
        }
    }
}

/// Blocks until the oldest group in flight landed, and retires it.
pub fn wait_oldest() {
    let oldest = FLIGHTS.with(|f| f.borrow().front().map(|flight| flight.outcome.clone()));
    if let Some(outcome) = oldest {
        outcome.wait();
    }
    retire();
}

/// Blocks until every group in flight landed: before this thread reads what no overlay can
/// show (an iterator) or writes past its groups.
pub fn wait_all() {
    while in_flight() > 0 {
        wait_oldest();
    }
}

/// Whether writes are deferred and not landed yet.
pub fn has_pending() -> bool {
    PENDING.with(|p| p.borrow().as_ref().is_some_and(|joined| joined.commands > 0))
}

/// Whether writes no overlay describes (a range deletion) are deferred.
pub fn has_tail() -> bool {
    PENDING.with(|p| p.borrow().as_ref().is_some_and(|joined| !joined.tail.is_empty()))
}

/// Whether this thread defers its writes now.
pub fn is_active() -> bool {
    DEFERRING.get()
}

/// Batches this thread ever deferred (compare two readings to tell whether code between
/// them deferred any).
pub fn deferred_batches() -> u64 {
    DEFERRED_BATCHES.with(Cell::get)
}

/// Joins one command's `writes` to the deferred ones; gives them and their `cached` changes back
/// when this thread does not defer.
#[inline]
pub(super) fn defer(writes: Writes, cached: CachedChanges) -> Option<(Writes, CachedChanges)> {
    if !DEFERRING.get() {
        return Some((writes, cached));
    }
    PENDING.with(|p| p.borrow_mut().as_mut().expect("a thread that defers has a group").push(writes, cached));
    DEFERRED_BATCHES.with(|n| n.set(n.get() + 1));
    None
}

/// What the deferred writes, then the groups in flight, say of `key`, its value seen
/// through `read` (copying it out only if `read` does).
pub(super) fn lookup<T>(cf: Cf, key: &[u8], mut read: impl FnMut(&[u8]) -> T) -> Seen<T> {
    let seen = PENDING.with(|p| match p.borrow_mut().as_mut() {
        Some(joined) if joined.commands > 0 => {
            if !joined.tail.is_empty() {
                return Seen::MustLand;
            }
            joined.index();
            match joined.overlay.records(cf).and_then(|records| records.get(key)) {
                Some(value) => Seen::Value(value.as_deref().map(&mut read)),
                None => Seen::Unknown,
            }
        }
        _ => Seen::Unknown,
    });
    if !matches!(seen, Seen::Unknown) || in_flight() == 0 {
        return seen;
    }
    FLIGHTS.with(|f| {
        let mut flights = f.borrow_mut();
        let latest = flights.iter_mut().rev().find_map(|flight| flight.lookup(cf, key));
        latest.map_or(Seen::Unknown, |value| Seen::Value(value.as_deref().map(&mut read)))
    })
}

/// Keeps the failure of a joined write that landed under an iterator, for [`end`].
pub(super) fn record_failure(error: StorageError) {
    if !DEFERRING.get() {
        return;
    }
    PENDING.with(|p| {
        p.borrow_mut().as_mut().expect("a thread that defers has a group").failed.get_or_insert(error);
    });
}

/// Writes go straight through until the guard drops (commands that must see their own writes
/// land at once: EXEC, a waiter's command served on another's behalf, whole-database ones).
pub fn suspend() -> Suspended {
    Suspended { group: PENDING.with(|p| p.borrow_mut().take()), deferring: DEFERRING.replace(false) }
}

/// Restores the deferred writes set aside by [`suspend`].
pub struct Suspended {
    group: Option<Joined>,
    deferring: bool,
}

impl Drop for Suspended {
    fn drop(&mut self) {
        if let Some(joined) = self.group.take() {
            PENDING.with(|p| *p.borrow_mut() = Some(joined));
        }
        DEFERRING.set(self.deferring);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commands_writes_spill_once_and_keep_their_order() {
        let mut ops = Ops::new();
        for i in 0..OPS_FIRST_SPILL {
            push_op(&mut ops, Op { cf: Cf::SubKeys, key: vec![i as u8], value: None });
            assert_eq!(ops.spilled(), i > 0, "one write sits inline");
            if i > 0 {
                assert_eq!(ops.capacity(), OPS_FIRST_SPILL, "room for {OPS_FIRST_SPILL} at the first spill");
            }
        }
        push_op(&mut ops, Op { cf: Cf::SubKeys, key: vec![OPS_FIRST_SPILL as u8], value: None });
        let keys: Vec<u8> = ops.iter().map(|op| op.key[0]).collect();
        assert_eq!(keys, (0..=OPS_FIRST_SPILL as u8).collect::<Vec<_>>());
    }

    /// What `lookup` says of `key`, copied out.
    fn seen(cf: Cf, key: &[u8]) -> Seen<Vec<u8>> {
        lookup(cf, key, <[u8]>::to_vec)
    }

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
        joined.push(ops(&[(b"a", Some(b"1")), (b"a", Some(b"2"))]), CachedChanges::default());
        let Some(Landing { head: Head::InOrder(landed), tail, .. }) = joined.take() else {
            panic!("one command lands as it is")
        };
        assert_eq!(landed.len(), 2);
        assert!(tail.is_empty());
        assert!(joined.take().is_none(), "taking empties it");

        joined.push(ops(&[(b"a", Some(b"1"))]), CachedChanges::default());
        joined.push(Writes::Batch(batch(&[(b"b", None)])), CachedChanges::default());
        joined.push(ops(&[(b"a", Some(b"3"))]), CachedChanges::default());
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
                joined.push(ops(&[(&key, Some(b"v"))]), CachedChanges::default());
            }
            let Some(Landing { head: Head::Latest(mut overlay), .. }) = joined.take() else {
                panic!("several commands land by last value")
            };
            let capacity = overlay.records(Cf::Metadata).expect("written").capacity();
            overlay.0.iter_mut().flatten().for_each(HashMap::clear);
            recycle(overlay);
            capacity
        };
        let spares = || {
            SPARE_OVERLAYS.with(|spares| {
                let spares = spares.borrow();
                spares
                    .iter()
                    .map(|spare| spare.records(Cf::Metadata).map(|r| (r.len(), r.capacity())))
                    .collect::<Vec<_>>()
            })
        };
        let grown = group(500);
        assert_eq!(spares(), [Some((0, grown))], "kept, emptied, with its room");
        assert_eq!(group(2), grown, "the next group indexed into it");
        group(OVERLAY_KEPT_RECORDS + 1);
        assert!(spares().is_empty(), "the table it grew past the bound is freed, not kept");
        // Two groups whose overlays are out at once (one in flight) both come back.
        let (mut first, mut second) = (Joined::default(), Joined::default());
        for joined in [&mut first, &mut second] {
            joined.push(ops(&[(b"a", Some(b"v"))]), CachedChanges::default());
            joined.push(ops(&[(b"b", Some(b"v"))]), CachedChanges::default());
        }
        let overlays: Vec<Overlay> = [first.take(), second.take()]
            .into_iter()
            .map(|landing| match landing {
                Some(Landing { head: Head::Latest(overlay), .. }) => overlay,
                _ => panic!("several commands land by last value"),
            })
            .collect();
        assert!(spares().is_empty(), "none was kept for them");
        overlays.into_iter().for_each(recycle);
        assert_eq!(spares().len(), SPARE_OVERLAYS_KEPT, "both kept for the next groups");
    }

    #[test]
    fn a_group_in_flight_is_read_until_it_lands_and_its_failure_poisons_the_next() {
        begin();
        assert!(defer(ops(&[(b"k", Some(b"1"))]), CachedChanges::default()).is_none());
        let first = take().expect("one command");
        let first_outcome = Arc::new(Outcome::default());
        assert!(push_flight(first.group, first.head, first_outcome.clone()).is_none(), "nothing before it in flight");
        assert!(matches!(seen(Cf::Metadata, b"k"), Seen::Value(Some(v)) if v == b"1"), "read in flight");

        assert!(defer(ops(&[(b"j", Some(b"2"))]), CachedChanges::default()).is_none());
        assert_eq!(landed_through(), first.group - 1, "its stripes wait");
        assert_eq!(current_group(), first.group + 1);
        let next_outcome = outcome();
        assert!(next_outcome.is_some_and(|o| !Arc::ptr_eq(&o, &first_outcome)), "the replies of the next wait for it");

        first_outcome.set(&Err(StorageError::Io("disk full".into())));
        assert_eq!(in_flight(), 1, "seen landed only when retired");
        retire();
        assert_eq!(in_flight(), 0);
        assert!(matches!(seen(Cf::Metadata, b"k"), Seen::Unknown), "a failed group's writes are gone");
        let second = take().expect("the next group");
        assert!(second.poisoned.is_some(), "it may have read the failed one: it must not land");
        assert!(end().is_none());
    }

    #[test]
    fn a_group_handed_off_behind_another_lands_after_it() {
        begin();
        let mut outcomes = Vec::new();
        for value in [b"1", b"2"] {
            assert!(defer(ops(&[(b"k", Some(value))]), CachedChanges::default()).is_none());
            let landing = take().expect("one command");
            let outcome = Arc::new(Outcome::default());
            let after = push_flight(landing.group, landing.head, outcome.clone());
            assert_eq!(after.is_some(), !outcomes.is_empty(), "the second waits for the first");
            outcomes.push(outcome);
        }
        assert!(matches!(seen(Cf::Metadata, b"k"), Seen::Value(Some(v)) if v == b"2"), "the newest answers");
        outcomes[1].set(&Ok(()));
        retire();
        assert_eq!(in_flight(), 2, "retired in order: the first has not landed");
        outcomes[0].set(&Ok(()));
        wait_all();
        assert_eq!((in_flight(), landed_through()), (0, u64::MAX));
        assert!(end().is_none());
    }

    #[test]
    fn deferring_is_scoped_and_suspendable() {
        let put = || ops(&[(b"k", Some(b"v"))]);
        assert!(defer(put(), CachedChanges::default()).is_some(), "not deferring yet");
        begin();
        assert!(defer(put(), CachedChanges::default()).is_none());
        assert!(matches!(seen(Cf::Metadata, b"k"), Seen::Value(Some(v)) if v == b"v"));
        assert!(matches!(seen(Cf::SubKeys, b"k"), Seen::Unknown), "another column family");
        {
            let _straight = suspend();
            assert!(defer(put(), CachedChanges::default()).is_some(), "suspended");
            assert_eq!(pending_bytes(), 0);
            assert!(!has_pending());
            assert!(matches!(seen(Cf::Metadata, b"k"), Seen::Unknown));
        }
        assert!(has_pending(), "restored");
        assert_eq!(pending_bytes(), 2 + RECORD_OVERHEAD_BYTES);
        let mut delete_k = CachedChanges::default();
        delete_k.metadata.delete(b"k");
        assert!(defer(ops(&[(b"k", None)]), delete_k).is_none());
        let Some(Landing { head: Head::Latest(latest), cached, .. }) = take() else {
            panic!("two commands described by the overlay")
        };
        assert!(!cached.is_empty(), "the metadata changes travel with the records");
        assert_eq!(
            latest.records(Cf::Metadata).and_then(|records| records.get(&b"k"[..])),
            Some(&None),
            "the last write of k wins"
        );
        assert!(matches!(seen(Cf::Metadata, b"k"), Seen::Unknown), "landed: the database answers");
        assert!(defer(Writes::Batch(batch(&[(b"k", Some(b"v"))])), CachedChanges::default()).is_none());
        assert!(matches!(seen(Cf::Metadata, b"other"), Seen::MustLand), "a batch the overlay cannot describe");
        assert!(
            matches!(take(), Some(Landing { head: Head::InOrder(head), tail, .. }) if head.is_empty() && tail.len() == 1)
        );
        assert!(end().is_none(), "no landing failed");
        assert!(defer(put(), CachedChanges::default()).is_some(), "ended");
    }

    #[test]
    fn the_idle_group_carries_nothing_into_the_next_session() {
        begin();
        let group = current_group();
        record_failure(StorageError::Io("seen in the session".into()));
        assert!(end().is_some(), "the session's own failure");
        record_failure(StorageError::Io("seen while idle".into()));
        assert!(!is_active());
        begin();
        assert_eq!(current_group(), group, "a group nothing joined keeps its number");
        assert!(end().is_none(), "a failure seen between sessions is no later session's");
        assert!(end().is_none(), "ending twice is ending once");
    }
}
