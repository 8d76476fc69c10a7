//! The daemon under test and the namespaces it runs in.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::peers::*;

pub const T: Duration = Duration::from_secs(60);
pub const SERVER_ADDRESS: &str = TWO_LINKS_SERVER;

/// A running `boardnet daemon` with its own control socket, state and hooks directories.
pub struct Daemon {
    child: Option<Child>,
    command: Vec<String>,
    ns: String,
    env: Vec<(String, String)>,
    pub control: PathBuf,
    pub state: PathBuf,
    pub hooks: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// Start in `ns` with the lab's directories under `wd` and `extra` settings.
    pub fn start(ns: &Netns, wd: &WorkDir, extra: &[&str]) -> Daemon {
        Daemon::start_with_env(ns, wd, extra, &[])
    }

    pub fn start_with_env(
        ns: &Netns,
        wd: &WorkDir,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Daemon {
        let control = wd.join("run/control");
        let state = wd.join("state");
        let hooks = wd.join("hooks");
        std::fs::create_dir_all(&hooks).unwrap();
        let mut command: Vec<String> = [
            "daemon",
            "--config",
            "/dev/null",
            "--control",
            control.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "--hooks",
            hooks.to_str().unwrap(),
            "-v",
        ]
        .map(String::from)
        .to_vec();
        command.extend(extra.iter().map(|s| s.to_string()));
        let mut d = Daemon {
            child: None,
            command,
            ns: ns.name().to_string(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            control,
            state,
            hooks,
            log: wd.join("daemon.log"),
        };
        d.launch(ns);
        d
    }

    fn launch(&mut self, ns: &Netns) {
        assert_eq!(ns.name(), self.ns);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = ns.boardnet();
        cmd.args(&self.command)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Some(cmd.spawn().expect("boardnet daemon"));
        let deadline = Instant::now() + T;
        loop {
            if self.ctl(&["version"]).success() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the daemon ended ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the daemon never answered:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start it again (after [`kill9`](Self::kill9) or [`terminate`](Self::terminate)).
    pub fn restart(&mut self, ns: &Netns) {
        self.launch(ns);
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// `boardnet ctl --control … ARGS` (outside the namespace: the socket is a file).
    pub fn ctl_command(&self, args: &[&str]) -> Command {
        let mut c = boardnet();
        c.arg("ctl").arg("--control").arg(&self.control).args(args);
        c
    }

    pub fn ctl(&self, args: &[&str]) -> RunOutput {
        run(&mut self.ctl_command(args), T)
    }

    /// `ctl --json ARGS`, which must succeed, as one JSON value (several lines: an array).
    pub fn ctl_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ctl(&all);
        assert!(out.success(), "ctl {args:?}: {out:?}\n{}", self.log());
        let values: Vec<Value> = out
            .stdout_str()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        match values.len() {
            1 if args[0] != "jobs" => values.into_iter().next().unwrap(),
            _ => Value::Array(values),
        }
    }

    /// A job's state, polled until `want` holds.
    pub fn wait_job(&self, id: u64, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + T;
        loop {
            let job = self.ctl_json(&["job", &id.to_string()]);
            if want(&job) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never {what}: {job}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill9(&mut self) {
        let mut child = self.child.take().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM; the exit code and how long it took.
    pub fn terminate(&mut self) -> (Option<i32>, Duration) {
        let mut child = self.child.take().unwrap();
        let t0 = Instant::now();
        // SAFETY: kill(2) on our own child's PID.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        while t0.elapsed() < T {
            if let Some(status) = child.try_wait().unwrap() {
                return (status.code(), t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        (None, t0.elapsed())
    }

    pub fn log(&self) -> String {
        read_lossy(&self.log)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A hook script (root's, mode 0755) that appends `NAME EVENT` and the given variables to
/// `out`, one line per run.
pub fn recording_hook(dir: &std::path::Path, name: &str, out: &std::path::Path, vars: &[&str]) {
    let fields: String = vars.iter().map(|v| format!(" {v}=${v}")).collect();
    let script = format!(
        "#!/bin/sh\necho \"{name} $1{fields}\" >> {}\n",
        out.display()
    );
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// `n` bytes of varied data written to `path`; its SHA-256.
pub fn image(path: &std::path::Path, n: usize) -> String {
    let data = pseudo_random(n, 7);
    std::fs::write(path, &data).unwrap();
    sha256_hex(&data)
}

/// `http://SERVER:8080/NAME` on the lab's server.
pub fn url(name: &str) -> String {
    format!("http://{SERVER_ADDRESS}:8080/{name}")
}

/// Bytes in `DEST.part` (0 when there is none).
pub fn part_len(dest: &std::path::Path) -> u64 {
    std::fs::metadata(boardnet::fs::part_path(dest)).map_or(0, |m| m.len())
}

/// Wait until `DEST.part` holds at least `bytes`.
pub fn wait_for_part(d: &Daemon, dest: &std::path::Path, bytes: u64) {
    let deadline = Instant::now() + T;
    while part_len(dest) < bytes {
        assert!(
            Instant::now() < deadline,
            "the transfer never got going:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Two links, and the paced server (`chunk` bytes every 10 ms) in the server namespace
/// serving `name`: `size` bytes of varied data under `wd/www`. The file's SHA-256.
pub fn served(
    tag: &str,
    wd: &WorkDir,
    name: &str,
    size: usize,
    chunk: usize,
) -> (TwoLinks, ThrottledServer, String) {
    let links = TwoLinks::new(tag);
    let www = wd.mkdir("www");
    let sha256 = image(&www.join(name), size);
    let http = ThrottledServer::start(
        &links.server,
        &links.client,
        &www,
        SERVER_ADDRESS,
        8080,
        chunk,
    );
    (links, http, sha256)
}

/// Submit `fetch URL(name) -o DEST EXTRA…` with `ctl --json`; the job's id.
pub fn fetch(d: &Daemon, name: &str, dest: &std::path::Path, extra: &[&str]) -> u64 {
    let u = url(name);
    let mut args = vec!["fetch", &u, "-o", dest.to_str().unwrap()];
    args.extend_from_slice(extra);
    d.ctl_json(&args)["id"].as_u64().expect("a job id")
}
