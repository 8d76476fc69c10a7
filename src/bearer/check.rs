//! The connectivity check, off the reactor: a GET of the check URL on a thread of its own whose
//! answer comes back as one datagram the reactor watches.
//!
//! Why a thread and not the reactor: the check is a whole HTTP(S) exchange — name lookup
//! (getaddrinfo, which cannot be driven by a poll), proxy, TLS, redirects — and the blocking
//! [`crate::http::Client`] already does all of it. Re-doing that on mio for one GET every
//! link change would be a second HTTP stack. The thread is visible and bounded: at most one
//! check is live; a check started anew (the preferred link changed) cancels the old one, whose
//! thread then ends at its next wait (or after its name lookup, within the check timeout).
//! Nothing joins a thread from a reactor handler, so the reactor never waits for one.

use std::io;
use std::time::Duration;

use mio::net::UnixDatagram;
use mio::{Interest, Token};

use crate::cancel::CancelToken;
use crate::reactor::Reactor;

/// The running check, if any, and the socket its answers arrive on.
#[derive(Debug)]
pub(crate) struct Checker {
    answers: UnixDatagram,
    /// Cloned into each check thread.
    sender: std::os::unix::net::UnixDatagram,
    token: Token,
    generation: u32,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    generation: u32,
    /// The configuration the check goes through.
    via: String,
    cancel: CancelToken,
}

/// A finished check: through which configuration, and whether it answered 2xx.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub via: String,
    pub passed: bool,
}

impl Checker {
    /// Register the answer socket on `reactor`.
    pub fn open(reactor: &mut Reactor) -> io::Result<Checker> {
        let (sender, answers) = std::os::unix::net::UnixDatagram::pair()?;
        answers.set_nonblocking(true)?;
        let mut answers = UnixDatagram::from_std(answers);
        let token = reactor.register(&mut answers, Interest::READABLE)?;
        Ok(Checker {
            answers,
            sender,
            token,
            generation: 0,
            running: None,
        })
    }

    pub fn token(&self) -> Token {
        self.token
    }

    /// The configuration a check is running through.
    pub fn running_via(&self) -> Option<&str> {
        self.running.as_ref().map(|r| r.via.as_str())
    }

    /// Start a check of `url` through `via` (cancelling one that runs). If no thread can be
    /// started the check counts as failed at once.
    pub fn start(&mut self, url: &str, via: &str, timeout: Duration) -> io::Result<()> {
        self.stop();
        self.generation = self.generation.wrapping_add(1);
        let cancel = CancelToken::new()?;
        let sender = self.sender.try_clone()?;
        let (generation, url, thread_cancel) = (self.generation, url.to_string(), cancel.clone());
        std::thread::Builder::new()
            .name("boardnet-check".into())
            .spawn(move || {
                let passed = get_answers_2xx(&url, timeout, thread_cancel);
                let mut answer = generation.to_le_bytes().to_vec();
                answer.push(u8::from(passed));
                // A blocking send of a few bytes; the manager may be gone (socket closed).
                let _ = sender.send(&answer);
            })?;
        self.running = Some(Running {
            generation,
            via: via.to_string(),
            cancel,
        });
        Ok(())
    }

    /// Cancel the running check; its answer, if it still comes, is ignored.
    pub fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.cancel.cancel();
        }
    }

    /// The running check's outcome if its answer has arrived (never blocks; answers of
    /// cancelled checks are dropped).
    pub fn poll(&mut self) -> Option<Outcome> {
        let mut buf = [0u8; 8];
        while let Ok(n) = self.answers.recv(&mut buf) {
            let Some(running) = self.running.as_ref() else {
                continue;
            };
            if n == 5 && buf[..4] == running.generation.to_le_bytes() {
                let via = self.running.take().map(|r| r.via).unwrap_or_default();
                return Some(Outcome {
                    via,
                    passed: buf[4] == 1,
                });
            }
        }
        None
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// GET `url` once, bounded by `timeout`; true on a 2xx answer.
fn get_answers_2xx(url: &str, timeout: Duration, cancel: CancelToken) -> bool {
    let client = match crate::http::Client::builder()
        .connect_timeout(Some(timeout))
        .max_time(Some(timeout))
        .cancel_token(cancel)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            log::warn!("connectivity check {url}: {e}");
            return false;
        }
    };
    match client.get(url).send() {
        Ok(reply) if (200..300).contains(&reply.status()) => true,
        Ok(reply) => {
            log::info!("connectivity check {url}: HTTP {}", reply.status());
            false
        }
        Err(e) => {
            log::info!("connectivity check {url}: {e}");
            false
        }
    }
}
