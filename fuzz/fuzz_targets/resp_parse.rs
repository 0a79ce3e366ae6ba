//! The request parser on arbitrary bytes, arriving in arbitrary pieces: it never panics,
//! never hands out more argument bytes than it was given, gives the same requests however the
//! input is split, and every request it returns survives an encode → parse round trip.

#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use redrock_protocol::{Limits, RequestParser};

#[derive(Arbitrary, Debug)]
struct Input {
    bytes: Vec<u8>,
    /// Where the input is cut into reads.
    cuts: Vec<u16>,
    authenticated: bool,
    small_bulk_limit: bool,
}

/// Parses `chunks` as successive reads; returns the requests and whether an error ended them.
fn parse_all(chunks: &[&[u8]], limits: &Limits) -> (Vec<Vec<Vec<u8>>>, bool) {
    let mut parser = RequestParser::default();
    let mut buffer = BytesMut::new();
    let mut requests = Vec::new();
    for chunk in chunks {
        buffer.extend_from_slice(chunk);
        loop {
            match parser.parse(&mut buffer, limits) {
                Ok(Some(args)) => {
                    assert!(!args.is_empty(), "empty requests are skipped, never returned");
                    requests.push(args.iter().map(|a| a.to_vec()).collect());
                }
                Ok(None) => break,
                Err(_) => return (requests, true),
            }
        }
    }
    (requests, false)
}

fuzz_target!(|input: Input| {
    let limits = Limits {
        proto_max_bulk_len: if input.small_bulk_limit { 64 } else { 512 * 1024 * 1024 },
        authenticated: input.authenticated,
    };
    let whole = parse_all(&[&input.bytes], &limits);

    let mut cuts: Vec<usize> = input.cuts.iter().map(|&c| c as usize % (input.bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts {
        chunks.push(&input.bytes[start..cut]);
        start = cut;
    }
    chunks.push(&input.bytes[start..]);
    let split = parse_all(&chunks, &limits);
    assert_eq!(whole, split, "splitting the input changed the requests");

    let argument_bytes: usize = whole.0.iter().flatten().map(Vec::len).sum();
    assert!(argument_bytes <= input.bytes.len(), "more argument bytes than input bytes");

    for request in &whole.0 {
        let mut encoded = format!("*{}\r\n", request.len()).into_bytes();
        for arg in request {
            encoded.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            encoded.extend_from_slice(arg);
            encoded.extend_from_slice(b"\r\n");
        }
        let unlimited = Limits { proto_max_bulk_len: u64::MAX, authenticated: true };
        let (again, failed) = parse_all(&[&encoded], &unlimited);
        assert!(!failed);
        assert_eq!(again, vec![request.clone()], "encode/parse round trip");
    }
});
