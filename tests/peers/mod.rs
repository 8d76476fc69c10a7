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
//! * [`Apache`] / [`Lighttpd`] / [`Httpbin`] — more HTTP servers: validators
//!   and 416s without Content-Range, rate-limited `/slow/`, Digest (MD5 and
//!   SHA-256), gzip, HSTS over HTTPS.
//! * [`Squid`] / [`Tinyproxy`] — real forward proxies in their packaged
//!   configuration (squid optionally with Digest proxy authentication).
//! * [`FaultServer`] / [`Fault`] — in-process misbehaving HTTP server.
//! * [`Nsd`] / [`Knot`] — authoritative DNS on 127.0.0.1 + [::1] (free
//!   port) serving the zones described in `dns_zones.rs`; [`dig_at`],
//!   [`dig_short_at`], [`kdig_at`] as oracles; [`dns_wire`] = tiny wire helpers.
//! * [`LinkLab`] — a namespace with veth pairs for link/address/route events; [`TwoLinks`] —
//!   a client namespace with two routed links to a server namespace (roaming, the daemon);
//!   [`JsonLines`] — a running `boardnet … --json` read line by line;
//!   [`ConnmanLab`] — connmand on a private bus in a namespace, DHCP from a peer.
//!   [`NmLab`] — NetworkManager the same way.
//! * [`NetnsDns`] — two nsd on port 53 in a network namespace with its own
//!   resolv.conf (root).
//! * [`PyFtpd`] (pyftpdlib, scripted: throttled, no EPSV, NAT-masquerading PASV,
//!   LIST only), [`Vsftpd`] (a test user it creates and removes; explicit and
//!   implicit FTPS with the test CA), [`StallingFtp`] (stops answering).
//! * [`DnsFault`] / [`DnsScript`] — in-process misbehaving DNS server.
//! * [`SocatEcho`] — socat echo servers per endpoint kind (TCP4/6, UDP4/6,
//!   unix path, abstract, TLS, mutual TLS) with their boardnet URL;
//!   [`socat_address`] / [`socat_tls_address`] / [`socat_send`] — socat as the
//!   client end against a boardnet listener; [`GroupKillOnDrop`].
//! * [`OpenSslServer`] (`openssl s_server -rev`: ALPN, client auth, version
//!   pin) and [`openssl_client`] (s_client, parsed into [`TlsClientInfo`]:
//!   ALPN, verification, alerts, data).
//! * [`ResetPeer`], [`SilentPeer`], [`SilentClient`] — in-process misbehaving
//!   socket peers; [`Netns`] (namespace + `run_in` via setns),
//!   [`HangingConnectTarget`] (TCP connects hang) and [`MulticastNetns`] (two
//!   namespaces over veth for multicast) — root.
//! * [`ThrottledServer`] — a paced, Range-capable HTTP file server (and PUT/POST sink)
//!   in a namespace, logging each request's client and offset.
//! * [`boardnet`], [`run_boardnet`], [`run`], [`RunOutput`] — run programs with
//!   a timeout; [`require_root_or_fail`], [`require_program`].
//! * [`run_in_guest`], [`run_test_in_guest`], [`kernel_has_sctp`], [`in_guest`]
//!   — run a program (or this very test) in the x86_64 QEMU guest of
//!   `board/qemu-x64/`, whose kernel has SCTP and mac80211_hwsim.
#![allow(dead_code)]
#![allow(unused_imports)]

mod bearer;
mod connman;
mod data;
mod dns_fault;
pub mod dns_wire;
mod dns_zones;
mod echo;
mod fault;
mod forward_proxy;
mod ftp;
mod guest;
mod httpd;
mod knot;
mod net;
mod netns;
mod netns_dns;
mod networkmanager;
mod nginx;
mod nsd;
mod openssl;
mod pki;
mod process;
mod proxy;
mod socat;
mod sockfault;
mod throttled;
mod workdir;

