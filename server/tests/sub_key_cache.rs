//! The cache of collection members in front of the `SubKeys` column family
//! (storage/record_cache.rs, as for metadata records) answers as the database does after
//! every kind of write: puts, deletes and range deletions all reach it.

mod common;

use redrock::storage::{Batch, Cf, Storage, StorageOptions};

use common::scratch;

fn write(storage: &Storage, fill: impl FnOnce(&mut Batch<'_>)) {
    let mut batch = storage.batch();
    fill(&mut batch);
    storage.write(batch).expect("write");
}

#[test]
fn a_cached_member_follows_puts_deletes_and_range_deletions() {
    let dir = scratch("sub-key-cache");
    let storage = Storage::open(dir.path(), &StorageOptions::default()).expect("open storage");
    let member = |storage: &Storage| storage.get(Cf::SubKeys, b"member").expect("read");

    write(&storage, |batch| batch.put(Cf::SubKeys, b"member".to_vec(), b"1".to_vec()));
    assert_eq!(storage.sub_key_cache_usage().entries, 1, "the write stored it");
    assert_eq!(member(&storage).as_deref(), Some(&b"1"[..]));
    write(&storage, |batch| batch.put(Cf::SubKeys, b"member".to_vec(), b"2".to_vec()));
    assert_eq!(member(&storage).as_deref(), Some(&b"2"[..]));
    write(&storage, |batch| batch.delete(Cf::SubKeys, b"member"));
    assert_eq!(member(&storage), None);
    assert_eq!(storage.sub_key_cache_usage().entries, 0, "absent members are not cached");

    write(&storage, |batch| batch.put(Cf::SubKeys, b"member".to_vec(), b"3".to_vec()));
    let read = storage.multi_get(Cf::SubKeys, &[b"member".to_vec(), b"other".to_vec()]).expect("read");
    assert_eq!(read, [Some(b"3".to_vec()), None]);
    write(&storage, |batch| batch.delete_range(Cf::SubKeys, b"a", b"z"));
    assert_eq!(storage.sub_key_cache_usage().entries, 0, "a range deletion empties it");
    assert_eq!(member(&storage), None);
}
