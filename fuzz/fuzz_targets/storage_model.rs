//! The storage layer against an in-memory model (server/tests/common/storage_model.rs, shared
//! with the property test): libFuzzer's bytes become key-level operations applied to both;
//! any disagreement, or a stale sub-key left after a full compaction, is a crash.
//!
//! One RocksDB folder per process (under the temp dir, `redrock-fuzz-storage-model-<pid>`);
//! each input starts from an emptied database.

#![no_main]

#[path = "../../server/tests/common/storage_model.rs"]
mod storage_model;

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use redrock::db::Db;
use redrock::storage::{Storage, StorageOptions};
use storage_model::{Model, Op};

/// Most operations per input: the model's keys are few, longer runs add little.
const MAX_OPS: usize = 64;

fn storage() -> &'static Storage {
    static STORAGE: OnceLock<Storage> = OnceLock::new();
    STORAGE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("redrock-fuzz-storage-model-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Storage::open(&dir, &StorageOptions::default()).expect("open the fuzz storage")
    })
}

fuzz_target!(|data: &[u8]| {
    let db = Db { storage: storage(), ns: b"", index: 0 };
    let mut model = Model::default();
    model.apply(&db, &Op::Flush).expect("emptying the database");
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < MAX_OPS {
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        if let Err(e) = model.apply(&db, &op) {
            panic!("{e}\noperations: {ops:?} then {op:?}");
        }
        ops.push(op);
    }
    if let Err(e) = model.check_whole(&db) {
        panic!("{e}\noperations: {ops:?}");
    }
});
