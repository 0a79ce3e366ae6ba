//! Raw protocol behaviour compared byte for byte with a real `redis-server`: the same bytes
//! are sent to both, and everything each one answers (and whether it closes the connection)
//! must be identical. Command semantics are covered by the compat scripts; this covers what
//! scripts cannot express: malformed input, inline requests, pipelining, limits.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{scratch, Conn, Server};

/// How long a peer may stay silent before we decide it has said everything.
const QUIET: Duration = Duration::from_millis(300);

/// Everything the server sends in response to `input`, and whether it closed the connection.
fn exchange(port: u16, input: &[u8]) -> (Vec<u8>, bool) {
    let mut conn = Conn::new(port);
    conn.send_raw(input);
    conn.stream.set_read_timeout(Some(QUIET)).unwrap();
    let mut out = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match conn.stream.read(&mut chunk) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
        if Instant::now() > deadline {
            return (out, false);
        }
    }
}

fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let mut cases: Vec<(&'static str, Vec<u8>)> = vec![
        ("inline ping", b"PING\r\n".to_vec()),
        ("inline with quotes", b"ECHO \"a b\\x41\" 'c d'\r\n".to_vec()),
        ("inline lf only", b"ECHO hi\n".to_vec()),
        ("inline unbalanced quotes", b"ECHO \"abc\r\nPING\r\n".to_vec()),
        ("inline empty lines are skipped", b"\r\n\r\nPING\r\n".to_vec()),
        ("pipeline of three", b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n".to_vec()),
        ("empty multibulk", b"*0\r\n*-1\r\nPING\r\n".to_vec()),
        ("invalid multibulk length", b"*abc\r\n".to_vec()),
        ("multibulk length over INT_MAX", b"*2147483648\r\n".to_vec()),
        ("expected dollar", b"*1\r\n+PING\r\n".to_vec()),
        ("nested array rejected", b"*1\r\n*1\r\n$4\r\nPING\r\n".to_vec()),
        ("invalid bulk length", b"*1\r\n$-5\r\n".to_vec()),
        ("bulk length not a number", b"*1\r\n$x\r\n".to_vec()),
        ("replies before a protocol error are kept", b"PING\r\n*1\r\n$4\r\nPING\r\n*x\r\n".to_vec()),
        ("bytes after bulk data are skipped unchecked", b"*1\r\n$4\r\nPINGxy*1\r\n$4\r\nPING\r\n".to_vec()),
        ("unknown command", b"*3\r\n$7\r\nNOSUCHC\r\n$1\r\na\r\n$2\r\nbc\r\n".to_vec()),
        ("wrong arity", b"*1\r\n$3\r\nGET\r\n".to_vec()),
        ("hello 3 map", b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n".to_vec()),
        ("hello bad version", b"HELLO 4\r\nHELLO x\r\n".to_vec()),
        ("quit closes after reply", b"*1\r\n$4\r\nQUIT\r\nPING\r\n".to_vec()),
        ("select out of range", b"SELECT 16\r\nSELECT -1\r\nSELECT x\r\n".to_vec()),
    ];
    let mut big_inline = b"ECHO ".to_vec();
    big_inline.extend(std::iter::repeat_n(b'a', 70 * 1024));
    cases.push(("too big inline request", big_inline));
    let mut big_count = b"*".to_vec();
    big_count.extend(std::iter::repeat_n(b'1', 70 * 1024));
    cases.push(("too big multibulk count", big_count));
    let mut big_bulk_count = b"*1\r\n$".to_vec();
    big_bulk_count.extend(std::iter::repeat_n(b'1', 70 * 1024));
    cases.push(("too big bulk count", big_bulk_count));
    cases
}

#[test]
fn protocol_edge_cases_match_redis() {
    let (redis_dir, redrock_dir) = (scratch("proto-redis"), scratch("proto-redrock"));
    let redis = Server::redis(redis_dir.path(), &[]);
    let redrock = Server::redrock(redrock_dir.path(), &[]);
    let mut failures = Vec::new();
    for (name, input) in cases() {
        let expected = exchange(redis.port, &input);
        let actual = exchange(redrock.port, &input);
        // HELLO's reply carries the connection id, which differs by design between servers.
        let normalise = |(bytes, closed): (Vec<u8>, bool)| {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let text = regex_lite_replace_id(&text);
            (text, closed)
        };
        let (expected, actual) = (normalise(expected), normalise(actual));
        if expected != actual {
            failures.push(format!("{name}:\n  redis:   {expected:?}\n  redrock: {actual:?}"));
        }
    }
    assert!(failures.is_empty(), "{} divergences:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn unauthenticated_limits_match_redis() {
    let (redis_dir, redrock_dir) = (scratch("auth-redis"), scratch("auth-redrock"));
    let redis = Server::redis(redis_dir.path(), &["--requirepass", "pw"]);
    let redrock = Server::redrock(redrock_dir.path(), &["--requirepass", "pw"]);
    let mut many_args = b"*11\r\n".to_vec();
    for _ in 0..11 {
        many_args.extend_from_slice(b"$1\r\na\r\n");
    }
    let mut big_bulk = b"*2\r\n$4\r\nECHO\r\n$16385\r\n".to_vec();
    big_bulk.extend(std::iter::repeat_n(b'x', 16385));
    big_bulk.extend_from_slice(b"\r\n");
    let inputs: Vec<Vec<u8>> = vec![
        b"GET a\r\n".to_vec(),
        b"AUTH wrong\r\nAUTH pw\r\nGET a\r\n".to_vec(),
        b"AUTH default pw\r\nPING\r\n".to_vec(),
        b"HELLO 3\r\n".to_vec(),
        b"HELLO 3 AUTH default pw\r\nPING\r\n".to_vec(),
        many_args,
        big_bulk,
    ];
    for input in inputs {
        let expected = exchange(redis.port, &input);
        let actual = exchange(redrock.port, &input);
        let expected = (regex_lite_replace_id(&String::from_utf8_lossy(&expected.0)), expected.1);
        let actual = (regex_lite_replace_id(&String::from_utf8_lossy(&actual.0)), actual.1);
        assert_eq!(expected, actual, "input {:?}", String::from_utf8_lossy(&input[..input.len().min(60)]));
    }
}

/// Replaces the value after HELLO's `id` field (RESP2 `$2\r\nid\r\n:N` or RESP3 alike).
fn regex_lite_replace_id(text: &str) -> String {
    let marker = "$2\r\nid\r\n:";
    match text.find(marker) {
        Some(at) => {
            let start = at + marker.len();
            let end = text[start..].find("\r\n").map(|e| start + e).unwrap_or(text.len());
            format!("{}<id>{}", &text[..start], &text[end..])
        }
        None => text.to_string(),
    }
}
