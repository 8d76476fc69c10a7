//! Smoke tests of the socket test peers (tests/peers/{socat,openssl,
//! sockfault}.rs), checked with socat, openssl and std only — they do not
//! depend on boardnet's own socket code.

mod peers;

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use peers::*;

const T: Duration = Duration::from_secs(60);
const MIB: usize = 1 << 20;

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{}", pid)).exists()
}

/// socat client → echo → back: the whole payload, nothing else.
fn assert_stream_echo(address: &str, len: usize, seed: u32) {
    let data = pseudo_random(len, seed);
    let out = socat_send(address, &data, T);
    assert!(
        out.success(),
        "socat client to {} failed:\n{:?}",
        address,
        out
    );
    assert_eq!(
        out.stdout.len(),
        data.len(),
        "echo through {} returned {} of {} bytes:\n{:?}",
        address,
        out.stdout.len(),
        data.len(),
        out
    );
    assert!(out.stdout == data, "echo through {} differs", address);
}

// ------------------------------------------------------------- socat echo

#[test]
fn socat_echo_tcp4_round_trips_1mib() {
    let e = SocatEcho::tcp4();
    assert_eq!(e.url(), format!("tcp://127.0.0.1:{}", e.port()));
    assert_eq!(e.socat_address(), format!("TCP:127.0.0.1:{}", e.port()));
    assert_stream_echo(&e.socat_address(), MIB, 1);
    // And a second client right after (fork per client).
    assert_stream_echo(&e.socat_address(), 1000, 2);
}

#[test]
fn socat_echo_tcp6_round_trips_1mib() {
    let e = SocatEcho::tcp6();
    assert_eq!(e.url(), format!("tcp://[::1]:{}", e.port()));
    assert_eq!(
        e.socket_addr().ip(),
        IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
    );
    assert_stream_echo(&e.socat_address(), MIB, 3);
}

#[test]
fn socat_echo_unix_round_trips_1mib() {
    let e = SocatEcho::unix();
    assert_eq!(e.url(), format!("unix:{}", e.path().display()));
    assert_eq!(
        socat_address(&e.url()),
        format!("UNIX-CONNECT:{}", e.path().display())
    );
    assert_stream_echo(&e.socat_address(), MIB, 4);
    // Also with std.
    let mut s = std::os::unix::net::UnixStream::connect(e.path()).unwrap();
    s.write_all(b"ping").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"ping");
}

#[test]
fn socat_echo_abstract_round_trips_1mib() {
    let e = SocatEcho::unix_abstract();
    assert_eq!(e.url(), format!("unix:@{}", e.abstract_name()));
    assert_eq!(
        socat_address(&e.url()),
        format!("ABSTRACT-CONNECT:{}", e.abstract_name())
    );
    assert_stream_echo(&e.socat_address(), MIB, 5);
}

#[test]
fn socat_echo_tls_round_trips_1mib_on_v4_and_v6() {
    let pki = Pki::new();
    let e = SocatEcho::tls(&pki);
    assert_eq!(e.url(), format!("tls://localhost:{}", e.port()));
    assert!(
        e.socat_address().contains(",cafile="),
        "{}",
        e.socat_address()
    );
    // Both loopback addresses serve (same port), verified by IP SAN.
    let tls = SocatTls::from_pki(&pki);
    assert_stream_echo(&socat_tls_address(&e.url_ip(), &tls), 70_000, 7);
    if ipv6_available() {
        assert!(e.listens_on_ipv6_too());
        let v6 = format!("tls://[::1]:{}", e.port());
        assert_stream_echo(&socat_tls_address(&v6, &tls), 70_000, 8);
    }
    drop(pki); // the echo keeps its own copies
    assert_stream_echo(&e.socat_address(), MIB, 6);
}

#[test]
fn socat_echo_tls_rejected_by_client_trusting_another_ca() {
    let pki = Pki::new();
    let e = SocatEcho::tls(&pki);
    let addr = socat_tls_address(&e.url(), &SocatTls::trusting(&pki.other_ca_cert()));
    let out = socat_send(&addr, b"x", T);
    assert!(!out.success(), "must fail verification:\n{:?}", out);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("certificate verify failed"),
        "{:?}",
        out
    );
    // verify=0 connects anyway.
    let out = socat_send(&socat_address(&e.url()), b"insecure", T);
    out.assert_success();
    assert_eq!(out.stdout, b"insecure");
}

