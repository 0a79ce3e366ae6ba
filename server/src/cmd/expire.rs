//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX/XX/GT/LT), TTL, PTTL,
//! EXPIRETIME, PEXPIRETIME, PERSIST. Expire times are Unix milliseconds in the key's
//! metadata record (0 = none); reads treat a passed time as absent, the active cycle in
//! `crate::expire` deletes for real.

use bytes::Bytes;
use redrock_protocol::Reply;

use super::args::{parse_i64, text};
use super::spec::{acl, flag, key_flags, CommandSpec, Group, KeySpec};
use super::Ctx;
use crate::error::{Error, Result};
use crate::storage::now_ms;

const EXPIRE_KEYS: &[KeySpec] = &[KeySpec::single(1, key_flags::RW_UPDATE)];
const TTL_KEYS: &[KeySpec] = &[KeySpec::single(1, key_flags::RO_ACCESS)];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("expire", -3, Group::Generic, expire)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::KEYSPACE)
        .keys(EXPIRE_KEYS)
        .doc("1.0.0", "Set a key's time to live in seconds", "O(1)"),
    CommandSpec::new("pexpire", -3, Group::Generic, pexpire)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::KEYSPACE)
        .keys(EXPIRE_KEYS)
        .doc("2.6.0", "Set a key's time to live in milliseconds", "O(1)"),
    CommandSpec::new("expireat", -3, Group::Generic, expireat)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::KEYSPACE)
        .keys(EXPIRE_KEYS)
        .doc("1.2.0", "Set the expiration for a key as a UNIX timestamp", "O(1)"),
    CommandSpec::new("pexpireat", -3, Group::Generic, pexpireat)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::KEYSPACE)
        .keys(EXPIRE_KEYS)
        .doc("2.6.0", "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "O(1)"),
    CommandSpec::new("ttl", 2, Group::Generic, ttl)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::KEYSPACE)
        .keys(TTL_KEYS)
        .tips(&["nondeterministic_output"])
        .doc("1.0.0", "Get the time to live for a key in seconds", "O(1)"),
    CommandSpec::new("pttl", 2, Group::Generic, pttl)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::KEYSPACE)
        .keys(TTL_KEYS)
        .tips(&["nondeterministic_output"])
        .doc("2.6.0", "Get the time to live for a key in milliseconds", "O(1)"),
    CommandSpec::new("expiretime", 2, Group::Generic, expiretime)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::KEYSPACE)
        .keys(TTL_KEYS)
        .doc("7.0.0", "Get the expiration Unix timestamp for a key", "O(1)"),
    CommandSpec::new("pexpiretime", 2, Group::Generic, pexpiretime)
        .flags(flag::READONLY | flag::FAST | flag::POINT_READ)
        .acl(acl::KEYSPACE)
        .keys(TTL_KEYS)
        .doc("7.0.0", "Get the expiration Unix timestamp for a key in milliseconds", "O(1)"),
    CommandSpec::new("persist", 2, Group::Generic, persist)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::KEYSPACE)
        .keys(EXPIRE_KEYS)
        .doc("2.2.0", "Remove the expiration from a key", "O(1)"),
];

/// The NX/XX/GT/LT options of the EXPIRE family.
#[derive(Clone, Copy, Default)]
struct Condition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Condition {
    /// Redis's `parseExtendedExpireArgumentsOrReply` (options are checked before the time).
    fn parse(options: &[Bytes]) -> Result<Condition> {
        let mut c = Condition::default();
        for option in options {
            match option.to_ascii_lowercase().as_slice() {
                b"nx" => c.nx = true,
                b"xx" => c.xx = true,
                b"gt" => c.gt = true,
                b"lt" => c.lt = true,
                _ => return Err(Error::err(format!("Unsupported option {}", text(option)))),
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(Error::err("NX and XX, GT or LT options at the same time are not compatible"));
        }
        if c.gt && c.lt {
            return Err(Error::err("GT and LT options at the same time are not compatible"));
        }
        Ok(c)
    }

    /// Whether the new time `when_ms` may replace `current_ms` (`None` = no expiry, which
    /// GT and LT treat as an infinite TTL).
    fn allows(self, current_ms: Option<i64>, when_ms: i64) -> bool {
        match current_ms {
            None => !self.xx && !self.gt,
            Some(current) => {
                let refused = self.nx || (self.gt && when_ms <= current) || (self.lt && when_ms >= current);
                !refused
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Milliseconds,
}

fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    expire_generic(ctx, args, now_ms() as i64, Unit::Seconds)
}

fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    expire_generic(ctx, args, now_ms() as i64, Unit::Milliseconds)
}

fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    expire_generic(ctx, args, 0, Unit::Seconds)
}

fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    expire_generic(ctx, args, 0, Unit::Milliseconds)
}

