//! String commands. Each handler checks its arguments and the key's type in the order Redis
//! 7.0's `t_string.c` does, so a request with several faults gets Redis's error.

use bytes::Bytes;
use redrock_protocol::Reply;

use super::args::{c_str, parse_i64};
use super::spec::{acl, flag, key_flags, CommandSpec, Group, KeySpec};
use super::string_options::{self, expire_at_ms, ExpireKind, OptionsOf, StringOptions};
use super::Ctx;
use crate::error::{Error, Result};
use crate::storage::metadata::StringEncoding;
use crate::storage::{now_ms, Cf, KeyType};
use crate::types::lcs;
use crate::types::string::{self, Patch};

const O1: &str = "O(1)";
const RANGE_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("append", 3, Group::String, append)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RW_INSERT)])
        .doc("2.0.0", "Append a value to a key", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation."),
    CommandSpec::new("decr", 2, Group::String, decr)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE)])
        .doc("1.0.0", "Decrement the integer value of a key by one", O1),
    CommandSpec::new("decrby", 3, Group::String, decrby)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE)])
        .doc("1.0.0", "Decrement the integer value of a key by the given number", O1),
    CommandSpec::new("get", 2, Group::String, get)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc("1.0.0", "Get the value of a key", O1),
    CommandSpec::new("getdel", 2, Group::String, getdel)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_DELETE)])
        .doc("6.2.0", "Get the value of a key and delete the key", O1),
    CommandSpec::new("getex", -2, Group::String, getex)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE)])
        .key_notes(&["RW and UPDATE because it changes the TTL"])
        .doc("6.2.0", "Get the value of a key and optionally set its expiration", O1),
    CommandSpec::new("getrange", 4, Group::String, getrange)
        .flags(flag::READONLY | flag::POINT_READ)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc("2.4.0", "Get a substring of the string stored at a key", RANGE_COMPLEXITY),
    CommandSpec::new("getset", 3, Group::String, getset)
        .deprecated("6.2.0", "`SET` with the `!GET` argument")
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE)])
        .doc("1.0.0", "Set the string value of a key and return its old value", O1),
    CommandSpec::new("incr", 2, Group::String, incr)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE)])
        .doc("1.0.0", "Increment the integer value of a key by one", O1),
    CommandSpec::new("incrby", 3, Group::String, incrby)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE)])
        .doc("1.0.0", "Increment the integer value of a key by the given amount", O1),
    CommandSpec::new("incrbyfloat", 3, Group::String, incrbyfloat)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE)])
        .doc("2.6.0", "Increment the float value of a key by the given amount", O1),
    CommandSpec::new("lcs", -3, Group::String, lcs)
        .flags(flag::READONLY)
        .acl(acl::STRING)
        .keys(&[KeySpec::range(1, 1, 1, key_flags::RO_ACCESS)])
        .doc("7.0.0", "Find longest common substring", "O(N*M) where N and M are the lengths of s1 and s2, respectively"),
    CommandSpec::new("mget", -2, Group::String, mget)
        .flags(flag::READONLY | flag::FAST)
        .acl(acl::STRING)
        .keys(&[KeySpec::range(1, -1, 1, key_flags::RO_ACCESS)])
        .tips(&["request_policy:multi_shard"])
        .doc("1.0.0", "Get the values of all the given keys", "O(N) where N is the number of keys to retrieve."),
    CommandSpec::new("mset", -3, Group::String, mset)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::STRING)
        .keys(&[KeySpec::range(1, -1, 2, key_flags::OW_UPDATE)])
        .tips(&["request_policy:multi_shard", "response_policy:all_succeeded"])
        .doc("1.0.1", "Set multiple keys to multiple values", "O(N) where N is the number of keys to set."),
    CommandSpec::new("msetnx", -3, Group::String, msetnx)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::STRING)
        .keys(&[KeySpec::range(1, -1, 2, key_flags::OW_INSERT)])
        .tips(&["request_policy:multi_shard", "response_policy:agg_min"])
        .doc(
            "1.0.1",
            "Set multiple keys to multiple values, only if none of the keys exist",
            "O(N) where N is the number of keys to set.",
        ),
    CommandSpec::new("psetex", 4, Group::String, psetex)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::OW_UPDATE)])
        .doc("2.6.0", "Set the value and expiration in milliseconds of a key", O1),
    CommandSpec::new("set", -3, Group::String, set)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE_VARIABLE)])
        .key_notes(&["RW and ACCESS due to the optional `GET` argument"])
        .doc("1.0.0", "Set the string value of a key", O1),
    CommandSpec::new("setex", 4, Group::String, setex)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::OW_UPDATE)])
        .doc("2.0.0", "Set the value and expiration of a key", O1),
    CommandSpec::new("setnx", 3, Group::String, setnx)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::OW_INSERT)])
        .doc("1.0.0", "Set the value of a key, only if the key does not exist", O1),
    CommandSpec::new("setrange", 4, Group::String, setrange)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RW_UPDATE)])
        .doc("2.2.0", "Overwrite part of a string at key starting at the specified offset", "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument."),
    CommandSpec::new("strlen", 2, Group::String, strlen)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RO)])
        .doc("2.2.0", "Get the length of the value stored in a key", O1),
    CommandSpec::new("substr", 4, Group::String, getrange)
        .deprecated("2.0.0", "`GETRANGE`")
        .flags(flag::READONLY | flag::POINT_READ)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc("1.0.0", "Get a substring of the string stored at a key", RANGE_COMPLEXITY),
];

