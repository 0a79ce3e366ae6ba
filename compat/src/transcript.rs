//! Transcripts: every reply rendered deterministically with its RESP type.
//!
//! Format (stable: goldens store it):
//!
//! ```text
//! ### 4: GET foo
//! bulk "bar"
//! ### 7 [unordered]: SMEMBERS s
//! array[2]
//!   bulk "a"
//!   bulk "b"
//! ```
//!
//! The header carries the script line, the comparison flags in force (from directives and
//! from the reference's `COMMAND` tips) and the command as written. Bulk bytes are escaped like
//! redis-cli does, so binary data is readable and unambiguous. A line starting with `### ` is
//! always a header: reply text is escaped and never contains a newline.

use std::fmt::Write;

use crate::resp::Reply;
use crate::script::Flags;

/// What replaces a masked value (`@nondeterministic` or a `nondeterministic_output` tip).
pub const MASK: &str = "<nondeterministic>";

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub line: usize,
    pub command: String,
    pub flags: Flags,
    /// Rendered replies, one line each, no trailing newline.
    pub body: String,
}

impl Entry {
    pub fn header(&self) -> String {
        let mut notes = Vec::new();
        if self.flags.unordered {
            notes.push("unordered".to_string());
        }
        if self.flags.unordered_pairs {
            notes.push("unordered-pairs".to_string());
        }
        if self.flags.unordered_deep {
            notes.push("unordered-deep".to_string());
        }
        if self.flags.nondeterministic {
            notes.push("nondeterministic".to_string());
        }
        if let Some(t) = self.flags.tolerance {
            notes.push(format!("tolerance {t:e}"));
        }
        if notes.is_empty() {
            format!("### {}: {}", self.line, self.command)
        } else {
            format!("### {} [{}]: {}", self.line, notes.join(", "), self.command)
        }
    }

    pub fn to_text(&self) -> String {
        format!("{}\n{}", self.header(), self.body)
    }
}

/// Renders the entries of a transcript as stored in goldens.
pub fn to_text(entries: &[Entry]) -> String {
    let mut s = String::new();
    for e in entries {
        s.push_str(&e.to_text());
        s.push('\n');
    }
    s
}

#[derive(Debug, thiserror::Error)]
#[error("transcript line {line}: {msg}")]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

/// Parses a stored transcript back into entries (for `check` against goldens).
pub fn parse(text: &str) -> Result<Vec<Entry>, ParseError> {
    let mut entries: Vec<Entry> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if let Some(h) = l.strip_prefix("### ") {
            let err = |msg: &str| ParseError { line: i + 1, msg: msg.to_string() };
            let (head, command) = h.split_once(": ").ok_or_else(|| err("header without ': '"))?;
            let (num, notes) = match head.split_once(" [") {
                Some((n, rest)) => (n, rest.strip_suffix(']').ok_or_else(|| err("unclosed flag list"))?),
                None => (head, ""),
            };
            let mut flags = Flags::default();
            for note in notes.split(", ").filter(|n| !n.is_empty()) {
                match note {
                    "unordered" => flags.unordered = true,
                    "unordered-pairs" => flags.unordered_pairs = true,
                    "unordered-deep" => flags.unordered_deep = true,
                    "nondeterministic" => flags.nondeterministic = true,
                    n => {
                        let t = n
                            .strip_prefix("tolerance ")
                            .and_then(|t| t.parse().ok())
                            .ok_or_else(|| err("unknown flag"))?;
                        flags.tolerance = Some(t);
                    }
                }
            }
            entries.push(Entry {
                line: num.parse().map_err(|_| err("bad line number"))?,
                command: command.to_string(),
                flags,
                body: String::new(),
            });
        } else {
            let e = entries
                .last_mut()
                .ok_or_else(|| ParseError { line: i + 1, msg: "text before the first ### header".into() })?;
            if !e.body.is_empty() {
                e.body.push('\n');
            }
            e.body.push_str(l);
        }
    }
    Ok(entries)
}

/// Longest payload rendered in full. A longer one shows its first [`PREVIEW_BYTES`], its
/// length and a hash of all of it: transcripts stay small (a 512 MB value would otherwise
/// be a 2 GB line) while any change to the payload still changes the rendering.
pub const MAX_RENDERED_BYTES: usize = 4096;
/// Bytes shown of a payload longer than [`MAX_RENDERED_BYTES`].
pub const PREVIEW_BYTES: usize = 64;

/// 64-bit FNV-1a: tiny, deterministic everywhere, plenty to tell two payloads apart (this is
/// change detection, not security).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A payload as rendered in transcripts: escaped in full, or summarised when long.
pub fn payload(bytes: &[u8]) -> String {
    if bytes.len() <= MAX_RENDERED_BYTES {
        return escape(bytes);
    }
    format!("{}... ({} bytes, fnv1a64 {:016x})", escape(&bytes[..PREVIEW_BYTES]), bytes.len(), fnv1a64(bytes))
}

