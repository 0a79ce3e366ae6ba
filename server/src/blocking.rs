//! Blocking commands (BLPOP, BLMOVE, BLMPOP, BZPOPMIN, BZMPOP, ...): the registry of clients
//! waiting for keys, and how they are served.
//!
//! How a blocking command travels:
//!
//! 1. Its handler finds nothing to take and calls [`Ctx::block`](crate::cmd::Ctx::block) with
//!    the keys and the deadline from [`parse_timeout`]. That records a [`BlockRequest`] on the
//!    connection's state (or, when blocking is denied — inside MULTI or a script —, returns the
//!    command's "nothing" reply at once).
//! 2. Dispatch, still holding the command's key locks, registers the client as a waiter at the
//!    back of each key's queue. Holding the locks makes "found it empty" and "waits for it" one
//!    step: no push can slip in between and be missed.
//! 3. A command that makes a key hold something a waiter may take (a list push creating the
//!    list, ZADD creating a sorted set, RENAME/COPY/RESTORE/MOVE of a list or sorted set onto
//!    the key, ...) calls [`Ctx::signal_key_ready`](crate::cmd::Ctx::signal_key_ready) after
//!    writing. When the handler returns and its locks are released, but before its reply
//!    leaves, dispatch calls [`Blocking::serve_ready`]: for each ready key, the waiters are
//!    tried in arrival order, each by re-running its command on its behalf (under its own key
//!    locks) until one finds nothing left. A served waiter is removed from every queue and its
//!    reply handed to its connection. So, as in Redis, once the pusher has its reply the
//!    element is already with the first waiter, and waiters are served first come, first served.
//! 4. The waiting connection awaits its reply, its deadline, its disconnection, CLIENT KILL or
//!    shutdown (`connection.rs`). On the deadline it withdraws and replies Redis's timeout
//!    reply (a null array) unless it was served in the meantime; on any other exit it
//!    withdraws too, so a vanished client leaves nothing behind.
//!
//! Re-running the command, rather than type-specific "serve" code, keeps one definition of
//! each command. A handler re-run for a waiter ([`Ctx::serving_blocked`](crate::cmd::Ctx::serving_blocked))
//! must treat a source key of another type as empty: Redis 7.0 leaves such a client blocked
//! (a key created with the wrong type wakes nobody) rather than replying WRONGTYPE.
//!
//! Lock order: key locks, then the waiter registry, then the ready-key set. The registry is
//! never held while waiting for a key lock, so serving cannot deadlock with commands. A
//! handler re-run for a waiter runs with the registry held: handlers may signal keys, but
//! must not call the registry's other methods.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redrock_protocol::{Reply, RespVersion};
use tokio::sync::oneshot;

use crate::client::{ClientHandle, ClientState};
use crate::cmd::{CommandSpec, Ctx};
use crate::error::{Error, Result};
use crate::shared::Shared;

/// The reply of a blocking list or sorted-set command whose timeout passed (Redis 7.0's
/// `replyToBlockedClientTimedOut`: a null array, RESP3 `_`, for BLPOP as for BLMOVE).
pub fn timeout_reply() -> Reply {
    Reply::NullArray
}

/// The reply to a client unblocked by `CLIENT UNBLOCK id ERROR`.
pub const UNBLOCKED_ERROR: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// A key a client waits for: namespace, logical database (what the client selected: after
/// SWAPDB a blocked client waits on its database's new contents, as in Redis), user key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WaitKey {
    pub ns: Bytes,
    pub db: usize,
    pub key: Bytes,
}

/// What a handler asks for when it found nothing to serve: wait for any of `keys`.
#[derive(Debug)]
pub struct BlockRequest {
    pub keys: Vec<Bytes>,
    /// `None`: forever (timeout 0).
    pub deadline: Option<Instant>,
}

/// A registered wait, for the connection loop to await.
#[derive(Debug)]
pub struct BlockedWait {
    pub reply: oneshot::Receiver<Reply>,
    pub deadline: Option<Instant>,
}

