//! Sockets under an FTP session: non-blocking TCP whose blocking reads and writes wait in
//! `poll(2)` next to the cancel pipe, with the session's deadlines, and TLS on top when asked.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::{FtpError, Stop};
use crate::cancel::{self, CancelToken, Wake};
use crate::net::{connect_one, ConnectOptions, Interrupt, SpeedGuard};

/// The limits every wait of a session obeys.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Budget for connecting (name lookup aside), split over the addresses tried.
    pub connect: Option<Duration>,
    /// Longest silence: a control reply, or the next data bytes, that takes longer is a
    /// timeout (the server stopped answering). `None`: wait for ever.
    pub idle: Option<Duration>,
    /// The whole session (or transfer) must end by then (`--max-time`).
    pub deadline: Option<(Instant, Duration)>,
    /// `--speed-limit`/`--speed-time` on data connections: (bytes/s, window).
    pub speed: Option<(u64, Duration)>,
    /// Cancel every wait of the session (from another thread or a signal).
    pub cancel: Option<CancelToken>,
    /// SO_BINDTODEVICE for control and data connections.
    pub interface: Option<String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect: Some(crate::net::DEFAULT_CONNECT_TIMEOUT),
            idle: Some(crate::net::DEFAULT_IDLE_TIMEOUT),
            deadline: None,
            speed: None,
            cancel: None,
            interface: None,
        }
    }
}

impl Limits {
    fn check_cancel(&self) -> Result<(), Stop> {
        if self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            return Err(Stop::Cancelled);
        }
        Ok(())
    }

    /// Wait for `events` on `fd` for at most the idle time, the session deadline and (for
    /// data) the end of the speed window.
    fn wait(
        &self,
        fd: std::os::fd::RawFd,
        events: libc::c_short,
        idle_what: &'static str,
        speed: Option<&mut SpeedGuardState>,
    ) -> io::Result<()> {
        let started = Instant::now();
        let mut speed = speed;
        loop {
            let now = Instant::now();
            let idle_end = self.idle.map(|idle| started + idle);
            let wake = [
                idle_end,
                self.deadline.map(|(at, _)| at),
                speed.as_deref().map(|s| s.guard.next_check()),
            ]
            .into_iter()
            .flatten()
            .min();
            if let Some((at, total)) = self.deadline {
                if now >= at {
                    return Err(Stop::Timeout {
                        what: super::error::WHOLE_TRANSFER,
                        after: total,
                    }
                    .into());
                }
            }
            if let (Some(end), Some(idle)) = (idle_end, self.idle) {
                if now >= end {
                    return Err(Stop::Timeout {
                        what: idle_what,
                        after: idle,
                    }
                    .into());
                }
            }
            let left = wake.map(|at| at.saturating_duration_since(now));
            match cancel::wait(fd, events, self.cancel.as_ref(), left)? {
                Wake::Ready => return Ok(()),
                Wake::Cancelled => return Err(Stop::Cancelled.into()),
                Wake::TimedOut => {
                    if let Some(s) = speed.as_deref_mut() {
                        s.record(0)?;
                    }
                }
            }
        }
    }
}

/// `--speed-limit` accounting of one data connection (HTTP's guard).
#[derive(Debug)]
struct SpeedGuardState {
    guard: SpeedGuard,
}

impl SpeedGuardState {
    fn record(&mut self, bytes: usize) -> Result<(), Stop> {
        match self.guard.record(bytes, Instant::now()) {
            Ok(()) => Ok(()),
            Err(Interrupt::Stalled { limit, window }) => Err(Stop::Stalled { limit, window }),
            Err(_) => Err(Stop::Cancelled),
        }
    }
}

/// SO_RCVBUF of data connections. Linux's receive-buffer autotuning grows the window only as
/// fast as it sees the reader drain it; a reader that keeps up with a fast sender then holds
/// the sender back (measured against pyftpdlib on loopback, 1 GiB: 0.44–0.52 s with
/// autotuning, 0.18–0.27 s with 2 MiB, curl 0.25–0.28 s). The kernel only uses it for data
/// that is queued, so it costs memory only when the disk is slower than the network.
const DATA_RECV_BUFFER: usize = 2 << 20;

/// A connected TCP socket (non-blocking underneath) with blocking `Read`/`Write` that obey
/// the session's [`Limits`].
#[derive(Debug)]
pub(crate) struct Socket {
    stream: TcpStream,
    limits: Arc<Limits>,
    /// What a silent peer is called in a timeout message.
    idle_what: &'static str,
    speed: Option<SpeedGuardState>,
}

