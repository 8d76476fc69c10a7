//! Host lookups, QHostInfo's two faces:
//!
//! - [`HostInfo::lookup`] / [`HostInfo::from_name`]: the **system resolver** (getaddrinfo,
//!   honouring /etc/hosts, nsswitch and search domains), blocking; reverse with
//!   [`HostInfo::from_address`] (getnameinfo). Before a burst of lookups, resolv.conf is
//!   checked for changes (at most once a second) and glibc told to re-read it (`res_init`):
//!   the fix for long-running processes that keep asking the DNS server of the old bearer.
//! - [`HostLookups`]: lookups with ids that can be aborted (QHostInfo::lookupHost /
//!   abortHostLookup) on the reactor, without threads: /etc/hosts, then A and AAAA queries
//!   through [`Resolver`]. This path consults the `files` and `dns` sources only.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::error::{DnsError, HostError};
use super::exchange::Answer;
use super::lookup::RecordType;
use super::resolv_conf::Freshness;
use super::resolver::{LookupId, Resolver, ResolverOptions};
use crate::reactor::{Reactor, Ready};

/// Which addresses to return.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Family {
    #[default]
    /// IPv4 and IPv6.
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

impl Family {
    fn wants(self, addr: &IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
        }
    }
}

/// The result of a host lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// The name looked up (or, for a reverse lookup, the name found).
    pub name: String,
    /// The canonical name, when the resolver reported one different from `name`.
    pub canonical_name: Option<String>,
    /// Its addresses, in the resolver's order (for a reverse lookup: the one asked).
    pub addresses: Vec<IpAddr>,
}

fn system_freshness() -> &'static Mutex<Freshness> {
    static WATCH: OnceLock<Mutex<Freshness>> = OnceLock::new();
    WATCH.get_or_init(|| Mutex::new(Freshness::new("/etc/resolv.conf", Duration::from_secs(1))))
}

/// Make glibc re-read resolv.conf if it changed since the last lookup (checked at most once
/// a second). Cheap enough to call before every lookup.
pub fn refresh_system_resolver() {
    let changed = system_freshness()
        .lock()
        .map(|mut f| f.changed(Instant::now()))
        .unwrap_or(false);
    if changed {
        log::info!("/etc/resolv.conf changed: reloading the system resolver");
        // SAFETY: res_init re-reads the resolver configuration; no pointers are passed.
        unsafe {
            libc::res_init();
        }
    }
}

fn check_name(name: &str) -> Result<(), HostError> {
    if name.is_empty() || name.len() > 253 || name.contains('\0') {
        return Err(HostError::InvalidName(format!("\"{name}\"")));
    }
    Ok(())
}

/// Addresses of `name` from the system resolver (getaddrinfo), in the resolver's order,
/// without duplicates. An IP literal is returned as is.
pub fn addresses(name: &str, family: Family) -> Result<Vec<IpAddr>, HostError> {
    HostInfo::lookup(name, family).map(|info| info.addresses)
}

impl HostInfo {
    /// QHostInfo::fromName: every address of `name`.
    pub fn from_name(name: &str) -> Result<HostInfo, HostError> {
        HostInfo::lookup(name, Family::Any)
    }

    /// Addresses of one family, through getaddrinfo.
    pub fn lookup(name: &str, family: Family) -> Result<HostInfo, HostError> {
        let literal = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name);
        if let Ok(ip) = literal.parse::<IpAddr>() {
            if !family.wants(&ip) {
                return Err(HostError::HostNotFound {
                    name: name.to_string(),
                    reason: "address of the other family".into(),
                });
            }
            return Ok(HostInfo {
                name: name.to_string(),
                canonical_name: None,
                addresses: vec![ip],
            });
        }
        check_name(name)?;
        refresh_system_resolver();
        let hints = dns_lookup::AddrInfoHints {
            socktype: libc::SOCK_STREAM,
            address: match family {
                Family::Any => libc::AF_UNSPEC,
                Family::V4 => libc::AF_INET,
                Family::V6 => libc::AF_INET6,
            },
            flags: libc::AI_ADDRCONFIG | libc::AI_CANONNAME,
            protocol: 0,
        };
        let found = dns_lookup::getaddrinfo(Some(name), None, Some(hints)).map_err(|e| {
            use dns_lookup::LookupErrorKind as K;
            let reason = e.to_string();
            let name = name.to_string();
            match e.kind() {
                K::NoName | K::NoData | K::Fail | K::Again => {
                    HostError::HostNotFound { name, reason }
                }
                _ => HostError::Unknown { name, reason },
            }
        })?;
        let mut info = HostInfo {
            name: name.to_string(),
            canonical_name: None,
            addresses: Vec::new(),
        };
        for entry in found.flatten() {
            if info.canonical_name.is_none() {
                info.canonical_name = entry.canonname.filter(|c| c != name);
            }
            let ip = entry.sockaddr.ip();
            if family.wants(&ip) && !info.addresses.contains(&ip) {
                info.addresses.push(ip);
            }
        }
        if info.addresses.is_empty() {
            return Err(HostError::HostNotFound {
                name: name.to_string(),
                reason: "no address of the requested family".into(),
            });
        }
        Ok(info)
    }

    /// QHostInfo::fromName with an address: the name for `addr` (getnameinfo).
    pub fn from_address(addr: IpAddr) -> Result<HostInfo, HostError> {
        refresh_system_resolver();
        let name = dns_lookup::getnameinfo(&SocketAddr::new(addr, 0), libc::NI_NAMEREQD)
            .map(|(host, _)| host)
            .map_err(|e| {
                use dns_lookup::LookupErrorKind as K;
                let reason = e.to_string();
                let name = addr.to_string();
                match e.kind() {
                    K::NoName | K::NoData | K::Fail | K::Again => {
                        HostError::HostNotFound { name, reason }
                    }
                    _ => HostError::Unknown { name, reason },
                }
            })?;
        Ok(HostInfo {
            name,
            canonical_name: None,
            addresses: vec![addr],
        })
    }
}

