//! `redis-cli MONITOR` output: `1700000000.123456 [0 127.0.0.1:5555] "SET" "k" "v"`.
//!
//! Arguments are quoted by Redis's `sdscatrepr`, which our script lexer reads back exactly.
//! The db number in brackets becomes a `SELECT` whenever it differs from the replay
//! connection's current db, so interleaved clients on several dbs replay on the right one.
//! Commands run by Lua (`[0 lua]`) are effects of an EVAL already in the capture: left out.

use super::{ImportError, ScriptWriter};
use crate::script::split_args;

/// Longest MONITOR line accepted (MONITOR lines can be as long as their arguments).
pub const MAX_MONITOR_LINE: usize = 512 * 1024 * 1024;

pub fn import(text: &str, path: &str) -> Result<ScriptWriter, ImportError> {
    let mut w = ScriptWriter::default();
    w.comment(&format!("imported from the MONITOR capture {path}"));
    let mut db: u64 = 0;
    for (i, line) in text.lines().enumerate() {
        let err = |msg: &str| ImportError::Syntax { path: path.to_string(), line: i + 1, msg: msg.to_string() };
        let line = line.trim_end_matches('\r');
        if line.len() > MAX_MONITOR_LINE {
            return Err(err("line too long"));
        }
        if line.is_empty() || line == "OK" || line.starts_with('#') {
            continue;
        }
        let open = line.find(" [").ok_or_else(|| err("expected `TIMESTAMP [DB CLIENT] ARGS`"))?;
        let close = line[open..].find("] ").map(|c| c + open).ok_or_else(|| err("unclosed [DB CLIENT]"))?;
        let inside = &line[open + 2..close];
        let (db_text, client) = inside.split_once(' ').unwrap_or((inside, ""));
        let line_db: u64 = db_text.parse().map_err(|_| err("bad db number"))?;
        if client == "lua" {
            continue;
        }
        let args = split_args(&line[close + 2..]).map_err(|m| err(&m))?;
        if args.is_empty() {
            continue;
        }
        let is_select = args.len() == 2 && args[0].eq_ignore_ascii_case(b"SELECT");
        // Redis feeds MONITOR after running the command, so a SELECT line already shows the
        // db it switched to: the SELECT itself does the switch, no extra one is needed.
        if line_db != db && !is_select {
            w.command(&[b"SELECT".to_vec(), line_db.to_string().into_bytes()]);
            db = line_db;
        }
        w.command(&args);
        if is_select {
            if let Some(n) = std::str::from_utf8(&args[1]).ok().and_then(|s| s.parse().ok()) {
                db = n;
            }
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_with_escapes_and_dbs() {
        let cap = "OK\n\
            1700000000.000001 [0 127.0.0.1:5000] \"SET\" \"k\" \"a\\x00\\n\\\"b\"\n\
            1700000000.000002 [3 127.0.0.1:5000] \"SELECT\" \"3\"\n\
            1700000000.000003 [3 127.0.0.1:5000] \"GET\" \"k\"\n\
            1700000000.000004 [0 127.0.0.1:5001] \"GET\" \"k\"\n\
            1700000000.000005 [0 lua] \"set\" \"x\" \"1\"\n\
            1700000000.000006 [0 127.0.0.1:5001] \"BLPOP\" \"l\" \"0\"\n";
        let w = import(cap, "cap.txt").unwrap();
        let lines: Vec<_> = w.out.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines, vec!["SET k \"a\\x00\\n\\\"b\"", "SELECT 3", "GET k", "SELECT 0", "GET k"]);
        assert_eq!(w.skipped, 1);
        assert!(w.out.contains("# skipped (may block"));
    }

    #[test]
    fn reports_bad_lines() {
        let e = import("garbage\n", "cap.txt").unwrap_err();
        assert!(e.to_string().starts_with("cap.txt:1:"));
    }
}
