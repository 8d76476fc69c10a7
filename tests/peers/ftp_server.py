"""A scripted FTP server for boardnet's tests, on pyftpdlib (Debian's python3-pyftpdlib).

Users: user/pass (full rights) and reader/readonly (list and download only), both rooted at
--root. Prints the port it listens on, then serves until killed. Options make it misbehave the
ways real servers do: --throttle (slow data, to cut or stall a transfer mid-file), --no-epsv
(old servers), --masquerade ADDR (a server behind NAT announcing its private address in PASV),
--no-mlsd (LIST only)."""
import argparse
import logging

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, ThrottledDTPHandler
from pyftpdlib.servers import FTPServer

p = argparse.ArgumentParser()
p.add_argument("--root", required=True)
p.add_argument("--port", type=int, default=0)
p.add_argument("--throttle", type=int, default=0, help="bytes/s on data connections")
p.add_argument("--no-epsv", action="store_true")
p.add_argument("--masquerade")
p.add_argument("--no-mlsd", action="store_true")
a = p.parse_args()

logging.basicConfig(level=logging.INFO)
auth = DummyAuthorizer()
auth.add_user("user", "pass", a.root, perm="elradfmwMT")
auth.add_user("reader", "readonly", a.root, perm="elr")


class Handler(FTPHandler):
    authorizer = auth
    banner = "boardnet test server ready."


if a.no_epsv:
    def ftp_EPSV(self, line):
        self.respond("502 EPSV not implemented here.")
    Handler.ftp_EPSV = ftp_EPSV
if a.no_mlsd:
    Handler.proto_cmds = {k: v for k, v in FTPHandler.proto_cmds.items()
                          if k not in ("MLSD", "MLST")}
if a.throttle:
    class Slow(ThrottledDTPHandler):
        read_limit = a.throttle
        write_limit = a.throttle
    Handler.dtp_handler = Slow
if a.masquerade:
    Handler.masquerade_address = a.masquerade

server = FTPServer(("127.0.0.1", a.port), Handler)
print(server.address[1], flush=True)
server.serve_forever()
