//! The ACL log (`ACL LOG`): recent denials, newest first, similar ones grouped with a count
//! as Redis's `addACLLogEntry` does.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// Entries looked at for one to group a new denial with.
const GROUPING_SCAN: usize = 10;
/// Denials further apart than this are never grouped.
const GROUPING_MAX_DELTA_MS: u64 = 60_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Auth => "auth",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    pub context: Context,
    /// The command (`config|get`), key, or for `auth` the command name as sent.
    pub object: Bytes,
    pub username: Bytes,
    /// Unix time of the last denial grouped here.
    pub time_ms: u64,
    /// The `CLIENT LIST` line of the last client denied.
    pub client_info: String,
}

#[derive(Default)]
pub struct Log {
    entries: Mutex<VecDeque<Entry>>,
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Log {
    /// Adds a denial, keeping the newest `max_len` entries (`acllog-max-len`).
    pub fn add(&self, entry: Entry, max_len: usize) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let similar = entries.iter().take(GROUPING_SCAN).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && e.time_ms.abs_diff(entry.time_ms) <= GROUPING_MAX_DELTA_MS
                && e.object == entry.object
                && e.username == entry.username
        });
        if let Some(at) = similar {
            if let Some(mut found) = entries.remove(at) {
                found.count += 1;
                found.time_ms = entry.time_ms;
                found.client_info = entry.client_info;
                entries.push_front(found);
            }
            return;
        }
        entries.push_front(entry);
        entries.truncate(max_len);
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> Vec<Entry> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).iter().take(count).cloned().collect()
    }

    pub fn reset(&self) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
