//! Compaction filters: how deleted and expired data actually leaves the disk.
//!
//! Deleting or overwriting a collection only rewrites its metadata record (O(1)); its
//! sub-keys stay until a compaction meets them. The sub-key filter drops a sub-key whose
//! metadata is gone, expired, of a string, or of another version, and a list element whose
//! index lies outside the list's `[head, tail)` (popped or trimmed: types/list.rs).
//!
//! Dropping a sub-key can let an older record of the same key resurface from a lower level:
//! it is as dead as the one dropped (of an old version, or outside the range, which nothing
//! re-enters without writing the index anew).
//!
//! Metadata records get no filter: a filter's `Remove` drops a record without a tombstone,
//! which could let an older record of the same key resurface from a lower level. Expired
//! metadata is deleted by the active expiry cycle with real deletes instead.

use std::sync::{Arc, OnceLock, Weak};

use rocksdb::compaction_filter::Decision;

use super::encoding::{meta_key, parse_sub_key};
use super::metadata::{KeyType, Metadata};
use super::{now_ms, Cf, Rocks};

/// The filter of the `default` and `zset_score` column families.
pub fn sub_key_filter(
    handle: Arc<OnceLock<Weak<Rocks>>>,
) -> impl FnMut(u32, &[u8], &[u8]) -> Decision + Send + 'static {
    move |_level, key, _value| {
        let Some(db) = handle.get().and_then(Weak::upgrade) else {
            return Decision::Keep;
        };
        let Some(parts) = parse_sub_key(key) else {
            return Decision::Keep;
        };
        let Some(cf) = db.cf_handle(Cf::Metadata.name()) else {
            return Decision::Keep;
        };
        // On a read error keep the sub-key: dropping live data is worse than keeping garbage.
        let record = db.get_pinned_cf(&cf, meta_key(parts.ns, parts.db, parts.user_key)).map(|r| r.map(|s| s.to_vec()));
        match record {
            Ok(None) => Decision::Remove,
            Ok(Some(raw)) => match Metadata::decode(&raw) {
                Ok(meta) => match meta.collection {
                    Some(c) if c.version == parts.version && !meta.is_expired(now_ms()) => {
                        let outside_list = meta.key_type == KeyType::List
                            && list_index(parts.sub).is_some_and(|i| !(c.head..c.tail).contains(&i));
                        if outside_list {
                            Decision::Remove
                        } else {
                            Decision::Keep
                        }
                    }
                    _ => Decision::Remove,
                },
                Err(_) => Decision::Keep,
            },
            Err(_) => Decision::Keep,
        }
    }
}

/// The index of a list element's sub-key (8 bytes, big-endian); `None` if malformed.
fn list_index(sub: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(sub.try_into().ok()?))
}
