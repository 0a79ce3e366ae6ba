//! The three replay modes (`diff`, `check`, `record`) over a set of scripts.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::client::{ClientError, Conn, Endpoint};
use crate::diff::{compare, Divergence};
pub use crate::discover::{discover, ScriptFile};
use crate::divergences::Register;
use crate::golden::{golden_path, input_file_for, Golden};
use crate::info::ServerInfo;
use crate::report::{Report, ScriptReport, Status};
use crate::runner::{run_script, to_entry, Outcome, RunOptions};
use crate::script::{Flags, Script, Version};
use crate::tips::Tips;
use crate::transcript::Entry;

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("{0}")]
    Discover(#[from] crate::discover::DiscoverError),
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("{0}")]
    Scratch(#[from] crate::scratch::ScratchError),
    #[error(
        "the goldens here were recorded from {existing}, this reference is {new}; all goldens of \
         a folder come from one reference (pass --allow-new-reference and re-record them all)"
    )]
    MixedReferences { existing: String, new: String },
    #[error("reference and target are the same server ({0}); diff needs two")]
    SameServer(String),
    #[error("refusing to record from {url}: {why}; goldens come only from a real redis-server")]
    NotRedis { url: String, why: String },
}

/// Options shared by every mode.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub run: RunOptions,
    pub progress: bool,
    /// Run even on a server that holds data (which the first FLUSHALL erases).
    pub allow_flush: bool,
}

/// Before a run that flushes: every server must be a scratch one (see [`crate::scratch`]).
fn guard(endpoints: &[&Endpoint], opts: &SuiteOptions) -> Result<(), SuiteError> {
    if opts.run.flush && !opts.allow_flush {
        for ep in endpoints {
            crate::scratch::ensure_empty(ep, opts.run.read_timeout)?;
        }
    }
    Ok(())
}

/// After a run that flushed: leave the servers empty for the next one.
fn cleanup(endpoints: &[&Endpoint], opts: &SuiteOptions) {
    if opts.run.flush {
        for ep in endpoints {
            crate::scratch::leave_empty(ep, opts.run.read_timeout);
        }
    }
}

fn progress_bar(len: usize, enabled: bool) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} scripts {elapsed} {wide_msg}") {
        pb.set_style(style);
    }
    pb
}

fn script_report(f: &ScriptFile, status: Status) -> ScriptReport {
    ScriptReport {
        name: f.name.clone(),
        path: f.path.display().to_string(),
        status,
        commands: 0,
        divergences: Vec::new(),
    }
}

/// Entries rendered with the effective flags `flags(index, outcome)` decides.
fn entries_with(outcomes: &[Outcome], flags: impl Fn(usize, &Outcome) -> Flags) -> Vec<Entry> {
    outcomes.iter().enumerate().map(|(i, o)| to_entry(o, flags(i, o))).collect()
}

/// Effective flags from the script's directives and the reference's tips.
fn tip_flags(o: &Outcome, cmd: Option<&crate::script::Command>, tips: &Tips) -> Flags {
    o.flags.with_tips(cmd.map(|c| tips.flags_for(c)).unwrap_or_default())
}

fn tip_entries(outcomes: &[Outcome], tips: &Tips) -> Vec<Entry> {
    entries_with(outcomes, |_, o| tip_flags(o, o.cmd.as_ref(), tips))
}

fn finish(f: &ScriptFile, commands: usize, mut divergences: Vec<Divergence>, register: &mut Register) -> ScriptReport {
    for d in &mut divergences {
        register.classify(&f.name, d);
    }
    ScriptReport {
        status: if divergences.is_empty() { Status::Pass } else { Status::Diverged },
        commands,
        divergences,
        ..script_report(f, Status::Pass)
    }
}

fn min_version_skip(script: &Script, version: Option<Version>) -> Option<Status> {
    match (script.min_version, version) {
        (Some(min), Some(v)) if v < min => Some(Status::Skipped(format!("needs version {min}, reference is {v}"))),
        _ => None,
    }
}

/// Fetches what a run needs to know about the reference, once per run.
fn reference_facts(ep: &Endpoint, opts: &SuiteOptions) -> Result<(ServerInfo, Tips), SuiteError> {
    let mut conn = Conn::connect(ep, opts.run.read_timeout)?;
    let info = ServerInfo::fetch(&mut conn).map_err(ClientError::from)?;
    let tips = Tips::fetch(&mut conn).map_err(ClientError::from)?;
    Ok((info, tips))
}

