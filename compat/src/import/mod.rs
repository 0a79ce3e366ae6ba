//! Turning a user's workload into a script: `redis-cli MONITOR` output, an AOF (single file
//! or Redis 7's multi-part folder), or a plain command file.

pub mod aof;
pub mod commands;
pub mod monitor;

use crate::script::format_command;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}:{line}: {msg}")]
    Syntax { path: String, line: usize, msg: String },
    #[error("{path}: {msg}")]
    Format { path: String, msg: String },
}

/// Commands that cannot be replayed on the single connection of a script without breaking
/// the rest of it (they end or reconfigure the connection, or stop the server).
const UNREPLAYABLE: &[&str] = &[
    "QUIT",
    "RESET",
    "SHUTDOWN",
    "MONITOR",
    "SYNC",
    "PSYNC",
    "REPLCONF",
    "DEBUG",
    "AUTH",
    "HELLO",
    "CLIENT",
    "REPLICAOF",
    "SLAVEOF",
    "FAILOVER",
];

/// Commands that may block; replayed on one connection, nothing could ever wake them.
const BLOCKING: &[&str] =
    &["BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "WAIT", "WAITAOF"];

/// Why a command is left out of an imported script, if it is.
pub fn skip_reason(args: &[Vec<u8>]) -> Option<&'static str> {
    let name = String::from_utf8_lossy(args.first()?).to_ascii_uppercase();
    if UNREPLAYABLE.contains(&name.as_str()) {
        return Some("changes or ends the connection");
    }
    let blocks_stream =
        (name == "XREAD" || name == "XREADGROUP") && args.iter().any(|a| a.eq_ignore_ascii_case(b"BLOCK"));
    if BLOCKING.contains(&name.as_str()) || blocks_stream {
        return Some("may block forever on a single replay connection");
    }
    None
}

/// Accumulates script lines.
#[derive(Debug, Default)]
pub struct ScriptWriter {
    pub out: String,
    pub commands: usize,
    pub skipped: usize,
}

impl ScriptWriter {
    pub fn comment(&mut self, text: &str) {
        for l in text.lines() {
            self.out.push_str("# ");
            self.out.push_str(l);
            self.out.push('\n');
        }
    }

    /// Writes a command, or a comment saying why it was left out.
    pub fn command(&mut self, args: &[Vec<u8>]) {
        if args.is_empty() {
            return;
        }
        match skip_reason(args) {
            Some(why) => {
                self.skipped += 1;
                let line = format!("skipped ({why}): {}", format_command(args));
                self.comment(&line);
            }
            None => {
                self.commands += 1;
                self.out.push_str(&format_command(args));
                self.out.push('\n');
            }
        }
    }
}
