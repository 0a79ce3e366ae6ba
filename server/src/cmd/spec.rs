//! The shape of one entry of the command table. Each family file (`strings.rs`, ...) declares
//! its entries next to its handlers; `table.rs` gathers them into the one table that drives
//! dispatch, arity errors, key locks and `COMMAND`.

use bytes::Bytes;
use redrock_protocol::Reply;
use smallvec::SmallVec;

use super::Ctx;
use crate::error::Result;

/// A command handler: arguments include the command name (and subcommand name) at the front.
pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Result<Reply>;

/// Command flags, named and ordered as `COMMAND INFO` prints them in Redis 7.0.
pub mod flag {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 4;
    pub const PUBSUB: u32 = 1 << 5;
    pub const NOSCRIPT: u32 = 1 << 6;
    pub const BLOCKING: u32 = 1 << 7;
    pub const LOADING: u32 = 1 << 8;
    pub const STALE: u32 = 1 << 9;
    pub const SKIP_MONITOR: u32 = 1 << 10;
    pub const SKIP_SLOWLOG: u32 = 1 << 11;
    pub const FAST: u32 = 1 << 13;
    pub const NO_AUTH: u32 = 1 << 14;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 15;
    pub const NO_ASYNC_LOADING: u32 = 1 << 16;
    pub const NO_MULTI: u32 = 1 << 17;
    pub const MOVABLE_KEYS: u32 = 1 << 18;
    pub const ALLOW_BUSY: u32 = 1 << 19;
    /// Not shown by COMMAND INFO (hidden in Redis too).
    pub const MAY_REPLICATE: u32 = 1 << 24;
    pub const PROTECTED: u32 = 1 << 25;
    /// Redrock's own, not shown by COMMAND INFO: the command reaches keys outside its key
    /// specs (another database, or all of them), so dispatch locks every key stripe.
    pub const LOCKS_ALL_KEYS: u32 = 1 << 26;
    /// Redrock's own, not shown by COMMAND INFO: a point read. The command reads its key's
    /// metadata record, then at most one member of that key (HGET's field), each once, and
    /// writes nothing. Named with one key, it takes no key lock (locks.rs says why that is
    /// safe; a GET at `-P 16` spent 0.5 k of its 3.5 k instructions hashing, taking and
    /// dropping its stripe).
    pub const POINT_READ: u32 = 1 << 27;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories, in Redis 7.0's order. A spec declares the topical ones (keyspace, string,
/// ...); the ones implied by flags (write, read, admin, fast, slow, ...) are derived.
pub mod acl {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const READ: u32 = 1 << 1;
    pub const WRITE: u32 = 1 << 2;
    pub const SET: u32 = 1 << 3;
    pub const SORTEDSET: u32 = 1 << 4;
    pub const LIST: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const STRING: u32 = 1 << 7;
    pub const BITMAP: u32 = 1 << 8;
    pub const HYPERLOGLOG: u32 = 1 << 9;
    pub const GEO: u32 = 1 << 10;
    pub const STREAM: u32 = 1 << 11;
    pub const PUBSUB: u32 = 1 << 12;
    pub const ADMIN: u32 = 1 << 13;
    pub const FAST: u32 = 1 << 14;
    pub const SLOW: u32 = 1 << 15;
    pub const BLOCKING: u32 = 1 << 16;
    pub const DANGEROUS: u32 = 1 << 17;
    pub const CONNECTION: u32 = 1 << 18;
    pub const TRANSACTION: u32 = 1 << 19;
    pub const SCRIPTING: u32 = 1 << 20;

