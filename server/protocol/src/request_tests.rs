//! Tests of the request parser. Expected behaviour was checked against real Redis 7.0.15
//! where noted.

use super::*;
use crate::{encode, Reply, RespVersion};
use proptest::prelude::*;

const OPEN: Limits = Limits { proto_max_bulk_len: PROTO_MAX_BULK_LEN_DEFAULT, authenticated: true };
const UNAUTH: Limits = Limits { proto_max_bulk_len: PROTO_MAX_BULK_LEN_DEFAULT, authenticated: false };

type Request = Vec<Vec<u8>>;

/// Everything `input` yields in one buffer: the requests, then the error or the leftover
/// unparsed length.
fn parse_all(input: &[u8], limits: &Limits) -> (Vec<Request>, Result<usize, ProtocolError>) {
    parse_all_with(input, limits, RequestParser::parse)
}

/// What `parse_all` gives when every request goes the general, line-by-line way.
fn parse_all_line_by_line(input: &[u8], limits: &Limits) -> (Vec<Request>, Result<usize, ProtocolError>) {
    parse_all_with(input, limits, RequestParser::parse_line_by_line)
}

type Parse = fn(&mut RequestParser, &mut BytesMut, &Limits) -> Result<Option<Vec<Bytes>>, ProtocolError>;

fn parse_all_with(input: &[u8], limits: &Limits, parse: Parse) -> (Vec<Request>, Result<usize, ProtocolError>) {
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::from(input);
    let mut requests = Vec::new();
    loop {
        match parse(&mut parser, &mut buf, limits) {
            Ok(Some(args)) => requests.push(args.iter().map(|a| a.to_vec()).collect()),
            Ok(None) => return (requests, Ok(buf.len())),
            Err(e) => return (requests, Err(e)),
        }
    }
}

/// Feeds `input` in the pieces cut at `cuts`, draining the parser after each piece.
fn parse_pieces(input: &[u8], cuts: &[usize], limits: &Limits) -> (Vec<Request>, Result<(), ProtocolError>) {
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&input.len())) {
        buf.extend_from_slice(&input[from..to]);
        from = to;
        loop {
            match parser.parse(&mut buf, limits) {
                Ok(Some(args)) => requests.push(args.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => break,
                Err(e) => return (requests, Err(e)),
            }
        }
    }
    (requests, Ok(()))
}

fn req(args: &[&[u8]]) -> Request {
    args.iter().map(|a| a.to_vec()).collect()
}

fn error_of(input: &[u8], limits: &Limits) -> ProtocolError {
    parse_all(input, limits).1.expect_err("expected a protocol error")
}

fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(&Reply::Array(args.iter().map(|a| Reply::bulk(a.clone())).collect()), RespVersion::Resp2, &mut out);
    out.to_vec()
}

