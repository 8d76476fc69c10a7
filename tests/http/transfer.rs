//! Methods, headers, bodies, uploads, downloads, redirects, cookies and resume.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::peers::*;

const T: Duration = Duration::from_secs(30);

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// The JSON result lines of a `--json` run.
fn results(out: &RunOutput) -> Vec<Value> {
    out.stdout_str()
        .lines()
        .map(|l| json(l.as_bytes()))
        .collect()
}

/// A received header's value from the echo server's reply.
fn echo_header<'a>(echo: &'a Value, name: &str) -> Option<&'a str> {
    echo["headers"]
        .as_array()?
        .iter()
        .find(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .and_then(|h| h[1].as_str())
}

#[test]
fn get_to_stdout_and_head() {
    let nginx = Nginx::start();
    let out = run_boardnet(["get", &nginx.http_url("/hello.txt")], T);
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());

    let out = run_boardnet(["head", &nginx.http_url("/hello.txt")], T);
    out.assert_success();
    let text = out.stdout_str();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.contains(&format!("content-length: {}\r\n", HELLO.len())),
        "{text}"
    );
    assert!(
        !text.contains("hello world"),
        "HEAD must not print a body: {text}"
    );

    // -I is head, -i prints the head before the body.
    let out = run_boardnet(["get", "-I", &nginx.http_url("/hello.txt")], T);
    out.assert_success();
    assert!(out.stdout_str().starts_with("HTTP/1.1 200"));
    let out = run_boardnet(["get", "-i", &nginx.http_url("/hello.txt")], T);
    out.assert_success();
    assert!(
        out.stdout_str().starts_with("HTTP/1.1 200 OK\r\n"),
        "the reason phrase is kept"
    );
    assert!(out.stdout_str().ends_with(&format!("\r\n\r\n{HELLO}")));
}

#[test]
fn several_urls_reuse_one_keep_alive_connection() {
    let server = FaultServer::start(Fault::Ok(b"0123456789".to_vec()));
    let urls: Vec<String> = (0..5).map(|i| server.url(&format!("/r{i}"))).collect();
    let mut args = vec!["get".to_string()];
    args.extend(urls);
    let out = run_boardnet(&args, T);
    out.assert_success();
    assert_eq!(out.stdout, b"0123456789".repeat(5));
    assert_eq!(server.requests().len(), 5);
    assert_eq!(
        server.connections(),
        1,
        "all five requests on one connection"
    );
}

#[test]
fn json_result_object_per_request() {
    let nginx = Nginx::start();
    let out = run_boardnet(
        [
            "get",
            "--json",
            "-o",
            "/dev/null",
            &nginx.http_url("/hello.txt"),
            &nginx.http_url("/status/404"),
        ],
        T,
    );
    out.assert_code(8);
    let r = results(&out);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["ok"], true);
    assert_eq!(r[0]["status"], 200);
    assert_eq!(r[0]["bytes"], HELLO.len());
    assert_eq!(r[0]["headers"]["content-length"], HELLO.len().to_string());
    for key in ["dns", "connect", "tls", "first_byte", "total"] {
        assert!(r[0]["timings"][key].is_number(), "timings.{key}");
    }
    assert!(
        r[0]["timings"]["total"].as_f64().unwrap()
            >= r[0]["timings"]["first_byte"].as_f64().unwrap()
    );
    assert_eq!(r[1]["ok"], false);
    assert_eq!(r[1]["status"], 404);
    assert_eq!(r[1]["error"]["code"], 8);
    assert_eq!(r[1]["error"]["class"], "server-refused");
    assert_eq!(r[1]["error"]["kind"], "ContentNotFound");
}

