//! Standard input on the event loop. Its flags are left alone (the descriptor is shared with
//! the shell, so it stays blocking): a pipe, terminal or socket is watched by the reactor and
//! read only after a zero-timeout poll says a read will not block; a regular file or
//! /dev/null, which epoll refuses, is simply always readable.

use std::io::{self, Read};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::Interest;

use crate::cancel::{wait, Wake};
use crate::reactor::{Reactor, Token};

/// Standard input as an unbuffered file that is never closed.
pub(crate) fn raw_stdin() -> ManuallyDrop<std::fs::File> {
    // SAFETY: fd 0 stays open for the life of the process; ManuallyDrop never closes it.
    ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(0) })
}

/// What one read of stdin gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    Data(usize),
    /// Nothing now; the reactor reports the next arrival under [`StdinSource::token`].
    Empty,
    End,
}

#[derive(Debug)]
pub(crate) struct StdinSource {
    /// `None` for a regular file (always readable).
    token: Option<Token>,
    ended: bool,
}

impl StdinSource {
    pub(crate) fn register(reactor: &mut Reactor) -> io::Result<StdinSource> {
        let token = match reactor.register(&mut SourceFd(&0), Interest::READABLE) {
            Ok(token) => Some(token),
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => None,
            Err(e) => return Err(e),
        };
        Ok(StdinSource {
            token,
            ended: false,
        })
    }

    pub(crate) fn token(&self) -> Option<Token> {
        self.token
    }

    pub(crate) fn ended(&self) -> bool {
        self.ended
    }

    /// Read what is there without blocking.
    pub(crate) fn read(&mut self, reactor: &mut Reactor, buf: &mut [u8]) -> io::Result<Input> {
        if self.ended {
            return Ok(Input::End);
        }
        if self.token.is_some() && wait(0, libc::POLLIN, None, Some(Duration::ZERO))? != Wake::Ready
        {
            return Ok(Input::Empty);
        }
        let n = loop {
            match raw_stdin().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if n == 0 {
            self.finish(reactor);
            return Ok(Input::End);
        }
        Ok(Input::Data(n))
    }

    /// Stop watching (at the end of input, or when the command no longer wants it).
    pub(crate) fn finish(&mut self, reactor: &mut Reactor) {
        self.ended = true;
        if self.token.take().is_some() {
            let _ = reactor.deregister(&mut SourceFd(&0));
        }
    }
}
