//! RESP2/RESP3 reply reader and command encoder.
//!
//! The harness reads replies with its own reader, never with the server's codec, so a codec
//! bug in the server under test cannot hide itself in the comparison. Every length the reader
//! accepts from the wire is bounded by a named limit: a broken server must produce an error,
//! not an out-of-memory abort.

use std::io::{self, BufRead, Read, Write};

/// Longest simple line (`+`, `-`, `:`, `,`, `(`, `#`, `_` and length headers) we accept.
pub const MAX_LINE_LEN: usize = 64 * 1024;
/// Largest bulk payload we accept: Redis's own default `proto-max-bulk-len` (512 MiB).
pub const MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Most elements in one aggregate (array, set, push, map pairs).
pub const MAX_AGGREGATE_LEN: usize = 16 * 1024 * 1024;
/// Deepest nesting of aggregates; deeper replies are rejected instead of overflowing the stack.
pub const MAX_DEPTH: usize = 128;
/// Elements pre-allocated for an aggregate before its children are actually read, so a lying
/// length header cannot make us reserve gigabytes up front.
const MAX_PREALLOC: usize = 1024;
/// Bytes pre-allocated for a bulk payload before it arrives (same reason).
const MAX_PREALLOC_BYTES: usize = 64 * 1024;

/// One reply as it came off the wire. Variants keep the wire text where the text itself is
/// what compatibility is about (doubles and big numbers are compared as written, not parsed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reply {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    /// RESP3 blob error (`!`).
    BlobError(Vec<u8>),
    Integer(i64),
    Bulk(Vec<u8>),
    /// RESP2 `$-1`.
    NullBulk,
    /// RESP2 `*-1`.
    NullArray,
    /// RESP3 `_`.
    Null,
    /// RESP3 `,` with its exact wire text.
    Double(String),
    Boolean(bool),
    /// RESP3 `(` with its exact wire text.
    BigNumber(String),
    Verbatim {
        format: String,
        text: Vec<u8>,
    },
    Array(Vec<Reply>),
    Set(Vec<Reply>),
    Push(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    /// RESP3 attribute (`|`) followed by the reply it annotates.
    Attribute {
        attrs: Vec<(Reply, Reply)>,
        reply: Box<Reply>,
    },
}

impl Reply {
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_) | Reply::BlobError(_))
    }

    /// The RESP type name used in transcripts.
    pub fn type_name(&self) -> &'static str {
        match self {
            Reply::Simple(_) => "simple",
            Reply::Error(_) => "error",
            Reply::BlobError(_) => "bloberror",
            Reply::Integer(_) => "int",
            Reply::Bulk(_) => "bulk",
            Reply::NullBulk => "null-bulk",
            Reply::NullArray => "null-array",
            Reply::Null => "null",
            Reply::Double(_) => "double",
            Reply::Boolean(_) => "bool",
            Reply::BigNumber(_) => "bignum",
            Reply::Verbatim { .. } => "verbatim",
            Reply::Array(_) => "array",
            Reply::Set(_) => "set",
            Reply::Push(_) => "push",
            Reply::Map(_) => "map",
            Reply::Attribute { .. } => "attribute",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RespError {
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("connection closed by the server")]
    Closed,
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("{what} of {len} exceeds the limit {limit}")]
    TooLarge { what: &'static str, len: usize, limit: usize },
}

fn protocol(msg: impl Into<String>) -> RespError {
    RespError::Protocol(msg.into())
}

/// Reads one CRLF-terminated line without its terminator, bounded by [`MAX_LINE_LEN`].
fn read_line<R: BufRead>(r: &mut R) -> Result<Vec<u8>, RespError> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Err(RespError::Closed);
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                line.extend_from_slice(&buf[..=i]);
                r.consume(i + 1);
                break;
            }
            None => {
                let n = buf.len();
                line.extend_from_slice(buf);
                r.consume(n);
            }
        }
        if line.len() > MAX_LINE_LEN {
            return Err(RespError::TooLarge { what: "line", len: line.len(), limit: MAX_LINE_LEN });
        }
    }
    if line.len() > MAX_LINE_LEN + 2 {
        return Err(RespError::TooLarge { what: "line", len: line.len(), limit: MAX_LINE_LEN });
    }
    if line.len() < 2 || line[line.len() - 2] != b'\r' {
        return Err(protocol("line not terminated by CRLF"));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn parse_int(s: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| protocol(format!("bad integer {:?}", String::from_utf8_lossy(s))))
}

