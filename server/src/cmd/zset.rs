//! Sorted-set commands. This file holds the table and the commands on single members;
//! `zset/range.rs` the range commands (ZRANGE and its relatives, ZCOUNT, ZREMRANGEBY*),
//! `zset/store.rs` the multi-key ones (ZUNION/ZINTER/ZDIFF[STORE], ZINTERCARD) and the pops.

mod range;
mod store;

use bytes::Bytes;
use redrock_protocol::{format_double, Reply, RespVersion};
use smallvec::SmallVec;

use super::args::{is, parse_f64, parse_i64};
use super::spec::{acl, flag, key_flags, BeginSearch, CommandSpec, FindKeys, Group, KeySpec};
use super::Ctx;
use crate::error::{Error, Result};
use crate::glob;
use crate::types::sample::{self, random_below};
use crate::types::zset::{ZSet, ZSetWriter, INLINE_MEMBERS, LISTPACK_MAX_ENTRIES};

/// `numkeys key [key ...]` starting at argument `index`.
const fn keynum(index: i32, flags: &'static [&'static str]) -> KeySpec {
    KeySpec {
        flags,
        begin: BeginSearch::Index(index),
        find: FindKeys::KeyNum { num_keys_index: 0, first_key: 1, step: 1 },
    }
}

const ONE_RO: &[KeySpec] = &[KeySpec::single(1, key_flags::RO_ACCESS)];
const STORE_KEYS: &[KeySpec] = &[KeySpec::single(1, key_flags::OW_UPDATE), keynum(2, key_flags::RO_ACCESS)];
const READ_FAST: u32 = flag::READONLY | flag::FAST;
const SS: u32 = acl::SORTEDSET;
const LOG_N_M: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("bzmpop", -5, Group::SortedSet, store::bzmpop)
        .flags(flag::WRITE | flag::BLOCKING)
        .acl(SS)
        .keys(&[keynum(2, key_flags::RW_ACCESS_DELETE)])
        .doc("7.0.0", "Remove and return members with scores in a sorted set or block until one is available", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    CommandSpec::new("bzpopmax", -3, Group::SortedSet, store::bzpopmax)
        .flags(flag::WRITE | flag::NOSCRIPT | flag::BLOCKING | flag::FAST)
        .acl(SS)
        .keys(&[KeySpec::range(1, -2, 1, key_flags::RW_ACCESS_DELETE)])
        .doc("5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "O(log(N)) with N being the number of elements in the sorted set."),
    CommandSpec::new("bzpopmin", -3, Group::SortedSet, store::bzpopmin)
        .flags(flag::WRITE | flag::NOSCRIPT | flag::BLOCKING | flag::FAST)
        .acl(SS)
        .keys(&[KeySpec::range(1, -2, 1, key_flags::RW_ACCESS_DELETE)])
        .doc("5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "O(log(N)) with N being the number of elements in the sorted set."),
    CommandSpec::new("zadd", -4, Group::SortedSet, zadd)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(SS)
        .keys(&[KeySpec::single(1, key_flags::RW_UPDATE)])
        .doc("1.2.0", "Add one or more members to a sorted set, or update its score if it already exists", "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
    CommandSpec::new("zcard", 2, Group::SortedSet, zcard)
        .flags(READ_FAST | flag::POINT_READ)
        .acl(SS)
        .keys(&[KeySpec::single(1, key_flags::RO)])
        .doc("1.2.0", "Get the number of members in a sorted set", "O(1)"),
    CommandSpec::new("zcount", 4, Group::SortedSet, range::zcount)
        .flags(READ_FAST)
        .acl(SS)
        .keys(ONE_RO)
        .doc("2.0.0", "Count the members in a sorted set with scores within the given values", "O(log(N)) with N being the number of elements in the sorted set."),
    CommandSpec::new("zdiff", -3, Group::SortedSet, store::zdiff)
        .flags(flag::READONLY)
        .acl(SS)
        .keys(&[keynum(1, key_flags::RO_ACCESS)])
        .doc("6.2.0", "Subtract multiple sorted sets", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    CommandSpec::new("zdiffstore", -4, Group::SortedSet, store::zdiffstore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(SS)
        .keys(STORE_KEYS)
        .doc("6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set."),
    CommandSpec::new("zincrby", 4, Group::SortedSet, zincrby)
        .flags(flag::WRITE | flag::DENYOOM | flag::FAST)
        .acl(SS)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE)])
        .doc("1.2.0", "Increment the score of a member in a sorted set", "O(log(N)) where N is the number of elements in the sorted set."),
    CommandSpec::new("zinter", -3, Group::SortedSet, store::zinter)
        .flags(flag::READONLY)
        .acl(SS)
        .keys(&[keynum(1, key_flags::RO_ACCESS)])
        .doc("6.2.0", "Intersect multiple sorted sets", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    CommandSpec::new("zintercard", -3, Group::SortedSet, store::zintercard)
        .flags(flag::READONLY)
        .acl(SS)
        .keys(&[keynum(1, key_flags::RO_ACCESS)])
        .doc("7.0.0", "Intersect multiple sorted sets and return the cardinality of the result", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets."),
    CommandSpec::new("zinterstore", -4, Group::SortedSet, store::zinterstore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(SS)
        .keys(STORE_KEYS)
        .doc("2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set."),
    CommandSpec::new("zlexcount", 4, Group::SortedSet, range::zlexcount)
        .flags(READ_FAST)
        .acl(SS)
        .keys(ONE_RO)
        .doc("2.8.9", "Count the number of members in a sorted set between a given lexicographical range", "O(log(N)) with N being the number of elements in the sorted set."),
    CommandSpec::new("zmpop", -4, Group::SortedSet, store::zmpop)
        .flags(flag::WRITE)
        .acl(SS)
        .keys(&[keynum(1, key_flags::RW_ACCESS_DELETE)])
        .doc("7.0.0", "Remove and return members with scores in a sorted set", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped."),
    CommandSpec::new("zmscore", -3, Group::SortedSet, zmscore)
        .flags(READ_FAST)
        .acl(SS)
        .keys(ONE_RO)
        .doc("6.2.0", "Get the score associated with the given members in a sorted set", "O(N) where N is the number of members being requested."),
    CommandSpec::new("zpopmax", -2, Group::SortedSet, store::zpopmax)
        .flags(flag::WRITE | flag::FAST)
        .acl(SS)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_DELETE)])
        .doc("5.0.0", "Remove and return members with the highest scores in a sorted set", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    CommandSpec::new("zpopmin", -2, Group::SortedSet, store::zpopmin)
        .flags(flag::WRITE | flag::FAST)
        .acl(SS)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_DELETE)])
        .doc("5.0.0", "Remove and return members with the lowest scores in a sorted set", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped."),
    CommandSpec::new("zrandmember", -2, Group::SortedSet, zrandmember)
        .flags(flag::READONLY)
        .acl(SS)
        .keys(ONE_RO)
        .tips(&["nondeterministic_output"])
        .doc("6.2.0", "Get one or multiple random elements from a sorted set", "O(N) where N is the number of elements returned"),
    CommandSpec::new("zrange", -4, Group::SortedSet, range::zrange)
        .flags(flag::READONLY)
        .acl(SS)
        .keys(ONE_RO)
        .doc("1.2.0", "Return a range of members in a sorted set", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."),
    CommandSpec::new("zrangebylex", -4, Group::SortedSet, range::zrangebylex)
        .deprecated("6.2.0", "`ZRANGE` with the `BYLEX` argument")
        .flags(flag::READONLY)
        .acl(SS)
        .keys(ONE_RO)
        .doc("2.8.9", "Return a range of members in a sorted set, by lexicographical range", LOG_N_M),
    CommandSpec::new("zrangebyscore", -4, Group::SortedSet, range::zrangebyscore)
        .deprecated("6.2.0", "`ZRANGE` with the `BYSCORE` argument")
        .flags(flag::READONLY)
        .acl(SS)
        .keys(ONE_RO)
        .doc("1.0.5", "Return a range of members in a sorted set, by score", LOG_N_M),
    CommandSpec::new("zrangestore", -5, Group::SortedSet, range::zrangestore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(SS)
        .keys(&[KeySpec::single(1, key_flags::OW_UPDATE), KeySpec::single(2, key_flags::RO_ACCESS)])
        .doc("6.2.0", "Store a range of members from sorted set into another key", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key."),
    CommandSpec::new("zrank", 3, Group::SortedSet, zrank)
        .flags(READ_FAST)
        .acl(SS)
        .keys(ONE_RO)
        .doc("2.0.0", "Determine the index of a member in a sorted set", "O(log(N))"),
    CommandSpec::new("zrem", -3, Group::SortedSet, zrem)
        .flags(flag::WRITE | flag::FAST)
        .acl(SS)
        .keys(&[KeySpec::single(1, RW_DELETE)])
        .doc("1.2.0", "Remove one or more members from a sorted set", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed."),
    CommandSpec::new("zremrangebylex", 4, Group::SortedSet, range::zremrangebylex)
        .flags(flag::WRITE)
        .acl(SS)
        .keys(&[KeySpec::single(1, RW_DELETE)])
        .doc("2.8.9", "Remove all members in a sorted set between the given lexicographical range", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    CommandSpec::new("zremrangebyrank", 4, Group::SortedSet, range::zremrangebyrank)
        .flags(flag::WRITE)
        .acl(SS)
        .keys(&[KeySpec::single(1, RW_DELETE)])
        .doc("2.0.0", "Remove all members in a sorted set within the given indexes", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    CommandSpec::new("zremrangebyscore", 4, Group::SortedSet, range::zremrangebyscore)
        .flags(flag::WRITE)
        .acl(SS)
        .keys(&[KeySpec::single(1, RW_DELETE)])
        .doc("1.2.0", "Remove all members in a sorted set within the given scores", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation."),
    CommandSpec::new("zrevrange", -4, Group::SortedSet, range::zrevrange)
        .deprecated("6.2.0", "`ZRANGE` with the `REV` argument")
        .flags(flag::READONLY)
        .acl(SS)
        .keys(ONE_RO)
        .doc("1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned."),
    CommandSpec::new("zrevrangebylex", -4, Group::SortedSet, range::zrevrangebylex)
        .deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYLEX` arguments")
        .flags(flag::READONLY)
        .acl(SS)
        .keys(ONE_RO)
        .doc("2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", LOG_N_M),
    CommandSpec::new("zrevrangebyscore", -4, Group::SortedSet, range::zrevrangebyscore)
        .deprecated("6.2.0", "`ZRANGE` with the `REV` and `BYSCORE` arguments")
        .flags(flag::READONLY)
        .acl(SS)
        .keys(ONE_RO)
        .doc("2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low", LOG_N_M),
    CommandSpec::new("zrevrank", 3, Group::SortedSet, zrevrank)
        .flags(READ_FAST)
        .acl(SS)
        .keys(ONE_RO)
        .doc("2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low", "O(log(N))"),
    CommandSpec::new("zscan", -3, Group::SortedSet, zscan)
        .flags(flag::READONLY)
        .acl(SS)
        .keys(ONE_RO)
        .tips(&["nondeterministic_output"])
        .doc("2.8.0", "Incrementally iterate sorted sets elements and associated scores", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.."),
    CommandSpec::new("zscore", 3, Group::SortedSet, zscore)
        .flags(READ_FAST | flag::POINT_READ)
        .acl(SS)
        .keys(ONE_RO)
        .doc("1.2.0", "Get the score associated with the given member in a sorted set", "O(1)"),
    CommandSpec::new("zunion", -3, Group::SortedSet, store::zunion)
        .flags(flag::READONLY)
        .acl(SS)
        .keys(&[keynum(1, key_flags::RO_ACCESS)])
        .doc("6.2.0", "Add multiple sorted sets", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
    CommandSpec::new("zunionstore", -4, Group::SortedSet, store::zunionstore)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(SS)
        .keys(STORE_KEYS)
        .doc("2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set."),
];

/// `RW delete` (ZREM, ZREMRANGEBY*).
const RW_DELETE: &[&str] = &["RW", "delete"];

/// Members with their scores as Redis 7.0 replies them: without scores a flat array of
/// members; with scores `[m1, s1, m2, s2]` in RESP2 and `[[m1, s1], [m2, s2]]` in RESP3.
pub(crate) fn scored_reply(items: Vec<(Vec<u8>, f64)>, with_scores: bool, resp: RespVersion) -> Reply {
    if !with_scores {
        return Reply::Array(items.into_iter().map(|(m, _)| Reply::Bulk(Bytes::from(m))).collect());
    }
    if resp == RespVersion::Resp3 {
        return Reply::Array(
            items.into_iter().map(|(m, s)| Reply::Array(vec![Reply::Bulk(Bytes::from(m)), Reply::Double(s)])).collect(),
        );
    }
    let mut out = Vec::with_capacity(items.len() * 2);
    for (m, s) in items {
        out.push(Reply::Bulk(Bytes::from(m)));
        out.push(Reply::Double(s));
    }
    Reply::Array(out)
}

/// The ZADD options, as flags.
#[derive(Clone, Copy, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    zadd_generic(ctx, args, AddFlags::default())
}

/// ZINCRBY is ZADD with INCR, argument parsing included (`ZINCRBY k nx m` is a syntax error,
/// as in Redis, where the same function parses both).
fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    zadd_generic(ctx, args, AddFlags { incr: true, ..AddFlags::default() })
}

/// Redis 7.0's `zaddGenericCommand`: options, then pairs; every error before any write.
fn zadd_generic(ctx: &mut Ctx<'_>, args: &[Bytes], mut flags: AddFlags) -> Result<Reply> {
    let mut at = 2;
    // Compared in place: lowercasing each argument into a new vector was an allocation per
    // ZADD, for the score that ends the options.
    while let Some(option) = args.get(at) {
        let flag = match () {
            _ if is(option, "nx") => &mut flags.nx,
            _ if is(option, "xx") => &mut flags.xx,
            _ if is(option, "ch") => &mut flags.ch,
            _ if is(option, "incr") => &mut flags.incr,
            _ if is(option, "gt") => &mut flags.gt,
            _ if is(option, "lt") => &mut flags.lt,
            _ => break,
        };
        *flag = true;
        at += 1;
    }
    let pairs = &args[at..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Err(Error::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(Error::err("XX and NX options at the same time are not compatible"));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(Error::err("GT, LT, and/or NX options at the same time are not compatible"));
    }
    if flags.incr && pairs.len() > 2 {
        return Err(Error::err("INCR option supports a single increment-element pair"));
    }
    let scores =
        pairs.chunks(2).map(|pair| parse_f64(&pair[0])).collect::<Result<SmallVec<[f64; INLINE_MEMBERS]>>>()?;

    let db = ctx.db();
    let key = &args[1];
    let existing = ZSet::load(&db, key)?;
    let no_reply = || if flags.incr { Reply::Null } else { Reply::Integer(0) };
    if existing.is_none() && flags.xx {
        return Ok(no_reply());
    }
    let mut writer = ZSetWriter::open(db, key, existing);
    let members: SmallVec<[&Bytes; INLINE_MEMBERS]> = pairs.chunks(2).map(|pair| &pair[1]).collect();
    writer.prefetch(&members)?;
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last_score = 0.0;
    for (pair, &score) in pairs.chunks(2).zip(&scores) {
        let member = &pair[1];
        match writer.score(member)? {
            Some(current) => {
                if flags.nx {
                    continue;
                }
                let score = if flags.incr { score + current } else { score };
                if score.is_nan() {
                    return Err(Error::err("resulting score is not a number (NaN)"));
                }
                if (flags.lt && score >= current) || (flags.gt && score <= current) {
                    continue;
                }
                processed += 1;
                last_score = score;
                if score != current {
                    writer.set(member, Some(current), score);
                    updated += 1;
                }
            }
            None if !flags.xx => {
                writer.set(member, None, score);
                added += 1;
                processed += 1;
                last_score = score;
            }
            None => {}
        }
    }
    let grown = writer.len();
    writer.commit()?;
    if added > 0 {
        store::signal_key(ctx, key, grown);
    }
    Ok(match (flags.incr, processed > 0) {
        (true, true) => Reply::Double(last_score),
        (true, false) => Reply::Null,
        (false, _) => Reply::Integer(if flags.ch { added + updated } else { added }),
    })
}

fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(ZSet::load(&ctx.db(), &args[1])?.map_or(0, |z| z.len()) as i64))
}

fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let score = match ZSet::load(&db, &args[1])? {
        Some(zset) => zset.score(&db, &args[2])?,
        None => None,
    };
    Ok(score.map_or(Reply::Null, Reply::Double))
}

fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let members = &args[2..];
    let scores = match ZSet::load(&db, &args[1])? {
        Some(zset) => zset.scores(&db, members)?,
        None => vec![None; members.len()],
    };
    Ok(Reply::Array(scores.into_iter().map(|s| s.map_or(Reply::Null, Reply::Double)).collect()))
}

fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let Some(zset) = ZSet::load(&db, &args[1])? else {
        return Ok(Reply::Integer(0));
    };
    let mut writer = ZSetWriter::open(db, &args[1], Some(zset));
    writer.prefetch(&args[2..])?;
    let mut removed = 0;
    for member in &args[2..] {
        if let Some(score) = writer.score(member)? {
            writer.remove(member, score);
            removed += 1;
        }
    }
    if removed > 0 {
        writer.commit()?;
    }
    Ok(Reply::Integer(removed))
}

fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    rank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    rank_generic(ctx, args, true)
}

fn rank_generic(ctx: &mut Ctx<'_>, args: &[Bytes], reverse: bool) -> Result<Reply> {
    let db = ctx.db();
    let rank = match ZSet::load(&db, &args[1])? {
        Some(zset) => zset.rank(&db, &args[2], reverse)?,
        None => None,
    };
    Ok(rank.map_or(Reply::Null, |r| Reply::Integer(r as i64)))
}

/// Longest reply ZRANDMEMBER with a negative count builds (Redis has no limit and would
/// exhaust memory first).
const MAX_RANDMEMBER_REPEATS: u64 = 1 << 24;

fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    if args.len() == 2 {
        let Some(zset) = ZSet::load(&db, &args[1])? else {
            return Ok(Reply::Null);
        };
        let pick = random_below(zset.len());
        let mut chosen = None;
        zset.walk_by_score(&db, None, false, pick, |m, _| {
            chosen = Some(Bytes::copy_from_slice(m));
            Ok(false)
        })?;
        return Ok(chosen.map_or(Reply::Null, Reply::Bulk));
    }
    let count = parse_i64(&args[2])?;
    if count == i64::MIN {
        return Err(Error::err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let with_scores = match args.len() {
        3 => false,
        4 if is(&args[3], "withscores") => true,
        _ => return Err(Error::Syntax),
    };
    if with_scores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(Error::err("value is out of range"));
    }
    let Some(zset) = ZSet::load(&db, &args[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let size = zset.len();
    // The ranks to return: with repetition for a negative count, distinct otherwise (Floyd's
    // sampling), or the whole set. One walk then collects them, holding only the reply.
    let mut ranks: Vec<u64> = if count < 0 {
        let repeats = count.unsigned_abs();
        if repeats > MAX_RANDMEMBER_REPEATS {
            return Err(Error::err("value is out of range"));
        }
        (0..repeats).map(|_| random_below(size)).collect()
    } else if count as u64 >= size {
        (0..size).collect()
    } else {
        sample::distinct_random_indexes(size, count as u64)
    };
    let whole = ranks.len() as u64 == size && count > 0;
    ranks.sort_unstable();
    let mut picked: Vec<(Vec<u8>, f64)> = Vec::with_capacity(ranks.len());
    let mut next = 0usize;
    let mut rank = 0u64;
    zset.walk_by_score(&db, None, false, 0, |member, score| {
        while ranks.get(next) == Some(&rank) {
            picked.push((member.to_vec(), score));
            next += 1;
        }
        rank += 1;
        Ok(next < ranks.len())
    })?;
    if !whole {
        // Ranks were sorted for the walk; the reply comes in random order, as Redis's does.
        sample::shuffle(&mut picked);
    }
    Ok(scored_reply(picked, with_scores, ctx.client.resp))
}

/// Default COUNT of ZSCAN.
const SCAN_DEFAULT_COUNT: i64 = 10;

/// Redis's `parseScanCursorOrReply`: `strtoul` of the whole argument (a leading `-` wraps,
/// the empty string is 0), no leading space, no overflow.
fn parse_cursor(arg: &[u8]) -> Result<u64> {
    let invalid = || Error::err("invalid cursor");
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if arg.is_empty() {
        return Ok(0);
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut value: u64 = 0;
    for d in digits {
        value = value.checked_mul(10).and_then(|v| v.checked_add(u64::from(d - b'0'))).ok_or_else(invalid)?;
    }
    Ok(if negative { value.wrapping_neg() } else { value })
}

fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let cursor = parse_cursor(&args[2])?;
    let db = ctx.db();
    let empty = || Reply::Array(vec![Reply::Bulk(Bytes::from_static(b"0")), Reply::Array(Vec::new())]);
    let Some(zset) = ZSet::load(&db, &args[1])? else {
        return Ok(empty());
    };
    let mut count = SCAN_DEFAULT_COUNT;
    let mut pattern: Option<&Bytes> = None;
    let mut at = 3;
    while at < args.len() {
        let has_value = args.len() - at >= 2;
        if is(&args[at], "count") && has_value {
            count = parse_i64(&args[at + 1])?;
            if count < 1 {
                return Err(Error::Syntax);
            }
        } else if is(&args[at], "match") && has_value {
            pattern = (args[at + 1].as_ref() != b"*").then_some(&args[at + 1]);
        } else {
            return Err(Error::Syntax);
        }
        at += 2;
    }
    // Small sets reply whole, with cursor 0, as Redis's listpack encoding does.
    let whole = zset.len() <= LISTPACK_MAX_ENTRIES;
    let from = if whole { Vec::new() } else { ctx.shared.scan_cursors.resume_key(cursor) };
    let mut found = Vec::new();
    let mut seen = 0i64;
    let mut resume: Option<Vec<u8>> = None;
    zset.walk_members(&db, &from, |member, score| {
        if !whole && seen >= count {
            resume = Some(member.to_vec());
            return Ok(false);
        }
        seen += 1;
        if pattern.is_none_or(|p| glob::matches(p, member, false)) {
            found.push(Reply::Bulk(Bytes::copy_from_slice(member)));
            found.push(Reply::Bulk(Bytes::from(format_double(score))));
        }
        Ok(true)
    })?;
    let next = resume.map_or(0, |member| ctx.shared.scan_cursors.save(member));
    Ok(Reply::Array(vec![Reply::Bulk(Bytes::from(next.to_string())), Reply::Array(found)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0").unwrap(), 0);
        assert_eq!(parse_cursor(b"").unwrap(), 0);
        assert_eq!(parse_cursor(b"+7").unwrap(), 7);
        assert_eq!(parse_cursor(b"-1").unwrap(), u64::MAX);
        assert_eq!(parse_cursor(b"18446744073709551615").unwrap(), u64::MAX);
        assert!(parse_cursor(b"18446744073709551616").is_err());
        assert!(parse_cursor(b" 1").is_err());
        assert!(parse_cursor(b"1x").is_err());
        assert!(parse_cursor(b"-").is_err());
    }
}
