//! TLS sockets: openssl s_server/s_client and socat as the other end, mutual TLS, ALPN, and
//! every verification failure by name (with Qt's per-problem ignore list).

use std::time::Duration;

use crate::listener::Listen;
use crate::peers::*;
use crate::streams::{connect, payload};

const T: Duration = Duration::from_secs(60);

fn path(p: std::path::PathBuf) -> String {
    p.display().to_string()
}

#[test]
fn connect_to_openssl_s_server_with_alpn_and_a_client_certificate() {
    let pki = Pki::new();
    let server = OpenSslServer::start(
        &pki,
        &OpenSslServerOpts::new()
            .require_client_cert()
            .alpn(&["h2", "echo"]),
    );
    let out = run_with_input(
        boardnet().args([
            "--json",
            "connect",
            &server.url_localhost(),
            "--cacert",
            &path(pki.ca_cert()),
            "--cert",
            &path(pki.client_cert()),
            "--key",
            &path(pki.client_key()),
            "--alpn",
            "echo",
        ]),
        b"hello\nworld\n",
        T,
    );
    out.assert_success();
    assert_eq!(
        out.stdout, b"olleh\ndlrow\n",
        "s_server -rev answers each line reversed"
    );
    let encrypted = out
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "encrypted")
        .expect("an encrypted event");
    assert_eq!(encrypted["alpn"], "echo");
    assert!(
        encrypted["peer_certificates"].as_u64() >= Some(1),
        "{encrypted}"
    );
    assert!(
        server.wait_for_log("boardnet test client", Duration::from_secs(5)),
        "{}",
        server.log()
    );
}

#[test]
fn openssl_s_client_against_boardnet_listen_with_client_auth_and_alpn() {
    let pki = Pki::new();
    let server = Listen::start(&[
        "tls://127.0.0.1:0",
        "--echo",
        "--cert",
        &path(pki.server_cert()),
        "--key",
        &path(pki.server_key()),
        "--cacert",
        &path(pki.ca_cert()),
        "--require-client-cert",
        "--alpn",
        "h2,http/1.1",
    ]);
    let (out, info) = openssl_client(
        server.port(),
        &OpenSslClientOpts::mutual(&pki)
            .alpn(&["http/1.1", "h2"])
            .input(b"ping over TLS\n")
            .expect(14),
    );
    assert!(info.verified, "{info:?}\n{out:?}");
    assert_eq!(
        info.alpn.as_deref(),
        Some("h2"),
        "the server's preference wins: {info:?}"
    );
    assert_eq!(info.data, b"ping over TLS\n");
    let enc = server.wait_event(T, |e| e["event"] == "encrypted");
    assert_eq!(enc["alpn"], "h2");
    assert!(
        enc["peer_certificates"].as_u64() >= Some(1),
        "the client's certificate was checked: {enc}"
    );
    // Without a certificate the server refuses and says why.
    let (_, info) = openssl_client(
        server.port(),
        &OpenSslClientOpts::trusting(&pki)
            .input(b"no cert\n")
            .reply_wait(Duration::from_secs(2)),
    );
    assert!(
        info.data.is_empty(),
        "nothing echoed to an unauthenticated client: {info:?}"
    );
    let err = server.wait_event(T, |e| e["event"] == "error");
    assert_eq!(err["error"]["kind"], "SslHandshakeFailedError", "{err}");
    assert_eq!(err["error"]["code"], 6);
}

