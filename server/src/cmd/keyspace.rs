//! Keyspace (generic) commands: they work on keys of every type.

use bytes::Bytes;
use redrock_protocol::Reply;

use super::spec::{acl, flag, key_flags, CommandSpec, Group, KeySpec};
use super::Ctx;
use crate::error::Result;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, Group::Generic, del)
        .flags(flag::WRITE)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::range(1, -1, 1, key_flags::RM_DELETE)])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"])
        .doc("1.0.0", "Delete a key", "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1)."),
    CommandSpec::new("type", 2, Group::Generic, type_)
        .flags(flag::READONLY | flag::FAST)
        .acl(acl::KEYSPACE)
        .keys(&[KeySpec::single(1, key_flags::RO)])
        .doc("1.0.0", "Determine the type stored at key", "O(1)"),
];

fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let mut batch = db.storage.batch();
    let mut deleted = 0;
    for key in &args[1..] {
        if db.lookup(key)?.is_some() {
            db.delete_in(&mut batch, key);
            deleted += 1;
        }
    }
    db.storage.write(batch)?;
    Ok(Reply::Integer(deleted))
}

fn type_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let name = match ctx.db().lookup_read(&args[1])? {
        Some(record) => record.meta.key_type.name(),
        None => "none",
    };
    Ok(Reply::Simple(Bytes::from_static(name.as_bytes())))
}
