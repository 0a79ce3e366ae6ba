//! Multi-key sorted-set commands: ZUNION/ZINTER/ZDIFF and their STORE forms, ZINTERCARD
//! (Redis 7.0's `zunionInterDiffGenericCommand`), and the pops: ZPOPMIN/ZPOPMAX, ZMPOP and
//! the blocking BZPOPMIN/BZPOPMAX/BZMPOP.

use std::cmp::Ordering;
use std::collections::HashMap;

use bytes::Bytes;
use redrock_protocol::{Reply, RespVersion};

use super::scored_reply;
use crate::blocking::parse_timeout;
use crate::cmd::args::{is, parse_i64};
use crate::cmd::Ctx;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::storage::encoding::sub_key;
use crate::storage::{Cf, KeyType, StorageError};
use crate::types::zset::{ZSet, ZSetWriter};

/// An input of ZUNION/ZINTER/ZDIFF: a sorted set, or a set whose members all score 1.
enum Source {
    Missing,
    ZSet(ZSet),
    Set { prefix: Vec<u8>, size: u64 },
}

impl Source {
    fn load(db: &Db<'_>, key: &[u8]) -> Result<Source> {
        let Some(record) = db.lookup(key)? else {
            return Ok(Source::Missing);
        };
        match record.meta.key_type {
            KeyType::ZSet => Ok(Source::ZSet(ZSet::from_record(db, key, record)?)),
            KeyType::Set => {
                let c = record
                    .meta
                    .collection
                    .ok_or_else(|| StorageError::Format("set without a collection header".into()))?;
                Ok(Source::Set { prefix: db.sub_prefix(key, c.version), size: c.size })
            }
            _ => Err(Error::WrongType),
        }
    }

    fn len(&self) -> u64 {
        match self {
            Source::Missing => 0,
            Source::ZSet(z) => z.len(),
            Source::Set { size, .. } => *size,
        }
    }

    /// Visits every (member, score).
    fn walk(&self, db: &Db<'_>, mut visit: impl FnMut(&[u8], f64)) -> Result<()> {
        match self {
            Source::Missing => Ok(()),
            Source::ZSet(z) => z.walk_members(db, b"", |m, s| {
                visit(m, s);
                Ok(true)
            }),
            Source::Set { prefix, .. } => {
                // The set encoding of DESIGN.md: member -> empty under the set's prefix.
                let mut it = db.storage.iter_prefix(Cf::SubKeys, prefix);
                it.seek_to_first();
                while let Some(key) = it.key() {
                    visit(&key[prefix.len()..], 1.0);
                    it.next();
                }
                it.status().map_err(StorageError::from)?;
                Ok(())
            }
        }
    }

