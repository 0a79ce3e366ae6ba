//! Every directive, exercised on real Redis: the transcript says what we expect, and two
//! real Redis agree.

mod common;
use common::*;

const SCRIPT: &str = r#"# all directives
SET k v
@conn other
GET k
SELECT 2
@conn main
DEL l
@conn blocker
@async
BLPOP l 0
@conn main
RPUSH l a b
@await blocker
LRANGE l 0 -1
@conn sub
SUBSCRIBE ch1 ch2
@conn main
PUBLISH ch1 hello
@await sub
@conn sub
UNSUBSCRIBE
PING
@conn main
SET e v PX 50
@sleep 120
EXISTS e
SADD s c a b
@unordered
SMEMBERS s
SMEMBERS s
@nondeterministic
RANDOMKEY
@tolerance 1e-6
INCRBYFLOAT f 0.1
@resp3
HSET h f1 v1 f2 v2
HGETALL h
@conn late
GET k
"#;

#[test]
fn directives_do_what_they_say() {
    let (a, b) = (redis(), redis());
    let tmp = TempDir::new("redrock-compat-directives").unwrap();
    let dir = tmp.path().join("scripts/misc");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("all.redis"), SCRIPT).unwrap();
    std::fs::write(dir.join("future.redis"), "@min-version 99.0.0\nPING\n").unwrap();
    let root = tmp.path().join("scripts");
    let golden = tmp.path().join("golden");
    let run = cli(&[
        "record",
        "--reference",
        &a.url(),
        "--golden",
        golden.to_str().unwrap(),
        "--scripts-root",
        root.to_str().unwrap(),
        root.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(run.stdout.contains("1 skipped"), "{}", run.show());
    assert!(!golden.join("misc/future.snap").exists());
    let t = std::fs::read_to_string(golden.join("misc/all.snap")).unwrap();
    for want in [
        "### 4: GET k\nbulk \"v\"",
        "### 13: @await blocker: BLPOP l 0\narray[2]\n  bulk \"l\"\n  bulk \"a\"",
        "### 14: LRANGE l 0 -1\narray[1]\n  bulk \"b\"",
        "### 16: SUBSCRIBE ch1 ch2\narray[3]\n  bulk \"subscribe\"\n  bulk \"ch1\"\n  int 1\narray[3]\n  bulk \"subscribe\"\n  bulk \"ch2\"\n  int 2",
        "### 18: PUBLISH ch1 hello\nint 1",
        "### 19: @await sub\narray[3]\n  bulk \"message\"\n  bulk \"ch1\"\n  bulk \"hello\"",
        "### 21: UNSUBSCRIBE\narray[3]",
        "### 22: PING\nsimple \"PONG\"",
        "### 26: EXISTS e\nint 0",
        "### 29 [unordered]: SMEMBERS s\narray[3]\n  bulk \"a\"\n  bulk \"b\"\n  bulk \"c\"",
        "### 30 [unordered]: SMEMBERS s",
        "### 32 [nondeterministic]: RANDOMKEY\nbulk <nondeterministic>",
        "### 34 [tolerance 1e-6]: INCRBYFLOAT f 0.1\nbulk \"0.1\"",
        "### 35 [nondeterministic]: @resp3\nmap <nondeterministic>",
        "### 37 [unordered-pairs]: HGETALL h\nmap[2]\n  key bulk \"f1\"\n  val bulk \"v1\"",
        "### 39: GET k\nbulk \"v\"",
    ] {
        assert!(t.contains(want), "missing\n{want}\nin\n{t}");
    }

    let run = cli(&[
        "diff",
        "--reference",
        &a.url(),
        "--target",
        &b.url(),
        "--scripts-root",
        root.to_str().unwrap(),
        "--divergences",
        "/dev/null",
        root.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.show());
    let run = cli(&[
        "check",
        "--target",
        &b.url(),
        "--golden",
        golden.to_str().unwrap(),
        "--scripts-root",
        root.to_str().unwrap(),
        "--divergences",
        "/dev/null",
        root.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(run.stdout.contains("1 passed") && run.stdout.contains("1 skipped"), "{}", run.show());
}

#[test]
fn an_async_reply_never_awaited_is_a_script_error() {
    let tmp = TempDir::new("redrock-compat-unawaited").unwrap();
    let script = tmp.path().join("unawaited.redis");
    std::fs::write(&script, "@conn b\n@async\nBLPOP l 1\n@conn main\nPING\n").unwrap();
    let bin = format!("spawn:{}", redrock_compat::process::redis_server_bin());
    let run =
        cli(&["diff", "--reference", &bin, "--target", &bin, "--divergences", "/dev/null", script.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(
        run.stdout.contains("unawaited.redis:3: the @async command here is never awaited (@await b)"),
        "{}",
        run.show()
    );
}
