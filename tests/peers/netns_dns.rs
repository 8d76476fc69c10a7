//! Two NSD instances on port 53 inside a private network namespace, with the
//! namespace's own /etc/resolv.conf — for testing code that reads
//! resolv.conf (which cannot name a port) or calls getaddrinfo. Needs root.
//!
//! * `ip netns add bn-dns-<pid>-<n>`; `lo` up, plus 127.0.0.2/8 and
//!   fd00:53::2/128 (nodad) on `lo`. The extra addresses also make glibc's
//!   AI_ADDRCONFIG see "configured" IPv4 and IPv6: with only 127.0.0.1 and
//!   ::1, `getaddrinfo(AF_INET, AI_ADDRCONFIG)` (e.g. `getent ahostsv4`)
//!   returns nothing at all in a namespace.
//! * Server 1 on 127.0.0.1:53 and [::1]:53: the zones of `dns_zones.rs`
//!   with `fresh.example.test A 192.0.2.101`, `whoami TXT "server1"`.
//! * Server 2 on 127.0.0.2:53 and [fd00:53::2]:53: same zones, but
//!   `fresh.example.test A 192.0.2.102`, `whoami TXT "server2"`.
//! * `/etc/netns/<NS>/resolv.conf` = "nameserver 127.0.0.1\n" at start;
//!   `ip netns exec` bind-mounts it over /etc/resolv.conf for each program it
//!   starts. `set_resolv_conf` rewrites it in place (same inode), so programs
//!   already running inside see the change too.
//!
//! Drop stops the servers, kills anything still running in the namespace,
//! deletes it and /etc/netns/<NS> (also when the test panics). Namespaces
//! left by a killed test run (owner PID gone) are removed at the next start.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::dns_zones::{write_zones, FRESH_1, FRESH_2};
use super::net::START_TIMEOUT;
use super::netns::{destroy_netns, ip};
use super::nginx::find_program;
use super::nsd::{nsd_conf, spawn_logged, TermOnDrop, DIG_TIMEOUT};
use super::process::{require_root_or_fail, run, RunOutput, PROXY_ENV_VARS};
use super::workdir::{read_lossy, write_file, WorkDir};

/// Server 1's addresses inside the namespace (port 53).
pub const NETNS_SERVER1: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
pub const NETNS_SERVER1_V6: Ipv6Addr = Ipv6Addr::LOCALHOST;
/// Server 2's addresses inside the namespace (port 53).
pub const NETNS_SERVER2: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
pub const NETNS_SERVER2_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x53, 0, 0, 0, 0, 0, 2);

const PREFIX: &str = "bn-dns-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub struct NetnsDns {
    name: String,
    servers: Vec<TermOnDrop>,
    logs: Vec<PathBuf>,
    v6: bool,
    etc_dir: PathBuf,
    startup: Duration,
    wd: WorkDir,
}

/// Remove `bn-dns-<pid>-*` namespaces whose creating process is gone.
fn cleanup_stale() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next() else {
            continue;
        };
        if !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && !Path::new("/proc").join(pid).exists()
        {
            if let Err(e) = destroy_netns(&name) {
                eprintln!("[peers] cannot remove stale namespace {}: {}", name, e);
            }
        }
    }
}

