//! UDP on the reactor (QUdpSocket): bind or connect, datagrams with their sender, broadcast
//! on request, multicast groups on a chosen interface.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};

use super::endpoint::{Endpoint, Host, HostPort};
use super::error::{SocketError, TimeoutPhase};
use super::state::{note_readable, SocketEvent, SocketState};
use super::stream::{bind_to_interface, domain_of, scoped};
use super::sys;
use crate::dns::{Family, HostError};
use crate::reactor::queue::EventQueue;
use crate::reactor::{Reactor, Ready, Token};

/// The largest UDP payload over IPv4 (65535 − 20 − 8).
pub const MAX_DATAGRAM_V4: usize = 65_507;
/// The largest UDP payload over IPv6 without jumbograms (65535 − 8).
pub const MAX_DATAGRAM_V6: usize = 65_527;

/// How to set up a UDP socket.
#[derive(Debug, Clone, Default)]
pub struct UdpOptions {
    /// Send and receive through this interface only (SO_BINDTODEVICE; needs CAP_NET_RAW).
    /// Multicast sent by the socket leaves through it too.
    pub interface: Option<String>,
    /// Allow sending to broadcast addresses (SO_BROADCAST). Off by default: a datagram to
    /// a broadcast address is then refused rather than sent to every host.
    pub broadcast: bool,
    /// Share the port with other sockets (SO_REUSEADDR), as multicast receivers usually do.
    pub reuse_address: bool,
    /// Which addresses of a host name to use.
    pub family: Family,
}

/// One received datagram: `len` bytes landed in the buffer out of `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram {
    /// Bytes of it in the buffer.
    pub len: usize,
    /// The datagram's real size (more than `len` when the buffer was too small).
    pub size: usize,
    /// The sender.
    pub from: SocketAddr,
}

/// A UDP socket.
#[derive(Debug)]
pub struct UdpSocket {
    sock: Socket,
    token: Token,
    state: SocketState,
    local: SocketAddr,
    peer: Option<SocketAddr>,
    readable: bool,
    events: EventQueue<SocketEvent>,
    last_error: Option<SocketError>,
}

fn resolve(hp: &HostPort, family: Family) -> Result<SocketAddr, SocketError> {
    match &hp.host {
        Host::Any => Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), hp.port)),
        Host::Ip(ip) => Ok(SocketAddr::new(*ip, hp.port)),
        Host::Scoped(ip, zone) => scoped(*ip, zone, hp.port),
        Host::Name(name) => crate::dns::host::addresses(name, family)
            .map_err(SocketError::HostNotFound)?
            .into_iter()
            .next()
            .map(|ip| SocketAddr::new(ip, hp.port))
            .ok_or_else(|| {
                SocketError::HostNotFound(HostError::HostNotFound {
                    name: name.clone(),
                    reason: "no address".into(),
                })
            }),
    }
}

fn udp_host_port(endpoint: &Endpoint) -> Result<&HostPort, SocketError> {
    match endpoint {
        Endpoint::Udp(hp) => Ok(hp),
        other => Err(SocketError::InvalidEndpoint(format!(
            "{other} is not a udp:// endpoint"
        ))),
    }
}

fn is_multicast(ip: &IpAddr) -> bool {
    ip.is_multicast()
}

impl UdpSocket {
    /// Bind to a local `udp://` endpoint (port 0: the kernel picks; `*` is dual-stack).
    pub fn bind(
        reactor: &mut Reactor,
        endpoint: &Endpoint,
        opts: &UdpOptions,
    ) -> Result<UdpSocket, SocketError> {
        let hp = udp_host_port(endpoint)?;
        let addr = resolve(hp, opts.family)?;
        let dual_stack = hp.host == Host::Any;
        let subject = endpoint.to_string();
        let sock = Self::open(&addr, opts, &subject)?;
        let io = |e: io::Error| SocketError::from_io(&e, &subject);
        if addr.is_ipv6() {
            sock.set_only_v6(!dual_stack).map_err(io)?;
        }
        sock.bind(&addr.into())
            .map_err(|e| SocketError::from_bind(&e, &addr, &subject))?;
        Self::finish(reactor, sock, None, SocketState::Bound, &subject)
    }

