//! The one failure taxonomy of the whole tool.
//!
//! Every module has its own typed error (HTTP's [`crate::http::NetworkError`], later DNS, sockets,
//! bearer, FTP); each maps into an [`ErrorClass`], and the CLI turns the class into the process
//! exit code. Init scripts branch on these numbers, so they never change meaning.

use std::fmt;

/// What kind of failure happened, independent of the protocol. The discriminant is the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ErrorClass {
    /// Anything not covered below.
    Other = 1,
    /// The command line or another input was malformed (bad URL, unknown flag, bad header).
    Usage = 2,
    /// A host name did not resolve.
    HostNotFound = 3,
    /// Connection refused, failed, reset or closed early by the peer.
    Connection = 4,
    /// A deadline expired (connect, whole transfer, stalled transfer, lookup).
    Timeout = 5,
    /// TLS handshake or certificate verification failed.
    Tls = 6,
    /// The peer's reply was malformed or unexpected.
    Protocol = 7,
    /// The server understood and said no (HTTP 4xx/5xx, FTP 4xx/5xx, DNS NXDOMAIN/SERVFAIL/REFUSED).
    ServerRefused = 8,
    /// Reading or writing a local file failed.
    LocalIo = 9,
    /// Data arrived but its checksum did not match the expected one.
    ChecksumMismatch = 10,
    /// The kernel or this build lacks what was asked for.
    Unsupported = 11,
    /// The operation was interrupted (SIGINT/SIGTERM) or cancelled by the caller.
    Cancelled = 12,
}

impl ErrorClass {
    /// All classes in exit-code order (for documentation and tests).
    pub const ALL: [ErrorClass; 12] = [
        ErrorClass::Other,
        ErrorClass::Usage,
        ErrorClass::HostNotFound,
        ErrorClass::Connection,
        ErrorClass::Timeout,
        ErrorClass::Tls,
        ErrorClass::Protocol,
        ErrorClass::ServerRefused,
        ErrorClass::LocalIo,
        ErrorClass::ChecksumMismatch,
        ErrorClass::Unsupported,
        ErrorClass::Cancelled,
    ];

    /// The process exit code for this class.
    pub fn exit_code(self) -> u8 {
        self as u8
    }

    /// The class whose exit code is `code` (as a reply's `error.code` or a child's exit
    /// status carries it).
    pub fn from_exit_code(code: i64) -> Option<ErrorClass> {
        ErrorClass::ALL
            .into_iter()
            .find(|k| i64::from(k.exit_code()) == code)
    }

    /// A short stable name, used as `error.class` in `--json` output.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Other => "other",
            ErrorClass::Usage => "usage",
            ErrorClass::HostNotFound => "host-not-found",
            ErrorClass::Connection => "connection",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Tls => "tls",
            ErrorClass::Protocol => "protocol",
            ErrorClass::ServerRefused => "server-refused",
            ErrorClass::LocalIo => "local-io",
            ErrorClass::ChecksumMismatch => "checksum-mismatch",
            ErrorClass::Unsupported => "unsupported",
            ErrorClass::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// User input quoted in a message, bounded: text up to [`Quoted::MAX`] bytes is shown whole,
/// longer text as its first bytes and its length — an error about a 1 MB name must not print
/// 1 MB. Control characters are escaped so a message stays one line.
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(pub &'a str);

/// [`Quoted`] without the quotation marks (a URL or name that leads a message).
#[derive(Debug, Clone, Copy)]
pub struct Bounded<'a>(pub &'a str);

impl Quoted<'_> {
    /// Bytes of input shown before it is cut.
    pub const MAX: usize = 80;
}

fn write_bounded(f: &mut fmt::Formatter<'_>, text: &str, quote: &str) -> fmt::Result {
    let mut end = text.len().min(Quoted::MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    f.write_str(quote)?;
    for c in text[..end].chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            write!(f, "{c}")?;
        }
    }
    if end < text.len() {
        write!(f, "…{quote} ({} bytes)", text.len())
    } else {
        f.write_str(quote)
    }
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_bounded(f, self.0, "\"")
    }
}

impl fmt::Display for Bounded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_bounded(f, self.0, "")
    }
}

/// Implemented by every module error so callers (and the CLI) can branch on the class.
pub trait Classify {
    /// The class (and exit code) of this error.
    fn class(&self) -> ErrorClass;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_documented_table() {
        let codes: Vec<u8> = ErrorClass::ALL.iter().map(|c| c.exit_code()).collect();
        assert_eq!(codes, (1..=12).collect::<Vec<u8>>());
        let mut names: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 12, "class names must be distinct");
    }

    #[test]
    fn quoted_input_is_bounded_and_one_line() {
        assert_eq!(Quoted("abc").to_string(), "\"abc\"");
        assert_eq!(Quoted("a\nb").to_string(), "\"a\\nb\"");
        let long = "é".repeat(1 << 19);
        let shown = Quoted(&long).to_string();
        assert!(shown.len() < 200, "{}", shown.len());
        assert!(shown.ends_with("…\" (1048576 bytes)"), "{shown}");
        assert_eq!(Bounded("abc").to_string(), "abc");
        assert!(Bounded(&long).to_string().ends_with("é… (1048576 bytes)"));
    }
}
