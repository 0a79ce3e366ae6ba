//! INFO, CLIENT LIST/KILL/REPLY and requirepass on a running `redrock-server`: replies whose
//! values change from run to run (so the compat scripts only compare their shape) are
//! parsed here and their fields checked against what the test did.

mod common;

use common::{scratch, words, Conn, Server};

/// The text of a bulk (`$`) or verbatim (`=`, `txt:` stripped) reply.
fn text(reply: &[u8]) -> String {
    let header_end = reply.windows(2).position(|w| w == b"\r\n").expect("a header line");
    let mut body = &reply[header_end + 2..reply.len() - 2];
    if reply[0] == b'=' {
        body = &body[4..];
    } else {
        assert_eq!(reply[0], b'$', "not a bulk reply: {}", String::from_utf8_lossy(reply));
    }
    String::from_utf8(body.to_vec()).unwrap()
}

fn call(conn: &mut Conn, line: &str) -> Vec<u8> {
    conn.call(&words(line))
}

/// `INFO sections` as (section title, [(field, value)]).
fn info(conn: &mut Conn, sections: &str) -> Vec<(String, Vec<(String, String)>)> {
    let body = text(&call(conn, format!("INFO {sections}").trim_end()));
    assert!(body.is_empty() || body.ends_with("\r\n"), "INFO ends with CRLF");
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (i, block) in body.trim_end_matches("\r\n").split("\r\n\r\n").enumerate() {
        let mut lines = block.split("\r\n");
        let title = lines.next().unwrap();
        let title = title.strip_prefix("# ").unwrap_or_else(|| panic!("section {i} starts with '# ': {title:?}"));
        let fields = lines
            .map(|line| {
                let (k, v) = line.split_once(':').unwrap_or_else(|| panic!("'name:value' line: {line:?}"));
                (k.to_string(), v.to_string())
            })
            .collect();
        out.push((title.to_string(), fields));
    }
    out
}

fn field(sections: &[(String, Vec<(String, String)>)], name: &str) -> String {
    sections
        .iter()
        .flat_map(|(_, fields)| fields)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("INFO has no field {name}"))
}

/// `CLIENT LIST` lines as ordered (field, value) pairs.
fn client_list(conn: &mut Conn, args: &str) -> Vec<Vec<(String, String)>> {
    let body = text(&call(conn, &format!("CLIENT LIST{args}")));
    assert!(body.is_empty() || body.ends_with('\n'));
    body.lines()
        .map(|line| {
            line.split(' ')
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap();
                    (k.to_string(), v.to_string())
                })
                .collect()
        })
        .collect()
}

fn get<'a>(line: &'a [(String, String)], name: &str) -> &'a str {
    &line.iter().find(|(k, _)| k == name).unwrap_or_else(|| panic!("no field {name}")).1
}

