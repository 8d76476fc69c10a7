//! A real ConnMan for bearer tests ([`ConnmanLab`]): connmand 1.41 on a private system bus
//! (its own dbus-daemon, socket in the test's directory) inside a network namespace, with a
//! DHCP server (dnsmasq) and an online-check responder in a peer namespace over a veth
//! pair. Nothing touches the host: connmand's /var/lib and /run are tmpfs inside its mount
//! namespace, and its resolv.conf is the namespace's (/etc/netns/NAME/resolv.conf).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{find_program, require_root_or_fail, KillOnDrop, Netns, WorkDir};

/// The peer's address: DHCP server, default router, online-check responder.
pub const CONNMAN_PEER: &str = "10.123.0.1";

const BUS_CONF: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=@DIR@/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/> <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/> <allow receive_sender="*"/> <allow eavesdrop="true"/>
  </policy>
</busconfig>
"#;

const MAIN_CONF: &str = "[General]
EnableOnlineCheck=true
OnlineCheckIPv4URL=http://10.123.0.1:8080/online/status.html
OnlineCheckIPv6URL=http://10.123.0.1:8080/online/status.html
OnlineCheckInitialInterval=1
OnlineCheckMaxInterval=2
AllowHostnameUpdates=false
AllowDomainnameUpdates=false
FallbackTimeservers=
FallbackNameservers=
";

/// What both daemons' online checks want: ConnMan (/online/status.html) a header and no body
/// (with one it looks for a captive portal's), NetworkManager (/check) its body.
const ONLINE_PY: &str = r#"
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"NetworkManager is online" if self.path == "/check" else b""
        self.send_response(200); self.send_header("X-ConnMan-Status", "online")
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("10.123.0.1", 8080), H).serve_forever()
"#;

/// Inside `ip netns exec`: hide the host's /var/lib and /run from connmand.
const RUN_CONNMAND: &str = r#"set -e
mount -t tmpfs tmpfs /var/lib; mkdir -p /var/lib/connman
printf '[global]\nOfflineMode=false\nTimeUpdates=manual\nTimezoneUpdates=manual\n' > /var/lib/connman/settings
mount -t tmpfs tmpfs /run; mkdir -p /run/connman
exec connmand -n -r -c "$1"
"#;

/// A private D-Bus system bus (its own dbus-daemon, socket in a work directory); point
/// programs at it with `DBUS_SYSTEM_BUS_ADDRESS` = [`address`](Self::address).
pub struct PrivateBus {
    address: String,
    _bus: KillOnDrop,
    wd: WorkDir,
}

impl PrivateBus {
    pub fn new() -> PrivateBus {
        assert!(
            find_program("dbus-daemon").is_some(),
            "dbus-daemon is missing (tests/setup.sh installs dbus)"
        );
        let wd = WorkDir::new();
        let dir = wd.path().to_path_buf();
        let conf = dir.join("bus.conf");
        std::fs::write(&conf, BUS_CONF.replace("@DIR@", &dir.to_string_lossy())).unwrap();
        let socket = dir.join("system_bus_socket");
        let bus = spawn(
            Command::new("dbus-daemon")
                .arg(format!("--config-file={}", conf.display()))
                .arg("--nofork"),
            "dbus-daemon",
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "dbus-daemon made no socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        PrivateBus {
            address: format!("unix:path={}", socket.display()),
            _bus: bus,
            wd,
        }
    }

    /// The `DBUS_SYSTEM_BUS_ADDRESS` value.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// A directory for the test's files (removed with the bus).
    pub fn dir(&self) -> &std::path::Path {
        self.wd.path()
    }
}

/// A scripted oFono ([`ofono_fake.py`](../ofono_fake.py)) on `bus`: one modem on
/// `technology` whose context uses `interface`; [`handover`](Self::handover) moves it to
/// `later`.
pub struct FakeOfono {
    process: KillOnDrop,
}

impl FakeOfono {
    pub fn start(bus: &PrivateBus, interface: &str, technology: &str, later: &str) -> FakeOfono {
        // Debian's python3: it has python3-dbus and python3-gi.
        let python = "/usr/bin/python3";
        let check = super::run(
            Command::new(python).args(["-c", "import dbus, gi"]),
            Duration::from_secs(10),
        );
        assert!(
            check.success(),
            "python3-dbus / python3-gi missing: {check:?}"
        );
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/ofono_fake.py");
        let mut child = Command::new(python)
            .args([script, interface, technology, later])
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the fake oFono");
        // It prints "ready" once it owns org.ofono.
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the fake oFono did not start");
        FakeOfono {
            process: KillOnDrop { child },
        }
    }

    /// Switch the modem to the later technology (a PropertyChanged signal).
    pub fn handover(&self) {
        // SAFETY: kill(2) on our own child's PID.
        unsafe { libc::kill(self.process.child.id() as libc::pid_t, libc::SIGUSR1) };
    }
}

