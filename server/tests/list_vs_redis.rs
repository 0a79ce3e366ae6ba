//! Differential test of the list commands: a seeded random sequence of list writes and reads
//! on a few small lists runs on real Redis and on Redrock, and every reply must be the same
//! bytes. It exercises the index bookkeeping (pushes on both ends after trims, inserts and
//! removals that move either side) far beyond what hand-written scripts reach.

mod common;

use common::{scratch, Rng, Server};

/// Commands per seed.
const STEPS: usize = 3_000;
const SEEDS: [u64; 3] = [1, 42, 20_251_125];
/// One command in this many is a blocking one.
const BLOCKING_ONE_IN: u64 = 150;

/// A list index, -7..=7: past either end as often as within.
fn index(rng: &mut Rng) -> String {
    (rng.below(15) as i64 - 7).to_string()
}

const KEYS: &[&str] = &["a", "b", "c"];
const VALUES: &[&str] = &["x", "y", "z", "1", "22", ""];
const ENDS: &[&str] = &["LEFT", "RIGHT"];

fn random_command(rng: &mut Rng) -> Vec<String> {
    let key = rng.pick(KEYS).to_string();
    let value = rng.pick(VALUES).to_string();
    // Blocking forms are rare: a timeout costs up to a tick of Redis's event loop.
    let pick = if rng.below(BLOCKING_ONE_IN) == 0 { 15 + rng.below(2) } else { rng.below(15) };
    let words: Vec<String> = match pick {
        0 => vec!["LPUSH".into(), key, value, rng.pick(VALUES).into()],
        1 => vec!["RPUSH".into(), key, value],
        2 => vec!["LPOP".into(), key],
        3 => vec!["RPOP".into(), key, rng.below(4).to_string()],
        4 => vec!["LINSERT".into(), key, rng.pick(&["BEFORE", "AFTER"]).into(), value, rng.pick(VALUES).into()],
        5 => vec!["LREM".into(), key, index(rng), value],
        6 => vec!["LTRIM".into(), key, index(rng), index(rng)],
        7 => vec!["LSET".into(), key, index(rng), value],
        8 => vec!["LINDEX".into(), key, index(rng)],
        9 => vec!["LRANGE".into(), key, index(rng), index(rng)],
        10 => vec!["LMOVE".into(), key, rng.pick(KEYS).into(), rng.pick(ENDS).into(), rng.pick(ENDS).into()],
        11 => vec![
            "LPOS".into(),
            key,
            value,
            "RANK".into(),
            rng.pick(&["1", "2", "-1", "-2"]).into(),
            "COUNT".into(),
            rng.below(3).to_string(),
        ],
        12 => vec![
            "LMPOP".into(),
            "2".into(),
            key,
            rng.pick(KEYS).into(),
            rng.pick(ENDS).into(),
            "COUNT".into(),
            (1 + rng.below(3)).to_string(),
        ],
        13 => vec!["RPOPLPUSH".into(), key, rng.pick(KEYS).into()],
        14 => {
            if rng.below(2) == 0 {
                vec!["LPUSHX".into(), key, value]
            } else {
                vec!["LRANGE".into(), key, "0".into(), "-1".into()]
            }
        }
        // Blocking forms serve at once or time out after 10 ms on both servers.
        15 => vec!["BLPOP".into(), key, rng.pick(KEYS).into(), "0.01".into()],
        16 => match rng.below(3) {
            0 => vec![
                "BLMOVE".into(),
                key,
                rng.pick(KEYS).into(),
                rng.pick(ENDS).into(),
                rng.pick(ENDS).into(),
                "0.01".into(),
            ],
            1 => vec!["BRPOPLPUSH".into(), key, rng.pick(KEYS).into(), "0.01".into()],
            _ => {
                vec!["BLMPOP".into(), "0.01".into(), "1".into(), key, rng.pick(ENDS).into(), "COUNT".into(), "2".into()]
            }
        },
        _ => unreachable!("picked in 0..17"),
    };
    words
}

/// Ranges read element by element from the member cache, which holds every element.
#[test]
fn random_list_workloads_reply_like_redis() {
    diff_against_redis(&[], 1);
}

/// Ranges read through a member cache that holds a few elements at a time: hits, point reads
/// of misses, and an iterator past `MAX_POINT_READ_MISSES` of them (types/list.rs `scan`).
#[test]
fn random_list_workloads_reply_like_redis_with_a_member_cache_too_small() {
    diff_against_redis(&["--sub-key-cache-size", "4096"], 1);
}

/// Ranges read with RocksDB iterators: no member cache (types/list.rs `scan`).
#[test]
fn random_list_workloads_reply_like_redis_without_the_member_cache() {
    diff_against_redis(&["--sub-key-cache-size", "0"], 1);
}

/// Pipelines of up to 32 commands through a member cache too small for the lists: a pop that
/// misses the cache reads the next elements ahead (storage's `read_ahead`) while the writes of
/// the commands before it in the pipeline have not landed yet.
#[test]
fn pipelined_list_workloads_reply_like_redis_with_a_member_cache_too_small() {
    diff_against_redis(&["--sub-key-cache-size", "4096"], 32);
}

/// Runs `STEPS` random commands per seed on both servers, in pipelines of 1 to `max_pipeline`
/// (blocking commands only when sent alone), and compares every reply, then the lists.
fn diff_against_redis(redrock_args: &[&str], max_pipeline: u64) {
    let (redis_dir, redrock_dir) = (scratch("list-diff-redis"), scratch("list-diff-redrock"));
    let redis = Server::redis(redis_dir.path(), &[]);
    let redrock = Server::redrock(redrock_dir.path(), redrock_args);
    let (mut reference, mut target) = (redis.connect(), redrock.connect());
    for seed in SEEDS {
        let mut rng = Rng(seed);
        for conn in [&mut reference, &mut target] {
            assert_eq!(conn.call(&[b"FLUSHALL"]), b"+OK\r\n");
        }
        let mut step = 0;
        while step < STEPS {
            let depth = if max_pipeline == 1 { 1 } else { 1 + rng.below(max_pipeline) };
            let commands: Vec<Vec<String>> = (0..depth)
                .map(|_| random_command(&mut rng))
                .filter(|words| depth == 1 || !words[0].starts_with('B'))
                .collect();
            let mut replies = Vec::new();
            for conn in [&mut reference, &mut target] {
                let mut out = Vec::new();
                for command in &commands {
                    let args: Vec<&[u8]> = command.iter().map(|w| w.as_bytes()).collect();
                    common::multibulk(&mut out, &args);
                }
                conn.send_raw(&out);
                replies.push(commands.iter().map(|_| conn.read_reply().expect("a reply")).collect::<Vec<_>>());
            }
            for (i, command) in commands.iter().enumerate() {
                assert_eq!(
                    String::from_utf8_lossy(&replies[1][i]),
                    String::from_utf8_lossy(&replies[0][i]),
                    "seed {seed} step {}: {}",
                    step + i,
                    command.join(" ")
                );
            }
            step += commands.len().max(1);
        }
        // The final contents agree too.
        for key in KEYS {
            let args: [&[u8]; 4] = [b"LRANGE", key.as_bytes(), b"0", b"-1"];
            assert_eq!(target.call(&args), reference.call(&args), "seed {seed}: final {key}");
        }
    }
}
