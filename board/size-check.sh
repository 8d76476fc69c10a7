#!/bin/bash
# Fails when the stripped aarch64 all-features release binary is over the size budget written
# in docs/boards.md ("Size budget: aarch64, all features, stripped: N bytes"). Prints both numbers.
# Usage: board/size-check.sh        (after board/build.sh --release aarch64-unknown-linux-gnu)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/cross/aarch64-unknown-linux-gnu/release/boardnet
budget=$(sed -n 's/^Size budget: aarch64, all features, stripped: \([0-9,]*\) bytes.*/\1/p' "$root/docs/boards.md" | tr -d ,)
[ -n "$budget" ] || { echo "size-check: no 'Size budget: ...' line in docs/boards.md" >&2; exit 2; }
[ -f "$bin" ] || { echo "size-check: build it first: board/build.sh --release aarch64-unknown-linux-gnu" >&2; exit 2; }
size=$(stat -c %s "$bin")
echo "size-check: aarch64 all features: $size bytes, budget $budget bytes"
[ "$size" -le "$budget" ] || { echo "size-check: over budget by $((size - budget)) bytes" >&2; exit 1; }
