//! What hashes and sets (and any type whose elements are `sub -> value` sub-keys) share:
//! finding a live collection, point reads of its elements, ordered iteration over its
//! sub-keys, writing its metadata with an exact size, and SCAN (random picks are in
//! `sample.rs`).
//!
//! A collection is never read whole to serve one element: point operations go through
//! [`Live::get`] / [`Live::multi_get`] (one RocksDB point read per element), sizes come from
//! the metadata record.

use crate::db::Db;
use crate::error::{Error, Result};
use crate::glob;
use crate::shared::ScanCursors;
use crate::storage::{Batch, Cf, KeyType, Metadata, StorageError};

/// Largest COUNT a SCAN-family call honours in one reply: bounds the work of one call
/// whatever the client asks (the cursor resumes the rest).
pub const MAX_SCAN_COUNT: usize = 1 << 20;

/// An element: its sub (field, member) and its value (empty for sets).
pub type Element = (Vec<u8>, Vec<u8>);

/// One incarnation of a collection: its metadata and the prefix of its sub-keys.
pub struct Live {
    pub meta: Metadata,
    pub prefix: Vec<u8>,
    /// True when no record existed (or it had expired): the caller creates it.
    pub is_new: bool,
}

impl Live {
    pub fn size(&self) -> u64 {
        self.meta.collection.map(|c| c.size).unwrap_or(0)
    }

    fn set_size(&mut self, size: u64) {
        if let Some(c) = self.meta.collection.as_mut() {
            c.size = size;
        }
    }

    /// Adds `delta` (may be negative) to the size kept in the metadata.
    pub fn add_size(&mut self, delta: i64) {
        let size = self.size().saturating_add_signed(delta);
        self.set_size(size);
    }

    pub fn sub_key(&self, sub: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.prefix.len() + sub.len());
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(sub);
        out
    }

    /// One element's value: a single point read.
    pub fn get(&self, db: &Db<'_>, sub: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(db.storage.get(Cf::SubKeys, &self.sub_key(sub))?)
    }

    /// The sub-keys of `subs`, to read and then write the same ones.
    pub fn sub_keys<'s>(&self, subs: impl Iterator<Item = &'s [u8]>) -> Vec<Vec<u8>> {
        subs.map(|s| self.sub_key(s)).collect()
    }

    /// Several elements' values in one batched point read.
    pub fn multi_get<'s>(&self, db: &Db<'_>, subs: impl Iterator<Item = &'s [u8]>) -> Result<Vec<Option<Vec<u8>>>> {
        Ok(db.storage.multi_get(Cf::SubKeys, &self.sub_keys(subs))?)
    }

    /// Whether each element exists, in one batched point read that copies no value out.
    pub fn multi_contains<'s>(&self, db: &Db<'_>, subs: impl Iterator<Item = &'s [u8]>) -> Result<Vec<bool>> {
        self.contains_keys(db, &self.sub_keys(subs))
    }

    /// [`Live::multi_contains`] of elements whose `sub_keys` the caller already built; a new
    /// collection holds none.
    pub fn contains_keys(&self, db: &Db<'_>, sub_keys: &[Vec<u8>]) -> Result<Vec<bool>> {
        if self.is_new {
            return Ok(vec![false; sub_keys.len()]);
        }
        Ok(db.storage.multi_contains(Cf::SubKeys, sub_keys)?)
    }

    /// Calls `visit(sub, value)` for each element from `from` (inclusive) on, in sub-key byte
    /// order, until it returns false.
    pub fn for_each(&self, db: &Db<'_>, from: &[u8], mut visit: impl FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        let mut it = db.storage.iter_prefix(Cf::SubKeys, &self.prefix);
        it.seek(self.sub_key(from));
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !visit(&k[self.prefix.len()..], v) {
                return Ok(());
            }
            it.next();
        }
        it.status().map_err(StorageError::from)?;
        Ok(())
    }

    /// The first element at or after `from` in sub-key order.
    pub fn first_from(&self, db: &Db<'_>, from: &[u8]) -> Result<Option<Element>> {
        let mut found = None;
        self.for_each(db, from, |sub, value| {
            found = Some((sub.to_vec(), value.to_vec()));
            false
        })?;
        Ok(found)
    }

    /// The last element in sub-key order.
    pub fn last(&self, db: &Db<'_>) -> Result<Option<Element>> {
        let mut it = db.storage.iter_prefix(Cf::SubKeys, &self.prefix);
        it.seek_to_last();
        let found = match (it.key(), it.value()) {
            (Some(k), Some(v)) => Some((k[self.prefix.len()..].to_vec(), v.to_vec())),
            _ => None,
        };
        it.status().map_err(StorageError::from)?;
        Ok(found)
    }

    /// Every element, in sub-key order (bounded by the data: the caller serves a whole-
    /// collection command).
    pub fn all(&self, db: &Db<'_>) -> Result<Vec<Element>> {
        let mut out = Vec::with_capacity(self.size().min(1 << 16) as usize);
        self.for_each(db, b"", |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            true
        })?;
        Ok(out)
    }

    /// Writes (or, when it became empty, deletes) the metadata record in `batch`: Redis
    /// deletes a collection with its last element.
    pub fn write_meta(&self, db: &Db<'_>, batch: &mut Batch<'_>, key: &[u8]) {
        if self.size() == 0 {
            db.delete_in(batch, key);
        } else {
            batch.put(Cf::Metadata, db.meta_key(key), self.meta.encode());
        }
    }
}

