//! HTTPS: rustls (ring provider) over our own sockets, with key pinning and failures by name.
//!
//! ureq's rustls connector cannot pin keys or tell *why* a certificate was rejected, so this
//! module builds the rustls `ClientConfig` itself (lazily: a plain-HTTP run never loads the
//! system trust store) and drives the `ClientConnection` over a [`Socket`] or a CONNECT tunnel.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::UnbufferedClientConnection;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::unbuffered::ConnectionState;
use rustls::{CertificateError, ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, Transport, TransportAdapter,
};

use super::buffers::IoBuffers;
use super::error::TlsFailure;
use super::transport::{record_tls_handshake, to_ureq, Conn, Socket};

/// How to verify servers and authenticate to them.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Trust only the CAs in this PEM file (curl's `--cacert`); default: the system store
    /// (`SSL_CERT_FILE`, `SSL_CERT_DIR`, /etc/ssl/certs), webpki-roots if the board has none.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1); defaults to `client_cert` itself.
    pub client_key: Option<PathBuf>,
    /// Accept only servers whose SubjectPublicKeyInfo has one of these SHA-256 hashes
    /// (base64, curl's `--pinnedpubkey sha256//…` form). Checked even with `insecure`.
    pub pinned_keys: Vec<String>,
    /// Skip certificate chain and host name verification (`-k`). Never the default.
    pub insecure: bool,
}

/// A TLS set-up or handshake failure carried through ureq's `Error::Other`.
#[derive(Debug)]
pub(crate) struct TlsSetupError(pub(crate) TlsFailure);

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for TlsSetupError {}

/// The verifier's pin check failed (inside rustls' `CertificateError::Other`).
#[derive(Debug)]
struct PinMismatch {
    expected: Vec<String>,
    actual: String,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "public key pin mismatch (server key sha256//{})",
            self.actual
        )
    }
}

impl std::error::Error for PinMismatch {}

/// Name the cause of a rustls error.
fn failure_of(err: &rustls::Error, host: &str) -> TlsFailure {
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => TlsFailure::UnknownIssuer,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsFailure::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsFailure::NotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailure::HostnameMismatch {
                    host: host.to_string(),
                }
            }
            CertificateError::Revoked => TlsFailure::Revoked,
            CertificateError::Other(other) => match other.0.downcast_ref::<PinMismatch>() {
                Some(pin) => TlsFailure::PinMismatch {
                    expected: pin.expected.clone(),
                    actual: pin.actual.clone(),
                },
                None => TlsFailure::BadCertificate(other.to_string()),
            },
            other => TlsFailure::BadCertificate(format!("{other:?}")),
        },
        E::AlertReceived(alert) => TlsFailure::PeerAlert(format!("{alert:?}")),
        other => TlsFailure::Handshake(other.to_string()),
    }
}

/// The TLS failure inside an I/O error from a TLS stream, if there is one.
pub(crate) fn failure_of_io(err: &io::Error) -> Option<TlsFailure> {
    let inner = err.get_ref()?;
    if let Some(e) = inner.downcast_ref::<rustls::Error>() {
        return Some(failure_of(e, ""));
    }
    inner.downcast_ref::<TlsSetupError>().map(|e| e.0.clone())
}

fn tls_error(err: io::Error, host: &str) -> ureq::Error {
    match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(e) => ureq::Error::Other(Box::new(TlsSetupError(failure_of(e, host)))),
        None => to_ureq(err),
    }
}

// ---------------------------------------------------------------------------------------------
// Key pinning

/// One DER element split off the front of the input.
struct Der<'a> {
    tag: u8,
    /// The value bytes.
    content: &'a [u8],
    /// The whole element, tag and length included.
    whole: &'a [u8],
    /// What follows the element.
    rest: &'a [u8],
}

