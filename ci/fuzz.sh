#!/usr/bin/env bash
# Runs every cargo-fuzz target for a time box on the stable toolchain (no sanitizer).
#   ci/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
# With a nightly toolchain installed, `cargo +nightly fuzz run TARGET` adds AddressSanitizer.
# command_diff needs a real Redis: this script starts one (a scratch server on a free port,
# killed at the end); Redrock runs inside the fuzzing process. The first build compiles
# RocksDB into the fuzz target folder (~20 min); later runs reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

work="$(mktemp -d)"
pids=()
# storage_model and command_diff keep one RocksDB folder per fuzzing process under the temp dir.
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work" "${TMPDIR:-/tmp}"/redrock-fuzz-storage-model-* "${TMPDIR:-/tmp}"/redrock-fuzz-command-diff-*
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server on $1 did not start" >&2; exit 2; }
start_redis() {
  local redis_port
  redis_port=$(free_port)
  mkdir -p "$work/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work/redis" >/dev/null &
  pids+=($!)
  wait_port "$redis_port"
  export REDROCK_FUZZ_REFERENCE="redis://127.0.0.1:$redis_port"
}

cd "$root/fuzz"
export CARGO_TARGET_DIR="${REDROCK_FUZZ_TARGET_DIR:-$HOME/.cache/redrock-fuzz-target}"
# The committed seeds stay as they are; what libFuzzer discovers goes to a work corpus.
work_corpus="${REDROCK_FUZZ_CORPUS:-$HOME/.cache/redrock-fuzz-corpus}"
for target in $(cargo fuzz list); do
  if [ "$target" = command_diff ] && [ -z "${REDROCK_FUZZ_REFERENCE:-}" ]; then
    start_redis
  fi
  echo "=== fuzz $target for ${seconds}s"
  mkdir -p "$work_corpus/$target" "corpus/$target"
  cargo fuzz run "$target" -s none "$work_corpus/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536
done
