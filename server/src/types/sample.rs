//! Random elements of a collection (HRANDFIELD, SRANDMEMBER, SPOP; ZRANDMEMBER can share it).
//!
//! The sub-key layout is ordered but has no rank index, so "the element at position i" is a
//! walk of i steps. Small collections (and requests for a large share of a collection) are
//! sampled exactly that way: uniform, one ordered pass. In a large collection each pick
//! descends the trie of its sub-keys instead (as RANDOMKEY does over the keyspace): at each
//! point where the sub-keys branch, one branch is drawn uniformly (listed by a seek each when
//! there are few; else a byte drawn between the lowest and the highest, which a dense
//! alphabet makes close to uniform), all on one iterator. That is spread over any alphabet
//! and never reads the collection, but not exactly uniform: a branch counts once whatever
//! the number of elements under it (Redis's own dictGetFairRandomKey is not exactly uniform
//! either).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use super::collection::{Element, Live};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::storage::encoding::prefix_successor;
use crate::storage::{Cf, RawIter, StorageError};

/// Collections up to this size are always sampled by an exact ordered walk.
pub const EXACT_WALK_MAX_SIZE: u64 = 1024;
/// A trie descent costs about as much as this many steps of an ordered walk: descents win
/// when `count * DESCENT_COST_IN_STEPS < size`.
const DESCENT_COST_IN_STEPS: u64 = 256;
/// Branches a descent lists (one seek each) to pick among them uniformly; beyond, it draws a
/// byte in their range.
const MAX_ENUMERATED_BRANCHES: usize = 32;
/// Branching points a descent goes through at most before taking the first element below.
const MAX_BRANCHINGS: usize = 64;
/// Largest |count| served with repetitions: Redis bounds it only by its output buffer; this
/// bounds one reply's memory.
pub const MAX_RANDOM_REPLY_ELEMENTS: u64 = 1 << 24;

thread_local! {
    static RNG_STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    h.write_u64(now.map(|d| d.as_nanos() as u64).unwrap_or(0));
    h.finish() | 1
}

