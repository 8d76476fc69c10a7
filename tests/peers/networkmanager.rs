//! A real NetworkManager for bearer tests ([`NmLab`]): `NetworkManager --no-daemon` on a
//! private system bus inside a network namespace, with DHCP and its connectivity check served
//! from a peer namespace ([`DhcpLink`]). NM's /var/lib and /run are tmpfs in its mount
//! namespace; its profiles live in the test's directory. There is no udev in a namespace: the
//! start script writes the udev database entries NM waits for (`/run/udev/data/n<ifindex>`,
//! on the tmpfs) so that it manages the veth, as udev would on a board.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::{find_program, require_root_or_fail, DhcpLink, KillOnDrop, PrivateBus};

/// NM's configuration (`@DIR@`: the run's directory); shared with bench/networkmanager.sh.
const NM_CONF: &str = include_str!("networkmanager/NetworkManager.conf");

/// NM's start script, run inside `ip netns exec`; shared with bench/networkmanager.sh.
const RUN_NM: &str = include_str!("networkmanager/run-nm.sh");

pub struct NmLab {
    /// NetworkManager runs in `net.dut` (veth `vnd`); `net.peer`'s `vnp` is the cable.
    pub net: DhcpLink,
    bus_address: String,
    // The namespaces go first (their processes with them), then these.
    _nm: KillOnDrop,
    _bus: PrivateBus,
}

impl NmLab {
    pub fn new() -> NmLab {
        require_root_or_fail("NetworkManager in a network namespace");
        for p in [
            "NetworkManager",
            "dbus-daemon",
            "dnsmasq",
            "ethtool",
            "python3",
        ] {
            assert!(
                find_program(p).is_some(),
                "{p} is missing (tests/setup.sh installs network-manager dbus dnsmasq-base ethtool)"
            );
        }
        let bus = PrivateBus::new();
        let dir = bus.dir().to_path_buf();
        std::fs::create_dir_all(dir.join("profiles")).unwrap();
        let conf = dir.join("NetworkManager.conf");
        std::fs::write(&conf, NM_CONF.replace("@DIR@", &dir.to_string_lossy())).unwrap();
        std::fs::write(dir.join("run-nm.sh"), RUN_NM).unwrap();
        let bus_address = bus.address().to_string();
        let net = DhcpLink::new("nm", "vnd", "vnp", &dir);
        let nm = KillOnDrop {
            child: net
                .dut
                .command("sh")
                .arg(dir.join("run-nm.sh"))
                .arg(&conf)
                .env("DBUS_SYSTEM_BUS_ADDRESS", &bus_address)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("NetworkManager"),
        };
        NmLab {
            net,
            bus_address,
            _nm: nm,
            _bus: bus,
        }
    }

    /// The `DBUS_SYSTEM_BUS_ADDRESS` of NM's bus.
    pub fn bus_address(&self) -> &str {
        &self.bus_address
    }

    /// A program in NM's namespace, on its bus.
    pub fn command(&self, program: &str) -> Command {
        let mut c = self.net.dut.command(program);
        c.env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus_address);
        c
    }

    /// boardnet in NM's namespace, on its bus.
    pub fn boardnet(&self) -> Command {
        let mut c = self.net.dut.boardnet();
        c.env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus_address);
        c
    }

    /// `boardnet ARGS` in NM's namespace, to completion.
    pub fn run(&self, args: &[&str], timeout: Duration) -> super::RunOutput {
        super::run(self.boardnet().args(args), timeout)
    }
}
