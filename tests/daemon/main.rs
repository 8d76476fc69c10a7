//! `boardnet daemon` against the real kernel and real peers: the daemon runs in a network
//! namespace with two links to a server namespace; `boardnet ctl` (and raw sockets) talk to
//! it over its control socket.

#[path = "../peers/mod.rs"]
mod peers;

mod jobs;
mod lab;
mod queue;
mod security;
mod service;