/// A namespace for a network daemon (`dut`) with a veth (`DUT_IF`) to a peer namespace
/// that serves DHCP (router and DNS server: [`CONNMAN_PEER`]) and both daemons' online
/// checks. The peer's end is `PEER_IF`: `ip -n PEER link set PEER_IF down` pulls the cable.
pub struct DhcpLink {
    /// The daemon's namespace: boardnet runs here.
    pub dut: Netns,
    /// The DHCP server's namespace.
    pub peer: Netns,
    // The namespaces go first (their processes with them), then these.
    _dnsmasq: KillOnDrop,
    _online: KillOnDrop,
}

impl DhcpLink {
    /// Namespaces tagged `tag`; the veth's ends are `dut_if` and `peer_if`; files in `dir`.
    pub fn new(tag: &str, dut_if: &str, peer_if: &str, dir: &std::path::Path) -> DhcpLink {
        let peer = Netns::new(&format!("{tag}p"));
        let dut = Netns::new(&format!("{tag}d"));
        dut.ip_ok(&[
            "link",
            "add",
            dut_if,
            "type",
            "veth",
            "peer",
            "name",
            peer_if,
            "netns",
            peer.name(),
        ]);
        peer.ip_ok(&["addr", "add", &format!("{CONNMAN_PEER}/24"), "dev", peer_if]);
        peer.ip_ok(&["link", "set", peer_if, "up"]);
        // Required: with checksum offload connman's DHCP client drops every offer.
        let ethtool = super::run(
            peer.command("ethtool").args(["-K", peer_if, "tx", "off"]),
            Duration::from_secs(10),
        );
        assert!(ethtool.success(), "{ethtool:?}");
        // The daemon writes the namespace's resolv.conf, never the host's (removed with the
        // namespace).
        let resolv_dir = PathBuf::from("/etc/netns").join(dut.name());
        std::fs::create_dir_all(&resolv_dir).unwrap();
        std::fs::write(resolv_dir.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
        std::fs::write(dir.join("online.py"), ONLINE_PY).unwrap();
        let online = spawn(
            peer.command("python3").arg(dir.join("online.py")),
            "the online-check responder",
        );
        let dnsmasq = spawn(
            peer.command("dnsmasq").args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--bind-interfaces",
                &format!("--interface={peer_if}"),
                "--except-interface=lo",
                "--port=0",
                "--dhcp-range=10.123.0.50,10.123.0.99,1h",
                "--dhcp-option=option:router,10.123.0.1",
                "--dhcp-option=option:dns-server,10.123.0.1",
                &format!("--dhcp-leasefile={}", dir.join("leases").display()),
            ]),
            "dnsmasq",
        );
        DhcpLink {
            dut,
            peer,
            _dnsmasq: dnsmasq,
            _online: online,
        }
    }
}

pub struct ConnmanLab {
    /// connmand runs in `net.dut`; `ip -n` on `net.peer` pulls the cable (`vcp` down).
    pub net: DhcpLink,
    bus_address: String,
    // The namespaces go first (their processes with them), then these.
    _connmand: KillOnDrop,
    _bus: PrivateBus,
}

fn spawn(cmd: &mut Command, what: &str) -> KillOnDrop {
    KillOnDrop {
        child: cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}")),
    }
}

impl ConnmanLab {
    pub fn new() -> ConnmanLab {
        require_root_or_fail("ConnMan in a network namespace");
        for p in ["connmand", "dbus-daemon", "dnsmasq", "ethtool", "python3"] {
            assert!(
                find_program(p).is_some(),
                "{p} is missing (tests/setup.sh installs connman dbus dnsmasq-base ethtool)"
            );
        }
        let bus = PrivateBus::new();
        let dir = bus.dir().to_path_buf();
        std::fs::write(dir.join("main.conf"), MAIN_CONF).unwrap();
        std::fs::write(dir.join("run-connmand.sh"), RUN_CONNMAND).unwrap();
        let bus_address = bus.address().to_string();
        // Not `ve-*`: connman's default blacklist.
        let link = DhcpLink::new("cm", "vcd", "vcp", &dir);
        let connmand = spawn(
            link.dut
                .command("sh")
                .arg(dir.join("run-connmand.sh"))
                .arg(dir.join("main.conf"))
                .env("DBUS_SYSTEM_BUS_ADDRESS", &bus_address),
            "connmand",
        );
        ConnmanLab {
            net: link,
            bus_address,
            _connmand: connmand,
            _bus: bus,
        }
    }

    /// The `DBUS_SYSTEM_BUS_ADDRESS` of connmand's bus.
    pub fn bus_address(&self) -> &str {
        &self.bus_address
    }

    /// boardnet in connmand's namespace, on its bus.
    pub fn boardnet(&self) -> Command {
        let mut c = self.net.dut.boardnet();
        c.env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus_address);
        c
    }

    /// `boardnet ARGS` in connmand's namespace, to completion.
    pub fn run(&self, args: &[&str], timeout: Duration) -> super::RunOutput {
        super::run(self.boardnet().args(args), timeout)
    }
}