    pub const NAMES: &[(u32, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];
}

/// Where the search for a key spec's keys begins.
#[derive(Clone, Copy, Debug)]
pub enum BeginSearch {
    /// At this argument index.
    Index(i32),
    /// After `keyword`, searched from `start_from` (negative: from the end, backwards).
    Keyword { keyword: &'static str, start_from: i32 },
}

/// How the keys are found once the search began.
#[derive(Clone, Copy, Debug)]
pub enum FindKeys {
    /// `last_key` relative to the start (-1 = last argument), every `step`-th, at most
    /// `(count)/limit` when limit > 1.
    Range { last_key: i32, step: i32, limit: i32 },
    /// The argument at `num_keys_index` (relative) says how many keys follow from `first_key`.
    KeyNum { num_keys_index: i32, first_key: i32, step: i32 },
}

/// Redis 7.0 key specification.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    /// `RO`, `RW`, `OW`, `RM` then `access`, `update`, `insert`, `delete`, ... as Redis prints them.
    pub flags: &'static [&'static str],
    pub begin: BeginSearch,
    pub find: FindKeys,
}

impl KeySpec {
    /// One key at `index`.
    pub const fn single(index: i32, flags: &'static [&'static str]) -> KeySpec {
        KeySpec { flags, begin: BeginSearch::Index(index), find: FindKeys::Range { last_key: 0, step: 1, limit: 0 } }
    }

    /// Keys from `index` to the end (`last_key` -1) every `step`.
    pub const fn range(index: i32, last_key: i32, step: i32, flags: &'static [&'static str]) -> KeySpec {
        KeySpec { flags, begin: BeginSearch::Index(index), find: FindKeys::Range { last_key, step, limit: 0 } }
    }
}

/// The command's group, as `COMMAND DOCS` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Generic,
    String,
    List,
    Set,
    SortedSet,
    Hash,
    Connection,
    Server,
    Transactions,
    Bitmap,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Generic => "generic",
            Group::String => "string",
            Group::List => "list",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::Hash => "hash",
            Group::Connection => "connection",
            Group::Server => "server",
            Group::Transactions => "transactions",
            Group::Bitmap => "bitmap",
        }
    }
}

