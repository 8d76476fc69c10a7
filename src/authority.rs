//! `host[:port]` as URLs write it — one parser for every URL the crate reads (http(s)://,
//! ftp(s)://, proxy URLs, DNS server addresses), so a port out of range is an error everywhere
//! instead of quietly becoming the scheme's default.

use std::fmt;

use crate::error::Quoted;

/// The host and port of a URL's authority (after any `user:password@`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Authority<'a> {
    /// The host without IPv6 brackets.
    pub(crate) host: &'a str,
    /// Written as `[…]`: an IPv6 literal.
    pub(crate) bracketed: bool,
    /// `None` when absent or empty (`host:`): the scheme's default.
    pub(crate) port: Option<u16>,
}

/// Why a `host[:port]` was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthorityError {
    MissingHost,
    /// `::1:8080`: an IPv6 address without brackets cannot be told from its port.
    Ipv6WithoutBrackets,
    UnclosedBracket,
    /// Not a decimal number from 1 to 65535.
    BadPort(String),
    /// Something other than `:PORT` after `]`.
    AfterBracket(String),
}

impl fmt::Display for AuthorityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthorityError::MissingHost => f.write_str("no host"),
            AuthorityError::Ipv6WithoutBrackets => {
                f.write_str("write IPv6 addresses in brackets, e.g. http://[::1]:8080/")
            }
            AuthorityError::UnclosedBracket => f.write_str("an IPv6 address needs a closing ']'"),
            AuthorityError::BadPort(p) => {
                write!(f, "port {} is not a number from 1 to 65535", Quoted(p))
            }
            AuthorityError::AfterBracket(rest) => {
                write!(f, "expected ':PORT' after ']', not {}", Quoted(rest))
            }
        }
    }
}

/// A port as URLs write it: decimal digits only (no sign, no spaces), 1 to 65535.
pub(crate) fn parse_port(text: &str) -> Result<u16, AuthorityError> {
    let valid = !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit());
    valid
        .then(|| text.parse::<u16>().ok())
        .flatten()
        .filter(|p| *p != 0)
        .ok_or_else(|| AuthorityError::BadPort(text.to_string()))
}

/// Split `host[:port]` (`[v6]:port` for IPv6).
pub(crate) fn split(text: &str) -> Result<Authority<'_>, AuthorityError> {
    let (host, bracketed, port) = if let Some(inside) = text.strip_prefix('[') {
        let (host, after) = inside
            .split_once(']')
            .ok_or(AuthorityError::UnclosedBracket)?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| AuthorityError::AfterBracket(after.to_string()))?,
            ),
        };
        (host, true, port)
    } else {
        match text.split_once(':') {
            Some((_, rest)) if rest.contains(':') => {
                return Err(AuthorityError::Ipv6WithoutBrackets)
            }
            Some((host, port)) => (host, false, Some(port)),
            None => (text, false, None),
        }
    };
    if host.is_empty() {
        return Err(AuthorityError::MissingHost);
    }
    let port = match port {
        None | Some("") => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok(Authority {
        host,
        bracketed,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports() {
        let a = split("example.com:8080").unwrap();
        assert_eq!(
            (a.host, a.bracketed, a.port),
            ("example.com", false, Some(8080))
        );
        assert_eq!(split("h").unwrap().port, None);
        assert_eq!(split("h:").unwrap().port, None);
        let a = split("[::1]:99").unwrap();
        assert_eq!((a.host, a.bracketed, a.port), ("::1", true, Some(99)));
        assert_eq!(split("[fe80::1%eth0]").unwrap().host, "fe80::1%eth0");
    }

    #[test]
    fn ports_out_of_range_or_not_numbers_are_errors() {
        for bad in [
            "70000",
            "65536",
            "abc",
            "0",
            "+80",
            "-1",
            "18446744073709551696",
            " 80",
        ] {
            assert_eq!(
                split(&format!("h:{bad}")),
                Err(AuthorityError::BadPort(bad.to_string())),
                "{bad}"
            );
        }
        assert_eq!(parse_port("65535"), Ok(65535));
        assert_eq!(parse_port("1"), Ok(1));
    }

    #[test]
    fn malformed_hosts_say_what_is_wrong() {
        assert_eq!(split("::1:80"), Err(AuthorityError::Ipv6WithoutBrackets));
        assert_eq!(split(":80"), Err(AuthorityError::MissingHost));
        assert_eq!(split("[::1"), Err(AuthorityError::UnclosedBracket));
        assert!(matches!(
            split("[::1]x"),
            Err(AuthorityError::AfterBracket(_))
        ));
        assert!(split("::1:80")
            .unwrap_err()
            .to_string()
            .contains("in brackets"));
    }
}
