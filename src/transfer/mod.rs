//! Whole-file transfers by URL, whatever the protocol: the entry points are [`download`] and
//! [`upload`], which choose HTTP(S) or FTP(S) from the URL's scheme and share one [`Options`],
//! one [`Transferred`] result, one [`Progress`] and one [`TransferError`].
//!
//! A download lands in `DEST.part` and is renamed into place only when complete (and, with
//! [`Options::sha256`], verified); [`Options::resume`] continues a `.part` with Range or REST.
//! With [`Options::roam`] the download follows the board's preferred bearer: when the
//! preferred configuration moves to another interface, the transfer stops and resumes through
//! the new one; with no bearer at all it waits for one.
//!
//! ```no_run
//! use boardnet::transfer::{self, Options, Roam};
//! let done = transfer::download(
//!     "https://updates.example/fw-2.4.img",
//!     "/data/fw.img".as_ref(),
//!     Options {
//!         resume: true,
//!         roam: Roam::Follow,
//!         progress: Some(Box::new(|p| eprintln!("{} of {:?} bytes", p.bytes, p.total))),
//!         ..Options::default()
//!     },
//! )?;
//! println!("{} bytes, {} resumed", done.size, done.resumed_from);
//! # Ok::<(), boardnet::transfer::TransferError>(())
//! ```
//!
//! [`crate::http`] and [`crate::ftp`] stay underneath for what only one protocol has (headers,
//! methods, cookies; FTP sessions and listings); [`Options::http_client`] and
//! [`Options::http_request`] reach them from here.

mod roam;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::error::{Classify, ErrorClass};
use crate::fs::FileError;
pub use crate::fs::PartNotice;
pub use crate::http::Timings;
use crate::http::{self, Client, ClientBuilder, DownloadError, NetworkError, Request};
pub use crate::net::{Progress, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT};
pub use roam::{BearerMove, Roam};

/// A progress callback ([`Options::progress`]). `Send` and owned because an HTTP upload
/// reports from inside its request body.
pub type ProgressFn = Box<dyn FnMut(&Progress) + Send>;

/// Builds the HTTP request for a URL on the client the transfer made
/// ([`Options::http_request`]).
pub type RequestFn<'a> = &'a dyn for<'c> Fn(&'c Client, &str) -> Result<Request<'c>, NetworkError>;

/// How a transfer runs. `Options::default()` resumes nothing, verifies nothing, and waits at
/// most [`DEFAULT_CONNECT_TIMEOUT`] to connect and [`DEFAULT_IDLE_TIMEOUT`] for a byte.
pub struct Options<'a> {
    /// Continue `DEST.part` (downloads) or what the server has (FTP uploads).
    pub resume: bool,
    /// Expected SHA-256 of the complete download, checked before the rename.
    pub sha256: Option<[u8; 32]>,
    /// Called as bytes move.
    pub progress: Option<ProgressFn>,
    /// Told when the `.part` restarts, a resume cannot be verified, or the file was already
    /// complete.
    pub notice: Option<&'a mut dyn FnMut(&PartNotice)>,
    /// Cancel from another thread (or on SIGINT/SIGTERM, see
    /// [`CancelToken::cancel_on_termination_signals`]).
    pub cancel: Option<CancelToken>,
    /// Leave through this interface (SO_BINDTODEVICE). Roaming chooses it itself.
    pub interface: Option<String>,
    /// Limit for connecting (name lookup, TCP, proxy and TLS set-up); `None`: no limit.
    pub connect_timeout: Option<Duration>,
    /// Longest wait in which not one byte moves; `None`: no limit.
    pub idle_timeout: Option<Duration>,
    /// Limit for the whole transfer, roaming included; `None`: no limit.
    pub max_time: Option<Duration>,
    /// Stop when fewer than `.0` bytes/s moved over the last `.1`.
    pub speed_limit: Option<(u64, Duration)>,
    /// Certificate verification for https:// and ftps:// (and FTP with [`Options::ftp_tls`]).
    #[cfg(feature = "tls")]
    pub tls: crate::tls::TlsOptions,
    /// Follow the preferred bearer (downloads only). With no bearer up, the download waits
    /// for one for as long as `connect_timeout` (and within `max_time`), then fails with
    /// [`TransferError::NoBearer`].
    pub roam: Roam<'a>,
    /// Told when a roaming download moves to another interface.
    pub bearer_moved: Option<&'a mut dyn FnMut(&BearerMove)>,
    /// HTTP: on a 4xx/5xx reply, write its body next to the destination
    /// ([`http::error_body_path`]); `DEST` and `DEST.part` are left alone.
    pub keep_error_body: bool,
    /// HTTP: adjust the client before it is built (proxy, authentication, redirects, HSTS…).
    /// The transfer's interface, cancel token and limits are applied after it.
    pub http_client: Option<&'a dyn Fn(ClientBuilder) -> ClientBuilder>,
    /// HTTP: build the request (headers, method…); default a plain GET or PUT.
    pub http_request: Option<RequestFn<'a>>,
    /// FTP: the server connects to us for data (PORT/EPRT) instead of passive mode.
    pub ftp_active: bool,
    /// FTP: AUTH TLS on a plain `ftp://` URL (explicit FTPS); `ftps://` is implicit TLS.
    pub ftp_tls: bool,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            resume: false,
            sha256: None,
            progress: None,
            notice: None,
            cancel: None,
            interface: None,
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            max_time: None,
            speed_limit: None,
            #[cfg(feature = "tls")]
            tls: crate::tls::TlsOptions::default(),
            roam: Roam::Off,
            bearer_moved: None,
            keep_error_body: false,
            http_client: None,
            http_request: None,
            ftp_active: false,
            ftp_tls: false,
        }
    }
}