/// One command (or subcommand) of the table.
#[derive(Clone, Copy, Debug)]
pub struct CommandSpec {
    /// Lower case; subcommands carry only their own part (`get` under `config`).
    pub name: &'static str,
    /// Redis's convention: N exactly N arguments (name included), -N at least N.
    pub arity: i32,
    pub flags: u32,
    pub acl: u32,
    pub key_specs: &'static [KeySpec],
    /// Redis's `notes` of the key spec at the same index (`COMMAND INFO set`); most have none.
    pub key_notes: &'static [&'static str],
    pub group: Group,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    /// For a deprecated command, the version that deprecated it and what replaces it
    /// (`COMMAND DOCS` `deprecated_since` / `replaced_by`); empty otherwise.
    pub deprecated_since: &'static str,
    pub replaced_by: &'static str,
    /// `COMMAND INFO` tips (`nondeterministic_output`, `request_policy:all_shards`, ...).
    pub tips: &'static [&'static str],
    /// `None` for containers (`CONFIG`, `CLIENT`), which dispatch to `subcommands`.
    pub handler: Option<Handler>,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub const fn new(name: &'static str, arity: i32, group: Group, handler: Handler) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags: 0,
            acl: 0,
            key_specs: &[],
            key_notes: &[],
            group,
            since: "1.0.0",
            summary: "",
            complexity: "",
            deprecated_since: "",
            replaced_by: "",
            tips: &[],
            handler: Some(handler),
            subcommands: &[],
        }
    }

    /// A container (`CONFIG GET`, `CLIENT ID`, ...).
    pub const fn container(name: &'static str, group: Group, subcommands: &'static [CommandSpec]) -> CommandSpec {
        CommandSpec {
            name,
            arity: -2,
            flags: 0,
            acl: 0,
            key_specs: &[],
            key_notes: &[],
            group,
            since: "1.0.0",
            summary: "",
            complexity: "",
            deprecated_since: "",
            replaced_by: "",
            tips: &[],
            handler: None,
            subcommands,
        }
    }

    /// Marks the command deprecated since `since`, replaced by `replaced_by` (Redis's text,
    /// with its backquotes).
    pub const fn deprecated(mut self, since: &'static str, replaced_by: &'static str) -> Self {
        self.deprecated_since = since;
        self.replaced_by = replaced_by;
        self
    }

    /// Notes of the key specs, by index (`""` for a spec without).
    pub const fn key_notes(mut self, notes: &'static [&'static str]) -> Self {
        self.key_notes = notes;
        self
    }

    /// Subcommands of a container that also runs on its own (`COMMAND` without arguments).
    pub const fn with_subcommands(mut self, subcommands: &'static [CommandSpec]) -> Self {
        self.subcommands = subcommands;
        self
    }

    pub const fn flags(mut self, flags: u32) -> Self {
        self.flags = flags;
        self
    }

    pub const fn acl(mut self, acl: u32) -> Self {
        self.acl = acl;
        self
    }

    pub const fn keys(mut self, key_specs: &'static [KeySpec]) -> Self {
        self.key_specs = key_specs;
        self
    }

    pub const fn tips(mut self, tips: &'static [&'static str]) -> Self {
        self.tips = tips;
        self
    }

    pub const fn doc(mut self, since: &'static str, summary: &'static str, complexity: &'static str) -> Self {
        self.since = since;
        self.summary = summary;
        self.complexity = complexity;
        self
    }

    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_accepts(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= self.arity.unsigned_abs() as usize
        }
    }

    /// All ACL categories: the declared ones plus those Redis derives from the flags.
    pub fn acl_categories(&self) -> u32 {
        let mut acl = self.acl;
        if self.flags & flag::WRITE != 0 {
            acl |= acl::WRITE;
        }
        if self.flags & flag::READONLY != 0 && self.acl & acl::SCRIPTING == 0 {
            acl |= acl::READ;
        }
        if self.flags & flag::ADMIN != 0 {
            acl |= acl::ADMIN | acl::DANGEROUS;
        }
        if self.flags & flag::PUBSUB != 0 {
            acl |= acl::PUBSUB;
        }
        if self.flags & flag::FAST != 0 {
            acl |= acl::FAST;
        }
        if self.flags & flag::BLOCKING != 0 {
            acl |= acl::BLOCKING;
        }
        if acl & acl::FAST == 0 {
            acl |= acl::SLOW;
        }
        acl
    }

    /// Redis's legacy (first, last, step) triple and whether the keys are "movable", derived
    /// from the key specs exactly as Redis 7.0's `populateCommandLegacyRangeSpec` does.
    pub fn legacy_range(&self) -> ((i32, i32, i32), bool) {
        let plain = |spec: &KeySpec| match (spec.begin, spec.find) {
            (BeginSearch::Index(index), FindKeys::Range { last_key, step, .. }) => Some((index, last_key, step)),
            _ => None,
        };
        let incomplete = |spec: &KeySpec| spec.flags.contains(&"incomplete");
        let absolute = |(index, last_key, _): (i32, i32, i32)| if last_key >= 0 { index + last_key } else { last_key };
        match self.key_specs {
            [] => return ((0, 0, 0), false),
            [only] => {
                if let Some(range) = plain(only) {
                    return ((range.0, absolute(range), range.2), incomplete(only));
                }
            }
            _ => {}
        }
        let mut movable = false;
        let (mut first, mut last, mut prev_last) = (i32::MAX, 0i32, 0i32);
        for spec in self.key_specs {
            let Some(range) = plain(spec) else {
                movable = true;
                continue;
            };
            if range.2 != 1 || (prev_last != 0 && prev_last != range.0 - 1) {
                movable = true;
                continue;
            }
            movable |= incomplete(spec);
            first = first.min(range.0);
            // Unsigned comparison, as Redis does, so a negative (relative to the end) wins.
            last = (last as u32).max(absolute(range) as u32) as i32;
            prev_last = last;
        }
        if first == i32::MAX {
            return ((0, 0, 0), true);
        }
        ((first, last, 1), movable)
    }

    /// Positions of the keys in `args`, in the order the specs give them. Every command
    /// asks before it runs; most name a key or two, which then cost no allocation.
    pub fn key_positions(&self, args: &[Bytes]) -> KeyPositions {
        let mut out = KeyPositions::new();
        self.visit_keys(args, |position, _| out.push(position));
        out
    }

    /// Positions of the keys in `args`, each with the key spec that found it (whose flags
    /// `COMMAND GETKEYSANDFLAGS` prints).
    pub fn keys_with_specs(&self, args: &[Bytes]) -> Vec<(usize, &'static KeySpec)> {
        let mut out = Vec::new();
        self.visit_keys(args, |position, spec| out.push((position, spec)));
        out
    }

    /// Calls `visit(position, spec)` for each key of `args`, in the order the specs give them.
    fn visit_keys(&self, args: &[Bytes], mut visit: impl FnMut(usize, &'static KeySpec)) {
        let argc = args.len() as i64;
        for spec in self.key_specs {
            let start = match spec.begin {
                BeginSearch::Index(index) => index as i64,
                BeginSearch::Keyword { keyword, start_from } => {
                    let found = if start_from >= 0 {
                        (start_from as i64..argc).find(|&i| args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()))
                    } else {
                        let from = argc + start_from as i64;
                        (1..=from.max(0))
                            .rev()
                            .find(|&i| i < argc && args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()))
                    };
                    match found {
                        Some(i) => i + 1,
                        None => continue,
                    }
                }
            };
            match spec.find {
                FindKeys::Range { last_key, step, limit } => {
                    let end = if last_key >= 0 {
                        start + last_key as i64
                    } else if limit > 1 {
                        start + (argc - start) / limit as i64 - 1
                    } else {
                        argc + last_key as i64
                    };
                    let mut i = start;
                    while i <= end && i < argc && i >= 1 {
                        visit(i as usize, spec);
                        i += step.max(1) as i64;
                    }
                }
                FindKeys::KeyNum { num_keys_index, first_key, step } => {
                    let num_at = start + num_keys_index as i64;
                    if num_at >= argc || num_at < 1 {
                        continue;
                    }
                    let Some(count) = redrock_protocol::string2ll(&args[num_at as usize]) else {
                        continue;
                    };
                    let first = start + first_key as i64;
                    for n in 0..count.max(0) {
                        let i = first + n * step.max(1) as i64;
                        if i >= argc {
                            break;
                        }
                        visit(i as usize, spec);
                    }
                }
            }
        }
    }
}

