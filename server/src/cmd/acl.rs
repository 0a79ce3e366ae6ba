//! `ACL`: users and their permissions (see acl/ for the rules, the check and the log).

use std::sync::Arc;

use bytes::Bytes;
use redrock_protocol::Reply;

use super::args::{is, parse_i64};
use super::command::help_reply;
use super::spec::{acl, flag, CommandSpec, Group};
use super::{table, Ctx};
use crate::acl::check::{self, Denial};
use crate::acl::rules::{c_str, has_spaces, merge_selectors};
use crate::acl::selector::Selector;
use crate::acl::user::FLAG_NAMES;
use crate::acl::{file, log, User, DEFAULT_USER};
use crate::error::{Error, Result};

const STALE: u32 = flag::NOSCRIPT | flag::LOADING | flag::STALE;
const ADMIN: u32 = flag::ADMIN | STALE;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::container("acl", Group::Server, SUBCOMMANDS).doc(
    "6.0.0",
    "A container for Access List Control commands",
    "Depends on subcommand.",
)];

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("cat", -2, Group::Server, cat).flags(STALE).doc(
        "6.0.0",
        "List the ACL categories or the commands inside a category",
        "O(1) since the categories and commands are a fixed set.",
    ),
    CommandSpec::new("deluser", -3, Group::Server, deluser).flags(ADMIN).doc(
        "6.0.0",
        "Remove the specified ACL users and the associated rules",
        "O(1) amortized time considering the typical user.",
    ),
    CommandSpec::new("dryrun", -4, Group::Server, dryrun).flags(ADMIN).doc(
        "7.0.0",
        "Returns whether the user can execute the given command without executing the command.",
        "O(1).",
    ),
    CommandSpec::new("genpass", -2, Group::Server, genpass).flags(STALE).doc(
        "6.0.0",
        "Generate a pseudorandom secure password to use for ACL users",
        "O(1)",
    ),
    CommandSpec::new("getuser", 3, Group::Server, getuser).flags(ADMIN).doc(
        "6.0.0",
        "Get the rules for a specific ACL user",
        "O(N). Where N is the number of password, command and pattern rules that the user has.",
    ),
    CommandSpec::new("help", 2, Group::Server, help).flags(flag::LOADING | flag::STALE).doc(
        "6.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
    CommandSpec::new("list", 2, Group::Server, list).flags(ADMIN).doc(
        "6.0.0",
        "List the current ACL rules in ACL config file format",
        "O(N). Where N is the number of configured users.",
    ),
    CommandSpec::new("load", 2, Group::Server, load).flags(ADMIN).doc(
        "6.0.0",
        "Reload the ACLs from the configured ACL file",
        "O(N). Where N is the number of configured users.",
    ),
    CommandSpec::new("log", -2, Group::Server, log).flags(ADMIN).doc(
        "6.0.0",
        "List latest events denied because of ACLs in place",
        "O(N) with N being the number of entries shown.",
    ),
    CommandSpec::new("save", 2, Group::Server, save).flags(ADMIN).doc(
        "6.0.0",
        "Save the current ACL rules in the configured ACL file",
        "O(N). Where N is the number of configured users.",
    ),
    CommandSpec::new("setuser", -3, Group::Server, setuser).flags(ADMIN).doc(
        "6.0.0",
        "Modify or create the rules for a specific ACL user",
        "O(N). Where N is the number of rules provided.",
    ),
    CommandSpec::new("users", 2, Group::Server, users).flags(ADMIN).doc(
        "6.0.0",
        "List the username of all the configured ACL rules",
        "O(N). Where N is the number of configured users.",
    ),
    CommandSpec::new("whoami", 2, Group::Server, whoami).flags(STALE).doc(
        "6.0.0",
        "Return the name of the user associated to the current connection",
        "O(1)",
    ),
];

/// Longest password ACL GENPASS makes (Redis's `GENPASS_MAX_BITS`).
const GENPASS_MAX_BITS: i64 = 4096;
/// ACL GENPASS's default size.
const GENPASS_DEFAULT_BITS: i64 = 256;
/// ACL LOG's default number of entries.
const LOG_DEFAULT_COUNT: i64 = 10;

const HELP: &[&str] = &[
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
];

