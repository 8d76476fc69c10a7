//! HTTPS against nginx with the test PKI: trust anchors, expired and wrong-host certificates,
//! `-k`, public key pinning, client certificates, configuration errors, IPv6 and timings.

use crate::peers::*;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

const T: Duration = Duration::from_secs(20);

fn s(p: &Path) -> &str {
    p.to_str().expect("non-UTF-8 test path")
}

/// The single JSON result line of a `--json` run with one URL.
fn json_result(out: &RunOutput) -> Value {
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one JSON line:\n{:?}", out);
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({}):\n{:?}", e, out))
}

/// Exit code 6, and the `--json` variant says class "tls", kind "SslHandshakeFailed" with
/// `needle` in the message; the human variant has `needle` on stderr.
fn assert_tls_failure(args: &[&str], needle: &str) {
    let out = run_boardnet(args, T);
    out.assert_code(6);
    assert!(
        out.stdout.is_empty(),
        "no body on a TLS failure:\n{:?}",
        out
    );
    assert!(
        out.stderr.contains(needle),
        "stderr lacks {:?}:\n{:?}",
        needle,
        out
    );
    let mut json_args = vec!["--json"];
    json_args.extend_from_slice(args);
    let out = run_boardnet(&json_args, T);
    out.assert_code(6);
    let v = json_result(&out);
    assert_eq!(v["ok"], false, "{:?}", out);
    assert_eq!(v["error"]["class"], "tls", "{:?}", out);
    assert_eq!(v["error"]["code"], 6, "{:?}", out);
    assert_eq!(v["error"]["kind"], "SslHandshakeFailed", "{:?}", out);
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(needle)),
        "{:?}",
        out
    );
    assert!(
        v["status"].is_null(),
        "no HTTP status without a handshake: {:?}",
        out
    );
}

#[test]
fn trusted_ca_succeeds_and_times_the_handshake() {
    let ng = Nginx::start();
    let ca = ng.pki().ca_cert();
    for url in [
        ng.https_url("/hello.txt"),
        ng.https_url_localhost("/hello.txt"),
    ] {
        let out = run_boardnet(["get", "--cacert", s(&ca), &url], T);
        out.assert_success();
        assert_eq!(out.stdout, HELLO.as_bytes(), "{:?}", out);
    }
    // A bigger body, to a file.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    ng.put_file("big.bin", &data);
    let wd = WorkDir::new();
    let file = wd.join("big.bin");
    let out = run_boardnet(
        [
            "get",
            "--json",
            "--cacert",
            s(&ca),
            "-o",
            s(&file),
            &ng.https_url("/big.bin"),
        ],
        T,
    );
    out.assert_success();
    assert!(
        std::fs::read(&file).unwrap() == data,
        "downloaded file differs"
    );
    let v = json_result(&out);
    assert_eq!(v["ok"], true, "{:?}", out);
    assert_eq!(v["status"], 200);
    assert_eq!(v["bytes"], data.len());
    let tls = v["timings"]["tls"].as_f64().expect("timings.tls");
    assert!(
        tls > 0.0,
        "a fresh HTTPS connection has a TLS time: {:?}",
        out
    );
    // Plain HTTP has none.
    let out = run_boardnet(["get", "--json", &ng.http_url("/hello.txt")], T);
    out.assert_success();
    let line = out.stdout_str();
    let v: Value = serde_json::from_str(line.lines().next_back().unwrap()).unwrap();
    assert_eq!(v["timings"]["tls"].as_f64(), Some(0.0), "{:?}", out);
}

#[test]
fn other_ca_is_an_unknown_issuer() {
    let ng = Nginx::start();
    let other = ng.pki().other_ca_cert();
    assert_tls_failure(
        &["get", "--cacert", s(&other), &ng.https_url("/hello.txt")],
        "issuer",
    );
}

#[test]
fn system_store_does_not_trust_the_test_ca() {
    let ng = Nginx::start();
    assert_tls_failure(&["get", &ng.https_url("/hello.txt")], "issuer");
}

#[test]
fn expired_certificate_fails_unless_insecure() {
    let ng = Nginx::start();
    let ca = ng.pki().ca_cert();
    let url = ng.https_expired_url("/hello.txt");
    assert_tls_failure(&["get", "--cacert", s(&ca), &url], "expired");
    let out = run_boardnet(["get", "-k", &url], T);
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
    let out = run_boardnet(["get", "--insecure", "--cacert", s(&ca), &url], T);
    out.assert_success();
}

