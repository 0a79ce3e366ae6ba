//! Writes a `Reply` as the exact bytes Redis 7.0 sends (networking.c `addReply*`).

use bytes::{BufMut, BytesMut};

use crate::number::{format_double, put_bulk_header, write_i64, BULK_HEADER_MAX_BYTES, I64_MAX_CHARS};
use crate::reply::{Aggregate, Reply, RespVersion};

const CRLF: &[u8] = b"\r\n";

/// Appends the encoding of `reply` for a connection speaking `version` to `out`.
pub fn encode(reply: &Reply, version: RespVersion, out: &mut BytesMut) {
    let resp3 = version == RespVersion::Resp3;
    match reply {
        Reply::Simple(text) => write_line_sanitized(b'+', text, out),
        Reply::Error(text) => write_line_sanitized(b'-', text, out),
        Reply::Integer(value) => write_prefixed_i64(b':', *value, out),
        Reply::Bulk(bytes) => write_bulk(bytes, out),
        Reply::Null if resp3 => out.put_slice(b"_\r\n"),
        Reply::Null => out.put_slice(b"$-1\r\n"),
        Reply::NullArray if resp3 => out.put_slice(b"_\r\n"),
        Reply::NullArray => out.put_slice(b"*-1\r\n"),
        Reply::Array(items) => write_aggregate(b'*', items, version, out),
        Reply::Set(items) => write_aggregate(if resp3 { b'~' } else { b'*' }, items, version, out),
        Reply::Push(items) => write_aggregate(if resp3 { b'>' } else { b'*' }, items, version, out),
        Reply::Map(pairs) => {
            // addReplyMapLen: RESP2 has no map type, so a map is an array of 2n items.
            if resp3 {
                write_len(b'%', pairs.len(), out);
            } else {
                write_len(b'*', pairs.len() * 2, out);
            }
            for (key, value) in pairs {
                encode(key, version, out);
                encode(value, version, out);
            }
        }
        Reply::Bulks(aggregate, bulks) => {
            match (aggregate, resp3) {
                (Aggregate::Array, _) | (Aggregate::Set, false) => write_len(b'*', bulks.len(), out),
                (Aggregate::Set, true) => write_len(b'~', bulks.len(), out),
                (Aggregate::Map, false) => write_len(b'*', bulks.len(), out),
                (Aggregate::Map, true) => {
                    debug_assert!(bulks.len() % 2 == 0, "a map of {} bulk strings", bulks.len());
                    write_len(b'%', bulks.len() / 2, out)
                }
            }
            out.put_slice(bulks.encoded());
        }
        Reply::Double(value) => {
            // addReplyDouble (7.0): "%.17g"; RESP2 clients get it as a bulk string.
            let text = format_double(*value);
            if resp3 {
                out.put_u8(b',');
                out.put_slice(text.as_bytes());
                out.put_slice(CRLF);
            } else {
                write_bulk(text.as_bytes(), out);
            }
        }
        Reply::Bool(value) => match (resp3, value) {
            (true, true) => out.put_slice(b"#t\r\n"),
            (true, false) => out.put_slice(b"#f\r\n"),
            (false, true) => out.put_slice(b":1\r\n"),
            (false, false) => out.put_slice(b":0\r\n"),
        },
        Reply::Verbatim(format, text) => {
            if resp3 {
                // addReplyVerbatim: "=<len+4>\r\n<fmt>:<text>\r\n"; the format is 3 bytes.
                debug_assert_eq!(format.len(), VERBATIM_FORMAT_LEN, "verbatim format {format:?}");
                write_len(b'=', text.len() + format.len() + 1, out);
                out.put_slice(format.as_bytes());
                out.put_u8(b':');
                out.put_slice(text);
                out.put_slice(CRLF);
            } else {
                write_bulk(text, out);
            }
        }
        Reply::BigNumber(digits) => {
            if resp3 {
                out.put_u8(b'(');
                out.put_slice(digits);
                out.put_slice(CRLF);
            } else {
                write_bulk(digits, out);
            }
        }
    }
}

/// The length of a verbatim string's format tag (`txt`, `mkd`).
pub const VERBATIM_FORMAT_LEN: usize = 3;

fn write_aggregate(prefix: u8, items: &[Reply], version: RespVersion, out: &mut BytesMut) {
    write_len(prefix, items.len(), out);
    for item in items {
        encode(item, version, out);
    }
}

fn write_bulk(bytes: &[u8], out: &mut BytesMut) {
    out.reserve(BULK_HEADER_MAX_BYTES + bytes.len() + 2);
    put_bulk_header(bytes.len(), out);
    out.put_slice(bytes);
    out.put_slice(CRLF);
}

