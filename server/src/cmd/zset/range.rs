//! Range commands: ZRANGE (BYSCORE/BYLEX/REV/LIMIT/WITHSCORES) and its older spellings,
//! ZRANGESTORE, ZCOUNT, ZLEXCOUNT, ZREMRANGEBYRANK/SCORE/LEX. Parsing follows Redis 7.0's
//! `zrangeGenericCommand` and `zremrangeGenericCommand`, so errors come in its order.

use bytes::Bytes;
use redrock_protocol::Reply;

use super::scored_reply;
use crate::cmd::args::{is, parse_i64};
use crate::cmd::Ctx;
use crate::error::{Error, Result};
use crate::types::zset::range::{LexRange, ScoreRange};
use crate::types::zset::{ZSet, ZSetWriter};

/// How the range's ends are read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Not fixed by the command name (ZRANGE, ZRANGESTORE): BYSCORE/BYLEX may choose.
    Auto,
    Rank,
    Score,
    Lex,
}

/// The order of the reply.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Not fixed by the command name: REV may choose.
    Auto,
    Forward,
    Reverse,
}

/// A parsed range.
enum Spec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

pub(crate) fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    range_generic(ctx, args, 1, false, Kind::Auto, Direction::Auto)
}

pub(crate) fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    range_generic(ctx, args, 2, true, Kind::Auto, Direction::Auto)
}

pub(crate) fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    range_generic(ctx, args, 1, false, Kind::Rank, Direction::Reverse)
}

pub(crate) fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    range_generic(ctx, args, 1, false, Kind::Score, Direction::Forward)
}

pub(crate) fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    range_generic(ctx, args, 1, false, Kind::Score, Direction::Reverse)
}

pub(crate) fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    range_generic(ctx, args, 1, false, Kind::Lex, Direction::Forward)
}

pub(crate) fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    range_generic(ctx, args, 1, false, Kind::Lex, Direction::Reverse)
}

/// Redis's `zrangeGenericCommand`; `src` is the index of the source key.
fn range_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    src: usize,
    store: bool,
    mut kind: Kind,
    mut direction: Direction,
) -> Result<Reply> {
    let (mut min_at, mut max_at) = (src + 1, src + 2);
    let mut with_scores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut at = src + 3;
    while at < args.len() {
        let left = args.len() - at - 1;
        let arg = &args[at];
        if !store && is(arg, "withscores") {
            with_scores = true;
        } else if is(arg, "limit") && left >= 2 {
            offset = parse_i64(&args[at + 1])?;
            limit = parse_i64(&args[at + 2])?;
            at += 2;
        } else if direction == Direction::Auto && is(arg, "rev") {
            direction = Direction::Reverse;
        } else if kind == Kind::Auto && is(arg, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && is(arg, "byscore") {
            kind = Kind::Score;
        } else {
            return Err(Error::Syntax);
        }
        at += 1;
    }
    let reverse = direction == Direction::Reverse;
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        return Err(Error::err("syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"));
    }
    if with_scores && kind == Kind::Lex {
        return Err(Error::err("syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    if reverse && kind != Kind::Rank {
        // Score and lex ranges are written max first when reversed.
        std::mem::swap(&mut min_at, &mut max_at);
    }
    let spec = match kind {
        Kind::Score => Spec::Score(ScoreRange::parse(&args[min_at], &args[max_at])?),
        Kind::Lex => Spec::Lex(LexRange::parse(&args[min_at], &args[max_at])?),
        Kind::Rank | Kind::Auto => Spec::Rank(parse_i64(&args[min_at])?, parse_i64(&args[max_at])?),
    };

    let db = ctx.db();
    let items = match ZSet::load(&db, &args[src])? {
        Some(zset) => collect(&db, &zset, &spec, reverse, offset, limit)?,
        None => Vec::new(),
    };
    if !store {
        return Ok(scored_reply(items, with_scores, ctx.client.resp));
    }
    let stored = items.len() as i64;
    let mut writer = ZSetWriter::replacing(db, &args[1]);
    for (member, score) in &items {
        writer.set(member, None, *score);
    }
    let size = writer.len();
    writer.commit()?;
    super::store::signal_key(ctx, &args[1], size);
    Ok(Reply::Integer(stored))
}

/// Clamps Redis rank arguments to `len`: `None` when the range is empty.
fn rank_window(start: i64, end: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as u64, end.min(len - 1) as u64))
}

