//! Proxies (HTTP CONNECT, SOCKS5 with local and remote name resolution, credentials, refusals,
//! `--noproxy`, the environment) and `--interface`, through the test proxy peer.

use crate::peers::*;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

const T: Duration = Duration::from_secs(20);
const BODY: &[u8] = b"through the proxy";

fn s(p: &Path) -> &str {
    p.to_str().expect("non-UTF-8 test path")
}

/// The proxy's events of `kind`, parsed.
fn events(proxy: &ProxyServer, kind: &str) -> Vec<Value> {
    proxy
        .events_of(kind)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad event {:?}: {}", l, e)))
        .collect()
}

/// The single JSON result line of a `--json` run with one URL.
fn json_result(out: &RunOutput) -> Value {
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one JSON line:\n{:?}", out);
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({}):\n{:?}", e, out))
}

fn assert_json_error(out: &RunOutput, class: &str, code: i32, kind: &str) -> Value {
    out.assert_code(code);
    let v = json_result(out);
    assert_eq!(v["ok"], false, "{:?}", out);
    assert_eq!(v["error"]["class"], class, "{:?}", out);
    assert_eq!(v["error"]["code"], code, "{:?}", out);
    assert_eq!(v["error"]["kind"], kind, "{:?}", out);
    v
}

/// As curl and Qt do: http:// goes to the proxy as an absolute URL, https:// through CONNECT;
/// `--proxytunnel` tunnels http:// too.
#[test]
fn http_proxy_forwards_http_and_tunnels_https() {
    let ng = Nginx::start();
    let proxy = ProxyServer::start();
    let ca = ng.pki().ca_cert();

    let out = run_boardnet(
        ["get", "-x", &proxy.url("http"), &ng.http_url("/hello.txt")],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
    let out = run_boardnet(
        [
            "get",
            "--proxy",
            &proxy.url("http"),
            "--cacert",
            s(&ca),
            &ng.https_url("/hello.txt"),
        ],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
    // A proxy without a scheme is an HTTP proxy.
    let out = run_boardnet(
        [
            "get",
            "-x",
            &format!("127.0.0.1:{}", proxy.port()),
            &ng.http_url("/hello.txt"),
        ],
        T,
    );
    out.assert_success();

    let ev = events(&proxy, "http");
    let targets: Vec<(&str, &str, &str)> = ev
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
                e["result"].as_str().unwrap(),
            )
        })
        .collect();
    let http_target = ng.http_url("/hello.txt");
    let https_target = format!("127.0.0.1:{}", ng.https_port());
    assert_eq!(
        targets,
        vec![
            ("GET", http_target.as_str(), "ok"),
            ("CONNECT", https_target.as_str(), "ok"),
            ("GET", http_target.as_str(), "ok"),
        ],
        "proxy log:\n{}",
        proxy.stderr()
    );
    // nginx saw the requests (from the proxy's connections; this proxy relays the absolute
    // form as it is, which origin servers must accept).
    assert!(ng.access_log().matches("/hello.txt HTTP/1.1\"").count() >= 3);

    // --proxytunnel: http:// through CONNECT as well.
    let out = run_boardnet(
        [
            "get",
            "-p",
            "-x",
            &proxy.url("http"),
            &ng.http_url("/hello.txt"),
        ],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
    let last = events(&proxy, "http").pop().unwrap();
    assert_eq!(last["method"], "CONNECT", "{}", proxy.stderr());
}

