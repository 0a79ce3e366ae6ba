//! The storage layer against an in-memory model: random sequences of key-level operations
//! (string puts, collections with members, deletes, copies, expiry, flushes) applied to both,
//! then every observable answer compared; finally a full compaction must leave exactly the
//! live sub-keys on disk (the compaction filter drops every stale one and nothing else).

use std::collections::BTreeMap;

use proptest::prelude::*;
use redrock::db::Db;
use redrock::storage::encoding::sub_key;
use redrock::storage::{now_ms, Cf, KeyType, Metadata, Storage, StorageOptions};
use redrock::types::string;

const KEYS: &[&[u8]] = &[b"a", b"b", b"ab", b"", b"\xff"];

#[derive(Clone, Debug, PartialEq)]
enum Value {
    String(Vec<u8>),
    Set(Vec<Vec<u8>>),
}

#[derive(Clone, Debug)]
enum Op {
    PutString(usize, Vec<u8>),
    PutSet(usize, Vec<Vec<u8>>),
    Delete(usize),
    Copy(usize, usize),
    ExpireInPast(usize),
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    let bytes = proptest::collection::vec(any::<u8>(), 0..4);
    prop_oneof![
        (key.clone(), bytes.clone()).prop_map(|(k, v)| Op::PutString(k, v)),
        (key.clone(), proptest::collection::btree_set(bytes, 1..4))
            .prop_map(|(k, m)| Op::PutSet(k, m.into_iter().collect())),
        key.clone().prop_map(Op::Delete),
        (key.clone(), key.clone()).prop_map(|(a, b)| Op::Copy(a, b)),
        key.prop_map(Op::ExpireInPast),
        Just(Op::Flush),
    ]
}

/// Writes a set the way the set type does: metadata with a fresh version, one sub-key per member.
fn put_set(db: &Db<'_>, key: &[u8], members: &[Vec<u8>]) {
    let mut meta = Metadata::new_collection(KeyType::Set, db.storage.next_version());
    let version = meta.collection.unwrap().version;
    meta.collection.as_mut().unwrap().size = members.len() as u64;
    let prefix = db.sub_prefix(key, version);
    let mut batch = db.storage.batch();
    batch.put(Cf::Metadata, &db.meta_key(key), &meta.encode());
    for m in members {
        batch.put(Cf::SubKeys, &sub_key(&prefix, m), b"");
    }
    db.storage.write(batch).unwrap();
}

/// What the storage says `key` holds.
fn observe(db: &Db<'_>, key: &[u8]) -> Option<Value> {
    let record = db.lookup(key).unwrap()?;
    Some(match record.meta.key_type {
        KeyType::String => Value::String(record.string_value().to_vec()),
        KeyType::Set => {
            let prefix = db.sub_prefix(key, record.version().unwrap());
            let mut it = db.storage.iter_prefix(Cf::SubKeys, &prefix);
            it.seek(&prefix);
            let mut members = Vec::new();
            while let Some(k) = it.key() {
                members.push(k[prefix.len()..].to_vec());
                it.next();
            }
            assert_eq!(members.len() as u64, record.meta.collection.unwrap().size, "size of {key:?}");
            Value::Set(members)
        }
        other => panic!("unexpected type {other:?}"),
    })
}

fn count_sub_keys(storage: &Storage) -> usize {
    let mut it = storage.iter(Cf::SubKeys, b"", None);
    it.seek_to_first();
    let mut n = 0;
    while it.valid() {
        n += 1;
        it.next();
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn storage_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = std::env::temp_dir().join(format!("redrock-model-{}-{}", std::process::id(), rand_suffix()));
        let storage = Storage::open(&dir, &StorageOptions::default()).unwrap();
        let db = Db { storage: &storage, ns: b"", index: 0 };
        let mut model: BTreeMap<Vec<u8>, Value> = BTreeMap::new();
        for op in &ops {
            match op {
                Op::PutString(k, v) => {
                    string::put(&db, KEYS[*k], v, 0).unwrap();
                    model.insert(KEYS[*k].to_vec(), Value::String(v.clone()));
                }
                Op::PutSet(k, members) => {
                    put_set(&db, KEYS[*k], members);
                    model.insert(KEYS[*k].to_vec(), Value::Set(members.clone()));
                }
                Op::Delete(k) => {
                    let existed = db.delete(KEYS[*k]).unwrap();
                    prop_assert_eq!(existed, model.remove(KEYS[*k]).is_some());
                }
                Op::Copy(a, b) => {
                    if let Some(record) = db.lookup(KEYS[*a]).unwrap() {
                        let mut batch = storage.batch();
                        db.delete_in(&mut batch, KEYS[*b]);
                        db.copy_in(&mut batch, KEYS[*a], &record, &db, KEYS[*b]).unwrap();
                        storage.write(batch).unwrap();
                        let value = model[KEYS[*a]].clone();
                        model.insert(KEYS[*b].to_vec(), value);
                    }
                }
                Op::ExpireInPast(k) => {
                    if let Some(record) = db.lookup(KEYS[*k]).unwrap() {
                        let mut batch = storage.batch();
                        db.set_expire_in(&mut batch, KEYS[*k], &record, now_ms() - 1);
                        storage.write(batch).unwrap();
                        model.remove(KEYS[*k]);
                    }
                }
                Op::Flush => {
                    let mut batch = storage.batch();
                    db.flush_in(&mut batch).unwrap();
                    storage.write(batch).unwrap();
                    model.clear();
                }
            }
            for key in KEYS {
                prop_assert_eq!(observe(&db, key), model.get(*key).cloned(), "key {:?} after {:?}", key, op);
            }
        }
        prop_assert_eq!(db.size().unwrap(), model.len() as u64);
        let mut listed = Vec::new();
        db.for_each_key(b"", |k, _| { listed.push(k.to_vec()); true }).unwrap();
        prop_assert_eq!(listed, model.keys().cloned().collect::<Vec<_>>());

        storage.compact_all();
        let live: usize = model.values().map(|v| match v { Value::Set(m) => m.len(), Value::String(_) => 0 }).sum();
        prop_assert_eq!(count_sub_keys(&storage), live, "stale sub-keys left after compaction");
        drop(storage);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn flushing_a_large_database_uses_ranges_and_spares_the_others() {
    let dir = std::env::temp_dir().join(format!("redrock-flush-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let storage = Storage::open(&dir, &StorageOptions::default()).unwrap();
    let (db0, db1) = (Db { storage: &storage, ns: b"", index: 0 }, Db { storage: &storage, ns: b"", index: 1 });
    for db in [&db0, &db1] {
        for i in 0..(redrock::db::FLUSH_POINT_DELETES_MAX + 10) {
            string::put(db, format!("k{i}").as_bytes(), b"v", 0).unwrap();
        }
        put_set(db, b"set", &[b"m".to_vec()]);
    }
    let mut batch = storage.batch();
    db0.flush_in(&mut batch).unwrap();
    storage.write(batch).unwrap();
    assert_eq!(db0.size().unwrap(), 0);
    assert_eq!(db1.size().unwrap(), redrock::db::FLUSH_POINT_DELETES_MAX as u64 + 11);
    assert_eq!(observe(&db1, b"set"), Some(Value::Set(vec![b"m".to_vec()])));
    drop(storage);
    let _ = std::fs::remove_dir_all(&dir);
}
