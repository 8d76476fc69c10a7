//! The connectivity check on the reactor: one GET of the check URL over a
//! [`StreamSocket`] (`tcp://` or `tls://`; its name lookup, connect and handshake are on the
//! reactor too), decided by the reply's status line. No thread and no blocking call: while the
//! check waits, every other source on the reactor is served.
//!
//! The check is a probe, not a transfer: a 2xx status line is all it needs. Redirects are not
//! followed (a captive portal answers with one, and must not count as online) and no proxy is
//! used (the check asks whether this link reaches the network by itself).

use std::time::{Duration, Instant};

use crate::reactor::{Reactor, Ready, TimerId, Token};
use crate::socket::{ConnectOptions, Endpoint, SocketEvent, StreamSocket};

/// The reply's first line must fit in this much (`HTTP/1.1 204 No Content\r\n`).
const STATUS_LINE_MAX: usize = 1024;

/// The running check, if any.
#[derive(Debug)]
pub(crate) struct Checker {
    /// The owner of the checks' deadlines.
    timer_token: Token,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    /// The configuration the check goes through.
    via: String,
    socket: StreamSocket,
    deadline: TimerId,
    /// The start of the reply, until its status line is complete.
    reply: Vec<u8>,
}

/// A finished check: through which configuration, and whether it answered 2xx.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub via: String,
    pub passed: bool,
}

impl Checker {
    pub fn new(reactor: &mut Reactor) -> Checker {
        Checker {
            timer_token: reactor.token(),
            running: None,
        }
    }

    /// The configuration a check is running through.
    pub fn running_via(&self) -> Option<&str> {
        self.running.as_ref().map(|r| r.via.as_str())
    }

    /// Start a check of `url` through `via`, ending within `timeout` (a running one is
    /// dropped). An error means the URL cannot be checked at all.
    pub fn start(
        &mut self,
        reactor: &mut Reactor,
        url: &str,
        via: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        self.stop();
        let (endpoint, request) = probe(url)?;
        let options = ConnectOptions {
            timeout: Some(timeout),
            ..ConnectOptions::default()
        };
        let mut socket =
            StreamSocket::connect(reactor, &endpoint, options).map_err(|e| e.to_string())?;
        // Queued while connecting (as in Qt), sent once connected (and encrypted).
        socket
            .write(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let deadline = reactor.timer(Instant::now() + timeout, self.timer_token);
        self.running = Some(Running {
            via: via.to_string(),
            socket,
            deadline,
            reply: Vec::new(),
        });
        Ok(())
    }

    /// Drop the running check (its socket closes; a deadline still set fires for nothing).
    pub fn stop(&mut self) {
        if let Some(mut running) = self.running.take() {
            running.socket.abort();
        }
    }

    /// Let the check see a reactor event: whether it was the check's, and its outcome if this
    /// event decided it.
    pub fn handle(&mut self, reactor: &mut Reactor, ready: &Ready) -> (bool, Option<Outcome>) {
        let Some(running) = self.running.as_mut() else {
            return (
                matches!(ready, Ready::Timer { owner, .. } if *owner == self.timer_token),
                None,
            );
        };
        let passed = match *ready {
            Ready::Timer { owner, id } if owner == self.timer_token => {
                if id != running.deadline {
                    return (true, None);
                }
                log::info!("connectivity check through {}: timed out", running.via);
                Some(false)
            }
            _ if running.socket.handle(reactor, ready) => running.progress(),
            _ => return (false, None),
        };
        let Some(passed) = passed else {
            return (true, None);
        };
        let mut running = self.running.take().expect("checked above");
        running.socket.abort();
        reactor.cancel_timer(running.deadline);
        (
            true,
            Some(Outcome {
                via: running.via,
                passed,
            }),
        )
    }
}

impl Running {
    /// Read what arrived; `Some(passed)` once the status line is in or the socket ended.
    fn progress(&mut self) -> Option<bool> {
        while let Some(event) = self.socket.next_event() {
            match event {
                SocketEvent::ReadyRead | SocketEvent::ReadClosed => {
                    let mut buf = [0u8; 512];
                    loop {
                        match self.socket.read(&mut buf) {
                            Ok(0) => return Some(self.verdict()),
                            Ok(n) => {
                                let room = STATUS_LINE_MAX.saturating_sub(self.reply.len());
                                self.reply.extend_from_slice(&buf[..n.min(room)]);
                                if self.reply.contains(&b'\n') || room <= n {
                                    return Some(self.verdict());
                                }
                            }
                            Err(_) => break,
                        }
                    }
                }
                SocketEvent::Error(e) => {
                    log::info!("connectivity check through {}: {e}", self.via);
                    return Some(false);
                }
                SocketEvent::Disconnected => return Some(self.verdict()),
                _ => {}
            }
        }
        None
    }

    /// Whether the reply so far starts with a 2xx status line.
    fn verdict(&self) -> bool {
        let line = self.reply.split(|b| *b == b'\n').next().unwrap_or_default();
        let status = status_code(line);
        log::info!(
            "connectivity check through {}: {}",
            self.via,
            status.map_or("no HTTP status line".to_string(), |c| format!("HTTP {c}"))
        );
        status.is_some_and(|c| (200..300).contains(&c))
    }
}

/// The status code of an `HTTP/1.x NNN reason` line.
fn status_code(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// Where to connect for `url` and the request to send.
fn probe(url: &str) -> Result<(Endpoint, String), String> {
    let target = crate::http::url::parse(url).map_err(|e| e.to_string())?;
    let uri = &target.uri;
    let scheme = if uri.scheme_str() == Some("https") {
        "tls"
    } else {
        "tcp"
    };
    let host = uri.host().ok_or("the check URL has no host")?;
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "tls" { 443 } else { 80 });
    let endpoint: Endpoint = format!("{scheme}://{host}:{port}")
        .parse()
        .map_err(|e: crate::socket::SocketError| e.to_string())?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nConnection: close\r\n\r\n",
        uri.authority().map_or(host, |a| a.as_str()),
        crate::http::USER_AGENT
    );
    Ok((endpoint, request))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_read_strictly() {
        assert_eq!(status_code(b"HTTP/1.1 204 No Content\r"), Some(204));
        assert_eq!(status_code(b"HTTP/1.0 302 Found"), Some(302));
        assert_eq!(status_code(b"HTTP/1.1 20"), None);
        assert_eq!(status_code(b"SSH-2.0-OpenSSH"), None);
        assert_eq!(status_code(b"HTTP/1.1 2x4 odd"), None);
    }

    #[test]
    fn probes_name_the_endpoint_and_the_path() {
        let (endpoint, request) = probe("http://192.0.2.1:8080/ok?x=1").unwrap();
        assert_eq!(endpoint.to_string(), "tcp://192.0.2.1:8080");
        assert!(request.starts_with("GET /ok?x=1 HTTP/1.1\r\nHost: 192.0.2.1:8080\r\n"));
        let (endpoint, _) = probe("https://[2001:db8::1]/").unwrap();
        assert_eq!(endpoint.to_string(), "tls://[2001:db8::1]:443");
        assert!(probe("ftp://example.com/").is_err());
    }
}
