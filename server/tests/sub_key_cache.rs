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

/// A queue whose backlog outgrew the member cache: a pop that misses the cache reads the next
/// elements from its end with the one it pops (types/list.rs, `POP_READ_AHEAD_ELEMENTS`), and
/// the pops after it find them cached. Every element comes out in order, once. From the left
/// (the read ahead walks sub-keys upwards) and from the right (downwards).
#[test]
fn a_pop_that_misses_the_cache_reads_the_next_elements_ahead() {
    pops_read_ahead(b"LPUSH", b"LPOP");
    pops_read_ahead(b"RPUSH", b"RPOP");
}

fn pops_read_ahead(push: &[u8], pop: &[u8]) {
    use std::sync::Arc;

    use bytes::Bytes;
    use redrock::client::ClientState;
    use redrock::config::Config;
    use redrock::dispatch::execute_alone;
    use redrock::shared::Shared;
    use redrock::storage::encoding::sub_key;
    use redrock_protocol::Reply;

    const ELEMENTS: usize = 4000;
    /// Elements the pops after a miss find cached (`POP_READ_AHEAD_ELEMENTS`).
    const AHEAD: u64 = 16;
    let dir = scratch("sub-key-cache-pop-ahead");
    // Room for ~1,800 of the 4,000 1 KB elements: the first ones pushed, as a full cache
    // takes no more writes. New entries wait in its cold part (3% of it, quick_cache's
    // default) until read again.
    let options = StorageOptions { sub_key_cache_bytes: 2 << 20, ..StorageOptions::default() };
    let shared = Arc::new(Shared::new(Storage::open(dir.path(), &options).unwrap(), Config::default()).unwrap());
    let handle = shared.clients.register("127.0.0.1:1".into(), "127.0.0.1:2".into());
    let mut client = ClientState::new(handle, true);
    let mut run = |args: Vec<Vec<u8>>| execute_alone(&shared, &mut client, args.into_iter().map(Bytes::from).collect());
    let element = |i: usize| format!("{i:>1024}").into_bytes();
    for i in 0..ELEMENTS {
        run(vec![push.to_vec(), b"queue".to_vec(), element(i)]);
    }
    // The sub-keys of the elements at the end they were pushed to, the newest first.
    let db = shared.db(b"", 0);
    let record = db.lookup(b"queue").unwrap().expect("the list");
    let collection = record.meta.collection.as_ref().expect("a collection");
    let prefix = db.sub_prefix(b"queue", collection.version);
    let index = |n: u64| if pop == b"LPOP" { collection.head + n } else { collection.tail - 1 - n };
    let newest = |n: u64| sub_key(&prefix, &index(n).to_be_bytes());
    let cached = |from: u64, to: u64| (from..to).filter(|&n| shared.storage.sub_key_cached(&newest(n))).count();
    assert_eq!(cached(0, AHEAD + 1), 0, "the newest elements found the cache full");

    let last = ELEMENTS - 1;
    assert_eq!(run(vec![pop.to_vec(), b"queue".to_vec()]), Reply::Bulk(Bytes::from(element(last))));
    assert!(!shared.storage.sub_key_cached(&newest(0)), "the popped element left the cache");
    assert_eq!(cached(1, AHEAD + 1), AHEAD as usize, "the next pops' elements were read ahead");
    for i in (0..last).rev() {
        assert_eq!(run(vec![pop.to_vec(), b"queue".to_vec()]), Reply::Bulk(Bytes::from(element(i))), "element {i}");
    }
    assert_eq!(run(vec![b"LLEN".to_vec(), b"queue".to_vec()]), Reply::Integer(0));
}
