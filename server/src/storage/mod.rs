//! RocksDB, as Redrock lays its data out in it. This layer knows records and byte layouts,
//! never commands.

mod batch_bytes;
pub mod checkpoint;
pub mod compaction;
pub mod deferred;
pub mod encoding;
pub mod format;
mod key_order;
mod lander;
pub mod metadata;
pub mod record_cache;
pub mod version;
mod warm_up;
pub mod written;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use rocksdb::{
    BlockBasedIndexType, BlockBasedOptions, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, DBPinnableSlice,
    DBRawIteratorWithThreadMode, DBWithThreadMode, Options, ReadOptions, SingleThreaded, WriteBatch, WriteOptions,
};
use thiserror::Error;

use batch_bytes::{BatchBytes, MAX_RECORD_PART_BYTES};
use deferred::Seen;
use lander::Writer;
pub use metadata::{Collection, KeyType, Metadata};
pub use record_cache::CacheUsage;
use record_cache::{CachedChanges, Fill, Known, RecordCache};
use version::VersionGenerator;

/// `SingleThreaded` only means column families are created and dropped through `&mut`
/// (never, after open); reads and writes are thread-safe. Its handle lookup is a plain map
/// read, where `MultiThreaded`'s takes a lock and clones an `Arc` per operation (170
/// instructions of a GET's 8,800).
pub type Rocks = DBWithThreadMode<SingleThreaded>;
pub type RawIter<'a> = DBRawIteratorWithThreadMode<'a, Rocks>;

/// The column families, by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cf {
    /// One record per user key.
    Metadata,
    /// Members of collections.
    SubKeys,
    /// Score index of sorted sets.
    ZSetScore,
    /// Server records that are not user keys (the SWAPDB mapping, ...).
    Internal,
}

impl Cf {
    const ALL: [Cf; 4] = [Cf::Metadata, Cf::SubKeys, Cf::ZSetScore, Cf::Internal];

    /// A number below `ALL.len()`, its own: the index of its slot in per-family arrays.
    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Cf::Metadata => "metadata",
            Cf::SubKeys => "default",
            Cf::ZSetScore => "zset_score",
            Cf::Internal => "internal",
        }
    }
}

/// When a write batch reaches the disk, as Redis's `appendfsync`. In every mode the batch is
/// in the WAL (the OS's page cache) before the reply, so a process crash loses nothing; the
/// modes differ on a machine crash.
///
/// Outside `always`, RocksDB buffers WAL records in the process (`manual_wal_flush`) and the
/// connection writes them out with [`Storage::flush_wal_through`] right before it sends
/// replies: one `write(2)` per pipelined read instead of one per command, as Redis writes its
/// AOF buffer once per event-loop turn, before any reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// fsync before every reply: a machine crash loses nothing acknowledged.
    Always,
    /// fsync once a second: a machine crash loses at most about a second.
    EverySec,
    /// The OS decides when to flush.
    No,
}

impl Durability {
    pub fn parse(text: &str) -> Option<Durability> {
        match text.to_ascii_lowercase().as_str() {
            "always" => Some(Durability::Always),
            "everysec" => Some(Durability::EverySec),
            "no" => Some(Durability::No),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Durability::Always => "always",
            Durability::EverySec => "everysec",
            Durability::No => "no",
        }
    }

    /// Whether RocksDB keeps WAL records in the process until a flush (`manual_wal_flush`):
    /// everywhere but `always`, which writes and syncs each batch.
    fn buffers_wal(self) -> bool {
        self != Durability::Always
    }
}

