//! A cache of `metadata` records in front of RocksDB: every command reads its key's metadata
//! record first (a string's value, a collection's header), and perf showed that read, two
//! skiplist searches and an SST lookup deep, as half of a pipelined GET's time. A hit is
//! one hash probe. Absent keys are cached too (a GET of a missing key is a hit).
//!
//! While the cache has room, every key read or written comes in: storing it evicts nothing,
//! and a read of what was just written (redis-benchmark's GET after its SET) is then a hit.
//! Once the cache is full, writes only refresh keys already cached, so a stream of SETs of
//! fresh keys costs a probe each rather than an insertion and an eviction (measured:
//! write-through insertion into a full cache cost a pipelined SET 1.5 µs of server CPU, a
//! third of its time), and a read brings its key in on the key's second miss
//! ([`Admission`]): a key read once (a scan of a dataset larger than the cache) then costs a
//! bit, not an insertion and an eviction.
//!
//! Once a write has ended, the cache never answers with a record the database no longer
//! holds. Writes and fills meet in per-stripe counters (a stripe is a hash bucket of keys):
//!
//! - a writer, before its batch lands, marks its keys' stripes as written (`writers` + 1,
//!   `epoch` + 1); after it lands, it stores its records and unmarks;
//! - a reader that missed notes the stripe's epoch before it reads the database, and stores
//!   what it read only if no writer is in flight and the epoch has not moved since.
//!
//! So a record read before a write landed is never stored after it. Two writes of one key
//! are never in flight at once, so the order in which writers store their records is the
//! order their batches landed in: a command holds its keys' locks until its writes landed
//! (locks.rs parks them past the command, and every writer of a cached column family locks
//! its keys), and a worker thread lands its groups one at a time, on its lander or itself
//! (lander.rs). Writers of different keys of one stripe may overlap, as two workers' landers
//! do all the time. During a write its keys may still answer with the record from before it:
//! only lock-free readers can see that, as if they had read just before the write. The model
//! test below steps readers and writers in every order the locks allow.
//!
//! A cache that holds every record of its column family is complete (`complete`): its misses
//! mean absent and read nothing, until it lets a record go that the database may still hold.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};
use smallvec::SmallVec;

/// Stripes of write tracking: enough that unrelated writes rarely share one.
const STRIPES: usize = 1024;
/// Bytes counted per entry beyond its key and record: the entry's slot and allocations.
const ENTRY_OVERHEAD_BYTES: u64 = 64;
/// Records longer than this, with their key, are not cached: a few large strings must not
/// push out thousands of small records, and copying them on every write would cost more than
/// it saves.
pub const MAX_CACHED_RECORD_BYTES: usize = 16 << 10;
/// Records this long or longer that are mostly read for whether they exist
/// ([`Changes::put_read_for_presence`]: a hash field, which HSET checks before it writes) are
/// kept as present only once the cache is full. Such an entry weighs its key and overhead,
/// a quarter or less of the record's; and HSET of 1 KB values into a hash larger than the cache
/// read RocksDB for every field it checked (45% of the worker's time, perf).
pub const PRESENCE_ONLY_RECORD_BYTES: usize = 256;
/// Stores offered (fills, and writes of keys not cached) between two readings of the cache's
/// weight, which lock every shard of it.
const ROOM_CHECK_STORES: u64 = 1024;
/// The cache counts as full past `1 - 1/FULL_DIVISOR` of its capacity.
const FULL_DIVISOR: u64 = 16;
/// Guess of the average entry size, to size the cache's table up front.
const TYPICAL_ENTRY_BYTES: u64 = 256;
/// Bits of the admission filter: 128 KiB, which stays in a core's L2 cache.
const ADMISSION_BITS: usize = 1 << 20;
/// First misses recorded before the admission filter starts over. At a quarter of its bits
/// set, a key missed once passes for seen about once in five (1 - e^-1/4): harmless, it is
/// only cached early.
const ADMISSION_WINDOW_MISSES: u64 = (ADMISSION_BITS / 4) as u64;

/// Keys this long or shorter sit inside the cache's entry. A hit then compares the key
/// without a fourth dependent cache miss: perf put the key's `memcmp` at 10% of a pipelined
/// GET's worker time when keys were boxed. Metadata keys of redis-benchmark are 18 bytes,
/// its hash fields' sub-keys 37.
const INLINE_KEY_BYTES: usize = 40;
/// A cached record's key, inline up to `INLINE_KEY_BYTES`.
type CachedKey = SmallVec<[u8; INLINE_KEY_BYTES]>;
/// A cached record: one allocation, its count and bytes together. Not `Bytes`, which a cache
/// hit clones: the first clone of a `Bytes` made from a copy allocates its shared count, so
/// every hit on a freshly written record paid an allocation (a pipelined HSET's field check).
pub type CachedRecord = Arc<[u8]>;
type Entries = Cache<CachedKey, Known, RecordWeight, DefaultHashBuilder, Evictions>;

/// What the cache knows of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Known {
    /// The database holds no record under it.
    Absent,
    Record(CachedRecord),
    /// The database holds a record under it, which the cache did not keep
    /// (`PRESENCE_ONLY_RECORD_BYTES`): it answers whether the key exists, not what it holds.
    Present,
}

/// `key` as a cache key. Not `key.into()` nor `clone()`, which copy a `SmallVec` byte by byte:
/// 200 instructions of a pipelined SET, twice.
fn cached_key(key: &[u8]) -> CachedKey {
    CachedKey::from_slice(key)
}

/// Whether a cache is complete (`RecordCache::complete`), on a cache line of its own: it is
/// read on every miss of a complete cache, and its `Arc`'s counts, next to it otherwise, move
/// with every write that takes a record out (`Taken`).
#[derive(Debug, Default)]
#[repr(align(64))]
struct CompleteFlag(AtomicBool);

/// The promise of a write that took records out of a complete cache before it landed
/// (`RecordCache::take`): until it lands, the database still holds them, and the cache would
/// answer them absent. Dropped before `end_write` saw the write land (it failed, an earlier
/// group failed, the command stopped before writing), it ends the cache's completeness.
/// `Taken(None)`: no promise. One pointer, as every batch carries one.
#[derive(Debug, Default)]
struct Taken(Option<Arc<CompleteFlag>>);

impl Taken {
    /// The write landed: the records it took are the database's no more.
    fn keep(&mut self) {
        self.0 = None;
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        if let Some(complete) = &self.0 {
            complete.0.store(false, Ordering::SeqCst);
        }
    }
}

/// Tests copy changes to write them twice: a copy carries no promise.
#[cfg(test)]
impl Clone for Taken {
    fn clone(&self) -> Taken {
        Taken(None)
    }
}

/// What a write does to one metadata record, as the cache needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Put(CachedRecord),
    /// A put of a record mostly read for whether it exists (`Changes::put_read_for_presence`).
    PutReadForPresence(CachedRecord),
    /// A put of such a record that the cache keeps as present only: too large to cache, or
    /// long while the cache is full (`keeps_only_presence`).
    Present,
    Delete,
    /// A put of a record not worth caching (too large): the key is just dropped from the
    /// cache.
    Forget,
    /// Not a write: the batch makes the record unreachable and the database keeps it
    /// (`Changes::forget_unreachable`).
    Unreachable,
}

