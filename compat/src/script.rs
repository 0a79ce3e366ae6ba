//! Script format: one command a line in redis-cli quoting, `#` comments, `@` directives.
//!
//! The lexer follows redis-cli's `sdssplitargs` so that a line pasted from redis-cli means the
//! same thing here: double quotes take `\xHH \n \r \t \b \a \" \\` escapes, single quotes take
//! only `\'`, a quote may open in the middle of a token, and a closing quote must be followed
//! by a space or the end of the line.

use std::fmt;
use std::path::{Path, PathBuf};

/// Longest script file accepted; scripts are hand-written or imported workloads, and a larger
/// one is almost certainly the wrong file.
pub const MAX_SCRIPT_BYTES: usize = 256 * 1024 * 1024;
/// Longest `@sleep` accepted, so a typo cannot hang CI for hours.
pub const MAX_SLEEP_MS: u64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("{path}:{line}: {msg}")]
    Syntax { path: String, line: usize, msg: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// A `major.minor.patch` server version, as in `@min-version` and `INFO server`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let mut parts = s.trim().split('.').map(|p| p.parse::<u32>());
        let major = parts.next()?.ok()?;
        let minor = parts.next().unwrap_or(Ok(0)).ok()?;
        let patch = parts.next().unwrap_or(Ok(0)).ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Version(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// How a reply is compared. Set by directives in the script, and by the reference server's
/// `COMMAND` tips when a run knows them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Flags {
    /// Compare top-level elements as a multiset (rendered sorted).
    pub unordered: bool,
    /// Like `unordered`, but the flat array is a list of field/value pairs (HGETALL in RESP2)
    /// that must be kept together.
    pub unordered_pairs: bool,
    /// Every aggregate at every depth compared as a multiset (SCAN's `[cursor, [keys]]`,
    /// nested replies built from hash tables).
    pub unordered_deep: bool,
    /// Only the reply's RESP type is compared; its value is masked.
    pub nondeterministic: bool,
    /// Numbers compared within this relative tolerance.
    pub tolerance: Option<f64>,
    /// `@exact`: ignore the reference's tips for this command. Directive-only: effective
    /// flags (what transcripts show) never carry it.
    pub exact: bool,
}

impl Flags {
    /// The effective flags of a command: its directives, then the reference's tips.
    ///
    /// Redis tips are coarse (`TTL` is `nondeterministic_output` because time passes), so a
    /// directive that says how to compare the value (`@tolerance`, `@unordered`,
    /// `@unordered-pairs`) replaces a tip's mask, and `@exact` ignores the tips altogether.
    pub fn with_tips(self, tips: Flags) -> Flags {
        if self.exact {
            return Flags { exact: false, ..self };
        }
        let explicit_value = self.tolerance.is_some() || self.unordered || self.unordered_pairs || self.unordered_deep;
        Flags {
            unordered: self.unordered || (tips.unordered && !self.unordered_pairs),
            unordered_pairs: self.unordered_pairs || (tips.unordered_pairs && !self.unordered),
            unordered_deep: self.unordered_deep,
            nondeterministic: self.nondeterministic || (tips.nondeterministic && !explicit_value),
            tolerance: self.tolerance,
            exact: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Command {
    /// 1-based line number in the script.
    pub line: usize,
    /// The line as written (trimmed), shown in transcripts and diffs.
    pub text: String,
    pub args: Vec<Vec<u8>>,
    /// Flags from directives only; tips are merged in at run time.
    pub flags: Flags,
    /// `@async`: send without waiting; its reply is read by a later `@await`.
    pub is_async: bool,
}

impl Command {
    /// Upper-cased command name (first argument), for tips and divergence matching.
    pub fn name(&self) -> String {
        self.args.first().map(|a| String::from_utf8_lossy(a).to_ascii_uppercase()).unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub enum Step {
    Command(Command),
    /// `@resp3`: send `HELLO 3` now on the current connection.
    Resp3 {
        line: usize,
    },
    /// `@sleep MS`.
    Sleep {
        line: usize,
        ms: u64,
    },
    /// `@conn NAME`: switch connection.
    Conn {
        line: usize,
        name: String,
    },
    /// `@await NAME`: read that connection's pending reply.
    Await {
        line: usize,
        name: String,
    },
}

#[derive(Debug, Clone)]
pub struct Script {
    pub path: PathBuf,
    /// `family/name`, the key of the golden file.
    pub name: String,
    pub min_version: Option<Version>,
    pub steps: Vec<Step>,
}

impl Script {
    pub fn load(path: &Path, name: String) -> Result<Script, ScriptError> {
        let io_err = |source| ScriptError::Io { path: path.display().to_string(), source };
        let meta = std::fs::metadata(path).map_err(io_err)?;
        if meta.len() as usize > MAX_SCRIPT_BYTES {
            return Err(ScriptError::Syntax {
                path: path.display().to_string(),
                line: 0,
                msg: format!("script larger than {MAX_SCRIPT_BYTES} bytes"),
            });
        }
        let bytes = std::fs::read(path).map_err(io_err)?;
        let text = String::from_utf8(bytes).map_err(|_| ScriptError::Syntax {
            path: path.display().to_string(),
            line: 0,
            msg: "script is not UTF-8 (write binary bytes as \\xHH)".into(),
        })?;
        parse_script(&text, path, name)
    }

    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.steps.iter().filter_map(|s| match s {
            Step::Command(c) => Some(c),
            _ => None,
        })
    }
}

pub fn parse_script(text: &str, path: &Path, name: String) -> Result<Script, ScriptError> {
    let err = |line: usize, msg: String| ScriptError::Syntax { path: path.display().to_string(), line, msg };
    let mut steps = Vec::new();
    let mut min_version = None;
    let mut pending = Flags::default();
    let mut pending_async = false;
    let mut pending_line = 0;
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(directive) = trimmed.strip_prefix('@') {
            let mut words = directive.split_whitespace();
            let word = words.next().unwrap_or("");
            let arg = words.next();
            if words.next().is_some() {
                return Err(err(line, format!("too many arguments to @{word}")));
            }
            let need_arg = |what: &str| arg.ok_or_else(|| err(line, format!("@{word} needs {what}")));
            let no_arg = || match arg {
                Some(_) => Err(err(line, format!("@{word} takes no argument"))),
                None => Ok(()),
            };
            let is_modifier =
                matches!(word, "unordered" | "unordered-pairs" | "nondeterministic" | "tolerance" | "async");
            if !is_modifier && (pending != Flags::default() || pending_async) {
                return Err(err(pending_line, format!("directive here must be followed by a command, found @{word}")));
            }
            match word {
                "unordered" => {
                    no_arg()?;
                    pending.unordered = true;
                }
                "unordered-pairs" => {
                    no_arg()?;
                    pending.unordered_pairs = true;
                }
                "unordered-deep" => {
                    no_arg()?;
                    pending.unordered_deep = true;
                }
                "nondeterministic" => {
                    no_arg()?;
                    pending.nondeterministic = true;
                }
                "exact" => {
                    no_arg()?;
                    pending.exact = true;
                }
                "tolerance" => {
                    let v = need_arg("a relative tolerance such as 1e-9")?;
                    let t: f64 = v
                        .parse()
                        .ok()
                        .filter(|t: &f64| t.is_finite() && *t >= 0.0)
                        .ok_or_else(|| err(line, format!("bad tolerance {v:?}")))?;
                    pending.tolerance = Some(t);
                }
                "async" => {
                    no_arg()?;
                    pending_async = true;
                }
                "resp3" => {
                    no_arg()?;
                    steps.push(Step::Resp3 { line });
                }
                "min-version" => {
                    let v = need_arg("a version such as 7.0.0")?;
                    min_version = Some(Version::parse(v).ok_or_else(|| err(line, format!("bad version {v:?}")))?);
                }
                "sleep" => {
                    let v = need_arg("milliseconds")?;
                    let ms: u64 = v
                        .parse()
                        .ok()
                        .filter(|ms| *ms <= MAX_SLEEP_MS)
                        .ok_or_else(|| err(line, format!("bad sleep {v:?} (0..={MAX_SLEEP_MS} ms)")))?;
                    steps.push(Step::Sleep { line, ms });
                }
                "conn" => {
                    let v = need_arg("a connection name")?;
                    steps.push(Step::Conn { line, name: v.to_string() });
                }
                "await" => {
                    let v = need_arg("a connection name")?;
                    steps.push(Step::Await { line, name: v.to_string() });
                }
                other => return Err(err(line, format!("unknown directive @{other}"))),
            }
            if is_modifier {
                pending_line = line;
            }
            continue;
        }
        let args = split_args(trimmed).map_err(|m| err(line, m))?;
        steps.push(Step::Command(Command {
            line,
            text: trimmed.to_string(),
            args,
            flags: std::mem::take(&mut pending),
            is_async: std::mem::take(&mut pending_async),
        }));
    }
    if pending != Flags::default() || pending_async {
        return Err(err(pending_line, "directive at the end of the script applies to no command".into()));
    }
    Ok(Script { path: path.to_path_buf(), name, min_version, steps })
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits one line into arguments exactly as redis-cli's `sdssplitargs` does.
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let b = line.as_bytes();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Ok(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= b.len() {
                    return Err("unbalanced double quotes".into());
                }
                if b[i] == b'\\'
                    && i + 3 < b.len()
                    && b[i + 1] == b'x'
                    && hex_val(b[i + 2]).is_some()
                    && hex_val(b[i + 3]).is_some()
                {
                    cur.push(hex_val(b[i + 2]).unwrap() * 16 + hex_val(b[i + 3]).unwrap());
                    i += 3;
                } else if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                    cur.push(match b[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if b[i] == b'"' {
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return Err("closing quote must be followed by a space".into());
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(b[i]);
                }
            } else if in_sq {
                if i >= b.len() {
                    return Err("unbalanced single quotes".into());
                }
                if b[i] == b'\\' && i + 1 < b.len() && b[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if b[i] == b'\'' {
                    if i + 1 < b.len() && !b[i + 1].is_ascii_whitespace() {
                        return Err("closing quote must be followed by a space".into());
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(b[i]);
                }
            } else {
                if i >= b.len() || b[i].is_ascii_whitespace() {
                    break;
                }
                match b[i] {
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

/// Quotes one argument so that [`split_args`] reads it back unchanged; bare when that is
/// unambiguous, so imported scripts stay readable.
pub fn quote_arg(arg: &[u8]) -> String {
    let bare = !arg.is_empty()
        && arg.iter().all(|&c| c.is_ascii_graphic() && !matches!(c, b'"' | b'\'' | b'\\'))
        && !matches!(arg[0], b'#' | b'@');
    if bare {
        return String::from_utf8_lossy(arg).into_owned();
    }
    let mut s = String::from("\"");
    for &c in arg {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            c if (0x20..0x7f).contains(&c) => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// Formats a whole command as one script line.
pub fn format_command(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| quote_arg(a)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(line: &str) -> Vec<Vec<u8>> {
        split_args(line).unwrap()
    }

    #[test]
    fn bare_and_quoted() {
        assert_eq!(s("SET foo bar"), vec![b"SET".to_vec(), b"foo".to_vec(), b"bar".to_vec()]);
        assert_eq!(s("  GET   \"a b\"  "), vec![b"GET".to_vec(), b"a b".to_vec()]);
        assert_eq!(s("SET k ''"), vec![b"SET".to_vec(), b"k".to_vec(), b"".to_vec()]);
        assert_eq!(s("SET k \"\""), vec![b"SET".to_vec(), b"k".to_vec(), b"".to_vec()]);
    }

    #[test]
    fn double_quote_escapes() {
        assert_eq!(s(r#"SET "\x00\xff\n\r\t\"\\\b\a\q""#)[1], b"\x00\xff\n\r\t\"\\\x08\x07q".to_vec());
        // An incomplete hex escape is a plain escaped 'x' followed by the rest.
        assert_eq!(s(r#""\xZZ""#)[0], b"xZZ".to_vec());
    }

    #[test]
    fn single_quotes() {
        assert_eq!(s(r"'it\'s'")[0], b"it's".to_vec());
        assert_eq!(s(r"'a\nb'")[0], b"a\\nb".to_vec());
    }

    #[test]
    fn quotes_inside_a_token() {
        assert_eq!(s(r#"foo"bar baz""#)[0], b"foobar baz".to_vec());
    }

    #[test]
    fn errors() {
        assert!(split_args("\"abc").is_err());
        assert!(split_args("'abc").is_err());
        assert!(split_args("\"abc\"def").is_err());
        assert!(split_args("'abc'def").is_err());
    }

    #[test]
    fn quote_round_trip() {
        let samples: Vec<Vec<u8>> = vec![
            b"plain".to_vec(),
            b"".to_vec(),
            b"a b".to_vec(),
            b"\x00\x01\xff\"'\\\n\r\t".to_vec(),
            b"#hash".to_vec(),
            b"@at".to_vec(),
            "héllo".as_bytes().to_vec(),
        ];
        let line = format_command(&samples);
        assert_eq!(split_args(&line).unwrap(), samples);
    }

    #[test]
    fn directives() {
        let text =
            "# c\n@min-version 7.0.0\n\nSET a 1\n@unordered\n@tolerance 1e-9\nSMEMBERS s\n@sleep 5\n@resp3\nGET a\n";
        let sc = parse_script(text, Path::new("t.redis"), "x/t".into()).unwrap();
        assert_eq!(sc.min_version, Some(Version(7, 0, 0)));
        assert_eq!(sc.steps.len(), 5);
        let cmds: Vec<_> = sc.commands().collect();
        assert_eq!(cmds[1].line, 7);
        assert!(cmds[1].flags.unordered);
        assert_eq!(cmds[1].flags.tolerance, Some(1e-9));
        assert!(!cmds[2].flags.unordered);
    }

    #[test]
    fn directives_and_tips() {
        let mask = Flags { nondeterministic: true, ..Flags::default() };
        let unordered = Flags { unordered: true, ..Flags::default() };
        let tol = Flags { tolerance: Some(0.01), ..Flags::default() };
        let exact = Flags { exact: true, ..Flags::default() };
        assert_eq!(Flags::default().with_tips(mask), mask);
        assert_eq!(tol.with_tips(mask), tol);
        assert_eq!(exact.with_tips(mask), Flags::default());
        assert_eq!(exact.with_tips(unordered), Flags::default());
        assert_eq!(tol.with_tips(unordered), Flags { unordered: true, ..tol });
        assert_eq!(unordered.with_tips(mask), unordered);
        assert_eq!(mask.with_tips(unordered), Flags { unordered: true, ..mask });
    }

    #[test]
    fn directive_errors_name_the_line() {
        let e = parse_script("GET a\n@bogus\n", Path::new("f.redis"), "f".into()).unwrap_err();
        assert_eq!(e.to_string(), "f.redis:2: unknown directive @bogus");
        let e = parse_script("@unordered\n", Path::new("f.redis"), "f".into()).unwrap_err();
        assert!(e.to_string().starts_with("f.redis:1:"));
        let e = parse_script("GET \"a\n", Path::new("f.redis"), "f".into()).unwrap_err();
        assert_eq!(e.to_string(), "f.redis:1: unbalanced double quotes");
    }
}
