//! A D-Bus client codec of our own, sans I/O — the candidate for the one D-Bus layer every
//! daemon boardnet talks to (ConnMan, oFono, NetworkManager) would use instead of the vendored
//! libdbus (bench/dbus-size.sh measures what each choice costs).
//!
//! [`wire`] marshals and reads values by signature, [`message`] frames whole messages (their
//! length known from the first 16 bytes), [`auth`] is the SASL EXTERNAL exchange. Every length
//! is checked once against the bytes that are there; bad input is a [`wire::WireError`], never
//! a panic (fuzzed as `dbus_message`). The I/O side — a Unix socket on the reactor, calls with
//! replies, AddMatch and signals — is to come with the backends that use it.

pub mod auth;
pub mod message;
pub mod wire;
