//! UDP: socat as the other end, datagram limits, and multicast and broadcast between two
//! network namespaces joined by a veth pair (nothing leaves the test's own namespaces).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use boardnet::reactor::Reactor;
use boardnet::socket::{Endpoint, UdpOptions, UdpSocket};

use crate::listener::Listen;
use crate::peers::*;
use crate::streams::{connect, payload};

const T: Duration = Duration::from_secs(30);
/// Inside a namespace of our own every port is free.
const NS_PORT: u16 = 45_678;

#[test]
fn udp_echo_with_socat_both_ways() {
    let mut urls = vec![SocatEcho::udp4()];
    if ipv6_available() {
        urls.push(SocatEcho::udp6());
    }
    for echo in urls {
        let out = connect(&echo.url(), &["--idle-timeout", "1"], b"datagram one");
        out.assert_success();
        assert_eq!(out.stdout, b"datagram one", "{}", echo.url());
    }
    for url in ["udp://127.0.0.1:0", "udp://[::1]:0"] {
        if url.contains("::1") && !ipv6_available() {
            continue;
        }
        let server = Listen::start(&[url, "--echo"]);
        let data = payload(60_000, 9);
        let out = socat_send(&socat_address(&server.url), &data, T);
        assert!(
            out.stdout == data,
            "socat → boardnet {}: {} bytes back",
            server.url,
            out.stdout.len()
        );
        let d = server.wait_event(T, |e| e["event"] == "datagram");
        assert_eq!(d["bytes"], 60_000);
    }
}

/// `boardnet connect URL ARGS < file` (a regular file: each read is as large as asked).
fn connect_from_file(url: &str, args: &str, file: &std::path::Path) -> RunOutput {
    let script = format!(
        "exec {} connect {url} {args} < {}",
        boardnet_shell(),
        file.display()
    );
    run(std::process::Command::new("sh").args(["-c", &script]), T)
}

#[test]
fn datagrams_up_to_the_limit_pass_and_larger_ones_are_exit_2() {
    let dir = WorkDir::new();
    let server = Listen::start(&["udp://127.0.0.1:0", "--echo"]);
    let max = dir.path().join("max");
    std::fs::write(&max, payload(65_507, 4)).unwrap();
    let out = connect_from_file(&server.url, "--idle-timeout 1", &max);
    out.assert_success();
    assert_eq!(
        out.stdout.len(),
        65_507,
        "the largest IPv4 datagram went and came back"
    );
    let big = dir.path().join("big");
    std::fs::write(&big, payload(70_000, 5)).unwrap();
    let out = connect_from_file(&server.url, "", &big);
    out.assert_code(2);
    assert!(
        out.stderr.contains("too large") && out.stderr.contains("65507"),
        "{out:?}"
    );
    // --datagram-size splits the same input into datagrams that fit.
    let out = connect_from_file(&server.url, "--datagram-size 10000 --idle-timeout 1", &big);
    out.assert_success();
    assert_eq!(out.stdout.len(), 70_000);
}

#[test]
fn a_refused_udp_peer_is_exit_4() {
    let out = connect(
        &format!("udp://127.0.0.1:{}", free_port()),
        &["--idle-timeout", "2"],
        b"anyone?",
    );
    out.assert_code(4);
    assert!(out.stderr.contains("refused"), "{out:?}");
}

#[test]
fn multicast_groups_are_received_only_when_joined_ipv4_and_ipv6() {
    require_root_or_fail("multicast between network namespaces");
    let mc = MulticastNetns::new();
    let mut groups: Vec<(IpAddr, String)> =
        vec![(MCAST_GROUP_V4.into(), format!("udp://0.0.0.0:{NS_PORT}"))];
    if mc.has_v6() {
        groups.push((MCAST_GROUP_V6.into(), format!("udp://[::]:{NS_PORT}")));
    }
    for (group, bind) in groups {
        let join = match group {
            IpAddr::V4(g) => format!("{g}@{MCAST_IFACE_B}"),
            IpAddr::V6(g) => format!("[{g}]@{MCAST_IFACE_B}"),
        };
        let target = SocketAddr::new(group, NS_PORT);
        let mut cmd = mc.boardnet(Side::B);
        cmd.args(["--json", "listen", &bind, "--join", &join, "--once"]);
        let mut receiver = Listen::spawn(cmd, false);
        let mut send = mc.boardnet(Side::A);
        send.args([
            "connect",
            &format!("udp://{target}"),
            "--interface",
            MCAST_IFACE_A,
            "--ttl",
            "2",
            "--idle-timeout",
            "0.3",
        ]);
        // The join takes effect at once, but resend until the receiver has it, as
        // multicast senders do.
        let deadline = Instant::now() + T;
        while receiver.is_running() {
            assert!(
                Instant::now() < deadline,
                "{group} never arrived:\n{}",
                receiver.stderr()
            );
            run_with_input(&mut send, b"to the group\n", T).assert_success();
        }
        assert_eq!(receiver.wait_exit(T), Some(0));
        assert_eq!(receiver.stdout(), b"to the group\n");
        let d = receiver.wait_event(T, |e| e["event"] == "datagram");
        let from = d["from"].as_str().unwrap().to_string();
        let sender_ip = match group {
            IpAddr::V4(_) => MCAST_A_V4.to_string(),
            IpAddr::V6(_) => MCAST_A_V6.to_string(),
        };
        assert!(from.contains(&sender_ip), "sender {from}, want {sender_ip}");
    }
}

