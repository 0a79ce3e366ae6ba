//! `compat/divergences.toml`: the register of Redrock's known divergences.
//!
//! Each entry names a script, a command (optionally one line) and a mandatory reason. A
//! registered divergence is reported apart and does not fail the run; an entry that no longer
//! diverges does fail it, so the register cannot silently rot.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::diff::Divergence;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {msg}")]
    Invalid { path: String, msg: String },
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Known {
    /// Script name, `family/name` (a trailing `.redis` is accepted).
    pub script: String,
    /// Command name, case-insensitive, e.g. `OBJECT`.
    pub command: String,
    /// Restricts the entry to one script line.
    #[serde(default)]
    pub line: Option<usize>,
    /// Why Redrock differs, and whether it is meant to. Mandatory.
    pub reason: String,
    /// Restricts the entry to divergences whose target reply renders with this first line
    /// (its top level in the transcript, e.g. `null-array`, `int 0`): for `script = "fuzz"`
    /// entries, where no line number can narrow an entry down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_reply: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    divergence: Vec<Known>,
}

#[derive(Debug, Clone, Default)]
pub struct Register {
    pub entries: Vec<Known>,
    used: HashSet<usize>,
}

impl Register {
    pub fn load(path: &Path) -> Result<Register, RegisterError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| RegisterError::Io { path: path.display().to_string(), source })?;
        Register::parse(&text).map_err(|msg| RegisterError::Invalid { path: path.display().to_string(), msg })
    }

    pub fn parse(text: &str) -> Result<Register, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut entries = file.divergence;
        for (i, k) in entries.iter_mut().enumerate() {
            if k.reason.trim().is_empty() {
                return Err(format!(
                    "divergence #{} ({} {}) has no reason; a reason is mandatory",
                    i + 1,
                    k.script,
                    k.command
                ));
            }
            if let Some(s) = k.script.strip_suffix(".redis") {
                k.script = s.to_string();
            }
        }
        Ok(Register { entries, used: HashSet::new() })
    }

    /// Marks the divergence as known when an entry matches it.
    pub fn classify(&mut self, script: &str, d: &mut Divergence) {
        let found = self.entries.iter().position(|k| {
            k.script == script
                && k.command.eq_ignore_ascii_case(&d.name)
                && (k.line.is_none() || k.line == Some(d.line))
                && k.target_reply.as_ref().is_none_or(|t| target_reply_line(d) == Some(t.as_str()))
        });
        if let Some(i) = found {
            self.used.insert(i);
            d.known = Some(self.entries[i].reason.clone());
        }
    }

    /// Entries for scripts that ran but whose divergence did not show up.
    pub fn stale(&self, scripts_run: &HashSet<String>) -> Vec<Known> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(i, k)| scripts_run.contains(&k.script) && !self.used.contains(i))
            .map(|(_, k)| k.clone())
            .collect()
    }
}

/// The first line of the target's rendered reply (the line after the entry header).
fn target_reply_line(d: &Divergence) -> Option<&str> {
    d.actual.lines().nth(1)
}

/// TOML text for new register entries, appended to the file so its comments stay.
pub fn entries_text(entries: &[Known]) -> String {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut out = String::new();
    for k in entries {
        out.push_str(&format!("\n[[divergence]]\nscript = {}\ncommand = {}\n", q(&k.script), q(&k.command)));
        if let Some(l) = k.line {
            out.push_str(&format!("line = {l}\n"));
        }
        out.push_str(&format!("reason = {}\n", q(&k.reason)));
    }
    out
}

/// One entry per (script, command) among `divergences` not registered yet.
pub fn new_entries<'a>(divergences: impl Iterator<Item = (&'a str, &'a Divergence)>, reason: &str) -> Vec<Known> {
    let mut out: Vec<Known> = Vec::new();
    for (script, d) in divergences {
        if d.known.is_some() || out.iter().any(|k| k.script == script && k.command == d.name) {
            continue;
        }
        out.push(Known {
            script: script.to_string(),
            command: d.name.clone(),
            line: None,
            reason: reason.to_string(),
            target_reply: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn div(line: usize, name: &str) -> Divergence {
        Divergence {
            line,
            command: name.into(),
            name: name.into(),
            expected: String::new(),
            actual: String::new(),
            known: None,
            explanation: String::new(),
        }
    }

    #[test]
    fn new_entries_round_trip() {
        let (a, b, c) = (div(1, "GET"), div(2, "GET"), div(3, "SET \"x\""));
        let list = [("s/x", &a), ("s/x", &b), ("s/y", &c)];
        let entries = new_entries(list.into_iter(), "not implemented \"yet\"");
        assert_eq!(entries.len(), 2);
        let r = Register::parse(&entries_text(&entries)).unwrap();
        assert_eq!(r.entries, entries);
    }

    #[test]
    fn target_reply_matches_the_first_reply_line() {
        let mut r =
            Register::parse("[[divergence]]\nscript='fuzz'\ncommand='EXEC'\ntarget_reply='null'\nreason='watch'\n")
                .unwrap();
        let mut aborted = div(4, "EXEC");
        aborted.actual = "### 4: EXEC\nnull".into();
        r.classify("fuzz", &mut aborted);
        assert!(aborted.known.is_some());
        let mut nested = div(4, "EXEC");
        nested.actual = "### 4: EXEC\narray[1]\n  null".into();
        r.classify("fuzz", &mut nested);
        assert!(nested.known.is_none());
    }

    #[test]
    fn reason_is_mandatory() {
        let e = Register::parse("[[divergence]]\nscript='a/b'\ncommand='GET'\nreason=''\n");
        assert!(e.unwrap_err().contains("mandatory"));
        assert!(Register::parse("[[divergence]]\nscript='a/b'\ncommand='GET'\n").is_err());
    }

    #[test]
    fn classifies_and_finds_stale() {
        let mut r = Register::parse(
            "[[divergence]]\nscript='a/b.redis'\ncommand='object'\nreason='encoding names'\n\
             [[divergence]]\nscript='a/b'\ncommand='DEBUG'\nline=3\nreason='no DEBUG'\n",
        )
        .unwrap();
        let mut d = div(7, "OBJECT");
        r.classify("a/b", &mut d);
        assert_eq!(d.known.as_deref(), Some("encoding names"));
        let mut other = div(4, "DEBUG");
        r.classify("a/b", &mut other);
        assert!(other.known.is_none());
        let ran: HashSet<String> = ["a/b".to_string()].into();
        let stale = r.stale(&ran);
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].command, "DEBUG");
        assert!(r.stale(&HashSet::new()).is_empty());
    }
}
