//! Endpoints as URLs (`tcp://HOST:PORT`, `udp://…`, `sctp://…`, `tls://…`, `unix:/path`,
//! `unix:@abstract`) and socket addresses as the kernel reports them. Pure parsing: no lookups.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::str::FromStr;

use super::error::SocketError;

/// The longest path or abstract name a Unix socket address holds (`sun_path` less its NUL).
pub const UNIX_NAME_MAX: usize = 107;

/// Where to connect, listen or bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `tcp://HOST:PORT`
    Tcp(HostPort),
    /// `tls://HOST:PORT`: TCP with TLS on top.
    Tls(HostPort),
    /// `udp://HOST:PORT`
    Udp(HostPort),
    /// `sctp://HOST:PORT` (kernel SCTP).
    Sctp(HostPort),
    /// `unix:/path` or `unix:@abstract`.
    Unix(UnixName),
}

/// A host and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// The host.
    pub host: Host,
    /// The port.
    pub port: u16,
}

/// The host part of an endpoint. For listening, Qt's special addresses are written as:
/// `*` = Any (IPv6 and IPv4, dual-stack), `0.0.0.0` = AnyIPv4, `[::]` = AnyIPv6 (IPv6 only),
/// `127.0.0.1` = LocalHost, `[::1]` = LocalHostIPv6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// `*`: every local address, IPv6 and IPv4.
    Any,
    /// An address.
    Ip(IpAddr),
    /// A link-local IPv6 address with its interface: `[fe80::1%eth0]`.
    Scoped(Ipv6Addr, String),
    /// A name, resolved through the DNS module when used.
    Name(String),
}

/// A Unix (local) socket name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnixName {
    /// A socket file.
    Path(PathBuf),
    /// A Linux abstract name (no file; gone when the last socket closes).
    Abstract(Vec<u8>),
}

/// A local or peer address as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// An IP address and port.
    Inet(SocketAddr),
    /// A Unix socket name.
    Unix(UnixName),
    /// A Unix socket without a name (the client end of most local connections).
    Unnamed,
}

const FORMS: &str = "tcp://HOST:PORT, tls://HOST:PORT, udp://HOST:PORT, sctp://HOST:PORT, \
                     unix:/PATH or unix:@NAME";

fn invalid(text: &str, why: impl fmt::Display) -> SocketError {
    SocketError::InvalidEndpoint(format!("endpoint \"{text}\": {why}"))
}

impl FromStr for Endpoint {
    type Err = SocketError;

    fn from_str(text: &str) -> Result<Endpoint, SocketError> {
        if let Some(rest) = text.strip_prefix("unix:") {
            // unix:/p, unix:p, unix:@n, and the URL spelling unix:///p
            let name = rest.strip_prefix("//").unwrap_or(rest);
            return UnixName::parse(name)
                .map(Endpoint::Unix)
                .map_err(|why| invalid(text, why));
        }
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| invalid(text, format!("expected one of {FORMS}")))?;
        let make: fn(HostPort) -> Endpoint = match scheme.to_ascii_lowercase().as_str() {
            "tcp" => Endpoint::Tcp,
            "tls" => Endpoint::Tls,
            "udp" => Endpoint::Udp,
            "sctp" => Endpoint::Sctp,
            other => {
                return Err(invalid(
                    text,
                    format!("unknown scheme \"{other}\" (expected one of {FORMS})"),
                ))
            }
        };
        HostPort::parse(rest)
            .map(make)
            .map_err(|why| invalid(text, why))
    }
}

impl HostPort {
    fn parse(text: &str) -> Result<HostPort, String> {
        let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
            let (inside, after) = bracketed
                .split_once(']')
                .ok_or("an IPv6 address needs a closing \"]\"")?;
            let port = after
                .strip_prefix(':')
                .ok_or("expected \":PORT\" after the address")?;
            (Host::parse_ipv6(inside)?, port)
        } else {
            let (host, port) = text
                .rsplit_once(':')
                .ok_or("expected HOST:PORT (the port is required)")?;
            if host.contains(':') {
                return Err("write IPv6 addresses in brackets: [::1]:PORT".into());
            }
            (Host::parse_plain(host)?, port)
        };
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "port \"{port}\" is not a number from 0 to 65535 (nothing may follow it)"
            ));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("port \"{port}\" is not a number from 0 to 65535"))?;
        Ok(HostPort { host, port })
    }
}

