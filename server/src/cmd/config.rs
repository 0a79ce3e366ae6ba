//! `CONFIG GET/SET/RESETSTAT/REWRITE/HELP` over the parameter table of `crate::config`.

use bytes::Bytes;
use redrock_protocol::Reply;

use super::args::text;
use super::command::help_reply;
use super::spec::{flag, CommandSpec, Group};
use super::Ctx;
use crate::config::{find, PARAMS};
use crate::error::{Error, Result};
use crate::glob;

const ADMIN: u32 = flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::container("config", Group::Server, SUBCOMMANDS).doc(
    "2.0.0",
    "A container for server configuration commands",
    "Depends on subcommand.",
)];

/// In the order Redis 7.0.15 lists them (its dict order), so `COMMAND INFO config` matches.
const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -3, Group::Server, get).flags(ADMIN).doc(
        "2.0.0",
        "Get the values of configuration parameters",
        "O(N) when N is the number of configuration parameters provided",
    ),
    CommandSpec::new("resetstat", 2, Group::Server, resetstat).flags(ADMIN).doc(
        "2.0.0",
        "Reset the stats returned by INFO",
        "O(1)",
    ),
    CommandSpec::new("help", 2, Group::Server, help).flags(flag::LOADING | flag::STALE).doc(
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
    CommandSpec::new("rewrite", 2, Group::Server, rewrite).flags(ADMIN).doc(
        "2.8.0",
        "Rewrite the configuration file with the in memory configuration",
        "O(1)",
    ),
    CommandSpec::new("set", -4, Group::Server, set)
        .flags(ADMIN)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(
            "2.0.0",
            "Set configuration parameters to the given values",
            "O(N) when N is the number of configuration parameters provided",
        ),
];

const HELP: &[&str] = &[
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
];

/// `CONFIG GET pattern [pattern ...]`: a name without glob characters is looked up directly
/// (case-insensitively, and echoed as written); a pattern matches names case-insensitively.
/// Each parameter is reported once. A map (RESP2: a flat array).
fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let config = ctx.shared.config();
    let mut seen: Vec<&'static str> = Vec::new();
    let mut out = Vec::new();
    for pattern in &args[2..] {
        if !pattern.iter().any(|b| matches!(b, b'[' | b'*' | b'?')) {
            let Some(param) = std::str::from_utf8(pattern).ok().and_then(find) else { continue };
            if !seen.contains(&param.name) {
                seen.push(param.name);
                out.push((Reply::Bulk(pattern.clone()), bulk(config.get(param.name))));
            }
            continue;
        }
        for param in PARAMS {
            if !seen.contains(&param.name) && glob::matches(pattern, param.name.as_bytes(), true) {
                seen.push(param.name);
                out.push((bulk(param.name), bulk(config.get(param.name))));
            }
        }
    }
    Ok(Reply::Map(out))
}

fn bulk(text: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
}

/// `CONFIG SET name value [name value ...]`: all or none.
fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    if !args.len().is_multiple_of(2) {
        return Err(Error::Syntax);
    }
    let pairs: Vec<(String, String)> = args[2..].chunks(2).map(|pair| (text(&pair[0]), text(&pair[1]))).collect();
    let mut config = ctx.shared.config_mut();
    config.set_many(&pairs).map_err(|e| Error::err(e.to_string()))?;
    // `requirepass` is the default user's password (Redis's ACLUpdateDefaultUserPassword).
    if pairs.iter().any(|(name, _)| name.eq_ignore_ascii_case("requirepass")) {
        ctx.shared.acl.users.set_default_password(config.get("requirepass"));
    }
    ctx.shared.acl.users.set_pubsub_default(config.get("acl-pubsub-default"));
    Ok(Reply::ok())
}

fn resetstat(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    ctx.shared.stats.reset();
    Ok(Reply::ok())
}

/// The configuration lives in the command line and an optional file that Redrock never
/// rewrites.
fn rewrite(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Err(Error::err("The server is running without a config file"))
}

fn help(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(help_reply(&args[0], HELP))
}