#[derive(Clone, Debug, Error)]
pub enum StorageError {
    #[error("{0}")]
    Rocks(#[from] rocksdb::Error),
    #[error(transparent)]
    Corrupt(#[from] metadata::CorruptMetadata),
    #[error("{0}")]
    Format(String),
    #[error("{0}")]
    Io(String),
    #[error("a key or value of {0} bytes is over the storage limit of 4 GiB")]
    TooLarge(usize),
}

pub type Result<T> = std::result::Result<T, StorageError>;

#[cfg(test)]
thread_local! {
    /// Makes this thread's next RocksDB write fail, as a full disk would (see `fail_next_write`).
    static FAIL_NEXT_WRITE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Unit tests: this thread's next RocksDB write fails without writing anything.
#[cfg(test)]
pub fn fail_next_write() {
    FAIL_NEXT_WRITE.with(|fail| fail.set(true));
}

/// Stops this thread's lander (lander.rs) once it has landed what it was handed, and waits
/// for its thread to end. A worker thread calls it as it stops; so does a test that handed
/// groups off, before it returns: a thread that used RocksDB and is still ending when the
/// process exits meets RocksDB's statics destroyed (an abort, "pthread lock: Invalid
/// argument").
pub fn stop_landing() {
    lander::stop();
}

/// Whether the write this thread makes or hands off now must fail (`fail_next_write`).
fn injected_failure() -> bool {
    #[cfg(test)]
    return FAIL_NEXT_WRITE.with(|fail| fail.replace(false));
    #[cfg(not(test))]
    false
}

/// Size of one partition of an SST file's filter and index.
const METADATA_PARTITION_BYTES: usize = 4096;

/// SST file options: data blocks of `block_bytes`, over the block cache `cache`; `filtered`
/// adds a bloom filter.
///
/// Blocks are 16 KB by default (`rocksdb-block-size`), as Kvrocks ships, not RocksDB's 4 KB.
/// Flush and compaction pay per block: LZ4 clears a 16 KB state for every block it
/// compresses, and each input block is looked up in the block cache. Under `-P 16` SETs of
/// 1 KB values, 16 KB blocks took compaction from 4.5 to 2.1 µs of CPU per request and flush
/// from 1.6 to 1.2, and HSET's likewise (5.0 -> 2.3, 1.7 -> 1.1): a third of the server's
/// CPU went to them. A point read that misses the caches reads and decompresses a whole
/// block; GETs of random keys among 3 M did not slow (0.59x of Redis with 4 KB, 0.60x with
/// 16 KB, ci/bench-dataset.sh).
fn table_options(cache: &rocksdb::Cache, block_bytes: usize, filtered: bool) -> BlockBasedOptions {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_block_size(block_bytes);
    if filtered {
        // Point reads (GET, HGET, SISMEMBER) dominate: a bloom filter skips files without
        // the key.
        table.set_bloom_filter(10.0, false);
    }
    table.set_cache_index_and_filter_blocks(true);
    // Filters and indexes are cut into 4 KB partitions under a pinned top level. Whole, the
    // filter of one SST file of 3 M sub-keys is 4 MB: more than a shard of the block cache
    // (its capacity / 64), so it was never kept and every point read of that file read it
    // again (2.5 ms per HGET in a 1 M-field hash, ci/bench-collections.sh).
    table.set_index_type(BlockBasedIndexType::TwoLevelIndexSearch);
    table.set_partition_filters(true);
    table.set_metadata_block_size(METADATA_PARTITION_BYTES);
    table.set_pin_top_level_index_and_filter(true);
    table
}

/// Share of a memtable's memory given to its bloom filter.
const MEMTABLE_BLOOM_RATIO: f64 = 0.02;

/// Every memtable insertion starts its skiplist search from where the previous one ended,
/// climbing only as far as the key needs: a prefix extractor for insertion hints, with one
/// prefix (the empty one) for all keys, gives every insertion the previous one's splice and
/// lets it be partly reused (plain insertions reuse it only for a key right after the
/// previous one, and otherwise search from the top). A landing writes its records in key
/// order (`landing_batch`), so the next key is near. Pipelined (callgrind, lander
/// instructions per request): SET 6.3 k -> 5.2 k, 10-key MSET 64.6 k -> 51.2 k, HSET 6.2 k ->
/// 5.5 k, ZADD 11.0 k -> 9.2 k. Not in RocksDB's C API: set through its options string.
const MEMTABLE_INSERT_HINTS: &str = "memtable_insert_with_hint_prefix_extractor=rocksdb.FixedPrefix.0";

/// Whether `cf` holds no record (a failed read counts as holding some): after a range
/// deletion, whether a complete record cache stays complete (`Writer::write_batch`; for the
/// member cache, an empty metadata family is enough, as no member can be read without its key).
fn holds_nothing(db: &Rocks, cf: Cf) -> bool {
    let Some(handle) = db.cf_handle(cf.name()) else { return false };
    let mut it = db.raw_iterator_cf(&handle);
    it.seek_to_first();
    !it.valid() && it.status().is_ok()
}

/// Tuning that has a config parameter. Its `Default` is the config table's defaults
/// (server.rs builds both from a `Config`), so a test opens storage as the server would.
#[derive(Clone, Debug)]
pub struct StorageOptions {
    pub durability: Durability,
    pub block_cache_bytes: usize,
    /// Uncompressed bytes of one SST data block.
    pub block_bytes: usize,
    pub write_buffer_bytes: usize,
    /// Capacity of the cache of metadata records (record_cache.rs); 0 turns it off.
    pub record_cache_bytes: u64,
    /// Capacity of the cache of collection members (record_cache.rs); 0 turns it off.
    pub sub_key_cache_bytes: u64,
}

/// The open database.
pub struct Storage {
    db: Arc<Rocks>,
    dir: PathBuf,
    durability: Durability,
    versions: VersionGenerator,
    /// Where batches go in, here and on the worker threads' landers (lander.rs); it holds the
    /// record caches (metadata records, collection members) in front of the database.
    writer: Arc<Writer>,
    /// The newest RocksDB sequence number known to be in the WAL file.
    wal_flushed: AtomicU64,
    /// One WAL flush at a time, so a flush that returns covers every write published before
    /// it began.
    wal_flush: Mutex<()>,
    /// Metadata records with an expiry written so far: the active expiry walk rests while
    /// no key can expire, and wakes when this moves (expire.rs).
    volatile_writes: AtomicU64,
    /// Whether anyone waits to hear of written keys (written.rs): batches record them only then.
    written_interest: written::Interest,
    /// The options of every point read, made once: RocksDB's convenience `get_cf` creates and
    /// frees a `ReadOptions` per call (0.3 k of a GET's 7.3 k instructions, callgrind).
    point_reads: ReadOptions,
    /// RocksDB's id of each column family, by `Cf::index`: landings encode their records
    /// themselves (batch_bytes.rs).
    cf_ids: [u32; Cf::ALL.len()],
}

/// What a point read needs of a record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Its bytes.
    Record,
    /// Only whether it exists (the checks of HSET, HDEL, SADD and SREM): a member the cache keeps as
    /// present only answers it.
    Presence,
}

impl Need {
    /// What `cache` knows of `key` as `read` sees it; `None` when the database must be read.
    /// A presence read's `read` looks at no bytes: it is shown every record as empty, and the
    /// cache answers it without taking the record (`RecordCache::presence`).
    fn answer<T>(self, cache: &RecordCache, key: &[u8], mut read: impl FnMut(&[u8]) -> T) -> Option<Option<T>> {
        if self == Need::Presence {
            return cache.presence(key).map(|present| present.then(|| read(&[])));
        }
        match cache.answer(key)? {
            Known::Absent => Some(None),
            Known::Record(record) => Some(Some(read(&record))),
            Known::Present => None,
        }
    }
}

impl Storage {
    /// Opens (or creates) the data folder `dir`, refusing folders of another format.
    pub fn open(dir: &Path, options: &StorageOptions) -> Result<Storage> {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::Io(format!("{}: {e}", dir.display())))?;
        let is_new = format::check(dir)?;

        // RocksDB's HyperClockCache, sized as it goes (an estimated entry charge of 0), not
        // its LRU cache: a point read that misses the record caches looks up an index
        // partition, a filter partition and a data block, and the LRU's hash chains, list
        // upkeep and shard mutex were 14.5% of such a GET's CPU (perf). Random GETs of 3 M
        // 100-byte strings at `-P 16` went from 78 k to 97-101 k req/s (the worker's user CPU
        // 11.0 -> 8.5 µs per GET).
        let cache = rocksdb::Cache::new_hyper_clock_cache(options.block_cache_bytes, 0);
        let table = table_options(&cache, options.block_bytes, true);
        let unfiltered_table = table_options(&cache, options.block_bytes, false);

        // Left at RocksDB's defaults, each measured under redis-benchmark (docs/BENCHMARKS.md's
        // tests, 64-byte values unless said, per-thread CPU and alternating req/s):
        // - `enable_pipelined_write`: overlaps one writer's WAL append with another's memtable
        //   insertions, but a worker's landings reach RocksDB one at a time (its lander, or
        //   the worker once its lander is idle): no change beyond noise.
        // - `inplace_update_support`: every write searches the memtable for its key, to
        //   overwrite the value there, and inserts anyway when the key is not in it: MSET at
        //   `-P 1` went from 38 to 48 µs of worker user CPU per request. Iterators and
        //   snapshots would also lose their point-in-time view (RocksDB's documentation).
        // - `pin_l0_filter_and_index_blocks_in_cache` (Kvrocks sets it): 4% less worker CPU
        //   per ZRANGEBYSCORE, but random GETs over 3 M strings went from 7.4 to 9.5 µs of
        //   worker CPU each (two runs each).
        // - No compression in levels 0 and 1 (Kvrocks's `compression_per_level`): under 1 KB
        //   SETs at `-P 16` flush took 0.8 µs per request either way, and compaction more
        //   system time (0.2 -> 0.7 µs) writing the larger files.
        // - Write buffers: 32 MB per family, shared through `db_write_buffer_size`, cost a
        //   10-key MSET's lander 3.5 µs (a deeper skiplist) to save compaction 1 µs. 8 MB
        //   (`rocksdb-write-buffer-size 32mb`) did the reverse: MSET ran ~10% faster at `-P 1`
        //   and `-P 16` and ZADD ~5%, but random GETs over 3 M strings took 9.5-10.9 µs of
        //   worker CPU each rather than 7.2-8.7 (two runs each). 4 MB for the member and
        //   score families alone (GET's metadata family kept its 16 MB) halved ZADD's lander
        //   CPU on a fresh server (4.9 -> 2.9 µs per request at `-P 16`), whose memtables never
        //   filled; in an alternating A/B over five rounds, where flushes and compactions
        //   caught up, pipelined HSET, LPUSH, SADD and ZADD ran 9-16% slower.
        // - `min_write_buffer_number_to_merge` 2 (Kvrocks's), so that a flush merges two
        //   memtables' versions of each key: compaction 1.2 µs less per 10-key MSET at
        //   `-P 16`, req/s within noise, for a third memtable per family and one more for
        //   every read to search.
        // - A hash index in each data block (`DataBlockIndexType::BinaryAndHash`, ratio
        //   0.75) for point reads that miss the caches: random GETs over 3 M strings took
        //   the worker 9.7 µs each at `-P 16` without it and 10.2-10.6 with it (two runs
        //   each). The binary search it spares is ~5% of such a GET's worker samples (perf),
        //   beside LZ4, the block cache's lookup and the record cache's miss.
        let mut db_options = Options::default();
        // An existing folder must open as it is: never silently recreated empty.
        db_options.create_if_missing(is_new);
        db_options.create_missing_column_families(true);
        db_options.set_max_background_jobs(2);
        db_options.set_compression_type(DBCompressionType::Lz4);
        db_options.set_block_based_table_factory(&table);
        db_options.set_manual_wal_flush(options.durability.buffers_wal());

        // The compaction filter reads metadata; it gets the handle once the database is open.
        let handle: Arc<OnceLock<Weak<Rocks>>> = Arc::new(OnceLock::new());
        let hinted = Options::default().get_options_from_string(MEMTABLE_INSERT_HINTS)?;
        let descriptors = Cf::ALL.iter().map(|cf| {
            let mut cf_options = hinted.clone();
            cf_options.set_compression_type(DBCompressionType::Lz4);
            cf_options.set_write_buffer_size(options.write_buffer_bytes / Cf::ALL.len());
            // The score index is only ever iterated (ZRANGEBYSCORE, ZRANK) and written by exact
            // key, never point-read: a bloom filter, in its memtable or its SST files, would
            // only cost hashing on every insertion, flush and compaction, and room in the
            // block cache.
            let point_read = *cf != Cf::ZSetScore;
            cf_options.set_block_based_table_factory(if point_read { &table } else { &unfiltered_table });
            if matches!(cf, Cf::SubKeys | Cf::ZSetScore) {
                cf_options.set_compaction_filter_factory(compaction::SubKeyFilterFactory { handle: handle.clone() });
            }
            match cf {
                Cf::SubKeys => {
                    // HSET, SADD and ZADD read whether each member exists; a new one is in
                    // no memtable, and the filter answers for it without the skiplist search
                    // (callgrind, pipelined: HSET 23.4 k -> 20.6 k instructions, SADD 21.8 k
                    // -> 19.3 k, ZADD 32.0 k -> 29.8 k).
                    cf_options.set_memtable_whole_key_filtering(true);
                    cf_options.set_memtable_prefix_bloom_ratio(MEMTABLE_BLOOM_RATIO);
                }
                Cf::Metadata => {
                    // Every command reads metadata first. Once a dataset outgrows the memtables,
                    // most keys live in SST files, and a whole-key bloom filter in each memtable
                    // lets those reads skip the memtables' skiplist searches (a cache miss per
                    // level, the largest cost of a GET in perf) for 2% more memtable memory.
                    cf_options.set_memtable_whole_key_filtering(true);
                    cf_options.set_memtable_prefix_bloom_ratio(MEMTABLE_BLOOM_RATIO);
                }
                Cf::ZSetScore | Cf::Internal => {}
            }
            ColumnFamilyDescriptor::new(cf.name(), cf_options)
        });
        let db = Arc::new(Rocks::open_cf_descriptors(&db_options, dir.join("db"), descriptors)?);
        let _ = handle.set(Arc::downgrade(&db));
        if is_new {
            format::write(dir)?;
        }

        let mut write_options = WriteOptions::default();
        write_options.set_sync(!options.durability.buffers_wal());
        let mut cf_ids = [0; Cf::ALL.len()];
        for cf in Cf::ALL {
            let handle = db.cf_handle(cf.name()).expect("column families are created at open");
            cf_ids[cf.index()] = batch_bytes::column_family_id(handle);
        }
        let writer = Arc::new(Writer {
            records: RecordCache::new(options.record_cache_bytes),
            sub_records: RecordCache::of_present_records(options.sub_key_cache_bytes),
            db: db.clone(),
            write_options,
        });
        // What the database recovered at open is in its files already.
        let recovered = db.latest_sequence_number();
        warm_up::warm_up(&db, Cf::Metadata, &writer.records);
        warm_up::warm_up(&db, Cf::SubKeys, &writer.sub_records);
        Ok(Storage {
            db,
            dir: dir.to_path_buf(),
            durability: options.durability,
            versions: VersionGenerator::new(),
            writer,
            wal_flushed: AtomicU64::new(recovered),
            wal_flush: Mutex::new(()),
            volatile_writes: AtomicU64::new(0),
            written_interest: written::Interest::default(),
            point_reads: ReadOptions::default(),
            cf_ids,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn durability(&self) -> Durability {
        self.durability
    }

    pub(crate) fn rocks(&self) -> &Rocks {
        &self.db
    }

    fn cf(&self, cf: Cf) -> &ColumnFamily {
        self.db.cf_handle(cf.name()).expect("column families are created at open")
    }

    /// The count of watches that batches consult before recording their written keys.
    pub fn written_interest(&self) -> written::Interest {
        self.written_interest.clone()
    }

    /// A version no collection has had.
    pub fn next_version(&self) -> u64 {
        self.versions.next()
    }

    /// The record `key`, as this thread's deferred writes left it (deferred.rs) or else as
    /// the database holds it.
    pub fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.read(cf, key, <[u8]>::to_vec)
    }

    /// `get`, the record seen through `read` rather than copied out. `read` may run while the
    /// thread's deferred writes are borrowed (deferred.rs), so it must not reach storage.
    pub fn read<T>(&self, cf: Cf, key: &[u8], read: impl FnMut(&[u8]) -> T) -> Result<Option<T>> {
        self.read_for(Need::Record, cf, key, read)
    }

    /// [`Storage::read`] of what `need` asks.
    fn read_for<T>(&self, need: Need, cf: Cf, key: &[u8], mut read: impl FnMut(&[u8]) -> T) -> Result<Option<T>> {
        match self.read_cached_for(need, cf, key, &mut read)? {
            Some(found) => Ok(found),
            None => self.read_stored(cf, key, read),
        }
    }

    /// Reads a collection member that `batch` makes unreachable (a popped list element),
    /// taking it out of the member cache (`RecordCache::take`) rather than leaving it there
    /// dead. One still in this thread's deferred writes is let go once they land
    /// (`Batch::forget_cached_member`). One not cached is read from RocksDB with the members
    /// `next` names, consecutive keys from it on, which the next pops will take
    /// ([`Storage::read_ahead`]).
    pub fn take_member(
        &self,
        batch: &mut Batch<'_>,
        key: &[u8],
        next: impl FnOnce() -> Vec<Vec<u8>>,
    ) -> Result<Option<Vec<u8>>> {
        match deferred::lookup(Cf::SubKeys, key, <[u8]>::to_vec) {
            Seen::Value(value) => {
                batch.forget_cached_member(key);
                return Ok(value);
            }
            Seen::MustLand => self.land_deferred(),
            Seen::Unknown => {}
        }
        let cache = &self.writer.sub_records;
        match cache.take(key, &mut batch.cached.sub_keys) {
            Some(Known::Record(record)) => return Ok(Some(record.to_vec())),
            // Present only: its bytes are RocksDB's.
            Some(Known::Present) => {}
            Some(Known::Absent) => return Ok(None),
            None if cache.is_complete() => return Ok(None),
            None => {}
        }
        let next = next();
        if !next.is_empty() {
            let mut keys = Vec::with_capacity(1 + next.len());
            keys.push(key.to_vec());
            keys.extend(next);
            self.read_ahead(&keys)?;
        }
        match cache.take(key, &mut batch.cached.sub_keys) {
            Some(Known::Record(record)) => Ok(Some(record.to_vec())),
            // Nothing to read ahead (the list's last element), or not stored (a write in
            // flight, a record too large to cache): read alone.
            _ => Ok(self
                .db
                .get_pinned_cf_opt(self.cf(Cf::SubKeys), key, &self.point_reads)?
                .map(|record| record.to_vec())),
        }
    }

    /// Stores in the member cache the records of `keys`, consecutive member keys in ascending
    /// or descending order, read by one RocksDB iterator: one seek, then a step per record
    /// within the blocks it reads once. A point read per key searched the index and a block
    /// again for each (a pipelined RPOP of 1 KB elements beyond the cache: 18.7 k instructions
    /// per pop; one MultiGet for sixteen still cost 11 k per key). Keys that this thread's
    /// deferred writes or the cache answer are not read, and none is stored over a write in
    /// flight (`RecordCache::ticket`); the overlay of deferred writes, which lands after this,
    /// stays in front of what is stored here.
    fn read_ahead(&self, keys: &[Vec<u8>]) -> Result<()> {
        let cache = &self.writer.sub_records;
        let unknown = |key: &&Vec<u8>| {
            matches!(deferred::lookup(Cf::SubKeys, key, |_| ()), Seen::Unknown) && cache.get(key).is_none()
        };
        let wanted: Vec<(&Vec<u8>, record_cache::Ticket)> =
            keys.iter().filter(unknown).filter_map(|key| Some((key, cache.ticket(key)?))).collect();
        let (Some(&(first, _)), Some(&(last, _))) = (wanted.first(), wanted.last()) else {
            return Ok(());
        };
        let ascending = first <= last;
        let (low, high) = if ascending { (first, last) } else { (last, first) };
        let mut past_high = high.clone();
        past_high.push(0);
        // Not `Storage::iter`, which lands the deferred writes first: the keys they touch are
        // not read here, and a pop in a pipeline would land its group at every miss.
        let mut it = self.bounded_iter(Cf::SubKeys, low, Some(past_high), ReadOptions::default());
        if ascending {
            it.seek(first);
        } else {
            it.seek_for_prev(first);
        }
        for (key, ticket) in wanted {
            // Step to `key`, or past it when it holds no record.
            while let Some(at) = it.key() {
                let before_key = if ascending { at < key.as_slice() } else { at > key.as_slice() };
                if !before_key {
                    break;
                }
                if ascending {
                    it.next();
                } else {
                    it.prev();
                }
            }
            if it.key() == Some(key.as_slice()) {
                cache.fill_as(key, ticket, it.value(), Fill::ReadAhead);
            }
        }
        it.status()?;
        Ok(())
    }

    /// `read` from RocksDB, which fills the record cache: for a record that
    /// [`Storage::read_cached`] found in neither the deferred writes nor the cache.
    pub fn read_stored<T>(&self, cf: Cf, key: &[u8], read: impl FnOnce(&[u8]) -> T) -> Result<Option<T>> {
        let cache = self.cache(cf);
        let ticket = cache.and_then(|cache| cache.ticket(key));
        let record = self.db.get_pinned_cf_opt(self.cf(cf), key, &self.point_reads)?;
        if let (Some(cache), Some(ticket)) = (cache, ticket) {
            cache.fill(key, ticket, record.as_deref());
        }
        Ok(record.as_deref().map(read))
    }

    /// `read` answered by the thread's deferred writes or the record cache alone: `None` when
    /// neither knows the record, which then takes a RocksDB read.
    pub fn read_cached<T>(&self, cf: Cf, key: &[u8], read: impl FnMut(&[u8]) -> T) -> Result<Option<Option<T>>> {
        self.read_cached_for(Need::Record, cf, key, read)
    }

    /// [`Storage::read_cached`] of what `need` asks.
    fn read_cached_for<T>(
        &self,
        need: Need,
        cf: Cf,
        key: &[u8],
        mut read: impl FnMut(&[u8]) -> T,
    ) -> Result<Option<Option<T>>> {
        match deferred::lookup(cf, key, &mut read) {
            Seen::Value(value) => return Ok(Some(value)),
            Seen::MustLand => self.land_deferred(),
            Seen::Unknown => {}
        }
        Ok(self.cache(cf).and_then(|cache| need.answer(cache, key, read)))
    }

    /// The record cache in front of `cf`, if it has one: metadata records, and collection
    /// members, which HSET, SADD, ZADD and pops read one by one.
    fn cache(&self, cf: Cf) -> Option<&RecordCache> {
        match cf {
            Cf::Metadata => Some(&self.writer.records),
            Cf::SubKeys => Some(&self.writer.sub_records),
            Cf::ZSetScore | Cf::Internal => None,
        }
    }

    /// Reads several keys of one column family in one call (deferred writes first, as `get`).
    pub fn multi_get(&self, cf: Cf, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>> {
        self.multi_get_with(cf, keys, <[u8]>::to_vec)
    }

    /// [`Storage::multi_get`] with each value found seen through `read` where it is, not
    /// copied out (ZADD decodes the score it needs).
    pub fn multi_get_with<T>(&self, cf: Cf, keys: &[Vec<u8>], read: impl Fn(&[u8]) -> T) -> Result<Vec<Option<T>>> {
        self.multi_read(Need::Record, cf, keys, read)
    }

    /// Which of `keys` hold a record, as `multi_get` would find them, without copying their
    /// values out: HSET, SADD and SREM ask only that (a 64-byte field's copy and free were
    /// ~100 instructions of a pipelined HSET).
    pub fn multi_contains(&self, cf: Cf, keys: &[Vec<u8>]) -> Result<Vec<bool>> {
        Ok(self.multi_read(Need::Presence, cf, keys, |_| ())?.into_iter().map(|found| found.is_some()).collect())
    }

    /// `multi_get` of what `need` asks, each value found seen through `read`.
    fn multi_read<T>(&self, need: Need, cf: Cf, keys: &[Vec<u8>], read: impl Fn(&[u8]) -> T) -> Result<Vec<Option<T>>> {
        // One key (HSET, SADD, ZADD of one member) skips the working lists below: 250 of a
        // pipelined HSET's 8.6 k instructions.
        if let [key] = keys {
            return Ok(vec![self.read_for(need, cf, key, read)?]);
        }
        let mut found: Vec<Option<Option<T>>> = Vec::with_capacity(keys.len());
        for key in keys {
            match deferred::lookup(cf, key, &read) {
                Seen::Value(value) => found.push(Some(value)),
                Seen::Unknown => found.push(None),
                Seen::MustLand => {
                    self.land_deferred();
                    found.clear();
                    found.resize_with(keys.len(), || None);
                    break;
                }
            }
        }
        let cache = self.cache(cf);
        if let Some(cache) = cache {
            for (key, f) in keys.iter().zip(&mut found).filter(|(_, f)| f.is_none()) {
                *f = need.answer(cache, key, &read);
            }
        }
        let unknown: Vec<&Vec<u8>> = keys.iter().zip(&found).filter(|(_, f)| f.is_none()).map(|(k, _)| k).collect();
        let tickets: Vec<_> =
            cache.map_or_else(Vec::new, |cache| unknown.iter().map(|key| cache.ticket(key)).collect());
        let handle = self.cf(cf);
        let from_db: Vec<std::result::Result<Option<DBPinnableSlice<'_>>, rocksdb::Error>> = match unknown[..] {
            // Every key answered by the overlay or the cache: RocksDB's MultiGet of nothing
            // still cost ~1 k instructions (a ZADD at `-P 1`).
            [] => Vec::new(),
            // RocksDB's MultiGet sets up per-file batches that one key does not repay.
            [key] => vec![self.db.get_pinned_cf_opt(handle, key, &self.point_reads)],
            _ => self.db.batched_multi_get_cf_opt(handle, &unknown, false, &self.point_reads),
        };
        let mut from_db = from_db.into_iter().zip(unknown.iter());
        let mut tickets = tickets.into_iter();
        found
            .into_iter()
            .map(|f| match f {
                Some(value) => Ok(value),
                None => {
                    let (read_from_db, key) = from_db.next().expect("one answer per key");
                    let record = read_from_db?;
                    if let (Some(cache), Some(ticket)) = (cache, tickets.next().flatten()) {
                        cache.fill(key, ticket, record.as_deref());
                    }
                    Ok(record.as_deref().map(&read))
                }
            })
            .collect()
    }

    /// An iterator over `[lower, upper)` of one column family (`upper` None = to the end).
    /// The overlay of deferred writes cannot serve an iterator: they land first (a failure
    /// reaches the replies that waited for them through the landing's `Outcome`, and EXEC
    /// through `deferred::end`).
    pub fn iter(&self, cf: Cf, lower: &[u8], upper: Option<Vec<u8>>) -> RawIter<'_> {
        self.iter_with(cf, lower, upper, ReadOptions::default())
    }

    /// [`Storage::iter`] for a walk of a whole database (a count): the blocks it reads are not
    /// kept in the block cache. A count of 2 M 100-byte strings reads ~260 MB of blocks, more
    /// than the cache holds (192 MB by default): kept, they would push out every block the
    /// point reads had made hot, at each INFO of a monitor.
    pub fn iter_uncached(&self, cf: Cf, lower: &[u8], upper: Option<Vec<u8>>) -> RawIter<'_> {
        let mut read_options = ReadOptions::default();
        read_options.fill_cache(false);
        self.iter_with(cf, lower, upper, read_options)
    }

    fn iter_with(&self, cf: Cf, lower: &[u8], upper: Option<Vec<u8>>, read_options: ReadOptions) -> RawIter<'_> {
        self.land_deferred();
        self.bounded_iter(cf, lower, upper, read_options)
    }

