//! The options of SET and GETEX (`NX XX GET KEEPTTL PERSIST EX PX EXAT PXAT`), parsed and
//! validated as Redis 7.0's `parseExtendedStringArgumentsOrReply` and
//! `getExpireMillisecondsOrReply` do: the same combinations are accepted (a repeated option
//! is fine, two different expiries are not) and the same errors come back in the same order.

use bytes::Bytes;

use super::args::{c_str, parse_i64};
use crate::error::{Error, Result};

/// Which command's options are parsed: the option sets differ.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OptionsOf {
    Set,
    GetEx,
}

/// How an expiry argument is read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExpireKind {
    /// `EX seconds`
    Ex,
    /// `PX milliseconds`
    Px,
    /// `EXAT unix-seconds`
    ExAt,
    /// `PXAT unix-milliseconds`
    PxAt,
}

impl ExpireKind {
    fn in_seconds(self) -> bool {
        matches!(self, ExpireKind::Ex | ExpireKind::ExAt)
    }

    fn is_relative(self) -> bool {
        matches!(self, ExpireKind::Ex | ExpireKind::Px)
    }
}

/// The parsed options; the expiry's value is validated later ([`expire_at_ms`]), at the point
/// of the command where Redis validates it.
#[derive(Default)]
pub struct StringOptions {
    pub nx: bool,
    pub xx: bool,
    pub get: bool,
    pub keep_ttl: bool,
    pub persist: bool,
    pub expire: Option<(ExpireKind, Bytes)>,
}

/// Parses `args[from..]`.
pub fn parse(args: &[Bytes], from: usize, of: OptionsOf) -> Result<StringOptions> {
    let set = of == OptionsOf::Set;
    let mut options = StringOptions::default();
    let mut i = from;
    while i < args.len() {
        let name = c_str(&args[i]);
        let has_value = i + 1 < args.len();
        let expire_kind = options.expire.as_ref().map(|(kind, _)| *kind);
        // An expiry option may repeat itself but not follow another kind, KEEPTTL or PERSIST.
        let expiry_allowed =
            |kind| !options.keep_ttl && !options.persist && !matches!(expire_kind, Some(k) if k != kind);
        let expiry =
            [("ex", ExpireKind::Ex), ("px", ExpireKind::Px), ("exat", ExpireKind::ExAt), ("pxat", ExpireKind::PxAt)]
                .into_iter()
                .find(|(text, _)| name.eq_ignore_ascii_case(text.as_bytes()))
                .map(|(_, kind)| kind);
        if set && name.eq_ignore_ascii_case(b"nx") && !options.xx {
            options.nx = true;
        } else if set && name.eq_ignore_ascii_case(b"xx") && !options.nx {
            options.xx = true;
        } else if set && name.eq_ignore_ascii_case(b"get") {
            options.get = true;
        } else if set && name.eq_ignore_ascii_case(b"keepttl") && !options.persist && expire_kind.is_none() {
            options.keep_ttl = true;
        } else if !set && name.eq_ignore_ascii_case(b"persist") && expire_kind.is_none() && !options.keep_ttl {
            options.persist = true;
        } else if let Some(kind) = expiry.filter(|&kind| expiry_allowed(kind) && has_value) {
            options.expire = Some((kind, args[i + 1].clone()));
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    Ok(options)
}

/// The absolute expire time (Unix ms) an expiry argument asks for, with Redis's checks: a
/// positive integer, no overflow in seconds → ms, nor in `now + ttl`. `command` names the
/// command in the error text.
pub fn expire_at_ms(kind: ExpireKind, arg: &[u8], command: &str, now_ms: u64) -> Result<u64> {
    let invalid = || Error::InvalidExpireTime(command.to_string());
    let value = parse_i64(arg)?;
    if value <= 0 || (kind.in_seconds() && value > i64::MAX / 1000) {
        return Err(invalid());
    }
    let mut at = if kind.in_seconds() { value * 1000 } else { value };
    if kind.is_relative() {
        at = at.checked_add(now_ms as i64).ok_or_else(invalid)?;
    }
    Ok(at as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<Bytes> {
        line.split(' ').map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    fn set_options(line: &str) -> Result<StringOptions> {
        parse(&args(line), 3, OptionsOf::Set)
    }

    #[test]
    fn accepted_combinations() {
        assert!(set_options("set k v nx get ex 10").is_ok());
        assert!(set_options("set k v ex 10 ex 20").is_ok());
        assert!(set_options("set k v keepttl keepttl xx").is_ok());
        assert!(set_options("set k v NX\0junk").unwrap().nx);
        let o = set_options("set k v pxat 5 get").unwrap();
        assert_eq!(o.expire.unwrap().0, ExpireKind::PxAt);
        assert!(parse(&args("getex k persist persist"), 2, OptionsOf::GetEx).is_ok());
    }

    #[test]
    fn refused_combinations() {
        for line in [
            "set k v nx xx",
            "set k v ex 10 px 10",
            "set k v keepttl ex 10",
            "set k v ex 10 keepttl",
            "set k v ex",
            "set k v persist",
            "set k v exat",
        ] {
            assert!(matches!(set_options(line), Err(Error::Syntax)), "{line}");
        }
        for line in ["getex k nx", "getex k get", "getex k keepttl", "getex k persist ex 1", "getex k ex 1 persist"] {
            assert!(matches!(parse(&args(line), 2, OptionsOf::GetEx), Err(Error::Syntax)), "{line}");
        }
    }

    #[test]
    fn expire_times() {
        let now = 1_700_000_000_000;
        assert_eq!(expire_at_ms(ExpireKind::Ex, b"10", "set", now).unwrap(), now + 10_000);
        assert_eq!(expire_at_ms(ExpireKind::PxAt, b"1", "set", now).unwrap(), 1);
        assert_eq!(expire_at_ms(ExpireKind::ExAt, b"9223372036854775", "set", now).unwrap(), 9223372036854775000);
        assert!(matches!(
            expire_at_ms(ExpireKind::ExAt, b"9223372036854776", "set", now),
            Err(Error::InvalidExpireTime(_))
        ));
        assert!(matches!(
            expire_at_ms(ExpireKind::Px, b"9223372036854775807", "set", now),
            Err(Error::InvalidExpireTime(_))
        ));
        assert!(matches!(expire_at_ms(ExpireKind::Ex, b"0", "set", now), Err(Error::InvalidExpireTime(_))));
        assert!(matches!(expire_at_ms(ExpireKind::Ex, b"x", "set", now), Err(Error::NotInteger)));
    }
}
