//! The I/O under ureq: our own resolver and connector chain.
//!
//! ureq's own TCP connector can neither bind to an interface nor be woken by a cancellation, and
//! its resolver spawns a thread when a timeout is set. So the chain here is ours:
//!
//! ```text
//! SocksConnector → ureq's ConnectProxyConnector → TcpConnector → TlsConnector (feature tls)
//! ```
//!
//! Every socket is non-blocking and every wait is a `poll(2)` on the socket plus the request's
//! cancel pipe, with the deadline ureq hands down and the `--speed-limit` window. Per-request
//! state (cancel token, speed guard, phase timings) travels in a thread-local [`Transfer`]: ureq
//! runs connectors and transports synchronously on the caller's thread, so the thread-local is
//! exactly "the request being served right now".

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::config::{Config, IpFamily};
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, Transport,
};
use ureq::Timeout;

use super::buffers::IoBuffers;
use super::error::{NetworkError, TimeoutPhase};
use super::socks::{self, SocksError};
use crate::cancel::{self, CancelToken, Wake};
use crate::net::{connect_one, ConnectOptions, Interrupt, SpeedGuard};
use crate::socket::SocketError;

// ---------------------------------------------------------------------------------------------
// Per-request state

/// What the current request needs from the I/O layer, and what the I/O layer measured.
#[derive(Debug, Default)]
pub(crate) struct Transfer {
    pub(crate) cancel: Option<CancelToken>,
    /// Longest wait in which no byte moves (the client's idle timeout).
    pub(crate) idle: Option<Duration>,
    pub(crate) speed: Option<Mutex<SpeedGuard>>,
    pub(crate) phases: Mutex<Phases>,
}

/// Durations of the connection set-up phases of one request (zero when a pooled connection
/// was reused), and the address it connected to.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Phases {
    pub(crate) dns: Duration,
    pub(crate) connect: Duration,
    pub(crate) tls: Duration,
    pub(crate) remote: Option<SocketAddr>,
}

impl Transfer {
    fn record(&self, f: impl FnOnce(&mut Phases)) {
        if let Ok(mut p) = self.phases.lock() {
            f(&mut p);
        }
    }

    /// Fail fast if cancelled, and judge the speed limit.
    fn check(&self) -> io::Result<()> {
        if self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            return Err(Interrupt::Cancelled.into());
        }
        self.payload(0)
    }

    /// Count body bytes (received, or read from an upload's source) against the speed limit.
    pub(crate) fn payload(&self, bytes: usize) -> io::Result<()> {
        if let Some(speed) = &self.speed {
            if let Ok(mut guard) = speed.lock() {
                guard.record(bytes, Instant::now())?;
            }
        }
        Ok(())
    }

    /// When a wait must wake to judge the speed.
    fn speed_check(&self) -> Option<Instant> {
        self.speed
            .as_ref()
            .and_then(|s| s.lock().ok().map(|g| g.next_check()))
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Transfer>>> = const { RefCell::new(None) };
}

/// Run `f` with `transfer` as the current request of this thread.
pub(crate) fn within<R>(transfer: &Arc<Transfer>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<Transfer>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = prev);
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(Some(Arc::clone(transfer)))));
    f()
}

fn current() -> Option<Arc<Transfer>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Account a TLS handshake to the current request.
#[cfg(feature = "tls")]
pub(crate) fn record_tls_handshake(took: Duration) {
    if let Some(t) = current() {
        t.record(|p| p.tls += took);
    }
}

/// Convert an I/O error at the transport boundary into ureq's error, keeping our interrupts.
pub(crate) fn to_ureq(err: io::Error) -> ureq::Error {
    match err.get_ref().and_then(|e| e.downcast_ref::<Interrupt>()) {
        Some(Interrupt::Timeout(reason)) => ureq::Error::Timeout(*reason),
        Some(interrupt) => ureq::Error::Other(Box::new(*interrupt)),
        None => ureq::Error::Io(err),
    }
}

// ---------------------------------------------------------------------------------------------
// Sockets

