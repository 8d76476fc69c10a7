//! The rustls side: verifier, client and server configurations, failures by name.

use std::fmt;
use std::io;
use std::sync::Arc;

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::der;
use super::{ServerTlsOptions, TlsFailure, TlsOptions, TlsProblem};

/// A TLS failure carried through an `io::Error` or another library's error box.
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

/// Name the cause of a rustls error; `host` is what the peer was asked to be.
pub(crate) fn failure_of(err: &rustls::Error, host: &str) -> TlsFailure {
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
        E::NoCertificatesPresented => TlsFailure::Handshake(
            "the peer presented no certificate (a client certificate is required)".into(),
        ),
        E::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => TlsFailure::NotTls,
        other => TlsFailure::Handshake(other.to_string()),
    }
}

/// [`failure_of`] for an error during a handshake on a connection in state `conn`: an alert
/// before a cipher suite was chosen refuses everything offered, not (say) a missing client
/// certificate, which is only asked for after.
pub(crate) fn handshake_failure_of(
    err: &rustls::Error,
    host: &str,
    conn: &rustls::CommonState,
) -> TlsFailure {
    match failure_of(err, host) {
        TlsFailure::PeerAlert(alert) if conn.negotiated_cipher_suite().is_none() => {
            TlsFailure::NothingInCommon(alert)
        }
        failure => failure,
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

// ---------------------------------------------------------------------------------------------
// Key pinning

/// base64(SHA-256(SPKI)) of a certificate.
pub(crate) fn spki_pin(cert: &[u8]) -> Option<String> {
    let spki = der::subject_public_key_info(cert)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, spki);
    Some(base64::engine::general_purpose::STANDARD.encode(digest.as_ref()))
}

// ---------------------------------------------------------------------------------------------
// Verification

/// The problems webpki reports, in our names.
fn problem_of(e: &webpki::Error) -> Result<TlsProblem, rustls::Error> {
    use webpki::Error as W;
    let cert = |c| rustls::Error::InvalidCertificate(c);
    match e {
        W::UnknownIssuer | W::CaUsedAsEndEntity => Ok(TlsProblem::UnknownIssuer),
        W::CertExpired { .. } => Ok(TlsProblem::Expired),
        W::CertNotValidYet { .. } => Ok(TlsProblem::NotYetValid),
        W::CertNotValidForName(_) => Ok(TlsProblem::HostnameMismatch),
        W::CertRevoked => Err(cert(CertificateError::Revoked)),
        W::InvalidSignatureForPublicKey => Err(cert(CertificateError::BadSignature)),
        other => Err(cert(CertificateError::Other(rustls::OtherError(Arc::new(
            io::Error::other(format!("{other:?}")),
        ))))),
    }
}

fn problem_error(p: TlsProblem) -> rustls::Error {
    rustls::Error::InvalidCertificate(match p {
        TlsProblem::UnknownIssuer => CertificateError::UnknownIssuer,
        TlsProblem::Expired => CertificateError::Expired,
        TlsProblem::NotYetValid => CertificateError::NotValidYet,
        TlsProblem::HostnameMismatch => CertificateError::NotValidForName,
    })
}

/// Chain, validity period and host name judged separately, then the pin check.
#[derive(Debug)]
struct Verifier {
    /// `None`: no verification (insecure), only pins are checked.
    roots: Option<RootCertStore>,
    ignore: Vec<TlsProblem>,
    pins: Vec<String>,
    provider: Arc<CryptoProvider>,
}

impl Verifier {
    /// Every problem the certificate has, each judged on its own.
    fn problems(
        &self,
        roots: &RootCertStore,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<Vec<TlsProblem>, rustls::Error> {
        let ee = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let mut problems = Vec::new();
        // The validity period is judged below against the real clock; the chain is built at
        // a moment inside that period, so a date problem is not mistaken for an untrusted
        // issuer (or hidden behind one).
        let (not_before, not_after) = der::validity(end_entity).ok_or(
            rustls::Error::InvalidCertificate(CertificateError::BadEncoding),
        )?;
        let now_secs = now.as_secs() as i64;
        if now_secs > not_after {
            problems.push(TlsProblem::Expired);
        } else if now_secs < not_before {
            problems.push(TlsProblem::NotYetValid);
        }
        let chain_time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            now_secs.clamp(not_before, not_after).max(0) as u64,
        ));
        if let Err(e) = ee.verify_for_usage(
            self.provider.signature_verification_algorithms.all,
            &roots.roots,
            intermediates,
            chain_time,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        ) {
            problems.push(problem_of(&e)?);
        }
        if let Err(e) = ee.verify_is_valid_for_subject_name(server_name) {
            problems.push(problem_of(&e)?);
        }
        Ok(problems)
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let problems = self.problems(roots, end_entity, intermediates, server_name, now)?;
            if let Some(p) = problems.iter().find(|p| !self.ignore.contains(p)) {
                return Err(problem_error(*p));
            }
            for p in &problems {
                log::warn!(
                    "TLS: accepting a certificate problem as asked: {}",
                    p.name()
                );
            }
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

fn read_certs(
    path: &std::path::Path,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsFailure> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| config_error(format!("cannot read {what} {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(config_error(format!(
            "no certificate in {what} {}",
            path.display()
        )));
    }
    Ok(certs)
}

