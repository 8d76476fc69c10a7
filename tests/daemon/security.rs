//! Who may do what, and bad or hostile input: SO_PEERCRED authorization with real users,
//! malformed requests, overlong lines, too many clients, a subscriber that never reads.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lab::*;
use crate::peers::*;

/// A group for the test: `users` (gid 100 on Debian) exists on every system we run on.
const GROUP: &str = "users";
const GROUP_ID: &str = "100";
const NOBODY: &str = "65534";

fn as_user(d: &Daemon, groups: Option<&str>, args: &[&str]) -> RunOutput {
    let mut c = std::process::Command::new("setpriv");
    c.args(["--reuid", NOBODY, "--regid", NOBODY]);
    match groups {
        Some(g) => c.args(["--groups", g]),
        None => c.arg("--clear-groups"),
    };
    c.args(boardnet_argv())
        .arg("ctl")
        .arg("--control")
        .arg(&d.control)
        .args(args);
    run(&mut c, T)
}

/// The work directory reachable by other users (the control socket is in it).
fn open_up(wd: &WorkDir) {
    for dir in [wd.path().to_path_buf(), wd.join("run")] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn users_outside_the_group_read_but_cannot_change_anything() {
    require_program("setpriv");
    let wd = WorkDir::new();
    let links = TwoLinks::new("dau");
    let d = Daemon::start(
        &links.client,
        &wd,
        &[
            "--backend",
            "netlink",
            "--group",
            GROUP,
            "--socket-mode",
            "0666",
        ],
    );
    open_up(&wd);
    let out = as_user(&d, None, &["--json", "status"]);
    out.assert_success();
    let out = as_user(
        &d,
        None,
        &["fetch", "http://10.82.0.1:8080/x", "-o", "/tmp/x"],
    );
    out.assert_code(8);
    assert!(
        out.stderr.contains("uid 65534 may not change anything"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("--group"),
        "the CLI says how to get the right: {out:?}"
    );
    as_user(&d, None, &["cancel", "1"]).assert_code(8);
    as_user(&d, None, &["reload"]).assert_code(8);
    // A member of the group may: the refusal is about the job, not the user.
    let out = as_user(&d, Some(GROUP_ID), &["cancel", "99"]);
    out.assert_code(2);
    assert!(out.stderr.contains("no job"), "{out:?}");
    assert!(d.ctl_json(&["jobs"]).as_array().unwrap().is_empty());
}

#[test]
fn the_socket_is_0660_and_its_group_is_the_configured_one() {
    require_program("setpriv");
    let wd = WorkDir::new();
    let links = TwoLinks::new("dam");
    let d = Daemon::start(
        &links.client,
        &wd,
        &["--backend", "netlink", "--group", GROUP],
    );
    open_up(&wd);
    let meta = std::fs::metadata(&d.control).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), 100);
    let out = as_user(&d, None, &["status"]);
    out.assert_code(9);
    assert!(out.stderr.contains("Permission denied"), "{out:?}");
    as_user(&d, Some(GROUP_ID), &["status"]).assert_success();
}

fn request(stream: &mut UnixStream, reader: &mut BufReader<UnixStream>, line: &[u8]) -> Value {
    stream.write_all(line).unwrap();
    let mut reply = String::new();
    reader.read_line(&mut reply).unwrap();
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{e}: {reply}"))
}

