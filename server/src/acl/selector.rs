//! A selector: which commands, keys and channels a set of rules allows (Redis 7.0's
//! `aclSelector`). A user has a root selector and may have more (`(...)` rules); a command
//! runs if any one selector allows all of it.

use super::commands::{Commands, COMMANDS};
use super::rules::{c_str, has_spaces, RuleError};
use crate::cmd::spec::acl as category;

/// Key pattern permissions (`%R~`, `%W~`; `~` is both).
pub const READ: u8 = 1;
pub const WRITE: u8 = 2;
pub const READ_WRITE: u8 = READ | WRITE;

/// `allkeys` / `~*`.
pub const ALL_KEYS: u8 = 1;
/// `allchannels` / `&*`.
pub const ALL_CHANNELS: u8 = 2;
/// `allcommands` / `+@all`, until a command is removed.
pub const ALL_COMMANDS: u8 = 4;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPattern {
    pub pattern: Vec<u8>,
    pub permissions: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    pub flags: u8,
    /// One bit per command id, plus a last reserved bit that only `+@all` sets: whether
    /// commands that do not exist yet would be allowed (it decides `+@all`/`-@all` when
    /// the rules are described).
    allowed: Vec<u64>,
    /// Per command id, the first arguments allowed although the command is not
    /// (`-select +select|0`), in the order they were added.
    first_args: Vec<(usize, Vec<Vec<u8>>)>,
    pub patterns: Vec<KeyPattern>,
    pub channels: Vec<Vec<u8>>,
}

fn words(commands: &Commands) -> usize {
    (commands.count() + 1).div_ceil(64)
}

impl Selector {
    /// No commands, keys or channels (`acl-pubsub-default` is `resetchannels` in 7.0).
    pub fn new() -> Selector {
        Selector {
            flags: 0,
            allowed: vec![0; words(&COMMANDS)],
            first_args: Vec::new(),
            patterns: Vec::new(),
            channels: Vec::new(),
        }
    }

    fn future_bit() -> usize {
        COMMANDS.count()
    }

    pub fn allows_id(&self, id: usize) -> bool {
        self.allowed[id / 64] & (1 << (id % 64)) != 0
    }

    pub fn allows_future_commands(&self) -> bool {
        self.allows_id(Self::future_bit())
    }

    fn set_bit(&mut self, id: usize, allow: bool) {
        if allow {
            self.allowed[id / 64] |= 1 << (id % 64);
        } else {
            self.allowed[id / 64] &= !(1 << (id % 64));
            self.flags &= !ALL_COMMANDS;
        }
    }

    /// First arguments allowed for command `id` while its bit is clear.
    pub fn first_args(&self, id: usize) -> &[Vec<u8>] {
        self.first_args.iter().find(|(i, _)| *i == id).map_or(&[], |(_, args)| args)
    }

    fn reset_first_args(&mut self, id: usize) {
        self.first_args.retain(|(i, _)| *i != id);
    }

    fn add_first_arg(&mut self, id: usize, arg: &[u8]) {
        match self.first_args.iter_mut().find(|(i, _)| *i == id) {
            Some((_, args)) => {
                if !args.iter().any(|a| a.eq_ignore_ascii_case(arg)) {
                    args.push(arg.to_vec());
                }
            }
            None => self.first_args.push((id, vec![arg.to_vec()])),
        }
    }

    /// Redis's `ACLChangeSelectorPerm`: a container's subcommands follow it.
    fn change_perm(&mut self, id: usize, allow: bool) {
        self.set_bit(id, allow);
        self.reset_first_args(id);
        for sub in COMMANDS.entries[id].subcommands.clone() {
            self.set_bit(sub, allow);
        }
    }

    fn set_category(&mut self, flag: u32, allow: bool) {
        for id in 0..COMMANDS.count() {
            if COMMANDS.entries[id].categories & flag != 0 {
                self.change_perm(id, allow);
            }
        }
    }

    fn set_all(&mut self, allow: bool) {
        let fill = if allow { u64::MAX } else { 0 };
        self.allowed.iter_mut().for_each(|w| *w = fill);
        if allow {
            self.flags |= ALL_COMMANDS;
        } else {
            self.flags &= !ALL_COMMANDS;
        }
        self.first_args.clear();
    }

