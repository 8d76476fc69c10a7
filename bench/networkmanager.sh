#!/bin/bash
# NetworkManager backend: how soon NM's own signal reaches `boardnet bearer watch`, side by
# side with dbus-monitor (the bus's view, the reference) and `nmcli monitor` (NM's client),
# and what an idle watcher costs. A real NetworkManager on a private bus in a network
# namespace, DHCP (dnsmasq) and its connectivity check served from a peer namespace — the
# set-up of tests/peers/networkmanager.rs. Root; nothing leaves the namespaces.
#
#   bench/networkmanager.sh            # CYCLES=20 cable pulls, IDLE=10 s
#
# 1. Latency: the peer pulls the cable (`ip link set vnp down`); NM deactivates the
#    connection (after its own carrier-loss delay, seconds) and says so with StateChanged on
#    /org/freedesktop/NetworkManager. Each watcher's line is timestamped as it is read, on one
#    clock: boardnet's `reachability` event minus dbus-monitor's StateChanged line is
#    boardnet's cost; nmcli monitor's "Networkmanager is now in the" line the same for nmcli.
# 2. Idle: `bearer watch --backend networkmanager` left alone for IDLE s: context switches
#    (every wakeup is one) and CPU time.
# Needs: network-manager dbus (dbus-daemon, dbus-monitor) dnsmasq-base python3 iproute2.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
CYCLES=${CYCLES:-20}
IDLE=${IDLE:-10}
for p in NetworkManager nmcli dbus-daemon dbus-monitor dnsmasq python3 ip; do
  command -v "$p" >/dev/null || { echo "bench: $p is missing (apt-get install network-manager dbus dnsmasq-base python3 iproute2)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }

echo "== building boardnet (release)"
(cd "$root" && cargo build --release -q)
BN=$root/target/release/boardnet
D=$(mktemp -d)
DUT=bn-nmb-d-$$
PEER=bn-nmb-p-$$
cleanup() {
  for ns in "$DUT" "$PEER"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  [ -f "$D/bus.pid" ] && kill "$(cat "$D/bus.pid")" 2>/dev/null || true
  rm -rf "$D"
}
trap cleanup EXIT

cat > "$D/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=$D/bus</listen><auth>EXTERNAL</auth>
  <policy context="default"><allow user="*"/><allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/><allow receive_sender="*"/><allow eavesdrop="true"/>
  </policy></busconfig>
EOF
mkdir -p "$D/profiles"
# The tests' configuration, with no periodic connectivity check (the idle count below).
sed -e "s|@DIR@|$D|" -e "s|^interval=.*|interval=300|" \
  "$root/tests/peers/networkmanager/NetworkManager.conf" > "$D/nm.conf"
cat > "$D/online.py" <<'EOF'
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"NetworkManager is online"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("10.123.0.1", 8080), H).serve_forever()
EOF
dbus-daemon --config-file="$D/bus.conf" --fork --print-pid > "$D/bus.pid"
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$D/bus
ip netns add "$PEER"; ip netns add "$DUT"
ip -n "$DUT" link add vnd type veth peer name vnp netns "$PEER"
ip -n "$PEER" addr add 10.123.0.1/24 dev vnp
ip -n "$PEER" link set vnp up
ip netns exec "$PEER" python3 "$D/online.py" &
ip netns exec "$PEER" dnsmasq --no-daemon --conf-file=/dev/null --bind-interfaces --interface=vnp \
  --except-interface=lo --port=0 --dhcp-range=10.123.0.50,10.123.0.99,1h \
  --dhcp-option=option:router,10.123.0.1 --dhcp-leasefile="$D/leases" 2>/dev/null &
ip netns exec "$DUT" sh "$root/tests/peers/networkmanager/run-nm.sh" "$D/nm.conf" > "$D/nm.log" 2>&1 &
echo "== waiting for NetworkManager to be online"
for _ in $(seq 100); do
  ip netns exec "$DUT" "$BN" status --backend networkmanager >/dev/null 2>&1 && break
  sleep 0.2
done
ip netns exec "$DUT" "$BN" wait-online --backend networkmanager --level online --timeout 60 >/dev/null

