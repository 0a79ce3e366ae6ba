//! `diff`, `check` and `record` on the command line: options in, report out, exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Common, Format, EXIT_CANNOT_RUN};
use crate::client::Endpoint;
use crate::divergences::Register;
use crate::process::ServerProcess;
use crate::report::Report;
use crate::runner::RunOptions;
use crate::suite::{self, ScriptFile, SuiteOptions};

/// Twins spawned to verify a `spawn:` reference's recordings.
const SPAWNED_TWINS: usize = 4;

/// Used when `--divergences` is not given and this file exists.
pub const DEFAULT_REGISTER: &str = "compat/divergences.toml";

fn cannot_run(msg: impl std::fmt::Display) -> i32 {
    eprintln!("redrock-compat: {msg}");
    EXIT_CANNOT_RUN
}

/// A run that could not start still leaves CI a machine-readable trace: a JSON error on
/// stdout with `--format json`, and a JUnit file with one erroring test case.
fn cannot_run_with(mode: &str, msg: impl std::fmt::Display, c: &Common) -> i32 {
    let msg = msg.to_string();
    if c.format == Format::Json {
        super::out(&format!("{}\n", serde_json::json!({ "mode": mode, "error": msg, "exit_code": EXIT_CANNOT_RUN })));
    }
    if let Some(j) = &c.junit {
        let mut report = Report::new(mode, None, None);
        report.scripts.push(crate::report::ScriptReport {
            name: mode.to_string(),
            path: String::new(),
            status: crate::report::Status::Error(msg.clone()),
            commands: 0,
            divergences: Vec::new(),
        });
        let _ = std::fs::write(j, report.to_junit());
    }
    cannot_run(msg)
}

struct Prepared {
    files: Vec<ScriptFile>,
    register: Register,
    opts: SuiteOptions,
}

/// The defaults (`compat/scripts`, `golden`, the register) are relative to the workspace
/// root; run from a subfolder (say `compat/`), they are found in the nearest ancestor.
pub fn locate(p: &Path) -> PathBuf {
    if p.is_absolute() || p.exists() {
        return p.to_path_buf();
    }
    let Ok(cwd) = std::env::current_dir() else {
        return p.to_path_buf();
    };
    cwd.ancestors().map(|a| a.join(p)).find(|c| c.exists()).unwrap_or_else(|| p.to_path_buf())
}

fn prepare(c: &Common) -> Result<Prepared, String> {
    let paths: Vec<PathBuf> = c.paths.iter().map(|p| locate(p)).collect();
    let files = suite::discover(&paths, &locate(&c.scripts_root)).map_err(|e| e.to_string())?;
    let register_path =
        c.divergences.clone().or_else(|| Some(locate(Path::new(DEFAULT_REGISTER))).filter(|p| p.exists()));
    let register = match register_path {
        Some(p) => Register::load(&p).map_err(|e| e.to_string())?,
        None => Register::default(),
    };
    Ok(Prepared {
        files,
        register,
        opts: SuiteOptions {
            run: RunOptions { flush: !c.no_flush, resp3: c.resp3, read_timeout: Duration::from_secs(c.timeout.max(1)) },
            progress: !c.no_progress && c.format == Format::Text,
            allow_flush: c.allow_flush,
        },
    })
}

/// A server to talk to: a URL, or `spawn:BINARY`, a scratch server started for this run
/// (`redis-server` without persistence, any other binary with Redrock's
/// `--port --bind --dir`), killed when the run ends.
pub(super) struct Server {
    pub(super) ep: Endpoint,
    _process: Option<ServerProcess>,
}

pub(super) fn endpoint(url: &str) -> Result<Server, String> {
    let Some(bin) = url.strip_prefix("spawn:") else {
        return Ok(Server { ep: Endpoint::parse(url).map_err(|e| e.to_string())?, _process: None });
    };
    let path = Path::new(bin);
    let process = if path.file_name().is_some_and(|f| f == "redis-server") {
        ServerProcess::start_redis(bin, &[])
    } else {
        ServerProcess::redrock(path)
    }
    .map_err(|e| e.to_string())?;
    Ok(Server { ep: process.endpoint(), _process: Some(process) })
}

fn emit(report: &Report, c: &Common) -> i32 {
    match c.format {
        Format::Json => super::out(&format!("{}\n", report.to_json())),
        Format::Text => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            super::out(&report.to_text(color));
        }
    }
    if let Some(j) = &c.junit {
        if let Err(e) = std::fs::write(j, report.to_junit()) {
            return cannot_run(format!("{}: {e}", j.display()));
        }
    }
    report.exit_code()
}

