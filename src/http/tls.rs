//! HTTPS: rustls (ring provider) over our own sockets, with key pinning and failures by name.
//!
//! The rustls configuration (verifier, trust store, pins, ignore list) comes from
//! [`crate::tls`]; this module builds it lazily (a plain-HTTP run never loads the system trust
//! store) and drives the connection over a [`Socket`] or a CONNECT tunnel as a ureq transport.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rustls::client::UnbufferedClientConnection;
use rustls::unbuffered::ConnectionState;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, Transport, TransportAdapter,
};

use super::buffers::IoBuffers;
use super::transport::{record_tls_handshake, to_ureq, Conn, Socket};
use crate::tls::{
    client_config, failure_of, handshake_failure_of, TlsFailure, TlsOptions, TlsSetupError,
};

fn rustls_error(err: &io::Error) -> Option<&rustls::Error> {
    err.get_ref()?.downcast_ref::<rustls::Error>()
}

fn handshake_error(failure: TlsFailure) -> ureq::Error {
    ureq::Error::Other(Box::new(TlsSetupError(failure)))
}

fn tls_error(err: io::Error, host: &str) -> ureq::Error {
    match rustls_error(&err) {
        Some(e) => handshake_error(failure_of(e, host)),
        None => to_ureq(err),
    }
}

// ---------------------------------------------------------------------------------------------
// Connector and transport

/// Wraps the connection from the TCP stage in TLS for https:// URLs.
#[derive(Debug)]
pub(crate) struct TlsConnector {
    opts: TlsOptions,
    config: OnceLock<Arc<ClientConfig>>,
}

impl TlsConnector {
    pub(crate) fn new(mut opts: TlsOptions) -> Self {
        // ureq speaks HTTP/1.1 only; say so, or an h2-preferring server may pick h2.
        opts.alpn = vec![b"http/1.1".to_vec()];
        TlsConnector {
            opts,
            config: OnceLock::new(),
        }
    }

    fn config(&self) -> Result<Arc<ClientConfig>, TlsFailure> {
        if let Some(c) = self.config.get() {
            return Ok(Arc::clone(c));
        }
        let built = client_config(&self.opts)?;
        // A racing thread may have set it first; either value is equivalent.
        Ok(Arc::clone(self.config.get_or_init(|| built)))
    }
}

/// Ciphertext buffer: a system call reads up to this much, so a bulk transfer costs one recv
/// per ~4 records instead of one per record. Grows (up to [`MAX_INCOMING`]) only for a large
/// handshake flight.
const INCOMING: usize = 64 * 1024;
/// rustls joins handshake messages up to 64 KiB; room for that plus a record.
const MAX_INCOMING: usize = 64 * 1024 + 18 * 1024;

/// Where TLS records go: straight to our socket, or through a proxy tunnel.
enum Channel {
    Direct(Socket),
    Tunnel(TransportAdapter<Box<dyn Transport>>),
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Direct(s) => f.debug_tuple("Direct").field(s).finish(),
            Channel::Tunnel(t) => f.debug_tuple("Tunnel").field(&t.inner()).finish(),
        }
    }
}

impl Channel {
    fn set_timeout(&mut self, timeout: NextTimeout) {
        match self {
            Channel::Direct(s) => s.set_timeout(timeout),
            Channel::Tunnel(t) => t.set_timeout(timeout),
        }
    }

