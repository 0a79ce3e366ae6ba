//! The commands as ACL rules see them: every command and subcommand of the table with a
//! small id (its bit in a selector's command bitmap), like Redis's `ACLGetCommandID`. Built
//! once from the command table, which stays the only list of commands and categories.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::cmd::{table, CommandSpec};

/// One command or subcommand.
pub struct Entry {
    pub spec: &'static CommandSpec,
    pub parent: Option<&'static CommandSpec>,
    /// `get`, or `config|get` for a subcommand, as ACL rules and the ACL log name it.
    pub full_name: String,
    /// Every category, declared and derived from the flags.
    pub categories: u32,
    /// Ids of a container's subcommands (empty otherwise).
    pub subcommands: std::ops::Range<usize>,
}

/// Every command, each container followed by its subcommands; an entry's id is its index.
pub struct Commands {
    pub entries: Vec<Entry>,
    /// (container name or "", name) → id.
    by_name: HashMap<(&'static str, &'static str), usize>,
}

impl Commands {
    /// The id of a resolved (sub)command, as dispatch found it.
    pub fn id(&self, spec: &CommandSpec, parent: Option<&CommandSpec>) -> Option<usize> {
        self.by_name.get(&(parent.map_or("", |p| p.name), spec.name)).copied()
    }

    /// Redis's strict `lookupCommandBySds` on a rule's name: `get`, `config|get`, never
    /// deeper; a container's own name names the container.
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        let mut parts = name.split(|&b| b == b'|');
        let first = parts.next()?;
        let second = parts.next();
        if parts.next().is_some() {
            return None;
        }
        let spec = table::lookup(first)?;
        match second {
            None => self.id(spec, None),
            // A `|` after a command without subcommands names nothing (strict lookup).
            Some(sub) => {
                let sub = table::lookup_subcommand(spec, sub)?;
                self.id(sub, Some(spec))
            }
        }
    }

    /// How many commands and subcommands there are (ids are below this).
    pub fn count(&self) -> usize {
        self.entries.len()
    }
}

/// The index, built on first use.
pub static COMMANDS: LazyLock<Commands> = LazyLock::new(|| {
    let mut entries = Vec::new();
    let mut by_name = HashMap::new();
    for spec in table::all() {
        let id = entries.len();
        by_name.insert(("", spec.name), id);
        let first_sub = id + 1;
        entries.push(Entry {
            spec,
            parent: None,
            full_name: spec.name.to_string(),
            categories: spec.acl_categories(),
            subcommands: first_sub..first_sub + spec.subcommands.len(),
        });
        for sub in spec.subcommands {
            by_name.insert((spec.name, sub.name), entries.len());
            entries.push(Entry {
                spec: sub,
                parent: Some(spec),
                full_name: table::full_name(sub, Some(spec)),
                categories: sub.acl_categories(),
                subcommands: 0..0,
            });
        }
    }
    Commands { entries, by_name }
});
