//! One request's way through the checks to its handler: table lookup, arity, authentication,
//! MULTI queueing, key locks. The checks run in Redis 7.0's order, so the same bad request
//! gets the same error.

use std::sync::Arc;

use bytes::Bytes;
use redrock_protocol::Reply;

use crate::acl;
use crate::client::ClientState;
use crate::cmd::spec::{flag, Handler};
use crate::cmd::{table, CommandSpec, Ctx};
use crate::error::Error;
use crate::shared::{Shared, Stats};
use crate::storage::{self, deferred};
use crate::write_session::WriteSession;

/// Commands queued in one MULTI before further ones are refused.
pub const MAX_MULTI_QUEUED_COMMANDS: usize = 1_000_000;

/// Commands that act at once inside MULTI instead of being queued (Redis's list).
const TRANSACTION_CONTROL: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];

/// Commands a tenant may not run although Redis gives them no `admin` flag: they reach
/// every namespace's data (SWAPDB's map is server-wide) or, in Kvrocks, all of it (FLUSHALL).
const ADMIN_ONLY: &[&str] = &["flushall", "swapdb"];

/// Whether a connection in a tenant's namespace is refused `spec` (see namespace.rs).
fn admin_only(spec: &CommandSpec, parent: Option<&CommandSpec>) -> bool {
    spec.flags & flag::ADMIN != 0 || ADMIN_ONLY.contains(&parent.unwrap_or(spec).name)
}

/// Resolves `args` to the (sub)command spec that handles it, with Redis's errors for unknown
/// commands, unknown subcommands and wrong arity.
pub fn resolve(args: &[Bytes]) -> Result<(&'static CommandSpec, Option<&'static CommandSpec>), Error> {
    let Some(spec) = table::lookup(&args[0]) else {
        return Err(Error::unknown_command(args));
    };
    if spec.subcommands.is_empty() || args.len() < 2 {
        if !spec.arity_accepts(args.len()) {
            return Err(Error::WrongArity(spec.name.to_string()));
        }
        return Ok((spec, None));
    }
    let Some(sub) = table::lookup_subcommand(spec, &args[1]) else {
        return Err(Error::unknown_subcommand(spec.name, &args[1]));
    };
    if !sub.arity_accepts(args.len()) {
        return Err(Error::WrongArity(table::full_name(sub, Some(spec))));
    }
    Ok((sub, Some(spec)))
}

/// Whether `args` is a command a `CLIENT PAUSE` holds, and if so whether it writes (a
/// `WRITE` pause holds only those); `None` for requests rejected before they could run.
pub fn pausable(args: &[Bytes]) -> Option<bool> {
    let (spec, _) = resolve(args).ok()?;
    Some(spec.flags & (flag::WRITE | flag::MAY_REPLICATE) != 0)
}

/// Executes one request from a client and returns its reply; its writes go through the
/// connection's `session` (write_session.rs). Clients blocked on keys the command made ready
/// are served before the reply leaves (see blocking.rs), once those writes landed. `args` is
/// taken only by MULTI's queue; otherwise its room serves the connection's next request.
pub fn execute(
    shared: &Arc<Shared>,
    client: &mut ClientState,
    args: &mut Vec<Bytes>,
    session: &mut WriteSession<'_>,
) -> Reply {
    let reply = execute_checked(shared, client, args, session);
    if let Reply::Error(text) = &reply {
        shared.stats.add_error(text);
    }
    if shared.blocking.has_ready() {
        // The waiters' commands read what this one wrote, and their replies leave on their
        // own connections: their writes land at once.
        session.commit();
        let _straight = deferred::suspend();
        shared.blocking.serve_ready(shared);
    }
    reply
}

/// [`execute`] for a request that arrives alone (in-process callers: tests, benchmarks): in its
/// own write session, whose writes land before this returns.
pub fn execute_alone(shared: &Arc<Shared>, client: &mut ClientState, mut args: Vec<Bytes>) -> Reply {
    let mut session = WriteSession::begin(shared);
    let reply = execute(shared, client, &mut args, &mut session);
    session.replied(0);
    match session.finish() {
        Some((_, error)) => error.into(),
        None => reply,
    }
}

