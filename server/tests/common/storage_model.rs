//! The storage layer's model: key-level operations (string puts, collections with members,
//! deletes, copies, expiry, flushes) applied to a `Db` and to an in-memory map, every
//! observable answer compared after each. Shared by the property test
//! (server/tests/storage_model.rs) and the cargo-fuzz target `storage_model`.

#![allow(dead_code)]

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use redrock::db::Db;
use redrock::storage::encoding::sub_key;
use redrock::storage::{now_ms, Cf, KeyType, Metadata, Storage};
use redrock::types::string;

/// Few keys, so operations collide; the empty key and a 0xff byte test the encoding's edges.
pub const KEYS: &[&[u8]] = &[b"a", b"b", b"ab", b"", b"\xff"];
/// Longest value or member generated, in bytes.
pub const MAX_VALUE_BYTES: usize = 4;
/// Most members of a generated set.
pub const MAX_MEMBERS: usize = 4;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    Set(Vec<Vec<u8>>),
}

#[derive(Clone, Debug)]
pub enum Op {
    PutString(usize, Vec<u8>),
    /// Members sorted and distinct, at least one (an empty set does not exist).
    PutSet(usize, Vec<Vec<u8>>),
    Delete(usize),
    Copy(usize, usize),
    ExpireInPast(usize),
    Flush,
}

impl<'a> Arbitrary<'a> for Op {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Op> {
        let key = |u: &mut Unstructured<'a>| u.choose_index(KEYS.len());
        let bytes = |u: &mut Unstructured<'a>| -> arbitrary::Result<Vec<u8>> {
            let len = u.int_in_range(0..=MAX_VALUE_BYTES)?;
            u.bytes(len).map(<[u8]>::to_vec)
        };
        Ok(match u.int_in_range(0..=5u8)? {
            0 => Op::PutString(key(u)?, bytes(u)?),
            1 => {
                let k = key(u)?;
                let mut members = std::collections::BTreeSet::new();
                members.insert(bytes(u)?);
                for _ in 0..u.int_in_range(0..=MAX_MEMBERS - 1)? {
                    members.insert(bytes(u)?);
                }
                Op::PutSet(k, members.into_iter().collect())
            }
            2 => Op::Delete(key(u)?),
            3 => Op::Copy(key(u)?, key(u)?),
            4 => Op::ExpireInPast(key(u)?),
            _ => Op::Flush,
        })
    }
}

/// The model: what each key of the database holds.
#[derive(Default)]
pub struct Model(pub BTreeMap<Vec<u8>, Value>);

impl Model {
    /// Applies `op` to `db` and to the model, then compares every key.
    pub fn apply(&mut self, db: &Db<'_>, op: &Op) -> Result<(), String> {
        let storage = db.storage;
        match op {
            Op::PutString(k, v) => {
                string::put(db, KEYS[*k], v, 0).map_err(|e| e.to_string())?;
                self.0.insert(KEYS[*k].to_vec(), Value::String(v.clone()));
            }
            Op::PutSet(k, members) => {
                put_set(db, KEYS[*k], members);
                self.0.insert(KEYS[*k].to_vec(), Value::Set(members.clone()));
            }
            Op::Delete(k) => {
                let existed = db.delete(KEYS[*k]).map_err(|e| e.to_string())?;
                let modelled = self.0.remove(KEYS[*k]).is_some();
                if existed != modelled {
                    return Err(format!("DEL {:?}: storage says existed={existed}, model {modelled}", KEYS[*k]));
                }
            }
            Op::Copy(a, b) => {
                if let Some(record) = db.lookup(KEYS[*a]).map_err(|e| e.to_string())? {
                    let mut batch = storage.batch();
                    db.delete_in(&mut batch, KEYS[*b]);
                    db.copy_in(&mut batch, KEYS[*a], &record, db, KEYS[*b]).map_err(|e| e.to_string())?;
                    storage.write(batch).map_err(|e| e.to_string())?;
                    let value = self.0.get(KEYS[*a]).cloned().ok_or("copy of a key the model lacks")?;
                    self.0.insert(KEYS[*b].to_vec(), value);
                }
            }
            Op::ExpireInPast(k) => {
                if let Some(record) = db.lookup(KEYS[*k]).map_err(|e| e.to_string())? {
                    let mut batch = storage.batch();
                    db.set_expire_in(&mut batch, KEYS[*k], &record, now_ms() - 1);
                    storage.write(batch).map_err(|e| e.to_string())?;
                    self.0.remove(KEYS[*k]);
                }
            }
            Op::Flush => {
                let mut batch = storage.batch();
                db.flush_in(&mut batch).map_err(|e| e.to_string())?;
                storage.write(batch).map_err(|e| e.to_string())?;
                self.0.clear();
            }
        }
        for key in KEYS {
            let stored = observe(db, key);
            if stored != self.0.get(*key).cloned() {
                return Err(format!("key {key:?} after {op:?}: storage {stored:?}, model {:?}", self.0.get(*key)));
            }
        }
        Ok(())
    }

    /// The database as a whole: its size, its key walk, and after a full compaction exactly
    /// the live sub-keys (the compaction filter drops every stale one and nothing else).
    pub fn check_whole(&self, db: &Db<'_>) -> Result<(), String> {
        let size = db.size().map_err(|e| e.to_string())?;
        if size != self.0.len() as u64 {
            return Err(format!("size {size}, model {}", self.0.len()));
        }
        let mut listed = Vec::new();
        db.for_each_key(b"", |k, _| {
            listed.push(k.to_vec());
            true
        })
        .map_err(|e| e.to_string())?;
        if listed != self.0.keys().cloned().collect::<Vec<_>>() {
            return Err(format!("keys walked {listed:?}, model {:?}", self.0.keys()));
        }
        db.storage.compact_all();
        let live: usize = self.0.values().map(|v| if let Value::Set(m) = v { m.len() } else { 0 }).sum();
        let on_disk = count_sub_keys(db.storage);
        if on_disk != live {
            return Err(format!("{on_disk} sub-keys after compaction, {live} live"));
        }
        Ok(())
    }
}

/// Writes a set the way the set type does: metadata with a fresh version, one sub-key per member.
pub fn put_set(db: &Db<'_>, key: &[u8], members: &[Vec<u8>]) {
    let mut meta = Metadata::new_collection(KeyType::Set, db.storage.next_version());
    let version = meta.collection.unwrap().version;
    meta.collection.as_mut().unwrap().size = members.len() as u64;
    let prefix = db.sub_prefix(key, version);
    let mut batch = db.storage.batch();
    batch.put(Cf::Metadata, db.meta_key(key), meta.encode());
    for m in members {
        batch.put(Cf::SubKeys, sub_key(&prefix, m), b"");
    }
    db.storage.write(batch).unwrap();
}

/// What the storage says `key` holds.
pub fn observe(db: &Db<'_>, key: &[u8]) -> Option<Value> {
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

pub fn count_sub_keys(storage: &Storage) -> usize {
    let mut it = storage.iter(Cf::SubKeys, b"", None);
    it.seek_to_first();
    let mut n = 0;
    while it.valid() {
        n += 1;
        it.next();
    }
    n
}
