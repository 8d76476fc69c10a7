#!/bin/bash
# boardnet listen vs socat and openssl s_server, side by side in one run; prints ratios.
#
#   bench/socket.sh          # RUNS=3 by default: medians of alternating runs
#
# 1. TCP echo throughput on loopback: `boardnet listen --echo` vs
#    `socat TCP4-LISTEN:…,fork EXEC:cat,nofork` (socat's PIPE echo deadlocks above its buffer),
#    the same client for both (socat -b 262144, file in /dev/shm → server → /dev/null).
#    The same with boardnet connect as the client.
# 2. 10,000 idle TCP connections to `boardnet listen --echo`: server RSS growth per
#    connection, and the accept rate (connect + one echoed byte per connection, in a row).
# 3. TLS echo throughput: `boardnet listen tls:// --echo` vs `openssl s_server -rev` (each line
#    comes back reversed: the same bytes count) and socat OPENSSL-LISTEN … EXEC:cat; client
#    socat OPENSSL.
# Needs: socat openssl python3 time.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
ECHO_MB=${ECHO_MB:-2048}
TLS_MB=${TLS_MB:-256}
CONNS=${CONNS:-10000}
for p in socat openssl python3 /usr/bin/time; do
  command -v "$p" >/dev/null || { echo "bench: $p is missing (apt-get install socat openssl python3 time)" >&2; exit 1; }
done

echo "== building boardnet (release)"
(cd "$root" && cargo build --release -q)
BN=$root/target/release/boardnet

W=$(mktemp -d /tmp/boardnet-sockbench.XXXXXX)
SHM=$(mktemp -d /dev/shm/boardnet-sockbench.XXXXXX)
# The timed clients run in `bash -c`: they need these.
export BN SHM
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W" "$SHM"
}
trap cleanup EXIT
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
  for _ in $(seq 200); do
    python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1',$1)))" && return 0
    sleep 0.02
  done
  echo "bench: nothing listens on port $1" >&2; exit 1
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# seconds for CMD (wall clock, GNU time), output discarded
timed() { /usr/bin/time -f %e -o "$W/t" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; return 1; }; cat "$W/t"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
mbps() { python3 -c "print(f'{$1/$2:.0f}')"; }

echo "== payloads in /dev/shm: ${ECHO_MB} MiB for TCP, ${TLS_MB} MiB of 1 KiB lines for TLS"
head -c $((ECHO_MB << 20)) /dev/zero > "$SHM/echo.bin"
python3 - "$SHM/tls.txt" "$TLS_MB" <<'EOF'
import sys
line = b"x" * 1023 + b"\n"
with open(sys.argv[1], "wb") as f:
    block = line * 1024
    for _ in range(int(sys.argv[2])):
        f.write(block)
EOF

# ---------------------------------------------------------------------------------------------
echo
echo "== 1. TCP echo throughput, ${ECHO_MB} MiB per run, $RUNS runs each"
P1=$(free_port); P2=$(free_port)
"$BN" listen "tcp://127.0.0.1:$P1" --echo 2>/dev/null & bn_server=$!; pids+=($!)
socat "TCP4-LISTEN:$P2,bind=127.0.0.1,reuseaddr,fork" EXEC:cat,nofork & so_server=$!; pids+=($!)
wait_port "$P1"; wait_port "$P2"
# CPU seconds a server used so far, its reaped children (socat's forked cat) included.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15 + $16 + $17) / hz}' "/proc/$1/stat"; }
# Run a client against one server: wall seconds to $3, the server's CPU seconds to $4.
echo_run() {
  local before; before=$(cpu_s "$2")
  timed bash -c "$(declare -f client_$client); client_$client $1" >> "$3"
  sleep 0.2   # socat reaps its child
  python3 -c "print($(cpu_s "$2") - $before)" >> "$4"
}
client_socat() { socat -b 262144 -t 5 - "TCP:127.0.0.1:$1" < "$SHM/echo.bin"; }
client_boardnet() { "$BN" connect "tcp://127.0.0.1:$1" < "$SHM/echo.bin"; }
for client in socat boardnet; do
  : > "$W/bn"; : > "$W/so"; : > "$W/bn_cpu"; : > "$W/so_cpu"
  for _ in $(seq "$RUNS"); do
    echo_run "$P1" "$bn_server" "$W/bn" "$W/bn_cpu"
    echo_run "$P2" "$so_server" "$W/so" "$W/so_cpu"
  done
  bn=$(median < "$W/bn"); so=$(median < "$W/so")
  bn_cpu=$(median < "$W/bn_cpu"); so_cpu=$(median < "$W/so_cpu")
  printf '   client %-8s boardnet listen %6.2f s (%s MiB/s, server %.2f CPU-s)   socat %6.2f s (%s MiB/s, server %.2f CPU-s)   throughput x%s  server CPU x%s\n' \
    "$client" "$bn" "$(mbps $((ECHO_MB * 2)) "$bn")" "$bn_cpu" "$so" "$(mbps $((ECHO_MB * 2)) "$so")" "$so_cpu" \
    "$(ratio "$so" "$bn")" "$(ratio "$bn_cpu" "$so_cpu")"