#[test]
fn socat_echo_mutual_tls_needs_the_client_certificate() {
    let pki = Pki::new();
    let e = SocatEcho::mutual_tls(&pki);
    assert!(
        e.socat_address().contains(",cert=") && e.socat_address().contains(",key="),
        "{}",
        e.socat_address()
    );
    assert_stream_echo(&e.socat_address(), MIB, 9);
    assert_stream_echo(
        &socat_tls_address(&e.url(), &SocatTls::mutual(&pki)),
        1000,
        10,
    );
    // No client certificate: no echo. (With TLS 1.3 the server rejects the
    // client after the client's side of the handshake is done, so socat's
    // exit code depends on timing: 0, or 1 with "Connection reset by peer".)
    let out = socat_send(
        &socat_tls_address(&e.url(), &SocatTls::from_pki(&pki)),
        b"hello",
        T,
    );
    assert!(out.stdout.is_empty(), "must be rejected:\n{:?}", out);
    assert!(!out.timed_out, "{:?}", out);
    // A client certificate by the other CA: rejected too.
    let other = SocatTls::from_pki(&pki)
        .with_client_cert(&pki.other_client_cert(), &pki.other_client_key());
    let out = socat_send(&socat_tls_address(&e.url(), &other), b"hello", T);
    assert!(out.stdout.is_empty(), "must be rejected:\n{:?}", out);
    assert!(!out.timed_out, "{:?}", out);
    assert!(
        e.log().contains("certificate"),
        "server log should say why:\n{}",
        e.log()
    );
}

fn udp_echo_check(e: &SocatEcho) {
    let bind: SocketAddr = if e.socket_addr().is_ipv6() {
        "[::1]:0".parse().unwrap()
    } else {
        "127.0.0.1:0".parse().unwrap()
    };
    let s = UdpSocket::bind(bind).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Connected: replies must come from the server's own address.
    s.connect(e.socket_addr()).unwrap();
    let mut buf = vec![0u8; 70_000];
    for (i, len) in [1usize, 1000, 8192, 9000, 65_000].into_iter().enumerate() {
        let d = pseudo_random(len, 20 + i as u32);
        s.send(&d).unwrap();
        let n = s
            .recv(&mut buf)
            .unwrap_or_else(|err| panic!("no echo of a {}-byte datagram: {}", len, err));
        assert_eq!(&buf[..n], &d[..], "datagram of {} bytes", len);
    }
    // A burst: every datagram comes back once, exactly (maybe reordered).
    let mut sent: Vec<Vec<u8>> = (0..20).map(|i| format!("d{:02}", i).into_bytes()).collect();
    for d in &sent {
        s.send(d).unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..sent.len() {
        let n = s.recv(&mut buf).expect("burst reply missing");
        got.push(buf[..n].to_vec());
    }
    got.sort();
    sent.sort();
    assert_eq!(got, sent);
    // socat as the client.
    let out = socat_send(&e.socat_address(), b"via socat", T);
    out.assert_success();
    assert_eq!(out.stdout, b"via socat");
}

#[test]
fn socat_echo_udp4_echoes_each_datagram() {
    let e = SocatEcho::udp4();
    assert_eq!(e.url(), format!("udp://127.0.0.1:{}", e.port()));
    assert_eq!(e.socat_address(), format!("UDP:127.0.0.1:{}", e.port()));
    udp_echo_check(&e);
}

#[test]
fn socat_echo_udp6_echoes_each_datagram() {
    let e = SocatEcho::udp6();
    assert_eq!(e.url(), format!("udp://[::1]:{}", e.port()));
    udp_echo_check(&e);
}

#[test]
fn socat_echo_is_killed_with_its_children_on_drop() {
    let e = SocatEcho::tcp4();
    let addr = e.socket_addr();
    let mut held = TcpStream::connect(addr).unwrap();
    held.write_all(b"abc").unwrap();
    let mut back = [0u8; 3];
    held.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"abc");
    let pids = e.pids();
    drop(e);
    for p in pids {
        assert!(!pid_alive(p), "socat {} still alive after drop", p);
    }
    // The forked per-client cat died too: the held connection ends.
    held.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut b = [0u8; 1];
    match held.read(&mut b) {
        Ok(0) => {}
        Err(err) if err.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("held connection still served after drop: {:?}", other),
    }
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn socat_address_converts_boardnet_urls() {
    assert_eq!(socat_address("tcp://127.0.0.1:5"), "TCP:127.0.0.1:5");
    assert_eq!(socat_address("tcp://[::1]:5"), "TCP:[::1]:5");
    assert_eq!(socat_address("udp://127.0.0.1:6"), "UDP:127.0.0.1:6");
    assert_eq!(socat_address("udp://[::1]:6/"), "UDP:[::1]:6");
    assert_eq!(
        socat_address("unix:/run/x.sock"),
        "UNIX-CONNECT:/run/x.sock"
    );
    assert_eq!(socat_address("unix:@bn"), "ABSTRACT-CONNECT:bn");
    assert_eq!(
        socat_address("tls://localhost:7"),
        "OPENSSL:localhost:7,verify=0"
    );
    let t = SocatTls::trusting(Path::new("/ca.crt"))
        .with_client_cert(Path::new("/c.crt"), Path::new("/c.key"));
    assert_eq!(
        socat_tls_address("tls://localhost:7", &t),
        "OPENSSL:localhost:7,cafile=/ca.crt,cert=/c.crt,key=/c.key"
    );
    assert_eq!(
        socat_client_args("TCP:127.0.0.1:5", Duration::from_millis(1500)),
        ["-b", "65536", "-t", "1.500", "-", "TCP:127.0.0.1:5"]
    );
}

#[test]
fn socat_send_half_closes_so_a_plain_listener_sees_eof() {
    // A std listener standing in for a boardnet listener: it reads to EOF
    // (possible only if socat half-closes), then answers and closes.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(format!("got {} bytes", got.len()).as_bytes())
            .unwrap();
    });
    let data = pseudo_random(300_000, 30);
    let out = socat_send(
        &socat_address(&format!("tcp://127.0.0.1:{}", port)),
        &data,
        T,
    );
    server.join().unwrap();
    out.assert_success();
    assert_eq!(out.stdout_str(), "got 300000 bytes");
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out);
}

