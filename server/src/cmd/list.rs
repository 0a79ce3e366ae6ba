//! List commands, blocking ones included (their waiting is in `blocking.rs`).

use bytes::Bytes;
use redrock_protocol::{Aggregate, Reply};

use super::args::{is, parse_i64};
use super::spec::{acl, flag, key_flags, BeginSearch, CommandSpec, FindKeys, Group, KeySpec};
use super::Ctx;
use crate::blocking::parse_timeout;
use crate::error::{Error, Result};
use crate::types::list::{normalize_range, End, List};

const RW_DELETE: &[&str] = &["RW", "delete"];

/// Source then destination, as LMOVE and its relatives declare them.
const MOVE_KEYS: &[KeySpec] =
    &[KeySpec::single(1, key_flags::RW_ACCESS_DELETE), KeySpec::single(2, key_flags::RW_INSERT)];

/// `numkeys key [key ...]` with numkeys at `index`.
const fn keynum_keys(index: i32) -> [KeySpec; 1] {
    [KeySpec {
        flags: key_flags::RW_ACCESS_DELETE,
        begin: BeginSearch::Index(index),
        find: FindKeys::KeyNum { num_keys_index: 0, first_key: 1, step: 1 },
    }]
}
const LMPOP_KEYS: [KeySpec; 1] = keynum_keys(1);
const BLMPOP_KEYS: [KeySpec; 1] = keynum_keys(2);

const PUSH_COMPLEXITY: &str =
    "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.";
