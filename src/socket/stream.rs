//! Connected stream sockets — TCP, Unix, SCTP one-to-one, and TLS over TCP — on the reactor
//! (QTcpSocket, QLocalSocket, QSctpSocket, QSslSocket).

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, TcpKeepalive, Type};

use super::endpoint::{Address, Endpoint, Host, UnixName};
use super::error::{SocketError, TimeoutPhase};
use super::state::{Action, Lifecycle, SocketEvent, SocketState, WriteBuffer};
use super::sys;
#[cfg(feature = "tls")]
use super::tls::{Pulled, TlsInfo, TlsLayer};
use crate::dns::{Family, HostError, HostLookups, LookupId, ResolverOptions};
use crate::reactor::{Reactor, Ready, TimerId, Token};
#[cfg(feature = "tls")]
use crate::tls::TlsOptions;

/// How to connect.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Limit for host lookup, connect and TLS handshake together (Qt: waitForConnected's
    /// argument). `None`: the kernel's own limit (about two minutes for TCP).
    pub timeout: Option<Duration>,
    /// Send through this interface only (SO_BINDTODEVICE; needs CAP_NET_RAW).
    pub interface: Option<String>,
    /// Which addresses of a host name to try.
    pub family: Family,
    /// Send small writes at once (TCP_NODELAY / SCTP_NODELAY; Qt's LowDelayOption).
    pub nodelay: bool,
    /// Probe an idle connection after this long (SO_KEEPALIVE; Qt's KeepAliveOption).
    pub keepalive: Option<Duration>,
    /// SCTP: negotiate this many streams each way and keep message boundaries and stream
    /// numbers (Qt's channels); `None` is a plain byte stream (Qt's -1 channels).
    pub sctp_streams: Option<u16>,
    /// How `tls://` endpoints verify the server and authenticate to it.
    #[cfg(feature = "tls")]
    pub tls: TlsOptions,
    /// Resolver settings for host names (default: resolv.conf).
    pub resolver: ResolverOptions,
}

/// Which protocol a stream socket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// TCP (and TLS over it).
    Tcp,
    /// Unix (local) sockets.
    Unix,
    /// SCTP one-to-one.
    Sctp,
}

/// One SCTP message as received: `len` bytes of it landed in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SctpMessage {
    /// Bytes of it in the buffer.
    pub len: usize,
    /// The stream (Qt's channel) it arrived on.
    pub stream: u16,
    /// The message ended in this read (it was not larger than the buffer).
    pub complete: bool,
}

/// Where a connect is going and how far it got.
#[derive(Debug)]
struct Connecting {
    /// The host lookup, while it runs.
    lookup: Option<(HostLookups, LookupId)>,
    host: String,
    port: u16,
    /// Addresses not tried yet (Unix: one).
    addresses: VecDeque<SockAddr>,
    /// The address being tried now.
    current: String,
    opts: ConnectOptions,
    deadline: Option<(Instant, TimerId)>,
    last_error: Option<SocketError>,
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// A connected (or connecting) stream socket. Drive it with [`handle`](Self::handle) from
/// the reactor loop and take its events with [`next_event`](Self::next_event); or use the
/// blocking `wait_for_*` helpers in a simple program.
///
/// Reading follows the non-blocking idiom: after `ReadyRead`, call [`read`](Self::read)
/// until it returns `WouldBlock` (`Ok(0)` is the end of the stream). Writing never blocks:
/// [`write`](Self::write) queues what the kernel does not take at once (watch
/// [`bytes_to_write`](Self::bytes_to_write) to stop producing while the peer is slow).
#[derive(Debug)]
pub struct StreamSocket {
    kind: StreamKind,
    token: Token,
    sock: Option<Socket>,
    life: Lifecycle,
    /// The peer as named for messages (host:port, path).
    peer: String,
    out: WriteBuffer,
    /// The kernel (or rustls) may have data: the last read did not say WouldBlock.
    readable: bool,
    bytes_read: u64,
    bytes_written: u64,
    connecting: Option<Box<Connecting>>,
    #[cfg(feature = "tls")]
    tls: Option<Box<TlsLayer>>,
    /// An accepted TLS client's handshake deadline: its timer and the limit.
    #[cfg(feature = "tls")]
    handshake_deadline: Option<(TimerId, Duration)>,
    /// SCTP message mode: messages queued for sending, with their streams.
    sctp_out: Option<Box<SctpQueue>>,
}

/// SCTP messages waiting to be sent, each with its stream.
type SctpQueue = VecDeque<(u16, Vec<u8>)>;

fn invalid(why: impl Into<String>) -> SocketError {
    SocketError::InvalidEndpoint(why.into())
}

#[cfg(not(feature = "sctp"))]
fn sctp_unavailable() -> SocketError {
    SocketError::UnsupportedSocketOperation(
        "this boardnet was built without SCTP (cargo feature \"sctp\")".into(),
    )
}

/// The error for a failed SCTP socket(): the usual cause is a kernel without SCTP.
#[cfg(feature = "sctp")]
pub(crate) fn sctp_socket_error(e: &io::Error, subject: &str) -> SocketError {
    match e.raw_os_error() {
        Some(libc::EPROTONOSUPPORT | libc::ESOCKTNOSUPPORT | libc::EAFNOSUPPORT) => {
            SocketError::UnsupportedSocketOperation(
                "kernel has no SCTP support (load the sctp module: modprobe sctp)".into(),
            )
        }
        _ => SocketError::from_io(e, subject),
    }
}

/// A new socket of `kind` for `domain`, with the options that must precede connect/listen.
pub(crate) fn stream_socket(
    kind: StreamKind,
    domain: Domain,
    sctp_streams: Option<u16>,
    subject: &str,
) -> Result<Socket, SocketError> {
    match kind {
        StreamKind::Tcp => sys::socket(domain, Type::STREAM, Some(Protocol::TCP))
            .map_err(|e| SocketError::from_io(&e, subject)),
        StreamKind::Unix => sys::socket(Domain::UNIX, Type::STREAM, None)
            .map_err(|e| SocketError::from_io(&e, subject)),
        #[cfg(feature = "sctp")]
        StreamKind::Sctp => {
            let sock =
                sys::sctp::socket(domain, false).map_err(|e| sctp_socket_error(&e, subject))?;
            if let Some(n) = sctp_streams {
                sys::sctp::set_streams(&sock, n)
                    .and_then(|()| sys::sctp::report_streams(&sock))
                    .map_err(|e| SocketError::from_io(&e, subject))?;
            }
            Ok(sock)
        }
        #[cfg(not(feature = "sctp"))]
        StreamKind::Sctp => {
            let _ = sctp_streams;
            Err(sctp_unavailable())
        }
    }
}

/// SO_BINDTODEVICE with an error that names the interface.
pub(crate) fn bind_to_interface(sock: &Socket, interface: &str) -> Result<(), SocketError> {
    if !super::endpoint::valid_interface_name(interface) {
        return Err(invalid(format!("\"{interface}\" is not an interface name")));
    }
    sock.bind_device(Some(interface.as_bytes()))
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM) => SocketError::SocketAccess {
                what: format!("binding to interface {interface} needs root (CAP_NET_RAW)"),
                file: false,
            },
            Some(libc::ENODEV) => invalid(format!("no interface named \"{interface}\"")),
            _ => SocketError::from_io(&e, interface),
        })
}