    /// The score of `member` in this input, if it is a member.
    fn find(&self, db: &Db<'_>, member: &[u8]) -> Result<Option<f64>> {
        match self {
            Source::Missing => Ok(None),
            Source::ZSet(z) => z.score(db, member),
            Source::Set { prefix, .. } => Ok(db.storage.get(Cf::SubKeys, &sub_key(prefix, member))?.map(|_| 1.0)),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate`: a NaN sum (inf + -inf) is 0.
    fn apply(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

pub(crate) fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    set_op(ctx, args, SetOp::Union, false, false)
}

pub(crate) fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    set_op(ctx, args, SetOp::Inter, false, false)
}

pub(crate) fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    set_op(ctx, args, SetOp::Diff, false, false)
}

pub(crate) fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    set_op(ctx, args, SetOp::Union, true, false)
}

pub(crate) fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    set_op(ctx, args, SetOp::Inter, true, false)
}

pub(crate) fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    set_op(ctx, args, SetOp::Diff, true, false)
}

pub(crate) fn zintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    set_op(ctx, args, SetOp::Inter, false, true)
}

/// Redis 7.0's `zunionInterDiffGenericCommand`: numkeys, then the inputs' types, then the
/// options, then the computation.
fn set_op(ctx: &mut Ctx<'_>, args: &[Bytes], op: SetOp, store: bool, cardinality_only: bool) -> Result<Reply> {
    let numkeys_at = if store { 2 } else { 1 };
    let numkeys = parse_i64(&args[numkeys_at])?;
    if numkeys < 1 {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        return Err(Error::err(format!("at least 1 input key is needed for '{name}' command")));
    }
    let first_key = numkeys_at + 1;
    if numkeys as u64 > (args.len() - first_key) as u64 {
        return Err(Error::Syntax);
    }
    let numkeys = numkeys as usize;
    let db = ctx.db();
    let mut sources = Vec::with_capacity(numkeys);
    for key in &args[first_key..first_key + numkeys] {
        sources.push((Source::load(&db, key)?, 1.0f64));
    }

    let mut aggregate = Aggregate::Sum;
    let mut with_scores = false;
    let mut limit = 0u64;
    let mut at = first_key + numkeys;
    while at < args.len() {
        let remaining = args.len() - at;
        let arg = &args[at];
        if op != SetOp::Diff && !cardinality_only && remaining > numkeys && is(arg, "weights") {
            for (i, source) in sources.iter_mut().enumerate() {
                source.1 = crate::float::parse_f64(&args[at + 1 + i])
                    .ok_or_else(|| Error::err("weight value is not a float"))?;
            }
            at += 1 + numkeys;
        } else if op != SetOp::Diff && !cardinality_only && remaining >= 2 && is(arg, "aggregate") {
            let name = &args[at + 1];
            aggregate = if is(name, "sum") {
                Aggregate::Sum
            } else if is(name, "min") {
                Aggregate::Min
            } else if is(name, "max") {
                Aggregate::Max
            } else {
                return Err(Error::Syntax);
            };
            at += 2;
        } else if !store && !cardinality_only && is(arg, "withscores") {
            with_scores = true;
            at += 1;
        } else if cardinality_only && remaining >= 2 && is(arg, "limit") {
            let value = parse_i64(&args[at + 1]).ok().filter(|v| *v >= 0);
            limit = value.ok_or_else(|| Error::err("LIMIT can't be negative"))? as u64;
            at += 2;
        } else {
            return Err(Error::Syntax);
        }
    }

    if op != SetOp::Diff {
        // Smallest first, as Redis orders them (a stable sort): it fixes the order in which
        // scores are summed, hence the last bits of float sums.
        sources.sort_by_key(|(s, _)| s.len());
    }
    let result = match op {
        SetOp::Union => union(&db, &sources, aggregate)?,
        SetOp::Inter => inter(&db, &sources, aggregate, cardinality_only.then_some(limit))?,
        SetOp::Diff => diff(&db, &sources)?,
    };
    if cardinality_only {
        return Ok(Reply::Integer(result.len() as i64));
    }
    let mut result: Vec<(Vec<u8>, f64)> = result.into_iter().collect();
    // Redis's order: by score (-0 equal to 0; no NaN survives aggregation), then by member.
    result.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(Ordering::Equal).then_with(|| a.0.cmp(&b.0)));
    if !store {
        return Ok(scored_reply(result, with_scores, ctx.client.resp));
    }
    let mut writer = ZSetWriter::replacing(db, &args[1]);
    for (member, score) in &result {
        writer.set(member, None, *score);
    }
    let size = writer.len();
    writer.commit()?;
    signal_key(ctx, &args[1], size);
    Ok(Reply::Integer(size as i64))
}

type Scores = HashMap<Vec<u8>, f64>;
/// Members with their scores, in reply order.
type Scored = Vec<(Vec<u8>, f64)>;

/// `weight * score`, with Redis's NaN (inf * 0) read as 0.
fn weighted(score: f64, weight: f64) -> f64 {
    let value = score * weight;
    if value.is_nan() {
        0.0
    } else {
        value
    }
}

fn union(db: &Db<'_>, sources: &[(Source, f64)], aggregate: Aggregate) -> Result<Scores> {
    let mut acc = Scores::new();
    for (source, weight) in sources {
        source.walk(db, |member, score| {
            let value = weighted(score, *weight);
            match acc.get_mut(member) {
                Some(target) => aggregate.apply(target, value),
                None => {
                    acc.insert(member.to_vec(), value);
                }
            }
        })?;
    }
    Ok(acc)
}

/// Members of the smallest input found in every other; `limit` (ZINTERCARD, 0 = none) stops
/// early.
fn inter(db: &Db<'_>, sources: &[(Source, f64)], aggregate: Aggregate, limit: Option<u64>) -> Result<Scores> {
    let mut out = Scores::new();
    let Some(((first, first_weight), rest)) = sources.split_first() else {
        return Ok(out);
    };
    if first.len() == 0 {
        return Ok(out);
    }
    let mut candidates = Vec::new();
    first.walk(db, |member, score| candidates.push((member.to_vec(), score)))?;
    'members: for (member, score) in candidates {
        let mut total = weighted(score, *first_weight);
        for (source, weight) in rest {
            match source.find(db, &member)? {
                // Here Redis does not read a NaN product as 0 (only the sum is checked).
                Some(value) => aggregate.apply(&mut total, value * weight),
                None => continue 'members,
            }
        }
        out.insert(member, total);
        if limit.is_some_and(|l| l > 0 && out.len() as u64 >= l) {
            break;
        }
    }
    Ok(out)
}

fn diff(db: &Db<'_>, sources: &[(Source, f64)]) -> Result<Scores> {
    let mut out = Scores::new();
    let Some(((first, _), rest)) = sources.split_first() else {
        return Ok(out);
    };
    let mut candidates = Vec::new();
    first.walk(db, |member, score| candidates.push((member.to_vec(), score)))?;
    'members: for (member, score) in candidates {
        for (source, _) in rest {
            if source.find(db, &member)?.is_some() {
                continue 'members;
            }
        }
        out.insert(member, score);
    }
    Ok(out)
}

/// Pops up to `count` members from the low (`max` false) or high end of the sorted set at
/// `key`, deleting it when emptied.
fn pop(db: Db<'_>, key: &[u8], zset: ZSet, max: bool, count: u64) -> Result<Vec<(Vec<u8>, f64)>> {
    let mut popped = Vec::new();
    zset.walk_by_score(&db, None, max, 0, |member, score| {
        popped.push((member.to_vec(), score));
        Ok((popped.len() as u64) < count)
    })?;
    let mut writer = ZSetWriter::open(db, key, Some(zset));
    for (member, score) in &popped {
        writer.remove(member, *score);
    }
    writer.commit()?;
    Ok(popped)
}

pub(crate) fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    pop_generic(ctx, args, false)
}

pub(crate) fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    pop_generic(ctx, args, true)
}

fn pop_generic(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> Result<Reply> {
    if args.len() > 3 {
        return Err(Error::Syntax);
    }
    let count = match args.get(2) {
        Some(arg) => {
            // Redis's getPositiveLongFromObjectOrReply: one message for both failures.
            let count = parse_i64(arg).ok().filter(|c| *c >= 0);
            let count = count.ok_or_else(|| Error::err("value is out of range, must be positive"))?;
            Some(count as u64)
        }
        None => None,
    };
    let db = ctx.db();
    // Redis's genericZpopCommand checks the type before looking at a zero count.
    let Some(zset) = ZSet::load(&db, &args[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == Some(0) {
        return Ok(Reply::Array(Vec::new()));
    }
    let popped = pop(db, &args[1], zset, max, count.unwrap_or(1))?;
    // RESP3 nests the pairs only when COUNT was given.
    let resp = if count.is_some() { ctx.client.resp } else { RespVersion::Resp2 };
    Ok(scored_reply(popped, true, resp))
}

/// `ZMPOP`'s reply: `[key, [[member, score], ...]]` in both protocols.
fn mpop_reply(key: &Bytes, popped: Vec<(Vec<u8>, f64)>) -> Reply {
    Reply::Array(vec![Reply::Bulk(key.clone()), scored_reply(popped, true, RespVersion::Resp3)])
}

/// ZMPOP / BZMPOP arguments from `numkeys` on: the keys, MIN|MAX, COUNT.
struct MpopArgs<'a> {
    keys: &'a [Bytes],
    max: bool,
    count: u64,
}

fn parse_mpop(args: &[Bytes], numkeys_at: usize) -> Result<MpopArgs<'_>> {
    let numkeys = parse_i64(&args[numkeys_at]).map_err(|_| Error::err("numkeys should be greater than 0"))?;
    if numkeys < 1 {
        return Err(Error::err("numkeys should be greater than 0"));
    }
    let where_at = (numkeys as u64).saturating_add(numkeys_at as u64 + 1);
    if where_at >= args.len() as u64 {
        return Err(Error::Syntax);
    }
    let where_at = where_at as usize;
    let max = if is(&args[where_at], "min") {
        false
    } else if is(&args[where_at], "max") {
        true
    } else {
        return Err(Error::Syntax);
    };
    let mut count = None;
    let mut at = where_at + 1;
    while at < args.len() {
        if count.is_none() && is(&args[at], "count") && at + 1 < args.len() {
            let value = parse_i64(&args[at + 1]).map_err(|_| Error::err("count should be greater than 0"))?;
            if value < 1 {
                return Err(Error::err("count should be greater than 0"));
            }
            count = Some(value as u64);
            at += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok(MpopArgs { keys: &args[numkeys_at + 1..where_at], max, count: count.unwrap_or(1) })
}

/// Pops from the first non-empty key of `keys`: `None` if all are empty (or absent).
fn mpop_first(ctx: &mut Ctx<'_>, keys: &[Bytes], max: bool, count: u64) -> Result<Option<(Bytes, Scored)>> {
    let db = ctx.db();
    for key in keys {
        let zset = match ZSet::load(&db, key) {
            Ok(Some(zset)) => zset,
            Ok(None) => continue,
            // Re-run for a blocked client, a key of another type counts as empty: a key
            // created with the wrong type wakes nobody (see blocking.rs).
            Err(Error::WrongType) if ctx.serving_blocked() => continue,
            Err(e) => return Err(e),
        };
        return Ok(Some((key.clone(), pop(db, key, zset, max, count)?)));
    }
    Ok(None)
}

pub(crate) fn zmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let parsed = parse_mpop(args, 1)?;
    Ok(match mpop_first(ctx, parsed.keys, parsed.max, parsed.count)? {
        Some((key, popped)) => mpop_reply(&key, popped),
        None => Reply::NullArray,
    })
}

pub(crate) fn bzpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    bzpop_generic(ctx, args, false)
}

pub(crate) fn bzpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    bzpop_generic(ctx, args, true)
}

/// BZPOPMIN/BZPOPMAX: `[key, member, score]` from the first non-empty key, else block.
fn bzpop_generic(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> Result<Reply> {
    let deadline = parse_timeout(&args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    let Some((key, popped)) = mpop_first(ctx, keys, max, 1)? else {
        return Ok(ctx.block(keys, deadline, Reply::NullArray));
    };
    let mut out = vec![Reply::Bulk(key)];
    for (member, score) in popped {
        out.push(Reply::Bulk(Bytes::from(member)));
        out.push(Reply::Double(score));
    }
    Ok(Reply::Array(out))
}

/// BZMPOP: as ZMPOP, else block. Redis parses numkeys, MIN|MAX and COUNT before the timeout.
pub(crate) fn bzmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let parsed = parse_mpop(args, 2)?;
    let deadline = parse_timeout(&args[1])?;
    Ok(match mpop_first(ctx, parsed.keys, parsed.max, parsed.count)? {
        Some((key, popped)) => mpop_reply(&key, popped),
        None => ctx.block(parsed.keys, deadline, Reply::NullArray),
    })
}

/// Wakes clients blocked on `key` if it now holds a non-empty sorted set.
pub(crate) fn signal_key(ctx: &mut Ctx<'_>, key: &[u8], size: u64) {
    if size > 0 {
        ctx.signal_key_ready(key);
    }
}