#[test]
fn info_reports_real_figures_in_redis_layout() {
    let dir = scratch("info");
    let server = Server::redrock(dir.path(), &[]);
    let mut a = server.connect();
    // The start-up check's connection is gone once the server has seen it close.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while field(&info(&mut a, "clients"), "connected_clients") != "1" && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }

    let default = info(&mut a, "");
    let titles: Vec<&str> = default.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Server",
            "Clients",
            "Memory",
            "Persistence",
            "Stats",
            "Replication",
            "CPU",
            "Modules",
            "Errorstats",
            "Cluster",
            "Keyspace"
        ]
    );
    assert_eq!(field(&default, "redis_version"), "7.0.15");
    assert!(!field(&default, "redrock_version").is_empty());
    assert_eq!(field(&default, "tcp_port"), server.port.to_string());
    assert_eq!(field(&default, "process_id"), server.child.id().to_string());
    assert_eq!(field(&default, "role"), "master");
    assert_eq!(field(&default, "connected_clients"), "1");
    assert!(field(&default, "used_memory").parse::<u64>().unwrap() > 0, "RSS is reported");
    assert_eq!(field(&default, "cluster_enabled"), "0");
    let all = info(&mut a, "all");
    assert!(all.iter().any(|(t, _)| t == "Commandstats") && all.len() == 13);

    let mut b = server.connect();
    assert_eq!(call(&mut b, "PING"), b"+PONG\r\n", "b is registered once it was served");
    assert_eq!(field(&info(&mut a, "clients"), "connected_clients"), "2");
    drop(b);

    for line in ["SET k1 v", "SET k2 v", "SET k3 v", "SELECT 2", "SET other v", "SELECT 0"] {
        assert_eq!(call(&mut a, line), b"+OK\r\n");
    }
    // PEXPIRE belongs to the keyspace family; until it is merged, no key has an expiry.
    let expires = if call(&mut a, "PEXPIRE k3 100000") == b":1\r\n" { 1 } else { 0 };
    let keyspace = info(&mut a, "keyspace");
    assert_eq!(
        keyspace,
        [(
            "Keyspace".to_string(),
            vec![
                ("db0".to_string(), format!("keys=3,expires={expires},avg_ttl=0")),
                ("db2".to_string(), "keys=1,expires=0,avg_ttl=0".to_string()),
            ]
        )]
    );

    // Several sections at once, case-insensitive, each once, in Redis's order.
    let picked = info(&mut a, "KEYSPACE server keyspace");
    assert_eq!(picked.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["Server", "Keyspace"]);

    let before: u64 = field(&info(&mut a, "stats"), "total_commands_processed").parse().unwrap();
    call(&mut a, "PING");
    call(&mut a, "NOSUCH");
    let stats = info(&mut a, "stats errorstats");
    // As in Redis, a command counts once it ran (INFO not yet itself; unknown ones never).
    assert_eq!(field(&stats, "total_commands_processed").parse::<u64>().unwrap(), before + 2);
    assert!(field(&stats, "total_error_replies").parse::<u64>().unwrap() >= 1);
    assert!(field(&stats, "errorstat_ERR").starts_with("count="));
    assert_eq!(call(&mut a, "CONFIG RESETSTAT"), b"+OK\r\n");
    let stats = info(&mut a, "stats");
    assert_eq!(field(&stats, "total_commands_processed"), "1", "only the INFO after the reset");
    assert_eq!(field(&stats, "total_error_replies"), "0");
    assert_eq!(call(&mut a, "TYPE k1"), b"+string\r\n");
    assert_eq!(call(&mut a, "TYPE nosuch"), b"+none\r\n");
    let stats = info(&mut a, "stats");
    assert_eq!((field(&stats, "keyspace_hits").as_str(), field(&stats, "keyspace_misses").as_str()), ("1", "1"));

    let save: i64 = field(&info(&mut a, "persistence"), "rdb_last_save_time").parse().unwrap();
    assert_eq!(call(&mut a, "LASTSAVE"), format!(":{save}\r\n").as_bytes());
}

#[test]
fn client_list_matches_redis_fields_and_filters() {
    let dir = scratch("client-list");
    let redis = Server::redis(dir.path(), &[]);
    let reference: Vec<String> = client_list(&mut redis.connect(), "")[0].iter().map(|(k, _)| k.clone()).collect();

    let data = scratch("client-list-data");
    let server = Server::redrock(data.path(), &[]);
    let mut a = server.connect();
    let mut b = server.connect();
    assert_eq!(call(&mut b, "CLIENT SETNAME second"), b"+OK\r\n");
    call(&mut b, "SELECT 4");
    let lines = client_list(&mut a, "");
    assert_eq!(lines.len(), 2);
    let names: Vec<String> = lines[0].iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(names, reference, "CLIENT LIST has Redis 7.0's fields in Redis's order");

    let id_a = String::from_utf8(call(&mut a, "CLIENT ID")).unwrap().trim_start_matches(':').trim().to_string();
    let id_b = String::from_utf8(call(&mut b, "CLIENT ID")).unwrap().trim_start_matches(':').trim().to_string();
    let line_b = lines.iter().find(|l| get(l, "id") == id_b).expect("b is listed");
    assert_eq!(get(line_b, "name"), "second");
    assert_eq!(get(line_b, "db"), "4");
    assert_eq!(get(line_b, "laddr"), format!("127.0.0.1:{}", server.port));
    let line_a = lines.iter().find(|l| get(l, "id") == id_a).expect("a is listed");
    assert_eq!(get(line_a, "cmd"), "client|list");

    let only_b = client_list(&mut a, &format!(" ID {id_b} 999999"));
    assert_eq!(only_b.len(), 1);
    assert_eq!(get(&only_b[0], "id"), id_b);
    assert_eq!(client_list(&mut a, " TYPE normal").len(), 2);
    assert_eq!(client_list(&mut a, " TYPE pubsub").len(), 0);

    let info_b = text(&call(&mut b, "CLIENT INFO"));
    assert!(info_b.starts_with(&format!("id={id_b} ")) && info_b.ends_with('\n'));
    assert_eq!(info_b.lines().count(), 1);
}

