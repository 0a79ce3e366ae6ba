//! Keyspace (generic) commands that work on whole keys of every type: DEL, UNLINK, EXISTS,
//! TYPE, TOUCH, RENAME, RENAMENX, COPY, MOVE. Expiry is in `expire.rs`, iteration in
//! `scan.rs`, introspection in `object.rs`.

use std::collections::HashSet;

use bytes::Bytes;
use redrock_protocol::Reply;

use super::args::{is, parse_i64};
use super::spec::{acl, flag, key_flags, CommandSpec, Group, KeySpec};
use super::Ctx;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::types::list;

/// Tips of the commands that take any number of keys and sum a count over shards.
const MULTI_SHARD_SUM: &[&str] = &["request_policy:multi_shard", "response_policy:agg_sum"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, Group::Generic, del)
        .flags(flag::WRITE)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::range(1, -1, 1, key_flags::RM_DELETE)])
        .tips(MULTI_SHARD_SUM)
        .doc(
            "1.0.0",
            "Delete a key",
            "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        ),
    CommandSpec::new("unlink", -2, Group::Generic, del)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::range(1, -1, 1, key_flags::RM_DELETE)])
        .tips(MULTI_SHARD_SUM)
        .doc(
            "4.0.0",
            "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
            "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        ),
    CommandSpec::new("exists", -2, Group::Generic, exists)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::range(1, -1, 1, key_flags::RO)])
        .tips(MULTI_SHARD_SUM)
        .doc("1.0.0", "Determine if a key exists", "O(N) where N is the number of keys to check."),
    CommandSpec::new("touch", -2, Group::Generic, exists)
        .flags(flag::READONLY | flag::FAST)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::range(1, -1, 1, key_flags::RO)])
        .tips(MULTI_SHARD_SUM)
        .doc(
            "3.2.1",
            "Alters the last access time of a key(s). Returns the number of existing keys specified.",
            "O(N) where N is the number of keys that will be touched.",
        ),
    CommandSpec::new("type", 2, Group::Generic, type_)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::single(1, key_flags::RO)])
        .doc("1.0.0", "Determine the type stored at key", "O(1)"),
    CommandSpec::new("rename", 3, Group::Generic, rename)
        .flags(flag::WRITE)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_DELETE), KeySpec::single(2, key_flags::OW_UPDATE)])
        .doc("1.0.0", "Rename a key", "O(1)"),
    CommandSpec::new("renamenx", 3, Group::Generic, renamenx)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_DELETE), KeySpec::single(2, &["OW", "insert"])])
        .doc("1.0.0", "Rename a key, only if the new key does not exist", "O(1)"),
    CommandSpec::new("copy", -3, Group::Generic, copy)
        .flags(flag::WRITE | flag::DENYOOM | flag::LOCKS_ALL_KEYS)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS), KeySpec::single(2, key_flags::OW_UPDATE)])
        .doc(
            "6.2.0",
            "Copy a key",
            "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        ),
    CommandSpec::new("move", 3, Group::Generic, move_)
        .flags(flag::WRITE | flag::FAST | flag::LOCKS_ALL_KEYS)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::single(1, &["RW", "access", "update"])])
        .doc("1.0.0", "Move a key to another database", "O(1)"),
];

/// DEL and UNLINK (both O(1) per key here: sub-keys are left to the compaction filter).
/// A key named twice is deleted, and counted, once.
fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let mut batch = db.storage.batch();
    let mut seen = HashSet::with_capacity(args.len() - 1);
    let mut deleted = 0;
    let mut forgettable = list::Forgettable::default();
    for key in &args[1..] {
        if !seen.insert(&key[..]) {
            continue;
        }
        if let Some(record) = db.lookup(key)? {
            list::forget_deleted(&db, &mut batch, key, &record.meta, &mut forgettable);
            db.delete_in(&mut batch, key);
            deleted += 1;
        }
    }
    db.storage.write(batch)?;
    Ok(Reply::Integer(deleted))
}

/// EXISTS and TOUCH: the number of named keys that exist, a key named twice counted twice.
/// TOUCH has nothing else to do: no access time is kept (see OBJECT IDLETIME).
fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let mut found = 0;
    for key in &args[1..] {
        if db.lookup(key)?.is_some() {
            found += 1;
        }
    }
    Ok(Reply::Integer(found))
}

