//! Shared test peers for boardnet's integration tests.
//!
//! Every `tests/<capability>.rs` starts with `mod peers;` and uses `peers::…`.
//! All peers listen on loopback only, on free ports, and are stopped (killed
//! by PID / threads shut down) when dropped — also when the test panics.
//!
//! * [`WorkDir`] — fresh temp dir, removed on drop unless
//!   `BOARDNET_KEEP_TEST_DIRS` is set.
//! * [`free_port`], [`free_ports`], [`wait_until_listening`], [`wait_for_port`],
//!   [`refused_url`].
//! * [`Pki`] — test CA, valid / expired / wrong-host leaves, other CA, client
//!   certs; [`spki_sha256_base64`] for pinning.
//! * [`Nginx`] — plain HTTP + HTTPS (valid, expired, wrong host, client auth)
//!   with static files, uploads, basic auth, redirects, status codes, cookies
//!   and a proxy to the echo server.
//! * [`EchoServer`] — Python echo server answering JSON about each request.
//! * [`FaultServer`] / [`Fault`] — in-process misbehaving HTTP server.
//! * [`Nsd`] / [`Knot`] — authoritative DNS on 127.0.0.1 + [::1] (free
//!   port) serving the zones described in `dns_zones.rs`; [`dig_at`],
//!   [`dig_short_at`], [`kdig_at`] as oracles; [`dns_wire`] = tiny wire helpers.
//! * [`NetnsDns`] — two nsd on port 53 in a network namespace with its own
//!   resolv.conf (root).
//! * [`DnsFault`] / [`DnsScript`] — in-process misbehaving DNS server.
//! * [`boardnet`], [`run_boardnet`], [`run`], [`RunOutput`] — run programs with
//!   a timeout; [`require_root_or_fail`], [`require_program`].
#![allow(dead_code)]
#![allow(unused_imports)]

mod dns_fault;
pub mod dns_wire;
mod dns_zones;
mod echo;
mod fault;
mod knot;
mod net;
mod netns_dns;
mod nginx;
mod nsd;
mod pki;
mod process;
mod proxy;
mod workdir;

pub use dns_fault::{
    fault_tcp_answers, DnsFault, DnsScript, DnsTransport, FAULT_ANSWER, FAULT_DECOY,
    FAULT_TCP_ANSWER_COUNT, FAULT_TTL, FAULT_WRONG_QUESTION,
};
pub use dns_zones::{
    bigtxt_string, example_test_zone, BIGTXT_COUNT, BIG_A_COUNT, FRESH_1, FRESH_2, MID_A_COUNT,
    ZONE_NAMES,
};
pub use echo::{python3, EchoServer, KillOnDrop, ECHO_SERVER_PY};
pub use fault::{Fault, FaultServer, HUGE_HEADERS_BYTES};
pub use knot::Knot;
pub use net::{
    free_port, free_ports, ipv6_available, is_listening, refused_url, wait_for_port,
    wait_until_listening, START_TIMEOUT,
};
pub use netns_dns::{NetnsDns, NETNS_SERVER1, NETNS_SERVER1_V6, NETNS_SERVER2, NETNS_SERVER2_V6};
pub use nginx::{find_program, Nginx, AUTH_PASSWORD, AUTH_USER, HELLO, SECRET};
pub use nsd::{dig_at, dig_short_at, kdig_at, Nsd, TermOnDrop, DIG_TIMEOUT};
pub use pki::{base64, spki_sha256_base64, Pki};
pub use process::{
    boardnet, boardnet_path, euid, require_program, require_root_or_fail, run, run_boardnet,
    run_with_input, RunOutput, PROXY_ENV_VARS,
};
pub use proxy::{ProxyServer, PROXY_PY};
pub use workdir::{read_lossy, write_file, WorkDir, KEEP_ENV};
