//! rtnetlink, sans-IO: decoding link/address/route messages (with neli's codec) into plain
//! records, and the table of links, addresses and default routes they build up.
//!
//! Only what bearer management needs is kept: per link its name, type, flags, operational
//! state and byte counters; per address its interface, prefix and scope; and default routes
//! of the main table (what makes a link the preferred one).

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use neli::consts::rtnl::{Ifa, Ifla, RtAddrFamily, RtTable, Rta, Rtn};
use neli::rtnl::{Ifaddrmsg, Ifinfomsg, Rtmsg};
use neli::FromBytesWithInput;

use super::wire::{self, u32_at, DecodeError, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP_INTR};

/// Multicast groups the monitor joins: links, IPv4/IPv6 addresses and routes.
pub(crate) const GROUPS: [u32; 5] = [
    libc::RTNLGRP_LINK,
    libc::RTNLGRP_IPV4_IFADDR,
    libc::RTNLGRP_IPV6_IFADDR,
    libc::RTNLGRP_IPV4_ROUTE,
    libc::RTNLGRP_IPV6_ROUTE,
];

/// `IF_OPER_UP` from RFC 2863 as Linux reports it in IFLA_OPERSTATE.
#[cfg(test)]
const IF_OPER_UP: u8 = 6;
/// `IF_OPER_UNKNOWN`: drivers that do not track carrier (tun, some modems) report this
/// while working.
const IF_OPER_UNKNOWN: u8 = 0;

/// A network interface as the kernel describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) index: u32,
    pub(crate) name: String,
    /// ARPHRD_* hardware type.
    pub(crate) hw_type: u16,
    /// IFF_* flags.
    pub(crate) flags: u32,
    pub(crate) operstate: u8,
    /// Bytes received and sent (IFLA_STATS64), as of this message.
    pub(crate) rx_bytes: u64,
    pub(crate) tx_bytes: u64,
}

impl Link {
    pub(crate) fn is_loopback(&self) -> bool {
        self.flags & libc::IFF_LOOPBACK as u32 != 0
    }

    /// Administratively up (`ip link set up`).
    pub(crate) fn is_up(&self) -> bool {
        self.flags & libc::IFF_UP as u32 != 0
    }

    /// Carrier present and usable: IFF_LOWER_UP (the kernel computes it from the carrier at
    /// the time of the message), or RUNNING for drivers that report no operational state.
    /// The operational state alone does not count: the kernel updates it up to a second
    /// after the carrier (linkwatch), so a link whose carrier just went still says UP.
    pub(crate) fn has_carrier(&self) -> bool {
        const IFF_LOWER_UP: u32 = 0x1_0000;
        self.is_up()
            && (self.flags & IFF_LOWER_UP != 0
                || (self.operstate == IF_OPER_UNKNOWN
                    && self.flags & libc::IFF_RUNNING as u32 != 0))
    }
}

/// An address assigned to an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Address {
    pub(crate) index: u32,
    pub(crate) address: IpAddr,
    pub(crate) prefix_len: u8,
    /// RT_SCOPE_* (0 universe … 253 link, 254 host).
    pub(crate) scope: u8,
    /// IFA_F_* flags (from IFA_FLAGS when present: it has the bits above 8).
    pub(crate) flags: u32,
}

impl Address {
    /// Usable for traffic beyond the link: not link-local or host scope, not still in
    /// duplicate address detection or failed it.
    pub(crate) fn is_usable(&self) -> bool {
        const NOT_READY: u32 = libc::IFA_F_TENTATIVE | libc::IFA_F_DADFAILED;
        self.scope < libc::RT_SCOPE_LINK && self.flags & NOT_READY == 0
    }
}

/// A default route (destination length 0) of the main table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DefaultRoute {
    pub(crate) v6: bool,
    /// Outgoing interface.
    pub(crate) index: u32,
    pub(crate) gateway: Option<IpAddr>,
    /// RTA_PRIORITY: lower wins.
    pub(crate) metric: u32,
}

/// One decoded rtnetlink message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RouteMessage {
    NewLink(Link),
    DelLink(u32),
    NewAddress(Address),
    DelAddress(Address),
    NewDefaultRoute(DefaultRoute),
    DelDefaultRoute(DefaultRoute),
    /// The end of a dump; `interrupted`: the kernel's tables changed meanwhile (redo it).
    DumpDone {
        seq: u32,
        interrupted: bool,
    },
    /// NLMSG_ERROR with a non-zero code (a negative errno) for request `seq`.
    Error {
        seq: u32,
        errno: i32,
    },
    /// Something not needed (other route tables, non-default routes, acks, unknown types).
    Ignored,
}

