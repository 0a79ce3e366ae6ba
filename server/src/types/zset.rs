//! Sorted sets on two column families (see storage/encoding.rs):
//!
//! - `default`: `[sub-key prefix][member]` → score (8 bytes, order-preserving u64): ZSCORE and
//!   every membership test is one point read; iteration in member order serves ZSCAN;
//! - `zset_score`: `[sub-key prefix][score u64][member]` → empty: iteration in (score, member)
//!   order, which is Redis's skiplist order, serves score and rank ranges with one seek.
//!
//! Ranks are counted by iteration from the nearer end: ZRANK and a rank range starting at `r`
//! cost O(min(r, N - r)) (RocksDB keeps no order statistics); score ranges, and lex ranges
//! on sets of one score, cost O(log N + M).
//!
//! `-0` is stored as `0`: the two are one score for Redis, and the index must order them as one.
//! Redis 7.0 stores `0` too in a listpack (up to 128 members); only its skiplist keeps the sign.

pub mod range;

use smallvec::SmallVec;

use super::small_map::SmallMap;

use crate::db::{Db, Record};
use crate::error::Result;
use crate::storage::encoding::{decode_f64_ordered, encode_f64_ordered, sub_key};
use crate::storage::{Batch, Cf, KeyType, Metadata, RawIter, StorageError};
use range::{LexRange, ScoreRange};

/// Sizes up to which Redis 7.0 keeps a sorted set as a listpack (`zset-max-listpack-entries`):
/// ZSCAN then returns every element in one reply with cursor 0, and so does Redrock.
pub const LISTPACK_MAX_ENTRIES: u64 = 128;

/// The bytes of a score as stored: the order-preserving code, big-endian.
fn encode_score(score: f64) -> [u8; 8] {
    let score = if score == 0.0 { 0.0 } else { score };
    encode_f64_ordered(score).to_be_bytes()
}

fn decode_score(bytes: &[u8]) -> Result<f64> {
    let code: [u8; 8] = bytes.try_into().map_err(|_| StorageError::Format("corrupt sorted-set score".into()))?;
    Ok(decode_f64_ordered(u64::from_be_bytes(code)))
}

fn iter_error(it: &RawIter<'_>) -> Result<()> {
    it.status().map_err(StorageError::from)?;
    Ok(())
}

/// A live sorted set: where its members are and how many there are.
#[derive(Clone, Debug)]
pub struct ZSet {
    meta: Metadata,
    prefix: Vec<u8>,
    size: u64,
}

impl ZSet {
    /// The sorted set at `key`, `None` if absent, `WRONGTYPE` if another type.
    pub fn load(db: &Db<'_>, key: &[u8]) -> Result<Option<ZSet>> {
        db.lookup_typed(key, KeyType::ZSet)?.map(|record| ZSet::from_record(db, key, record)).transpose()
    }

    /// The sorted set of a record already looked up (and known to be a sorted set).
    pub fn from_record(db: &Db<'_>, key: &[u8], record: Record) -> Result<ZSet> {
        let collection = record
            .meta
            .collection
            .ok_or_else(|| StorageError::Format("sorted set without a collection header".into()))?;
        Ok(ZSet { prefix: db.sub_prefix(key, collection.version), size: collection.size, meta: record.meta })
    }