#[test]
fn multibulk_requests() {
    let (requests, rest) = parse_all(b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$0\r\n\r\n", &OPEN);
    assert_eq!(requests, vec![req(&[b"PING"]), req(&[b"SET", b"a", b""])]);
    assert_eq!(rest, Ok(0));
}

#[test]
fn binary_arguments_are_kept_verbatim() {
    let (requests, _) = parse_all(b"*2\r\n$4\r\nECHO\r\n$5\r\n\0\r\n\xff*\r\n", &OPEN);
    assert_eq!(requests, vec![req(&[b"ECHO", b"\0\r\n\xff*"])]);
}

#[test]
fn empty_requests_are_skipped() {
    let input = b"*0\r\n*-1\r\n*-5\r\n\r\n\n   \r\n\t\n*1\r\n$4\r\nPING\r\n";
    let (requests, rest) = parse_all(input, &OPEN);
    assert_eq!(requests, vec![req(&[b"PING"])]);
    assert_eq!(rest, Ok(0));
}

#[test]
fn inline_requests() {
    let (requests, rest) = parse_all(b"PING\r\nSET a \"b c\"\nECHO 'x\\'y'\r\nGET a", &OPEN);
    assert_eq!(requests, vec![req(&[b"PING"]), req(&[b"SET", b"a", b"b c"]), req(&[b"ECHO", b"x'y"])]);
    assert_eq!(rest, Ok(5), "the unterminated line waits");
    // A lone '\r' is part of the line when not right before '\n'.
    let (requests, _) = parse_all(b"ECHO a\rb\n", &OPEN);
    assert_eq!(requests, vec![req(&[b"ECHO", b"a", b"b"])]);
    // An inline line longer than the limit is fine once its '\n' is there.
    let long = format!("ECHO {}\n", "x".repeat(PROTO_INLINE_MAX_SIZE * 2));
    let (requests, _) = parse_all(long.as_bytes(), &OPEN);
    assert_eq!(requests[0][1].len(), PROTO_INLINE_MAX_SIZE * 2);
    // No unauthenticated limits apply to inline requests.
    let (requests, _) = parse_all(b"a b c d e f g h i j k l\n", &UNAUTH);
    assert_eq!(requests[0].len(), 12);
}

#[test]
fn redis_skips_the_two_bytes_after_a_payload_and_a_count_unchecked() {
    // Real Redis 7.0.15 answers "*1\r\n$4\r\nPINGxyPING\r\n" with two PONGs...
    let (requests, _) = parse_all(b"*1\r\n$4\r\nPINGxy*1\r\n$4\r\nPING\r\n", &OPEN);
    assert_eq!(requests, vec![req(&[b"PING"]), req(&[b"PING"])]);
    // ... and "*1\rX$4\r\nPING\r\n" with one.
    let (requests, _) = parse_all(b"*1\rX$4\r\nPING\r\n", &OPEN);
    assert_eq!(requests, vec![req(&[b"PING"])]);
    // A payload waits for its two trailing bytes.
    assert_eq!(parse_all(b"*1\r\n$4\r\nPING\r", &OPEN), (vec![], Ok(5)));
    assert_eq!(parse_all(b"*1\r", &OPEN), (vec![], Ok(3)));
}

#[test]
fn a_nul_byte_hides_the_line_end_as_strchr_does() {
    // Real Redis 7.0.15 never answers these: the NUL ends its strchr search.
    assert_eq!(parse_all(b"*1\0\r\n$4\r\nPING\r\n", &OPEN).0, Vec::<Request>::new());
    assert_eq!(parse_all(b"PING\0\n", &OPEN).0, Vec::<Request>::new());
    assert_eq!(parse_all(b"*1\r\n$4\0\r\nPING\r\n", &OPEN).0, Vec::<Request>::new());
    // ... until the too-big limits end it.
    let mut big = b"*1\0\r\n".to_vec();
    big.resize(PROTO_INLINE_MAX_SIZE + 1, b'x');
    assert_eq!(error_of(&big, &OPEN), ProtocolError::TooBigMultibulkCount);
}

#[test]
fn error_texts_are_redis_texts() {
    let cases = [
        (ProtocolError::TooBigInlineRequest, "Protocol error: too big inline request"),
        (ProtocolError::UnbalancedQuotes, "Protocol error: unbalanced quotes in request"),
        (ProtocolError::TooBigMultibulkCount, "Protocol error: too big mbulk count string"),
        (ProtocolError::InvalidMultibulkLength, "Protocol error: invalid multibulk length"),
        (ProtocolError::UnauthenticatedMultibulkLength, "Protocol error: unauthenticated multibulk length"),
        (ProtocolError::TooBigBulkCount, "Protocol error: too big bulk count string"),
        (ProtocolError::ExpectedDollar(b'*'), "Protocol error: expected '$', got '*'"),
        (ProtocolError::InvalidBulkLength, "Protocol error: invalid bulk length"),
        (ProtocolError::UnauthenticatedBulkLength, "Protocol error: unauthenticated bulk length"),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
        assert_eq!(error.message_bytes(), text.as_bytes());
    }
    assert_eq!(ProtocolError::ExpectedDollar(0xff).message_bytes(), &b"Protocol error: expected '$', got '\xff'"[..]);
}

#[test]
fn too_big_inline_request() {
    let mut input = vec![b'a'; PROTO_INLINE_MAX_SIZE];
    assert_eq!(parse_all(&input, &OPEN), (vec![], Ok(PROTO_INLINE_MAX_SIZE)), "exactly the limit waits");
    input.push(b'a');
    assert_eq!(error_of(&input, &OPEN), ProtocolError::TooBigInlineRequest);
}

#[test]
fn unbalanced_quotes() {
    for input in [&b"SET a \"b\n"[..], b"SET a 'b\n", b"SET a \"b\"c\r\n", b"ECHO a\"b c\"d\r\n"] {
        assert_eq!(error_of(input, &OPEN), ProtocolError::UnbalancedQuotes);
    }
    // The request before the bad line is still delivered.
    let (requests, result) = parse_all(b"PING\r\n\"\r\n", &OPEN);
    assert_eq!((requests, result), (vec![req(&[b"PING"])], Err(ProtocolError::UnbalancedQuotes)));
}

#[test]
fn too_big_mbulk_count_string() {
    let mut input = b"*1".to_vec();
    input.resize(PROTO_INLINE_MAX_SIZE, b'1');
    assert_eq!(parse_all(&input, &OPEN).1, Ok(PROTO_INLINE_MAX_SIZE));
    input.push(b'1');
    assert_eq!(error_of(&input, &OPEN), ProtocolError::TooBigMultibulkCount);
}

#[test]
fn invalid_multibulk_length() {
    for input in [
        &b"*\r\n"[..],
        b"*01\r\n",
        b"*+1\r\n",
        b"*-0\r\n",
        b"*1 \r\n",
        b"* 1\r\n",
        b"*abc\r\n",
        b"*2147483648\r\n",
        b"*3000000000\r\n",
        b"*99999999999999999999\r\n",
    ] {
        assert_eq!(error_of(input, &OPEN), ProtocolError::InvalidMultibulkLength, "{input:?}");
    }
    // i32::MAX itself is accepted, and reserves only a bounded vector.
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::from(&b"*2147483647\r\n$1\r\na\r\n"[..]);
    assert_eq!(parser.parse(&mut buf, &OPEN), Ok(None));
    assert!(parser.args.capacity() <= PROTO_MAX_ARGV_PREALLOC);
    assert_eq!(parser.args.len(), 1);
    assert_eq!(parser.remaining, i32::MAX as usize - 1);
}

#[test]
fn unauthenticated_multibulk_length() {
    assert_eq!(error_of(b"*11\r\n", &UNAUTH), ProtocolError::UnauthenticatedMultibulkLength);
    // The validity check comes first.
    assert_eq!(error_of(b"*2147483648\r\n", &UNAUTH), ProtocolError::InvalidMultibulkLength);
    let ten = multibulk(&vec![b"x".to_vec(); 10]);
    assert_eq!(parse_all(&ten, &UNAUTH).0.len(), 1);
    assert_eq!(parse_all(b"*11\r\n", &OPEN).1, Ok(0));
}

#[test]
fn too_big_bulk_count_string() {
    let mut input = b"*1\r\n$1".to_vec();
    input.resize(4 + PROTO_INLINE_MAX_SIZE, b'1');
    assert_eq!(parse_all(&input, &OPEN).1, Ok(PROTO_INLINE_MAX_SIZE));
    input.push(b'1');
    assert_eq!(error_of(&input, &OPEN), ProtocolError::TooBigBulkCount);
}

#[test]
fn expected_dollar() {
    // A nested array, as Redis refuses it.
    assert_eq!(error_of(b"*1\r\n*1\r\n$4\r\nPING\r\n", &OPEN), ProtocolError::ExpectedDollar(b'*'));
    assert_eq!(error_of(b"*1\r\n:1\r\n", &OPEN), ProtocolError::ExpectedDollar(b':'));
    // Real Redis 7.0.15: "*1\r\n\r\n" → "expected '$', got ' '" (the '\r', mapped to a space).
    assert_eq!(error_of(b"*1\r\n\r\n", &OPEN), ProtocolError::ExpectedDollar(b'\r'));
    assert_eq!(error_of(b"*1\r\n\n\r\n", &OPEN), ProtocolError::ExpectedDollar(b'\n'));
    assert_eq!(error_of(b"*1\r\n\xff\r\n", &OPEN), ProtocolError::ExpectedDollar(0xff));
    // Only once the header line is complete.
    assert_eq!(parse_all(b"*1\r\n*1", &OPEN).1, Ok(2));
}

#[test]
fn invalid_bulk_length() {
    for input in [
        &b"*1\r\n$\r\n"[..],
        b"*1\r\n$-1\r\n",
        b"*1\r\n$-0\r\n",
        b"*1\r\n$01\r\n",
        b"*1\r\n$+1\r\n",
        b"*1\r\n$\xff\r\n",
        b"*1\r\n$536870913\r\n",
        b"*1\r\n$9223372036854775808\r\n",
    ] {
        assert_eq!(error_of(input, &OPEN), ProtocolError::InvalidBulkLength, "{input:?}");
    }
    // proto-max-bulk-len itself is accepted, and the payload is awaited.
    assert_eq!(parse_all(b"*1\r\n$536870912\r\n", &OPEN), (vec![], Ok(0)));
    let small = Limits { proto_max_bulk_len: 3, authenticated: true };
    assert_eq!(error_of(b"*1\r\n$4\r\n", &small), ProtocolError::InvalidBulkLength);
    assert_eq!(parse_all(b"*1\r\n$3\r\nabc\r\n", &small).0, vec![req(&[b"abc"])]);
}

#[test]
fn unauthenticated_bulk_length() {
    assert_eq!(error_of(b"*1\r\n$16385\r\n", &UNAUTH), ProtocolError::UnauthenticatedBulkLength);
    assert_eq!(error_of(b"*1\r\n$-1\r\n", &UNAUTH), ProtocolError::InvalidBulkLength);
    let arg = vec![b'x'; UNAUTHENTICATED_MAX_BULK_LEN as usize];
    assert_eq!(parse_all(&multibulk(std::slice::from_ref(&arg)), &UNAUTH).0, vec![vec![arg]]);
}

#[test]
fn requests_before_an_error_are_delivered() {
    let (requests, result) = parse_all(b"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n", &OPEN);
    assert_eq!(requests, vec![req(&[b"PING"])]);
    assert_eq!(result, Err(ProtocolError::InvalidBulkLength));
}

#[test]
fn arguments_are_zero_copy() {
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\nGET plain \"quoted\"\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let end = base + buf.len();
    let mut parser = RequestParser::default();
    let within = |b: &Bytes| (base..end).contains(&(b.as_ptr() as usize));
    let args = parser.parse(&mut buf, &OPEN).unwrap().unwrap();
    assert!(args.iter().all(within));
    let args = parser.parse(&mut buf, &OPEN).unwrap().unwrap();
    assert!(within(&args[0]) && within(&args[1]));
    assert_eq!(args[2], &b"quoted"[..]);
}

#[test]
fn a_half_read_request_keeps_its_arguments() {
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva"[..]);
    assert_eq!(parser.parse(&mut buf, &OPEN), Ok(None));
    assert_eq!(&buf[..], b"va", "parsed arguments are consumed");
    assert_eq!(parser.args.len(), 2);
    buf.extend_from_slice(b"lue\r\n");
    let args = parser.parse(&mut buf, &OPEN).unwrap().unwrap();
    assert_eq!(args, vec![&b"SET"[..], b"k", b"value"]);
    assert!(buf.is_empty());
}

#[test]
fn bulk_bytes_wanted_hints_big_arguments() {
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::from(&b"*1\r\n$40000\r\nabc"[..]);
    assert_eq!(parser.parse(&mut buf, &OPEN), Ok(None));
    assert_eq!(parser.bulk_bytes_wanted(buf.len()), Some(40002 - 3));
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::from(&b"*1\r\n$4\r\nab"[..]);
    assert_eq!(parser.parse(&mut buf, &OPEN), Ok(None));
    assert_eq!(parser.bulk_bytes_wanted(buf.len()), None);
}

#[test]
fn every_split_point_gives_the_same_requests() {
    let pipeline: &[u8] = b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\nPING\r\n*0\r\n\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\nSET a \"b\\x41 c\" 'd'\n*-1\r\n*1\r\n$4\r\nPING\r\n";
    let (expected, rest) = parse_all(pipeline, &OPEN);
    assert_eq!(rest, Ok(0));
    assert_eq!(expected.len(), 5);
    for cut in 0..=pipeline.len() {
        assert_eq!(parse_pieces(pipeline, &[cut], &OPEN), (expected.clone(), Ok(())), "cut at {cut}");
    }
    let every_byte: Vec<usize> = (1..pipeline.len()).collect();
    assert_eq!(parse_pieces(pipeline, &every_byte, &OPEN), (expected, Ok(())));
}

fn arg_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'$'), Just(b'*'), Just(0u8)], 0..8),
    ]
}