#[test]
fn socks5_resolves_locally_and_socks5h_lets_the_proxy_resolve() {
    let ng = Nginx::start();
    let proxy = ProxyServer::start();
    let ca = ng.pki().ca_cert();

    let out = run_boardnet(
        [
            "get",
            "-x",
            &proxy.url("socks5"),
            &ng.http_url_localhost("/hello.txt"),
        ],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
    let out = run_boardnet(
        [
            "get",
            "-x",
            &proxy.url("socks5h"),
            &ng.http_url_localhost("/hello.txt"),
        ],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
    // TLS through a SOCKS tunnel, verified for the name in the URL.
    let out = run_boardnet(
        [
            "get",
            "-x",
            &proxy.url("socks5h"),
            "--cacert",
            s(&ca),
            &ng.https_url_localhost("/hello.txt"),
        ],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());

    let ev = events(&proxy, "socks5");
    assert_eq!(ev.len(), 3, "proxy log:\n{}", proxy.stderr());
    // socks5://: boardnet resolved localhost and sent the address.
    assert_eq!(ev[0]["atyp"], "ipv4", "{:?}", ev[0]);
    assert_eq!(ev[0]["host"], "127.0.0.1");
    assert_eq!(ev[0]["port"], ng.http_port());
    // socks5h://: the name went to the proxy.
    assert_eq!(ev[1]["atyp"], "domain", "{:?}", ev[1]);
    assert_eq!(ev[1]["host"], "localhost");
    assert_eq!(ev[1]["port"], ng.http_port());
    assert_eq!(ev[2]["atyp"], "domain", "{:?}", ev[2]);
    assert_eq!(ev[2]["port"], ng.https_port());
    assert!(ev
        .iter()
        .all(|e| e["result"] == "ok" && e["auth"] == "none"));
}

#[test]
fn socks5_credentials_from_the_proxy_url() {
    let target = FaultServer::start(Fault::Ok(BODY.to_vec()));
    let proxy = ProxyServer::start_with_auth("puser", "p4ss");
    let url = target.url("/x");

    let right = proxy.url_with_credentials("socks5", "puser", "p4ss");
    let out = run_boardnet(["get", "-x", &right, &url], T);
    out.assert_success();
    assert_eq!(out.stdout, BODY);

    let wrong = proxy.url_with_credentials("socks5h", "puser", "nope");
    let out = run_boardnet(["get", "-x", &wrong, &url], T);
    out.assert_code(8);
    assert!(
        out.stderr
            .contains("the proxy refused the user name and password given for it"),
        "{:?}",
        out
    );
    let out = run_boardnet(["get", "--json", "-x", &wrong, &url], T);
    assert_json_error(&out, "server-refused", 8, "ProxyAuthenticationRequired");

    // No credentials at all: the proxy accepts no method we offer.
    let out = run_boardnet(["get", "--json", "-x", &proxy.url("socks5"), &url], T);
    let v = assert_json_error(&out, "server-refused", 8, "ProxyAuthenticationRequired");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("requires authentication (give user:password in the proxy URL)"),
        "{:?}",
        out
    );

    let ev = events(&proxy, "socks5");
    let auths: Vec<&str> = ev.iter().map(|e| e["auth"].as_str().unwrap()).collect();
    assert_eq!(
        auths,
        ["ok", "failed", "failed", "missing"],
        "{}",
        proxy.stderr()
    );
    assert_eq!(
        target.requests().len(),
        1,
        "only the authenticated request got through"
    );
}

#[test]
fn http_proxy_credentials_from_the_proxy_url() {
    let target = FaultServer::start(Fault::Ok(BODY.to_vec()));
    let proxy = ProxyServer::start_with_auth("puser", "p4ss");
    let url = target.url("/x");

    let right = proxy.url_with_credentials("http", "puser", "p4ss");
    let out = run_boardnet(["get", "-x", &right, &url], T);
    out.assert_success();
    assert_eq!(out.stdout, BODY);

    let wrong = proxy.url_with_credentials("http", "puser", "nope");
    let out = run_boardnet(["get", "--json", "-x", &wrong, &url], T);
    assert_json_error(&out, "server-refused", 8, "ProxyAuthenticationRequired");
    let out = run_boardnet(["get", "-x", &proxy.url("http"), &url], T);
    out.assert_code(8);
    assert!(
        out.stderr
            .contains("HTTP 407: proxy authentication required"),
        "{:?}",
        out
    );
    // Through a CONNECT tunnel the same refusals are the proxy's, said as such.
    let out = run_boardnet(["get", "-p", "-x", &wrong, &url], T);
    out.assert_code(8);
    assert!(
        out.stderr
            .contains("the proxy refused the user name and password given for it"),
        "{:?}",
        out
    );
    let out = run_boardnet(["get", "-p", "-x", &right, &url], T);
    out.assert_success();
    assert_eq!(out.stdout, BODY);

    let ev = events(&proxy, "http");
    let seen: Vec<(&str, &str)> = ev
        .iter()
        .map(|e| (e["method"].as_str().unwrap(), e["auth"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("GET", "ok"),
            ("GET", "failed"),
            ("GET", "missing"),
            ("CONNECT", "failed"),
            ("CONNECT", "ok")
        ],
        "{}",
        proxy.stderr()
    );
    assert_eq!(target.requests().len(), 2);
}

#[test]
fn refused_proxy_is_proxy_connection_refused() {
    let port = free_port();
    let target = FaultServer::start(Fault::Ok(BODY.to_vec()));
    for scheme in ["http", "socks5", "socks5h"] {
        let proxy = format!("{}://127.0.0.1:{}", scheme, port);
        let out = run_boardnet(["get", "-x", &proxy, &target.url("/x")], T);
        out.assert_code(4);
        assert!(
            out.stderr
                .contains(&format!("proxy 127.0.0.1:{} refused the connection", port)),
            "{:?}",
            out
        );
        let out = run_boardnet(["get", "--json", "-x", &proxy, &target.url("/x")], T);
        assert_json_error(&out, "connection", 4, "ProxyConnectionRefused");
    }
    assert_eq!(target.connections(), 0);
}

#[test]
fn proxy_that_cannot_reach_the_target() {
    let proxy = ProxyServer::start();
    let url = refused_url();
    // SOCKS5 reply 5 (connection refused): the target refused, not the proxy.
    let out = run_boardnet(["get", "--json", "-x", &proxy.url("socks5"), &url], T);
    let v = assert_json_error(&out, "connection", 4, "ConnectionRefused");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("SOCKS"),
        "{:?}",
        out
    );
    // A forwarded request answered 502 by the proxy: a server's answer like any other.
    let out = run_boardnet(["get", "--json", "-x", &proxy.url("http"), &url], T);
    let v = assert_json_error(&out, "server-refused", 8, "UnknownServer");
    assert_eq!(v["status"], 502, "{:?}", out);
    // CONNECT answered 502: the proxy could not open the tunnel.
    let out = run_boardnet(["get", "--json", "-p", "-x", &proxy.url("http"), &url], T);
    let v = assert_json_error(&out, "connection", 4, "ProxyFailure");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("refused a tunnel") && message.contains("502"),
        "{:?}",
        out
    );
    assert!(!message.contains("502/502"), "{:?}", out);
    let refused: Vec<Value> = events(&proxy, "socks5")
        .into_iter()
        .chain(events(&proxy, "http"))
        .collect();
    assert_eq!(refused.len(), 3, "{}", proxy.stderr());
    assert!(
        refused.iter().all(|e| e["result"] == "refused"),
        "{:?}",
        refused
    );
}