#[test]
fn socat_send_tls_half_close_lets_the_server_answer_after_eof() {
    // A TLS server that answers only after the client's end of data (like a
    // listener that reads everything first): socat's close_notify must
    // half-close, and the answer must still be read.
    let pki = Pki::new();
    let wd = WorkDir::named("tls-wc");
    let log = wd.join("socat.log");
    let _server = GroupKillOnDrop::spawn(
        Command::new("socat")
            .args(["-d", "-d", "-t", "30"])
            .arg(format!(
                "OPENSSL-LISTEN:0,bind=127.0.0.1,fork,cert={},key={},verify=0",
                pki.server_cert().display(),
                pki.server_key().display()
            ))
            .arg("SYSTEM:wc -c"),
        &log,
        "socat TLS wc server",
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let port = loop {
        let text = read_lossy(&log);
        if let Some(p) = text
            .lines()
            .find_map(|l| l.split("listening on AF=2 127.0.0.1:").nth(1))
        {
            break p.trim().parse::<u16>().unwrap();
        }
        assert!(Instant::now() < deadline, "server did not start:\n{}", text);
        std::thread::sleep(Duration::from_millis(5));
    };
    let data = pseudo_random(MIB, 50);
    let addr = socat_tls_address(
        &format!("tls://localhost:{}", port),
        &SocatTls::from_pki(&pki),
    );
    let out = socat_send(&addr, &data, T);
    out.assert_success();
    assert_eq!(out.stdout_str().trim(), MIB.to_string(), "{:?}", out);
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out);
}

// ----------------------------------------------------------------- openssl

