//! `NAMESPACE ADD|SET|DEL|GET`, Kvrocks's tenant administration (see namespace.rs). Only the
//! administrator (dispatch refuses tenants: the command has the `admin` flag) may run it;
//! texts are Kvrocks's, as Redis has no such command.

use bytes::Bytes;
use redrock_protocol::Reply;

use super::args::is;
use super::spec::{flag, CommandSpec, Group};
use super::Ctx;
use crate::error::{Error, Result};
use crate::namespace::DEFAULT_NAMESPACE;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("namespace", -3, Group::Server, namespace)
    .flags(flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE)
    .doc("1.0.0", "Manage tenants' namespaces and their tokens (Kvrocks)", "O(N) where N is the number of namespaces")];

fn namespace(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let shared = ctx.shared;
    let requirepass = shared.config().get("requirepass").to_string();
    let done = |result: Result<()>, what: &str| {
        tracing::warn!(
            namespace = %String::from_utf8_lossy(&args[2]),
            client = %ctx.client.handle.addr,
            ok = result.is_ok(),
            "{what} namespace"
        );
        result.map(|()| Reply::ok())
    };
    match (args.len(), &args[1]) {
        (3, sub) if is(sub, "get") => {
            if &args[2][..] == b"*" {
                let mut flat = Vec::new();
                for (ns, token) in shared.namespaces.all() {
                    flat.push(Reply::Bulk(ns));
                    flat.push(Reply::Bulk(token));
                }
                flat.push(Reply::Bulk(Bytes::from_static(DEFAULT_NAMESPACE)));
                flat.push(Reply::Bulk(Bytes::from(requirepass)));
                return Ok(Reply::Array(flat));
            }
            Ok(shared.namespaces.token(&args[2]).map_or(Reply::Null, Reply::Bulk))
        }
        (4, sub) if is(sub, "set") => {
            done(shared.namespaces.set(&shared.storage, requirepass.as_bytes(), &args[2], &args[3]), "updated")
        }
        (4, sub) if is(sub, "add") => {
            done(shared.namespaces.add(&shared.storage, requirepass.as_bytes(), &args[2], &args[3]), "added")
        }
        (3, sub) if is(sub, "del") => done(shared.namespaces.delete(&shared.storage, &args[2]), "deleted"),
        _ => Err(Error::err("NAMESPACE subcommand must be one of GET, SET, DEL, ADD")),
    }
}
