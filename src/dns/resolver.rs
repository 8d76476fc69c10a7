//! Lookups on the reactor: many in flight on one thread, each try on a socket of its own (a
//! fresh, kernel-randomised source port per query), UDP with TCP when the answer is truncated,
//! deadlines as reactor timers. The protocol decisions are [`Exchange`]'s; this is the I/O.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::Interest;

use super::error::DnsError;
use super::exchange::{Answer, Exchange, Settings, Step, Transport};
use super::lookup::RecordType;
use super::resolv_conf::{Freshness, ResolvConf};
use crate::reactor::{Reactor, Ready, TimerId, Token};

/// Identifies a lookup started with [`Resolver::start`] (QDnsLookup's object, or QHostInfo's
/// lookup id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub u64);

/// Settings that override resolv.conf.
#[derive(Debug, Clone, Default)]
pub struct ResolverOptions {
    /// Ask these servers instead of resolv.conf's (`-s`).
    pub servers: Option<Vec<SocketAddr>>,
    /// Wait for each answer this long (default: resolv.conf's `timeout:`).
    pub timeout: Option<Duration>,
    /// Rounds over the servers (`--tries`).
    pub attempts: Option<u8>,
    /// Always TCP (`--tcp`).
    pub tcp: bool,
    /// Where resolv.conf is (default /etc/resolv.conf).
    pub resolv_conf: Option<PathBuf>,
    /// At most this many sockets at once; further lookups wait (default: half the fd limit).
    pub max_in_flight: Option<usize>,
}

/// One try's socket.
#[derive(Debug)]
enum Conn {
    Udp(mio::net::UdpSocket),
    Tcp(TcpConn),
}

#[derive(Debug)]
struct TcpConn {
    stream: TcpStream,
    /// Length-prefixed query, and how much of it went out.
    frame: Vec<u8>,
    sent: usize,
    /// Received bytes of the length-prefixed reply.
    received: Vec<u8>,
}

#[derive(Debug)]
struct Slot {
    id: LookupId,
    token: Token,
    exchange: Exchange,
    conn: Option<Conn>,
    timer: Option<TimerId>,
}

/// Typed lookups driven by a [`Reactor`].
pub struct Resolver {
    options: ResolverOptions,
    conf: ResolvConf,
    /// The servers lookups use (option or resolv.conf), shared by all exchanges.
    servers: Arc<[SocketAddr]>,
    freshness: Freshness,
    rotation: usize,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    by_token: HashMap<Token, usize>,
    waiting: VecDeque<(LookupId, Exchange)>,
    max_in_flight: usize,
    done: VecDeque<(LookupId, Result<Answer, DnsError>)>,
    buf: Box<[u8]>,
    next_id: u64,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("in_flight", &self.in_flight())
            .field("servers", &self.conf.servers)
            .finish_non_exhaustive()
    }
}

fn servers_of(options: &ResolverOptions, conf: &ResolvConf) -> Arc<[SocketAddr]> {
    options.servers.as_deref().unwrap_or(&conf.servers).into()
}

/// Half the soft fd limit, so a burst of lookups leaves room for everything else.
fn default_max_in_flight() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we pass.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
    let soft = if ok { lim.rlim_cur as usize } else { 1024 };
    (soft / 2).clamp(16, 4096)
}

impl Resolver {
    /// A resolver with `options` (servers from resolv.conf unless given).
    pub fn new(options: ResolverOptions) -> Result<Resolver, DnsError> {
        let path = options
            .resolv_conf
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/resolv.conf"));
        let conf = ResolvConf::load(&path)
            .map_err(|e| DnsError::Resolver(format!("cannot read {}: {e}", path.display())))?;
        Ok(Resolver {
            servers: servers_of(&options, &conf),
            max_in_flight: options
                .max_in_flight
                .unwrap_or_else(default_max_in_flight)
                .max(1),
            freshness: Freshness::new(path, Duration::from_secs(1)),
            options,
            conf,
            rotation: 0,
            slots: Vec::new(),
            free: Vec::new(),
            by_token: HashMap::new(),
            waiting: VecDeque::new(),
            done: VecDeque::new(),
            buf: vec![0u8; 65_535].into_boxed_slice(),
            next_id: 0,
        })
    }

    /// The configuration lookups use now.
    pub fn config(&self) -> &ResolvConf {
        &self.conf
    }

