//! Typed lookup results, QDnsLookup's record classes: host addresses, canonical names, mail
//! exchanges (sorted by preference), name servers, pointers, services (RFC 2782 order) and
//! texts (each record a list of byte strings, not joined).

use std::fmt;
use std::net::IpAddr;

use super::name::Name;
use super::wire::RData;

/// An A or AAAA record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAddress {
    /// The owner name.
    pub name: Name,
    /// Seconds it may be cached.
    pub ttl: u32,
    /// The address.
    pub address: IpAddr,
}

/// A CNAME record: `name` is an alias of `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalName {
    /// The alias.
    pub name: Name,
    /// Seconds it may be cached.
    pub ttl: u32,
    /// The name it stands for.
    pub target: Name,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// An MX record.
pub struct MailExchange {
    /// The domain.
    pub name: Name,
    /// Seconds it may be cached.
    pub ttl: u32,
    /// Lower is tried first.
    pub preference: u16,
    /// The mail server's name.
    pub exchange: Name,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// An NS record.
pub struct NameServer {
    /// The zone.
    pub name: Name,
    /// Seconds it may be cached.
    pub ttl: u32,
    /// The name server's name.
    pub host: Name,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// A PTR record.
pub struct Pointer {
    /// The owner name (e.g. `10.2.0.192.in-addr.arpa`).
    pub name: Name,
    /// Seconds it may be cached.
    pub ttl: u32,
    /// The name it points to.
    pub target: Name,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// An SRV record.
pub struct Service {
    /// The service name (`_http._tcp.example.com`).
    pub name: Name,
    /// Seconds it may be cached.
    pub ttl: u32,
    /// Lower is tried first.
    pub priority: u16,
    /// Share among records of equal priority.
    pub weight: u16,
    /// The port of the service.
    pub port: u16,
    /// The host of the service.
    pub target: Name,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// A TXT record.
pub struct Text {
    /// The owner name.
    pub name: Name,
    /// Seconds it may be cached.
    pub ttl: u32,
    /// The character-strings of the record, in order, as bytes.
    pub strings: Vec<Vec<u8>>,
}

/// Any record of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A or AAAA.
    Address(HostAddress),
    /// CNAME.
    Cname(CanonicalName),
    /// MX.
    Mx(MailExchange),
    /// NS.
    Ns(NameServer),
    /// PTR.
    Ptr(Pointer),
    /// SRV.
    Srv(Service),
    /// TXT.
    Txt(Text),
    /// SOA and types boardnet does not interpret: owner, TTL, type number, data as text.
    Other {
        /// The owner name.
        name: Name,
        /// Seconds it may be cached.
        ttl: u32,
        /// The record type number.
        rtype: u16,
        /// The data in zone-file form.
        data: String,
    },
}

impl Record {
    pub(crate) fn from_rdata(name: Name, ttl: u32, rtype: u16, data: RData) -> Record {
        match data {
            RData::A(a) => Record::Address(HostAddress {
                name,
                ttl,
                address: IpAddr::V4(a),
            }),
            RData::Aaaa(a) => Record::Address(HostAddress {
                name,
                ttl,
                address: IpAddr::V6(a),
            }),
            RData::Cname(target) => Record::Cname(CanonicalName { name, ttl, target }),
            RData::Ns(host) => Record::Ns(NameServer { name, ttl, host }),
            RData::Ptr(target) => Record::Ptr(Pointer { name, ttl, target }),
            RData::Mx {
                preference,
                exchange,
            } => Record::Mx(MailExchange {
                name,
                ttl,
                preference,
                exchange,
            }),
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => Record::Srv(Service {
                name,
                ttl,
                priority,
                weight,
                port,
                target,
            }),
            RData::Txt(strings) => Record::Txt(Text { name, ttl, strings }),
            other => Record::Other {
                name,
                ttl,
                rtype,
                data: rdata_text(&other),
            },
        }
    }

