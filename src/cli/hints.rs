//! What the command line adds to a library error: which flag changes the outcome. The library
//! speaks of its own options; only here are flags named, chosen by the error's typed cause.

use std::fmt;

use crate::bearer::BearerError;
use crate::dns::{DnsError, HostError};
use crate::fs::FileError;
#[cfg(feature = "ftp")]
use crate::ftp::{FtpError, WHOLE_TRANSFER};
use crate::http::NetworkError;
use crate::socket::SocketError;
use crate::tls::TlsFailure;

/// A library error the CLI may add a flag hint to.
pub(crate) trait CliHint {
    /// The flag that changes the outcome, as a short clause; `None` if no flag helps.
    fn cli_hint(&self) -> Option<&'static str> {
        None
    }
}

/// An error as the CLI shows it: the library's message, then the hint.
pub(crate) struct Hinted<'e, E>(pub &'e E);

impl<E: fmt::Display + CliHint> fmt::Display for Hinted<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.cli_hint() {
            Some(hint) => write!(f, "{}; {hint}", self.0),
            None => self.0.fmt(f),
        }
    }
}

impl CliHint for TlsFailure {
    fn cli_hint(&self) -> Option<&'static str> {
        match self {
            TlsFailure::UnknownIssuer => Some("give the CA with --cacert"),
            TlsFailure::PeerAlert(_) => Some("give a client certificate with --cert/--key"),
            _ => None,
        }
    }
}

impl CliHint for NetworkError {
    fn cli_hint(&self) -> Option<&'static str> {
        match self {
            NetworkError::Status { code: 401, .. } => {
                Some("give credentials with -u user:password")
            }
            NetworkError::TransferStalled { .. } => Some("see --speed-limit/--speed-time"),
            NetworkError::TooManyRedirects { .. } => Some("see --max-redirs"),
            NetworkError::InsecureRedirect { .. } => Some("--allow-insecure-redirect permits it"),
            NetworkError::SslHandshakeFailed(tls) => tls.cli_hint(),
            _ => None,
        }
    }
}

#[cfg(feature = "ftp")]
impl CliHint for FtpError {
    fn cli_hint(&self) -> Option<&'static str> {
        match self {
            FtpError::PassiveOverIpv6 => Some("try --active"),
            FtpError::Truncated { .. } => Some("resume with -C -"),
            FtpError::Timeout { what, .. } if *what == WHOLE_TRANSFER => Some("see --max-time"),
            FtpError::Stalled { .. } => Some("see --speed-limit/--speed-time"),
            FtpError::Tls(tls) => tls.cli_hint(),
            _ => None,
        }
    }
}

impl CliHint for SocketError {
    fn cli_hint(&self) -> Option<&'static str> {
        match self {
            SocketError::BroadcastNotAllowed { .. } => Some("allow it with --broadcast"),
            SocketError::SslHandshakeFailed(tls) => tls.cli_hint(),
            _ => None,
        }
    }
}

impl CliHint for DnsError {
    fn cli_hint(&self) -> Option<&'static str> {
        match self {
            DnsError::Timeout { .. } => Some("see --timeout/--tries"),
            _ => None,
        }
    }
}

impl CliHint for crate::transfer::TransferError {
    fn cli_hint(&self) -> Option<&'static str> {
        use crate::transfer::TransferError;
        match self {
            TransferError::Http(e) => e.error.cli_hint(),
            #[cfg(feature = "ftp")]
            TransferError::Ftp(e) => e.cli_hint(),
            _ => None,
        }
    }
}

impl CliHint for HostError {}
impl CliHint for BearerError {}
impl CliHint for FileError {}
impl CliHint for crate::daemon::DaemonError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_follow_the_typed_cause() {
        let e = NetworkError::TooManyRedirects { max: 3 };
        assert_eq!(
            Hinted(&e).to_string(),
            "too many redirects (more than 3); see --max-redirs"
        );
        let e = SocketError::SslHandshakeFailed(TlsFailure::UnknownIssuer);
        assert!(Hinted(&e)
            .to_string()
            .ends_with("; give the CA with --cacert"));
        assert!(
            !e.to_string().contains("--"),
            "the library names no flag: {e}"
        );
        let e = SocketError::Temporary;
        assert_eq!(Hinted(&e).to_string(), e.to_string());
    }
}