/// The first DER element of `input`. `None` on any malformation; lengths are checked before
/// slicing, so hostile certificates cannot make this panic.
fn der_element(input: &[u8]) -> Option<Der<'_>> {
    let tag = *input.first()?;
    let first_len = *input.get(1)?;
    let (len, header) = if first_len < 0x80 {
        (usize::from(first_len), 2)
    } else {
        let n = usize::from(first_len & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = input.get(2..2 + n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let whole = input.get(..end)?;
    Some(Der {
        tag,
        content: whole.get(header..)?,
        whole,
        rest: input.get(end..)?,
    })
}

const SEQUENCE: u8 = 0x30;

/// The DER SubjectPublicKeyInfo of an X.509 certificate (what curl's pins hash).
fn subject_public_key_info(cert: &[u8]) -> Option<&[u8]> {
    const VERSION: u8 = 0xa0;
    let certificate = der_element(cert).filter(|e| e.tag == SEQUENCE)?;
    let tbs = der_element(certificate.content).filter(|e| e.tag == SEQUENCE)?;
    let mut rest = tbs.content;
    if rest.first() == Some(&VERSION) {
        rest = der_element(rest)?.rest;
    }
    // serialNumber, signature, issuer, validity, subject
    for _ in 0..5 {
        rest = der_element(rest)?.rest;
    }
    der_element(rest)
        .filter(|e| e.tag == SEQUENCE)
        .map(|e| e.whole)
}

/// base64(SHA-256(SPKI)) of a certificate.
pub(crate) fn spki_pin(cert: &[u8]) -> Option<String> {
    let spki = subject_public_key_info(cert)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, spki);
    Some(base64::engine::general_purpose::STANDARD.encode(digest.as_ref()))
}

/// Parse curl's `--pinnedpubkey` value: `sha256//BASE64[;sha256//BASE64…]`.
pub fn parse_pins(spec: &str) -> Result<Vec<String>, String> {
    spec.split(';')
        .map(|p| {
            let b64 = p.trim().strip_prefix("sha256//").ok_or_else(|| {
                format!("pin \"{p}\" must be sha256//BASE64 (a key file is not supported)")
            })?;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("pin \"{p}\": bad base64: {e}"))?;
            if raw.len() != 32 {
                return Err(format!("pin \"{p}\": not a SHA-256 hash (32 bytes)"));
            }
            Ok(b64.to_string())
        })
        .collect()
}

/// Chain verification by webpki (unless `--insecure`), then the pin check.
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pins: Vec<String>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(webpki) = &self.webpki {
            webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            )?;
        }
        if !self.pins.is_empty() {
            let actual = spki_pin(end_entity).ok_or(rustls::Error::InvalidCertificate(
                CertificateError::BadEncoding,
            ))?;
            if !self.pins.contains(&actual) {
                return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                    rustls::OtherError(Arc::new(PinMismatch {
                        expected: self.pins.clone(),
                        actual,
                    })),
                )));
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

fn config_error(why: String) -> TlsFailure {
    TlsFailure::Config(why)
}

