//! Wi-Fi (nl80211): this host's kernel has no wireless at all, so these tests rerun in the
//! QEMU x86_64 guest, whose kernel loads mac80211_hwsim (two radios: wlan0, wlan1). hostapd
//! runs a WPA2-PSK access point on wlan1; wpa_supplicant associates wlan0 with it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::peers::*;

const GUEST_TIMEOUT: Duration = Duration::from_secs(240);
const T: Duration = Duration::from_secs(30);
const SSID: &str = "boardnet-lab";
const PASSPHRASE: &str = "boardnet-pass-1";

fn has_wifi() -> bool {
    Path::new("/sys/class/net/wlan0/phy80211").exists()
}

/// On a host without wireless: run `name` in the guest and return true (the caller returns).
fn ran_in_guest(name: &str) -> bool {
    if has_wifi() {
        return false;
    }
    assert!(
        !in_guest(),
        "the QEMU guest must have mac80211_hwsim radios (wlan0, wlan1)"
    );
    run_test_in_guest(name, GUEST_TIMEOUT);
    true
}

fn json_lines(out: &RunOutput) -> Vec<Value> {
    out.stdout_str()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn mac_of(iface: &str) -> String {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/address"))
        .expect("interface address")
        .trim()
        .to_string()
}

/// hostapd serving a WPA2-PSK network on wlan1 (killed on drop).
fn access_point(dir: &Path) -> KillOnDrop {
    require_program("hostapd");
    let conf = dir.join("hostapd.conf");
    std::fs::write(
        &conf,
        format!(
            "interface=wlan1\ndriver=nl80211\nssid={SSID}\nhw_mode=g\nchannel=1\nwpa=2\n\
             wpa_passphrase={PASSPHRASE}\nwpa_key_mgmt=WPA-PSK\nrsn_pairwise=CCMP\n"
        ),
    )
    .unwrap();
    let child = Command::new("hostapd")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("hostapd");
    let ap = KillOnDrop { child };
    // Serving once the interface is in AP mode with the SSID.
    let deadline = Instant::now() + T;
    loop {
        let out = run_boardnet(["--json", "wifi", "status"], T);
        let serving = json_lines(&out)
            .iter()
            .any(|i| i["interface"] == "wlan1" && i["mode"] == "ap" && i["ssid"] == SSID);
        if serving {
            return ap;
        }
        assert!(Instant::now() < deadline, "hostapd never served: {out:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn wifi_needs_kernel_support_and_says_so() {
    if has_wifi() {
        return;
    }
    // This host has no cfg80211: a clear exit 11, for status and scan.
    for action in ["status", "scan"] {
        let out = run_boardnet(["wifi", action], T);
        out.assert_code(11);
        assert!(out.stderr.contains("no nl80211"), "{}", out.stderr);
    }
    let out = run_boardnet(["wifi", "fly"], T);
    out.assert_code(2);
}

#[test]
fn scan_sees_the_access_point_and_status_shows_the_association() {
    if ran_in_guest("wifi::scan_sees_the_access_point_and_status_shows_the_association") {
        return;
    }
    let wd = WorkDir::new();
    // Before anything runs: two radios in station mode, neither associated; both are wlan
    // configurations for the bearer manager.
    let out = run_boardnet(["--json", "wifi", "status"], T);
    out.assert_success();
    let ifaces = json_lines(&out);
    assert!(
        ifaces.iter().any(|i| i["interface"] == "wlan0"
            && i["mode"] == "station"
            && i["associated"] == false),
        "{ifaces:?}"
    );
    let status = run_boardnet(["--json", "status"], T);
    status.assert_success();
    let s: Value = serde_json::from_str(status.stdout_str().trim()).unwrap();
    let wlan0 = s["configurations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "netlink:wlan0")
        .unwrap_or_else(|| panic!("{s}"));
    assert_eq!(wlan0["bearer"], "wlan", "{s}");

    // Without --interface every station radio that is up scans; here none is.
    let all_down = run_boardnet(["wifi", "scan", "--trigger"], T);
    all_down.assert_code(1);
    assert!(
        all_down.stderr.contains("wlan0, wlan1 are down"),
        "{}",
        all_down.stderr
    );
    let _ap = access_point(wd.path());
    // Scanning needs the interface up; down, the kernel refuses and boardnet says why.
    let down = run_boardnet(["wifi", "scan", "--trigger", "--interface", "wlan0"], T);
    down.assert_code(1);
    assert!(down.stderr.contains("wlan0 is down"), "{}", down.stderr);
    let up = run(Command::new("ip").args(["link", "set", "wlan0", "up"]), T);
    assert!(up.success(), "{up:?}");
    // A fresh scan (trigger + the scan-done event on the reactor) finds it with its security.
    let out = run_boardnet(
        [
            "--json",
            "wifi",
            "scan",
            "--trigger",
            "--interface",
            "wlan0",
        ],
        T,
    );
    out.assert_success();
    let aps = json_lines(&out);
    let ap = aps
        .iter()
        .find(|a| a["ssid"] == SSID)
        .unwrap_or_else(|| panic!("{SSID} not in the scan: {aps:?}"));
    assert_eq!(ap["bssid"], mac_of("wlan1"), "{ap}");
    assert_eq!(ap["frequency_mhz"], 2412, "channel 1");
    assert_eq!(ap["security"], serde_json::json!(["psk"]), "{ap}");
    assert!(ap["signal_dbm"].as_f64().is_some(), "{ap}");
    assert_eq!(ap["associated"], false);
    // Human output: a table row with the SSID.
    let text = run_boardnet(["wifi", "scan", "--interface", "wlan0"], T);
    text.assert_success();
    assert!(text.stdout_str().contains(SSID), "{}", text.stdout_str());

    // Associate wlan0 and see it in status: SSID, BSSID, signal, bitrate.
    require_program("wpa_supplicant");
    let conf = wd.path().join("wpa.conf");
    std::fs::write(
        &conf,
        format!("network={{\n ssid=\"{SSID}\"\n psk=\"{PASSPHRASE}\"\n}}\n"),
    )
    .unwrap();
    let _sta = KillOnDrop {
        child: Command::new("wpa_supplicant")
            .args(["-i", "wlan0", "-D", "nl80211", "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("wpa_supplicant"),
    };
    let deadline = Instant::now() + T;
    let station = loop {
        let out = run_boardnet(["--json", "wifi", "status"], T);
        out.assert_success();
        if let Some(i) = json_lines(&out)
            .into_iter()
            .find(|i| i["interface"] == "wlan0" && i["associated"] == true && i["ssid"] == SSID)
        {
            break i;
        }
        assert!(Instant::now() < deadline, "wlan0 never associated: {out:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(station["ssid"], SSID, "{station}");
    assert_eq!(station["bssid"], mac_of("wlan1"), "{station}");
    assert!(station["signal_dbm"].as_i64().is_some(), "{station}");
    assert!(station["tx_bitrate_mbps"].as_f64().is_some(), "{station}");
    let text = run_boardnet(["wifi", "status"], T);
    assert!(
        text.stdout_str()
            .contains(&format!("connected to \"{SSID}\"")),
        "{}",
        text.stdout_str()
    );
    // status: the wlan configuration carries its Wi-Fi link.
    let out = run_boardnet(["--json", "status"], T);
    let s: Value = serde_json::from_str(out.stdout_str().trim()).unwrap();
    let wlan0 = s["configurations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "netlink:wlan0")
        .unwrap_or_else(|| panic!("{s}"));
    assert_eq!(
        wlan0["state"], "discovered",
        "associated, no address yet: {wlan0}"
    );
    assert_eq!(wlan0["wifi"]["ssid"], SSID, "{wlan0}");
    assert_eq!(
        wlan0["wifi"]["security"],
        serde_json::json!(["psk"]),
        "{wlan0}"
    );
    // The scan results now mark the associated network.
    let out = run_boardnet(["--json", "wifi", "scan", "--interface", "wlan0"], T);
    assert!(
        json_lines(&out)
            .iter()
            .any(|a| a["ssid"] == SSID && a["associated"] == true),
        "{out:?}"
    );
}

/// Start `program args` (output discarded), killed on drop.
#[cfg(any(feature = "connman", feature = "networkmanager"))]
fn daemon(program: &str, args: &[&str]) -> KillOnDrop {
    require_program(program);
    KillOnDrop {
        child: Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}")),
    }
}

#[cfg(any(feature = "connman", feature = "networkmanager"))]
fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + T;
    while !f() {
        assert!(Instant::now() < deadline, "never {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(feature = "connman")]
#[test]
fn connman_wifi_service_has_strength_and_security() {
    if ran_in_guest("wifi::connman_wifi_service_has_strength_and_security") {
        return;
    }
    let wd = WorkDir::new();
    // The guest's /run and /var/lib are its own (RAM): the default system bus path is free.
    for d in ["/var/lib/connman", "/run/connman"] {
        std::fs::create_dir_all(d).unwrap();
    }
    let _peers = bus_access_point_and_wpa_supplicant(wd.path());
    std::fs::write(
        "/var/lib/connman/lab.config",
        format!("[service_lab]\nType = wifi\nName = {SSID}\nPassphrase = {PASSPHRASE}\n"),
    )
    .unwrap();
    std::fs::write(
        "/var/lib/connman/settings",
        "[global]\nOfflineMode=false\nTimeUpdates=manual\nTimezoneUpdates=manual\n",
    )
    .unwrap();
    let main_conf = wd.path().join("main.conf");
    std::fs::write(
        &main_conf,
        "[General]\nEnableOnlineCheck=false\nAllowHostnameUpdates=false\n\
         AllowDomainnameUpdates=false\nFallbackTimeservers=\nFallbackNameservers=\n",
    )
    .unwrap();
    let _connman = daemon(
        "connmand",
        &["-n", "-r", "-i", "wlan0", "-c", main_conf.to_str().unwrap()],
    );
    wait_until("connmand on the bus", || has_owner("net.connman"));
    let powered = run(
        Command::new("dbus-send").args([
            "--system",
            "--print-reply",
            "--dest=net.connman",
            "/net/connman/technology/wifi",
            "net.connman.Technology.SetProperty",
            "string:Powered",
            "variant:boolean:true",
        ]),
        T,
    );
    assert!(
        powered.success() || powered.stderr.contains("AlreadyEnabled"),
        "{powered:?}"
    );

    // ConnMan scans, finds the provisioned network, connects (WPA2 through wpa_supplicant).
    let service_of = |s: &Value| {
        s["configurations"].as_array().and_then(|a| {
            a.iter()
                .find(|c| c["backend"] == "connman" && c["network"]["ssid"] == SSID)
                .cloned()
        })
    };
    let s = status_until(
        boardnet,
        &[],
        "an active ConnMan Wi-Fi service",
        Duration::from_secs(60),
        |s| service_of(s).is_some_and(|c| c["state"] == "active"),
    );
    let service = service_of(&s).unwrap();
    assert_eq!(service["bearer"], "wlan", "{service}");
    assert_eq!(service["interface"], "wlan0", "{service}");
    assert!(
        service["network"]["security"].to_string().contains("psk"),
        "{service}"
    );
    let strength = service["network"]["strength"].as_u64().unwrap_or(0);
    assert!(strength > 0 && strength <= 100, "{service}");
    assert!(
        service["id"].as_str().unwrap().starts_with("connman:wifi_"),
        "{service}"
    );
}

/// The guest's own system bus (its /run is RAM), hostapd's access point, then
/// wpa_supplicant on the bus, for a Wi-Fi daemon to drive (in this order).
#[cfg(any(feature = "connman", feature = "networkmanager"))]
fn bus_access_point_and_wpa_supplicant(dir: &Path) -> [KillOnDrop; 3] {
    for d in ["/run/dbus", "/run/wpa_supplicant"] {
        std::fs::create_dir_all(d).unwrap();
    }
    let bus = daemon("dbus-daemon", &["--system", "--nofork", "--nopidfile"]);
    wait_until("a system bus", || {
        Path::new("/run/dbus/system_bus_socket").exists()
    });
    let ap = access_point(dir);
    let wpa = daemon("wpa_supplicant", &["-u", "-s", "-O", "/run/wpa_supplicant"]);
    wait_until("wpa_supplicant on the bus", || {
        has_owner("fi.w1.wpa_supplicant1")
    });
    [bus, ap, wpa]
}

#[cfg(any(feature = "connman", feature = "networkmanager"))]
fn has_owner(name: &str) -> bool {
    let out = run(
        Command::new("dbus-send").args([
            "--system",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/",
            "org.freedesktop.DBus.NameHasOwner",
            &format!("string:{name}"),
        ]),
        T,
    );
    out.stdout_str().contains("true")
}

/// NetworkManager's Wi-Fi profile for the lab network (a fixed address: no DHCP in the guest).
#[cfg(feature = "networkmanager")]
const NM_WIFI_UUID: &str = "6d1c0b8e-4c1a-4c55-9d55-0b0a7d1ab001";

#[cfg(feature = "networkmanager")]
#[test]
fn networkmanager_wifi_connection_and_scan() {
    if ran_in_guest("wifi::networkmanager_wifi_connection_and_scan") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let wd = WorkDir::new();
    let _peers = bus_access_point_and_wpa_supplicant(wd.path());
    // No udev in the guest: the database entries NM waits for, as udev would write them.
    std::fs::create_dir_all("/run/udev/data").unwrap();
    for entry in std::fs::read_dir("/sys/class/net").unwrap() {
        let index = std::fs::read_to_string(entry.unwrap().path().join("ifindex")).unwrap();
        std::fs::write(
            format!("/run/udev/data/n{}", index.trim()),
            "I:1\nE:NM_UNMANAGED=0\n",
        )
        .unwrap();
    }
    let profiles = wd.path().join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    let profile = profiles.join("lab.nmconnection");
    std::fs::write(
        &profile,
        format!(
            "[connection]\nid=lab\nuuid={NM_WIFI_UUID}\ntype=wifi\ninterface-name=wlan0\n\
             [wifi]\nssid={SSID}\nmode=infrastructure\n\
             [wifi-security]\nkey-mgmt=wpa-psk\npsk={PASSPHRASE}\n\
             [ipv4]\nmethod=manual\naddress1=10.77.0.2/24,10.77.0.1\n[ipv6]\nmethod=disabled\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let conf = wd.path().join("NetworkManager.conf");
    std::fs::write(
        &conf,
        format!(
            "[main]\nplugins=keyfile\ndns=none\nrc-manager=unmanaged\nauth-polkit=false\n\
             [keyfile]\npath={}\nunmanaged-devices=interface-name:wlan1\n\
             [device]\nmatch-device=interface-name:wlan0\nmanaged=1\n\
             wifi.scan-rand-mac-address=no\n[connectivity]\nenabled=false\n",
            profiles.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all("/var/lib/NetworkManager").unwrap();
    let _nm = daemon(
        "NetworkManager",
        &["--no-daemon", &format!("--config={}", conf.display())],
    );
    wait_until("NetworkManager on the bus", || {
        has_owner("org.freedesktop.NetworkManager")
    });

    // NM scans, finds the network, connects wlan0 with WPA2 through wpa_supplicant.
    let id = format!("nm:{NM_WIFI_UUID}");
    let configuration = |s: &Value| {
        s["configurations"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["id"] == id.as_str()).cloned())
    };
    let s = status_until(
        boardnet,
        &["--backend", "networkmanager"],
        &format!("NM activating {id}"),
        Duration::from_secs(90),
        |s| configuration(s).is_some_and(|c| c["state"] == "active"),
    );
    let c = configuration(&s).unwrap();
    assert_eq!(
        (&c["bearer"], &c["interface"]),
        (&Value::from("wlan"), &Value::from("wlan0")),
        "{c}"
    );
    assert_eq!(c["name"], "lab", "{c}");
    assert_eq!(c["network"]["ssid"], SSID, "{c}");
    let strength = c["network"]["strength"].as_u64().unwrap_or(0);
    assert!(strength > 0 && strength <= 100, "{c}");
    assert_eq!(c["network"]["security"], serde_json::json!(["psk"]), "{c}");
    assert!(c["addresses"].to_string().contains("10.77.0.2/24"), "{c}");
    assert_eq!(s["default"], id.as_str(), "NM's primary connection: {s}");

    // wifi scan --trigger goes through NM (RequestScan, awaited on LastScan; NM rate-limits
    // scans to one per 8 s while connected, and this guest has no KVM) and lists what NM
    // lists.
    let out = run_boardnet(
        [
            "-v",
            "--json",
            "wifi",
            "scan",
            "--trigger",
            "--interface",
            "wlan0",
            "--timeout",
            "60",
        ],
        Duration::from_secs(90),
    );
    out.assert_success();
    assert!(
        out.stderr.contains("NetworkManager scanned with wlan0"),
        "{}",
        out.stderr
    );
    let ours: std::collections::BTreeSet<String> = json_lines(&out)
        .iter()
        .filter_map(|a| a["bssid"].as_str().map(str::to_string))
        .collect();
    assert!(ours.contains(&mac_of("wlan1")), "{ours:?}");
    let listed = run(
        Command::new("nmcli").args([
            "-t", "-f", "BSSID", "device", "wifi", "list", "ifname", "wlan0", "--rescan", "no",
        ]),
        T,
    );
    assert!(listed.success(), "{listed:?}");
    let theirs: std::collections::BTreeSet<String> = listed
        .stdout_str()
        .lines()
        .map(|l| l.replace("\\:", ":").to_ascii_lowercase())
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        ours, theirs,
        "boardnet's scan and NetworkManager's access points"
    );
}
