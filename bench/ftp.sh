#!/bin/bash
# boardnet vs curl (and BusyBox ftpget/ftpput) over FTP, side by side against one local
# pyftpdlib in one run; prints throughput, CPU and peak-RSS ratios.
#
#   bench/ftp.sh            # 1 GiB down and up, RUNS=3 each (about 2 minutes)
#   RUNS=5 SIZE_MIB=2048 bench/ftp.sh
#
# The server's files live in /dev/shm so neither direction waits for a disk; downloads go to
# /dev/null, uploads come from /dev/shm. Runs alternate between the clients, so drift on the
# machine hits them alike; the median run (by wall time) is reported. pyftpdlib sends with
# sendfile(2) and receives in Python, so uploads measure the server as much as the client.
# With two or more CPUs the server is pinned to CPU 0 and the clients to CPU 1: on a 2-core
# machine, whether a client lands on the server's core decides a run more than the client
# does (measured: curl 0.24-0.31 s per GiB on the other core, 0.70-0.74 s on the server's).
# Needs: python3-pyftpdlib (Debian's /usr/bin/python3), curl, busybox, GNU time.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
SIZE_MIB=${SIZE_MIB:-1024}
PY=/usr/bin/python3
for p in curl busybox /usr/bin/time; do
  command -v "$p" >/dev/null || { echo "bench: $p is missing (apt-get install curl busybox time)" >&2; exit 1; }
done
$PY -c 'import pyftpdlib' 2>/dev/null || { echo "bench: apt-get install python3-pyftpdlib" >&2; exit 1; }

echo "== building boardnet (release)"
(cd "$root" && cargo build --release -q)
BN=$root/target/release/boardnet

W=$(mktemp -d /dev/shm/boardnet-ftp-bench.XXXXXX)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/root"
dd if=/dev/zero of="$W/root/big.bin" bs=1M count="$SIZE_MIB" status=none
cp "$W/root/big.bin" "$W/upload.bin"

SERVER_CPU=()
CLIENT_CPU=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  SERVER_CPU=(taskset -c 0)
  CLIENT_CPU=(taskset -c 1)
fi
"${SERVER_CPU[@]}" $PY -u "$root/tests/peers/ftp_server.py" --root "$W/root" > "$W/port" 2> "$W/server.log" &
SERVER_PID=$!
for _ in $(seq 50); do [ -s "$W/port" ] && break; sleep 0.1; done
PORT=$(head -1 "$W/port")
URL=ftp://user:pass@127.0.0.1:$PORT

# timed NAME CMD... : one run; appends "wall user sys maxrss_kib" to $W/rows.NAME.
timed() {
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$W/time" "${CLIENT_CPU[@]}" "$@" > /dev/null 2> "$W/stderr" || {
    echo "bench: $name failed: $*"; cat "$W/stderr" "$W/time"; exit 1; }
  tail -1 "$W/time" >> "$W/rows.$name"
}

# pick NAME : the median run by wall time -> WALL CPU RSS (KiB).
pick() {
  local row
  row=$(sort -n "$W/rows.$1" | sed -n "$(( ($(wc -l < "$W/rows.$1") + 1) / 2 ))p")
  read -r WALL U S RSS <<< "$row"
  CPU=$(python3 -c "print(round($U+$S,2))")
  rm -f "$W/rows.$1"
}

gibs() { python3 -c "print('%.2f' % ($SIZE_MIB/1024/$1))"; }
x() { python3 -c "a,b=$1,$2; print('%.2f' % (a/b) if b else 'inf')"; }

row() {  # label: prints curl, busybox and boardnet medians and boardnet/curl ratios
  local label=$1
  pick curl; local cw=$WALL cc=$CPU cr=$RSS
  pick busybox; local bw=$WALL br=$RSS
  pick boardnet
  printf '%-22s curl %5s GiB/s %5s CPU-s %5s KiB | busybox %5s GiB/s %5s KiB | boardnet %5s GiB/s %5s CPU-s %5s KiB | throughput x%s CPU x%s RSS x%s\n' \
    "$label" "$(gibs "$cw")" "$cc" "$cr" "$(gibs "$bw")" "$br" "$(gibs "$WALL")" "$CPU" "$RSS" \
    "$(x "$cw" "$WALL")" "$(x "$CPU" "$cc")" "$(x "$RSS" "$cr")"
}

echo "== results ($SIZE_MIB MiB, median of $RUNS runs, pyftpdlib on 127.0.0.1${SERVER_CPU:+, server on CPU 0, clients on CPU 1})"
for _ in $(seq "$RUNS"); do
  timed curl curl -sf -o /dev/null "$URL/big.bin"
  timed busybox busybox ftpget -u user -p pass -P "$PORT" 127.0.0.1 /dev/null big.bin
  timed boardnet "$BN" get -s -o /dev/null "$URL/big.bin"
done
row "download -> /dev/null"
for _ in $(seq "$RUNS"); do
  timed curl curl -sf -T "$W/upload.bin" "$URL/up-curl.bin"
  timed busybox busybox ftpput -u user -p pass -P "$PORT" 127.0.0.1 up-bb.bin "$W/upload.bin"
  timed boardnet "$BN" put -s -T "$W/upload.bin" "$URL/up-bn.bin"
done
row "upload <- /dev/shm"
for f in up-curl.bin up-bb.bin up-bn.bin; do
  cmp -s "$W/root/$f" "$W/upload.bin" || { echo "bench: $f differs from what was sent" >&2; exit 1; }
done
printf '%-22s %s bytes (%s)\n' "boardnet (stripped)" "$(stat -c %s "$BN")" "$("$BN" --version)"
