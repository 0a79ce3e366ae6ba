//! The typed reply every command handler returns; `encode` turns it into RESP2 or RESP3.

use bytes::Bytes;

use crate::error::ProtocolError;
use crate::number::{put_bulk_header, BULK_HEADER_MAX_BYTES};

/// The protocol version a connection speaks (`HELLO 2` / `HELLO 3`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RespVersion {
    Resp2,
    Resp3,
}

/// One reply, in the vocabulary of Redis 7.0's `addReply*` functions. Each variant notes
/// how it is written in RESP2 and in RESP3.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+text` (`addReplyStatus`).
    Simple(Bytes),
    /// `-text`, the full text including its code (`ERR ...`, `WRONGTYPE ...`). CR and LF are
    /// made harmless as `addReplyErrorFormat` does (see `encode`).
    Error(Bytes),
    /// `:n`.
    Integer(i64),
    /// `$len` + bytes.
    Bulk(Bytes),
    /// `addReplyNull`: RESP2 `$-1`, RESP3 `_`.
    Null,
    /// `addReplyNullArray`: RESP2 `*-1`, RESP3 `_`.
    NullArray,
    /// `*n`.
    Array(Vec<Reply>),
    /// `addReplyMapLen`: RESP2 a flat array of 2n, RESP3 `%n`.
    Map(Vec<(Reply, Reply)>),
    /// `addReplySetLen`: RESP2 an array, RESP3 `~n`.
    Set(Vec<Reply>),
    /// `addReplyDouble`: RESP2 a bulk of `format_double`, RESP3 `,` + `format_double`.
    Double(f64),
    /// `addReplyBool`: RESP2 `:1`/`:0`, RESP3 `#t`/`#f`.
    Bool(bool),
    /// `addReplyVerbatim`: RESP2 a bulk of the text, RESP3 `=len` + `fmt:` + text. The
    /// format is exactly 3 bytes (`txt`, `mkd`).
    Verbatim(&'static str, Bytes),
    /// `addReplyBigNum`: RESP2 a bulk, RESP3 `(`.
    BigNumber(Bytes),
    /// `addReplyPushLen`: RESP2 an array (how 7.0 sends pub/sub messages), RESP3 `>n`.
    Push(Vec<Reply>),
    /// An array, set or map whose items are all bulk strings, held as the bytes they are
    /// sent as (see `BulkStrings`). Written like `Array`, `Set` or `Map` of `Bulk`s.
    Bulks(Aggregate, BulkStrings),
}

/// The aggregate type a `Reply::Bulks` is sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// `*n` in both protocols.
    Array,
    /// `addReplySetLen`: RESP2 `*n`, RESP3 `~n`.
    Set,
    /// `addReplyMapLen`: RESP2 `*2n`, RESP3 `%n`; the items alternate key, value.
    Map,
}

/// Bulk strings appended straight into the bytes they are sent as:
///
/// ```text
/// ┌─────┬─────────┬──────┬─────────┬──────┬─────┬─────────┬──────┬─────────┬──────┬─────
/// │ '$' │ len     │ \r\n │ item 0  │ \r\n │ '$' │ len     │ \r\n │ item 1  │ \r\n │ ...
/// │     │ decimal │      │ bytes   │      │     │ decimal │      │ bytes   │      │
/// └─────┴─────────┴──────┴─────────┴──────┴─────┴─────────┴──────┴─────────┴──────┴─────
/// ```
///
/// A bulk string is written the same in RESP2 and RESP3, so the items can be encoded before
/// the connection's protocol is known. A range read from storage (LRANGE, HGETALL) costs one
/// buffer, not an allocation, a copy and a free per item: callgrind measured those at
/// about 600 instructions per item of a 100-item LRANGE.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BulkStrings {
    count: usize,
    encoded: Vec<u8>,
}

/// What `$len\r\n` and the closing `\r\n` add to a bulk string: `$`, up to 20 digits, two CRLFs.
const BULK_FRAMING_MAX_BYTES: usize = BULK_HEADER_MAX_BYTES + 2;

