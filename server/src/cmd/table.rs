//! The command table: every family's entries, indexed by name. The only list of commands.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::LazyLock;

use super::{CommandSpec, FAMILIES};

/// Longest command name looked up; longer names are unknown without hashing them.
const MAX_COMMAND_NAME_LEN: usize = 64;

/// aHash, not SipHash: every request looks its name up here, and the table is fixed, so no
/// client can flood it.
static TABLE: LazyLock<HashMap<&'static str, &'static CommandSpec, ahash::RandomState>> = LazyLock::new(|| {
    let mut table = HashMap::default();
    for family in FAMILIES {
        for spec in family.iter() {
            let previous = table.insert(spec.name, spec);
            assert!(previous.is_none(), "command {} is declared twice", spec.name);
        }
    }
    table
});

thread_local! {
    /// The command this thread looked up last: a pipeline mostly repeats one command, and
    /// comparing its name is ~20 instructions where lowercasing and hashing it was ~240 (6% of
    /// a pipelined GET, callgrind).
    static LAST_LOOKED_UP: Cell<Option<&'static CommandSpec>> = const { Cell::new(None) };
}

/// Looks a command up by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if let Some(last) = LAST_LOOKED_UP.get() {
        if last.name.as_bytes().eq_ignore_ascii_case(name) {
            return Some(last);
        }
    }
    if name.len() > MAX_COMMAND_NAME_LEN {
        return None;
    }
    let mut lower = [0u8; MAX_COMMAND_NAME_LEN];
    let lower = &mut lower[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let spec = std::str::from_utf8(lower).ok().and_then(|n| TABLE.get(n).copied())?;
    LAST_LOOKED_UP.set(Some(spec));
    Some(spec)
}

/// Looks a subcommand of `container` up by name, case-insensitively.
pub fn lookup_subcommand(container: &'static CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
    container.subcommands.iter().find(|sub| sub.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Every top-level command, sorted by name.
pub fn all() -> Vec<&'static CommandSpec> {
    let mut all: Vec<_> = TABLE.values().copied().collect();
    all.sort_by_key(|spec| spec.name);
    all
}

/// `container|sub` for subcommands, `name` otherwise.
pub fn full_name(spec: &CommandSpec, parent: Option<&CommandSpec>) -> String {
    match parent {
        Some(parent) => format!("{}|{}", parent.name, spec.name),
        None => spec.name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        for spec in all() {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(spec.arity != 0, "{} has arity 0", spec.name);
            assert!(spec.handler.is_some() || !spec.subcommands.is_empty(), "{} has no handler", spec.name);
            for sub in spec.subcommands {
                assert!(sub.handler.is_some(), "{}|{} has no handler", spec.name, sub.name);
                assert!(sub.arity.unsigned_abs() >= 2, "{}|{}: arity counts the container", spec.name, sub.name);
            }
            assert!(lookup(spec.name.to_ascii_uppercase().as_bytes()).is_some());
        }
    }

    #[test]
    fn the_last_command_looked_up_answers_only_for_its_own_name() {
        let name = |looked_up: &[u8]| lookup(looked_up).map(|spec| spec.name);
        assert_eq!(name(b"GET"), Some("get"));
        assert_eq!(name(b"gEt"), Some("get"));
        assert_eq!(name(b"GETSET"), Some("getset"));
        assert_eq!(name(b"GET"), Some("get"));
        for unknown in [&b"GE"[..], b"GETS", b"G\xc3\xa9T", b""] {
            assert_eq!(name(unknown), None, "{unknown:?}");
        }
        assert_eq!(name(b"set"), Some("set"));
    }
}