/// `proto-max-bulk-len`: the longest string APPEND and SETRANGE may build.
fn max_string_bytes(ctx: &Ctx<'_>) -> u64 {
    ctx.shared.config().get_u64("proto-max-bulk-len")
}

fn bulk_or_null(value: Option<Bytes>) -> Reply {
    value.map_or(Reply::Null, Reply::Bulk)
}

fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(bulk_or_null(string::get_read(&ctx.db(), &args[1], &ctx.shared.stats)?.map(string::value_of)))
}

/// What SET-like commands reply when they write, and when NX/XX stops them.
struct SetReplies {
    done: Reply,
    aborted: Reply,
}

/// SET and its variants (`setGenericCommand`): the expiry was validated by the caller; GET's
/// type check comes before NX/XX.
fn set_generic(
    ctx: &mut Ctx<'_>,
    (key, value): (&[u8], &[u8]),
    options: &StringOptions,
    expire_at_ms: Option<u64>,
    replies: SetReplies,
    now: u64,
) -> Result<Reply> {
    let db = ctx.db();
    // A plain SET overwrites blindly: one write, no read.
    let needs_old = options.get || options.nx || options.xx || options.keep_ttl;
    // GET reads the key as GET does (a keyspace hit or miss); the other options only check it.
    let old = match (needs_old, options.get) {
        (false, _) => None,
        (true, true) => db.lookup_read(key, &ctx.shared.stats)?,
        (true, false) => db.lookup(key)?,
    };
    let old_value = match &old {
        Some(record) if options.get && record.meta.key_type != KeyType::String => return Err(Error::WrongType),
        Some(record) if options.get => Some(Bytes::copy_from_slice(record.string_value())),
        _ => None,
    };
    let found = old.is_some();
    if (options.nx && found) || (options.xx && !found) {
        return Ok(if options.get { bulk_or_null(old_value) } else { replies.aborted });
    }
    let expire_ms = match (expire_at_ms, &old) {
        (Some(at), _) => at,
        (None, Some(record)) if options.keep_ttl => record.meta.expire_ms,
        _ => 0,
    };
    let mut batch = db.storage.batch();
    string::put_or_expire_in(&db, &mut batch, key, value, expire_ms, now);
    db.storage.write(batch)?;
    Ok(if options.get { bulk_or_null(old_value) } else { replies.done })
}

fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let options = string_options::parse(args, 3, OptionsOf::Set)?;
    let now = now_ms();
    let expire_at = match &options.expire {
        Some((kind, arg)) => Some(expire_at_ms(*kind, arg, "set", now)?),
        None => None,
    };
    let replies = SetReplies { done: Reply::ok(), aborted: Reply::Null };
    set_generic(ctx, (&args[1], &args[2]), &options, expire_at, replies, now)
}

fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let options = StringOptions { nx: true, ..StringOptions::default() };
    let replies = SetReplies { done: Reply::Integer(1), aborted: Reply::Integer(0) };
    set_generic(ctx, (&args[1], &args[2]), &options, None, replies, now_ms())
}

/// SETEX / PSETEX: `key ttl value`.
fn set_with_ttl(ctx: &mut Ctx<'_>, args: &[Bytes], kind: ExpireKind, command: &str) -> Result<Reply> {
    let now = now_ms();
    let expire_at = expire_at_ms(kind, &args[2], command, now)?;
    let replies = SetReplies { done: Reply::ok(), aborted: Reply::Null };
    set_generic(ctx, (&args[1], &args[3]), &StringOptions::default(), Some(expire_at), replies, now)
}

fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    set_with_ttl(ctx, args, ExpireKind::Ex, "setex")
}

fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    set_with_ttl(ctx, args, ExpireKind::Px, "psetex")
}

