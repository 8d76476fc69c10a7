#!/bin/bash
# boardnet vs curl, side by side against one local nginx, in one run; prints ratios.
#
#   bench/http.sh            # all scenarios (about 2 minutes)
#   RUNS=5 bench/http.sh     # more repetitions (the median run is reported; runs of the two
#                            # clients alternate, so drift on the machine hits both alike)
#   DEST_DIR=/data bench/http.sh   # where the "to a file" scenario writes (default: a temp dir)
#
# Downloads to a file: boardnet's time includes its fsync (the file is on storage when it
# exits); curl's does not (its data is still in the page cache).
# nginx runs with `tcp_nopush off` (Debian's default `on` halves curl's loopback throughput),
# sendfile on, access log off, one worker. Both clients are asked for the same thing:
# curl -sf (no progress, fail on HTTP errors) and boardnet -s. Wall time, user+sys CPU and peak RSS come from GNU
# time; the start-up scenario uses hyperfine. Needs: nginx openssl curl hyperfine time python3.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
for p in nginx openssl curl hyperfine /usr/bin/time python3; do
  command -v "$p" >/dev/null || { echo "bench: $p is missing (apt-get install nginx openssl curl hyperfine time)" >&2; exit 1; }
done

echo "== building boardnet (release)"
(cd "$root" && cargo build --release -q)
BN=$root/target/release/boardnet
CURL=$(command -v curl)

W=$(mktemp -d /tmp/boardnet-bench.XXXXXX)
DEST=${DEST_DIR:-$W}
cleanup() {
  [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null || true
  rm -rf "$W"
  rm -f "$DEST"/out.*
}
trap cleanup EXIT

# Three distinct free ports, bound together so the kernel cannot hand out one twice.
read -r HTTP AES CHACHA <<<"$(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')"


echo "== test CA, certificates, 1 GiB file"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj /CN=bench-ca -keyout "$W/ca.key" -out "$W/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
  -keyout "$W/srv.key" -out "$W/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$W/san.ext"
openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" -CAcreateserial \
  -days 30 -extfile "$W/san.ext" -out "$W/srv.crt" 2>/dev/null
mkdir -p "$W/www" "$W/tmp"
dd if=/dev/zero of="$W/www/big.bin" bs=1M count=1024 status=none
head -c 1024 /dev/urandom > "$W/www/small.bin"
cat "$W/www/big.bin" > /dev/null   # warm the page cache

cat > "$W/nginx.conf" <<EOF
daemon on;
worker_processes 1;
user root;
pid $W/nginx.pid;
error_log $W/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush off;
  keepalive_requests 100000;
  client_body_temp_path $W/tmp;
  default_type application/octet-stream;
  ssl_certificate $W/srv.crt;
  ssl_certificate_key $W/srv.key;
  ssl_protocols TLSv1.3;
  server { listen 127.0.0.1:$HTTP; root $W/www; }
  server { listen 127.0.0.1:$AES ssl; root $W/www; ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256; }
  server { listen 127.0.0.1:$CHACHA ssl; root $W/www; ssl_conf_command Ciphersuites TLS_CHACHA20_POLY1305_SHA256; }
}
EOF
nginx -p "$W" -c "$W/nginx.conf" -e "$W/error.log"
for _ in $(seq 50); do [ -s "$W/nginx.pid" ] && break; sleep 0.1; done

# once NAME CMD... : one timed run; appends "wall user sys rss" to $W/rows.NAME.
once() {
  local name=$1; shift
  rm -f "$DEST"/out.*
  # Start each run with no dirty page cache: curl does not fsync, and its leftover writeback
  # would otherwise land in the next run (boardnet's fsync waits for it).
  sync
  /usr/bin/time -f "%e %U %S %M" -o "$W/time" "$@" > /dev/null 2>"$W/stderr" || {
    echo "bench: $name failed: $*"; cat "$W/stderr" "$W/time"; exit 1; }
  tail -1 "$W/time" >> "$W/rows.$name"
}

# median NAME : the run with the median wall time; sets WALL CPU RSS.
median() {
  local med
  med=$(sort -n "$W/rows.$1" | sed -n "$(( ($(wc -l < "$W/rows.$1") + 1) / 2 ))p")
  read -r WALL U S RSS <<<"$med"
  CPU=$(python3 -c "print(round($U+$S,2))")
  rm -f "$W/rows.$1"
}

# measure NAME CMD... : RUNS runs, median; for one tool alone.
measure() {
  local name=$1; shift
  for _ in $(seq "$RUNS"); do once "$name" "$@"; done
  median "$name"
}