#[test]
fn noproxy_bypasses_the_proxy() {
    let target = FaultServer::start(Fault::Ok(BODY.to_vec()));
    let proxy = ProxyServer::start();
    let get = |scheme: &str, noproxy: &str| {
        run_boardnet(
            [
                "get",
                "-x",
                &proxy.url(scheme),
                "--noproxy",
                noproxy,
                &target.url("/x"),
            ],
            T,
        )
    };
    for scheme in ["http", "socks5h"] {
        let out = get(scheme, "127.0.0.1");
        out.assert_success();
        assert_eq!(out.stdout, BODY);
    }
    assert_eq!(proxy.connections(), 0, "bypassed: {}", proxy.stderr());
    // A list that does not match: the proxy is used.
    let out = get("http", "example.invalid");
    out.assert_success();
    assert_eq!(proxy.connections(), 1, "{}", proxy.stderr());
    assert_eq!(target.requests().len(), 3);
    // A comma-separated list (as --help documents) with the target's host in it: bypassed.
    for scheme in ["http", "socks5h"] {
        let out = get(scheme, "example.invalid,127.0.0.1");
        out.assert_success();
        assert_eq!(out.stdout, BODY);
    }
    assert_eq!(
        proxy.connections(),
        1,
        "--noproxy example.invalid,127.0.0.1 must bypass the proxy for 127.0.0.1: {}",
        proxy.stderr()
    );
}

