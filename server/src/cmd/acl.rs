//! ACL introspection: `ACL CAT`, `ACL USERS`, `ACL WHOAMI`. Only Redis's `default` user
//! exists (its password is `requirepass`); categories come from the command table.

use bytes::Bytes;
use redrock_protocol::Reply;

use super::spec::{acl, flag, CommandSpec, Group};
use super::{table, Ctx};
use crate::error::{Error, Result};

const STALE: u32 = flag::NOSCRIPT | flag::LOADING | flag::STALE;

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
    CommandSpec::new("users", 2, Group::Server, users).flags(flag::ADMIN | STALE).doc(
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

const DEFAULT_USER: &[u8] = b"default";

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
        // Redis's `addReplySubcommandSyntaxError`.
        _ => Err(Error::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
            c_text(&args[1]),
            String::from_utf8_lossy(&args[0]).to_ascii_uppercase()
        ))),
    }
}

/// An argument as C's `%.128s` prints it: at most 128 bytes, cut at a NUL.
fn c_text(arg: &[u8]) -> String {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len()).min(128);
    String::from_utf8_lossy(&arg[..end]).into_owned()
}

fn users(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(vec![Reply::Bulk(Bytes::from_static(DEFAULT_USER))]))
}

fn whoami(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Bulk(Bytes::from_static(DEFAULT_USER)))
}
