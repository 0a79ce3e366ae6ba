//! SAVE and BGSAVE: every acknowledged write is already durable in RocksDB, so a "save" is a
//! backup: a RocksDB checkpoint under the data folder (storage/checkpoint.rs) that a server
//! can be started on. LASTSAVE and INFO persistence report the last one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redrock_protocol::Reply;

use super::args::is;
use super::spec::{flag, CommandSpec, Group};
use super::Ctx;
use crate::error::{Error, Result};
use crate::shared::Shared;

/// One background save at a time, as in Redis.
static BGSAVE_IN_PROGRESS: AtomicBool = AtomicBool::new(false);
/// Whether the last background save succeeded (INFO's `rdb_last_bgsave_status`).
static LAST_BGSAVE_OK: AtomicBool = AtomicBool::new(true);

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("save", 1, Group::Server, save)
        .flags(flag::ADMIN | flag::NOSCRIPT | flag::NO_ASYNC_LOADING | flag::NO_MULTI)
        .doc(
            "1.0.0",
            "Synchronously save the dataset to disk",
            "O(N) where N is the total number of keys in all databases",
        ),
    CommandSpec::new("bgsave", -1, Group::Server, bgsave)
        .flags(flag::ADMIN | flag::NOSCRIPT | flag::NO_ASYNC_LOADING)
        .doc("1.0.0", "Asynchronously save the dataset to disk", "O(1)"),
];

/// Whether a background save runs now, and whether the last one succeeded.
pub fn bgsave_status() -> (bool, bool) {
    (BGSAVE_IN_PROGRESS.load(Ordering::SeqCst), LAST_BGSAVE_OK.load(Ordering::SeqCst))
}

fn checkpoint(shared: &Shared) -> Result<()> {
    let folder = shared.storage.checkpoint()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    shared.last_save_unix_s.store(now, Ordering::SeqCst);
    tracing::info!(folder = %folder.display(), "DB saved on disk");
    Ok(())
}

fn save(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    if BGSAVE_IN_PROGRESS.load(Ordering::SeqCst) {
        return Err(Error::err("Background save already in progress"));
    }
    checkpoint(ctx.shared)?;
    Ok(Reply::ok())
}

fn bgsave(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let schedule = match args.len() {
        1 => false,
        2 if is(&args[1], "schedule") => true,
        _ => return Err(Error::Syntax),
    };
    if BGSAVE_IN_PROGRESS.swap(true, Ordering::SeqCst) {
        if schedule {
            return Ok(Reply::Simple(Bytes::from_static(b"Background saving scheduled")));
        }
        return Err(Error::err("Background save already in progress"));
    }
    let shared: Arc<Shared> = ctx.shared.clone();
    std::thread::spawn(move || {
        let ok = match checkpoint(&shared) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "background save failed");
                false
            }
        };
        LAST_BGSAVE_OK.store(ok, Ordering::SeqCst);
        BGSAVE_IN_PROGRESS.store(false, Ordering::SeqCst);
    });
    Ok(Reply::Simple(Bytes::from_static(b"Background saving started")))
}
