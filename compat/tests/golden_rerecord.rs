//! A golden that real Redis would not produce is a bug: re-record every script from a freshly
//! started real redis-server into a temporary folder and require golden/ to be identical,
//! byte for byte (header included, so a golden accepted from another server is caught).

mod common;
use common::*;

#[test]
fn goldens_are_exactly_what_real_redis_records() {
    let tmp = TempDir::new("redrock-compat-rerecord").unwrap();
    let golden_tmp = tmp.path().join("golden");
    let scripts = scripts_dir();
    let run = cli(&[
        "record",
        "--reference",
        // A spawned reference is verified against spawned twins (other hash seeds).
        &format!("spawn:{}", redrock_compat::process::redis_server_bin()),
        "--golden",
        golden_tmp.to_str().unwrap(),
        "--no-progress",
        scripts.to_str().unwrap(),
        "--scripts-root",
        scripts.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "record failed:\n{}", run.show());

    let snaps = |d: &std::path::Path| {
        files_under(d).into_iter().filter(|p| p.extension().is_some_and(|e| e == "snap")).collect::<Vec<_>>()
    };
    let fresh = snaps(&golden_tmp);
    let committed = snaps(&golden_dir());
    assert!(!fresh.is_empty(), "nothing recorded");
    assert_eq!(
        committed, fresh,
        "golden/ and a fresh recording hold different files (stale golden without a script, or a \
         script without its golden): run `redrock-compat record --reference redis://…` from the \
         workspace root"
    );
    let mut bad = Vec::new();
    for rel in &fresh {
        let want = std::fs::read_to_string(golden_tmp.join(rel)).unwrap();
        let have = std::fs::read_to_string(golden_dir().join(rel)).unwrap();
        if want != have {
            let diff = redrock_compat::diff::unified(&have, &want, false);
            bad.push(format!("golden/{}:\n{diff}", rel.display()));
        }
    }
    assert!(bad.is_empty(), "goldens differ from what real Redis records now:\n{}", bad.join("\n"));
}

#[test]
fn goldens_name_redis_7_0_15() {
    for rel in files_under(&golden_dir()).into_iter().filter(|p| p.extension().is_some_and(|e| e == "snap")) {
        let g = redrock_compat::golden::Golden::read(&golden_dir().join(&rel)).unwrap();
        assert_eq!(
            g.description,
            "redis_version 7.0.15 (redis-server)",
            "golden/{} was not recorded from Redis 7.0.15",
            rel.display()
        );
    }
}
