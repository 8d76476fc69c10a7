#!/bin/bash
# Prepares the x86_64 QEMU test guest used by board/qemu-x64/run.sh (run as root, Debian 12 amd64):
#   qemu-system-x86 + kmod + cpio + busybox-static, Debian's current amd64 kernel package (the
#   linux-image-<ver>-amd64 that linux-image-amd64 depends on) extracted with a modules.dep, and an
#   initramfs (mkinitrd.sh + init.sh) holding the modules for 9p/overlay, SCTP and mac80211_hwsim,
#   and the uncompressed vmlinux for a fast PVH boot.
# Why a guest: the host kernel lacks SCTP and all wireless; Debian's kernel has them as modules.
# Also wireless-regdb (the regulatory database cfg80211 loads in the guest).
# Cache: $BOARDNET_QEMU_X64_CACHE, default /var/cache/boardnet-qemu-x64 -- outside the git tree,
# kept across `cargo clean` and fresh CI clones, shared by every checkout on the machine.
# Idempotent and quiet: when everything is current it takes well under a second. Says on stderr
# what it installs or downloads before it does (packages; the kernel package, ~100 MB, once per
# kernel version); prints one line (kernel version, cache path) on stdout; on failure the tail of
# the log.
# BOARDNET_QEMU_X64_REFRESH=1 runs `apt-get update` first (to pick up a newer kernel).
set -eu
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${BOARDNET_QEMU_X64_CACHE:-/var/cache/boardnet-qemu-x64}
LOG=$CACHE/setup.log
# Wait for an apt/dpkg lock held by someone else (another test, tests/setup.sh) instead of failing.
APT=(-q -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Dpkg::Use-Pty=0)
BUSYBOX=/bin/busybox  # from busybox-static: the initramfs has no libc
# Modules in the initramfs, loaded at every boot (each with its dependencies, from modules.dep).
#  - reaching the root: virtio PCI transport, 9p over virtio, overlayfs.
#  - SCTP: libcrc32c wants a "crc32c" implementation (only a softdep): crc32c_generic, loaded first.
#  - group wifi (run.sh --no-wifi skips it): mac80211_hwsim (creates wlan0/wlan1 at load) and the
#    crypto WPA2/CCMP needs.
# Anything else is available through `modprobe` inside the guest (init.sh binds the full tree).
MODULES="virtio_pci 9pnet_virtio 9p overlay
  crc32c_generic libcrc32c udp_tunnel ip6_udp_tunnel sctp
  @wifi rfkill cfg80211 libarc4 mac80211 ctr ccm gcm cmac ghash-generic seqiv mac80211_hwsim"

say() { echo "qemu-x64 setup: $*"; }
die() { say "ERROR: $*" >&2; exit 1; }
announce() { say "$*" >&2; }
step=start
on_exit() {
  rc=$?
  if [ "$rc" != 0 ] && [ -f "$LOG" ]; then
    say "FAILED during: $step (exit $rc); last lines of $LOG:" >&2
    tail -n 25 "$LOG" | sed 's/^/  | /' >&2
  fi
}
trap on_exit EXIT

[ "$(id -u)" = 0 ] || die "must run as root (apt-get install, and the cache in $CACHE)"
mkdir -p "$CACHE"
# Tests run in parallel and each may call this: one setup at a time, the others wait and then
# find everything done.
exec 9>"$CACHE/.setup.lock"
flock -w 900 9 || die "timed out waiting for $CACHE/.setup.lock"
: >"$LOG"

