//! Forced roaming end to end: a client namespace with two links (bnA preferred, bnB backup)
//! to a server namespace whose throttled HTTP server answers Range requests. The preferred
//! link loses its carrier mid-download; `boardnet get --roam` must resume through the other
//! one and finish with the right checksum.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::peers::*;

const T: Duration = Duration::from_secs(60);
const SERVER_ADDRESS: &str = "10.82.0.1";

/// A Range-capable HTTP/1.1 file server that sends 16 KiB every 10 ms (~1.6 MB/s) and logs
/// each request's client address on stderr.
const THROTTLED_SERVER: &str = r#"
import http.server, os, sys, time
path, bind, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        size = os.path.getsize(path)
        start = 0
        r = self.headers.get("Range", "")
        if r.startswith("bytes="):
            start = int(r[6:].split("-")[0])
        sys.stderr.write(f"GET from {self.client_address[0]} at {start}\n"); sys.stderr.flush()
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(size - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(start)
            while True:
                chunk = f.read(16384)
                if not chunk:
                    return
                try:
                    self.wfile.write(chunk); self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.01)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((bind, port), H).serve_forever()
"#;

fn sha256_of(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path), T);
    assert!(out.success(), "{out:?}");
    out.stdout_str()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_download_follows_the_preferred_bearer_and_resumes() {
    let wd = WorkDir::new();
    let client = Netns::new("rcl");
    let server = Netns::new("rsv");
    for (c, s, net) in [("bnA", "svA", "10.80.0"), ("bnB", "svB", "10.81.0")] {
        client.ip_ok(&[
            "link",
            "add",
            c,
            "type",
            "veth",
            "peer",
            "name",
            s,
            "netns",
            server.name(),
        ]);
        client.ip_ok(&["addr", "add", &format!("{net}.2/24"), "dev", c]);
        server.ip_ok(&["addr", "add", &format!("{net}.1/24"), "dev", s]);
        server.ip_ok(&["link", "set", s, "up"]);
        client.ip_ok(&["link", "set", c, "up"]);
    }
    server.ip_ok(&["addr", "add", &format!("{SERVER_ADDRESS}/32"), "dev", "lo"]);
    client.ip_ok(&[
        "route",
        "add",
        "default",
        "via",
        "10.80.0.1",
        "dev",
        "bnA",
        "metric",
        "100",
    ]);
    client.ip_ok(&[
        "route",
        "add",
        "default",
        "via",
        "10.81.0.1",
        "dev",
        "bnB",
        "metric",
        "200",
    ]);

    // 4 MiB of varied bytes: about 2.5 s at the server's pace.
    let image = wd.path().join("image.bin");
    let bytes: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&image, &bytes).unwrap();
    let want = sha256_of(&image);
    std::fs::write(wd.path().join("server.py"), THROTTLED_SERVER).unwrap();
    let log = wd.path().join("server.log");
    let _server = KillOnDrop {
        child: server
            .command("python3")
            .arg(wd.path().join("server.py"))
            .arg(&image)
            .args([SERVER_ADDRESS, "8080"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("python3"),
    };
    let ready = run(
        client.command("python3").args([
            "-c",
            "import socket,time,sys\nfor _ in range(100):\n  try:\n    socket.create_connection(('10.82.0.1',8080),1).close(); sys.exit(0)\n  except OSError: time.sleep(0.05)\nsys.exit(1)",
        ]),
        T,
    );
    assert!(ready.success(), "the server never listened: {ready:?}");

    let dest = wd.path().join("fw.img");
    let part = wd.path().join("fw.img.part");
    let mut get = client
        .boardnet()
        .args(["get", "--roam", "-s", "--sha256", &want, "-o"])
        .arg(&dest)
        .arg(format!("http://{SERVER_ADDRESS}:8080/fw.img"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("boardnet");
    // Mid-download, the preferred link loses its carrier (its far end goes down).
    let deadline = Instant::now() + T;
    while std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) < 512 << 10 {
        assert!(Instant::now() < deadline, "the download never got going");
        assert!(get.try_wait().unwrap().is_none(), "boardnet ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.ip_ok(&["link", "set", "svA", "down"]);
    let out = get.wait_with_output().expect("boardnet output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "boardnet failed: {stderr}");
    assert!(
        stderr.contains("moved from bnA to bnB"),
        "no migration reported: {stderr}"
    );
    assert_eq!(sha256_of(&dest), want, "the resumed file differs");
    assert!(!part.exists(), "the .part file is gone once complete");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("GET from 10.80.0.2 at 0"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with("GET from 10.81.0.2 at ") && !l.ends_with(" at 0")),
        "no ranged request through bnB: {log}"
    );
}

#[test]
fn roam_needs_a_file_and_no_fixed_interface() {
    let out = run_boardnet(["get", "--roam", "http://127.0.0.1:9/x"], T);
    out.assert_code(2);
    assert!(
        out.stderr.contains("--roam needs -o FILE"),
        "{}",
        out.stderr
    );
    let out = run_boardnet(
        [
            "get",
            "--roam",
            "--interface",
            "eth0",
            "-o",
            "/tmp/x",
            "http://127.0.0.1:9/x",
        ],
        T,
    );
    out.assert_code(2);
    assert!(out.stderr.contains("drop --interface"), "{}", out.stderr);
}