/// A finished transfer (for a roamed download: its last leg, plus the interfaces it used).
#[derive(Debug)]
pub struct Transferred {
    /// Where a download was saved (`None` for uploads).
    pub path: Option<PathBuf>,
    /// Size of the whole file.
    pub size: u64,
    /// Bytes that were already there (in `.part`, or on the server for a resumed upload).
    pub resumed_from: u64,
    /// Hex SHA-256 of the download, when one was asked for.
    pub sha256: Option<String>,
    /// The URL the data came from, after redirects.
    pub effective_url: String,
    /// Where the time went (FTP measures only the total).
    pub timings: Timings,
    /// The interfaces a roaming download went through, in order.
    pub interfaces: Vec<String>,
    /// HTTP: the final reply (status, headers), its body read.
    pub reply: Option<http::Reply>,
    /// HTTP: a conditional request was answered 304 and nothing was written.
    pub not_modified: bool,
}

/// Why a transfer failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransferError {
    /// The URL is malformed or has a scheme this build cannot transfer.
    InvalidUrl(String),
    /// An option does not fit the transfer (e.g. a fixed interface while roaming).
    InvalidOptions(&'static str),
    /// HTTP(S) failed; the reply, when the server answered, is in it.
    Http(DownloadError),
    /// FTP(S) failed.
    #[cfg(feature = "ftp")]
    Ftp(crate::ftp::FtpError),
    /// Roaming could not follow the bearers (the manager failed).
    Bearer(crate::bearer::BearerError),
    /// Roaming waited this long and no bearer came up.
    NoBearer(Duration),
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::InvalidUrl(why) => f.write_str(why),
            TransferError::InvalidOptions(why) => f.write_str(why),
            TransferError::Http(e) => e.fmt(f),
            #[cfg(feature = "ftp")]
            TransferError::Ftp(e) => e.fmt(f),
            TransferError::Bearer(e) => write!(f, "following the preferred bearer: {e}"),
            TransferError::NoBearer(waited) => write!(
                f,
                "no network: no bearer came up within {:.1} s",
                waited.as_secs_f64()
            ),
        }
    }
}

impl std::error::Error for TransferError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TransferError::Http(e) => Some(e),
            #[cfg(feature = "ftp")]
            TransferError::Ftp(e) => Some(e),
            TransferError::Bearer(e) => Some(e),
            _ => None,
        }
    }
}

impl Classify for TransferError {
    fn class(&self) -> ErrorClass {
        match self {
            TransferError::InvalidUrl(_) | TransferError::InvalidOptions(_) => ErrorClass::Usage,
            TransferError::Http(e) => e.class(),
            #[cfg(feature = "ftp")]
            TransferError::Ftp(e) => e.class(),
            TransferError::Bearer(e) => e.class(),
            TransferError::NoBearer(_) => ErrorClass::Timeout,
        }
    }
}

