//! Differential test of concurrent connections: several clients, each on its own keys and
//! database, send seeded random commands at once, mostly one request at a time and sometimes
//! a short pipeline, to real Redis and to Redrock. Each client's replies must be Redis's,
//! byte for byte. On Redrock the requests of a worker's ready connections share write groups
//! (write_session.rs): one connection's writes land with another's, its reads see the
//! group's overlay, its range deletions (LTRIM, LPOP with a count) land the group under
//! others' parked stripes. None of it may show in any client's replies.

mod common;

use common::{multibulk, scratch, Conn, Rng, Server};

const CLIENTS: u64 = 8;
/// Reads per client; a read holds one request, or up to four.
const READS: usize = 300;
const SEEDS: [u64; 2] = [7, 20_261_126];

/// One read's worth of commands for `client`, on its own keys.
fn random_read(rng: &mut Rng, client: u64) -> Vec<Vec<String>> {
    let count = if rng.below(4) == 0 { 2 + rng.below(3) } else { 1 };
    (0..count)
        .map(|_| {
            let mut key = || format!("c{client}:{}", rng.pick(&["a", "b", "c"]));
            let (k1, k2) = (key(), key());
            let value = rng.below(40).to_string();
            let words: Vec<String> = match rng.below(24) {
                0 => vec!["SET".into(), k1, value],
                1 => vec!["GET".into(), k1],
                2 => vec!["INCR".into(), k1],
                3 => vec!["APPEND".into(), k1, value],
                4 => vec!["DEL".into(), k1, k2],
                5 => vec!["LPUSH".into(), k1, value.clone(), value],
                6 => vec!["RPOP".into(), k1],
                7 => vec!["LPOP".into(), k1, "2".into()],
                8 => vec!["LTRIM".into(), k1, "1".into(), "3".into()],
                9 => vec!["LRANGE".into(), k1, "0".into(), "-1".into()],
                10 => vec!["HSET".into(), k1, format!("f{value}"), value],
                11 => vec!["HINCRBY".into(), k1, "f1".into(), "1".into()],
                12 => vec!["HGET".into(), k1, "f1".into()],
                13 => vec!["HLEN".into(), k1],
                14 => vec!["SADD".into(), k1, value],
                15 => vec!["SREM".into(), k1, value],
                16 => vec!["SCARD".into(), k1],
                17 => vec!["ZADD".into(), k1, value.clone(), format!("m{value}")],
                18 => vec!["ZINCRBY".into(), k1, "1".into(), "m1".into()],
                19 => vec!["ZRANGE".into(), k1, "0".into(), "-1".into(), "WITHSCORES".into()],
                20 => vec!["MSET".into(), k1, value.clone(), k2, value],
                21 => vec!["RENAME".into(), k1, k2],
                22 => vec!["TYPE".into(), k1],
                _ => vec!["GETDEL".into(), k1],
            };
            words
        })
        .collect()
}

/// Runs every client's reads on `port` at once; each client's replies, in order.
fn run(port: u16, seed: u64) -> Vec<Vec<Vec<u8>>> {
    assert_eq!(Conn::new(port).call(&[b"FLUSHALL"]), b"+OK\r\n");
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            std::thread::spawn(move || {
                let mut rng = Rng(seed * 1000 + client + 1);
                let mut conn = Conn::new(port);
                let mut replies = vec![conn.call(&[b"SELECT", (client % 4).to_string().as_bytes()])];
                for _ in 0..READS {
                    let read = random_read(&mut rng, client);
                    let mut bytes = Vec::new();
                    for words in &read {
                        multibulk(&mut bytes, &words.iter().map(|w| w.as_bytes()).collect::<Vec<_>>());
                    }
                    conn.send_raw(&bytes);
                    for words in &read {
                        let reply = conn.read_reply().unwrap_or_else(|| panic!("no reply to {}", words.join(" ")));
                        replies.push(reply);
                    }
                }
                replies
            })
        })
        .collect();
    clients.into_iter().map(|client| client.join().unwrap()).collect()
}

fn concurrent_clients_reply_like_redis(redrock_args: &[&str]) {
    let (redis_dir, redrock_dir) = (scratch("conns-diff-redis"), scratch("conns-diff-redrock"));
    let redis = Server::redis(redis_dir.path(), &[]);
    let redrock = Server::redrock(redrock_dir.path(), redrock_args);
    for seed in SEEDS {
        let (expected, actual) = (run(redis.port, seed), run(redrock.port, seed));
        for (client, (expected, actual)) in expected.iter().zip(&actual).enumerate() {
            for (step, (expected, actual)) in expected.iter().zip(actual).enumerate() {
                assert_eq!(
                    String::from_utf8_lossy(actual),
                    String::from_utf8_lossy(expected),
                    "seed {seed} client {client} reply {step}"
                );
            }
        }
    }
}

#[test]
fn concurrent_clients_on_one_worker_reply_like_redis() {
    concurrent_clients_reply_like_redis(&[]);
}

#[test]
fn concurrent_clients_on_two_workers_reply_like_redis() {
    concurrent_clients_reply_like_redis(&["--workers", "2"]);
}
