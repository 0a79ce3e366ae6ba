//! `check` of every golden against a freshly started Redrock, through insta's glob so that
//! `cargo insta review` shows each divergence as a snapshot change.
//!
//! The server binary: `$REDROCK_SERVER_BIN`, else `redrock-server` in
//! `$CARGO_TARGET_DIR/release`, `$HOME/.cache/redrock-target/release`, `../target/release`.
//! Without one this test FAILS (it never skips): compatibility is not optional.
//!
//! Known divergences registered in compat/divergences.toml are replaced by the golden's text
//! before the assertion (and reported), and a registered entry that no longer diverges fails.
//! Accepting a snapshot written here puts Redrock's reply in golden/, which
//! `golden_rerecord.rs` then rejects: goldens come from real Redis only, via `record`.

mod common;
use common::*;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

use redrock_compat::diff::compare;
use redrock_compat::divergences::Register;
use redrock_compat::golden::{golden_path, Golden};
use redrock_compat::runner::{run_script, to_entry, RunOptions};
use redrock_compat::script::Script;
use redrock_compat::transcript;

fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("REDROCK_SERVER_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "REDROCK_SERVER_BIN={} does not exist", p.display());
        return p;
    }
    let mut candidates = Vec::new();
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(t).join("release/redrock-server"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(h).join(".cache/redrock-target/release/redrock-server"));
    }
    candidates.push(workspace_dir().join("target/release/redrock-server"));
    candidates.iter().find(|p| p.is_file()).cloned().unwrap_or_else(|| {
        panic!(
            "no Redrock server binary: set REDROCK_SERVER_BIN or build it with \
             `cargo build --release -p redrock` (looked in {candidates:?})"
        )
    })
}

#[test]
fn redrock_matches_every_golden() {
    let bin = server_binary();
    let server =
        ServerProcess::redrock(&bin).unwrap_or_else(|e| panic!("cannot start Redrock ({}): {e}", bin.display()));
    let ep = server.endpoint();
    let register = Mutex::new(if register_file().exists() {
        Register::load(&register_file()).unwrap()
    } else {
        Register::default()
    });
    let ran = Mutex::new(HashSet::new());
    let known = Mutex::new(Vec::new());
    // insta's glob is rooted where this file was compiled: strip that root, not the run's.
    let scripts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let scripts = scripts.canonicalize().unwrap_or(scripts);

    insta::glob!("../scripts", "**/*.redis", |path| {
        let rel = path.strip_prefix(&scripts).expect("script under compat/scripts").with_extension("");
        let name = rel.to_string_lossy().replace('\\', "/");
        let family = rel.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        let stem = rel.file_name().unwrap().to_string_lossy().into_owned();
        let gpath = golden_path(&golden_dir(), &name);
        let golden = Golden::read(&gpath).unwrap_or_else(|e| {
            panic!("{e}: record it with `redrock-compat record --reference redis://…` from real Redis")
        });
        let script = Script::load(path, name.clone()).unwrap();
        // A script that cannot run (FLUSHALL refused, connection refused) still yields a
        // snapshot, so every script is reported rather than the first failure only.
        let text = match run_script(&ep, &script, &RunOptions::default()) {
            Err(e) => format!("!! cannot run against Redrock: {e}"),
            Ok(outcomes) => {
                let mut actual: Vec<_> = outcomes
                    .iter()
                    .enumerate()
                    .map(|(i, o)| {
                        let flags = golden
                            .entries
                            .get(i)
                            .map(|e| e.flags)
                            .unwrap_or_else(|| o.flags.with_tips(Default::default()));
                        to_entry(o, flags)
                    })
                    .collect();
                ran.lock().unwrap().insert(name.clone());
                for mut d in compare(&golden.entries, &actual) {
                    register.lock().unwrap().classify(&name, &mut d);
                    if let Some(reason) = &d.known {
                        // A known divergence: show the golden's text so the snapshot passes.
                        if let Some(pos) = actual.iter().position(|e| e.line == d.line && e.command == d.command) {
                            if let Some(g) = golden.entries.iter().find(|g| g.line == d.line) {
                                actual[pos] = g.clone();
                            }
                        }
                        known.lock().unwrap().push(format!("{name}:{} {} -- {reason}", d.line, d.command));
                    }
                }
                transcript::to_text(&actual)
            }
        };
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(golden_dir().join(family));
        settings.remove_snapshot_suffix();
        settings.set_prepend_module_to_snapshot(false);
        settings.set_description(format!(
            "from Redrock ({}): NOT a golden; goldens are recorded from real Redis with `redrock-compat record`",
            bin.display()
        ));
        settings.bind(|| {
            let transcript = text.trim_end();
            insta::assert_snapshot!(stem.as_str(), transcript);
        });
    });

    let known = known.into_inner().unwrap();
    if !known.is_empty() {
        eprintln!("known divergences (compat/divergences.toml):\n  {}", known.join("\n  "));
    }
    let stale = register.into_inner().unwrap().stale(&ran.into_inner().unwrap());
    assert!(stale.is_empty(), "registered divergences that no longer diverge, remove them: {stale:#?}");
}