/// A pseudo-random u64 (xorshift64*, per thread): random picks need speed, not secrecy.
pub fn random_u64() -> u64 {
    RNG_STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// A uniform integer in `0..n` (`n` > 0), by multiply-shift (bias below n / 2^64).
pub fn random_below(n: u64) -> u64 {
    ((random_u64() as u128 * n as u128) >> 64) as u64
}

/// `count` distinct indexes of `0..size`, sorted (Floyd's algorithm: O(count) draws).
pub fn distinct_random_indexes(size: u64, count: u64) -> Vec<u64> {
    debug_assert!(count <= size);
    let mut chosen = std::collections::BTreeSet::new();
    for j in size - count..size {
        let t = random_below(j + 1);
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    chosen.into_iter().collect()
}

/// Fisher-Yates shuffle: Redis's random replies come in random order.
pub fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = random_below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// The elements at the sorted `indexes` (positions in sub-key order; repeats allowed), in one
/// ordered pass that stops at the last index wanted.
pub fn elements_at(db: &Db<'_>, live: &Live, indexes: &[u64]) -> Result<Vec<Element>> {
    let mut out = Vec::with_capacity(indexes.len());
    let mut wanted = indexes.iter().peekable();
    let mut position = 0u64;
    live.for_each(db, b"", |sub, value| {
        while wanted.next_if(|&&i| i == position).is_some() {
            out.push((sub.to_vec(), value.to_vec()));
        }
        position += 1;
        wanted.peek().is_some()
    })?;
    Ok(out)
}

/// Trie descents over the sub-keys of one collection, on one iterator (one consistent view).
struct Descent<'a> {
    it: RawIter<'a>,
    prefix_len: usize,
    /// The collection's sub-key prefix, reused as the buffer of seek targets.
    target: Vec<u8>,
}

impl<'a> Descent<'a> {
    fn new(db: &Db<'a>, live: &Live) -> Descent<'a> {
        Descent {
            it: db.storage.iter_prefix(Cf::SubKeys, &live.prefix),
            prefix_len: live.prefix.len(),
            target: live.prefix.clone(),
        }
    }

    fn current(&self) -> Option<Element> {
        match (self.it.key(), self.it.value()) {
            (Some(k), Some(v)) => Some((k[self.prefix_len..].to_vec(), v.to_vec())),
            _ => None,
        }
    }

    /// The first element at or after `from` whose sub starts with `under`.
    fn first_under(&mut self, under: &[u8], from: &[u8]) -> Result<Option<Element>> {
        self.target.truncate(self.prefix_len);
        self.target.extend_from_slice(from);
        self.it.seek(&self.target);
        self.it.status().map_err(StorageError::from)?;
        Ok(self.current().filter(|(sub, _)| sub.starts_with(under)))
    }

    /// The last element whose sub starts with `under`.
    fn last_under(&mut self, under: &[u8]) -> Result<Option<Element>> {
        match prefix_successor(under) {
            Some(after) => {
                self.target.truncate(self.prefix_len);
                self.target.extend_from_slice(&after);
                self.it.seek_for_prev(&self.target);
                if self.it.key() == Some(&self.target[..]) {
                    self.it.prev();
                }
            }
            None => self.it.seek_to_last(),
        }
        self.it.status().map_err(StorageError::from)?;
        Ok(self.current().filter(|(sub, _)| sub.starts_with(under)))
    }

    /// The bytes that follow `prefix` in some sub-key, between `low` and `high` (both
    /// present), if there are at most [`MAX_ENUMERATED_BRANCHES`]: one seek each.
    fn branches(&mut self, prefix: &[u8], low: u8, high: u8) -> Result<Option<Vec<u8>>> {
        let mut found = vec![low];
        let mut target = prefix.to_vec();
        target.push(low);
        while let Some(&last) = found.last() {
            if last == high {
                return Ok(Some(found));
            }
            if found.len() == MAX_ENUMERATED_BRANCHES {
                return Ok(None);
            }
            *target.last_mut().expect("target ends with a branch byte") = last + 1;
            match self.first_under(prefix, &target)? {
                Some((sub, _)) if sub.len() > prefix.len() => found.push(sub[prefix.len()]),
                _ => found.push(high),
            }
        }
        Ok(Some(found))
    }

    /// One element, by a descent from the root of the sub-key trie.
    fn pick(&mut self) -> Result<Option<Element>> {
        let mut prefix: Vec<u8> = Vec::new();
        for _ in 0..MAX_BRANCHINGS {
            let (Some(first), Some(last)) = (self.first_under(&prefix, &prefix)?, self.last_under(&prefix)?) else {
                // The branch vanished (it cannot under the key lock; kept total anyway).
                return self.first_under(b"", b"");
            };
            if first.0 == last.0 {
                return Ok(Some(first));
            }
            let common = first.0.iter().zip(&last.0).take_while(|(a, b)| a == b).count();
            prefix = last.0[..common].to_vec();
            let high = last.0[common];
            let (low, prefix_is_element) = match first.0.get(common) {
                Some(&low) => (low, false),
                // The prefix is itself an element: its children start right after it.
                None => {
                    let mut after = prefix.clone();
                    after.push(0);
                    let child = self.first_under(&prefix, &after)?;
                    (child.and_then(|(sub, _)| sub.get(common).copied()).unwrap_or(high), true)
                }
            };
            let branch = match self.branches(&prefix, low, high)? {
                // Few branches: one of them (or the prefix element) uniformly.
                Some(branches) => {
                    let draw = random_below(branches.len() as u64 + u64::from(prefix_is_element)) as usize;
                    if prefix_is_element && draw == 0 {
                        return Ok(Some(first));
                    }
                    branches[draw - usize::from(prefix_is_element)]
                }
                // Many: a byte drawn between the lowest and highest, then the branch at or
                // after it (a dense alphabet makes that close to uniform).
                None => {
                    let choices = u64::from(high - low) + 1 + u64::from(prefix_is_element);
                    let draw = random_below(choices);
                    if prefix_is_element && draw == 0 {
                        return Ok(Some(first));
                    }
                    let mut target = prefix.clone();
                    target.push(low + (draw - u64::from(prefix_is_element)) as u8);
                    match self.first_under(&prefix, &target)? {
                        Some((sub, _)) if sub.len() > common => sub[common],
                        _ => high,
                    }
                }
            };
            prefix.push(branch);
        }
        let from = prefix.clone();
        self.first_under(&prefix, &from)
    }
}

/// `count` elements picked by trie descents (repeats possible).
fn descend_random(db: &Db<'_>, live: &Live, count: u64) -> Result<Vec<Element>> {
    let mut descent = Descent::new(db, live);
    let mut out = Vec::with_capacity(count.min(1 << 16) as usize);
    for _ in 0..count {
        if let Some(element) = descent.pick()? {
            out.push(element);
        }
    }
    Ok(out)
}

fn descents_are_cheaper(size: u64, count: u64) -> bool {
    size > EXACT_WALK_MAX_SIZE && count.saturating_mul(DESCENT_COST_IN_STEPS) < size
}

/// One random element of `live` (`None` only if it is empty).
pub fn random_element(db: &Db<'_>, live: &Live) -> Result<Option<Element>> {
    let size = live.size();
    if size == 0 {
        return Ok(None);
    }
    if descents_are_cheaper(size, 1) {
        return Ok(descend_random(db, live, 1)?.pop());
    }
    Ok(elements_at(db, live, &[random_below(size)])?.pop())
}

/// Random elements as HRANDFIELD/SRANDMEMBER/SPOP pick them: a negative count picks |count|
/// elements with repetitions, a positive one distinct elements (all of them when count ≥
/// size, in the collection's order, as Redis's "return the whole collection" case does).
pub fn random_picks(db: &Db<'_>, live: &Live, count: i64) -> Result<Vec<Element>> {
    let size = live.size();
    if count == 0 || size == 0 {
        return Ok(Vec::new());
    }
    if count < 0 {
        let wanted = count.unsigned_abs();
        if wanted > MAX_RANDOM_REPLY_ELEMENTS {
            return Err(Error::err(format!("count exceeds the limit of {MAX_RANDOM_REPLY_ELEMENTS} elements")));
        }
        if descents_are_cheaper(size, wanted) {
            return descend_random(db, live, wanted);
        }
        let mut indexes: Vec<u64> = (0..wanted).map(|_| random_below(size)).collect();
        indexes.sort_unstable();
        let mut picked = elements_at(db, live, &indexes)?;
        shuffle(&mut picked);
        return Ok(picked);
    }
    let wanted = count as u64;
    if wanted >= size {
        return live.all(db);
    }
    if descents_are_cheaper(size, wanted) {
        // Distinct picks by descents, a bounded number of tries; the exact walk is the fallback.
        let mut distinct: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut descent = Descent::new(db, live);
        let tries = wanted.saturating_mul(4).saturating_add(16);
        for _ in 0..tries {
            if distinct.len() as u64 == wanted {
                break;
            }
            if let Some((sub, value)) = descent.pick()? {
                distinct.insert(sub, value);
            }
        }
        if distinct.len() as u64 == wanted {
            let mut picked: Vec<Element> = distinct.into_iter().collect();
            shuffle(&mut picked);
            return Ok(picked);
        }
    }
    let mut picked = elements_at(db, live, &distinct_random_indexes(size, wanted))?;
    shuffle(&mut picked);
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floyd_picks_distinct_sorted_indexes_in_range() {
        for _ in 0..200 {
            let picked = distinct_random_indexes(10, 4);
            assert_eq!(picked.len(), 4);
            assert!(picked.windows(2).all(|w| w[0] < w[1]));
            assert!(picked.iter().all(|&i| i < 10));
        }
        assert_eq!(distinct_random_indexes(5, 5), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn random_below_stays_in_range() {
        for n in [1u64, 2, 3, 1000, u64::MAX] {
            for _ in 0..100 {
                assert!(random_below(n) < n);
            }
        }
    }

    /// A set with the shapes a descent must handle: an empty member, members that are
    /// prefixes of others, 0xff bytes, a large group under one branch.
    #[test]
    fn descents_pick_only_elements_and_spread() {
        let dir = tempfile::TempDir::with_prefix("redrock-sample-").unwrap();
        let storage = crate::storage::Storage::open(dir.path(), &Default::default()).unwrap();
        let db = Db { storage: &storage, ns: b"", index: 0 };
        let mut members: Vec<Vec<u8>> = vec![b"".to_vec(), b"a".to_vec(), b"c".to_vec(), b"\xff\xff".to_vec()];
        members.extend((0..3000).map(|i| format!("c{i}").into_bytes()));
        let refs: Vec<&[u8]> = members.iter().map(|m| &m[..]).collect();
        crate::types::set::add(&db, b"s", &refs).unwrap();
        let live = crate::types::set::lookup(&db, b"s").unwrap().unwrap();
        let all: std::collections::HashSet<Vec<u8>> = members.into_iter().collect();
        let picked = descend_random(&db, &live, 4000).unwrap();
        assert_eq!(picked.len(), 4000);
        assert!(picked.iter().all(|(m, _)| all.contains(m)));
        let distinct: std::collections::HashSet<&Vec<u8>> = picked.iter().map(|(m, _)| m).collect();
        assert!(distinct.len() > 500, "only {} distinct picks", distinct.len());
        for edge in [&b""[..], b"a", b"\xff\xff"] {
            assert!(distinct.contains(&edge.to_vec()), "{edge:?} never picked");
        }
        drop(storage);
    }
}