fn load_roots(opts: &TlsOptions) -> Result<RootCertStore, TlsFailure> {
    let mut roots = RootCertStore::empty();
    if let Some(path) = &opts.ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| config_error(format!("cannot read CA file {}: {e}", path.display())))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(config_error(format!(
                "no usable CA certificate in {}",
                path.display()
            )));
        }
        return Ok(roots);
    }
    let native = rustls_native_certs::load_native_certs();
    for err in &native.errors {
        log::debug!("system trust store: {err}");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    log::debug!("system trust store: {added} CA certificates ({ignored} unusable)");
    if roots.is_empty() {
        log::info!("no CA certificates on this system; using the built-in webpki-roots");
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    Ok(roots)
}

fn client_auth(
    opts: &TlsOptions,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, TlsFailure> {
    let Some(cert_path) = &opts.client_cert else {
        return Ok(None);
    };
    let certs = CertificateDer::pem_file_iter(cert_path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            config_error(format!(
                "cannot read client certificate {}: {e}",
                cert_path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(config_error(format!(
            "no certificate in {}",
            cert_path.display()
        )));
    }
    let key_path = opts.client_key.as_ref().unwrap_or(cert_path);
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
        config_error(format!(
            "cannot read private key {}: {e}",
            key_path.display()
        ))
    })?;
    Ok(Some((certs, key)))
}

fn build_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, TlsFailure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = if opts.insecure {
        None
    } else {
        let roots = Arc::new(load_roots(opts)?);
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
            .build()
            .map_err(|e| config_error(format!("trust store: {e}")))?;
        Some(verifier)
    };
    let verifier = Verifier {
        webpki,
        pins: opts.pinned_keys.clone(),
        provider: Arc::clone(&provider),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = match client_auth(opts)? {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| config_error(format!("client certificate/key: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    // ureq speaks HTTP/1.1 only; say so, or an h2-preferring server may pick h2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
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
    pub(crate) fn new(opts: TlsOptions) -> Self {
        TlsConnector {
            opts,
            config: OnceLock::new(),
        }
    }

    fn config(&self) -> Result<Arc<ClientConfig>, TlsFailure> {
        if let Some(c) = self.config.get() {
            return Ok(Arc::clone(c));
        }
        let built = build_config(&self.opts)?;
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
        session.drive(None).map_err(|e| tls_error(e, bare))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A P-256 certificate made with `openssl req -x509 -newkey ec -pkeyopt
    /// ec_paramgen_curve:prime256v1 -subj /CN=pin.test -days 3650 -nodes`; its pin computed with
    /// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256
    /// -binary | base64`.
    const CERT_PEM: &str = include_str!("testdata/pin-cert.pem");
    const CERT_PIN: &str = include_str!("testdata/pin-cert.sha256");

    #[test]
    fn pin_matches_openssl() {
        let der = CertificateDer::from_pem_slice(CERT_PEM.as_bytes()).unwrap();
        assert_eq!(spki_pin(&der).unwrap(), CERT_PIN.trim());
    }

    #[test]
    fn hostile_der_never_panics() {
        let der = CertificateDer::from_pem_slice(CERT_PEM.as_bytes()).unwrap();
        let der = der.as_ref();
        for cut in 0..der.len() {
            let _ = spki_pin(&der[..cut]);
        }
        let mut flipped = der.to_vec();
        for i in 0..flipped.len().min(64) {
            flipped[i] ^= 0xff;
            let _ = spki_pin(&flipped);
            flipped[i] ^= 0xff;
        }
        assert!(spki_pin(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(spki_pin(&[]).is_none());
    }

    #[test]
    fn pins_parse_like_curl() {
        let pin = "sha256//".to_string() + CERT_PIN.trim();
        assert_eq!(
            parse_pins(&format!("{pin};{pin}")).unwrap(),
            vec![CERT_PIN.trim(); 2]
        );
        assert!(parse_pins("/etc/key.pem").unwrap_err().contains("sha256//"));
        assert!(parse_pins("sha256//!!!").unwrap_err().contains("base64"));
        assert!(parse_pins("sha256//AAAA").unwrap_err().contains("32 bytes"));
    }

    #[test]
    fn rustls_errors_are_named() {
        let e = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(failure_of(&e, "h"), TlsFailure::UnknownIssuer);
        let e = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
        assert_eq!(
            failure_of(&e, "h"),
            TlsFailure::HostnameMismatch { host: "h".into() }
        );
        let e = rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
            Arc::new(PinMismatch {
                expected: vec!["a".into()],
                actual: "b".into(),
            }),
        )));
        assert_eq!(
            failure_of(&e, "h"),
            TlsFailure::PinMismatch {
                expected: vec!["a".into()],
                actual: "b".into()
            }
        );
    }

    #[test]
    fn missing_ca_file_is_a_config_error() {
        let opts = TlsOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        };
        match build_config(&opts) {
            Err(TlsFailure::Config(why)) => assert!(why.contains("/nonexistent/ca.pem"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
