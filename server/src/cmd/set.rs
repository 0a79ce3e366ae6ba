//! Set commands. Storage logic is in `types/set.rs`; SISMEMBER is one point read, SCARD reads
//! only the metadata record.

use std::collections::BTreeSet;

use bytes::Bytes;
use redrock_protocol::{Aggregate, Reply};

use super::hash::{parse_random_count, scan_reply, RW_DELETE};
use super::spec::{acl, flag, key_flags, BeginSearch, CommandSpec, FindKeys, Group, KeySpec};
use super::{args, Ctx};
use crate::error::{Error, Result};
use crate::types::set;
use crate::types::{collection, sample};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, Group::Set, sadd)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::SET)
        .keys(&[KeySpec::single(1, key_flags::RW_INSERT)])
        .doc("1.0.0", "Add one or more members to a set", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    CommandSpec::new("scard", 2, Group::Set, scard)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::SET)
        .keys(&[KeySpec::single(1, key_flags::RO)])
        .doc("1.0.0", "Get the number of members in a set", "O(1)"),
    CommandSpec::new("sdiff", -2, Group::Set, sdiff)
        .flags(flag::READONLY)
        .acl(acl::SET)
        .keys(&[KeySpec::range(1, -1, 1, key_flags::RO_ACCESS)])
        .tips(&["nondeterministic_output_order"])
        .doc("1.0.0", "Subtract multiple sets", "O(N) where N is the total number of elements in all given sets."),
    CommandSpec::new("sdiffstore", -3, Group::Set, sdiffstore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::SET)
        .keys(&[KeySpec::single(1, key_flags::OW_UPDATE), KeySpec::range(2, -1, 1, key_flags::RO_ACCESS)])
        .doc("1.0.0", "Subtract multiple sets and store the resulting set in a key", "O(N) where N is the total number of elements in all given sets."),
    CommandSpec::new("sinter", -2, Group::Set, sinter)
        .flags(flag::READONLY)
        .acl(acl::SET)
        .keys(&[KeySpec::range(1, -1, 1, key_flags::RO_ACCESS)])
        .tips(&["nondeterministic_output_order"])
        .doc("1.0.0", "Intersect multiple sets", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    CommandSpec::new("sintercard", -3, Group::Set, sintercard)
        .flags(flag::READONLY)
        .acl(acl::SET)
        .keys(&[KeySpec { flags: key_flags::RO_ACCESS, begin: BeginSearch::Index(1), find: FindKeys::KeyNum { num_keys_index: 0, first_key: 1, step: 1 } }])
        .doc("7.0.0", "Intersect multiple sets and return the cardinality of the result", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    CommandSpec::new("sinterstore", -3, Group::Set, sinterstore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::SET)
        .keys(&[KeySpec::single(1, key_flags::RW_UPDATE), KeySpec::range(2, -1, 1, key_flags::RO_ACCESS)])
        .doc("1.0.0", "Intersect multiple sets and store the resulting set in a key", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."),
    CommandSpec::new("sismember", 3, Group::Set, sismember)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::SET)
        .keys(&[KeySpec::single(1, key_flags::RO)])
        .doc("1.0.0", "Determine if a given value is a member of a set", "O(1)"),
    CommandSpec::new("smembers", 2, Group::Set, smembers)
        .flags(flag::READONLY)
        .acl(acl::SET)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .tips(&["nondeterministic_output_order"])
        .doc("1.0.0", "Get all the members in a set", "O(N) where N is the set cardinality."),
    CommandSpec::new("smismember", -3, Group::Set, smismember)
        .flags(flag::READONLY | flag::FAST)
        .acl(acl::SET)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc("6.2.0", "Returns the membership associated with the given elements for a set", "O(N) where N is the number of elements being checked for membership"),
    CommandSpec::new("smove", 4, Group::Set, smove)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::SET)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_DELETE), KeySpec::single(2, key_flags::RW_INSERT)])
        .doc("1.0.0", "Move a member from one set to another", "O(1)"),
    CommandSpec::new("spop", -2, Group::Set, spop)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::SET)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_DELETE)])
        .tips(&["nondeterministic_output"])
        .doc("1.0.0", "Remove and return one or multiple random members from a set", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count."),
    CommandSpec::new("srandmember", -2, Group::Set, srandmember)
        .flags(flag::READONLY)
        .acl(acl::SET)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .tips(&["nondeterministic_output"])
        .doc("1.0.0", "Get one or multiple random members from a set", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count."),
    CommandSpec::new("srem", -3, Group::Set, srem)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::SET)
        .keys(&[KeySpec::single(1, RW_DELETE)])
        .doc("1.0.0", "Remove one or more members from a set", "O(N) where N is the number of members to be removed."),
    CommandSpec::new("sscan", -3, Group::Set, sscan)
        .flags(flag::READONLY)
        .acl(acl::SET)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .tips(&["nondeterministic_output"])
        .doc("2.8.0", "Incrementally iterate Set elements", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
    CommandSpec::new("sunion", -2, Group::Set, sunion)
        .flags(flag::READONLY)
        .acl(acl::SET)
        .keys(&[KeySpec::range(1, -1, 1, key_flags::RO_ACCESS)])
        .tips(&["nondeterministic_output_order"])
        .doc("1.0.0", "Add multiple sets", "O(N) where N is the total number of elements in all given sets."),
    CommandSpec::new("sunionstore", -3, Group::Set, sunionstore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::SET)
        .keys(&[KeySpec::single(1, key_flags::OW_UPDATE), KeySpec::range(2, -1, 1, key_flags::RO_ACCESS)])
        .doc("1.0.0", "Add multiple sets and store the resulting set in a key", "O(N) where N is the total number of elements in all given sets."),
];

fn bulk(bytes: Vec<u8>) -> Reply {
    Reply::Bulk(Bytes::from(bytes))
}

fn members_reply(members: impl IntoIterator<Item = Vec<u8>>) -> Reply {
    Reply::Bulks(Aggregate::Set, members.into_iter().collect())
}

fn slices(args: &[Bytes]) -> Vec<&[u8]> {
    args.iter().map(|a| &a[..]).collect()
}

fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(set::add(&ctx.db(), &args[1], &slices(&args[2..]))? as i64))
}

fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(set::remove(&ctx.db(), &args[1], &slices(&args[2..]))? as i64))
}

fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(set::lookup(&ctx.db(), &args[1])?.map_or(0, |l| l.size() as i64)))
}

// One point read of the member's sub-key (after the metadata read that finds the version).
fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(set::is_member(&ctx.db(), &args[1], &args[2])? as i64))
}

fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let found = match set::lookup(&db, &args[1])? {
        Some(live) => live.multi_contains(&db, args[2..].iter().map(|m| &m[..]))?,
        None => vec![false; args.len() - 2],
    };
    Ok(Reply::Array(found.into_iter().map(|f| Reply::Integer(f as i64)).collect()))
}

fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    Ok(match set::lookup(&db, &args[1])? {
        Some(live) => members_reply(set::members(&db, &live)?),
        None => Reply::Set(Vec::new()),
    })
}

fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(set::move_member(&ctx.db(), &args[1], &args[2], &args[3])? as i64))
}

fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let sets = set::lookup_all(&db, &slices(&args[1..]))?;
    Ok(members_reply(set::intersection(&db, &sets, 0)?))
}

fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let sets = set::lookup_all(&db, &slices(&args[1..]))?;
    Ok(members_reply(set::union(&db, &sets)?))
}

fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let sets = set::lookup_all(&db, &slices(&args[1..]))?;
    Ok(members_reply(set::difference(&db, &sets)?))
}

/// Writes `members` as the new set at `dst` (deleting it when empty), one batch.
fn store(ctx: &Ctx<'_>, dst: &[u8], members: &BTreeSet<Vec<u8>>) -> Result<Reply> {
    let db = ctx.db();
    let mut batch = db.storage.batch();
    set::store_in(&db, &mut batch, dst, members)?;
    db.storage.write(batch)?;
    Ok(Reply::Integer(members.len() as i64))
}

fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let sets = set::lookup_all(&db, &slices(&args[2..]))?;
    let members = set::intersection(&db, &sets, 0)?.into_iter().collect();
    store(ctx, &args[1], &members)
}

fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let sets = set::lookup_all(&db, &slices(&args[2..]))?;
    let members = set::union(&db, &sets)?;
    store(ctx, &args[1], &members)
}

fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let sets = set::lookup_all(&db, &slices(&args[2..]))?;
    let members = set::difference(&db, &sets)?;
    store(ctx, &args[1], &members)
}

fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let numkeys = args::parse_i64(&args[1])
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::err("numkeys should be greater than 0"))? as u64;
    if numkeys > (args.len() - 2) as u64 {
        return Err(Error::err("Number of keys can't be greater than number of args"));
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut i = keys_end;
    while i < args.len() {
        if args::is(&args[i], "limit") && i + 1 < args.len() {
            limit = args::parse_i64(&args[i + 1])
                .ok()
                .filter(|&l| l >= 0)
                .ok_or_else(|| Error::err("LIMIT can't be negative"))? as u64;
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let db = ctx.db();
    let sets = set::lookup_all(&db, &slices(&args[2..keys_end]))?;
    Ok(Reply::Integer(set::intersection(&db, &sets, limit)?.len() as i64))
}

fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    if args.len() > 3 {
        return Err(Error::Syntax);
    }
    let db = ctx.db();
    if args.len() == 2 {
        let Some(mut live) = set::lookup(&db, &args[1])? else {
            return Ok(Reply::Null);
        };
        let Some((member, _)) = sample::random_element(&db, &live)? else {
            return Ok(Reply::Null);
        };
        let mut batch = db.storage.batch();
        set::remove_known_in(&db, &mut batch, &args[1], &mut live, std::slice::from_ref(&member));
        db.storage.write(batch)?;
        return Ok(bulk(member));
    }
    // Redis's getPositiveLongFromObjectOrReply: one text for "not a number" and "negative".
    let count = args::parse_i64(&args[2])
        .ok()
        .filter(|&c| c >= 0)
        .ok_or_else(|| Error::err("value is out of range, must be positive"))?;
    let Some(mut live) = set::lookup(&db, &args[1])? else {
        return Ok(Reply::Set(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::Set(Vec::new()));
    }
    let popped: Vec<Vec<u8>> = sample::random_picks(&db, &live, count)?.into_iter().map(|(m, _)| m).collect();
    let mut batch = db.storage.batch();
    set::remove_known_in(&db, &mut batch, &args[1], &mut live, &popped);
    db.storage.write(batch)?;
    Ok(members_reply(popped))
}

fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    if args.len() > 3 {
        return Err(Error::Syntax);
    }
    let db = ctx.db();
    if args.len() == 2 {
        let Some(live) = set::lookup(&db, &args[1])? else {
            return Ok(Reply::Null);
        };
        return Ok(sample::random_element(&db, &live)?.map(|(m, _)| bulk(m)).unwrap_or(Reply::Null));
    }
    let count = parse_random_count(&args[2])?;
    let Some(live) = set::lookup(&db, &args[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(Reply::Array(sample::random_picks(&db, &live, count)?.into_iter().map(|(m, _)| bulk(m)).collect()))
}

fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let cursor = collection::parse_cursor(&args[2])?;
    let db = ctx.db();
    let Some(live) = set::lookup(&db, &args[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let options = collection::parse_scan_options(&args[3..])?;
    let (next, found) = collection::scan(&db, &ctx.shared.scan_cursors, &live, cursor, &options, &set::INTSET)?;
    Ok(scan_reply(next, found.into_iter().map(|(m, _)| bulk(m)).collect()))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::spec::{acl, flag};
    use super::super::table;

    /// Name, arity, flags, legacy (first, last, step), movablekeys, ACL categories.
    type Info = (&'static str, i32, &'static str, (i32, i32, i32), bool, &'static str);

    /// `COMMAND INFO` of Redis 7.0.15 for the hash and set families.
    const REDIS: &[Info] = &[
        ("hdel", -3, "write fast", (1, 1, 1), false, "@write @hash @fast"),
        ("hexists", 3, "readonly fast", (1, 1, 1), false, "@read @hash @fast"),
        ("hget", 3, "readonly fast", (1, 1, 1), false, "@read @hash @fast"),
        ("hgetall", 2, "readonly", (1, 1, 1), false, "@read @hash @slow"),
        ("hincrby", 4, "write denyoom fast", (1, 1, 1), false, "@write @hash @fast"),
        ("hincrbyfloat", 4, "write denyoom fast", (1, 1, 1), false, "@write @hash @fast"),
        ("hkeys", 2, "readonly", (1, 1, 1), false, "@read @hash @slow"),
        ("hlen", 2, "readonly fast", (1, 1, 1), false, "@read @hash @fast"),
        ("hmget", -3, "readonly fast", (1, 1, 1), false, "@read @hash @fast"),
        ("hmset", -4, "write denyoom fast", (1, 1, 1), false, "@write @hash @fast"),
        ("hrandfield", -2, "readonly", (1, 1, 1), false, "@read @hash @slow"),
        ("hscan", -3, "readonly", (1, 1, 1), false, "@read @hash @slow"),
        ("hset", -4, "write denyoom fast", (1, 1, 1), false, "@write @hash @fast"),
        ("hsetnx", 4, "write denyoom fast", (1, 1, 1), false, "@write @hash @fast"),
        ("hstrlen", 3, "readonly fast", (1, 1, 1), false, "@read @hash @fast"),
        ("hvals", 2, "readonly", (1, 1, 1), false, "@read @hash @slow"),
        ("sadd", -3, "write denyoom fast", (1, 1, 1), false, "@write @set @fast"),
        ("scard", 2, "readonly fast", (1, 1, 1), false, "@read @set @fast"),
        ("sdiff", -2, "readonly", (1, -1, 1), false, "@read @set @slow"),
        ("sdiffstore", -3, "write denyoom", (1, -1, 1), false, "@write @set @slow"),
        ("sinter", -2, "readonly", (1, -1, 1), false, "@read @set @slow"),
        ("sintercard", -3, "readonly", (0, 0, 0), true, "@read @set @slow"),
        ("sinterstore", -3, "write denyoom", (1, -1, 1), false, "@write @set @slow"),
        ("sismember", 3, "readonly fast", (1, 1, 1), false, "@read @set @fast"),
        ("smembers", 2, "readonly", (1, 1, 1), false, "@read @set @slow"),
        ("smismember", -3, "readonly fast", (1, 1, 1), false, "@read @set @fast"),
        ("smove", 4, "write fast", (1, 2, 1), false, "@write @set @fast"),
        ("spop", -2, "write fast", (1, 1, 1), false, "@write @set @fast"),
        ("srandmember", -2, "readonly", (1, 1, 1), false, "@read @set @slow"),
        ("srem", -3, "write fast", (1, 1, 1), false, "@write @set @fast"),
        ("sscan", -3, "readonly", (1, 1, 1), false, "@read @set @slow"),
        ("sunion", -2, "readonly", (1, -1, 1), false, "@read @set @slow"),
        ("sunionstore", -3, "write denyoom", (1, -1, 1), false, "@write @set @slow"),
    ];

    fn sorted_words(text: &str) -> Vec<&str> {
        let mut words: Vec<&str> = text.split_whitespace().collect();
        words.sort_unstable();
        words
    }

    #[test]
    fn the_table_matches_redis_command_info() {
        for &(name, arity, flags, range, movable, categories) in REDIS {
            let spec = table::lookup(name.as_bytes()).unwrap();
            assert_eq!(spec.arity, arity, "{name}");
            let shown: Vec<&str> = flag::NAMES
                .iter()
                .filter(|(f, _)| spec.flags & f != 0 && *f != flag::MOVABLE_KEYS)
                .map(|(_, n)| *n)
                .collect();
            assert_eq!(shown.join(" "), flags, "{name}");
            assert_eq!(spec.legacy_range(), (range, movable), "{name}");
            let cats = spec.acl_categories();
            let shown: Vec<String> =
                acl::NAMES.iter().filter(|(c, _)| cats & c != 0).map(|(_, n)| format!("@{n}")).collect();
            assert_eq!(sorted_words(&shown.join(" ")), sorted_words(categories), "{name}");
        }
    }

    /// `COMMAND GETKEYS` of Redis 7.0.15.
    #[test]
    fn key_positions_match_redis_getkeys() {
        for (line, keys) in [
            ("sintercard 2 a b LIMIT 1", "a b"),
            ("smove a b m", "a b"),
            ("sdiffstore d a b c", "d a b c"),
            ("sunion a b c", "a b c"),
            ("hset h f v", "h"),
            ("sinterstore d a", "d a"),
        ] {
            let args: Vec<Bytes> = line.split(' ').map(|w| Bytes::copy_from_slice(w.as_bytes())).collect();
            let spec = table::lookup(&args[0]).unwrap();
            let found: Vec<&[u8]> = spec.key_positions(&args).into_iter().map(|i| &args[i][..]).collect();
            let expected: Vec<&[u8]> = keys.split(' ').map(str::as_bytes).collect();
            assert_eq!(found, expected, "{line}");
        }
    }
}
