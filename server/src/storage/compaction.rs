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
//! Each compaction gets a filter of its own (`SubKeyFilterFactory`), which reads a
//! collection's metadata once for the run of its sub-keys: a compaction meets a collection's
//! sub-keys one after another, and reading the metadata for each of them was a fifth of the
//! compaction thread's time under pipelined HSETs of 1 KB values (perf). That read may be
//! older than the sub-key it judges, never older than the compaction: its input files were
//! written before it started, and with them every sub-key it meets and the metadata record
//! written in the same batch. Metadata read later still tells the same: a version once
//! replaced never comes back (versions only grow, version.rs), and an index once outside the
//! list comes back only with a newer record of it, which is not in the compaction's input.
//!
//! Metadata records get no filter: a filter's `Remove` drops a record without a tombstone,
//! which could let an older record of the same key resurface from a lower level. Expired
//! metadata is deleted by the active expiry cycle with real deletes instead.

use std::ffi::CStr;
use std::sync::{Arc, OnceLock, Weak};

use rocksdb::compaction_filter::{CompactionFilter, Decision};
use rocksdb::compaction_filter_factory::{CompactionFilterContext, CompactionFilterFactory};

use super::encoding::{parse_sub_key, write_meta_key, SubKeyParts};
use super::metadata::{KeyType, Metadata};
use super::{now_ms, Cf, Rocks};

const NAME: &CStr = c"redrock-stale-sub-keys";

/// Makes the sub-key filter of each compaction of the `default` and `zset_score` column
/// families. The database is reached through `handle`, set once it is open.
pub struct SubKeyFilterFactory {
    pub handle: Arc<OnceLock<Weak<Rocks>>>,
}

impl CompactionFilterFactory for SubKeyFilterFactory {
    type Filter = SubKeyFilter;

    fn create(&mut self, _: CompactionFilterContext) -> SubKeyFilter {
        SubKeyFilter { db: self.handle.get().cloned(), last: None, owner: Vec::new() }
    }

    fn name(&self) -> &CStr {
        NAME
    }
}

/// One compaction's sub-key filter.
pub struct SubKeyFilter {
    /// `None` while the database is not open yet (nothing is dropped then). Weak: a
    /// compaction must not be what keeps the database open, or its last holder would close
    /// it from RocksDB's own thread.
    db: Option<Weak<Rocks>>,
    /// The metadata key of the last sub-key judged, and its record as read then (`None`:
    /// absent or expired). A record that could not be read or decoded is not kept: its
    /// sub-keys stay.
    last: Option<(Vec<u8>, Option<Metadata>)>,
    /// The metadata key of the sub-key being judged, built over the last one's: a filter
    /// sees every sub-key a compaction reads, and needs a new key only when its owner changes.
    owner: Vec<u8>,
}

impl CompactionFilter for SubKeyFilter {
    fn filter(&mut self, _level: u32, key: &[u8], _value: &[u8]) -> Decision {
        let Some(parts) = parse_sub_key(key) else {
            return Decision::Keep;
        };
        write_meta_key(&mut self.owner, parts.ns, parts.db, parts.user_key);
        if self.last.as_ref().is_none_or(|(last, _)| *last != self.owner) {
            let Some(metadata) = self.read_metadata(&self.owner) else {
                // On a read error keep the sub-key: dropping live data is worse than keeping
                // garbage.
                return Decision::Keep;
            };
            // Expiry is judged once, as the record is read: reading the clock for every
            // sub-key was 1-1.4% of the compaction thread (perf, 1 KB HSETs). A collection
            // that expires while its sub-keys are judged keeps them until a later compaction.
            let metadata = metadata.filter(|metadata| !metadata.is_expired(now_ms()));
            let spare = self.last.take().map(|(key, _)| key).unwrap_or_default();
            self.last = Some((std::mem::replace(&mut self.owner, spare), metadata));
        }
        let metadata = self.last.as_ref().and_then(|(_, metadata)| metadata.as_ref());
        if is_live(&parts, metadata) {
            Decision::Keep
        } else {
            Decision::Remove
        }
    }

    fn name(&self) -> &CStr {
        NAME
    }
}

impl SubKeyFilter {
    /// The metadata record under `meta_key`: `Some(None)` when there is none, `None` when it
    /// cannot be told (a read error, a record that does not decode, no database yet).
    fn read_metadata(&self, meta_key: &[u8]) -> Option<Option<Metadata>> {
        let db = self.db.as_ref()?.upgrade()?;
        let cf = db.cf_handle(Cf::Metadata.name())?;
        let record = db.get_pinned_cf(&cf, meta_key).ok()?;
        match record {
            None => Some(None),
            Some(raw) => Metadata::decode(&raw).ok().map(Some),
        }
    }
}

/// Whether the sub-key `parts` belongs to the collection `metadata` (unexpired when read)
/// describes.
fn is_live(parts: &SubKeyParts<'_>, metadata: Option<&Metadata>) -> bool {
    let Some(metadata) = metadata else {
        return false;
    };
    match metadata.collection {
        Some(c) if c.version == parts.version => {
            metadata.key_type != KeyType::List || list_index(parts.sub).is_none_or(|i| (c.head..c.tail).contains(&i))
        }
        _ => false,
    }
}

/// The index of a list element's sub-key (8 bytes, big-endian); `None` if malformed.
fn list_index(sub: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(sub.try_into().ok()?))
}