#[test]
fn openssl_server_alpn_and_rev_seen_by_openssl_client() {
    let pki = Pki::new();
    let s = OpenSslServer::start(&pki, &OpenSslServerOpts::new().alpn(&["foo", "h2"]));
    assert_eq!(s.url(), format!("tls://127.0.0.1:{}", s.port()));
    let input = b"hello\r\nworld\n";
    let want = rev_reply(input);
    assert_eq!(want, b"olleh\ndlrow\n");
    let (out, info) = openssl_client(
        s.port(),
        &OpenSslClientOpts::trusting(&pki)
            .alpn(&["x", "h2"])
            .verify_hostname("localhost")
            .input(input)
            .expect(want.len()),
    );
    assert!(info.connected, "{:?}\n{:?}", out, info);
    assert!(info.verified, "{:?}\n{:?}", out, info);
    assert_eq!(info.alpn.as_deref(), Some("h2"), "{:?}\n{:?}", out, info);
    assert_eq!(info.protocol.as_deref(), Some("TLSv1.3"));
    assert_eq!(info.peer_certificate.as_deref(), Some("CN = localhost"));
    assert_eq!(info.data, want, "{:?}", out);
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out);
    // No ALPN offered: none negotiated.
    let (out, info) = openssl_client(
        s.port(),
        &OpenSslClientOpts::trusting(&pki).input(b"abc\n").expect(4),
    );
    assert_eq!(info.alpn, None, "{:?}\n{:?}", out, info);
    assert_eq!(info.data, b"cba\n");
    // No protocol in common: fatal alert.
    let (out, info) = openssl_client(
        s.port(),
        &OpenSslClientOpts::trusting(&pki)
            .alpn(&["nope"])
            .input(b"abc\n"),
    );
    assert!(
        info.got_fatal_alert("no_application_protocol"),
        "{:?}\n{:?}",
        out,
        info
    );
    assert!(info.data.is_empty());
    // Not trusting the CA: connects, but verification fails.
    let (out, info) = openssl_client(
        s.port(),
        &OpenSslClientOpts::new()
            .cafile(&pki.other_ca_cert())
            .input(b"q\n")
            .expect(2),
    );
    assert!(info.connected && !info.verified, "{:?}\n{:?}", out, info);
    assert!(
        info.verification
            .as_deref()
            .unwrap_or("")
            .starts_with("error:"),
        "{:?}",
        info
    );
    // CLOSE ends the connection from the server side.
    let (out, info) = openssl_client(
        s.port(),
        &OpenSslClientOpts::trusting(&pki)
            .input(b"ab\nCLOSE\n")
            .reply_wait(Duration::from_secs(20)),
    );
    assert_eq!(info.data, b"ba\n", "{:?}", out);
    assert!(out.elapsed < Duration::from_secs(10), "{:?}", out);
    assert!(s.log().contains("CONNECTION CLOSED"), "{}", s.log());
}

#[test]
fn openssl_server_requires_client_certificate() {
    let pki = Pki::new();
    let s = OpenSslServer::start(&pki, &OpenSslServerOpts::new().require_client_cert());
    let (out, info) = openssl_client(
        s.port(),
        &OpenSslClientOpts::trusting(&pki).input(b"hello\n"),
    );
    assert!(
        info.got_fatal_alert("certificate_required"),
        "{:?}\n{:?}",
        out,
        info
    );
    assert!(info.data.is_empty());
    assert!(s.wait_for_log("peer did not return a certificate", Duration::from_secs(5)));
    let (out, info) = openssl_client(
        s.port(),
        &OpenSslClientOpts::mutual(&pki).input(b"hello\n").expect(6),
    );
    assert_eq!(info.data, b"olleh\n", "{:?}\n{:?}", out, info);
    assert!(info.alerts_received.iter().all(|a| !a.starts_with("fatal")));
    assert!(
        s.wait_for_log(
            "Peer certificate: CN = boardnet test client",
            Duration::from_secs(5)
        ),
        "{}",
        s.log()
    );
    // A certificate by another CA is refused.
    let (out, info) = openssl_client(
        s.port(),
        &OpenSslClientOpts::trusting(&pki)
            .client_cert(&pki.other_client_cert(), &pki.other_client_key())
            .input(b"hello\n"),
    );
    assert!(info.got_fatal_alert("unknown_ca"), "{:?}\n{:?}", out, info);
    assert!(info.data.is_empty());
}

