//! A user: its flags, password hashes and selectors, changed by rules in ACL SETUSER's
//! language (Redis 7.0's `ACLSetUser`), and the shared handle connections hold.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{RwLock, RwLockReadGuard};

use bytes::Bytes;

use super::rules::{c_str, hash_password, valid_hash, RuleError};
use super::selector::Selector;

/// User flags, in the order Redis describes them.
pub const ENABLED: u8 = 1;
pub const DISABLED: u8 = 2;
pub const NOPASS: u8 = 4;
pub const SKIP_SANITIZE_PAYLOAD: u8 = 8;
pub const SANITIZE_PAYLOAD: u8 = 16;

pub const FLAG_NAMES: &[(u8, &str)] = &[
    (ENABLED, "on"),
    (DISABLED, "off"),
    (NOPASS, "nopass"),
    (SKIP_SANITIZE_PAYLOAD, "skip-sanitize-payload"),
    (SANITIZE_PAYLOAD, "sanitize-payload"),
];

/// What a user may do: the value ACL SETUSER edits (on a copy, applied whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    pub flags: u8,
    /// SHA-256 hex of each password, in the order added.
    pub passwords: Vec<String>,
    /// The root selector first, then the `(...)` ones.
    pub selectors: Vec<Selector>,
    /// `acl-pubsub-default allchannels` when these rules are edited: new selectors and
    /// `reset` allow every channel.
    pub all_channels_default: bool,
}

impl Rules {
    /// A new user: disabled, no password, nothing allowed (but every channel with
    /// `acl-pubsub-default allchannels`).
    pub fn new_user(all_channels_default: bool) -> Rules {
        Rules { flags: DISABLED, passwords: Vec::new(), selectors: vec![Selector::new()], all_channels_default }
            .with_default_channels()
    }

    pub fn new() -> Rules {
        Rules::new_user(false)
    }

    /// The last selector gets `acl-pubsub-default`'s channels.
    fn with_default_channels(mut self) -> Rules {
        if self.all_channels_default {
            if let Some(selector) = self.selectors.last_mut() {
                selector.flags |= super::selector::ALL_CHANNELS;
            }
        }
        self
    }

    /// Redis's default user: `on nopass ~* &* +@all`.
    pub fn default_user() -> Rules {
        let mut rules = Rules::new();
        for op in ["+@all", "~*", "&*", "on", "nopass"] {
            let _ = rules.apply(op.as_bytes());
        }
        rules
    }

    pub fn root(&self) -> &Selector {
        &self.selectors[0]
    }

