//! The FTP capability against real peers: vsftpd (a test user; plain, explicit and implicit
//! FTPS with the test CA), pyftpdlib (scripted misbehaviour), and a server that stops
//! answering — all on 127.0.0.1 with free ports.

#[path = "../peers/mod.rs"]
mod peers;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use peers::*;

const T: Duration = Duration::from_secs(60);

fn json_lines(out: &RunOutput) -> Vec<Value> {
    out.stdout_str()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn part_of(p: &Path) -> std::path::PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".part");
    s.into()
}

/// Nothing that looks like a complete file, and no leftover `.part` either.
fn assert_no_file(p: &Path) {
    assert!(!p.exists(), "{} must not exist", p.display());
    assert!(
        !part_of(p).exists(),
        "{} must not exist",
        part_of(p).display()
    );
}

#[test]
fn large_file_both_ways_over_plain_and_explicit_tls_with_sha256() {
    let pki = Pki::new();
    let server = Vsftpd::start(&pki, false);
    let data = pseudo_random(24 << 20, 1);
    server.put_file("fw.bin", &data);
    let dir = WorkDir::named("ftp-integrity");
    let ca = pki.ca_cert();
    for (tls, name) in [(false, "plain"), (true, "tls")] {
        let tls_args: Vec<&str> = if tls {
            vec!["--ftp-ssl", "--cacert", ca.to_str().unwrap()]
        } else {
            vec![]
        };
        // Download, verified.
        let dest = dir.join(format!("{name}.bin"));
        let out = run(
            boardnet()
                .args(["get", "--sha256", &sha256_hex(&data), "-o"])
                .arg(&dest)
                .args(&tls_args)
                .arg(server.url("ftp", "fw.bin")),
            T,
        );
        out.assert_success();
        assert!(
            std::fs::read(&dest).unwrap() == data,
            "{name}: downloaded bytes differ"
        );
        assert!(!part_of(&dest).exists());
        // Upload it back under another name; the server's copy must be identical.
        let remote = format!("up-{name}.bin");
        let out = run(
            boardnet()
                .args(["put", "-T"])
                .arg(&dest)
                .args(&tls_args)
                .arg(server.url("ftp", &remote)),
            T,
        );
        out.assert_success();
        let back = std::fs::read(server.home().join(&remote)).unwrap();
        assert_eq!(
            sha256_hex(&back),
            sha256_hex(&data),
            "{name}: uploaded bytes differ"
        );
    }
    // The TLS runs really were TLS: vsftpd logs the protected data connections.
    let log = server.log();
    assert!(log.contains("PROT P"), "no PROT P in vsftpd's log:\n{log}");
}

#[test]
fn implicit_ftps_url_and_wrong_ca() {
    let pki = Pki::new();
    let server = Vsftpd::start(&pki, true);
    server.put_file("a.txt", b"implicit tls\n");
    let dir = WorkDir::named("ftp-implicit");
    let dest = dir.join("a.txt");
    let out = run(
        boardnet()
            .args(["get", "--cacert"])
            .arg(pki.ca_cert())
            .arg("-o")
            .arg(&dest)
            .arg(server.url("ftps", "a.txt")),
        T,
    );
    out.assert_success();
    assert_eq!(std::fs::read(&dest).unwrap(), b"implicit tls\n");
    // The wrong CA, and the system store (which does not know the test CA): exit 6, named.
    let dest = dir.join("b.txt");
    let out = run(
        boardnet()
            .args(["get", "--cacert"])
            .arg(pki.other_ca_cert())
            .arg("-o")
            .arg(&dest)
            .arg(server.url("ftps", "a.txt")),
        T,
    );
    out.assert_code(6);
    assert!(out.stderr.contains("issuer"), "{}", out.stderr);
    assert_no_file(&dest);
    let out = run_boardnet(["ftp", &server.url("ftps", ""), "ls"], T);
    out.assert_code(6);
    // -k only when asked.
    let out = run_boardnet(["ftp", "-k", &server.url("ftps", ""), "ls"], T);
    out.assert_success();
    assert!(out.stdout_str().lines().any(|l| l == "a.txt"), "{out:?}");
}