    /// An iterator over `[lower, upper)` of RocksDB alone: the deferred writes are neither
    /// landed nor seen.
    fn bounded_iter(&self, cf: Cf, lower: &[u8], upper: Option<Vec<u8>>, mut read_options: ReadOptions) -> RawIter<'_> {
        read_options.set_iterate_lower_bound(lower.to_vec());
        if let Some(upper) = upper {
            read_options.set_iterate_upper_bound(upper);
        }
        self.db.raw_iterator_cf_opt(&self.cf(cf), read_options)
    }

    /// An iterator over every key starting with `prefix`.
    pub fn iter_prefix(&self, cf: Cf, prefix: &[u8]) -> RawIter<'_> {
        self.iter(cf, prefix, encoding::prefix_successor(prefix))
    }

    /// A batch of writes that reach the database together or not at all.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            storage: self,
            inner: None,
            written: written::Written::default(),
            track_written: self.written_interest.count() > 0,
            ops: deferred::is_active().then(deferred::Ops::new),
            cached: CachedChanges::default(),
            oversized: None,
        }
    }

    /// Applies `batch` atomically, durable according to the configured [`Durability`]; while
    /// this thread defers (deferred.rs), joins it to the deferred writes instead.
    pub fn write(&self, batch: Batch<'_>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        if let Some(bytes) = batch.oversized {
            return Err(StorageError::TooLarge(bytes));
        }
        let writes = match batch.ops {
            Some(ops) => deferred::Writes::Ops(ops),
            None => deferred::Writes::Batch(batch.inner.unwrap_or_default()),
        };
        if let Some((writes, cached)) = deferred::defer(writes, batch.cached) {
            // After this thread's groups in flight, which may write the same keys.
            deferred::wait_all();
            let batch = match writes {
                deferred::Writes::Ops(ops) => self.batch_of(ops, 0),
                deferred::Writes::Batch(batch) => batch,
            };
            self.write_batch(batch, cached)?;
        }
        written::record(batch.written);
        Ok(())
    }

    /// The RocksDB batch of `ops`, in order, with room for `capacity_bytes` of records.
    fn batch_of(&self, ops: deferred::Ops, capacity_bytes: usize) -> WriteBatch {
        let mut bytes = BatchBytes::with_capacity(capacity_bytes);
        self.add_ops(&mut bytes, &ops);
        bytes.into_batch()
    }

    fn add_ops(&self, bytes: &mut BatchBytes, ops: &[deferred::Op]) {
        for op in ops {
            bytes.record(self.cf_ids[op.cf.index()], &op.key, op.value.as_deref());
        }
    }

    /// Lands this thread's deferred writes for a read the overlay cannot serve. The replies
    /// that acknowledged those writes learn a failure from the landing's `Outcome`, and EXEC
    /// from `deferred::end`; the read then sees the database without them, as every later
    /// command will.
    fn land_deferred(&self) {
        if deferred::has_pending() || deferred::in_flight() > 0 {
            if let Err(e) = self.commit_deferred() {
                tracing::error!(error = %e, "writing a pipeline's batch failed");
                deferred::record_failure(e);
            }
        }
    }

    /// Writes what this thread deferred so far, as one batch, on this thread, once its groups
    /// in flight landed; deferring goes on.
    pub fn commit_deferred(&self) -> Result<()> {
        deferred::wait_all();
        let Some(landing) = deferred::take() else {
            return Ok(());
        };
        let outcome = landing.outcome.clone();
        let result = match landing.poisoned {
            Some(e) => Err(e),
            None => {
                let batch = self.landing_batch(&landing.head, landing.tail, landing.bytes);
                self.write_batch(batch, landing.cached)
            }
        };
        if let deferred::Head::Latest(overlay) = landing.head {
            deferred::recycle(overlay);
        }
        deferred::settle(outcome, &result);
        result
    }

    /// Hands what this thread deferred so far to its lander (lander.rs), which writes it while
    /// the thread goes on; deferring goes on, and the thread reads the group through its
    /// overlay until it sees it land. A group with writes no overlay describes (a range
    /// deletion) lands here instead, at once.
    pub fn hand_off_deferred(&self) {
        if deferred::has_tail() {
            if let Err(e) = self.commit_deferred() {
                tracing::error!(error = %e, "writing a batch of joined writes failed");
            }
            return;
        }
        deferred::retire();
        while deferred::in_flight() >= deferred::MAX_GROUPS_IN_FLIGHT {
            deferred::wait_oldest();
        }
        let Some(landing) = deferred::take() else {
            return;
        };
        let outcome = landing.outcome.unwrap_or_default();
        if let Some(e) = landing.poisoned {
            deferred::settle(Some(outcome), &Err(e));
            return;
        }
        let batch = self.landing_batch(&landing.head, Vec::new(), landing.bytes);
        let after = deferred::push_flight(landing.group, landing.head, outcome.clone());
        let job = lander::Job { batch, changes: landing.cached, outcome, after, fail: injected_failure() };
        lander::hand_off(&self.writer, job);
    }

    /// The RocksDB batch of a landing: `head`, then `tail`, in `capacity_bytes` about.
    fn landing_batch(&self, head: &deferred::Head, tail: Vec<deferred::Writes>, capacity_bytes: usize) -> WriteBatch {
        let mut bytes = BatchBytes::with_capacity(capacity_bytes);
        match head {
            deferred::Head::InOrder(ops) => self.add_ops(&mut bytes, ops),
            deferred::Head::Latest(overlay) => {
                for (cf, records) in overlay.families() {
                    let cf_id = self.cf_ids[cf.index()];
                    // In key order: each memtable insertion then starts its skiplist search
                    // from where the previous one ended (`MEMTABLE_INSERT_HINTS`). Against the
                    // overlay's hash order at `-P 16`: LPUSH, whose elements are consecutive,
                    // 15.0 k -> 12.4 k instructions. Scattered metadata keys gained nothing
                    // before the hints (which reuse a splice for any next key, not only the
                    // adjacent one); with them, SET's lander 6.3 k -> 5.2 k for the sort's 0.3 k.
                    for (key, value) in key_order::sorted(records.iter().map(|(k, v)| (&k[..], v))) {
                        bytes.record(cf_id, key, value.as_deref());
                    }
                }
            }
        }
        for writes in tail {
            match writes {
                deferred::Writes::Ops(ops) => self.add_ops(&mut bytes, &ops),
                deferred::Writes::Batch(batch) => bytes.append(&batch),
            }
        }
        bytes.into_batch()
    }

    /// Writes `batch`, whose cached records are `cached`, on this thread.
    fn write_batch(&self, batch: WriteBatch, cached: CachedChanges) -> Result<()> {
        if injected_failure() {
            return Err(StorageError::Io("injected write failure".into()));
        }
        self.writer.write_batch(batch, cached)
    }

    /// How far the WAL file must reach for every write a reader may have seen so far to
    /// survive a process crash; `None` when it already does (or nothing is buffered: the
    /// `always` durability writes and syncs each batch).
    ///
    /// Marks are RocksDB sequence numbers, published for readers only after the write's WAL
    /// record is in RocksDB's buffer: a flush that begins once sequence S is published writes
    /// every record a reader could have seen up to S. (A count of writes that the writer
    /// raised after its write returned left a window in which a reader on another worker
    /// saw a write no mark covered yet, and could reply before it reached the file.)
    pub fn wal_unflushed(&self) -> Option<WalMark> {
        if !self.durability.buffers_wal() {
            return None;
        }
        let visible = self.db.latest_sequence_number();
        (self.wal_flushed.load(Ordering::SeqCst) < visible).then_some(WalMark(visible))
    }

    /// Writes the WAL records RocksDB buffers to the WAL file (the OS's page cache), unless a
    /// flush since `mark` was taken already covered them. Called before replies are sent.
    pub fn flush_wal_through(&self, mark: WalMark) -> Result<()> {
        if self.wal_flushed.load(Ordering::SeqCst) >= mark.0 {
            return Ok(());
        }
        let _one_at_a_time = self.wal_flush.lock().unwrap_or_else(|e| e.into_inner());
        // Another thread's flush may have covered our writes while we waited.
        if self.wal_flushed.load(Ordering::SeqCst) >= mark.0 {
            return Ok(());
        }
        self.flush_wal(false)
    }

    /// Flushes and fsyncs the WAL; the `everysec` ticker calls it.
    pub fn sync_wal(&self) -> Result<()> {
        // Not under `wal_flush`: connections flushing before their replies must not wait for
        // the fsync. RocksDB orders concurrent flushes itself.
        self.flush_wal(true)
    }

    /// Writes RocksDB's buffered WAL records to the file (and fsyncs it if `sync`), and notes
    /// how far that reached: every write published before the flush began is in the buffer
    /// it writes, so the mark is read first.
    fn flush_wal(&self, sync: bool) -> Result<()> {
        let covered = self.db.latest_sequence_number();
        self.db.flush_wal(sync)?;
        self.wal_flushed.fetch_max(covered, Ordering::SeqCst);
        Ok(())
    }

    /// Writes every memtable out to SST files and waits for it.
    pub fn flush_memtables(&self) -> Result<()> {
        for cf in Cf::ALL {
            self.db.flush_cf(&self.cf(cf))?;
        }
        Ok(())
    }

    /// Stops RocksDB's flushes and compactions and waits for the running ones, before the
    /// process exits: a background job still running while `exit` destroys RocksDB's
    /// statics aborts the process (a flush at shutdown schedules some).
    pub fn stop_background_work(&self) {
        self.db.cancel_all_background_work(true);
    }

    /// How many metadata records with an expiry were written since open (counted when their
    /// batch is built, so before they land).
    pub fn volatile_writes(&self) -> u64 {
        self.volatile_writes.load(Ordering::SeqCst)
    }

    /// What the record cache holds; its bytes count against `record-cache-size`.
    pub fn record_cache_usage(&self) -> CacheUsage {
        self.writer.records.usage()
    }

    /// Whether the cache of collection members holds `key` (tests, diagnostics).
    pub fn sub_key_cached(&self, key: &[u8]) -> bool {
        self.writer.sub_records.get(key).is_some()
    }

    /// What the cache of collection members holds; its bytes count against
    /// `sub-key-cache-size`.
    pub fn sub_key_cache_usage(&self) -> CacheUsage {
        self.writer.sub_records.usage()
    }

    /// Bytes on disk of the live SST files and memtables, for INFO.
    pub fn approximate_size_bytes(&self) -> u64 {
        Cf::ALL
            .iter()
            .map(|cf| {
                let handle = self.cf(*cf);
                let sst = self.db.property_int_value_cf(&handle, "rocksdb.total-sst-files-size").ok().flatten();
                let mem = self.db.property_int_value_cf(&handle, "rocksdb.cur-size-all-mem-tables").ok().flatten();
                sst.unwrap_or(0) + mem.unwrap_or(0)
            })
            .sum()
    }

    /// Bytes the block cache holds now (blocks of every column family share it).
    pub fn block_cache_usage_bytes(&self) -> u64 {
        self.db.property_int_value("rocksdb.block-cache-usage").ok().flatten().unwrap_or(0)
    }

    /// Compacts everything; tests use it to prove the compaction filter.
    pub fn compact_all(&self) {
        for cf in Cf::ALL {
            self.db.compact_range_cf(&self.cf(cf), None::<&[u8]>, None::<&[u8]>);
        }
    }
}