#[test]
fn openssl_tls12_pin_and_alpn_in_server_hello() {
    let pki = Pki::new();
    let s = OpenSslServer::start(
        &pki,
        &OpenSslServerOpts::new()
            .version(TlsVersion::Tls12)
            .alpn(&["http/1.1", "h2"]),
    );
    let (out, info) = openssl_client(
        s.port(),
        &OpenSslClientOpts::trusting(&pki)
            .alpn(&["h2", "http/1.1"])
            .input(b"12\n")
            .expect(3),
    );
    assert_eq!(
        info.protocol.as_deref(),
        Some("TLSv1.2"),
        "{:?}\n{:?}",
        out,
        info
    );
    // Server preference wins.
    assert_eq!(info.alpn.as_deref(), Some("http/1.1"), "{:?}", info);
    assert_eq!(info.data, b"21\n");
    // A TLS 1.3-only client cannot talk to it.
    let (out, info) = openssl_client(
        s.port(),
        &OpenSslClientOpts::trusting(&pki).version(TlsVersion::Tls13),
    );
    assert!(!info.connected, "{:?}\n{:?}", out, info);
    assert!(!out.success());
}

#[test]
fn openssl_client_round_trips_binary_through_socat_tls_echo() {
    let pki = Pki::new();
    let e = SocatEcho::tls(&pki);
    let data = pseudo_random(MIB, 40);
    let (out, info) = openssl_client(
        e.port(),
        &OpenSslClientOpts::trusting(&pki)
            .input(&data)
            .expect(data.len()),
    );
    assert!(info.verified, "{:?}", info);
    assert_eq!(info.alpn, None);
    assert_eq!(out.stdout.len(), data.len(), "{:?}", out);
    assert!(out.stdout == data);
}

#[test]
fn parse_msg_dump_finds_alpn_and_alerts() {
    let dump = "\
<<< TLS 1.3, Handshake [length 000f], EncryptedExtensions
    08 00 00 0b 00 09 00 10 00 05 00 03 02 68 32
<<< TLS 1.3, Alert [length 0002], fatal certificate_required
    02 74
<<< TLS 1.3, Alert [length 0002], fatal ???
    02 78
>>> TLS 1.3, Alert [length 0002], warning close_notify
    01 00
";
    let (alpn, rx, tx) = parse_msg_dump(dump);
    assert_eq!(alpn.as_deref(), Some("h2"));
    assert_eq!(
        rx,
        [
            "fatal certificate_required",
            "fatal no_application_protocol"
        ]
    );
    assert_eq!(tx, ["warning close_notify"]);
}

// --------------------------------------------------------- in-process peers

#[test]
fn reset_peer_gives_econnreset() {
    let p = ResetPeer::start(10);
    assert_eq!(p.url(), format!("tcp://127.0.0.1:{}", p.port()));
    let mut c = TcpStream::connect(p.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"0123456789").unwrap();
    let mut b = [0u8; 16];
    let err = c.read(&mut b).expect_err("read must fail with a reset");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{:?}", err);
    assert!(p.wait_for_resets(1, Duration::from_secs(5)));
    assert_eq!(p.bytes_read(), 10);
    assert_eq!(p.connections(), 1);

    // Greeting first, reset right away.
    let p = ResetPeer::start_with(ResetOpts {
        send_first: b"hi\n".to_vec(),
        ..ResetOpts::default()
    });
    let mut c = TcpStream::connect(p.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(p.wait_for_resets(1, Duration::from_secs(5)));
    let mut got = Vec::new();
    let err = loop {
        match c.read(&mut b) {
            Ok(0) => panic!("orderly EOF instead of a reset"),
            Ok(n) => got.extend_from_slice(&b[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{:?}", err);
    // The greeting may be discarded by the RST if it was not read yet.
    assert!(got.is_empty() || got == b"hi\n", "{:?}", got);
}

#[test]
fn silent_peer_never_reads_nor_sends() {
    let p = SilentPeer::start_with("127.0.0.1:0".parse().unwrap(), Some(4096));
    let mut c = TcpStream::connect(p.addr()).unwrap();
    assert!(p.wait_for_connections(1, Duration::from_secs(5)));
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 1];
    let err = c.read(&mut b).expect_err("nothing must arrive");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{:?}",
        err
    );
    // Writes block once the buffers are full.
    c.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let chunk = vec![0u8; 65536];
    let mut written = 0usize;
    let err = loop {
        match c.write(&chunk) {
            Ok(n) => written += n,
            Err(e) => break e,
        }
        assert!(written < 64 * MIB, "writes never blocked");
    };
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{:?}",
        err
    );
    // Held until drop, then closed.
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    drop(p);
    match c.read(&mut b) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("connection not closed on drop: {:?}", other),
    }
}

#[test]
fn silent_client_holds_a_connection_and_sees_the_close() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = SilentClient::connect(l.local_addr().unwrap());
    let (mut s, peer) = l.accept().unwrap();
    assert_eq!(Some(peer), c.local_addr());
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(s.read(&mut b).is_err(), "the silent client sent something");
    assert_eq!(c.wait_closed(Duration::from_millis(200)), None);
    s.write_all(b"bye").unwrap();
    drop(s);
    let (how, _) = c
        .wait_closed(Duration::from_secs(5))
        .expect("close not seen");
    assert_eq!(how, PeerClosed::Eof { data_bytes: 3 });

    // Against a ResetPeer: the reset is reported.
    let p = ResetPeer::start(0);
    let mut c = SilentClient::connect(p.addr());
    let (how, _) = c
        .wait_closed(Duration::from_secs(5))
        .expect("reset not seen");
    assert_eq!(how, PeerClosed::Reset { data_bytes: 0 });

    // Unix and abstract sockets: the echo just waits.
    let e = SocatEcho::unix();
    let mut c = SilentClient::connect_unix(e.path());
    assert_eq!(c.wait_closed(Duration::from_millis(200)), None);
    let e = SocatEcho::unix_abstract();
    let mut c = SilentClient::connect_abstract(e.abstract_name());
    assert_eq!(c.wait_closed(Duration::from_millis(200)), None);
    c.close();
}

