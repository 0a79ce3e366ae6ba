//! `CLIENT` and its subcommands: the connection's own name, id and reply mode, and the
//! registry of connections (`LIST`, `INFO`, `KILL`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use redrock_protocol::Reply;

use super::args::{is, parse_i64, text};
use super::command::help_reply;
use super::spec::{acl, flag, CommandSpec, Group};
use super::Ctx;
use crate::client::{validate_client_name, ClientHandle};
use crate::error::{Error, Result};

const PLAIN: u32 = flag::NOSCRIPT | flag::LOADING | flag::STALE;
const ADMIN: u32 = flag::ADMIN | PLAIN;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::container("client", Group::Connection, SUBCOMMANDS).doc(
    "2.4.0",
    "A container for client connection commands",
    "Depends on subcommand.",
)];

const fn sub(name: &'static str, arity: i32, handler: super::Handler) -> CommandSpec {
    CommandSpec::new(name, arity, Group::Connection, handler).flags(PLAIN).acl(acl::CONNECTION)
}

/// In the order Redis 7.0.15 lists them (its dict order), so `COMMAND INFO client` matches.
const SUBCOMMANDS: &[CommandSpec] = &[
    sub("kill", -3, kill).flags(ADMIN).doc(
        "2.4.0",
        "Kill the connection of a client",
        "O(N) where N is the number of client connections",
    ),
    sub("trackinginfo", 2, trackinginfo).doc(
        "6.2.0",
        "Return information about server assisted client side caching for the current connection",
        "O(1)",
    ),
    sub("help", 2, help).flags(flag::LOADING | flag::STALE).doc(
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
    sub("unpause", 2, unpause).flags(ADMIN).doc(
        "6.2.0",
        "Resume processing of clients that were paused",
        "O(N) Where N is the number of paused clients",
    ),
    sub("list", -2, list).flags(ADMIN).tips(&["nondeterministic_output"]).doc(
        "2.4.0",
        "Get the list of client connections",
        "O(N) where N is the number of client connections",
    ),
    sub("getname", 2, getname).doc("2.6.9", "Get the current connection name", "O(1)"),
    sub("reply", 3, reply).doc("3.2.0", "Instruct the server whether to reply to commands", "O(1)"),
    sub("getredir", 2, getredir).doc("6.0.0", "Get tracking notifications redirection client ID if any", "O(1)"),
    sub("unblock", -3, unblock).flags(ADMIN).doc(
        "5.0.0",
        "Unblock a client blocked in a blocking command from a different connection",
        "O(log N) where N is the number of client connections",
    ),
    sub("pause", -3, pause).flags(ADMIN).doc("2.9.50", "Stop processing commands from clients for some time", "O(1)"),
    sub("no-evict", 3, no_evict).flags(ADMIN).doc(
        "7.0.0",
        "Set client eviction mode for the current connection",
        "O(1)",
    ),
    sub("id", 2, id).doc("5.0.0", "Returns the client ID for the current connection", "O(1)"),
    sub("setname", 3, setname).doc("2.6.9", "Set the current connection name", "O(1)"),
    sub("info", 2, info).tips(&["nondeterministic_output"]).doc(
        "6.2.0",
        "Returns information about the current client connection.",
        "O(1)",
    ),
    sub("caching", 3, caching).doc(
        "6.0.0",
        "Instruct the server about tracking or not keys in the next request",
        "O(1)",
    ),
    sub("tracking", -3, tracking).doc(
        "6.0.0",
        "Enable or disable server assisted client side caching support",
        "O(1). Some options may introduce additional complexity.",
    ),
];

const HELP: &[&str] = &[
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
];

/// Redis's client types (`getClientTypeByName`). Every connection here is `Normal`:
/// there are no replicas, and subscribers are not told apart yet.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

fn client_type(name: &Bytes) -> Result<ClientType> {
    Ok(match name.to_ascii_lowercase().as_slice() {
        b"normal" => ClientType::Normal,
        b"slave" | b"replica" => ClientType::Replica,
        b"pubsub" => ClientType::PubSub,
        b"master" => ClientType::Master,
        _ => return Err(Error::err(format!("Unknown client type '{}'", text(name)))),
    })
}

fn type_of(_client: &ClientHandle) -> ClientType {
    ClientType::Normal
}

/// `CLIENT LIST` / `CLIENT INFO` text: one line per client, each ending in `\n`.
fn lines<'a>(clients: impl Iterator<Item = &'a std::sync::Arc<ClientHandle>>) -> Reply {
    let mut out = String::new();
    for client in clients {
        out.push_str(&client.info_line());
        out.push('\n');
    }
    Reply::Verbatim("txt", Bytes::from(out))
}

fn id(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(ctx.client.id() as i64))
}

fn getname(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(ctx.client.handle.name().map_or(Reply::Null, Reply::Bulk))
}

fn setname(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    validate_client_name(&args[2])?;
    ctx.client.handle.set_name(&args[2]);
    Ok(Reply::ok())
}

fn info(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(lines(std::iter::once(&ctx.client.handle)))
}

/// `CLIENT LIST [TYPE type] | [ID id [id ...]]`.
fn list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let all = ctx.shared.clients.all();
    if args.len() == 4 && is(&args[2], "type") {
        let wanted = client_type(&args[3])?;
        return Ok(lines(all.iter().filter(|c| type_of(c) == wanted)));
    }
    if args.len() > 3 && is(&args[2], "id") {
        let mut picked = Vec::new();
        for arg in &args[3..] {
            let id = parse_i64(arg).map_err(|_| Error::err("Invalid client ID"))?;
            picked.extend(all.iter().filter(|c| c.id as i64 == id).cloned());
        }
        return Ok(lines(picked.iter()));
    }
    if args.len() != 2 {
        return Err(Error::Syntax);
    }
    Ok(lines(all.iter()))
}

