//! `OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT|HELP`: introspection, answered as Redis 7.0 with
//! its default configuration would answer it.
//!
//! Redrock has no in-memory encodings, so ENCODING reports the one Redis would pick for the
//! value as it is now, from Redis's default thresholds: the metadata gives the size, and the
//! elements are read only when the size alone leaves the answer open (at most
//! `types::set::INTSET.max_entries` sub-keys). Of what Redis decides from a key's history, only
//! strings keep a trace: their record holds a [`StringEncoding`] hint (`raw` after APPEND,
//! SETRANGE, SETBIT, BITFIELD or BITOP; never `int` after INCRBYFLOAT). A collection that once
//! outgrew its compact encoding stays `hashtable`/`skiplist` in Redis, not here.

use bytes::Bytes;
use redrock_protocol::Reply;

use super::spec::{acl, flag, CommandSpec, Group, KeySpec};
use super::Ctx;
use crate::db::{Db, Record};
use crate::error::{Error, Result};
use crate::storage::metadata::StringEncoding;
use crate::storage::KeyType;
use crate::types::{hash, set, string, zset};

/// Redis 7.0's built-in `zset-max-listpack-value`; the entry counts, and the hash and set
/// thresholds, are the types' own (`types::hash::LISTPACK`, `types::set::INTSET`,
/// `types::zset::LISTPACK_MAX_ENTRIES`), which HSCAN/SSCAN/ZSCAN follow too.
pub const ZSET_MAX_LISTPACK_VALUE: usize = 64;
/// Strings up to this length are `embstr` (`OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
pub const EMBSTR_SIZE_LIMIT: usize = 44;
/// Longest string Redis tries to encode as an integer (a `long` in decimal).
const INT_ENCODING_MAX_LEN: usize = 20;
/// Integers below this are Redis's shared objects (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10_000;
/// The refcount Redis reports for shared objects (`OBJ_SHARED_REFCOUNT`).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

const LFU_NOT_SELECTED: &str = "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

const OBJECT_KEY: &[KeySpec] = &[KeySpec::single(2, &["RO"])];
const INTROSPECTION: &[&str] = &["nondeterministic_output"];

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("encoding", 3, Group::Generic, encoding)
        .flags(flag::READONLY)
        .acl(acl::KEYSPACE)
        .keys(OBJECT_KEY)
        .tips(INTROSPECTION)
        .doc("2.2.3", "Inspect the internal encoding of a Redis object", "O(1)"),
    CommandSpec::new("freq", 3, Group::Generic, freq)
        .flags(flag::READONLY)
        .acl(acl::KEYSPACE)
        .keys(OBJECT_KEY)
        .tips(INTROSPECTION)
        .doc("4.0.0", "Get the logarithmic access frequency counter of a Redis object", "O(1)"),
    CommandSpec::new("help", 2, Group::Generic, help).flags(flag::LOADING | flag::STALE).acl(acl::KEYSPACE).doc(
        "6.2.0",
        "Show helpful text about the different subcommands",
        "O(1)",
    ),
    CommandSpec::new("idletime", 3, Group::Generic, idletime)
        .flags(flag::READONLY)
        .acl(acl::KEYSPACE)
        .keys(OBJECT_KEY)
        .tips(INTROSPECTION)
        .doc("2.2.3", "Get the time since a Redis object was last accessed", "O(1)"),
    CommandSpec::new("refcount", 3, Group::Generic, refcount)
        .flags(flag::READONLY)
        .acl(acl::KEYSPACE)
        .keys(OBJECT_KEY)
        .tips(INTROSPECTION)
        .doc("2.2.3", "Get the number of references to the value of the key", "O(1)"),
];

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::container("object", Group::Generic, SUBCOMMANDS).doc(
    "2.2.3",
    "A container for object introspection commands",
    "Depends on subcommand.",
)];

/// Redis's encoding of a string value: `int` if it reads back as a canonical `long`, else
/// `embstr` up to 44 bytes, else `raw`.
pub fn string_encoding(value: &[u8]) -> &'static str {
    if value.len() <= INT_ENCODING_MAX_LEN && redrock_protocol::string2ll(value).is_some() {
        "int"
    } else if value.len() <= EMBSTR_SIZE_LIMIT {
        "embstr"
    } else {
        "raw"
    }
}

/// What OBJECT REFCOUNT says of a string: Redis shares the objects of small integers.
pub fn string_refcount(value: &[u8]) -> i64 {
    let shared = value.len() <= INT_ENCODING_MAX_LEN
        && redrock_protocol::string2ll(value).is_some_and(|n| (0..SHARED_INTEGERS).contains(&n));
    if shared {
        SHARED_REFCOUNT
    } else {
        1
    }
}