/// Escapes bytes the way redis-cli (`sdscatrepr`) does, quotes included.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &c in bytes {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if (0x20..0x7f).contains(&c) => s.push(c as char),
            c => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

/// Renders the replies of one command with the given flags.
pub fn render_replies(replies: &[Reply], flags: Flags) -> String {
    let mut out = String::new();
    for r in replies {
        if flags.nondeterministic && !r.is_error() {
            let _ = writeln!(out, "{} {MASK}", r.type_name());
        } else if flags.unordered_deep {
            render_sorted(r, 0, "", &mut out);
        } else if flags.unordered || flags.unordered_pairs {
            render_unordered(r, flags.unordered_pairs, &mut out);
        } else {
            render(r, 0, "", &mut out);
        }
    }
    out.truncate(out.trim_end_matches('\n').len());
    out
}

fn rendered(r: &Reply, indent: usize, prefix: &str) -> String {
    let mut s = String::new();
    render(r, indent, prefix, &mut s);
    s
}

/// Top-level elements sorted by their rendering, so any order compares equal.
fn render_unordered(r: &Reply, pairs: bool, out: &mut String) {
    let (kind, items) = match r {
        Reply::Array(v) => ("array", v),
        Reply::Set(v) => ("set", v),
        Reply::Push(v) => ("push", v),
        Reply::Map(m) => {
            let mut parts: Vec<String> =
                m.iter().map(|(k, v)| rendered(k, 2, "key ") + &rendered(v, 2, "val ")).collect();
            parts.sort();
            let _ = writeln!(out, "map[{}]", m.len());
            out.extend(parts);
            return;
        }
        other => return render(other, 0, "", out),
    };
    let _ = writeln!(out, "{kind}[{}]", items.len());
    let mut parts: Vec<String> = if pairs && items.len() % 2 == 0 {
        items.chunks(2).map(|p| rendered(&p[0], 2, "") + &rendered(&p[1], 2, "")).collect()
    } else {
        items.iter().map(|i| rendered(i, 2, "")).collect()
    };
    parts.sort();
    out.extend(parts);
}

/// Like [`render`], with the children of every aggregate sorted by their rendering.
fn render_sorted(r: &Reply, indent: usize, prefix: &str, out: &mut String) {
    let pad = " ".repeat(indent);
    let mut sorted = |head: String, mut parts: Vec<String>| {
        parts.sort();
        let _ = writeln!(out, "{pad}{prefix}{head}");
        out.extend(parts);
    };
    let child = |c: &Reply, p: &str| {
        let mut s = String::new();
        render_sorted(c, indent + 2, p, &mut s);
        s
    };
    match r {
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => {
            sorted(format!("{}[{}]", r.type_name(), v.len()), v.iter().map(|c| child(c, "")).collect())
        }
        Reply::Map(m) => {
            sorted(format!("map[{}]", m.len()), m.iter().map(|(k, v)| child(k, "key ") + &child(v, "val ")).collect())
        }
        other => render(other, indent, prefix, out),
    }
}

fn render(r: &Reply, indent: usize, prefix: &str, out: &mut String) {
    let pad = " ".repeat(indent);
    let _ = write!(out, "{pad}{prefix}");
    let children = |out: &mut String, items: &[Reply]| {
        for i in items {
            render(i, indent + 2, "", out);
        }
    };
    let pairs = |out: &mut String, items: &[(Reply, Reply)]| {
        for (k, v) in items {
            render(k, indent + 2, "key ", out);
            render(v, indent + 2, "val ", out);
        }
    };
    match r {
        Reply::Simple(s) => {
            let _ = writeln!(out, "simple {}", escape(s));
        }
        Reply::Error(s) => {
            let _ = writeln!(out, "error {}", escape(s));
        }
        Reply::BlobError(s) => {
            let _ = writeln!(out, "bloberror {}", payload(s));
        }
        Reply::Integer(n) => {
            let _ = writeln!(out, "int {n}");
        }
        Reply::Bulk(b) => {
            let _ = writeln!(out, "bulk {}", payload(b));
        }
        Reply::NullBulk | Reply::NullArray | Reply::Null => {
            let _ = writeln!(out, "{}", r.type_name());
        }
        Reply::Double(d) => {
            let _ = writeln!(out, "double {d}");
        }
        Reply::Boolean(b) => {
            let _ = writeln!(out, "bool {b}");
        }
        Reply::BigNumber(n) => {
            let _ = writeln!(out, "bignum {n}");
        }
        Reply::Verbatim { format, text } => {
            let _ = writeln!(out, "verbatim {} {}", escape(format.as_bytes()), payload(text));
        }
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => {
            let _ = writeln!(out, "{}[{}]", r.type_name(), v.len());
            children(out, v);
        }
        Reply::Map(m) => {
            let _ = writeln!(out, "map[{}]", m.len());
            pairs(out, m);
        }
        Reply::Attribute { attrs, reply } => {
            let _ = writeln!(out, "attribute[{}]", attrs.len());
            pairs(out, attrs);
            render(reply, indent + 2, "reply ", out);
        }
    }
}

