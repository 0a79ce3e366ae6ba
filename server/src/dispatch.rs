//! One request's way through the checks to its handler: table lookup, arity, authentication,
//! key locks. The checks run in Redis 7.0's order, so the same bad request gets the same error.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use redrock_protocol::Reply;

use crate::client::ClientState;
use crate::cmd::spec::flag;
use crate::cmd::{table, CommandSpec, Ctx};
use crate::error::Error;
use crate::shared::{Shared, Stats};

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

/// Executes one request and returns its reply.
pub fn execute(shared: &Arc<Shared>, client: &mut ClientState, args: &[Bytes]) -> Reply {
    let reply = execute_checked(shared, client, args);
    if let Reply::Error(text) = &reply {
        shared.stats.add_error(text);
    }
    reply
}

fn execute_checked(shared: &Arc<Shared>, client: &mut ClientState, args: &[Bytes]) -> Reply {
    client.handle.last_interaction_ms.store(client.handle.created.elapsed().as_millis() as u64, Ordering::Relaxed);
    let (spec, parent) = match resolve(args) {
        Ok(found) => found,
        Err(e) => return e.into(),
    };
    if let Ok(mut last) = client.handle.last_command.lock() {
        last.clear();
        last.push_str(&table::full_name(spec, parent));
    }
    if !client.authenticated && spec.flags & flag::NO_AUTH == 0 {
        return Error::NoAuth.into();
    }
    let Some(handler) = spec.handler else {
        return Error::unknown_subcommand(spec.name, args.get(1).map(|a| &a[..]).unwrap_or(b"")).into();
    };
    let positions = spec.key_positions(args);
    let physical_db = shared.physical_db(client.db);
    let namespace = client.namespace.clone();
    let _guards = (!positions.is_empty())
        .then(|| shared.locks.lock(&namespace, physical_db, positions.iter().map(|&i| &args[i][..])));
    let mut ctx = Ctx { shared, client };
    let result = handler(&mut ctx, args);
    // Counted once the command ran, as Redis's `call()` does (rejected requests are not).
    Stats::add(&shared.stats.total_commands_processed, 1);
    result.unwrap_or_else(Reply::from)
}