impl Host {
    fn parse_ipv6(inside: &str) -> Result<Host, String> {
        let (addr, zone) = match inside.split_once('%') {
            Some((a, z)) => (a, Some(z)),
            None => (inside, None),
        };
        let ip = addr
            .parse::<Ipv6Addr>()
            .map_err(|_| format!("\"{addr}\" is not an IPv6 address"))?;
        match zone {
            None => Ok(Host::Ip(IpAddr::V6(ip))),
            Some(z) if valid_interface_name(z) => Ok(Host::Scoped(ip, z.to_string())),
            Some(z) => Err(format!("\"{z}\" is not an interface name")),
        }
    }

    fn parse_plain(host: &str) -> Result<Host, String> {
        if host == "*" {
            return Ok(Host::Any);
        }
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            return Ok(Host::Ip(IpAddr::V4(ip)));
        }
        if host.is_empty() {
            return Err("the host is empty (use * to listen on every address)".into());
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let name = host.strip_suffix('.').unwrap_or(host);
        if name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(format!("\"{host}\" is not a valid host name or address"));
        }
        Ok(Host::Name(host.to_ascii_lowercase()))
    }
}

/// What `SO_BINDTODEVICE`/`if_nametoindex` accept: 1–15 bytes, no '/', ':' or whitespace.
pub(crate) fn valid_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
}

impl UnixName {
    fn parse(text: &str) -> Result<UnixName, String> {
        if let Some(name) = text.strip_prefix('@') {
            if name.is_empty() {
                return Err("the abstract name after \"@\" is empty".into());
            }
            if name.len() > UNIX_NAME_MAX - 1 {
                return Err(format!(
                    "abstract name is {} bytes; at most {} fit",
                    name.len(),
                    UNIX_NAME_MAX - 1
                ));
            }
            return Ok(UnixName::Abstract(name.as_bytes().to_vec()));
        }
        if text.is_empty() {
            return Err(format!(
                "the socket path is empty (expected unix:/PATH or unix:@NAME; {FORMS})"
            ));
        }
        if text.contains('\0') {
            return Err("the path contains a NUL byte".into());
        }
        if text.len() > UNIX_NAME_MAX {
            return Err(format!(
                "socket path is {} bytes; a Unix socket path holds at most {UNIX_NAME_MAX}",
                text.len()
            ));
        }
        Ok(UnixName::Path(PathBuf::from(text)))
    }

    /// The bytes of `sun_path`: the path, or a NUL then the abstract name.
    pub(crate) fn sun_path(&self) -> Vec<u8> {
        match self {
            UnixName::Path(p) => p.as_os_str().as_bytes().to_vec(),
            UnixName::Abstract(name) => {
                let mut v = Vec::with_capacity(name.len() + 1);
                v.push(0);
                v.extend_from_slice(name);
                v
            }
        }
    }
}

impl fmt::Display for UnixName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixName::Path(p) => write!(f, "{}", p.display()),
            UnixName::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Any => f.write_str("*"),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Scoped(ip, zone) => write!(f, "[{ip}%{zone}]"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(name) => write!(f, "unix:{name}"),
            Endpoint::Tcp(hp) | Endpoint::Tls(hp) | Endpoint::Udp(hp) | Endpoint::Sctp(hp) => {
                write!(f, "{}://{hp}", self.scheme())
            }
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet(a) => write!(f, "{a}"),
            Address::Unix(name) => write!(f, "{name}"),
            Address::Unnamed => f.write_str("(unnamed)"),
        }
    }
}

impl Endpoint {
    /// `tcp`, `tls`, `udp`, `sctp` or `unix`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Endpoint::Tcp(_) => "tcp",
            Endpoint::Tls(_) => "tls",
            Endpoint::Udp(_) => "udp",
            Endpoint::Sctp(_) => "sctp",
            Endpoint::Unix(_) => "unix",
        }
    }

    /// The host and port, for every kind but Unix.
    pub fn host_port(&self) -> Option<&HostPort> {
        match self {
            Endpoint::Tcp(hp) | Endpoint::Tls(hp) | Endpoint::Udp(hp) | Endpoint::Sctp(hp) => {
                Some(hp)
            }
            Endpoint::Unix(_) => None,
        }
    }

    /// The same kind of endpoint at a concrete address (what a listener on port 0 got).
    pub fn at(&self, address: &Address) -> Endpoint {
        let hp = |a: &SocketAddr| HostPort {
            host: Host::Ip(a.ip()),
            port: a.port(),
        };
        match (self, address) {
            (Endpoint::Tcp(_), Address::Inet(a)) => Endpoint::Tcp(hp(a)),
            (Endpoint::Tls(_), Address::Inet(a)) => Endpoint::Tls(hp(a)),
            (Endpoint::Udp(_), Address::Inet(a)) => Endpoint::Udp(hp(a)),
            (Endpoint::Sctp(_), Address::Inet(a)) => Endpoint::Sctp(hp(a)),
            (_, Address::Unix(name)) => Endpoint::Unix(name.clone()),
            (other, _) => other.clone(),
        }
    }
}

