//! `lint`: checks scripts without any server — every script parses (errors as file:line),
//! every script has its golden and every golden its script. Cheap enough for any CI step.

use std::collections::BTreeSet;
use std::path::Path;

use super::{EXIT_CANNOT_RUN, EXIT_OK};
use crate::golden::{golden_path, Golden};
use crate::script::Script;
use crate::suite;

fn goldens_under(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for ent in rd.flatten() {
        let p = ent.path();
        if p.is_dir() {
            goldens_under(&p, base, out);
        } else if p.extension().is_some_and(|e| e == "snap") {
            if let Ok(rel) = p.with_extension("").strip_prefix(base) {
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
}

pub fn run(paths: &[std::path::PathBuf], scripts_root: &Path, golden: &Path) -> i32 {
    let files = match suite::discover(paths, scripts_root) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("redrock-compat: {e}");
            return EXIT_CANNOT_RUN;
        }
    };
    let mut problems = Vec::new();
    let mut commands = 0;
    let mut names = BTreeSet::new();
    for f in &files {
        names.insert(f.name.clone());
        match Script::load(&f.path, f.name.clone()) {
            Ok(s) => commands += s.commands().count(),
            Err(e) => problems.push(e.to_string()),
        }
        let g = golden_path(golden, &f.name);
        if !g.exists() {
            problems.push(format!("{}: no golden {} (record it)", f.path.display(), g.display()));
        } else if let Err(e) = Golden::read(&g) {
            problems.push(e.to_string());
        }
    }
    let mut goldens = BTreeSet::new();
    goldens_under(golden, golden, &mut goldens);
    // Only goldens of the scripts' families can be judged orphans when PATHS is a subset.
    let families: BTreeSet<&str> = names.iter().filter_map(|n| n.rsplit_once('/').map(|(f, _)| f)).collect();
    for g in goldens.difference(&names) {
        if g.rsplit_once('/').is_some_and(|(f, _)| families.contains(f)) {
            problems.push(format!("{}: golden without a script", golden_path(golden, g).display()));
        }
    }
    for p in &problems {
        super::out(&format!("{p}\n"));
    }
    super::out(&format!("lint: {} scripts, {commands} commands, {} problems\n", files.len(), problems.len()));
    if problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_CANNOT_RUN
    }
}
