//! The active expiry cycle. Reads already treat expired keys as absent (lazy expiry); this
//! cycle deletes them for real, so DBSIZE, KEYS, SCAN and the disk stay honest.

use std::sync::Arc;
use std::time::Duration;

use crate::db::Db;
use crate::shared::{Shared, Stats};
use crate::storage::metadata::has_expiry;
use crate::storage::{now_ms, Cf, Metadata};
use crate::types::list;

/// Metadata records examined per tick; bounds the work one tick can do.
pub const ACTIVE_EXPIRE_KEYS_PER_TICK: usize = 2_000;
/// Expired keys deleted under one lock set and one write batch: few enough that the
/// stripes held stay a small share of all.
pub const ACTIVE_EXPIRE_KEYS_PER_BATCH: usize = 128;

pub async fn active_expire_cycle(shared: Arc<Shared>) {
    let mut walk = Walk::default();
    loop {
        let hz = shared.config().get_u64("hz").max(1);
        tokio::time::sleep(Duration::from_millis(1000 / hz)).await;
        if let Err(e) = walk.tick(&shared) {
            tracing::error!(error = %e, "active expiry failed");
            walk = Walk::default();
        }
    }
}

/// The walk over the metadata records, between ticks. A pass that met no record with an
/// expiry, while none was written, leaves the walk resting until one is: Redis samples only
/// the keys that have an expiry, and a dataset without any (10 M strings) no longer has
/// every record read again every few minutes, nor its block cache churned by the reading.
#[derive(Default)]
pub struct Walk {
    /// Where the next tick resumes; empty: a new pass.
    resume: Vec<u8>,
    /// `Storage::volatile_writes` when this pass began.
    writes_at_start: u64,
    /// Whether this pass met a record with an expiry.
    met_volatile: bool,
    /// Resting while `Storage::volatile_writes` is this.
    resting_at: Option<u64>,
}

impl Walk {
    /// One tick of the walk, unless it rests; whether it walked.
    pub fn tick(&mut self, shared: &Shared) -> Result<bool, crate::storage::StorageError> {
        let writes = shared.storage.volatile_writes();
        if self.resting_at == Some(writes) {
            return Ok(false);
        }
        self.resting_at = None;
        if self.resume.is_empty() {
            // Read before the pass reads any record: an expiry written during the pass, even
            // behind it, moves the count and keeps the walk going.
            self.writes_at_start = writes;
            self.met_volatile = false;
        }
        let progress = expire_some(shared, &self.resume)?;
        self.met_volatile |= progress.met_volatile;
        self.resume = progress.resume;
        if self.resume.is_empty() && !self.met_volatile && shared.storage.volatile_writes() == self.writes_at_start {
            self.resting_at = Some(self.writes_at_start);
        }
        Ok(true)
    }
}

/// What one tick of the walk saw.
pub struct Progress {
    /// Where the next tick resumes (empty = from the start).
    pub resume: Vec<u8>,
    /// Whether a record it examined has an expiry (expired or not).
    pub met_volatile: bool,
}

/// Examines up to [`ACTIVE_EXPIRE_KEYS_PER_TICK`] records from `resume` on and deletes the
/// expired ones.
pub fn expire_some(shared: &Shared, resume: &[u8]) -> Result<Progress, crate::storage::StorageError> {
    let now = now_ms();
    let mut expired = Vec::new();
    let mut next = Vec::new();
    let mut met_volatile = false;
    {
        let mut it = shared.storage.iter(Cf::Metadata, resume, None);
        it.seek(resume);
        let mut seen = 0;
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if seen == ACTIVE_EXPIRE_KEYS_PER_TICK {
                next = k.to_vec();
                break;
            }
            seen += 1;
            met_volatile |= has_expiry(v);
            if Metadata::decode(v).map(|m| m.is_expired(now)).unwrap_or(false) {
                expired.push(k.to_vec());
            }
            it.next();
        }
        it.status()?;
    }
    // Records come sorted, so each (namespace, db) is one run. A run is deleted in chunks,
    // each locked at once (its stripes in order, as any multi-key command takes them),
    // re-checked under the lock (a key may have been rewritten since the scan) and deleted in
    // one batch: one WAL write per chunk rather than per key (`appendfsync always` syncs each).
    let mut rest = &expired[..];
    while let Some(first) = rest.first() {
        let Some((ns, db, _)) = split_meta_key(first) else {
            rest = &rest[1..];
            continue;
        };
        let run_len = rest.iter().take_while(|k| split_meta_key(k).is_some_and(|(n, d, _)| n == ns && d == db)).count();
        let (run, after) = rest.split_at(run_len);
        rest = after;
        for chunk in run.chunks(ACTIVE_EXPIRE_KEYS_PER_BATCH) {
            delete_if_still_expired(shared, ns, db, chunk)?;
        }
    }
    Ok(Progress { resume: next, met_volatile })
}

/// Deletes the records of `run` (metadata keys of one namespace and db) that are still
/// expired, under their key locks.
fn delete_if_still_expired(
    shared: &Shared,
    ns: &[u8],
    db: u8,
    run: &[Vec<u8>],
) -> Result<(), crate::storage::StorageError> {
    let keys: Vec<&[u8]> = run.iter().filter_map(|k| split_meta_key(k).map(|(_, _, key)| key)).collect();
    let _guard = shared.locks.lock(ns, db, keys.iter().copied());
    let now = now_ms();
    let records = shared.storage.multi_get(Cf::Metadata, run)?;
    let handle = Db { storage: &shared.storage, ns, index: db };
    let mut forgettable = list::Forgettable::default();
    let mut batch = shared.storage.batch();
    let mut deleted = Vec::new();
    for ((meta_key, key), record) in run.iter().zip(&keys).zip(records) {
        let Some(meta) = record.and_then(|raw| Metadata::decode(&raw).ok()).filter(|m| m.is_expired(now)) else {
            continue;
        };
        list::forget_deleted(&handle, &mut batch, key, &meta, &mut forgettable);
        batch.delete(Cf::Metadata, meta_key.as_slice());
        deleted.push(*key);
    }
    shared.storage.write(batch)?;
    Stats::add(&shared.stats.expired_keys, deleted.len() as u64);
    // Redis's `deleteExpiredKeyAndPropagate` signals each key as modified (WATCH).
    shared.watches.touch(ns, db, deleted.into_iter());
    Ok(())
}

fn split_meta_key(meta_key: &[u8]) -> Option<(&[u8], u8, &[u8])> {
    let ns_len = *meta_key.first()? as usize;
    let ns = meta_key.get(1..1 + ns_len)?;
    let db = *meta_key.get(1 + ns_len)?;
    Some((ns, db, &meta_key[2 + ns_len..]))
}
