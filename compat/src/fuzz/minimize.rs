//! Delta debugging of a diverging case: drop commands (ddmin), then drop trailing
//! arguments and replace arguments by simpler ones, for as long as the case still diverges
//! on the same command. Every candidate must keep the generator's determinism invariants
//! ([`is_deterministic`]), so shrinking cannot manufacture a false divergence.

use super::differ::{Differ, Verdict};
use super::domain::SIMPLER;
use super::generate::{is_deterministic, Case};

/// Most candidate cases run while minimising one divergence (each is one round trip to
/// both servers).
pub const MAX_TRIALS: usize = 3000;

struct Shrinker<'a> {
    differ: &'a mut Differ,
    /// The command name the divergence must stay on.
    name: String,
    trials: usize,
}

impl Shrinker<'_> {
    fn still_diverges(&mut self, case: &Case) -> Result<bool, String> {
        if case.commands.is_empty() || !is_deterministic(case) || self.trials >= MAX_TRIALS {
            return Ok(false);
        }
        self.trials += 1;
        Ok(matches!(self.differ.run_one(case)?, Verdict::New(d) if d.name == self.name))
    }

    /// ddmin over the command list.
    fn drop_commands(&mut self, case: &mut Case) -> Result<bool, String> {
        let mut changed = false;
        let mut parts = 2;
        while case.commands.len() >= 2 {
            let len = case.commands.len();
            let chunk = len.div_ceil(parts);
            let mut reduced = false;
            for start in (0..len).step_by(chunk) {
                let mut candidate = case.clone();
                candidate.commands.drain(start..(start + chunk).min(len));
                if self.still_diverges(&candidate)? {
                    *case = candidate;
                    parts = (parts - 1).max(2);
                    reduced = true;
                    changed = true;
                    break;
                }
            }
            if !reduced {
                if parts >= len {
                    break;
                }
                parts = (parts * 2).min(len);
            }
        }
        Ok(changed)
    }

    fn simplify_arguments(&mut self, case: &mut Case) -> Result<bool, String> {
        let mut changed = false;
        for i in 0..case.commands.len() {
            // Trailing arguments first (options), then each argument in place.
            while case.commands[i].args.len() > 1 {
                let mut candidate = case.clone();
                candidate.commands[i].args.pop();
                if !self.still_diverges(&candidate)? {
                    break;
                }
                *case = candidate;
                changed = true;
            }
            for j in 1..case.commands[i].args.len() {
                for s in SIMPLER {
                    let current = &case.commands[i].args[j];
                    if current.as_slice() == s.as_bytes() {
                        break;
                    }
                    let mut candidate = case.clone();
                    candidate.commands[i].args[j] = s.as_bytes().to_vec();
                    if self.still_diverges(&candidate)? {
                        *case = candidate;
                        changed = true;
                        break;
                    }
                }
            }
        }
        Ok(changed)
    }
}

/// The smallest case found that still diverges on the command named `name`, and how many
/// candidates were run.
pub fn minimize(differ: &mut Differ, case: &Case, name: &str) -> Result<(Case, usize), String> {
    let mut s = Shrinker { differ, name: name.to_string(), trials: 0 };
    let mut case = case.clone();
    loop {
        let dropped = s.drop_commands(&mut case)?;
        let simplified = s.simplify_arguments(&mut case)?;
        if !(dropped || simplified) || s.trials >= MAX_TRIALS {
            break;
        }
    }
    Ok((case, s.trials))
}