impl TransferError {
    /// Whether the transfer was cancelled (by the caller's token, a signal, or roaming).
    fn is_cancelled(&self) -> bool {
        self.class() == ErrorClass::Cancelled
    }

    /// A stable name of the cause, QNetworkReply::NetworkError style (the protocol's own).
    pub fn kind(&self) -> &'static str {
        match self {
            TransferError::InvalidUrl(_) | TransferError::InvalidOptions(_) => "InvalidRequest",
            TransferError::Http(e) => e.error.name(),
            #[cfg(feature = "ftp")]
            TransferError::Ftp(e) => e.kind(),
            TransferError::Bearer(_) => "BearerError",
            TransferError::NoBearer(_) => "NoBearer",
        }
    }
}

impl From<NetworkError> for TransferError {
    fn from(error: NetworkError) -> Self {
        http_error(error)
    }
}

/// The protocol a URL's scheme names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Http,
    #[cfg(feature = "ftp")]
    Ftp,
}

impl Protocol {
    fn of(url: &str) -> Result<Protocol, TransferError> {
        let scheme = url
            .trim()
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        match scheme.as_str() {
            "http" | "https" => Ok(Protocol::Http),
            #[cfg(feature = "ftp")]
            "ftp" | "ftps" => Ok(Protocol::Ftp),
            _ => Err(TransferError::InvalidUrl(format!(
                "{}: not a URL this build transfers ({})",
                crate::error::Bounded(url),
                if cfg!(feature = "ftp") {
                    "http, https, ftp, ftps"
                } else {
                    "http, https"
                }
            ))),
        }
    }
}

/// Download `url` to `dest` (through `DEST.part`, renamed when complete).
pub fn download(
    url: &str,
    dest: &Path,
    mut opts: Options<'_>,
) -> Result<Transferred, TransferError> {
    let protocol = Protocol::of(url)?;
    match std::mem::take(&mut opts.roam) {
        Roam::Off => {
            let leg = Leg {
                interface: opts.interface.clone(),
                resume: opts.resume,
                deadline: opts.max_time.map(|d| Instant::now() + d),
            };
            download_leg(protocol, url, dest, &mut opts, &leg)
        }
        roam => roam::download(protocol, url, dest, opts, roam),
    }
}

/// Upload the file `src` to `url` (HTTP: PUT; FTP: STOR, or APPE after the server's SIZE with
/// [`Options::resume`]).
pub fn upload(src: &Path, url: &str, mut opts: Options<'_>) -> Result<Transferred, TransferError> {
    if !matches!(opts.roam, Roam::Off) {
        return Err(TransferError::InvalidOptions(
            "roaming applies to downloads only",
        ));
    }
    match Protocol::of(url)? {
        Protocol::Http => http_upload(src, url, &mut opts),
        #[cfg(feature = "ftp")]
        Protocol::Ftp => ftp_io::upload(src, url, &mut opts, Instant::now()),
    }
}

/// One attempt of a download: through which interface, resuming or not, ending when.
struct Leg {
    interface: Option<String>,
    resume: bool,
    deadline: Option<Instant>,
}