/// `diff`: replays every script on both servers (concurrently) and compares transcripts.
pub fn diff(
    reference: &Endpoint,
    target: &Endpoint,
    files: &[ScriptFile],
    register: &mut Register,
    opts: &SuiteOptions,
) -> Result<Report, SuiteError> {
    let start = Instant::now();
    if reference == target {
        // Both sides FLUSHALL and run concurrently: on one server they would trample each other.
        return Err(SuiteError::SameServer(reference.url()));
    }
    let mut report = Report::new("diff", Some(reference.url()), Some(target.url()));
    let (info, tips) = reference_facts(reference, opts)?;
    // Fail fast (exit 2) when the target is not there at all.
    Conn::connect(target, opts.run.read_timeout)?;
    guard(&[reference, target], opts)?;
    let pb = progress_bar(files.len(), opts.progress);
    let mut ran = HashSet::new();
    for f in files {
        pb.set_message(f.name.clone());
        report.scripts.push(diff_one(f, reference, target, &info, &tips, register, opts, &mut ran));
        pb.inc(1);
    }
    pb.finish_and_clear();
    cleanup(&[reference, target], opts);
    report.stale_known = register.stale(&ran);
    report.set_elapsed(start.elapsed());
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn diff_one(
    f: &ScriptFile,
    reference: &Endpoint,
    target: &Endpoint,
    info: &ServerInfo,
    tips: &Tips,
    register: &mut Register,
    opts: &SuiteOptions,
    ran: &mut HashSet<String>,
) -> ScriptReport {
    let script = match Script::load(&f.path, f.name.clone()) {
        Ok(s) => s,
        Err(e) => return script_report(f, Status::Error(e.to_string())),
    };
    if let Some(skip) = min_version_skip(&script, info.version()) {
        return script_report(f, skip);
    }
    let (r, t) = std::thread::scope(|s| {
        let r = s.spawn(|| run_script(reference, &script, &opts.run));
        let t = run_script(target, &script, &opts.run);
        (r.join().expect("reference run panicked"), t)
    });
    let (r, t) = match (r, t) {
        (Ok(r), Ok(t)) => (r, t),
        (Err(e), _) => return script_report(f, Status::Error(format!("reference: {e}"))),
        (_, Err(e)) => return script_report(f, Status::Error(format!("target: {e}"))),
    };
    ran.insert(f.name.clone());
    let expected = tip_entries(&r, tips);
    // The target is rendered with the reference's flags: the reference decides.
    let actual = entries_with(&t, |i, o| match r.get(i) {
        Some(ro) => tip_flags(ro, ro.cmd.as_ref(), tips),
        None => tip_flags(o, o.cmd.as_ref(), tips),
    });
    finish(f, r.len(), compare(&expected, &actual), register)
}

/// `check`: replays every script on the target and compares with the goldens.
pub fn check(
    target: &Endpoint,
    golden_dir: &Path,
    files: &[ScriptFile],
    register: &mut Register,
    opts: &SuiteOptions,
) -> Result<Report, SuiteError> {
    let start = Instant::now();
    let mut report = Report::new("check", Some(golden_dir.display().to_string()), Some(target.url()));
    Conn::connect(target, opts.run.read_timeout)?;
    guard(&[target], opts)?;
    let pb = progress_bar(files.len(), opts.progress);
    let mut ran = HashSet::new();
    // The reference version, learnt from whichever golden is read first; used to tell a
    // script skipped at record time (`@min-version`) from a missing golden.
    let mut ref_version: Option<Version> = None;
    for f in files {
        pb.set_message(f.name.clone());
        report.scripts.push(check_one(f, target, golden_dir, register, opts, &mut ran, &mut ref_version));
        pb.inc(1);
    }
    pb.finish_and_clear();
    cleanup(&[target], opts);
    report.stale_known = register.stale(&ran);
    report.set_elapsed(start.elapsed());
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn check_one(
    f: &ScriptFile,
    target: &Endpoint,
    golden_dir: &Path,
    register: &mut Register,
    opts: &SuiteOptions,
    ran: &mut HashSet<String>,
    ref_version: &mut Option<Version>,
) -> ScriptReport {
    let script = match Script::load(&f.path, f.name.clone()) {
        Ok(s) => s,
        Err(e) => return script_report(f, Status::Error(e.to_string())),
    };
    let gpath = golden_path(golden_dir, &f.name);
    let golden = if gpath.exists() {
        match Golden::read(&gpath) {
            Ok(g) => g,
            Err(e) => return script_report(f, Status::Error(e.to_string())),
        }
    } else {
        if ref_version.is_none() {
            *ref_version = any_golden_version(golden_dir);
        }
        if let Some(skip) = min_version_skip(&script, *ref_version) {
            return script_report(f, skip);
        }
        return script_report(
            f,
            Status::Error(format!("no golden {}: record it with `redrock-compat record`", gpath.display())),
        );
    };
    if ref_version.is_none() {
        *ref_version = golden.reference_version();
    }
    let t = match run_script(target, &script, &opts.run) {
        Ok(t) => t,
        Err(e) => return script_report(f, Status::Error(format!("target: {e}"))),
    };
    ran.insert(f.name.clone());
    // The golden's headers hold the effective flags it was recorded with (tips included).
    let actual = entries_with(&t, |i, o| {
        golden.entries.get(i).map(|e| e.flags).unwrap_or_else(|| o.flags.with_tips(Flags::default()))
    });
    finish(f, t.len(), compare(&golden.entries, &actual), register)
}

/// The description of a golden in `dir` recorded from another reference than `current`.
fn other_reference(dir: &Path, current: &str) -> Option<String> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for ent in std::fs::read_dir(&d).ok()?.flatten() {
            let p = ent.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "snap") {
                match Golden::read(&p) {
                    Ok(g) if g.description != current => return Some(g.description),
                    _ => {}
                }
            }
        }
    }
    None
}

