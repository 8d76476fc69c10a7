//! NSD (authoritative DNS server) on 127.0.0.1 and [::1] serving the test
//! zones (see `dns_zones.rs` for every record), config generated per test.
//! Also the shared pieces of the DNS peers: `dig` runners, a process handle
//! that stops with SIGTERM, readiness polling with hand-built queries.

use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use super::dns_wire::{build_query, udp_exchange, Header, TYPE_SOA};
use super::dns_zones::{write_zones, FRESH_1, ZONE_NAMES};
use super::net::{free_ports_dual, ipv6_available, START_TIMEOUT};
use super::nginx::find_program;
use super::process::{run, RunOutput};
use super::workdir::{read_lossy, WorkDir};

/// Timeout for one `dig` run (it is also given +time=2 +tries=2).
pub const DIG_TIMEOUT: Duration = Duration::from_secs(30);

/// `dig @SERVER -p PORT +time=2 +tries=2 ARGS…` (IPv6 servers work too).
/// Returns whatever dig did; see `dig_short_at` for the common case.
pub fn dig_at(server: SocketAddr, args: &[&str]) -> RunOutput {
    let dig = find_program("dig")
        .unwrap_or_else(|| panic!("dig is not installed (apt-get -y -q install dnsutils)"));
    run(
        Command::new(dig)
            .arg(format!("@{}", server.ip()))
            .args(["-p", &server.port().to_string(), "+time=2", "+tries=2"])
            .args(args),
        DIG_TIMEOUT,
    )
}

