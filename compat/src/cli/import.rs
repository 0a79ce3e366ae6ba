//! `import`: a workload in, a script out.

use std::path::Path;

use super::{ImportSource, EXIT_CANNOT_RUN, EXIT_OK};
use crate::import::{aof, commands, monitor, ImportError, ScriptWriter};

fn read_text(p: &Path) -> Result<String, ImportError> {
    let bytes = std::fs::read(p).map_err(|source| ImportError::Io { path: p.display().to_string(), source })?;
    // MONITOR output escapes every non-printable byte, so valid captures are ASCII.
    String::from_utf8(bytes)
        .map_err(|_| ImportError::Format { path: p.display().to_string(), msg: "not UTF-8 text".into() })
}

pub fn convert(src: &ImportSource) -> Result<ScriptWriter, ImportError> {
    if let Some(p) = &src.monitor {
        monitor::import(&read_text(p)?, &p.display().to_string())
    } else if let Some(p) = &src.aof {
        aof::import(p)
    } else if let Some(p) = &src.commands {
        commands::import(&read_text(p)?, &p.display().to_string())
    } else {
        unreachable!("clap requires one source")
    }
}

pub fn run(src: &ImportSource, output: Option<&Path>) -> i32 {
    let w = match convert(src) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("redrock-compat: {e}");
            return EXIT_CANNOT_RUN;
        }
    };
    match output {
        Some(o) => {
            if let Err(e) = std::fs::write(o, &w.out) {
                eprintln!("redrock-compat: {}: {e}", o.display());
                return EXIT_CANNOT_RUN;
            }
            eprintln!("imported {} commands ({} left out, see comments) into {}", w.commands, w.skipped, o.display());
        }
        None => super::out(&w.out),
    }
    EXIT_OK
}
