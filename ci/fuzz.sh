#!/usr/bin/env bash
# Runs every cargo-fuzz target for a time box on the stable toolchain (no sanitizer).
#   ci/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
# With a nightly toolchain installed, `cargo +nightly fuzz run TARGET` adds AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export CARGO_TARGET_DIR="${REDROCK_FUZZ_TARGET_DIR:-$HOME/.cache/redrock-fuzz-target}"
# The committed seeds stay as they are; what libFuzzer discovers goes to a work corpus.
work_corpus="${REDROCK_FUZZ_CORPUS:-$HOME/.cache/redrock-fuzz-corpus}"
for target in $(cargo fuzz list); do
  echo "=== fuzz $target for ${seconds}s"
  mkdir -p "$work_corpus/$target" "corpus/$target"
  cargo fuzz run "$target" -s none "$work_corpus/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536
done
