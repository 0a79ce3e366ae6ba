//! Configuration parameters: one declarative table that serves the command line, the config
//! file (redis.conf syntax), `CONFIG GET` and `CONFIG SET`, with Redis's names and error texts.

use std::collections::BTreeMap;

/// What values a parameter takes.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    /// Bytes, written with Redis's units (`1kb`, `512mb`, `1gb`, `100k`).
    Memory {
        min: u64,
        max: u64,
    },
    Bool,
    Enum(&'static [&'static str]),
    String,
    /// `client-output-buffer-limit`: classes given are merged over the current value.
    OutputBufferLimit,
}

/// One parameter.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub default: &'static str,
    pub kind: Kind,
    /// Whether `CONFIG SET` may change it at run time.
    pub mutable: bool,
}

const GB: u64 = 1 << 30;
/// Redis's `CONFIG_MIN_HZ` / `CONFIG_MAX_HZ`.
const MIN_HZ: i64 = 1;
const MAX_HZ: i64 = 500;
const MB: u64 = 1 << 20;
const KB: u64 = 1 << 10;

/// Every parameter Redrock has.
pub const PARAMS: &[Param] = &[
    Param { name: "port", default: "6666", kind: Kind::Int { min: 0, max: 65535 }, mutable: false },
    Param { name: "bind", default: "127.0.0.1", kind: Kind::String, mutable: false },
    Param { name: "dir", default: "./data", kind: Kind::String, mutable: false },
    Param { name: "requirepass", default: "", kind: Kind::String, mutable: true },
    // Where ACL SAVE writes the users and ACL LOAD reads them (redis.conf's `aclfile`).
    Param { name: "aclfile", default: "", kind: Kind::String, mutable: false },
    Param { name: "acllog-max-len", default: "128", kind: Kind::Int { min: 0, max: i64::MAX }, mutable: true },
    // What channels a new ACL user (or selector, or `reset`) gets.
    Param {
        name: "acl-pubsub-default",
        default: "resetchannels",
        kind: Kind::Enum(&["allchannels", "resetchannels"]),
        mutable: true,
    },
    Param { name: "protected-mode", default: "yes", kind: Kind::Bool, mutable: true },
    Param { name: "databases", default: "16", kind: Kind::Int { min: 1, max: 256 }, mutable: false },
    Param { name: "appendfsync", default: "everysec", kind: Kind::Enum(&["everysec", "always", "no"]), mutable: false },
    Param {
        name: "proto-max-bulk-len",
        default: "536870912",
        kind: Kind::Memory { min: MB, max: i64::MAX as u64 },
        mutable: true,
    },
    Param {
        name: "client-query-buffer-limit",
        default: "1073741824",
        kind: Kind::Memory { min: MB, max: i64::MAX as u64 },
        mutable: true,
    },
    Param { name: "maxclients", default: "10000", kind: Kind::Int { min: 1, max: u32::MAX as i64 }, mutable: true },
    Param { name: "timeout", default: "0", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, mutable: true },
    Param {
        name: "client-output-buffer-limit",
        default: crate::output_limit::DEFAULT,
        kind: Kind::OutputBufferLimit,
        mutable: true,
    },
    // Kvrocks's disk quota in GB (0 = none): writes are refused once RocksDB's files pass it.
    Param { name: "max-db-size", default: "0", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, mutable: true },
    // Redis accepts any non-negative hz and clamps it to 1..=500 (`CONFIG GET` shows the clamp).
    Param { name: "hz", default: "10", kind: Kind::Int { min: 0, max: i32::MAX as i64 }, mutable: true },
    Param {
        name: "loglevel",
        default: "notice",
        kind: Kind::Enum(&["debug", "verbose", "notice", "warning"]),
        mutable: true,
    },
    // Accepted and reported so clients and tools that read them work. Every acknowledged
    // write is already durable in RocksDB's log, so there are no snapshots to schedule
    // (`save`) and no AOF to turn on (`appendonly`).
    Param { name: "save", default: "", kind: Kind::String, mutable: true },
    Param { name: "appendonly", default: "no", kind: Kind::Bool, mutable: true },
    // Accepted and reported so clients that read them work; Redrock keeps its data on disk
    // and never evicts, so neither has an effect.
    Param { name: "maxmemory", default: "0", kind: Kind::Memory { min: 0, max: i64::MAX as u64 }, mutable: true },
    Param {
        name: "maxmemory-policy",
        default: "noeviction",
        kind: Kind::Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        mutable: true,
    },
    Param { name: "logfile", default: "", kind: Kind::String, mutable: false },
    // Kvrocks's name: threads that run connections and commands; 0 = one per core.
    Param { name: "workers", default: "0", kind: Kind::Int { min: 0, max: 256 }, mutable: false },
    Param {
        name: "rocksdb-block-cache-size",
        default: "201326592",
        kind: Kind::Memory { min: MB, max: 1024 * GB },
        mutable: false,
    },
    // Kvrocks's `rocksdb.block_size` and its value: the uncompressed bytes of one SST data
    // block (storage/mod.rs's `table_options` says why not RocksDB's 4 KB).
    Param {
        name: "rocksdb-block-size",
        default: "16384",
        kind: Kind::Memory { min: KB, max: 64 * MB },
        mutable: false,
    },
    Param {
        name: "rocksdb-write-buffer-size",
        default: "67108864",
        kind: Kind::Memory { min: MB, max: 64 * GB },
        mutable: false,
    },
    // Each key's metadata record (a string's value, a collection's header) cached in front of
    // RocksDB (storage/record_cache.rs); 0 turns the cache off. 128 MB of the memory budget,
    // taken from the block cache (256 -> 192 MB): a hit here skips RocksDB, where a block
    // cache hit still searches the memtables and a block, and a hot record keeps a whole
    // 4 KB block cached. At 64 MB it could not hold 100 k strings of 1 KB, and a pipelined GET
    // of them ran at 0.34x of Redis, 0.78x with 128 MB. (The member cache stays at 64 MB:
    // doubled, four 1 M-element collections took 1.14x of Redis's RSS rather than 0.82x.)
    Param {
        name: "record-cache-size",
        default: "134217728",
        kind: Kind::Memory { min: 0, max: 1024 * GB },
        mutable: false,
    },
    // Collection members (hash fields, set and sorted-set members, list elements) cached in
    // front of RocksDB, as metadata records are; 0 turns the cache off.
    Param {
        name: "sub-key-cache-size",
        default: "67108864",
        kind: Kind::Memory { min: 0, max: 1024 * GB },
        mutable: false,
    },
];

