//! What the bearer manager knows: configurations (Qt's QNetworkConfiguration), their bearer
//! types and cumulative state flags, reachability levels, capabilities and events.

use std::fmt;
use std::net::IpAddr;

/// The link technology behind a configuration (Qt's QNetworkConfiguration::BearerType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BearerType {
    /// Not known (a virtual link, or a cellular modem whose generation nobody reported).
    Unknown,
    /// Wired Ethernet.
    Ethernet,
    /// Wi-Fi (IEEE 802.11).
    Wlan,
    /// GSM, GPRS or EDGE.
    Bearer2G,
    /// CDMA2000.
    Cdma2000,
    /// WCDMA/UMTS.
    Wcdma,
    /// HSPA.
    Hspa,
    /// Bluetooth (PAN).
    Bluetooth,
    /// WiMAX.
    Wimax,
    /// CDMA EV-DO.
    Evdo,
    /// LTE.
    Lte,
    /// Third generation cellular, technology unknown.
    Bearer3G,
    /// Fourth generation cellular, technology unknown.
    Bearer4G,
}

impl BearerType {
    /// Lower-case name as printed and in JSON (`ethernet`, `wlan`, `2g`, `lte`, …).
    pub fn name(self) -> &'static str {
        match self {
            BearerType::Unknown => "unknown",
            BearerType::Ethernet => "ethernet",
            BearerType::Wlan => "wlan",
            BearerType::Bearer2G => "2g",
            BearerType::Cdma2000 => "cdma2000",
            BearerType::Wcdma => "wcdma",
            BearerType::Hspa => "hspa",
            BearerType::Bluetooth => "bluetooth",
            BearerType::Wimax => "wimax",
            BearerType::Evdo => "evdo",
            BearerType::Lte => "lte",
            BearerType::Bearer3G => "3g",
            BearerType::Bearer4G => "4g",
        }
    }

    /// The family a type belongs to (Qt's bearerTypeFamily).
    pub fn family(self) -> BearerFamily {
        match self {
            BearerType::Unknown => BearerFamily::Other,
            BearerType::Ethernet => BearerFamily::Ethernet,
            BearerType::Wlan => BearerFamily::Wlan,
            BearerType::Bluetooth => BearerFamily::Bluetooth,
            BearerType::Wimax => BearerFamily::Wimax,
            BearerType::Bearer2G
            | BearerType::Cdma2000
            | BearerType::Wcdma
            | BearerType::Hspa
            | BearerType::Evdo
            | BearerType::Lte
            | BearerType::Bearer3G
            | BearerType::Bearer4G => BearerFamily::Cellular,
        }
    }
}

/// Bearer families: what `wait-online --bearer` selects by. A cellular modem is `Cellular`
/// even when its generation (the [`BearerType`]) is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BearerFamily {
    /// Wired Ethernet.
    Ethernet,
    /// Wi-Fi.
    Wlan,
    /// Any mobile network (2G to 5G).
    Cellular,
    /// Bluetooth.
    Bluetooth,
    /// WiMAX.
    Wimax,
    /// Anything else (tunnels, bridges, unknown).
    Other,
}

impl BearerFamily {
    /// The family's name in output (`ethernet`, `wlan`, `cellular`…).
    pub fn name(self) -> &'static str {
        match self {
            BearerFamily::Ethernet => "ethernet",
            BearerFamily::Wlan => "wlan",
            BearerFamily::Cellular => "cellular",
            BearerFamily::Bluetooth => "bluetooth",
            BearerFamily::Wimax => "wimax",
            BearerFamily::Other => "other",
        }
    }

    /// Parse a family name as the CLI accepts it (`wifi` is an alias of `wlan`).
    pub fn parse(text: &str) -> Option<BearerFamily> {
        Some(match text.to_ascii_lowercase().as_str() {
            "ethernet" => BearerFamily::Ethernet,
            "wlan" | "wifi" => BearerFamily::Wlan,
            "cellular" => BearerFamily::Cellular,
            "bluetooth" => BearerFamily::Bluetooth,
            "wimax" => BearerFamily::Wimax,
            "other" => BearerFamily::Other,
            _ => return None,
        })
    }
}

