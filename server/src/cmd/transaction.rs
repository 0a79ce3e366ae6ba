//! Transactions: MULTI/EXEC/DISCARD and optimistic locking with WATCH/UNWATCH.
//!
//! Queueing happens in dispatch.rs (it must see every command before its handler). EXEC
//! takes the locks of every key of every queued command at once, in order, then runs them
//! one by one through the normal path (locks are re-entrant), so no other client's command
//! interleaves. Their writes join one RocksDB write that lands before EXEC replies
//! (storage/deferred.rs), so a crash keeps a transaction whole or not at all. Only a
//! transaction with a command the deferred writes' overlay cannot serve (a walk: KEYS, SCAN,
//! LRANGE, SMEMBERS, FLUSHALL...) lands what came before that command first.

use bytes::Bytes;
use redrock_protocol::Reply;

use super::spec::{acl, flag, key_flags, CommandSpec, Group, KeySpec};
use super::Ctx;
use crate::dispatch;
use crate::error::{Error, Result};
use crate::storage::deferred;
use crate::watch::MAX_WATCHED_KEYS_PER_CLIENT;

const CONTROL_FLAGS: u32 = flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::ALLOW_BUSY;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, Group::Transactions, multi).flags(CONTROL_FLAGS).acl(acl::TRANSACTION).doc(
        "1.2.0",
        "Mark the start of a transaction block",
        "O(1)",
    ),
    CommandSpec::new("exec", 1, Group::Transactions, exec)
        .flags(flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::SKIP_SLOWLOG)
        .acl(acl::TRANSACTION)
        .doc("1.2.0", "Execute all commands issued after MULTI", "Depends on commands in the transaction"),
    CommandSpec::new("discard", 1, Group::Transactions, discard).flags(CONTROL_FLAGS).acl(acl::TRANSACTION).doc(
        "2.0.0",
        "Discard all commands issued after MULTI",
        "O(N), when N is the number of queued commands",
    ),
    CommandSpec::new("watch", -2, Group::Transactions, watch)
        .flags(CONTROL_FLAGS)
        .acl(acl::TRANSACTION)
        .keys(&[KeySpec::range(1, -1, 1, key_flags::RO)])
        .doc("2.2.0", "Watch the given keys to determine execution of the MULTI/EXEC block", "O(1) for every key."),
    CommandSpec::new("unwatch", 1, Group::Transactions, unwatch).flags(CONTROL_FLAGS).acl(acl::TRANSACTION).doc(
        "2.2.0",
        "Forget about all watched keys",
        "O(1)",
    ),
];

fn multi(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    if ctx.client.multi.is_some() {
        return Err(Error::err("MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_dirty = false;
    Ok(Reply::ok())
}

fn discard(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    if ctx.client.multi.take().is_none() {
        return Err(Error::err("DISCARD without MULTI"));
    }
    ctx.client.multi_dirty = false;
    ctx.client.unwatch_all(&ctx.shared.watches);
    Ok(Reply::ok())
}

fn watch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    if ctx.client.multi.is_some() {
        return Err(Error::err("WATCH inside MULTI is not allowed"));
    }
    let db = ctx.shared.physical_db(ctx.client.db);
    for key in &args[1..] {
        let watch_key = (ctx.client.namespace.to_vec(), db, key.to_vec());
        if ctx.client.watched.iter().any(|(k, _)| *k == watch_key) {
            continue;
        }
        if ctx.client.watched.len() >= MAX_WATCHED_KEYS_PER_CLIENT {
            return Err(Error::err("too many watched keys"));
        }
        let seen = ctx.shared.watches.watch(watch_key.clone());
        ctx.client.watched.push((watch_key, seen));
    }
    Ok(Reply::ok())
}

fn unwatch(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    ctx.client.unwatch_all(&ctx.shared.watches);
    Ok(Reply::ok())
}

fn exec(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    let Some(queued) = ctx.client.multi.take() else {
        return Err(Error::err("EXEC without MULTI"));
    };
    if std::mem::take(&mut ctx.client.multi_dirty) {
        ctx.client.unwatch_all(&ctx.shared.watches);
        return Err(Error::Coded("EXECABORT Transaction discarded because of previous errors.".into()));
    }
    let mut specs = Vec::with_capacity(queued.len());
    for args in &queued {
        // Every queued command passed these checks when it was queued.
        specs.push(dispatch::resolve(args)?.0);
    }
    // A command that changes databases or touches whole ones makes the key set unknowable
    // up front: then the transaction holds every stripe.
    let whole_db = specs.iter().any(|s| s.flags & flag::LOCKS_ALL_KEYS != 0 || s.name == "select");
    let namespace = ctx.client.namespace.clone();
    let _guards = if whole_db {
        ctx.shared.locks.lock_all()
    } else {
        let keys: Vec<&[u8]> = queued
            .iter()
            .zip(&specs)
            .flat_map(|(args, spec)| spec.key_positions(args).into_iter().map(move |i| &args[i][..]))
            .collect();
        ctx.shared.lock_keys(&namespace, ctx.client.db, keys.iter().copied())
    };
    let aborted = ctx.client.watched.iter().any(|(key, seen)| ctx.shared.watches.modified(key, *seen));
    ctx.client.unwatch_all(&ctx.shared.watches);
    if aborted {
        return Ok(Reply::NullArray);
    }
    // Blocking commands answer at once inside a transaction, as in Redis.
    let deny_blocking = std::mem::replace(&mut ctx.client.deny_blocking, true);
    // The transaction's writes land as one RocksDB write, so a crash never leaves part of it
    // (storage/deferred.rs; the commands read each other's writes through its overlay). EXEC
    // itself runs with the connection's deferred writes set aside, so this joint write is its
    // own. A read the overlay cannot serve (an iterator) lands what came before it first.
    deferred::begin();
    let replies =
        queued.iter().zip(specs).map(|(args, spec)| dispatch::run_queued(ctx.shared, ctx.client, spec, args)).collect();
    let landed = ctx.shared.storage.commit_deferred();
    let failed_under_an_iterator = deferred::end();
    ctx.client.deny_blocking = deny_blocking;
    if let Some(failure) = failed_under_an_iterator {
        return Err(failure.into());
    }
    landed?;
    Ok(Reply::Array(replies))
}
