//! Misbehaving socket peers and private networks for socket tests.
//!
//! In-process (std::net threads, loopback, port 0):
//! * [`ResetPeer`] — accepts, optionally sends a greeting, reads N bytes,
//!   then resets the connection (SO_LINGER 0 + close → RST: the client's
//!   next read/write fails with ECONNRESET, or EPIPE for a write after the
//!   RST was processed).
//! * [`SilentPeer`] — accepts and then never reads nor sends, holding every
//!   connection open until dropped (optionally with a small receive buffer
//!   so that a client's writes block early).
//! * [`SilentClient`] — connects (TCP or unix) and sends nothing, holding
//!   the connection until dropped; can wait for the server to close it.
//!
//! Network namespaces (root; [`require_root_or_fail`]), deleted on drop with
//! everything still running in them (also on panic); namespaces left by a
//! killed test run (owner PID gone) are removed at the next start:
//! * [`Netns`] — a fresh namespace `bn-sk-<pid>-<n>-<tag>` with `lo` up, a
//!   `Command` builder for programs inside (`ip netns exec`), and
//!   [`Netns::run_in`] to run Rust code (std sockets) inside it on a thread
//!   that entered it with setns(2).
//! * [`HangingConnectTarget`] — a namespace where a TCP connect to
//!   `10.99.0.2:80` (and `[fd00:99::2]:80`) hangs: `bnh0` (10.99.0.1/24,
//!   fd00:99::1/64) is one end of a veth pair, and the target has a
//!   *permanent neighbour entry* with a MAC nobody has, so the SYNs leave
//!   and are dropped by the other end; connect() waits until the caller's
//!   timeout (the kernel gives up after ~2 min of SYN retries). Measured
//!   here: a `blackhole` route fails connect() at once with EINVAL, an
//!   `unreachable` route at once with EHOSTUNREACH, and an address without
//!   a neighbour entry with EHOSTUNREACH after ~3 s (ARP timeout) — none of
//!   those hang.
//! * [`MulticastNetns`] — two namespaces joined by a veth pair (`bnmc0` in
//!   A, `bnmc1` in B) with IPv4 (10.98.0.1/24, 10.98.0.2/24) and IPv6
//!   (fd00:98::1/64, fd00:98::2/64, nodad) addresses, MULTICAST on, and a
//!   224.0.0.0/4 route on the veth (IPv6 has ff00::/8 there by itself), so a
//!   sender in A reaches a receiver in B that joined a group on `bnmc1`.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs,
};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, SockRef, Socket, Type};

use super::netns::{destroy_netns, ip};
use super::nginx::find_program;
use super::process::{require_root_or_fail, run, RunOutput, PROXY_ENV_VARS};

/// How long a peer's per-connection thread waits for the bytes it wants.
const PEER_READ_LIMIT: Duration = Duration::from_secs(30);

/// Bind a non-blocking listener (SO_REUSEADDR, backlog 128) on `bind`,
/// with SO_RCVBUF `recv_buffer` (inherited by accepted sockets) if given.
fn listener(bind: SocketAddr, recv_buffer: Option<usize>) -> TcpListener {
    let s = Socket::new(Domain::for_address(bind), Type::STREAM, None)
        .unwrap_or_else(|e| panic!("socket for {}: {}", bind, e));
    let _ = s.set_reuse_address(true);
    if bind.is_ipv6() {
        let _ = s.set_only_v6(true);
    }
    if let Some(n) = recv_buffer {
        s.set_recv_buffer_size(n)
            .unwrap_or_else(|e| panic!("SO_RCVBUF {}: {}", n, e));
    }
    s.bind(&bind.into())
        .unwrap_or_else(|e| panic!("cannot bind {}: {}", bind, e));
    s.listen(128)
        .unwrap_or_else(|e| panic!("cannot listen on {}: {}", bind, e));
    let l: TcpListener = s.into();
    l.set_nonblocking(true).unwrap();
    l
}

