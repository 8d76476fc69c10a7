//! NetworkManager over D-Bus (system bus; `DBUS_SYSTEM_BUS_ADDRESS` is honoured). One
//! `GetManagedObjects` at start reads every device, active connection, IP configuration and
//! access point; from then on NM's ObjectManager signals (InterfacesAdded/Removed) and
//! PropertiesChanged keep that picture current through the connection's descriptor in the
//! reactor — pushed, never polled, and no call is made from a reactor handler except
//! `GetSettings` for a connection profile NM announces (NM's own answer, bounded).
//!
//! Connections become configurations `nm:<connection uuid>`: saved profiles are Defined,
//! Discovered when a device that can carry them is available, Active when NM activated them.
//! NM's PrimaryConnection is the preferred configuration; its State and Connectivity give the
//! reachability (Connectivity FULL is `online`, kept apart from CONNECTED_SITE/GLOBAL, which is
//! `site`). Sessions are ActivateConnection/DeactivateConnection.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use crate::bearer::bus::{BusBackend, ServiceBus, CALL_TIMEOUT};
use crate::bearer::error::BearerError;
use crate::bearer::model::{
    BearerFamily, BearerType, Configuration, ConfigurationType, InterfaceAddress, Reachability,
    StateFlags, Technology, WifiNetwork,
};
use crate::dbus::message::Message;
use crate::dbus::wire::Value;

/// NM's bus name.
pub(crate) const SERVICE: &str = "org.freedesktop.NetworkManager";
/// Configuration identifiers of NM connections.
pub(crate) const ID_PREFIX: &str = "nm:";
const ROOT: &str = "/org/freedesktop/NetworkManager";
const SETTINGS: &str = "/org/freedesktop/NetworkManager/Settings";
const NM: &str = "org.freedesktop.NetworkManager";
const DEVICE: &str = "org.freedesktop.NetworkManager.Device";
const WIRELESS: &str = "org.freedesktop.NetworkManager.Device.Wireless";
const MODEM: &str = "org.freedesktop.NetworkManager.Device.Modem";
const WIRED: &str = "org.freedesktop.NetworkManager.Device.Wired";
const BLUETOOTH: &str = "org.freedesktop.NetworkManager.Device.Bluetooth";
const ACTIVE: &str = "org.freedesktop.NetworkManager.Connection.Active";
const IP4: &str = "org.freedesktop.NetworkManager.IP4Config";
const IP6: &str = "org.freedesktop.NetworkManager.IP6Config";
const ACCESS_POINT: &str = "org.freedesktop.NetworkManager.AccessPoint";
const SETTINGS_IFACE: &str = "org.freedesktop.NetworkManager.Settings";
const PROFILE: &str = "org.freedesktop.NetworkManager.Settings.Connection";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
const OBJECT_MANAGER: &str = "org.freedesktop.DBus.ObjectManager";

/// The interfaces whose properties are kept; NM's other objects are not read.
const KEPT: [&str; 10] = [
    NM,
    DEVICE,
    WIRED,
    WIRELESS,
    MODEM,
    BLUETOOTH,
    ACTIVE,
    IP4,
    IP6,
    ACCESS_POINT,
];
/// At most this many objects (a board has a few devices and dozens of access points) and
/// saved profiles are kept: a daemon that announces more is not followed past it.
const MAX_OBJECTS: usize = 4096;

/// NM_DEVICE_TYPE values boardnet tells apart.
const DEVICE_ETHERNET: u64 = 1;
const DEVICE_WIFI: u64 = 2;
const DEVICE_BLUETOOTH: u64 = 5;
const DEVICE_MODEM: u64 = 8;
const DEVICE_LOOPBACK: u64 = 32;
/// NM_DEVICE_STATE_DISCONNECTED: at or above it a device can carry a connection.
const DEVICE_AVAILABLE: u64 = 30;
/// NM_DEVICE_STATE_ACTIVATED.
const DEVICE_ACTIVATED: u64 = 100;
/// NM_ACTIVE_CONNECTION_STATE_ACTIVATED.
const ACTIVATED: u64 = 2;
/// NM_CONNECTIVITY_FULL.
const CONNECTIVITY_FULL: u64 = 4;

/// Properties of one interface of one object.
type Properties = BTreeMap<String, Value>;

/// A saved connection profile (Settings.Connection.GetSettings).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Profile {
    pub(crate) id: String,
    pub(crate) uuid: String,
    /// NM's connection type: 802-3-ethernet, 802-11-wireless, gsm, cdma, bluetooth, vpn, …
    pub(crate) kind: String,
    /// connection.interface-name, when the profile is bound to one.
    pub(crate) interface: Option<String>,
    /// 802-11-wireless.ssid.
    pub(crate) ssid: Option<Vec<u8>>,
}

impl Profile {
    /// A profile from GetSettings' `a{sa{sv}}` answer.
    fn from_settings(settings: &Value) -> Option<Profile> {
        let connection = settings.dict_get("connection")?;
        let text = |k: &str| connection.dict_get(k).and_then(Value::as_str);
        Some(Profile {
            id: text("id").unwrap_or_default().to_string(),
            uuid: text("uuid")?.to_string(),
            kind: text("type").unwrap_or_default().to_string(),
            interface: text("interface-name").map(str::to_string),
            ssid: settings
                .dict_get("802-11-wireless")
                .and_then(|w| w.dict_get("ssid"))
                .map(bytes),
        })
    }

    /// The device type a profile of this kind needs (None: any, e.g. a VPN).
    fn device_type(&self) -> Option<u64> {
        device_type_for(&self.kind)
    }
}

/// The device type an NM connection type (802-3-ethernet, gsm, …) needs; None: any.
fn device_type_for(kind: &str) -> Option<u64> {
    Some(match kind {
        "802-3-ethernet" => DEVICE_ETHERNET,
        "802-11-wireless" => DEVICE_WIFI,
        "bluetooth" => DEVICE_BLUETOOTH,
        "gsm" | "cdma" => DEVICE_MODEM,
        "loopback" => DEVICE_LOOPBACK,
        _ => return None,
    })
}