/// A point in the stream of writes (a RocksDB sequence number): the WAL file holds every
/// write up to it once [`Storage::flush_wal_through`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WalMark(u64);

/// A RocksDB `WriteBatch` bound to its storage's column families.
pub struct Batch<'a> {
    storage: &'a Storage,
    /// Its writes as a RocksDB batch, made on the first write that needs one (most batches
    /// are deferred as `ops` and never do: creating and freeing an empty one was 2% of a
    /// pipelined SET).
    inner: Option<WriteBatch>,
    /// The user keys this batch changes (see written.rs), when `track_written`.
    written: written::Written,
    /// Whether anyone waits to hear of them (`written::Interest`).
    track_written: bool,
    /// Its writes while its thread defers (deferred.rs), `inner` staying empty: the overlay
    /// of deferred writes takes them, and the landing builds one RocksDB batch of them all.
    /// `None` otherwise, or once it holds a write the overlay cannot describe.
    ops: Option<deferred::Ops>,
    /// Its writes of cached records, for the record caches.
    cached: CachedChanges,
    /// The length of a key or value it holds past `MAX_RECORD_PART_BYTES`: then
    /// `Storage::write` refuses it whole.
    oversized: Option<usize>,
}

impl Batch<'_> {
    /// Puts `value` under `key`. Both are taken as they come: a `Vec` a command built is kept
    /// as the deferred record itself, a slice is copied (a copy and an allocation each, 1–2% of
    /// a pipelined SET or HSET, saved where the caller hands its bytes over).
    pub fn put(&mut self, cf: Cf, key: impl Into<Vec<u8>> + AsRef<[u8]>, value: impl Into<Vec<u8>> + AsRef<[u8]>) {
        self.note(cf, key.as_ref());
        self.put_unobserved(cf, key, value);
    }

    /// A put that changes nothing a client can read (an encoding hint): not recorded as a
    /// modification of its key (storage/written.rs).
    pub fn put_unobserved(
        &mut self,
        cf: Cf,
        key: impl Into<Vec<u8>> + AsRef<[u8]>,
        value: impl Into<Vec<u8>> + AsRef<[u8]>,
    ) {
        let (key_bytes, value_bytes) = (key.as_ref(), value.as_ref());
        self.check_size(key_bytes.len().max(value_bytes.len()));
        match cf {
            Cf::Metadata => {
                self.cached.metadata.put(key_bytes, value_bytes);
                if metadata::has_expiry(value_bytes) {
                    self.storage.volatile_writes.fetch_add(1, Ordering::SeqCst);
                }
            }
            Cf::SubKeys => self.cached.sub_keys.put(key_bytes, value_bytes),
            Cf::ZSetScore | Cf::Internal => {}
        }
        self.defer_put(cf, key, value);
    }

    /// A put of a collection member whose readers mostly ask only whether it exists (a hash
    /// field, which HSET checks before it writes): the member cache may keep only that
    /// (record_cache.rs, `PRESENCE_ONLY_RECORD_BYTES`).
    pub fn put_read_for_presence(
        &mut self,
        key: impl Into<Vec<u8>> + AsRef<[u8]>,
        value: impl Into<Vec<u8>> + AsRef<[u8]>,
    ) {
        self.note(Cf::SubKeys, key.as_ref());
        self.check_size(key.as_ref().len().max(value.as_ref().len()));
        let cache_had_room = self.storage.writer.sub_records.had_room();
        self.cached.sub_keys.put_read_for_presence(key.as_ref(), value.as_ref(), cache_had_room);
        self.defer_put(Cf::SubKeys, key, value);
    }

    /// Adds a put to the batch, whose cached records already know of it.
    fn defer_put(&mut self, cf: Cf, key: impl Into<Vec<u8>> + AsRef<[u8]>, value: impl Into<Vec<u8>> + AsRef<[u8]>) {
        match &mut self.ops {
            Some(ops) => deferred::push_op(ops, deferred::Op { cf, key: key.into(), value: Some(value.into()) }),
            None => {
                let storage = self.storage;
                self.rocks().put_cf(storage.cf(cf), key, value);
            }
        }
    }

    /// Room for `records` more puts or deletes of `cf`, for a command that knows how many it
    /// makes: a 10-key MSET otherwise regrows its vectors four times.
    pub fn reserve(&mut self, cf: Cf, records: usize) {
        if let Some(ops) = &mut self.ops {
            ops.reserve(records);
        }
        match cf {
            Cf::Metadata => self.cached.metadata.reserve(records),
            Cf::SubKeys => self.cached.sub_keys.reserve(records),
            Cf::ZSetScore | Cf::Internal => {}
        }
    }

    /// Deletes `key`, taken as it comes as `put` takes it: a key the command built is kept as
    /// the deferred record itself rather than copied.
    pub fn delete(&mut self, cf: Cf, key: impl Into<Vec<u8>> + AsRef<[u8]>) {
        let key_bytes = key.as_ref();
        self.check_size(key_bytes.len());
        self.note(cf, key_bytes);
        match cf {
            Cf::Metadata => self.cached.metadata.delete(key_bytes),
            Cf::SubKeys => self.cached.sub_keys.delete(key_bytes),
            Cf::ZSetScore | Cf::Internal => {}
        }
        match &mut self.ops {
            Some(ops) => deferred::push_op(ops, deferred::Op { cf, key: key.into(), value: None }),
            None => {
                let storage = self.storage;
                self.rocks().delete_cf(storage.cf(cf), key);
            }
        }
    }

    /// Deletes `[from, to)`; `from` is a database prefix (`[ns_len][ns][db]`) or a key.
    pub fn delete_range(&mut self, cf: Cf, from: &[u8], to: &[u8]) {
        if cf != Cf::Internal && self.track_written {
            self.written.range(from);
        }
        match cf {
            Cf::Metadata => self.cached.metadata.delete_range(),
            Cf::SubKeys => self.cached.sub_keys.delete_range(),
            Cf::ZSetScore | Cf::Internal => {}
        }
        // From here the batch is RocksDB's: what the overlay would have described goes first.
        if let Some(ops) = self.ops.take() {
            self.inner = Some(self.storage.batch_of(ops, 0));
        }
        let storage = self.storage;
        self.rocks().delete_range_cf(storage.cf(cf), from, to);
    }

    /// The member cache lets `key` go once the batch lands: a member the database keeps but no
    /// reader reaches any more (a popped list element, types/list.rs). Left in, it
    /// takes a live member's room, and once evicted it ends the cache's completeness, after
    /// which every new member's check reads RocksDB: redis-benchmark's 300 k popped elements
    /// filled most of the default cache before its HSET test.
    pub fn forget_cached_member(&mut self, key: &[u8]) {
        self.cached.sub_keys.forget_unreachable(key);
    }

    /// The member cache lets every entry go once the batch lands, if no key is left then
    /// (`RecordCache::forget_if_no_keys`): the batch deletes keys and leaves their members.
    pub fn forget_members_if_no_keys(&mut self) {
        self.cached.sub_keys.forget_if_no_keys();
    }

    fn rocks(&mut self) -> &mut WriteBatch {
        self.inner.get_or_insert_with(WriteBatch::default)
    }

    fn check_size(&mut self, bytes: usize) {
        if bytes > MAX_RECORD_PART_BYTES {
            self.oversized = Some(bytes);
        }
    }

    fn note(&mut self, cf: Cf, key: &[u8]) {
        if !self.track_written {
            return;
        }
        match cf {
            Cf::Metadata => self.written.meta_key(key),
            Cf::SubKeys | Cf::ZSetScore => self.written.sub_key(key),
            Cf::Internal => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.inner.as_ref().is_none_or(WriteBatch::is_empty) && self.ops.as_ref().is_none_or(|ops| ops.is_empty())
    }
}

/// Milliseconds since the Unix epoch: the clock of expiry.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
