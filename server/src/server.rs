//! Start-up and shutdown: open the storage, listen, accept, run the background cycles, stop
//! cleanly on SHUTDOWN, SIGTERM or SIGINT.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::expire;
use crate::shared::Shared;
use crate::storage::{Durability, Storage, StorageOptions};
use crate::workers::{self, Workers};

/// Opens the data folder named by `config` and builds the shared state.
pub fn open(config: Config) -> Result<Arc<Shared>, String> {
    let dir = PathBuf::from(config.get("dir"));
    let options = StorageOptions::from(&config);
    let storage =
        Storage::open(&dir, &options).map_err(|e| format!("cannot open data folder {}: {e}", dir.display()))?;
    Shared::new(storage, config).map(Arc::new).map_err(|e| format!("cannot read server records: {e}"))
}

impl From<&Config> for StorageOptions {
    fn from(config: &Config) -> Self {
        StorageOptions {
            durability: Durability::parse(config.get("appendfsync")).unwrap_or(Durability::EverySec),
            block_cache_bytes: config.get_u64("rocksdb-block-cache-size") as usize,
            block_bytes: config.get_u64("rocksdb-block-size") as usize,
            write_buffer_bytes: config.get_u64("rocksdb-write-buffer-size") as usize,
            record_cache_bytes: config.get_u64("record-cache-size"),
            sub_key_cache_bytes: config.get_u64("sub-key-cache-size"),
        }
    }
}

/// The config table's defaults: the one place a default is written down is config.rs.
impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions::from(&Config::default())
    }
}

/// Serves until shutdown is requested. The caller's runtime accepts connections and runs the
/// background cycles; the connections themselves run on worker threads (workers.rs).
pub async fn run(shared: Arc<Shared>) -> Result<(), String> {
    let bind = shared.config().get("bind").to_string();
    let addresses: Vec<String> = bind.split_whitespace().map(|host| format!("{host}:{}", shared.port)).collect();
    let mut listeners = Vec::new();
    for address in &addresses {
        let listener = TcpListener::bind(address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
        tracing::info!(%address, "ready to accept connections");
        listeners.push(listener);
    }
    let count = match shared.config().get_u64("workers") {
        0 => workers::default_count(),
        count => count as usize,
    };
    let workers = Arc::new(Workers::start(&shared, count).map_err(|e| format!("cannot start worker threads: {e}"))?);
    for listener in listeners {
        let shared = shared.clone();
        let workers = workers.clone();
        tokio::spawn(async move {
            let mut shutdown = shared.shutdown.subscribe();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => workers.hand_over(stream),
                        Err(e) => {
                            // Out of file descriptors and the like: back off instead of spinning.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    },
                    _ = shutdown.changed() => return,
                }
            }
        });
    }
    tokio::spawn(expire::active_expire_cycle(shared.clone()));
    if shared.storage.durability() == Durability::EverySec {
        tokio::spawn(wal_sync_ticker(shared.clone()));
    }

    let mut shutdown = shared.shutdown.subscribe();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    tokio::select! {
        _ = shutdown.changed() => tracing::info!("shutdown requested"),
        _ = sigterm.recv() => tracing::info!("received SIGTERM, shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("received SIGINT, shutting down"),
    }
    shared.request_shutdown();
    // Connections first: nothing writes while the memtables are written out and RocksDB's
    // background work stops.
    workers.join();
    finish(&shared);
    Ok(())
}

/// Makes everything acknowledged durable before the process exits.
pub fn finish(shared: &Shared) {
    if let Err(e) = shared.storage.sync_wal() {
        tracing::error!(error = %e, "syncing the WAL at shutdown failed");
    }
    // The WAL alone already keeps everything; writing the memtables out spares the next start
    // replaying up to `rocksdb-write-buffer-size` of WAL (a second for 4 M collection
    // elements in ci/bench-collections.sh, against 0.1 s once flushed).
    if let Err(e) = shared.storage.flush_memtables() {
        tracing::warn!(error = %e, "writing the memtables out at shutdown failed; the next start replays the WAL");
    }
    shared.storage.stop_background_work();
    tracing::info!("Redrock is now ready to exit, bye bye...");
}

/// `appendfsync everysec`: the WAL is written before each reply, fsynced here once a second.
async fn wal_sync_ticker(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticker.tick().await;
        if let Err(e) = shared.storage.sync_wal() {
            tracing::error!(error = %e, "WAL fsync failed");
        }
    }
}
