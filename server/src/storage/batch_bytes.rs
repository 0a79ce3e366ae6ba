//! RocksDB write batches built as their bytes, then handed to RocksDB in one call.
//!
//! A batch built through RocksDB's API costs a call into C++ per record (`put_cf` was 560
//! instructions of a pipelined MSET's key, most of it crossing the FFI and looking the column
//! family up by name); the landing of deferred writes (deferred.rs) writes every record
//! itself and crosses once, in `WriteBatch::from_data`. The bytes are RocksDB's `rep_`
//! (db/write_batch.cc), which RocksDB parses again when it writes them:
//!
//! ```text
//!  0                8             12
//! ┌────────────────┬─────────────┬──────────┬──────────┬─────┐
//! │ sequence (u64) │ count (u32) │ record 1 │ record 2 │ ... │
//! │ LE, set by the │ LE          │          │          │     │
//! │ write: 0 here  │             │          │          │     │
//! └────────────────┴─────────────┴──────────┴──────────┴─────┘
//!
//! record, in the default column family (id 0):
//! ┌─────────────┬────────────────────┬─────┬──────────────────────┬───────┐
//! │ 0x01 put    │ key length varint32│ key │ value length varint32│ value │
//! │ 0x00 delete │ key length varint32│ key │ (a delete has no value)      │
//! └─────────────┴────────────────────┴─────┴──────────────────────┴───────┘
//! record, in another column family:
//! ┌─────────────┬──────────────────┬── then as above: key, and a put's value
//! │ 0x05 put    │ column family id │
//! │ 0x04 delete │ varint32         │
//! └─────────────┴──────────────────┴──
//! ```
//!
//! A column family's id is RocksDB's, read back from a batch RocksDB encodes
//! (`column_family_id`). A test checks these bytes against RocksDB's own for any records.

use rocksdb::{ColumnFamily, WriteBatch};

/// Bytes before the first record: sequence and count.
pub(super) const HEADER_BYTES: usize = 12;
/// Where the record count sits in the header.
const COUNT_OFFSET: usize = 8;

/// Record tags (db/dbformat.h `ValueType`).
const TAG_DELETE: u8 = 0x00;
const TAG_PUT: u8 = 0x01;
const TAG_CF_DELETE: u8 = 0x04;
const TAG_CF_PUT: u8 = 0x05;

/// The longest key or value a record holds: RocksDB's lengths are 32-bit, and its C API
/// drops a longer one from the batch without a word.
pub const MAX_RECORD_PART_BYTES: usize = u32::MAX as usize;

/// The id of the default column family, whose records carry none.
const DEFAULT_CF_ID: u32 = 0;

/// A write batch's records, as RocksDB's bytes.
pub(super) struct BatchBytes {
    rep: Vec<u8>,
    count: u32,
}

impl BatchBytes {
    /// An empty batch with room for `record_bytes` of records.
    pub fn with_capacity(record_bytes: usize) -> BatchBytes {
        let mut rep = Vec::with_capacity(HEADER_BYTES + record_bytes);
        rep.resize(HEADER_BYTES, 0);
        BatchBytes { rep, count: 0 }
    }

    /// Adds a put of `value` to `key` in column family `cf_id`, or its delete when `value`
    /// is `None`. Neither is longer than `MAX_RECORD_PART_BYTES`: `Storage::write` refuses a
    /// batch with a longer one.
    pub fn record(&mut self, cf_id: u32, key: &[u8], value: Option<&[u8]>) {
        debug_assert!(key.len().max(value.map_or(0, <[u8]>::len)) <= MAX_RECORD_PART_BYTES);
        let (key_len, value_len) = (key.len() as u32, value.map(|v| v.len() as u32));
        self.rep.reserve(1 + 5 + 5 + key.len() + 5 + value.map_or(0, <[u8]>::len));
        match (cf_id, value.is_some()) {
            (DEFAULT_CF_ID, true) => self.rep.push(TAG_PUT),
            (DEFAULT_CF_ID, false) => self.rep.push(TAG_DELETE),
            (_, true) => self.rep.push(TAG_CF_PUT),
            (_, false) => self.rep.push(TAG_CF_DELETE),
        }
        if cf_id != DEFAULT_CF_ID {
            put_varint32(&mut self.rep, cf_id);
        }
        put_varint32(&mut self.rep, key_len);
        self.rep.extend_from_slice(key);
        if let (Some(value), Some(value_len)) = (value, value_len) {
            put_varint32(&mut self.rep, value_len);
            self.rep.extend_from_slice(value);
        }
        self.count += 1;
    }

