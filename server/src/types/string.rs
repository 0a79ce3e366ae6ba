//! Strings: the bytes live in the metadata record itself (see storage/metadata.rs), so a GET
//! is one point read and a SET one put. A string record *is* its encoding: header, then the
//! value, so APPEND and SETRANGE patch the record they read and write it back whole.

use bytes::{Buf, Bytes};

use crate::db::{Db, Record};
use crate::error::{Error, Result};
use crate::shared::Stats;
use crate::storage::metadata::{encode_string, StringEncoding, HEADER_LEN};
use crate::storage::{Batch, Cf, KeyType, Metadata, StorageError};

/// The value of string `key`; `WRONGTYPE` if `key` holds another type. For commands that
/// write the key (Redis's `lookupKeyWrite`): no keyspace hit or miss is counted.
pub fn get(db: &Db<'_>, key: &[u8]) -> Result<Option<Record>> {
    db.lookup_typed(key, KeyType::String)
}

/// [`get`] for commands that read the key (Redis's `lookupKeyRead`): counts a keyspace hit
/// or miss in `stats` (a key of another type is a hit, then `WRONGTYPE`).
pub fn get_read(db: &Db<'_>, key: &[u8], stats: &Stats) -> Result<Option<Record>> {
    db.lookup_typed_read(key, KeyType::String, stats)
}

/// The value of a string record, without copying it. Advanced past the header rather than
/// sliced: a slice of a `Bytes` made from a `Vec` allocates the shared header that lets the
/// two share it (an allocation and a free per GET).
pub fn value_of(record: Record) -> Bytes {
    let mut value = Bytes::from(record.raw);
    value.advance(HEADER_LEN);
    value
}

/// How Redis would encode the value of `record` (see [`StringEncoding`]).
pub fn encoding_hint(record: &Record) -> StringEncoding {
    StringEncoding::of(record.raw[0])
}

/// The values of `keys` as MGET sees them: `None` for absent keys and keys of other types.
/// One batched read for all of them; each key counts a keyspace hit or miss.
pub fn get_many(db: &Db<'_>, keys: &[Bytes], now_ms: u64, stats: &Stats) -> Result<Vec<Option<Bytes>>> {
    let meta_keys: Vec<Vec<u8>> = keys.iter().map(|k| db.meta_key(k)).collect();
    let raws = db.storage.multi_get(Cf::Metadata, &meta_keys)?;
    raws.into_iter()
        .map(|raw| {
            let live = match raw {
                Some(raw) => {
                    let meta = Metadata::decode(&raw).map_err(StorageError::from)?;
                    (!meta.is_expired(now_ms)).then_some((meta, raw))
                }
                None => None,
            };
            Stats::add(if live.is_some() { &stats.keyspace_hits } else { &stats.keyspace_misses }, 1);
            Ok(live
                .filter(|(meta, _)| meta.key_type == KeyType::String)
                .map(|(meta, raw)| value_of(Record { meta, raw })))
        })
        .collect()
}

/// Writes `value` under `key` in `batch` with `expire_ms` (0 = none), replacing any type.
pub fn put_in(db: &Db<'_>, batch: &mut Batch<'_>, key: &[u8], value: &[u8], expire_ms: u64) {
    batch.put(Cf::Metadata, db.meta_key(key), encode_string(expire_ms, value));
}

/// Like [`put_in`], but an expire time already past (SET ... EXAT 1) deletes the key, which is
/// what Redis's write followed by its expiry amounts to. (A key lives through its expire
/// millisecond, so `PXAT now` still writes it.)
pub fn put_or_expire_in(db: &Db<'_>, batch: &mut Batch<'_>, key: &[u8], value: &[u8], expire_ms: u64, now_ms: u64) {
    if expire_ms != 0 && expire_ms < now_ms {
        db.delete_in(batch, key);
    } else {
        put_in(db, batch, key, value, expire_ms);
    }
}

/// Writes `value` under `key` in `batch`, without expiry, as a string Redis encodes `hint`
/// whatever its bytes (BITOP's result, INCRBYFLOAT's).
pub fn put_encoded_in(
    db: &Db<'_>,
    batch: &mut Batch<'_>,
    key: &[u8],
    value: &[u8],
    expire_ms: u64,
    hint: StringEncoding,
) {
    let mut record = encode_string(expire_ms, value);
    hint.set_in(&mut record);
    batch.put(Cf::Metadata, db.meta_key(key), record);
}

/// Writes `value` under `key` at once.
pub fn put(db: &Db<'_>, key: &[u8], value: &[u8], expire_ms: u64) -> Result<()> {
    let mut batch = db.storage.batch();
    put_in(db, &mut batch, key, value, expire_ms);
    db.storage.write(batch)?;
    Ok(())
}

/// A string value changed in place and written back whole, header (so expiry) included:
/// APPEND, SETRANGE, SETBIT, BITFIELD. Such a value is `raw`-encoded in Redis from then on.
pub struct Patch {
    /// The record as stored: header, then the value.
    raw: Vec<u8>,
    /// The key is new, longer than it was, or becomes `raw`.
    changed: bool,
    /// Only the encoding hint changes (`embstr`/`int` → `raw`): a rewrite no client can
    /// read, which Redis does not signal as a modification (WATCH).
    reencoded_only: bool,
}