done
echo "   (MiB/s counts both directions: ${ECHO_MB} MiB out and back)"

# ---------------------------------------------------------------------------------------------
echo
echo "== 2. $CONNS idle TCP connections to boardnet listen --echo"
# As many descriptors as allowed (containers may cap the hard limit below CONNS).
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -le $((CONNS + 100)) ]; then
  CONNS=$(( $(ulimit -n) - 100 ))
  echo "   (descriptor limit $(ulimit -n): $CONNS connections)"
fi
P3=$(free_port)
"$BN" listen "tcp://127.0.0.1:$P3" --echo 2>/dev/null & server=$!; pids+=($server)
wait_port "$P3"
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
python3 - "$P3" "$CONNS" "$server" <<'EOF'
import socket, sys, time, resource
port, n, server = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def rss():
    for l in open(f"/proc/{server}/status"):
        if l.startswith("VmRSS"):
            return int(l.split()[1])
# One connection first, so the first-use costs (buffers, maps) are in the baseline.
warm = socket.create_connection(("127.0.0.1", port)); warm.sendall(b"w"); warm.recv(1)
base = rss()
socks = []
t0 = time.perf_counter()
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"x")
    if s.recv(1) != b"x":
        sys.exit("no echo")
    socks.append(s)
took = time.perf_counter() - t0
time.sleep(0.5)
after = rss()
print(f"   {n} connections each echoed one byte in {took:.2f} s: {n / took:.0f} connections/s (accept + echo, one client in a row)")
print(f"   server RSS {base} KiB -> {after} KiB: {(after - base) * 1024 / n:.0f} bytes per idle connection (budget 4096)")
for s in socks:
    s.close()
EOF
kill "$server"

# ---------------------------------------------------------------------------------------------
echo
echo "== 3. TLS echo throughput, ${TLS_MB} MiB of lines per run, $RUNS runs each"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$W/key.pem" \
  -out "$W/cert.pem" -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 2 2>/dev/null
P4=$(free_port); P5=$(free_port); P6=$(free_port)
"$BN" listen "tls://127.0.0.1:$P4" --echo --cert "$W/cert.pem" --key "$W/key.pem" 2>/dev/null & pids+=($!)
socat "OPENSSL-LISTEN:$P6,bind=127.0.0.1,reuseaddr,fork,cert=$W/cert.pem,key=$W/key.pem,verify=0" EXEC:cat & pids+=($!)
# s_server serves one connection at a time, one after the other.
openssl s_server -accept "127.0.0.1:$P5" -cert "$W/cert.pem" -key "$W/key.pem" -rev -quiet >/dev/null 2>&1 & pids+=($!)
wait_port "$P4"; wait_port "$P5"; wait_port "$P6"
tls_client() { socat -b 262144 -t 5 - "OPENSSL:127.0.0.1:$1,verify=0" < "$SHM/tls.txt"; }
: > "$W/bn"; : > "$W/os"; : > "$W/so"
for _ in $(seq "$RUNS"); do
  timed bash -c "$(declare -f tls_client); tls_client $P4" >> "$W/bn"
  timed bash -c "$(declare -f tls_client); tls_client $P5" >> "$W/os"
  timed bash -c "$(declare -f tls_client); tls_client $P6" >> "$W/so"
done
bn=$(median < "$W/bn"); os=$(median < "$W/os"); so=$(median < "$W/so")
printf '   boardnet listen tls %6.2f s (%s MiB/s)\n' "$bn" "$(mbps $((TLS_MB * 2)) "$bn")"
printf '   openssl s_server    %6.2f s (%s MiB/s)   boardnet/s_server throughput x%s\n' "$os" "$(mbps $((TLS_MB * 2)) "$os")" "$(ratio "$os" "$bn")"
printf '   socat OPENSSL echo  %6.2f s (%s MiB/s)   boardnet/socat throughput x%s\n' "$so" "$(mbps $((TLS_MB * 2)) "$so")" "$(ratio "$so" "$bn")"