proptest! {
    #[test]
    fn encoded_requests_round_trip(
        requests in proptest::collection::vec(proptest::collection::vec(arg_strategy(), 1..8), 1..6),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
    ) {
        let mut input = Vec::new();
        for request in &requests {
            input.extend_from_slice(&multibulk(request));
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        cuts.sort_unstable();
        prop_assert_eq!(parse_pieces(&input, &cuts, &OPEN), (requests, Ok(())));
    }

    #[test]
    fn arbitrary_input_never_panics_and_splits_agree(
        input in proptest::collection::vec(
            prop_oneof![Just(b'*'), Just(b'$'), Just(b'\r'), Just(b'\n'), Just(b'"'), Just(b'\''), Just(b'\\'), Just(b' '), b'0'..=b'9', any::<u8>()],
            0..64),
        cut in any::<proptest::sample::Index>(),
    ) {
        let (whole, whole_result) = parse_all(&input, &OPEN);
        let cut = cut.index(input.len() + 1);
        let (pieces, pieces_result) = parse_pieces(&input, &[cut], &OPEN);
        prop_assert_eq!(whole, pieces);
        prop_assert_eq!(whole_result.err(), pieces_result.err());
    }

    /// The arrived-request shortcut only ever agrees with the general path: valid requests
    /// mutated byte-wise (counts, lengths, terminators, NULs), under each set of limits.
    #[test]
    fn arrived_requests_parse_as_line_by_line(
        requests in proptest::collection::vec(proptest::collection::vec(prop_oneof![
            9 => arg_strategy(),
            1 => Just(vec![b'x'; UNAUTHENTICATED_MAX_BULK_LEN as usize + 1]),
        ], 1..40), 1..4),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), prop_oneof![Just(0u8), Just(b'\r'), Just(b'-'), Just(b'0'), Just(b'9'), Just(b'$'), any::<u8>()]), 0..3),
        truncate in any::<proptest::sample::Index>(),
        limits in prop_oneof![Just(OPEN), Just(UNAUTH), Just(Limits { proto_max_bulk_len: 5, authenticated: true })],
    ) {
        let mut input = Vec::new();
        for request in &requests {
            input.extend_from_slice(&multibulk(request));
        }
        for (at, byte) in edits {
            let at = at.index(input.len());
            input[at] = byte;
        }
        input.truncate(truncate.index(input.len() + 1));
        prop_assert_eq!(parse_all(&input, &limits), parse_all_line_by_line(&input, &limits));
    }
}