echo
echo "== 1. cable pulled -> event, $CYCLES cycles (NetworkManager $(NetworkManager --version))"
python3 - "$DUT" "$PEER" "$BN" "$CYCLES" <<'EOF'
import json, queue, statistics, subprocess, sys, threading, time
dut, peer, bn, cycles = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def follow(cmd, name, q):
    p = subprocess.Popen(["ip", "netns", "exec", dut, "stdbuf", "-oL", *cmd],
                         stdout=subprocess.PIPE, text=True, bufsize=1)
    def read():
        for line in p.stdout:
            q.put((time.monotonic(), name, line))
    threading.Thread(target=read, daemon=True).start()
    return p

q = queue.Queue()
procs = [
    follow([bn, "--json", "bearer", "watch", "--backend", "networkmanager"], "boardnet", q),
    follow(["dbus-monitor", "--system",
            "type='signal',path='/org/freedesktop/NetworkManager',interface='org.freedesktop.NetworkManager',member='StateChanged'"],
           "dbus-monitor", q),
    follow(["nmcli", "monitor"], "nmcli", q),
]
time.sleep(2)

def is_event(name, line):
    if name == "boardnet":
        try:
            v = json.loads(line)
        except ValueError:
            return False
        return v.get("event") == "reachability"
    if name == "dbus-monitor":
        return "member=StateChanged" in line
    return "Networkmanager is now in the" in line

def wait_all(deadline):
    seen = {}
    while len(seen) < 3 and time.monotonic() < deadline:
        try:
            at, name, line = q.get(timeout=0.2)
        except queue.Empty:
            continue
        if name not in seen and is_event(name, line):
            seen[name] = at
    return seen

bn_lag, nmcli_lag, nm_delay = [], [], []
for i in range(cycles):
    while not q.empty():
        q.get()
    t0 = time.monotonic()
    subprocess.run(["ip", "-n", peer, "link", "set", "vnp", "down"], check=True)
    seen = wait_all(t0 + 30)
    if len(seen) == 3:
        bn_lag.append((seen["boardnet"] - seen["dbus-monitor"]) * 1000)
        nmcli_lag.append((seen["nmcli"] - seen["dbus-monitor"]) * 1000)
        nm_delay.append(seen["dbus-monitor"] - t0)
    else:
        print(f"   cycle {i}: only {sorted(seen)} within 30 s")
    subprocess.run(["ip", "-n", peer, "link", "set", "vnp", "up"], check=True)
    subprocess.run(["ip", "netns", "exec", dut, bn, "wait-online", "--backend", "networkmanager",
                    "--level", "online", "--timeout", "60"], check=True, stdout=subprocess.DEVNULL)
    time.sleep(0.5)
for p in procs:
    p.terminate()

def row(name, xs, unit="ms"):
    xs = sorted(xs)
    return f"   {name:<48} median {statistics.median(xs):8.2f} {unit}   max {xs[-1]:8.2f} {unit}   (n={len(xs)})"
print(row("NM's StateChanged after the cable is pulled", nm_delay, "s"))
print(row("boardnet reachability event after StateChanged", bn_lag))
print(row("nmcli monitor line after StateChanged", nmcli_lag))
EOF

echo
echo "== 2. idle watcher on NetworkManager, $IDLE s"
ip netns exec "$DUT" "$BN" bearer watch --backend networkmanager > /dev/null &
sleep 1
W=$(pgrep -n -x boardnet)
status() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
v0=$(status "$W" voluntary_ctxt_switches); n0=$(status "$W" nonvoluntary_ctxt_switches); c0=$(cpu "$W")
sleep "$IDLE"
v1=$(status "$W" voluntary_ctxt_switches); n1=$(status "$W" nonvoluntary_ctxt_switches); c1=$(cpu "$W")
rss=$(status "$W" VmRSS)
kill "$W"
echo "   context switches in ${IDLE} s: $((v1 - v0)) voluntary, $((n1 - n0)) involuntary; CPU ticks $((c1 - c0)); RSS ${rss} KiB"
