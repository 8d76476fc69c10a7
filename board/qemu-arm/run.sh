#!/bin/bash
# Boots the test board: Debian's ARM kernel in qemu-system-{aarch64,arm} -M virt with an
# initramfs holding busybox-static, the cross-built boardnet, the board's init scripts
# (board/rootfs) and the modules for virtio networking, SCTP and mac80211_hwsim. BusyBox init
# runs rcS (network, then /etc/init.d/S40boardnet: wait-online), then the in-guest checks
# (guest/guest-test.sh) against peers this script starts on the host's 127.0.0.1 (the guest
# reaches them as 10.0.2.2 through QEMU's user-mode network): a web server with a payload
# and nsd with a one-name zone.
# Usage: board/qemu-arm/run.sh aarch64|armv7
# Prints the guest's console; exits 0 when the guest printed "BOARDNET-GUEST: PASS", else 1.
# Needs root (setup: apt, the kernel cache). Boot + checks take about 10 s (aarch64) under TCG.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
arch=${1:-}
case $arch in
  aarch64) target=aarch64-unknown-linux-gnu sysroot=/usr/aarch64-linux-gnu
           qemu=(qemu-system-aarch64 -M virt -cpu cortex-a53) ;;
  armv7) target=armv7-unknown-linux-gnueabihf sysroot=/usr/arm-linux-gnueabihf
         qemu=(qemu-system-arm -M virt,highmem=off -cpu cortex-a15) ;;
  *) echo "usage: $0 aarch64|armv7" >&2; exit 2 ;;
esac
setup=$("$here/setup.sh" "$arch")
read -r KVER CACHE <<< "$setup"
"$root/board/build.sh" --release "$target" > /dev/null
BN=$root/target/cross/$target/release/boardnet

W=$(mktemp -d /tmp/boardnet-qemu-$arch.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT

# Host peers on free 127.0.0.1 ports.
read -r HTTP_PORT DNS_PORT <<< "$(python3 -c '
import socket
s = [socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)]
for x in s: x.bind(("127.0.0.1", 0))
t = socket.socket(); t.bind(("127.0.0.1", s[1].getsockname()[1]))
print(s[0].getsockname()[1], s[1].getsockname()[1])')"
mkdir -p "$W/www" "$W/dns"
head -c 3000000 /dev/urandom > "$W/www/payload.bin"
SHA=$(sha256sum "$W/www/payload.bin" | cut -d' ' -f1)
/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$W/www" "$HTTP_PORT" > "$W/http.log" 2>&1 &
pids+=($!)
NAME=board.qemu.test ADDR=192.0.2.77
cat > "$W/dns/qemu.test.zone" <<Z
\$ORIGIN qemu.test.
\$TTL 60
@ IN SOA ns.qemu.test. admin.qemu.test. 1 60 60 60 60
@ IN NS ns.qemu.test.
ns IN A 127.0.0.1
board IN A $ADDR
Z
cat > "$W/dns/nsd.conf" <<C
server:
    ip-address: 127.0.0.1@$DNS_PORT
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "$W/dns"
    database: ""
    zonelistfile: "$W/dns/nsd.zonelist"
    xfrdfile: "$W/dns/nsd.xfrd"
    xfrdir: "$W/dns"
    pidfile: "$W/dns/nsd.pid"
    server-count: 1
remote-control:
    control-enable: no
zone:
    name: qemu.test
    zonefile: qemu.test.zone
C
nsd -d -c "$W/dns/nsd.conf" > "$W/nsd.log" 2>&1 &
pids+=($!)

# The initramfs: busybox as /init (BusyBox init reads /etc/inittab), boardnet, the board's
# rootfs and the guest scripts, and the modules in dependency order (builtins skipped).
R=$W/initrd
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,usr/share/boardnet,proc,sys,dev,tmp,etc/init.d,lib/modules/$KVER}
cp "$CACHE/bb/bin/busybox" "$R/bin/busybox"
ln -s bin/busybox "$R/init"
ln -s busybox "$R/bin/sh"
cp "$BN" "$R/usr/bin/boardnet"
# The glibc build needs its loader and libraries (a musl build would not): from the cross
# toolchain's sysroot, as a board's root filesystem has them.
mkdir -p "$R/lib"
for lib in $(readelf -d "$BN" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p') \
           $(readelf -l "$BN" | sed -n 's|.*interpreter: /lib/\(.*\)\]|\1|p'); do
  cp -L "$sysroot/lib/$lib" "$R/lib/$lib"
done
cp -a "$root/board/rootfs/." "$R/"
cp "$here/guest/inittab" "$R/etc/inittab"
cp "$here/guest/rcS" "$R/etc/init.d/rcS"
cp "$here/guest/guest-test.sh" "$R/usr/share/boardnet/guest-test.sh"
[ -f /lib/firmware/regulatory.db ] && mkdir -p "$R/lib/firmware" && cp /lib/firmware/regulatory.db* "$R/lib/firmware/"
MD=$CACHE/k/lib/modules/$KVER
: > "$R/load.order"
for m in virtio_pci virtio_net crc32c_generic libcrc32c udp_tunnel ip6_udp_tunnel sctp \
         rfkill cfg80211 libarc4 mac80211 mac80211_hwsim; do
  line=$(grep -E "/$m\.ko(\.xz)?:" "$MD/modules.dep" | head -1) || true
  if [ -z "$line" ]; then
    grep -qE "/$m\.ko" "$MD/modules.builtin" || { echo "run.sh: no module $m in $KVER" >&2; exit 1; }
    continue
  fi
  for d in $(echo "${line#*:}" | tr ' ' '\n' | tac) "${line%%:*}"; do
    grep -qx "$d" "$R/load.order" && continue
    echo "$d" >> "$R/load.order"
    mkdir -p "$R/lib/modules/$KVER/$(dirname "$d")"
    cp "$MD/$d" "$R/lib/modules/$KVER/$d"
  done
done
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$W/initrd.gz"

for _ in $(seq 50); do [ -s "$W/dns/nsd.pid" ] && break; sleep 0.1; done
echo "== booting $arch ($KVER): boardnet $(stat -c %s "$BN") bytes"
timeout 120 "${qemu[@]}" -m 512 -nographic -no-reboot \
  -kernel "$CACHE/k/boot/vmlinuz-$KVER" -initrd "$W/initrd.gz" \
  -append "console=ttyAMA0 panic=-1 quiet boardnet.http=10.0.2.2:$HTTP_PORT boardnet.sha256=$SHA boardnet.dns=10.0.2.2:$DNS_PORT boardnet.name=$NAME boardnet.addr=$ADDR" \
  -netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= < /dev/null | tee "$W/console.log"
grep -q '^BOARDNET-GUEST: PASS' "$W/console.log"
