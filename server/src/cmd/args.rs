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

/// An argument as C's string functions read it: up to its first NUL byte. Redis compares
/// most option names with `strcasecmp` (or `opt[2] == '\0'`), so `"NX\0junk"` is `NX` to it.
pub fn c_str(arg: &[u8]) -> &[u8] {
    arg.iter().position(|&b| b == 0).map_or(arg, |end| &arg[..end])
}
