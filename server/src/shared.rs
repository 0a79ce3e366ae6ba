//! The state every connection shares: storage, configuration, clients, statistics, locks.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::acl::Acl;
use crate::blocking::Blocking;
use crate::client::ClientRegistry;
use crate::config::Config;
use crate::db::Db;
use crate::error::Result;
use crate::locks::{KeyGuards, KeyLocks};
use crate::namespace::Namespaces;
use crate::pause::ClientPause;
use crate::quota::DiskQuota;
use crate::storage::encoding::MAX_DATABASES;
use crate::storage::{Cf, Storage};
use crate::watch::Watches;

/// Cursors remembered for SCAN; the oldest is forgotten first (a forgotten cursor restarts).
pub const MAX_SCAN_CURSORS: usize = 65_536;
/// Internal record holding the SWAPDB mapping.
const DB_MAP_KEY: &[u8] = b"db-map";

/// Server-wide counters for INFO stats.
#[derive(Default)]
pub struct Stats {
    pub total_connections_received: AtomicU64,
    pub total_commands_processed: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub expired_keys: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub total_error_replies: AtomicU64,
    /// Error replies by code (`ERR`, `WRONGTYPE`, ...), for INFO errorstats; sorted as Redis's rax.
    pub error_codes: Mutex<BTreeMap<String, u64>>,
}

