//! The transfer queue: jobs that survive `kill -9`, follow and wait for bearers under their
//! policy, spool uploads, and never run more than `--max-transfers` at once.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use crate::lab::*;
use crate::peers::*;

#[test]
fn a_download_survives_kill_9_and_resumes_with_a_range() {
    let wd = WorkDir::new();
    // 256 KiB per 10 ms: 64 MiB in about 3 s.
    let (links, http, want) = served("dk9", &wd, "big.img", 64 << 20, 256 << 10);
    let mut d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    let dest = wd.join("big.img");
    let id = fetch(&d, "big.img", &dest, &["--sha256", &want]);
    wait_for_part(&d, &dest, 8 << 20);
    d.kill9();
    let on_disk = std::fs::read_to_string(d.state.join(format!("jobs/{id}.json"))).unwrap();
    assert!(on_disk.contains("\"state\":\"running\""), "{on_disk}");
    let kept = part_len(&dest);
    assert!(kept >= 8 << 20 && !dest.exists());
    d.restart(&links.client);
    let job = d.wait_job(id, "finished", |j| {
        j["state"] == "done" || j["state"] == "failed"
    });
    assert_eq!(job["state"], "done", "{job}\n{}", d.log());
    assert_eq!(sha256_hex(&std::fs::read(&dest).unwrap()), want);
    assert_eq!(part_len(&dest), 0, "no .part left");
    let log = http.log();
    assert!(
        log.lines()
            .any(|l| l.starts_with("GET from 10.80.0.2 at ") && !l.ends_with(" at 0")),
        "no ranged request after the restart:\n{log}"
    );
}

#[test]
fn a_job_roams_waits_without_a_bearer_and_resumes_when_one_returns() {
    let wd = WorkDir::new();
    // 64 KiB per 10 ms: 16 MiB in about 2.6 s.
    let (links, http, want) = served("drw", &wd, "fw.img", 16 << 20, 64 << 10);
    let d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    let dest = wd.join("fw.img");
    let id = fetch(&d, "fw.img", &dest, &["--sha256", &want]);
    wait_for_part(&d, &dest, 2 << 20);
    // The preferred link goes: the job goes on through bnB, from where it was.
    links.server.ip_ok(&["link", "set", "svA", "down"]);
    d.wait_job(id, "moved to bnB", |j| {
        j["interface"] == "bnB" && j["state"] == "running"
    });
    let at_move = part_len(&dest);
    wait_for_part(&d, &dest, at_move + (1 << 20));
    // No link at all: the job waits, its .part kept.
    links.server.ip_ok(&["link", "set", "svB", "down"]);
    let job = d.wait_job(id, "queued", |j| j["state"] == "queued");
    assert_eq!(
        job["attempts"], 0,
        "waiting for a bearer is not a failed attempt: {job}"
    );
    let waited_at = part_len(&dest);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(part_len(&dest), waited_at, "nothing moves without a bearer");
    // A link returns: the job resumes and finishes.
    links.server.ip_ok(&["link", "set", "svA", "up"]);
    let job = d.wait_job(id, "finished", |j| {
        j["state"] == "done" || j["state"] == "failed"
    });
    assert_eq!(job["state"], "done", "{job}\n{}", d.log());
    assert_eq!(sha256_hex(&std::fs::read(&dest).unwrap()), want);
    let log = http.log();
    assert!(
        log.lines()
            .any(|l| l.starts_with("GET from 10.81.0.2 at ") && !l.ends_with(" at 0")),
        "{log}"
    );
    assert!(
        log.lines()
            .filter(|l| l.starts_with("GET from 10.80.0.2 at ") && !l.ends_with(" at 0"))
            .count()
            >= 1,
        "no ranged request through bnA after the wait:\n{log}"
    );
}

