//! One database of one namespace: the key-level operations every type shares (lookup with
//! lazy expiry, delete, expire, rename, copy, iteration). Type-specific work is in `types/`.

use crate::error::{Error, Result};
use crate::shared::Stats;
use crate::storage::encoding::{self, db_prefix, meta_key, prefix_successor, sub_key_prefix};
use crate::storage::metadata::{self, HEADER_LEN};
use crate::storage::{now_ms, Batch, Cf, KeyType, Metadata, Storage};

/// Databases with at most this many keys are flushed with point deletes, larger ones with
/// range deletions (see [`Db::flush_in`]).
pub const FLUSH_POINT_DELETES_MAX: usize = 1024;

/// Records a walk of the keyspace (`Db::walk_keys`) reads between two questions whether to go
/// on: a walk of 10 M keys takes seconds, and its caller may be gone (offload.rs).
pub const WALK_CHECK_RECORDS: u64 = 4096;

/// A key's live record: its metadata and the raw bytes (for strings, the value follows the
/// header).
#[derive(Clone, Debug)]
pub struct Record {
    pub meta: Metadata,
    pub raw: Vec<u8>,
}

impl Record {
    /// The bytes of a string record.
    pub fn string_value(&self) -> &[u8] {
        &self.raw[HEADER_LEN..]
    }

    pub fn version(&self) -> Option<u64> {
        self.meta.collection.map(|c| c.version)
    }
}

/// A handle on one database of one namespace.
#[derive(Clone, Copy)]
pub struct Db<'a> {
    pub storage: &'a Storage,
    pub ns: &'a [u8],
    /// Physical database index (after SWAPDB's mapping).
    pub index: u8,
}

/// Bytes of a metadata key a read builds on the stack (see `Db::with_read_meta_key`).
const READ_KEY_INLINE_BYTES: usize = 64;

impl<'a> Db<'a> {
    pub fn meta_key(&self, key: &[u8]) -> Vec<u8> {
        meta_key(self.ns, self.index, key)
    }

    /// `[ns_len][ns][db]`.
    pub fn prefix(&self) -> Vec<u8> {
        db_prefix(self.ns, self.index)
    }

    /// The prefix of the sub-keys of `key`'s incarnation `version`.
    pub fn sub_prefix(&self, key: &[u8], version: u64) -> Vec<u8> {
        sub_key_prefix(self.ns, self.index, key, version)
    }

    /// `read` of `key`'s metadata key, for a read, which needs it only while it looks: on the
    /// stack for most keys (allocating and freeing it was ~100 instructions of every
    /// command's lookup).
    fn with_read_meta_key<T>(&self, key: &[u8], read: impl FnOnce(&[u8]) -> T) -> T {
        let mut inline = [0u8; READ_KEY_INLINE_BYTES];
        match encoding::meta_key_in(&mut inline, self.ns, self.index, key) {
            Some(meta_key) => read(meta_key),
            None => read(&self.meta_key(key)),
        }
    }

    /// The live record of `key`; expired records read as absent (lazy expiry).
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Record>> {
        let Some(raw) = self.with_read_meta_key(key, |meta_key| self.storage.get(Cf::Metadata, meta_key))? else {
            return Ok(None);
        };
        let meta = Metadata::decode(&raw).map_err(crate::storage::StorageError::from)?;
        if meta.is_expired(now_ms()) {
            return Ok(None);
        }
        Ok(Some(Record { meta, raw }))
    }

    /// `lookup` for a command that reads the key (Redis's `lookupKeyRead`): counts a
    /// keyspace hit or miss in `stats` (INFO). Writes and internal lookups use `lookup`.
    pub fn lookup_read(&self, key: &[u8], stats: &Stats) -> Result<Option<Record>> {
        let found = self.lookup(key)?;
        let counter = if found.is_some() { &stats.keyspace_hits } else { &stats.keyspace_misses };
        Stats::add(counter, 1);
        Ok(found)
    }

