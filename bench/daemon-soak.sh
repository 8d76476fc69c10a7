#!/bin/bash
# Soak: boardnet daemon under steady load for DURATION s (default 600): SUBSCRIBERS event
# subscribers (default 200) reading everything, a link flapping every 2 s, and `status`
# queries in a loop on another connection. Prints the daemon's open descriptors and RSS at the
# start and the end (they must be flat), events delivered and queries answered. Root (it
# makes a network namespace, removed at the end).
#
#   bench/daemon-soak.sh            # DURATION=600 SUBSCRIBERS=200
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-600}
SUBSCRIBERS=${SUBSCRIBERS:-200}
[ "$(id -u)" = 0 ] || { echo "soak: needs root (network namespace)" >&2; exit 1; }
(cd "$root" && cargo build --release -q)
BN=$root/target/release/boardnet
NS=bn-soak-$$
W=$(mktemp -d /tmp/boardnet-soak.XXXXXX)
cleanup() { ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true; ip netns del "$NS" 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
# shellcheck source=bench/netns.sh
. "$root/bench/netns.sh"
netns_with_link "$NS" eth0 eth1 10.94.0
env -u DBUS_SYSTEM_BUS_ADDRESS ip netns exec "$NS" "$BN" daemon --config /dev/null --control "$W/control" \
  --state-dir "$W/state" --hooks "$W/hooks" --backend netlink --max-clients 256 2> "$W/daemon.log" &
DAEMON=$!
for _ in $(seq 100); do "$BN" ctl --control "$W/control" version >/dev/null 2>&1 && break; sleep 0.05; done
python3 - "$W/control" "$SUBSCRIBERS" "$DURATION" "$DAEMON" "$NS" <<'PY'
import json, os, selectors, socket, subprocess, sys, time
path, subscribers, duration, pid, ns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def measure():
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
    return fds, rss
sel = selectors.DefaultSelector()
for _ in range(subscribers):
    s = socket.socket(socket.AF_UNIX); s.connect(path)
    s.sendall(b'{"id":1,"command":"subscribe"}\n'); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
q = socket.socket(socket.AF_UNIX); q.connect(path); qf = q.makefile("rwb")
time.sleep(1)
start = measure()
print(f"   start: {start[0]} descriptors, RSS {start[1]} KiB ({subscribers} subscribers connected)", flush=True)
events = queries = 0
t0 = time.monotonic()
end_at = t0 + duration
next_flap, down = t0 + 2, False
next_sample = t0 + duration / 5
while time.monotonic() < end_at:
    if time.monotonic() >= next_sample:
        fds, rss = measure()
        print(f"   {time.monotonic() - t0:5.0f} s: {fds} descriptors, RSS {rss} KiB", flush=True)
        next_sample += duration / 5
    if time.monotonic() >= next_flap:
        down = not down
        subprocess.Popen(["ip", "-n", ns, "link", "set", "eth1", "down" if down else "up"])
        next_flap += 2
    qf.write(b'{"id":2,"command":"status"}\n'); qf.flush()
    assert json.loads(qf.readline())["ok"]
    queries += 1
    for key, _ in sel.select(timeout=0):
        while True:
            try:
                data = key.fileobj.recv(65536)
            except BlockingIOError:
                break
            if not data:
                raise SystemExit("a subscriber was disconnected")
            events += data.count(b'"event"')
end = measure()
print(f"   end:   {end[0]} descriptors, RSS {end[1]} KiB after {duration} s: {events} events delivered "
      f"to {subscribers} subscribers, {queries} status queries answered")
print(f"   change: {end[0] - start[0]:+d} descriptors, {end[1] - start[1]:+d} KiB")
PY
kill "$DAEMON"; wait "$DAEMON" 2>/dev/null || true