/// The metadata records a batch writes.
#[derive(Debug, Default)]
#[cfg_attr(test, derive(Clone))]
pub struct Changes {
    /// Inline for one record, the most a command usually writes per cache.
    records: SmallVec<[(CachedKey, Change); 1]>,
    /// A range deletion touched the metadata: any cached record may be gone.
    everything: bool,
    /// Set once the batch took a record out of a complete cache (`RecordCache::take`).
    taken: Taken,
    /// The batch deletes keys whose members it leaves in the database, unreachable (FLUSHDB,
    /// FLUSHALL): if no key is left once it lands, the member cache lets every entry go
    /// (`RecordCache::forget_if_no_keys`).
    forget_if_no_keys: bool,
}

/// What a record cache holds (INFO).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheUsage {
    pub entries: u64,
    /// What the entries count against the cache's capacity.
    pub bytes: u64,
    /// Whether it holds every record of its column family (`RecordCache::complete`).
    pub complete: bool,
}

/// A batch's writes of cached records, by cache: metadata records, and collection members
/// (`sub_keys`: fields, set and sorted-set members, list elements).
#[derive(Debug, Default)]
#[cfg_attr(test, derive(Clone))]
pub struct CachedChanges {
    pub metadata: Changes,
    pub sub_keys: Changes,
}

impl CachedChanges {
    /// Appends `other`'s changes, which land after these.
    pub fn extend(&mut self, other: CachedChanges) {
        self.metadata.extend(other.metadata);
        self.sub_keys.extend(other.sub_keys);
    }

    pub fn is_empty(&self) -> bool {
        self.metadata.is_empty() && self.sub_keys.is_empty()
    }
}

impl Changes {
    pub fn put(&mut self, key: &[u8], record: &[u8]) {
        let change = if key.len() + record.len() <= MAX_CACHED_RECORD_BYTES {
            Change::Put(CachedRecord::from(record))
        } else {
            Change::Forget
        };
        self.records.push((cached_key(key), change));
    }

    /// A put of a record that its readers mostly ask only whether it exists (a hash field,
    /// which HSET checks): once the cache is full, one of `PRESENCE_ONLY_RECORD_BYTES` or more
    /// is kept as present only, and one too large to cache always is. `cache_had_room` is
    /// [`RecordCache::had_room`]: a record the cache will not keep is not copied for it.
    pub fn put_read_for_presence(&mut self, key: &[u8], record: &[u8], cache_had_room: bool) {
        let change = if keeps_only_presence(record.len(), cache_had_room)
            || key.len() + record.len() > MAX_CACHED_RECORD_BYTES
        {
            Change::Present
        } else {
            Change::PutReadForPresence(CachedRecord::from(record))
        };
        self.records.push((cached_key(key), change));
    }

    /// A put whose record is not cached (what `put` makes of a record too large): tests.
    #[cfg(test)]
    pub fn forget(&mut self, key: &[u8]) {
        self.records.push((cached_key(key), Change::Forget));
    }

    pub fn delete(&mut self, key: &[u8]) {
        self.records.push((cached_key(key), Change::Delete));
    }

    pub fn delete_range(&mut self) {
        self.everything = true;
    }

    /// The cache lets `key` go once the batch landed: the database keeps its record, which no
    /// reader reaches any more. Not a change of the record, so no write is tracked for it
    /// (`begin_write`): a reader's fill that stores it again only wastes the room. It goes
    /// before the batch's changes are stored, so a record the same batch writes under it
    /// again (LMOVE's rotation of a one-element list) stays.
    pub fn forget_unreachable(&mut self, key: &[u8]) {
        self.records.push((cached_key(key), Change::Unreachable));
    }

    /// See `forget_if_no_keys`.
    pub fn forget_if_no_keys(&mut self) {
        self.forget_if_no_keys = true;
    }

    /// Appends `other`'s changes, which land after these.
    pub fn reserve(&mut self, records: usize) {
        self.records.reserve(records);
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn extend(&mut self, mut other: Changes) {
        self.everything |= other.everything;
        self.forget_if_no_keys |= other.forget_if_no_keys;
        if self.taken.0.is_none() {
            std::mem::swap(&mut self.taken, &mut other.taken);
        } else {
            // One promise covers both: they land or fail together.
            other.taken.keep();
        }
        // Most commands write no record or one per cache: an iterator over the inline vector
        // moved all of it twice, ~130 instructions per cache of a pipelined HSET.
        match other.records.len() {
            0 => {}
            1 => self.records.extend(other.records.pop()),
            _ => self.records.extend(other.records),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && !self.everything && !self.forget_if_no_keys && self.taken.0.is_none()
    }
}

#[derive(Clone)]
struct RecordWeight;

impl Weighter<CachedKey, Known> for RecordWeight {
    fn weight(&self, key: &CachedKey, known: &Known) -> u64 {
        match known {
            Known::Record(record) => RecordCache::weight_of(key, record),
            Known::Absent | Known::Present => RecordCache::weight_of(key, &[]),
        }
    }
}

/// Tells the cache that it lost a record the database may still hold: an eviction ends
/// its completeness. quick_cache calls it under the evicting shard's lock, so a reader that
/// misses the evicted key (under the same lock, later) sees the flag already down.
#[derive(Clone)]
struct Evictions {
    complete: Arc<CompleteFlag>,
}

thread_local! {
    /// The key this thread is storing into a complete cache: quick_cache reports the record
    /// a store replaces as evicted too, and only other keys' evictions lose a record.
    static STORING: RefCell<Option<CachedKey>> = const { RefCell::new(None) };
}

impl Lifecycle<CachedKey, Known> for Evictions {
    type RequestState = ();

    fn begin_request(&self) {}

    fn on_evict(&self, _: &mut (), key: CachedKey, _: Known) {
        if !STORING.with_borrow(|storing| storing.as_ref() == Some(&key)) {
            self.complete.0.store(false, Ordering::SeqCst);
        }
    }
}

#[derive(Default)]
struct Stripe {
    /// Moves whenever a writer starts or ends.
    epoch: u64,
    /// Writers between their start and their end.
    writers: u32,
}

/// Which records a read from the database stores in a full cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// Those the admission filter has seen missed before: records read once (a walk) do not
    /// push out those read again and again.
    Admitted,
    /// Every one: records read ahead for the commands that come next to take (a popped
    /// list's next elements), which would otherwise be read again, one by one.
    ReadAhead,
}

/// Where a reader stood before it read the database.
pub struct Ticket {
    stripe: usize,
    epoch: u64,
    hash: u64,
}

/// Which misses may store their record once the cache is full: a doorkeeper, as in TinyLFU.
/// A key's first miss in a window only sets its bit; a miss that finds its bit set stores the
/// record. Insertion is
/// the cache's dearest operation (an allocation and a table slot: ~600 instructions), and a
/// key read once never repays it: redis-benchmark's pipelined GET, which reads each of its
/// keys about once, went from 7.8 k to 7.4 k instructions per request, INCR from 18.0 k to
/// 17.5 k (callgrind). A key read twice is cached from its second read on. Skipping a fill is
/// always safe: the cache only ever lacks a key.
struct Admission {
    bits: Box<[AtomicU64]>,
    /// First misses since the filter last started over.
    misses: AtomicU64,
}

impl Admission {
    fn new() -> Admission {
        Admission { bits: (0..ADMISSION_BITS / 64).map(|_| AtomicU64::new(0)).collect(), misses: AtomicU64::new(0) }
    }

