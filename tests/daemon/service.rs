//! The service itself: state and events over the control socket, hooks, systemd readiness and
//! the SysV init script.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lab::*;
use crate::peers::*;

#[test]
fn status_equals_the_cli_and_a_link_flap_reaches_subscribers_and_hooks() {
    let wd = WorkDir::new();
    let links = TwoLinks::new("dsv");
    let d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    let record = wd.join("hooks.out");
    let vars = [
        "BOARDNET_CONFIGURATION",
        "BOARDNET_INTERFACE",
        "BOARDNET_BEARER",
    ];
    recording_hook(&d.hooks, "10-first", &record, &vars);
    recording_hook(&d.hooks, "20-second", &record, &vars);

    // `status` is the very object `boardnet status --json` prints.
    let from_daemon = d.ctl_json(&["status"]);
    let out = run(
        links
            .client
            .boardnet()
            .args(["--json", "status", "--backend", "netlink"]),
        T,
    );
    out.assert_success();
    let from_cli: Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    assert_eq!(from_daemon, from_cli);
    assert_eq!(from_daemon["default"], "netlink:bnA");

    // A subscriber sees the preferred link lose its carrier, and the move to bnB.
    let mut watch = JsonLines::spawn(&mut d.ctl_command(&["--json", "watch"]));
    std::thread::sleep(Duration::from_millis(200));
    let cut = Instant::now();
    links.server.ip_ok(&["link", "set", "svA", "down"]);
    let (seen, _) = watch.wait_for("bnA losing its carrier", T, |v| {
        v["event"] == "changed" && v["configuration"]["id"] == "netlink:bnA"
    });
    watch.wait_for("the move to bnB", T, |v| {
        v["event"] == "preferred" && v["id"] == "netlink:bnB"
    });
    let latency = seen.duration_since(cut);
    eprintln!("link down -> event at the subscriber: {latency:?} (ip included)");
    assert!(latency < Duration::from_secs(2), "{latency:?}");

    // The hooks ran for it: in name order, one event at a time, with its variables.
    let deadline = Instant::now() + T;
    let wanted = [
        "10-first down BOARDNET_CONFIGURATION=netlink:bnA BOARDNET_INTERFACE=bnA BOARDNET_BEARER=ethernet",
        "20-second down BOARDNET_CONFIGURATION=netlink:bnA BOARDNET_INTERFACE=bnA BOARDNET_BEARER=ethernet",
        "10-first preferred-changed BOARDNET_CONFIGURATION=netlink:bnB BOARDNET_INTERFACE=bnB",
        "20-second preferred-changed BOARDNET_CONFIGURATION=netlink:bnB BOARDNET_INTERFACE=bnB",
    ];
    loop {
        let text = read_lossy(&record);
        let lines: Vec<&str> = text.lines().collect();
        let positions: Vec<Option<usize>> = wanted
            .iter()
            .map(|w| lines.iter().position(|l| l.starts_with(w)))
            .collect();
        if positions.iter().all(Option::is_some) {
            let p: Vec<usize> = positions.into_iter().flatten().collect();
            assert!(p[0] < p[1] && p[2] < p[3], "hooks out of order:\n{text}");
            assert!(
                p[1] < p[2] || p[3] < p[0],
                "two events' hooks interleaved:\n{text}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "hooks did not run as expected:\n{text}\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn untrusted_and_slow_hooks_are_not_allowed_to_hold_anything_up() {
    let wd = WorkDir::new();
    let links = TwoLinks::new("dhk");
    let d = Daemon::start(
        &links.client,
        &wd,
        &["--backend", "netlink", "--hook-timeout", "1"],
    );
    let record = wd.join("hooks.out");
    std::fs::write(d.hooks.join("05-slow"), "#!/bin/sh\nsleep 30\n").unwrap();
    std::fs::set_permissions(
        d.hooks.join("05-slow"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    recording_hook(&d.hooks, "10-open", &record, &[]);
    std::fs::set_permissions(
        d.hooks.join("10-open"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    recording_hook(&d.hooks, "20-fine", &record, &[]);
    let t0 = Instant::now();
    links.server.ip_ok(&["link", "set", "svB", "down"]);
    // The event reaches subscribers and status at once, whatever the hooks do.
    let status = d.ctl_json(&["status"]);
    assert!(
        t0.elapsed() < Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
    assert!(status.is_object());
    let deadline = Instant::now() + T;
    while !read_lossy(&record).contains("20-fine down") {
        assert!(Instant::now() < deadline, "20-fine never ran:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "the slow hook was not waited for"
    );
    let log = d.log();
    assert!(
        log.contains("hook 05-slow: still running after 1 s: killed"),
        "{log}"
    );
    assert!(
        log.contains("10-open: writable by group or others: not run"),
        "{log}"
    );
    assert!(!read_lossy(&record).contains("10-open"));
}

#[test]
fn systemd_readiness_status_watchdog_and_a_clean_stop() {
    let wd = WorkDir::new();
    let links = TwoLinks::new("dsd");
    let notify_path = wd.join("notify");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut d = Daemon::start_with_env(
        &links.client,
        &wd,
        &["--backend", "netlink"],
        &[
            ("NOTIFY_SOCKET", notify_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let t0 = Instant::now();
    while !(got.iter().any(|m: &String| m == "WATCHDOG=1") && got.len() >= 3) {
        let n = notify.recv(&mut buf).expect("a notification");
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        if message == "READY=1" {
            assert!(
                d.control.exists(),
                "READY=1 before the control socket listened"
            );
        }
        got.push(message);
        assert!(t0.elapsed() < T, "{got:?}");
    }
    assert_eq!(got[0], "READY=1", "{got:?}");
    assert!(
        got.iter().any(|m| m.starts_with("STATUS=site via bnA")),
        "{got:?}"
    );
    let (code, took) = d.terminate();
    assert_eq!(code, Some(0), "{}", d.log());
    assert!(took < Duration::from_secs(2), "{took:?}");
    loop {
        let n = notify.recv(&mut buf).expect("STOPPING=1");
        if &buf[..n] == b"STOPPING=1" {
            break;
        }
    }
    assert!(!d.control.exists(), "the socket file is removed on stop");
}

#[test]
fn the_init_script_starts_reports_and_stops_the_daemon() {
    require_program("start-stop-daemon");
    let wd = WorkDir::new();
    let links = TwoLinks::new("dini");
    let control = wd.join("control");
    let pidfile = wd.join("boardnet.pid");
    let defaults = wd.write(
        "default-boardnet",
        format!(
            "BOARDNET={}\nPIDFILE={}\nBOARDNET_CONTROL={}\nBOARDNET_WAIT_TIMEOUT=10\nBOARDNET_DAEMON_ARGS=\"--config /dev/null --control {} --state-dir {} --hooks {} --backend netlink\"\n",
            boardnet_path(),
            pidfile.display(),
            control.display(),
            control.display(),
            wd.join("state").display(),
            wd.join("hooks").display()
        ),
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/board/rootfs/etc/init.d/S40boardnet"
    );
    let init = |action: &str| {
        run(
            links
                .client
                .command("sh")
                .args([script, action])
                .env("BOARDNET_DEFAULTS", &defaults),
            T,
        )
    };
    init("start").assert_success();
    let deadline = Instant::now() + T;
    let ctl = || {
        run(
            boardnet()
                .arg("ctl")
                .arg("--control")
                .arg(&control)
                .arg("version"),
            T,
        )
    };
    while !ctl().success() {
        assert!(Instant::now() < deadline, "the daemon never answered");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = init("status");
    status.assert_success();
    assert!(status.stdout_str().contains("is running"), "{status:?}");
    init("restart").assert_success();
    init("stop").assert_success();
    assert!(!pidfile.exists());
    let status = init("status");
    status.assert_code(3);
    assert!(!ctl().success());
}

#[test]
fn syslog_gets_the_log_when_asked() {
    let wd = WorkDir::new();
    let links = TwoLinks::new("dsys");
    // A private /dev whose `log` is the test's socket (the host may have no syslog daemon).
    let log_path = wd.join("devlog");
    let log = UnixDatagram::bind(&log_path).unwrap();
    log.set_read_timeout(Some(T)).unwrap();
    let script = format!(
        "mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && ln -s {} /dev/log && exec \"$@\"",
        log_path.display()
    );
    let mut child = links
        .client
        .command("unshare")
        .args(["-m", "sh", "-c", &script, "sh"])
        .args(boardnet_argv())
        .args([
            "daemon",
            "--config",
            "/dev/null",
            "--syslog",
            "--backend",
            "netlink",
        ])
        .arg("--control")
        .arg(wd.join("control"))
        .arg("--state-dir")
        .arg(wd.join("state"))
        .arg("--hooks")
        .arg(wd.join("hooks"))
        .spawn()
        .unwrap();
    let mut buf = [0u8; 2048];
    let mut seen = Vec::new();
    let ready = loop {
        let n = log
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("{e}; seen {seen:?}"));
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        if line.contains("daemon: ready") {
            break line;
        }
        seen.push(line);
    };
    // <30> is facility daemon (3 << 3) + info (6); tagged with the pid.
    assert!(ready.starts_with("<30>"), "{ready}");
    assert!(ready.contains("boardnet["), "{ready}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn sessions_and_scans_run_as_children_and_reply_when_done() {
    let wd = WorkDir::new();
    let links = TwoLinks::new("dses");
    let d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    // A kernel link is open once active: the reply is its configuration.
    let open = d.ctl_json(&["open", "netlink:bnA"]);
    assert_eq!(open["id"], "netlink:bnA", "{open}");
    assert_eq!(open["state"], "active", "{open}");
    // It cannot be closed: the child's class and message come back.
    let out = d.ctl(&["close", "netlink:bnA"]);
    out.assert_code(11);
    assert!(out.stderr.contains("cannot stop interfaces"), "{out:?}");
    d.ctl(&["open", "netlink:nosuch"]).assert_code(2);
    // No wireless in the namespace: the scan says so.
    let out = d.ctl(&["scan"]);
    assert!(out.code == Some(11) || out.success(), "{out:?}");
    // The loop kept serving while the children ran.
    assert!(d.ctl(&["version"]).success());
}

#[test]
#[cfg(feature = "connman")]
fn connman_services_close_and_open_through_the_daemon() {
    let lab = ConnmanLab::new();
    sessions_through_the_daemon(&lab.net, lab.bus_address(), "connman");
}

#[cfg(feature = "networkmanager")]
#[test]
fn networkmanager_connections_close_and_open_through_the_daemon() {
    let lab = NmLab::new();
    sessions_through_the_daemon(&lab.net, lab.bus_address(), "networkmanager");
}

/// The daemon on `backend`'s bus: wait-online (the daemon's own online check counts), then
/// `ctl close` and `ctl open` of its configuration.
#[cfg(any(feature = "connman", feature = "networkmanager"))]
fn sessions_through_the_daemon(net: &DhcpLink, bus_address: &str, backend: &str) {
    let wd = WorkDir::new();
    let on_bus = || {
        run(
            net.dut
                .boardnet()
                .args(["status", "--backend", backend])
                .env("DBUS_SYSTEM_BUS_ADDRESS", bus_address),
            T,
        )
        .success()
    };
    // (A daemon that comes later is picked up too; starting after it keeps this test short.)
    let deadline = Instant::now() + T;
    while !on_bus() {
        assert!(Instant::now() < deadline, "{backend} never came on its bus");
        std::thread::sleep(Duration::from_millis(100));
    }
    let d = Daemon::start_with_env(
        &net.dut,
        &wd,
        &[],
        &[("DBUS_SYSTEM_BUS_ADDRESS", bus_address)],
    );
    let configuration = |status: &Value| {
        status["configurations"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["backend"] == backend).cloned())
    };
    // DHCP and the daemon's online check take seconds: wait-online through the daemon.
    let out = d.ctl(&["wait-online", "--level", "online", "--timeout", "30"]);
    out.assert_success();
    let status = d.ctl_json(&["status"]);
    let id = configuration(&status).unwrap_or_else(|| panic!("{status}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    d.ctl(&["close", &id]).assert_success();
    let s = d.ctl_json(&["status"]);
    assert_ne!(configuration(&s).unwrap()["state"], "active", "{s}");
    let opened = d.ctl_json(&["open", &id]);
    assert_eq!(opened["state"], "active", "{opened}");
}

#[test]
fn the_protocol_docs_examples_work_with_socat_and_python() {
    require_program("socat");
    let wd = WorkDir::new();
    let links = TwoLinks::new("dsoc");
    let d = Daemon::start(&links.client, &wd, &["--backend", "netlink"]);
    // docs/protocol.md: `echo REQUEST | socat - UNIX-CONNECT:…` — socat closes its sending
    // side after the line and waits for the reply.
    let out = run_with_input(
        std::process::Command::new("socat")
            .arg("-")
            .arg(format!("UNIX-CONNECT:{}", d.control.display())),
        b"{\"id\":1,\"command\":\"status\"}\n",
        T,
    );
    out.assert_success();
    let reply: Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    assert_eq!(reply["id"], 1);
    assert_eq!(reply["result"]["default"], "netlink:bnA", "{reply}");
    // The Python subscriber of docs/protocol.md, reading until the first link event.
    let script = format!(
        "import json, socket\ns = socket.socket(socket.AF_UNIX); s.connect({:?})\nf = s.makefile('rw')\n\
         f.write(json.dumps({{'id': 1, 'command': 'subscribe'}}) + '\\n'); f.flush()\n\
         for line in f:\n    v = json.loads(line)\n    print(line, end='', flush=True)\n    if v.get('event') == 'changed': break\n",
        d.control.display().to_string()
    );
    let mut python = JsonLines::spawn(std::process::Command::new("python3").args(["-c", &script]));
    python.wait_for("the subscribe reply", T, |v| {
        v["result"]["subscribed"] == true
    });
    links.server.ip_ok(&["link", "set", "svB", "down"]);
    python.wait_for("bnB's change", T, |v| {
        v["event"] == "changed" && v["configuration"]["id"] == "netlink:bnB"
    });
}
