//! Forced roaming end to end: a client namespace with two links (bnA preferred, bnB backup)
//! to a server namespace whose throttled HTTP server answers Range requests. The preferred
//! link loses its carrier mid-download; `boardnet get --roam` must resume through the other
//! one and finish with the right checksum.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::peers::*;

const T: Duration = Duration::from_secs(60);
const SERVER_ADDRESS: &str = TWO_LINKS_SERVER;

fn sha256_of(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path), T);
    assert!(out.success(), "{out:?}");
    out.stdout_str()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// What a roaming download run by [`roam_mid_download`] left behind.
struct Roamed {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The server's request log.
    log: String,
}

/// Two links from a client namespace to a throttled server; `download(client, dest, url,
/// sha256)` starts a roaming download of 4 MiB in the client namespace, and the preferred
/// link loses its carrier once 512 KiB arrived. Checks the file and that it was resumed
/// through the other link.
fn roam_mid_download(tag: &str, download: impl Fn(&Netns, &Path, &str, &str) -> Command) -> Roamed {
    let wd = WorkDir::new();
    let links = TwoLinks::new(tag);
    let (client, server) = (&links.client, &links.server);

    // 4 MiB of varied bytes: about 2.5 s at the server's pace.
    let image = wd.mkdir("www").join("fw.img");
    let bytes: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&image, &bytes).unwrap();
    let want = sha256_of(&image);
    let http = ThrottledServer::start(server, client, &wd.join("www"), SERVER_ADDRESS, 8080, 16384);

    let dest = wd.path().join("fw.img");
    let part = wd.path().join("fw.img.part");
    let url = format!("http://{SERVER_ADDRESS}:8080/fw.img");
    let mut get = download(client, &dest, &url, &want)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("boardnet");
    // Mid-download, the preferred link loses its carrier (its far end goes down).
    let deadline = Instant::now() + T;
    while std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) < 512 << 10 {
        assert!(Instant::now() < deadline, "the download never got going");
        assert!(get.try_wait().unwrap().is_none(), "boardnet ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.ip_ok(&["link", "set", "svA", "down"]);
    let out = get.wait_with_output().expect("the download's output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "the download failed: {stderr}");
    assert_eq!(sha256_of(&dest), want, "the resumed file differs");
    assert!(!part.exists(), "the .part file is gone once complete");
    let log = http.log();
    assert!(log.contains("GET from 10.80.0.2 at 0"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with("GET from 10.81.0.2 at ") && !l.ends_with(" at 0")),
        "no ranged request through bnB: {log}"
    );
    Roamed {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        log,
    }
}

#[test]
fn a_download_follows_the_preferred_bearer_and_resumes() {
    let roamed = roam_mid_download("rcl", |client, dest, url, sha256| {
        let mut get = client.boardnet();
        get.args(["get", "--roam", "-s", "--sha256", sha256, "-o"])
            .arg(dest)
            .arg(url);
        get
    });
    assert!(
        roamed.stderr.contains("moved from bnA to bnB"),
        "no migration reported: {}",
        roamed.stderr
    );
}

#[test]
fn the_library_roams_too() {
    // examples/download.rs: transfer::download with Roam::Follow, nothing of the CLI.
    let roamed = roam_mid_download("rlib", |client, dest, url, sha256| {
        let mut download = client.example("download");
        download
            .arg(url)
            .arg(dest)
            .args(["--sha256", sha256, "--roam"]);
        download
    });
    assert_eq!(roamed.code, Some(0));
    assert!(
        roamed.stdout.contains("through bnA then bnB"),
        "{} / {}",
        roamed.stdout,
        roamed.log
    );
}

#[test]
fn roam_needs_a_file_and_no_fixed_interface() {
    let out = run_boardnet(["get", "--roam", "http://127.0.0.1:9/x"], T);
    out.assert_code(2);
    assert!(
        out.stderr.contains("--roam needs -o FILE"),
        "{}",
        out.stderr
    );
    let out = run_boardnet(
        [
            "get",
            "--roam",
            "--interface",
            "eth0",
            "-o",
            "/tmp/x",
            "http://127.0.0.1:9/x",
        ],
        T,
    );
    out.assert_code(2);
    assert!(out.stderr.contains("drop --interface"), "{}", out.stderr);
}

#[test]
fn a_roaming_download_waits_for_a_bearer_bounded_by_the_connect_timeout() {
    let wd = WorkDir::new();
    let client = Netns::new("rwc");
    let server = Netns::new("rws");
    client.ip_ok(&[
        "link",
        "add",
        "bnA",
        "type",
        "veth",
        "peer",
        "name",
        "svA",
        "netns",
        server.name(),
    ]);
    client.ip_ok(&["addr", "add", "10.83.0.2/24", "dev", "bnA"]);
    server.ip_ok(&["addr", "add", "10.83.0.1/24", "dev", "svA"]);
    server.ip_ok(&["link", "set", "svA", "up"]);
    let www = wd.path().join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(www.join("fw.img"), b"firmware").unwrap();
    let _server = server.http_server("10.83.0.1", 8080, &www);
    let url = "http://10.83.0.1:8080/fw.img";
    let dest = wd.path().join("fw.img");

    // No link, no route: it waits for a bearer as long as the connect timeout, then exit 5.
    let started = Instant::now();
    let out = run(
        client
            .boardnet()
            .args(["get", "--roam", "--connect-timeout", "1", "-o"])
            .arg(&dest)
            .arg(url),
        T,
    );
    out.assert_code(5);
    assert!(out.stderr.contains("no bearer came up"), "{}", out.stderr);
    assert!(started.elapsed() >= Duration::from_secs(1));

    // The link comes up while it waits: the download goes through it.
    let get = client
        .boardnet()
        .args(["get", "--roam", "-s", "-o"])
        .arg(&dest)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("boardnet");
    std::thread::sleep(Duration::from_millis(500));
    client.ip_ok(&["link", "set", "bnA", "up"]);
    client.ip_ok(&["route", "add", "default", "via", "10.83.0.1", "dev", "bnA"]);
    let out = get.wait_with_output().expect("boardnet output");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"firmware");

    // A 404 on the roaming path keeps its body beside the destination with --keep-error-body,
    // as it does without --roam; nothing appears under the destination's name.
    let missing = wd.path().join("missing.img");
    let out = run(
        client
            .boardnet()
            .args(["get", "--roam", "--keep-error-body", "-s", "-o"])
            .arg(&missing)
            .arg("http://10.83.0.1:8080/missing.img"),
        T,
    );
    out.assert_code(8);
    assert!(!missing.exists());
    let kept = std::fs::read_to_string(wd.path().join("missing.img.error")).unwrap();
    assert!(kept.contains("404"), "{kept}");
}
