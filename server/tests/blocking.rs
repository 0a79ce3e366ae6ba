//! Blocking list commands against a running redrock-server: arrival order, disconnections
//! leaving nothing behind, pipelined requests after a blocked one, and no element lost or
//! served twice when many clients push and pop concurrently.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{scratch, words, Conn, Server};

/// Time for the server to take a request sent on another connection (it has no reply yet
/// to wait for when the request blocks).
const SETTLE: Duration = Duration::from_millis(300);

fn bulk(text: &str) -> Vec<u8> {
    format!("${}\r\n{text}\r\n", text.len()).into_bytes()
}

fn pair(key: &str, value: &str) -> Vec<u8> {
    let mut out = b"*2\r\n".to_vec();
    out.extend(bulk(key));
    out.extend(bulk(value));
    out
}

/// The last bulk string of a reply (the element of `[key, element]` or of a bulk).
fn last_bulk(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply);
    text.split("\r\n").filter(|part| !part.is_empty()).last().unwrap_or_default().to_string()
}

fn block(server: &Server, command: &str) -> Conn {
    let mut conn = server.connect();
    conn.send(&words(command));
    std::thread::sleep(SETTLE);
    conn
}

#[test]
fn blocked_clients_are_served_in_arrival_order() {
    let dir = scratch("blocking-order");
    let server = Server::redrock(dir.path(), &[]);
    let mut waiting: Vec<Conn> = (0..5).map(|_| block(&server, "BLPOP q 0")).collect();
    let mut pusher = server.connect();
    assert_eq!(pusher.call(&words("RPUSH q 0 1 2")), b":3\r\n");
    for (i, conn) in waiting.iter_mut().take(3).enumerate() {
        assert_eq!(conn.read_reply().unwrap(), pair("q", &i.to_string()), "client {i}");
    }
    // The last two still wait, in order.
    assert_eq!(pusher.call(&words("LLEN q")), b":0\r\n");
    assert_eq!(pusher.call(&words("RPUSH q 3")), b":1\r\n");
    assert_eq!(waiting[3].read_reply().unwrap(), pair("q", "3"));
    assert_eq!(pusher.call(&words("RPUSH q 4")), b":1\r\n");
    assert_eq!(waiting[4].read_reply().unwrap(), pair("q", "4"));
}

#[test]
fn a_disconnected_blocked_client_leaves_nothing_behind() {
    let dir = scratch("blocking-disconnect");
    let server = Server::redrock(dir.path(), &[]);
    let gone = block(&server, "BLPOP k 0");
    let mut next = block(&server, "BRPOPLPUSH k dst 0");
    drop(gone);
    std::thread::sleep(SETTLE);
    let mut pusher = server.connect();
    assert_eq!(pusher.call(&words("RPUSH k v")), b":1\r\n");
    // The element went to the client still connected, not to the one that left.
    assert_eq!(next.read_reply().unwrap(), bulk("v"));
    assert_eq!(pusher.call(&words("LRANGE dst 0 -1")), b"*1\r\n$1\r\nv\r\n");
    // Nobody waits any more: a new element stays in the list.
    drop(next);
    std::thread::sleep(SETTLE);
    assert_eq!(pusher.call(&words("RPUSH k w")), b":1\r\n");
    assert_eq!(pusher.call(&words("LRANGE k 0 -1")), b"*1\r\n$1\r\nw\r\n");
}

#[test]
fn requests_pipelined_after_a_blocking_one_wait_for_it() {
    let dir = scratch("blocking-pipeline");
    let server = Server::redrock(dir.path(), &[]);
    let mut conn = server.connect();
    conn.send_raw(b"PING\r\nBLPOP k 0\r\nECHO after\r\n");
    assert_eq!(conn.read_reply().unwrap(), b"+PONG\r\n");
    std::thread::sleep(SETTLE);
    let mut pusher = server.connect();
    assert_eq!(pusher.call(&words("LPUSH k v")), b":1\r\n");
    assert_eq!(conn.read_reply().unwrap(), pair("k", "v"));
    assert_eq!(conn.read_reply().unwrap(), bulk("after"));
    // After a timeout the connection goes on normally.
    assert_eq!(conn.call(&words("BLPOP k 0.05")), b"*-1\r\n");
    assert_eq!(conn.call(&words("PING")), b"+PONG\r\n");
}