/// The command a waiter re-runs when one of its keys is ready, with the connection state it
/// needs (database, namespace, protocol).
struct BlockedCommand {
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
    handle: Arc<ClientHandle>,
    logical_db: usize,
    namespace: Bytes,
    resp: RespVersion,
}

struct Waiter {
    keys: Vec<WaitKey>,
    command: BlockedCommand,
    reply: oneshot::Sender<Reply>,
}

#[derive(Default)]
struct Waiters {
    /// Per key, the waiting client ids in arrival order.
    queues: HashMap<WaitKey, VecDeque<u64>>,
    by_client: HashMap<u64, Waiter>,
}

impl Waiters {
    /// Removes client `id` from every queue; its waiter, if it was waiting.
    fn remove(&mut self, id: u64) -> Option<Waiter> {
        let waiter = self.by_client.remove(&id)?;
        for key in &waiter.keys {
            if let Some(queue) = self.queues.get_mut(key) {
                queue.retain(|&other| other != id);
                if queue.is_empty() {
                    self.queues.remove(key);
                }
            }
        }
        Some(waiter)
    }
}

/// Keys signalled since the last serving, in signal order, each once.
#[derive(Default)]
struct ReadyKeys {
    order: VecDeque<WaitKey>,
    set: HashSet<WaitKey>,
}

/// The registry of blocked clients (one per server, in [`Shared`]).
#[derive(Default)]
pub struct Blocking {
    waiters: Mutex<Waiters>,
    ready: Mutex<ReadyKeys>,
    /// Blocked clients: signals return at once while it is 0, the common case.
    blocked_clients: AtomicUsize,
    /// Keys in `ready`: serving returns at once while it and `serving` are 0.
    ready_count: AtomicUsize,
    /// One drain of the ready keys at a time (Redis serves them on its one thread).
    serve_lock: Mutex<()>,
    /// Set while a drain runs, before it takes keys from `ready`: a command whose signalled
    /// key another thread is already serving waits for that drain, so its reply never
    /// leaves before its waiters are served.
    serving: AtomicBool,
}

