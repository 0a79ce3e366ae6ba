#!/usr/bin/env bash
# Dataset-size benchmark, Redrock beside real Redis in the same run: load N strings of 100
# bytes, then report RSS, disk use, load time, restart time (to the first served GET) and
# GET throughput on random existing keys. Redrock's RSS is bounded by its block cache, record
# caches and write buffers; Redis's grows with the data.
#
#   ci/bench-dataset.sh                 N=1,000,000
#   KEYS_N=10000000 ci/bench-dataset.sh the issue's 10 million (needs ~3 GB RAM for Redis)
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS_N="${KEYS_N:-1000000}"
GET_REQUESTS="${GET_REQUESTS:-200000}"
# Seconds between two INFOs of the monitor polled beside the second GET run.
INFO_POLL_S="${INFO_POLL_S:-1}"
. ci/bench-lib.sh
# The keys redis-benchmark's -r uses: key:%012d.
load() { # port
  python3 - "$KEYS_N" <<'PY' | redis-cli -p "$1" --pipe >/dev/null
import sys
n = int(sys.argv[1]); value = b"v" * 100; out = sys.stdout.buffer
for i in range(n):
    k = b"key:%012d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(k), k, value))
PY
}

declare -A result
for server in redis redrock; do
  port=$(free_port)
  pid=$(start_$server "$port"); pids+=("$pid")
  for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  t0=$(date +%s.%N); load "$port"; t1=$(date +%s.%N)
  result[$server,load_s]=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
  [ "$server" = redis ] && redis-cli -p "$port" save >/dev/null
  sleep 2
  result[$server,rss_mb]=$(rss_mb "$pid")
  result[$server,disk_mb]=$(disk_mb "$work/$server")
  result[$server,get_rps]=$(redis-benchmark -p "$port" -q --csv -t get -n "$GET_REQUESTS" -r "$KEYS_N" -c 50 | tail -1 | tr -d '"' | cut -d, -f2)
  # Random reads fill the block cache: the bound must hold after them too.
  result[$server,rss_after_gets_mb]=$(rss_mb "$pid")
  # A monitor polling INFO (its keyspace section counts keys: O(1) in Redis, a walk of the
  # keyspace in Redrock, off the worker thread) beside the same GETs.
  info_log="$work/$server.info_s" stop_polling="$work/$server.stop_polling"
  ( while [ ! -e "$stop_polling" ]; do
      t0=$(date +%s.%N); redis-cli -p "$port" info >/dev/null; t1=$(date +%s.%N)
      python3 -c "print(f'{$t1 - $t0:.3f}')" >>"$info_log"; sleep "$INFO_POLL_S"
    done ) &
  poller=$!
  result[$server,get_rps_info_polled]=$(redis-benchmark -p "$port" -q --csv -t get -n "$GET_REQUESTS" -r "$KEYS_N" -c 50 | tail -1 | tr -d '"' | cut -d, -f2)
  # The INFO under way ends before the server stops.
  touch "$stop_polling"; wait "$poller"
  result[$server,info_max_s]=$(sort -n "$info_log" | tail -1)
  result[$server,stop_s]=$(stop_server "$pid")
  port=$(free_port)
  started_at=$(date +%s.%N)
  pid=$(start_$server "$port"); pids+=("$pid")
  result[$server,restart_s]=$(wait_reply "$port" "$started_at" '$100' GET "key:$(printf %012d 1)")
  result[$server,rss_after_restart_mb]=$(rss_mb "$pid")
  stop_server "$pid" >/dev/null
done

table="$(
  printf '| %s strings of 100 bytes | Redis | Redrock | Redrock/Redis |\n| --- | ---: | ---: | ---: |\n' "$KEYS_N"
  for m in load_s rss_mb disk_mb get_rps rss_after_gets_mb get_rps_info_polled info_max_s stop_s restart_s rss_after_restart_mb; do
    r=${result[redis,$m]}; k=${result[redrock,$m]}
    ratio=$(python3 -c "print(f'{float($k)/float($r):.2f}x' if float($r) else 'n/a')")
    printf '| %s | %s | %s | %s |\n' "$m" "$r" "$k" "$ratio"
  done
)"
echo "$table"
# The "## Dataset size" section of docs/BENCHMARKS.md (ci/bench.sh keeps it).
section="$(
  echo "## Dataset size"
  echo
  echo "Produced by \`KEYS_N=$KEYS_N ci/bench-dataset.sh\` on $(date -u +%Y-%m-%d): both servers with their defaults"
  echo "(Redrock: block cache 192 MB, record caches 128 + 64 MB, write buffers 64 MB; Redis: no persistence, \`save\` once for"
  echo "disk use); RSS in MB read from /proc, GET throughput with redis-benchmark on random keys;"
  echo "get_rps_info_polled is the same GETs while another client sends INFO every ${INFO_POLL_S} s, info_max_s the slowest of"
  echo "those INFOs (Redrock counts keys by walking them, off its worker thread);"
  echo "stop_s is SIGTERM to exit (Redrock writes its memtables out), restart_s start to first GET."
  echo
  echo "$table"
)"
replace_section "Dataset size" "$section"
