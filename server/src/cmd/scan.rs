//! Walking the keyspace: SCAN, KEYS, RANDOMKEY.
//!
//! Keys are kept in byte order, so a SCAN cursor stands for "resume at this key": whatever is
//! added or deleted meanwhile, a key present for the whole iteration is returned exactly once
//! (Redis promises at least once). Cursors are small numbers mapped to resume keys in
//! `shared.scan_cursors`; a cursor the server no longer knows restarts the iteration.

use std::hash::{BuildHasher, Hasher};

use bytes::Bytes;
use redrock_protocol::Reply;

use super::args::{is, parse_i64};
use super::spec::{acl, flag, CommandSpec, Group};
use super::Ctx;
use crate::error::{Error, Result};
use crate::glob;
use crate::storage::Metadata;

/// SCAN's work per call when COUNT is not given (Redis's default).
pub const SCAN_DEFAULT_COUNT: i64 = 10;
/// Branching points RANDOMKEY descends at most before taking the first key below.
const RANDOMKEY_MAX_BRANCHINGS: usize = 64;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("scan", -2, Group::Generic, scan)
        .flags(flag::READONLY)
        .acl(acl::KEYSPACE)
        .tips(&["nondeterministic_output", "request_policy:special"])
        .doc(
            "2.8.0",
            "Incrementally iterate the keys space",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        ),
    CommandSpec::new("keys", 2, Group::Generic, keys)
        .flags(flag::READONLY)
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .tips(&["request_policy:all_shards", "nondeterministic_output_order"])
        .doc(
            "1.0.0",
            "Find all keys matching the given pattern",
            "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        ),
    CommandSpec::new("randomkey", 1, Group::Generic, randomkey)
        .flags(flag::READONLY)
        .acl(acl::KEYSPACE)
        .tips(&["request_policy:all_shards", "nondeterministic_output"])
        .doc("1.0.0", "Return a random key from the keyspace", "O(1)"),
];

/// Redis's `parseScanCursorOrReply`; one parser for SCAN and the collection scans.
pub use crate::types::collection::parse_cursor;

/// The literal bytes a glob pattern's matches all start with (up to its first special
/// character), so a match can read only that range of keys.
pub fn literal_prefix(pattern: &[u8]) -> &[u8] {
    let end = pattern.iter().position(|b| matches!(b, b'*' | b'?' | b'[' | b'\\')).unwrap_or(pattern.len());
    &pattern[..end]
}

/// A MATCH pattern; `*` (Redis's "all keys" shortcut) is none, so it also returns the empty key.
fn pattern_filter(pattern: &[u8]) -> Option<&[u8]> {
    (pattern != b"*").then_some(pattern)
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let cursor = parse_cursor(&args[1])?;
    let mut count = SCAN_DEFAULT_COUNT;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if is(&args[i], "count") && has_value {
            count = parse_i64(&args[i + 1])?;
            if count < 1 {
                return Err(Error::Syntax);
            }
        } else if is(&args[i], "match") && has_value {
            pattern = pattern_filter(&args[i + 1]);
        } else if is(&args[i], "type") && has_value {
            type_name = Some(&args[i + 1]);
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }

    let db = ctx.db();
    let start = ctx.shared.scan_cursors.resume_key(cursor);
    let prefix = pattern.map(literal_prefix).unwrap_or_default();
    // COUNT is the work per call: the number of records examined, matching or not, expired
    // or not (as Redis's COUNT counts buckets, whatever they hold).
    let mut examined: i64 = 0;
    let mut resume: Option<Vec<u8>> = None;
    let mut keys = Vec::new();
    db.for_each_record_with_prefix(prefix, &start, |key, meta, expired| {
        if examined == count {
            resume = Some(key.to_vec());
            return false;
        }
        examined += 1;
        if !expired && selected(key, meta, pattern, type_name) {
            keys.push(Reply::Bulk(Bytes::copy_from_slice(key)));
        }
        true
    })?;
    let next = match resume {
        Some(key) => ctx.shared.scan_cursors.save(key),
        None => 0,
    };
    Ok(Reply::Array(vec![Reply::Bulk(Bytes::from(next.to_string())), Reply::Array(keys)]))
}

