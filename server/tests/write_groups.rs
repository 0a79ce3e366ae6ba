//! A worker thread's connections share one RocksDB write per turn of its event loop
//! (write_session.rs): each parks its session's writes, with their key locks, and the first
//! to come back after the yield lands the writes of all of them, or hands a large group to
//! the thread's lander. These tests play connections of one thread by hand, and another
//! thread's client against them.

mod common;

use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::Bytes;
use redrock::client::ClientState;
use redrock::config::Config;
use redrock::dispatch::{execute, execute_alone};
use redrock::error::Error;
use redrock::locks;
use redrock::shared::Shared;
use redrock::storage::deferred;
use redrock::storage::{self, Storage, StorageOptions};
use redrock::write_session::{DeferredReplies, Parked, WriteSession, MIN_HANDED_OFF_COMMANDS};
use redrock_protocol::Reply;

use common::{scratch, TempDir};

fn open(dir: &TempDir) -> Arc<Shared> {
    let storage = Storage::open(dir.path(), &StorageOptions::default()).expect("open storage");
    Arc::new(Shared::new(storage, Config::default()).expect("shared state"))
}

fn client(shared: &Shared) -> ClientState {
    ClientState::new(shared.clients.register("127.0.0.1:1".into(), "127.0.0.1:2".into()), true)
}

fn args(line: &str) -> Vec<Bytes> {
    line.split(' ').map(|word| Bytes::copy_from_slice(word.as_bytes())).collect()
}

/// One connection's turn: runs `lines` in a session and parks it, as connection.rs does
/// before it yields.
fn turn<'s>(shared: &'s Arc<Shared>, client: &mut ClientState, lines: &[&str]) -> (Vec<Reply>, Parked<'s>) {
    let mut session = WriteSession::begin(shared);
    let mut replies = Vec::new();
    for (mark, line) in lines.iter().enumerate() {
        replies.push(execute(shared, client, &mut args(line), &mut session));
        assert!(session.take_failure().is_none());
        session.replied(mark);
    }
    (replies, session.park())
}

/// A client of another thread, running one command.
struct Elsewhere {
    replies: mpsc::Receiver<Reply>,
    thread: std::thread::JoinHandle<()>,
}

/// `line` run by a client of another thread.
fn elsewhere(shared: &Arc<Shared>, line: &'static str) -> Elsewhere {
    let (sender, replies) = mpsc::channel();
    let shared = shared.clone();
    let thread = std::thread::spawn(move || {
        let mut client = client(&shared);
        sender.send(execute_alone(&shared, &mut client, args(line))).unwrap();
    });
    Elsewhere { replies, thread }
}

impl Elsewhere {
    /// Whether it is still waiting after `ms` milliseconds.
    fn waits(&self, ms: u64) -> bool {
        self.replies.recv_timeout(Duration::from_millis(ms)).is_err()
    }

    /// Its reply, once its thread ended: a thread that used RocksDB must not outlive the test
    /// (see `storage::stop_landing`).
    fn reply(self) -> Reply {
        let reply = self.replies.recv_timeout(Duration::from_secs(10)).expect("a reply");
        self.thread.join().unwrap();
        reply
    }
}

/// Settles `parked` as the connection's task does once its yield returns.
fn settle(parked: Parked<'_>) -> Option<(DeferredReplies, Error)> {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(parked.settle())
}

fn bulk(text: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
}