const MPOP_COMPLEXITY: &str = "O(N+M) where N is the number of provided keys and M is the number of elements returned.";
const MOVE_SUMMARY: &str =
    "Pop an element from a list, push it to another list and return it; or block until one is available";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("blmove", 6, Group::List, blmove)
        .flags(flag::WRITE | flag::DENYOOM | flag::NOSCRIPT | flag::BLOCKING)
        .acl(acl::LIST)
        .keys(MOVE_KEYS)
        .doc("6.2.0", MOVE_SUMMARY, "O(1)"),
    CommandSpec::new("blmpop", -5, Group::List, blmpop)
        .flags(flag::WRITE | flag::BLOCKING)
        .acl(acl::LIST)
        .keys(&BLMPOP_KEYS)
        .doc("7.0.0", "Pop elements from a list, or block until one is available", MPOP_COMPLEXITY),
    CommandSpec::new("blpop", -3, Group::List, blpop)
        .flags(flag::WRITE | flag::NOSCRIPT | flag::BLOCKING)
        .acl(acl::LIST)
        .keys(&[KeySpec::range(1, -2, 1, key_flags::RW_ACCESS_DELETE)])
        .doc(
            "2.0.0",
            "Remove and get the first element in a list, or block until one is available",
            "O(N) where N is the number of provided keys.",
        ),
    CommandSpec::new("brpop", -3, Group::List, brpop)
        .flags(flag::WRITE | flag::NOSCRIPT | flag::BLOCKING)
        .acl(acl::LIST)
        .keys(&[KeySpec::range(1, -2, 1, key_flags::RW_ACCESS_DELETE)])
        .doc(
            "2.0.0",
            "Remove and get the last element in a list, or block until one is available",
            "O(N) where N is the number of provided keys.",
        ),
    CommandSpec::new("brpoplpush", 4, Group::List, brpoplpush)
        .deprecated("6.2.0", "`BLMOVE` with the `RIGHT` and `LEFT` arguments")
        .flags(flag::WRITE | flag::DENYOOM | flag::NOSCRIPT | flag::BLOCKING)
        .acl(acl::LIST)
        .keys(MOVE_KEYS)
        .doc("2.2.0", MOVE_SUMMARY, "O(1)"),
    CommandSpec::new("lindex", 3, Group::List, lindex)
        .flags(flag::READONLY)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc(
            "1.0.0",
            "Get an element from a list by its index",
            "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
        ),
    CommandSpec::new("linsert", 5, Group::List, linsert)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, key_flags::RW_INSERT)])
        .doc(
            "2.2.0",
            "Insert an element before or after another element in a list",
            "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
        ),
    CommandSpec::new("llen", 2, Group::List, llen)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, key_flags::RO)])
        .doc("1.0.0", "Get the length of a list", "O(1)"),
    CommandSpec::new("lmove", 5, Group::List, lmove)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::LIST)
        .keys(MOVE_KEYS)
        .doc("6.2.0", "Pop an element from a list, push it to another list and return it", "O(1)"),
    CommandSpec::new("lmpop", -4, Group::List, lmpop)
        .flags(flag::WRITE)
        .acl(acl::LIST)
        .keys(&LMPOP_KEYS)
        .doc("7.0.0", "Pop elements from a list", MPOP_COMPLEXITY),
    CommandSpec::new("lpop", -2, Group::List, lpop)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_DELETE)])
        .doc("1.0.0", "Remove and get the first elements in a list", "O(N) where N is the number of elements returned"),
    CommandSpec::new("lpos", -3, Group::List, lpos)
        .flags(flag::READONLY)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc(
            "6.0.6",
            "Return the index of matching elements on a list",
            "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
        ),
    CommandSpec::new("lpush", -3, Group::List, lpush)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, key_flags::RW_INSERT)])
        .doc("1.0.0", "Prepend one or multiple elements to a list", PUSH_COMPLEXITY),
    CommandSpec::new("lpushx", -3, Group::List, lpushx)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, key_flags::RW_INSERT)])
        .doc("2.2.0", "Prepend an element to a list, only if the list exists", PUSH_COMPLEXITY),
    CommandSpec::new("lrange", 4, Group::List, lrange)
        .flags(flag::READONLY)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc(
            "1.0.0",
            "Get a range of elements from a list",
            "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
        ),
    CommandSpec::new("lrem", 4, Group::List, lrem)
        .flags(flag::WRITE)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, RW_DELETE)])
        .doc(
            "1.0.0",
            "Remove elements from a list",
            "O(N+M) where N is the length of the list and M is the number of elements removed.",
        ),
    CommandSpec::new("lset", 4, Group::List, lset)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, key_flags::RW_UPDATE)])
        .doc(
            "1.0.0",
            "Set the value of an element in a list by its index",
            "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
        ),
    CommandSpec::new("ltrim", 4, Group::List, ltrim)
        .flags(flag::WRITE)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, RW_DELETE)])
        .doc(
            "1.0.0",
            "Trim a list to the specified range",
            "O(N) where N is the number of elements to be removed by the operation.",
        ),
    CommandSpec::new("rpop", -2, Group::List, rpop)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_DELETE)])
        .doc("1.0.0", "Remove and get the last elements in a list", "O(N) where N is the number of elements returned"),
    CommandSpec::new("rpoplpush", 3, Group::List, rpoplpush)
        .deprecated("6.2.0", "`LMOVE` with the `RIGHT` and `LEFT` arguments")
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::LIST)
        .keys(MOVE_KEYS)
        .doc("1.2.0", "Remove the last element in a list, prepend it to another list and return it", "O(1)"),
    CommandSpec::new("rpush", -3, Group::List, rpush)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, key_flags::RW_INSERT)])
        .doc("1.0.0", "Append one or multiple elements to a list", PUSH_COMPLEXITY),
    CommandSpec::new("rpushx", -3, Group::List, rpushx)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::LIST)
        .keys(&[KeySpec::single(1, key_flags::RW_INSERT)])
        .doc("2.2.0", "Append an element to a list, only if the list exists", PUSH_COMPLEXITY),
];

// ---- argument parsing, with Redis's texts ----

/// `getPositiveLongFromObjectOrReply`: a non-negative i64; any failure (not a number
/// included) replies `msg`, by default Redis's "must be positive".
fn parse_non_negative(arg: &[u8], msg: Option<&str>) -> Result<u64> {
    match parse_i64(arg) {
        Ok(value) if value >= 0 => Ok(value as u64),
        _ => Err(Error::err(msg.unwrap_or("value is out of range, must be positive"))),
    }
}

/// `getRangeLongFromObjectOrReply(1, LONG_MAX, msg)`: a positive i64, `msg` on any failure.
fn parse_positive(arg: &[u8], msg: &str) -> Result<u64> {
    match parse_i64(arg) {
        Ok(value) if value >= 1 => Ok(value as u64),
        _ => Err(Error::err(msg)),
    }
}