/// An IPv6 address with its zone as a socket address.
pub(crate) fn scoped(
    ip: std::net::Ipv6Addr,
    zone: &str,
    port: u16,
) -> Result<SocketAddr, SocketError> {
    let index = sys::interface_index(zone)
        .map_err(|_| invalid(format!("no interface named \"{zone}\" (in [{ip}%{zone}])")))?;
    Ok(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, index)))
}

impl StreamSocket {
    /// Start connecting to a `tcp://`, `tls://`, `sctp://` or `unix:` endpoint. Failures of
    /// the connection itself arrive as events (as in Qt); only a request that can never work
    /// (a `udp://` endpoint, a bad TLS file, SCTP missing) is an error here.
    pub fn connect(
        reactor: &mut Reactor,
        endpoint: &Endpoint,
        opts: ConnectOptions,
    ) -> Result<StreamSocket, SocketError> {
        let (kind, host_port, tls) = match endpoint {
            Endpoint::Tcp(hp) => (StreamKind::Tcp, Some(hp), false),
            Endpoint::Tls(hp) => (StreamKind::Tcp, Some(hp), true),
            Endpoint::Sctp(hp) => (StreamKind::Sctp, Some(hp), false),
            Endpoint::Unix(_) => (StreamKind::Unix, None, false),
            Endpoint::Udp(_) => {
                return Err(invalid(format!(
                    "{endpoint} is a datagram endpoint; use a UdpSocket"
                )))
            }
        };
        #[cfg(not(feature = "sctp"))]
        if kind == StreamKind::Sctp {
            return Err(sctp_unavailable());
        }
        if let Some(hp) = host_port {
            if hp.port == 0 {
                return Err(invalid(format!("{endpoint}: cannot connect to port 0")));
            }
            if hp.host == Host::Any {
                return Err(invalid(format!(
                    "{endpoint}: \"*\" is for listening; name the host to connect to"
                )));
            }
        }
        #[cfg(feature = "tls")]
        let tls_config = if tls {
            Some(crate::tls::client_config(&opts.tls).map_err(SocketError::SslHandshakeFailed)?)
        } else {
            None
        };
        #[cfg(not(feature = "tls"))]
        if tls {
            return Err(SocketError::UnsupportedSocketOperation(
                "this boardnet was built without TLS (cargo feature \"tls\")".into(),
            ));
        }
        let token = reactor.token();
        let deadline = opts.timeout.map(|t| {
            let at = Instant::now() + t;
            (at, reactor.timer(at, token))
        });
        let peer = match endpoint {
            Endpoint::Unix(name) => name.to_string(),
            _ => host_port.map(|hp| hp.to_string()).unwrap_or_default(),
        };
        let mut connecting = Box::new(Connecting {
            lookup: None,
            host: host_port.map(|hp| hp.host.to_string()).unwrap_or_default(),
            port: host_port.map_or(0, |hp| hp.port),
            addresses: VecDeque::new(),
            current: peer.clone(),
            opts,
            deadline,
            last_error: None,
            #[cfg(feature = "tls")]
            tls: tls_config,
        });
        let mut socket = StreamSocket {
            kind,
            token,
            sock: None,
            life: Lifecycle::new(SocketState::Unconnected),
            peer,
            out: WriteBuffer::default(),
            readable: false,
            bytes_read: 0,
            bytes_written: 0,
            connecting: None,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            handshake_deadline: None,
            sctp_out: None,
        };
        match endpoint {
            Endpoint::Unix(name) => {
                let addr = SockAddr::unix(std::ffi::OsStr::from_bytes(&name.sun_path()))
                    .map_err(|e| invalid(format!("{name}: {e}")))?;
                connecting.addresses.push_back(addr);
                socket.connecting = Some(connecting);
                socket.life.set_state(SocketState::Connecting);
                socket.next_attempt(reactor);
            }
            _ => {
                let hp = host_port.ok_or_else(|| invalid("no host"))?;
                let literal = match &hp.host {
                    Host::Ip(ip) => Some(SocketAddr::new(*ip, hp.port)),
                    Host::Scoped(ip, zone) => Some(scoped(*ip, zone, hp.port)?),
                    Host::Name(_) | Host::Any => None,
                };
                match (literal, &hp.host) {
                    (Some(addr), _) => {
                        connecting.addresses.push_back(addr.into());
                        socket.connecting = Some(connecting);
                        socket.life.set_state(SocketState::Connecting);
                        socket.next_attempt(reactor);
                    }
                    (None, Host::Name(name)) => {
                        let mut lookups = HostLookups::new(connecting.opts.resolver.clone())
                            .map_err(|e| {
                                SocketError::HostNotFound(HostError::Unknown {
                                    name: name.clone(),
                                    reason: e.to_string(),
                                })
                            })?;
                        let id = lookups.start(reactor, name, connecting.opts.family);
                        connecting.lookup = Some((lookups, id));
                        socket.connecting = Some(connecting);
                        socket.life.set_state(SocketState::HostLookup);
                        // An /etc/hosts entry answers at once.
                        socket.poll_lookup(reactor);
                    }
                    (None, _) => return Err(invalid("no host")),
                }
            }
        }
        Ok(socket)
    }

