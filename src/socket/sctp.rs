//! SCTP one-to-many sockets (`SOCK_SEQPACKET`): one socket, many associations, each message
//! with its sender and stream. One-to-one SCTP is a [`StreamSocket`](super::StreamSocket).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::Socket;

use super::endpoint::{Endpoint, Host, HostPort};
use super::error::SocketError;
use super::state::{note_readable, SocketEvent, SocketState};
use super::stream::{domain_of, scoped, sctp_socket_error};
use super::sys;
use crate::reactor::queue::EventQueue;
use crate::reactor::{Reactor, Ready, Token};

/// One message received on a one-to-many socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SctpDatagram {
    /// Bytes of it in the buffer.
    pub len: usize,
    /// The stream it came on.
    pub stream: u16,
    /// The sender.
    pub from: SocketAddr,
    /// The association it came on (the kernel's id).
    pub association: i32,
    /// The whole message fit in the buffer.
    pub complete: bool,
}

/// A one-to-many SCTP socket: bound, accepting associations, sending to any peer.
#[derive(Debug)]
pub struct SctpSeqpacket {
    sock: Socket,
    token: Token,
    local: SocketAddr,
    readable: bool,
    events: EventQueue<SocketEvent>,
    last_error: Option<SocketError>,
}

impl SctpSeqpacket {
    /// Bind to an `sctp://` endpoint and accept associations, offering `streams` streams each
    /// way (default: the kernel's, 10).
    pub fn bind(
        reactor: &mut Reactor,
        endpoint: &Endpoint,
        streams: Option<u16>,
    ) -> Result<SctpSeqpacket, SocketError> {
        let Endpoint::Sctp(hp) = endpoint else {
            return Err(SocketError::InvalidEndpoint(format!(
                "{endpoint} is not an sctp:// endpoint"
            )));
        };
        let subject = endpoint.to_string();
        let (addr, dual_stack) = local_address(hp)?;
        let io = |e: io::Error| SocketError::from_io(&e, &subject);
        let sock = sys::sctp::socket(domain_of(&addr.ip()), true)
            .map_err(|e| sctp_socket_error(&e, &subject))?;
        if addr.is_ipv6() {
            sock.set_only_v6(!dual_stack).map_err(io)?;
        }
        sock.set_reuse_address(true).map_err(io)?;
        if let Some(n) = streams {
            sys::sctp::set_streams(&sock, n).map_err(io)?;
        }
        sys::sctp::report_streams(&sock).map_err(io)?;
        sock.bind(&addr.into())
            .map_err(|e| SocketError::from_bind(&e, &addr, &subject))?;
        sock.listen(128).map_err(io)?;
        let local = sock
            .local_addr()
            .map_err(io)?
            .as_socket()
            .ok_or_else(|| SocketError::Other(format!("{subject}: no local address")))?;
        let token = sys::register(reactor, &sock).map_err(io)?;
        let mut events = EventQueue::default();
        events.push(SocketEvent::StateChanged(SocketState::Listening));
        Ok(SctpSeqpacket {
            sock,
            token,
            local,
            readable: true,
            events,
            last_error: None,
        })
    }

    /// The token of its reactor events.
    pub fn token(&self) -> Token {
        self.token
    }

    /// The local address.
    pub fn local_address(&self) -> SocketAddr {
        self.local
    }

    /// The endpoint bound, with the port the kernel chose.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::Sctp(HostPort {
            host: Host::Ip(self.local.ip()),
            port: self.local.port(),
        })
    }

    /// The next event, oldest first.
    pub fn next_event(&mut self) -> Option<SocketEvent> {
        self.events.pop()
    }

    /// The last error.
    pub fn error(&self) -> Option<&SocketError> {
        self.last_error.as_ref()
    }

    /// Let the socket see a reactor event; true if it was its own.
    pub fn handle(&mut self, _reactor: &mut Reactor, ready: &Ready) -> bool {
        note_readable(ready, self.token, &mut self.readable, &mut self.events)
    }

    /// Receive one message (or its first `buf.len()` bytes); `WouldBlock` when none waits.
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<SctpDatagram> {
        loop {
            match sys::sctp::recv(&self.sock, buf) {
                Ok((r, _)) if r.notification => continue,
                Ok((r, from)) => {
                    let from = from
                        .as_socket()
                        .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
                    return Ok(SctpDatagram {
                        len: r.len,
                        stream: r.stream,
                        from,
                        association: r.assoc_id,
                        complete: r.complete,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Err(e);
                }
                Err(e) => {
                    let err = SocketError::from_io(&e, &self.local.to_string());
                    self.last_error = Some(err.clone());
                    self.events.push(SocketEvent::Error(err.clone()));
                    return Err(err.into_io());
                }
            }
        }
    }

    /// Send one message to `to` on `stream` (setting up an association if there is none).
    /// `Temporary` when the send buffer is full.
    pub fn send_to(&mut self, data: &[u8], to: SocketAddr, stream: u16) -> Result<(), SocketError> {
        match sys::sctp::send(&self.sock, data, stream, Some(&to.into())) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(SocketError::Temporary),
            Err(e) => {
                let err = match e.raw_os_error() {
                    Some(libc::EINVAL) => SocketError::InvalidEndpoint(format!(
                        "{to}: stream {stream} is not one the association negotiated"
                    )),
                    _ => SocketError::from_io(&e, &to.to_string()),
                };
                self.last_error = Some(err.clone());
                self.events.push(SocketEvent::Error(err.clone()));
                Err(err)
            }
        }
    }
}

/// Where to bind: `*` is dual-stack.
fn local_address(hp: &HostPort) -> Result<(SocketAddr, bool), SocketError> {
    Ok(match &hp.host {
        Host::Any => (
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), hp.port),
            true,
        ),
        Host::Ip(ip) => (SocketAddr::new(*ip, hp.port), false),
        Host::Scoped(ip, zone) => (scoped(*ip, zone, hp.port)?, false),
        Host::Name(name) => {
            return Err(SocketError::InvalidEndpoint(format!(
                "sctp://{name}: bind an SCTP one-to-many socket to an address or *"
            )))
        }
    })
}