    /// Records a miss of the key hashed to `hash`; whether it had missed before.
    fn seen_before(&self, hash: u64) -> bool {
        // The high half: the stripe is taken from the low bits.
        let bit = (hash >> 32) as usize % ADMISSION_BITS;
        let (word, mask) = (&self.bits[bit / 64], 1u64 << (bit % 64));
        if word.load(Ordering::Relaxed) & mask != 0 {
            return true;
        }
        word.fetch_or(mask, Ordering::Relaxed);
        // Races here only blur the window's edge: a bit lost or kept admits a key late or early.
        if self.misses.fetch_add(1, Ordering::Relaxed) + 1 >= ADMISSION_WINDOW_MISSES {
            self.misses.store(0, Ordering::Relaxed);
            for word in self.bits.iter() {
                word.store(0, Ordering::Relaxed);
            }
        }
        false
    }
}

/// A write in flight: its stripes, with the epoch each had once this writer marked it, and
/// its records as (stripe, key hash, index), sorted.
#[derive(Default)]
pub struct Flight {
    stripes: Vec<(usize, u64)>,
    records: Vec<(usize, u64, usize)>,
}

pub struct RecordCache {
    /// `None` when the cache is off (size 0).
    entries: Option<Entries>,
    /// Whether every record of the column family is cached, so that a miss means the key is
    /// absent and reads nothing. True from the open of a column family whose records were all
    /// loaded (warm_up.rs; an empty one included), for as long as every write stores its
    /// records here; down for good (until a restart) once the cache lets go of a record the
    /// database may hold: an eviction, a record too large to cache, a write that failed, a
    /// range deletion that left records behind or overlapped another write. A dataset that
    /// fits the cache is then served from memory alone, misses included: redis-benchmark's
    /// GET read RocksDB for 23% of its keys (those never set, each read once), 1.4 k
    /// instructions and a dozen cache misses each; HSET, SADD and ZADD read it for every new
    /// member.
    complete: Arc<CompleteFlag>,
    stripes: Box<[Mutex<Stripe>]>,
    /// aHash, as the key locks (locks.rs): hashed per key per read and write.
    hasher: ahash::RandomState,
    /// `None`: every miss stores its record (tests of the write protocol).
    admission: Option<Admission>,
    /// Whether it stores that a key is absent. The metadata cache does (a GET of a missing
    /// key is a hit); the cache of collection members does not: a member read absent is
    /// nearly always one HSET, SADD or ZADD is about to add, and storing its absence first
    /// cost a pipelined HSET of fresh fields 0.5 k instructions for nothing.
    knows_absence: bool,
    /// Whether the cache weighed under `1 - 1/FULL_DIVISOR` of its capacity when last read:
    /// then every miss and every write stores its record, since storing it evicts nothing.
    has_room: AtomicBool,
    /// Stores offered ever: `has_room` is read again every `ROOM_CHECK_STORES` of them. Writes
    /// count too: a run of SETs that filled the cache must not go on storing into it, each
    /// store then evicting (1 KB SETs at `-P 16` fell from 0.44x to 0.30x of Redis when only
    /// fills counted).
    stores: AtomicU64,
}

impl RecordCache {
    /// An empty cache of `capacity_bytes`; it is complete once `complete_if_loaded` says so.
    pub fn new(capacity_bytes: u64) -> RecordCache {
        let complete = Arc::new(CompleteFlag::default());
        let entries = (capacity_bytes > 0).then(|| {
            let estimated_items = (capacity_bytes / TYPICAL_ENTRY_BYTES).max(1) as usize;
            let evictions = Evictions { complete: complete.clone() };
            Cache::with(estimated_items, capacity_bytes, RecordWeight, DefaultHashBuilder::default(), evictions)
        });
        RecordCache {
            entries,
            complete,
            stripes: (0..STRIPES).map(|_| Mutex::new(Stripe::default())).collect(),
            hasher: Default::default(),
            admission: Some(Admission::new()),
            knows_absence: true,
            has_room: AtomicBool::new(true),
            stores: AtomicU64::new(0),
        }
    }

    /// A cache of present records only (see `knows_absence`).
    pub fn of_present_records(capacity_bytes: u64) -> RecordCache {
        RecordCache { knows_absence: false, ..RecordCache::new(capacity_bytes) }
    }

    /// Stores `record` as the database holds it, while nobody else uses the cache (at open);
    /// whether it was stored (it is not when too large, or when the cache is off).
    pub fn preload(&self, key: &[u8], record: &[u8]) -> bool {
        let Some(entries) = &self.entries else { return false };
        if key.len() + record.len() > MAX_CACHED_RECORD_BYTES {
            return false;
        }
        entries.insert(cached_key(key), Known::Record(CachedRecord::from(record)));
        true
    }

    /// Counts the cache complete if it holds the `loaded` records `preload` stored, which were
    /// every record of the column family: none was evicted. Called at open, while nobody else
    /// uses the cache.
    pub fn complete_if_loaded(&self, loaded: u64) -> bool {
        let Some(entries) = &self.entries else { return false };
        // A shard turns away an entry past most of its capacity, reporting it as evicted
        // under its own key, which `Evictions` cannot tell from a replacement: a cache too
        // small to take the largest entry is never complete.
        let takes_every_entry = entries.shard_capacity() / 2 > MAX_CACHED_RECORD_BYTES as u64 + ENTRY_OVERHEAD_BYTES;
        let complete = takes_every_entry && entries.len() as u64 == loaded;
        self.complete.0.store(complete, Ordering::SeqCst);
        complete
    }

    /// Bytes the cache can hold.
    pub fn capacity_bytes(&self) -> u64 {
        self.entries.as_ref().map_or(0, |entries| entries.capacity())
    }

    /// The most records of `bytes` in all that could fit in it (every entry weighs at least
    /// its overhead).
    pub fn most_records_in(bytes: u64) -> u64 {
        bytes / ENTRY_OVERHEAD_BYTES
    }

    /// The weight of a record in the cache.
    pub fn weight_of(key: &[u8], record: &[u8]) -> u64 {
        (key.len() + record.len()) as u64 + ENTRY_OVERHEAD_BYTES
    }

    /// A cache that stores the record of every miss (see [`Admission`]), in front of a
    /// column family that held records before it: never complete.
    #[cfg(test)]
    fn admitting_every_miss(capacity_bytes: u64) -> RecordCache {
        RecordCache { admission: None, ..RecordCache::new(capacity_bytes) }
    }

    /// Whether a miss means the key is absent (see `complete`). Asked after the miss: a
    /// record is let go only once the flag is down.
    pub fn is_complete(&self) -> bool {
        self.complete.0.load(Ordering::SeqCst)
    }

    /// Called before the cache lets go of a record the database may still hold.
    fn give_up_completeness(&self) {
        self.complete.0.store(false, Ordering::SeqCst);
    }

    /// What the cache holds of `key`, if anything.
    pub fn get(&self, key: &[u8]) -> Option<Known> {
        self.entries.as_ref()?.get(key)
    }

    /// What the cache knows of `key`: a hit, or absence on a miss of a complete cache (asked
    /// after the miss, see `is_complete`); `None` when the database must be read.
    pub fn answer(&self, key: &[u8]) -> Option<Known> {
        self.get(key).or_else(|| self.is_complete().then_some(Known::Absent))
    }

