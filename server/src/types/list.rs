//! Lists. Element `i` (0-based from the head) is the sub-key `head + i` (u64 big-endian) of
//! the list's version; the metadata record holds `head`, `tail` (one past the last) and the
//! size (see storage/metadata.rs). So:
//!
//! - LPUSH/RPUSH/LPOP/RPOP, LINDEX, LSET are O(1) point reads and writes;
//! - LRANGE, LPOS and multi-element pops are one range iteration;
//! - LTRIM only moves `head` and `tail`;
//! - LINSERT and LREM shift elements, O(N) as in Redis, moving whichever side of the change
//!   is shorter.
//!
//! ```text
//!            head                         tail
//!             v                            v
//!   ... [h-2][h-1] [h][h+1] ... [t-2][t-1] [t][t+1] ...
//!   garbage        elements 0 .. size-1      garbage
//! ```
//!
//! Indexes outside `[head, tail)` hold no element, whatever is stored there: pops, LREM and
//! LTRIM move `head` and `tail` inwards and leave the records they pass over to the
//! compaction filter (storage/compaction.rs) instead of deleting them. A point delete was a
//! memtable insert as dear as the element's read (callgrind, pipelined RPOP: 22.0 k
//! instructions with it, 12.4 k without, the element read cheaper too in a skiplist without
//! tombstones), and a range deletion made every later read of its write group land first. This holds because every reader stays within
//! `[head, tail)`, and whatever moves `head` or `tail` outwards writes each index it brings
//! into the range in the same batch.
//!
//! A [`List`] is one list's state during a command: operations read the database, write into
//! the command's batch and keep `head`/`tail`/`size` in memory; [`List::finish`] writes the
//! metadata, or deletes the key when the list became empty (Redis never keeps empty lists).
//! Reads never need a write of the same batch: every operation reads before it writes.

use bytes::Bytes;
use redrock_protocol::BulkStrings;

use crate::db::Db;
use crate::error::Result;
use crate::storage::encoding::sub_key;
use crate::storage::{Batch, Cf, KeyType, Metadata, StorageError};

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The head (`LEFT`, LPUSH, LPOP).
    Left,
    /// The tail (`RIGHT`, RPUSH, RPOP).
    Right,
}

impl End {
    /// `LEFT` / `RIGHT`, case-insensitively (LMOVE, LMPOP).
    pub fn parse(arg: &[u8]) -> Option<End> {
        if arg.eq_ignore_ascii_case(b"left") {
            Some(End::Left)
        } else if arg.eq_ignore_ascii_case(b"right") {
            Some(End::Right)
        } else {
            None
        }
    }
}

/// One list during a command.
pub struct List {
    key: Vec<u8>,
    meta: Metadata,
    prefix: Vec<u8>,
}

impl List {
    /// The list at `key`; `None` if absent, WRONGTYPE if `key` holds another type.
    pub fn load(db: &Db<'_>, key: &[u8]) -> Result<Option<List>> {
        let Some(record) = db.lookup_typed(key, KeyType::List)? else {
            return Ok(None);
        };
        let list = List::of_meta(db, key, record.meta)
            .ok_or_else(|| StorageError::Format("list without collection header".into()))?;
        Ok(Some(list))
    }

    /// The list at `key` whose live metadata is `meta`; `None` without a collection header.
    fn of_meta(db: &Db<'_>, key: &[u8], meta: Metadata) -> Option<List> {
        let version = meta.collection.as_ref()?.version;
        Some(List { key: key.to_vec(), prefix: db.sub_prefix(key, version), meta })
    }

    /// A new, empty list for `key` (written by [`List::finish`] once it has elements).
    pub fn create(db: &Db<'_>, key: &[u8]) -> List {
        let version = db.storage.next_version();
        List {
            key: key.to_vec(),
            meta: Metadata::new_collection(KeyType::List, version),
            prefix: db.sub_prefix(key, version),
        }
    }

    /// The list at `key`, created empty if absent.
    pub fn load_or_create(db: &Db<'_>, key: &[u8]) -> Result<List> {
        Ok(match List::load(db, key)? {
            Some(list) => list,
            None => List::create(db, key),
        })
    }

