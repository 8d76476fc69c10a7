#!/usr/bin/env python3
"""HTTP CONNECT + SOCKS5 proxy for boardnet's integration tests (Python 3 stdlib only).

One port speaks both protocols: a connection whose first byte is 0x05 is SOCKS5 (RFC 1928,
CONNECT only, with RFC 1929 username/password when --user is given); anything else is HTTP
(CONNECT host:port, or an absolute-form request that is relayed as is to its origin).

Safety: targets are only ever loopback addresses. Host names are looked up in a fixed table
(localhost -> 127.0.0.1); nothing is ever resolved through DNS, and a target outside
127.0.0.0/8 and ::1 is refused (SOCKS reply 2 "not allowed", HTTP 403).

    python3 -I -S -u proxy.py [--bind 127.0.0.1] [--port 0] [--user U --password P]
                              [--log FILE]

With --user/--password, SOCKS5 clients must authenticate with them (a client offering only
"no authentication" gets method 0xff) and HTTP clients must send
`Proxy-Authorization: Basic base64(U:P)` (else 407).

Prints "PORT <n>" on stdout once it listens. Writes one JSON object per line to --log (flushed
at once), so a test can see what the proxy was asked to do:

    {"event": "accept", "peer": "127.0.0.1:5555"}
    {"event": "socks5", "atyp": "domain"|"ipv4"|"ipv6", "host": "localhost", "port": 80,
     "auth": "none"|"ok"|"failed"|"missing", "result": "ok"|"refused"|"unreachable"|...}
    {"event": "http", "method": "CONNECT", "target": "127.0.0.1:443", "host": ..., "port": ...,
     "auth": "none"|"ok"|"failed"|"missing", "result": ...}
"""

import base64
import ipaddress
import json
import socket
import sys
import threading

# The only names this proxy resolves. Never DNS: the tests must not send traffic anywhere.
NAMES = {"localhost": "127.0.0.1", "localhost.": "127.0.0.1"}

USER = None
PASSWORD = None
LOG = None
LOG_LOCK = threading.Lock()
MAX_HEAD = 64 * 1024


def log(**entry):
    line = json.dumps(entry, sort_keys=True)
    with LOG_LOCK:
        if LOG is not None:
            LOG.write(line + "\n")
            LOG.flush()
        sys.stderr.write(line + "\n")


def resolve(host):
    """(ip, None) for a loopback target, or (None, reason)."""
    host = host.strip("[]")
    ip = NAMES.get(host.lower(), host)
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None, "unknown-name"
    if not addr.is_loopback:
        return None, "not-allowed"
    return str(addr), None


