//! The values each grammar leaf draws from: small on purpose, so that commands collide on
//! the same keys (WRONGTYPE across types), the same members, and the edge values where
//! implementations differ (empty, binary, 0, -1, the i64 limits, inf, nan, long floats).
//!
//! Two rules keep a campaign free of false positives and cheap:
//! - no expiry lands inside a case: relative ones are ≤ 0 (immediate) or ≥ 100 s, absolute
//!   ones in the past or in 2100;
//! - nothing allocates much: bit offsets and string offsets stay small or out of range.

use arbitrary::{Result, Unstructured};

pub const KEYS: &[&str] = &["a", "b", "c", "d"];
/// Chosen one time in [`RARE_KEY_ONE_IN`] instead of [`KEYS`].
pub const RARE_KEYS: &[&str] = &["", "\x00k"];
pub const RARE_KEY_ONE_IN: u8 = 30;

pub const MEMBERS: &[&str] = &["a", "b", "c", "d", "1", "2", "-1", "", "ab", "1.5", "\x00"];

pub const VALUES: &[&str] = &[
    "",
    "a",
    "b",
    "ab",
    "abc",
    "hello",
    "0",
    "1",
    "-1",
    "10",
    "007",
    "3.5",
    "-0",
    "1e3",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "\x00\u{ff}",
    "inf",
    "-inf",
    "nan",
    "0.1",
    "3.14159265358979323846264338",
    " 1",
    "a b",
];
/// Alphabet of the short generated words mixed with [`VALUES`].
pub const ALPHABET: &[u8] = b"abc01";
pub const MAX_WORD_LEN: usize = 3;

pub const INTS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "5",
    "-1",
    "-2",
    "100",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775806",
    "-9223372036854775807",
];
pub const COUNTS: &[&str] = &["0", "1", "2", "3", "5", "-1", "-2", "-5"];
pub const INDEXES: &[&str] =
    &["0", "1", "2", "3", "-1", "-2", "-3", "-100", "100", "9223372036854775807", "-9223372036854775808"];
/// No offset that makes Redis allocate a 512 MB string.
pub const BIT_OFFSETS: &[&str] =
    &["0", "1", "2", "7", "8", "9", "15", "16", "31", "40", "-1", "4294967296", "9223372036854775807"];
pub const FLOATS: &[&str] = &[
    "0",
    "1",
    "-1",
    "1.5",
    "-2.5",
    "3",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "1e308",
    "1.7976931348623157e308",
    "3.0000000000000004",
    "0.1",
    "1e-320",
    "10.5",
    "-0",
    "5e-1",
    " 1",
    "1x",
];
pub const SCORE_BOUNDS: &[&str] =
    &["-inf", "+inf", "inf", "0", "1", "(1", "2.5", "(2.5", "-1", "(-inf", "(", "nan", "x"];
pub const LEX_BOUNDS: &[&str] = &["-", "+", "[a", "(a", "[b", "(c", "[", "(", "a", "[\x00"];
pub const PATTERNS: &[&str] = &["*", "a*", "?", "[a-c]", "*b*", "\\a", "[^a]", "", "[", "a"];
/// Never between 1 and 99: such an expiry could land inside a case on one server only.
pub const SECONDS: &[&str] = &[
    "0",
    "-1",
    "100",
    "1000",
    "100000",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775",
    "9223372036854",
];
pub const MILLIS: &[&str] = &["0", "-1", "100000", "10000000", "9223372036854775807", "-9223372036854775808"];
pub const UNIX_SECONDS: &[&str] = &["0", "1", "1000", "4102444800", "9223372036854775807", "-1"];
pub const UNIX_MILLIS: &[&str] = &["0", "1", "4102444800000", "9223372036854775807", "-1"];
pub const TIMEOUTS: &[&str] = &["0", "0.01", "1", "-1", "x", "0.5", "inf"];

/// What a malformed argument is replaced with (no small positive number: see [`SECONDS`]).
pub const JUNK: &[&str] = &["x", "", "-1", "1.5", "9223372036854775808", "NOSUCHOPT"];
/// What the minimiser tries in place of an argument, simplest first. No small positive
/// number: as an expiry it could land inside the case on one server only.
pub const SIMPLER: &[&str] = &["a", "0", ""];

/// Every key a case can write: the key domains, plus the words a malformation or the
/// minimiser may put in a key's place. The differ deletes them between cases.
pub fn writable_keys() -> impl Iterator<Item = Vec<u8>> {
    KEYS.iter().chain(RARE_KEYS).chain(JUNK).chain(SIMPLER).map(|k| latin1(k))
}

/// Command names that do not exist.
pub const UNKNOWN_COMMANDS: &[&str] = &["NOSUCHCMD", "GETT", ""];

pub fn pick(u: &mut Unstructured, from: &[&str]) -> Result<Vec<u8>> {
    Ok(latin1(u.choose(from)?))
}

/// The bytes of a domain string: characters up to U+00FF stand for one byte each, so
/// binary values are written `"\x00\u{ff}"` in the tables above.
pub fn latin1(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

pub fn key(u: &mut Unstructured) -> Result<Vec<u8>> {
    if u.int_in_range(0..=RARE_KEY_ONE_IN - 1)? == 0 {
        return pick(u, RARE_KEYS);
    }
    pick(u, KEYS)
}

pub fn value(u: &mut Unstructured) -> Result<Vec<u8>> {
    if u.ratio(2, 5)? {
        let len = u.int_in_range(1..=MAX_WORD_LEN)?;
        return (0..len).map(|_| u.choose(ALPHABET).copied()).collect();
    }
    pick(u, VALUES)
}