/// Accept loop polling every 5 ms until `stop` (non-blocking listener, so
/// no wake-up connection is needed, which also works inside a namespace).
fn accept_loop(
    l: TcpListener,
    stop: Arc<AtomicBool>,
    mut on_conn: impl FnMut(TcpStream) + Send + 'static,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((s, _)) => {
                    let _ = s.set_nonblocking(false);
                    on_conn(s);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    })
}

fn wait_count(c: &AtomicUsize, n: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if c.load(Ordering::SeqCst) >= n {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn tcp_url(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("tcp://{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("tcp://[{}]:{}", a.ip(), a.port()),
    }
}

// ---------------------------------------------------------------------------

/// Options of [`ResetPeer::start_with`].
#[derive(Debug, Clone)]
pub struct ResetOpts {
    /// Listen address (default 127.0.0.1:0).
    pub bind: SocketAddr,
    /// Sent right after accepting (default nothing).
    pub send_first: Vec<u8>,
    /// Bytes to read before the reset (the reset also comes on EOF, or
    /// after 30 s without them). 0 = reset right after accept (+ send_first).
    pub read_before_reset: usize,
    /// Pause before the reset (after reading).
    pub delay: Duration,
}

impl Default for ResetOpts {
    fn default() -> Self {
        ResetOpts {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            send_first: Vec::new(),
            read_before_reset: 0,
            delay: Duration::ZERO,
        }
    }
}

/// Accepts, (sends `send_first`,) reads N bytes, then resets the connection
/// with SO_LINGER 0. Every connection is treated the same. Stopped on drop
/// (connections still open are reset then).
pub struct ResetPeer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    resets: Arc<AtomicUsize>,
    bytes_read: Arc<AtomicUsize>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl ResetPeer {
    /// On 127.0.0.1, resetting after `read_before_reset` bytes.
    pub fn start(read_before_reset: usize) -> ResetPeer {
        ResetPeer::start_with(ResetOpts {
            read_before_reset,
            ..ResetOpts::default()
        })
    }

    pub fn start_with(opts: ResetOpts) -> ResetPeer {
        let l = listener(opts.bind, None);
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let resets = Arc::new(AtomicUsize::new(0));
        let bytes_read = Arc::new(AtomicUsize::new(0));
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (a, r, b, t, st) = (
            accepted.clone(),
            resets.clone(),
            bytes_read.clone(),
            threads.clone(),
            stop.clone(),
        );
        let acceptor = accept_loop(l, stop.clone(), move |mut s| {
            a.fetch_add(1, Ordering::SeqCst);
            let (r, b, st, opts) = (r.clone(), b.clone(), st.clone(), opts.clone());
            let h = std::thread::spawn(move || {
                if !opts.send_first.is_empty() {
                    let _ = s.write_all(&opts.send_first);
                }
                let deadline = Instant::now() + PEER_READ_LIMIT;
                let mut have = 0;
                let mut buf = vec![0u8; 65536];
                while have < opts.read_before_reset
                    && Instant::now() < deadline
                    && !st.load(Ordering::SeqCst)
                {
                    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                    let want = (opts.read_before_reset - have).min(buf.len());
                    match s.read(&mut buf[..want]) {
                        Ok(0) => break,
                        Ok(n) => {
                            have += n;
                            b.fetch_add(n, Ordering::SeqCst);
                        }
                        Err(e)
                            if e.kind() == io::ErrorKind::WouldBlock
                                || e.kind() == io::ErrorKind::TimedOut => {}
                        Err(_) => break,
                    }
                }
                if !opts.delay.is_zero() {
                    std::thread::sleep(opts.delay);
                }
                let _ = SockRef::from(&s).set_linger(Some(Duration::ZERO));
                drop(s);
                r.fetch_add(1, Ordering::SeqCst);
            });
            t.lock().unwrap().push(h);
        });
        ResetPeer {
            addr,
            stop,
            accepted,
            resets,
            bytes_read,
            threads,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    /// `tcp://127.0.0.1:P` (or `tcp://[::1]:P`).
    pub fn url(&self) -> String {
        tcp_url(self.addr)
    }
    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
    /// Connections reset so far.
    pub fn resets(&self) -> usize {
        self.resets.load(Ordering::SeqCst)
    }
    /// Bytes read from all connections.
    pub fn bytes_read(&self) -> usize {
        self.bytes_read.load(Ordering::SeqCst)
    }
    /// Wait until `n` connections have been reset.
    pub fn wait_for_resets(&self, n: usize, timeout: Duration) -> bool {
        wait_count(&self.resets, n, timeout)
    }
}

impl Drop for ResetPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        // Connection threads still waiting for data see `stop` within
        // 200 ms and reset their connection.
        let threads: Vec<_> = self.threads.lock().unwrap().drain(..).collect();
        for h in threads {
            let _ = h.join();
        }
    }
}

// ---------------------------------------------------------------------------

/// Accepts connections and never reads from nor writes to them; holds them
/// open until dropped (then they are closed).
pub struct SilentPeer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl SilentPeer {
    /// On 127.0.0.1:0.
    pub fn start() -> SilentPeer {
        SilentPeer::start_with(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), None)
    }

    /// On [::1]:0.
    pub fn start_v6() -> SilentPeer {
        SilentPeer::start_with(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)), None)
    }

    /// On `bind`; with `recv_buffer`, SO_RCVBUF is set on the listener (and
    /// so on accepted sockets) before listen, so a client's writes block
    /// after roughly that much (the kernel doubles it, minimum ~2 KiB; the
    /// client's send buffer adds to what it can write first).
    pub fn start_with(bind: SocketAddr, recv_buffer: Option<usize>) -> SilentPeer {
        let l = listener(bind, recv_buffer);
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (a, h) = (accepted.clone(), held.clone());
        let acceptor = accept_loop(l, stop.clone(), move |s| {
            h.lock().unwrap().push(s);
            a.fetch_add(1, Ordering::SeqCst);
        });
        SilentPeer {
            addr,
            stop,
            accepted,
            held,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    /// `tcp://127.0.0.1:P` (or `tcp://[::1]:P`).
    pub fn url(&self) -> String {
        tcp_url(self.addr)
    }
    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
    pub fn wait_for_connections(&self, n: usize, timeout: Duration) -> bool {
        wait_count(&self.accepted, n, timeout)
    }
    /// Close all connections held so far (FIN, or RST where unread data is
    /// pending); the listener keeps accepting.
    pub fn close_all(&self) {
        self.held.lock().unwrap().clear();
    }
}

impl Drop for SilentPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        self.held.lock().unwrap().clear();
    }
}

