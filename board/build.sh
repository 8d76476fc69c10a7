#!/bin/bash
# Cross-builds boardnet for ARM boards with Debian's Rust 1.85 (our MSRV) into target/cross/,
# then prints each binary's path and stripped size. Needs board/setup-cross.sh to have run.
# Usage: board/build.sh [--release] [--features F | --no-default-features | --all-features] [TARGET...]
#   TARGET defaults to: aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf
set -eu

usage() {  # help on stdout; on a usage error, on stderr with exit 2
  if [ "${1:-0}" = 0 ]; then sed -n '2,5s/^# \{0,1\}//p' "$0"; else sed -n '2,5s/^# \{0,1\}//p' "$0" >&2; fi
  exit "${1:-0}"
}
root=$(cd "$(dirname "$0")/.." && pwd)
BOARDNET_ROOT=$root
# shellcheck source=board/env.sh
. "$root/board/env.sh"

args=()
targets=()
profile=debug
while [ $# -gt 0 ]; do
  case $1 in
    --release) args+=(--release); profile=release ;;
    --features) [ $# -ge 2 ] || usage 2; args+=(--features "$2"); shift ;;
    --features=*|--no-default-features|--all-features) args+=("$1") ;;
    -h|--help) usage ;;
    -*) echo "build.sh: unknown option $1" >&2; usage 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)

if [ ! -x "$CARGO" ] || [ ! -x "$RUSTC" ]; then
  echo "build.sh: $CARGO or $RUSTC missing: run board/setup-cross.sh" >&2
  exit 1
fi

gnu_prefix() {  # binutils prefix for a target, used to measure the stripped size
  case $1 in
    aarch64-unknown-linux-gnu) echo aarch64-linux-gnu- ;;
    armv7-unknown-linux-gnueabihf) echo arm-linux-gnueabihf- ;;
    *) echo "" ;;  # host target: plain strip
  esac
}

cd "$root"
out=$(mktemp)
trap 'rm -f "$out" "$out.strip"' EXIT
for t in "${targets[@]}"; do
  sysroot_lib="$("$RUSTC" --print sysroot)/lib/rustlib/$t/lib"
  [ -d "$sysroot_lib" ] || { echo "build.sh: no Rust std for $t in $sysroot_lib: run board/setup-cross.sh" >&2; exit 1; }
  t0=$SECONDS
  # --locked: build exactly Cargo.lock (written by the host cargo; lockfile v4 reads fine in 1.85).
  # JSON on stdout tells us where the binaries went; diagnostics still render on stderr.
  "$CARGO" build --locked --target "$t" "${args[@]}" --message-format=json-render-diagnostics >"$out"
  secs=$((SECONDS - t0))
  bins=$(grep '"kind":\["bin"\]' "$out" | grep -o '"executable":"[^"]*"' | sed 's/^"executable":"//; s/"$//' | sort -u)
  [ -n "$bins" ] || { echo "build.sh: cargo reported no binary for $t" >&2; exit 1; }
  for b in $bins; do
    # The release profile strips already; strip a copy anyway so debug builds report a comparable size.
    "$(gnu_prefix "$t")strip" -o "$out.strip" "$b"
    echo "$t $profile: $b  $(stat -c %s "$out.strip") bytes stripped ($(stat -c %s "$b") on disk, built in ${secs} s)"
  done
done
