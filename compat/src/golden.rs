//! Golden files: `golden/<family>/<name>.snap`, insta snapshot files whose body is a
//! transcript, written only from a real Redis by `record`.
//!
//! The header is what insta itself writes for the assertion in
//! `compat/tests/redrock_goldens.rs`, so `cargo insta review` works on the same files.

use std::path::{Path, PathBuf};

use crate::transcript::{self, Entry};

/// The test whose `assert_snapshot!` shares these files (insta's `source` header).
pub const SNAPSHOT_SOURCE: &str = "compat/tests/redrock_goldens.rs";
/// The expression insta records for that assertion.
pub const SNAPSHOT_EXPRESSION: &str = "transcript";

#[derive(Debug, thiserror::Error)]
pub enum GoldenError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a snapshot file: {msg}")]
    Format { path: String, msg: String },
}

#[derive(Debug, Clone)]
pub struct Golden {
    pub description: String,
    pub input_file: String,
    pub entries: Vec<Entry>,
}

pub fn golden_path(dir: &Path, script_name: &str) -> PathBuf {
    dir.join(format!("{script_name}.snap"))
}

/// Parses a plain or double-quoted YAML scalar as insta writes them.
fn yaml_scalar(v: &str) -> String {
    let v = v.trim();
    if let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        inner.replace("\\\"", "\"").replace("\\\\", "\\")
    } else {
        v.to_string()
    }
}

impl Golden {
    pub fn read(path: &Path) -> Result<Golden, GoldenError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| GoldenError::Io { path: path.display().to_string(), source })?;
        Golden::parse(&text).map_err(|msg| GoldenError::Format { path: path.display().to_string(), msg })
    }

    pub fn parse(text: &str) -> Result<Golden, String> {
        let rest = text.strip_prefix("---\n").ok_or("missing leading ---")?;
        let (header, body) = rest.split_once("\n---\n").ok_or("missing closing ---")?;
        let mut description = String::new();
        let mut input_file = String::new();
        for l in header.lines() {
            if let Some((k, v)) = l.split_once(':') {
                match k.trim() {
                    "description" => description = yaml_scalar(v),
                    "input_file" => input_file = yaml_scalar(v),
                    _ => {}
                }
            }
        }
        let entries = transcript::parse(body).map_err(|e| e.to_string())?;
        Ok(Golden { description, input_file, entries })
    }

    pub fn to_text(&self) -> String {
        let body = transcript::to_text(&self.entries);
        format!(
            "---\nsource: {SNAPSHOT_SOURCE}\ndescription: {}\nexpression: {SNAPSHOT_EXPRESSION}\ninput_file: {}\n---\n{}\n",
            self.description,
            self.input_file,
            body.trim_end()
        )
    }

    pub fn write(&self, path: &Path) -> Result<(), GoldenError> {
        let io = |source| GoldenError::Io { path: path.display().to_string(), source };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(path, self.to_text()).map_err(io)
    }

    /// The reference version named in the description, e.g. 7.0.15.
    pub fn reference_version(&self) -> Option<crate::script::Version> {
        self.description
            .strip_prefix("redis_version ")
            .and_then(|r| r.split_whitespace().next())
            .and_then(crate::script::Version::parse)
    }
}

/// The script path as insta records it: relative to the workspace root when the script is
/// inside the workspace, so goldens do not depend on where the repository is checked out.
pub fn input_file_for(script: &Path) -> String {
    let Ok(abs) = script.canonicalize() else {
        return script.display().to_string();
    };
    let mut dir = abs.parent();
    while let Some(d) = dir {
        let manifest = d.join("Cargo.toml");
        let is_workspace = std::fs::read_to_string(&manifest).map(|t| t.contains("[workspace]")).unwrap_or(false);
        if is_workspace {
            if let Ok(rel) = abs.strip_prefix(d) {
                return rel.display().to_string();
            }
        }
        dir = d.parent();
    }
    script.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let g = Golden {
            description: "redis_version 7.0.15 (redis-server)".into(),
            input_file: "compat/scripts/strings/basic.redis".into(),
            entries: vec![Entry {
                line: 1,
                command: "PING".into(),
                flags: Default::default(),
                body: "simple \"PONG\"".into(),
            }],
        };
        let text = g.to_text();
        assert!(text.starts_with("---\nsource: compat/tests/redrock_goldens.rs\n"));
        let back = Golden::parse(&text).unwrap();
        assert_eq!(back.entries, g.entries);
        assert_eq!(back.description, g.description);
        assert_eq!(back.reference_version(), Some(crate::script::Version(7, 0, 15)));
    }
}
