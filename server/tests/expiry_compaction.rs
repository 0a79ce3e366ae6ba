//! What the compatibility harness cannot see from outside: expired and deleted data really
//! leaves the database. The active expiry cycle deletes expired metadata records, and the
//! compaction filter drops the sub-keys of collections that were deleted, overwritten or
//! expired, and the list elements that pops and trims left behind, while live ones stay.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use redrock::client::ClientState;
use redrock::config::Config;
use redrock::db::Db;
use redrock::dispatch::execute_alone;
use redrock::expire::{expire_some, Walk};
use redrock::shared::Shared;
use redrock::storage::encoding::sub_key;
use redrock::storage::metadata::encode_string;
use redrock::storage::{now_ms, Cf, KeyType, Metadata, Storage, StorageOptions};
use redrock_protocol::Reply;

use common::{scratch, TempDir};

fn open(dir: &TempDir) -> Shared {
    let storage = Storage::open(dir.path(), &StorageOptions::default()).expect("open storage");
    Shared::new(storage, Config::default()).expect("shared state")
}

#[test]
fn the_expiry_walk_rests_while_no_key_can_expire() {
    let dir = scratch("expiry-walk-rests");
    let shared = open(&dir);
    let db = shared.db(b"", 0);
    let put = |key: &[u8], expire_ms: u64| {
        let mut batch = shared.storage.batch();
        batch.put(Cf::Metadata, db.meta_key(key), encode_string(expire_ms, b"v"));
        shared.storage.write(batch).unwrap();
    };
    for i in 0..10 {
        put(format!("persistent:{i}").as_bytes(), 0);
    }
    let mut walk = Walk::default();
    assert!(walk.tick(&shared).unwrap(), "the first pass walks");
    assert!(!walk.tick(&shared).unwrap(), "a pass met no expiry: the walk rests");
    assert!(!walk.tick(&shared).unwrap(), "and goes on resting");

    put(b"expired", now_ms() - 1_000);
    assert!(walk.tick(&shared).unwrap(), "an expiry written wakes it");
    assert!(shared.storage.get(Cf::Metadata, &db.meta_key(b"expired")).unwrap().is_none(), "deleted");
    assert!(walk.tick(&shared).unwrap(), "that pass met an expiry: one more pass");
    assert!(!walk.tick(&shared).unwrap(), "none left: it rests again");

    put(b"later", now_ms() + 3_600_000);
    for _ in 0..3 {
        assert!(walk.tick(&shared).unwrap(), "a key that will expire keeps it walking");
    }
    assert!(db.lookup(b"later").unwrap().is_some());
}

/// Writes a collection of `key_type` under `key` with `members` as sub-keys (in `default`
/// and, for sorted sets, in `zset_score` too); returns its version.
fn write_collection(db: &Db<'_>, key_type: KeyType, key: &[u8], members: &[&[u8]], expire_ms: u64) -> u64 {
    let version = db.storage.next_version();
    let mut meta = Metadata::new_collection(key_type, version);
    meta.expire_ms = expire_ms;
    if let Some(c) = meta.collection.as_mut() {
        c.size = members.len() as u64;
    }
    let prefix = db.sub_prefix(key, version);
    let mut batch = db.storage.batch();
    batch.put(Cf::Metadata, db.meta_key(key), meta.encode());
    for member in members {
        batch.put(Cf::SubKeys, sub_key(&prefix, member), b"value");
        if key_type == KeyType::ZSet {
            batch.put(Cf::ZSetScore, sub_key(&prefix, member), b"");
        }
    }
    db.storage.write(batch).expect("write collection");
    version
}

/// Number of records of `cf` under the sub-key prefix of `key`'s incarnation `version`.
fn sub_keys(db: &Db<'_>, cf: Cf, key: &[u8], version: u64) -> usize {
    let prefix = db.sub_prefix(key, version);
    let mut it = db.storage.iter_prefix(cf, &prefix);
    it.seek(&prefix);
    let mut n = 0;
    while it.valid() {
        n += 1;
        it.next();
    }
    it.status().expect("iterate");
    n
}

