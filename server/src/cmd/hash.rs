//! Hash commands. Storage logic is in `types/hash.rs`; HGET, HEXISTS, HSTRLEN are one point
//! read each, HLEN reads only the metadata record.

use bytes::Bytes;
use redrock_protocol::{Aggregate, Reply};
use smallvec::SmallVec;

use super::spec::{acl, flag, key_flags, CommandSpec, Group, KeySpec};
use super::{args, Ctx};
use crate::error::{Error, Result};
use crate::types::collection::{self, Element};
use crate::types::hash;
use crate::types::sample;

/// Key-spec flags of HDEL and SREM (not in `spec::key_flags`, which another helper owns).
pub const RW_DELETE: &[&str] = &["RW", "delete"];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hdel", -3, Group::Hash, hdel)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, RW_DELETE)])
        .doc("2.0.0", "Delete one or more hash fields", "O(N) where N is the number of fields to be removed."),
    CommandSpec::new("hexists", 3, Group::Hash, hexists)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RO)])
        .doc("2.0.0", "Determine if a hash field exists", "O(1)"),
    CommandSpec::new("hget", 3, Group::Hash, hget)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc("2.0.0", "Get the value of a hash field", "O(1)"),
    CommandSpec::new("hgetall", 2, Group::Hash, hgetall)
        .flags(flag::READONLY)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .tips(&["nondeterministic_output_order"])
        .doc("2.0.0", "Get all the fields and values in a hash", "O(N) where N is the size of the hash."),
    CommandSpec::new("hincrby", 4, Group::Hash, hincrby)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE)])
        .doc("2.0.0", "Increment the integer value of a hash field by the given number", "O(1)"),
    CommandSpec::new("hincrbyfloat", 4, Group::Hash, hincrbyfloat)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE)])
        .doc("2.6.0", "Increment the float value of a hash field by the given amount", "O(1)"),
    CommandSpec::new("hkeys", 2, Group::Hash, hkeys)
        .flags(flag::READONLY)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .tips(&["nondeterministic_output_order"])
        .doc("2.0.0", "Get all the fields in a hash", "O(N) where N is the size of the hash."),
    CommandSpec::new("hlen", 2, Group::Hash, hlen)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RO)])
        .doc("2.0.0", "Get the number of fields in a hash", "O(1)"),
    CommandSpec::new("hmget", -3, Group::Hash, hmget)
        .flags(flag::READONLY | flag::FAST)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc("2.0.0", "Get the values of all the given hash fields", "O(N) where N is the number of fields being requested."),
    CommandSpec::new("hmset", -4, Group::Hash, hmset)
        .deprecated("4.0.0", "`HSET` with multiple field-value pairs")
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RW_UPDATE)])
        .doc("2.0.0", "Set multiple hash fields to multiple values", "O(N) where N is the number of fields being set."),
    CommandSpec::new("hrandfield", -2, Group::Hash, hrandfield)
        .flags(flag::READONLY)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .tips(&["nondeterministic_output"])
        .doc("6.2.0", "Get one or multiple random fields from a hash", "O(N) where N is the number of fields returned"),
    CommandSpec::new("hscan", -3, Group::Hash, hscan)
        .flags(flag::READONLY)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .tips(&["nondeterministic_output"])
        .doc("2.8.0", "Incrementally iterate hash fields and associated values", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
    CommandSpec::new("hset", -4, Group::Hash, hset)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RW_UPDATE)])
        .doc("2.0.0", "Set the string value of a hash field", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs."),
    CommandSpec::new("hsetnx", 4, Group::Hash, hsetnx)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RW_INSERT)])
        .doc("2.0.0", "Set the value of a hash field, only if the field does not exist", "O(1)"),
    CommandSpec::new("hstrlen", 3, Group::Hash, hstrlen)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RO)])
        .doc("3.2.0", "Get the length of the value of a hash field", "O(1)"),
    CommandSpec::new("hvals", 2, Group::Hash, hvals)
        .flags(flag::READONLY)
        .acl(acl::HASH)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .tips(&["nondeterministic_output_order"])
        .doc("2.0.0", "Get all the values in a hash", "O(N) where N is the size of the hash."),
];

fn bulk(bytes: Vec<u8>) -> Reply {
    Reply::Bulk(Bytes::from(bytes))
}

/// `key field value [field value ...]` pairs; an odd count is an arity error (Redis checks it
/// in the handler).
/// A command's field-value pairs, inline for one (HSET's usual).
type FieldValues<'a> = SmallVec<[(&'a [u8], &'a [u8]); 1]>;

fn field_value_pairs<'a>(name: &str, rest: &'a [Bytes]) -> Result<FieldValues<'a>> {
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(Error::WrongArity(name.to_string()));
    }
    Ok(rest.chunks(2).map(|p| (&p[0][..], &p[1][..])).collect())
}

fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let pairs = field_value_pairs("hset", &args[2..])?;
    Ok(Reply::Integer(hash::set(&ctx.db(), &args[1], &pairs, false)? as i64))
}

fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let pairs = field_value_pairs("hmset", &args[2..])?;
    hash::set(&ctx.db(), &args[1], &pairs, false)?;
    Ok(Reply::ok())
}

fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let created = hash::set(&ctx.db(), &args[1], &[(&args[2], &args[3])], true)?;
    Ok(Reply::Integer(created as i64))
}

// One point read of the field's sub-key (after the metadata read that finds the version).
fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(hash::get(&ctx.db(), &args[1], &args[2])?.map(bulk).unwrap_or(Reply::Null))
}

fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(hash::get(&ctx.db(), &args[1], &args[2])?.is_some() as i64))
}

fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(hash::get(&ctx.db(), &args[1], &args[2])?.map_or(0, |v| v.len() as i64)))
}

fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let values = match hash::lookup(&db, &args[1])? {
        Some(live) => live.multi_get(&db, args[2..].iter().map(|f| &f[..]))?,
        None => vec![None; args.len() - 2],
    };
    Ok(Reply::Array(values.into_iter().map(|v| v.map(bulk).unwrap_or(Reply::Null)).collect()))
}

fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(hash::lookup(&ctx.db(), &args[1])?.map_or(0, |l| l.size() as i64)))
}

fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let fields: Vec<&[u8]> = args[2..].iter().map(|f| &f[..]).collect();
    Ok(Reply::Integer(hash::delete(&ctx.db(), &args[1], &fields)? as i64))
}

fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let incr = args::parse_i64(&args[3])?;
    Ok(Reply::Integer(hash::incr_by(&ctx.db(), &args[1], &args[2], incr)?))
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(bulk(hash::incr_by_float(&ctx.db(), &args[1], &args[2], &args[3])?))
}

/// The whole hash, for HGETALL/HKEYS/HVALS (bounded by the data).
fn whole(ctx: &Ctx<'_>, key: &[u8]) -> Result<Vec<Element>> {
    let db = ctx.db();
    match hash::lookup(&db, key)? {
        Some(live) => live.all(&db),
        None => Ok(Vec::new()),
    }
}

fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let pairs = whole(ctx, &args[1])?;
    Ok(Reply::Bulks(Aggregate::Map, pairs.iter().flat_map(|(f, v)| [f, v]).collect()))
}

fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::bulk_array(whole(ctx, &args[1])?.iter().map(|(f, _)| f)))
}

fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::bulk_array(whole(ctx, &args[1])?.iter().map(|(_, v)| v)))
}

fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let cursor = collection::parse_cursor(&args[2])?;
    let db = ctx.db();
    let Some(live) = hash::lookup(&db, &args[1])? else {
        return Ok(scan_reply(0, Vec::new()));
    };
    // Options are parsed only once the key exists, as Redis does.
    let options = collection::parse_scan_options(&args[3..])?;
    let (next, found) = collection::scan(&db, &ctx.shared.scan_cursors, &live, cursor, &options, &hash::LISTPACK)?;
    let flat = found.into_iter().flat_map(|(f, v)| [bulk(f), bulk(v)]).collect();
    Ok(scan_reply(next, flat))
}

/// `[cursor, [elements]]`, the cursor as a bulk string.
pub fn scan_reply(cursor: u64, elements: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::Bulk(Bytes::from(cursor.to_string())), Reply::Array(elements)])
}

fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    if args.len() == 2 {
        let Some(live) = hash::lookup(&db, &args[1])? else {
            return Ok(Reply::Null);
        };
        return Ok(sample::random_element(&db, &live)?.map(|(f, _)| bulk(f)).unwrap_or(Reply::Null));
    }
    let count = parse_random_count(&args[2])?;
    if args.len() > 4 || (args.len() == 4 && !args::is(&args[3], "withvalues")) {
        return Err(Error::Syntax);
    }
    let with_values = args.len() == 4;
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(Error::err("value is out of range"));
    }
    let Some(live) = hash::lookup(&db, &args[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let picked = sample::random_picks(&db, &live, count)?;
    let resp3 = ctx.client.resp == redrock_protocol::RespVersion::Resp3;
    let reply = if !with_values {
        picked.into_iter().map(|(f, _)| bulk(f)).collect()
    } else if resp3 {
        picked.into_iter().map(|(f, v)| Reply::Array(vec![bulk(f), bulk(v)])).collect()
    } else {
        picked.into_iter().flat_map(|(f, v)| [bulk(f), bulk(v)]).collect()
    };
    Ok(Reply::Array(reply))
}

/// A count of HRANDFIELD/SRANDMEMBER: any i64 but `i64::MIN` (Redis's `-LONG_MAX..LONG_MAX`).
pub fn parse_random_count(arg: &[u8]) -> Result<i64> {
    let count = args::parse_i64(arg)?;
    if count == i64::MIN {
        return Err(Error::err(format!("value is out of range, value must between {} and {}", -i64::MAX, i64::MAX)));
    }
    Ok(count)
}
