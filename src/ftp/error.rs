//! What can go wrong in an FTP session. QFtp's own taxonomy (HostNotFound, ConnectionRefused,
//! NotConnected, UnknownError) is too coarse for a script to act on, so this keeps its names
//! where they fit and adds what QNetworkReply would say for the rest.

use std::fmt;
use std::io;
use std::time::Duration;

use super::proto::Reply;
use crate::error::{Classify, ErrorClass};
use crate::fs::FileError;
pub use crate::tls::TlsFailure;

/// [`FtpError::Timeout`]'s `what` when the limit on the whole operation passed.
pub const WHOLE_TRANSFER: &str = "within the time limit for the whole operation";

/// A failed FTP operation.
#[derive(Debug)]
#[non_exhaustive]
pub enum FtpError {
    /// Malformed URL, command or argument.
    InvalidRequest(String),
    /// The server's name did not resolve.
    HostNotFound {
        /// The name.
        host: String,
        /// What the resolver said.
        reason: String,
    },
    /// Nothing listens there.
    ConnectionRefused {
        /// The address refused.
        addr: String,
    },
    /// The server closed or reset a connection, or the network failed under it.
    Connection(String),
    /// A deadline passed: `what` says which wait ([`WHOLE_TRANSFER`] for the limit on the
    /// whole operation).
    Timeout {
        /// Which wait.
        what: &'static str,
        /// Its limit.
        after: Duration,
    },
    /// Fewer than `limit` bytes/s over `window`.
    Stalled {
        /// Bytes per second asked for.
        limit: u64,
        /// Over this window.
        window: Duration,
    },
    /// The TLS handshake or certificate check failed.
    Tls(TlsFailure),
    /// The server broke the protocol (garbage reply, unexpected code, bad data address).
    Protocol(String),
    /// USER/PASS refused (530 and friends).
    LoginFailed(Reply),
    /// The server answered a command with a 4xx/5xx reply.
    Refused {
        /// The command (without its arguments' secrets).
        command: String,
        /// The server's reply.
        reply: Reply,
    },
    /// Reading or writing a local file failed.
    LocalFile(FileError),
    /// The download's SHA-256 is not the one expected (the file was not saved).
    ChecksumMismatch {
        /// Expected (hex).
        expected: String,
        /// Received (hex).
        actual: String,
    },
    /// Something this build or server cannot do (FTPS without the `tls` feature, resuming on a
    /// server without REST).
    Unsupported(String),
    /// The server refused EPSV, and PASV cannot name an IPv6 address: only active mode works.
    PassiveOverIpv6,
    /// The data connection ended before the size the server announced: the file is
    /// incomplete (resume from `at`).
    Truncated {
        /// Bytes received in all.
        at: u64,
        /// The size the server announced.
        total: u64,
    },
    /// Cancelled by the caller's token or SIGINT/SIGTERM.
    Cancelled,
}

impl FtpError {
    /// The server's reply behind this error, if a reply was the reason.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            FtpError::LoginFailed(reply) | FtpError::Refused { reply, .. } => Some(reply),
            _ => None,
        }
    }

    /// A stable name for `--json` output.
    pub fn kind(&self) -> &'static str {
        match self {
            FtpError::InvalidRequest(_) => "InvalidRequest",
            FtpError::HostNotFound { .. } => "HostNotFound",
            FtpError::ConnectionRefused { .. } => "ConnectionRefused",
            FtpError::Connection(_) | FtpError::Truncated { .. } => "RemoteHostClosed",
            FtpError::Timeout { .. } => "Timeout",
            FtpError::Stalled { .. } => "TransferStalled",
            FtpError::Tls(_) => "SslHandshakeFailed",
            FtpError::Protocol(_) => "ProtocolFailure",
            FtpError::LoginFailed(_) => "LoginFailed",
            FtpError::Refused { .. } => "CommandFailed",
            FtpError::LocalFile(_) => "LocalFile",
            FtpError::ChecksumMismatch { .. } => "ChecksumMismatch",
            FtpError::Unsupported(_) | FtpError::PassiveOverIpv6 => "Unsupported",
            FtpError::Cancelled => "OperationCanceled",
        }
    }
}

impl fmt::Display for FtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FtpError::InvalidRequest(why) => f.write_str(why),
            FtpError::HostNotFound { host, reason } => {
                write!(f, "host {host} not found: {reason}")
            }
            FtpError::ConnectionRefused { addr } => {
                write!(
                    f,
                    "connection to {addr} refused (is the FTP server running?)"
                )
            }
            FtpError::Connection(why) => f.write_str(why),
            FtpError::Timeout { what, after } => {
                write!(f, "timed out {what} (after {:.1} s)", after.as_secs_f64())
            }
            FtpError::Stalled { limit, window } => write!(
                f,
                "transfer stalled: under {limit} bytes/s for {} s",
                window.as_secs()
            ),
            FtpError::Tls(failure) => write!(f, "TLS: {failure}"),
            FtpError::Protocol(why) => write!(f, "FTP protocol error: {why}"),
            FtpError::LoginFailed(reply) => {
                write!(f, "login refused: {reply} (check user name and password)")
            }
            FtpError::Refused { command, reply } => write!(f, "{command}: {reply}"),
            FtpError::LocalFile(e) => e.fmt(f),
            FtpError::ChecksumMismatch { expected, actual } => write!(
                f,
                "SHA-256 mismatch: expected {expected}, got {actual} (the file was not saved)"
            ),
            FtpError::Unsupported(why) => f.write_str(why),
            FtpError::PassiveOverIpv6 => f.write_str(
                "the server refused EPSV, and PASV cannot work over IPv6 (active mode can)",
            ),
            FtpError::Truncated { at, total } => {
                write!(f, "data connection ended at byte {at} of {total}")
            }
            FtpError::Cancelled => f.write_str("cancelled"),
        }
    }
}