    /// A socket a server accepted (registered by the caller under `token`).
    pub(crate) fn accepted(
        kind: StreamKind,
        token: Token,
        sock: Socket,
        peer: String,
        #[cfg(feature = "tls")] tls: Option<TlsLayer>,
    ) -> StreamSocket {
        let mut life = Lifecycle::new(SocketState::Connected);
        // Data may have arrived before registration: say so, and the first read asks.
        life.push(SocketEvent::ReadyRead);
        StreamSocket {
            kind,
            token,
            sock: Some(sock),
            life,
            peer,
            out: WriteBuffer::default(),
            readable: true,
            bytes_read: 0,
            bytes_written: 0,
            connecting: None,
            #[cfg(feature = "tls")]
            tls: tls.map(Box::new),
            #[cfg(feature = "tls")]
            handshake_deadline: None,
            sctp_out: None,
        }
    }

    /// An accepted TLS client must finish its handshake within `limit`, or it is closed with
    /// a [`TimeoutPhase::Handshake`] timeout.
    #[cfg(feature = "tls")]
    pub(crate) fn limit_handshake(&mut self, reactor: &mut Reactor, limit: Duration) {
        let timer = reactor.timer(Instant::now() + limit, self.token);
        self.handshake_deadline = Some((timer, limit));
    }

    /// The handshake finished: its timer goes, instead of firing for nothing later (a busy
    /// server would otherwise hold one timer per client accepted in the last limit).
    #[cfg(feature = "tls")]
    fn handshake_deadline_met(&mut self, reactor: &mut Reactor) {
        let done = self.tls.as_ref().is_none_or(|t| !t.is_handshaking());
        if let Some((timer, _)) = self.handshake_deadline.filter(|_| done) {
            reactor.cancel_timer(timer);
            self.handshake_deadline = None;
        }
    }

    #[cfg(feature = "tls")]
    fn handshake_timed_out(&mut self) {
        let Some((_, after)) = self.handshake_deadline.take() else {
            return;
        };
        let handshaking = self.tls.as_ref().is_some_and(|t| t.is_handshaking());
        if handshaking && self.life.state() == SocketState::Connected {
            let peer = self.peer.clone();
            self.fail(SocketError::SocketTimeout {
                phase: TimeoutPhase::Handshake,
                after,
                peer,
            });
        }
    }

    /// The reactor token of this socket's events (stable for its whole life).
    pub fn token(&self) -> Token {
        self.token
    }

    /// TCP, Unix or SCTP.
    pub fn kind(&self) -> StreamKind {
        self.kind
    }

    /// Its state.
    pub fn state(&self) -> SocketState {
        self.life.state()
    }

    /// The last error reported (also delivered as [`SocketEvent::Error`]).
    pub fn error(&self) -> Option<&SocketError> {
        self.life.last_error()
    }

    /// The next event, oldest first.
    pub fn next_event(&mut self) -> Option<SocketEvent> {
        self.life.next_event()
    }

    /// The peer as it was named (`host:port`, a path, `@name`, or the accepted address).
    pub fn peer_name(&self) -> &str {
        &self.peer
    }

    /// The peer's address.
    pub fn peer_address(&self) -> Option<Address> {
        let sock = self.sock.as_ref()?;
        sock.peer_addr().ok().map(|a| Address::from_sockaddr(&a))
    }

    /// The local address.
    pub fn local_address(&self) -> Option<Address> {
        let sock = self.sock.as_ref()?;
        sock.local_addr().ok().map(|a| Address::from_sockaddr(&a))
    }

