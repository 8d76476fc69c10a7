//! Wi-Fi through nl80211 (generic netlink, family resolved by hand on a raw socket): the
//! wireless interfaces, the access point a station is associated with, scan results, and
//! scans triggered and awaited on the reactor.

use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::Interest;
use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;

use crate::bearer::error::BearerError;
use crate::bearer::netlink::nl80211::{self, Family, WifiMessage};
use crate::bearer::netlink::wire::{self, Frame, NLMSG_DONE, NLMSG_ERROR};
use crate::reactor::queue::{Coalesce, EventQueue};
use crate::reactor::{Reactor, Ready, Token};

pub use crate::bearer::netlink::nl80211::{
    mac_text, ssid_text, AccessPoint, StationInfo, WifiInterface, WifiMode,
};
#[cfg(feature = "networkmanager")]
pub use crate::bearer::networkmanager::scan_through_networkmanager;

/// Generic netlink datagrams are at most a few pages; scan dumps carry one BSS each.
const RECV_BUFFER: usize = 64 * 1024;

/// A scan event for one interface. The queue is bounded
/// ([`EVENT_QUEUE_BOUND`](crate::reactor::EVENT_QUEUE_BOUND), the oldest dropped past it); an
/// event equal to one still queued is absorbed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEvent {
    /// A scan started on this interface index.
    Started(u32),
    /// A scan finished on this interface index; its results are ready.
    Done(u32),
    /// A scan on this interface index was aborted.
    Aborted(u32),
}

impl Coalesce for ScanEvent {
    fn absorb(&mut self, later: &ScanEvent) -> bool {
        self == later
    }
}

/// What a station-mode interface is connected to.
#[derive(Debug, Clone, PartialEq)]
pub struct WifiLink {
    /// The network name as bytes.
    pub ssid: Vec<u8>,
    /// The access point's MAC address.
    pub bssid: [u8; 6],
    /// The channel frequency.
    pub frequency_mhz: Option<u32>,
    /// Signal strength of the last frames received.
    pub signal_dbm: Option<i8>,
    /// Transmit bitrate in Mbit/s.
    pub tx_bitrate_mbps: Option<f32>,
    /// Receive bitrate in Mbit/s.
    pub rx_bitrate_mbps: Option<f32>,
    /// Seconds since the association.
    pub connected_secs: Option<u32>,
    /// From the scan entry of the BSS (empty when the kernel has none).
    pub security: Vec<&'static str>,
}

/// An nl80211 connection.
pub struct Wifi {
    sock: NlSocket,
    token: Token,
    family: Family,
    seq: u32,
    buf: Vec<u8>,
    scan_events: EventQueue<ScanEvent>,
    joined_scan: bool,
}

impl std::fmt::Debug for Wifi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wifi")
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

/// One request's answer, as the transaction sees it.
enum Step {
    /// More frames to come.
    More,
    /// The answer is complete.
    Finished,
}

impl Wifi {
    /// Open a generic netlink socket on `reactor` and look up nl80211. A kernel without
    /// cfg80211 has no such family: [`BearerError::Unsupported`].
    pub fn open(reactor: &mut Reactor, timeout: Duration) -> Result<Wifi, BearerError> {
        let sock = NlSocket::new(NlFamily::Generic).map_err(BearerError::Netlink)?;
        sock.nonblock().map_err(BearerError::Netlink)?;
        sock.bind(None, Groups::empty())
            .map_err(BearerError::Netlink)?;
        let token = reactor
            .register(&mut SourceFd(&sock.as_raw_fd()), Interest::READABLE)
            .map_err(BearerError::Reactor)?;
        let mut wifi = Wifi {
            sock,
            token,
            family: Family {
                id: 0,
                scan_group: None,
            },
            seq: 0,
            buf: vec![0; RECV_BUFFER],
            scan_events: EventQueue::default(),
            joined_scan: false,
        };
        let deadline = Instant::now() + timeout;
        let mut family = None;
        let request = nl80211::family_request(wifi.next_seq());
        wifi.transact(reactor, &request, deadline, "nl80211 family lookup", |f| {
            family = Some(nl80211::decode_family(f).map_err(|e| BearerError::Malformed(e.0))?);
            Ok(Step::Finished)
        })
        .map_err(|e| match e {
            BearerError::KernelRefused { errno, .. } if errno == -libc::ENOENT => {
                BearerError::Unsupported(
                    "no wireless support here: the kernel has no nl80211 (cfg80211 is not loaded)"
                        .into(),
                )
            }
            other => other,
        })?;
        wifi.family = family.ok_or_else(|| {
            BearerError::Malformed("the nl80211 family lookup had no answer".into())
        })?;
        Ok(wifi)
    }

