#!/usr/bin/env python3
"""HTTP/1.1 echo peer for boardnet's integration tests (Python 3 stdlib only).

For ANY method and path it answers with a JSON object describing the request:

    {"method": "POST", "path": "/x", "query": "a=1" | null, "version": "HTTP/1.1",
     "headers": [["Host", "127.0.0.1:1234"], ...],      # received order and case
     "body_len": 5, "body_sha256": "<hex>", "body": "hello" | null,
     "chunked": false,
     "parts": null | [{"name", "filename", "content_type", "headers", "len", "sha256",
                      "text"}]}

Request bodies may use Content-Length or Transfer-Encoding: chunked; they are
hashed while streaming, never held in memory beyond 64 KiB (+ a parser window).
"body" is the body as UTF-8 text when it is shorter than 64 KiB and decodes,
else null. "parts" is filled for multipart/form-data bodies.

Special paths:
    /set-cookie?name=value&...  -> one "Set-Cookie: name=value; Path=/" per pair
    /status/<code>              -> that status code (no body for 204/304)

Keep-alive follows HTTP/1.1 rules (Connection: close, HTTP/1.0 keep-alive);
`Expect: 100-continue` gets an interim "100 Continue". Every response has an
exact Content-Length. Malformed requests get 400 and the connection closes.

Started as `python3 -I -S -u echo_server.py [--bind 127.0.0.1] [--port 0]
[--unix PATH]`; prints "PORT <n>" on stdout once it listens (on the unix
socket too, when asked: nginx proxies to that one). One log line per request goes to
stderr. It avoids http.server on purpose: importing it (email, ssl, ...)
doubles the start-up time.
"""

import hashlib
import json
import socket
import sys
import threading
import time

TEXT_LIMIT = 64 * 1024
READ_CHUNK = 64 * 1024
MAX_LINE = 1 << 20
MAX_HEADERS = 10000

REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
    206: "Partial Content", 301: "Moved Permanently", 302: "Found", 303: "See Other",
    304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required",
    413: "Content Too Large", 418: "I'm a teapot", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}


class BadRequest(Exception):
    pass


class Part:
    def __init__(self, raw_headers):
        self.headers = []
        self.name = None
        self.filename = None
        self.content_type = None
        for line in raw_headers.split(b"\r\n"):
            if not line:
                continue
            k, _, v = line.decode("utf-8", "replace").partition(":")
            k, v = k.strip(), v.strip()
            self.headers.append([k, v])
            if k.lower() == "content-disposition":
                params = parse_header_params(v)
                self.name = params.get("name")
                self.filename = params.get("filename")
            elif k.lower() == "content-type":
                self.content_type = v
        self.len = 0
        self.sha = hashlib.sha256()
        self.head = bytearray()

    def feed(self, data):
        if not data:
            return
        self.len += len(data)
        self.sha.update(data)
        if len(self.head) <= TEXT_LIMIT:
            self.head += data[: TEXT_LIMIT + 1 - len(self.head)]

    def to_json(self):
        return {
            "name": self.name,
            "filename": self.filename,
            "content_type": self.content_type,
            "headers": self.headers,
            "len": self.len,
            "sha256": self.sha.hexdigest(),
            "text": small_text(self.head, self.len),
        }


def parse_header_params(value):
    """Parameters of a header like `form-data; name="a"; filename="b.txt"`."""
    params = {}
    i = value.find(";")
    if i < 0:
        return params
    s = value[i + 1 :]
    while s:
        s = s.lstrip(" \t;")
        if not s:
            break
        k, eq, rest = s.partition("=")
        k = k.strip().lower()
        if not eq:
            break
        rest = rest.lstrip()
        if rest.startswith('"'):
            out, j = [], 1
            while j < len(rest) and rest[j] != '"':
                if rest[j] == "\\" and j + 1 < len(rest):
                    j += 1
                out.append(rest[j])
                j += 1
            params[k] = "".join(out)
            s = rest[j + 1 :]
        else:
            v, _, s = rest.partition(";")
            params[k] = v.strip()
    return params