impl Blocking {
    /// Number of clients waiting (INFO `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.blocked_clients.load(Ordering::SeqCst)
    }

    /// Number of distinct keys clients wait for (INFO `total_blocking_keys`).
    pub fn blocking_keys(&self) -> usize {
        self.lock_waiters().queues.len()
    }

    /// Whether client `id` is blocked (CLIENT LIST flag `b`).
    pub fn is_blocked(&self, id: u64) -> bool {
        self.blocked_clients() > 0 && self.lock_waiters().by_client.contains_key(&id)
    }

    /// Registers `client` as waiting on `request.keys` (at the back of each queue) to re-run
    /// `args`. Called by dispatch with the command's key locks held.
    pub fn register(
        &self,
        client: &ClientState,
        spec: &'static CommandSpec,
        args: &[Bytes],
        request: BlockRequest,
    ) -> BlockedWait {
        let mut keys: Vec<WaitKey> = Vec::with_capacity(request.keys.len());
        for key in request.keys {
            let wait_key = WaitKey { ns: client.namespace.clone(), db: client.db, key };
            // BLPOP k k 0 waits once on k.
            if !keys.contains(&wait_key) {
                keys.push(wait_key);
            }
        }
        let (sender, receiver) = oneshot::channel();
        let command = BlockedCommand {
            spec,
            args: args.to_vec(),
            handle: client.handle.clone(),
            logical_db: client.db,
            namespace: client.namespace.clone(),
            resp: client.resp,
        };
        let id = client.id();
        let mut waiters = self.lock_waiters();
        // A client runs one command at a time; a stale entry would be a bug, never keep two.
        if waiters.remove(id).is_some() {
            self.blocked_clients.fetch_sub(1, Ordering::SeqCst);
        }
        for key in &keys {
            waiters.queues.entry(key.clone()).or_default().push_back(id);
        }
        waiters.by_client.insert(id, Waiter { keys, command, reply: sender });
        self.blocked_clients.fetch_add(1, Ordering::SeqCst);
        BlockedWait { reply: receiver, deadline: request.deadline }
    }

    /// Withdraws client `id` (timeout, disconnection, kill). True if it was still waiting;
    /// false if it was served (its reply is then already in its channel) or never blocked.
    pub fn withdraw(&self, id: u64) -> bool {
        if self.blocked_clients() == 0 {
            return false;
        }
        let removed = self.lock_waiters().remove(id).is_some();
        if removed {
            self.blocked_clients.fetch_sub(1, Ordering::SeqCst);
        }
        removed
    }

    /// Unblocks client `id` with `reply` (CLIENT UNBLOCK: the timeout reply, or
    /// [`UNBLOCKED_ERROR`]). True if it was blocked.
    pub fn unblock(&self, id: u64, reply: Reply) -> bool {
        let mut waiters = self.lock_waiters();
        let Some(waiter) = waiters.remove(id) else {
            return false;
        };
        self.blocked_clients.fetch_sub(1, Ordering::SeqCst);
        let _ = waiter.reply.send(reply);
        true
    }

    /// Notes that `key` of logical database `db` may now serve waiting clients. Cheap when
    /// nobody waits.
    pub fn signal(&self, ns: &[u8], db: usize, key: &[u8]) {
        if self.blocked_clients() == 0 {
            return;
        }
        let wait_key = WaitKey { ns: Bytes::copy_from_slice(ns), db, key: Bytes::copy_from_slice(key) };
        let mut ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
        if ready.set.insert(wait_key.clone()) {
            ready.order.push_back(wait_key);
            self.ready_count.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Signals every key clients wait for in logical database `db` (of any namespace): for
    /// SWAPDB, after which a blocked client waits on its database's new contents, which may
    /// already hold what it waits for (Redis's `scanDatabaseForReadyKeys`).
    pub fn signal_database(&self, db: usize) {
        if self.blocked_clients() == 0 {
            return;
        }
        let keys: Vec<WaitKey> = self.lock_waiters().queues.keys().filter(|k| k.db == db).cloned().collect();
        for key in keys {
            self.signal(&key.ns, key.db, &key.key);
        }
    }

    /// Whether [`Blocking::serve_ready`] has clients to serve (or another thread is serving).
    pub fn has_ready(&self) -> bool {
        self.ready_count.load(Ordering::SeqCst) > 0 || self.serving.load(Ordering::SeqCst)
    }

    /// Serves the clients waiting on every signalled key (see the module notes). Called by
    /// dispatch after each command, with no key lock held.
    pub fn serve_ready(&self, shared: &Arc<Shared>) {
        if !self.has_ready() {
            return;
        }
        // Taken with no key lock held, and the drain takes key locks only under it: no cycle.
        let _serving = self.serve_lock.lock().unwrap_or_else(|e| e.into_inner());
        /// Clears `serving` however the drain ends.
        struct Serving<'a>(&'a AtomicBool);
        impl Drop for Serving<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        self.serving.store(true, Ordering::SeqCst);
        let _flag = Serving(&self.serving);
        self.drain_ready(shared);
    }

    fn drain_ready(&self, shared: &Arc<Shared>) {
        while self.ready_count.load(Ordering::SeqCst) > 0 {
            let next = {
                let mut ready = self.ready.lock().unwrap_or_else(|e| e.into_inner());
                let next = ready.order.pop_front();
                if let Some(key) = &next {
                    ready.set.remove(key);
                    self.ready_count.fetch_sub(1, Ordering::SeqCst);
                }
                next
            };
            match next {
                Some(key) => self.serve_key(shared, &key),
                None => return,
            }
        }
    }

    /// Tries the waiters of `key` in arrival order. Each is tried at most once per signal, so
    /// the work is bounded by the number of waiters; it stops early once the key is gone.
    fn serve_key(&self, shared: &Arc<Shared>, key: &WaitKey) {
        let candidates: Vec<u64> = match self.lock_waiters().queues.get(key) {
            Some(queue) => queue.iter().copied().collect(),
            None => return,
        };
        for id in candidates {
            // The waiter's command and key positions, read without holding the registry
            // while the key locks are taken (lock order: key locks first).
            let (spec, args) = match self.lock_waiters().by_client.get(&id) {
                Some(waiter) => (waiter.command.spec, waiter.command.args.clone()),
                None => continue,
            };
            let positions = spec.key_positions(&args);
            let _guards = shared.lock_keys(&key.ns, key.db, positions.iter().map(|&i| &args[i][..]));
            let mut waiters = self.lock_waiters();
            let Some(waiter) = waiters.by_client.get(&id) else {
                continue;
            };
            match rerun(shared, &waiter.command) {
                Some(reply) => {
                    if let Some(waiter) = waiters.remove(id) {
                        self.blocked_clients.fetch_sub(1, Ordering::SeqCst);
                        let _ = waiter.reply.send(reply);
                    }
                }
                None => {
                    drop(waiters);
                    if shared.db(&key.ns, key.db).lookup(&key.key).map(|record| record.is_none()).unwrap_or(true) {
                        return;
                    }
                }
            }
        }
    }

    fn lock_waiters(&self) -> MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Re-runs a waiter's command on its behalf; `Some(reply)` if it was served, `None` if it
/// would block again.
fn rerun(shared: &Arc<Shared>, command: &BlockedCommand) -> Option<Reply> {
    let handler = command.spec.handler?;
    let mut client = ClientState::new(command.handle.clone(), true);
    client.db = command.logical_db;
    client.namespace = command.namespace.clone();
    client.resp = command.resp;
    client.serving_blocked = true;
    // The log of written keys is this command's alone (see storage/written.rs).
    let _ = crate::storage::written::take();
    let reply = crate::dispatch::call(shared, &mut client, handler, &command.args);
    if client.block_request.is_some() {
        return None;
    }
    // As dispatch does after any command: the keys the served command changed (the popped
    // source, a BLMOVE destination) abort transactions that WATCH them.
    crate::dispatch::signal_written_keys(shared);
    Some(reply)
}

/// Redis's `getTimeoutFromObjectOrReply` in seconds: a float of seconds (read as a C long
/// double and rounded up to milliseconds, as Redis 7.0.15 does), 0 meaning forever. Returns the
/// deadline, `None` for forever.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Instant>> {
    let timeout_ms =
        crate::float::seconds_to_ms(arg).ok_or_else(|| Error::err("timeout is not a float or out of range"))?;
    if timeout_ms < 0 {
        return Err(Error::err("timeout is negative"));
    }
    if timeout_ms == 0 {
        return Ok(None);
    }
    // Redis 7.0 has no upper bound (7.2 added "timeout is out of range"). A deadline past
    // what `Instant` can hold is forever in practice.
    Ok(Instant::now().checked_add(Duration::from_millis(timeout_ms as u64)))
}