#[test]
#[cfg(feature = "connman")]
fn a_not_cellular_job_waits_while_only_a_cellular_link_is_up() {
    let wd = WorkDir::new();
    let links = TwoLinks::named("dcc", [("wwan0", "svW"), ("bnB", "svB")]);
    let (client, server) = (&links.client, &links.server);
    server.ip_ok(&["link", "set", "svB", "down"]);
    let www = wd.mkdir("www");
    let want = image(&www.join("a.img"), 1 << 20);
    let _http = ThrottledServer::start(server, client, &www, SERVER_ADDRESS, 8080, 256 << 10);
    let bus = PrivateBus::new();
    let _ofono = FakeOfono::start(&bus, "wwan0", "lte", "lte");
    let d = Daemon::start_with_env(
        client,
        &wd,
        &[],
        &[("DBUS_SYSTEM_BUS_ADDRESS", bus.address())],
    );
    let status = d.ctl_json(&["status"]);
    assert!(
        status.to_string().contains("\"family\":\"cellular\""),
        "{status}"
    );

    let thrifty = fetch(
        &d,
        "a.img",
        &wd.join("thrifty.img"),
        &["--policy", "not-cellular"],
    );
    let anyway = fetch(&d, "a.img", &wd.join("anyway.img"), &["--policy", "any"]);
    d.wait_job(anyway, "done over LTE", |j| j["state"] == "done");
    let job = d.ctl_json(&["job", &thrifty.to_string()]);
    assert_eq!(job["state"], "queued", "{job}");
    // Ethernet comes up: the not-cellular job goes through it.
    server.ip_ok(&["link", "set", "svB", "up"]);
    let job = d.wait_job(thrifty, "done", |j| j["state"] == "done");
    assert_eq!(job["interface"], "bnB", "{job}");
    assert_eq!(
        sha256_hex(&std::fs::read(wd.join("thrifty.img")).unwrap()),
        want
    );
}