class MultipartParser:
    """Streaming multipart/form-data parser: memory bounded by the feed size."""

    def __init__(self, boundary):
        self.delim = b"\r\n--" + boundary
        # Pretend a CRLF preceded the body so the first boundary matches delim.
        self.buf = bytearray(b"\r\n")
        self.state = "preamble"  # preamble | after_delim | headers | body | epilogue
        self.part = None
        self.parts = []

    def feed(self, data):
        if self.state == "epilogue":
            return
        self.buf += data
        while True:
            if self.state in ("preamble", "body"):
                i = self.buf.find(self.delim)
                if i < 0:
                    keep = len(self.delim) - 1
                    if len(self.buf) > keep:
                        cut = len(self.buf) - keep
                        if self.part is not None:
                            self.part.feed(bytes(self.buf[:cut]))
                        del self.buf[:cut]
                    return
                if self.part is not None:
                    self.part.feed(bytes(self.buf[:i]))
                    self.parts.append(self.part)
                    self.part = None
                del self.buf[: i + len(self.delim)]
                self.state = "after_delim"
            elif self.state == "after_delim":
                if len(self.buf) < 2:
                    return
                if self.buf[:2] == b"--":
                    self.state = "epilogue"
                    self.buf.clear()
                    return
                i = self.buf.find(b"\r\n")
                if i < 0:
                    if len(self.buf) > 1024:
                        raise BadRequest("garbage after multipart boundary")
                    return
                del self.buf[: i + 2]
                self.state = "headers"
            elif self.state == "headers":
                if self.buf.startswith(b"\r\n"):
                    raw = b""
                    del self.buf[:2]
                else:
                    i = self.buf.find(b"\r\n\r\n")
                    if i < 0:
                        if len(self.buf) > 64 * 1024:
                            raise BadRequest("multipart part headers too long")
                        return
                    raw = bytes(self.buf[:i])
                    del self.buf[: i + 4]
                self.part = Part(raw)
                self.state = "body"
            else:
                return

    def finish(self):
        if self.part is not None:  # unterminated last part: report what came
            self.part.feed(bytes(self.buf))
            self.parts.append(self.part)
            self.part = None
        return [p.to_json() for p in self.parts]


def small_text(head, total_len):
    if total_len >= TEXT_LIMIT:
        return None
    try:
        return bytes(head).decode("utf-8")
    except UnicodeDecodeError:
        return None



