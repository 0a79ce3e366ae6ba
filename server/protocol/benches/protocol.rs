//! Hot paths of the wire protocol: parsing requests and encoding replies.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use redrock_protocol::{encode, format_double, Aggregate, BulkStrings, Limits, Reply, RequestParser, RespVersion};

fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn parse(c: &mut Criterion) {
    let value = vec![b'x'; 64];
    let set = multibulk(&[b"SET", b"key:000123", &value]);
    let pipeline: Vec<u8> = set.iter().copied().cycle().take(set.len() * 16).collect();
    let limits = Limits::default();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(16));
    group.bench_function("set_64b_pipeline_16", |b| {
        b.iter_batched(
            || BytesMut::from(&pipeline[..]),
            |mut buf| {
                let mut parser = RequestParser::default();
                while let Some(args) = parser.parse(&mut buf, &limits).unwrap() {
                    std::hint::black_box(args);
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("inline_ping_x16", |b| {
        let inline: Vec<u8> = b"PING\r\n".iter().copied().cycle().take(6 * 16).collect();
        b.iter_batched(
            || BytesMut::from(&inline[..]),
            |mut buf| {
                let mut parser = RequestParser::default();
                while let Some(args) = parser.parse(&mut buf, &limits).unwrap() {
                    std::hint::black_box(args);
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn encode_replies(c: &mut Criterion) {
    let lrange = Reply::Array((0..100).map(|i| Reply::Bulk(Bytes::from(format!("element:{i}")))).collect());
    let mut group = c.benchmark_group("encode");
    for (name, reply) in [
        ("ok", Reply::ok()),
        ("integer", Reply::Integer(1_234_567)),
        ("bulk_64b", Reply::Bulk(Bytes::from(vec![b'x'; 64]))),
        ("lrange_100", lrange),
        ("double", Reply::Double(1.1)),
    ] {
        for version in [RespVersion::Resp2, RespVersion::Resp3] {
            group.bench_function(format!("{name}_{version:?}"), |b| {
                let mut out = BytesMut::with_capacity(4096);
                b.iter(|| {
                    out.clear();
                    encode(std::hint::black_box(&reply), version, &mut out);
                })
            });
        }
    }
    group.bench_function("format_double", |b| b.iter(|| format_double(std::hint::black_box(1.1))));
    // A reply built from storage and sent, as LRANGE does: items copied out of the storage's
    // buffers one by one, then encoded and dropped. `Reply::Bulks` against an `Array` of `Bulk`s.
    let items: Vec<Vec<u8>> = (0..100).map(|i| format!("element:{i:057}").into_bytes()).collect();
    group.bench_function("lrange_100_built_as_array", |b| {
        let mut out = BytesMut::with_capacity(8192);
        b.iter(|| {
            out.clear();
            let reply = Reply::Array(items.iter().map(|i| Reply::Bulk(Bytes::copy_from_slice(i))).collect());
            encode(&reply, RespVersion::Resp2, &mut out);
        })
    });
    group.bench_function("lrange_100_built_as_bulks", |b| {
        let mut out = BytesMut::with_capacity(8192);
        b.iter(|| {
            out.clear();
            let mut bulks = BulkStrings::with_capacity(items.len(), items[0].len());
            for item in &items {
                bulks.push(item);
            }
            encode(&Reply::Bulks(Aggregate::Array, bulks), RespVersion::Resp2, &mut out);
        })
    });
    group.finish();
}

criterion_group!(benches, parse, encode_replies);
criterion_main!(benches);
