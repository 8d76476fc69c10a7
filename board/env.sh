# shellcheck shell=bash
# Sourced by board/*.sh (bash): selects Debian's Rust 1.85 (our MSRV; the only Rust here with ARM
# std, installed by board/setup-cross.sh) instead of rustup's, and wires up the GNU cross
# linkers/C compilers (ring's build script compiles C and assembly) and the qemu-user runners.
# Set BOARDNET_ROOT before sourcing from a shell that is not bash.

if [ -z "${BOARDNET_ROOT:-}" ]; then
  BOARDNET_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fi
export BOARDNET_ROOT

# Absolute paths: rustup's proxies in ~/.cargo/bin usually come first in PATH.
export RUSTC=/usr/bin/rustc
export CARGO=/usr/bin/cargo
export RUSTDOC=/usr/bin/rustdoc
# A target dir of its own: never waits on (or invalidates) the host toolchain's build in target/.
export CARGO_TARGET_DIR="$BOARDNET_ROOT/target/cross"
# A rustup-only wrapper (sccache etc.) or a toolchain override must not leak into Debian's cargo.
unset RUSTC_WRAPPER RUSTUP_TOOLCHAIN

# aarch64 (arm64 boards): gcc-aarch64-linux-gnu + libc6-dev-arm64-cross.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
# -L: qemu-user finds the ARM dynamic loader and libc in the cross libc's sysroot.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu"

# armv7 hard-float (armhf boards): gcc-arm-linux-gnueabihf + libc6-dev-armhf-cross.
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc
export AR_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-ar
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER="qemu-arm-static -L /usr/arm-linux-gnueabihf"
