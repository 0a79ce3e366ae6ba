//! DBSIZE, INFO's keyspace section and KEYS walk the keyspace off the worker thread
//! (offload.rs): while one client's walk runs, the other connections of its worker are
//! served; the client's own pipelined requests wait for the walk, which sees the writes
//! before it; a shutdown during a walk ends cleanly; a walk leaves the block cache as it
//! found it.

mod common;

use std::io::ErrorKind;
use std::time::Duration;

use common::{multibulk, scratch, Conn, Server, TempDir};
use redrock::config::Config;
use redrock::shared::Shared;
use redrock::storage::metadata::encode_string;
use redrock::storage::{Cf, Storage, StorageOptions};

/// Keys loaded: a walk of them takes tens of milliseconds, hundreds of PING round trips.
const KEYS: usize = 400_000;
/// Keys per MSET while loading, and MSETs sent before their replies are read.
const KEYS_PER_MSET: usize = 100;
const MSETS_IN_FLIGHT: usize = 50;
/// PINGs the other connection must have answered while a walk ran. A walk on the worker
/// thread lets it answer none: its PINGs wait for the walk's end.
const MIN_PONGS_DURING_A_WALK: usize = 20;
/// Time for the worker to take the walk's request before the other connection pings.
const SETTLE: Duration = Duration::from_millis(10);

fn load(conn: &mut Conn) {
    let msets = KEYS / KEYS_PER_MSET;
    for first in (0..msets).step_by(MSETS_IN_FLIGHT) {
        let mut out = Vec::new();
        let batch = (first..msets).take(MSETS_IN_FLIGHT);
        for mset in batch.clone() {
            let keys: Vec<Vec<u8>> =
                (0..KEYS_PER_MSET).map(|i| format!("key:{}", mset * KEYS_PER_MSET + i).into_bytes()).collect();
            let mut args: Vec<&[u8]> = vec![b"MSET"];
            for key in &keys {
                args.push(key);
                args.push(b"v");
            }
            multibulk(&mut out, &args);
        }
        conn.send_raw(&out);
        for _ in batch {
            assert_eq!(conn.read_reply().unwrap(), b"+OK\r\n");
        }
    }
}

/// A Redrock with one worker (every connection is its) holding `KEYS` keys, in `tag`'s folder.
fn loaded_server(tag: &str) -> (TempDir, Server) {
    let dir = scratch(tag);
    let server = Server::redrock(dir.path(), &["--workers", "1"]);
    load(&mut server.connect());
    (dir, server)
}

/// Whether a reply (or part of one) has arrived on `conn`, without waiting.
fn has_reply(conn: &mut Conn) -> bool {
    if !conn.buffered().is_empty() {
        return true;
    }
    conn.stream.set_nonblocking(true).unwrap();
    let peeked = conn.stream.peek(&mut [0u8; 1]);
    conn.stream.set_nonblocking(false).unwrap();
    match peeked {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) => panic!("peek failed: {e}"),
    }
}

/// Sends `request` on `walking`, and pings on `other` until its reply arrives: the reply,
/// and how many PINGs were answered meanwhile.
fn pongs_while(walking: &mut Conn, other: &mut Conn, request: &[&[u8]]) -> (Vec<u8>, usize) {
    walking.send(request);
    std::thread::sleep(SETTLE);
    let mut pongs = 0;
    while !has_reply(walking) {
        assert_eq!(other.call(&[b"PING"]), b"+PONG\r\n");
        pongs += 1;
    }
    (walking.read_reply().unwrap(), pongs)
}

#[test]
fn a_walk_leaves_its_worker_to_the_other_connections() {
    let (_dir, server) = loaded_server("keyspace-walks");
    let (mut walking, mut other) = (server.connect(), server.connect());

    let (reply, pongs) = pongs_while(&mut walking, &mut other, &[b"DBSIZE"]);
    assert_eq!(reply, format!(":{KEYS}\r\n").into_bytes());
    assert!(pongs >= MIN_PONGS_DURING_A_WALK, "{pongs} PINGs answered during DBSIZE");

    let keyspace = format!("db0:keys={KEYS},expires=0,avg_ttl=0\r\n");
    for request in [&[&b"INFO"[..]][..], &[b"INFO", b"keyspace"], &[b"INFO", b"server", b"keyspace"]] {
        let (reply, pongs) = pongs_while(&mut walking, &mut other, request);
        let text = String::from_utf8(reply).unwrap();
        assert!(text.ends_with(&format!("# Keyspace\r\n{keyspace}\r\n")), "{request:?}: {text}");
        assert!(pongs >= MIN_PONGS_DURING_A_WALK, "{pongs} PINGs answered during {request:?}");
    }
    // A pattern with no literal prefix walks every key.
    let (reply, pongs) = pongs_while(&mut walking, &mut other, &[b"KEYS", b"*:none"]);
    assert_eq!(reply, b"*0\r\n");
    assert!(pongs >= MIN_PONGS_DURING_A_WALK, "{pongs} PINGs answered during KEYS");

    // INFO without the keyspace section walks nothing.
    let server_only = String::from_utf8(walking.call(&[b"INFO", b"server"])).unwrap();
    assert!(!server_only.contains("Keyspace"), "{server_only}");
}

