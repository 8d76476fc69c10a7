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
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, ClientConfig, ClientConnection, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

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

/// Ciphertext read from the socket per system call. rustls asks for at most one record (up to
/// 16 KiB) at a time; reading ahead into this buffer cuts the recv/poll calls of a bulk
/// transfer by an order of magnitude for one extra copy of ciphertext.
const CIPHERTEXT_READ_AHEAD: usize = 64 * 1024;

/// Where TLS records go: straight to our socket, or through a proxy tunnel.
enum Channel {
    Direct(std::io::BufReader<Socket>),
    Tunnel(TransportAdapter<Box<dyn Transport>>),
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Direct(s) => f.debug_tuple("Direct").field(s.get_ref()).finish(),
            Channel::Tunnel(t) => f.debug_tuple("Tunnel").field(&t.inner()).finish(),
        }
    }
}

impl Channel {
    fn set_timeout(&mut self, timeout: NextTimeout) {
        match self {
            Channel::Direct(s) => s.get_mut().set_timeout(timeout),
            Channel::Tunnel(t) => t.set_timeout(timeout),
        }
    }

    /// Whether ciphertext is waiting in memory (reading it needs no system call).
    fn has_read_ahead(&self) -> bool {
        match self {
            Channel::Direct(s) => !s.buffer().is_empty(),
            Channel::Tunnel(_) => false,
        }
    }

    fn is_open(&mut self) -> bool {
        match self {
            // Bytes read ahead but never asked for mean the peer sent something unsolicited.
            Channel::Direct(s) => s.buffer().is_empty() && s.get_ref().is_open(),
            Channel::Tunnel(t) => t.get_mut().is_open(),
        }
    }
}

impl Read for Channel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Channel::Direct(s) => s.read(buf),
            Channel::Tunnel(t) => t.read(buf),
        }
    }
}

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Channel::Direct(s) => s.get_mut().write(buf),
            Channel::Tunnel(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Channel::Direct(s) => s.get_mut().flush(),
            Channel::Tunnel(t) => t.flush(),
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
        let mut tls = ClientConnection::new(config, name)
            .map_err(|e| ureq::Error::Other(Box::new(TlsSetupError(failure_of(&e, bare)))))?;
        let mut chan = match conn {
            Conn::Plain(plain) => Channel::Direct(std::io::BufReader::with_capacity(
                CIPHERTEXT_READ_AHEAD,
                plain.socket,
            )),
            Conn::Tunnel(tunnel) => {
                Channel::Tunnel(TransportAdapter::new(tunnel, details.current_time.clone()))
            }
        };
        chan.set_timeout(details.timeout);
        while tls.is_handshaking() {
            tls.complete_io(&mut chan).map_err(|e| tls_error(e, bare))?;
        }
        record_tls_handshake(started.elapsed());
        log::debug!(
            "TLS {:?} {:?} with {bare}",
            tls.protocol_version(),
            tls.negotiated_cipher_suite().map(|s| s.suite())
        );
        Ok(Some(Either::B(TlsTransport {
            tls,
            chan,
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
        })))
    }
}

/// An established TLS connection as a ureq transport.
#[derive(Debug)]
pub(crate) struct TlsTransport {
    tls: ClientConnection,
    chan: Channel,
    buffers: LazyBuffers,
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.chan.set_timeout(timeout);
        let mut rest = &self.buffers.output()[..amount];
        while !rest.is_empty() {
            let n = self.tls.writer().write(rest).map_err(to_ureq)?;
            rest = &rest[n..];
            if n == 0 && !self.tls.wants_write() {
                return Err(ureq::Error::Io(io::ErrorKind::WriteZero.into()));
            }
            while self.tls.wants_write() {
                self.tls
                    .write_tls(&mut self.chan)
                    .map_err(|e| tls_error(e, ""))?;
            }
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.chan.set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        // Fill the input buffer with every record that is already here (decrypting what was
        // read ahead costs no system call), so a bulk body is handed on in large pieces
        // instead of one 16 KiB record per call.
        let mut filled = 0;
        loop {
            match self.tls.reader().read(&mut input[filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    filled += n;
                    if filled == input.len() {
                        break;
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if filled > 0 && !self.chan.has_read_ahead() {
                        break;
                    }
                }
                // Delivered data first; the error repeats on the next call.
                Err(_) if filled > 0 => break,
                // UnexpectedEof: closed without close_notify; ureq decides if that truncated
                // the body.
                Err(e) => return Err(to_ureq(e)),
            }
            while self.tls.wants_write() {
                self.tls
                    .write_tls(&mut self.chan)
                    .map_err(|e| tls_error(e, ""))?;
            }
            self.tls.read_tls(&mut self.chan).map_err(to_ureq)?;
            self.tls
                .process_new_packets()
                .map_err(|e| ureq::Error::Other(Box::new(TlsSetupError(failure_of(&e, "")))))?;
        }
        self.buffers.input_appended(filled);
        Ok(filled > 0)
    }

    fn is_open(&mut self) -> bool {
        self.chan.is_open()
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
