//! Connection commands: the client's own state (protocol, db, authentication, name).

use std::sync::Arc;

use bytes::Bytes;
use redrock_protocol::{Reply, RespVersion};

use super::args::{is, parse_i64};
use super::spec::{acl, flag, CommandSpec, Group};
use super::Ctx;
use crate::acl::{user, DEFAULT_USER};
use crate::client::validate_client_name;
use crate::error::{Error, Result};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, Group::Connection, ping)
        .flags(flag::FAST)
        .acl(acl::CONNECTION)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc("1.0.0", "Ping the server", "O(1)"),
    CommandSpec::new("echo", 2, Group::Connection, echo)
        .flags(flag::LOADING | flag::STALE | flag::FAST)
        .acl(acl::CONNECTION)
        .doc("1.0.0", "Echo the given string", "O(1)"),
    CommandSpec::new("select", 2, Group::Connection, select)
        .flags(flag::LOADING | flag::STALE | flag::FAST)
        .acl(acl::CONNECTION)
        .doc("1.0.0", "Change the selected database for the current connection", "O(1)"),
    CommandSpec::new("quit", -1, Group::Connection, quit)
        .flags(flag::ALLOW_BUSY | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::NO_AUTH)
        .acl(acl::CONNECTION)
        .doc("1.0.0", "Close the connection", "O(1)"),
    CommandSpec::new("auth", -2, Group::Connection, auth)
        .flags(flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::NO_AUTH | flag::ALLOW_BUSY)
        .acl(acl::CONNECTION)
        .doc("1.0.0", "Authenticate to the server", "O(N) where N is the number of passwords defined for the user"),
    CommandSpec::new("reset", 1, Group::Connection, reset)
        .flags(flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::NO_AUTH | flag::ALLOW_BUSY)
        .acl(acl::CONNECTION)
        .doc("6.2.0", "Reset the connection", "O(1)"),
    CommandSpec::new("hello", -1, Group::Connection, hello)
        .flags(flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::NO_AUTH | flag::ALLOW_BUSY)
        .acl(acl::CONNECTION)
        .doc("6.0.0", "Handshake with Redis", "O(1)"),
];

fn ping(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    match args.len() {
        1 => Ok(Reply::Simple(Bytes::from_static(b"PONG"))),
        2 => Ok(Reply::Bulk(args[1].clone())),
        _ => Err(Error::WrongArity("ping".into())),
    }
}

fn echo(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Bulk(args[1].clone()))
}

/// Redis's `getIntFromObjectOrReply` without a custom message.
pub fn parse_int(arg: &[u8]) -> Result<i64> {
    let value = parse_i64(arg)?;
    if value < i32::MIN as i64 || value > i32::MAX as i64 {
        return Err(Error::err(format!("value is out of range, value must between {} and {}", i32::MIN, i32::MAX)));
    }
    Ok(value)
}

fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let index = parse_int(&args[1])?;
    if index < 0 || index >= ctx.shared.databases as i64 {
        return Err(Error::DbIndexOutOfRange);
    }
    ctx.client.select(index as usize);
    Ok(Reply::ok())
}

/// `RESET`: back to a fresh connection's state; `+RESET`.
fn reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    let authenticated = !ctx.shared.acl.users.auth_required();
    ctx.client.unwatch_all(&ctx.shared.watches);
    ctx.client.reset(authenticated);
    Ok(Reply::Simple(Bytes::from_static(b"RESET")))
}

fn quit(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    ctx.client.close_after_reply = true;
    Ok(Reply::ok())
}

/// Authenticates the connection as `user` with `password` (Redis's `ACLAuthenticateUser`):
/// any ACL user, `default` being the administrator whose password is `requirepass`. For
/// `default`, a namespace's token (as in Kvrocks) also works and puts the connection in that
/// tenant's namespace. Returns false, changing nothing but the ACL log, on a wrong pair.
fn authenticate(ctx: &mut Ctx<'_>, command: &Bytes, user: &Bytes, password: &[u8]) -> bool {
    let acl = &ctx.shared.acl;
    if let Some(found) = acl.authenticate(user, password) {
        let is_default = Arc::ptr_eq(&found, acl.users.default_user());
        ctx.client.set_user((!is_default).then_some(found));
        ctx.client.admin = true;
        ctx.client.namespace = Bytes::new();
        ctx.client.authenticated = true;
        return true;
    }
    if &user[..] == DEFAULT_USER {
        if let Some(namespace) = ctx.shared.namespaces.by_token(password) {
            ctx.client.set_user(None);
            ctx.client.admin = false;
            ctx.client.namespace = namespace;
            ctx.client.authenticated = true;
            return true;
        }
    }
    acl.log_auth_failure(ctx.shared, ctx.client, command, user);
    false
}

fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let default = Bytes::from_static(DEFAULT_USER);
    let (user, password) = match args.len() {
        2 => {
            if ctx.shared.acl.users.default_user().rules().flags & user::NOPASS != 0 {
                return Err(Error::AuthNotConfigured);
            }
            (&default, &args[1])
        }
        3 => (&args[1], &args[2]),
        _ => return Err(Error::Syntax),
    };
    if authenticate(ctx, &args[0], user, password) {
        Ok(Reply::ok())
    } else {
        Err(Error::WrongPass)
    }
}

fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let mut version = None;
    if args.len() >= 2 {
        let requested =
            parse_i64(&args[1]).map_err(|_| Error::err("Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&requested) {
            return Err(Error::Coded("NOPROTO unsupported protocol version".into()));
        }
        version = Some(if requested == 3 { RespVersion::Resp3 } else { RespVersion::Resp2 });
    }
    let mut i = 2;
    let mut credentials = None;
    let mut name = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "auth") && more >= 2 {
            credentials = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 3;
        } else if is(&args[i], "setname") && more >= 1 {
            name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Err(Error::err(format!("Syntax error in HELLO option '{}'", String::from_utf8_lossy(&args[i]))));
        }
    }
    if let Some((user, password)) = &credentials {
        if !authenticate(ctx, &args[0], user, password) {
            return Err(Error::WrongPass);
        }
    }
    if !ctx.client.authenticated {
        return Err(Error::Coded("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into()));
    }
    if let Some(name) = name {
        validate_client_name(&name)?;
        ctx.client.handle.set_name(&name);
    }
    if let Some(version) = version {
        ctx.client.set_resp(version);
    }
    let proto = if ctx.client.resp == RespVersion::Resp3 { 3 } else { 2 };
    let pair = |k: &'static str, v: Reply| (Reply::Bulk(Bytes::from_static(k.as_bytes())), v);
    Ok(Reply::Map(vec![
        pair("server", Reply::Bulk(Bytes::from_static(b"redis"))),
        pair("version", Reply::Bulk(Bytes::from_static(crate::REDIS_COMPAT_VERSION.as_bytes()))),
        pair("proto", Reply::Integer(proto)),
        pair("id", Reply::Integer(ctx.client.id() as i64)),
        pair("mode", Reply::Bulk(Bytes::from_static(b"standalone"))),
        pair("role", Reply::Bulk(Bytes::from_static(b"master"))),
        pair("modules", Reply::Array(vec![])),
    ]))
}
