//! socat as a socket test peer: echo servers for every kind of boardnet
//! socket endpoint, and socat as the *other* end against a boardnet listener.
//!
//! Echo servers ([`SocatEcho`]), all forking one child per client, bound to
//! loopback only, on a port the kernel picks (port 0, read back from
//! /proc — no port race), each in its own process group that is killed
//! (SIGKILL to the group, so forked children die too) on drop:
//!
//! | kind          | socat listen address                                   | URL                    |
//! |---------------|--------------------------------------------------------|------------------------|
//! | `Tcp4`        | `TCP4-LISTEN:0,bind=127.0.0.1,fork` ↔ `EXEC:cat,nofork` | `tcp://127.0.0.1:P`    |
//! | `Tcp6`        | `TCP6-LISTEN:0,bind=[::1],fork` ↔ `EXEC:cat,nofork`     | `tcp://[::1]:P`        |
//! | `Udp4`        | `UDP4-RECVFROM:0,bind=127.0.0.1,fork` ↔ `PIPE`          | `udp://127.0.0.1:P`    |
//! | `Udp6`        | `UDP6-RECVFROM:0,bind=[::1],fork` ↔ `PIPE`              | `udp://[::1]:P`        |
//! | `Unix`        | `UNIX-LISTEN:<workdir>/echo.sock,fork` ↔ `EXEC:cat,nofork` | `unix:/…/echo.sock` |
//! | `Abstract`    | `ABSTRACT-LISTEN:<name>,fork` ↔ `EXEC:cat,nofork`       | `unix:@<name>`         |
//! | `Tls`         | `OPENSSL-LISTEN:…,cert,key,verify=0` ↔ `EXEC:cat`       | `tls://localhost:P`    |
//! | `MutualTls`   | same + `cafile=<Pki CA>,verify=1`                       | `tls://localhost:P`    |
//!
//! * Streams: `cat` echoes everything; when the client half-closes (EOF /
//!   TLS close_notify) the rest is echoed and then the server closes, so a
//!   client that shuts down its write side reads the complete echo.
//!   (`EXEC:cat,nofork` gives cat the socket itself; `PIPE` would deadlock on
//!   transfers larger than its buffer, see shared/TESTING.md.)
//! * UDP: one child per datagram echoes exactly that datagram (up to 64 KiB,
//!   boundaries kept) back to its sender, from the server's own address and
//!   port (so a connected UDP socket accepts the reply). `PIPE` is right
//!   here: one datagram always fits its 64 KiB pipe. Replies to a burst of
//!   datagrams may come back **in a different order** (one process each).
//! * TLS: the leaf (`Pki::server_cert`, SAN localhost/127.0.0.1/::1) is
//!   served on 127.0.0.1:P **and** [::1]:P (same port) when IPv6 works, so
//!   `localhost` reaches it whichever address a client tries first. The
//!   mutual-TLS kind rejects clients without a certificate by the test CA
//!   (with TLS 1.3 after the client finished its handshake: a rejected
//!   client sees the connection end without an echo, its exit code depends
//!   on timing — check for the missing echo, not the code).
//!   Certificates are copied into the echo's own work dir (the `Pki` may be
//!   dropped before the server).
//!
//! Client side: [`socat_address`] / [`socat_tls_address`] turn a boardnet URL
//! into a socat address, [`socat_send`] runs `socat -t … - ADDRESS` with
//! input: on the end of input socat half-closes (shutdown(SHUT_WR), or TLS
//! close_notify) and keeps reading for up to the timeout until the peer
//! closes — so an echo through a boardnet listener is read completely.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::net::{ipv6_available, START_TIMEOUT};
use super::pki::Pki;
use super::process::{require_program, run_with_input, RunOutput};
use super::workdir::{read_lossy, WorkDir};

/// A process started in its own process group; on drop the whole group
/// (the process and everything it forked, e.g. socat's per-client children)
/// gets SIGKILL, and the process is reaped.
pub struct GroupKillOnDrop {
    pub child: Child,
}

