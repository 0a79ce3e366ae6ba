//! Strings: the bytes live in the metadata record itself (see storage/metadata.rs), so a GET
//! is one point read and a SET one put.

use crate::db::{Db, Record};
use crate::error::Result;
use crate::storage::metadata::encode_string;
use crate::storage::{Batch, Cf, KeyType};

/// Longest string Redis accepts (`proto-max-bulk-len` default, also the SETRANGE/APPEND cap).
pub const MAX_STRING_BYTES: usize = 512 * 1024 * 1024;

/// The value of string `key`; `WRONGTYPE` if `key` holds another type.
pub fn get(db: &Db<'_>, key: &[u8]) -> Result<Option<Record>> {
    db.lookup_typed(key, KeyType::String)
}

/// Writes `value` under `key` in `batch` with `expire_ms` (0 = none), replacing any type.
pub fn put_in(db: &Db<'_>, batch: &mut Batch<'_>, key: &[u8], value: &[u8], expire_ms: u64) {
    batch.put(Cf::Metadata, &db.meta_key(key), &encode_string(expire_ms, value));
}

/// Writes `value` under `key` at once.
pub fn put(db: &Db<'_>, key: &[u8], value: &[u8], expire_ms: u64) -> Result<()> {
    let mut batch = db.storage.batch();
    put_in(db, &mut batch, key, value, expire_ms);
    db.storage.write(batch)?;
    Ok(())
}
