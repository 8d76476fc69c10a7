//! Smoke tests of the shared test peers (tests/peers/), checked with curl.

mod peers;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use peers::*;

const T: Duration = Duration::from_secs(30);

fn curl(args: &[&str]) -> RunOutput {
    require_program("curl");
    let mut c = Command::new("curl");
    for v in PROXY_ENV_VARS {
        c.env_remove(v);
    }
    // -q: ignore any ~/.curlrc.
    run(c.args(["-q", "-sS"]).args(args), T)
}

/// curl printing only "%{http_code}" (body discarded).
fn curl_code(args: &[&str]) -> String {
    let mut a = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    a.extend_from_slice(args);
    let out = curl(&a);
    out.assert_success();
    out.stdout_str()
}

/// Response headers only (curl -D -), for Location checks.
fn curl_headers(args: &[&str]) -> String {
    let mut a = vec!["-o", "/dev/null", "-D", "-"];
    a.extend_from_slice(args);
    let out = curl(&a);
    out.assert_success();
    out.stdout_str()
}

fn header_value(headers: &str, name: &str) -> Option<String> {
    headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if k.trim().eq_ignore_ascii_case(name) {
            Some(v.trim().to_string())
        } else {
            None
        }
    })
}

fn sha256_hex(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path), T);
    out.assert_success();
    out.stdout_str()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn pid_alive(pid: u32) -> bool {
    // A reaped child disappears from /proc; a zombie would still show up.
    Path::new(&format!("/proc/{}", pid)).exists()
}

// ---------------------------------------------------------------- basics

#[test]
fn workdir_is_fresh_and_removed_on_drop() {
    let a = WorkDir::new();
    let b = WorkDir::new();
    assert_ne!(a.path(), b.path());
    assert!(a.path().is_dir());
    assert!(a.path().starts_with(std::env::temp_dir()));
    let f = a.write("sub/dir/file.txt", "x");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "x");
    let p = a.path().to_path_buf();
    drop(a);
    if std::env::var_os(KEEP_ENV).is_some() {
        assert!(
            p.is_dir(),
            "{} must be kept when {} is set",
            p.display(),
            KEEP_ENV
        );
    } else {
        assert!(!p.exists(), "{} must be removed on drop", p.display());
    }
}

#[test]
fn free_port_and_wait_until_listening() {
    let ports = free_ports(4);
    let mut sorted = ports.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 4, "free_ports gave duplicates: {:?}", ports);
    let p = free_port();
    let t0 = Instant::now();
    assert!(!wait_until_listening(
        ("127.0.0.1", p),
        Duration::from_millis(200)
    ));
    assert!(t0.elapsed() >= Duration::from_millis(200));
    let l = std::net::TcpListener::bind(("127.0.0.1", p)).expect("free_port must be bindable");
    assert!(wait_until_listening(
        ("127.0.0.1", p),
        Duration::from_secs(5)
    ));
    wait_for_port(p);
    drop(l);
    let r = curl(&[&refused_url()]);
    assert_eq!(r.code, Some(7), "refused_url must refuse: {:?}", r);
}

#[test]
fn run_times_out_and_captures() {
    let out = run(
        Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
        T,
    );
    assert_eq!(out.code, Some(3));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, "err\n");
    assert!(!out.timed_out);
    let t0 = Instant::now();
    let out = run(Command::new("sleep").arg("10"), Duration::from_millis(300));
    assert!(out.timed_out, "{:?}", out);
    assert_eq!(out.code, None);
    assert!(t0.elapsed() < Duration::from_secs(3));
    let out = run_with_input(&mut Command::new("cat"), b"piped", T);
    assert_eq!(out.stdout, b"piped");
    assert!(
        Path::new(boardnet_path()).is_file(),
        "{} missing",
        boardnet_path()
    );
    // The boardnet binary can be started (whatever it answers).
    let out = run_boardnet(["--help"], T);
    assert!(!out.timed_out, "{:?}", out);
}

