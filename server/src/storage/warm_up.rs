//! Loading a column family into its record cache at open. A database that fits its caches
//! then restarts as a fresh one runs: with complete caches, whose misses read nothing
//! (record_cache.rs, `complete`). A larger one is not read at all, so that it still serves its
//! first command at once.

use super::record_cache::RecordCache;
use super::{Cf, Rocks};

/// A warm-up fills at most `1 / WARM_UP_SHARE_DIVISOR` of the cache: the rest takes new
/// keys before an eviction ends completeness.
const WARM_UP_SHARE_DIVISOR: u64 = 2;

/// Stores every record of `cf` in `cache` if they fit its warm-up share, and then counts the
/// cache complete. Called at open, before anyone reads or writes.
pub(super) fn warm_up(db: &Rocks, cf: Cf, cache: &RecordCache) {
    let budget_bytes = cache.capacity_bytes() / WARM_UP_SHARE_DIVISOR;
    let Some(handle) = db.cf_handle(cf.name()) else { return };
    // RocksDB's estimate (memtables and SST files) rules out, without reading them, more
    // records than the budget could hold were each as small as an entry can be.
    let estimated_records =
        db.property_int_value_cf(&handle, "rocksdb.estimate-num-keys").ok().flatten().unwrap_or(u64::MAX);
    if estimated_records > RecordCache::most_records_in(budget_bytes) {
        return;
    }
    let mut it = db.raw_iterator_cf(&handle);
    it.seek_to_first();
    let (mut loaded, mut loaded_bytes) = (0u64, 0u64);
    while let (Some(key), Some(record)) = (it.key(), it.value()) {
        loaded_bytes += RecordCache::weight_of(key, record);
        if loaded_bytes > budget_bytes || !cache.preload(key, record) {
            return;
        }
        loaded += 1;
        it.next();
    }
    if it.status().is_ok() && cache.complete_if_loaded(loaded) {
        tracing::info!(column_family = cf.name(), records = loaded, "cache holds every record");
    }
}
