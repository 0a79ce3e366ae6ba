//! ACL behaviour a compat script cannot express: the aclfile read at start, by ACL LOAD and
//! written by ACL SAVE (across a restart, and byte for byte as real Redis reads the same
//! file), users from the config file, connections closed when their user is deleted, the
//! fields of ACL LOG entries, and many clients of different users at once.

mod common;

use std::path::Path;

use common::{scratch, words, Conn, Server};

fn ok(conn: &mut Conn, line: &str) {
    assert_eq!(conn.call(&words(line)), b"+OK\r\n", "{line}");
}

/// The bulk strings of a flat RESP2 reply (nested arrays flattened), for assertions.
fn bulks(reply: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(reply);
    let mut out = Vec::new();
    let mut lines = text.split("\r\n");
    while let Some(line) = lines.next() {
        if line.starts_with('$') && line != "$-1" {
            out.push(lines.next().unwrap_or_default().to_string());
        } else if let Some(n) = line.strip_prefix(':') {
            out.push(n.to_string());
        }
    }
    out
}

fn login(server: &Server, user: &str, password: &str) -> Conn {
    let mut conn = server.connect();
    ok(&mut conn, &format!("AUTH {user} {password}"));
    conn
}

/// Users in name order, as ACL LIST and ACL SAVE give them.
const ACLFILE: &str =
    "user alice on #2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae ~a* resetchannels -@all +get\n\
user bob off resetchannels +@all -@dangerous (~b* resetchannels -@all +set)\n\
user default on nopass ~* &* +@all\n";

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn aclfile_round_trips_across_a_restart_as_redis_reads_it() {
    let dir = scratch("aclfile");
    let aclfile = dir.path().join("users.acl");
    write(&aclfile, ACLFILE);
    let path = aclfile.to_str().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();

    let redis_dir = scratch("aclfile-redis");
    let redis = Server::redis(redis_dir.path(), &["--aclfile", path]);
    let server = Server::redrock(&data, &["--aclfile", path]);
    let (mut reference, mut conn) = (redis.connect(), server.connect());
    let list = conn.call(&words("ACL LIST"));
    assert_eq!(list, reference.call(&words("ACL LIST")));
    assert_eq!(bulks(&list).join("\n") + "\n", ACLFILE);
    // `foo` is alice's password (its SHA-256 is in the file).
    let mut alice = login(&server, "alice", "foo");
    assert_eq!(alice.call(&words("GET a1")), b"$-1\r\n");

    // ACL SAVE writes what ACL LIST shows; a restart reads it back.
    ok(&mut conn, "ACL SETUSER carol on >pw %R~r* +@read");
    ok(&mut conn, "ACL SAVE");
    let saved = conn.call(&words("ACL LIST"));
    let text = std::fs::read_to_string(&aclfile).unwrap();
    assert_eq!(bulks(&saved).join("\n") + "\n", text);
    drop(alice);
    drop(conn);
    drop(server);
    let server = Server::redrock(&data, &["--aclfile", path]);
    let mut conn = server.connect();
    assert_eq!(conn.call(&words("ACL LIST")), saved);
    login(&server, "carol", "pw");

    // Real Redis reads the saved file to the same users.
    ok(&mut reference, "ACL LOAD");
    assert_eq!(reference.call(&words("ACL LIST")), saved);

    // A broken file changes nothing, and both servers say why in the same words.
    write(&aclfile, "user dave on +nosuch\nuser dave on\nfoo bar\nuser x (+get\nuser y %X~a #abc\n");
    let error = conn.call(&words("ACL LOAD"));
    assert!(error.starts_with(b"-ERR "), "{}", String::from_utf8_lossy(&error));
    assert_eq!(error, reference.call(&words("ACL LOAD")));
    assert_eq!(conn.call(&words("ACL LIST")), saved);

    // A file without `default` gives it Redis's defaults; other users' connections close.
    let mut carol = login(&server, "carol", "pw");
    write(&aclfile, "user erin on nopass +@all ~*\n");
    ok(&mut conn, "ACL LOAD");
    ok(&mut reference, "ACL LOAD");
    assert_eq!(conn.call(&words("ACL LIST")), reference.call(&words("ACL LIST")));
    assert!(carol.is_closed(), "carol's user was replaced by ACL LOAD");

    // A missing file is an error at start and for ACL LOAD, in Redis's words.
    std::fs::remove_file(&aclfile).unwrap();
    let error = String::from_utf8_lossy(&conn.call(&words("ACL LOAD"))).into_owned();
    assert_eq!(error, format!("-ERR Error loading ACLs, opening file '{path}': No such file or directory\r\n"));
}