fn parse_end(arg: &[u8]) -> Result<End> {
    End::parse(arg).ok_or(Error::Syntax)
}

// ---- push ----

fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    push(ctx, args, End::Left, false)
}

fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    push(ctx, args, End::Right, false)
}

fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    push(ctx, args, End::Left, true)
}

fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    push(ctx, args, End::Right, true)
}

/// LPUSH/RPUSH, and with `only_existing` LPUSHX/RPUSHX.
fn push(ctx: &mut Ctx<'_>, args: &[Bytes], end: End, only_existing: bool) -> Result<Reply> {
    let db = ctx.db();
    let key = &args[1];
    let (mut list, created) = match List::load(&db, key)? {
        Some(list) => (list, false),
        None if only_existing => return Ok(Reply::Integer(0)),
        None => (List::create(&db, key), true),
    };
    let mut batch = db.storage.batch();
    for value in &args[2..] {
        list.push(&mut batch, end, value);
    }
    list.finish(&db, &mut batch);
    db.storage.write(batch)?;
    if created {
        ctx.signal_key_ready(key);
    }
    Ok(Reply::Integer(list.len() as i64))
}

// ---- pop ----

fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    pop(ctx, args, End::Left)
}

fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    pop(ctx, args, End::Right)
}

/// LPOP/RPOP `key [count]`: a bulk without count, an array with it.
fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> Result<Reply> {
    if args.len() > 3 {
        return Err(Error::WrongArity(String::from_utf8_lossy(&args[0]).to_ascii_lowercase()));
    }
    let count = match args.get(2) {
        Some(arg) => Some(parse_non_negative(arg, None)?),
        None => None,
    };
    let db = ctx.db();
    let Some(mut list) = List::load(&db, &args[1])? else {
        return Ok(if count.is_some() { Reply::NullArray } else { Reply::Null });
    };
    if count == Some(0) {
        return Ok(Reply::Array(Vec::new()));
    }
    let mut batch = db.storage.batch();
    let popped = list.pop(&db, &mut batch, end, count.unwrap_or(1))?;
    list.finish(&db, &mut batch);
    db.storage.write(batch)?;
    Ok(match count {
        Some(_) => Reply::bulk_array(popped),
        None => popped.into_iter().next().map_or(Reply::Null, Reply::Bulk),
    })
}

/// Pops up to `count` from the first non-empty list of `keys`: `Some(reply)` with
/// `[key, element]` (`count` None, BLPOP) or `[key, [elements]]` (LMPOP), `None` if every
/// list is empty. Re-run for a blocked client, a key of another type counts as empty.
fn pop_first(ctx: &Ctx<'_>, keys: &[Bytes], end: End, count: Option<u64>) -> Result<Option<Reply>> {
    let db = ctx.db();
    for key in keys {
        let list = match List::load(&db, key) {
            Err(Error::WrongType) if ctx.serving_blocked() => continue,
            loaded => loaded?,
        };
        let Some(mut list) = list else { continue };
        let mut batch = db.storage.batch();
        let popped = list.pop(&db, &mut batch, end, count.unwrap_or(1))?;
        list.finish(&db, &mut batch);
        db.storage.write(batch)?;
        let key = Reply::Bulk(key.clone());
        return Ok(Some(match count {
            Some(_) => Reply::Array(vec![key, Reply::bulk_array(popped)]),
            None => Reply::Array(vec![key, popped.into_iter().next().map_or(Reply::Null, Reply::Bulk)]),
        }));
    }
    Ok(None)
}

fn blpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    blocking_pop(ctx, args, End::Left)
}

fn brpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    blocking_pop(ctx, args, End::Right)
}

