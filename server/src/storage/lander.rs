//! Landing write groups on a thread of their own. A worker thread hands each write group
//! (deferred.rs) to its lander and goes on running the next turn's commands while RocksDB
//! inserts the group into its memtables: that insertion was a third of a pipelined SET's
//! instructions (4.0 k of 12.1 k, callgrind), spent on the worker while the client waited.
//!
//! ```text
//!  worker:  run group 1 | hand off 1 | run group 2 | hand off 2 | reply 1 | run group 3 ...
//!  lander:               | write 1 ............... | write 2 ..............| ...
//! ```
//!
//! Nothing about what a client sees changes: replies still wait for their group's outcome,
//! the group's stripes stay parked until it landed (locks.rs), and the worker reads its groups
//! in flight through their overlays (deferred.rs). Groups land in the order they were handed
//! off, one lander per worker thread, so a key's writes land in order. A group handed off
//! while an earlier one was in flight may have read its writes: it lands only if that one
//! did, and fails with its error otherwise (`Job::after`).
//!
//! The lander also keeps the record caches true (`Writer::write_batch`): storing a landed
//! group's records is a fifth of its time under pipelined SETs (perf: a hash-table slot per
//! record, and the free of the record it replaces). Doing that on the worker instead, as it
//! sees the group land and before its stripes go, moved the cost without saving any. At
//! `-P 16` (three alternating rounds each, CPU per request): SET's lander -1.0 µs, its worker
//! +0.8; INCR -0.9 and +0.3; HSET -0.9 and +0.8; ZADD -0.3 and +1.2. Median req/s moved +5%,
//! +2%, -4% and -3%, within the noise. The two cores, shared with the client, bound pipelined
//! writes, not the lander.

use std::cell::RefCell;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

use rocksdb::{WriteBatch, WriteOptions};

use super::deferred::Outcome;
use super::record_cache::{CachedChanges, RecordCache};
use super::{holds_nothing, Cf, Result, Rocks, StorageError};

/// Where batches go into RocksDB, keeping the record cache true: shared by the storage and
/// its landers.
pub(super) struct Writer {
    pub db: Arc<Rocks>,
    pub write_options: WriteOptions,
    /// Metadata records, in front of the database.
    pub records: RecordCache,
    /// Collection members (the `SubKeys` column family), in front of the database.
    pub sub_records: RecordCache,
}

impl Writer {
    /// Writes `batch`, whose cached records are `changes`.
    pub fn write_batch(&self, batch: WriteBatch, changes: CachedChanges) -> Result<()> {
        let CachedChanges { metadata, sub_keys } = changes;
        let flight = (!metadata.is_empty()).then(|| self.records.begin_write(&metadata));
        let sub_flight = (!sub_keys.is_empty()).then(|| self.sub_records.begin_write(&sub_keys));
        let written = self.db.write_opt(batch, &self.write_options);
        let no_keys = || holds_nothing(&self.db, Cf::Metadata);
        if let Some(flight) = flight {
            self.records.end_write(flight, metadata, written.is_ok(), no_keys, no_keys);
        }
        if let Some(flight) = sub_flight {
            // Members are read only under their key's live metadata record, so with no key
            // left none can be read again, even while the members DELs left are still there
            // for compactions to drop.
            let no_members = || holds_nothing(&self.db, Cf::SubKeys) || no_keys();
            self.sub_records.end_write(flight, sub_keys, written.is_ok(), no_members, no_keys);
        }
        Ok(written?)
    }
}

/// One write group for the lander.
pub(super) struct Job {
    pub batch: WriteBatch,
    pub changes: CachedChanges,
    pub outcome: Arc<Outcome>,
    /// The outcome of the group handed off before it while that one was in flight: this one
    /// lands only if that one did.
    pub after: Option<Arc<Outcome>>,
    /// Unit tests: fail without writing, as a full disk would.
    pub fail: bool,
}

/// A worker thread's lander: the thread and the way to it.
struct Lander {
    writer: Weak<Writer>,
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

thread_local! {
    /// This thread's lander, started with its first hand-off.
    static LANDER: RefCell<Option<Lander>> = const { RefCell::new(None) };
}

/// Hands `job` to this thread's lander, starting one for `writer` if the thread has none
/// (or one of a storage since closed, in tests).
pub(super) fn hand_off(writer: &Arc<Writer>, job: Job) {
    LANDER.with(|lander| {
        let mut lander = lander.borrow_mut();
        if !lander.as_ref().is_some_and(|l| Weak::ptr_eq(&l.writer, &Arc::downgrade(writer))) {
            *lander = Some(Lander::start(writer));
        }
        let sender = lander.as_ref().and_then(|l| l.jobs.as_ref()).expect("a lander runs until dropped");
        if let Err(mpsc::SendError(job)) = sender.send(job) {
            // The lander thread is gone (it panicked): nothing can land through it.
            job.outcome.set(&Err(StorageError::Io("the landing thread stopped".into())));
        }
    });
}

/// Stops this thread's lander, if it has one, once it has landed what it was handed.
pub(super) fn stop() {
    let lander = LANDER.with(|lander| lander.borrow_mut().take());
    drop(lander);
}

impl Lander {
    fn start(writer: &Arc<Writer>) -> Lander {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let weak = Arc::downgrade(writer);
        // "redrock-lander-0" beside "redrock-worker-0", where `top -H` tells them apart.
        let name = std::thread::current().name().unwrap_or("redrock-worker").replace("worker", "lander");
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                for job in inbox {
                    let result = land(&weak, job.batch, job.changes, job.after.as_deref(), job.fail);
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "writing a batch of joined writes failed");
                    }
                    job.outcome.set(&result);
                }
            })
            .expect("spawning a landing thread");
        Lander { writer: Arc::downgrade(writer), jobs: Some(jobs), thread: Some(thread) }
    }
}

fn land(
    writer: &Weak<Writer>,
    batch: WriteBatch,
    changes: CachedChanges,
    after: Option<&Outcome>,
    fail: bool,
) -> Result<()> {
    if let Some(after) = after {
        // Set: the lander landed it before.
        if let Some(Err(e)) = after.get() {
            return Err(e.clone());
        }
    }
    if fail {
        return Err(StorageError::Io("injected write failure".into()));
    }
    // The storage outlives every group its workers handed off: they wait for them to land
    // before they let it go.
    let writer = writer.upgrade().ok_or_else(|| StorageError::Io("the database is closed".into()))?;
    writer.write_batch(batch, changes)
}

impl Drop for Lander {
    fn drop(&mut self) {
        // The lander lands what it was handed, then ends: the worker thread ends after it.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_behind_a_failed_one_fails_with_its_error_without_writing() {
        let failed = Outcome::default();
        failed.set(&Err(StorageError::Io("disk full".into())));
        // A writer that is gone: writing would fail with another error.
        let gone = Weak::new();
        match land(&gone, WriteBatch::default(), CachedChanges::default(), Some(&failed), false) {
            Err(StorageError::Io(text)) => assert_eq!(text, "disk full"),
            other => panic!("{other:?}"),
        }
        let landed = Outcome::default();
        landed.set(&Ok(()));
        match land(&gone, WriteBatch::default(), CachedChanges::default(), Some(&landed), false) {
            Err(StorageError::Io(text)) => assert_eq!(text, "the database is closed", "it went on to write"),
            other => panic!("{other:?}"),
        }
    }
}