#[test]
fn environment_proxy_only_with_proxy_from_env() {
    let target = FaultServer::start(Fault::Ok(BODY.to_vec()));
    let proxy = ProxyServer::start();
    let url = target.url("/x");

    for var in ["http_proxy", "HTTPS_PROXY", "ALL_PROXY"] {
        let out = run(
            boardnet().env(var, proxy.url("http")).args(["get", &url]),
            T,
        );
        out.assert_success();
        assert_eq!(out.stdout, BODY);
    }
    assert_eq!(
        proxy.connections(),
        0,
        "environment proxies are ignored by default"
    );

    let out = run(
        boardnet()
            .env("http_proxy", proxy.url("http"))
            .args(["get", "--proxy-from-env", &url]),
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, BODY);
    let ev = events(&proxy, "http");
    assert_eq!(ev.len(), 1, "{}", proxy.stderr());
    assert_eq!(ev[0]["target"], url);

    // NO_PROXY from the environment applies too.
    let out = run(
        boardnet()
            .env("http_proxy", proxy.url("http"))
            .env("no_proxy", "127.0.0.1")
            .args(["get", "--proxy-from-env", &url]),
        T,
    );
    out.assert_success();
    assert_eq!(proxy.connections(), 1, "{}", proxy.stderr());
}

#[test]
fn interface_binding() {
    require_root_or_fail("--interface (SO_BINDTODEVICE)");
    let target = FaultServer::start(Fault::Ok(BODY.to_vec()));
    let out = run_boardnet(["get", "--interface", "lo", &target.url("/x")], T);
    out.assert_success();
    assert_eq!(out.stdout, BODY);

    // An interface that does not exist is bad input, named (it was exit 4, "network error").
    let out = run_boardnet(["get", "--interface", "nosuch0", &target.url("/x")], T);
    out.assert_code(2);
    assert!(
        out.stderr.contains("no interface named \"nosuch0\""),
        "{:?}",
        out
    );
    let out = run_boardnet(
        ["get", "--json", "--interface", "nosuch0", &target.url("/x")],
        T,
    );
    out.assert_code(2);
    assert_eq!(json_result(&out)["error"]["class"], "usage");
    assert_eq!(target.requests().len(), 1, "only the lo request arrived");
}