/// Cumulative configuration state (Qt's QNetworkConfiguration::StateFlags): `Active` implies
/// `Discovered` implies `Defined`, so the flags form a ladder and compare by rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StateFlags {
    /// Nothing is known about it (a configuration that is gone).
    Undefined,
    /// The system knows it (a link that exists, a saved ConnMan service).
    Defined,
    /// It can be used now (carrier present, network in range).
    Discovered,
    /// It is up and has a usable address.
    Active,
}

impl StateFlags {
    /// The state's name in output (`undefined`, `defined`, `discovered`, `active`).
    pub fn name(self) -> &'static str {
        match self {
            StateFlags::Undefined => "undefined",
            StateFlags::Defined => "defined",
            StateFlags::Discovered => "discovered",
            StateFlags::Active => "active",
        }
    }

    /// Qt's bit values (Defined 0x2, Discovered 0x6, Active 0xe).
    pub fn bits(self) -> u8 {
        match self {
            StateFlags::Undefined => 0x0,
            StateFlags::Defined => 0x2,
            StateFlags::Discovered => 0x6,
            StateFlags::Active => 0xe,
        }
    }

    /// The flag names a state contains (`active` → defined, discovered, active).
    pub fn flag_names(self) -> Vec<&'static str> {
        [
            StateFlags::Defined,
            StateFlags::Discovered,
            StateFlags::Active,
        ]
        .into_iter()
        .filter(|f| *f <= self && self != StateFlags::Undefined)
        .map(StateFlags::name)
        .collect()
    }

    /// A state from its name (any case).
    pub fn parse(text: &str) -> Option<StateFlags> {
        Some(match text.to_ascii_lowercase().as_str() {
            "undefined" => StateFlags::Undefined,
            "defined" => StateFlags::Defined,
            "discovered" => StateFlags::Discovered,
            "active" => StateFlags::Active,
            _ => return None,
        })
    }
}

/// Qt's QNetworkConfiguration::Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigurationType {
    /// One network interface or ConnMan service.
    InternetAccessPoint,
    /// A group of access points (not produced by the current backends).
    ServiceNetwork,
    /// Qt's placeholder for "let the user choose" (never produced).
    UserChoice,
}

impl ConfigurationType {
    /// The type's name in output.
    pub fn name(self) -> &'static str {
        match self {
            ConfigurationType::InternetAccessPoint => "internet-access-point",
            ConfigurationType::ServiceNetwork => "service-network",
            ConfigurationType::UserChoice => "user-choice",
        }
    }
}

/// How far the board can reach (Qt 6's QNetworkInformation::Reachability). Ordered: each level
/// includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reachability {
    /// No active configuration.
    Disconnected,
    /// A link is up with an address, but there is no default route.
    Local,
    /// A default route goes out through an active configuration.
    Site,
    /// The connectivity check answered (only with a check URL, or ConnMan's "online").
    Online,
}

impl Reachability {
    /// The level's name in output (`disconnected`, `local`, `site`, `online`).
    pub fn name(self) -> &'static str {
        match self {
            Reachability::Disconnected => "disconnected",
            Reachability::Local => "local",
            Reachability::Site => "site",
            Reachability::Online => "online",
        }
    }

    /// A level from its name (any case).
    pub fn parse(text: &str) -> Option<Reachability> {
        Some(match text.to_ascii_lowercase().as_str() {
            "disconnected" => Reachability::Disconnected,
            "local" => Reachability::Local,
            "site" => Reachability::Site,
            "online" => Reachability::Online,
            _ => return None,
        })
    }
}

