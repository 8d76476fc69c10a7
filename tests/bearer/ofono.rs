//! oFono tells the cellular generation: a scripted oFono on a private bus names the modem's
//! interface (a veth called wwan0 in a namespace) and its technology; a handover is a
//! pushed event.

use std::time::Duration;

use serde_json::Value;

use crate::peers::*;

const T: Duration = Duration::from_secs(20);

/// A namespace whose veth `wwan0` carries the default route, and a private bus (no oFono
/// on it yet).
fn modem_lab(tag: &str) -> (LinkLab, PrivateBus) {
    let lab = LinkLab::new(tag);
    lab.active_pair("wwan0", "wwpeer", "10.79.0.2/24");
    lab.default_route("wwan0", "10.79.0.1", 100);
    (lab, PrivateBus::new())
}

/// `boardnet --json bearer watch` in the lab, on the bus.
fn watch(lab: &LinkLab, bus: &PrivateBus) -> JsonLines {
    JsonLines::spawn(
        lab.boardnet()
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
            .args(["--json", "bearer", "watch"]),
    )
}

#[test]
fn ofono_names_the_modem_interface_and_its_generation() {
    let (lab, bus) = modem_lab("bofono");
    let ofono = FakeOfono::start(&bus, "wwan0", "umts", "lte");

    let out = run(
        lab.boardnet()
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
            .args(["--json", "status"]),
        T,
    );
    out.assert_success();
    let s: Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    assert!(s["backends"].to_string().contains("ofono"), "{s}");
    let wwan = s["configurations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "netlink:wwan0")
        .unwrap_or_else(|| panic!("{s}"));
    assert_eq!(wwan["family"], "cellular", "{wwan}");
    assert_eq!(wwan["bearer"], "wcdma", "{wwan}");

    // A handover to LTE arrives as a changed configuration.
    let mut watch = watch(&lab, &bus);
    watch.wait_for("the initial picture", T, |v| {
        v["event"] == "update-completed"
    });
    ofono.handover();
    watch.wait_for("LTE", T, |v| {
        v["event"] == "changed"
            && v["configuration"]["id"] == "netlink:wwan0"
            && v["configuration"]["bearer"] == "lte"
    });
    // wait-online can ask for cellular links only.
    let out = run(
        lab.boardnet()
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
            .args(["wait-online", "--bearer", "cellular", "--timeout", "5"]),
        T,
    );
    out.assert_success();
}

#[test]
fn an_ofono_that_starts_later_is_picked_up_and_one_that_stops_let_go() {
    let (lab, bus) = modem_lab("bofl");
    // boardnet first, on a bus without oFono: wwan0 is just a link.
    let mut watch = watch(&lab, &bus);
    watch.wait_for("the initial picture", T, |v| {
        v["event"] == "update-completed"
    });
    // oFono comes onto the bus: its modem's interface becomes cellular, without a restart.
    let ofono = FakeOfono::start(&bus, "wwan0", "lte", "lte");
    watch.wait_for("wwan0 as cellular", T, |v| {
        v["event"] == "changed"
            && v["configuration"]["id"] == "netlink:wwan0"
            && v["configuration"]["family"] == "cellular"
            && v["configuration"]["bearer"] == "lte"
    });
    // oFono goes: the kernel's view again.
    drop(ofono);
    watch.wait_for("wwan0 as a plain link", T, |v| {
        v["event"] == "changed"
            && v["configuration"]["id"] == "netlink:wwan0"
            && v["configuration"]["family"] != "cellular"
    });
}