impl GroupKillOnDrop {
    /// Spawn `cmd` as the leader of a new process group, stdin from
    /// /dev/null, stdout and stderr appended to `log`.
    pub fn spawn(cmd: &mut Command, log: &Path, what: &str) -> GroupKillOnDrop {
        let f = File::options()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open {}: {}", log.display(), e));
        let f2 = f
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot dup log fd: {}", e));
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(f)
            .stderr(f2)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {}", what, e));
        GroupKillOnDrop { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Exit status if the group leader has exited (it stays a zombie until
    /// drop, so its PID — the group id — is not reused meanwhile).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL the whole group now and reap the leader (what drop does).
    pub fn kill_group(&mut self) {
        let pgid = self.child.id() as libc::pid_t;
        if pgid > 1 {
            // SAFETY: plain kill(2) on the process group this handle created.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for GroupKillOnDrop {
    fn drop(&mut self) {
        self.kill_group();
    }
}

// ---------------------------------------------------------------------------
// /proc lookups: which sockets a process holds.

/// Inode numbers of the sockets process `pid` has open.
pub(crate) fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{}/fd", pid)) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let s = l.to_string_lossy().into_owned();
            s.strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|n| n.parse().ok())
        })
        .collect()
}

/// An address as the kernel prints it in /proc/net/{tcp,udp}{,6}:
/// `0100007F:1F90` (address words in host byte order, port in hex).
fn parse_proc_addr(s: &str) -> Option<SocketAddr> {
    let (a, p) = s.split_once(':')?;
    let port = u16::from_str_radix(p, 16).ok()?;
    let ip = match a.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(a, 16).ok()?.to_ne_bytes(),
        )),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                let w = u32::from_str_radix(&a[i * 8..i * 8 + 8], 16).ok()?;
                b[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The local address of an inet socket held by `pid` in /proc/net/`table`
/// (`tcp`, `tcp6`, `udp`, `udp6`): for tcp only LISTEN sockets, for udp any
/// bound one (port != 0).
pub(crate) fn bound_inet_addr(pid: u32, table: &str) -> Option<SocketAddr> {
    let inodes = socket_inodes(pid);
    if inodes.is_empty() {
        return None;
    }
    let text = std::fs::read_to_string(format!("/proc/net/{}", table)).ok()?;
    let tcp = table.starts_with("tcp");
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 10 {
            return None;
        }
        let inode: u64 = f[9].parse().ok()?;
        if !inodes.contains(&inode) || (tcp && f[3] != "0A") {
            return None;
        }
        parse_proc_addr(f[1]).filter(|a| a.port() != 0)
    })
}

/// Whether `pid` holds a listening unix socket named `name` (a path, or
/// `@name` for an abstract one), per /proc/net/unix.
pub(crate) fn unix_listening(pid: u32, name: &str) -> bool {
    let inodes = socket_inodes(pid);
    if inodes.is_empty() {
        return false;
    }
    let Ok(text) = std::fs::read_to_string("/proc/net/unix") else {
        return false;
    };
    text.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 8
            && f[7] == name
            && f[6]
                .parse::<u64>()
                .map(|i| inodes.contains(&i))
                .unwrap_or(false)
            && u32::from_str_radix(f[3], 16)
                .map(|flags| flags & 0x10000 != 0)
                .unwrap_or(false)
    })
}

// ---------------------------------------------------------------------------
// Echo servers.

/// Which echo server (see the module docs for the socat addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoKind {
    Tcp4,
    Tcp6,
    Udp4,
    Udp6,
    Unix,
    Abstract,
    Tls,
    MutualTls,
}

impl EchoKind {
    pub const ALL: [EchoKind; 8] = [
        EchoKind::Tcp4,
        EchoKind::Tcp6,
        EchoKind::Udp4,
        EchoKind::Udp6,
        EchoKind::Unix,
        EchoKind::Abstract,
        EchoKind::Tls,
        EchoKind::MutualTls,
    ];

