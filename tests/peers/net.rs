//! Ports and readiness.

use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How long peers get to start listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(5);

/// A port that was free on 127.0.0.1 a moment ago (bind port 0, read, drop).
/// Another process may take it before you bind it: peers that use it retry.
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// `n` distinct free ports on 127.0.0.1 (all held at once while picking, so
/// they differ from each other).
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {}", e))
        })
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// Whether [::1] can be bound on this host.
pub fn ipv6_available() -> bool {
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok()
}

/// `n` distinct ports each free on both 127.0.0.1 and [::1] (when `v6`),
/// held together while picking.
pub(crate) fn free_ports_dual(n: usize, v6: bool) -> Vec<u16> {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    let mut tries = 0;
    while ports.len() < n {
        tries += 1;
        if tries > 200 {
            panic!("cannot find {} ports free on both 127.0.0.1 and [::1]", n);
        }
        let l4 = TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {}", e));
        let p = l4.local_addr().unwrap().port();
        if v6 {
            match TcpListener::bind((Ipv6Addr::LOCALHOST, p)) {
                Ok(l6) => held.push(l6),
                Err(_) => {
                    held.push(l4); // keep it so we do not get it again
                    continue;
                }
            }
        }
        held.push(l4);
        ports.push(p);
    }
    ports
}

/// Whether something accepts TCP connections at `addr` right now.
pub fn is_listening<A: ToSocketAddrs>(addr: A) -> bool {
    let addrs: Vec<SocketAddr> = match addr.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(_) => return false,
    };
    addrs
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok())
}

/// Poll-connect `addr` (10 ms apart) until it accepts or `timeout` passes.
/// Returns whether it became reachable.
pub fn wait_until_listening<A: ToSocketAddrs>(addr: A, timeout: Duration) -> bool {
    let addrs: Vec<SocketAddr> = match addr.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(_) => return false,
    };
    let deadline = Instant::now() + timeout;
    loop {
        if addrs
            .iter()
            .any(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok())
        {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Wait (up to 5 s) for 127.0.0.1:`port` to accept connections; panics if not.
pub fn wait_for_port(port: u16) {
    if !wait_until_listening(("127.0.0.1", port), START_TIMEOUT) {
        panic!(
            "nothing listens on 127.0.0.1:{} after {:?}",
            port, START_TIMEOUT
        );
    }
}

/// A URL on 127.0.0.1 where nothing listens (connection refused).
pub fn refused_url() -> String {
    format!("http://127.0.0.1:{}/", free_port())
}

/// Wait until `what` listens on 127.0.0.1:`port`; panic with its `log` after START_TIMEOUT.
pub fn await_listener(port: u16, what: &str, log: &std::path::Path) {
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    while !is_listening(("127.0.0.1", port)) {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not listen on 127.0.0.1:{port}:\n{}",
            super::workdir::read_lossy(log)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