impl std::error::Error for FtpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FtpError::LocalFile(e) => Some(e),
            FtpError::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl Classify for FtpError {
    fn class(&self) -> ErrorClass {
        match self {
            FtpError::InvalidRequest(_) => ErrorClass::Usage,
            FtpError::HostNotFound { .. } => ErrorClass::HostNotFound,
            FtpError::ConnectionRefused { .. }
            | FtpError::Connection(_)
            | FtpError::Truncated { .. } => ErrorClass::Connection,
            FtpError::Timeout { .. } | FtpError::Stalled { .. } => ErrorClass::Timeout,
            FtpError::Tls(_) => ErrorClass::Tls,
            FtpError::Protocol(_) => ErrorClass::Protocol,
            FtpError::LoginFailed(_) | FtpError::Refused { .. } => ErrorClass::ServerRefused,
            FtpError::LocalFile(_) => ErrorClass::LocalIo,
            FtpError::ChecksumMismatch { .. } => ErrorClass::ChecksumMismatch,
            FtpError::Unsupported(_) | FtpError::PassiveOverIpv6 => ErrorClass::Unsupported,
            FtpError::Cancelled => ErrorClass::Cancelled,
        }
    }
}

impl From<FileError> for FtpError {
    fn from(e: FileError) -> Self {
        FtpError::LocalFile(e)
    }
}

/// Why a wait on a socket ended without I/O. Travels inside `io::Error` (through rustls'
/// stream) and comes back out in [`FtpError::from_io`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Cancelled,
    Timeout { what: &'static str, after: Duration },
    Stalled { limit: u64, window: Duration },
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        FtpError::from(*self).fmt(f)
    }
}

impl std::error::Error for Stop {}

impl From<Stop> for io::Error {
    fn from(stop: Stop) -> io::Error {
        let kind = match stop {
            Stop::Cancelled => crate::cancel::CANCELLED,
            _ => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, stop)
    }
}

impl From<Stop> for FtpError {
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::Cancelled => FtpError::Cancelled,
            Stop::Timeout { what, after } => FtpError::Timeout { what, after },
            Stop::Stalled { limit, window } => FtpError::Stalled { limit, window },
        }
    }
}

impl FtpError {
    /// An I/O error on the `what` connection ("control connection", "data connection").
    pub(crate) fn from_io(err: io::Error, what: &str) -> FtpError {
        if let Some(stop) = err.get_ref().and_then(|e| e.downcast_ref::<Stop>()) {
            return (*stop).into();
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = crate::tls::failure_of_io(&err) {
            return FtpError::Tls(tls);
        }
        if let Some(crate::socket::SocketError::InvalidEndpoint(why)) =
            crate::socket::SocketError::of(&err)
        {
            return FtpError::InvalidRequest(why.clone());
        }
        use io::ErrorKind as K;
        match err.kind() {
            K::UnexpectedEof => FtpError::Connection(format!("server closed the {what}")),
            K::ConnectionReset | K::ConnectionAborted => {
                FtpError::Connection(format!("server reset the {what}"))
            }
            K::BrokenPipe => {
                FtpError::Connection(format!("server closed the {what} while we were sending"))
            }
            _ => FtpError::Connection(format!("{what}: {err}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_survive_the_trip_through_io() {
        let e = FtpError::from_io(
            Stop::Timeout {
                what: "waiting for a reply",
                after: Duration::from_secs(2),
            }
            .into(),
            "control connection",
        );
        assert_eq!(e.class(), ErrorClass::Timeout);
        assert_eq!(e.to_string(), "timed out waiting for a reply (after 2.0 s)");
        let c = FtpError::from_io(Stop::Cancelled.into(), "data connection");
        assert_eq!(c.class(), ErrorClass::Cancelled);
        let eof = FtpError::from_io(io::ErrorKind::UnexpectedEof.into(), "control connection");
        assert_eq!(eof.to_string(), "server closed the control connection");
        assert_eq!(eof.class(), ErrorClass::Connection);
    }

    #[test]
    fn replies_are_server_refusals() {
        let e = FtpError::Refused {
            command: "RETR fw.bin".into(),
            reply: Reply {
                code: 550,
                text: "Failed to open file.".into(),
            },
        };
        assert_eq!(e.class(), ErrorClass::ServerRefused);
        assert_eq!(e.reply().map(|r| r.code), Some(550));
        assert_eq!(e.to_string(), "RETR fw.bin: 550 Failed to open file.");
        let login = FtpError::LoginFailed(Reply {
            code: 530,
            text: "Login incorrect.".into(),
        });
        assert_eq!(login.class().exit_code(), 8);
    }
}