/// `ACL CAT`: every category; `ACL CAT category`: every command and subcommand in it (by
/// full name, `config|get`), as Redis's `aclCatWithFlags`.
fn cat(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    match args.len() {
        2 => Ok(Reply::Array(
            acl::NAMES.iter().map(|(_, name)| Reply::Bulk(Bytes::from_static(name.as_bytes()))).collect(),
        )),
        3 => {
            let Some(&(bit, _)) = acl::NAMES.iter().find(|(_, name)| name.as_bytes().eq_ignore_ascii_case(&args[2]))
            else {
                return Err(Error::err(format!("Unknown category '{}'", c_text(&args[2]))));
            };
            let mut names = Vec::new();
            for spec in table::all() {
                if spec.acl_categories() & bit != 0 {
                    names.push(Reply::Bulk(Bytes::from(spec.name)));
                }
                for sub in spec.subcommands {
                    if sub.acl_categories() & bit != 0 {
                        names.push(Reply::Bulk(Bytes::from(table::full_name(sub, Some(spec)))));
                    }
                }
            }
            Ok(Reply::Array(names))
        }
        _ => Err(subcommand_syntax(args)),
    }
}

/// Redis's `addReplySubcommandSyntaxError`.
fn subcommand_syntax(args: &[Bytes]) -> Error {
    Error::err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        c_text(&args[1]),
        String::from_utf8_lossy(&args[0]).to_ascii_uppercase()
    ))
}

/// An argument as C's `%.128s` prints it: at most 128 bytes, cut at a NUL.
fn c_text(arg: &[u8]) -> String {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len()).min(128);
    String::from_utf8_lossy(&arg[..end]).into_owned()
}

/// An argument as C's `%s` prints it.
fn c_string(arg: &[u8]) -> String {
    String::from_utf8_lossy(c_str(arg)).into_owned()
}

fn bulk(text: impl Into<Bytes>) -> Reply {
    Reply::Bulk(text.into())
}

fn users(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(ctx.shared.acl.users.all().iter().map(|u| Reply::Bulk(u.name.clone())).collect()))
}

/// `ACL LIST`: each user as the config line that recreates it.
fn list(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    let lines = ctx
        .shared
        .acl
        .users
        .all()
        .iter()
        .map(|u| bulk([b"user ", &u.name[..], b" ", &u.rules().describe()].concat()))
        .collect();
    Ok(Reply::Array(lines))
}

fn whoami(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Bulk(ctx.client.handle.user_name()))
}

/// `ACL SETUSER name rules...`: all the rules apply, or none.
fn setuser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let name = &args[2];
    if has_spaces(name) {
        return Err(Error::err("Usernames can't contain spaces or null characters"));
    }
    let ops: Vec<&[u8]> = args[3..].iter().map(|a| &a[..]).collect();
    let ops = merge_selectors(&ops).map_err(|at| {
        Error::err(format!("Unmatched parenthesis in acl selector starting at '{}'.", c_string(&args[at + 3])))
    })?;
    ctx.shared.acl.users.edit(name, |rules| {
        for op in &ops {
            rules
                .apply(op)
                .map_err(|e| Error::err(format!("Error in ACL SETUSER modifier '{}': {e}", c_string(op))))?;
        }
        Ok::<(), Error>(())
    })?;
    Ok(Reply::ok())
}

/// `ACL DELUSER name...`: the number of users deleted; their connections are closed.
fn deluser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    if args[2..].iter().any(|name| &name[..] == DEFAULT_USER) {
        return Err(Error::err("The 'default' user cannot be removed"));
    }
    let mut removed = Vec::new();
    for name in &args[2..] {
        removed.extend(ctx.shared.acl.users.remove(name));
    }
    close_connections(ctx, &removed);
    Ok(Reply::Integer(removed.len() as i64))
}

/// Closes every connection authenticated as one of `users` (Redis's
/// `ACLFreeUserAndKillClients`): the caller's own after this reply.
fn close_connections(ctx: &mut Ctx<'_>, users: &[Arc<User>]) {
    if users.is_empty() {
        return;
    }
    let me = ctx.client.id();
    for handle in ctx.shared.clients.all() {
        if !users.iter().any(|u| handle.is_user(u)) {
            continue;
        }
        if handle.id == me {
            ctx.client.close_after_reply = true;
        } else {
            handle.kill();
        }
    }
}

/// `ACL GETUSER name`: a map (RESP2: flat array) of flags, passwords, the root selector's
/// commands, keys and channels, then the other selectors.
fn getuser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let Some(user) = ctx.shared.acl.users.get(&args[2]) else {
        return Ok(Reply::Null);
    };
    let rules = user.rules();
    let flags = FLAG_NAMES.iter().filter(|(flag, _)| rules.flags & flag != 0).map(|(_, name)| bulk(*name)).collect();
    let passwords = rules.passwords.iter().map(|p| bulk(p.clone())).collect();
    let mut fields = vec![(bulk("flags"), Reply::Set(flags)), (bulk("passwords"), Reply::Array(passwords))];
    fields.extend(describe_selector(rules.root()));
    let selectors = rules.selectors[1..].iter().map(|s| Reply::Map(describe_selector(s))).collect();
    fields.push((bulk("selectors"), Reply::Array(selectors)));
    Ok(Reply::Map(fields))
}