    fn is_open(&mut self) -> bool {
        match self {
            Channel::Direct(s) => s.is_open(),
            Channel::Tunnel(t) => t.get_mut().is_open(),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Channel::Direct(s) => s.read(buf),
            Channel::Tunnel(t) => t.read(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Channel::Direct(s) => s.write_all(buf),
            Channel::Tunnel(t) => t.write_all(buf).and_then(|()| t.flush()),
        }
    }
}

/// A rustls error as an I/O error (the form [`failure_of_io`] recognises).
fn rustls_io(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// A TLS client connection driven through rustls' unbuffered API: ciphertext is read into our
/// own buffer in large pieces and decrypted there, and plaintext goes straight into the
/// caller's buffer — two fewer copies per byte than rustls' buffered `ClientConnection`.
struct Session {
    tls: UnbufferedClientConnection,
    chan: Channel,
    /// Ciphertext received; `incoming[..in_len]` is not yet processed.
    incoming: Vec<u8>,
    in_len: usize,
    /// Records to send.
    outgoing: Vec<u8>,
    /// Plaintext of a record that did not fit the caller's buffer; `backlog[backlog_pos..]`.
    backlog: Vec<u8>,
    backlog_pos: usize,
    /// close_notify received: the stream ended cleanly.
    peer_closed: bool,
}

/// What the last `process_tls_records` asked for, once its borrow has ended.
enum Next {
    /// Handshake done / nothing to read: the connection can carry application data.
    Ready,
    /// The data given to [`Session::step`] was encrypted and sent.
    Sent,
    /// More ciphertext is needed.
    Read,
    /// Records were handled; look again.
    Again,
    Closed,
}

impl Session {
    fn new(tls: UnbufferedClientConnection, chan: Channel) -> Self {
        Session {
            tls,
            chan,
            incoming: vec![0; INCOMING],
            in_len: 0,
            outgoing: Vec::new(),
            backlog: Vec::new(),
            backlog_pos: 0,
            peer_closed: false,
        }
    }

    /// Read more ciphertext from the channel. `Ok(0)` is end of stream.
    fn fill(&mut self) -> io::Result<usize> {
        if self.in_len == self.incoming.len() {
            if self.incoming.len() >= MAX_INCOMING {
                return Err(rustls_io(rustls::Error::General(
                    "TLS message larger than 64 KiB".into(),
                )));
            }
            self.incoming.resize(MAX_INCOMING, 0);
        }
        let n = self.chan.read(&mut self.incoming[self.in_len..])?;
        self.in_len += n;
        Ok(n)
    }

    /// One step of the state machine. Plaintext records go to `sink` (which may take part of
    /// one; the rest is kept in the backlog); records rustls wants sent are sent; when the
    /// connection can carry data, `send` (if any) is encrypted and sent.
    fn step(
        &mut self,
        sink: &mut dyn FnMut(&[u8]) -> usize,
        send: Option<&[u8]>,
    ) -> io::Result<Next> {
        let Session {
            tls,
            chan,
            incoming,
            in_len,
            outgoing,
            backlog,
            backlog_pos,
            peer_closed,
        } = self;
        let status = tls.process_tls_records(&mut incoming[..*in_len]);
        let next = match status.state.map_err(rustls_io)? {
            ConnectionState::ReadTraffic(mut records) => {
                while let Some(record) = records.next_record() {
                    let payload = record.map_err(rustls_io)?.payload;
                    let took = if *backlog_pos < backlog.len() {
                        0
                    } else {
                        sink(payload)
                    };
                    if took < payload.len() {
                        backlog.extend_from_slice(&payload[took..]);
                    }
                }
                Next::Again
            }
            ConnectionState::EncodeTlsData(mut encode) => {
                let start = outgoing.len();
                loop {
                    outgoing.resize(start + 4096.max(outgoing.capacity() - start), 0);
                    match encode.encode(&mut outgoing[start..]) {
                        Ok(n) => {
                            outgoing.truncate(start + n);
                            break;
                        }
                        Err(rustls::unbuffered::EncodeError::InsufficientSize(need)) => {
                            outgoing.resize(start + need.required_size, 0);
                        }
                        Err(e) => return Err(io::Error::other(e.to_string())),
                    }
                }
                Next::Again
            }
            ConnectionState::TransmitTlsData(transmit) => {
                chan.write_all(outgoing)?;
                outgoing.clear();
                transmit.done();
                Next::Again
            }
            ConnectionState::BlockedHandshake => Next::Read,
            ConnectionState::WriteTraffic(mut writer) => match send {
                None => Next::Ready,
                Some(data) => {
                    // Room for the records' headers and tags (at most 16 KiB of data each).
                    outgoing.clear();
                    outgoing.resize(data.len() + 64 * (data.len() / 16384 + 1), 0);
                    let n = match writer.encrypt(data, outgoing) {
                        Err(rustls::unbuffered::EncryptError::InsufficientSize(need)) => {
                            outgoing.resize(need.required_size, 0);
                            writer.encrypt(data, outgoing)
                        }
                        other => other,
                    }
                    .map_err(|e| io::Error::other(e.to_string()))?;
                    chan.write_all(&outgoing[..n])?;
                    outgoing.clear();
                    Next::Sent
                }
            },
            ConnectionState::PeerClosed | ConnectionState::Closed => {
                *peer_closed = true;
                Next::Closed
            }
            _ => return Err(io::Error::other("unexpected TLS state")),
        };
        let discard = status.discard;
        incoming.copy_within(discard..*in_len, 0);
        *in_len -= discard;
        Ok(next)
    }

    /// Run the state machine until the connection can carry data (`send` is `None`: the
    /// handshake) or until `send` went out. Records arriving meanwhile are kept for the next
    /// read.
    fn drive(&mut self, send: Option<&[u8]>) -> io::Result<()> {
        let mut stash = Vec::new();
        loop {
            let next = self.step(
                &mut |p| {
                    stash.extend_from_slice(p);
                    p.len()
                },
                send,
            )?;
            self.backlog.append(&mut stash);
            match next {
                Next::Sent => return Ok(()),
                Next::Ready if send.is_none() => return Ok(()),
                Next::Ready | Next::Again => {}
                Next::Closed if send.is_some() => return Err(io::ErrorKind::BrokenPipe.into()),
                Next::Closed => return Err(io::ErrorKind::UnexpectedEof.into()),
                Next::Read => {
                    if self.fill()? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
        }
    }

    /// Plaintext into `out`: everything already decryptable, reading from the channel only
    /// while nothing was delivered. `Ok(0)` after close_notify; `UnexpectedEof` when the peer
    /// closed without it.
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            if self.backlog_pos < self.backlog.len() {
                let n = (self.backlog.len() - self.backlog_pos).min(out.len() - filled);
                out[filled..filled + n]
                    .copy_from_slice(&self.backlog[self.backlog_pos..self.backlog_pos + n]);
                self.backlog_pos += n;
                filled += n;
                if self.backlog_pos == self.backlog.len() {
                    self.backlog.clear();
                    self.backlog_pos = 0;
                }
            }
            if filled == out.len() || self.peer_closed {
                return Ok(filled);
            }
            let next = self.step(
                &mut |p| {
                    let n = p.len().min(out.len() - filled);
                    out[filled..filled + n].copy_from_slice(&p[..n]);
                    filled += n;
                    n
                },
                None,
            )?;
            match next {
                Next::Again => {}
                Next::Closed => return Ok(filled),
                Next::Ready | Next::Sent | Next::Read => {
                    if filled > 0 {
                        return Ok(filled);
                    }
                    if self.fill()? == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                }
            }
        }
    }
}

impl Connector<Conn> for TlsConnector {
    type Out = Either<Conn, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<Conn>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(conn) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || conn.is_tls() {
            return Ok(Some(Either::A(conn)));
        }
        let started = Instant::now();
        let config = self
            .config()
            .map_err(|f| ureq::Error::Other(Box::new(TlsSetupError(f))))?;
        let host = details.uri.host().unwrap_or("");
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let name = ServerName::try_from(bare.to_string()).map_err(|_| {
            ureq::Error::Other(Box::new(TlsSetupError(TlsFailure::Config(format!(
                "\"{bare}\" is not a valid TLS server name"
            )))))
        })?;
        let tls = UnbufferedClientConnection::new(config, name)
            .map_err(|e| ureq::Error::Other(Box::new(TlsSetupError(failure_of(&e, bare)))))?;
        let mut chan = match conn {
            Conn::Plain(plain) => Channel::Direct(plain.socket),
            Conn::Tunnel(tunnel) => {
                Channel::Tunnel(TransportAdapter::new(tunnel, details.current_time.clone()))
            }
        };
        chan.set_timeout(details.timeout);
        let mut session = Session::new(tls, chan);
        session.drive(None).map_err(|e| match rustls_error(&e) {
            Some(tls) => handshake_error(handshake_failure_of(tls, bare, &session.tls)),
            None => to_ureq(e),
        })?;
        record_tls_handshake(started.elapsed());
        log::debug!(
            "TLS {:?} {:?} with {bare}",
            session.tls.protocol_version(),
            session.tls.negotiated_cipher_suite().map(|s| s.suite())
        );
        Ok(Some(Either::B(TlsTransport {
            session,
            buffers: IoBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
        })))
    }
}

/// An established TLS connection as a ureq transport.
pub(crate) struct TlsTransport {
    session: Session,
    buffers: IoBuffers,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("chan", &self.session.chan)
            .finish_non_exhaustive()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.session.chan.set_timeout(timeout);
        let data = &self.buffers.output()[..amount];
        self.session.drive(Some(data)).map_err(|e| tls_error(e, ""))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.session.chan.set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        // UnexpectedEof (closed without close_notify) goes to ureq, which decides whether
        // that truncated the body.
        let n = self.session.read(input).map_err(|e| tls_error(e, ""))?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        // Ciphertext we hold but nobody asked for means the peer sent something unsolicited.
        self.session.in_len == 0 && !self.session.peer_closed && self.session.chan.is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
