//! Namespaces (Kvrocks's multi-tenancy): a tenant authenticated with its token sees only its
//! own keys, and cannot read, delete, scan or flush another's; only the administrator
//! (`requirepass`) manages namespaces; the registry survives a restart.

mod common;

use common::{scratch, Conn, Server};

const ADMIN_PASSWORD: &[u8] = b"admin-secret";
const ADMIN_REQUIRED: &[u8] = b"-ERR admin permission required to perform the command\r\n";

fn login(server: &Server, password: &[u8]) -> Conn {
    let mut conn = server.connect();
    assert_eq!(conn.call(&[b"AUTH", password]), b"+OK\r\n");
    conn
}

fn bulk(value: &str) -> Vec<u8> {
    format!("${}\r\n{value}\r\n", value.len()).into_bytes()
}

#[test]
fn tenants_cannot_reach_each_others_keys() {
    let dir = scratch("namespaces");
    let server = Server::redrock(dir.path(), &["--requirepass", "admin-secret"]);
    let mut admin = login(&server, ADMIN_PASSWORD);
    assert_eq!(admin.call(&[b"NAMESPACE", b"ADD", b"alpha", b"token-a"]), b"+OK\r\n");
    assert_eq!(admin.call(&[b"NAMESPACE", b"ADD", b"beta", b"token-b"]), b"+OK\r\n");
    assert_eq!(admin.call(&[b"SET", b"shared-name", b"admin"]), b"+OK\r\n");

    let mut alpha = login(&server, b"token-a");
    let mut beta = login(&server, b"token-b");
    assert_eq!(alpha.call(&[b"SET", b"shared-name", b"alpha"]), b"+OK\r\n");
    assert_eq!(alpha.call(&[b"HSET", b"alpha-only", b"f", b"v"]), b":1\r\n");
    assert_eq!(alpha.call(&[b"SELECT", b"3"]), b"+OK\r\n");
    assert_eq!(alpha.call(&[b"SET", b"in-db-3", b"x"]), b"+OK\r\n");
    assert_eq!(alpha.call(&[b"SELECT", b"0"]), b"+OK\r\n");

    // Beta sees none of alpha's keys, under any name or walk.
    assert_eq!(beta.call(&[b"GET", b"shared-name"]), b"$-1\r\n");
    assert_eq!(beta.call(&[b"EXISTS", b"alpha-only", b"shared-name"]), b":0\r\n");
    assert_eq!(beta.call(&[b"DBSIZE"]), b":0\r\n");
    assert_eq!(beta.call(&[b"KEYS", b"*"]), b"*0\r\n");
    assert_eq!(beta.call(&[b"SCAN", b"0", b"COUNT", b"1000"]), b"*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(beta.call(&[b"RANDOMKEY"]), b"$-1\r\n");
    // Nor can it delete, overwrite or flush them.
    assert_eq!(beta.call(&[b"DEL", b"shared-name", b"alpha-only"]), b":0\r\n");
    assert_eq!(beta.call(&[b"FLUSHDB"]), b"+OK\r\n");
    assert_eq!(beta.call(&[b"SET", b"shared-name", b"beta"]), b"+OK\r\n");
    assert_eq!(beta.call(&[b"SELECT", b"3"]), b"+OK\r\n");
    assert_eq!(beta.call(&[b"FLUSHDB"]), b"+OK\r\n");
    assert_eq!(beta.call(&[b"MOVE", b"in-db-3", b"0"]), b":0\r\n");
    // What reaches every namespace is the administrator's alone.
    assert_eq!(beta.call(&[b"FLUSHALL"]), ADMIN_REQUIRED);
    assert_eq!(beta.call(&[b"SWAPDB", b"0", b"3"]), ADMIN_REQUIRED);
    assert_eq!(beta.call(&[b"NAMESPACE", b"GET", b"alpha"]), ADMIN_REQUIRED);
    assert_eq!(beta.call(&[b"CONFIG", b"GET", b"requirepass"]), ADMIN_REQUIRED);
    assert_eq!(beta.call(&[b"CONFIG", b"SET", b"requirepass", b"x"]), ADMIN_REQUIRED);

    // Alpha's keys are intact; each tenant and the administrator have their own value.
    assert_eq!(alpha.call(&[b"GET", b"shared-name"]), bulk("alpha"));
    assert_eq!(alpha.call(&[b"HGET", b"alpha-only", b"f"]), bulk("v"));
    assert_eq!(alpha.call(&[b"DBSIZE"]), b":2\r\n");
    assert_eq!(alpha.call(&[b"SELECT", b"3"]), b"+OK\r\n");
    assert_eq!(alpha.call(&[b"GET", b"in-db-3"]), bulk("x"));
    assert_eq!(admin.call(&[b"GET", b"shared-name"]), bulk("admin"));
    assert_eq!(admin.call(&[b"DBSIZE"]), b":1\r\n");
    assert_eq!(admin.call(&[b"GET", b"alpha-only"]), b"$-1\r\n");
    let info = admin.call(&[b"INFO", b"keyspace"]);
    assert!(String::from_utf8_lossy(&info).contains("db0:keys=1,"), "{}", String::from_utf8_lossy(&info));

    // The administrator's FLUSHALL clears its own keys, not the tenants'.
    assert_eq!(admin.call(&[b"FLUSHALL"]), b"+OK\r\n");
    assert_eq!(alpha.call(&[b"GET", b"in-db-3"]), bulk("x"));
    assert_eq!(beta.call(&[b"SELECT", b"0"]), b"+OK\r\n");
    assert_eq!(beta.call(&[b"GET", b"shared-name"]), bulk("beta"));
}

#[test]
fn namespace_administration_follows_kvrocks() {
    let dir = scratch("namespace-admin");
    let server = Server::redrock(dir.path(), &["--requirepass", "admin-secret"]);
    let mut admin = login(&server, ADMIN_PASSWORD);
    let err = |text: &str| format!("-ERR {text}\r\n").into_bytes();
    assert_eq!(admin.call(&[b"NAMESPACE", b"ADD", b"t1", b"tok1"]), b"+OK\r\n");
    assert_eq!(admin.call(&[b"NAMESPACE", b"ADD", b"t1", b"tok1"]), b"+OK\r\n");
    assert_eq!(admin.call(&[b"NAMESPACE", b"ADD", b"t1", b"other"]), err("the namespace already exists"));
    assert_eq!(admin.call(&[b"NAMESPACE", b"ADD", b"t2", b"tok1"]), err("the token already exists"));
    assert_eq!(
        admin.call(&[b"NAMESPACE", b"ADD", b"t2", ADMIN_PASSWORD]),
        err("the token is duplicated with requirepass or masterauth")
    );
    assert_eq!(
        admin.call(&[b"NAMESPACE", b"ADD", b"__namespace", b"x"]),
        err("forbidden to add the default namespace")
    );
    assert_eq!(admin.call(&[b"NAMESPACE", b"DEL", b"__namespace"]), err("forbidden to delete the default namespace"));
    assert_eq!(admin.call(&[b"NAMESPACE", b"DEL", b"missing"]), err("the namespace was not found"));
    assert_eq!(admin.call(&[b"NAMESPACE", b"GET", b"t1"]), bulk("tok1"));
    assert_eq!(admin.call(&[b"NAMESPACE", b"GET", b"missing"]), b"$-1\r\n");
    assert_eq!(
        admin.call(&[b"NAMESPACE", b"LIST", b"x"]),
        err("NAMESPACE subcommand must be one of GET, SET, DEL, ADD")
    );
    assert_eq!(admin.call(&[b"NAMESPACE", b"SET", b"t1", b"tok1b"]), b"+OK\r\n");

    let mut tenant = login(&server, b"tok1b");
    assert_eq!(tenant.call(&[b"SET", b"k", b"v"]), b"+OK\r\n");
    let mut stale = server.connect();
    assert_eq!(stale.call(&[b"AUTH", b"tok1"]), b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");

    // The registry is durable: after a restart the token still leads to the same keys.
    drop(tenant);
    drop(admin);
    let status = server.signal_and_wait("TERM");
    assert!(status.success());
    let server = Server::redrock(dir.path(), &["--requirepass", "admin-secret"]);
    let mut admin = login(&server, ADMIN_PASSWORD);
    assert_eq!(
        admin.call(&[b"NAMESPACE", b"GET", b"*"]),
        b"*4\r\n$2\r\nt1\r\n$5\r\ntok1b\r\n$11\r\n__namespace\r\n$12\r\nadmin-secret\r\n"
    );
    let mut tenant = login(&server, b"tok1b");
    assert_eq!(tenant.call(&[b"GET", b"k"]), bulk("v"));
    // A deleted namespace's token no longer authenticates.
    assert_eq!(admin.call(&[b"NAMESPACE", b"DEL", b"t1"]), b"+OK\r\n");
    let mut late = server.connect();
    assert_eq!(late.call(&[b"AUTH", b"tok1b"]), b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
}

#[test]
fn namespaces_need_a_password() {
    let dir = scratch("namespace-nopass");
    let server = Server::redrock(dir.path(), &[]);
    let mut conn = server.connect();
    assert_eq!(
        conn.call(&[b"NAMESPACE", b"ADD", b"t", b"tok"]),
        b"-ERR forbidden to add namespace when requirepass was empty\r\n"
    );
}