// ---------------------------------------------------------------------------

enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// How the server ended a [`SilentClient`]'s connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerClosed {
    /// Orderly close (EOF), after the server sent `data_bytes` bytes.
    Eof { data_bytes: usize },
    /// ECONNRESET.
    Reset { data_bytes: usize },
}

/// A client that connects and sends nothing, holding the connection until
/// dropped (or `close`).
pub struct SilentClient {
    conn: Conn,
}

impl SilentClient {
    /// TCP connect (5 s timeout per address); panics if it fails.
    pub fn connect<A: ToSocketAddrs + std::fmt::Debug>(addr: A) -> SilentClient {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .unwrap_or_else(|e| panic!("SilentClient: bad address {:?}: {}", addr, e))
            .collect();
        let mut last = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, Duration::from_secs(5)) {
                Ok(s) => return SilentClient { conn: Conn::Tcp(s) },
                Err(e) => last = Some(e),
            }
        }
        panic!("SilentClient: cannot connect to {:?}: {:?}", addr, last);
    }

    /// Connect to a unix socket path; panics if it fails.
    pub fn connect_unix(path: &Path) -> SilentClient {
        let s = UnixStream::connect(path).unwrap_or_else(|e| {
            panic!("SilentClient: cannot connect to {}: {}", path.display(), e)
        });
        SilentClient {
            conn: Conn::Unix(s),
        }
    }

    /// Connect to an abstract unix socket (`name` without '@').
    pub fn connect_abstract(name: &str) -> SilentClient {
        use std::os::linux::net::SocketAddrExt;
        let a = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .unwrap_or_else(|e| panic!("bad abstract name {:?}: {}", name, e));
        let s = UnixStream::connect_addr(&a)
            .unwrap_or_else(|e| panic!("SilentClient: cannot connect to @{}: {}", name, e));
        SilentClient {
            conn: Conn::Unix(s),
        }
    }

    /// Local address (TCP only).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.conn {
            Conn::Tcp(s) => s.local_addr().ok(),
            Conn::Unix(_) => None,
        }
    }

    /// Read (and discard) until the server closes the connection or
    /// `timeout` passes. Returns how it closed and after how long, or None
    /// if it is still open.
    pub fn wait_closed(&mut self, timeout: Duration) -> Option<(PeerClosed, Duration)> {
        let start = Instant::now();
        let deadline = start + timeout;
        let mut data = 0;
        let mut buf = [0u8; 16384];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let left = left.max(Duration::from_millis(1));
            let r = match &mut self.conn {
                Conn::Tcp(s) => {
                    let _ = s.set_read_timeout(Some(left));
                    s.read(&mut buf)
                }
                Conn::Unix(s) => {
                    let _ = s.set_read_timeout(Some(left));
                    s.read(&mut buf)
                }
            };
            match r {
                Ok(0) => return Some((PeerClosed::Eof { data_bytes: data }, start.elapsed())),
                Ok(n) => data += n,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Some((PeerClosed::Reset { data_bytes: data }, start.elapsed()))
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut
                        || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("SilentClient: read failed: {}", e),
            }
        }
    }

    /// Close now (what drop does).
    pub fn close(self) {}
}