#[test]
fn bad_requests_get_errors_and_the_connection_stays_usable() {
    let wd = WorkDir::new();
    let links = TwoLinks::new("dbad");
    let d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    let mut s = UnixStream::connect(&d.control).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let cases: &[(&[u8], &str)] = &[
        (b"{\"id\":1,\"command\":\"status\"\n", "BadRequest"),
        (b"not json at all\n", "BadRequest"),
        (b"{\"id\":2,\"command\":\"teleport\"}\n", "UnknownCommand"),
        (
            b"{\"id\":3,\"command\":\"job\",\"job\":\"seven\"}\n",
            "BadRequest",
        ),
        (
            b"{\"id\":4,\"command\":\"fetch\",\"url\":\"http://x/\",\"path\":\"relative\"}\n",
            "BadRequest",
        ),
    ];
    for (line, kind) in cases {
        let reply = request(&mut s, &mut r, line);
        assert_eq!(reply["ok"], false, "{reply}");
        assert_eq!(reply["error"]["kind"], *kind, "{reply}");
        assert_eq!(reply["error"]["code"], 2, "{reply}");
    }
    // 10 MiB without a newline, then its end: one error quoting its start, nothing held.
    let big = vec![b'x'; 10 << 20];
    s.write_all(b"{\"id\":5,").unwrap();
    s.write_all(&big).unwrap();
    let reply = request(&mut s, &mut r, b"\n");
    assert_eq!(reply["error"]["kind"], "LineTooLong", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains(r#"{"id":5,xxx"#),
        "{reply}"
    );
    let reply = request(&mut s, &mut r, b"{\"id\":6,\"command\":\"version\"}\n");
    assert_eq!(
        (reply["id"].clone(), reply["ok"].clone()),
        (Value::from(6), Value::Bool(true))
    );
    // (Under qemu-user the resident size is the emulator's.)
    let rss = rss_kib(d.pid());
    assert!(
        under_qemu_user() || rss < 16 << 10,
        "the 10 MiB line was not held: {rss} KiB"
    );
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn a_thousand_clients_are_refused_past_the_limit_and_others_still_served() {
    let wd = WorkDir::new();
    let links = TwoLinks::new("dmc");
    let d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    let before = rss_kib(d.pid());
    let mut clients = Vec::new();
    for _ in 0..64 {
        clients.push(UnixStream::connect(&d.control).unwrap());
    }
    // Each is served once, so the daemon has surely accepted all 64 before RSS is read.
    for c in &mut clients {
        c.write_all(b"{\"id\":0,\"command\":\"version\"}\n")
            .unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        let mut reply = String::new();
        BufReader::new(c.try_clone().unwrap())
            .read_line(&mut reply)
            .unwrap();
    }
    let idle = rss_kib(d.pid()).saturating_sub(before);
    eprintln!("64 idle clients: +{idle} KiB resident");
    assert!(
        under_qemu_user() || idle <= 64 * 4,
        "idle clients cost {idle} KiB"
    );
    for _ in 64..1000 {
        clients.push(UnixStream::connect(&d.control).unwrap());
    }
    // Each connection past the 64th is told so and closed.
    let mut refused = 0;
    for c in &mut clients[64..] {
        c.set_read_timeout(Some(T)).unwrap();
        let mut text = String::new();
        c.read_to_string(&mut text).unwrap();
        let reply: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(reply["error"]["kind"], "TooManyClients", "{reply}");
        refused += 1;
    }
    assert_eq!(refused, 936);
    // The 64 held ones are served; once they go, others get in.
    let mut first = clients.swap_remove(0);
    first.set_read_timeout(Some(T)).unwrap();
    let mut r = BufReader::new(first.try_clone().unwrap());
    let reply = request(&mut first, &mut r, b"{\"id\":1,\"command\":\"version\"}\n");
    assert_eq!(reply["ok"], true);
    drop(clients);
    drop(first);
    let deadline = Instant::now() + T;
    while !d.ctl(&["version"]).success() {
        assert!(
            Instant::now() < deadline,
            "no client got in after the others left"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_subscriber_that_never_reads_is_dropped_and_the_others_keep_their_events() {
    let wd = WorkDir::new();
    let links = TwoLinks::new("dsl");
    let d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    let mut stalled = UnixStream::connect(&d.control).unwrap();
    stalled
        .write_all(b"{\"id\":1,\"command\":\"subscribe\"}\n")
        .unwrap();
    let mut reader = JsonLines::spawn(&mut d.ctl_command(&["--json", "watch"]));
    std::thread::sleep(Duration::from_millis(200));
    // Address changes, 200 at a time (more at once overrun the netlink socket of a slow
    // daemon, which then resynchronises with a few events instead of one per change), until
    // far more than the bound has been sent.
    let batch: String = (0..200)
        .map(|i| format!("address add 10.90.{}.{}/32 dev bnB\n", i / 250, 1 + i % 250))
        .collect();
    let file = wd.write("batch", &batch);
    let deadline = Instant::now() + T;
    let mut round = 0;
    while !d.log().contains("does not read its events: dropped") {
        assert!(
            Instant::now() < deadline,
            "the stalled subscriber was never dropped:\n{}",
            d.log()
        );
        let verb = if round % 2 == 0 { "add" } else { "del" };
        let text = batch.replace("address add", &format!("address {verb}"));
        std::fs::write(&file, text).unwrap();
        links.client.ip_ok(&["-batch", file.to_str().unwrap()]);
        round += 1;
    }
    // The reading subscriber still gets events, and the daemon answers.
    links.server.ip_ok(&["link", "set", "svA", "down"]);
    reader.wait_for("bnA's carrier loss", T, |v| {
        v["event"] == "changed"
            && v["configuration"]["id"] == "netlink:bnA"
            && v["configuration"]["state"] != "active"
    });
    assert!(d.ctl(&["version"]).success());
    let rss = rss_kib(d.pid());
    assert!(under_qemu_user() || rss < 16 << 10, "{rss} KiB");
    drop(stalled);
}

#[test]
fn waits_per_client_and_jobs_are_bounded() {
    let wd = WorkDir::new();
    let links = TwoLinks::new("dbnd");
    for s in ["svA", "svB"] {
        links.server.ip_ok(&["link", "set", s, "down"]);
    }
    let d = Daemon::start(
        &links.client,
        &wd,
        &["--backend", "netlink", "--max-jobs", "2"],
    );
    // No carrier anywhere: waits for `site` stay; the 17th of one client is refused.
    let mut s = UnixStream::connect(&d.control).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    for i in 0..16 {
        s.write_all(format!("{{\"id\":{i},\"command\":\"wait-online\"}}\n").as_bytes())
            .unwrap();
    }
    let reply = request(&mut s, &mut r, b"{\"id\":16,\"command\":\"wait-online\"}\n");
    assert_eq!(
        (reply["id"].clone(), reply["error"]["kind"].clone()),
        (Value::from(16), Value::from("TooManyWaits")),
        "{reply}"
    );
    // Another client still may.
    let mut other = UnixStream::connect(&d.control).unwrap();
    other
        .write_all(b"{\"id\":1,\"command\":\"wait-online\",\"timeout\":0.2}\n")
        .unwrap();
    let mut line = String::new();
    other.set_read_timeout(Some(T)).unwrap();
    BufReader::new(other).read_line(&mut line).unwrap();
    assert!(line.contains("\"kind\":\"Timeout\""), "{line}");
    // Two jobs fit; the third is refused, saying why.
    for n in 0..2 {
        d.ctl_json(&[
            "fetch",
            "http://10.82.0.1:8080/f",
            "-o",
            wd.join(format!("f{n}")).to_str().unwrap(),
        ]);
    }
    let out = d.ctl(&[
        "fetch",
        "http://10.82.0.1:8080/f",
        "-o",
        wd.join("f2").to_str().unwrap(),
    ]);
    out.assert_code(1);
    assert!(out.stderr.contains("holds 2 jobs already"), "{out:?}");
}
