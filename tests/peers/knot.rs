//! Knot DNS (`knotd -c`, foreground) serving the same zones as `Nsd`
//! (`whoami` = "knot", `fresh` = 192.0.2.101). A second implementation to
//! cross-check against; differences from nsd: minimal responses (no NS in
//! authority / glue in additional for positive answers), no RRL by default.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::dns_zones::{write_zones, FRESH_1, ZONE_NAMES};
use super::net::{free_ports_dual, ipv6_available, START_TIMEOUT};
use super::nginx::find_program;
use super::nsd::{dig_at, dig_short_at, spawn_logged, wait_dns_ready, NotReady, TermOnDrop};
use super::process::RunOutput;
use super::workdir::{read_lossy, WorkDir};

fn knot_conf(dir: &Path, zone_dir: &Path, listen: &[String]) -> String {
    let d = dir.display();
    let mut c = String::from("server:\n");
    for l in listen {
        c.push_str(&format!("    listen: {}\n", l));
    }
    c.push_str(&format!(
        r#"    rundir: {d}/run
    user: root:root
    background-workers: 1
    udp-workers: 1
    tcp-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: {d}/db
template:
  - id: default
    storage: {z}
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
"#,
        d = d,
        z = zone_dir.display()
    ));
    for z in ZONE_NAMES {
        c.push_str(&format!("  - domain: {}\n    file: {}.zone\n", z, z));
    }
    c
}

/// knotd on 127.0.0.1:PORT (and [::1]:PORT when available). Stopped on drop.
pub struct Knot {
    proc_: TermOnDrop,
    port: u16,
    v6: bool,
    log: PathBuf,
    zone_dir: PathBuf,
    startup: Duration,
    wd: WorkDir,
}

impl Knot {
    /// Start and wait until every zone answers on every address. Panics with
    /// knotd's log if it does not come up.
    pub fn start() -> Knot {
        Knot::start_with_records("")
    }

    /// Like `start`, with extra zone-file lines appended to example.test.
    pub fn start_with_records(extra: &str) -> Knot {
        let knotd = find_program("knotd")
            .unwrap_or_else(|| panic!("knotd is not installed (apt-get -y -q install knot)"));
        let t0 = Instant::now();
        let wd = WorkDir::named("knot");
        let zone_dir = wd.mkdir("zones");
        wd.mkdir("run");
        wd.mkdir("db");
        write_zones(&zone_dir, FRESH_1, "knot", extra);
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
            let conf = wd.write("knot.conf", knot_conf(wd.path(), &zone_dir, &listen));
            let log = wd.join(format!("knot-{}.log", attempt));
            let mut proc_ = spawn_logged(Command::new(&knotd).arg("-c").arg(&conf), &log, "knotd");
            match wait_dns_ready(&mut proc_, &log, &addrs, &ZONE_NAMES, START_TIMEOUT) {
                Ok(()) => {
                    return Knot {
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
                    if matches!(why, NotReady::PortInUse) {
                        logs.push_str(&text);
                        continue;
                    }
                    panic!(
                        "knotd did not start ({:?}) on port {}; config:\n{}\nlog:\n{}",
                        why,
                        port,
                        read_lossy(&conf),
                        text
                    );
                }
            }
        }
        panic!("knotd: no free port after 5 attempts; logs:\n{}", logs);
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    pub fn addr_v6(&self) -> Option<SocketAddr> {
        if self.v6 {
            Some(SocketAddr::from((Ipv6Addr::LOCALHOST, self.port)))
        } else {
            None
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }

    pub fn zone_dir(&self) -> &Path {
        &self.zone_dir
    }

    pub fn work_dir(&self) -> &Path {
        self.wd.path()
    }

    pub fn log(&self) -> String {
        read_lossy(&self.log)
    }

    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    pub fn dig(&self, args: &[&str]) -> RunOutput {
        dig_at(self.addr(), args)
    }

    pub fn dig_short(&self, args: &[&str]) -> Vec<String> {
        dig_short_at(self.addr(), args)
    }
}
