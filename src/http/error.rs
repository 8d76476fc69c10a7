//! `NetworkError`: what went wrong with a request, in QNetworkReply::NetworkError's taxonomy,
//! with messages that say what to check.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::error::{Classify, ErrorClass};
use crate::fs::FileError;

use super::url::UrlError;
pub use crate::tls::TlsFailure;

/// Which deadline expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// `--connect-timeout`: TCP connect plus proxy and TLS set-up.
    Connect,
    /// `--max-time`: the whole operation including redirects and the body.
    Total,
    /// Not one byte sent or received within the idle timeout.
    Idle,
}

/// A failed request. HTTP 4xx/5xx replies are *not* errors of [`Client::send`](super::Client):
/// they are replies; [`NetworkError::from_status`] gives the error a caller may want to raise.
#[derive(Debug)]
#[non_exhaustive]
pub enum NetworkError {
    /// The URL or another part of the request is malformed.
    InvalidRequest(String),
    /// The URL's scheme is not http or https.
    ProtocolUnknown(String),
    /// The host name did not resolve.
    HostNotFound {
        /// The name.
        host: String,
        /// What the resolver said.
        reason: String,
    },
    /// Nothing listens on the port (RST to our SYN).
    ConnectionRefused {
        /// The address that refused.
        addr: String,
    },
    /// The server closed the connection before the reply was complete.
    RemoteHostClosed(String),
    /// A deadline expired.
    Timeout {
        /// Which limit.
        phase: TimeoutPhase,
        /// The limit, when known.
        after: Option<Duration>,
    },
    /// The transfer was slower than `--speed-limit` for `--speed-time`.
    TransferStalled {
        /// Bytes per second asked for.
        limit: u64,
        /// Over this window.
        window: Duration,
    },
    /// Cancelled by [`CancelToken::cancel`](crate::cancel::CancelToken) or SIGINT/SIGTERM.
    OperationCanceled,
    /// TLS handshake or certificate verification failed.
    SslHandshakeFailed(TlsFailure),
    /// Network unreachable, no route, interface down — often transient on a board.
    TemporaryNetworkFailure(String),
    /// Other socket-level failures (reset, broken pipe…).
    NetworkFailure(String),
    /// The proxy refused the connection.
    ProxyConnectionRefused {
        /// The proxy's address.
        proxy: String,
    },
    /// The proxy failed or answered something unexpected.
    ProxyFailure(String),
    /// The proxy wants credentials (HTTP 407 or SOCKS authentication failure); `rejected`:
    /// it refused the ones given.
    ProxyAuthenticationRequired {
        /// Credentials were given and the proxy refused them.
        rejected: bool,
    },
    /// The reply is malformed: bad status line, bad chunking, oversized header block…
    ProtocolFailure(String),
    /// More than `--max-redirs` redirects.
    TooManyRedirects {
        /// The limit.
        max: u32,
    },
    /// A redirect from https to http, refused unless explicitly allowed.
    InsecureRedirect {
        /// The https:// URL.
        from: String,
        /// The http:// URL it pointed to.
        to: String,
    },
    /// A redirect that needs to send the body again, which was a one-shot stream.
    RedirectNeedsRewind {
        /// The redirect's status code.
        status: u16,
    },
    /// An authentication challenge (401/407) that needs the body sent again, which was a
    /// one-shot stream.
    AuthNeedsRewind {
        /// 401 or 407.
        status: u16,
    },
    /// The reply had this HTTP status (4xx/5xx), mapped from [`NetworkError::from_status`].
    Status {
        /// The status code.
        code: u16,
        /// Its QNetworkReply class.
        kind: StatusKind,
    },
    /// Reading an upload or writing a download failed locally.
    LocalFile(FileError),
    /// The downloaded data did not have the expected SHA-256.
    ChecksumMismatch {
        /// Expected (hex).
        expected: String,
        /// Received (hex).
        actual: String,
    },
    /// The request asked for a feature this build lacks (e.g. https without the `tls` feature).
    Unsupported(String),
}

/// QNetworkReply's content and server error codes, by HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    /// 400 Bad Request.
    ProtocolInvalidOperation,
    /// 401 Unauthorized.
    AuthenticationRequired,
    /// 403 Forbidden.
    ContentAccessDenied,
    /// 404 Not Found.
    ContentNotFound,
    /// 405 Method Not Allowed.
    ContentOperationNotPermitted,
    /// 407 Proxy Authentication Required.
    ProxyAuthenticationRequired,
    /// 409 Conflict.
    ContentConflict,
    /// 410 Gone.
    ContentGone,
    /// Another 4xx.
    UnknownContent,
    /// 500 Internal Server Error.
    InternalServerError,
    /// 501 Not Implemented.
    OperationNotImplemented,
    /// 503 Service Unavailable.
    ServiceUnavailable,
    /// Another 5xx.
    UnknownServer,
}