/// The live collection at `key` if it has type `expected`; `WRONGTYPE` if it has another.
pub fn lookup(db: &Db<'_>, key: &[u8], expected: KeyType) -> Result<Option<Live>> {
    let Some(record) = db.lookup_typed(key, expected)? else {
        return Ok(None);
    };
    let version = record.version().ok_or(Error::WrongType)?;
    Ok(Some(Live { prefix: db.sub_prefix(key, version), meta: record.meta, is_new: false }))
}

/// The collection at `key` for a write: the live one, or a new empty one with a fresh version
/// (also when an expired key of any type sits there).
pub fn open_for_write(db: &Db<'_>, key: &[u8], expected: KeyType) -> Result<Live> {
    if let Some(live) = lookup(db, key, expected)? {
        return Ok(live);
    }
    Ok(new_collection(db, key, expected))
}

/// A new, empty collection at `key` with a fresh version (the caller fills and writes it).
pub fn new_collection(db: &Db<'_>, key: &[u8], key_type: KeyType) -> Live {
    let version = db.storage.next_version();
    Live { meta: Metadata::new_collection(key_type, version), prefix: db.sub_prefix(key, version), is_new: true }
}

/// Options of HSCAN/SSCAN/ZSCAN after the cursor.
pub struct ScanOptions {
    pub count: usize,
    pub pattern: Option<Vec<u8>>,
}

/// Redis's `parseScanCursorOrReply`: C's `strtoul` over the argument (up to a NUL byte, as a
/// C string ends): an optional sign, decimal digits, nothing after them; `-n` wraps as
/// strtoul does, an empty argument is cursor 0, a leading space or an overflow is
/// `ERR invalid cursor`.
pub fn parse_cursor(arg: &[u8]) -> Result<u64> {
    let invalid = || Error::err("invalid cursor");
    let text = &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())];
    if text.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match text[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut value: u64 = 0;
    for &d in digits {
        value = value.checked_mul(10).and_then(|v| v.checked_add(u64::from(d - b'0'))).ok_or_else(invalid)?;
    }
    Ok(if negative { value.wrapping_neg() } else { value })
}

/// `[MATCH pattern] [COUNT count]`, as Redis's `scanGenericCommand` parses them for a key
/// (TYPE is only for SCAN). `args` starts after the cursor.
pub fn parse_scan_options(args: &[bytes::Bytes]) -> Result<ScanOptions> {
    let mut options = ScanOptions { count: 10, pattern: None };
    let mut i = 0;
    while i < args.len() {
        let more = i + 1 < args.len();
        if crate::cmd::args::is(&args[i], "count") && more {
            let count = crate::cmd::args::parse_i64(&args[i + 1])?;
            if count < 1 {
                return Err(Error::Syntax);
            }
            options.count = (count as u64).min(MAX_SCAN_COUNT as u64) as usize;
            i += 2;
        } else if crate::cmd::args::is(&args[i], "match") && more {
            // "*" matches everything: Redis skips matching then too.
            options.pattern = (&args[i + 1][..] != b"*").then(|| args[i + 1].to_vec());
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok(options)
}

/// One step of a SCAN over a collection's elements, in sub-key order.
///
/// The cursor a client sees is an id in `cursors` mapping to the first element not yet
/// returned; the order is the stable sub-key order, so an element present for the whole scan
/// sits either before the resume point (returned earlier) or after it (returned later): it is
/// returned at least once, whatever is added or removed meanwhile. An unknown cursor restarts
/// the scan, which keeps the guarantee.
///
/// Redis replies to a SCAN of a compactly encoded collection (listpack, intset) in one call,
/// ignoring COUNT. `compact` mimics that: a collection of at most `compact.max_entries`
/// elements whose every element passes `compact.element` is returned whole with cursor 0.
pub fn scan(
    db: &Db<'_>,
    cursors: &ScanCursors,
    live: &Live,
    cursor: u64,
    options: &ScanOptions,
    compact: &CompactEncoding,
) -> Result<(u64, Vec<Element>)> {
    let matches = |sub: &[u8]| options.pattern.as_ref().is_none_or(|p| glob::matches(p, sub, false));
    if live.size() <= compact.max_entries {
        let all = live.all(db)?;
        if all.iter().all(|(sub, value)| (compact.element)(sub, value)) {
            return Ok((0, all.into_iter().filter(|(sub, _)| matches(sub)).collect()));
        }
    }
    let from = cursors.resume_key(cursor);
    let mut out = Vec::new();
    let mut visited = 0usize;
    let mut resume: Option<Vec<u8>> = None;
    live.for_each(db, &from, |sub, value| {
        if visited == options.count {
            resume = Some(sub.to_vec());
            return false;
        }
        visited += 1;
        if matches(sub) {
            out.push((sub.to_vec(), value.to_vec()));
        }
        true
    })?;
    let next = match resume {
        Some(key) => cursors.save(key),
        None => 0,
    };
    Ok((next, out))
}

/// When Redis keeps a collection in a compact encoding that SCAN returns in one call.
pub struct CompactEncoding {
    pub max_entries: u64,
    pub element: fn(&[u8], &[u8]) -> bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoull() {
        assert_eq!(parse_cursor(b"0").unwrap(), 0);
        assert_eq!(parse_cursor(b"18446744073709551615").unwrap(), u64::MAX);
        assert_eq!(parse_cursor(b"-1").unwrap(), u64::MAX);
        assert_eq!(parse_cursor(b"+7").unwrap(), 7);
        assert_eq!(parse_cursor(b"").unwrap(), 0);
        assert_eq!(parse_cursor(b"5\x00junk").unwrap(), 5);
        assert!(parse_cursor(b"18446744073709551616").is_err());
        assert!(parse_cursor(b" 1").is_err());
        assert!(parse_cursor(b"-").is_err());
        assert!(parse_cursor(b"1x").is_err());
    }
}
