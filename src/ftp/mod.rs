//! FTP and FTPS: whole-file transfers by URL and a QFtp-style session (feature `ftp`).
//!
//! ```text
//! url.rs       ftp:// and ftps:// URLs, ~/.netrc
//! proto.rs     replies, commands, 227/229/257/213 payloads, FEAT       (sans-IO)
//! listing.rs   MLSD and LIST lines into entries                        (sans-IO)
//! io.rs        sockets with deadlines and cancellation, TLS on top
//! session.rs   the control connection and one data connection per transfer
//! transfer.rs  downloads into FILE.part with resume and SHA-256; resumable uploads
//! ```
//!
//! The control protocol is ours rather than suppaftp's: suppaftp 12 needs Rust 1.88 (the boards'
//! toolchain is 1.85), and the newest release that builds here (6.3) pulls in regex and chrono,
//! 1.28 MB of a stripped binary for what is a line-based protocol. Everything that blocks
//! waits in `poll(2)` next to the cancel pipe, like HTTP transfers.
//!
//! ```no_run
//! use boardnet::ftp::{self, Session, SessionOptions};
//! let mut s = Session::connect("192.0.2.10", 21, Some("fw"), Some("secret"),
//!                              &SessionOptions::default())?;
//! let mut buf = vec![0u8; 256 * 1024];
//! ftp::download(&mut s, "images/fw.bin", "/data/fw.bin".as_ref(), &mut buf,
//!               ftp::DownloadOptions { resume: true, ..Default::default() })?;
//! s.quit()?;
//! # Ok::<(), boardnet::ftp::FtpError>(())
//! ```

mod error;
mod io;
pub mod listing;
pub mod proto;
mod session;
mod transfer;
pub mod url;

pub use error::{FtpError, WHOLE_TRANSFER};
pub use io::Limits;
pub use listing::{Entry, EntryKind};
pub use proto::Reply;
pub use session::{ProgressFn, Session, SessionOptions};
pub use transfer::{download, upload, DownloadOptions, Downloaded, Uploaded};
pub use url::{FtpUrl, Security};