def connect(ip, port):
    """A socket to ip:port, or (None, reason)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect((ip, port))
    except ConnectionRefusedError:
        s.close()
        return None, "refused"
    except OSError as e:
        s.close()
        return None, "error: %s" % e
    s.settimeout(None)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s, None


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("peer closed")
        data += chunk
    return data


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def relay(client, upstream, pending=b""):
    if pending:
        upstream.sendall(pending)
    t = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    t.start()
    pump(client, upstream)
    t.join()
    upstream.close()


# ------------------------------------------------------------------------------------ SOCKS5


def socks5(conn):
    entry = {"event": "socks5"}
    ver, nmethods = recv_exact(conn, 2)
    methods = recv_exact(conn, nmethods)
    if USER is not None:
        if 2 not in methods:
            conn.sendall(b"\x05\xff")
            entry.update(auth="missing", result="no-acceptable-method")
            log(**entry)
            return
        conn.sendall(b"\x05\x02")
        sub_ver, ulen = recv_exact(conn, 2)
        user = recv_exact(conn, ulen).decode("utf-8", "replace")
        (plen,) = recv_exact(conn, 1)
        password = recv_exact(conn, plen).decode("utf-8", "replace")
        if user != USER or password != PASSWORD:
            conn.sendall(b"\x01\x01")
            entry.update(auth="failed", user=user, result="auth-failed")
            log(**entry)
            return
        conn.sendall(b"\x01\x00")
        entry["auth"] = "ok"
    else:
        if 0 not in methods:
            conn.sendall(b"\x05\xff")
            entry.update(auth="none", result="no-acceptable-method")
            log(**entry)
            return
        conn.sendall(b"\x05\x00")
        entry["auth"] = "none"
    ver, cmd, _rsv, atyp = recv_exact(conn, 4)
    if atyp == 1:
        host = str(ipaddress.IPv4Address(recv_exact(conn, 4)))
        entry["atyp"] = "ipv4"
    elif atyp == 4:
        host = str(ipaddress.IPv6Address(recv_exact(conn, 16)))
        entry["atyp"] = "ipv6"
    elif atyp == 3:
        (n,) = recv_exact(conn, 1)
        host = recv_exact(conn, n).decode("utf-8", "replace")
        entry["atyp"] = "domain"
    else:
        entry.update(result="bad-atyp")
        log(**entry)
        conn.sendall(b"\x05\x08\x00\x01\x00\x00\x00\x00\x00\x00")
        return
    port = int.from_bytes(recv_exact(conn, 2), "big")
    entry.update(host=host, port=port)
    fail = b"\x00\x01\x00\x00\x00\x00\x00\x00"
    if cmd != 1:
        entry.update(result="command-not-supported")
        log(**entry)
        conn.sendall(b"\x05\x07" + fail)
        return
    ip, why = resolve(host)
    if ip is None:
        entry.update(result=why)
        log(**entry)
        conn.sendall((b"\x05\x02" if why == "not-allowed" else b"\x05\x04") + fail)
        return
    upstream, why = connect(ip, port)
    if upstream is None:
        entry.update(result=why)
        log(**entry)
        conn.sendall((b"\x05\x05" if why == "refused" else b"\x05\x01") + fail)
        return
    entry.update(result="ok")
    log(**entry)
    bound_ip, bound_port = upstream.getsockname()[:2]
    if ":" in bound_ip:
        bound = b"\x04" + ipaddress.IPv6Address(bound_ip).packed
    else:
        bound = b"\x01" + ipaddress.IPv4Address(bound_ip).packed
    conn.sendall(b"\x05\x00\x00" + bound + bound_port.to_bytes(2, "big"))
    relay(conn, upstream)


# ------------------------------------------------------------------------------------ HTTP


def http_reply(conn, status, reason, extra=""):
    conn.sendall(
        (
            "HTTP/1.1 %d %s\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n"
            % (status, reason, extra)
        ).encode()
    )


def split_host_port(authority, default_port):
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif authority.count(":") == 1:
        host, _, port = authority.partition(":")
    else:
        host, port = authority, ""
    return host, int(port) if port else default_port


def http_proxy(conn):
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_HEAD:
            return http_reply(conn, 431, "Request Header Fields Too Large")
        chunk = conn.recv(65536)
        if not chunk:
            return
        buf += chunk
    end = buf.index(b"\r\n\r\n") + 4
    head, rest = buf[:end], buf[end:]
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        return http_reply(conn, 400, "Bad Request")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    entry = {"event": "http", "method": method, "target": target}
    if method.upper() == "CONNECT":
        host, port = split_host_port(target, 443)
    elif target.lower().startswith("http://"):
        host, port = split_host_port(target[7:].split("/", 1)[0], 80)
    else:
        entry.update(result="not-a-proxy-request")
        log(**entry)
        return http_reply(conn, 400, "Bad Request")
    entry.update(host=host, port=port)
    if USER is not None:
        given = headers.get("proxy-authorization")
        want = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
        if given is None or given != want:
            entry.update(auth="missing" if given is None else "failed", result="407")
            log(**entry)
            return http_reply(
                conn,
                407,
                "Proxy Authentication Required",
                'Proxy-Authenticate: Basic realm="boardnet test proxy"\r\n',
            )
        entry["auth"] = "ok"
    else:
        entry["auth"] = "none"
    ip, why = resolve(host)
    if ip is None:
        entry.update(result=why)
        log(**entry)
        if why == "not-allowed":
            return http_reply(conn, 403, "Forbidden")
        return http_reply(conn, 502, "Bad Gateway")
    upstream, why = connect(ip, port)
    if upstream is None:
        entry.update(result=why)
        log(**entry)
        return http_reply(conn, 502, "Bad Gateway")
    entry.update(result="ok")
    log(**entry)
    if method.upper() == "CONNECT":
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        relay(conn, upstream, rest)
    else:
        # Absolute-form request: origin servers (nginx) accept it as is.
        relay(conn, upstream, head + rest)


# ------------------------------------------------------------------------------------ main


def serve(conn, peer):
    try:
        log(event="accept", peer="%s:%d" % peer[:2])
        first = conn.recv(1, socket.MSG_PEEK)
        if not first:
            return
        if first[0] == 5:
            socks5(conn)
        else:
            http_proxy(conn)
    except (OSError, EOFError, ValueError) as e:
        log(event="error", error=str(e))
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    global USER, PASSWORD, LOG
    bind, port = "127.0.0.1", 0
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--bind":
            bind = args.pop(0)
        elif a == "--port":
            port = int(args.pop(0))
        elif a == "--user":
            USER = args.pop(0)
        elif a == "--password":
            PASSWORD = args.pop(0)
        elif a == "--log":
            LOG = open(args.pop(0), "a", encoding="utf-8")
        else:
            sys.exit(
                "usage: proxy.py [--bind ADDR] [--port N] [--user U --password P] [--log FILE]"
            )
    if USER is not None and PASSWORD is None:
        PASSWORD = ""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((bind, port))
    srv.listen(128)
    sys.stdout.write("PORT %d\n" % srv.getsockname()[1])
    sys.stdout.flush()
    while True:
        conn, peer = srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(conn, peer), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
