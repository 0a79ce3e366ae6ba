//! The ranges of sorted-set commands: score intervals (`1`, `(1.5`, `-inf`) and lexicographic
//! intervals (`[a`, `(b`, `-`, `+`), parsed exactly as Redis 7.0's `zslParseRange` and
//! `zslParseLexRange` parse them.

use std::cmp::Ordering;
use std::ffi::CString;
use std::os::raw::c_char;

use crate::error::{Error, Result};

extern "C" {
    fn strtod(s: *const c_char, end: *mut *mut c_char) -> f64;
}

/// A score interval; `min_exclusive` / `max_exclusive` come from a `(` prefix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub min_exclusive: bool,
    pub max: f64,
    pub max_exclusive: bool,
}

impl ScoreRange {
    /// Parses `min` and `max` (`ERR min or max is not a float`).
    pub fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange> {
        let invalid = || Error::err("min or max is not a float");
        let (min, min_exclusive) = parse_score_bound(min).ok_or_else(invalid)?;
        let (max, max_exclusive) = parse_score_bound(max).ok_or_else(invalid)?;
        Ok(ScoreRange { min, min_exclusive, max, max_exclusive })
    }

    /// Whether `score` is at or above the lower end.
    pub fn above_min(&self, score: f64) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }

    /// Whether `score` is at or below the upper end.
    pub fn below_max(&self, score: f64) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }

    pub fn contains(&self, score: f64) -> bool {
        self.above_min(score) && self.below_max(score)
    }

    /// Whether no score can be inside (Redis's `zslIsInRange` first test).
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_exclusive || self.max_exclusive))
    }
}

/// One end of a score range: C `strtod` over the bytes up to the first NUL, as Redis reads an
/// sds with `strtod` and checks only that it stopped at the terminator. So `""` is 0, leading
/// spaces are allowed and `1e400` is `inf`; only NaN and trailing garbage are refused.
fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (text, exclusive) = match arg.first() {
        Some(b'(') => (&arg[1..], true),
        _ => (arg, false),
    };
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let value = c_strtod(&text[..end])?;
    if value.is_nan() {
        return None;
    }
    // -0 and 0 are one score; the score index stores 0.
    Some((if value == 0.0 { 0.0 } else { value }, exclusive))
}

/// `strtod` over the whole of `text` (which holds no NUL); `None` if it stops early.
fn c_strtod(text: &[u8]) -> Option<f64> {
    let owned = CString::new(text).ok()?;
    let mut end: *mut c_char = std::ptr::null_mut();
    // SAFETY: `owned` is NUL-terminated and outlives the call; strtod writes `end` inside it.
    let value = unsafe { strtod(owned.as_ptr(), &mut end) };
    let consumed = end as usize - owned.as_ptr() as usize;
    (consumed == text.len()).then_some(value)
}

/// One end of a lexicographic range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    NegInf,
    /// `+`: above every member.
    PosInf,
    /// `[member`.
    Inclusive(Vec<u8>),
    /// `(member`.
    Exclusive(Vec<u8>),
}

impl LexBound {
    /// Redis's `zslParseLexRangeItem`; `+` and `-` must stand alone (a NUL ends them, as in C).
    fn parse(arg: &[u8]) -> Option<LexBound> {
        let alone = arg.len() == 1 || arg.get(1) == Some(&0);
        match arg.first()? {
            b'+' if alone => Some(LexBound::PosInf),
            b'-' if alone => Some(LexBound::NegInf),
            b'(' => Some(LexBound::Exclusive(arg[1..].to_vec())),
            b'[' => Some(LexBound::Inclusive(arg[1..].to_vec())),
            _ => None,
        }
    }

    /// The member bytes a seek starts from (none for the infinities).
    pub fn member(&self) -> Option<&[u8]> {
        match self {
            LexBound::Inclusive(m) | LexBound::Exclusive(m) => Some(m),
            LexBound::NegInf | LexBound::PosInf => None,
        }
    }
}

/// A lexicographic interval of members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    /// Parses `min` and `max` (`ERR min or max not valid string range item`).
    pub fn parse(min: &[u8], max: &[u8]) -> Result<LexRange> {
        let invalid = || Error::err("min or max not valid string range item");
        Ok(LexRange { min: LexBound::parse(min).ok_or_else(invalid)?, max: LexBound::parse(max).ok_or_else(invalid)? })
    }

    pub fn above_min(&self, member: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Inclusive(m) => member >= m.as_slice(),
            LexBound::Exclusive(m) => member > m.as_slice(),
        }
    }

    pub fn below_max(&self, member: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Inclusive(m) => member <= m.as_slice(),
            LexBound::Exclusive(m) => member < m.as_slice(),
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.above_min(member) && self.below_max(member)
    }

    /// Whether no member can be inside (Redis's `zslIsInLexRange` first test).
    pub fn is_empty(&self) -> bool {
        let rank = |b: &LexBound| match b {
            LexBound::NegInf => 0,
            LexBound::Inclusive(_) | LexBound::Exclusive(_) => 1,
            LexBound::PosInf => 2,
        };
        let order = match (self.min.member(), self.max.member()) {
            (Some(a), Some(b)) => a.cmp(b),
            _ => rank(&self.min).cmp(&rank(&self.max)),
        };
        let exclusive = |b: &LexBound| !matches!(b, LexBound::Inclusive(_));
        order == Ordering::Greater || (order == Ordering::Equal && (exclusive(&self.min) || exclusive(&self.max)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_bounds_follow_strtod() {
        let r = ScoreRange::parse(b"(1.5", b"+inf").unwrap();
        assert_eq!((r.min, r.min_exclusive, r.max, r.max_exclusive), (1.5, true, f64::INFINITY, false));
        assert_eq!(ScoreRange::parse(b"", b"(").unwrap().max, 0.0);
        assert_eq!(ScoreRange::parse(b" 1", b"1e400").unwrap().max, f64::INFINITY);
        assert_eq!(ScoreRange::parse(b"1\x00junk", b"2").unwrap().min, 1.0);
        assert!(ScoreRange::parse(b"nan", b"1").is_err());
        assert!(ScoreRange::parse(b"1x", b"1").is_err());
        assert!(ScoreRange::parse(b"1", b"((1").is_err());
        assert!(ScoreRange::parse(b"-0", b"0").unwrap().min.is_sign_positive());
        assert!(ScoreRange::parse(b"(1", b"1").unwrap().is_empty());
        assert!(!ScoreRange::parse(b"1", b"1").unwrap().is_empty());
    }

    #[test]
    fn lex_bounds_follow_redis() {
        let r = LexRange::parse(b"[a", b"(c").unwrap();
        assert!(r.contains(b"a") && r.contains(b"b") && !r.contains(b"c"));
        assert_eq!(LexRange::parse(b"-", b"+").unwrap(), LexRange { min: LexBound::NegInf, max: LexBound::PosInf });
        assert_eq!(LexRange::parse(b"+\x00x", b"+").unwrap().min, LexBound::PosInf);
        assert!(LexRange::parse(b"a", b"+").is_err());
        assert!(LexRange::parse(b"", b"+").is_err());
        assert!(LexRange::parse(b"-a", b"+").is_err());
        assert!(LexRange::parse(b"+", b"-").unwrap().is_empty());
        assert!(LexRange::parse(b"(a", b"[a").unwrap().is_empty());
        assert!(!LexRange::parse(b"[a", b"[a").unwrap().is_empty());
        assert!(LexRange::parse(b"-", b"-").unwrap().is_empty());
    }
}
