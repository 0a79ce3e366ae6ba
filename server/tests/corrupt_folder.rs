//! A damaged data folder stops the start with a clear error: never a silent empty database.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{free_port, scratch, Server, TempDir};

/// A data folder holding one key, the server stopped cleanly.
fn folder_with_a_key(tag: &str) -> TempDir {
    let dir = scratch(tag);
    let server = Server::redrock(dir.path(), &[]);
    assert_eq!(server.connect().call(&[b"SET", b"k", b"v"]), b"+OK\r\n");
    assert!(server.signal_and_wait("TERM").success());
    dir
}

/// Starts the server on `dir` and expects it to exit at once with `expected` in its stderr.
fn refused(dir: &Path, expected: &str) {
    let output = Command::new(env!("CARGO_BIN_EXE_redrock-server"))
        .args(["--port", &free_port().to_string(), "--bind", "127.0.0.1", "--dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run redrock-server");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "started on a damaged folder: {stderr}");
    assert!(stderr.contains("cannot open data folder") && stderr.contains(expected), "{stderr}");
}

#[test]
fn garbage_current_is_refused() {
    let dir = folder_with_a_key("corrupt-current");
    std::fs::write(dir.path().join("db/CURRENT"), b"garbage\n").unwrap();
    refused(dir.path(), "Corruption");
}

#[test]
fn garbage_manifest_is_refused() {
    let dir = folder_with_a_key("corrupt-manifest");
    let manifest = std::fs::read_dir(dir.path().join("db"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("MANIFEST-"))
        .expect("a MANIFEST");
    std::fs::write(&manifest, [0x5a_u8; 200]).unwrap();
    refused(dir.path(), "Corruption");
}

#[test]
fn a_stamped_folder_without_its_database_is_refused() {
    let dir = folder_with_a_key("corrupt-missing");
    std::fs::remove_dir_all(dir.path().join("db")).unwrap();
    std::fs::create_dir(dir.path().join("db")).unwrap();
    refused(dir.path(), "no database");
}