/// /etc/hosts, parsed: (address, names) per line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostsFile {
    entries: Vec<(IpAddr, Vec<String>)>,
}

impl HostsFile {
    /// Read /etc/hosts text (comments and bad lines skipped).
    pub fn parse(text: &str) -> HostsFile {
        let entries = text
            .lines()
            .filter_map(|line| {
                let line = line.split('#').next().unwrap_or("");
                let mut words = line.split_whitespace();
                let addr = words.next()?.split('%').next()?.parse::<IpAddr>().ok()?;
                let names: Vec<String> = words.map(str::to_ascii_lowercase).collect();
                (!names.is_empty()).then_some((addr, names))
            })
            .collect();
        HostsFile { entries }
    }

    /// Addresses listed for `name`, in file order.
    pub fn lookup(&self, name: &str, family: Family) -> Vec<IpAddr> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let mut out = Vec::new();
        for (addr, names) in &self.entries {
            if family.wants(addr) && names.contains(&name) && !out.contains(addr) {
                out.push(*addr);
            }
        }
        out
    }
}

/// A host lookup in progress on the reactor.
#[derive(Debug)]
struct Pending {
    name: String,
    /// The A and AAAA lookups still running, and what finished.
    parts: Vec<LookupId>,
    answers: Vec<Result<Answer, DnsError>>,
}

/// Abortable host lookups with ids, on a reactor (QHostInfo::lookupHost/abortHostLookup).
#[derive(Debug)]
pub struct HostLookups {
    resolver: Resolver,
    hosts: HostsFile,
    hosts_watch: Freshness,
    pending: HashMap<LookupId, Pending>,
    part_of: HashMap<LookupId, LookupId>,
    done: VecDeque<(LookupId, Result<HostInfo, HostError>)>,
    next_id: u64,
}

impl HostLookups {
    /// Lookups with the resolver `options` (servers from resolv.conf unless given).
    pub fn new(options: ResolverOptions) -> Result<HostLookups, DnsError> {
        let path = PathBuf::from("/etc/hosts");
        let hosts = HostsFile::parse(&std::fs::read_to_string(&path).unwrap_or_default());
        Ok(HostLookups {
            resolver: Resolver::new(options)?,
            hosts,
            hosts_watch: Freshness::new(path, Duration::from_secs(1)),
            pending: HashMap::new(),
            part_of: HashMap::new(),
            done: VecDeque::new(),
            next_id: 0,
        })
    }

    /// Start looking up `name`; the result comes from [`next_done`](Self::next_done) with the
    /// returned id (immediately for an IP literal or an /etc/hosts entry).
    pub fn start(&mut self, reactor: &mut Reactor, name: &str, family: Family) -> LookupId {
        self.next_id += 1;
        let id = LookupId(self.next_id);
        if self.hosts_watch.changed(Instant::now()) {
            self.hosts = HostsFile::parse(
                &std::fs::read_to_string(self.hosts_watch.path()).unwrap_or_default(),
            );
        }
        let literal = name.parse::<IpAddr>().ok().filter(|ip| family.wants(ip));
        let from_file = self.hosts.lookup(name, family);
        if literal.is_some() || !from_file.is_empty() {
            let info = HostInfo {
                name: name.to_string(),
                canonical_name: None,
                addresses: literal.map_or(from_file, |ip| vec![ip]),
            };
            self.done.push_back((id, Ok(info)));
            return id;
        }
        if let Err(e) = check_name(name) {
            self.done.push_back((id, Err(e)));
            return id;
        }
        let mut parts = Vec::with_capacity(2);
        let types = match family {
            Family::Any => &[RecordType::A, RecordType::AAAA][..],
            Family::V4 => &[RecordType::A][..],
            Family::V6 => &[RecordType::AAAA][..],
        };
        for &rtype in types {
            match self.resolver.start(reactor, name, rtype) {
                Ok(part) => {
                    self.part_of.insert(part, id);
                    parts.push(part);
                }
                Err(e) => {
                    self.done
                        .push_back((id, Err(HostError::InvalidName(e.to_string()))));
                    return id;
                }
            }
        }
        self.pending.insert(
            id,
            Pending {
                name: name.to_string(),
                parts,
                answers: Vec::new(),
            },
        );
        id
    }