/// The bytes of an `ay`.
fn bytes(value: &Value) -> Vec<u8> {
    value
        .as_array()
        .unwrap_or_default()
        .iter()
        .filter_map(|b| match b {
            Value::Byte(b) => Some(*b),
            _ => None,
        })
        .collect()
}

/// The object path of an `o` (None for NM's "/", no object).
fn path(value: Option<&Value>) -> Option<&str> {
    value?.as_str().filter(|p| *p != "/")
}

/// The object paths of an `ao` (without NM's "/" for none).
fn paths(value: Option<&Value>) -> impl Iterator<Item = &str> {
    value
        .and_then(Value::as_array)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .filter(|p| *p != "/")
}

/// The bearer of an NM device type, with a modem's generation from its capabilities
/// (NM_DEVICE_MODEM_CAPABILITY_*: CDMA/EVDO 0x2, GSM/UMTS 0x4, LTE 0x8, 5GNR 0x40).
fn bearer_of(device_type: u64, modem_caps: u64) -> (BearerType, BearerFamily) {
    match device_type {
        DEVICE_ETHERNET => (BearerType::Ethernet, BearerFamily::Ethernet),
        DEVICE_WIFI => (BearerType::Wlan, BearerFamily::Wlan),
        DEVICE_BLUETOOTH => (BearerType::Bluetooth, BearerFamily::Bluetooth),
        DEVICE_MODEM => {
            // 5G NR has no type of its own in Qt's list: the family says cellular.
            let bearer = if modem_caps & 0x40 != 0 {
                BearerType::Unknown
            } else if modem_caps & 0x8 != 0 {
                BearerType::Lte
            } else if modem_caps & 0x4 != 0 {
                BearerType::Bearer3G
            } else if modem_caps & 0x2 != 0 {
                BearerType::Evdo
            } else {
                BearerType::Unknown
            };
            (bearer, BearerFamily::Cellular)
        }
        _ => (BearerType::Unknown, BearerFamily::Other),
    }
}

/// Security names (ConnMan's, plus sae and owe) from an access point's Flags, WpaFlags and
/// RsnFlags (NM_802_11_AP_FLAGS_PRIVACY 0x1; key management PSK 0x100, 802.1X 0x200,
/// SAE 0x400, OWE 0x800).
fn security_of(flags: u64, wpa: u64, rsn: u64) -> Vec<String> {
    let keys = wpa | rsn;
    let mut names: Vec<String> = [
        (0x100, "psk"),
        (0x200, "ieee8021x"),
        (0x400, "sae"),
        (0x800, "owe"),
    ]
    .into_iter()
    .filter(|(bit, _)| keys & bit != 0)
    .map(|(_, name)| name.to_string())
    .collect();
    if names.is_empty() {
        names.push(if flags & 0x1 != 0 { "wep" } else { "none" }.to_string());
    }
    names
}

/// The reachability NM's State (NM_STATE_*) and Connectivity (NM_CONNECTIVITY_*) mean:
/// `online` only when NM's connectivity check passed; CONNECTED_SITE and CONNECTED_GLOBAL
/// without it are `site` (NM says GLOBAL also when its check is off).
pub(crate) fn reachability_of(state: u64, connectivity: u64) -> Reachability {
    match state {
        _ if connectivity == CONNECTIVITY_FULL && state >= 50 => Reachability::Online,
        60.. => Reachability::Site,
        50 => Reachability::Local,
        _ => Reachability::Disconnected,
    }
}

/// NM's objects as boardnet keeps them: the kept interfaces' properties by object path, and
/// the saved profiles by path. Sans-IO: messages in, configurations out.
#[derive(Debug, Default)]
pub(crate) struct Picture {
    objects: BTreeMap<String, BTreeMap<String, Properties>>,
    profiles: BTreeMap<String, Profile>,
}

impl Picture {
    fn props(&self, path: &str, interface: &str) -> Option<&Properties> {
        self.objects.get(path)?.get(interface)
    }

    fn get(&self, path: &str, interface: &str, name: &str) -> Option<&Value> {
        self.props(path, interface)?.get(name)
    }

    /// A device's type as boardnet tells them apart: from the interfaces it has, so that
    /// Ethernet-like devices (veth, macvlan, …) count as Ethernet (their DeviceType numbers
    /// are their own).
    fn device_type(&self, path: &str) -> u64 {
        let Some(interfaces) = self.objects.get(path) else {
            return 0;
        };
        let has = |i: &str| interfaces.contains_key(i);
        match self.number(path, DEVICE, "DeviceType") {
            DEVICE_LOOPBACK => DEVICE_LOOPBACK,
            _ if has(WIRELESS) => DEVICE_WIFI,
            _ if has(MODEM) => DEVICE_MODEM,
            _ if has(BLUETOOTH) => DEVICE_BLUETOOTH,
            _ if has(WIRED) => DEVICE_ETHERNET,
            other => other,
        }
    }