/// Decode every message in one netlink datagram (framing checked by [`wire::frames`] before
/// neli's payload decoders see anything: its own header decoder underflows on short lengths).
pub(crate) fn decode(datagram: &[u8], out: &mut Vec<RouteMessage>) -> Result<(), DecodeError> {
    for frame in wire::frames(datagram) {
        let f = frame?;
        out.push(decode_one(f.kind, f.flags, f.seq, f.payload)?);
    }
    Ok(())
}

fn decode_one(
    kind: u16,
    flags: u16,
    seq: u32,
    payload: &[u8],
) -> Result<RouteMessage, DecodeError> {
    let bad = |what: &str, e: neli::err::DeError| DecodeError(format!("{what}: {e}"));
    Ok(match kind {
        NLMSG_DONE => RouteMessage::DumpDone {
            seq,
            interrupted: flags & NLM_F_DUMP_INTR != 0,
        },
        NLMSG_ERROR => {
            let errno = wire::Frame {
                kind,
                flags,
                seq,
                payload,
            }
            .error_code()?;
            if errno == 0 {
                // An acknowledgement.
                RouteMessage::Ignored
            } else {
                RouteMessage::Error { seq, errno }
            }
        }
        libc::RTM_NEWLINK | libc::RTM_DELLINK => {
            let info = Ifinfomsg::from_bytes_with_input(&mut Cursor::new(payload), payload.len())
                .map_err(|e| bad("link message", e))?;
            let link = link_of(&info);
            if kind == libc::RTM_DELLINK {
                RouteMessage::DelLink(link.index)
            } else {
                RouteMessage::NewLink(link)
            }
        }
        libc::RTM_NEWADDR | libc::RTM_DELADDR => {
            let info = Ifaddrmsg::from_bytes_with_input(&mut Cursor::new(payload), payload.len())
                .map_err(|e| bad("address message", e))?;
            match address_of(&info) {
                Some(a) if kind == libc::RTM_DELADDR => RouteMessage::DelAddress(a),
                Some(a) => RouteMessage::NewAddress(a),
                None => RouteMessage::Ignored,
            }
        }
        libc::RTM_NEWROUTE | libc::RTM_DELROUTE => {
            let info = Rtmsg::from_bytes_with_input(&mut Cursor::new(payload), payload.len())
                .map_err(|e| bad("route message", e))?;
            match default_route_of(&info) {
                Some(r) if kind == libc::RTM_DELROUTE => RouteMessage::DelDefaultRoute(r),
                Some(r) => RouteMessage::NewDefaultRoute(r),
                None => RouteMessage::Ignored,
            }
        }
        _ => RouteMessage::Ignored,
    })
}

fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(
        bytes.get(offset..offset.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn ip_of(family: RtAddrFamily, bytes: &[u8]) -> Option<IpAddr> {
    match family {
        RtAddrFamily::Inet => {
            let b: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        }
        RtAddrFamily::Inet6 => {
            let b: [u8; 16] = bytes.get(..16)?.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

fn link_of(info: &Ifinfomsg) -> Link {
    let mut link = Link {
        index: u32::try_from(*info.ifi_index()).unwrap_or(0),
        name: String::new(),
        hw_type: u16::from(*info.ifi_type()),
        flags: info.ifi_flags().bits(),
        operstate: IF_OPER_UNKNOWN,
        rx_bytes: 0,
        tx_bytes: 0,
    };
    for attr in info.rtattrs().iter() {
        let data = attr.rta_payload().as_ref();
        match attr.rta_type() {
            Ifla::Ifname => {
                let name = data.split(|b| *b == 0).next().unwrap_or_default();
                link.name = String::from_utf8_lossy(name).into_owned();
            }
            Ifla::Operstate => link.operstate = data.first().copied().unwrap_or_default(),
            // struct rtnl_link_stats64: rx_packets, tx_packets, rx_bytes, tx_bytes, …
            Ifla::Stats64 => {
                link.rx_bytes = u64_at(data, 16).unwrap_or_default();
                link.tx_bytes = u64_at(data, 24).unwrap_or_default();
            }
            _ => {}
        }
    }
    link
}

fn address_of(info: &Ifaddrmsg) -> Option<Address> {
    let family = *info.ifa_family();
    let mut local = None;
    let mut peer = None;
    let mut flags = u32::from(info.ifa_flags().bits());
    for attr in info.rtattrs().iter() {
        let data = attr.rta_payload().as_ref();
        match attr.rta_type() {
            Ifa::Local => local = ip_of(family, data),
            Ifa::Address => peer = ip_of(family, data),
            Ifa::Flags => flags = u32_at(data).unwrap_or(flags),
            _ => {}
        }
    }
    // IFA_LOCAL is the address itself; on point-to-point links IFA_ADDRESS is the peer's.
    Some(Address {
        index: *info.ifa_index(),
        address: local.or(peer)?,
        prefix_len: *info.ifa_prefixlen(),
        scope: u8::from(*info.ifa_scope()),
        flags,
    })
}

fn default_route_of(info: &Rtmsg) -> Option<DefaultRoute> {
    let v6 = match info.rtm_family() {
        RtAddrFamily::Inet => false,
        RtAddrFamily::Inet6 => true,
        _ => return None,
    };
    if *info.rtm_dst_len() != 0 || *info.rtm_type() != Rtn::Unicast {
        return None;
    }
    let mut table = u32::from(u8::from(*info.rtm_table()));
    let mut route = DefaultRoute {
        v6,
        index: 0,
        gateway: None,
        metric: 0,
    };
    for attr in info.rtattrs().iter() {
        let data = attr.rta_payload().as_ref();
        match attr.rta_type() {
            Rta::Oif => route.index = u32_at(data)?,
            Rta::Gateway => route.gateway = ip_of(*info.rtm_family(), data),
            Rta::Priority => route.metric = u32_at(data).unwrap_or_default(),
            Rta::Table => table = u32_at(data).unwrap_or(table),
            _ => {}
        }
    }
    let main = u32::from(u8::from(RtTable::Main));
    (table == main && route.index != 0).then_some(route)
}

/// A dump request: header + a zeroed family header of `body_len` bytes (AF_UNSPEC: every
/// family).
pub(crate) fn dump_request(kind: u16, body_len: usize, seq: u32) -> Vec<u8> {
    wire::request(kind, libc::NLM_F_DUMP as u16, seq, &vec![0; body_len], &[])
}

/// A request for one link (by index): the answer is an RTM_NEWLINK with fresh counters.
pub(crate) fn link_request(index: u32, seq: u32) -> Vec<u8> {
    // struct ifinfomsg: family, pad, type, index, flags, change.
    let mut body = [0u8; 16];
    body[4..8].copy_from_slice(&index.to_ne_bytes());
    wire::request(libc::RTM_GETLINK, 0, seq, &body, &[])
}

/// The three dumps that build a full picture, in order: links first so addresses and routes
/// find their interface.
pub(crate) const DUMPS: [(u16, usize); 3] = [
    // struct ifinfomsg is 16 bytes, ifaddrmsg 8, rtmsg 12.
    (libc::RTM_GETLINK, 16),
    (libc::RTM_GETADDR, 8),
    (libc::RTM_GETROUTE, 12),
];

/// Links, addresses and default routes as the kernel last described them.
#[derive(Debug, Default, Clone)]
pub(crate) struct RouteTable {
    pub(crate) links: BTreeMap<u32, Link>,
    pub(crate) addresses: Vec<Address>,
    pub(crate) default_routes: Vec<DefaultRoute>,
}

impl RouteTable {
    /// Apply one message; true if the table changed.
    pub(crate) fn apply(&mut self, msg: &RouteMessage) -> bool {
        match msg {
            RouteMessage::NewLink(link) => {
                if self.links.get(&link.index) == Some(link) {
                    return false;
                }
                self.links.insert(link.index, link.clone());
                true
            }
            RouteMessage::DelLink(index) => {
                let removed = self.links.remove(index).is_some();
                // The kernel sends no RTM_DELADDR/DELROUTE for a deleted link's leftovers.
                self.addresses.retain(|a| a.index != *index);
                self.default_routes.retain(|r| r.index != *index);
                removed
            }
            RouteMessage::NewAddress(a) => {
                match self
                    .addresses
                    .iter_mut()
                    .find(|o| o.index == a.index && o.address == a.address)
                {
                    Some(old) if old == a => return false,
                    Some(old) => *old = *a,
                    None => self.addresses.push(*a),
                }
                true
            }
            RouteMessage::DelAddress(a) => {
                let before = self.addresses.len();
                self.addresses
                    .retain(|o| !(o.index == a.index && o.address == a.address));
                before != self.addresses.len()
            }
            RouteMessage::NewDefaultRoute(r) => {
                if self.default_routes.contains(r) {
                    return false;
                }
                self.default_routes.push(*r);
                true
            }
            RouteMessage::DelDefaultRoute(r) => {
                let before = self.default_routes.len();
                // A deletion may omit the metric or gateway; match what it names.
                self.default_routes.retain(|o| {
                    !(o.v6 == r.v6
                        && o.index == r.index
                        && (r.gateway.is_none() || o.gateway == r.gateway)
                        && (r.metric == 0 || o.metric == r.metric))
                });
                before != self.default_routes.len()
            }
            RouteMessage::DumpDone { .. } | RouteMessage::Error { .. } | RouteMessage::Ignored => {
                false
            }
        }
    }

    /// Whether `msg` takes a known link down or up (administratively or its carrier). The
    /// kernel then flushes that link's IPv4 routes (and, going down, addresses) without
    /// announcing it, so the addresses and routes must be dumped again to stay true.
    pub(crate) fn needs_resync(&self, msg: &RouteMessage) -> bool {
        let RouteMessage::NewLink(link) = msg else {
            return false;
        };
        self.links.get(&link.index).is_some_and(|old| {
            old.is_up() != link.is_up() || old.has_carrier() != link.has_carrier()
        })
    }

    /// Forget addresses and routes before they are dumped again.
    pub(crate) fn clear_addresses_and_routes(&mut self) {
        self.addresses.clear();
        self.default_routes.clear();
    }

    pub(crate) fn addresses_of(&self, index: u32) -> impl Iterator<Item = &Address> {
        self.addresses.iter().filter(move |a| a.index == index)
    }

    /// The interface the kernel sends to by default: lowest metric, IPv4 before IPv6 on ties
    /// (what most stacks prefer when both exist).
    pub(crate) fn preferred_default(&self) -> Option<&DefaultRoute> {
        self.default_routes
            .iter()
            .filter(|r| self.links.get(&r.index).is_some_and(Link::has_carrier))
            .min_by_key(|r| (r.metric, r.v6))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wire bytes of one netlink message: header + body + attributes (type, payload).
    fn message(kind: u16, flags: u16, seq: u32, body: &[u8], attrs: &[(u16, &[u8])]) -> Vec<u8> {
        wire::request(kind, flags, seq, body, attrs)
    }

    fn stats64(rx: u64, tx: u64) -> Vec<u8> {
        let mut s = vec![0u8; 16];
        s.extend_from_slice(&rx.to_ne_bytes());
        s.extend_from_slice(&tx.to_ne_bytes());
        s.resize(200, 0);
        s
    }

    fn ifinfo(index: i32, hw: u16, flags: u32) -> Vec<u8> {
        let mut b = vec![0u8, 0];
        b.extend_from_slice(&hw.to_ne_bytes());
        b.extend_from_slice(&index.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b
    }

    const UP_LOWER_UP: u32 = (libc::IFF_UP | libc::IFF_RUNNING) as u32 | 0x1_0000;

    fn new_link(index: i32, name: &str, flags: u32, operstate: u8) -> Vec<u8> {
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        message(
            libc::RTM_NEWLINK,
            0,
            0,
            &ifinfo(index, 1, flags),
            &[
                (libc::IFLA_IFNAME, &n),
                (libc::IFLA_OPERSTATE, &[operstate]),
                (libc::IFLA_STATS64, &stats64(1000, 2000)),
            ],
        )
    }

    fn addr_msg(kind: u16, index: u32, ip: [u8; 4], prefix: u8, scope: u8) -> Vec<u8> {
        let body = [libc::AF_INET as u8, prefix, 0, scope];
        let mut b = body.to_vec();
        b.extend_from_slice(&index.to_ne_bytes());
        message(
            kind,
            0,
            0,
            &b,
            &[(libc::IFA_LOCAL, &ip), (libc::IFA_ADDRESS, &ip)],
        )
    }

    fn route_msg(kind: u16, dst_len: u8, table: u8, oif: u32, gw: [u8; 4], metric: u32) -> Vec<u8> {
        let body = [
            libc::AF_INET as u8,
            dst_len,
            0,
            0,
            table,
            libc::RTPROT_STATIC,
            libc::RT_SCOPE_UNIVERSE,
            libc::RTN_UNICAST,
            0,
            0,
            0,
            0,
        ];
        message(
            kind,
            0,
            0,
            &body,
            &[
                (libc::RTA_OIF, &oif.to_ne_bytes()),
                (libc::RTA_GATEWAY, &gw),
                (libc::RTA_PRIORITY, &metric.to_ne_bytes()),
            ],
        )
    }

    fn decode_all(bytes: &[u8]) -> Vec<RouteMessage> {
        let mut out = Vec::new();
        decode(bytes, &mut out).unwrap();
        out
    }

    #[test]
    fn links_decode_with_name_and_state() {
        let msgs = decode_all(&new_link(3, "eth0", UP_LOWER_UP, IF_OPER_UP));
        let [RouteMessage::NewLink(link)] = msgs.as_slice() else {
            panic!("{msgs:?}")
        };
        assert_eq!(link.index, 3);
        assert_eq!(link.name, "eth0");
        assert_eq!(link.hw_type, 1);
        assert!(link.has_carrier() && !link.is_loopback());
        assert_eq!((link.rx_bytes, link.tx_bytes), (1000, 2000));
        // A request for this link decodes as a request for its index.
        let req = link_request(3, 9);
        let f = wire::frames(&req).next().unwrap().unwrap();
        assert_eq!(
            (f.kind, f.seq, &f.payload[4..8]),
            (libc::RTM_GETLINK, 9, &3u32.to_ne_bytes()[..])
        );
        let down = decode_all(&new_link(3, "eth0", libc::IFF_UP as u32, 2));
        let [RouteMessage::NewLink(link)] = down.as_slice() else {
            panic!()
        };
        assert!(link.is_up() && !link.has_carrier());
    }

    #[test]
    fn several_messages_per_datagram_and_dump_end() {
        let mut d = new_link(2, "a", UP_LOWER_UP, IF_OPER_UP);
        d.extend(addr_msg(libc::RTM_NEWADDR, 2, [10, 0, 0, 2], 24, 0));
        d.extend(message(
            libc::NLMSG_DONE as u16,
            2,
            7,
            &0i32.to_ne_bytes(),
            &[],
        ));
        let msgs = decode_all(&d);
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(matches!(
            &msgs[1],
            RouteMessage::NewAddress(a) if a.address == IpAddr::from([10, 0, 0, 2]) && a.prefix_len == 24 && a.is_usable()
        ));
        assert_eq!(
            msgs[2],
            RouteMessage::DumpDone {
                seq: 7,
                interrupted: false
            }
        );
        let intr = decode_all(&message(
            libc::NLMSG_DONE as u16,
            (libc::NLM_F_MULTI as u16) | NLM_F_DUMP_INTR,
            8,
            &0i32.to_ne_bytes(),
            &[],
        ));
        assert_eq!(
            intr,
            [RouteMessage::DumpDone {
                seq: 8,
                interrupted: true
            }]
        );
    }

    #[test]
    fn only_default_routes_of_the_main_table_count() {
        let main = libc::RT_TABLE_MAIN;
        let d = route_msg(libc::RTM_NEWROUTE, 0, main, 4, [10, 0, 0, 1], 100);
        assert_eq!(
            decode_all(&d),
            [RouteMessage::NewDefaultRoute(DefaultRoute {
                v6: false,
                index: 4,
                gateway: Some(IpAddr::from([10, 0, 0, 1])),
                metric: 100
            })]
        );
        let subnet = route_msg(libc::RTM_NEWROUTE, 24, main, 4, [10, 0, 0, 1], 0);
        assert_eq!(decode_all(&subnet), [RouteMessage::Ignored]);
        let local = route_msg(
            libc::RTM_NEWROUTE,
            0,
            libc::RT_TABLE_LOCAL,
            4,
            [10, 0, 0, 1],
            0,
        );
        assert_eq!(decode_all(&local), [RouteMessage::Ignored]);
    }

    #[test]
    fn errors_are_reported_with_their_errno() {
        // NLMSG_ERROR: error code, then the offending request's header.
        let mut body = (-libc::EPERM).to_ne_bytes().to_vec();
        body.extend_from_slice(&dump_request(libc::RTM_GETLINK, 0, 9)[..16]);
        let msgs = decode_all(&message(libc::NLMSG_ERROR as u16, 0, 9, &body, &[]));
        assert_eq!(
            msgs,
            [RouteMessage::Error {
                seq: 9,
                errno: -libc::EPERM
            }]
        );
    }

    #[test]
    fn malformed_datagrams_are_errors_never_panics() {
        let good = new_link(3, "eth0", UP_LOWER_UP, IF_OPER_UP);
        for cut in 1..good.len() {
            let mut out = Vec::new();
            let _ = decode(&good[..cut], &mut out);
        }
        for i in 0..good.len() {
            for bit in [0x01u8, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[i] ^= bit;
                let mut out = Vec::new();
                let _ = decode(&bad, &mut out);
            }
        }
        let mut out = Vec::new();
        assert!(decode(&[0xff; 7], &mut out).is_err());
    }

    #[test]
    fn table_tracks_addresses_routes_and_link_removal() {
        let mut t = RouteTable::default();
        for m in decode_all(&new_link(2, "a", UP_LOWER_UP, IF_OPER_UP))
            .into_iter()
            .chain(decode_all(&new_link(3, "b", UP_LOWER_UP, IF_OPER_UP)))
            .chain(decode_all(&addr_msg(
                libc::RTM_NEWADDR,
                2,
                [10, 0, 0, 2],
                24,
                0,
            )))
            .chain(decode_all(&route_msg(
                libc::RTM_NEWROUTE,
                0,
                254,
                2,
                [10, 0, 0, 1],
                100,
            )))
            .chain(decode_all(&route_msg(
                libc::RTM_NEWROUTE,
                0,
                254,
                3,
                [10, 1, 0, 1],
                50,
            )))
        {
            t.apply(&m);
        }
        assert_eq!(t.preferred_default().map(|r| r.index), Some(3));
        // The same message again changes nothing.
        assert!(!t.apply(&decode_all(&new_link(2, "a", UP_LOWER_UP, IF_OPER_UP))[0]));
        // b loses carrier: its route no longer counts.
        t.apply(&decode_all(&new_link(3, "b", libc::IFF_UP as u32, 2))[0]);
        assert_eq!(t.preferred_default().map(|r| r.index), Some(2));
        assert!(t.apply(&decode_all(&addr_msg(libc::RTM_DELADDR, 2, [10, 0, 0, 2], 24, 0))[0]));
        assert_eq!(t.addresses_of(2).count(), 0);
        t.apply(&RouteMessage::DelLink(2));
        assert!(t.default_routes.iter().all(|r| r.index != 2));
        assert!(t.preferred_default().is_none());
    }

    #[test]
    fn a_link_going_down_or_up_asks_for_a_resync_and_nothing_else_does() {
        let mut t = RouteTable::default();
        let up = &decode_all(&new_link(2, "a", UP_LOWER_UP, IF_OPER_UP))[0];
        assert!(!t.needs_resync(up), "a new link brings its own messages");
        t.apply(up);
        assert!(!t.needs_resync(up), "the same state again");
        let down = &decode_all(&new_link(2, "a", 0, 2))[0];
        assert!(t.needs_resync(down));
        t.apply(down);
        // Carrier gone, but linkwatch has not yet moved the operational state off UP.
        let stale = &decode_all(&new_link(2, "a", libc::IFF_UP as u32, IF_OPER_UP))[0];
        assert!(t.needs_resync(stale));
        let admin_up_no_carrier = &decode_all(&new_link(2, "a", libc::IFF_UP as u32, 2))[0];
        assert!(t.needs_resync(admin_up_no_carrier));
        t.apply(admin_up_no_carrier);
        assert!(t.needs_resync(up), "the carrier came back");
        let route = &decode_all(&route_msg(libc::RTM_NEWROUTE, 0, 254, 2, [10, 0, 0, 1], 0))[0];
        assert!(!t.needs_resync(route));
    }

    #[test]
    fn link_local_and_tentative_addresses_are_not_usable() {
        let a = Address {
            index: 1,
            address: "fe80::1".parse().unwrap(),
            prefix_len: 64,
            scope: libc::RT_SCOPE_LINK,
            flags: 0,
        };
        assert!(!a.is_usable());
        let tentative = Address {
            address: "2001:db8::1".parse().unwrap(),
            scope: 0,
            flags: libc::IFA_F_TENTATIVE,
            ..a
        };
        assert!(!tentative.is_usable());
        assert!(Address {
            flags: 0,
            ..tentative
        }
        .is_usable());
    }
}