impl Socket {
    fn new(stream: TcpStream, limits: Arc<Limits>, idle_what: &'static str, data: bool) -> Self {
        if data {
            // Advisory: a smaller buffer only costs speed.
            let _ = socket2::SockRef::from(&stream).set_recv_buffer_size(DATA_RECV_BUFFER);
        }
        let speed = data
            .then_some(limits.speed)
            .flatten()
            .map(|(limit, window)| SpeedGuardState {
                guard: SpeedGuard::new(limit, window, Instant::now()),
            });
        Socket {
            stream,
            limits,
            idle_what,
            speed,
        }
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// Half-close: the peer sees the end of an upload.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        self.stream.shutdown(std::net::Shutdown::Write)
    }

    fn account(&mut self, n: usize) -> io::Result<()> {
        self.limits.check_cancel()?;
        if let Some(s) = self.speed.as_mut() {
            s.record(n)?;
        }
        Ok(())
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match (&self.stream).read(buf) {
                Ok(n) => {
                    self.account(n)?;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.limits.wait(
                    self.stream.as_raw_fd(),
                    libc::POLLIN,
                    self.idle_what,
                    self.speed.as_mut(),
                )?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match (&self.stream).write(buf) {
                Ok(n) => {
                    self.account(n)?;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.limits.wait(
                    self.stream.as_raw_fd(),
                    libc::POLLOUT,
                    "sending to the server",
                    self.speed.as_mut(),
                )?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A control or data connection: plain, or TLS over the same socket.
pub(crate) enum Channel {
    Plain(Socket),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, Socket>>),
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Channel::Plain(s) => f.debug_tuple("Plain").field(s).finish(),
            #[cfg(feature = "tls")]
            Channel::Tls(s) => f.debug_tuple("Tls").field(&s.sock).finish(),
        }
    }
}

impl Channel {
    pub(crate) fn socket(&self) -> &Socket {
        match self {
            Channel::Plain(s) => s,
            #[cfg(feature = "tls")]
            Channel::Tls(s) => &s.sock,
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        !matches!(self, Channel::Plain(_))
    }

    /// Wrap in TLS as a client of `host`, handshake included. Data connections pass the
    /// control connection's configuration, so their handshake resumes its session (servers
    /// such as vsftpd require that, to know the data connection is ours).
    #[cfg(feature = "tls")]
    pub(crate) fn start_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        host: &str,
    ) -> Result<Channel, FtpError> {
        use rustls_pki_types::ServerName;
        let Channel::Plain(mut sock) = self else {
            return Ok(self);
        };
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            FtpError::InvalidRequest(format!("\"{host}\" is not a valid TLS server name"))
        })?;
        let mut conn = rustls::ClientConnection::new(config, name)
            .map_err(|e| FtpError::Tls(crate::tls::failure_of(&e, host)))?;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut sock) {
                return Err(match e.get_ref().and_then(|e| e.downcast_ref()) {
                    Some(tls) => FtpError::Tls(crate::tls::handshake_failure_of(tls, host, &conn)),
                    None => FtpError::from_io(e, "TLS handshake"),
                });
            }
        }
        Ok(Channel::Tls(Box::new(rustls::StreamOwned::new(conn, sock))))
    }

    /// End an upload: TLS close_notify, then a TCP half-close, so the server knows the file
    /// is complete and not cut; then wait for the server to close its side. Closing with
    /// unread bytes (a TLS 1.3 session ticket, the server's close_notify) would send a reset,
    /// and a reset can destroy the end of the upload before the server has read it.
    pub(crate) fn finish_upload(&mut self) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Channel::Tls(s) = self {
            s.conn.send_close_notify();
            while s.conn.wants_write() {
                s.conn.write_tls(&mut s.sock)?;
            }
        }
        self.socket().shutdown_write()?;
        let mut sink = [0u8; 512];
        loop {
            match self.read(&mut sink) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                // The upload is complete on our side; the server's verdict is its reply.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Read for Channel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Channel::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Channel::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Channel::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Channel::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Channel::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Channel::Tls(s) => s.flush(),
        }
    }
}