#[test]
fn wrong_host_certificate_fails_unless_insecure() {
    let ng = Nginx::start();
    let ca = ng.pki().ca_cert();
    let url = ng.https_wrong_host_url("/hello.txt");
    assert_tls_failure(
        &["get", "--cacert", s(&ca), &url],
        "not valid for host name \"127.0.0.1\"",
    );
    let out = run_boardnet(["get", "-k", &url], T);
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
}

#[test]
fn pinned_public_key_is_checked_even_with_insecure() {
    let ng = Nginx::start();
    let pki = ng.pki();
    let ca = pki.ca_cert();
    let url = ng.https_url("/hello.txt");
    let right = pki.server_pin();
    let wrong = format!("sha256//{}", spki_sha256_base64(&pki.client_cert()));

    let out = run_boardnet(
        ["get", "--cacert", s(&ca), "--pinnedpubkey", &right, &url],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
    // Any of several pins.
    let both = format!("{};{}", wrong, right);
    let out = run_boardnet(
        ["get", "--cacert", s(&ca), "--pinnedpubkey", &both, &url],
        T,
    );
    out.assert_success();
    // The pin alone with -k (no chain verification, no --cacert) is enough.
    let out = run_boardnet(["get", "-k", "--pinnedpubkey", &right, &url], T);
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());

    assert_tls_failure(
        &["get", "--cacert", s(&ca), "--pinnedpubkey", &wrong, &url],
        "pin",
    );
    // -k does not switch pinning off.
    assert_tls_failure(&["get", "-k", "--pinnedpubkey", &wrong, &url], "pin");
    // The wrong-host server's own key pinned with -k: accepted; the valid server's pin: not.
    let wrong_host_url = ng.https_wrong_host_url("/hello.txt");
    let wrong_host_pin = format!("sha256//{}", spki_sha256_base64(&pki.wrong_host_cert()));
    let out = run_boardnet(
        [
            "get",
            "-k",
            "--pinnedpubkey",
            &wrong_host_pin,
            &wrong_host_url,
        ],
        T,
    );
    out.assert_success();
    assert_tls_failure(
        &["get", "-k", "--pinnedpubkey", &right, &wrong_host_url],
        "pin mismatch",
    );
    // A malformed pin is a usage error before any connection.
    let out = run_boardnet(["get", "--pinnedpubkey", "sha256//AAAA", &url], T);
    out.assert_code(2);
    assert!(out.stderr.contains("--pinnedpubkey"), "{:?}", out);
}

