//! The inline-request tokenizer: a port of Redis 7.0 sds.c `sdssplitargs`, which is what
//! `processInlineBuffer` uses (and what redis-cli uses, so a line typed there means the same).

use bytes::Bytes;

/// Splits `line` into arguments as `sdssplitargs` does, or `None` for "unbalanced quotes".
///
/// - Blanks between arguments are C `isspace` bytes (space, `\t`, `\n`, `\v`, `\f`, `\r`),
///   but an unquoted argument only ends at space, `\t`, `\n`, `\r` (so `a\vb` is one
///   argument, as in Redis).
/// - `"..."` understands `\xHH`, `\n`, `\r`, `\t`, `\b`, `\a`, and `\<c>` for any other `c`.
/// - `'...'` understands only `\'`.
/// - A quote may open in the middle of an argument (`a"b c"` is `ab c`), but a closing
///   quote must be followed by a blank or the end, else the line is refused.
///
/// `line` holds no NUL byte (the caller's `strchr` stopped at one), so the C loop's
/// end-of-string tests are end-of-slice tests here. An argument without quotes is a
/// zero-copy slice of `line`.
pub fn split_args(line: &Bytes) -> Option<Vec<Bytes>> {
    let s: &[u8] = line;
    let at = |i: usize| s.get(i).copied();
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < s.len() && is_c_space(s[p]) {
            p += 1;
        }
        if p == s.len() {
            return Some(args);
        }
        let start = p;
        let mut quoted = false;
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = at(p);
            if in_double {
                match c {
                    Some(b'\\')
                        if at(p + 1) == Some(b'x')
                            && at(p + 2).is_some_and(|h| h.is_ascii_hexdigit())
                            && at(p + 3).is_some_and(|h| h.is_ascii_hexdigit()) =>
                    {
                        current.push(hex_value(s[p + 2]) * 16 + hex_value(s[p + 3]));
                        p += 3;
                    }
                    Some(b'\\') if p + 1 < s.len() => {
                        p += 1;
                        current.push(match s[p] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        // "closing quote must be followed by a space or nothing at all."
                        if at(p + 1).is_some_and(|n| !is_c_space(n)) {
                            return None;
                        }
                        p += 1;
                        break;
                    }
                    // "unterminated quotes"
                    None => return None,
                    Some(other) => current.push(other),
                }
            } else if in_single {
                match c {
                    Some(b'\\') if at(p + 1) == Some(b'\'') => {
                        p += 1;
                        current.push(b'\'');
                    }
                    Some(b'\'') => {
                        if at(p + 1).is_some_and(|n| !is_c_space(n)) {
                            return None;
                        }
                        p += 1;
                        break;
                    }
                    None => return None,
                    Some(other) => current.push(other),
                }
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(b'"') => {
                        in_double = true;
                        quoted = true;
                        current.extend_from_slice(&s[start..p]);
                    }
                    Some(b'\'') => {
                        in_single = true;
                        quoted = true;
                        current.extend_from_slice(&s[start..p]);
                    }
                    // Part of a plain argument, sliced out of `line` when it ends (a quote
                    // closing ends the argument, so no byte follows one here).
                    Some(_) => {}
                }
            }
            p += 1;
        }
        if quoted {
            args.push(Bytes::from(current));
        } else {
            args.push(line.slice(start..p));
        }
    }
}

/// C `isspace` in the "C" locale (Redis only sets LC_COLLATE from the environment).
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_value(h: u8) -> u8 {
    match h {
        b'0'..=b'9' => h - b'0',
        b'a'..=b'f' => h - b'a' + 10,
        _ => h - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &[u8]) -> Option<Vec<Vec<u8>>> {
        split_args(&Bytes::copy_from_slice(line)).map(|args| args.iter().map(|a| a.to_vec()).collect())
    }

    fn ok(line: &[u8], expected: &[&[u8]]) {
        let expected: Vec<Vec<u8>> = expected.iter().map(|a| a.to_vec()).collect();
        assert_eq!(split(line), Some(expected), "{:?}", String::from_utf8_lossy(line));
    }

    #[test]
    fn plain_and_blank() {
        ok(b"", &[]);
        ok(b"   \t ", &[]);
        ok(b"\x0b\x0c", &[]);
        ok(b"SET a b", &[b"SET", b"a", b"b"]);
        ok(b"  SET\t a   b  ", &[b"SET", b"a", b"b"]);
        // \v and \f are skipped between arguments but do not end one (Redis 7.0.15: `ECHO a\vb` → "a\vb").
        ok(b"ECHO a\x0bb", &[b"ECHO", b"a\x0bb"]);
        ok(b"ECHO a\x0c", &[b"ECHO", b"a\x0c"]);
        ok(b"\xff\xfe x", &[b"\xff\xfe", b"x"]);
    }

    #[test]
    fn double_quotes() {
        ok(b"\"\"", &[b""]);
        ok(b"SET \"a b\" c", &[b"SET", b"a b", b"c"]);
        ok(b"\"\\x41\\x4a\\xfF\"", &[b"AJ\xff"]);
        // An incomplete \x escape is the escaped character itself (Redis 7.0.15: "Ax4").
        ok(b"\"\\x41\\x4\"", &[b"Ax4"]);
        ok(b"\"\\n\\r\\t\\b\\a\\\\\\\"\\q\"", &[b"\n\r\t\x08\x07\\\"q"]);
        ok(b"a\"b c\"", &[b"ab c"]);
        ok(b"\"a\"\x0bx", &[b"a", b"x"]);
        ok(b"\"a\"\tx", &[b"a", b"x"]);
    }

    #[test]
    fn single_quotes() {
        ok(b"''", &[b""]);
        ok(b"'a\\'b'", &[b"a'b"]);
        ok(b"'\\x41'", &[b"\\x41"]);
        ok(b"'a\\nb'", &[b"a\\nb"]);
        ok(b"x'y z' w", &[b"xy z", b"w"]);
    }

    #[test]
    fn unbalanced() {
        for line in [
            &b"\""[..],
            b"'",
            b"\"abc",
            b"'abc",
            b"\"a\"b",
            b"'a'b",
            b"'a''b'",
            b"\"a\"\"b\"",
            b"a\"b c\"d",
            b"\"abc\\\"",
            b"\"abc\\",
            b"'abc\\'",
        ] {
            assert_eq!(split(line), None, "{:?}", String::from_utf8_lossy(line));
        }
    }
}
