//! What a server says about itself in `INFO server`: used to refuse recording goldens from
//! anything but real Redis, to stamp goldens, and for `@min-version`.

use std::collections::HashMap;

use crate::client::Conn;
use crate::resp::{Reply, RespError};
use crate::script::Version;

/// `INFO server` fields that only Redis-compatible servers other than Redis print.
const NOT_REDIS_FIELDS: &[&str] =
    &["redrock_version", "valkey_version", "dragonfly_version", "kvrocks_version", "keydb_version", "server_name"];

#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub fields: HashMap<String, String>,
}

impl ServerInfo {
    pub fn fetch(conn: &mut Conn) -> Result<ServerInfo, RespError> {
        let reply = conn.call(&[b"INFO".to_vec(), b"server".to_vec()])?;
        let text = match reply {
            Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
            Reply::Verbatim { text, .. } => String::from_utf8_lossy(&text).into_owned(),
            _ => String::new(),
        };
        Ok(ServerInfo::parse(&text))
    }

    pub fn parse(text: &str) -> ServerInfo {
        let fields = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        ServerInfo { fields }
    }

    pub fn version(&self) -> Option<Version> {
        self.fields.get("redis_version").and_then(|v| Version::parse(v))
    }

    /// The executable's file name, e.g. `redis-server`.
    pub fn executable(&self) -> String {
        self.fields.get("executable").and_then(|e| e.rsplit('/').next()).unwrap_or("").to_string()
    }

    /// Why this server is not a real Redis, if it is not one.
    pub fn not_real_redis(&self) -> Option<String> {
        if let Some(f) = NOT_REDIS_FIELDS.iter().find(|f| self.fields.contains_key(**f)) {
            return Some(format!("INFO server has {f}"));
        }
        if self.version().is_none() {
            return Some("INFO server has no redis_version".into());
        }
        if self.executable() != "redis-server" {
            return Some(format!("INFO server executable is {:?}, not redis-server", self.executable()));
        }
        None
    }

    /// The golden header description, e.g. `redis_version 7.0.15 (redis-server)`.
    pub fn description(&self) -> String {
        format!("redis_version {} (redis-server)", self.fields.get("redis_version").map(String::as_str).unwrap_or("?"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_redis_from_others() {
        let redis = ServerInfo::parse("# Server\r\nredis_version:7.0.15\r\nexecutable:/usr/bin/redis-server\r\n");
        assert_eq!(redis.not_real_redis(), None);
        assert_eq!(redis.version(), Some(Version(7, 0, 15)));
        assert_eq!(redis.description(), "redis_version 7.0.15 (redis-server)");
        let other =
            ServerInfo::parse("redis_version:7.0.15\r\nredrock_version:0.1.0\r\nexecutable:/x/redis-server\r\n");
        assert!(other.not_real_redis().is_some());
        let renamed = ServerInfo::parse("redis_version:7.2.0\r\nexecutable:/x/redrock-server\r\n");
        assert!(renamed.not_real_redis().is_some());
    }
}