impl StatusKind {
    fn of(code: u16) -> Option<StatusKind> {
        Some(match code {
            400 => StatusKind::ProtocolInvalidOperation,
            401 => StatusKind::AuthenticationRequired,
            403 => StatusKind::ContentAccessDenied,
            404 => StatusKind::ContentNotFound,
            405 => StatusKind::ContentOperationNotPermitted,
            407 => StatusKind::ProxyAuthenticationRequired,
            409 => StatusKind::ContentConflict,
            410 => StatusKind::ContentGone,
            402..=499 => StatusKind::UnknownContent,
            500 => StatusKind::InternalServerError,
            501 => StatusKind::OperationNotImplemented,
            503 => StatusKind::ServiceUnavailable,
            502..=599 => StatusKind::UnknownServer,
            _ => return None,
        })
    }

    fn hint(self) -> &'static str {
        match self {
            StatusKind::ProtocolInvalidOperation => "bad request",
            StatusKind::AuthenticationRequired => "authentication required",
            StatusKind::ContentAccessDenied => "access denied",
            StatusKind::ContentNotFound => "not found",
            StatusKind::ContentOperationNotPermitted => "method not allowed",
            StatusKind::ProxyAuthenticationRequired => "proxy authentication required",
            StatusKind::ContentConflict => "conflict",
            StatusKind::ContentGone => "gone",
            StatusKind::UnknownContent => "client error",
            StatusKind::InternalServerError => "internal server error",
            StatusKind::OperationNotImplemented => "not implemented",
            StatusKind::ServiceUnavailable => "service unavailable (retry later)",
            StatusKind::UnknownServer => "server error",
        }
    }
}

impl StatusKind {
    /// The QNetworkReply::NetworkError name.
    pub fn name(self) -> &'static str {
        match self {
            StatusKind::ProtocolInvalidOperation => "ProtocolInvalidOperation",
            StatusKind::AuthenticationRequired => "AuthenticationRequired",
            StatusKind::ContentAccessDenied => "ContentAccessDenied",
            StatusKind::ContentNotFound => "ContentNotFound",
            StatusKind::ContentOperationNotPermitted => "ContentOperationNotPermitted",
            StatusKind::ProxyAuthenticationRequired => "ProxyAuthenticationRequired",
            StatusKind::ContentConflict => "ContentConflict",
            StatusKind::ContentGone => "ContentGone",
            StatusKind::UnknownContent => "UnknownContent",
            StatusKind::InternalServerError => "InternalServerError",
            StatusKind::OperationNotImplemented => "OperationNotImplemented",
            StatusKind::ServiceUnavailable => "ServiceUnavailable",
            StatusKind::UnknownServer => "UnknownServer",
        }
    }
}

