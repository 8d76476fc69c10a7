//! Listening sockets — TCP, TLS, Unix and SCTP one-to-one — on the reactor (QTcpServer,
//! QSslServer, QLocalServer, QSctpServer).

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket};

use super::endpoint::{Address, Endpoint, Host, HostPort, UnixName};
use super::error::SocketError;
use super::state::SocketState;
use super::stream::{
    bind_to_interface, domain_of, scoped, stream_socket, unix_sockaddr, StreamKind, StreamSocket,
};
use super::sys;
#[cfg(feature = "tls")]
use super::tls::TlsLayer;
use crate::dns::{Family, HostError};
use crate::reactor::queue::{Coalesce, EventQueue};
use crate::reactor::{Reactor, Ready, TimerId, Token};
#[cfg(feature = "tls")]
use crate::tls::ServerTlsOptions;

/// How to listen.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Accepted connections held until the application takes them; accepting stops while
    /// this many wait (Qt's maxPendingConnections, default 30).
    pub max_pending: usize,
    /// The kernel's queue of connections not yet accepted (`listen(2)`'s backlog).
    pub backlog: i32,
    /// SO_REUSEADDR (Qt's ReuseAddressHint): restart at once on a port in TIME_WAIT.
    pub reuse_address: bool,
    /// Accept only through this interface (SO_BINDTODEVICE; needs CAP_NET_RAW).
    pub interface: Option<String>,
    /// Unix sockets: permissions of the socket file (e.g. 0o660); default: by umask.
    pub socket_mode: Option<u32>,
    /// TCP_NODELAY on accepted TCP connections.
    pub nodelay: bool,
    /// SCTP: streams each way offered to clients; accepted sockets keep message boundaries.
    pub sctp_streams: Option<u16>,
    /// Certificate, key, client authentication and ALPN for `tls://` endpoints.
    #[cfg(feature = "tls")]
    pub tls: Option<ServerTlsOptions>,
    /// `tls://`: how long an accepted client may take to finish its handshake before it is
    /// closed (default [`DEFAULT_TLS_HANDSHAKE_TIMEOUT`]; `None`: forever). Without it, clients
    /// that connect and stall mid-handshake hold their slots for good, and a server that caps
    /// its connections stops serving anyone (Qt's QSslServer::handshakeTimeout, 5 s).
    #[cfg(feature = "tls")]
    pub tls_handshake_timeout: Option<Duration>,
}

/// The default [`ServerOptions::tls_handshake_timeout`]: twice Qt's, for handshakes over slow
/// cellular links.
#[cfg(feature = "tls")]
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_pending: 30,
            backlog: 1024,
            reuse_address: true,
            interface: None,
            socket_mode: None,
            nodelay: false,
            sctp_streams: None,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_handshake_timeout: Some(DEFAULT_TLS_HANDSHAKE_TIMEOUT),
        }
    }
}

/// What happened to a server. The queue is bounded
/// ([`EVENT_QUEUE_BOUND`](crate::reactor::EVENT_QUEUE_BOUND), the oldest dropped past it): one
/// queued `NewConnection` stands for any number.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ServerEvent {
    /// Connections are waiting: take them with [`Server::next_pending_connection`] until it
    /// returns `None`.
    NewConnection,
    /// Accepting failed; the server keeps listening (out of descriptors: it retries shortly).
    AcceptError(SocketError),
}

impl Coalesce for ServerEvent {
    fn absorb(&mut self, later: &ServerEvent) -> bool {
        matches!(
            (self, later),
            (ServerEvent::NewConnection, ServerEvent::NewConnection)
        )
    }
}

/// The socket file a Unix server created, removed on close if it is still ours.
#[derive(Debug)]
struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

/// A listening socket.
#[derive(Debug)]
pub struct Server {
    kind: StreamKind,
    sock: Option<Socket>,
    token: Token,
    endpoint: Endpoint,
    local: Address,
    paused: bool,
    pending: VecDeque<(Socket, SockAddr)>,
    max_pending: usize,
    events: EventQueue<ServerEvent>,
    nodelay: bool,
    /// Accepted SCTP sockets keep message boundaries (streams were negotiated).
    #[cfg(feature = "sctp")]
    sctp_messages: bool,
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    #[cfg(feature = "tls")]
    tls_handshake_timeout: Option<Duration>,
    file: Option<SocketFile>,
    /// After running out of descriptors: when accepting resumes.
    retry: Option<TimerId>,
}