/// `CLIENT KILL ip:port` (old form: `OK` or an error) or `CLIENT KILL <filter> <value> ...`
/// (new form: the number killed; the caller is skipped unless `SKIPME no`).
fn kill(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let old_form = args.len() == 3;
    let (mut addr, mut laddr, mut kind, mut id, mut user) = (None, None, None, None, None);
    let mut skip_me = !old_form;
    if old_form {
        addr = Some(&args[2]);
    } else {
        let mut i = 2;
        while i < args.len() {
            let Some(value) = args.get(i + 1) else {
                return Err(Error::Syntax);
            };
            let option = &args[i];
            if is(option, "id") {
                let parsed = parse_i64(value).ok().filter(|&n| n >= 1);
                id = Some(parsed.ok_or_else(|| Error::err("client-id should be greater than 0"))? as u64);
            } else if is(option, "type") {
                kind = Some(client_type(value)?);
            } else if is(option, "addr") {
                addr = Some(value);
            } else if is(option, "laddr") {
                laddr = Some(value);
            } else if is(option, "user") {
                if ctx.shared.acl.users.get(value).is_none() {
                    return Err(Error::err(format!("No such user '{}'", text(value))));
                }
                user = Some(value);
            } else if is(option, "skipme") {
                skip_me = if is(value, "yes") {
                    true
                } else if is(value, "no") {
                    false
                } else {
                    return Err(Error::Syntax);
                };
            } else {
                return Err(Error::Syntax);
            }
            i += 2;
        }
    }
    let me = ctx.client.id();
    let mut killed = 0;
    for client in ctx.shared.clients.all() {
        let matches = addr.is_none_or(|a| client.addr.as_bytes() == &a[..])
            && laddr.is_none_or(|a| client.laddr.as_bytes() == &a[..])
            && kind.is_none_or(|k| type_of(&client) == k)
            && id.is_none_or(|i| client.id == i)
            && user.is_none_or(|u| client.user_name() == *u);
        // A client killed earlier is only waiting for its connection to notice.
        if !matches || (skip_me && client.id == me) || client.killed.load(std::sync::atomic::Ordering::SeqCst) {
            continue;
        }
        if client.id == me {
            ctx.client.close_after_reply = true;
        } else {
            client.kill();
        }
        killed += 1;
    }
    if !old_form {
        return Ok(Reply::Integer(killed));
    }
    if killed == 0 {
        return Err(Error::err("No such client"));
    }
    Ok(Reply::ok())
}

fn reply(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    if is(&args[2], "on") {
        ctx.client.reply_off = false;
        Ok(Reply::ok())
    } else if is(&args[2], "off") {
        ctx.client.reply_off = true;
        Ok(Reply::ok())
    } else if is(&args[2], "skip") {
        ctx.client.skip_replies();
        Ok(Reply::ok())
    } else {
        Err(Error::Syntax)
    }
}

fn no_evict(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let on = if is(&args[2], "on") {
        true
    } else if is(&args[2], "off") {
        false
    } else {
        return Err(Error::Syntax);
    };
    ctx.client.handle.no_evict.store(on, Ordering::Relaxed);
    Ok(Reply::ok())
}

/// No client is ever blocked in a way `CLIENT UNBLOCK` can end yet: always 0.
fn unblock(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    parse_i64(&args[2])?;
    if args.len() == 4 && !is(&args[3], "timeout") && !is(&args[3], "error") {
        return Err(Error::err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR"));
    }
    Ok(Reply::Integer(0))
}

/// `CLIENT PAUSE timeout-ms [WRITE|ALL]`.
fn pause(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    if args.len() > 4 {
        return Err(subcommand_syntax_error(args));
    }
    let all = match args.get(3) {
        None => true,
        Some(mode) if is(mode, "all") => true,
        Some(mode) if is(mode, "write") => false,
        Some(_) => return Err(Error::err("CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let timeout_ms = parse_i64(&args[2]).map_err(|_| Error::err("timeout is not an integer or out of range"))?;
    if timeout_ms < 0 {
        return Err(Error::err("timeout is negative"));
    }
    // Redis adds the timeout to the clock unchecked: an end past i64::MAX wraps into the
    // past and the pause is over at once.
    if (crate::storage::now_ms() as i64).checked_add(timeout_ms).is_some() {
        ctx.shared.pause.pause(Duration::from_millis(timeout_ms as u64), all);
    }
    Ok(Reply::ok())
}

/// Redis's `addReplySubcommandSyntaxError`, naming the subcommand as the client typed it.
fn subcommand_syntax_error(args: &[Bytes]) -> Error {
    Error::err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(&args[1][..args[1].len().min(128)]),
        text(&args[0]).to_ascii_uppercase()
    ))
}

fn unpause(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    ctx.shared.pause.unpause();
    Ok(Reply::ok())
}

/// Client-side caching is not implemented: `OFF` (the state every client is in) succeeds,
/// `ON` is refused (a registered divergence).
fn tracking(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    if is(&args[2], "off") {
        Ok(Reply::ok())
    } else if is(&args[2], "on") {
        Err(Error::err("CLIENT TRACKING is not supported by Redrock"))
    } else {
        Err(Error::Syntax)
    }
}

fn trackinginfo(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    let key = |k: &'static str| Reply::Bulk(Bytes::from_static(k.as_bytes()));
    Ok(Reply::Map(vec![
        (key("flags"), Reply::Set(vec![key("off")])),
        (key("redirect"), Reply::Integer(-1)),
        (key("prefixes"), Reply::Array(vec![])),
    ]))
}

fn getredir(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(-1))
}

fn caching(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Err(Error::err(
        "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
    ))
}

fn help(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(help_reply(&args[0], HELP))
}
