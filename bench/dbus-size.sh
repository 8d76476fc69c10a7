#!/bin/bash
# What a D-Bus client layer costs in the aarch64 binary, measured rather than guessed: the same
# small program (connect to the system bus, call net.connman.Manager.GetServices and read the
# reply as dynamic values, AddMatch, read one signal) built with each candidate, against a
# baseline that only opens a Unix socket. Same release profile as boardnet (opt-level z, LTO,
# one codegen unit, panic=abort, stripped), Debian's Rust 1.85 for aarch64 (board/setup-cross.sh).
#
#   bench/dbus-size.sh
#
# Prints each program's size and what it adds to the baseline: libdbus through the `dbus`
# crate (vendored, today's layer), rustbus (pure Rust, blocking), and boardnet's own codec
# (`boardnet::dbus`). The candidates' sources are
# bench/dbus-size/*.rs; each is built as its own crate in a temporary directory.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
BOARDNET_ROOT=$root
# shellcheck source=board/env.sh
. "$root/board/env.sh"
W=$(mktemp -d /tmp/boardnet-dbus-size.XXXXXX)
trap 'rm -rf "$W"' EXIT
declare -A deps=(
  [base]=""
  [libdbus]='dbus = { version = "0.9.12", default-features = false, features = ["vendored"] }'
  [rustbus]='rustbus = "0.19.3"'
  [own]="boardnet = { path = \"$root\", default-features = false }"
)
target=aarch64-unknown-linux-gnu
size_of() {
  local name=$1
  mkdir -p "$W/$name/src"
  cp "$root/bench/dbus-size/$name.rs" "$W/$name/src/main.rs"
  cat > "$W/$name/Cargo.toml" <<T
[package]
name = "$name"
version = "0.1.0"
edition = "2021"

[workspace]

[dependencies]
${deps[$name]}

[profile.release]
opt-level = "z"
lto = true
codegen-units = 1
panic = "abort"
strip = true
T
  (cd "$W/$name" && CARGO_TARGET_DIR="$W/target" "$CARGO" build -q --release --target "$target")
  # Code and data as the sections hold them: the file's size moves in 64 KiB steps (the
  # aarch64 linker pads segments to its page size), too coarse to compare.
  aarch64-linux-gnu-size "$W/target/$target/release/$name" | awk 'NR == 2 {print $1 + $2}'
}
base=$(size_of base)
printf '   %-34s %9s bytes of text+data\n' "baseline (a Unix socket, println)" "$base"
for name in libdbus rustbus own; do
  size=$(size_of "$name")
  printf '   %-34s %9s bytes   +%s bytes (%s KiB)\n' "$name" "$size" "$((size - base))" "$(((size - base) / 1024))"
done
