//! Write coalescing: the commands a worker thread runs in one turn of its event loop write
//! their batches into one RocksDB write (storage/deferred.rs), which lands before any of
//! their replies leaves. A turn is every request of one pipelined read, and the requests of
//! every other connection of the thread that were ready too: at `-P 1` with 50 clients one
//! turn serves about 20, and each landing its own write cost ~7,000 instructions of RocksDB's
//! write path per request (callgrind) that one write for all of them shares.
//!
//! A connection runs its read's requests in a session, then parks it (`park`), yields so that
//! the thread's other ready connections run theirs, and settles (`Parked::settle`): the first
//! connection back hands the thread's write group to its lander (storage's lander.rs), and
//! every connection of the group awaits its landing. Meanwhile the thread runs the requests
//! of its other connections, into the next group: they read the group in flight through its
//! overlay, and their stripes parked for it stay parked for the next one.
//!
//! A command writes through the session only when everything it can read is its own keys,
//! which it holds: it has key positions (key specs name everything it touches) and is not a
//! whole-database command. Its stripes stay locked until the group lands (parked, see
//! locks.rs), so no other client reads, writes or acknowledges on top of an unwritten change;
//! the thread's own later commands use them as theirs and read the group's writes (the
//! overlay of storage/deferred.rs; an iterator lands them first). The group lands early when:
//! - a stripe a command needs is held by another thread (the thread then waits for it
//!   holding nothing, so two threads can never wait for each other);
//! - a command has no keys or works on whole databases (KEYS, DBSIZE, FLUSHALL, EXEC, ...),
//!   or blocked clients are to be served;
//! - it holds `MAX_DEFERRED_COMMANDS` commands or `MAX_DEFERRED_BYTES`.
//!
//! A failed landing turns into its error the replies of every command whose writes it held,
//! and of every command that ran while they were pending (which may have read them), on
//! every connection of the thread: nothing that was not written is ever acknowledged. A
//! group that ran while an earlier one was in flight fails with it (lander.rs): a reply
//! waits for the newest group it may reveal, which lands only if the ones before it did.

use std::sync::Arc;

use crate::error::Error;
use crate::locks::{KeyGuards, Stripes};
use crate::shared::Shared;
use crate::storage::deferred::{self, Outcome};

/// Commands whose writes a thread defers before it lands them, so that a long pipeline never
/// keeps many key locks from other clients. Larger groups would give the memtable insertion
/// hints nearer keys, but land later: in an alternating A/B at `-P 16`, 50 clients, five
/// rounds, 1024 ran SET, INCR, HSET and ZADD 14-24% slower; 128 ran them 0-3% slower.
pub const MAX_DEFERRED_COMMANDS: usize = 256;

/// Commands a group needs for the thread to hand it to its lander rather than land it
/// itself: waking the lander and being woken back costs a group two cross-thread wake-ups.
/// In A/B runs beside Redis, 50 clients: handing off every group took `-P 1` SET from 1.00x
/// to 0.81x (its groups are 20 to 50 commands), and `-P 16` SET from 0.40x to 0.44x; with
/// this bound `-P 1` stayed where it was (1.09x against 1.08x over four rounds) and `-P 16`
/// SET reached 0.50x, ZADD 0.30x -> 0.51x in one run (the session's final code against the
/// one before it: SET 0.42x -> 0.54x, ZADD 0.30x -> 0.33x). Measured again once landings
/// were sorted and hinted (five rounds at `-P 1`): handing off every group ran ZADD 27%
/// slower, HSET 11%, SET 6%, MSET 3% faster (within its spread).
pub const MIN_HANDED_OFF_COMMANDS: usize = 64;

pub struct WriteSession<'s> {
    shared: &'s Shared,
    /// The running command's stripes, until it ran: parked if it deferred writes.
    running: Option<KeyGuards<'s>>,
    /// Every stripe of the running command, including those it found parked.
    running_stripes: Stripes,
    /// Replies that wait for a landing, and how it goes.
    waiting: Option<(DeferredReplies, Arc<Outcome>)>,
    /// The landing the last command's writes joined, for its reply: a landing may come
    /// between the command and its reply (blocked clients served), and fail.
    joined: Option<Arc<Outcome>>,
    /// A landing failed: these replies must become its error.
    failed: Option<(DeferredReplies, Error)>,
    /// Parked or finished: what was deferred is somebody's to land.
    handed_over: bool,
}