    pub fn len(&self) -> u64 {
        self.collection().size
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn collection(&self) -> &crate::storage::Collection {
        self.meta.collection.as_ref().expect("lists are collections")
    }

    fn collection_mut(&mut self) -> &mut crate::storage::Collection {
        self.meta.collection.as_mut().expect("lists are collections")
    }

    /// The sub-key of the element at storage index `index`.
    fn element_key(&self, index: u64) -> Vec<u8> {
        sub_key(&self.prefix, &index.to_be_bytes())
    }

    /// Storage index of position `pos` (0-based from the head).
    fn index_of(&self, pos: u64) -> u64 {
        self.collection().head + pos
    }

    /// Writes the metadata, or deletes the key if the list is empty.
    pub fn finish(&self, db: &Db<'_>, batch: &mut Batch<'_>) {
        if self.is_empty() {
            db.delete_in(batch, &self.key);
        } else {
            batch.put(Cf::Metadata, db.meta_key(&self.key), self.meta.encode());
        }
    }

    /// Adds `value` at `end`.
    pub fn push(&mut self, batch: &mut Batch<'_>, end: End, value: &[u8]) {
        let index = match end {
            End::Left => {
                self.collection_mut().head -= 1;
                self.collection().head
            }
            End::Right => {
                let index = self.collection().tail;
                self.collection_mut().tail += 1;
                index
            }
        };
        batch.put(Cf::SubKeys, self.element_key(index), value);
        self.collection_mut().size += 1;
    }

    /// Removes and returns up to `count` elements from `end`, in pop order.
    pub fn pop(&mut self, db: &Db<'_>, batch: &mut Batch<'_>, end: End, count: u64) -> Result<Vec<Bytes>> {
        let count = count.min(self.len());
        if count == 0 {
            return Ok(Vec::new());
        }
        let first = match end {
            End::Left => 0,
            End::Right => self.len() - count,
        };
        let elements = match (end, count) {
            (_, 1) => {
                let key = self.element_key(self.index_of(first));
                // The elements the next pops from this end take.
                let next = || {
                    let ahead = (self.len() - 1).min(POP_READ_AHEAD_ELEMENTS);
                    let position = |i| match end {
                        End::Left => first + i,
                        End::Right => first - i,
                    };
                    (1..=ahead).map(|i| self.element_key(self.index_of(position(i)))).collect()
                };
                match db.storage.take_member(batch, &key, next)? {
                    Some(element) => vec![Bytes::from(element)],
                    None => return Err(missing_element()),
                }
            }
            (End::Left, _) => self.range(db, 0, count, false)?,
            (End::Right, _) => self.range(db, first, count, true)?,
        };
        if count > 1 {
            self.forget(batch, first, count);
        }
        let c = self.collection_mut();
        match end {
            End::Left => c.head += count,
            End::Right => c.tail -= count,
        }
        c.size -= count;
        Ok(elements)
    }

    /// The element at position `pos` (must be < len).
    fn read_at(&self, db: &Db<'_>, pos: u64) -> Result<Bytes> {
        match db.storage.get(Cf::SubKeys, &self.element_key(self.index_of(pos)))? {
            Some(value) => Ok(Bytes::from(value)),
            None => Err(missing_element()),
        }
    }

    /// Lets the member cache go of positions `[first, first + count)`, which the caller is
    /// dropping from the list: their records stay in the database, unreachable, until the
    /// compaction filter drops them (see the top of this file). At most
    /// `MAX_FORGOTTEN_ELEMENTS`: past them, an entry left behind only waits for its eviction.
    fn forget(&self, batch: &mut Batch<'_>, first: u64, count: u64) {
        for pos in first..first + count.min(MAX_FORGOTTEN_ELEMENTS) {
            batch.forget_cached_member(&self.element_key(self.index_of(pos)));
        }
    }

    /// Redis's index (negative from the tail) as a position, if in range.
    pub fn position(&self, index: i64) -> Option<u64> {
        let len = self.len() as i128;
        let pos = if index < 0 { len + index as i128 } else { index as i128 };
        (0..len).contains(&pos).then_some(pos as u64)
    }

    /// The element at Redis index `index` (LINDEX).
    pub fn get(&self, db: &Db<'_>, index: i64) -> Result<Option<Bytes>> {
        match self.position(index) {
            Some(pos) => self.read_at(db, pos).map(Some),
            None => Ok(None),
        }
    }

    /// Replaces the element at position `pos` (LSET).
    pub fn set(&self, batch: &mut Batch<'_>, pos: u64, value: &[u8]) {
        batch.put(Cf::SubKeys, self.element_key(self.index_of(pos)), value);
    }

    /// `count` elements from position `start` (must be in range), head to tail, or tail to
    /// head when `reverse` (then `start` is still the lowest position).
    pub fn range(&self, db: &Db<'_>, start: u64, count: u64, reverse: bool) -> Result<Vec<Bytes>> {
        let mut out = Vec::with_capacity(count.min(MAX_PREALLOCATED_ELEMENTS) as usize);
        self.scan(db, start, count, reverse, |_, value| {
            out.push(Bytes::copy_from_slice(value));
            true
        })?;
        Ok(out)
    }

    /// Like `range`, head to tail, as the reply it is sent as: one buffer for the whole
    /// range rather than a `Bytes` per element.
    pub fn range_reply(&self, db: &Db<'_>, start: u64, count: u64) -> Result<BulkStrings> {
        let mut out = BulkStrings::default();
        self.scan(db, start, count, false, |_, value| {
            if out.is_empty() {
                // Lists are mostly of like-sized elements: guess the rest from the first.
                out = BulkStrings::with_capacity(count.min(MAX_PREALLOCATED_ELEMENTS) as usize, value.len());
            }
            out.push(value);
            true
        })?;
        Ok(out)
    }

    /// Calls `visit(position, element)` for up to `count` elements from position `start`
    /// (the lowest position of the range) in order, or in reverse from the range's end, until
    /// it returns false. One iteration, bounded by the list's own elements. `visit` must not
    /// reach storage: it may run inside a storage read (`Storage::read`).
    pub fn scan(
        &self,
        db: &Db<'_>,
        start: u64,
        count: u64,
        reverse: bool,
        mut visit: impl FnMut(u64, &[u8]) -> bool,
    ) -> Result<()> {
        let count = count.min(self.len().saturating_sub(start));
        if count == 0 {
            return Ok(());
        }
        if count <= MAX_POINT_READ_ELEMENTS {
            // One key buffer, its index rewritten per element, and each element seen where
            // it is cached: a key, a value copy and a `Bytes` per element were ~200 of
            // LRANGE's ~970 instructions per element.
            let mut key = self.element_key(self.index_of(start));
            let index_at = key.len() - 8;
            let mut misses = 0;
            let mut positions = start..start + count;
            while let Some(pos) = if reverse { positions.next_back() } else { positions.next() } {
                key[index_at..].copy_from_slice(&self.index_of(pos).to_be_bytes());
                let mut seen = |element: &[u8]| visit(pos, element);
                let found = match db.storage.read_cached(Cf::SubKeys, &key, &mut seen)? {
                    Some(found) => found,
                    None if misses < MAX_POINT_READ_MISSES => {
                        misses += 1;
                        db.storage.read_stored(Cf::SubKeys, &key, &mut seen)?
                    }
                    None => {
                        let (rest_start, rest_count) =
                            if reverse { (start, pos - start + 1) } else { (pos, start + count - pos) };
                        return self.iterate(db, rest_start, rest_count, reverse, visit);
                    }
                };
                match found {
                    Some(true) => {}
                    Some(false) => return Ok(()),
                    None => return Err(missing_element()),
                }
            }
            return Ok(());
        }
        self.iterate(db, start, count, reverse, visit)
    }

    /// `scan` of `count` elements from position `start` (in range) with a RocksDB iterator.
    fn iterate(
        &self,
        db: &Db<'_>,
        start: u64,
        count: u64,
        reverse: bool,
        mut visit: impl FnMut(u64, &[u8]) -> bool,
    ) -> Result<()> {
        let lower = self.element_key(self.index_of(start));
        let upper = self.element_key(self.index_of(start + count));
        let mut it = db.storage.iter(Cf::SubKeys, &lower, Some(upper));
        let index_at = self.prefix.len();
        let head = self.collection().head;
        if reverse {
            it.seek_to_last();
        } else {
            it.seek_to_first();
        }
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            let index = k
                .get(index_at..index_at + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StorageError::Format("malformed list sub-key".into()))?;
            if !visit(index - head, v) {
                return Ok(());
            }
            if reverse {
                it.prev();
            } else {
                it.next();
            }
        }
        it.status().map_err(StorageError::from)?;
        Ok(())
    }

