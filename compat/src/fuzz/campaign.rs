//! A seeded campaign: case `i` of seed `s` is generated from bytes that depend only on
//! `(s, i)`, so any case is reproducible alone and a run is reproducible from its seed.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use arbitrary::Unstructured;

use super::differ::{Differ, Verdict};
use super::generate::{generate_case, Case};
use super::minimize::minimize;
use crate::diff::Divergence;

/// Commands per pipeline (per side): enough to hide round trips, well under
/// [`crate::runner::MAX_PIPELINE_COMMANDS`].
pub const BATCH_COMMANDS: usize = 800;
/// Random bytes per command of a case's length bound: more than the generator consumes.
const BYTES_PER_COMMAND: usize = 96;

#[derive(Debug, Clone)]
pub struct CampaignOptions {
    pub seed: u64,
    pub cases: usize,
    pub max_len: usize,
    /// Where minimal scripts are written.
    pub out: Option<PathBuf>,
    /// Distinct new divergences minimised and reported before the campaign stops.
    pub max_reports: usize,
    /// Cases run in RESP3: the written scripts start with `@resp3`.
    pub resp3: bool,
}

/// One new divergence, minimised.
#[derive(Debug, Clone)]
pub struct Finding {
    pub case_index: usize,
    pub original_len: usize,
    pub minimal: Case,
    pub divergence: Divergence,
    pub trials: usize,
    pub script: String,
    pub written_to: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub cases: usize,
    pub commands: usize,
    /// Time spent replaying and comparing (minimisation excluded).
    pub replay: Duration,
    pub known: usize,
    /// New divergences with a signature already reported (not minimised again).
    pub duplicates: usize,
    pub findings: Vec<Finding>,
}

impl Summary {
    pub fn commands_per_second(&self) -> f64 {
        self.commands as f64 / self.replay.as_secs_f64().max(1e-9)
    }
}

/// splitmix64: tiny, good enough to feed a structure-aware generator.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Case `index` of `seed`.
pub fn case(seed: u64, index: usize, max_len: usize) -> Case {
    let mut state = seed ^ (index as u64).wrapping_mul(0xd6e8_feb8_6659_fd93);
    let n = BYTES_PER_COMMAND * max_len.max(1) + 64;
    let mut bytes = Vec::with_capacity(n + 8);
    while bytes.len() < n {
        bytes.extend_from_slice(&splitmix(&mut state).to_le_bytes());
    }
    // Unstructured never fails on short data (it yields defaults), so this cannot fail.
    generate_case(&mut Unstructured::new(&bytes), max_len).unwrap_or_default()
}

pub fn run(
    differ: &mut Differ,
    opts: &CampaignOptions,
    mut on_finding: impl FnMut(&Finding),
) -> Result<Summary, String> {
    let mut summary = Summary::default();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut next = 0;
    while next < opts.cases && summary.findings.len() < opts.max_reports {
        let first = next;
        let mut batch = Vec::new();
        let mut commands = 0;
        while next < opts.cases && commands < BATCH_COMMANDS {
            let c = case(opts.seed, next, opts.max_len);
            commands += c.commands.len();
            batch.push(c);
            next += 1;
        }
        let start = Instant::now();
        let refs: Vec<&Case> = batch.iter().collect();
        let verdicts = differ.run(&refs)?;
        summary.replay += start.elapsed();
        summary.cases += batch.len();
        summary.commands += commands;
        for (i, v) in verdicts.into_iter().enumerate() {
            match v {
                Verdict::Same => {}
                Verdict::Known(_) => summary.known += 1,
                Verdict::New(d) => {
                    if !seen.insert((d.name.clone(), d.explanation.clone()))
                        || summary.findings.len() >= opts.max_reports
                    {
                        summary.duplicates += 1;
                        continue;
                    }
                    let f = shrink(differ, opts, first + i, &batch[i], d)?;
                    on_finding(&f);
                    summary.findings.push(f);
                }
            }
        }
    }
    Ok(summary)
}

fn shrink(
    differ: &mut Differ,
    opts: &CampaignOptions,
    index: usize,
    case: &Case,
    d: Divergence,
) -> Result<Finding, String> {
    let (minimal, trials) = minimize(differ, case, &d.name)?;
    // The minimal case's own divergence (the original one when nothing shrank or the
    // divergence does not reproduce alone).
    let divergence = match differ.run_one(&minimal)? {
        Verdict::New(m) => m,
        _ => d,
    };
    let (minimal, divergence) =
        if minimal.commands.is_empty() { (case.clone(), divergence) } else { (minimal, divergence) };
    let header = format!(
        "Found by `redrock-compat fuzz --seed {} --max-len {}`: case {index}, minimised from {} to {} commands.\n\
         Divergence on {} ({}).",
        opts.seed,
        opts.max_len,
        case.commands.len(),
        minimal.commands.len(),
        divergence.name,
        divergence.explanation
    );
    let mut script = minimal.to_script(&header);
    if opts.resp3 {
        // After the header comment, before the first command.
        let at = script.lines().take_while(|l| l.starts_with('#')).map(|l| l.len() + 1).sum::<usize>();
        script.insert_str(at, "@resp3\n");
    }
    let written_to = match &opts.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = dir.join(format!("fuzz-{}-{index}.redis", opts.seed));
            std::fs::write(&path, &script).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(path)
        }
        None => None,
    };
    Ok(Finding {
        case_index: index,
        original_len: case.commands.len(),
        minimal,
        divergence,
        trials,
        script,
        written_to,
    })
}