impl Ctx<'_> {
    /// Blocks the client on `keys` until `deadline` (see the module notes) and returns the
    /// placeholder reply dispatch replaces; inside MULTI or a script, where clients never
    /// block, returns `if_denied` (the command's reply for "nothing", e.g. a null array for
    /// BLPOP, a null bulk for BLMOVE).
    pub fn block(&mut self, keys: &[Bytes], deadline: Option<Instant>, if_denied: Reply) -> Reply {
        if self.client.deny_blocking {
            return if_denied;
        }
        self.client.block_request = Some(BlockRequest { keys: keys.to_vec(), deadline });
        timeout_reply()
    }

    /// Tells waiting clients that `key` (of the selected database) may now have something
    /// for them: call it after writing whenever a command creates a list or a sorted set.
    pub fn signal_key_ready(&self, key: &[u8]) {
        self.shared.blocking.signal(&self.client.namespace, self.client.db, key);
    }

    /// Whether the handler is re-run on behalf of a blocked client (a source key of another
    /// type then counts as empty: the client keeps waiting).
    pub fn serving_blocked(&self) -> bool {
        self.client.serving_blocked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientRegistry;

    fn client(registry: &ClientRegistry) -> ClientState {
        ClientState::new(registry.register("127.0.0.1:1".into(), "127.0.0.1:2".into()), true)
    }

    fn request(keys: &[&str]) -> BlockRequest {
        BlockRequest { keys: keys.iter().map(|k| Bytes::copy_from_slice(k.as_bytes())).collect(), deadline: None }
    }

    fn queue(blocking: &Blocking, key: &str) -> Vec<u64> {
        let wait_key = WaitKey { ns: Bytes::new(), db: 0, key: Bytes::copy_from_slice(key.as_bytes()) };
        blocking.lock_waiters().queues.get(&wait_key).map(|q| q.iter().copied().collect()).unwrap_or_default()
    }

    #[test]
    fn waiters_queue_in_arrival_order_and_leave_nothing_behind() {
        let (registry, blocking) = (ClientRegistry::default(), Blocking::default());
        let spec = crate::cmd::table::lookup(b"blpop").expect("blpop is in the table");
        let args: Vec<Bytes> = ["BLPOP", "k", "k", "other", "0"].iter().map(|a| Bytes::from(*a)).collect();
        let (a, b) = (client(&registry), client(&registry));
        let _wait_a = blocking.register(&a, spec, &args, request(&["k", "k", "other"]));
        let mut wait_b = blocking.register(&b, spec, &args, request(&["k"]));
        assert_eq!(queue(&blocking, "k"), vec![a.id(), b.id()], "duplicate keys wait once, in arrival order");
        assert_eq!((blocking.blocked_clients(), blocking.blocking_keys()), (2, 2));
        assert!(blocking.withdraw(a.id()));
        assert!(!blocking.withdraw(a.id()), "a second withdrawal finds nothing");
        assert_eq!(queue(&blocking, "k"), vec![b.id()]);
        assert!(queue(&blocking, "other").is_empty());
        assert!(blocking.unblock(b.id(), timeout_reply()));
        assert_eq!(wait_b.reply.try_recv().ok(), Some(Reply::NullArray));
        assert_eq!((blocking.blocked_clients(), blocking.blocking_keys()), (0, 0));
        assert!(!blocking.is_blocked(b.id()));
    }

    #[test]
    fn signals_are_ignored_while_nobody_waits_and_kept_once_otherwise() {
        let (registry, blocking) = (ClientRegistry::default(), Blocking::default());
        blocking.signal(b"", 0, b"k");
        assert_eq!(blocking.ready_count.load(Ordering::SeqCst), 0);
        let spec = crate::cmd::table::lookup(b"blpop").expect("blpop is in the table");
        let args: Vec<Bytes> = ["BLPOP", "k", "0"].iter().map(|a| Bytes::from(*a)).collect();
        let _wait = blocking.register(&client(&registry), spec, &args, request(&["k"]));
        blocking.signal(b"", 0, b"k");
        blocking.signal(b"", 0, b"k");
        blocking.signal(b"", 1, b"k");
        assert_eq!(blocking.ready_count.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn swapdb_signals_the_waited_keys_of_a_database() {
        let (registry, blocking) = (ClientRegistry::default(), Blocking::default());
        let spec = crate::cmd::table::lookup(b"blpop").expect("blpop is in the table");
        let args: Vec<Bytes> = ["BLPOP", "a", "b", "0"].iter().map(|a| Bytes::from(*a)).collect();
        let _wait = blocking.register(&client(&registry), spec, &args, request(&["a", "b"]));
        blocking.signal_database(1);
        assert_eq!(blocking.ready_count.load(Ordering::SeqCst), 0);
        blocking.signal_database(0);
        assert_eq!(blocking.ready_count.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn timeouts_follow_redis() {
        assert_eq!(parse_timeout(b"0").unwrap(), None);
        assert!(parse_timeout(b"0.5").unwrap().is_some());
        let message = |arg: &[u8]| parse_timeout(arg).unwrap_err().to_string();
        assert_eq!(message(b"abc"), "ERR timeout is not a float or out of range");
        assert_eq!(message(b"nan"), "ERR timeout is not a float or out of range");
        assert_eq!(message(b"-1"), "ERR timeout is negative");
        // (long long)(inf * 1000) is LLONG_MIN on x86-64, as Redis gets it there.
        if cfg!(target_arch = "x86_64") {
            assert_eq!(message(b"inf"), "ERR timeout is negative");
        }
    }
}