    /// `lookup_typed` for a command that reads the key: counts a keyspace hit or miss
    /// (a key of another type is a hit, as in Redis).
    pub fn lookup_typed_read(&self, key: &[u8], expected: KeyType, stats: &Stats) -> Result<Option<Record>> {
        match self.lookup_read(key, stats)? {
            Some(record) if record.meta.key_type != expected => Err(Error::WrongType),
            found => Ok(found),
        }
    }

    /// The live record of `key` if it has type `expected`; `WRONGTYPE` if it has another.
    pub fn lookup_typed(&self, key: &[u8], expected: KeyType) -> Result<Option<Record>> {
        match self.lookup(key)? {
            Some(record) if record.meta.key_type != expected => Err(Error::WrongType),
            found => Ok(found),
        }
    }

    /// Deletes `key`'s record in `batch`. Sub-keys stay behind, invisible, for the
    /// compaction filter: deletion is O(1) whatever the size.
    pub fn delete_in(&self, batch: &mut Batch<'_>, key: &[u8]) {
        batch.delete(Cf::Metadata, self.meta_key(key));
    }

    /// Deletes `key` in `batch` if it exists (live): a command that deletes nothing must
    /// write nothing, or WATCH would see a change Redis does not signal.
    pub fn delete_if_exists_in(&self, batch: &mut Batch<'_>, key: &[u8]) -> Result<bool> {
        let exists = self.lookup(key)?.is_some();
        if exists {
            self.delete_in(batch, key);
        }
        Ok(exists)
    }