    /// Lookups started and not yet collected from [`next_done`](Self::next_done).
    pub fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len() + self.waiting.len()
    }

    /// Re-read resolv.conf if it changed (checked at most once a second).
    fn refresh(&mut self) {
        if !self.freshness.changed(Instant::now()) {
            return;
        }
        match ResolvConf::load(self.freshness.path()) {
            Ok(conf) => {
                log::info!(
                    "{} changed: servers {:?}",
                    self.freshness.path().display(),
                    conf.servers
                );
                self.servers = servers_of(&self.options, &conf);
                self.conf = conf;
            }
            Err(e) => log::warn!(
                "{} changed but cannot be read: {e}",
                self.freshness.path().display()
            ),
        }
    }

    fn settings(&mut self) -> Settings {
        let servers = Arc::clone(&self.servers);
        let first_server = if self.conf.rotate {
            self.rotation = self.rotation.wrapping_add(1);
            self.rotation
        } else {
            0
        };
        Settings {
            servers,
            timeout: self.options.timeout.unwrap_or(self.conf.timeout),
            attempts: self.options.attempts.unwrap_or(self.conf.attempts),
            first_server,
            tcp: self.options.tcp || self.conf.use_tcp,
        }
    }

    /// Start looking up `name` (user text: relative names go through the search list).
    pub fn start(
        &mut self,
        reactor: &mut Reactor,
        name: &str,
        rtype: RecordType,
    ) -> Result<LookupId, DnsError> {
        self.refresh();
        let candidates = self
            .conf
            .candidates(name)
            .map_err(|e| DnsError::InvalidRequest(format!("\"{name}\": {e}")))?;
        let exchange = Exchange::new(name, candidates, rtype.0, self.settings());
        self.next_id += 1;
        let id = LookupId(self.next_id);
        if self.slots.len() - self.free.len() < self.max_in_flight {
            self.begin(reactor, id, exchange);
        } else {
            self.waiting.push_back((id, exchange));
        }
        Ok(id)
    }

    fn begin(&mut self, reactor: &mut Reactor, id: LookupId, mut exchange: Exchange) {
        let token = reactor.token();
        let step = exchange.start(Instant::now());
        let slot = Slot {
            id,
            token,
            exchange,
            conn: None,
            timer: None,
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.by_token.insert(token, index);
        self.apply(reactor, index, step);
    }

    /// Stop a lookup; it finishes with [`DnsError::Cancelled`] (QDnsLookup::abort).
    pub fn abort(&mut self, reactor: &mut Reactor, id: LookupId) {
        if let Some(pos) = self.waiting.iter().position(|(w, _)| *w == id) {
            self.waiting.remove(pos);
            self.done.push_back((id, Err(DnsError::Cancelled)));
            return;
        }
        let found = self
            .slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.id == id));
        if let Some(index) = found {
            self.finish(reactor, index, Err(DnsError::Cancelled));
        }
    }

    /// A finished lookup, in completion order.
    pub fn next_done(&mut self) -> Option<(LookupId, Result<Answer, DnsError>)> {
        self.done.pop_front()
    }

    /// Handle a reactor event; `false` if it was not this resolver's.
    pub fn handle(&mut self, reactor: &mut Reactor, ready: &Ready) -> bool {
        let (token, timer) = match ready {
            Ready::Io { token, .. } => (*token, None),
            Ready::Timer { owner, id } => (*owner, Some(*id)),
            _ => return false,
        };
        let Some(&index) = self.by_token.get(&token) else {
            return false;
        };
        let now = Instant::now();
        let step = {
            let Some(slot) = self.slots.get_mut(index).and_then(Option::as_mut) else {
                return false;
            };
            match timer {
                Some(id) if slot.timer == Some(id) => {
                    slot.timer = None;
                    Some(slot.exchange.on_timeout(now))
                }
                Some(_) => None,
                None => match slot.conn.as_mut() {
                    Some(Conn::Udp(sock)) => {
                        udp_ready(sock, &mut self.buf, &mut slot.exchange, now)
                    }
                    Some(Conn::Tcp(conn)) => tcp_ready(conn, &mut slot.exchange, now),
                    None => None,
                },
            }
        };
        if let Some(step) = step {
            self.apply(reactor, index, step);
        }
        true
    }

    /// Carry out what the exchange asked for.
    fn apply(&mut self, reactor: &mut Reactor, index: usize, mut step: Step) {
        loop {
            let Some(slot) = self.slots.get_mut(index).and_then(Option::as_mut) else {
                return;
            };
            match step {
                Step::Done(result) => {
                    self.finish(reactor, index, result);
                    return;
                }
                Step::Send {
                    transport,
                    server,
                    deadline,
                } => {
                    close(reactor, slot);
                    match open(reactor, slot, transport, server) {
                        Ok(()) => {
                            slot.timer = Some(reactor.timer(deadline, slot.token));
                            return;
                        }
                        Err(e) => {
                            log::debug!("{server}: {e}");
                            step = slot.exchange.on_transport_error(Instant::now(), &e);
                        }
                    }
                }
            }
        }
    }

    fn finish(&mut self, reactor: &mut Reactor, index: usize, result: Result<Answer, DnsError>) {
        let Some(mut slot) = self.slots.get_mut(index).and_then(Option::take) else {
            return;
        };
        close(reactor, &mut slot);
        self.by_token.remove(&slot.token);
        self.free.push(index);
        self.done.push_back((slot.id, result));
        if let Some((id, exchange)) = self.waiting.pop_front() {
            self.begin(reactor, id, exchange);
        }
    }
}

