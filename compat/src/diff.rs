//! Entry-by-entry comparison of two transcripts, and the unified diff shown for each
//! divergence.

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::transcript::{bodies_match, Entry};

/// Lines of context around each change in a shown diff.
pub const DIFF_CONTEXT: usize = 3;
/// Longest diff text kept per divergence; a 100k-element reply must not flood the report.
pub const MAX_DIFF_CHARS: usize = 16 * 1024;

#[derive(Debug, Clone, Serialize)]
pub struct Divergence {
    pub line: usize,
    /// The command as written in the script.
    pub command: String,
    /// Upper-case command name, what the divergence register matches.
    pub name: String,
    pub expected: String,
    pub actual: String,
    /// The register's reason when this divergence is a known one.
    pub known: Option<String>,
    /// A one-line reading of the difference (type, error code, length, order…).
    pub explanation: String,
}

/// The command name of an entry, seen through `@await NAME: ` prefixes.
pub fn command_name(command: &str) -> String {
    let cmd = match command.strip_prefix("@await ") {
        Some(rest) => rest.split_once(": ").map(|(_, c)| c).unwrap_or(""),
        None => command,
    };
    if cmd.starts_with('@') {
        return cmd.to_string();
    }
    crate::script::split_args(cmd)
        .ok()
        .and_then(|a| a.into_iter().next())
        .map(|a| String::from_utf8_lossy(&a).to_ascii_uppercase())
        .unwrap_or_default()
}

const MISSING: &str = "(nothing: the transcript ended before this)";

pub fn compare(expected: &[Entry], actual: &[Entry]) -> Vec<Divergence> {
    let mut out = Vec::new();
    for i in 0..expected.len().max(actual.len()) {
        let (e, a) = (expected.get(i), actual.get(i));
        let same = match (e, a) {
            (Some(e), Some(a)) => {
                e.header() == a.header() && bodies_match(&e.body, &a.body, e.flags.tolerance.or(a.flags.tolerance))
            }
            _ => false,
        };
        if same {
            continue;
        }
        let any = e.or(a).expect("one side exists");
        out.push(Divergence {
            line: any.line,
            command: any.command.clone(),
            name: command_name(&any.command),
            expected: e.map(Entry::to_text).unwrap_or_else(|| MISSING.into()),
            actual: a.map(Entry::to_text).unwrap_or_else(|| MISSING.into()),
            known: None,
            explanation: explain(e, a),
        });
    }
    out
}

/// The first word of a rendered reply: its type, without an `[N]` length.
fn kind(body: &str) -> &str {
    body.split([' ', '[']).next().unwrap_or("")
}

/// Explains a divergence in one line, from the rendered entries.
pub fn explain(expected: Option<&Entry>, actual: Option<&Entry>) -> String {
    let (e, a) = match (expected, actual) {
        (Some(e), Some(a)) => (e, a),
        (Some(_), None) => return "the target's transcript ends before this command".into(),
        (None, _) => return "the target's transcript has more entries than expected".into(),
    };
    if e.line != a.line || e.command != a.command {
        return "different command at this position: the script changed since the golden was recorded (re-record)"
            .into();
    }
    if e.flags != a.flags {
        return "compared with different flags (re-record the golden)".into();
    }
    if a.body.starts_with("!! connection failed") {
        return "the target closed the connection or stopped answering".into();
    }
    let (ek, ak) = (kind(&e.body), kind(&a.body));
    if ek != ak {
        return format!("reply type differs: expected {ek}, got {ak}");
    }
    if ek == "error" {
        let code = |b: &str| b.trim_start_matches("error \"").split([' ', '"']).next().unwrap_or("").to_string();
        return if code(&e.body) != code(&a.body) {
            format!("error code differs: expected {}, got {}", code(&e.body), code(&a.body))
        } else {
            "same error code, different message text".into()
        };
    }
    let first = |b: &str| b.lines().next().unwrap_or("").to_string();
    if first(&e.body) != first(&a.body) && e.body.contains('\n') {
        return format!("aggregate length differs: expected {}, got {}", first(&e.body), first(&a.body));
    }
    fn sorted(b: &str) -> Vec<&str> {
        let mut v: Vec<&str> = b.lines().collect();
        v.sort_unstable();
        v
    }
    if e.body.lines().count() > 1 && sorted(&e.body) == sorted(&a.body) {
        return "same elements in another order (if Redis documents no order, mark the command @unordered)".into();
    }
    let num = |t: &str| t.trim_matches('"').parse::<f64>().is_ok();
    let (te, ta): (Vec<&str>, Vec<&str>) = (e.body.split_whitespace().collect(), a.body.split_whitespace().collect());
    if te.len() == ta.len() && te.iter().zip(&ta).filter(|(x, y)| x != y).all(|(x, y)| num(x) && num(y)) {
        return "numeric value differs".into();
    }
    "value differs".into()
}

