//! The NetworkManager backend against a real NetworkManager (private bus, namespaces, DHCP
//! peer, NM's own connectivity check), and against broken ones.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::peers::*;

const T: Duration = Duration::from_secs(30);

fn status(lab: &NmLab, backend: &str) -> Value {
    let out = lab.run(&["--json", "status", "--backend", backend], T);
    out.assert_success();
    serde_json::from_str(out.stdout_str().trim()).expect("one JSON object")
}

/// NM's configuration on the veth.
fn nm_config(s: &Value) -> Option<&Value> {
    s["configurations"]
        .as_array()?
        .iter()
        .find(|c| c["backend"] == "networkmanager" && c["interface"] == "vnd")
}

/// Poll `status` until `want` holds (NM's DHCP and connectivity check take seconds).
fn until(lab: &NmLab, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    status_until(|| lab.boardnet(), &[], what, T, want)
}

/// What `nmcli -t -f FIELDS ...` prints, in NM's namespace on its bus.
fn nmcli(lab: &NmLab, args: &[&str]) -> String {
    let out = run(lab.command("nmcli").args(args), T);
    assert!(out.success(), "{out:?}");
    out.stdout_str().to_string()
}

#[test]
fn networkmanager_connections_sessions_and_online_state() {
    let lab = NmLab::new();
    // DHCP, then NM's own connectivity check against the responder: online.
    let s = until(&lab, "online", |s| s["reachability"] == "online");
    assert_eq!(s["online"], true);
    assert_eq!(
        s["backends"],
        serde_json::json!(["netlink", "networkmanager"]),
        "{s}"
    );
    let caps = s["capabilities"].to_string();
    assert!(caps.contains("CanStartAndStopInterfaces"), "{caps}");
    let c = nm_config(&s).unwrap_or_else(|| panic!("no NM connection on vnd: {s}"));
    let id = c["id"].as_str().unwrap().to_string();
    // The same connection as nmcli's: uuid, name, type.
    let active = nmcli(
        &lab,
        &[
            "-t",
            "-f",
            "UUID,NAME,TYPE,DEVICE",
            "connection",
            "show",
            "--active",
        ],
    );
    let line = active
        .lines()
        .find(|l| l.ends_with(":vnd"))
        .unwrap_or_else(|| panic!("nmcli lists no connection on vnd: {active}"));
    let uuid = line.split(':').next().unwrap();
    assert_eq!(id, format!("nm:{uuid}"), "{line}");
    assert!(line.contains(c["name"].as_str().unwrap()), "{line} vs {c}");
    assert!(line.contains(":802-3-ethernet:"), "{line}");
    assert_eq!(
        (&c["state"], &c["bearer"]),
        (&Value::from("active"), &Value::from("ethernet")),
        "{c}"
    );
    assert!(c["addresses"].to_string().contains("10.123.0."), "{c}");
    assert!(
        c["nameservers"].to_string().contains(CONNMAN_PEER),
        "DHCP's DNS server: {c}"
    );
    assert_eq!(c["default_route"], true, "{c}");
    // Its technologies, as ConnMan's are listed: the veth is an Ethernet device, connected.
    let ethernet = s["technologies"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "ethernet"))
        .unwrap_or_else(|| panic!("no ethernet technology: {s}"));
    assert_eq!(
        (&ethernet["powered"], &ethernet["connected"]),
        (&Value::Bool(true), &Value::Bool(true)),
        "{ethernet}"
    );
    // NM's PrimaryConnection is the preferred configuration.
    assert_eq!(s["default"], id.as_str(), "{s}");
    // --backend networkmanager: required and there; netlink alone leaves it out.
    let n = status(&lab, "networkmanager");
    assert_eq!(n["default"], id.as_str(), "{n}");
    let k = status(&lab, "netlink");
    assert!(nm_config(&k).is_none(), "{k}");
    lab.run(
        &[
            "wait-online",
            "--backend",
            "networkmanager",
            "--level",
            "online",
            "--timeout",
            "5",
        ],
        T,
    )
    .assert_success();

    // Sessions: close (DeactivateConnection) leaves the profile listed, not active; open
    // (ActivateConnection) brings it back.
    let out = lab.run(&["--json", "bearer", "close", &id], T);
    out.assert_success();
    let c: Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    assert_ne!(c["state"], "active", "{c}");
    let shown = nmcli(
        &lab,
        &["-t", "-f", "UUID", "connection", "show", "--active"],
    );
    assert!(!shown.contains(uuid), "NM still has it active: {shown}");
    let out = lab.run(&["--json", "bearer", "open", &id, "--timeout", "20"], T);
    out.assert_success();
    let c: Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    assert_eq!(c["state"], "active", "{c}");
    let out = lab.run(
        &["bearer", "open", "nm:00000000-0000-0000-0000-000000000000"],
        T,
    );
    out.assert_code(2);

    // Pushed events: the cable is pulled on the peer's side. NM (after its carrier-loss
    // delay) deactivates the connection: site/online gone; the cable back, online again.
    until(&lab, "online again", |s| s["reachability"] == "online");
    let mut watch = JsonLines::spawn(lab.boardnet().args(["--json", "bearer", "watch"]));
    watch.wait_for("the initial picture", T, |v| {
        v["event"] == "update-completed"
    });
    lab.net.peer.ip_ok(&["link", "set", "vnp", "down"]);
    watch.wait_for("offline", T, |v| {
        v["event"] == "online" && v["online"] == false
    });
    watch.wait_for("the connection no longer active", T, |v| {
        v["event"] == "changed"
            && v["configuration"]["id"] == id.as_str()
            && v["configuration"]["state"] != "active"
    });
    lab.net.peer.ip_ok(&["link", "set", "vnp", "up"]);
    watch.wait_for("the connection active again", T, |v| {
        v["event"] == "changed"
            && v["configuration"]["id"] == id.as_str()
            && v["configuration"]["state"] == "active"
    });
    watch.wait_for("online again", T, |v| {
        v["event"] == "online" && v["online"] == true
    });
    assert_eq!(watch.terminate(T), Some(0));
}

