//! `COMMAND` and its subcommands: the command table as Redis 7.0 describes itself. Every
//! reply is built from the one table (`table.rs`), with Redis's exact layout (RESP2 and RESP3
//! types) so that clients that introspect the server (cluster routers, redis-py, ...) see
//! what they see on Redis.

use bytes::Bytes;
use redrock_protocol::Reply;

use super::args::is;
use super::spec::{acl, flag, BeginSearch, CommandSpec, FindKeys, Group, KeySpec};
use super::{table, Ctx};
use crate::error::{Error, Result};
use crate::glob;

const META: u32 = flag::LOADING | flag::STALE;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("command", -1, Group::Server, command_all)
    .flags(META)
    .acl(acl::CONNECTION)
    .tips(&["nondeterministic_output_order"])
    .doc("2.8.13", "Get array of Redis command details", "O(N) where N is the total number of Redis commands")
    .with_subcommands(SUBCOMMANDS)];

/// In the order Redis 7.0.15 lists them (its dict order), so `COMMAND INFO command` matches.
const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("count", 2, Group::Server, count).flags(META).acl(acl::CONNECTION).doc(
        "2.8.13",
        "Get total number of Redis commands",
        "O(1)",
    ),
    CommandSpec::new("help", 2, Group::Server, help).flags(META).acl(acl::CONNECTION).doc(
        "5.0.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
    CommandSpec::new("list", -2, Group::Server, list)
        .flags(META)
        .acl(acl::CONNECTION)
        .tips(&["nondeterministic_output_order"])
        .doc("7.0.0", "Get an array of Redis command names", "O(N) where N is the total number of Redis commands"),
    CommandSpec::new("docs", -2, Group::Server, docs)
        .flags(META)
        .acl(acl::CONNECTION)
        .tips(&["nondeterministic_output_order"])
        .doc(
            "7.0.0",
            "Get array of specific Redis command documentation",
            "O(N) where N is the number of commands to look up",
        ),
    CommandSpec::new("getkeys", -4, Group::Server, getkeys).flags(META).acl(acl::CONNECTION).doc(
        "2.8.13",
        "Extract keys given a full Redis command",
        "O(N) where N is the number of arguments to the command",
    ),
    CommandSpec::new("getkeysandflags", -4, Group::Server, getkeys_and_flags).flags(META).acl(acl::CONNECTION).doc(
        "7.0.0",
        "Extract keys and access flags given a full Redis command",
        "O(N) where N is the number of arguments to the command",
    ),
    CommandSpec::new("info", -2, Group::Server, info)
        .flags(META)
        .acl(acl::CONNECTION)
        .tips(&["nondeterministic_output_order"])
        .doc(
            "2.8.13",
            "Get array of specific Redis command details, or all when no argument is given.",
            "O(N) where N is the number of commands to look up",
        ),
];

const HELP: &[&str] = &[
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
];

/// Redis's `addReplyHelp`: a header naming the container (as the client typed it, upper
/// case), the container's lines, then the `HELP` entry every container has.
pub fn help_reply(container: &[u8], lines: &[&str]) -> Reply {
    let simple = |text: String| Reply::Simple(Bytes::from(text));
    let mut out = Vec::with_capacity(lines.len() + 3);
    out.push(simple(format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        String::from_utf8_lossy(container).to_ascii_uppercase()
    )));
    out.extend(lines.iter().map(|line| simple(line.to_string())));
    out.push(simple("HELP".into()));
    out.push(simple("    Prints this help.".into()));
    Reply::Array(out)
}

fn bulk(text: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
}

fn simple(text: &str) -> Reply {
    Reply::Simple(Bytes::copy_from_slice(text.as_bytes()))
}