#[test]
fn explicit_ftps_refuses_the_wrong_ca_before_sending_the_password() {
    let pki = Pki::new();
    let server = Vsftpd::start(&pki, false);
    let out = run(
        boardnet()
            .args(["ftp", "--ftp-ssl", "--cacert"])
            .arg(pki.other_ca_cert())
            .args([&server.url("ftp", ""), "pwd"]),
        T,
    );
    out.assert_code(6);
    assert!(
        !server.log().contains("PASS"),
        "password sent before TLS was verified"
    );
    // With the right CA the session works, and ls parses vsftpd's LIST output.
    server.put_file("fw image.bin", &pseudo_random(1000, 2));
    let out = run(
        boardnet()
            .args(["--json", "ftp", "--ftp-ssl", "--cacert"])
            .arg(pki.ca_cert())
            .args([&server.url("ftp", ""), "ls", "-l"]),
        T,
    );
    out.assert_success();
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[0]["code"], 226);
    let entries = lines[0]["entries"].as_array().unwrap();
    let e = entries
        .iter()
        .find(|e| e["name"] == "fw image.bin")
        .unwrap_or_else(|| panic!("{entries:?}"));
    assert_eq!(e["type"], "file");
    assert_eq!(e["size"], 1000);
    assert!(e["modified"].as_str().unwrap().starts_with("20"), "{e}");
}

#[test]
fn session_script_runs_every_command_and_cd_carries() {
    let server = PyFtpd::start(PyFtpdOpts::default());
    std::fs::create_dir(server.root().join("pub")).unwrap();
    std::fs::write(server.root().join("pub/readme.txt"), b"read me\n").unwrap();
    let dir = WorkDir::named("ftp-session");
    let local = dir.write("local.bin", pseudo_random(300_000, 3));
    let got = dir.join("got.txt");
    let script = format!(
        "# set-up script\npwd\ncd pub\npwd\nls\nsize readme.txt\nmdtm readme.txt\n\
         get readme.txt {got}\nput {local} \"up load.bin\"\nrename \"up load.bin\" moved.bin\n\
         mkdir new\ncd new\ncd ..\nrmdir new\nls -l\nrm moved.bin\nquit\npwd\n",
        got = got.display(),
        local = local.display()
    );
    let out = run_with_input(
        boardnet().args(["ftp", &server.url("")]),
        script.as_bytes(),
        T,
    );
    out.assert_success();
    let stdout = out.stdout_str();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "/");
    assert_eq!(lines[1], "/pub");
    assert_eq!(lines[2], "readme.txt");
    assert_eq!(lines[3], "8");
    assert!(
        lines[4].ends_with('Z') && lines[4].len() == 20,
        "{}",
        lines[4]
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("- ") && l.contains("300000") && l.ends_with(" moved.bin")),
        "{stdout}"
    );
    assert_eq!(std::fs::read(&got).unwrap(), b"read me\n");
    assert!(!server.root().join("pub/moved.bin").exists());
    assert!(!server.root().join("pub/new").exists());
    // Every command reported with the server's code; nothing after quit ran.
    assert!(
        out.stderr.contains("[2] cd pub: done (250"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("[8] put "), "{}", out.stderr);
    assert!(out.stderr.contains("done (226"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("[17]"),
        "ran past quit: {}",
        out.stderr
    );
}

#[test]
fn a_failing_command_stops_the_script_unless_keep_going() {
    let server = PyFtpd::start(PyFtpdOpts::default());
    std::fs::write(server.root().join("here.txt"), b"x").unwrap();
    let script = "size here.txt\nrm missing.txt\nsize here.txt\n";
    let out = run_with_input(
        boardnet().args(["--json", "ftp", &server.url("")]),
        script.as_bytes(),
        T,
    );
    out.assert_code(8);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "stopped at the failure: {lines:?}");
    assert_eq!(lines[0]["size"], 1);
    assert_eq!(lines[1]["ok"], false);
    assert_eq!(lines[1]["code"], 550);
    assert_eq!(lines[1]["error"]["class"], "server-refused");
    let out = run_with_input(
        boardnet().args(["--json", "ftp", "--keep-going", &server.url("")]),
        script.as_bytes(),
        T,
    );
    out.assert_code(8);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[2]["ok"], true);
    assert_eq!(lines[2]["id"], 3);
    // A bad command line is a usage error naming it.
    let out = run_boardnet(["ftp", &server.url(""), "frobnicate", "x"], T);
    out.assert_code(2);
    assert!(
        out.stderr.contains("unknown command \"frobnicate\""),
        "{}",
        out.stderr
    );
    let out = run_boardnet(["ftp", &server.url(""), "rename", "onlyone"], T);
    out.assert_code(2);
    assert!(
        out.stderr.contains("usage: rename FROM TO"),
        "{}",
        out.stderr
    );
}