fn execute_checked(
    shared: &Arc<Shared>,
    client: &mut ClientState,
    args: &mut Vec<Bytes>,
    session: &mut WriteSession<'_>,
) -> Reply {
    let (spec, parent) = match resolve(args) {
        Ok(found) => found,
        Err(e) => {
            client.flag_transaction();
            return e.into();
        }
    };
    *client.handle.last_command.lock().unwrap_or_else(|e| e.into_inner()) = Some((spec, parent));
    if !client.authenticated && spec.flags & flag::NO_AUTH == 0 && shared.acl.users.auth_required() {
        client.flag_transaction();
        return Error::NoAuth.into();
    }
    if client.multi.is_some() && spec.flags & flag::NO_MULTI != 0 && !is_transaction_control(spec, parent) {
        client.multi_dirty = true;
        return Error::err("Command not allowed inside a transaction").into();
    }
    if let Some(reply) = acl_denied(shared, client, spec, parent, args) {
        client.flag_transaction();
        return reply;
    }
    if !client.admin && admin_only(spec, parent) {
        client.flag_transaction();
        return Error::AdminRequired.into();
    }
    if spec.flags & flag::DENYOOM != 0 {
        let max_db_size_gb =
            shared.disk_quota.limit_gb(shared.config_generation(), || shared.config().get_u64("max-db-size"));
        if let Err(e) = shared.disk_quota.check(max_db_size_gb, || shared.storage.approximate_size_bytes()) {
            client.flag_transaction();
            return e.into();
        }
    }
    if let Some(queue) = client.multi.as_mut() {
        if !is_transaction_control(spec, parent) {
            if queue.len() >= MAX_MULTI_QUEUED_COMMANDS {
                client.multi_dirty = true;
                return Error::err("Transaction queue is full").into();
            }
            queue.push(std::mem::take(args));
            return Reply::Simple(Bytes::from_static(b"QUEUED"));
        }
    }
    run_in(shared, client, spec, args, Writes::Session(session))
}

/// How a command's writes reach the database.
enum Writes<'a, 's> {
    /// Each batch lands when it is written.
    Immediate,
    /// Deferred into the connection's write session (write_session.rs), when the command
    /// reaches only its own keys.
    Session(&'a mut WriteSession<'s>),
    /// Deferred into the joint write of the caller, which lands it (EXEC's transaction).
    Joined,
}

fn is_transaction_control(spec: &CommandSpec, parent: Option<&CommandSpec>) -> bool {
    parent.is_none() && TRANSACTION_CONTROL.contains(&spec.name)
}

/// The ACL check (see acl/mod.rs): `None` when the connection's user may run the command.
/// The default user with every permission costs one atomic load.
fn acl_denied(
    shared: &Shared,
    client: &mut ClientState,
    spec: &CommandSpec,
    parent: Option<&CommandSpec>,
    args: &[Bytes],
) -> Option<Reply> {
    let user = client.user.as_ref().unwrap_or_else(|| shared.acl.users.default_user());
    if user.unrestricted() {
        return None;
    }
    if user.removed() {
        // ACL DELUSER closes the user's connections; a command already read is not run.
        client.set_user(None);
        client.authenticated = false;
        client.close_without_reply = true;
        return Some(Error::NoAuth.into());
    }
    let denial = acl::enforce(shared, client, spec, parent, args)?;
    Some(acl::denial_error(denial, spec, parent).into())
}

/// Runs a command queued by MULTI, for EXEC: the ACL check again first, since the rules
/// may have changed since it was queued (Redis's `execCommand`). Its writes join EXEC's
/// joint write, which EXEC lands.
pub fn run_queued(shared: &Arc<Shared>, client: &mut ClientState, spec: &'static CommandSpec, args: &[Bytes]) -> Reply {
    let user = client.user.as_ref().unwrap_or_else(|| shared.acl.users.default_user());
    if !user.unrestricted() {
        if let Ok((spec, parent)) = resolve(args) {
            if let Some(denial) = acl::enforce(shared, client, spec, parent, args) {
                return acl::exec_denial_error(denial).into();
            }
        }
    }
    run_in(shared, client, spec, args, Writes::Joined)
}

/// Runs a resolved command: takes its key locks (re-entrant: EXEC already holds them),
/// calls the handler, and tells WATCH about the keys a successful write changed. Its writes
/// land before it returns.
pub fn run(shared: &Arc<Shared>, client: &mut ClientState, spec: &'static CommandSpec, args: &[Bytes]) -> Reply {
    run_in(shared, client, spec, args, Writes::Immediate)
}

