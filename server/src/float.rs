//! Redis's float parsing and INCRBYFLOAT arithmetic, through the C port in
//! `csrc/redis_float.c`: Redis computes INCRBYFLOAT in C `long double` and parses scores with
//! `strtod` (hex floats, `inf`, `infinity`), and both must match byte for byte.

use std::os::raw::{c_char, c_int};

use crate::error::{Error, Result};

extern "C" {
    fn redrock_incr_long_double(
        current: *const c_char,
        current_len: usize,
        has_current: c_int,
        incr: *const c_char,
        incr_len: usize,
        out: *mut c_char,
        out_len: usize,
    ) -> c_int;
    fn redrock_string2d(s: *const c_char, slen: usize, out: *mut f64) -> c_int;
    fn redrock_seconds_to_ms(s: *const c_char, slen: usize, out_ms: *mut i64) -> c_int;
}

/// Longest long double Redis prints ("%.17Lf" of 1e4932 is ~4950 characters).
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// Why a long double increment failed, for commands whose errors tell the cases apart
/// (HINCRBYFLOAT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncrFloatError {
    /// The stored value does not parse as a long double.
    CurrentNotFloat,
    /// The increment does not parse as a long double.
    IncrNotFloat,
    /// The sum is NaN or infinite.
    NanOrInfinity,
}