pub use bearer::{status_until, JsonLines, LinkLab, TwoLinks, TWO_LINKS_SERVER};
pub use connman::{ConnmanLab, DhcpLink, FakeOfono, PrivateBus, CONNMAN_PEER};
pub use data::{pseudo_random, sha256_hex};
pub use dns_fault::{
    fault_tcp_answers, DnsFault, DnsScript, DnsTransport, FAULT_ANSWER, FAULT_DECOY,
    FAULT_TCP_ANSWER_COUNT, FAULT_TTL, FAULT_WRONG_QUESTION,
};
pub use dns_zones::{
    bigtxt_string, example_test_zone, BIGTXT_COUNT, BIG_A_COUNT, FRESH_1, FRESH_2, MID_A_COUNT,
    ZONE_NAMES,
};
pub use echo::{first_line, python3, EchoServer, KillOnDrop, ECHO_SERVER_PY};
pub use fault::{Fault, FaultServer, HUGE_HEADERS_BYTES};
pub use forward_proxy::{Squid, SquidDigest, Tinyproxy};
pub use ftp::{PyFtpd, PyFtpdOpts, StallingFtp, Vsftpd, FTP_SERVER_PY, VSFTPD_PASSWORD};
pub use guest::{
    guest_board_dir, guest_command, in_guest, kernel_has_sctp, require_guest_or_fail,
    run_guest_command, run_in_guest, run_test_in_guest, GUEST_NOT_RUN, GUEST_TIMED_OUT,
    IN_GUEST_ENV,
};
pub use httpd::{Apache, Httpbin, Lighttpd, DIGEST_PASSWORD, DIGEST_REALM, DIGEST_USER, SLOW_RATE};
pub use knot::Knot;
pub use net::{
    free_port, free_ports, ipv6_available, is_listening, refused_url, wait_for_port,
    wait_until_listening, START_TIMEOUT,
};
pub use netns_dns::{NetnsDns, NETNS_SERVER1, NETNS_SERVER1_V6, NETNS_SERVER2, NETNS_SERVER2_V6};
pub use networkmanager::NmLab;
pub use nginx::{find_program, Nginx, AUTH_PASSWORD, AUTH_USER, HELLO, SECRET};
pub use nsd::{dig_at, dig_short_at, kdig_at, Nsd, TermOnDrop, DIG_TIMEOUT};
pub use openssl::{
    openssl_client, parse_msg_dump, rev_reply, ClientAuth, OpenSslClientOpts, OpenSslServer,
    OpenSslServerOpts, TlsClientInfo, TlsVersion,
};
pub use pki::{base64, spki_sha256_base64, Pki};
pub use process::{
    boardnet, boardnet_argv, boardnet_path, boardnet_shell, euid, example, example_argv,
    peak_rss_kib, require_program, require_root_or_fail, run, run_boardnet, run_tool,
    run_with_input, run_with_local_dns, spawn_one_at_a_time, under_qemu_user, RunOutput,
    PROXY_ENV_VARS,
};
pub use proxy::{ProxyServer, PROXY_PY};
pub use socat::{
    socat_address, socat_client_args, socat_send, socat_send_with, socat_tls_address, EchoKind,
    GroupKillOnDrop, SocatEcho, SocatTls, UDP_REPLY_WAIT,
};
pub use sockfault::{
    HangingConnectTarget, MulticastNetns, Netns, PeerClosed, ResetOpts, ResetPeer, Side,
    SilentClient, SilentPeer, HANG_IFACE, HANG_LOCAL_V4, HANG_LOCAL_V6, HANG_PORT, HANG_TARGET_MAC,
    HANG_TARGET_V4, HANG_TARGET_V6, MCAST_A_V4, MCAST_A_V6, MCAST_B_V4, MCAST_B_V6, MCAST_GROUP_V4,
    MCAST_GROUP_V6, MCAST_IFACE_A, MCAST_IFACE_B,
};
pub use throttled::ThrottledServer;
pub use workdir::{read_lossy, write_file, WorkDir, KEEP_ENV};