impl Leg {
    /// What is left of the whole transfer's time.
    fn time_left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

fn download_leg(
    protocol: Protocol,
    url: &str,
    dest: &Path,
    opts: &mut Options<'_>,
    leg: &Leg,
) -> Result<Transferred, TransferError> {
    match protocol {
        Protocol::Http => http_download(url, dest, opts, leg),
        #[cfg(feature = "ftp")]
        Protocol::Ftp => ftp_io::download(url, dest, opts, leg),
    }
}

/// The client for one HTTP leg: the options' limits, then the caller's adjustments, then the
/// leg's interface and cancel token.
fn http_client(opts: &Options<'_>, leg: &Leg) -> Result<Client, TransferError> {
    let mut builder = Client::builder()
        .connect_timeout(opts.connect_timeout)
        .idle_timeout(opts.idle_timeout);
    if let Some((bytes_per_sec, window)) = opts.speed_limit {
        builder = builder.speed_limit(bytes_per_sec, window);
    }
    #[cfg(feature = "tls")]
    {
        builder = builder.tls(opts.tls.clone());
    }
    if let Some(adjust) = opts.http_client {
        builder = adjust(builder);
    }
    builder = builder
        .interface(leg.interface.clone())
        .max_time(leg.time_left());
    if let Some(cancel) = &opts.cancel {
        builder = builder.cancel_token(cancel.clone());
    }
    builder.build().map_err(http_error)
}

fn http_error(error: NetworkError) -> TransferError {
    TransferError::Http(DownloadError { error, reply: None })
}

fn http_download(
    url: &str,
    dest: &Path,
    opts: &mut Options<'_>,
    leg: &Leg,
) -> Result<Transferred, TransferError> {
    let client = http_client(opts, leg)?;
    let request = match opts.http_request {
        Some(make) => make(&client, url).map_err(http_error)?,
        None => client.get(url),
    };
    let mut report = |p: &Progress| {
        if let Some(f) = opts.progress.as_mut() {
            f(p)
        }
    };
    let mut notice = |n: &PartNotice| {
        if let Some(f) = opts.notice.as_mut() {
            f(n)
        }
    };
    let done = http::download(
        request,
        dest,
        http::DownloadOptions {
            resume: leg.resume,
            sha256: opts.sha256,
            progress: Some(&mut report),
            notice: Some(&mut notice),
            keep_error_body: opts.keep_error_body,
            ..Default::default()
        },
    )
    .map_err(TransferError::Http)?;
    Ok(Transferred {
        path: Some(done.path),
        size: done.size,
        resumed_from: done.resumed_from,
        sha256: done.sha256,
        effective_url: done.reply.url().to_string(),
        timings: done.reply.timings(),
        interfaces: Vec::new(),
        not_modified: done.not_modified,
        reply: Some(done.reply),
    })
}

fn http_upload(
    src: &Path,
    url: &str,
    opts: &mut Options<'_>,
) -> Result<Transferred, TransferError> {
    let leg = Leg {
        interface: opts.interface.clone(),
        resume: false,
        deadline: opts.max_time.map(|d| Instant::now() + d),
    };
    let client = http_client(opts, &leg)?;
    let request = match opts.http_request {
        Some(make) => make(&client, url).map_err(http_error)?,
        None => client.put(url),
    };
    let mut request = request.body(http::Body::File(src.to_path_buf()));
    if let Some(mut report) = opts.progress.take() {
        let started = Instant::now();
        request = request.upload_progress(Box::new(move |bytes, total| {
            report(&Progress {
                bytes,
                total,
                elapsed: started.elapsed(),
            })
        }));
    }
    let size = std::fs::metadata(src)
        .map_err(|e| http_error(NetworkError::LocalFile(FileError::new(src, "stat", e))))?
        .len();
    let mut reply = request.send().map_err(http_error)?;
    if let Some(error) = reply.error_for_status() {
        return Err(TransferError::Http(DownloadError {
            error,
            reply: Some(Box::new(reply)),
        }));
    }
    // The answer's body (usually short) is read so the timings and connection are complete.
    let mut sink = [0u8; 4096];
    while reply.read_chunk(&mut sink).map_err(http_error)? > 0 {}
    Ok(Transferred {
        path: None,
        size,
        resumed_from: 0,
        sha256: None,
        effective_url: reply.url().to_string(),
        timings: reply.timings(),
        interfaces: Vec::new(),
        not_modified: false,
        reply: Some(reply),
    })
}

#[cfg(feature = "ftp")]
mod ftp_io {
    //! The FTP legs: one session per transfer, from the URL's host, port and login.

    use std::path::Path;
    use std::time::Instant;

    use super::{Leg, Options, Progress, Timings, TransferError, Transferred};
    use crate::ftp::{self, FtpError, Limits, Security, Session, SessionOptions};

    /// Data is moved in pieces of this size.
    const BUFFER: usize = 256 * 1024;