impl NetnsDns {
    /// Create the namespace, start both servers, write resolv.conf; returns
    /// once both answer inside the namespace. Panics (clearly) if not root.
    pub fn start() -> NetnsDns {
        require_root_or_fail("NetnsDns (network namespace with DNS servers on port 53)");
        let nsd = find_program("nsd")
            .unwrap_or_else(|| panic!("nsd is not installed (apt-get -y -q install nsd)"));
        if find_program("ip").is_none() {
            panic!("`ip` is not installed (apt-get -y -q install iproute2)");
        }
        let t0 = Instant::now();
        cleanup_stale();
        let name = format!(
            "{}{}-{}",
            PREFIX,
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let add = ip(&["netns", "add", &name]);
        if !add.success() {
            panic!("cannot create network namespace {}:\n{:?}", name, add);
        }
        let wd = WorkDir::named("netns-dns");
        // From here on, drop cleans up (also if a step below panics).
        let mut me = NetnsDns {
            etc_dir: Path::new("/etc/netns").join(&name),
            name,
            servers: Vec::new(),
            logs: Vec::new(),
            v6: false,
            startup: Duration::ZERO,
            wd,
        };
        let n = me.name.clone();
        for args in [
            vec!["-n", &n, "link", "set", "lo", "up"],
            vec!["-n", &n, "addr", "add", "127.0.0.2/8", "dev", "lo"],
        ] {
            let out = ip(&args);
            if !out.success() {
                panic!("setting up namespace {}:\n{:?}", n, out);
            }
        }
        let v6addr = format!("{}/128", NETNS_SERVER2_V6);
        me.v6 = ip(&["-n", &n, "-6", "addr", "add", &v6addr, "dev", "lo", "nodad"]).success()
            && ip(&["-n", &n, "-6", "addr", "show", "dev", "lo"])
                .stdout_str()
                .contains("::1/128");

        write_file(&me.resolv_conf_path(), b"nameserver 127.0.0.1\n");

        let specs = [
            (
                NETNS_SERVER1,
                IpAddr::V6(NETNS_SERVER1_V6),
                FRESH_1,
                "server1",
            ),
            (
                NETNS_SERVER2,
                IpAddr::V6(NETNS_SERVER2_V6),
                FRESH_2,
                "server2",
            ),
        ];
        for (i, (v4, v6, fresh, whoami)) in specs.iter().enumerate() {
            let dir = me.wd.mkdir(format!("server{}", i + 1));
            let zones = me.wd.mkdir(format!("server{}/zones", i + 1));
            write_zones(&zones, fresh, whoami, "");
            let mut listen = vec![format!("{}@53", v4)];
            if me.v6 {
                listen.push(format!("{}@53", v6));
            }
            let conf = write_file(
                &dir.join("nsd.conf"),
                nsd_conf(&dir, &zones, &listen).as_bytes(),
            );
            let log = dir.join("nsd.log");
            let proc_ = spawn_logged(
                Command::new("ip")
                    .args(["netns", "exec", &n])
                    .arg(&nsd)
                    .arg("-d")
                    .arg("-c")
                    .arg(&conf),
                &log,
                "nsd in a network namespace",
            );
            me.servers.push(proc_);
            me.logs.push(log);
        }
        me.wait_ready();
        me.startup = t0.elapsed();
        me
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut targets: Vec<(usize, IpAddr, &str)> = vec![
            (0, IpAddr::V4(NETNS_SERVER1), "\"server1\""),
            (1, IpAddr::V4(NETNS_SERVER2), "\"server2\""),
        ];
        if self.v6 {
            targets.push((0, IpAddr::V6(NETNS_SERVER1_V6), "\"server1\""));
            targets.push((1, IpAddr::V6(NETNS_SERVER2_V6), "\"server2\""));
        }
        let mut last = String::new();
        while !targets.is_empty() {
            for (i, s) in self.servers.iter_mut().enumerate() {
                if let Ok(Some(st)) = s.child.try_wait() {
                    panic!(
                        "nsd server {} in namespace {} exited ({}); log:\n{}",
                        i + 1,
                        self.name,
                        st,
                        read_lossy(&self.logs[i])
                    );
                }
            }
            let mut still = Vec::new();
            for (i, addr, want) in targets {
                let out = run(
                    self.command("dig").args([
                        &format!("@{}", addr),
                        "+short",
                        "+time=1",
                        "+tries=1",
                        "whoami.example.test",
                        "TXT",
                    ]),
                    DIG_TIMEOUT,
                );
                if out.stdout_str().trim() != want {
                    last = format!("{:?}", out);
                    still.push((i, addr, want));
                }
            }
            targets = still;
            if targets.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                panic!(
                    "DNS servers in namespace {} not answering after {:?}; last dig:\n{}\n\
                     server1 log:\n{}\nserver2 log:\n{}",
                    self.name,
                    START_TIMEOUT,
                    last,
                    read_lossy(&self.logs[0]),
                    read_lossy(&self.logs[1])
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The namespace's name (for `ip netns exec NAME …`, `ip -n NAME …`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the servers also listen on IPv6 ([::1]:53, [fd00:53::2]:53).
    pub fn has_v6(&self) -> bool {
        self.v6
    }

    /// 127.0.0.1:53 / 127.0.0.2:53 (`server` = 1 or 2), inside the namespace.
    pub fn server_addr(&self, server: usize) -> SocketAddr {
        match server {
            1 => SocketAddr::from((NETNS_SERVER1, 53)),
            2 => SocketAddr::from((NETNS_SERVER2, 53)),
            _ => panic!("NetnsDns has servers 1 and 2, not {}", server),
        }
    }

    /// [::1]:53 / [fd00:53::2]:53, if IPv6 works in the namespace.
    pub fn server_addr_v6(&self, server: usize) -> Option<SocketAddr> {
        if !self.v6 {
            return None;
        }
        match server {
            1 => Some(SocketAddr::from((NETNS_SERVER1_V6, 53))),
            2 => Some(SocketAddr::from((NETNS_SERVER2_V6, 53))),
            _ => panic!("NetnsDns has servers 1 and 2, not {}", server),
        }
    }

    /// /etc/netns/<NS>/resolv.conf (what programs inside see as
    /// /etc/resolv.conf).
    pub fn resolv_conf_path(&self) -> PathBuf {
        self.etc_dir.join("resolv.conf")
    }

    /// Rewrite resolv.conf in place (open with O_TRUNC + write: same inode,
    /// so the bind mount of running programs sees it; its mtime changes).
    /// Between the truncate and the write a reader may see an empty file.
    pub fn set_resolv_conf(&self, contents: &str) {
        let p = self.resolv_conf_path();
        let mut f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&p)
            .unwrap_or_else(|e| panic!("cannot open {}: {}", p.display(), e));
        f.write_all(contents.as_bytes())
            .unwrap_or_else(|e| panic!("cannot write {}: {}", p.display(), e));
    }

    /// Current resolv.conf text.
    pub fn resolv_conf(&self) -> String {
        read_lossy(&self.resolv_conf_path())
    }

    /// Give the namespace its own /etc/hosts (/etc/netns/<NS>/hosts; the
    /// host's is used until this is called). Rewritten in place when it
    /// exists; a new file is only seen by programs started after this call.
    pub fn set_hosts(&self, contents: &str) {
        let p = self.etc_dir.join("hosts");
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .unwrap_or_else(|e| panic!("cannot open {}: {}", p.display(), e));
        f.write_all(contents.as_bytes())
            .unwrap_or_else(|e| panic!("cannot write {}: {}", p.display(), e));
    }

    /// `ip netns exec NS program` — add args, then `run(..)` it.
    pub fn command<S: AsRef<OsStr>>(&self, program: S) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// The boardnet binary under test inside the namespace, proxy variables
    /// removed (like `peers::boardnet()`).
    pub fn boardnet(&self) -> Command {
        let argv = super::process::boardnet_argv();
        let mut c = self.command(&argv[0]);
        c.args(&argv[1..]);
        for v in PROXY_ENV_VARS {
            c.env_remove(v);
        }
        c
    }

    /// `dig @SERVER +time=2 +tries=2 ARGS…` run inside the namespace.
    pub fn dig(&self, server: IpAddr, args: &[&str]) -> RunOutput {
        run(
            self.command("dig")
                .arg(format!("@{}", server))
                .args(["+time=2", "+tries=2"])
                .args(args),
            DIG_TIMEOUT,
        )
    }

    /// `dig +short` inside the namespace; panics if dig fails.
    pub fn dig_short(&self, server: IpAddr, args: &[&str]) -> Vec<String> {
        let mut a = vec!["+short"];
        a.extend_from_slice(args);
        let out = self.dig(server, &a);
        out.assert_success();
        out.stdout_str()
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Server `n`'s (1 or 2) nsd log.
    pub fn log(&self, server: usize) -> String {
        read_lossy(&self.logs[server - 1])
    }

    pub fn startup_time(&self) -> Duration {
        self.startup
    }
}

impl Drop for NetnsDns {
    fn drop(&mut self) {
        for s in &mut self.servers {
            s.stop();
        }
        if let Err(e) = destroy_netns(&self.name) {
            eprintln!("[peers] cleaning up namespace {}: {}", self.name, e);
        }
    }
}
