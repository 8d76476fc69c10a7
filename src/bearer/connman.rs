//! ConnMan over D-Bus (system bus; `DBUS_SYSTEM_BUS_ADDRESS` is honoured): its services
//! become configurations, its service order the preferred one, its Manager state the
//! reachability; PropertyChanged and ServicesChanged arrive as pushed signals through the
//! connection's file descriptor in the reactor. Sessions are Service.Connect/Disconnect.

use std::net::IpAddr;
use std::time::Duration;

use crate::dbus::message::Message;
use crate::dbus::wire::Value;

use crate::bearer::bus::{BusBackend, ServiceBus, CALL_TIMEOUT};
use crate::bearer::error::BearerError;
use crate::bearer::model::{
    BearerFamily, BearerType, Configuration, ConfigurationType, InterfaceAddress, Reachability,
    StateFlags, Technology, WifiNetwork,
};
use crate::reactor::Reactor;

const SERVICE: &str = "net.connman";
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
    pub(crate) nameservers: Vec<String>,
    pub(crate) interface: Option<String>,
    pub(crate) addresses: Vec<InterfaceAddress>,
}

impl Service {
    /// Apply one property (from GetServices or a PropertyChanged signal).
    pub(crate) fn set(&mut self, name: &str, value: &Value) {
        let value = value.unwrap_variant();
        match name {
            "Name" => self.name = value.as_str().unwrap_or_default().to_string(),
            "Type" => self.kind = value.as_str().unwrap_or_default().to_string(),
            "State" => self.state = value.as_str().unwrap_or_default().to_string(),
            "Strength" => self.strength = value.as_u64().and_then(|s| u8::try_from(s).ok()),
            "Security" => self.security = strings(value),
            "Nameservers" => self.nameservers = strings(value),
            "Ethernet" => {
                if let Some(i) = dict(value).into_iter().find(|(k, _)| k == "Interface") {
                    self.interface = i.1.as_str().map(str::to_string);
                }
            }
            "IPv4" | "IPv6" => {
                let v6 = name == "IPv6";
                self.addresses.retain(|a| a.address.is_ipv6() != v6);
                self.addresses.extend(address_of(&dict(value), v6));
                crate::sort::sort_small(&mut self.addresses);
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
            nameservers: self.nameservers.clone(),
            wifi: (self.kind == "wifi").then(|| WifiNetwork {
                ssid: self.name.clone(),
                strength: self.strength,
                security: self.security.clone(),
            }),
            metered: None,
            backend: "connman",
        }
    }
}

/// The items of a string array value (`as`, in a variant or not).
fn strings(value: &Value) -> Vec<String> {
    value
        .unwrap_variant()
        .as_array()
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i.unwrap_variant().as_str().map(str::to_string))
        .collect()
}

/// The entries of a dictionary value (`a{sv}`, in a variant or not), key and value (its
/// variant unwrapped).
pub(crate) fn dict(value: &Value) -> Vec<(String, &Value)> {
    value
        .unwrap_variant()
        .as_array()
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| match entry {
            Value::DictEntry(k, v) => Some((k.as_str()?.to_string(), v.unwrap_variant())),
            _ => None,
        })
        .collect()
}