    /// Applies one rule, as Redis's `ACLSetSelector`.
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let word = c_str(op);
        let is = |name: &str| word.eq_ignore_ascii_case(name.as_bytes());
        if is("allkeys") || is("~*") {
            self.flags |= ALL_KEYS;
            self.patterns.clear();
        } else if is("resetkeys") {
            self.flags &= !ALL_KEYS;
            self.patterns.clear();
        } else if is("allchannels") || is("&*") {
            self.flags |= ALL_CHANNELS;
            self.channels.clear();
        } else if is("resetchannels") {
            self.flags &= !ALL_CHANNELS;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.set_all(true);
        } else if is("nocommands") || is("-@all") {
            self.set_all(false);
        } else if op.first() == Some(&b'~') || op.first() == Some(&b'%') {
            self.add_key_pattern(op)?;
        } else if op.first() == Some(&b'&') {
            if self.flags & ALL_CHANNELS != 0 {
                return Err(RuleError::ChannelsAfterAll);
            }
            if has_spaces(&op[1..]) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c[..] == op[1..]) {
                self.channels.push(op[1..].to_vec());
            }
            self.flags &= !ALL_CHANNELS;
        } else if op.first() == Some(&b'+') && op.get(1) != Some(&b'@') {
            self.allow_command(&word[1..])?;
        } else if op.first() == Some(&b'-') && op.get(1) != Some(&b'@') {
            let id = COMMANDS.lookup(&word[1..]).ok_or(RuleError::Unknown)?;
            self.change_perm(id, false);
        } else if op.first() == Some(&b'+') || op.first() == Some(&b'-') {
            let name = &word[2..];
            let flag = category_flag(name).ok_or(RuleError::Unknown)?;
            self.set_category(flag, op[0] == b'+');
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// `~pattern`, `%R~pattern`, `%W~pattern`, `%RW~pattern`.
    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.flags & ALL_KEYS != 0 {
            return Err(RuleError::KeysAfterAll);
        }
        let mut permissions = 0;
        let mut offset = 1;
        if op[0] == b'%' {
            while offset < op.len() {
                let c = op[offset].to_ascii_uppercase();
                if c == b'R' && permissions & READ == 0 {
                    permissions |= READ;
                } else if c == b'W' && permissions & WRITE == 0 {
                    permissions |= WRITE;
                } else if op[offset] == b'~' {
                    offset += 1;
                    break;
                } else {
                    return Err(RuleError::Syntax);
                }
                offset += 1;
            }
        } else {
            permissions = READ_WRITE;
        }
        let pattern = &op[offset.min(op.len())..];
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.patterns.iter_mut().find(|p| p.pattern == pattern) {
            Some(existing) => existing.permissions |= permissions,
            None => self.patterns.push(KeyPattern { pattern: pattern.to_vec(), permissions }),
        }
        self.flags &= !ALL_KEYS;
        Ok(())
    }

    /// `+cmd`, `+container|sub`, `+cmd|first-arg`.
    fn allow_command(&mut self, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let id = COMMANDS.lookup(name).ok_or(RuleError::Unknown)?;
            self.change_perm(id, true);
            return Ok(());
        };
        let (command, sub) = (&name[..bar], &name[bar + 1..]);
        let id = COMMANDS.lookup(command).ok_or(RuleError::Unknown)?;
        let entry = &COMMANDS.entries[id];
        if entry.parent.is_some() {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !entry.spec.subcommands.is_empty() {
            let id = COMMANDS.lookup(name).ok_or(RuleError::Unknown)?;
            self.change_perm(id, true);
        } else {
            self.add_first_arg(id, sub);
        }
        Ok(())
    }

    /// Commands of category `flag` (allowed, denied), as `ACLCountCategoryBitsForSelector`.
    fn count_category(&self, flag: u32) -> (usize, usize) {
        let mut counts = (0, 0);
        for (id, entry) in COMMANDS.entries.iter().enumerate() {
            if entry.categories & flag != 0 {
                if self.allows_id(id) {
                    counts.0 += 1;
                } else {
                    counts.1 += 1;
                }
            }
        }
        counts
    }

    /// The command rules that rebuild this bitmap, as Redis's
    /// `ACLDescribeSelectorCommandRules`: `+@all` or `-@all`, the categories that fit best,
    /// then single commands and first arguments.
    pub fn describe_commands(&self) -> String {
        let additive = !self.allows_future_commands();
        let mut rules = String::from(if additive { "-@all " } else { "+@all " });
        let mut fake = Selector::new();
        fake.set_all(!additive);
        let mut temp = Selector::new();
        temp.allowed.clone_from(&self.allowed);
        let mut applied = [false; category::NAMES.len()];
        loop {
            let mut best = None;
            let (mut min_diff, mut max_same) = (usize::MAX, 0);
            for (j, &(flag, _)) in category::NAMES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count_category(flag);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                    best = Some(j);
                    min_diff = diff;
                    max_same = same;
                }
            }
            let Some(j) = best else { break };
            let (flag, name) = category::NAMES[j];
            fake.set_category(flag, additive);
            temp.set_category(flag, !additive);
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(name);
            rules.push(' ');
            applied[j] = true;
        }
        for (id, entry) in COMMANDS.entries.iter().enumerate() {
            let mine = self.allows_id(id);
            if mine != fake.allows_id(id) {
                rules.push(if mine { '+' } else { '-' });
                rules.push_str(&entry.full_name);
                rules.push(' ');
                fake.change_perm(id, mine);
            }
            if !mine {
                for arg in self.first_args(id) {
                    rules.push('+');
                    rules.push_str(&entry.full_name);
                    rules.push('|');
                    rules.push_str(&String::from_utf8_lossy(arg));
                    rules.push(' ');
                }
            }
        }
        rules.pop();
        rules
    }

    /// The key patterns as `ACL GETUSER` shows them (`~*` for all keys).
    pub fn describe_keys(&self) -> Vec<u8> {
        if self.flags & ALL_KEYS != 0 {
            return b"~*".to_vec();
        }
        let mut out = Vec::new();
        for (i, p) in self.patterns.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(pattern_prefix(p.permissions));
            out.extend_from_slice(&p.pattern);
        }
        out
    }

    /// The channel patterns as `ACL GETUSER` shows them.
    pub fn describe_channels(&self) -> Vec<u8> {
        if self.flags & ALL_CHANNELS != 0 {
            return b"&*".to_vec();
        }
        let mut out = Vec::new();
        for (i, c) in self.channels.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.push(b'&');
            out.extend_from_slice(c);
        }
        out
    }

    /// Everything, as rules (`ACLDescribeSelector`): keys, channels, commands.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.flags & ALL_KEYS != 0 {
            out.extend_from_slice(b"~* ");
        } else {
            for p in &self.patterns {
                out.extend_from_slice(pattern_prefix(p.permissions));
                out.extend_from_slice(&p.pattern);
                out.push(b' ');
            }
        }
        if self.flags & ALL_CHANNELS != 0 {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for c in &self.channels {
                out.push(b'&');
                out.extend_from_slice(c);
                out.push(b' ');
            }
        }
        out.extend_from_slice(self.describe_commands().as_bytes());
        out
    }

    /// Whether this selector allows every command, key and channel (the dispatch fast path).
    pub fn unrestricted(&self) -> bool {
        self.flags & (ALL_KEYS | ALL_CHANNELS | ALL_COMMANDS) == ALL_KEYS | ALL_CHANNELS | ALL_COMMANDS
    }
}

impl Default for Selector {
    fn default() -> Self {
        Selector::new()
    }
}

fn pattern_prefix(permissions: u8) -> &'static [u8] {
    match permissions {
        READ => b"%R~",
        WRITE => b"%W~",
        // `%~x` leaves a pattern without permission bits; Redis would abort describing it.
        _ => b"~",
    }
}

/// A category by name, case-insensitively (`ACLGetCommandCategoryFlagByName`).
pub fn category_flag(name: &[u8]) -> Option<u32> {
    category::NAMES.iter().find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name)).map(|&(flag, _)| flag)
}
