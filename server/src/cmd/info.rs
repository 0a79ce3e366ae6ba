//! `INFO [section ...]`: Redis 7.0's sections, field names and layout (`# Section\r\n`,
//! `name:value\r\n`, a blank line between sections), with Redrock's real figures. Fields that
//! have no meaning here (fork, replication backlog, allocator internals) keep Redis's
//! names with the value an idle Redis shows, so tools that parse INFO keep working.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redrock_protocol::Reply;

use super::args::text;
use super::spec::{flag, CommandSpec, Group};
use super::Ctx;
use crate::error::Result;
use crate::offload::Wanted;
use crate::shared::{Shared, Stats};

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("info", -1, Group::Server, info)
    .flags(flag::LOADING | flag::STALE)
    .acl(super::spec::acl::DANGEROUS)
    .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"])
    .doc("1.0.0", "Get information and statistics about the server", "O(1)")];

/// Every section, in the order Redis prints them, and whether `INFO` without arguments
/// (`default`) includes it.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// Linux's `USER_HZ`: the unit of the CPU times in `/proc/self/stat`.
const CLOCK_TICKS_PER_S: f64 = 100.0;
/// Redis's `LRU_CLOCK_MAX` (24 bits of seconds).
const LRU_CLOCK_MAX: u64 = (1 << 24) - 1;

fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<Reply> {
    let wanted = selected_sections(&args[1..]);
    let mut out = String::new();
    for (name, _) in SECTIONS {
        if !wanted.iter().any(|w| w == name || (*name == "modules" && w == "module_list")) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        if *name == "keyspace" {
            // The last section, and a walk of every database: off the worker thread
            // (offload.rs), appended to the others.
            let namespace = ctx.client.namespace.clone();
            return ctx.offload(move |shared, wanted| {
                let mut out = out.clone();
                Ok(write_keyspace(shared, &namespace, wanted, &mut out)?
                    .then(|| Reply::Verbatim("txt", Bytes::from(out))))
            });
        }
        write_section(ctx, name, &mut out)?;
    }
    Ok(Reply::Verbatim("txt", Bytes::from(out)))
}