/// Key positions of one request, inline up to a few keys.
pub type KeyPositions = SmallVec<[usize; INLINE_KEYS]>;

/// Keys a request names without a heap allocation for its positions, stripes and locks:
/// nearly every command names one to three.
pub const INLINE_KEYS: usize = 4;

/// Key-spec flag sets used across families, spelled as Redis 7.0's COMMAND INFO prints them.
pub mod key_flags {
    pub const RO_ACCESS: &[&str] = &["RO", "access"];
    pub const RO: &[&str] = &["RO"];
    pub const RW_ACCESS_DELETE: &[&str] = &["RW", "access", "delete"];
    pub const RW_ACCESS_UPDATE: &[&str] = &["RW", "access", "update"];
    pub const RW_INSERT: &[&str] = &["RW", "insert"];
    pub const RW_UPDATE: &[&str] = &["RW", "update"];
    pub const RM_DELETE: &[&str] = &["RM", "delete"];
    pub const OW_UPDATE: &[&str] = &["OW", "update"];
    pub const OW_INSERT: &[&str] = &["OW", "insert"];
    pub const RW_ACCESS_DELETE_VARIABLE: &[&str] = &["RW", "access", "delete", "variable_flags"];
    pub const RW_ACCESS_UPDATE_VARIABLE: &[&str] = &["RW", "access", "update", "variable_flags"];
}
