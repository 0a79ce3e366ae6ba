//! Redis's glob matching (`stringmatchlen` of Redis 7.0 util.c), ported byte for byte so
//! KEYS, SCAN MATCH and CONFIG GET select exactly what Redis selects: `*`, `?`, `[a-c]`,
//! `[^a]`, `\` escapes, reversed ranges, an unterminated `[`, and C's signed `char`
//! comparisons in ranges of bytes >= 0x80.

/// Whether `string` matches `pattern`. Like Redis's function, an empty string matches no
/// non-empty pattern, not even `*`: KEYS and SCAN treat the pattern `*` as "all keys" before
/// calling it (Redis's `allkeys` shortcut), and so must every caller here.
pub fn matches(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer_matches = false;
    match_impl(pattern, string, nocase, &mut skip_longer_matches, 0)
}

/// Recursion bound: each level consumes a `*`, so this also bounds the pattern's stars.
const MAX_GLOB_NESTING: usize = 1000;

/// A byte of the pattern, or 0 past the end (the C code reads the sds NUL terminator).
fn at(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}

fn lower(c: u8) -> u8 {
    c.to_ascii_lowercase()
}

fn match_impl(pattern: &[u8], string: &[u8], nocase: bool, skip: &mut bool, nesting: usize) -> bool {
    if nesting > MAX_GLOB_NESTING {
        return false;
    }
    let (mut p, mut plen) = (0usize, pattern.len());
    let (mut s, mut slen) = (0usize, string.len());
    while plen > 0 && slen > 0 {
        match pattern[p] {
            b'*' => {
                while plen > 0 && at(pattern, p + 1) == b'*' {
                    p += 1;
                    plen -= 1;
                }
                if plen == 1 {
                    return true;
                }
                while slen > 0 {
                    if match_impl(&pattern[p + 1..p + plen], &string[s..s + slen], nocase, skip, nesting + 1) {
                        return true;
                    }
                    if *skip {
                        return false;
                    }
                    s += 1;
                    slen -= 1;
                }
                *skip = true;
                return false;
            }
            b'?' => {
                s += 1;
                slen -= 1;
            }
            b'[' => {
                p += 1;
                plen -= 1;
                let not = at(pattern, p) == b'^';
                if not {
                    p += 1;
                    plen -= 1;
                }
                let mut matched = false;
                loop {
                    if at(pattern, p) == b'\\' && plen >= 2 {
                        p += 1;
                        plen -= 1;
                        if at(pattern, p) == string[s] {
                            matched = true;
                        }
                    } else if at(pattern, p) == b']' && plen > 0 {
                        break;
                    } else if plen == 0 {
                        p -= 1;
                        plen += 1;
                        break;
                    } else if plen >= 3 && at(pattern, p + 1) == b'-' {
                        // C compares `char`s: signed on the platforms Redis ships on.
                        let (mut start, mut end) = (at(pattern, p) as i8 as i32, at(pattern, p + 2) as i8 as i32);
                        let mut c = string[s] as i8 as i32;
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = c_tolower(start);
                            end = c_tolower(end);
                            c = c_tolower(c);
                        }
                        p += 2;
                        plen -= 2;
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if !nocase {
                        if at(pattern, p) == string[s] {
                            matched = true;
                        }
                    } else if lower(at(pattern, p)) == lower(string[s]) {
                        matched = true;
                    }
                    p += 1;
                    plen -= 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
                slen -= 1;
            }
            c => {
                let mut literal = c;
                if c == b'\\' && plen >= 2 {
                    p += 1;
                    plen -= 1;
                    literal = pattern[p];
                }
                let equal = if nocase { lower(literal) == lower(string[s]) } else { literal == string[s] };
                if !equal {
                    return false;
                }
                s += 1;
                slen -= 1;
            }
        }
        p += 1;
        plen -= 1;
        if slen == 0 {
            while at(pattern, p) == b'*' && plen > 0 {
                p += 1;
                plen -= 1;
            }
            break;
        }
    }
    plen == 0 && slen == 0
}

/// C's `tolower` on a (possibly negative) `char` value.
fn c_tolower(c: i32) -> i32 {
    if (b'A' as i32..=b'Z' as i32).contains(&c) {
        c + 32
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_semantics() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "anything", true),
            // stringmatchlen itself never matches an empty string; KEYS/SCAN special-case "*".
            ("*", "", false),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[b-a]llo", "hallo", true),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("[abc", "a", true),
            ("a*", "", false),
            ("", "", true),
            ("", "a", false),
            ("a**", "a", true),
            ("*a", "ba", true),
            ("[\\]]", "]", true),
            ("\\", "\\", true),
        ];
        for (pattern, string, expected) in cases {
            assert_eq!(matches(pattern.as_bytes(), string.as_bytes(), false), *expected, "{pattern} ~ {string}");
        }
        assert!(matches(b"HELLO", b"hello", true));
        assert!(!matches(b"HELLO", b"hello", false));
    }

    #[test]
    fn pathological_patterns_finish() {
        let pattern = "a*".repeat(30) + "b";
        let string = "a".repeat(60);
        assert!(!matches(pattern.as_bytes(), string.as_bytes(), false));
    }
}
