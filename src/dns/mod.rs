//! DNS: QHostInfo and QDnsLookup for boards, on the reactor, without a hidden runtime.
//!
//! - [`host`]: the system resolver (getaddrinfo/getnameinfo) with resolv.conf freshness, and
//!   abortable host lookups on the reactor.
//! - [`Lookup`]: one blocking typed lookup; [`Resolver`]: many in flight on a [`Reactor`].
//!   Typed results on [`Answer`]: host addresses, canonical names, mail exchanges by
//!   preference, name servers, pointers, services in RFC 2782 order, texts as byte strings.
//!
//! The wire format is our own codec ([`wire`]): boardnet needs queries and a handful of
//! record types, and a zero-copy reader with every length checked once costs a fraction of
//! a general DNS library's size and allocations (see the note on issue 3). Transport: UDP
//! with EDNS0 (1232 bytes), TCP when the answer is truncated, per-server timeout and tries,
//! servers in resolv.conf order with `timeout: attempts: rotate ndots:` and `search`, a random
//! ID and a fresh source port per query, and replies validated against the query.
//!
//! [`Reactor`]: crate::reactor::Reactor

mod error;
mod exchange;
pub mod host;
mod lookup;
pub mod name;
pub mod records;
pub mod resolv_conf;
mod resolver;
pub mod wire;

pub use error::{DnsError, HostError};
pub use exchange::{Answer, Transport, EDNS_PAYLOAD};
pub use host::{Family, HostInfo, HostLookups};
pub use lookup::{Lookup, RecordType};
pub use name::Name;
pub use records::Record;
pub use resolv_conf::ResolvConf;
pub use resolver::{LookupId, Resolver, ResolverOptions};