/// How long to stop accepting after EMFILE/ENFILE (the listener stays readable meanwhile,
/// so retrying at once would spin).
const RESOURCE_BACKOFF: Duration = Duration::from_millis(100);

impl Server {
    /// Listen on a `tcp://`, `tls://`, `sctp://` or `unix:` endpoint. Port 0 picks a free port:
    /// [`endpoint`](Self::endpoint) says which.
    pub fn listen(
        reactor: &mut Reactor,
        endpoint: &Endpoint,
        opts: &ServerOptions,
    ) -> Result<Server, SocketError> {
        let (kind, tls) = match endpoint {
            Endpoint::Tcp(_) => (StreamKind::Tcp, false),
            Endpoint::Tls(_) => (StreamKind::Tcp, true),
            Endpoint::Sctp(_) => (StreamKind::Sctp, false),
            Endpoint::Unix(_) => (StreamKind::Unix, false),
            Endpoint::Udp(_) => {
                return Err(SocketError::InvalidEndpoint(format!(
                    "{endpoint} is a datagram endpoint; bind a UdpSocket instead"
                )))
            }
        };
        #[cfg(feature = "tls")]
        let tls_config = match (tls, &opts.tls) {
            (true, Some(t)) => {
                Some(crate::tls::server_config(t).map_err(SocketError::SslHandshakeFailed)?)
            }
            (true, None) => {
                return Err(SocketError::InvalidEndpoint(format!(
                    "{endpoint}: a TLS server needs a certificate and key"
                )))
            }
            (false, _) => None,
        };
        #[cfg(not(feature = "tls"))]
        if tls {
            return Err(SocketError::UnsupportedSocketOperation(
                "this boardnet was built without TLS (cargo feature \"tls\")".into(),
            ));
        }
        let (sock, file) = match endpoint {
            Endpoint::Unix(name) => bind_unix(name, opts)?,
            _ => {
                let hp = endpoint
                    .host_port()
                    .ok_or_else(|| SocketError::InvalidEndpoint("no host".into()))?;
                (bind_inet(kind, hp, opts)?, None)
            }
        };
        let subject = endpoint.to_string();
        sock.listen(opts.backlog)
            .map_err(|e| SocketError::from_io(&e, &subject))?;
        let local = sock
            .local_addr()
            .map(|a| Address::from_sockaddr(&a))
            .map_err(|e| SocketError::from_io(&e, &subject))?;
        let token =
            sys::register(reactor, &sock).map_err(|e| SocketError::from_io(&e, &subject))?;
        Ok(Server {
            kind,
            sock: Some(sock),
            token,
            endpoint: endpoint.at(&local),
            local,
            paused: false,
            pending: VecDeque::new(),
            max_pending: opts.max_pending.max(1),
            events: EventQueue::default(),
            nodelay: opts.nodelay,
            #[cfg(feature = "sctp")]
            sctp_messages: opts.sctp_streams.is_some(),
            #[cfg(feature = "tls")]
            tls: tls_config,
            #[cfg(feature = "tls")]
            tls_handshake_timeout: opts.tls_handshake_timeout,
            file,
            retry: None,
        })
    }

    /// The endpoint listened on, with the port the kernel chose for port 0.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The local address (with the port the kernel chose).
    pub fn local_address(&self) -> &Address {
        &self.local
    }

    /// The token of its reactor events.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Listening, or unconnected once closed.
    pub fn state(&self) -> SocketState {
        if self.sock.is_some() {
            SocketState::Listening
        } else {
            SocketState::Unconnected
        }
    }

    /// The next event, oldest first.
    pub fn next_event(&mut self) -> Option<ServerEvent> {
        self.events.pop()
    }

    /// Events dropped because more than
    /// [`EVENT_QUEUE_BOUND`](crate::reactor::EVENT_QUEUE_BOUND) waited untaken.
    pub fn events_dropped(&self) -> u64 {
        self.events.dropped()
    }

    /// Accepted connections waiting to be taken (at most `max_pending`).
    pub fn pending_connections(&self) -> usize {
        self.pending.len()
    }