/// A rejected value or name; `Display` is the text a command-line user sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown config parameter '{0}'")]
    Unknown(String),
    #[error("bad value for '{name}': {reason}")]
    BadValue { name: String, reason: String },
    #[error("'{0}' cannot be changed at run time")]
    Immutable(String),
}

pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Redis's `memtoull`: a number with an optional unit (k, kb, m, mb, g, gb; any case).
pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let (digits, multiplier) =
        [("gb", GB), ("mb", MB), ("kb", 1 << 10), ("g", 1_000_000_000), ("m", 1_000_000), ("k", 1000), ("b", 1)]
            .iter()
            .find_map(|(unit, mul)| lower.strip_suffix(unit).map(|d| (d.to_string(), *mul)))
            .unwrap_or((lower, 1));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

impl Param {
    /// Checks `value` and returns it normalised (memory in bytes, enums and bools lower case);
    /// the error is Redis's CONFIG SET reason text.
    pub fn normalise(&self, value: &str) -> Result<String, String> {
        match self.kind {
            Kind::Int { min, max } => {
                let n: i64 = value.parse().map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                if n < min || n > max {
                    return Err(format!("argument must be between {min} and {max} inclusive"));
                }
                if self.name == "hz" {
                    return Ok(n.clamp(MIN_HZ, MAX_HZ).to_string());
                }
                Ok(n.to_string())
            }
            Kind::Memory { min, max } => {
                let n = parse_memory(value).ok_or_else(|| "argument must be a memory value".to_string())?;
                if n < min || n > max {
                    return Err(format!("argument must be between {min} and {max} inclusive"));
                }
                Ok(n.to_string())
            }
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" | "no" => Ok(value.to_ascii_lowercase()),
                _ => Err("argument must be 'yes' or 'no'".to_string()),
            },
            Kind::Enum(options) => {
                let lower = value.to_ascii_lowercase();
                if options.contains(&lower.as_str()) {
                    Ok(lower)
                } else {
                    Err(format!("argument(s) must be one of the following: {}", options.join(", ")))
                }
            }
            Kind::String => Ok(value.to_string()),
            Kind::OutputBufferLimit => crate::output_limit::merge(crate::output_limit::DEFAULT, value),
        }
    }

    /// [`Param::normalise`], merged over the `current` value where the kind says so.
    pub fn apply(&self, current: &str, value: &str) -> Result<String, String> {
        match self.kind {
            Kind::OutputBufferLimit => crate::output_limit::merge(current, value),
            _ => self.normalise(value),
        }
    }
}

/// The current value of every parameter.
#[derive(Clone, Debug)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    /// `user <name> <rules...>` lines of the config file, for the ACL (see acl/mod.rs).
    pub users: Vec<Vec<bytes::Bytes>>,
}

impl Default for Config {
    fn default() -> Self {
        Config { values: PARAMS.iter().map(|p| (p.name, p.default.to_string())).collect(), users: Vec::new() }
    }
}

