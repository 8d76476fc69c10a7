//! Peers for bearer management: a network namespace with veth pairs the test wires up
//! ([`LinkLab`]), and a running `boardnet … --json` whose stdout lines arrive as timestamped
//! JSON values ([`JsonLines`]).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::{run, Netns, RunOutput};

/// A namespace for link events: every veth pair lives inside it, so the test owns all
/// of them and nothing on the host changes.
pub struct LinkLab {
    pub ns: Netns,
}

impl LinkLab {
    pub fn new(tag: &str) -> LinkLab {
        LinkLab {
            ns: Netns::new(tag),
        }
    }

    /// `ip -n NS ARGS` that must succeed; returns when the kernel has applied it.
    pub fn ip(&self, args: &[&str]) -> RunOutput {
        self.ns.ip_ok(args)
    }

    /// A veth pair `a`/`b`, both down.
    pub fn veth(&self, a: &str, b: &str) {
        self.ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
    }

    pub fn up(&self, dev: &str) {
        self.ip(&["link", "set", dev, "up"]);
    }

    pub fn down(&self, dev: &str) {
        self.ip(&["link", "set", dev, "down"]);
    }

    /// Add an address (`nodad` for IPv6: usable at once instead of after DAD).
    pub fn addr(&self, dev: &str, cidr: &str) {
        if cidr.contains(':') {
            self.ip(&["addr", "add", cidr, "dev", dev, "nodad"]);
        } else {
            self.ip(&["addr", "add", cidr, "dev", dev]);
        }
    }

    /// A veth pair with both ends up and `cidr` on `a`: `a` is active.
    pub fn active_pair(&self, a: &str, b: &str, cidr: &str) {
        self.veth(a, b);
        self.activate(a, b, cidr);
    }

    /// An existing pair: `cidr` on `a`, both ends up.
    pub fn activate(&self, a: &str, b: &str, cidr: &str) {
        self.addr(a, cidr);
        self.up(b);
        self.up(a);
    }

    /// `ip route add default via GW dev DEV metric M`.
    pub fn default_route(&self, dev: &str, gateway: &str, metric: u32) {
        self.ip(&[
            "route",
            "add",
            "default",
            "via",
            gateway,
            "dev",
            dev,
            "metric",
            &metric.to_string(),
        ]);
    }

    /// boardnet inside the namespace.
    pub fn boardnet(&self) -> Command {
        self.ns.boardnet()
    }

    /// `boardnet ARGS` inside the namespace, to completion.
    pub fn run(&self, args: &[&str], timeout: Duration) -> RunOutput {
        super::run(self.boardnet().args(args), timeout)
    }
}

/// The server's address in [`TwoLinks`], reachable through either link.
pub const TWO_LINKS_SERVER: &str = "10.82.0.1";

/// A client namespace with two links to a server namespace: the first (10.80.0.2, default
/// route metric 100: preferred) and the second (10.81.0.2, metric 200), their server ends
/// 10.80.0.1 and 10.81.0.1; the server answers on [`TWO_LINKS_SERVER`] through either.
/// Pulling a cable is `server.ip_ok(&["link", "set", SERVER_END, "down"])`.
pub struct TwoLinks {
    pub client: Netns,
    pub server: Netns,
}

impl TwoLinks {
    /// Links bnA/svA (preferred) and bnB/svB.
    pub fn new(tag: &str) -> TwoLinks {
        TwoLinks::named(tag, [("bnA", "svA"), ("bnB", "svB")])
    }

    /// Links with these (client end, server end) names, the first preferred.
    pub fn named(tag: &str, links: [(&str, &str); 2]) -> TwoLinks {
        let client = Netns::new(&format!("{tag}c"));
        let server = Netns::new(&format!("{tag}s"));
        for ((c, s), (net, metric)) in links
            .into_iter()
            .zip([("10.80.0", "100"), ("10.81.0", "200")])
        {
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
            let gateway = format!("{net}.1");
            client.ip_ok(&[
                "route", "add", "default", "via", &gateway, "dev", c, "metric", metric,
            ]);
        }
        server.ip_ok(&[
            "addr",
            "add",
            &format!("{TWO_LINKS_SERVER}/32"),
            "dev",
            "lo",
        ]);
        TwoLinks { client, server }
    }
}

/// A running command whose stdout is JSON lines, read on a thread; killed on drop.
pub struct JsonLines {
    child: Child,
    lines: Receiver<(Instant, String)>,
    /// Everything received so far (for failure messages).
    pub seen: Vec<String>,
}

impl JsonLines {
    pub fn spawn(cmd: &mut Command) -> JsonLines {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        JsonLines {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// The first line (from now on) for which `want` holds, with the time it was read.
    /// Panics with everything seen if none comes within `timeout` or the process ends.
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        want: impl Fn(&serde_json::Value) -> bool,
    ) -> (Instant, serde_json::Value) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) => {
                    self.seen.push(line.clone());
                    let value: serde_json::Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                    if want(&value) {
                        return (at, value);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no {what} within {timeout:?}; seen:\n{}",
                        self.seen.join("\n")
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait();
                    panic!(
                        "the process ended ({status:?}) before {what}; seen:\n{}",
                        self.seen.join("\n")
                    )
                }
            }
        }
    }

    /// Send SIGTERM and wait for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        // SAFETY: kill(2) on our own child's PID.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for JsonLines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `boardnet --json status ARGS` (the command `boardnet` makes) repeated until `want` holds,
/// for daemons whose DHCP and online checks take seconds; the last status is in the failure
/// message.
pub fn status_until(
    boardnet: impl Fn() -> Command,
    args: &[&str],
    what: &str,
    within: Duration,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let out = run(
            boardnet().args(["--json", "status"]).args(args),
            Duration::from_secs(30),
        );
        out.assert_success();
        let s: serde_json::Value =
            serde_json::from_str(out.stdout_str().trim()).expect("one JSON object");
        if want(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "never {what}: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
