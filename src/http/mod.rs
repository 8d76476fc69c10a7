//! HTTP(S) requests: QNetworkAccessManager, QNetworkRequest and QNetworkReply for boards.
//!
//! A [`Client`] (one per process: connection pool, cookie jar, TLS configuration, proxy,
//! interface binding) builds [`Request`]s; [`Request::send`] follows redirects and returns a
//! [`Reply`] whose body streams. [`download`] adds what an OTA agent needs on top: a `.part`
//! file, resume with Range, SHA-256 verification and an atomic rename.
//!
//! ```no_run
//! use boardnet::http::{download, Client, DownloadOptions};
//! let client = Client::builder().interface(Some("wwan0".into())).build()?;
//! let done = download(
//!     client.get("https://updates.example/fw.img"),
//!     "/data/fw.img".as_ref(),
//!     DownloadOptions { resume: true, ..DownloadOptions::default() },
//! )?;
//! println!("{} bytes, status {}", done.size, done.reply.status());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Built on ureq 3 (HTTP/1.1, sans-IO core) with our own resolver and connector chain
//! (`transport`, `tls`): every wait is a `poll(2)` that a [`CancelToken`](crate::cancel::CancelToken)
//! or SIGINT can interrupt; no threads are spawned.

pub mod auth;
mod buffers;
mod client;
pub mod cookies;
pub mod decode;
mod download;
mod error;
pub mod hsts;
pub mod multipart;
mod proxy;
mod reply;
mod request;
mod socks;
#[cfg(feature = "tls")]
mod tls;
pub(crate) mod transport;
pub mod url;

pub use crate::tls::{parse_pins, TlsOptions, TlsProblem};
pub use auth::AuthPolicy;
pub use client::{
    AddressFamily, Client, ClientBuilder, RedirectPolicy, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, USER_AGENT,
};
pub use download::{
    copy_body, download, error_body_path, hex, parse_sha256, Download, DownloadError,
    DownloadOptions, Progress,
};
pub use error::{NetworkError, StatusKind, TimeoutPhase, TlsFailure};
pub use reply::{RedirectHistory, Reply, Timings};
pub use request::{Body, Request, UploadProgress};

/// Entry points for `fuzz/` (cargo-fuzz targets) into crate-private parsers; not API, and may
/// change or go away at any time.
#[doc(hidden)]
pub mod fuzzing {
    /// The SOCKS5 method-choice reply: whether the proxy chose username/password.
    pub fn socks_method_choice(reply: [u8; 2]) -> Result<bool, String> {
        super::socks::parse_method_choice(reply).map_err(|e| e.to_string())
    }

    /// The RFC 1929 authentication reply.
    pub fn socks_auth_reply(reply: [u8; 2]) -> Result<(), String> {
        super::socks::parse_auth_reply(reply).map_err(|e| e.to_string())
    }

    /// The first 5 bytes of the SOCKS5 CONNECT reply: how many bytes follow.
    pub fn socks_connect_reply_rest(head: [u8; 5]) -> Result<usize, String> {
        super::socks::connect_reply_rest(head).map_err(|e| e.to_string())
    }

    /// base64(SHA-256(SubjectPublicKeyInfo)) of a DER certificate, `None` if malformed.
    #[cfg(feature = "tls")]
    pub fn spki_pin(cert: &[u8]) -> Option<String> {
        crate::tls::spki_pin(cert)
    }
}