/// The keyspace section: `false` if `wanted` said stop before it was written.
fn write_keyspace(shared: &Shared, namespace: &[u8], wanted: &Wanted<'_>, out: &mut String) -> Result<bool> {
    out.push_str("# Keyspace\r\n");
    for logical in 0..shared.databases {
        let Some((keys, expires)) = shared.db(namespace, logical).count_keys(|| wanted.still())? else {
            return Ok(false);
        };
        if keys > 0 {
            let _ = write!(out, "db{logical}:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
    }
    Ok(true)
}

/// Redis's `genInfoSectionDict`: names are case-insensitive; `default`, `all` and
/// `everything` stand for groups of sections; unknown names select nothing.
fn selected_sections(args: &[Bytes]) -> Vec<String> {
    let defaults = || SECTIONS.iter().filter(|(_, default)| *default).map(|(name, _)| name.to_string());
    if args.is_empty() {
        return defaults().collect();
    }
    let mut wanted = Vec::new();
    for arg in args {
        let name = text(arg).to_ascii_lowercase();
        match name.as_str() {
            "default" => wanted.extend(defaults()),
            "all" | "everything" => wanted.extend(SECTIONS.iter().map(|(name, _)| name.to_string())),
            _ => wanted.push(name),
        }
    }
    wanted
}

fn write_section(ctx: &Ctx<'_>, name: &str, out: &mut String) -> Result<()> {
    let shared = ctx.shared;
    let mut fields: Vec<(&str, String)> = Vec::new();
    let mut field = |name: &'static str, value: String| fields.push((name, value));
    let title = match name {
        "server" => {
            server_fields(shared, &mut field);
            "Server"
        }
        "clients" => {
            field("connected_clients", shared.clients.count().to_string());
            field("cluster_connections", "0".into());
            field("maxclients", shared.config().get("maxclients").to_string());
            for zero in [
                "client_recent_max_input_buffer",
                "client_recent_max_output_buffer",
                "blocked_clients",
                "tracking_clients",
                "clients_in_timeout_table",
            ] {
                field(zero, "0".into());
            }
            "Clients"
        }
        "memory" => {
            memory_fields(shared, &mut field);
            "Memory"
        }
        "persistence" => {
            persistence_fields(shared, &mut field);
            "Persistence"
        }
        "stats" => {
            stats_fields(shared, &mut field);
            "Stats"
        }
        "replication" => {
            field("role", "master".into());
            field("connected_slaves", "0".into());
            field("master_failover_state", "no-failover".into());
            field("master_replid", shared.run_id.clone());
            field("master_replid2", "0".repeat(40));
            field("master_repl_offset", "0".into());
            field("second_repl_offset", "-1".into());
            field("repl_backlog_active", "0".into());
            field("repl_backlog_size", "1048576".into());
            field("repl_backlog_first_byte_offset", "0".into());
            field("repl_backlog_histlen", "0".into());
            "Replication"
        }
        "cpu" => {
            let (user_s, sys_s, children_user_s, children_sys_s) = cpu_times();
            field("used_cpu_sys", format!("{sys_s:.6}"));
            field("used_cpu_user", format!("{user_s:.6}"));
            field("used_cpu_sys_children", format!("{children_sys_s:.6}"));
            field("used_cpu_user_children", format!("{children_user_s:.6}"));
            "CPU"
        }
        "modules" => "Modules",
        "commandstats" => "Commandstats",
        "errorstats" => {
            let codes = shared.stats.error_codes.lock().unwrap_or_else(|e| e.into_inner());
            out.push_str("# Errorstats\r\n");
            for (code, count) in codes.iter() {
                let _ = write!(out, "errorstat_{code}:count={count}\r\n");
            }
            return Ok(());
        }
        "latencystats" => "Latencystats",
        "cluster" => {
            field("cluster_enabled", "0".into());
            "Cluster"
        }
        _ => return Ok(()),
    };
    let _ = write!(out, "# {title}\r\n");
    for (name, value) in fields {
        let _ = write!(out, "{name}:{value}\r\n");
    }
    Ok(())
}

fn server_fields(shared: &Shared, field: &mut impl FnMut(&'static str, String)) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let uptime_s = shared.started.elapsed().as_secs();
    let read = |path: &str| std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default();
    let hz = shared.config().get("hz").to_string();
    field("redis_version", crate::REDIS_COMPAT_VERSION.into());
    field("redrock_version", crate::REDROCK_VERSION.into());
    field("redis_git_sha1", "00000000".into());
    field("redis_git_dirty", "0".into());
    field("redis_build_id", "0".into());
    field("redis_mode", "standalone".into());
    field(
        "os",
        format!(
            "{} {} {}",
            read("/proc/sys/kernel/ostype"),
            read("/proc/sys/kernel/osrelease"),
            std::env::consts::ARCH
        ),
    );
    field("arch_bits", (usize::BITS).to_string());
    field("monotonic_clock", "POSIX clock_gettime".into());
    field("multiplexing_api", "epoll".into());
    field("atomicvar_api", "c11-builtin".into());
    field("gcc_version", "0.0.0".into());
    field("process_id", std::process::id().to_string());
    field("process_supervised", "no".into());
    field("run_id", shared.run_id.clone());
    field("tcp_port", shared.port.to_string());
    field("server_time_usec", now.as_micros().to_string());
    field("uptime_in_seconds", uptime_s.to_string());
    field("uptime_in_days", (uptime_s / 86_400).to_string());
    field("hz", hz.clone());
    field("configured_hz", hz);
    field("lru_clock", (now.as_secs() & LRU_CLOCK_MAX).to_string());
    field("executable", std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default());
    field("config_file", String::new());
    field("io_threads_active", "0".into());
}

/// Redis's `bytesToHuman`.
fn human(bytes: u64) -> String {
    const UNITS: &[(&str, u64)] = &[("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= *size {
            return format!("{:.2}{unit}", bytes as f64 / *size as f64);
        }
    }
    format!("{bytes}B")
}

/// A `kB` figure of `/proc/self/status` or `/proc/meminfo`, in bytes.
fn proc_kb(path: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn memory_fields(shared: &Shared, field: &mut impl FnMut(&'static str, String)) {
    // No allocator statistics here: the process's resident set is the honest figure.
    let rss = proc_kb("/proc/self/status", "VmRSS");
    let peak = proc_kb("/proc/self/status", "VmHWM").max(rss);
    let total = proc_kb("/proc/meminfo", "MemTotal");
    let (maxmemory, policy) = {
        let config = shared.config();
        (config.get_u64("maxmemory"), config.get("maxmemory-policy").to_string())
    };
    let disk = shared.storage.approximate_size_bytes();
    field("used_memory", rss.to_string());
    field("used_memory_human", human(rss));
    field("used_memory_rss", rss.to_string());
    field("used_memory_rss_human", human(rss));
    field("used_memory_peak", peak.to_string());
    field("used_memory_peak_human", human(peak));
    field("used_memory_peak_perc", format!("{:.2}%", if peak == 0 { 0.0 } else { rss as f64 * 100.0 / peak as f64 }));
    field("total_system_memory", total.to_string());
    field("total_system_memory_human", human(total));
    field("maxmemory", maxmemory.to_string());
    field("maxmemory_human", human(maxmemory));
    field("maxmemory_policy", policy);
    field("mem_fragmentation_ratio", "1.00".into());
    field("mem_allocator", crate::MEM_ALLOCATOR.get().copied().unwrap_or("libc").into());
    field("lazyfree_pending_objects", "0".into());
    field("lazyfreed_objects", "0".into());
    // Redrock's own: the data lives in RocksDB (SST files and memtables).
    field("rocksdb_size", disk.to_string());
    field("rocksdb_size_human", human(disk));
    // Redrock's own: the cache of metadata records (`record-cache-size`) and the cache of
    // collection members (`sub-key-cache-size`); `_complete:1` while a cache holds every
    // record of its column family, so that its misses read nothing.
    let records = shared.storage.record_cache_usage();
    field("record_cache_keys", records.entries.to_string());
    field("record_cache_bytes", records.bytes.to_string());
    field("record_cache_bytes_human", human(records.bytes));
    field("record_cache_complete", u8::from(records.complete).to_string());
    let members = shared.storage.sub_key_cache_usage();
    field("sub_key_cache_keys", members.entries.to_string());
    field("sub_key_cache_bytes", members.bytes.to_string());
    field("sub_key_cache_bytes_human", human(members.bytes));
    field("sub_key_cache_complete", u8::from(members.complete).to_string());
}

fn persistence_fields(shared: &Shared, field: &mut impl FnMut(&'static str, String)) {
    for zero in ["loading", "async_loading", "rdb_changes_since_last_save"] {
        field(zero, "0".into());
    }
    let (bgsave_in_progress, last_bgsave_ok) = shared.saves.bgsave_status();
    field("rdb_bgsave_in_progress", u8::from(bgsave_in_progress).to_string());
    field("rdb_last_save_time", shared.saves.last_unix_s.load(Ordering::Relaxed).to_string());
    field("rdb_last_bgsave_status", if last_bgsave_ok { "ok" } else { "err" }.into());
    field("rdb_last_bgsave_time_sec", "-1".into());
    field("rdb_current_bgsave_time_sec", "-1".into());
    field("rdb_saves", "0".into());
    field("aof_enabled", "0".into());
    field("aof_rewrite_in_progress", "0".into());
    field("aof_rewrite_scheduled", "0".into());
    field("aof_last_rewrite_time_sec", "-1".into());
    field("aof_current_rewrite_time_sec", "-1".into());
    field("aof_last_bgrewrite_status", "ok".into());
    field("aof_rewrites", "0".into());
    field("aof_last_write_status", "ok".into());
    // Redrock's own: writes go to RocksDB's write-ahead log with this fsync policy.
    field("redrock_appendfsync", shared.storage.durability().name().to_string());
}

fn stats_fields(shared: &Shared, field: &mut impl FnMut(&'static str, String)) {
    let stats = &shared.stats;
    let get = |counter| Stats::get(counter).to_string();
    field("total_connections_received", get(&stats.total_connections_received));
    field("total_commands_processed", get(&stats.total_commands_processed));
    field("instantaneous_ops_per_sec", "0".into());
    field("total_net_input_bytes", get(&stats.net_input_bytes));
    field("total_net_output_bytes", get(&stats.net_output_bytes));
    field("rejected_connections", get(&stats.rejected_connections));
    field("expired_keys", get(&stats.expired_keys));
    field("evicted_keys", "0".into());
    field("keyspace_hits", get(&stats.keyspace_hits));
    field("keyspace_misses", get(&stats.keyspace_misses));
    field("pubsub_channels", "0".into());
    field("pubsub_patterns", "0".into());
    field("total_error_replies", get(&stats.total_error_replies));
}

/// (user, system, children's user, children's system) CPU seconds from `/proc/self/stat`.
fn cpu_times() -> (f64, f64, f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at `state` (field 3).
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<f64> = rest.split_whitespace().map(|f| f.parse().unwrap_or(0.0)).collect();
    let at = |field: usize| fields.get(field - 3).copied().unwrap_or(0.0) / CLOCK_TICKS_PER_S;
    (at(14), at(15), at(16), at(17))
}

#[cfg(test)]
mod tests {
    use super::SECTIONS;

    /// `info` hands the keyspace section, with the sections before it, to an offloaded walk
    /// and returns: every other section must come before it.
    #[test]
    fn keyspace_is_the_last_section() {
        assert_eq!(SECTIONS.last().map(|(name, _)| *name), Some("keyspace"));
    }
}
