//! The record caches start complete in front of column families whose records they can all
//! hold (empty ones included): a miss then means absent, and reads nothing
//! (storage/record_cache.rs, storage/warm_up.rs). These tests check that every way a
//! cache can lose a record the database holds ends that, so reads go back to RocksDB and
//! still find every record.

mod common;

use redrock::storage::{Batch, Cf, Storage, StorageOptions};

use common::scratch;

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
    let dir = scratch("complete-caches");
    let storage = Storage::open(dir.path(), &StorageOptions::default()).expect("open storage");
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

    let storage = Storage::open(dir.path(), &StorageOptions::default()).expect("reopen storage");
    assert!(storage.record_cache_usage().complete, "'b' was loaded at open");
    assert_eq!(read(&storage, b"b").as_deref(), Some(&b"2"[..]));
}

#[test]
fn members_a_deletion_left_behind_do_not_end_the_member_cache_once_no_key_is_left() {
    let dir = scratch("complete-caches-dead-members");
    let storage = Storage::open(dir.path(), &StorageOptions::default()).expect("open storage");
    // A collection deleted as DEL deletes one: its metadata record goes, its member stays in
    // RocksDB for compactions to drop.
    write(&storage, |batch| {
        batch.put(Cf::Metadata, b"a".to_vec(), b"1".to_vec());
        batch.put(Cf::SubKeys, b"a-member".to_vec(), b"1".to_vec());
        batch.put(Cf::SubKeys, b"z-member".to_vec(), b"1".to_vec());
    });
    write(&storage, |batch| batch.delete(Cf::Metadata, b"a".to_vec()));
    write(&storage, |batch| batch.delete_range(Cf::SubKeys, b"z", b"\xff"));
    assert!(storage.sub_key_cache_usage().complete, "'a-member' is left, but no key it could be read under");

    write(&storage, |batch| {
        batch.put(Cf::Metadata, b"b".to_vec(), b"1".to_vec());
        batch.put(Cf::SubKeys, b"b-member".to_vec(), b"1".to_vec());
    });
    write(&storage, |batch| batch.delete_range(Cf::SubKeys, b"z", b"\xff"));
    assert!(!storage.sub_key_cache_usage().complete, "'b' is left, and its member no longer cached");
    assert_eq!(storage.get(Cf::SubKeys, b"b-member").expect("read").as_deref(), Some(&b"1"[..]));
}

#[test]
fn a_restarted_database_is_complete_again_when_every_record_fits_its_cache() {
    let dir = scratch("complete-caches-restart");
    let storage = Storage::open(dir.path(), &StorageOptions::default()).expect("open storage");
    write(&storage, |batch| {
        for i in 0..100u32 {
            batch.put(Cf::Metadata, i.to_be_bytes().to_vec(), vec![b'v'; 10]);
            batch.put(Cf::SubKeys, i.to_be_bytes().to_vec(), vec![b'm'; 10]);
        }
    });
    drop(storage);

    let storage = Storage::open(dir.path(), &StorageOptions::default()).expect("reopen storage");
    let (records, members) = (storage.record_cache_usage(), storage.sub_key_cache_usage());
    assert!(records.complete && records.entries == 100, "{records:?}");
    assert!(members.complete && members.entries == 100, "{members:?}");
    assert_eq!(read(&storage, &7u32.to_be_bytes()), Some(vec![b'v'; 10]));
    assert_eq!(storage.get(Cf::SubKeys, &7u32.to_be_bytes()).expect("read"), Some(vec![b'm'; 10]));
    assert_eq!(read(&storage, b"absent"), None);
    // A record too large to cache: the next restart cannot hold every record.
    write(&storage, |batch| batch.put(Cf::Metadata, b"large".to_vec(), vec![b'l'; 20_000]));
    drop(storage);

    let storage = Storage::open(dir.path(), &StorageOptions::default()).expect("reopen storage");
    assert!(!storage.record_cache_usage().complete, "'large' is not cached");
    assert!(storage.sub_key_cache_usage().complete);
    assert_eq!(read(&storage, b"large"), Some(vec![b'l'; 20_000]));
    assert_eq!(read(&storage, &99u32.to_be_bytes()), Some(vec![b'v'; 10]));
    drop(storage);

    // More records than half the cache could hold: none is read at open.
    let small = StorageOptions { record_cache_bytes: 4 << 10, ..StorageOptions::default() };
    let storage = Storage::open(dir.path(), &small).expect("reopen storage");
    let records = storage.record_cache_usage();
    assert!(!records.complete && records.entries == 0, "{records:?}");
    assert_eq!(read(&storage, &42u32.to_be_bytes()), Some(vec![b'v'; 10]));
}

#[test]
fn an_eviction_sends_reads_back_to_rocksdb() {
    let dir = scratch("complete-caches-evicted");
    let options = StorageOptions { record_cache_bytes: 1 << 20, ..StorageOptions::default() };
    let storage = Storage::open(dir.path(), &options).expect("open storage");
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