#[test]
fn require_root_or_fail_matches_euid() {
    let r = std::panic::catch_unwind(|| require_root_or_fail("this smoke test"));
    assert_eq!(r.is_ok(), euid() == 0);
    let r = std::panic::catch_unwind(|| require_program("definitely-not-a-program-xyz"));
    assert!(r.is_err());
}

// ---------------------------------------------------------------- PKI

#[test]
fn pki_certificates_have_the_promised_properties() {
    let t0 = Instant::now();
    let pki = Pki::new();
    eprintln!("Pki::new took {:?}", t0.elapsed());
    let verify = |extra: &[&str]| {
        let mut c = Command::new("openssl");
        c.arg("verify").args(extra);
        run(&mut c, T)
    };
    let ca = pki.ca_cert();
    let ca = ca.to_str().unwrap();
    let s = |p: std::path::PathBuf| p.to_str().unwrap().to_string();
    verify(&[
        "-CAfile",
        ca,
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "localhost",
        &s(pki.server_cert()),
    ])
    .assert_success();
    verify(&[
        "-CAfile",
        ca,
        "-verify_ip",
        "127.0.0.1",
        &s(pki.server_cert()),
    ])
    .assert_success();
    verify(&["-CAfile", ca, "-verify_ip", "::1", &s(pki.server_cert())]).assert_success();
    let e = verify(&["-CAfile", ca, &s(pki.expired_cert())]);
    assert!(
        !e.success() && e.stderr.contains("certificate has expired"),
        "{:?}",
        e
    );
    let w = verify(&[
        "-CAfile",
        ca,
        "-verify_hostname",
        "localhost",
        &s(pki.wrong_host_cert()),
    ]);
    assert!(!w.success(), "{:?}", w);
    verify(&[
        "-CAfile",
        ca,
        "-verify_hostname",
        "wrong.example",
        &s(pki.wrong_host_cert()),
    ])
    .assert_success();
    let o = verify(&["-CAfile", &s(pki.other_ca_cert()), &s(pki.server_cert())]);
    assert!(!o.success(), "{:?}", o);
    verify(&[
        "-CAfile",
        ca,
        "-purpose",
        "sslclient",
        &s(pki.client_cert()),
    ])
    .assert_success();
    verify(&[
        "-CAfile",
        &s(pki.other_ca_cert()),
        "-purpose",
        "sslclient",
        &s(pki.other_client_cert()),
    ])
    .assert_success();
    // Keys match their certificates.
    for (crt, key) in [
        (pki.server_cert(), pki.server_key()),
        (pki.client_cert(), pki.client_key()),
        (pki.expired_cert(), pki.expired_key()),
    ] {
        let a = run(
            Command::new("openssl")
                .args(["x509", "-noout", "-pubkey", "-in"])
                .arg(&crt),
            T,
        );
        let b = run(
            Command::new("openssl")
                .args(["pkey", "-pubout", "-in"])
                .arg(&key),
            T,
        );
        assert_eq!(
            a.stdout,
            b.stdout,
            "{} does not match {}",
            crt.display(),
            key.display()
        );
    }
    let pin = pki.spki_sha256_base64(&pki.server_cert());
    assert_eq!(pin.len(), 44, "{}", pin);
    assert!(pin.ends_with('='));
    assert_ne!(pin, spki_sha256_base64(&pki.client_cert()));
    assert_eq!(base64(b"hello"), "aGVsbG8=");
    let dir = pki.dir().to_path_buf();
    drop(pki);
    if std::env::var_os(KEEP_ENV).is_none() {
        assert!(!dir.exists());
    }
}

// ---------------------------------------------------------------- nginx