    /// A socket sending to one peer (and receiving only from it). Multicast destinations
    /// leave through `opts.interface` when given.
    pub fn connect(
        reactor: &mut Reactor,
        endpoint: &Endpoint,
        opts: &UdpOptions,
    ) -> Result<UdpSocket, SocketError> {
        let hp = udp_host_port(endpoint)?;
        if hp.port == 0 || hp.host == Host::Any {
            return Err(SocketError::InvalidEndpoint(format!(
                "{endpoint}: name the host and port to send to"
            )));
        }
        let peer = resolve(hp, opts.family)?;
        let subject = endpoint.to_string();
        let sock = Self::open(&peer, opts, &subject)?;
        if is_multicast(&peer.ip()) {
            if let Some(iface) = &opts.interface {
                let index = sys::interface_index(iface).map_err(|_| {
                    SocketError::InvalidEndpoint(format!("no interface named \"{iface}\""))
                })?;
                let set = match peer {
                    SocketAddr::V4(_) => sys::set_multicast_if_v4(&sock, index),
                    SocketAddr::V6(_) => sock.set_multicast_if_v6(index),
                };
                set.map_err(|e| SocketError::from_io(&e, iface))?;
            }
        }
        sock.connect(&peer.into())
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EACCES) if !opts.broadcast => SocketError::BroadcastNotAllowed {
                    to: subject.to_string(),
                },
                _ => SocketError::from_io(&e, &subject),
            })?;
        Self::finish(reactor, sock, Some(peer), SocketState::Connected, &subject)
    }

    fn open(addr: &SocketAddr, opts: &UdpOptions, subject: &str) -> Result<Socket, SocketError> {
        let io = |e: io::Error| SocketError::from_io(&e, subject);
        let domain: Domain = domain_of(&addr.ip());
        let sock = sys::socket(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(io)?;
        if opts.reuse_address {
            sock.set_reuse_address(true).map_err(io)?;
        }
        if opts.broadcast {
            sock.set_broadcast(true).map_err(io)?;
        }
        if let Some(iface) = &opts.interface {
            bind_to_interface(&sock, iface)?;
        }
        Ok(sock)
    }

    fn finish(
        reactor: &mut Reactor,
        sock: Socket,
        peer: Option<SocketAddr>,
        state: SocketState,
        subject: &str,
    ) -> Result<UdpSocket, SocketError> {
        let io = |e: io::Error| SocketError::from_io(&e, subject);
        let local = sock
            .local_addr()
            .map_err(io)?
            .as_socket()
            .ok_or_else(|| SocketError::Other(format!("{subject}: no local address")))?;
        let token = sys::register(reactor, &sock).map_err(io)?;
        let mut events = EventQueue::default();
        events.push(SocketEvent::StateChanged(state));
        Ok(UdpSocket {
            sock,
            token,
            state,
            local,
            peer,
            // Datagrams may be queued before registration reported anything.
            readable: true,
            events,
            last_error: None,
        })
    }

    /// The token of its reactor events.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Its state (bound or connected).
    pub fn state(&self) -> SocketState {
        self.state
    }

    /// The local address (with the port the kernel chose).
    pub fn local_address(&self) -> SocketAddr {
        self.local
    }

    /// The peer of a connected socket.
    pub fn peer_address(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The last error.
    pub fn error(&self) -> Option<&SocketError> {
        self.last_error.as_ref()
    }

    /// The next event, oldest first.
    pub fn next_event(&mut self) -> Option<SocketEvent> {
        self.events.pop()
    }

    /// The endpoint this socket is bound to (with the port the kernel chose).
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::Udp(HostPort {
            host: Host::Ip(self.local.ip()),
            port: self.local.port(),
        })
    }

    /// The largest datagram this socket can send.
    pub fn max_datagram(&self) -> usize {
        match self.peer.unwrap_or(self.local) {
            SocketAddr::V4(_) => MAX_DATAGRAM_V4,
            // A dual-stack socket sending to an IPv4-mapped peer is still limited to IPv4's.
            SocketAddr::V6(a) if a.ip().to_ipv4_mapped().is_some() => MAX_DATAGRAM_V4,
            SocketAddr::V6(_) => MAX_DATAGRAM_V6,
        }
    }

    /// Handle one reactor event; `false` if it was not this socket's.
    pub fn handle(&mut self, _reactor: &mut Reactor, ready: &Ready) -> bool {
        note_readable(ready, self.token, &mut self.readable, &mut self.events)
    }

    fn error_event(&mut self, e: SocketError) -> SocketError {
        self.last_error = Some(e.clone());
        self.events.push(SocketEvent::Error(e.clone()));
        e
    }

    fn check_size(&mut self, data: &[u8], to: Option<&SocketAddr>) -> Result<(), SocketError> {
        let max = match to {
            Some(SocketAddr::V4(_)) => MAX_DATAGRAM_V4,
            Some(SocketAddr::V6(a)) if a.ip().to_ipv4_mapped().is_none() => MAX_DATAGRAM_V6,
            Some(_) => MAX_DATAGRAM_V4,
            None => self.max_datagram(),
        };
        if data.len() > max {
            return Err(self.error_event(SocketError::DatagramTooLarge {
                size: data.len(),
                max,
            }));
        }
        Ok(())
    }

    fn send_error(&mut self, e: &io::Error, data: &[u8], to: &str) -> SocketError {
        let err = match e.raw_os_error() {
            Some(libc::EMSGSIZE) => SocketError::DatagramTooLarge {
                size: data.len(),
                max: self.max_datagram(),
            },
            Some(libc::EACCES) => SocketError::BroadcastNotAllowed { to: to.to_string() },
            Some(libc::EAGAIN) => return SocketError::Temporary,
            _ => SocketError::from_io(e, to),
        };
        self.error_event(err)
    }

    /// Send one datagram to the connected peer. `Temporary` when the send buffer is full.
    pub fn send(&mut self, data: &[u8]) -> Result<(), SocketError> {
        let Some(peer) = self.peer else {
            return Err(SocketError::OperationError(
                "the socket is not connected; use send_to".into(),
            ));
        };
        self.check_size(data, None)?;
        match sys::send(&self.sock, data) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.send_error(&e, data, &peer.to_string())),
        }
    }

    /// Send one datagram to `to`.
    pub fn send_to(&mut self, data: &[u8], to: SocketAddr) -> Result<(), SocketError> {
        self.check_size(data, Some(&to))?;
        let to = match (self.local, to) {
            // A dual-stack socket reaches IPv4 peers through mapped addresses.
            (SocketAddr::V6(_), SocketAddr::V4(v4)) => {
                SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
            }
            (_, to) => to,
        };
        loop {
            match self
                .sock
                .send_to_with_flags(data, &to.into(), libc::MSG_NOSIGNAL)
            {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.send_error(&e, data, &to.to_string())),
            }
        }
    }

    /// Receive one datagram; `WouldBlock` when none is queued. A connected socket reports a
    /// peer that refused earlier datagrams (ICMP port unreachable) as `ConnectionRefused`.
    pub fn recv_from(&mut self, buf: &mut [u8]) -> io::Result<Datagram> {
        match sys::recv_datagram(&self.sock, buf) {
            Ok((len, size, from)) => {
                let from = from
                    .as_socket()
                    .map(unmap)
                    .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
                Ok(Datagram { len, size, from })
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.readable = false;
                Err(e)
            }
            Err(e) => {
                let subject = self.peer.map_or(self.local.to_string(), |p| p.to_string());
                let err = self.error_event(SocketError::from_io(&e, &subject));
                Err(err.into_io())
            }
        }
    }

    /// The size of the next datagram, if one is queued (Qt's pendingDatagramSize).
    pub fn pending_datagram_size(&self) -> Option<usize> {
        sys::pending_datagram_size(&self.sock).ok()
    }

    /// Allow or forbid sending to broadcast addresses.
    pub fn set_broadcast(&mut self, on: bool) -> Result<(), SocketError> {
        self.sock
            .set_broadcast(on)
            .map_err(|e| SocketError::from_io(&e, "SO_BROADCAST"))
    }

    fn group_op(
        &self,
        group: IpAddr,
        interface: Option<&str>,
        join: bool,
    ) -> Result<(), SocketError> {
        if !group.is_multicast() {
            return Err(SocketError::InvalidEndpoint(format!(
                "{group} is not a multicast group address"
            )));
        }
        let index = match interface {
            Some(name) => sys::interface_index(name).map_err(|_| {
                SocketError::InvalidEndpoint(format!("no interface named \"{name}\""))
            })?,
            None => 0,
        };
        let subject = match interface {
            Some(i) => format!("multicast group {group} on {i}"),
            None => format!("multicast group {group}"),
        };
        let result = match (group, join) {
            (IpAddr::V4(g), true) => self
                .sock
                .join_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(index)),
            (IpAddr::V4(g), false) => self
                .sock
                .leave_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(index)),
            (IpAddr::V6(g), true) => self.sock.join_multicast_v6(&g, index),
            (IpAddr::V6(g), false) => self.sock.leave_multicast_v6(&g, index),
        };
        result.map_err(|e| match e.raw_os_error() {
            Some(libc::ENODEV) => SocketError::Network(format!(
                "{subject}: no multicast route (name the interface: GROUP@IFACE)"
            )),
            _ => SocketError::from_io(&e, &subject),
        })
    }

    /// Receive datagrams sent to `group` (on `interface`, or the one the routing table picks).
    pub fn join_multicast_group(
        &mut self,
        group: IpAddr,
        interface: Option<&str>,
    ) -> Result<(), SocketError> {
        self.group_op(group, interface, true)
    }

    /// Leave a multicast group joined before.
    pub fn leave_multicast_group(
        &mut self,
        group: IpAddr,
        interface: Option<&str>,
    ) -> Result<(), SocketError> {
        self.group_op(group, interface, false)
    }

    fn is_v6(&self) -> bool {
        self.local.is_ipv6()
    }

    /// Whether this host receives its own multicast datagrams (default on).
    pub fn set_multicast_loopback(&mut self, on: bool) -> Result<(), SocketError> {
        let r = if self.is_v6() {
            self.sock.set_multicast_loop_v6(on)
        } else {
            self.sock.set_multicast_loop_v4(on)
        };
        r.map_err(|e| SocketError::from_io(&e, "multicast loopback"))
    }

    /// How many routers multicast datagrams may cross (default 1).
    pub fn set_multicast_ttl(&mut self, ttl: u32) -> Result<(), SocketError> {
        let r = if self.is_v6() {
            self.sock.set_multicast_hops_v6(ttl)
        } else {
            self.sock.set_multicast_ttl_v4(ttl)
        };
        r.map_err(|e| SocketError::from_io(&e, "multicast TTL"))
    }

    /// The interface multicast datagrams leave through.
    pub fn set_multicast_interface(&mut self, interface: &str) -> Result<(), SocketError> {
        let index = sys::interface_index(interface).map_err(|_| {
            SocketError::InvalidEndpoint(format!("no interface named \"{interface}\""))
        })?;
        let r = if self.is_v6() {
            self.sock.set_multicast_if_v6(index)
        } else {
            sys::set_multicast_if_v4(&self.sock, index)
        };
        r.map_err(|e| SocketError::from_io(&e, interface))
    }

    /// Block until a datagram is queued (Qt's waitForReadyRead). Other sources' events go
    /// back to the reactor.
    pub fn wait_for_ready_read(
        &mut self,
        reactor: &mut Reactor,
        timeout: Duration,
    ) -> Result<(), SocketError> {
        let deadline = Instant::now() + timeout;
        let mut batch = Vec::new();
        loop {
            if self.readable && self.pending_datagram_size().is_some() {
                return Ok(());
            }
            self.readable = false;
            if Instant::now() >= deadline {
                return Err(SocketError::SocketTimeout {
                    phase: TimeoutPhase::Wait,
                    after: timeout,
                    peer: self.local.to_string(),
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
}

/// IPv4-mapped IPv6 senders (on dual-stack sockets) as the IPv4 addresses they are.
fn unmap(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), a.port()),
            None => addr,
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_senders_read_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:53".parse().unwrap();
        assert_eq!(unmap(mapped), "127.0.0.1:53".parse().unwrap());
        let v6: SocketAddr = "[::1]:53".parse().unwrap();
        assert_eq!(unmap(v6), v6);
    }
}
