//! `SocketError`: QAbstractSocket::SocketError for boardnet, with messages that say what to do.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::dns::HostError;
use crate::error::{Classify, ErrorClass};
use crate::tls::TlsFailure;

/// Which deadline expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Host lookup, connect and TLS handshake together.
    Connect,
    /// Nothing was received or sent for the idle limit.
    Idle,
    /// A blocking `wait_for_*` helper gave up.
    Wait,
    /// An accepted client did not finish its TLS handshake in time
    /// (`ServerOptions::tls_handshake_timeout`, in builds with TLS).
    Handshake,
}

/// A failed socket operation, in Qt's taxonomy. Every variant says which peer, address or
/// file it concerns.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SocketError {
    /// The endpoint URL or an option is malformed (bad scheme, port, path, interface name).
    InvalidEndpoint(String),
    /// The peer refused the connection: nothing listens there.
    ConnectionRefused(String),
    /// No local socket exists at that path or abstract name (QLocalSocket::ServerNotFoundError).
    ServerNotFound(String),
    /// The peer closed the connection (`reset`: abruptly, with a TCP RST) while it was in use.
    RemoteHostClosed {
        /// The peer.
        peer: String,
        /// With a TCP RST.
        reset: bool,
    },
    /// The host name did not resolve.
    HostNotFound(HostError),
    /// Permission denied: a socket file or its directory, a privileged port, binding to an
    /// interface without CAP_NET_RAW.
    SocketAccess {
        /// What was refused.
        what: String,
        /// A file (a Unix socket's) rather than a privilege.
        file: bool,
    },
    /// `to` is a broadcast address and the socket did not opt in
    /// ([`UdpOptions::broadcast`](super::UdpOptions::broadcast), SO_BROADCAST).
    BroadcastNotAllowed {
        /// The broadcast address.
        to: String,
    },
    /// Out of descriptors, buffers or memory.
    SocketResource(String),
    /// A deadline expired.
    SocketTimeout {
        /// Which wait.
        phase: TimeoutPhase,
        /// Its limit.
        after: Duration,
        /// The peer.
        peer: String,
    },
    /// A datagram larger than UDP can carry (65507 bytes over IPv4, 65527 over IPv6).
    DatagramTooLarge {
        /// The datagram's size.
        size: usize,
        /// The largest that can be sent.
        max: usize,
    },
    /// The network or host is unreachable (no route, interface down).
    Network(String),
    /// The local address is taken by another socket (the text says which and by what).
    AddressInUse(String),
    /// The local address does not belong to this host.
    SocketAddressNotAvailable(String),
    /// The kernel or this build lacks the protocol or operation.
    UnsupportedSocketOperation(String),
    /// TLS handshake or certificate verification failed.
    SslHandshakeFailed(TlsFailure),
    /// The operation would block (a datagram send with a full buffer); retry when writable.
    Temporary,
    /// The socket is in the wrong state for the operation (writing before connecting).
    OperationError(String),
    /// Aborted by the caller or a signal.
    Cancelled,
    /// Anything else the kernel reported.
    Other(String),
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketError::InvalidEndpoint(why) => f.write_str(why),
            SocketError::ConnectionRefused(peer) => {
                write!(
                    f,
                    "connection refused by {peer} (is anything listening there?)"
                )
            }
            SocketError::ServerNotFound(peer) => {
                write!(f, "no socket at {peer} (is the server running?)")
            }
            SocketError::RemoteHostClosed { peer, reset: true } => {
                write!(f, "connection reset by {peer}")
            }
            SocketError::RemoteHostClosed { peer, reset: false } => {
                write!(f, "{peer} closed the connection")
            }
            SocketError::HostNotFound(e) => e.fmt(f),
            SocketError::SocketAccess { what, .. } => write!(f, "permission denied: {what}"),
            SocketError::BroadcastNotAllowed { to } => write!(
                f,
                "permission denied: {to} is a broadcast address and the socket did not opt in \
                 (SO_BROADCAST)"
            ),
            SocketError::SocketResource(why) => write!(f, "out of resources: {why}"),
            SocketError::SocketTimeout { phase, after, peer } => {
                let secs = after.as_secs_f64();
                match phase {
                    TimeoutPhase::Connect => {
                        write!(f, "connecting to {peer} timed out after {secs} s")
                    }
                    TimeoutPhase::Idle => {
                        write!(f, "{peer}: nothing sent or received for {secs} s")
                    }
                    TimeoutPhase::Wait => write!(f, "{peer}: gave up waiting after {secs} s"),
                    TimeoutPhase::Handshake => write!(
                        f,
                        "client {peer} did not finish the TLS handshake within {secs} s"
                    ),
                }
            }
            SocketError::DatagramTooLarge { size, max } => write!(
                f,
                "datagram of {size} bytes is too large (UDP carries at most {max} bytes here)"
            ),
            SocketError::Network(why) => write!(f, "network error: {why}"),
            SocketError::AddressInUse(what) => write!(f, "address already in use: {what}"),
            SocketError::SocketAddressNotAvailable(addr) => write!(
                f,
                "address {addr} is not available (it is not an address of this host)"
            ),
            SocketError::UnsupportedSocketOperation(why) => write!(f, "not supported: {why}"),
            SocketError::SslHandshakeFailed(tls) => write!(f, "TLS: {tls}"),
            SocketError::Temporary => f.write_str("the operation would block; retry later"),
            SocketError::OperationError(why) => write!(f, "invalid operation: {why}"),
            SocketError::Cancelled => f.write_str("cancelled"),
            SocketError::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for SocketError {}

