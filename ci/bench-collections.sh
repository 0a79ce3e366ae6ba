#!/usr/bin/env bash
# Cost of element access in 1,000,000-element collections, Redrock beside real Redis:
# HGET, SISMEMBER, ZSCORE (point reads), ZRANGEBYSCORE of 10 members from the
# middle (score index: O(log N + M); ZRANK is left out: it counts from the nearer end,
# O(min(rank, N - rank)) here), LINDEX/LSET at the head, the middle and the tail and
# LRANGE of 100 from the middle. On Redrock each element is one sub-key, so the middle
# costs what the head costs; Redis walks its quicklist for lists (O(N)).
#
#   ci/bench-collections.sh                        1,000,000 elements, 20,000 requests per test
#   ELEMENTS=100000 REQUESTS=5000 ci/bench-collections.sh    quick look
set -euo pipefail
cd "$(dirname "$0")/.."

ELEMENTS="${ELEMENTS:-1000000}"
REQUESTS="${REQUESTS:-20000}"
CLIENTS="${CLIENTS:-8}"
. ci/bench-lib.sh

start_both

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
for port in "$redis_port" "$redrock_port"; do
  fill "$port"
  for check in "LLEN list" "HLEN hash" "SCARD set" "ZCARD zset"; do
    # shellcheck disable=SC2086
    n=$(redis-cli -p "$port" $check)
    [ "$n" = "$ELEMENTS" ] || { echo "port $port: $check = $n, expected $ELEMENTS" >&2; exit 2; }
  done
done
rps() { redis-benchmark -h 127.0.0.1 -p "$1" -q -n "$REQUESTS" -c "$CLIENTS" "${@:2}" 2>/dev/null | awk '{for (i=1;i<=NF;i++) if ($i ~ /^[0-9.]+$/ && $(i+1) ~ /requests/) print $i}' | tail -1; }
printf '| %s (%s elements) | Redis req/s | Redrock req/s |\n| --- | ---: | ---: |\n' test "$ELEMENTS"
for test in "HGET hash m$middle" "SISMEMBER set m$middle" "ZSCORE zset m$middle" \
            "ZRANGEBYSCORE zset $middle $((middle + 9))" \
            "LINDEX list 0" "LINDEX list $middle" "LINDEX list -1" \
            "LSET list 0 v" "LSET list $middle v" "LSET list -1 v" \
            "LRANGE list $middle $((middle + 99))"; do
  # shellcheck disable=SC2086
  printf '| %s | %s | %s |\n' "$test" "$(rps "$redis_port" $test)" "$(rps "$redrock_port" $test)"
done