/// Redis's `expireGenericCommand`: options, then the time (an overflow in the unit
/// conversion or the addition of `base_ms` is `invalid expire time`), then the key. A time
/// already past deletes the key and still replies 1.
fn expire_generic(ctx: &mut Ctx<'_>, args: &[Bytes], base_ms: i64, unit: Unit) -> Result<Reply> {
    let condition = Condition::parse(&args[3..])?;
    let invalid = || Error::InvalidExpireTime(args[0].to_ascii_lowercase().iter().map(|&b| b as char).collect());
    let mut when = parse_i64(&args[2])?;
    if unit == Unit::Seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    let when = when.checked_add(base_ms).ok_or_else(invalid)?;

    let db = ctx.db();
    let Some(record) = db.lookup(&args[1])? else {
        return Ok(Reply::Integer(0));
    };
    let current = (record.meta.expire_ms != 0).then_some(record.meta.expire_ms as i64);
    if !condition.allows(current, when) {
        return Ok(Reply::Integer(0));
    }
    let mut batch = db.storage.batch();
    if when <= now_ms() as i64 {
        db.delete_in(&mut batch, &args[1]);
    } else {
        db.set_expire_in(&mut batch, &args[1], &record, when as u64);
    }
    db.storage.write(batch)?;
    Ok(Reply::Integer(1))
}

/// What TTL and friends report.
#[derive(Clone, Copy)]
enum TtlOutput {
    RelativeSeconds,
    RelativeMilliseconds,
    AbsoluteSeconds,
    AbsoluteMilliseconds,
}

/// Redis's `ttlGenericCommand`: -2 for a missing key, -1 without expiry; seconds are
/// rounded to the nearest (`(ms + 500) / 1000`), also for EXPIRETIME.
fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], output: TtlOutput) -> Result<Reply> {
    let Some(record) = ctx.db().lookup(key)? else {
        return Ok(Reply::Integer(-2));
    };
    if record.meta.expire_ms == 0 {
        return Ok(Reply::Integer(-1));
    }
    let expire_ms = record.meta.expire_ms as i64;
    let ms = match output {
        TtlOutput::RelativeSeconds | TtlOutput::RelativeMilliseconds => (expire_ms - now_ms() as i64).max(0),
        TtlOutput::AbsoluteSeconds | TtlOutput::AbsoluteMilliseconds => expire_ms,
    };
    Ok(Reply::Integer(match output {
        TtlOutput::RelativeMilliseconds | TtlOutput::AbsoluteMilliseconds => ms,
        // Redis computes `(ms + 500) / 1000` on a `long long`; what its build prints for
        // an expiry near i64::MAX is the exact quotient, so compute it without overflow.
        TtlOutput::RelativeSeconds | TtlOutput::AbsoluteSeconds => ((i128::from(ms) + 500) / 1000) as i64,
    }))
}

fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    ttl_generic(ctx, &args[1], TtlOutput::RelativeSeconds)
}

fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    ttl_generic(ctx, &args[1], TtlOutput::RelativeMilliseconds)
}

fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    ttl_generic(ctx, &args[1], TtlOutput::AbsoluteSeconds)
}

fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    ttl_generic(ctx, &args[1], TtlOutput::AbsoluteMilliseconds)
}

/// 1 if an expiry was removed, 0 if the key is missing or has none.
fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let Some(record) = db.lookup(&args[1])? else {
        return Ok(Reply::Integer(0));
    };
    if record.meta.expire_ms == 0 {
        return Ok(Reply::Integer(0));
    }
    let mut batch = db.storage.batch();
    db.set_expire_in(&mut batch, &args[1], &record, 0);
    db.storage.write(batch)?;
    Ok(Reply::Integer(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(options: &[&str]) -> Result<Condition> {
        let options: Vec<Bytes> = options.iter().map(|o| Bytes::copy_from_slice(o.as_bytes())).collect();
        Condition::parse(&options)
    }

    #[test]
    fn conditions_follow_redis() {
        let nx = parse(&["nx"]).unwrap();
        assert!(nx.allows(None, 5) && !nx.allows(Some(1), 5));
        let xx = parse(&["XX"]).unwrap();
        assert!(!xx.allows(None, 5) && xx.allows(Some(1), 5));
        let gt = parse(&["gt"]).unwrap();
        assert!(!gt.allows(None, 5) && gt.allows(Some(1), 5) && !gt.allows(Some(5), 5));
        let lt = parse(&["lt"]).unwrap();
        assert!(lt.allows(None, 5) && lt.allows(Some(9), 5) && !lt.allows(Some(5), 5));
        let xx_gt = parse(&["xx", "gt"]).unwrap();
        assert!(!xx_gt.allows(None, 5) && xx_gt.allows(Some(1), 5));
    }

    #[test]
    fn incompatible_options_are_errors() {
        assert!(parse(&["nx", "xx"]).is_err());
        assert!(parse(&["lt", "nx"]).is_err());
        assert!(parse(&["gt", "lt"]).is_err());
        assert!(parse(&["bogus"]).is_err());
    }
}