#[test]
fn active_expiry_deletes_expired_metadata_records() {
    let dir = scratch("active-expiry");
    let shared = open(&dir);
    let db = shared.db(b"", 0);
    let past = now_ms() - 1_000;
    let future = now_ms() + 3_600_000;

    let mut batch = shared.storage.batch();
    batch.put(Cf::Metadata, db.meta_key(b"expired-string"), encode_string(past, b"v"));
    batch.put(Cf::Metadata, db.meta_key(b"live-string"), encode_string(future, b"v"));
    batch.put(Cf::Metadata, db.meta_key(b"persistent"), encode_string(0, b"v"));
    // More than one tick's worth and more than one batch's worth.
    for i in 0..3_000 {
        batch.put(Cf::Metadata, db.meta_key(format!("bulk:{i}").as_bytes()), encode_string(past, b"v"));
    }
    shared.storage.write(batch).unwrap();
    write_collection(&db, KeyType::Hash, b"expired-hash", &[b"f"], past);
    // Another database and namespace are walked too.
    let other = shared.db(b"tenant", 3);
    shared
        .storage
        .write({
            let mut b = shared.storage.batch();
            b.put(Cf::Metadata, other.meta_key(b"expired-elsewhere"), encode_string(past, b"v"));
            b
        })
        .unwrap();

    // Lazy expiry already hides them; the records are still there.
    assert!(db.lookup(b"expired-string").unwrap().is_none());
    assert!(shared.storage.get(Cf::Metadata, &db.meta_key(b"expired-string")).unwrap().is_some());

    let mut resume = Vec::new();
    loop {
        resume = expire_some(&shared, &resume).expect("expiry tick").resume;
        if resume.is_empty() {
            break;
        }
    }

    for gone in [&b"expired-string"[..], b"expired-hash"] {
        assert!(shared.storage.get(Cf::Metadata, &db.meta_key(gone)).unwrap().is_none(), "{gone:?} still stored");
    }
    assert!(shared.storage.get(Cf::Metadata, &other.meta_key(b"expired-elsewhere")).unwrap().is_none());
    for kept in [&b"live-string"[..], b"persistent"] {
        assert!(db.lookup(kept).unwrap().is_some(), "{kept:?} was deleted");
    }
    assert_eq!(shared.stats.expired_keys.load(std::sync::atomic::Ordering::Relaxed), 3_003);
    assert_eq!(db.size().unwrap(), 2);
}

#[test]
fn compaction_drops_sub_keys_of_deleted_overwritten_and_expired_collections() {
    let dir = scratch("compaction-filter");
    let shared = open(&dir);
    let db = shared.db(b"", 0);
    let members: &[&[u8]] = &[b"a", b"b", b"c", b"\x00\xff"];

    let deleted = write_collection(&db, KeyType::Hash, b"deleted", members, 0);
    let deleted_zset = write_collection(&db, KeyType::ZSet, b"deleted-zset", members, 0);
    let old = write_collection(&db, KeyType::Set, b"overwritten", members, 0);
    let new = write_collection(&db, KeyType::Set, b"overwritten", &[b"x"], 0);
    let expired = write_collection(&db, KeyType::List, b"expired", members, now_ms() - 1_000);
    let live = write_collection(&db, KeyType::ZSet, b"live", members, 0);
    // A string replacing a collection leaves its sub-keys behind too.
    let replaced = write_collection(&db, KeyType::Hash, b"replaced", members, 0);
    shared
        .storage
        .write({
            let mut b = shared.storage.batch();
            b.put(Cf::Metadata, db.meta_key(b"replaced"), encode_string(0, b"now a string"));
            b
        })
        .unwrap();

    assert!(db.delete(b"deleted").unwrap());
    assert!(db.delete(b"deleted-zset").unwrap());
    // Deletion is O(1): the sub-keys are still on disk until a compaction meets them.
    assert_eq!(sub_keys(&db, Cf::SubKeys, b"deleted", deleted), members.len());

    shared.storage.compact_all();

    assert_eq!(sub_keys(&db, Cf::SubKeys, b"deleted", deleted), 0);
    assert_eq!(sub_keys(&db, Cf::SubKeys, b"deleted-zset", deleted_zset), 0);
    assert_eq!(sub_keys(&db, Cf::ZSetScore, b"deleted-zset", deleted_zset), 0);
    assert_eq!(sub_keys(&db, Cf::SubKeys, b"overwritten", old), 0);
    assert_eq!(sub_keys(&db, Cf::SubKeys, b"overwritten", new), 1);
    assert_eq!(sub_keys(&db, Cf::SubKeys, b"expired", expired), 0);
    assert_eq!(sub_keys(&db, Cf::SubKeys, b"replaced", replaced), 0);
    assert_eq!(sub_keys(&db, Cf::SubKeys, b"live", live), members.len());
    assert_eq!(sub_keys(&db, Cf::ZSetScore, b"live", live), members.len());
}