/// Whether two rendered bodies are equal, numbers compared within `tolerance` when given.
pub fn bodies_match(a: &str, b: &str, tolerance: Option<f64>) -> bool {
    if a == b {
        return true;
    }
    let Some(tol) = tolerance else {
        return false;
    };
    let ta: Vec<&str> = a.split_whitespace().collect();
    let tb: Vec<&str> = b.split_whitespace().collect();
    ta.len() == tb.len()
        && ta.iter().zip(&tb).all(|(x, y)| {
            if x == y {
                return true;
            }
            let num = |t: &str| t.trim_matches('"').parse::<f64>().ok();
            match (num(x), num(y)) {
                (Some(p), Some(q)) if p.is_finite() && q.is_finite() => (p - q).abs() <= tol * p.abs().max(q.abs()),
                _ => false,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested() {
        let r = Reply::Array(vec![
            Reply::Bulk(b"a\x00\"".to_vec()),
            Reply::Map(vec![(Reply::Simple(b"k".to_vec()), Reply::Integer(1))]),
            Reply::NullBulk,
        ]);
        assert_eq!(
            render_replies(&[r], Flags::default()),
            "array[3]\n  bulk \"a\\x00\\\"\"\n  map[1]\n    key simple \"k\"\n    val int 1\n  null-bulk"
        );
    }

    #[test]
    fn unordered_and_masked() {
        let a = Reply::Array(vec![Reply::Bulk(b"b".to_vec()), Reply::Bulk(b"a".to_vec())]);
        let f = Flags { unordered: true, ..Flags::default() };
        assert_eq!(render_replies(std::slice::from_ref(&a), f), "array[2]\n  bulk \"a\"\n  bulk \"b\"");
        let m = Flags { nondeterministic: true, ..Flags::default() };
        assert_eq!(render_replies(&[a], m), "array <nondeterministic>");
        let e = Reply::Error(b"ERR x".to_vec());
        assert_eq!(render_replies(&[e], m), "error \"ERR x\"");
    }

    #[test]
    fn deep_sorting() {
        let b = |s: &str| Reply::Bulk(s.as_bytes().to_vec());
        let scan = Reply::Array(vec![b("0"), Reply::Array(vec![b("k2"), b("k1")])]);
        let f = Flags { unordered_deep: true, ..Flags::default() };
        assert_eq!(render_replies(&[scan], f), "array[2]\n  array[2]\n    bulk \"k1\"\n    bulk \"k2\"\n  bulk \"0\"");
    }

    #[test]
    fn pairs_stay_together() {
        let a = Reply::Array([b"f2", b"v2", b"f1", b"v1"].iter().map(|b| Reply::Bulk(b.to_vec())).collect());
        let f = Flags { unordered_pairs: true, ..Flags::default() };
        assert_eq!(render_replies(&[a], f), "array[4]\n  bulk \"f1\"\n  bulk \"v1\"\n  bulk \"f2\"\n  bulk \"v2\"");
    }

    #[test]
    fn parse_round_trip() {
        let entries = vec![
            Entry { line: 3, command: "GET \"a: b\"".into(), flags: Flags::default(), body: "bulk \"x\"".into() },
            Entry {
                line: 5,
                command: "SMEMBERS s".into(),
                flags: Flags { unordered: true, tolerance: Some(1e-9), ..Flags::default() },
                body: "array[1]\n  bulk \"### \"".into(),
            },
        ];
        let text = to_text(&entries);
        assert_eq!(parse(&text).unwrap(), entries);
    }

    #[test]
    fn long_payloads_are_summarised() {
        let long = vec![b'a'; MAX_RENDERED_BYTES + 1];
        let r = render_replies(&[Reply::Bulk(long.clone())], Flags::default());
        assert!(r.starts_with(&format!("bulk \"{}\"... (4097 bytes, fnv1a64 ", "a".repeat(PREVIEW_BYTES))), "{r}");
        let mut other = long;
        other[4000] = b'b';
        assert_ne!(r, render_replies(&[Reply::Bulk(other)], Flags::default()));
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn tolerance() {
        assert!(bodies_match("double 1.0000000001", "double 1", Some(1e-9)));
        assert!(bodies_match("bulk \"3.0000000001\"", "bulk \"3\"", Some(1e-9)));
        assert!(!bodies_match("double 1.1", "double 1", Some(1e-9)));
        assert!(!bodies_match("double 1.0000000001", "double 1", None));
    }
}
