//! Durability across restarts: data survives SIGTERM and kill -9 (every acknowledged write
//! is in the WAL before its reply), and a data folder of another format is refused.

mod common;

use std::process::Command;

use common::{free_port, scratch, Server};

fn write_keys(server: &Server, count: usize) {
    let mut conn = server.connect();
    for i in 0..count {
        let (key, value) = (format!("key:{i}"), format!("value:{i}"));
        assert_eq!(conn.call(&[b"SET", key.as_bytes(), value.as_bytes()]), b"+OK\r\n");
    }
}

fn assert_keys(server: &Server, count: usize) {
    let mut conn = server.connect();
    for i in 0..count {
        let (key, value) = (format!("key:{i}"), format!("value:{i}"));
        let expected = format!("${}\r\n{value}\r\n", value.len());
        assert_eq!(conn.call(&[b"GET", key.as_bytes()]), expected.as_bytes(), "{key} after restart");
    }
    assert_eq!(conn.call(&[b"DBSIZE"]), format!(":{count}\r\n").as_bytes());
}

#[test]
fn data_survives_sigterm() {
    let dir = scratch("sigterm");
    let server = Server::redrock(dir.path(), &[]);
    write_keys(&server, 200);
    let status = server.signal_and_wait("TERM");
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let restarted = Server::redrock(dir.path(), &[]);
    assert_keys(&restarted, 200);
}

#[test]
fn acknowledged_writes_survive_kill_9_in_every_durability_mode() {
    for mode in ["always", "everysec", "no"] {
        let dir = scratch(&format!("kill9-{mode}"));
        let server = Server::redrock(dir.path(), &["--appendfsync", mode]);
        write_keys(&server, 300);
        server.signal_and_wait("KILL");
        let restarted = Server::redrock(dir.path(), &["--appendfsync", mode]);
        assert_keys(&restarted, 300);
    }
}

#[test]
fn shutdown_command_stops_the_server_cleanly() {
    let dir = scratch("shutdown");
    let mut server = Server::redrock(dir.path(), &[]);
    write_keys(&server, 10);
    let mut conn = server.connect();
    conn.send(&[b"SHUTDOWN"]);
    assert!(conn.is_closed());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    drop(server);
    let restarted = Server::redrock(dir.path(), &[]);
    assert_keys(&restarted, 10);
}

#[test]
fn a_folder_of_another_format_is_refused_with_a_clear_message() {
    let dir = scratch("format");
    drop(Server::redrock(dir.path(), &[]));
    std::fs::write(dir.path().join("FORMAT"), "redrock-format 99\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_redrock-server"))
        .args(["--port", &free_port().to_string(), "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("has format 99"), "{stderr}");
}

#[test]
fn bad_parameters_are_named_in_the_error() {
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_redrock-server")).args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?} must fail");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    assert!(run(&["--nosuch", "1"]).contains("unknown config parameter 'nosuch'"));
    assert!(run(&["--port", "99999"]).contains("'port'"));
    assert!(run(&["--appendfsync", "sometimes"]).contains("'appendfsync'"));
    assert!(run(&["--port"]).contains("needs a value"));
}
