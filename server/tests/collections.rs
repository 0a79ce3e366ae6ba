//! Hashes and sets under concurrent clients: multi-key writes are atomic (SMOVE, *STORE),
//! sizes stay exact, SPOP never hands one member to two clients, HINCRBY loses no
//! increment, and HSCAN/SSCAN return every element present for the whole scan while the
//! collection changes.

mod common;

use std::collections::HashSet;
use std::thread;

use common::{scratch, Conn, Server};

/// Members of the sets SMOVE shuffles between.
const MOVED_MEMBERS: usize = 200;
/// Concurrent clients per test.
const CLIENTS: usize = 4;
/// Commands each client sends.
const COMMANDS_PER_CLIENT: usize = 400;

fn integer(reply: &[u8]) -> i64 {
    assert_eq!(reply[0], b':', "not an integer reply: {}", String::from_utf8_lossy(reply));
    std::str::from_utf8(&reply[1..reply.len() - 2]).unwrap().parse().unwrap()
}

/// The bulk strings of a flat array reply (RESP2), in order.
fn bulks(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    while at < reply.len() {
        let line_end = at + reply[at..].windows(2).position(|w| w == b"\r\n").unwrap();
        assert_eq!(reply[at], b'$', "not a bulk string: {}", String::from_utf8_lossy(&reply[at..]));
        let len: usize = std::str::from_utf8(&reply[at + 1..line_end]).unwrap().parse().unwrap();
        out.push(reply[line_end + 2..line_end + 2 + len].to_vec());
        at = line_end + 2 + len + 2;
    }
    out
}

/// `SCAN`-family reply: the next cursor and the elements.
fn scan_reply(reply: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    // *2\r\n$n\r\ncursor\r\n*m\r\n...
    let first = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    let line_end = first + reply[first..].windows(2).position(|w| w == b"\r\n").unwrap();
    let len: usize = std::str::from_utf8(&reply[first + 1..line_end]).unwrap().parse().unwrap();
    let cursor = reply[line_end + 2..line_end + 2 + len].to_vec();
    (cursor, bulks(&reply[line_end + 2 + len + 2..]))
}