    /// Stop a lookup; it finishes with [`HostError::Cancelled`].
    pub fn abort(&mut self, reactor: &mut Reactor, id: LookupId) {
        if let Some(p) = self.pending.remove(&id) {
            for part in p.parts {
                self.part_of.remove(&part);
                self.resolver.abort(reactor, part);
            }
            // Drain the parts' cancellations so they do not linger.
            while self.resolver.next_done().is_some() {}
            self.done.push_back((id, Err(HostError::Cancelled)));
        }
    }

    /// Let the lookups see a reactor event; true if it was one of theirs.
    pub fn handle(&mut self, reactor: &mut Reactor, ready: &Ready) -> bool {
        let ours = self.resolver.handle(reactor, ready);
        while let Some((part, result)) = self.resolver.next_done() {
            let Some(id) = self.part_of.remove(&part) else {
                continue;
            };
            let Some(p) = self.pending.get_mut(&id) else {
                continue;
            };
            p.parts.retain(|x| *x != part);
            p.answers.push(result);
            if p.parts.is_empty() {
                if let Some(p) = self.pending.remove(&id) {
                    self.done.push_back((id, combine(p)));
                }
            }
        }
        ours
    }

    /// The next finished lookup, oldest first.
    pub fn next_done(&mut self) -> Option<(LookupId, Result<HostInfo, HostError>)> {
        self.done.pop_front()
    }

    /// Lookups started and not finished.
    pub fn in_flight(&self) -> usize {
        self.pending.len() + self.done.len()
    }
}

/// A and AAAA answers into one host result: addresses in answer order (IPv4 first).
fn combine(p: Pending) -> Result<HostInfo, HostError> {
    let mut addresses = Vec::new();
    let mut canonical_name = None;
    let mut first_error = None;
    let mut answers = p.answers;
    crate::sort::sort_small_by_key(
        &mut answers,
        |a| matches!(a, Ok(ans) if ans.qtype == RecordType::AAAA.0),
    );
    for answer in answers {
        match answer {
            Ok(a) => {
                for c in a.canonical_names() {
                    canonical_name.get_or_insert_with(|| {
                        // The end of a CNAME chain is the canonical name.
                        c.target.to_string().trim_end_matches('.').to_string()
                    });
                }
                addresses.extend(a.host_addresses().into_iter().map(|h| h.address));
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if !addresses.is_empty() {
        return Ok(HostInfo {
            name: p.name,
            canonical_name,
            addresses,
        });
    }
    let name = p.name;
    Err(match first_error {
        Some(DnsError::Cancelled) => HostError::Cancelled,
        Some(e @ DnsError::NotFound { .. }) | Some(e @ DnsError::Timeout { .. }) => {
            HostError::HostNotFound {
                name,
                reason: e.reason(),
            }
        }
        Some(e) => HostError::Unknown {
            name,
            reason: e.reason(),
        },
        None => HostError::HostNotFound {
            name,
            reason: "no address records".into(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_resolve_to_themselves() {
        let info = HostInfo::from_name("192.0.2.1").unwrap();
        assert_eq!(info.addresses, vec!["192.0.2.1".parse::<IpAddr>().unwrap()]);
        let info = HostInfo::lookup("[::1]", Family::V6).unwrap();
        assert_eq!(info.addresses, vec!["::1".parse::<IpAddr>().unwrap()]);
        assert!(matches!(
            HostInfo::lookup("::1", Family::V4),
            Err(HostError::HostNotFound { .. })
        ));
        assert!(matches!(
            HostInfo::from_name(""),
            Err(HostError::InvalidName(_))
        ));
        assert!(matches!(
            HostInfo::from_name("a\0b"),
            Err(HostError::InvalidName(_))
        ));
    }

    #[test]
    fn hosts_file_lookup() {
        let hosts = HostsFile::parse(
            "127.0.0.1 localhost\n::1 localhost ip6-localhost # v6\n# 10.0.0.1 commented\n\
             192.0.2.5 Board.LAN board\nbogus line\nfe80::1%eth0 linklocal\n",
        );
        let v = |s: &[&str]| {
            s.iter()
                .map(|a| a.parse::<IpAddr>().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            hosts.lookup("localhost", Family::Any),
            v(&["127.0.0.1", "::1"])
        );
        assert_eq!(hosts.lookup("localhost", Family::V6), v(&["::1"]));
        assert_eq!(hosts.lookup("board.lan.", Family::Any), v(&["192.0.2.5"]));
        assert_eq!(hosts.lookup("linklocal", Family::Any), v(&["fe80::1"]));
        assert!(hosts.lookup("commented", Family::Any).is_empty());
    }
}