/// Connect to `addrs` in turn (the connect budget split geometrically, as for HTTP).
pub(crate) fn connect(
    addrs: &[SocketAddr],
    limits: &Arc<Limits>,
    idle_what: &'static str,
    data: bool,
) -> Result<Socket, FtpError> {
    let opts = ConnectOptions {
        interface: limits.interface.clone(),
    };
    let started = Instant::now();
    let mut last = None;
    for (i, addr) in addrs.iter().enumerate() {
        let mut budget = limits.connect.map(|c| {
            let left = c.saturating_sub(started.elapsed());
            if i + 1 == addrs.len() {
                left
            } else {
                left / 2
            }
        });
        if let Some((at, _)) = limits.deadline {
            let left = at.saturating_duration_since(Instant::now());
            budget = Some(budget.map_or(left, |b| b.min(left)));
        }
        log::debug!("connecting to {addr}");
        match connect_one(*addr, &opts, budget, limits.cancel.as_ref()) {
            Ok(stream) => return Ok(Socket::new(stream, Arc::clone(limits), idle_what, data)),
            Err(e) => match e.get_ref().and_then(|x| x.downcast_ref::<Interrupt>()) {
                Some(Interrupt::Cancelled) => return Err(FtpError::Cancelled),
                Some(_) => {
                    last = Some(match limits.deadline {
                        Some((at, total)) if Instant::now() >= at => FtpError::Timeout {
                            what: super::error::WHOLE_TRANSFER,
                            after: total,
                        },
                        _ => FtpError::Timeout {
                            what: "connecting",
                            after: limits.connect.unwrap_or_default(),
                        },
                    })
                }
                None if e.kind() == io::ErrorKind::TimedOut => {
                    last = Some(FtpError::Timeout {
                        what: "connecting (the kernel gave up)",
                        after: started.elapsed(),
                    })
                }
                None if e.kind() == io::ErrorKind::ConnectionRefused => {
                    last = Some(FtpError::ConnectionRefused {
                        addr: addr.to_string(),
                    })
                }
                None => match crate::socket::SocketError::of(&e) {
                    Some(crate::socket::SocketError::InvalidEndpoint(why)) => {
                        return Err(FtpError::InvalidRequest(why.clone()))
                    }
                    _ => last = Some(FtpError::Connection(format!("connect to {addr}: {e}"))),
                },
            },
        }
    }
    Err(last.unwrap_or_else(|| FtpError::Connection("no address to connect to".into())))
}

/// A listening socket for an active-mode data connection, on `ip` (the control
/// connection's local address), bound to the session's interface.
pub(crate) fn listen(ip: IpAddr, limits: &Arc<Limits>) -> Result<TcpListener, FtpError> {
    use socket2::{Domain, Protocol, Socket as RawSocket, Type};
    let local = |e: io::Error| FtpError::Connection(format!("active mode: cannot listen: {e}"));
    let addr = SocketAddr::new(ip, 0);
    let sock = RawSocket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(local)?;
    if let Some(iface) = &limits.interface {
        crate::socket::bind_to_interface(&sock, iface)
            .map_err(|e| FtpError::from_io(e.into_io(), "active mode"))?;
    }
    sock.bind(&addr.into()).map_err(local)?;
    sock.listen(1).map_err(local)?;
    sock.set_nonblocking(true).map_err(local)?;
    Ok(sock.into())
}

/// Accept the server's data connection (active mode), waiting at most the idle time.
pub(crate) fn accept(listener: &TcpListener, limits: &Arc<Limits>) -> Result<Socket, FtpError> {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                log::debug!("data connection from {peer}");
                stream
                    .set_nonblocking(true)
                    .map_err(|e| FtpError::from_io(e, "data connection"))?;
                return Ok(Socket::new(stream, Arc::clone(limits), "waiting for data", true));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => limits
                .wait(
                    listener.as_raw_fd(),
                    libc::POLLIN,
                    "waiting for the server to connect (active mode; a firewall or NAT in the way? try passive)",
                    None,
                )
                .map_err(|e| FtpError::from_io(e, "data connection"))?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FtpError::from_io(e, "data connection")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_data_write_returns_instead_of_retrying() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let token = CancelToken::new().unwrap();
        let limits = Arc::new(Limits {
            cancel: Some(token.clone()),
            ..Limits::default()
        });
        let mut data = connect(&[addr], &limits, "waiting for data", true).unwrap();
        let _server_side = listener.accept().unwrap();
        token.cancel();
        let (done_tx, done) = std::sync::mpsc::channel();
        // Detached: if the write spins, the test fails on the timeout below, not by hanging.
        std::thread::spawn(move || {
            let result = data.write_all(&[0u8; 64 * 1024]);
            let _ = done_tx.send(result.map_err(|e| FtpError::from_io(e, "data connection")));
        });
        let result = done
            .recv_timeout(Duration::from_secs(5))
            .expect("write_all still retries a cancelled write after 5 s");
        assert!(matches!(result, Err(FtpError::Cancelled)), "{result:?}");
    }
}
