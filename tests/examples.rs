//! The programs in examples/ are library users: each is run here against a real local peer
//! (nginx, pyftpdlib, nsd, a namespace of veth links) and must do what its doc says.

mod peers;

use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use peers::*;

const T: Duration = Duration::from_secs(30);

fn sha256_hex(data: &[u8]) -> String {
    let out = run_with_input(std::process::Command::new("sha256sum").arg("-"), data, T);
    assert!(out.success(), "{out:?}");
    out.stdout_str()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A server example started with `args`, once it printed `listening on ENDPOINT`.
struct Listening {
    child: KillOnDrop,
    endpoint: String,
}

fn start_server(name: &str, args: &[&str]) -> Listening {
    let child = spawn_one_at_a_time(
        example(name)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut child = KillOnDrop { child };
    let line = first_line(&mut child, START_TIMEOUT);
    let endpoint = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{name} said {line:?}"))
        .to_string();
    Listening { child, endpoint }
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "still running after {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn download_and_upload_over_http_and_ftp() {
    let nginx = Nginx::start();
    let image: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    nginx.put_file("fw.bin", &image);
    let wd = WorkDir::new();
    let dest = wd.path().join("fw.bin");
    let out = run(
        example("download")
            .arg(nginx.http_url("/fw.bin"))
            .arg(&dest)
            .args(["--sha256", &sha256_hex(&image)]),
        T,
    );
    out.assert_success();
    assert!(out.stdout_str().contains("saved 300000 bytes"), "{out:?}");
    assert!(out.stderr.contains("100% of 300000 bytes"), "{out:?}");
    assert_eq!(std::fs::read(&dest).unwrap(), image);

    // A wrong checksum: exit 10, nothing under the final name.
    let bad = wd.path().join("bad.bin");
    let out = run(
        example("download")
            .arg(nginx.http_url("/fw.bin"))
            .arg(&bad)
            .args(["--sha256", &"0".repeat(64)]),
        T,
    );
    out.assert_code(10);
    assert!(!bad.exists());

    let out = run(
        example("upload")
            .arg(&dest)
            .arg(nginx.http_url("/upload/fw-copy.bin")),
        T,
    );
    out.assert_success();
    assert_eq!(
        std::fs::read(nginx.upload_dir().join("fw-copy.bin")).unwrap(),
        image
    );

    let ftpd = PyFtpd::start(PyFtpdOpts::default());
    let up = run(example("upload").arg(&dest).arg(ftpd.url("up.bin")), T);
    up.assert_success();
    assert_eq!(std::fs::read(ftpd.root().join("up.bin")).unwrap(), image);
    let back = wd.path().join("back.bin");
    run(example("download").arg(ftpd.url("up.bin")).arg(&back), T).assert_success();
    assert_eq!(std::fs::read(&back).unwrap(), image);
}

#[test]
fn ftp_session_lists_and_fetches() {
    let ftpd = PyFtpd::start(PyFtpdOpts::default());
    std::fs::create_dir(ftpd.root().join("images")).unwrap();
    std::fs::write(ftpd.root().join("images/a.bin"), b"abc").unwrap();
    std::fs::create_dir(ftpd.root().join("images/old")).unwrap();
    let wd = WorkDir::new();
    let out = run(
        example("ftp_session")
            .arg(ftpd.url("images/"))
            .arg("a.bin")
            .current_dir(wd.path()),
        T,
    );
    out.assert_success();
    let text = out.stdout_str();
    assert!(text.contains("working directory /"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("file") && l.ends_with(" a.bin")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("directory") && l.ends_with(" old")),
        "{text}"
    );
    assert_eq!(std::fs::read(wd.path().join("a.bin")).unwrap(), b"abc");
}

#[test]
fn echo_server_echoes_over_tcp_and_unix() {
    let wd = WorkDir::new();
    let unix = format!("unix:{}", wd.path().join("echo.sock").display());
    for endpoint in ["tcp://127.0.0.1:0", unix.as_str()] {
        let mut server = start_server("echo_server", &[endpoint, "--clients", "1"]);
        let mut stream: Box<dyn ReadWrite> = match server.endpoint.strip_prefix("unix:") {
            Some(path) => Box::new(std::os::unix::net::UnixStream::connect(path).unwrap()),
            None => Box::new(
                std::net::TcpStream::connect(server.endpoint.trim_start_matches("tcp://")).unwrap(),
            ),
        };
        stream.write_all(b"hello, board\n").unwrap();
        stream.finish();
        let mut echoed = Vec::new();
        stream.read_to_end(&mut echoed).unwrap();
        assert_eq!(echoed, b"hello, board\n", "{endpoint}");
        assert_eq!(wait_exit(&mut server.child.child, T), Some(0));
    }
}

/// A connected stream we can half-close.
trait ReadWrite: Read + Write {
    fn finish(&mut self);
}

impl ReadWrite for std::net::TcpStream {
    fn finish(&mut self) {
        self.shutdown(std::net::Shutdown::Write).unwrap();
    }
}

impl ReadWrite for std::os::unix::net::UnixStream {
    fn finish(&mut self) {
        self.shutdown(std::net::Shutdown::Write).unwrap();
    }
}

#[test]
fn fortune_client_gets_a_fortune_from_fortune_server() {
    let mut server = start_server("fortune_server", &["tcp://127.0.0.1:0", "--clients", "2"]);
    let first = run(example("fortune_client").arg(&server.endpoint), T);
    first.assert_success();
    let second = run(example("fortune_client").arg(&server.endpoint), T);
    second.assert_success();
    assert!(first.stdout_str().contains("dog's life"), "{first:?}");
    assert!(second.stdout_str().contains("tomorrow"), "{second:?}");
    assert_eq!(wait_exit(&mut server.child.child, T), Some(0));
}

#[test]
fn local_ipc_reports_the_clients_credentials() {
    let out = run(&mut example("local_ipc"), T);
    out.assert_success();
    let text = out.stdout_str();
    assert!(text.starts_with("server says: hello from pid "), "{text}");
    assert!(text.contains(&format!(" uid {} ", euid())), "{text}");
}

#[test]
fn dns_lookup_gives_typed_records_and_host_info_the_system_view() {
    let nsd = Nsd::start();
    let server = format!("@{}", nsd.addr());
    let out = run(
        example("dns_lookup").args(["example.test", "MX", &server]),
        T,
    );
    out.assert_success();
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "mail exchanger mail.example.test. (preference 10)",
            "mail exchanger mail2.example.test. (preference 20)"
        ]
    );
    let out = run(
        example("dns_lookup").args(["_http._tcp.example.test", "SRV", &server]),
        T,
    );
    out.assert_success();
    assert!(
        out.stdout_str()
            .contains("service www.example.test.:8080 (priority 10, weight 60)"),
        "{out:?}"
    );
    let out = run(
        example("dns_lookup").args(["nosuch.example.test", "A", &server]),
        T,
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("nosuch.example.test"), "{out:?}");

    let out = run(example("host_info").args(["localhost", "127.0.0.1"]), T);
    out.assert_success();
    assert!(
        out.stdout_str()
            .lines()
            .all(|l| l.contains("127.0.0.1") || l.starts_with("  ")),
        "{out:?}"
    );
}

