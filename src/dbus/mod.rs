//! A D-Bus client codec of our own, sans I/O — the candidate for the one D-Bus layer every
//! daemon boardnet talks to (ConnMan, oFono, NetworkManager) would use instead of the vendored
//! libdbus (bench/dbus-size.sh measures what each choice costs).
//!
//! [`wire`] marshals and reads values by signature, [`message`] frames whole messages (their
//! length known from the first 16 bytes), [`auth`] is the SASL EXTERNAL exchange. Every length
//! is checked once against the bytes that are there; bad input is a [`wire::WireError`], never
//! a panic (fuzzed as `dbus_message`). [`connection::Connection`] is the thin I/O on top: a Unix
//! socket, calls that wait (bounded) for their reply, AddMatch, a bounded queue of signals, and
//! a descriptor for the reactor. The backends move to it in issue 14.

pub mod auth;
pub mod connection;
pub mod message;
pub mod wire;
