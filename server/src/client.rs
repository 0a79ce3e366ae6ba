//! Per-connection state, and the registry that `CLIENT LIST/KILL/INFO` read.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use redrock_protocol::RespVersion;
use tokio::sync::Notify;

use crate::acl::User;
use crate::cmd::{table, CommandSpec};
use crate::watch::{WatchKey, Watches};

/// What other connections may see of a client (CLIENT LIST) or do to it (CLIENT KILL).
#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub created: Instant,
    pub name: Mutex<Option<Bytes>>,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    /// Milliseconds since `created` of the last command.
    pub last_interaction_ms: AtomicU64,
    /// The last command run, for `cmd=` (named when listed, not on every command).
    pub last_command: Mutex<Option<(&'static CommandSpec, Option<&'static CommandSpec>)>>,
    pub killed: AtomicBool,
    pub kill_signal: Notify,
    /// `CLIENT NO-EVICT ON` (shown as flag `e`; nothing is ever evicted here).
    pub no_evict: AtomicBool,
    /// The ACL user the connection is authenticated as; `None` for `default`.
    pub user: Mutex<Option<Arc<User>>>,
}

impl ClientHandle {
    /// Notes input from the client, for `idle=`: once per read, as Redis's
    /// `readQueryFromClient` sets `lastinteraction` (a clock read per command was 2% of a
    /// pipelined GET).
    pub fn touch(&self) {
        self.last_interaction_ms.store(self.created.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_signal.notify_one();
    }

    /// Sets the name (`CLIENT SETNAME`, `HELLO SETNAME`); an empty name removes it.
    pub fn set_name(&self, name: &Bytes) {
        *self.name.lock().unwrap_or_else(|e| e.into_inner()) = (!name.is_empty()).then(|| name.clone());
    }

    /// The name of the connection's ACL user (CLIENT LIST `user=`, CLIENT KILL USER).
    pub fn user_name(&self) -> Bytes {
        match &*self.user.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(user) => user.name.clone(),
            None => Bytes::from_static(crate::acl::DEFAULT_USER),
        }
    }

    /// Whether the connection is authenticated as exactly this user object.
    pub fn is_user(&self, user: &Arc<User>) -> bool {
        self.user.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_some_and(|u| Arc::ptr_eq(u, user))
    }

    pub fn name(&self) -> Option<Bytes> {
        self.name.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The `CLIENT LIST` / `CLIENT INFO` line (without the trailing newline), with the
    /// fields Redis 7.0 prints; memory fields that have no meaning here are 0.
    pub fn info_line(&self) -> String {
        let age_s = self.created.elapsed().as_secs();
        let idle_s = age_s.saturating_sub(self.last_interaction_ms.load(Ordering::Relaxed) / 1000);
        let name = self.name().map(|n| String::from_utf8_lossy(&n).into_owned()).unwrap_or_default();
        let last_command = *self.last_command.lock().unwrap_or_else(|e| e.into_inner());
        let cmd = last_command.map(|(spec, parent)| table::full_name(spec, parent));
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            name,
            age_s,
            idle_s,
            if self.no_evict.load(Ordering::Relaxed) { "e" } else { "N" },
            self.db.load(Ordering::Relaxed),
            cmd.as_deref().unwrap_or("NULL"),
            String::from_utf8_lossy(&self.user_name()),
            self.resp.load(Ordering::Relaxed),
        )
    }
}

/// Redis's `validateClientName`: printable ASCII without spaces.
pub fn validate_client_name(name: &[u8]) -> crate::error::Result<()> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(crate::error::Error::err("Client names cannot contain spaces, newlines or special characters."));
    }
    Ok(())
}

