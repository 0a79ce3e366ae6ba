//! Pipelined reads run in one write session (write_session.rs): their writes are joined into
//! one RocksDB write. What a client can see must not change: each command reads what the
//! commands before it wrote (in the same read too), replies are Redis's, concurrent clients
//! lose no update, and everything acknowledged survives a kill -9.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{multibulk, scratch, Conn, Server};

/// Sends `commands` (inline, one per line) in one write and reads every reply.
fn pipeline(port: u16, commands: &[&str]) -> Vec<Vec<u8>> {
    let mut conn = Conn::new(port);
    let mut bytes = Vec::new();
    for command in commands {
        bytes.extend_from_slice(command.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    conn.send_raw(&bytes);
    commands.iter().map(|c| conn.read_reply().unwrap_or_else(|| panic!("no reply to {c}"))).collect()
}

/// An integer reply's value, or a bulk reply's as a number (absent: 0).
fn number(reply: &[u8]) -> i64 {
    let text = std::str::from_utf8(reply).unwrap();
    match text.as_bytes()[0] {
        b':' => text[1..text.len() - 2].parse().unwrap(),
        _ if text == "$-1\r\n" => 0,
        _ => text.split("\r\n").nth(1).unwrap().parse().unwrap(),
    }
}

/// Reads of keys written earlier in the same read, keyless commands between writes, a write
/// on a key another command of the read holds, blocking commands served within the read.
const SAME_READ: &[&str] = &[
    "SET a 1",
    "INCR a",
    "APPEND a 0",
    "GET a",
    "SET b x",
    "DBSIZE",
    "RPUSH l 1 2 3",
    "LPOP l",
    "LRANGE l 0 -1",
    "HSET h f 1 g 2",
    "HINCRBY h f 10",
    "HGETALL h",
    "SADD s m n",
    "SMOVE s t m",
    "SMEMBERS t",
    "ZADD z 1 a 2 b",
    "ZINCRBY z 5 a",
    "ZRANGE z 0 -1 WITHSCORES",
    "RENAME b c",
    "EXISTS b c",
    "KEYS *",
    "DEL a c l",
    "MSET m1 1 m2 2",
    "MGET m1 m2 a",
    "BLPOP nothing-here 0.01",
    "RPUSH q x",
    "BLMOVE q q2 LEFT RIGHT 0",
    "LRANGE q2 0 -1",
    "MULTI",
    "INCR counter",
    "INCR counter",
    "EXEC",
    "GET counter",
    "FLUSHALL",
    "DBSIZE",
];

#[test]
fn a_pipelined_read_answers_as_redis_does() {
    let (redis_dir, redrock_dir) = (scratch("pipe-redis"), scratch("pipe-redrock"));
    let redis = Server::redis(redis_dir.path(), &[]);
    let redrock = Server::redrock(redrock_dir.path(), &[]);
    let expected = pipeline(redis.port, SAME_READ);
    let actual = pipeline(redrock.port, SAME_READ);
    for ((command, e), a) in SAME_READ.iter().zip(&expected).zip(&actual) {
        // KEYS and HGETALL of more than one element have no order to compare.
        if command.starts_with("KEYS") || command.starts_with("HGETALL") {
            assert_eq!(
                e.len(),
                a.len(),
                "{command}: {:?} vs {:?}",
                String::from_utf8_lossy(e),
                String::from_utf8_lossy(a)
            );
            continue;
        }
        assert_eq!(String::from_utf8_lossy(e), String::from_utf8_lossy(a), "{command}");
    }
}

#[test]
fn concurrent_pipelines_lose_no_update() {
    concurrent_clients(&[], 30);
}

/// Pipelines longer than a write group (write_session.rs's `MAX_DEFERRED_COMMANDS`): the
/// thread hands groups to its lander mid-pipeline and reads them in flight.
#[test]
fn concurrent_long_pipelines_lose_no_update() {
    concurrent_clients(&[], 600);
}

/// The same on two worker threads, each with its lander.
#[test]
fn concurrent_long_pipelines_on_two_workers_lose_no_update_and_read_forward() {
    concurrent_clients(&["--workers", "2"], 600);
}

/// The same on four worker threads: sessions, key locks and the record cache
/// (storage/record_cache.rs) under real parallelism, where one worker interleaves them only.
#[test]
fn concurrent_pipelines_on_four_workers_lose_no_update_and_read_forward() {
    concurrent_clients(&["--workers", "4"], 30);
}

/// Clients sending one request at a time, on two workers: each worker's write group joins
/// the requests of its connections (write_session.rs), parking their stripes, while the
/// other worker waits for the hot keys' stripes or lands its own group to take them.
#[test]
fn concurrent_single_requests_on_two_workers_lose_no_update_and_read_forward() {
    concurrent_clients(&["--workers", "2"], 1);
}

/// Clients sending `per_read` commands per read, updating shared and own keys, and reading a
/// shared counter: no update is lost, and each client sees the counter only go up (a stale
/// cached record would show it going back).
fn concurrent_clients(args: &[&str], per_read: usize) {
    const CLIENTS: usize = 6;
    /// Commands per client: the six kinds below in turn.
    const PER_CLIENT: usize = 1200;
    const KINDS: usize = 6;
    let dir = scratch("pipe-concurrent");
    let server = Server::redrock(dir.path(), args);
    let port = server.port;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            std::thread::spawn(move || {
                let mut conn = Conn::new(port);
                let mut counter_seen = 0;
                for round in 0..PER_CLIENT / per_read {
                    // Each read mixes hot shared keys with the client's own: the session commits
                    // on overlap and waits for stripes other sessions hold.
                    let mut bytes = Vec::new();
                    let mut kinds = Vec::new();
                    for i in 0..per_read {
                        let n = round * per_read + i;
                        let own = format!("own:{c}:{}", n % 7);
                        let line = match n % KINDS {
                            0 => "INCR shared-counter".to_string(),
                            1 => "HINCRBY shared-hash f 1".to_string(),
                            2 => format!("RPUSH shared-list {c}"),
                            3 => format!("INCR {own}"),
                            4 => "ZINCRBY shared-zset 1 m".to_string(),
                            _ => "GET shared-counter".to_string(),
                        };
                        bytes.extend_from_slice(line.as_bytes());
                        bytes.extend_from_slice(b"\r\n");
                        kinds.push(n % KINDS);
                    }
                    conn.send_raw(&bytes);
                    for kind in kinds {
                        let reply = conn.read_reply().expect("reply");
                        assert!(!reply.starts_with(b"-"), "{}", String::from_utf8_lossy(&reply));
                        if kind == 0 || kind == KINDS - 1 {
                            let value = number(&reply);
                            assert!(
                                value >= counter_seen,
                                "client {c} saw the counter go from {counter_seen} to {value}"
                            );
                            counter_seen = value;
                        }
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let each = (CLIENTS * PER_CLIENT / KINDS) as i64;
    let mut check = server.connect();
    assert_eq!(number(&check.call(&[b"GET", b"shared-counter"])), each);
    assert_eq!(number(&check.call(&[b"HGET", b"shared-hash", b"f"])), each);
    assert_eq!(number(&check.call(&[b"LLEN", b"shared-list"])), each);
    assert_eq!(number(&check.call(&[b"ZSCORE", b"shared-zset", b"m"])), each);
    let own_total: i64 = (0..CLIENTS)
        .flat_map(|c| (0..7).map(move |k| format!("own:{c}:{k}")))
        .map(|key| number(&check.call(&[b"GET", key.as_bytes()])))
        .sum();
    assert_eq!(own_total, each);
}

#[test]
fn a_pipeline_acknowledged_before_a_kill_9_is_all_there() {
    let dir = scratch("pipe-kill");
    let server = Server::redrock(dir.path(), &[]);
    let mut conn = server.connect();
    let mut bytes = Vec::new();
    for i in 0..2000 {
        bytes.extend_from_slice(format!("SET key:{i} value:{i}\r\nRPUSH list {i}\r\n").as_bytes());
    }
    conn.send_raw(&bytes);
    // Every reply read: every write acknowledged.
    let mut replies = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while replies < 4000 && Instant::now() < deadline {
        conn.read_reply().expect("reply");
        replies += 1;
    }
    assert_eq!(replies, 4000);
    let mut rest = [0u8; 16];
    conn.stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    assert!(conn.stream.read(&mut rest).is_err(), "nothing more was sent");
    server.signal_and_wait("KILL");
    let restarted = Server::redrock(dir.path(), &[]);
    let mut conn = restarted.connect();
    assert_eq!(conn.call(&[b"LLEN", b"list"]), b":2000\r\n");
    assert_eq!(conn.call(&[b"DBSIZE"]), b":2001\r\n");
    assert_eq!(conn.call(&[b"GET", b"key:1999"]), b"$10\r\nvalue:1999\r\n");
}

/// A pipeline of 1 KB values nearly three times the largest read (read_size.rs): each turn
/// gathers what fits, ends on a partial request, and runs what it holds; every request runs
/// once and in order, and the input counted in INFO is every byte sent.
#[test]
fn a_pipeline_longer_than_the_largest_read_runs_once_and_in_order() {
    let dir = scratch("pipe-long");
    let server = Server::redrock(dir.path(), &[]);
    let mut conn = server.connect();
    let value = vec![b'v'; 1000];
    let mut bytes = Vec::new();
    for i in 0..700 {
        multibulk(&mut bytes, &[b"SET", format!("key:{}", i % 7).as_bytes(), &value]);
        multibulk(&mut bytes, &[b"APPEND", b"log", format!("{i},").as_bytes()]);
    }
    let before = input_bytes(&mut conn);
    conn.send_raw(&bytes);
    let mut log = String::new();
    for i in 0..700 {
        assert_eq!(conn.read_reply().expect("SET reply"), b"+OK\r\n");
        log.push_str(&format!("{i},"));
        assert_eq!(number(&conn.read_reply().expect("APPEND reply")), log.len() as i64);
    }
    // Idle past `IDLE_BEFORE_RELEASE` right after the pipeline, the connection gives its grown
    // buffer back and goes on: a request split over two reads, the first right after.
    std::thread::sleep(redrock::read_size::IDLE_BEFORE_RELEASE + Duration::from_millis(300));
    conn.send_raw(b"*2\r\n$3\r\nGET\r\n$3\r\nlog");
    std::thread::sleep(Duration::from_millis(50));
    conn.send_raw(b"\r\n");
    assert_eq!(conn.read_reply().expect("GET reply"), format!("${}\r\n{log}\r\n", log.len()).into_bytes());
    assert_eq!(conn.call(&[b"GET", b"log"]), format!("${}\r\n{log}\r\n", log.len()).into_bytes());
    let info_request = {
        let mut out = Vec::new();
        multibulk(&mut out, &[b"GET", b"log"]);
        multibulk(&mut out, &[b"GET", b"log"]);
        multibulk(&mut out, &[b"INFO", b"stats"]);
        out.len() as u64
    };
    assert_eq!(input_bytes(&mut conn) - before, bytes.len() as u64 + info_request);
}

/// INFO's `total_net_input_bytes`.
fn input_bytes(conn: &mut Conn) -> u64 {
    let info = String::from_utf8(conn.call(&[b"INFO", b"stats"])).unwrap();
    let line = info.lines().find(|l| l.starts_with("total_net_input_bytes:")).expect("total_net_input_bytes");
    line["total_net_input_bytes:".len()..].parse().unwrap()
}

/// A write whose reply is off still lands at once: its key's stripe stays locked until it
/// does, and a client of the other worker waits on it (it waited until the writer's worker
/// next ran a command).
#[test]
fn a_write_with_replies_off_lands_for_a_client_of_another_worker() {
    let dir = scratch("pipe-reply-off");
    let server = Server::redrock(dir.path(), &["--workers", "2"]);
    // Connections go to the workers in turn: these two are on different ones.
    let mut writer = server.connect();
    let mut reader = server.connect();
    writer.send_raw(b"CLIENT REPLY OFF\r\nSET x 1\r\n");
    reader.stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        reader.send_raw(b"GET x\r\n");
        let reply = reader.read_reply_or_none().expect("the reader was answered");
        if reply == b"$1\r\n1\r\n" {
            break;
        }
        assert_eq!(reply, b"$-1\r\n", "before the SET ran");
        assert!(Instant::now() < deadline, "the write never landed");
        std::thread::sleep(Duration::from_millis(10));
    }
}
