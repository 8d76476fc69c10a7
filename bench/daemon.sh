#!/bin/bash
# boardnet daemon side by side with the peers it is judged against, in one run (root; a
# network namespace and a private D-Bus system bus it creates, removed at the end):
#
#   bench/daemon.sh                 # N=300 calls each, TOGGLES=50 link cycles, IDLE=60 s
#
# 1. `status` round trips per second: `boardnet ctl --json status` against the daemon, and
#    `connmanctl services` and `busctl call … net.connman.Manager GetServices` against the
#    real connmand (on its own bus, in the same namespace) — each a process per call, as a
#    script would call them; then requests on one open connection (the daemon's socket; and
#    GetServices on one D-Bus connection, with python3-dbus when /usr/bin/python3 has it).
#    `nmcli -t device` too when NetworkManager is installed and running here.
# 2. Link change -> event at a subscriber of the control socket (median, p90) against
#    `ip monitor link` (the kernel's own tool): the difference is the daemon's cost.
# 3. The idle daemon: wakeups (context switches) per minute over IDLE s with no timer armed,
#    RSS and private memory (/proc/PID/smaps_rollup: Private_Dirty is what the daemon costs;
#    Private_Clean is mostly the binary's own code pages, which no other process maps here).
# Needs: iproute2 python3 connman dbus (busctl, dbus-daemon).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-300}
TOGGLES=${TOGGLES:-50}
IDLE=${IDLE:-60}
for p in ip python3 connmand connmanctl busctl dbus-daemon; do
  command -v "$p" >/dev/null || { echo "bench: $p is missing (apt-get install iproute2 python3 connman dbus)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespace)" >&2; exit 1; }

echo "== building boardnet (release)"
(cd "$root" && cargo build --release -q)
BN=$root/target/release/boardnet
NS=bn-dbench-$$
W=$(mktemp -d /tmp/boardnet-dbench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
# shellcheck source=bench/netns.sh
. "$root/bench/netns.sh"
# vbn: not `ve-*`, ConnMan's default blacklist.
netns_with_link "$NS" vbn0 vbn1 10.91.0
# The link flapped for the latency: `ve-*` is on ConnMan's default blacklist, so ConnMan
# leaves its address alone (on vbn0 it would flush it with the carrier and run DHCP).
veth_link "$NS" ve-lat0 ve-lat1 10.92.0

# A private system bus and connmand on it (its /var/lib and /run on tmpfs).
cat > "$W/bus.conf" <<C
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=$W/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/></policy>
</busconfig>
C
dbus-daemon --config-file="$W/bus.conf" --nofork & pids+=($!)
for _ in $(seq 100); do [ -S "$W/bus" ] && break; sleep 0.05; done
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$W/bus
printf '[General]\nEnableOnlineCheck=false\nAllowHostnameUpdates=false\n' > "$W/main.conf"
ip netns exec "$NS" unshare -m sh -c "mount -t tmpfs tmpfs /var/lib; mkdir -p /var/lib/connman; mount -t tmpfs tmpfs /run; mkdir -p /run/connman; exec connmand -n -r -c $W/main.conf" 2>/dev/null & pids+=($!)
for _ in $(seq 100); do busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" status net.connman >/dev/null 2>&1 && break; sleep 0.05; done

ip netns exec "$NS" "$BN" daemon --config /dev/null --control "$W/control" --state-dir "$W/state" \
  --hooks "$W/hooks" 2> "$W/daemon.log" & DAEMON=$!; pids+=($DAEMON)
for _ in $(seq 100); do "$BN" ctl --control "$W/control" version >/dev/null 2>&1 && break; sleep 0.05; done
echo "   daemon backends: $("$BN" ctl --control "$W/control" --json status | python3 -c 'import json,sys; print(",".join(json.load(sys.stdin)["backends"]))')"

echo
echo "== 1. status round trips, $N each"
rate() {  # rate NAME COMMAND...: runs COMMAND N times, prints calls per second
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  for _ in $(seq "$N"); do "$@" > /dev/null || { echo "bench: $name failed" >&2; return 1; }; done
  t1=$(date +%s.%N)
  python3 -c "print(f'   {\"$name\":<58} {$N / ($t1 - $t0):8.0f} /s')"
}
rate "boardnet ctl --json status (a process per call)" "$BN" ctl --control "$W/control" --json status
rate "connmanctl services (a process per call)" ip netns exec "$NS" connmanctl services
rate "busctl call GetServices (a process per call)" busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" call net.connman / net.connman.Manager GetServices
if command -v nmcli >/dev/null && nmcli -t general status >/dev/null 2>&1; then
  rate "nmcli -t device (a process per call)" nmcli -t device
else
  echo "   nmcli: NetworkManager is not running here; not measured"
fi
python3 - "$W/control" "$((N * 10))" <<'PY'
import json, socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX); s.connect(path); f = s.makefile("rwb")
t0 = time.monotonic()
for i in range(n):
    f.write(json.dumps({"id": i, "command": "status"}).encode() + b"\n"); f.flush()
    reply = json.loads(f.readline()); assert reply["ok"], reply
