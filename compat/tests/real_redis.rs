//! Two real Redis servers agree on every shipped script (`diff` is clean), and real Redis
//! passes `check` against every golden.

mod common;
use common::*;

#[test]
fn diff_of_two_real_redis_is_clean() {
    let (a, b) = (redis(), redis());
    let run =
        cli(&["diff", "--reference", &a.url(), "--target", &b.url(), "--no-progress", "--divergences", "/dev/null"]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(run.stdout.contains(" 0 diverged"), "{}", run.show());
}

#[test]
fn real_redis_passes_check_on_every_golden() {
    let r = redis();
    let run = cli(&["check", "--target", &r.url(), "--no-progress", "--divergences", "/dev/null"]);
    assert_eq!(run.code, 0, "{}", run.show());
}

#[test]
fn resp3_everywhere_is_clean_between_two_real_redis() {
    let (a, b) = (redis(), redis());
    let run = cli(&[
        "diff",
        "--reference",
        &a.url(),
        "--target",
        &b.url(),
        "--resp3",
        "--no-progress",
        "--divergences",
        "/dev/null",
    ]);
    assert_eq!(run.code, 0, "{}", run.show());
}

#[test]
fn bench_replays_100k_commands_and_reports_its_rate() {
    // Its speed is a benchmark figure (ci/bench.sh prints it), not something a test on a
    // shared machine can time; the test checks the bench runs every command and says so.
    let (a, b) = (redis(), redis());
    let run = cli(&["bench", "--reference", &a.url(), "--target", &b.url(), "--commands", "100000"]);
    assert_eq!(run.code, 0, "{}", run.show());
    let secs: f64 = run
        .stdout
        .split("compared in ")
        .nth(1)
        .and_then(|r| r.split('s').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no timing in {}", run.show()));
    assert!(secs > 0.0, "{}", run.show());
    assert!(run.stdout.contains("100000"), "{}", run.show());
}

#[test]
fn spawned_servers_need_no_setup() {
    let bin = format!("spawn:{}", redrock_compat::process::redis_server_bin());
    let run = cli(&["diff", "--reference", &bin, "--target", &bin, "--divergences", "/dev/null", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.show());
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["summary"]["diverged"], 0);
    assert!(v["summary"]["passed"].as_u64().unwrap() > 0);
}

#[test]
fn tips_lists_what_real_redis_marks() {
    let bin = format!("spawn:{}", redrock_compat::process::redis_server_bin());
    let run = cli(&["tips", "--reference", &bin]);
    assert_eq!(run.code, 0, "{}", run.show());
    let line = |name: &str| run.stdout.lines().find(|l| l.split_whitespace().next() == Some(name)).map(str::to_string);
    assert!(line("smembers").is_some_and(|l| l.ends_with(" unordered")), "{}", run.show());
    assert!(line("hgetall").is_some_and(|l| l.ends_with(" unordered-pairs")), "{}", run.show());
    assert!(line("randomkey").is_some_and(|l| l.ends_with(" nondeterministic")), "{}", run.show());
    assert!(line("get").is_none(), "{}", run.show());
}