    /// Inserts `value` before or after the first element equal to `pivot`; false if there is
    /// no such element. The scan stops at the pivot; then the shorter side of the list moves
    /// one place outwards to make room.
    pub fn insert(
        &mut self,
        db: &Db<'_>,
        batch: &mut Batch<'_>,
        pivot: &[u8],
        value: &[u8],
        after: bool,
    ) -> Result<bool> {
        let mut found = None;
        self.scan(db, 0, self.len(), false, |pos, element| {
            if element == pivot {
                found = Some(pos);
            }
            found.is_none()
        })?;
        let Some(found) = found else {
            return Ok(false);
        };
        // The new element takes position `at`.
        let at = found + after as u64;
        let c = *self.collection();
        if at <= self.len() - at {
            // Positions [0, at) move one index towards the head.
            let moved = self.range(db, 0, at, false)?;
            for (pos, element) in moved.iter().enumerate() {
                batch.put(Cf::SubKeys, self.element_key(c.head - 1 + pos as u64), &element[..]);
            }
            batch.put(Cf::SubKeys, self.element_key(c.head - 1 + at), value);
            self.collection_mut().head -= 1;
        } else {
            // Positions [at, len) move one index towards the tail.
            let moved = self.range(db, at, self.len() - at, false)?;
            for (i, element) in moved.iter().enumerate() {
                batch.put(Cf::SubKeys, self.element_key(c.head + at + 1 + i as u64), &element[..]);
            }
            batch.put(Cf::SubKeys, self.element_key(c.head + at), value);
            self.collection_mut().tail += 1;
        }
        self.collection_mut().size += 1;
        Ok(true)
    }

