#!/bin/busybox sh
# shellcheck shell=sh
# /init of the boardnet x86_64 test guest (board/qemu-x64; adapted from shared/recipes/init-x64.sh).
# The guest's root is the HOST's root, shared read-only over 9p (tag "hostroot") with a tmpfs
# overlay on top, so host-built binaries and host tools run unchanged, writes stay in guest RAM,
# and nothing here can change the host's files. The only writable host path is the job share
# (tag "jobdir", mounted at /job): /job/run.sh is run there as root with stdin /dev/null,
# stdout -> /job/stdout, stderr -> /job/stderr, and its exit code is written to /job/rc.
# No rc file means the job never ran (board/qemu-x64/run.sh then shows this console log).
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
say() { echo "boardnet-guest: $* (uptime $(cut -d' ' -f1 /proc/uptime)s)"; }
stop() { sync; poweroff -f; sleep 5; }  # sleep: poweroff -f returns before the VM is gone
say "init reached"

# KROOT: the host directory holding the extracted kernel package (written by setup.sh).
KROOT=
# shellcheck disable=SC1091  # built into the initramfs by setup.sh
. /etc/boardnet-guest.conf
KV=$(uname -r)
# Modules (dependencies first, from mkinitrd.sh): virtio/9p/overlay to reach the root, SCTP, and
# in group "wifi" mac80211_hwsim (2 radios) + the crypto WPA2 needs. The kernel hands unknown
# command line parameters to /init as environment: run.sh --no-wifi passes boardnet_wifi=0 to
# skip that group (cfg80211 + mac80211 take half a second under TCG).
while read -r m group; do
  [ "$group" != wifi ] || [ "${boardnet_wifi:-1}" != 0 ] || continue
  insmod "/lib/modules/$KV/$m" || echo "boardnet-guest: insmod FAILED $m"
done </load.order
ip link set lo up

# The 9p transport of this kernel carries at most 512000 bytes per message; asking for more
# only logs "Limiting 'msize'". cache=loose: the lower layer never changes under us (read-only).
P9="trans=virtio,version=9p2000.L,msize=512000"
if ! mount -t 9p -o "$P9,cache=loose,ro" hostroot /lower; then
  say "FATAL: cannot mount the host root (9p tag hostroot)"; stop
fi
mount -t tmpfs -o mode=0755 tmpfs /ovl && mkdir -p /ovl/upper /ovl/work
if ! mount -t overlay overlay -o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work /newroot; then
  say "FATAL: overlay mount failed"; stop
fi
N=/newroot
# The host's /proc, /sys, /dev and /run show through the 9p share: cover them with the guest's
# own (/run fresh and empty, like on a booted machine: no stale pid files or sockets of the host).
# /tmp stays the host's /tmp seen through the overlay, so files a test prepared there (a compiled
# helper, configs in its work dir) are there in the guest too; what the guest writes to /tmp
# lands in the tmpfs upper layer like every other write, and vanishes at poweroff.
mount -t proc proc $N/proc
mount -t sysfs sys $N/sys
mount -t devtmpfs dev $N/dev
mkdir -p $N/dev/pts $N/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts $N/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $N/dev/shm
# devtmpfs has no /dev/fd: bash process substitution and /dev/stdout need them.
ln -sfn /proc/self/fd $N/dev/fd
ln -sfn /proc/self/fd/0 $N/dev/stdin
ln -sfn /proc/self/fd/1 $N/dev/stdout
ln -sfn /proc/self/fd/2 $N/dev/stderr
mount -t tmpfs -o mode=0755 tmpfs $N/run && mkdir -p $N/run/lock
# The guest kernel's modules for modprobe (the host's /lib/modules has none for this kernel):
# bind the extracted package from the host root, read-only like the rest of it.
if [ -n "$KROOT" ] && [ -d "$N$KROOT/lib/modules/$KV" ]; then
  mkdir -p "$N/lib/modules/$KV"
  M=$(readlink -f "$N/lib/modules/$KV")  # /lib -> usr/lib: remount wants the path /proc/mounts shows
  mount -o bind "$N$KROOT/lib/modules/$KV" "$M" && mount -o remount,bind,ro "$M"
fi

rc=none
if grep -qx jobdir /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag 2>/dev/null; then
  # cache=none (the default): every write reaches the host at once, so a job killed by the
  # runner's timeout still leaves the output it had written.
  mkdir -p $N/job
  mount -t 9p -o "$P9" jobdir $N/job || say "cannot mount the job share"
fi
say "rootfs ready"
if [ -f $N/job/run.sh ]; then
  chroot $N /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root /bin/sh -c 'cd /job && exec </dev/null >/job/stdout 2>/job/stderr &&
      if [ -x run.sh ]; then exec ./run.sh; else exec /bin/sh ./run.sh; fi'
  rc=$?
  echo "$rc" >$N/job/rc
else
  say "no job (/job/run.sh missing)"
fi
say "done rc=$rc"
stop