/// Distinct error codes INFO errorstats tracks (Redis's `ERRORSTATS_LIMIT`); more are only
/// counted in `total_error_replies`.
pub const MAX_ERROR_CODES: usize = 128;

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Counts one error reply whose text starts with `code`.
    pub fn add_error(&self, text: &[u8]) {
        Stats::add(&self.total_error_replies, 1);
        let code = text.split(|&b| b == b' ').next().unwrap_or_default();
        let code = String::from_utf8_lossy(code);
        let mut codes = self.error_codes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = codes.get_mut(code.as_ref()) {
            *count += 1;
        } else if codes.len() < MAX_ERROR_CODES {
            codes.insert(code.into_owned(), 1);
        }
    }

    /// `CONFIG RESETSTAT`: every counter back to 0, as Redis's `resetServerStats`.
    pub fn reset(&self) {
        for counter in [
            &self.total_connections_received,
            &self.total_commands_processed,
            &self.rejected_connections,
            &self.expired_keys,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.total_error_replies,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        self.error_codes.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// SCAN cursors: the number a client sees maps to the key to resume after.
#[derive(Default)]
pub struct ScanCursors {
    next: AtomicU64,
    inner: Mutex<CursorMap>,
}

/// Cursor -> resume key, and the cursors in the order they were handed out.
type CursorMap = (HashMap<u64, Vec<u8>>, VecDeque<u64>);

impl ScanCursors {
    /// A fresh non-zero cursor for "resume at `key`".
    pub fn save(&self, key: Vec<u8>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) % (u64::MAX - 1) + 1;
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.1.len() >= MAX_SCAN_CURSORS {
            if let Some(old) = inner.1.pop_front() {
                inner.0.remove(&old);
            }
        }
        inner.0.insert(id, key);
        inner.1.push_back(id);
        id
    }

    /// Where cursor `id` resumes; unknown cursors (and 0) start from the beginning.
    pub fn resume_key(&self, id: u64) -> Vec<u8> {
        if id == 0 {
            return Vec::new();
        }
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0.get(&id).cloned().unwrap_or_default()
    }
}

pub struct Shared {
    pub storage: Storage,
    /// Written only through [`Shared::config_mut`], which counts the changes.
    config: RwLock<Config>,
    /// Bumped by every change of `config`: connections keep the parameters they read per
    /// request and reread them only when this moved.
    config_generation: AtomicU64,
    pub clients: ClientRegistry,
    pub stats: Stats,
    pub locks: Arc<KeyLocks>,
    pub scan_cursors: ScanCursors,
    /// Clients blocked on keys (BLPOP, BZPOPMIN, ...).
    pub blocking: Blocking,
    /// Logical db -> physical db (SWAPDB swaps two entries).
    db_map: Vec<AtomicU8>,
    pub databases: usize,
    pub started: Instant,
    pub started_unix_s: u64,
    pub run_id: String,
    pub port: u16,
    /// Set to true to stop the server (SHUTDOWN, signals).
    pub shutdown: watch::Sender<bool>,
    /// SAVE/BGSAVE state: LASTSAVE, INFO persistence, one background save at a time.
    pub saves: crate::cmd::save::SaveState,
    /// `CLIENT PAUSE` state.
    pub pause: ClientPause,
    pub watches: Watches,
    /// Tenants' namespaces and tokens (NAMESPACE, AUTH token).
    pub namespaces: Namespaces,
    /// `max-db-size`: the last size reading.
    pub disk_quota: DiskQuota,
    /// Users and the ACL log.
    pub acl: Acl,
}

impl Shared {
    pub fn new(storage: Storage, config: Config) -> Result<Shared> {
        let databases = (config.get_i64("databases") as usize).min(MAX_DATABASES);
        let stored = storage.get(Cf::Internal, DB_MAP_KEY)?;
        let db_map = (0..MAX_DATABASES)
            .map(|i| AtomicU8::new(stored.as_ref().and_then(|m| m.get(i).copied()).unwrap_or(i as u8)))
            .collect();
        let namespaces = Namespaces::load(&storage)?;
        let watches = Watches::new(storage.written_interest());
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let port = config.get_i64("port") as u16;
        let acl = Acl::new(config.get("requirepass"), config.get("acl-pubsub-default"));
        acl.load_at_startup(config.get("aclfile"), &config.users).map_err(crate::error::Error::Coded)?;
        Ok(Shared {
            storage,
            config: RwLock::new(config),
            config_generation: AtomicU64::new(0),
            clients: ClientRegistry::default(),
            stats: Stats::default(),
            locks: Arc::new(KeyLocks::new()),
            scan_cursors: ScanCursors::default(),
            blocking: Blocking::default(),
            db_map,
            databases,
            started: Instant::now(),
            started_unix_s: now,
            run_id: run_id(),
            port,
            shutdown: watch::channel(false).0,
            saves: crate::cmd::save::SaveState::new(now),
            pause: ClientPause::default(),
            watches,
            namespaces,
            disk_quota: DiskQuota::default(),
            acl,
        })
    }

    /// A handle on logical database `logical` of namespace `ns`.
    pub fn db<'a>(&'a self, ns: &'a [u8], logical: usize) -> Db<'a> {
        Db { storage: &self.storage, ns, index: self.physical_db(logical) }
    }

    /// Locks `keys` of logical database `logical`, in the physical database it names once their
    /// stripes are held (see [`Shared::lock_in_named_db`]).
    pub fn lock_keys<'k>(
        &self,
        ns: &[u8],
        logical: usize,
        keys: impl Iterator<Item = &'k [u8]> + Clone,
    ) -> KeyGuards<'_> {
        self.lock_in_named_db(logical, &mut (), |_, physical| self.locks.lock(ns, physical, keys.clone()), |_, _| {})
    }

    /// Takes stripes with `lock` in the physical database that logical database `logical`
    /// names, and again, after `unlock`, until the map still names it once they are held.
    /// SWAPDB holds every stripe while it changes the map: read after taking a stripe, the map
    /// stays as read until the stripe goes; read before, it may have changed meanwhile, and a
    /// command would lock one database's keys and work on the other's. `locker` is what both
    /// lock through (a connection's write session; nothing for guards that unlock on drop).
    pub fn lock_in_named_db<L: ?Sized, H>(
        &self,
        logical: usize,
        locker: &mut L,
        lock: impl Fn(&mut L, u8) -> H,
        unlock: impl Fn(&mut L, H),
    ) -> H {
        let mut physical = self.physical_db(logical);
        loop {
            let held = lock(locker, physical);
            let named = self.physical_db(logical);
            if named == physical {
                return held;
            }
            unlock(locker, held);
            physical = named;
        }
    }

    pub fn physical_db(&self, logical: usize) -> u8 {
        self.db_map[logical % MAX_DATABASES].load(Ordering::Relaxed)
    }

    /// Swaps two logical databases: O(1), one durable write of the mapping.
    pub fn swap_dbs(&self, a: usize, b: usize) -> Result<()> {
        let _all = self.locks.lock_all();
        let (pa, pb) = (self.physical_db(a), self.physical_db(b));
        let mut map: Vec<u8> = self.db_map.iter().map(|m| m.load(Ordering::Relaxed)).collect();
        map.swap(a, b);
        let mut batch = self.storage.batch();
        batch.put(Cf::Internal, DB_MAP_KEY, &map[..]);
        self.storage.write(batch)?;
        self.db_map[a].store(pb, Ordering::Relaxed);
        self.db_map[b].store(pa, Ordering::Relaxed);
        // Clients blocked in either database now wait on its new contents, which may hold
        // what they wait for (served by the SWAPDB request's dispatch).
        self.blocking.signal_database(a);
        self.blocking.signal_database(b);
        // Clients watching keys in either database see them change, as in Redis; the map is
        // server-wide, so every namespace's databases swap.
        let tenants = self.namespaces.all().into_iter().map(|(ns, _)| ns);
        for ns in std::iter::once(bytes::Bytes::new()).chain(tenants) {
            self.watches.touch_db(&ns, Some(pa));
            self.watches.touch_db(&ns, Some(pb));
        }
        Ok(())
    }

    pub fn config(&self) -> std::sync::RwLockReadGuard<'_, Config> {
        self.config.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The config for a change (CONFIG SET); the change is counted when the guard drops.
    pub fn config_mut(&self) -> ConfigWrite<'_> {
        ConfigWrite {
            config: self.config.write().unwrap_or_else(|e| e.into_inner()),
            generation: &self.config_generation,
        }
    }

    /// How many times the config changed: a cached reading of it is current while this is.
    pub fn config_generation(&self) -> u64 {
        self.config_generation.load(Ordering::Acquire)
    }

    pub fn request_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// The config, locked for a change; dropping it counts the change (after which readers that
/// see the new generation block on the lock until the change is whole).
pub struct ConfigWrite<'a> {
    config: std::sync::RwLockWriteGuard<'a, Config>,
    generation: &'a AtomicU64,
}

impl std::ops::Deref for ConfigWrite<'_> {
    type Target = Config;
    fn deref(&self) -> &Config {
        &self.config
    }
}

impl std::ops::DerefMut for ConfigWrite<'_> {
    fn deref_mut(&mut self) -> &mut Config {
        &mut self.config
    }
}

impl Drop for ConfigWrite<'_> {
    fn drop(&mut self) {
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// 40 hex characters, as Redis's run_id.
fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(40);
    while out.len() < 40 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0));
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(40);
    out
}
