//! ConnMan over D-Bus (system bus; `DBUS_SYSTEM_BUS_ADDRESS` is honoured): its services
//! become configurations, its service order the preferred one, its Manager state the
//! reachability; PropertyChanged and ServicesChanged arrive as pushed signals through the
//! connection's file descriptor in the reactor. Sessions are Service.Connect/Disconnect.

use std::net::IpAddr;
use std::time::Duration;

use dbus::arg::{PropMap, RefArg};
use dbus::channel::{BusType, Channel};
use dbus::Message;
use mio::unix::SourceFd;
use mio::Interest;

use crate::bearer::error::BearerError;
use crate::bearer::model::{
    BearerFamily, BearerType, Configuration, ConfigurationType, InterfaceAddress, Reachability,
    StateFlags, WifiNetwork,
};
use crate::reactor::{Reactor, Ready, Token};

const SERVICE: &str = "net.connman";
/// Limit for ConnMan's answers to queries (not for Connect, which takes its own).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Configuration identifiers of ConnMan services.
pub(crate) const ID_PREFIX: &str = "connman:";

/// One ConnMan service as boardnet keeps it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Service {
    pub(crate) path: String,
    pub(crate) name: String,
    /// ethernet, wifi, cellular, bluetooth, p2p, vpn, gadget.
    pub(crate) kind: String,
    /// idle, failure, association, configuration, ready, disconnect, online.
    pub(crate) state: String,
    pub(crate) strength: Option<u8>,
    pub(crate) security: Vec<String>,
    pub(crate) interface: Option<String>,
    pub(crate) addresses: Vec<InterfaceAddress>,
}

impl Service {
    /// Apply one property (from GetServices or a PropertyChanged signal).
    pub(crate) fn set(&mut self, name: &str, value: &dyn RefArg) {
        match name {
            "Name" => self.name = value.as_str().unwrap_or_default().to_string(),
            "Type" => self.kind = value.as_str().unwrap_or_default().to_string(),
            "State" => self.state = value.as_str().unwrap_or_default().to_string(),
            "Strength" => self.strength = value.as_u64().and_then(|s| u8::try_from(s).ok()),
            "Security" => self.security = strings(value),
            "Ethernet" => {
                if let Some(i) = dict(value).into_iter().find(|(k, _)| k == "Interface") {
                    self.interface = i.1.as_str().map(str::to_string);
                }
            }
            "IPv4" | "IPv6" => {
                let v6 = name == "IPv6";
                self.addresses.retain(|a| a.address.is_ipv6() != v6);
                self.addresses.extend(address_of(&dict(value), v6));
                self.addresses.sort();
            }
            _ => {}
        }
    }

    fn is_connected(&self) -> bool {
        matches!(self.state.as_str(), "ready" | "online")
    }

    /// The service as a configuration: listed (visible) → Discovered, ready/online →
    /// Active. ConnMan lists only services it can see, so none is merely Defined.
    pub(crate) fn configuration(&self) -> Configuration {
        let (bearer, family) = match self.kind.as_str() {
            "ethernet" => (BearerType::Ethernet, BearerFamily::Ethernet),
            "wifi" => (BearerType::Wlan, BearerFamily::Wlan),
            "cellular" => (BearerType::Unknown, BearerFamily::Cellular),
            "bluetooth" => (BearerType::Bluetooth, BearerFamily::Bluetooth),
            _ => (BearerType::Unknown, BearerFamily::Other),
        };
        let id = self.path.rsplit('/').next().unwrap_or_default();
        Configuration {
            id: format!("{ID_PREFIX}{id}"),
            name: if self.name.is_empty() {
                id.to_string()
            } else {
                self.name.clone()
            },
            kind: ConfigurationType::InternetAccessPoint,
            bearer,
            family,
            // ConnMan lists a service only while it is visible (in range, cable in).
            state: if self.is_connected() {
                StateFlags::Active
            } else {
                StateFlags::Discovered
            },
            interface: self.interface.clone(),
            addresses: self.addresses.clone(),
            default_route: false,
            wifi: (self.kind == "wifi").then(|| WifiNetwork {
                ssid: self.name.clone(),
                strength: self.strength,
                security: self.security.clone(),
            }),
            backend: "connman",
        }
    }
}

/// The items of a string array value (`as`; a variant holding one yields it once).
fn strings(value: &dyn RefArg) -> Vec<String> {
    let Some(items) = value.as_iter() else {
        return Vec::new();
    };
    items
        .flat_map(|i| match i.as_str() {
            Some(s) => vec![s.to_string()],
            None => strings(i),
        })
        .collect()
}

