#!/usr/bin/env bash
# Cost of list access by index on a 1,000,000-element list, Redrock beside real Redis:
# LINDEX/LSET at the head, the middle and the tail, and LRANGE of 100 elements from the
# middle. On Redrock element i is one sub-key (head + i): one point read or write wherever
# it is (O(1); the middle may miss the block cache more); Redis walks its quicklist (O(N)).
#
#   ci/bench-list.sh                  1,000,000 elements, 20,000 requests per test
#   ELEMENTS=100000 REQUESTS=5000 ci/bench-list.sh    quick look
set -euo pipefail
cd "$(dirname "$0")/.."

ELEMENTS="${ELEMENTS:-1000000}"
REQUESTS="${REQUESTS:-20000}"
CLIENTS="${CLIENTS:-8}"
. ci/bench-lib.sh

start_both

middle=$((ELEMENTS / 2))
printf '%-34s %14s %14s\n' "test (${ELEMENTS} elements)" "redis rps" "redrock rps"
for port in "$redis_port" "$redrock_port"; do
  redis-benchmark -h 127.0.0.1 -p "$port" -q -n "$ELEMENTS" -c 8 -P 100 RPUSH big element >/dev/null 2>&1
  len=$(redis-cli -p "$port" LLEN big)
  [ "$len" = "$ELEMENTS" ] || { echo "port $port: LLEN big = $len, expected $ELEMENTS" >&2; exit 2; }
done
rps() { redis-benchmark -h 127.0.0.1 -p "$1" -q -n "$REQUESTS" -c "$CLIENTS" "${@:2}" 2>/dev/null | awk '{for (i=1;i<=NF;i++) if ($i ~ /^[0-9.]+$/ && $(i+1) ~ /requests/) print $i}' | tail -1; }
for test in "LINDEX big 0" "LINDEX big $middle" "LINDEX big -1" \
            "LSET big 0 v" "LSET big $middle v" "LSET big -1 v" \
            "LRANGE big $middle $((middle + 99))"; do
  # shellcheck disable=SC2086
  printf '%-34s %14s %14s\n' "$test" "$(rps "$redis_port" $test)" "$(rps "$redrock_port" $test)"
done
