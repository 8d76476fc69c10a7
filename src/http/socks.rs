//! SOCKS5 (RFC 1928) with username/password authentication (RFC 1929): message encoding and
//! reply parsing only; the connector in `transport` drives it over its socket.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Where the proxy should connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dest<'a> {
    Addr(SocketAddr),
    /// `socks5h://`: the proxy resolves the name.
    Domain(&'a str, u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SocksError {
    /// The proxy accepts none of our authentication methods.
    NoAcceptableAuth,
    /// Username/password rejected.
    AuthFailed,
    /// A user name, password or host name longer than 255 bytes.
    FieldTooLong(&'static str),
    /// The proxy answered the CONNECT with a failure code.
    Refused(u8),
    /// Bytes that are not SOCKS5.
    Malformed(&'static str),
}

impl fmt::Display for SocksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocksError::NoAcceptableAuth => {
                f.write_str("SOCKS proxy accepts none of our authentication methods")
            }
            SocksError::AuthFailed => f.write_str("SOCKS proxy rejected the user name/password"),
            SocksError::FieldTooLong(what) => write!(f, "SOCKS {what} longer than 255 bytes"),
            SocksError::Refused(code) => write!(f, "SOCKS proxy: {}", reply_text(*code)),
            SocksError::Malformed(what) => write!(f, "SOCKS proxy sent a malformed {what}"),
        }
    }
}

impl std::error::Error for SocksError {}

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0x00;
const USER_PASS: u8 = 0x02;

/// The method-selection greeting.
pub(crate) fn greeting(with_credentials: bool) -> Vec<u8> {
    if with_credentials {
        vec![VERSION, 2, NO_AUTH, USER_PASS]
    } else {
        vec![VERSION, 1, NO_AUTH]
    }
}

/// Whether the proxy chose username/password authentication.
pub(crate) fn parse_method_choice(reply: [u8; 2]) -> Result<bool, SocksError> {
    match reply {
        [VERSION, NO_AUTH] => Ok(false),
        [VERSION, USER_PASS] => Ok(true),
        [VERSION, 0xff] => Err(SocksError::NoAcceptableAuth),
        [VERSION, _] => Err(SocksError::Malformed("method choice (unknown method)")),
        _ => Err(SocksError::Malformed("method choice (not SOCKS5)")),
    }
}

/// RFC 1929 sub-negotiation request.
pub(crate) fn auth_request(user: &str, pass: &str) -> Result<Vec<u8>, SocksError> {
    let ulen = u8::try_from(user.len()).map_err(|_| SocksError::FieldTooLong("user name"))?;
    let plen = u8::try_from(pass.len()).map_err(|_| SocksError::FieldTooLong("password"))?;
    let mut msg = Vec::with_capacity(3 + user.len() + pass.len());
    msg.extend_from_slice(&[1, ulen]);
    msg.extend_from_slice(user.as_bytes());
    msg.push(plen);
    msg.extend_from_slice(pass.as_bytes());
    Ok(msg)
}

pub(crate) fn parse_auth_reply(reply: [u8; 2]) -> Result<(), SocksError> {
    match reply {
        [1, 0] => Ok(()),
        [1, _] => Err(SocksError::AuthFailed),
        _ => Err(SocksError::Malformed("authentication reply")),
    }
}

/// The CONNECT request.
pub(crate) fn connect_request(dest: Dest<'_>) -> Result<Vec<u8>, SocksError> {
    let mut msg = vec![VERSION, 1, 0];
    let port = match dest {
        Dest::Addr(addr) => {
            match addr.ip() {
                IpAddr::V4(ip) => {
                    msg.push(1);
                    msg.extend_from_slice(&ip.octets());
                }
                IpAddr::V6(ip) => {
                    msg.push(4);
                    msg.extend_from_slice(&ip.octets());
                }
            }
            addr.port()
        }
        Dest::Domain(host, port) => {
            let len =
                u8::try_from(host.len()).map_err(|_| SocksError::FieldTooLong("host name"))?;
            msg.extend_from_slice(&[3, len]);
            msg.extend_from_slice(host.as_bytes());
            port
        }
    };
    msg.extend_from_slice(&port.to_be_bytes());
    Ok(msg)
}

