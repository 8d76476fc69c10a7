//! The Python HTTP CONNECT + SOCKS5 proxy (tests/peers/proxy.py).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::echo::{first_line, python3, KillOnDrop};
use super::net::START_TIMEOUT;
use super::workdir::{read_lossy, WorkDir};

/// The script, embedded so the harness does not depend on the current dir.
pub const PROXY_PY: &str = include_str!("proxy.py");

/// HTTP CONNECT and SOCKS5 proxy on one port of 127.0.0.1 (the first byte of a connection
/// picks the protocol). It only connects to loopback targets and resolves only `localhost`
/// (from a fixed table, never DNS). Every connection and request is logged as a JSON line,
/// see [`ProxyServer::events`]. Killed on drop.
pub struct ProxyServer {
    proc_: KillOnDrop,
    port: u16,
    log: PathBuf,
    stderr: PathBuf,
    credentials: Option<(String, String)>,
    _dir: WorkDir,
}

impl ProxyServer {
    /// A proxy without authentication.
    pub fn start() -> ProxyServer {
        ProxyServer::spawn(None)
    }

    /// A proxy that requires `user`/`password`: SOCKS5 username/password authentication
    /// (RFC 1929) and `Proxy-Authorization: Basic …` on HTTP CONNECT (else 407).
    pub fn start_with_auth(user: &str, password: &str) -> ProxyServer {
        ProxyServer::spawn(Some((user.to_string(), password.to_string())))
    }

    fn spawn(credentials: Option<(String, String)>) -> ProxyServer {
        let dir = WorkDir::named("proxy");
        let script = dir.write("proxy.py", PROXY_PY);
        let log = dir.join("events.jsonl");
        let stderr = dir.join("proxy.stderr");
        std::fs::write(&log, b"").unwrap();
        let errf = std::fs::File::create(&stderr).unwrap();
        let python = python3();
        let mut cmd = Command::new(&python);
        cmd.args(["-I", "-S", "-u"])
            .arg(&script)
            .args(["--bind", "127.0.0.1", "--port", "0", "--log"])
            .arg(&log);
        if let Some((u, p)) = &credentials {
            cmd.args(["--user", u, "--password", p]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(errf)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} for the proxy: {}", python, e));
        let mut proc_ = KillOnDrop { child };
        let line = first_line(&mut proc_, START_TIMEOUT);
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse::<u16>().ok());
        let port = match port {
            Some(p) => p,
            None => {
                let status = proc_.child.try_wait().ok().flatten();
                drop(proc_);
                panic!(
                    "proxy did not start (first stdout line {:?}, exit {:?}); stderr:\n{}",
                    line,
                    status,
                    read_lossy(&stderr)
                );
            }
        };
        ProxyServer {
            proc_,
            port,
            log,
            stderr,
            credentials,
            _dir: dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.proc_.child.id()
    }

    /// `SCHEME://127.0.0.1:PORT` (scheme `http`, `socks5` or `socks5h`), without credentials.
    pub fn url(&self, scheme: &str) -> String {
        format!("{}://127.0.0.1:{}", scheme, self.port)
    }

    /// `SCHEME://USER:PASSWORD@127.0.0.1:PORT` with the given credentials (raw: pass only
    /// URL-safe characters).
    pub fn url_with_credentials(&self, scheme: &str, user: &str, password: &str) -> String {
        format!("{}://{}:{}@127.0.0.1:{}", scheme, user, password, self.port)
    }

    /// The credentials it requires, if any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Every logged event so far, one JSON object per entry (as text), in order:
    /// `{"event": "accept", …}` per TCP connection, `{"event": "socks5", "atyp", "host",
    /// "port", "auth", "result"}` per SOCKS5 request, `{"event": "http", "method", "target",
    /// "host", "port", "auth", "result"}` per HTTP proxy request.
    pub fn events(&self) -> Vec<String> {
        read_lossy(&self.log)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Events whose `"event"` is `kind` ("accept", "socks5", "http", "error").
    pub fn events_of(&self, kind: &str) -> Vec<String> {
        let tag = format!("\"event\": \"{}\"", kind);
        self.events()
            .into_iter()
            .filter(|l| l.contains(&tag))
            .collect()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.events_of("accept").len()
    }

    /// Poll (5 ms apart) until at least `n` events of `kind` were logged or `timeout`
    /// passes; returns them.
    pub fn wait_for_events(&self, kind: &str, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let ev = self.events_of(kind);
            if ev.len() >= n || Instant::now() >= deadline {
                return ev;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The proxy's stderr (every event line and Python tracebacks), for failure messages.
    pub fn stderr(&self) -> String {
        read_lossy(&self.stderr)
    }
}
