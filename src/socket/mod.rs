//! Sockets and servers on the reactor: TCP, UDP, Unix (local), SCTP and TLS — Qt's
//! QTcpSocket/QTcpServer, QUdpSocket, QLocalSocket/QLocalServer, QSctpSocket/QSctpServer and
//! QSslSocket/QSslServer for boards, without threads.
//!
//! Every kind shares one state machine ([`SocketState`]: Unconnected, HostLookup,
//! Connecting, Connected, Bound, Listening, Closing) and reports what happened as
//! [`SocketEvent`]s (Qt's signals) after [`handle`](StreamSocket::handle) has seen the
//! reactor's readiness. Simple programs use the blocking `wait_for_*` helpers instead.
//!
//! ```no_run
//! use std::time::Duration;
//! use boardnet::reactor::Reactor;
//! use boardnet::socket::{ConnectOptions, StreamSocket};
//! let mut reactor = Reactor::new()?;
//! let endpoint = "tcp://127.0.0.1:7000".parse()?;
//! let mut sock = StreamSocket::connect(&mut reactor, &endpoint, ConnectOptions::default())?;
//! sock.wait_for_connected(&mut reactor, Duration::from_secs(5))?;
//! sock.write(b"ping\n")?;
//! sock.wait_for_ready_read(&mut reactor, Duration::from_secs(5))?;
//! let mut buf = [0u8; 512];
//! let n = sock.read(&mut buf)?;
//! println!("{}", String::from_utf8_lossy(&buf[..n]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Endpoints are URLs ([`Endpoint`]): `tcp://HOST:PORT`, `tls://HOST:PORT`, `udp://HOST:PORT`,
//! `sctp://HOST:PORT`, `unix:/path`, `unix:@abstract`. Host names resolve through the DNS
//! module (on the reactor for connects). All system calls are in `sys`.

mod datagram;
mod endpoint;
mod error;
#[cfg(feature = "sctp")]
mod sctp;
mod server;
mod state;
mod stream;
pub(crate) mod sys;
#[cfg(feature = "tls")]
mod tls;

pub use datagram::{Datagram, UdpOptions, UdpSocket, MAX_DATAGRAM_V4, MAX_DATAGRAM_V6};
pub use endpoint::{Address, Endpoint, Host, HostPort, UnixName, UNIX_NAME_MAX};
pub use error::{SocketError, TimeoutPhase};
#[cfg(feature = "sctp")]
pub use sctp::{SctpDatagram, SctpSeqpacket};
#[cfg(feature = "tls")]
pub use server::DEFAULT_TLS_HANDSHAKE_TIMEOUT;
pub use server::{Server, ServerEvent, ServerOptions};
pub use state::{SocketEvent, SocketState};
pub(crate) use stream::bind_to_interface;
pub use stream::{ConnectOptions, SctpMessage, StreamKind, StreamSocket};
pub use sys::PeerCredentials;
#[cfg(feature = "tls")]
pub use tls::TlsInfo;