#[test]
fn arrived_lines_take_plain_digits_only() {
    let line = |text: &[u8]| super::arrived_line(text, 0);
    assert_eq!(line(b"$0\r\n"), Some((0, 4)));
    assert_eq!(line(b"*12\r\n$"), Some((12, 5)));
    assert_eq!(line(b"$7\rX"), Some((7, 4)), "Redis skips the byte after the \\r unchecked");
    let longest = format!("${}\r\n", "9".repeat(18));
    assert_eq!(line(longest.as_bytes()), Some((999_999_999_999_999_999, 21)));
    // Left to the general path, which reaches Redis's verdict on each.
    for text in [
        &b"$\r\n"[..],
        b"$01\r\n",
        b"$00\r\n",
        b"$-1\r\n",
        b"$+1\r\n",
        b"$1 \r\n",
        b"$1\0\r\n",
        b"$1\n",
        b"$12",
        b"$12\r",
        format!("${}\r\n", "1".repeat(19)).as_bytes(),
    ] {
        assert_eq!(line(text), None, "{}", String::from_utf8_lossy(text));
    }
}

#[test]
fn parsing_into_one_vector_holds_each_request_alone() {
    let mut parser = RequestParser::default();
    let mut args = Vec::new();
    let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk"[..]);
    assert_eq!(parser.parse_into(&mut buf, &OPEN, &mut args), Ok(true));
    assert_eq!(args, vec![&b"SET"[..], b"k", b"v"]);
    let room = args.capacity();
    assert_eq!(parser.parse_into(&mut buf, &OPEN, &mut args), Ok(true), "an inline request, the general path");
    assert_eq!(args, vec![&b"PING"[..]]);
    assert_eq!(parser.parse_into(&mut buf, &OPEN, &mut args), Ok(false), "not fully arrived");
    assert!(args.is_empty(), "no argument of an incomplete request");
    buf.extend_from_slice(b"\r\n");
    assert_eq!(parser.parse_into(&mut buf, &OPEN, &mut args), Ok(true));
    assert_eq!(args, vec![&b"GET"[..], b"k"]);
    let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\n"[..]);
    let mut reused = Vec::with_capacity(room);
    assert_eq!(parser.parse_into(&mut buf, &OPEN, &mut reused), Ok(true));
    assert_eq!(reused.capacity(), room, "an arrived request fills the room it is given");
}