/// `name` (`container|sub` for subcommands), as `COMMAND INFO`/`DOCS` look names up.
fn lookup_full_name(name: &[u8]) -> Option<(&'static CommandSpec, Option<&'static CommandSpec>)> {
    match name.iter().position(|&b| b == b'|') {
        None => table::lookup(name).map(|spec| (spec, None)),
        Some(bar) => {
            let parent = table::lookup(&name[..bar])?;
            table::lookup_subcommand(parent, &name[bar + 1..]).map(|sub| (sub, Some(parent)))
        }
    }
}

/// One `COMMAND INFO` entry: Redis's `addReplyCommandInfo`.
fn info_entry(spec: &CommandSpec, parent: Option<&CommandSpec>) -> Reply {
    let ((first, last, step), movable) = spec.legacy_range();
    let flags = spec.flags | if movable { flag::MOVABLE_KEYS } else { 0 };
    let categories = spec.acl_categories();
    let subcommands = if spec.subcommands.is_empty() {
        Reply::Set(vec![])
    } else {
        Reply::Array(spec.subcommands.iter().map(|sub| info_entry(sub, Some(spec))).collect())
    };
    Reply::Array(vec![
        bulk(&table::full_name(spec, parent)),
        Reply::Integer(spec.arity as i64),
        Reply::Set(flag::NAMES.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, name)| simple(name)).collect()),
        Reply::Integer(first as i64),
        Reply::Integer(last as i64),
        Reply::Integer(step as i64),
        Reply::Set(
            acl::NAMES
                .iter()
                .filter(|(bit, _)| categories & bit != 0)
                .map(|(_, name)| simple(&format!("@{name}")))
                .collect(),
        ),
        Reply::Set(spec.tips.iter().map(|tip| bulk(tip)).collect()),
        Reply::Set(
            spec.key_specs
                .iter()
                .enumerate()
                .map(|(i, key_spec)| key_spec_entry(key_spec, spec.key_notes.get(i).copied().unwrap_or_default()))
                .collect(),
        ),
        subcommands,
    ])
}

/// Redis's `addReplyCommandKeySpecs` for one spec.
fn key_spec_entry(spec: &KeySpec, notes: &str) -> Reply {
    let pair = |k: &str, v: Reply| (bulk(k), v);
    let begin = match spec.begin {
        BeginSearch::Index(index) => Reply::Map(vec![
            pair("type", bulk("index")),
            pair("spec", Reply::Map(vec![pair("index", Reply::Integer(index as i64))])),
        ]),
        BeginSearch::Keyword { keyword, start_from } => Reply::Map(vec![
            pair("type", bulk("keyword")),
            pair(
                "spec",
                Reply::Map(vec![pair("keyword", bulk(keyword)), pair("startfrom", Reply::Integer(start_from as i64))]),
            ),
        ]),
    };
    let find = match spec.find {
        FindKeys::Range { last_key, step, limit } => Reply::Map(vec![
            pair("type", bulk("range")),
            pair(
                "spec",
                Reply::Map(vec![
                    pair("lastkey", Reply::Integer(last_key as i64)),
                    pair("keystep", Reply::Integer(step as i64)),
                    pair("limit", Reply::Integer(limit as i64)),
                ]),
            ),
        ]),
        FindKeys::KeyNum { num_keys_index, first_key, step } => Reply::Map(vec![
            pair("type", bulk("keynum")),
            pair(
                "spec",
                Reply::Map(vec![
                    pair("keynumidx", Reply::Integer(num_keys_index as i64)),
                    pair("firstkey", Reply::Integer(first_key as i64)),
                    pair("keystep", Reply::Integer(step as i64)),
                ]),
            ),
        ]),
    };
    let mut map = Vec::with_capacity(4);
    if !notes.is_empty() {
        map.push(pair("notes", bulk(notes)));
    }
    map.push(pair("flags", Reply::Set(spec.flags.iter().map(|f| simple(f)).collect())));
    map.push(pair("begin_search", begin));
    map.push(pair("find_keys", find));
    Reply::Map(map)
}

