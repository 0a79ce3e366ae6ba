//! `lint` needs no server: the shipped scripts are well-formed and paired with goldens, and
//! a broken script, a missing golden and an orphan golden are each reported.

mod common;
use common::*;

#[test]
fn shipped_scripts_lint_clean() {
    let run = cli(&["lint"]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(run.stdout.contains(" 0 problems"), "{}", run.show());
}

#[test]
fn lint_reports_each_problem() {
    let tmp = TempDir::new("redrock-compat-lint").unwrap();
    let scripts = tmp.path().join("scripts/fam");
    let golden = tmp.path().join("golden/fam");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::create_dir_all(&golden).unwrap();
    std::fs::write(scripts.join("bad.redis"), "PING\n@tolerance nope\nGET a\n").unwrap();
    std::fs::write(scripts.join("nogolden.redis"), "PING\n").unwrap();
    std::fs::copy(golden_dir().join("connection/ping_echo.snap"), golden.join("bad.snap")).unwrap();
    std::fs::copy(golden_dir().join("connection/ping_echo.snap"), golden.join("orphan.snap")).unwrap();
    let root = tmp.path().join("scripts");
    let run = cli(&[
        "lint",
        "--scripts-root",
        root.to_str().unwrap(),
        "--golden",
        tmp.path().join("golden").to_str().unwrap(),
        root.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(run.stdout.contains("bad.redis:2: bad tolerance \"nope\""), "{}", run.show());
    assert!(run.stdout.contains("nogolden.redis: no golden"), "{}", run.show());
    assert!(run.stdout.contains("orphan.snap: golden without a script"), "{}", run.show());
    assert!(run.stdout.contains("3 problems"), "{}", run.show());
}
