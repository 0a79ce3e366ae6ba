//! String commands.

use bytes::Bytes;
use redrock_protocol::Reply;

use super::spec::{acl, flag, key_flags, CommandSpec, Group, KeySpec};
use super::Ctx;
use crate::error::Result;
use crate::types::string;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, Group::String, get)
        .flags(flag::READONLY | flag::FAST)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RO_ACCESS)])
        .doc("1.0.0", "Get the value of a key", "O(1)"),
    CommandSpec::new("set", -3, Group::String, set)
        .flags(flag::WRITE | flag::DENYOOM)
        .acl(acl::STRING)
        .keys(&[KeySpec::single(1, key_flags::RW_ACCESS_UPDATE_VARIABLE)
            .with_notes("RW and ACCESS due to the optional `GET` argument")])
        .doc("1.0.0", "Set the string value of a key", "O(1)"),
];

fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(match string::get(&ctx.db(), &args[1])? {
        Some(record) => Reply::Bulk(Bytes::copy_from_slice(record.string_value())),
        None => Reply::Null,
    })
}

/// Placeholder-free minimal SET (no options yet): the strings family completes it.
fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    if args.len() != 3 {
        return Err(crate::error::Error::Syntax);
    }
    string::put(&ctx.db(), &args[1], &args[2], 0)?;
    Ok(Reply::ok())
}