/// One `COMMAND DOCS` entry: Redis's `addReplyCommandDocs`, without `arguments` and
/// `history` (the table does not hold them; a registered divergence).
fn docs_entry(spec: &CommandSpec) -> Reply {
    let pair = |k: &str, v: Reply| (bulk(k), v);
    let mut map = Vec::with_capacity(5);
    if !spec.summary.is_empty() {
        map.push(pair("summary", bulk(spec.summary)));
    }
    map.push(pair("since", bulk(spec.since)));
    map.push(pair("group", bulk(spec.group.name())));
    if !spec.complexity.is_empty() {
        map.push(pair("complexity", bulk(spec.complexity)));
    }
    if !spec.deprecated_since.is_empty() {
        map.push(pair("doc_flags", Reply::Set(vec![simple("deprecated")])));
        map.push(pair("deprecated_since", bulk(spec.deprecated_since)));
        map.push(pair("replaced_by", bulk(spec.replaced_by)));
    }
    if !spec.subcommands.is_empty() {
        let subs =
            spec.subcommands.iter().map(|sub| (bulk(&table::full_name(sub, Some(spec))), docs_entry(sub))).collect();
        map.push(pair("subcommands", Reply::Map(subs)));
    }
    Reply::Map(map)
}

fn command_all(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(table::all().into_iter().map(|spec| info_entry(spec, None)).collect()))
}

fn count(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Integer(table::all().len() as i64))
}

fn help(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(help_reply(&args[0], HELP))
}

fn info(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    if args.len() == 2 {
        return command_all(_ctx, args);
    }
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|name| match lookup_full_name(name) {
                Some((spec, parent)) => info_entry(spec, parent),
                None => Reply::Null,
            })
            .collect(),
    ))
}

fn docs(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let entries: Vec<(Reply, Reply)> = if args.len() == 2 {
        table::all().into_iter().map(|spec| (bulk(spec.name), docs_entry(spec))).collect()
    } else {
        args[2..]
            .iter()
            .filter_map(|name| lookup_full_name(name))
            .map(|(spec, parent)| (bulk(&table::full_name(spec, parent)), docs_entry(spec)))
            .collect()
    };
    Ok(Reply::Map(entries))
}

/// `COMMAND LIST [FILTERBY MODULE name|ACLCAT category|PATTERN pattern]`.
fn list(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    enum Filter<'a> {
        None,
        /// No module exists here: every command is filtered out.
        Module,
        AclCategory(Option<u32>),
        Pattern(&'a [u8]),
    }
    let mut filter = Filter::None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "filterby") && args.len() - 1 - i == 2 {
            let value = &args[i + 2];
            filter = if is(&args[i + 1], "module") {
                Filter::Module
            } else if is(&args[i + 1], "aclcat") {
                Filter::AclCategory(acl::NAMES.iter().find(|(_, name)| is(value, name)).map(|(bit, _)| *bit))
            } else if is(&args[i + 1], "pattern") {
                Filter::Pattern(value)
            } else {
                return Err(Error::Syntax);
            };
            i += 3;
        } else {
            return Err(Error::Syntax);
        }
    }
    let keep = |spec: &CommandSpec, full_name: &str| match filter {
        Filter::None => true,
        Filter::Module => false,
        Filter::AclCategory(None) => false,
        Filter::AclCategory(Some(bit)) => spec.acl_categories() & bit != 0,
        Filter::Pattern(pattern) => glob::matches(pattern, full_name.as_bytes(), true),
    };
    let mut names = Vec::new();
    for spec in table::all() {
        if keep(spec, spec.name) {
            names.push(bulk(spec.name));
        }
        for sub in spec.subcommands {
            let full = table::full_name(sub, Some(spec));
            if keep(sub, &full) {
                names.push(bulk(&full));
            }
        }
    }
    Ok(Reply::Array(names))
}

