//! Limits that disconnect clients: `client-output-buffer-limit` (normal class), with its
//! CONFIG syntax as Redis's. (The `max-db-size` decision is unit-tested in quota.rs: a test
//! cannot fill a gigabyte of disk here.)

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{scratch, Server, TempDir};

const VALUE_BYTES: usize = 512 * 1024;

fn server_with_big_value(tag: &str) -> (TempDir, Server) {
    let dir = scratch(tag);
    let server = Server::redrock(dir.path(), &[]);
    let value = vec![b'v'; VALUE_BYTES];
    assert_eq!(server.connect().call(&[b"SET", b"big", &value]), b"+OK\r\n");
    (dir, server)
}

#[test]
fn config_follows_redis_syntax() {
    let dir = scratch("obl-config");
    let server = Server::redrock(dir.path(), &[]);
    let mut conn = server.connect();
    let get = |conn: &mut common::Conn| conn.call(&[b"CONFIG", b"GET", b"client-output-buffer-limit"]);
    let reply = |value: &str| {
        format!("*2\r\n$26\r\nclient-output-buffer-limit\r\n${}\r\n{value}\r\n", value.len()).into_bytes()
    };
    assert_eq!(get(&mut conn), reply("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"));
    assert_eq!(conn.call(&[b"CONFIG", b"SET", b"client-output-buffer-limit", b"normal 1mb 512kb 10"]), b"+OK\r\n");
    assert_eq!(
        get(&mut conn),
        reply("normal 1048576 524288 10 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
    );
    assert_eq!(
        conn.call(&[b"CONFIG", b"SET", b"client-output-buffer-limit", b"normal 1 2"]),
        b"-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration.\r\n"
    );
}

#[test]
fn a_reply_over_the_hard_limit_closes_the_client() {
    let (_dir, server) = server_with_big_value("obl-hard");
    let mut conn = server.connect();
    assert_eq!(conn.call(&[b"CONFIG", b"SET", b"client-output-buffer-limit", b"normal 256kb 0 0"]), b"+OK\r\n");
    assert_eq!(conn.call(&[b"STRLEN", b"big"]), format!(":{VALUE_BYTES}\r\n").as_bytes());
    conn.send(&[b"GET", b"big"]);
    assert!(conn.is_closed(), "a 512 KiB reply over a 256 KiB hard limit closes the client");
    assert!(conn.buffered().is_empty(), "nothing of the reply is sent");
    // Others are served, and small replies are within the limit.
    assert_eq!(server.connect().call(&[b"STRLEN", b"big"]), format!(":{VALUE_BYTES}\r\n").as_bytes());
}

#[test]
fn a_slow_reader_over_the_soft_limit_for_its_seconds_is_closed() {
    let (_dir, server) = server_with_big_value("obl-soft");
    let mut admin = server.connect();
    assert_eq!(admin.call(&[b"CONFIG", b"SET", b"client-output-buffer-limit", b"normal 0 1mb 1"]), b"+OK\r\n");
    // 64 replies of 512 KiB, never read while they pile up: far more than socket buffers hold.
    const REQUESTS: usize = 64;
    let mut slow = server.connect();
    let mut pipeline = Vec::new();
    for _ in 0..REQUESTS {
        pipeline.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
    }
    slow.send_raw(&pipeline);
    std::thread::sleep(Duration::from_secs(3));
    // Drain: the server must have closed the connection before sending every reply.
    let mut received = 0usize;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut chunk = vec![0u8; 1 << 16];
    slow.stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    while Instant::now() < deadline {
        match slow.stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => received += n,
        }
    }
    assert!(received < REQUESTS * VALUE_BYTES, "closed before all replies: got {received} bytes");
    assert_eq!(admin.call(&[b"PING"]), b"+PONG\r\n");
}