/// SCAN's filters, as Redis applies them: the pattern, then the type (case-insensitive; an
/// unknown type selects nothing).
fn selected(key: &[u8], meta: &Metadata, pattern: Option<&[u8]>, type_name: Option<&[u8]>) -> bool {
    pattern.is_none_or(|p| glob::matches(p, key, false))
        && type_name.is_none_or(|t| t.eq_ignore_ascii_case(meta.key_type.name().as_bytes()))
}

/// `KEYS pattern`: `*` is every key, the empty key included. A walk of every key under the
/// pattern's literal prefix, off the worker thread (offload.rs).
fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let (pattern_arg, namespace, logical) = (args[1].clone(), ctx.client.namespace.clone(), ctx.client.db);
    ctx.offload(move |shared, wanted| {
        let pattern = pattern_filter(&pattern_arg);
        let prefix = pattern.map(literal_prefix).unwrap_or_default();
        let mut keys = Vec::new();
        let finished = shared.db(&namespace, logical).walk_keys(
            prefix,
            || wanted.still(),
            |key, _| {
                if pattern.is_none_or(|p| glob::matches(p, key, false)) {
                    keys.push(Reply::Bulk(Bytes::copy_from_slice(key)));
                }
            },
        )?;
        Ok(finished.then_some(Reply::Array(keys)))
    })
}

/// `RANDOMKEY`: a random descent of the keys' trie, one branching point at a time. Under
/// the current prefix, the first and the last key share a longer prefix (taken at once);
/// where they differ, a byte between theirs is drawn and the first key at or after it
/// picks the branch (the prefix itself, when it is a key, is one more choice). Each level
/// costs three seeks; like Redis's random bucket, the draw is not uniform over keys, but it
/// spreads over every branch, whatever alphabet the keys use.
fn randomkey(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    let db = ctx.db();
    let mut random = Random::new();
    let mut prefix: Vec<u8> = Vec::new();
    for _ in 0..RANDOMKEY_MAX_BRANCHINGS {
        let (Some(first), Some(last)) = (db.first_key_with_prefix(&prefix, b"")?, db.last_key_with_prefix(&prefix)?)
        else {
            // Empty database (or the branch vanished under a concurrent delete).
            return Ok(db.first_key_with_prefix(b"", b"")?.map_or(Reply::Null, |k| Reply::Bulk(Bytes::from(k))));
        };
        if first == last {
            return Ok(Reply::Bulk(Bytes::from(first)));
        }
        let common = first.iter().zip(&last).take_while(|(a, b)| a == b).count();
        prefix = last[..common].to_vec();
        let high = last[common];
        let (low, prefix_is_key) = match first.get(common) {
            Some(&low) => (low, false),
            // The prefix is a key: its children start at the next key (`last` is one).
            None => {
                let mut after = prefix.clone();
                after.push(0);
                let child = db.first_key_with_prefix(&prefix, &after)?;
                (child.and_then(|c| c.get(common).copied()).unwrap_or(high), true)
            }
        };
        // The choices: the prefix itself (if it is a key), then the bytes low..=high.
        let choices = u64::from(high - low) + 1 + u64::from(prefix_is_key);
        let draw = random.next() % choices;
        if prefix_is_key && draw == 0 {
            return Ok(Reply::Bulk(Bytes::from(first)));
        }
        let byte = low + (draw - u64::from(prefix_is_key)) as u8;
        let mut target = prefix.clone();
        target.push(byte);
        match db.first_key_with_prefix(&prefix, &target)? {
            Some(branch) if branch.len() > common => prefix.push(branch[common]),
            _ => prefix.push(high),
        }
    }
    Ok(db.first_key_with_prefix(&prefix, b"")?.map_or(Reply::Null, |k| Reply::Bulk(Bytes::from(k))))
}

/// A small xorshift generator seeded from the process's random hasher keys: RANDOMKEY needs
/// spread, not cryptographic quality.
struct Random(u64);

impl Random {
    fn new() -> Random {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        Random(h.finish() | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefixes_stop_at_special_characters() {
        assert_eq!(literal_prefix(b"user:*"), b"user:");
        assert_eq!(literal_prefix(b"h?llo"), b"h");
        assert_eq!(literal_prefix(b"a\\*b"), b"a");
        assert_eq!(literal_prefix(b"[ab]"), b"");
        assert_eq!(literal_prefix(b"exact"), b"exact");
    }
}
