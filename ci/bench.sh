#!/usr/bin/env bash
# Side-by-side throughput of Redrock and real Redis, measured in the same run on the same
# machine with redis-benchmark, alternating A/B, repeated; reports medians and the
# Redrock/Redis ratio per test and writes docs/BENCHMARKS.md.
#
#   ci/bench.sh                     full run (REPEATS=3, REQUESTS=100000)
#   REPEATS=1 REQUESTS=20000 ci/bench.sh    quick look
#   ALSO_REDROCK_ARGS="--workers 2" ci/bench.sh   also a second Redrock configuration, in
#                                   the same alternation, as its own column
#   ALSO_REDROCK_BIN=/tmp/main-redrock-server ci/bench.sh   also a second Redrock build (say,
#                                   main's, before a change) the same way: an A/B of the two
#                                   builds beside Redis, in one run
#   PIPELINED_REQUESTS=1000000 ci/bench.sh   more requests for the -P 16 runs, which last
#                                   about 0.1 s each at REQUESTS=100000 and move by up to 30%
set -euo pipefail
cd "$(dirname "$0")/.."

REPEATS="${REPEATS:-3}"
REQUESTS="${REQUESTS:-100000}"
PIPELINED_REQUESTS="${PIPELINED_REQUESTS:-$REQUESTS}"
CLIENTS="${CLIENTS:-50}"
TESTS="${TESTS:-set,get,incr,lpush,rpop,sadd,hset,zadd,lrange_100,mset}"
. ci/bench-lib.sh

start_both
servers=(redis redrock)
# The second Redrock's label in the table: its build's path and its arguments.
also="$(echo "${ALSO_REDROCK_BIN:-} ${ALSO_REDROCK_ARGS:-}" | sed 's/^ *//; s/ *$//')"
if [ -n "$also" ]; then
  also_port=$(free_port)
  pids+=("$(SERVER="${ALSO_REDROCK_BIN:-$SERVER}" REDROCK_ARGS="${REDROCK_ARGS:-} ${ALSO_REDROCK_ARGS:-}" start_redrock "$also_port" "$work/redrock-also")")
  wait_port "$also_port"
  servers+=(also)
fi

results="$work/results.csv"   # server,pipeline,size,test,rps
: > "$results"
for size in 64 1024; do
  for pipeline in 1 16; do
    for round in $(seq "$REPEATS"); do
      for server in $(round_order "$round" "${servers[@]}"); do
        case "$server" in redis) port=$redis_port ;; redrock) port=$redrock_port ;; also) port=$also_port ;; esac
        redis-cli -p "$port" flushall >/dev/null
        requests=$REQUESTS
        if [ "$pipeline" -gt 1 ]; then requests=$PIPELINED_REQUESTS; fi
        redis-benchmark -h 127.0.0.1 -p "$port" -q --csv -n "$requests" -c "$CLIENTS" -P "$pipeline" -d "$size" -r 100000 -t "$TESTS" 2>/dev/null \
          | tail -n +2 | tr -d '"' | awk -F, -v s="$server" -v p="$pipeline" -v d="$size" '{print s","p","d","$1","$2}' >> "$results"
        echo "round $round size $size -P $pipeline $server done" >&2
      done
    done
  done
done

machine="$(machine_description)"
redis_version="$(redis_server_version)"
table="$(python3 - "$results" "$also" <<'PY'
import csv, statistics, sys
rows = list(csv.reader(open(sys.argv[1])))
also = sys.argv[2]
med = {}
for server, p, d, test, rps in rows:
    med.setdefault((p, d, test, server), []).append(float(rps))
keys = sorted({(p, d, t) for p, d, t, _ in med}, key=lambda k: (int(k[1]), int(k[0]), k[2]))
extra_head = f" Redrock `{also}` req/s | its ratio |" if also else ""
print("| test | -P | value bytes | Redis req/s | Redrock req/s | Redrock/Redis | per round |" + extra_head)
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |" + (" ---: | ---: |" if also else ""))
ratio = lambda k, r: f"{k / r:.2f}x" if r else "n/a"

def spread(redrock, redis):
    """The lowest and highest of the rounds' ratios. A round runs the two servers one right
    after the other, so the spread is how far this machine's noise moves a ratio."""
    rounds = [k / r for k, r in zip(redrock, redis) if r]
    return f"{min(rounds):.2f}-{max(rounds):.2f}x" if rounds else "n/a"

for p, d, t in keys:
    rs = med.get((p, d, t, "redis"), [0])
    ks = med.get((p, d, t, "redrock"), [0])
    r = statistics.median(rs)
    k = statistics.median(ks)
    extra = ""
    if also:
        a = statistics.median(med.get((p, d, t, "also"), [0]))
        extra = f" {a:,.0f} | {ratio(a, r)} |"
    print(f"| {t} | {p} | {d} | {r:,.0f} | {k:,.0f} | {ratio(k, r)} | {spread(ks, rs)} |" + extra)
PY
)"
mkdir -p docs
# The "## " sections belong to ci/bench-dataset.sh, ci/bench-collections.sh and
# ci/bench-instructions.sh: keep them.
other_sections="$( [ -f docs/BENCHMARKS.md ] && sed -n '/^## /,$p' docs/BENCHMARKS.md || true)"
{
  echo "# Benchmarks"
  echo
  echo "Produced by \`ci/bench.sh\` on $(date -u +%Y-%m-%d): redis-benchmark against Redis $redis_version and Redrock"
  requests_text="$REQUESTS requests"
  if [ "$PIPELINED_REQUESTS" != "$REQUESTS" ]; then requests_text="$REQUESTS requests ($PIPELINED_REQUESTS at -P 16)"; fi
  echo "on the same machine in the same run, alternating, $REPEATS round(s) of $requests_text, $CLIENTS clients,"
  echo "random keys (-r 100000); medians, and the lowest and highest ratio of a round. Machine: $machine."
  echo "Redrock is the \`dist\` build (fat LTO, Cargo.toml) and runs with its defaults (appendfsync everysec: every write is in the RocksDB WAL before"
  echo "its reply); Redis runs without persistence."
  if [ -n "$also" ]; then
    echo "The last two columns are a second Redrock (\`$also\`: its build and arguments), in the same alternation."
  fi
  echo
  echo "$table"
  if [ -n "$other_sections" ]; then echo; echo "$other_sections"; fi
} > docs/BENCHMARKS.md
cat docs/BENCHMARKS.md
