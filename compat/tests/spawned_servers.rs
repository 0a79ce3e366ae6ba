//! Servers that `spawn:` starts die with the harness, however it ends: a CI job's timeout
//! or `kill` ends it with SIGTERM, without unwinding, and its servers must not outlive it.
#![cfg(target_os = "linux")]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{workspace_dir, TempDir};

/// How long the harness and its servers get to start, and its orphans to go.
const WITHIN: Duration = Duration::from_secs(30);

/// The children of process `pid` (its main thread's, which spawns the servers).
fn children(pid: u32) -> Vec<u32> {
    let listed = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    listed.split_whitespace().map(|p| p.parse().expect("a pid")).collect()
}

/// Whether `pid` still runs (a zombie waiting for its reaper does not).
fn runs(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn servers_spawned_by_a_killed_harness_stop() {
    // A script whose first command blocks until the harness is gone.
    let scripts = TempDir::new("redrock-compat-spawned").expect("a scratch folder");
    let script = scripts.path().join("blocks.redis");
    std::fs::write(&script, "BLPOP never-pushed 0\n").expect("write the script");
    let redis = format!("spawn:{}", redrock_compat::process::redis_server_bin());
    let root = scripts.path().display().to_string();
    let mut harness = Command::new(env!("CARGO_BIN_EXE_redrock-compat"))
        .args(["diff", "--reference", &redis, "--target", &redis, "--scripts-root", &root, "--timeout", "600"])
        .arg("--no-progress")
        .arg(&script)
        .current_dir(workspace_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run redrock-compat");

    let deadline = Instant::now() + WITHIN;
    let servers = loop {
        let servers = children(harness.id());
        if servers.len() == 2 {
            break servers;
        }
        assert!(Instant::now() < deadline, "the harness started {servers:?}, not two servers");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(harness.try_wait().expect("the harness's state").is_none(), "the harness must still wait on BLPOP");
    // A killed harness leaves its servers' temporary folders (each server runs in its own):
    // the test removes them once the servers are gone.
    let folders: Vec<_> =
        servers.iter().filter_map(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).ok()).collect();

    // SAFETY: a plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(harness.id() as libc::pid_t, libc::SIGTERM) }, 0);
    harness.wait().expect("reap the harness");

    while servers.iter().any(|&pid| runs(pid)) {
        assert!(Instant::now() < deadline, "servers {servers:?} outlived the harness");
        std::thread::sleep(Duration::from_millis(20));
    }
    for folder in folders {
        if folder.file_name().is_some_and(|name| name.to_string_lossy().starts_with("redrock-compat-server")) {
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}
