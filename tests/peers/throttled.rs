//! A Range-capable HTTP/1.1 file server with a paced body, for transfers that must still be
//! running when a link drops or a process is killed. It logs every request (method, client
//! address, start offset) on stderr, and stores PUT/POST bodies under `uploads/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::{run, KillOnDrop, Netns};

/// argv: DIR BIND PORT CHUNK — serves DIR/NAME, CHUNK bytes every 10 ms.
const THROTTLED_SERVER_PY: &str = r#"
import http.server, os, sys, time
root, bind, port, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        path = os.path.join(root, os.path.basename(self.path))
        if not os.path.isfile(path):
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        size = os.path.getsize(path)
        start = 0
        r = self.headers.get("Range", "")
        if r.startswith("bytes="):
            start = int(r[6:].split("-")[0])
        sys.stderr.write(f"GET from {self.client_address[0]} at {start}\n"); sys.stderr.flush()
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(size - start))
        self.send_header("ETag", '"%d"' % size)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(start)
            while True:
                data = f.read(chunk)
                if not data:
                    return
                try:
                    self.wfile.write(data); self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.01)
    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        os.makedirs(os.path.join(root, "uploads"), exist_ok=True)
        with open(os.path.join(root, "uploads", os.path.basename(self.path)), "wb") as f:
            f.write(body)
        sys.stderr.write(f"{self.command} from {self.client_address[0]} {len(body)} bytes\n"); sys.stderr.flush()
        self.send_response(201); self.send_header("Content-Length", "0"); self.end_headers()
    do_POST = do_PUT
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((bind, port), H).serve_forever()
"#;

/// The paced server, killed on drop.
pub struct ThrottledServer {
    _process: KillOnDrop,
    log: PathBuf,
}

impl ThrottledServer {
    /// Serve `dir` on `bind:port` inside `ns`, `chunk` bytes every 10 ms; returns once it
    /// accepts connections (checked from `client`).
    pub fn start(
        ns: &Netns,
        client: &Netns,
        dir: &Path,
        bind: &str,
        port: u16,
        chunk: usize,
    ) -> Self {
        let script = dir.join("throttled_server.py");
        std::fs::write(&script, THROTTLED_SERVER_PY).unwrap();
        let log = dir.join("throttled_server.log");
        let process = KillOnDrop {
            child: ns
                .command("python3")
                .arg(&script)
                .arg(dir)
                .args([bind, &port.to_string(), &chunk.to_string()])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("python3"),
        };
        let probe = format!(
            "import socket,time,sys\nfor _ in range(100):\n  try:\n    socket.create_connection(('{bind}',{port}),1).close(); sys.exit(0)\n  except OSError: time.sleep(0.05)\nsys.exit(1)"
        );
        let ready = run(
            client.command("python3").args(["-c", &probe]),
            Duration::from_secs(30),
        );
        assert!(
            ready.success(),
            "the throttled server never listened: {ready:?}"
        );
        ThrottledServer {
            _process: process,
            log,
        }
    }

    /// The request log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
