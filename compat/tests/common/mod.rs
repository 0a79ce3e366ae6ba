//! Shared by the integration tests: paths, real redis-server processes, running the CLI.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[allow(unused_imports)]
pub use redrock_compat::process::{ServerProcess, TempDir};

/// The package folder, as cargo names it when it runs the test. The compile-time value is only
/// a fallback: a target folder shared by several clones (CI reuses this machine's build) keeps
/// test binaries compiled in another clone whose sources had the same content.
pub fn compat_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub fn workspace_dir() -> PathBuf {
    compat_dir().parent().expect("compat/ has a parent").to_path_buf()
}

pub fn scripts_dir() -> PathBuf {
    compat_dir().join("scripts")
}

pub fn golden_dir() -> PathBuf {
    workspace_dir().join("golden")
}

pub fn register_file() -> PathBuf {
    compat_dir().join("divergences.toml")
}

pub fn redis() -> ServerProcess {
    ServerProcess::redis(&[]).expect("start redis-server (is /usr/bin/redis-server installed?)")
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn show(&self) -> String {
        format!("exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs the redrock-compat binary from the workspace root (where its defaults point).
pub fn cli(args: &[&str]) -> Run {
    cli_in(&workspace_dir(), args)
}

pub fn cli_in(dir: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_redrock-compat"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run redrock-compat");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).expect("under base").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// Copies a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    for rel in files_under(from) {
        let dst = to.join(&rel);
        std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
        std::fs::copy(from.join(&rel), dst).expect("copy");
    }
}