/// `current + incr` as Redis's INCRBYFLOAT computes and prints it (`None` = key absent).
pub fn incr_by_float(current: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>> {
    incr_long_double(current, incr).map_err(|e| match e {
        IncrFloatError::NanOrInfinity => Error::NanOrInfinity,
        IncrFloatError::CurrentNotFloat | IncrFloatError::IncrNotFloat => Error::NotFloat,
    })
}

/// `current + incr` in long double, printed as Redis prints it, with the failure's cause.
pub fn incr_long_double(current: Option<&[u8]>, incr: &[u8]) -> std::result::Result<Vec<u8>, IncrFloatError> {
    let mut out = vec![0u8; MAX_LONG_DOUBLE_CHARS];
    let (ptr, len) = current.map(|c| (c.as_ptr(), c.len())).unwrap_or((std::ptr::null(), 0));
    // SAFETY: every pointer is valid for its length; the C side writes at most `out.len()` bytes.
    let written = unsafe {
        redrock_incr_long_double(
            ptr as *const c_char,
            len,
            current.is_some() as c_int,
            incr.as_ptr() as *const c_char,
            incr.len(),
            out.as_mut_ptr() as *mut c_char,
            out.len(),
        )
    };
    match written {
        -1 => Err(IncrFloatError::CurrentNotFloat),
        -3 => Err(IncrFloatError::NanOrInfinity),
        n if n <= 0 => Err(IncrFloatError::IncrNotFloat),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

/// Digits of the longest integer read without strtod: below 10^15, under 2^53, so every one
/// is exact in an `f64` and no rounding can tell a reading apart.
const EXACT_INTEGER_DIGITS: usize = 15;

/// Redis's `string2d`: the whole argument must be a number strtod reads (no NaN, no overflow).
pub fn parse_f64(bytes: &[u8]) -> Option<f64> {
    // Scores are mostly integers ("ZADD key 0 member"; redis-benchmark's are 12 digits with
    // leading zeros): strtod's answer for one is the integer itself, and reading it here
    // skips the copy and the C call, ~600 of a pipelined ZADD's ~12 k worker instructions.
    plain_integer(bytes).or_else(|| strtod(bytes))
}

/// `bytes` as an integer of at most `EXACT_INTEGER_DIGITS` digits, with an optional `-`
/// (kept on zero, as strtod keeps it: "-0" is -0.0); `None` for any other spelling.
fn plain_integer(bytes: &[u8]) -> Option<f64> {
    let (negative, digits) = match bytes {
        [b'-', digits @ ..] => (true, digits),
        digits => (false, digits),
    };
    if digits.is_empty() || digits.len() > EXACT_INTEGER_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits.iter().fold(0u64, |n, digit| n * 10 + u64::from(digit - b'0')) as f64;
    Some(if negative { -magnitude } else { magnitude })
}

/// [`parse_f64`] through the C library's `strtod`, as Redis reads every spelling.
fn strtod(bytes: &[u8]) -> Option<f64> {
    let mut value = 0.0;
    // SAFETY: `bytes` is valid for its length; the C side copies it before reading.
    let ok = unsafe { redrock_string2d(bytes.as_ptr() as *const c_char, bytes.len(), &mut value) };
    (ok == 1).then_some(value)
}

/// A blocking command's timeout argument in milliseconds, as Redis 7.0.15 computes it: the
/// seconds read as a C long double, times 1000, rounded up (`None`: not a number).
pub fn seconds_to_ms(bytes: &[u8]) -> Option<i64> {
    let mut ms = 0i64;
    // SAFETY: `bytes` is valid for its length; the C side copies it before reading.
    let ok = unsafe { redrock_seconds_to_ms(bytes.as_ptr() as *const c_char, bytes.len(), &mut ms) };
    (ok == 1).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incrbyfloat_prints_like_redis() {
        assert_eq!(incr_by_float(Some(b"10.50"), b"0.1").unwrap(), b"10.6");
        assert_eq!(incr_by_float(Some(b"10.6"), b"-5").unwrap(), b"5.6");
        assert_eq!(incr_by_float(Some(b"5.0e3"), b"2.0e2").unwrap(), b"5200");
        assert_eq!(incr_by_float(None, b"0.1").unwrap(), b"0.1");
        assert_eq!(incr_by_float(Some(b"-1"), b"1").unwrap(), b"0");
        assert!(matches!(incr_by_float(Some(b"abc"), b"1"), Err(Error::NotFloat)));
        assert!(matches!(incr_by_float(Some(b"1"), b" 1"), Err(Error::NotFloat)));
        assert!(matches!(incr_by_float(Some(b"1"), b"inf"), Err(Error::NanOrInfinity)));
        // A NUL ends C's strtold early; Redis checks that the whole buffer was read.
        assert!(matches!(incr_by_float(Some(b"1"), b"1\x00"), Err(Error::NotFloat)));
        assert!(matches!(incr_by_float(Some(b"1\x002"), b"1"), Err(Error::NotFloat)));
    }

    #[test]
    fn timeouts_are_truncated_milliseconds() {
        assert_eq!(seconds_to_ms(b"0.1"), Some(100));
        assert_eq!(seconds_to_ms(b"1"), Some(1000));
        assert_eq!(seconds_to_ms(b"0.001"), Some(1));
        assert_eq!(seconds_to_ms(b"0.0001"), Some(1));
        assert_eq!(seconds_to_ms(b"1.5"), Some(1500));
        assert_eq!(seconds_to_ms(b"-0.001"), Some(0));
        assert_eq!(seconds_to_ms(b"-1"), Some(-1000));
        assert_eq!(seconds_to_ms(b"abc"), None);
        assert_eq!(seconds_to_ms(b""), None);
    }

    #[test]
    fn integers_read_as_strtod_reads_them() {
        let mut spellings: Vec<String> =
            ["0", "-0", "-0000", "+5", "007", "000000012345", "-", "", "1e3", "1.0", " 1", "1 "]
                .map(String::from)
                .to_vec();
        // 15 digits are read here, 16 go to strtod; both with and without leading zeros.
        for digits in ["999999999999999", "9999999999999999", "000000000000001", "0000000000000001"] {
            spellings.push(digits.to_string());
            spellings.push(format!("-{digits}"));
        }
        // A walk through the magnitudes, each with a spread of low digits.
        let mut n: i64 = 1;
        while let Some(next) = n.checked_mul(3) {
            for delta in [-1, 0, 1] {
                spellings.push((n + delta).to_string());
                spellings.push((-n - delta).to_string());
            }
            n = next;
        }
        for spelling in &spellings {
            let (fast, slow) = (parse_f64(spelling.as_bytes()), strtod(spelling.as_bytes()));
            assert_eq!(fast.map(f64::to_bits), slow.map(f64::to_bits), "{spelling:?}");
        }
        assert_eq!(plain_integer(b"000000012345"), Some(12345.0), "the integer path is taken");
    }

    #[test]
    fn parse_f64_follows_string2d() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+infinity"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1 "), None);
        assert_eq!(parse_f64(b""), None);
        assert_eq!(parse_f64(b"1e400"), None);
        assert_eq!(parse_f64(b"1\x002"), None);
    }
}