    /// Whether a connection waits to be taken.
    pub fn has_pending_connections(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Hold at most `n` accepted connections (Qt's setMaxPendingConnections).
    pub fn set_max_pending_connections(&mut self, n: usize) {
        self.max_pending = n.max(1);
    }

    /// Handle one reactor event; `false` if it was not this server's.
    pub fn handle(&mut self, reactor: &mut Reactor, ready: &Ready) -> bool {
        match *ready {
            Ready::Io { token, .. } if token == self.token => {
                self.accept_some(reactor);
                true
            }
            Ready::Timer { owner, id } if owner == self.token => {
                if self.retry == Some(id) {
                    self.retry = None;
                    self.accept_some(reactor);
                }
                true
            }
            _ => false,
        }
    }

    /// Accept from the kernel's queue while there is room.
    fn accept_some(&mut self, reactor: &mut Reactor) {
        let Some(sock) = self.sock.as_ref() else {
            return;
        };
        while !self.paused && self.retry.is_none() && self.pending.len() < self.max_pending {
            match sys::accept(sock) {
                Ok(conn) => {
                    self.pending.push_back(conn);
                    self.events.push(ServerEvent::NewConnection);
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) => break,
                    // The client gave up before we accepted: nothing to report.
                    Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO) => continue,
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                        let err = SocketError::from_io(&e, &self.endpoint.to_string());
                        self.events.push(ServerEvent::AcceptError(err));
                        self.retry =
                            Some(reactor.timer(Instant::now() + RESOURCE_BACKOFF, self.token));
                        break;
                    }
                    _ => {
                        let err = SocketError::from_io(&e, &self.endpoint.to_string());
                        self.events.push(ServerEvent::AcceptError(err));
                        break;
                    }
                },
            }
        }
    }

    /// Take the next accepted connection, registered with the reactor (a TLS one starts its
    /// handshake; [`SocketEvent::Encrypted`](super::SocketEvent::Encrypted) follows).
    pub fn next_pending_connection(&mut self, reactor: &mut Reactor) -> Option<StreamSocket> {
        loop {
            let was_full = self.pending.len() >= self.max_pending;
            let (sock, addr) = self.pending.pop_front()?;
            if was_full {
                // Accepting stopped for want of room, and the listener's readiness is
                // edge-triggered: fetch what waited meanwhile.
                self.accept_some(reactor);
            }
            let peer = Address::from_sockaddr(&addr).to_string();
            match self.prepare(reactor, sock, peer) {
                Ok(conn) => return Some(conn),
                Err(e) => self.events.push(ServerEvent::AcceptError(e)),
            }
        }
    }

    fn prepare(
        &mut self,
        reactor: &mut Reactor,
        sock: Socket,
        peer: String,
    ) -> Result<StreamSocket, SocketError> {
        if self.nodelay && self.kind == StreamKind::Tcp {
            let _ = sock.set_tcp_nodelay(true);
        }
        let token = sys::register(reactor, &sock).map_err(|e| SocketError::from_io(&e, &peer))?;
        #[cfg(feature = "tls")]
        let tls = match &self.tls {
            Some(config) => Some(TlsLayer::server(
                std::sync::Arc::clone(config),
                peer.clone(),
            )?),
            None => None,
        };
        #[cfg_attr(not(feature = "sctp"), allow(unused_mut))]
        let mut conn = StreamSocket::accepted(
            self.kind,
            token,
            sock,
            peer,
            #[cfg(feature = "tls")]
            tls,
        );
        #[cfg(feature = "sctp")]
        if self.sctp_messages {
            conn.set_message_mode();
        }
        #[cfg(feature = "tls")]
        if let Some(limit) = self.tls_handshake_timeout.filter(|_| self.tls.is_some()) {
            conn.limit_handshake(reactor, limit);
        }
        Ok(conn)
    }

    /// Stop accepting; clients wait in the kernel's queue (up to the backlog).
    pub fn pause_accepting(&mut self) {
        self.paused = true;
    }

    /// Accept again after [`pause_accepting`](Self::pause_accepting).
    pub fn resume_accepting(&mut self, reactor: &mut Reactor) {
        self.paused = false;
        self.accept_some(reactor);
    }

    /// Stop listening; a Unix server removes its socket file.
    pub fn close(&mut self, reactor: &mut Reactor) {
        if let Some(sock) = self.sock.take() {
            sys::deregister(reactor, &sock);
        }
        self.pending.clear();
        self.remove_file();
    }

    fn remove_file(&mut self) {
        if let Some(f) = self.file.take() {
            // Only if it is still the file we bound: another server may have replaced it.
            if let Some((dev, ino, _)) = sys::file_identity(&f.path) {
                if (dev, ino) == (f.dev, f.ino) {
                    let _ = std::fs::remove_file(&f.path);
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.remove_file();
    }
}

/// Bind an IP listener: `*` is dual-stack (IPv4 too, unless the kernel has no IPv6), `[::]`
/// IPv6 only, names resolve through the system resolver to their first address.
fn bind_inet(kind: StreamKind, hp: &HostPort, opts: &ServerOptions) -> Result<Socket, SocketError> {
    let subject = hp.to_string();
    let (addr, dual_stack) = match &hp.host {
        Host::Any => (
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), hp.port),
            true,
        ),
        Host::Ip(ip) => (SocketAddr::new(*ip, hp.port), false),
        Host::Scoped(ip, zone) => (scoped(*ip, zone, hp.port)?, false),
        Host::Name(name) => {
            let ip = crate::dns::host::addresses(name, Family::Any)
                .map_err(SocketError::HostNotFound)?
                .into_iter()
                .next()
                .ok_or_else(|| {
                    SocketError::HostNotFound(HostError::HostNotFound {
                        name: name.clone(),
                        reason: "no address".into(),
                    })
                })?;
            (SocketAddr::new(ip, hp.port), false)
        }
    };
    let sock = match stream_socket(kind, domain_of(&addr.ip()), opts.sctp_streams, &subject) {
        Err(SocketError::UnsupportedSocketOperation(_))
            if dual_stack && kind == StreamKind::Tcp =>
        {
            // A kernel without IPv6: Any is every IPv4 address.
            let v4 = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), hp.port);
            let sock = stream_socket(kind, Domain::IPV4, None, &subject)?;
            return finish_bind(sock, v4, false, opts, &subject);
        }
        other => other?,
    };
    finish_bind(sock, addr, dual_stack, opts, &subject)
}