#[test]
fn an_upload_spool_survives_a_restart_and_is_removed_after_2xx() {
    let wd = WorkDir::new();
    let links = TwoLinks::new("dup");
    for s in ["svA", "svB"] {
        links.server.ip_ok(&["link", "set", s, "down"]);
    }
    let www = wd.mkdir("www");
    let http = ThrottledServer::start(
        &links.server,
        &links.server,
        &www,
        SERVER_ADDRESS,
        8080,
        64 << 10,
    );
    let mut d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    let spool = wd.mkdir("spool");
    let record = spool.join("telemetry-1.json");
    std::fs::write(&record, br#"{"temperature":41.5}"#).unwrap();
    let job = d.ctl_json(&[
        "upload",
        record.to_str().unwrap(),
        &url("telemetry-1.json"),
        "--remove",
    ]);
    let id = job["id"].as_u64().unwrap();
    assert_eq!(job["state"], "queued", "{job}");
    let (code, _) = d.terminate();
    assert_eq!(code, Some(0));
    d.restart(&links.client);
    assert_eq!(d.ctl_json(&["job", &id.to_string()])["state"], "queued");
    links.server.ip_ok(&["link", "set", "svB", "up"]);
    let job = d.wait_job(id, "sent", |j| {
        j["state"] == "done" || j["state"] == "failed"
    });
    assert_eq!(job["state"], "done", "{job}\n{}", d.log());
    assert!(
        !record.exists(),
        "the spooled file is removed after the 2xx"
    );
    assert_eq!(
        std::fs::read(www.join("uploads/telemetry-1.json")).unwrap(),
        br#"{"temperature":41.5}"#
    );
    assert!(http.log().contains("PUT from 10.81.0.2"), "{}", http.log());
}

#[test]
fn twenty_jobs_never_run_more_than_two_at_once() {
    let wd = WorkDir::new();
    let (links, _http, _) = served("dmx", &wd, "f.img", 512 << 10, 32 << 10);
    let d = Daemon::start(
        &links.client,
        &wd,
        &["--backend", "netlink", "--max-transfers", "2"],
    );
    let mut watch = JsonLines::spawn(&mut d.ctl_command(&["--json", "watch"]));
    std::thread::sleep(Duration::from_millis(200));
    let ids: Vec<u64> = (0..20)
        .map(|i| fetch(&d, "f.img", &wd.join(format!("out-{i}.img")), &[]))
        .collect();
    let mut running = BTreeSet::new();
    let mut done = BTreeSet::new();
    let mut most = 0;
    while done.len() < ids.len() {
        let (_, event) = watch.wait_for("job events", T, |v| v["event"] == "job");
        let job: &Value = &event["job"];
        let id = job["id"].as_u64().unwrap();
        match job["state"].as_str().unwrap() {
            "running" => {
                running.insert(id);
            }
            "done" => {
                running.remove(&id);
                done.insert(id);
            }
            "queued" => {}
            other => panic!("job {id} {other}: {job}"),
        }
        most = most.max(running.len());
    }
    assert_eq!(most, 2, "at most two at once, and two did run together");
}

#[test]
fn the_library_client_queues_and_follows_an_ota_image() {
    // examples/ota_queue.rs: daemon::client::ControlClient, nothing of the CLI.
    let wd = WorkDir::new();
    let (links, _http, want) = served("dex", &wd, "fw.img", 2 << 20, 64 << 10);
    let d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    let dest = wd.join("fw.img");
    let out = run(
        example("ota_queue")
            .arg(&d.control)
            .arg(url("fw.img"))
            .arg(&dest)
            .arg(&want)
            .arg("not-cellular"),
        T,
    );
    out.assert_success();
    assert!(out.stdout_str().contains("job 1 running"), "{out:?}");
    assert!(
        out.stdout_str()
            .contains(&format!("installed {} (2097152 bytes)", dest.display())),
        "{out:?}"
    );
    assert_eq!(sha256_hex(&std::fs::read(&dest).unwrap()), want);
    // A wrong checksum: the job fails with its class, and nothing is installed.
    let bad = "0".repeat(64);
    let out = run(
        example("ota_queue")
            .arg(&d.control)
            .arg(url("fw.img"))
            .arg(wd.join("bad.img"))
            .arg(&bad),
        T,
    );
    out.assert_code(10);
    assert!(!wd.join("bad.img").exists());
}

#[test]
fn ftp_jobs_resume_with_rest_after_kill_9_and_spool_with_stor() {
    let wd = WorkDir::new();
    let links = TwoLinks::new("dftp");
    // pyftpdlib on the daemon's own loopback, 4 MB/s on data connections (in bursts: a
    // first one of a few MB, so the file is four times that).
    let ftpd = PyFtpd::start(PyFtpdOpts {
        throttle: 4_000_000,
        netns: Some(links.client.name().to_string()),
        ..PyFtpdOpts::default()
    });
    let want = image(&ftpd.root().join("fw.img"), 16 << 20);
    let mut d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    let dest = wd.join("fw.img");
    let job = d.ctl_json(&[
        "fetch",
        &ftpd.url("fw.img"),
        "-o",
        dest.to_str().unwrap(),
        "--sha256",
        &want,
    ]);
    let id = job["id"].as_u64().unwrap();
    wait_for_part(&d, &dest, 1 << 20);
    d.kill9();
    d.restart(&links.client);
    let job = d.wait_job(id, "finished", |j| {
        j["state"] == "done" || j["state"] == "failed"
    });
    assert_eq!(job["state"], "done", "{job}\n{}", d.log());
    assert_eq!(sha256_hex(&std::fs::read(&dest).unwrap()), want);
    // pyftpdlib logs each RETR with the bytes it sent: the last one sent only the rest.
    let log = ftpd.log();
    let resumed = log
        .lines()
        .filter(|l| l.contains("RETR ") && l.contains("completed=1"))
        .any(|l| {
            l.split("bytes=")
                .nth(1)
                .and_then(|b| b.split_whitespace().next())
                .and_then(|b| b.parse::<u64>().ok())
                .is_some_and(|b| b < 16 << 20)
        });
    assert!(resumed, "no resumed RETR after the restart:\n{log}");

    // An upload with --remove: STOR, then the file is gone here and whole there.
    let spool = wd.write("spool-1.bin", pseudo_random(100_000, 3));
    let job = d.ctl_json(&[
        "upload",
        spool.to_str().unwrap(),
        &ftpd.url("up/spool-1.bin"),
        "--remove",
    ]);
    let id = job["id"].as_u64().unwrap();
    std::fs::create_dir_all(ftpd.root().join("up")).unwrap();
    let job = d.wait_job(id, "sent", |j| {
        j["state"] == "done" || j["state"] == "failed"
    });
    assert_eq!(job["state"], "done", "{job}\n{}", d.log());
    assert!(!spool.exists());
    assert_eq!(
        std::fs::read(ftpd.root().join("up/spool-1.bin")).unwrap(),
        pseudo_random(100_000, 3)
    );
}