print(f"   {'daemon socket, status on one connection':<58} {n / (time.monotonic() - t0):8.0f} /s")
PY
/usr/bin/python3 - "$((N * 10))" <<'PY' || echo "   (python3-dbus missing: GetServices on one connection not measured)"
import sys, time, dbus
n = int(sys.argv[1])
bus = dbus.SystemBus()
manager = dbus.Interface(bus.get_object("net.connman", "/"), "net.connman.Manager")
t0 = time.monotonic()
for _ in range(n):
    manager.GetServices()
print(f"   {'connmand GetServices on one D-Bus connection (python3-dbus)':<58} {n / (time.monotonic() - t0):8.0f} /s")
PY

echo
echo "== 2. link change -> event at a subscriber, $TOGGLES down/up cycles"
python3 - "$NS" "$W/control" "$TOGGLES" <<'PY'
import json, socket, statistics, subprocess, sys, time
ns, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def ip(*a): subprocess.run(["ip", "-n", ns, *a], check=True)
def lines_of_daemon():
    s = socket.socket(socket.AF_UNIX); s.connect(path); f = s.makefile("rwb")
    f.write(b'{"id":1,"command":"subscribe"}\n'); f.flush(); f.readline()
    return (l.decode() for l in f)
def lines_of_ip():
    p = subprocess.Popen(["ip", "-n", ns, "monitor", "link", "dev", "ve-lat0"], stdout=subprocess.PIPE, text=True, bufsize=1)
    time.sleep(0.3)
    return iter(p.stdout)
def measure(lines, down, up):
    d, u = [], []
    for _ in range(n):
        for action, match, out in (("down", down, d), ("up", up, u)):
            t0 = time.monotonic(); ip("link", "set", "ve-lat1", action)
            for line in lines:
                if match(line): out.append((time.monotonic() - t0) * 1000); break
            time.sleep(0.02)
    return d, u
def bn(state):
    def m(line):
        v = json.loads(line)
        return v.get("event") == "changed" and v["configuration"]["id"] == "netlink:ve-lat0" and v["configuration"]["state"] == state
    return m
bd, bu = measure(lines_of_daemon(), bn("defined"), bn("active"))
md, mu = measure(lines_of_ip(), lambda l: "NO-CARRIER" in l, lambda l: "LOWER_UP" in l and "NO-CARRIER" not in l)
def row(name, xs):
    xs = sorted(xs)
    return f"   {name:<40} median {statistics.median(xs):6.2f} ms   p90 {xs[int(len(xs) * 0.9) - 1]:6.2f} ms"
print(row("daemon subscriber: carrier lost", bd)); print(row("daemon subscriber: carrier back", bu))
print(row("ip monitor link: carrier lost", md)); print(row("ip monitor link: carrier back", mu))
print("   (from just before `ip link set` starts; both include the ip command, ~1-2 ms)")
PY

echo
echo "== 3. idle, $IDLE s: the daemon above (next to ConnMan, whose DHCP retries on vbn0 are"
echo "   events it must see), and one alone in a quiet namespace (no check URL: no timer armed)"
NS2=bn-dbench-idle-$$
netns_with_link "$NS2" eth0 eth1 10.93.0
trap 'cleanup; ip netns pids "$NS2" 2>/dev/null | xargs -r kill 2>/dev/null || true; ip netns del "$NS2" 2>/dev/null || true' EXIT
env -u DBUS_SYSTEM_BUS_ADDRESS ip netns exec "$NS2" "$BN" daemon --config /dev/null --control "$W/control2" \
  --state-dir "$W/state2" --hooks "$W/hooks" --backend netlink 2> "$W/daemon2.log" & QUIET=$!; pids+=($QUIET)
for _ in $(seq 100); do "$BN" ctl --control "$W/control2" version >/dev/null 2>&1 && break; sleep 0.05; done
sleep 5  # IPv6 duplicate address detection on the new link ends with an event; let it pass
st() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
switches() { echo $(( $(st "$1" voluntary_ctxt_switches) + $(st "$1" nonvoluntary_ctxt_switches) )); }
a0=$(switches "$DAEMON"); q0=$(switches "$QUIET")
sleep "$IDLE"
a1=$(switches "$DAEMON"); q1=$(switches "$QUIET")
report() {  # report NAME PID WAKEUPS
  local dirty clean
  dirty=$(awk '/^Private_Dirty:/ {print $2}' "/proc/$2/smaps_rollup")
  clean=$(awk '/^Private_Clean:/ {print $2}' "/proc/$2/smaps_rollup")
  echo "   $1: $3 wakeups in $IDLE s ($(( $3 * 60 / IDLE ))/min; goal 0); RSS $(st "$2" VmRSS) KiB;"
  echo "      private dirty $dirty KiB (goal <= 1024), private clean $clean KiB (the binary's own pages,"
  echo "      file-backed and reclaimable, shared with any other boardnet process), threads $(st "$2" Threads)"
}
report "next to ConnMan" "$DAEMON" $((a1 - a0))
report "alone (netlink)" "$QUIET" $((q1 - q0))