#[test]
fn nginx_plain_http() {
    let t0 = Instant::now();
    let ng = Nginx::start();
    eprintln!("Nginx::start took {:?}", t0.elapsed());
    let out = curl(&[&ng.http_url("/hello.txt")]);
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
    if ng.has_ipv6() {
        let out = curl(&[&ng.http_url_v6("/hello.txt")]);
        assert_eq!(out.assert_success().stdout, HELLO.as_bytes());
    }
    let out = curl(&[&ng.http_url_localhost("/hello.txt")]);
    assert_eq!(out.assert_success().stdout, HELLO.as_bytes());
    // Range requests.
    let out = curl(&["-r", "0-4", "-D", "/dev/stderr", &ng.http_url("/hello.txt")]);
    assert_eq!(out.assert_success().stdout, b"hello");
    assert!(out.stderr.contains("206"), "{:?}", out);
    // Files written by the test are served.
    let data = pseudo_random(300_000, 1);
    ng.put_file("dir/data.bin", &data);
    let out = curl(&[&ng.http_url("/dir/data.bin")]);
    assert!(out.assert_success().stdout == data);
    assert_eq!(curl_code(&[&ng.http_url("/missing")]), "404");
    for code in ["404", "500", "503"] {
        assert_eq!(
            curl_code(&[&ng.http_url(&format!("/status/{}", code))]),
            code
        );
    }
    // tcp_nopush off / sendfile on are in the generated config.
    let conf = std::fs::read_to_string(ng.work_dir().join("nginx.conf")).unwrap();
    assert!(conf.contains("tcp_nopush off;") && conf.contains("sendfile on;"));
}

#[test]
fn nginx_upload_and_delete() {
    let ng = Nginx::start();
    let wd = WorkDir::new();
    let data = pseudo_random(3 * 1024 * 1024 + 7, 2);
    let src = wd.write("up.bin", &data);
    let code = curl_code(&[
        "-T",
        src.to_str().unwrap(),
        &ng.http_url("/upload/a/b/up.bin"),
    ]);
    assert_eq!(code, "201");
    let stored = ng.upload_dir().join("a/b/up.bin");
    assert!(
        std::fs::read(&stored).unwrap() == data,
        "uploaded file differs"
    );
    // Over HTTPS too, and read back with GET.
    let ca = ng.pki().ca_cert();
    let code = curl_code(&[
        "--cacert",
        ca.to_str().unwrap(),
        "-T",
        src.to_str().unwrap(),
        &ng.https_url("/upload/tls.bin"),
    ]);
    assert_eq!(code, "201");
    let out = curl(&[&ng.http_url("/upload/tls.bin")]);
    assert!(out.assert_success().stdout == data);
    let code = curl_code(&["-X", "DELETE", &ng.http_url("/upload/a/b/up.bin")]);
    assert_eq!(code, "204");
    assert!(!stored.exists());
}

#[test]
fn nginx_basic_auth() {
    let ng = Nginx::start();
    assert_eq!(curl_code(&[&ng.http_url("/auth/secret.txt")]), "401");
    assert_eq!(
        curl_code(&["-u", "user:wrong", &ng.http_url("/auth/secret.txt")]),
        "401"
    );
    let out = curl(&[
        "-u",
        &format!("{}:{}", AUTH_USER, AUTH_PASSWORD),
        &ng.http_url("/auth/secret.txt"),
    ]);
    assert_eq!(out.assert_success().stdout, SECRET.as_bytes());
}