    /// The owner name.
    pub fn name(&self) -> &Name {
        match self {
            Record::Address(r) => &r.name,
            Record::Cname(r) => &r.name,
            Record::Mx(r) => &r.name,
            Record::Ns(r) => &r.name,
            Record::Ptr(r) => &r.name,
            Record::Srv(r) => &r.name,
            Record::Txt(r) => &r.name,
            Record::Other { name, .. } => name,
        }
    }

    /// Seconds the record may be cached.
    pub fn ttl(&self) -> u32 {
        match self {
            Record::Address(r) => r.ttl,
            Record::Cname(r) => r.ttl,
            Record::Mx(r) => r.ttl,
            Record::Ns(r) => r.ttl,
            Record::Ptr(r) => r.ttl,
            Record::Srv(r) => r.ttl,
            Record::Txt(r) => r.ttl,
            Record::Other { ttl, .. } => *ttl,
        }
    }

    /// The type mnemonic ("A", "MX", …, or "TYPE99").
    pub fn type_name(&self) -> String {
        match self {
            Record::Address(r) if r.address.is_ipv4() => "A".into(),
            Record::Address(_) => "AAAA".into(),
            Record::Cname(_) => "CNAME".into(),
            Record::Mx(_) => "MX".into(),
            Record::Ns(_) => "NS".into(),
            Record::Ptr(_) => "PTR".into(),
            Record::Srv(_) => "SRV".into(),
            Record::Txt(_) => "TXT".into(),
            Record::Other { rtype, .. } => super::lookup::RecordType::name_of(*rtype),
        }
    }
}

/// The record data in dig's `+short` form.
impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Address(r) => r.address.fmt(f),
            Record::Cname(r) => r.target.fmt(f),
            Record::Mx(r) => write!(f, "{} {}", r.preference, r.exchange),
            Record::Ns(r) => r.host.fmt(f),
            Record::Ptr(r) => r.target.fmt(f),
            Record::Srv(r) => write!(f, "{} {} {} {}", r.priority, r.weight, r.port, r.target),
            Record::Txt(r) => {
                for (i, s) in r.strings.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write_character_string(f, s)?;
                }
                Ok(())
            }
            Record::Other { data, .. } => f.write_str(data),
        }
    }
}

/// A character-string as dig prints it: quoted, `"` and `\` escaped, other bytes outside
/// printable ASCII as `\DDD`.
pub fn write_character_string(f: &mut impl fmt::Write, s: &[u8]) -> fmt::Result {
    f.write_char('"')?;
    for &b in s {
        match b {
            b'"' | b'\\' => {
                f.write_char('\\')?;
                f.write_char(char::from(b))?;
            }
            0x20..=0x7e => f.write_char(char::from(b))?,
            _ => write!(f, "\\{b:03}")?,
        }
    }
    f.write_char('"')
}

fn rdata_text(data: &RData) -> String {
    match data {
        RData::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        } => format!("{mname} {rname} {serial} {refresh} {retry} {expire} {minimum}"),
        // RFC 3597 generic form, as dig prints unknown types.
        RData::Unknown(bytes) => {
            let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
            if hex.is_empty() {
                "\\# 0".into()
            } else {
                format!("\\# {} {hex}", bytes.len())
            }
        }
        other => format!("{other:?}"),
    }
}

/// A source of randomness for RFC 2782's weighted choice (a trait so tests can be exact).
pub trait Random {
    /// A uniformly distributed value in `0..=max`.
    fn up_to(&mut self, max: u32) -> u32;
}

/// The system's CSPRNG (getrandom via ring).
#[derive(Debug, Default)]
pub struct SystemRandom;

impl Random for SystemRandom {
    fn up_to(&mut self, max: u32) -> u32 {
        let mut bytes = [0u8; 8];
        // If the system RNG fails, the first record of the group is as good as any.
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
        (u64::from_le_bytes(bytes) % (u64::from(max) + 1)) as u32
    }
}

