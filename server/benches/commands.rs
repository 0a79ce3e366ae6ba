//! Hot paths of the server: key encoding, the record cache, and GET/SET through the whole
//! command layer (dispatch, table lookup, locks, handler, RocksDB) without the network.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use redrock::client::ClientState;
use redrock::config::Config;
use redrock::dispatch;
use redrock::storage::encoding::{encode_f64_ordered, meta_key, sub_key, sub_key_prefix};
use redrock::storage::record_cache::{Changes, RecordCache};

fn key_encoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("encoding");
    group.bench_function("meta_key", |b| b.iter(|| meta_key(b"", 0, std::hint::black_box(b"user:000123"))));
    group.bench_function("sub_key", |b| {
        b.iter(|| sub_key(&sub_key_prefix(b"", 0, std::hint::black_box(b"user:000123"), 42), b"field"))
    });
    group.bench_function("score", |b| b.iter(|| encode_f64_ordered(std::hint::black_box(-1.5))));
    group.finish();
}

/// The record cache at the size of redis-benchmark's key space (100,000 keys): a hit, a miss,
/// and a write of a cached key (what a SET of a hot key adds to the RocksDB write).
fn record_cache(c: &mut Criterion) {
    const KEYS: usize = 100_000;
    let cache = RecordCache::new(64 << 20);
    let keys: Vec<Vec<u8>> = (0..KEYS).map(|i| meta_key(b"", 0, format!("key:{i}").as_bytes())).collect();
    for key in &keys {
        let ticket = cache.ticket(key).expect("no write in flight");
        cache.fill(key, ticket, Some(&[b'x'; 73]));
    }
    let mut group = c.benchmark_group("record_cache");
    let mut i = 0usize;
    let mut next = || {
        i = (i + 7919) % KEYS;
        i
    };
    group.bench_function("hit", |b| b.iter(|| cache.get(&keys[next()])));
    group.bench_function("miss", |b| b.iter(|| cache.get(b"\x00\x00absent")));
    group.bench_function("write_cached", |b| {
        b.iter(|| {
            let mut changes = Changes::default();
            changes.put(&keys[next()], &[b'y'; 73]);
            let flight = cache.begin_write(&changes);
            cache.end_write(flight, changes, true, || false, || false);
        })
    });
    group.finish();
}

fn command_layer(c: &mut Criterion) {
    let dir = tempfile::TempDir::with_prefix("redrock-bench-").unwrap();
    let mut config = Config::default();
    config.set_initial("dir", dir.path().to_str().unwrap()).unwrap();
    let shared = redrock::server::open(config).unwrap();
    let handle = shared.clients.register("bench".into(), "bench".into());
    let mut client = ClientState::new(handle, true);
    let value = Bytes::from(vec![b'x'; 64]);
    let mut group = c.benchmark_group("command");
    let mut i = 0u64;
    group.bench_function("set_64b", |b| {
        b.iter(|| {
            i = (i + 1) % 100_000;
            let args = vec![Bytes::from_static(b"SET"), Bytes::from(format!("key:{i}")), value.clone()];
            dispatch::execute_alone(&shared, &mut client, args)
        })
    });
    group.bench_function("get_hit", |b| {
        b.iter(|| {
            i = (i + 1) % 100_000;
            let args = vec![Bytes::from_static(b"GET"), Bytes::from(format!("key:{}", i % 1000))];
            dispatch::execute_alone(&shared, &mut client, args)
        })
    });
    group.finish();
    drop(shared);
    drop(dir);
}

criterion_group!(benches, key_encoding, record_cache, command_layer);
criterion_main!(benches);