    fn number(&self, path: &str, interface: &str, name: &str) -> u64 {
        self.get(path, interface, name)
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    fn text(&self, path: &str, interface: &str, name: &str) -> Option<&str> {
        self.get(path, interface, name).and_then(Value::as_str)
    }

    /// Store the kept interfaces of one object (`a{sa{sv}}`); true if any was kept.
    fn add_interfaces(&mut self, path: &str, interfaces: &Value) -> bool {
        if !self.objects.contains_key(path) && self.objects.len() >= MAX_OBJECTS {
            log::warn!("NetworkManager announces over {MAX_OBJECTS} objects: {path} not followed");
            return false;
        }
        let mut kept = false;
        for entry in interfaces.as_array().unwrap_or_default() {
            let Value::DictEntry(name, props) = entry else {
                continue;
            };
            let Some(name) = name.as_str().filter(|n| KEPT.contains(n)) else {
                continue;
            };
            let object = self.objects.entry(path.to_string()).or_default();
            let stored = object.entry(name.to_string()).or_default();
            set_all(stored, props);
            kept = true;
        }
        kept
    }

    /// Fill from `GetManagedObjects` (`a{oa{sa{sv}}}`).
    pub(crate) fn load(&mut self, managed: &Value) {
        for entry in managed.as_array().unwrap_or_default() {
            if let Value::DictEntry(path, interfaces) = entry {
                if let Some(path) = path.as_str() {
                    self.add_interfaces(path, interfaces);
                }
            }
        }
    }

    /// Apply one signal. Returns whether anything changed and the profile paths to read
    /// (new or updated profiles: their settings come only from a call).
    pub(crate) fn apply(&mut self, msg: &Message) -> (bool, Vec<String>) {
        let (Some(interface), Some(member), Some(path)) = (&msg.interface, &msg.member, &msg.path)
        else {
            return (false, Vec::new());
        };
        match (interface.as_str(), member.as_str(), msg.body.as_slice()) {
            (OBJECT_MANAGER, "InterfacesAdded", [object, interfaces]) => {
                let Some(object) = object.as_str() else {
                    return (false, Vec::new());
                };
                let is_profile = interfaces.dict_get(PROFILE).is_some();
                let read = if is_profile {
                    vec![object.to_string()]
                } else {
                    Vec::new()
                };
                (self.add_interfaces(object, interfaces), read)
            }
            (OBJECT_MANAGER, "InterfacesRemoved", [object, removed]) => {
                let Some(object) = object.as_str() else {
                    return (false, Vec::new());
                };
                let mut changed = false;
                for name in removed.as_array().unwrap_or_default() {
                    if name.as_str() == Some(PROFILE) {
                        changed |= self.profiles.remove(object).is_some();
                    }
                    if let Some(o) = self.objects.get_mut(object) {
                        changed |= o.remove(name.as_str().unwrap_or_default()).is_some();
                    }
                }
                self.objects.retain(|_, interfaces| !interfaces.is_empty());
                (changed, Vec::new())
            }
            (PROPERTIES, "PropertiesChanged", [name, changed, _invalidated]) => {
                let Some(stored) = name
                    .as_str()
                    .and_then(|n| self.objects.get_mut(path.as_str())?.get_mut(n))
                else {
                    return (false, Vec::new());
                };
                (set_all(stored, changed), Vec::new())
            }
            (SETTINGS_IFACE, "NewConnection", [object]) | (PROFILE, "Updated", [object]) => (
                false,
                object.as_str().map(str::to_string).into_iter().collect(),
            ),
            (PROFILE, "Updated", []) => (false, vec![path.clone()]),
            (SETTINGS_IFACE, "ConnectionRemoved", [object]) => {
                let removed = object.as_str().and_then(|o| self.profiles.remove(o));
                (removed.is_some(), Vec::new())
            }
            _ => (false, Vec::new()),
        }
    }

    /// Store a profile read from NM; true if it changed.
    pub(crate) fn set_profile(&mut self, path: &str, profile: Profile) -> bool {
        if !self.profiles.contains_key(path) && self.profiles.len() >= MAX_OBJECTS {
            return false;
        }
        self.profiles.insert(path.to_string(), profile.clone()) != Some(profile)
    }

    /// The reachability NM reports.
    pub(crate) fn reachability(&self) -> Reachability {
        reachability_of(
            self.number(ROOT, NM, "State"),
            self.number(ROOT, NM, "Connectivity"),
        )
    }

    /// The link technologies NM's devices have (ConnMan's names: ethernet, wifi, cellular,
    /// bluetooth), powered as NM's radio switches say (software and hardware), connected when
    /// one of their devices is activated.
    pub(crate) fn technologies(&self) -> Vec<Technology> {
        let switch = |names: [&str; 2]| {
            names
                .iter()
                .all(|n| self.get(ROOT, NM, n).and_then(Value::as_bool) != Some(false))
        };
        let kinds = [
            (DEVICE_ETHERNET, "ethernet", true),
            (
                DEVICE_WIFI,
                "wifi",
                switch(["WirelessEnabled", "WirelessHardwareEnabled"]),
            ),
            (
                DEVICE_MODEM,
                "cellular",
                switch(["WwanEnabled", "WwanHardwareEnabled"]),
            ),
            (DEVICE_BLUETOOTH, "bluetooth", true),
        ];
        let devices: Vec<(u64, u64)> = self
            .objects
            .iter()
            .filter(|(_, i)| i.contains_key(DEVICE))
            .map(|(path, _)| (self.device_type(path), self.number(path, DEVICE, "State")))
            .collect();
        kinds
            .into_iter()
            .filter(|(kind, _, _)| devices.iter().any(|(t, _)| t == kind))
            .map(|(kind, name, powered)| Technology {
                name: name.to_string(),
                powered,
                connected: devices
                    .iter()
                    .any(|(t, state)| *t == kind && *state == DEVICE_ACTIVATED),
            })
            .collect()
    }

    /// The active connection objects, NM's order.
    fn active_paths(&self) -> impl Iterator<Item = &str> {
        paths(self.get(ROOT, NM, "ActiveConnections"))
    }

    /// The configuration id of the primary connection (the preferred one).
    pub(crate) fn preferred(&self) -> Option<String> {
        let primary = path(self.get(ROOT, NM, "PrimaryConnection"))?;
        let uuid = self.text(primary, ACTIVE, "Uuid")?;
        Some(format!("{ID_PREFIX}{uuid}"))
    }

    /// The object path of the saved profile with configuration id `id`.
    pub(crate) fn profile_path(&self, id: &str) -> Option<&str> {
        let uuid = id.strip_prefix(ID_PREFIX)?;
        self.profiles
            .iter()
            .find(|(_, p)| p.uuid == uuid)
            .map(|(path, _)| path.as_str())
    }

    /// The active connection object of configuration id `id`.
    pub(crate) fn active_path(&self, id: &str) -> Option<&str> {
        let uuid = id.strip_prefix(ID_PREFIX)?;
        self.active_paths()
            .find(|p| self.text(p, ACTIVE, "Uuid") == Some(uuid))
    }

    /// Every connection as a configuration: active ones, then saved ones not active.
    pub(crate) fn configurations(&self) -> Vec<Configuration> {
        let mut out: Vec<Configuration> = self
            .active_paths()
            .filter_map(|p| self.active_configuration(p))
            .collect();
        for profile in self.profiles.values() {
            if profile.kind == "loopback"
                || out.iter().any(|c| c.id[ID_PREFIX.len()..] == profile.uuid)
            {
                continue;
            }
            out.push(self.saved_configuration(profile));
        }
        out
    }

    fn active_configuration(&self, path: &str) -> Option<Configuration> {
        let uuid = self.text(path, ACTIVE, "Uuid")?;
        let device = paths(self.get(path, ACTIVE, "Devices")).next();
        let device_type = device.map_or(0, |d| self.device_type(d));
        let kind = self.text(path, ACTIVE, "Type").unwrap_or_default();
        if device_type == DEVICE_LOOPBACK || kind == "loopback" {
            return None;
        }
        let modem_caps = device.map_or(0, |d| self.number(d, MODEM, "CurrentCapabilities"));
        let (bearer, family) = match device {
            Some(_) => bearer_of(device_type, modem_caps),
            None => bearer_of(device_type_for(kind).unwrap_or(0), 0),
        };
        let activated = self.number(path, ACTIVE, "State") == ACTIVATED;
        let mut addresses = Vec::new();
        let mut nameservers = Vec::new();
        for (config, v6) in [("Ip4Config", false), ("Ip6Config", true)] {
            if let Some(config) = self::path(self.get(path, ACTIVE, config)) {
                self.ip_config(config, v6, &mut addresses, &mut nameservers);
            }
        }
        crate::sort::sort_small(&mut addresses);
        let flag = |name: &str| self.get(path, ACTIVE, name).and_then(Value::as_bool) == Some(true);
        Some(Configuration {
            id: format!("{ID_PREFIX}{uuid}"),
            name: self.text(path, ACTIVE, "Id").unwrap_or(uuid).to_string(),
            kind: ConfigurationType::InternetAccessPoint,
            bearer,
            family,
            state: if activated {
                StateFlags::Active
            } else {
                StateFlags::Discovered
            },
            interface: device
                .and_then(|d| {
                    self.text(d, DEVICE, "IpInterface")
                        .filter(|i| !i.is_empty())
                        .or_else(|| self.text(d, DEVICE, "Interface"))
                })
                .map(str::to_string),
            addresses,
            default_route: activated && (flag("Default") || flag("Default6")),
            nameservers,
            wifi: device
                .filter(|_| device_type == DEVICE_WIFI)
                .and_then(|d| self.wifi_network(d)),
            metered: device.and_then(|d| metered(self.number(d, DEVICE, "Metered"))),
            backend: "networkmanager",
        })
    }

    /// Addresses and nameservers of an IP4Config or IP6Config object.
    fn ip_config(
        &self,
        path: &str,
        v6: bool,
        addresses: &mut Vec<InterfaceAddress>,
        nameservers: &mut Vec<String>,
    ) {
        let interface = if v6 { IP6 } else { IP4 };
        for data in self
            .get(path, interface, "AddressData")
            .and_then(Value::as_array)
            .unwrap_or_default()
        {
            let address = data.dict_get("address").and_then(Value::as_str);
            let prefix = data.dict_get("prefix").and_then(Value::as_u64);
            if let (Some(Ok(address)), Some(prefix)) = (address.map(str::parse::<IpAddr>), prefix) {
                addresses.push(InterfaceAddress {
                    address,
                    prefix_len: prefix.min(128) as u8,
                });
            }
        }
        if v6 {
            // IP6Config.Nameservers: aay, 16 bytes each.
            let servers = self.get(path, IP6, "Nameservers").and_then(Value::as_array);
            for server in servers.unwrap_or_default() {
                if let Ok(octets) = <[u8; 16]>::try_from(bytes(server)) {
                    nameservers.push(Ipv6Addr::from(octets).to_string());
                }
            }
        } else {
            // IP4Config.NameserverData (NM 1.14+): aa{sv} with "address".
            let servers = self
                .get(path, IP4, "NameserverData")
                .and_then(Value::as_array);
            nameservers.extend(
                servers
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|s| s.dict_get("address")?.as_str().map(str::to_string)),
            );
        }
    }