    /// Byte stream (everything but UDP).
    pub fn is_stream(self) -> bool {
        !matches!(self, EchoKind::Udp4 | EchoKind::Udp6)
    }

    pub fn is_tls(self) -> bool {
        matches!(self, EchoKind::Tls | EchoKind::MutualTls)
    }

    /// Needs IPv6 on loopback ([`ipv6_available`]).
    pub fn needs_ipv6(self) -> bool {
        matches!(self, EchoKind::Tcp6 | EchoKind::Udp6)
    }
}

/// Longest a stream echo waits, after one direction ended, for the other
/// (socat `-t`): cat normally finishes long before.
const SERVER_LINGER_SECS: &str = "30";

static ECHO_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A socat echo server (see the module docs). Killed (whole process group)
/// on drop, its work dir removed.
pub struct SocatEcho {
    kind: EchoKind,
    procs: Vec<GroupKillOnDrop>,
    logs: Vec<PathBuf>,
    port: Option<u16>,
    v6_too: bool,
    path: Option<PathBuf>,
    name: Option<String>,
    tls_files: Option<TlsFiles>,
    spawned: usize,
    dir: WorkDir,
}

/// Copies of the PKI files a TLS echo (and its socat clients) use.
#[derive(Debug, Clone)]
struct TlsFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

impl SocatEcho {
    /// `tcp://127.0.0.1:P`.
    pub fn tcp4() -> SocatEcho {
        SocatEcho::start(EchoKind::Tcp4, None)
    }
    /// `tcp://[::1]:P` (panics clearly if IPv6 loopback is unavailable).
    pub fn tcp6() -> SocatEcho {
        SocatEcho::start(EchoKind::Tcp6, None)
    }
    /// `udp://127.0.0.1:P`.
    pub fn udp4() -> SocatEcho {
        SocatEcho::start(EchoKind::Udp4, None)
    }
    /// `udp://[::1]:P`.
    pub fn udp6() -> SocatEcho {
        SocatEcho::start(EchoKind::Udp6, None)
    }
    /// `unix:/<workdir>/echo.sock`.
    pub fn unix() -> SocatEcho {
        SocatEcho::start(EchoKind::Unix, None)
    }
    /// `unix:@boardnet-echo-<pid>-<n>` (Linux abstract namespace).
    pub fn unix_abstract() -> SocatEcho {
        SocatEcho::start(EchoKind::Abstract, None)
    }
    /// `tls://localhost:P` with the Pki's valid leaf; no client certificate asked.
    pub fn tls(pki: &Pki) -> SocatEcho {
        SocatEcho::start(EchoKind::Tls, Some(pki))
    }
    /// `tls://localhost:P` requiring a client certificate by the Pki's CA.
    pub fn mutual_tls(pki: &Pki) -> SocatEcho {
        SocatEcho::start(EchoKind::MutualTls, Some(pki))
    }

