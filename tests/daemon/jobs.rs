//! Controlling jobs: pause, resume, cancel, `--wait`, completion hooks, SIGTERM mid-transfer,
//! forgetting finished jobs; the online check and `wait-online`; SIGHUP.

use std::time::{Duration, Instant};

use crate::lab::*;
use crate::peers::*;

/// A lab whose server sends `fw.img` (`size` bytes) slowly enough to act on mid-transfer.
fn slow_lab(tag: &str, wd: &WorkDir, size: usize) -> (TwoLinks, ThrottledServer, String) {
    // 16 KiB per 10 ms: about 1.6 MB/s.
    served(tag, wd, "fw.img", size, 16 << 10)
}

#[test]
fn pause_resume_cancel_and_the_jobs_own_hook() {
    let wd = WorkDir::new();
    let (links, _http, sha) = slow_lab("djc", &wd, 4 << 20);
    let d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    let record = wd.join("hook.out");
    std::fs::create_dir_all(d.hooks.join("jobs")).unwrap();
    recording_hook(
        &d.hooks.join("jobs"),
        "install",
        &record,
        &["BOARDNET_JOB", "BOARDNET_PATH", "BOARDNET_SHA256"],
    );
    let dest = wd.join("fw.img");
    let job = d.ctl_json(&[
        "fetch",
        &url("fw.img"),
        "-o",
        dest.to_str().unwrap(),
        "--sha256",
        &sha,
        "--hook",
        "install",
    ]);
    let id = job["id"].as_u64().unwrap().to_string();
    wait_for_part(&d, &dest, 256 << 10);
    assert_eq!(d.ctl_json(&["pause", &id])["id"].as_u64(), Some(1));
    d.wait_job(1, "paused", |j| j["state"] == "paused");
    let held = part_len(&dest);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(part_len(&dest), held, "a paused job moves nothing");
    assert!(held > 0, "its .part is kept");
    let out = d.ctl(&["pause", &id]);
    out.assert_code(2);
    assert!(out.stderr.contains("is paused"), "{out:?}");
    d.ctl_json(&["resume", &id]);
    let job = d.wait_job(1, "done", |j| j["state"] == "done");
    assert_eq!(job["bytes"], 4 << 20);
    assert_eq!(sha256_hex(&std::fs::read(&dest).unwrap()), sha);
    let deadline = Instant::now() + T;
    while !read_lossy(&record).contains("install job-done") {
        assert!(
            Instant::now() < deadline,
            "the job's hook never ran:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let line = read_lossy(&record);
    assert!(
        line.contains(&format!(
            "BOARDNET_JOB=1 BOARDNET_PATH={} BOARDNET_SHA256={sha}",
            dest.display()
        )),
        "{line}"
    );

    // Cancelled: its .part goes, and --wait exits with the cancelled class.
    let other = wd.join("other.img");
    let mut waiter = d.ctl_command(&[
        "fetch",
        &url("fw.img"),
        "-o",
        other.to_str().unwrap(),
        "--wait",
    ]);
    let waiter = waiter
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_part(&d, &other, 64 << 10);
    d.ctl_json(&["cancel", "2"]);
    let out = waiter.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(12), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("job 2 was cancelled"),
        "{out:?}"
    );
    assert_eq!(d.ctl_json(&["job", "2"])["state"], "cancelled");
    assert_eq!(part_len(&other), 0, "a cancelled job's .part is removed");
    d.ctl(&["cancel", "2"]).assert_code(2);

    // A job that fails for good: --wait exits with its class (8: the server said no).
    let out = d.ctl(&[
        "fetch",
        &url("missing.img"),
        "-o",
        wd.join("m").to_str().unwrap(),
        "--wait",
    ]);
    out.assert_code(8);
    assert!(out.stderr.contains("404"), "{out:?}");
}

#[test]
fn sigterm_mid_transfer_exits_0_at_once_keeping_the_part_and_the_job() {
    let wd = WorkDir::new();
    let (links, _http, _) = slow_lab("dst", &wd, 8 << 20);
    let mut d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    let dest = wd.join("fw.img");
    d.ctl_json(&["fetch", &url("fw.img"), "-o", dest.to_str().unwrap()]);
    wait_for_part(&d, &dest, 256 << 10);
    let (code, took) = d.terminate();
    assert_eq!(code, Some(0), "{}", d.log());
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(part_len(&dest) >= 256 << 10);
    let on_disk = std::fs::read_to_string(d.state.join("jobs/1.json")).unwrap();
    assert!(on_disk.contains("\"state\":\"queued\""), "{on_disk}");
}

#[test]
fn finished_jobs_are_forgotten_after_keep_days() {
    let wd = WorkDir::new();
    let (links, _http, _) = slow_lab("dkd", &wd, 16 << 10);
    let d = Daemon::start(
        &links.client,
        &wd,
        &["--backend", "netlink", "--keep-days", "0"],
    );
    d.ctl_json(&[
        "fetch",
        &url("fw.img"),
        "-o",
        wd.join("a").to_str().unwrap(),
        "--wait",
    ]);
    let deadline = Instant::now() + T;
    while !d.ctl_json(&["jobs"]).as_array().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "never forgotten:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!d.state.join("jobs/1.json").exists());
}

#[test]
fn the_online_check_drives_wait_online_and_online_jobs_and_is_retried() {
    let wd = WorkDir::new();
    let (links, _http, _) = slow_lab("don", &wd, 16 << 10);
    let check = url("generate_204");
    let d = Daemon::start(
        &links.client,
        &wd,
        &[
            "--backend",
            "netlink",
            "--check-url",
            &check,
            "--check-retry",
            "1",
        ],
    );
    // The check URL is missing (404): site, not online.
    let out = d.ctl(&["wait-online", "--level", "online", "--timeout", "1"]);
    out.assert_code(5);
    assert!(out.stderr.contains("not online"), "{out:?}");
    let job = d.ctl_json(&[
        "fetch",
        &url("fw.img"),
        "-o",
        wd.join("a").to_str().unwrap(),
        "--policy",
        "online",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        d.ctl_json(&["job", &job["id"].to_string()])["state"],
        "queued"
    );
    // It starts answering: the retry timer finds it without any link change.
    std::fs::write(wd.join("www/generate_204"), b"").unwrap();
    let out = d.ctl(&[
        "--json",
        "wait-online",
        "--level",
        "online",
        "--timeout",
        "10",
    ]);
    out.assert_success();
    assert!(out.stdout_str().contains("\"level\":\"online\""), "{out:?}");
    d.wait_job(1, "done", |j| j["state"] == "done");
    assert_eq!(d.ctl_json(&["status"])["online"], true);
}

#[test]
fn sighup_reads_the_configuration_file_again() {
    let wd = WorkDir::new();
    let links = TwoLinks::new("dhup");
    let conf = wd.write("daemon.conf", "# settings\nmax-clients = 64\n");
    let d = Daemon::start(
        &links.client,
        &wd,
        &["--backend", "netlink", "--config", conf.to_str().unwrap()],
    );
    let _held = std::os::unix::net::UnixStream::connect(&d.control).unwrap();
    std::fs::write(&conf, "max-clients = 1\n").unwrap();
    // SAFETY: kill(2) on the daemon's PID.
    unsafe { libc::kill(d.pid() as libc::pid_t, libc::SIGHUP) };
    let deadline = Instant::now() + T;
    loop {
        let out = d.ctl(&["version"]);
        if !out.success() {
            assert!(out.stderr.contains("at most 1 clients"), "{out:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not apply the file:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A broken file on reload: said in the log, the running settings stay.
    std::fs::write(&conf, "max-clients = many\n").unwrap();
    // SAFETY: as above.
    unsafe { libc::kill(d.pid() as libc::pid_t, libc::SIGHUP) };
    let deadline = Instant::now() + T;
    while !d.log().contains("the running configuration stays") {
        assert!(Instant::now() < deadline, "{}", d.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        d.log().contains("max-clients: \"many\" is not a number"),
        "{}",
        d.log()
    );
}

#[test]
fn an_interface_policy_uses_that_link_only_and_waits_for_it() {
    let wd = WorkDir::new();
    let (links, http, sha) = slow_lab("dif", &wd, 1 << 20);
    let d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    // bnA is preferred; the job goes through bnB all the same.
    let id = fetch(&d, "fw.img", &wd.join("a"), &["--policy", "interface:bnB"]);
    let job = d.wait_job(id, "done", |j| j["state"] == "done");
    assert_eq!(job["interface"], "bnB");
    assert!(
        http.log().contains("GET from 10.81.0.2 at 0"),
        "{}",
        http.log()
    );
    assert_eq!(sha256_hex(&std::fs::read(wd.join("a")).unwrap()), sha);
    // bnB gone: a second job waits although bnA is up, and runs once bnB is back.
    links.server.ip_ok(&["link", "set", "svB", "down"]);
    let deadline = Instant::now() + T;
    loop {
        let status = d.ctl_json(&["configurations"]);
        let bnb = status
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "netlink:bnB")
            .cloned();
        if bnb.as_ref().is_some_and(|c| c["state"] != "active") {
            break;
        }
        assert!(Instant::now() < deadline, "{bnb:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let id = fetch(&d, "fw.img", &wd.join("b"), &["--policy", "interface:bnB"]);
    std::thread::sleep(Duration::from_millis(500));
    let job = d.ctl_json(&["job", &id.to_string()]);
    assert_eq!(job["state"], "queued", "{job}\n{}", d.log());
    links.server.ip_ok(&["link", "set", "svB", "up"]);
    d.wait_job(id, "done", |j| j["state"] == "done");
}

#[test]
fn transient_failures_are_retried_with_backoff_and_hooks_hear_of_the_outcome() {
    let wd = WorkDir::new();
    let links = TwoLinks::new("dtr");
    let record = wd.join("hooks.out");
    let hooks = wd.mkdir("hooks");
    recording_hook(
        &hooks,
        "10-record",
        &record,
        &["BOARDNET_JOB", "BOARDNET_ERROR_CLASS"],
    );
    let d = Daemon::start(
        &links.client,
        &wd,
        &["--backend", "netlink", "--retry-first", "0.5"],
    );
    // Nothing listens yet: refused, retried.
    let job = d.ctl_json(&[
        "fetch",
        &url("fw.img"),
        "-o",
        wd.join("a").to_str().unwrap(),
    ]);
    let id = job["id"].as_u64().unwrap();
    let job = d.wait_job(id, "retrying", |j| {
        j["state"] == "retrying" && j["attempts"].as_u64() >= Some(2)
    });
    assert_eq!(job["error"]["class"], "connection", "{job}");
    assert!(job["retry_at"].as_u64().is_some(), "{job}");
    // The server comes: the next attempt succeeds.
    let www = wd.mkdir("www");
    image(&www.join("fw.img"), 64 << 10);
    let _http = ThrottledServer::start(
        &links.server,
        &links.client,
        &www,
        SERVER_ADDRESS,
        8080,
        64 << 10,
    );
    let job = d.wait_job(id, "done", |j| j["state"] == "done");
    assert_eq!(job["error"], serde_json::Value::Null, "{job}");
    // A 404 is not worth retrying: failed after one attempt, with its class.
    let job = d.ctl_json(&[
        "fetch",
        &url("missing"),
        "-o",
        wd.join("m").to_str().unwrap(),
    ]);
    let failed_id = job["id"].as_u64().unwrap();
    let job = d.wait_job(failed_id, "failed", |j| j["state"] == "failed");
    assert_eq!(job["attempts"], 1, "{job}");
    assert_eq!(job["error"]["code"], 8, "{job}");
    let deadline = Instant::now() + T;
    let want_done = format!("10-record job-done BOARDNET_JOB={id} BOARDNET_ERROR_CLASS=");
    let want_failed = format!(
        "10-record job-failed BOARDNET_JOB={failed_id} BOARDNET_ERROR_CLASS=server-refused"
    );
    loop {
        let text = read_lossy(&record);
        if text.lines().any(|l| l == want_done) && text.lines().any(|l| l == want_failed) {
            break;
        }
        assert!(Instant::now() < deadline, "{text}\n{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn online_and_offline_hooks_follow_the_check() {
    let wd = WorkDir::new();
    let (links, _http, _) = slow_lab("dof", &wd, 1024);
    std::fs::write(wd.join("www/ok"), b"").unwrap();
    let record = wd.join("hooks.out");
    let hooks = wd.mkdir("hooks");
    recording_hook(&hooks, "10-record", &record, &["BOARDNET_INTERFACE"]);
    let d = Daemon::start(
        &links.client,
        &wd,
        &["--backend", "netlink", "--check-url", &url("ok")],
    );
    let wait = |line: &str| {
        let deadline = Instant::now() + T;
        while !read_lossy(&record).lines().any(|l| l == line) {
            assert!(
                Instant::now() < deadline,
                "no `{line}`:\n{}\n{}",
                read_lossy(&record),
                d.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait("10-record online BOARDNET_INTERFACE=bnA");
    // Both links lose their carrier: offline.
    links.server.ip_ok(&["link", "set", "svA", "down"]);
    links.server.ip_ok(&["link", "set", "svB", "down"]);
    wait("10-record offline BOARDNET_INTERFACE=");
}

#[test]
fn a_check_that_never_answers_times_out_and_is_tried_again() {
    let wd = WorkDir::new();
    let (links, _http, _) = slow_lab("dch", &wd, 1024);
    // A listener in the server namespace that accepts and never says a word.
    let silent = KillOnDrop {
        child: links
            .server
            .command("python3")
            .args([
                "-c",
                "import socket,time\ns=socket.socket(); s.bind(('10.82.0.1',8081)); s.listen(64)\nkeep=[]\nwhile True: keep.append(s.accept())",
            ])
            .spawn()
            .unwrap(),
    };
    let d = Daemon::start(
        &links.client,
        &wd,
        &[
            "--backend",
            "netlink",
            "--check-url",
            &format!("http://{SERVER_ADDRESS}:8081/ok"),
            "--check-timeout",
            "0.5",
            "--check-retry",
            "1",
        ],
    );
    let deadline = Instant::now() + T;
    while d.log().matches("connectivity check: trying again").count() < 2 {
        assert!(
            Instant::now() < deadline,
            "the silent check never ended:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(d.ctl_json(&["status"])["reachability"], "site");
    drop(silent);
}
