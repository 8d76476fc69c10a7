//! The kernel as a bearer backend: an rtnetlink socket registered with the reactor. It dumps
//! links, addresses and routes once, then follows the multicast groups — pushed events, no
//! polling.

pub(crate) mod nl80211;
pub(crate) mod route;
pub(crate) mod sysfs;
pub(crate) mod wire;

use std::io;
use std::os::fd::AsRawFd;

use mio::unix::SourceFd;
use mio::Interest;
use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;

use crate::bearer::error::BearerError;
use crate::reactor::{Reactor, Ready, Token};
use route::{RouteMessage, RouteTable, DUMPS, GROUPS};

/// Receive buffer: the kernel's dump datagrams are at most 32 KiB; twice that leaves room.
const RECV_BUFFER: usize = 64 * 1024;
/// Socket receive buffer asked for, so a burst of events (a bridge with many ports coming up)
/// does not overrun it; an overrun is survivable anyway (a fresh dump follows).
const SOCKET_BUFFER: usize = 1024 * 1024;

/// Follows the kernel's links, addresses and default routes.
pub(crate) struct RouteMonitor {
    sock: NlSocket,
    token: Token,
    buf: Vec<u8>,
    msgs: Vec<RouteMessage>,
    table: RouteTable,
    seq: u32,
    /// The dump in flight (index into [`DUMPS`]) and its sequence number.
    dumping: Option<(usize, u32)>,
    /// Full dumps completed (the first one makes the picture complete).
    syncs: u64,
    /// A link whose fresh counters were asked for (index, request) and have not arrived yet.
    awaiting_link: Option<(u32, u32)>,
    /// The dump to start when the running one ends (the kernel refuses a second dump on one
    /// socket with EBUSY): 0 after an overrun (everything), 1 after a link went down or up
    /// (addresses and routes).
    pending_dump: Option<usize>,
}

impl std::fmt::Debug for RouteMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteMonitor")
            .field("links", &self.table.links.len())
            .field("dumping", &self.dumping)
            .finish_non_exhaustive()
    }
}

impl RouteMonitor {
    /// Open the socket, join the groups, register with `reactor` and start the first dump.
    pub(crate) fn open(reactor: &mut Reactor) -> Result<RouteMonitor, BearerError> {
        let sock = NlSocket::new(NlFamily::Route).map_err(BearerError::Netlink)?;
        sock.nonblock().map_err(BearerError::Netlink)?;
        // Joining before dumping: no change between the dump and the subscription is lost.
        sock.bind(None, Groups::new_groups(&GROUPS))
            .map_err(BearerError::Netlink)?;
        // Best effort: the kernel caps it at rmem_max.
        let _ = sock.set_recv_buffer_size(SOCKET_BUFFER);
        let token = reactor
            .register(&mut SourceFd(&sock.as_raw_fd()), Interest::READABLE)
            .map_err(BearerError::Reactor)?;
        let mut monitor = RouteMonitor {
            sock,
            token,
            buf: vec![0; RECV_BUFFER],
            msgs: Vec::new(),
            table: RouteTable::default(),
            seq: 0,
            dumping: None,
            syncs: 0,
            awaiting_link: None,
            pending_dump: None,
        };
        monitor.start_dump(0)?;
        Ok(monitor)
    }

