//! Running programs (boardnet, curl, …) with a timeout, and privilege checks.

use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The boardnet binary under test (`CARGO_BIN_EXE_boardnet`).
pub fn boardnet_path() -> &'static str {
    env!("CARGO_BIN_EXE_boardnet")
}

/// Proxy variables cleared by `boardnet()` so tests are hermetic (a test of
/// proxy support sets the ones it wants again with `.env(..)`).
pub const PROXY_ENV_VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// The command line that runs the boardnet under test: its path, behind
/// `$BOARDNET_TEST_RUNNER` when set — the emulator an ARM test run uses
/// (board/test-arm.sh: `qemu-aarch64-static -L /usr/aarch64-linux-gnu`),
/// since this machine cannot execute ARM binaries directly.
pub fn boardnet_argv() -> Vec<String> {
    let mut argv: Vec<String> = std::env::var("BOARDNET_TEST_RUNNER")
        .map(|r| r.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    argv.push(boardnet_path().to_string());
    argv
}

/// The command line that runs example program `name` (`cargo test` builds the examples next
/// to the test binaries' `deps/` directory), behind `$BOARDNET_TEST_RUNNER` like boardnet.
pub fn example_argv(name: &str) -> Vec<String> {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/PROFILE/deps/TEST");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "{} is missing: a plain `cargo test` builds the examples; with --test alone, run \
         `cargo build --examples` first",
        path.display()
    );
    let mut argv: Vec<String> = std::env::var("BOARDNET_TEST_RUNNER")
        .map(|r| r.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    argv.push(path.display().to_string());
    argv
}

/// A `Command` for example program `name` (see [`example_argv`]).
pub fn example(name: &str) -> Command {
    let argv = example_argv(name);
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..]);
    c
}

/// [`boardnet_argv`] as one shell word list (paths here hold no spaces).
pub fn boardnet_shell() -> String {
    boardnet_argv().join(" ")
}

/// A `Command` for the boardnet binary under test, with the proxy
/// environment variables removed. Nothing else is changed (note that this
/// machine sets SSL_CERT_FILE/SSL_CERT_DIR to the system bundle).
pub fn boardnet() -> Command {
    let argv = boardnet_argv();
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..]);
    for v in PROXY_ENV_VARS {
        c.env_remove(v);
    }
    c
}

/// What a finished (or timed-out) program did.
pub struct RunOutput {
    /// Exit code; `None` if killed by a signal (including our timeout kill).
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// True when we killed it because it outlived the timeout.
    pub timed_out: bool,
    pub elapsed: Duration,
    /// Program and arguments, for messages.
    pub cmdline: String,
}

impl RunOutput {
    /// stdout as (lossy) UTF-8.
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The `--json` result object: the last line of stdout (a body to stdout comes first).
    pub fn last_json_line(&self) -> serde_json::Value {
        let text = self.stdout_str();
        serde_json::from_str(text.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("no JSON result line ({e}): {self:?}"))
    }

    /// True if it exited with code 0 (and did not time out).
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// Panic (showing everything) unless the exit code is `code`.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert!(
            self.code == Some(code) && !self.timed_out,
            "expected exit code {}, got:\n{:?}",
            code,
            self
        );
        self
    }

    /// Panic (showing everything) unless it succeeded.
    pub fn assert_success(&self) -> &Self {
        self.assert_code(0)
    }
}

impl fmt::Debug for RunOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let out = self.stdout_str();
        let shown: String = if out.len() > 4000 {
            format!(
                "{}… ({} bytes)",
                &out[..floor_char(&out, 4000)],
                self.stdout.len()
            )
        } else {
            out
        };
        write!(
            f,
            "$ {}\n  code: {:?}{}  ({:?})\n  stdout: {}\n  stderr: {}",
            self.cmdline,
            self.code,
            if self.timed_out { " TIMED OUT" } else { "" },
            self.elapsed,
            shown,
            self.stderr
        )
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'') {
            s.push_str(&format!("{:?}", a));
        } else {
            s.push_str(&a);
        }
    }
    s
}