/// The connection's own state.
pub struct ClientState {
    pub handle: Arc<ClientHandle>,
    /// Logical database selected (SELECT).
    pub db: usize,
    pub resp: RespVersion,
    pub authenticated: bool,
    /// Not a tenant: authenticated as an ACL user (`default` with `requirepass`, or none is
    /// set). May run admin commands (NAMESPACE, CONFIG, ...) as far as its ACL allows, as
    /// Kvrocks's admin connections; tenants (`AUTH token`) may not.
    pub admin: bool,
    /// The tenant's namespace (`AUTH token`); empty for the administrator's keys.
    pub namespace: Bytes,
    /// The ACL user (`AUTH user pass`); `None` for `default`. Kept equal to `handle.user`
    /// by [`ClientState::set_user`]; read here on every command without a lock.
    pub user: Option<Arc<User>>,
    /// Reply, then close (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// Close without replying to this command (SHUTDOWN).
    pub close_without_reply: bool,
    /// `CLIENT REPLY OFF`: no replies until `CLIENT REPLY ON`.
    pub reply_off: bool,
    /// `CLIENT REPLY SKIP` was the last command: the next command's reply is dropped.
    reply_skip_next: bool,
    /// The reply of the command being executed is dropped.
    reply_skip: bool,
    /// Commands queued since MULTI; `None` outside a transaction.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command was rejected while queueing: EXEC must abort (EXECABORT).
    pub multi_dirty: bool,
    /// Keys under WATCH with the modification counter seen at WATCH time.
    pub watched: Vec<(WatchKey, u64)>,
    /// Blocking commands reply at once instead of blocking (Redis's CLIENT_DENY_BLOCKING).
    /// The hook for MULTI/EXEC and scripts: set it while they run commands.
    pub deny_blocking: bool,
    /// Set by a blocking handler that found nothing (`Ctx::block`); dispatch registers it.
    pub block_request: Option<crate::blocking::BlockRequest>,
    /// Set by dispatch once the client waits; the connection loop awaits it.
    pub blocked: Option<crate::blocking::BlockedWait>,
    /// True while a handler is re-run on behalf of a blocked client (see blocking.rs).
    pub serving_blocked: bool,
}

impl ClientState {
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> ClientState {
        ClientState {
            handle,
            db: 0,
            resp: RespVersion::Resp2,
            authenticated,
            admin: authenticated,
            namespace: Bytes::new(),
            user: None,
            close_after_reply: false,
            close_without_reply: false,
            reply_off: false,
            reply_skip_next: false,
            reply_skip: false,
            multi: None,
            multi_dirty: false,
            watched: Vec::new(),
            deny_blocking: false,
            block_request: None,
            blocked: None,
            serving_blocked: false,
        }
    }

    /// Forgets every WATCHed key (EXEC, DISCARD, UNWATCH, RESET, disconnect).
    pub fn unwatch_all(&mut self, watches: &Watches) {
        for (key, _) in self.watched.drain(..) {
            watches.unwatch(&key);
        }
    }

    /// A command was rejected inside MULTI: EXEC will abort, as Redis's `flagTransaction`.
    pub fn flag_transaction(&mut self) {
        if self.multi.is_some() {
            self.multi_dirty = true;
        }
    }

    /// `CLIENT REPLY SKIP`: drop this command's reply (it has none) and the next one's.
    pub fn skip_replies(&mut self) {
        self.reply_skip = true;
        if !self.reply_off {
            self.reply_skip_next = true;
        }
    }

    /// Called once per executed command: whether its reply is dropped (`CLIENT REPLY`).
    pub fn take_reply_suppressed(&mut self) -> bool {
        let suppressed = self.reply_off || self.reply_skip;
        self.reply_skip = std::mem::take(&mut self.reply_skip_next);
        suppressed
    }

    /// `RESET`: the state a fresh connection has (db 0, RESP2, no name, replies on, no
    /// MULTI), and authenticated only if no password is required. The caller unwatches.
    pub fn reset(&mut self, authenticated: bool) {
        self.select(0);
        self.set_resp(RespVersion::Resp2);
        *self.handle.name.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.handle.no_evict.store(false, Ordering::Relaxed);
        self.reply_off = false;
        self.reply_skip_next = false;
        self.reply_skip = false;
        self.multi = None;
        self.multi_dirty = false;
        self.authenticated = authenticated;
        self.admin = authenticated;
        self.namespace = Bytes::new();
        self.set_user(None);
    }

    /// Authenticates the connection as `user` (`None`: the default user).
    pub fn set_user(&mut self, user: Option<Arc<User>>) {
        *self.handle.user.lock().unwrap_or_else(|e| e.into_inner()) = user.clone();
        self.user = user;
    }

    pub fn id(&self) -> u64 {
        self.handle.id
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.handle.db.store(db, Ordering::Relaxed);
    }

    pub fn set_resp(&mut self, resp: RespVersion) {
        self.resp = resp;
        self.handle.resp.store(if resp == RespVersion::Resp3 { 3 } else { 2 }, Ordering::Relaxed);
    }
}

/// Every connected client, by id.
#[derive(Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
}

impl ClientRegistry {
    pub fn register(&self, addr: String, laddr: String) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            created: Instant::now(),
            name: Mutex::new(None),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            last_interaction_ms: AtomicU64::new(0),
            last_command: Mutex::new(None),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
            no_evict: AtomicBool::new(false),
            user: Mutex::new(None),
        });
        self.lock().insert(id, handle.clone());
        handle
    }

    pub fn unregister(&self, id: u64) {
        self.lock().remove(&id);
    }

    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.lock().values().cloned().collect()
    }

    pub fn count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ClientHandle>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}
