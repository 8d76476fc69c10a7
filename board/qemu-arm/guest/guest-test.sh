#!/bin/sh
# The checks inside the QEMU test board. The host's peers are named on the kernel command line
# (boardnet.http=HOST:PORT boardnet.sha256=HEX boardnet.dns=HOST:PORT boardnet.name=NAME
# boardnet.addr=ADDR). Prints one line per check and a final "BOARDNET-GUEST: PASS" or
# "BOARDNET-GUEST: FAIL (n of m)", then powers the board off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^boardnet\.$1=//p"; }
HTTP=$(arg http) SHA=$(arg sha256) DNS=$(arg dns) NAME=$(arg name) ADDR=$(arg addr)
total=0 failed=0
check() {  # check NAME COMMAND... : the command's status decides
  name=$1; shift
  total=$((total + 1))
  if out=$("$@" 2>&1); then
    echo "guest check: $name: ok"
  else
    failed=$((failed + 1))
    echo "guest check: $name: FAILED"
    echo "$out" | sed 's/^/    | /' | tail -n 15
  fi
}
status_has_eth0() { boardnet status | tee /dev/stderr | grep -q 'eth0.*10\.0\.2\.15'; }
init_script_status() { /etc/init.d/S40boardnet status | tee /dev/stderr | grep -q 'is running' && /etc/init.d/S40boardnet status | grep -q 'eth0.*10\.0\.2\.15'; }
daemon_status() { boardnet ctl --json status | tee /dev/stderr | grep -q '"default":"netlink:eth0"'; }
daemon_fetch() { boardnet ctl fetch "http://$HTTP/payload.bin" -o /tmp/queued.bin --sha256 "$SHA" --wait && [ -f /tmp/queued.bin ] && [ ! -f /tmp/queued.bin.part ] && boardnet ctl jobs | grep -q 'done'; }
get_verified() { boardnet get -s --sha256 "$SHA" -o /tmp/payload.bin "http://$HTTP/payload.bin" && [ -f /tmp/payload.bin ] && [ ! -f /tmp/payload.bin.part ]; }
dns_lookup() { [ "$(boardnet dns -s "$DNS" -t A "$NAME")" = "$ADDR" ]; }
sctp_echo() {
  boardnet listen sctp://127.0.0.1:9000 --echo & pid=$!
  for _ in $(seq 50); do grep -qw 9000 /proc/net/sctp/eps 2>/dev/null && break; sleep 0.1; done
  reply=$(echo sctp-hello | boardnet connect sctp://127.0.0.1:9000 --idle-timeout 3)
  kill $pid
  [ "$reply" = sctp-hello ]
}
wifi_radios() { ip link set wlan0 up && boardnet wifi status | tee /dev/stderr | grep -q wlan0 && boardnet wifi status | grep -q wlan1 && boardnet wifi scan --trigger --interface wlan0 --timeout 10; }

echo "guest: boardnet $(boardnet --version)"
check "status lists eth0 with its address" status_has_eth0
check "wait-online returns" boardnet wait-online --timeout 20
check "init script: the daemon runs" init_script_status
check "daemon: ctl status" daemon_status
check "daemon: ctl wait-online" boardnet ctl wait-online --timeout 20
check "daemon: a queued fetch, verified" daemon_fetch
check "get from the host, verified" get_verified
check "dns against the host's server" dns_lookup
check "SCTP listen/connect" sctp_echo
check "wifi sees the hwsim radios" wifi_radios
check "daemon: ctl open (a child command)" boardnet ctl open netlink:eth0
check "daemon: ctl scan (a child command)" boardnet ctl scan
if [ "$failed" = 0 ]; then
  echo "BOARDNET-GUEST: PASS ($total checks)"
else
  echo "BOARDNET-GUEST: FAIL ($failed of $total checks)"
fi
sync
poweroff -f