#[test]
fn client_certificate_is_required_by_the_client_auth_server() {
    let ng = Nginx::start();
    let pki = ng.pki();
    let ca = pki.ca_cert();
    let url = ng.https_client_auth_url("/hello.txt");

    // nginx completes the handshake without a client certificate and answers 400.
    let out = run_boardnet(["get", "--cacert", s(&ca), &url], T);
    out.assert_code(8);
    assert!(out.stderr.contains("HTTP 400"), "{:?}", out);
    let out = run_boardnet(["get", "--json", "--cacert", s(&ca), &url], T);
    out.assert_code(8);
    let v = json_result(&out);
    assert_eq!(v["status"], 400, "{:?}", out);
    assert_eq!(v["error"]["class"], "server-refused");
    assert_eq!(v["error"]["kind"], "ProtocolInvalidOperation");

    let out = run_boardnet(
        [
            "get",
            "--cert",
            s(&pki.client_cert()),
            "--key",
            s(&pki.client_key()),
            "--cacert",
            s(&ca),
            &url,
        ],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
    // Certificate and key in one PEM file.
    let out = run_boardnet(
        [
            "get",
            "--cert",
            s(&pki.client_pem()),
            "--cacert",
            s(&ca),
            &url,
        ],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
    // A certificate from another CA: nginx answers 400 again.
    let out = run_boardnet(
        [
            "get",
            "--json",
            "--cert",
            s(&pki.other_client_cert()),
            "--key",
            s(&pki.other_client_key()),
            "--cacert",
            s(&ca),
            &url,
        ],
        T,
    );
    out.assert_code(8);
    assert_eq!(json_result(&out)["status"], 400, "{:?}", out);
}

/// What went wrong is named: https:// to a plain-HTTP port is "did not answer with TLS" (it was
/// rustls's "corrupt message of type InvalidContentType"); a server offering only static RSA
/// key exchange refuses before choosing a cipher suite: "no cipher suite in common" (it was a
/// hint about client certificates, which stays for a server that does want one).
#[test]
fn handshake_failures_say_what_the_server_did() {
    let ng = Nginx::start();
    let ca = ng.pki().ca_cert();
    let plain = ng.http_url("/hello.txt").replace("http://", "https://");
    assert_tls_failure(
        &["get", "--cacert", s(&ca), &plain],
        "did not answer with TLS",
    );
    let pki = Pki::new();
    let test_ca = pki.ca_cert();
    let static_rsa = OpenSslServer::start(
        &pki,
        &OpenSslServerOpts::new()
            .version(TlsVersion::Tls12)
            .arg("-cipher")
            .arg("AES128-SHA"),
    );
    let url = static_rsa.url_localhost().replace("tls://", "https://");
    let args = ["get", "--cacert", s(&test_ca), &url];
    assert_tls_failure(&args, "no cipher suite or protocol version in common");
    let out = run_boardnet(args, T);
    assert!(!out.stderr.contains("client certificate"), "{out:?}");
    let wants_cert = OpenSslServer::start(
        &pki,
        &OpenSslServerOpts::new()
            .version(TlsVersion::Tls12)
            .require_client_cert(),
    );
    let url = wants_cert.url_localhost().replace("tls://", "https://");
    assert_tls_failure(
        &["get", "--cacert", s(&test_ca), &url],
        "client certificate",
    );
    // The same words from a socket.
    let tls_to_plain = plain.replace("https://", "tls://");
    let tls_to_plain = tls_to_plain.trim_end_matches("/hello.txt");
    let out = run_with_input(
        boardnet().args(["connect", "--cacert", s(&ca), tls_to_plain]),
        b"",
        T,
    );
    out.assert_code(6);
    assert!(out.stderr.contains("did not answer with TLS"), "{out:?}");
}

#[test]
fn unreadable_tls_files_are_usage_errors_naming_the_file() {
    let ng = Nginx::start();
    let wd = WorkDir::new();
    let missing = wd.join("no-such-ca.pem");
    let out = run_boardnet(
        ["get", "--cacert", s(&missing), &ng.https_url("/hello.txt")],
        T,
    );
    out.assert_code(2);
    assert!(out.stderr.contains(s(&missing)), "{:?}", out);
    assert!(out.stdout.is_empty());

    // A file without any certificate.
    let empty = wd.write("empty.pem", "not a certificate\n");
    let out = run_boardnet(
        ["get", "--cacert", s(&empty), &ng.https_url("/hello.txt")],
        T,
    );
    out.assert_code(2);
    assert!(out.stderr.contains(s(&empty)), "{:?}", out);

    let missing_cert = wd.join("no-such-client.pem");
    let out = run_boardnet(
        [
            "get",
            "--cacert",
            s(&ng.pki().ca_cert()),
            "--cert",
            s(&missing_cert),
            &ng.https_client_auth_url("/hello.txt"),
        ],
        T,
    );
    out.assert_code(2);
    assert!(out.stderr.contains(s(&missing_cert)), "{:?}", out);
}

#[test]
fn https_over_ipv6_loopback() {
    let ng = Nginx::start();
    if !ng.has_ipv6() {
        eprintln!("no IPv6 loopback on this host: nothing to test over [::1]");
        return;
    }
    let ca = ng.pki().ca_cert();
    let out = run_boardnet(
        [
            "get",
            "--json",
            "--cacert",
            s(&ca),
            &ng.https_url_v6("/hello.txt"),
        ],
        T,
    );
    out.assert_success();
    let text = out.stdout_str();
    assert!(text.starts_with(HELLO), "{:?}", out);
    let v: Value = serde_json::from_str(text[HELLO.len()..].trim()).unwrap();
    assert_eq!(
        v["remote"],
        format!("[::1]:{}", ng.https_port()),
        "{:?}",
        out
    );
    assert!(v["timings"]["tls"].as_f64().unwrap() > 0.0, "{:?}", out);
}

#[test]
fn trust_store_comes_from_the_environment_with_a_built_in_fallback() {
    let ng = Nginx::start();
    let url = ng.https_url("/hello.txt");
    // SSL_CERT_FILE names the store (rustls-native-certs, like OpenSSL).
    let out = run(
        boardnet()
            .env("SSL_CERT_FILE", ng.pki().ca_cert())
            .env_remove("SSL_CERT_DIR")
            .args(["get", &url]),
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
    // A board without any CA certificates: the built-in webpki-roots are used (which do not
    // know the test CA either, so the answer is an unknown issuer).
    let empty = WorkDir::new();
    let out = run(
        boardnet()
            .env("SSL_CERT_FILE", empty.write("none.pem", ""))
            .env("SSL_CERT_DIR", empty.path())
            .args(["-v", "-v", "get", &url]),
        T,
    );
    out.assert_code(6);
    assert!(out.stderr.contains("webpki-roots"), "{}", out.stderr);
    assert!(out.stderr.contains("issuer"), "{}", out.stderr);
}
