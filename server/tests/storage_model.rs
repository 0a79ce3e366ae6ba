//! The storage layer against an in-memory model (tests/common/storage_model.rs, shared with
//! the cargo-fuzz target `storage_model`): random sequences of key-level operations applied
//! to both, every observable answer compared; finally a full compaction must leave exactly
//! the live sub-keys on disk.

#[path = "common/storage_model.rs"]
mod storage_model;

use arbitrary::{Arbitrary, Unstructured};
use proptest::prelude::*;
use redrock::db::Db;
use redrock::storage::{Storage, StorageOptions};
use redrock::types::string;
use storage_model::{observe, put_set, Model, Op, Value};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn storage_matches_the_model(seed in proptest::collection::vec(any::<u8>(), 16..512)) {
        // The fuzz target's generator, fed by proptest's bytes: one description of the operations.
        let mut u = Unstructured::new(&seed);
        let mut ops = Vec::new();
        while !u.is_empty() && ops.len() < 40 {
            let Ok(op) = Op::arbitrary(&mut u) else { break };
            ops.push(op);
        }
        let dir = tempfile::TempDir::with_prefix("redrock-model-").unwrap();
        let storage = Storage::open(dir.path(), &StorageOptions::default()).unwrap();
        let db = Db { storage: &storage, ns: b"", index: 0 };
        let mut model = Model::default();
        for op in &ops {
            if let Err(e) = model.apply(&db, op) {
                prop_assert!(false, "{} (operations: {:?})", e, ops);
            }
        }
        if let Err(e) = model.check_whole(&db) {
            prop_assert!(false, "{} (operations: {:?})", e, ops);
        }
        drop(storage);
    }
}

#[test]
fn flushing_a_large_database_uses_ranges_and_spares_the_others() {
    let dir = tempfile::TempDir::with_prefix("redrock-flush-").unwrap();
    let storage = Storage::open(dir.path(), &StorageOptions::default()).unwrap();
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
}
