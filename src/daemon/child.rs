//! Child processes the reactor watches: hooks, and the commands that would block the loop
//! (a Wi-Fi scan, opening or closing a bearer session). Their stdout and stderr share one
//! non-blocking pipe on the reactor; they are reaped on SIGCHLD and killed at their deadline.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Instant;

use mio::unix::SourceFd;
use mio::Interest;

use crate::reactor::{Reactor, TimerId, Token};

/// A running child and what it printed.
#[derive(Debug)]
pub struct Child {
    process: std::process::Child,
    output: Option<OwnedFd>,
    /// The pipe's token (and the deadline's owner).
    pub token: Token,
    deadline: TimerId,
    /// Output not yet taken (bounded: see [`Child::read`]).
    pub collected: Vec<u8>,
    /// Bytes dropped past the bound.
    pub dropped: usize,
    status: Option<ExitStatus>,
    /// Killed at its deadline.
    pub timed_out: bool,
}

impl Child {
    /// Start `command` with its output on a pipe the reactor watches, killed at `deadline`.
    pub fn spawn(
        reactor: &mut Reactor,
        mut command: Command,
        deadline: Instant,
    ) -> io::Result<Child> {
        let (read, write) = pipe()?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(write.try_clone()?))
            .stderr(Stdio::from(write));
        let process = command.spawn()?;
        let token = reactor.token();
        reactor
            .registry()
            .register(&mut SourceFd(&read.as_raw_fd()), token, Interest::READABLE)?;
        let deadline = reactor.timer(deadline, token);
        Ok(Child {
            process,
            output: Some(read),
            token,
            deadline,
            collected: Vec::new(),
            dropped: 0,
            status: None,
            timed_out: false,
        })
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Read what the pipe has, keeping at most `bound` bytes in [`collected`](Self::collected).
    pub fn read(&mut self, reactor: &mut Reactor, bound: usize) {
        let Some(fd) = &self.output else { return };
        let mut buf = [0u8; 4096];
        loop {
            match read_fd(fd, &mut buf) {
                Ok(0) => {
                    let _ = reactor
                        .registry()
                        .deregister(&mut SourceFd(&fd.as_raw_fd()));
                    self.output = None;
                    return;
                }
                Ok(n) => {
                    let room = bound.saturating_sub(self.collected.len()).min(n);
                    self.collected.extend_from_slice(&buf[..room]);
                    self.dropped += n - room;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Kill it (at its deadline, or when the daemon stops).
    pub fn kill(&mut self) {
        let _ = self.process.kill();
    }

    /// Its deadline passed: kill it.
    pub fn expire(&mut self) {
        self.timed_out = true;
        self.kill();
    }

    /// Reap it if it has exited; its status once both it has exited and its output ended.
    pub fn poll_exit(&mut self, reactor: &mut Reactor, bound: usize) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.process.try_wait().ok().flatten();
            if self.status.is_some() {
                self.read(reactor, bound);
                // A grandchild may hold the pipe open: the child's exit ends its output.
                if let Some(fd) = self.output.take() {
                    let _ = reactor
                        .registry()
                        .deregister(&mut SourceFd(&fd.as_raw_fd()));
                }
                reactor.cancel_timer(self.deadline);
            }
        }
        self.status
    }

    /// Complete lines of [`collected`](Self::collected), taken out of it.
    pub fn take_lines(&mut self) -> Vec<String> {
        let end = match self.collected.iter().rposition(|&b| b == b'\n') {
            Some(at) => at + 1,
            None if self.status.is_some() => self.collected.len(),
            None => return Vec::new(),
        };
        let taken: Vec<u8> = self.collected.drain(..end).collect();
        String::from_utf8_lossy(&taken)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn read_fd(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: reading into a valid buffer of buf.len() bytes from an open descriptor.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds is a valid array of two ints; pipe2 fills both on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both descriptors are open and ours alone.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: setting O_NONBLOCK on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(read.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(read.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    Ok((read, write))
}