    /// pid, uid and gid of the process on the other end of a Unix socket (SO_PEERCRED).
    pub fn peer_credentials(&self) -> Option<sys::PeerCredentials> {
        match (self.kind, &self.sock) {
            (StreamKind::Unix, Some(sock)) => sys::peer_credentials(sock).ok(),
            _ => None,
        }
    }

    /// What the TLS handshake negotiated (after [`SocketEvent::Encrypted`]).
    #[cfg(feature = "tls")]
    pub fn tls_info(&self) -> Option<TlsInfo> {
        self.tls
            .as_ref()
            .filter(|t| !t.is_handshaking())
            .map(|t| t.info())
    }

    /// Whether this socket speaks TLS and finished its handshake.
    pub fn is_encrypted(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(t) = &self.tls {
            return !t.is_handshaking();
        }
        false
    }

    /// Bytes queued but not yet handed to the kernel.
    pub fn bytes_to_write(&self) -> usize {
        self.out.len()
            + self
                .sctp_out
                .as_ref()
                .map_or(0, |q| q.iter().map(|m| m.1.len()).sum())
    }

    /// Totals over the socket's life: (received, sent).
    pub fn byte_counts(&self) -> (u64, u64) {
        (self.bytes_read, self.bytes_written)
    }

    /// The last read did not report `WouldBlock`: reading may return data or the end of the
    /// stream without a new `ReadyRead`.
    pub fn is_readable(&self) -> bool {
        self.readable && self.sock.is_some() && !self.life.is_read_closed()
    }

    /// Handle one reactor event; `false` if it was not this socket's.
    pub fn handle(&mut self, reactor: &mut Reactor, ready: &Ready) -> bool {
        match *ready {
            Ready::Io {
                token,
                readable,
                writable,
                closed,
            } if token == self.token => {
                self.on_io(reactor, readable || closed, writable || closed);
                #[cfg(feature = "tls")]
                self.handshake_deadline_met(reactor);
                true
            }
            Ready::Timer { owner, id } if owner == self.token => {
                #[cfg(feature = "tls")]
                if self.handshake_deadline.is_some_and(|(t, _)| t == id) {
                    self.handshake_timed_out();
                    return true;
                }
                let ours = self
                    .connecting
                    .as_ref()
                    .and_then(|c| c.deadline)
                    .is_some_and(|(_, t)| t == id);
                if ours {
                    self.connect_timed_out();
                }
                true
            }
            _ => {
                let Some((lookups, _)) = self.connecting.as_mut().and_then(|c| c.lookup.as_mut())
                else {
                    return false;
                };
                if !lookups.handle(reactor, ready) {
                    return false;
                }
                self.poll_lookup(reactor);
                true
            }
        }
    }

    fn on_io(&mut self, reactor: &mut Reactor, readable: bool, writable: bool) {
        if self.life.state() == SocketState::Connecting {
            if !writable {
                return;
            }
            self.finish_connect(reactor);
            // The peer's first bytes (even its end of stream) can come in the same edge as the
            // connect's completion; readiness is edge-triggered, so report them now or never.
        }
        match self.life.state() {
            SocketState::Connected | SocketState::Closing => {
                #[cfg(feature = "tls")]
                if self.tls.is_some() {
                    if readable {
                        self.tls_readable();
                    }
                    if writable || readable {
                        self.flush();
                    }
                    return;
                }
                if readable && !self.readable {
                    self.readable = true;
                    self.life.push(SocketEvent::ReadyRead);
                }
                if writable {
                    self.flush();
                }
            }
            _ => {}
        }
    }

    // -----------------------------------------------------------------------------------
    // Connecting

    fn poll_lookup(&mut self, reactor: &mut Reactor) {
        let Some(c) = self.connecting.as_mut() else {
            return;
        };
        let Some((lookups, id)) = c.lookup.as_mut() else {
            return;
        };
        let id = *id;
        let mut result = None;
        while let Some((done, r)) = lookups.next_done() {
            if done == id {
                result = Some(r);
            }
        }
        let Some(result) = result else {
            return;
        };
        c.lookup = None;
        match result {
            Ok(info) => {
                let port = c.port;
                c.addresses = info
                    .addresses
                    .iter()
                    .map(|ip| SockAddr::from(SocketAddr::new(*ip, port)))
                    .collect();
                self.life.host_found();
                self.next_attempt(reactor);
            }
            Err(e) => self.fail(SocketError::HostNotFound(e)),
        }
    }

    /// Try the next address; fail with the last attempt's error when none is left.
    fn next_attempt(&mut self, reactor: &mut Reactor) {
        loop {
            let Some(c) = self.connecting.as_mut() else {
                return;
            };
            let Some(addr) = c.addresses.pop_front() else {
                let e = c.last_error.take().unwrap_or_else(|| {
                    SocketError::Network(format!("{}: no address to try", c.host))
                });
                self.fail(e);
                return;
            };
            c.current = Address::from_sockaddr(&addr).to_string();
            match self.start_attempt(reactor, &addr) {
                Ok(()) => return,
                Err(e) => {
                    log::debug!("connect to {}: {e}", Address::from_sockaddr(&addr));
                    if let Some(c) = self.connecting.as_mut() {
                        c.last_error = Some(e);
                    }
                }
            }
        }
    }

