#!/bin/bash
# Installs the Docker-free ARM cross toolchain (run as root, Debian 12 amd64 host):
#   Debian's rustc-web/cargo-web (Rust 1.85 = our MSRV) for the host, the Rust std of the same
#   version for arm64 (aarch64-unknown-linux-gnu) and armhf (armv7-unknown-linux-gnueabihf),
#   the GNU cross compilers + libc, and qemu-user-static to run the ARM binaries.
# Idempotent: when everything is already in place it only runs a smoke check (about a second).
# BOARDNET_CROSS_REFRESH=1 forces a fresh look at the archive (e.g. to pick up a newer rustc-web).
# One line per step on stdout; command output goes to $LOG and its tail is shown on failure.
set -eu
export LC_ALL=C  # stable sort/comm order for the version lists

export DEBIAN_FRONTEND=noninteractive
LOG=${BOARDNET_CROSS_LOG:-${TMPDIR:-/tmp}/boardnet-setup-cross.log}
# Private apt state holding only the arm64/armhf indexes. We deliberately do NOT
# `dpkg --add-architecture`: that would make every later `apt-get update` on the machine fetch
# the foreign indexes too, and on this mirror bookworm-security's armhf index is inconsistent
# ("File has unexpected size"), which turns every plain `apt-get update` into exit 100.
STATE=/var/lib/boardnet-cross
FOREIGN_ARCHES="arm64 armhf"
# Wait for a dpkg/apt lock held by someone else instead of failing at once; retry flaky fetches.
APT=(-q -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Dpkg::Use-Pty=0)
FAPT=("${APT[@]}" -o "Dir::State::Lists=$STATE/lists" -o "Dir::Cache=$STATE/cache"
      -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o APT::Architectures::=armhf
      -o Acquire::Languages=none -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
      -o APT::Sandbox::User=root)

say() { echo "setup-cross: $*"; }
die() { say "ERROR: $*"; exit 1; }
step=start
on_exit() {
  rc=$?
  if [ "$rc" != 0 ]; then
    say "FAILED during: $step (exit $rc); last lines of $LOG:"
    tail -n 25 "$LOG" | sed 's/^/  | /'
  fi
}
trap on_exit EXIT

[ "$(id -u)" = 0 ] || die "must run as root (apt-get install)"
command -v apt-get >/dev/null || die "needs Debian's apt"
: >"$LOG"

triple_of() {  # Debian arch -> Rust target triple whose std the libstd-rust-web-dev package ships
  case $1 in
    arm64) echo aarch64-unknown-linux-gnu ;;
    armhf) echo armv7-unknown-linux-gnueabihf ;;
    *) die "unknown arch $1" ;;
  esac
}
installed_version() {  # prints the installed version of a package, nothing if not installed
  dpkg-query -W -f='${db:Status-Abbrev}|${Version}\n' "$1" 2>/dev/null | sed -n 's/^ii *|//p'
}
std_stamp() { echo "/usr/lib/rustlib/$(triple_of "$1")/boardnet-std.version"; }
stamp_version() { cat "$(std_stamp "$1")" 2>/dev/null || true; }
runtime_pkg() {  # "libstd-rust-web-1.85" for 1.85.0+dfsg3-1~deb12u3
  echo "libstd-rust-web-$(echo "$1" | sed -E 's/^([0-9]+\.[0-9]+)\..*/\1/')"
}

# Packages for the host. Versions of the four Rust packages are pinned to $V below;
# the libc6-dev-*-cross packages are only Recommends of the cross gcc, so named explicitly.
TOOLS="gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross qemu-user-static"
rust_pkgs() { echo "rustc-web=$1 cargo-web=$1 libstd-rust-web-dev=$1 $(runtime_pkg "$1")=$1"; }

all_done() {  # true when the installed rustc-web and both extracted ARM stds agree and tools exist
  local v p
  v=$(installed_version rustc-web)
  [ -n "$v" ] || return 1
  for p in cargo-web libstd-rust-web-dev "$(runtime_pkg "$v")"; do
    [ "$(installed_version "$p")" = "$v" ] || return 1
  done
  for p in $TOOLS; do [ -n "$(installed_version "$p")" ] || return 1; done
  for p in $FOREIGN_ARCHES; do [ "$(stamp_version "$p")" = "$v" ] || return 1; done
  echo "$v"
}

smoke_check() {  # compile + link + run a trivial program per target: proves std, linker and qemu fit
  local d t out
  step="smoke check"
  d=$(mktemp -d)
  echo 'fn main() { println!("ok {}", std::env::consts::ARCH); }' >"$d/m.rs"
  out=""
  for t in aarch64-unknown-linux-gnu:aarch64-linux-gnu:qemu-aarch64-static \
           armv7-unknown-linux-gnueabihf:arm-linux-gnueabihf:qemu-arm-static; do
    set -- "${t%%:*}" "$(echo "$t" | cut -d: -f2)" "${t##*:}"
    /usr/bin/rustc --edition 2021 --target "$1" -C "linker=$2-gcc" -o "$d/m-$1" "$d/m.rs" >>"$LOG" 2>&1
    out="$out $("$3" -L "/usr/$2" "$d/m-$1")"
  done
  rm -rf "$d"
  say "check: $(/usr/bin/rustc --version) builds and runs:$out"
}

if [ "${BOARDNET_CROSS_REFRESH:-0}" != 1 ] && V=$(all_done); then
  say "already installed: rustc-web $V, arm64+armhf std, cross gcc, qemu-user-static"
  smoke_check
  exit 0
fi

failed_indexes() {  # names the indexes apt could not fetch, from the log lines after line ${1:-0}
  tail -n +"$((${1:-0} + 1))" "$LOG" | sed -n 's/^Err:[0-9]* [^ ]* //p' | sort -u | paste -sd, -
}

