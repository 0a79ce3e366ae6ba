//! `fuzz`: a seeded differential campaign between a reference and a target.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{EXIT_CANNOT_RUN, EXIT_DIVERGED, EXIT_OK};
use crate::divergences::Register;
use crate::fuzz::campaign::{self, CampaignOptions, Finding};
use crate::fuzz::Differ;

// The options of `redrock-compat fuzz` (its help text is the variant's in cli/mod.rs).
#[derive(clap::Args, Debug)]
pub struct FuzzArgs {
    #[arg(long)]
    pub reference: String,
    #[arg(long)]
    pub target: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 10_000)]
    pub cases: usize,
    /// Most commands per case.
    #[arg(long, default_value_t = 20)]
    pub max_len: usize,
    /// Folder the minimal scripts are written to.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Distinct divergences minimised before the campaign stops.
    #[arg(long, default_value_t = 5)]
    pub max_reports: usize,
    /// Register of known divergences; its entries with `script = "fuzz"` apply.
    #[arg(long)]
    pub divergences: Option<PathBuf>,
    #[arg(long)]
    pub allow_flush: bool,
    /// Seconds to wait for one reply.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Run every case in RESP3 (HELLO 3 on each connection; minimal scripts start
    /// with `@resp3`).
    #[arg(long)]
    pub resp3: bool,
}

fn print_finding(f: &Finding) {
    let d = &f.divergence;
    let mut s = format!(
        "\nDIVERGENCE in case {} on {}: {}\nminimal script ({} of {} commands, {} trials){}:\n{}\n",
        f.case_index,
        d.name,
        d.explanation,
        f.minimal.commands.len(),
        f.original_len,
        f.trials,
        f.written_to.as_ref().map(|p| format!(", written to {}", p.display())).unwrap_or_default(),
        f.script.trim_end()
    );
    s.push_str("diff (- reference, + target):\n");
    s.push_str(&crate::diff::unified(&d.expected, &d.actual, false));
    super::out(&s);
}

pub fn run(a: &FuzzArgs) -> i32 {
    let go = || -> Result<i32, String> {
        let (rs, ts) = (super::replay::endpoint(&a.reference)?, super::replay::endpoint(&a.target)?);
        if rs.ep == ts.ep {
            return Err(format!("reference and target are the same server ({})", rs.ep.url()));
        }
        let register_path = a
            .divergences
            .clone()
            .or_else(|| Some(super::replay::locate(Path::new(super::replay::DEFAULT_REGISTER))).filter(|p| p.exists()));
        let register = match register_path {
            Some(p) => Register::load(&p).map_err(|e| e.to_string())?,
            None => Register::default(),
        };
        let timeout = Duration::from_secs(a.timeout.max(1));
        if !a.allow_flush {
            for ep in [&rs.ep, &ts.ep] {
                crate::scratch::ensure_empty(ep, timeout).map_err(|e| e.to_string())?;
            }
        }
        let mut differ = Differ::connect(&rs.ep, &ts.ep, register, timeout, a.resp3)?;
        let opts = CampaignOptions {
            seed: a.seed,
            cases: a.cases,
            max_len: a.max_len.max(1),
            out: a.out.clone(),
            max_reports: a.max_reports.max(1),
            resp3: a.resp3,
        };
        let summary = campaign::run(&mut differ, &opts, print_finding)?;
        for ep in [&rs.ep, &ts.ep] {
            crate::scratch::leave_empty(ep, timeout);
        }
        let new = summary.findings.len() + summary.duplicates;
        super::out(&format!(
            "fuzz: seed {}{}, {} cases, {} commands replayed on 2 servers in {:.2}s ({:.0} commands/s); \
             {} new divergence(s) ({} distinct, minimised), {} known (registered)\n",
            a.seed,
            if a.resp3 { " (RESP3)" } else { "" },
            summary.cases,
            summary.commands,
            summary.replay.as_secs_f64(),
            summary.commands_per_second(),
            new,
            summary.findings.len(),
            summary.known
        ));
        Ok(if new == 0 { EXIT_OK } else { EXIT_DIVERGED })
    };
    match go() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("redrock-compat: {e}");
            EXIT_CANNOT_RUN
        }
    }
}
