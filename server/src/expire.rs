//! The active expiry cycle. Reads already treat expired keys as absent (lazy expiry); this
//! cycle deletes them for real, so DBSIZE, KEYS, SCAN and the disk stay honest.

use std::sync::Arc;
use std::time::Duration;

use crate::shared::{Shared, Stats};
use crate::storage::{now_ms, Cf, Metadata};

/// Metadata records examined per tick; bounds the work one tick can do.
pub const ACTIVE_EXPIRE_KEYS_PER_TICK: usize = 2_000;

pub async fn active_expire_cycle(shared: Arc<Shared>) {
    let mut resume: Vec<u8> = Vec::new();
    loop {
        let hz = shared.config().get_u64("hz").max(1);
        tokio::time::sleep(Duration::from_millis(1000 / hz)).await;
        match expire_some(&shared, &resume) {
            Ok(next) => resume = next,
            Err(e) => {
                tracing::error!(error = %e, "active expiry failed");
                resume.clear();
            }
        }
    }
}

/// Examines up to [`ACTIVE_EXPIRE_KEYS_PER_TICK`] records from `resume` on and deletes the
/// expired ones; returns where the next tick resumes (empty = from the start).
pub fn expire_some(shared: &Shared, resume: &[u8]) -> Result<Vec<u8>, crate::storage::StorageError> {
    let now = now_ms();
    let mut expired = Vec::new();
    let mut next = Vec::new();
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
            if Metadata::decode(v).map(|m| m.is_expired(now)).unwrap_or(false) {
                expired.push(k.to_vec());
            }
            it.next();
        }
        it.status()?;
    }
    for meta_key in expired {
        let Some((ns, db, key)) = split_meta_key(&meta_key) else { continue };
        let _guard = shared.locks.lock(ns, db, std::iter::once(key));
        // Re-check under the lock: the key may have been rewritten since the scan.
        let still_expired = shared
            .storage
            .get(Cf::Metadata, &meta_key)?
            .and_then(|raw| Metadata::decode(&raw).ok())
            .is_some_and(|m| m.is_expired(now_ms()));
        if still_expired {
            let mut batch = shared.storage.batch();
            batch.delete(Cf::Metadata, &meta_key);
            shared.storage.write(batch)?;
            Stats::add(&shared.stats.expired_keys, 1);
            // Redis's `deleteExpiredKeyAndPropagate` signals the key as modified (WATCH).
            shared.watches.touch(ns, db, std::iter::once(key));
        }
    }
    Ok(next)
}

fn split_meta_key(meta_key: &[u8]) -> Option<(&[u8], u8, &[u8])> {
    let ns_len = *meta_key.first()? as usize;
    let ns = meta_key.get(1..1 + ns_len)?;
    let db = *meta_key.get(1 + ns_len)?;
    Some((ns, db, &meta_key[2 + ns_len..]))
}