/// Replies whose commands' writes are not in the database yet.
#[derive(Clone, Copy, Debug)]
pub struct DeferredReplies {
    pub output_mark: usize,
    pub count: usize,
}

/// A session's replies waiting, across the connection's yield, for the thread's write group.
pub struct Parked<'s> {
    shared: &'s Shared,
    waiting: Option<(DeferredReplies, Arc<Outcome>)>,
    failed: Option<(DeferredReplies, Error)>,
    /// The landing of writes no counted reply acknowledges (`CLIENT REPLY OFF`, or a read
    /// that ended after a write and before its reply), newer than `waiting`'s: they must
    /// land all the same, and not wait for another connection to come by while other
    /// threads wait for their stripes.
    unacknowledged: Option<Arc<Outcome>>,
}

impl<'s> WriteSession<'s> {
    /// Starts deferring this thread's writes, joining the group other connections of the
    /// thread left pending. The session must end (`park` or `finish`) before the connection
    /// awaits anything: the running command's locks belong to this thread.
    pub fn begin(shared: &'s Shared) -> WriteSession<'s> {
        deferred::begin();
        WriteSession {
            shared,
            running: None,
            running_stripes: Stripes::new(),
            waiting: None,
            joined: None,
            failed: None,
            handed_over: false,
        }
    }

    /// Takes the locks of a command that may write through the session: the `sorted` stripes.
    pub fn lock(&mut self, sorted: Stripes) {
        let guards = match self.shared.locks.try_lock_stripes(&sorted) {
            Some(guards) => guards,
            None => {
                // Wait for them holding nothing.
                self.commit();
                self.shared.locks.lock_sorted(sorted.clone())
            }
        };
        self.running = (!guards.is_empty()).then_some(guards);
        self.running_stripes = sorted;
    }

    /// Lets go of the stripes [`WriteSession::lock`] took (not those parked before it).
    pub fn unlock(&mut self) {
        self.running = None;
        self.running_stripes = Stripes::new();
    }

    /// After a command that took its locks with [`WriteSession::lock`]: if it deferred writes
    /// (`deferred_batches_before` is `deferred::deferred_batches()` before it ran), its locks
    /// stay until they land; otherwise they go at once.
    pub fn ran(&mut self, deferred_batches_before: u64) {
        let wrote = deferred::deferred_batches() > deferred_batches_before;
        if wrote && self.joined.is_none() {
            self.joined = deferred::outcome();
        }
        let guards = self.running.take();
        if wrote {
            self.shared.locks.park(guards, &self.running_stripes, deferred::current_group());
        }
    }

    /// Whether the thread has deferred enough to land before the next command.
    pub fn is_full(&self) -> bool {
        deferred::pending_commands() >= MAX_DEFERRED_COMMANDS
            || deferred::pending_bytes() > deferred::MAX_DEFERRED_BYTES
    }

    /// Notes a reply encoded at `output_mark` (the output length before it): replies from the
    /// first one whose command's writes, or any the thread deferred, are pending are counted.
    pub fn replied(&mut self, output_mark: usize) {
        match &mut self.waiting {
            Some((replies, outcome)) => {
                replies.count += 1;
                // The group may have been handed off since the first counted reply, and this
                // reply's writes joined the next: the newest lands only if earlier ones did.
                if let Some(newest) = self.joined.take().or_else(deferred::outcome) {
                    *outcome = newest;
                }
            }
            None => {
                if let Some(outcome) = self.joined.take().or_else(deferred::outcome) {
                    self.waiting = Some((DeferredReplies { output_mark, count: 1 }, outcome));
                }
            }
        }
    }

    /// Lands what the thread deferred, and every group it has in flight, and releases its
    /// parked locks; deferring goes on.
    pub fn commit(&mut self) {
        land(self.shared);
        self.resolve();
    }

    /// Hands what the thread deferred to its lander; deferring goes on, into the next group.
    pub fn hand_off(&mut self) {
        self.shared.storage.hand_off_deferred();
        self.resolve();
    }

    /// The replies a failed landing must replace with its error, if one failed. Called after
    /// each command, before its reply: a landing under an iterator while the command ran may
    /// have held the writes of the commands replied before it.
    pub fn take_failure(&mut self) -> Option<(DeferredReplies, Error)> {
        self.resolve();
        self.failed.take()
    }

    /// Takes in how the landing the counted replies wait for went, once it landed.
    fn resolve(&mut self) {
        resolve(&mut self.waiting, &mut self.failed);
    }

    /// Ends the session with its replies waiting for the thread's write group, which the
    /// connection settles after it let the thread's other ready connections run.
    pub fn park(mut self) -> Parked<'s> {
        self.resolve();
        self.handed_over = true;
        if !deferred::has_pending() {
            // Idle: writes outside a session go straight through (after the groups in
            // flight). Stripes parked for writes that landed are free to go.
            self.shared.locks.release_parked_through(deferred::landed_through());
            let _ = deferred::end();
        }
        Parked {
            shared: self.shared,
            waiting: self.waiting.take(),
            failed: self.failed.take(),
            unacknowledged: self.joined.take().filter(|outcome| outcome.get().is_none()),
        }
    }