impl Address {
    /// The IP socket address, if this is one.
    pub fn inet(&self) -> Option<SocketAddr> {
        match self {
            Address::Inet(a) => Some(*a),
            _ => None,
        }
    }

    /// What the kernel put in a `sockaddr`.
    pub(crate) fn from_sockaddr(addr: &socket2::SockAddr) -> Address {
        if let Some(a) = addr.as_socket() {
            return Address::Inet(a);
        }
        if let Some(name) = addr.as_abstract_namespace() {
            return Address::Unix(UnixName::Abstract(name.to_vec()));
        }
        match addr.as_pathname() {
            Some(path) => Address::Unix(UnixName::Path(path.to_path_buf())),
            None => Address::Unnamed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Endpoint {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> String {
        match text.parse::<Endpoint>() {
            Ok(e) => panic!("{text} parsed as {e:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_kind_parses_and_prints_back() {
        for text in [
            "tcp://127.0.0.1:80",
            "tcp://[::1]:0",
            "tcp://*:8080",
            "tls://example.test:443",
            "udp://0.0.0.0:5353",
            "udp://[ff02::1%eth0]:9",
            "sctp://[::]:36412",
            "unix:/run/boardnet.sock",
            "unix:@boardnet",
            "unix:relative.sock",
        ] {
            assert_eq!(ok(text).to_string(), text);
        }
        assert_eq!(ok("unix:///tmp/x").to_string(), "unix:/tmp/x");
        assert_eq!(
            ok("TCP://Host.Example:1").to_string(),
            "tcp://host.example:1"
        );
        assert_eq!(
            ok("tcp://[fe80::1%wlan0]:22"),
            Endpoint::Tcp(HostPort {
                host: Host::Scoped("fe80::1".parse().unwrap(), "wlan0".into()),
                port: 22
            })
        );
        assert_eq!(
            ok("unix:@a b"),
            Endpoint::Unix(UnixName::Abstract(b"a b".to_vec()))
        );
    }

    #[test]
    fn bad_endpoints_say_what_is_wrong() {
        assert!(err("localhost:80").contains("tcp://HOST:PORT"));
        assert!(err("http://x:80").contains("unknown scheme \"http\""));
        assert!(err("tcp://x").contains("port is required"));
        assert!(err("tcp://x:").contains("port \"\""));
        assert!(err("tcp://x:65536").contains("65535"));
        assert!(err("tcp://x:80/path").contains("nothing may follow"));
        assert!(err("tcp://::1:80").contains("brackets"));
        assert!(err("tcp://[::1:80").contains("closing"));
        assert!(err("tcp://[::1]80").contains(":PORT"));
        assert!(err("tcp://[::g]:80").contains("not an IPv6 address"));
        assert!(err("tcp://[fe80::1%a/b]:80").contains("interface name"));
        assert!(err("tcp://:80").contains("empty"));
        assert!(err("tcp://bad_host!:80").contains("not a valid host name"));
        assert!(err("unix:").contains("empty"));
        assert!(err("unix:@").contains("empty"));
        let long = format!("unix:/{}", "x".repeat(UNIX_NAME_MAX));
        assert!(err(&long).contains("at most 107"));
        assert!(err("unix:/a\0b").contains("NUL"));
    }

    #[test]
    fn special_hosts_are_qt_special_addresses() {
        let host = |t: &str| ok(t).host_port().unwrap().host.clone();
        assert_eq!(host("tcp://*:1"), Host::Any);
        assert_eq!(
            host("tcp://0.0.0.0:1"),
            Host::Ip(Ipv4Addr::UNSPECIFIED.into())
        );
        assert_eq!(host("tcp://[::]:1"), Host::Ip(Ipv6Addr::UNSPECIFIED.into()));
        assert_eq!(host("tcp://localhost:1"), Host::Name("localhost".into()));
    }

    #[test]
    fn listeners_report_their_concrete_address() {
        let any = ok("tls://*:0");
        let bound = Address::Inet("[::]:4433".parse().unwrap());
        assert_eq!(any.at(&bound).to_string(), "tls://[::]:4433");
        let unix = ok("unix:@x");
        assert_eq!(unix.at(&Address::Unnamed), unix);
        assert_eq!(UnixName::Abstract(b"x".to_vec()).sun_path(), b"\0x");
    }
}
