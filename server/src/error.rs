//! Every error a command can reply with, and the one place that renders it to Redis's text.
//! The texts are part of the protocol: clients match on them.

use bytes::Bytes;
use redrock_protocol::Reply;
use thiserror::Error;

use crate::storage::StorageError;

#[derive(Debug, Error)]
pub enum Error {
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    #[error("ERR value is not a valid float")]
    NotFloat,
    #[error("ERR syntax error")]
    Syntax,
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    UnknownCommand { name: String, args: String },
    #[error("ERR unknown subcommand '{sub}'. Try {container} HELP.")]
    UnknownSubcommand { sub: String, container: String },
    #[error("ERR no such key")]
    NoSuchKey,
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    #[error("ERR increment would produce NaN or Infinity")]
    NanOrInfinity,
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpireTime(String),
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    #[error("ERR invalid DB index")]
    InvalidDbIndex,
    #[error("NOAUTH Authentication required.")]
    NoAuth,
    #[error("WRONGPASS invalid username-password pair or user is disabled.")]
    WrongPass,
    #[error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")]
    AuthNotConfigured,
    /// Any other `ERR ...` text.
    #[error("ERR {0}")]
    Err(String),
    /// A full error text with its own code (`NOPROTO ...`, `BUSYKEY ...`).
    #[error("{0}")]
    Coded(String),
    #[error("ERR storage: {0}")]
    Storage(#[from] StorageError),
    /// A tenant (a connection in a namespace) ran an administrator's command (Kvrocks's text).
    #[error("ERR admin permission required to perform the command")]
    AdminRequired,
    /// The connection's user may not run this command (ACL).
    #[error("NOPERM this user has no permissions to run the '{0}' command")]
    NoPermCommand(String),
    /// The connection's user may not use one of the command's keys (ACL).
    #[error("NOPERM this user has no permissions to access one of the keys used as arguments")]
    NoPermKey,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn err(text: impl Into<String>) -> Error {
        Error::Err(text.into())
    }

    /// `ERR unknown command 'NAME', with args beginning with: 'a' 'b' ` as Redis 7.0 builds it:
    /// the name cut at 128 bytes, arguments quoted and appended while the list is under 128.
    pub fn unknown_command(args: &[Bytes]) -> Error {
        const LIMIT: usize = 128;
        let name = lossy_prefix(&args[0], LIMIT);
        let mut listed = String::new();
        for arg in &args[1..] {
            if listed.len() >= LIMIT {
                break;
            }
            let room = LIMIT - listed.len();
            listed.push('\'');
            listed.push_str(&lossy_prefix(arg, room));
            listed.push_str("' ");
        }
        Error::UnknownCommand { name, args: listed }
    }

    pub fn unknown_subcommand(container: &str, sub: &[u8]) -> Error {
        Error::UnknownSubcommand { sub: lossy_prefix(sub, 128), container: container.to_ascii_uppercase() }
    }
}

/// Up to `limit` bytes, cut at a NUL as C's `%s` does.
fn lossy_prefix(bytes: &[u8], limit: usize) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len()).min(limit);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl From<Error> for Reply {
    fn from(error: Error) -> Reply {
        if let Error::Storage(inner) = &error {
            tracing::error!(error = %inner, "storage error");
        }
        Reply::Error(Bytes::from(error.to_string()))
    }
}
