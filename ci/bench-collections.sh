#!/usr/bin/env bash
# Cost of element access in 1,000,000-element collections, Redrock beside real Redis:
# HGET, SISMEMBER, ZSCORE (point reads), ZRANGEBYSCORE of 10 members from the
# middle (score index: O(log N + M); ZRANK is left out: it counts from the nearer end,
# O(min(rank, N - rank)) here), LINDEX/LSET at the head, the middle and the tail and
# LRANGE of 100 from the middle. On Redrock each element is one sub-key, so the middle
# costs what the head costs; Redis walks its quicklist for lists (O(N)).
#
# Also the dataset side of 1,000,000-element collections: load time (redis-cli --pipe), RSS,
# disk use and restart time (to the first served HLEN). Writes the "## Collections" section
# of docs/BENCHMARKS.md.
#
#   ci/bench-collections.sh                        1,000,000 elements, 20,000 requests per test
#   ELEMENTS=100000 REQUESTS=5000 ci/bench-collections.sh    quick look
set -euo pipefail
cd "$(dirname "$0")/.."

ELEMENTS="${ELEMENTS:-1000000}"
REQUESTS="${REQUESTS:-20000}"
CLIENTS="${CLIENTS:-8}"
. ci/bench-lib.sh


middle=$((ELEMENTS / 2))
# One pipe per server: every element of every collection, as RESP.
fill() {
  python3 - "$ELEMENTS" <<'PY' | redis-cli -p "$1" --pipe >/dev/null
import sys
n = int(sys.argv[1]); out = sys.stdout.buffer
def cmd(*args):
    out.write(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
for i in range(n):
    m = b"m%d" % i
    cmd(b"RPUSH", b"list", b"element")
    cmd(b"HSET", b"hash", m, b"value")
    cmd(b"SADD", b"set", m)
    cmd(b"ZADD", b"zset", b"%d" % i, m)
PY
}
check_filled() { # port
  for check in "LLEN list" "HLEN hash" "SCARD set" "ZCARD zset"; do
    # shellcheck disable=SC2086
    n=$(redis-cli -p "$1" $check)
    [ "$n" = "$ELEMENTS" ] || { echo "port $1: $check = $n, expected $ELEMENTS" >&2; exit 2; }
  done
}
rps() { redis-benchmark -h 127.0.0.1 -p "$1" -q -n "$REQUESTS" -c "$CLIENTS" "${@:2}" 2>/dev/null | awk '{for (i=1;i<=NF;i++) if ($i ~ /^[0-9.]+$/ && $(i+1) ~ /requests/) print $i}' | tail -1; }
tests=("HGET hash m$middle" "SISMEMBER set m$middle" "ZSCORE zset m$middle"
       "ZRANGEBYSCORE zset $middle $((middle + 9))"
       "LINDEX list 0" "LINDEX list $middle" "LINDEX list -1"
       "LSET list 0 v" "LSET list $middle v" "LSET list -1 v"
       "LRANGE list $middle $((middle + 99))")

declare -A result
for server in redis redrock; do
  port=$(free_port)
  pid=$(start_$server "$port"); pids+=("$pid")
  wait_port "$port"
  t0=$(date +%s.%N); fill "$port"; t1=$(date +%s.%N)
  result[$server,load_s]=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
  check_filled "$port"
  [ "$server" = redis ] && redis-cli -p "$port" save >/dev/null
  sleep 2
  result[$server,rss_mb]=$(rss_mb "$pid")
  result[$server,disk_mb]=$(disk_mb "$work/$server")
  for test in "${tests[@]}"; do
    # shellcheck disable=SC2086
    result[$server,$test]=$(rps "$port" $test)
  done
  result[$server,rss_after_reads_mb]=$(rss_mb "$pid")
  result[$server,stop_s]=$(stop_server "$pid")
  port=$(free_port)
  started_at=$(date +%s.%N)
  pid=$(start_$server "$port"); pids+=("$pid")
  result[$server,restart_s]=$(wait_reply "$port" "$started_at" ":$ELEMENTS" HLEN hash)
  result[$server,rss_after_restart_mb]=$(rss_mb "$pid")
  stop_server "$pid" >/dev/null
done

ratio() { python3 -c "print(f'{float($2)/float($1):.2f}x' if float($1) else 'n/a')"; }
table="$(
  printf '| 4 collections of %s elements | Redis | Redrock | Redrock/Redis |\n| --- | ---: | ---: | ---: |\n' "$ELEMENTS"
  for m in load_s rss_mb disk_mb rss_after_reads_mb stop_s restart_s rss_after_restart_mb; do
    printf '| %s | %s | %s | %s |\n' "$m" "${result[redis,$m]}" "${result[redrock,$m]}" "$(ratio "${result[redis,$m]}" "${result[redrock,$m]}")"
  done
  echo
  printf '| req/s, %s clients | Redis | Redrock | Redrock/Redis |\n| --- | ---: | ---: | ---: |\n' "$CLIENTS"
  for test in "${tests[@]}"; do
    printf '| %s | %s | %s | %s |\n' "$test" "${result[redis,$test]}" "${result[redrock,$test]}" "$(ratio "${result[redis,$test]}" "${result[redrock,$test]}")"
  done
)"
echo "$table"
section="$(
  echo "## Collections"
  echo
  echo "Produced by \`ELEMENTS=$ELEMENTS ci/bench-collections.sh\` on $(date -u +%Y-%m-%d): a list, a hash, a set and a"
  echo "sorted set of $ELEMENTS elements each, loaded with redis-cli --pipe; both servers with their"
  echo "defaults (Redis: no persistence, \`save\` once for disk use and restart). stop_s is SIGTERM to"
  echo "exit (Redrock writes its memtables out); restart is timed to the first served HLEN. On Redrock each element is one sub-key: the middle of a list costs"
  echo "what its head costs, where Redis walks its quicklist."
  echo
  echo "$table"
)"
replace_section "Collections" "$section"
