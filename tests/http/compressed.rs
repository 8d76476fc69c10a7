//! `--compressed` (curl) / `Request::decompress` (Qt decodes by default): gzip from nginx and
//! Apache (mod_deflate), gzip and zlib-wrapped deflate from httpbin; streamed in bounded
//! memory, checksums of the decoded bytes, a resume that asks for the file as it is, and a
//! decompression bomb refused.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::peers::*;

const T: Duration = Duration::from_secs(60);

fn s(p: &Path) -> &str {
    p.to_str().expect("non-UTF-8 test path")
}

/// Text that compresses well (a log), `n` bytes.
fn log_text(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 64);
    let mut i = 0u64;
    while out.len() < n {
        writeln!(
            out,
            "2026-12-06T12:00:{:02}Z boardnet[{}]: link up, {} bytes",
            i % 60,
            i % 977,
            i * 7919 % 100_003
        )
        .unwrap();
        i += 1;
    }
    out.truncate(n);
    out
}

#[test]
fn gzip_from_nginx_and_apache_is_decoded_and_verified() {
    let ng = Nginx::start();
    let apache = Apache::start(ng.pki());
    let text = log_text(8 << 20);
    ng.put_file("/log.txt", &text);
    apache.put_file("log.txt", &text);
    let digest = sha256_hex(&text);
    let dir = WorkDir::new();
    for (server, url) in [
        ("nginx", ng.http_url("/gzip/log.txt")),
        ("apache", apache.http_url("/deflate/log.txt")),
    ] {
        let dest = dir.join(format!("{server}.txt"));
        let out = run_boardnet(
            [
                "--json",
                "get",
                "--compressed",
                "--sha256",
                &digest,
                "-o",
                s(&dest),
                &url,
            ],
            T,
        );
        out.assert_success();
        let v = out.last_json_line();
        assert_eq!(v["headers"]["content-encoding"], "gzip", "{server}: {v}");
        assert_eq!(std::fs::read(&dest).unwrap(), text, "{server}");
        assert_eq!(v["sha256"], digest.as_str());
        // To stdout as well; and without --compressed nothing is asked or decoded.
        let out = run_boardnet(["get", "--compressed", &url], T);
        out.assert_success();
        assert!(out.stdout == text, "{server}: stdout decoded");
        let out = run_boardnet(["--json", "get", "-o", s(&dest), &url], T);
        out.assert_success();
        assert!(
            out.last_json_line()["headers"]["content-encoding"].is_null(),
            "{server}"
        );
    }
}

/// Streamed: 32 MiB decoded to a file in a fraction of that.
#[test]
fn decoding_streams_in_bounded_memory() {
    let ng = Nginx::start();
    ng.put_file("/log.txt", log_text(32 << 20));
    let dir = WorkDir::new();
    let dest = dir.join("measured.txt");
    let url = ng.http_url("/gzip/log.txt");
    let kib = peak_rss_kib(0, &["get", "--compressed", "-o", s(&dest), &url]);
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), 32 << 20);
    assert!(kib < 16 * 1024, "peak RSS {kib} KiB decoding 32 MiB");
}

#[test]
fn httpbin_gzip_and_deflate_and_a_resume_asks_for_identity() {
    let httpbin = Httpbin::start();
    for coding in ["gzip", "deflate"] {
        let out = run_boardnet(
            ["get", "--compressed", &httpbin.url(&format!("/{coding}"))],
            T,
        );
        out.assert_success();
        let body: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{coding}: not decoded JSON ({e}): {out:?}"));
        assert_eq!(
            body[if coding == "gzip" {
                "gzipped"
            } else {
                "deflated"
            }],
            true
        );
    }
    // A resume sends no Accept-Encoding: httpbin echoes the request's headers.
    let dir = WorkDir::new();
    let dest = dir.join("headers.json");
    std::fs::write(format!("{}.part", dest.display()), b"{").unwrap();
    let out = run_boardnet(
        [
            "get",
            "--compressed",
            "-C",
            "-",
            "-o",
            s(&dest),
            &httpbin.url("/headers"),
        ],
        T,
    );
    out.assert_success();
    let echoed = std::fs::read_to_string(&dest).unwrap();
    assert!(!echoed.contains("Accept-Encoding\": \"gzip"), "{echoed}");
}

#[test]
fn a_decompression_bomb_is_refused_and_nothing_is_committed() {
    let ng = Nginx::start();
    // 64 MiB of zeros: nginx's gzip (level 1) makes them a 229:1 body.
    ng.put_file("/zeros.bin", vec![0u8; 64 << 20]);
    let dir = WorkDir::new();
    let dest = dir.join("zeros.bin");
    let out = run_boardnet(
        [
            "get",
            "--compressed",
            "-o",
            s(&dest),
            &ng.http_url("/gzip/zeros.bin"),
        ],
        T,
    );
    out.assert_code(7);
    assert!(out.stderr.contains("decompression bomb"), "{out:?}");
    assert!(!dest.exists(), "a refused body never looks complete");
}