ratio() { python3 -c "a,b=$1,$2; print('%.2f' % (a/b) if b else 'inf')"; }
GIB=1073741824
report_throughput() {  # label curl_wall curl_cpu curl_rss bn_wall bn_cpu bn_rss
  local cg bg
  cg=$(python3 -c "print('%.2f' % ($GIB/$2/2**30))")
  bg=$(python3 -c "print('%.2f' % ($GIB/$5/2**30))")
  printf '%-34s curl %5s GiB/s %5s CPU-s %6s MiB | boardnet %5s GiB/s %5s CPU-s %6s MiB | throughput x%s  CPU x%s  RSS x%s\n' \
    "$1" "$cg" "$3" "$(( $4 / 1024 ))" "$bg" "$6" "$(( $7 / 1024 ))" \
    "$(ratio "$bg" "$cg")" "$(ratio "$6" "$3")" "$(ratio "$7" "$4")"
}

side_by_side() {  # label url dest [extra curl args] -- [extra boardnet args]
  local label=$1 url=$2 dest=$3; shift 3
  local cargs=() bargs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do cargs+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  bargs=("$@")
  # Interleaved (curl, boardnet, curl, ...) so drift on the machine hits both alike.
  for _ in $(seq "$RUNS"); do
    once curl "$CURL" -sf "${cargs[@]}" -o "${dest/@/curl}" "$url"
    once boardnet "$BN" get -s "${bargs[@]}" -o "${dest/@/bn}" "$url"
  done
  median curl; local cw=$WALL cc=$CPU cr=$RSS
  median boardnet
  report_throughput "$label" "$cw" "$cc" "$cr" "$WALL" "$CPU" "$RSS"
}

echo "== results (median of $RUNS runs)"
side_by_side "1 GiB http -> /dev/null" "http://127.0.0.1:$HTTP/big.bin" /dev/null
side_by_side "1 GiB http -> file ($DEST)" "http://127.0.0.1:$HTTP/big.bin" "$DEST/out.@"
side_by_side "1 GiB https aes128gcm -> /dev/null" "https://127.0.0.1:$AES/big.bin" /dev/null \
  --cacert "$W/ca.crt" -- --cacert "$W/ca.crt"
side_by_side "1 GiB https chacha20 -> /dev/null" "https://127.0.0.1:$CHACHA/big.bin" /dev/null \
  --cacert "$W/ca.crt" -- --cacert "$W/ca.crt"

# 1000 keep-alive GETs of 1 KiB in one process, bodies to stdout (/dev/null).
urls=()
for _ in $(seq 1000); do urls+=("http://127.0.0.1:$HTTP/small.bin"); done
for _ in $(seq "$RUNS"); do
  once curl "$CURL" -sf "${urls[@]}"
  once boardnet "$BN" get -s "${urls[@]}"
done
median curl; cw=$WALL cr=$RSS
median boardnet
printf '%-34s curl %6.0f req/s %6s MiB | boardnet %6.0f req/s %6s MiB | req/s x%s\n' "1000 keep-alive GETs (1 KiB)" \
  "$(python3 -c "print(1000/$cw)")" "$(( cr / 1024 ))" "$(python3 -c "print(1000/$WALL)")" "$(( RSS / 1024 ))" \
  "$(ratio "$cw" "$WALL")"

# Process start to one small GET done.
url="http://127.0.0.1:$HTTP/small.bin"
hyperfine -N -w 20 -r 300 --export-json "$W/hf.json" "$CURL -sf -o /dev/null $url" "$BN get -s -o /dev/null $url" >/dev/null 2>&1
read -r cm bm <<<"$(python3 -c "import json; r=json.load(open('$W/hf.json'))['results']; print(r[0]['median']*1000, r[1]['median']*1000)")"
measure "curl start" "$CURL" -sf -o /dev/null "$url"; cr=$RSS
measure "boardnet start" "$BN" get -s -o /dev/null "$url"
printf '%-34s curl %6.2f ms %6s KiB | boardnet %6.2f ms %6s KiB | wall x%s  RSS x%s\n' "start + one small GET (median)" \
  "$cm" "$cr" "$bm" "$RSS" "$(ratio "$bm" "$cm")" "$(ratio "$RSS" "$cr")"

printf '%-34s %s bytes (%s)\n' "boardnet binary (stripped)" "$(stat -c %s "$BN")" "$("$BN" --version)"