#[test]
fn nginx_redirects() {
    let ng = Nginx::start();
    let h = curl_headers(&[&ng.http_url("/redirect")]);
    assert!(h.starts_with("HTTP/1.1 302"), "{}", h);
    assert_eq!(header_value(&h, "Location").as_deref(), Some("/hello.txt"));
    let h = curl_headers(&[&ng.http_url("/redirect-abs")]);
    assert_eq!(
        header_value(&h, "Location"),
        Some(format!("http://127.0.0.1:{}/hello.txt", ng.http_port()))
    );
    let h = curl_headers(&[&ng.http_url("/redirect-other-host")]);
    assert_eq!(
        header_value(&h, "Location"),
        Some(format!("http://localhost:{}/echo-headers", ng.http_port()))
    );
    let out = curl(&["-L", &ng.http_url("/redirect")]);
    assert_eq!(out.assert_success().stdout, HELLO.as_bytes());
    let out = curl(&["-L", &ng.http_url("/redirect-abs")]);
    assert_eq!(out.assert_success().stdout, HELLO.as_bytes());
    // curl drops Authorization when redirected to another host name.
    let out = curl(&[
        "-L",
        "-u",
        "user:secret",
        &ng.http_url("/redirect-other-host"),
    ]);
    let body = out.assert_success().stdout_str();
    assert!(body.contains(r#""path": "/echo-headers""#), "{}", body);
    assert!(!body.contains("Authorization"), "{}", body);
    let out = curl(&["-L", "--max-redirs", "5", &ng.http_url("/loop")]);
    assert_eq!(out.code, Some(47), "{:?}", out);
    let ca = ng.pki().ca_cert();
    let ca = ca.to_str().unwrap();
    let h = curl_headers(&["--cacert", ca, &ng.https_url("/to-http")]);
    assert_eq!(
        header_value(&h, "Location"),
        Some(format!("http://127.0.0.1:{}/hello.txt", ng.http_port()))
    );
    let h = curl_headers(&["--cacert", ca, &ng.https_url("/redirect-abs")]);
    assert_eq!(
        header_value(&h, "Location"),
        Some(format!("https://127.0.0.1:{}/hello.txt", ng.https_port()))
    );
    let h = curl_headers(&[&ng.http_url("/to-https")]);
    assert_eq!(
        header_value(&h, "Location"),
        Some(format!("https://127.0.0.1:{}/hello.txt", ng.https_port()))
    );
}

#[test]
fn nginx_https_variants() {
    let ng = Nginx::start();
    let pki = ng.pki();
    let ca = pki.ca_cert();
    let ca = ca.to_str().unwrap();
    for url in [
        ng.https_url("/hello.txt"),
        ng.https_url_localhost("/hello.txt"),
    ] {
        let out = curl(&["--cacert", ca, &url]);
        assert_eq!(out.assert_success().stdout, HELLO.as_bytes());
    }
    if ng.has_ipv6() {
        let out = curl(&["--cacert", ca, &ng.https_url_v6("/hello.txt")]);
        assert_eq!(out.assert_success().stdout, HELLO.as_bytes());
    }
    // TLS 1.2 and 1.3 both offered.
    curl(&[
        "--cacert",
        ca,
        "--tlsv1.2",
        "--tls-max",
        "1.2",
        &ng.https_url("/hello.txt"),
    ])
    .assert_success();
    curl(&["--cacert", ca, "--tlsv1.3", &ng.https_url("/hello.txt")]).assert_success();
    // Without the test CA: untrusted.
    let out = curl(&[&ng.https_url("/hello.txt")]);
    assert_eq!(out.code, Some(60), "{:?}", out);
    let other = pki.other_ca_cert();
    let out = curl(&[
        "--cacert",
        other.to_str().unwrap(),
        &ng.https_url("/hello.txt"),
    ]);
    assert_eq!(out.code, Some(60), "{:?}", out);
    // Expired.
    let out = curl(&["--cacert", ca, &ng.https_expired_url("/hello.txt")]);
    assert_eq!(out.code, Some(60), "{:?}", out);
    assert!(out.stderr.contains("expired"), "{:?}", out);
    // Wrong host.
    let out = curl(&["--cacert", ca, &ng.https_wrong_host_url("/hello.txt")]);
    assert_eq!(out.code, Some(60), "{:?}", out);
    assert!(out.stderr.contains("subject name"), "{:?}", out);
    // Pinning: right pin works, wrong pin fails with 90.
    let out = curl(&[
        "--cacert",
        ca,
        "--pinnedpubkey",
        &pki.server_pin(),
        &ng.https_url("/hello.txt"),
    ]);
    assert_eq!(out.assert_success().stdout, HELLO.as_bytes());
    let wrong = format!("sha256//{}", spki_sha256_base64(&pki.client_cert()));
    let out = curl(&[
        "--cacert",
        ca,
        "--pinnedpubkey",
        &wrong,
        &ng.https_url("/hello.txt"),
    ]);
    assert_eq!(out.code, Some(90), "{:?}", out);
}

#[test]
fn nginx_client_auth() {
    let ng = Nginx::start();
    let pki = ng.pki();
    let ca = pki.ca_cert();
    let ca = ca.to_str().unwrap();
    let url = ng.https_client_auth_url("/hello.txt");
    // Without a client certificate nginx answers 400.
    assert_eq!(curl_code(&["--cacert", ca, &url]), "400");
    let cert = pki.client_cert();
    let key = pki.client_key();
    let out = curl(&[
        "--cacert",
        ca,
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        &url,
    ]);
    assert_eq!(out.assert_success().stdout, HELLO.as_bytes());
    let pem = pki.client_pem();
    let out = curl(&["--cacert", ca, "--cert", pem.to_str().unwrap(), &url]);
    assert_eq!(out.assert_success().stdout, HELLO.as_bytes());
    let oc = pki.other_client_cert();
    let ok = pki.other_client_key();
    assert_eq!(
        curl_code(&[
            "--cacert",
            ca,
            "--cert",
            oc.to_str().unwrap(),
            "--key",
            ok.to_str().unwrap(),
            &url
        ]),
        "400"
    );
}

#[test]
fn nginx_echo_proxy_and_cookies() {
    let ng = Nginx::start();
    let out = curl(&["-H", "X-Test: smoke", &ng.http_url("/echo-headers")]);
    let body = out.assert_success().stdout_str();
    assert!(body.contains(r#"["X-Test", "smoke"]"#), "{}", body);
    assert!(
        body.contains(&format!(r#"["Host", "127.0.0.1:{}"]"#, ng.http_port())),
        "Host must be passed through: {}",
        body
    );
    // Chunked POST through the proxy.
    let wd = WorkDir::new();
    let data = pseudo_random(2_000_000, 3);
    let f = wd.write("post.bin", &data);
    let out = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &format!("@{}", f.display()),
        &ng.http_url("/echo/post?x=1"),
    ]);
    let body = out.assert_success().stdout_str();
    assert!(body.contains(r#""body_len": 2000000"#), "{}", body);
    assert!(body.contains(&sha256_hex(&f)), "{}", body);
    assert!(
        body.contains(r#""path": "/echo/post""#) && body.contains(r#""query": "x=1""#),
        "{}",
        body
    );
    // Cookies.
    let jar = wd.join("jar.txt");
    let jar = jar.to_str().unwrap();
    let h = curl_headers(&["-c", jar, &ng.http_url("/set-cookie")]);
    assert_eq!(
        header_value(&h, "Set-Cookie").as_deref(),
        Some("session=abc123; Path=/")
    );
    let out = curl(&["-b", jar, &ng.http_url("/cookie-check")]);
    assert_eq!(out.assert_success().stdout_str(), "session=abc123");
    let out = curl(&[&ng.http_url("/cookie-check")]);
    assert_eq!(out.assert_success().stdout_str(), "");
}

#[test]
fn nginx_is_killed_on_drop_even_on_panic() {
    let pids = std::sync::Mutex::new(None);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let ng = Nginx::start();
        *pids.lock().unwrap() = Some((
            ng.pid(),
            ng.echo().pid(),
            ng.http_port(),
            ng.work_dir().to_path_buf(),
        ));
        assert!(pid_alive(ng.pid()));
        panic!("deliberate panic with nginx running");
    }));
    assert!(r.is_err());
    let (ng_pid, echo_pid, port, dir) = pids.lock().unwrap().take().unwrap();
    assert!(!pid_alive(ng_pid), "nginx {} still alive", ng_pid);
    assert!(!pid_alive(echo_pid), "echo server {} still alive", echo_pid);
    assert!(!is_listening(("127.0.0.1", port)));
    if std::env::var_os(KEEP_ENV).is_none() {
        assert!(!dir.exists());
    }
}

// ---------------------------------------------------------------- echo

#[test]
fn echo_server_chunked_and_multipart() {
    let t0 = Instant::now();
    let echo = EchoServer::start();
    eprintln!("EchoServer::start took {:?}", t0.elapsed());
    let out = curl(&[
        "-X",
        "POST",
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "hello chunk",
        &echo.url("/x/y?a=1&b"),
    ]);
    let body = out.assert_success().stdout_str();
    for want in [
        r#""method": "POST""#,
        r#""path": "/x/y""#,
        r#""query": "a=1&b""#,
        r#""body_len": 11"#,
        r#""body": "hello chunk""#,
        r#""chunked": true"#,
        r#"["Transfer-Encoding", "chunked"]"#,
        // sha256("hello chunk")
        "f1543f54eb28cdcb28b2b45d4edd0daec677684761af33a4b8899f346ae146a8",
    ] {
        assert!(body.contains(want), "missing {} in {}", want, body);
    }
    // Multipart with a 5 MiB file part.
    let wd = WorkDir::new();
    let f = wd.write("big.bin", pseudo_random(5 * 1024 * 1024, 4));
    let sum = sha256_hex(&f);
    let out = curl(&[
        "-F",
        "field=value",
        "-F",
        &format!("file=@{};type=application/x-test", f.display()),
        &echo.url("/upload"),
    ]);
    let body = out.assert_success().stdout_str();
    for want in [
        r#""name": "field""#,
        r#""text": "value""#,
        r#""name": "file""#,
        r#""filename": "big.bin""#,
        r#""content_type": "application/x-test""#,
        r#""len": 5242880"#,
        &sum,
    ] {
        assert!(body.contains(want), "missing {} in {}", want, body);
    }
    // Big bodies are not echoed as text.
    assert!(body.contains(r#""body": null"#), "{}", body);
}

#[test]
fn echo_server_special_paths_and_keepalive() {
    let echo = EchoServer::start();
    let h = curl_headers(&[&echo.url("/set-cookie?a=1&b=two")]);
    assert!(h.contains("Set-Cookie: a=1; Path=/"), "{}", h);
    assert!(h.contains("Set-Cookie: b=two; Path=/"), "{}", h);
    assert_eq!(curl_code(&[&echo.url("/status/418")]), "418");
    assert_eq!(
        curl_code(&["-X", "DELETE", &echo.url("/status/503")]),
        "503"
    );
    assert_eq!(curl_code(&[&echo.url("/status/204")]), "204");
    // HEAD: no body but a Content-Length.
    let h = curl_headers(&["-I", &echo.url("/head")]);
    assert!(header_value(&h, "Content-Length").is_some(), "{}", h);
    // Two requests over one connection.
    let out = curl(&[
        "-w",
        "%{num_connects}\n",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        &echo.url("/a"),
        &echo.url("/b"),
    ]);
    assert_eq!(out.assert_success().stdout_str(), "1\n0\n");
    // Any method, raw over a socket, with keep-alive and exact Content-Length.
    let mut s = TcpStream::connect(("127.0.0.1", echo.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"FROB /m HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /n HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert_eq!(resp.matches("HTTP/1.1 200 OK").count(), 2, "{}", resp);
    assert!(
        resp.contains(r#""method": "FROB""#) && resp.contains(r#""body": "abc""#),
        "{}",
        resp
    );
    assert!(resp.contains(r#""path": "/n""#), "{}", resp);
    let pid = echo.pid();
    drop(echo);
    assert!(!pid_alive(pid), "echo server {} survives drop", pid);
}

// ---------------------------------------------------------------- fault server

#[test]
fn fault_server_truncations() {
    for (fault, expect) in [
        (Fault::CloseMidBody, 18),
        (Fault::TruncatedChunked, 18),
        (Fault::ContentLengthTooLong, 18),
        (Fault::CloseAfterHeaders, 18),
    ] {
        let fs = FaultServer::start(fault.clone());
        let out = curl(&["-o", "/dev/null", &fs.url("/x")]);
        assert_eq!(out.code, Some(expect), "{:?}: {:?}", fault, out);
        assert_eq!(fs.connections(), 1);
        assert!(
            fs.requests()[0].starts_with("GET /x HTTP/1.1\r\n"),
            "{:?}",
            fs.requests()
        );
    }
    let fs = FaultServer::start(Fault::CloseMidBody);
    let out = curl(&["-w", "%{size_download}", "-o", "/dev/null", &fs.url("/")]);
    assert_eq!(out.stdout_str(), "1000");
    let fs = FaultServer::start(Fault::ContentLengthTooLong);
    let out = curl(&["-w", "%{size_download}", "-o", "/dev/null", &fs.url("/")]);
    assert_eq!(out.stdout_str(), "50");
}

#[test]
fn fault_server_timeouts() {
    let fs = FaultServer::start(Fault::NeverAnswers);
    let t0 = Instant::now();
    let out = curl(&["-m", "1", &fs.url("/")]);
    assert_eq!(out.code, Some(28), "{:?}", out);
    assert!(t0.elapsed() < Duration::from_secs(5));
    // Dropping the server closes the held connection.
    let mut s = TcpStream::connect(("127.0.0.1", fs.port())).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    while fs.connections() < 2 {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(fs);
    let mut b = [0u8; 16];
    match s.read(&mut b) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected EOF after drop, got {:?}", other),
    }

    let fs = FaultServer::start(Fault::SlowBody(100));
    let out = curl(&[
        "-m",
        "2",
        "-w",
        "%{size_download}",
        "-o",
        "/dev/null",
        &fs.url("/"),
    ]);
    assert_eq!(out.code, Some(28), "{:?}", out);
    let got: u64 = out.stdout_str().parse().unwrap();
    assert!(
        (1..=3).contains(&got),
        "slow body delivered {} bytes in 2 s",
        got
    );
}

#[test]
fn fault_server_headers_redirects_keepalive_and_scripts() {
    let fs = FaultServer::start(Fault::HugeHeaders);
    let out = curl(&["-D", "-", &fs.url("/")]);
    let text = out.assert_success().stdout_str();
    assert!(
        text.len() >= HUGE_HEADERS_BYTES,
        "only {} bytes",
        text.len()
    );
    assert!(text.ends_with("ok"));
    assert!(text.matches("X-Filler-").count() > 1000);

    let fs = FaultServer::start(Fault::RedirectLoop);
    let out = curl(&["-L", "--max-redirs", "4", &fs.url("/again")]);
    assert_eq!(out.code, Some(47), "{:?}", out);
    assert_eq!(fs.requests().len(), 5);
    assert_eq!(fs.connections(), 1, "redirects must reuse the connection");

    let fs = FaultServer::start(Fault::Ok(b"fine".to_vec()));
    let out = curl(&[
        "-w",
        "%{num_connects}",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        &fs.url("/1"),
        &fs.url("/2"),
        &fs.url("/3"),
    ]);
    assert_eq!(out.assert_success().stdout_str(), "100");
    assert_eq!(fs.connections(), 1);
    let out = curl(&[&fs.url("/"), "-d", "posted body"]);
    assert_eq!(out.assert_success().stdout, b"fine");
    let out = curl(&[
        &fs.url("/"),
        "-H",
        "Transfer-Encoding: chunked",
        "-d",
        "chunked body",
    ]);
    assert_eq!(out.assert_success().stdout, b"fine");
    assert_eq!(fs.connections(), 3);

    let fs = FaultServer::start(Fault::Script(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc".to_vec(),
    ));
    let out = curl(&[&fs.url("/")]);
    assert_eq!(out.assert_success().stdout, b"abc");
    let fs = FaultServer::start(Fault::Script(b"garbage\r\n\r\n".to_vec()));
    let out = curl(&[&fs.url("/")]);
    assert!(!out.success(), "{:?}", out);
    let port = fs.port();
    drop(fs);
    assert!(
        !is_listening(("127.0.0.1", port)),
        "fault server still listens after drop"
    );
}
