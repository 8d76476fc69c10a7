//! What kind of link an interface is: the kernel's hardware type, refined by sysfs
//! (`/sys/class/net/IF`: `wireless`/`phy80211`, the uevent's DEVTYPE, the driver's name).

use std::path::Path;

use crate::bearer::model::{BearerFamily, BearerType};

/// Drivers of cellular modems that present an Ethernet-like or raw-IP netdev.
const CELLULAR_DRIVERS: [&str; 6] = [
    "qmi_wwan",
    "cdc_mbim",
    "sierra_net",
    "huawei_cdc_ncm",
    "ipa",
    "rmnet",
];

/// Classify interface `name` with hardware type `hw_type` (ARPHRD_*), reading sysfs under
/// `class_net` (normally `/sys/class/net`). Missing files just mean "no hint".
pub(crate) fn classify(class_net: &Path, name: &str, hw_type: u16) -> (BearerType, BearerFamily) {
    let dir = class_net.join(name);
    if dir.join("wireless").exists() || dir.join("phy80211").exists() {
        return (BearerType::Wlan, BearerFamily::Wlan);
    }
    let uevent = std::fs::read_to_string(dir.join("uevent")).unwrap_or_default();
    let devtype = uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVTYPE="))
        .unwrap_or_default();
    match devtype {
        "wlan" => return (BearerType::Wlan, BearerFamily::Wlan),
        "wwan" | "ppp" => return (BearerType::Unknown, BearerFamily::Cellular),
        "bluetooth" => return (BearerType::Bluetooth, BearerFamily::Bluetooth),
        "wimax" => return (BearerType::Wimax, BearerFamily::Wimax),
        _ => {}
    }
    let driver = std::fs::read_link(dir.join("device/driver"))
        .ok()
        .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_default();
    if CELLULAR_DRIVERS.contains(&driver.as_str()) {
        return (BearerType::Unknown, BearerFamily::Cellular);
    }
    match hw_type {
        libc::ARPHRD_ETHER => (BearerType::Ethernet, BearerFamily::Ethernet),
        libc::ARPHRD_IEEE80211 | libc::ARPHRD_IEEE80211_RADIOTAP => {
            (BearerType::Wlan, BearerFamily::Wlan)
        }
        libc::ARPHRD_PPP => (BearerType::Unknown, BearerFamily::Cellular),
        _ => (BearerType::Unknown, BearerFamily::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_sysfs() -> std::path::PathBuf {
        let root = std::env::temp_dir().join(format!(
            "boardnet-sysfs-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("wlan0/phy80211")).unwrap();
        std::fs::create_dir_all(root.join("wwan0/device")).unwrap();
        std::fs::create_dir_all(root.join("drivers/qmi_wwan")).unwrap();
        std::os::unix::fs::symlink(
            root.join("drivers/qmi_wwan"),
            root.join("wwan0/device/driver"),
        )
        .unwrap();
        std::fs::create_dir_all(root.join("bnep0")).unwrap();
        std::fs::write(
            root.join("bnep0/uevent"),
            "INTERFACE=bnep0\nDEVTYPE=bluetooth\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("eth0")).unwrap();
        root
    }

    #[test]
    fn sysfs_hints_win_over_the_hardware_type() {
        let root = fake_sysfs();
        let ether = libc::ARPHRD_ETHER;
        assert_eq!(classify(&root, "wlan0", ether).0, BearerType::Wlan);
        assert_eq!(
            classify(&root, "wwan0", ether),
            (BearerType::Unknown, BearerFamily::Cellular)
        );
        assert_eq!(classify(&root, "bnep0", ether).0, BearerType::Bluetooth);
        assert_eq!(classify(&root, "eth0", ether).0, BearerType::Ethernet);
        assert_eq!(
            classify(&root, "ppp0", libc::ARPHRD_PPP).1,
            BearerFamily::Cellular
        );
        assert_eq!(
            classify(&root, "tun0", libc::ARPHRD_NONE),
            (BearerType::Unknown, BearerFamily::Other)
        );
        std::fs::remove_dir_all(root).unwrap();
    }
}
