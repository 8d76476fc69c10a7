//! The netlink backend: status, list, watch and wait-online in a namespace of veth pairs.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::peers::*;

const T: Duration = Duration::from_secs(10);
/// How long an event may take to show up before the test fails (events take milliseconds;
/// this only bounds a broken build).
const EVENT: Duration = Duration::from_secs(5);

fn status_json(lab: &LinkLab) -> Value {
    let out = lab.run(&["--json", "status"], T);
    out.assert_success();
    serde_json::from_str(out.stdout_str().trim()).expect("status --json is one JSON object")
}

fn config<'v>(status: &'v Value, id: &str) -> &'v Value {
    status["configurations"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no {id} in {status}"))
}

#[test]
fn status_reports_states_addresses_default_and_reachability() {
    let lab = LinkLab::new("bstat");
    // Nothing but loopback: disconnected, and loopback is not a configuration.
    let s = status_json(&lab);
    assert_eq!(s["reachability"], "disconnected", "{s}");
    assert_eq!(s["configurations"].as_array().map(Vec::len), Some(0), "{s}");
    assert_eq!(s["backends"][0], "netlink");
    assert_eq!(s["online"], false);

    // A pair whose ends are down: defined. One end up, the other down: still no carrier.
    lab.veth("bn0", "bn1");
    lab.up("bn0");
    let s = status_json(&lab);
    assert_eq!(config(&s, "netlink:bn0")["state"], "defined", "{s}");
    assert_eq!(config(&s, "netlink:bn0")["bearer"], "ethernet");
    assert_eq!(
        config(&s, "netlink:bn0")["flags"],
        serde_json::json!(["defined"])
    );

    // Both up: carrier, discovered. An address: active, reachability local.
    lab.up("bn1");
    let s = status_json(&lab);
    assert_eq!(config(&s, "netlink:bn0")["state"], "discovered", "{s}");
    lab.addr("bn0", "10.70.0.2/24");
    lab.addr("bn0", "fd70::2/64");
    let s = status_json(&lab);
    let bn0 = config(&s, "netlink:bn0");
    assert_eq!(bn0["state"], "active", "{s}");
    assert_eq!(
        bn0["flags"],
        serde_json::json!(["defined", "discovered", "active"])
    );
    let addrs: Vec<&str> = bn0["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        addrs.contains(&"10.70.0.2/24") && addrs.contains(&"fd70::2/64"),
        "{s}"
    );
    assert_eq!(s["reachability"], "local");
    assert_eq!(s["default"], Value::Null);

    // A default route through it: site, and it is the default configuration.
    lab.default_route("bn0", "10.70.0.1", 100);
    let s = status_json(&lab);
    assert_eq!(s["reachability"], "site", "{s}");
    assert_eq!(s["default"], "netlink:bn0");
    assert_eq!(config(&s, "netlink:bn0")["default"], true);
    assert_eq!(s["online"], false, "no check URL: never online");

    // Human output: the table marks the default, names the reachability.
    let out = lab.run(&["status"], T);
    out.assert_success();
    let text = out.stdout_str();
    assert!(
        text.contains("reachability: site (default route via bn0)"),
        "{text}"
    );
    assert!(text.contains("*netlink:bn0"), "{text}");
    assert!(text.contains("not checked"), "{text}");

    // list --state filters by rung.
    let out = lab.run(&["bearer", "list", "--state", "active", "--json"], T);
    out.assert_success();
    let ids: Vec<String> = out
        .stdout_str()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["netlink:bn0"], "bn1 has no address");
}