/// An address from ConnMan's IPv4 (Address, Netmask) or IPv6 (Address, PrefixLength) dict.
fn address_of(entries: &[(String, &Value)], v6: bool) -> Option<InterfaceAddress> {
    let get = |k: &str| entries.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    let address: IpAddr = get("Address")?.as_str()?.parse().ok()?;
    if address.is_ipv6() != v6 {
        return None;
    }
    let prefix_len = if v6 {
        get("PrefixLength").and_then(Value::as_u64).unwrap_or(64) as u8
    } else {
        get("Netmask")
            .and_then(Value::as_str)
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
#[derive(Debug)]
pub(crate) struct Connman {
    bus: ServiceBus,
    /// In ConnMan's order: the first connected one is the preferred.
    pub(crate) services: Vec<Service>,
    /// Manager State: offline, idle, ready, online.
    pub(crate) state: String,
    /// (object path, technology).
    pub(crate) technologies: Vec<(String, Technology)>,
}

/// A technology from its object path and properties (`a{sv}`).
fn technology_of(path: &str, props: &Value) -> Technology {
    let flag = |k: &str| props.dict_get(k).and_then(Value::as_bool) == Some(true);
    Technology {
        name: props
            .dict_get("Type")
            .and_then(Value::as_str)
            .unwrap_or_else(|| path.rsplit('/').next().unwrap_or_default())
            .to_string(),
        powered: flag("Powered"),
        connected: flag("Connected"),
    }
}

/// The (object path, properties) pairs of an `a(oa{sv})` answer.
pub(crate) fn objects(value: &Value) -> impl Iterator<Item = (&str, &Value)> {
    value
        .as_array()
        .unwrap_or_default()
        .iter()
        .filter_map(|o| match o {
            Value::Struct(pair) => Some((pair.first()?.as_str()?, pair.get(1)?)),
            _ => None,
        })
}

/// A service from its path and properties.
fn service_of(path: &str, props: &Value) -> Service {
    let mut s = Service {
        path: path.to_string(),
        ..Service::default()
    };
    for (k, v) in dict(props) {
        s.set(&k, v);
    }
    s
}

impl Connman {
    /// Connect to ConnMan on the system bus. `Ok(None)`: no bus, or ConnMan is not on it.
    pub(crate) fn open(reactor: &mut Reactor) -> Result<Option<Connman>, BearerError> {
        let Some(bus) = ServiceBus::open(reactor, SERVICE, "ConnMan")? else {
            return Ok(None);
        };
        let mut bus = bus;
        let mut ask = |method: &str| -> Result<Value, BearerError> {
            let reply = bus.call("/", "net.connman.Manager", method, Vec::new(), CALL_TIMEOUT)?;
            reply.body.into_iter().next().ok_or(BearerError::DBus {
                service: "ConnMan",
                message: format!("Manager.{method}: an empty answer"),
            })
        };
        let props = ask("GetProperties")?;
        let services = ask("GetServices")?;
        let technologies = ask("GetTechnologies")?;
        Ok(Some(Connman {
            bus,
            state: props
                .dict_get("State")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            technologies: objects(&technologies)
                .map(|(path, props)| (path.to_string(), technology_of(path, props)))
                .collect(),
            services: objects(&services)
                .map(|(path, props)| service_of(path, props))
                .collect(),
        }))
    }

    /// Connect (session open) or disconnect (close) the service at `path`. Connect blocks
    /// until ConnMan has an answer (it may take the whole `timeout` on a slow bearer).
    pub(crate) fn connect(
        &mut self,
        path: &str,
        on: bool,
        timeout: Duration,
    ) -> Result<(), BearerError> {
        let method = if on { "Connect" } else { "Disconnect" };
        match self
            .bus
            .call(path, "net.connman.Service", method, Vec::new(), timeout)
        {
            Ok(_) => Ok(()),
            // Asking for what already holds is no failure.
            Err(BearerError::DBus { message, .. })
                if message.contains("AlreadyConnected")
                    || message.contains("Already connected")
                    || message.contains("NotConnected")
                    || message.contains("Not connected") =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

impl BusBackend for Connman {
    fn bus(&self) -> &ServiceBus {
        &self.bus
    }

    fn drain(&mut self) -> Result<bool, BearerError> {
        let Connman {
            bus,
            services,
            state,
            technologies,
        } = self;
        bus.drain(|msg| apply(services, state, msg) || apply_technology(technologies, msg))
    }
}

/// A signal's (name, value) of a PropertyChanged.
pub(crate) fn property(msg: &Message) -> Option<(&str, &Value)> {
    match msg.body.as_slice() {
        [name, value] => Some((name.as_str()?, value.unwrap_variant())),
        _ => None,
    }
}

/// Apply one technology signal; true if something changed.
fn apply_technology(technologies: &mut Vec<(String, Technology)>, msg: &Message) -> bool {
    let (Some(interface), Some(member), Some(path)) = (&msg.interface, &msg.member, &msg.path)
    else {
        return false;
    };
    match (interface.as_str(), member.as_str()) {
        ("net.connman.Manager", "TechnologyAdded") => {
            let [added, props] = msg.body.as_slice() else {
                return false;
            };
            let Some(added) = added.as_str() else {
                return false;
            };
            technologies.retain(|(p, _)| p != added);
            technologies.push((added.to_string(), technology_of(added, props)));
            true
        }
        ("net.connman.Manager", "TechnologyRemoved") => {
            let Some(removed) = msg.body.first().and_then(Value::as_str) else {
                return false;
            };
            let before = technologies.len();
            technologies.retain(|(p, _)| p != removed);
            before != technologies.len()
        }
        ("net.connman.Technology", "PropertyChanged") => {
            let Some((name, value)) = property(msg) else {
                return false;
            };
            let on = value.as_bool() == Some(true);
            match technologies.iter_mut().find(|(p, _)| p == path) {
                Some((_, t)) if name == "Powered" && t.powered != on => {
                    t.powered = on;
                    true
                }
                Some((_, t)) if name == "Connected" && t.connected != on => {
                    t.connected = on;
                    true
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// Apply one signal to the services and the Manager state; true if something changed.
fn apply(services: &mut Vec<Service>, state: &mut String, msg: &Message) -> bool {
    let (Some(interface), Some(member)) = (&msg.interface, &msg.member) else {
        return false;
    };
    match (interface.as_str(), member.as_str()) {
        ("net.connman.Manager", "PropertyChanged") => {
            let Some((name, value)) = property(msg) else {
                return false;
            };
            if name == "State" {
                *state = value.as_str().unwrap_or_default().to_string();
                return true;
            }
            false
        }
        ("net.connman.Manager", "ServicesChanged") => {
            let [changed, removed] = msg.body.as_slice() else {
                return false;
            };
            let removed: Vec<&str> = removed
                .as_array()
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let mut old = std::mem::take(services);
            old.retain(|s| !removed.contains(&s.path.as_str()));
            // `changed` lists every service in the new order; properties only for new
            // or changed ones.
            for (path, props) in objects(changed) {
                let mut s = match old.iter().position(|s| s.path == path) {
                    Some(i) => old.swap_remove(i),
                    None => Service {
                        path: path.to_string(),
                        ..Service::default()
                    },
                };
                for (k, v) in dict(props) {
                    s.set(&k, v);
                }
                services.push(s);
            }
            true
        }
        ("net.connman.Service", "PropertyChanged") => {
            let Some(path) = &msg.path else {
                return false;
            };
            let Some((name, value)) = property(msg) else {
                return false;
            };
            match services.iter_mut().find(|s| s.path == *path) {
                Some(s) => {
                    let before = s.clone();
                    s.set(name, value);
                    *s != before
                }
                None => false,
            }
        }
        _ => false,
    }
}

impl Connman {
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

    fn s(text: &str) -> Value {
        Value::Str(text.into())
    }

    fn service_props() -> Value {
        let ipv4 = Value::dict_sv([
            ("Method", s("dhcp")),
            ("Address", s("10.123.0.57")),
            ("Netmask", s("255.255.255.0")),
        ]);
        let ipv6 = Value::dict_sv([
            ("Address", s("fd00:123::57")),
            ("PrefixLength", Value::Byte(64)),
        ]);
        let eth = Value::dict_sv([("Interface", s("vcd"))]);
        Value::dict_sv([
            ("Name", s("Wired")),
            ("Type", s("ethernet")),
            ("State", s("online")),
            ("IPv4", ipv4),
            ("IPv6", ipv6),
            ("Ethernet", eth),
        ])
    }

    #[test]
    fn service_properties_become_a_configuration() {
        let mut svc = service_of(
            "/net/connman/service/ethernet_02005e_cable",
            &service_props(),
        );
        let s = &mut svc;
        assert_eq!(s.interface.as_deref(), Some("vcd"));
        let c = s.configuration();
        assert_eq!(c.id, "connman:ethernet_02005e_cable");
        assert_eq!(c.name, "Wired");
        assert_eq!(c.bearer, BearerType::Ethernet);
        assert_eq!(c.state, StateFlags::Active);
        let addrs: Vec<String> = c.addresses.iter().map(|a| a.to_string()).collect();
        assert_eq!(addrs, ["10.123.0.57/24", "fd00:123::57/64"]);
        // A state change to idle: discovered, still listed.
        s.set("State", &Value::Str("idle".into()));
        assert_eq!(s.configuration().state, StateFlags::Discovered);
        // An address change replaces only its family.
        let ipv4 = Value::dict_sv([
            ("Address", Value::Str("10.123.0.60".into())),
            ("Netmask", Value::Str("255.255.0.0".into())),
        ]);
        s.set("IPv4", &ipv4);
        let addrs: Vec<String> = s.addresses.iter().map(|a| a.to_string()).collect();
        assert_eq!(addrs, ["10.123.0.60/16", "fd00:123::57/64"]);
        // A Wi-Fi service carries its network.
        s.set("Type", &Value::Str("wifi".into()));
        s.set("Strength", &Value::Byte(72));
        s.set(
            "Security",
            &Value::Array(
                "s".into(),
                vec![Value::Str("psk".into()), Value::Str("wps".into())],
            ),
        );
        let wifi = s
            .configuration()
            .wifi
            .expect("a wifi service has a network");
        assert_eq!((wifi.ssid.as_str(), wifi.strength), ("Wired", Some(72)));
        assert_eq!(wifi.security, ["psk", "wps"]);
        // Unexpected types are ignored, not trusted.
        s.set("State", &Value::U32(7));
        assert_eq!(s.state, "");
        s.set("IPv4", &Value::U32(42));
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
