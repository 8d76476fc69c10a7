//! TLS for every capability (HTTPS, TLS sockets and servers): rustls with the ring provider.
//!
//! Trust comes from [`TlsOptions::ca_file`] or the system store (`SSL_CERT_FILE`, `SSL_CERT_DIR`,
//! /etc/ssl/certs) with webpki-roots as the fallback on a board that has none. Verification is
//! done here rather than by rustls' stock verifier so that boardnet can say *which* problems a
//! certificate has — unknown issuer, expired, not yet valid, wrong host name, each judged on
//! its own — and let a caller accept named problems explicitly (Qt's `ignoreSslErrors`), pin
//! public keys, and name every failure.

#[cfg(feature = "tls")]
mod config;
#[cfg(feature = "tls")]
mod der;

use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;

#[cfg(feature = "tls")]
pub(crate) use config::{
    client_config, failure_of, failure_of_io, handshake_failure_of, server_config, spki_pin,
    TlsSetupError,
};

/// A certificate problem a caller may choose to accept (Qt's QSslError kinds that matter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsProblem {
    /// The chain does not lead to a trusted CA (includes self-signed certificates).
    UnknownIssuer,
    /// The certificate expired.
    Expired,
    /// The certificate is not valid yet (check the clock).
    NotYetValid,
    /// The certificate does not name the host connected to.
    HostnameMismatch,
}

impl TlsProblem {
    const NAMES: [(&'static str, TlsProblem); 4] = [
        ("unknown-issuer", TlsProblem::UnknownIssuer),
        ("expired", TlsProblem::Expired),
        ("not-yet-valid", TlsProblem::NotYetValid),
        ("hostname-mismatch", TlsProblem::HostnameMismatch),
    ];

    /// The problem's name (`unknown-issuer`, `expired`…).
    pub fn name(self) -> &'static str {
        TlsProblem::NAMES
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("", |(n, _)| n)
    }
}

impl std::str::FromStr for TlsProblem {
    type Err = String;

    fn from_str(s: &str) -> Result<TlsProblem, String> {
        TlsProblem::NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                format!(
                    "unknown TLS problem \"{s}\" (one of: unknown-issuer, expired, not-yet-valid, hostname-mismatch)"
                )
            })
    }
}

/// How a client verifies servers and authenticates to them.
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
    /// Accept certificates whose only problems are these (Qt's ignoreSslErrors): each problem
    /// is judged separately, so ignoring `Expired` does not excuse an unknown issuer.
    pub ignore: Vec<TlsProblem>,
    /// Skip certificate verification entirely (`-k`). Never the default.
    pub insecure: bool,
    /// ALPN protocols to offer, most preferred first.
    pub alpn: Vec<Vec<u8>>,
}

/// How a server presents itself and checks clients.
#[derive(Debug, Clone, Default)]
pub struct ServerTlsOptions {
    /// Certificate chain (PEM), leaf first.
    pub cert_chain: PathBuf,
    /// Its private key (PEM); defaults to `cert_chain` itself when `None`.
    pub key: Option<PathBuf>,
    /// Require a client certificate signed by a CA in this PEM file.
    pub client_ca: Option<PathBuf>,
    /// ALPN protocols accepted, most preferred first.
    pub alpn: Vec<Vec<u8>>,
}

/// Why certificate verification or the TLS handshake failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The chain does not lead to a trusted CA (self-signed, or the wrong CA file).
    UnknownIssuer,
    /// The certificate's notAfter is in the past.
    Expired,
    /// The certificate's notBefore is in the future (check the board's clock).
    NotYetValid,
    /// The certificate is not valid for the host name in the URL.
    HostnameMismatch {
        /// The host connected to.
        host: String,
    },
    /// The server's public key does not match the pins given.
    PinMismatch {
        /// The pins given (base64 SHA-256).
        expected: Vec<String>,
        /// The server key's pin.
        actual: String,
    },
    /// The certificate was revoked.
    Revoked,
    /// Another certificate problem (bad signature, wrong usage, unsupported algorithm…).
    BadCertificate(String),
    /// The peer sent a TLS alert (often: it wanted a client certificate).
    PeerAlert(String),
    /// The server refused the handshake before choosing a cipher suite: nothing we offer (TLS
    /// 1.2 and 1.3, forward-secret key exchange) is acceptable to it — a server that offers
    /// only static RSA key exchange or TLS 1.0/1.1. Carries its alert.
    NothingInCommon(String),
    /// What came back was not TLS at all (a plain-text service on that port).
    NotTls,
    /// The handshake failed for another reason (no common cipher or version, garbage).
    Handshake(String),
    /// Local TLS set-up failed: unreadable CA file, client cert/key mismatch, no trust anchors.
    Config(String),
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFailure::UnknownIssuer => f.write_str(
                "certificate issuer is unknown (self-signed or not trusted)",
            ),
            TlsFailure::Expired => f.write_str("certificate has expired"),
            TlsFailure::NotYetValid => {
                f.write_str("certificate is not yet valid (is the board's clock set?)")
            }
            TlsFailure::HostnameMismatch { host } => {
                write!(f, "certificate is not valid for host name \"{host}\"")
            }
            TlsFailure::PinMismatch { expected, actual } => write!(
                f,
                "public key pin mismatch: server key is sha256//{actual}, expected {}",
                expected
                    .iter()
                    .map(|p| format!("sha256//{p}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            TlsFailure::Revoked => f.write_str("certificate has been revoked"),
            TlsFailure::BadCertificate(why) => write!(f, "bad certificate: {why}"),
            TlsFailure::PeerAlert(alert) => write!(
                f,
                "peer rejected the handshake with alert \"{alert}\" (does it require a client certificate?)"
            ),
            TlsFailure::NothingInCommon(alert) => write!(
                f,
                "no cipher suite or protocol version in common: the server refused the handshake \
                 (alert \"{alert}\") before choosing one; boardnet offers TLS 1.2 and 1.3 with \
                 forward-secret (ECDHE) key exchange, not static RSA or TLS 1.0/1.1"
            ),
            TlsFailure::NotTls => f.write_str(
                "the server did not answer with TLS (a plain-text service on that port?)",
            ),
            TlsFailure::Handshake(why) => write!(f, "handshake failed: {why}"),
            TlsFailure::Config(why) => write!(f, "TLS configuration: {why}"),
        }
    }
}

impl std::error::Error for TlsFailure {}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_like_curl() {
        let key = "+5MqdmjfbL3OVQjWeW3WR2iidy1tGXYU0A0QZAbLTSg=";
        let pin = format!("sha256//{key}");
        assert_eq!(parse_pins(&format!("{pin};{pin}")).unwrap(), vec![key; 2]);
        assert!(parse_pins("/etc/key.pem").unwrap_err().contains("sha256//"));
        assert!(parse_pins("sha256//!!!").unwrap_err().contains("base64"));
        assert!(parse_pins("sha256//AAAA").unwrap_err().contains("32 bytes"));
    }

    #[test]
    fn problem_names_parse() {
        for p in [
            TlsProblem::UnknownIssuer,
            TlsProblem::Expired,
            TlsProblem::NotYetValid,
            TlsProblem::HostnameMismatch,
        ] {
            assert_eq!(p.name().parse::<TlsProblem>(), Ok(p));
        }
        assert!("everything"
            .parse::<TlsProblem>()
            .unwrap_err()
            .contains("unknown-issuer"));
    }
}
