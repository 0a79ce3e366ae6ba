//! A real divergence exits 1 with a readable diff; registered divergences are reported apart;
//! a registered entry that no longer diverges fails the run; exit 2 when a run cannot run.

mod common;
use common::*;

use std::path::Path;

/// A scratch copy of golden/ with one reply altered, as if Redis had answered differently.
fn altered_goldens(tmp: &Path) -> std::path::PathBuf {
    let dir = tmp.join("golden");
    copy_tree(&golden_dir(), &dir);
    let snap = dir.join("strings/basic.snap");
    let text = std::fs::read_to_string(&snap).unwrap();
    let altered = text.replacen("### 5: GET foo\nbulk \"bar\"", "### 5: GET foo\nbulk \"BAR\"", 1);
    assert_ne!(text, altered, "the golden no longer has the line this test alters");
    std::fs::write(&snap, altered).unwrap();
    dir
}

#[test]
fn check_against_an_altered_golden_exits_1_with_a_readable_diff() {
    let r = redis();
    let tmp = TempDir::new("redrock-compat-divergence").unwrap();
    let golden = altered_goldens(tmp.path());
    let junit = tmp.path().join("junit.xml");
    let run = cli(&[
        "check",
        "--target",
        &r.url(),
        "--golden",
        golden.to_str().unwrap(),
        "--divergences",
        "/dev/null",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.show());
    let out = &run.stdout;
    assert!(out.contains("DIVERGED strings/basic"), "{out}");
    assert!(out.contains("compat/scripts/strings/basic.redis:5: GET foo"), "{out}");
    assert!(out.contains("-bulk \"BAR\"") && out.contains("+bulk \"bar\""), "{out}");
    assert!(out.contains("1 diverged"), "{out}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<failure message=\"1 divergence(s)\">"), "{xml}");
    assert!(xml.contains("basic.redis:5: GET foo"), "{xml}");

    let json = cli(&[
        "check",
        "--target",
        &r.url(),
        "--golden",
        golden.to_str().unwrap(),
        "--divergences",
        "/dev/null",
        "--format",
        "json",
    ]);
    assert_eq!(json.code, 1);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("valid JSON");
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["summary"]["divergences"], 1);
    let script = v["scripts"].as_array().unwrap().iter().find(|s| s["name"] == "strings/basic").unwrap();
    assert_eq!(script["status"], "diverged");
    assert_eq!(script["divergences"][0]["line"], 5);
    assert_eq!(script["divergences"][0]["name"], "GET");
}