/// `dig … +short ARGS…` at `server`: the non-empty output lines, trimmed.
/// Panics (with dig's output) if dig fails. Note `+short` retries over TCP
/// by itself when the UDP answer is truncated (add `+ignore` to stop that),
/// prints a CNAME chain before the addresses (`www.example.test` A →
/// "example.test.", "192.0.2.10"), and prints nothing for NXDOMAIN/REFUSED.
pub fn dig_short_at(server: SocketAddr, args: &[&str]) -> Vec<String> {
    let mut a = vec!["+short"];
    a.extend_from_slice(args);
    let out = dig_at(server, &a);
    out.assert_success();
    out.stdout_str()
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// `kdig @SERVER -p PORT +time=2 +retry=1 ARGS…` (Knot's dig; knot-dnsutils).
pub fn kdig_at(server: SocketAddr, args: &[&str]) -> RunOutput {
    let kdig = find_program("kdig")
        .unwrap_or_else(|| panic!("kdig is not installed (apt-get -y -q install knot-dnsutils)"));
    run(
        Command::new(kdig)
            .arg(format!("@{}", server.ip()))
            .args(["-p", &server.port().to_string(), "+time=2", "+retry=1"])
            .args(args),
        DIG_TIMEOUT,
    )
}

/// A server process stopped on drop: SIGTERM (by PID), up to 1 s for it to
/// exit, then SIGKILL; always reaped.
pub struct TermOnDrop {
    pub child: Child,
}

impl TermOnDrop {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stop it now (what drop does).
    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(1);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for TermOnDrop {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Spawn `cmd` with stdin from /dev/null and stdout+stderr appended to `log`.
pub(crate) fn spawn_logged(cmd: &mut Command, log: &Path, what: &str) -> TermOnDrop {
    let f = File::options()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("cannot open {}: {}", log.display(), e));
    let f2 = f.try_clone().unwrap();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(f)
        .stderr(f2)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {}", what, e));
    TermOnDrop { child }
}

static NEXT_ID: AtomicU16 = AtomicU16::new(0x4242);

/// Why a DNS server did not become ready.
#[derive(Debug)]
pub(crate) enum NotReady {
    /// The process exited (status text).
    Exited(String),
    /// Its log says a listening address is taken (retry on another port).
    PortInUse,
    /// Its log reports an error (e.g. a zone-file error): fail now rather
    /// than wait for the timeout.
    LogError,
    /// Still running but not answering after the timeout.
    Timeout,
}

/// Poll (hand-built UDP SOA queries, 50 ms timeout each) until every zone in
/// `zones` is answered with NOERROR and an answer by every address in
/// `addrs`, or the process exits, or its `log` shows an error, or `timeout`
/// passes.
pub(crate) fn wait_dns_ready(
    proc_: &mut TermOnDrop,
    log: &Path,
    addrs: &[SocketAddr],
    zones: &[&str],
    timeout: Duration,
) -> Result<(), NotReady> {
    let deadline = Instant::now() + timeout;
    let mut pending: Vec<(SocketAddr, &str)> = addrs
        .iter()
        .flat_map(|a| zones.iter().map(move |z| (*a, *z)))
        .collect();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("already in use") {
            return Err(NotReady::PortInUse);
        }
        if let Ok(Some(st)) = proc_.child.try_wait() {
            return Err(NotReady::Exited(st.to_string()));
        }
        if text.contains("error:") {
            return Err(NotReady::LogError);
        }
        pending.retain(|(addr, zone)| {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let q = build_query(id, zone, TYPE_SOA, None);
            match udp_exchange(*addr, &q, Duration::from_millis(50)) {
                Some(r) => {
                    !matches!(Header::parse(&r), Some(h) if h.rcode() == 0 && h.ancount >= 1)
                }
                None => true,
            }
        });
        if pending.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(NotReady::Timeout);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// nsd.conf for a server listening on `listen` (`ADDR@PORT` each), files in
/// `dir`, zones in `zone_dir`. No RRL (it stalls fast clients for seconds),
/// one server process, logs to stderr.
pub(crate) fn nsd_conf(dir: &Path, zone_dir: &Path, listen: &[String]) -> String {
    let d = dir.display();
    let mut c = String::from("server:\n");
    for l in listen {
        c.push_str(&format!("    ip-address: {}\n", l));
    }
    c.push_str(&format!(
        r#"    do-ip4: yes
    do-ip6: yes
    username: ""
    chroot: ""
    zonesdir: "{z}"
    database: ""
    zonelistfile: "{d}/nsd.zonelist"
    xfrdfile: "{d}/nsd.xfrd"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    server-count: 1
    verbosity: 2
    hide-version: yes
    round-robin: no
    minimal-responses: no
    refuse-any: no
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
    tcp-count: 200
remote-control:
    control-enable: no
"#,
        z = zone_dir.display(),
        d = d
    ));
    for z in ZONE_NAMES {
        c.push_str(&format!(
            "zone:\n    name: {}\n    zonefile: {}.zone\n",
            z, z
        ));
    }
    c
}

/// NSD on 127.0.0.1:PORT (and [::1]:PORT when the host has IPv6 loopback),
/// PORT free-picked, serving the zones of `dns_zones.rs` (`fresh` =
/// 192.0.2.101, `whoami` = "nsd"). Stopped on drop.
pub struct Nsd {
    // Field order: the process stops before the work dir is removed.
    proc_: TermOnDrop,
    port: u16,
    v6: bool,
    log: PathBuf,
    zone_dir: PathBuf,
    startup: Duration,
    wd: WorkDir,
}

impl Nsd {
    /// Start and wait until every zone answers on every address. Panics with
    /// nsd's log if it does not come up.
    pub fn start() -> Nsd {
        Nsd::start_with_records("")
    }

    /// Like `start`, with extra zone-file lines appended to example.test
    /// (relative names are under example.test., e.g. `"x IN A 192.0.2.1\n"`).
    pub fn start_with_records(extra: &str) -> Nsd {
        let nsd = find_program("nsd")
            .unwrap_or_else(|| panic!("nsd is not installed (apt-get -y -q install nsd)"));
        let t0 = Instant::now();
        let wd = WorkDir::named("nsd");
        let zone_dir = wd.mkdir("zones");
        write_zones(&zone_dir, FRESH_1, "nsd", extra);
        let v6 = ipv6_available();
        let mut logs = String::new();
        for attempt in 0..5 {
            let port = free_ports_dual(1, v6)[0];
            let mut listen = vec![format!("127.0.0.1@{}", port)];
            let mut addrs = vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))];
            if v6 {
                listen.push(format!("::1@{}", port));
                addrs.push(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
            }
            let conf = wd.write("nsd.conf", nsd_conf(wd.path(), &zone_dir, &listen));
            let log = wd.join(format!("nsd-{}.log", attempt));
            let mut proc_ = spawn_logged(
                Command::new(&nsd).arg("-d").arg("-c").arg(&conf),
                &log,
                "nsd",
            );
            match wait_dns_ready(&mut proc_, &log, &addrs, &ZONE_NAMES, START_TIMEOUT) {
                Ok(()) => {
                    return Nsd {
                        proc_,
                        port,
                        v6,
                        log,
                        zone_dir,
                        startup: t0.elapsed(),
                        wd,
                    }
                }
                Err(why) => {
                    drop(proc_);
                    let text = read_lossy(&log);
                    // Someone took the port between picking and binding: retry.
                    if matches!(why, NotReady::PortInUse) {
                        logs.push_str(&text);
                        continue;
                    }
                    panic!(
                        "nsd did not start ({:?}) on port {}; config:\n{}\nlog:\n{}",
                        why,
                        port,
                        read_lossy(&conf),
                        text
                    );
                }
            }
        }
        panic!("nsd: no free port after 5 attempts; logs:\n{}", logs);
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// 127.0.0.1:PORT.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// [::1]:PORT, or None if the host has no IPv6 loopback.
    pub fn addr_v6(&self) -> Option<SocketAddr> {
        if self.v6 {
            Some(SocketAddr::from((Ipv6Addr::LOCALHOST, self.port)))
        } else {
            None
        }
    }

    /// The addresses it listens on (v4 first).
    pub fn addrs(&self) -> Vec<SocketAddr> {
        let mut v = vec![self.addr()];
        v.extend(self.addr_v6());
        v
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }

    /// Directory holding `example.test.zone`, `2.0.192.in-addr.arpa.zone`
    /// and `8.b.d.0.1.0.0.2.ip6.arpa.zone`.
    pub fn zone_dir(&self) -> &Path {
        &self.zone_dir
    }

    pub fn work_dir(&self) -> &Path {
        self.wd.path()
    }

    /// nsd's log (stderr) so far.
    pub fn log(&self) -> String {
        read_lossy(&self.log)
    }

    /// Time from `start()` until it answered.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// `dig @127.0.0.1 -p PORT +time=2 +tries=2 ARGS…`.
    pub fn dig(&self, args: &[&str]) -> RunOutput {
        dig_at(self.addr(), args)
    }

    /// `dig @127.0.0.1 -p PORT +short ARGS…` lines (see `dig_short_at`);
    /// panics with dig's output and nsd's log if dig fails.
    pub fn dig_short(&self, args: &[&str]) -> Vec<String> {
        let mut a = vec!["+short"];
        a.extend_from_slice(args);
        let out = dig_at(self.addr(), &a);
        if !out.success() {
            panic!("dig failed:\n{:?}\nnsd log:\n{}", out, self.log());
        }
        out.stdout_str()
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// `kdig @127.0.0.1 -p PORT +time=2 +retry=1 ARGS…`.
    pub fn kdig(&self, args: &[&str]) -> RunOutput {
        kdig_at(self.addr(), args)
    }
}
