#!/bin/bash
# Prepares a full-system ARM guest for board/qemu-arm/run.sh (run as root, Debian 12 amd64):
# qemu-system-arm (both qemu-system-aarch64 and qemu-system-arm), kmod, cpio on the host, and
# for ARCH (aarch64 or armv7) Debian's own kernel (linux-image-<ver>-arm64 / -armmp, whatever
# linux-image-arm64 / linux-image-armmp depends on) and busybox-static for that architecture,
# fetched with `apt-get download` through board/setup-cross.sh's private arm64/armhf indexes
# and extracted with a modules.dep.
# Usage: board/qemu-arm/setup.sh aarch64|armv7      (prints "KVER CACHE_DIR")
# Cache: /var/cache/boardnet-qemu-ARCH ($BOARDNET_QEMU_ARM_CACHE overrides the prefix); a
# second run takes well under a second.
set -eu
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "$0")" && pwd)
arch=${1:-}
case $arch in
  aarch64) deb=arm64 meta=linux-image-arm64 ;;
  armv7) deb=armhf meta=linux-image-armmp ;;
  *) echo "usage: $0 aarch64|armv7" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "qemu-arm setup: must run as root" >&2; exit 1; }
CACHE=${BOARDNET_QEMU_ARM_CACHE:-/var/cache/boardnet-qemu}-$arch
LOG=$CACHE/setup.log
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 900 9
: > "$LOG"
fail() { echo "qemu-arm setup ($arch): $1; last lines of $LOG:" >&2; tail -n 20 "$LOG" >&2; exit 1; }

APT=(-q -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Dpkg::Use-Pty=0)
need=()
command -v qemu-system-aarch64 >/dev/null && command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
command -v depmod >/dev/null || need+=(kmod)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
  { apt-get "${APT[@]}" update && apt-get "${APT[@]}" install -y --no-install-recommends "${need[@]}"; } >> "$LOG" 2>&1 ||
    fail "apt-get install ${need[*]} failed"
fi

# The foreign package indexes live in board/setup-cross.sh's private apt state.
"$here/../setup-cross.sh" >> "$LOG" 2>&1 || fail "board/setup-cross.sh failed"
STATE=/var/lib/boardnet-cross
FAPT=("${APT[@]}" -o "Dir::State::Lists=$STATE/lists" -o "Dir::Cache=$STATE/cache"
      -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o APT::Architectures::=armhf
      -o Acquire::Languages=none -o APT::Sandbox::User=root)
kpkg=$(apt-cache "${FAPT[@]}" depends "$meta:$deb" 2>>"$LOG" | awk '/Depends: linux-image-/{print $2; exit}')
kpkg=${kpkg%:"$deb"}
[ -n "$kpkg" ] || fail "no kernel package behind $meta:$deb"
kver=${kpkg#linux-image-}
if [ ! -f "$CACHE/ready-$kver" ]; then
  rm -rf "$CACHE/k" "$CACHE/bb" "$CACHE"/*.deb "$CACHE"/ready-*
  (cd "$CACHE" && apt-get "${FAPT[@]}" download "$kpkg:$deb" "busybox-static:$deb") >> "$LOG" 2>&1 ||
    fail "apt-get download $kpkg busybox-static failed"
  dpkg -x "$CACHE"/linux-image-*_"$deb".deb "$CACHE/k"
  dpkg -x "$CACHE"/busybox-static_*_"$deb".deb "$CACHE/bb"
  depmod -b "$CACHE/k" "$kver" >> "$LOG" 2>&1 || fail "depmod failed"
  rm -f "$CACHE"/*.deb
  touch "$CACHE/ready-$kver"
fi
echo "$kver $CACHE"
