//! Whether a user may run a command with these arguments (Redis 7.0's
//! `ACLCheckAllUserCommandPerm`): some selector must allow the command and every key it
//! names, each key with the access its key spec declares (reads need `%R~`, writes `%W~`).

use bytes::Bytes;

use super::commands::COMMANDS;
use super::selector::{Selector, ALL_COMMANDS, ALL_KEYS, READ, WRITE};
use super::user::Rules;
use crate::cmd::spec::{flag, KeySpec};
use crate::cmd::CommandSpec;
use crate::glob;

/// Why a command was refused, with the argument at fault; ordered as Redis ranks them
/// when selectors disagree (a key beats a command).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    Command,
    /// The position of the key in the arguments.
    Key(usize),
}

impl Denial {
    fn rank(self) -> (u8, usize) {
        match self {
            Denial::Command => (1, 0),
            Denial::Key(position) => (2, position),
        }
    }
}

/// Checks `args` (command name first) resolved to `spec` (a subcommand of `parent`).
pub fn check(rules: &Rules, spec: &CommandSpec, parent: Option<&CommandSpec>, args: &[Bytes]) -> Result<(), Denial> {
    let Some(id) = COMMANDS.id(spec, parent) else {
        return Err(Denial::Command);
    };
    let mut keys: Option<Vec<(usize, &'static KeySpec)>> = None;
    let mut relevant = Denial::Command;
    for selector in &rules.selectors {
        match check_selector(selector, id, spec, parent.is_some(), args, &mut keys) {
            Ok(()) => return Ok(()),
            Err(denial) => {
                if denial.rank() > relevant.rank() {
                    relevant = denial;
                }
            }
        }
    }
    Err(relevant)
}

fn check_selector(
    selector: &Selector,
    id: usize,
    spec: &CommandSpec,
    is_subcommand: bool,
    args: &[Bytes],
    keys: &mut Option<Vec<(usize, &'static KeySpec)>>,
) -> Result<(), Denial> {
    if selector.flags & ALL_COMMANDS == 0 && spec.flags & flag::NO_AUTH == 0 && !selector.allows_id(id) {
        // Allowed only with one of these first arguments (`+select|0`).
        let first = args.get(if is_subcommand { 2 } else { 1 });
        let allowed = match first {
            Some(arg) if args.len() >= 2 => {
                let arg = super::rules::c_str(arg);
                selector.first_args(id).iter().any(|a| a.eq_ignore_ascii_case(arg))
            }
            _ => false,
        };
        if !allowed {
            return Err(Denial::Command);
        }
    }
    if selector.flags & ALL_KEYS == 0 && !spec.key_specs.is_empty() {
        let spec_keys = keys.get_or_insert_with(|| spec.keys_with_specs(args));
        for &(position, key_spec) in spec_keys.iter() {
            if !key_allowed(selector, &args[position], needed(spec, key_spec, args)) {
                return Err(Denial::Key(position));
            }
        }
    }
    Ok(())
}

/// The permissions a key needs (Redis's mapping of `CMD_KEY_*` flags). A spec with
/// `variable_flags` leaves them to the arguments, as the command's getkeys function does.
fn needed(spec: &CommandSpec, key_spec: &KeySpec, args: &[Bytes]) -> u8 {
    if key_spec.flags.contains(&"variable_flags") {
        return variable_needed(spec.name, args);
    }
    let mut needed = 0;
    for &f in key_spec.flags {
        match f {
            "access" => needed |= READ,
            "insert" | "delete" | "update" => needed |= WRITE,
            _ => {}
        }
    }
    needed
}

/// Redis's `setGetKeys` and `bitfieldGetKeys`: `SET` only writes unless it has `GET`;
/// `BITFIELD` only reads when every operation is a `GET` (or `OVERFLOW`).
fn variable_needed(name: &str, args: &[Bytes]) -> u8 {
    match name {
        "set" => {
            if args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) {
                READ | WRITE
            } else {
                WRITE
            }
        }
        "bitfield" => {
            let mut i = 2;
            while i < args.len() {
                let more = args.len() - i - 1;
                if args[i].eq_ignore_ascii_case(b"get") && more >= 2 {
                    i += 3;
                } else if args[i].eq_ignore_ascii_case(b"overflow") && more >= 1 {
                    i += 2;
                } else {
                    return READ | WRITE;
                }
            }
            READ
        }
        _ => READ | WRITE,
    }
}

fn key_allowed(selector: &Selector, key: &[u8], needed: u8) -> bool {
    selector.patterns.iter().any(|p| p.permissions & needed == needed && glob::matches(&p.pattern, key, false))
}
