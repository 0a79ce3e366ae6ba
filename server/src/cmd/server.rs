//! Server commands: the database as a whole and the process.

use bytes::Bytes;
use redrock_protocol::Reply;

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use super::args::{is, parse_i64};
use super::spec::{acl, flag, CommandSpec, Group};
use super::Ctx;
use crate::error::{Error, Result};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dbsize", 1, Group::Server, dbsize)
        .flags(flag::READONLY | flag::FAST)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:all_shards", "response_policy:agg_sum"])
        .doc("1.0.0", "Return the number of keys in the selected database", "O(1)"),
    CommandSpec::new("flushdb", -1, Group::Server, flushdb)
        .flags(flag::WRITE | flag::LOCKS_ALL_KEYS)
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "1.0.0",
            "Remove all keys from the current database",
            "O(N) where N is the number of keys in the selected database",
        ),
    CommandSpec::new("flushall", -1, Group::Server, flushall)
        .flags(flag::WRITE | flag::LOCKS_ALL_KEYS)
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "1.0.0",
            "Remove all keys from all databases",
            "O(N) where N is the total number of keys in all databases",
        ),
    CommandSpec::new("swapdb", 3, Group::Server, swapdb)
        .flags(flag::WRITE | flag::FAST)
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .doc(
            "4.0.0",
            "Swaps two Redis databases",
            "O(N) where N is the count of clients watching or blocking on keys from both databases.",
        ),
    CommandSpec::new("time", 1, Group::Server, time)
        .flags(flag::LOADING | flag::STALE | flag::FAST)
        .tips(&["nondeterministic_output"])
        .doc("2.6.0", "Return the current server time", "O(1)"),
    CommandSpec::new("lastsave", 1, Group::Server, lastsave)
        .flags(flag::LOADING | flag::STALE | flag::FAST)
        .acl(acl::ADMIN | acl::DANGEROUS)
        .tips(&["nondeterministic_output"])
        .doc("1.0.0", "Get the UNIX time stamp of the last successful save to disk", "O(1)"),
    CommandSpec::new("shutdown", -1, Group::Server, shutdown)
        .flags(flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::NO_MULTI | flag::ALLOW_BUSY)
        .doc(
            "1.0.0",
            "Synchronously save the dataset to disk and then shut down the server",
            "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        ),
];

/// `SWAPDB index1 index2`: O(1), a swap of the logical→physical database map.
fn swapdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db_index = |arg: &Bytes, which: &str| {
        parse_i64(arg)
            .ok()
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| Error::err(format!("invalid {which} DB index")))
    };
    let first = db_index(&args[1], "first")?;
    let second = db_index(&args[2], "second")?;
    let databases = ctx.shared.databases as i64;
    if !(0..databases).contains(&first) || !(0..databases).contains(&second) {
        return Err(Error::DbIndexOutOfRange);
    }
    if first != second {
        ctx.shared.swap_dbs(first as usize, second as usize)?;
    }
    Ok(Reply::ok())
}

/// `[unix seconds, microseconds]` as two bulk strings.
fn time(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Ok(Reply::Array(vec![
        Reply::Bulk(Bytes::from(now.as_secs().to_string())),
        Reply::Bulk(Bytes::from(now.subsec_micros().to_string())),
    ]))
}

/// Every acknowledged write is already durable; the last "save" is the start-up time.
fn lastsave(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(ctx.shared.saves.last_unix_s.load(Ordering::Relaxed) as i64))
}

/// A walk of the database, off the worker thread (offload.rs).
fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    let (namespace, logical) = (ctx.client.namespace.clone(), ctx.client.db);
    ctx.offload(move |shared, wanted| {
        let counted = shared.db(&namespace, logical).count_keys(|| wanted.still())?;
        Ok(counted.map(|(keys, _)| Reply::Integer(keys as i64)))
    })
}

/// `[ASYNC|SYNC]`: both are O(1) range deletions here.
fn flush_mode(args: &[Bytes]) -> Result<()> {
    match args.len() {
        1 => Ok(()),
        2 if is(&args[1], "async") || is(&args[1], "sync") => Ok(()),
        _ => Err(Error::Syntax),
    }
}

fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    flush_mode(args)?;
    let db = ctx.db();
    let mut batch = db.storage.batch();
    db.flush_in(&mut batch)?;
    // WATCH learns the flushed keys from the batch (storage/written.rs).
    db.storage.write(batch)?;
    Ok(Reply::ok())
}

fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    flush_mode(args)?;
    let mut batch = ctx.shared.storage.batch();
    for logical in 0..ctx.shared.databases {
        ctx.shared.db(&ctx.client.namespace, logical).flush_in(&mut batch)?;
    }
    ctx.shared.storage.write(batch)?;
    Ok(Reply::ok())
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: every write is already durable, so the
/// save options only need validating. Like Redis, a successful shutdown sends no reply.
fn shutdown(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let (mut save, mut nosave, mut abort) = (false, false, false);
    for arg in &args[1..] {
        if is(arg, "save") {
            save = true;
        } else if is(arg, "nosave") {
            nosave = true;
        } else if is(arg, "abort") {
            abort = true;
        } else if !(is(arg, "now") || is(arg, "force")) {
            return Err(Error::Syntax);
        }
    }
    if (save && nosave) || (abort && args.len() > 2) {
        return Err(Error::Syntax);
    }
    if abort {
        return Err(Error::err("No shutdown in progress."));
    }
    // server::run syncs the WAL once every listener has stopped, then the process exits.
    ctx.shared.request_shutdown();
    ctx.client.close_without_reply = true;
    Ok(Reply::ok())
}