impl SocketError {
    /// The QAbstractSocket::SocketError name (`--json`'s `error.kind`).
    pub fn name(&self) -> &'static str {
        match self {
            SocketError::InvalidEndpoint(_) => "UnsupportedSocketOperationError",
            SocketError::ConnectionRefused(_) => "ConnectionRefusedError",
            SocketError::ServerNotFound(_) => "ServerNotFoundError",
            SocketError::RemoteHostClosed { .. } => "RemoteHostClosedError",
            SocketError::HostNotFound(_) => "HostNotFoundError",
            SocketError::SocketAccess { .. } | SocketError::BroadcastNotAllowed { .. } => {
                "SocketAccessError"
            }
            SocketError::SocketResource(_) => "SocketResourceError",
            SocketError::SocketTimeout { .. } => "SocketTimeoutError",
            SocketError::DatagramTooLarge { .. } => "DatagramTooLargeError",
            SocketError::Network(_) => "NetworkError",
            SocketError::AddressInUse(_) => "AddressInUseError",
            SocketError::SocketAddressNotAvailable(_) => "SocketAddressNotAvailableError",
            SocketError::UnsupportedSocketOperation(_) => "UnsupportedSocketOperationError",
            SocketError::SslHandshakeFailed(_) => "SslHandshakeFailedError",
            SocketError::Temporary => "TemporaryError",
            SocketError::OperationError(_) => "OperationError",
            SocketError::Cancelled => "OperationError",
            SocketError::Other(_) => "UnknownSocketError",
        }
    }

    /// Classify an OS error from binding to `addr`: a port below 1024 says why it is refused.
    pub(crate) fn from_bind(err: &io::Error, addr: &std::net::SocketAddr, subject: &str) -> Self {
        let privileged = (1..1024).contains(&addr.port());
        if privileged && err.raw_os_error() == Some(libc::EACCES) {
            return SocketError::SocketAccess {
                what: format!(
                    "{subject}: ports below 1024 need root or CAP_NET_BIND_SERVICE (the limit is \
                     sysctl net.ipv4.ip_unprivileged_port_start)"
                ),
                file: false,
            };
        }
        SocketError::from_io(err, subject)
    }

    /// Classify an OS error from an operation on `subject` (a peer, a local address or a path).
    pub(crate) fn from_io(err: &io::Error, subject: &str) -> SocketError {
        #[cfg(feature = "tls")]
        if let Some(tls) = crate::tls::failure_of_io(err) {
            return SocketError::SslHandshakeFailed(tls);
        }
        let subject = subject.to_string();
        let why = || format!("{subject}: {err}");
        let Some(errno) = err.raw_os_error() else {
            return match err.kind() {
                io::ErrorKind::WouldBlock => SocketError::Temporary,
                io::ErrorKind::ConnectionReset => SocketError::RemoteHostClosed {
                    peer: subject,
                    reset: true,
                },
                io::ErrorKind::UnexpectedEof => SocketError::RemoteHostClosed {
                    peer: subject,
                    reset: false,
                },
                _ => SocketError::Other(why()),
            };
        };
        match errno {
            libc::ECONNREFUSED => SocketError::ConnectionRefused(subject),
            libc::ENOENT => SocketError::ServerNotFound(subject),
            libc::ECONNRESET | libc::EPIPE => SocketError::RemoteHostClosed {
                peer: subject,
                reset: true,
            },
            libc::ECONNABORTED => SocketError::RemoteHostClosed {
                peer: subject,
                reset: false,
            },
            // "permission denied: SUBJECT", not "...: Permission denied (os error 13)" again.
            libc::EACCES | libc::EPERM => SocketError::SocketAccess {
                what: subject.clone(),
                file: subject.starts_with('/'),
            },
            libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM => {
                SocketError::SocketResource(why())
            }
            libc::ETIMEDOUT => SocketError::Network(format!(
                "{subject}: the kernel gave up (no reply to connection attempts)"
            )),
            libc::ENETUNREACH | libc::EHOSTUNREACH | libc::ENETDOWN | libc::EHOSTDOWN => {
                SocketError::Network(why())
            }
            libc::EADDRINUSE => {
                SocketError::AddressInUse(format!("{subject} (another socket is bound to it)"))
            }
            libc::EADDRNOTAVAIL => SocketError::SocketAddressNotAvailable(subject),
            libc::EPROTONOSUPPORT
            | libc::ESOCKTNOSUPPORT
            | libc::EAFNOSUPPORT
            | libc::EOPNOTSUPP
            | libc::EPFNOSUPPORT => SocketError::UnsupportedSocketOperation(why()),
            libc::ENODEV => SocketError::InvalidEndpoint(format!("{subject}: no such interface")),
            libc::ENAMETOOLONG | libc::ENOTDIR => SocketError::InvalidEndpoint(why()),
            libc::EAGAIN => SocketError::Temporary,
            _ => SocketError::Other(why()),
        }
    }

    /// This error as an `io::Error` (for the `Read`/`Write` impls); [`SocketError::of`] gets
    /// it back.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match &self {
            SocketError::Temporary => io::ErrorKind::WouldBlock,
            SocketError::RemoteHostClosed { reset: true, .. } => io::ErrorKind::ConnectionReset,
            SocketError::RemoteHostClosed { reset: false, .. } => io::ErrorKind::ConnectionAborted,
            SocketError::ConnectionRefused(_) => io::ErrorKind::ConnectionRefused,
            SocketError::SocketTimeout { .. } => io::ErrorKind::TimedOut,
            SocketError::OperationError(_) => io::ErrorKind::NotConnected,
            SocketError::Cancelled => crate::cancel::CANCELLED,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }

    /// The socket error inside an `io::Error` returned by a socket's `read`/`write`.
    pub fn of(err: &io::Error) -> Option<&SocketError> {
        err.get_ref()?.downcast_ref::<SocketError>()
    }
}

