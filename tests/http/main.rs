//! The HTTP capability against real peers: nginx (HTTP, HTTPS with a test CA), a request-echo
//! server, misbehaving servers, and proxies — all on 127.0.0.1/::1 with free ports.

#[path = "../peers/mod.rs"]
mod peers;

mod auth;
mod compressed;
mod conditional;
mod faults;
mod hsts;
mod proxy;
mod resume;
mod tls;
mod transfer;