// ------------------------------------------------------------- namespaces

#[test]
fn hanging_connect_target_makes_connect_time_out() {
    let h = HangingConnectTarget::new();
    assert_eq!(h.target_url(), "tcp://10.99.0.2:80");
    let name = h.netns_name().to_string();
    assert!(Path::new("/run/netns").join(&name).exists());

    // std connect_timeout inside the namespace ends with TimedOut.
    let mut targets = vec![h.target_addr()];
    targets.extend(h.target_addr_v6());
    assert_eq!(targets.len(), 2, "IPv6 target missing");
    for t in targets {
        let (res, elapsed) = h.run_in(|| {
            let t0 = Instant::now();
            let r = TcpStream::connect_timeout(&t, Duration::from_millis(1500));
            (r.map(|_| ()), t0.elapsed())
        });
        let err = res.expect_err("connect must not succeed");
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{}: {:?}", t, err);
        assert!(elapsed >= Duration::from_millis(1400), "{:?}", elapsed);
    }

    // An external program hangs too (killed by timeout(1) → 124).
    let out = run(
        h.command("timeout")
            .args(["2", "bash", "-c", "exec 3<>/dev/tcp/10.99.0.2/80"]),
        Duration::from_secs(20),
    );
    assert_eq!(out.code, Some(124), "{:?}", out);
    assert!(out.elapsed >= Duration::from_millis(1900), "{:?}", out);
    let out = socat_send_with(
        h.command("socat"),
        "TCP:10.99.0.2:80,connect-timeout=1",
        b"",
        Duration::from_secs(10),
    );
    assert!(!out.success());
    assert!(out.stderr.contains("timed out"), "{:?}", out);

    // Loopback works inside the namespace (a listener there is reachable).
    let ok = h.run_in(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        TcpStream::connect(l.local_addr().unwrap()).is_ok()
    });
    assert!(ok);

    drop(h);
    assert!(
        !Path::new("/run/netns").join(&name).exists(),
        "namespace {} not deleted",
        name
    );
}

/// Start `socat -u RECV -` inside `side`, output to a file.
fn mcast_receiver(m: &MulticastNetns, side: Side, recv: &str, out: &Path) -> KillOnDrop {
    let f = File::create(out).unwrap();
    let child = m
        .command(side, "socat")
        .args(["-u", recv, "-"])
        .stdin(Stdio::null())
        .stdout(f)
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start socat receiver");
    KillOnDrop { child }
}

