//! Cancelling blocking I/O without threads: a self-pipe that every wait polls next to its socket.
//!
//! A blocking transfer sleeps in `poll(2)` on its socket *and* on the read end of this pipe, so
//! [`CancelToken::cancel`] (from another thread) or a SIGINT/SIGTERM (from a signal handler, via
//! signal-hook's async-signal-safe pipe writer) wakes it at once. This is QNetworkReply::abort()
//! for a synchronous world.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The `io::ErrorKind` a cancellation travels as inside an `io::Error` (through rustls, ureq
/// and our own `Read`/`Write` impls). Never `Interrupted`: std's `write_all`, `read_exact` and
/// `io::copy` retry `Interrupted` without limit, so a cancelled wait reported that way was
/// retried forever — a process spinning at 100 % CPU after SIGINT.
pub(crate) const CANCELLED: io::ErrorKind = io::ErrorKind::Other;

/// A cloneable handle: cancelling any clone cancels them all. Once cancelled it stays cancelled.
#[derive(Debug, Clone)]
pub struct CancelToken {
    pipe: Arc<Pipe>,
}

#[derive(Debug)]
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    /// Set before the pipe is written, so the hot path checks a flag instead of polling.
    fired: Arc<AtomicBool>,
}

impl CancelToken {
    /// A new, not yet cancelled token.
    pub fn new() -> io::Result<Self> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: fds is a valid array of two ints; pipe2 fills both on success.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
        let (read, write) = unsafe {
            use std::os::fd::FromRawFd;
            (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
        };
        Ok(CancelToken {
            pipe: Arc::new(Pipe {
                read,
                write,
                fired: Arc::new(AtomicBool::new(false)),
            }),
        })
    }

    /// Cancel: every current and future wait on this token returns at once.
    pub fn cancel(&self) {
        self.pipe.fired.store(true, Ordering::SeqCst);
        // The pipe is never drained, so it stays readable (level-triggered) forever after; a full
        // pipe (EAGAIN) is fine for the same reason.
        // SAFETY: writing one byte from a valid buffer to an open descriptor.
        let _ = unsafe { libc::write(self.pipe.write.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
    }

    /// Whether [`cancel`](Self::cancel) was called or a registered signal arrived.
    pub fn is_cancelled(&self) -> bool {
        self.pipe.fired.load(Ordering::Relaxed)
    }

    /// The descriptor that becomes readable on cancellation, for `poll(2)` or a mio registration.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.pipe.read.as_fd()
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.pipe.read.as_raw_fd()
    }

    /// Cancel this token on SIGINT and SIGTERM. A signal arriving when the token is already
    /// cancelled terminates the process at once with exit code 12 (cancelled): a transfer stuck
    /// in a blocking system resolver call cannot be woken by the pipe, and a user pressing
    /// Ctrl-C twice wants out.
    pub fn cancel_on_termination_signals(&self) -> io::Result<()> {
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Order matters (signal-hook runs actions in registration order): the exit check
            // sees the flag before this signal sets it, then the flag, then the pipe wake-up.
            signal_hook::flag::register_conditional_shutdown(
                signal,
                crate::ErrorClass::Cancelled.exit_code().into(),
                Arc::clone(&self.pipe.fired),
            )?;
            signal_hook::flag::register(signal, Arc::clone(&self.pipe.fired))?;
            signal_hook::low_level::pipe::register_raw(signal, self.pipe.write.try_clone()?)?;
        }
        Ok(())
    }
}

