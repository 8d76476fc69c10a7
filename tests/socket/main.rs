//! Sockets and servers against real peers: socat and openssl as the other end of every kind,
//! boardnet against itself, misbehaving peers, a namespace whose route swallows SYNs, two
//! namespaces for multicast and broadcast, and — for SCTP, which this host's kernel lacks —
//! a QEMU guest whose kernel has it.

#[path = "../peers/mod.rs"]
mod peers;

mod faults;
mod library;
mod listener;
#[cfg(feature = "sctp")]
mod sctp;
mod streams;
#[cfg(feature = "tls")]
mod tls;
mod udp;
