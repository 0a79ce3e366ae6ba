//! SAVE and BGSAVE: every acknowledged write is already durable in RocksDB, so a "save" is a
//! backup: a RocksDB checkpoint under the data folder (storage/checkpoint.rs) that a server
//! can be started on. LASTSAVE and INFO persistence report the last one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redrock_protocol::Reply;

use super::args::is;
use super::spec::{flag, CommandSpec, Group};
use super::Ctx;
use crate::error::{Error, Result};
use crate::shared::Shared;

/// A server's saves (in `Shared`).
pub struct SaveState {
    /// Unix time of the last successful save, for LASTSAVE.
    pub last_unix_s: AtomicU64,
    /// One background save at a time, as in Redis.
    bgsave_in_progress: AtomicBool,
    /// Whether the last background save succeeded (INFO's `rdb_last_bgsave_status`).
    last_bgsave_ok: AtomicBool,
}

impl SaveState {
    /// A server started at `now_unix_s` counts as saved then, as Redis after loading.
    pub fn new(now_unix_s: u64) -> SaveState {
        SaveState {
            last_unix_s: AtomicU64::new(now_unix_s),
            bgsave_in_progress: AtomicBool::new(false),
            last_bgsave_ok: AtomicBool::new(true),
        }
    }

    /// Whether a background save runs now, and whether the last one succeeded.
    pub fn bgsave_status(&self) -> (bool, bool) {
        (self.bgsave_in_progress.load(Ordering::SeqCst), self.last_bgsave_ok.load(Ordering::SeqCst))
    }
}

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

fn checkpoint(shared: &Shared) -> Result<()> {
    let folder = shared.storage.checkpoint()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    shared.saves.last_unix_s.store(now, Ordering::SeqCst);
    tracing::info!(folder = %folder.display(), "DB saved on disk");
    Ok(())
}

fn save(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Result<Reply> {
    if ctx.shared.saves.bgsave_in_progress.load(Ordering::SeqCst) {
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
    if ctx.shared.saves.bgsave_in_progress.swap(true, Ordering::SeqCst) {
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
        shared.saves.last_bgsave_ok.store(ok, Ordering::SeqCst);
        shared.saves.bgsave_in_progress.store(false, Ordering::SeqCst);
    });
    Ok(Reply::Simple(Bytes::from_static(b"Background saving started")))
}