/// Order services as RFC 2782 prescribes: ascending priority; within a priority, repeatedly
/// pick a record at random with probability proportional to its weight (weight-0 records
/// first in the running list, so they are only likely when nothing else is left).
pub fn order_services(services: &mut Vec<Service>, rng: &mut impl Random) {
    crate::sort::sort_small_by_key(services, |s| s.priority);
    let mut ordered = Vec::with_capacity(services.len());
    let mut rest = std::mem::take(services);
    while !rest.is_empty() {
        let priority = rest[0].priority;
        let split = rest
            .iter()
            .position(|s| s.priority != priority)
            .unwrap_or(rest.len());
        let mut group: Vec<Service> = rest.drain(..split).collect();
        // Zero weights at the beginning (stable within the group).
        crate::sort::sort_small_by_key(&mut group, |s| s.weight != 0);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|s| u32::from(s.weight)).sum();
            let pick = rng.up_to(total);
            let mut running = 0u32;
            let index = group
                .iter()
                .position(|s| {
                    running += u32::from(s.weight);
                    running >= pick
                })
                .unwrap_or(0);
            ordered.push(group.remove(index));
        }
    }
    *services = ordered;
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Vec<u32>);

    impl Random for Fixed {
        fn up_to(&mut self, max: u32) -> u32 {
            let v = if self.0.is_empty() {
                0
            } else {
                self.0.remove(0)
            };
            v.min(max)
        }
    }

    struct Xorshift(u64);

    impl Random for Xorshift {
        fn up_to(&mut self, max: u32) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % (u64::from(max) + 1)) as u32
        }
    }

    fn srv(priority: u16, weight: u16, target: &str) -> Service {
        Service {
            name: Name::from_text("_s._tcp.test").unwrap(),
            ttl: 1,
            priority,
            weight,
            port: 1,
            target: Name::from_text(target).unwrap(),
        }
    }

    fn targets(v: &[Service]) -> Vec<String> {
        v.iter().map(|s| s.target.to_string()).collect()
    }

    #[test]
    fn priority_first_then_weighted_choice() {
        let mut v = vec![
            srv(20, 0, "d"),
            srv(10, 10, "b"),
            srv(10, 0, "a"),
            srv(10, 90, "c"),
        ];
        // Running list in priority 10: a(0) b(10) c(90): total 100.
        // pick 50 -> c (0,10,100); then a(0) b(10): pick 0 -> a; then b.
        order_services(&mut v, &mut Fixed(vec![50, 0, 0, 0]));
        assert_eq!(targets(&v), ["c.", "a.", "b.", "d."]);
    }

    #[test]
    fn weights_shape_the_first_choice() {
        let base = vec![
            srv(10, 0, "zero"),
            srv(10, 10, "ten"),
            srv(10, 90, "ninety"),
        ];
        let mut firsts = std::collections::HashMap::new();
        let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..10_000 {
            let mut v = base.clone();
            order_services(&mut v, &mut rng);
            *firsts.entry(v[0].target.to_string()).or_insert(0u32) += 1;
        }
        let ninety = firsts["ninety."];
        let ten = firsts["ten."];
        let zero = firsts.get("zero.").copied().unwrap_or(0);
        // Expected about 8900 / 1000 / 100 (pick 0 of 0..=100 chooses the weight-0 record).
        assert!((8600..9200).contains(&ninety), "{firsts:?}");
        assert!((800..1200).contains(&ten), "{firsts:?}");
        assert!(zero < 250, "{firsts:?}");
    }

    #[test]
    fn dig_short_forms() {
        let n = Name::from_text("x.test").unwrap();
        let txt = Record::Txt(Text {
            name: n.clone(),
            ttl: 1,
            strings: vec![b"hello world".to_vec(), b"q\"\\\xff".to_vec(), vec![]],
        });
        assert_eq!(txt.to_string(), r#""hello world" "q\"\\\255" """#);
        let mx = Record::Mx(MailExchange {
            name: n.clone(),
            ttl: 1,
            preference: 10,
            exchange: n.clone(),
        });
        assert_eq!(mx.to_string(), "10 x.test.");
        let other = Record::from_rdata(n, 1, 99, RData::Unknown(vec![0xab, 1]));
        assert_eq!(other.to_string(), "\\# 2 AB01");
        assert_eq!(other.type_name(), "TYPE99");
    }
}
