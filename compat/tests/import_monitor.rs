//! A MONITOR capture of a real session (taken with `redis-cli MONITOR`, binary values and
//! `SELECT 3` included) imports into a script that replays cleanly on two real Redis.

mod common;
use common::*;

use redrock_compat::client::Conn;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn session() -> Vec<Vec<Vec<u8>>> {
    let c = |parts: &[&[u8]]| parts.iter().map(|p| p.to_vec()).collect::<Vec<_>>();
    vec![
        c(&[b"SET", b"plain", b"value"]),
        c(&[b"SET", b"bin\x00key", b"\x00\x01\xff\r\n\"quoted\" \\ end"]),
        c(&[b"GET", b"bin\x00key"]),
        c(&[b"APPEND", b"plain", b" more"]),
        c(&[b"INCRBY", b"counter", b"41"]),
        c(&[b"INCR", b"counter"]),
        c(&[b"RPUSH", b"list", b"a", b"b", b"c"]),
        c(&[b"LRANGE", b"list", b"0", b"-1"]),
        c(&[b"HSET", b"hash", b"f1", b"v1", b"f2", b"v2"]),
        c(&[b"HGETALL", b"hash"]),
        c(&[b"SADD", b"set", b"x", b"y", b"z"]),
        c(&[b"SMEMBERS", b"set"]),
        c(&[b"SELECT", b"3"]),
        c(&[b"SET", b"in-db-3", b"three"]),
        c(&[b"GET", b"plain"]),
        c(&[b"KEYS", b"*"]),
        c(&[b"SELECT", b"0"]),
        c(&[b"GET", b"in-db-3"]),
        c(&[b"MULTI"]),
        c(&[b"INCR", b"counter"]),
        c(&[b"GET", b"counter"]),
        c(&[b"EXEC"]),
        c(&[b"GET", b"nosuchkey"]),
        c(&[b"INCR", b"plain"]),
        c(&[b"ECHO", b"end-of-capture"]),
    ]
}

#[test]
fn monitor_capture_replays_cleanly_on_two_real_redis() {
    let source = redis();
    let tmp = TempDir::new("redrock-compat-monitor").unwrap();
    let capture = tmp.path().join("monitor.txt");
    let mut monitor = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &source.port.to_string(), "MONITOR"])
        .stdout(std::fs::File::create(&capture).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-cli (redis-tools) is installed");
    // Wait until MONITOR is attached: redis-cli prints OK.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&capture).unwrap_or_default().is_empty() {
        assert!(Instant::now() < deadline, "redis-cli MONITOR did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut conn = Conn::connect(&source.endpoint(), Duration::from_secs(5)).unwrap();
    for cmd in session() {
        conn.call(&cmd).unwrap();
    }
    while !std::fs::read_to_string(&capture).unwrap_or_default().contains("end-of-capture") {
        assert!(Instant::now() < deadline, "capture incomplete");
        std::thread::sleep(Duration::from_millis(20));
    }
    monitor.kill().unwrap();
    monitor.wait().unwrap();

    let script = tmp.path().join("imported/session.redis");
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    let run = cli(&["import", "--monitor", capture.to_str().unwrap(), "-o", script.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.show());
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text.contains("SET \"bin\\x00key\" \"\\x00\\x01\\xff\\r\\n\\\"quoted\\\" \\\\ end\""), "{text}");
    assert!(text.contains("SELECT 3\nSET in-db-3 three\n"), "{text}");
    let commands = text.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(commands, session().len(), "{text}");

    let (a, b) = (redis(), redis());
    let run = cli(&[
        "diff",
        "--reference",
        &a.url(),
        "--target",
        &b.url(),
        "--divergences",
        "/dev/null",
        // Fresh servers; without the final FLUSHALL the replayed data stays to be inspected.
        "--no-flush",
        script.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(run.stdout.contains("1 passed"), "{}", run.show());

    // And the replay did the same thing as the captured session: same data in db 3.
    let mut check = Conn::connect(&a.endpoint(), Duration::from_secs(5)).unwrap();
    check.call(&[b"SELECT".to_vec(), b"3".to_vec()]).unwrap();
    let got = check.call(&[b"GET".to_vec(), b"in-db-3".to_vec()]).unwrap();
    assert_eq!(got, redrock_compat::resp::Reply::Bulk(b"three".to_vec()));
}
