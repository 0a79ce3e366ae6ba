//! Keyspace walks off the worker thread: DBSIZE, INFO's keyspace section and KEYS.
//!
//! RocksDB keeps no count of keys, so DBSIZE and INFO walk every metadata record of a
//! database: 0.23 to 0.33 s at 950 k keys on docs/BENCHMARKS.md's machine, about 3 s at
//! 10 M. Run by the handler, that walk held its worker thread, and every other connection of
//! the thread waited for it; INFO without arguments includes the keyspace section, so a
//! monitor polling INFO stalled a worker at every poll. Redis answers both in O(1). An exact
//! count kept on every write would need to know, on every blind SET, whether the key
//! existed: a read the writes do not make. KEYS walks as long (Redis's too, which blocks its
//! whole server meanwhile).
//!
//! So the walk runs on the worker runtime's blocking pool, and the connection awaits its
//! reply as a blocked client awaits its own (connection.rs): the client's later requests wait
//! behind it, the thread's other connections go on. The count is exact at one point between
//! the request's arrival and its reply. The walk's RocksDB iterator is a snapshot, taken after
//! the writes the client made before the request landed (a command without keys lands its
//! thread's write group first, write_session.rs). A command that takes the whole keyspace
//! (SWAPDB, FLUSHALL, ...) while a walk runs may change which physical database the walk
//! should have read: the walk then runs again, as an unlocked point read does (locks.rs), and
//! after `MAX_UNLOCKED_WALKS` tries it walks holding every stripe.
//!
//! Inside MULTI/EXEC (`deny_blocking`), and for in-process callers without a runtime, the
//! walk runs inline: a transaction's commands run in one piece.

use std::sync::Arc;

use redrock_protocol::Reply;
use tokio::sync::oneshot;

use crate::blocking::BlockedWait;
use crate::cmd::Ctx;
use crate::error::Result;
use crate::shared::Shared;

/// Threads of a worker runtime's blocking pool, where its offloaded walks run: more walks than
/// that wait for one to end (a client has at most one: it waits for its reply), and a walk
/// is all CPU.
pub const MAX_OFFLOAD_THREADS: usize = 2;

/// Walks an offloaded command makes without locks before it takes every stripe: each retry
/// means a whole-keyspace command ran during the walk before it.
pub const MAX_UNLOCKED_WALKS: usize = 3;

/// What an offloaded walk asks as it goes: whether anyone still waits for its reply.
pub struct Wanted<'a> {
    shared: &'a Shared,
    reply: Option<&'a oneshot::Sender<Reply>>,
}

impl Wanted<'_> {
    /// False once the client went away (its reply has nowhere to go) or the server stops
    /// (its shutdown waits for the blocking pool's running tasks).
    pub fn still(&self) -> bool {
        !*self.shared.shutdown.borrow() && self.reply.is_none_or(|reply| !reply.is_closed())
    }
}

/// An offloaded walk's reply; `None` if it stopped because nobody wanted it any more.
pub type Walked = Result<Option<Reply>>;

impl Ctx<'_> {
    /// Runs `walk` off the worker thread, the connection awaiting its reply; inline inside a
    /// transaction or without a runtime. `walk` reads through the database map as it finds it,
    /// and is run again if a whole-keyspace command may have changed it meanwhile.
    pub fn offload(&mut self, walk: impl Fn(&Shared, &Wanted<'_>) -> Walked + Send + 'static) -> Result<Reply> {
        let runtime = tokio::runtime::Handle::try_current();
        if self.client.deny_blocking || runtime.is_err() {
            let wanted = Wanted { shared: self.shared, reply: None };
            return Ok(consistent(self.shared, &wanted, &walk)?.unwrap_or(Reply::Null));
        }
        let (sender, receiver) = oneshot::channel();
        let shared: Arc<Shared> = self.shared.clone();
        // Detached: the connection awaits the reply, not the task.
        drop(tokio::task::spawn_blocking(move || {
            let wanted = Wanted { shared: &shared, reply: Some(&sender) };
            let reply = match consistent(&shared, &wanted, &walk) {
                Ok(Some(reply)) => reply,
                Ok(None) => return,
                Err(e) => e.into(),
            };
            let _ = sender.send(reply);
        }));
        self.client.blocked = Some(BlockedWait { reply: receiver, deadline: None });
        // Never sent: the connection sends the walk's reply instead.
        Ok(Reply::Null)
    }
}

/// `walk`, with no whole-keyspace command running from before it began to after it ended.
fn consistent(shared: &Shared, wanted: &Wanted<'_>, walk: &impl Fn(&Shared, &Wanted<'_>) -> Walked) -> Walked {
    for _ in 0..MAX_UNLOCKED_WALKS {
        let Some(epoch) = shared.locks.whole_keyspace_epoch() else {
            std::thread::yield_now();
            continue;
        };
        let walked = walk(shared, wanted)?;
        if walked.is_none() || shared.locks.whole_keyspace_unchanged_since(epoch) {
            return Ok(walked);
        }
    }
    let _every_stripe = shared.locks.lock_all();
    walk(shared, wanted)
}
