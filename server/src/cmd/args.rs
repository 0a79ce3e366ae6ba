//! Argument parsing shared by handlers, with Redis's errors.

use bytes::Bytes;

use crate::error::{Error, Result};

/// Redis's `getLongLongFromObject`: the whole argument must be a canonical i64.
pub fn parse_i64(arg: &[u8]) -> Result<i64> {
    redrock_protocol::string2ll(arg).ok_or(Error::NotInteger)
}

/// Redis's `getDoubleFromObject` (strtod semantics).
pub fn parse_f64(arg: &[u8]) -> Result<f64> {
    crate::float::parse_f64(arg).ok_or(Error::NotFloat)
}

/// Case-insensitive comparison of an argument with an option name.
pub fn is(arg: &[u8], option: &str) -> bool {
    arg.eq_ignore_ascii_case(option.as_bytes())
}

/// Argument `i` as text, for error messages and option names.
pub fn text(arg: &Bytes) -> String {
    String::from_utf8_lossy(arg).into_owned()
}
