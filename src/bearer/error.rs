//! Bearer management errors.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::error::{Classify, ErrorClass};

/// What went wrong managing bearers.
#[derive(Debug)]
#[non_exhaustive]
pub enum BearerError {
    /// The rtnetlink socket could not be opened or read (no netlink in this kernel or sandbox).
    Netlink(io::Error),
    /// The kernel refused a request (a negative errno in NLMSG_ERROR).
    KernelRefused {
        /// What was asked (e.g. "link dump").
        request: &'static str,
        /// The errno the kernel answered.
        errno: i32,
    },
    /// A netlink message was malformed.
    Malformed(String),
    /// The first full picture (or an answer) did not arrive in time.
    Timeout(Duration),
    /// The running backends cannot do this (e.g. start an interface with netlink alone).
    Unsupported(String),
    /// A daemon on the D-Bus system bus (ConnMan, oFono) failed or refused.
    DBus {
        /// The daemon's bus name.
        service: &'static str,
        /// What it said.
        message: String,
    },
    /// No configuration has this identifier.
    UnknownConfiguration(String),
    /// A SIGINT/SIGTERM arrived.
    Interrupted,
    /// The event loop failed.
    Reactor(io::Error),
}

impl fmt::Display for BearerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BearerError::Netlink(e) => write!(f, "rtnetlink socket: {e}"),
            BearerError::KernelRefused { request, errno } => write!(
                f,
                "the kernel refused the {request}: {}",
                io::Error::from_raw_os_error(errno.saturating_abs())
            ),
            BearerError::Malformed(what) => write!(f, "malformed netlink message: {what}"),
            BearerError::Timeout(after) => write!(
                f,
                "no answer from the kernel after {:.1} s",
                after.as_secs_f64()
            ),
            BearerError::Unsupported(what) => f.write_str(what),
            BearerError::DBus { service, message } => write!(f, "{service}: {message}"),
            BearerError::UnknownConfiguration(id) => {
                write!(
                    f,
                    "no configuration \"{id}\" (boardnet bearer list shows them)"
                )
            }
            BearerError::Interrupted => f.write_str("interrupted"),
            BearerError::Reactor(e) => write!(f, "event loop: {e}"),
        }
    }
}

impl std::error::Error for BearerError {}

impl Classify for BearerError {
    fn class(&self) -> ErrorClass {
        match self {
            BearerError::Netlink(e) if e.raw_os_error() == Some(libc::EPROTONOSUPPORT) => {
                ErrorClass::Unsupported
            }
            BearerError::Unsupported(_) => ErrorClass::Unsupported,
            BearerError::UnknownConfiguration(_) => ErrorClass::Usage,
            BearerError::DBus { .. } => ErrorClass::ServerRefused,
            BearerError::Malformed(_) => ErrorClass::Protocol,
            BearerError::Timeout(_) => ErrorClass::Timeout,
            BearerError::Interrupted => ErrorClass::Cancelled,
            BearerError::Netlink(_)
            | BearerError::KernelRefused { .. }
            | BearerError::Reactor(_) => ErrorClass::Other,
        }
    }
}