pub fn diff(reference: &str, target: &str, c: &Common) -> i32 {
    let run = || -> Result<Report, String> {
        let (rs, ts) = (endpoint(reference)?, endpoint(target)?);
        let (r, t) = (rs.ep.clone(), ts.ep.clone());
        let mut p = prepare(c)?;
        suite::diff(&r, &t, &p.files, &mut p.register, &p.opts).map_err(|e| e.to_string())
    };
    match run() {
        Ok(report) => emit(&report, c),
        Err(e) => cannot_run_with("diff", e, c),
    }
}

pub fn check(target: &str, golden: &Path, register_new: Option<&str>, c: &Common) -> i32 {
    let run = || -> Result<Report, String> {
        let ts = endpoint(target)?;
        let t = ts.ep.clone();
        if !golden.is_dir() {
            return Err(format!("{}: no golden folder", golden.display()));
        }
        let mut p = prepare(c)?;
        let mut report = suite::check(&t, golden, &p.files, &mut p.register, &p.opts).map_err(|e| e.to_string())?;
        if let Some(reason) = register_new {
            register_all(&mut report, reason, c)?;
        }
        Ok(report)
    };
    match run() {
        Ok(report) => emit(&report, c),
        Err(e) => cannot_run_with("check", e, c),
    }
}

/// `check --register-new REASON`: appends the run's unknown divergences to the register and
/// marks them known in the report.
fn register_all(report: &mut Report, reason: &str, c: &Common) -> Result<(), String> {
    if reason.trim().is_empty() {
        return Err("--register-new needs a reason".into());
    }
    let path = c.divergences.clone().unwrap_or_else(|| locate(Path::new(DEFAULT_REGISTER)));
    let found = report.scripts.iter().flat_map(|r| r.divergences.iter().map(move |d| (r.name.as_str(), d)));
    let entries = crate::divergences::new_entries(found, reason);
    if entries.is_empty() {
        return Ok(());
    }
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(&crate::divergences::entries_text(&entries));
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    for r in &mut report.scripts {
        for d in &mut r.divergences {
            if d.known.is_none() {
                d.known = Some(reason.to_string());
            }
        }
    }
    eprintln!("registered {} new divergence entries in {}", entries.len(), path.display());
    Ok(())
}

pub fn record(reference: &str, verify_with: &[String], golden: &Path, allow_new_reference: bool, c: &Common) -> i32 {
    let run = || -> Result<Report, String> {
        let rs = endpoint(reference)?;
        // A spawned reference gets spawned twins to verify against: each is another process,
        // so another hash seed; with SPAWNED_TWINS, a two-element reply in hash order escapes
        // detection one time in 2^SPAWNED_TWINS.
        let verify: Vec<Server> = if !verify_with.is_empty() {
            verify_with.iter().map(|v| endpoint(v)).collect::<Result<_, _>>()?
        } else if reference.starts_with("spawn:") {
            (0..SPAWNED_TWINS).map(|_| endpoint(reference)).collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        let p = prepare(c)?;
        let verify_eps: Vec<&Endpoint> = verify.iter().map(|v| &v.ep).collect();
        suite::record(&rs.ep, &verify_eps, golden, &p.files, &p.opts, allow_new_reference).map_err(|e| e.to_string())
    };
    match run() {
        Ok(report) => emit(&report, c),
        Err(e) => cannot_run_with("record", e, c),
    }
}

/// `tips`: the flags each command gets from the reference's tips.
pub fn tips(reference: &str) -> i32 {
    let run = || -> Result<String, String> {
        let rs = endpoint(reference)?;
        let mut conn =
            crate::client::Conn::connect(&rs.ep, crate::client::DEFAULT_READ_TIMEOUT).map_err(|e| e.to_string())?;
        let tips = crate::tips::Tips::fetch(&mut conn).map_err(|e| e.to_string())?;
        let mut out = String::new();
        for (name, f) in tips.list() {
            let entry = crate::transcript::Entry { line: 0, command: name, flags: f, body: String::new() };
            // Reuse the transcript header's flag notation: `### 0 [unordered]: smembers`.
            let header = entry.header();
            let flags = header.split_once(" [").and_then(|(_, r)| r.split_once("]: ")).map(|(f, _)| f);
            out.push_str(&format!("{:<28} {}\n", entry.command, flags.unwrap_or("")));
        }
        Ok(out)
    };
    match run() {
        Ok(text) => {
            super::out(&text);
            super::EXIT_OK
        }
        Err(e) => cannot_run(e),
    }
}
