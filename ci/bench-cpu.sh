#!/usr/bin/env bash
# Where the CPU goes, per request, Redis and Redrock side by side: each server's threads
# (Redrock's workers, landers, RocksDB's background jobs) and redis-benchmark itself, read
# from /proc around each test, and how busy the machine's cores were. Where the server and
# the client share the cores, req/s is at most
#   cores / (server CPU + client CPU per request)
# and, for Redis, which runs commands on one thread, 1 / its CPU per request; so these
# figures say which ratios of ci/bench.sh (the top of docs/BENCHMARKS.md) are bound by CPU
# (and by whose), and which by waiting (cores idle). Writes the "## CPU per request" section
# of docs/BENCHMARKS.md.
#
#   ci/bench-cpu.sh                          every test at -P 16 and -P 1, 64-byte values
#   TESTS=hset,zadd PIPELINES=16 REPEATS=3 ci/bench-cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."

TESTS="${TESTS:-set,get,incr,lpush,rpop,sadd,hset,zadd,lrange_100,mset}"
PIPELINES="${PIPELINES:-16 1}"
# -P 16 runs are short: 300 k requests keep the clock ticks (10 ms) under 1% of each.
PIPELINED_REQUESTS="${PIPELINED_REQUESTS:-300000}"
REQUESTS="${REQUESTS:-100000}"
REPEATS="${REPEATS:-1}"
. ci/bench-lib.sh

start_both
redis_pid=${pids[0]}
redrock_pid=${pids[1]}
ticks=$(getconf CLK_TCK)
cores=$(nproc)

# thread_ticks PID: "<class> <user+system ticks>" per thread. Redrock's threads are named
# (workers.rs, lander.rs; RocksDB's pools are rocksdb:low and rocksdb:high); everything
# else (the accept loop, timers, Redis's whole process) is "main".
thread_ticks() {
  for task in /proc/"$1"/task/*; do
    comm=$(cat "$task/comm" 2>/dev/null) || continue
    case "$comm" in
      redrock-worker*) class=worker ;;
      redrock-lander*) class=lander ;;
      rocksdb:*) class=background ;;
      *) class=main ;;
    esac
    echo "$class $(awk '{print $14 + $15}' "$task/stat" 2>/dev/null || echo 0)"
  done | awk '{t[$1] += $2} END {for (c in t) print c, t[c]}'
}

# measure NAME PID PORT PIPELINE TEST: one CSV line per thread class, "client" and "wall"
# included, each as microseconds per request.
measure() {
  local name=$1 pid=$2 port=$3 pipeline=$4 test=$5 requests=$REQUESTS before after client
  [ "$pipeline" -gt 1 ] && requests=$PIPELINED_REQUESTS
  before=$(thread_ticks "$pid")
  # The client's own CPU, from its rusage as a child of python.
  client=$(python3 - "$port" "$requests" "$pipeline" "$test" <<'PY'
import resource, subprocess, sys, time
port, n, p, test = sys.argv[1:]
start = time.monotonic()
subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", port, "-q", "-n", n, "-c", "50",
                "-P", p, "-d", "64", "-r", "100000", "-t", test], stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL, check=True)
wall = time.monotonic() - start
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{r.ru_utime + r.ru_stime} {wall}")
PY
)
  after=$(thread_ticks "$pid")
  python3 - "$name" "$pipeline" "$test" "$requests" "$ticks" "$client" "$before" "$after" <<'PY'
import sys
name, pipeline, test, n, ticks, client, before, after = sys.argv[1:]
n, ticks = int(n), int(ticks)
parse = lambda text: {c: int(t) for c, t in (line.split() for line in text.splitlines() if line)}
b, a = parse(before), parse(after)
client_s, wall_s = map(float, client.split())
us = lambda seconds: seconds * 1e6 / n
for c in sorted(a):
    print(f"{name},{pipeline},{test},{c},{us((a[c] - b.get(c, 0)) / ticks):.2f}")
print(f"{name},{pipeline},{test},client,{us(client_s):.2f}")
print(f"{name},{pipeline},{test},wall,{us(wall_s):.2f}")
PY
}

results="$work/results.csv"   # server,pipeline,test,class,us_per_request
: > "$results"
for pipeline in $PIPELINES; do
  for round in $(seq "$REPEATS"); do
    for server in $(round_order "$round" redis redrock); do
      case $server in redis) pid=$redis_pid port=$redis_port ;; redrock) pid=$redrock_pid port=$redrock_port ;; esac
      redis-cli -p "$port" flushall >/dev/null
      for test in ${TESTS//,/ }; do
        measure "$server" "$pid" "$port" "$pipeline" "$test" >> "$results"
      done
      echo "round $round -P $pipeline $server done" >&2
    done
  done
done

machine="$(machine_description)"
redis_version="$(redis_server_version)"
table="$(python3 - "$results" "$cores" <<'PY'
import csv, statistics, sys
rows = list(csv.reader(open(sys.argv[1])))
cores = int(sys.argv[2])
cell = {}
for server, p, test, c, us in rows:
    cell.setdefault((p, test, server, c), []).append(float(us))
med = lambda *k: statistics.median(cell[k]) if k in cell else 0.0
order = list(dict.fromkeys((p, t) for _, p, t, _, _ in rows))
print("| test | -P | Redis | Redrock worker | lander | background | main | Redrock total | client (Redis / Redrock) | cores busy (Redis / Redrock) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for p, t in order:
    redis = sum(med(p, t, "redis", c) for c in ("main", "worker", "lander", "background"))
    parts = {c: med(p, t, "redrock", c) for c in ("worker", "lander", "background", "main")}
    redrock = sum(parts.values())
    rc, kc = med(p, t, "redis", "client"), med(p, t, "redrock", "client")
    rw, kw = med(p, t, "redis", "wall"), med(p, t, "redrock", "wall")
    busy = lambda server_us, client_us, wall_us: (server_us + client_us) / wall_us / cores if wall_us else 0
    print(f"| {t.upper()} | {p} | {redis:.2f} | {parts['worker']:.2f} | {parts['lander']:.2f} | {parts['background']:.2f} "
          f"| {parts['main']:.2f} | {redrock:.2f} | {rc:.2f} / {kc:.2f} | {busy(redis, rc, rw):.0%} / {busy(redrock, kc, kw):.0%} |")
PY
)"
section="$(
  echo "## CPU per request"
  echo
  echo "Generated by \`ci/bench-cpu.sh\` on $(date -u +%Y-%m-%d): CPU time (user + system) in µs per"
  echo "request, from /proc, during each redis-benchmark test (50 clients, 64-byte values, random"
  echo "keys; $PIPELINED_REQUESTS requests at \`-P 16\`, $REQUESTS at \`-P 1\`; median of $REPEATS). Redis $redis_version and"
  echo "Redrock with its defaults. Machine: $machine. \"Redis\" is its whole process; Redrock's"
  echo "threads are grouped: workers run the commands, landers write large write groups into"
  echo "RocksDB, background is RocksDB's flushes and compactions, main the accept loop and timers."
  echo "The client is redis-benchmark, on the same cores. \"Cores busy\" is the servers' and the"
  echo "client's CPU over the test's wall time and the machine's cores: near 100%, req/s is bound"
  echo "by the CPU per request; below it, by waiting. Each test is its own redis-benchmark run here,"
  echo "on the data the tests before it left; the req/s are in the table at the top."
  echo
  echo "$table"
)"
replace_section "CPU per request" "$section"
echo "$section"
