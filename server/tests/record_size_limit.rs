//! A RocksDB record holds a key and a value of at most 4 GiB each (its lengths are 32-bit).
//! RocksDB's C API drops a longer one from its batch without a word and writes the rest, so
//! storage refuses such a write whole before RocksDB sees it (`StorageError::TooLarge`):
//! a command either lands entirely or not at all.
//!
//! The long value is a zeroed allocation that nothing writes to, so the kernel backs it with
//! no memory; the refusal must come before anything copies it.

mod common;

use redrock::storage::{deferred, Cf, Storage, StorageError, StorageOptions};

use common::scratch;

/// One byte past the longest value a record holds.
const PAST_LIMIT_BYTES: usize = u32::MAX as usize + 1;

/// Writes a batch of a short record and a record whose value is past the limit; what the
/// write said, and whether the short record is in the database after it.
fn write_with_a_long_value(storage: &Storage) -> (Result<(), StorageError>, bool) {
    let mut batch = storage.batch();
    batch.put(Cf::Metadata, b"short".to_vec(), b"v".to_vec());
    batch.put(Cf::Metadata, b"long".to_vec(), vec![0u8; PAST_LIMIT_BYTES]);
    let written = storage.write(batch);
    let short_landed = storage.get(Cf::Metadata, b"short").expect("a read").is_some();
    (written, short_landed)
}

#[test]
fn a_write_with_a_value_past_four_gib_is_refused_whole() {
    let dir = scratch("record-size-limit");
    let storage = Storage::open(dir.path(), &StorageOptions::default()).expect("open storage");

    let (written, short_landed) = write_with_a_long_value(&storage);
    assert!(matches!(written, Err(StorageError::TooLarge(PAST_LIMIT_BYTES))), "{written:?}");
    assert!(!short_landed, "the batch's other record did not land either");

    // A command inside a write group (write_session.rs) defers its batch instead: the
    // refusal comes before it joins the group.
    deferred::begin();
    let (written, short_landed) = write_with_a_long_value(&storage);
    assert!(matches!(written, Err(StorageError::TooLarge(PAST_LIMIT_BYTES))), "{written:?}");
    assert!(!short_landed, "nothing was deferred for the group");
    assert!(!deferred::has_pending(), "the refused batch is not in the group");
    assert!(deferred::end().is_none());
}