    /// The network a Wi-Fi device is associated with (its ActiveAccessPoint).
    fn wifi_network(&self, device: &str) -> Option<WifiNetwork> {
        let ap = path(self.get(device, WIRELESS, "ActiveAccessPoint"))?;
        Some(self.access_point_network(ap))
    }

    fn access_point_network(&self, ap: &str) -> WifiNetwork {
        let ssid = self
            .get(ap, ACCESS_POINT, "Ssid")
            .map(bytes)
            .unwrap_or_default();
        WifiNetwork {
            ssid: String::from_utf8_lossy(&ssid).into_owned(),
            strength: self
                .get(ap, ACCESS_POINT, "Strength")
                .and_then(Value::as_u64)
                .map(|s| s.min(100) as u8),
            security: security_of(
                self.number(ap, ACCESS_POINT, "Flags"),
                self.number(ap, ACCESS_POINT, "WpaFlags"),
                self.number(ap, ACCESS_POINT, "RsnFlags"),
            ),
        }
    }

    /// A saved profile that is not active: Discovered when a device could carry it now (the
    /// right type, its interface if the profile names one, available; for Wi-Fi its network
    /// in range), Defined otherwise.
    fn saved_configuration(&self, profile: &Profile) -> Configuration {
        let wanted = profile.device_type();
        let (bearer, family) = bearer_of(wanted.unwrap_or(0), 0);
        let carrier = self.objects.iter().find(|(path, interfaces)| {
            let Some(device) = interfaces.get(DEVICE) else {
                return false;
            };
            let number = |k: &str| device.get(k).and_then(Value::as_u64).unwrap_or(0);
            let name = device.get("Interface").and_then(Value::as_str);
            wanted.is_some_and(|t| t == self.device_type(path))
                && number("State") >= DEVICE_AVAILABLE
                && profile.interface.as_deref().is_none_or(|i| Some(i) == name)
                && profile
                    .ssid
                    .as_ref()
                    .is_none_or(|ssid| self.sees(path, ssid))
        });
        let in_range = profile
            .ssid
            .as_ref()
            .and_then(|ssid| self.visible_network(ssid));
        Configuration {
            id: format!("{ID_PREFIX}{}", profile.uuid),
            name: if profile.id.is_empty() {
                profile.uuid.clone()
            } else {
                profile.id.clone()
            },
            kind: ConfigurationType::InternetAccessPoint,
            bearer,
            family,
            state: if carrier.is_some() {
                StateFlags::Discovered
            } else {
                StateFlags::Defined
            },
            interface: profile.interface.clone(),
            addresses: Vec::new(),
            default_route: false,
            nameservers: Vec::new(),
            wifi: profile.ssid.as_ref().map(|ssid| {
                in_range.unwrap_or_else(|| WifiNetwork {
                    ssid: String::from_utf8_lossy(ssid).into_owned(),
                    strength: None,
                    security: Vec::new(),
                })
            }),
            metered: None,
            backend: "networkmanager",
        }
    }

