//! AOF import from a real Redis 7 multi-part `appendonlydir`: the imported script rebuilds
//! the same dataset (compared with `DEBUG DIGEST`) and replays cleanly on two real Redis.

mod common;
use common::*;

use redrock_compat::client::Conn;
use redrock_compat::resp::Reply;
use std::time::{Duration, Instant};

fn call(c: &mut Conn, args: &[&[u8]]) -> Reply {
    c.call(&args.iter().map(|a| a.to_vec()).collect::<Vec<_>>()).unwrap()
}

fn digest(ep: &redrock_compat::client::Endpoint) -> Reply {
    let mut c = Conn::connect(ep, Duration::from_secs(5)).unwrap();
    call(&mut c, &[b"DEBUG", b"DIGEST"])
}

fn wait_rewrite(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let Reply::Bulk(info) = call(c, &[b"INFO", b"persistence"]) else { panic!("INFO") };
        let info = String::from_utf8_lossy(&info).into_owned();
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0") {
            return;
        }
        assert!(Instant::now() < deadline, "AOF rewrite did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn workload(c: &mut Conn, round: &[u8]) {
    call(c, &[b"SET", b"plain", round]);
    call(c, &[b"SET", b"bin\x00key", b"\x00\xff\r\n"]);
    call(c, &[b"RPUSH", b"list", round, b"b"]);
    call(c, &[b"HSET", b"hash", round, b"v"]);
    call(c, &[b"SADD", b"set", round]);
    call(c, &[b"ZADD", b"zset", b"1.5", round]);
    call(c, &[b"INCRBYFLOAT", b"float", b"0.1"]);
    call(c, &[b"SELECT", b"3"]);
    call(c, &[b"SET", b"db3", round]);
    call(c, &[b"SELECT", b"0"]);
    call(c, &[b"DEL", b"gone"]);
    call(c, &[b"MULTI"]);
    call(c, &[b"INCR", b"counter"]);
    call(c, &[b"EXEC"]);
}

#[test]
fn multi_part_aof_imports_to_the_same_dataset() {
    let dbg = ["--enable-debug-command", "yes"];
    let source = ServerProcess::redis(&[
        "--appendonly",
        "yes",
        "--appenddirname",
        "appendonlydir",
        "--aof-use-rdb-preamble",
        "no",
        // everysec may postpone the write past the reply; the test reads the files at once.
        "--appendfsync",
        "always",
        "--enable-debug-command",
        "yes",
    ])
    .unwrap();
    let mut c = Conn::connect(&source.endpoint(), Duration::from_secs(5)).unwrap();
    workload(&mut c, b"one");
    // A rewrite makes an AOF base holding data, then more commands go to a new incr file.
    call(&mut c, &[b"BGREWRITEAOF"]);
    wait_rewrite(&mut c);
    workload(&mut c, b"two");
    let aof_dir = source.dir.path().join("appendonlydir");
    let names: Vec<String> =
        std::fs::read_dir(&aof_dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().any(|n| n.ends_with(".base.aof")), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(".manifest")), "{names:?}");

    let tmp = TempDir::new("redrock-compat-aof").unwrap();
    let script = tmp.path().join("aof/imported.redis");
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    let run = cli(&["import", "--aof", aof_dir.to_str().unwrap(), "-o", script.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.show());

    // Replaying the script on a fresh server rebuilds the same data.
    let replica = ServerProcess::redis(&dbg).unwrap();
    let other = redis();
    let run = cli(&[
        "diff",
        "--reference",
        &replica.url(),
        "--target",
        &other.url(),
        "--divergences",
        "/dev/null",
        // Fresh servers; without the final FLUSHALL the replayed data stays to be inspected.
        "--no-flush",
        script.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert_eq!(digest(&replica.endpoint()), digest(&source.endpoint()));
}

#[test]
fn fresh_multi_part_aof_with_empty_rdb_base_imports() {
    // Redis 7 starts appendonly with an RDB-preamble base holding nothing, then an incr file.
    let source = ServerProcess::redis(&[
        "--appendonly",
        "yes",
        "--appenddirname",
        "appendonlydir",
        "--appendfsync",
        "always",
        "--enable-debug-command",
        "yes",
    ])
    .unwrap();
    let mut c = Conn::connect(&source.endpoint(), Duration::from_secs(5)).unwrap();
    workload(&mut c, b"one");
    let aof_dir = source.dir.path().join("appendonlydir");
    let tmp = TempDir::new("redrock-compat-aof").unwrap();
    let script = tmp.path().join("imported.redis");
    let run = cli(&["import", "--aof", aof_dir.to_str().unwrap(), "-o", script.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.show());
    let replica = ServerProcess::redis(&["--enable-debug-command", "yes"]).unwrap();
    let other = redis();
    let run = cli(&[
        "diff",
        "--reference",
        &replica.url(),
        "--target",
        &other.url(),
        "--divergences",
        "/dev/null",
        // Fresh servers; without the final FLUSHALL the replayed data stays to be inspected.
        "--no-flush",
        script.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert_eq!(digest(&replica.endpoint()), digest(&source.endpoint()));

    // An RDB base that holds data cannot become commands: exit 2 with the way out.
    call(&mut c, &[b"BGREWRITEAOF"]);
    wait_rewrite(&mut c);
    let run = cli(&["import", "--aof", aof_dir.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(run.stderr.contains("aof-use-rdb-preamble no"), "{}", run.show());
}