    /// Deletes `key`; whether it existed.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        if self.lookup(key)?.is_none() {
            return Ok(false);
        }
        let mut batch = self.storage.batch();
        self.delete_in(&mut batch, key);
        self.storage.write(batch)?;
        Ok(true)
    }

    /// Rewrites `record`'s expire time (0 = persist) in `batch`.
    pub fn set_expire_in(&self, batch: &mut Batch<'_>, key: &[u8], record: &Record, expire_ms: u64) {
        let mut raw = record.raw.clone();
        metadata::set_expire_in_place(&mut raw, expire_ms);
        batch.put(Cf::Metadata, self.meta_key(key), raw);
    }

    /// Writes `record` (with its sub-keys) under `dst_key` of `dst`, as a new incarnation.
    /// The caller has deleted or checked the destination.
    pub fn copy_in(
        &self,
        batch: &mut Batch<'_>,
        key: &[u8],
        record: &Record,
        dst: &Db<'_>,
        dst_key: &[u8],
    ) -> Result<()> {
        let Some(collection) = record.meta.collection else {
            batch.put(Cf::Metadata, dst.meta_key(dst_key), &record.raw[..]);
            return Ok(());
        };
        let new_version = self.storage.next_version();
        let mut meta = record.meta.clone();
        if let Some(c) = meta.collection.as_mut() {
            c.version = new_version;
        }
        batch.put(Cf::Metadata, dst.meta_key(dst_key), meta.encode());
        let src_prefix = self.sub_prefix(key, collection.version);
        let dst_prefix = dst.sub_prefix(dst_key, new_version);
        // A list's elements are its `[head, tail)` only (types/list.rs); other indexes may
        // hold what pops left for compaction.
        let (lower, upper) = match record.meta.key_type {
            KeyType::List => (
                encoding::sub_key(&src_prefix, &collection.head.to_be_bytes()),
                Some(encoding::sub_key(&src_prefix, &collection.tail.to_be_bytes())),
            ),
            _ => (src_prefix.clone(), encoding::prefix_successor(&src_prefix)),
        };
        for cf in [Cf::SubKeys, Cf::ZSetScore] {
            let mut it = self.storage.iter(cf, &lower, upper.clone());
            it.seek_to_first();
            while let (Some(k), Some(v)) = (it.key(), it.value()) {
                batch.put(cf, encoding::sub_key(&dst_prefix, &k[src_prefix.len()..]), v);
                it.next();
            }
            it.status().map_err(crate::storage::StorageError::from)?;
        }
        Ok(())
    }

    /// Calls `visit` with each live key (and its record) from `start` (inclusive) on, in
    /// byte order, until it returns false. Expired records are skipped.
    pub fn for_each_key(&self, start: &[u8], visit: impl FnMut(&[u8], &Metadata) -> bool) -> Result<()> {
        self.for_each_key_with_prefix(b"", start, visit)
    }

    /// [`Db::for_each_key`] restricted to the keys that start with `key_prefix`: one range
    /// of RocksDB, so `KEYS user:*` reads only the `user:` keys.
    pub fn for_each_key_with_prefix(
        &self,
        key_prefix: &[u8],
        start: &[u8],
        mut visit: impl FnMut(&[u8], &Metadata) -> bool,
    ) -> Result<()> {
        self.for_each_record_with_prefix(key_prefix, start, |key, meta, expired| expired || visit(key, meta))
    }

    /// Like [`Db::for_each_key_with_prefix`], but expired records (not yet deleted by the
    /// active cycle) are visited too, flagged: SCAN counts them as work so that one call
    /// stays bounded whatever lies in the range.
    pub fn for_each_record_with_prefix(
        &self,
        key_prefix: &[u8],
        start: &[u8],
        visit: impl FnMut(&[u8], &Metadata, bool) -> bool,
    ) -> Result<()> {
        self.walk_records(key_prefix, start, true, visit)
    }

    /// [`Db::for_each_record_with_prefix`], keeping the blocks it reads in the block cache only
    /// if `fill_block_cache` (see [`Storage::iter_uncached`]).
    fn walk_records(
        &self,
        key_prefix: &[u8],
        start: &[u8],
        fill_block_cache: bool,
        mut visit: impl FnMut(&[u8], &Metadata, bool) -> bool,
    ) -> Result<()> {
        let prefix = self.prefix();
        let mut range = prefix.clone();
        range.extend_from_slice(key_prefix);
        let upper = prefix_successor(&range);
        let mut it = if fill_block_cache {
            self.storage.iter(Cf::Metadata, &range, upper)
        } else {
            self.storage.iter_uncached(Cf::Metadata, &range, upper)
        };
        let mut from = prefix.clone();
        from.extend_from_slice(start);
        it.seek(from.max(range));
        let now = now_ms();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let meta = Metadata::decode(v).map_err(crate::storage::StorageError::from)?;
            if !visit(&k[prefix.len()..], &meta, meta.is_expired(now)) {
                return Ok(());
            }
            it.next();
        }
        it.status().map_err(crate::storage::StorageError::from)?;
        Ok(())
    }

    /// The first live key from `start` on among those starting with `key_prefix`.
    pub fn first_key_with_prefix(&self, key_prefix: &[u8], start: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut first = None;
        self.for_each_key_with_prefix(key_prefix, start, |key, _| {
            first = Some(key.to_vec());
            false
        })?;
        Ok(first)
    }

    /// The last live key in byte order among those starting with `key_prefix`.
    pub fn last_key_with_prefix(&self, key_prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        let prefix = self.prefix();
        let mut range = prefix.clone();
        range.extend_from_slice(key_prefix);
        let mut it = self.storage.iter(Cf::Metadata, &range, prefix_successor(&range));
        it.seek_to_last();
        let now = now_ms();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let meta = Metadata::decode(v).map_err(crate::storage::StorageError::from)?;
            if !meta.is_expired(now) {
                return Ok(Some(k[prefix.len()..].to_vec()));
            }
            it.prev();
        }
        it.status().map_err(crate::storage::StorageError::from)?;
        Ok(None)
    }

    /// Calls `visit` with each sub-key of `record`'s incarnation of `key` (the part after the
    /// collection's prefix) and its value, in byte order, until it returns false. Not for
    /// lists, whose elements are only the indexes in `[head, tail)` (types/list.rs).
    pub fn for_each_sub_key(
        &self,
        key: &[u8],
        record: &Record,
        mut visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        debug_assert_ne!(record.meta.key_type, KeyType::List, "a list's sub-keys include garbage");
        let Some(version) = record.version() else {
            return Ok(());
        };
        let prefix = self.sub_prefix(key, version);
        let mut it = self.storage.iter_prefix(Cf::SubKeys, &prefix);
        it.seek(&prefix);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !visit(&k[prefix.len()..], v) {
                return Ok(());
            }
            it.next();
        }
        it.status().map_err(crate::storage::StorageError::from)?;
        Ok(())
    }

    /// Number of live keys: [`Db::count_keys`] walked to its end.
    pub fn size(&self) -> Result<u64> {
        Ok(self.count_keys(|| true)?.map_or(0, |(keys, _)| keys))
    }

    /// Number of live keys, and of those with an expiry (DBSIZE, INFO keyspace): a walk of the
    /// database, as RocksDB keeps no count (see [`Db::walk_keys`]); `None` if `go_on` stopped it.
    pub fn count_keys(&self, go_on: impl Fn() -> bool) -> Result<Option<(u64, u64)>> {
        let (mut keys, mut expires) = (0u64, 0u64);
        let finished = self.walk_keys(b"", go_on, |_, meta| {
            keys += 1;
            if meta.expire_ms != 0 {
                expires += 1;
            }
        })?;
        Ok(finished.then_some((keys, expires)))
    }

    /// Calls `visit` with every live key starting with `key_prefix`, in byte order, in a walk
    /// that reads each record once (a count, KEYS) and so leaves the block cache as it found
    /// it (see [`Storage::iter_uncached`]). It stops, returning false, once `go_on` (asked
    /// every `WALK_CHECK_RECORDS` records) says so.
    pub fn walk_keys(
        &self,
        key_prefix: &[u8],
        go_on: impl Fn() -> bool,
        mut visit: impl FnMut(&[u8], &Metadata),
    ) -> Result<bool> {
        let mut records = 0u64;
        let mut stopped = false;
        self.walk_records(key_prefix, b"", false, |key, meta, expired| {
            if !expired {
                visit(key, meta);
            }
            records += 1;
            stopped = records.is_multiple_of(WALK_CHECK_RECORDS) && !go_on();
            !stopped
        })?;
        Ok(!stopped)
    }

    /// Deletes every key of this database in `batch`.
    ///
    /// A small database gets one point delete per metadata record (its sub-keys become
    /// invisible and the compaction filter drops them); a large one gets range deletions,
    /// O(1) whatever its size. Range tombstones are not free: every later read in the
    /// memtable walks them, and thousands of FLUSHALLs (a test suite, a fuzzer) would slow
    /// every read down, so they are kept for the case where they pay off.
    pub fn flush_in(&self, batch: &mut Batch<'_>) -> Result<()> {
        let prefix = self.prefix();
        let end = prefix_successor(&prefix).expect("a db prefix ends in the db byte, never all 0xff");
        let mut keys = Vec::new();
        {
            let mut it = self.storage.iter(Cf::Metadata, &prefix, Some(end.clone()));
            it.seek(&prefix);
            while let Some(key) = it.key() {
                if keys.len() == FLUSH_POINT_DELETES_MAX {
                    for cf in [Cf::Metadata, Cf::SubKeys, Cf::ZSetScore] {
                        batch.delete_range(cf, &prefix, &end);
                    }
                    return Ok(());
                }
                keys.push(key.to_vec());
                it.next();
            }
            it.status().map_err(crate::storage::StorageError::from)?;
        }
        for key in keys {
            batch.delete(Cf::Metadata, key);
        }
        batch.forget_members_if_no_keys();
        Ok(())
    }
}
