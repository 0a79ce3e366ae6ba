//! Redrock: a Redis-compatible server that keeps its data in RocksDB.
//!
//! A request travels: `connection` (socket, RESP parsing) → `dispatch` (command table,
//! arity, auth, key locks) → a handler in `cmd/` → `types/` (one module per Redis type) →
//! `db` / `storage` (RocksDB records and write batches) → a `Reply`, encoded as RESP2 or RESP3.
//! See ARCHITECTURE.md.

pub mod acl;
pub mod allocator;
pub mod blocking;
pub mod client;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod db;
pub mod dispatch;
pub mod error;
pub mod expire;
pub mod float;
pub mod glob;
pub mod locks;
pub mod logging;
pub mod namespace;
pub mod offload;
pub mod output_limit;
pub mod pause;
pub mod protected_mode;
pub mod quota;
pub mod read_size;
pub mod server;
pub mod shared;
pub mod storage;
pub mod types;
pub mod watch;
pub mod workers;
pub mod write_session;

/// INFO `mem_allocator`: the binary that installs a global allocator names it here
/// (`redrock-server` installs mimalloc; tests and fuzz targets keep the system's, which
/// sanitizers can see into).
pub static MEM_ALLOCATOR: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// The Redis version whose behaviour Redrock reproduces (HELLO, INFO `redis_version`).
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";
/// Redrock's own version (INFO `redrock_version`).
pub const REDROCK_VERSION: &str = env!("CARGO_PKG_VERSION");