    /// Whether the database holds a record under `key`, as far as the cache knows; `None` when
    /// the database must be read. A cache of present records only answers from its table
    /// alone: taking the record (`answer`) raised and dropped its count, in an allocation of
    /// its own, one more cache miss for bytes the caller never reads (perf: 28% of the record
    /// cache's samples under pipelined HSETs of random fields, which check each one).
    /// Such a check does not count as a use of the entry for eviction; the write that follows
    /// it stores the record anew.
    pub fn presence(&self, key: &[u8]) -> Option<bool> {
        let entries = self.entries.as_ref()?;
        if self.knows_absence {
            return self.answer(key).map(|known| known != Known::Absent);
        }
        if entries.contains_key(key) {
            return Some(true);
        }
        self.is_complete().then_some(false)
    }

    /// Takes `key` out of the cache for the write `changes` describe, which makes it
    /// unreachable once it lands (a popped list element): what the cache knew of it, if
    /// anything. One probe, where a read and a removal once the write landed took two, the
    /// second on the lander with a free of what the worker allocated (0.6 k lander
    /// instructions per pipelined RPOP). Until the write lands the record is still the
    /// database's, so a complete cache holds `changes` to a promise (`Taken`).
    pub fn take(&self, key: &[u8], changes: &mut Changes) -> Option<Known> {
        let entries = self.entries.as_ref()?;
        let (_, known) = entries.remove(key)?;
        if changes.taken.0.is_none() && self.is_complete() {
            changes.taken = Taken(Some(self.complete.clone()));
        }
        Some(known)
    }

    /// Stores the record of a landed write while the cache has room, or when the key is
    /// cached (one lookup: `replace` stores only over a cached entry; a `contains_key` probe
    /// before an `insert` was 7% of the lander's cycles for pipelined LPUSHes on a full
    /// cache). Decided as the write ends, by whoever lands it (a worker's lander,
    /// storage/lander.rs), not as the batch is built: the probe on the worker, racing the
    /// lander's insertions for the same shards, was 12% of a pipelined SET's worker time.
    fn store_write(&self, entries: &Entries, key: CachedKey, record: CachedRecord) {
        if self.has_room(entries) {
            entries.insert(key, Known::Record(record));
        } else {
            let _not_cached = entries.replace(key, Known::Record(record), false);
        }
    }

    /// [`RecordCache::store_write`] of a record mostly read for whether it exists: once the
    /// cache is full, a long one is kept as present only, cached or not, so that the next
    /// check of the key is a hit that weighs little.
    fn store_presence_read(&self, entries: &Entries, key: CachedKey, record: CachedRecord) {
        if keeps_only_presence(record.len(), self.has_room(entries)) {
            entries.insert(key, Known::Present);
        } else {
            self.store_write(entries, key, record);
        }
    }

    /// Taken on a miss, before reading the database; `None` when a write is in flight.
    pub fn ticket(&self, key: &[u8]) -> Option<Ticket> {
        self.entries.as_ref()?;
        let hash = self.hasher.hash_one(key);
        let stripe = stripe_of_hash(hash);
        let state = self.lock(stripe);
        (state.writers == 0).then_some(Ticket { stripe, epoch: state.epoch, hash })
    }

    /// Stores what a reader read with `ticket`, unless a write started since or the key is
    /// not admitted yet.
    pub fn fill(&self, key: &[u8], ticket: Ticket, record: Option<&[u8]>) {
        self.fill_as(key, ticket, record, Fill::Admitted);
    }

    /// [`RecordCache::fill`], past the admission filter if `fill` says so.
    pub fn fill_as(&self, key: &[u8], ticket: Ticket, record: Option<&[u8]>, fill: Fill) {
        let Some(entries) = &self.entries else { return };
        match record {
            Some(record) if key.len() + record.len() > MAX_CACHED_RECORD_BYTES => return,
            None if !self.knows_absence => return,
            _ => {}
        }
        if fill == Fill::Admitted
            && !self.has_room(entries)
            && self.admission.as_ref().is_some_and(|admission| !admission.seen_before(ticket.hash))
        {
            return;
        }
        let state = self.lock(ticket.stripe);
        if state.writers == 0 && state.epoch == ticket.epoch {
            let known = record.map_or(Known::Absent, |record| Known::Record(CachedRecord::from(record)));
            entries.insert(cached_key(key), known);
        }
    }

    /// Called before `changes` reach the database. Their keys stay cached meanwhile: every
    /// command holds its keys' locks (locks.rs), so no command reads them before the write
    /// ends, and a reader without locks sees the record from just before the write.
    pub fn begin_write(&self, changes: &Changes) -> Flight {
        if self.entries.is_none() {
            return Flight::default();
        }
        // (stripe, key hash, index of the record), sorted: each stripe is locked once, and a
        // key's writes are adjacent and in order (keys of one hash may interleave, which only
        // stores such a key more than once, in order). Integers, not keys: sorting by key
        // cost a 10-key MSET 12 k instructions at `-P 16`.
        let mut records: Vec<(usize, u64, usize)> = if changes.everything {
            Vec::new()
        } else {
            changes
                .records
                .iter()
                .enumerate()
                .filter(|(_, (_, change))| !matches!(change, Change::Unreachable))
                .map(|(i, (key, _))| {
                    let hash = self.hasher.hash_one(key);
                    (stripe_of_hash(hash), hash, i)
                })
                .collect()
        };
        records.sort_unstable();
        let mut stripes: Vec<usize> = if changes.everything || changes.forget_if_no_keys {
            (0..STRIPES).collect()
        } else {
            records.iter().map(|&(stripe, _, _)| stripe).collect()
        };
        stripes.dedup();
        let stripes = stripes
            .into_iter()
            .map(|stripe| {
                let mut state = self.lock(stripe);
                state.writers += 1;
                state.epoch += 1;
                (stripe, state.epoch)
            })
            .collect();
        Flight { stripes, records }
    }

    /// Called once `changes` (as given to `begin_write`) landed, or failed to. `is_empty`
    /// tells whether the column family holds no record a reader could reach now; it is asked
    /// after a range deletion, whether a complete cache stays complete. `no_keys` tells
    /// whether the database holds no key (no metadata record) now, for
    /// `Changes::forget_if_no_keys`.
    pub fn end_write(
        &self,
        flight: Flight,
        mut changes: Changes,
        landed: bool,
        is_empty: impl FnOnce() -> bool,
        no_keys: impl FnOnce() -> bool,
    ) {
        let Some(entries) = &self.entries else { return };
        if landed {
            changes.taken.keep();
        }
        if changes.everything {
            self.end_range_deletion(entries, flight, landed, is_empty);
            return;
        }
        let forget = changes.forget_if_no_keys && landed;
        // A write that failed leaves its unreachable keys reachable: they stay.
        if landed {
            for (key, _) in changes.records.iter().filter(|(_, change)| matches!(change, Change::Unreachable)) {
                entries.remove(&key[..]);
            }
        }
        let mut changes: Vec<Option<(CachedKey, Change)>> = changes.records.into_iter().map(Some).collect();
        let mut records = flight.records.iter().peekable();
        for (stripe, _) in flight.stripes {
            let mut state = self.lock(stripe);
            while let Some(&(_, hash, i)) = records.next_if(|(s, _, _)| *s == stripe) {
                let (key, change) = changes[i].take().expect("each record once");
                // A key written several times (sixteen pipelined LPUSHes) is stored once, with
                // its last record.
                if records.peek().is_some_and(|&&(_, next_hash, next)| {
                    next_hash == hash && changes[next].as_ref().is_some_and(|(k, _)| *k == key)
                }) {
                    continue;
                }
                match change {
                    Change::Put(record) | Change::PutReadForPresence(record) if landed && self.is_complete() => {
                        store_keeping_completeness(entries, key, Known::Record(record));
                    }
                    Change::Present if landed && self.is_complete() => {
                        store_keeping_completeness(entries, key, Known::Present);
                    }
                    Change::Put(record) if landed => self.store_write(entries, key, record),
                    Change::PutReadForPresence(record) if landed => self.store_presence_read(entries, key, record),
                    Change::Present if landed => {
                        entries.insert(key, Known::Present);
                    }
                    // A complete cache knows absence without storing it.
                    Change::Delete if landed && self.knows_absence && !self.is_complete() => {
                        let _absent = entries.replace(key, Known::Absent, false);
                    }
                    Change::Delete if landed => {
                        entries.remove(&key[..]);
                    }
                    // A failed write, a record too large: the database may hold a record the
                    // cache lets go.
                    _ => {
                        self.give_up_completeness();
                        entries.remove(&key[..]);
                    }
                }
            }
            state.writers -= 1;
            state.epoch += 1;
        }
        if forget {
            self.forget_if_no_keys(entries, no_keys);
        }
    }

