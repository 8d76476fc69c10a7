//! The library API on a reactor: the shared state machine and its events, the blocking
//! helpers, servers (pending queue, pause/resume), Unix names and credentials, UDP limits.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use boardnet::reactor::Reactor;
use boardnet::socket::{
    ConnectOptions, Endpoint, Server, ServerEvent, ServerOptions, SocketError, SocketEvent,
    SocketState, StreamSocket, UdpOptions, UdpSocket, MAX_DATAGRAM_V4,
};
use boardnet::{Classify, ErrorClass};

use crate::peers::*;

const WAIT: Duration = Duration::from_secs(10);

fn endpoint(text: &str) -> Endpoint {
    text.parse().unwrap()
}

/// Events as short names (`state:connected`, `Connected`, `error:ConnectionRefusedError`).
fn names(sock: &mut StreamSocket) -> Vec<String> {
    std::iter::from_fn(|| sock.next_event())
        .map(|e| match e {
            SocketEvent::StateChanged(s) => format!("state:{}", s.name()),
            SocketEvent::Error(e) => format!("error:{}", e.name()),
            SocketEvent::BytesWritten(_) => "BytesWritten".into(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Turn the reactor for `sock` until `done` or the time runs out.
fn drive(reactor: &mut Reactor, sock: &mut StreamSocket, done: impl Fn(&StreamSocket) -> bool) {
    let deadline = Instant::now() + WAIT;
    let mut events = Vec::new();
    while !done(sock) {
        assert!(
            Instant::now() < deadline,
            "timed out; state {:?}",
            sock.state()
        );
        events.clear();
        reactor.turn(&mut events, Some(deadline)).unwrap();
        for r in &events {
            sock.handle(reactor, r);
        }
    }
}

#[test]
fn a_named_host_goes_through_every_state_with_qt_signals() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut reactor = Reactor::new().unwrap();
    let ep = endpoint(&format!("tcp://localhost:{port}"));
    let opts = ConnectOptions {
        family: boardnet::dns::Family::V4,
        ..ConnectOptions::default()
    };
    let mut sock = StreamSocket::connect(&mut reactor, &ep, opts).unwrap();
    sock.wait_for_connected(&mut reactor, WAIT).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    assert_eq!(
        names(&mut sock),
        [
            "state:host-lookup",
            "HostFound",
            "state:connecting",
            "state:connected",
            "Connected"
        ]
    );
    // Data both ways with the blocking helpers.
    sock.write(b"ping").unwrap();
    sock.wait_for_bytes_written(&mut reactor, WAIT).unwrap();
    let mut got = [0u8; 4];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    peer.write_all(b"pong").unwrap();
    sock.wait_for_ready_read(&mut reactor, WAIT).unwrap();
    let mut buf = [0u8; 16];
    let n = sock.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong");
    assert_eq!(sock.byte_counts(), (4, 4));
    // The peer finishes: end of stream, then our close disconnects.
    drop(peer);
    sock.wait_for_ready_read(&mut reactor, WAIT).unwrap();
    assert_eq!(sock.read(&mut buf).unwrap(), 0);
    sock.close();
    assert_eq!(sock.state(), SocketState::Unconnected);
    let tail = names(&mut sock);
    assert!(
        tail.ends_with(&[
            "ReadClosed".into(),
            "state:unconnected".into(),
            "Disconnected".into()
        ]),
        "{tail:?}"
    );
}

#[test]
fn refused_and_unknown_hosts_are_error_events_with_exit_classes() {
    let mut reactor = Reactor::new().unwrap();
    let port = free_port();
    let mut sock = StreamSocket::connect(
        &mut reactor,
        &endpoint(&format!("tcp://127.0.0.1:{port}")),
        ConnectOptions::default(),
    )
    .unwrap();
    let err = sock.wait_for_connected(&mut reactor, WAIT).unwrap_err();
    assert!(matches!(err, SocketError::ConnectionRefused(_)), "{err}");
    assert_eq!(err.class(), ErrorClass::Connection);
    assert_eq!(
        names(&mut sock),
        [
            "state:connecting",
            "error:ConnectionRefusedError",
            "state:unconnected"
        ]
    );
    // Writing to a socket that never connected is an operation error, not a panic.
    assert!(matches!(
        sock.write(b"x"),
        Err(SocketError::OperationError(_))
    ));

    // A name the test's own DNS server says does not exist (no query leaves the machine).
    let nxdomain = DnsFault::start(DnsScript::NxDomain);
    let mut sock = StreamSocket::connect(
        &mut reactor,
        &endpoint("tcp://no-such-host.test:80"),
        ConnectOptions {
            resolver: boardnet::dns::ResolverOptions {
                servers: Some(vec![format!("127.0.0.1:{}", nxdomain.port())
                    .parse()
                    .unwrap()]),
                ..Default::default()
            },
            ..ConnectOptions::default()
        },
    )
    .unwrap();
    let err = sock.wait_for_connected(&mut reactor, WAIT).unwrap_err();
    assert_eq!(err.class(), ErrorClass::HostNotFound, "{err}");
    assert_eq!(err.name(), "HostNotFoundError");

    for (bad, why) in [
        ("udp://127.0.0.1:9", "datagram endpoint"),
        ("tcp://127.0.0.1:0", "port 0"),
        ("tcp://*:80", "for listening"),
    ] {
        let e = StreamSocket::connect(&mut reactor, &endpoint(bad), ConnectOptions::default())
            .unwrap_err();
        assert!(e.to_string().contains(why), "{bad}: {e}");
        assert_eq!(e.class(), ErrorClass::Usage);
    }
}

#[test]
fn a_blocking_wait_hands_other_sockets_events_back_to_the_loop() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = endpoint(&format!("tcp://{}", listener.local_addr().unwrap()));
    let mut reactor = Reactor::new().unwrap();
    let mut a = StreamSocket::connect(&mut reactor, &ep, ConnectOptions::default()).unwrap();
    let mut b = StreamSocket::connect(&mut reactor, &ep, ConnectOptions::default()).unwrap();
    a.wait_for_connected(&mut reactor, WAIT).unwrap();
    // b's connect completion (and its data) arrive while a waits: a must not swallow them.
    let (mut pa, _) = listener.accept().unwrap();
    let (mut pb, _) = listener.accept().unwrap();
    pb.write_all(b"for b").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    pa.write_all(b"for a").unwrap();
    a.wait_for_ready_read(&mut reactor, WAIT).unwrap();
    drive(&mut reactor, &mut b, |b| b.is_readable());
    let mut buf = [0u8; 8];
    let n = b.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"for b");
    let _ = pa.flush();
}

#[test]
fn half_close_keeps_receiving_after_we_finish_sending() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = endpoint(&format!("tcp://{}", listener.local_addr().unwrap()));
    let mut reactor = Reactor::new().unwrap();
    let mut sock = StreamSocket::connect(&mut reactor, &ep, ConnectOptions::default()).unwrap();
    sock.wait_for_connected(&mut reactor, WAIT).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    sock.write(b"request").unwrap();
    sock.shutdown_write();
    assert!(
        sock.write(b"more").is_err(),
        "no writing after shutdown_write"
    );
    let mut req = Vec::new();
    peer.read_to_end(&mut req).unwrap();
    assert_eq!(req, b"request", "the peer sees our end of stream");
    peer.write_all(b"reply after EOF").unwrap();
    drop(peer);
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    drive(&mut reactor, &mut sock, |s| s.is_readable());
    loop {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                drive(&mut reactor, &mut sock, |s| s.is_readable())
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, b"reply after EOF");
    assert_eq!(
        sock.state(),
        SocketState::Unconnected,
        "both directions done: closed"
    );
    assert!(names(&mut sock).ends_with(&["Disconnected".to_string()]));
}