/// A connected, non-blocking TCP socket whose blocking `Read`/`Write` wait in `poll(2)`.
#[derive(Debug)]
pub(crate) struct Socket {
    stream: TcpStream,
    timeout: NextTimeout,
    timeout_set: Instant,
}

impl Socket {
    fn new(stream: TcpStream) -> Self {
        Socket {
            stream,
            timeout: NextTimeout::default(),
            timeout_set: Instant::now(),
        }
    }

    /// The budget ureq gives the next operations, counted from now.
    pub(crate) fn set_timeout(&mut self, timeout: NextTimeout) {
        self.timeout = timeout;
        self.timeout_set = Instant::now();
    }

    /// Whether a pooled connection is still usable: no EOF and no unsolicited bytes waiting.
    pub(crate) fn is_open(&self) -> bool {
        match self.stream.peek(&mut [0u8]) {
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
            Ok(_) => false,
        }
    }

    fn wait(&self, events: libc::c_short, transfer: Option<&Transfer>) -> io::Result<()> {
        let op_start = Instant::now();
        let per_op = if events == libc::POLLIN {
            self.timeout.per_read.map(|d| (*d, Timeout::PerRead))
        } else {
            self.timeout.per_write.map(|d| (*d, Timeout::PerWrite))
        };
        let deadlines: [Option<(Instant, Interrupt)>; 3] = [
            (!self.timeout.after.is_not_happening()).then(|| {
                (
                    self.timeout_set + *self.timeout.after,
                    Interrupt::Timeout(self.timeout.reason),
                )
            }),
            per_op.map(|(d, reason)| (op_start + d, Interrupt::Timeout(reason))),
            transfer
                .and_then(|t| t.idle)
                .map(|idle| (op_start + idle, Interrupt::Idle(idle))),
        ];
        // The earliest deadline that is set.
        let deadline = deadlines.into_iter().flatten().min_by_key(|(at, _)| *at);
        loop {
            let now = Instant::now();
            if let Some((at, interrupt)) = deadline {
                if now >= at {
                    return Err(interrupt.into());
                }
            }
            let speed_end = transfer.and_then(Transfer::speed_check);
            let wake_at = match (deadline.map(|(at, _)| at), speed_end) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let cancel = transfer.and_then(|t| t.cancel.as_ref());
            match cancel::wait(
                self.stream.as_raw_fd(),
                events,
                cancel,
                wake_at.map(|at| at.saturating_duration_since(now)),
            )? {
                Wake::Ready => return Ok(()),
                Wake::Cancelled => return Err(Interrupt::Cancelled.into()),
                // Judge the speed window (no bytes) or loop to report the deadline.
                Wake::TimedOut => {
                    if let Some(t) = transfer {
                        t.check()?;
                    }
                }
            }
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let transfer = current();
        loop {
            if let Some(t) = &transfer {
                t.check()?;
            }
            match (&self.stream).read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait(libc::POLLIN, transfer.as_deref())?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let transfer = current();
        loop {
            if let Some(t) = &transfer {
                t.check()?;
            }
            match (&self.stream).write(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait(libc::POLLOUT, transfer.as_deref())?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A plain TCP connection as a ureq transport.
#[derive(Debug)]
pub(crate) struct PlainTransport {
    pub(crate) socket: Socket,
    buffers: IoBuffers,
}

impl PlainTransport {
    fn new(socket: Socket, config: &Config) -> Self {
        PlainTransport {
            socket,
            buffers: IoBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
        }
    }
}

impl Transport for PlainTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.socket.set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.socket.write_all(output).map_err(to_ureq)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.socket.set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let n = self.socket.read(input).map_err(to_ureq)?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.socket.is_open()
    }
}

/// What the TCP stage hands to the TLS stage: our own socket, or a CONNECT tunnel (a socket
/// already speaking to a proxy, possibly itself over TLS).
#[derive(Debug)]
pub(crate) enum Conn {
    Plain(PlainTransport),
    Tunnel(Box<dyn Transport>),
}

impl Transport for Conn {
    fn buffers(&mut self) -> &mut dyn Buffers {
        match self {
            Conn::Plain(t) => t.buffers(),
            Conn::Tunnel(t) => t.buffers(),
        }
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        match self {
            Conn::Plain(t) => t.transmit_output(amount, timeout),
            Conn::Tunnel(t) => t.transmit_output(amount, timeout),
        }
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        match self {
            Conn::Plain(t) => t.await_input(timeout),
            Conn::Tunnel(t) => t.await_input(timeout),
        }
    }

    fn is_open(&mut self) -> bool {
        match self {
            Conn::Plain(t) => t.is_open(),
            Conn::Tunnel(t) => t.is_open(),
        }
    }

    fn is_tls(&self) -> bool {
        match self {
            Conn::Plain(_) => false,
            Conn::Tunnel(t) => t.is_tls(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Name resolution

/// A failed host lookup, with the system resolver's own reason.
#[derive(Debug)]
pub(crate) struct ResolveError {
    pub(crate) host: String,
    pub(crate) reason: String,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.host, self.reason)
    }
}

impl std::error::Error for ResolveError {}

/// How many addresses ureq's resolver result holds.
const MAX_ADDRS: usize = 16;

/// The system resolver ([`crate::dns::host`]: getaddrinfo on the calling thread, resolv.conf
/// re-read when it changed). Its own timeouts come from resolv.conf (`options timeout:
/// attempts:`); no thread is spawned to bound it, so a second Ctrl-C leaves a hung lookup.
#[derive(Debug, Default)]
pub(crate) struct SystemResolver;

/// The port a URI means, with the scheme's default.
pub(crate) fn uri_port(uri: &Uri) -> u16 {
    uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        Some(s) if s.starts_with("socks") => 1080,
        _ => 80,
    })
}

/// The host of a URI without IPv6 brackets.
pub(crate) fn uri_host(uri: &Uri) -> &str {
    let host = uri.host().unwrap_or("");
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

impl Resolver for SystemResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        use crate::dns::host::{self, Family};
        let name = uri_host(uri);
        let port = uri_port(uri);
        let started = Instant::now();
        let family = match config.ip_family() {
            IpFamily::Ipv4Only => Family::V4,
            IpFamily::Ipv6Only => Family::V6,
            _ => Family::Any,
        };
        let found = host::addresses(name, family);
        if let Some(t) = current() {
            t.record(|p| p.dns += started.elapsed());
        }
        let addresses = found.map_err(|e| {
            let reason = match e {
                crate::dns::HostError::HostNotFound { reason, .. }
                | crate::dns::HostError::Unknown { reason, .. } => reason,
                other => other.to_string(),
            };
            ureq::Error::Other(Box::new(ResolveError {
                host: name.to_string(),
                reason,
            }))
        })?;
        let mut out = self.empty();
        for ip in addresses.into_iter().take(MAX_ADDRS) {
            out.push(SocketAddr::new(ip, port));
        }
        log::debug!("resolved {name}: {:?}", &out[..]);
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Connecting

/// A connect that failed, naming the address (and whether it was the proxy).
#[derive(Debug)]
pub(crate) struct ConnectError {
    pub(crate) addr: SocketAddr,
    pub(crate) to_proxy: bool,
    pub(crate) source: io::Error,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connect to {}: {}", self.addr, self.source)
    }
}

impl std::error::Error for ConnectError {}

/// Whether the next address might work after this failure (ureq's and curl's rule).
fn addr_specific(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::NetworkDown
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::TimedOut
    )
}

/// Try each address in turn. With several addresses the budget is split geometrically (half
/// for the first, a quarter for the second…), so a black-holed IPv6 address cannot use up the
/// whole connect timeout before IPv4 gets a chance.
fn connect_any(
    addrs: &[SocketAddr],
    opts: &ConnectOptions,
    timeout: NextTimeout,
    to_proxy: bool,
) -> Result<Socket, ureq::Error> {
    let transfer = current();
    let cancel = transfer.as_ref().and_then(|t| t.cancel.as_ref());
    let started = Instant::now();
    let deadline = (!timeout.after.is_not_happening()).then(|| started + *timeout.after);
    let mut last: Option<ureq::Error> = None;
    for (i, addr) in addrs.iter().enumerate() {
        let now = Instant::now();
        let budget = deadline.map(|d| {
            let left = d.saturating_duration_since(now);
            if i + 1 == addrs.len() {
                left
            } else {
                left / 2
            }
        });
        if budget.is_some_and(|b| b.is_zero()) {
            break;
        }
        log::debug!("connecting to {addr}");
        match connect_one(*addr, opts, budget, cancel) {
            Ok(stream) => {
                if let Some(t) = &transfer {
                    t.record(|p| {
                        p.connect += started.elapsed();
                        if !to_proxy {
                            p.remote = Some(*addr);
                        }
                    });
                }
                return Ok(Socket::new(stream));
            }
            Err(e) => {
                let interrupt = e
                    .get_ref()
                    .and_then(|i| i.downcast_ref::<Interrupt>())
                    .copied();
                match interrupt {
                    Some(Interrupt::Timeout(_)) => {
                        last = Some(ureq::Error::Timeout(timeout.reason));
                    }
                    Some(i) => return Err(ureq::Error::Other(Box::new(i))),
                    None if addr_specific(&e) => {
                        log::debug!("connect to {addr} failed: {e}");
                        last = Some(connect_error(*addr, to_proxy, e));
                    }
                    None => return Err(connect_error(*addr, to_proxy, e)),
                }
            }
        }
    }
    Err(last.unwrap_or(ureq::Error::Timeout(timeout.reason)))
}

fn connect_error(addr: SocketAddr, to_proxy: bool, source: io::Error) -> ureq::Error {
    ureq::Error::Other(Box::new(ConnectError {
        addr,
        to_proxy,
        source,
    }))
}

/// Direct TCP connections (and connections to HTTP proxies), bound to the client's interface.
#[derive(Debug)]
pub(crate) struct TcpConnector {
    pub(crate) opts: Arc<ConnectOptions>,
    /// host:port of the configured HTTP proxy, to tell a refused proxy from a refused server.
    pub(crate) proxy: Option<(String, u16)>,
}

impl Connector<Either<PlainTransport, Box<dyn Transport>>> for TcpConnector {
    type Out = Conn;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<Either<PlainTransport, Box<dyn Transport>>>,
    ) -> Result<Option<Conn>, ureq::Error> {
        match chained {
            Some(Either::A(socks)) => return Ok(Some(Conn::Plain(socks))),
            Some(Either::B(tunnel)) => return Ok(Some(Conn::Tunnel(tunnel))),
            None => {}
        }
        let to_proxy = self
            .proxy
            .as_ref()
            .is_some_and(|(h, p)| h == uri_host(details.uri) && *p == uri_port(details.uri));
        let socket = connect_any(&details.addrs, &self.opts, details.timeout, to_proxy)?;
        Ok(Some(Conn::Plain(PlainTransport::new(
            socket,
            details.config,
        ))))
    }
}

/// SOCKS5 proxies (`socks5://` resolves locally, `socks5h://` lets the proxy resolve), through
/// the same bound, cancellable sockets as direct connections.
#[derive(Debug)]
pub(crate) struct SocksConnector {
    pub(crate) opts: Arc<ConnectOptions>,
}

impl Connector<()> for SocksConnector {
    type Out = PlainTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<()>,
    ) -> Result<Option<PlainTransport>, ureq::Error> {
        use ureq::ProxyProtocol;
        let Some(proxy) = details.config.proxy() else {
            return Ok(None);
        };
        match proxy.protocol() {
            ProxyProtocol::Socks5 | ProxyProtocol::Socks5h => {}
            ProxyProtocol::Socks4 | ProxyProtocol::Socks4A => {
                return Err(ureq::Error::Other(Box::new(NetworkError::Unsupported(
                    "SOCKS4 proxies (use socks5:// or socks5h://)".into(),
                ))))
            }
            _ => return Ok(None),
        }
        if proxy.is_no_proxy(details.uri) {
            return Ok(None);
        }
        let proxy_addrs = details
            .resolver
            .resolve(proxy.uri(), details.config, details.timeout)?;
        let mut socket = connect_any(&proxy_addrs, &self.opts, details.timeout, true)?;
        socket.set_timeout(details.timeout);
        let host = uri_host(details.uri);
        let port = uri_port(details.uri);
        let dest = if proxy.resolve_target() {
            let addr = details
                .addrs
                .first()
                .copied()
                .ok_or(ureq::Error::HostNotFound)?;
            socks::Dest::Addr(addr)
        } else {
            socks::Dest::Domain(host, port)
        };
        socks_handshake(&mut socket, proxy.username(), proxy.password(), dest).map_err(
            |e| match e {
                SocksHandshakeError::Io(io) => to_ureq(io),
                SocksHandshakeError::Socks(s) => ureq::Error::Other(Box::new(s)),
            },
        )?;
        log::debug!("SOCKS5 proxy connected to {host}:{port}");
        Ok(Some(PlainTransport::new(socket, details.config)))
    }
}

enum SocksHandshakeError {
    Io(io::Error),
    Socks(SocksError),
}

impl From<io::Error> for SocksHandshakeError {
    fn from(e: io::Error) -> Self {
        SocksHandshakeError::Io(e)
    }
}

impl From<SocksError> for SocksHandshakeError {
    fn from(e: SocksError) -> Self {
        SocksHandshakeError::Socks(e)
    }
}

fn socks_handshake(
    socket: &mut Socket,
    user: Option<&str>,
    pass: Option<&str>,
    dest: socks::Dest<'_>,
) -> Result<(), SocksHandshakeError> {
    let creds = user.map(|u| (u, pass.unwrap_or("")));
    socket.write_all(&socks::greeting(creds.is_some()))?;
    let mut two = [0u8; 2];
    socket.read_exact(&mut two)?;
    if socks::parse_method_choice(two)? {
        let (u, p) = creds.ok_or(SocksError::NoAcceptableAuth)?;
        socket.write_all(&socks::auth_request(u, p)?)?;
        socket.read_exact(&mut two)?;
        socks::parse_auth_reply(two)?;
    }
    socket.write_all(&socks::connect_request(dest)?)?;
    let mut head = [0u8; 5];
    socket.read_exact(&mut head)?;
    let mut rest = [0u8; 257];
    let n = socks::connect_reply_rest(head)?;
    socket.read_exact(
        rest.get_mut(..n)
            .ok_or(SocksError::Malformed("connect reply"))?,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Errors back to NetworkError

/// Classify an I/O error that has no richer cause attached.
pub(crate) fn classify_io(err: io::Error) -> NetworkError {
    if let Some(interrupt) = err.get_ref().and_then(|e| e.downcast_ref::<Interrupt>()) {
        return interrupt_error(*interrupt, None);
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = crate::tls::failure_of_io(&err) {
        return NetworkError::SslHandshakeFailed(tls);
    }
    use io::ErrorKind as K;
    match err.kind() {
        K::UnexpectedEof => NetworkError::RemoteHostClosed("before the reply was complete".into()),
        K::ConnectionReset | K::ConnectionAborted => {
            NetworkError::RemoteHostClosed("(connection reset)".into())
        }
        K::BrokenPipe => NetworkError::RemoteHostClosed("while we were sending".into()),
        K::ConnectionRefused => NetworkError::ConnectionRefused {
            addr: "server".into(),
        },
        K::NetworkUnreachable | K::HostUnreachable | K::NetworkDown | K::AddrNotAvailable => {
            NetworkError::TemporaryNetworkFailure(err.to_string())
        }
        K::TimedOut => NetworkError::Timeout {
            phase: TimeoutPhase::Idle,
            after: None,
        },
        _ => NetworkError::NetworkFailure(err.to_string()),
    }
}

fn interrupt_error(i: Interrupt, limits: Option<&TimeoutLimits>) -> NetworkError {
    match i {
        Interrupt::Cancelled => NetworkError::OperationCanceled,
        Interrupt::Stalled { limit, window } => NetworkError::TransferStalled { limit, window },
        Interrupt::Timeout(reason) => timeout_error(reason, limits),
        Interrupt::Idle(after) => NetworkError::Timeout {
            phase: TimeoutPhase::Idle,
            after: Some(after),
        },
    }
}

/// How many header lines ureq-proto parses in a response (its fixed `MAX_RESPONSE_HEADERS`).
const MAX_RESPONSE_HEADER_LINES: usize = 128;

/// The configured limits, to name them in error messages ("within N s", "at most N KiB").
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TimeoutLimits {
    pub(crate) connect: Option<Duration>,
    pub(crate) total: Option<Duration>,
    pub(crate) header_bytes: usize,
}

fn timeout_error(reason: Timeout, limits: Option<&TimeoutLimits>) -> NetworkError {
    let phase = match reason {
        Timeout::Connect | Timeout::Resolve => TimeoutPhase::Connect,
        Timeout::Global | Timeout::PerCall => TimeoutPhase::Total,
        _ => TimeoutPhase::Idle,
    };
    let after = limits.and_then(|l| match phase {
        TimeoutPhase::Connect => l.connect,
        TimeoutPhase::Total => l.total,
        TimeoutPhase::Idle => None,
    });
    NetworkError::Timeout { phase, after }
}

/// Map ureq's error (with our causes inside `Error::Other`) to a [`NetworkError`].
pub(crate) fn to_network_error(err: ureq::Error, limits: &TimeoutLimits) -> NetworkError {
    match err {
        ureq::Error::Timeout(reason) => timeout_error(reason, Some(limits)),
        ureq::Error::Io(e) => {
            if e.get_ref().is_some_and(|x| x.is::<ureq::Error>()) {
                if let Some(inner) = e.into_inner() {
                    if let Ok(u) = inner.downcast::<ureq::Error>() {
                        return to_network_error(*u, limits);
                    }
                }
                return NetworkError::NetworkFailure("unknown I/O error".into());
            }
            match e.get_ref().and_then(|x| x.downcast_ref::<Interrupt>()) {
                Some(i) => interrupt_error(*i, Some(limits)),
                None => classify_io(e),
            }
        }
        ureq::Error::Other(boxed) => other_error(boxed, limits),
        ureq::Error::HostNotFound => NetworkError::HostNotFound {
            host: String::new(),
            reason: "no addresses".into(),
        },
        ureq::Error::Protocol(ureq_proto::Error::HttpParseTooManyHeaders) => {
            NetworkError::ProtocolFailure(format!(
                "response header block over the limits (more than {MAX_RESPONSE_HEADER_LINES} header lines; at most {} KiB)",
                limits.header_bytes / 1024
            ))
        }
        ureq::Error::Protocol(e) => NetworkError::ProtocolFailure(e.to_string()),
        ureq::Error::LargeResponseHeader(_, limit) => NetworkError::ProtocolFailure(format!(
            "response header block larger than {} KiB",
            limit / 1024
        )),
        ureq::Error::BodyStalled => {
            NetworkError::ProtocolFailure("response body framing made no progress".into())
        }
        ureq::Error::BadUri(why) => NetworkError::InvalidRequest(why),
        ureq::Error::Http(e) => NetworkError::InvalidRequest(e.to_string()),
        ureq::Error::InvalidProxyUrl => NetworkError::InvalidRequest("invalid proxy URL".into()),
        ureq::Error::TlsRequired => {
            NetworkError::Unsupported("https:// in a build without the `tls` feature".into())
        }
        ureq::Error::BodyExceedsLimit(n) => NetworkError::LocalFile(crate::fs::FileError {
            path: "upload".into(),
            op: "send",
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                format!("body longer than its declared length of {n} bytes (file grew?)"),
            ),
        }),
        other => NetworkError::NetworkFailure(other.to_string()),
    }
}

fn other_error(
    boxed: Box<dyn std::error::Error + Send + Sync>,
    limits: &TimeoutLimits,
) -> NetworkError {
    let boxed = match boxed.downcast::<Interrupt>() {
        Ok(i) => return interrupt_error(*i, Some(limits)),
        Err(b) => b,
    };
    let boxed = match boxed.downcast::<NetworkError>() {
        Ok(e) => return *e,
        Err(b) => b,
    };
    let boxed = match boxed.downcast::<ResolveError>() {
        Ok(e) => {
            return NetworkError::HostNotFound {
                host: e.host,
                reason: e.reason,
            }
        }
        Err(b) => b,
    };
    let boxed = match boxed.downcast::<ConnectError>() {
        Ok(e) => return connect_network_error(*e),
        Err(b) => b,
    };
    let boxed = match boxed.downcast::<SocksError>() {
        Ok(e) => {
            return match *e {
                SocksError::NoAcceptableAuth => {
                    NetworkError::ProxyAuthenticationRequired { rejected: false }
                }
                SocksError::AuthFailed => {
                    NetworkError::ProxyAuthenticationRequired { rejected: true }
                }
                SocksError::Refused(5) => NetworkError::ConnectionRefused {
                    addr: "target (reported by the SOCKS proxy)".into(),
                },
                other => NetworkError::ProxyFailure(other.to_string()),
            }
        }
        Err(b) => b,
    };
    #[cfg(feature = "tls")]
    let boxed = match boxed.downcast::<crate::tls::TlsSetupError>() {
        Ok(e) => return NetworkError::SslHandshakeFailed(e.0),
        Err(b) => b,
    };
    NetworkError::NetworkFailure(boxed.to_string())
}

fn connect_network_error(e: ConnectError) -> NetworkError {
    // Binding to an interface that does not exist: bad input, named.
    if let Some(SocketError::InvalidEndpoint(why)) = SocketError::of(&e.source) {
        return NetworkError::InvalidRequest(why.clone());
    }
    let addr = e.addr.to_string();
    match e.source.kind() {
        io::ErrorKind::ConnectionRefused if e.to_proxy => {
            NetworkError::ProxyConnectionRefused { proxy: addr }
        }
        io::ErrorKind::ConnectionRefused => NetworkError::ConnectionRefused { addr },
        // The kernel gave up on SYN retries (ETIMEDOUT) before any limit of ours.
        io::ErrorKind::TimedOut => NetworkError::Timeout {
            phase: TimeoutPhase::Connect,
            after: None,
        },
        io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkDown
        | io::ErrorKind::AddrNotAvailable => {
            NetworkError::TemporaryNetworkFailure(format!("{addr}: {}", e.source))
        }
        _ => NetworkError::NetworkFailure(format!("connect to {addr}: {}", e.source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_guard_slides_and_fires_one_window_after_a_stall() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let stalled = Err(Interrupt::Stalled {
            limit: 100,
            window: Duration::from_secs(2),
        });
        // 150 bytes in the first 2 s: below the 200 required.
        let mut g = SpeedGuard::new(100, Duration::from_secs(2), t0);
        g.record(150, t0 + ms(500)).unwrap();
        assert_eq!(g.next_check(), t0 + ms(2000));
        assert_eq!(g.record(0, t0 + ms(2000)), stalled);
        // Fast for 3 s, then nothing: a fixed window restarted at 3 s would wait until 5 s
        // and judge again at 7 s; the sliding one fires once the last 2 s hold too little.
        let mut g = SpeedGuard::new(100, Duration::from_secs(2), t0);
        for i in 0..30 {
            g.record(100, t0 + ms(100 * i)).unwrap();
        }
        g.record(0, t0 + ms(3500)).unwrap();
        g.record(0, t0 + ms(4000)).unwrap();
        let mut fired = None;
        for i in 0..40 {
            let at = t0 + ms(4000 + 100 * i);
            if g.record(0, at).is_err() {
                fired = Some(at);
                break;
            }
        }
        let fired = fired.expect("stall never detected");
        assert!(
            fired >= t0 + ms(4800) && fired <= t0 + ms(5300),
            "{:?}",
            fired - t0
        );
        // Slots are judged every tenth of a window after the first.
        assert!(g.next_check() <= fired + ms(200));
        // A long silence between calls empties the ring instead of looping over it.
        let mut g = SpeedGuard::new(1, Duration::from_secs(1), t0);
        assert!(g.record(5, t0 + Duration::from_secs(100_000)).is_ok());
    }

    #[test]
    fn interrupts_survive_the_trip_through_io_and_ureq() {
        let limits = TimeoutLimits {
            connect: Some(Duration::from_secs(3)),
            total: None,
            header_bytes: 64 * 1024,
        };
        let e = to_ureq(Interrupt::Cancelled.into());
        assert!(matches!(
            to_network_error(e, &limits),
            NetworkError::OperationCanceled
        ));
        let e = to_ureq(Interrupt::Timeout(Timeout::Connect).into());
        assert!(matches!(
            to_network_error(e, &limits),
            NetworkError::Timeout {
                phase: TimeoutPhase::Connect,
                after: Some(d)
            } if d == Duration::from_secs(3)
        ));
        // ureq wraps its errors in io::Error when they come out of a body reader.
        let e = ureq::Error::Io(io::Error::other(ureq::Error::Other(Box::new(
            Interrupt::Stalled {
                limit: 5,
                window: Duration::from_secs(1),
            },
        ))));
        assert!(matches!(
            to_network_error(e, &limits),
            NetworkError::TransferStalled { limit: 5, .. }
        ));
    }

    #[test]
    fn connect_errors_name_the_address_and_the_proxy() {
        let err = |kind, to_proxy| {
            connect_network_error(ConnectError {
                addr: "127.0.0.1:9".parse().unwrap(),
                to_proxy,
                source: io::Error::from(kind),
            })
        };
        assert!(matches!(
            err(io::ErrorKind::ConnectionRefused, false),
            NetworkError::ConnectionRefused { addr } if addr == "127.0.0.1:9"
        ));
        assert!(matches!(
            err(io::ErrorKind::ConnectionRefused, true),
            NetworkError::ProxyConnectionRefused { .. }
        ));
        assert!(matches!(
            err(io::ErrorKind::NetworkUnreachable, false),
            NetworkError::TemporaryNetworkFailure(_)
        ));
        let timed_out = err(io::ErrorKind::TimedOut, false);
        assert_eq!(
            crate::Classify::class(&timed_out),
            crate::ErrorClass::Timeout,
            "{timed_out}"
        );
    }

    #[test]
    fn refused_connect_names_the_address() {
        // A port nothing listens on: bind, note the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let opts = ConnectOptions::default();
        let e = connect_any(&[addr], &opts, NextTimeout::default(), false).unwrap_err();
        assert!(matches!(
            to_network_error(e, &TimeoutLimits::default()),
            NetworkError::ConnectionRefused { .. }
        ));
    }

    #[test]
    fn a_cancelled_write_all_returns_instead_of_retrying() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (done_tx, done) = std::sync::mpsc::channel();
        // Detached: if the write spins, the test fails on the timeout below, not by hanging.
        std::thread::spawn(move || {
            let opts = ConnectOptions::default();
            let mut socket = connect_any(&[addr], &opts, NextTimeout::default(), false).unwrap();
            let token = CancelToken::new().unwrap();
            token.cancel();
            let transfer = Arc::new(Transfer {
                cancel: Some(token),
                ..Transfer::default()
            });
            let result = within(&transfer, || socket.write_all(b"GET / HTTP/1.1\r\n\r\n"));
            let _ = done_tx.send(result.map_err(classify_io));
        });
        let _server_side = listener.accept().unwrap();
        let result = done
            .recv_timeout(Duration::from_secs(5))
            .expect("write_all still retries a cancelled write after 5 s");
        assert!(matches!(result, Err(NetworkError::OperationCanceled)));
    }

    #[test]
    fn a_cancelled_token_ends_a_blocked_read() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let opts = ConnectOptions::default();
        let mut socket = connect_any(&[addr], &opts, NextTimeout::default(), false).unwrap();
        let _server_side = listener.accept().unwrap();
        let token = CancelToken::new().unwrap();
        let transfer = Arc::new(Transfer {
            cancel: Some(token.clone()),
            ..Transfer::default()
        });
        // Nothing is ever sent: only the cancellation can end this read.
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            token.cancel();
        });
        let err = within(&transfer, || socket.read(&mut [0u8; 16])).unwrap_err();
        canceller.join().unwrap();
        assert!(matches!(classify_io(err), NetworkError::OperationCanceled));
    }
}
