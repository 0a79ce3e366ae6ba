//! Write coalescing: the commands of one pipelined read write their batches into one RocksDB
//! write (storage/deferred.rs), which lands before any of their replies leaves.
//!
//! A command writes through the session only when everything it can read is its own keys,
//! which it holds: it has key positions (key specs name everything it touches) and is not a
//! whole-database command. Its stripes stay locked until the joined write lands, so no other
//! client reads, writes or acknowledges on top of an unwritten change. The session's own
//! commands read its deferred writes (the overlay of storage/deferred.rs; an iterator lands
//! them first). The session commits (and lets its locks go) first when:
//! - a stripe the command needs is held by another thread (the session then waits for it
//!   holding nothing, so two sessions can never wait for each other);
//! - a command has no keys or works on whole databases (KEYS, DBSIZE, FLUSHALL, EXEC, ...),
//!   blocked clients are to be served, or the connection is about to wait or reply.
//!
//! A failed commit turns the replies of every command whose writes it held into the error:
//! nothing that was not written is ever acknowledged.

use crate::error::Error;
use crate::locks::KeyGuards;
use crate::shared::Shared;
use crate::storage::deferred;

/// Commands whose writes one session defers before it commits, so that a long pipeline never
/// keeps many key locks from other clients.
pub const MAX_DEFERRED_COMMANDS: usize = 256;

pub struct WriteSession<'s> {
    shared: &'s Shared,
    /// Stripes held for the commands whose writes are deferred, one entry per command.
    guards: Vec<KeyGuards<'s>>,
    /// Whether the last command's locks were pushed on `guards` (and are its own).
    last_locked: bool,
    /// Commands whose writes are deferred.
    deferred_commands: usize,
    /// Output position before the first reply whose command's writes are deferred, and how
    /// many replies were encoded from there.
    replies: Option<DeferredReplies>,
    /// A commit failed: these replies must become its error.
    failed: Option<(DeferredReplies, Error)>,
}

/// Replies whose commands' writes are not in the database yet.
#[derive(Clone, Copy, Debug)]
pub struct DeferredReplies {
    pub output_mark: usize,
    pub count: usize,
}

impl<'s> WriteSession<'s> {
    /// Starts deferring this thread's writes. The session must end (`finish`) before the
    /// connection awaits anything: its locks and its deferred writes belong to this thread.
    pub fn begin(shared: &'s Shared) -> WriteSession<'s> {
        deferred::begin();
        WriteSession {
            shared,
            guards: Vec::new(),
            last_locked: false,
            deferred_commands: 0,
            replies: None,
            failed: None,
        }
    }

    /// Takes the locks of a command that may write through the session: the `sorted` stripes.
    pub fn lock(&mut self, sorted: &[usize]) {
        let guards = match self.shared.locks.try_lock_stripes(sorted) {
            Some(guards) => guards,
            None => {
                // Wait for them holding nothing.
                self.commit();
                self.shared.locks.lock_sorted(sorted.into())
            }
        };
        self.last_locked = !guards.is_empty();
        if self.last_locked {
            self.guards.push(guards);
        }
    }

    /// After a command that took its locks with [`WriteSession::lock`]: if it deferred writes
    /// (`deferred_batches_before` is `deferred::deferred_batches()` before it ran), its locks
    /// stay until they land; otherwise they go at once.
    pub fn ran(&mut self, deferred_batches_before: u64) {
        let wrote = deferred::deferred_batches() > deferred_batches_before;
        if wrote {
            self.deferred_commands += 1;
        }
        if std::mem::take(&mut self.last_locked) && !wrote {
            self.guards.pop();
        }
    }

    /// Whether the session has deferred enough to commit before its next command.
    pub fn is_full(&self) -> bool {
        self.deferred_commands >= MAX_DEFERRED_COMMANDS || deferred::pending_bytes() > deferred::MAX_DEFERRED_BYTES
    }

    /// Whether writes are deferred now.
    pub fn is_pending(&self) -> bool {
        deferred::has_pending()
    }

    /// Notes a reply encoded at `output_mark` (the output length before it): replies from the
    /// first one whose command's writes are deferred are counted.
    pub fn replied(&mut self, output_mark: usize) {
        let pending = self.is_pending();
        match &mut self.replies {
            Some(replies) => replies.count += 1,
            None if pending => self.replies = Some(DeferredReplies { output_mark, count: 1 }),
            None => {}
        }
    }

    /// Writes what is deferred and releases the locks; deferring goes on. A failure is kept
    /// for [`WriteSession::take_failure`].
    pub fn commit(&mut self) {
        self.absorb_landing_failure();
        let result = self.shared.storage.commit_deferred();
        self.guards.clear();
        self.last_locked = false;
        self.deferred_commands = 0;
        match result {
            Ok(()) => self.replies = None,
            Err(e) => {
                tracing::error!(error = %e, "writing a pipeline's batch failed");
                self.fail(Error::from(e));
            }
        }
    }

    /// The replies a failed commit must replace with its error, if one failed. Called after
    /// each command, before its reply: a joined write that failed while the command ran (under
    /// an iterator, storage/deferred.rs) held the writes of the commands replied before it.
    pub fn take_failure(&mut self) -> Option<(DeferredReplies, Error)> {
        self.absorb_landing_failure();
        self.failed.take()
    }

    /// Takes in the failure of a joined write landed under an iterator during the running
    /// command: it held the writes of every command replied since the mark.
    fn absorb_landing_failure(&mut self) {
        if let Some(e) = deferred::take_failure() {
            self.fail(Error::from(e));
        }
    }

    /// The replies counted so far acknowledged writes that failed with `error`.
    fn fail(&mut self, error: Error) {
        if let Some(replies) = self.replies.take() {
            match &mut self.failed {
                // An earlier failure's replies come first in the output: keep its mark.
                Some((earlier, _)) => earlier.count += replies.count,
                None => self.failed = Some((replies, error)),
            }
        }
    }

    /// Commits and stops deferring.
    pub fn finish(mut self) -> Option<(DeferredReplies, Error)> {
        self.commit();
        self.take_failure()
    }
}

impl Drop for WriteSession<'_> {
    fn drop(&mut self) {
        // Normally empty (`finish` committed); after a panic, what was deferred is dropped
        // with the replies that would have acknowledged it.
        let _ = deferred::end();
    }
}