#[test]
fn watch_reports_each_change_as_it_happens() {
    let lab = LinkLab::new("bwatch");
    lab.active_pair("bn0", "bn1", "10.71.0.2/24");
    let mut watch = JsonLines::spawn(lab.boardnet().args(["--json", "bearer", "watch"]));
    watch.wait_for("the initial picture", EVENT, |v| {
        v["event"] == "update-completed"
    });

    // A new link appears.
    lab.veth("bn2", "bn3");
    watch.wait_for("bn2 added", EVENT, |v| {
        v["event"] == "added" && v["configuration"]["id"] == "netlink:bn2"
    });

    // Carrier lost on bn0 (its peer goes down): changed to defined, reachability drops.
    let t0 = Instant::now();
    lab.down("bn1");
    let (at, _) = watch.wait_for("bn0 losing carrier", EVENT, |v| {
        v["event"] == "changed"
            && v["configuration"]["id"] == "netlink:bn0"
            && v["configuration"]["state"] == "defined"
    });
    eprintln!(
        "link down -> event: {:?} (from the ip command's start)",
        at - t0
    );
    watch.wait_for("reachability disconnected", EVENT, |v| {
        v["event"] == "reachability" && v["level"] == "disconnected"
    });

    // Back up, then a default route: site and a preferred configuration.
    lab.up("bn1");
    watch.wait_for("bn0 active again", EVENT, |v| {
        v["event"] == "changed"
            && v["configuration"]["id"] == "netlink:bn0"
            && v["configuration"]["state"] == "active"
    });
    lab.default_route("bn0", "10.71.0.1", 100);
    watch.wait_for("preferred bn0", EVENT, |v| {
        v["event"] == "preferred" && v["id"] == "netlink:bn0"
    });
    watch.wait_for("site", EVENT, |v| {
        v["event"] == "reachability" && v["level"] == "site"
    });

    // The link is deleted: removed (and with it the default route).
    lab.ip(&["link", "del", "bn2"]);
    watch.wait_for("bn2 removed", EVENT, |v| {
        v["event"] == "removed" && v["id"] == "netlink:bn2"
    });
    assert_eq!(watch.terminate(T), Some(0), "SIGTERM ends watch with 0");
}

#[test]
fn the_default_route_moving_between_links_changes_the_preferred_configuration() {
    let lab = LinkLab::new("broam");
    lab.active_pair("bn0", "bn1", "10.72.0.2/24");
    lab.active_pair("bn2", "bn3", "10.73.0.2/24");
    lab.default_route("bn0", "10.72.0.1", 100);
    lab.default_route("bn2", "10.73.0.1", 200);
    let mut watch = JsonLines::spawn(lab.boardnet().args(["--json", "bearer", "watch"]));
    watch.wait_for("the initial picture", EVENT, |v| {
        v["event"] == "update-completed"
    });
    assert_eq!(
        status_json(&lab)["default"],
        "netlink:bn0",
        "lower metric wins"
    );

    // The preferred link loses carrier: the other route takes over.
    lab.down("bn1");
    watch.wait_for("preferred bn2", EVENT, |v| {
        v["event"] == "preferred" && v["id"] == "netlink:bn2"
    });
    // bn0 returns: preferred again (metric 100).
    lab.up("bn1");
    watch.wait_for("preferred bn0", EVENT, |v| {
        v["event"] == "preferred" && v["id"] == "netlink:bn0"
    });
    // Its route is deleted: bn2 again; then bn2's too: no preferred, reachability local.
    lab.ip(&["route", "del", "default", "dev", "bn0"]);
    watch.wait_for("preferred bn2 after delete", EVENT, |v| {
        v["event"] == "preferred" && v["id"] == "netlink:bn2"
    });
    lab.ip(&["route", "del", "default", "dev", "bn2"]);
    watch.wait_for("no preferred", EVENT, |v| {
        v["event"] == "preferred" && v["id"].is_null()
    });
    watch.wait_for("local", EVENT, |v| {
        v["event"] == "reachability" && v["level"] == "local"
    });
}

/// `ip link set DEV down` flushes the link's IPv4 routes without an RTM_DELROUTE. The running
/// view dumps addresses and routes again when a link goes down or up, so after `down; up` a
/// running `watch` says local as a fresh `status` does (it said site and kept the route), and a
/// waiting `wait-online` does not take the flushed route for one (it returned "reached").
#[test]
fn routes_the_kernel_flushes_with_a_link_are_forgotten() {
    let lab = LinkLab::new("bflush");
    lab.active_pair("bn0", "bn1", "10.76.0.2/24");
    lab.default_route("bn0", "10.76.0.1", 100);
    let mut watch = JsonLines::spawn(lab.boardnet().args(["--json", "bearer", "watch"]));
    watch.wait_for("the initial picture", EVENT, |v| {
        v["event"] == "update-completed"
    });
    lab.down("bn0");
    watch.wait_for("disconnected", EVENT, |v| {
        v["event"] == "reachability" && v["level"] == "disconnected"
    });
    lab.up("bn0");
    let (_, back) = watch.wait_for("reachability after up", EVENT, |v| {
        v["event"] == "reachability" && v["level"] != "disconnected"
    });
    assert_eq!(
        back["level"], "local",
        "the route went with the link: {back}"
    );
    assert_eq!(status_json(&lab)["reachability"], "local");
    assert_eq!(watch.terminate(T), Some(0));

    // wait-online for site, running while the link with the route loses it the same way.
    lab.default_route("bn0", "10.76.0.1", 100);
    lab.down("bn1");
    let mut wait =
        JsonLines::spawn(
            lab.boardnet()
                .args(["--json", "wait-online", "--timeout", "3"]),
        );
    std::thread::sleep(Duration::from_millis(300));
    lab.down("bn0");
    lab.up("bn1");
    lab.up("bn0");
    let (_, end) = wait.wait_for("the end of wait-online", EVENT, |v| {
        v["event"] == "reached" || v["event"] == "error"
    });
    assert_eq!(
        end["error"]["class"], "timeout",
        "no default route is left: {end}"
    );
}

