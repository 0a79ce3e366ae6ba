//! Number <-> text conversions exactly as Redis 7.0 does them.
//!
//! - `string2ll` is util.c `string2ll`, the strict parser Redis uses for the protocol's
//!   `*<count>` and `$<len>` and for every integer argument.
//! - `format_double` is the `"%.17g"` of networking.c `addReplyDouble` in Redis 7.0
//!   (7.2 switched to the shortest round-trip form; 7.0 is the reference here).
//! - `write_i64` is the integer part of `addReplyLongLongWithPrefix` (`ll2string`), without
//!   a heap allocation per integer.

use bytes::BytesMut;

/// util.c `LONG_STR_SIZE`: `string2ll` rejects strings of this length or more, so the
/// longest accepted text is 20 bytes (`-9223372036854775808`).
pub const LONG_STR_SIZE: usize = 21;

/// Significant digits of `"%.17g"`: enough for any `f64` to round-trip.
pub const DOUBLE_PRECISION: i32 = 17;

/// `%g` switches to exponent notation when the decimal exponent is below this.
const G_MIN_FIXED_EXPONENT: i32 = -4;

/// Bytes needed for any `i64` in decimal: sign plus 19 digits.
pub const I64_MAX_CHARS: usize = 20;

/// Parses `s` as Redis util.c `string2ll` does: optional `-`, then `0` alone or a
/// non-zero digit followed by digits; no `+`, no spaces, no leading zeros, `-0` rejected,
/// overflow rejected, at most 20 bytes.
pub fn string2ll(s: &[u8]) -> Option<i64> {
    // "A string of zero length or excessive length is not a valid number."
    if s.is_empty() || s.len() >= LONG_STR_SIZE {
        return None;
    }
    // "Special case: first and only digit is 0."
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    // "First digit should be 1-9, otherwise the string should just be 0." This is what
    // rejects "-", "-0", "01" and "+1".
    let (first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(first) {
        return None;
    }
    let mut v = u64::from(first - b'0');
    for &c in rest {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        // i64::MIN's magnitude is one more than i64::MAX.
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Formats `value` as glibc's `snprintf("%.17g")`, which is what Redis 7.0's
/// `addReplyDouble` sends. The specials are spelled as glibc spells them: `inf`, `-inf`,
/// `nan`, and `-nan` for a NaN whose sign bit is set (Redis 7.0 does not special-case NaN;
/// RESP2 infinities are the bulk strings `inf`/`-inf`, the same text).
pub fn format_double(value: f64) -> String {
    let sign = if value.is_sign_negative() { "-" } else { "" };
    if value.is_nan() {
        return format!("{sign}nan");
    }
    if value.is_infinite() {
        return format!("{sign}inf");
    }
    // Rust's exact-precision formatting rounds the true binary value correctly with ties
    // to even, as glibc does in the default rounding mode: 17 significant digits.
    let sci = format!("{:.*e}", (DOUBLE_PRECISION - 1) as usize, value.abs());
    let (mantissa, exponent) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();

    let mut out = String::with_capacity(32);
    out.push_str(sign);
    // C99 %g: with P = 17 and X the exponent, use %f style if P > X >= -4, else %e style;
    // then drop trailing zeros of the fraction and a then-bare decimal point.
    if (G_MIN_FIXED_EXPONENT..DOUBLE_PRECISION).contains(&exponent) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            out.push_str(&digits[..int_len]);
            push_fraction(&mut out, &digits[int_len..]);
        } else {
            out.push('0');
            let mut fraction = "0".repeat((-exponent - 1) as usize);
            fraction.push_str(&digits);
            push_fraction(&mut out, &fraction);
        }
    } else {
        out.push_str(&digits[..1]);
        push_fraction(&mut out, &digits[1..]);
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        // %e prints at least two exponent digits.
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        out.push_str(&magnitude.to_string());
    }
    out
}

/// Appends `.fraction` without its trailing zeros, or nothing if no digit is left.
fn push_fraction(out: &mut String, fraction: &str) {
    let trimmed = fraction.trim_end_matches('0');
    if !trimmed.is_empty() {
        out.push('.');
        out.push_str(trimmed);
    }
}

/// Bytes of the longest bulk string header: `$`, a length's digits, CRLF.
pub(crate) const BULK_HEADER_MAX_BYTES: usize = 1 + I64_MAX_CHARS + 2;

/// Writes the header of a bulk string of `len` bytes (`$<len>\r\n`) into the end of `buf`
/// and returns the used tail: built whole on the stack, it is one copy into a reply rather
/// than three (a pipelined LRANGE_100 pushes a hundred).
fn bulk_header(len: usize, buf: &mut [u8; BULK_HEADER_MAX_BYTES]) -> &[u8] {
    let crlf_at = buf.len() - 2;
    buf[crlf_at..].copy_from_slice(b"\r\n");
    let mut pos = write_digits(len as u64, buf, crlf_at);
    pos -= 1;
    buf[pos] = b'$';
    &buf[pos..]
}

/// Bytes of the word a short bulk string header is written in: `$`, up to
/// `SHORT_BULK_LEN_DIGITS` digits, CRLF, padding.
const SHORT_BULK_HEADER_WORD_BYTES: usize = 8;
/// Digits of the longest length [`short_bulk_header`] writes.
const SHORT_BULK_LEN_DIGITS: usize = SHORT_BULK_HEADER_WORD_BYTES - 3;

/// The header of a bulk string of `len` bytes, padded to one 8-byte word, and how many of
/// its bytes are the header; `None` past five digits. Appended whole and then truncated,
/// it is one store: a header of variable length was a call to `memcpy`, and a 100-item
/// LRANGE appends a hundred headers.
fn short_bulk_header(len: usize) -> Option<([u8; SHORT_BULK_HEADER_WORD_BYTES], usize)> {
    let digits = match len {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1_000..=9_999 => 4,
        10_000..=99_999 => 5,
        _ => return None,
    };
    debug_assert!(digits <= SHORT_BULK_LEN_DIGITS);
    let mut word = [0u8; SHORT_BULK_HEADER_WORD_BYTES];
    word[0] = b'$';
    write_digits(len as u64, &mut word, 1 + digits);
    word[1 + digits..3 + digits].copy_from_slice(b"\r\n");
    Some((word, 3 + digits))
}

/// A reply buffer a bulk string header is appended to: `BulkStrings`'s `Vec` or the
/// connection's `BytesMut` (`encode`), each through its own inlined methods (`BufMut`'s
/// generic `put_slice` cost a 100-item LRANGE ~1.1 k instructions more).
pub(crate) trait ReplyBuffer {
    fn filled(&self) -> usize;
    fn append(&mut self, bytes: &[u8]);
    fn truncate_to(&mut self, len: usize);
}

/// Both buffers have the same inherent methods, which no trait of theirs shares.
macro_rules! reply_buffer {
    ($($buffer:ty),*) => {$(
        impl ReplyBuffer for $buffer {
            #[inline]
            fn filled(&self) -> usize {
                self.len()
            }

            #[inline]
            fn append(&mut self, bytes: &[u8]) {
                self.extend_from_slice(bytes);
            }

            #[inline]
            fn truncate_to(&mut self, len: usize) {
                self.truncate(len);
            }
        }
    )*};
}

reply_buffer!(Vec<u8>, BytesMut);

/// Appends the header of a bulk string of `len` bytes (`$<len>\r\n`) to `out`, which the
/// caller has reserved `BULK_HEADER_MAX_BYTES` for.
#[inline]
pub(crate) fn put_bulk_header(len: usize, out: &mut impl ReplyBuffer) {
    if let Some((word, used)) = short_bulk_header(len) {
        let at = out.filled();
        out.append(&word);
        out.truncate_to(at + used);
    } else {
        let mut header = [0u8; BULK_HEADER_MAX_BYTES];
        out.append(bulk_header(len, &mut header));
    }
}

/// Writes `value` in decimal into the end of `buf` and returns the used tail.
pub fn write_i64(value: i64, buf: &mut [u8; I64_MAX_CHARS]) -> &[u8] {
    let mut pos = write_digits(value.unsigned_abs(), buf, I64_MAX_CHARS);
    if value < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
}

/// Writes `magnitude`'s decimal digits into `buf` so that they end at `end`; returns where
/// they start. `buf` must have room for them (20 digits at most).
fn write_digits(mut magnitude: u64, buf: &mut [u8], end: usize) -> usize {
    let mut pos = end;
    loop {
        pos -= 1;
        buf[pos] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            return pos;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bulk_header_is_dollar_length_crlf() {
        let mut buf = [0u8; BULK_HEADER_MAX_BYTES];
        for len in [0, 9, 10, 99, 100, 65_535, usize::MAX] {
            assert_eq!(bulk_header(len, &mut buf), format!("${len}\r\n").as_bytes());
        }
    }

    #[test]
    fn short_bulk_header_is_the_header_up_to_five_digits() {
        for len in [0, 1, 9, 10, 64, 99, 100, 999, 1_000, 9_999, 10_000, 65_535, 99_999] {
            let (word, used) = short_bulk_header(len).expect("five digits at most");
            assert_eq!(&word[..used], format!("${len}\r\n").as_bytes());
        }
        assert_eq!(short_bulk_header(100_000), None);
        assert_eq!(short_bulk_header(usize::MAX), None);
    }

    #[test]
    fn put_bulk_header_appends_only_the_header() {
        for len in [0, 64, 99_999, 100_000, usize::MAX] {
            let want = format!("x${len}\r\n");
            let mut vec = b"x".to_vec();
            put_bulk_header(len, &mut vec);
            assert_eq!(vec, want.as_bytes());
            let mut bytes = BytesMut::from(&b"x"[..]);
            put_bulk_header(len, &mut bytes);
            assert_eq!(&bytes[..], want.as_bytes());
        }
    }

    /// glibc's own `snprintf("%.17g")`, the reference.
    fn c_format(value: f64) -> String {
        let mut buf = [0u8; 64];
        // SAFETY: the buffer is large enough for any %.17g output and NUL-terminated by
        // snprintf; the format string is a NUL-terminated literal taking one double.
        let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17g".as_ptr(), value) };
        String::from_utf8(buf[..n as usize].to_vec()).unwrap()
    }

    /// A straightforward model of string2ll: the grammar as a regex-like check, then
    /// i128 arithmetic for the range.
    fn model_string2ll(s: &[u8]) -> Option<i64> {
        if s.is_empty() || s.len() > 20 {
            return None;
        }
        let text = std::str::from_utf8(s).ok()?;
        let body = text.strip_prefix('-').unwrap_or(text);
        let well_formed = !body.is_empty()
            && body.bytes().all(|c| c.is_ascii_digit())
            && (body == "0" || !body.starts_with('0'))
            && text != "-0";
        if !well_formed {
            return None;
        }
        let wide: i128 = text.parse().ok()?;
        i64::try_from(wide).ok()
    }

    #[test]
    fn format_double_edges_match_libc() {
        let edges = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            1.1,
            0.1,
            1.5,
            1e17,
            1e16,
            1e-5,
            1e-4,
            0.0001234,
            123456789012345678.0,
            12345678901234567.0,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::EPSILON,
            (2.0f64).powi(-25), // an exact tie at the 18th digit: round half to even
            (2.0f64).powi(-26),
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            3.0e-5,
            99999999999999999.0,
            f64::from_bits(0x3f1a_36e2_eb1c_432c), // 0.0001 rounded down: "9.9999999999999991e-05"
        ];
        for value in edges {
            assert_eq!(format_double(value), c_format(value), "value bits {:#x}", value.to_bits());
        }
    }

    #[test]
    fn format_double_known_redis_texts() {
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(1e17), "1e+17");
        assert_eq!(format_double(1e16), "10000000000000000");
        assert_eq!(format_double(1e-5), "1.0000000000000001e-05");
        assert_eq!(format_double(-0.0), "-0");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(f64::NAN), "nan");
    }

    #[test]
    fn format_double_exact_ties_round_to_even_like_glibc() {
        // Doubles whose exact decimal expansion has exactly 18 significant digits ending
        // in 5 are ties for %.17g; check every power of two that is one.
        for exp in -1074..=1023 {
            let value = (2.0f64).powi(exp);
            if value == 0.0 || value.is_infinite() {
                continue;
            }
            assert_eq!(format_double(value), c_format(value), "2^{exp}");
            assert_eq!(format_double(value * 3.0), c_format(value * 3.0), "3*2^{exp}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn format_double_matches_libc_on_random_bits(bits in any::<u64>()) {
            let value = f64::from_bits(bits);
            prop_assert_eq!(format_double(value), c_format(value));
        }

        #[test]
        fn format_double_matches_libc_on_short_decimals(mantissa in -1_000_000i64..1_000_000, exp in -30i32..30) {
            let value: f64 = format!("{mantissa}e{exp}").parse().unwrap();
            prop_assert_eq!(format_double(value), c_format(value));
        }

        #[test]
        fn string2ll_matches_model_on_bytes(s in proptest::collection::vec(
            prop_oneof![Just(b'-'), Just(b'+'), Just(b' '), Just(b'0'), b'0'..=b'9', any::<u8>()], 0..24)) {
            prop_assert_eq!(string2ll(&s), model_string2ll(&s));
        }

        #[test]
        fn string2ll_round_trips_every_i64(v in any::<i64>()) {
            prop_assert_eq!(string2ll(v.to_string().as_bytes()), Some(v));
            let mut buf = [0u8; I64_MAX_CHARS];
            let text = v.to_string();
            prop_assert_eq!(write_i64(v, &mut buf), text.as_bytes());
        }

        #[test]
        fn string2ll_matches_model_near_limits(v in any::<i128>().prop_map(|v| v % (i64::MAX as i128 * 4)), pad in 0usize..2) {
            let text = format!("{}{}", "0".repeat(pad), v);
            prop_assert_eq!(string2ll(text.as_bytes()), model_string2ll(text.as_bytes()));
        }
    }

    #[test]
    fn string2ll_cases() {
        let cases: &[(&[u8], Option<i64>)] = &[
            (b"0", Some(0)),
            (b"-0", None),
            (b"00", None),
            (b"01", None),
            (b"+1", None),
            (b" 1", None),
            (b"1 ", None),
            (b"-", None),
            (b"", None),
            (b"1a", None),
            (b"9223372036854775807", Some(i64::MAX)),
            (b"9223372036854775808", None),
            (b"-9223372036854775808", Some(i64::MIN)),
            (b"-9223372036854775809", None),
            (b"18446744073709551615", None),
            (b"18446744073709551616", None),
            (b"99999999999999999999", None),
            (b"123456789012345678901", None),
            (b"-12", Some(-12)),
        ];
        for (text, expected) in cases {
            assert_eq!(string2ll(text), *expected, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn write_i64_extremes() {
        let mut buf = [0u8; I64_MAX_CHARS];
        assert_eq!(write_i64(i64::MIN, &mut buf), b"-9223372036854775808");
        assert_eq!(write_i64(0, &mut buf), b"0");
        assert_eq!(write_i64(-7, &mut buf), b"-7");
    }
}
