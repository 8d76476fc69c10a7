//! The one event loop: a `mio::Poll` with tokens, deadlines, a waker and signals.
//!
//! Everything that waits on several things at once — many DNS lookups, many socket clients,
//! netlink and D-Bus events, timers, stdin — registers here, and one thread turns the loop.
//! Nothing in it spawns threads. Components allocate tokens, register their sources, and in
//! their loop call [`Reactor::turn`], then handle the [`Ready`] events that carry their tokens.
//!
//! ```no_run
//! use boardnet::reactor::{Reactor, Ready};
//! let mut reactor = Reactor::new()?;
//! let mut events = Vec::new();
//! reactor.turn(&mut events, None)?;
//! for ready in &events {
//!     match ready {
//!         Ready::Io { token, .. } => { /* the source registered under `token` */ }
//!         Ready::Timer { owner, .. } => { /* a deadline of `owner` passed */ }
//!         Ready::Signal(sig) => { /* SIGINT/SIGTERM/SIGHUP, if asked for */ }
//!         Ready::Woken => { /* Waker::wake from another thread */ }
//!     }
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

pub(crate) mod queue;
mod timer;

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use mio::event::Source;
use mio::{Events, Interest, Poll, Registry, Waker};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

pub use mio::Token;
pub use queue::EVENT_QUEUE_BOUND;
pub use timer::{TimerId, Timers};

/// Reserved: the waker's token.
pub const WAKER: Token = Token(usize::MAX);
/// Reserved: the signal pipe's token.
const SIGNALS: Token = Token(usize::MAX - 1);

/// Something that happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// A registered source is ready.
    Io {
        /// The token it was registered under.
        token: Token,
        /// It can be read.
        readable: bool,
        /// It can be written.
        writable: bool,
        /// Error or hang-up: the next read/write says which.
        closed: bool,
    },
    /// A deadline of `owner` passed.
    Timer {
        /// The token the timer was set for.
        owner: Token,
        /// Which timer.
        id: TimerId,
    },
    /// A signal asked for with [`Reactor::handle_signals`].
    Signal(libc::c_int),
    /// [`Reactor::waker`] was woken.
    Woken,
}

/// The event loop.
pub struct Reactor {
    poll: Poll,
    events: Events,
    timers: Timers,
    next_token: usize,
    waker: Arc<Waker>,
    signals: Option<Signals>,
    /// Events a blocking helper received for other sources, handed out by the next turn.
    deferred: Vec<Ready>,
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("timers", &self.timers.len())
            .field("next_token", &self.next_token)
            .finish_non_exhaustive()
    }
}