#[test]
fn servers_hold_at_most_max_pending_and_pause_on_request() {
    let mut reactor = Reactor::new().unwrap();
    let opts = ServerOptions {
        max_pending: 2,
        ..ServerOptions::default()
    };
    let mut server = Server::listen(&mut reactor, &endpoint("tcp://127.0.0.1:0"), &opts).unwrap();
    assert_eq!(server.state(), SocketState::Listening);
    let addr = server.local_address().inet().unwrap();
    let clients: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let turn = |reactor: &mut Reactor, server: &mut Server| {
        let mut events = Vec::new();
        reactor
            .turn(
                &mut events,
                Some(Instant::now() + Duration::from_millis(300)),
            )
            .unwrap();
        for r in &events {
            server.handle(reactor, r);
        }
    };
    turn(&mut reactor, &mut server);
    assert_eq!(
        server.pending_connections(),
        2,
        "accepting stops at max_pending"
    );
    // One NewConnection stands for every connection waiting.
    assert!(matches!(
        server.next_event(),
        Some(ServerEvent::NewConnection)
    ));
    assert!(server.next_event().is_none());
    let first = server.next_pending_connection(&mut reactor).unwrap();
    assert_eq!(first.state(), SocketState::Connected);
    // Taking one makes room: the next waiting client is accepted at once.
    assert_eq!(server.pending_connections(), 2);
    assert!(matches!(
        server.next_event(),
        Some(ServerEvent::NewConnection)
    ));
    server.pause_accepting();
    while server.next_pending_connection(&mut reactor).is_some() {}
    turn(&mut reactor, &mut server);
    assert_eq!(
        server.pending_connections(),
        0,
        "paused: the fourth client waits in the backlog"
    );
    server.resume_accepting(&mut reactor);
    assert_eq!(server.pending_connections(), 1);
    assert!(matches!(
        server.next_event(),
        Some(ServerEvent::NewConnection)
    ));
    drop(clients);
}