#[test]
fn pipelined_requests_wait_for_the_walk_which_sees_the_writes_before_it() {
    let (_dir, server) = loaded_server("keyspace-walks-pipelined");
    let mut conn = server.connect();

    let mut out = Vec::new();
    for request in [
        &[&b"SET"[..], b"a", b"1"][..],
        &[b"DBSIZE"],
        &[b"SET", b"b", b"2"],
        &[b"DBSIZE"],
        &[b"KEYS", b"?"],
        &[b"DEL", b"a", b"b"],
        &[b"DBSIZE"],
    ] {
        multibulk(&mut out, request);
    }
    conn.send_raw(&out);
    let replies: Vec<Vec<u8>> = (0..7).map(|_| conn.read_reply().unwrap()).collect();
    let expected = [
        "+OK\r\n".to_string(),
        format!(":{}\r\n", KEYS + 1),
        "+OK\r\n".to_string(),
        format!(":{}\r\n", KEYS + 2),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n".to_string(),
        ":2\r\n".to_string(),
        format!(":{KEYS}\r\n"),
    ];
    assert_eq!(replies, expected.map(String::into_bytes));
}

#[test]
fn a_shutdown_during_a_walk_keeps_the_data() {
    let (dir, server) = loaded_server("keyspace-walks-shutdown");
    let mut conn = server.connect();
    // A walk in progress, and one whose client left: the shutdown waits for neither to end
    // (they stop at their next check), and neither leaves the storage unclean.
    conn.send(&[b"DBSIZE"]);
    {
        let mut leaving = server.connect();
        leaving.send(&[b"DBSIZE"]);
    }
    std::thread::sleep(SETTLE);
    assert!(server.signal_and_wait("TERM").success());

    let restarted = Server::redrock(dir.path(), &[]);
    assert_eq!(restarted.connect().call(&[b"DBSIZE"]), format!(":{KEYS}\r\n").into_bytes());
}

#[test]
fn a_count_leaves_the_block_cache_as_it_found_it() {
    const RECORDS: u64 = 100_000;
    const VALUE_BYTES: usize = 100;
    let dir = scratch("keyspace-walks-block-cache");
    // No record caches: the keys' blocks are what there is to cache.
    let options = StorageOptions { record_cache_bytes: 0, sub_key_cache_bytes: 0, ..StorageOptions::default() };
    let shared = Shared::new(Storage::open(dir.path(), &options).unwrap(), Config::default()).unwrap();
    let db = shared.db(b"", 0);
    let value = [b'v'; VALUE_BYTES];
    for first in (0..RECORDS).step_by(1000) {
        let mut batch = shared.storage.batch();
        for i in first..first + 1000 {
            batch.put(Cf::Metadata, db.meta_key(format!("key:{i}").as_bytes()), encode_string(0, &value));
        }
        shared.storage.write(batch).unwrap();
    }
    // Into SST files, whose blocks a walk reads through the block cache.
    shared.storage.compact_all();

    let before = shared.storage.block_cache_usage_bytes();
    assert_eq!(db.count_keys(|| true).unwrap(), Some((RECORDS, 0)));
    let after_count = shared.storage.block_cache_usage_bytes();
    // SCAN's walk keeps its blocks: what the count would have added.
    db.for_each_record_with_prefix(b"", b"", |_, _, _| true).unwrap();
    let after_cached_walk = shared.storage.block_cache_usage_bytes();
    let blocks = after_cached_walk - after_count;
    assert!(blocks as usize > RECORDS as usize * VALUE_BYTES / 2, "a cached walk kept only {blocks} bytes");
    assert!(
        after_count - before < blocks / 100,
        "the count kept {} bytes in the block cache, a cached walk {blocks}",
        after_count - before
    );
}