#[test]
fn bearer_watch_and_wait_online_in_a_namespace() {
    let lab = LinkLab::new("bexm");
    // Nothing but loopback: wait_online gives up after its timeout (exit 5).
    let out = run(lab.ns.example("wait_online").args(["--timeout", "1"]), T);
    out.assert_code(5);
    // A link comes up with a default route while wait_online waits.
    let mut waiting = spawn_one_at_a_time(
        lab.ns
            .example("wait_online")
            .args(["--timeout", "20"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    lab.active_pair("bn0", "bn1", "10.79.0.2/24");
    lab.default_route("bn0", "10.79.0.1", 100);
    let code = wait_exit(&mut waiting, T);
    let (mut said, mut logged) = (String::new(), String::new());
    waiting
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    waiting
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logged)
        .unwrap();
    assert_eq!(code, Some(0), "stdout: {said}\nstderr: {logged}");
    assert!(said.starts_with("site after "), "{said}\nstderr: {logged}");

    let out = run(lab.ns.example("bearer_watch").arg("--once"), T);
    out.assert_success();
    let text = out.stdout_str();
    assert!(
        text.lines()
            .any(|l| l.starts_with("netlink:bn0") && l.contains("active")),
        "{text}"
    );
    assert!(
        text.contains("preferred: netlink:bn0; reachability: site"),
        "{text}"
    );
}

#[test]
fn wifi_scan_says_clearly_when_there_is_no_wifi() {
    // The namespace has no wireless interface whatever the host has.
    let lab = LinkLab::new("bwifi");
    let out = run(&mut lab.ns.example("wifi_scan"), T);
    if out.code == Some(0) {
        return; // a host with Wi-Fi in every namespace (not seen): nothing to check
    }
    out.assert_code(11);
    // No nl80211 in this kernel, no wireless interface in the namespace, or (qemu-user) no
    // generic netlink at all: each is named.
    assert!(
        ["no wireless", "nl80211", "not supported"]
            .iter()
            .any(|cause| out.stderr.contains(cause)),
        "{out:?}"
    );
}