impl Config {
    /// Sets `name` at start-up (mutable or not).
    pub fn set_initial(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let param = find(name).ok_or_else(|| ConfigError::Unknown(name.to_string()))?;
        let value = param
            .apply(self.get(param.name), value)
            .map_err(|reason| ConfigError::BadValue { name: param.name.to_string(), reason })?;
        self.values.insert(param.name, value);
        Ok(())
    }

    /// Parses a redis.conf style file: `name value` lines, `#` comments, redis-cli quoting.
    pub fn load_file_text(&mut self, text: &str) -> Result<(), String> {
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words = redrock_protocol::split_args(&bytes::Bytes::copy_from_slice(line.as_bytes()))
                .ok_or_else(|| format!("line {}: unbalanced quotes", number + 1))?;
            if words.first().is_some_and(|w| w.eq_ignore_ascii_case(b"user")) {
                if words.len() < 2 {
                    return Err(format!("line {}: 'user' takes a name and rules", number + 1));
                }
                self.users.push(words[1..].to_vec());
                continue;
            }
            let words: Vec<String> = words.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect();
            let Some((name, rest)) = words.split_first() else { continue };
            if rest.len() != 1 {
                return Err(format!("line {}: '{}' takes exactly one value", number + 1, name));
            }
            self.set_initial(name, &rest[0]).map_err(|e| format!("line {}: {e}", number + 1))?;
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map(String::as_str).unwrap_or_else(|| panic!("parameter {name} is declared"))
    }

    pub fn get_i64(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or_else(|_| panic!("parameter {name} holds a normalised number"))
    }

    pub fn get_u64(&self, name: &str) -> u64 {
        self.get(name).parse().unwrap_or_else(|_| panic!("parameter {name} holds a normalised number"))
    }

    /// Every (name, value), in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        PARAMS.iter().map(|p| (p.name, self.get(p.name)))
    }

    /// Applies a CONFIG SET of several pairs: all or none, checked in Redis 7.0's order (every
    /// name first, then every value).
    pub fn set_many(&mut self, pairs: &[(String, String)]) -> Result<(), ConfigSetError> {
        let mut found: Vec<&'static Param> = Vec::with_capacity(pairs.len());
        let mut first_error = None;
        for (name, _) in pairs {
            let Some(param) = find(name) else {
                first_error.get_or_insert_with(|| ConfigSetError::Unknown(name.clone()));
                continue;
            };
            if first_error.is_some() {
                continue;
            }
            if !param.mutable {
                first_error =
                    Some(ConfigSetError::Failed { name: name.clone(), reason: "can't set immutable config".into() });
            } else if found.iter().any(|p| p.name == param.name) {
                first_error = Some(ConfigSetError::Failed { name: name.clone(), reason: "duplicate parameter".into() });
            }
            found.push(param);
        }
        if let Some(error) = first_error {
            return Err(error);
        }
        let mut next = self.clone();
        for (param, (_, value)) in found.iter().zip(pairs) {
            let value = param
                .apply(next.get(param.name), value)
                .map_err(|reason| ConfigSetError::Failed { name: param.name.to_string(), reason })?;
            next.values.insert(param.name, value);
        }
        *self = next;
        Ok(())
    }
}

/// Why a `CONFIG SET` was refused; `Display` is Redis's error text (without `ERR `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigSetError {
    #[error("Unknown option or number of arguments for CONFIG SET - '{0}'")]
    Unknown(String),
    #[error("CONFIG SET failed (possibly related to argument '{name}') - {reason}")]
    Failed { name: String, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units_follow_redis() {
        assert_eq!(parse_memory("512mb"), Some(512 << 20));
        assert_eq!(parse_memory("1GB"), Some(1 << 30));
        assert_eq!(parse_memory("100k"), Some(100_000));
        assert_eq!(parse_memory("7"), Some(7));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("mb"), None);
    }

    #[test]
    fn config_files_are_parsed_with_quoting_and_errors_name_the_line() {
        let mut config = Config::default();
        config.load_file_text("# comment\nport 7000\nrequirepass \"a b\"\n").unwrap();
        assert_eq!(config.get("port"), "7000");
        assert_eq!(config.get("requirepass"), "a b");
        let err = config.load_file_text("port 99999\n").unwrap_err();
        assert!(err.contains("line 1") && err.contains("'port'"), "{err}");
        assert!(config.load_file_text("nosuch 1\n").unwrap_err().contains("unknown config parameter 'nosuch'"));
    }

    #[test]
    fn config_set_is_all_or_nothing() {
        let mut config = Config::default();
        let pairs = vec![("timeout".to_string(), "5".to_string()), ("hz".to_string(), "x".to_string())];
        assert!(config.set_many(&pairs).is_err());
        assert_eq!(config.get("timeout"), "0");
    }
}
