#!/bin/bash
# Installs what the tests run against (quiet, idempotent): nginx, socat, openssl, curl,
# python3 (echo and proxy peers), iproute2 (network namespaces), util-linux (unshare), time,
# nsd and knot (DNS servers), dig and kdig (DNS oracles), hostapd and wpa_supplicant (Wi-Fi
# peers, run inside the QEMU test guest), connman + dbus + dnsmasq + ethtool (a real ConnMan
# on a private bus), python3-dbus + python3-gi (a scripted oFono), vsftpd + pyftpdlib (FTP
# peers), squid + tinyproxy (forward proxies in their packaged configuration), apache2 +
# lighttpd + python3-httpbin (more HTTP servers: validators, ranges, content encoding, Digest
# authentication), strace (bench), groff (man pages are linted), and the QEMU test guest.
# Run as root on Debian/Ubuntu; a second run does nothing.
set -eu
need=()
for pair in nginx:nginx socat:socat openssl:openssl curl:curl python3:python3 ip:iproute2 \
            unshare:util-linux nsd:nsd knotd:knot dig:dnsutils kdig:knot-dnsutils \
            hostapd:hostapd wpa_supplicant:wpasupplicant strace:strace \
            connmand:connman dbus-daemon:dbus dnsmasq:dnsmasq-base ethtool:ethtool \
            NetworkManager:network-manager nmcli:network-manager \
            vsftpd:vsftpd useradd:passwd chpasswd:passwd pkill:procps \
            squid:squid tinyproxy:tinyproxy apache2:apache2 lighttpd:lighttpd groff:groff-base; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
[ -x /usr/bin/time ] || need+=(time)   # GNU time: peak RSS in memory tests
# The scripted oFono peer runs on Debian's python3 with its D-Bus and GLib bindings.
/usr/bin/python3 -c 'import dbus, gi' 2>/dev/null || need+=(python3-dbus python3-gi)
# The scripted FTP peer (tests/peers/ftp_server.py) is pyftpdlib on the same python3.
/usr/bin/python3 -c 'import pyftpdlib' 2>/dev/null || need+=(python3-pyftpdlib)
# httpbin (Digest with SHA-256, gzip/deflate bodies) on the same python3.
/usr/bin/python3 -c 'import httpbin' 2>/dev/null || need+=(python3-httpbin)
if [ ${#need[@]} -gt 0 ]; then
  echo "tests/setup.sh: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Package scripts would start the servers they install (squid, apache2, ...): the tests
  # start their own on free ports, so forbid that while installing.
  policy=/usr/sbin/policy-rc.d
  own_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
  fi
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  [ -z "$own_policy" ] || rm -f "$policy"
fi
# The x86_64 QEMU guest (Debian's kernel with SCTP and mac80211_hwsim modules) for the tests
# this host's kernel cannot run; idempotent, under a second when current. It says on stderr what
# it installs and downloads; its summary line on stdout is not needed here.
"$(dirname "$0")/../board/qemu-x64/setup.sh" >/dev/null