/// The members of `spec` in reply order, after LIMIT `offset` `limit` (negative limit: all;
/// negative offset: nothing, as Redis's `while (offset--)` skips everything).
fn collect(
    db: &crate::db::Db<'_>,
    zset: &ZSet,
    spec: &Spec,
    reverse: bool,
    offset: i64,
    limit: i64,
) -> Result<Vec<(Vec<u8>, f64)>> {
    let mut out = Vec::new();
    let (skip, mut left) = match spec {
        Spec::Rank(start, end) => match rank_window(*start, *end, zset.len()) {
            Some((start, end)) => (start, end - start + 1),
            None => return Ok(out),
        },
        _ if offset < 0 || limit == 0 => return Ok(out),
        _ => (offset as u64, if limit < 0 { u64::MAX } else { limit as u64 }),
    };
    if skip >= zset.len() {
        return Ok(out);
    }
    let want = left;
    let visit = |member: &[u8], score: f64| {
        out.push((member.to_vec(), score));
        left -= 1;
        Ok(left > 0)
    };
    if let Spec::Rank(..) = spec {
        // Ranks are counted by walking: start from the nearer end, then put the walk in order.
        let len = zset.len();
        let from_far_end = len - skip - want;
        if from_far_end < skip {
            zset.walk_by_score(db, None, !reverse, from_far_end, visit)?;
            out.reverse();
        } else {
            zset.walk_by_score(db, None, reverse, skip, visit)?;
        }
        return Ok(out);
    }
    match spec {
        Spec::Rank(..) => {}
        Spec::Score(range) => zset.walk_by_score(db, Some(range), reverse, skip, visit)?,
        Spec::Lex(range) => zset.walk_by_lex(db, range, reverse, skip, visit)?,
    }
    Ok(out)
}

pub(crate) fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let range = ScoreRange::parse(&args[2], &args[3])?;
    let db = ctx.db();
    let mut count = 0i64;
    if let Some(zset) = ZSet::load(&db, &args[1])? {
        zset.walk_by_score(&db, Some(&range), false, 0, |_, _| {
            count += 1;
            Ok(true)
        })?;
    }
    Ok(Reply::Integer(count))
}

pub(crate) fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let range = LexRange::parse(&args[2], &args[3])?;
    let db = ctx.db();
    let mut count = 0i64;
    if let Some(zset) = ZSet::load(&db, &args[1])? {
        zset.walk_by_lex(&db, &range, false, 0, |_, _| {
            count += 1;
            Ok(true)
        })?;
    }
    Ok(Reply::Integer(count))
}

pub(crate) fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let spec = Spec::Rank(parse_i64(&args[2])?, parse_i64(&args[3])?);
    remove_range(ctx, args, spec)
}

pub(crate) fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let spec = Spec::Score(ScoreRange::parse(&args[2], &args[3])?);
    remove_range(ctx, args, spec)
}

pub(crate) fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let spec = Spec::Lex(LexRange::parse(&args[2], &args[3])?);
    remove_range(ctx, args, spec)
}

fn remove_range(ctx: &mut Ctx<'_>, args: &[Bytes], spec: Spec) -> Result<Reply> {
    let db = ctx.db();
    let Some(zset) = ZSet::load(&db, &args[1])? else {
        return Ok(Reply::Integer(0));
    };
    let doomed = collect(&db, &zset, &spec, false, 0, -1)?;
    if doomed.is_empty() {
        return Ok(Reply::Integer(0));
    }
    let mut writer = ZSetWriter::open(db, &args[1], Some(zset));
    for (member, score) in &doomed {
        writer.remove(member, *score);
    }
    writer.commit()?;
    Ok(Reply::Integer(doomed.len() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_windows_clamp_like_redis() {
        assert_eq!(rank_window(0, -1, 3), Some((0, 2)));
        assert_eq!(rank_window(-100, 100, 3), Some((0, 2)));
        assert_eq!(rank_window(2, 1, 3), None);
        assert_eq!(rank_window(3, 5, 3), None);
        assert_eq!(rank_window(-1, -1, 3), Some((2, 2)));
        assert_eq!(rank_window(0, -4, 3), None);
        assert_eq!(rank_window(i64::MIN, i64::MAX, 3), Some((0, 2)));
        assert_eq!(rank_window(0, 0, 0), None);
    }
}