/// A fake NetworkManager ([`nm_fake.py`](../peers/nm_fake.py)) broken as `mode` says.
fn broken_nm(bus: &PrivateBus, mode: &str) -> KillOnDrop {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/nm_fake.py");
    let mut child = Command::new("/usr/bin/python3")
        .args([script, mode])
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the fake NetworkManager");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    assert_eq!(
        line.trim(),
        "ready",
        "the fake NetworkManager did not start"
    );
    KillOnDrop { child }
}

fn on_bus(bus: &PrivateBus, args: &[&str]) -> RunOutput {
    run(
        boardnet()
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address()),
        T,
    )
}

#[test]
fn networkmanager_missing_silent_wrong_or_gone_is_a_clear_error() {
    // Not on the bus: --backend networkmanager is exit 11; auto carries on with the kernel.
    let bus = PrivateBus::new();
    let out = on_bus(&bus, &["status", "--backend", "networkmanager"]);
    out.assert_code(11);
    assert!(
        out.stderr
            .contains("NetworkManager is not on the system bus"),
        "{out:?}"
    );
    let out = on_bus(&bus, &["--json", "status"]);
    out.assert_success();
    assert!(
        out.stdout_str().contains(r#""backends":["netlink"]"#),
        "{out:?}"
    );
    // No bus at all: the same.
    let out = run(
        boardnet()
            .args(["status", "--backend", "nm"])
            .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus"),
        T,
    );
    out.assert_code(11);

    // A reply of the wrong signature: named, not trusted.
    let wrong = broken_nm(&bus, "wrong");
    let out = on_bus(&bus, &["status", "--backend", "networkmanager"]);
    assert!(!out.success(), "{out:?}");
    assert!(
        out.stderr.contains("NetworkManager") && out.stderr.contains("GetManagedObjects"),
        "{out:?}"
    );
    drop(wrong);

    // A daemon that never answers: the wait is bounded (5 s) and says who did not answer;
    // auto gives up on it after the same bound and reports the kernel's view.
    let silent = broken_nm(&bus, "silent");
    let started = Instant::now();
    let out = on_bus(&bus, &["status", "--backend", "networkmanager"]);
    assert!(!out.success(), "{out:?}");
    assert!(
        out.stderr.contains("NetworkManager") && out.stderr.contains("no answer"),
        "{out:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let out = on_bus(&bus, &["--json", "status"]);
    out.assert_success();
    assert!(
        out.stdout_str().contains(r#""backends":["netlink"]"#),
        "{out:?}"
    );

    // The bus goes away in the middle of the call: an error at once, not the whole bound.
    let mut waiting = boardnet()
        .args(["status", "--backend", "networkmanager"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let cut = Instant::now();
    drop(silent);
    drop(bus);
    let status = waiting.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut waiting.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(
        cut.elapsed() < Duration::from_secs(3),
        "took {:?}: {stderr}",
        cut.elapsed()
    );
    assert!(stderr.contains("NetworkManager"), "{stderr}");
}
