//! boardnet: networking for embedded Linux boards.
//!
//! What Qt Network gives Qt programs, as a small synchronous Rust library and one busybox-style
//! binary: HTTP(S) transfers ([`http`]), DNS lookups ([`dns`]), and — as their issues land —
//! FTP, sockets and bearer management. No async runtime and no hidden threads: calls block,
//! and anything that waits on several things at once uses one `mio` event loop ([`reactor`]).
//!
//! Every module error maps into [`ErrorClass`], the tool-wide exit-code table.

#![warn(missing_docs)]

mod authority;
pub mod bearer;
mod calendar;
pub mod cancel;
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
pub mod tls;
pub mod transfer;

#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;

pub use error::{Classify, ErrorClass};