/// The encoding Redis 7.0 would use for `record` now (see the module notes).
fn encoding_of(db: &Db<'_>, key: &[u8], record: &Record) -> Result<&'static str> {
    let size = record.meta.collection.map_or(0, |c| c.size);
    Ok(match record.meta.key_type {
        KeyType::String => match string::encoding_hint(record) {
            StringEncoding::FromValue => string_encoding(record.string_value()),
            StringEncoding::NotInt if record.string_value().len() <= EMBSTR_SIZE_LIMIT => "embstr",
            StringEncoding::NotInt | StringEncoding::Raw => "raw",
        },
        // Redis 7.0 keeps every list in a quicklist (listpack lists arrived in 7.2).
        KeyType::List => "quicklist",
        KeyType::Hash => {
            let listpack = hash::LISTPACK;
            let small = size <= listpack.max_entries && all_sub_keys(db, key, record, listpack.element)?;
            if small {
                "listpack"
            } else {
                "hashtable"
            }
        }
        KeyType::Set => {
            let intset = set::INTSET;
            let integers = size <= intset.max_entries && all_sub_keys(db, key, record, intset.element)?;
            if integers {
                "intset"
            } else {
                "hashtable"
            }
        }
        KeyType::ZSet => {
            let small = size <= zset::LISTPACK_MAX_ENTRIES
                && all_sub_keys(db, key, record, |member, _| member.len() <= ZSET_MAX_LISTPACK_VALUE)?;
            if small {
                "listpack"
            } else {
                "skiplist"
            }
        }
    })
}

/// Whether every sub-key of `record` satisfies `check` (stops at the first that does not).
fn all_sub_keys(db: &Db<'_>, key: &[u8], record: &Record, mut check: impl FnMut(&[u8], &[u8]) -> bool) -> Result<bool> {
    let mut all = true;
    db.for_each_sub_key(key, record, |sub, value| {
        all = check(sub, value);
        all
    })?;
    Ok(all)
}

fn encoding(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let Some(record) = db.lookup(&args[2])? else {
        return Ok(Reply::Null);
    };
    Ok(Reply::Bulk(Bytes::from_static(encoding_of(&db, &args[2], &record)?.as_bytes())))
}

/// Redis's default policy (`noeviction`) tracks no frequency: an existing key gets the LFU
/// error, a missing one a null, in that order of checks.
fn freq(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    match ctx.db().lookup(&args[2])? {
        Some(_) => Err(Error::err(LFU_NOT_SELECTED)),
        None => Ok(Reply::Null),
    }
}

/// No access time is kept (it would turn every read into a write): every key reads as just
/// used, which is what Redis answers right after an access.
fn idletime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(match ctx.db().lookup(&args[2])? {
        Some(_) => Reply::Integer(0),
        None => Reply::Null,
    })
}

fn refcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    Ok(match ctx.db().lookup(&args[2])? {
        Some(record) if record.meta.key_type == KeyType::String => Reply::Integer(
            // Only strings written whole can be Redis's shared small integers.
            if string::encoding_hint(&record) == StringEncoding::FromValue {
                string_refcount(record.string_value())
            } else {
                1
            },
        ),
        Some(_) => Reply::Integer(1),
        None => Reply::Null,
    })
}

fn help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Array(HELP.iter().map(|line| Reply::Simple(Bytes::from_static(line.as_bytes()))).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_encodings_follow_redis() {
        assert_eq!(string_encoding(b"12345"), "int");
        assert_eq!(string_encoding(b"-5"), "int");
        assert_eq!(string_encoding(b"9223372036854775807"), "int");
        assert_eq!(string_encoding(b"9223372036854775808"), "embstr");
        assert_eq!(string_encoding(b"123456789012345678901234567890"), "embstr");
        assert_eq!(string_encoding(b"007"), "embstr");
        assert_eq!(string_encoding(b""), "embstr");
        assert_eq!(string_encoding(&[b'a'; 44]), "embstr");
        assert_eq!(string_encoding(&[b'a'; 45]), "raw");
    }

    #[test]
    fn small_integers_are_shared() {
        assert_eq!(string_refcount(b"0"), SHARED_REFCOUNT);
        assert_eq!(string_refcount(b"9999"), SHARED_REFCOUNT);
        assert_eq!(string_refcount(b"10000"), 1);
        assert_eq!(string_refcount(b"-1"), 1);
        assert_eq!(string_refcount(b"hello"), 1);
    }
}
