//! The set type: one sub-key per member (`member -> empty`), the member count in the
//! metadata. Membership is one point read (SISMEMBER) or a batched point read (SMISMEMBER,
//! SADD, SREM); the algebra (SINTER, SUNION, SDIFF) iterates only what it must.

use std::collections::BTreeSet;

use super::collection::{self, CompactEncoding, Live};
use crate::db::Db;
use crate::error::Result;
use crate::storage::{Batch, Cf, KeyType};

/// Redis 7.0's `set-max-intset-entries` default: a set of at most this many integers is an
/// intset, which SSCAN returns in one call.
pub const INTSET: CompactEncoding = CompactEncoding { max_entries: 512, element: intset_element };

fn intset_element(member: &[u8], _: &[u8]) -> bool {
    redrock_protocol::string2ll(member).is_some()
}

/// The live set at `key`; `WRONGTYPE` if `key` holds another type.
pub fn lookup(db: &Db<'_>, key: &[u8]) -> Result<Option<Live>> {
    collection::lookup(db, key, KeyType::Set)
}

/// Adds `members`; returns how many were not there.
pub fn add(db: &Db<'_>, key: &[u8], members: &[&[u8]]) -> Result<u64> {
    let mut live = collection::open_for_write(db, key, KeyType::Set)?;
    let sub_keys = live.sub_keys(members.iter().copied());
    let existed = live.contains_keys(db, &sub_keys)?;
    let mut batch = db.storage.batch();
    let mut added: super::SeenMembers = Default::default();
    for ((sub_key, member), existed) in sub_keys.into_iter().zip(members).zip(existed) {
        if !existed && added.insert(member) {
            batch.put(Cf::SubKeys, sub_key, b"");
        }
    }
    if added.is_empty() {
        return Ok(0);
    }
    live.add_size(added.len() as i64);
    live.write_meta(db, &mut batch, key);
    db.storage.write(batch)?;
    Ok(added.len() as u64)
}

/// Removes `members`; returns how many were there. The set goes with its last member.
pub fn remove(db: &Db<'_>, key: &[u8], members: &[&[u8]]) -> Result<u64> {
    let Some(mut live) = lookup(db, key)? else {
        return Ok(0);
    };
    let sub_keys = live.sub_keys(members.iter().copied());
    let existed = live.contains_keys(db, &sub_keys)?;
    let mut batch = db.storage.batch();
    let mut removed: super::SeenMembers = Default::default();
    for ((sub_key, member), existed) in sub_keys.into_iter().zip(members).zip(existed) {
        if existed && removed.insert(member) {
            batch.delete(Cf::SubKeys, sub_key);
        }
    }
    if removed.is_empty() {
        return Ok(0);
    }
    live.add_size(-(removed.len() as i64));
    live.write_meta(db, &mut batch, key);
    db.storage.write(batch)?;
    Ok(removed.len() as u64)
}

/// Removes `members` (distinct, known to be in `live`) in `batch`, keeping the size exact.
/// Removing them all deletes only the metadata record, as DEL does: the orphaned sub-keys
/// are invisible and the compaction filter drops them, so SPOP of a whole set is O(1) writes.
pub fn remove_known_in(db: &Db<'_>, batch: &mut Batch<'_>, key: &[u8], live: &mut Live, members: &[Vec<u8>]) {
    if (members.len() as u64) < live.size() {
        for member in members {
            batch.delete(Cf::SubKeys, live.sub_key(member));
        }
    }
    live.add_size(-(members.len() as i64));
    live.write_meta(db, batch, key);
}

/// Whether `member` is in the set at `key`: one point read.
pub fn is_member(db: &Db<'_>, key: &[u8], member: &[u8]) -> Result<bool> {
    match lookup(db, key)? {
        Some(live) => Ok(live.get(db, member)?.is_some()),
        None => Ok(false),
    }
}

/// Every member of `live`, in sub-key order.
pub fn members(db: &Db<'_>, live: &Live) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(live.size().min(1 << 16) as usize);
    live.for_each(db, b"", |member, _| {
        out.push(member.to_vec());
        true
    })?;
    Ok(out)
}

