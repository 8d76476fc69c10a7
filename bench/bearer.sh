#!/bin/bash
# Bearer events: how fast a link change reaches `boardnet bearer watch`, and what an idle
# watcher costs. Runs in a network namespace it creates (root).
#
#   bench/bearer.sh            # TOGGLES=50 link down/up cycles, IDLE=10 s
#
# 1. Latency: `ip link set PEER down` (the watched veth loses carrier), measured from just
#    before the ip command starts to the moment the "changed … defined" event line is read;
#    the same for `up` → "active". The same with `ip monitor link` as the reference peer (the
#    kernel's own tool, no bearer logic): the difference is boardnet's cost.
# 2. Idle: a watcher left alone for IDLE seconds: context switches (every wakeup is one),
#    syscalls (strace -c), CPU time and RSS.
# Needs: iproute2 python3 strace.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
TOGGLES=${TOGGLES:-50}
IDLE=${IDLE:-10}
for p in ip python3 strace; do
  command -v "$p" >/dev/null || { echo "bench: $p is missing (apt-get install iproute2 python3 strace)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespace)" >&2; exit 1; }

echo "== building boardnet (release)"
(cd "$root" && cargo build --release -q)
BN=$root/target/release/boardnet
NS=bn-bench-$$
ip netns add "$NS"
cleanup() { ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true; ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT
ip -n "$NS" link set lo up
ip -n "$NS" link add bn0 type veth peer name bn1
ip -n "$NS" addr add 10.90.0.2/24 dev bn0
ip -n "$NS" link set bn1 up
ip -n "$NS" link set bn0 up

echo
echo "== 1. link change -> event latency, $TOGGLES down/up cycles"
python3 - "$NS" "$BN" "$TOGGLES" <<'EOF'
import json, subprocess, sys, time, statistics
ns, bn, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

def ip(*args):
    subprocess.run(["ip", "-n", ns, *args], check=True)

def measure(cmd, down_match, up_match):
    p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=subprocess.PIPE, text=True, bufsize=1)
    # Wait for the initial picture.
    ready = time.monotonic() + 10
    if cmd[0] != "ip":
        for line in p.stdout:
            if json.loads(line).get("event") == "update-completed":
                break
    else:
        time.sleep(0.3)
    down, up = [], []
    for _ in range(n):
        for action, match, out in (("down", down_match, down), ("up", up_match, up)):
            t0 = time.monotonic()
            ip("link", "set", "bn1", action)
            for line in p.stdout:
                if match(line):
                    out.append((time.monotonic() - t0) * 1000)
                    break
            time.sleep(0.02)
    p.terminate(); p.wait()
    return down, up

def bn_match(state):
    def m(line):
        v = json.loads(line)
        return v.get("event") == "changed" and v["configuration"]["id"] == "netlink:bn0" \
            and v["configuration"]["state"] == state
    return m

bd, bu = measure([bn, "--json", "bearer", "watch"], bn_match("defined"), bn_match("active"))
md, mu = measure(["ip", "monitor", "link", "dev", "bn0"],
                 lambda l: "bn0" in l and "NO-CARRIER" in l,
                 lambda l: "bn0" in l and "LOWER_UP" in l and "NO-CARRIER" not in l)
def row(name, xs):
    xs = sorted(xs)
    return f"{name:<34} median {statistics.median(xs):6.2f} ms   p90 {xs[int(len(xs)*0.9)-1]:6.2f} ms   max {xs[-1]:6.2f} ms"
print("   " + row("boardnet watch: carrier lost", bd))
print("   " + row("boardnet watch: carrier back", bu))
print("   " + row("ip monitor link: carrier lost", md))
print("   " + row("ip monitor link: carrier back", mu))
print(f"   (from just before `ip link set` starts; includes the ip command itself, ~1-2 ms)")
EOF

echo
echo "== 2. idle watcher, $IDLE s"
ip netns exec "$NS" "$BN" bearer watch > /dev/null &
W=$!
sleep 1
status() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
v0=$(status $W voluntary_ctxt_switches); n0=$(status $W nonvoluntary_ctxt_switches); c0=$(cpu $W)
sleep "$IDLE"
v1=$(status $W voluntary_ctxt_switches); n1=$(status $W nonvoluntary_ctxt_switches); c1=$(cpu $W)
rss=$(status $W VmRSS)
kill $W; wait $W 2>/dev/null || true
echo "   context switches in ${IDLE} s: $((v1 - v0)) voluntary, $((n1 - n0)) involuntary; CPU ticks $((c1 - c0)); RSS ${rss} KiB (budget 2048)"
# The same, counting system calls: strace's summary comes when the traced watcher exits, so
# run it twice — start-up alone, start-up plus the idle period — and subtract.
count_calls() {
  ip netns exec "$NS" strace -f -c -o "$W_DIR/strace" "$BN" bearer watch > /dev/null 2>&1 &
  local s=$!
  sleep "$1"
  pkill -TERM -P "$s" -x boardnet || true
  wait "$s" 2>/dev/null || true
  awk '/total/ {print $4}' "$W_DIR/strace"
}
W_DIR=$(mktemp -d)
calls_start=$(count_calls 1)
calls_idle=$(count_calls $((IDLE + 1)))
rm -rf "$W_DIR"
echo "   system calls: $calls_start for start-up alone, $calls_idle with ${IDLE} s more idle: $((calls_idle - calls_start)) while idle"