    /// Lands what the thread deferred and stops deferring.
    pub fn finish(mut self) -> Option<(DeferredReplies, Error)> {
        self.commit();
        self.handed_over = true;
        let _ = deferred::end();
        self.take_failure()
    }
}

impl Drop for WriteSession<'_> {
    fn drop(&mut self) {
        // Only after a panic in a command: what the thread deferred still lands (every write
        // is a whole command's batch), so that no connection of the thread that acknowledged
        // a write of its own loses it.
        if !self.handed_over {
            self.running = None;
            land(self.shared);
            let _ = deferred::end();
        }
    }
}

impl Parked<'_> {
    /// Whether the replies must wait for the thread's write group.
    pub fn must_wait(&self) -> bool {
        self.waiting.is_some() || self.failed.is_some() || self.unacknowledged.is_some()
    }

    /// The newest landing this connection's commands wrote into or read from.
    fn newest(&self) -> Option<Arc<Outcome>> {
        self.unacknowledged.clone().or_else(|| self.waiting.as_ref().map(|(_, outcome)| outcome.clone()))
    }

    /// Hands the thread's write group to its lander unless another connection did, and
    /// waits for the group the replies wait for to land; the replies that must become the
    /// error of a failed landing, if one failed.
    pub async fn settle(mut self) -> Option<(DeferredReplies, Error)> {
        // Landings end in the order they began: once the newest has, every earlier one has.
        if let Some(outcome) = self.newest() {
            while outcome.get().is_none() {
                if !deferred::is_current(&outcome) {
                    outcome.landed().await;
                    continue;
                }
                // While the lander writes a group, the next one grows with every connection
                // that comes in meanwhile: one write for all of them, as a group commit.
                deferred::retire();
                match deferred::newest_in_flight() {
                    Some(landing) => {
                        landing.landed().await;
                    }
                    None if deferred::pending_commands() < MIN_HANDED_OFF_COMMANDS => land(self.shared),
                    None => self.shared.storage.hand_off_deferred(),
                }
            }
        }
        self.shared.locks.release_parked_through(deferred::landed_through());
        resolve(&mut self.waiting, &mut self.failed);
        self.failed.take()
    }

    fn land_if_pending(&mut self) {
        if let Some(outcome) = self.newest() {
            if outcome.get().is_none() {
                land(self.shared);
                let _ = deferred::end();
            }
        }
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        // A connection that ends without replying still lands what it waited for: other
        // threads wait for the stripes the group keeps.
        self.land_if_pending();
    }
}

/// Lands the thread's deferred writes, after its groups in flight, and releases the stripes
/// parked for them. A failure is in the landing's outcome, for every reply that waits for it.
fn land(shared: &Shared) {
    if let Err(e) = shared.storage.commit_deferred() {
        tracing::error!(error = %e, "writing a batch of joined writes failed");
    }
    shared.locks.release_parked();
}

/// Once the landing that `waiting` replies wait for landed: nothing more to wait for, and
/// if it failed, the replies join the `failed` ones.
fn resolve(waiting: &mut Option<(DeferredReplies, Arc<Outcome>)>, failed: &mut Option<(DeferredReplies, Error)>) {
    let Some((replies, outcome)) = waiting else {
        return;
    };
    match outcome.get() {
        None => {}
        Some(Ok(())) => *waiting = None,
        Some(Err(e)) => {
            let (replies, error) = (*replies, Error::from(e.clone()));
            *waiting = None;
            fail(failed, replies, error);
        }
    }
}