impl Reactor {
    /// A reactor with its waker; signals are handled only after [`handle_signals`](Self::handle_signals).
    pub fn new() -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Reactor {
            poll,
            events: Events::with_capacity(256),
            timers: Timers::default(),
            next_token: 0,
            waker,
            signals: None,
            deferred: Vec::new(),
        })
    }

    /// A token no source of this reactor has had before (tokens are never reused, so a stale
    /// event can never reach a newer source).
    pub fn token(&mut self) -> Token {
        self.next_token += 1;
        Token(self.next_token)
    }

    /// mio's registry, for sources registered under tokens from [`token`](Self::token).
    pub fn registry(&self) -> &Registry {
        self.poll.registry()
    }

    /// Register `source` under a fresh token.
    pub fn register(&mut self, source: &mut impl Source, interest: Interest) -> io::Result<Token> {
        let token = self.token();
        self.poll.registry().register(source, token, interest)?;
        Ok(token)
    }

    /// Change what `source`, registered under `token`, is watched for.
    pub fn reregister(
        &mut self,
        source: &mut impl Source,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.poll.registry().reregister(source, token, interest)
    }

    /// Stop watching `source`.
    pub fn deregister(&mut self, source: &mut impl Source) -> io::Result<()> {
        self.poll.registry().deregister(source)
    }

    /// Call back `owner` (as [`Ready::Timer`]) at `at`.
    pub fn timer(&mut self, at: Instant, owner: Token) -> TimerId {
        self.timers.add(at, owner)
    }

    /// Cancel timer `id` (nothing happens if it already fired).
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.timers.cancel(id);
    }

    /// For other threads to interrupt [`turn`](Self::turn) ([`Ready::Woken`]).
    pub fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Deliver SIGINT, SIGTERM and SIGHUP as [`Ready::Signal`] instead of their default
    /// action. A second SIGINT or SIGTERM before the first was handled ends the process
    /// with exit code 12 (cancelled), so a stuck loop can always be left.
    pub fn handle_signals(&mut self) -> io::Result<()> {
        if self.signals.is_some() {
            return Ok(());
        }
        let second = Arc::new(AtomicBool::new(false));
        for signal in [SIGINT, SIGTERM] {
            // Registration order is execution order: the exit check sees the flag before
            // this signal sets it.
            signal_hook::flag::register_conditional_shutdown(
                signal,
                crate::ErrorClass::Cancelled.exit_code().into(),
                Arc::clone(&second),
            )?;
            signal_hook::flag::register(signal, Arc::clone(&second))?;
        }
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        self.poll
            .registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        self.signals = Some(signals);
        Ok(())
    }

    /// Also deliver SIGCHLD as [`Ready::Signal`] (after [`handle_signals`](Self::handle_signals)),
    /// so a loop that runs child processes reaps them when they exit instead of polling.
    pub fn handle_child_exits(&mut self) -> io::Result<()> {
        self.handle_signals()?;
        match &self.signals {
            Some(signals) => signals.add_signal(libc::SIGCHLD),
            None => Ok(()),
        }
    }

    /// Give events back to be reported by the next [`turn`](Self::turn): a blocking helper
    /// (a socket's `wait_for_*`) turns the loop for one source and must not lose the others'
    /// events, which are edge-triggered and would not come again.
    pub fn defer(&mut self, events: impl IntoIterator<Item = Ready>) {
        self.deferred.extend(events);
    }

    /// Wait until something happens (or `until` passes) and append what happened to `out`,
    /// deferred events first. Timers that are due are reported even when I/O is ready too.
    pub fn turn(&mut self, out: &mut Vec<Ready>, until: Option<Instant>) -> io::Result<()> {
        let redelivered = !self.deferred.is_empty();
        out.append(&mut self.deferred);
        self.poll_into(out, until, redelivered)
    }

    /// [`turn`](Self::turn) for a blocking helper: deferred events stay deferred for the
    /// caller's own loop. (Handed back to the helper, which defers them again, they would make
    /// every turn return at once: a busy loop until the helper is done.)
    pub fn turn_blocking(
        &mut self,
        out: &mut Vec<Ready>,
        until: Option<Instant>,
    ) -> io::Result<()> {
        self.poll_into(out, until, false)
    }

    fn poll_into(
        &mut self,
        out: &mut Vec<Ready>,
        until: Option<Instant>,
        no_wait: bool,
    ) -> io::Result<()> {
        let now = Instant::now();
        let wake = match (self.timers.next_deadline(), until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // mio rounds sub-millisecond timeouts up, so a close timer does not spin.
        let mut timeout = wake.map(|w| w.saturating_duration_since(now));
        if no_wait {
            timeout = Some(std::time::Duration::ZERO);
        }
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        for event in self.events.iter() {
            match event.token() {
                WAKER => out.push(Ready::Woken),
                SIGNALS => {
                    if let Some(signals) = self.signals.as_mut() {
                        out.extend(signals.pending().map(Ready::Signal));
                    }
                }
                token => out.push(Ready::Io {
                    token,
                    readable: event.is_readable(),
                    writable: event.is_writable(),
                    closed: event.is_error() || event.is_read_closed() || event.is_write_closed(),
                }),
            }
        }
        let now = Instant::now();
        while let Some((id, owner)) = self.timers.pop_due(now) {
            out.push(Ready::Timer { owner, id });
        }
        Ok(())
    }

    /// Timers pending (for tests and the daemon's status).
    pub fn timers_pending(&self) -> usize {
        self.timers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn blocking_turns_keep_deferred_events_for_the_callers_loop() {
        let mut reactor = Reactor::new().unwrap();
        let other = Ready::Timer {
            owner: Token(7),
            id: reactor.timer(Instant::now() + Duration::from_secs(3600), Token(7)),
        };
        reactor.defer([other]);
        // A blocking helper's turn waits for its own deadline instead of getting the deferred
        // event back at once (which would make it spin).
        let mut out = Vec::new();
        let t0 = Instant::now();
        reactor
            .turn_blocking(&mut out, Some(t0 + Duration::from_millis(30)))
            .unwrap();
        assert!(out.is_empty(), "{out:?}");
        assert!(t0.elapsed() >= Duration::from_millis(25));
        // The caller's own turn gets it, without waiting.
        let t0 = Instant::now();
        reactor.turn(&mut out, None).unwrap();
        assert_eq!(out, [other]);
        assert!(t0.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn timers_wake_the_loop_without_io() {
        let mut r = Reactor::new().unwrap();
        let owner = r.token();
        let t0 = Instant::now();
        let id = r.timer(t0 + Duration::from_millis(30), owner);
        let cancelled = r.timer(t0 + Duration::from_millis(10), owner);
        r.cancel_timer(cancelled);
        let mut out = Vec::new();
        while out.is_empty() {
            r.turn(&mut out, None).unwrap();
        }
        assert!(t0.elapsed() >= Duration::from_millis(30));
        assert_eq!(out, vec![Ready::Timer { owner, id }]);
    }

    #[test]
    fn io_and_waker_are_reported_with_their_tokens() {
        let mut r = Reactor::new().unwrap();
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut a = mio::net::UnixStream::from_std(a);
        let token = r.register(&mut a, Interest::READABLE).unwrap();
        std::io::Write::write_all(&mut &b, b"x").unwrap();
        let mut out = Vec::new();
        r.turn(&mut out, Some(Instant::now() + Duration::from_secs(5)))
            .unwrap();
        assert!(matches!(out[0], Ready::Io { token: t, readable: true, .. } if t == token));
        out.clear();
        let waker = r.waker();
        std::thread::spawn(move || waker.wake().unwrap())
            .join()
            .unwrap();
        r.turn(&mut out, Some(Instant::now() + Duration::from_secs(5)))
            .unwrap();
        assert!(out.contains(&Ready::Woken), "{out:?}");
        assert_ne!(r.token(), token, "tokens are never reused");
    }

    #[test]
    fn deferred_events_come_first_without_waiting() {
        let mut r = Reactor::new().unwrap();
        let owner = r.token();
        let id = r.timer(Instant::now() + Duration::from_secs(60), owner);
        r.defer([Ready::Timer { owner, id }, Ready::Woken]);
        let mut out = Vec::new();
        let t0 = Instant::now();
        r.turn(&mut out, None).unwrap();
        assert!(t0.elapsed() < Duration::from_secs(5), "must not block");
        assert_eq!(out, vec![Ready::Timer { owner, id }, Ready::Woken]);
        out.clear();
        r.turn(&mut out, Some(Instant::now() + Duration::from_millis(10)))
            .unwrap();
        assert!(out.is_empty(), "handed out once: {out:?}");
    }

    #[test]
    fn until_bounds_the_wait() {
        let mut r = Reactor::new().unwrap();
        let t0 = Instant::now();
        let mut out = Vec::new();
        r.turn(&mut out, Some(t0 + Duration::from_millis(20)))
            .unwrap();
        assert!(out.is_empty());
        assert!(t0.elapsed() >= Duration::from_millis(19));
    }
}
