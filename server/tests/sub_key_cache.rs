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

/// HSET into a hash larger than the member cache: once it is full, fields of 256 bytes or
/// more are kept as present only (record_cache.rs, `Known::Present`). HSET's check must
/// still tell new fields from old ones, and value reads must still find the values.
#[test]
fn long_fields_kept_as_present_only_still_answer_hset_and_hget() {
    use redrock::db::Db;
    use redrock::types::hash;

    let dir = scratch("sub-key-cache-presence");
    let options = StorageOptions { sub_key_cache_bytes: 256 << 10, ..StorageOptions::default() };
    let storage = Storage::open(dir.path(), &options).expect("open storage");
    let db = Db { storage: &storage, ns: b"", index: 0 };
    let fields: Vec<Vec<u8>> = (0..2000).map(|i| format!("field:{i}").into_bytes()).collect();
    let value = |round: u8, i: usize| vec![round.wrapping_add(i as u8); 300];
    let hset_all = |round: u8| -> u64 {
        fields
            .iter()
            .enumerate()
            .map(|(i, field)| hash::set(&db, b"h", &[(field, &value(round, i))], false).expect("hset"))
            .sum()
    };
    assert_eq!(hset_all(0), 2000, "every field is new");
    // 2,000 fields of 300 bytes are twice what the cache holds: it is full now.
    assert_eq!(hset_all(1), 0, "no field is new the second time");
    let kept = storage.sub_key_cache_usage();
    assert!(kept.entries > 1000, "present-only entries weigh little: {kept:?}");
    assert_eq!(hset_all(2), 0, "nor the third, answered from present-only entries");
    assert_eq!(hash::lookup(&db, b"h").expect("lookup").expect("the hash").size(), 2000);
    for (i, field) in fields.iter().enumerate().step_by(97) {
        assert_eq!(hash::get(&db, b"h", field).expect("hget"), Some(value(2, i)), "{i}");
    }
    assert_eq!(hash::set(&db, b"h", &[(&fields[5][..], b"x")], true).expect("hsetnx"), 0);
    assert_eq!(hash::delete(&db, b"h", &[&fields[5]]).expect("hdel"), 1);
    assert_eq!(hash::set(&db, b"h", &[(&fields[5][..], &value(3, 5)[..])], true).expect("hsetnx"), 1);
    assert_eq!(hash::get(&db, b"h", &fields[5]).expect("hget"), Some(value(3, 5)));
}