/// Run `cmd` with stdin from /dev/null, capturing stdout/stderr; kill it
/// (SIGKILL) after `timeout`. Panics only if it cannot be started.
pub fn run(cmd: &mut Command, timeout: Duration) -> RunOutput {
    run_inner(cmd, None, scaled(timeout))
}

/// Whether the tests run boardnet under qemu-user (an ARM test run, `$BOARDNET_TEST_RUNNER`
/// set). There a child forked from the emulated, multi-threaded test process sometimes never
/// reaches its exec (seen: openssl, the Python echo server, one spawn in a few hundred), so
/// peers that start silently are started again.
pub fn under_qemu_user() -> bool {
    std::env::var_os("BOARDNET_TEST_RUNNER").is_some()
}

/// A run's limit: as given natively, four times as long under qemu-user, where boardnet runs
/// several times slower (the limit only bounds a hang; no test asserts speed with it).
fn scaled(timeout: Duration) -> Duration {
    if under_qemu_user() {
        timeout * 4
    } else {
        timeout
    }
}

/// Like `run`, feeding `input` to its stdin (then closing it).
pub fn run_with_input(cmd: &mut Command, input: &[u8], timeout: Duration) -> RunOutput {
    run_inner(cmd, Some(input.to_vec()), scaled(timeout))
}

/// Run a short-lived host tool (openssl) made by `make` to completion. Under qemu-user (see
/// `under_qemu_user`) a timeout without any output is retried with a 5 s limit.
pub fn run_tool(make: &dyn Fn() -> Command, input: Option<&[u8]>, timeout: Duration) -> RunOutput {
    if !under_qemu_user() {
        return run_inner(&mut make(), input.map(<[u8]>::to_vec), timeout);
    }
    let mut attempt = 1;
    loop {
        let out = run_inner(
            &mut make(),
            input.map(<[u8]>::to_vec),
            timeout.min(Duration::from_secs(5)),
        );
        let silent = out.timed_out && out.stdout.is_empty() && out.stderr.is_empty();
        if !silent || attempt == 4 {
            return out;
        }
        eprintln!(
            "[peers] {} did not start within 5 s under qemu-user (attempt {attempt}); again",
            out.cmdline
        );
        attempt += 1;
    }
}

/// `boardnet ARGS…` with a timeout.
pub fn run_boardnet<I, S>(args: I, timeout: Duration) -> RunOutput
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(boardnet().args(args), timeout)
}

/// Spawn `cmd`. Under qemu-user a child forked from the (multi-threaded, emulated) test
/// process sometimes hangs before its exec, holding copies of every pipe the process had open
/// (so other children never see EOF either): there, the child is watched until its
/// /proc/PID/cmdline is no longer the test process's, and one that never gets there is killed and spawned
/// again — nothing of the command has run yet. Spawns are also one at a time.
pub fn spawn_one_at_a_time(cmd: &mut Command) -> std::io::Result<Child> {
    static SPAWNING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = SPAWNING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !under_qemu_user() {
        return cmd.spawn();
    }
    for attempt in 1..4 {
        let mut child = cmd.spawn()?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if has_exec(&child) {
                return Ok(child);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        eprintln!(
            "[peers] {} never reached exec under qemu-user (attempt {attempt}); again",
            describe(cmd)
        );
        let _ = child.kill();
        let _ = child.wait();
    }
    cmd.spawn()
}

/// Whether `child` left the fork: its command line is no longer this process's (a forked
/// copy shows the emulator's command line, which ends with the test binary's own arguments,
/// what /proc/self/cmdline gives inside qemu-user), or it has ended.
fn has_exec(child: &Child) -> bool {
    static OURS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let ours = OURS.get_or_init(|| std::fs::read("/proc/self/cmdline").unwrap_or_default());
    let Ok(theirs) = std::fs::read(format!("/proc/{}/cmdline", child.id())) else {
        return true;
    };
    // Whole arguments: the byte before our command line, if any, ends the emulator's ones.
    let forked = theirs
        .strip_suffix(ours.as_slice())
        .is_some_and(|head| head.is_empty() || head.ends_with(b"\0"));
    ours.is_empty() || theirs.is_empty() || !forked
}

fn run_inner(cmd: &mut Command, input: Option<Vec<u8>>, timeout: Duration) -> RunOutput {
    let cmdline = describe(cmd);
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child: Child =
        spawn_one_at_a_time(cmd).unwrap_or_else(|e| panic!("cannot start `{}`: {}", cmdline, e));
    // From the spawn that took: a hung fork spawned again is not the command's time.
    let start = Instant::now();
    let writer = input.map(|data| {
        let mut stdin = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        })
    });
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = start + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) => {}
            Err(e) => panic!("waiting for `{}`: {}", cmdline, e),
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = start.elapsed();
    let stdout = t_out.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
    if let Some(w) = writer {
        let _ = w.join();
    }
    RunOutput {
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
        timed_out,
        elapsed,
        cmdline,
    }
}

