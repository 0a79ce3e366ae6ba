//! Backups: RocksDB checkpoints (hard-linked SST files plus a fresh MANIFEST) under the data
//! folder, each a complete data folder of its own:
//!
//! ```text
//! <dir>/checkpoints/<unix_ms>/FORMAT
//! <dir>/checkpoints/<unix_ms>/db/
//! ```
//! so `redrock-server --dir <dir>/checkpoints/<unix_ms>` serves the backup as it was.

use std::path::PathBuf;

use rocksdb::checkpoint::Checkpoint;

use super::{format, now_ms, Result, Storage, StorageError};

/// Checkpoints kept; older ones are removed after a new one is made.
pub const CHECKPOINTS_KEPT: usize = 3;
const CHECKPOINTS_FOLDER: &str = "checkpoints";

impl Storage {
    /// Makes a consistent checkpoint of everything written so far; returns its folder.
    pub fn checkpoint(&self) -> Result<PathBuf> {
        let root = self.dir().join(CHECKPOINTS_FOLDER);
        std::fs::create_dir_all(&root).map_err(|e| StorageError::Io(format!("{}: {e}", root.display())))?;
        let mut target = root.join(now_ms().to_string());
        let mut suffix = 0;
        while target.exists() {
            suffix += 1;
            target = root.join(format!("{}-{suffix}", now_ms()));
        }
        std::fs::create_dir_all(&target).map_err(|e| StorageError::Io(format!("{}: {e}", target.display())))?;
        Checkpoint::new(self.rocks())?.create_checkpoint(target.join("db"))?;
        format::write(&target)?;
        self.prune_checkpoints(&root);
        Ok(target)
    }

    /// Removes all but the newest [`CHECKPOINTS_KEPT`] checkpoints; failures only log.
    fn prune_checkpoints(&self, root: &std::path::Path) {
        let Ok(entries) = std::fs::read_dir(root) else { return };
        let mut folders: Vec<PathBuf> =
            entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
        // Names start with the creation time in ms: lexicographic order of equal-length
        // numbers is age order; sort by (length, name) to stay right across digit counts.
        folders.sort_by_key(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (name.len(), name)
        });
        let excess = folders.len().saturating_sub(CHECKPOINTS_KEPT);
        for old in &folders[..excess] {
            if let Err(e) = std::fs::remove_dir_all(old) {
                tracing::warn!(folder = %old.display(), error = %e, "cannot remove an old checkpoint");
            }
        }
    }
}