    /// Start an echo of `kind` (`pki` is required for the TLS kinds) and
    /// return once it listens. Panics with socat's log if it does not start.
    pub fn start(kind: EchoKind, pki: Option<&Pki>) -> SocatEcho {
        require_program("socat");
        if kind.needs_ipv6() && !ipv6_available() {
            panic!(
                "SocatEcho {:?} needs IPv6 on loopback ([::1]), which this host does not have",
                kind
            );
        }
        let dir = WorkDir::named("socat-echo");
        let tls_files = if kind.is_tls() {
            let pki = pki.unwrap_or_else(|| panic!("SocatEcho {:?} needs a Pki", kind));
            let copy = |from: PathBuf, name: &str| {
                let to = dir.join(name);
                std::fs::copy(&from, &to).unwrap_or_else(|e| {
                    panic!("cannot copy {} to {}: {}", from.display(), to.display(), e)
                });
                to
            };
            Some(TlsFiles {
                ca: copy(pki.ca_cert(), "ca.crt"),
                cert: copy(pki.server_cert(), "server.crt"),
                key: copy(pki.server_key(), "server.key"),
                client_cert: copy(pki.client_cert(), "client.crt"),
                client_key: copy(pki.client_key(), "client.key"),
            })
        } else {
            None
        };
        let mut me = SocatEcho {
            kind,
            procs: Vec::new(),
            logs: Vec::new(),
            port: None,
            v6_too: false,
            path: None,
            name: None,
            tls_files,
            spawned: 0,
            dir,
        };
        match kind {
            EchoKind::Tcp4 | EchoKind::Tcp6 | EchoKind::Udp4 | EchoKind::Udp6 => {
                let (listen, echo, table) = match kind {
                    EchoKind::Tcp4 => (
                        "TCP4-LISTEN:0,bind=127.0.0.1,reuseaddr,fork,backlog=128",
                        "EXEC:cat,nofork",
                        "tcp",
                    ),
                    EchoKind::Tcp6 => (
                        "TCP6-LISTEN:0,bind=[::1],reuseaddr,fork,backlog=128,ipv6only=1",
                        "EXEC:cat,nofork",
                        "tcp6",
                    ),
                    EchoKind::Udp4 => ("UDP4-RECVFROM:0,bind=127.0.0.1,fork", "PIPE", "udp"),
                    _ => ("UDP6-RECVFROM:0,bind=[::1],fork,ipv6only=1", "PIPE", "udp6"),
                };
                let i = me.spawn(listen, echo);
                let addr = me.wait_ready(i, |pid| bound_inet_addr(pid, table));
                me.port = Some(addr.port());
            }
            EchoKind::Unix => {
                let path = me.dir.join("echo.sock");
                let p = path.to_str().expect("non-UTF-8 temp dir").to_string();
                if p.contains([',', ':', '!', '"', '\'', ' ']) || p.len() > 100 {
                    panic!(
                        "unix socket path {:?} unusable in a socat address (set TMPDIR to a short plain path)",
                        p
                    );
                }
                let i = me.spawn(
                    &format!("UNIX-LISTEN:{},fork,backlog=128,unlink-early", p),
                    "EXEC:cat,nofork",
                );
                me.wait_ready(i, |pid| unix_listening(pid, &p).then_some(()));
                me.path = Some(path);
            }
            EchoKind::Abstract => {
                let name = format!(
                    "boardnet-echo-{}-{}",
                    std::process::id(),
                    ECHO_COUNTER.fetch_add(1, Ordering::Relaxed)
                );
                let i = me.spawn(
                    &format!("ABSTRACT-LISTEN:{},fork,backlog=128", name),
                    "EXEC:cat,nofork",
                );
                let at = format!("@{}", name);
                me.wait_ready(i, |pid| unix_listening(pid, &at).then_some(()));
                me.name = Some(name);
            }
            EchoKind::Tls | EchoKind::MutualTls => me.start_tls(),
        }
        me
    }

    fn start_tls(&mut self) {
        let f = self.tls_files.clone().unwrap();
        let mut opts = format!(
            "fork,reuseaddr,backlog=128,cert={},key={}",
            f.cert.display(),
            f.key.display()
        );
        if self.kind == EchoKind::MutualTls {
            opts.push_str(&format!(",cafile={},verify=1", f.ca.display()));
        } else {
            opts.push_str(",verify=0");
        }
        let v6 = ipv6_available();
        let mut last = String::new();
        for _ in 0..20 {
            let i = self.spawn(
                &format!("OPENSSL-LISTEN:0,bind=127.0.0.1,{}", opts),
                "EXEC:cat",
            );
            let port = self.wait_ready(i, |pid| bound_inet_addr(pid, "tcp")).port();
            self.port = Some(port);
            if !v6 {
                return;
            }
            // The same port on [::1]; another process may hold it: retry.
            let j = self.spawn(
                &format!(
                    "OPENSSL-LISTEN:{},pf=ip6,bind=[::1],ipv6only=1,{}",
                    port, opts
                ),
                "EXEC:cat",
            );
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if bound_inet_addr(self.procs[j].pid(), "tcp6").is_some() {
                    self.v6_too = true;
                    return;
                }
                if self.procs[j].exited().is_some() || Instant::now() >= deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            last = read_lossy(&self.logs[j]);
            self.procs.clear(); // kills both
            self.logs.clear();
            self.port = None;
        }
        panic!(
            "TLS echo: cannot listen on the same port on 127.0.0.1 and [::1]; last socat log:\n{}",
            last
        );
    }