impl Classify for SocketError {
    fn class(&self) -> ErrorClass {
        match self {
            SocketError::InvalidEndpoint(_)
            | SocketError::DatagramTooLarge { .. }
            | SocketError::AddressInUse(_)
            | SocketError::SocketAddressNotAvailable(_)
            | SocketError::SslHandshakeFailed(TlsFailure::Config(_)) => ErrorClass::Usage,
            SocketError::HostNotFound(e) => e.class(),
            SocketError::ConnectionRefused(_)
            | SocketError::ServerNotFound(_)
            | SocketError::RemoteHostClosed { .. }
            | SocketError::Network(_) => ErrorClass::Connection,
            SocketError::SocketTimeout { .. } => ErrorClass::Timeout,
            SocketError::SslHandshakeFailed(_) => ErrorClass::Tls,
            SocketError::SocketAccess { file: true, .. } => ErrorClass::LocalIo,
            SocketError::UnsupportedSocketOperation(_) => ErrorClass::Unsupported,
            SocketError::Cancelled => ErrorClass::Cancelled,
            SocketError::SocketAccess { file: false, .. }
            | SocketError::BroadcastNotAllowed { .. }
            | SocketError::SocketResource(_)
            | SocketError::Temporary
            | SocketError::OperationError(_)
            | SocketError::Other(_) => ErrorClass::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: i32, subject: &str) -> SocketError {
        SocketError::from_io(&io::Error::from_raw_os_error(errno), subject)
    }

    #[test]
    fn errnos_map_to_qt_kinds_and_exit_classes() {
        let cases = [
            (
                libc::ECONNREFUSED,
                "ConnectionRefusedError",
                ErrorClass::Connection,
            ),
            (
                libc::ECONNRESET,
                "RemoteHostClosedError",
                ErrorClass::Connection,
            ),
            (libc::EADDRINUSE, "AddressInUseError", ErrorClass::Usage),
            (
                libc::EADDRNOTAVAIL,
                "SocketAddressNotAvailableError",
                ErrorClass::Usage,
            ),
            (libc::EMFILE, "SocketResourceError", ErrorClass::Other),
            (libc::ENETUNREACH, "NetworkError", ErrorClass::Connection),
            (
                libc::EPROTONOSUPPORT,
                "UnsupportedSocketOperationError",
                ErrorClass::Unsupported,
            ),
            (libc::EAGAIN, "TemporaryError", ErrorClass::Other),
        ];
        for (errno, name, class) in cases {
            let e = os(errno, "127.0.0.1:9");
            assert_eq!((e.name(), e.class()), (name, class), "errno {errno}: {e}");
            assert!(
                e.to_string().contains("127.0.0.1:9") || matches!(e, SocketError::Temporary),
                "{e}"
            );
        }
        // Permission problems on a socket file are local file errors; elsewhere "other".
        assert_eq!(os(libc::EACCES, "/run/x.sock").class(), ErrorClass::LocalIo);
        assert_eq!(os(libc::EACCES, "0.0.0.0:80").class(), ErrorClass::Other);
        assert_eq!(
            os(libc::ENOENT, "/run/x.sock").name(),
            "ServerNotFoundError"
        );
    }

    #[test]
    fn errors_survive_the_io_round_trip() {
        let e = SocketError::ConnectionRefused("[::1]:7".into()).into_io();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        assert!(
            matches!(SocketError::of(&e), Some(SocketError::ConnectionRefused(p)) if p == "[::1]:7")
        );
        let tls = SocketError::SslHandshakeFailed(TlsFailure::Expired);
        assert_eq!(tls.class(), ErrorClass::Tls);
        assert_eq!(tls.clone().to_string(), "TLS: certificate has expired");
        let too_large = SocketError::DatagramTooLarge {
            size: 70000,
            max: 65507,
        };
        assert!(too_large.to_string().contains("70000"));
    }
}