fn close(reactor: &mut Reactor, slot: &mut Slot) {
    if let Some(timer) = slot.timer.take() {
        reactor.cancel_timer(timer);
    }
    match slot.conn.take() {
        // Closing the socket removes it from epoll (it is never duplicated): one system call
        // less per query than deregistering first.
        Some(Conn::Udp(s)) => drop(s),
        Some(Conn::Tcp(mut c)) => {
            let _ = reactor.deregister(&mut c.stream);
        }
        None => {}
    }
}

/// A socket for this try: UDP sends at once; TCP connects and sends when writable.
fn open(
    reactor: &mut Reactor,
    slot: &mut Slot,
    transport: Transport,
    server: SocketAddr,
) -> io::Result<()> {
    let query = slot.exchange.query().as_bytes();
    match transport {
        Transport::Udp => {
            use socket2::{Domain, Protocol, Socket, Type};
            // Non-blocking from the start; connect() picks the (kernel-randomised) source
            // port and makes the kernel drop datagrams from any other address.
            let sock = Socket::new(
                Domain::for_address(server),
                Type::DGRAM.nonblocking().cloexec(),
                Some(Protocol::UDP),
            )?;
            sock.connect(&server.into())?;
            let mut sock = mio::net::UdpSocket::from_std(UdpSocket::from(sock));
            sock.send(query)?;
            reactor
                .registry()
                .register(&mut sock, slot.token, Interest::READABLE)?;
            slot.conn = Some(Conn::Udp(sock));
        }
        Transport::Tcp => {
            let mut stream = TcpStream::connect(server)?;
            let _ = stream.set_nodelay(true);
            let mut frame = Vec::with_capacity(2 + query.len());
            frame.extend_from_slice(&(query.len() as u16).to_be_bytes());
            frame.extend_from_slice(query);
            reactor.registry().register(
                &mut stream,
                slot.token,
                Interest::READABLE | Interest::WRITABLE,
            )?;
            slot.conn = Some(Conn::Tcp(TcpConn {
                stream,
                frame,
                sent: 0,
                received: Vec::new(),
            }));
        }
    }
    Ok(())
}

/// Read every datagram waiting; the first that settles the exchange wins.
fn udp_ready(
    sock: &mut mio::net::UdpSocket,
    buf: &mut [u8],
    exchange: &mut Exchange,
    now: Instant,
) -> Option<Step> {
    loop {
        match sock.recv(buf) {
            Ok(n) => {
                if let Some(step) = exchange.on_reply(now, &buf[..n], Transport::Udp) {
                    return Some(step);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // ICMP port unreachable arrives as ECONNREFUSED on a connected socket.
            Err(e) => return Some(exchange.on_transport_error(now, &e)),
        }
    }
}

/// Send the query when connected; collect the length-prefixed reply.
fn tcp_ready(conn: &mut TcpConn, exchange: &mut Exchange, now: Instant) -> Option<Step> {
    while conn.sent < conn.frame.len() {
        match conn.stream.write(&conn.frame[conn.sent..]) {
            Ok(n) => conn.sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return None,
            Err(e) => return Some(exchange.on_transport_error(now, &e)),
        }
    }
    let mut chunk = [0u8; 4096];
    loop {
        match conn.stream.read(&mut chunk) {
            Ok(0) => {
                let e = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the TCP connection mid-reply",
                );
                return Some(exchange.on_transport_error(now, &e));
            }
            Ok(n) => {
                conn.received.extend_from_slice(&chunk[..n]);
                if let [hi, lo, rest @ ..] = conn.received.as_slice() {
                    let len = usize::from(u16::from_be_bytes([*hi, *lo]));
                    if rest.len() >= len {
                        let reply = &rest[..len];
                        // A mismatched reply on our own TCP connection cannot be followed by
                        // the right one: treat it as this server's failure.
                        return Some(
                            exchange
                                .on_reply(now, reply, Transport::Tcp)
                                .unwrap_or_else(|| {
                                    let e = io::Error::new(
                                        io::ErrorKind::InvalidData,
                                        "reply does not match the query",
                                    );
                                    exchange.on_transport_error(now, &e)
                                }),
                        );
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return None,
            Err(e) => return Some(exchange.on_transport_error(now, &e)),
        }
    }
}