/// [`run`], with the writes of a command that reaches only its own keys deferred into
/// `session` (write_session.rs), which then holds its key locks.
fn run_in(
    shared: &Arc<Shared>,
    client: &mut ClientState,
    spec: &'static CommandSpec,
    args: &[Bytes],
    writes: Writes<'_, '_>,
) -> Reply {
    let Some(handler) = spec.handler else {
        return Error::unknown_subcommand(spec.name, args.get(1).map(|a| &a[..]).unwrap_or(b"")).into();
    };
    let positions = spec.key_positions(args);
    if positions.len() == 1 && spec.flags & flag::POINT_READ != 0 && matches!(writes, Writes::Session(_)) {
        if let Some(reply) = run_unlocked(shared, client, handler, args) {
            return reply;
        }
    }
    let namespace = client.namespace.clone();
    let keys = || positions.iter().map(|&i| &args[i][..]);
    let mut deferring = None;
    let mut _straight = None;
    let mut _guards = None;
    match writes {
        Writes::Session(session) if !positions.is_empty() && spec.flags & flag::LOCKS_ALL_KEYS == 0 => {
            shared.lock_in_named_db(
                client.db,
                session,
                |session, physical_db| session.lock(shared.locks.stripes(&namespace, physical_db, keys())),
                |session, ()| session.unlock(),
            );
            deferring = Some((session, deferred::deferred_batches()));
        }
        writes => {
            match writes {
                Writes::Session(session) => {
                    session.commit();
                    _straight = Some(deferred::suspend());
                }
                Writes::Immediate => _straight = Some(deferred::suspend()),
                Writes::Joined => {}
            }
            _guards = if spec.flags & flag::LOCKS_ALL_KEYS != 0 {
                Some(shared.locks.lock_all())
            } else {
                (!positions.is_empty()).then(|| shared.lock_keys(&namespace, client.db, keys()))
            };
        }
    }
    // Whatever an earlier command on this thread left in the log is not this command's.
    let _ = storage::written::take();
    let reply = call(shared, client, handler, args);
    // Counted once the command ran, as Redis's `call()` does (rejected requests are not).
    Stats::add(&shared.stats.total_commands_processed, 1);
    signal_written_keys(shared);
    // Registered under the key locks, so no write can come between "found nothing" and
    // "waits" (see blocking.rs).
    if let Some(request) = client.block_request.take() {
        client.blocked = Some(shared.blocking.register(client, spec, args, request));
    }
    if let Some((session, deferred_batches_before)) = deferring {
        session.ran(deferred_batches_before);
    }
    reply
}

/// Runs a point read without its key lock (`flag::POINT_READ`, locks.rs): `None` if a command
/// holding the whole keyspace ran meanwhile, or is running, on another thread; the command
/// must then run under its lock. (Its keyspace hit or miss then counts twice, in INFO's
/// `keyspace_hits`/`keyspace_misses`: the key was looked up twice.)
fn run_unlocked(shared: &Arc<Shared>, client: &mut ClientState, handler: Handler, args: &[Bytes]) -> Option<Reply> {
    let epoch = shared.locks.whole_keyspace_epoch()?;
    let reply = call(shared, client, handler, args);
    if !shared.locks.whole_keyspace_unchanged_since(epoch) {
        return None;
    }
    Stats::add(&shared.stats.total_commands_processed, 1);
    Some(reply)
}

/// Runs a command's `handler`: its reply, or its error rendered as one.
pub fn call(shared: &Arc<Shared>, client: &mut ClientState, handler: Handler, args: &[Bytes]) -> Reply {
    match handler(&mut Ctx { shared, client }, args) {
        Ok(reply) => reply,
        Err(e) => e.into(),
    }
}