t0=$SECONDS
mark=$(wc -l <"$LOG")
step="apt-get update (host)"
# Tolerate a partial failure (a mirror mid-sync); a missing package fails loudly below.
if apt-get "${APT[@]}" update >>"$LOG" 2>&1; then
  say "apt-get update (host): ok ($((SECONDS - t0)) s)"
else
  say "apt-get update (host): WARNING $(failed_indexes "$mark") failed, using what was fetched"
fi

t0=$SECONDS
step="apt-get update (arm64+armhf, private state $STATE)"
mkdir -p "$STATE/lists/partial" "$STATE/cache/archives/partial"
mark=$(wc -l <"$LOG")
if apt-get "${FAPT[@]}" update >>"$LOG" 2>&1; then
  say "apt-get update (arm64+armhf indexes in $STATE): ok ($((SECONDS - t0)) s)"
else
  # Seen on 2026-11-24: bookworm-security armhf Packages.xz had the wrong size; apt then drops
  # that suite for this state, so only versions in bookworm main are offered for ARM. That is fine:
  # we need the version that exists on all three arches anyway.
  say "apt-get update (arm64+armhf indexes): WARNING $(failed_indexes "$mark") failed, using the rest ($((SECONDS - t0)) s)"
fi

step="picking the rustc-web version"
versions() { "$@" 2>>"$LOG" | awk -F'|' '{gsub(/ /, "", $2); print $2}' | sort -u; }
host_v=$(versions apt-cache "${APT[@]}" madison rustc-web)
[ -n "$host_v" ] || die "apt-cache madison rustc-web found nothing"
common=$host_v
for src in "cargo-web" "libstd-rust-web-dev" "FOREIGN:libstd-rust-web-dev:arm64" "FOREIGN:libstd-rust-web-dev:armhf"; do
  case $src in
    FOREIGN:*) vs=$(versions apt-cache "${FAPT[@]}" madison "${src#FOREIGN:}") ;;
    *) vs=$(versions apt-cache "${APT[@]}" madison "$src") ;;
  esac
  common=$(comm -12 <(echo "$common") <(echo "$vs"))
done
V=""
for v in $common; do
  if [ -z "$V" ] || dpkg --compare-versions "$v" gt "$V"; then V=$v; fi
done
[ -n "$V" ] || die "no rustc-web version exists for amd64, arm64 and armhf (amd64 has: $(echo "$host_v" | paste -sd' '))"
skipped=$(comm -23 <(echo "$host_v") <(echo "$common") | paste -sd' ')
say "rustc-web version: $V (newest on amd64, arm64 and armhf${skipped:+; skipped amd64-only: $skipped})"

step="apt-get install"
t0=$SECONDS
missing=""
for p in $(rust_pkgs "$V"); do
  [ "$(installed_version "${p%%=*}")" = "$V" ] || missing="$missing $p"
done
for p in $TOOLS; do [ -n "$(installed_version "$p")" ] || missing="$missing $p"; done
if [ -n "$missing" ]; then
  # --allow-downgrades: if someone installed the newer amd64-only rustc-web, go back to $V,
  # the only version whose ARM std exists.
  # shellcheck disable=SC2086  # $missing is a list of package names
  apt-get "${APT[@]}" install -y --no-install-recommends --allow-downgrades $missing >>"$LOG" 2>&1
  say "apt-get install:$missing ($((SECONDS - t0)) s)"
else
  say "apt-get install: rustc-web $V and cross tools already installed"
fi

# The ARM std: `apt-get install libstd-rust-web-dev:arm64` would need multiarch and pulls
# libstd-rust-web-1.85:arm64 -> libllvm19:arm64 -> libxml2:arm64, which conflicts with the
# amd64 libxml2. Only the rlibs under usr/lib/rustlib/<triple>/ are needed to cross-compile
# (libstd-rust-web-1.85 holds just librustc_driver.so, the compiler for an ARM host), so
# download the -dev .deb and copy that one directory. It is not tracked by dpkg; the stamp file
# records the version, and an older copy is removed first (two std versions side by side make
# rustc fail with "multiple candidates for rlib dependency `std`").
for arch in $FOREIGN_ARCHES; do
  triple=$(triple_of "$arch")
  step="$arch std"
  t0=$SECONDS
  if [ "$(stamp_version "$arch")" = "$V" ]; then
    say "$arch std ($triple): $V already in /usr/lib/rustlib"
    continue
  fi
  owner=$(installed_version "libstd-rust-web-dev:$arch")  # a proper multiarch install: leave it alone
  [ -z "$owner" ] || die "libstd-rust-web-dev:$arch $owner is installed by dpkg; remove it (apt-get purge libstd-rust-web-dev:$arch) and rerun"
  d=$(mktemp -d)
  (cd "$d" && apt-get "${FAPT[@]}" download "libstd-rust-web-dev:$arch=$V") >>"$LOG" 2>&1
  dpkg-deb -x "$d"/libstd-rust-web-dev_*.deb "$d/root"
  [ -d "$d/root/usr/lib/rustlib/$triple/lib" ] || die "libstd-rust-web-dev:$arch has no usr/lib/rustlib/$triple"
  rm -rf "/usr/lib/rustlib/$triple"
  cp -a "$d/root/usr/lib/rustlib/$triple" /usr/lib/rustlib/
  echo "$V" >"$(std_stamp "$arch")"
  rm -rf "$d"
  say "$arch std ($triple): $V extracted to /usr/lib/rustlib/$triple ($((SECONDS - t0)) s)"
done
# The downloaded .debs are not needed again.
rm -rf "$STATE/cache/archives"/*.deb

smoke_check