/// The keys of the command in `args[2..]`, each with its flags: Redis's
/// `getKeysSubcommandImpl` checks, in its order.
fn keys_of(args: &[Bytes]) -> Result<Vec<(Bytes, &'static [&'static str])>> {
    let command = &args[2..];
    let spec = match table::lookup(&command[0]) {
        Some(spec) if spec.subcommands.is_empty() || command.len() == 1 => Some(spec),
        Some(parent) => table::lookup_subcommand(parent, &command[1]),
        None => None,
    };
    let Some(spec) = spec else {
        return Err(Error::err("Invalid command specified"));
    };
    if spec.key_specs.is_empty() {
        return Err(Error::err("The command has no key arguments"));
    }
    if !spec.arity_accepts(command.len()) {
        return Err(Error::err("Invalid number of arguments specified for command"));
    }
    let keys = if keynum_spec_is_invalid(spec, command) { Vec::new() } else { spec.keys_with_specs(command) };
    if keys.is_empty() && spec.flags & flag::NO_MANDATORY_KEYS == 0 {
        return Err(Error::err("Invalid arguments specified for command"));
    }
    Ok(keys.into_iter().map(|(i, key_spec)| (command[i].clone(), resolved_flags(spec, key_spec, command))).collect())
}

/// Flags of a key found by `key_spec`. Specs flagged `variable_flags` depend on the other
/// arguments; Redis resolves them in the command's own key-extraction function.
fn resolved_flags(spec: &CommandSpec, key_spec: &KeySpec, command: &[Bytes]) -> &'static [&'static str] {
    if !key_spec.flags.contains(&"variable_flags") {
        return key_spec.flags;
    }
    match spec.name {
        // `setGetKeys`: with GET the old value is read, otherwise it is only overwritten.
        "set" if command.iter().skip(3).any(|arg| is(arg, "get")) => &["RW", "access", "update"],
        "set" => &["OW", "update"],
        // `bitfieldGetKeys`: read-only unless a SET or INCRBY (or a syntax error) comes up.
        "bitfield" if bitfield_is_read_only(command) => &["RO", "access"],
        "bitfield" => &["RW", "access", "update"],
        _ => key_spec.flags,
    }
}

/// Redis's `bitfieldGetKeys` walk over `BITFIELD key op...`.
fn bitfield_is_read_only(command: &[Bytes]) -> bool {
    let mut i = 2;
    while i < command.len() {
        let remaining = command.len() - i - 1;
        let op = &command[i];
        if is(op, "get") && remaining >= 2 {
            i += 3;
        } else if is(op, "overflow") && remaining >= 1 {
            i += 2;
        } else {
            // SET / INCRBY write; anything else is a syntax error, assumed to write.
            return false;
        }
    }
    true
}

/// Whether a `keynum` spec of `spec` names no key or more keys than `command` holds: Redis's
/// `getKeysUsingKeySpecs` calls that an invalid spec, and GETKEYS then finds no key.
fn keynum_spec_is_invalid(spec: &CommandSpec, command: &[Bytes]) -> bool {
    spec.key_specs.iter().any(|key_spec| {
        let (BeginSearch::Index(start), FindKeys::KeyNum { num_keys_index, first_key, step }) =
            (key_spec.begin, key_spec.find)
        else {
            return false;
        };
        let Some(count) = command.get((start + num_keys_index) as usize).and_then(|n| redrock_protocol::string2ll(n))
        else {
            return true;
        };
        let first = (start + first_key) as i64;
        let last = first + count.saturating_sub(1).saturating_mul(step.max(1) as i64);
        count < 1 || last >= command.len() as i64
    })
}

fn getkeys(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(keys_of(args)?.into_iter().map(|(key, _)| Reply::Bulk(key)).collect()))
}

fn getkeys_and_flags(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(
        keys_of(args)?
            .into_iter()
            .map(|(key, flags)| {
                Reply::Array(vec![Reply::Bulk(key), Reply::Set(flags.iter().map(|f| simple(f)).collect())])
            })
            .collect(),
    ))
}
