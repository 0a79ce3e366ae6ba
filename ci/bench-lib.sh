# Shared by the ci/bench*.sh scripts (sourced, not run): builds redrock-server, provides a
# work folder cleaned up on exit, free ports, and starting Redis and Redrock side by side.
# Servers listen on 127.0.0.1 only and are stopped by pid.

export CARGO_TARGET_DIR="${REDROCK_TARGET_DIR:-$HOME/.cache/redrock-target}"
command -v redis-benchmark >/dev/null || { apt-get install -y -qq redis-tools redis-server; }
# The binary README's run command builds: the `dist` profile (fat LTO, see Cargo.toml).
cargo build --profile dist -p redrock --bin redrock-server >&2
SERVER="$CARGO_TARGET_DIR/dist/redrock-server"

work="$(mktemp -d)"
pids=()
# Servers started inside $(...) are not this shell's children: wait for them by polling.
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done; done
  rm -rf "$work"
}
trap cleanup EXIT

# What docs/BENCHMARKS.md says a run was measured on and against.
machine_description() { echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"; }
redis_server_version() { redis-server --version | awk '{print $3}'; }

# round_order ROUND SERVER...: the servers in the order round ROUND runs them, as words:
# as given in odd rounds, reversed in even ones, so that none always follows another.
round_order() {
  local round=$1; shift
  if [ $((round % 2)) = 0 ]; then
    local reversed=() server
    for server in "$@"; do reversed=("$server" "${reversed[@]}"); done
    set -- "${reversed[@]}"
  fi
  echo "$@"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_port PORT: until a server answers there (WAIT_PORT_TRIES x 50 ms, default 10 s).
wait_port() { for _ in $(seq "${WAIT_PORT_TRIES:-200}"); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server on $1 did not start" >&2; exit 2; }

# start_redis PORT [FOLDER] / start_redrock PORT [FOLDER]: print the pid. Output goes to
# /dev/null so a server started inside $(...) does not hold the pipe open. REDIS_ARGS and
# REDROCK_ARGS add parameters, e.g. REDROCK_ARGS="--workers 1"; LAUNCH prefixes the command
# (a valgrind line, whose pid is the server's). All unquoted on purpose: words.
start_redis() {
  mkdir -p "${2:-$work/redis}"
  # shellcheck disable=SC2086
  ${LAUNCH:-} redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --dir "${2:-$work/redis}" --dbfilename dump.rdb ${REDIS_ARGS:-} >/dev/null 2>&1 &
  echo $!
}
start_redrock() {
  mkdir -p "${2:-$work/redrock}"
  # shellcheck disable=SC2086
  ${LAUNCH:-} "$SERVER" --port "$1" --bind 127.0.0.1 --dir "${2:-$work/redrock}" --loglevel warning ${REDROCK_ARGS:-} >/dev/null 2>&1 &
  echo $!
}

# Starts both on free ports: sets redis_port and redrock_port, records the pids.
start_both() {
  redis_port=$(free_port); pids+=("$(start_redis "$redis_port")")
  redrock_port=$(free_port); pids+=("$(start_redrock "$redrock_port")")
  wait_port "$redis_port"; wait_port "$redrock_port"
}

# stop_server PID: SIGTERM, then wait until the process is gone (it is not this shell's child
# when started inside $(...), so `wait` cannot): a restart on the same folder must not race
# the old process, which still holds the folder while it shuts down. Prints the seconds taken.
stop_server() {
  local t0 state; t0=$(date +%s.%N)
  kill "$1" 2>/dev/null || { echo 0; return 0; }
  for _ in $(seq 6000); do
    # Gone, or a zombie nobody has reaped yet (its parent was a $(...) subshell).
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo gone)
    [ "$state" = gone ] || [ "$state" = Z ] && { python3 -c "print(f'{$(date +%s.%N) - $t0:.2f}')"; return 0; }
    sleep 0.01
  done
  echo "server $1 did not stop within 60 s" >&2; return 1
}

rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
disk_mb() { du -sm "$1" | cut -f1; }

# wait_reply PORT STARTED_AT EXPECTED COMMAND...: seconds from STARTED_AT (epoch) until
# COMMAND's reply starts with EXPECTED (a restarted server has loaded its data); fails after
# WAIT_REPLY_S (default 300) seconds.
wait_reply() {
  python3 - "$@" <<'PY'
import os, socket, sys, time
port, start, expected, words = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3].encode(), [w.encode() for w in sys.argv[4:]]
request = b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)
deadline = time.time() + float(os.environ.get("WAIT_REPLY_S", "300"))
while True:
    if time.time() > deadline:
        sys.exit(f"port {port}: no reply starting with {expected!r} in time")
    try:
        s = socket.create_connection(("127.0.0.1", port)); s.settimeout(5)
        s.sendall(request)
        if s.recv(1024).startswith(expected):
            print(f"{time.time() - start:.3f}"); break
        s.close(); time.sleep(0.01)
    except OSError:
        time.sleep(0.01)
PY
}

# replace_section TITLE TEXT: puts TEXT (which starts with "## TITLE") in docs/BENCHMARKS.md
# in place of that section, or at the end; the other sections are kept.
replace_section() {
  mkdir -p docs
  [ -f docs/BENCHMARKS.md ] || printf '# Benchmarks\n' > docs/BENCHMARKS.md
  python3 - "$1" "$2" <<'PY'
import sys
title, section = sys.argv[1], sys.argv[2].rstrip("\n")
path = "docs/BENCHMARKS.md"
parts = open(path).read().rstrip("\n").split("\n## ")
head, sections = parts[0], ["## " + p for p in parts[1:]]
mine = "## " + title
replaced = [section if s.split("\n", 1)[0].strip() == mine else s for s in sections]
if replaced == sections and all(s.split("\n", 1)[0].strip() != mine for s in sections):
    replaced.append(section)
open(path, "w").write("\n\n".join([head.rstrip("\n")] + [s.rstrip("\n") for s in replaced]) + "\n")
PY
}
