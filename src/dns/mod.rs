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
//! a general DNS library's size and allocations (hickory-proto alone cost 327 KiB of the
//! binary). Transport: UDP with EDNS0 (1232 bytes), TCP when the answer is truncated,
//! per-server timeout and tries,
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

/// Entry points for `fuzz/`, not API.
#[doc(hidden)]
pub mod fuzzing {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::exchange::{Exchange, Settings, Step};
    use super::name::Name;
    use super::wire::{rtype, HEADER_LEN};

    /// Drive a lookup of `probe` (search list `probe.test.`, `probe.`) over two tries: every
    /// query it sends is answered with `reply` — its ID patched to match when the first byte
    /// is even, its question replaced by the query's when bit 1 is clear, so the fuzzer reaches
    /// the response-code and record paths — or times out when the reply is dropped. Returns
    /// the number of steps until the exchange finished (it must finish).
    pub fn drive_exchange(reply: &[u8], now: Instant, timeout: Duration) -> usize {
        let settings = Settings {
            servers: Arc::from([SocketAddr::from(([127, 0, 0, 1], 53))]),
            timeout,
            attempts: 2,
            first_server: 0,
            tcp: false,
        };
        let candidates = ["probe.test", "probe"]
            .iter()
            .filter_map(|n| Name::from_text(n).ok())
            .collect();
        let mut exchange = Exchange::new("probe", candidates, rtype::A, settings);
        let mut step = exchange.start(now);
        let flags = reply.first().copied().unwrap_or(0);
        for steps in 1..=100 {
            let Step::Send { transport, .. } = step else {
                return steps;
            };
            let mut answer = reply.to_vec();
            if flags & 1 == 0 && answer.len() >= 2 {
                answer[..2].copy_from_slice(&exchange.query().id().to_be_bytes());
            }
            if flags & 2 == 0 && answer.len() >= HEADER_LEN {
                let question = exchange.query().question();
                answer[4..6].copy_from_slice(&1u16.to_be_bytes());
                let tail = answer.split_off(HEADER_LEN);
                answer.extend_from_slice(question);
                answer.extend(tail.into_iter().skip(question.len()));
            }
            step = match exchange.on_reply(now, &answer, transport) {
                Some(next) => next,
                None => exchange.on_timeout(now),
            };
        }
        100
    }
}