/// The entries of a dictionary value (`a{sv}`), key and value.
fn dict(value: &dyn RefArg) -> Vec<(String, &dyn RefArg)> {
    let Some(mut items) = value.as_iter() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // A variant yields its content once; a dictionary yields key, value, key, value…
    let first = items.next();
    let second = items.next();
    match (first, second) {
        (Some(inner), None) => return dict(inner),
        (Some(k), Some(v)) => {
            if let Some(k) = k.as_str() {
                out.push((k.to_string(), v));
            }
        }
        _ => return out,
    }
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        if let Some(k) = k.as_str() {
            out.push((k.to_string(), v));
        }
    }
    out
}

/// An address from ConnMan's IPv4 (Address, Netmask) or IPv6 (Address, PrefixLength) dict.
fn address_of(entries: &[(String, &dyn RefArg)], v6: bool) -> Option<InterfaceAddress> {
    let get = |k: &str| entries.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    let address: IpAddr = get("Address")?.as_str()?.parse().ok()?;
    if address.is_ipv6() != v6 {
        return None;
    }
    let prefix_len = if v6 {
        get("PrefixLength").and_then(RefArg::as_u64).unwrap_or(64) as u8
    } else {
        get("Netmask")
            .and_then(RefArg::as_str)
            .and_then(|m| m.parse::<std::net::Ipv4Addr>().ok())
            .map(|m| u32::from(m).count_ones() as u8)
            .unwrap_or(32)
    };
    Some(InterfaceAddress {
        address,
        prefix_len,
    })
}

/// The reachability ConnMan's Manager State means.
pub(crate) fn reachability_of(state: &str) -> Reachability {
    match state {
        "online" => Reachability::Online,
        "ready" => Reachability::Site,
        _ => Reachability::Disconnected,
    }
}

/// A connection to ConnMan.
pub(crate) struct Connman {
    channel: Channel,
    token: Token,
    /// In ConnMan's order: the first connected one is the preferred.
    pub(crate) services: Vec<Service>,
    /// Manager State: offline, idle, ready, online.
    pub(crate) state: String,
}

impl std::fmt::Debug for Connman {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connman")
            .field("services", &self.services.len())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn dbus_error(what: &str) -> impl Fn(dbus::Error) -> BearerError + '_ {
    move |e| BearerError::Connman(format!("{what}: {}", e.message().unwrap_or("D-Bus error")))
}

impl Connman {
    /// Connect to the system bus and ConnMan. `Ok(None)`: no bus, or ConnMan is not on it
    /// (the netlink backend carries on alone).
    pub(crate) fn open(reactor: &mut Reactor) -> Result<Option<Connman>, BearerError> {
        let mut channel = match Channel::get_private(BusType::System) {
            Ok(c) => c,
            Err(e) => {
                log::debug!("no system bus: {}", e.message().unwrap_or("?"));
                return Ok(None);
            }
        };
        channel.set_watch_enabled(true);
        let bus = |method: &str| {
            Message::new_method_call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                method,
            )
            .map_err(|e| BearerError::Connman(e.to_string()))
        };
        // Subscribe before asking: no change between the answer and the subscription is lost.
        let rule = "type='signal',sender='net.connman'";
        channel
            .send_with_reply_and_block(bus("AddMatch")?.append1(rule), CALL_TIMEOUT)
            .map_err(dbus_error("subscribing to ConnMan's signals"))?;
        let has_owner = channel
            .send_with_reply_and_block(bus("NameHasOwner")?.append1(SERVICE), CALL_TIMEOUT)
            .map_err(dbus_error("asking the bus for ConnMan"))?
            .read1::<bool>()
            .unwrap_or(false);
        if !has_owner {
            log::debug!("ConnMan is not on the system bus");
            return Ok(None);
        }
        let watch = channel.watch();
        let token = reactor
            .register(&mut SourceFd(&watch.fd), Interest::READABLE)
            .map_err(BearerError::Reactor)?;
        let mut connman = Connman {
            channel,
            token,
            services: Vec::new(),
            state: String::new(),
        };
        let reply = connman.call("/", "net.connman.Manager", "GetProperties", CALL_TIMEOUT)?;
        let props: PropMap = reply
            .read1()
            .map_err(|e| BearerError::Connman(format!("Manager.GetProperties: {e}")))?;
        connman.state = props
            .get("State")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let reply = connman.call("/", "net.connman.Manager", "GetServices", CALL_TIMEOUT)?;
        let services: Vec<(dbus::Path<'static>, PropMap)> = reply
            .read1()
            .map_err(|e| BearerError::Connman(format!("Manager.GetServices: {e}")))?;
        connman.services = services
            .iter()
            .map(|(path, props)| {
                let mut s = Service {
                    path: path.to_string(),
                    ..Service::default()
                };
                for (k, v) in props {
                    s.set(k, &v.0);
                }
                s
            })
            .collect();
        Ok(Some(connman))
    }

