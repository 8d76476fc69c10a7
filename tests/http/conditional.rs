//! Conditional requests as a board polling for updates over metered LTE uses them: `-z
//! FILE|DATE` (If-Modified-Since / If-Unmodified-Since) and `--etag-save`/`--etag-compare`
//! (If-None-Match), against nginx, Apache and lighttpd. A 304 leaves the destination as it is.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::peers::*;
use crate::resume::servers;

const T: Duration = Duration::from_secs(30);

fn s(p: &Path) -> &str {
    p.to_str().expect("non-UTF-8 test path")
}

#[test]
fn an_unchanged_file_is_not_fetched_again_and_a_changed_one_is() {
    let ng = Nginx::start();
    let apache = Apache::start(ng.pki());
    let lighttpd = Lighttpd::start();
    let dir = WorkDir::new();
    for server in servers(&ng, &apache, &lighttpd) {
        let name = server.name;
        let dest = dir.join(format!("{name}.img"));
        let etag = dir.join(format!("{name}.etag"));
        let url = server.url("/fw.bin");
        server.put("fw.bin", b"version 1", Duration::from_secs(3600));
        let poll = |extra: &[&str]| {
            let mut args = vec!["--json", "get", "-o", s(&dest)];
            args.extend_from_slice(extra);
            args.push(&url);
            run_boardnet(&args, T)
        };
        let by_etag = ["--etag-compare", s(&etag), "--etag-save", s(&etag)];

        // First poll: no ETag yet, so nothing is compared; the file and its ETag are saved.
        let out = poll(&by_etag);
        out.assert_success();
        assert_eq!(std::fs::read(&dest).unwrap(), b"version 1", "{name}");
        let last_modified = out.last_json_line()["headers"]["last-modified"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no Last-Modified: {out:?}"))
            .to_string();
        let saved = std::fs::read_to_string(&etag).unwrap();
        assert!(
            saved.starts_with('"') || saved.starts_with("W/\""),
            "{name}: {saved:?}"
        );
        let written = std::fs::metadata(&dest).unwrap().modified().unwrap();

        // Unchanged: 304, exit 0, said on stderr and in JSON, the file untouched.
        let out = poll(&by_etag);
        out.assert_success();
        let v = out.last_json_line();
        assert_eq!(
            (v["status"].as_u64(), v["not_modified"].as_bool()),
            (Some(304), Some(true))
        );
        assert!(out.stderr.contains("not modified"), "{name}: {out:?}");
        assert_eq!(std::fs::read(&dest).unwrap(), b"version 1");
        assert_eq!(
            std::fs::metadata(&dest).unwrap().modified().unwrap(),
            written
        );
        assert!(
            !dir.join(format!("{name}.img.part")).exists(),
            "{name}: no .part"
        );
        // The same by time, with the date the server gave (nginx answers 304 only to its own
        // Last-Modified exactly: its default `if_modified_since exact`).
        let out = poll(&["-z", &last_modified]);
        out.assert_success();
        assert_eq!(out.last_json_line()["status"], 304, "{name}: -z DATE");

        // Changed on the server: fetched, and the new ETag saved.
        server.put("fw.bin", b"version 2!", Duration::ZERO);
        let out = poll(&by_etag);
        out.assert_success();
        assert_eq!(out.last_json_line()["status"], 200, "{name}");
        assert_eq!(std::fs::read(&dest).unwrap(), b"version 2!");
        assert_ne!(
            std::fs::read_to_string(&etag).unwrap(),
            saved,
            "{name}: the new ETag"
        );
        // -z with a date before the change: fetched; -z -DATE (unmodified since): 412.
        let out = poll(&["-z", "Sun, 06 Nov 1994 08:49:37 GMT"]);
        out.assert_success();
        assert_eq!(out.last_json_line()["not_modified"], false);
        if name == "lighttpd" {
            continue; // lighttpd 1.4 does not implement If-Unmodified-Since.
        }
        let out = poll(&["-z", "-Sun, 06 Nov 1994 08:49:37 GMT"]);
        out.assert_code(8);
        assert_eq!(out.last_json_line()["status"], 412, "{name}");
        assert_eq!(
            std::fs::read(&dest).unwrap(),
            b"version 2!",
            "a 412 writes nothing"
        );
    }
}

#[test]
fn not_modified_to_stdout_prints_nothing_and_bad_conditions_are_usage_errors() {
    let ng = Nginx::start();
    let served = ng.put_file("/cfg.json", b"{}");
    // -z FILE: a local file as old as the served one (nginx wants the exact time).
    let dir = WorkDir::new();
    let stamp = dir.write("stamp", "");
    let mtime: SystemTime = std::fs::metadata(&served).unwrap().modified().unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stamp)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let out = run_boardnet(["get", "-z", s(&stamp), &ng.http_url("/cfg.json")], T);
    out.assert_success();
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        out.stderr.contains("not modified (304): no body"),
        "{out:?}"
    );
    let out = run_boardnet(["get", "-z", "not a date", &ng.http_url("/cfg.json")], T);
    out.assert_code(2);
    assert!(out.stderr.contains("neither a file nor a date"), "{out:?}");
}
