//! The disk quota (`max-db-size`, in GB, Kvrocks's parameter; 0 = none): once RocksDB's files
//! and memtables pass it, commands that can grow the data (Redis's `denyoom` flag: SET, LPUSH,
//! ... but not DEL or FLUSHDB) are refused, as Redis refuses them past `maxmemory`; reads,
//! deletions and everything else are still served.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::error::Error;

/// Reading RocksDB's size properties costs a few calls; writes reuse a reading this recent.
const SIZE_REFRESH_MS: u64 = 100;
const GB: u64 = 1 << 30;

/// The last size read, and when (milliseconds since `started`).
pub struct DiskQuota {
    started: Instant,
    size_bytes: AtomicU64,
    /// 0 = never read.
    read_at_ms: AtomicU64,
    /// `max-db-size` as last read, and the config generation it was read at (`u64::MAX`:
    /// never): every data-growing command consults it, and reading the config took a lock,
    /// a map lookup and a parse (1.6% of a pipelined SET's instructions).
    limit_gb: AtomicU64,
    limit_generation: AtomicU64,
    /// A seqlock over the pair: odd while a store writes it.
    limit_sequence: AtomicU64,
    /// One store of the pair at a time (only when the generation moved).
    limit_store: Mutex<()>,
}

impl Default for DiskQuota {
    fn default() -> Self {
        DiskQuota {
            started: Instant::now(),
            size_bytes: AtomicU64::new(0),
            read_at_ms: AtomicU64::new(0),
            limit_gb: AtomicU64::new(0),
            limit_generation: AtomicU64::new(u64::MAX),
            limit_sequence: AtomicU64::new(0),
            limit_store: Mutex::new(()),
        }
    }
}

impl DiskQuota {
    /// `max-db-size` at config generation `generation`, read by `read` only when the
    /// generation moved since the last reading.
    pub fn limit_gb(&self, generation: u64, read: impl FnOnce() -> u64) -> u64 {
        // A seqlock, so a value is only ever taken with the generation stored beside it:
        // two stores racing across a change could otherwise leave the older value beside the
        // newer generation, for good.
        let sequence = self.limit_sequence.load(Ordering::SeqCst);
        if sequence.is_multiple_of(2) && self.limit_generation.load(Ordering::SeqCst) == generation {
            let limit_gb = self.limit_gb.load(Ordering::SeqCst);
            if self.limit_sequence.load(Ordering::SeqCst) == sequence {
                return limit_gb;
            }
        }
        let limit_gb = read();
        let _one_store = self.limit_store.lock().unwrap_or_else(|e| e.into_inner());
        self.limit_sequence.fetch_add(1, Ordering::SeqCst);
        self.limit_generation.store(generation, Ordering::SeqCst);
        self.limit_gb.store(limit_gb, Ordering::SeqCst);
        self.limit_sequence.fetch_add(1, Ordering::SeqCst);
        limit_gb
    }

    /// Refuses a data-growing command when the size (read by `size_bytes` at most every
    /// [`SIZE_REFRESH_MS`]) is over `max_db_size_gb`.
    pub fn check(&self, max_db_size_gb: u64, size_bytes: impl FnOnce() -> u64) -> Result<(), Error> {
        if max_db_size_gb == 0 {
            return Ok(());
        }
        let now_ms = self.started.elapsed().as_millis() as u64 + 1;
        let read_at = self.read_at_ms.load(Ordering::Relaxed);
        let size = if read_at == 0 || now_ms.saturating_sub(read_at) >= SIZE_REFRESH_MS {
            let size = size_bytes();
            self.size_bytes.store(size, Ordering::Relaxed);
            self.read_at_ms.store(now_ms, Ordering::Relaxed);
            size
        } else {
            self.size_bytes.load(Ordering::Relaxed)
        };
        if size >= max_db_size_gb.saturating_mul(GB) {
            return Err(Error::err("command not allowed when the database size is over 'max-db-size'"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_reread_when_the_config_generation_moves() {
        let quota = DiskQuota::default();
        assert_eq!(quota.limit_gb(0, || 5), 5);
        assert_eq!(quota.limit_gb(0, || unreachable!("cached")), 5);
        assert_eq!(quota.limit_gb(1, || 7), 7);
    }

    #[test]
    fn writes_are_refused_over_the_quota_only() {
        let quota = DiskQuota::default();
        assert!(quota.check(0, || u64::MAX).is_ok(), "0 = no quota");
        assert!(quota.check(1, || GB - 1).is_ok());
        let fresh = DiskQuota::default();
        let refused = fresh.check(1, || GB).unwrap_err();
        assert_eq!(refused.to_string(), "ERR command not allowed when the database size is over 'max-db-size'");
        // A recent reading is reused instead of asking RocksDB again.
        assert!(fresh.check(1, || 0).is_err());
        assert!(fresh.check(2, || unreachable!()).is_ok());
    }
}
