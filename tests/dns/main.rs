//! The DNS capability against real peers: nsd with a test zone (dig as the oracle), a
//! scripted misbehaving server, and nsd on port 53 inside a network namespace for the system
//! resolver and resolv.conf changes.

#[path = "../peers/mod.rs"]
mod peers;

mod faults;
mod library;
mod lookups;
mod system;