fn describe_selector(selector: &Selector) -> Vec<(Reply, Reply)> {
    vec![
        (bulk("commands"), bulk(selector.describe_commands())),
        (bulk("keys"), bulk(selector.describe_keys())),
        (bulk("channels"), bulk(selector.describe_channels())),
    ]
}

/// `ACL GENPASS [bits]`: random hex, 4 bits per character.
fn genpass(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let bits = match args.len() {
        2 => GENPASS_DEFAULT_BITS,
        3 => parse_i64(&args[2])?,
        _ => return Err(subcommand_syntax(args)),
    };
    if bits <= 0 || bits > GENPASS_MAX_BITS {
        return Err(Error::err(format!(
            "ACL GENPASS argument must be the number of bits for the output password, a positive number up to {GENPASS_MAX_BITS}"
        )));
    }
    let chars = (bits as usize).div_ceil(4);
    let random = random_bytes(chars.div_ceil(2))?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Ok(bulk(hex[..chars].to_string()))
}

/// Bytes from the kernel's random source (Redis's `getRandomHexChars` seeds from it too).
fn random_bytes(n: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut out))
        .map_err(|e| Error::err(format!("cannot read random bytes: {e}")))?;
    Ok(out)
}

/// `ACL LOG [count | RESET]`.
fn log(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let count = match args.len() {
        2 => LOG_DEFAULT_COUNT,
        3 if is(&args[2], "reset") => {
            ctx.shared.acl.log.reset();
            return Ok(Reply::ok());
        }
        3 => parse_i64(&args[2])?.max(0),
        _ => return Err(subcommand_syntax(args)),
    };
    let now_ms = log::now_ms();
    let entries = ctx.shared.acl.log.newest(count as usize);
    let entries = entries
        .into_iter()
        .map(|e| {
            Reply::Map(vec![
                (bulk("count"), Reply::Integer(e.count as i64)),
                (bulk("reason"), bulk(e.reason.name())),
                (bulk("context"), bulk(e.context.name())),
                (bulk("object"), Reply::Bulk(e.object)),
                (bulk("username"), Reply::Bulk(e.username)),
                (bulk("age-seconds"), Reply::Double(now_ms.saturating_sub(e.time_ms) as f64 / 1000.0)),
                (bulk("client-info"), bulk(e.client_info)),
            ])
        })
        .collect();
    Ok(Reply::Array(entries))
}

/// `ACL DRYRUN user command args...`: `OK`, or why the user could not run it (a bulk
/// string, not an error). The command's arity is not checked, as in Redis.
fn dryrun(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let Some(user) = ctx.shared.acl.users.get(&args[2]) else {
        return Err(Error::err(format!("User '{}' not found", c_string(&args[2]))));
    };
    let command = &args[3..];
    let not_found = || Error::err(format!("Command '{}' not found", c_string(&args[3])));
    let base = table::lookup(&command[0]).ok_or_else(not_found)?;
    let (spec, parent) = if !base.subcommands.is_empty() && command.len() > 1 {
        (table::lookup_subcommand(base, &command[1]).ok_or_else(not_found)?, Some(base))
    } else {
        (base, None)
    };
    if !spec.arity_accepts(command.len()) {
        return Err(Error::WrongArity(table::full_name(spec, parent)));
    }
    let result = check::check(&user.rules(), spec, parent, command);
    Ok(match result {
        Ok(()) => Reply::ok(),
        Err(Denial::Command) => {
            bulk(format!("This user has no permissions to run the '{}' command", table::full_name(spec, parent)))
        }
        Err(Denial::Key(position)) => {
            bulk(format!("This user has no permissions to access the '{}' key", c_string(&command[position])))
        }
    })
}

/// The configured aclfile, or Redis's error when there is none.
fn aclfile(ctx: &Ctx<'_>) -> Result<String> {
    let path = ctx.shared.config().get("aclfile").to_string();
    if path.is_empty() {
        return Err(Error::err("This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."));
    }
    Ok(path)
}

/// `ACL LOAD`: every user from the aclfile, or none (the error lists every problem).
/// Connections of every user but `default` close, as in Redis.
fn load(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    let path = aclfile(ctx)?;
    let users = file::load(&path, ctx.shared.acl.users.all_channels_default()).map_err(Error::err)?;
    let removed = ctx.shared.acl.users.replace_all(users);
    close_connections(ctx, &removed);
    Ok(Reply::ok())
}

fn save(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    let path = aclfile(ctx)?;
    file::save(&path, &ctx.shared.acl.users.all()).map_err(|e| {
        tracing::warn!(path, error = %e, "ACL SAVE failed");
        Error::err("There was an error trying to save the ACLs. Please check the server logs for more information")
    })?;
    Ok(Reply::ok())
}

fn help(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(help_reply(&args[0], HELP))
}
