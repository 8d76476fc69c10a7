//! The Python echo server (tests/peers/echo_server.py).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use super::net::START_TIMEOUT;
use super::process::under_qemu_user;
use super::workdir::{read_lossy, WorkDir};

/// The script, embedded so the harness does not depend on the current dir.
pub const ECHO_SERVER_PY: &str = include_str!("echo_server.py");

/// The Python used for the echo server: `$BOARDNET_TEST_PYTHON`, else
/// /usr/bin/python3 (Debian's; starts in ~35 ms where a pyenv shim in PATH
/// takes ~150 ms), else `python3` from PATH. The script needs the stdlib only.
pub fn python3() -> String {
    if let Some(p) = std::env::var_os("BOARDNET_TEST_PYTHON") {
        return p.to_string_lossy().into_owned();
    }
    if Path::new("/usr/bin/python3").is_file() {
        return "/usr/bin/python3".into();
    }
    "python3".into()
}

/// A child process killed (SIGKILL, by PID) and reaped on drop.
pub struct KillOnDrop {
    pub child: Child,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HTTP/1.1 echo peer on 127.0.0.1 (see echo_server.py for the JSON it
/// returns). Killed on drop.
pub struct EchoServer {
    proc_: KillOnDrop,
    port: u16,
    log: PathBuf,
    _dir: WorkDir,
}

impl EchoServer {
    /// Start on a port the server picks itself (no port race); returns once
    /// it listens. Panics with its log if it does not start.
    pub fn start() -> EchoServer {
        EchoServer::spawn(None)
    }

    /// Like `start`, also listening on the unix socket `path` (nginx proxies
    /// to it, so nginx can start before the echo server's TCP port is known).
    pub fn start_with_unix_socket(path: &Path) -> EchoServer {
        EchoServer::spawn(Some(path))
    }

    fn spawn(unix: Option<&Path>) -> EchoServer {
        let dir = WorkDir::named("echo");
        let script = dir.write("echo_server.py", ECHO_SERVER_PY);
        let log = dir.join("echo.log");
        // A silent start under qemu-user is a fork that never reached its exec: again.
        let attempts = if under_qemu_user() { 4 } else { 1 };
        for attempt in 1..=attempts {
            let mut proc_ = spawn_python(&script, unix, &log);
            let line = first_line(&mut proc_, START_TIMEOUT);
            if let Some(port) = line
                .trim()
                .strip_prefix("PORT ")
                .and_then(|p| p.parse().ok())
            {
                return EchoServer {
                    proc_,
                    port,
                    log,
                    _dir: dir,
                };
            }
            let status = proc_.child.try_wait().ok().flatten();
            drop(proc_);
            let silent = line.is_empty() && status.is_none() && read_lossy(&log).is_empty();
            if !silent || attempt == attempts {
                panic!(
                    "echo server did not start (first stdout line {:?}, exit {:?}); log:\n{}",
                    line,
                    status,
                    read_lossy(&log)
                );
            }
            eprintln!(
                "[peers] the echo server did not start under qemu-user (attempt {attempt}); again"
            );
        }
        unreachable!("the last attempt panics")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.proc_.child.id()
    }

    /// `http://127.0.0.1:PORT<path>` (`path` starts with '/').
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The server's request log (stderr) so far.
    pub fn log(&self) -> String {
        read_lossy(&self.log)
    }
}

/// The echo server script started with its stderr to `log`, stdout piped.
fn spawn_python(script: &Path, unix: Option<&Path>, log: &Path) -> KillOnDrop {
    let logf = std::fs::File::create(log).unwrap();
    // -I -S: no site-packages (.pth hooks cost ~35 ms at start), stdlib only.
    let python = python3();
    let child = Command::new(&python)
        .args(["-I", "-S", "-u"])
        .arg(script)
        .args(["--bind", "127.0.0.1", "--port", "0"])
        .args(
            unix.map(|p| vec![OsStr::new("--unix"), p.as_os_str()])
                .unwrap_or_default(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(logf)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {} for the echo server: {}", python, e));
    KillOnDrop { child }
}

/// The child's first stdout line (its stdout piped), or "" if none comes within `timeout`.
pub fn first_line(proc_: &mut KillOnDrop, timeout: std::time::Duration) -> String {
    let stdout = proc_.child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(timeout).unwrap_or_default()
}