/// Plain http:// through real forward proxies in their packaged configuration — squid allows
/// CONNECT to port 443 only, so the tunnel boardnet used to open for every URL got 403 and
/// each download failed as a "proxy failure" (a 404 behind it too). Requests go in absolute
/// form now; a 404 is a 404; https:// to a port squid will not tunnel to says so.
#[test]
fn standard_proxies_forward_plain_http() {
    let ng = Nginx::start();
    let squid = Squid::start();
    let tinyproxy = Tinyproxy::start();
    for proxy in [squid.url(None), tinyproxy.url()] {
        let out = run_boardnet(["get", "-x", &proxy, &ng.http_url("/hello.txt")], T);
        out.assert_success();
        assert_eq!(out.stdout, HELLO.as_bytes(), "{proxy}");
        let out = run_boardnet(
            ["get", "--json", "-x", &proxy, &ng.http_url("/nope.txt")],
            T,
        );
        let v = assert_json_error(&out, "server-refused", 8, "ContentNotFound");
        assert_eq!(v["status"], 404);
        // Several requests over one kept-alive connection to the proxy, and a body.
        let out = run_boardnet(
            [
                "get",
                "-x",
                &proxy,
                &ng.http_url("/hello.txt"),
                &ng.http_url("/hello.txt"),
            ],
            T,
        );
        out.assert_success();
        assert_eq!(out.stdout, [HELLO.as_bytes(), HELLO.as_bytes()].concat());
        let out = run_boardnet(
            [
                "post",
                "-d",
                "reading=21.5",
                "-x",
                &proxy,
                &ng.http_url("/echo/post"),
            ],
            T,
        );
        out.assert_success();
        let echo: Value = serde_json::from_slice(&out.stdout).expect("echo JSON");
        assert_eq!(
            (echo["method"].as_str(), echo["body"].as_str()),
            (Some("POST"), Some("reading=21.5"))
        );
    }
    let log = squid.access_log();
    let absolute = format!("GET {}", ng.http_url("/hello.txt"));
    assert!(log.matches(&absolute).count() >= 3, "{log}");
    assert!(!log.contains("CONNECT"), "{log}");
    assert!(tinyproxy.log().contains(&absolute), "{}", tinyproxy.log());

    // https:// to a port other than 443: squid refuses the tunnel, and the message says so
    // once (it was "proxy server responded 403/403").
    let ca = ng.pki().ca_cert();
    for args in [
        vec!["get", "--cacert", s(&ca), "-x", &squid.url(None)],
        vec!["get", "-p", "-x", &squid.url(None)],
    ] {
        let url = if args.contains(&"-p") {
            ng.http_url("/hello.txt")
        } else {
            ng.https_url("/hello.txt")
        };
        let out = run_boardnet(args.iter().copied().chain([url.as_str()]), T);
        out.assert_code(4);
        for needle in ["refused a tunnel", "403 Forbidden", "port 443"] {
            assert!(out.stderr.contains(needle), "{needle}: {:?}", out);
        }
        assert!(!out.stderr.contains("403/403"), "{:?}", out);
    }
}

/// Digest authentication to a proxy (RFC 7616, 407 + Proxy-Authenticate), against squid's
/// digest_file_auth: absolute-form requests and CONNECT tunnels, the nonce reused for the next
/// request, wrong passwords and Basic-only clients refused.
#[test]
fn squid_digest_proxy_authentication() {
    let ng = Nginx::start();
    let squid = Squid::start_with_digest(SquidDigest {
        user: "board",
        password: "s3cret",
        connect_port: ng.https_port(),
    });
    let right = squid.url(Some(("board", "s3cret")));
    let wrong = squid.url(Some(("board", "nope")));
    let hello = ng.http_url("/hello.txt");
    for policy in ["--proxy-digest", "--proxy-anyauth"] {
        let out = run_boardnet(["get", policy, "-x", &right, &hello, &hello], T);
        out.assert_success();
        assert_eq!(
            out.stdout,
            [HELLO.as_bytes(), HELLO.as_bytes()].concat(),
            "{policy}"
        );
    }
    let ca = ng.pki().ca_cert();
    let out = run_boardnet(
        [
            "get",
            "--proxy-digest",
            "--cacert",
            s(&ca),
            "-x",
            &right,
            &ng.https_url("/hello.txt"),
        ],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
    // Wrong password: 407 again after the answer.
    let out = run_boardnet(["get", "--json", "--proxy-digest", "-x", &wrong, &hello], T);
    assert_json_error(&out, "server-refused", 8, "ProxyAuthenticationRequired");
    let out = run_boardnet(
        [
            "get",
            "--proxy-digest",
            "--cacert",
            s(&ca),
            "-x",
            &wrong,
            &ng.https_url("/hello.txt"),
        ],
        T,
    );
    out.assert_code(8);
    assert!(
        out.stderr.contains("refused the user name and password"),
        "{:?}",
        out
    );
    // Basic (the default) is not what squid asks for here.
    let out = run_boardnet(["get", "-x", &right, &hello], T);
    out.assert_code(8);
    let log = squid.access_log();
    let authenticated = log
        .lines()
        .filter(|l| l.contains(" board ") && l.contains("/200 "))
        .count();
    assert_eq!(authenticated, 5, "{log}");
}