#[test]
fn wait_online_returns_as_soon_as_the_level_is_reached() {
    let lab = LinkLab::new("bwait");
    lab.veth("bn0", "bn1");
    // Started before the link has an address or route.
    let mut wait =
        JsonLines::spawn(
            lab.boardnet()
                .args(["--json", "wait-online", "--timeout", "20"]),
        );
    lab.activate("bn0", "bn1", "10.74.0.2/24");
    std::thread::sleep(Duration::from_millis(200));
    let t0 = Instant::now();
    lab.default_route("bn0", "10.74.0.1", 100);
    let (_, reached) = wait.wait_for("reached", EVENT, |v| v["event"] == "reached");
    assert_eq!(reached["level"], "site");
    assert_eq!(reached["interface"], "bn0");
    assert!(t0.elapsed() < EVENT);
    assert_eq!(wait.terminate(T).or(Some(0)), Some(0));

    // Already there: immediate.
    let out = lab.run(&["wait-online", "--timeout", "5"], T);
    out.assert_success();
    // --level local is satisfied by an address alone.
    let out = lab.run(
        &["wait-online", "--level", "local", "--interface", "bn0"],
        T,
    );
    out.assert_success();
}

#[test]
fn wait_online_times_out_with_what_it_saw_and_any_port_suffices() {
    let lab = LinkLab::new("bwto");
    lab.active_pair("bn0", "bn1", "10.75.0.2/24");
    lab.default_route("bn0", "10.75.0.1", 100);
    // A second port that is unplugged (its peer down): it must not hold up the boot.
    lab.veth("bn2", "bn3");
    lab.up("bn2");
    lab.run(&["wait-online", "--timeout", "5"], T)
        .assert_success();

    // Asking for both interfaces waits for both: timeout, exit 5, naming what was seen.
    let started = Instant::now();
    let out = lab.run(
        &[
            "wait-online",
            "--timeout",
            "1",
            "--interface",
            "bn0",
            "--interface",
            "bn2",
        ],
        T,
    );
    out.assert_code(5);
    assert!(started.elapsed() >= Duration::from_secs(1));
    let err = &out.stderr;
    assert!(err.contains("not site after 1.0 s"), "{err}");
    assert!(err.contains("bn2 defined"), "{err}");
    // --any: either is enough.
    lab.run(
        &[
            "wait-online",
            "--timeout",
            "5",
            "--interface",
            "bn0",
            "--interface",
            "bn2",
            "--any",
        ],
        T,
    )
    .assert_success();
    // Only cellular counts: there is none.
    let out = lab.run(
        &["wait-online", "--timeout", "1", "--bearer", "cellular"],
        T,
    );
    out.assert_code(5);
    assert!(
        out.stderr.contains("no matching interface"),
        "{}",
        out.stderr
    );
    // An interface that does not exist is named.
    let out = lab.run(
        &["wait-online", "--timeout", "1", "--interface", "nope0"],
        T,
    );
    out.assert_code(5);
    assert!(out.stderr.contains("nope0 absent"), "{}", out.stderr);
}