    /// After a write that deleted keys and left their members in the database (FLUSHDB,
    /// FLUSHALL of a small keyspace: point deletions of the keys alone), a member cache lets
    /// every entry go if no key is left: none of its members can be read again, and, left in,
    /// they would take the room of live ones and, evicted, end the cache's completeness
    /// (redis-benchmark's rounds, each after a FLUSHALL, filled it with the rounds before
    /// them). The cache is then complete, whatever it was: a member is read only under its
    /// key's live metadata record, and there is none. That is checked with every stripe
    /// locked and no writer in flight, as in `end_range_deletion`: a write that creates a key
    /// lands its metadata and its members in one batch and stores its members before its
    /// flight ends, so a key found absent has no member stored or on the way, and a
    /// reader's fill that began before this finds its stripe's epoch moved.
    fn forget_if_no_keys(&self, entries: &Entries, no_keys: impl FnOnce() -> bool) {
        let mut states: Vec<_> = (0..STRIPES).map(|stripe| self.lock(stripe)).collect();
        if states.iter().all(|state| state.writers == 0) && no_keys() {
            entries.clear();
            self.complete.0.store(true, Ordering::SeqCst);
            self.has_room.store(true, Ordering::Relaxed);
            for state in &mut states {
                state.epoch += 1;
            }
        }
    }

    /// The end of a write with a range deletion (FLUSHDB of a large database): the cache is
    /// emptied. It stays complete only if the column family now holds nothing a reader could
    /// reach, as after the FLUSHALL a benchmark or a test suite starts with. That is checked
    /// with every stripe locked (begin_write, end_write, tickets and fills hold one at a time,
    /// so taking them all in order cannot deadlock): no other write begins or ends during the
    /// check, and one that began before it shows as a second writer.
    fn end_range_deletion(&self, entries: &Entries, flight: Flight, landed: bool, is_empty: impl FnOnce() -> bool) {
        let mut states: Vec<_> = flight.stripes.iter().map(|&(stripe, _)| self.lock(stripe)).collect();
        let sole_writer = landed
            && flight
                .stripes
                .iter()
                .zip(&states)
                .all(|(&(_, epoch_set), state)| state.writers == 1 && state.epoch == epoch_set);
        if !(sole_writer && self.is_complete() && is_empty()) {
            self.give_up_completeness();
        }
        entries.clear();
        for state in &mut states {
            state.writers -= 1;
            state.epoch += 1;
        }
    }

    /// What the cache holds now.
    pub fn usage(&self) -> CacheUsage {
        let (entries, bytes) = self.entries.as_ref().map_or((0, 0), |entries| (entries.len() as u64, entries.weight()));
        CacheUsage { entries, bytes, complete: self.is_complete() }
    }

    /// [`RecordCache::has_room`] as last read, without counting a store: for a worker deciding
    /// what of a record to hand the cache.
    pub fn had_room(&self) -> bool {
        self.has_room.load(Ordering::Relaxed)
    }

    /// Whether a store evicts nothing, as of the last reading of the cache's weight. Until the
    /// cache first fills, the doorkeeper would only turn away records it has room for:
    /// redis-benchmark's GET of 100,000 random keys, three rounds of 100,000 requests, had
    /// 28 k of its keys cached after the first round and 61 k after the second.
    fn has_room(&self, entries: &Entries) -> bool {
        if self.stores.fetch_add(1, Ordering::Relaxed).is_multiple_of(ROOM_CHECK_STORES) {
            // The cache evicts to stay under its capacity, so it is full well before it reaches it.
            let full_bytes = entries.capacity() / FULL_DIVISOR * (FULL_DIVISOR - 1);
            self.has_room.store(entries.weight() < full_bytes, Ordering::Relaxed);
        }
        self.has_room.load(Ordering::Relaxed)
    }