/// The hook of [`with_wait_hook`]: a descriptor and what to run when it is readable.
#[derive(Clone, Copy)]
struct Hook {
    fd: RawFd,
    /// Valid while the `with_wait_hook` call that set it runs (it resets the slot on return
    /// and on unwind, before the borrow it was made from ends).
    on_readable: *mut (dyn FnMut() -> bool + 'static),
    /// The hook asked to end the transfer: every wait now ends as cancelled.
    stopped: bool,
}

thread_local! {
    static HOOK: std::cell::Cell<Option<Hook>> = const { std::cell::Cell::new(None) };
}

/// Run `body` with something else to watch while it blocks in transfers on this thread: when
/// `fd` is readable, `on_readable` runs between polls (e.g. reads bearer events); if it returns
/// true, that wait and every later one in `body` end as cancelled (the transfer stops, the
/// caller's cancel token stays as it was). Scoped: the hook is gone when `body` returns or
/// unwinds; an enclosing hook is restored.
pub(crate) fn with_wait_hook<R>(
    fd: RawFd,
    on_readable: &mut dyn FnMut() -> bool,
    body: impl FnOnce() -> R,
) -> R {
    let on_readable: *mut (dyn FnMut() -> bool + '_) = on_readable;
    // SAFETY: only the trait object's lifetime bound changes (same layout). The pointer lives in
    // HOOK until `Restore` drops at the end of this call (also on unwind), while the borrow it
    // came from is still alive; nothing else can take it out of this thread's slot.
    let on_readable: *mut (dyn FnMut() -> bool + 'static) =
        unsafe { std::mem::transmute(on_readable) };
    struct Restore(Option<Hook>);
    impl Drop for Restore {
        fn drop(&mut self) {
            HOOK.with(|h| h.set(self.0));
        }
    }
    let hook = Hook {
        fd,
        on_readable,
        stopped: false,
    };
    let _restore = Restore(HOOK.with(|h| h.replace(Some(hook))));
    body()
}

/// Run the hook (its descriptor is readable); true if it stopped the transfer. Taken out while
/// it runs, so a wait inside it (a nested transfer) does not see itself.
fn run_hook() -> bool {
    let Some(mut hook) = HOOK.with(|h| h.take()) else {
        return false;
    };
    // SAFETY: the hook is in the slot only while its `with_wait_hook` call runs (see there),
    // and this thread is inside that call now; taken out, it cannot run nested.
    hook.stopped |= unsafe { (*hook.on_readable)() };
    HOOK.with(|h| {
        if h.get().is_none() {
            h.set(Some(hook));
        }
    });
    hook.stopped
}

/// Whether this thread's hook stopped the transfer (see [`with_wait_hook`]).
fn hook_stopped() -> bool {
    HOOK.with(|h| h.get().is_some_and(|hook| hook.stopped))
}

/// Which of the two descriptors a [`wait`] saw ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    Ready,
    Cancelled,
    TimedOut,
}

/// Block until `fd` has `events` (POLLIN/POLLOUT), the token is cancelled, or `timeout` passes.
/// EINTR is retried with the time left, so signals that do not cancel are invisible here.
pub(crate) fn wait(
    fd: RawFd,
    events: libc::c_short,
    cancel: Option<&CancelToken>,
    timeout: Option<std::time::Duration>,
) -> io::Result<Wake> {
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        if hook_stopped() {
            return Ok(Wake::Cancelled);
        }
        let hook_fd = HOOK.with(|h| h.get().map_or(-1, |hook| hook.fd));
        let mut fds = [
            libc::pollfd {
                fd,
                events,
                revents: 0,
            },
            libc::pollfd {
                fd: cancel.map_or(-1, CancelToken::raw_fd),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: hook_fd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                // Round up so a 0.4 ms remainder does not spin with a zero timeout.
                left.as_millis()
                    .saturating_add(u128::from(left.subsec_nanos() % 1_000_000 != 0))
                    .min(i32::MAX as u128) as libc::c_int
            }
        };
        // SAFETY: fds is a valid array of three pollfd; a negative fd is ignored by poll(2).
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 3, ms) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if fds[2].revents != 0 {
            // The hook may have stopped the transfer or cancelled the token.
            if run_hook() || cancel.is_some_and(CancelToken::is_cancelled) {
                return Ok(Wake::Cancelled);
            }
            if fds[0].revents == 0 && fds[1].revents == 0 {
                continue;
            }
        }
        if fds[1].revents != 0 {
            return Ok(Wake::Cancelled);
        }
        if fds[0].revents != 0 {
            // POLLERR/POLLHUP count as ready: the following read/write reports the real error.
            return Ok(Wake::Ready);
        }
        if rc == 0 {
            return Ok(Wake::TimedOut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn cancel_wakes_a_wait_and_stays_cancelled() {
        let token = CancelToken::new().unwrap();
        let clone = token.clone();
        assert!(!token.is_cancelled());
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let t0 = Instant::now();
        assert_eq!(
            wait(
                a.as_raw_fd(),
                libc::POLLIN,
                Some(&token),
                Some(Duration::from_millis(30))
            )
            .unwrap(),
            Wake::TimedOut
        );
        assert!(t0.elapsed() >= Duration::from_millis(30));
        clone.cancel();
        assert!(token.is_cancelled());
        for _ in 0..3 {
            assert_eq!(
                wait(a.as_raw_fd(), libc::POLLIN, Some(&token), None).unwrap(),
                Wake::Cancelled
            );
        }
    }

    #[test]
    fn a_wait_hook_runs_when_its_descriptor_is_readable_and_may_cancel() {
        use std::io::{Read, Write};
        let token = CancelToken::new().unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (mut events, mut event_source) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut ran = 0;
        let fd = events.as_raw_fd();
        let mut hook = || {
            let mut byte = [0u8];
            let _ = events.read(&mut byte);
            ran += 1;
            // The second event is the one that matters.
            ran == 2
        };
        with_wait_hook(fd, &mut hook, || {
            event_source.write_all(b"1").unwrap();
            assert_eq!(
                wait(
                    a.as_raw_fd(),
                    libc::POLLIN,
                    Some(&token),
                    Some(Duration::from_millis(50))
                )
                .unwrap(),
                Wake::TimedOut,
                "an event that does not cancel leaves the wait waiting"
            );
            event_source.write_all(b"2").unwrap();
            assert_eq!(
                wait(a.as_raw_fd(), libc::POLLIN, Some(&token), None).unwrap(),
                Wake::Cancelled
            );
            assert_eq!(
                wait(a.as_raw_fd(), libc::POLLIN, None, None).unwrap(),
                Wake::Cancelled,
                "once stopped, every wait in the body ends"
            );
        });
        assert_eq!(ran, 2);
        assert!(!token.is_cancelled(), "the caller's token is left alone");
        event_source.write_all(b"3").unwrap();
        assert_eq!(
            wait(
                a.as_raw_fd(),
                libc::POLLIN,
                None,
                Some(Duration::from_millis(20))
            )
            .unwrap(),
            Wake::TimedOut,
            "no hook once with_wait_hook returned"
        );
        assert_eq!(ran, 2);
    }

    #[test]
    fn readiness_is_reported() {
        use std::io::Write;
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        b.write_all(b"x").unwrap();
        assert_eq!(
            wait(
                a.as_raw_fd(),
                libc::POLLIN,
                None,
                Some(Duration::from_secs(5))
            )
            .unwrap(),
            Wake::Ready
        );
    }
}