/// Given the first 5 bytes of the CONNECT reply, check it and return how many more bytes
/// (bound address and port) follow and must be read and discarded.
pub(crate) fn connect_reply_rest(head: [u8; 5]) -> Result<usize, SocksError> {
    let [ver, rep, _rsv, atyp, first] = head;
    if ver != VERSION {
        return Err(SocksError::Malformed("connect reply (not SOCKS5)"));
    }
    if rep != 0 {
        return Err(SocksError::Refused(rep));
    }
    // The 5th byte is the first byte of the address; the port's 2 bytes follow the address.
    match atyp {
        1 => Ok(4 - 1 + 2),
        4 => Ok(16 - 1 + 2),
        3 => Ok(usize::from(first) + 2),
        _ => Err(SocksError::Malformed("connect reply (address type)")),
    }
}

/// RFC 1928 section 6 reply codes.
fn reply_text(code: u8) -> &'static str {
    match code {
        1 => "general failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown failure code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_requests() {
        assert_eq!(greeting(false), [5, 1, 0]);
        assert_eq!(greeting(true), [5, 2, 0, 2]);
        assert_eq!(
            auth_request("u", "pw").unwrap(),
            [1, 1, b'u', 2, b'p', b'w']
        );
        assert_eq!(
            connect_request(Dest::Addr("10.1.2.3:80".parse().unwrap())).unwrap(),
            [5, 1, 0, 1, 10, 1, 2, 3, 0, 80]
        );
        let v6 = connect_request(Dest::Addr("[::1]:443".parse().unwrap())).unwrap();
        assert_eq!(v6.len(), 4 + 16 + 2);
        assert_eq!(v6[3], 4);
        assert_eq!(&v6[20..], &[1, 187]);
        assert_eq!(
            connect_request(Dest::Domain("ab", 8080)).unwrap(),
            [5, 1, 0, 3, 2, b'a', b'b', 0x1f, 0x90]
        );
        let long = "x".repeat(256);
        assert_eq!(
            connect_request(Dest::Domain(&long, 1)),
            Err(SocksError::FieldTooLong("host name"))
        );
        assert_eq!(
            auth_request(&long, ""),
            Err(SocksError::FieldTooLong("user name"))
        );
    }

    #[test]
    fn parses_replies() {
        assert_eq!(parse_method_choice([5, 0]), Ok(false));
        assert_eq!(parse_method_choice([5, 2]), Ok(true));
        assert_eq!(
            parse_method_choice([5, 0xff]),
            Err(SocksError::NoAcceptableAuth)
        );
        assert!(matches!(
            parse_method_choice([4, 0]),
            Err(SocksError::Malformed(_))
        ));
        assert_eq!(parse_auth_reply([1, 0]), Ok(()));
        assert_eq!(parse_auth_reply([1, 1]), Err(SocksError::AuthFailed));
        assert_eq!(connect_reply_rest([5, 0, 0, 1, 127]), Ok(5));
        assert_eq!(connect_reply_rest([5, 0, 0, 4, 0]), Ok(17));
        assert_eq!(connect_reply_rest([5, 0, 0, 3, 9]), Ok(11));
        assert_eq!(
            connect_reply_rest([5, 5, 0, 1, 0]),
            Err(SocksError::Refused(5))
        );
        assert_eq!(
            SocksError::Refused(5).to_string(),
            "SOCKS proxy: connection refused"
        );
        assert!(matches!(
            connect_reply_rest([5, 0, 0, 9, 0]),
            Err(SocksError::Malformed(_))
        ));
    }
}