/// `GETEX key [EX|PX|EXAT|PXAT t | PERSIST]`: unlike SET, the expiry is validated only once
/// the key is known to exist and to be a string.
fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let options = string_options::parse(args, 2, OptionsOf::GetEx)?;
    let db = ctx.db();
    let key = &args[1];
    let Some(record) = string::get_read(&db, key, &ctx.shared.stats)? else {
        return Ok(Reply::Null);
    };
    let now = now_ms();
    let expire_at = match &options.expire {
        Some((kind, arg)) => Some(expire_at_ms(*kind, arg, "getex", now)?),
        None => None,
    };
    let mut batch = db.storage.batch();
    match expire_at {
        // Redis's checkAlreadyExpired (`when <= now`): GETEX deletes at once.
        Some(at) if at <= now => db.delete_in(&mut batch, key),
        Some(at) => db.set_expire_in(&mut batch, key, &record, at),
        None if options.persist && record.meta.expire_ms != 0 => db.set_expire_in(&mut batch, key, &record, 0),
        None => {}
    }
    db.storage.write(batch)?;
    Ok(Reply::Bulk(string::value_of(record)))
}

fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let Some(record) = string::get_read(&db, &args[1], &ctx.shared.stats)? else {
        return Ok(Reply::Null);
    };
    let mut batch = db.storage.batch();
    db.delete_in(&mut batch, &args[1]);
    db.storage.write(batch)?;
    Ok(Reply::Bulk(string::value_of(record)))
}

/// GETSET: the old value, and the new one without any expiry.
fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let old = string::get_read(&db, &args[1], &ctx.shared.stats)?;
    string::put(&db, &args[1], &args[2], 0)?;
    Ok(bulk_or_null(old.map(string::value_of)))
}

fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let start = parse_i64(&args[2])?;
    let end = parse_i64(&args[3])?;
    let Some(record) = string::get_read(&ctx.db(), &args[1], &ctx.shared.stats)? else {
        return Ok(Reply::Bulk(Bytes::new()));
    };
    Ok(Reply::Bulk(Bytes::copy_from_slice(string::range(record.string_value(), start, end))))
}

fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let len = string::get_read(&ctx.db(), &args[1], &ctx.shared.stats)?.map_or(0, |record| record.string_value().len());
    Ok(Reply::Integer(len as i64))
}

fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let (key, tail) = (&args[1], &args[2]);
    let Some(record) = string::get(&db, key)? else {
        string::put(&db, key, tail, 0)?;
        return Ok(Reply::Integer(tail.len() as i64));
    };
    string::check_length(record.string_value().len() as u64, tail.len() as u64, max_string_bytes(ctx))?;
    let mut patch = Patch::open(Some(record), 0);
    patch.append(tail);
    patch.write(&db, key)?;
    Ok(Reply::Integer(patch.value().len() as i64))
}

fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let (key, patch) = (&args[1], &args[3]);
    let offset = parse_i64(&args[2])?;
    if offset < 0 {
        return Err(Error::err("offset is out of range"));
    }
    let db = ctx.db();
    let record = string::get(&db, key)?;
    let current_len = record.as_ref().map_or(0, |r| r.string_value().len());
    // Writing nothing changes nothing, and creates no key.
    if patch.is_empty() {
        return Ok(Reply::Integer(current_len as i64));
    }
    let end = string::check_length(offset as u64, patch.len() as u64, max_string_bytes(ctx))? as usize;
    let mut value = Patch::open(record, end);
    value.value_mut()[offset as usize..end].copy_from_slice(patch);
    value.write(&db, key)?;
    Ok(Reply::Integer(value.value().len() as i64))
}

/// INCR and friends: the value must be a canonical i64; its expiry is kept.
fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], increment: i64) -> Result<Reply> {
    let db = ctx.db();
    let record = string::get(&db, key)?;
    let current = match &record {
        Some(record) => string::parse_integer(record.string_value())?,
        None => 0,
    };
    let value = string::increment(current, increment)?;
    let expire_ms = record.map_or(0, |r| r.meta.expire_ms);
    // Printed on the stack: `to_string` was a String and core::fmt's machinery per INCR.
    let mut digits = [0; redrock_protocol::I64_MAX_CHARS];
    string::put(&db, key, redrock_protocol::write_i64(value, &mut digits), expire_ms)?;
    Ok(Reply::Integer(value))
}

fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    incr_by(ctx, &args[1], 1)
}

fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    incr_by(ctx, &args[1], -1)
}

fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let increment = parse_i64(&args[2])?;
    incr_by(ctx, &args[1], increment)
}

fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let decrement = parse_i64(&args[2])?;
    // -i64::MIN does not exist.
    let increment = decrement.checked_neg().ok_or_else(|| Error::err("decrement would overflow"))?;
    incr_by(ctx, &args[1], increment)
}

/// INCRBYFLOAT: the type is checked before the increment is parsed (the reverse of INCRBY);
/// the sum is computed and printed in C `long double`, as Redis does, and stored as a string
/// Redis never int-encodes.
fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let key = &args[1];
    let record = string::get(&db, key)?;
    let value = crate::float::incr_by_float(record.as_ref().map(|r| r.string_value()), &args[2])?;
    let expire_ms = record.map_or(0, |r| r.meta.expire_ms);
    let mut batch = db.storage.batch();
    string::put_encoded_in(&db, &mut batch, key, &value, expire_ms, StringEncoding::NotInt);
    db.storage.write(batch)?;
    Ok(Reply::Bulk(Bytes::from(value)))
}

fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let values = string::get_many(&ctx.db(), &args[1..], now_ms(), &ctx.shared.stats)?;
    Ok(Reply::Array(values.into_iter().map(bulk_or_null).collect()))
}

/// MSET / MSETNX: pairs after the name; all keys are written in one batch (a repeated key
/// takes its last value, as in Redis).
fn mset_generic(ctx: &mut Ctx<'_>, args: &[Bytes], only_new: bool) -> Result<bool> {
    if args.len() % 2 != 1 {
        return Err(Error::WrongArity(if only_new { "msetnx" } else { "mset" }.into()));
    }
    let db = ctx.db();
    if only_new {
        for key in args[1..].iter().step_by(2) {
            if db.lookup(key)?.is_some() {
                return Ok(false);
            }
        }
    }
    let mut batch = db.storage.batch();
    batch.reserve(Cf::Metadata, args.len() / 2);
    for pair in args[1..].chunks_exact(2) {
        string::put_in(&db, &mut batch, &pair[0], &pair[1], 0);
    }
    db.storage.write(batch)?;
    Ok(true)
}

fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    mset_generic(ctx, args, false)?;
    Ok(Reply::ok())
}

fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(mset_generic(ctx, args, true)? as i64))
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`.
fn lcs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let stats = &ctx.shared.stats;
    let (a, b) = (db.lookup_read(&args[1], stats)?, db.lookup_read(&args[2], stats)?);
    if [&a, &b].iter().any(|r| r.as_ref().is_some_and(|r| r.meta.key_type != KeyType::String)) {
        return Err(Error::err("The specified keys must contain string values"));
    }
    let (mut want_len, mut want_idx, mut with_match_len, mut min_match_len) = (false, false, false, 0i64);
    let mut i = 3;
    while i < args.len() {
        let name = c_str(&args[i]);
        if name.eq_ignore_ascii_case(b"idx") {
            want_idx = true;
        } else if name.eq_ignore_ascii_case(b"len") {
            want_len = true;
        } else if name.eq_ignore_ascii_case(b"withmatchlen") {
            with_match_len = true;
        } else if name.eq_ignore_ascii_case(b"minmatchlen") && i + 1 < args.len() {
            min_match_len = parse_i64(&args[i + 1])?.max(0);
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if want_idx && want_len {
        return Err(Error::err("If you want both the length and indexes, please just use IDX."));
    }
    let a = a.as_ref().map_or(&[][..], |r| r.string_value());
    let b = b.as_ref().map_or(&[][..], |r| r.string_value());
    let lcs_error = |e: lcs::LcsError| Error::err(e.message());
    if want_len {
        return Ok(Reply::Integer(lcs::length(a, b).map_err(lcs_error)? as i64));
    }
    let result = lcs::compute(a, b).map_err(lcs_error)?;
    if !want_idx {
        return Ok(Reply::Bulk(Bytes::from(result.subsequence)));
    }
    let pair = |start: u32, end: u32| Reply::Array(vec![Reply::Integer(start as i64), Reply::Integer(end as i64)]);
    let matches = result
        .matches
        .iter()
        .filter(|m| min_match_len == 0 || m.length() as i64 >= min_match_len)
        .map(|m| {
            let mut entry = vec![pair(m.a_start, m.a_end), pair(m.b_start, m.b_end)];
            if with_match_len {
                entry.push(Reply::Integer(m.length() as i64));
            }
            Reply::Array(entry)
        })
        .collect();
    let text = |s: &'static str| Reply::Bulk(Bytes::from_static(s.as_bytes()));
    Ok(Reply::Map(vec![(text("matches"), Reply::Array(matches)), (text("len"), Reply::Integer(result.len as i64))]))
}