    /// Start `socat -d -d -t 30 LISTEN ECHO`; returns its index.
    fn spawn(&mut self, listen: &str, echo: &str) -> usize {
        self.spawned += 1;
        let log = self.dir.join(format!("socat-{}.log", self.spawned));
        let mut cmd = Command::new("socat");
        cmd.args(["-d", "-d", "-t", SERVER_LINGER_SECS, "-b", "65536"])
            .arg(listen)
            .arg(echo);
        let p = GroupKillOnDrop::spawn(&mut cmd, &log, "socat echo server");
        self.procs.push(p);
        self.logs.push(log);
        debug_assert_eq!(self.procs.len(), self.logs.len());
        self.procs.len() - 1
    }

    /// Poll `ready(pid)` until Some, panicking with the log if socat exits
    /// or START_TIMEOUT passes.
    fn wait_ready<T>(&mut self, i: usize, ready: impl Fn(u32) -> Option<T>) -> T {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(v) = ready(self.procs[i].pid()) {
                return v;
            }
            if let Some(st) = self.procs[i].exited() {
                panic!(
                    "socat echo server {:?} exited ({}) before listening; log:\n{}",
                    self.kind,
                    st,
                    read_lossy(&self.logs[i])
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "socat echo server {:?} not listening after {:?}; log:\n{}",
                    self.kind,
                    START_TIMEOUT,
                    read_lossy(&self.logs[i])
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn kind(&self) -> EchoKind {
        self.kind
    }

    /// The boardnet endpoint URL it listens on (see the module docs).
    pub fn url(&self) -> String {
        match self.kind {
            EchoKind::Tcp4 => format!("tcp://127.0.0.1:{}", self.port()),
            EchoKind::Tcp6 => format!("tcp://[::1]:{}", self.port()),
            EchoKind::Udp4 => format!("udp://127.0.0.1:{}", self.port()),
            EchoKind::Udp6 => format!("udp://[::1]:{}", self.port()),
            EchoKind::Unix => format!("unix:{}", self.path().display()),
            EchoKind::Abstract => format!("unix:@{}", self.abstract_name()),
            EchoKind::Tls | EchoKind::MutualTls => format!("tls://localhost:{}", self.port()),
        }
    }

    /// Like `url`, but TLS kinds as `tls://127.0.0.1:P` (the leaf is valid
    /// for that IP too; no SNI is sent for an IP).
    pub fn url_ip(&self) -> String {
        if self.kind.is_tls() {
            format!("tls://127.0.0.1:{}", self.port())
        } else {
            self.url()
        }
    }

    /// The port (inet kinds; panics for unix sockets).
    pub fn port(&self) -> u16 {
        self.port
            .unwrap_or_else(|| panic!("SocatEcho {:?} has no port", self.kind))
    }

    /// 127.0.0.1:P or [::1]:P (inet kinds; TLS: the IPv4 one).
    pub fn socket_addr(&self) -> SocketAddr {
        let ip: IpAddr = match self.kind {
            EchoKind::Tcp6 | EchoKind::Udp6 => Ipv6Addr::LOCALHOST.into(),
            _ => Ipv4Addr::LOCALHOST.into(),
        };
        SocketAddr::new(ip, self.port())
    }

    /// TLS kinds: whether it also listens on [::1]:P.
    pub fn listens_on_ipv6_too(&self) -> bool {
        self.v6_too
    }

    /// The socket file (`Unix` kind; panics otherwise).
    pub fn path(&self) -> &Path {
        self.path
            .as_deref()
            .unwrap_or_else(|| panic!("SocatEcho {:?} has no socket path", self.kind))
    }

    /// The abstract name without '@' (`Abstract` kind; panics otherwise).
    pub fn abstract_name(&self) -> &str {
        self.name
            .as_deref()
            .unwrap_or_else(|| panic!("SocatEcho {:?} has no abstract name", self.kind))
    }

    /// A socat address that reaches this echo (TLS: verifying it with the
    /// test CA; mutual TLS: with the Pki's client certificate).
    pub fn socat_address(&self) -> String {
        match (&self.tls_files, self.kind) {
            (Some(f), EchoKind::MutualTls) => socat_tls_address(
                &self.url(),
                &SocatTls::trusting(&f.ca).with_client_cert(&f.client_cert, &f.client_key),
            ),
            (Some(f), _) => socat_tls_address(&self.url(), &SocatTls::trusting(&f.ca)),
            (None, _) => socat_address(&self.url()),
        }
    }

    /// PIDs of the listening socat processes (group leaders).
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(|p| p.pid()).collect()
    }

    /// socat's log(s) (`-d -d`: one line per connection and more).
    pub fn log(&self) -> String {
        self.logs
            .iter()
            .map(|l| read_lossy(l))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

// ---------------------------------------------------------------------------
// socat as a client.

/// How long `socat_send` waits for UDP replies after the input ended (UDP
/// has no end-of-stream, so socat always waits this long).
pub const UDP_REPLY_WAIT: Duration = Duration::from_secs(1);

/// TLS settings for a socat `OPENSSL:` client address.
#[derive(Debug, Clone, Default)]
pub struct SocatTls {
    /// Trust anchor (`cafile=`); `None` means `verify=0` (no verification).
    pub cafile: Option<PathBuf>,
    /// Client certificate and key (`cert=`, `key=`) for mutual TLS.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl SocatTls {
    /// No verification of the server at all (`verify=0`).
    pub fn insecure() -> SocatTls {
        SocatTls::default()
    }
    /// Verify the server against `ca` (socat also checks the host name
    /// against the certificate's SAN).
    pub fn trusting(ca: &Path) -> SocatTls {
        SocatTls {
            cafile: Some(ca.to_path_buf()),
            ..SocatTls::default()
        }
    }
    /// Verify against the Pki's test CA.
    pub fn from_pki(pki: &Pki) -> SocatTls {
        SocatTls::trusting(&pki.ca_cert())
    }
    /// Verify against the test CA and present the Pki's client certificate.
    pub fn mutual(pki: &Pki) -> SocatTls {
        SocatTls::from_pki(pki).with_client_cert(&pki.client_cert(), &pki.client_key())
    }
    pub fn with_client_cert(mut self, cert: &Path, key: &Path) -> SocatTls {
        self.cert = Some(cert.to_path_buf());
        self.key = Some(key.to_path_buf());
        self
    }
}

/// Split `scheme://host:port` (host may be `[v6]`); panics on anything else.
fn host_port(url: &str, rest: &str) -> (String, u16) {
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("no port in URL {:?}", url));
    let port: u16 = port
        .parse()
        .unwrap_or_else(|_| panic!("bad port in URL {:?}", url));
    if host.is_empty() {
        panic!("no host in URL {:?}", url);
    }
    (host.to_string(), port)
}

/// A boardnet endpoint URL as a socat client address:
/// `tcp://h:p` → `TCP:h:p`, `udp://h:p` → `UDP:h:p`, `unix:/p` →
/// `UNIX-CONNECT:/p`, `unix:@n` → `ABSTRACT-CONNECT:n`, `tls://h:p` →
/// `OPENSSL:h:p,verify=0` (use [`socat_tls_address`] to verify or to
/// present a client certificate). IPv6 hosts keep their brackets
/// (`TCP:[::1]:p`), which socat accepts.
pub fn socat_address(url: &str) -> String {
    socat_tls_address(url, &SocatTls::insecure())
}

/// Like [`socat_address`], with `tls` applied to a `tls://` URL:
/// `OPENSSL:h:p,cafile=CA[,cert=C,key=K]` (or `verify=0` without a CA).
/// Never uses socat's `commonname=` (it triggers a real DNS lookup).
pub fn socat_tls_address(url: &str, tls: &SocatTls) -> String {
    if let Some(rest) = url.strip_prefix("tcp://") {
        let (h, p) = host_port(url, rest);
        format!("TCP:{}:{}", h, p)
    } else if let Some(rest) = url.strip_prefix("udp://") {
        let (h, p) = host_port(url, rest);
        format!("UDP:{}:{}", h, p)
    } else if let Some(rest) = url.strip_prefix("tls://") {
        let (h, p) = host_port(url, rest);
        let mut a = format!("OPENSSL:{}:{}", h, p);
        match &tls.cafile {
            Some(ca) => a.push_str(&format!(",cafile={}", ca.display())),
            None => a.push_str(",verify=0"),
        }
        if let Some(c) = &tls.cert {
            a.push_str(&format!(",cert={}", c.display()));
        }
        if let Some(k) = &tls.key {
            a.push_str(&format!(",key={}", k.display()));
        }
        a
    } else if let Some(rest) = url.strip_prefix("unix:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        if let Some(name) = rest.strip_prefix('@') {
            format!("ABSTRACT-CONNECT:{}", name)
        } else if rest.starts_with('/') {
            format!("UNIX-CONNECT:{}", rest)
        } else {
            panic!("unix URL {:?} is neither unix:/path nor unix:@name", url)
        }
    } else {
        panic!("no socat address for URL {:?}", url)
    }
}

/// Whether a socat address is datagram-based (UDP*, *-DATAGRAM, *-SENDTO).
fn is_datagram_address(address: &str) -> bool {
    let kind = address.split(':').next().unwrap_or("").to_ascii_uppercase();
    kind.starts_with("UDP") || kind.ends_with("DATAGRAM") || kind.ends_with("SENDTO")
}

/// Arguments for `socat -b 65536 -t LINGER - ADDRESS`: stdin goes to the
/// address, what comes back to stdout. On the end of stdin socat
/// half-closes (TCP/unix: shutdown(SHUT_WR); TLS: close_notify) and waits
/// up to LINGER for the peer to close before exiting (exit code 0 either
/// way). Each read of stdin (≤ 64 KiB) becomes one UDP datagram.
pub fn socat_client_args(address: &str, linger: Duration) -> Vec<String> {
    vec![
        "-b".into(),
        "65536".into(),
        "-t".into(),
        format!("{:.3}", linger.as_secs_f64()),
        "-".into(),
        address.into(),
    ]
}

/// Run socat as a client of `address` (from [`socat_address`]), feed it
/// `input`, return what came back. Streams: socat half-closes after the
/// input and waits up to `timeout` for the peer to finish and close (an
/// echo is read completely). UDP: replies are collected for
/// [`UDP_REPLY_WAIT`] after the input; send one datagram per call
/// (input ≤ 64 KiB) to keep boundaries predictable. The process is killed
/// after `timeout` + 5 s (then `timed_out` is set).
pub fn socat_send(address: &str, input: &[u8], timeout: Duration) -> RunOutput {
    socat_send_with(Command::new("socat"), address, input, timeout)
}

/// Like [`socat_send`] with the socat `Command` given, e.g. one that runs
/// inside a network namespace (`netns.command("socat")`).
pub fn socat_send_with(
    mut socat: Command,
    address: &str,
    input: &[u8],
    timeout: Duration,
) -> RunOutput {
    require_program("socat");
    let linger = if is_datagram_address(address) {
        UDP_REPLY_WAIT.min(timeout)
    } else {
        timeout
    };
    run_with_input(
        socat.args(socat_client_args(address, linger)),
        input,
        timeout + Duration::from_secs(5),
    )
}
