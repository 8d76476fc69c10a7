//! `boardnet --json listen …` as a background peer: started, its listening URL read from the
//! first JSON event, its later events collected, killed on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::peers::boardnet;

pub struct Listen {
    child: Child,
    stdin: Option<ChildStdin>,
    pub url: String,
    /// `address` of the listening event (`127.0.0.1:PORT`, a path, `@name`).
    pub address: String,
    events: Arc<Mutex<Vec<Value>>>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr_text: Arc<Mutex<String>>,
}

impl Listen {
    /// `boardnet --json listen ARGS` with stdin closed.
    pub fn start(args: &[&str]) -> Listen {
        let mut cmd = boardnet();
        cmd.arg("--json").arg("listen").args(args);
        Listen::spawn(cmd, false)
    }

    /// The same with a pipe to its stdin (for --stdio).
    pub fn start_with_stdin(args: &[&str]) -> Listen {
        let mut cmd = boardnet();
        cmd.arg("--json").arg("listen").args(args);
        Listen::spawn(cmd, true)
    }

    /// Any command that ends in `boardnet --json listen …` (run in a namespace, as a user).
    pub fn spawn(mut cmd: Command, with_stdin: bool) -> Listen {
        cmd.stdin(if with_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start boardnet listen");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let stderr_text = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let events = Arc::clone(&events);
            let text = Arc::clone(&stderr_text);
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    text.lock().unwrap().push_str(&format!("{line}\n"));
                    if let Ok(v) = serde_json::from_str::<Value>(&line) {
                        if v["event"] == "listening" {
                            if let Some(tx) = tx.take() {
                                let _ = tx.send(v.clone());
                            }
                        }
                        events.lock().unwrap().push(v);
                    }
                }
            });
        }
        let out = Arc::new(Mutex::new(Vec::new()));
        {
            let out = Arc::clone(&out);
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = stdout.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        let listening = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(v) => v,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "boardnet listen did not start ({status:?}):\n{}",
                    stderr_text.lock().unwrap()
                );
            }
        };
        Listen {
            child,
            stdin,
            url: listening["url"].as_str().unwrap_or_default().to_string(),
            address: listening["address"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            events,
            stdout: out,
            stderr_text,
        }
    }

    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in the URL")
    }

    /// The URL with another host (e.g. to reach a tls:// server by the name in its certificate).
    #[cfg(feature = "tls")]
    pub fn url_with_host(&self, host: &str) -> String {
        let scheme = self.url.split("://").next().unwrap_or("tcp");
        format!("{scheme}://{host}:{}", self.port())
    }

    pub fn write_stdin(&mut self, data: &[u8]) {
        self.stdin
            .as_mut()
            .expect("started with stdin")
            .write_all(data)
            .unwrap();
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Events so far (JSON objects from stderr).
    pub fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    /// Wait until an event satisfies `want` (or panic with all of stderr).
    pub fn wait_event(&self, timeout: Duration, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self.events().into_iter().find(|v| want(v)) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "no such event from boardnet listen; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn stdout(&self) -> Vec<u8> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr_text.lock().unwrap().clone()
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Wait for the process to exit; its exit code (None: killed by a signal or timed out).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader threads drain what the process wrote last.
                std::thread::sleep(Duration::from_millis(20));
                return status.code();
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Listen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