    fn call(
        &self,
        path: &str,
        interface: &str,
        method: &str,
        timeout: Duration,
    ) -> Result<Message, BearerError> {
        let msg = Message::new_method_call(SERVICE, path, interface, method)
            .map_err(|e| BearerError::Connman(format!("{interface}.{method}: {e}")))?;
        self.channel
            .send_with_reply_and_block(msg, timeout)
            .map_err(|e| {
                BearerError::Connman(format!(
                    "{interface}.{method}: {}",
                    e.message().unwrap_or("no answer")
                ))
            })
    }

    pub(crate) fn token(&self) -> Token {
        self.token
    }

    /// Connect (session open) or disconnect (close) the service at `path`. Connect blocks
    /// until ConnMan has an answer (it may take the whole `timeout` on a slow bearer).
    pub(crate) fn connect(
        &self,
        path: &str,
        on: bool,
        timeout: Duration,
    ) -> Result<(), BearerError> {
        let method = if on { "Connect" } else { "Disconnect" };
        match self.call(path, "net.connman.Service", method, timeout) {
            Ok(_) => Ok(()),
            // Asking for what already holds is no failure.
            Err(BearerError::Connman(m))
                if m.contains("AlreadyConnected")
                    || m.contains("Already connected")
                    || m.contains("NotConnected")
                    || m.contains("Not connected") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Read what arrived; true if the services or the state changed.
    pub(crate) fn handle(&mut self, ready: &Ready) -> Result<bool, BearerError> {
        if !matches!(ready, Ready::Io { token, .. } if *token == self.token) {
            return Ok(false);
        }
        self.drain()
    }

    /// Apply every signal libdbus holds or the socket has. Also needed right after a
    /// blocking call: libdbus reads signals that arrive meanwhile into its own queue, where
    /// no readiness event will announce them.
    pub(crate) fn drain(&mut self) -> Result<bool, BearerError> {
        let mut changed = false;
        loop {
            // Everything readable now: the descriptor is edge-triggered.
            if self.channel.read_write(Some(Duration::ZERO)).is_err() {
                return Err(BearerError::Connman(
                    "the system bus connection closed".into(),
                ));
            }
            let mut got = false;
            while let Some(msg) = self.channel.pop_message() {
                got = true;
                changed |= self.apply(&msg);
            }
            if !got {
                return Ok(changed);
            }
        }
    }

    /// Apply one signal.
    fn apply(&mut self, msg: &Message) -> bool {
        let (Some(interface), Some(member)) = (msg.interface(), msg.member()) else {
            return false;
        };
        match (&*interface, &*member) {
            ("net.connman.Manager", "PropertyChanged") => {
                let Ok((name, value)) = msg.read2::<String, dbus::arg::Variant<Box<dyn RefArg>>>()
                else {
                    return false;
                };
                if name == "State" {
                    self.state = value.0.as_str().unwrap_or_default().to_string();
                    return true;
                }
                false
            }
            ("net.connman.Manager", "ServicesChanged") => {
                let Ok((changed, removed)) =
                    msg.read2::<Vec<(dbus::Path<'static>, PropMap)>, Vec<dbus::Path<'static>>>()
                else {
                    return false;
                };
                let mut old = std::mem::take(&mut self.services);
                old.retain(|s| !removed.iter().any(|r| &**r == s.path.as_str()));
                // `changed` lists every service in the new order; properties only for new
                // or changed ones.
                for (path, props) in &changed {
                    let mut s = match old.iter().position(|s| s.path == **path) {
                        Some(i) => old.swap_remove(i),
                        None => Service {
                            path: path.to_string(),
                            ..Service::default()
                        },
                    };
                    for (k, v) in props {
                        s.set(k, &v.0);
                    }
                    self.services.push(s);
                }
                true
            }
            ("net.connman.Service", "PropertyChanged") => {
                let Some(path) = msg.path() else {
                    return false;
                };
                let Ok((name, value)) = msg.read2::<String, dbus::arg::Variant<Box<dyn RefArg>>>()
                else {
                    return false;
                };
                match self.services.iter_mut().find(|s| s.path == *path) {
                    Some(s) => {
                        let before = s.clone();
                        s.set(&name, &value.0);
                        *s != before
                    }
                    None => false,
                }
            }
            _ => false,
        }
    }

    /// The path of the service with configuration id `id`.
    pub(crate) fn path_of(&self, id: &str) -> Option<&str> {
        let name = id.strip_prefix(ID_PREFIX)?;
        self.services
            .iter()
            .find(|s| s.path.rsplit('/').next() == Some(name))
            .map(|s| s.path.as_str())
    }

    /// The preferred service: ConnMan orders connected services first, best first.
    pub(crate) fn preferred(&self) -> Option<&Service> {
        self.services.iter().find(|s| s.is_connected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbus::arg::Variant;

    fn v<T: RefArg + 'static>(x: T) -> Variant<Box<dyn RefArg>> {
        Variant(Box::new(x))
    }

    fn service_props() -> PropMap {
        let mut ipv4 = PropMap::new();
        ipv4.insert("Method".into(), v("dhcp".to_string()));
        ipv4.insert("Address".into(), v("10.123.0.57".to_string()));
        ipv4.insert("Netmask".into(), v("255.255.255.0".to_string()));
        let mut ipv6 = PropMap::new();
        ipv6.insert("Address".into(), v("fd00:123::57".to_string()));
        ipv6.insert("PrefixLength".into(), v(64u8));
        let mut eth = PropMap::new();
        eth.insert("Interface".into(), v("vcd".to_string()));
        let mut p = PropMap::new();
        p.insert("Name".into(), v("Wired".to_string()));
        p.insert("Type".into(), v("ethernet".to_string()));
        p.insert("State".into(), v("online".to_string()));
        p.insert("IPv4".into(), v(ipv4));
        p.insert("IPv6".into(), v(ipv6));
        p.insert("Ethernet".into(), v(eth));
        p
    }

    #[test]
    fn service_properties_become_a_configuration() {
        let mut s = Service {
            path: "/net/connman/service/ethernet_02005e_cable".into(),
            ..Service::default()
        };
        for (k, val) in &service_props() {
            s.set(k, &val.0);
        }
        assert_eq!(s.interface.as_deref(), Some("vcd"));
        let c = s.configuration();
        assert_eq!(c.id, "connman:ethernet_02005e_cable");
        assert_eq!(c.name, "Wired");
        assert_eq!(c.bearer, BearerType::Ethernet);
        assert_eq!(c.state, StateFlags::Active);
        let addrs: Vec<String> = c.addresses.iter().map(|a| a.to_string()).collect();
        assert_eq!(addrs, ["10.123.0.57/24", "fd00:123::57/64"]);
        // A state change to idle: discovered, still listed.
        s.set("State", &"idle".to_string());
        assert_eq!(s.configuration().state, StateFlags::Discovered);
        // An address change replaces only its family.
        let mut ipv4 = PropMap::new();
        ipv4.insert("Address".into(), v("10.123.0.60".to_string()));
        ipv4.insert("Netmask".into(), v("255.255.0.0".to_string()));
        s.set("IPv4", &ipv4);
        let addrs: Vec<String> = s.addresses.iter().map(|a| a.to_string()).collect();
        assert_eq!(addrs, ["10.123.0.60/16", "fd00:123::57/64"]);
        // A Wi-Fi service carries its network.
        s.set("Type", &"wifi".to_string());
        s.set("Strength", &72u8);
        s.set("Security", &vec!["psk".to_string(), "wps".to_string()]);
        let wifi = s
            .configuration()
            .wifi
            .expect("a wifi service has a network");
        assert_eq!((wifi.ssid.as_str(), wifi.strength), ("Wired", Some(72)));
        assert_eq!(wifi.security, ["psk", "wps"]);
        // Unexpected types are ignored, not trusted.
        s.set("State", &7u32);
        assert_eq!(s.state, "");
        s.set("IPv4", &42u32);
        assert!(s.addresses.iter().all(|a| a.address.is_ipv6()));
    }

    #[test]
    fn manager_states_map_to_reachability() {
        assert_eq!(reachability_of("online"), Reachability::Online);
        assert_eq!(reachability_of("ready"), Reachability::Site);
        assert_eq!(reachability_of("idle"), Reachability::Disconnected);
        assert_eq!(reachability_of("offline"), Reachability::Disconnected);
    }
}