#[test]
fn diff_of_differing_servers_exits_1() {
    // Same scripts, but the target keeps a key the reference does not have (no FLUSHALL).
    let (a, b) = (redis(), redis());
    let tmp = TempDir::new("redrock-compat-divergence").unwrap();
    let script = tmp.path().join("s.redis");
    std::fs::write(&script, "SET a 1\nGET a\nGET preexisting\nKEYS *\n").unwrap();
    let mut seed = std::net::TcpStream::connect(("127.0.0.1", b.port)).unwrap();
    std::io::Write::write_all(&mut seed, b"*3\r\n$3\r\nSET\r\n$11\r\npreexisting\r\n$1\r\nx\r\n").unwrap();
    let mut buf = [0u8; 5];
    std::io::Read::read_exact(&mut seed, &mut buf).unwrap();
    let run = cli(&[
        "diff",
        "--reference",
        &a.url(),
        "--target",
        &b.url(),
        "--no-flush",
        "--divergences",
        "/dev/null",
        script.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.show());
    assert!(run.stdout.contains("s.redis:3: GET preexisting"), "{}", run.show());
    assert!(run.stdout.contains("-null-bulk") && run.stdout.contains("+bulk \"x\""), "{}", run.show());
    // KEYS is unordered by Redis's own tips: the header says so.
    assert!(run.stdout.contains("### 4 [unordered]: KEYS *"), "{}", run.show());
}

#[test]
fn registered_divergences_pass_and_stale_entries_fail() {
    let r = redis();
    let tmp = TempDir::new("redrock-compat-register").unwrap();
    let golden = altered_goldens(tmp.path());
    let register = tmp.path().join("divergences.toml");
    std::fs::write(
        &register,
        "[[divergence]]\nscript = \"strings/basic\"\ncommand = \"GET\"\nline = 5\nreason = \"test: altered golden\"\n",
    )
    .unwrap();
    let args = |reg: &str| {
        vec![
            "check".to_string(),
            "--target".into(),
            r.url(),
            "--golden".into(),
            golden.to_str().unwrap().into(),
            "--divergences".into(),
            reg.to_string(),
        ]
    };
    let a = args(register.to_str().unwrap());
    let run = cli(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(run.stdout.contains("known divergences"), "{}", run.show());
    assert!(run.stdout.contains("test: altered golden"), "{}", run.show());

    // Against the real goldens the entry no longer diverges: the run fails.
    let mut a = args(register.to_str().unwrap());
    a[4] = golden_dir().to_str().unwrap().into();
    let run = cli(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 1, "{}", run.show());
    assert!(run.stdout.contains("STALE"), "{}", run.show());

    // A reason is mandatory.
    std::fs::write(&register, "[[divergence]]\nscript = \"strings/basic\"\ncommand = \"GET\"\nreason = \"\"\n")
        .unwrap();
    let a = args(register.to_str().unwrap());
    let run = cli(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(run.stderr.contains("mandatory"), "{}", run.show());
}

#[test]
fn cannot_run_exits_2() {
    let port = redrock_compat::process::free_port().unwrap();
    let url = format!("redis://127.0.0.1:{port}");
    let run = cli(&["check", "--target", &url]);
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(run.stderr.contains("cannot connect"), "{}", run.show());

    let r = redis();
    let tmp = TempDir::new("redrock-compat-bad-script").unwrap();
    let bad = tmp.path().join("bad.redis");
    std::fs::write(&bad, "PING\nSET \"unterminated\n").unwrap();
    let r2 = redis();
    let run = cli(&["diff", "--reference", &r.url(), "--target", &r2.url(), bad.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(run.stdout.contains("bad.redis:2: unbalanced double quotes"), "{}", run.show());

    let run = cli(&["diff", "--reference", &r.url(), "--target", &r.url()]);
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(run.stderr.contains("same server"), "{}", run.show());
}

#[test]
fn record_refuses_a_server_that_is_not_real_redis() {
    // A redis-server started through a symlink named otherwise reports that executable.
    let tmp = TempDir::new("redrock-compat-notredis").unwrap();
    let fake = tmp.path().join("redrock-server");
    std::os::unix::fs::symlink(redrock_compat::process::redis_server_bin(), &fake).unwrap();
    let s = ServerProcess::start(fake.to_str().unwrap(), |port, dir| {
        vec![
            "--port".into(),
            port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            dir.display().to_string(),
            "--save".into(),
            "".into(),
        ]
    })
    .unwrap();
    let out = tmp.path().join("golden");
    let run = cli(&["record", "--reference", &s.url(), "--golden", out.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(run.stderr.contains("refusing to record"), "{}", run.show());
    assert!(!out.exists());
}

#[test]
fn record_refuses_to_mix_references_in_one_folder() {
    let r = redis();
    let tmp = TempDir::new("redrock-compat-mixed").unwrap();
    let golden = tmp.path().join("golden");
    copy_tree(&golden_dir(), &golden);
    let snap = golden.join("connection/ping_echo.snap");
    let text = std::fs::read_to_string(&snap).unwrap();
    std::fs::write(&snap, text.replace("redis_version 7.0.15", "redis_version 6.2.0")).unwrap();
    let run = cli(&["record", "--reference", &r.url(), "--golden", golden.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(run.stderr.contains("redis_version 6.2.0"), "{}", run.show());
    let run = cli(&["record", "--reference", &r.url(), "--golden", golden.to_str().unwrap(), "--allow-new-reference"]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert_eq!(std::fs::read_to_string(&snap).unwrap(), text);
}

#[test]
fn cannot_run_still_reports_json_and_junit() {
    let port = redrock_compat::process::free_port().unwrap();
    let tmp = TempDir::new("redrock-compat-json-error").unwrap();
    let junit = tmp.path().join("j.xml");
    let url = format!("redis://127.0.0.1:{port}");
    let run = cli(&["check", "--target", &url, "--format", "json", "--junit", junit.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.show());
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert_eq!(v["exit_code"], 2);
    assert!(v["error"].as_str().unwrap().contains("cannot connect"));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<error message=\"cannot connect"), "{xml}");
}

#[test]
fn register_new_records_current_divergences() {
    let r = redis();
    let tmp = TempDir::new("redrock-compat-register-new").unwrap();
    let golden = altered_goldens(tmp.path());
    let register = tmp.path().join("divergences.toml");
    std::fs::write(&register, "# known divergences\n").unwrap();
    let (g, reg) = (golden.to_str().unwrap(), register.to_str().unwrap());
    let run = cli(&["check", "--target", &r.url(), "--golden", g, "--divergences", reg, "--register-new", "not yet"]);
    assert_eq!(run.code, 0, "{}", run.show());
    let text = std::fs::read_to_string(&register).unwrap();
    assert!(text.starts_with("# known divergences\n"), "{text}");
    assert!(text.contains("script = \"strings/basic\"\ncommand = \"GET\"\nreason = \"not yet\""), "{text}");
    let run = cli(&["check", "--target", &r.url(), "--golden", g, "--divergences", reg]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(run.stdout.contains("1 known-only"), "{}", run.show());
}

#[test]
fn record_refuses_a_script_real_redis_answers_differently_twice() {
    let tmp = TempDir::new("redrock-compat-flaky").unwrap();
    let scripts = tmp.path().join("scripts/misc");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::write(scripts.join("flaky.redis"), "SET k v\n@exact\nTIME\n").unwrap();
    std::fs::write(scripts.join("fine.redis"), "SET k v\nTIME\n").unwrap();
    let root = tmp.path().join("scripts");
    let golden = tmp.path().join("golden");
    let reference = format!("spawn:{}", redrock_compat::process::redis_server_bin());
    let run = cli(&[
        "record",
        "--reference",
        &reference,
        "--golden",
        golden.to_str().unwrap(),
        "--scripts-root",
        root.to_str().unwrap(),
        root.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(run.stdout.contains("flaky.redis:3: `TIME` replies differently on two runs"), "{}", run.show());
    assert!(!golden.join("misc/flaky.snap").exists());
    assert!(golden.join("misc/fine.snap").exists());
}

#[test]
fn refuses_a_server_holding_data_and_leaves_scratch_servers_empty() {
    use redrock_compat::client::Conn;
    use redrock_compat::resp::Reply;
    let r = redis();
    let mut c = Conn::connect(&r.endpoint(), std::time::Duration::from_secs(5)).unwrap();
    c.call(&[b"SELECT".to_vec(), b"4".to_vec()]).unwrap();
    c.call(&[b"SET".to_vec(), b"precious".to_vec(), b"data".to_vec()]).unwrap();
    let run = cli(&["check", "--target", &r.url(), "--divergences", "/dev/null"]);
    assert_eq!(run.code, 2, "{}", run.show());
    assert!(run.stderr.contains("holds data (db4:keys=1"), "{}", run.show());
    assert_eq!(c.call(&[b"DBSIZE".to_vec()]).unwrap(), Reply::Integer(1), "data must be untouched");

    let run = cli(&["check", "--target", &r.url(), "--divergences", "/dev/null", "--allow-flush"]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert_eq!(c.call(&[b"DBSIZE".to_vec()]).unwrap(), Reply::Integer(0));
    // What the run wrote is gone too, so the next run finds a scratch server again.
    let run = cli(&["check", "--target", &r.url(), "--divergences", "/dev/null"]);
    assert_eq!(run.code, 0, "{}", run.show());
}