/// Counts `replies` into the failed ones.
fn fail(failed: &mut Option<(DeferredReplies, Error)>, replies: DeferredReplies, error: Error) {
    match failed {
        // An earlier failure's replies come first in the output: keep its mark.
        Some((earlier, _)) => earlier.count += replies.count,
        None => *failed = Some((replies, error)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use redrock_protocol::Reply;

    use super::*;
    use crate::client::ClientState;
    use crate::config::Config;
    use crate::dispatch::{execute, execute_alone};
    use crate::locks;
    use crate::storage::{self, Storage, StorageOptions};

    fn args(line: &str) -> Vec<Bytes> {
        line.split(' ').map(|word| Bytes::copy_from_slice(word.as_bytes())).collect()
    }

    /// One connection's turn of one command, parked as connection.rs parks it.
    fn turn<'s>(shared: &'s Arc<Shared>, client: &mut ClientState, line: &str) -> (Reply, Parked<'s>) {
        let (mut replies, parked) = turn_of(shared, client, &[line]);
        (replies.remove(0), parked)
    }

    fn turn_of<'s>(shared: &'s Arc<Shared>, client: &mut ClientState, lines: &[&str]) -> (Vec<Reply>, Parked<'s>) {
        let mut session = WriteSession::begin(shared);
        let mut replies = Vec::new();
        for (mark, line) in lines.iter().enumerate() {
            replies.push(execute(shared, client, &mut args(line), &mut session));
            assert!(session.take_failure().is_none());
            session.replied(mark);
        }
        (replies, session.park())
    }

    /// Settles `parked` as a connection's task does.
    fn settle(parked: Parked<'_>) -> Option<(DeferredReplies, Error)> {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(parked.settle())
    }

    /// A server's shared state in a fresh scratch folder named after `test`.
    fn open(test: &str) -> (tempfile::TempDir, Arc<Shared>) {
        let dir = tempfile::TempDir::with_prefix(format!("redrock-{test}-")).unwrap();
        let storage = Storage::open(dir.path(), &StorageOptions::default()).unwrap();
        (dir, Arc::new(Shared::new(storage, Config::default()).unwrap()))
    }

    fn client(shared: &Shared) -> ClientState {
        ClientState::new(shared.clients.register("127.0.0.1:1".into(), "127.0.0.1:2".into()), true)
    }

    /// Closes the database, then removes its folder.
    fn close(dir: tempfile::TempDir, shared: Arc<Shared>) {
        drop(shared);
        drop(dir);
    }

    #[test]
    fn a_failed_landing_fails_the_replies_of_every_connection_that_waited_for_it() {
        let (dir, shared) = open("failed-landing");
        let (mut writer, mut reader, mut later) = (client(&shared), client(&shared), client(&shared));

        let (reply, parked_writer) = turn(&shared, &mut writer, "SET x 1");
        assert_eq!(reply, Reply::ok());
        let (reply, parked_reader) = turn(&shared, &mut reader, "GET x");
        assert_eq!(reply, Reply::Bulk(Bytes::from_static(b"1")), "read through the group's overlay");

        storage::fail_next_write();
        let (replies, error) = settle(parked_writer).expect("the write it acknowledged failed");
        assert_eq!((replies.output_mark, replies.count), (0, 1));
        assert!(error.to_string().contains("injected write failure"), "{error}");
        let (replies, _) = settle(parked_reader).expect("it read a write that failed");
        assert_eq!(replies.count, 1);
        assert_eq!(locks::parked_count(), 0, "a failed landing lets its stripes go too");

        // Nothing was written; the thread defers and lands as before.
        assert_eq!(execute_alone(&shared, &mut later, args("GET x")), Reply::Null);
        let (_, parked) = turn(&shared, &mut later, "SET x 2");
        assert!(settle(parked).is_none());
        assert_eq!(execute_alone(&shared, &mut later, args("GET x")), Reply::Bulk(Bytes::from_static(b"2")));
        close(dir, shared);
    }

    #[test]
    fn a_group_that_ran_while_a_handed_off_one_failed_to_land_fails_with_it() {
        let (dir, shared) = open("failed-flight");
        let (mut writer, mut reader, mut later) = (client(&shared), client(&shared), client(&shared));
        let lines: Vec<String> = (0..MIN_HANDED_OFF_COMMANDS).map(|i| format!("SET k{i} {i}")).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();

        let (_, parked_writer) = turn_of(&shared, &mut writer, &lines);
        storage::fail_next_write();
        // What the first connection back does with a group this large; its landing fails.
        shared.storage.hand_off_deferred();
        assert_eq!(deferred::in_flight(), 1);
        // The next group reads the one in flight, and writes what it read.
        let mut session = WriteSession::begin(&shared);
        let mut failed_replies = 0;
        for (mark, (line, read)) in
            [("GET k1", Reply::Bulk(Bytes::from_static(b"1"))), ("INCR k1", Reply::Integer(2))].into_iter().enumerate()
        {
            assert_eq!(execute(&shared, &mut reader, &mut args(line), &mut session), read, "read in flight");
            // The lander may have failed the first group already: the replies that read it
            // fail now, or else when the connection settles.
            failed_replies += session.take_failure().map_or(0, |(replies, _)| replies.count);
            session.replied(mark);
        }
        let parked_reader = session.park();

        let (replies, error) = settle(parked_writer).expect("its landing failed");
        assert_eq!((replies.output_mark, replies.count), (0, MIN_HANDED_OFF_COMMANDS));
        assert!(error.to_string().contains("injected write failure"), "{error}");
        if let Some((replies, error)) = settle(parked_reader) {
            assert!(error.to_string().contains("injected write failure"), "{error}");
            failed_replies += replies.count;
        }
        assert_eq!(failed_replies, 2, "it read and wrote on a failed landing");
        assert_eq!(locks::parked_count(), 0);
        assert_eq!(deferred::in_flight(), 0);

        assert_eq!(execute_alone(&shared, &mut later, args("GET k1")), Reply::Null, "neither group landed");
        assert_eq!(execute_alone(&shared, &mut later, args("INCR k1")), Reply::Integer(1), "the thread goes on");
        storage::stop_landing();
        close(dir, shared);
    }

    #[test]
    fn writes_whose_replies_are_off_land_without_another_connection_coming_by() {
        let (dir, shared) = open("replies-off");
        let (mut writer, mut reader) = (client(&shared), client(&shared));
        let mut session = WriteSession::begin(&shared);
        // CLIENT REPLY OFF: the connection encodes no reply, so counts none.
        assert_eq!(execute(&shared, &mut writer, &mut args("SET x 1"), &mut session), Reply::ok());
        let parked = session.park();
        assert!(parked.must_wait(), "its write must land before the connection reads again");
        assert!(settle(parked).is_none());
        assert_eq!(locks::parked_count(), 0, "x's stripe is free for other threads");
        assert!(!deferred::has_pending());
        let other_thread = std::thread::scope(|scope| {
            scope.spawn(|| execute_alone(&shared, &mut reader, args("GET x"))).join().unwrap()
        });
        assert_eq!(other_thread, Reply::Bulk(Bytes::from_static(b"1")));
        close(dir, shared);
    }

    #[test]
    fn a_transaction_whose_writes_fail_to_land_under_an_iterator_answers_with_the_error() {
        let (dir, shared) = open("failed-exec");
        let mut client = client(&shared);
        let mut run = |line: &str| execute_alone(&shared, &mut client, args(line));
        let queued = || Reply::Simple(Bytes::from_static(b"QUEUED"));

        assert_eq!(run("MULTI"), Reply::ok());
        for line in ["SET t 1", "KEYS *", "SET u 2"] {
            assert_eq!(run(line), queued(), "{line}");
        }
        // KEYS makes the transaction's SET land before it walks; that landing fails.
        storage::fail_next_write();
        match run("EXEC") {
            Reply::Error(text) => assert!(String::from_utf8_lossy(&text).contains("injected write failure")),
            other => panic!("EXEC answered {other:?}"),
        }
        assert_eq!(run("GET t"), Reply::Null, "the failed landing wrote nothing");
        assert_eq!(run("MULTI"), Reply::ok());
        assert_eq!(run("SET t 3"), queued());
        assert_eq!(run("KEYS *"), queued());
        assert!(matches!(run("EXEC"), Reply::Array(_)), "the next transaction starts afresh");
        assert_eq!(run("GET t"), Reply::Bulk(Bytes::from_static(b"3")));
        close(dir, shared);
    }
}
