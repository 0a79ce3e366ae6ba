//! The harness runs `FLUSHALL` before every script, so it must only ever touch scratch
//! servers. A run refuses a server that holds data it did not put there (unless told
//! otherwise), and flushes what it wrote when it ends, so a scratch server stays empty from
//! one run to the next. This is what stands between a mistyped URL and a production dataset.

use std::time::Duration;

use crate::client::{ClientError, Conn, Endpoint};
use crate::resp::Reply;

#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error(
        "{url} holds data ({what}); every script starts with FLUSHALL, so the harness only runs \
         on scratch servers: point it at an empty server, or pass --allow-flush if this one's \
         data may be erased (e.g. left over by an interrupted run)"
    )]
    HoldsData { url: String, what: String },
    #[error("{0}")]
    Client(#[from] ClientError),
}

/// Keys per database from `INFO keyspace` (`db0:keys=3,expires=0,...`), or `DBSIZE` of the
/// connection's db when INFO is not there; `None` when the server tells neither.
fn keyspace(conn: &mut Conn) -> Option<String> {
    if let Ok(Reply::Bulk(text) | Reply::Verbatim { text, .. }) = conn.call(&[b"INFO".to_vec(), b"keyspace".to_vec()]) {
        let text = String::from_utf8_lossy(&text).into_owned();
        let dbs: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("db") && !l.contains("keys=0,"))
            .map(|l| l.trim().to_string())
            .collect();
        return Some(dbs.join(" "));
    }
    match conn.call(&[b"DBSIZE".to_vec()]) {
        Ok(Reply::Integer(n)) if n > 0 => Some(format!("DBSIZE {n}")),
        Ok(Reply::Integer(_)) => Some(String::new()),
        _ => None,
    }
}

/// Refuses a server that holds keys.
pub fn ensure_empty(ep: &Endpoint, timeout: Duration) -> Result<(), ScratchError> {
    let mut conn = Conn::connect(ep, timeout)?;
    match keyspace(&mut conn) {
        Some(what) if !what.is_empty() => Err(ScratchError::HoldsData { url: ep.url(), what }),
        _ => Ok(()),
    }
}

/// Erases what the run wrote. Best effort: a server gone by now has nothing to clean.
pub fn leave_empty(ep: &Endpoint, timeout: Duration) {
    if let Ok(mut conn) = Conn::connect(ep, timeout) {
        let _ = conn.call(&[b"FLUSHALL".to_vec()]);
    }
}
