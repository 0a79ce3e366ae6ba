//! Batches record the keys they write (for WATCH) only while some key is watched: the
//! storage's `written::Interest`, which watch.rs counts its watched keys in.

mod common;

use redrock::storage::encoding::meta_key;
use redrock::storage::metadata::encode_string;
use redrock::storage::{written, Cf, Storage, StorageOptions};

use common::scratch;

/// Writes `key` in one batch and returns the keys this thread's log then holds.
fn write(storage: &Storage, key: &[u8]) -> Vec<Vec<u8>> {
    let _ = written::take();
    let mut batch = storage.batch();
    batch.put(Cf::Metadata, meta_key(b"", 0, key), encode_string(0, b"v"));
    storage.write(batch).unwrap();
    written::take().keys.into_iter().map(|(_, _, key)| key).collect()
}

#[test]
fn batches_record_written_keys_only_while_some_key_is_watched() {
    let dir = scratch("written-keys");
    let storage = Storage::open(dir.path(), &StorageOptions::default()).unwrap();
    assert!(write(&storage, b"unwatched").is_empty(), "nobody watches: nothing recorded");

    let interest = storage.written_interest();
    interest.add();
    assert_eq!(write(&storage, b"k"), vec![b"k".to_vec()]);
    interest.remove();
    assert!(write(&storage, b"k").is_empty(), "the last watch went: nothing recorded");
}