#[test]
fn copies_are_new_incarnations_with_every_sub_key() {
    let dir = scratch("copy-in");
    let shared = open(&dir);
    let src_db = shared.db(b"", 0);
    let dst_db = shared.db(b"", 5);
    let members: &[&[u8]] = &[b"a", b"b", b"\x00\xff"];
    let version = write_collection(&src_db, KeyType::ZSet, b"src", members, now_ms() + 3_600_000);

    let record = src_db.lookup(b"src").unwrap().expect("live");
    let mut batch = shared.storage.batch();
    src_db.copy_in(&mut batch, b"src", &record, &dst_db, b"dst").unwrap();
    src_db.delete_in(&mut batch, b"src");
    shared.storage.write(batch).unwrap();

    let moved = dst_db.lookup(b"dst").unwrap().expect("copied");
    assert_eq!(moved.meta.key_type, KeyType::ZSet);
    assert_eq!(moved.meta.expire_ms, record.meta.expire_ms, "the TTL travels");
    let new_version = moved.version().unwrap();
    assert_ne!(new_version, version);
    assert_eq!(sub_keys(&dst_db, Cf::SubKeys, b"dst", new_version), members.len());
    assert_eq!(sub_keys(&dst_db, Cf::ZSetScore, b"dst", new_version), members.len());
    assert!(src_db.lookup(b"src").unwrap().is_none());

    shared.storage.compact_all();
    assert_eq!(sub_keys(&src_db, Cf::SubKeys, b"src", version), 0);
    assert_eq!(sub_keys(&dst_db, Cf::SubKeys, b"dst", new_version), members.len());
}

/// The elements of a list reply (LRANGE), or of a multi-pop's.
fn elements(reply: Reply) -> Vec<String> {
    match reply {
        Reply::Bulks(_, bulks) => bulks.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect(),
        Reply::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect(),
        other => panic!("not a list reply: {other:?}"),
    }
}

/// Pops, LREM and LTRIM leave the elements they drop to the compaction filter instead of
/// deleting them (types/list.rs): the list never shows them, compaction removes exactly them,
/// the indexes they held take new elements, and COPY carries only the live ones.
#[test]
fn list_elements_dropped_without_a_tombstone_stay_hidden_until_compaction_removes_them() {
    let dir = scratch("list-garbage");
    let shared = Arc::new(open(&dir));
    let handle = shared.clients.register("127.0.0.1:1".into(), "127.0.0.1:2".into());
    let mut client = ClientState::new(handle, true);
    let mut run =
        |args: &[&str]| execute_alone(&shared, &mut client, args.iter().map(|a| Bytes::from(a.to_string())).collect());
    let db = shared.db(b"", 0);
    let on_disk = |key: &[u8]| {
        let version = db.lookup(key).unwrap().expect("live list").version().unwrap();
        sub_keys(&db, Cf::SubKeys, key, version)
    };

    let pushed: Vec<String> = (0..12).map(|i| format!("e{i}")).collect();
    let mut rpush = vec!["RPUSH", "l"];
    rpush.extend(pushed.iter().map(String::as_str));
    assert_eq!(run(&rpush), Reply::Integer(12));
    assert_eq!(run(&["LPOP", "l"]), Reply::Bulk(Bytes::from("e0")));
    assert_eq!(elements(run(&["RPOP", "l", "2"])), ["e11", "e10"]);
    assert_eq!(run(&["LREM", "l", "1", "e5"]), Reply::Integer(1));
    assert_eq!(run(&["LTRIM", "l", "1", "-2"]), Reply::ok());
    let live = ["e2", "e3", "e4", "e6", "e7", "e8"];
    assert_eq!(elements(run(&["LRANGE", "l", "0", "-1"])), live);
    assert_eq!(on_disk(b"l"), pushed.len(), "what the list dropped waits for a compaction");

    shared.storage.compact_all();
    assert_eq!(on_disk(b"l"), live.len(), "compaction removed exactly the dropped elements");
    assert_eq!(elements(run(&["LRANGE", "l", "0", "-1"])), live);

    // Both ends grow back over indexes that held dropped elements.
    assert_eq!(run(&["LPUSH", "l", "a", "b", "c"]), Reply::Integer(9));
    assert_eq!(run(&["RPUSH", "l", "x", "y", "z"]), Reply::Integer(12));
    let grown = ["c", "b", "a", "e2", "e3", "e4", "e6", "e7", "e8", "x", "y", "z"];
    assert_eq!(elements(run(&["LRANGE", "l", "0", "-1"])), grown);
    assert_eq!(run(&["LINDEX", "l", "0"]), Reply::Bulk(Bytes::from("c")));
    assert_eq!(run(&["LINDEX", "l", "-1"]), Reply::Bulk(Bytes::from("z")));

    assert_eq!(elements(run(&["RPOP", "l", "4"])), ["z", "y", "x", "e8"]);
    assert_eq!(run(&["COPY", "l", "copy"]), Reply::Integer(1));
    assert_eq!(elements(run(&["LRANGE", "copy", "0", "-1"])), grown[..8]);
    assert_eq!(on_disk(b"copy"), 8, "a copy carries the live elements only");
    shared.storage.compact_all();
    assert_eq!(on_disk(b"l"), 8);
    assert_eq!(elements(run(&["LRANGE", "l", "0", "-1"])), grown[..8]);
}
