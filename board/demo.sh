#!/bin/bash
# The main job, end to end on this machine: what an OTA agent on a board does with boardnet.
# Builds boardnet (release), serves a 64 MiB "firmware image" over HTTPS from a local nginx with
# a CA made here, then: a download cut short by --max-time (kept as FILE.part), a resume of it
# with a Range request (-C -) verified with --sha256 before the rename, and a wrong checksum
# (exit 10, nothing installed). Prints each step and PASS/FAIL; exit 0 only if all pass.
# Needs root only to install nginx/openssl/curl if missing (apt).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tests/setup.sh"
(cd "$root" && cargo build --release --locked -q)
BN=$root/target/release/boardnet

W=$(mktemp -d /tmp/boardnet-demo.XXXXXX)
cleanup() { [ -s "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=demo-ca -keyout "$W/ca.key" -out "$W/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
  -keyout "$W/srv.key" -out "$W/srv.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$W/san"
openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
  -extfile "$W/san" -out "$W/srv.crt" 2>/dev/null
mkdir -p "$W/www" "$W/board"
head -c $((64 << 20)) /dev/urandom > "$W/www/fw-2.1.img"
SHA=$(sha256sum "$W/www/fw-2.1.img" | cut -d' ' -f1)
cat > "$W/nginx.conf" <<EOF
daemon on; user root; worker_processes 1; pid $W/nginx.pid; error_log $W/error.log;
events {}
http {
  access_log off;
  server {
    listen 127.0.0.1:$PORT ssl;
    ssl_certificate $W/srv.crt; ssl_certificate_key $W/srv.key;
    root $W/www;
    location /fw/ { alias $W/www/; limit_rate 32m; }
  }
}
EOF
nginx -p "$W" -c "$W/nginx.conf" -e "$W/error.log"
for _ in $(seq 50); do [ -s "$W/nginx.pid" ] && break; sleep 0.1; done
URL=https://127.0.0.1:$PORT/fw/fw-2.1.img
IMG=$W/board/fw.img
fail=0
check() { if eval "$2"; then echo "PASS  $1"; else echo "FAIL  $1"; fail=1; fi; }

echo "== 1. download cut short after 0.5 s (the LTE link dropped)"
set +e; "$BN" get --cacert "$W/ca.crt" -m 0.5 -o "$IMG" "$URL"; rc=$?; set -e
check "exit code 5 (timeout)" '[ $rc = 5 ]'
check "no fw.img that looks complete" '[ ! -e "$IMG" ]'
check "fw.img.part kept ($(stat -c %s "$IMG.part" 2>/dev/null || echo 0) bytes)" '[ -s "$IMG.part" ]'

echo "== 2. resume with -C -, verify --sha256, rename into place"
"$BN" get --json --cacert "$W/ca.crt" -C - --sha256 "$SHA" -o "$IMG" "$URL" > "$W/result.json"
cat "$W/result.json"
check "status 206, resumed" 'grep -q "\"status\":206" "$W/result.json"'
check "fw.img is the image" '[ "$(sha256sum < "$IMG" | cut -d" " -f1)" = "$SHA" ]'
check "no .part left" '[ ! -e "$IMG.part" ]'

echo "== 3. a wrong checksum installs nothing"
rm -f "$IMG"
set +e; "$BN" get --cacert "$W/ca.crt" --sha256 "$(printf '0%.0s' $(seq 64))" -o "$IMG" "$URL"; rc=$?; set -e
check "exit code 10 (checksum mismatch)" '[ $rc = 10 ]'
check "no fw.img" '[ ! -e "$IMG" ]'

echo "== 4. an untrusted server is refused"
set +e; "$BN" get -o "$IMG" "$URL"; rc=$?; set -e
check "exit code 6 (TLS: unknown issuer)" '[ $rc = 6 ]'

[ $fail = 0 ] && echo "demo: all steps passed" || { echo "demo: FAILED"; exit 1; }