impl Patch {
    /// `existing` (or a new empty string without expiry), zero-padded to `min_len` bytes.
    pub fn open(existing: Option<Record>, min_len: usize) -> Patch {
        let mut raw = existing.map_or_else(|| encode_string(0, b""), |record| record.raw);
        let reencoded = StringEncoding::of(raw[0]) != StringEncoding::Raw;
        let mut changed = reencoded;
        StringEncoding::Raw.set_in(&mut raw);
        let mut grown = false;
        if raw.len() < HEADER_LEN + min_len {
            raw.resize(HEADER_LEN + min_len, 0);
            changed = true;
            grown = true;
        }
        Patch { raw, changed, reencoded_only: reencoded && !grown }
    }

    pub fn value(&self) -> &[u8] {
        &self.raw[HEADER_LEN..]
    }

    pub fn value_mut(&mut self) -> &mut [u8] {
        &mut self.raw[HEADER_LEN..]
    }

    pub fn append(&mut self, tail: &[u8]) {
        self.raw.extend_from_slice(tail);
        self.changed |= !tail.is_empty();
        self.reencoded_only &= tail.is_empty();
    }

    /// Whether nothing but the encoding hint would change, if the caller changed no byte.
    pub fn reencoded_only(&self) -> bool {
        self.reencoded_only
    }

    /// Whether the key must be written even if no byte of the value changes: Redis creates
    /// it, pads it, or makes it `raw`.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Whether opening it created the value or extended it with zero bytes.
    pub fn grown(&self) -> bool {
        self.changed && !self.reencoded_only
    }

    pub fn write(&self, db: &Db<'_>, key: &[u8]) -> Result<()> {
        let mut batch = db.storage.batch();
        batch.put(Cf::Metadata, db.meta_key(key), &self.raw[..]);
        db.storage.write(batch)?;
        Ok(())
    }

    /// Writes a record whose value bytes did not change (only its encoding hint): stored, but
    /// not reported to WATCH as a modification, as Redis's in-place `raw` conversion.
    pub fn write_reencoded(&self, db: &Db<'_>, key: &[u8]) -> Result<()> {
        let mut batch = db.storage.batch();
        batch.put_unobserved(Cf::Metadata, db.meta_key(key), &self.raw[..]);
        db.storage.write(batch)?;
        Ok(())
    }
}

/// Redis's `checkStringLength`: `current + added` bytes must fit in `max_bytes`
/// (`proto-max-bulk-len`), overflow included.
pub fn check_length(current: u64, added: u64, max_bytes: u64) -> Result<u64> {
    match current.checked_add(added) {
        Some(total) if total <= max_bytes => Ok(total),
        _ => Err(Error::StringTooLong),
    }
}

/// The value as INCR reads it: a canonical i64 (no spaces, no `+`, no leading zeros).
pub fn parse_integer(value: &[u8]) -> Result<i64> {
    redrock_protocol::string2ll(value).ok_or(Error::NotInteger)
}

/// `current + increment`, or Redis's overflow error.
pub fn increment(current: i64, increment: i64) -> Result<i64> {
    current.checked_add(increment).ok_or(Error::Overflow)
}

/// GETRANGE's slice of `value`: inclusive `start..=end`, negative indexes from the end,
/// clamped, empty when the range is.
pub fn range(value: &[u8], start: i64, end: i64) -> &[u8] {
    // Two negative indexes in the wrong order are empty even when both clamp to 0.
    if start < 0 && end < 0 && start > end {
        return &[];
    }
    let len = value.len() as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { (len + end).max(0) } else { end }.min(len - 1);
    if start > end || len == 0 {
        return &[];
    }
    &value[start as usize..=end as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_follows_getrange() {
        let v = b"Hello World";
        assert_eq!(range(v, 0, 4), b"Hello");
        assert_eq!(range(v, -5, -1), b"World");
        assert_eq!(range(v, 5, 1), b"");
        assert_eq!(range(v, 0, 100), v);
        assert_eq!(range(v, -100, 2), b"Hel");
        assert_eq!(range(v, -1, -5), b"");
        assert_eq!(range(v, -100, -50), b"H");
        assert_eq!(range(v, i64::MIN, i64::MAX), v);
        assert_eq!(range(b"", 0, -1), b"");
        assert_eq!(range(b"", -1, 0), b"");
    }

    #[test]
    fn patches_pad_with_zeros_and_keep_the_header() {
        let raw = encode_string(77, b"ab");
        let record = Record { meta: Metadata::decode(&raw).unwrap(), raw };
        let mut patch = Patch::open(Some(record), 6);
        assert!(patch.changed());
        assert_eq!(StringEncoding::of(patch.raw[0]), StringEncoding::Raw);
        patch.value_mut()[4..6].copy_from_slice(b"xy");
        assert_eq!(patch.value(), b"ab\0\0xy");
        assert_eq!(Metadata::decode(&patch.raw).unwrap().expire_ms, 77);
        let mut fresh = Patch::open(None, 0);
        assert!(fresh.changed() && fresh.value().is_empty());
        let record = Record { meta: Metadata::decode(&patch.raw).unwrap(), raw: patch.raw.clone() };
        assert!(!Patch::open(Some(record), 6).changed());
        fresh.append(b"z");
        assert_eq!(fresh.value(), b"z");
    }

    #[test]
    fn lengths_and_increments_refuse_overflow() {
        assert_eq!(check_length(10, 5, 15).unwrap(), 15);
        assert!(check_length(10, 6, 15).is_err());
        assert!(check_length(u64::MAX, 1, u64::MAX).is_err());
        assert_eq!(increment(i64::MAX - 1, 1).unwrap(), i64::MAX);
        assert!(increment(i64::MAX, 1).is_err());
        assert!(increment(i64::MIN, -1).is_err());
        assert!(parse_integer(b" 1").is_err());
        assert!(parse_integer(b"010").is_err());
        assert_eq!(parse_integer(b"-12").unwrap(), -12);
    }
}