impl NetworkError {
    /// The variant's name in QNetworkReply::NetworkError style (`--json`'s `error.kind`).
    pub fn name(&self) -> &'static str {
        match self {
            NetworkError::InvalidRequest(_) => "InvalidRequest",
            NetworkError::ProtocolUnknown(_) => "ProtocolUnknown",
            NetworkError::HostNotFound { .. } => "HostNotFound",
            NetworkError::ConnectionRefused { .. } => "ConnectionRefused",
            NetworkError::RemoteHostClosed(_) => "RemoteHostClosed",
            NetworkError::Timeout { .. } => "Timeout",
            NetworkError::TransferStalled { .. } => "TransferStalled",
            NetworkError::OperationCanceled => "OperationCanceled",
            NetworkError::SslHandshakeFailed(_) => "SslHandshakeFailed",
            NetworkError::TemporaryNetworkFailure(_) => "TemporaryNetworkFailure",
            NetworkError::NetworkFailure(_) => "NetworkFailure",
            NetworkError::ProxyConnectionRefused { .. } => "ProxyConnectionRefused",
            NetworkError::ProxyFailure(_) => "ProxyFailure",
            NetworkError::ProxyAuthenticationRequired { .. } => "ProxyAuthenticationRequired",
            NetworkError::ProtocolFailure(_) => "ProtocolFailure",
            NetworkError::TooManyRedirects { .. } => "TooManyRedirects",
            NetworkError::InsecureRedirect { .. } => "InsecureRedirect",
            NetworkError::RedirectNeedsRewind { .. } => "RedirectNeedsRewind",
            NetworkError::AuthNeedsRewind { .. } => "AuthNeedsRewind",
            NetworkError::Status { kind, .. } => kind.name(),
            NetworkError::LocalFile(_) => "LocalFileError",
            NetworkError::ChecksumMismatch { .. } => "ChecksumMismatch",
            NetworkError::Unsupported(_) => "Unsupported",
        }
    }

    /// The error a 4xx/5xx status stands for; `None` for other statuses.
    pub fn from_status(code: u16) -> Option<NetworkError> {
        StatusKind::of(code).map(|kind| NetworkError::Status { code, kind })
    }

    /// Recover a `NetworkError` carried through an `io::Error` (by [`Reply`](super::Reply)'s
    /// `Read` impl), or classify a plain I/O error.
    pub fn from_io(err: io::Error) -> NetworkError {
        if err.get_ref().is_some_and(|e| e.is::<NetworkError>()) {
            if let Some(inner) = err.into_inner() {
                if let Ok(e) = inner.downcast::<NetworkError>() {
                    return *e;
                }
            }
            return NetworkError::NetworkFailure("unknown error".into());
        }
        super::transport::classify_io(err)
    }
}

impl From<UrlError> for NetworkError {
    fn from(e: UrlError) -> Self {
        match e {
            UrlError::UnsupportedScheme(s) => NetworkError::ProtocolUnknown(s),
            other => NetworkError::InvalidRequest(other.to_string()),
        }
    }
}

impl From<FileError> for NetworkError {
    fn from(e: FileError) -> Self {
        NetworkError::LocalFile(e)
    }
}

impl fmt::Display for NetworkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkError::InvalidRequest(why) => write!(f, "invalid request: {why}"),
            NetworkError::ProtocolUnknown(s) => {
                write!(f, "unsupported protocol \"{s}\" (use http:// or https://)")
            }
            NetworkError::HostNotFound { host, reason } => {
                write!(f, "host not found: {host}: {reason}")
            }
            NetworkError::ConnectionRefused { addr } => write!(
                f,
                "connection refused by {addr} (is the server running and listening on that port?)"
            ),
            NetworkError::RemoteHostClosed(when) => {
                write!(f, "server closed the connection {when}")
            }
            NetworkError::Timeout { phase, after } => {
                let (what, within) = match phase {
                    TimeoutPhase::Connect => ("connecting", "within"),
                    TimeoutPhase::Total => ("transfer did not finish", "within"),
                    TimeoutPhase::Idle => ("not one byte sent or received", "for"),
                };
                match after {
                    Some(d) => write!(f, "timed out: {what} {within} {}", fmt_duration(*d)),
                    None => write!(f, "timed out: {what}"),
                }
            }
            NetworkError::TransferStalled { limit, window } => write!(
                f,
                "transfer stalled: below {limit} bytes/s for {}",
                fmt_duration(*window)
            ),
            NetworkError::OperationCanceled => f.write_str("operation cancelled"),
            NetworkError::SslHandshakeFailed(why) => write!(f, "TLS: {why}"),
            NetworkError::TemporaryNetworkFailure(why) => {
                write!(f, "network unavailable: {why} (check the link and routes)")
            }
            NetworkError::NetworkFailure(why) => write!(f, "network error: {why}"),
            NetworkError::ProxyConnectionRefused { proxy } => {
                write!(f, "proxy {proxy} refused the connection")
            }
            NetworkError::ProxyFailure(why) => write!(f, "proxy failure: {why}"),
            NetworkError::ProxyAuthenticationRequired { rejected: false } => f.write_str(
                "the proxy requires authentication (give user:password in the proxy URL)",
            ),
            NetworkError::ProxyAuthenticationRequired { rejected: true } => {
                f.write_str("the proxy refused the user name and password given for it")
            }
            NetworkError::ProtocolFailure(why) => write!(f, "protocol error: {why}"),
            NetworkError::TooManyRedirects { max } => {
                write!(f, "too many redirects (more than {max})")
            }
            NetworkError::InsecureRedirect { from, to } => write!(
                f,
                "refused redirect from {from} to insecure {to}"
            ),
            NetworkError::RedirectNeedsRewind { status } => write!(
                f,
                "HTTP {status} redirect must resend the request body, but it was a one-time stream"
            ),
            NetworkError::AuthNeedsRewind { status } => write!(
                f,
                "HTTP {status}: answering the authentication challenge means sending the body again, but it was a one-time stream (send a file instead)"
            ),
            NetworkError::Status { code, kind } => write!(f, "HTTP {code}: {}", kind.hint()),
            NetworkError::LocalFile(e) => e.fmt(f),
            NetworkError::ChecksumMismatch { expected, actual } => write!(
                f,
                "SHA-256 mismatch: expected {expected}, got {actual} (the .part file was removed: its data is wrong)"
            ),
            NetworkError::Unsupported(why) => write!(f, "not supported: {why}"),
        }
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