    /// Removes up to `limit` elements equal to `value` (0 = all), from the head or, when
    /// `from_tail`, from the tail; returns how many. One scan finds them; then the kept
    /// elements on the shorter side of the removed span close the gaps.
    pub fn remove(
        &mut self,
        db: &Db<'_>,
        batch: &mut Batch<'_>,
        value: &[u8],
        limit: u64,
        from_tail: bool,
    ) -> Result<u64> {
        let mut removed: Vec<u64> = Vec::new();
        self.scan(db, 0, self.len(), from_tail, |pos, element| {
            if element == value {
                removed.push(pos);
            }
            limit == 0 || (removed.len() as u64) < limit
        })?;
        if removed.is_empty() {
            return Ok(0);
        }
        removed.sort_unstable();
        let (len, count) = (self.len(), removed.len() as u64);
        let (lowest, highest) = (removed[0], removed[removed.len() - 1]);
        let c = *self.collection();
        let is_removed = |pos: u64| removed.binary_search(&pos).is_ok();
        if len - lowest <= highest + 1 {
            // The head stays: kept elements after `lowest` move towards it.
            let span = self.range(db, lowest, len - lowest, false)?;
            let mut to = c.head + lowest;
            for (i, element) in span.iter().enumerate() {
                if !is_removed(lowest + i as u64) {
                    batch.put(Cf::SubKeys, self.element_key(to), &element[..]);
                    to += 1;
                }
            }
            self.forget(batch, len - count, count);
            self.collection_mut().tail -= count;
        } else {
            // The tail stays: kept elements before `highest` move towards it.
            let span = self.range(db, 0, highest + 1, false)?;
            let mut to = c.head + highest + 1;
            for (i, element) in span.iter().enumerate().rev() {
                if !is_removed(i as u64) {
                    to -= 1;
                    batch.put(Cf::SubKeys, self.element_key(to), &element[..]);
                }
            }
            self.forget(batch, 0, count);
            self.collection_mut().head += count;
        }
        self.collection_mut().size -= count;
        Ok(count)
    }

    /// Keeps positions `[start, start + count)` and drops the rest (LTRIM).
    pub fn trim(&mut self, batch: &mut Batch<'_>, start: u64, count: u64) {
        self.forget(batch, 0, start);
        self.forget(batch, start + count, self.len() - (start + count));
        let c = *self.collection();
        let new_head = c.head + start;
        let new_tail = new_head + count;
        let collection = self.collection_mut();
        collection.head = new_head;
        collection.tail = new_tail;
        collection.size = count;
    }
}

/// Elements one batch may still let go of in the member cache as it deletes lists
/// (`forget_deleted`): `MAX_FORGOTTEN_ELEMENTS` in all, however many lists a DEL names or an
/// expiry pass deletes, each a record of the batch's changes and a hash probe once it lands.
pub struct Forgettable(u64);