impl fmt::Display for Reachability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the running backends really do (Qt's QNetworkConfigurationManager::Capabilities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities(u16);

impl Capabilities {
    /// ConnMan can start and stop configurations.
    pub const CAN_START_AND_STOP_INTERFACES: Capabilities = Capabilities(0x1);
    /// Connections can be bound to a configuration's interface.
    pub const DIRECT_CONNECTION_ROUTING: Capabilities = Capabilities(0x2);
    /// Sessions are system-wide (never set: boardnet has no session daemon).
    pub const SYSTEM_SESSION_SUPPORT: Capabilities = Capabilities(0x4);
    /// The application decides when to roam (transfer::Roam).
    pub const APPLICATION_LEVEL_ROAMING: Capabilities = Capabilities(0x8);
    /// The system roams on its own (never set).
    pub const FORCED_ROAMING: Capabilities = Capabilities(0x10);
    /// Byte counters per configuration.
    pub const DATA_STATISTICS: Capabilities = Capabilities(0x20);
    /// A session must be opened before use (never set).
    pub const NETWORK_SESSION_REQUIRED: Capabilities = Capabilities(0x40);

    const NAMES: [(Capabilities, &'static str); 7] = [
        (
            Capabilities::CAN_START_AND_STOP_INTERFACES,
            "CanStartAndStopInterfaces",
        ),
        (
            Capabilities::DIRECT_CONNECTION_ROUTING,
            "DirectConnectionRouting",
        ),
        (Capabilities::SYSTEM_SESSION_SUPPORT, "SystemSessionSupport"),
        (
            Capabilities::APPLICATION_LEVEL_ROAMING,
            "ApplicationLevelRoaming",
        ),
        (Capabilities::FORCED_ROAMING, "ForcedRoaming"),
        (Capabilities::DATA_STATISTICS, "DataStatistics"),
        (
            Capabilities::NETWORK_SESSION_REQUIRED,
            "NetworkSessionRequired",
        ),
    ];

    /// Whether every capability in `other` is present.
    pub fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the capabilities present (Qt's enum names).
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(c, _)| self.contains(*c))
            .map(|(_, n)| *n)
            .collect()
    }
}

impl std::ops::BitOr for Capabilities {
    type Output = Capabilities;
    fn bitor(self, rhs: Capabilities) -> Capabilities {
        Capabilities(self.0 | rhs.0)
    }
}

/// An address on a configuration's interface, with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InterfaceAddress {
    /// The address.
    pub address: IpAddr,
    /// Its prefix length (24 for a /24).
    pub prefix_len: u8,
}

impl fmt::Display for InterfaceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// A link technology ConnMan manages (its Technology objects: ethernet, wifi, cellular,
/// bluetooth), switched on or off as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Technology {
    /// ConnMan's technology name (`ethernet`, `wifi`, `cellular`, `bluetooth`).
    pub name: String,
    /// Switched on.
    pub powered: bool,
    /// At least one of its services is connected.
    pub connected: bool,
}

/// A Wi-Fi network as a backend describes it (ConnMan: the service's Name, Strength and
/// Security).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WifiNetwork {
    /// The network name (lossy UTF-8 of the SSID).
    pub ssid: String,
    /// Signal quality, 0–100 (ConnMan's Strength).
    pub strength: Option<u8>,
    /// none, wep, psk, ieee8021x, wps (ConnMan's names).
    pub security: Vec<String>,
}

/// One way of reaching a network (Qt's QNetworkConfiguration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configuration {
    /// Stable across restarts: `netlink:IFNAME` for kernel links.
    pub id: String,
    /// What a user calls it (the interface name for kernel links).
    pub name: String,
    /// Qt's configuration type (an access point for links and services).
    pub kind: ConfigurationType,
    /// The link technology in detail.
    pub bearer: BearerType,
    /// The link technology family.
    pub family: BearerFamily,
    /// How far it is up (defined, discovered, active).
    pub state: StateFlags,
    /// The kernel interface it uses, once it has one.
    pub interface: Option<String>,
    /// Its addresses, sorted.
    pub addresses: Vec<InterfaceAddress>,
    /// A default route leaves through this configuration's interface.
    pub default_route: bool,
    /// DNS servers the backend configured for it (ConnMan's Nameservers; none for kernel
    /// links, whose resolver is the system's).
    pub nameservers: Vec<String>,
    /// For Wi-Fi services: the network (netlink links carry none; `wifi status` has theirs).
    pub wifi: Option<WifiNetwork>,
    /// Whether traffic costs (NetworkManager's Metered, its guesses included); None where
    /// the backend does not say.
    pub metered: Option<bool>,
    /// Which backend reports it (`netlink`, `connman`, `networkmanager`).
    pub backend: &'static str,
}

