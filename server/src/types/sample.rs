//! Random elements of a collection (HRANDFIELD, SRANDMEMBER, SPOP; ZRANDMEMBER can share it).
//!
//! The sub-key layout is ordered but has no rank index, so "the element at position i" is a
//! walk of i steps. Small collections (and requests for a large share of a collection) are
//! sampled exactly that way: uniform, one ordered pass. In a large collection a few elements
//! are found by random seeks instead, O(log N) each: a random key between the first and the
//! last sub-key, then a short random walk from the element at or after it. Seeks favour
//! elements after wide gaps in the key space (the walk spreads that over the next elements);
//! it is the price of not reading the collection (Redis's own dictGetFairRandomKey is not
//! exactly uniform either).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use super::collection::{Element, Live};
use crate::db::Db;
use crate::error::{Error, Result};

/// Collections up to this size are always sampled by an exact ordered walk.
pub const EXACT_WALK_MAX_SIZE: u64 = 1024;
/// After a seek, a random walk of fewer than this many steps spreads the picks over the
/// elements that follow a wide gap, instead of always the first of them.
const SEEK_SPREAD_STEPS: u64 = 64;
/// A seek and its spread cost about this many steps of an ordered walk: seeks win when
/// `count * SEEK_COST_IN_STEPS < size`.
const SEEK_COST_IN_STEPS: u64 = 32 + SEEK_SPREAD_STEPS;
/// Largest |count| served with repetitions: Redis bounds it only by its output buffer; this
/// bounds one reply's memory.
pub const MAX_RANDOM_REPLY_ELEMENTS: u64 = 1 << 24;
/// Random bytes appended to a seek target after the byte that places it between the bounds.
const SEEK_TAIL_BYTES: usize = 8;

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

/// A key `k >= low` that is, most of the time, at most `high` (`low < high`): their common
/// prefix, a byte drawn between theirs at the first difference, random bytes after (after all
/// of `low` when the drawn byte is low's, so the key never sorts before `low`).
fn key_between(low: &[u8], high: &[u8]) -> Vec<u8> {
    let common = low.iter().zip(high).take_while(|(a, b)| a == b).count();
    let from = low.get(common).copied().unwrap_or(0) as u64;
    let to = high.get(common).copied().unwrap_or(0) as u64;
    let byte = (from + random_below(to.saturating_sub(from) + 1)) as u8;
    let mut out = if low.get(common) == Some(&byte) { low.to_vec() } else { [&low[..common], &[byte]].concat() };
    out.extend((0..SEEK_TAIL_BYTES).map(|_| random_u64() as u8));
    out
}

/// Random seeks into a non-empty collection, between its first and last elements.
struct Seeker<'a> {
    db: &'a Db<'a>,
    live: &'a Live,
    first: Element,
    last: Element,
}

impl<'a> Seeker<'a> {
    fn new(db: &'a Db<'a>, live: &'a Live) -> Result<Option<Seeker<'a>>> {
        let (Some(first), Some(last)) = (live.first_from(db, b"")?, live.last(db)?) else {
            return Ok(None);
        };
        Ok(Some(Seeker { db, live, first, last }))
    }

    /// The element a random walk of up to [`SEEK_SPREAD_STEPS`] leads to from the element at
    /// or after a random key; past the last element, the walk goes on from the first (a ring).
    fn next(&self) -> Result<Element> {
        let target = key_between(&self.first.0, &self.last.0);
        let mut steps = random_below(SEEK_SPREAD_STEPS);
        for from in [&target[..], b""] {
            let mut found = None;
            self.live.for_each(self.db, from, |sub, value| {
                if steps == 0 {
                    found = Some((sub.to_vec(), value.to_vec()));
                    return false;
                }
                steps -= 1;
                true
            })?;
            if let Some(found) = found {
                return Ok(found);
            }
        }
        Ok(self.first.clone())
    }
}

/// `count` elements found by random seeks (repeats possible).
fn seek_random(db: &Db<'_>, live: &Live, count: u64) -> Result<Vec<Element>> {
    let Some(seeker) = Seeker::new(db, live)? else {
        return Ok(Vec::new());
    };
    (0..count).map(|_| seeker.next()).collect()
}

fn seeks_are_cheaper(size: u64, count: u64) -> bool {
    size > EXACT_WALK_MAX_SIZE && count.saturating_mul(SEEK_COST_IN_STEPS) < size
}

/// One random element of `live` (`None` only if it is empty).
pub fn random_element(db: &Db<'_>, live: &Live) -> Result<Option<Element>> {
    let size = live.size();
    if size == 0 {
        return Ok(None);
    }
    if seeks_are_cheaper(size, 1) {
        return Ok(seek_random(db, live, 1)?.pop());
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
        if seeks_are_cheaper(size, wanted) {
            return seek_random(db, live, wanted);
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
    if seeks_are_cheaper(size, wanted) {
        // Distinct picks by seeking, a bounded number of tries; the exact walk is the fallback.
        let mut distinct: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        if let Some(seeker) = Seeker::new(db, live)? {
            let tries = wanted.saturating_mul(4).saturating_add(16);
            for _ in 0..tries {
                if distinct.len() as u64 == wanted {
                    break;
                }
                let (sub, value) = seeker.next()?;
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

    #[test]
    fn seek_targets_start_at_or_after_the_low_bound() {
        for _ in 0..500 {
            let target = key_between(b"m100", b"m999");
            assert!(target.as_slice() >= b"m100".as_slice());
            assert!(target.as_slice() < b"m:".as_slice());
            let target = key_between(b"", b"\x05");
            assert!(target[0] <= 5);
            let target = key_between(b"a\x00\x00", b"b");
            assert!(target.as_slice() >= b"a\x00\x00".as_slice());
        }
    }
}