impl std::error::Error for NetworkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NetworkError::LocalFile(e) => Some(e),
            _ => None,
        }
    }
}

impl Classify for NetworkError {
    fn class(&self) -> ErrorClass {
        match self {
            NetworkError::InvalidRequest(_) => ErrorClass::Usage,
            NetworkError::ProtocolUnknown(_) => ErrorClass::Usage,
            NetworkError::Unsupported(_) => ErrorClass::Unsupported,
            NetworkError::HostNotFound { .. } => ErrorClass::HostNotFound,
            NetworkError::ConnectionRefused { .. }
            | NetworkError::RemoteHostClosed(_)
            | NetworkError::TemporaryNetworkFailure(_)
            | NetworkError::NetworkFailure(_)
            | NetworkError::ProxyConnectionRefused { .. }
            | NetworkError::ProxyFailure(_) => ErrorClass::Connection,
            NetworkError::Timeout { .. } | NetworkError::TransferStalled { .. } => {
                ErrorClass::Timeout
            }
            NetworkError::OperationCanceled => ErrorClass::Cancelled,
            NetworkError::SslHandshakeFailed(TlsFailure::Config(_)) => ErrorClass::Usage,
            NetworkError::SslHandshakeFailed(_) => ErrorClass::Tls,
            NetworkError::ProtocolFailure(_)
            | NetworkError::TooManyRedirects { .. }
            | NetworkError::InsecureRedirect { .. }
            | NetworkError::RedirectNeedsRewind { .. }
            | NetworkError::AuthNeedsRewind { .. } => ErrorClass::Protocol,
            NetworkError::ProxyAuthenticationRequired { .. } | NetworkError::Status { .. } => {
                ErrorClass::ServerRefused
            }
            NetworkError::LocalFile(_) => ErrorClass::LocalIo,
            NetworkError::ChecksumMismatch { .. } => ErrorClass::ChecksumMismatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_qt_kinds_and_exit_8() {
        for (code, kind) in [
            (400, StatusKind::ProtocolInvalidOperation),
            (401, StatusKind::AuthenticationRequired),
            (403, StatusKind::ContentAccessDenied),
            (404, StatusKind::ContentNotFound),
            (409, StatusKind::ContentConflict),
            (410, StatusKind::ContentGone),
            (418, StatusKind::UnknownContent),
            (500, StatusKind::InternalServerError),
            (503, StatusKind::ServiceUnavailable),
            (599, StatusKind::UnknownServer),
        ] {
            let e = NetworkError::from_status(code).unwrap();
            assert!(
                matches!(e, NetworkError::Status { kind: k, .. } if k == kind),
                "{code}"
            );
            assert_eq!(e.class(), ErrorClass::ServerRefused);
        }
        assert!(NetworkError::from_status(200).is_none());
        assert!(NetworkError::from_status(304).is_none());
    }

    #[test]
    fn io_round_trip_keeps_the_error() {
        let io = io::Error::other(NetworkError::TooManyRedirects { max: 3 });
        assert!(matches!(
            NetworkError::from_io(io),
            NetworkError::TooManyRedirects { max: 3 }
        ));
    }

    #[test]
    fn messages_name_the_cause() {
        let e = NetworkError::SslHandshakeFailed(TlsFailure::HostnameMismatch {
            host: "wrong.example".into(),
        });
        assert_eq!(
            e.to_string(),
            "TLS: certificate is not valid for host name \"wrong.example\""
        );
        assert_eq!(e.class(), ErrorClass::Tls);
        let e = NetworkError::Timeout {
            phase: TimeoutPhase::Connect,
            after: Some(Duration::from_millis(1500)),
        };
        assert_eq!(e.to_string(), "timed out: connecting within 1.500 s");
    }
}
