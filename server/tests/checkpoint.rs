//! Backups: a checkpoint is a data folder of its own that a server can be started on, and it
//! holds what was written before it, not what came after.

use redrock::db::Db;
use redrock::storage::{Storage, StorageOptions};
use redrock::types::string;

#[test]
fn a_checkpoint_opens_as_a_data_folder_with_the_data_of_its_moment() {
    let scratch = tempfile::TempDir::with_prefix("redrock-checkpoint-").unwrap();
    let dir = scratch.path();
    let storage = Storage::open(dir, &StorageOptions::default()).unwrap();
    let db = Db { storage: &storage, ns: b"", index: 0 };
    string::put(&db, b"before", b"1", 0).unwrap();
    let folder = storage.checkpoint().unwrap();
    string::put(&db, b"after", b"2", 0).unwrap();
    for _ in 0..4 {
        storage.checkpoint().unwrap();
    }
    let kept = std::fs::read_dir(dir.join("checkpoints")).unwrap().count();
    assert_eq!(kept, redrock::storage::checkpoint::CHECKPOINTS_KEPT);
    drop(storage);

    // The oldest checkpoint was pruned; make a fresh one from a reopened database instead.
    assert!(!folder.exists());
    let storage = Storage::open(dir, &StorageOptions::default()).unwrap();
    let folder = storage.checkpoint().unwrap();
    drop(storage);
    let backup = Storage::open(&folder, &StorageOptions::default()).unwrap();
    let db = Db { storage: &backup, ns: b"", index: 0 };
    assert!(db.lookup(b"before").unwrap().is_some());
    assert!(db.lookup(b"after").unwrap().is_some());
    drop(backup);
}