/// SMOVE: whether `member` moved from `src` to `dst` (checks in Redis's order: a missing
/// source wins over a wrongly typed destination).
pub fn move_member(db: &Db<'_>, src: &[u8], dst: &[u8], member: &[u8]) -> Result<bool> {
    let Some(mut src_live) = lookup(db, src)? else {
        return Ok(false);
    };
    let dst_live = lookup(db, dst)?;
    if src == dst {
        return Ok(src_live.get(db, member)?.is_some());
    }
    if src_live.get(db, member)?.is_none() {
        return Ok(false);
    }
    let mut batch = db.storage.batch();
    remove_known_in(db, &mut batch, src, &mut src_live, &[member.to_vec()]);
    let mut dst_live = match dst_live {
        Some(live) => live,
        None => collection::new_collection(db, dst, KeyType::Set),
    };
    if dst_live.is_new || dst_live.get(db, member)?.is_none() {
        batch.put(Cf::SubKeys, dst_live.sub_key(member), b"");
        dst_live.add_size(1);
        dst_live.write_meta(db, &mut batch, dst);
    }
    db.storage.write(batch)?;
    Ok(true)
}

/// Replaces whatever `dst` holds by a set of `members` (a new incarnation), or deletes `dst`
/// when `members` is empty, in `batch`.
pub fn store_in(db: &Db<'_>, batch: &mut Batch<'_>, dst: &[u8], members: &BTreeSet<Vec<u8>>) -> Result<()> {
    if members.is_empty() {
        db.delete_if_exists_in(batch, dst)?;
        return Ok(());
    }
    let mut live = collection::new_collection(db, dst, KeyType::Set);
    for member in members {
        batch.put(Cf::SubKeys, live.sub_key(member), b"");
    }
    live.add_size(members.len() as i64);
    live.write_meta(db, batch, dst);
    Ok(())
}

/// The sets at `keys` (a missing key is an empty set, `None`); `WRONGTYPE` on any other type.
pub fn lookup_all(db: &Db<'_>, keys: &[&[u8]]) -> Result<Vec<Option<Live>>> {
    keys.iter().map(|k| lookup(db, k)).collect()
}

/// SINTER: the members of the smallest set that every other set holds, stopping after
/// `limit` members (0 = no limit). Membership in the others is a batched point read per
/// chunk of candidates, so the cost is O(smallest × sets).
pub fn intersection(db: &Db<'_>, sets: &[Option<Live>], limit: u64) -> Result<Vec<Vec<u8>>> {
    /// Candidates checked against the other sets per batched read.
    const CHUNK: usize = 256;
    let mut live: Vec<&Live> = Vec::with_capacity(sets.len());
    for set in sets {
        match set {
            Some(set) => live.push(set),
            None => return Ok(Vec::new()),
        }
    }
    live.sort_by_key(|l| l.size());
    let Some((smallest, others)) = live.split_first() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut from: Vec<u8> = Vec::new();
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut next_from = None;
        smallest.for_each(db, &from, |member, _| {
            if chunk.len() == CHUNK {
                next_from = Some(member.to_vec());
                return false;
            }
            chunk.push(member.to_vec());
            true
        })?;
        let mut keep = vec![true; chunk.len()];
        for other in others {
            let found = other.multi_contains(db, chunk.iter().map(|m| &m[..]))?;
            for (k, f) in keep.iter_mut().zip(found) {
                *k &= f;
            }
        }
        for (member, k) in chunk.into_iter().zip(keep) {
            if k {
                out.push(member);
                if limit != 0 && out.len() as u64 >= limit {
                    return Ok(out);
                }
            }
        }
        match next_from {
            Some(next) => from = next,
            None => return Ok(out),
        }
    }
}

/// SUNION: every member of every set.
pub fn union(db: &Db<'_>, sets: &[Option<Live>]) -> Result<BTreeSet<Vec<u8>>> {
    let mut out = BTreeSet::new();
    for set in sets.iter().flatten() {
        set.for_each(db, b"", |member, _| {
            if !out.contains(member) {
                out.insert(member.to_vec());
            }
            true
        })?;
    }
    Ok(out)
}

/// SDIFF: the members of the first set that no other set holds (batched point reads into
/// the others).
pub fn difference(db: &Db<'_>, sets: &[Option<Live>]) -> Result<BTreeSet<Vec<u8>>> {
    let Some(Some(first)) = sets.first() else {
        return Ok(BTreeSet::new());
    };
    let mut out: BTreeSet<Vec<u8>> = members(db, first)?.into_iter().collect();
    for other in sets[1..].iter().flatten() {
        if out.is_empty() {
            break;
        }
        let candidates: Vec<&Vec<u8>> = out.iter().collect();
        let found = other.multi_contains(db, candidates.iter().map(|m| &m[..]))?;
        let gone: Vec<Vec<u8>> =
            candidates.into_iter().zip(found).filter(|(_, f)| *f).map(|(m, _)| m.clone()).collect();
        for member in gone {
            out.remove(&member);
        }
    }
    Ok(out)
}