#[test]
fn mlsd_listing_as_json_and_list_fallback() {
    let mut server = PyFtpd::start(PyFtpdOpts::default());
    std::fs::write(server.root().join("a b.bin"), pseudo_random(1234, 4)).unwrap();
    std::fs::create_dir(server.root().join("sub")).unwrap();
    for no_mlsd in [false, true] {
        if no_mlsd {
            server.restart(PyFtpdOpts {
                no_mlsd: true,
                ..Default::default()
            });
        }
        let out = run_boardnet(["--json", "ftp", &server.url(""), "ls"], T);
        out.assert_success();
        let v = &json_lines(&out)[0];
        let entries = v["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "no . or ..: {entries:?}");
        let f = entries.iter().find(|e| e["name"] == "a b.bin").unwrap();
        assert_eq!(
            (f["type"].as_str(), f["size"].as_u64()),
            (Some("file"), Some(1234))
        );
        let d = entries.iter().find(|e| e["name"] == "sub").unwrap();
        assert_eq!(d["type"], "directory");
        // MLSD times are UTC to the second; LIST times are the server's, to the minute.
        let modified = f["modified"].as_str().unwrap();
        assert_eq!(modified.ends_with('Z'), !no_mlsd, "{modified}");
    }
}

/// `--json ls` prints its one line entry by entry: a directory of 20,000 files peaks as one of
/// 500 does (the listing was collected first: 3.75 GB for 2,000,000 entries), and the line is
/// still one JSON object with every entry and the server's reply.
#[test]
fn json_listings_stream_with_bounded_memory() {
    let server = PyFtpd::start(PyFtpdOpts::default());
    let listing = |n: usize| {
        let dir = server.root().join(format!("d{n}"));
        std::fs::create_dir(&dir).unwrap();
        for i in 0..n {
            std::fs::File::create(dir.join(format!("file-{i:06}.bin"))).unwrap();
        }
        let url = server.url("");
        let path = format!("d{n}");
        let kib = peak_rss_kib(0, &["--json", "ftp", &url, "ls", &path]);
        let out = run_boardnet(["--json", "ftp", &url, "ls", &path], T);
        out.assert_success();
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 1, "one line per command");
        assert_eq!(lines[0]["entries"].as_array().map(Vec::len), Some(n));
        assert_eq!(
            (lines[0]["ok"].as_bool(), lines[0]["code"].as_u64()),
            (Some(true), Some(226))
        );
        kib
    };
    let small = listing(500);
    let large = listing(20_000);
    assert!(
        large < small + 2048,
        "20,000 entries: {large} KiB peak, 500: {small} KiB"
    );
}