// ---------------------------------------------------------------------------
// Network namespaces.

const NETNS_PREFIX: &str = "bn-sk-";

static NETNS_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Remove `bn-sk-<pid>-*` namespaces whose creating process is gone.
fn cleanup_stale() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(NETNS_PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
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

/// A fresh network namespace (`lo` up), deleted on drop together with
/// every process still in it. Needs root.
pub struct Netns {
    name: String,
}

impl Netns {
    /// `ip netns add bn-sk-<pid>-<n>-<tag>` and `lo` up. Panics (clearly)
    /// if not root or if `ip` is missing.
    pub fn new(tag: &str) -> Netns {
        require_root_or_fail("a network namespace (ip netns add)");
        if find_program("ip").is_none() {
            panic!("`ip` is not installed (apt-get -y -q install iproute2)");
        }
        cleanup_stale();
        let name = format!(
            "{}{}-{}-{}",
            NETNS_PREFIX,
            std::process::id(),
            NETNS_COUNTER.fetch_add(1, Ordering::Relaxed),
            tag
        );
        let add = ip(&["netns", "add", &name]);
        if !add.success() {
            panic!("cannot create network namespace {}:\n{:?}", name, add);
        }
        let ns = Netns { name };
        ns.ip_ok(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name (for `ip netns exec NAME …`, `ip -n NAME …`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NAME ARGS…`.
    pub fn ip(&self, args: &[&str]) -> RunOutput {
        let mut a = vec!["-n", self.name.as_str()];
        a.extend_from_slice(args);
        ip(&a)
    }

    /// `ip -n NAME ARGS…`, panicking with its output if it fails.
    pub fn ip_ok(&self, args: &[&str]) -> RunOutput {
        let out = self.ip(args);
        if !out.success() {
            panic!("setting up namespace {}:\n{:?}", self.name, out);
        }
        out
    }

    /// `ip netns exec NAME program` — add args, then `run(..)` it.
    pub fn command<S: AsRef<OsStr>>(&self, program: S) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Python's static file server inside the namespace on `bind:port`, serving `dir`.
    pub fn http_server(&self, bind: &str, port: u16, dir: &Path) -> super::KillOnDrop {
        let child = self
            .command("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                bind,
                &port.to_string(),
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 http.server");
        super::KillOnDrop { child }
    }

    /// Example program `name` inside the namespace.
    pub fn example(&self, name: &str) -> Command {
        let argv = super::process::example_argv(name);
        let mut c = self.command(&argv[0]);
        c.args(&argv[1..]);
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

    /// Run `f` on a new thread that entered the namespace (setns(2)); its
    /// sockets live in the namespace (and stay there when used from other
    /// threads later). Threads it spawns are in the namespace too.
    /// Panics in `f` propagate.
    pub fn run_in<R: Send, F: FnOnce() -> R + Send>(&self, f: F) -> R {
        let path = Path::new("/run/netns").join(&self.name);
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                let fd = File::open(&path)
                    .unwrap_or_else(|e| panic!("cannot open {}: {}", path.display(), e));
                // SAFETY: setns on a valid namespace fd, for this thread only.
                let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc != 0 {
                    panic!(
                        "setns({}) failed: {}",
                        path.display(),
                        io::Error::last_os_error()
                    );
                }
                f()
            });
            match h.join() {
                Ok(r) => r,
                Err(e) => std::panic::resume_unwind(e),
            }
        })
    }

    /// Interface index of `iface` inside the namespace.
    pub fn ifindex(&self, iface: &str) -> u32 {
        let out = self.ip_ok(&["-o", "link", "show", "dev", iface]);
        out.stdout_str()
            .split(':')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no ifindex for {} in {:?}", iface, out))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = destroy_netns(&self.name) {
            eprintln!("[peers] cleaning up namespace {}: {}", self.name, e);
        }
    }
}

// ---------------------------------------------------------------------------

/// Veth end with the address inside [`HangingConnectTarget`]'s namespace.
pub const HANG_IFACE: &str = "bnh0";
pub const HANG_LOCAL_V4: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
/// Connecting to this (any port) hangs.
pub const HANG_TARGET_V4: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
pub const HANG_LOCAL_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x99, 0, 0, 0, 0, 0, 1);
pub const HANG_TARGET_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x99, 0, 0, 0, 0, 0, 2);
/// The MAC the target's permanent neighbour entry points at (nobody has it).
pub const HANG_TARGET_MAC: &str = "02:00:5e:00:99:02";
pub const HANG_PORT: u16 = 80;

/// A namespace in which TCP connects to [`HANG_TARGET_V4`] (and
/// [`HANG_TARGET_V6`]) hang silently (see the module docs). Run the program
/// under test inside it with [`command`](Self::command) / `boardnet()`, or
/// Rust code with [`run_in`](Self::run_in). Deleted on drop.
pub struct HangingConnectTarget {
    ns: Netns,
    v6: bool,
}

impl HangingConnectTarget {
    pub fn new() -> HangingConnectTarget {
        let ns = Netns::new("hang");
        ns.ip_ok(&[
            "link", "add", HANG_IFACE, "type", "veth", "peer", "name", "bnh1",
        ]);
        ns.ip_ok(&["link", "set", HANG_IFACE, "up"]);
        ns.ip_ok(&["link", "set", "bnh1", "up"]);
        ns.ip_ok(&[
            "addr",
            "add",
            &format!("{}/24", HANG_LOCAL_V4),
            "dev",
            HANG_IFACE,
        ]);
        ns.ip_ok(&[
            "neigh",
            "add",
            &HANG_TARGET_V4.to_string(),
            "lladdr",
            HANG_TARGET_MAC,
            "dev",
            HANG_IFACE,
            "nud",
            "permanent",
        ]);
        let v6 = ns
            .ip(&[
                "-6",
                "addr",
                "add",
                &format!("{}/64", HANG_LOCAL_V6),
                "dev",
                HANG_IFACE,
                "nodad",
            ])
            .success()
            && ns
                .ip(&[
                    "-6",
                    "neigh",
                    "add",
                    &HANG_TARGET_V6.to_string(),
                    "lladdr",
                    HANG_TARGET_MAC,
                    "dev",
                    HANG_IFACE,
                    "nud",
                    "permanent",
                ])
                .success();
        HangingConnectTarget { ns, v6 }
    }

    pub fn netns(&self) -> &Netns {
        &self.ns
    }
    pub fn netns_name(&self) -> &str {
        self.ns.name()
    }
    /// 10.99.0.2:80.
    pub fn target_addr(&self) -> SocketAddr {
        SocketAddr::from((HANG_TARGET_V4, HANG_PORT))
    }
    /// `tcp://10.99.0.2:80`.
    pub fn target_url(&self) -> String {
        tcp_url(self.target_addr())
    }
    /// [fd00:99::2]:80, if IPv6 could be set up in the namespace.
    pub fn target_addr_v6(&self) -> Option<SocketAddr> {
        self.v6
            .then(|| SocketAddr::from((HANG_TARGET_V6, HANG_PORT)))
    }
    /// `tcp://[fd00:99::2]:80`, if IPv6 could be set up.
    pub fn target_url_v6(&self) -> Option<String> {
        self.target_addr_v6().map(tcp_url)
    }
    /// `ip netns exec NS program`.
    pub fn command<S: AsRef<OsStr>>(&self, program: S) -> Command {
        self.ns.command(program)
    }
    /// boardnet inside the namespace.
    pub fn boardnet(&self) -> Command {
        self.ns.boardnet()
    }
    /// Run Rust code inside the namespace (see [`Netns::run_in`]).
    pub fn run_in<R: Send, F: FnOnce() -> R + Send>(&self, f: F) -> R {
        self.ns.run_in(f)
    }
}

impl Default for HangingConnectTarget {
    fn default() -> Self {
        HangingConnectTarget::new()
    }
}

// ---------------------------------------------------------------------------

/// Interface names and addresses of [`MulticastNetns`].
pub const MCAST_IFACE_A: &str = "bnmc0";
pub const MCAST_IFACE_B: &str = "bnmc1";
pub const MCAST_A_V4: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);
pub const MCAST_B_V4: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 2);
pub const MCAST_A_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x98, 0, 0, 0, 0, 0, 1);
pub const MCAST_B_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x98, 0, 0, 0, 0, 0, 2);
/// Suggested groups (any 239.0.0.0/8 or ff15::/16 group works).
pub const MCAST_GROUP_V4: Ipv4Addr = Ipv4Addr::new(239, 1, 2, 3);
pub const MCAST_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 0, 0x123);

