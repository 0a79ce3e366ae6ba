//! SAVE and BGSAVE make checkpoints that `redrock-server --dir` serves as they were.

mod common;

use std::time::{Duration, Instant};

use common::{scratch, Server};

fn checkpoints(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut all: Vec<_> = std::fs::read_dir(dir.join("checkpoints"))
        .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    all.sort();
    all
}

#[test]
fn save_makes_a_checkpoint_a_server_can_start_on() {
    let dir = scratch("save");
    let server = Server::redrock(dir.path(), &[]);
    let mut conn = server.connect();
    assert_eq!(conn.call(&[b"SET", b"kept", b"1"]), b"+OK\r\n");
    assert_eq!(conn.call(&[b"RPUSH", b"list", b"a", b"b"]), b":2\r\n");
    assert_eq!(conn.call(&[b"SAVE"]), b"+OK\r\n");
    assert_eq!(conn.call(&[b"SET", b"later", b"2"]), b"+OK\r\n");
    let saved = checkpoints(dir.path());
    assert_eq!(saved.len(), 1);
    drop(conn);
    drop(server);

    let backup = Server::redrock(&saved[0], &[]);
    let mut conn = backup.connect();
    assert_eq!(conn.call(&[b"GET", b"kept"]), b"$1\r\n1\r\n");
    assert_eq!(conn.call(&[b"LRANGE", b"list", b"0", b"-1"]), b"*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(conn.call(&[b"EXISTS", b"later"]), b":0\r\n");
}

#[test]
fn bgsave_runs_in_the_background_and_refuses_a_second_one_only_while_running() {
    let dir = scratch("bgsave");
    let server = Server::redrock(dir.path(), &[]);
    let mut conn = server.connect();
    assert_eq!(conn.call(&[b"SET", b"k", b"v"]), b"+OK\r\n");
    assert_eq!(conn.call(&[b"BGSAVE"]), b"+Background saving started\r\n");
    let deadline = Instant::now() + Duration::from_secs(30);
    while checkpoints(dir.path()).is_empty() || std::fs::read_dir(dir.path().join("checkpoints")).is_err() {
        assert!(Instant::now() < deadline, "no checkpoint after BGSAVE");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(conn.call(&[b"BGSAVE", b"NOW"]), b"-ERR syntax error\r\n");
    assert_eq!(conn.call(&[b"SAVE", b"x"]), b"-ERR wrong number of arguments for 'save' command\r\n");
}
