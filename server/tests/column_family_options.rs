//! The options RocksDB saves for each column family (its `OPTIONS-*` file): what storage/mod.rs
//! sets there is tuning no reply shows, so these tests read it back.

mod common;

use redrock::storage::{Storage, StorageOptions};

use common::scratch;

/// The newest options file of a database just opened and closed.
fn saved_options() -> String {
    let dir = scratch("column-family-options");
    drop(Storage::open(dir.path(), &StorageOptions::default()).expect("open storage"));
    let options_file = std::fs::read_dir(dir.path().join("db"))
        .expect("the database folder")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("OPTIONS-")))
        .max()
        .expect("RocksDB saved its options");
    std::fs::read_to_string(options_file).expect("readable options")
}

/// The lines of `section` (as `CFOptions "metadata"`), up to the next section.
fn section<'a>(options: &'a str, section: &str) -> &'a str {
    let header = format!("[{section}]");
    let start = options.find(&header).unwrap_or_else(|| panic!("no {header} in the options"));
    let body = &options[start + header.len()..];
    &body[..body.find("\n[").unwrap_or(body.len())]
}

/// A landing writes its records in key order for RocksDB's memtable insertion hints
/// (storage/mod.rs, `MEMTABLE_INSERT_HINTS`), which RocksDB's C API cannot set: they go
/// through its options string, and the options it saves must show them for every column
/// family, or every insertion searches the skiplist from the top again.
#[test]
fn every_column_family_reuses_the_previous_insertions_splice() {
    let options = saved_options();
    let families = options.matches("[CFOptions ").count();
    let hinted = options.matches("memtable_insert_with_hint_prefix_extractor=rocksdb.FixedPrefix.0").count();
    assert!(families >= 4, "metadata, members, scores and internal records: {families} column families");
    assert_eq!(hinted, families, "every column family has the hint extractor");
}

/// Metadata and members are point-read (GET, HGET, and the existence checks of HSET and
/// SADD), so their memtables and SST files carry bloom filters; the sorted sets' score index
/// is only iterated, and carries none.
#[test]
fn only_point_read_families_carry_bloom_filters() {
    let options = saved_options();
    for (family, filtered) in [("metadata", true), ("default", true), ("zset_score", false)] {
        let memtable = section(&options, &format!("CFOptions \"{family}\""));
        let table = section(&options, &format!("TableOptions/BlockBasedTable \"{family}\""));
        assert_eq!(memtable.contains("memtable_whole_key_filtering=true"), filtered, "{family}'s memtable filter");
        assert_eq!(table.contains("filter_policy=bloomfilter"), filtered, "{family}'s SST filter");
        assert!(table.contains("filter_policy="), "{family}'s table options name their filter policy");
    }
}

/// Data blocks are `rocksdb-block-size` (16 KB by default, storage/mod.rs's `table_options`),
/// in every family.
#[test]
fn every_family_writes_blocks_of_the_configured_size() {
    let options = saved_options();
    for family in ["metadata", "default", "zset_score", "internal"] {
        let table = section(&options, &format!("TableOptions/BlockBasedTable \"{family}\""));
        assert!(table.contains("\n  block_size=16384\n"), "{family}'s blocks: {table}");
    }
}
