//! The typed reply every command handler returns; `encode` turns it into RESP2 or RESP3.

use bytes::Bytes;

use crate::error::ProtocolError;

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
        B: Into<Bytes>,
    {
        Reply::Array(items.into_iter().map(Reply::bulk).collect())
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