    fn lock(&self, stripe: usize) -> std::sync::MutexGuard<'_, Stripe> {
        self.stripes[stripe].lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether a record of `record_bytes` mostly read for whether it exists is kept as present
/// only, in a cache that has room or not.
fn keeps_only_presence(record_bytes: usize, has_room: bool) -> bool {
    record_bytes >= PRESENCE_ONLY_RECORD_BYTES && !has_room
}

/// Stores `known` under `key` in a complete cache, which it stays: the entry it replaces is
/// reported as evicted, and `Evictions` must tell that from the loss of another record.
fn store_keeping_completeness(entries: &Entries, key: CachedKey, known: Known) {
    STORING.with_borrow_mut(|storing| *storing = Some(cached_key(&key)));
    entries.insert(key, known);
    STORING.with_borrow_mut(|storing| *storing = None);
}

/// The stripe of a key hashed to `hash`: its low bits (`Admission` takes the high half).
fn stripe_of_hash(hash: u64) -> usize {
    hash as usize % STRIPES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(bytes: &[u8]) -> CachedRecord {
        CachedRecord::from(bytes)
    }

    fn put(key: &[u8], record: &[u8]) -> Changes {
        let mut changes = Changes::default();
        changes.put(key, record);
        changes
    }

    fn write(cache: &RecordCache, changes: &Changes) {
        let flight = cache.begin_write(changes);
        cache.end_write(flight, changes.clone(), true, || false, || false);
    }

    #[test]
    fn fills_and_writes_are_seen() {
        let cache = RecordCache::admitting_every_miss(1 << 20);
        assert_eq!(cache.get(b"k"), None);
        let ticket = cache.ticket(b"k").expect("no write in flight");
        cache.fill(b"k", ticket, None);
        assert_eq!(cache.get(b"k"), Some(Known::Absent), "absence is cached");
        write(&cache, &put(b"k", b"v1"));
        assert_eq!(cache.get(b"k"), Some(Known::Record(record(b"v1"))));
        let mut twice = put(b"k", b"v2");
        twice.extend(put(b"k", b"v3"));
        write(&cache, &twice);
        assert_eq!(cache.get(b"k"), Some(Known::Record(record(b"v3"))), "the last change wins");
        let mut delete = Changes::default();
        delete.delete(b"k");
        write(&cache, &delete);
        assert_eq!(cache.get(b"k"), Some(Known::Absent));
    }

    /// Misses distinct keys until the cache counts itself full.
    fn fill_up(cache: &RecordCache) {
        let mut i = 0u64;
        while cache.has_room.load(Ordering::Relaxed) {
            let key = (i | 1 << 63).to_le_bytes();
            let ticket = cache.ticket(&key).expect("no write in flight");
            cache.fill(&key, ticket, Some(b"v"));
            i += 1;
            assert!(i < 1 << 20, "the cache never filled");
        }
    }

    #[test]
    fn writes_bring_keys_in_while_there_is_room_and_then_refresh_cached_keys_only() {
        let cache = RecordCache::admitting_every_miss(1 << 20);
        write(&cache, &put(b"w", b"1"));
        assert_eq!(cache.get(b"w"), Some(Known::Record(record(b"1"))), "an empty cache takes written keys");
        fill_up(&cache);
        write(&cache, &put(b"fresh", b"1"));
        assert_eq!(cache.get(b"fresh"), None, "a full cache takes no written key");
        let ticket = cache.ticket(b"k").expect("ticket");
        cache.fill(b"k", ticket, Some(b"1"));
        write(&cache, &put(b"k", b"2"));
        assert_eq!(cache.get(b"k"), Some(Known::Record(record(b"2"))), "a full cache refreshes the keys it holds");
        let mut forget = Changes::default();
        forget.forget(b"k");
        write(&cache, &forget);
        assert_eq!(cache.get(b"k"), None, "forgotten");
    }

    #[test]
    fn a_large_batch_keeps_the_last_change_of_each_key() {
        let cache = RecordCache::admitting_every_miss(1 << 24);
        let keys: Vec<Vec<u8>> = (0..5000u32).map(|i| i.to_be_bytes().to_vec()).collect();
        for key in &keys {
            let ticket = cache.ticket(key).expect("ticket");
            cache.fill(key, ticket, None);
        }
        let mut changes = Changes::default();
        for round in 0..3u8 {
            for key in &keys {
                changes.put(key, &[round]);
            }
        }
        write(&cache, &changes);
        assert!(keys.iter().all(|key| cache.get(key) == Some(Known::Record(record(&[2])))));
    }

    #[test]
    fn a_read_from_before_a_write_is_never_stored() {
        let cache = RecordCache::admitting_every_miss(1 << 20);
        // Read started, then a write began and ended: the old record must not be stored.
        let stale = cache.ticket(b"k").expect("ticket");
        let mut delete = Changes::default();
        delete.delete(b"k");
        let flight = cache.begin_write(&delete);
        assert!(cache.ticket(b"k").is_none(), "no fills while a write is in flight");
        assert_eq!(cache.get(b"k"), None, "nothing was cached");
        cache.end_write(flight, delete, true, || false, || false);
        cache.fill(b"k", stale, Some(b"old"));
        assert_eq!(cache.get(b"k"), None, "the stale read is dropped");
    }

    /// Two keys of one stripe.
    fn stripe_mates(cache: &RecordCache) -> (Vec<u8>, Vec<u8>) {
        let stripe = |key: &[u8]| stripe_of_hash(cache.hasher.hash_one(key));
        let first = b"k0".to_vec();
        let second = (1u32..).map(|i| format!("k{i}").into_bytes()).find(|k| stripe(k) == stripe(&first)).unwrap();
        (first, second)
    }

    #[test]
    fn overlapping_writers_of_one_stripe_store_their_records() {
        for cache in [RecordCache::admitting_every_miss(1 << 20), complete(1 << 20)] {
            let (k1, k2) = stripe_mates(&cache);
            let (first, second) = (put(&k1, b"1"), put(&k2, b"2"));
            let a = cache.begin_write(&first);
            let b = cache.begin_write(&second);
            assert!(cache.ticket(&k1).is_none(), "no fills while writes are in flight");
            cache.end_write(b, second, true, || false, || false);
            cache.end_write(a, first, true, || false, || false);
            assert_eq!(cache.get(&k1), Some(Known::Record(record(b"1"))));
            assert_eq!(cache.get(&k2), Some(Known::Record(record(b"2"))));
        }
        let cache = complete(1 << 20);
        let (k1, k2) = stripe_mates(&cache);
        let (first, second) = (put(&k1, b"1"), put(&k2, b"2"));
        let a = cache.begin_write(&first);
        let b = cache.begin_write(&second);
        cache.end_write(a, first, true, || false, || false);
        cache.end_write(b, second, true, || false, || false);
        assert!(cache.is_complete(), "different keys: their order does not matter");
    }

    #[test]
    fn failed_writes_large_records_and_range_deletions_uncache() {
        let cache = RecordCache::admitting_every_miss(1 << 20);
        write(&cache, &put(b"k", b"1"));
        let failed = put(b"k", b"2");
        let flight = cache.begin_write(&failed);
        cache.end_write(flight, failed, false, || false, || false);
        assert_eq!(cache.get(b"k"), None);

        write(&cache, &put(b"big", &vec![b'x'; MAX_CACHED_RECORD_BYTES + 1]));
        assert_eq!(cache.get(b"big"), None);

        write(&cache, &put(b"k", b"1"));
        let mut flush = Changes::default();
        flush.delete_range();
        write(&cache, &flush);
        assert_eq!(cache.get(b"k"), None);
        assert!(cache.ticket(b"k").is_some(), "every stripe unmarked");
    }

    #[test]
    fn writes_alone_fill_the_cache_and_then_stop_storing_fresh_keys() {
        let cache = RecordCache::new(1 << 20);
        let record = [b'v'; 100];
        let mut written = 0u64;
        loop {
            let key = written.to_le_bytes();
            write(&cache, &put(&key, &record));
            if cache.get(&key).is_none() {
                break;
            }
            written += 1;
            // An entry weighs over 100 bytes: the cache is full after 10 k of them.
            assert!(written < 10_000 + 2 * ROOM_CHECK_STORES, "writes went on storing into a full cache");
        }
        assert!(cache.usage().bytes > (1 << 20) / 2, "the writes filled it");
    }

    #[test]
    fn a_full_cache_stores_a_key_on_its_second_miss() {
        let cache = RecordCache::new(1 << 20);
        let miss = |key: &[u8]| {
            let ticket = cache.ticket(key).expect("no write in flight");
            cache.fill(key, ticket, Some(b"v"));
        };
        miss(b"first");
        assert!(cache.get(b"first").is_some(), "an empty cache stores every miss");
        fill_up(&cache);
        miss(b"k");
        assert_eq!(cache.get(b"k"), None, "a first miss only marks the key");
        miss(b"k");
        assert_eq!(cache.get(b"k"), Some(Known::Record(record(b"v"))));
        // Window after window, the filter starts over rather than filling up.
        for i in 0..ADMISSION_WINDOW_MISSES * 3 {
            miss(&i.to_le_bytes());
        }
        let admitted_at_once = (0..1000u64).map(|i| ((i + 1) << 40).to_le_bytes()).filter(|key| {
            miss(key);
            cache.get(key).is_some()
        });
        assert!(admitted_at_once.count() < 400, "most fresh keys wait for their second miss");
    }

    #[test]
    fn records_read_for_presence_are_kept_as_present_only_once_the_cache_is_full() {
        let cache = RecordCache::admitting_every_miss(1 << 20);
        let long = [b'v'; PRESENCE_ONLY_RECORD_BYTES];
        let put_read_for_presence = |key: &[u8], record: &[u8]| {
            let mut changes = Changes::default();
            changes.put_read_for_presence(key, record, cache.had_room());
            write(&cache, &changes);
        };
        put_read_for_presence(b"roomy", &long);
        assert_eq!(cache.get(b"roomy"), Some(Known::Record(record(&long))), "kept whole while there is room");
        put_read_for_presence(b"huge", &vec![b'v'; MAX_CACHED_RECORD_BYTES]);
        assert_eq!(cache.get(b"huge"), Some(Known::Present), "too large to keep whole");
        fill_up(&cache);
        put_read_for_presence(b"fresh", &long);
        assert_eq!(cache.get(b"fresh"), Some(Known::Present), "a full cache takes the key as present");
        put_read_for_presence(b"roomy", &long);
        assert_eq!(cache.get(b"roomy"), Some(Known::Present), "and lets the long record go");
        put_read_for_presence(b"short", b"1");
        assert_eq!(cache.get(b"short"), None, "a short record is a plain write");
        // What a value read of a key kept as present only stores: the record it read.
        let ticket = cache.ticket(b"fresh").expect("no write in flight");
        cache.fill(b"fresh", ticket, Some(b"v"));
        assert_eq!(cache.get(b"fresh"), Some(Known::Record(record(b"v"))));
        let mut delete = Changes::default();
        delete.delete(b"huge");
        write(&cache, &delete);
        assert_eq!(cache.get(b"huge"), Some(Known::Absent));
    }

    #[test]
    fn a_complete_cache_stays_complete_through_records_kept_as_present_only() {
        let cache = complete(1 << 20);
        let mut changes = Changes::default();
        changes.put_read_for_presence(b"huge", &vec![b'v'; MAX_CACHED_RECORD_BYTES], true);
        write(&cache, &changes);
        assert_eq!(cache.answer(b"huge"), Some(Known::Present));
        assert_eq!(cache.answer(b"other"), Some(Known::Absent));
        assert!(cache.is_complete());
    }

    #[test]
    fn size_zero_turns_it_off() {
        let cache = RecordCache::new(0);
        write(&cache, &put(b"k", b"1"));
        assert_eq!(cache.get(b"k"), None);
        assert!(cache.ticket(b"k").is_none());
    }

    /// A cache in front of an empty column family, as `Storage::open` makes one.
    fn complete(capacity_bytes: u64) -> RecordCache {
        let cache = RecordCache::new(capacity_bytes);
        assert!(cache.complete_if_loaded(0));
        cache
    }

    /// A complete cache of present members, as the member cache starts on an empty database.
    fn complete_members(capacity_bytes: u64) -> RecordCache {
        let cache = RecordCache::of_present_records(capacity_bytes);
        assert!(cache.complete_if_loaded(0));
        cache
    }

    fn forget(key: &[u8]) -> Changes {
        let mut changes = Changes::default();
        changes.forget_unreachable(key);
        changes
    }

    #[test]
    fn forgotten_keys_go_once_landed_and_stay_when_the_write_failed() {
        let cache = complete_members(1 << 20);
        write(&cache, &put(b"a", b"1"));
        write(&cache, &put(b"b", b"2"));
        let failed = forget(b"a");
        let flight = cache.begin_write(&failed);
        cache.end_write(flight, failed, false, || false, || false);
        assert_eq!(cache.get(b"a"), Some(Known::Record(record(b"1"))), "the element is still reachable");
        write(&cache, &forget(b"a"));
        assert_eq!(cache.get(b"a"), None);
        assert_eq!(cache.get(b"b"), Some(Known::Record(record(b"2"))));
        assert!(cache.is_complete(), "only what no reader reaches was let go");
        assert_eq!(cache.usage().entries, 1);

        // LMOVE rotating a one-element list: the element's old index is its new one.
        let mut rotate = forget(b"b");
        rotate.extend(put(b"b", b"3"));
        write(&cache, &rotate);
        assert_eq!(cache.get(b"b"), Some(Known::Record(record(b"3"))), "written again after it was forgotten");
        let mut merged = put(b"c", b"4");
        merged.extend(forget(b"c"));
        write(&cache, &merged);
        assert_eq!(cache.get(b"c"), Some(Known::Record(record(b"4"))), "forgotten before the batch's stores");
    }

    #[test]
    fn a_record_taken_out_of_a_complete_cache_keeps_it_complete_only_if_its_write_lands() {
        let cache = complete_members(1 << 20);
        write(&cache, &put(b"a", b"1"));
        write(&cache, &put(b"b", b"2"));

        let mut landing = Changes::default();
        assert_eq!(cache.take(b"a", &mut landing), Some(Known::Record(record(b"1"))));
        assert_eq!(cache.get(b"a"), None, "one probe takes it out");
        let mut also = Changes::default();
        assert_eq!(cache.take(b"b", &mut also), Some(Known::Record(record(b"2"))));
        landing.extend(also);
        let flight = cache.begin_write(&landing);
        cache.end_write(flight, landing, true, || false, || false);
        assert!(cache.is_complete(), "what was taken is unreachable now");

        write(&cache, &put(b"c", b"3"));
        let mut failing = Changes::default();
        assert!(cache.take(b"c", &mut failing).is_some());
        let flight = cache.begin_write(&failing);
        cache.end_write(flight, failing, false, || false, || false);
        assert!(!cache.is_complete(), "'c' is still in the database, and no longer cached");

        let cache = complete_members(1 << 20);
        write(&cache, &put(b"d", b"4"));
        let mut dropped = Changes::default();
        assert!(cache.take(b"d", &mut dropped).is_some());
        assert_eq!(cache.take(b"e", &mut dropped), None);
        drop(dropped);
        assert!(!cache.is_complete(), "a write that never reached the database keeps 'd' there");

        let mut no_promise = Changes::default();
        write(&cache, &put(b"f", b"5"));
        assert!(cache.take(b"f", &mut no_promise).is_some());
        assert!(no_promise.is_empty(), "an incomplete cache may lack any record: nothing to promise");
    }

    #[test]
    fn a_cache_forgets_everything_once_no_key_is_left() {
        let flush = || {
            let mut changes = Changes::default();
            changes.forget_if_no_keys();
            changes
        };
        let end = |cache: &RecordCache, flight, changes, landed, no_keys: bool| {
            cache.end_write(flight, changes, landed, || false, || no_keys)
        };
        let cache = complete_members(1 << 20);
        write(&cache, &put(b"a", b"1"));
        cache.give_up_completeness();

        let changes = flush();
        let flight = cache.begin_write(&changes);
        end(&cache, flight, changes, true, false);
        assert_eq!(cache.get(b"a"), Some(Known::Record(record(b"1"))), "a key is left: its members may be live");
        assert!(!cache.is_complete());

        let changes = flush();
        let flight = cache.begin_write(&changes);
        end(&cache, flight, changes, false, true);
        assert_eq!(cache.usage().entries, 1, "the flush failed: its keys are still there");

        let in_flight = put(b"b", b"2");
        let other = cache.begin_write(&in_flight);
        let changes = flush();
        let flight = cache.begin_write(&changes);
        end(&cache, flight, changes, true, true);
        assert_eq!(cache.usage().entries, 1, "another write in flight may be creating a key");
        assert!(!cache.is_complete());
        cache.end_write(other, in_flight, true, || false, || false);

        let before = cache.ticket(b"z").expect("no write in flight");
        let changes = flush();
        let flight = cache.begin_write(&changes);
        end(&cache, flight, changes, true, true);
        assert_eq!(cache.usage().entries, 0, "no key is left: no member is reachable");
        assert!(cache.is_complete(), "every reachable member (none) is cached");
        cache.fill(b"z", before, Some(b"read before the flush"));
        assert_eq!(cache.get(b"z"), None, "a fill that began before the flush is not stored");
        write(&cache, &put(b"c", b"3"));
        assert_eq!(cache.get(b"c"), Some(Known::Record(record(b"3"))));
        assert!(cache.is_complete());
    }

    #[test]
    fn a_complete_cache_stores_every_write_and_forgets_only_deleted_keys() {
        let cache = complete(1 << 20);
        write(&cache, &put(b"k", b"1"));
        write(&cache, &put(b"k", b"22"));
        assert_eq!(cache.get(b"k"), Some(Known::Record(record(b"22"))));
        assert!(cache.is_complete(), "replacing a record loses nothing");
        let mut delete = Changes::default();
        delete.delete(b"k");
        write(&cache, &delete);
        assert_eq!(cache.get(b"k"), None, "absence is known without an entry");
        assert!(cache.is_complete());
        let mut large = Changes::default();
        large.put(b"big", &vec![0; MAX_CACHED_RECORD_BYTES]);
        write(&cache, &large);
        assert!(!cache.is_complete(), "a record too large to cache");
    }

    #[test]
    fn an_eviction_ends_completeness_before_the_record_is_gone() {
        let cache = complete(1 << 20);
        let mut i = 0u32;
        while cache.is_complete() {
            write(&cache, &put(&i.to_be_bytes(), &[0; 100]));
            i += 1;
            assert!(i < 1 << 16, "a 1 MB cache never evicted");
        }
        let missing = (0..i).filter(|i| cache.get(&i.to_be_bytes()).is_none()).count();
        assert!(missing > 0, "completeness went with an eviction");
        // Every record written while complete was still there up to the first eviction:
        // the loop stopped at it.
        assert!(missing < i as usize, "the cache kept most records");
    }

    #[test]
    fn a_failed_write_ends_completeness() {
        let cache = complete(1 << 20);
        let changes = put(b"k", b"1");
        let flight = cache.begin_write(&changes);
        cache.end_write(flight, changes, false, || false, || false);
        assert!(!cache.is_complete());
        assert_eq!(cache.get(b"k"), None);
    }

    #[test]
    fn a_range_deletion_keeps_completeness_only_when_nothing_is_left() {
        for left_empty in [true, false] {
            let cache = complete(1 << 20);
            write(&cache, &put(b"k", b"1"));
            let mut flush = Changes::default();
            flush.delete_range();
            let flight = cache.begin_write(&flush);
            cache.end_write(flight, flush, true, || left_empty, || false);
            assert_eq!(cache.get(b"k"), None);
            assert_eq!(cache.is_complete(), left_empty);
        }
    }

    #[test]
    fn a_cache_too_small_for_its_largest_entry_is_never_complete() {
        assert!(!RecordCache::new(16 << 10).complete_if_loaded(0));
        assert!(!RecordCache::new(1 << 20).is_complete(), "not loaded");
        assert!(!RecordCache::new(0).complete_if_loaded(0), "off");
    }

    /// A model of the interleavings the protocol allows: readers (hit, or ticket, read the
    /// database, fill) and writers (build the batch, begin, land, end) on two keys, stepped in
    /// any order. Whenever no write has landed without ending, every cached record is the
    /// database's, and while the cache counts itself complete, a key it lacks is absent there.
    mod interleavings {
        use std::collections::HashMap;

        use proptest::prelude::*;

        use super::super::*;

        enum Reader {
            Idle,
            Ticketed(u8, Option<Ticket>),
            Read(u8, Option<Ticket>, Option<Vec<u8>>),
        }

        enum Writer {
            Idle,
            Built(u8, Option<Vec<u8>>, Changes),
            Begun(u8, Option<Vec<u8>>, Changes, Flight),
            Landed(u8, Changes, Flight),
        }

        proptest! {
            #[test]
            fn the_cache_never_contradicts_the_database(
                starts_complete in any::<bool>(),
                steps in proptest::collection::vec(
                    (any::<bool>(), 0..2usize, 0..2u8, proptest::option::of(0..4u8), any::<bool>()),
                    1..200,
                )
            ) {
                let cache = if starts_complete {
                    let cache = RecordCache::new(1 << 20);
                    cache.complete_if_loaded(0);
                    cache
                } else {
                    RecordCache::admitting_every_miss(1 << 20)
                };
                let mut db: HashMap<u8, Option<Vec<u8>>> = HashMap::new();
                let mut readers = [Reader::Idle, Reader::Idle];
                let mut writers = [Writer::Idle, Writer::Idle];
                // Keys whose write is between its begin and its end.
                let mut in_flight: Vec<u8> = Vec::new();
                for (is_reader, actor, key, value, read_for_presence) in steps {
                    if is_reader {
                        let reader = &mut readers[actor];
                        *reader = match std::mem::replace(reader, Reader::Idle) {
                            // As `Storage::get`: a hit, or a miss of a complete cache, reads
                            // nothing; a key kept as present only is read for its record.
                            Reader::Idle if matches!(cache.answer(&[key]), Some(Known::Absent | Known::Record(_))) => {
                                Reader::Idle
                            }
                            Reader::Idle => Reader::Ticketed(key, cache.ticket(&[key])),
                            Reader::Ticketed(k, ticket) => Reader::Read(k, ticket, db.get(&k).cloned().flatten()),
                            Reader::Read(k, ticket, read) => {
                                if let Some(ticket) = ticket {
                                    cache.fill(&[k], ticket, read.as_deref());
                                }
                                Reader::Idle
                            }
                        };
                    } else {
                        let writer = &mut writers[actor];
                        *writer = match std::mem::replace(writer, Writer::Idle) {
                            Writer::Idle => {
                                let mut changes = Changes::default();
                                // A record read for its presence is one too large to cache,
                                // which the cache keeps as present only.
                                let record = value.map(|v| match read_for_presence {
                                    true => vec![v; MAX_CACHED_RECORD_BYTES],
                                    false => vec![v],
                                });
                                match &record {
                                    None => changes.delete(&[key]),
                                    Some(record) if read_for_presence => {
                                        changes.put_read_for_presence(&[key], record, cache.had_room())
                                    }
                                    Some(record) => changes.put(&[key], record),
                                }
                                Writer::Built(key, record, changes)
                            }
                            // The key locks: a write begins once no other write of its
                            // key is in flight.
                            Writer::Built(k, v, changes) if in_flight.contains(&k) => Writer::Built(k, v, changes),
                            Writer::Built(k, v, changes) => {
                                let flight = cache.begin_write(&changes);
                                in_flight.push(k);
                                Writer::Begun(k, v, changes, flight)
                            }
                            Writer::Begun(k, v, changes, flight) => {
                                db.insert(k, v);
                                Writer::Landed(k, changes, flight)
                            }
                            Writer::Landed(k, changes, flight) => {
                                cache.end_write(flight, changes, true, || false, || false);
                                in_flight.retain(|&key| key != k);
                                Writer::Idle
                            }
                        };
                    }
                    if !writers.iter().any(|w| matches!(w, Writer::Landed(..))) {
                        for k in 0..2u8 {
                            let expected = db.get(&k).cloned().flatten().map(|record| record[0]);
                            match cache.get(&[k]) {
                                Some(Known::Absent) => prop_assert_eq!(None, expected, "key {}", k),
                                Some(Known::Record(record)) => prop_assert_eq!(Some(record[0]), expected, "key {}", k),
                                Some(Known::Present) => prop_assert!(expected.is_some(), "key {}", k),
                                None if cache.is_complete() => prop_assert_eq!(None, expected, "key {}", k),
                                None => {}
                            }
                        }
                    }
                }
            }
        }
    }
}