/// BLPOP/BRPOP `key [key ...] timeout`.
fn blocking_pop(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> Result<Reply> {
    let deadline = parse_timeout(&args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    if let Some(reply) = pop_first(ctx, keys, end, None)? {
        return Ok(reply);
    }
    Ok(ctx.block(keys, deadline, Reply::NullArray))
}

/// `numkeys key [key ...] LEFT|RIGHT [COUNT count]` from `args[at]` on: keys, end, count.
fn parse_mpop(args: &[Bytes], at: usize) -> Result<(&[Bytes], End, u64)> {
    let numkeys = parse_positive(&args[at], "numkeys should be greater than 0")?;
    let end_at = (at as u64).saturating_add(numkeys).saturating_add(1);
    if end_at >= args.len() as u64 {
        return Err(Error::Syntax);
    }
    let end_at = end_at as usize;
    let end = parse_end(&args[end_at])?;
    let mut count = None;
    let mut i = end_at + 1;
    while i < args.len() {
        if count.is_none() && is(&args[i], "count") && i + 1 < args.len() {
            count = Some(parse_positive(&args[i + 1], "count should be greater than 0")?);
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok((&args[at + 1..end_at], end, count.unwrap_or(1)))
}

fn lmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let (keys, end, count) = parse_mpop(args, 1)?;
    Ok(pop_first(ctx, keys, end, Some(count))?.unwrap_or(Reply::NullArray))
}

/// BLMPOP `timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]` (the timeout is read last).
fn blmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let (keys, end, count) = parse_mpop(args, 2)?;
    let deadline = parse_timeout(&args[1])?;
    if let Some(reply) = pop_first(ctx, keys, end, Some(count))? {
        return Ok(reply);
    }
    Ok(ctx.block(keys, deadline, Reply::NullArray))
}

// ---- move ----

fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let (from, to) = (parse_end(&args[3])?, parse_end(&args[4])?);
    Ok(move_element(ctx, &args[1], &args[2], from, to)?.unwrap_or(Reply::Null))
}

fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(move_element(ctx, &args[1], &args[2], End::Right, End::Left)?.unwrap_or(Reply::Null))
}

fn blmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let (from, to) = (parse_end(&args[3])?, parse_end(&args[4])?);
    let deadline = parse_timeout(&args[5])?;
    blocking_move(ctx, args, from, to, deadline)
}

fn brpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let deadline = parse_timeout(&args[3])?;
    blocking_move(ctx, args, End::Right, End::Left, deadline)
}

fn blocking_move(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    from: End,
    to: End,
    deadline: Option<std::time::Instant>,
) -> Result<Reply> {
    if let Some(reply) = move_element(ctx, &args[1], &args[2], from, to)? {
        return Ok(reply);
    }
    Ok(ctx.block(&args[1..2], deadline, Reply::Null))
}

/// Pops from `src` at `from` and pushes onto `dst` at `to`, in one batch; the element, or
/// `None` if `src` is empty. Re-run for a blocked client, a source of another type counts
/// as empty (a destination of another type is still WRONGTYPE, as in Redis).
fn move_element(ctx: &Ctx<'_>, src: &[u8], dst: &[u8], from: End, to: End) -> Result<Option<Reply>> {
    let db = ctx.db();
    let source = match List::load(&db, src) {
        Err(Error::WrongType) if ctx.serving_blocked() => return Ok(None),
        loaded => loaded?,
    };
    let Some(mut source) = source else {
        return Ok(None);
    };
    let mut batch = db.storage.batch();
    let mut created = false;
    let value = if src == dst {
        let value = source.pop(&db, &mut batch, from, 1)?.remove(0);
        source.push(&mut batch, to, &value);
        source.finish(&db, &mut batch);
        value
    } else {
        let mut destination = match List::load(&db, dst)? {
            Some(list) => list,
            None => {
                created = true;
                List::create(&db, dst)
            }
        };
        let value = source.pop(&db, &mut batch, from, 1)?.remove(0);
        destination.push(&mut batch, to, &value);
        source.finish(&db, &mut batch);
        destination.finish(&db, &mut batch);
        value
    };
    db.storage.write(batch)?;
    if created {
        ctx.signal_key_ready(dst);
    }
    Ok(Some(Reply::Bulk(value)))
}

// ---- reads ----

fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(List::load(&ctx.db(), &args[1])?.map_or(0, |list| list.len() as i64)))
}

fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let Some(list) = List::load(&db, &args[1])? else {
        return Ok(Reply::Null);
    };
    let index = parse_i64(&args[2])?;
    Ok(list.get(&db, index)?.map_or(Reply::Null, Reply::Bulk))
}

fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let (start, stop) = (parse_i64(&args[2])?, parse_i64(&args[3])?);
    let db = ctx.db();
    let Some(list) = List::load(&db, &args[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(match normalize_range(list.len(), start, stop) {
        Some((from, count)) => Reply::Bulks(Aggregate::Array, list.range_reply(&db, from, count)?),
        None => Reply::Array(Vec::new()),
    })
}

/// LPOS `key element [RANK rank] [COUNT num-matches] [MAXLEN len]`.
fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    // Redis 7.0 reads RANK as any long and negates it in C: -LONG_MIN stays LONG_MIN, which
    // then matches the first element from the tail. Wrapping arithmetic keeps that.
    let (mut rank, mut count, mut maxlen): (i64, Option<u64>, u64) = (1, None, 0);
    let mut i = 3;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if is(&args[i], "rank") && has_value {
            rank = parse_i64(&args[i + 1])?;
            if rank == 0 {
                return Err(Error::err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if is(&args[i], "count") && has_value {
            count = Some(parse_non_negative(&args[i + 1], Some("COUNT can't be negative"))?);
        } else if is(&args[i], "maxlen") && has_value {
            maxlen = parse_non_negative(&args[i + 1], Some("MAXLEN can't be negative"))?;
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let db = ctx.db();
    let Some(list) = List::load(&db, &args[1])? else {
        return Ok(if count.is_some() { Reply::Array(Vec::new()) } else { Reply::Null });
    };
    let len = list.len();
    let scanned = if maxlen == 0 { len } else { maxlen.min(len) };
    let start = if from_tail { len - scanned } else { 0 };
    let element = &args[2][..];
    let mut matches: i64 = 0;
    let mut found: Vec<i64> = Vec::new();
    list.scan(&db, start, scanned, from_tail, |pos, value| {
        if value != element {
            return true;
        }
        matches = matches.wrapping_add(1);
        if matches < rank {
            return true;
        }
        found.push(pos as i64);
        match count {
            None => false,
            Some(0) => true,
            Some(count) => (matches.wrapping_sub(rank).wrapping_add(1) as u64) < count,
        }
    })?;
    Ok(match count {
        Some(_) => Reply::Array(found.into_iter().map(Reply::Integer).collect()),
        None => found.first().map_or(Reply::Null, |&pos| Reply::Integer(pos)),
    })
}

// ---- in-place edits ----

fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let Some(list) = List::load(&db, &args[1])? else {
        return Err(Error::NoSuchKey);
    };
    let index = parse_i64(&args[2])?;
    let Some(pos) = list.position(index) else {
        return Err(Error::err("index out of range"));
    };
    let mut batch = db.storage.batch();
    list.set(&mut batch, pos, &args[3]);
    db.storage.write(batch)?;
    Ok(Reply::ok())
}

/// LINSERT `key BEFORE|AFTER pivot element`.
fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return Err(Error::Syntax);
    };
    let db = ctx.db();
    let Some(mut list) = List::load(&db, &args[1])? else {
        return Ok(Reply::Integer(0));
    };
    let mut batch = db.storage.batch();
    if !list.insert(&db, &mut batch, &args[3], &args[4], after)? {
        return Ok(Reply::Integer(-1));
    }
    list.finish(&db, &mut batch);
    db.storage.write(batch)?;
    Ok(Reply::Integer(list.len() as i64))
}

/// LREM `key count element`: count > 0 from the head, < 0 from the tail, 0 all.
fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let count = parse_i64(&args[2])?;
    let db = ctx.db();
    let Some(mut list) = List::load(&db, &args[1])? else {
        return Ok(Reply::Integer(0));
    };
    let mut batch = db.storage.batch();
    let removed = list.remove(&db, &mut batch, &args[3], count.unsigned_abs(), count < 0)?;
    if removed > 0 {
        list.finish(&db, &mut batch);
        db.storage.write(batch)?;
    }
    Ok(Reply::Integer(removed as i64))
}

fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let (start, stop) = (parse_i64(&args[2])?, parse_i64(&args[3])?);
    let db = ctx.db();
    let Some(mut list) = List::load(&db, &args[1])? else {
        return Ok(Reply::ok());
    };
    let (from, count) = normalize_range(list.len(), start, stop).unwrap_or((0, 0));
    let mut batch = db.storage.batch();
    list.trim(&mut batch, from, count);
    list.finish(&db, &mut batch);
    db.storage.write(batch)?;
    Ok(Reply::ok())
}