impl Default for Forgettable {
    fn default() -> Forgettable {
        Forgettable(MAX_FORGOTTEN_ELEMENTS)
    }
}

/// Called as `key`, whose live metadata is `meta`, is deleted in `batch` (DEL, UNLINK, the
/// active expiry): a list's elements leave the member cache, as popped ones do, from its head
/// and as many as `left` allows. Their records stay in the database, unreachable, for the
/// compaction filter; cached, they would only take live members' room until evicted, and
/// their eviction would end a complete cache's completeness. Other types' members cannot be
/// named without reading them, and stay.
pub fn forget_deleted(db: &Db<'_>, batch: &mut Batch<'_>, key: &[u8], meta: &Metadata, left: &mut Forgettable) {
    if meta.key_type != KeyType::List || left.0 == 0 {
        return;
    }
    let Some(list) = List::of_meta(db, key, meta.clone()) else {
        return;
    };
    let count = list.len().min(left.0);
    left.0 -= count;
    list.forget(batch, 0, count);
}

/// Elements one command lets go of in the member cache (`List::forget`, `Forgettable`): as
/// many as a range reads through the cache one by one (`MAX_POINT_READ_ELEMENTS`), which a
/// pop of that many has just done.
const MAX_FORGOTTEN_ELEMENTS: u64 = MAX_POINT_READ_ELEMENTS;
/// Elements a pop that misses the member cache reads with the one it pops, from the same end
/// (`Storage::take_member`): the next pops find them cached. A queue whose backlog outgrew
/// the cache (a consumer behind its producer) otherwise costs a RocksDB read per pop.
const POP_READ_AHEAD_ELEMENTS: u64 = 16;
/// Upper bound of a reply vector's initial capacity, whatever count a client asks for.
const MAX_PREALLOCATED_ELEMENTS: u64 = 1024;
/// Ranges up to this many elements are read element by element through the member cache
/// (each element's sub-key follows from its position): a hit is a hash probe, where RocksDB's
/// iterator spent ~760 instructions per element (LRANGE_100 at `-P 1`).
const MAX_POINT_READ_ELEMENTS: u64 = 1024;
/// Elements of one range read from RocksDB one by one, on cache misses, before an iterator
/// reads the rest. A point read costs about two iterator steps, but it lets the cache take
/// the element (on its second miss, storage/record_cache.rs): a range read again and again
/// comes to be served from the cache alone even when the cache does not hold every member
/// (redis-benchmark's LRANGE_100 after its other tests filled the cache: 0.46x of Redis at
/// `-P 16` on the iterator).
const MAX_POINT_READ_MISSES: u32 = 8;

/// A list element inside the range that storage does not hold: a corrupt record.
fn missing_element() -> crate::error::Error {
    StorageError::Format("list element missing".into()).into()
}

/// Redis's start/stop normalisation for LRANGE/LTRIM: `Some((start, count))` of the range in
/// positions, `None` if it is empty.
pub fn normalize_range(len: u64, start: i64, stop: i64) -> Option<(u64, u64)> {
    let len = len as i128;
    let (mut start, mut stop) = (start as i128, stop as i128);
    if start < 0 {
        start += len;
    }
    if stop < 0 {
        stop += len;
    }
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as u64, (stop - start + 1) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_redis() {
        assert_eq!(normalize_range(5, 0, -1), Some((0, 5)));
        assert_eq!(normalize_range(5, -2, -1), Some((3, 2)));
        assert_eq!(normalize_range(5, -100, 100), Some((0, 5)));
        assert_eq!(normalize_range(5, 3, 1), None);
        assert_eq!(normalize_range(5, 5, 10), None);
        assert_eq!(normalize_range(5, 0, -6), None);
        assert_eq!(normalize_range(0, 0, -1), None);
        assert_eq!(normalize_range(5, i64::MIN, i64::MAX), Some((0, 5)));
        assert_eq!(normalize_range(5, i64::MAX, i64::MIN), None);
    }

    #[test]
    fn ends_parse_case_insensitively() {
        assert_eq!(End::parse(b"LeFt"), Some(End::Left));
        assert_eq!(End::parse(b"RIGHT"), Some(End::Right));
        assert_eq!(End::parse(b"up"), None);
    }
}
