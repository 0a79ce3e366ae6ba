//! Namespaces, as Kvrocks has them: each tenant has a namespace and a token; `AUTH token`
//! puts a connection in that namespace, and every key it reaches is prefixed with it by the
//! storage layer (see storage/encoding.rs), so one tenant cannot name another's keys.
//!
//! The registry lives in memory and, durably, in one record of the `internal` column family
//! (rewritten whole on each change: namespaces are few), loaded at start.

use std::collections::BTreeMap;
use std::sync::RwLock;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::storage::{Cf, Storage};

/// Internal record holding every namespace and its token.
const NAMESPACES_KEY: &[u8] = b"namespaces";
/// The namespace prefix is one length byte (storage/encoding.rs).
pub const MAX_NAMESPACE_BYTES: usize = u8::MAX as usize;
/// The name Kvrocks gives the namespace of the administrator (empty prefix here).
pub const DEFAULT_NAMESPACE: &[u8] = b"__namespace";

/// namespace → token.
#[derive(Default)]
pub struct Namespaces {
    tokens: RwLock<BTreeMap<Bytes, Bytes>>,
}

impl Namespaces {
    /// Loads the registry; a record that does not decode is an error, never an empty registry.
    pub fn load(storage: &Storage) -> Result<Namespaces> {
        let tokens = match storage.get(Cf::Internal, NAMESPACES_KEY)? {
            Some(record) => decode(&record).ok_or_else(|| Error::err("the namespace record is corrupt"))?,
            None => BTreeMap::new(),
        };
        Ok(Namespaces { tokens: RwLock::new(tokens) })
    }

    /// The namespace whose token is `token`.
    pub fn by_token(&self, token: &[u8]) -> Option<Bytes> {
        self.read().iter().find(|(_, t)| &t[..] == token).map(|(ns, _)| ns.clone())
    }

    pub fn token(&self, ns: &[u8]) -> Option<Bytes> {
        self.read().get(ns).cloned()
    }

    /// Every (namespace, token), in namespace order.
    pub fn all(&self) -> Vec<(Bytes, Bytes)> {
        self.read().iter().map(|(n, t)| (n.clone(), t.clone())).collect()
    }

    /// `NAMESPACE ADD`: a new namespace (re-adding the same pair is a no-op, as in Kvrocks).
    pub fn add(&self, storage: &Storage, requirepass: &[u8], ns: &Bytes, token: &Bytes) -> Result<()> {
        {
            let tokens = self.read();
            if let Some(existing) = tokens.get(ns) {
                if existing == token {
                    return Ok(());
                }
                return Err(Error::err("the namespace already exists"));
            }
            if tokens.values().any(|t| t == token) {
                return Err(Error::err("the token already exists"));
            }
        }
        self.set(storage, requirepass, ns, token)
    }

    /// `NAMESPACE SET`: creates or re-tokens a namespace.
    pub fn set(&self, storage: &Storage, requirepass: &[u8], ns: &Bytes, token: &Bytes) -> Result<()> {
        check_name(ns)?;
        if requirepass.is_empty() {
            return Err(Error::err("forbidden to add namespace when requirepass was empty"));
        }
        if &ns[..] == DEFAULT_NAMESPACE {
            return Err(Error::err("forbidden to add the default namespace"));
        }
        if &token[..] == requirepass {
            return Err(Error::err("the token is duplicated with requirepass or masterauth"));
        }
        let mut tokens = self.write();
        if tokens.iter().any(|(n, t)| t == token && n != ns) {
            return Err(Error::err("the token already exists"));
        }
        let mut next = tokens.clone();
        next.insert(ns.clone(), token.clone());
        persist(storage, &next)?;
        *tokens = next;
        Ok(())
    }

    /// `NAMESPACE DEL`: the tenant's keys stay (as in Kvrocks); its token no longer works.
    pub fn delete(&self, storage: &Storage, ns: &[u8]) -> Result<()> {
        if ns == DEFAULT_NAMESPACE {
            return Err(Error::err("forbidden to delete the default namespace"));
        }
        let mut tokens = self.write();
        if !tokens.contains_key(ns) {
            return Err(Error::err("the namespace was not found"));
        }
        let mut next = tokens.clone();
        next.remove(ns);
        persist(storage, &next)?;
        *tokens = next;
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Bytes, Bytes>> {
        self.tokens.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Bytes, Bytes>> {
        self.tokens.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Kvrocks's `IsNamespaceLegal`, plus: not empty (the empty prefix is the administrator's)
/// and not all 0xff bytes (a key prefix must have a successor to bound its range).
fn check_name(ns: &[u8]) -> Result<()> {
    if ns.len() > MAX_NAMESPACE_BYTES {
        return Err(Error::err(format!("size exceed limit {MAX_NAMESPACE_BYTES}")));
    }
    if ns.is_empty() || ns.last() == Some(&0x7f) || ns.iter().all(|&b| b == 0xff) {
        return Err(Error::err("namespace contain illegal letter"));
    }
    Ok(())
}

fn persist(storage: &Storage, tokens: &BTreeMap<Bytes, Bytes>) -> Result<()> {
    let mut batch = storage.batch();
    batch.put(Cf::Internal, NAMESPACES_KEY, encode(tokens));
    Ok(storage.write(batch)?)
}

/// `[ns_len u32 BE][ns][token_len u32 BE][token]` per namespace.
fn encode(tokens: &BTreeMap<Bytes, Bytes>) -> Vec<u8> {
    let mut out = Vec::new();
    for (ns, token) in tokens {
        for part in [ns, token] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

fn decode(mut record: &[u8]) -> Option<BTreeMap<Bytes, Bytes>> {
    let mut part = || -> Option<Bytes> {
        let len = u32::from_be_bytes(record.get(..4)?.try_into().ok()?) as usize;
        let bytes = Bytes::copy_from_slice(record.get(4..4 + len)?);
        record = &record[4 + len..];
        Some(bytes)
    };
    let mut tokens = BTreeMap::new();
    loop {
        let Some(ns) = part() else { break };
        tokens.insert(ns, part()?);
    }
    // `part` stops at the end or at a torn length: only the end is acceptable.
    record.is_empty().then_some(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_refuses_torn_bytes() {
        let mut tokens = BTreeMap::new();
        tokens.insert(Bytes::from_static(b"a"), Bytes::from_static(b"\x00\xfftok"));
        tokens.insert(Bytes::from_static(b"tenant-2"), Bytes::from_static(b""));
        let record = encode(&tokens);
        assert_eq!(decode(&record), Some(tokens));
        assert_eq!(decode(&record[..record.len() - 1]), None);
        assert_eq!(decode(b""), Some(BTreeMap::new()));
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name(b"ok").is_ok());
        assert!(check_name(b"").is_err());
        assert!(check_name(b"x\x7f").is_err());
        assert!(check_name(&[b'a'; 256]).is_err());
        assert!(check_name(&[0xff; 255]).is_err());
    }
}
