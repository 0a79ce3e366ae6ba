//! The users, by name, shared by every connection. Like Redis, they live in memory (the
//! aclfile persists them on ACL SAVE); `default` always exists.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use super::user::{Rules, User, DISABLED, NOPASS};

pub const DEFAULT_USER: &[u8] = b"default";

pub struct Users {
    /// Kept across ACL LOAD (its rules are copied in), as Redis keeps `DefaultUser`.
    default: Arc<User>,
    by_name: RwLock<BTreeMap<Bytes, Arc<User>>>,
    /// `acl-pubsub-default` is `allchannels`.
    all_channels_default: AtomicBool,
}

impl Users {
    /// Only `default`, with `requirepass` as its password when one is set.
    pub fn new(requirepass: &str) -> Users {
        let default = Arc::new(User::new(Bytes::from_static(DEFAULT_USER), Rules::default_user()));
        let users = Users {
            default: default.clone(),
            by_name: RwLock::new(BTreeMap::new()),
            all_channels_default: AtomicBool::new(false),
        };
        users.write().insert(default.name.clone(), default);
        users.set_default_password(requirepass);
        users
    }

    /// `acl-pubsub-default`: `allchannels` or `resetchannels`.
    pub fn set_pubsub_default(&self, value: &str) {
        self.all_channels_default.store(value == "allchannels", Ordering::Relaxed);
    }

    pub fn all_channels_default(&self) -> bool {
        self.all_channels_default.load(Ordering::Relaxed)
    }

    /// The rules of a user about to be created.
    pub fn new_rules(&self) -> Rules {
        Rules::new_user(self.all_channels_default())
    }

    pub fn default_user(&self) -> &Arc<User> {
        &self.default
    }

    /// `requirepass`: the default user's only password, or `nopass` when empty
    /// (Redis's `ACLUpdateDefaultUserPassword`).
    pub fn set_default_password(&self, password: &str) {
        let mut rules = self.default.rules().clone();
        let _ = rules.apply(b"resetpass");
        let op = if password.is_empty() { b"nopass".to_vec() } else { [b">", password.as_bytes()].concat() };
        let _ = rules.apply(&op);
        self.default.replace(rules);
    }

    /// Whether a connection must authenticate (Redis's `authRequired`): the default user
    /// has a password or is disabled.
    pub fn auth_required(&self) -> bool {
        let rules = self.default.rules();
        rules.flags & NOPASS == 0 || rules.flags & DISABLED != 0
    }

    pub fn get(&self, name: &[u8]) -> Option<Arc<User>> {
        self.read().get(name).cloned()
    }

    /// Every user, by name.
    pub fn all(&self) -> Vec<Arc<User>> {
        self.read().values().cloned().collect()
    }

    /// Applies `edit` to a copy of a user's rules (a new user's if it does not exist) and
    /// installs the result if it succeeds: ACL SETUSER, one at a time.
    pub fn edit<E>(&self, name: &Bytes, edit: impl FnOnce(&mut Rules) -> Result<(), E>) -> Result<(), E> {
        let mut users = self.write();
        let mut rules = match users.get(name) {
            Some(user) => user.rules().clone(),
            None => self.new_rules(),
        };
        rules.all_channels_default = self.all_channels_default();
        edit(&mut rules)?;
        match users.get(name) {
            Some(user) => user.replace(rules),
            None => {
                users.insert(name.clone(), Arc::new(User::new(name.clone(), rules)));
            }
        }
        Ok(())
    }

    /// Sets a user's rules, creating it if needed.
    pub fn set(&self, name: &Bytes, rules: Rules) {
        let mut users = self.write();
        match users.get(name) {
            Some(user) => user.replace(rules),
            None => {
                users.insert(name.clone(), Arc::new(User::new(name.clone(), rules)));
            }
        }
    }

    /// Removes a user; the caller closes its connections.
    pub fn remove(&self, name: &[u8]) -> Option<Arc<User>> {
        let removed = self.write().remove(name)?;
        removed.mark_removed();
        Some(removed)
    }

    /// Replaces every user (ACL LOAD): `default` takes its new rules in place (or Redis's
    /// defaults when the set has none); returns the users removed, whose connections close.
    pub fn replace_all(&self, mut users: BTreeMap<Bytes, Rules>) -> Vec<Arc<User>> {
        let default_rules = users.remove(DEFAULT_USER).unwrap_or_else(Rules::default_user);
        let mut map = self.write();
        let old = std::mem::take(&mut *map);
        self.default.replace(default_rules);
        map.insert(self.default.name.clone(), self.default.clone());
        for (name, rules) in users {
            map.insert(name.clone(), Arc::new(User::new(name, rules)));
        }
        let removed: Vec<Arc<User>> = old.into_values().filter(|u| !Arc::ptr_eq(u, &self.default)).collect();
        for user in &removed {
            user.mark_removed();
        }
        removed
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Bytes, Arc<User>>> {
        self.by_name.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Bytes, Arc<User>>> {
        self.by_name.write().unwrap_or_else(|e| e.into_inner())
    }
}
