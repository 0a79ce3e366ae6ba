//! Access control lists as Redis 7.0 has them: users with passwords, and selectors saying
//! which commands, keys (read and/or write) and channels they may use.
//!
//! - `rules.rs`, `selector.rs`, `user.rs`: the rule language of ACL SETUSER and its
//!   description back into rules (ACL LIST, GETUSER, the aclfile);
//! - `commands.rs`: every command and subcommand with its bit, from the command table;
//! - `registry.rs`: the users; `check.rs`: the permission check; `log.rs`: ACL LOG;
//!   `file.rs`: the aclfile.
//!
//! Dispatch checks each command after authentication, as Redis does. A connection's user is
//! an `Arc<User>` whose `unrestricted` bit (one atomic load) lets the default user, who may
//! run anything, skip the check.

pub mod check;
pub mod commands;
pub mod file;
pub mod log;
pub mod registry;
pub mod rules;
pub mod selector;
pub mod user;

use std::sync::Arc;

use bytes::Bytes;

pub use registry::{Users, DEFAULT_USER};
pub use user::User;

use crate::client::ClientState;
use crate::cmd::CommandSpec;
use crate::error::Error;
use crate::shared::Shared;
use check::Denial;
use log::{Context, Entry, Log, Reason};

/// The server's ACL state.
pub struct Acl {
    pub users: Users,
    pub log: Log,
}

impl Acl {
    pub fn new(requirepass: &str, pubsub_default: &str) -> Acl {
        let users = Users::new(requirepass);
        users.set_pubsub_default(pubsub_default);
        Acl { users, log: Log::default() }
    }

    /// Loads the users defined at start-up: `user` lines of the config file, then the
    /// aclfile; both at once is refused, as in Redis.
    pub fn load_at_startup(&self, aclfile: &str, config_users: &[Vec<Bytes>]) -> Result<(), String> {
        if !aclfile.is_empty() && !config_users.is_empty() {
            return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
        }
        let mut seen = std::collections::HashSet::new();
        for line in config_users {
            let Some((name, ops)) = line.split_first() else { continue };
            if rules::has_spaces(name) {
                return Err("Spaces not allowed in ACL usernames".into());
            }
            if !seen.insert(name.clone()) {
                return Err("Duplicate user found. A user can only be defined once in config files".into());
            }
            let ops: Vec<&[u8]> = ops.iter().map(|op| &op[..]).collect();
            let ops = rules::merge_selectors(&ops)
                .map_err(|_| format!("Unmatched parenthesis in selector definition of user '{}'", lossy(name)))?;
            // `default` exists already: Redis resets it (which sets sanitize-payload) first.
            let mut rules = match self.users.get(name) {
                Some(existing) => {
                    let mut rules = existing.rules().clone();
                    rules.all_channels_default = self.users.all_channels_default();
                    let _ = rules.apply(b"reset");
                    rules
                }
                None => self.users.new_rules(),
            };
            for op in &ops {
                rules.apply(op).map_err(|e| {
                    format!("Error loading ACL rule '{}' for the user named '{}': {e}", lossy(op), lossy(name))
                })?;
            }
            self.users.set(name, rules);
        }
        if !aclfile.is_empty() {
            let users = file::load(aclfile, self.users.all_channels_default())?;
            self.users.replace_all(users);
        }
        Ok(())
    }

    /// The user `name` if `password` authenticates it (`ACLCheckUserCredentials`).
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Option<Arc<User>> {
        self.users.get(name).filter(|user| user.rules().accepts(password))
    }

    /// Records a failed authentication in the log.
    pub fn log_auth_failure(&self, shared: &Shared, client: &ClientState, command: &Bytes, username: &Bytes) {
        self.log.add(
            Entry {
                count: 1,
                reason: Reason::Auth,
                context: context(client),
                object: command.clone(),
                username: username.clone(),
                time_ms: log::now_ms(),
                client_info: client.handle.info_line(),
            },
            log_max_len(shared),
        );
    }
}

fn log_max_len(shared: &Shared) -> usize {
    shared.config().get_u64("acllog-max-len").try_into().unwrap_or(usize::MAX)
}

/// Where a denial happened: queueing in MULTI, or inside EXEC (the only unit that denies
/// blocking until scripts exist; Redis flags the client MULTI until EXEC returns).
fn context(client: &ClientState) -> Context {
    if client.multi.is_some() || client.deny_blocking {
        Context::Multi
    } else {
        Context::Toplevel
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(rules::c_str(bytes)).into_owned()
}

/// Dispatch's check of one command (also repeated by EXEC on each queued command): `None`
/// if the connection's user may run it; otherwise the denial, already logged.
pub fn enforce(
    shared: &Shared,
    client: &ClientState,
    spec: &CommandSpec,
    parent: Option<&CommandSpec>,
    args: &[Bytes],
) -> Option<Denial> {
    let user = client.user.as_ref().unwrap_or_else(|| shared.acl.users.default_user());
    if user.unrestricted() {
        return None;
    }
    let denial = check::check(&user.rules(), spec, parent, args).err()?;
    let (reason, object) = match denial {
        Denial::Command => (Reason::Command, Bytes::from(crate::cmd::table::full_name(spec, parent))),
        Denial::Key(position) => (Reason::Key, args[position].clone()),
    };
    shared.acl.log.add(
        Entry {
            count: 1,
            reason,
            context: context(client),
            object,
            username: user.name.clone(),
            time_ms: log::now_ms(),
            client_info: client.handle.info_line(),
        },
        log_max_len(shared),
    );
    Some(denial)
}

/// The error a denied command replies with (`processCommand`'s texts).
pub fn denial_error(denial: Denial, spec: &CommandSpec, parent: Option<&CommandSpec>) -> Error {
    match denial {
        Denial::Command => Error::NoPermCommand(crate::cmd::table::full_name(spec, parent)),
        Denial::Key(_) => Error::NoPermKey,
    }
}

/// The error EXEC gives a queued command the rules no longer allow (`execCommand`'s text).
pub fn exec_denial_error(denial: Denial) -> Error {
    let reason = match denial {
        Denial::Command => "no permission to execute the command or subcommand",
        Denial::Key(_) => "no permission to touch the specified keys",
    };
    Error::Coded(format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}"))
}