fn wait_file_contains(path: &Path, needle: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if read_lossy(path).contains(needle) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn multicast_netns_delivers_ipv4_and_ipv6_across_the_veth() {
    let m = MulticastNetns::new();
    let names = [
        m.netns_name(Side::A).to_string(),
        m.netns_name(Side::B).to_string(),
    ];
    assert!(m.has_v6());
    assert!(m.ifindex(Side::A) > 1 && m.ifindex(Side::B) > 1);
    let wd = WorkDir::named("mcast");

    // IPv4: receiver joined in B, sender in A.
    let out4 = wd.join("v4.out");
    let recv4 = format!(
        "UDP4-RECV:5000,ip-add-membership={}:{}",
        MCAST_GROUP_V4,
        m.iface(Side::B)
    );
    let r4 = mcast_receiver(&m, Side::B, &recv4, &out4);
    assert!(
        m.wait_for_membership(Side::B, IpAddr::V4(MCAST_GROUP_V4), Duration::from_secs(5)),
        "{}",
        m.memberships(Side::B)
    );
    let send4 = format!(
        "UDP4-DATAGRAM:{}:5000,ip-multicast-if={}",
        MCAST_GROUP_V4,
        m.addr_v4(Side::A)
    );
    let s = run_with_input(
        m.command(Side::A, "socat").args(["-u", "-", &send4]),
        b"hello v4 multicast\n",
        T,
    );
    s.assert_success();
    assert!(
        wait_file_contains(&out4, "hello v4 multicast", Duration::from_secs(5)),
        "IPv4 multicast not received; got {:?}",
        read_lossy(&out4)
    );
    drop(r4);

    // IPv6: join by interface name, send via the ff00::/8 route.
    let out6 = wd.join("v6.out");
    let recv6 = format!(
        "UDP6-RECV:5001,ipv6-join-group=[{}]:{}",
        MCAST_GROUP_V6,
        m.iface(Side::B)
    );
    let r6 = mcast_receiver(&m, Side::B, &recv6, &out6);
    assert!(
        m.wait_for_membership(Side::B, IpAddr::V6(MCAST_GROUP_V6), Duration::from_secs(5)),
        "{}",
        m.memberships(Side::B)
    );
    let send6 = format!("UDP6-DATAGRAM:[{}]:5001", MCAST_GROUP_V6);
    let s = run_with_input(
        m.command(Side::A, "socat").args(["-u", "-", &send6]),
        b"hello v6 multicast\n",
        T,
    );
    s.assert_success();
    assert!(
        wait_file_contains(&out6, "hello v6 multicast", Duration::from_secs(5)),
        "IPv6 multicast not received; got {:?}",
        read_lossy(&out6)
    );
    drop(r6);

    // A std receiver in B (run_in), socat sender in A.
    let sock = m.run_in(Side::B, || {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 5002)).unwrap();
        s.join_multicast_v4(&MCAST_GROUP_V4, &MCAST_B_V4).unwrap();
        s
    });
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let s = run_with_input(
        m.command(Side::A, "socat").args([
            "-u",
            "-",
            &format!("UDP4-DATAGRAM:{}:5002", MCAST_GROUP_V4),
        ]),
        b"to std",
        T,
    );
    s.assert_success();
    let mut buf = [0u8; 64];
    let (n, from) = sock.recv_from(&mut buf).expect("std receiver got nothing");
    assert_eq!(&buf[..n], b"to std");
    assert_eq!(from.ip(), IpAddr::V4(MCAST_A_V4));
    drop(sock);

    drop(m);
    for n in names {
        assert!(
            !Path::new("/run/netns").join(&n).exists(),
            "namespace {} not deleted",
            n
        );
    }
}

#[test]
fn netns_is_deleted_on_panic() {
    let name = std::sync::Mutex::new(String::new());
    let r = std::panic::catch_unwind(|| {
        // Dropped after the namespace: the namespace's cleanup must kill
        // the process first; this only reaps it.
        let _inside: KillOnDrop;
        let ns = Netns::new("panic");
        *name.lock().unwrap() = ns.name().to_string();
        let child = ns
            .command("sleep")
            .arg("60")
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        _inside = KillOnDrop { child };
        panic!("test panic");
    });
    assert!(r.is_err());
    let name = name.into_inner().unwrap();
    assert!(!name.is_empty());
    assert!(
        !Path::new("/run/netns").join(&name).exists(),
        "namespace {} not deleted",
        name
    );
}