    /// Whether Wi-Fi device `device` lists an access point of network `ssid`.
    fn sees(&self, device: &str, ssid: &[u8]) -> bool {
        paths(self.get(device, WIRELESS, "AccessPoints"))
            .any(|ap| self.get(ap, ACCESS_POINT, "Ssid").map(bytes).as_deref() == Some(ssid))
    }

    /// The strongest access point of network `ssid` any device lists.
    fn visible_network(&self, ssid: &[u8]) -> Option<WifiNetwork> {
        self.access_points()
            .filter(|ap| self.get(ap, ACCESS_POINT, "Ssid").map(bytes).as_deref() == Some(ssid))
            .map(|ap| self.access_point_network(ap))
            .max_by_key(|n| n.strength)
    }

    /// Every access point object.
    fn access_points(&self) -> impl Iterator<Item = &str> {
        self.objects
            .iter()
            .filter(|(_, i)| i.contains_key(ACCESS_POINT))
            .map(|(p, _)| p.as_str())
    }
}

/// NM_METERED: 1 yes and 3 guess-yes are metered, 2 no and 4 guess-no not, 0 unknown.
fn metered(value: u64) -> Option<bool> {
    match value {
        1 | 3 => Some(true),
        2 | 4 => Some(false),
        _ => None,
    }
}

/// Set every property of an `a{sv}` in `stored`; true if any value differed (found without
/// copying the map: access points announce their strength often).
fn set_all(stored: &mut Properties, props: &Value) -> bool {
    let mut changed = false;
    for entry in props.as_array().unwrap_or_default() {
        if let Value::DictEntry(k, v) = entry {
            if let Some(k) = k.as_str() {
                let value = v.unwrap_variant();
                if stored.get(k) != Some(value) {
                    stored.insert(k.to_string(), value.clone());
                    changed = true;
                }
            }
        }
    }
    changed
}

/// A connection to NetworkManager.
#[derive(Debug)]
pub(crate) struct NetworkManager {
    bus: ServiceBus,
    pub(crate) picture: Picture,
}

impl NetworkManager {
    /// Connect to NM on the system bus and read its objects and saved profiles. `Ok(None)`:
    /// no bus, or NM is not on it.
    pub(crate) fn open(
        reactor: &mut crate::reactor::Reactor,
    ) -> Result<Option<NetworkManager>, BearerError> {
        let Some(mut nm) = NetworkManager::connect(reactor)? else {
            return Ok(None);
        };
        let listed = nm.bus.call(
            SETTINGS,
            SETTINGS_IFACE,
            "ListConnections",
            Vec::new(),
            CALL_TIMEOUT,
        )?;
        let profiles: Vec<String> = paths(listed.body.first()).map(str::to_string).collect();
        for path in profiles {
            nm.read_profile(&path)?;
        }
        Ok(Some(nm))
    }

    /// Connect and read NM's objects only (devices, connections, access points): what a scan
    /// needs, without a call per saved profile.
    fn connect(
        reactor: &mut crate::reactor::Reactor,
    ) -> Result<Option<NetworkManager>, BearerError> {
        let Some(mut bus) = ServiceBus::open(reactor, SERVICE, "NetworkManager")? else {
            return Ok(None);
        };
        let managed = bus.call(
            "/org/freedesktop",
            OBJECT_MANAGER,
            "GetManagedObjects",
            Vec::new(),
            CALL_TIMEOUT,
        )?;
        let mut nm = NetworkManager {
            bus,
            picture: Picture::default(),
        };
        match managed.body.first() {
            Some(objects) => nm.picture.load(objects),
            None => return Err(nm.error("GetManagedObjects: an empty answer")),
        }
        if nm.picture.props(ROOT, NM).is_none() {
            return Err(nm.error("GetManagedObjects lists no /org/freedesktop/NetworkManager"));
        }
        Ok(Some(nm))
    }

    fn error(&self, message: &str) -> BearerError {
        BearerError::DBus {
            service: "NetworkManager",
            message: message.to_string(),
        }
    }

