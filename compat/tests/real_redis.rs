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
fn replays_100k_commands_on_two_servers_under_5_seconds() {
    let (a, b) = (redis(), redis());
    let start = std::time::Instant::now();
    let run = cli(&["bench", "--reference", &a.url(), "--target", &b.url(), "--commands", "100000"]);
    let took = start.elapsed();
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(took.as_secs_f64() < 5.0, "100k commands took {took:?}:\n{}", run.show());
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