impl BulkStrings {
    /// Room for `count` items of `item_bytes` bytes each, so a range of like-sized items
    /// grows the buffer rarely. The caller bounds `count` (a range never preallocates past
    /// its own limit).
    pub fn with_capacity(count: usize, item_bytes: usize) -> BulkStrings {
        BulkStrings { count: 0, encoded: Vec::with_capacity(count * (item_bytes + BULK_FRAMING_MAX_BYTES)) }
    }

    /// Appends one bulk string.
    pub fn push(&mut self, bytes: &[u8]) {
        self.encoded.reserve(bytes.len() + BULK_FRAMING_MAX_BYTES);
        put_bulk_header(bytes.len(), &mut self.encoded);
        self.encoded.extend_from_slice(bytes);
        self.encoded.extend_from_slice(b"\r\n");
        self.count += 1;
    }

    /// How many bulk strings were pushed.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether none was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The items, in order, read back from their encoding.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut rest = self.encoded.as_slice();
        std::iter::from_fn(move || {
            // Only `push` wrote `encoded`: `$`, digits, CRLF, the bytes, CRLF.
            let line_end = rest.iter().position(|&b| b == b'\r')?;
            let len: usize = std::str::from_utf8(&rest[1..line_end]).ok()?.parse().ok()?;
            let item = &rest[line_end + 2..line_end + 2 + len];
            rest = &rest[line_end + 2 + len + 2..];
            Some(item)
        })
    }

    /// The encoded items, for `encode`.
    pub(crate) fn encoded(&self) -> &[u8] {
        &self.encoded
    }
}

impl<B: AsRef<[u8]>> FromIterator<B> for BulkStrings {
    fn from_iter<I: IntoIterator<Item = B>>(items: I) -> BulkStrings {
        let mut bulks = BulkStrings::default();
        for item in items {
            bulks.push(item.as_ref());
        }
        bulks
    }
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Simple(Bytes::from_static(b"OK"))
    }

    /// A simple string.
    pub fn simple(text: impl Into<Bytes>) -> Reply {
        Reply::Simple(text.into())
    }

    /// An error with its full text, code included: `Reply::error("WRONGTYPE Operation ...")`.
    pub fn error(text: impl Into<Bytes>) -> Reply {
        Reply::Error(text.into())
    }

    /// An `ERR` error: `Reply::err("syntax error")` is `-ERR syntax error`, as
    /// `addReplyError` prefixes a message that carries no code.
    pub fn err(message: impl AsRef<[u8]>) -> Reply {
        let message = message.as_ref();
        let mut text = Vec::with_capacity(ERR_PREFIX.len() + message.len());
        text.extend_from_slice(ERR_PREFIX);
        text.extend_from_slice(message);
        Reply::Error(Bytes::from(text))
    }

    /// A bulk string.
    pub fn bulk(bytes: impl Into<Bytes>) -> Reply {
        Reply::Bulk(bytes.into())
    }

    /// A bulk string, or `Null` when absent (GET of a missing key).
    pub fn bulk_or_null(bytes: Option<impl Into<Bytes>>) -> Reply {
        bytes.map_or(Reply::Null, Reply::bulk)
    }

    /// An array of bulk strings.
    pub fn bulk_array<I, B>(items: I) -> Reply
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        Reply::Bulks(Aggregate::Array, items.into_iter().collect())
    }

    /// A verbatim `txt` string (`INFO`, `CLIENT INFO`, `LOLWUT` in RESP3).
    pub fn verbatim_text(text: impl Into<Bytes>) -> Reply {
        Reply::Verbatim("txt", text.into())
    }

    /// Whether this is an error reply (for error stats, MULTI's EXECABORT, and so on).
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

/// The code `addReplyError` puts before a message that has none.
const ERR_PREFIX: &[u8] = b"ERR ";

impl From<ProtocolError> for Reply {
    /// `-ERR Protocol error: ...`, with the raw byte of `expected '$', got 'X'`.
    fn from(error: ProtocolError) -> Reply {
        Reply::err(error.message_bytes())
    }
}