/// Parses a length header; `Ok(None)` is the RESP2 `-1` null.
fn parse_len(s: &[u8], what: &'static str, limit: usize) -> Result<Option<usize>, RespError> {
    let n = parse_int(s)?;
    if n == -1 {
        return Ok(None);
    }
    if n < 0 {
        return Err(protocol(format!("negative {what} {n}")));
    }
    let n = n as usize;
    if n > limit {
        return Err(RespError::TooLarge { what, len: n, limit });
    }
    Ok(Some(n))
}

fn read_exact_crlf<R: BufRead>(r: &mut R, len: usize) -> Result<Vec<u8>, RespError> {
    // Grow with the data actually received: a length header alone must not make us
    // allocate up to MAX_BULK_LEN.
    let mut data = Vec::with_capacity(len.min(MAX_PREALLOC_BYTES) + 2);
    r.take(len as u64 + 2).read_to_end(&mut data)?;
    if data.len() < len + 2 {
        return Err(RespError::Closed);
    }
    if &data[len..] != b"\r\n" {
        return Err(protocol("bulk payload not terminated by CRLF"));
    }
    data.truncate(len);
    Ok(data)
}

fn text(s: Vec<u8>) -> Result<String, RespError> {
    String::from_utf8(s).map_err(|_| protocol("non-UTF-8 numeric text"))
}

/// Reads one complete reply.
pub fn read_reply<R: BufRead>(r: &mut R) -> Result<Reply, RespError> {
    read_nested(r, 0)
}

fn read_nested<R: BufRead>(r: &mut R, depth: usize) -> Result<Reply, RespError> {
    if depth > MAX_DEPTH {
        return Err(RespError::TooLarge { what: "nesting depth", len: depth, limit: MAX_DEPTH });
    }
    let line = read_line(r)?;
    let (&kind, rest) = line.split_first().ok_or_else(|| protocol("empty reply line"))?;
    let rest = rest.to_vec();
    Ok(match kind {
        b'+' => Reply::Simple(rest),
        b'-' => Reply::Error(rest),
        b':' => Reply::Integer(parse_int(&rest)?),
        b',' => Reply::Double(text(rest)?),
        b'(' => Reply::BigNumber(text(rest)?),
        b'_' => Reply::Null,
        b'#' => match rest.as_slice() {
            b"t" => Reply::Boolean(true),
            b"f" => Reply::Boolean(false),
            _ => return Err(protocol("bad boolean")),
        },
        b'$' => match parse_len(&rest, "bulk length", MAX_BULK_LEN)? {
            None => Reply::NullBulk,
            Some(n) => Reply::Bulk(read_exact_crlf(r, n)?),
        },
        b'!' => match parse_len(&rest, "blob error length", MAX_BULK_LEN)? {
            None => return Err(protocol("null blob error")),
            Some(n) => Reply::BlobError(read_exact_crlf(r, n)?),
        },
        b'=' => match parse_len(&rest, "verbatim length", MAX_BULK_LEN)? {
            None => return Err(protocol("null verbatim string")),
            Some(n) => {
                let data = read_exact_crlf(r, n)?;
                if data.len() < 4 || data[3] != b':' {
                    return Err(protocol("verbatim string without a 3-byte format"));
                }
                Reply::Verbatim { format: String::from_utf8_lossy(&data[..3]).into_owned(), text: data[4..].to_vec() }
            }
        },
        b'*' | b'~' | b'>' => match parse_len(&rest, "aggregate length", MAX_AGGREGATE_LEN)? {
            None if kind == b'*' => Reply::NullArray,
            None => return Err(protocol("null set or push")),
            Some(n) => {
                let mut items = Vec::with_capacity(n.min(MAX_PREALLOC));
                for _ in 0..n {
                    items.push(read_nested(r, depth + 1)?);
                }
                match kind {
                    b'*' => Reply::Array(items),
                    b'~' => Reply::Set(items),
                    _ => Reply::Push(items),
                }
            }
        },
        b'%' | b'|' => match parse_len(&rest, "map length", MAX_AGGREGATE_LEN)? {
            None => return Err(protocol("null map")),
            Some(n) => {
                let mut pairs = Vec::with_capacity(n.min(MAX_PREALLOC));
                for _ in 0..n {
                    let k = read_nested(r, depth + 1)?;
                    let v = read_nested(r, depth + 1)?;
                    pairs.push((k, v));
                }
                if kind == b'%' {
                    Reply::Map(pairs)
                } else {
                    Reply::Attribute { attrs: pairs, reply: Box::new(read_nested(r, depth + 1)?) }
                }
            }
        },
        other => return Err(protocol(format!("unknown reply type byte 0x{other:02x}"))),
    })
}