fn write_len(prefix: u8, len: usize, out: &mut BytesMut) {
    // A Vec or a slice never holds more than isize::MAX items or bytes.
    write_prefixed_i64(prefix, len as i64, out);
}

fn write_prefixed_i64(prefix: u8, value: i64, out: &mut BytesMut) {
    let mut digits = [0u8; I64_MAX_CHARS];
    out.put_u8(prefix);
    out.put_slice(write_i64(value, &mut digits));
    out.put_slice(CRLF);
}

/// Writes a status or error line so that it cannot break the stream, as Redis 7.0's
/// `addReplyErrorFormat` (and `addReplyStatusFormat` for Lua status replies) does:
/// `sdstrim(s, "\r\n")` drops CR/LF at both ends, then `sdsmapchars` turns the ones
/// left inside into spaces. `-ERR x\ny\n` from a script reaches the client as `-ERR x y`.
fn write_line_sanitized(prefix: u8, text: &[u8], out: &mut BytesMut) {
    let is_newline = |b: &u8| *b == b'\r' || *b == b'\n';
    let start = text.iter().position(|b| !is_newline(b)).unwrap_or(text.len());
    let end = text.iter().rposition(|b| !is_newline(b)).map_or(start, |i| i + 1);
    let text = &text[start..end];
    out.reserve(text.len() + 3);
    out.put_u8(prefix);
    if text.iter().any(is_newline) {
        out.extend(text.iter().map(|&b| if is_newline(&b) { b' ' } else { b }));
    } else {
        out.put_slice(text);
    }
    out.put_slice(CRLF);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::BulkStrings;
    use bytes::Bytes;

    fn enc(reply: &Reply, version: RespVersion) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(reply, version, &mut out);
        out.to_vec()
    }

    /// Checks the RESP2 and RESP3 bytes of `reply`.
    fn check(reply: Reply, resp2: &[u8], resp3: &[u8]) {
        assert_eq!(Bytes::from(enc(&reply, RespVersion::Resp2)), Bytes::copy_from_slice(resp2), "RESP2 of {reply:?}");
        assert_eq!(Bytes::from(enc(&reply, RespVersion::Resp3)), Bytes::copy_from_slice(resp3), "RESP3 of {reply:?}");
    }

    #[test]
    fn scalars() {
        check(Reply::ok(), b"+OK\r\n", b"+OK\r\n");
        check(Reply::simple("PONG"), b"+PONG\r\n", b"+PONG\r\n");
        check(
            Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value"),
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        );
        check(Reply::err("syntax error"), b"-ERR syntax error\r\n", b"-ERR syntax error\r\n");
        check(Reply::Integer(0), b":0\r\n", b":0\r\n");
        check(Reply::Integer(-42), b":-42\r\n", b":-42\r\n");
        check(Reply::Integer(i64::MIN), b":-9223372036854775808\r\n", b":-9223372036854775808\r\n");
        check(Reply::Integer(i64::MAX), b":9223372036854775807\r\n", b":9223372036854775807\r\n");
        check(Reply::bulk("foo"), b"$3\r\nfoo\r\n", b"$3\r\nfoo\r\n");
        check(Reply::bulk(""), b"$0\r\n\r\n", b"$0\r\n\r\n");
        check(Reply::bulk("a\r\nb"), b"$4\r\na\r\nb\r\n", b"$4\r\na\r\nb\r\n");
        check(Reply::Null, b"$-1\r\n", b"_\r\n");
        check(Reply::NullArray, b"*-1\r\n", b"_\r\n");
        check(Reply::Bool(true), b":1\r\n", b"#t\r\n");
        check(Reply::Bool(false), b":0\r\n", b"#f\r\n");
        check(
            Reply::BigNumber(Bytes::from_static(b"1234567999999999999999999999")),
            b"$28\r\n1234567999999999999999999999\r\n",
            b"(1234567999999999999999999999\r\n",
        );
        check(Reply::verbatim_text("some text"), b"$9\r\nsome text\r\n", b"=13\r\ntxt:some text\r\n");
        check(
            Reply::Verbatim("txt", Bytes::from_static(b"some other text")),
            b"$15\r\nsome other text\r\n",
            b"=19\r\ntxt:some other text\r\n",
        );
    }

    #[test]
    fn doubles() {
        check(Reply::Double(1.5), b"$3\r\n1.5\r\n", b",1.5\r\n");
        check(Reply::Double(1.1), b"$18\r\n1.1000000000000001\r\n", b",1.1000000000000001\r\n");
        check(Reply::Double(0.0), b"$1\r\n0\r\n", b",0\r\n");
        check(Reply::Double(-0.0), b"$2\r\n-0\r\n", b",-0\r\n");
        check(Reply::Double(1e17), b"$5\r\n1e+17\r\n", b",1e+17\r\n");
        check(Reply::Double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n");
        check(Reply::Double(f64::NEG_INFINITY), b"$4\r\n-inf\r\n", b",-inf\r\n");
        check(Reply::Double(f64::NAN), b"$3\r\nnan\r\n", b",nan\r\n");
    }

    #[test]
    fn aggregates() {
        check(Reply::Array(vec![]), b"*0\r\n", b"*0\r\n");
        check(
            Reply::Array(vec![Reply::bulk("a"), Reply::Integer(1), Reply::Null]),
            b"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n",
            b"*3\r\n$1\r\na\r\n:1\r\n_\r\n",
        );
        check(
            Reply::Map(vec![(Reply::bulk("a"), Reply::Integer(1)), (Reply::bulk("b"), Reply::Double(2.5))]),
            b"*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$3\r\n2.5\r\n",
            b"%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n,2.5\r\n",
        );
        check(Reply::Map(vec![]), b"*0\r\n", b"%0\r\n");
        check(
            Reply::Set(vec![Reply::bulk("x"), Reply::bulk("y")]),
            b"*2\r\n$1\r\nx\r\n$1\r\ny\r\n",
            b"~2\r\n$1\r\nx\r\n$1\r\ny\r\n",
        );
        check(
            Reply::Push(vec![Reply::bulk("message"), Reply::bulk("ch"), Reply::bulk("hi")]),
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        );
        check(
            Reply::Array(vec![Reply::NullArray, Reply::Array(vec![Reply::Bool(true)]), Reply::Set(vec![])]),
            b"*3\r\n*-1\r\n*1\r\n:1\r\n*0\r\n",
            b"*3\r\n_\r\n*1\r\n#t\r\n~0\r\n",
        );
        check(Reply::bulk_array(["a", "bc"]), b"*2\r\n$1\r\na\r\n$2\r\nbc\r\n", b"*2\r\n$1\r\na\r\n$2\r\nbc\r\n");
        check(Reply::bulk_array(Vec::<&[u8]>::new()), b"*0\r\n", b"*0\r\n");
    }

    /// `Reply::Bulks` is sent exactly as the same items as `Bulk` replies in an `Array`,
    /// `Set` or `Map` are, in both protocols.
    #[test]
    fn bulks_are_sent_as_their_structured_twins() {
        let items: [&[u8]; 4] = [b"", b"a\r\nb", b"0123456789", b"x"];
        let bulks: BulkStrings = items.iter().collect();
        let structured: Vec<Reply> = items.iter().map(|i| Reply::bulk(Bytes::copy_from_slice(i))).collect();
        let pairs = structured.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
        for (aggregate, twin) in [
            (Aggregate::Array, Reply::Array(structured.clone())),
            (Aggregate::Set, Reply::Set(structured.clone())),
            (Aggregate::Map, Reply::Map(pairs)),
        ] {
            for version in [RespVersion::Resp2, RespVersion::Resp3] {
                assert_eq!(enc(&Reply::Bulks(aggregate, bulks.clone()), version), enc(&twin, version), "{aggregate:?}");
            }
        }
        assert_eq!(bulks.len(), 4);
        assert_eq!(bulks.iter().collect::<Vec<_>>(), items);
    }

    #[test]
    fn error_and_status_newlines_are_made_harmless_like_redis() {
        // Real Redis 7.0.15: EVAL "return redis.error_reply('\nx\ny\n')" 0 → "-ERR x y\r\n".
        check(Reply::error("ERR x\ny\n"), b"-ERR x y\r\n", b"-ERR x y\r\n");
        check(Reply::error("\r\nERR a\r\nb"), b"-ERR a  b\r\n", b"-ERR a  b\r\n");
        check(Reply::simple("a\nb"), b"+a b\r\n", b"+a b\r\n");
        check(Reply::error("\r\n"), b"-\r\n", b"-\r\n");
    }

    #[test]
    fn protocol_error_reply_keeps_the_raw_byte() {
        use crate::ProtocolError;
        check(
            Reply::from(ProtocolError::InvalidBulkLength),
            b"-ERR Protocol error: invalid bulk length\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        );
        // Real Redis 7.0.15 answers "*1\r\n\xff\r\n" with the raw 0xff byte.
        check(
            Reply::from(ProtocolError::ExpectedDollar(0xff)),
            b"-ERR Protocol error: expected '$', got '\xff'\r\n",
            b"-ERR Protocol error: expected '$', got '\xff'\r\n",
        );
        // ... and "*1\r\n\r\n" with a space where the '\r' was.
        check(
            Reply::from(ProtocolError::ExpectedDollar(b'\r')),
            b"-ERR Protocol error: expected '$', got ' '\r\n",
            b"-ERR Protocol error: expected '$', got ' '\r\n",
        );
    }
}