#[test]
fn socat_tls_and_mutual_tls_both_ways() {
    let pki = Pki::new();
    let data = payload(1 << 20, 7);
    // boardnet → socat.
    for echo in [SocatEcho::tls(&pki), SocatEcho::mutual_tls(&pki)] {
        let out = connect(
            &echo.url(),
            &[
                "--cacert",
                &path(pki.ca_cert()),
                "--cert",
                &path(pki.client_cert()),
                "--key",
                &path(pki.client_key()),
            ],
            &data,
        );
        out.assert_success();
        assert!(
            out.stdout == data,
            "{:?}: {} bytes back",
            echo.kind(),
            out.stdout.len()
        );
    }
    // socat → boardnet, plain and mutual.
    let server = Listen::start(&[
        "tls://127.0.0.1:0",
        "--echo",
        "--cert",
        &path(pki.server_cert()),
        "--key",
        &path(pki.server_key()),
    ]);
    let out = socat_send(
        &socat_tls_address(
            &server.url_with_host("localhost"),
            &SocatTls::from_pki(&pki),
        ),
        &data,
        Duration::from_secs(30),
    );
    assert!(
        out.stdout == data,
        "socat → boardnet tls: {} bytes back\n{out:?}",
        out.stdout.len()
    );
    let mutual = Listen::start(&[
        "tls://127.0.0.1:0",
        "--echo",
        "--cert",
        &path(pki.server_cert()),
        "--key",
        &path(pki.server_key()),
        "--cacert",
        &path(pki.ca_cert()),
        "--require-client-cert",
    ]);
    let out = socat_send(
        &socat_tls_address(&mutual.url_with_host("localhost"), &SocatTls::mutual(&pki)),
        b"mutual\n",
        Duration::from_secs(30),
    );
    assert_eq!(out.stdout, b"mutual\n", "{out:?}");
    // The other CA's client certificate is refused.
    let other = SocatTls::from_pki(&pki)
        .with_client_cert(&pki.other_client_cert(), &pki.other_client_key());
    let out = socat_send(
        &socat_tls_address(&mutual.url_with_host("localhost"), &other),
        b"intruder\n",
        Duration::from_secs(10),
    );
    assert!(out.stdout.is_empty(), "{out:?}");
    let err = mutual.wait_event(T, |e| e["event"] == "error");
    assert!(
        err["error"]["message"].as_str().unwrap().contains("issuer"),
        "{err}"
    );
}

/// A boardnet TLS echo server with `cert`/`key`.
fn tls_server(cert: std::path::PathBuf, key: std::path::PathBuf) -> Listen {
    tls_server_with(cert, key, &[])
}

/// The same with more `listen` options.
fn tls_server_with(cert: std::path::PathBuf, key: std::path::PathBuf, more: &[&str]) -> Listen {
    let (cert, key) = (path(cert), path(key));
    let mut args = vec![
        "tls://127.0.0.1:0",
        "--echo",
        "--cert",
        &cert,
        "--key",
        &key,
    ];
    args.extend_from_slice(more);
    Listen::start(&args)
}

#[test]
fn every_certificate_problem_is_named_and_only_named_ones_are_ignored() {
    let pki = Pki::new();
    let ca = path(pki.ca_cert());
    let good = tls_server(pki.server_cert(), pki.server_key());
    let host = good.url_with_host("localhost");
    // Wrong CA: unknown issuer.
    let out = connect(&host, &["--cacert", &path(pki.other_ca_cert())], b"x");
    out.assert_code(6);
    assert!(out.stderr.contains("issuer is unknown"), "{out:?}");
    let out = connect(
        &host,
        &[
            "--cacert",
            &path(pki.other_ca_cert()),
            "--ignore-tls-error",
            "unknown-issuer",
        ],
        b"x\n",
    );
    out.assert_success();
    assert_eq!(out.stdout, b"x\n");
    // Wrong host name.
    let wrong = tls_server(pki.wrong_host_cert(), pki.wrong_host_key());
    let out = connect(&wrong.url_with_host("localhost"), &["--cacert", &ca], b"x");
    out.assert_code(6);
    assert!(
        out.stderr.contains("not valid for host name \"localhost\""),
        "{out:?}"
    );
    let out = connect(
        &wrong.url_with_host("localhost"),
        &["--cacert", &ca, "--ignore-tls-error", "hostname-mismatch"],
        b"y\n",
    );
    out.assert_success();
    // Expired, and ignoring the expiry does not excuse another problem.
    let expired = tls_server(pki.expired_cert(), pki.expired_key());
    let out = connect(
        &expired.url_with_host("localhost"),
        &["--cacert", &ca],
        b"x",
    );
    out.assert_code(6);
    assert!(out.stderr.contains("expired"), "{out:?}");
    let out = connect(
        &expired.url_with_host("localhost"),
        &["--cacert", &ca, "--ignore-tls-error", "expired"],
        b"z\n",
    );
    out.assert_success();
    let out = connect(
        &expired.url_with_host("localhost"),
        &[
            "--cacert",
            &path(pki.other_ca_cert()),
            "--ignore-tls-error",
            "expired",
        ],
        b"z\n",
    );
    out.assert_code(6);
    assert!(out.stderr.contains("issuer"), "{out:?}");
    // --insecure skips verification, but pins still apply.
    let out = connect(&host, &["-k"], b"k\n");
    out.assert_success();
    let out = connect(&host, &["-k", "--pinnedpubkey", &pki.server_pin()], b"p\n");
    out.assert_success();
    let wrong_pin = format!("sha256//{}", spki_sha256_base64(&pki.other_ca_cert()));
    let out = connect(&host, &["-k", "--pinnedpubkey", &wrong_pin], b"p");
    out.assert_code(6);
    assert!(out.stderr.contains("pin mismatch"), "{out:?}");
    // A bad name in the ignore list is a usage error.
    let out = connect(&host, &["--ignore-tls-error", "everything"], b"");
    out.assert_code(2);
}