/// Redis's "Unblock fairness is kept while pipelining": a push pipelined with a blocking pop
/// serves the client that was already waiting, then the pipelined pop waits its turn.
#[test]
fn a_pipelined_push_serves_earlier_waiters_before_its_own_pop() {
    let dir = scratch("blocking-fairness");
    let server = Server::redrock(dir.path(), &[]);
    let mut first = block(&server, "BLPOP mylist 0");
    let mut second = server.connect();
    second
        .send_raw(b"*3\r\n$5\r\nLPUSH\r\n$6\r\nmylist\r\n$1\r\na\r\n*3\r\n$5\r\nBLPOP\r\n$6\r\nmylist\r\n$1\r\n0\r\n");
    assert_eq!(first.read_reply().unwrap(), pair("mylist", "a"));
    assert_eq!(second.read_reply().unwrap(), b":1\r\n");
    std::thread::sleep(SETTLE);
    let mut pusher = server.connect();
    assert_eq!(pusher.call(&words("LPUSH mylist 1")), b":1\r\n");
    assert_eq!(second.read_reply().unwrap(), pair("mylist", "1"));
}

/// Redis's "Regression for bug 593": a client with two pipelined BRPOPLPUSH, chained with
/// another blocked client, then everybody leaves; the server goes on.
#[test]
fn chained_pipelined_moves_then_disconnections() {
    let dir = scratch("blocking-chain");
    let server = Server::redrock(dir.path(), &[]);
    let mut first = server.connect();
    first.send_raw(b"BRPOPLPUSH a b 0\r\nBRPOPLPUSH a b 0\r\n");
    let second = block(&server, "BRPOPLPUSH b c 0");
    let mut pusher = server.connect();
    assert_eq!(pusher.call(&words("LPUSH a data")), b":1\r\n");
    assert_eq!(first.read_reply().unwrap(), bulk("data"));
    assert_eq!(pusher.call(&words("LRANGE c 0 -1")), b"*1\r\n$4\r\ndata\r\n");
    drop((first, second));
    std::thread::sleep(SETTLE);
    assert_eq!(pusher.call(&words("PING")), b"+PONG\r\n");
    assert_eq!(pusher.call(&words("LPUSH a more")), b":1\r\n");
    assert_eq!(pusher.call(&words("LLEN a")), b":1\r\n");
}

#[test]
fn concurrent_pushes_and_blocking_pops_lose_and_duplicate_nothing() {
    const CONSUMERS: usize = 4;
    const PRODUCERS: usize = 3;
    const PER_PRODUCER: usize = 200;
    let dir = scratch("blocking-concurrency");
    let server = Server::redrock(dir.path(), &[]);
    let port = server.port;
    let total = PRODUCERS * PER_PRODUCER;
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            std::thread::spawn(move || {
                let mut conn = Conn::new(port);
                let mut got = Vec::new();
                loop {
                    // Half the consumers move through a second list, to exercise BLMOVE too.
                    let reply = if c % 2 == 0 {
                        conn.call(&words("BLPOP jobs 1"))
                    } else {
                        let moved = conn.call(&words("BLMOVE jobs done RIGHT LEFT 1"));
                        if moved != b"*-1\r\n" {
                            conn.call(&words("LPOP done"));
                        }
                        moved
                    };
                    if reply == b"*-1\r\n" {
                        return got;
                    }
                    got.push(last_bulk(&reply));
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            std::thread::spawn(move || {
                let mut conn = Conn::new(port);
                for i in 0..PER_PRODUCER {
                    let item = format!("{p}:{i}");
                    let command: [&[u8]; 3] = [if i % 2 == 0 { b"LPUSH" } else { b"RPUSH" }, b"jobs", item.as_bytes()];
                    conn.call(&command);
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let received: Vec<String> = consumers.into_iter().flat_map(|c| c.join().unwrap()).collect();
    let unique: HashSet<&String> = received.iter().collect();
    let mut check = Conn::new(port);
    let left = check.call(&words("LLEN jobs"));
    let left: usize = std::str::from_utf8(&left[1..left.len() - 2]).unwrap().parse().unwrap();
    assert_eq!(unique.len(), received.len(), "an element was served twice");
    assert_eq!(received.len() + left, total, "an element was lost");
    assert_eq!(check.call(&words("LLEN done")), b":0\r\n");
}