# wireless-regdb: cfg80211 loads /lib/firmware/regulatory.db when it starts (else it logs a
# failure and knows only the world domain); it goes into the initramfs below.
PKGS="qemu-system-x86 kmod cpio busybox-static wireless-regdb"
REGDB=/lib/firmware/regulatory.db
step="installing $PKGS"
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v depmod >/dev/null ||
   ! command -v cpio >/dev/null || ! [ -x "$BUSYBOX" ] || ! [ -f "$REGDB.p7s" ]; then
  announce "installing $PKGS (apt-get; log: $LOG)"
  # shellcheck disable=SC2086  # $PKGS is a list of names
  apt-get "${APT[@]}" install -y --no-install-recommends $PKGS >>"$LOG" 2>&1 || {
    apt-get "${APT[@]}" update >>"$LOG" 2>&1 || true
    # shellcheck disable=SC2086
    apt-get "${APT[@]}" install -y --no-install-recommends $PKGS >>"$LOG" 2>&1; }
  say "installed $PKGS"
fi

# Which kernel is current: linux-image-amd64 -> Depends: linux-image-6.1.0-NN-amd64.
# apt-cache needs 0.7 s here (Debian's docker config disables apt's binary cache), so the answer
# is remembered together with a signature of the package lists and only asked again when
# `apt-get update` changed them.
lists_sig() { stat -c '%n %s %Y' /var/lib/apt/lists/*_Packages* 2>/dev/null | md5sum | cut -c1-32; }
resolve_kpkg() {
  apt-cache "${APT[@]}" depends linux-image-amd64 2>>"$LOG" |
    awk '/Depends: linux-image-[0-9].*-amd64$/ {print $2; exit}'
}
step="finding the current kernel package"
[ "${BOARDNET_QEMU_X64_REFRESH:-0}" != 1 ] || apt-get "${APT[@]}" update >>"$LOG" 2>&1 || true
sig=$(lists_sig)
KPKG=""
if [ -f "$CACHE/kpkg" ] && [ "$(cat "$CACHE/lists.sig" 2>/dev/null)" = "$sig" ]; then
  KPKG=$(cat "$CACHE/kpkg")
else
  KPKG=$(resolve_kpkg)
  if [ -z "$KPKG" ]; then  # a fresh machine: no package lists yet
    apt-get "${APT[@]}" update >>"$LOG" 2>&1 || true
    sig=$(lists_sig)
    KPKG=$(resolve_kpkg)
  fi
  if [ -z "$KPKG" ] && [ -f "$CACHE/kpkg" ]; then
    KPKG=$(cat "$CACHE/kpkg")
    say "WARNING: apt-cache cannot resolve linux-image-amd64; using the cached $KPKG" >&2
  fi
  [ -n "$KPKG" ] || die "apt-cache depends linux-image-amd64 names no linux-image-*-amd64"
  echo "$KPKG" >"$CACHE/kpkg"
  echo "$sig" >"$CACHE/lists.sig"
fi
KVER=${KPKG#linux-image-}
KDIR=$CACHE/$KVER

step="downloading and extracting $KPKG"
if [ ! -f "$KDIR/.complete" ]; then
  t0=$SECONDS
  announce "downloading Debian's kernel package $KPKG (about 100 MB, once) into $CACHE"
  rm -rf "$KDIR" "$KDIR.tmp"
  mkdir -p "$KDIR.tmp"
  (cd "$KDIR.tmp" && apt-get "${APT[@]}" -o APT::Sandbox::User=root download "$KPKG") >>"$LOG" 2>&1 || {
    apt-get "${APT[@]}" update >>"$LOG" 2>&1 || true
    (cd "$KDIR.tmp" && apt-get "${APT[@]}" -o APT::Sandbox::User=root download "$KPKG") >>"$LOG" 2>&1; }
  deb=$(echo "$KDIR.tmp"/linux-image-*.deb)
  dpkg-deb -f "$deb" Version >"$KDIR.tmp/package.version"
  dpkg-deb -x "$deb" "$KDIR.tmp"
  rm -f "$deb"
  [ -f "$KDIR.tmp/boot/vmlinuz-$KVER" ] || die "$KPKG has no boot/vmlinuz-$KVER"
  step="depmod $KVER"
  depmod -b "$KDIR.tmp" "$KVER" >>"$LOG" 2>&1  # Debian's .deb ships no modules.dep
  touch "$KDIR.tmp/.complete"
  mv "$KDIR.tmp" "$KDIR"
  say "$KPKG $(cat "$KDIR/package.version") extracted to $KDIR ($((SECONDS - t0)) s)"
fi

step="extracting vmlinux for PVH boot"
# QEMU boots an uncompressed ELF vmlinux through its PVH entry point, skipping the real-mode setup
# and, above all, the guest decompressing the xz bzImage: under TCG that alone took 3 s of a 7 s run.
# No usable xz/zstd stream or no PVH note (ELF note type 0x12) -> boot the bzImage as it is.
if [ ! -e "$KDIR/kernel" ]; then
  kernel=boot/vmlinuz-$KVER
  for fmt in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd'; do
    off=$(LC_ALL=C grep -obUaP "${fmt#*:}" "$KDIR/$kernel" | head -n 1 | cut -d: -f1)
    [ -n "$off" ] || continue
    case ${fmt%%:*} in
      xz) tail -c +$((off + 1)) "$KDIR/$kernel" | xz -dc --single-stream >"$KDIR/vmlinux.tmp" 2>>"$LOG" || true ;;
      zstd) tail -c +$((off + 1)) "$KDIR/$kernel" | zstd -qdc >"$KDIR/vmlinux.tmp" 2>>"$LOG" || true ;;
    esac
    if readelf -n "$KDIR/vmlinux.tmp" 2>/dev/null | grep -q 'Unknown note type: (0x00000012)'; then
      mv "$KDIR/vmlinux.tmp" "$KDIR/vmlinux" && kernel=vmlinux
      break
    fi
  done
  rm -f "$KDIR/vmlinux.tmp"
  ln -sfn "$kernel" "$KDIR/kernel"
fi

step="building the initramfs"
# Rebuilt whenever its inputs change: init.sh, mkinitrd.sh, the module list, busybox, the path.
stamp=$( { cat "$here/init.sh" "$here/mkinitrd.sh" "$REGDB" "$REGDB.p7s"; echo "$MODULES $KDIR"
  md5sum <"$BUSYBOX"; } | md5sum | cut -c1-32)
if [ "$(cat "$KDIR/initrd.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -f "$KDIR/initrd.cpio" ]; then
  conf=$(mktemp)
  echo "KROOT=$KDIR" >"$conf"
  # shellcheck disable=SC2086  # $MODULES is a list of names
  "$here/mkinitrd.sh" -f "$conf:etc/boardnet-guest.conf" -f "$REGDB:lib/firmware/regulatory.db" \
    -f "$REGDB.p7s:lib/firmware/regulatory.db.p7s" "$KDIR/initrd.cpio.tmp" "$KDIR" "$KVER" \
    "$BUSYBOX" "$here/init.sh" $MODULES >>"$LOG" 2>&1 || { rm -f "$conf"; false; }
  rm -f "$conf"
  mv "$KDIR/initrd.cpio.tmp" "$KDIR/initrd.cpio"
  echo "$stamp" >"$KDIR/initrd.stamp"
fi

# run.sh boots $CACHE/current/{kernel,initrd.cpio}.
step="switching $CACHE/current"
if [ "$(readlink "$CACHE/current" 2>/dev/null)" != "$KVER" ]; then
  ln -sfn "$KVER" "$CACHE/current.tmp" && mv -T "$CACHE/current.tmp" "$CACHE/current"
fi
# Older kernels go, but not while a guest booted from one may still be running (run.sh holds a
# shared lock on .inuse for the VM's lifetime).
if exec 8>"$CACHE/.inuse" && flock -n 8; then
  for d in "$CACHE"/*/; do
    d=${d%/}
    case ${d##*/} in "$KVER") ;; *-amd64|*-amd64.tmp) rm -rf "$d" ;; esac
  done
  exec 8>&-
fi

step=finished
say "kernel $KVER ($KPKG $(cat "$KDIR/package.version"), boots $(readlink "$KDIR/kernel")), cache $KDIR"
