#!/usr/bin/env bash
# The test command: installs what the tests need, builds everything once in the release
# profile (RocksDB's C++ is compiled once and reused), runs every test, then fmt and clippy.
#
#   ci/test.sh            everything
#   REDROCK_TARGET_DIR=…  where the build goes (default: $HOME/.cache/redrock-target, so
#                         repeated runs and CI on the same machine reuse the RocksDB build)
#   STALE_BUILD_DAYS=3    build outputs untouched this long are pruned from that folder
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${REDROCK_TARGET_DIR:-$HOME/.cache/redrock-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v redis-cli >/dev/null || need_apt+=(redis-tools)
# bindgen (librocksdb-sys) needs libclang itself (clang-sys looks for libclang.so or
# libclang-<version>.so*); cc needs a C++ compiler. libclang-cpp.so, which some machines
# carry without libclang, is not it.
compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null || compgen -G '/usr/lib/*/libclang.so*' >/dev/null \
  || compgen -G '/usr/lib/*/libclang-[0-9]*.so*' >/dev/null || [ -n "${LIBCLANG_PATH:-}" ] || need_apt+=(libclang-dev)
command -v c++ >/dev/null || need_apt+=(g++)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "ci/test.sh: installing ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
redis-server --version

step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }

# Cargo judges the workspace's own crates fresh by their files' times, not by where the
# checkout is: a checkout older than a build another checkout made into this folder would
# reuse that build, whose paths (CARGO_MANIFEST_DIR, where insta finds the goldens) are the
# other checkout's. A build from another path rebuilds them (not RocksDB).
checkout_stamp="$CARGO_TARGET_DIR/redrock-checkout"
if [ -f "$checkout_stamp" ] && [ "$(cat "$checkout_stamp")" != "$PWD" ]; then
  find server compat -name '*.rs' -exec touch {} +
fi
mkdir -p "$CARGO_TARGET_DIR" && echo "$PWD" > "$checkout_stamp"

step "build (release: one profile for binaries and tests)"
cargo build --release --workspace --all-targets --locked

# The goldens and the fuzz campaign below run against the server binary people run and
# benchmark: the `dist` profile's (fat LTO), which only the link and inlining set apart from
# the release one the other tests spawn. From scratch it compiles RocksDB a second time.
step "build the shipped server (dist profile)"
cargo build --profile dist -p redrock --bin redrock-server --locked
export REDROCK_SERVER_BIN="$CARGO_TARGET_DIR/dist/redrock-server"

step "tests"
cargo test --release --workspace --locked --no-fail-fast -- --test-threads="${REDROCK_TEST_THREADS:-2}"

step "differential fuzz campaign (real Redis vs Redrock, seeded)"
"$CARGO_TARGET_DIR/release/redrock-compat" fuzz --reference spawn:"$(command -v redis-server)" \
  --target spawn:"$REDROCK_SERVER_BIN" --seed "${REDROCK_FUZZ_SEED:-1}" --cases "${REDROCK_FUZZ_CASES:-3000}"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --release --workspace --all-targets --locked -- -D warnings

# The shared target folder keeps every build's test binaries (400 MB each) under a new name
# whenever a dependency or the clone's path changes, and cargo never removes the old ones: in
# two days of work they filled 50 GB and then the disk. Whatever no build touched for
# STALE_BUILD_DAYS goes: test and binary executables (no extension: never a library or a
# proc-macro, whose rebuild would cascade into RocksDB) and incremental state. A target still
# in use is only rebuilt.
step "prune stale build outputs"
stale_days="${STALE_BUILD_DAYS:-3}"
for profile in release dist; do
  find "$CARGO_TARGET_DIR/$profile/deps" -maxdepth 1 -type f -executable ! -name "*.*" -mtime +"$stale_days" -delete 2>/dev/null || true
done
find "$CARGO_TARGET_DIR/release/incremental" -mindepth 1 -maxdepth 1 -type d -mtime +"$stale_days" \
  -exec rm -rf {} + 2>/dev/null || true

echo; echo "ci/test.sh: all green"
