//! The data folder's format stamp.
//!
//! ```text
//! <dir>/FORMAT   "redrock-format <n>\n"
//! <dir>/db/      the RocksDB instance
//! ```
//! A folder is opened only if its stamp names [`FORMAT_VERSION`]; a RocksDB folder without a
//! stamp, or with another number, is refused rather than read as an empty database.

use std::path::Path;

use super::StorageError;

/// Bumped whenever a record's byte layout changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_FILE: &str = "FORMAT";
const FORMAT_PREFIX: &str = "redrock-format ";

/// Checks the stamp of `dir`; returns whether the folder is new (no stamp, no database).
pub fn check(dir: &Path) -> Result<bool, StorageError> {
    let stamp_path = dir.join(FORMAT_FILE);
    match std::fs::read_to_string(&stamp_path) {
        Ok(text) => {
            let found =
                text.trim().strip_prefix(FORMAT_PREFIX).and_then(|n| n.parse::<u32>().ok()).ok_or_else(|| {
                    StorageError::Format(format!(
                        "{} is not a Redrock format stamp (found {:?})",
                        stamp_path.display(),
                        text.chars().take(40).collect::<String>()
                    ))
                })?;
            if found != FORMAT_VERSION {
                return Err(StorageError::Format(format!(
                    "data folder {} has format {found}, this redrock-server reads format {FORMAT_VERSION}",
                    dir.display()
                )));
            }
            if !dir.join("db").join("CURRENT").exists() {
                return Err(StorageError::Format(format!(
                    "data folder {} has a format stamp but no database (db/CURRENT is missing); refusing to start on an empty one",
                    dir.display()
                )));
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if dir.join("db").join("CURRENT").exists() {
                return Err(StorageError::Format(format!(
                    "data folder {} holds a database without a format stamp ({FORMAT_FILE}); refusing to guess its format",
                    dir.display()
                )));
            }
            Ok(true)
        }
        Err(e) => Err(StorageError::Io(format!("{}: {e}", stamp_path.display()))),
    }
}

/// Writes the stamp (after the database was created, so a crash in between leaves a folder
/// that is refused, never one that is misread).
pub fn write(dir: &Path) -> Result<(), StorageError> {
    let path = dir.join(FORMAT_FILE);
    std::fs::write(&path, format!("{FORMAT_PREFIX}{FORMAT_VERSION}\n"))
        .map_err(|e| StorageError::Io(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_folders_are_accepted_and_other_formats_refused() {
        let scratch = tempfile::TempDir::with_prefix("redrock-format-test-").unwrap();
        let dir = scratch.path();
        std::fs::create_dir_all(dir.join("db")).unwrap();
        assert!(check(dir).unwrap());
        std::fs::write(dir.join("db/CURRENT"), "MANIFEST-1\n").unwrap();
        assert!(check(dir).unwrap_err().to_string().contains("without a format stamp"));
        write(dir).unwrap();
        assert!(!check(dir).unwrap());
        std::fs::remove_file(dir.join("db/CURRENT")).unwrap();
        assert!(check(dir).unwrap_err().to_string().contains("no database"));
        std::fs::write(dir.join("db/CURRENT"), "MANIFEST-1\n").unwrap();
        std::fs::write(dir.join(FORMAT_FILE), "redrock-format 99\n").unwrap();
        assert!(check(dir).unwrap_err().to_string().contains("has format 99"));
    }
}
