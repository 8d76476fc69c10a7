//! boardnet: networking for embedded Linux boards — what Qt Network gives Qt programs, as a
//! small synchronous library (and the `boardnet` binary built on it).
//!
//! Calls block; anything that waits on several things at once (many sockets, DNS lookups,
//! link events, the connectivity check) registers with one `mio` event loop, the
//! [`reactor`]. No async runtime and no hidden threads: the library starts none, except the
//! service [`daemon::run`], which runs each transfer of its queue on a thread of its own (at
//! most `max_transfers`). Every error carries its class ([`ErrorClass`], [`Classify`]), which
//! is also the command line's exit code.
//!
//! # Where to start
//!
//! | to do what Qt does with | start from |
//! |---|---|
//! | QNetworkAccessManager `get` of a whole file, resumed, verified; over FTP too | [`transfer::download`], [`transfer::upload`] |
//! | QNetworkAccessManager, QNetworkRequest, QNetworkReply | [`http::Client`], [`http::Request`], [`http::Reply`] |
//! | QNetworkReply::abort | [`cancel::CancelToken`] |
//! | QFtp | [`ftp::Session`] |
//! | QHostInfo | [`dns::HostInfo`], [`dns::host::HostLookups`] (many, on the reactor) |
//! | QDnsLookup | [`dns::Lookup`], [`dns::Resolver`] (many, on the reactor) |
//! | QTcpSocket, QSslSocket, QLocalSocket, QSctpSocket | [`socket::StreamSocket`] |
//! | QTcpServer, QSslServer, QLocalServer, QSctpServer | [`socket::Server`] |
//! | QUdpSocket | [`socket::UdpSocket`] |
//! | QSslConfiguration | [`tls::TlsOptions`], [`tls::ServerTlsOptions`] |
//! | QNetworkConfigurationManager, QNetworkInformation | [`bearer::Manager`] |
//! | QNetworkSession (open, close, statistics) | [`bearer::Manager::set_session`], [`bearer::Session`] |
//! | QNetworkSession roaming | [`transfer::Roam`] |
//! | Wi-Fi (no Qt class) | [`bearer::wifi::Wifi`] |
//! | the event loop | [`reactor::Reactor`] |
//! | a board-wide network service (ConnMan/NetworkManager's role, plus a transfer queue) | [`daemon::run`]; its clients: [`daemon::client::ControlClient`] |
//!
//! The programs in `examples/` use each of these against real servers (and are run so in the
//! tests).
//!
//! # A firmware image, over whatever link is up
//!
//! ```no_run
//! use boardnet::transfer::{self, Options, Roam};
//! let done = transfer::download(
//!     "https://updates.example/fw.img",
//!     "/data/fw.img".as_ref(),
//!     Options { resume: true, roam: Roam::Follow, ..Options::default() },
//! )?;
//! println!("{} bytes, sha256 {:?}", done.size, done.sha256);
//! # Ok::<(), boardnet::transfer::TransferError>(())
//! ```
//!
//! # An HTTP request with headers
//!
//! ```no_run
//! use boardnet::http::Client;
//! let client = Client::builder().build()?;
//! let mut reply = client
//!     .post("https://hub.example/telemetry")
//!     .header("Content-Type", "application/json")
//!     .body(boardnet::http::Body::Bytes(br#"{"up":1}"#.to_vec()))
//!     .send()?;
//! if let Some(error) = reply.error_for_status() {
//!     return Err(error.into());
//! }
//! std::io::copy(&mut reply, &mut std::io::stdout())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Sockets on the event loop
//!
//! ```no_run
//! use std::time::Duration;
//! use boardnet::reactor::Reactor;
//! use boardnet::socket::{ConnectOptions, StreamSocket};
//! let mut reactor = Reactor::new()?;
//! let endpoint = "tcp://192.0.2.7:7000".parse()?;
//! let mut socket = StreamSocket::connect(&mut reactor, &endpoint, ConnectOptions::default())?;
//! socket.wait_for_connected(&mut reactor, Duration::from_secs(5))?;
//! socket.write(b"ping\n")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The board's links
//!
//! ```no_run
//! use std::time::Duration;
//! use boardnet::bearer::{Manager, ManagerOptions};
//! use boardnet::reactor::Reactor;
//! let mut reactor = Reactor::new()?;
//! let mut manager = Manager::open(&mut reactor, ManagerOptions::default())?;
//! manager.wait_for_update(&mut reactor, Duration::from_secs(5))?;
//! println!("{} via {:?}", manager.reachability(), manager.default_configuration().map(|c| &c.id));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod authority;
pub mod bearer;
mod calendar;
pub mod cancel;
#[cfg(feature = "daemon")]
pub mod daemon;
pub mod dbus;
pub mod dns;
pub mod error;
pub mod fs;
#[cfg(feature = "ftp")]
pub mod ftp;
pub mod http;
mod net;
mod random;
pub mod reactor;
pub mod socket;
mod sort;
pub mod tls;
pub mod transfer;

#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;

pub use error::{Classify, ErrorClass};

/// The Rust snippets of README.md and docs/library-guide.md, compiled as doc tests.
#[cfg(doctest)]
mod documents {
    #[doc = include_str!("../README.md")]
    struct Readme;
    #[doc = include_str!("../docs/library-guide.md")]
    struct LibraryGuide;
}
