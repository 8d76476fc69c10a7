//! The ConnMan backend against a real connmand (private bus, namespaces, DHCP peer).

use std::time::Duration;

use serde_json::Value;

use crate::peers::*;

const T: Duration = Duration::from_secs(30);

fn connman_config(s: &Value) -> Option<&Value> {
    s["configurations"].as_array()?.iter().find(|c| {
        c["backend"] == "connman"
            && c["id"]
                .as_str()
                .is_some_and(|i| i.starts_with("connman:ethernet_"))
    })
}

/// Poll `status` until `want` holds (ConnMan's DHCP and online check take seconds).
fn until(lab: &ConnmanLab, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    status_until(|| lab.boardnet(), &[], what, T, want)
}

#[test]
fn connman_services_sessions_and_online_state() {
    let lab = ConnmanLab::new();
    // DHCP, then ConnMan's own online check against the responder: online.
    let s = until(&lab, "online", |s| s["reachability"] == "online");
    assert_eq!(s["online"], true);
    assert_eq!(
        s["backends"],
        serde_json::json!(["netlink", "connman"]),
        "{s}"
    );
    let caps = s["capabilities"].to_string();
    assert!(caps.contains("CanStartAndStopInterfaces"), "{caps}");
    let c = connman_config(&s).unwrap_or_else(|| panic!("no ConnMan ethernet service: {s}"));
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["state"], "active", "{c}");
    assert_eq!(c["bearer"], "ethernet");
    assert_eq!(c["interface"], "vcd");
    assert!(c["addresses"].to_string().contains("10.123.0."), "{c}");
    assert_eq!(
        s["default"],
        id.as_str(),
        "ConnMan's connected service is the preferred one"
    );
    assert!(
        c["nameservers"].to_string().contains(CONNMAN_PEER),
        "DHCP's DNS server: {c}"
    );
    let ethernet = s["technologies"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "ethernet"))
        .unwrap_or_else(|| panic!("no ethernet technology: {s}"));
    assert_eq!(ethernet["powered"], true, "{ethernet}");
    assert_eq!(ethernet["connected"], true, "{ethernet}");
    // --backend netlink: the kernel's view alone; --backend connman: required and there.
    let out = lab.run(&["--json", "status", "--backend", "netlink"], T);
    out.assert_success();
    let k: Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    assert_eq!(k["backends"], serde_json::json!(["netlink"]), "{k}");
    assert!(connman_config(&k).is_none(), "{k}");
    lab.run(&["status", "--backend", "connman"], T)
        .assert_success();
    // wait-online: ConnMan's online check is enough for --level online.
    lab.run(&["wait-online", "--level", "online", "--timeout", "5"], T)
        .assert_success();

    // Sessions: close (Disconnect) leaves it listed but not active; open (Connect) again.
    let out = lab.run(&["--json", "bearer", "close", &id], T);
    out.assert_success();
    let c: Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    assert_eq!(c["state"], "discovered", "{c}");
    let out = lab.run(&["--json", "bearer", "open", &id, "--timeout", "20"], T);
    out.assert_success();
    let c: Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    assert_eq!(c["state"], "active", "{c}");
    let out = lab.run(&["bearer", "open", "connman:nothing_here"], T);
    out.assert_code(2);

    // Pushed events: the cable is pulled on the peer's side; the service goes away.
    until(&lab, "online again", |s| s["reachability"] == "online");
    let mut watch = JsonLines::spawn(lab.boardnet().args(["--json", "bearer", "watch"]));
    watch.wait_for("the initial picture", T, |v| {
        v["event"] == "update-completed"
    });
    lab.net.peer.ip_ok(&["link", "set", "vcp", "down"]);
    // ConnMan first drops the state (offline), then removes the service.
    watch.wait_for("offline", T, |v| {
        v["event"] == "online" && v["online"] == false
    });
    watch.wait_for("the service removed", T, |v| {
        v["event"] == "removed" && v["id"] == id.as_str()
    });
    lab.net.peer.ip_ok(&["link", "set", "vcp", "up"]);
    watch.wait_for("the service back", T, |v| {
        v["event"] == "added" && v["configuration"]["id"] == id.as_str()
    });
    // Online again (the event may come before or after the service's).
    until(&lab, "online after the cable is back", |s| {
        s["reachability"] == "online"
    });
    assert_eq!(watch.terminate(T), Some(0));
}