#[test]
fn unix_servers_replace_only_stale_socket_files_and_report_peer_credentials() {
    let dir = WorkDir::new();
    let path = dir.path().join("s.sock");
    let ep = endpoint(&format!("unix:{}", path.display()));
    let mut reactor = Reactor::new().unwrap();
    let opts = ServerOptions {
        socket_mode: Some(0o600),
        ..ServerOptions::default()
    };
    let mut server = Server::listen(&mut reactor, &ep, &opts).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A live server's file is not taken over.
    let e = Server::listen(&mut reactor, &ep, &opts).unwrap_err();
    assert!(matches!(e, SocketError::AddressInUse(_)), "{e}");
    assert!(e.to_string().contains("listening"), "{e}");
    // Credentials of the connecting process.
    let mut client = StreamSocket::connect(&mut reactor, &ep, ConnectOptions::default()).unwrap();
    client.wait_for_connected(&mut reactor, WAIT).unwrap();
    let mut events = Vec::new();
    let conn = loop {
        if let Some(c) = server.next_pending_connection(&mut reactor) {
            break c;
        }
        events.clear();
        reactor
            .turn(&mut events, Some(Instant::now() + WAIT))
            .unwrap();
        for r in &events {
            server.handle(&mut reactor, r);
        }
    };
    let creds = conn.peer_credentials().unwrap();
    assert_eq!(creds.pid as u32, std::process::id());
    assert_eq!(creds.uid, unsafe { libc::geteuid() });
    // Closing removes the file; a file left by a dead server is replaced.
    server.close(&mut reactor);
    assert!(!path.exists(), "close removes the socket file");
    let stale = std::os::unix::net::UnixListener::bind(&path).unwrap();
    drop(stale); // the file stays, nobody listens
    assert!(path.exists());
    let server = Server::listen(&mut reactor, &ep, &ServerOptions::default()).unwrap();
    drop(server);
    // A regular file in the way is never deleted.
    std::fs::write(&path, b"not a socket").unwrap();
    let e = Server::listen(&mut reactor, &ep, &ServerOptions::default()).unwrap_err();
    assert!(e.to_string().contains("not a socket"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
    // Abstract names have no file at all.
    let name = format!("boardnet-test-{}", std::process::id());
    let abstract_ep = endpoint(&format!("unix:@{name}"));
    let server = Server::listen(&mut reactor, &abstract_ep, &ServerOptions::default()).unwrap();
    assert_eq!(server.endpoint(), &abstract_ep);
    let e = Server::listen(&mut reactor, &abstract_ep, &ServerOptions::default()).unwrap_err();
    assert_eq!(e.name(), "AddressInUseError");
}

#[test]
fn listening_on_port_zero_reports_the_chosen_port_for_every_special_address() {
    let mut reactor = Reactor::new().unwrap();
    for (url, want_host) in [
        ("tcp://127.0.0.1:0", "127.0.0.1"),
        ("tcp://0.0.0.0:0", "0.0.0.0"),
        ("tcp://[::1]:0", "[::1]"),
        ("tcp://[::]:0", "[::]"),
        ("tcp://*:0", "[::]"),
    ] {
        if url.contains('[') && !ipv6_available() {
            continue;
        }
        let server =
            Server::listen(&mut reactor, &endpoint(url), &ServerOptions::default()).unwrap();
        let shown = server.endpoint().to_string();
        let port = server.local_address().inet().unwrap().port();
        assert_ne!(port, 0);
        assert_eq!(shown, format!("tcp://{want_host}:{port}"), "{url}");
    }
    // Any is dual-stack: an IPv4 client reaches it; AnyIPv6 ([::]) is IPv6 only.
    if ipv6_available() {
        let any = Server::listen(
            &mut reactor,
            &endpoint("tcp://*:0"),
            &ServerOptions::default(),
        )
        .unwrap();
        let port = any.local_address().inet().unwrap().port();
        TcpStream::connect(("127.0.0.1", port)).expect("dual-stack accepts IPv4");
        let v6 = Server::listen(
            &mut reactor,
            &endpoint("tcp://[::]:0"),
            &ServerOptions::default(),
        )
        .unwrap();
        let port = v6.local_address().inet().unwrap().port();
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "[::] is IPv6 only"
        );
    }
}

#[test]
fn udp_checks_sizes_and_reports_senders() {
    let mut reactor = Reactor::new().unwrap();
    let mut server = UdpSocket::bind(
        &mut reactor,
        &endpoint("udp://127.0.0.1:0"),
        &UdpOptions::default(),
    )
    .unwrap();
    assert_eq!(server.state(), SocketState::Bound);
    let to = server.local_address();
    let mut client = UdpSocket::connect(
        &mut reactor,
        &endpoint(&format!("udp://{to}")),
        &UdpOptions::default(),
    )
    .unwrap();
    let big = vec![7u8; MAX_DATAGRAM_V4];
    client.send(&big).unwrap();
    let e = client.send(&[0u8; MAX_DATAGRAM_V4 + 1]).unwrap_err();
    assert!(
        matches!(
            e,
            SocketError::DatagramTooLarge {
                size: 65508,
                max: 65507
            }
        ),
        "{e}"
    );
    assert_eq!(e.class(), ErrorClass::Usage);
    server.wait_for_ready_read(&mut reactor, WAIT).unwrap();
    assert_eq!(server.pending_datagram_size(), Some(MAX_DATAGRAM_V4));
    let mut buf = vec![0u8; 70_000];
    let d = server.recv_from(&mut buf).unwrap();
    assert_eq!((d.len, d.size), (MAX_DATAGRAM_V4, MAX_DATAGRAM_V4));
    assert_eq!(d.from, client.local_address());
    // A small buffer truncates, and says how large the datagram was.
    client.send(b"0123456789").unwrap();
    server.wait_for_ready_read(&mut reactor, WAIT).unwrap();
    let mut small = [0u8; 4];
    let d = server.recv_from(&mut small).unwrap();
    assert_eq!((d.len, d.size, &small), (4, 10, b"0123"));
    // A connected socket learns that nobody listens (ICMP port unreachable).
    let closed: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut lonely = UdpSocket::connect(
        &mut reactor,
        &endpoint(&format!("udp://{closed}")),
        &UdpOptions::default(),
    )
    .unwrap();
    lonely.send(b"anyone?").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let err = lonely.recv_from(&mut buf).unwrap_err();
    assert!(
        matches!(
            SocketError::of(&err),
            Some(SocketError::ConnectionRefused(_))
        ),
        "{err}"
    );
    // Broadcast needs opting in.
    let e = UdpSocket::connect(
        &mut reactor,
        &endpoint("udp://255.255.255.255:9"),
        &UdpOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, SocketError::BroadcastNotAllowed { .. }),
        "{e:?}"
    );
    // The library names the socket option, not a command-line flag.
    assert!(e.to_string().contains("SO_BROADCAST"), "{e}");
    assert!(!e.to_string().contains("--"), "{e}");
}

#[test]
fn data_that_comes_with_the_connect_is_reported() {
    // A server that speaks first and closes at once (Qt's fortune server): its bytes and its
    // end of stream can arrive in the same readiness edge as the connect's completion (here
    // always: the client turns its loop only after they came).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        for conn in listener.incoming().take(5) {
            let mut conn = conn.unwrap();
            conn.write_all(b"fortune\n").unwrap();
        }
    });
    let ep = endpoint(&format!("tcp://{addr}"));
    for round in 0..5 {
        let mut reactor = Reactor::new().unwrap();
        let mut sock = StreamSocket::connect(&mut reactor, &ep, ConnectOptions::default()).unwrap();
        // Let the connect complete and the server's bytes arrive before the first turn.
        std::thread::sleep(Duration::from_millis(20));
        sock.wait_for_connected(&mut reactor, Duration::from_secs(5))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            sock.wait_for_ready_read(&mut reactor, Duration::from_secs(2))
                .unwrap_or_else(|e| panic!("round {round}: {e} after {got:?}"));
            match sock.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert_eq!(got, b"fortune\n", "round {round}");
    }
    server.join().unwrap();
}