#[test]
fn post_form_data_query_and_headers() {
    let echo = EchoServer::start();
    let out = run_boardnet(
        [
            "post",
            "-d",
            "a=1",
            "-d",
            "b=2",
            "--data-urlencode",
            "msg=hello world&more",
            "--query",
            "q=a b/c",
            "-H",
            "X-Board: rpi4",
            "-H",
            "X-Empty;",
            "-A",
            "fw-agent/2",
            "-e",
            "http://ref.example/",
            &echo.url("/submit"),
        ],
        T,
    );
    out.assert_success();
    let e = json(&out.stdout);
    assert_eq!(e["method"], "POST");
    assert_eq!(e["path"], "/submit");
    assert_eq!(e["query"], "q=a%20b%2Fc");
    assert_eq!(e["body"], "a=1&b=2&msg=hello%20world%26more");
    assert_eq!(
        echo_header(&e, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(echo_header(&e, "x-board"), Some("rpi4"));
    assert_eq!(echo_header(&e, "x-empty"), Some(""));
    assert_eq!(echo_header(&e, "user-agent"), Some("fw-agent/2"));
    assert_eq!(echo_header(&e, "referer"), Some("http://ref.example/"));

    // With get, -d goes into the query (curl -G).
    let out = run_boardnet(["get", "-d", "x=1", "-d", "y=%20", &echo.url("/q?k=v")], T);
    out.assert_success();
    let e = json(&out.stdout);
    assert_eq!(e["method"], "GET");
    assert_eq!(e["query"], "k=v&x=1&y=%20");
    assert_eq!(e["body_len"], 0);

    // An explicit content type wins; default user agent names boardnet.
    let out = run_boardnet(
        [
            "post",
            "--content-type",
            "application/json",
            "-d",
            "{\"a\":1}",
            &echo.url("/j"),
        ],
        T,
    );
    out.assert_success();
    let e = json(&out.stdout);
    assert_eq!(echo_header(&e, "content-type"), Some("application/json"));
    assert!(echo_header(&e, "user-agent")
        .unwrap()
        .starts_with("boardnet/"));
    assert_eq!(e["body"], "{\"a\":1}");
}

#[test]
fn data_from_files_and_stdin() {
    let echo = EchoServer::start();
    let dir = WorkDir::new();
    let file = dir.write("form.txt", "a=1\r\nb=2\n");
    let at = format!("@{}", file.display());
    // -d @file drops newlines (curl), --data-binary keeps them.
    let out = run_boardnet(["post", "-d", &at, &echo.url("/")], T);
    out.assert_success();
    assert_eq!(json(&out.stdout)["body"], "a=1b=2");
    let out = run_boardnet(["post", "--data-binary", &at, &echo.url("/")], T);
    out.assert_success();
    assert_eq!(json(&out.stdout)["body"], "a=1\r\nb=2\n");
    let out = run_with_input(
        boardnet().args(["post", "-d", "@-", &echo.url("/")]),
        b"from stdin",
        T,
    );
    out.assert_success();
    assert_eq!(json(&out.stdout)["body"], "from stdin");
}

#[test]
fn basic_auth_from_flag_and_url() {
    let nginx = Nginx::start();
    let url = nginx.http_url("/auth/secret.txt");
    let out = run_boardnet(
        ["get", "-u", &format!("{AUTH_USER}:{AUTH_PASSWORD}"), &url],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout, SECRET.as_bytes());

    let with_creds = url.replacen(
        "http://",
        &format!("http://{AUTH_USER}:{AUTH_PASSWORD}@"),
        1,
    );
    let out = run_boardnet(["get", &with_creds], T);
    out.assert_success();
    assert_eq!(out.stdout, SECRET.as_bytes());

    let out = run_boardnet(["get", "-u", "user:wrong", &url], T);
    out.assert_code(8);
    assert!(out.stderr.contains("HTTP 401"), "{}", out.stderr);
    assert!(
        out.stdout.is_empty(),
        "no error body without --keep-error-body"
    );
}

#[test]
fn multipart_form_streams_file_parts() {
    let echo = EchoServer::start();
    let dir = WorkDir::new();
    let data = pseudo_random(5 << 20, 1);
    let file = dir.write("fw.bin", &data);
    let out = run_boardnet(
        [
            "post",
            "-F",
            "version=1.2.3",
            "-F",
            &format!(
                "image=@{};type=application/x-fw;filename=fw-1.2.3.bin",
                file.display()
            ),
            &echo.url("/upload"),
        ],
        T,
    );
    out.assert_success();
    let e = json(&out.stdout);
    assert!(echo_header(&e, "content-type")
        .unwrap()
        .starts_with("multipart/form-data; boundary="));
    assert!(
        echo_header(&e, "content-length").is_some(),
        "multipart is sent with a length"
    );
    let parts = e["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["name"], "version");
    assert_eq!(parts[0]["text"], "1.2.3");
    assert_eq!(parts[1]["name"], "image");
    assert_eq!(parts[1]["filename"], "fw-1.2.3.bin");
    assert_eq!(parts[1]["content_type"], "application/x-fw");
    assert_eq!(parts[1]["len"], data.len());
    assert_eq!(parts[1]["sha256"], sha256_hex(&data));
}

#[test]
fn put_upload_delete_and_custom_verbs() {
    let nginx = Nginx::start();
    let dir = WorkDir::new();
    let data = pseudo_random(3 << 20, 1);
    let file = dir.write("up.bin", &data);
    let url = nginx.http_url("/upload/dir/up.bin");
    let out = run_boardnet(["put", "-T", file.to_str().unwrap(), &url], T);
    out.assert_success();
    let stored = nginx.upload_dir().join("dir/up.bin");
    assert_eq!(std::fs::read(&stored).unwrap(), data);

    // From stdin: sent chunked.
    let echo = nginx.echo();
    let out = run_with_input(
        boardnet().args(["put", "-T", "-", &echo.url("/in")]),
        &data,
        T,
    );
    out.assert_success();
    let e = json(&out.stdout);
    assert_eq!(e["method"], "PUT");
    assert_eq!(e["chunked"], true);
    assert_eq!(e["body_sha256"], sha256_hex(&data));

    let out = run_boardnet(["delete", &url], T);
    out.assert_success();
    assert!(!stored.exists(), "DELETE removed the file");

    let out = run_boardnet(
        ["request", "PROPFIND", "-H", "Depth: 1", &echo.url("/dav/")],
        T,
    );
    out.assert_success();
    let e = json(&out.stdout);
    assert_eq!(e["method"], "PROPFIND");
    assert_eq!(echo_header(&e, "depth"), Some("1"));
    let out = run_boardnet(["request", "PATCH", "-d", "x=y", &echo.url("/p")], T);
    out.assert_success();
    let e = json(&out.stdout);
    assert_eq!(
        (e["method"].as_str(), e["body"].as_str()),
        (Some("PATCH"), Some("x=y"))
    );
}

#[test]
fn download_to_file_is_atomic_and_named_from_url() {
    let nginx = Nginx::start();
    let data = pseudo_random(40 << 20, 1);
    nginx.put_file("fw/image-2.bin", &data);
    let dir = WorkDir::new();
    let dest = dir.join("image.bin");
    let sha = sha256_hex(&data);
    let out = run_boardnet(
        [
            "get",
            "--json",
            "--sha256",
            &sha,
            "-o",
            dest.to_str().unwrap(),
            &nginx.http_url("/fw/image-2.bin"),
        ],
        T,
    );
    out.assert_success();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert!(!dir.join("image.bin.part").exists());
    let r = &results(&out)[0];
    assert_eq!(r["sha256"], sha);
    assert_eq!(r["bytes"], data.len());
    assert_eq!(r["path"], dest.display().to_string());

    let out = run(
        boardnet()
            .current_dir(dir.path())
            .args(["get", "-O", &nginx.http_url("/fw/image-2.bin")]),
        T,
    );
    out.assert_success();
    assert_eq!(std::fs::read(dir.join("image-2.bin")).unwrap(), data);

    // "-o -" is stdout.
    let out = run_boardnet(["get", "-o", "-", &nginx.http_url("/hello.txt")], T);
    out.assert_success();
    assert_eq!(out.stdout, HELLO.as_bytes());
    assert!(!Path::new("-").exists() && !Path::new("-.part").exists());

    let out = run(
        boardnet()
            .current_dir(dir.path())
            .args(["get", "-O", &nginx.http_url("/fw/")]),
        T,
    );
    out.assert_code(2);
    assert!(out.stderr.contains("use -o FILE"), "{}", out.stderr);
}

#[test]
fn resume_continues_the_part_file_with_range() {
    let nginx = Nginx::start();
    let data = pseudo_random(8 << 20, 1);
    nginx.put_file("big.bin", &data);
    let dir = WorkDir::new();
    let dest = dir.join("big.bin");
    let have = 3_000_000;
    write_file(&dir.join("big.bin.part"), &data[..have]);
    let out = run_boardnet(
        [
            "get",
            "--json",
            "-C",
            "-",
            "--sha256",
            &sha256_hex(&data),
            "-o",
            dest.to_str().unwrap(),
            &nginx.http_url("/big.bin"),
        ],
        T,
    );
    out.assert_success();
    let r = &results(&out)[0];
    assert_eq!(r["status"], 206);
    assert_eq!(r["resumed_from"], have);
    assert_eq!(r["bytes"], data.len() - have);
    assert_eq!(std::fs::read(&dest).unwrap(), data);

    // A .part that is already complete: the server answers 416 and the file is committed.
    write_file(&dir.join("again.bin.part"), &data);
    let again = dir.join("again.bin");
    let out = run_boardnet(
        [
            "get",
            "-C",
            "-",
            "-o",
            again.to_str().unwrap(),
            &nginx.http_url("/big.bin"),
        ],
        T,
    );
    out.assert_success();
    assert_eq!(std::fs::read(&again).unwrap(), data);

    // Without -C - a leftover .part is replaced, not appended to.
    write_file(&dir.join("fresh.bin.part"), b"garbage");
    let fresh = dir.join("fresh.bin");
    run_boardnet(
        [
            "get",
            "-o",
            fresh.to_str().unwrap(),
            &nginx.http_url("/hello.txt"),
        ],
        T,
    )
    .assert_success();
    assert_eq!(std::fs::read(&fresh).unwrap(), HELLO.as_bytes());
}

#[test]
fn redirects_follow_and_guard_credentials() {
    let nginx = Nginx::start();
    let out = run_boardnet(["get", "--json", &nginx.http_url("/redirect")], T);
    out.assert_success();
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    // Body first (stdout), then the result line.
    assert_eq!(lines[0], HELLO.trim_end());
    let r = json(lines[1].as_bytes());
    assert_eq!(r["effective_url"], nginx.http_url("/hello.txt"));
    assert_eq!(r["redirects"][0], nginx.http_url("/redirect"));

    let out = run_boardnet(
        ["get", "--no-follow", "-i", &nginx.http_url("/redirect")],
        T,
    );
    out.assert_success();
    assert!(
        out.stdout_str().starts_with("HTTP/1.1 302 Found\r\n"),
        "{}",
        out.stdout_str()
    );

    // To another host name: Authorization and -H cookies are dropped...
    let out = run_boardnet(
        [
            "get",
            "-u",
            "u:p",
            "-H",
            "Cookie: c=1",
            &nginx.http_url("/redirect-other-host"),
        ],
        T,
    );
    out.assert_success();
    let e = json(&out.stdout);
    assert_eq!(echo_header(&e, "authorization"), None);
    assert_eq!(echo_header(&e, "cookie"), None);
    // ...unless trusted.
    let out = run_boardnet(
        [
            "get",
            "--location-trusted",
            "-u",
            "u:p",
            &nginx.http_url("/redirect-other-host"),
        ],
        T,
    );
    out.assert_success();
    assert_eq!(
        echo_header(&json(&out.stdout), "authorization"),
        Some("Basic dTpw")
    );
}

/// A one-shot server answering every request with `status` and a Location to the echo server.
fn redirector(status: u16, to: &str) -> FaultServer {
    FaultServer::start(Fault::Script(
        format!("HTTP/1.1 {status} Moved\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .into_bytes(),
    ))
}

#[test]
fn redirect_methods_follow_curl() {
    let echo = EchoServer::start();
    // 303 (and 301/302) turn POST into GET without the body.
    let r = redirector(303, &echo.url("/after"));
    let out = run_boardnet(["post", "-d", "a=1", &r.url("/form")], T);
    out.assert_success();
    let e = json(&out.stdout);
    assert_eq!(
        (e["method"].as_str(), e["body_len"].as_u64()),
        (Some("GET"), Some(0))
    );
    assert_eq!(echo_header(&e, "content-type"), None);
    // 307 keeps the method and resends the body.
    let r = redirector(307, &echo.url("/after"));
    let out = run_boardnet(["post", "-d", "a=1", &r.url("/form")], T);
    out.assert_success();
    let e = json(&out.stdout);
    assert_eq!(
        (e["method"].as_str(), e["body"].as_str()),
        (Some("POST"), Some("a=1"))
    );
    // ...which a one-shot stdin body cannot do.
    let r = redirector(308, &echo.url("/after"));
    let out = run_with_input(
        boardnet().args(["put", "-T", "-", &r.url("/up")]),
        b"once",
        T,
    );
    out.assert_code(7);
    assert!(out.stderr.contains("one-time stream"), "{}", out.stderr);
}

#[test]
fn cookies_jar_in_process_and_files() {
    let nginx = Nginx::start();
    // Set in the first request, sent in the second: one process, in-memory jar.
    let out = run_boardnet(
        [
            "get",
            &nginx.http_url("/set-cookie"),
            &nginx.http_url("/cookie-check"),
        ],
        T,
    );
    out.assert_success();
    assert!(
        out.stdout_str().contains("session=abc123"),
        "{}",
        out.stdout_str()
    );

    let dir = WorkDir::new();
    let jar = dir.join("cookies.txt");
    run_boardnet(
        [
            "get",
            "-c",
            jar.to_str().unwrap(),
            &nginx.http_url("/set-cookie"),
        ],
        T,
    )
    .assert_success();
    let saved = std::fs::read_to_string(&jar).unwrap();
    assert!(saved.starts_with("# Netscape HTTP Cookie File"), "{saved}");
    assert!(saved.contains("\tsession\tabc123"), "{saved}");

    let out = run_boardnet(
        [
            "get",
            "-b",
            jar.to_str().unwrap(),
            &nginx.http_url("/cookie-check"),
        ],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout_str().trim(), "session=abc123");

    let out = run_boardnet(
        ["get", "-b", "a=1; b=2", &nginx.http_url("/cookie-check")],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout_str().trim(), "a=1; b=2");

    // A jar file written by curl loads too.
    let curl_jar = dir.join("curl.txt");
    let out = run(
        std::process::Command::new("curl").args([
            "-q",
            "-s",
            "-c",
            curl_jar.to_str().unwrap(),
            &nginx.http_url("/set-cookie"),
        ]),
        T,
    );
    out.assert_success();
    let out = run_boardnet(
        [
            "get",
            "-b",
            curl_jar.to_str().unwrap(),
            &nginx.http_url("/cookie-check"),
        ],
        T,
    );
    out.assert_success();
    assert_eq!(out.stdout_str().trim(), "session=abc123");
}

#[test]
fn progress_json_events_are_throttled_and_end_done() {
    let server = FaultServer::start(Fault::SlowBody(3));
    let dir = WorkDir::new();
    let dest = dir.join("slow.bin");
    let out = run_boardnet(
        [
            "get",
            "--progress",
            "json",
            "-o",
            dest.to_str().unwrap(),
            &server.url("/slow"),
        ],
        T,
    );
    out.assert_success();
    let events: Vec<Value> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| json(l.as_bytes()))
        .collect();
    assert!(!events.is_empty(), "{}", out.stderr);
    for e in &events {
        assert_eq!(e["event"], "progress");
        assert_eq!(e["direction"], "download");
        assert_eq!(e["total"], 3);
    }
    let last = events.last().unwrap();
    assert_eq!(
        (last["bytes"].as_u64(), last["done"].as_bool()),
        (Some(3), Some(true))
    );
    let per_sec = events.len() as f64 / out.elapsed.as_secs_f64();
    assert!(
        per_sec <= 11.0,
        "{} events in {:?}",
        events.len(),
        out.elapsed
    );
}

#[test]
fn upload_progress_json() {
    let echo = EchoServer::start();
    let dir = WorkDir::new();
    let file = dir.write("up.bin", pseudo_random(1 << 20, 1));
    let out = run_boardnet(
        [
            "put",
            "--progress",
            "json",
            "-T",
            file.to_str().unwrap(),
            &echo.url("/u"),
        ],
        T,
    );
    out.assert_success();
    let last = out
        .stderr
        .lines()
        .rfind(|l| l.contains("\"upload\""))
        .map(|l| json(l.as_bytes()))
        .expect("upload progress events");
    assert_eq!(last["bytes"], 1 << 20);
    assert_eq!(last["total"], 1 << 20);
    assert_eq!(last["done"], true);
}

#[test]
fn ipv6_loopback() {
    let nginx = Nginx::start();
    if !nginx.has_ipv6() {
        panic!("this machine has no ::1; the IPv6 test cannot run");
    }
    let out = run_boardnet(
        [
            "get",
            "--json",
            "-6",
            "-o",
            "/dev/null",
            &nginx.http_url_v6("/hello.txt"),
        ],
        T,
    );
    out.assert_success();
    assert_eq!(
        results(&out)[0]["remote"],
        format!("[::1]:{}", nginx.http_port())
    );
    // -4 with an IPv6 literal cannot work and says why.
    let out = run_boardnet(["get", "-4", &nginx.http_url_v6("/hello.txt")], T);
    out.assert_code(3);
}

#[test]
fn bad_input_exits_2_before_any_transfer() {
    for (args, needle) in [
        (vec!["get"], "no URL"),
        (vec!["get", "ftp-nope://x/"], "unsupported"),
        (vec!["frobnicate"], "unknown command"),
        (
            vec!["get", "--max-redirs", "many", "http://127.0.0.1:1/"],
            "not a valid number",
        ),
    ] {
        let out = run_boardnet(&args, T);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
        out.assert_code(2);
    }
    let out = run_boardnet(["get", "http://exa mple/"], T);
    out.assert_code(2);
    assert!(out.stderr.contains("malformed URL"), "{}", out.stderr);
}

/// A port that is not 1-65535 is a usage error wherever a URL or server is given — it once
/// became port 80 (`http://h:70000/` fetched from port 80 and exited 0).
#[test]
fn url_ports_out_of_range_are_usage_errors_everywhere() {
    let big = "18446744073709551696"; // 2^64 + 80
    for args in [
        vec!["get".to_string(), "http://127.0.0.1:70000/".into()],
        vec!["get".into(), "http://127.0.0.1:65536/".into()],
        vec!["get".into(), "http://127.0.0.1:abc/".into()],
        vec!["get".into(), format!("http://127.0.0.1:{big}/")],
        vec!["head".into(), "https://localhost:99999/".into()],
        vec![
            "get".into(),
            "-x".into(),
            "http://127.0.0.1:70000".into(),
            "http://127.0.0.1:1/".into(),
        ],
        vec!["get".into(), "ftp://127.0.0.1:70000/f".into()],
        vec![
            "ftp".into(),
            format!("ftp://127.0.0.1:{big}/"),
            "pwd".into(),
        ],
        vec![
            "dns".into(),
            "-s".into(),
            "127.0.0.1:70000".into(),
            "example.test".into(),
        ],
    ] {
        let out = run_boardnet(&args, T);
        out.assert_code(2);
        assert!(
            out.stderr.contains("1 to 65535"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("--help"), "{args:?}: {}", out.stderr);
    }
    let out = run_boardnet(["get", "http://::1:8080/"], T);
    out.assert_code(2);
    assert!(
        out.stderr.contains("IPv6 addresses in brackets"),
        "{}",
        out.stderr
    );
}

#[test]
fn help_for_every_http_command() {
    for cmd in ["get", "head", "post", "put", "delete", "request"] {
        let out = run_boardnet([cmd, "--help"], T);
        out.assert_success();
        assert!(out.stdout_str().contains("--continue-at"), "{cmd}");
    }
    let out = run_boardnet(["--version"], T);
    out.assert_success();
    assert!(
        out.stdout_str().starts_with("boardnet "),
        "{}",
        out.stdout_str()
    );
}

#[test]
fn bodies_stream_with_bounded_memory() {
    let nginx = Nginx::start();
    let echo = nginx.echo();
    let dir = WorkDir::new();
    let data = pseudo_random(100 << 20, 1);
    let file = dir.write("big.bin", &data);
    nginx.put_file("big.bin", &data);
    drop(data);
    let file = file.to_str().unwrap();
    let dest = dir.join("down.bin");
    // 100 MiB through each path; holding it in memory anywhere would show as > 100 MiB.
    for args in [
        vec![
            "post",
            "-s",
            "-F",
            &format!("f=@{file}"),
            &echo.url("/form"),
        ],
        vec!["put", "-s", "-T", file, &echo.url("/put")],
        vec![
            "get",
            "-s",
            "-o",
            dest.to_str().unwrap(),
            &nginx.http_url("/big.bin"),
        ],
    ] {
        let kib = peak_rss_kib(0, &args);
        assert!(kib < 16 * 1024, "{args:?}: peak RSS {kib} KiB");
    }
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), 100 << 20);
}

#[test]
fn progress_bar_only_on_a_terminal() {
    let nginx = Nginx::start();
    nginx.put_file("p.bin", pseudo_random(4 << 20, 1));
    let dir = WorkDir::new();
    let dest = dir.join("p.bin");
    // script(1) gives boardnet a pseudo-terminal: the meter draws and ends its line.
    let cmd = format!(
        "{} get -o {} {}",
        boardnet_shell(),
        dest.display(),
        nginx.http_url("/p.bin")
    );
    let out = run(
        std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]),
        T,
    );
    out.assert_success();
    let tty = out.stdout_str();
    assert!(tty.contains("4.0 MiB / 4.0 MiB 100.0%"), "{tty:?}");
    // Without a terminal on stderr: nothing.
    let out = run_boardnet(
        [
            "get",
            "-o",
            dest.to_str().unwrap(),
            &nginx.http_url("/p.bin"),
        ],
        T,
    );
    out.assert_success();
    assert!(out.stderr.is_empty(), "{:?}", out.stderr);
}