def unquote_plus(s):
    s = s.replace("+", " ")
    if "%" not in s:
        return s
    out = bytearray()
    i, b = 0, s.encode("utf-8")
    while i < len(b):
        if b[i] == 0x25 and i + 3 <= len(b):
            try:
                out.append(int(b[i + 1 : i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(b[i])
        i += 1
    return out.decode("utf-8", "replace")


def parse_query(q):
    pairs = []
    for item in (q or "").split("&"):
        if not item:
            continue
        k, _, v = item.partition("=")
        pairs.append((unquote_plus(k), unquote_plus(v)))
    return pairs


class Conn:
    def __init__(self, sock, peer):
        self.sock = sock
        self.peer = peer
        self.rfile = sock.makefile("rb", buffering=READ_CHUNK)

    def readline(self):
        line = self.rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise BadRequest("line too long")
        return line

    def read_exact(self, n, sink):
        while n > 0:
            data = self.rfile.read(min(n, READ_CHUNK))
            if not data:
                raise BadRequest("connection closed inside the request body")
            sink(data)
            n -= len(data)

    def read_crlf_line(self):
        line = self.readline()
        if not line.endswith(b"\n"):
            raise BadRequest("bad chunked framing")
        return line

    def read_body(self, headers, sink):
        te = header(headers, "transfer-encoding")
        if te is not None and "chunked" in te.lower():
            while True:
                line = self.read_crlf_line()
                size_s = line.split(b";", 1)[0].strip()
                try:
                    size = int(size_s, 16)
                except ValueError:
                    raise BadRequest("bad chunk size %r" % size_s)
                if size < 0:
                    raise BadRequest("bad chunk size %r" % size_s)
                if size == 0:
                    while self.read_crlf_line() not in (b"\r\n", b"\n"):
                        pass  # trailers
                    return True
                self.read_exact(size, sink)
                if self.read_crlf_line() not in (b"\r\n", b"\n"):
                    raise BadRequest("missing CRLF after chunk")
        cl = header(headers, "content-length")
        if cl is not None:
            try:
                n = int(cl)
            except ValueError:
                raise BadRequest("bad Content-Length")
            if n < 0:
                raise BadRequest("bad Content-Length")
            self.read_exact(n, sink)
        return False

    def send(self, status, extra, payload, method, keep_alive):
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status")),
                 "Server: boardnet-echo/1",
                 "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())]
        for k, v in extra:
            lines.append("%s: %s" % (k, v))
        if status not in (204, 304):
            lines.append("Content-Type: application/json")
            lines.append("Content-Length: %d" % len(payload))
        else:
            payload = b""
        if not keep_alive:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.sock.sendall(head if method == "HEAD" else head + payload)

    def serve(self):
        try:
            while self.serve_one():
                pass
        except (OSError, ValueError):
            pass
        finally:
            try:
                self.rfile.close()
                self.sock.close()
            except OSError:
                pass

    def serve_one(self):
        """Handle one request; return whether to keep the connection."""
        try:
            line = self.readline()
            while line in (b"\r\n", b"\n"):  # tolerate stray CRLFs between requests
                line = self.readline()
            if not line:
                return False
            words = line.decode("latin-1").rstrip("\r\n").split(" ")
            if len(words) != 3 or not words[2].startswith("HTTP/1."):
                raise BadRequest("bad request line %r" % line[:200])
            method, target, version = words
            headers = []
            while True:
                h = self.readline()
                if not h:
                    return False
                if h in (b"\r\n", b"\n"):
                    break
                if len(headers) >= MAX_HEADERS:
                    raise BadRequest("too many headers")
                name, sep, value = h.decode("latin-1").partition(":")
                if not sep or not name or name != name.strip():
                    raise BadRequest("bad header line %r" % h[:200])
                headers.append([name, value.strip()])
        except BadRequest as e:
            self.error(str(e))
            return False

        conn_tokens = [t.strip().lower() for t in (header(headers, "connection") or "").split(",")]
        if version == "HTTP/1.0":
            keep_alive = "keep-alive" in conn_tokens
        else:
            keep_alive = "close" not in conn_tokens
        if version != "HTTP/1.0" and (header(headers, "expect") or "").lower() == "100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

        path, qmark, query = target.partition("?")
        q = query if qmark else None
        ctype = header(headers, "content-type") or ""
        mp = None
        if ctype.lower().startswith("multipart/form-data"):
            b = parse_header_params(ctype).get("boundary")
            if b:
                mp = MultipartParser(b.encode("latin-1"))

        sha = hashlib.sha256()
        state = {"len": 0, "head": bytearray()}

        def sink(data):
            state["len"] += len(data)
            sha.update(data)
            if len(state["head"]) <= TEXT_LIMIT:
                state["head"] += data[: TEXT_LIMIT + 1 - len(state["head"])]
            if mp is not None:
                mp.feed(data)

        try:
            chunked = self.read_body(headers, sink)
            parts = mp.finish() if mp is not None else None
        except BadRequest as e:
            self.error(str(e))
            return False

        doc = {
            "method": method,
            "path": path,
            "query": q,
            "version": version,
            "headers": headers,
            "body_len": state["len"],
            "body_sha256": sha.hexdigest(),
            "body": small_text(state["head"], state["len"]),
            "chunked": chunked,
            "parts": parts,
        }
        status = 200
        extra = []
        if path.startswith("/status/"):
            try:
                status = int(path[len("/status/"):].split("/")[0])
            except ValueError:
                status = 400
            if not 200 <= status <= 999:
                status = 400
        elif path == "/set-cookie":
            for k, v in parse_query(q):
                extra.append(("Set-Cookie", "%s=%s; Path=/" % (k, v)))
        payload = (json.dumps(doc) + "\n").encode("utf-8")
        self.send(status, extra, payload, method, keep_alive)
        sys.stderr.write('%s "%s %s %s" %d %d\n' % (self.peer, method, target, version, status, state["len"]))
        return keep_alive

    def error(self, msg):
        sys.stderr.write("%s 400 %s\n" % (self.peer, msg))
        payload = (json.dumps({"error": msg}) + "\n").encode("utf-8")
        self.send(400, [], payload, "GET", False)


def header(headers, name):
    """Last value of header `name` (case-insensitive), or None."""
    found = None
    for k, v in headers:
        if k.lower() == name:
            found = v
    return found


def accept_loop(srv, peer_name):
    while True:
        sock, addr = srv.accept()
        if srv.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = addr[0] if peer_name is None else peer_name
        threading.Thread(target=Conn(sock, peer).serve, daemon=True).start()


def main():
    bind, port, unix_path = "127.0.0.1", 0, None
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--bind":
            bind = args.pop(0)
        elif a == "--port":
            port = int(args.pop(0))
        elif a == "--unix":
            unix_path = args.pop(0)
        else:
            sys.exit("usage: echo_server.py [--bind ADDR] [--port N] [--unix PATH]")
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((bind, port))
    srv.listen(128)
    if unix_path is not None:
        usrv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        usrv.bind(unix_path)
        usrv.listen(128)
        threading.Thread(target=accept_loop, args=(usrv, "unix"), daemon=True).start()
    # Both sockets listen: announce the TCP port.
    sys.stdout.write("PORT %d\n" % srv.getsockname()[1])
    sys.stdout.flush()
    accept_loop(srv, None)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