/// Appends one command, encoded as a RESP multibulk, to `out`.
pub fn encode_command(args: &[Vec<u8>], out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "*{}\r\n", args.len());
    for a in args {
        let _ = write!(out, "${}\r\n", a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<Reply, RespError> {
        read_reply(&mut &bytes[..])
    }

    #[test]
    fn scalars() {
        assert_eq!(parse(b"+OK\r\n").unwrap(), Reply::Simple(b"OK".to_vec()));
        assert_eq!(parse(b"-ERR x\r\n").unwrap(), Reply::Error(b"ERR x".to_vec()));
        assert_eq!(parse(b":-42\r\n").unwrap(), Reply::Integer(-42));
        assert_eq!(parse(b"$-1\r\n").unwrap(), Reply::NullBulk);
        assert_eq!(parse(b"*-1\r\n").unwrap(), Reply::NullArray);
        assert_eq!(parse(b"_\r\n").unwrap(), Reply::Null);
        assert_eq!(parse(b"#t\r\n").unwrap(), Reply::Boolean(true));
        assert_eq!(parse(b",1.5\r\n").unwrap(), Reply::Double("1.5".into()));
        assert_eq!(parse(b"(123\r\n").unwrap(), Reply::BigNumber("123".into()));
        assert_eq!(parse(b"$4\r\na\r\nb\r\n").unwrap(), Reply::Bulk(b"a\r\nb".to_vec()));
        assert_eq!(
            parse(b"=8\r\ntxt:abcd\r\n").unwrap(),
            Reply::Verbatim { format: "txt".into(), text: b"abcd".to_vec() }
        );
    }

    #[test]
    fn aggregates() {
        let r = parse(b"*2\r\n:1\r\n%1\r\n+a\r\n~1\r\n_\r\n").unwrap();
        assert_eq!(
            r,
            Reply::Array(vec![
                Reply::Integer(1),
                Reply::Map(vec![(Reply::Simple(b"a".to_vec()), Reply::Set(vec![Reply::Null]))])
            ])
        );
        let p = parse(b">2\r\n+message\r\n$1\r\nx\r\n").unwrap();
        assert!(matches!(p, Reply::Push(ref v) if v.len() == 2));
    }

    #[test]
    fn incomplete_and_malformed() {
        assert!(matches!(parse(b"$5\r\nab"), Err(RespError::Closed)));
        // A large declared length with little data: an early close, not a huge allocation.
        assert!(matches!(parse(b"$500000000\r\nabc"), Err(RespError::Closed)));
        assert!(matches!(parse(b"+OK"), Err(RespError::Closed)));
        assert!(matches!(parse(b"?x\r\n"), Err(RespError::Protocol(_))));
        assert!(matches!(parse(b"$3\r\nabcd\r\n"), Err(RespError::Protocol(_))));
        assert!(matches!(parse(b":x\r\n"), Err(RespError::Protocol(_))));
        assert!(matches!(parse(b"+OK\n"), Err(RespError::Protocol(_))));
    }

    #[test]
    fn limits() {
        let huge = format!("${}\r\n", MAX_BULK_LEN + 1);
        assert!(matches!(parse(huge.as_bytes()), Err(RespError::TooLarge { .. })));
        let agg = format!("*{}\r\n", MAX_AGGREGATE_LEN + 1);
        assert!(matches!(parse(agg.as_bytes()), Err(RespError::TooLarge { .. })));
        let deep = "*1\r\n".repeat(MAX_DEPTH + 2) + ":1\r\n";
        assert!(matches!(parse(deep.as_bytes()), Err(RespError::TooLarge { .. })));
        let long = format!("+{}\r\n", "a".repeat(MAX_LINE_LEN + 10));
        assert!(matches!(parse(long.as_bytes()), Err(RespError::TooLarge { .. })));
    }

    #[test]
    fn encodes_binary_commands() {
        let mut out = Vec::new();
        encode_command(&[b"SET".to_vec(), b"k".to_vec(), b"\x00\r\n".to_vec()], &mut out);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\x00\r\n\r\n".to_vec());
    }
}
