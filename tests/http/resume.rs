//! Resuming a `.part` safely: the version of the file it holds is kept beside it
//! (`FILE.part.meta`) and sent as `If-Range`, so a file that changed on the server starts over
//! instead of being spliced; a `.part` that already holds the whole file is confirmed and
//! committed even where the 416 carries no `Content-Range` (Apache, lighttpd). Against nginx,
//! Apache and lighttpd.

use crate::peers::*;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;

const T: Duration = Duration::from_secs(30);
const SIZE: usize = 2 << 20;

fn s(p: &Path) -> &str {
    p.to_str().expect("non-UTF-8 test path")
}

fn part_of(file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.part", file.display()))
}

fn meta_of(file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.part.meta", file.display()))
}

/// A server under test: how to put a file and the URLs it is served at.
pub(crate) struct Server {
    pub(crate) name: &'static str,
    www: PathBuf,
    base: String,
}

impl Server {
    pub(crate) fn put(&self, name: &str, data: &[u8], age: Duration) {
        let path = self.www.join(name);
        std::fs::write(&path, data).unwrap();
        // Distinct modification times make distinct ETags and Last-Modified dates.
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(SystemTime::now() - age).unwrap();
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// nginx, Apache and lighttpd, each with `www` and its `/slow/` location.
pub(crate) fn servers(ng: &Nginx, apache: &Apache, lighttpd: &Lighttpd) -> Vec<Server> {
    vec![
        Server {
            name: "nginx",
            www: ng.www_dir(),
            base: ng.http_url(""),
        },
        Server {
            name: "apache",
            www: apache.www_dir(),
            base: apache.http_url(""),
        },
        Server {
            name: "lighttpd",
            www: lighttpd.www_dir(),
            base: lighttpd.http_url(""),
        },
    ]
}

/// Start a download from the rate-limited location and cut it after a second: a `.part`
/// (with its validator) and no file.
fn interrupted(server: &Server, name: &str, dest: &Path) -> u64 {
    let out = run_boardnet(
        [
            "get",
            "-m",
            "1",
            "-o",
            s(dest),
            &server.url(&format!("/slow/{name}")),
        ],
        T,
    );
    out.assert_code(5);
    assert!(
        !dest.exists(),
        "{}: a cut download must not look complete",
        server.name
    );
    let have = std::fs::metadata(part_of(dest)).unwrap().len();
    assert!(have > 0 && have < SIZE as u64, "{}: {have}", server.name);
    assert!(
        meta_of(dest).exists(),
        "{}: no validator beside the .part",
        server.name
    );
    have
}

/// The first line of a server's access log that `matches`, waiting for it (lighttpd writes
/// its log once a second).
fn logged(log: &dyn Fn() -> String, matches: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = log();
        if let Some(line) = text.lines().find(|l| matches(l)) {
            return line.to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not in the log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn json(out: &RunOutput) -> Value {
    let line = out.stdout_str();
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {:?}", out))
}

/// The file changed on the server between the cut and the resume: the server sees the old
/// validator in `If-Range`, sends the new file whole, and the `.part` starts over — the
/// result is the new file, not the old file's head with the new file's tail.
#[test]
fn a_file_that_changed_on_the_server_starts_over_instead_of_splicing() {
    let ng = Nginx::start();
    let apache = Apache::start(ng.pki());
    let lighttpd = Lighttpd::start();
    let old = pseudo_random(SIZE, 11);
    let new = pseudo_random(SIZE, 12);
    let dir = WorkDir::new();
    for server in servers(&ng, &apache, &lighttpd) {
        let dest = dir.join(format!("{}.bin", server.name));
        server.put("fw.bin", &old, Duration::from_secs(3600));
        interrupted(&server, "fw.bin", &dest);
        server.put("fw.bin", &new, Duration::ZERO);
        let out = run_boardnet(
            [
                "get",
                "--json",
                "-C",
                "-",
                "-o",
                s(&dest),
                &server.url("/fw.bin"),
            ],
            T,
        );
        out.assert_success();
        assert!(
            std::fs::read(&dest).unwrap() == new,
            "{}: spliced file",
            server.name
        );
        assert!(
            out.stderr.contains("the file changed on the server"),
            "{}: {:?}",
            server.name,
            out
        );
        let v = json(&out);
        assert_eq!(v["status"], 200, "{}", server.name);
        assert_eq!(v["resumed_from"], 0, "{}", server.name);
        assert!(v["notices"][0]
            .as_str()
            .unwrap()
            .contains("starting again from byte 0"));
        assert!(
            !part_of(&dest).exists() && !meta_of(&dest).exists(),
            "{}",
            server.name
        );
    }
    // The resume carried Range and the old validator in If-Range (Apache and lighttpd log
    // both as the last two fields; "-" when absent).
    let logs: [&dyn Fn() -> String; 2] = [&|| apache.access_log(), &|| lighttpd.access_log()];
    for log in logs {
        let resume = logged(log, |l| {
            l.contains("GET /fw.bin ") && l.contains("\"bytes=")
        });
        assert!(!resume.ends_with("\"-\""), "no If-Range: {resume}");
    }
}

/// The same file, unchanged: the resume is a 206 from where the `.part` ends, verified by
/// `If-Range`, and nothing is said about it.
#[test]
fn an_unchanged_file_resumes_with_if_range() {
    let ng = Nginx::start();
    let apache = Apache::start(ng.pki());
    let lighttpd = Lighttpd::start();
    let data = pseudo_random(SIZE, 21);
    let dir = WorkDir::new();
    for server in servers(&ng, &apache, &lighttpd) {
        let dest = dir.join(format!("{}.bin", server.name));
        server.put("same.bin", &data, Duration::from_secs(3600));
        let have = interrupted(&server, "same.bin", &dest);
        let out = run_boardnet(
            [
                "get",
                "--json",
                "-C",
                "-",
                "--sha256",
                &sha256_hex(&data),
                "-o",
                s(&dest),
                &server.url("/same.bin"),
            ],
            T,
        );
        out.assert_success();
        let v = json(&out);
        assert_eq!(
            (v["status"].as_u64(), v["resumed_from"].as_u64()),
            (Some(206), Some(have)),
            "{}",
            server.name
        );
        assert_eq!(v["notices"], serde_json::json!([]), "{}", server.name);
        assert!(std::fs::read(&dest).unwrap() == data, "{}", server.name);
    }
    // The validator went out as If-Range (Apache and lighttpd log it).
    let logs: [&dyn Fn() -> String; 2] = [&|| apache.access_log(), &|| lighttpd.access_log()];
    for log in logs {
        let resumed = logged(log, |l| l.contains("GET /same.bin ") && l.contains(" 206 "));
        assert!(!resumed.ends_with("\"-\""), "no If-Range: {resumed}");
    }
}

/// A `.part` that already holds the whole file: the server answers 416 (Apache and lighttpd
/// without `Content-Range`), a HEAD confirms length and version, and the file is committed —
/// it used to exit 7. With a SHA-256 it is verified too; a changed file of the same length is
/// fetched again.
#[test]
fn a_complete_part_is_committed_after_a_416() {
    let ng = Nginx::start();
    let apache = Apache::start(ng.pki());
    let lighttpd = Lighttpd::start();
    let data = pseudo_random(SIZE, 31);
    let other = pseudo_random(SIZE, 32);
    let dir = WorkDir::new();
    for server in servers(&ng, &apache, &lighttpd) {
        server.put("done.bin", &data, Duration::from_secs(3600));
        // Made by hand: no validator, so the completion is by length (and said unverified).
        let dest = dir.join(format!("{}-hand.bin", server.name));
        write_file(&part_of(&dest), &data);
        let out = run_boardnet(
            [
                "get",
                "-C",
                "-",
                "--sha256",
                &sha256_hex(&data),
                "-o",
                s(&dest),
                &server.url("/done.bin"),
            ],
            T,
        );
        out.assert_success();
        assert!(
            out.stderr.contains("already complete"),
            "{}: {:?}",
            server.name,
            out
        );
        assert!(std::fs::read(&dest).unwrap() == data);
        // Started by boardnet and finished by hand: the validator matches, committed.
        let dest = dir.join(format!("{}-cut.bin", server.name));
        let have = interrupted(&server, "done.bin", &dest) as usize;
        let mut rest = std::fs::OpenOptions::new()
            .append(true)
            .open(part_of(&dest))
            .unwrap();
        std::io::Write::write_all(&mut rest, &data[have..]).unwrap();
        drop(rest);
        let out = run_boardnet(
            ["get", "-C", "-", "-o", s(&dest), &server.url("/done.bin")],
            T,
        );
        out.assert_success();
        assert!(
            out.stderr.contains("already complete"),
            "{}: {:?}",
            server.name,
            out
        );
        assert!(
            !out.stderr.contains("unverified"),
            "{}: {:?}",
            server.name,
            out
        );
        assert!(std::fs::read(&dest).unwrap() == data);
        // The same, but the server's file changed (same length, new version): fetched again.
        let dest = dir.join(format!("{}-changed.bin", server.name));
        let have = interrupted(&server, "done.bin", &dest) as usize;
        let mut rest = std::fs::OpenOptions::new()
            .append(true)
            .open(part_of(&dest))
            .unwrap();
        std::io::Write::write_all(&mut rest, &data[have..]).unwrap();
        drop(rest);
        server.put("done.bin", &other, Duration::ZERO);
        let out = run_boardnet(
            ["get", "-C", "-", "-o", s(&dest), &server.url("/done.bin")],
            T,
        );
        out.assert_success();
        assert!(
            out.stderr.contains("the file changed on the server"),
            "{}: {:?}",
            server.name,
            out
        );
        assert!(std::fs::read(&dest).unwrap() == other, "{}", server.name);
        server.put("done.bin", &data, Duration::from_secs(3600));
    }
}

/// A `.part` nothing is recorded for (no `.part.meta`): the resume goes ahead but says it is
/// unverified.
#[test]
fn a_resume_without_a_validator_is_called_unverified() {
    let ng = Nginx::start();
    let data = pseudo_random(SIZE, 41);
    ng.put_file("plain.bin", &data);
    let dir = WorkDir::new();
    let dest = dir.join("plain.bin");
    write_file(&part_of(&dest), &data[..1000]);
    let out = run_boardnet(
        [
            "get",
            "--json",
            "-C",
            "-",
            "-o",
            s(&dest),
            &ng.http_url("/plain.bin"),
        ],
        T,
    );
    out.assert_success();
    assert!(
        out.stderr.contains("resuming at byte 1000 unverified"),
        "{:?}",
        out
    );
    assert_eq!(json(&out)["resumed_from"], 1000);
    assert!(std::fs::read(&dest).unwrap() == data);
}

/// A server that ignores Range (httpbin's /bytes) sends the whole file to `-C -`: the `.part`
/// starts over and that is said on stderr without -v (it was silent), and the file is the
/// server's, not 100 old bytes followed by the whole file.
#[test]
fn a_server_that_ignores_range_restarts_the_part_and_says_so() {
    let httpbin = Httpbin::start();
    let url = httpbin.url("/bytes/4096?seed=7");
    let dir = WorkDir::new();
    let dest = dir.join("blob.bin");
    let whole = run_boardnet(["get", &url], T);
    whole.assert_success();
    std::fs::write(part_of(&dest), vec![b'x'; 100]).unwrap();
    let out = run_boardnet(["get", "-C", "-", "-o", s(&dest), &url], T);
    out.assert_success();
    assert!(out.stderr.contains("it ignored the range"), "{out:?}");
    assert!(
        out.stderr
            .contains("100 bytes downloaded before are discarded"),
        "{out:?}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), whole.stdout);
}