#[test]
fn leaving_a_group_stops_its_traffic() {
    require_root_or_fail("multicast between network namespaces");
    let mc = MulticastNetns::new();
    let mut reactor = Reactor::new().unwrap();
    let bind: Endpoint = format!("udp://0.0.0.0:{NS_PORT}").parse().unwrap();
    let mut receiver = mc.run_in(Side::B, || {
        UdpSocket::bind(&mut reactor, &bind, &UdpOptions::default()).unwrap()
    });
    let group = IpAddr::V4(MCAST_GROUP_V4);
    // Interface names are looked up in the caller's namespace.
    mc.run_in(Side::B, || {
        receiver.join_multicast_group(group, Some(MCAST_IFACE_B))
    })
    .unwrap();
    let sender = mc.run_in(Side::A, || {
        let s = std::net::UdpSocket::bind("10.98.0.1:0").unwrap();
        s.set_multicast_ttl_v4(2).unwrap();
        s
    });
    let target = SocketAddr::new(group, NS_PORT);
    let mut buf = [0u8; 64];
    let received = |receiver: &mut UdpSocket, reactor: &mut Reactor, buf: &mut [u8]| {
        sender.send_to(b"hello group", target).unwrap();
        match receiver.wait_for_ready_read(reactor, Duration::from_millis(500)) {
            Ok(()) => receiver.recv_from(buf).ok(),
            Err(_) => None,
        }
    };
    let got =
        received(&mut receiver, &mut reactor, &mut buf).expect("joined: the datagram arrives");
    assert_eq!(&buf[..got.len], b"hello group");
    assert_eq!(got.from.ip(), IpAddr::V4(MCAST_A_V4));
    mc.run_in(Side::B, || {
        receiver.leave_multicast_group(group, Some(MCAST_IFACE_B))
    })
    .unwrap();
    assert!(
        received(&mut receiver, &mut reactor, &mut buf).is_none(),
        "left: nothing arrives"
    );
    // Bad requests say what is wrong.
    let e = receiver
        .join_multicast_group("10.1.2.3".parse().unwrap(), None)
        .unwrap_err();
    assert!(e.to_string().contains("not a multicast group"), "{e}");
    let e = receiver
        .join_multicast_group(group, Some("nosuchif0"))
        .unwrap_err();
    assert!(e.to_string().contains("nosuchif0"), "{e}");
}

#[test]
fn broadcast_is_sent_only_when_asked_for() {
    require_root_or_fail("broadcast between network namespaces");
    let mc = MulticastNetns::new();
    let mut cmd = mc.boardnet(Side::B);
    cmd.args([
        "--json",
        "listen",
        &format!("udp://0.0.0.0:{NS_PORT}"),
        "--once",
    ]);
    let mut receiver = Listen::spawn(cmd, false);
    let url = format!("udp://10.98.0.255:{NS_PORT}");
    let mut refused = mc.boardnet(Side::A);
    refused.args(["connect", &url]);
    let out = run_with_input(&mut refused, b"x", T);
    out.assert_code(1);
    assert!(out.stderr.contains("--broadcast"), "{out:?}");
    let mut send = mc.boardnet(Side::A);
    send.args(["connect", &url, "--broadcast", "--idle-timeout", "0.3"]);
    let deadline = Instant::now() + T;
    while receiver.is_running() {
        assert!(
            Instant::now() < deadline,
            "broadcast never arrived:\n{}",
            receiver.stderr()
        );
        run_with_input(&mut send, b"to everyone\n", T).assert_success();
    }
    assert_eq!(receiver.stdout(), b"to everyone\n");
}