/// A unified diff of one divergence, `-` expected (reference) and `+` actual (target).
pub fn unified(expected: &str, actual: &str, color: bool) -> String {
    let (red, green, cyan, reset) =
        if color { ("\x1b[31m", "\x1b[32m", "\x1b[36m", "\x1b[0m") } else { ("", "", "", "") };
    let diff = TextDiff::from_lines(expected, actual);
    let mut out = String::new();
    for (i, group) in diff.grouped_ops(DIFF_CONTEXT).iter().enumerate() {
        if i > 0 {
            out.push_str(&format!("{cyan}@@ ... @@{reset}\n"));
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let (sign, c) = match change.tag() {
                    ChangeTag::Delete => ("-", red),
                    ChangeTag::Insert => ("+", green),
                    ChangeTag::Equal => (" ", ""),
                };
                let text = change.value().trim_end_matches('\n');
                let r = if c.is_empty() { "" } else { reset };
                out.push_str(&format!("{c}{sign}{text}{r}\n"));
                if out.len() > MAX_DIFF_CHARS {
                    out.push_str("... (diff truncated)\n");
                    return out;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(line: usize, cmd: &str, body: &str) -> Entry {
        Entry { line, command: cmd.into(), flags: Default::default(), body: body.into() }
    }

    #[test]
    fn finds_divergences() {
        let a = vec![e(1, "SET a 1", "simple \"OK\""), e(2, "GET a", "bulk \"1\"")];
        let b = vec![e(1, "SET a 1", "simple \"OK\""), e(2, "GET a", "bulk \"2\"")];
        assert!(compare(&a, &a).is_empty());
        let d = compare(&a, &b);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].line, d[0].name.as_str()), (2, "GET"));
        let u = unified(&d[0].expected, &d[0].actual, false);
        assert_eq!(u, " ### 2: GET a\n-bulk \"1\"\n+bulk \"2\"\n");
        let short = compare(&a, &b[..1]);
        assert_eq!(short.len(), 1);
        assert_eq!(short[0].actual, MISSING);
    }

    #[test]
    fn explains() {
        let ex = |x: &str, y: &str| explain(Some(&e(1, "GET a", x)), Some(&e(1, "GET a", y)));
        assert_eq!(ex("bulk \"1\"", "simple \"1\""), "reply type differs: expected bulk, got simple");
        assert_eq!(ex("error \"ERR x\"", "error \"WRONGTYPE y\""), "error code differs: expected ERR, got WRONGTYPE");
        assert_eq!(ex("error \"ERR x\"", "error \"ERR y\""), "same error code, different message text");
        assert_eq!(
            ex("array[2]\n  bulk \"a\"\n  bulk \"b\"", "array[1]\n  bulk \"a\""),
            "aggregate length differs: expected array[2], got array[1]"
        );
        assert!(ex("array[2]\n  bulk \"a\"\n  bulk \"b\"", "array[2]\n  bulk \"b\"\n  bulk \"a\"")
            .starts_with("same elements in another order"));
        assert_eq!(ex("int 1", "int 2"), "numeric value differs");
        assert_eq!(ex("bulk \"a\"", "bulk \"b\""), "value differs");
        assert!(explain(Some(&e(1, "GET a", "int 1")), None).contains("ends before"));
    }

    #[test]
    fn names() {
        assert_eq!(command_name("get \"a b\""), "GET");
        assert_eq!(command_name("@await b: blpop l 0"), "BLPOP");
        assert_eq!(command_name("@resp3"), "@resp3");
    }
}