    /// Adds the records of a batch RocksDB built, after these.
    pub fn append(&mut self, batch: &WriteBatch) {
        let data = batch.data();
        self.count += u32::from_le_bytes(data[COUNT_OFFSET..HEADER_BYTES].try_into().expect("4 bytes"));
        self.rep.extend_from_slice(&data[HEADER_BYTES..]);
    }

    /// The RocksDB batch of these records.
    pub fn into_batch(mut self) -> WriteBatch {
        self.rep[COUNT_OFFSET..HEADER_BYTES].copy_from_slice(&self.count.to_le_bytes());
        WriteBatch::from_data(&self.rep)
    }
}

/// The id RocksDB's batches carry for `cf`, read from a record RocksDB encodes itself.
pub(super) fn column_family_id(cf: &ColumnFamily) -> u32 {
    let mut probe = WriteBatch::default();
    probe.delete_cf(cf, b"");
    match probe.data()[HEADER_BYTES..] {
        [TAG_DELETE, ..] => DEFAULT_CF_ID,
        [TAG_CF_DELETE, ref rest @ ..] => read_varint32(rest).expect("RocksDB wrote the column family id"),
        ref other => panic!("RocksDB encoded a delete as {other:?}"),
    }
}

/// util/coding.h `PutVarint32`: 7 bits a byte, low first, the high bit set on all but the last.
fn put_varint32(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn read_varint32(bytes: &[u8]) -> Option<u32> {
    let mut value = 0u32;
    for (i, &byte) in bytes.iter().take(5).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::TestRunner;
    use rocksdb::{Options, DB};

    /// Column families enough for a varint id past one byte.
    const EXTRA_FAMILIES: usize = 130;

    fn open(dir: &std::path::Path) -> DB {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let names: Vec<String> = (0..EXTRA_FAMILIES).map(|i| format!("cf{i}")).collect();
        DB::open_cf(&options, dir, &names).unwrap()
    }

    fn record() -> impl Strategy<Value = (usize, Vec<u8>, Option<Vec<u8>>)> {
        (
            prop_oneof![Just(0usize), Just(1), Just(EXTRA_FAMILIES)],
            proptest::collection::vec(any::<u8>(), 0..200),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        )
    }

    /// Our bytes are RocksDB's for the same records, in the default column family and in
    /// others (ids of one and two varint bytes); a RocksDB batch appended keeps its own.
    #[test]
    fn records_are_encoded_as_rocksdb_encodes_them() {
        let dir = tempfile::TempDir::with_prefix("redrock-batch-bytes-").unwrap();
        let db = open(dir.path());
        let handle = |family: usize| match family {
            0 => db.cf_handle("default").unwrap(),
            n => db.cf_handle(&format!("cf{}", n - 1)).unwrap(),
        };
        let mut runner = TestRunner::new(ProptestConfig::with_cases(256));
        let cases = (proptest::collection::vec(record(), 0..20), 0usize..20);
        let result = runner.run(&cases, |(records, split)| {
            let split = split.min(records.len());
            let (mut ours, mut head, mut tail) =
                (BatchBytes::with_capacity(0), WriteBatch::default(), WriteBatch::default());
            for (i, (family, key, value)) in records.iter().enumerate() {
                let cf = handle(*family);
                let rocks = if i < split { &mut head } else { &mut tail };
                match value {
                    Some(value) => rocks.put_cf(cf, key, value),
                    None => rocks.delete_cf(cf, key),
                }
                if i < split {
                    ours.record(column_family_id(cf), key, value.as_deref());
                }
            }
            ours.append(&tail);
            let mut all = WriteBatch::from_data(head.data());
            for (family, key, value) in &records[split..] {
                match value {
                    Some(value) => all.put_cf(handle(*family), key, value),
                    None => all.delete_cf(handle(*family), key),
                }
            }
            let ours = ours.into_batch();
            prop_assert_eq!(ours.len(), records.len());
            prop_assert_eq!(ours.data(), all.data());
            Ok(())
        });
        drop(db);
        result.unwrap();
    }

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut out = Vec::new();
            put_varint32(&mut out, value);
            assert_eq!(read_varint32(&out), Some(value));
        }
        assert_eq!(read_varint32(&[0x80, 0x80]), None, "unterminated");
    }
}