fn type_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let name = match ctx.db().lookup_read(&args[1], &ctx.shared.stats)? {
        Some(record) => record.meta.key_type.name(),
        None => "none",
    };
    Ok(Reply::Simple(Bytes::from_static(name.as_bytes())))
}

fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let renamed = rename_generic(&ctx.db(), &args[1], &args[2], false)?;
    // A list or sorted set moved into place serves clients blocked on the new name (a value
    // of another type wakes nobody: see blocking.rs).
    ctx.signal_key_ready(&args[2]);
    Ok(match renamed {
        true => Reply::ok(),
        false => Reply::Integer(0),
    })
}

fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let renamed = rename_generic(&ctx.db(), &args[1], &args[2], true)?;
    if renamed {
        ctx.signal_key_ready(&args[2]);
    }
    Ok(Reply::Integer(renamed as i64))
}

/// Redis's `renameGenericCommand`: a missing source is `ERR no such key` (even when both
/// names are equal); renaming a key to itself does nothing; the TTL moves with the value.
/// Returns whether the key was renamed (or, for the same name, whether RENAME succeeds).
fn rename_generic(db: &Db<'_>, src: &[u8], dst: &[u8], nx: bool) -> Result<bool> {
    let Some(record) = db.lookup(src)? else {
        return Err(Error::NoSuchKey);
    };
    if src == dst {
        return Ok(!nx);
    }
    if nx && db.lookup(dst)?.is_some() {
        return Ok(false);
    }
    let mut batch = db.storage.batch();
    // Overwriting dst's metadata record retires its old sub-keys (their version dies with it).
    db.copy_in(&mut batch, src, &record, db, dst)?;
    db.delete_in(&mut batch, src);
    db.storage.write(batch)?;
    Ok(true)
}

/// `COPY source destination [DB destination-db] [REPLACE]`.
fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let mut replace = false;
    let mut dst_index = ctx.client.db;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "replace") {
            replace = true;
        } else if is(&args[i], "db") && i + 1 < args.len() {
            dst_index = parse_db_index(ctx, &args[i + 1])?;
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let src = ctx.db();
    let dst = ctx.shared.db(&ctx.client.namespace, dst_index);
    let (key, new_key) = (&args[1], &args[2]);
    if src.index == dst.index && key == new_key {
        return Err(Error::err("source and destination objects are the same"));
    }
    let Some(record) = src.lookup(key)? else {
        return Ok(Reply::Integer(0));
    };
    if !replace && dst.lookup(new_key)?.is_some() {
        return Ok(Reply::Integer(0));
    }
    let mut batch = src.storage.batch();
    src.copy_in(&mut batch, key, &record, &dst, new_key)?;
    src.storage.write(batch)?;
    ctx.shared.blocking.signal(&ctx.client.namespace, dst_index, new_key);
    Ok(Reply::Integer(1))
}

/// `MOVE key db`: 1 if moved, 0 if the key is missing or the destination holds it already.
fn move_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let dst_index = parse_db_index(ctx, &args[2])?;
    let src = ctx.db();
    let dst = ctx.shared.db(&ctx.client.namespace, dst_index);
    if src.index == dst.index {
        return Err(Error::err("source and destination objects are the same"));
    }
    let key = &args[1];
    let Some(record) = src.lookup(key)? else {
        return Ok(Reply::Integer(0));
    };
    if dst.lookup(key)?.is_some() {
        return Ok(Reply::Integer(0));
    }
    let mut batch = src.storage.batch();
    src.copy_in(&mut batch, key, &record, &dst, key)?;
    src.delete_in(&mut batch, key);
    src.storage.write(batch)?;
    ctx.shared.blocking.signal(&ctx.client.namespace, dst_index, key);
    Ok(Reply::Integer(1))
}

/// A logical database index as COPY and MOVE read it: Redis's `getIntFromObjectOrReply`
/// (an integer, then the range of a C `int`), then `ERR DB index is out of range` outside
/// `0..databases`.
fn parse_db_index(ctx: &Ctx<'_>, arg: &[u8]) -> Result<usize> {
    let index = parse_i64(arg)?;
    if i32::try_from(index).is_err() {
        return Err(Error::err("value is out of range, value must between -2147483648 and 2147483647"));
    }
    if index < 0 || index >= ctx.shared.databases as i64 {
        return Err(Error::DbIndexOutOfRange);
    }
    Ok(index as usize)
}