    /// The token of the nl80211 socket (its reactor events go to `handle`).
    pub fn token(&self) -> Token {
        self.token
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    /// Every wireless interface (any mode).
    pub fn interfaces(
        &mut self,
        reactor: &mut Reactor,
        timeout: Duration,
    ) -> Result<Vec<WifiInterface>, BearerError> {
        let request = nl80211::interfaces_request(self.family.id, self.next_seq());
        let mut out = Vec::new();
        self.dump(reactor, &request, timeout, "wireless interface dump", |m| {
            if let WifiMessage::Interface(i) = m {
                out.push(i);
            }
        })?;
        Ok(out)
    }

    /// The access point a station-mode interface is associated with (None: not associated).
    pub fn station(
        &mut self,
        reactor: &mut Reactor,
        ifindex: u32,
        timeout: Duration,
    ) -> Result<Option<StationInfo>, BearerError> {
        let request = nl80211::stations_request(self.family.id, self.next_seq(), ifindex);
        let mut out = None;
        self.dump(reactor, &request, timeout, "station dump", |m| {
            if let WifiMessage::Station(s) = m {
                out.get_or_insert(s);
            }
        })?;
        Ok(out)
    }

    /// The access point `iface` is connected to, with SSID, signal and security (None: a
    /// station that is not associated, or not a station).
    pub fn link(
        &mut self,
        reactor: &mut Reactor,
        iface: &WifiInterface,
        timeout: Duration,
    ) -> Result<Option<WifiLink>, BearerError> {
        if iface.mode != WifiMode::Station {
            return Ok(None);
        }
        let Some(station) = self.station(reactor, iface.index, timeout)? else {
            return Ok(None);
        };
        // The scan entry of the BSS has its security, and its SSID right after association,
        // before the interface names it.
        let entry = self
            .scan_results(reactor, iface.index, timeout)?
            .into_iter()
            .find(|ap| ap.bssid == station.bssid);
        Ok(Some(WifiLink {
            ssid: iface
                .ssid
                .clone()
                .or_else(|| entry.as_ref().map(|e| e.ssid.clone()))
                .unwrap_or_default(),
            bssid: station.bssid,
            frequency_mhz: iface
                .frequency_mhz
                .or_else(|| entry.as_ref().map(|e| e.frequency_mhz)),
            signal_dbm: station.signal_dbm,
            tx_bitrate_mbps: station.tx_bitrate_mbps,
            rx_bitrate_mbps: station.rx_bitrate_mbps,
            connected_secs: station.connected_secs,
            security: entry.map(|e| e.security).unwrap_or_default(),
        }))
    }

    /// What the kernel's scans saw on `ifindex` (strongest first).
    pub fn scan_results(
        &mut self,
        reactor: &mut Reactor,
        ifindex: u32,
        timeout: Duration,
    ) -> Result<Vec<AccessPoint>, BearerError> {
        let request = nl80211::scan_results_request(self.family.id, self.next_seq(), ifindex);
        let mut out = Vec::new();
        self.dump(reactor, &request, timeout, "scan result dump", |m| {
            if let WifiMessage::AccessPoint(ap) = m {
                out.push(ap);
            }
        })?;
        crate::sort::sort_small_by(&mut out, |a, b| {
            b.signal_dbm
                .unwrap_or(f32::MIN)
                .total_cmp(&a.signal_dbm.unwrap_or(f32::MIN))
        });
        Ok(out)
    }

    /// Start a scan on `ifindex` (needs CAP_NET_ADMIN). Its end arrives as a [`ScanEvent`]
    /// through [`handle`](Self::handle) / [`wait_for_scan`](Self::wait_for_scan). A scan
    /// already running (EBUSY) is fine: its results will do.
    pub fn trigger_scan(
        &mut self,
        reactor: &mut Reactor,
        ifindex: u32,
        timeout: Duration,
    ) -> Result<(), BearerError> {
        self.join_scan_group()?;
        let request = nl80211::trigger_scan_request(self.family.id, self.next_seq(), ifindex);
        let deadline = Instant::now() + timeout;
        match self.transact(reactor, &request, deadline, "scan trigger", |_| {
            Ok(Step::More)
        }) {
            Err(BearerError::KernelRefused { errno, .. }) if errno == -libc::EBUSY => Ok(()),
            other => other,
        }
    }

    /// Receive scan events (started, done, aborted) from now on.
    pub fn join_scan_group(&mut self) -> Result<(), BearerError> {
        if self.joined_scan {
            return Ok(());
        }
        let group = self
            .family
            .scan_group
            .ok_or_else(|| BearerError::Unsupported("nl80211 offers no scan event group".into()))?;
        self.sock
            .add_mcast_membership(Groups::new_groups(&[group]))
            .map_err(BearerError::Netlink)?;
        self.joined_scan = true;
        Ok(())
    }

    /// Read what arrived (scan events are queued); true if `ready` was ours.
    pub fn handle(&mut self, ready: &Ready) -> Result<bool, BearerError> {
        if !matches!(ready, Ready::Io { token, .. } if *token == self.token) {
            return Ok(false);
        }
        self.receive(None, &mut |_| Ok(Step::More))?;
        Ok(true)
    }

    /// The next scan event, oldest first.
    pub fn next_scan_event(&mut self) -> Option<ScanEvent> {
        self.scan_events.pop()
    }

    /// Block until the scan on `ifindex` ends (Done or Aborted) or `timeout` passes.
    pub fn wait_for_scan(
        &mut self,
        reactor: &mut Reactor,
        ifindex: u32,
        timeout: Duration,
    ) -> Result<ScanEvent, BearerError> {
        let deadline = Instant::now() + timeout;
        let mut ready = Vec::new();
        loop {
            while let Some(e) = self.scan_events.pop() {
                if matches!(e, ScanEvent::Done(i) | ScanEvent::Aborted(i) if i == ifindex) {
                    return Ok(e);
                }
            }
            if Instant::now() >= deadline {
                return Err(BearerError::Timeout(timeout));
            }
            self.turn(reactor, &mut ready, deadline)?;
        }
    }

    /// One reactor turn: read our socket if it is ready, hand other events back.
    fn turn(
        &mut self,
        reactor: &mut Reactor,
        ready: &mut Vec<Ready>,
        deadline: Instant,
    ) -> Result<(), BearerError> {
        reactor
            .turn_blocking(ready, Some(deadline))
            .map_err(BearerError::Reactor)?;
        for r in ready.drain(..) {
            match r {
                Ready::Signal(sig) if sig == libc::SIGINT || sig == libc::SIGTERM => {
                    return Err(BearerError::Interrupted)
                }
                r if !self.handle(&r)? => reactor.defer([r]),
                _ => {}
            }
        }
        Ok(())
    }

    /// A dump: decode every reply as an nl80211 message.
    fn dump(
        &mut self,
        reactor: &mut Reactor,
        request: &[u8],
        timeout: Duration,
        what: &'static str,
        mut each: impl FnMut(WifiMessage),
    ) -> Result<(), BearerError> {
        let deadline = Instant::now() + timeout;
        self.transact(reactor, request, deadline, what, |f| {
            each(nl80211::decode(f).map_err(|e| BearerError::Malformed(e.0))?);
            Ok(Step::More)
        })
    }

    /// Send `request` and feed the frames answering it to `on_reply` until the end of the
    /// dump, an acknowledgement, an error, or `on_reply` saying it has enough.
    fn transact(
        &mut self,
        reactor: &mut Reactor,
        request: &[u8],
        deadline: Instant,
        what: &'static str,
        mut on_reply: impl FnMut(&Frame<'_>) -> Result<Step, BearerError>,
    ) -> Result<(), BearerError> {
        let seq = wire::frames(request)
            .next()
            .and_then(Result::ok)
            .map(|f| f.seq)
            .unwrap_or_default();
        self.sock
            .send(request, Msg::empty())
            .map_err(BearerError::Netlink)?;
        let started = Instant::now();
        let mut outcome: Option<Result<(), BearerError>> = None;
        let mut ready = Vec::new();
        loop {
            self.receive(Some(seq), &mut |f| {
                if f.kind == NLMSG_ERROR {
                    let errno = f.error_code().map_err(|e| BearerError::Malformed(e.0))?;
                    outcome = Some(if errno == 0 {
                        Ok(())
                    } else {
                        Err(BearerError::KernelRefused {
                            request: what,
                            errno,
                        })
                    });
                    return Ok(Step::Finished);
                }
                if f.kind == NLMSG_DONE {
                    outcome = Some(Ok(()));
                    return Ok(Step::Finished);
                }
                let step = on_reply(f)?;
                if matches!(step, Step::Finished) {
                    outcome = Some(Ok(()));
                }
                Ok(step)
            })?;
            if let Some(result) = outcome.take() {
                return result;
            }
            if Instant::now() >= deadline {
                return Err(BearerError::Timeout(started.elapsed()));
            }
            self.turn(reactor, &mut ready, deadline)?;
        }
    }

    /// Read every datagram the socket holds. Frames of request `seq` go to `on_reply`
    /// (until it says Finished); scan events (sequence 0) are queued; the rest is dropped.
    fn receive(
        &mut self,
        seq: Option<u32>,
        on_reply: &mut dyn FnMut(&Frame<'_>) -> Result<Step, BearerError>,
    ) -> Result<(), BearerError> {
        // Read until the socket is empty even after the answer is complete: readiness is
        // edge-triggered, so anything left now would not be announced again.
        let mut finished = false;
        loop {
            let n = match self.sock.recv(&mut self.buf[..], Msg::TRUNC) {
                Ok((n, _)) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Dropped scan events: the next dump still shows the results.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => continue,
                Err(e) => return Err(BearerError::Netlink(e)),
            };
            if n > self.buf.len() {
                return Err(BearerError::Malformed(format!(
                    "a {n}-byte nl80211 datagram did not fit the receive buffer"
                )));
            }
            for frame in wire::frames(&self.buf[..n]) {
                let f = frame.map_err(|e| BearerError::Malformed(e.0))?;
                if f.seq == 0 && f.kind == self.family.id {
                    match nl80211::decode(&f) {
                        Ok(WifiMessage::ScanStarted(i)) => {
                            self.scan_events.push(ScanEvent::Started(i))
                        }
                        Ok(WifiMessage::ScanDone(i)) => self.scan_events.push(ScanEvent::Done(i)),
                        Ok(WifiMessage::ScanAborted(i)) => {
                            self.scan_events.push(ScanEvent::Aborted(i))
                        }
                        Ok(_) => {}
                        Err(e) => log::debug!("nl80211 event: {}", e.0),
                    }
                } else if Some(f.seq) == seq && !finished {
                    finished = matches!(on_reply(&f)?, Step::Finished);
                }
            }
        }
        Ok(())
    }
}