fn any_golden_version(dir: &Path) -> Option<Version> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for ent in std::fs::read_dir(&d).ok()?.flatten() {
            let p = ent.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "snap") {
                if let Some(v) = Golden::read(&p).ok().and_then(|g| g.reference_version()) {
                    return Some(v);
                }
            }
        }
    }
    None
}

/// `record`: writes one golden per script from a real Redis.
///
/// Every script also runs on each of `verify` (other real Redis processes of the same
/// version: hash seeds differ per process, so a reply in hash-table order shows up), or
/// again on the reference when there is none; a script whose transcripts differ gets no
/// golden: it needs a directive, or it would make the re-record check and `diff` of two
/// real Redis flaky.
pub fn record(
    reference: &Endpoint,
    verify: &[&Endpoint],
    golden_dir: &Path,
    files: &[ScriptFile],
    opts: &SuiteOptions,
    allow_new_reference: bool,
) -> Result<Report, SuiteError> {
    let start = Instant::now();
    let (info, tips) = reference_facts(reference, opts)?;
    if let Some(why) = info.not_real_redis() {
        return Err(SuiteError::NotRedis { url: reference.url(), why });
    }
    for v in verify {
        let (vinfo, _) = reference_facts(v, opts)?;
        if let Some(why) = vinfo.not_real_redis() {
            return Err(SuiteError::NotRedis { url: v.url(), why });
        }
        if vinfo.description() != info.description() {
            return Err(SuiteError::MixedReferences { existing: info.description(), new: vinfo.description() });
        }
    }
    let others: Vec<&Endpoint> = if verify.is_empty() { vec![reference] } else { verify.to_vec() };
    let mut all = vec![reference];
    all.extend(verify);
    guard(&all, opts)?;
    if !allow_new_reference {
        if let Some(existing) = other_reference(golden_dir, &info.description()) {
            return Err(SuiteError::MixedReferences { existing, new: info.description() });
        }
    }
    let mut report = Report::new("record", Some(info.description()), Some(golden_dir.display().to_string()));
    let pb = progress_bar(files.len(), opts.progress);
    for f in files {
        pb.set_message(f.name.clone());
        report.scripts.push(record_one(f, reference, &others, golden_dir, &info, &tips, opts));
        pb.inc(1);
    }
    pb.finish_and_clear();
    cleanup(&all, opts);
    report.set_elapsed(start.elapsed());
    Ok(report)
}

fn record_one(
    f: &ScriptFile,
    reference: &Endpoint,
    others: &[&Endpoint],
    golden_dir: &Path,
    info: &ServerInfo,
    tips: &Tips,
    opts: &SuiteOptions,
) -> ScriptReport {
    let script = match Script::load(&f.path, f.name.clone()) {
        Ok(s) => s,
        Err(e) => return script_report(f, Status::Error(e.to_string())),
    };
    if let Some(skip) = min_version_skip(&script, info.version()) {
        return script_report(f, skip);
    }
    let outcomes = match run_script(reference, &script, &opts.run) {
        Ok(o) => o,
        Err(e) => return script_report(f, Status::Error(e.to_string())),
    };
    if let Some(broken) = outcomes.iter().find_map(|o| o.result.as_ref().err()) {
        return script_report(f, Status::Error(format!("the reference failed mid-script: {broken}")));
    }
    let entries = tip_entries(&outcomes, tips);
    for other in others {
        let again = match run_script(other, &script, &opts.run) {
            Ok(o) => tip_entries(&o, tips),
            Err(e) => return script_report(f, Status::Error(format!("verification run: {e}"))),
        };
        if let Some(d) = compare(&entries, &again).first() {
            return script_report(
                f,
                Status::Error(format!(
                    "{}:{}: `{}` replies differently on two runs of real Redis; mark it (@nondeterministic, \
                     @unordered, @tolerance…) or make it deterministic:\n{}",
                    f.path.display(),
                    d.line,
                    d.command,
                    crate::diff::unified(&d.expected, &d.actual, false)
                )),
            );
        }
    }
    let golden = Golden { description: info.description(), input_file: input_file_for(&f.path), entries };
    match golden.write(&golden_path(golden_dir, &f.name)) {
        Ok(()) => ScriptReport { commands: outcomes.len(), ..script_report(f, Status::Pass) },
        Err(e) => script_report(f, Status::Error(e.to_string())),
    }
}