    pub(crate) fn token(&self) -> Token {
        self.token
    }

    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }

    pub(crate) fn table(&self) -> &RouteTable {
        &self.table
    }

    /// True once a full dump completed and no re-dump is running: the table is whole.
    pub(crate) fn is_synced(&self) -> bool {
        self.syncs > 0 && self.dumping.is_none()
    }

    /// Ask the kernel for link `index` now (its byte counters are current only in a fresh
    /// message); [`link_answered`](Self::link_answered) says when the answer is in the table.
    pub(crate) fn request_link(&mut self, index: u32) -> Result<(), BearerError> {
        self.seq = self.seq.wrapping_add(1);
        self.sock
            .send(route::link_request(index, self.seq), Msg::empty())
            .map_err(BearerError::Netlink)?;
        self.awaiting_link = Some((index, self.seq));
        Ok(())
    }

    pub(crate) fn link_answered(&self) -> bool {
        self.awaiting_link.is_none()
    }

    /// Dump again from `from` (an index into [`DUMPS`]: 0 everything, after lost events; 1
    /// addresses and routes, after a link went down or up — links are current, their changes
    /// are all announced), once the running dump, if any, ended.
    fn dump_again(&mut self, from: usize) -> Result<(), BearerError> {
        if self.dumping.is_some() {
            self.pending_dump = Some(self.pending_dump.map_or(from, |p| p.min(from)));
            return Ok(());
        }
        if from > 0 {
            self.table.clear_addresses_and_routes();
        }
        self.start_dump(from)
    }

    fn start_dump(&mut self, which: usize) -> Result<(), BearerError> {
        let Some(&(kind, body)) = DUMPS.get(which) else {
            self.dumping = None;
            self.syncs += 1;
            return match self.pending_dump.take() {
                Some(from) => self.dump_again(from),
                None => Ok(()),
            };
        };
        if which == 0 {
            // A fresh picture: whatever was there may be stale (after an overrun).
            self.table = RouteTable::default();
        }
        self.seq = self.seq.wrapping_add(1);
        let request = route::dump_request(kind, body, self.seq);
        self.sock
            .send(&request, Msg::empty())
            .map_err(BearerError::Netlink)?;
        self.dumping = Some((which, self.seq));
        Ok(())
    }

    /// Read everything the socket holds. Returns true if the table changed (callers look at
    /// it only when [`is_synced`](Self::is_synced)).
    pub(crate) fn handle(&mut self, ready: &Ready) -> Result<bool, BearerError> {
        match ready {
            Ready::Io { token, .. } if *token == self.token => {}
            _ => return Ok(false),
        }
        let mut changed = false;
        loop {
            let n = match self.sock.recv(&mut self.buf[..], Msg::TRUNC) {
                Ok((n, _)) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The kernel dropped events (our queue was full): start over from a dump.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    log::debug!("rtnetlink overrun: dumping again");
                    self.dump_again(0)?;
                    changed = true;
                    continue;
                }
                Err(e) => return Err(BearerError::Netlink(e)),
            };
            if n > self.buf.len() {
                log::debug!("rtnetlink datagram of {n} bytes truncated: dumping again");
                self.dump_again(0)?;
                changed = true;
                continue;
            }
            self.msgs.clear();
            let decoded = route::decode(&self.buf[..n], &mut self.msgs);
            let mut resync = false;
            for i in 0..self.msgs.len() {
                resync |= self.table.needs_resync(&self.msgs[i]);
                changed |= self.table.apply(&self.msgs[i]);
                match self.msgs[i] {
                    // Any fresh message for the link carries current counters.
                    RouteMessage::NewLink(ref l)
                        if self
                            .awaiting_link
                            .is_some_and(|(index, _)| index == l.index) =>
                    {
                        self.awaiting_link = None;
                    }
                    // The link went away meanwhile: nothing more will come.
                    RouteMessage::Error { seq, .. }
                        if self.awaiting_link.is_some_and(|(_, want)| want == seq) =>
                    {
                        self.awaiting_link = None;
                    }
                    RouteMessage::DumpDone { seq, interrupted } => {
                        if let Some((which, want)) = self.dumping {
                            if seq == want {
                                self.start_dump(if interrupted { 0 } else { which + 1 })?;
                                changed = true;
                            }
                        }
                    }
                    RouteMessage::Error { seq, errno }
                        if self.dumping.is_some_and(|(_, want)| want == seq) =>
                    {
                        return Err(BearerError::KernelRefused {
                            request: "link/address/route dump",
                            errno,
                        });
                    }
                    _ => {}
                }
            }
            if let Err(e) = decoded {
                // Lengths after a bad one cannot be trusted: rebuild the picture instead.
                log::warn!("malformed rtnetlink datagram ({}): dumping again", e.0);
                self.dump_again(0)?;
                changed = true;
            } else if resync {
                log::debug!("a link went down or up: dumping addresses and routes again");
                self.dump_again(1)?;
                changed = true;
            }
        }
        Ok(changed)
    }
}