    /// Read profile `path`'s settings (a call to NM); true if they changed. A profile gone
    /// meanwhile is forgotten.
    fn read_profile(&mut self, path: &str) -> Result<bool, BearerError> {
        match self
            .bus
            .call(path, PROFILE, "GetSettings", Vec::new(), CALL_TIMEOUT)
        {
            Ok(reply) => Ok(reply
                .body
                .first()
                .and_then(Profile::from_settings)
                .is_some_and(|p| self.picture.set_profile(path, p))),
            Err(BearerError::DBus { message, .. })
                if message.contains("UnknownMethod") || message.contains("UnknownObject") =>
            {
                Ok(self.picture.profiles.remove(path).is_some())
            }
            Err(e) => Err(e),
        }
    }

    /// Activate configuration `id` (its saved profile, on the device NM chooses) or
    /// deactivate it. Activating an active one or deactivating an inactive one is no failure.
    pub(crate) fn set_active(
        &mut self,
        id: &str,
        on: bool,
        timeout: Duration,
    ) -> Result<(), BearerError> {
        let root = |p: &str| Value::ObjectPath(p.to_string());
        if on {
            if self.picture.active_path(id).is_some() {
                return Ok(());
            }
            let profile = self
                .picture
                .profile_path(id)
                .ok_or_else(|| BearerError::UnknownConfiguration(id.to_string()))?
                .to_string();
            let args = vec![root(&profile), root("/"), root("/")];
            self.bus
                .call(ROOT, NM, "ActivateConnection", args, timeout)?;
        } else if let Some(active) = self.picture.active_path(id).map(str::to_string) {
            match self.bus.call(
                ROOT,
                NM,
                "DeactivateConnection",
                vec![root(&active)],
                timeout,
            ) {
                Err(BearerError::DBus { message, .. })
                    if message.contains("ConnectionNotActive") => {}
                other => {
                    other?;
                }
            }
        } else if self.picture.profile_path(id).is_none() {
            return Err(BearerError::UnknownConfiguration(id.to_string()));
        }
        Ok(())
    }
}

impl NetworkManager {
    /// Ask NM to scan with each of its Wi-Fi devices (only `interface`, if given): RequestScan,
    /// then wait until each device's LastScan moved on (PropertiesChanged), at most `timeout`.
    /// Returns the interfaces that scanned (none: NM manages no such Wi-Fi device).
    pub(crate) fn scan(
        &mut self,
        interface: Option<&str>,
        timeout: Duration,
    ) -> Result<Vec<String>, BearerError> {
        let last_scan = |p: &Picture, path: &str| {
            p.get(path, WIRELESS, "LastScan").map_or(-1, |v| match v {
                Value::I64(t) => *t,
                other => other.as_u64().map_or(-1, |t| t as i64),
            })
        };
        let devices: Vec<(String, String, i64)> = self
            .picture
            .objects
            .iter()
            .filter(|(_, i)| i.contains_key(WIRELESS))
            .filter_map(|(path, _)| {
                let name = self.picture.text(path, DEVICE, "Interface")?;
                interface.is_none_or(|i| i == name).then(|| {
                    (
                        path.clone(),
                        name.to_string(),
                        last_scan(&self.picture, path),
                    )
                })
            })
            .collect();
        if devices.is_empty() {
            return Ok(Vec::new());
        }
        let options = Value::Array("{sv}".into(), Vec::new());
        for (path, _, _) in &devices {
            self.bus.call(
                path,
                WIRELESS,
                "RequestScan",
                vec![options.clone()],
                timeout,
            )?;
        }
        let deadline = std::time::Instant::now() + timeout;
        while devices
            .iter()
            .any(|(path, _, before)| last_scan(&self.picture, path) <= *before)
        {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(BearerError::Timeout(timeout));
            }
            let msg = self.bus.wait_message(left)?;
            self.picture.apply(&msg);
        }
        Ok(devices.into_iter().map(|(_, name, _)| name).collect())
    }
}

impl BusBackend for NetworkManager {
    fn bus(&self) -> &ServiceBus {
        &self.bus
    }

    /// Apply every signal that arrived (also those queued during a blocking call), then read
    /// the profiles NM announced.
    fn drain(&mut self) -> Result<bool, BearerError> {
        let mut to_read = Vec::new();
        let picture = &mut self.picture;
        let mut changed = self.bus.drain(|msg| {
            let (changed, read) = picture.apply(msg);
            to_read.extend(read);
            changed
        })?;
        for path in to_read {
            changed |= self.read_profile(&path)?;
        }
        Ok(changed)
    }
}