/// Effective uid of this process (from /proc/self/status).
pub fn euid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_else(|e| panic!("cannot read /proc/self/status: {}", e));
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("no effective Uid in /proc/self/status")
}

/// Fail (panic) clearly unless running as root. Tests that need root call
/// this first: they must fail, never silently pass, when not root.
pub fn require_root_or_fail(what: &str) {
    let uid = euid();
    if uid != 0 {
        panic!(
            "{} needs root, but this test runs with effective uid {}. \
             Run the test suite as root (CI does); this is a failure, not a skip.",
            what, uid
        );
    }
}

/// Fail (panic) clearly unless `program` can be found in PATH.
pub fn require_program(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths).any(|dir| {
                let p = dir.join(program);
                p.is_file()
            })
        })
        .unwrap_or(false);
    if !found {
        panic!(
            "`{}` is required by this test but is not in PATH (install it: apt-get -y -q install {})",
            program, program
        );
    }
}

/// boardnet's peak resident set (KiB) running `args` to exit code `code`, measured by GNU time.
pub fn peak_rss_kib(code: i32, args: &[&str]) -> u64 {
    let out = run(
        Command::new("/usr/bin/time")
            .args(["-f", "peak-rss-kib %M"])
            .args(boardnet_argv())
            .args(args),
        Duration::from_secs(120),
    );
    out.assert_code(code);
    out.stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak-rss-kib ")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS figure: {}", out.stderr))
}

/// Run boardnet with `args` in a fresh network namespace (only `lo`) and a private mount
/// namespace whose /etc/resolv.conf points at a dnsmasq on 127.0.0.1 that answers NXDOMAIN
/// for every name under `.test`: name lookups fail for real, and no query leaves the machine.
pub fn run_with_local_dns(args: &[&str], timeout: Duration) -> RunOutput {
    require_root_or_fail("private mount and network namespaces (unshare)");
    require_program("unshare");
    require_program("dnsmasq");
    let dir = super::WorkDir::new();
    let resolv = dir.write(
        "resolv.conf",
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    );
    let script = "ip link set lo up && mount --bind \"$1\" /etc/resolv.conf || exit 70; shift
        dnsmasq --keep-in-foreground --port=53 --listen-address=127.0.0.1 --bind-interfaces \
            --no-resolv --no-hosts --local=/test/ --pid-file= --user=root 2>/dev/null &
        dns=$!
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            ss -lun 2>/dev/null | grep -q '127.0.0.1:53 ' && break; sleep 0.1
        done
        \"$@\" </dev/null; rc=$?
        kill $dns; wait $dns 2>/dev/null; exit $rc";
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "--mount", "sh", "-c", script, "sh"])
        .arg(&resolv)
        .args(boardnet_argv())
        .args(args);
    for v in PROXY_ENV_VARS {
        cmd.env_remove(v);
    }
    run(&mut cmd, timeout)
}
