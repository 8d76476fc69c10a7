//! Stream sockets through the CLI: socat on the other end of every kind (TCP over IPv4 and
//! IPv6, Unix paths and abstract names), boardnet against itself, and the server's
//! behaviour with many, silent and surplus clients.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::listener::Listen;
use crate::peers::*;

const T: Duration = Duration::from_secs(60);

/// Bytes that differ at every offset (so a reordering or a lost block shows).
pub fn payload(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

pub fn connect(url: &str, args: &[&str], input: &[u8]) -> RunOutput {
    run_with_input(boardnet().arg("connect").arg(url).args(args), input, T)
}

fn assert_same(got: &[u8], want: &[u8], what: &str) {
    assert!(
        got == want,
        "{what}: got {} bytes, want {} (first difference at {:?})",
        got.len(),
        want.len(),
        got.iter().zip(want).position(|(a, b)| a != b)
    );
}

fn stream_kinds() -> Vec<EchoKind> {
    let mut kinds = vec![EchoKind::Tcp4, EchoKind::Unix, EchoKind::Abstract];
    if ipv6_available() {
        kinds.push(EchoKind::Tcp6);
    }
    kinds
}

#[test]
fn boardnet_connect_against_socat_echo_for_every_stream_kind() {
    let data = payload(1 << 20, 1);
    for kind in stream_kinds() {
        let echo = SocatEcho::start(kind, None);
        let out = connect(&echo.url(), &[], &data);
        out.assert_success();
        assert_same(&out.stdout, &data, &format!("{kind:?} via {}", echo.url()));
    }
}

#[test]
fn socat_against_boardnet_listen_echo_for_every_stream_kind() {
    let dir = WorkDir::new();
    let path = dir.path().join("echo.sock");
    let mut urls = vec![
        "tcp://127.0.0.1:0".to_string(),
        format!("unix:{}", path.display()),
        format!("unix:@boardnet-echo-{}", std::process::id()),
    ];
    if ipv6_available() {
        urls.push("tcp://[::1]:0".into());
    }
    let data = payload(1 << 20, 2);
    for url in urls {
        let server = Listen::start(&[&url, "--echo"]);
        let out = socat_send(&socat_address(&server.url), &data, Duration::from_secs(30));
        out.assert_success();
        assert_same(
            &out.stdout,
            &data,
            &format!("socat → boardnet listen {}", server.url),
        );
        let closed = server.wait_event(T, |e| e["event"] == "closed");
        assert_eq!(closed["bytes_in"], data.len(), "{closed}");
        assert_eq!(closed["bytes_out"], data.len(), "{closed}");
    }
}

#[test]
fn one_server_serves_many_clients_at_once() {
    let server = Listen::start(&["tcp://127.0.0.1:0", "--echo"]);
    let url = server.url.clone();
    let clients: Vec<_> = (0..16)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let data = payload(256 * 1024, i);
                let out = connect(&url, &[], &data);
                out.assert_success();
                assert_same(&out.stdout, &data, &format!("client {i}"));
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let deadline = Instant::now() + T;
    loop {
        let closed = server
            .events()
            .iter()
            .filter(|e| e["event"] == "closed")
            .count();
        if closed == 16 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{closed} of 16 closed:\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let ids: std::collections::BTreeSet<u64> = server
        .events()
        .iter()
        .filter(|e| e["event"] == "connection")
        .filter_map(|e| e["id"].as_u64())
        .collect();
    assert_eq!(ids.len(), 16, "every connection numbered once");
}

#[test]
fn listen_once_with_stdio_is_nc_l_in_both_directions() {
    let mut server = Listen::start_with_stdin(&["tcp://127.0.0.1:0", "--once"]);
    server.write_stdin(b"from the server\n");
    server.close_stdin();
    let out = connect(&server.url, &[], b"from the client\n");
    out.assert_success();
    assert_eq!(out.stdout, b"from the server\n");
    assert_eq!(server.wait_exit(T), Some(0), "{}", server.stderr());
    assert_eq!(server.stdout(), b"from the client\n");
}

#[test]
fn discard_reads_everything_and_answers_nothing() {
    let server = Listen::start(&["tcp://127.0.0.1:0", "--discard"]);
    let data = payload(3 << 20, 3);
    let out = connect(&server.url, &[], &data);
    out.assert_success();
    assert!(out.stdout.is_empty());
    let closed = server.wait_event(T, |e| e["event"] == "closed");
    assert_eq!(
        (closed["bytes_in"].as_u64(), closed["bytes_out"].as_u64()),
        (Some(3 << 20), Some(0))
    );
}

#[test]
fn max_connections_keeps_extra_clients_waiting_in_the_backlog() {
    let server = Listen::start(&["tcp://127.0.0.1:0", "--echo", "--max-connections", "1"]);
    let first = SilentClient::connect(("127.0.0.1", server.port()));
    server.wait_event(T, |e| e["event"] == "connection" && e["id"] == 1);
    let url = server.url.clone();
    let second = std::thread::spawn(move || connect(&url, &[], b"second\n"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !server
            .events()
            .iter()
            .any(|e| e["event"] == "connection" && e["id"] == 2),
        "a second client was served while the first held the only slot"
    );
    assert!(
        !second.is_finished(),
        "the second client finished without being served"
    );
    drop(first);
    let out = second.join().unwrap();
    out.assert_success();
    assert_eq!(out.stdout, b"second\n");
}

#[test]
fn a_silent_client_neither_blocks_others_nor_outstays_the_idle_timeout() {
    let server = Listen::start(&["tcp://127.0.0.1:0", "--echo", "--idle-timeout", "0.5"]);
    let mut silent = SilentClient::connect(("127.0.0.1", server.port()));
    let out = connect(&server.url, &[], b"meanwhile\n");
    out.assert_success();
    assert_eq!(
        out.stdout, b"meanwhile\n",
        "served while the silent client sits there"
    );
    let (how, after) = silent
        .wait_closed(Duration::from_secs(5))
        .expect("the server closes the silent client");
    assert!(
        after < Duration::from_secs(3),
        "closed after {after:?} ({how:?})"
    );
    let err = server.wait_event(T, |e| e["event"] == "error");
    assert_eq!(err["error"]["kind"], "SocketTimeoutError", "{err}");
}

#[test]
fn signals_stop_listen_with_exit_0_and_remove_its_socket_file() {
    let dir = WorkDir::new();
    let path = dir.path().join("sig.sock");
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut server = Listen::start(&[&format!("unix:{}", path.display()), "--echo"]);
        assert!(path.exists());
        server.signal(sig);
        assert_eq!(
            server.wait_exit(T),
            Some(0),
            "signal {sig}: {}",
            server.stderr()
        );
        assert!(!path.exists(), "the socket file is removed on exit");
    }
}

#[test]
fn unix_connections_report_the_peer_process() {
    let name = format!("boardnet-creds-{}", std::process::id());
    let server = Listen::start(&[&format!("unix:@{name}"), "--echo"]);
    assert_eq!(server.address, format!("@{name}"));
    let _client = SilentClient::connect_abstract(&name);
    let conn = server.wait_event(T, |e| e["event"] == "connection");
    assert_eq!(conn["pid"], std::process::id(), "{conn}");
    assert_eq!(conn["uid"], euid(), "{conn}");
}

#[test]
fn connect_json_reports_both_addresses_and_the_byte_counts() {
    let echo = SocatEcho::tcp4();
    let out = run_with_input(
        boardnet().args(["--json", "connect", &echo.url()]),
        b"0123456789",
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, b"0123456789", "stdout carries only data");
    let events: Vec<Value> = out
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let connected = events
        .iter()
        .find(|e| e["event"] == "connected")
        .expect("connected event");
    assert_eq!(connected["peer"], format!("127.0.0.1:{}", echo.port()));
    assert!(connected["local"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    let closed = events
        .iter()
        .find(|e| e["event"] == "closed")
        .expect("closed event");
    assert_eq!(
        (closed["bytes_in"].as_u64(), closed["bytes_out"].as_u64()),
        (Some(10), Some(10))
    );
}

#[test]
fn host_names_resolve_and_interfaces_bind() {
    let echo = SocatEcho::tcp4();
    let out = connect(
        &format!("tcp://localhost:{}", echo.port()),
        &["-4"],
        b"by name\n",
    );
    out.assert_success();
    assert_eq!(out.stdout, b"by name\n");
    if euid() == 0 {
        let out = connect(&echo.url(), &["--interface", "lo"], b"through lo\n");
        out.assert_success();
        assert_eq!(out.stdout, b"through lo\n");
        let out = connect(&echo.url(), &["--interface", "nosuchif0"], b"");
        out.assert_code(2);
        assert!(
            out.stderr.contains("no interface named \"nosuchif0\""),
            "{out:?}"
        );
    } else {
        let out = connect(&echo.url(), &["--interface", "lo"], b"");
        out.assert_code(1);
        assert!(out.stderr.contains("CAP_NET_RAW"), "{out:?}");
    }
}