/// Scan for Wi-Fi networks through NetworkManager, if it runs: NM owns the radios it manages
/// (a scan of our own would collide with its scans), so `wifi scan --trigger` asks it
/// (RequestScan) and waits for its LastScan to move on. `Ok(None)`: NM is not on the system
/// bus or manages no such Wi-Fi device (scan with the kernel then). Returns the interfaces
/// that scanned; the results are then the kernel's list, which is what NM's access points
/// are made from.
pub fn scan_through_networkmanager(
    reactor: &mut crate::reactor::Reactor,
    interface: Option<&str>,
    timeout: Duration,
) -> Result<Option<Vec<String>>, BearerError> {
    match NetworkManager::connect(reactor)? {
        Some(mut nm) => Ok(Some(nm.scan(interface, timeout)?).filter(|s| !s.is_empty())),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dbus::message::Kind;

    fn s(text: &str) -> Value {
        Value::Str(text.into())
    }

    fn o(path: &str) -> Value {
        Value::ObjectPath(path.into())
    }

    fn ao(items: &[&str]) -> Value {
        Value::Array("o".into(), items.iter().map(|p| o(p)).collect())
    }

    fn ay(text: &[u8]) -> Value {
        Value::Array("y".into(), text.iter().map(|b| Value::Byte(*b)).collect())
    }

    fn interfaces(list: Vec<(&str, Value)>) -> Value {
        Value::Array(
            "{sa{sv}}".into(),
            list.into_iter()
                .map(|(name, props)| Value::DictEntry(Box::new(s(name)), Box::new(props)))
                .collect(),
        )
    }

    fn signal(path: &str, interface: &str, member: &str, body: Vec<Value>) -> Message {
        let mut m = Message::method_call("", path, interface, member).with_body(body);
        m.kind = Kind::Signal;
        m.destination = None;
        m
    }

    /// What GetManagedObjects says on a board with one Ethernet device, its DHCP connection
    /// active and primary, NM connected and online, and a saved Wi-Fi profile.
    fn board() -> Picture {
        let mut p = Picture::default();
        let objects = [
            (
                ROOT,
                interfaces(vec![(
                    NM,
                    Value::dict_sv([
                        ("State", Value::U32(70)),
                        ("Connectivity", Value::U32(4)),
                        (
                            "PrimaryConnection",
                            o("/org/freedesktop/NetworkManager/ActiveConnection/2"),
                        ),
                        (
                            "ActiveConnections",
                            ao(&["/org/freedesktop/NetworkManager/ActiveConnection/2"]),
                        ),
                    ]),
                )]),
            ),
            (
                "/org/freedesktop/NetworkManager/Devices/2",
                // A veth (DeviceType 20) is Ethernet by its Wired interface.
                interfaces(vec![
                    (
                        DEVICE,
                        Value::dict_sv([
                            ("Interface", s("eth0")),
                            ("IpInterface", s("eth0")),
                            ("DeviceType", Value::U32(20)),
                            ("State", Value::U32(100)),
                            ("Metered", Value::U32(4)),
                        ]),
                    ),
                    (WIRED, Value::dict_sv([("Carrier", Value::Bool(true))])),
                ]),
            ),
            (
                "/org/freedesktop/NetworkManager/ActiveConnection/2",
                interfaces(vec![(
                    ACTIVE,
                    Value::dict_sv([
                        ("Id", s("Wired connection 1")),
                        ("Uuid", s("4bce0865-15eb-3839-9057-1da47307f57b")),
                        ("Type", s("802-3-ethernet")),
                        ("State", Value::U32(2)),
                        ("Default", Value::Bool(true)),
                        (
                            "Devices",
                            ao(&["/org/freedesktop/NetworkManager/Devices/2"]),
                        ),
                        (
                            "Ip4Config",
                            o("/org/freedesktop/NetworkManager/IP4Config/2"),
                        ),
                        (
                            "Ip6Config",
                            o("/org/freedesktop/NetworkManager/IP6Config/2"),
                        ),
                    ]),
                )]),
            ),
            (
                "/org/freedesktop/NetworkManager/IP4Config/2",
                interfaces(vec![(
                    IP4,
                    Value::dict_sv([
                        (
                            "AddressData",
                            Value::Array(
                                "a{sv}".into(),
                                vec![Value::dict_sv([
                                    ("address", s("10.124.0.56")),
                                    ("prefix", Value::U32(24)),
                                ])],
                            ),
                        ),
                        (
                            "NameserverData",
                            Value::Array(
                                "a{sv}".into(),
                                vec![Value::dict_sv([("address", s("10.124.0.1"))])],
                            ),
                        ),
                    ]),
                )]),
            ),
            (
                "/org/freedesktop/NetworkManager/IP6Config/2",
                interfaces(vec![(
                    IP6,
                    Value::dict_sv([(
                        "Nameservers",
                        Value::Array(
                            "ay".into(),
                            vec![ay(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets())],
                        ),
                    )]),
                )]),
            ),
            (
                "/org/freedesktop/NetworkManager/Settings/1",
                interfaces(vec![(
                    PROFILE,
                    Value::dict_sv([("Unsaved", Value::Bool(false))]),
                )]),
            ),
        ];
        let managed = Value::Array(
            "{oa{sa{sv}}}".into(),
            objects
                .into_iter()
                .map(|(path, i)| Value::DictEntry(Box::new(o(path)), Box::new(i)))
                .collect(),
        );
        p.load(&managed);
        p.set_profile(
            "/org/freedesktop/NetworkManager/Settings/2",
            Profile {
                id: "Wired connection 1".into(),
                uuid: "4bce0865-15eb-3839-9057-1da47307f57b".into(),
                kind: "802-3-ethernet".into(),
                ..Profile::default()
            },
        );
        p.set_profile(
            "/org/freedesktop/NetworkManager/Settings/3",
            Profile {
                id: "home".into(),
                uuid: "11111111-2222-3333-4444-555555555555".into(),
                kind: "802-11-wireless".into(),
                ssid: Some(b"home".to_vec()),
                ..Profile::default()
            },
        );
        p
    }

    #[test]
    fn managed_objects_become_configurations() {
        let p = board();
        let configs = p.configurations();
        assert_eq!(configs.len(), 2, "{configs:?}");
        let wired = &configs[0];
        assert_eq!(wired.id, "nm:4bce0865-15eb-3839-9057-1da47307f57b");
        assert_eq!(wired.name, "Wired connection 1");
        assert_eq!(
            (wired.bearer, wired.state),
            (BearerType::Ethernet, StateFlags::Active)
        );
        assert_eq!(wired.interface.as_deref(), Some("eth0"));
        assert!(wired.default_route);
        assert_eq!(wired.metered, Some(false));
        let addrs: Vec<String> = wired.addresses.iter().map(|a| a.to_string()).collect();
        assert_eq!(addrs, ["10.124.0.56/24"]);
        assert_eq!(wired.nameservers, ["10.124.0.1", "fd00::1"]);
        // The saved Wi-Fi profile: no Wi-Fi device, so only Defined.
        let home = &configs[1];
        assert_eq!(
            (home.name.as_str(), home.bearer, home.state),
            ("home", BearerType::Wlan, StateFlags::Defined)
        );
        assert_eq!(home.wifi.as_ref().map(|w| w.ssid.as_str()), Some("home"));
        assert_eq!(
            p.preferred().as_deref(),
            Some("nm:4bce0865-15eb-3839-9057-1da47307f57b")
        );
        assert_eq!(p.reachability(), Reachability::Online);
        let techs = p.technologies();
        assert_eq!(techs.len(), 1, "only an Ethernet device: {techs:?}");
        let ethernet = &techs[0];
        assert_eq!(
            (ethernet.name.as_str(), ethernet.powered, ethernet.connected),
            ("ethernet", true, true)
        );
        assert_eq!(
            p.profile_path("nm:11111111-2222-3333-4444-555555555555"),
            Some("/org/freedesktop/NetworkManager/Settings/3")
        );
        assert_eq!(
            p.active_path("nm:4bce0865-15eb-3839-9057-1da47307f57b"),
            Some("/org/freedesktop/NetworkManager/ActiveConnection/2")
        );
    }

    #[test]
    fn signals_keep_the_picture_current() {
        let mut p = board();
        let active = "/org/freedesktop/NetworkManager/ActiveConnection/2";
        // The connectivity check fails: site, not online.
        let lost = signal(
            ROOT,
            PROPERTIES,
            "PropertiesChanged",
            vec![
                s(NM),
                Value::dict_sv([("Connectivity", Value::U32(3)), ("State", Value::U32(60))]),
                Value::Array("s".into(), vec![]),
            ],
        );
        assert_eq!(p.apply(&lost), (true, vec![]));
        assert_eq!(p.reachability(), Reachability::Site);
        assert_eq!(
            p.apply(&lost),
            (false, vec![]),
            "the same values again change nothing"
        );
        // The cable is pulled: the connection deactivates and goes away.
        let deactivating = signal(
            active,
            PROPERTIES,
            "PropertiesChanged",
            vec![
                s(ACTIVE),
                Value::dict_sv([("State", Value::U32(3))]),
                Value::Array("s".into(), vec![]),
            ],
        );
        assert!(p.apply(&deactivating).0);
        assert_eq!(p.configurations()[0].state, StateFlags::Discovered);
        let removed = signal(
            "/org/freedesktop",
            OBJECT_MANAGER,
            "InterfacesRemoved",
            vec![o(active), Value::Array("s".into(), vec![s(ACTIVE)])],
        );
        assert!(p.apply(&removed).0);
        let gone = signal(
            ROOT,
            PROPERTIES,
            "PropertiesChanged",
            vec![
                s(NM),
                Value::dict_sv([
                    ("ActiveConnections", ao(&[])),
                    ("PrimaryConnection", o("/")),
                    ("State", Value::U32(20)),
                ]),
                Value::Array("s".into(), vec![]),
            ],
        );
        assert!(p.apply(&gone).0);
        assert_eq!(p.preferred(), None);
        assert_eq!(p.reachability(), Reachability::Disconnected);
        // The saved profile stays, discovered on its available Ethernet device.
        let wired = p
            .configurations()
            .into_iter()
            .find(|c| c.name == "Wired connection 1")
            .unwrap();
        assert_eq!(wired.state, StateFlags::Discovered);
        // A new profile is announced: its settings are to be read.
        let added = signal(
            "/org/freedesktop",
            OBJECT_MANAGER,
            "InterfacesAdded",
            vec![
                o("/org/freedesktop/NetworkManager/Settings/9"),
                interfaces(vec![(PROFILE, Value::dict_sv([]))]),
            ],
        );
        assert_eq!(
            p.apply(&added).1,
            ["/org/freedesktop/NetworkManager/Settings/9"]
        );
        let removed = signal(
            SETTINGS,
            SETTINGS_IFACE,
            "ConnectionRemoved",
            vec![o("/org/freedesktop/NetworkManager/Settings/3")],
        );
        assert!(p.apply(&removed).0);
        assert_eq!(p.configurations().len(), 1);
        // Wrong signatures and unknown objects are ignored, not trusted.
        let odd = signal(ROOT, PROPERTIES, "PropertiesChanged", vec![Value::U32(1)]);
        assert_eq!(p.apply(&odd), (false, vec![]));
        let unknown = signal(
            "/nowhere",
            PROPERTIES,
            "PropertiesChanged",
            vec![
                s(DEVICE),
                Value::dict_sv([("State", Value::U32(100))]),
                Value::Array("s".into(), vec![]),
            ],
        );
        assert_eq!(p.apply(&unknown), (false, vec![]));
    }

    #[test]
    fn states_connectivity_and_capabilities_map() {
        assert_eq!(reachability_of(70, 4), Reachability::Online);
        assert_eq!(
            reachability_of(70, 0),
            Reachability::Site,
            "check off: GLOBAL is site"
        );
        assert_eq!(reachability_of(60, 2), Reachability::Site, "a portal");
        assert_eq!(reachability_of(50, 1), Reachability::Local);
        assert_eq!(reachability_of(20, 4), Reachability::Disconnected);
        assert_eq!(bearer_of(8, 0x4 | 0x8).0, BearerType::Lte);
        assert_eq!(bearer_of(8, 0x4).0, BearerType::Bearer3G);
        assert_eq!(
            bearer_of(8, 0x40),
            (BearerType::Unknown, BearerFamily::Cellular)
        );
        assert_eq!(security_of(0x1, 0, 0x100), ["psk"]);
        assert_eq!(security_of(0x1, 0, 0x400 | 0x100), ["psk", "sae"]);
        assert_eq!(security_of(0x1, 0, 0), ["wep"]);
        assert_eq!(security_of(0, 0, 0), ["none"]);
        assert_eq!(metered(3), Some(true));
        assert_eq!(metered(0), None);
        let settings = Value::Array(
            "{sa{sv}}".into(),
            vec![Value::DictEntry(
                Box::new(s("connection")),
                Box::new(Value::dict_sv([
                    ("id", s("lte")),
                    ("uuid", s("u-1")),
                    ("type", s("gsm")),
                ])),
            )],
        );
        let profile = Profile::from_settings(&settings).unwrap();
        assert_eq!(
            (profile.id.as_str(), profile.device_type()),
            ("lte", Some(DEVICE_MODEM))
        );
        assert_eq!(Profile::from_settings(&Value::U32(1)), None);
    }
}
