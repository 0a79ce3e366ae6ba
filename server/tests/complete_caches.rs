//! The record caches start complete in front of empty column families: a miss then means
//! absent, and reads nothing (storage/record_cache.rs). These tests check that every way a
//! cache can lose a record the database holds ends that, so reads go back to RocksDB and
//! still find every record.

mod common;

use redrock::storage::{Batch, Cf, Storage, StorageOptions};

use common::TempDir;

fn write(storage: &Storage, fill: impl FnOnce(&mut Batch<'_>)) {
    let mut batch = storage.batch();
    fill(&mut batch);
    storage.write(batch).expect("write");
}

fn read(storage: &Storage, key: &[u8]) -> Option<Vec<u8>> {
    storage.get(Cf::Metadata, key).expect("read")
}

#[test]
fn a_fresh_database_is_complete_until_a_range_deletion_leaves_records_behind() {
    let dir = TempDir::new("complete-caches");
    let storage = Storage::open(&dir.0, &StorageOptions::default()).expect("open storage");
    assert!(storage.record_cache_usage().complete && storage.sub_key_cache_usage().complete);

    write(&storage, |batch| {
        batch.put(Cf::Metadata, b"a".to_vec(), b"1".to_vec());
        batch.put(Cf::SubKeys, b"a-member".to_vec(), b"1".to_vec());
    });
    write(&storage, |batch| batch.delete_range(Cf::Metadata, b"", b"\xff"));
    write(&storage, |batch| batch.delete_range(Cf::SubKeys, b"", b"\xff"));
    assert!(storage.record_cache_usage().complete, "the range deletion left nothing");
    assert!(storage.sub_key_cache_usage().complete, "the range deletion left nothing");
    assert_eq!(read(&storage, b"a"), None);

    write(&storage, |batch| {
        batch.put(Cf::Metadata, b"a".to_vec(), b"1".to_vec());
        batch.put(Cf::Metadata, b"b".to_vec(), b"2".to_vec());
    });
    assert_eq!(read(&storage, b"b").as_deref(), Some(&b"2"[..]));
    write(&storage, |batch| batch.delete_range(Cf::Metadata, b"a", b"b"));
    assert!(!storage.record_cache_usage().complete, "'b' is left, and no longer cached");
    assert_eq!(read(&storage, b"a"), None);
    assert_eq!(read(&storage, b"b").as_deref(), Some(&b"2"[..]), "read from RocksDB");
    drop(storage);

    let storage = Storage::open(&dir.0, &StorageOptions::default()).expect("reopen storage");
    assert!(!storage.record_cache_usage().complete, "the column family holds 'b'");
    assert_eq!(read(&storage, b"b").as_deref(), Some(&b"2"[..]));
}

#[test]
fn an_eviction_sends_reads_back_to_rocksdb() {
    let dir = TempDir::new("complete-caches-evicted");
    let options = StorageOptions { record_cache_bytes: 1 << 20, ..StorageOptions::default() };
    let storage = Storage::open(&dir.0, &options).expect("open storage");
    assert!(storage.record_cache_usage().complete);
    let keys = 20_000u32;
    for chunk in (0..keys).collect::<Vec<_>>().chunks(1000) {
        write(&storage, |batch| {
            for i in chunk {
                batch.put(Cf::Metadata, i.to_be_bytes().to_vec(), vec![b'v'; 100]);
            }
        });
    }
    let usage = storage.record_cache_usage();
    assert!(!usage.complete && usage.entries < u64::from(keys), "the cache evicted: {usage:?}");
    for i in 0..keys {
        assert_eq!(read(&storage, &i.to_be_bytes()), Some(vec![b'v'; 100]), "key {i}");
    }
}
