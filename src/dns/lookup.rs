//! `Lookup`: QDnsLookup for a synchronous world — one typed lookup, blocking, on a reactor of
//! its own; and the typed accessors of an [`Answer`].

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::error::DnsError;
use super::exchange::Answer;
use super::records::{
    order_services, CanonicalName, HostAddress, MailExchange, NameServer, Pointer, Random, Record,
    Service, SystemRandom, Text,
};
use super::resolver::{Resolver, ResolverOptions};
use super::wire::rtype;
use crate::cancel::CancelToken;
use crate::reactor::{Reactor, Ready};

/// A record type to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordType(pub u16);

impl RecordType {
    /// IPv4 address.
    pub const A: RecordType = RecordType(rtype::A);
    /// IPv6 address.
    pub const AAAA: RecordType = RecordType(rtype::AAAA);
    /// Anything the server has (servers may answer partially).
    pub const ANY: RecordType = RecordType(rtype::ANY);
    /// Canonical name (alias).
    pub const CNAME: RecordType = RecordType(rtype::CNAME);
    /// Mail exchanger.
    pub const MX: RecordType = RecordType(rtype::MX);
    /// Name server.
    pub const NS: RecordType = RecordType(rtype::NS);
    /// Pointer (reverse lookups).
    pub const PTR: RecordType = RecordType(rtype::PTR);
    /// Start of authority.
    pub const SOA: RecordType = RecordType(rtype::SOA);
    /// Service location (RFC 2782).
    pub const SRV: RecordType = RecordType(rtype::SRV);
    /// Texts.
    pub const TXT: RecordType = RecordType(rtype::TXT);

    const NAMED: [(&'static str, RecordType); 10] = [
        ("A", RecordType::A),
        ("AAAA", RecordType::AAAA),
        ("ANY", RecordType::ANY),
        ("CNAME", RecordType::CNAME),
        ("MX", RecordType::MX),
        ("NS", RecordType::NS),
        ("PTR", RecordType::PTR),
        ("SOA", RecordType::SOA),
        ("SRV", RecordType::SRV),
        ("TXT", RecordType::TXT),
    ];

    /// The mnemonic, or `TYPEnnn` (RFC 3597).
    pub fn name_of(value: u16) -> String {
        RecordType::NAMED
            .iter()
            .find(|(_, t)| t.0 == value)
            .map_or_else(|| format!("TYPE{value}"), |(n, _)| (*n).to_string())
    }
}

impl std::str::FromStr for RecordType {
    type Err = DnsError;

    /// `A`, `mx`, … or `TYPE65`; anything else names what is accepted.
    fn from_str(s: &str) -> Result<RecordType, DnsError> {
        let upper = s.to_ascii_uppercase();
        if let Some((_, t)) = RecordType::NAMED.iter().find(|(n, _)| *n == upper) {
            return Ok(*t);
        }
        upper
            .strip_prefix("TYPE")
            .and_then(|n| n.parse::<u16>().ok())
            .map(RecordType)
            .ok_or_else(|| {
                DnsError::InvalidRequest(format!(
                    "unknown record type \"{s}\" (A, AAAA, ANY, CNAME, MX, NS, PTR, SOA, SRV, TXT or TYPEnnn)"
                ))
            })
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&RecordType::name_of(self.0))
    }
}