    /// Applies one rule; on error nothing is changed by it.
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let word = c_str(op);
        let is = |name: &str| word.eq_ignore_ascii_case(name.as_bytes());
        if is("on") {
            self.flags = (self.flags | ENABLED) & !DISABLED;
        } else if is("off") {
            self.flags = (self.flags | DISABLED) & !ENABLED;
        } else if is("skip-sanitize-payload") {
            self.flags = (self.flags | SKIP_SANITIZE_PAYLOAD) & !SANITIZE_PAYLOAD;
        } else if is("sanitize-payload") {
            self.flags = (self.flags | SANITIZE_PAYLOAD) & !SKIP_SANITIZE_PAYLOAD;
        } else if is("nopass") {
            self.flags |= NOPASS;
            self.passwords.clear();
        } else if is("resetpass") {
            self.flags &= !NOPASS;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.flags &= !NOPASS;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            let at = self.passwords.iter().position(|p| *p == hash).ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut selector = Selector::new();
            if self.all_channels_default {
                selector.flags |= super::selector::ALL_CHANNELS;
            }
            let inner = Bytes::copy_from_slice(&op[1..op.len() - 1]);
            // Unbalanced quotes leave the selector empty, as `sdssplitargs` failing does.
            for rule in redrock_protocol::split_args(&inner).unwrap_or_default() {
                selector.apply(&rule)?;
            }
            self.selectors.push(selector);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            for op in ["resetpass", "resetkeys", "resetchannels"] {
                self.apply(op.as_bytes())?;
            }
            if self.all_channels_default {
                self.apply(b"allchannels")?;
            }
            for op in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                self.apply(op.as_bytes())?;
            }
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// The rules that rebuild this user (`ACLDescribeUser`), without `user name`.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for &(flag, name) in FLAG_NAMES {
            if self.flags & flag != 0 {
                out.extend_from_slice(name.as_bytes());
                out.push(b' ');
            }
        }
        for hash in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(hash.as_bytes());
            out.push(b' ');
        }
        for (i, selector) in self.selectors.iter().enumerate() {
            if i == 0 {
                out.extend_from_slice(&selector.describe());
            } else {
                out.extend_from_slice(b" (");
                out.extend_from_slice(&selector.describe());
                out.push(b')');
            }
        }
        out
    }

    /// Whether `password` authenticates this user (`ACLCheckUserCredentials`).
    pub fn accepts(&self, password: &[u8]) -> bool {
        if self.flags & DISABLED != 0 {
            return false;
        }
        if self.flags & NOPASS != 0 {
            return true;
        }
        let hash = hash_password(password);
        // Compare every hash fully: the time taken says nothing about which one matched.
        self.passwords.iter().fold(false, |found, p| found | constant_time_eq(p.as_bytes(), hash.as_bytes()))
    }

    /// Whether some selector allows everything, so no command needs checking.
    fn unrestricted(&self) -> bool {
        self.selectors.iter().any(Selector::unrestricted)
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules::new()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// `User::state` bits.
const UNRESTRICTED: u8 = 1;
/// Deleted (ACL DELUSER, ACL LOAD): its connections are being closed.
const REMOVED: u8 = 2;

/// A user as connections hold it: edits (ACL SETUSER) apply to connections already
/// authenticated as it, as in Redis.
#[derive(Debug)]
pub struct User {
    pub name: Bytes,
    rules: RwLock<Rules>,
    /// Read on every command: whether the user may run anything (the fast path).
    state: AtomicU8,
}

impl User {
    pub fn new(name: Bytes, rules: Rules) -> User {
        let user = User { name, rules: RwLock::new(Rules::new()), state: AtomicU8::new(0) };
        user.replace(rules);
        user
    }

    pub fn rules(&self) -> RwLockReadGuard<'_, Rules> {
        self.rules.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn replace(&self, rules: Rules) {
        let unrestricted = rules.unrestricted();
        *self.rules.write().unwrap_or_else(|e| e.into_inner()) = rules;
        let removed = self.state.load(Ordering::Acquire) & REMOVED;
        self.state.store(removed | if unrestricted && removed == 0 { UNRESTRICTED } else { 0 }, Ordering::Release);
    }

    /// Whether every command passes without a check: one atomic load.
    #[inline]
    pub fn unrestricted(&self) -> bool {
        self.state.load(Ordering::Relaxed) == UNRESTRICTED
    }

    pub fn mark_removed(&self) {
        self.state.store(REMOVED, Ordering::Release);
    }

    pub fn removed(&self) -> bool {
        self.state.load(Ordering::Acquire) & REMOVED != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(ops: &[&str]) -> Rules {
        let mut rules = Rules::new();
        for op in ops {
            rules.apply(op.as_bytes()).unwrap();
        }
        rules
    }

    #[test]
    fn describes_as_redis() {
        assert_eq!(Rules::default_user().describe(), b"on nopass ~* &* +@all");
        assert_eq!(Rules::new().describe(), b"off resetchannels -@all");
        assert_eq!(
            rules(&["on", "~a", "%R~b", "&c", "+@all", "-@string"]).describe(),
            b"on ~a %R~b resetchannels &c +@all -@string"
        );
    }

    #[test]
    fn passwords() {
        let r = rules(&["on", ">secret"]);
        assert!(r.accepts(b"secret"));
        assert!(!r.accepts(b"other"));
        assert_eq!(r.clone().apply(b"<nope"), Err(RuleError::NoSuchPassword));
        assert_eq!(Rules::new().apply(b"#abc"), Err(RuleError::BadHash));
    }
}
