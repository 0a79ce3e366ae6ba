//! SCAN's guarantee and RANDOMKEY's spread, which a transcript cannot show (Redis's tips mask
//! both): a full iteration returns every key that exists for its whole duration, whatever is
//! added or deleted meanwhile, and ends with cursor 0.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use redrock::client::ClientState;
use redrock::config::Config;
use redrock::dispatch::execute_alone;
use redrock::shared::Shared;
use redrock::storage::{Storage, StorageOptions};
use redrock_protocol::Reply;

use common::{scratch, TempDir};

struct Session {
    shared: Arc<Shared>,
    client: ClientState,
}

impl Session {
    fn open(dir: &TempDir) -> Session {
        let storage = Storage::open(dir.path(), &StorageOptions::default()).expect("open storage");
        let shared = Arc::new(Shared::new(storage, Config::default()).expect("shared state"));
        let handle = shared.clients.register("127.0.0.1:1".into(), "127.0.0.1:2".into());
        Session { client: ClientState::new(handle, true), shared }
    }

    fn run(&mut self, args: &[&[u8]]) -> Reply {
        let args = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        execute_alone(&self.shared, &mut self.client, args)
    }

    /// One SCAN call: the next cursor and the keys.
    fn scan(&mut self, cursor: &[u8], count: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
        match self.run(&[b"SCAN", cursor, b"COUNT", count.to_string().as_bytes()]) {
            Reply::Array(parts) => match &parts[..] {
                [Reply::Bulk(cursor), Reply::Array(keys)] => (
                    cursor.to_vec(),
                    keys.iter()
                        .map(|k| match k {
                            Reply::Bulk(k) => k.to_vec(),
                            other => panic!("key {other:?}"),
                        })
                        .collect(),
                ),
                other => panic!("scan reply {other:?}"),
            },
            other => panic!("scan reply {other:?}"),
        }
    }
}

#[test]
fn a_full_scan_returns_every_key_present_throughout_exactly_once() {
    let dir = scratch("scan-guarantee");
    let mut s = Session::open(&dir);
    let stable: Vec<Vec<u8>> = (0..500).map(|i| format!("stable:{i}").into_bytes()).collect();
    let doomed: Vec<Vec<u8>> = (0..300).map(|i| format!("doomed:{i}").into_bytes()).collect();
    for key in stable.iter().chain(&doomed) {
        s.run(&[b"SET", key, b"v"]);
    }
    s.run(&[b"SET", b"", b"the empty key"]);

    let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut cursor = b"0".to_vec();
    let mut calls = 0;
    loop {
        let (next, keys) = s.scan(&cursor, 7);
        for key in keys {
            *seen.entry(key).or_default() += 1;
        }
        // Churn between calls: delete some keys, add others on both sides of the cursor.
        if let Some(key) = doomed.get(calls) {
            s.run(&[b"DEL", key]);
        }
        s.run(&[b"SET", format!("added:{calls}").as_bytes(), b"v"]);
        s.run(&[b"SET", format!("zz-added:{calls}").as_bytes(), b"v"]);
        calls += 1;
        assert!(calls < 10_000, "the iteration does not end");
        if next == b"0" {
            break;
        }
        cursor = next;
    }
    for key in stable.iter().chain(std::iter::once(&Vec::new())) {
        assert_eq!(seen.get(key), Some(&1), "{:?}", String::from_utf8_lossy(key));
    }
    assert!(seen.values().all(|&n| n == 1), "a key came back twice");
}

#[test]
fn an_unknown_cursor_restarts_and_count_bounds_each_call() {
    let dir = scratch("scan-cursor");
    let mut s = Session::open(&dir);
    for i in 0..50 {
        s.run(&[b"SET", format!("k{i:02}").as_bytes(), b"v"]);
    }
    let (first_cursor, first) = s.scan(b"0", 10);
    assert_eq!(first.len(), 10);
    assert_ne!(first_cursor, b"0");
    // A cursor the server never handed out starts over, so no key is skipped.
    let (_, restarted) = s.scan(b"987654321", 10);
    assert_eq!(restarted, first);
    let (cursor, all) = s.scan(b"0", 1000);
    assert_eq!((cursor.as_slice(), all.len()), (&b"0"[..], 50));
    // Expired keys count as work but are never returned.
    for i in 0..50 {
        s.run(&[b"PEXPIRE", format!("k{i:02}").as_bytes(), b"1"]);
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (_, none) = s.scan(b"0", 1000);
    assert!(none.is_empty());
}

#[test]
fn randomkey_reaches_many_keys() {
    let dir = scratch("randomkey");
    let mut s = Session::open(&dir);
    assert!(matches!(s.run(&[b"RANDOMKEY"]), Reply::Null));
    let keys: Vec<Vec<u8>> =
        (b'a'..=b'z').map(|c| vec![c]).chain((0..20).map(|i| format!("user:{i}").into_bytes())).collect();
    for key in &keys {
        s.run(&[b"SET", key, b"v"]);
    }
    let mut drawn = HashSet::new();
    for _ in 0..500 {
        match s.run(&[b"RANDOMKEY"]) {
            Reply::Bulk(key) => {
                assert!(keys.contains(&key.to_vec()));
                drawn.insert(key.to_vec());
            }
            other => panic!("RANDOMKEY {other:?}"),
        }
    }
    assert!(drawn.len() >= keys.len() / 2, "only {} distinct keys drawn", drawn.len());
}