#[test]
fn users_come_from_the_config_file() {
    let dir = scratch("acl-config");
    let config = dir.path().join("redrock.conf");
    write(&config, "user carol on >pw ~c* -@all +set +get\nuser default on nopass ~* &* +@all -flushall\n");
    let server = start_with_config_file(&config, dir.path());
    let mut conn = server.connect();
    assert_eq!(
        bulks(&conn.call(&words("ACL LIST"))),
        [
            format!("user carol on #{} ~c* resetchannels -@all +get +set", sha256_hex("pw")),
            "user default on nopass sanitize-payload ~* &* +@all -flushall".to_string(),
        ]
    );
    assert_eq!(
        conn.call(&words("FLUSHALL")),
        b"-NOPERM this user has no permissions to run the 'flushall' command\r\n"
    );
    let mut carol = login(&server, "carol", "pw");
    ok(&mut carol, "SET c1 v");
    assert_eq!(
        carol.call(&words("SET d1 v")),
        b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
}

/// `redrock-server FILE --port P --dir D`: the config file must come first.
fn start_with_config_file(config: &Path, dir: &Path) -> Server {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let port = common::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_redrock-server"))
        .arg(config)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--loglevel", "warning", "--dir"])
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, port, dir: dir.to_path_buf() };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// SHA-256 in hex, as ACL LIST shows passwords (from coreutils' `sha256sum`).
fn sha256_hex(password: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(password.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).split_whitespace().next().unwrap().to_string()
}

#[test]
fn deleting_a_user_closes_its_connections() {
    let dir = scratch("acl-deluser");
    let server = Server::redrock(dir.path(), &[]);
    let mut admin = server.connect();
    ok(&mut admin, "ACL SETUSER gone on >pw +@all ~*");
    let mut first = login(&server, "gone", "pw");
    let mut second = login(&server, "gone", "pw");
    let mut other = server.connect();
    ok(&mut first, "SET k v");
    assert_eq!(admin.call(&words("ACL DELUSER gone")), b":1\r\n");
    assert!(first.is_closed());
    assert!(second.is_closed());
    assert_eq!(other.call(&words("PING")), b"+PONG\r\n");
    assert_eq!(
        admin.call(&words("AUTH gone pw")),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );

    // A user deleting itself gets its reply, then the connection closes.
    ok(&mut admin, "ACL SETUSER self on >pw +@all ~*");
    let mut me = login(&server, "self", "pw");
    assert_eq!(me.call(&words("ACL DELUSER self")), b":1\r\n");
    assert!(me.is_closed());

    // Disabling a user only refuses new authentications.
    ok(&mut admin, "ACL SETUSER sleepy on >pw +@all ~*");
    let mut sleepy = login(&server, "sleepy", "pw");
    ok(&mut admin, "ACL SETUSER sleepy off");
    assert_eq!(sleepy.call(&words("PING")), b"+PONG\r\n");
    assert_eq!(
        admin.call(&words("AUTH sleepy pw")),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
}

/// The fields of one ACL LOG entry, by name.
fn log_entry(entry: &[String]) -> std::collections::HashMap<&str, &str> {
    entry.chunks(2).map(|pair| (pair[0].as_str(), pair[1].as_str())).collect()
}

#[test]
fn acl_log_records_denials_as_redis() {
    let dir = scratch("acl-log");
    let server = Server::redrock(dir.path(), &[]);
    let mut admin = server.connect();
    ok(&mut admin, "ACL LOG RESET");
    ok(&mut admin, "ACL SETUSER logged on >pw -@all +get +multi +exec ~k*");
    let mut user = server.connect();
    assert!(user.call(&words("AUTH logged wrong")).starts_with(b"-WRONGPASS"));
    ok(&mut user, "AUTH logged pw");
    assert!(user.call(&words("SET k1 v")).starts_with(b"-NOPERM"));
    assert!(user.call(&words("SET k1 v")).starts_with(b"-NOPERM"));
    assert!(user.call(&words("GET other")).starts_with(b"-NOPERM"));
    ok(&mut user, "MULTI");
    assert!(user.call(&words("CONFIG GET port")).starts_with(b"-NOPERM"));
    assert_eq!(user.call(&words("AUTH nobody x")), b"+QUEUED\r\n");
    assert!(user.call(&words("EXEC")).starts_with(b"-EXECABORT"));
    ok(&mut user, "MULTI");
    assert_eq!(user.call(&words("AUTH nobody x")), b"+QUEUED\r\n");
    assert_eq!(user.call(&words("EXEC")), b"*1\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n");

    let entries = bulks(&admin.call(&words("ACL LOG")));
    // 5 entries of 7 fields each, newest first.
    assert_eq!(entries.len(), 5 * 14, "{entries:?}");
    let entries: Vec<_> = entries.chunks(14).map(log_entry).collect();
    let expect = [
        ("1", "auth", "multi", "AUTH"),
        ("1", "command", "multi", "config|get"),
        ("1", "key", "toplevel", "other"),
        ("2", "command", "toplevel", "set"),
        ("1", "auth", "toplevel", "AUTH"),
    ];
    for (entry, (count, reason, context, object)) in entries.iter().zip(expect) {
        assert_eq!(entry["count"], count);
        assert_eq!(entry["reason"], reason);
        assert_eq!(entry["context"], context);
        assert_eq!(entry["object"], object);
        assert_eq!(
            entry["username"],
            if entry["context"] == "multi" && reason == "auth" { "nobody" } else { "logged" }
        );
        assert!(entry["age-seconds"].parse::<f64>().unwrap() < 10.0);
        assert!(entry["client-info"].contains("user=logged") || entry["reason"] == "auth");
    }
    assert_eq!(bulks(&admin.call(&words("ACL LOG 1"))).len(), 14);
    ok(&mut admin, "ACL LOG RESET");
    assert_eq!(admin.call(&words("ACL LOG")), b"*0\r\n");
}

#[test]
fn many_users_at_once() {
    const CLIENTS: usize = 6;
    const ROUNDS: usize = 200;
    let dir = scratch("acl-concurrent");
    let server = Server::redrock(dir.path(), &[]);
    let mut admin = server.connect();
    for i in 0..CLIENTS {
        ok(&mut admin, &format!("ACL SETUSER user{i} on >pw{i} -@all +set +get +acl|whoami ~k{i}:*"));
    }
    let port = server.port;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::spawn(move || {
                let mut conn = Conn::new(port);
                ok(&mut conn, &format!("AUTH user{i} pw{i}"));
                for n in 0..ROUNDS {
                    ok(&mut conn, &format!("SET k{i}:{n} v"));
                    let other = (i + 1) % CLIENTS;
                    assert_eq!(
                        conn.call(&words(&format!("GET k{other}:{n}"))),
                        b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
                    );
                    assert_eq!(
                        conn.call(&words("DEL x")),
                        b"-NOPERM this user has no permissions to run the 'del' command\r\n"
                    );
                }
                assert_eq!(conn.call(&words("ACL WHOAMI")), format!("$5\r\nuser{i}\r\n").as_bytes());
            })
        })
        .collect();
    // Rules change under the workers' feet without disturbing what they may do.
    for n in 0..ROUNDS {
        ok(&mut admin, &format!("ACL SETUSER spare{} on +@all ~*", n % 3));
    }
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(admin.call(&words("DBSIZE")), format!(":{}\r\n", CLIENTS * ROUNDS).as_bytes());
}
