//! The protocol errors of the request parser.
//!
//! Each variant's `Display` is the exact text Redis 7.0 replies with (networking.c,
//! `processInlineBuffer` / `processMultibulkBuffer`), without the `ERR ` prefix that
//! `addReplyError` adds. After any of them Redis sets `CLIENT_CLOSE_AFTER_REPLY`: the
//! connection sends the error and closes, so the parser is not meant to be used again.

use bytes::Bytes;

/// A request that breaks the RESP or inline protocol.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum ProtocolError {
    /// No `\n` within `PROTO_INLINE_MAX_SIZE` bytes of an inline request.
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    /// An inline request whose quoting `sdssplitargs` rejects.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// No `\r` within `PROTO_INLINE_MAX_SIZE` bytes of a `*<count>` line.
    #[error("Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    /// The `*<count>` is not a `string2ll` number or is above `i32::MAX`.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// More than `UNAUTHENTICATED_MAX_ARGS` arguments before AUTH.
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// No `\r` within `PROTO_INLINE_MAX_SIZE` bytes of a `$<len>` line.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// An argument header that does not start with `$` (this is also how a nested
    /// array in a request is refused). The byte is the raw byte Redis prints with `%c`.
    #[error("Protocol error: expected '$', got '{}'", char::from(*.0))]
    ExpectedDollar(u8),
    /// The `$<len>` is not a `string2ll` number, is negative or above `proto-max-bulk-len`.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// A bulk longer than `UNAUTHENTICATED_MAX_BULK_LEN` before AUTH.
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

impl ProtocolError {
    /// The exact bytes of the message (no `ERR ` prefix).
    ///
    /// Differs from `to_string()` only for `ExpectedDollar` with a byte >= 0x80: Redis
    /// prints that raw byte with `%c`, while `Display` (a `str`) must spell it as a
    /// two-byte UTF-8 character.
    pub fn message_bytes(&self) -> Bytes {
        match self {
            ProtocolError::ExpectedDollar(byte) => {
                let mut text = b"Protocol error: expected '$', got '".to_vec();
                text.push(*byte);
                text.push(b'\'');
                Bytes::from(text)
            }
            other => Bytes::from(other.to_string()),
        }
    }
}
