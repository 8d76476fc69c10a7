//! DNS errors in QDnsLookup::Error's taxonomy, and QHostInfo's for system lookups.

use std::fmt;
use std::time::Duration;

use crate::error::{Classify, ErrorClass};

/// A failed typed lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnsError {
    /// The name or type asked for is not valid (bad name, unknown type).
    InvalidRequest(String),
    /// No usable configuration or a local failure (no servers, sockets unavailable).
    Resolver(String),
    /// Aborted by the caller or a signal.
    Cancelled,
    /// No server answered within the timeout, over all tries.
    Timeout {
        /// How many servers were asked.
        servers: usize,
        /// Tries per server.
        tries: u8,
        /// The wait for each answer.
        timeout: Duration,
    },
    /// Every server refused the connection or was unreachable (nothing listens on port 53).
    Unreachable(String),
    /// A server answered with something that is not a valid reply.
    InvalidReply(String),
    /// SERVFAIL (or another server-side failure) from every server tried.
    ServerFailure {
        /// The name asked for.
        name: String,
    },
    /// REFUSED.
    ServerRefused {
        /// The name asked for.
        name: String,
    },
    /// NXDOMAIN: the name does not exist.
    NotFound {
        /// The name asked for.
        name: String,
    },
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::InvalidRequest(why) => write!(f, "invalid request: {why}"),
            DnsError::Resolver(why) => write!(f, "resolver error: {why}"),
            DnsError::Cancelled => f.write_str("lookup cancelled"),
            DnsError::Timeout {
                servers,
                tries,
                timeout,
            } => write!(
                f,
                "timed out: no answer from {servers} server(s), {tries} tries of {} s each (resolv.conf options timeout:/attempts:)",
                timeout.as_secs_f64()
            ),
            DnsError::Unreachable(why) => write!(f, "no DNS server reachable: {why}"),
            DnsError::InvalidReply(why) => write!(f, "invalid reply: {why}"),
            DnsError::ServerFailure { name } => write!(f, "{} for {name}", self.reason()),
            DnsError::ServerRefused { name } => write!(f, "{} {name}", self.reason()),
            DnsError::NotFound { name } => write!(f, "{name}: {}", self.reason()),
        }
    }
}

impl std::error::Error for DnsError {}

impl DnsError {
    /// What went wrong without the name looked up, for a message that names it already.
    pub fn reason(&self) -> String {
        match self {
            DnsError::ServerFailure { .. } => "server failure (SERVFAIL)".into(),
            DnsError::ServerRefused { .. } => "server refused (REFUSED)".into(),
            DnsError::NotFound { .. } => "no such name (NXDOMAIN)".into(),
            other => other.to_string(),
        }
    }

    /// The QDnsLookup::Error name (`--json`'s `error.kind`).
    pub fn name(&self) -> &'static str {
        match self {
            DnsError::InvalidRequest(_) => "InvalidRequestError",
            DnsError::Resolver(_) => "ResolverError",
            DnsError::Cancelled => "OperationCancelledError",
            DnsError::Timeout { .. } => "TimeoutError",
            DnsError::Unreachable(_) => "ResolverError",
            DnsError::InvalidReply(_) => "InvalidReplyError",
            DnsError::ServerFailure { .. } => "ServerFailureError",
            DnsError::ServerRefused { .. } => "ServerRefusedError",
            DnsError::NotFound { .. } => "NotFoundError",
        }
    }
}

impl Classify for DnsError {
    fn class(&self) -> ErrorClass {
        match self {
            DnsError::InvalidRequest(_) => ErrorClass::Usage,
            DnsError::Resolver(_) => ErrorClass::Other,
            DnsError::Cancelled => ErrorClass::Cancelled,
            DnsError::Timeout { .. } => ErrorClass::Timeout,
            DnsError::Unreachable(_) => ErrorClass::Connection,
            DnsError::InvalidReply(_) => ErrorClass::Protocol,
            DnsError::ServerFailure { .. }
            | DnsError::ServerRefused { .. }
            | DnsError::NotFound { .. } => ErrorClass::ServerRefused,
        }
    }
}

/// A failed system (getaddrinfo/getnameinfo) lookup, QHostInfo's errors.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostError {
    /// The name is not valid to look up.
    InvalidName(String),
    /// The resolver says the host does not exist (or has no address of the family asked).
    HostNotFound {
        /// The name asked for.
        name: String,
        /// What the resolver said.
        reason: String,
    },
    /// Anything else (temporary failure, resolver unreachable, out of memory…).
    Unknown {
        /// The name asked for.
        name: String,
        /// What the resolver said.
        reason: String,
    },
    /// Aborted by the caller or a signal.
    Cancelled,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::InvalidName(why) => write!(f, "invalid host name: {why}"),
            HostError::HostNotFound { name, reason } => {
                write!(f, "host not found: {name}: {reason}")
            }
            HostError::Unknown { name, reason } => write!(f, "lookup of {name} failed: {reason}"),
            HostError::Cancelled => f.write_str("lookup cancelled"),
        }
    }
}

impl std::error::Error for HostError {}

impl HostError {
    /// QHostInfo's error name (`HostNotFound`, `UnknownError`…), for `--json`.
    pub fn name(&self) -> &'static str {
        match self {
            HostError::InvalidName(_) => "InvalidName",
            HostError::HostNotFound { .. } => "HostNotFound",
            HostError::Unknown { .. } => "UnknownError",
            HostError::Cancelled => "Cancelled",
        }
    }
}

impl Classify for HostError {
    fn class(&self) -> ErrorClass {
        match self {
            HostError::InvalidName(_) => ErrorClass::Usage,
            HostError::HostNotFound { .. } => ErrorClass::HostNotFound,
            HostError::Unknown { .. } => ErrorClass::Other,
            HostError::Cancelled => ErrorClass::Cancelled,
        }
    }
}