/// QDnsLookup's typed results.
impl Answer {
    /// A and AAAA records.
    pub fn host_addresses(&self) -> Vec<HostAddress> {
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::Address(a) => Some(a.clone()),
                _ => None,
            })
            .collect()
    }

    /// CNAME records.
    pub fn canonical_names(&self) -> Vec<CanonicalName> {
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::Cname(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    }

    /// Sorted by preference, most preferred first.
    pub fn mail_exchanges(&self) -> Vec<MailExchange> {
        let mut mx: Vec<MailExchange> = self
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Mx(m) => Some(m.clone()),
                _ => None,
            })
            .collect();
        crate::sort::sort_small_by_key(&mut mx, |m| m.preference);
        mx
    }

    /// NS records.
    pub fn name_servers(&self) -> Vec<NameServer> {
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::Ns(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }

    /// PTR records.
    pub fn pointers(&self) -> Vec<Pointer> {
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::Ptr(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    /// Ordered by priority, then by RFC 2782's weighted random selection (a new draw per call).
    pub fn services(&self) -> Vec<Service> {
        self.services_with(&mut SystemRandom)
    }

    /// SRV records in RFC 2782 order, weights drawn from `rng`.
    pub fn services_with(&self, rng: &mut impl Random) -> Vec<Service> {
        let mut srv: Vec<Service> = self
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Srv(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        order_services(&mut srv, rng);
        srv
    }

    /// TXT records, each a list of byte strings (not joined).
    pub fn texts(&self) -> Vec<Text> {
        self.records
            .iter()
            .filter_map(|r| match r {
                Record::Txt(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }
}

/// One blocking typed lookup (QDnsLookup): `Lookup::new(RecordType::MX, "example.com").run()`.
#[derive(Debug, Clone)]
pub struct Lookup {
    rtype: RecordType,
    name: String,
    options: ResolverOptions,
    cancel: Option<CancelToken>,
}

impl Lookup {
    /// A lookup of `rtype` records of `name` (servers from resolv.conf unless given).
    pub fn new(rtype: RecordType, name: &str) -> Lookup {
        Lookup {
            rtype,
            name: name.to_string(),
            options: ResolverOptions::default(),
            cancel: None,
        }
    }

    /// Ask this server (QDnsLookup::setNameserver) instead of resolv.conf's.
    pub fn server(mut self, server: SocketAddr) -> Lookup {
        self.options
            .servers
            .get_or_insert_with(Vec::new)
            .push(server);
        self
    }

    /// Wait for each answer this long (default: resolv.conf's `timeout:`, else 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Lookup {
        self.options.timeout = Some(timeout);
        self
    }

    /// Ask each server this many times (default: resolv.conf's `attempts:`, else 2).
    pub fn tries(mut self, tries: u8) -> Lookup {
        self.options.attempts = Some(tries);
        self
    }

    /// Ask over TCP from the start.
    pub fn tcp(mut self, tcp: bool) -> Lookup {
        self.options.tcp = tcp;
        self
    }

    /// Abort when this token is cancelled (QDnsLookup::abort from another thread or a signal).
    pub fn cancel_token(mut self, token: CancelToken) -> Lookup {
        self.cancel = Some(token);
        self
    }

    /// Look it up, blocking until done.
    pub fn run(self) -> Result<Answer, DnsError> {
        let mut reactor =
            Reactor::new().map_err(|e| DnsError::Resolver(format!("event loop: {e}")))?;
        let mut resolver = Resolver::new(self.options)?;
        // The token's pipe becomes readable on cancellation: one more source in the loop.
        let cancel_token = reactor.token();
        if let Some(fd) = self.cancel.as_ref().map(CancelToken::raw_fd) {
            reactor
                .registry()
                .register(
                    &mut mio::unix::SourceFd(&fd),
                    cancel_token,
                    mio::Interest::READABLE,
                )
                .map_err(|e| DnsError::Resolver(format!("event loop: {e}")))?;
        }
        let id = resolver.start(&mut reactor, &self.name, self.rtype)?;
        let mut events = Vec::with_capacity(8);
        loop {
            if let Some((_, result)) = resolver.next_done() {
                return result;
            }
            events.clear();
            reactor
                .turn(
                    &mut events,
                    Some(Instant::now() + Duration::from_secs(3600)),
                )
                .map_err(|e| DnsError::Resolver(format!("event loop: {e}")))?;
            for ready in &events {
                if matches!(ready, Ready::Io { token, .. } if *token == cancel_token) {
                    resolver.abort(&mut reactor, id);
                } else {
                    resolver.handle(&mut reactor, ready);
                }
            }
        }
    }
}
