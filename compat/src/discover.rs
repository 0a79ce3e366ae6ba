//! Finding scripts: `.redis` files under the given paths, named `family/name` relative to
//! the scripts root (the name is the golden's key).

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{0}: no such file or directory")]
    Missing(String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("more than {MAX_SCRIPTS} scripts")]
    TooMany,
}

/// Most script files one run accepts (a guard against pointing at `/`).
pub const MAX_SCRIPTS: usize = 100_000;

/// One script file and its name (`family/name`, the golden's key).
#[derive(Debug, Clone)]
pub struct ScriptFile {
    pub path: PathBuf,
    pub name: String,
}

/// Finds `.redis` files under `paths` (files or folders), sorted, named relative to `root`.
pub fn discover(paths: &[PathBuf], root: &Path) -> Result<Vec<ScriptFile>, DiscoverError> {
    let root_abs = root.canonicalize().ok();
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files)?;
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            return Err(DiscoverError::Missing(p.display().to_string()));
        }
        if files.len() > MAX_SCRIPTS {
            return Err(DiscoverError::TooMany);
        }
    }
    files.sort();
    files.dedup();
    Ok(files
        .into_iter()
        .map(|path| {
            let name = script_name(&path, root_abs.as_deref());
            ScriptFile { path, name }
        })
        .collect())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DiscoverError> {
    let rd = std::fs::read_dir(dir).map_err(|e| DiscoverError::Io(dir.display().to_string(), e))?;
    for ent in rd {
        let ent = ent.map_err(|e| DiscoverError::Io(dir.display().to_string(), e))?;
        let p = ent.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "redis") {
            out.push(p);
        }
        if out.len() > MAX_SCRIPTS {
            return Err(DiscoverError::TooMany);
        }
    }
    Ok(())
}

fn script_name(path: &Path, root: Option<&Path>) -> String {
    let stem = path.with_extension("");
    if let (Some(root), Ok(abs)) =
        (root, stem.canonicalize().or_else(|_| path.canonicalize().map(|p| p.with_extension(""))))
    {
        if let Ok(rel) = abs.strip_prefix(root) {
            return rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        }
    }
    let file = stem.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    match path.parent().and_then(|p| p.file_name()) {
        Some(parent) => format!("{}/{file}", parent.to_string_lossy()),
        None => file,
    }
}
