//! TLS on a non-blocking socket: rustls' `Connection` (client or server) driven by readiness.
//! Ciphertext is pulled from the socket only when the application wants plaintext that rustls
//! does not have yet, so a slow reader applies back-pressure to the peer as with plain TCP.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};
use rustls_pki_types::ServerName;
use socket2::Socket;

use super::error::SocketError;
use super::sys::SockIo;
use crate::tls::{failure_of, handshake_failure_of, TlsFailure};

/// What an established TLS session negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1_3` or `TLSv1_2`.
    pub version: String,
    /// The negotiated cipher suite.
    pub cipher: String,
    /// The ALPN protocol both sides agreed on.
    pub alpn: Option<String>,
    /// The peer's certificate chain (DER), leaf first; empty when the peer sent none.
    pub peer_certificates: Vec<Vec<u8>>,
}

/// What one pull from the socket gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pulled {
    /// Ciphertext was read and processed.
    Records,
    /// The TCP stream ended.
    Eof,
    /// Nothing to read now.
    Blocked,
}

pub(crate) struct TlsLayer {
    conn: Connection,
    /// The name the peer was asked to be, for error messages.
    peer: String,
}

impl std::fmt::Debug for TlsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsLayer")
            .field("peer", &self.peer)
            .field("handshaking", &self.conn.is_handshaking())
            .finish_non_exhaustive()
    }
}

impl TlsLayer {
    /// A client for `host` (a name for SNI and verification, or an IP address).
    pub(crate) fn client(config: Arc<ClientConfig>, host: &str) -> Result<TlsLayer, SocketError> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let name = ServerName::try_from(bare.to_string()).map_err(|_| {
            SocketError::SslHandshakeFailed(TlsFailure::Config(format!(
                "\"{bare}\" is not a valid TLS server name"
            )))
        })?;
        let conn = ClientConnection::new(config, name)
            .map_err(|e| SocketError::SslHandshakeFailed(failure_of(&e, bare)))?;
        Ok(TlsLayer {
            conn: conn.into(),
            peer: bare.to_string(),
        })
    }

    pub(crate) fn server(config: Arc<ServerConfig>, peer: String) -> Result<TlsLayer, SocketError> {
        let conn = ServerConnection::new(config)
            .map_err(|e| SocketError::SslHandshakeFailed(failure_of(&e, &peer)))?;
        Ok(TlsLayer {
            conn: conn.into(),
            peer,
        })
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Records are waiting to be sent.
    pub(crate) fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    fn error(&self, e: &rustls::Error) -> SocketError {
        SocketError::SslHandshakeFailed(handshake_failure_of(e, &self.peer, &self.conn))
    }

    /// Send queued records until done (`Ok(true)`) or the socket is full (`Ok(false)`).
    pub(crate) fn send_records(&mut self, sock: &Socket) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut SockIo(sock)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Read ciphertext once and process it (answering the handshake as needed).
    pub(crate) fn pull(&mut self, sock: &Socket) -> Result<Pulled, SocketError> {
        let pulled = match self.conn.read_tls(&mut SockIo(sock)) {
            Ok(0) => Pulled::Eof,
            Ok(_) => Pulled::Records,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Pulled::Blocked),
            Err(e) => return Err(SocketError::from_io(&e, &self.peer)),
        };
        if let Err(e) = self.conn.process_new_packets() {
            // Tell the peer why (the alert rustls queued), then report.
            let _ = self.send_records(sock);
            discard_input(sock);
            return Err(self.error(&e));
        }
        Ok(pulled)
    }

    /// Decrypted data: `WouldBlock` when rustls has none; `Ok(0)` at close_notify.
    pub(crate) fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.conn.reader().read(buf)
    }

    /// Hand plaintext to rustls (it encrypts at once after the handshake); how much it took.
    pub(crate) fn write_plain(&mut self, data: &[u8]) -> usize {
        self.conn.writer().write(data).unwrap_or(0)
    }

    pub(crate) fn close_notify(&mut self) {
        self.conn.send_close_notify();
    }

    pub(crate) fn info(&self) -> TlsInfo {
        TlsInfo {
            version: self
                .conn
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
            cipher: self
                .conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default(),
            alpn: self
                .conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            peer_certificates: self
                .conn
                .peer_certificates()
                .map(|chain| chain.iter().map(|c| c.as_ref().to_vec()).collect())
                .unwrap_or_default(),
        }
    }
}

/// Before closing after a failed handshake: finish sending (FIN after the alert) and read
/// away what the peer already sent. Closing a socket with unread input makes the kernel send
/// a reset instead, which discards the alert still queued — the peer would see "connection
/// reset" instead of the TLS problem (TLS 1.3 clients send data before the server has judged
/// their certificate).
fn discard_input(sock: &Socket) {
    let _ = sock.shutdown(std::net::Shutdown::Write);
    let mut scratch = [0u8; 4096];
    // Bounded: a peer that keeps sending cannot hold us here.
    for _ in 0..64 {
        match SockIo(sock).read(&mut scratch) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
}
