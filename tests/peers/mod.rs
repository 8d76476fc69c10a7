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
//! * [`boardnet`], [`run_boardnet`], [`run`], [`RunOutput`] — run programs with
//!   a timeout; [`require_root_or_fail`], [`require_program`].
#![allow(dead_code)]
#![allow(unused_imports)]

mod echo;
mod fault;
mod net;
mod nginx;
mod pki;
mod process;
mod proxy;
mod workdir;

pub use echo::{python3, EchoServer, KillOnDrop, ECHO_SERVER_PY};
pub use fault::{Fault, FaultServer, HUGE_HEADERS_BYTES};
pub use net::{
    free_port, free_ports, ipv6_available, is_listening, refused_url, wait_for_port,
    wait_until_listening, START_TIMEOUT,
};
pub use nginx::{find_program, Nginx, AUTH_PASSWORD, AUTH_USER, HELLO, SECRET};
pub use pki::{base64, spki_sha256_base64, Pki};
pub use process::{
    boardnet, boardnet_path, euid, require_program, require_root_or_fail, run, run_boardnet,
    run_with_input, RunOutput, PROXY_ENV_VARS,
};
pub use proxy::{ProxyServer, PROXY_PY};
pub use workdir::{read_lossy, write_file, WorkDir, KEEP_ENV};