    fn connect(
        url: &str,
        opts: &Options<'_>,
        leg: &Leg,
    ) -> Result<(ftp::FtpUrl, Session), TransferError> {
        let parsed = ftp::url::parse(url).map_err(|e| TransferError::InvalidUrl(e.to_string()))?;
        let security = if parsed.implicit_tls {
            Security::Implicit
        } else if opts.ftp_tls {
            Security::Explicit
        } else {
            Security::None
        };
        let session_options = SessionOptions {
            security,
            #[cfg(feature = "tls")]
            tls: opts.tls.clone(),
            active: opts.ftp_active,
            limits: Limits {
                connect: opts.connect_timeout,
                idle: opts.idle_timeout,
                deadline: leg
                    .deadline
                    .map(|at| (at, opts.max_time.unwrap_or_default())),
                speed: opts.speed_limit,
                cancel: opts.cancel.clone(),
                interface: leg.interface.clone(),
            },
            ..SessionOptions::default()
        };
        let session = Session::connect(
            &parsed.host,
            parsed.port,
            parsed.user.as_deref(),
            parsed.password.as_deref(),
            &session_options,
        )
        .map_err(TransferError::Ftp)?;
        Ok((parsed, session))
    }

    /// The named file of an FTP URL (not a directory).
    fn file_path(parsed: &ftp::FtpUrl, url: &str) -> Result<String, TransferError> {
        if parsed.is_directory() {
            return Err(TransferError::InvalidUrl(format!(
                "{}: names a directory, not a file",
                crate::error::Bounded(url)
            )));
        }
        Ok(parsed.path.clone())
    }

    fn finished(url: &str, started: Instant) -> (String, Timings) {
        let timings = Timings {
            total: started.elapsed(),
            ..Timings::default()
        };
        (url.to_string(), timings)
    }

    pub(super) fn download(
        url: &str,
        dest: &Path,
        opts: &mut Options<'_>,
        leg: &Leg,
    ) -> Result<Transferred, TransferError> {
        let started = Instant::now();
        let (parsed, mut session) = connect(url, opts, leg)?;
        let remote = file_path(&parsed, url)?;
        let mut buf = vec![0u8; BUFFER];
        let mut report = |p: &Progress| {
            if let Some(f) = opts.progress.as_mut() {
                f(p)
            }
        };
        let mut notice = |n: &super::PartNotice| {
            if let Some(f) = opts.notice.as_mut() {
                f(n)
            }
        };
        let done = ftp::download(
            &mut session,
            &remote,
            dest,
            &mut buf,
            ftp::DownloadOptions {
                resume: leg.resume,
                sha256: opts.sha256,
                progress: Some(&mut report),
                notice: Some(&mut notice),
            },
        )
        .map_err(TransferError::Ftp)?;
        let _ = session.quit();
        let (effective_url, timings) = finished(url, started);
        Ok(Transferred {
            path: Some(done.path),
            size: done.size,
            resumed_from: done.resumed_from,
            sha256: done.sha256,
            effective_url,
            timings,
            interfaces: Vec::new(),
            reply: None,
            not_modified: false,
        })
    }

    pub(super) fn upload(
        src: &Path,
        url: &str,
        opts: &mut Options<'_>,
        started: Instant,
    ) -> Result<Transferred, TransferError> {
        let leg = Leg {
            interface: opts.interface.clone(),
            resume: opts.resume,
            deadline: opts.max_time.map(|d| started + d),
        };
        let (parsed, mut session) = connect(url, opts, &leg)?;
        let remote = parsed.upload_path(src).ok_or_else(|| {
            TransferError::Ftp(FtpError::InvalidRequest(format!(
                "{}: no file name to upload as",
                src.display()
            )))
        })?;
        let mut buf = vec![0u8; BUFFER];
        let mut report = |p: &Progress| {
            if let Some(f) = opts.progress.as_mut() {
                f(p)
            }
        };
        let done = ftp::upload(
            &mut session,
            src,
            &remote,
            opts.resume,
            &mut buf,
            Some(&mut report),
        )
        .map_err(TransferError::Ftp)?;
        let _ = session.quit();
        let (effective_url, timings) = finished(url, started);
        Ok(Transferred {
            path: None,
            size: done.resumed_from + done.bytes,
            resumed_from: done.resumed_from,
            sha256: None,
            effective_url,
            timings,
            interfaces: Vec::new(),
            reply: None,
            not_modified: false,
        })
    }
}