    fn start_attempt(&mut self, reactor: &mut Reactor, addr: &SockAddr) -> Result<(), SocketError> {
        let c = self
            .connecting
            .as_ref()
            .ok_or_else(|| invalid("not connecting"))?;
        let subject = c.current.clone();
        let domain = addr.domain();
        let sock = stream_socket(self.kind, domain, c.opts.sctp_streams, &subject)?;
        if self.kind != StreamKind::Unix {
            if let Some(iface) = &c.opts.interface {
                bind_to_interface(&sock, iface)?;
            }
            if c.opts.nodelay {
                let set = match self.kind {
                    #[cfg(feature = "sctp")]
                    StreamKind::Sctp => sys::sctp::set_nodelay(&sock),
                    _ => sock.set_tcp_nodelay(true),
                };
                set.map_err(|e| SocketError::from_io(&e, &subject))?;
            }
            if let Some(idle) = c.opts.keepalive {
                sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(idle))
                    .map_err(|e| SocketError::from_io(&e, &subject))?;
            }
        }
        let now = match sock.connect(addr) {
            Ok(()) => true,
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => false,
            Err(e) => return Err(SocketError::from_io(&e, &subject)),
        };
        sys::register_as(reactor, &sock, self.token)
            .map_err(|e| SocketError::from_io(&e, &subject))?;
        self.sock = Some(sock);
        if now {
            self.on_connected();
        }
        Ok(())
    }

    fn finish_connect(&mut self, reactor: &mut Reactor) {
        let Some(sock) = self.sock.as_ref() else {
            return;
        };
        let failure = match sock.take_error() {
            Ok(Some(e)) | Err(e) => Some(e),
            Ok(None) => match sock.peer_addr() {
                Ok(_) => None,
                // A readiness report left over from an earlier attempt: still connecting.
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => return,
                Err(e) => Some(e),
            },
        };
        match failure {
            None => self.on_connected(),
            Some(e) => {
                if let Some(sock) = self.sock.take() {
                    sys::deregister(reactor, &sock);
                }
                if let Some(c) = self.connecting.as_mut() {
                    c.last_error = Some(SocketError::from_io(&e, &c.current));
                }
                self.next_attempt(reactor);
            }
        }
    }

    fn on_connected(&mut self) {
        if let Some(c) = self.connecting.as_ref() {
            self.peer = if c.host.is_empty() {
                c.current.clone()
            } else {
                format!("{}:{}", c.host, c.port)
            };
        }
        self.life.connected();
        #[cfg(feature = "tls")]
        if let Some(config) = self.connecting.as_mut().and_then(|c| c.tls.take()) {
            let host = self
                .connecting
                .as_ref()
                .map(|c| c.host.clone())
                .unwrap_or_default();
            match TlsLayer::client(config, &host) {
                Ok(layer) => {
                    self.tls = Some(Box::new(layer));
                    // The connect deadline covers the handshake too: keep `connecting`.
                    self.flush();
                    return;
                }
                Err(e) => return self.fail(e),
            }
        }
        self.connecting = None;
        self.flush();
    }

    fn connect_timed_out(&mut self) {
        let Some(c) = self.connecting.as_ref() else {
            return;
        };
        let after = c.opts.timeout.unwrap_or_default();
        let peer = if c.host.is_empty() {
            self.peer.clone()
        } else {
            format!("{}:{}", c.host, c.port)
        };
        self.fail(SocketError::SocketTimeout {
            phase: TimeoutPhase::Connect,
            after,
            peer,
        });
    }

    // -----------------------------------------------------------------------------------
    // Reading

    /// Read received data: `Ok(0)` at the end of the stream, `WouldBlock` when there is
    /// nothing now. Errors are also reported as events and close the socket.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.life.is_read_closed() {
            return Ok(0);
        }
        if self.sock.is_none() {
            return match self.life.state() {
                SocketState::HostLookup | SocketState::Connecting => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                _ => {
                    Err(SocketError::OperationError("the socket is not connected".into()).into_io())
                }
            };
        }
        if matches!(self.life.state(), SocketState::Connecting) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return self.tls_read(buf);
        }
        let result = match self.sock.as_ref() {
            Some(sock) => sys::recv(sock, buf),
            None => Ok(0),
        };
        match result {
            Ok(0) if !buf.is_empty() => {
                self.readable = false;
                let action = self.life.read_eof();
                self.act(action);
                Ok(0)
            }
            Ok(n) => {
                self.bytes_read += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readable = false;
                Err(e)
            }
            Err(e) => Err(self.fail_io(&e)),
        }
    }

    /// Receive one SCTP message (or its first `buf.len()` bytes) with its stream number.
    #[cfg(feature = "sctp")]
    pub fn recv_message(&mut self, buf: &mut [u8]) -> io::Result<SctpMessage> {
        if self.kind != StreamKind::Sctp {
            return Err(SocketError::OperationError("not an SCTP socket".into()).into_io());
        }
        if self.life.is_read_closed() {
            return Ok(SctpMessage {
                len: 0,
                stream: 0,
                complete: true,
            });
        }
        let Some(sock) = self.sock.as_ref() else {
            return Err(
                SocketError::OperationError("the socket is not connected".into()).into_io(),
            );
        };
        loop {
            match sys::sctp::recv(sock, buf) {
                Ok((r, _)) if r.notification => continue,
                Ok((r, _)) if r.len == 0 && !buf.is_empty() => {
                    self.readable = false;
                    let action = self.life.read_eof();
                    self.act(action);
                    return Ok(SctpMessage {
                        len: 0,
                        stream: r.stream,
                        complete: true,
                    });
                }
                Ok((r, _)) => {
                    self.bytes_read += r.len as u64;
                    return Ok(SctpMessage {
                        len: r.len,
                        stream: r.stream,
                        complete: r.complete,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Err(e);
                }
                Err(e) => return Err(self.fail_io(&e)),
            }
        }
    }

    #[cfg(feature = "tls")]
    fn tls_readable(&mut self) {
        let was_handshaking = self.tls.as_ref().is_some_and(|t| t.is_handshaking());
        if was_handshaking {
            // The handshake needs every record now; application data waits for read().
            loop {
                let (Some(tls), Some(sock)) = (self.tls.as_mut(), self.sock.as_ref()) else {
                    return;
                };
                match tls.pull(sock) {
                    Ok(Pulled::Records) => {
                        let _ = tls.send_records(sock);
                        if !tls.is_handshaking() {
                            break;
                        }
                    }
                    Ok(Pulled::Eof) => {
                        let peer = self.peer.clone();
                        return self.fail(SocketError::RemoteHostClosed { peer, reset: false });
                    }
                    Ok(Pulled::Blocked) => {
                        let _ = tls.send_records(sock);
                        return;
                    }
                    Err(e) => return self.fail(e),
                }
            }
            self.connecting = None;
            self.life.push(SocketEvent::Encrypted);
        }
        if !self.readable {
            self.readable = true;
            self.life.push(SocketEvent::ReadyRead);
        }
    }

    #[cfg(feature = "tls")]
    fn tls_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let (Some(tls), Some(sock)) = (self.tls.as_mut(), self.sock.as_ref()) else {
                return Ok(0);
            };
            match tls.read_plain(buf) {
                Ok(0) if !buf.is_empty() => {
                    let action = self.life.read_eof();
                    self.act(action);
                    return Ok(0);
                }
                Ok(n) => {
                    self.bytes_read += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    // Closed without close_notify: most peers do this; an end all the same.
                    log::debug!("{}: TLS stream ended without close_notify", self.peer);
                    let action = self.life.read_eof();
                    self.act(action);
                    return Ok(0);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let handshaking = tls.is_handshaking();
                    match tls.pull(sock) {
                        Ok(Pulled::Records) => {
                            let _ = tls.send_records(sock);
                            if handshaking && !tls.is_handshaking() {
                                self.connecting = None;
                                self.life.push(SocketEvent::Encrypted);
                                self.flush();
                            }
                        }
                        Ok(Pulled::Eof) if handshaking => {
                            let peer = self.peer.clone();
                            let e = SocketError::RemoteHostClosed { peer, reset: false };
                            self.fail(e.clone());
                            return Err(e.into_io());
                        }
                        // rustls now reports the end (close_notify or not) from read_plain.
                        Ok(Pulled::Eof) => {}
                        Ok(Pulled::Blocked) => {
                            self.readable = false;
                            return Err(io::ErrorKind::WouldBlock.into());
                        }
                        Err(e) => {
                            self.fail(e.clone());
                            return Err(e.into_io());
                        }
                    }
                }
                Err(e) => return Err(self.fail_io(&e)),
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Writing

    /// Queue `data` for sending (sent at once as far as the kernel takes it). Allowed while
    /// connecting, as in Qt; an error once the socket is closed or shut down for writing.
    pub fn write(&mut self, data: &[u8]) -> Result<(), SocketError> {
        self.life.check_writable()?;
        if data.is_empty() {
            return Ok(());
        }
        if self.sctp_out.is_some() {
            return self.send_message(0, data);
        }
        let direct =
            self.out.is_empty() && self.life.state() == SocketState::Connected && !self.has_tls();
        let mut sent = 0;
        if direct {
            if let Some(sock) = self.sock.as_ref() {
                // Until the kernel is full: only then does an edge announce room again.
                let max = self.max_send();
                while sent < data.len() {
                    let piece = &data[sent..data.len().min(sent.saturating_add(max))];
                    match sys::send(sock, piece) {
                        Ok(n) => sent += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            let e = SocketError::from_io(&e, &self.peer);
                            self.fail(e.clone());
                            return Err(e);
                        }
                    }
                }
            }
            if sent > 0 {
                self.bytes_written += sent as u64;
                self.life.push(SocketEvent::BytesWritten(sent));
            }
        }
        if sent < data.len() {
            self.out.extend(&data[sent..]);
            if !direct {
                self.flush();
            }
        }
        Ok(())
    }

    /// Queue one SCTP message for `stream` (the socket must have been connected with
    /// `sctp_streams`, or accepted by a server that negotiated streams).
    #[cfg(feature = "sctp")]
    pub fn send_message(&mut self, stream: u16, data: &[u8]) -> Result<(), SocketError> {
        if self.kind != StreamKind::Sctp {
            return Err(SocketError::OperationError("not an SCTP socket".into()));
        }
        self.life.check_writable()?;
        self.sctp_out
            .get_or_insert_with(Default::default)
            .push_back((stream, data.to_vec()));
        self.flush();
        Ok(())
    }

    #[cfg(not(feature = "sctp"))]
    fn send_message(&mut self, _stream: u16, _data: &[u8]) -> Result<(), SocketError> {
        Err(sctp_unavailable())
    }

    /// Use message mode for SCTP writes (each `write` is one message on stream 0).
    #[cfg(feature = "sctp")]
    pub(crate) fn set_message_mode(&mut self) {
        self.sctp_out.get_or_insert_with(Default::default);
    }

    /// The most one send may carry. SCTP turns every send into a message; a message larger
    /// than half the receiver's buffer is delivered in pieces (partial delivery), and in the
    /// QEMU guest a 64 KiB-message echo then stalled for longer than 0.5 s per message. Byte-
    /// stream SCTP therefore sends at most 16 KiB per message, as socat and most SCTP
    /// programs do.
    fn max_send(&self) -> usize {
        match self.kind {
            StreamKind::Sctp => 16 * 1024,
            _ => usize::MAX,
        }
    }

    fn has_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// Push queued data to the kernel as far as it takes it.
    fn flush(&mut self) {
        if !matches!(
            self.life.state(),
            SocketState::Connected | SocketState::Closing
        ) {
            return;
        }
        let sent = match self.push_out() {
            Ok(sent) => sent,
            Err(e) => return self.fail(e),
        };
        if sent > 0 {
            self.bytes_written += sent as u64;
            self.life.push(SocketEvent::BytesWritten(sent));
        }
        if self.bytes_to_write() == 0 && !self.tls_records_pending() {
            let action = self.life.flushed();
            self.act(action);
        }
    }

    fn tls_records_pending(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(t) = &self.tls {
            return t.wants_write();
        }
        false
    }

    /// Bytes of queued data the kernel (or rustls) took.
    fn push_out(&mut self) -> Result<usize, SocketError> {
        let Some(sock) = self.sock.as_ref() else {
            return Ok(0);
        };
        let mut sent = 0;
        #[cfg(feature = "sctp")]
        if let Some(queue) = self.sctp_out.as_mut() {
            while let Some((stream, msg)) = queue.front() {
                match sys::sctp::send(sock, msg, *stream, None) {
                    Ok(_) => {
                        sent += msg.len();
                        queue.pop_front();
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(SocketError::from_io(&e, &self.peer)),
                }
            }
            return Ok(sent);
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_mut() {
            loop {
                match tls.send_records(sock) {
                    Ok(true) => {}
                    Ok(false) => return Ok(sent),
                    Err(e) => return Err(SocketError::from_io(&e, &self.peer)),
                }
                if self.out.is_empty() || tls.is_handshaking() {
                    return Ok(sent);
                }
                let n = tls.write_plain(self.out.data());
                if n == 0 {
                    return Ok(sent);
                }
                self.out.consume(n);
                sent += n;
            }
        }
        let max_send = self.max_send();
        while !self.out.is_empty() {
            let data = self.out.data();
            match sys::send(sock, &data[..data.len().min(max_send)]) {
                Ok(n) => {
                    self.out.consume(n);
                    sent += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(SocketError::from_io(&e, &self.peer)),
            }
        }
        Ok(sent)
    }

    // -----------------------------------------------------------------------------------
    // Closing

    /// Finish sending: once queued data is out, shut down the sending direction (TLS sends
    /// close_notify first). Receiving goes on until the peer finishes too (half-close). SCTP
    /// has no half-close: its shutdown ends the association once both sides' data is out.
    pub fn shutdown_write(&mut self) {
        let action = self.life.shutdown_write(self.bytes_to_write());
        self.act(action);
    }

    /// Close once queued data is sent (Qt's disconnectFromHost); `Disconnected` follows.
    pub fn close(&mut self) {
        let action = self.life.close(self.bytes_to_write());
        self.act(action);
    }

    /// Close at once, dropping queued data; the peer sees a reset.
    pub fn abort(&mut self) {
        if let Some(sock) = self.sock.as_ref() {
            let _ = sock.set_linger(Some(Duration::ZERO));
        }
        self.out.clear();
        self.sctp_out = None;
        self.close_now();
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Nothing => {}
            Action::ShutdownWrite => {
                #[cfg(feature = "tls")]
                if let (Some(tls), Some(sock)) = (self.tls.as_mut(), self.sock.as_ref()) {
                    tls.close_notify();
                    match tls.send_records(sock) {
                        Ok(true) => {}
                        // Shut down once the alert is out (flush calls back here).
                        Ok(false) => return,
                        Err(e) => {
                            let e = SocketError::from_io(&e, &self.peer);
                            return self.fail(e);
                        }
                    }
                }
                if let Some(sock) = self.sock.as_ref() {
                    if let Err(e) = sock.shutdown(std::net::Shutdown::Write) {
                        if e.raw_os_error() != Some(libc::ENOTCONN) {
                            let e = SocketError::from_io(&e, &self.peer);
                            return self.fail(e);
                        }
                    }
                }
                let next = self.life.write_shut();
                self.act(next);
            }
            Action::Close => self.close_now(),
        }
    }

    fn close_now(&mut self) {
        #[cfg(feature = "tls")]
        if let (Some(tls), Some(sock)) = (self.tls.as_mut(), self.sock.as_ref()) {
            if !self.life.is_write_shut() {
                tls.close_notify();
                let _ = tls.send_records(sock);
            }
        }
        self.release();
        self.life.closed();
    }

    /// Drop the descriptor (closing it also removes it from the reactor).
    fn release(&mut self) {
        self.sock = None;
        self.readable = false;
        self.connecting = None;
        #[cfg(feature = "tls")]
        {
            self.tls = None;
        }
    }

    fn fail(&mut self, error: SocketError) {
        #[cfg(feature = "tls")]
        let error = match error {
            SocketError::RemoteHostClosed { .. } => self.pending_tls_alert().unwrap_or(error),
            other => other,
        };
        log::debug!("{}: {error}", self.peer);
        self.life.failed(error);
        self.release();
        self.out.clear();
        self.sctp_out = None;
        self.life.closed();
    }

    /// A reset can overtake the reason the peer gave just before it: a TLS alert still unread
    /// in our receive queue (a server refusing our certificate after a TLS 1.3 handshake we
    /// already considered done). Read what is queued and prefer the TLS failure it names.
    #[cfg(feature = "tls")]
    fn pending_tls_alert(&mut self) -> Option<SocketError> {
        let (tls, sock) = (self.tls.as_mut()?, self.sock.as_ref()?);
        // Bounded: an alert is one small record near the front.
        for _ in 0..16 {
            match tls.pull(sock) {
                Ok(Pulled::Records) => continue,
                Err(e @ SocketError::SslHandshakeFailed(_)) => return Some(e),
                _ => return None,
            }
        }
        None
    }

    fn fail_io(&mut self, e: &io::Error) -> io::Error {
        let e = SocketError::from_io(e, &self.peer);
        self.fail(e.clone());
        e.into_io()
    }

    // -----------------------------------------------------------------------------------
    // Blocking helpers (Qt's waitFor…)

    /// Turn the reactor until `done` says so or `timeout` passes. Events of other sources
    /// are handed back to the reactor for the caller's own loop.
    fn wait_until(
        &mut self,
        reactor: &mut Reactor,
        timeout: Duration,
        done: impl Fn(&StreamSocket) -> Option<Result<(), SocketError>>,
    ) -> Result<(), SocketError> {
        let deadline = Instant::now() + timeout;
        let mut batch = Vec::new();
        loop {
            if let Some(r) = done(self) {
                return r;
            }
            if Instant::now() >= deadline {
                return Err(SocketError::SocketTimeout {
                    phase: TimeoutPhase::Wait,
                    after: timeout,
                    peer: self.peer.clone(),
                });
            }
            reactor
                .turn_blocking(&mut batch, Some(deadline))
                .map_err(|e| SocketError::from_io(&e, "event loop"))?;
            for ready in batch.drain(..) {
                if !self.handle(reactor, &ready) {
                    reactor.defer([ready]);
                }
            }
        }
    }

    fn ended(&self) -> Option<Result<(), SocketError>> {
        (self.life.state() == SocketState::Unconnected).then(|| {
            Err(self.life.last_error().cloned().unwrap_or_else(|| {
                SocketError::OperationError("the socket is not connected".into())
            }))
        })
    }

    /// Block until connected (and, for `tls://`, encrypted).
    pub fn wait_for_connected(
        &mut self,
        reactor: &mut Reactor,
        timeout: Duration,
    ) -> Result<(), SocketError> {
        self.wait_until(reactor, timeout, |s| {
            let up = matches!(s.state(), SocketState::Connected) && s.connecting.is_none();
            if up {
                Some(Ok(()))
            } else {
                s.ended()
            }
        })
    }

    /// Block until data (or the end of the stream) can be read.
    pub fn wait_for_ready_read(
        &mut self,
        reactor: &mut Reactor,
        timeout: Duration,
    ) -> Result<(), SocketError> {
        self.wait_until(reactor, timeout, |s| {
            if s.is_readable() || s.life.is_read_closed() {
                Some(Ok(()))
            } else {
                s.ended()
            }
        })
    }

    /// Block until every queued byte went to the kernel.
    pub fn wait_for_bytes_written(
        &mut self,
        reactor: &mut Reactor,
        timeout: Duration,
    ) -> Result<(), SocketError> {
        self.wait_until(reactor, timeout, |s| {
            if s.bytes_to_write() == 0 && !s.tls_records_pending() && s.sock.is_some() {
                Some(Ok(()))
            } else {
                s.ended()
            }
        })
    }

    /// Block until the socket is closed (by the peer, an error, or a `close` in progress).
    pub fn wait_for_disconnected(
        &mut self,
        reactor: &mut Reactor,
        timeout: Duration,
    ) -> Result<(), SocketError> {
        self.wait_until(reactor, timeout, |s| {
            (s.state() == SocketState::Unconnected).then_some(Ok(()))
        })
    }
}

impl io::Read for StreamSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        StreamSocket::read(self, buf)
    }
}

impl io::Write for StreamSocket {
    /// Queues everything (see [`StreamSocket::write`]).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        StreamSocket::write(self, buf)
            .map(|()| buf.len())
            .map_err(SocketError::into_io)
    }

    /// `WouldBlock` while data is still queued.
    fn flush(&mut self) -> io::Result<()> {
        StreamSocket::flush(self);
        if self.bytes_to_write() == 0 {
            Ok(())
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

use std::os::unix::ffi::OsStrExt;

/// The address family of an IP address (for listeners and datagram sockets).
pub(crate) fn domain_of(ip: &IpAddr) -> Domain {
    match ip {
        IpAddr::V4(_) => Domain::IPV4,
        IpAddr::V6(_) => Domain::IPV6,
    }
}

/// The Unix socket address of a name.
pub(crate) fn unix_sockaddr(name: &UnixName) -> Result<SockAddr, SocketError> {
    SockAddr::unix(std::ffi::OsStr::from_bytes(&name.sun_path()))
        .map_err(|e| invalid(format!("{name}: {e}")))
}