/// Tells WATCH exactly the keys that the batches written on this thread since the last
/// `storage::written::take()` changed (Redis's signalModifiedKey): `SET k v NX` on an
/// existing key or `DEL missing` change nothing. Called after every handler, here and when
/// blocking.rs re-runs a waiter's command.
pub fn signal_written_keys(shared: &Shared) {
    let written = storage::written::take();
    for (ns, db, key) in &written.keys {
        shared.watches.touch(ns, *db, std::iter::once(&key[..]));
    }
    for (ns, db) in &written.whole_dbs {
        shared.watches.touch_db(ns, Some(*db));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::cmd::spec::{key_flags, Group, KeySpec};
    use crate::config::Config;
    use crate::storage::{Storage, StorageOptions};
    use crate::types::string;

    fn words(line: &str) -> Vec<Bytes> {
        line.split(' ').map(|word| Bytes::copy_from_slice(word.as_bytes())).collect()
    }

    fn client(shared: &Shared, db: usize) -> ClientState {
        let mut client = ClientState::new(shared.clients.register("127.0.0.1:1".into(), "127.0.0.1:2".into()), true);
        client.db = db;
        client
    }

    static RUNS: AtomicUsize = AtomicUsize::new(0);

    /// GET, but between naming its database and reading the key it lets another thread swap
    /// databases 0 and 1 and write the key in database 1, which now names the one it read.
    fn get_across_a_swap(ctx: &mut Ctx<'_>, args: &[Bytes]) -> crate::error::Result<Reply> {
        let db = ctx.db();
        if RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
            let shared = ctx.shared.clone();
            std::thread::spawn(move || {
                shared.swap_dbs(0, 1).unwrap();
                run(&shared, &mut client(&shared, 1), table::lookup(b"set").unwrap(), &words("SET k written-after"));
            })
            .join()
            .unwrap();
        }
        Ok(string::get(&db, &args[1])?.map_or(Reply::Null, |record| Reply::Bulk(string::value_of(record))))
    }

    /// A write that checks, as it runs, that its thread holds its key's stripe in the database
    /// it works on.
    fn write_checking_its_stripe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> crate::error::Result<Reply> {
        let db = ctx.db();
        assert!(ctx.shared.locks.holds(db.ns, db.index, &args[1]), "works on keys whose stripe another may hold");
        Ok(Reply::ok())
    }

    #[test]
    fn a_command_that_waited_for_its_stripe_through_a_swapdb_holds_it_in_the_database_it_works_on() {
        let dir = tempfile::TempDir::with_prefix("redrock-lock-across-swap-").unwrap();
        let storage = Storage::open(dir.path(), &StorageOptions::default()).unwrap();
        let shared = Arc::new(Shared::new(storage, Config::default()).unwrap());
        let spec: &'static CommandSpec = Box::leak(Box::new(
            CommandSpec::new("set", 3, Group::String, write_checking_its_stripe)
                .flags(flag::WRITE)
                .keys(Box::leak(Box::new([KeySpec::single(1, key_flags::RW_ACCESS_UPDATE)]))),
        ));
        let args = words("SET k v");
        for in_session in [true, false] {
            // SWAPDB on another thread, holding every stripe as it does, while this thread
            // reads the database map and waits for its key's stripe.
            let (held, holding) = std::sync::mpsc::channel();
            let swapper = {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let all = shared.locks.lock_all();
                    held.send(()).unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    shared.swap_dbs(0, 1).unwrap();
                    drop(all);
                })
            };
            holding.recv().unwrap();
            let mut writer = client(&shared, 0);
            let reply = if in_session {
                let mut session = WriteSession::begin(&shared);
                let reply = run_in(&shared, &mut writer, spec, &args, Writes::Session(&mut session));
                drop(session.park());
                reply
            } else {
                run(&shared, &mut writer, spec, &args)
            };
            assert_eq!(reply, Reply::ok());
            swapper.join().unwrap();
        }
        drop(shared);
        drop(dir);
    }

    #[test]
    fn an_unlocked_read_that_overlapped_a_whole_keyspace_command_runs_again_under_its_lock() {
        let dir = tempfile::TempDir::with_prefix("redrock-unlocked-read-").unwrap();
        let storage = Storage::open(dir.path(), &StorageOptions::default()).unwrap();
        let shared = Arc::new(Shared::new(storage, Config::default()).unwrap());
        run(&shared, &mut client(&shared, 0), table::lookup(b"set").unwrap(), &words("SET k zero"));
        run(&shared, &mut client(&shared, 1), table::lookup(b"set").unwrap(), &words("SET k one"));
        let spec: &'static CommandSpec = Box::leak(Box::new(
            CommandSpec::new("get", 2, Group::String, get_across_a_swap)
                .flags(flag::READONLY | flag::POINT_READ)
                .keys(Box::leak(Box::new([KeySpec::single(1, key_flags::RO_ACCESS)]))),
        ));
        let mut session = WriteSession::begin(&shared);
        let mut reader = client(&shared, 0);
        let get = words("GET k");
        let reply = run_in(&shared, &mut reader, spec, &get, Writes::Session(&mut session));
        drop(session.park());
        // The first run read "written-after", which database 0 never held.
        assert_eq!(RUNS.load(Ordering::SeqCst), 2, "run again");
        assert_eq!(reply, Reply::Bulk(Bytes::from_static(b"one")), "database 0 after the swap");
        drop(shared);
        drop(dir);
    }
}
