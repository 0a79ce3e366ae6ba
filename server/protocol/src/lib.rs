//! RESP2/RESP3 wire protocol of Redrock: the request parser (multibulk and inline, with
//! Redis 7.0's limits and exact error texts) and the reply encoder (the exact bytes Redis
//! 7.0 sends). It knows nothing of storage or of the server around it.

mod encode;
mod error;
mod number;
mod reply;
mod request;
mod splitargs;
pub use splitargs::split_args;

pub use encode::{encode, VERBATIM_FORMAT_LEN};
pub use error::ProtocolError;
pub use number::{format_double, string2ll, write_i64, DOUBLE_PRECISION, I64_MAX_CHARS, LONG_STR_SIZE};
pub use reply::{Aggregate, BulkStrings, Reply, RespVersion};
pub use request::{
    Limits, RequestParser, PROTO_INLINE_MAX_SIZE, PROTO_MAX_ARGV_PREALLOC, PROTO_MAX_BULK_LEN_DEFAULT,
    PROTO_MAX_MULTIBULK_LEN, PROTO_MBULK_BIG_ARG, UNAUTHENTICATED_MAX_ARGS, UNAUTHENTICATED_MAX_BULK_LEN,
};