fn read_key(path: &std::path::Path) -> Result<PrivateKeyDer<'static>, TlsFailure> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| config_error(format!("cannot read private key {}: {e}", path.display())))
}

/// Trust anchors from a PEM file.
fn roots_from_file(path: &std::path::Path) -> Result<RootCertStore, TlsFailure> {
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(read_certs(path, "CA file")?);
    if added == 0 {
        return Err(config_error(format!(
            "no usable CA certificate in {}",
            path.display()
        )));
    }
    Ok(roots)
}

fn load_roots(opts: &TlsOptions) -> Result<RootCertStore, TlsFailure> {
    if let Some(path) = &opts.ca_file {
        return roots_from_file(path);
    }
    let mut roots = RootCertStore::empty();
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

/// The *ring* provider. rustls 0.23.48 deprecates `ring::default_provider` because *ring* has no
/// post-quantum key exchange; the alternative, aws-lc-rs, needs cmake and a C toolchain for every
/// ARM target and adds megabytes to a binary that must stay under its size budget, so *ring* stays
/// (a measured note belongs on the issue that swaps it) and the deprecation is acknowledged here.
fn provider() -> Arc<CryptoProvider> {
    #[allow(deprecated)]
    let ring = rustls::crypto::ring::default_provider();
    Arc::new(ring)
}

/// A client configuration for `opts` (built once per client: loading the system store takes
/// a few milliseconds).
pub(crate) fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, TlsFailure> {
    let provider = provider();
    let verifier = Verifier {
        roots: if opts.insecure {
            None
        } else {
            Some(load_roots(opts)?)
        },
        ignore: opts.ignore.clone(),
        pins: opts.pinned_keys.clone(),
        provider: Arc::clone(&provider),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = match &opts.client_cert {
        Some(cert_path) => {
            let certs = read_certs(cert_path, "client certificate")?;
            let key = read_key(opts.client_key.as_ref().unwrap_or(cert_path))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| config_error(format!("client certificate/key: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = opts.alpn.clone();
    Ok(Arc::new(config))
}

/// A server configuration: certificate chain and key, optional client authentication, ALPN.
pub(crate) fn server_config(opts: &ServerTlsOptions) -> Result<Arc<ServerConfig>, TlsFailure> {
    let provider = provider();
    let certs = read_certs(&opts.cert_chain, "certificate")?;
    let key = read_key(opts.key.as_ref().unwrap_or(&opts.cert_chain))?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(e.to_string()))?;
    let builder = match &opts.client_ca {
        Some(ca) => {
            let roots = Arc::new(roots_from_file(ca)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| config_error(format!("client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| config_error(format!("certificate/key: {e}")))?;
    config.alpn_protocols = opts.alpn.clone();
    Ok(Arc::new(config))
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

    fn cert() -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(CERT_PEM.as_bytes()).unwrap()
    }

    #[test]
    fn pin_matches_openssl() {
        assert_eq!(spki_pin(&cert()).unwrap(), CERT_PIN.trim());
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

    /// A CA and a leaf it signed for `leaf.test` (SAN), both valid 2026-11-24 to 2036-11-21,
    /// made with openssl (P-256, `extendedKeyUsage=serverAuth`).
    const CA_PEM: &str = include_str!("testdata/ca-cert.pem");
    const LEAF_PEM: &str = include_str!("testdata/leaf-cert.pem");

    fn verifier(ca: Option<&str>, ignore: &[TlsProblem]) -> Verifier {
        let mut roots = RootCertStore::empty();
        if let Some(pem) = ca {
            roots
                .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
                .unwrap();
        }
        Verifier {
            roots: Some(roots),
            ignore: ignore.to_vec(),
            pins: Vec::new(),
            provider: provider(),
        }
    }

    fn at(secs: i64) -> UnixTime {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs as u64))
    }

    #[test]
    fn problems_are_judged_one_by_one_and_only_named_ones_ignored() {
        let leaf = CertificateDer::from_pem_slice(LEAF_PEM.as_bytes()).unwrap();
        let (not_before, not_after) = der::validity(&leaf).unwrap();
        let name = ServerName::try_from("leaf.test").unwrap();
        let other = ServerName::try_from("other.test").unwrap();
        let (inside, after, before) =
            (at(not_before + 10), at(not_after + 10), at(not_before - 10));
        let problems = |v: &Verifier, n: &ServerName<'_>, t| {
            v.problems(v.roots.as_ref().unwrap(), &leaf, &[], n, t)
                .unwrap()
        };
        let trusted = verifier(Some(CA_PEM), &[]);
        assert_eq!(problems(&trusted, &name, inside), vec![]);
        assert_eq!(problems(&trusted, &name, after), vec![TlsProblem::Expired]);
        assert_eq!(
            problems(&trusted, &name, before),
            vec![TlsProblem::NotYetValid]
        );
        assert_eq!(
            problems(&trusted, &other, inside),
            vec![TlsProblem::HostnameMismatch]
        );
        let untrusted = verifier(None, &[]);
        assert_eq!(
            problems(&untrusted, &name, inside),
            vec![TlsProblem::UnknownIssuer]
        );
        assert_eq!(
            problems(&untrusted, &other, after),
            vec![
                TlsProblem::Expired,
                TlsProblem::UnknownIssuer,
                TlsProblem::HostnameMismatch
            ]
        );
        // Ignoring one problem does not excuse another.
        let verify = |v: &Verifier, n: &ServerName<'_>, t| {
            v.verify_server_cert(&leaf, &[], n, &[], t)
                .map(|_| ())
                .map_err(|e| failure_of(&e, "leaf.test"))
        };
        let lenient = verifier(None, &[TlsProblem::UnknownIssuer]);
        assert_eq!(verify(&lenient, &name, inside), Ok(()));
        assert_eq!(verify(&lenient, &name, after), Err(TlsFailure::Expired));
        let lenient = verifier(Some(CA_PEM), &[TlsProblem::Expired]);
        assert_eq!(verify(&lenient, &name, after), Ok(()));
        assert_eq!(
            verify(&lenient, &other, after),
            Err(TlsFailure::HostnameMismatch {
                host: "leaf.test".into()
            })
        );
        assert_eq!(verify(&trusted, &name, inside), Ok(()));
    }

    #[test]
    fn missing_files_are_config_errors_naming_them() {
        let opts = TlsOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        };
        match client_config(&opts) {
            Err(TlsFailure::Config(why)) => assert!(why.contains("/nonexistent/ca.pem"), "{why}"),
            other => panic!("{other:?}"),
        }
        let server = ServerTlsOptions {
            cert_chain: "/nonexistent/cert.pem".into(),
            ..ServerTlsOptions::default()
        };
        match server_config(&server) {
            Err(TlsFailure::Config(why)) => assert!(why.contains("/nonexistent/cert.pem"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
