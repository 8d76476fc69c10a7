#!/bin/bash
# boardnet dns vs dig and kdig, side by side against one local nsd, in one run; prints ratios.
#
#   bench/dns.sh            # RUNS=5 by default; medians of alternating runs
#
# nsd runs with rrl-ratelimit: 0 (it rate-limits fast clients otherwise). Scenarios:
#   1000 sequential A queries in one process: dig -f FILE, kdig with 1000 names,
#       boardnet dns --parallel 1 -f FILE
#   1000 concurrent lookups on one reactor: boardnet dns --parallel 1000 (time, peak RSS)
#   heap allocations per A lookup through the library (bench/dns_alloc.rs)
# Needs: nsd dig kdig time python3.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
for p in nsd dig kdig /usr/bin/time python3; do
  command -v "$p" >/dev/null || { echo "bench: $p is missing (apt-get install nsd dnsutils knot-dnsutils time)" >&2; exit 1; }
done

echo "== building boardnet (release) and the allocation counter"
(cd "$root" && cargo build --release -q && cargo bench --no-run -q --bench dns_alloc 2>/dev/null)
BN=$root/target/release/boardnet

W=$(mktemp -d /tmp/boardnet-dnsbench.XXXXXX)
cleanup() {
  if [ -s "$W/nsd.pid" ]; then
    pid=$(cat "$W/nsd.pid")
    kill "$pid" 2>/dev/null || true
    # nsd writes its state files while exiting: wait before removing its directory.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -rf "$W"
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat > "$W/example.test.zone" <<'EOF'
$ORIGIN example.test.
$TTL 300
@       IN SOA  ns1 hostmaster 1 3600 600 86400 300
@       IN NS   ns1
ns1     IN A    127.0.0.1
@       IN A    192.0.2.10
www     IN CNAME @
multi   IN A    192.0.2.11
multi   IN A    192.0.2.12
mail    IN A    192.0.2.25
sip     IN A    192.0.2.50
EOF
cat > "$W/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$PORT
    username: ""
    chroot: ""
    zonesdir: "$W"
    database: ""
    zonelistfile: "$W/zone.list"
    xfrdfile: "$W/xfrd.state"
    pidfile: "$W/nsd.pid"
    logfile: "$W/nsd.log"
    server-count: 1
    rrl-ratelimit: 0
    verbosity: 0
remote-control:
    control-enable: no
zone:
    name: example.test
    zonefile: example.test.zone
EOF
nsd -c "$W/nsd.conf"
for _ in $(seq 50); do dig @127.0.0.1 -p "$PORT" +short +time=1 +tries=1 example.test >/dev/null 2>&1 && break; sleep 0.1; done

names=(example.test multi.example.test mail.example.test sip.example.test www.example.test)
for i in $(seq 0 999); do echo "${names[$((i % 5))]}"; done > "$W/batch.txt"
mapfile -t batch < "$W/batch.txt"

# once NAME CMD... : one timed run, "wall rss" appended to $W/rows.NAME (wall from
# EPOCHREALTIME: GNU time's 10 ms resolution is too coarse for runs of a few tens of ms).
once() {
  local name=$1; shift
  local t0=$EPOCHREALTIME
  /usr/bin/time -f "%M" -o "$W/time" "$@" > "$W/out" 2>"$W/err" || {
    echo "bench: $name failed: $*"; cat "$W/err"; exit 1; }
  local t1=$EPOCHREALTIME
  [ "$(wc -l < "$W/out")" -ge 1000 ] || { echo "bench: $name answered only $(wc -l < "$W/out") lines"; exit 1; }
  echo "$(python3 -c "print('%.6f' % ($t1 - $t0))") $(tail -1 "$W/time")" >> "$W/rows.$name"
}
median() {  # median NAME -> WALL RSS
  read -r WALL RSS <<<"$(sort -n "$W/rows.$1" | sed -n "$(( ($(wc -l < "$W/rows.$1") + 1) / 2 ))p")"
}
qps() { python3 -c "print('%.0f' % (1000/max($1, 0.001)))"; }

for _ in $(seq "$RUNS"); do
  once dig dig @127.0.0.1 -p "$PORT" +short -f "$W/batch.txt"
  once kdig kdig @127.0.0.1 -p "$PORT" +short "${batch[@]}"
  once boardnet "$BN" dns -s "127.0.0.1:$PORT" --parallel 1 -f "$W/batch.txt"
  once concurrent "$BN" dns -s "127.0.0.1:$PORT" --parallel 1000 -f "$W/batch.txt"
done
median dig; dw=$WALL
median kdig; kw=$WALL
median boardnet; bw=$WALL; brss=$RSS
median concurrent; cw=$WALL; crss=$RSS

echo "== results (median of $RUNS alternating runs; wall time of the whole process)"
printf '%-40s dig %6s q/s | kdig %6s q/s | boardnet %6s q/s (%s KiB) | x%s dig, x%s kdig\n' \
  "1000 sequential A queries, one process" "$(qps "$dw")" "$(qps "$kw")" "$(qps "$bw")" "$brss" \
  "$(python3 -c "print('%.2f' % ($dw/max($bw,0.001)))")" "$(python3 -c "print('%.2f' % ($kw/max($bw,0.001)))")"
printf '%-40s %.3f s, peak RSS %s KiB\n' "1000 concurrent lookups, one reactor" "$cw" "$crss"
alloc=$(ls -t "$root"/target/release/deps/dns_alloc-* | grep -v '\.d$' | head -1)
printf '%-40s %s\n' "heap allocations per A lookup" "$("$alloc" "127.0.0.1:$PORT" multi.example.test 2000)"