/// One end of [`MulticastNetns`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// Two namespaces joined by a veth pair for multicast tests (see the module
/// docs). Everything in them is killed and both are deleted on drop.
///
/// Receiving on a group: join it on the side's interface (socat:
/// `UDP4-RECV:PORT,ip-add-membership=239.1.2.3:bnmc1`,
/// `UDP6-RECV:PORT,ipv6-join-group=[ff15::123]:bnmc1`); sending: plain
/// `UDP4-DATAGRAM:239.1.2.3:PORT` works through the route (or pin it with
/// `ip-multicast-if=10.98.0.1`), `UDP6-DATAGRAM:[ff15::123]:PORT` likewise.
pub struct MulticastNetns {
    a: Netns,
    b: Netns,
    v6: bool,
}

impl MulticastNetns {
    pub fn new() -> MulticastNetns {
        let a = Netns::new("mca");
        let b = Netns::new("mcb");
        a.ip_ok(&[
            "link",
            "add",
            MCAST_IFACE_A,
            "type",
            "veth",
            "peer",
            "name",
            MCAST_IFACE_B,
            "netns",
            b.name(),
        ]);
        let mut v6 = true;
        for (ns, iface, v4, v6addr) in [
            (&a, MCAST_IFACE_A, MCAST_A_V4, MCAST_A_V6),
            (&b, MCAST_IFACE_B, MCAST_B_V4, MCAST_B_V6),
        ] {
            ns.ip_ok(&["addr", "add", &format!("{}/24", v4), "dev", iface]);
            v6 &= ns
                .ip(&[
                    "-6",
                    "addr",
                    "add",
                    &format!("{}/64", v6addr),
                    "dev",
                    iface,
                    "nodad",
                ])
                .success();
            ns.ip_ok(&["link", "set", "dev", iface, "multicast", "on", "up"]);
            ns.ip_ok(&["route", "add", "224.0.0.0/4", "dev", iface]);
        }
        let me = MulticastNetns { a, b, v6 };
        // Both ends up (carrier) before anyone sends.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !me.link_up(Side::A) || !me.link_up(Side::B) {
            if Instant::now() >= deadline {
                panic!(
                    "veth {}/{} not up after 5 s:\n{:?}",
                    MCAST_IFACE_A,
                    MCAST_IFACE_B,
                    me.a.ip(&["link", "show"])
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        me
    }

    fn link_up(&self, side: Side) -> bool {
        self.ns(side)
            .ip(&["link", "show", "dev", self.iface(side)])
            .stdout_str()
            .contains("LOWER_UP")
    }

    pub fn ns(&self, side: Side) -> &Netns {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }
    pub fn netns_name(&self, side: Side) -> &str {
        self.ns(side).name()
    }
    /// `bnmc0` (A) / `bnmc1` (B), each inside its namespace.
    pub fn iface(&self, side: Side) -> &'static str {
        match side {
            Side::A => MCAST_IFACE_A,
            Side::B => MCAST_IFACE_B,
        }
    }
    /// Interface index of the side's veth (inside its namespace).
    pub fn ifindex(&self, side: Side) -> u32 {
        self.ns(side).ifindex(self.iface(side))
    }
    pub fn addr_v4(&self, side: Side) -> Ipv4Addr {
        match side {
            Side::A => MCAST_A_V4,
            Side::B => MCAST_B_V4,
        }
    }
    /// The side's IPv6 address (if `has_v6`).
    pub fn addr_v6(&self, side: Side) -> Ipv6Addr {
        match side {
            Side::A => MCAST_A_V6,
            Side::B => MCAST_B_V6,
        }
    }
    /// Whether the IPv6 addresses could be added.
    pub fn has_v6(&self) -> bool {
        self.v6
    }
    /// `ip netns exec <side's NS> program`.
    pub fn command<S: AsRef<OsStr>>(&self, side: Side, program: S) -> Command {
        self.ns(side).command(program)
    }
    /// boardnet inside the side's namespace.
    pub fn boardnet(&self, side: Side) -> Command {
        self.ns(side).boardnet()
    }
    /// Run Rust code inside the side's namespace.
    pub fn run_in<R: Send, F: FnOnce() -> R + Send>(&self, side: Side, f: F) -> R {
        self.ns(side).run_in(f)
    }
    /// `ip maddr show dev IFACE` on that side (groups joined there).
    pub fn memberships(&self, side: Side) -> String {
        self.ns(side)
            .ip(&["maddr", "show", "dev", self.iface(side)])
            .stdout_str()
    }
    /// Wait until `group` is joined on the side's interface (a receiver is
    /// ready); returns whether it was within `timeout`.
    pub fn wait_for_membership(&self, side: Side, group: IpAddr, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let needle = group.to_string();
        loop {
            if self
                .memberships(side)
                .split_whitespace()
                .any(|w| w == needle)
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Default for MulticastNetns {
    fn default() -> Self {
        MulticastNetns::new()
    }
}
