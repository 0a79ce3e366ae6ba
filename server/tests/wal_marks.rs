//! Outside `appendfsync always`, RocksDB buffers WAL records in the process, and a connection
//! writes them out before its replies leave (storage/mod.rs `wal_unflushed`,
//! `flush_wal_through`): a reply never reveals a write a process crash could lose. These tests
//! hold the marks to that: a published write is unflushed until a flush that began after it.

mod common;

use redrock::storage::{Cf, Durability, Storage, StorageOptions};

use common::scratch;

fn write(storage: &Storage, key: &[u8]) {
    let mut batch = storage.batch();
    batch.put(Cf::Metadata, key.to_vec(), b"v".to_vec());
    storage.write(batch).expect("write");
}

#[test]
fn a_published_write_is_unflushed_until_a_flush_that_began_after_it() {
    let dir = scratch("wal-marks");
    let storage = Storage::open(dir.path(), &StorageOptions::default()).expect("open storage");
    assert_eq!(storage.wal_unflushed(), None, "a fresh database has nothing buffered");

    write(&storage, b"a");
    let first = storage.wal_unflushed().expect("a landed write waits in RocksDB's buffer");
    storage.flush_wal_through(first).expect("flush");
    assert_eq!(storage.wal_unflushed(), None);

    write(&storage, b"b");
    let second = storage.wal_unflushed().expect("the next write waits in its turn");
    assert!(second > first);
    // A mark an earlier flush covered asks for nothing more.
    storage.flush_wal_through(first).expect("flush");
    assert_eq!(storage.wal_unflushed(), Some(second));
    storage.flush_wal_through(second).expect("flush");
    assert_eq!(storage.wal_unflushed(), None);

    write(&storage, b"c");
    drop(storage);
    // What the database recovers at open is in its files already.
    let storage = Storage::open(dir.path(), &StorageOptions::default()).expect("reopen storage");
    assert_eq!(storage.get(Cf::Metadata, b"c").expect("read"), Some(b"v".to_vec()));
    assert_eq!(storage.wal_unflushed(), None);
}

#[test]
fn always_writes_and_syncs_each_batch_so_nothing_waits() {
    let dir = scratch("wal-marks-always");
    let options = StorageOptions { durability: Durability::Always, ..StorageOptions::default() };
    let storage = Storage::open(dir.path(), &options).expect("open storage");
    write(&storage, b"a");
    assert_eq!(storage.wal_unflushed(), None);
}