#[test]
fn a_client_without_the_required_certificate_fails_on_both_sides() {
    let pki = Pki::new();
    let mut server = Listen::start(&[
        "tls://127.0.0.1:0",
        "--once",
        "--echo",
        "--cert",
        &path(pki.server_cert()),
        "--key",
        &path(pki.server_key()),
        "--cacert",
        &path(pki.ca_cert()),
        "--require-client-cert",
    ]);
    let out = connect(
        &server.url_with_host("localhost"),
        &["--cacert", &path(pki.ca_cert())],
        b"let me in\n",
    );
    out.assert_code(6);
    assert!(out.stderr.contains("client certificate"), "{out:?}");
    assert_eq!(
        server.wait_exit(T),
        Some(6),
        "listen --once exits with the TLS failure: {}",
        server.stderr()
    );
}

#[test]
fn tls_setup_mistakes_are_usage_errors_naming_the_file() {
    let out = run_boardnet(
        [
            "listen",
            "tls://127.0.0.1:0",
            "--cert",
            "/nonexistent/cert.pem",
        ],
        T,
    );
    out.assert_code(2);
    assert!(out.stderr.contains("/nonexistent/cert.pem"), "{out:?}");
    let out = run_boardnet(
        [
            "connect",
            "tls://127.0.0.1:1",
            "--cacert",
            "/nonexistent/ca.pem",
        ],
        T,
    );
    out.assert_code(2);
    assert!(out.stderr.contains("/nonexistent/ca.pem"), "{out:?}");
}

/// `listen --max-connections 2` and two clients that stall in the middle of their TLS
/// handshake (a record header, then nothing): the server closes them after its default 10 s
/// handshake limit and the next client is served. Before, they held both slots until killed.
#[test]
fn clients_stalled_mid_handshake_do_not_lock_out_a_capped_tls_server() {
    use std::io::Write;
    let pki = Pki::new();
    let server = tls_server_with(
        pki.server_cert(),
        pki.server_key(),
        &["--max-connections", "2"],
    );
    let started = std::time::Instant::now();
    let _stalled: Vec<std::net::TcpStream> = (1..=2)
        .map(|id| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
            s.write_all(b"\x16\x03\x01\x02\x00").unwrap();
            server.wait_event(T, |e| e["event"] == "connection" && e["id"] == id);
            s
        })
        .collect();
    let out = connect(
        &server.url_with_host("localhost"),
        &["--cacert", &path(pki.ca_cert())],
        b"served\n",
    );
    out.assert_success();
    assert_eq!(out.stdout, b"served\n");
    let waited = started.elapsed();
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(30)).contains(&waited),
        "served after {waited:?}: the stalled clients should hold their slots for 10 s"
    );
    let err = server.wait_event(T, |e| e["event"] == "error");
    assert_eq!(err["error"]["kind"], "SocketTimeoutError", "{err}");
    let message = err["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("did not finish the TLS handshake within 10 s"),
        "{err}"
    );
}