fn in_parallel(server: &Server, work: impl Fn(usize, &mut Conn) + Send + Sync + Copy + 'static) {
    let port = server.port;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            thread::spawn(move || {
                let mut conn = Conn::new(port);
                work(id, &mut conn);
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
}

#[test]
fn smove_and_store_are_atomic_and_sizes_stay_exact() {
    let dir = scratch("collections-smove");
    let server = Server::redrock(dir.path(), &[]);
    let mut conn = server.connect();
    let members: Vec<String> = (0..MOVED_MEMBERS).map(|i| format!("m{i}")).collect();
    let mut sadd: Vec<&[u8]> = vec![b"SADD", b"left"];
    sadd.extend(members.iter().map(|m| m.as_bytes()));
    assert_eq!(integer(&conn.call(&sadd)), MOVED_MEMBERS as i64);

    in_parallel(&server, |id, conn| {
        for n in 0..COMMANDS_PER_CLIENT {
            let member = format!("m{}", (id * 7919 + n * 31) % MOVED_MEMBERS);
            let (from, to): (&[u8], &[u8]) = if n % 2 == 0 { (b"left", b"right") } else { (b"right", b"left") };
            conn.call(&[b"SMOVE", from, to, member.as_bytes()]);
            if n % 50 == 0 {
                // A union stored while members move must still hold every member once.
                let stored = integer(&conn.call(&[b"SUNIONSTORE", format!("u{id}").as_bytes(), b"left", b"right"]));
                assert_eq!(stored, MOVED_MEMBERS as i64);
            }
        }
    });

    let left = integer(&conn.call(&[b"SCARD", b"left"]));
    let right = integer(&conn.call(&[b"SCARD", b"right"]));
    assert_eq!(left + right, MOVED_MEMBERS as i64);
    assert_eq!(bulks(&conn.call(&[b"SMEMBERS", b"left"])).len() as i64, left);
    assert_eq!(bulks(&conn.call(&[b"SMEMBERS", b"right"])).len() as i64, right);
    assert!(bulks(&conn.call(&[b"SINTER", b"left", b"right"])).is_empty());
}

#[test]
fn spop_hands_each_member_to_one_client_and_hincrby_loses_nothing() {
    let dir = scratch("collections-spop");
    let server = Server::redrock(dir.path(), &[]);
    let mut conn = server.connect();
    // Large enough that pops use random seeks, not only the exact walk.
    let total = 3000usize;
    for chunk in (0..total).collect::<Vec<_>>().chunks(500) {
        let members: Vec<String> = chunk.iter().map(|i| format!("member:{i}")).collect();
        let mut sadd: Vec<&[u8]> = vec![b"SADD", b"pool"];
        sadd.extend(members.iter().map(|m| m.as_bytes()));
        conn.call(&sadd);
    }
    assert_eq!(integer(&conn.call(&[b"SCARD", b"pool"])), total as i64);

    let port = server.port;
    let poppers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            thread::spawn(move || {
                let mut conn = Conn::new(port);
                let mut popped = Vec::new();
                loop {
                    let reply = conn.call(&[b"SPOP", b"pool", b"7"]);
                    let members = bulks(&reply);
                    if members.is_empty() {
                        return popped;
                    }
                    conn.call(&[b"HINCRBY", b"popped", b"count", members.len().to_string().as_bytes()]);
                    popped.extend(members);
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for popper in poppers {
        for member in popper.join().unwrap() {
            assert!(seen.insert(member.clone()), "{} popped twice", String::from_utf8_lossy(&member));
        }
    }
    assert_eq!(seen.len(), total);
    assert_eq!(conn.call(&[b"TYPE", b"pool"]), b"+none\r\n");
    assert_eq!(
        conn.call(&[b"HGET", b"popped", b"count"]),
        format!("${}\r\n{total}\r\n", total.to_string().len()).as_bytes()
    );
}

#[test]
fn scans_return_every_element_present_for_the_whole_scan() {
    let dir = scratch("collections-scan");
    let server = Server::redrock(dir.path(), &[]);
    let mut conn = server.connect();
    // Beyond the compact encodings, so the scans page.
    let stable = 1500usize;
    for chunk in (0..stable).collect::<Vec<_>>().chunks(500) {
        let fields: Vec<String> = chunk.iter().map(|i| format!("stable:{i:05}")).collect();
        let mut hset: Vec<&[u8]> = vec![b"HSET", b"h"];
        let mut sadd: Vec<&[u8]> = vec![b"SADD", b"s"];
        for f in &fields {
            hset.extend([f.as_bytes(), b"v".as_slice()]);
            sadd.push(f.as_bytes());
        }
        conn.call(&hset);
        conn.call(&sadd);
    }

    for (command, key, step) in [(&b"HSCAN"[..], &b"h"[..], 2usize), (b"SSCAN", b"s", 1)] {
        let mut churn = server.connect();
        let mut seen = HashSet::new();
        let mut cursor = b"0".to_vec();
        let mut calls = 0;
        loop {
            let (next, elements) = scan_reply(&conn.call(&[command, key, &cursor, b"COUNT", b"37"]));
            seen.extend(elements.into_iter().step_by(step));
            calls += 1;
            // Elements come and go around the stable ones while the scan runs.
            let volatile = format!("stable:{:05}x", calls * 13 % stable);
            if key == b"h" {
                churn.call(&[b"HSET", key, volatile.as_bytes(), b"v"]);
                churn.call(&[b"HDEL", key, format!("stable:{:05}x", calls * 7 % stable).as_bytes()]);
            } else {
                churn.call(&[b"SADD", key, volatile.as_bytes()]);
                churn.call(&[b"SREM", key, format!("stable:{:05}x", calls * 7 % stable).as_bytes()]);
            }
            cursor = next;
            if cursor == b"0" {
                break;
            }
        }
        assert!(calls > 1, "the scan must page");
        for i in 0..stable {
            let field = format!("stable:{i:05}");
            assert!(seen.contains(field.as_bytes()), "{field} missed by {}", String::from_utf8_lossy(command));
        }
    }
}