fn finish_bind(
    sock: Socket,
    addr: SocketAddr,
    dual_stack: bool,
    opts: &ServerOptions,
    subject: &str,
) -> Result<Socket, SocketError> {
    let io = |e: std::io::Error| SocketError::from_io(&e, subject);
    if addr.is_ipv6() {
        sock.set_only_v6(!dual_stack).map_err(io)?;
    }
    if opts.reuse_address {
        sock.set_reuse_address(true).map_err(io)?;
    }
    if let Some(iface) = &opts.interface {
        bind_to_interface(&sock, iface)?;
    }
    sock.bind(&addr.into())
        .map_err(|e| SocketError::from_bind(&e, &addr, subject))?;
    Ok(sock)
}

/// Bind a Unix listener. A socket file left by a server that is gone is replaced; a live one,
/// or a file that is not a socket, is never touched.
fn bind_unix(
    name: &UnixName,
    opts: &ServerOptions,
) -> Result<(Socket, Option<SocketFile>), SocketError> {
    let subject = name.to_string();
    let addr = unix_sockaddr(name)?;
    let sock = stream_socket(StreamKind::Unix, Domain::UNIX, None, &subject)?;
    if let Err(e) = sock.bind(&addr) {
        let UnixName::Path(path) = name else {
            return Err(SocketError::from_io(&e, &subject));
        };
        if e.raw_os_error() != Some(libc::EADDRINUSE) {
            return Err(SocketError::from_io(&e, &subject));
        }
        match sys::file_identity(path) {
            Some((_, _, true)) => {}
            _ => {
                return Err(SocketError::AddressInUse(format!(
                    "{subject} (it exists and is not a socket; not replacing it)"
                )))
            }
        }
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => {
                return Err(SocketError::AddressInUse(format!(
                    "{subject} (a server is listening on it)"
                )))
            }
            Err(c) if c.raw_os_error() == Some(libc::ECONNREFUSED) => {
                log::info!("replacing stale socket file {subject}");
                std::fs::remove_file(path).map_err(|e| SocketError::from_io(&e, &subject))?;
                sock.bind(&addr)
                    .map_err(|e| SocketError::from_io(&e, &subject))?;
            }
            Err(c) => return Err(SocketError::from_io(&c, &subject)),
        }
    }
    let file = match name {
        UnixName::Path(path) => {
            if let Some(mode) = opts.socket_mode {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| SocketError::from_io(&e, &subject))?;
            }
            sys::file_identity(path).map(|(dev, ino, _)| SocketFile {
                path: path.clone(),
                dev,
                ino,
            })
        }
        UnixName::Abstract(_) => None,
    };
    Ok((sock, file))
}