    pub fn len(&self) -> u64 {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The score of `member`: one point read.
    pub fn score(&self, db: &Db<'_>, member: &[u8]) -> Result<Option<f64>> {
        db.storage.get(Cf::SubKeys, &sub_key(&self.prefix, member))?.map(|v| decode_score(&v)).transpose()
    }

    /// The scores of `members`, in one batched read.
    pub fn scores<M: AsRef<[u8]>>(&self, db: &Db<'_>, members: &[M]) -> Result<Vec<Option<f64>>> {
        let keys: Vec<Vec<u8>> = members.iter().map(|m| sub_key(&self.prefix, m.as_ref())).collect();
        db.storage.multi_get(Cf::SubKeys, &keys)?.into_iter().map(|v| v.map(|v| decode_score(&v)).transpose()).collect()
    }

    /// Visits members in (score, member) order, from the lowest or (`reverse`) the highest,
    /// restricted to `range` if given, skipping the first `skip` members inside it, until
    /// `visit` returns false.
    pub fn walk_by_score(
        &self,
        db: &Db<'_>,
        range: Option<&ScoreRange>,
        reverse: bool,
        mut skip: u64,
        mut visit: impl FnMut(&[u8], f64) -> Result<bool>,
    ) -> Result<()> {
        if range.is_some_and(|r| r.is_empty()) {
            return Ok(());
        }
        let mut it = db.storage.iter_prefix(Cf::ZSetScore, &self.prefix);
        let mut target = self.prefix.clone();
        match (range, reverse) {
            (None, false) => it.seek_to_first(),
            (None, true) => it.seek_to_last(),
            (Some(r), false) => {
                // Exclusive: start after every member of score `min` (codes never reach u64::MAX).
                let code = u64::from_be_bytes(encode_score(r.min)) + r.min_exclusive as u64;
                target.extend_from_slice(&code.to_be_bytes());
                it.seek(&target);
            }
            (Some(r), true) => {
                // The last key <= [code(max) + 1] is at most one entry past the range (a member ""
                // of the next score), which the range test below skips.
                let code = u64::from_be_bytes(encode_score(r.max)) + (!r.max_exclusive) as u64;
                target.extend_from_slice(&code.to_be_bytes());
                it.seek_for_prev(&target);
            }
        }
        let at = self.prefix.len();
        while let Some(key) = it.key() {
            let score = decode_score(key.get(at..at + 8).unwrap_or_default())?;
            let member = &key[at + 8..];
            if let Some(r) = range {
                let (before_start, past_end) = if reverse {
                    (!r.below_max(score), !r.above_min(score))
                } else {
                    (!r.above_min(score), !r.below_max(score))
                };
                if past_end {
                    break;
                }
                if before_start {
                    step(&mut it, reverse);
                    continue;
                }
            }
            if skip > 0 {
                skip -= 1;
            } else if !visit(member, score)? {
                return Ok(());
            }
            step(&mut it, reverse);
        }
        iter_error(&it)
    }

    /// Visits the members of a lex range in (score, member) order, ascending or descending
    /// (`reverse`), after skipping `skip` members, until `visit` returns false.
    ///
    /// Redis defines lex ranges for sets whose scores are all equal; then the score index is
    /// in member order and the start is one seek: O(log N + M). With mixed scores, Redis 7.0
    /// does what its listpack walk does (sets of up to 128 members), and so does this: if the
    /// last member is below `min` or the first above `max`, nothing; else the first member
    /// (from the start side) inside the near end starts the range, if it is inside the far
    /// end too; `skip` members are passed over without a test; then members are taken until
    /// one is past the far end.
    pub fn walk_by_lex(
        &self,
        db: &Db<'_>,
        range: &LexRange,
        reverse: bool,
        mut skip: u64,
        mut visit: impl FnMut(&[u8], f64) -> Result<bool>,
    ) -> Result<()> {
        if range.is_empty() {
            return Ok(());
        }
        let at = self.prefix.len();
        let mut it = db.storage.iter_prefix(Cf::ZSetScore, &self.prefix);
        it.seek_to_last();
        let Some(last) = it.key().map(<[u8]>::to_vec) else {
            return iter_error(&it);
        };
        it.seek_to_first();
        let Some(first) = it.key().map(<[u8]>::to_vec) else {
            return iter_error(&it);
        };
        let member = |key: &[u8]| key[at + 8..].to_vec();
        if !range.above_min(&member(&last)) || !range.below_max(&member(&first)) {
            return Ok(());
        }
        let one_score = first[at..at + 8] == last[at..at + 8];
        if one_score {
            // Every key is [prefix][the score][member]: seek straight to the near end.
            let mut target = first[..at + 8].to_vec();
            match (reverse, range.max.member(), range.min.member()) {
                (true, Some(max), _) => {
                    target.extend_from_slice(max);
                    it.seek_for_prev(&target);
                }
                (true, None, _) => it.seek_to_last(),
                (false, _, Some(min)) => {
                    target.extend_from_slice(min);
                    it.seek(&target);
                }
                (false, _, None) => {}
            }
        } else if reverse {
            it.seek_to_last();
        }
        let near = |m: &[u8]| if reverse { range.below_max(m) } else { range.above_min(m) };
        let far = |m: &[u8]| if reverse { range.above_min(m) } else { range.below_max(m) };
        // The first member inside the near end (a skipped exclusive bound, or a linear walk).
        while let Some(key) = it.key() {
            if near(&key[at + 8..]) {
                break;
            }
            step(&mut it, reverse);
        }
        match it.key() {
            Some(key) if far(&key[at + 8..]) => {}
            _ => return iter_error(&it),
        }
        while skip > 0 && it.valid() {
            skip -= 1;
            step(&mut it, reverse);
        }
        while let Some(key) = it.key() {
            let member = &key[at + 8..];
            if !far(member) {
                break;
            }
            if !visit(member, decode_score(&key[at..at + 8])?)? {
                return Ok(());
            }
            step(&mut it, reverse);
        }
        iter_error(&it)
    }

    /// Visits members in member order from `from` (inclusive) until `visit` returns false
    /// (ZSCAN, ZRANDMEMBER, set algebra inputs).
    pub fn walk_members(
        &self,
        db: &Db<'_>,
        from: &[u8],
        mut visit: impl FnMut(&[u8], f64) -> Result<bool>,
    ) -> Result<()> {
        let mut it = db.storage.iter_prefix(Cf::SubKeys, &self.prefix);
        it.seek(sub_key(&self.prefix, from));
        let at = self.prefix.len();
        while let (Some(key), Some(value)) = (it.key(), it.value()) {
            if !visit(&key[at..], decode_score(value)?)? {
                return Ok(());
            }
            it.next();
        }
        iter_error(&it)
    }

    /// The 0-based rank of `member` in ascending (or, `reverse`, descending) order. RocksDB
    /// keeps no order statistics, so it is counted: two iterators walk in from both ends in
    /// step, and the first to reach the member gives its rank, in O(min(rank, N - rank)).
    pub fn rank(&self, db: &Db<'_>, member: &[u8], reverse: bool) -> Result<Option<u64>> {
        let Some(score) = self.score(db, member)? else {
            return Ok(None);
        };
        let mut target = self.prefix.clone();
        target.extend_from_slice(&encode_score(score));
        target.extend_from_slice(member);
        let mut from_low = db.storage.iter_prefix(Cf::ZSetScore, &self.prefix);
        let mut from_high = db.storage.iter_prefix(Cf::ZSetScore, &self.prefix);
        from_low.seek_to_first();
        from_high.seek_to_last();
        // Members strictly below (resp. above) the target seen so far.
        let (mut below, mut above) = (0u64, 0u64);
        let ascending = loop {
            match (from_low.key(), from_high.key()) {
                (Some(low), Some(high)) => {
                    if low >= target.as_slice() {
                        break below;
                    }
                    if high <= target.as_slice() {
                        break self.size.saturating_sub(above + 1);
                    }
                    below += 1;
                    above += 1;
                    from_low.next();
                    from_high.prev();
                }
                _ => {
                    iter_error(&from_low)?;
                    iter_error(&from_high)?;
                    return Err(
                        StorageError::Format("sorted-set score index out of step with its members".into()).into()
                    );
                }
            }
        };
        Ok(Some(if reverse { self.size.saturating_sub(ascending + 1) } else { ascending }))
    }
}

fn step(it: &mut RawIter<'_>, reverse: bool) {
    if reverse {
        it.prev()
    } else {
        it.next()
    }
}

/// Members a ZADD or ZREM names that its working lists hold without an allocation: most
/// name one.
pub const INLINE_MEMBERS: usize = 4;

/// The writes of one command to one sorted set, gathered in one batch. Reads through the
/// writer see the command's own earlier writes (`ZADD z 1 a 2 a`).
pub struct ZSetWriter<'a> {
    db: Db<'a>,
    key: Vec<u8>,
    meta: Metadata,
    prefix: Vec<u8>,
    size: u64,
    /// A new incarnation has no stored members to read.
    fresh: bool,
    /// Members whose current score is known (written by this command, or prefetched).
    known: SmallMap<Vec<u8>, Option<f64>>,
    batch: Batch<'a>,
}

