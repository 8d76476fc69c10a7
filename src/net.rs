//! What the HTTP and FTP I/O layers share: connecting one TCP address (bound to an interface,
//! woken by a cancellation), the reasons a wait ends without I/O, the speed limit, and the
//! progress a transfer reports.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use ureq::Timeout;

use crate::cancel::{self, CancelToken, Wake};
use crate::socket::SocketError;

/// Default limit for connecting: name lookup, TCP, proxy and TLS handshake together for HTTP and FTP.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default longest wait in which not one byte is sent or received (HTTP; FTP's reply timeout).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How far a transfer got (HTTP and FTP, downloads and uploads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes so far, including a resumed prefix.
    pub bytes: u64,
    /// The full size, when the server said.
    pub total: Option<u64>,
    /// Time since the transfer started.
    pub elapsed: Duration,
}

/// Settings every connection of a client shares.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectOptions {
    /// SO_BINDTODEVICE: every connection leaves through this interface.
    pub(crate) interface: Option<String>,
}

pub(crate) fn connect_one(
    addr: SocketAddr,
    opts: &ConnectOptions,
    budget: Option<Duration>,
    cancel: Option<&CancelToken>,
) -> io::Result<TcpStream> {
    use socket2::{Domain, Protocol, Socket as RawSocket, Type};
    let sock = RawSocket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(iface) = &opts.interface {
        crate::socket::bind_to_interface(&sock, iface).map_err(SocketError::into_io)?;
    }
    sock.set_nonblocking(true)?;
    sock.set_tcp_nodelay(true)?;
    match sock.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            match cancel::wait(sock.as_raw_fd(), libc::POLLOUT, cancel, budget)? {
                Wake::Ready => {}
                Wake::Cancelled => return Err(Interrupt::Cancelled.into()),
                Wake::TimedOut => return Err(Interrupt::Timeout(Timeout::Connect).into()),
            }
            if let Some(e) = sock.take_error()? {
                return Err(e);
            }
        }
        Err(e) => return Err(e),
    }
    Ok(sock.into())
}

/// curl's `--speed-limit`/`--speed-time`: abort when fewer than `limit × window` bytes moved
/// in the last `window` — a sliding window, so a transfer that stalls is stopped one window
/// (plus at most a tenth of it) after the last bytes, never two. Only payload counts: HTTP
/// feeds it body bytes, FTP data-connection bytes (headers and TLS records do not count).
#[derive(Debug)]
pub(crate) struct SpeedGuard {
    limit: u64,
    window: Duration,
    /// A tenth of the window: the resolution bytes are counted in.
    slot: Duration,
    start: Instant,
    /// Bytes per slot, a ring indexed by slot number; one more slot than the window holds,
    /// so the span judged always covers at least a whole window.
    slots: [u64; SPEED_SLOTS + 1],
    /// The slot number (since `start`) of the newest slot.
    newest: u64,
}

/// Slots per speed window.
const SPEED_SLOTS: usize = 10;

impl SpeedGuard {
    pub(crate) fn new(limit: u64, window: Duration, now: Instant) -> Self {
        SpeedGuard {
            limit,
            window,
            slot: (window / SPEED_SLOTS as u32).max(Duration::from_millis(1)),
            start: now,
            slots: [0; SPEED_SLOTS + 1],
            newest: 0,
        }
    }

    /// When a wait must wake to judge the speed: the end of the first window, then every slot.
    pub(crate) fn next_check(&self) -> Instant {
        let first = self.start + self.window;
        let next_slot = self.start + self.slot * u32::try_from(self.newest + 1).unwrap_or(u32::MAX);
        first.max(next_slot)
    }

    fn required(&self) -> u64 {
        // limit × window, in whole bytes, without floating point surprises.
        (u128::from(self.limit) * self.window.as_millis() / 1000) as u64
    }

    /// Move the ring forward to `now`, emptying the slots that scrolled in.
    fn advance(&mut self, now: Instant) {
        let slot_nanos = self.slot.as_nanos().max(1);
        let at = (now.saturating_duration_since(self.start).as_nanos() / slot_nanos) as u64;
        if at.saturating_sub(self.newest) > SPEED_SLOTS as u64 {
            self.slots = [0; SPEED_SLOTS + 1];
            self.newest = at;
        }
        while self.newest < at {
            self.newest += 1;
            self.slots[(self.newest % (SPEED_SLOTS as u64 + 1)) as usize] = 0;
        }
    }

    /// Count `bytes` at `now` and judge the last window.
    pub(crate) fn record(&mut self, bytes: usize, now: Instant) -> Result<(), Interrupt> {
        self.advance(now);
        let newest = (self.newest % (SPEED_SLOTS as u64 + 1)) as usize;
        self.slots[newest] = self.slots[newest].saturating_add(bytes as u64);
        if now < self.start + self.window {
            return Ok(());
        }
        if self.slots.iter().sum::<u64>() < self.required() {
            return Err(Interrupt::Stalled {
                limit: self.limit,
                window: self.window,
            });
        }
        Ok(())
    }
}

/// Why a wait ended without I/O. Travels inside `io::Error` through rustls and ureq and is
/// recovered by [`to_network_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupt {
    Cancelled,
    Timeout(Timeout),
    /// No byte moved for this long.
    Idle(Duration),
    Stalled {
        limit: u64,
        window: Duration,
    },
}

impl fmt::Display for Interrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interrupt::Cancelled => f.write_str("cancelled"),
            Interrupt::Timeout(t) => write!(f, "timeout: {t}"),
            Interrupt::Idle(_) => f.write_str("no data moved"),
            Interrupt::Stalled { .. } => f.write_str("transfer stalled"),
        }
    }
}

impl std::error::Error for Interrupt {}

impl From<Interrupt> for io::Error {
    fn from(i: Interrupt) -> io::Error {
        let kind = match i {
            Interrupt::Cancelled => crate::cancel::CANCELLED,
            _ => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, i)
    }
}