impl Configuration {
    /// The bearer as printed: the type, or the family when the type is unknown (a cellular
    /// modem without a reported generation prints `cellular`).
    pub fn bearer_name(&self) -> &'static str {
        if self.bearer == BearerType::Unknown {
            self.family.name()
        } else {
            self.bearer.name()
        }
    }

    /// The reachability this configuration alone gives.
    pub fn reachability(&self) -> Reachability {
        match (self.state, self.default_route) {
            (StateFlags::Active, true) => Reachability::Site,
            (StateFlags::Active, false) => Reachability::Local,
            _ => Reachability::Disconnected,
        }
    }
}

/// Bytes through a configuration's interface (the kernel's IFLA_STATS64 counters, since the
/// interface appeared). Qt's session counters are differences of two of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStatistics {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

/// What the manager reports (Qt's QNetworkConfigurationManager signals). The queue is
/// bounded ([`Manager::EVENT_BOUND`](crate::bearer::Manager::EVENT_BOUND), the oldest dropped
/// past it): a `ConfigurationChanged` for a configuration already queued as added or changed
/// is absorbed (read the configuration itself for its current state).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerEvent {
    /// A configuration appeared (read it with `Manager::configuration`).
    ConfigurationAdded(String),
    /// A configuration went away.
    ConfigurationRemoved(String),
    /// A configuration's state, addresses or routes changed.
    ConfigurationChanged(String),
    /// The preferred (default) configuration changed: a chance to migrate (roam).
    PreferredConfigurationChanged(Option<String>),
    /// The board's reachability level changed.
    ReachabilityChanged(Reachability),
    /// `is_online` flipped.
    OnlineStateChanged(bool),
    /// The first full picture is complete (after the initial dumps).
    UpdateCompleted,
}

impl crate::reactor::queue::Coalesce for BearerEvent {
    fn absorb(&mut self, later: &BearerEvent) -> bool {
        match (self, later) {
            (
                BearerEvent::ConfigurationAdded(queued) | BearerEvent::ConfigurationChanged(queued),
                BearerEvent::ConfigurationChanged(id),
            ) => queued == id,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_flags_are_cumulative_with_qt_bits() {
        assert!(StateFlags::Active > StateFlags::Discovered);
        assert_eq!(
            StateFlags::Active.bits() & StateFlags::Discovered.bits(),
            0x6
        );
        assert_eq!(
            StateFlags::Active.flag_names(),
            ["defined", "discovered", "active"]
        );
        assert!(StateFlags::Undefined.flag_names().is_empty());
        assert_eq!(
            StateFlags::parse("Discovered"),
            Some(StateFlags::Discovered)
        );
    }

    #[test]
    fn cellular_types_share_a_family_and_unknown_prints_its_family() {
        assert_eq!(BearerType::Lte.family(), BearerFamily::Cellular);
        assert_eq!(BearerType::Hspa.family(), BearerFamily::Cellular);
        let mut c = Configuration {
            id: "netlink:wwan0".into(),
            name: "wwan0".into(),
            kind: ConfigurationType::InternetAccessPoint,
            bearer: BearerType::Unknown,
            family: BearerFamily::Cellular,
            state: StateFlags::Active,
            interface: Some("wwan0".into()),
            addresses: vec![],
            default_route: false,
            nameservers: vec![],
            wifi: None,
            metered: None,
            backend: "netlink",
        };
        assert_eq!(c.bearer_name(), "cellular");
        assert_eq!(c.reachability(), Reachability::Local);
        c.default_route = true;
        assert_eq!(c.reachability(), Reachability::Site);
        c.bearer = BearerType::Lte;
        assert_eq!(c.bearer_name(), "lte");
    }

    #[test]
    fn capabilities_name_only_what_is_set() {
        let c = Capabilities::DIRECT_CONNECTION_ROUTING | Capabilities::DATA_STATISTICS;
        assert_eq!(c.names(), ["DirectConnectionRouting", "DataStatistics"]);
        assert!(!c.contains(Capabilities::FORCED_ROAMING));
        assert!(Capabilities::default().names().is_empty());
    }
}