impl<'a> ZSetWriter<'a> {
    /// Writes to `existing`, or to a new sorted set at `key` if `None`.
    pub fn open(db: Db<'a>, key: &[u8], existing: Option<ZSet>) -> ZSetWriter<'a> {
        match existing {
            Some(zset) => ZSetWriter {
                db,
                key: key.to_vec(),
                size: zset.size,
                meta: zset.meta,
                prefix: zset.prefix,
                fresh: false,
                known: SmallMap::default(),
                batch: db.storage.batch(),
            },
            None => Self::replacing(db, key),
        }
    }

    /// Writes a new sorted set at `key`, replacing whatever is there (type and TTL included).
    pub fn replacing(db: Db<'a>, key: &[u8]) -> ZSetWriter<'a> {
        let version = db.storage.next_version();
        ZSetWriter {
            db,
            key: key.to_vec(),
            meta: Metadata::new_collection(KeyType::ZSet, version),
            prefix: db.sub_prefix(key, version),
            size: 0,
            fresh: true,
            known: SmallMap::default(),
            batch: db.storage.batch(),
        }
    }

    pub fn len(&self) -> u64 {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The score of `member`, this command's writes included.
    pub fn score(&self, member: &[u8]) -> Result<Option<f64>> {
        if let Some(known) = self.known.get(member) {
            return Ok(*known);
        }
        if self.fresh {
            return Ok(None);
        }
        self.db.storage.get(Cf::SubKeys, &sub_key(&self.prefix, member))?.map(|v| decode_score(&v)).transpose()
    }

    /// Reads the scores of `members` in one batched read, so the [`Self::score`] calls of a
    /// many-member ZADD or ZREM are served from memory.
    pub fn prefetch<M: AsRef<[u8]>>(&mut self, members: &[M]) -> Result<()> {
        if self.fresh {
            return Ok(());
        }
        let wanted: SmallVec<[&[u8]; INLINE_MEMBERS]> =
            members.iter().map(AsRef::as_ref).filter(|m| !self.known.contains_key(*m)).collect();
        let keys: SmallVec<[Vec<u8>; INLINE_MEMBERS]> = wanted.iter().map(|m| sub_key(&self.prefix, m)).collect();
        for (member, score) in
            wanted.into_iter().zip(self.db.storage.multi_get_with(Cf::SubKeys, &keys, decode_score)?)
        {
            self.known.insert(member.to_vec(), score.transpose()?);
        }
        Ok(())
    }

    /// Notes `member`'s score as this command leaves it (`None`: removed), reusing its entry.
    fn remember(&mut self, member: &[u8], score: Option<f64>) {
        match self.known.get_mut(member) {
            Some(known) => *known = score,
            None => {
                self.known.insert(member.to_vec(), score);
            }
        }
    }

    /// Sets `member`'s score; `old` is its current score (from [`Self::score`] or a walk).
    pub fn set(&mut self, member: &[u8], old: Option<f64>, score: f64) {
        let score = if score == 0.0 { 0.0 } else { score };
        match old {
            Some(old) if old == score => return,
            Some(old) => self.batch.delete(Cf::ZSetScore, self.index_key(member, old)),
            None => self.size += 1,
        }
        let code = encode_score(score);
        self.batch.put(Cf::SubKeys, sub_key(&self.prefix, member), &code[..]);
        self.batch.put(Cf::ZSetScore, self.index_key(member, score), b"");
        self.remember(member, Some(score));
    }

    /// Removes `member`, whose current score is `score`.
    pub fn remove(&mut self, member: &[u8], score: f64) {
        self.batch.delete(Cf::SubKeys, sub_key(&self.prefix, member));
        self.batch.delete(Cf::ZSetScore, self.index_key(member, score));
        self.size = self.size.saturating_sub(1);
        self.remember(member, None);
    }

    fn index_key(&self, member: &[u8], score: f64) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.prefix.len() + 8 + member.len());
        key.extend_from_slice(&self.prefix);
        key.extend_from_slice(&encode_score(score));
        key.extend_from_slice(member);
        key
    }

    /// Writes the batch: the metadata with the new size, or the key's deletion if the set
    /// is now empty (Redis never keeps an empty sorted set).
    pub fn commit(mut self) -> Result<()> {
        // Nothing changed (ZADD XX of the scores members already have): nothing to write, and
        // nothing WATCH may see as a modification (Redis signals only when added or updated).
        if self.batch.is_empty() && !self.fresh {
            return Ok(());
        }
        let stored_size = self.meta.collection.as_ref().map(|c| c.size);
        if self.size == 0 {
            self.db.delete_if_exists_in(&mut self.batch, &self.key)?;
        } else if self.fresh || stored_size != Some(self.size) {
            // Only a new set or a new size changes the record: ZADD moving members' scores
            // rewrote it for nothing (a record to encode, defer, land and cache per command).
            if let Some(c) = self.meta.collection.as_mut() {
                c.size = self.size;
            }
            self.batch.put(Cf::Metadata, self.db.meta_key(&self.key), self.meta.encode());
        }
        self.db.storage.write(self.batch)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_round_trip_and_zero_is_one_code() {
        for s in [f64::NEG_INFINITY, -1e300, -1.5, 0.0, 1e-300, 2.5, f64::INFINITY] {
            assert_eq!(decode_score(&encode_score(s)).unwrap(), s);
        }
        assert_eq!(encode_score(-0.0), encode_score(0.0));
        assert!(encode_score(-1.0) < encode_score(0.0) && encode_score(0.0) < encode_score(1e-300));
        assert!(decode_score(b"short").is_err());
    }
}