#[test]
fn online_needs_a_check_url_that_answers() {
    let lab = LinkLab::new("bonl");
    lab.active_pair("bn0", "bn1", "10.76.0.2/24");
    lab.default_route("bn0", "10.76.0.1", 100);
    let out = lab.run(&["wait-online", "--level", "online"], T);
    out.assert_code(2);
    assert!(out.stderr.contains("--check-url"), "{}", out.stderr);

    // A responder inside the namespace, on its loopback.
    let port = free_port();
    let _server = lab.ns.http_server("127.0.0.1", port, &std::env::temp_dir());
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = Instant::now() + T;
    loop {
        let s = lab.run(&["--json", "status", "--check-url", &url], T);
        s.assert_success();
        let v: Value = serde_json::from_str(s.stdout_str().trim()).unwrap();
        if v["online"] == true {
            assert_eq!(v["reachability"], "online");
            break;
        }
        assert!(Instant::now() < deadline, "never online: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
    lab.run(&["wait-online", "--timeout", "5", "--check-url", &url], T)
        .assert_success();
    // A URL that refuses: site, not online; wait-online for online times out.
    let dead = format!("http://127.0.0.1:{}/", free_port());
    let s = lab.run(&["--json", "status", "--check-url", &dead], T);
    let v: Value = serde_json::from_str(s.stdout_str().trim()).unwrap();
    assert_eq!(
        (v["reachability"].as_str(), v["online"].as_bool()),
        (Some("site"), Some(false))
    );
    lab.run(&["wait-online", "--timeout", "1", "--check-url", &dead], T)
        .assert_code(5);
}

/// A connectivity check responder in `lab`'s namespace that answers 204 after `delay_s`
/// seconds; returns once it listens.
fn slow_check_responder(lab: &LinkLab, port: u16, delay_s: u32) -> KillOnDrop {
    let script = format!(
        "import http.server, time\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       time.sleep({delay_s}); self.send_response(204); self.end_headers()\n\
         s = http.server.HTTPServer(('127.0.0.1', {port}), H)\n\
         print('ready', flush=True)\n\
         s.serve_forever()\n"
    );
    let child = lab
        .ns
        .command("python3")
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 responder");
    let mut responder = KillOnDrop { child };
    assert_eq!(first_line(&mut responder, START_TIMEOUT).trim(), "ready");
    responder
}

#[test]
fn link_events_flow_while_a_slow_connectivity_check_runs() {
    let lab = LinkLab::new("bslow");
    let port = free_port();
    let _responder = slow_check_responder(&lab, port, 3);
    let url = format!("http://127.0.0.1:{port}/");
    let mut watch =
        JsonLines::spawn(
            lab.boardnet()
                .args(["--json", "bearer", "watch", "--check-url", &url]),
        );
    watch.wait_for("the initial picture", EVENT, |v| {
        v["event"] == "update-completed"
    });
    lab.active_pair("bn0", "bn1", "10.78.0.2/24");
    lab.default_route("bn0", "10.78.0.1", 100);
    // Site comes at once; the check through bn0 now waits 3 s for its answer.
    let (site_at, _) = watch.wait_for("site", EVENT, |v| {
        v["event"] == "reachability" && v["level"] == "site"
    });
    // A link comes and flaps during the check: each change is reported while the check waits.
    lab.veth("bn2", "bn3");
    lab.up("bn3");
    lab.up("bn2");
    let bn2_is = |state: &'static str| {
        move |v: &Value| {
            v["event"] == "changed"
                && v["configuration"]["id"] == "netlink:bn2"
                && v["configuration"]["state"] == state
        }
    };
    watch.wait_for("bn2 with carrier", EVENT, bn2_is("discovered"));
    lab.down("bn3");
    watch.wait_for("bn2 losing carrier", EVENT, bn2_is("defined"));
    lab.up("bn3");
    let (flap_at, _) = watch.wait_for("bn2 with carrier again", EVENT, bn2_is("discovered"));
    let online_seen = |w: &JsonLines| w.seen.iter().any(|l| l.contains("\"online\""));
    assert!(
        !online_seen(&watch),
        "the link events waited for the check: {:#?}",
        watch.seen
    );
    let (online_at, _) = watch.wait_for("online once the check answers", EVENT, |v| {
        v["event"] == "reachability" && v["level"] == "online"
    });
    eprintln!(
        "site -> flap reported: {:?}; site -> online (check answer): {:?}",
        flap_at - site_at,
        online_at - site_at
    );
    assert!(online_at > flap_at);
    assert_eq!(watch.terminate(T), Some(0));
}

#[test]
fn stats_are_the_kernels_current_counters() {
    let lab = LinkLab::new("bstats");
    lab.active_pair("bn0", "bn1", "10.77.0.2/24");
    let sysfs = |counter: &str| -> u64 {
        let mut cat = lab.ns.command("cat");
        cat.arg(format!("/sys/class/net/bn0/statistics/{counter}"));
        run(&mut cat, T)
            .stdout_str()
            .trim()
            .parse()
            .expect("a counter")
    };
    let stats = |lab: &LinkLab| -> Value {
        let out = lab.run(&["--json", "bearer", "stats", "netlink:bn0"], T);
        out.assert_success();
        serde_json::from_str(out.stdout_str().trim()).unwrap()
    };
    let before = stats(&lab);
    // Datagrams to an absent neighbour: ARP requests leave through bn0 (and arrive on bn1).
    lab.ns.run_in(|| {
        let udp = std::net::UdpSocket::bind("10.77.0.2:0").unwrap();
        for _ in 0..3 {
            let _ = udp.send_to(b"x", "10.77.0.9:9");
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let kernel_tx = sysfs("tx_bytes");
    let after = stats(&lab);
    let tx = after["tx_bytes"].as_u64().unwrap();
    assert!(
        tx > before["tx_bytes"].as_u64().unwrap(),
        "{before} -> {after}"
    );
    assert!(
        tx >= kernel_tx,
        "boardnet {tx} < sysfs {kernel_tx}: not fresh"
    );
    assert_eq!(after["interface"], "bn0");
    let out = lab.run(&["bearer", "stats", "netlink:bn0"], T);
    assert!(out.stdout_str().contains("sent"), "{}", out.stdout_str());
    lab.run(&["bearer", "stats", "netlink:nope"], T)
        .assert_code(2);
}

#[test]
fn sessions_on_kernel_links_wait_for_them_and_count_traffic() {
    use boardnet::bearer::{Manager, ManagerOptions, Session, StateFlags};
    use boardnet::reactor::Reactor;
    use boardnet::Classify;
    let lab = LinkLab::new("bsess");
    lab.veth("bn0", "bn1");
    // The CLI: open waits until the link is active by itself; close cannot stop it.
    let mut open = JsonLines::spawn(lab.boardnet().args([
        "--json",
        "bearer",
        "open",
        "netlink:bn0",
        "--timeout",
        "20",
    ]));
    std::thread::sleep(Duration::from_millis(300));
    lab.activate("bn0", "bn1", "10.78.0.2/24");
    let (_, c) = open.wait_for("the opened configuration", EVENT, |v| {
        v["id"] == "netlink:bn0"
    });
    assert_eq!(c["state"], "active", "{c}");
    let out = lab.run(&["bearer", "close", "netlink:bn0"], T);
    out.assert_code(11);
    assert!(out.stderr.contains("cannot stop"), "{}", out.stderr);
    lab.down("bn1");

    // The library: Session::open waits the same way, then counts from that moment.
    let ns = lab.ns.name().to_string();
    let activate = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let up = std::process::Command::new("ip")
            .args(["-n", &ns, "link", "set", "bn1", "up"])
            .status();
        assert!(up.is_ok_and(|s| s.success()));
    });
    lab.ns.run_in(|| {
        let mut reactor = Reactor::new().unwrap();
        let mut manager = Manager::open(&mut reactor, ManagerOptions::default()).unwrap();
        manager.wait_for_update(&mut reactor, T).unwrap();
        let session = Session::open(&mut manager, &mut reactor, "netlink:bn0", T).unwrap();
        assert_eq!(session.state(&manager), StateFlags::Active);
        // A datagram to an absent neighbour: ARP requests leave through bn0.
        let udp = std::net::UdpSocket::bind("10.78.0.2:0").unwrap();
        for _ in 0..3 {
            let _ = udp.send_to(b"x", "10.78.0.9:9");
            std::thread::sleep(Duration::from_millis(100));
        }
        let traffic = session.traffic(&mut manager, &mut reactor, T).unwrap();
        assert!(traffic.tx_bytes > 0, "{traffic:?}");
        assert!(session.active_time() >= Duration::from_millis(200));
        let (session, e) = session
            .close(&mut manager, &mut reactor, T)
            .expect_err("a kernel link cannot be stopped");
        assert_eq!(e.class(), boardnet::ErrorClass::Unsupported);
        assert_eq!(session.id(), "netlink:bn0");
    });
    activate.join().unwrap();
}

#[cfg(feature = "connman")]
#[test]
fn a_required_connman_that_is_not_there_is_exit_11() {
    let out = run(
        boardnet()
            .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .args(["status", "--backend", "connman"]),
        T,
    );
    out.assert_code(11);
    assert!(
        out.stderr.contains("ConnMan is not on the system bus"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_input_and_unsupported_actions_have_their_exit_codes() {
    for (args, code, needle) in [
        (&["bearer", "list", "--state", "on"][..], 2, "--state"),
        (&["wait-online", "--level", "nowhere"][..], 2, "--level"),
        (&["wait-online", "--bearer", "pigeon"][..], 2, "--bearer"),
        (&["bearer", "frobnicate"][..], 2, "unknown action"),
        (
            &["bearer", "open", "netlink:no-such-link"][..],
            2,
            "no configuration",
        ),
        (&["status", "--backend", "pigeon"][..], 2, "--backend"),
    ] {
        let out = run_boardnet(args, T);
        out.assert_code(code);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
}