#[test]
fn the_first_connection_back_lands_the_writes_of_every_connection_of_its_thread() {
    let dir = scratch("write-groups");
    let shared = open(&dir);
    let (mut a, mut b) = (client(&shared), client(&shared));

    let (replies, parked_a) = turn(&shared, &mut a, &["SET x 1"]);
    assert_eq!(replies, [Reply::ok()]);
    assert!(parked_a.must_wait(), "the reply acknowledges a write that has not landed");
    assert!(locks::parked_count() > 0, "x's stripe stays locked until it lands");

    // Another thread's GET takes no lock (it reads one record) and reads x as the database
    // holds it: the write is not acknowledged yet, so that is a read from before it.
    assert_eq!(elsewhere(&shared, "GET x").reply(), Reply::Null);
    // A read under x's lock waits for x until it lands: it can only read 1 after landing.
    let other_get_x = elsewhere(&shared, "MGET x");
    assert!(other_get_x.waits(100), "x is parked");

    // The thread's next connection reads x as written and writes y into the same group.
    let (replies, parked_b) = turn(&shared, &mut b, &["GET x", "SET y 2"]);
    assert_eq!(replies, [bulk("1"), Reply::ok()]);
    assert!(parked_b.must_wait());

    assert!(settle(parked_a).is_none(), "landed");
    assert_eq!(locks::parked_count(), 0, "landing releases every parked stripe");
    assert_eq!(other_get_x.reply(), Reply::Array(vec![bulk("1")]));
    // A's landing carried B's write: another thread reads it before B settles.
    assert_eq!(elsewhere(&shared, "GET y").reply(), bulk("2"));
    assert!(settle(parked_b).is_none(), "found landed");
}

#[test]
fn a_connection_that_ends_without_replying_still_lands_its_writes() {
    let dir = scratch("write-groups-drop");
    let shared = open(&dir);
    let mut a = client(&shared);
    let (_, parked) = turn(&shared, &mut a, &["RPUSH l a b"]);
    drop(parked);
    assert_eq!(locks::parked_count(), 0);
    assert_eq!(elsewhere(&shared, "LLEN l").reply(), Reply::Integer(2));
}

#[test]
fn a_session_with_nothing_pending_leaves_nothing_parked() {
    let dir = scratch("write-groups-reads");
    let shared = open(&dir);
    let mut a = client(&shared);
    let (replies, parked) = turn(&shared, &mut a, &["GET nothing", "EXISTS nothing"]);
    assert_eq!(replies, [Reply::Null, Reply::Integer(0)]);
    assert!(!parked.must_wait());
    assert_eq!(locks::parked_count(), 0);
    // Writes outside a session go straight through again (deferring ended).
    let mut b = client(&shared);
    assert_eq!(execute_alone(&shared, &mut b, args("SET k v")), Reply::ok());
    assert_eq!(elsewhere(&shared, "GET k").reply(), bulk("v"));
}

#[test]
fn the_next_group_reads_a_group_in_flight_and_keeps_the_stripes_it_wrote_under() {
    let dir = scratch("write-groups-flight");
    let shared = open(&dir);
    let (mut a, mut b) = (client(&shared), client(&shared));
    let lines: Vec<String> = (0..MIN_HANDED_OFF_COMMANDS).map(|i| format!("SET k{i} {i}")).collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();

    let (replies, parked_a) = turn(&shared, &mut a, &lines);
    assert!(replies.iter().all(|reply| *reply == Reply::ok()));
    // What the first connection back does with a group this large.
    shared.storage.hand_off_deferred();
    assert_eq!(deferred::in_flight(), 1);
    let (replies, parked_b) = turn(&shared, &mut b, &["GET k1", "INCR k1"]);
    assert_eq!(replies, [bulk("1"), Reply::Integer(2)], "the thread reads the group in flight");

    assert!(settle(parked_a).is_none(), "landed");
    assert_eq!(deferred::in_flight(), 0);
    assert!(locks::parked_count() > 0, "k1's stripe waits for b's group too");
    let other_get_k1 = elsewhere(&shared, "MGET k1");
    assert!(other_get_k1.waits(100), "k1 is parked");
    assert!(settle(parked_b).is_none());
    assert_eq!(locks::parked_count(), 0);
    assert_eq!(other_get_k1.reply(), Reply::Array(vec![bulk("2")]));
    let last = format!("k{}", MIN_HANDED_OFF_COMMANDS - 1);
    let expected = bulk(&(MIN_HANDED_OFF_COMMANDS - 1).to_string());
    assert_eq!(execute_alone(&shared, &mut a, vec![Bytes::from_static(b"GET"), Bytes::from(last)]), expected);
    storage::stop_landing();
}