#[cfg(test)]
mod tests {
    use super::super::spec::{acl, flag};
    use super::super::table;

    /// Name, arity, flags, legacy (first, last, step), ACL categories.
    type Info = (&'static str, i32, &'static str, (i32, i32, i32), &'static str);

    /// `COMMAND INFO` of Redis 7.0.15 for the generic family.
    const REDIS: &[Info] = &[
        ("copy", -3, "write denyoom", (1, 2, 1), "@keyspace @write @slow"),
        ("del", -2, "write", (1, -1, 1), "@keyspace @write @slow"),
        ("exists", -2, "readonly fast", (1, -1, 1), "@keyspace @read @fast"),
        ("expire", -3, "write fast", (1, 1, 1), "@keyspace @write @fast"),
        ("expireat", -3, "write fast", (1, 1, 1), "@keyspace @write @fast"),
        ("pexpire", -3, "write fast", (1, 1, 1), "@keyspace @write @fast"),
        ("pexpireat", -3, "write fast", (1, 1, 1), "@keyspace @write @fast"),
        ("expiretime", 2, "readonly fast", (1, 1, 1), "@keyspace @read @fast"),
        ("pexpiretime", 2, "readonly fast", (1, 1, 1), "@keyspace @read @fast"),
        ("persist", 2, "write fast", (1, 1, 1), "@keyspace @write @fast"),
        ("ttl", 2, "readonly fast", (1, 1, 1), "@keyspace @read @fast"),
        ("pttl", 2, "readonly fast", (1, 1, 1), "@keyspace @read @fast"),
        ("keys", 2, "readonly", (0, 0, 0), "@keyspace @read @slow @dangerous"),
        ("move", 3, "write fast", (1, 1, 1), "@keyspace @write @fast"),
        ("randomkey", 1, "readonly", (0, 0, 0), "@keyspace @read @slow"),
        ("rename", 3, "write", (1, 2, 1), "@keyspace @write @slow"),
        ("renamenx", 3, "write fast", (1, 2, 1), "@keyspace @write @fast"),
        ("scan", -2, "readonly", (0, 0, 0), "@keyspace @read @slow"),
        ("touch", -2, "readonly fast", (1, -1, 1), "@keyspace @read @fast"),
        ("type", 2, "readonly fast", (1, 1, 1), "@keyspace @read @fast"),
        ("unlink", -2, "write fast", (1, -1, 1), "@keyspace @write @fast"),
        ("object", -2, "", (0, 0, 0), "@slow"),
        ("object|encoding", 3, "readonly", (2, 2, 1), "@keyspace @read @slow"),
        ("object|freq", 3, "readonly", (2, 2, 1), "@keyspace @read @slow"),
        ("object|idletime", 3, "readonly", (2, 2, 1), "@keyspace @read @slow"),
        ("object|refcount", 3, "readonly", (2, 2, 1), "@keyspace @read @slow"),
        ("object|help", 2, "loading stale", (0, 0, 0), "@keyspace @slow"),
    ];

    #[test]
    fn the_table_matches_redis_command_info() {
        for &(name, arity, flags, range, categories) in REDIS {
            let spec = match name.split_once('|') {
                Some((container, sub)) => {
                    table::lookup_subcommand(table::lookup(container.as_bytes()).unwrap(), sub.as_bytes()).unwrap()
                }
                None => table::lookup(name.as_bytes()).unwrap(),
            };
            assert_eq!(spec.arity, arity, "{name}");
            let shown: Vec<&str> = flag::NAMES.iter().filter(|(f, _)| spec.flags & f != 0).map(|(_, n)| *n).collect();
            assert_eq!(shown.join(" "), flags, "{name}");
            assert_eq!(spec.legacy_range(), (range, false), "{name}");
            let cats = spec.acl_categories();
            let shown: Vec<String> =
                acl::NAMES.iter().filter(|(c, _)| cats & c != 0).map(|(_, n)| format!("@{n}")).collect();
            assert_eq!(shown.join(" "), categories, "{name}");
        }
    }
}
