//! Run results and their renderings: text for people, JSON and JUnit for CI.

use std::fmt::Write;
use std::time::Duration;

use serde::Serialize;

use crate::diff::{unified, Divergence};
use crate::divergences::Known;

/// Commands listed in the text summary's "divergences by command" line.
const TOP_COMMANDS: usize = 15;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum Status {
    /// Identical (or, for `record`, recorded).
    Pass,
    /// Has divergences (some may be known ones).
    Diverged,
    /// Not run, with why (e.g. `@min-version` above the reference's).
    Skipped(String),
    /// Could not run: bad script, unreachable server, missing golden.
    Error(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct ScriptReport {
    pub name: String,
    pub path: String,
    #[serde(flatten)]
    pub status: Status,
    pub commands: usize,
    pub divergences: Vec<Divergence>,
}

impl ScriptReport {
    pub fn unknown_divergences(&self) -> impl Iterator<Item = &Divergence> {
        self.divergences.iter().filter(|d| d.known.is_none())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: String,
    pub reference: Option<String>,
    pub target: Option<String>,
    pub scripts: Vec<ScriptReport>,
    /// Registered divergences that did not show up: they fail the run.
    pub stale_known: Vec<Known>,
    pub elapsed_ms: u128,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub scripts: usize,
    pub passed: usize,
    pub diverged: usize,
    pub known_only: usize,
    pub skipped: usize,
    pub errors: usize,
    pub commands: usize,
    pub divergences: usize,
    pub known_divergences: usize,
    pub stale_known: usize,
}

impl Report {
    pub fn new(mode: &str, reference: Option<String>, target: Option<String>) -> Report {
        Report {
            mode: mode.to_string(),
            reference,
            target,
            scripts: Vec::new(),
            stale_known: Vec::new(),
            elapsed_ms: 0,
        }
    }

    pub fn set_elapsed(&mut self, d: Duration) {
        self.elapsed_ms = d.as_millis();
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary { scripts: self.scripts.len(), stale_known: self.stale_known.len(), ..Summary::default() };
        for r in &self.scripts {
            s.commands += r.commands;
            let unknown = r.unknown_divergences().count();
            s.divergences += unknown;
            s.known_divergences += r.divergences.len() - unknown;
            match &r.status {
                Status::Pass => s.passed += 1,
                Status::Diverged if unknown == 0 => s.known_only += 1,
                Status::Diverged => s.diverged += 1,
                Status::Skipped(_) => s.skipped += 1,
                Status::Error(_) => s.errors += 1,
            }
        }
        s
    }

    /// 0 identical (known divergences allowed), 1 divergence, 2 cannot run.
    pub fn exit_code(&self) -> i32 {
        let s = self.summary();
        if s.errors > 0 {
            2
        } else if s.diverged > 0 || s.stale_known > 0 {
            1
        } else {
            0
        }
    }

    pub fn to_text(&self, color: bool) -> String {
        let mut out = String::new();
        let (bold, reset) = if color { ("\x1b[1m", "\x1b[0m") } else { ("", "") };
        if self.scripts.iter().any(|r| r.unknown_divergences().next().is_some()) {
            let _ = writeln!(
                out,
                "--- expected: {}\n+++ actual:   {}",
                self.reference.as_deref().unwrap_or("reference"),
                self.target.as_deref().unwrap_or("target")
            );
        }
        for r in &self.scripts {
            match &r.status {
                Status::Error(e) => {
                    let _ = writeln!(out, "{bold}ERROR{reset} {}: {e}", r.name);
                }
                Status::Diverged if r.unknown_divergences().count() > 0 => {
                    let _ = writeln!(out, "{bold}DIVERGED{reset} {} ({})", r.name, r.path);
                    for d in r.unknown_divergences() {
                        let _ = writeln!(out, "  {}:{}: {}", r.path, d.line, d.command);
                        let _ = writeln!(out, "    ({})", d.explanation);
                        for l in unified(&d.expected, &d.actual, color).lines() {
                            let _ = writeln!(out, "    {l}");
                        }
                    }
                }
                _ => {}
            }
        }
        let known: Vec<_> = self
            .scripts
            .iter()
            .flat_map(|r| r.divergences.iter().map(move |d| (r, d)))
            .filter(|(_, d)| d.known.is_some())
            .collect();
        if !known.is_empty() {
            let _ = writeln!(out, "known divergences (compat/divergences.toml):");
            for (r, d) in known {
                let _ = writeln!(out, "  {}:{}: {} -- {}", r.path, d.line, d.command, d.known.as_deref().unwrap_or(""));
            }
        }
        for k in &self.stale_known {
            let _ = writeln!(
                out,
                "{bold}STALE{reset} registered divergence no longer diverges: {} {}{} ({}); remove it from the register",
                k.script,
                k.command,
                k.line.map(|l| format!(" line {l}")).unwrap_or_default(),
                k.reason
            );
        }
        let by_command = self.unknown_by_command();
        if !by_command.is_empty() {
            let top: Vec<String> =
                by_command.iter().take(TOP_COMMANDS).map(|(name, n)| format!("{name} {n}")).collect();
            let _ = writeln!(out, "divergences by command: {}", top.join(", "));
        }
        let s = self.summary();
        let _ = writeln!(
            out,
            "{bold}{}{reset}: {} scripts, {} passed, {} diverged, {} known-only, {} skipped, {} errors; {} commands, {} divergences ({} known), {} stale register entries, in {:.2}s",
            self.mode,
            s.scripts,
            s.passed,
            s.diverged,
            s.known_only,
            s.skipped,
            s.errors,
            s.commands,
            s.divergences,
            s.known_divergences,
            s.stale_known,
            self.elapsed_ms as f64 / 1000.0
        );
        out
    }

    /// Unregistered divergences counted per command name, most frequent first: where a
    /// server's work is.
    pub fn unknown_by_command(&self) -> Vec<(String, usize)> {
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for d in self.scripts.iter().flat_map(|r| r.unknown_divergences()) {
            *counts.entry(d.name.clone()).or_default() += 1;
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            report: &'a Report,
            summary: Summary,
            divergences_by_command: Vec<(String, usize)>,
            exit_code: i32,
        }
        serde_json::to_string_pretty(&Out {
            report: self,
            summary: self.summary(),
            divergences_by_command: self.unknown_by_command(),
            exit_code: self.exit_code(),
        })
        .expect("report serializes")
    }

    pub fn to_junit(&self) -> String {
        let s = self.summary();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"redrock-compat\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            s.scripts + s.stale_known,
            s.diverged + s.stale_known,
            s.errors,
            s.skipped,
            self.elapsed_ms as f64 / 1000.0
        );
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            xml(&self.mode),
            s.scripts + s.stale_known,
            s.diverged + s.stale_known,
            s.errors,
            s.skipped
        );
        for r in &self.scripts {
            let _ = write!(out, "    <testcase classname=\"{}\" name=\"{}\"", xml(&self.mode), xml(&r.name));
            let unknown: Vec<_> = r.unknown_divergences().collect();
            match &r.status {
                Status::Error(e) => {
                    let _ = writeln!(out, ">\n      <error message=\"{}\"/>\n    </testcase>", xml(e));
                }
                Status::Skipped(why) => {
                    let _ = writeln!(out, ">\n      <skipped message=\"{}\"/>\n    </testcase>", xml(why));
                }
                Status::Diverged if !unknown.is_empty() => {
                    let mut body = String::new();
                    for d in &unknown {
                        let _ = writeln!(body, "{}:{}: {} ({})", r.path, d.line, d.command, d.explanation);
                        body.push_str(&unified(&d.expected, &d.actual, false));
                    }
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{} divergence(s)\">{}</failure>\n    </testcase>",
                        unknown.len(),
                        xml(&body)
                    );
                }
                _ => {
                    let _ = writeln!(out, "/>");
                }
            }
        }
        for k in &self.stale_known {
            let _ = writeln!(
                out,
                "    <testcase classname=\"register\" name=\"{} {}\">\n      <failure message=\"registered divergence no longer diverges\">{}</failure>\n    </testcase>",
                xml(&k.script),
                xml(&k.command),
                xml(&k.reason)
            );
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            // Control characters other than tab/newline are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {
                let _ = write!(o, "\\x{:02x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}
