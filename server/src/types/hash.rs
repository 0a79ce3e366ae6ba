//! The hash type: one sub-key per field (`field -> value`), the field count in the metadata.
//! Reading or writing one field is one point read (HGET, HEXISTS, HSTRLEN) or a batched
//! point read of the fields named (HMGET, HSET); only whole-hash commands iterate.

use super::collection::{self, CompactEncoding, Live};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::float::{self, IncrFloatError};
use crate::storage::{Cf, KeyType};

/// Redis 7.0's built-in `hash-max-listpack-entries` / `hash-max-listpack-value` defaults
/// (config.c says 512 entries; the sample redis.conf's 128 is not the default): within them
/// a hash is a listpack, which HSCAN returns in one call.
pub const LISTPACK: CompactEncoding = CompactEncoding { max_entries: 512, element: listpack_element };

fn listpack_element(field: &[u8], value: &[u8]) -> bool {
    const MAX_LISTPACK_VALUE_BYTES: usize = 64;
    field.len() <= MAX_LISTPACK_VALUE_BYTES && value.len() <= MAX_LISTPACK_VALUE_BYTES
}

/// The live hash at `key`; `WRONGTYPE` if `key` holds another type.
pub fn lookup(db: &Db<'_>, key: &[u8]) -> Result<Option<Live>> {
    collection::lookup(db, key, KeyType::Hash)
}

/// One field's value: one point read.
pub fn get(db: &Db<'_>, key: &[u8], field: &[u8]) -> Result<Option<Vec<u8>>> {
    match lookup(db, key)? {
        Some(live) => live.get(db, field),
        None => Ok(None),
    }
}

/// Sets `pairs` (later pairs win over earlier ones with the same field); with `only_new`,
/// fields that exist keep their value. Returns how many fields were created.
pub fn set(db: &Db<'_>, key: &[u8], pairs: &[(&[u8], &[u8])], only_new: bool) -> Result<u64> {
    let mut live = collection::open_for_write(db, key, KeyType::Hash)?;
    let sub_keys = live.sub_keys(pairs.iter().map(|p| p.0));
    let existed = live.contains_keys(db, &sub_keys)?;
    let mut batch = db.storage.batch();
    let mut created_fields: super::SeenMembers = Default::default();
    for ((sub_key, (field, value)), existed) in sub_keys.into_iter().zip(pairs).zip(existed) {
        // A field named twice is new once.
        let is_new = !existed && created_fields.insert(field);
        if only_new && !is_new {
            continue;
        }
        batch.put_read_for_presence(sub_key, &value[..]);
    }
    let created = created_fields.len() as u64;
    if batch.is_empty() {
        return Ok(0);
    }
    // Only new fields change the hash's record (its size): HSET of existing fields rewrote it
    // for nothing, a record to encode, defer, land and cache per command.
    if created > 0 {
        live.add_size(created as i64);
        live.write_meta(db, &mut batch, key);
    }
    db.storage.write(batch)?;
    Ok(created)
}

/// Deletes `fields`; returns how many existed. The hash goes with its last field.
pub fn delete(db: &Db<'_>, key: &[u8], fields: &[&[u8]]) -> Result<u64> {
    let Some(mut live) = lookup(db, key)? else {
        return Ok(0);
    };
    let sub_keys = live.sub_keys(fields.iter().copied());
    let existed = live.contains_keys(db, &sub_keys)?;
    let mut batch = db.storage.batch();
    let mut deleted: super::SeenMembers = Default::default();
    for ((sub_key, field), existed) in sub_keys.into_iter().zip(fields).zip(existed) {
        if existed && deleted.insert(field) {
            batch.delete(Cf::SubKeys, sub_key);
        }
    }
    if deleted.is_empty() {
        return Ok(0);
    }
    live.add_size(-(deleted.len() as i64));
    live.write_meta(db, &mut batch, key);
    db.storage.write(batch)?;
    Ok(deleted.len() as u64)
}

/// Writes `value` to `field` (one element, created or replaced) in one batch.
fn put_one(db: &Db<'_>, key: &[u8], mut live: Live, field: &[u8], value: &[u8], created: bool) -> Result<()> {
    let mut batch = db.storage.batch();
    batch.put(Cf::SubKeys, live.sub_key(field), value);
    if created {
        live.add_size(1);
        live.write_meta(db, &mut batch, key);
    }
    db.storage.write(batch)?;
    Ok(())
}

/// HINCRBY: the new value, with Redis's errors (checked in Redis's order).
pub fn incr_by(db: &Db<'_>, key: &[u8], field: &[u8], incr: i64) -> Result<i64> {
    let live = collection::open_for_write(db, key, KeyType::Hash)?;
    let current = if live.is_new { None } else { live.get(db, field)? };
    let old = match &current {
        Some(raw) => redrock_protocol::string2ll(raw).ok_or_else(|| Error::err("hash value is not an integer"))?,
        None => 0,
    };
    let new = old.checked_add(incr).ok_or(Error::Overflow)?;
    let mut digits = [0; redrock_protocol::I64_MAX_CHARS];
    put_one(db, key, live, field, redrock_protocol::write_i64(new, &mut digits), current.is_none())?;
    Ok(new)
}

/// HINCRBYFLOAT: computed in long double and printed as Redis prints it.
pub fn incr_by_float(db: &Db<'_>, key: &[u8], field: &[u8], incr: &[u8]) -> Result<Vec<u8>> {
    // The increment is checked before the key, as Redis does.
    match float::incr_long_double(None, incr) {
        Ok(_) => {}
        Err(IncrFloatError::NanOrInfinity) => return Err(Error::err("value is NaN or Infinity")),
        Err(_) => return Err(Error::NotFloat),
    }
    let live = collection::open_for_write(db, key, KeyType::Hash)?;
    let current = if live.is_new { None } else { live.get(db, field)? };
    let new = float::incr_long_double(Some(current.as_deref().unwrap_or(b"0")), incr).map_err(|e| match e {
        IncrFloatError::CurrentNotFloat => Error::err("hash value is not a float"),
        IncrFloatError::NanOrInfinity => Error::NanOrInfinity,
        IncrFloatError::IncrNotFloat => Error::NotFloat,
    })?;
    put_one(db, key, live, field, &new, current.is_none())?;
    Ok(new)
}
