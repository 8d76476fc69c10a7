//! Event queues are bounded: a server whose owner never takes its events, and a connection
//! written to 100,000 times without its events taken, stay at constant memory. (Its own test
//! binary: the process's resident size is the measurement, so no other test may run beside it.)

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use boardnet::reactor::Reactor;
use boardnet::socket::{Endpoint, Server, ServerOptions, StreamSocket};

const CONNECTIONS: usize = 100_000;
/// Clients connected per round before the server accepts them (well inside the backlog).
const ROUND: usize = 50;

/// Resident set size of this process in KiB (/proc/self/statm, pages).
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * (page_size() / 1024)
}

fn page_size() -> u64 {
    // SAFETY: sysconf with a valid name has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as u64 }
}

/// Turn `reactor` until `server` has handed out `want` connections; each is written one byte
/// on `long_lived` (whose events are never taken either) and then dropped.
fn accept(reactor: &mut Reactor, server: &mut Server, long_lived: &mut StreamSocket, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = 0;
    let mut ready = Vec::new();
    while got < want {
        assert!(Instant::now() < deadline, "accepted {got} of {want}");
        reactor
            .turn(
                &mut ready,
                Some(Instant::now() + Duration::from_millis(100)),
            )
            .unwrap();
        for r in ready.drain(..) {
            server.handle(reactor, &r);
            long_lived.handle(reactor, &r);
        }
        while let Some(conn) = server.next_pending_connection(reactor) {
            drop(conn);
            long_lived.write(b"x").unwrap();
            got += 1;
        }
    }
}

#[test]
fn a_server_whose_events_are_never_taken_stays_at_constant_memory() {
    let dir = std::env::temp_dir().join(format!("boardnet-bounded-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let endpoint: Endpoint = format!("unix:{}", path.display()).parse().unwrap();
    let mut reactor = Reactor::new().unwrap();
    let mut server = Server::listen(&mut reactor, &endpoint, &ServerOptions::default()).unwrap();

    // One connection kept open: the server writes a byte to it per connection accepted.
    let mut reader = UnixStream::connect(&path).unwrap();
    reader.set_nonblocking(true).unwrap();
    let mut ready = Vec::new();
    let mut long_lived = loop {
        reactor
            .turn(&mut ready, Some(Instant::now() + Duration::from_millis(50)))
            .unwrap();
        for r in ready.drain(..) {
            server.handle(&mut reactor, &r);
        }
        if let Some(c) = server.next_pending_connection(&mut reactor) {
            break c;
        }
    };

    let mut sink = vec![0u8; 64 * 1024];
    let mut baseline = 0;
    let mut clients = Vec::with_capacity(ROUND);
    for round in 0..CONNECTIONS / ROUND {
        clients.extend((0..ROUND).map(|_| UnixStream::connect(&path).unwrap()));
        accept(&mut reactor, &mut server, &mut long_lived, ROUND);
        clients.clear();
        while reader.read(&mut sink).is_ok_and(|n| n > 0) {}
        if (round + 1) * ROUND == CONNECTIONS / 10 {
            baseline = rss_kib();
        }
    }
    let end = rss_kib();
    eprintln!(
        "RSS after {} connections: {baseline} KiB; after {CONNECTIONS}: {end} KiB; events \
         dropped: {}",
        CONNECTIONS / 10,
        server.events_dropped()
    );
    // Unbounded, the server's queue alone held 90,000 more events here (several MiB).
    assert!(
        end <= baseline + 512,
        "memory grew from {baseline} to {end} KiB between {} and {CONNECTIONS} connections",
        CONNECTIONS / 10
    );
    let mut events = 0;
    while server.next_event().is_some() {
        events += 1;
    }
    assert_eq!(events, 1, "one NewConnection stands for all of them");
    let mut written = None;
    while let Some(e) = long_lived.next_event() {
        if let boardnet::socket::SocketEvent::BytesWritten(n) = e {
            written = Some(n);
        }
    }
    assert_eq!(
        written,
        Some(CONNECTIONS),
        "one BytesWritten carries the sum"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