/// A connection's kill and shutdown signal is one future for its whole life, shared by its
/// waits for input, for a blocking pop and for the end of a pause: a kill ends each of them,
/// however many requests the connection served before it waited.
#[test]
fn client_kill_ends_every_kind_of_wait() {
    let dir = scratch("client-kill-waits");
    let server = Server::redrock(dir.path(), &[]);
    let mut killer = server.connect();
    let id = |conn: &mut Conn| String::from_utf8(call(conn, "CLIENT ID")).unwrap()[1..].trim().to_string();
    let (mut idle, mut blocked, mut paused) = (server.connect(), server.connect(), server.connect());
    for conn in [&mut idle, &mut blocked, &mut paused] {
        for _ in 0..3 {
            assert_eq!(call(conn, "PING"), b"+PONG\r\n");
        }
    }
    let ids = [id(&mut idle), id(&mut blocked), id(&mut paused)];

    blocked.send(&words("BLPOP never-pushed 0"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !text(&call(&mut killer, "CLIENT LIST")).contains("cmd=blpop") {
        assert!(std::time::Instant::now() < deadline, "BLPOP never blocked");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(call(&mut killer, "CLIENT PAUSE 100000 WRITE"), b"+OK\r\n");
    paused.send(&words("SET k v"));
    // A paused command is not listed until it runs: give it time to reach the pause.
    std::thread::sleep(std::time::Duration::from_millis(200));

    for (conn, id) in [&mut idle, &mut blocked, &mut paused].into_iter().zip(&ids) {
        assert_eq!(call(&mut killer, &format!("CLIENT KILL ID {id}")), b":1\r\n");
        assert!(conn.is_closed(), "client {id} still open after CLIENT KILL");
    }
    assert_eq!(call(&mut killer, "CLIENT UNPAUSE"), b"+OK\r\n");
}

#[test]
fn client_kill_closes_the_right_connections() {
    let dir = scratch("client-kill");
    let server = Server::redrock(dir.path(), &[]);
    let mut killer = server.connect();
    let mut by_id = server.connect();
    let mut by_addr = server.connect();
    let mut by_old_form = server.connect();
    let id = |conn: &mut Conn| String::from_utf8(call(conn, "CLIENT ID")).unwrap()[1..].trim().to_string();
    let addr = |conn: &Conn| conn.stream.local_addr().unwrap().to_string();
    // A connection is registered once the server accepted it: a PING makes sure of that.
    for conn in [&mut by_addr, &mut by_old_form] {
        assert_eq!(call(conn, "PING"), b"+PONG\r\n");
    }

    assert_eq!(call(&mut killer, &format!("CLIENT KILL ID {}", id(&mut by_id))), b":1\r\n");
    assert!(by_id.is_closed());
    assert_eq!(call(&mut killer, &format!("CLIENT KILL ADDR {} SKIPME yes", addr(&by_addr))), b":1\r\n");
    assert!(by_addr.is_closed());
    assert_eq!(call(&mut killer, &format!("CLIENT KILL {}", addr(&by_old_form))), b"+OK\r\n");
    assert!(by_old_form.is_closed());
    assert_eq!(call(&mut killer, "CLIENT KILL 127.0.0.1:1"), b"-ERR No such client\r\n");

    // The caller is skipped by default, killed with SKIPME no (after its reply).
    let me = addr(&killer);
    assert_eq!(call(&mut killer, &format!("CLIENT KILL ADDR {me}")), b":0\r\n");
    assert_eq!(call(&mut killer, &format!("CLIENT KILL ADDR {me} SKIPME no")), b":1\r\n");
    assert!(killer.is_closed());
    let mut last = server.connect();
    assert_eq!(text(&call(&mut last, "CLIENT LIST")).lines().count(), 1);
}

#[test]
fn client_reply_off_and_skip_drop_replies() {
    let dir = scratch("client-reply");
    let server = Server::redrock(dir.path(), &[]);
    let mut conn = server.connect();
    conn.send(&words("CLIENT REPLY OFF"));
    conn.send(&words("SET a 1"));
    conn.send(&words("GET a"));
    conn.send(&words("CLIENT REPLY ON"));
    assert_eq!(conn.read_reply().unwrap(), b"+OK\r\n", "only CLIENT REPLY ON answers");
    conn.send(&words("CLIENT REPLY SKIP"));
    conn.send(&words("GET a"));
    conn.send(&words("ECHO after"));
    assert_eq!(conn.read_reply().unwrap(), b"$5\r\nafter\r\n", "SKIP drops its own and the next reply");
    assert_eq!(call(&mut conn, "GET a"), b"$1\r\n1\r\n");
}

#[test]
fn requirepass_set_at_run_time_applies_to_new_authentications() {
    let dir = scratch("requirepass");
    let server = Server::redrock(dir.path(), &[]);
    let mut admin = server.connect();
    assert_eq!(call(&mut admin, "CONFIG SET requirepass s3cret"), b"+OK\r\n");
    assert_eq!(call(&mut admin, "PING"), b"+PONG\r\n", "the caller stays authenticated");

    let mut other = server.connect();
    assert_eq!(call(&mut other, "PING"), b"-NOAUTH Authentication required.\r\n");
    assert_eq!(call(&mut other, "AUTH wrong"), b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    assert_eq!(call(&mut other, "AUTH s3cret"), b"+OK\r\n");
    assert_eq!(call(&mut other, "SELECT 3"), b"+OK\r\n");
    assert_eq!(call(&mut other, "RESET"), b"+RESET\r\n");
    assert_eq!(call(&mut other, "PING"), b"-NOAUTH Authentication required.\r\n", "RESET forgets the login");
    assert_eq!(call(&mut other, "HELLO 3 AUTH default s3cret SETNAME n")[0], b'%');
    assert_eq!(call(&mut other, "CLIENT GETNAME"), b"$1\r\nn\r\n");

    assert_eq!(admin.call(&[b"CONFIG", b"SET", b"requirepass", b""]), b"+OK\r\n");
    let mut open = server.connect();
    assert_eq!(call(&mut open, "PING"), b"+PONG\r\n");
}

#[test]
fn client_pause_holds_writes_or_everything_until_it_ends() {
    use std::io::Read;
    use std::time::{Duration, Instant};

    let dir = scratch("client-pause");
    let server = Server::redrock(dir.path(), &[]);
    let mut a = server.connect();
    let mut b = server.connect();

    assert_eq!(call(&mut a, "CLIENT PAUSE 100000 WRITE"), b"+OK\r\n");
    assert_eq!(call(&mut b, "GET k"), b"$-1\r\n", "reads run during a WRITE pause");
    b.send(&words("SET k v"));
    b.stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut byte = [0u8; 1];
    assert!(b.stream.read(&mut byte).is_err(), "the write waits");
    b.stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(call(&mut a, "CLIENT UNPAUSE"), b"+OK\r\n");
    assert_eq!(b.read_reply().unwrap(), b"+OK\r\n", "UNPAUSE releases it");

    let start = Instant::now();
    assert_eq!(call(&mut a, "CLIENT PAUSE 300"), b"+OK\r\n");
    assert_eq!(call(&mut b, "GET k"), b"$1\r\nv\r\n");
    assert!(start.elapsed() >= Duration::from_millis(250), "an ALL pause holds reads until its deadline");
}

#[test]
fn unreachable_elements_and_flushed_members_leave_the_member_cache() {
    let dir = scratch("member-cache-hygiene");
    let server = Server::redrock(dir.path(), &[]);
    let mut c = server.connect();
    let members = |c: &mut Conn| {
        let all = info(c, "all");
        (field(&all, "sub_key_cache_keys"), field(&all, "sub_key_cache_complete"))
    };
    let cached = |n: &str| (n.to_string(), "1".to_string());
    call(&mut c, "RPUSH l a b c d e");
    call(&mut c, "HSET h f v");
    assert_eq!(members(&mut c), cached("6"));
    assert_eq!(call(&mut c, "RPOP l"), b"$1\r\ne\r\n");
    assert_eq!(call(&mut c, "LPOP l 2"), b"*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(members(&mut c), cached("3"), "popped elements are let go");
    assert_eq!(call(&mut c, "LMOVE l l LEFT RIGHT"), b"$1\r\nc\r\n");
    assert_eq!(members(&mut c), cached("3"), "a rotated element is cached under its new index");
    call(&mut c, "LTRIM l 0 0");
    assert_eq!(members(&mut c), cached("2"), "trimmed elements are let go");
    assert_eq!(call(&mut c, "LRANGE l 0 -1"), b"*1\r\n$1\r\nd\r\n");
    assert_eq!(call(&mut c, "HGET h f"), b"$1\r\nv\r\n");
    call(&mut c, "RPUSH gone x y z");
    assert_eq!(members(&mut c), cached("5"));
    assert_eq!(call(&mut c, "DEL gone missing gone"), b":1\r\n");
    assert_eq!(members(&mut c), cached("2"), "a deleted list's elements are let go");
    call(&mut c, "RPUSH gone w");
    assert_eq!(call(&mut c, "UNLINK gone"), b":1\r\n");
    assert_eq!(members(&mut c), cached("2"), "so are an unlinked one's");
    assert_eq!(call(&mut c, "LRANGE gone 0 -1"), b"*0\r\n");
    let elements: Vec<String> = (0..600).map(|i| i.to_string()).collect();
    call(&mut c, &format!("RPUSH long1 {}", elements.join(" ")));
    call(&mut c, &format!("RPUSH long2 {}", elements.join(" ")));
    assert_eq!(members(&mut c), cached("1202"));
    assert_eq!(call(&mut c, "DEL long1 long2"), b":2\r\n");
    assert_eq!(members(&mut c), cached("178"), "1024 at most per command: the rest wait for eviction");
    assert_eq!(call(&mut c, "EXISTS long1 long2"), b":0\r\n");
    call(&mut c, "RPUSH brief x y");
    assert_eq!(members(&mut c), cached("180"));
    assert_eq!(call(&mut c, "PEXPIRE brief 1"), b":1\r\n");
    let expired = |c: &mut Conn| field(&info(c, "stats"), "expired_keys");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while expired(&mut c) != "1" {
        assert!(std::time::Instant::now() < deadline, "the active expiry deletes the list");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(members(&mut c), cached("178"), "an expired list's elements are let go");

    call(&mut c, "SELECT 1");
    call(&mut c, "HSET other f v");
    call(&mut c, "FLUSHDB");
    assert_eq!(members(&mut c), cached("179"), "database 0's keys are left: their members stay");
    call(&mut c, "FLUSHALL");
    assert_eq!(members(&mut c), cached("0"), "no key is left: no member can be read again");
    call(&mut c, "SELECT 0");
    call(&mut c, "HSET h f2 v2");
    assert_eq!(call(&mut c, "HGET h f2"), b"$2\r\nv2\r\n");
    assert_eq!(call(&mut c, "HGET h f"), b"$-1\r\n");
    assert_eq!(members(&mut c), cached("1"));
}