/// Start downloading `name` from a throttled server and kill the server after 1 MiB: a
/// `.part` (with its SIZE/MDTM validator) and no file. Returns the bytes in the `.part`.
fn cut_download(server: &mut PyFtpd, name: &str, dest: &Path) -> u64 {
    let mut child = boardnet()
        .args(["get", "-o"])
        .arg(dest)
        .arg(server.url(name))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::metadata(part_of(dest)).map_or(0, |m| m.len()) < 1 << 20 {
        assert!(started.elapsed() < T, "download did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(4), "{stderr}");
    assert!(!dest.exists(), "a cut download must not look complete");
    let meta = std::path::PathBuf::from(format!("{}.part.meta", dest.display()));
    assert!(meta.exists(), "no validator beside the .part");
    std::fs::metadata(part_of(dest)).unwrap().len()
}

#[test]
fn resume_after_the_server_is_cut_mid_file() {
    let slow = PyFtpdOpts {
        throttle: 1 << 20,
        ..Default::default()
    };
    let mut server = PyFtpd::start(slow.clone());
    let data = pseudo_random(6 << 20, 5);
    std::fs::write(server.root().join("fw.bin"), &data).unwrap();
    let dir = WorkDir::named("ftp-cut");
    let dest = dir.join("fw.bin");
    let have = cut_download(&mut server, "fw.bin", &dest);
    assert!(have >= 1 << 20 && have < data.len() as u64, "{have}");
    // Back up (at full speed): -C - continues with REST, verified over the whole file.
    server.restart(PyFtpdOpts::default());
    let out = run(
        boardnet()
            .args([
                "--json",
                "get",
                "-C",
                "-",
                "--sha256",
                &sha256_hex(&data),
                "-o",
            ])
            .arg(&dest)
            .arg(server.url("fw.bin")),
        T,
    );
    out.assert_success();
    let v = &json_lines(&out)[0];
    assert_eq!(v["resumed_from"], have);
    assert_eq!(v["bytes"], data.len() as u64 - have);
    assert_eq!(v["code"], 226);
    assert_eq!(
        v["notices"],
        serde_json::json!([]),
        "same SIZE and MDTM: verified"
    );
    assert!(std::fs::read(&dest).unwrap() == data);
    // The server sent only the rest.
    let rest = format!("bytes={}", data.len() as u64 - have);
    assert!(server.log().contains(&rest), "{}", server.log());
    // Resuming a complete file transfers nothing.
    std::fs::rename(&dest, part_of(&dest)).unwrap();
    let out = run(
        boardnet()
            .args(["--json", "get", "-C", "-", "-o"])
            .arg(&dest)
            .arg(server.url("fw.bin")),
        T,
    );
    out.assert_success();
    assert_eq!(json_lines(&out)[0]["bytes"], 0);
    assert!(std::fs::read(&dest).unwrap() == data);
}

/// The file changed on the server (another MDTM) between the cut and the resume: the
/// `.part` starts over instead of REST appending the new file's tail to the old file's head.
#[test]
fn a_file_that_changed_on_the_server_starts_over() {
    let mut server = PyFtpd::start(PyFtpdOpts {
        throttle: 1 << 20,
        ..Default::default()
    });
    let old = pseudo_random(4 << 20, 7);
    let new = pseudo_random(4 << 20, 8);
    let path = server.root().join("fw.bin");
    std::fs::write(&path, &old).unwrap();
    let dir = WorkDir::named("ftp-changed");
    let dest = dir.join("fw.bin");
    cut_download(&mut server, "fw.bin", &dest);
    std::fs::write(&path, &new).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(std::time::SystemTime::now() + Duration::from_secs(120))
        .unwrap();
    server.restart(PyFtpdOpts::default());
    let out = run(
        boardnet()
            .args(["--json", "get", "-C", "-", "-o"])
            .arg(&dest)
            .arg(server.url("fw.bin")),
        T,
    );
    out.assert_success();
    assert!(
        out.stderr.contains("the file changed on the server"),
        "{:?}",
        out
    );
    let v = &json_lines(&out)[0];
    assert_eq!(v["resumed_from"], 0);
    assert!(std::fs::read(&dest).unwrap() == new, "spliced file");
}

#[test]
fn upload_resume_appends_what_the_server_lacks() {
    let server = PyFtpd::start(PyFtpdOpts::default());
    let data = pseudo_random(1 << 20, 6);
    let dir = WorkDir::named("ftp-put-resume");
    let local = dir.write("fw.bin", &data);
    std::fs::write(server.root().join("fw.bin"), &data[..300_000]).unwrap();
    let out = run(
        boardnet()
            .args(["--json", "put", "-C", "-", "-T"])
            .arg(&local)
            .arg(server.url("")),
        T,
    );
    out.assert_success();
    let v = &json_lines(&out)[0];
    assert_eq!(v["resumed_from"], 300_000);
    assert_eq!(v["bytes"], (1 << 20) - 300_000);
    assert!(std::fs::read(server.root().join("fw.bin")).unwrap() == data);
}

#[test]
fn wrong_password_missing_file_and_permission_denied() {
    let server = PyFtpd::start(PyFtpdOpts::default());
    std::fs::write(server.root().join("x.bin"), b"x").unwrap();
    let dir = WorkDir::named("ftp-refusals");
    let dest = dir.join("x.bin");
    let bad = format!("ftp://user:wrong@127.0.0.1:{}/x.bin", server.port());
    let out = run(boardnet().args(["get", "-o"]).arg(&dest).arg(&bad), T);
    out.assert_code(8);
    assert!(out.stderr.contains("login refused: 530"), "{}", out.stderr);
    assert_no_file(&dest);
    let out = run(
        boardnet()
            .args(["get", "-o"])
            .arg(&dest)
            .arg(server.url("nothere.bin")),
        T,
    );
    out.assert_code(8);
    assert!(
        out.stderr.contains("RETR nothere.bin: 550"),
        "{}",
        out.stderr
    );
    assert_no_file(&dest);
    // The read-only user may not upload.
    let ro = format!("ftp://reader:readonly@127.0.0.1:{}/up.bin", server.port());
    let local = dir.write("up.bin", b"data");
    let out = run(boardnet().args(["put", "-T"]).arg(&local).arg(&ro), T);
    out.assert_code(8);
    assert!(out.stderr.contains("STOR up.bin: 550"), "{}", out.stderr);
    assert!(!server.root().join("up.bin").exists());
    // Nothing listening: exit 4.
    let port = free_port();
    let out = run_boardnet(["get", &format!("ftp://127.0.0.1:{port}/x")], T);
    out.assert_code(4);
    assert!(out.stderr.contains("refused"), "{}", out.stderr);
}

#[test]
fn permission_denied_on_a_real_unix_account() {
    let pki = Pki::new();
    let server = Vsftpd::start(&pki, false);
    let secret = server.put_file("secret.bin", b"no");
    let _ = std::process::Command::new("chown")
        .args(["root:root"])
        .arg(&secret)
        .status();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let dir = WorkDir::named("ftp-perm");
    let dest = dir.join("secret.bin");
    let out = run(
        boardnet()
            .args(["get", "-o"])
            .arg(&dest)
            .arg(server.url("ftp", "secret.bin")),
        T,
    );
    out.assert_code(8);
    assert!(out.stderr.contains("550"), "{}", out.stderr);
    assert_no_file(&dest);
}

#[test]
fn a_server_that_stops_answering_times_out() {
    let server = StallingFtp::start();
    let started = Instant::now();
    let out = run_boardnet(["get", "--reply-timeout", "1", &server.url("x.bin")], T);
    out.assert_code(5);
    assert!(
        out.stderr
            .contains("timed out waiting for the server's reply"),
        "{}",
        out.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // --max-time bounds the whole run, too.
    let out = run_boardnet(["ftp", "-m", "1", &server.url(""), "ls"], T);
    out.assert_code(5);
    assert!(out.stderr.contains("--max-time"), "{}", out.stderr);
}

#[test]
fn a_stalled_transfer_is_detected() {
    let server = PyFtpd::start(PyFtpdOpts {
        throttle: 2000,
        ..Default::default()
    });
    std::fs::write(server.root().join("big.bin"), pseudo_random(1 << 20, 7)).unwrap();
    let dir = WorkDir::named("ftp-stall");
    let dest = dir.join("big.bin");
    let out = run(
        boardnet()
            .args(["get", "--speed-limit", "100000", "--speed-time", "1", "-o"])
            .arg(&dest)
            .arg(server.url("big.bin")),
        T,
    );
    out.assert_code(5);
    assert!(out.stderr.contains("stalled"), "{}", out.stderr);
    assert!(!dest.exists());
}

#[test]
fn pasv_behind_nat_uses_the_control_address_and_active_mode_works() {
    // EPSV refused and PASV announcing an address that is never contacted.
    let server = PyFtpd::start(PyFtpdOpts {
        no_epsv: true,
        masquerade: Some("10.255.255.1".into()),
        ..Default::default()
    });
    let data = pseudo_random(500_000, 8);
    std::fs::write(server.root().join("f.bin"), &data).unwrap();
    let dir = WorkDir::named("ftp-modes");
    let dest = dir.join("f.bin");
    let out = run(
        boardnet()
            .args(["-v", "get", "-o"])
            .arg(&dest)
            .arg(server.url("f.bin")),
        T,
    );
    out.assert_success();
    assert!(
        out.stderr.contains("PASV announced 10.255.255.1"),
        "{}",
        out.stderr
    );
    assert!(std::fs::read(&dest).unwrap() == data);
    // Active mode: the server connects to us.
    let dest = dir.join("g.bin");
    let out = run(
        boardnet()
            .args(["-vv", "get", "--active", "-o"])
            .arg(&dest)
            .arg(server.url("f.bin")),
        T,
    );
    out.assert_success();
    assert!(std::fs::read(&dest).unwrap() == data);
    assert!(out.stderr.contains("-> PORT 127,0,0,1,"), "{}", out.stderr);
    assert!(out.stderr.contains("<- 200"), "{}", out.stderr);
}

#[test]
fn credentials_from_netrc_and_user_flag() {
    let server = PyFtpd::start(PyFtpdOpts::default());
    std::fs::write(server.root().join("n.txt"), b"netrc\n").unwrap();
    let dir = WorkDir::named("ftp-netrc");
    let netrc = dir.write(
        "netrc",
        "machine other login x password y\nmachine 127.0.0.1\n login user\n password pass\n",
    );
    let url = format!("ftp://127.0.0.1:{}/n.txt", server.port());
    let out = run_boardnet(["get", "--netrc-file", netrc.to_str().unwrap(), &url], T);
    out.assert_success();
    assert_eq!(out.stdout, b"netrc\n");
    let out = run_boardnet(["get", "-u", "user:pass", &url], T);
    out.assert_success();
    // An unreadable .netrc is a local file error, named.
    let missing = dir.join("no-such-netrc");
    let out = run_boardnet(["get", "--netrc-file", missing.to_str().unwrap(), &url], T);
    out.assert_code(9);
    assert!(out.stderr.contains("no-such-netrc"), "{}", out.stderr);
    // No credentials: anonymous, which this server does not have.
    let out = run_boardnet(["get", &url], T);
    out.assert_code(8);
}

#[test]
fn checksum_mismatch_keeps_nothing_and_bad_input_is_named() {
    let server = PyFtpd::start(PyFtpdOpts::default());
    std::fs::write(server.root().join("c.bin"), b"content").unwrap();
    let dir = WorkDir::named("ftp-bad");
    let dest = dir.join("c.bin");
    let out = run(
        boardnet()
            .args(["get", "--sha256", &"0".repeat(64), "-o"])
            .arg(&dest)
            .arg(server.url("c.bin")),
        T,
    );
    out.assert_code(10);
    assert_no_file(&dest);
    // -O names the file after the URL.
    let out = run(
        boardnet()
            .current_dir(dir.path())
            .args(["get", "-O", &server.url("c.bin")]),
        T,
    );
    out.assert_success();
    assert_eq!(std::fs::read(dir.join("c.bin")).unwrap(), b"content");
    for (args, needle) in [
        (
            vec![
                "get".to_string(),
                format!("ftp://127.0.0.1:{}/a%0d%0aDELE%20c.bin", server.port()),
            ],
            "line break",
        ),
        (vec!["put".into(), server.url("x")], "-T FILE"),
        (
            vec![
                "get".into(),
                server.url("c.bin"),
                "http://127.0.0.1/".into(),
            ],
            "cannot mix",
        ),
        (
            vec!["get".into(), "-C".into(), "5".into(), server.url("c.bin")],
            "-C -",
        ),
        (vec!["ftp".into()], "no URL"),
    ] {
        let out = run_boardnet(&args, T);
        out.assert_code(2);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
    assert!(
        server.root().join("c.bin").exists(),
        "an injected DELE must never run"
    );
}

#[test]
fn interface_binds_control_and_data_connections() {
    require_root_or_fail("--interface (SO_BINDTODEVICE)");
    let server = PyFtpd::start(PyFtpdOpts::default());
    std::fs::write(server.root().join("i.txt"), b"bound\n").unwrap();
    for mode in ["--interface", "--active"] {
        let mut args = vec!["get", "--interface", "lo"];
        if mode == "--active" {
            args.push("--active");
        }
        let url = server.url("i.txt");
        args.push(&url);
        let out = run_boardnet(&args, T);
        out.assert_success();
        assert_eq!(out.stdout, b"bound\n");
    }
    let out = run_boardnet(["get", "--interface", "nosuch0", &server.url("i.txt")], T);
    assert!(!out.success(), "{out:?}");
    assert!(out.stderr.contains("nosuch0"), "{}", out.stderr);
}

#[test]
fn sigint_cancels_a_transfer_and_keeps_the_part_file() {
    let server = PyFtpd::start(PyFtpdOpts {
        throttle: 200_000,
        ..Default::default()
    });
    std::fs::write(server.root().join("slow.bin"), pseudo_random(4 << 20, 9)).unwrap();
    let dir = WorkDir::named("ftp-sigint");
    let dest = dir.join("slow.bin");
    let mut child = boardnet()
        .args(["get", "-o"])
        .arg(&dest)
        .arg(server.url("slow.bin"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::metadata(part_of(&dest)).map_or(0, |m| m.len()) == 0 {
        assert!(started.elapsed() < T, "download did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: signalling our own child by its pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let sent = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?} after SIGINT",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(12));
    assert!(!dest.exists());
    assert!(
        std::fs::metadata(part_of(&dest)).unwrap().len() > 0,
        ".part kept for -C -"
    );
}
